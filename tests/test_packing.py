"""A job's learning-rate grid trained side by side (separate processes, as on a GPU) gives the predictions of one by one."""

from __future__ import annotations

import logging
from functools import partial

import numpy as np
import torch

from emotrace.experiment import train_system
from emotrace.normalise import apply_stats, fit_stats
from emotrace.packing import pack_width
from emotrace.predictions import read_predictions
from test_training import energy_features, make_corpus


def test_packed_grid_equals_one_by_one(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    feats = energy_features(corpus, tmp_path, np.random.default_rng(5).standard_normal)
    stats = fit_stats([np.load(feats[p.stem])["values"] for p in corpus["train"]], ["energy", "noise"])
    settings = {"network": "drnn", "optimizer": "sgd", "lr": [0.01, 0.05], "batch_size": 5, "max_epochs": 2,
                "patience": 2, "kwargs": {"hidden_size": 8, "num_layers": 1}}
    args = dict(features=feats, normalise=partial(apply_stats, stats=stats), feature_set="energy", feature_stats=stats)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        log = logging.getLogger("test.packing")
        alone = train_system({**settings, "pack": 1}, "ccc", ["arousal"], 1, corpus, tmp_path / "alone", log, **args)
        packed = train_system({**settings, "pack": 2}, "ccc", ["arousal"], 1, corpus, tmp_path / "packed", log, **args)
    finally:
        torch.set_num_threads(threads)
    assert packed == alone
    for lr in ("0.01", "0.05", None):
        sub = f"lr{lr}/predictions.csv" if lr else "predictions.csv"
        a, b = read_predictions(tmp_path / "alone" / sub), read_predictions(tmp_path / "packed" / sub)
        np.testing.assert_array_equal(a["prediction"].to_numpy(), b["prediction"].to_numpy())
    assert (tmp_path / "alone" / "lr_grid.csv").read_text() == (tmp_path / "packed" / "lr_grid.csv").read_text()


def test_pack_width_packs_on_a_gpu_only():
    assert pack_width("cpu", 3) == 1 and pack_width("cuda:0", 3) == 3
    assert pack_width("cpu", 3, 2) == 2 and pack_width("cuda", 3, 1) == 1 and pack_width("cuda", 2, 8) == 2


def test_trainings_side_by_side_share_the_jobs_loading_workers(tmp_path):
    from emotrace.packing import Training, _share_workers
    from emotrace.training import MAX_AUTO_WORKERS, TrainSettings

    def one(device: str, workers="auto") -> Training:
        return Training(TrainSettings(model="drnn", dimensions=["arousal"], device=device, num_workers=workers),
                        tmp_path, "lr=0.1")

    assert _share_workers(one("cuda:1"), 3).settings.num_workers == max(1, MAX_AUTO_WORKERS // 3)
    assert _share_workers(one("cpu"), 3).settings.num_workers == "auto"
    assert _share_workers(one("cuda:1", 2), 3).settings.num_workers == 2
