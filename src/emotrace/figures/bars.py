"""Both papers' Table 1 as grouped horizontal bar charts: reproduced vs published test CCC, arousal and valence.

Rows (found by what a system is, `emotrace.identity`: one bar per configured system that fills
a row, labelled by its key where several do) and the published figures are those of
`emotrace.tables`, so a bar and the matching table cell always show the same numbers; reproduced bars are the mean over
seeds; the error bar is the bootstrap interval of the test CCC (of the seed mean where there
are several seeds) where all_metrics.csv carries one, else ±1 std over seeds (ddof=1). A
collapsed system is labelled so; the raters' leave-one-out agreement closes each chart as the
ceiling. A system without results is a labelled gap, never a zero bar.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from emotrace.errors import InputError
from emotrace.figures import Output, Rule, new_figure, require_input, save_figure
from emotrace.identity import TRIGEORGIS_ROWS, YANG_ROWS, target
from emotrace.tables import (
    DIMENSIONS, MISSING, RATERS_LABEL, TRIGEORGIS_PARTS, YANG_CORPORA, check_models, collect, filled_rows,
)

OURS = {"facecolor": "tab:blue", "edgecolor": "tab:blue"}
PUBLISHED = {"facecolor": "lightgray", "edgecolor": "dimgray", "hatch": "//"}
COLLAPSED = {"facecolor": "white", "edgecolor": "tab:red"}


def read_metrics(files: Sequence[str | Path], rule: Rule = None) -> pd.DataFrame:
    """`tables.collect` over metrics.csv files, a missing one naming the rule that makes it."""
    return collect([require_input(path, rule, "metrics") for path in files])


def read_all_metrics(path: str | Path, rule: Rule = None) -> pd.DataFrame:
    """all_metrics.csv of the tables rule (metrics with intervals and the collapsed flag)."""
    path = require_input(path, rule, "all metrics")
    df = pd.read_csv(path, dtype={"model": str, "objective": str, "target": str, "corpus": str})
    df["postprocessed"] = df["postprocessed"].astype(str).str.lower().isin(["true", "1"])
    if "collapsed" in df.columns:
        df["collapsed"] = df["collapsed"].astype(str).str.lower().isin(["true", "1"])
    return df


def _published(text: str) -> float | None:
    """The test figure of a published cell ('.684 (.728)' -> 0.684); None where the paper has none."""
    text = text.strip()
    if not text or text == MISSING:
        return None
    return float(text.split()[0])


def system_rows(df: pd.DataFrame, model: str, objective: str, dimension: str, target_: str,
                postprocessed: bool, partition: str = "test") -> pd.DataFrame:
    """Rows over seeds of one system (results under `target_`: the dimension or `joint`) and dimension."""
    return df[(df["model"] == model) & (df["objective"] == objective) & (df["dimension"] == dimension)
              & (df["postprocessed"].astype(bool) == postprocessed) & (df["partition"] == partition)
              & (df["target"] == target_)]


def system_values(df: pd.DataFrame, model: str, objective: str, dimension: str, target_: str,
                  postprocessed: bool, metric: str = "ccc", partition: str = "test") -> np.ndarray:
    """The metric over seeds for one system and dimension."""
    return system_rows(df, model, objective, dimension, target_, postprocessed, partition)[metric].to_numpy(np.float64)


def _ours(metrics: pd.DataFrame, models, model: str | None, objective: str, postprocessed: bool, metric: str) -> dict:
    """Per dimension the bar of one configured system (an empty one, 'no result', where no system fills the row)."""
    return {d: _bar(metrics.iloc[:0] if model is None else
                    system_rows(metrics, model, objective, d, target(models[model], d), postprocessed), metric)
            for d in DIMENSIONS}


def _bar(rows: pd.DataFrame, metric: str) -> dict:
    """Values over seeds, the interval to draw (or None) and whether the system collapsed."""
    bounds = None
    if metric == "ccc" and len(rows) == 1 and "ccc_low" in rows.columns:
        bounds = (float(rows["ccc_low"].iloc[0]), float(rows["ccc_high"].iloc[0]))
    elif metric == "ccc" and len(rows) > 1 and "ccc_seeds_low" in rows.columns:
        bounds = (float(rows["ccc_seeds_low"].iloc[0]), float(rows["ccc_seeds_high"].iloc[0]))
    if bounds is not None and not np.isfinite(bounds).all():
        bounds = None
    collapsed = bool("collapsed" in rows.columns and rows["collapsed"].astype(bool).any())
    return {"values": rows[metric].to_numpy(np.float64), "bounds": bounds, "collapsed": collapsed}


def _raters(agreement: pd.DataFrame | None) -> tuple | None:
    """The raters' row: leave-one-out CCC on test with its interval; None without individual ratings."""
    if agreement is None or agreement.empty:
        return None
    ours = {}
    for dim in DIMENSIONS:
        rows = agreement[(agreement["dimension"] == dim) & (agreement["partition"] == "test")]
        ours[dim] = {"values": rows["loo_ccc"].to_numpy(np.float64), "collapsed": False,
                     "bounds": (float(rows["loo_ccc_low"].iloc[0]), float(rows["loo_ccc_high"].iloc[0])) if len(rows) else None}
    return (RATERS_LABEL, ours, {d: None for d in DIMENSIONS})


