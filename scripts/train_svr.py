"""Rule train_svr: linear SVR on frame-wise features, C chosen on dev CCC; predictions for dev and test, and model.pt."""

from emotrace.experiment import by_partition, feature_inputs, read_split, svr_experiment, trained_on
from emotrace.ingest import read_labels
from emotrace.io import write_csv
from emotrace.logs import job_logger
from emotrace.predictions import write_predictions
from emotrace.segments import label_offset
from emotrace.svr import svr_checkpoint
from emotrace.training import save_torch

log = job_logger(snakemake.log[0])
w, p = snakemake.wildcards, snakemake.params.p
parts = by_partition(read_split(snakemake.input.split), snakemake.input.features)
features = feature_inputs(snakemake.input.stats, snakemake.input.features, p["settings"]["features"])
predictions, grid, models = svr_experiment(
    p["settings"], parts, read_labels(snakemake.input.labels), p["dimensions"], features["normalise"], int(w.seed), log
)
write_csv(grid, snakemake.output.grid)
write_predictions(predictions, snakemake.output.predictions)
extra = {"seed": int(w.seed), "trained_on": trained_on(snakemake.config["corpus"], snakemake.config["split"], parts)}
save_torch(svr_checkpoint(models, w.model, features["feature_set"], features["feature_stats"],
                          label_offset(snakemake.params.alignment), snakemake.params.step, extra),
           snakemake.output.model)
