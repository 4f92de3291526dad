"""Verdicts of the papers' claims on crafted runs whose ordering is known."""

from __future__ import annotations

import pandas as pd

from crafted_runs import crafted
from emotrace import collapse
from emotrace.findings import FINDING_COLUMNS, findings, write_findings
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
    return findings(with_intervals(metrics, scores, collapse.settings()), scores)


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
