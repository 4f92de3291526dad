"""`emotrace check`: a corpus and a config checked before a long run, without running the workflow.

It loads the config as the workflow does (`load_config`), reads the corpus through the configured adapter
(its own file readers and checks, file by file, so that every problem is found rather than the first), tries
the workflow's ingestion and split on it, and prints what it found, every problem with its file, and the plan:
jobs per rule, disk, the largest memory request and the time per stage from the project's cost model
(`emotrace.resources` and the measured rates of docs/scale.md, fitted with `emotrace.runcost.fit_growth`).
Nothing is written. Exit status: 0 the corpus can run, 1 it cannot (the errors say why), 2 config error.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from emotrace.corpora.labels import audio_header, check_coverage, check_trace, frame_count
from emotrace.errors import InputError

EXIT_OK, EXIT_CANNOT_RUN, EXIT_CONFIG = 0, 1, 2
DEFAULT_CONFIGFILE = "config.yaml"
GRID_STEP = 0.04
STEP_SLACK = 0.002  # s: a label file whose median step differs more from 40 ms is off the grid


class ConfigError(Exception):
    """A config that the workflow would refuse: unreadable file, bad override, schema or load-time check."""


# ---------------------------------------------------------------------------------------------- config


def load_config(configfiles: Sequence[str | Path] | None = None, overrides: Sequence[str] | Mapping | None = None,
                checks: bool = True) -> dict:
    """The config a workflow run with these options would see, defaults filled in (`emotrace.configuration`,
    which merges as the Snakefile does), then, with `checks`, the workflow's load-time checks
    (`emotrace.config_checks.check_config`) and the grid. Raises ConfigError with the message."""
    from emotrace import configuration

    try:
        config = configuration.load(configfiles or [], overrides or ())
    except InputError as err:
        raise ConfigError(str(err)) from err
    if checks:
        from emotrace import systems
        from emotrace.config_checks import check_config

        try:
            check_config(config)
            systems.grid(config)
        except (InputError, ValueError) as err:
            raise ConfigError(str(err)) from err
    return config


# ---------------------------------------------------------------------------------------------- problems


@dataclass
class Problem:
    """One thing wrong with the corpus: `error` stops the run, `warning` does not. `file` is where."""

    severity: str
    kind: str
    file: str
    message: str

    def line(self) -> str:
        return f"{self.severity}: [{self.kind}] {self.file}: {self.message}"


def _kind_of(err: InputError) -> str:
    text = err.problem.lower()
    if "nan" in text or "missing value" in text:
        return "nan"
    if "audio" in text and ("truncated" in text or "header" in text or "does not exist" in text):
        return "audio"
    if "layout" in text or "folder" in text:
        return "layout"
    return "labels"


# ---------------------------------------------------------------------------------------------- corpus scan


Reader = Callable[[Path], tuple[np.ndarray, dict[str, np.ndarray]]]


@dataclass
class Scan:
    """What an adapter's layout holds, as files: the unit of audio is `key` (a recording, a speaker's file,
    a SEMAINE session). `labels[dim][key]` are the files the gold standard is made of (one, or one per
    rater), `raters[dim][key]` a separate individual-ratings file where the corpus has one."""

    layout: str
    audio: dict[str, Path] = field(default_factory=dict)
    speakers: dict[str, str] = field(default_factory=dict)
    labels: dict[str, dict[str, list[Path]]] = field(default_factory=dict)
    raters: dict[str, dict[str, Path]] = field(default_factory=dict)
    read_labels: Reader | None = None
    read_raters: Reader | None = None
    grid: str = "warning"  # a label step other than 40 ms: error (the release is at 40 ms), warning, or none
    coverage: bool = True  # label files span their recording (not SEMAINE: turns are cut from the traces)
    regions: bool = False  # recordings may be regions of an audio file: their durations are the manifest's
    first_line: int = 2  # file line of a trace's first row (after a header line)
    value_range: tuple[float, float] | None = None
    rows_must_match: bool = False  # individual ratings must have as many rows as the gold standard
    unlabelled_ok: Callable[[str], bool] = lambda key: False  # audio whose labels the release withholds
    notes: list[str] = field(default_factory=list)


def _ratings_reader(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    from emotrace.corpora.recola import read_ratings_csv

    times, ratings, names = read_ratings_csv(path)
    return times, {name: ratings[:, k] for k, name in enumerate(names)}


def _generic_raters_reader(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    from emotrace.corpora.labels import numeric_column, read_table

    table = read_table(path)
    names = [c for c in table.columns if c != "time"]
    if "time" not in table.columns or not names:
        raise InputError(path, f"need a 'time' column and one column per rater; found {list(table.columns)}")
    return numeric_column(table, "time", path), {n: numeric_column(table, n, path) for n in names}


def _scan_recola_full(adapter, problems: list[Problem]) -> Scan:
    from emotrace.corpora.recola import FULL_LAYOUTS, scan_folder

    audio_dir, labels_dir = adapter.folders()
    layout = next((f"release layout {name!r} ({audio}/ + {labels}/)" for name, audio, labels in FULL_LAYOUTS
                   if ((adapter.root / audio).resolve(), (adapter.root / labels).resolve()) == (audio_dir, labels_dir)),
                  f"folders from corpus.options: audio {audio_dir}, ratings {labels_dir}")
    scan = Scan(layout, read_labels=_ratings_reader, grid="error", value_range=(-1.0, 1.0))
    scan.audio = _guard(problems, lambda: scan_folder(audio_dir, adapter.AUDIO, ".wav"), audio_dir) or {}
    scan.speakers = {k: k for k in scan.audio}
    files = _guard(problems, adapter.rating_files, labels_dir) or {}
    scan.labels = {dim: {k: [p] for k, p in by.items()} for dim, by in files.items()}
    return scan


def _scan_recola_avec2016(adapter, problems: list[Problem]) -> Scan:
    from emotrace.corpora.recola import read_gold_arff, read_speaker_map, scan_folder
    from emotrace.corpora.labels import resolve_path

    arff = adapter.options["gold"] == "arff"
    scan = Scan(f"AVEC 2016 release (recordings_audio/ + {adapter.gold_dir.name}/)", grid="error",
                value_range=(-1.0, 1.0), rows_must_match=arff,
                unlabelled_ok=lambda key: key.startswith("test_"))
    scan.audio = _guard(problems, lambda: scan_folder(adapter.root / "recordings_audio", adapter.INSTANCE, ".wav"),
                        adapter.root / "recordings_audio") or {}
    speaker_map = adapter.options["speaker_map"]
    mapped = (_guard(problems, lambda: read_speaker_map(resolve_path(adapter.root, speaker_map)), speaker_map) or {}
              if speaker_map else {})
    scan.speakers = {k: mapped.get(k, k) for k in scan.audio}
    gold = _guard(problems, adapter.gold_files, adapter.gold_dir) or {}
    scan.labels = {dim: {k: [p] for k, p in by.items()} for dim, by in gold.items()}
    if arff:
        def read(path: Path):
            times, values, _ = read_gold_arff(path)
            return times, {"gold": values}

        scan.read_labels = read
        individual = adapter.root / "ratings_individual"
        scan.raters = {dim: {k: individual / dim / f"{k}.csv" for k in by
                             if (individual / dim / f"{k}.csv").is_file()} for dim, by in gold.items()}
        scan.read_raters = _ratings_reader
    else:
        scan.read_labels = _ratings_reader
    return scan


def _scan_generic(adapter, problems: list[Problem]) -> Scan:
    from emotrace.corpora.labels import read_table, read_time_value_csv, resolve_path

    scan = Scan(f"generic ({adapter.options['metadata']} + {adapter.options['labels_dir']}/"
                f"{adapter.options['label_pattern']})", regions=True)
    metadata = resolve_path(adapter.root, adapter.options["metadata"])
    table = _guard(problems, lambda: read_table(metadata), metadata)
    if table is not None:
        missing = [c for c in ("recording", "speaker", "audio_path") if c not in table.columns]
        if missing:
            problems.append(Problem("error", "labels", str(metadata), f"missing column(s) {', '.join(missing)}"))
        else:
            for row in table.to_dict("records"):
                key = str(row["recording"]).strip()
                scan.audio[key] = resolve_path(adapter.root, str(row["audio_path"]).strip())
                scan.speakers[key] = str(row["speaker"]).strip()
    files = _guard(problems, adapter.label_files, adapter.options["labels_dir"]) or {}
    scan.labels = {dim: {k: [p] for k, p in by.items()} for dim, by in files.items()}

    def read(path: Path):
        times, values = read_time_value_csv(path)
        return times, {"gold": values}

    scan.read_labels = read
    raters_dir = resolve_path(adapter.root, adapter.options["raters_dir"])
    if raters_dir.is_dir():
        scan.raters = {dim: {k: raters_dir / dim / f"{k}.csv" for k in scan.audio} for dim in files}
        scan.read_raters = _generic_raters_reader
    return scan


def _scan_semaine(adapter, problems: list[Problem]) -> Scan:
    from emotrace.corpora.semaine import DIMENSION_LETTERS, TRACE, TRACE_RANGE, read_trace

    scan = Scan("SEMAINE Solid-SAL (Sessions/<n>/: user audio, word-level transcript, FeelTrace files)",
                grid="none", coverage=False, first_line=1, value_range=TRACE_RANGE)
    scan.notes.append("FeelTrace files have their own clock (~20 ms): each turn's labels are the traces "
                      "interpolated at its 40 ms frames (by design, not a problem)")
    sessions = _guard(problems, adapter.sessions, adapter.sessions_dir) or []
    letters = {v: k for k, v in DIMENSION_LETTERS.items()}
    for session in sessions:
        scan.audio[session.id] = session.user_audio
        scan.speakers[session.id] = session.user
        for letter, by_rater in session.traces.items():
            scan.labels.setdefault(letters[letter], {})[session.id] = [p for _, p in sorted(by_rater.items())]

    def read(path: Path):
        times, values = read_trace(path)
        return times, {f"R{int(TRACE.match(path.name).group(1))}": values}  # the adapter's rater names

    scan.read_labels = read
    return scan


SCANNERS = {"recola_full": _scan_recola_full, "recola_avec2016": _scan_recola_avec2016, "generic": _scan_generic,
            "synthetic": _scan_generic, "semaine": _scan_semaine}


def _guard(problems: list[Problem], fn: Callable, where) -> object:
    """fn(), or None with the InputError it raised recorded as an error naming its file."""
    try:
        return fn()
    except InputError as err:
        problems.append(Problem("error", _kind_of(err), err.where, err.problem))
        return None


def _unequal_columns(path: Path, sep: str) -> str | None:
    """When a ratings table's columns end at different rows (blank cells at the end of some), say which."""
    from emotrace.corpora.labels import read_table

    try:
        table = read_table(path, sep=sep)
    except InputError:
        return None
    lengths = {}
    for column in table.columns:
        filled = np.flatnonzero(table[column].astype(str).str.strip().to_numpy() != "")
        lengths[column] = int(filled[-1]) + 1 if filled.size else 0
    if len(set(lengths.values())) < 2:
        return None
    longest = max(lengths.values())
    short = ", ".join(f"{c} {n}" for c, n in lengths.items() if n < longest)
    return f"rater traces of unequal length: {short} rows, the others {longest}"


