"""Rule figure_curves: train loss and dev CCC per epoch of one training run."""

from emotrace.figures.curves import plot_learning_curves
from emotrace.logs import job_logger

log = job_logger(snakemake.log[0])
w = snakemake.wildcards
label = f"{w.model} {w.objective} {w.target} seed {w.seed}"
paths = plot_learning_curves({label: snakemake.input[0]}, [snakemake.output.figure, snakemake.output.pdf],
                             rule="train_network", title=label)
log.info("wrote %s", paths)
