"""Exact long 1-D convolution through FFTs (overlap-save), a drop-in for `nn.Conv1d`.

A 4 000-tap, 40 -> 40 channel conv1d over 48 000 samples costs ~0.3 TMAC done
directly; in the frequency domain it is a few FFTs plus one 40 x 40 complex
matrix product per frequency bin. The signal is cut into overlapping blocks of
`n_fft` samples (overlap-save); `n_fft` is a product of 2, 3 and 5 chosen by a
cost model, so small batches use short blocks (cheap kernel transforms) and
large batches long ones (fewer bins). Semantics are those of
`torch.nn.functional.conv1d` (cross-correlation, zero padding, stride 1,
dilation 1, groups 1); forward and gradients agree with it to float rounding.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Relative cost of one complex multiply-add in the channel mixing, in units of
# one n*log2(n) step of a real FFT (measured on CPU; GPUs differ little in the choice).
MIX_COST = 0.75
# Spectrum bytes per batch chunk: bounds the temporaries of a large batch.
CHUNK_BYTES = 128 * 2**20


@lru_cache(maxsize=None)
def smooth_sizes(limit: int) -> tuple[int, ...]:
    """Even numbers up to `limit` whose only prime factors are 2, 3 and 5 (fast FFT lengths)."""
    sizes = []
    p2 = 2
    while p2 <= limit:
        p3 = p2
        while p3 <= limit:
            p5 = p3
            while p5 <= limit:
                sizes.append(p5)
                p5 *= 5
            p3 *= 3
        p2 *= 2
    return tuple(sorted(sizes))


def fft_cost(n_fft: int, n_blocks: int, batch: int, in_ch: int, out_ch: int) -> float:
    """Model of one training step's work for a block length: signal FFTs, kernel FFTs, mixing."""
    log_n = math.log2(n_fft)
    signal = batch * n_blocks * 2 * (in_ch + out_ch) * n_fft * log_n  # forward and backward
    kernel = 2 * in_ch * out_ch * n_fft * log_n
    mixing = 3 * batch * n_blocks * (n_fft // 2 + 1) * in_ch * out_ch * MIX_COST
    return signal + kernel + mixing


def plan_blocks(out_len: int, kernel_size: int, batch: int, in_ch: int, out_ch: int) -> tuple[int, int]:
    """Choose the FFT block length and block count for an overlap-save convolution."""
    limit = out_len + kernel_size - 1
    candidates = [n for n in smooth_sizes(2 * limit) if n >= kernel_size + max(1, kernel_size // 4)]
    best = None
    for n_fft in candidates:
        step = n_fft - kernel_size + 1
        n_blocks = -(-out_len // step)
        cost = fft_cost(n_fft, n_blocks, batch, in_ch, out_ch)
        if best is None or cost < best[0]:
            best = (cost, n_fft, n_blocks)
        if n_blocks == 1:  # longer blocks only add padding
            break
    return best[1], best[2]


def same_padding(kernel_size: int) -> tuple[int, int]:
    """Left and right zero padding of conv1d's padding='same' (the extra zero goes right)."""
    left = (kernel_size - 1) // 2
    return left, kernel_size - 1 - left


def _to_freq_major(spec: Tensor, rows: int) -> Tensor:
    """[rows * ch, n_freq] (frequency innermost) -> [n_freq, rows, ch] contiguous, one 2-D transpose."""
    n_freq = spec.shape[-1]
    return spec.reshape(-1, n_freq).t().contiguous().view(n_freq, rows, -1)


def _from_freq_major(spec: Tensor) -> Tensor:
    """[n_freq, rows, ch] -> [rows, ch, n_freq] contiguous, for an inverse FFT along the last axis."""
    n_freq, rows, ch = spec.shape
    return spec.reshape(n_freq, rows * ch).t().contiguous().view(rows, ch, n_freq)


def batch_chunks(batch: int, item_bytes: int) -> list[slice]:
    """Consecutive slices of the batch of at most CHUNK_BYTES of temporaries each (at least one item)."""
    size = max(1, CHUNK_BYTES // max(1, item_bytes))
    return [slice(i, min(i + size, batch)) for i in range(0, batch, size)]


class _OverlapSaveConv(torch.autograd.Function):
    """conv1d (cross-correlation) by overlap-save FFT blocks, with hand-written exact gradients.

    Spectra are kept frequency-major ([n_freq, rows, channels]) so that the channel
    mixing is one batched matrix product. Conjugates never cost a pass: the kernel
    spectrum is taken as conj(rfft(w)) = ihfft(w) (unnormalised), the output-gradient
    spectrum likewise, and the input gradient comes back through `hfft`, which
    equals irfft of the conjugate. The batch is processed in chunks so that
    temporaries stay bounded; the input spectra are saved for the weight gradient.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, pad_left: int, pad_right: int) -> Tensor:
        batch, in_ch, length = x.shape
        out_ch, _, k = weight.shape
        out_len = length + pad_left + pad_right - k + 1
        n_fft, n_blocks = plan_blocks(out_len, k, batch, in_ch, out_ch)
        step = n_fft - k + 1
        padded = (n_blocks - 1) * step + n_fft
        n_freq = n_fft // 2 + 1
        spec_wc = _to_freq_major(torch.fft.ihfft(weight, n=n_fft, norm="forward"), out_ch)  # conj(W), [F, O, C]
        y = x.new_empty(batch, out_ch, out_len)
        chunks = batch_chunks(batch, n_blocks * n_freq * max(in_ch, out_ch) * 2 * x.element_size())
        spectra = []
        for sl in chunks:
            b = sl.stop - sl.start
            xp = F.pad(x[sl], (pad_left, padded - length - pad_left))
            # blocks [b, nb, C, n_fft]: block j holds padded samples [j*step, j*step + n_fft)
            spec_x = _to_freq_major(torch.fft.rfft(xp.unfold(-1, n_fft, step).transpose(1, 2)), b * n_blocks)
            del xp
            spec_y = torch.bmm(spec_x, spec_wc.transpose(1, 2))  # [F, b*nb, O]
            blocks = torch.fft.irfft(_from_freq_major(spec_y), n=n_fft).view(b, n_blocks, out_ch, n_fft)
            del spec_y
            for j in range(n_blocks):  # the first `step` outputs of each block are valid
                stop = min((j + 1) * step, out_len)
                src = blocks[:, j, :, : stop - j * step]
                dst = y[sl, :, j * step : stop]
                torch.add(src, bias[:, None], out=dst) if bias is not None else dst.copy_(src)
            spectra.append(spec_x if weight.requires_grad else None)
        ctx.save_for_backward(spec_wc if x.requires_grad else None, *spectra)
        ctx.chunks = chunks
        ctx.sizes = (batch, in_ch, length, out_ch, k, pad_left, n_fft, n_blocks, out_len)
        ctx.has_bias = bias is not None
        return y

    @staticmethod
    def backward(ctx, grad_y: Tensor):
        spec_wc, *spectra = ctx.saved_tensors
        batch, in_ch, length, out_ch, k, pad_left, n_fft, n_blocks, out_len = ctx.sizes
        step = n_fft - k + 1
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = grad_w = grad_b = None
        if need_b and ctx.has_bias:
            grad_b = grad_y.sum(dim=(0, 2))
        if not (need_x or need_w):
            return grad_x, grad_w, grad_b, None, None
        spec_gw = None
        if need_x:
            grad_x = grad_y.new_empty(batch, in_ch, length)
        for sl, spec_x in zip(ctx.chunks, spectra):
            b = sl.stop - sl.start
            # output-gradient blocks [b, nb, O, step], zero-padded to n_fft by the transform
            g = F.pad(grad_y[sl], (0, n_blocks * step - out_len)).view(b, out_ch, n_blocks, step).transpose(1, 2)
            spec_gc = _to_freq_major(torch.fft.ihfft(g, n=n_fft, norm="forward"), b * n_blocks)  # conj(G)
            del g
            if need_w:
                # correlation of the input blocks with the output gradient: lags 0..k-1 do not wrap
                if spec_gw is None:
                    spec_gw = torch.bmm(spec_gc.transpose(1, 2), spec_x)  # [F, O, C]
                else:
                    spec_gw.baddbmm_(spec_gc.transpose(1, 2), spec_x)
            if need_x:
                # convolution of the gradient blocks with the kernel (conjugated twice), overlap-added
                spec_gxc = torch.bmm(spec_gc, spec_wc)  # conj of the input-gradient spectrum, [F, b*nb, C]
                blocks = torch.fft.hfft(_from_freq_major(spec_gxc), n=n_fft, norm="forward")
                blocks = blocks.view(b, n_blocks, in_ch, n_fft)
                del spec_gxc
                written = 0  # grad_x[..., :written] holds earlier blocks' sums; later samples are unset
                for j in range(n_blocks):  # block j covers input samples [j*step - pad_left, ... + n_fft)
                    lo = j * step - pad_left
                    first, last = max(lo, 0), min(lo + n_fft, length)
                    overlap = min(last, written)
                    if overlap > first:
                        grad_x[sl, :, first:overlap] += blocks[:, j, :, first - lo : overlap - lo]
                    if last > max(first, written):
                        start = max(first, written)
                        grad_x[sl, :, start:last] = blocks[:, j, :, start - lo : last - lo]
                        written = last
        if need_w:
            grad_w = torch.fft.irfft(_from_freq_major(spec_gw), n=n_fft)[..., :k]
        return grad_x, grad_w, grad_b, None, None


def fft_conv1d(x: Tensor, weight: Tensor, bias: Tensor | None = None, padding: str | int = 0) -> Tensor:
    """`F.conv1d(x, weight, bias, padding=padding)` (stride 1) computed with overlap-save FFTs."""
    k = weight.shape[-1]
    if padding == "same":
        left, right = same_padding(k)
    elif padding == "valid":
        left = right = 0
    elif isinstance(padding, int) and padding >= 0:
        left = right = padding
    else:
        raise ValueError(f"padding must be 'same', 'valid' or a non-negative int, got {padding!r}")
    if x.shape[-1] + left + right < k:
        raise ValueError(f"input of length {x.shape[-1]} is shorter than the kernel ({k}) after padding")
    if torch.is_autocast_enabled(x.device.type):
        # bfloat16 autocast (training.precision: bf16): FFTs of 8-bit-mantissa blocks would ruin a 4 000-tap
        # convolution (and cuFFT has no bfloat16), so it runs in float32; its float32 output is re-cast downstream.
        with torch.autocast(x.device.type, enabled=False):
            return _OverlapSaveConv.apply(x.float(), weight.float(), None if bias is None else bias.float(),
                                          left, right)
    return _OverlapSaveConv.apply(x, weight, bias, left, right)


class FFTConv1d(nn.Module):
    """`nn.Conv1d` (stride 1) for long kernels: same weight/bias layout and initialisation, FFT compute."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: str | int = "same",
                 bias: bool = True):
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.padding = padding
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """nn.Conv1d's initialisation: Kaiming-uniform weights (a=sqrt 5), bias uniform in +-1/sqrt(fan_in)."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_channels * self.kernel_size)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return fft_conv1d(x, self.weight, self.bias, self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"padding={self.padding!r}, bias={self.bias is not None}")
