"""Mixed precision (`training.precision`): bf16 autocast trains as well as float32, on the CPU's one code path."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

from emotrace.losses import ccc_loss
from emotrace import models
from emotrace.models.fftconv import FFTConv1d, fft_conv1d
from emotrace.training import TrainSettings, autocast, set_precision, train
from test_training import DIMS, make_corpus

BF16_CCC_TOLERANCE = 0.05
"""Largest difference of best dev CCC (mean of both dimensions) between bf16 and fp32 training that we accept."""


def test_bf16_keeps_the_fft_convolution_and_the_loss_in_float32():
    x = torch.randn(2, 3, 400, dtype=torch.bfloat16)
    w = torch.randn(4, 3, 101)
    with autocast(torch.device("cpu"), "bf16"):
        y = fft_conv1d(x, w, None, "same")
        assert torch.nn.Linear(3, 2)(torch.randn(5, 3)).dtype == torch.bfloat16  # autocast is on
        loss = ccc_loss(torch.randn(2, 150, 1, dtype=torch.bfloat16), torch.randn(2, 150, 1))
    assert y.dtype == torch.float32 and loss.dtype == torch.float32
    want = torch.nn.functional.conv1d(x.float(), w, padding="same")
    torch.testing.assert_close(y, want, atol=1e-4, rtol=1e-4)
    with autocast(torch.device("cpu"), "fp32"):
        assert torch.nn.Linear(3, 2)(torch.randn(5, 3)).dtype == torch.float32


def test_precision_sets_tf32_only_when_asked():
    try:
        set_precision("tf32")
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        set_precision("bf16")
        assert not torch.backends.cuda.matmul.allow_tf32
    finally:
        set_precision("fp32")
    assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32


class TinyFFTNet(nn.Module):
    """The tests' tiny audio model (tests/test_training.py) with a long FFT convolution (1 s of frames) in its path."""

    input_kind = "audio"

    def __init__(self, n_outputs: int, n_features: int | None = None, hidden: int = 8):
        super().__init__()
        self.frame = nn.Conv1d(1, 4, kernel_size=640, stride=640)
        self.long = FFTConv1d(4, 4, 25, padding="same")
        self.rnn = nn.GRU(4, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.frame(x[:, None, :]))
        h = torch.relu(self.long(h)).transpose(1, 2)
        return self.head(self.rnn(h)[0])

    def describe(self) -> str:
        return "TinyFFTNet: conv 4x640/640, FFT conv 4x25, GRU 8"


def test_bf16_training_reaches_the_dev_ccc_of_fp32(tmp_path, monkeypatch):
    """Same data, seed and batches in both precisions; bf16's best dev CCC within BF16_CCC_TOLERANCE of fp32's."""
    monkeypatch.setitem(models.MODELS, "tinyfft", TinyFFTNet)
    files = make_corpus(tmp_path / "corpus")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    scores = {}
    try:
        for precision in ("fp32", "bf16"):
            s = TrainSettings(model="tinyfft", dimensions=DIMS, objective="ccc", optimizer="adam", lr=0.01,
                              batch_size=4, max_epochs=4, patience=10, seed=3, precision=precision)
            summary = train(s, files["train"], files["dev"], files["test"], tmp_path / precision,
                            logging.getLogger("test"))
            scores[precision] = summary["dev_ccc_mean"]
    finally:
        torch.set_num_threads(threads)
    print("best dev CCC", scores)
    assert scores["fp32"] > 0.3, scores  # it learnt something, so that the comparison means something
    assert scores["bf16"] == pytest.approx(scores["fp32"], abs=BF16_CCC_TOLERANCE), scores
    assert scores["bf16"] != scores["fp32"]  # bf16 did change the arithmetic


def test_deterministic_can_be_turned_off_for_speed():
    from emotrace.training import seed_everything

    try:
        seed_everything(1, deterministic=False)
        assert not torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.benchmark
    finally:
        seed_everything(1)
    assert torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.benchmark
