"""Systems found by what they are: a renamed paper system keeps its row, two variants share it, others go beyond.

The default grid (config.yaml) with `e2e` renamed, with a second e2e variant, and with a model
that is no paper system, on crafted runs of known quality: each lands in the Table 1 row, the
findings and the "beyond the papers" table a reader expects.
"""

from __future__ import annotations

import pandas as pd
import pytest

from crafted_runs import DEFAULT_MODELS, crafted
from emotrace import collapse
from emotrace.beyond import beyond_table
from emotrace.errors import InputError
from emotrace.figures.bars import plot_trigeorgis_bars
from emotrace.findings import findings
from emotrace.identity import (
    TRIGEORGIS, YANG, Identity, extra_systems, identity_of, members, paper_row, rows_of, system_name,
)
from emotrace.runs import Scores, with_intervals
from emotrace.tables import MISSING, trigeorgis_table, yang_table
from emotrace.uncertainty import settings

E2E_CCC = paper_row(TRIGEORGIS, "ccc", "e2e")


def grid(**changes) -> dict:
    """The default grid's models with entries replaced (None removes one)."""
    models = {**DEFAULT_MODELS, **changes}
    return {k: v for k, v in models.items() if v is not None}


def renamed(old: str, new: str) -> dict:
    return {(new if k == old else k): v for k, v in DEFAULT_MODELS.items()}


def all_metrics(specs: dict) -> tuple[pd.DataFrame, Scores]:
    runs, metrics = crafted(specs)
    scores = Scores(runs, settings({"replicates": 300}))
    return with_intervals(metrics, scores, collapse.settings()), scores


def test_identity_of_config_entries():
    assert identity_of(DEFAULT_MODELS["drnn_egemaps"]) == Identity("drnn", "egemaps", False)
    assert identity_of(DEFAULT_MODELS["wavespec"]) == Identity("wavespec", None, True)
    # a waveform network ignores `features` as training does; the ssl_* networks always read ssl
    assert identity_of({"network": "e2e", "features": "egemaps", "objectives": ["ccc"]}) == Identity("e2e")
    assert identity_of({"network": "ssl_spec", "objectives": ["ccc"]}).features == "ssl"
    # a plug-in network is what its entry says
    plug = identity_of({"network": "mypkg.nets:TinyNet", "features": "egemaps", "objectives": ["ccc"], "joint": True})
    assert plug == Identity("mypkg.nets:TinyNet", "egemaps", True)
    assert plug.describe() == "mypkg.nets:TinyNet on egemaps, joint"


def test_the_default_grid_fills_every_paper_row_and_nothing_is_beyond():
    assert extra_systems(DEFAULT_MODELS) == []
    assert members(DEFAULT_MODELS, E2E_CCC) == ["e2e"]
    assert members(DEFAULT_MODELS, paper_row(YANG, "ccc", "wave")) == ["wave"]
    assert members(DEFAULT_MODELS, paper_row(TRIGEORGIS, "mse", "e2e2017")) == []  # not in the default grid


def test_matching_is_by_network_features_objective_and_target():
    models = renamed("e2e", "e2e_big")
    assert members(models, E2E_CCC) == ["e2e_big"] and extra_systems(models) == []
    assert system_name(models, "e2e_big", "ccc") == "raw signal, end-to-end [e2e_big]"
    # another target, objective or feature set is another system: beyond the papers
    other = grid(e2e_joint={"network": "e2e", "objectives": ["ccc"], "joint": True},
                 wave_mse={"network": "wave", "objectives": ["ccc", "mse"], "joint": True},
                 drnn6373={"network": "drnn", "features": "compare6373", "objectives": ["ccc"]})
    assert extra_systems(other) == [("e2e_joint", "ccc"), ("wave_mse", "mse"), ("drnn6373", "ccc")]
    assert rows_of(other, "wave_mse", "ccc") == [paper_row(YANG, "ccc", "wave")]
    assert system_name(other, "drnn6373", "ccc") == "drnn6373 [drnn on compare6373, per dimension]"
    # the authors' 2017 code is not in the paper: its extra row takes either target
    for joint in (False, True):
        e2017 = {"e2e2017": {"network": "e2e2017", "objectives": ["mse"], "joint": joint}}
        assert members(e2017, paper_row(TRIGEORGIS, "mse", "e2e2017")) == ["e2e2017"]


def test_a_renamed_e2e_keeps_its_table1_row_and_its_findings():
    models = renamed("e2e", "e2e_big")
    metrics, scores = all_metrics({("e2e_big", "ccc", "arousal", 1): 0.8, ("e2e_big", "mse", "arousal", 1): 0.7,
                                   ("drnn_egemaps", "ccc", "arousal", 1): 0.3})
    table = trigeorgis_table(metrics, models)
    row = table[(table["part"] == "b) CCC objective") & (table["system"] == "raw signal, end-to-end")]
    assert len(row) == 1 and row["model"].iloc[0] == "e2e_big" and row["arousal"].iloc[0] != MISSING
    assert not any(m.startswith("raw signal") for m in table.attrs["missing"])
    claims = findings(metrics, scores, models)
    e2e_vs_hand = claims[claims["claim"].str.startswith("end-to-end beats") & claims["claim"].str.contains("CCC")
                         & (claims["dimension"] == "arousal")]
    assert e2e_vs_hand["system_a"].tolist() == ["raw signal, end-to-end [e2e_big] (CCC)"]
    assert e2e_vs_hand["verdict"].tolist() == ["supported"]
    assert e2e_vs_hand["system_b"].iloc[0] == "eGeMAPS + BLSTM-DRNN [drnn_egemaps] (CCC)"


