"""Validation-tuned post-processing of prediction traces (Trigeorgis 2016, after AV+EC 2015).

Per trained model and dimension, four steps are tried in a fixed order, each kept
only if it raises the CCC of the dev recordings concatenated (with the steps kept
so far applied); the chosen settings are then applied unchanged to dev and test:

1. median filter over each recording's trace (odd window, edges padded with the
   nearest value);
2. centring: p + bias, bias = mean(dev gold) - mean(dev prediction);
3. scaling by scale = std(dev gold) / std(dev prediction) (1/N), in one of two forms
   (`scaling`): `mean_preserving` (the default) scales about the dev prediction mean c,
   c + scale * (p - c), so the mean is unchanged; `avec2018` multiplies the prediction
   itself, scale * p, as the AVEC 2018 baseline does (it also moves the mean);
4. time shift forward by s frames (rater reaction lag): the output at frame k is
   the input at frame k - s, the first s frames repeat the input's first value;
   per recording, never across recordings.

Only dev rows are ever looked at when choosing; test data cannot influence a setting.
Because the tuned dev CCC is measured on the very recordings it was tuned on, it is
optimistic; `loo_dev_ccc` gives beside it a leave-one-dev-recording-out estimate (tune on
the other dev recordings, score the held-out one) that says whether the chain generalises.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.ndimage import median_filter

from emotrace.errors import InputError
from emotrace.metrics import ccc_columns, check_contiguous, check_predictions

STEPS = ("median", "centre", "scale", "shift")
SCALINGS = ("mean_preserving", "avec2018")
# A step must raise dev CCC by more than this to be kept (guards against float noise).
MIN_GAIN = 1e-9


def _seconds(*ranges: tuple[float, float, float]) -> list[float]:
    out: list[float] = []
    for start, stop, step in ranges:
        n = int(round((stop - start) / step)) + 1
        out.extend(round(start + i * step, 6) for i in range(n))
    return out


DEFAULT_GRIDS: dict = {
    "step": 0.04,
    "median_windows": [0.4, 0.6, 0.8, 1.0, 1.2, 1.6, 2.0, 2.4, 3.2, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 16.0, 20.0],
    "shifts": _seconds((0.04, 1.0, 0.04), (1.2, 4.0, 0.2), (4.4, 10.0, 0.4)),
    "steps": list(STEPS),
    "scaling": "mean_preserving",
}


def _grids(grids: dict | None) -> dict:
    """DEFAULT_GRIDS overridden by `grids`, validated."""
    grids = dict(grids or {})
    unknown = sorted(set(grids) - set(DEFAULT_GRIDS))
    if unknown:
        raise InputError("postprocess grids", f"unknown keys {unknown}; valid: {sorted(DEFAULT_GRIDS)}")
    g = {**DEFAULT_GRIDS, **grids}
    step = float(g["step"])
    if not (np.isfinite(step) and step > 0):
        raise InputError("postprocess grids.step", f"frame step must be a positive number of seconds, got {g['step']}")
    for key in ("median_windows", "shifts"):
        values = np.asarray(g[key], dtype=np.float64).reshape(-1)
        if values.size == 0 or not np.isfinite(values).all() or (values <= 0).any():
            raise InputError(f"postprocess grids.{key}", "must be a non-empty list of positive seconds")
    bad = [s for s in g["steps"] if s not in STEPS]
    if bad:
        raise InputError("postprocess grids.steps", f"unknown steps {bad}; valid: {list(STEPS)}")
    if g["scaling"] not in SCALINGS:
        raise InputError("postprocess grids.scaling", f"unknown scaling {g['scaling']!r}; valid: {list(SCALINGS)}")
    return {**g, "step": step}


def window_frames(seconds: float, step: float) -> int:
    """Median window in frames: the nearest whole number of frames, made odd by adding one."""
    n = max(1, int(round(seconds / step)))
    return n if n % 2 else n + 1


def shift_frames(seconds: float, step: float) -> int:
    """Time shift in whole frames."""
    return max(0, int(round(seconds / step)))


def _median(trace: np.ndarray, frames: int) -> np.ndarray:
    return median_filter(trace, size=frames, mode="nearest")


def _shifted(trace: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Matrix (n, len(shifts)): column j is `trace` moved forward by shifts[j] frames."""
    idx = np.arange(trace.size)[:, None] - shifts[None, :]
    return trace[np.maximum(idx, 0)]


