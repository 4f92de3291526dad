"""The third table, "beyond the papers": frozen SSL systems beside both papers' best systems on the same grid.

Rows: Trigeorgis 2016's best system (end-to-end, CCC objective), Yang & Hirschberg 2018's best
(W+S), then every model of the config on the `ssl` features (alone, ssl+S, ssl+W+S), each as found in the grid (models
are matched by network, so any name works). Cells read "test (dev)" CCC over seeds as in
emotrace.tables, post-processed and raw side by side (Trigeorgis post-processes, Yang does
not). Published figures of the two reference systems sit in labelled columns.
"""

from __future__ import annotations

import pandas as pd

from emotrace.errors import InputError
from emotrace.systems import SSL_NETWORKS
from emotrace.tables import DIMENSIONS, MISSING, YANG_PUBLISHED, system_cell

# (network, objective, label, published arousal, published valence on RECOLA, test only)
REFERENCES = [
    ("e2e", "ccc", "Trigeorgis 2016 best: raw signal, end-to-end (CCC)", ".686", ".261"),
    ("wavespec", "ccc", "Yang & Hirschberg 2018 best: W+S", *YANG_PUBLISHED["RECOLA"]["wavespec"]),
]

SSL_LABELS = {
    "ssl_blstm": "{bundle} layers (weighted) + BLSTM",
    "ssl_spec": "{bundle} layers + S",
    "ssl_wavespec": "{bundle} layers + W + S",
}


def _cell(df: pd.DataFrame, model: str, objective: str, dimension: str, postprocessed: bool) -> tuple[str, str]:
    """'test [interval] (dev)' as in the papers' tables (`collapsed: ...` for a degenerate run) and the
    target used, preferring a per-dimension run to a joint one."""
    rows = df[(df["model"] == model) & (df["objective"] == objective) & (df["dimension"] == dimension)
              & (df["postprocessed"].astype(bool) == postprocessed)]
    for target in (dimension, "joint"):
        chosen = rows[rows["target"] == target]
        if not chosen.empty:
            return system_cell(chosen)[0], target
    return MISSING, ""


def beyond_table(metrics: pd.DataFrame, models: dict[str, dict], ssl_bundle: str, corpus_label: str) -> pd.DataFrame:
    """The table from `collect`ed metrics; `models` is the config's `models` (name -> network, objectives ...)."""
    missing_cols = [c for c in ("model", "objective", "target", "partition", "dimension", "postprocessed", "ccc")
                    if c not in metrics.columns]
    if missing_cols:
        raise InputError("metrics", f"missing columns {missing_cols}; use tables.collect")
    systems = []
    for network, objective, label, pub_a, pub_v in REFERENCES:
        for model in (m for m, entry in models.items() if entry["network"] == network):
            systems.append((model, objective, label, pub_a, pub_v))
    for model, entry in models.items():
        if entry["network"] not in SSL_NETWORKS:
            continue
        for objective in entry["objectives"]:
            label = f"beyond: {SSL_LABELS[entry['network']].format(bundle=ssl_bundle)} ({objective.upper()})"
            systems.append((model, objective, label, MISSING, MISSING))
    rows, missing = [], []
    for model, objective, label, pub_a, pub_v in systems:
        row = {"system": label, "model": model, "objective": objective}
        for dim in DIMENSIONS:
            row[dim], _ = _cell(metrics, model, objective, dim, True)
            row[f"{dim} (raw)"], _ = _cell(metrics, model, objective, dim, False)
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
        "neither paper makes a claim about SSL systems, so findings.md has none for these rows",
        "published: test CCC of Trigeorgis et al. 2016 and Yang & Hirschberg 2018 on RECOLA (their own splits); "
        "no published figure exists for the SSL rows",
    ]
    if missing:
        notes.append(f"missing ({MISSING}): " + "; ".join(missing))
    table.attrs["missing"], table.attrs["notes"] = missing, notes
    return table
