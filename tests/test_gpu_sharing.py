"""Small training jobs sharing one GPU (share slots of `emotrace.devices`; the GPU faked, training on the CPU) train
exactly what each trains alone, and the rule's placement gives shares only where a local GPU can be shared."""

from __future__ import annotations

import logging
import multiprocessing
import os
from functools import partial

import numpy as np
import pytest
import torch

from emotrace import devices, gpucost, resources
from emotrace.errors import InputError
from emotrace.experiment import train_system
from emotrace.normalise import apply_stats, fit_stats
from emotrace.predictions import read_predictions
from test_training import energy_features, make_corpus

SETTINGS = {"network": "drnn", "optimizer": "sgd", "lr": 0.05, "batch_size": 5, "max_epochs": 2, "patience": 2,
            "kwargs": {"hidden_size": 8, "num_layers": 1}}


def shared_job(seed: int, corpus: dict, args: dict, out, lock_dir: str, slots: int, got, go) -> None:
    """A small train_network job: its share of the one faked GPU, held while it trains (on the CPU here)."""
    os.environ[devices.COUNT_ENV] = "1"
    torch.set_num_threads(1)
    with devices.claim_device(directory=lock_dir, poll=0.05, slots=slots) as held:
        got.put((seed, held.device, held.slots))
        go.wait(60)  # every job holds its share before any trains: they train side by side
        train_system(SETTINGS, "ccc", ["arousal"], seed, corpus, out, logging.getLogger("job"), device="cpu", **args)


def test_small_jobs_sharing_the_gpu_train_what_each_trains_alone(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    feats = energy_features(corpus, tmp_path, np.random.default_rng(5).standard_normal)
    stats = fit_stats([np.load(feats[p.stem])["values"] for p in corpus["train"]], ["energy", "noise"])
    args = dict(features=feats, normalise=partial(apply_stats, stats=stats), feature_set="energy", feature_stats=stats)
    ctx = multiprocessing.get_context("spawn")
    got, go = ctx.Queue(), ctx.Event()
    locks = str(tmp_path / "locks")
    jobs = [ctx.Process(target=shared_job, args=(seed, corpus, args, tmp_path / f"shared{seed}", locks, 8, got, go))
            for seed in (1, 2)]
    for job in jobs:
        job.start()
    try:
        held = sorted(got.get(timeout=120) for _ in jobs)
    finally:
        go.set()
        for job in jobs:
            job.join(300)
    assert held == [(1, "cuda:0", 8), (2, "cuda:0", 8)]  # both on the one GPU at once, 16 of its 20 slots
    assert [job.exitcode for job in jobs] == [0, 0]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for seed in (1, 2):
            train_system(SETTINGS, "ccc", ["arousal"], seed, corpus, tmp_path / f"alone{seed}",
                         logging.getLogger("alone"), device="cpu", **args)
    finally:
        torch.set_num_threads(threads)
    for seed in (1, 2):
        alone = read_predictions(tmp_path / f"alone{seed}" / "predictions.csv")["prediction"].to_numpy()
        shared = read_predictions(tmp_path / f"shared{seed}" / "predictions.csv")["prediction"].to_numpy()
        np.testing.assert_array_equal(shared, alone)
    one = read_predictions(tmp_path / "alone1" / "predictions.csv")["prediction"].to_numpy()
    assert not np.array_equal(one, read_predictions(tmp_path / "alone2" / "predictions.csv")["prediction"].to_numpy())


PAPER_DRNN = {"network": "drnn", "batch_size": 5, "lr": [1e-4, 1e-3, 1e-2]}
PAPER_E2E = {"network": "e2e", "batch_size": 50, "lr": 2e-3, "precision": "bf16"}


def test_placement_shares_only_a_local_gpu_and_keeps_cpu_and_cluster_jobs_as_they_were(monkeypatch):
    """CPU-only machine and cluster jobs: 4 threads, the whole `gpu` pool, no slots (as before sharing). A local GPU:
    a job's share from the cost model; time-sliced, the DRNN's three rates fused into one network take about a
    third (in three processes, `fuse: false`, they fill the GPU: exclusive), e2e about half; under MPS the DRNN
    job takes a few slots; threads do not depend on the mode."""
    before = {"threads": resources.TRAIN_THREADS, "gpu": 1, "gpu_slots": 0}
    monkeypatch.setenv(devices.COUNT_ENV, "0")
    for settings in (PAPER_DRNN, PAPER_E2E):
        assert resources.train_placement(settings, local_exec=True) == before
        assert resources.train_placement(settings, local_exec=False) == before
    monkeypatch.setenv(devices.COUNT_ENV, "1")
    assert resources.train_placement(PAPER_DRNN, local_exec=False) == before  # SLURM: a GPU per job
    h100 = gpucost.H100_MB
    drnn_time = resources.train_placement(PAPER_DRNN, True, "time", h100)
    drnn_mps = resources.train_placement(PAPER_DRNN, True, "mps", h100)
    e2e_time = resources.train_placement(PAPER_E2E, True, "time", h100)
    assert drnn_time == {"threads": 2, "gpu": 0, "gpu_slots": 8}  # one process, one loading worker's share
    processes = {**PAPER_DRNN, "fuse": False}
    assert resources.train_placement(processes, True, "time", h100) == {"threads": 4, "gpu": 1,
                                                                        "gpu_slots": devices.SLOTS}
    assert drnn_mps["gpu"] == 0 and 1 <= drnn_mps["gpu_slots"] <= 5 and drnn_mps["threads"] == drnn_time["threads"]
    assert e2e_time["gpu"] == 0 and 8 <= e2e_time["gpu_slots"] <= 10
    fp32 = resources.train_placement({**PAPER_E2E, "precision": "fp32"}, True, "time", h100)  # more arithmetic
    assert fp32["gpu_slots"] > e2e_time["gpu_slots"]
    assert resources.train_placement(PAPER_DRNN, True, "off", h100)["gpu_slots"] == devices.SLOTS
    assert resources.train_placement({**processes, "pack": 1}, True, "mps", h100)["threads"] < \
        resources.train_placement(processes, True, "mps", h100)["threads"]
    # memory counts too: on an 8 GB GPU an e2e job takes most of it even where its time share is small
    assert resources.train_placement(PAPER_E2E, True, "mps", 8 * 1024)["gpu_slots"] > e2e_time["gpu_slots"]
    assert gpucost.job_placement("e2e", 50, 1, "time", device_mb=None)["slots"] == devices.SLOTS  # memory unknown
    with pytest.raises(InputError, match="unknown mode"):
        resources.train_placement(PAPER_E2E, True, "sometimes", h100)
