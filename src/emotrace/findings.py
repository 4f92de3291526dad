"""Each paper's claims, tested: paired bootstrap differences of test CCC on the same frames.

Every claim reads "system A beats system B" (the direction both papers report). The
difference is mean-over-seeds CCC(A) - CCC(B) on test; its interval and two-sided p
come from the same resampled frames for both (`emotrace.uncertainty.paired`). Verdict:
`supported` when the interval lies above 0, `contradicted` when below, `inconclusive`
when it straddles 0; `collapsed` when either system is degenerate (`emotrace.collapse`)
and `no result` when either is missing from the run.

Trigeorgis 2016 (post-processed, as their table): end-to-end vs the best hand-crafted
system of each objective (best chosen on dev, never on test); the CCC objective vs MSE
for e2e and each DRNN; post-processed vs raw for each system. Yang & Hirschberg 2018
(raw, CCC objective): W+S vs W, W+S vs S, and each of them vs the ComParE-6373 baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from emotrace.io import atomic_write
from emotrace.runs import Scores
from emotrace.tables import (
    DIMENSIONS, MISSING, TRIGEORGIS_ROWS, YANG_PUBLISHED, YANG_ROWS, format_number, to_html, to_markdown,
)
from emotrace.uncertainty import paired

FINDING_COLUMNS = [
    "paper", "claim", "dimension", "system_a", "system_b", "paper_says", "ccc_a", "ccc_b",
    "difference", "diff_low", "diff_high", "p", "verdict", "note",
]
VERDICTS = ("supported", "contradicted", "inconclusive", "collapsed", "no result")
TRIGEORGIS = "Trigeorgis 2016"
YANG = "Yang & Hirschberg 2018"
HAND_CRAFTED = {"mse": ["svr_egemaps", "svr_compare", "drnn_egemaps", "drnn_compare"],
                "ccc": ["drnn_egemaps", "drnn_compare"]}
LABELS = {model: label for _, model, label, _, _ in TRIGEORGIS_ROWS} | dict(YANG_ROWS)


@dataclass(frozen=True)
class Side:
    """One side of a claim: a system (model, objective) with or without post-processing."""

    model: str
    objective: str
    postprocessed: bool
    prefer: tuple[str, ...]

    def label(self) -> str:
        return f"{LABELS.get(self.model, self.model)} ({self.objective.upper()}{', raw' if not self.postprocessed else ''})"


def _rows(metrics: pd.DataFrame, side: Side, dimension: str, partition: str = "test") -> pd.DataFrame:
    rows = metrics[(metrics["model"] == side.model) & (metrics["objective"] == side.objective)
                   & (metrics["dimension"] == dimension) & (metrics["partition"] == partition)
                   & (metrics["postprocessed"].astype(bool) == side.postprocessed)]
    for target in side.prefer:
        chosen = rows[rows["target"] == target]
        if not chosen.empty:
            return chosen
    return rows.iloc[:0]


def _published(model: str, objective: str, dimension: str) -> float | None:
    for obj, m, _, pub_a, pub_v in TRIGEORGIS_ROWS:
        if (obj, m) == (objective, model):
            text = pub_a if dimension == "arousal" else pub_v
            return None if text == MISSING else float(text.split()[0])
    return None


def best_on_dev(metrics: pd.DataFrame, models: list[str], objective: str, dimension: str) -> str | None:
    """The hand-crafted model of `objective` with the highest mean post-processed dev CCC (None if none ran)."""
    best, score = None, -np.inf
    for model in models:
        rows = _rows(metrics, Side(model, objective, True, (dimension, "joint")), dimension, "dev")
        if not rows.empty and rows["ccc"].mean() > score:
            best, score = model, float(rows["ccc"].mean())
    return best


def compare(metrics: pd.DataFrame, scores: Scores, a: Side, b: Side, dimension: str, level: float) -> dict:
    """Difference A - B on test with its paired interval and p, and the verdict."""
    out = dict.fromkeys(FINDING_COLUMNS, np.nan) | {"dimension": dimension, "system_a": a.label(),
                                                    "system_b": b.label(), "note": ""}
    rows = {side: _rows(metrics, side, dimension) for side in (a, b)}
    if any(r.empty for r in rows.values()):
        absent = [s.label() for s, r in rows.items() if r.empty]
        return out | {"verdict": "no result", "note": "no results for " + ", ".join(absent)}
    reps = {side: scores.seed_mean(side.model, side.objective, r["target"].iloc[0], "test", dimension, side.postprocessed)
            for side, r in rows.items()}
    out["ccc_a"], out["ccc_b"] = float(rows[a]["ccc"].mean()), float(rows[b]["ccc"].mean())
    out["difference"] = out["ccc_a"] - out["ccc_b"]
    if any(v is None for v in reps.values()):
        return out | {"verdict": "no result", "note": "no predictions to resample"}
    test = paired(reps[a], reps[b], level)
    out.update(test)
    flagged = [s.label() for s, r in rows.items() if "collapsed" in r.columns and r["collapsed"].astype(bool).any()]
    if flagged:
        out["verdict"], out["note"] = "collapsed", "collapsed: " + ", ".join(flagged)
    elif test["diff_low"] > 0:
        out["verdict"] = "supported"
    elif test["diff_high"] < 0:
        out["verdict"] = "contradicted"
    else:
        out["verdict"] = "inconclusive"
    return out


def findings(metrics: pd.DataFrame, scores: Scores, corpus_label: str = "RECOLA") -> pd.DataFrame:
    """FINDING_COLUMNS, one row per claim and dimension, in the papers' order.

    `metrics` is all_metrics (tables.collect + runs.with_intervals); `scores` the run's replicates.
    """
    level = float(scores.cfg["level"])
    rows = []

    def add(paper: str, claim: str, says: str, a: Side, b: Side, dim: str) -> None:
        rows.append(compare(metrics, scores, a, b, dim, level) | {"paper": paper, "claim": claim, "paper_says": says})

    def pub(a: float | None, b: float | None) -> str:
        return f" ({format_number(a)} vs {format_number(b)})" if a is not None and b is not None else ""

    for dim in DIMENSIONS:
        t = (dim, "joint")
        for objective in ("mse", "ccc"):
            best = best_on_dev(metrics, HAND_CRAFTED[objective], objective, dim)
            published = max((_published(m, objective, dim) or -1.0) for m in HAND_CRAFTED[objective])
            a = Side("e2e", objective, True, t)
            b = Side(best or HAND_CRAFTED[objective][0], objective, True, t)
            add(TRIGEORGIS, f"end-to-end beats the best hand-crafted system ({objective.upper()} objective; best on dev)",
                "A > B" + pub(_published("e2e", objective, dim), published), a, b, dim)
        for model in ("e2e", "drnn_egemaps", "drnn_compare"):
            add(TRIGEORGIS, "the CCC objective beats MSE",
                "A > B" + pub(_published(model, "ccc", dim), _published(model, "mse", dim)),
                Side(model, "ccc", True, t), Side(model, "mse", True, t), dim)
        for objective, model, _, _, _ in TRIGEORGIS_ROWS:
            if model == "e2e2017" or _rows(metrics, Side(model, objective, False, t), dim).empty:
                continue  # only the systems this run has
            add(TRIGEORGIS, "post-processing raises test CCC", "A > B",
                Side(model, objective, True, t), Side(model, objective, False, t), dim)
        y = ("joint", dim)
        pub_y = YANG_PUBLISHED.get(corpus_label.upper(), YANG_PUBLISHED["RECOLA"])
        i = DIMENSIONS.index(dim)
        for model_a, model_b in (("wavespec", "wave"), ("wavespec", "spec"), ("wave", "blstm6373"),
                                 ("spec", "blstm6373"), ("wavespec", "blstm6373")):
            add(YANG, f"{LABELS[model_a]} beats {LABELS[model_b]}",
                "A > B" + pub(float(pub_y[model_a][i]), float(pub_y[model_b][i])),
                Side(model_a, "ccc", False, y), Side(model_b, "ccc", False, y), dim)
    out = pd.DataFrame(rows, columns=FINDING_COLUMNS)
    order = {TRIGEORGIS: 0, YANG: 1}
    return out.sort_values("paper", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def _p(value: float) -> str:
    if not np.isfinite(value):
        return MISSING
    return "<.001" if value < 0.001 else format_number(value)


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The findings as the Markdown page shows them: one line per claim, our difference with its interval."""
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
        "A - B: difference of test CCC (mean over seeds); interval and two-sided p from a paired block "
        "bootstrap on the same test frames (supported: interval above 0; contradicted: below 0; "
        "inconclusive: it contains 0)",
        "Trigeorgis 2016 claims use post-processed predictions (as their table), Yang & Hirschberg 2018 raw ones; "
        "the best hand-crafted system is chosen on dev",
    ]
    return shown


TITLE = "Findings: each paper's claims tested"


def write_findings(table: pd.DataFrame, stem) -> None:
    """stem.csv (every column), stem.md and stem.html (the display table with its notes), each atomically."""
    stem = Path(stem)
    with atomic_write(stem.with_name(stem.name + ".csv")) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_write(stem.with_name(stem.name + ".md")) as tmp:
        tmp.write_text(f"# {TITLE}\n\n" + to_markdown(display_table(table)), encoding="utf-8")
    with atomic_write(stem.with_name(stem.name + ".html")) as tmp:
        tmp.write_text(to_html(display_table(table), TITLE), encoding="utf-8")
