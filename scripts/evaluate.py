"""Rule evaluate: metrics of the raw and the post-processed predictions of one trained model."""

from emotrace.io import write_csv
from emotrace.logs import job_logger
from emotrace.metrics import metrics_file
from emotrace.predictions import read_predictions

log = job_logger(snakemake.log[0])
raw, processed = snakemake.input.raw, snakemake.input.postprocessed
metrics = metrics_file(read_predictions(raw), read_predictions(processed), where=raw)
write_csv(metrics, snakemake.output[0])
log.info("\n%s", metrics.to_string(index=False))
