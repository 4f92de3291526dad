"""Benchmark: the e2e model's 4 000-tap convolution through FFTs against torch's direct conv1d.

Forward + backward (input, weight and bias gradients) of a 40 -> 40 channel,
4 000-tap 'same' convolution over 6 s at 8 kHz (48 000 samples), on the current
device (CUDA if available, else CPU), both paths in one run. The direct path is
~0.3 TMAC per segment; on a CPU it is timed on a shorter signal and scaled by
length (its cost is proportional to the output length) and batch size, which the
output says.

    python bench/long_conv.py [--batch 8] [--repeats 3] [--short 9600]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from emotrace.models import keep_freed_memory
from emotrace.models.fftconv import fft_conv1d, plan_blocks

CHANNELS, KERNEL, LENGTH = 40, 4000, 48_000


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def step(conv, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, grad: torch.Tensor):
    """One forward and backward; returns the output and the three gradients."""
    y = conv(x, w, b)
    gx, gw, gb = torch.autograd.grad(y, (x, w, b), grad)
    return y.detach(), gx, gw, gb


def best_time(conv, x, w, b, grad, repeats: int, device: torch.device, warm=None):
    """Minimum wall time of `repeats` forward+backward passes after a warm-up on `warm` (x, grad), and the last result."""
    warm_x, warm_grad = warm or (x, grad)
    step(conv, warm_x, w, b, warm_grad)
    best, result = float("inf"), None
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        result = step(conv, x, w, b, grad)
        sync(device)
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--short", type=int, default=9600, help="signal length for the direct path on a CPU")
    parser.add_argument("--direct-batch", type=int, default=1, help="batch size for the direct path on a CPU")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    keep_freed_memory()
    gen = torch.Generator().manual_seed(0)
    w = (torch.randn(CHANNELS, CHANNELS, KERNEL, generator=gen) / (CHANNELS * KERNEL) ** 0.5).to(device)
    b = torch.randn(CHANNELS, generator=gen).to(device)
    w.requires_grad_(True)
    b.requires_grad_(True)

    def signal(length: int, batch: int = args.batch) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(batch, CHANNELS, length, generator=gen).to(device).requires_grad_(True)
        return x, torch.randn(batch, CHANNELS, length, generator=gen).to(device)

    fft = lambda x, w, b: fft_conv1d(x, w, b, "same")
    direct = lambda x, w, b: F.conv1d(x, w, b, padding="same")
    n_fft, n_blocks = plan_blocks(LENGTH, KERNEL, args.batch, CHANNELS, CHANNELS)
    print(f"device {device}, batch {args.batch}, {CHANNELS} -> {CHANNELS} channels, {KERNEL} taps, "
          f"{LENGTH} samples; FFT plan: {n_blocks} block(s) of {n_fft}; threads {torch.get_num_threads()}")

    x, grad = signal(LENGTH)
    t_fft, _ = best_time(fft, x, w, b, grad, args.repeats, device)
    if device.type == "cuda":
        direct_len, xs, gs = LENGTH, x, grad
        t_direct, ref = best_time(direct, x, w, b, grad, args.repeats, device)
    else:  # ~1 TMAC per segment with gradients: one timed run on a shorter signal, warmed up on a tiny one
        direct_len = args.short
        xs, gs = signal(direct_len, args.direct_batch)
        t_direct, ref = best_time(direct, xs, w, b, gs, 1, device, warm=signal(100, args.direct_batch))
        t_direct *= LENGTH / direct_len * args.batch / args.direct_batch
    scaled = "" if direct_len == LENGTH else (
        f" (timed on {args.direct_batch} x {direct_len} samples, scaled x{LENGTH / direct_len * args.batch / args.direct_batch:g})")

    # agreement of both float32 paths on the signal the direct path ran on
    got = step(fft, xs, w, b, gs)
    names = ("output", "grad input", "grad weight", "grad bias")
    per_seg = lambda t: t / args.batch
    print(f"FFT    forward+backward: {t_fft:8.3f} s per batch, {per_seg(t_fft):.4f} s per segment")
    print(f"direct forward+backward: {t_direct:8.3f} s per batch, {per_seg(t_direct):.4f} s per segment{scaled}")
    print(f"speed-up: {t_direct / t_fft:.1f}x (target >= 50x)")
    for name, g, r in zip(names, got, ref):
        err = (g - r).abs().max().item()
        print(f"  {name:12s} max |diff| {err:.2e}, relative to max |value| {err / r.abs().max().item():.2e}")
    print("figures are wall-clock minima on a possibly shared machine: expect noise")


if __name__ == "__main__":
    main()
