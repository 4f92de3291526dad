"""Per-segment outputs put back into full-length traces, and the one predictions.csv format every model writes."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd

from emotrace.errors import InputError
from emotrace.io import atomic_write
from emotrace.metrics import PREDICTION_COLUMNS as COLUMNS

PARTITIONS = ("train", "dev", "test")
STEP = 0.04


class Trace(NamedTuple):
    """A recording's trace: label-frame indices (ascending, contiguous) and one row of values per frame."""

    frames: np.ndarray  # (m,) int64
    values: np.ndarray  # (m, D)


def assemble(
    values: np.ndarray, frame0: np.ndarray, mask: np.ndarray, n_frames: int | None = None, where: str = "segments"
) -> Trace:
    """Undo a contiguous tiling: the masked-in frames of every segment, placed at their label frame.

    Each frame must be covered exactly once and the covered frames must form one run without
    holes; frames masked out (padding past the end) are dropped. `n_frames`, when given, is the
    length of the recording's label trace, and no kept frame may lie beyond it.
    """
    values = np.asarray(values)
    frame0 = np.asarray(frame0, dtype=np.int64)
    mask = np.asarray(mask, dtype=bool)
    if values.ndim != 3 or mask.shape != values.shape[:2] or frame0.shape != values.shape[:1]:
        raise InputError(
            where, f"need values (n, T, D), frame0 (n,), mask (n, T); got {values.shape}, {frame0.shape}, {mask.shape}"
        )
    n_seg, seg_frames, _ = values.shape
    frames = (frame0[:, None] + np.arange(seg_frames, dtype=np.int64)[None, :])[mask]
    kept = values[mask]
    if frames.size == 0:
        raise InputError(where, "no frame is masked in: nothing to assemble")
    order = np.argsort(frames, kind="stable")
    frames, kept = frames[order], kept[order]
    repeated = frames[1:][frames[1:] == frames[:-1]]
    if repeated.size:
        raise InputError(where, f"frame {int(repeated[0])} is covered twice: not a contiguous (eval) tiling")
    if frames[-1] - frames[0] + 1 != frames.size:
        gap = int(frames[:-1][np.diff(frames) > 1][0]) + 1
        raise InputError(where, f"frame {gap} is not covered: the tiling has a hole")
    if frames[0] < 0 or (n_frames is not None and frames[-1] >= n_frames):
        raise InputError(where, f"frames {int(frames[0])}..{int(frames[-1])} fall outside the trace of {n_frames} frames")
    return Trace(frames, kept)


def to_frame(
    recording: str,
    partition: str,
    dimensions: Sequence[str],
    frames: np.ndarray,
    prediction: np.ndarray,
    gold: np.ndarray,
    step: float = STEP,
) -> pd.DataFrame:
    """One recording's traces (frames (m,), prediction and gold (m, D)) as rows of predictions.csv."""
    frames = np.asarray(frames, dtype=np.int64)
    prediction = np.asarray(prediction, dtype=np.float64).reshape(len(frames), len(dimensions))
    gold = np.asarray(gold, dtype=np.float64).reshape(len(frames), len(dimensions))
    n, d = len(frames), len(dimensions)
    return pd.DataFrame(
        {
            "recording": np.full(n * d, recording, dtype=object),
            "partition": np.full(n * d, partition, dtype=object),
            "dimension": np.repeat(np.asarray(dimensions, dtype=object), n),
            "frame": np.tile(frames, d),
            "time": np.round(np.tile(frames, d) * step, 6),
            "prediction": prediction.T.reshape(-1),
            "gold": gold.T.reshape(-1),
        }
    )


def check_predictions(df: pd.DataFrame, where: str | Path, require_gold: bool = True) -> pd.DataFrame:
    """Validate a predictions table (columns, dtypes, partitions, no NaN, no duplicate frame) and return it in column order."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(where, f"missing columns {missing}; predictions need {COLUMNS}")
    if df.empty:
        raise InputError(where, "no predictions")
    df = df[COLUMNS].copy()
    for column in ("recording", "partition", "dimension"):
        if df[column].isna().any():
            raise InputError(where, f"column {column!r} has empty values")
        df[column] = df[column].astype(str)
    for column in ("frame", "time", "prediction", "gold"):
        numeric = pd.to_numeric(df[column], errors="coerce")
        if numeric.isna().any() and not (column == "gold" and not require_gold):
            bad = df.loc[numeric.isna(), column].iloc[0]
            raise InputError(where, f"column {column!r} has a missing or non-numeric value ({bad!r})")
        df[column] = numeric.astype(np.float64)
    if not np.isfinite(df["prediction"]).all():
        raise InputError(where, "column 'prediction' has infinite values")
    if (df["frame"] != np.round(df["frame"])).any() or (df["frame"] < 0).any():
        raise InputError(where, "column 'frame' must hold non-negative integers")
    df["frame"] = df["frame"].astype(np.int64)
    unknown = sorted(set(df["partition"]) - set(PARTITIONS))
    if unknown:
        raise InputError(where, f"unknown partitions {unknown}; valid: {list(PARTITIONS)}")
    duplicated = df.duplicated(["recording", "dimension", "frame"])
    if duplicated.any():
        row = df[duplicated].iloc[0]
        raise InputError(where, f"frame {row['frame']} of {row['recording']}/{row['dimension']} appears twice")
    return df.reset_index(drop=True)


def write_predictions(df: pd.DataFrame, path: str | Path) -> None:
    """Check and write predictions.csv atomically (floats with 9 significant digits: exact for float32)."""
    df = check_predictions(df, path)
    with atomic_write(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.9g")


def read_predictions(path: str | Path, require_gold: bool = True) -> pd.DataFrame:
    """Read and check predictions.csv; an unreadable or malformed file raises InputError naming it."""
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype={"recording": str, "partition": str, "dimension": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(path, f"cannot read predictions ({err})") from err
    return check_predictions(df, path, require_gold=require_gold)
