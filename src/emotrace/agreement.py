"""The raters' ceiling: how well the individual raters agree with each other, per dimension and partition.

As the AVEC 2018 organisers' agreement script does (docs/references.md §9): the mean pairwise CCC
between raters and Cronbach's alpha over the raters (for raters as fixed items this is
also ICC(3,k), the consistency of their mean); and the leave-one-rater-out CCC, each
rater against the mean of the others, whose mean is the figure comparable to a model's
CCC against the gold standard (the mean of all raters). Its interval comes from the same
block bootstrap as the models' (`emotrace.uncertainty`). All on the partition's
recordings concatenated, 1/N moments.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from emotrace.errors import InputError
from emotrace.metrics import ccc_columns
from emotrace.uncertainty import interval, resampler_for

log = logging.getLogger(__name__)

AGREEMENT_COLUMNS = [
    "partition", "dimension", "n_raters", "n_recordings", "n_frames",
    "loo_ccc", "loo_ccc_low", "loo_ccc_high", "loo_ccc_min", "loo_ccc_max", "pairwise_ccc", "cronbach_alpha",
]


def loo_ccc(ratings: np.ndarray) -> np.ndarray:
    """(K,) CCC of each rater (column of `ratings` (N, K)) against the mean of the other raters."""
    k = ratings.shape[1]
    others = (ratings.sum(axis=1, keepdims=True) - ratings) / (k - 1)
    return np.array([ccc_columns(ratings[:, [r]], others[:, r])[0] for r in range(k)])


def pairwise_ccc(ratings: np.ndarray) -> float:
    """Mean CCC over all pairs of raters."""
    k = ratings.shape[1]
    return float(np.mean([ccc_columns(ratings[:, [a]], ratings[:, b])[0] for a in range(k) for b in range(a + 1, k)]))


def cronbach_alpha(ratings: np.ndarray) -> float:
    """Cronbach's alpha with raters as items and frames as cases: K/(K-1) (1 - sum var_k / var(sum))."""
    k = ratings.shape[1]
    total = ratings.sum(axis=1).var()
    if total == 0:
        return 0.0
    return float(k / (k - 1) * (1.0 - ratings.var(axis=0).sum() / total))


def rater_matrix(raters: pd.DataFrame, where: str) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """Frames (recording, frame) and the (N, K) ratings of the raters present in every recording.

    `raters` holds one dimension of raters.csv for the recordings of one partition. Raters
    missing from some recording are left out (logged), so every column covers the same frames.
    """
    per_rec = raters.groupby("recording")["rater"].agg(lambda r: set(r))
    common = sorted(set.intersection(*per_rec.tolist())) if len(per_rec) else []
    dropped = sorted(set(raters["rater"]) - set(common))
    if dropped:
        log.warning("%s: raters %s do not rate every recording; left out", where, dropped)
    if len(common) < 2:
        raise InputError(where, f"fewer than two raters rate every recording ({common})")
    wide = raters[raters["rater"].isin(common)].pivot_table(
        index=["recording", "frame"], columns="rater", values="value", aggfunc="first")
    wide = wide.dropna().sort_index()
    frames = wide.index.to_frame(index=False)
    return frames, wide[common].to_numpy(dtype=np.float64), common


def agreement(raters: pd.DataFrame, split: pd.DataFrame, cfg: dict, step: float = 0.04) -> pd.DataFrame:
    """AGREEMENT_COLUMNS per partition and dimension; empty when the corpus has no individual ratings.

    `raters` is raters.csv, `split` split.csv (recording -> partition), `cfg` the checked
    uncertainty settings; the leave-one-rater-out interval is that of the raters' mean over
    the bootstrap replicates of the partition.
    """
    if raters.empty:
        return pd.DataFrame(columns=AGREEMENT_COLUMNS)
    partition_of = split.set_index("recording")["partition"]
    unknown = sorted(set(raters["recording"]) - set(partition_of.index))
    if unknown:
        raise InputError("raters.csv", f"recordings {unknown[:5]} are in no partition of split.csv")
    raters = raters.assign(partition=raters["recording"].map(partition_of))
    rows = []
    for (partition, dimension), part in raters.groupby(["partition", "dimension"], sort=True):
        where = f"raters [{partition}/{dimension}]"
        frames, ratings, names = rater_matrix(part, where)
        loo = loo_ccc(ratings)
        rs = resampler_for(frames, cfg, step, f"raters/{partition}")
        others = (ratings.sum(axis=1, keepdims=True) - ratings) / (len(names) - 1)
        replicates = np.mean([rs.ccc(ratings[:, r], others[:, r])[0] for r in range(len(names))], axis=0)
        low, high = interval(replicates, float(cfg["level"]))
        rows.append({
            "partition": partition, "dimension": dimension, "n_raters": len(names),
            "n_recordings": frames["recording"].nunique(), "n_frames": len(frames),
            "loo_ccc": float(loo.mean()), "loo_ccc_low": low, "loo_ccc_high": high,
            "loo_ccc_min": float(loo.min()), "loo_ccc_max": float(loo.max()),
            "pairwise_ccc": pairwise_ccc(ratings), "cronbach_alpha": cronbach_alpha(ratings),
        })
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