def _step(times: np.ndarray) -> float:
    return float(np.median(np.diff(times))) if len(times) > 1 else math.nan


def scan_corpus(config: Mapping) -> tuple[object, Scan, dict, list[Problem]]:
    """Read every file of the configured corpus with the adapter's readers: (adapter, scan, per-dimension
    label statistics, problems). Each problem names its file."""
    from emotrace.corpora import get_adapter

    corpus = config["corpus"]
    dims = list(corpus["dimensions"])
    problems: list[Problem] = []
    adapter = get_adapter(corpus["adapter"], str(Path(corpus["root"]).expanduser().resolve()),
                          corpus.get("options") or {})
    scanner = SCANNERS.get(corpus["adapter"])
    if scanner is None:
        raise InputError("corpus.adapter", f"emotrace check knows no file layout of adapter {corpus['adapter']!r}")
    try:
        scan = scanner(adapter, problems)
        listed = not problems  # a folder that could not be listed: audio and labels are not paired up
    except InputError as err:  # no known layout under the root
        problems.append(Problem("error", "layout", err.where, err.problem))
        return adapter, Scan("none found"), {"durations": {}, "sample_rates": {}, "labels": {}}, problems
    tolerance = float(adapter.options.get("tolerance", 1.0))
    max_gap = float(adapter.options.get("max_gap", 1.0))

    durations: dict[str, float] = {}
    rates: dict[str, int] = {}
    headers: dict[Path, tuple[int, float] | None] = {}  # one file may hold several recordings (generic regions)
    for key, path in sorted(scan.audio.items()):
        if path not in headers:
            try:
                headers[path] = audio_header(path)
            except InputError as err:
                headers[path] = None
                problems.append(Problem("error", "audio", str(path), f"unreadable or truncated audio: {err.problem}"))
        if headers[path] is not None:
            rates[key], durations[key] = headers[path]
    if scan.regions and len(durations) == len(scan.audio):
        manifest = _guard(problems, adapter.manifest, adapter.root)
        if manifest is not None:
            durations.update(manifest.set_index("recording")["duration"].to_dict())

    for dim in dims:
        if dim not in scan.labels and scan.audio:
            problems.append(Problem("error", "labels", adapter.root.as_posix(),
                                    f"no {dim} labels in this corpus; it has {sorted(scan.labels) or 'none'}"))
    stats = {dim: {"files": 0, "frames": 0, "audio_frames": 0, "gaps": 0, "uncovered_s": 0.0, "raters": set(),
                   "steps": []} for dim in dims}
    unlabelled = {key: [d for d in dims if d in scan.labels and key not in scan.labels[d]] for key in scan.audio}
    for key, missing in sorted(unlabelled.items()):
        if missing and listed and not scan.unlabelled_ok(key):
            problems.append(Problem("error", "audio without labels", str(scan.audio[key]),
                                    f"no {' or '.join(missing)} label file for {key}"))
    for dim in dims:
        by_key = scan.labels.get(dim, {})
        for key in sorted(set(by_key) - set(scan.audio)) if listed else []:
            for path in by_key[key]:
                problems.append(Problem("error", "labels without audio", str(path), f"no audio file for {key}"))
        for key in sorted(set(by_key) & set(scan.audio)):
            _check_key(scan, dim, key, by_key[key], durations.get(key), stats[dim], problems, tolerance, max_gap)
    for dim in dims:
        stats[dim]["raters"] = sorted(stats[dim]["raters"])
        steps = stats[dim].pop("steps")
        stats[dim]["label_step_s"] = round(float(np.median(steps)), 4) if steps else None
    return adapter, scan, {"durations": durations, "sample_rates": rates, "labels": stats}, problems


