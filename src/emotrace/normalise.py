"""Feature z-normalisation with statistics of the training partition only (docs/references.md §4.5).

Columns that are constant over the training frames carry no information and would divide
by zero, so they are dropped; `fit_stats` lists them for the caller to log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from emotrace.errors import InputError
from emotrace.io import write_npz

CONSTANT_RTOL = 1e-6
"""A column is constant when its training std is below this fraction of |mean| (float32 rounding noise) or 1e-12."""

_STATS_KEYS = ("mean", "std", "keep", "names", "n_frames")


def fit_stats(arrays: Iterable[np.ndarray], names: list[str]) -> dict:
    """Mean and std (1/N) per column over all rows of `arrays` (the training recordings) and the columns kept.

    Returns {"mean", "std": (F,) float64, "keep": (F,) bool, "names": list, "dropped": list of
    constant column names, "n_frames": int}. Moments are accumulated per recording in float64
    (Chan's pairwise update), so `arrays` may be a generator that reads one recording at a time:
    memory then stays at one recording's features, whatever the size of the training set.
    """
    n_total, mean, m2 = 0, np.zeros(len(names)), np.zeros(len(names))
    i = -1
    for values in arrays:  # not enumerate(): its cached result tuple would keep the previous recording alive
        i += 1
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != len(names):
            raise InputError(f"training array {i}", f"shape {values.shape} does not match {len(names)} feature names")
        if not np.isfinite(values).all():
            raise InputError(f"training array {i}", "contains NaN or infinite values")
        n = values.shape[0]
        if n == 0:
            continue
        batch_mean = values.mean(axis=0)
        batch_m2 = ((values - batch_mean) ** 2).sum(axis=0)
        delta = batch_mean - mean
        total = n_total + n
        mean = mean + delta * n / total
        m2 = m2 + batch_m2 + delta**2 * n_total * n / total
        n_total = total
        del values, batch_mean, batch_m2
    if i < 0:
        raise InputError("fit_stats", "no training recordings to compute feature statistics from")
    if n_total == 0:
        raise InputError("fit_stats", "the training recordings have no frames")
    std = np.sqrt(m2 / n_total)
    keep = std > np.maximum(CONSTANT_RTOL * np.abs(mean), 1e-12)
    return {
        "mean": mean,
        "std": std,
        "keep": keep,
        "names": list(names),
        "dropped": [n for n, k in zip(names, keep) if not k],
        "n_frames": int(n_total),
    }


def fit_train_stats(
    values_by_recording: Mapping[str, np.ndarray], partition_of: Mapping[str, str], names: list[str]
) -> dict:
    """`fit_stats` over the recordings whose partition is `train`; dev and test recordings are never read."""
    missing = [r for r in values_by_recording if r not in partition_of]
    if missing:
        raise InputError("split", f"recordings without a partition: {missing[:5]}")
    train = [values for rec, values in values_by_recording.items() if partition_of[rec] == "train"]
    if not train:
        raise InputError("split", "no recording is in the train partition")
    return fit_stats(train, names)


def apply_stats(values: np.ndarray, stats: dict, where: str | Path = "features") -> np.ndarray:
    """Z-scores of the kept columns of `values` (n, F) as float32 (n, number kept).

    Computed in float32 (the statistics rounded to float32 first): the features are float32 already, and
    float64 arithmetic cost ComParE 6373 models most of their data time (bench/train_step.py --loader).
    """
    values = np.asarray(values)
    keep = np.asarray(stats["keep"], dtype=bool)
    if values.ndim != 2 or values.shape[1] != keep.size:
        raise InputError(where, f"features have shape {values.shape}; the statistics are for {keep.size} columns")
    scaled = np.array(values if keep.all() else values[:, keep], dtype=np.float32)  # always a new array
    scaled -= np.asarray(stats["mean"])[keep].astype(np.float32)
    scaled /= np.asarray(stats["std"])[keep].astype(np.float32)
    return scaled


def kept_names(stats: dict) -> list[str]:
    """Names of the columns `apply_stats` returns, in order."""
    return [n for n, k in zip(stats["names"], stats["keep"]) if k]


def save_stats(path: str | Path, stats: dict) -> None:
    """Write the statistics as .npz (atomically): mean, std, keep, names, n_frames."""
    write_npz(
        path,
        mean=np.asarray(stats["mean"], dtype=np.float64),
        std=np.asarray(stats["std"], dtype=np.float64),
        keep=np.asarray(stats["keep"], dtype=bool),
        names=np.asarray(stats["names"], dtype=str),
        n_frames=np.asarray(stats["n_frames"], dtype=np.int64),
    )


def load_stats(path: str | Path) -> dict:
    """Read statistics written by `save_stats`, in the form `fit_stats` returns."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as err:
        raise InputError(path, f"cannot read feature statistics ({err})") from err
    missing = [k for k in _STATS_KEYS if k not in arrays]
    if missing:
        raise InputError(path, f"feature statistics file lacks {missing}")
    mean, std, keep = arrays["mean"], arrays["std"], arrays["keep"].astype(bool)
    names, n_frames = [str(n) for n in arrays["names"]], int(arrays["n_frames"])
    if not (mean.shape == std.shape == keep.shape == (len(names),)):
        raise InputError(path, "mean, std, keep and names have different lengths")
    return {
        "mean": mean,
        "std": std,
        "keep": keep,
        "names": names,
        "dropped": [n for n, k in zip(names, keep) if not k],
        "n_frames": n_frames,
    }