def _check_metrics(df: pd.DataFrame, metric: str) -> None:
    needed = ["corpus", "model", "objective", "target", "seed", "partition", "dimension", "postprocessed", metric]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise InputError("metrics", f"missing columns {missing}; use tables.collect")
    if df["corpus"].nunique() > 1:
        raise InputError("metrics", f"a chart covers one corpus; got {sorted(map(str, df['corpus'].unique()))}")


def _fmt(value: float) -> str:
    text = f"{value:.3f}"
    return text.replace("0.", ".", 1) if text.lstrip("-").startswith("0.") else text


def _draw(fig, systems: list[tuple[str, dict[str, dict], dict[str, float | None]]], metric: str) -> None:
    """One panel per dimension; per system a reproduced bar (top) and a published bar (bottom)."""
    axes = fig.subplots(1, len(DIMENSIONS), sharey=True)
    y = np.arange(len(systems))[::-1].astype(float)
    height = 0.38
    values = [v for _, ours, pub in systems for d in DIMENSIONS
              for v in [*ours[d]["values"], *(ours[d]["bounds"] or ()), pub[d] or 0.0]]
    lo, hi = min(0.0, *values) - 0.05, max(0.0, *values) + 0.3
    for ax, dim in zip(axes, DIMENSIONS):
        for yi, (label, ours, pub) in zip(y, systems):
            v, bounds = ours[dim]["values"], ours[dim]["bounds"]
            if v.size:
                mean = float(v.mean())
                std = float(v.std(ddof=1)) if v.size > 1 else None
                if bounds is not None:
                    err = [[max(mean - bounds[0], 0.0)], [max(bounds[1] - mean, 0.0)]]
                    right = bounds[1]
                    text = f"{_fmt(mean)} [{_fmt(bounds[0])}, {_fmt(bounds[1])}]"
                else:
                    err, right, text = std, mean + (std or 0), _fmt(mean)
                if std is not None:
                    text += f" ±{_fmt(std)} ({v.size} seeds)"
                if ours[dim]["collapsed"]:
                    text = "collapsed: " + text
                ax.barh(yi + height / 2, mean, height, xerr=err, capsize=3,
                        **(OURS if not ours[dim]["collapsed"] else COLLAPSED))
                ax.text(max(right, 0) + 0.01, yi + height / 2, text, va="center", fontsize="x-small",
                        color="tab:red" if ours[dim]["collapsed"] else "black")
            else:
                ax.text(0.01, yi + height / 2, "no result", va="center", fontsize="x-small", style="italic", color="tab:red")
            if pub[dim] is not None:
                ax.barh(yi - height / 2, pub[dim], height, **PUBLISHED)
                ax.text(max(pub[dim], 0) + 0.01, yi - height / 2, _fmt(pub[dim]), va="center", fontsize="x-small")
            else:
                ax.text(0.01, yi - height / 2, "not in the paper", va="center", fontsize="x-small", style="italic",
                        color="dimgray")
        ax.set_xlim(lo, hi)
        ax.set_ylim(-0.7, len(systems) - 0.3)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_title(dim)
        ax.set_xlabel(f"test {metric.upper()} (unitless, -1 to 1)")
        ax.grid(True, axis="x", alpha=0.3)
    axes[0].set_yticks(y, [label for label, _, _ in systems], fontsize="small")
    handles = [Patch(**OURS, label="reproduced (error bar: 95 % bootstrap interval of the test CCC)"),
               Patch(**COLLAPSED, label="collapsed (near-constant output or never learnt)"),
               Patch(**PUBLISHED, label="published")]
    fig.legend(handles=handles, loc="outside lower center", ncol=3)


