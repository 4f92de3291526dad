"""The generic corpus layout: a metadata table plus one `time,value` label file per recording and dimension.

Layout under the corpus root::

    metadata.csv                      recording, speaker, audio_path [, gender, age, group, offset, duration]
    labels/{dimension}/{recording}.csv    time,value (any regular step; put on the 40 ms grid, see below)

`audio_path` is absolute or relative to the root.  A recording is the region
`[offset, offset + duration)` of its audio file (offset 0 and the rest of the
file by default); `group` (the split unit) defaults to the speaker.

Options: `metadata` (path of the table, default `metadata.csv`), `labels_dir`
(default `labels`), `label_pattern` (path under `labels_dir` with `{dimension}`
and `{recording}`, default `{dimension}/{recording}.csv`), `tolerance` (s a label
trace may end before/after its recording, default 1), `max_gap` (largest step
between label times, default 1 s), `rate_tolerance` (fraction of a trace's median
step its time steps may be off a whole number of steps, default 0.25).  Files under
`labels_dir` that match no pattern are logged as warnings and ignored.

Label rates (emotrace.corpora.rates): a trace on the 40 ms grid is kept, a sparser
one interpolated linearly, a denser one averaged over each frame's 40 ms; the log
says per dimension which rates were found and which was done. Irregular or
decreasing time stamps are refused, naming the file.

Individual raters (optional): `raters_dir` (default `raters`) holds
`{dimension}/{recording}.csv` with a `time` column and one column per rater; the
generated corpus writes them. Without that folder the corpus has no individual ratings.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from emotrace.corpora.base import RATER_COLUMNS, CorpusAdapter, register
from emotrace.corpora.labels import (
    DEFAULT_MAX_GAP,
    DEFAULT_TOLERANCE,
    audio_header,
    check_coverage,
    check_dimensions,
    check_same_sets,
    check_trace,
    frame_times,
    label_frame,
    manifest_frame,
    merge_options,
    normalise_gender,
    numeric_column,
    parse_age,
    read_table,
    read_time_value_csv,
    resolve_path,
)
from emotrace.corpora.rates import DEFAULT_RATE_TOLERANCE, RateLog, to_grid
from emotrace.errors import InputError

log = logging.getLogger(__name__)

RECORDING_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
REGION_SLACK = 0.01  # s a region may overrun its file (rounding in hand-written tables)


def check_recording_id(recording: str, where: str) -> None:
    """Recording ids become file names and Snakemake wildcards: letters, digits, `_`, `.`, `-`."""
    if not RECORDING_ID.match(recording):
        raise InputError(where, f"recording id {recording!r} must be letters, digits, '_', '.' or '-'")


def pattern_regex(pattern: str) -> re.Pattern:
    """Regex for a label path pattern with `{dimension}` and `{recording}` fields."""
    if "{dimension}" not in pattern or "{recording}" not in pattern:
        raise InputError("corpus.options.label_pattern",
                         f"pattern {pattern!r} must contain {{dimension}} and {{recording}}")
    regex = re.escape(pattern)
    regex = regex.replace(r"\{dimension\}", r"(?P<dimension>[^/]+)", 1)
    regex = regex.replace(r"\{recording\}", r"(?P<recording>[^/]+)", 1)
    return re.compile(f"^{regex}$")


@register
class GenericAdapter(CorpusAdapter):
    """A metadata table plus per-recording `time,value` label files (see the module docstring)."""

    name = "generic"
    DEFAULTS = {
        "metadata": "metadata.csv",
        "labels_dir": "labels",
        "label_pattern": "{dimension}/{recording}.csv",
        "tolerance": DEFAULT_TOLERANCE,
        "max_gap": DEFAULT_MAX_GAP,
        "raters_dir": "raters",
        "rate_tolerance": DEFAULT_RATE_TOLERANCE,
    }
    options_accepted = DEFAULTS

    def __init__(self, root: str | Path, options: dict | None = None):
        super().__init__(root, options)
        self.options = merge_options(self.name, self.options, self.DEFAULTS)
        self._manifest: pd.DataFrame | None = None

    # ------------------------------------------------------------------ manifest
    def manifest(self) -> pd.DataFrame:
        """One row per metadata row; sample rate and file duration read from the audio header."""
        if self._manifest is None:
            self._manifest = manifest_frame(self._manifest_rows())
        return self._manifest.copy()

    def _manifest_rows(self) -> list[dict]:
        path = resolve_path(self.root, self.options["metadata"])
        table = read_table(path)
        missing = [c for c in ("recording", "speaker", "audio_path") if c not in table.columns]
        if missing:
            raise InputError(path, f"missing column(s) {', '.join(missing)}; found {', '.join(table.columns)}")
        if table.empty:
            raise InputError(path, "no recordings listed")
        rows, seen = [], {}
        for i, row in enumerate(table.to_dict("records")):
            where = f"{path}:{i + 2}"
            recording = str(row["recording"]).strip()
            check_recording_id(recording, where)
            if recording in seen:
                raise InputError(where, f"recording {recording!r} already listed on line {seen[recording]}")
            seen[recording] = i + 2
            speaker = str(row["speaker"]).strip()
            if not speaker:
                raise InputError(where, "empty speaker")
            if not str(row["audio_path"]).strip():
                raise InputError(where, "empty audio_path")
            audio = resolve_path(self.root, str(row["audio_path"]).strip())
            sample_rate, file_duration = audio_header(audio, where)
            offset = self._number(row.get("offset", ""), 0.0, "offset", where)
            duration = self._number(row.get("duration", ""), file_duration - offset, "duration", where)
            if offset < 0 or duration <= 0:
                raise InputError(where, f"region offset {offset:g} s, duration {duration:g} s is empty or negative")
            if offset + duration > file_duration + REGION_SLACK:
                raise InputError(where, f"region [{offset:g}, {offset + duration:g}) s runs past the end of "
                                        f"{audio} ({file_duration:.3f} s)")
            group = str(row.get("group", "") or "").strip() or speaker
            rows.append({
                "recording": recording,
                "speaker": speaker,
                "group": group,
                "gender": normalise_gender(row.get("gender", ""), where),
                "age": parse_age(row.get("age", ""), where),
                "audio_path": str(audio),
                "offset": offset,
                "duration": min(duration, file_duration - offset),
                "sample_rate": sample_rate,
            })
        return rows

    @staticmethod
    def _number(cell: object, default: float, column: str, where: str) -> float:
        text = str(cell if cell is not None else "").strip()
        if not text:
            return default
        try:
            return float(text)
        except ValueError:
            raise InputError(where, f"{column} {text!r} is not a number") from None

    # ------------------------------------------------------------------ labels
    def label_files(self) -> dict[str, dict[str, Path]]:
        """{dimension: {recording: path}} of the label files found under `labels_dir`."""
        labels_dir = resolve_path(self.root, self.options["labels_dir"])
        if not labels_dir.is_dir():
            raise InputError(labels_dir, "label folder does not exist")
        regex = pattern_regex(self.options["label_pattern"])
        found: dict[str, dict[str, Path]] = {}
        for path in sorted(p for p in labels_dir.rglob("*") if p.is_file()):
            match = regex.match(path.relative_to(labels_dir).as_posix())
            if not match:
                log.warning("%s: matches no label pattern (%s); ignored", path, self.options["label_pattern"])
                continue
            found.setdefault(match["dimension"], {})[match["recording"]] = path
        return found

    def labels(self, dimensions: list[str], step: float = 0.04) -> pd.DataFrame:
        """Gold standard per recording on the `step` grid covering the recording."""
        manifest = self.manifest()
        files = self.label_files()
        labels_dir = resolve_path(self.root, self.options["labels_dir"])
        check_dimensions(dimensions, files, labels_dir)
        parts, rates = [], RateLog(step)
        for dimension in dimensions:
            check_same_sets(manifest["recording"], files[dimension], labels_dir / dimension)
            for rec in manifest.itertuples(index=False):
                path = files[dimension][rec.recording]
                times, values = read_time_value_csv(path)
                check_trace(times, values, path, max_gap=self.options["max_gap"])
                check_coverage(times, 0.0, rec.duration, path, self.options["tolerance"])
                on_grid, mapping = to_grid(times, values, frame_times(rec.duration, step), step, path,
                                           tolerance=self.options["rate_tolerance"])
                parts.append((rec.recording, dimension, on_grid))
                rates.add(dimension, mapping)
        rates.flush(log)
        return label_frame(parts, step)

    # ------------------------------------------------------------------ raters
    def rater_labels(self, dimensions: list[str], step: float = 0.04) -> pd.DataFrame | None:
        """Each rater's trace from `raters_dir/{dimension}/{recording}.csv` on the grid of `labels()`;
        None when the folder does not exist. Every recording must have a file per dimension."""
        raters_dir = resolve_path(self.root, self.options["raters_dir"])
        if not raters_dir.is_dir():
            return None
        parts, rates = [], RateLog(step)
        for dimension in dimensions:
            for rec in self.manifest().itertuples(index=False):
                path = raters_dir / dimension / f"{rec.recording}.csv"
                table = read_table(path)
                names = [c for c in table.columns if c != "time"]
                if "time" not in table.columns or not names:
                    raise InputError(path, f"need a 'time' column and one column per rater; found {list(table.columns)}")
                times = numeric_column(table, "time", path)
                grid = frame_times(rec.duration, step)
                for name in names:
                    values = numeric_column(table, name, path)
                    check_trace(times, values, path, max_gap=self.options["max_gap"])
                    on_grid, mapping = to_grid(times, values, grid, step, path,
                                               tolerance=self.options["rate_tolerance"])
                    rates.add(f"{dimension} raters", mapping)
                    parts.append(pd.DataFrame({
                        "recording": rec.recording, "dimension": dimension, "rater": name,
                        "frame": np.arange(grid.size, dtype=np.int64), "time": np.round(grid, 6),
                        "value": on_grid,
                    }))
        rates.flush(log)
        if not parts:
            return pd.DataFrame(columns=RATER_COLUMNS)
        return pd.concat(parts, ignore_index=True)[RATER_COLUMNS]
