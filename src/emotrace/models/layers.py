"""Fast building blocks for the waveform front ends: dropout, channel max-pooling and a fused first layer.

On a CPU the first waveform layer (conv 40 x 80 taps at 16 kHz, max-pool 2,
ReLU, dropout) cost more through `nn.Conv1d`, `max_pool1d` and `nn.Dropout` than
the 4 000-tap FFT convolution after it: mkldnn handles a 1-channel input poorly
and torch's Bernoulli sampling takes ~17 ns per value. `ConvPoolReLU` computes
the same function as one matrix product over polyphase windows; `dropout` draws
one random byte per value. Both are plain torch ops (same code on CPU and GPU).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from emotrace.models.fftconv import batch_chunks

POLYPHASE = 8  # output samples computed per window row of the first layer's matrix product


def random_bytes(shape: torch.Size | tuple[int, ...], device: torch.device) -> Tensor:
    """Uniform random uint8 values: 64-bit draws split into bytes (~6x faster than drawing bytes one by one)."""
    n = math.prod(shape)
    words = torch.empty(-(-n // 8), dtype=torch.int64, device=device).random_(-(2**63), None)
    return words.view(torch.uint8)[:n].view(shape)


def keep_mask(shape: torch.Size | tuple[int, ...], p: float, device: torch.device) -> tuple[Tensor, float]:
    """Bernoulli keep-mask (True with probability 1 - p, p rounded to 1/256) and the matching scale."""
    threshold = round(p * 256)
    return random_bytes(shape, device) >= threshold, 256 / (256 - threshold)


class _MaskedScale(torch.autograd.Function):
    """x * mask * scale, saving only the boolean mask for backward."""

    @staticmethod
    def forward(ctx, x: Tensor, mask: Tensor, scale: float) -> Tensor:
        ctx.save_for_backward(mask)
        ctx.scale = scale
        return torch.mul(x, mask).mul_(scale)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (mask,) = ctx.saved_tensors
        return torch.mul(grad, mask).mul_(ctx.scale), None, None


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Inverted dropout with `p` rounded to a multiple of 1/256 (exact for 0.5); identity when not training."""
    if not training or p == 0:
        return x
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    keep, scale = keep_mask(x.shape, p, x.device)
    return _MaskedScale.apply(x, keep, scale)


