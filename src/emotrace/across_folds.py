"""Tables and findings across speaker folds (`split.folds`) or training redraws (`split.redraws`).

Draw d of K (fold d, or train/dev redraw d) is a whole run of the grid under
results/<corpus>/<kind>/<d>/. The statistics:

- folds: every speaker is tested once, by the model of the fold that holds it out. The figure is
  the pooled out-of-fold CCC: all folds' test predictions concatenated and scored as one
  partition (the AV+EC protocol of a single split, on every speaker).
- redraws: the test partition is the published one in every draw, only train/dev change. The
  figure is the mean over draws of each draw's test CCC.
- seeds: the mean over seeds of a system's figure, as in every table (`emotrace.tables`).

Interval: a hierarchical bootstrap, over draws, then over test frames. Replicate b picks K
draws with replacement (the same picks for every system, so that differences are paired) and
takes, within each picked draw, that draw's own block (or recording) bootstrap replicate of its
test frames, shared by every system of the draw (`emotrace.runs.Scores`). Folds: the picked
folds' replicate sums n, Σp, Σg, Σp², Σg², Σpg (about one centre) are added and give the pooled
CCC; the j-th fold picked brings its replicate b + j (mod B), so a fold picked twice brings two
independent resamples of its frames. Redraws: the picked draws' CCCs on replicate b are
averaged; all draws share the test frames, so one resample of them serves every draw in a
replicate. The interval thus covers both the test sample and which folds (or training draws)
there happened to be. The findings' paired test reads the same replicates (`AcrossScores`); beside
its verdict stand the single split's (draw 1 alone, with its own bootstrap: the published split
for redraws, fold 1 for folds) and in how many draws A - B lies in the claim's direction.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from emotrace.errors import InputError
from emotrace.findings import FINDING_COLUMNS, Side, compare, display_table, findings, side_rows, write_findings
from emotrace.identity import MISSING, TRIGEORGIS, YANG, rows_of, system_name, target
from emotrace.metrics import METRICS_FILE_COLUMNS, metrics_file
from emotrace.runs import INTERVAL_COLUMNS, Replicates, Run, Scores, interval_columns, load_runs, with_intervals
from emotrace.tables import KEY_COLUMNS, collect, format_interval, format_number
from emotrace.uncertainty import ccc_from_sums

KINDS = {"folds": "fold", "redraws": "draw"}  # split.folds / split.redraws: the folder name and one draw's name
STAGES = ("train", "postprocess", "evaluate", "split", "tables")  # the folders a draw's files sit in
ROW_KEYS = ["model", "objective", "target", "seed", "partition", "dimension", "postprocessed"]
CONCLUSIVE = ("supported", "contradicted")
AVERAGED = ["ccc", "ccc_per_recording", "pearson", "rmse", "n_frames", "dev_ccc_loo"]  # mean over draws


def check_kind(kind: str) -> str:
    """`kind` itself if it is folds or redraws; InputError otherwise."""
    if kind not in KINDS:
        raise InputError("kind", f"{kind!r} is not one of {sorted(KINDS)}")
    return kind


def draw_label(kind: str, name: str) -> str:
    """'fold 2', 'draw 1'."""
    return f"{KINDS[kind]} {name}"


def draw_column(kind: str, name: str) -> str:
    """The pooled metrics' column of one draw's own CCC: 'ccc_fold_2'."""
    return f"ccc_{KINDS[kind]}_{name}"


def draw_of(path: str | Path, kind: str) -> str:
    """The draw a file belongs to: the folder after `kind` in results/<corpus>/<kind>/<draw>/<stage>/..."""
    parts = Path(path).parts
    for i in range(len(parts) - 3, -1, -1):
        if parts[i] == kind and parts[i + 2] in STAGES:
            return parts[i + 1]
    raise InputError(path, f"not a file under results/<corpus>/{kind}/<{KINDS[kind]}>/<{'|'.join(STAGES)}>/")


def by_draw(paths: Sequence, kind: str, names: Sequence[str]) -> dict[str, list[Path]]:
    """`paths` grouped by their draw, in the order of `names`; a file of another draw is an InputError."""
    out: dict[str, list[Path]] = {name: [] for name in names}
    for path in map(Path, paths):
        name = draw_of(path, kind)
        if name not in out:
            raise InputError(path, f"{draw_label(kind, name)} is not one of the {kind} {list(names)}")
        out[name].append(path)
    return out


def keep_test_rows(runs: list[Run]) -> None:
    """Drop the runs' other partitions once their draw is scored: only test rows serve across draws (pooled
    figures, replicates), and K draws' full predictions would take K times a single run's memory."""
    for run in runs:
        run.raw, run.postprocessed = (run.predictions(pp)[lambda d: d["partition"] == "test"] for pp in (False, True))


@dataclass
class Draw:
    """One draw's runs, their bootstrap replicates and their metrics (tables.collect + runs.with_intervals)."""

    name: str
    runs: list[Run]
    scores: Scores
    metrics: pd.DataFrame