def test_two_e2e_variants_both_fill_the_row_labelled_by_key(tmp_path):
    models = grid(e2e_small={**DEFAULT_MODELS["e2e"], "lr": 1e-3})
    metrics, scores = all_metrics({("e2e", "ccc", "arousal", 1): 0.8, ("e2e", "mse", "arousal", 1): 0.4,
                                   ("e2e_small", "ccc", "arousal", 1): 0.2, ("e2e_small", "mse", "arousal", 1): 0.78})
    table = trigeorgis_table(metrics, models)
    ccc = table[table["part"] == "b) CCC objective"]
    variants = ccc[ccc["system"].str.startswith("raw signal, end-to-end")]
    assert variants["system"].tolist() == ["raw signal, end-to-end [e2e]", "raw signal, end-to-end [e2e_small]"]
    assert variants["model"].tolist() == ["e2e", "e2e_small"]
    assert variants["arousal"].iloc[0] != variants["arousal"].iloc[1]
    assert len(table) == 12  # the paper's ten rows, the two e2e rows twice
    claims = findings(metrics, scores, models)
    objective = claims[(claims["claim"] == "the CCC objective beats MSE") & (claims["dimension"] == "arousal")
                       & claims["system_a"].str.startswith("raw signal")]
    # each variant's CCC run against its own MSE run, never across variants
    assert objective[["system_a", "system_b", "verdict"]].values.tolist() == [
        ["raw signal, end-to-end [e2e] (CCC)", "raw signal, end-to-end [e2e] (MSE)", "supported"],
        ["raw signal, end-to-end [e2e_small] (CCC)", "raw signal, end-to-end [e2e_small] (MSE)", "contradicted"],
    ]
    beyond = beyond_table(metrics, models, "WAVLM_BASE_PLUS", "crafted")
    assert beyond["model"].tolist() == ["e2e", "e2e_small", "wavespec"]  # the papers' best systems only
    assert beyond["system"].iloc[1] == "Trigeorgis 2016 best: raw signal, end-to-end (CCC) [e2e_small]"
    assert plot_trigeorgis_bars(metrics, models, tmp_path / "bars")[0].stat().st_size > 0


def test_a_model_matching_no_row_goes_beyond_the_papers_only():
    models = grid(mynet={"network": "mypkg.nets:TinyNet", "objectives": ["ccc"], "joint": True})
    metrics, scores = all_metrics({("e2e", "ccc", "arousal", 1): 0.6, ("mynet", "ccc", "joint", 1): None,
                                   ("wavespec", "ccc", "joint", 1): 0.5})
    assert "mynet" not in trigeorgis_table(metrics, models)["model"].tolist()
    assert "mynet" not in yang_table(metrics, models, "RECOLA")["model"].tolist()
    beyond = beyond_table(metrics, models, "WAVLM_BASE_PLUS", "crafted")
    assert beyond["model"].tolist() == ["e2e", "wavespec", "mynet"]
    mine = beyond.iloc[2]
    assert mine["system"] == "beyond: mypkg.nets:TinyNet on the raw signal, joint (CCC)"
    # its interval, collapsed flag (a constant output) and dev figure, as in Table 1
    assert mine["arousal"].startswith("collapsed: ") and "[" in mine["arousal"] and "(" in mine["arousal"]
    assert mine["published arousal (RECOLA)"] == MISSING
    # no paper claim is about it
    assert not findings(metrics, scores, models)["system_a"].str.contains("mynet").any()


def test_results_of_an_unconfigured_model_are_an_error():
    metrics, _ = all_metrics({("e2e_old", "ccc", "arousal", 1): 0.6})
    with pytest.raises(InputError, match=r"results of \['e2e_old'\], which the config's models do not name"):
        trigeorgis_table(metrics, DEFAULT_MODELS)


def test_a_row_no_system_fills_says_what_it_would_take():
    models = grid(wave=None)
    metrics, scores = all_metrics({("wavespec", "ccc", "joint", 1): 0.6})
    table = yang_table(metrics, models, "RECOLA")
    assert table.set_index("system").loc["W only", "model"] == MISSING
    assert "W only (CCC): no configured system is wave on the raw signal, joint" in table.attrs["missing"]
    claims = findings(metrics, scores, models)
    row = claims[(claims["claim"] == "W+S beats W only") & (claims["dimension"] == "arousal")].iloc[0]
    assert (row["verdict"], row["system_b"]) == ("no result", "W only [none] (CCC, raw)")
    assert row["note"] == "no configured system is wave on the raw signal, joint"
