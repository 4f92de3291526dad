"""Cores busy, idle tail and critical chain of a run, from benchmark files with set end times."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from emotrace.runcost import collect
from emotrace.utilisation import critical_chain, describe, job_times, last_run, utilisation

T0 = 1_700_000_000.0


def bench(root: Path, rule: str, job: str, start: float, wall: float, cpu: float) -> Path:
    """A benchmark file of a job that ran from T0 + start for `wall` s using `cpu` CPU seconds."""
    path = root / "benchmarks" / "c" / rule / f"{job}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\tcpu_time\n{wall}\t0:00:00\t100\t{cpu}\n")
    os.utime(path, (T0 + start + wall, T0 + start + wall))
    return path


def timed_run(tmp_path, specs):
    paths = [bench(tmp_path, *spec) for spec in specs]
    return job_times(paths, collect(paths))


def test_two_cores_with_an_idle_tail(tmp_path):
    # features on both cores 0-10 s, two trainings 10-40 s and 10-20 s, then one training alone 40-70 s
    timed = timed_run(tmp_path, [
        ("extract_features", "egemaps/r1", 0, 10, 10), ("extract_features", "egemaps/r2", 0, 10, 10),
        ("train_network", "e2e/ccc/arousal/seed1", 10, 30, 30), ("train_network", "drnn/mse/arousal/seed1", 10, 10, 10),
        ("train_network", "blstm6373/ccc/joint/seed1", 40, 30, 30),
    ])
    u = utilisation(last_run(timed), cores=2)
    assert u.span_s == pytest.approx(70)
    assert u.busy == pytest.approx(90 / 140)
    assert u.idle_tail_s == pytest.approx(50)  # one job at a time once drnn ended at 20 s
    assert [name.split()[0] for name, _ in u.chain] == ["extract_features/egemaps", "train_network/e2e",
                                                          "train_network/blstm6373"]
    lines = describe(u)
    assert lines[0].startswith("cores busy: 64%") and "blstm6373" in lines[2]


def test_jobs_of_an_earlier_run_are_left_out(tmp_path):
    timed = timed_run(tmp_path, [("preprocess", "r1", 0, 5, 5), ("preprocess", "r2", 5000, 5, 5),
                                 ("segment", "r2", 5005, 5, 4)])
    run = last_run(timed)
    assert sorted(run["job"]) == ["r2", "r2"] and len(run) == 2
    assert utilisation(run, cores=1).span_s == pytest.approx(10)


def test_chain_of_a_single_job(tmp_path):
    timed = timed_run(tmp_path, [("preprocess", "r1", 0, 5, 5)])
    assert critical_chain(last_run(timed)) == [0]


def test_consecutive_jobs_of_a_stage_are_shown_once(tmp_path):
    timed = timed_run(tmp_path, [("preprocess", "r1", 0, 5, 5), ("preprocess", "r2", 5, 5, 5),
                                 ("train_network", "e2e/ccc/arousal/seed1", 10, 20, 20)])
    line = describe(utilisation(last_run(timed), cores=1))[2]
    assert "preprocess x 2 (10.0 s) -> train_network/e2e e2e/ccc/arousal/seed1 (20.0 s)" in line