def _check_key(scan: Scan, dim: str, key: str, paths: list[Path], duration: float | None, stat: dict,
               problems: list[Problem], tolerance: float, max_gap: float) -> None:
    """Read one recording's label files for one dimension (and its separate rater file) and check them."""
    traces: dict[str, tuple[Path, np.ndarray, np.ndarray]] = {}
    for path in paths:
        try:
            times, columns = scan.read_labels(path)
        except InputError as err:
            unequal = _unequal_columns(path, ";") if scan.read_labels is _ratings_reader and _kind_of(err) == "nan" \
                else None
            problems.append(Problem("error", "unequal raters" if unequal else _kind_of(err), err.where,
                                    unequal or err.problem))
            continue
        stat["files"] += 1
        step = _step(times)
        if math.isfinite(step):
            stat["steps"].append(step)
            if abs(step - GRID_STEP) > STEP_SLACK and scan.grid != "none":
                why = ("the release's ratings are at 40 ms: this file is not the release's (the pipeline would "
                       "interpolate it)" if scan.grid == "error" else "interpolated to the 40 ms grid by the adapter")
                problems.append(Problem(scan.grid, "label rate", str(path),
                                        f"labels every {step:.3f} s ({1 / step:.3g} Hz), off the 40 ms grid; {why}"))
            stat["gaps"] += int(np.sum(np.diff(times) > max(2.5 * step, GRID_STEP * 2.5)))
        for name, values in columns.items():
            try:
                check_trace(times, values, path, first_line=scan.first_line, max_gap=max_gap,
                            value_range=None if name == "gold" else scan.value_range)
            except InputError as err:
                problems.append(Problem("error", _kind_of(err), err.where, f"{name}: {err.problem}"))
                continue
            traces[name] = (path, times, values)
            if name != "gold":
                stat["raters"].add(name.strip())
        if duration is not None and scan.coverage:
            try:
                check_coverage(times, 0.0, duration, path, tolerance)
            except InputError as err:
                problems.append(Problem("error", "coverage", err.where, err.problem))
    if duration is not None:
        n = frame_count(duration, GRID_STEP)
        stat["audio_frames"] += n
        if traces:
            first = max(t[1][0] for t in traces.values())
            last = min(t[1][-1] for t in traces.values())
            covered = max(0.0, min(last, duration) - max(first, 0.0))
            stat["frames"] += min(n, frame_count(covered, GRID_STEP))
            stat["uncovered_s"] += max(0.0, duration - covered)
    if len(paths) > 1 and traces:  # one file per rater (SEMAINE): traces of one session should end together
        ends = {name: (p, t[-1]) for name, (p, t, _) in traces.items()}
        latest = max(e for _, e in ends.values())
        for name, (p, end) in ends.items():
            if latest - end > tolerance:
                problems.append(Problem("warning", "unequal raters", str(p),
                                        f"{name}'s trace ends at {end:.2f} s, {latest - end:.2f} s before the "
                                        "longest of the session (turns after it are dropped)"))
    rater_path = scan.raters.get(dim, {}).get(key)
    if rater_path is not None and scan.read_raters is not None:
        try:
            times, columns = scan.read_raters(rater_path)
        except InputError as err:
            unequal = _unequal_columns(rater_path, ";" if scan.read_raters is _ratings_reader else ",") \
                if _kind_of(err) == "nan" else None
            problems.append(Problem("error", "unequal raters" if unequal else _kind_of(err), err.where,
                                    unequal or err.problem))
            return
        stat["raters"].update(n.strip() for n in columns)
        gold = next(iter(traces.values()), None)
        if gold is not None and len(times) != len(gold[1]):
            severity = "error" if scan.rows_must_match else "warning"
            problems.append(Problem(severity, "unequal raters", str(rater_path),
                                    f"{len(times)} rows of individual ratings but {len(gold[1])} in {gold[0]}"))
        for name, values in columns.items():
            try:
                check_trace(times, values, rater_path, max_gap=max_gap, value_range=scan.value_range)
            except InputError as err:
                problems.append(Problem("error", _kind_of(err), err.where, f"{name}: {err.problem}"))


