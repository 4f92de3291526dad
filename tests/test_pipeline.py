"""Integration: the snakemake command line on the default DAG (dry run, lint) and on the tiny config (real run)."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, TINY, snakemake

pytestmark = pytest.mark.integration


def test_default_dag_dry_run(tmp_path):
    proc = snakemake(tmp_path, "-n", "--cores", "2", "--configfile", str(REPO / "config.yaml"))
    assert "synthesize_recording" in proc.stdout and "train_network" in proc.stdout
    # every job's log names its corpus, so runs on two corpora in one folder keep apart
    logs = [line.split(":", 1)[1].strip() for line in proc.stdout.splitlines() if line.strip().startswith("log:")]
    assert len(logs) > 50
    outside = [log for log in logs if "/synthetic/" not in log and not log.endswith("/synthetic.log")]
    assert not outside, outside


def test_lint_is_clean():
    proc = snakemake(REPO, "--lint", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_snakefmt_check_is_clean():
    """The Snakefile and rules/ are as snakefmt formats them (the snakemake-workflows catalog checks this).

    snakefmt comes from the project's environment (requirements.lock); $SNAKEFMT names another one.
    """
    snakefmt = os.environ.get("SNAKEFMT") or str(Path(sys.executable).parent / "snakefmt")
    assert Path(snakefmt).is_file(), f"{snakefmt} is missing: `make setup` installs snakefmt from requirements.lock"
    proc = subprocess.run([snakefmt, "--check", "Snakefile", "rules"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "change,key",
    [
        ({"corpus": {"dimensionz": ["arousal"]}}, "dimensionz"),
        ({"synthetic": {"n_speakers": "many"}}, "n_speakers"),
        ({"synthetic": {"n_speakers": 1}}, "n_speakers"),
        ({"models": {"e2e": {"network": "e2e3000", "objectives": ["ccc"]}}}, "e2e3000"),
        ({"models": {"e2e": {"network": "e2e", "objectives": ["mae"]}}}, "mae"),
    ],
)
def test_bad_config_stops_naming_the_key(tmp_path, change, key):
    config = yaml.safe_load(TINY.read_text())
    for section, value in change.items():
        config[section] = {**config.get(section, {}), **value}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    proc = snakemake(tmp_path, "-n", "--cores", "1", "--configfile", str(bad), check=False)
    assert proc.returncode != 0
    assert key in proc.stdout + proc.stderr


def test_tiny_run_writes_every_stage(tiny_run):
    res = tiny_run / "results" / "tiny"
    manifest = pd.read_csv(res / "ingest" / "manifest.csv")
    split = pd.read_csv(res / "split" / "split.csv")
    assert set(split["partition"]) == {"train", "dev", "test"}
    assert split.groupby("group")["partition"].nunique().max() == 1
    for rec in manifest["recording"]:
        audio = np.load(res / "preprocess" / f"{rec}.npy")
        assert abs(len(audio) / 16000 - manifest.set_index("recording").loc[rec, "duration"]) < 0.01
        seg = np.load(res / "segment" / f"{rec}.npz")
        assert seg["audio"].shape[1] == 96000 and seg["labels"].shape[1:] == (150, 2)
    metrics = pd.read_csv(res / "tables" / "all_metrics.csv")
    assert set(metrics["model"]) == set(yaml.safe_load(TINY.read_text())["models"])
    assert np.isfinite(metrics["ccc"]).all()
    for stem in ("trigeorgis2016_table1", "yang2018_table1"):
        for ext in (".csv", ".md", ".tex", ".html"):
            assert (res / "tables" / f"{stem}{ext}").stat().st_size > 0
        assert "raters (leave one out)" in (res / "tables" / f"{stem}.md").read_text()
    # every CCC has its interval; the generated corpus's six raters give the raters' ceiling
    assert (metrics["ccc_low"] <= metrics["ccc_high"]).all() and metrics["ccc_seeds_low"].notna().all()
    raters = pd.read_csv(res / "ingest" / "raters.csv")
    assert raters["rater"].nunique() == 6 and set(raters["recording"]) == set(manifest["recording"])
    agreement = pd.read_csv(res / "tables" / "raters_agreement.csv")
    assert set(agreement["partition"]) == {"train", "dev", "test"} and (agreement["n_raters"] == 6).all()
    findings = pd.read_csv(res / "tables" / "findings.csv")
    assert len(findings) >= 20 and set(findings["verdict"]) <= {
        "supported", "contradicted", "inconclusive", "collapsed", "no result"}


def test_every_gold_frame_is_predicted(tiny_run):
    """With `start` alignment and N * 150 + 1 label frames (20 s: frames 0..500), the last frame is scored too."""
    res = tiny_run / "results" / "tiny"
    labels = pd.read_csv(res / "ingest" / "labels.csv", dtype={"recording": str})
    assert labels.groupby(["recording", "dimension"])["frame"].max().eq(500).all()
    for stage in ("train", "postprocess"):
        for path in sorted((res / stage).glob("*/*/*/seed*/predictions.csv")):
            pred = pd.read_csv(path, dtype={"recording": str})
            gold = labels[labels["recording"].isin(set(pred["recording"])) & labels["dimension"].isin(set(pred["dimension"]))]
            keys = ["recording", "dimension", "frame"]
            assert len(pred) == len(gold) and pred[keys].merge(gold[keys]).shape[0] == len(gold), path


def test_rerun_does_no_work(tiny_run):
    proc = snakemake(tiny_run, "-n", "--configfile", str(TINY), "--cores", "2")
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout


def test_same_seed_same_corpus_and_split(tiny_run, tmp_path):
    """A second corpus from the same seed is byte-identical, and so is its split."""
    snakemake(tmp_path, "--configfile", str(TINY), "--cores", "2", "results/tiny/split/split.csv")
    a, b = tiny_run / "results", tmp_path / "results"
    for rel in ["corpora/tiny/metadata.csv", "tiny/split/split.csv", "tiny/ingest/labels.csv"]:
        assert filecmp.cmp(a / rel, b / rel, shallow=False), rel
    for wav in (a / "corpora" / "tiny" / "audio").glob("*.wav"):
        assert filecmp.cmp(wav, b / "corpora" / "tiny" / "audio" / wav.name, shallow=False), wav.name


def test_bad_corpus_root_names_the_folder(tmp_path):
    config = yaml.safe_load(TINY.read_text())
    config["corpus"].update(adapter="generic", root=str(tmp_path / "nowhere"), name="gen")
    cfg = tmp_path / "generic.yaml"
    cfg.write_text(yaml.safe_dump(config))
    proc = snakemake(tmp_path, "--cores", "1", "--configfile", str(cfg), check=False)
    assert proc.returncode != 0
    assert "nowhere" in proc.stdout + proc.stderr
