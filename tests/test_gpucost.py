"""The GPU cost model (estimates until bench/gpu_check.py runs on a GPU): its parts, and the paper grid it predicts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from emotrace import devices, gpucost
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


def test_paper_grid_estimate_before_and_after(monkeypatch):
    """60 network jobs, 108 trainings; the model reproduces the issue's 13-15 h estimate of the trainer as it was.
    After it, with a DRNN job's three rates fused into one network (`emotrace.fused`): one job at a time gains
    little over processes side by side (both fill the GPU's time line), but a fused DRNN job takes a third of a
    time-sliced GPU, so two run beside each other: 2.4 h against 4.4 h with processes; under MPS, bound by the
    8 host cores, 1.3 h, and still under 2 h if the latency-bound kernels hold 2.5 x the SMs assumed."""
    config = paper()
    sizes = gpucost.expected_segments(config)
    assert sizes == {"train": 16 * 149, "dev": 15 * 51}
    rows = gpucost.grid_jobs(config, sizes)
    assert sum(r["jobs"] for r in rows) == 60 and sum(r["jobs"] * r["trainings_per_job"] for r in rows) == 108
    before = sum(r["jobs"] * r["job_s_before"] for r in rows) / 3600
    after = sum(r["jobs"] * r["job_s_after"] for r in rows) / 3600
    assert 12 < before < 17 and after < before / 3
    hours = {mode: gpucost.grid_seconds(rows, mode) / 3600 for mode in gpucost.SHARING_MODES}
    assert hours["off"] == pytest.approx(after)  # one GPU job at a time: the jobs' sum
    assert hours["time"] <= 2.5 and hours["mps"] <= 1.5
    drnn = next(r for r in rows if r["model"] == "drnn_compare")
    assert drnn["fused"] and drnn["epochs"] == gpucost.SIDE_BY_SIDE_EPOCHS
    assert (drnn["slots_time"], drnn["gpu_time"], drnn["threads"]) == (8, 0, 2)  # one stream: 0.35 of the GPU
    assert drnn["slots_mps"] <= 2 and drnn["gpu_mps"] == 0
    processes = gpucost.grid_jobs({**config, "training": {**config["training"], "fuse": False}}, sizes)
    drnn = next(r for r in processes if r["model"] == "drnn_compare")
    assert not drnn["fused"] and (drnn["slots_time"], drnn["gpu_time"], drnn["threads"]) == (devices.SLOTS, 1, 4)
    assert gpucost.grid_seconds(processes, "time") / 3600 > 1.5 * hours["time"]  # 3 x 0.35 > 1: a whole GPU each
    assert gpucost.grid_seconds(rows, "mps", cores=16) / 3600 < hours["mps"]  # the host cores bound MPS
    monkeypatch.setattr(gpucost, "LATENCY_SM_SHARE", 2.5 * gpucost.LATENCY_SM_SHARE)
    assert gpucost.grid_seconds(gpucost.grid_jobs(config, sizes), "mps") / 3600 <= 2.0


def test_a_measured_share_replaces_the_assumed_one():
    """bench/gpu_check.py measures a fused DRNN training's share of the GPU: a smaller one lets more jobs share it."""
    config = paper()
    sizes = gpucost.expected_segments(config)
    assumed = gpucost.grid_seconds(gpucost.grid_jobs(config, sizes), "time")
    measured = gpucost.grid_jobs(config, sizes, fractions={"drnn": 0.1}, measured_mode="time")
    assert next(r for r in measured if r["network"] == "drnn")["slots_time"] == 2
    assert gpucost.grid_seconds(measured, "time") < assumed * 0.8
    mps_measured = gpucost.grid_jobs(config, sizes, fractions={"drnn": 0.1}, measured_mode="mps")
    assert gpucost.grid_seconds(mps_measured, "time") == pytest.approx(assumed)  # a figure of the other mode


def test_fused_networks_share_one_latency_floor():
    one = gpucost.step_seconds("drnn", 5)
    assert one < gpucost.step_seconds("drnn", 5, members=3) < 1.1 * one  # latency bound: the arithmetic is small
    assert gpucost.gpu_fraction("drnn", 5, members=3) < 1.1 * gpucost.gpu_fraction("drnn", 5)
    assert gpucost.gpu_memory_mb("drnn", 10**5, 5, 1, members=3) < gpucost.gpu_memory_mb("drnn", 10**5, 5, 3)
    assert gpucost.job_shape({"network": "drnn", "lr": [0.1, 0.01]}) == (1, 2)
    assert gpucost.job_shape({"network": "drnn", "lr": [0.1, 0.01], "fuse": False, "pack": 1}) == (1, 1)
    assert gpucost.job_shape({"network": "drnn", "lr": [0.1, 0.01], "fuse": False}) == (2, 1)
    assert gpucost.job_shape({"network": "e2e", "lr": [0.1, 0.01, 1.0]}) == (3, 1)
    assert gpucost.job_shape({"network": "drnn", "lr": 0.1}) == (1, 1)
    assert not gpucost.fused("drnn", 3, "auto", cuda=False) and gpucost.fused("drnn", 3, True, cuda=False)


def test_gpu_fractions_and_cores_of_a_training():
    assert gpucost.gpu_fraction("drnn", 5, "time") == pytest.approx(gpucost.LATENCY_BUSY, abs=0.01)
    assert gpucost.gpu_fraction("drnn", 5, "mps") == pytest.approx(gpucost.LATENCY_SM_SHARE, abs=0.01)
    assert gpucost.gpu_fraction("e2e2017", 50, "time") > gpucost.gpu_fraction("e2e", 50, "time")  # more arithmetic
    assert gpucost.gpu_fraction("my.plugin:Net", 50, "mps") == 1.0  # no constants: a whole GPU
    assert gpucost.job_cores("drnn", 5, 3) == 4 and gpucost.job_cores("drnn", 5, 1) == 2
    assert gpucost.job_cores("blstm6373", 50) == 1 + gpucost.LOADING_WORKERS  # loading bound: every worker busy
    assert gpucost.job_share("e2e", 50, 1, "off") == 1.0
    assert gpucost.job_share("drnn", 5, 1, "mps", memory_mb=40 * 1024) == pytest.approx(0.5)  # memory counts
    with pytest.raises(InputError, match="unknown mode"):
        gpucost.gpu_fraction("drnn", 5, "shared")


def test_schedule_runs_jobs_as_snakemake_and_the_share_slots_do():
    job = gpucost.Job
    assert gpucost.schedule([job("a", 10, 1, 0, 10), job("b", 10, 1, 0, 10)]) == 10  # two halves side by side
    assert gpucost.schedule([job("a", 10, 1, 0, 10), job("b", 10, 1, 0, 10), job("c", 5, 1, 1, 20)]) == 15
    assert gpucost.schedule([job(str(i), 10, 4, 0, 2) for i in range(4)], cores=8) == 20  # cores bound them
    # a started job holds its cores while it waits for slots: `late` cannot start before `big` ends
    assert gpucost.schedule([job("big", 10, 2, 1, 20), job("small", 10, 6, 0, 1), job("late", 10, 1, 0, 1)]) == 20
    assert gpucost.schedule([job("exclusive", 10, 1, 1, 20), job("next", 10, 1, 1, 1)]) == 20  # the gpu pool of 1
    assert gpucost.schedule([job("cpu", 7, 16, 0, 0)], cores=8) == 7  # threads are capped at the cores