def load_draws(kind: str, names: Sequence[str], metrics: Sequence, raw: Sequence, postprocessed: Sequence,
               settings: Sequence, history: Sequence, cfg: dict, collapse_cfg: dict,
               step: float = 0.04) -> list[Draw]:
    """Every draw's runs read and scored as a single run's tables are (`emotrace.runs`), in the order of `names`.

    The file lists mix all draws; each file's draw is read from its path. Every draw must hold the same
    runs, since a figure across draws needs each of them.
    """
    check_kind(kind)
    if not names:
        raise InputError("draws", f"no {kind} named")
    files = {what: by_draw(paths, kind, names) for what, paths in
             (("metrics", metrics), ("raw", raw), ("postprocessed", postprocessed), ("settings", settings),
              ("history", history))}
    draws = []
    for name in names:
        runs = load_runs(files["raw"][name], files["postprocessed"][name], files["settings"][name],
                         files["history"][name])
        if not runs:
            raise InputError(draw_label(kind, name), "no run's predictions among the inputs")
        scores = Scores(runs, cfg, step)
        if "test" not in scores.resamplers:
            raise InputError(draw_label(kind, name), "no test predictions: nothing to score across draws")
        draws.append(Draw(name, runs, scores, with_intervals(collect(files["metrics"][name]), scores, collapse_cfg)))
        keep_test_rows(runs)
    first = sorted(r.key for r in draws[0].runs)
    for draw in draws[1:]:
        keys = sorted(r.key for r in draw.runs)
        if keys != first:
            odd = sorted(set(keys) ^ set(first))
            raise InputError(draw_label(kind, draw.name), f"runs differ from {draw_label(kind, draws[0].name)}'s "
                                                          f"(in one only: {odd[:3]}); every draw needs every run")
    return draws


# ------------------------------------------------------------------ the splits

def split_note(kind: str, names: Sequence[str], splits: Sequence) -> str:
    """What the tables must say about the draws' splits, after checking them: folds test every group (speaker)
    once; redraws share one test partition. `splits` are the draws' split.csv, in the order of `names`."""
    check_kind(kind)
    if len(splits) != len(names):
        raise InputError("splits", f"{len(splits)} split files for {len(names)} {kind}")
    tests, groups = {}, set()
    for name, path in zip(names, splits):
        try:
            split = pd.read_csv(path, dtype=str)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
            raise InputError(path, f"cannot read the split ({err})") from err
        missing = [c for c in ("recording", "group", "partition") if c not in split.columns]
        if missing:
            raise InputError(path, f"missing columns {missing}")
        tests[name] = (Path(path), split[split["partition"] == "test"])
        groups |= set(split["group"])
    if kind == "folds":
        tested: dict[str, str] = {}
        for name, (path, test) in tests.items():
            for group in sorted(set(test["group"])):
                if group in tested:
                    raise InputError(path, f"group {group} is tested by folds {tested[group]} and {name}; folds test "
                                           "every speaker once")
                tested[group] = name
        never = sorted(groups - set(tested))
        if never:
            raise InputError("splits", f"groups {never[:5]} are tested by no fold; folds test every speaker once")
        sizes = ", ".join(str(test["group"].nunique()) for _, test in tests.values())
        return (f"{len(names)} folds: every one of the {len(tested)} groups (speakers, or what the adapter groups by) "
                f"tested once, by the fold that holds it out (test groups per fold: {sizes}); each fold trains and "
                "tunes on the other groups")
    path0, first = next(iter(tests.values()))
    for name, (path, test) in tests.items():
        if set(test["recording"]) != set(first["recording"]):
            raise InputError(path, f"the test partition of {draw_label(kind, name)} differs from that of "
                                   f"{draw_label(kind, names[0])} ({path0}); redraws keep the test partition")
    return (f"{len(names)} redraws of train/dev around one test partition ({first['recording'].nunique()} "
            f"recordings); {draw_label(kind, names[0])} is the published split")


