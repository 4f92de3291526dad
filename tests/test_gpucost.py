"""The GPU cost model (estimates until bench/gpu_check.py runs on a GPU): its parts, and the paper grid it predicts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from emotrace import gpucost
from emotrace.errors import InputError

REPO = Path(__file__).resolve().parents[1]


def paper() -> dict:
    config = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    validate(config, str(REPO / "schemas" / "config.schema.yaml"))
    return config


def test_step_and_training_costs():
    assert gpucost.step_seconds("e2e", 50) > gpucost.step_seconds("e2e", 5) > gpucost.cost("e2e").latency
    assert gpucost.step_seconds("e2e2017", 50, "bf16") < gpucost.step_seconds("e2e2017", 50)
    before = gpucost.training_seconds("blstm6373", 50, 2384, 765, 10, improved=False)
    after = gpucost.training_seconds("blstm6373", 50, 2384, 765, 10, improved=True)
    assert after < before / 3  # its data path dominated: item loading on the training process
    assert gpucost.training_seconds("drnn", 5, 2384, 765, 20) == pytest.approx(
        2 * gpucost.training_seconds("drnn", 5, 2384, 765, 10))
    assert gpucost.packed_seconds(100, 1) == 100 and 100 < gpucost.packed_seconds(100, 3) < 300
    assert gpucost.gpu_memory_mb("e2e", 10**7, 50, 2) > gpucost.gpu_memory_mb("e2e", 10**7, 50, 1)
    with pytest.raises(InputError, match="no GPU cost constants for 'svr'"):
        gpucost.cost("svr")


def test_paper_grid_estimate_before_and_after():
    """60 network jobs, 108 trainings; the model reproduces the issue's 13-15 h estimate of the trainer as it was."""
    config = paper()
    sizes = gpucost.expected_segments(config)
    assert sizes == {"train": 16 * 149, "dev": 15 * 51}
    rows = gpucost.grid_jobs(config, sizes)
    assert sum(r["jobs"] for r in rows) == 60 and sum(r["jobs"] * r["trainings_per_job"] for r in rows) == 108
    before = sum(r["jobs"] * r["job_s_before"] for r in rows) / 3600
    after = sum(r["jobs"] * r["job_s_after"] for r in rows) / 3600
    assert 12 < before < 17 and after < before / 3
