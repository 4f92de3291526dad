"""A cost model of training on one GPU: seconds per step, per training, per job and for a whole config grid.

Nothing here is measured yet (no GPU has been lent to this project): the constants are estimates for one
NVIDIA H100 from each network's arithmetic (torch.utils.flop_counter on its forward pass, plus the LSTMs'
4 x (input + hidden) x hidden x 2 FLOPs per frame and direction, x 3 for forward and backward) at an assumed
27 TFLOP/s achieved in float32 (40 % of the H100 SXM's 67 TFLOP/s without tensor cores), and a latency floor
per step that no batch size removes (kernel launches, the 150 recurrent time steps run in sequence: ~8 us
per step and layer forward, twice that backward). `bench/gpu_check.py` measures the step times on a GPU and
extrapolates the grid with these same formulas; its figures replace the constants below once it has run.

A training step of batch B costs `latency + B * per_segment` on the GPU (`per_segment * BF16_COMPUTE` under
bf16); before the changes of issue #23 the host also read (and, for `blstm6373`, z-scored in float64) each
item on the training process and waited for the GPU once per step (`loss.item()`), and the dev set was
evaluated at the training batch. A job trains its learning rates one after another (before) or side by side
on its GPU (after, `emotrace.packing`), which costs `max(1, k * GPU_BUSY)` times one training when k share it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

from emotrace.errors import InputError


@dataclass(frozen=True)
class StepCost:
    """One network's step on one H100 at fp32: `latency` s per step, `per_segment` s of arithmetic per segment,
    `host` s of loading per segment when items are read on the training process (`host_after`: since
    blstm6373's rows are z-scored once, in float32), `gpu_mb` of activations per segment of a batch, `input_mb`
    of one segment's input in host memory."""

    latency: float
    per_segment: float
    host: float
    gpu_mb: float
    input_mb: float
    host_after: float | None = None

    @property
    def host_now(self) -> float:
        return self.host if self.host_after is None else self.host_after


AUDIO_MB = 96_000 * 4 / 2**20
# fwd GFLOP per segment (flop counter + LSTMs): e2e 0.8 + 0.35, e2e2017 6.4 + 0.2, wave 0.8 + 0.2, spec 1.7 + 0.2,
# wavespec 2.4 + 0.4, drnn 0.02, blstm6373 2.0 (its 6373-wide input projection) + 0.1; x 3 / 27 TFLOP/s.
H100: dict[str, StepCost] = {
    "e2e": StepCost(0.012, 0.00013, 0.0003, 60, AUDIO_MB),
    "e2e2017": StepCost(0.008, 0.00073, 0.0003, 120, AUDIO_MB),
    "wave": StepCost(0.010, 0.00011, 0.0003, 60, AUDIO_MB),
    "spec": StepCost(0.010, 0.00021, 0.0003, 80, AUDIO_MB),
    "wavespec": StepCost(0.014, 0.00031, 0.0003, 120, AUDIO_MB),
    "drnn": StepCost(0.013, 0.00001, 0.0003, 4, 150 * 130 * 4 / 2**20),
    # blstm6373's host time: the issue's 0.3-0.4 s per batch of 50; z-scored once, ~2.8x less (bench/train_step.py
    # --loader on 2 CPU cores, 3 interleaved runs: median 0.41-0.73 -> 0.17-0.34 s, minimum 0.33-0.52 -> 0.14-0.15 s)
    "blstm6373": StepCost(0.008, 0.00023, 0.007, 40, 150 * 6373 * 4 / 2**20, host_after=0.0025),
    "ssl_blstm": StepCost(0.008, 0.00015, 0.002, 30, 150 * 768 * 13 * 2 / 2**20),
    "ssl_spec": StepCost(0.012, 0.00030, 0.002, 90, 150 * 768 * 13 * 2 / 2**20 + AUDIO_MB),
    "ssl_wavespec": StepCost(0.016, 0.00040, 0.002, 140, 150 * 768 * 13 * 2 / 2**20 + AUDIO_MB),
}
BF16_COMPUTE = 0.4
"""Arithmetic time under bf16 autocast relative to fp32 (tensor cores; the FFT convolution and loss stay float32)."""
SYNC_SECONDS = 0.002
"""Per step with a host sync: the launch work the CPU can no longer queue ahead of the GPU."""
EVAL_FRACTION = 1 / 3
"""A forward pass without gradients, relative to a training step."""
GPU_BUSY = 0.35
"""Fraction of a small training's wall time the GPU spends executing its kernels (recurrent, latency bound)."""
MEAN_EPOCHS = 70
"""Epochs a training runs on average before early stopping (max 100, patience 10) for the grid estimates."""
CUDA_CONTEXT_MB = 600
"""GPU memory of the CUDA context, cuDNN and cuBLAS workspaces."""
WEIGHT_COPIES = 4
"""float32 copies of every weight on the GPU: weights, gradients, two optimiser moments (Adam; RMSprop one)."""


Costs = Mapping[str, StepCost]


def cost(network: str, costs: Costs | None = None) -> StepCost:
    """The network's step cost (from `costs`, default H100), InputError for an unknown one."""
    costs = H100 if costs is None else costs
    if network not in costs:
        raise InputError("network", f"no GPU cost constants for {network!r}; known: {sorted(costs)}")
    return costs[network]


def step_seconds(network: str, batch: int, precision: str = "fp32", costs: Costs | None = None) -> float:
    """GPU seconds of one training step of `batch` segments."""
    c = cost(network, costs)
    return c.latency + batch * c.per_segment * (BF16_COMPUTE if precision == "bf16" else 1.0)


def training_seconds(network: str, batch: int, n_train: int, n_eval: int, epochs: float, improved: bool = True,
                     precision: str | None = None, eval_batch: int = 128, costs: Costs | None = None) -> float:
    """One training of `epochs` epochs over `n_train` segments, evaluating `n_eval` dev segments after each.

    `improved`: with this issue's changes (workers overlap the host's loading, no per-step sync, evaluation at
    `eval_batch`, bf16 unless `precision` says otherwise); else as the trainer ran before them (fp32)."""
    c = cost(network, costs)
    precision = precision or ("bf16" if improved else "fp32")
    steps = math.ceil(n_train / batch)
    step = step_seconds(network, batch, precision, costs)
    if improved:
        per_step = max(step, batch * c.host_now / 4)  # 4 workers load while the GPU trains
        eval_size = max(batch, eval_batch)
        eval_step = step_seconds(network, eval_size, precision, costs)
        evaluation = math.ceil(n_eval / eval_size) * max(EVAL_FRACTION * eval_step, eval_size * c.host_now / 4)
    else:
        per_step = step + SYNC_SECONDS + batch * c.host
        evaluation = math.ceil(n_eval / batch) * (EVAL_FRACTION * step + batch * c.host)
    return epochs * (steps * per_step + evaluation)


def packed_seconds(single: float, k: int, busy: float = GPU_BUSY) -> float:
    """Wall time of k trainings of `single` seconds each, side by side on one GPU."""
    return single * max(1.0, k * busy)


def gpu_memory_mb(network: str, n_parameters: int, batch: int, k: int = 1) -> float:
    """GPU memory of k trainings side by side: context, weight copies, activations of one batch each."""
    return CUDA_CONTEXT_MB + k * (n_parameters * 4 * WEIGHT_COPIES / 2**20 + batch * cost(network).gpu_mb)


def grid_jobs(config: Mapping, sizes: Mapping[str, int], costs: Costs | None = None, busy: float = GPU_BUSY) -> list[dict]:
    """Per network model of a config: its jobs, trainings per job, batch, and the estimated GPU seconds of a job
    before and after (`sizes`: train and dev segment counts, `expected_segments`; `costs` and `busy` measured
    ones where bench/gpu_check.py has them)."""
    from emotrace import systems

    rows = []
    for model in config["models"]:
        s = systems.model_settings(config, model)
        if s["network"] not in (H100 if costs is None else costs):
            continue
        n_lr = len(s["lr"]) if isinstance(s["lr"], list) else 1
        n_jobs = len(s["objectives"]) * len(systems.targets(config, model)) * len(s.get("seeds", config["seeds"]))
        epochs = min(MEAN_EPOCHS, int(s["max_epochs"]))
        args = (s["network"], int(s["batch_size"]), sizes["train"], sizes["dev"], epochs)
        before = n_lr * training_seconds(*args, improved=False, costs=costs)
        after = packed_seconds(training_seconds(*args, improved=True, costs=costs), n_lr, busy)
        rows.append({"model": model, "network": s["network"], "jobs": n_jobs, "trainings_per_job": n_lr,
                     "batch": int(s["batch_size"]), "epochs": epochs, "job_s_before": before, "job_s_after": after})
    return rows


def expected_segments(config: Mapping) -> dict[str, int]:
    """Train (overlapping tiling) and dev (contiguous) segment counts of a synthetic-corpus config."""
    from emotrace.segments import segment_starts

    synth, split = config["synthetic"], config["split"]["proportions"]
    n, frames = int(synth["n_speakers"]), int(float(synth["duration"]) / 0.04) + 1
    total = sum(split.values())
    n_train, n_dev = max(1, round(n * split["train"] / total)), max(1, round(n * split["dev"] / total))
    hop = round(config["segments"]["train_hop"] / 0.04)
    return {"train": n_train * len(segment_starts(frames, hop)), "dev": n_dev * len(segment_starts(frames, None))}