# ---------------------------------------------------------------------------------------------- ingestion, split


def ingest_and_split(config: Mapping, adapter, problems: list[Problem]) -> tuple[pd.DataFrame | None, dict | None]:
    """The workflow's own ingestion (`emotrace.ingest.ingest`) and split (`emotrace.splits.make_split`) on the
    corpus, their InputError recorded as an error: (manifest, split summary), None where they failed."""
    from emotrace.folds import draw_plan, make_draw_split
    from emotrace.ingest import ingest
    from emotrace.splits import PARTITIONS, make_split

    corpus, split = config["corpus"], config["split"]
    try:
        manifest, _ = ingest(adapter, list(corpus["dimensions"]), config["labels"]["step"],
                             config["labels"]["max_length_mismatch"])
    except InputError as err:
        problems.append(Problem("error", "ingest", err.where, err.problem))
        try:  # the recordings (without the labels' checks) still tell the split
            manifest = adapter.manifest()
        except InputError:
            return None, None
    presets = {}
    out: dict = {"method": split["method"], "preset": split.get("preset"), "missing": {}, "empty": [],
                 "left_out": []}
    try:
        presets = adapter.preset_splits()
        if split["method"] == "preset" and split.get("preset") in presets:
            known = set(manifest["group"].astype(str))
            lists = presets[split["preset"]]
            out["missing"] = {p: [g for g in lists.get(p, []) if g not in known] for p in PARTITIONS}
            out["missing"] = {p: g for p, g in out["missing"].items() if g}
            listed = {g for p in PARTITIONS for g in lists.get(p, [])}
            out["left_out"] = sorted(known - listed)
        draws = draw_plan(split)
        if draws:  # folds or redraws: the first one stands for all in the summary (they are the same size)
            rows = make_draw_split(manifest, split, draws.names[0], presets)
        else:
            rows = make_split(manifest, split["method"], proportions=split.get("proportions"),
                              seed=split.get("seed", 1), lists=split.get("lists"), presets=presets,
                              preset=split.get("preset"))
    except InputError as err:
        problems.append(Problem("error", "split", err.where, err.problem))
        rows = None
    if rows is not None:
        out["partitions"] = {p: {"speakers": sorted(rows.loc[rows["partition"] == p, "speaker"].unique().tolist()),
                                 "groups": int(rows.loc[rows["partition"] == p, "group"].nunique()),
                                 "recordings": int((rows["partition"] == p).sum())} for p in PARTITIONS}
        out["empty"] = [p for p in PARTITIONS if out["partitions"][p]["recordings"] == 0]
        for part in out["empty"]:
            problems.append(Problem("error", "split", "split", f"partition {part} would be empty"))
        durations = manifest.set_index("recording")["duration"]
        out["seconds"] = {p: float(durations.reindex(rows.loc[rows["partition"] == p, "recording"]).sum())
                          for p in PARTITIONS}
    if out["missing"]:
        n = sum(map(len, out["missing"].values()))
        problems.append(Problem("warning", "split", f"split.preset[{split['preset']}]",
                                f"{n} of the preset's speakers are not in the corpus and are left out: "
                                + "; ".join(f"{p} {', '.join(g)}" for p, g in out["missing"].items())))
    return manifest, out


# ---------------------------------------------------------------------------------------------- plan

# Measured on the project's build machine (2 CPU cores, no GPU), docs/scale.md "Measured table"
# (bench/scale.py, 2026-12-03): per stage, wall seconds summed over its jobs (training: one epoch of one
# job, alone on both cores) and the largest peak RSS of one job (MiB), at 6, 12 and 24 minutes of audio.
MEASURED_MINUTES = (6.0, 12.0, 24.0)
MEASURED = {
    "synthesize_recording": {"wall_s": (29.2, 60.0, 102.0), "peak_mb": (736.0, 798.0, 857.0)},
    "preprocess": {"wall_s": (18.2, 40.8, 84.0), "peak_mb": (633.0, 744.0, 647.0)},
    "segment": {"wall_s": (3.7, 8.8, 17.5), "peak_mb": (128.0, 131.0, 132.0)},
    "extract_features/egemaps": {"wall_s": (18.7, 45.1, 90.0), "peak_mb": (211.0, 212.0, 214.0)},
    "extract_features/compare": {"wall_s": (16.3, 38.8, 78.0), "peak_mb": (228.0, 238.0, 239.0)},
    "extract_features/compare6373": {"wall_s": (27.0, 66.0, 132.0), "peak_mb": (275.0, 331.0, 331.0)},
    "feature_stats": {"wall_s": (12.6, 14.4, 16.3), "peak_mb": (790.0, 798.0, 770.0)},
    "train_network/e2e": {"wall_s": (66.0, 138.0, 210.0), "peak_mb": (4229.1, 4464.6, 4812.8)},
    "train_network/drnn_egemaps": {"wall_s": (29.6, 47.4, 66.0), "peak_mb": (884.0, 896.0, 890.0)},
    "train_network/drnn_compare": {"wall_s": (33.3, 58.4, 78.0), "peak_mb": (925.0, 933.0, 932.0)},
    "train_network/blstm6373": {"wall_s": (14.8, 29.4, 48.2), "peak_mb": (4055.0, 4126.7, 5089.3)},
    "train_network/wave": {"wall_s": (13.7, 29.0, 44.7), "peak_mb": (3727.4, 4065.3, 4341.8)},
    "train_network/spec": {"wall_s": (12.6, 26.4, 32.2), "peak_mb": (3665.9, 3665.9, 4014.1)},
    "train_network/wavespec": {"wall_s": (22.0, 51.7, 66.0), "peak_mb": (4792.3, 5713.9, 6277.1)},
    "figure_traces": {"wall_s": (3.8, 3.5, 3.4), "peak_mb": (182.0, 198.0, 219.0)},
    "figure_cells": {"wall_s": (8.0, 11.4, 10.3), "peak_mb": (1105.9, 1095.7, 1218.6)},
    "figure_lime": {"wall_s": (22.3, 23.7, 22.3), "peak_mb": (1935.4, 1945.6, 1945.6)},
}
MEASURED_LRS = {"train_network/drnn_egemaps": 3, "train_network/drnn_compare": 3}  # configs/scale_recola.yaml
MEASURED_NETWORKS = {"e2e", "blstm6373", "wave", "spec", "wavespec"}
SSL_REAL_TIME = 5.8  # WavLM Base+ extraction speed on 2 cores (README, bench/ssl_features.py)
PREDICTION_ROW_BYTES = 50  # a predictions.csv row (recording,partition,dimension,frame,time,prediction,gold)
SSL_DIM = 768  # hidden size of the base-size SSL models (WavLM Base+, wav2vec 2.0 / HuBERT Base)