# ------------------------------------------------------------------ replicates across draws

class AcrossScores(Replicates):
    """Hierarchical bootstrap replicates across draws, keyed as `Scores.replicates` (test partition only), so that
    `findings.findings` and `runs.interval_columns` read them unchanged; `claim_columns` adds to every findings row
    the single split's verdict (draw 1) and in how many draws A - B lies in the claim's direction."""

    extra_columns = ("single_split_difference", "single_split_diff_low", "single_split_diff_high",
                     "single_split_p", "single_split_verdict", "a_beats_b", "draws_in_direction", "draws_compared")

    def __init__(self, draws: list[Draw], kind: str):
        self.draws, self.kind = draws, check_kind(kind)
        self.cfg = draws[0].scores.cfg
        n_rep, n_draws = int(self.cfg["replicates"]), len(draws)
        rng = np.random.default_rng([int(self.cfg["seed"]), zlib.crc32(kind.encode())])
        self.picked = rng.integers(0, n_draws, size=(n_rep, n_draws))  # the draws of each replicate
        shift = np.arange(n_draws) if kind == "folds" else np.zeros(n_draws, dtype=np.int64)
        self.rows = (np.arange(n_rep)[:, None] + shift) % n_rep  # which of the picked draw's own replicates
        self.replicates = {key: self._statistic(*parts) for key, parts in self._draw_sums().items()}

    def _draw_sums(self) -> dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per test system: (K, B, 6) replicate sums about one centre per dimension, (K, B) sums of the units'
        CCC and (K,) unit counts (recordings), one row per draw; systems some draw lacks are left out."""
        centre = {}
        for dimension in {k[1] for d in self.draws for k in d.scores.gold if k[0] == "test"}:
            gold = np.concatenate([d.scores.gold[("test", dimension)] for d in self.draws
                                   if ("test", dimension) in d.scores.gold])
            centre[dimension] = float(gold.mean())
        parts: dict[tuple, list] = {}
        for draw in self.draws:
            rs = draw.scores.resamplers["test"]
            for key, pred, gold in draw.scores.on_shared_frames("test"):
                units = rs.unit_sums(pred, gold, centre[key[5]])
                parts.setdefault(key, []).append((units.sum(axis=1), ccc_from_sums(units).sum(axis=1),
                                                  units.shape[1]))
        return {key: tuple(np.asarray(x) for x in zip(*p)) for key, p in parts.items() if len(p) == len(self.draws)}

    def _statistic(self, sums: np.ndarray, unit_ccc: np.ndarray, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B,) replicates of the figure across draws and of the mean per-recording CCC."""
        picked, rows = self.picked, self.rows
        if self.kind == "folds":
            return (ccc_from_sums(sums[picked, rows].sum(axis=1)),
                    unit_ccc[picked, rows].sum(axis=1) / units[picked].sum(axis=1))
        return ccc_from_sums(sums)[picked, rows].mean(axis=1), (unit_ccc / units[:, None])[picked, rows].mean(axis=1)

    def describe(self) -> str:
        """How the replicates were drawn, for the table notes."""
        block = float(self.cfg["block_seconds"])
        how = [draw_label(self.kind, d.name) + ": " + d.scores.resamplers["test"].describe(block) for d in self.draws]
        same = {h.split(": ", 1)[1] for h in how}
        within = same.pop() if len(same) == 1 else "; ".join(how)
        then = ("within each fold drawn, its own test frames resampled" if self.kind == "folds"
                else f"the test frames all {len(self.draws)} draws share resampled once for all of them")
        return (f"[low, high]: {100 * float(self.cfg['level']):g} % hierarchical bootstrap interval, "
                f"{int(self.cfg['replicates'])} replicates: {len(self.draws)} {self.kind} drawn with replacement, "
                f"then {then} ({within}); it covers the test sample and which {self.kind} there were")

    def claim_columns(self, a: Side, b: Side, dimension: str, direction: int) -> dict:
        """The single split's test of the claim (draw 1, its own bootstrap; the same sides A and B) and in how
        many draws A - B (test CCC, mean over seeds) lies on the claim's side of 0."""
        first = self.draws[0]
        single = compare(first.metrics, first.scores, a, b, dimension, float(self.cfg["level"]), direction)
        diffs = []
        for draw in self.draws:
            rows_a, rows_b = side_rows(draw.metrics, a, dimension), side_rows(draw.metrics, b, dimension)
            if a.model is not None and b.model is not None and not rows_a.empty and not rows_b.empty:
                diffs.append(float(rows_a["ccc"].mean() - rows_b["ccc"].mean()))
        k = int(sum(direction * d > 0 for d in diffs))
        return {**{f"single_split_{c}": single[c] for c in ("difference", "diff_low", "diff_high", "p", "verdict")},
                "a_beats_b": f"{k} of {len(diffs)} {self.kind}" if diffs else MISSING,
                "draws_in_direction": k if diffs else np.nan, "draws_compared": len(diffs)}


