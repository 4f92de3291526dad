"""Rule feature_stats: z-normalisation statistics from the training partition only."""

import numpy as np

from emotrace.experiment import by_partition, read_split
from emotrace.logs import job_logger
from emotrace.normalise import fit_stats, save_stats

log = job_logger(snakemake.log[0])
train_files = by_partition(read_split(snakemake.input.split), snakemake.input.features)["train"]


def rows():
    """One training recording's features at a time: memory stays at one recording, not the training set."""
    for path in train_files:
        with np.load(path) as npz:
            yield npz["values"]


with np.load(train_files[0]) as first:
    names = [str(n) for n in first["names"]]
stats = fit_stats(rows(), names)
save_stats(snakemake.output[0], stats)
log.info("statistics from %d training recordings: %s", len(train_files), [f.stem for f in train_files])
if stats["dropped"]:
    log.warning("%d columns constant in training, dropped: %s", len(stats["dropped"]), stats["dropped"])
