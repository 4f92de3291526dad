"""Shared helpers for corpus adapters: label traces on the 40 ms grid, checks, audio headers.

Grid convention (docs/architecture.md): frame `k` of a recording has time `k * step`
relative to the recording's start, and a recording of `duration` seconds has the
frames whose time lies in `[0, duration]` (7 501 frames for 300 s, as the AVEC
gold standard).  A rater or gold trace with its own times is put on that grid by
linear interpolation; it may end up to `tolerance` seconds before or after the
recording (the edge value is held there), and a larger difference is an error.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
import soundfile as sf

from emotrace.corpora.base import LABEL_COLUMNS, MANIFEST_COLUMNS, RATER_COLUMNS
from emotrace.errors import InputError
from emotrace.wav import check_not_truncated

log = logging.getLogger(__name__)

DEFAULT_STEP = 0.04
DEFAULT_TOLERANCE = 1.0  # seconds allowed between the end of a label trace and of its audio
DEFAULT_MAX_GAP = 1.0  # seconds: a larger jump between consecutive label times is a gap


# --------------------------------------------------------------------------- grid

def frame_count(duration: float, step: float = DEFAULT_STEP) -> int:
    """Number of label frames of a recording: the frames with time `k * step` in `[0, duration]`."""
    if step <= 0:
        raise InputError("labels.step", f"step must be positive, got {step}")
    if duration < 0:
        raise ValueError(f"negative duration {duration}")
    return int(math.floor(duration / step + 1e-6)) + 1


def frame_times(duration: float, step: float = DEFAULT_STEP) -> np.ndarray:
    """Times (s, relative to the recording start) of the recording's label frames."""
    return np.arange(frame_count(duration, step), dtype=np.float64) * step


