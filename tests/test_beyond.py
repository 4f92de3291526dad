"""The "beyond the papers" table: the papers' best systems and every system that fills no paper row, found by identity."""

from __future__ import annotations

import pandas as pd
import pytest

from emotrace.beyond import beyond_table
from emotrace.errors import InputError
from emotrace.tables import MISSING, to_latex, to_markdown


def rows(model, objective, target, seed, test, dev, dims=("arousal", "valence")):
    out = []
    for dim in dims:
        for post in (False, True):
            bonus = 0.01 if post else 0.0
            out += [{"corpus": "c", "model": model, "objective": objective, "target": target, "seed": seed,
                     "partition": part, "dimension": dim, "postprocessed": post, "ccc": value + bonus}
                    for part, value in (("test", test), ("dev", dev))]
    return out


@pytest.fixture
def metrics():
    data = []
    for dim in ("arousal", "valence"):
        data += rows("e2e", "ccc", dim, 1, 0.5, 0.6, dims=(dim,))
        data += rows("e2e", "mse", dim, 1, 0.1, 0.2, dims=(dim,))
    data += rows("wavespec", "ccc", "joint", 1, 0.4, 0.45)
    data += rows("wavlm", "ccc", "joint", 1, 0.7, 0.8) + rows("wavlm", "ccc", "joint", 2, 0.5, 0.6)
    data += rows("wavlm", "mse", "joint", 1, 0.3, 0.35)
    data += rows("svr_egemaps", "mse", "arousal", 1, 0.2, 0.3, dims=("arousal",))
    return pd.DataFrame(data)


MODELS = {
    "svr_egemaps": {"network": "svr", "features": "egemaps", "objectives": ["mse"]},
    "e2e": {"network": "e2e", "objectives": ["mse", "ccc"]},
    "wavespec": {"network": "wavespec", "objectives": ["ccc"], "joint": True},
    "wavlm": {"network": "ssl_blstm", "objectives": ["ccc", "mse"], "joint": True},
    "fused": {"network": "ssl_wavespec", "objectives": ["ccc"], "joint": True},
}


def test_rows_are_the_papers_best_then_each_ssl_system_and_objective(metrics):
    table = beyond_table(metrics, MODELS, "WAVLM_BASE_PLUS", "recola")
    assert table["model"].tolist() == ["e2e", "wavespec", "wavlm", "wavlm", "fused"]
    assert table["objective"].tolist() == ["ccc", "ccc", "ccc", "mse", "ccc"]
    e2e = table.iloc[0]
    assert e2e["arousal"] == ".510 (.610)" and e2e["arousal (raw)"] == ".500 (.600)"
    assert e2e["published arousal (RECOLA)"] == ".686"
    wavlm = table.iloc[2]
    assert wavlm["valence (raw)"] == ".600±.141 (.700±.141)"  # two seeds: mean±std
    assert wavlm["system"] == "beyond: WAVLM_BASE_PLUS layers (weighted) + BLSTM (CCC)"
    assert wavlm["published valence (RECOLA)"] == MISSING
    assert table.iloc[4]["system"].endswith("layers + W + S (CCC)") and table.iloc[4]["arousal"] == MISSING
    assert table.attrs["missing"] == ["fused/ccc (arousal)", "fused/ccc (valence)"]
    assert "| beyond: WAVLM_BASE_PLUS" in to_markdown(table) and r"\toprule" in to_latex(table)


def test_missing_runs_are_marked_and_listed(metrics):
    table = beyond_table(metrics[metrics["model"] != "wavespec"], MODELS, "HUBERT_BASE", "recola")
    row = table[table["model"] == "wavespec"].iloc[0]
    assert row["arousal"] == MISSING and row["valence (raw)"] == MISSING
    assert "wavespec/ccc (arousal)" in table.attrs["missing"] and any("missing" in n for n in table.attrs["notes"])
    with pytest.raises(InputError, match="missing columns"):
        beyond_table(metrics.drop(columns="postprocessed"), MODELS, "HUBERT_BASE", "recola")


def test_intervals_and_collapse_flags_of_all_metrics_are_shown(metrics):
    """With the columns the tables rule adds to all_metrics.csv, cells carry the interval and the collapse flag."""
    metrics = metrics.assign(ccc_low=metrics["ccc"] - 0.1, ccc_high=metrics["ccc"] + 0.05, collapsed=False,
                             collapse_reason="")
    dead = (metrics["model"] == "wavlm") & (metrics["objective"] == "mse")
    metrics.loc[dead, "collapsed"] = True
    metrics.loc[dead, "collapse_reason"] = "near-constant test predictions"
    table = beyond_table(metrics, MODELS, "WAVLM_BASE_PLUS", "recola")
    assert table.iloc[0]["arousal"] == ".510 [.410, .560] (.610)"
    assert table.iloc[3]["valence (raw)"].startswith("collapsed: .300 [.200, .350]")
    assert any("interval" in note for note in table.attrs["notes"])
