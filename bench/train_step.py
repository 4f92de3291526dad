"""Benchmark: seconds per 6 s segment for a full training step, and peak memory, for every model.

A step is forward, 1 - CCC loss, backward and the paper's optimiser step on a
batch of random 6 s segments (or 150-frame feature sequences), on the current
device (CUDA if available, else CPU). Each model runs in a fresh process so that
its peak memory is its own: CUDA `max_memory_allocated` on a GPU, the process's
peak resident set (and its growth over the model-free baseline) on a CPU. Reports
the minimum over the timed steps, wall clock and, on a CPU, process CPU time.

    python bench/train_step.py [--batch-size 50] [--steps 3] [--models e2e wave ...]
    python bench/train_step.py --loader [--batch-size 50] [--steps 10]

`--loader` times the other half of a step: reading one batch of blstm6373's input (150 x 6373 ComParE
rows per segment, z-normalised with train statistics) through the trainer's own dataset and DataLoader,
from generated segment and feature files of one 4-minute recording, on this process (num_workers 0).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

from emotrace.losses import ccc_loss
from emotrace.models import MODELS, build_model

SEGMENT, FRAMES = 96_000, 150
TARGET_E2E = 0.25  # s per segment for a full e2e step on the 2-core CPU
# (optimiser, learning rate, outputs, feature count) as the papers train each model
SETUPS = {
    "e2e": ("adam", 2e-3, 1, None),
    "e2e2017": ("adam", 2e-3, 1, None),
    "wave": ("rmsprop", 5e-4, 2, None),
    "spec": ("rmsprop", 5e-4, 2, None),
    "wavespec": ("rmsprop", 5e-4, 2, None),
    "drnn": ("sgd", 1e-3, 1, 88),
    "blstm6373": ("rmsprop", 5e-4, 2, 6373),
}
OPTIMISERS = {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop, "sgd": torch.optim.SGD}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(name: str, batch: int, steps: int) -> dict:
    """Time `steps` training steps of one model (after a warm-up step) in this process."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    optimiser_name, lr, n_out, n_features = SETUPS[name]
    baseline = peak_rss_mb()
    model = build_model(name, n_out, n_features=n_features).to(device).train()
    optimiser = OPTIMISERS[optimiser_name](model.parameters(), lr=lr)
    shape = (batch, SEGMENT) if n_features is None else (batch, FRAMES, n_features)
    x = torch.randn(shape, device=device)
    gold = torch.randn(batch, FRAMES, n_out, device=device)
    mask = torch.ones(batch, FRAMES, dtype=torch.bool, device=device)

    def step() -> None:
        optimiser.zero_grad(set_to_none=True)
        ccc_loss(model(x), gold, mask).backward()
        optimiser.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    step()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    walls, cpus = [], []
    for _ in range(steps):
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    result = {"model": name, "batch": batch, "device": str(device), "threads": torch.get_num_threads(),
              "s_per_segment": min(walls) / batch, "cpu_s_per_segment": min(cpus) / batch,
              "parameters": sum(p.numel() for p in model.parameters())}
    if device.type == "cuda":
        result["peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    else:
        result["peak_mb"] = peak_rss_mb()
        result["growth_mb"] = peak_rss_mb() - baseline
    return result


def measure_loader(batch: int, steps: int, n_frames: int = 6000, n_features: int = 6373) -> dict:
    """Seconds per batch of blstm6373's data path: SegmentDataset over a generated recording, train tiling."""
    import tempfile
    from pathlib import Path

    import numpy as np
    from torch.utils.data import DataLoader

    from emotrace.experiment import feature_inputs
    from emotrace.io import write_npz
    from emotrace.normalise import fit_stats, save_stats
    from emotrace.segments import segment_recording
    from emotrace.training import segment_dataset

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        labels = rng.uniform(-1, 1, (n_frames, 2)).astype(np.float32)
        audio = rng.standard_normal(n_frames * 640).astype(np.float32)
        write_npz(tmp / "rec.npz", **segment_recording(audio, labels, ["arousal", "valence"], "rec", "start", 50))
        values = (rng.standard_normal((n_frames, n_features)) * 3 + 1).astype(np.float32)
        write_npz(tmp / "features" / "rec.npz", values=values)
        save_stats(tmp / "stats.npz", fit_stats([values], [f"f{i}" for i in range(n_features)]))
        del values
        args = feature_inputs(tmp / "stats.npz", [tmp / "features" / "rec.npz"], "compare6373")
        start = time.perf_counter()
        dataset = segment_dataset("blstm6373", [tmp / "rec.npz"], ["arousal", "valence"], args["features"],
                                  args["normalise"])
        setup = time.perf_counter() - start
        loader = DataLoader(dataset, batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(0))
        times = []
        while len(times) < steps:
            start = time.perf_counter()
            for x, *_ in loader:
                if len(x) == batch:  # the short last batch of an epoch is not timed
                    times.append(time.perf_counter() - start)
                start = time.perf_counter()
                if len(times) == steps:
                    break
    return {"batch": batch, "segments": len(dataset), "setup_s": setup, "median_s_per_batch": float(np.median(times)),
            "min_s_per_batch": min(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per model (after one warm-up)")
    parser.add_argument("--models", nargs="+", default=list(SETUPS), choices=sorted(MODELS))
    parser.add_argument("--loader", action="store_true", help="time blstm6373's data loading instead")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loader:
        r = measure_loader(args.batch_size, args.steps)
        print(f"blstm6373 input, batch {r['batch']} ({r['segments']} segments of one 4-min recording): "
              f"{r['median_s_per_batch']:.3f} s per batch (median; min {r['min_s_per_batch']:.3f}), "
              f"dataset set-up {r['setup_s']:.2f} s")
        return
    if args.child:
        print(json.dumps(measure(args.child, args.batch_size, args.steps)))
        return
    print(f"batch {args.batch_size}, {args.steps} timed steps after a warm-up; minimum per 6 s segment")
    print(f"{'model':10s} {'params':>10s} {'s/segment':>10s} {'cpu s/seg':>10s} {'peak MB':>9s} {'growth MB':>9s}")
    for name in args.models:
        cmd = [sys.executable, __file__, "--child", name, "--batch-size", str(args.batch_size), "--steps", str(args.steps)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{name:10s} failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        growth = f"{r['growth_mb']:9.0f}" if "growth_mb" in r else f"{'':9s}"
        print(f"{name:10s} {r['parameters']:10,d} {r['s_per_segment']:10.3f} {r['cpu_s_per_segment']:10.3f} "
              f"{r['peak_mb']:9.0f} {growth}", flush=True)
        if name == "e2e":
            print(f"{'':10s} e2e: {r['s_per_segment'] / TARGET_E2E:.2f} x the {TARGET_E2E} s/segment budget "
                  f"on {r['device']} with {r['threads']} threads")
    print("wall-clock figures on a shared machine are noisy; cpu s/seg sums all threads")


if __name__ == "__main__":
    main()