# ------------------------------------------------------------------ metrics across draws

def _pooled_test(draws: list[Draw]) -> pd.DataFrame:
    """Test rows of metrics_file on every run's test predictions of all folds concatenated (ROW_KEYS + metrics)."""
    by_key: dict[tuple, list[Run]] = {}
    for draw in draws:
        for run in draw.runs:
            by_key.setdefault(run.key, []).append(run)
    frames = []
    for key, runs in by_key.items():
        raw, post = (pd.concat([r.predictions(pp)[lambda d: d["partition"] == "test"] for r in runs],
                               ignore_index=True) for pp in (False, True))
        if raw.empty:
            continue
        twice = raw.duplicated(["recording", "dimension", "frame"])
        if twice.any():
            raise InputError("/".join(map(str, key)), f"recording {raw.loc[twice, 'recording'].iloc[0]} is in the "
                                                      "test predictions of two folds; folds test every speaker once")
        where = "test predictions of " + "/".join(map(str, key)) + " over all folds"
        frames.append(metrics_file(raw, post, where).assign(**dict(zip(ROW_KEYS[:4], key))))
    return pd.concat(frames, ignore_index=True)


def pooled_metrics(draws: list[Draw], across: AcrossScores, corpus: str) -> pd.DataFrame:
    """all_metrics across draws: the columns of a single run's all_metrics.csv (so that the papers' tables, the
    beyond table and the findings read it unchanged), then `ccc_draws_mean`, `ccc_draws_sd` (over draws, ddof 1)
    and each draw's own CCC (`draw_column`).

    Test rows: the pooled out-of-fold figures (folds: ccc, ccc_per_recording, pearson, rmse and n_frames of the
    concatenated test predictions) or the mean over draws (redraws), with the hierarchical intervals of
    `across`. Dev rows: the mean over draws (each draw has its own dev partition), without interval.
    Collapsed: in any draw (collapse_reason names the draws).
    """
    kind = across.kind
    per = pd.concat([d.metrics.assign(draw=d.name) for d in draws], ignore_index=True)
    reason = per["collapse_reason"].fillna("").astype(str)
    per["why"] = np.where(reason != "", [f"{draw_label(kind, d)}: {r}" for d, r in zip(per["draw"], reason)], "")
    grouped = per.groupby(ROW_KEYS, sort=False)
    out = grouped[AVERAGED].mean()
    out["collapse_reason"] = grouped["why"].agg(lambda s: "; ".join(x for x in s if x))
    out["collapsed"] = out["collapse_reason"] != ""
    if kind == "folds":
        pooled = _pooled_test(draws).set_index(ROW_KEYS)
        columns = [c for c in METRICS_FILE_COLUMNS if c in AVERAGED]
        out.update(pooled[columns].astype(np.float64))
    values = per.pivot_table(index=ROW_KEYS, columns="draw", values="ccc", sort=False)
    values = values.reindex(columns=[d.name for d in draws])
    out["ccc_draws_mean"], out["ccc_draws_sd"] = values.mean(axis=1), values.std(axis=1, ddof=1)
    for name in values.columns:
        out[draw_column(kind, name)] = values[name]
    out = out.reset_index().assign(corpus=corpus)
    out["n_frames"] = out["n_frames"].round().astype(np.int64)
    intervals = pd.DataFrame([interval_columns(across, row) for row in out.itertuples(index=False)])
    columns = [c for c in INTERVAL_COLUMNS if c.startswith("ccc_")]
    out[columns] = intervals[columns]
    extra = ["ccc_draws_mean", "ccc_draws_sd"] + [draw_column(kind, d.name) for d in draws]
    return out[KEY_COLUMNS + METRICS_FILE_COLUMNS + INTERVAL_COLUMNS + extra]


