"""Systems found by what they are, through the snakemake command: renamed paper systems fill their Table 1
rows, a system no paper has fills the beyond table, and the config's own claim is tested (tests/configs/identity_tiny.yaml)."""

from __future__ import annotations

import pandas as pd
import yaml

from conftest import REPO, snakemake
from emotrace.cli import main

CONFIG = REPO / "tests" / "configs" / "identity_tiny.yaml"


def test_renamed_systems_extra_systems_and_own_claims_land_where_a_reader_expects(tmp_path, capsys):
    snakemake(tmp_path, "--configfile", str(CONFIG), "--cores", "2")
    tables = tmp_path / "results" / "identity" / "tables"
    trigeorgis = pd.read_csv(tables / "trigeorgis2016_table1.csv", dtype=str, keep_default_na=False)
    filled = trigeorgis.set_index(["part", "system"])["model"]
    assert filled[("a) MSE objective", "eGeMAPS + SVR")] == "my_svr"
    assert filled[("b) CCC objective", "eGeMAPS + BLSTM-DRNN")] == "my_drnn"
    assert "drnn_joint" not in set(trigeorgis["model"])
    row = trigeorgis[trigeorgis["model"] == "my_drnn"].iloc[0]
    assert row["arousal"] != "–" and row["valence"] != "–"
    beyond = pd.read_csv(tables / "beyond_table.csv", dtype=str, keep_default_na=False)
    assert beyond["model"].tolist() == ["drnn_joint"]
    assert beyond["system"].iloc[0] == "beyond: drnn on egemaps, joint (CCC)" and "[" in beyond["arousal"].iloc[0]
    findings = pd.read_csv(tables / "findings.csv", keep_default_na=False)
    own = findings[findings["paper"] == "config findings"]
    assert own["claim"].tolist() == ["my_drnn beats drnn_joint"]
    assert own["verdict"].iloc[0] in {"supported", "contradicted", "inconclusive", "collapsed"}
    assert own["system_a"].iloc[0] == "eGeMAPS + BLSTM-DRNN [my_drnn] (CCC)"
    # renamed, the hand-crafted systems still take part in the papers' claims
    post = findings[findings["claim"] == "post-processing raises test CCC"]
    assert post["system_a"].str.contains("my_svr").any() and post["system_a"].str.contains("my_drnn").any()
    assert main(["show", str(tmp_path / "results")]) == 0
    shown = capsys.readouterr().out
    assert "beyond_table.md" in shown and "my_drnn beats drnn_joint" in shown


def test_a_claim_naming_an_unknown_model_stops_the_run_at_load(tmp_path):
    """A dry run (no job runs) already stops, naming the claim and the configured models."""
    config = yaml.safe_load(CONFIG.read_text())
    config["findings"] = [{"a": "mymodel", "b": "my_drnn", "dimension": "arousal", "claim": "greater"}]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = snakemake(tmp_path, "-n", "--cores", "1", "--configfile", str(path), check=False)
    assert proc.returncode != 0
    assert ("findings[0].a: no model 'mymodel' in models (configured: ['drnn_joint', 'my_drnn', 'my_svr'])"
            in proc.stdout + proc.stderr)
