"""Every run of the grid scored together: bootstrap replicates on shared frames, intervals, `collapsed`.

A run is one trained system (model, objective, target, seed) with its raw and
post-processed predictions, post-processing settings and training history. Per
partition, all runs are put on the frames they all cover and one `Resampler` is
drawn for them (`emotrace.uncertainty`), so that every interval and every paired
comparison of the findings uses the same resampled frames.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from emotrace import collapse
from emotrace.errors import InputError
from emotrace.predictions import read_predictions
from emotrace.uncertainty import Resampler, common_frames, interval, on_frames, resampler_for

RUN_KEYS = ["model", "objective", "target", "seed"]
PARTITIONS = ("dev", "test")
INTERVAL_COLUMNS = [
    "ccc_low", "ccc_high", "ccc_per_recording_low", "ccc_per_recording_high", "ccc_seeds_low", "ccc_seeds_high",
    "dev_ccc_loo", "collapsed", "collapse_reason",
]


@dataclass
class Run:
    """One trained system's files, read."""

    model: str
    objective: str
    target: str
    seed: int
    raw: pd.DataFrame
    postprocessed: pd.DataFrame
    settings: dict
    history: pd.DataFrame | None

    @property
    def key(self) -> tuple:
        return (self.model, self.objective, self.target, self.seed)

    def predictions(self, postprocessed: bool) -> pd.DataFrame:
        return self.postprocessed if postprocessed else self.raw


def run_key(path: str | Path) -> tuple:
    """(model, objective, target, seed) from results/<corpus>/<stage>/<model>/<objective>/<target>/seed<N>/<file>."""
    parts = Path(path).parts
    if len(parts) < 6 or not re.fullmatch(r"seed\d+", parts[-2]):
        raise InputError(path, "not a run file path like results/<corpus>/<stage>/<model>/<objective>/<target>/seed<N>/<file>")
    return (parts[-5], parts[-4], parts[-3], int(parts[-2][len("seed"):]))


def _by_key(paths: Iterable[str | Path]) -> dict[tuple, Path]:
    return {run_key(p): Path(p) for p in paths}


