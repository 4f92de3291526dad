"""Device check (issue #23): what one GPU does with this project's trainings, in one table, in under 8 minutes on one H100.

Per model at the papers' batch: the training step time in fp32 and bf16 (`emotrace.training.autocast`, the
trainer's own code path), peak GPU memory, and GPU utilisation while training (`torch.cuda.utilization`,
n/a without pynvml or on a CPU); then the packed-grid speedup (a DRNN's three learning rates trained by three
processes side by side on the one device, as `emotrace.packing` trains them with `fuse: false`, against one
alone), the fused-grid speedup (the three as one network in one process, `emotrace.fused`, the default on a GPU,
against one step alone), the shared-GPU throughput (8 fused DRNN jobs in 8 processes, as small jobs sharing the
GPU run them under `--cores 8`, against one alone, in this machine's sharing mode: time-sliced, or MPS while
its daemon runs; the share of the GPU one fused job takes follows), SSL extraction speed
(WavLM Base+ architecture with random weights, `emotrace.ssl.extract`), and the paper grid (configs/paper.yaml,
RECOLA size) extrapolated with `emotrace.gpucost` from these measurements: before issue #23, after it one job at
a time, and with small jobs sharing the GPU (with the DRNN's measured share of it). Run it twice, the second
time with an MPS daemon (`nvidia-cuda-mps-control -d`; stop it with `echo quit | nvidia-cuda-mps-control`), for
both modes. Paste the table into docs/scale.md ("GPU time of the paper grid").

    python bench/gpu_check.py                          # the device's full check (CUDA when present)
    python bench/gpu_check.py --device cpu --quick     # under a minute on a CPU: the DRNN at batch 2 (tests)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_step import FRAMES, OPTIMISERS, SEGMENT, SETUPS  # noqa: E402

from emotrace import gpucost, ssl  # noqa: E402
from emotrace.devices import sharing_mode  # noqa: E402
from emotrace.fused import FusedDRNN, Optimizers  # noqa: E402
from emotrace.losses import ccc_loss  # noqa: E402
from emotrace.models import build_model  # noqa: E402
from emotrace.training import autocast, set_precision  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BATCH = {"drnn": 5}  # the papers' batch; 50 for every other model
QUICK_MODELS, QUICK_BATCH = ("drnn",), 2
PACKED = 3  # a DRNN job's learning rates (configs/paper.yaml)
FUSED = "drnn_fused"  # the child's name for a DRNN job's PACKED rates as one network
SHARED = gpucost.CORES  # small trainings at once on the README's --cores 8: one process (and core) each
TIME_BUDGET = 7 * 60  # seconds: models left when it is spent are reported as skipped


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Utilisation:
    """Mean of torch.cuda.utilization() sampled every 0.1 s while the block runs; None where it cannot be read."""

    def __init__(self, device: torch.device):
        self.device, self.samples, self.stop = device, [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.1):
            try:
                self.samples.append(torch.cuda.utilization(self.device))
            except Exception:  # no pynvml, no NVML: not an error of the check
                return

    def __enter__(self):
        if self.device.type == "cuda":
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()

    @property
    def mean(self) -> float | None:
        return float(np.mean(self.samples)) if self.samples else None


def stepper(name: str, device: torch.device, batch: int, precision: str, seed: int = 0, members: int = PACKED):
    """A closure running one training step of the model (random inputs at the real shapes), and the model;
    FUSED: `members` DRNNs as one network (`emotrace.fused`), each with its own optimiser, as a DRNN job on a GPU."""
    torch.manual_seed(seed)
    fused = name == FUSED
    optimiser_name, lr, n_out, n_features = SETUPS["drnn" if fused else name]
    model = build_model("drnn" if fused else name, n_out, n_features=n_features).to(device).train()
    if fused:
        nets = [model] + [build_model("drnn", n_out, n_features=n_features).to(device) for _ in range(members - 1)]
        model = FusedDRNN(nets).train()
        optimiser = Optimizers([OPTIMISERS[optimiser_name](m.parameters(), lr=lr) for m in nets])
    else:
        optimiser = OPTIMISERS[optimiser_name](model.parameters(), lr=lr)
    shape = (batch, SEGMENT) if n_features is None else (batch, FRAMES, n_features)
    x, gold = torch.randn(shape, device=device), torch.randn(batch, FRAMES, n_out, device=device)
    mask = torch.ones(batch, FRAMES, dtype=torch.bool, device=device)

    def step() -> None:
        optimiser.zero_grad(set_to_none=True)
        with autocast(device, precision):
            y = model(x)
            loss = sum(ccc_loss(y_j, gold, mask) for y_j in y) if fused else ccc_loss(y, gold, mask)
        loss.backward()
        optimiser.step()

    return step, model


def time_model(name: str, device: torch.device, batch: int, precision: str, steps: int) -> dict:
    """Seconds per step (median of `steps` after a warm-up step), peak GPU memory and utilisation."""
    set_precision(precision)
    step, model = stepper(name, device, batch, precision)
    step()
    sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    with Utilisation(device) as util:
        for _ in range(steps):
            start = time.perf_counter()
            step()
            sync(device)
            times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return {"s_per_step": float(np.median(times)), "peak_mb": peak, "util": util.mean,
            "parameters": sum(p.numel() for p in model.parameters())}


def child(name: str, device: str, batch: int, steps: int, members: int = PACKED) -> None:
    """One process of the packed measurement: warm up, say ready, wait for go, time `steps` steps, print them."""
    dev = torch.device(device)
    if dev.type == "cpu":
        torch.set_num_threads(1)  # k children share the cores
    step, _ = stepper(name, dev, batch, "fp32", members=members)
    step()
    sync(dev)
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(dev)
    print(json.dumps({"seconds": time.perf_counter() - start}), flush=True)


def run_together(k: int, name: str, device: str, batch: int, steps: int, members: int = PACKED) -> float:
    """Wall seconds for k processes, started at once, to each run `steps` steps."""
    cmd = [sys.executable, __file__, "--child", name, "--device", device, "--batch", str(batch),
           "--steps", str(steps), "--members", str(members)]
    procs = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(k)]
    try:
        for p in procs:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError(f"a packed child failed: {p.communicate()[1]}")
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        return max(json.loads(p.stdout.readline())["seconds"] for p in procs)
    finally:
        for p in procs:
            p.wait(60)


def packed_speedup(device: str, batch: int, steps: int, k: int = PACKED, one: float | None = None,
                   name: str = "drnn", members: int = PACKED) -> dict:
    """k trainings (of `name`) side by side in k processes against one alone (`one`: its seconds, measured here if
    not given): speedup = k x t(one) / t(k together); `fraction`: one training's share of the GPU that this
    implies, t(k) / (k x t(one)) (an upper bound where the k did not fill the GPU)."""
    one = run_together(1, name, device, batch, steps, members) if one is None else one
    together = run_together(k, name, device, batch, steps, members)
    return {"k": k, "one_s": one, "together_s": together, "speedup": k * one / together,
            "fraction": min(1.0, max(1.0 / k, together / (k * one)))}


def fused_speedup(device: torch.device, batch: int, steps: int, members: int) -> dict:
    """`members` DRNN trainings as one network against one alone, in this process: speedup = members x t(one) /
    t(fused) per step."""
    times = {}
    for name in ("drnn", FUSED):
        step, _ = stepper(name, device, batch, "fp32", members=members)
        step()
        sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync(device)
        times[name] = (time.perf_counter() - start) / steps
    return {"k": members, "one_s": times["drnn"], "fused_s": times[FUSED],
            "speedup": members * times["drnn"] / times[FUSED]}


def ssl_speed(device: torch.device, seconds: float) -> float:
    """WavLM Base+ (random weights) feature extraction, x real time, on `seconds` of noise-like audio."""
    settings = ssl.SSLSettings(bundle="WAVLM_BASE_PLUS", precision="bfloat16" if device.type == "cuda" else "float32")
    model = ssl.random_model(settings).to(device)
    audio = (np.random.default_rng(0).standard_normal(int(seconds * 16000)) * 0.1).astype(np.float32)
    n_rows = int(seconds / 0.04)
    ssl.extract(model, audio[:16000], settings, 25, device=device)  # warm-up
    sync(device)
    start = time.perf_counter()
    ssl.extract(model, audio, settings, n_rows, device=device)
    sync(device)
    return seconds / (time.perf_counter() - start)


def measured_costs(results: dict[str, dict]) -> dict[str, gpucost.StepCost]:
    """The cost model's constants scaled per measured model so that its fp32 step equals the measurement."""
    costs = dict(gpucost.H100)
    for name, r in results.items():
        if "fp32" in r:
            factor = r["fp32"]["s_per_step"] / gpucost.step_seconds(name, r["batch"], "fp32")
            c = costs[name]
            costs[name] = replace(c, latency=c.latency * factor, per_segment=c.per_segment * factor)
    return costs


