"""Benchmark: SSL feature extraction (emotrace.ssl, as the extract_ssl rule runs it) per minute of audio.

Random weights of the bundle's architecture (base size by default) cost the same as the trained
ones, so nothing is downloaded. Times `ssl.extract` (chunked forward passes, 20 -> 40 ms rows,
float16) on synthetic speech-like audio on the CPU with `--threads` threads (goal: at least 10x
real time on 2 cores) and on CUDA when present; prints wall seconds per minute of audio, the
real-time factor, and peak memory (process resident set on the CPU, allocated memory on CUDA).
Not bench/ssl.py: run as a script, bench/ is first on sys.path, and a file named ssl.py there
would stand in for the standard library's `ssl` (imported by pyarrow, urllib ...) in every bench.

    python bench/ssl_features.py [--bundle WAVLM_BASE_PLUS] [--seconds 60] [--threads 2] [--chunk 30] [--context 5]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from features import voiced_signal  # noqa: E402

from emotrace import ssl  # noqa: E402

GOAL_CPU = 10.0  # x real time on 2 cores


def run(settings: ssl.SSLSettings, audio: np.ndarray, device: torch.device) -> tuple[float, np.ndarray]:
    """Wall seconds of one extraction (after a warm-up pass on 2 s) and its rows."""
    model = ssl.random_model(settings).to(device)
    n_rows = int(audio.size / 16000 / 0.04)
    ssl.extract(model, audio[: 2 * 16000], settings, 50, device=device)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    rows, _ = ssl.extract(model, audio, settings, n_rows, device=device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="WAVLM_BASE_PLUS", choices=ssl.BUNDLES)
    parser.add_argument("--seconds", type=float, default=60.0, help="audio length")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--chunk", type=float, default=30.0, help="ssl.chunk_seconds")
    parser.add_argument("--context", type=float, default=5.0, help="ssl.context_seconds")
    parser.add_argument("--no-cpu", action="store_true", help="time CUDA only")
    args = parser.parse_args()
    settings = ssl.SSLSettings(bundle=args.bundle, chunk_seconds=args.chunk, context_seconds=args.context)
    audio = voiced_signal(args.seconds)
    print(f"{args.bundle} (random weights), {args.seconds:g} s of audio, chunks {args.chunk:g} s + "
          f"{args.context:g} s context each side, every block stored")
    devices = [] if args.no_cpu else [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    torch.set_num_threads(args.threads)
    for device in devices:
        seconds, rows = run(settings, audio, device)
        per_minute = seconds * 60 / args.seconds
        if device.type == "cuda":
            memory = f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MiB CUDA allocated"
        else:
            memory = f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB peak RSS"
        label = f"cpu x{args.threads}" if device.type == "cpu" else torch.cuda.get_device_name(device)
        goal = f" (goal >= {GOAL_CPU:g}x on 2 cores)" if device.type == "cpu" else ""
        print(f"{label:24s} {per_minute:7.2f} s per minute of audio, {args.seconds / seconds:6.1f}x real time{goal}; "
              f"{memory}; rows {rows.shape} {rows.dtype}")


if __name__ == "__main__":
    main()
