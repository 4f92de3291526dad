"""Verdicts of the papers' claims on crafted runs whose ordering is known."""

from __future__ import annotations

import pandas as pd
import pytest

from crafted_runs import DEFAULT_MODELS, crafted
from emotrace import collapse
from emotrace.errors import InputError
from emotrace.findings import FINDING_COLUMNS, check_claims, findings, write_findings
from emotrace.runs import Scores, with_intervals
from emotrace.uncertainty import settings


def crafted_findings() -> pd.DataFrame:
    runs, metrics = crafted({
        ("e2e", "mse", "arousal", 1): 0.9,
        ("e2e", "ccc", "arousal", 1): 0.6,
        ("drnn_egemaps", "mse", "arousal", 1): 0.3,
        ("drnn_egemaps", "ccc", "arousal", 1): 0.3,
        ("svr_egemaps", "mse", "arousal", 1): 0.5,
        ("wave", "ccc", "joint", 1): None,       # a constant output: collapsed
        ("wavespec", "ccc", "joint", 1): 0.8,
        ("blstm6373", "ccc", "joint", 1): 0.2,
    })
    scores = Scores(runs, settings({"replicates": 1000}))
    return findings(with_intervals(metrics, scores, collapse.settings()), scores, DEFAULT_MODELS)


def verdict(table: pd.DataFrame, claim: str, dimension: str = "arousal", a: str = "") -> str:
    rows = table[table["claim"].str.startswith(claim) & (table["dimension"] == dimension)
                 & table["system_a"].str.startswith(a)]
    assert len(rows) == 1, rows
    return rows["verdict"].iloc[0]


def test_verdicts_follow_the_crafted_ordering(tmp_path):
    table = crafted_findings()
    assert list(table.columns) == FINDING_COLUMNS
    # e2e (MSE) .9 vs the best hand-crafted MSE system on dev, the SVR (.5): supported
    row = table[table["claim"].str.contains("MSE objective") & (table["dimension"] == "arousal")].iloc[0]
    assert row["verdict"] == "supported" and row["system_b"].startswith("eGeMAPS + SVR")
    assert row["diff_low"] > 0 and row["p"] < 0.01
    assert verdict(table, "end-to-end beats the best hand-crafted system (CCC") == "supported"
    # CCC objective .6 vs MSE .9 for e2e: contradicted; equal quality for the DRNN: inconclusive
    assert verdict(table, "the CCC objective", a="raw signal") == "contradicted"
    assert verdict(table, "the CCC objective", a="eGeMAPS + BLSTM") == "inconclusive"
    # post-processing that changes nothing: a difference of exactly 0, p = 1
    pp = table[table["claim"].str.startswith("post-processing") & (table["dimension"] == "arousal")]
    assert len(pp) == 5 and (pp["verdict"] == "inconclusive").all() and (pp["p"] == 1).all()
    # Yang: W+S vs W (constant) is collapsed, W+S vs S has no S, W+S vs baseline is supported
    assert verdict(table, "W+S beats W only") == "collapsed"
    assert verdict(table, "W+S beats S only") == "no result"
    assert verdict(table, "W+S beats baseline") == "supported"
    # no valence run of the hand-crafted systems: no result, never a made-up verdict
    assert verdict(table, "end-to-end beats the best hand-crafted system (MSE", "valence") == "no result"
    write_findings(table, tmp_path / "findings")
    md = (tmp_path / "findings.md").read_text()
    assert "| paper | claim |" in md and "supported" in md and "verdicts: supported" in md
    assert len(pd.read_csv(tmp_path / "findings.csv")) == len(table)


def test_the_configs_own_claims_are_tested_like_the_papers():
    """`findings: [{a, b, dimension, claim}]` from the config: the same paired bootstrap, after the papers' claims."""
    models = {**DEFAULT_MODELS, "mymodel": {"network": "mypkg.nets:TinyNet", "objectives": ["mse", "ccc"]}}
    runs, metrics = crafted({("e2e", "ccc", "arousal", 1): 0.4, ("mymodel", "ccc", "arousal", 1): 0.85,
                             ("mymodel", "mse", "arousal", 1): 0.84})
    scores = Scores(runs, settings({"replicates": 500}))
    claims = [{"a": "mymodel", "b": "e2e", "dimension": "arousal", "claim": "greater"},
              {"a": "mymodel", "b": "e2e", "dimension": "arousal", "claim": "less"},
              {"a": "e2e", "b": "mymodel", "dimension": "arousal", "claim": "less", "postprocessed": False},
              {"a": "mymodel", "b": "e2e", "dimension": "valence", "claim": "greater"}]
    table = findings(with_intervals(metrics, scores, collapse.settings()), scores, models, claims=claims)
    own = table[table["paper"] == "config findings"]
    assert len(own) == 4 and table.index[table["paper"] == "config findings"].min() == len(table) - 4
    assert own["claim"].tolist() == ["mymodel beats e2e", "mymodel is below e2e", "e2e is below mymodel",
                                     "mymodel beats e2e"]
    assert own["paper_says"].tolist() == ["A > B", "A < B", "A < B", "A > B"]
    assert own["verdict"].tolist() == ["supported", "contradicted", "supported", "no result"]
    # the crafted run has no valence results: the claim says so rather than naming the systems
    assert own.iloc[3]["note"] == "no valence results in this run (corpus.dimensions)"
    # the CCC run is chosen where the model has one; the interval is the paired one of the difference
    first = own.iloc[0]
    assert first["system_a"] == "mymodel [mypkg.nets:TinyNet on the raw signal, per dimension] (CCC)"
    assert first["system_b"] == "raw signal, end-to-end [e2e] (CCC)"
    assert first["diff_low"] > 0 and first["diff_low"] <= first["difference"] <= first["diff_high"]
    assert own.iloc[2]["system_a"].endswith("(CCC, raw)")


@pytest.mark.parametrize("claim, where, message", [
    ({"a": "nomodel", "b": "e2e", "dimension": "arousal", "claim": "greater"}, r"findings\[0\]\.a",
     r"no model 'nomodel' in models \(configured: \["),
    ({"a": "e2e", "b": "wave", "dimension": "liking", "claim": "greater"}, r"findings\[0\]\.dimension",
     "not a dimension of the corpus"),
    ({"a": "e2e", "b": "wave", "dimension": "arousal", "claim": "bigger"}, r"findings\[0\]\.claim", "not one of"),
    ({"a": "wave", "b": "e2e", "dimension": "arousal", "claim": "less", "objective": "mse"},
     r"findings\[0\]\.objective", "'wave' is not trained with 'mse'"),
    ({"a": "e2e", "b": "e2e", "dimension": "arousal", "claim": "less"}, r"findings\[0\]", "compares two systems"),
])
def test_bad_claims_stop_naming_the_entry(claim, where, message):
    with pytest.raises(InputError, match=f"^{where}: .*{message}"):
        check_claims([claim], DEFAULT_MODELS, ["arousal", "valence"])