def plot_trigeorgis_bars(metrics: pd.DataFrame, models, output: Output, postprocessed: bool = True,
                         metric: str = "ccc", agreement: pd.DataFrame | None = None) -> list[Path]:
    """Trigeorgis 2016 Table 1 (RECOLA) as bars: MSE rows (a) then CCC rows (b); `models` is the config's models."""
    _check_metrics(metrics, metric)
    check_models(metrics, models)
    systems = []
    for row, model, label in filled_rows(models, TRIGEORGIS_ROWS):
        part = TRIGEORGIS_PARTS[row.objective].split(")")[0] + ")"
        pub_a, pub_v = row.published["RECOLA"]
        systems.append((f"{part} {label}", _ours(metrics, models, model, row.objective, postprocessed, metric),
                        {"arousal": _published(pub_a), "valence": _published(pub_v)}))
    systems += [row for row in [_raters(agreement)] if row]
    corpus = ", ".join(map(str, metrics["corpus"].unique())) or "no results"
    fig = new_figure(13, 7.5)
    _draw(fig, systems, metric)
    fig.suptitle(f"Trigeorgis et al. 2016, Table 1: reproduced on {corpus} vs published (RECOLA)\n"
                 f"a) MSE objective, b) CCC objective; post-processed: {'yes' if postprocessed else 'no'}")
    return save_figure(fig, output)


def plot_yang_bars(metrics: pd.DataFrame, models, output: Output, corpus_label: str, postprocessed: bool = False,
                   metric: str = "ccc", agreement: pd.DataFrame | None = None) -> list[Path]:
    """Yang & Hirschberg 2018 Table 1 for one corpus (published figures of `corpus_label`: SEMAINE or RECOLA)."""
    _check_metrics(metrics, metric)
    check_models(metrics, models)
    label = corpus_label.upper()
    if label not in YANG_CORPORA:
        raise InputError("corpus_label", f"published figures exist for {sorted(YANG_CORPORA)}, not {corpus_label!r}")
    systems = []
    for row, model, name in filled_rows(models, YANG_ROWS):
        pub_a, pub_v = row.published[label]
        systems.append((name, _ours(metrics, models, model, "ccc", postprocessed, metric),
                        {"arousal": _published(pub_a), "valence": _published(pub_v)}))
    systems += [row for row in [_raters(agreement)] if row]
    corpus = ", ".join(map(str, metrics["corpus"].unique())) or "no results"
    fig = new_figure(11, 4.8)
    _draw(fig, systems, metric)
    fig.suptitle(f"Yang & Hirschberg 2018, Table 1: reproduced on {corpus} vs published ({label}), CCC objective\n"
                 f"post-processed: {'yes' if postprocessed else 'no'}")
    return save_figure(fig, output)