def _measured_stage(settings: Mapping) -> str | None:
    """The measured stage a model's training is timed by: its network (drnn: with its feature set)."""
    if settings["network"] == "drnn" and settings.get("features") in ("egemaps", "compare"):
        return f"train_network/drnn_{settings['features']}"
    return f"train_network/{settings['network']}" if settings["network"] in MEASURED_NETWORKS else None


def _at(stage: str, metric: str, minutes: float) -> tuple[float, str]:
    """The measured figure of a stage at `minutes` of audio (runcost.fit_growth over the three sizes) and
    whether it is within the measured sizes or extrapolated beyond them."""
    from emotrace.runcost import fit_growth

    value = float(fit_growth(MEASURED_MINUTES, MEASURED[stage][metric])(minutes))
    low, top = MEASURED_MINUTES[0], MEASURED_MINUTES[-1]
    if minutes > top * 1.05:
        return value, f"extrapolated from 6-24 min of audio to {minutes:.0f} min (x{minutes / top:.1f})"
    if minutes < low * 0.95:
        return value, f"extrapolated down from 6-24 min of audio to {minutes:.1f} min"
    return value, "measured (6-24 min of audio)"


def _lrs(settings: Mapping) -> int:
    return len(settings["lr"]) if isinstance(settings.get("lr"), list) else 1


def corpus_shape(config: Mapping, manifest: pd.DataFrame | None, split: Mapping | None) -> dict | None:
    """Recordings, seconds per recording and recordings per partition the plan is made for: the corpus's
    (real corpora) or the config's (`synthetic`: n_speakers recordings of `duration` s); None if unknown."""
    from emotrace.splits import _quota

    if manifest is not None and split and split.get("partitions"):
        parts = {p: v["recordings"] for p, v in split["partitions"].items()}
        n = sum(parts.values())
        seconds = sum(split["seconds"].values())
        return {"recordings": n, "seconds": seconds, "mean_duration": seconds / max(n, 1), "partitions": parts,
                "source": "the corpus on disk"}
    if config["corpus"]["adapter"] == "synthetic":
        from emotrace.synth.speakers import speakers

        synth = config["synthetic"]
        n = len(speakers(int(synth["n_speakers"]), int(synth["seed"])))
        proportions = config["split"].get("proportions") or {"train": 1, "dev": 1, "test": 1}
        return {"recordings": n, "seconds": n * float(synth["duration"]), "mean_duration": float(synth["duration"]),
                "partitions": _quota(n, proportions), "source": "the config (synthetic: generated by the run)"}
    return None