# ------------------------------------------------------------------ findings across draws

def robustness(verdict: str, single: str, kind: str) -> str:
    """Whether the single split's verdict survives across draws."""
    if single in CONCLUSIVE:
        return f"holds across {kind}" if verdict == single else f"holds on the single split, not across {kind}"
    return f"{verdict} across {kind} only" if verdict in CONCLUSIVE else ""


def across_findings(metrics: pd.DataFrame, across: AcrossScores, models: Mapping[str, Mapping],
                    corpus_label: str = "RECOLA", claims: Sequence[Mapping] = ()) -> pd.DataFrame:
    """`findings.findings` on the pooled metrics and the replicates across draws (the same claims and rows),
    with the single split's test, 'k of K' and `robustness`."""
    table = findings(metrics, across, models, corpus_label, claims)
    table["robustness"] = [robustness(v, s, across.kind)
                           for v, s in zip(table["verdict"], table["single_split_verdict"])]
    return table


def display_across(table: pd.DataFrame, kind: str, first: str, how: str) -> pd.DataFrame:
    """The findings page across draws: `findings.display_table` with the verdict across draws, the single split's
    verdict, 'k of K' and the robustness mark. `first`: the single split's draw; `how`: AcrossScores.describe()."""
    single = draw_label(kind, first)
    resampling = f"a paired hierarchical bootstrap over {kind}, then test frames (the same picks for A and B)"
    base = display_table(table[FINDING_COLUMNS], resampling)
    shown = base.rename(columns={"verdict": f"verdict across {kind}"})
    shown[f"single split ({single})"] = table["single_split_verdict"].to_numpy()
    shown[f"{kind} in the claim's direction"] = table["a_beats_b"].str.replace(f" {kind}", "", regex=False).to_numpy()
    shown["robustness"] = table["robustness"].fillna("").to_numpy()
    marked = int((table["robustness"] == f"holds on the single split, not across {kind}").sum())
    figure = ("the pooled out-of-fold CCC (all folds' test predictions concatenated; the best hand-crafted system "
              "is chosen on the folds' mean dev CCC)" if kind == "folds" else
              "the mean over draws of each draw's test CCC (the best hand-crafted system is chosen on the draws' "
              "mean dev CCC)")
    shown.attrs["notes"] = base.attrs["notes"] + [
        f"across {kind}: A and B are scored by {figure}; {how}",
        f"single split ({single}): the verdict of the same A and B on {single} alone, with its own block bootstrap, "
        f"as a run on that split alone tests them" + (" (the published split)" if kind == "redraws" else ""),
        f"{kind} in the claim's direction: in how many {kind} A - B (test CCC, mean over seeds) lies on the claim's "
        "side of 0 (above it for A > B, below it for A < B)",
        f"robustness: 'holds on the single split, not across {kind}' marks a verdict the single split supports or "
        f"contradicts that the test across {kind} does not give ({marked} here); 'holds across {kind}': it does",
    ]
    return shown


def write_across_findings(table: pd.DataFrame, stem, kind: str, first: str, how: str) -> None:
    """findings.{csv,md,html} across draws (`findings.write_findings` with `display_across`)."""
    title = f"Findings across {kind}: each paper's claims (and the config's own) tested over every {KINDS[kind]}"
    write_findings(table, stem, partial(display_across, kind=kind, first=first, how=how), title)


# ------------------------------------------------------------------ one row per system

