"""Rule train_network: one (model, objective, target, seed) of the grid, on the audio or on features."""

from pathlib import Path

import torch

from emotrace.devices import claim_device
from emotrace.experiment import by_partition, feature_inputs, read_split, train_system, trained_on
from emotrace.logs import job_logger
from emotrace.training import load_model

log = job_logger(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
w, p = snakemake.wildcards, snakemake.params.p
parts = by_partition(read_split(snakemake.input.split), snakemake.input.segments)
feature_args = {}
if "features" in snakemake.input.keys():
    stats = snakemake.input.stats if "stats" in snakemake.input.keys() else None
    feature_args = feature_inputs(stats, snakemake.input.features, p["settings"]["features"], snakemake.config.get("ssl"))
# a device no other running job holds, or (gpu_slots: jobs share this machine's GPUs) this job's share of one
slots = int(getattr(snakemake.resources, "gpu_slots", 0) or 0)
with claim_device(log=log, slots=slots or None) as held:
    train_system(p["settings"], w.objective, p["dimensions"], int(w.seed), parts, Path(snakemake.output.model).parent,
                 log, trained_on=trained_on(snakemake.config["corpus"], snakemake.config["split"], parts),
                 device=held.device, **feature_args)
settings = p["settings"]  # a plug-in network is imported from where the config names it
module = load_model(snakemake.output.model, plugin_sources=[settings.get("module") or settings["network"]]).module
if hasattr(module, "layer_weights"):  # the SSL models: which layers the best epoch relies on
    log.info("learnt SSL layer weights: %s", " ".join(f"{v:.3f}" for v in module.layer_weights()))
