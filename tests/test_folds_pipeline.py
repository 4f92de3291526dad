"""Speaker folds through the snakemake command (tests/configs/folds_tiny.yaml: 6 speakers, 3 folds): every
recording tested exactly once, shared stages run once per recording, tables and findings across the folds, and
one more fold reusing every preprocessing, segment and feature file."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml

from conftest import REPO, snakemake
from emotrace.cli import main

CONFIG = REPO / "tests" / "configs" / "folds_tiny.yaml"
SHARED = ("preprocess", "segment", "extract_features")


def jobs_run(log: str) -> dict[str, int]:
    """Jobs per rule that a snakemake call ran or (dry run) would run, from its job lines."""
    counts: dict[str, int] = {}
    for rule in re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):", log, flags=re.M):
        counts[rule] = counts.get(rule, 0) + 1
    return counts


@pytest.fixture(scope="module")
def folds_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("folds")
    proc = snakemake(workdir, "--configfile", str(CONFIG), "--cores", "2")
    return workdir, jobs_run(proc.stdout + proc.stderr)


def test_every_recording_is_tested_once_by_a_model_that_never_heard_its_speaker(folds_run):
    workdir, _ = folds_run
    res = workdir / "results" / "folds"
    splits = [pd.read_csv(res / "folds" / str(k) / "split" / "split.csv", dtype=str) for k in (1, 2, 3)]
    tested = pd.concat([s[s["partition"] == "test"] for s in splits])
    manifest = pd.read_csv(res / "ingest" / "manifest.csv", dtype=str)
    assert sorted(tested["recording"]) == sorted(manifest["recording"])  # each exactly once
    for split in splits:
        groups = split.groupby("group")["partition"].nunique()
        assert (groups == 1).all()  # no speaker in two partitions of a fold
        assert set(split["partition"]) == {"train", "dev", "test"}
    for k, split in enumerate(splits, start=1):
        predictions = pd.read_csv(res / "folds" / str(k) / "train" / "drnn_egemaps" / "ccc" / "arousal" / "seed1"
                                  / "predictions.csv", dtype={"recording": str})
        test = set(predictions.loc[predictions["partition"] == "test", "recording"])
        assert test == set(split.loc[split["partition"] == "test", "recording"])


def test_shared_stages_run_once_per_recording_and_the_rest_once_per_fold(folds_run):
    workdir, jobs = folds_run
    n = len(pd.read_csv(workdir / "results" / "folds" / "ingest" / "manifest.csv"))
    assert {rule: jobs.get(rule) for rule in SHARED} == {rule: n for rule in SHARED}
    assert jobs["split"] == 3 and jobs["feature_stats"] == 3
    assert jobs["train_network"] == 3 and jobs["train_svr"] == 3 and jobs["across_draws"] == 1


def test_tables_and_findings_carry_the_folds(folds_run, capsys):
    workdir, _ = folds_run
    tables = workdir / "results" / "folds" / "tables"
    across = pd.read_csv(tables / "across_draws.csv", keep_default_na=False)
    assert {"drnn_egemaps", "svr_egemaps"} <= set(across["model"])
    findings = pd.read_csv(tables / "findings.csv", keep_default_na=False)
    own = findings[findings["paper"] == "config findings"].iloc[0]
    assert own["verdict"] in {"supported", "contradicted", "inconclusive", "collapsed"}
    assert own["single_split_verdict"] in {"supported", "contradicted", "inconclusive", "collapsed"}
    assert re.fullmatch(r"[0-3] of 3 folds", own["a_beats_b"])
    trigeorgis = (tables / "trigeorgis2016_table1.md").read_text()
    assert "fold" in trigeorgis  # the note says what the cells are
    assert main(["show", str(workdir / "results" / "folds")]) == 0
    shown = capsys.readouterr().out
    assert "across_draws.md" in shown and "folds in the claim's direction" in shown and "robustness" in shown


def test_one_more_fold_reuses_every_shared_file(folds_run, tmp_path):
    workdir, _ = folds_run
    config = yaml.safe_load(CONFIG.read_text())
    config["split"]["folds"] = 4
    path = tmp_path / "four.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = snakemake(workdir, "-n", "--configfile", str(path), "--cores", "2")
    jobs = jobs_run(proc.stdout + proc.stderr)
    assert not any(jobs.get(rule) for rule in SHARED), jobs
    assert jobs.get("split") == 4 and jobs.get("train_network") == 4, jobs


def test_more_folds_than_speakers_is_refused_at_load(tmp_path):
    config = yaml.safe_load(CONFIG.read_text())
    config["split"]["folds"] = 7
    path = tmp_path / "seven.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = snakemake(tmp_path, "-n", "--cores", "1", "--configfile", str(path), check=False)
    assert proc.returncode != 0
    assert "split.folds" in proc.stdout + proc.stderr and "6" in proc.stdout + proc.stderr


def test_redraws_keep_the_published_test_speakers_on_a_release_layout(tmp_path):
    """configs/trigeorgis2016_recola.yaml with `split.redraws: 3` on the full-RECOLA fixture (6 speakers): draw 1
    is the published split, the others keep its test speakers and redraw train and dev; the plan reaches the
    tables across draws."""
    import sys

    sys.path.insert(0, str(REPO / "tests" / "fixtures"))
    import make_corpora

    root = make_corpora.write_recola_full(tmp_path / "corpus", seed=1)
    experiment = yaml.safe_load((REPO / "configs" / "trigeorgis2016_recola.yaml").read_text())
    mine = {"corpus": {"root": str(root)}, "split": {**experiment["split"], "redraws": 3}}
    override = tmp_path / "my_recola.yaml"
    override.write_text(yaml.safe_dump(mine))
    files = ["--configfile", str(REPO / "configs" / "trigeorgis2016_recola.yaml"), str(override)]
    name = experiment["corpus"]["name"]
    res = tmp_path / "results" / name / "redraws"
    snakemake(tmp_path, *[f"results/{name}/redraws/{r}/split/split.csv" for r in (1, 2, 3)], *files, "--cores", "1")
    splits = [pd.read_csv(res / str(r) / "split" / "split.csv", dtype=str).set_index("speaker")["partition"]
              for r in (1, 2, 3)]
    published = {"P16": "train", "P21": "train", "P19": "dev", "P26": "dev", "P13": "test", "P20": "test"}
    assert splits[0].to_dict() == published
    for split in splits[1:]:
        assert sorted(split[split == "test"].index) == ["P13", "P20"]
        assert (split == "train").sum() == 2 and (split == "dev").sum() == 2
    assert len({tuple(s.sort_index()) for s in splits}) == 3  # three different train/dev draws
    plan = snakemake(tmp_path, "-n", *files, "--cores", "1")
    assert f"results/{name}/tables/across_draws.csv" in plan.stdout
