"""Concordance correlation and friends: the one metric implementation for training,
post-processing and evaluation, plus alignment of prediction and gold traces.

Every moment uses 1/N (biased) normalisation, as in the TensorFlow reference code,
numpy and audmetric; AVEC 2018's CES script mixes 1/N covariance with 1/(N-1)
variances, which gives slightly different figures on short traces.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emotrace.errors import InputError

PREDICTION_COLUMNS = ["recording", "partition", "dimension", "frame", "time", "prediction", "gold"]
METRIC_COLUMNS = ["partition", "dimension", "ccc", "ccc_per_recording", "pearson", "rmse", "n_frames"]
METRICS_FILE_COLUMNS = ["partition", "dimension", "postprocessed", "ccc", "ccc_per_recording", "pearson", "rmse", "n_frames"]
PARTITION_ORDER = ["train", "dev", "test"]


def _pair(pred, gold, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Both inputs as float64 vectors of one non-zero length, without NaN."""
    p = np.asarray(pred, dtype=np.float64).reshape(-1)
    g = np.asarray(gold, dtype=np.float64).reshape(-1)
    if p.size != g.size:
        raise InputError(where, f"prediction has {p.size} values but gold has {g.size}")
    if p.size == 0:
        raise InputError(where, "empty input: no frames to score")
    if not (np.isfinite(p).all() and np.isfinite(g).all()):
        raise InputError(where, "prediction or gold contains NaN or infinite values")
    return p, g


