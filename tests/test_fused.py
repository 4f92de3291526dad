"""A DRNN job's learning rates trained as one network (`emotrace.fused`) against the same trainings one by one."""

from __future__ import annotations

import logging
from functools import partial

import numpy as np
import pandas as pd
import pytest
import torch

from emotrace.errors import InputError
from emotrace.experiment import train_system
from emotrace.fused import FusedDRNN, fuses, train_fused
from emotrace.models.recurrent import BLSTMDRNN
from emotrace.normalise import apply_stats, fit_stats
from emotrace.packing import Training
from emotrace.predictions import read_predictions
from emotrace.training import NonFiniteLoss, TrainSettings
from test_training import energy_features, make_corpus

RATES = ("0.01", "0.1", "1")  # lr=1 stops after 2 epochs, the others train 6
TOLERANCE = 1e-5
"""Largest prediction difference allowed between fused and one-by-one trainings: float rounding, compounded
over the test's 6 epochs (measured: 2e-7, at the precision predictions.csv is written with)."""


def test_fused_members_compute_what_each_network_computes_alone():
    torch.manual_seed(0)
    members = [BLSTMDRNN(2, 7, hidden_size=6, num_layers=3) for _ in range(3)]
    fused = FusedDRNN(members).eval()
    x = torch.randn(4, 150, 7)
    y = fused(x)
    assert y.shape == (3, 4, 150, 2)
    for j, m in enumerate(members):
        torch.testing.assert_close(y[j], m.eval()(x), atol=1e-6, rtol=1e-5)
    fused.active = [2, 0]  # a stopped member leaves the batch
    torch.testing.assert_close(fused(x)[0], members[2](x), atol=1e-6, rtol=1e-5)


def test_each_member_gets_only_its_own_gradient():
    torch.manual_seed(1)
    members = [BLSTMDRNN(1, 5, hidden_size=4, num_layers=2) for _ in range(2)]
    fused = FusedDRNN(members).eval()
    x = torch.randn(2, 150, 5)
    fused(x)[0].sum().backward()  # member 0's output only
    assert all(p.grad is None or not p.grad.any() for p in members[1].parameters())
    alone = BLSTMDRNN(1, 5, hidden_size=4, num_layers=2).eval()
    alone.load_state_dict(members[0].state_dict())
    alone(x).sum().backward()
    for (name, p), q in zip(members[0].named_parameters(), alone.parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-6, rtol=1e-5, msg=name)


def _grid(tmp_path, fuse, objective="ccc", **overrides):
    corpus = make_corpus(tmp_path / "corpus")
    feats = energy_features(corpus, tmp_path, np.random.default_rng(5).standard_normal)
    stats = fit_stats([np.load(feats[p.stem])["values"] for p in corpus["train"]], ["energy", "noise"])
    settings = {"network": "drnn", "optimizer": "sgd", "lr": [float(r) for r in RATES], "batch_size": 5,
                "max_epochs": 6, "patience": 1, "kwargs": {"hidden_size": 8, "num_layers": 2}, "fuse": fuse,
                "pack": 1, **overrides}
    args = dict(features=feats, normalise=partial(apply_stats, stats=stats), feature_set="energy", feature_stats=stats)
    out = tmp_path / ("fused" if fuse else "alone")
    return train_system(settings, objective, ["arousal"], 1, corpus, out, logging.getLogger("test.fused"), **args), out


