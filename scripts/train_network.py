"""Rule train_network: one (model, objective, target, seed) of the grid, on the audio or on features."""

from pathlib import Path

import torch

from emotrace.experiment import by_partition, read_split, train_system
from emotrace.logs import job_logger

log = job_logger(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
w, p = snakemake.wildcards, snakemake.params.p
parts = by_partition(read_split(snakemake.input.split), snakemake.input.segments)
feature_args = {}
if "stats" in snakemake.input.keys():
    from functools import partial

    from emotrace.experiment import feature_map
    from emotrace.normalise import apply_stats, load_stats

    stats = load_stats(snakemake.input.stats)
    feature_args = dict(
        features=feature_map(snakemake.input.features),
        normalise=partial(apply_stats, stats=stats),
        feature_set=p["settings"]["features"],
        feature_stats=stats,
    )
train_system(p["settings"], w.objective, p["dimensions"], int(w.seed), parts, Path(snakemake.output.model).parent, log,
             **feature_args)