def resample_trace(times: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Linear interpolation of a (time, value) trace at `grid`; edge values are held outside it."""
    return np.interp(np.asarray(grid, dtype=np.float64), np.asarray(times, dtype=np.float64),
                     np.asarray(values, dtype=np.float64))


# --------------------------------------------------------------------------- checks

def check_trace(
    times: np.ndarray,
    values: np.ndarray,
    path: str | Path,
    first_line: int = 2,
    max_gap: float = DEFAULT_MAX_GAP,
    value_range: tuple[float, float] | None = None,
) -> None:
    """Raise InputError (file and line) for NaN, times not increasing, gaps or out-of-range values.

    `first_line` is the file line of the trace's first row, so that row `i` is line
    `first_line + i`.
    """
    times = np.asarray(times, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if times.size == 0:
        raise InputError(path, "label trace has no rows")
    bad = np.flatnonzero(~np.isfinite(times) | ~np.isfinite(values))
    if bad.size:
        raise InputError(f"{path}:{first_line + bad[0]}", "NaN or missing value in label trace")
    if times.size > 1:
        steps = np.diff(times)
        bad = np.flatnonzero(steps <= 0)
        if bad.size:
            raise InputError(f"{path}:{first_line + bad[0] + 1}",
                             f"time {times[bad[0] + 1]:g} does not increase (previous {times[bad[0]]:g})")
        bad = np.flatnonzero(steps > max_gap)
        if bad.size:
            i = bad[0]
            raise InputError(f"{path}:{first_line + i + 1}",
                             f"gap of {steps[i]:.3f} s in label trace ({times[i]:g} -> {times[i + 1]:g} s; "
                             f"at most {max_gap:g} s allowed)")
    if value_range is not None:
        lo, hi = value_range
        bad = np.flatnonzero((values < lo - 1e-9) | (values > hi + 1e-9))
        if bad.size:
            raise InputError(f"{path}:{first_line + bad[0]}",
                             f"value {values[bad[0]]:g} outside [{lo:g}, {hi:g}]")


def check_coverage(
    times: np.ndarray,
    start: float,
    end: float,
    path: str | Path,
    tolerance: float = DEFAULT_TOLERANCE,
) -> None:
    """Raise InputError if a trace starts after `start` or ends before/after `end` by more than `tolerance` s."""
    first, last = float(times[0]), float(times[-1])
    if first - start > tolerance:
        raise InputError(path, f"labels start at {first:.2f} s, more than {tolerance:g} s after the audio "
                               f"starts ({start:.2f} s)")
    if abs(last - end) > tolerance:
        word = "shorter" if last < end else "longer"
        raise InputError(path, f"labels are {word} than the audio by more than {tolerance:g} s "
                               f"(labels end at {last:.2f} s, audio at {end:.2f} s)")


def check_same_sets(
    audio: Iterable[str],
    labels: Iterable[str],
    where: str | Path,
    what: str = "recordings",
) -> None:
    """Raise InputError naming what has audio but no labels and what has labels but no audio."""
    audio, labels = set(audio), set(labels)
    no_labels, no_audio = sorted(audio - labels), sorted(labels - audio)
    if no_labels or no_audio:
        parts = []
        if no_labels:
            parts.append(f"audio without labels: {', '.join(no_labels)}")
        if no_audio:
            parts.append(f"labels without audio: {', '.join(no_audio)}")
        raise InputError(where, f"audio and labels cover different {what}; " + "; ".join(parts))


def check_dimensions(dimensions: Iterable[str], available: Iterable[str], where: str | Path) -> None:
    """Raise InputError if a wanted dimension is not available in the corpus."""
    available = sorted(set(available))
    missing = [d for d in dimensions if d not in available]
    if missing:
        raise InputError(where, f"dimension(s) {', '.join(missing)} not available in this corpus; "
                                f"available: {', '.join(available) or 'none'}")


# --------------------------------------------------------------------------- readers

def read_time_value_csv(path: Path, sep: str = ",") -> tuple[np.ndarray, np.ndarray]:
    """Read a `time,value` label file; InputError names the file (and line) on bad content."""
    table = read_table(path, sep=sep)
    missing = [c for c in ("time", "value") if c not in table.columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}; found {', '.join(table.columns)}")
    times = numeric_column(table, "time", path)
    values = numeric_column(table, "value", path)
    return times, values


def read_table(path: Path, sep: str = ",") -> pd.DataFrame:
    """Read a delimited text file as strings with stripped column names; InputError if unreadable."""
    if not path.is_file():
        raise InputError(path, "file does not exist")
    try:
        table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot parse as {sep!r}-separated text: {exc}") from exc
    table.columns = [str(c).strip() for c in table.columns]
    return table


def numeric_column(table: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    """A column of a table read by `read_table` as float64; InputError with the line of a bad cell."""
    text = table[column].astype(str).str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i, cell = int(bad[0]), text.iloc[int(bad[0])]
        missing = cell == "" or cell.lower() in ("nan", "na", "?", "inf", "-inf")
        raise InputError(f"{path}:{i + 2}", f"column {column!r}: "
                                            + ("NaN or missing value" if missing else f"{cell!r} is not a number"))
    return values


def audio_header(path: Path, where: str | Path | None = None) -> tuple[int, float]:
    """Sample rate and duration (s) of an audio file, from its header; a truncated WAV is an InputError."""
    if not path.is_file():
        raise InputError(where or path, f"audio file {path} does not exist")
    check_not_truncated(path)
    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise InputError(path, f"cannot read audio header: {exc}") from exc
    return int(info.samplerate), info.frames / info.samplerate


def resolve_path(root: Path, value: str | Path) -> Path:
    """An absolute path: `value` as is if absolute, else relative to the corpus root."""
    p = Path(value).expanduser()
    return (p if p.is_absolute() else root / p).resolve()


GENDERS = {"f": "F", "female": "F", "w": "F", "m": "M", "male": "M", "": ""}


def normalise_gender(value: object, where: str) -> str:
    """`F`, `M` or empty from common spellings; InputError otherwise."""
    text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()
    if text.lower() not in GENDERS:
        raise InputError(where, f"gender {text!r} is not one of F, M or empty")
    return GENDERS[text.lower()]


def parse_age(value: object, where: str) -> object:
    """An integer age or pd.NA for an empty cell; InputError otherwise."""
    text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()
    if not text:
        return pd.NA
    try:
        age = float(text)
    except ValueError:
        raise InputError(where, f"age {text!r} is not a number") from None
    if not age.is_integer() or age < 0:
        raise InputError(where, f"age {text!r} is not a whole non-negative number")
    return int(age)


def read_speaker_metadata(path: Path) -> dict[str, tuple[str, object]]:
    """Read a `speaker,gender,age` CSV into {speaker: (gender, age)} (gender and age optional columns)."""
    table = read_table(path)
    if "speaker" not in table.columns:
        raise InputError(path, f"missing column 'speaker'; found {', '.join(table.columns)}")
    out: dict[str, tuple[str, object]] = {}
    for i, row in enumerate(table.to_dict("records")):
        where = f"{path}:{i + 2}"
        speaker = str(row["speaker"]).strip()
        if not speaker:
            raise InputError(where, "empty speaker id")
        if speaker in out:
            raise InputError(where, f"speaker {speaker!r} listed twice")
        out[speaker] = (normalise_gender(row.get("gender", ""), where), parse_age(row.get("age", ""), where))
    return out


# --------------------------------------------------------------------------- options and frames

def merge_options(adapter: str, given: Mapping[str, object], defaults: Mapping[str, object]) -> dict:
    """Adapter options with defaults filled in; an unknown key (a typo) is an InputError."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise InputError(f"corpus.options.{unknown[0]}",
                         f"unknown option for adapter {adapter!r}; valid: {', '.join(sorted(defaults))}")
    return {**defaults, **given}