def _states(models: Mapping[str, Mapping], model: str, objective: str) -> list[bool]:
    """Post-processed for systems of Trigeorgis 2016's table, raw for Yang & Hirschberg 2018's, both beyond them."""
    papers = {row.paper for row in rows_of(models, model, objective)}
    return [pp for pp, paper in ((True, TRIGEORGIS), (False, YANG)) if paper in papers] or [True, False]


def draws_table(metrics: pd.DataFrame, models: Mapping[str, Mapping], kind: str, names: Sequence[str],
                how: str = "") -> pd.DataFrame:
    """One row per configured system, dimension and post-processing state (as the papers' tables show it): the
    figure across draws with its interval, mean ± sd over draws and every draw's own CCC (each a mean over seeds).
    `metrics` is `pooled_metrics`; `how` the interval's note (AcrossScores.describe())."""
    check_kind(kind)
    test = metrics[metrics["partition"] == "test"]
    figure = "pooled CCC [interval]" if kind == "folds" else "mean CCC [interval of the mean]"
    spread = f"mean ± sd over {kind}"
    rows, collapsed = [], []
    for model, entry in models.items():
        for objective in entry["objectives"]:
            for dimension in pd.unique(test["dimension"]):
                for pp in _states(models, model, objective):
                    sel = test[(test["model"] == model) & (test["objective"] == objective)
                               & (test["target"] == target(entry, dimension)) & (test["dimension"] == dimension)
                               & (test["postprocessed"].astype(bool) == pp)]
                    if sel.empty:
                        continue
                    own = [float(sel[draw_column(kind, n)].mean()) for n in names]
                    cell = f"{format_number(sel['ccc'].mean())} " + format_interval(
                        float(sel["ccc_seeds_low"].iloc[0]), float(sel["ccc_seeds_high"].iloc[0]))
                    name = system_name(models, model, objective)
                    if sel["collapsed"].astype(bool).any():
                        cell = "collapsed: " + cell
                        collapsed.append(f"{name} {dimension}: {sel['collapse_reason'].iloc[0]}")
                    sd = np.std(own, ddof=1) if len(own) > 1 else np.nan
                    rows.append({"system": name, "model": model, "objective": objective, "dimension": dimension,
                                 "predictions": "post-processed" if pp else "raw", figure: cell.strip(),
                                 spread: format_number(np.mean(own)) + (f" ± {format_number(sd)}"
                                                                        if np.isfinite(sd) else ""),
                                 **{draw_label(kind, n): format_number(v) for n, v in zip(names, own)}})
    table = pd.DataFrame(rows, columns=["system", "model", "objective", "dimension", "predictions", figure, spread,
                                        *[draw_label(kind, n) for n in names]])
    what = ("pooled CCC: the CCC of every fold's test predictions concatenated (each speaker scored once, by the "
            "fold that holds it out)" if kind == "folds" else
            "mean CCC: each draw's CCC on the shared, published test partition, averaged over draws")
    table.attrs["notes"] = [
        f"{what}; mean over seeds where there are several; {how}".rstrip("; "),
        f"{spread}: each {KINDS[kind]}'s own test CCC ({KINDS[kind]} columns), averaged, and their sample sd (ddof 1)"
        + ("; the pooled CCC differs from the mean over folds since it also scores the differences between the "
           "folds' speakers" if kind == "folds" else ""),
        "predictions: post-processed for systems of Trigeorgis 2016's Table 1, raw for those of Yang & Hirschberg "
        "2018's, both for systems beyond the papers",
    ] + (["collapsed (in some " + KINDS[kind] + "): " + "; ".join(collapsed)] if collapsed else [])
    return table


def cells_note(kind: str, names: Sequence[str]) -> str:
    """The Table 1 note saying what the cells are across draws."""
    if kind == "folds":
        test = f"the pooled out-of-fold CCC over {len(names)} folds (every speaker tested once)"
    else:
        test = f"the mean over {len(names)} draws of train/dev of each draw's CCC on the published test partition"
    return (f"across {kind}: test = {test}, [interval] from a hierarchical bootstrap over {kind} then test frames "
            f"(it covers both); dev (and LOO) = the mean over {kind} of each {KINDS[kind]}'s own figure; mean ± sd "
            f"over {kind} and each {KINDS[kind]}'s figure per system in across_draws.md; no raters' row (see each "
            f"{KINDS[kind]}'s tables)")
