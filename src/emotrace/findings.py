"""Each paper's claims, and the config's own, tested: paired bootstrap differences of test CCC on the same frames.

Every paper claim reads "system A beats system B" (the direction both papers report). The
difference is mean-over-seeds CCC(A) - CCC(B) on test; its interval and two-sided p
come from the same resampled frames for both (`emotrace.uncertainty.paired`). Verdict:
`supported` when the interval lies on the claimed side of 0, `contradicted` when on the
other, `inconclusive` when it straddles 0; `collapsed` when either system is degenerate
(`emotrace.collapse`) and `no result` when either is missing from the run.

Systems are found by what they are (`emotrace.identity`), never by config key: a claim about
a paper row is tested for every configured system that fills the row (a key that fills both
rows of a claim is compared with itself, e.g. its CCC run against its MSE run).

Trigeorgis 2016 (post-processed, as their table): end-to-end vs the best hand-crafted
system of each objective (best chosen on dev, never on test); the CCC objective vs MSE
for e2e and each DRNN; post-processed vs raw for each system. Yang & Hirschberg 2018
(raw, CCC objective): W+S vs W, W+S vs S, and each of them vs the ComParE-6373 baseline.
The config's `findings` add claims about any two configured systems (`check_claims`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from emotrace.errors import InputError
from emotrace.identity import (
    TRIGEORGIS, TRIGEORGIS_ROWS, YANG, PaperRow, identity_of, members, paper_row, system_name,
)
from emotrace.io import atomic_write
from emotrace.runs import Replicates
from emotrace.tables import DIMENSIONS, MISSING, YANG_CORPORA, check_models, format_number, to_html, to_markdown
from emotrace.uncertainty import paired

FINDING_COLUMNS = [
    "paper", "claim", "dimension", "system_a", "system_b", "paper_says", "ccc_a", "ccc_b",
    "difference", "diff_low", "diff_high", "p", "verdict", "note",
]
VERDICTS = ("supported", "contradicted", "inconclusive", "collapsed", "no result")
CONFIG = "config findings"
CLAIMS = {"greater": ("A > B", 1), "less": ("A < B", -1)}
HAND_CRAFTED = {"mse": ["svr_egemaps", "svr_compare", "drnn_egemaps", "drnn_compare"],
                "ccc": ["drnn_egemaps", "drnn_compare"]}  # Trigeorgis 2016's hand-crafted rows, by short name
YANG_CLAIMS = (("wavespec", "wave"), ("wavespec", "spec"), ("wave", "blstm6373"), ("spec", "blstm6373"),
               ("wavespec", "blstm6373"))


@dataclass(frozen=True)
class Side:
    """One side of a claim: a configured system (model key, objective) with or without post-processing.

    `model` is None where no configured system is what the claim's paper row describes;
    `joint` says whether its results sit under `joint` or under each dimension."""

    model: str | None
    objective: str
    postprocessed: bool
    joint: bool
    name: str
    wanted: str = ""  # for a placeholder (model None): what a system filling the row would be

    def target(self, dimension: str) -> str:
        return "joint" if self.joint else dimension

    def label(self) -> str:
        return f"{self.name} ({self.objective.upper()}{', raw' if not self.postprocessed else ''})"


def configured(models: Mapping[str, Mapping], model: str, objective: str, postprocessed: bool) -> Side:
    """The side of a configured system, named by its paper row (if any) and its key."""
    return Side(model, objective, postprocessed, bool(identity_of(models[model]).joint),
                system_name(models, model, objective))


def _absent(row: PaperRow, postprocessed: bool) -> Side:
    """A placeholder side whose name says what the missing system would be."""
    return Side(None, row.objective, postprocessed, False, f"{row.label} [none]", row.identity.describe())


def sides(models: Mapping[str, Mapping], row: PaperRow, postprocessed: bool) -> list[Side]:
    """Every configured system that fills `row` (one placeholder side where none does)."""
    found = [configured(models, m, row.objective, postprocessed) for m in members(models, row)]
    return found or [_absent(row, postprocessed)]


def pairs(a: list[Side], b: list[Side]) -> list[tuple[Side, Side]]:
    """The comparisons of a claim whose rows several systems fill: a key on both sides is compared with
    itself only; any other key with every system on the other side."""
    keys_a, keys_b = {s.model for s in a}, {s.model for s in b}
    return [(x, y) for x in a for y in b if x.model == y.model or x.model not in keys_b or y.model not in keys_a]


def side_rows(metrics: pd.DataFrame, side: Side, dimension: str, partition: str = "test") -> pd.DataFrame:
    """The metrics rows (every seed) of one side of a claim on one dimension and partition."""
    return metrics[(metrics["model"] == side.model) & (metrics["objective"] == side.objective)
                   & (metrics["dimension"] == dimension) & (metrics["partition"] == partition)
                   & (metrics["postprocessed"].astype(bool) == side.postprocessed)
                   & (metrics["target"] == side.target(dimension))]


def _published(row: PaperRow, dimension: str, corpus: str = "RECOLA") -> float | None:
    text = row.published.get(corpus, row.published.get("RECOLA"))[DIMENSIONS.index(dimension)]
    return None if text == MISSING else float(text.split()[0])


def best_on_dev(metrics: pd.DataFrame, candidates: list[Side], dimension: str) -> Side | None:
    """The candidate with the highest mean dev CCC (None if none ran)."""
    best, score = None, -np.inf
    for side in candidates:
        rows = side_rows(metrics, side, dimension, "dev")
        if not rows.empty and rows["ccc"].mean() > score:
            best, score = side, float(rows["ccc"].mean())
    return best


def compare(metrics: pd.DataFrame, scores: Replicates, a: Side, b: Side, dimension: str, level: float,
            direction: int = 1) -> dict:
    """Difference A - B on test with its paired interval and p, and the verdict of the claim
    A > B (`direction` 1) or A < B (-1)."""
    out = dict.fromkeys(FINDING_COLUMNS, np.nan) | {"dimension": dimension, "system_a": a.label(),
                                                    "system_b": b.label(), "note": ""}
    if not (metrics["dimension"] == dimension).any():  # e.g. a corpus configured with arousal only
        return out | {"verdict": "no result", "note": f"no {dimension} results in this run (corpus.dimensions)"}
    wanted = [s.wanted for s in (a, b) if s.model is None]
    if wanted:
        return out | {"verdict": "no result", "note": "no configured system is " + " nor ".join(wanted)}
    rows = {side: side_rows(metrics, side, dimension) for side in (a, b)}
    if any(r.empty for r in rows.values()):
        absent = [s.label() for s, r in rows.items() if r.empty]
        return out | {"verdict": "no result", "note": "no results for " + ", ".join(absent)}
    reps = {side: scores.seed_mean(side.model, side.objective, side.target(dimension), "test", dimension,
                                   side.postprocessed)
            for side in (a, b)}
    out["ccc_a"], out["ccc_b"] = float(rows[a]["ccc"].mean()), float(rows[b]["ccc"].mean())
    out["difference"] = out["ccc_a"] - out["ccc_b"]
    if any(v is None for v in reps.values()):
        return out | {"verdict": "no result", "note": "no predictions to resample"}
    test = paired(reps[a], reps[b], level)
    out.update(test)
    flagged = [s.label() for s, r in rows.items() if "collapsed" in r.columns and r["collapsed"].astype(bool).any()]
    low, high = (test["diff_low"], test["diff_high"]) if direction > 0 else (-test["diff_high"], -test["diff_low"])
    if flagged:
        out["verdict"], out["note"] = "collapsed", "collapsed: " + ", ".join(flagged)
    elif low > 0:
        out["verdict"] = "supported"
    elif high < 0:
        out["verdict"] = "contradicted"
    else:
        out["verdict"] = "inconclusive"
    return out


def _default_objective(entry: Mapping) -> str:
    return "ccc" if "ccc" in entry["objectives"] else entry["objectives"][0]


def check_claims(claims: Sequence[Mapping], models: Mapping[str, Mapping], dimensions: Sequence[str] | None) -> None:
    """The config's `findings`: each names two configured models, a dimension of the corpus (unchecked with
    `dimensions` None), a claim (greater, less) and optionally an objective both trained; InputError naming
    the entry otherwise. Run at load (rules/common.smk) so that a bad claim stops the run before any job."""
    for i, claim in enumerate(claims):
        where = f"findings[{i}]"
        missing = [k for k in ("a", "b", "dimension", "claim") if k not in claim]
        if missing:
            raise InputError(where, f"missing keys {missing}")
        for side in ("a", "b"):
            if claim[side] not in models:
                raise InputError(f"{where}.{side}",
                                 f"no model {claim[side]!r} in models (configured: {sorted(models)})")
            objective = claim.get("objective")
            if objective is not None and objective not in models[claim[side]]["objectives"]:
                raise InputError(f"{where}.objective", f"model {claim[side]!r} is not trained with {objective!r} "
                                                       f"(its objectives: {models[claim[side]]['objectives']})")
        if dimensions is not None and claim["dimension"] not in dimensions:
            raise InputError(f"{where}.dimension", f"{claim['dimension']!r} is not a dimension of the corpus "
                                                   f"(corpus.dimensions: {list(dimensions)})")
        if claim["claim"] not in CLAIMS:
            raise InputError(f"{where}.claim", f"{claim['claim']!r} is not one of {sorted(CLAIMS)}")
        if claim["a"] == claim["b"]:
            raise InputError(where, f"a and b are both {claim['a']!r}: a claim compares two systems")


def findings(metrics: pd.DataFrame, scores: Replicates, models: Mapping[str, Mapping], corpus_label: str = "RECOLA",
             claims: Sequence[Mapping] = ()) -> pd.DataFrame:
    """FINDING_COLUMNS, one row per claim, dimension and pair of systems: the papers' claims in their
    order, then the config's `claims` (its `findings`).

    `metrics` is all_metrics (tables.collect + runs.with_intervals); `scores` the run's replicates;
    `models` the config's models (what each system is).
    """
    check_models(metrics, models)
    check_claims(claims, models, None)  # a dimension without results gives "no result"
    level = float(scores.cfg["level"])
    rows = []

    def add(paper: str, claim: str, says: str, a: Side, b: Side, dim: str, direction: int = 1) -> None:
        rows.append(compare(metrics, scores, a, b, dim, level, direction)
                    | {"paper": paper, "claim": claim, "paper_says": says} | scores.claim_columns(a, b, dim, direction))

    def pub(a: float | None, b: float | None) -> str:
        return f" ({format_number(a)} vs {format_number(b)})" if a is not None and b is not None else ""

    corpus = corpus_label.upper() if corpus_label.upper() in YANG_CORPORA else "RECOLA"
    for dim in DIMENSIONS:
        for objective in ("mse", "ccc"):
            e2e = paper_row(TRIGEORGIS, objective, "e2e")
            hand = [paper_row(TRIGEORGIS, objective, k) for k in HAND_CRAFTED[objective]]
            candidates = [configured(models, m, objective, True) for r in hand for m in members(models, r)]
            b = best_on_dev(metrics, candidates, dim) or (candidates[0] if candidates else _absent(hand[0], True))
            published = max((_published(r, dim) or -1.0) for r in hand)
            claim = f"end-to-end beats the best hand-crafted system ({objective.upper()} objective; best on dev)"
            for a in sides(models, e2e, True):
                add(TRIGEORGIS, claim, "A > B" + pub(_published(e2e, dim), published), a, b, dim)
        for key in ("e2e", "drnn_egemaps", "drnn_compare"):
            ccc, mse = paper_row(TRIGEORGIS, "ccc", key), paper_row(TRIGEORGIS, "mse", key)
            for a, b in pairs(sides(models, ccc, True), sides(models, mse, True)):
                add(TRIGEORGIS, "the CCC objective beats MSE",
                    "A > B" + pub(_published(ccc, dim), _published(mse, dim)), a, b, dim)
        for system in TRIGEORGIS_ROWS:
            if system.key == "e2e2017":
                continue  # not in the paper
            for model in members(models, system):
                raw = configured(models, model, system.objective, False)
                if side_rows(metrics, raw, dim).empty:
                    continue  # only the systems this run has
                add(TRIGEORGIS, "post-processing raises test CCC", "A > B",
                    configured(models, model, system.objective, True), raw, dim)
        i = DIMENSIONS.index(dim)
        for key_a, key_b in YANG_CLAIMS:
            row_a, row_b = paper_row(YANG, "ccc", key_a), paper_row(YANG, "ccc", key_b)
            for a, b in pairs(sides(models, row_a, False), sides(models, row_b, False)):
                add(YANG, f"{row_a.label} beats {row_b.label}",
                    "A > B" + pub(float(row_a.published[corpus][i]), float(row_b.published[corpus][i])), a, b, dim)
    for claim in claims:
        says, direction = CLAIMS[claim["claim"]]
        post = bool(claim.get("postprocessed", True))
        a, b = (configured(models, claim[s], claim.get("objective") or _default_objective(models[claim[s]]), post)
                for s in ("a", "b"))
        add(CONFIG, f"{claim['a']} {'beats' if direction > 0 else 'is below'} {claim['b']}", says, a, b,
            claim["dimension"], direction)
    out = pd.DataFrame(rows, columns=FINDING_COLUMNS + list(scores.extra_columns))
    order = {TRIGEORGIS: 0, YANG: 1, CONFIG: 2}
    return out.sort_values("paper", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def _p(value: float) -> str:
    if not np.isfinite(value):
        return MISSING
    return "<.001" if value < 0.001 else format_number(value)


RESAMPLING = "a paired block bootstrap on the same test frames"


def display_table(table: pd.DataFrame, resampling: str = RESAMPLING) -> pd.DataFrame:
    """The findings as the Markdown page shows them: one line per claim, our difference with its interval
    (`resampling`: how that interval was drawn, for the notes)."""
    shown = pd.DataFrame({
        "paper": table["paper"], "claim": table["claim"], "dimension": table["dimension"],
        "A": table["system_a"], "B": table["system_b"], "paper says": table["paper_says"],
        "ours: A - B [interval]": [
            MISSING if not np.isfinite(r.difference) else
            f"{format_number(r.difference)}" + (f" [{format_number(r.diff_low)}, {format_number(r.diff_high)}]" if np.isfinite(r.diff_low) else "")
            for r in table.itertuples()],
        "p": [_p(v) for v in table["p"]],
        "verdict": table["verdict"] + [f" ({n})" if n else "" for n in table["note"]],
    })
    counts = table["verdict"].value_counts()
    shown.attrs["notes"] = [
        "verdicts: " + ", ".join(f"{v} {int(counts.get(v, 0))}" for v in VERDICTS),
        f"A - B: difference of test CCC (mean over seeds); interval and two-sided p from {resampling} "
        "(supported: the interval lies on the side of 0 the claim says, "
        "above it for A > B; contradicted: on the other side; inconclusive: it contains 0)",
        "Trigeorgis 2016 claims use post-processed predictions (as their table), Yang & Hirschberg 2018 raw ones; "
        "the best hand-crafted system is chosen on dev",
        "systems are found by what they are, not by config key: [key] names the configured system; a claim about "
        f"a row several systems fill is tested for each; '{CONFIG}': the config's own claims (its `findings`)",
    ]
    return shown


TITLE = "Findings: each paper's claims (and the config's own) tested"


def write_findings(table: pd.DataFrame, stem, display: Callable[[pd.DataFrame], pd.DataFrame] = display_table,
                   title: str = TITLE) -> None:
    """stem.csv (every column), stem.md and stem.html (`display` of the table, with its notes), each atomically."""
    stem = Path(stem)
    shown = display(table)
    with atomic_write(stem.with_name(stem.name + ".csv")) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_write(stem.with_name(stem.name + ".md")) as tmp:
        tmp.write_text(f"# {title}\n\n" + to_markdown(shown), encoding="utf-8")
    with atomic_write(stem.with_name(stem.name + ".html")) as tmp:
        tmp.write_text(to_html(shown, title), encoding="utf-8")
