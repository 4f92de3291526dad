"""The third table, "beyond the papers": every configured system that fills no paper row, beside both papers' best.

Rows: Trigeorgis 2016's best system (end-to-end, CCC objective) and Yang & Hirschberg 2018's best
(W+S), each as every configured system that is what the paper describes (`emotrace.identity`),
then every configured system and objective that fills no row of either paper's Table 1 (SSL
models, plug-in networks, a paper network trained with another target or objective ...), in
config order, whatever its name. Cells read "test [interval] (dev)" CCC over seeds as in
emotrace.tables (`collapsed: ...` for a degenerate run), post-processed and raw side by side
(Trigeorgis post-processes, Yang does not). Published figures of the two reference systems sit
in labelled columns.
"""

from __future__ import annotations

from typing import Mapping

import pandas as pd

from emotrace.errors import InputError
from emotrace.identity import TRIGEORGIS, YANG, extra_systems, identity_of, members, paper_row, target
from emotrace.systems import SSL_NETWORKS
from emotrace.tables import DIMENSIONS, MISSING, check_models, system_cell

# (paper, row short name, label) of the reference rows, the best system of each paper on RECOLA
REFERENCES = [
    (TRIGEORGIS, "e2e", "Trigeorgis 2016 best: raw signal, end-to-end (CCC)"),
    (YANG, "wavespec", "Yang & Hirschberg 2018 best: W+S"),
]

SSL_LABELS = {
    "ssl_blstm": "{bundle} layers (weighted) + BLSTM",
    "ssl_spec": "{bundle} layers + S",
    "ssl_wavespec": "{bundle} layers + W + S",
}


def _cell(df: pd.DataFrame, model: str, objective: str, target_: str, dimension: str, postprocessed: bool) -> str:
    """'test [interval] (dev)' as in the papers' tables (`collapsed: ...` for a degenerate run)."""
    rows = df[(df["model"] == model) & (df["objective"] == objective) & (df["dimension"] == dimension)
              & (df["postprocessed"].astype(bool) == postprocessed) & (df["target"] == target_)]
    return system_cell(rows)[0] if not rows.empty else MISSING


def extra_label(models: Mapping[str, Mapping], model: str, objective: str, ssl_bundle: str) -> str:
    """'beyond: WAVLM_BASE_PLUS layers + S (CCC)' for SSL systems, else what the system is."""
    entry = models[model]
    what = (SSL_LABELS[entry["network"]].format(bundle=ssl_bundle) if entry["network"] in SSL_NETWORKS
            else identity_of(entry).describe())
    return f"beyond: {what} ({objective.upper()})"


def beyond_table(metrics: pd.DataFrame, models: dict[str, dict], ssl_bundle: str, corpus_label: str) -> pd.DataFrame:
    """The table from `collect`ed metrics; `models` is the config's `models` (name -> network, objectives ...)."""
    missing_cols = [c for c in ("model", "objective", "target", "partition", "dimension", "postprocessed", "ccc")
                    if c not in metrics.columns]
    if missing_cols:
        raise InputError("metrics", f"missing columns {missing_cols}; use tables.collect")
    check_models(metrics, models)
    systems = []
    for paper, key, label in REFERENCES:
        row = paper_row(paper, "ccc", key)
        pub_a, pub_v = (text.split()[0] for text in row.published["RECOLA"])  # test only
        keys = members(models, row)
        systems += [(model, "ccc", label if len(keys) == 1 else f"{label} [{model}]", pub_a, pub_v) for model in keys]
    systems += [(model, objective, extra_label(models, model, objective, ssl_bundle), MISSING, MISSING)
                for model, objective in extra_systems(models)]
    rows, missing = [], []
    for model, objective, label, pub_a, pub_v in systems:
        row = {"system": label, "model": model, "objective": objective}
        for dim in DIMENSIONS:
            t = target(models[model], dim)
            row[dim] = _cell(metrics, model, objective, t, dim, True)
            row[f"{dim} (raw)"] = _cell(metrics, model, objective, t, dim, False)
            if row[dim] == MISSING and row[f"{dim} (raw)"] == MISSING:
                missing.append(f"{model}/{objective} ({dim})")
        row["published arousal (RECOLA)"], row["published valence (RECOLA)"] = pub_a, pub_v
        rows.append(row)
    table = pd.DataFrame(rows, columns=["system", "model", "objective", *[f"{d}{s}" for d in DIMENSIONS
                                                                         for s in ("", " (raw)")],
                                        "published arousal (RECOLA)", "published valence (RECOLA)"])
    notes = [
        f"CCC on test (dev in parentheses) on {corpus_label}, all recordings of a partition concatenated; "
        "mean±std over seeds where there are several; columns without '(raw)' are post-processed (tuned on dev); "
        "[low, high]: the 95 % block-bootstrap interval of all_metrics.csv (see the papers' tables' notes); "
        "collapsed: a degenerate model whose figure means nothing",
        "beyond: every configured system that is no system of either paper's Table 1 (rows are matched by network, "
        "features, objective and target, not by config key); neither paper makes a claim about these, so "
        "findings.md tests only the claims the config's `findings` add",
        "published: test CCC of Trigeorgis et al. 2016 and Yang & Hirschberg 2018 on RECOLA (their own splits); "
        "no published figure exists for the rows beyond the papers",
    ]
    if missing:
        notes.append(f"missing ({MISSING}): " + "; ".join(missing))
    table.attrs["missing"], table.attrs["notes"] = missing, notes
    return table
