"""Benchmark: SSL feature extraction (emotrace.ssl, as the extract_ssl rule runs it) per minute of audio.

Random weights of the bundle's architecture (base size by default) cost the same as the trained
ones, so nothing is downloaded. Times `ssl.extract` (chunked forward passes, 20 -> 40 ms rows,
float16) on synthetic speech-like audio on the CPU with `--threads` threads (goal: at least 10x
real time on 2 cores) and on CUDA when present; prints wall seconds per minute of audio, the
real-time factor, and peak memory (process resident set on the CPU, allocated memory on CUDA).
Not bench/ssl.py: run as a script, bench/ is first on sys.path, and a file named ssl.py there
would stand in for the standard library's `ssl` (imported by pyarrow, urllib ...) in every bench.

`--compare` times variants in one run, alternating them `--repeats` times so that a shared or
throttled machine slows all of them alike: the old settings (float32, 30 s chunks, 5 s context),
the settings given (the config defaults unless --chunk/--context/--precision say otherwise) and
any `--variant CHUNK/CONTEXT/PRECISION`. It prints each variant's median x real time, its speed
relative to the old settings, and its relative error against one float32 pass over the whole
audio (||h - h_ref|| / ||h_ref|| per stored block, the largest over blocks; float16 storage included).

    python bench/ssl_features.py [--bundle WAVLM_BASE_PLUS] [--seconds 60] [--threads 2] [--chunk 30] [--context 5]
                                 [--precision bfloat16] [--compare [--repeats 3] [--variant 60/2/bfloat16 ...]]
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from features import voiced_signal  # noqa: E402

from emotrace import ssl  # noqa: E402

GOAL_CPU = 10.0  # x real time on 2 cores
OLD = {"chunk_seconds": 30.0, "context_seconds": 5.0, "precision": "float32"}
"""The settings before issue 16's speed work: the baseline of --compare."""


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


def relative_error(states: np.ndarray, reference: np.ndarray) -> float:
    """||states - reference|| / ||reference|| per stored block (axis 1), the largest over blocks."""
    diff = states.astype(np.float32) - reference.astype(np.float32)
    ref = reference.astype(np.float32)
    return float(max(np.linalg.norm(diff[:, k]) / np.linalg.norm(ref[:, k]) for k in range(ref.shape[1])))


def parse_variant(text: str) -> dict:
    """CHUNK/CONTEXT/PRECISION (e.g. 60/2/bfloat16) -> SSLSettings fields."""
    try:
        chunk, context, precision = text.split("/")
        variant = {"chunk_seconds": float(chunk), "context_seconds": float(context), "precision": precision}
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected CHUNK/CONTEXT/PRECISION, got {text!r}") from err
    if precision not in ssl.PRECISIONS:
        raise argparse.ArgumentTypeError(f"precision must be one of {ssl.PRECISIONS}, got {precision!r}")
    return variant


def compare(settings: ssl.SSLSettings, extra: list[dict], audio: np.ndarray, repeats: int, threads: int) -> None:
    """Time the old settings, `settings` and `extra` alternately on the CPU; print speeds, ratios and errors."""
    variants = [dataclasses.replace(settings, **OLD), settings]
    variants += [dataclasses.replace(settings, **v) for v in extra]
    variants = list(dict.fromkeys(variants))
    model = ssl.random_model(settings)
    layers = ssl.selected_layers(settings)
    seconds = audio.size / ssl.SAMPLE_RATE
    reference = ssl.hidden_states(model, audio, layers, chunk_seconds=seconds + 1, context_seconds=0)
    for precision in {v.precision for v in variants}:  # warm-up
        ssl.hidden_states(model, audio[: 2 * ssl.SAMPLE_RATE], layers, precision=precision)
    times: dict[ssl.SSLSettings, list[float]] = {v: [] for v in variants}
    errors = {}
    for _ in range(repeats):
        for v in variants:
            start = time.perf_counter()
            states = ssl.hidden_states(model, audio, layers, v.chunk_seconds, v.context_seconds, "cpu", v.precision)
            times[v].append(time.perf_counter() - start)
            errors[v] = relative_error(states, reference)
    old = statistics.median(times[variants[0]])
    print(f"cpu x{threads}, {repeats} alternating repeats, medians (goal >= {GOAL_CPU:g}x real time on 2 cores):")
    for i, v in enumerate(variants):
        median = statistics.median(times[v])
        name = "old" if i == 0 else "new" if i == 1 else "variant"
        print(f"{name:8s} {v.chunk_seconds:5g} s chunks {v.context_seconds:4g} s context {v.precision:9s} "
              f"{seconds / median:6.1f}x real time  speed {old / median:5.2f}x the old  "
              f"relative error vs one fp32 pass {errors[v]:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="WAVLM_BASE_PLUS", choices=ssl.BUNDLES)
    parser.add_argument("--seconds", type=float, default=60.0, help="audio length")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads)")
    defaults = ssl.SSLSettings()
    parser.add_argument("--chunk", type=float, default=defaults.chunk_seconds, help="ssl.chunk_seconds")
    parser.add_argument("--context", type=float, default=defaults.context_seconds, help="ssl.context_seconds")
    parser.add_argument("--precision", default=defaults.precision, choices=ssl.PRECISIONS, help="ssl.precision")
    parser.add_argument("--compare", action="store_true", help="time the old settings against these, alternately")
    parser.add_argument("--repeats", type=int, default=3, help="alternating repeats of --compare")
    parser.add_argument("--variant", type=parse_variant, action="append", default=[],
                        help="CHUNK/CONTEXT/PRECISION, another variant for --compare (repeatable)")
    parser.add_argument("--no-cpu", action="store_true", help="time CUDA only")
    args = parser.parse_args()
    settings = ssl.SSLSettings(bundle=args.bundle, chunk_seconds=args.chunk, context_seconds=args.context,
                               precision=args.precision)
    audio = voiced_signal(args.seconds)
    torch.set_num_threads(args.threads)
    if args.compare:
        print(f"{args.bundle} (random weights), {args.seconds:g} s of audio, every block stored")
        compare(settings, args.variant, audio, args.repeats, args.threads)
        return
    print(f"{args.bundle} (random weights), {args.seconds:g} s of audio, chunks {args.chunk:g} s + "
          f"{args.context:g} s context each side, {args.precision}, every block stored")
    devices = [] if args.no_cpu else [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
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