def plan(config: Mapping, shape: Mapping) -> dict:
    """Jobs per rule, disk, the largest memory request and the time per stage of the config on a corpus of
    `shape` (corpus_shape), each figure with its basis: measured, extrapolated, or formula."""
    from emotrace import gpucost, resources, systems
    from emotrace.folds import draw_plan
    from emotrace.identity import extra_systems

    n, minutes = shape["recordings"], shape["seconds"] / 60
    draws = draw_plan(config["split"])
    k = len(draws.names) if draws else 1  # folds or redraws: the split on runs once per draw
    parts = shape["partitions"]
    sized = copy.deepcopy(dict(config))
    sized["synthetic"] = {**sized.get("synthetic", {}), "n_speakers": n, "duration": shape["mean_duration"]}
    sized["split"] = {**sized["split"], "proportions": {p: max(parts[p], 0) for p in ("train", "dev", "test")}}
    sizes = resources.expected_sizes(sized)
    requests = resources.plan(sized)
    grid = systems.grid(config)
    settings = {m: systems.model_settings(config, m) for m in config["models"]}
    svr = [s for s in grid if settings[s.model]["network"] == "svr"]
    net = [s for s in grid if settings[s.model]["network"] != "svr"]
    fsets = systems.feature_sets(config)
    networks = {v["network"] for v in settings.values()}
    synthetic = config["corpus"]["adapter"] == "synthetic"
    figures = config["figures"]["enabled"]
    jobs = {}
    if synthetic:
        jobs.update({"synthesize_speakers": 1, "synthesize_recording": n, "synthesize_corpus": 1})
    jobs.update({"ingest": 1, "split": k, "preprocess": n, "segment": n})
    if fsets:
        jobs.update({"extract_features": n * len(fsets), "feature_stats": k * len(fsets)})
    if systems.has_ssl(config):
        jobs["extract_ssl"] = n
    jobs.update({"train_network": k * len(net), "train_svr": k * len(svr), "postprocess": k * len(grid),
                 "evaluate": k * len(grid), "agreement": k, "tables": k, "across_draws": int(k > 1)})
    if extra_systems(config["models"]):
        jobs["beyond_table"] = 1
    if figures:
        jobs.update({"figure_traces": 1, "figure_bars": 1, "figure_curves": len(net),
                     "figure_cells": int("e2e" in networks), "figure_lime": int("spec" in networks), "figures": 1})
    jobs["run_cost"] = 1
    jobs = {k: v for k, v in jobs.items() if v}

    frames = shape["seconds"] / GRID_STEP
    eval_frames = frames * (parts["dev"] + parts["test"]) / max(n, 1)
    disk = {"preprocess (16 kHz float32)": shape["seconds"] * 16000 * 4 / 2**20,
            "segment (both tilings)": sizes["segments_on_disk"]}
    for fs in fsets:
        disk[f"features/{fs}"] = sizes["features"][fs]
    if systems.has_ssl(config):
        layers = max(st["kwargs"]["n_layers"] for st in settings.values() if st["network"] in systems.SSL_NETWORKS)
        disk["features/ssl (float16, base-size model)"] = frames * layers * SSL_DIM * 2 / 2**20
    if synthetic:
        disk["generated corpus (44.1 kHz 16-bit)"] = shape["seconds"] * 44100 * 2 / 2**20
    disk["predictions (train + postprocess, dev and test)"] = k * sum(
        2 * eval_frames * len(systems.target_dimensions(config, s.target)) * PREDICTION_ROW_BYTES / 2**20 for s in grid)
    disk_total = sum(disk.values())

    stages: list[dict] = []

    def add(stage: str, jobs_n: int, seconds: float, basis: str, gpu_seconds: float | None = 0.0) -> None:
        """A stage: CPU seconds on 2 cores and, for GPU jobs, the estimated seconds on one H100 (None: no estimate)."""
        stages.append({"stage": stage, "jobs": jobs_n, "cpu_h": seconds / 3600,
                       "gpu_h": None if gpu_seconds is None else gpu_seconds / 3600, "basis": basis})

    if synthetic:
        add("synthesize_recording", n, *_at("synthesize_recording", "wall_s", minutes))
    for stage in ("preprocess", "segment"):
        add(stage, n, *_at(stage, "wall_s", minutes))
    for fs in fsets:
        add(f"extract_features/{fs}", n, *_at(f"extract_features/{fs}", "wall_s", minutes))
    if fsets:
        value, basis = _at("feature_stats", "wall_s", minutes)  # measured: 3 jobs (egemaps, compare, compare6373)
        add("feature_stats", k * len(fsets), k * value / 3 * len(fsets), basis)
    by_model: dict[str, list] = {}
    for s in grid:
        by_model.setdefault(s.model, []).append(s)
    n_train_segments = sizes["segments"] / resources.SEGMENT_FILE_MB
    gpu_rows = []  # the training jobs as gpucost.grid_seconds schedules them on one GPU
    for model, runs in by_model.items():
        st = settings[model]
        epochs = int(st["max_epochs"]) if st["network"] != "svr" else 1
        if st["network"] == "svr":
            minutes_fit = 2 + len(st["c_grid"]) * resources.SVR_MINUTES_PER_FIT
            add(f"train_svr/{model}", k * len(runs), k * len(runs) * minutes_fit * 60,
                f"formula: {len(st['c_grid'])} C x {resources.SVR_MINUTES_PER_FIT} min (emotrace.resources: "
                "ComParE at the 20 000-frame cap, extrapolated from 12 000 frames)")
            continue
        stage = _measured_stage(st)
        if stage is not None:
            per_epoch, basis = _at(stage, "wall_s", minutes)
            per_epoch *= _lrs(st) / MEASURED_LRS.get(stage, 1)
        elif st["network"] == "e2e2017":
            per_epoch, basis = _at("train_network/e2e", "wall_s", minutes)
            ratio = resources.STEP_SECONDS["e2e2017"] / resources.STEP_SECONDS["e2e"]
            per_epoch *= ratio * _lrs(st)
            basis += f"; e2e's figure x{ratio:.1f} (step time, bench/train_step.py)"
        else:
            per_epoch = _lrs(st) * n_train_segments * resources.STEP_SECONDS.get(st["network"], 0.5)
            basis = "formula: segments x seconds per step (emotrace.resources), not measured"
        add(f"train_network/{model}", k * len(runs), k * per_epoch * epochs * len(runs),
            f"{basis}; {epochs} epochs at most (early stopping may end sooner); GPU: estimate, "
            f"emotrace.gpucost (one H100, unmeasured)", k * len(runs) * gpu_training_seconds(st, n_train_segments))
        gpu_rows.append(gpucost.job_row(st, k * len(runs), gpu_training_seconds(st, n_train_segments, alone=True),
                                        precision=str(st.get("precision", "fp32"))))
    if systems.has_ssl(config):
        add("extract_ssl", n, shape["seconds"] / SSL_REAL_TIME,
            f"measured for WavLM Base+ ({SSL_REAL_TIME}x real time on 2 cores, README 'Self-supervised features'); "
            "other bundles differ", None)
    if figures:
        for stage, present in (("figure_traces", True), ("figure_cells", "e2e" in networks),
                               ("figure_lime", "spec" in networks)):
            if present:
                add(stage, 1, *_at(stage, "wall_s", minutes))
    largest = max(requests.items(), key=lambda kv: kv[1]["mem_mb"])
    peaks = []
    for model, st in settings.items():
        stage = _measured_stage(st)
        if stage is not None:
            value, basis = _at(stage, "peak_mb", minutes)
            peaks.append({"job": f"train_network/{model}", "peak_mb": value, "basis": basis})
    measured_peak = max(peaks, key=lambda p: p["peak_mb"]) if peaks else None
    known = [s["cpu_h"] for s in stages if s["cpu_h"] is not None]
    return {
        "corpus": {k: shape[k] for k in ("recordings", "seconds", "partitions", "source")},
        "jobs": jobs,
        "jobs_total": sum(jobs.values()),
        "largest_request": {"job": largest[0], "mem_mb": largest[1]["mem_mb"], "runtime_min": largest[1]["runtime"],
                            "basis": "formula (emotrace.resources.plan: request with its 30 % margin)"},
        "largest_measured_peak": measured_peak,
        "disk_mb": disk,
        "disk_total_mb": disk_total,
        "stages": stages,
        "cpu_h_total": sum(known),
        "gpu_h_sum": sum(s["gpu_h"] or 0.0 for s in stages),
        # wall hours of the training jobs on one H100 and 8 cores, small trainings sharing the GPU
        # (time-sliced, the default; under MPS: emotrace.devices), from gpucost's schedule
        "gpu_h_total": gpucost.grid_seconds(gpu_rows, "time") / 3600 if gpu_rows else 0.0,
        "gpu_h_total_mps": gpucost.grid_seconds(gpu_rows, "mps") / 3600 if gpu_rows else 0.0,
        "gpu_note": ("GPU hours: estimates for one H100 from the cost model emotrace.gpucost, not measured yet "
                     "(docs/scale.md, 'GPU time of the paper grid (estimates)'); training jobs with their "
                     "learning rates side by side (the DRNN's fused into one network), at most max_epochs epochs; "
                     "the total schedules the jobs as the pipeline runs them, small trainings sharing the GPU (emotrace.devices: time-sliced by default, "
                     "side by side under NVIDIA MPS); n/a where the model has no estimate (extract_ssl)"),
        "cpu_note": ("CPU hours: wall-clock hours on 2 CPU cores (the measuring machine, docs/scale.md), "
                     "jobs one at a time; training at most max_epochs epochs"),
    }