def manifest_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows -> manifest with MANIFEST_COLUMNS and stable dtypes (age nullable integer)."""
    frame = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    for col in ("recording", "speaker", "group", "gender", "audio_path"):
        frame[col] = frame[col].astype(str)
    frame["age"] = frame["age"].astype("Int64")
    frame["offset"] = frame["offset"].astype(np.float64)
    frame["duration"] = frame["duration"].astype(np.float64)
    frame["sample_rate"] = frame["sample_rate"].astype(np.int64)
    return frame.sort_values("recording", kind="stable").reset_index(drop=True)


def label_frame(parts: list[tuple[str, str, np.ndarray]], step: float) -> pd.DataFrame:
    """[(recording, dimension, values on the grid)] -> tidy labels with LABEL_COLUMNS."""
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                             zip(LABEL_COLUMNS, (str, str, np.int64, np.float64, np.float64))})
    frames = []
    for recording, dimension, values in parts:
        n = len(values)
        frames.append(pd.DataFrame({
            "recording": recording,
            "dimension": dimension,
            "frame": np.arange(n, dtype=np.int64),
            "time": np.round(np.arange(n, dtype=np.float64) * step, 6),
            "value": np.asarray(values, dtype=np.float64),
        }))
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["recording", "dimension", "frame"], kind="stable").reset_index(drop=True)


def rater_frame(parts: list[tuple[str, str, str, np.ndarray]], step: float) -> pd.DataFrame:
    """[(recording, dimension, rater, values on the grid)] -> tidy rater traces with RATER_COLUMNS."""
    frames = []
    for recording, dimension, rater, values in parts:
        n = len(values)
        frames.append(pd.DataFrame({
            "recording": recording, "dimension": dimension, "rater": str(rater),
            "frame": np.arange(n, dtype=np.int64),
            "time": np.round(np.arange(n, dtype=np.float64) * step, 6),
            "value": np.asarray(values, dtype=np.float64),
        }))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("recording", "dimension", "rater") else float)
                             for c in RATER_COLUMNS})
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["recording", "dimension", "rater", "frame"], kind="stable").reset_index(drop=True)
