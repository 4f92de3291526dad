"""The linear SVR baseline (Trigeorgis 2016): libsvm with a linear kernel, C chosen on dev CCC.

libsvm's training time grows about quadratically with the number of frames, so training may
use evenly spaced frames only (every k-th, `max_train_frames`); neighbouring 40 ms frames of
3 s windows are nearly identical, so little is lost. Its SMO solver also needs millions of
iterations at the top of the C grid (C >= 0.1 on hundreds of standardised features), so each
fit stops after `max_iter` iterations and the grid table records whether it converged.
liblinear (sklearn's LinearSVR) was measured too: 30x faster at small C but just as stuck at
large C, so the paper's libsvm stays.

The fitted models are saved as model.pt (`svr_checkpoint`, format `SVR_FORMAT`): per dimension the
linear weights, intercept and chosen C, with the feature set and its training statistics, as plain
tensors, lists and numbers that torch.load(weights_only=True) reads back. `load_svr` turns that into
a linear layer over normalised feature rows, so `emotrace predict` runs the SVR like a feature network.
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import SVR

from emotrace.errors import InputError
from emotrace.metrics import ccc
from emotrace.predictions import STEP
from emotrace.segments import SAMPLE_RATE
from emotrace.training import TrainedModel, _storable

SVR_EPSILON = 0.1
"""Width of the insensitive tube: libsvm's default (`-p 0.1`), which the paper does not change."""

SVR_MAX_ITER = 1_000_000
"""SMO iterations per fit before stopping (about 30 s for 5 000 frames); -1 for no limit."""

SVR_FORMAT = "emotrace-svr/1"
"""The `format` entry of an SVR's model.pt (a network's is `emotrace.training.MODEL_FORMAT`)."""


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


# ---------------------------------------------------------------- the saved model


class LinearFrames(torch.nn.Module):
    """The fitted linear SVRs as one layer: (B, T, F) normalised feature rows -> (B, T, D), in float64 as libsvm."""

    input_kind = "features"

    def __init__(self, coef: torch.Tensor, intercept: torch.Tensor):
        super().__init__()
        self.register_buffer("coef", coef.to(torch.float64))  # (D, F)
        self.register_buffer("intercept", intercept.to(torch.float64))  # (D,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.to(torch.float64) @ self.coef.T + self.intercept).to(torch.float32)


def svr_checkpoint(
    models: Mapping[str, SVR], system: str, feature_set: str, feature_stats: Mapping, label_offset: int,
    step: float, extra: Mapping | None = None,
) -> dict:
    """The contents of an SVR's model.pt: per dimension (in order) the linear SVR's weights, intercept and C.

    `feature_stats` are the training statistics the rows were z-normalised with (`emotrace.normalise`),
    `label_offset` the alignment the feature rows were extracted with, `step` the label step (s).
    """
    if not models:
        raise InputError(system, "no fitted SVR to save")
    for dim, model in models.items():
        if getattr(model, "kernel", None) != "linear":
            raise InputError(system, f"the {dim} SVR has kernel {getattr(model, 'kernel', None)!r}; only linear SVRs are saved")
    n_kept = int(np.asarray(feature_stats["keep"], dtype=bool).sum())
    coef = np.stack([np.asarray(m.coef_, dtype=np.float64).reshape(-1) for m in models.values()])
    if coef.shape[1] != n_kept:
        raise InputError(system, f"the SVRs have {coef.shape[1]} weights, the feature statistics keep {n_kept} columns")
    return {
        "format": SVR_FORMAT,
        "model": "svr",
        "system": system,
        "dimensions": list(models),
        "objective": "mse",
        "coef": torch.from_numpy(coef),
        "intercept": torch.tensor([float(np.asarray(m.intercept_).reshape(-1)[0]) for m in models.values()],
                                  dtype=torch.float64),
        "C": {dim: float(m.C) for dim, m in models.items()},
        "epsilon": {dim: float(m.epsilon) for dim, m in models.items()},
        "n_features": n_kept,
        "feature_set": feature_set,
        "feature_stats": {k: _storable(v) for k, v in feature_stats.items()},
        "label_offset": int(label_offset),
        "step": float(step),
        "sample_rate": SAMPLE_RATE,
        **dict(extra or {}),
    }


def load_svr(checkpoint: Mapping, where: str | Path) -> TrainedModel:
    """An SVR's model.pt contents (`svr_checkpoint`) as a TrainedModel whose module is a `LinearFrames`."""
    if checkpoint.get("format") != SVR_FORMAT:
        raise InputError(where, f"not an emotrace SVR model (format {checkpoint.get('format')!r}, expected {SVR_FORMAT!r})")
    try:
        coef, intercept = checkpoint["coef"], checkpoint["intercept"]
        dims, stats = list(checkpoint["dimensions"]), dict(checkpoint["feature_stats"])
        feature_set, n_features = str(checkpoint["feature_set"]), int(checkpoint["n_features"])
        label_offset, step = int(checkpoint["label_offset"]), float(checkpoint["step"])
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(where, f"incomplete or damaged emotrace SVR model ({type(err).__name__}: {err})") from err
    if not (isinstance(coef, torch.Tensor) and isinstance(intercept, torch.Tensor)
            and coef.shape == (len(dims), n_features) and intercept.shape == (len(dims),)):
        raise InputError(where, f"SVR weights of shape {tuple(getattr(coef, 'shape', ()))} and intercepts of shape "
                                f"{tuple(getattr(intercept, 'shape', ()))} do not fit {len(dims)} dimensions x {n_features} features")
    if abs(step - STEP) > 1e-9:
        raise InputError(where, f"the SVR was trained on a {step:g} s label step; predictions use {STEP:g} s")
    stats = {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in stats.items()}
    return TrainedModel(
        module=LinearFrames(coef, intercept).eval(),
        name=str(checkpoint.get("system", "svr")),
        dimensions=dims,
        objective=str(checkpoint.get("objective", "mse")),
        model_kwargs={},
        n_features=n_features,
        feature_set=feature_set,
        feature_stats=stats,
        label_offset=label_offset,
        checkpoint={k: v for k, v in checkpoint.items() if k not in ("coef", "intercept")},
    )