def gpu_training_seconds(settings: Mapping, n_train_segments: float, alone: bool = False) -> float:
    """Estimated seconds of one training job on one H100 (`emotrace.gpucost`): its learning rates side by side
    (training.pack) or fused into one network (`gpucost.job_shape`: then `alone` is the fused training too), at
    most max_epochs epochs; a network without GPU constants counts as the costliest."""
    from emotrace import gpucost

    network = settings["network"]
    if network not in gpucost.H100:
        network = max(gpucost.H100, key=lambda name: gpucost.H100[name].per_segment)
    precision = str(settings.get("precision", "fp32"))
    _, members = gpucost.job_shape(settings)
    single = gpucost.training_seconds(network, int(settings["batch_size"]), round(n_train_segments), 0,
                                      int(settings["max_epochs"]), precision=precision, members=members)
    return single if alone else gpucost.packed_seconds(single, gpucost.serial_trainings(settings))


def follow_command(config: Mapping) -> dict:
    """Where a run's training writes its per-epoch lines (rules/train.smk `log:`; emotrace.training logs
    `epoch N train_loss ... dev_ccc ... seconds ...` after each epoch) and the command to follow them."""
    from emotrace.folds import draw_plan

    corpus = config["corpus"]["name"]
    draws = draw_plan(config.get("split") or {})
    part, glob, res = ((f"{draws.kind}/<k>/", f"{draws.kind}/*/", f"{draws.kind}/<k>/") if draws else ("", "", ""))
    return {"logs": f"logs/{corpus}/train_network/{part}<model>/<objective>/<target>/seed<N>.log",
            "command": f"tail -n 3 -f logs/{corpus}/train_network/{glob}*/*/*/*.log",
            "history": f"results/{corpus}/{res}train/<model>/<objective>/<target>/seed<N>/history.csv "
                       "(after each epoch)"}


# ---------------------------------------------------------------------------------------------- the command


def check(configfiles: Sequence[str] | None = None, overrides: Sequence[str] | None = None) -> tuple[int, dict]:
    """Everything `emotrace check` reports, as one dict, and the exit status."""
    logger = logging.getLogger("emotrace")
    level = logger.level
    logger.setLevel(logging.ERROR)  # the adapters' log lines: the report says what matters
    try:
        return _check(configfiles, overrides)
    finally:
        logger.setLevel(level)


def _check(configfiles: Sequence[str] | None, overrides: Sequence[str] | None) -> tuple[int, dict]:
    try:
        config = load_config(configfiles, overrides)
    except ConfigError as err:
        return EXIT_CONFIG, {"status": "config error", "exit": EXIT_CONFIG, "error": str(err)}
    corpus = config["corpus"]
    report: dict = {"configfiles": [str(f) for f in (configfiles or [DEFAULT_CONFIGFILE])],
                    "corpus": {"name": corpus["name"], "adapter": corpus["adapter"],
                               "root": str(Path(corpus["root"]).expanduser().resolve()),
                               "dimensions": list(corpus["dimensions"])}}
    problems: list[Problem] = []
    manifest = split = None
    from emotrace.corpora import ADAPTERS

    root = Path(corpus["root"]).expanduser()
    if ADAPTERS[corpus["adapter"]].generated and not (root / "metadata.csv").is_file():
        report["corpus"]["generated"] = False
        report["corpus"]["note"] = (f"corpus not generated yet: the run writes it under {root} "
                                    "(the plan below is from the config)")
    else:
        try:
            adapter, scan, found, problems = scan_corpus(config)
        except InputError as err:
            return EXIT_CONFIG, {"status": "config error", "exit": EXIT_CONFIG, "error": str(err)}
        if not any(p.severity == "error" for p in problems):
            manifest, split = ingest_and_split(config, adapter, problems)
        report["corpus"].update(_corpus_summary(scan, found, manifest))
        report["split"] = split
    errors = [p for p in problems if p.severity == "error"]
    report["problems"] = [asdict(p) for p in problems]
    shape = corpus_shape(config, manifest, split)
    report["plan"] = plan(config, shape) if shape else None
    report["follow_training"] = follow_command(config)
    status = EXIT_CANNOT_RUN if errors or shape is None else EXIT_OK
    report["status"] = "can run" if status == EXIT_OK else "cannot run"
    report["exit"] = status
    if status != EXIT_OK:
        report["reasons"] = [p.line() for p in errors] or ["the corpus could not be read"]
    return status, report


def _corpus_summary(scan: Scan, found: Mapping, manifest: pd.DataFrame | None) -> dict:
    durations = found["durations"]
    values = np.array(list(durations.values())) if durations else np.array([])
    out = {
        "layout": scan.layout,
        "audio_files": len(set(scan.audio.values())),
        "speakers": sorted(set(scan.speakers.values())),
        "seconds": float(values.sum()),
        "duration_s": ({"min": float(values.min()), "median": float(np.median(values)), "max": float(values.max())}
                       if values.size else None),
        "sample_rates": {str(r): c for r, c in sorted(pd.Series(list(found["sample_rates"].values()))
                                                           .value_counts().items())},
        "dimensions": found["labels"],
        "notes": scan.notes,
    }
    if manifest is not None:
        out["recordings"] = int(len(manifest))
        out["speakers"] = sorted(manifest["speaker"].astype(str).unique())
    return out


def _hours(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f} h" if value >= 0.1 else f"{value * 60:.1f} min"