def test_fused_grid_gives_the_one_by_one_predictions_and_choice(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        alone, a_dir = _grid(tmp_path, False)
        fused, f_dir = _grid(tmp_path, True)
    finally:
        torch.set_num_threads(threads)
    assert fused["lr"] == alone["lr"]
    assert fused["dev_ccc_mean"] == pytest.approx(alone["dev_ccc_mean"], abs=TOLERANCE)
    for sub in [f"lr{r}" for r in RATES] + ["."]:
        a, b = read_predictions(a_dir / sub / "predictions.csv"), read_predictions(f_dir / sub / "predictions.csv")
        assert a[["recording", "partition", "frame"]].equals(b[["recording", "partition", "frame"]])
        np.testing.assert_allclose(b["prediction"], a["prediction"], atol=TOLERANCE, rtol=0)
        ha, hb = pd.read_csv(a_dir / sub / "history.csv"), pd.read_csv(f_dir / sub / "history.csv")
        assert list(ha["epoch"]) == list(hb["epoch"])  # the same early stops
        np.testing.assert_allclose(hb["dev_ccc_mean"], ha["dev_ccc_mean"], atol=TOLERANCE)
        assert not (f_dir / sub / "last.pt").exists()
    lengths = {len(pd.read_csv(f_dir / f"lr{r}" / "history.csv")) for r in RATES}
    assert len(lengths) > 1, "the test must cover a training that stops before the others"


@pytest.mark.parametrize("kill_epoch, kill_record, lr1_exact", [(3, 2, False), (2, 3, True)],
                         ids=["after-epoch-3", "before-lr1-is-finished"])
def test_a_killed_fused_job_resumes_each_training_from_its_last_epoch(tmp_path, monkeypatch, kill_epoch, kill_record,
                                                                      lr1_exact):
    """Killed after epoch 3, when lr=1 had already finished (epoch 2), or between lr=1's last epoch and its finishing:
    the trainings resume from their last.pt and end exactly where the uninterrupted run ends; a finished lr=1 (no
    last.pt any more) trains again, as alone, and agrees to rounding."""
    import emotrace.fused

    whole, w_dir = _grid(tmp_path / "whole", True)
    record = emotrace.fused.record_epoch
    calls = []

    def killed(state, epoch, *args):
        row = record(state, epoch, *args)
        calls.append(epoch)
        if calls.count(kill_epoch) == kill_record:  # every training still running has written its last.pt
            raise KeyboardInterrupt
        return row

    monkeypatch.setattr(emotrace.fused, "record_epoch", killed)
    with pytest.raises(KeyboardInterrupt):
        _grid(tmp_path / "killed", True)
    k_dir = tmp_path / "killed" / "fused"
    assert (k_dir / f"lr{RATES[-1]}" / "model.pt").exists() != lr1_exact
    assert (k_dir / f"lr{RATES[0]}" / "last.pt").exists()
    monkeypatch.setattr(emotrace.fused, "record_epoch", record)
    resumed, _ = _grid(tmp_path / "killed", True)
    assert resumed["lr"] == whole["lr"]
    for r in RATES:
        a = read_predictions(w_dir / f"lr{r}" / "predictions.csv")["prediction"]
        b = read_predictions(k_dir / f"lr{r}" / "predictions.csv")["prediction"]
        if r == RATES[-1] and not lr1_exact:
            np.testing.assert_allclose(b, a, atol=TOLERANCE, rtol=0)
        else:
            np.testing.assert_array_equal(b, a)
        assert len(pd.read_csv(k_dir / f"lr{r}" / "history.csv")) == len(pd.read_csv(w_dir / f"lr{r}" / "history.csv"))
        assert not (k_dir / f"lr{r}" / "last.pt").exists()


def test_fusing_is_for_the_drnns_grids_on_a_gpu_unless_asked():
    assert fuses("drnn", "cuda:0", 3) and not fuses("drnn", "cpu", 3)
    assert fuses("drnn", "cpu", 3, True) and not fuses("drnn", "cuda", 3, False)
    assert not fuses("drnn", "cuda", 1) and not fuses("e2e", "cuda", 3) and not fuses("blstm6373", "cpu", 2, True)


def test_trainings_differing_in_more_than_the_rate_are_refused(tmp_path):
    def one(lr, seed=1):
        return Training(TrainSettings(model="drnn", dimensions=["arousal"], lr=lr, seed=seed), tmp_path / str(lr),
                        f"lr={lr}")
    with pytest.raises(InputError, match="more than its learning rate"):
        train_fused([one(0.1), one(0.2, seed=2)], {}, logging.getLogger("test.fused"))


def test_a_diverging_member_is_named(tmp_path):
    with pytest.raises(NonFiniteLoss, match=r"\[lr=1e\+30\] epoch 1 batch 2: training loss is (inf|nan)"):
        _grid(tmp_path, True, "mse", lr=[0.01, 1e30], max_epochs=1)
    assert not (tmp_path / "fused" / "lr0.01" / "model.pt").exists()
