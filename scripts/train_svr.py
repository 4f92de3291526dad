"""Rule train_svr: linear SVR on frame-wise features, C chosen on dev CCC; predictions for dev and test."""

from functools import partial

from emotrace.experiment import by_partition, read_split, svr_experiment
from emotrace.ingest import read_labels
from emotrace.io import write_csv
from emotrace.logs import job_logger
from emotrace.normalise import apply_stats, load_stats
from emotrace.predictions import write_predictions

log = job_logger(snakemake.log[0])
w, p = snakemake.wildcards, snakemake.params.p
parts = by_partition(read_split(snakemake.input.split), snakemake.input.features)
normalise = partial(apply_stats, stats=load_stats(snakemake.input.stats))
predictions, grid = svr_experiment(
    p["settings"], parts, read_labels(snakemake.input.labels), p["dimensions"], normalise, int(w.seed), log
)
write_csv(grid, snakemake.output.grid)
write_predictions(predictions, snakemake.output.predictions)
