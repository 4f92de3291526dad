"""Rule train_svr: linear SVR on frame-wise features, C chosen on dev CCC; predictions for dev and test."""

from emotrace.experiment import by_partition, feature_inputs, read_split, svr_experiment
from emotrace.ingest import read_labels
from emotrace.io import write_csv
from emotrace.logs import job_logger
from emotrace.predictions import write_predictions

log = job_logger(snakemake.log[0])
w, p = snakemake.wildcards, snakemake.params.p
parts = by_partition(read_split(snakemake.input.split), snakemake.input.features)
normalise = feature_inputs(snakemake.input.stats, snakemake.input.features, p["settings"]["features"])["normalise"]
predictions, grid = svr_experiment(
    p["settings"], parts, read_labels(snakemake.input.labels), p["dimensions"], normalise, int(w.seed), log
)
write_csv(grid, snakemake.output.grid)
write_predictions(predictions, snakemake.output.predictions)
