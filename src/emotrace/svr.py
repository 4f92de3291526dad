"""The linear SVR baseline (Trigeorgis 2016): libsvm with a linear kernel, C chosen on dev CCC.

libsvm's training time grows about quadratically with the number of frames, so training may
use evenly spaced frames only (every k-th, `max_train_frames`); neighbouring 40 ms frames of
3 s windows are nearly identical, so little is lost. Its SMO solver also needs millions of
iterations at the top of the C grid (C >= 0.1 on hundreds of standardised features), so each
fit stops after `max_iter` iterations and the grid table records whether it converged.
liblinear (sklearn's LinearSVR) was measured too: 30x faster at small C but just as stuck at
large C, so the paper's libsvm stays.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import SVR

from emotrace.errors import InputError
from emotrace.metrics import ccc

SVR_EPSILON = 0.1
"""Width of the insensitive tube: libsvm's default (`-p 0.1`), which the paper does not change."""

SVR_MAX_ITER = 1_000_000
"""SMO iterations per fit before stopping (about 30 s for 5 000 frames); -1 for no limit."""


def even_subsample(n: int, max_frames: int | None, seed: int) -> np.ndarray:
    """Indices of every k-th of `n` frames, k = ceil(n / max_frames); `seed` picks the phase in [0, k)."""
    if max_frames is None or n <= max_frames:
        return np.arange(n)
    stride = math.ceil(n / max_frames)
    phase = int(np.random.default_rng(seed).integers(stride))
    return np.arange(phase, n, stride)


def fit_svr_grid(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_dev: np.ndarray | Sequence[np.ndarray],
    y_dev: np.ndarray,
    c_grid: list[float],
    max_train_frames: int | None,
    seed: int,
    epsilon: float = SVR_EPSILON,
    max_iter: int = SVR_MAX_ITER,
) -> tuple[SVR, pd.DataFrame]:
    """Fit one linear SVR per C and keep the one with the best CCC on all dev frames (concatenated).

    `X_dev` may be a list of per-recording arrays (scored concatenated, predicted piece by piece, so no
    float64 copy of every dev frame is made). Returns (best model, table with columns C, dev_ccc,
    fit_seconds, n_train, n_iter, converged, chosen). Ties go to
    the smaller C. The chosen model is the one fitted on the (sub-sampled) training frames,
    not refitted on train + dev, so dev stays a pure model-selection set as in the paper.
    """
    X_train, y_train = _check_xy(X_train, y_train, "training")
    dev_pieces = [X_dev] if isinstance(X_dev, np.ndarray) else list(X_dev)
    y_dev = _check_frames(dev_pieces, y_dev, "dev")  # checked in place: no float64 copy of the dev frames
    widths = {x.shape[1] for x in dev_pieces}
    if widths != {X_train.shape[1]}:
        raise InputError("features", f"training frames have {X_train.shape[1]} features, dev frames {', '.join(map(str, sorted(widths)))}")
    if not c_grid or any(not (c > 0) for c in c_grid):
        raise InputError("c_grid", f"needs at least one positive C, got {c_grid!r}")
    rows = even_subsample(X_train.shape[0], max_train_frames, seed)
    X_fit, y_fit = X_train[rows], y_train[rows]
    best, best_score, table = None, -np.inf, []
    for c in sorted(float(c) for c in c_grid):
        model = SVR(kernel="linear", C=c, epsilon=epsilon, cache_size=1000, max_iter=max_iter)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # recorded in the table instead
            model.fit(X_fit, y_fit)
        seconds = time.perf_counter() - start
        n_iter = int(np.max(model.n_iter_))
        score = ccc(np.concatenate([model.predict(x) for x in dev_pieces]), y_dev, where="dev")
        table.append({
            "C": c, "dev_ccc": score, "fit_seconds": seconds, "n_train": len(rows),
            "n_iter": n_iter, "converged": max_iter < 0 or n_iter < max_iter,
        })
        if score > best_score:
            best, best_score = model, score
    result = pd.DataFrame(table)
    result["chosen"] = result["C"] == best.C
    return best, result


def _check_xy(X: np.ndarray, y: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Check one matrix of frames against its targets; returns both as float64."""
    X = np.asarray(X, dtype=np.float64)
    return X, _check_frames([X], y, what)


def _check_frames(pieces: list[np.ndarray], y: np.ndarray, what: str) -> np.ndarray:
    """Pieces of (frames, features) matching `y` frame for frame, all finite; returns `y` as float64."""
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    for x in pieces:
        if np.ndim(x) != 2:
            raise InputError(f"{what} frames", f"features of shape {np.shape(x)} are not (frames, features)")
    n = sum(len(x) for x in pieces)
    if n != y.size or y.size == 0:
        raise InputError(f"{what} frames", f"{n} frames of features do not match {y.size} targets")
    if not (all(np.isfinite(x).all() for x in pieces) and np.isfinite(y).all()):
        raise InputError(f"{what} frames", "features or targets contain NaN or infinite values")
    return y
