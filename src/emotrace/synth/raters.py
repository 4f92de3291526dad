"""Simulated annotators: each follows the hidden curve late, smoothed, biased, scaled, drifting and noisy."""

from __future__ import annotations

import numpy as np
from scipy import signal

from emotrace.synth.curves import smooth_noise

N_RATERS = 6


def _one_pole(x: np.ndarray, step: float, time_constant: float) -> np.ndarray:
    """First-order low-pass (a slow hand on the rating slider), started at rest on x[0]."""
    alpha = 1.0 - np.exp(-step / time_constant)
    b, a = [alpha], [1.0, alpha - 1.0]
    zi = signal.lfilter_zi(b, a) * x[0]
    return signal.lfilter(b, a, x, zi=zi)[0]


def simulate_raters(
    hidden: np.ndarray, step: float, rng: np.random.Generator, n_raters: int = N_RATERS
) -> np.ndarray:
    """Ratings (n_frames, n_raters) in [-1, 1] of one hidden curve sampled every `step` s.

    Per rater: reaction lag 2-3.2 s plus slider smoothing (0.2-0.8 s time constant), so the
    rating trails the curve by about 2-4 s; scale 0.7-1.2, bias (sd 0.08), slow drift
    (~60 s, sd 0.06) and jittery noise (sd 0.03).
    """
    n = len(hidden)
    times = np.arange(n) * step
    ratings = np.empty((n, n_raters))
    for r in range(n_raters):
        lag = rng.uniform(2.0, 3.2)
        smoothing = rng.uniform(0.2, 0.8)
        scale = rng.uniform(0.7, 1.2)
        bias = rng.normal(0.0, 0.08)
        drift = 0.06 * smooth_noise(n, step, 60.0, rng)
        jitter = 0.03 * smooth_noise(n, step, 0.1, rng)
        perceived = np.interp(times - lag, times, hidden)  # held at the first value before the lag has passed
        ratings[:, r] = scale * _one_pole(perceived, step, smoothing) + bias + drift + jitter
    return np.clip(ratings, -1.0, 1.0)


def gold_standard(ratings: np.ndarray) -> np.ndarray:
    """The gold standard: the mean of the raters at each frame."""
    return ratings.mean(axis=1)
