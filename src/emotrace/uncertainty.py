"""Bootstrap confidence intervals for CCC that respect the time dependence of 40 ms frames.

Frames of one recording are strongly autocorrelated (the raters' slider moves over
seconds), so resampling single frames gives intervals far too narrow. A partition
with many recordings (at least `min_recordings`, RECOLA's test set has 15) is
resampled by whole recordings. A partition with few recordings is resampled by
circular blocks of `block_seconds`: the partition's recordings, concatenated, are
read as one circle and each replicate is rebuilt, slot by slot in the recordings'
lengths, from blocks starting at random frames (wrapping at the end, so that every
frame is equally likely). Drawing blocks from the whole partition rather than from
within each recording keeps the differences between recordings in the interval
(with 2-3 blocks per recording, within-recording blocks gave intervals about 20 %
too narrow in simulation, and none at all once a block spans a whole recording).
The default 20 s spans the raters' reaction lag (2-4 s) plus slider smoothing
several times over and much of the traces' slow drift, while leaving about ten
blocks on the default test partition (4 x 45 s); shorter blocks cut through that
dependence and narrow the interval, longer ones leave too few distinct blocks
(docs/references.md §8.1). A block that crosses from one recording into the next joins two
traces; that is rare with blocks shorter than a recording and only slightly
loosens the dependence.

Every replicate's CCC is computed from six running sums (n, Σp, Σg, Σp², Σg², Σpg)
taken as differences of cumulative sums, so one partition's draws (a `Resampler`)
are made once and reused for every system scored on the same frames: the whole
grid's intervals cost a few array gathers, and a paired comparison of two systems
uses exactly the same resampled frames for both.
"""

from __future__ import annotations

import zlib
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from emotrace.errors import InputError

DEFAULTS = {"replicates": 2000, "block_seconds": 20.0, "min_recordings": 10, "level": 0.95, "seed": 0}


def settings(cfg: dict | None = None) -> dict:
    """DEFAULTS overridden by `cfg` (the config's `uncertainty` section), validated."""
    cfg = dict(cfg or {})
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:
        raise InputError("uncertainty", f"unknown keys {unknown}; valid: {sorted(DEFAULTS)}")
    out = {**DEFAULTS, **cfg}
    if int(out["replicates"]) < 100:
        raise InputError("uncertainty.replicates", f"need at least 100 replicates, got {out['replicates']}")
    if not 0.5 < float(out["level"]) < 1:
        raise InputError("uncertainty.level", f"must lie between 0.5 and 1, got {out['level']}")
    if not float(out["block_seconds"]) > 0:
        raise InputError("uncertainty.block_seconds", f"must be positive, got {out['block_seconds']}")
    return out