def grid_hours(costs: dict, fraction: float, mode: str) -> tuple[float, float, float]:
    """The paper grid's GPU hours before issue #23, after it one job at a time, and with small jobs sharing the GPU
    in `mode`, from `costs` and the DRNN's measured `fraction` of the GPU."""
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    validate(config, str(REPO / "schemas" / "config.schema.yaml"))
    rows = gpucost.grid_jobs(config, gpucost.expected_segments(config), costs, {"drnn": fraction}, mode)
    return (sum(r["jobs"] * r["job_s_before"] for r in rows) / 3600, gpucost.grid_seconds(rows, "off") / 3600,
            gpucost.grid_seconds(rows, mode) / 3600)


def fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="the DRNN at batch 2, one step: a check of the script")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per model and precision")
    parser.add_argument("--models", nargs="+", default=None, choices=sorted(SETUPS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--members", type=int, default=PACKED, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.device, args.batch, args.steps, args.members)
        return
    device = torch.device(args.device)
    if args.quick:
        torch.set_num_threads(1)  # a check of the script on a shared CPU
    models = args.models or (QUICK_MODELS if args.quick else list(SETUPS))
    steps = args.steps or (1 if args.quick else 10)
    start = time.perf_counter()
    results: dict[str, dict] = {}
    for name in models:
        batch = QUICK_BATCH if args.quick else BATCH.get(name, 50)
        results[name] = {"batch": batch}
        for precision in ("fp32", "bf16"):
            if time.perf_counter() - start > TIME_BUDGET:
                break
            results[name][precision] = time_model(name, device, batch, precision, steps)
    set_precision("fp32")
    pack_steps = 2 if args.quick else 50
    packed = packed_speedup(args.device, BATCH["drnn"], pack_steps, 2 if args.quick else PACKED)
    fused = fused_speedup(device, BATCH["drnn"], pack_steps, 2 if args.quick else PACKED)
    shared = packed_speedup(args.device, BATCH["drnn"], pack_steps, 3 if args.quick else SHARED, name=FUSED,
                            members=2 if args.quick else PACKED)
    mode = sharing_mode() if device.type == "cuda" else "time"
    ssl_x = ssl_speed(device, 1.0 if args.quick else 120.0)
    before_h, after_h, shared_h = grid_hours(measured_costs(results), shared["fraction"], mode)

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"gpu_check on {name} ({device}), {steps} timed steps per model and precision"
          f"{', quick mode' if args.quick else ''}; {time.perf_counter() - start:.0f} s")
    print("| model | batch | parameters | fp32 s/step | bf16 s/step | bf16 speedup | peak GPU MB | GPU util % |")
    print("|---|---|---|---|---|---|---|---|")
    for model, r in results.items():
        fp32, bf16 = r.get("fp32"), r.get("bf16")
        if fp32 is None:
            print(f"| {model} | {r['batch']} | skipped (time budget) | | | | | |")
            continue
        ratio = fp32["s_per_step"] / bf16["s_per_step"] if bf16 else None
        print(f"| {model} | {r['batch']} | {fp32['parameters']:,} | {fp32['s_per_step']:.4f} | "
              f"{fmt(bf16 and bf16['s_per_step'], '.4f')} | {fmt(ratio, '.2f')} | {fmt(fp32['peak_mb'], '.0f')} | "
              f"{fmt(fp32['util'], '.0f')} |")
    print(f"| packed grid: {packed['k']} DRNN trainings side by side | {BATCH['drnn']} | | "
          f"one {packed['one_s']:.2f} s | together {packed['together_s']:.2f} s | {packed['speedup']:.2f} x | | |")
    print(f"| fused grid: {fused['k']} DRNN trainings as one network | {BATCH['drnn']} | | "
          f"one {fused['one_s']:.4f} s/step | fused {fused['fused_s']:.4f} s/step | {fused['speedup']:.2f} x | | |")
    print(f"| shared GPU ({mode}): {shared['k']} fused DRNN jobs in {shared['k']} processes | {BATCH['drnn']} | | "
          f"one {shared['one_s']:.2f} s | together {shared['together_s']:.2f} s | {shared['speedup']:.2f} x | | "
          f"share {shared['fraction']:.2f} |")
    print(f"| SSL extraction, WavLM Base+ (random weights) | | | {ssl_x:.1f} x real time | | | | |")
    print(f"| paper grid (configs/paper.yaml, RECOLA size), extrapolated | | | before {before_h:.1f} h | "
          f"one job at a time {after_h:.1f} h | {before_h / after_h:.1f} x | shared ({mode}) {shared_h:.1f} h | |")


if __name__ == "__main__":
    main()
