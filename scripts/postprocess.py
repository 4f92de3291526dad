"""Rule postprocess: tune the chain on dev, apply it unchanged to dev and test."""

from emotrace.io import write_json
from emotrace.logs import job_logger
from emotrace.postprocess import postprocess
from emotrace.predictions import read_predictions, write_predictions

log = job_logger(snakemake.log[0])
cfg = snakemake.params.pp
grids = {"step": snakemake.params.step, **{k: cfg[k] for k in ("median_windows", "shifts", "steps", "scaling") if cfg.get(k)}}
settings, processed = postprocess(read_predictions(snakemake.input[0]), grids, cfg["enabled"], where=snakemake.input[0])
write_json(settings, snakemake.output.settings)
write_predictions(processed, snakemake.output.predictions)
for dim, s in settings.items():
    log.info("%s: %s", dim, s)