class Resampler:
    """One partition's bootstrap draws: per replicate, which pieces of which recordings make it up.

    `lengths` are the recordings' frame counts in the order their frames are concatenated.
    Each replicate is a list of K pieces: `sizes` frames from `starts` on a circle of `span`
    frames beginning at `base` in the concatenated frames (one recording, or the whole
    partition), with the unit (recording drawn, or recording slot filled) that per-recording
    CCC groups by.
    """

    def __init__(self, lengths: Sequence[int], step: float = 0.04, replicates: int = 2000,
                 block_seconds: float = 20.0, min_recordings: int = 10, seed: int = 0, name: str = ""):
        self.lengths = np.asarray(lengths, dtype=np.int64)
        if self.lengths.size == 0 or (self.lengths <= 0).any():
            raise InputError(name or "partition", "bootstrap needs at least one recording with frames")
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.replicates = int(replicates)
        rng = np.random.default_rng([int(seed), zlib.crc32(name.encode())])
        n_rec = self.lengths.size
        if n_rec >= min_recordings:
            self.mode = "recordings"
            drawn = rng.integers(0, n_rec, size=(self.replicates, n_rec))
            self.starts = np.zeros_like(drawn)
            self.sizes = self.lengths[drawn]
            self.base, self.span = self.offsets[drawn], self.sizes
            self.units = np.arange(n_rec)  # each drawn recording is its own unit
        else:
            self.mode = "blocks"
            block = max(1, int(round(block_seconds / step)))
            rec, sizes = [], []
            for r, n in enumerate(self.lengths):
                k = -(-int(n) // block)
                rec += [r] * k
                sizes += [block] * (k - 1) + [int(n) - block * (k - 1)]
            self.units = np.asarray(rec)
            shape = (self.replicates, len(rec))
            self.sizes = np.broadcast_to(np.asarray(sizes), shape)
            # circular blocks anywhere in the partition, wrapping at its end
            self.starts = rng.integers(0, self.n_frames, size=shape)
            self.base = np.zeros(shape, dtype=np.int64)
            self.span = np.full(shape, self.n_frames)
        self.n_units = int(self.units.max()) + 1

    @property
    def n_frames(self) -> int:
        return int(self.lengths.sum())

    def unit_sums(self, pred: np.ndarray, gold: np.ndarray, centre: float | None = None) -> np.ndarray:
        """(B, units, 6) sums n, Σp, Σg, Σp², Σg², Σpg of every replicate's units, of p - centre and
        g - centre (centre None: the mean of `gold`); sums about one centre add up across partitions."""
        p = np.asarray(pred, dtype=np.float64)
        g = np.asarray(gold, dtype=np.float64)
        if p.shape != (self.n_frames,) or g.shape != (self.n_frames,):
            raise InputError("bootstrap", f"expected {self.n_frames} frames, got {p.shape} and {g.shape}")
        c = g.mean() if centre is None else float(centre)
        p, g = p - c, g - c  # CCC is unchanged by a common shift; centring keeps the sums well conditioned
        terms = np.stack([np.ones_like(p), p, g, p * p, g * g, p * g], axis=1)
        cum = np.vstack([np.zeros((1, 6)), np.cumsum(terms, axis=0)])
        off = self.base
        first = np.minimum(self.starts + self.sizes, self.span)  # end of the part before wrapping
        wrapped = self.starts + self.sizes - first  # frames taken again from the circle's start
        pieces = (cum[off + first] - cum[off + self.starts]) + (cum[off + wrapped] - cum[off])
        onehot = np.zeros((self.units.size, self.n_units))
        onehot[np.arange(self.units.size), self.units] = 1.0
        return np.einsum("bkc,ku->buc", pieces, onehot)

    def ccc(self, pred: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Replicates (B,) of the CCC on the partition concatenated and of the mean per-recording CCC."""
        sums = self.unit_sums(pred, gold)
        return ccc_from_sums(sums.sum(axis=1)), ccc_from_sums(sums).mean(axis=1)

    def describe(self, block_seconds: float) -> str:
        """'whole recordings (15)' or '20 s blocks over 4 recordings': how the partition is resampled."""
        if self.mode == "recordings":
            return f"whole recordings ({self.lengths.size})"
        return f"{block_seconds:g} s blocks over {self.lengths.size} recordings"


def ccc_from_sums(sums: np.ndarray) -> np.ndarray:
    """CCC with 1/N moments from (..., 6) sums n, Σp, Σg, Σp², Σg², Σpg; 0 where a trace is constant."""
    n = sums[..., 0]
    mp, mg = sums[..., 1] / n, sums[..., 2] / n
    vp = sums[..., 3] / n - mp**2
    vg = sums[..., 4] / n - mg**2
    cov = sums[..., 5] / n - mp * mg
    denom = vp + vg + (mp - mg) ** 2
    tiny = 1e-12 * np.maximum(sums[..., 4] / n, 1e-300)
    ok = (vp > tiny) & (vg > tiny) & (denom > 0)
    return np.where(ok, 2.0 * cov / np.where(ok, denom, 1.0), 0.0)


def interval(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates."""
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(np.asarray(replicates, dtype=np.float64), [alpha, 1.0 - alpha])
    return float(low), float(high)


def paired(replicates_a: np.ndarray, replicates_b: np.ndarray, level: float = 0.95) -> dict:
    """Difference a - b on the same resampled frames: its interval and a two-sided bootstrap p.

    p is twice the smaller share of replicates on either side of 0 (with the usual +1
    correction, so never 0); identical systems give a difference of 0 and p = 1.
    """
    diff = np.asarray(replicates_a, dtype=np.float64) - np.asarray(replicates_b, dtype=np.float64)
    low, high = interval(diff, level)
    if np.all(diff == 0):
        return {"diff_low": 0.0, "diff_high": 0.0, "p": 1.0}
    below, above = np.sum(diff <= 0), np.sum(diff >= 0)
    p = min(1.0, 2.0 * (min(below, above) + 1) / (diff.size + 1))
    return {"diff_low": low, "diff_high": high, "p": float(p)}


# ------------------------------------------------------------------ frames shared by systems

def common_frames(tables: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """(recording, frame) pairs present in every table, sorted: the frames all systems are scored on."""
    keys = None
    for df in tables:
        index = pd.MultiIndex.from_frame(df[["recording", "frame"]].drop_duplicates())
        keys = index if keys is None else keys.intersection(index)
    if keys is None or len(keys) == 0:
        raise InputError("bootstrap", "no frame is shared by the systems compared")
    return keys.to_frame(index=False).sort_values(["recording", "frame"], kind="stable").reset_index(drop=True)


def resampler_for(frames: pd.DataFrame, cfg: dict, step: float, name: str) -> Resampler:
    """A Resampler over `frames` (from common_frames), recordings in their sorted order."""
    lengths = frames.groupby("recording", sort=False).size().to_numpy()
    return Resampler(lengths, step, int(cfg["replicates"]), float(cfg["block_seconds"]),
                     int(cfg["min_recordings"]), int(cfg["seed"]), name)


def on_frames(df: pd.DataFrame, frames: pd.DataFrame, column: str = "prediction") -> np.ndarray:
    """`df[column]` (predictions.csv rows of one partition and dimension) on the rows of `frames`."""
    values = df.set_index(["recording", "frame"])[column]
    index = pd.MultiIndex.from_frame(frames[["recording", "frame"]])
    out = values.reindex(index).to_numpy(dtype=np.float64)
    if not np.isfinite(out).all():
        raise InputError("bootstrap", "a system lacks some of the shared frames")
    return out