def render(report: Mapping) -> str:
    """The report as text for people."""
    if report["status"] == "config error":
        return f"config error: {report['error']}\n"
    lines = []
    c = report["corpus"]
    lines.append(f"corpus {c['name']} (adapter {c['adapter']}) at {c['root']}; "
                 f"config {' '.join(report['configfiles'])}")
    if c.get("note"):
        lines.append(f"  {c['note']}")
    if "layout" in c:
        lines.append(f"  layout: {c['layout']}")
        rec = f"{c['recordings']} recordings, " if "recordings" in c else ""
        lines.append(f"  {rec}{c['audio_files']} audio files, {len(c['speakers'])} speakers: {' '.join(c['speakers'])}")
        if c["duration_s"]:
            d = c["duration_s"]
            lines.append(f"  audio: {c['seconds'] / 3600:.2f} h; per recording {d['min']:.1f} / {d['median']:.1f} / "
                         f"{d['max']:.1f} s (min / median / max); sample rates (Hz: files) "
                         + ", ".join(f"{r}: {k}" for r, k in c["sample_rates"].items()))
        for dim, s in c["dimensions"].items():
            cover = s["frames"] / s["audio_frames"] if s["audio_frames"] else 0.0
            lines.append(f"  {dim}: {s['files']} label files, step {s['label_step_s']} s; {s['frames']} of "
                         f"{s['audio_frames']} frames of 40 ms covered ({cover:.1%}), {s['gaps']} gaps, "
                         f"{s['uncovered_s']:.1f} s unlabelled; raters: {' '.join(s['raters']) or 'none'}")
        for note in c.get("notes", []):
            lines.append(f"  note: {note}")
    split = report.get("split")
    if split:
        what = f"preset {split['preset']}" if split["method"] == "preset" else split["method"]
        lines.append(f"split ({what}):")
        for part, v in (split.get("partitions") or {}).items():
            lines.append(f"  {part}: {len(v['speakers'])} speakers, {v['recordings']} recordings: "
                         f"{' '.join(v['speakers'])}")
        for part, groups in split["missing"].items():
            lines.append(f"  preset's {part} speakers missing: {' '.join(groups)}")
        if split["left_out"]:
            lines.append(f"  in no partition of the preset (left out): {' '.join(split['left_out'])}")
        if split["empty"]:
            lines.append(f"  empty partitions: {', '.join(split['empty'])}")
    problems = report["problems"]
    lines.append(f"problems: {sum(p['severity'] == 'error' for p in problems)} errors, "
                 f"{sum(p['severity'] == 'warning' for p in problems)} warnings")
    by_kind: dict[tuple, int] = {}
    for p in problems:
        key = (p["severity"], p["kind"])
        by_kind[key] = by_kind.get(key, 0) + 1
        if p["severity"] == "error" or by_kind[key] <= 5:
            lines.append(f"  {p['severity']}: [{p['kind']}] {p['file']}: {p['message']}")
        elif by_kind[key] == 6:
            rest = sum(q["severity"] == "warning" and q["kind"] == p["kind"] for q in problems) - 5
            lines.append(f"  ... {rest} more warnings of this kind (--json lists them all)")
    pl = report.get("plan")
    if pl:
        cs = pl["corpus"]
        lines.append(f"plan for {cs['recordings']} recordings, {cs['seconds'] / 3600:.2f} h of audio "
                     f"({cs['source']}; train/dev/test recordings "
                     f"{'/'.join(str(cs['partitions'][p]) for p in ('train', 'dev', 'test'))}):")
        lines.append(f"  jobs: {pl['jobs_total']} = " + ", ".join(f"{k} {v}" for k, v in pl["jobs"].items()))
        r = pl["largest_request"]
        lines.append(f"  largest memory request: {r['job']} {r['mem_mb'] / 1024:.1f} GiB ({r['basis']})")
        m = pl["largest_measured_peak"]
        if m:
            lines.append(f"  largest peak RSS from the measurements: {m['job']} {m['peak_mb'] / 1024:.1f} GiB "
                         f"({m['basis']})")
        lines.append(f"  disk under results/: {pl['disk_total_mb'] / 1024:.1f} GiB ("
                     + ", ".join(f"{k} {v / 1024:.2f} GiB" for k, v in pl["disk_mb"].items()) + ")")
        lines.append("  time per stage (CPU h: wall on 2 cores; GPU h):")
        for s in pl["stages"]:
            gpu = "n/a" if s["gpu_h"] is None else (_hours(s["gpu_h"]) if s["gpu_h"] else "-")
            lines.append(f"    {s['stage']:32s} {s['jobs']:4d} jobs  CPU {_hours(s['cpu_h']):>10s}  GPU {gpu:13s}"
                         f"  {s['basis']}")
        lines.append(f"  total CPU: {_hours(pl['cpu_h_total'])}; total GPU (estimate, one H100, 8 cores, small "
                     f"trainings sharing it): {_hours(pl['gpu_h_total'])} time-sliced, "
                     f"{_hours(pl['gpu_h_total_mps'])} under MPS (stages summed: {_hours(pl['gpu_h_sum'])})")
        lines.append(f"  {pl['cpu_note']}")
        lines.append(f"  {pl['gpu_note']}")
    f = report["follow_training"]
    lines.append(f"follow training: {f['command']}")
    lines.append(f"  (one log per training job: {f['logs']}; per-epoch lines 'epoch N train_loss ... dev_ccc ...')")
    if report["status"] == "can run":
        lines.append("result: the corpus can run (exit 0)")
    else:
        lines.append("result: the corpus cannot run (exit 1):")
        lines += [f"  {reason}" for reason in report["reasons"]]
    return "\n".join(lines) + "\n"


def add_arguments(sub) -> None:
    """The `check` sub-command's parser, added to the `emotrace` command's sub-parsers."""
    p = sub.add_parser("check", help="check a corpus and config before a long run, and print the run's plan",
                       description="Load the config as the workflow does, read the corpus through its adapter, "
                                   "and print what was found, every problem and the run's plan. Nothing is run "
                                   "or written. Exit 0: the corpus can run; 1: it cannot; 2: config error.")
    p.add_argument("--configfile", nargs="+", metavar="FILE",
                   help="config files merged in order, later ones override (default: config.yaml)")
    p.add_argument("--config", nargs="+", metavar="KEY=VALUE", default=[],
                   help="overrides on top of the config files, as snakemake --config takes them")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")


def check_command(args) -> int:
    """Run `emotrace check` and print its report; returns the exit status."""
    status, report = check(args.configfile, args.config)
    if args.json:
        print(json.dumps(report, indent=1, default=_json_default))
    else:
        print(render(report), end="")
    return status


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (set, tuple)):
        return sorted(value)
    return str(value)