def ccc_columns(preds: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """CCC (1/N moments) of each column of `preds` (N, K) against `gold` (N,); constant -> 0.

    Vectorised so that post-processing can score many candidate settings at once.
    Inputs are assumed validated (same length, non-empty, finite).
    """
    preds = np.asarray(preds, dtype=np.float64)
    gold = np.asarray(gold, dtype=np.float64)
    mean_p = preds.mean(axis=0)
    mean_g = gold.mean()
    dev_p = preds - mean_p
    dev_g = gold - mean_g
    cov = (dev_p * dev_g[:, None]).mean(axis=0)
    var_p = (dev_p**2).mean(axis=0)
    var_g = (dev_g**2).mean()
    denom = var_p + var_g + (mean_p - mean_g) ** 2
    # A constant trace has no concordance; exact ptp test, because the mean of
    # identical floats can differ from them by rounding and leave a tiny variance.
    constant = (np.ptp(preds, axis=0) == 0) | (np.ptp(gold) == 0)
    out = np.zeros(preds.shape[1], dtype=np.float64)
    ok = ~constant & (denom > 0)
    out[ok] = 2.0 * cov[ok] / denom[ok]
    return out


def ccc(pred, gold, where: str = "ccc") -> float:
    """Concordance correlation coefficient with 1/N moments:
    2 cov / (var_p + var_g + (mean_p - mean_g)^2); 0.0 (not NaN) if either trace is constant."""
    p, g = _pair(pred, gold, where)
    return float(ccc_columns(p[:, None], g)[0])


def pearson(pred, gold, where: str = "pearson") -> float:
    """Pearson correlation (1/N moments); 0.0 if either trace is constant."""
    p, g = _pair(pred, gold, where)
    if np.ptp(p) == 0 or np.ptp(g) == 0:
        return 0.0
    dp, dg = p - p.mean(), g - g.mean()
    return float((dp * dg).mean() / np.sqrt((dp**2).mean() * (dg**2).mean()))


def rmse(pred, gold, where: str = "rmse") -> float:
    """Root mean squared error."""
    p, g = _pair(pred, gold, where)
    return float(np.sqrt(np.mean((p - g) ** 2)))


def check_predictions(df: pd.DataFrame, where: str = "predictions") -> None:
    """Raise InputError unless `df` is in the shared predictions.csv format."""
    missing = [c for c in PREDICTION_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(where, f"missing columns {missing}; expected {PREDICTION_COLUMNS}")
    for col in ("prediction", "gold"):
        values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise InputError(where, f"column {col!r} has NaN, infinite or non-numeric values")
    dup = df.duplicated(["recording", "dimension", "frame"])
    if dup.any():
        row = df.loc[dup].iloc[0]
        raise InputError(where, f"recording {row['recording']!r} ({row['dimension']}) has frame {row['frame']} twice")


def _partition_key(partitions: pd.Series) -> pd.Series:
    return partitions.map(lambda p: (PARTITION_ORDER.index(p) if p in PARTITION_ORDER else len(PARTITION_ORDER), p))


def evaluate(predictions: pd.DataFrame, where: str = "predictions") -> pd.DataFrame:
    """Scores per (partition, dimension) in METRIC_COLUMNS.

    `ccc`, `pearson` and `rmse` are computed on all recordings of the partition
    concatenated (AV+EC 2015 protocol, the papers' figure); `ccc_per_recording`
    is the unweighted mean of per-recording CCCs.
    """
    check_predictions(predictions, where)
    if predictions.empty:
        raise InputError(where, "no prediction rows to evaluate")
    df = predictions.sort_values(["partition", "dimension", "recording", "frame"], kind="stable")
    rows = []
    for (partition, dimension), part in df.groupby(["partition", "dimension"], sort=False):
        p = part["prediction"].to_numpy(dtype=np.float64)
        g = part["gold"].to_numpy(dtype=np.float64)
        label = f"{where} [{partition}/{dimension}]"
        per_rec = [
            ccc(r["prediction"].to_numpy(dtype=np.float64), r["gold"].to_numpy(dtype=np.float64), label)
            for _, r in part.groupby("recording", sort=False)
        ]
        rows.append({
            "partition": partition,
            "dimension": dimension,
            "ccc": ccc(p, g, label),
            "ccc_per_recording": float(np.mean(per_rec)),
            "pearson": pearson(p, g, label),
            "rmse": rmse(p, g, label),
            "n_frames": int(p.size),
        })
    out = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    dim_order = {d: i for i, d in enumerate(pd.unique(predictions["dimension"]))}
    out = out.assign(_p=_partition_key(out["partition"]), _d=out["dimension"].map(dim_order))
    return out.sort_values(["_p", "_d"]).drop(columns=["_p", "_d"]).reset_index(drop=True)


def metrics_file(raw: pd.DataFrame, postprocessed: pd.DataFrame | None = None, where: str = "predictions") -> pd.DataFrame:
    """The metrics.csv table: scores of the raw predictions (postprocessed False) and,
    when given, of the post-processed ones (postprocessed True)."""
    parts = [evaluate(raw, where).assign(postprocessed=False)]
    if postprocessed is not None:
        parts.append(evaluate(postprocessed, where).assign(postprocessed=True))
    return pd.concat(parts, ignore_index=True)[METRICS_FILE_COLUMNS]


def _frames_from_time(times: pd.Series, step: float, where: str, what: str) -> np.ndarray:
    """Frame index of each time stamp, k = round(t / step); off-grid stamps are an error."""
    t = pd.to_numeric(times, errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(t).all():
        raise InputError(where, f"{what} has missing or non-numeric time stamps")
    k = np.rint(t / step)
    off = np.abs(t / step - k) > 0.1
    if off.any():
        raise InputError(where, f"{what} time stamp {t[off][0]} s is not on the {step} s frame grid")
    return k.astype(np.int64)


def check_contiguous(frames: np.ndarray, step: float, where: str, recording: str, dimension: str, what: str) -> None:
    """Frames sorted ascending must be unique and gap-free."""
    diffs = np.diff(frames)
    if (diffs == 0).any():
        k = frames[1:][diffs == 0][0]
        raise InputError(where, f"recording {recording!r} ({dimension}): {what} has time {k * step:.2f} s twice")
    if (diffs > 1).any():
        i = int(np.flatnonzero(diffs > 1)[0])
        raise InputError(
            where,
            f"recording {recording!r} ({dimension}): {what} trace has a gap of {int(diffs[i]) - 1} missing "
            f"frame(s) between {frames[i] * step:.2f} s and {frames[i + 1] * step:.2f} s",
        )


def align(pred: pd.DataFrame, gold: pd.DataFrame, where: str, step: float = 0.04, tolerance: int = 1) -> pd.DataFrame:
    """Pair prediction and gold traces by time stamp into the predictions.csv format.

    `pred` has columns recording, partition, dimension, time, prediction; `gold` has
    recording, dimension, time and `value` (labels.csv) or `gold`. Times are mapped
    to frames k = round(t / step). Each trace must be gap-free: two consecutive
    time stamps more than one step apart (missing frames inside a trace) raise an
    InputError naming the recording. The two traces may start or end at
    different frames by at most `tolerance` frames (default 1) at each end; the
    frames present in only one of them are dropped, so the output covers exactly
    their overlap. Larger differences, or a recording without gold, raise.
    """
    need_pred = ["recording", "partition", "dimension", "time", "prediction"]
    missing = [c for c in need_pred if c not in pred.columns]
    if missing:
        raise InputError(where, f"predictions lack columns {missing}")
    gold_col = "value" if "value" in gold.columns else "gold"
    missing = [c for c in ["recording", "dimension", "time", gold_col] if c not in gold.columns]
    if missing:
        raise InputError(where, f"gold standard lacks columns {missing}")

    p = pred.assign(frame=_frames_from_time(pred["time"], step, where, "prediction"))
    g = gold.assign(frame=_frames_from_time(gold["time"], step, where, "gold"))
    n_partitions = p.groupby("recording")["partition"].nunique()
    if (n_partitions > 1).any():
        raise InputError(where, f"recording {n_partitions.index[n_partitions > 1][0]!r} appears in more than one partition")
    gold_groups = {key: grp for key, grp in g.groupby(["recording", "dimension"], sort=False)}

    pieces = []
    for (recording, dimension), pg in p.groupby(["recording", "dimension"], sort=False):
        gg = gold_groups.get((recording, dimension))
        if gg is None:
            raise InputError(where, f"recording {recording!r} has predictions for {dimension!r} but no gold standard")
        pg = pg.sort_values("frame", kind="stable")
        gg = gg.sort_values("frame", kind="stable")
        pf = pg["frame"].to_numpy()
        gf = gg["frame"].to_numpy()
        check_contiguous(pf, step, where, recording, dimension, "prediction")
        check_contiguous(gf, step, where, recording, dimension, "gold")
        if abs(int(pf[0]) - int(gf[0])) > tolerance or abs(int(pf[-1]) - int(gf[-1])) > tolerance:
            raise InputError(
                where,
                f"recording {recording!r} ({dimension}): prediction covers {pf[0] * step:.2f}-{pf[-1] * step:.2f} s "
                f"but gold covers {gf[0] * step:.2f}-{gf[-1] * step:.2f} s; they may differ by at most "
                f"{tolerance} frame(s) at each end",
            )
        lo, hi = max(pf[0], gf[0]), min(pf[-1], gf[-1])
        if lo > hi:
            raise InputError(where, f"recording {recording!r} ({dimension}): prediction and gold share no frame")
        pk = pg.iloc[lo - pf[0] : hi - pf[0] + 1]
        gk = gg.iloc[lo - gf[0] : hi - gf[0] + 1]
        frames = np.arange(lo, hi + 1, dtype=np.int64)
        pieces.append(pd.DataFrame({
            "recording": recording,
            "partition": pk["partition"].to_numpy(),
            "dimension": dimension,
            "frame": frames,
            "time": np.round(frames * step, 6),
            "prediction": pk["prediction"].to_numpy(dtype=np.float64),
            "gold": gk[gold_col].to_numpy(dtype=np.float64),
        }))
    if not pieces:
        raise InputError(where, "no predictions to align")
    return pd.concat(pieces, ignore_index=True)[PREDICTION_COLUMNS]
