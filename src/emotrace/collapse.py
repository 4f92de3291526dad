"""Degenerate models: a system that outputs a (near-)constant, or never learnt during training.

Such a system's CCC is a number like any other (a constant scores 0, a tiny wobble a few
hundredths either way), so tables, findings and the report mark it `collapsed` instead
of printing it bare. Two signs, either suffices:

- its raw test predictions are near-constant: std below `min_std_ratio` (1 %) of the
  gold standard's on the same frames;
- its dev CCC never rose above `chance_ccc` in any epoch of training (history.csv;
  models without a training history, the SVRs, are judged on the first sign only).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emotrace.errors import InputError

DEFAULTS = {"min_std_ratio": 0.01, "chance_ccc": 0.05}


def settings(cfg: dict | None = None) -> dict:
    """DEFAULTS overridden by the config's `collapse` section."""
    cfg = dict(cfg or {})
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:
        raise InputError("collapse", f"unknown keys {unknown}; valid: {sorted(DEFAULTS)}")
    return {**DEFAULTS, **cfg}


def flat_ratio(pred: np.ndarray, gold: np.ndarray) -> float:
    """std(prediction) / std(gold) (1/N); inf when the gold itself is constant and the prediction is not."""
    sp, sg = float(np.std(pred)), float(np.std(gold))
    if sg == 0:
        return 0.0 if sp == 0 else float("inf")
    return sp / sg


def best_dev_ccc(history: pd.DataFrame | None, dimension: str, where: str = "history.csv") -> float | None:
    """The highest dev CCC of `dimension` over the epochs of history.csv; None without a history."""
    if history is None or history.empty:
        return None
    column = f"dev_ccc_{dimension}"
    if column not in history.columns:
        raise InputError(where, f"no column {column!r}; found {list(history.columns)}")
    values = pd.to_numeric(history[column], errors="coerce").to_numpy(dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(values.max()) if values.size else None


def reason(test_pred: np.ndarray, test_gold: np.ndarray, history: pd.DataFrame | None, dimension: str,
           cfg: dict, where: str = "history.csv") -> str:
    """Why the system counts as collapsed on `dimension`, or "" when it does not."""
    why = []
    ratio = flat_ratio(np.asarray(test_pred, dtype=np.float64), np.asarray(test_gold, dtype=np.float64))
    if ratio < cfg["min_std_ratio"]:
        why.append(f"test predictions near-constant (std {100 * ratio:.2g} % of the gold's)")
    best = best_dev_ccc(history, dimension, where)
    if best is not None and best <= cfg["chance_ccc"]:
        why.append(f"dev CCC never above {cfg['chance_ccc']:g} in training (best {best:.3f})")
    return "; ".join(why)
