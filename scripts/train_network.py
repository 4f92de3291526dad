"""Rule train_network: one (model, objective, target, seed) of the grid, on the audio or on features."""

from pathlib import Path

import torch

from emotrace.experiment import by_partition, feature_inputs, read_split, train_system, trained_on
from emotrace.logs import job_logger

log = job_logger(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
w, p = snakemake.wildcards, snakemake.params.p
parts = by_partition(read_split(snakemake.input.split), snakemake.input.segments)
feature_args = {}
if "stats" in snakemake.input.keys():
    feature_args = feature_inputs(snakemake.input.stats, snakemake.input.features, p["settings"]["features"])
train_system(p["settings"], w.objective, p["dimensions"], int(w.seed), parts, Path(snakemake.output.model).parent, log,
             trained_on=trained_on(snakemake.config["corpus"], snakemake.config["split"], parts), **feature_args)
