"""Every experiment config in configs/ loads, validates against the schema and plans its DAG (a dry run up to what
needs the corpus's files), with its corpus root pointed at an empty folder where it names a real corpus."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import REPO, snakemake

pytestmark = pytest.mark.integration

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_validates_and_dry_runs(path: Path, tmp_path):
    config = yaml.safe_load(path.read_text())
    if config["corpus"]["adapter"] != "synthetic":  # a real corpus: the root must exist, its files come later
        root = tmp_path / "corpus"
        root.mkdir()
        config["corpus"]["root"] = str(root)
    cfg = tmp_path / path.name
    cfg.write_text(yaml.safe_dump(config))
    proc = snakemake(tmp_path, "-n", "--cores", "1", "--configfile", str(cfg))
    jobs = proc.stdout.split("Job stats:", 1)[-1]
    assert "ingest" in jobs and "split" in jobs, proc.stdout[-2000:]
    assert any(rule in jobs for rule in ("train_network", "train_svr", "synthesize_recording")), proc.stdout[-2000:]
    corpus = config["corpus"]["name"]
    logs = [line.split(":", 1)[1].strip() for line in proc.stdout.splitlines() if line.strip().startswith("log:")]
    assert logs and all(corpus in log for log in logs), [log for log in logs if corpus not in log]
