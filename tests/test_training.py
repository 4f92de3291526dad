"""Training loop: outputs, determinism, resume after a kill, early stopping, divergence, checkpoints."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from emotrace import models
from emotrace.errors import InputError
from emotrace.io import write_npz
from emotrace.metrics import ccc
from emotrace.predictions import read_predictions
from emotrace.segments import segment_recording
from emotrace.training import NonFiniteLoss, TrainSettings, load_model, predict, train

DIMS = ["arousal", "valence"]


class TinyAudioNet(nn.Module):
    """A small real audio model following the registry interface: [B, L] -> [B, L/640, n_out]."""

    input_kind = "audio"

    def __init__(self, n_outputs: int, n_features: int | None = None, hidden: int = 8, dropout: float = 0.2):
        super().__init__()
        self.frame = nn.Conv1d(1, 4, kernel_size=640, stride=640)
        self.rnn = nn.GRU(4, hidden, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.frame(x[:, None, :])).transpose(1, 2)
        h, _ = self.rnn(self.drop(h))
        return self.head(self.drop(h))

    def describe(self) -> str:
        return f"TinyAudioNet: conv 4x640/640, GRU {self.rnn.hidden_size}, {sum(p.numel() for p in self.parameters())} parameters"


class TinyFeatureNet(nn.Module):
    """A small real feature model: [B, T, F] -> [B, T, n_out]."""

    input_kind = "features"

    def __init__(self, n_outputs: int, n_features: int | None = None, hidden: int = 6):
        super().__init__()
        self.rnn = nn.GRU(n_features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(x)[0])

    def describe(self) -> str:
        return f"TinyFeatureNet: GRU {self.rnn.hidden_size} on {self.rnn.input_size} features"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny recurrent models run faster on one thread than on two busy cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def tiny_models(monkeypatch):
    """Register the tiny models in the real registry for the duration of a test."""
    monkeypatch.setitem(models.MODELS, "tiny", TinyAudioNet)
    monkeypatch.setitem(models.MODELS, "tinyfeat", TinyFeatureNet)


def envelope(n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth random curve in [0.2, 1.8], one value per 40 ms frame."""
    knots = rng.uniform(0.2, 1.8, size=n_frames // 25 + 2)
    return np.interp(np.arange(n_frames) / 25.0, np.arange(len(knots)), knots)


def make_corpus(folder, flip_dev: bool = False, huge_train: bool = False) -> dict[str, list]:
    """Noise whose loudness follows a hidden curve; arousal is that curve, valence its negative, slower.

    3 train recordings (16 s, overlapping tiling), 2 dev (12 s) and 1 test (8 s), contiguous tiling.
    `flip_dev` negates the dev gold so that learning the train mapping lowers dev CCC.
    """
    rng = np.random.default_rng(7)
    files: dict[str, list] = {"train": [], "dev": [], "test": []}
    plan = [("train", 400), ("train", 400), ("train", 400), ("dev", 300), ("dev", 300), ("test", 200)]
    for i, (partition, n_frames) in enumerate(plan):
        curve = envelope(n_frames, rng)
        gain = np.repeat(curve, 640)
        audio = (rng.standard_normal(n_frames * 640) * gain).astype(np.float32)
        if huge_train and partition == "train":
            audio *= 1e3
        arousal = curve - 1.0
        valence = -np.convolve(arousal, np.ones(25) / 25, mode="same")
        labels = np.stack([arousal, valence], axis=1).astype(np.float32)
        if flip_dev and partition == "dev":
            labels = -labels
        name = f"{partition}{i}"
        hop = 75 if partition == "train" else None
        path = folder / "segment" / f"{name}.npz"
        write_npz(path, **segment_recording(audio, labels, DIMS, name, "start", hop))
        files[partition].append(path)
    return files


def settings(**overrides) -> TrainSettings:
    base = dict(model="tiny", dimensions=DIMS, objective="ccc", optimizer="adam", lr=0.01,
                batch_size=4, max_epochs=4, patience=10, seed=3)
    base.update(overrides)
    return TrainSettings(**base)


def run(s: TrainSettings, files: dict, out, **kw) -> dict:
    return train(s, files["train"], files["dev"], files["test"], out, logging.getLogger("test"), **kw)


def weights(path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory):
    """One uninterrupted run (4 epochs) that several tests compare against."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(models.MODELS, "tiny", TinyAudioNet)
        out = tmp_path_factory.mktemp("reference")
        summary = run(settings(), corpus, out)
    return out, summary


def test_outputs_and_learning(reference, corpus, caplog):
    out, summary = reference
    assert {p.name for p in out.iterdir()} == {"model.pt", "history.csv", "predictions.csv"}  # last.pt removed
    history = pd.read_csv(out / "history.csv")
    assert list(history.columns) == ["epoch", "train_loss", "dev_ccc_arousal", "dev_ccc_valence", "dev_ccc_mean", "seconds"]
    assert history["epoch"].tolist() == [1, 2, 3, 4]
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    assert summary["dev_ccc"]["arousal"] > 0.5  # loudness is learnable from noise in a few epochs
    preds = read_predictions(out / "predictions.csv")
    counts = preds.groupby(["recording", "partition", "dimension"]).size()
    assert counts.to_dict() == {(r, p, d): n for r, p, n in [("dev3", "dev", 300), ("dev4", "dev", 300), ("test5", "test", 200)]
                                for d in DIMS}
    dev = preds[(preds["partition"] == "dev") & (preds["dimension"] == "arousal")]
    assert ccc(dev["prediction"], dev["gold"]) == pytest.approx(summary["dev_ccc"]["arousal"], abs=1e-6)
    ckpt = torch.load(out / "model.pt", weights_only=True)
    assert ckpt["format"] == "emotrace-model/1" and ckpt["model"] == "tiny" and ckpt["dimensions"] == DIMS
    assert ckpt["n_outputs"] == 2 and ckpt["sample_rate"] == 16000 and ckpt["segment_samples"] == 96000
    assert ckpt["label_offset"] == 0 and "feature_set" not in ckpt


def test_log_names_model_and_epochs(corpus, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="test"):
        run(settings(max_epochs=1), corpus, tmp_path)
    text = caplog.text
    assert "TinyAudioNet" in text and "trainable parameters" in text
    assert "epoch 1 train_loss" in text and "dev_ccc" in text and "(arousal " in text and "seconds" in text


def test_same_settings_same_numbers(reference, corpus, tmp_path):
    out, _ = reference
    run(settings(), corpus, tmp_path)
    first, second = pd.read_csv(out / "history.csv"), pd.read_csv(tmp_path / "history.csv")
    pd.testing.assert_frame_equal(first.drop(columns="seconds"), second.drop(columns="seconds"))
    assert (out / "predictions.csv").read_bytes() == (tmp_path / "predictions.csv").read_bytes()
    for name, tensor in weights(out / "model.pt").items():
        assert torch.equal(tensor, weights(tmp_path / "model.pt")[name]), name
    # and a different seed gives different numbers
    other = tmp_path / "other"
    run(settings(seed=4, max_epochs=1), corpus, other)
    assert pd.read_csv(other / "history.csv")["train_loss"][0] != first["train_loss"][0]


class Killed(Exception):
    """Stands for the job being killed between two epochs."""


def test_resume_after_kill_equals_uninterrupted(reference, corpus, tmp_path):
    out, summary = reference

    def kill_after_second(epoch, row):
        if epoch == 2:
            raise Killed

    with pytest.raises(Killed):
        run(settings(), corpus, tmp_path, after_epoch=kill_after_second)
    assert (tmp_path / "last.pt").exists() and not (tmp_path / "model.pt").exists()
    assert len(pd.read_csv(tmp_path / "history.csv")) == 2
    resumed = run(settings(), corpus, tmp_path)
    assert resumed == summary
    pd.testing.assert_frame_equal(pd.read_csv(out / "history.csv").drop(columns="seconds"),
                                  pd.read_csv(tmp_path / "history.csv").drop(columns="seconds"))
    assert (out / "predictions.csv").read_bytes() == (tmp_path / "predictions.csv").read_bytes()
    for name, tensor in weights(out / "model.pt").items():
        assert torch.equal(tensor, weights(tmp_path / "model.pt")[name]), name
    assert not (tmp_path / "last.pt").exists()


def test_resume_with_larger_max_epochs_and_stale_checkpoint(reference, corpus, tmp_path):
    out, summary = reference
    with pytest.raises(Killed):
        def stop(epoch, row):
            if epoch == 1:
                raise Killed
        run(settings(max_epochs=2), corpus, tmp_path, after_epoch=stop)
    run(settings(max_epochs=4), corpus, tmp_path)  # max_epochs may grow between kill and restart
    pd.testing.assert_frame_equal(pd.read_csv(out / "history.csv").drop(columns="seconds"),
                                  pd.read_csv(tmp_path / "history.csv").drop(columns="seconds"))
    # a last.pt from other settings is not continued
    with pytest.raises(Killed):
        run(settings(lr=0.02), corpus, tmp_path, after_epoch=stop)
    run(settings(), corpus, tmp_path)
    pd.testing.assert_frame_equal(pd.read_csv(out / "history.csv").drop(columns="seconds"),
                                  pd.read_csv(tmp_path / "history.csv").drop(columns="seconds"))


def test_inputs_remade_with_other_content_discard_last_pt(reference, corpus, tmp_path, caplog):
    """Same file names, other bytes (a label, an alignment or the audio changed upstream): start afresh."""
    out, summary = reference
    files = make_corpus(tmp_path / "data")

    def stop(epoch, row):
        if epoch == 1:
            raise Killed

    with pytest.raises(Killed):
        run(settings(), files, tmp_path / "run", after_epoch=stop)
    arrays = dict(np.load(files["dev"][0]))
    arrays["labels"] = arrays["labels"] * 0.5
    write_npz(files["dev"][0], **arrays)
    with caplog.at_level(logging.INFO, logger="test"):
        run(settings(), files, tmp_path / "run")
    assert "resuming" not in caplog.text
    assert "discarding" in caplog.text and "dev_files changed (dev3.npz)" in caplog.text
    fresh = run(settings(), files, tmp_path / "fresh")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "fresh" / "history.csv").drop(columns="seconds"),
                                  pd.read_csv(tmp_path / "run" / "history.csv").drop(columns="seconds"))
    assert fresh["dev_ccc_mean"] != summary["dev_ccc_mean"]


def test_early_stopping_keeps_best_epoch(tmp_path):
    files = make_corpus(tmp_path / "flipped", flip_dev=True)  # learning the train mapping hurts dev
    summary = run(settings(max_epochs=12, patience=2), files, tmp_path / "run")
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    best = int(history["dev_ccc_mean"].idxmax()) + 1
    assert summary["best_epoch"] == best and summary["stopped_early"]
    assert len(history) == best + 2 < 12
    assert history["dev_ccc_mean"].iloc[-1] < history["dev_ccc_mean"].max()
    preds = read_predictions(tmp_path / "run" / "predictions.csv")
    dev = preds[preds["partition"] == "dev"]
    scores = [ccc(g["prediction"], g["gold"]) for _, g in dev.groupby("dimension", sort=False)]
    assert np.mean(scores) == pytest.approx(history["dev_ccc_mean"].max(), abs=1e-6)


def test_diverging_loss_names_epoch_and_batch(tmp_path):
    files = make_corpus(tmp_path / "c")
    out = tmp_path / "run"
    with pytest.raises(NonFiniteLoss, match=r"epoch 1 batch 2: training loss is (inf|nan)"):
        run(settings(objective="mse", optimizer="sgd", lr=1e30), files, out)
    assert not (out / "predictions.csv").exists() and not (out / "model.pt").exists()


def test_load_model_round_trip_and_errors(reference, corpus, tmp_path):
    out, _ = reference
    trained = load_model(out / "model.pt", expected_model="tiny")
    assert isinstance(trained.module, TinyAudioNet) and trained.dimensions == DIMS and not trained.module.training
    again = predict(trained, corpus["dev"], "dev", batch_size=3)  # batch size changes float rounding only
    saved = read_predictions(out / "predictions.csv")
    pd.testing.assert_frame_equal(again, saved[saved["partition"] == "dev"].reset_index(drop=True),
                                  check_dtype=False, rtol=1e-5, atol=1e-6)
    with pytest.raises(InputError, match="holds model 'tiny', expected 'e2e'") as err:
        load_model(out / "model.pt", expected_model="e2e")
    assert str(out / "model.pt") in str(err.value)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(InputError, match="not an emotrace model checkpoint") as err:
        load_model(foreign)
    assert str(foreign) in str(err.value)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(InputError, match="not an emotrace model checkpoint"):
        load_model(text)
    with pytest.raises(InputError, match="no such"):
        load_model(tmp_path / "absent.pt")


def energy_features(corpus: dict, folder, second=np.ones) -> dict:
    """A feature file per recording: log frame energy, and a second column `second(n)` (constant by default)."""
    feats = {}
    for path in corpus["train"] + corpus["dev"] + corpus["test"]:
        with np.load(path) as npz:
            frame0, mask, rec = npz["frame0"], npz["mask"], str(npz["recording"])
            frame_energy = np.log(np.mean(npz["audio"].reshape(len(frame0), 150, 640) ** 2, axis=2) + 1e-6)
        n = int(frame0[-1] + mask[-1].sum())
        energy = np.zeros(n)
        energy[(frame0[:, None] + np.arange(150))[mask]] = frame_energy[mask]
        feats[rec] = folder / "features" / f"{rec}.npz"
        write_npz(feats[rec], values=np.stack([energy, second(n)], axis=1).astype(np.float32))
    return feats


def test_feature_model_stores_its_normalisation(tmp_path, corpus):
    feats = energy_features(corpus, tmp_path)
    stats = {"mean": np.array([0.0, 1.0], np.float32), "std": np.array([2.0, 1.0], np.float32)}
    summary = run(settings(model="tinyfeat", max_epochs=6, lr=0.03), corpus, tmp_path / "run", features=feats,
                  normalise=lambda v: (v - stats["mean"]) / stats["std"], feature_set="energy", feature_stats=stats)
    assert summary["dev_ccc"]["arousal"] > 0.2, summary
    trained = load_model(tmp_path / "run" / "model.pt")
    assert trained.n_features == 2 and trained.feature_set == "energy"
    np.testing.assert_array_equal(trained.feature_stats["std"], stats["std"])
    with pytest.raises(InputError, match="takes 'audio' input but the data give 'features'"):
        run(settings(), corpus, tmp_path / "wrong", features=feats)


def test_dev_files_must_be_contiguous(corpus, tmp_path):
    files = dict(corpus, dev=corpus["train"][:1])
    with pytest.raises(InputError, match="'eval' tiling"):
        run(settings(max_epochs=1), files, tmp_path)
    assert not (tmp_path / "history.csv").exists()  # refused before training, not after


def test_real_e2e2017_trains_and_reloads(tmp_path):
    """The trainer with a real registry model (smaller LSTM), `end` alignment, one 6 s segment per partition."""
    rng = np.random.default_rng(1)
    files = {}
    for partition, hop in [("train", 75), ("dev", None), ("test", None)]:
        curve = envelope(150, rng)
        audio = (rng.standard_normal(96000) * np.repeat(curve, 640)).astype(np.float32)
        labels = np.stack([curve - 1, 1 - curve], axis=1).astype(np.float32)
        files[partition] = [tmp_path / f"{partition}.npz"]
        write_npz(files[partition][0], **segment_recording(audio, labels, DIMS, partition, "end", hop))
    s = settings(model="e2e2017", model_kwargs={"hidden_size": 16}, max_epochs=1, batch_size=1)
    summary = run(s, files, tmp_path / "run")
    assert summary["n_parameters"] == sum(p.numel() for p in models.build_model("e2e2017", 2, hidden_size=16).parameters())
    trained = load_model(tmp_path / "run" / "model.pt", expected_model="e2e2017")
    assert trained.model_kwargs == {"hidden_size": 16} and trained.label_offset == 1
    preds = read_predictions(tmp_path / "run" / "predictions.csv")
    # every label frame is predicted: frame 0 (audio before the recording's start, zero) included
    assert preds.groupby("recording")["frame"].agg(["min", "max"]).values.tolist() == [[0, 149], [0, 149]]
    again = predict(trained, files["test"], "test", batch_size=1)
    np.testing.assert_allclose(again["prediction"], preds[preds["partition"] == "test"]["prediction"], rtol=1e-5, atol=1e-6)


def test_evaluation_batch_does_not_change_predictions(reference, corpus, tmp_path):
    """eval_batch_size (auto on a GPU: 128) only groups the dev and test passes: same epochs, same predictions."""
    out, _ = reference
    run(settings(eval_batch_size=13), corpus, tmp_path)
    first, second = pd.read_csv(out / "history.csv"), pd.read_csv(tmp_path / "history.csv")
    pd.testing.assert_frame_equal(first.drop(columns="seconds"), second.drop(columns="seconds"), atol=1e-6)
    a, b = read_predictions(out / "predictions.csv"), read_predictions(tmp_path / "predictions.csv")
    np.testing.assert_allclose(a["prediction"], b["prediction"], atol=1e-6)
    for name, tensor in weights(out / "model.pt").items():  # training itself is untouched
        assert torch.equal(tensor, weights(tmp_path / "model.pt")[name]), name


def test_non_finite_loss_is_found_at_the_next_check_with_its_batch():
    """Losses stay on the device between checks; the error still names the first bad batch."""
    from emotrace.training import CHECK_EVERY, check_finite

    losses = [torch.tensor(0.5)] * (CHECK_EVERY + 7)
    check_finite(losses, 0, 3)
    losses[CHECK_EVERY + 3] = torch.tensor(float("nan"))
    losses[CHECK_EVERY + 5] = torch.tensor(float("inf"))
    check_finite(losses, CHECK_EVERY + 6, 3)  # batches already checked are not looked at again
    with pytest.raises(NonFiniteLoss, match=rf"epoch 3 batch {CHECK_EVERY + 4}: training loss is nan"):
        check_finite(losses, CHECK_EVERY, 3)
    with pytest.raises(NonFiniteLoss, match=rf"epoch 3 batch {CHECK_EVERY + 6}: training loss is inf"):
        check_finite(losses, CHECK_EVERY + 4, 3)


@pytest.mark.parametrize("key, value", [("num_workers", -1), ("num_workers", "many"), ("eval_batch_size", 0),
                                        ("precision", "fp16"), ("num_workers", True)])
def test_bad_loader_and_precision_settings_are_refused(key, value):
    with pytest.raises(InputError, match=key if key != "precision" else "precision 'fp16'"):
        settings(**{key: value})


def test_auto_settings_resolve_by_device():
    """auto: no workers and the training batch on a CPU; workers, pinned memory and a large batch on CUDA."""
    from emotrace.training import CUDA_EVAL_BATCH, eval_batch, loader_options

    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)  # resolving needs no GPU
    assert loader_options("auto", cpu).kwargs() == {"num_workers": 0, "pin_memory": False, "persistent_workers": False}
    gpu = loader_options("auto", cuda)
    assert gpu.pin_memory and gpu.non_blocking and gpu.num_workers >= 0
    assert loader_options(2, cpu).num_workers == 2
    assert eval_batch("auto", 5, cpu) == 5 and eval_batch("auto", 5, cuda) == CUDA_EVAL_BATCH
    assert eval_batch("auto", 500, cuda) == 500 and eval_batch(7, 5, cuda) == 7