def _traces(df: pd.DataFrame, step: float, where: str, with_gold: bool) -> tuple[list, list, list]:
    """Per recording (sorted by name): row positions, prediction and gold arrays, frames in order."""
    df = df.reset_index(drop=True)
    if "time" in df.columns:
        mismatch = np.abs(df["time"].to_numpy(dtype=np.float64) - df["frame"].to_numpy(dtype=np.float64) * step)
        if (mismatch > step / 2).any():
            raise InputError(where, f"time stamps do not equal frame * {step} s; is the post-processing step right?")
    positions, preds, golds = [], [], []
    for recording, rec in df.groupby("recording", sort=True):
        rec = rec.sort_values("frame", kind="stable")
        frames = rec["frame"].to_numpy(dtype=np.int64)
        check_contiguous(frames, step, where, str(recording), str(rec["dimension"].iloc[0]), "prediction")
        positions.append(rec.index.to_numpy())
        preds.append(rec["prediction"].to_numpy(dtype=np.float64))
        golds.append(rec["gold"].to_numpy(dtype=np.float64) if with_gold else None)
    return positions, preds, golds


def _single_dimension(df: pd.DataFrame, where: str) -> str:
    dims = pd.unique(df["dimension"])
    if len(dims) != 1:
        raise InputError(where, f"expected rows of exactly one dimension, got {list(dims)}")
    return str(dims[0])


Trial = tuple[dict, float, list]  # (settings it would set, dev CCC with it, new dev traces)


def _score(traces: list[np.ndarray], gold: np.ndarray) -> float:
    return float(ccc_columns(np.concatenate(traces)[:, None], gold)[0])


def _try_median(preds: list[np.ndarray], gold: np.ndarray, g: dict) -> Trial | None:
    """Best median window of the grid, all windows scored in one vectorised CCC."""
    windows = sorted({window_frames(w, g["step"]) for w in g["median_windows"]})
    filtered = [np.stack([_median(p, n) for n in windows], axis=1) for p in preds]
    scores = ccc_columns(np.concatenate(filtered, axis=0), gold)
    best = int(np.argmax(scores))
    return {"median_window": round(windows[best] * g["step"], 6)}, float(scores[best]), [f[:, best] for f in filtered]


def _try_centre(preds: list[np.ndarray], gold: np.ndarray, g: dict) -> Trial | None:
    bias = float(gold.mean() - np.concatenate(preds).mean())
    new = [p + bias for p in preds]
    return {"bias": bias}, _score(new, gold), new


def _try_scale(preds: list[np.ndarray], gold: np.ndarray, g: dict) -> Trial | None:
    flat = np.concatenate(preds)
    if np.ptp(flat) == 0:
        return None  # a constant prediction has no scale to correct
    centre = float(flat.mean()) if g["scaling"] == "mean_preserving" else 0.0
    scale = float(gold.std() / flat.std())
    new = [centre + scale * (p - centre) for p in preds]
    return {"scale": scale, "scale_centre": centre}, _score(new, gold), new


def _try_shift(preds: list[np.ndarray], gold: np.ndarray, g: dict) -> Trial | None:
    """Best forward shift of the grid: every shift is a column of one matrix, scored at once."""
    shifts = np.array(sorted({shift_frames(s, g["step"]) for s in g["shifts"]} - {0}), dtype=np.int64)
    if not shifts.size:
        return None
    scores = ccc_columns(np.concatenate([_shifted(p, shifts) for p in preds], axis=0), gold)
    best = int(np.argmax(scores))
    new = [_shifted(p, shifts[best : best + 1])[:, 0] for p in preds]
    return {"shift": round(int(shifts[best]) * g["step"], 6)}, float(scores[best]), new


_TRIALS = {"median": _try_median, "centre": _try_centre, "scale": _try_scale, "shift": _try_shift}


def tune(dev: pd.DataFrame, grids: dict | None = None, where: str = "dev predictions") -> dict:
    """Choose the post-processing settings for one dimension from its dev rows only.

    Returns median_window (s, odd frames times step), bias, scale with scale_centre,
    shift (s); each None when its step was not kept. `steps` lists, in order, each
    step's best candidate, the dev CCC before and after it, and whether it was kept;
    `dev_ccc_raw` and `dev_ccc` are the dev CCC before and after the whole chain.
    """
    g = _grids(grids)
    check_predictions(dev, where)
    if dev.empty:
        raise InputError(where, "no dev predictions; cannot tune post-processing")
    if "partition" in dev.columns and (dev["partition"] != "dev").any():
        others = sorted(set(dev["partition"]) - {"dev"})
        raise InputError(where, f"tuning got rows of partitions {others}; post-processing is tuned on dev only")
    settings = identity_settings(_single_dimension(dev, where), g["step"])
    _, preds, golds = _traces(dev, g["step"], where, with_gold=True)
    gold = np.concatenate(golds)
    current = _score(preds, gold)
    settings.update(enabled=True, dev_ccc_raw=current, scaling=g["scaling"])
    for name in [s for s in STEPS if s in g["steps"]]:
        trial = _TRIALS[name](preds, gold, g)
        candidate, after = (next(iter(trial[0].values())), trial[1]) if trial else (None, current)
        kept = trial is not None and after > current + MIN_GAIN
        settings["steps"].append(
            {"name": name, "candidate": candidate, "ccc_before": current, "ccc_after": after, "kept": kept}
        )
        if kept:
            settings.update(trial[0])
            preds, current = trial[2], after
    settings["dev_ccc"] = current
    return settings


