"""A job's learning-rate grid trained side by side (separate processes, as on a GPU) gives the predictions of one by one."""

from __future__ import annotations

import logging
from functools import partial

import numpy as np
import pytest
import torch

from emotrace.experiment import train_system
from emotrace.io import write_npz
from emotrace.normalise import apply_stats, fit_stats
from emotrace.packing import pack_width
from emotrace.predictions import read_predictions
from test_training import make_corpus


def energy_features(corpus: dict, folder) -> dict:
    """A real feature file per recording: log frame energy and a noise column (the DRNN reads features)."""
    rng = np.random.default_rng(5)
    feats = {}
    for path in corpus["train"] + corpus["dev"] + corpus["test"]:
        with np.load(path) as npz:
            frame0, mask, rec = npz["frame0"], npz["mask"], str(npz["recording"])
            energy = np.log(np.mean(npz["audio"].reshape(len(frame0), 150, 640) ** 2, axis=2) + 1e-6)
        n = int(frame0[-1] + mask[-1].sum())
        values = np.zeros((n, 2), np.float32)
        values[(frame0[:, None] + np.arange(150))[mask], 0] = energy[mask]
        values[:, 1] = rng.standard_normal(n)
        feats[rec] = folder / "features" / f"{rec}.npz"
        write_npz(feats[rec], values=values)
    return feats


def test_packed_grid_equals_one_by_one(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    feats = energy_features(corpus, tmp_path)
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