def load_runs(raw: Iterable, postprocessed: Iterable, settings: Iterable, history: Iterable = ()) -> list[Run]:
    """Runs from their files: raw predictions (train stage), post-processed predictions and
    settings.json (postprocess stage), history.csv (networks only), matched by run key."""
    pp, st, hist = _by_key(postprocessed), _by_key(settings), _by_key(history)
    runs = []
    for key, path in sorted(_by_key(raw).items()):
        for name, table in (("post-processed predictions", pp), ("post-processing settings", st)):
            if key not in table:
                raise InputError(path, f"no {name} for this run")
        try:
            chosen = json.loads(st[key].read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise InputError(st[key], f"cannot read settings ({err})") from err
        history = None
        if key in hist:
            try:
                history = pd.read_csv(hist[key])
            except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
                raise InputError(hist[key], f"cannot read training history ({err})") from err
        runs.append(Run(*key, read_predictions(path), read_predictions(pp[key]), chosen, history))
    return runs


class Replicates:
    """Bootstrap replicates keyed (model, objective, target, seed, partition, dimension, postprocessed): pairs of
    (B,) arrays, CCC on the partition concatenated and mean per-recording CCC; what findings.compare reads."""

    cfg: dict
    replicates: dict[tuple, tuple[np.ndarray, np.ndarray]]
    extra_columns: tuple[str, ...] = ()  # columns claim_columns adds to every findings row

    def seed_mean(self, model: str, objective: str, target: str, partition: str, dimension: str,
                  postprocessed: bool) -> np.ndarray | None:
        """(B,) replicates of the mean CCC over the seeds of one system; None if it has none."""
        reps = [v[0] for k, v in self.replicates.items()
                if k[:3] == (model, objective, target) and k[4:] == (partition, dimension, postprocessed)]
        return np.mean(reps, axis=0) if reps else None

    def claim_columns(self, a, b, dimension: str, direction: int) -> dict:
        """More columns of the findings row comparing sides `a` and `b` (findings.Side); none here."""
        return {}


class Scores(Replicates):
    """Bootstrap replicates of every run, partition, dimension and post-processing state.

    `replicates[(model, objective, target, seed, partition, dimension, postprocessed)]` is
    a pair of (B,) arrays: CCC on the partition concatenated and mean per-recording CCC.
    """

    def __init__(self, runs: list[Run], cfg: dict, step: float = 0.04):
        self.runs, self.cfg = runs, cfg
        self.resamplers: dict[str, Resampler] = {}
        self.replicates: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self.gold: dict[tuple, np.ndarray] = {}
        self.frames: dict[str, pd.DataFrame] = {}
        for partition in PARTITIONS:
            tables = [r.predictions(pp)[lambda d: d["partition"] == partition] for r in runs for pp in (False, True)]
            tables = [t for t in tables if not t.empty]
            if not tables:
                continue
            frames = common_frames(tables)
            rs = resampler_for(frames, cfg, step, partition)
            self.resamplers[partition], self.frames[partition] = rs, frames
            for key, pred, gold in self.on_shared_frames(partition):
                self.gold.setdefault(key[-3:-1], gold)
                self.replicates[key] = rs.ccc(pred, gold)

    def on_shared_frames(self, partition: str) -> Iterator[tuple[tuple, np.ndarray, np.ndarray]]:
        """(model, objective, target, seed, partition, dimension, postprocessed), predictions and gold of every
        run, post-processing state and dimension on the partition's shared frames."""
        frames = self.frames[partition]
        for run in self.runs:
            for pp in (False, True):
                rows = run.predictions(pp)
                rows = rows[rows["partition"] == partition]
                for dimension, part in rows.groupby("dimension", sort=False):
                    yield (*run.key, partition, dimension, pp), on_frames(part, frames), on_frames(part, frames, "gold")

    def describe(self) -> str:
        """How each partition was resampled, for the table notes."""
        parts = [f"{partition}: {rs.describe(float(self.cfg['block_seconds']))}"
                 for partition, rs in self.resamplers.items()]
        return (f"[low, high]: {100 * float(self.cfg['level']):g} % percentile bootstrap interval, "
                f"{int(self.cfg['replicates'])} replicates, resampling {'; '.join(parts)}")


def collapsed(run: Run, dimension: str, cfg: dict) -> str:
    """Why `run` counts as collapsed on `dimension` ("" if it does not), from its raw test predictions
    (dev if it has no test rows) and its training history."""
    rows = run.raw[run.raw["dimension"] == dimension]
    test = rows[rows["partition"] == "test"]
    rows = test if not test.empty else rows
    return collapse.reason(rows["prediction"].to_numpy(), rows["gold"].to_numpy(), run.history, dimension, cfg,
                           where=f"history of {'/'.join(map(str, run.key))}")


def interval_columns(scores: Replicates, row) -> dict:
    """INTERVAL_COLUMNS of one metrics row (a namedtuple of tables.collect's columns): its intervals and that of
    its seed mean from `scores`, NaN where `scores` has no replicates of it (and for the columns after those)."""
    level = float(scores.cfg["level"])
    out = dict.fromkeys(INTERVAL_COLUMNS, np.nan)
    where = (row.partition, row.dimension, bool(row.postprocessed))
    reps = scores.replicates.get((row.model, row.objective, row.target, int(row.seed), *where))
    if reps is not None:
        out["ccc_low"], out["ccc_high"] = interval(reps[0], level)
        out["ccc_per_recording_low"], out["ccc_per_recording_high"] = interval(reps[1], level)
        out["ccc_seeds_low"], out["ccc_seeds_high"] = interval(scores.seed_mean(row.model, row.objective,
                                                                                row.target, *where), level)
    return out


def with_intervals(metrics: pd.DataFrame, scores: Scores, collapse_cfg: dict) -> pd.DataFrame:
    """`metrics` (tables.collect) with INTERVAL_COLUMNS: the run's intervals, the interval of the seed
    mean, the leave-one-dev-recording-out CCC (post-processed dev rows) and the collapsed flag."""
    runs = {r.key: r for r in scores.runs}
    reasons = {(r.key, d): collapsed(r, d, collapse_cfg) for r in scores.runs for d in pd.unique(r.raw["dimension"])}
    rows = []
    for row in metrics.itertuples(index=False):
        key = (row.model, row.objective, row.target, int(row.seed))
        extra = interval_columns(scores, row)
        run = runs.get(key)
        if run is not None and row.postprocessed and row.partition == "dev":
            loo = run.settings.get(row.dimension, {}).get("dev_ccc_loo")
            extra["dev_ccc_loo"] = np.nan if loo is None else float(loo)
        why = reasons.get((key, row.dimension), "")
        extra["collapsed"], extra["collapse_reason"] = bool(why), why
        rows.append(extra)
    return pd.concat([metrics.reset_index(drop=True), pd.DataFrame(rows, columns=INTERVAL_COLUMNS)], axis=1)


def scaling_note(runs: list[Run]) -> str:
    """Which form of the scaling step the runs' post-processing used."""
    forms = sorted({s.get("scaling") or "mean_preserving" for r in runs for s in r.settings.values()
                    if isinstance(s, dict) and s.get("enabled")})
    if not forms:
        return "post-processing disabled"
    names = {"mean_preserving": "scaled about the prediction's dev mean (mean kept)",
             "avec2018": "prediction multiplied by std(gold)/std(pred) (AVEC 2018)"}
    return "post-processing scaling step: " + ", ".join(names.get(f, f) for f in forms)
