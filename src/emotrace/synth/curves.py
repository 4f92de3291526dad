"""Hidden emotion curves: smooth, partly correlated arousal and valence traces in [-1, 1]."""

from __future__ import annotations

import numpy as np
from scipy import signal

DIMENSIONS = ("arousal", "valence")
_PAD_S = 60.0  # generated on each side and cropped, so edges behave like the middle


def n_frames(duration: float, step: float) -> int:
    """Number of label frames covering [0, duration]: frames at 0, step, ..., floor(duration / step) * step."""
    return int(np.floor(duration / step + 1e-9)) + 1


def smooth_noise(n: int, step: float, time_constant: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance Gaussian noise low-passed (zero phase) at 1 / (2 pi time_constant) Hz."""
    pad = int(round(_PAD_S / step))
    white = rng.standard_normal(n + 2 * pad)
    cutoff = 1.0 / (2.0 * np.pi * time_constant)
    sos = signal.butter(2, cutoff, btype="low", fs=1.0 / step, output="sos")
    smooth = signal.sosfiltfilt(sos, white)
    smooth = (smooth - smooth.mean()) / smooth.std()
    return smooth[pad : pad + n]


def hidden_curves(duration: float, step: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Arousal and valence at `step` s: a slow (~8 s) plus a faster (~2 s) low-passed noise, squashed by tanh.

    Each recording gets its own mean level, depth of variation and arousal-valence
    correlation (0 to 0.5), so the two dimensions are only partly dependent.
    """
    n = n_frames(duration, step)
    components = {}
    for dimension in DIMENSIONS:
        slow = smooth_noise(n, step, rng.uniform(6.0, 10.0), rng)
        fast = smooth_noise(n, step, rng.uniform(1.5, 3.0), rng)
        components[dimension] = (0.8 * slow + 0.6 * fast) / np.hypot(0.8, 0.6)
    rho = rng.uniform(0.0, 0.5)
    components["valence"] = rho * components["arousal"] + np.sqrt(1.0 - rho**2) * components["valence"]
    curves = {}
    for dimension in DIMENSIONS:
        level = rng.normal(0.0, 0.1)
        depth = rng.uniform(0.5, 0.85)
        curves[dimension] = np.tanh(level + depth * components[dimension])
    return curves