class Dropout(nn.Module):
    """`nn.Dropout` with byte-sized random draws (see `dropout`)."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def channel_max_pool(x: Tensor, pool: int) -> Tensor:
    """Max over consecutive groups of `pool` channels: [B, C, ...] -> [B, C // pool, ...].

    `max` over a reshaped axis keeps only the winners' indices for backward (not the
    input, as `amax` or a max-pool over a transposed view would), and is the fastest
    of the three on a CPU.
    """
    b, c = x.shape[:2]
    return x.reshape(b, c // pool, pool, *x.shape[2:]).max(dim=2).values


def _windows(x: Tensor, k: int, rows: int) -> Tensor:
    """[b, L] -> [b * rows, K + P - 1]: row t holds samples [P t, P t + K + P - 1) of the 'same'-padded signal."""
    p = POLYPHASE
    width = k + p - 1
    left = (k - 1) // 2
    xp = F.pad(x, (left, rows * p + width - p - x.shape[1] - left))
    return xp.as_strided((x.shape[0], rows, width), (xp.shape[1], p, 1)).reshape(-1, width)


class _ConvPoolReLU(torch.autograd.Function):
    """dropout(relu(maxpool2(conv1d(x, w, 'same')) + b)), one matrix product over polyphase windows.

    Row t of the window matrix holds samples [P t, P t + K + P - 1) of the padded
    signal; its product with a [K + P - 1, P x C] matrix (the kernel shifted by
    each phase) gives the P outputs P t ... P t + P - 1 of all C channels at once.
    The dropout scale is folded into the weights (relu(s z) = s relu(z) for s > 0).
    Backward needs only the input and two boolean masks (which of each pooled pair
    passed its gradient, if any); windows are rebuilt from the input. The batch
    runs in chunks so that the [P x C]-wide products stay small.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor, codes: Tensor | None, threshold: int) -> Tensor:
        batch, length = x.shape
        channels, _, k = weight.shape
        p = POLYPHASE
        rows = -(-length // p)
        scale = 256 / (256 - threshold) if codes is not None else 1.0
        phased = _phase_matrix(weight, p) * scale  # [K + P - 1, P * C]
        bias = bias * scale
        y = x.new_empty(batch, rows, p // 2, channels)
        pass_even = torch.empty(y.shape, dtype=torch.bool, device=x.device)
        pass_odd = torch.empty(y.shape, dtype=torch.bool, device=x.device)
        for sl in batch_chunks(batch, rows * p * channels * x.element_size()):
            out = (_windows(x[sl], k, rows) @ phased).view(-1, rows, p // 2, 2, channels)
            even, odd = out[..., 0, :], out[..., 1, :]
            z = torch.maximum(even, odd, out=y[sl]).add_(bias).relu_()
            if codes is not None:  # keep where the random byte >= threshold
                torch.ops.aten.threshold_backward.grad_input(z, codes[sl].to(z.dtype), threshold - 0.5, grad_input=z)
            active = z > 0
            even_wins = even >= odd
            torch.logical_and(active, even_wins, out=pass_even[sl])
            torch.logical_and(active, even_wins.logical_not_(), out=pass_odd[sl])
        ctx.save_for_backward(x, weight, pass_even, pass_odd)
        ctx.scale = scale
        return y.view(batch, rows * p // 2, channels)[:, : length // 2].transpose(1, 2)  # [B, C, L/2]

    @staticmethod
    def backward(ctx, grad_y: Tensor):
        x, weight, pass_even, pass_odd = ctx.saved_tensors
        scale = ctx.scale
        batch, length = x.shape
        channels, _, k = weight.shape
        p = POLYPHASE
        rows = pass_even.shape[1]
        g = grad_y.transpose(1, 2)  # [B, L/2, C]
        if g.shape[1] != rows * p // 2:
            g = F.pad(g, (0, 0, 0, rows * p // 2 - g.shape[1]))
        g = g.view(batch, rows, p // 2, channels) if g.is_contiguous() else g.reshape(batch, rows, p // 2, channels)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        width = k + p - 1
        g_even_w = g.new_zeros(width, p // 2 * channels) if need_w else None
        g_odd_w = g.new_zeros(width, p // 2 * channels) if need_w else None
        grad_b = g.new_zeros(channels) if need_b else None
        grad_x = torch.zeros_like(x) if need_x else None
        phased = _phase_matrix(weight, p) if need_x else None
        for sl in batch_chunks(batch, rows * p * channels * x.element_size()):
            g_even = torch.empty(pass_even[sl].shape, dtype=g.dtype, device=g.device)
            g_odd = torch.empty_like(g_even)
            torch.mul(g[sl], pass_even[sl], out=g_even)
            torch.mul(g[sl], pass_odd[sl], out=g_odd)
            if need_b:
                grad_b += g_even.sum(dim=(0, 1, 2)) + g_odd.sum(dim=(0, 1, 2))
            if need_w:
                windows = _windows(x[sl], k, rows)
                g_even_w.addmm_(windows.t(), g_even.view(-1, p // 2 * channels))
                g_odd_w.addmm_(windows.t(), g_odd.view(-1, p // 2 * channels))
            if need_x:
                g_out = torch.stack([g_even, g_odd], dim=3).view(-1, p * channels)
                g_windows = (g_out @ phased.t()).view(-1, rows, width)
                left = (k - 1) // 2
                g_xp = g_windows.new_zeros(g_windows.shape[0], rows * p + k - 1)
                for j in range(width):  # overlap-add of the windows back onto the padded signal
                    g_xp[:, j : j + rows * p : p] += g_windows[:, :, j]
                grad_x[sl] = g_xp[:, left : left + length]
        if need_b:
            grad_b *= scale
        if need_x:
            grad_x *= scale
        grad_w = None
        if need_w:
            g_phased = torch.stack([g_even_w.view(width, p // 2, channels), g_odd_w.view(width, p // 2, channels)], 2)
            grad_w = _unphase(g_phased.view(width, p * channels) * scale, k, channels)
        return grad_x, grad_w, grad_b, None, None


def _phase_matrix(weight: Tensor, p: int) -> Tensor:
    """[C, 1, K] kernel -> [K + p - 1, p * C]: column block q holds the kernel delayed by q samples."""
    channels, _, k = weight.shape
    kernel = weight[:, 0, :].t()  # [K, C]
    return torch.cat([F.pad(kernel, (0, 0, q, p - 1 - q)) for q in range(p)], dim=1)


def _unphase(g_phased: Tensor, k: int, channels: int) -> Tensor:
    """Gradient of `_phase_matrix`: sum each phase's shifted copy back onto [C, 1, K]."""
    p = g_phased.shape[1] // channels
    g = g_phased.view(-1, p, channels)
    total = sum(g[q : q + k, q, :] for q in range(p))
    return total.t().unsqueeze(1).contiguous()


class ConvPoolReLU(nn.Module):
    """conv1d(1 -> C, K taps, 'same') -> max-pool 2 -> ReLU -> dropout, fused; weights laid out as `nn.Conv1d`.

    Input [B, L] (L even), output [B, C, L / 2]. Same numbers as the unfused layers.
    """

    def __init__(self, out_channels: int, kernel_size: int, dropout: float = 0.0):
        super().__init__()
        self.out_channels, self.kernel_size, self.p = out_channels, kernel_size, dropout
        self.weight = nn.Parameter(torch.empty(out_channels, 1, kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """nn.Conv1d's initialisation: Kaiming-uniform weights (a=sqrt 5), bias uniform in +-1/sqrt(fan_in)."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        bound = 1 / math.sqrt(self.kernel_size)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] % 2:
            raise ValueError(f"expects [batch, samples] with an even number of samples, got {tuple(x.shape)}")
        codes, threshold = None, 0
        if self.training and self.p > 0:
            threshold = round(self.p * 256)
            rows = -(-x.shape[1] // POLYPHASE)
            shape = (x.shape[0], rows, POLYPHASE // 2, self.out_channels)
            codes = random_bytes(shape, x.device)
        return _ConvPoolReLU.apply(x, self.weight, self.bias, codes, threshold)

    def extra_repr(self) -> str:
        return f"1, {self.out_channels}, kernel_size={self.kernel_size}, pool=2, dropout={self.p}"