def loo_dev_ccc(dev: pd.DataFrame, grids: dict | None = None, where: str = "dev predictions") -> float | None:
    """Leave-one-dev-recording-out CCC: per dev recording, tune on the others and apply to it;
    the CCC of the held-out traces concatenated. None with fewer than two dev recordings."""
    g = _grids(grids)
    names = sorted(pd.unique(dev["recording"]))
    if len(names) < 2:
        return None
    preds, golds = [], []
    for name in names:
        held = dev[dev["recording"] == name].sort_values("frame", kind="stable")
        chosen = tune(dev[dev["recording"] != name], g, f"{where} without {name}")
        preds.append(apply_trace(held["prediction"].to_numpy(dtype=np.float64), chosen))
        golds.append(held["gold"].to_numpy(dtype=np.float64))
    return _score(preds, np.concatenate(golds))


def identity_settings(dimension: str, step: float, dev_ccc_raw: float | None = None) -> dict:
    """Settings that leave predictions unchanged (post-processing disabled)."""
    return {
        "dimension": dimension, "step": step, "enabled": False,
        "median_window": None, "bias": None, "scale": None, "scale_centre": None, "shift": None,
        "dev_ccc_raw": dev_ccc_raw, "dev_ccc": dev_ccc_raw, "dev_ccc_loo": None, "steps": [],
    }


def apply_trace(trace: np.ndarray, settings: dict) -> np.ndarray:
    """One recording's contiguous prediction trace with the settings applied in chain order."""
    step = float(settings["step"])
    out = np.asarray(trace, dtype=np.float64)
    if settings.get("median_window") is not None:
        out = _median(out, window_frames(settings["median_window"], step))
    if settings.get("bias") is not None:
        out = out + settings["bias"]
    if settings.get("scale") is not None:
        centre = settings["scale_centre"]
        out = centre + settings["scale"] * (out - centre)
    if settings.get("shift") is not None:
        out = _shifted(out, np.array([shift_frames(settings["shift"], step)]))[:, 0]
    return out


def apply(df: pd.DataFrame, settings: dict, where: str = "predictions") -> pd.DataFrame:
    """`df` (one dimension, predictions.csv format) with its predictions post-processed per recording."""
    if df.empty:
        return df.copy()
    dimension = _single_dimension(df, where)
    if settings.get("dimension") not in (None, dimension):
        raise InputError(where, f"settings were tuned for {settings['dimension']!r}, rows are {dimension!r}")
    step = float(settings["step"])
    values = df["prediction"].to_numpy(dtype=np.float64).copy()
    positions, preds, _ = _traces(df, step, where, with_gold=False)
    for pos, trace in zip(positions, preds):
        values[pos] = apply_trace(trace, settings)
    out = df.copy()
    out["prediction"] = values
    return out


def postprocess(
    predictions: pd.DataFrame, grids: dict | None = None, enabled: bool = True, where: str = "predictions"
) -> tuple[dict[str, dict], pd.DataFrame]:
    """Tune on the dev rows of each dimension and apply the same settings to all its rows (dev and test).

    Returns ({dimension: settings}, post-processed predictions in the input's row order).
    With `enabled=False` the settings are the identity and the rows come back unchanged.
    """
    check_predictions(predictions, where)
    g = _grids(grids)
    if not predictions.index.is_unique:
        predictions = predictions.reset_index(drop=True)
    out = predictions.copy()
    settings: dict[str, dict] = {}
    for dimension in pd.unique(predictions["dimension"]):
        rows = predictions[predictions["dimension"] == dimension]
        dev = rows[rows["partition"] == "dev"]
        label = f"{where} [{dimension}]"
        if not enabled:
            raw = float(ccc_columns(dev["prediction"].to_numpy()[:, None], dev["gold"].to_numpy())[0]) if len(dev) else None
            settings[str(dimension)] = identity_settings(str(dimension), g["step"], raw)
            continue
        if dev.empty:
            raise InputError(label, "no dev predictions; cannot tune post-processing")
        chosen = tune(dev, g, label)
        chosen["dev_ccc_loo"] = loo_dev_ccc(dev, g, label)
        settings[str(dimension)] = chosen
        out.loc[rows.index, "prediction"] = apply(rows, chosen, label)["prediction"]
    return settings, out
