"""The FFT convolution equals torch's conv1d: forward and gradients (input, weight, bias)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import emotrace.models.fftconv as fftconv
from emotrace.models.fftconv import FFTConv1d, fft_conv1d, plan_blocks, same_padding, smooth_sizes

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


def compare(batch: int, in_ch: int, out_ch: int, length: int, k: int, padding, dtype=torch.float64, seed: int = 0):
    """Largest relative differences (output, grad input, grad weight, grad bias) against F.conv1d."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, in_ch, length, generator=gen, dtype=dtype, requires_grad=True)
    w = (torch.randn(out_ch, in_ch, k, generator=gen, dtype=dtype) / math.sqrt(in_ch * k)).requires_grad_()
    b = torch.randn(out_ch, generator=gen, dtype=dtype, requires_grad=True)
    ref = F.conv1d(x, w, b, padding=padding)
    out = fft_conv1d(x, w, b, padding)
    assert out.shape == ref.shape
    grad = torch.randn(ref.shape, generator=gen, dtype=dtype)
    want = torch.autograd.grad(ref, (x, w, b), grad)
    got = torch.autograd.grad(out, (x, w, b), grad)
    return [float((u - v).abs().max() / v.abs().max()) for u, v in zip((out.detach(), *got), (ref.detach(), *want))]


@pytest.mark.parametrize(
    "batch, in_ch, out_ch, length, k, padding",
    [
        (2, 3, 4, 500, 7, "same"),  # odd kernel
        (2, 3, 4, 501, 8, "same"),  # even kernel: the extra zero goes right
        (1, 1, 5, 1000, 80, "same"),  # the first waveform layer's shape
        (3, 4, 2, 900, 301, "valid"),
        (2, 2, 3, 120, 10, 3),
        (1, 2, 3, 300, 300, "same"),  # kernel as long as the signal
        (2, 3, 3, 6000, 4000, "same"),  # the e2e kernel on a shortish signal
    ],
)
def test_equals_conv1d_forward_and_gradients(batch, in_ch, out_ch, length, k, padding):
    assert max(compare(batch, in_ch, out_ch, length, k, padding)) < 1e-10


def test_float32_at_the_e2e_channel_count_is_within_float_tolerance():
    assert max(compare(2, 40, 40, 5000, 800, "same", dtype=torch.float32)) < 1e-4


def test_batch_chunks_give_the_same_numbers(monkeypatch):
    whole = compare(5, 3, 4, 900, 101, "same")
    monkeypatch.setattr(fftconv, "CHUNK_BYTES", 1000)  # every item its own chunk
    assert len(fftconv.batch_chunks(5, 4000)) == 5
    assert max(compare(5, 3, 4, 900, 101, "same")) < 1e-10
    assert max(whole) < 1e-10


def test_only_requested_gradients_are_computed():
    x = torch.randn(2, 3, 200)
    w = torch.randn(4, 3, 21, requires_grad=True)
    (gw,) = torch.autograd.grad(fft_conv1d(x, w, None, "same").sum(), (w,))
    assert torch.allclose(gw, torch.autograd.grad(F.conv1d(x, w, padding="same").sum(), (w,))[0], atol=1e-4)


def test_module_matches_conv1d_layout_and_initialisation():
    torch.manual_seed(3)
    ref = nn.Conv1d(3, 5, 64, padding="same")
    torch.manual_seed(3)
    mod = FFTConv1d(3, 5, 64, padding="same")
    assert torch.equal(mod.weight, ref.weight) and torch.equal(mod.bias, ref.bias)
    x = torch.randn(2, 3, 700)
    assert torch.allclose(mod(x), ref(x), atol=1e-5)


def test_plans_use_smooth_lengths_that_cover_the_output():
    for out_len, k, batch in [(48000, 4000, 1), (48000, 4000, 50), (48000, 800, 8), (96000, 80, 4), (300, 300, 2)]:
        n_fft, n_blocks = plan_blocks(out_len, k, batch, 40, 40)
        assert n_fft in smooth_sizes(n_fft) and n_fft >= k
        factors = n_fft
        for p in (2, 3, 5):
            while factors % p == 0:
                factors //= p
        assert factors == 1
        assert n_blocks * (n_fft - k + 1) >= out_len
        assert (n_blocks - 1) * (n_fft - k + 1) < out_len  # no block beyond the output


def test_same_padding_matches_torch_and_bad_padding_is_refused():
    assert same_padding(4000) == (1999, 2000) and same_padding(7) == (3, 3)
    with pytest.raises(ValueError, match="padding"):
        fft_conv1d(torch.randn(1, 1, 10), torch.randn(1, 1, 3), padding="full")
    with pytest.raises(ValueError, match="shorter than the kernel"):
        fft_conv1d(torch.randn(1, 1, 10), torch.randn(1, 1, 30), padding="valid")
