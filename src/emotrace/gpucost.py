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
on its GPU (after): in k processes (`emotrace.packing`), which costs `max(1, k * f)` times one training, f being
one training's fraction of the GPU (`gpu_fraction`), or, for the DRNN, fused into one network (`emotrace.fused`,
`job_shape`): one training's latency floor and k**2 times its arithmetic. Either way the job lasts as long as its
longest training (SIDE_BY_SIDE_EPOCHS).

Small jobs also share a GPU with each other (`emotrace.devices`: share slots per device; `schedule` runs the
grid's jobs through that mechanism on `CORES` cores). How far that goes depends on how the GPU runs kernels of
different processes: time-sliced (the default: a context's kernels never run beside another's, so sharing
fills only the gaps a training leaves while its host launches kernels, and k trainings cost `max(1, k x busy)`)
or concurrently under NVIDIA MPS (kernels of different processes on different SMs: a latency-bound training
occupies a few of them, so the host cores, one per training, bound how many run at once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

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
LATENCY_BUSY = 0.35
"""Fraction of a step's latency floor during which the GPU executes the training's kernels (the rest: the host
launching them, Python); for the DRNN, whose step is all latency, the fraction of its wall time the GPU is busy
with it. Assumed, not measured: `bench/gpu_check.py` measures it (its packed and shared rows)."""
GPU_BUSY = LATENCY_BUSY
LATENCY_SM_SHARE = 0.06
"""Fraction of the H100's 132 SMs that latency-bound kernels occupy while they run: a recurrent step's GEMM at
batch 5-50 and hidden 64-128 (5 x 256 outputs per direction for the DRNN) tiles into at most ~8 thread blocks,
one SM each; the gate and optimiser kernels are smaller still. What kernels of other processes can use beside
them under MPS; an estimate from the shapes, not measured."""
SHARING_MODES = ("time", "mps", "off")
"""How jobs share a GPU (`emotrace.devices.sharing_mode`): time-sliced, concurrently under NVIDIA MPS, or not."""
CORES = 8
"""Cores of the grid estimate: the README's command, `snakemake --cores 8 --resources gpu=1`."""
LOADING_WORKERS = 4
"""Loading workers of a GPU job (`training.MAX_AUTO_WORKERS`, shared by the trainings side by side)."""
H100_MB = 80 * 1024
"""GPU memory of the H100 the estimates are for."""
MEAN_EPOCHS = 70
"""Epochs a training runs on average before early stopping (max 100, patience 10) for the grid estimates."""
FUSABLE = frozenset({"drnn"})
"""Networks whose learning rates a GPU job trains as one network (`emotrace.fused`)."""
SIDE_BY_SIDE_EPOCHS = 85
"""Epochs of a job whose trainings run side by side (fused, or in processes): it lasts until the last of them
stops, and the longest of three trainings whose epochs spread evenly over 40-100 (mean MEAN_EPOCHS) runs 85 on
average. An assumption, like MEAN_EPOCHS."""
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


def fused(network: str, n: int, fuse: bool | str = "auto", cuda: bool = True) -> bool:
    """Whether a job's n trainings of `network` train as one network (`emotrace.fused`): a FUSABLE network with
    more than one learning rate, and `training.fuse` true, or `auto` on a GPU (`cuda`)."""
    if n < 2 or network not in FUSABLE or fuse is False:
        return False
    return fuse is True or cuda


def job_shape(settings: Mapping, cuda: bool = True) -> tuple[int, int]:
    """A training job's (processes side by side, networks per process) on a GPU: its learning rates fused into
    one process (`emotrace.fused`), or side by side in processes, at most `training.pack` of them."""
    n = len(settings["lr"]) if isinstance(settings["lr"], list) else 1
    if fused(settings["network"], n, settings.get("fuse", "auto"), cuda):
        return 1, n
    pack = settings.get("pack", "auto")
    return (n if pack == "auto" else max(1, min(int(pack), n))), 1


def serial_trainings(settings: Mapping) -> int:
    """Trainings of a job whose GPU time adds up (`packed_seconds`' k): its learning rates, or 1 when fused."""
    n = len(settings["lr"]) if isinstance(settings["lr"], list) else 1
    return 1 if job_shape(settings)[1] > 1 else n


def step_seconds(network: str, batch: int, precision: str = "fp32", costs: Costs | None = None,
                 members: int = 1) -> float:
    """GPU seconds of one training step of `batch` segments (of `members` networks fused: one latency floor, and
    members**2 times the arithmetic, since the block-diagonal products compute their zero blocks too)."""
    c = cost(network, costs)
    return c.latency + members**2 * batch * c.per_segment * (BF16_COMPUTE if precision == "bf16" else 1.0)


def training_seconds(network: str, batch: int, n_train: int, n_eval: int, epochs: float, improved: bool = True,
                     precision: str | None = None, eval_batch: int = 128, costs: Costs | None = None,
                     members: int = 1) -> float:
    """One training of `epochs` epochs over `n_train` segments, evaluating `n_eval` dev segments after each.

    `improved`: with this issue's changes (workers overlap the host's loading, no per-step sync, evaluation at
    `eval_batch`, bf16 unless `precision` says otherwise); else as the trainer ran before them (fp32).
    `members`: networks fused into this training (`emotrace.fused`), reading the same batches."""
    c = cost(network, costs)
    precision = precision or ("bf16" if improved else "fp32")
    steps = math.ceil(n_train / batch)
    step = step_seconds(network, batch, precision, costs, members)
    if improved:
        per_step = max(step, batch * c.host_now / 4)  # 4 workers load while the GPU trains
        eval_size = max(batch, eval_batch)
        eval_step = step_seconds(network, eval_size, precision, costs, members)
        evaluation = math.ceil(n_eval / eval_size) * max(EVAL_FRACTION * eval_step, eval_size * c.host_now / 4)
    else:
        per_step = step + SYNC_SECONDS + batch * c.host
        evaluation = math.ceil(n_eval / batch) * (EVAL_FRACTION * step + batch * c.host)
    return epochs * (steps * per_step + evaluation)


def packed_seconds(single: float, k: int, busy: float = GPU_BUSY) -> float:
    """Wall time of k trainings of `single` seconds each, side by side on one GPU, each using `busy` of it."""
    return single * max(1.0, k * busy)


def wall_step_seconds(network: str, batch: int, precision: str = "bf16", costs: Costs | None = None,
                      members: int = 1) -> float:
    """Wall seconds of a training step with loading workers (`improved`): the GPU's step or the loading, the longer."""
    return max(step_seconds(network, batch, precision, costs, members),
               batch * cost(network, costs).host_now / LOADING_WORKERS)


def gpu_fraction(network: str, batch: int, mode: str = "time", precision: str = "bf16",
                 costs: Costs | None = None, members: int = 1) -> float:
    """One training's share of a GPU while it trains: its arithmetic in full, plus its latency floor x
    LATENCY_BUSY (time-sliced: the time the GPU runs its kernels, which no other process's kernels can use) or
    x LATENCY_SM_SHARE (MPS: the SMs its small kernels hold), over its wall step (`off`: time-sliced, as
    a job's own trainings side by side still are); 1 (all of it) for a network without constants. `members`
    networks fused: one latency floor, members**2 times the arithmetic (`step_seconds`)."""
    if mode not in SHARING_MODES:
        raise InputError("gpu sharing", f"unknown mode {mode!r}; known: {list(SHARING_MODES)}")
    if network not in (H100 if costs is None else costs):
        return 1.0
    c = cost(network, costs)
    compute = members**2 * batch * c.per_segment * (BF16_COMPUTE if precision == "bf16" else 1.0)
    latency = c.latency * (LATENCY_SM_SHARE if mode == "mps" else LATENCY_BUSY)
    return min(1.0, (compute + latency) / wall_step_seconds(network, batch, precision, costs, members))


def job_cores(network: str, batch: int, k: int = 1, precision: str = "bf16", costs: Costs | None = None,
              members: int = 1) -> int:
    """Cores a GPU job of k trainings side by side keeps busy: one per training's process (a latency-bound
    training's host launches kernels without pause) plus its loading workers' share (at most LOADING_WORKERS)."""
    if network not in (H100 if costs is None else costs):
        return k + LOADING_WORKERS
    loading = batch * cost(network, costs).host_now / wall_step_seconds(network, batch, precision, costs, members)
    return math.ceil(k + min(LOADING_WORKERS, k * loading) - 1e-9)


def job_share(network: str, batch: int, k: int, mode: str, memory_mb: float = 0.0, device_mb: float = H100_MB,
              fraction: float | None = None, costs: Costs | None = None, members: int = 1) -> float:
    """A job's share of one GPU, at most 1: its k trainings' `gpu_fraction` (or a measured `fraction`) or
    their memory on a device of `device_mb`, whichever is larger; 1 with `off` (no sharing)."""
    if mode == "off":
        return 1.0
    f = gpu_fraction(network, batch, mode, costs=costs, members=members) if fraction is None else fraction
    return min(1.0, max(k * f, memory_mb / device_mb))


@dataclass(frozen=True)
class Job:
    """A job for `schedule`: seconds once it runs, threads it holds, `gpu` of Snakemake's pool (`--resources
    gpu=1`: an exclusive job holds 1, a sharing one 0), and its share slots of the device (0: a CPU job)."""

    name: str
    seconds: float
    threads: int
    gpu: int = 0
    slots: int = 0


def schedule(jobs: Sequence[Job], cores: int = CORES, gpus: int = 1, slots: int = 20) -> float:
    """Seconds until the last of `jobs` ends, run as the pipeline runs them on one machine with one GPU of `slots`
    share slots: Snakemake starts, in the given (priority) order, every job whose threads (at most `cores`) fit
    the free cores and whose `gpu` fits the free pool; a started job holds its cores and waits, first come first
    served, for its slots of the device (`emotrace.devices.claim_device`), then runs `seconds`. Sharing jobs run
    at full speed because their shares sum to at most one device (`job_share`)."""
    queue, waiting, running = list(jobs), [], []  # running: (end, job)
    free_cores, free_gpu, free_slots, now = cores, gpus, slots, 0.0
    while queue or waiting or running:
        for job in list(queue):
            threads = min(job.threads, cores)
            if threads <= free_cores and job.gpu <= free_gpu:
                queue.remove(job)
                free_cores, free_gpu = free_cores - threads, free_gpu - job.gpu
                waiting.append(job)
        while waiting and min(waiting[0].slots, slots) <= free_slots:
            job = waiting.pop(0)
            free_slots -= min(job.slots, slots)
            running.append((now + job.seconds, job))
        if not running:
            raise InputError("schedule", f"jobs cannot start on {cores} cores and {gpus} GPU: {queue + waiting}")
        running.sort(key=lambda r: r[0])
        now, job = running.pop(0)
        free_cores, free_gpu = free_cores + min(job.threads, cores), free_gpu + job.gpu
        free_slots += min(job.slots, slots)
    return now


def gpu_memory_mb(network: str, n_parameters: int, batch: int, k: int = 1, members: int = 1) -> float:
    """GPU memory of k trainings side by side, one process each: per process a CUDA context, and per network
    (`members` fused in each) the weight copies and the activations of one batch."""
    per_network = n_parameters * 4 * WEIGHT_COPIES / 2**20 + batch * cost(network).gpu_mb
    return k * (CUDA_CONTEXT_MB + members * per_network)


def job_placement(network: str, batch: int, k: int, mode: str, memory_mb: float = 0.0,
                  device_mb: float | None = H100_MB, fraction: float | None = None, precision: str = "bf16",
                  costs: Costs | None = None, members: int = 1) -> dict:
    """How a GPU job of k trainings side by side holds a machine where jobs share the GPU: `threads`
    (`job_cores`), `share` of the device (`job_share`; 1 where `device_mb` is unknown), its `slots` of
    `emotrace.devices.SLOTS`, and `gpu` of Snakemake's pool (`--resources gpu=1`): 1 for a job that takes more
    than half of the device, so that Snakemake starts no second one, which could only wait for the device while
    holding cores that small jobs beside the first could use; 0 for the others, which share the device.
    `members`: networks fused in each of the k processes (`emotrace.fused`)."""
    from emotrace.devices import SLOTS, slots_for

    if fraction is None:
        fraction = gpu_fraction(network, batch, mode, precision, costs, members)
    share = job_share(network, batch, k, mode, memory_mb, device_mb, fraction, costs, members) if device_mb else 1.0
    slots = slots_for(share)
    return {"threads": job_cores(network, batch, k, precision, costs, members), "share": share, "slots": slots,
            "gpu": int(2 * slots > SLOTS)}


def job_row(settings: Mapping, n_jobs: int, single: float, costs: Costs | None = None,
            fraction: float | None = None, measured_mode: str = "time", precision: str = "bf16") -> dict:
    """A model's train_network jobs for `grid_seconds`: `n_jobs` jobs of its learning rates side by side, each
    training `single` seconds alone (a fused job, `job_shape`: `single` is the fused training's); per sharing
    mode the job's seconds (`job_s_<mode>`) and placement (`share_<mode>`, `slots_<mode>`, `gpu_<mode>`), its
    `threads` and `priority` (`emotrace.priorities` on a machine with a GPU: the order Snakemake starts jobs in).
    `fraction`: one training's (one fused training's) measured share under `measured_mode`; `precision`: the
    one `single` was estimated at."""
    from emotrace import priorities, resources

    network, batch = settings["network"], int(settings["batch_size"])
    n = len(settings["lr"]) if isinstance(settings["lr"], list) else 1
    members, k = job_shape(settings)[1], serial_trainings(settings)
    memory = resources.gpu_job_mb(network, batch, k, members=members)
    row = {"network": network, "jobs": n_jobs, "trainings_per_job": n, "fused": members > 1, "batch": batch,
           "priority": priorities.for_training(settings, 3600.0, gpu=True)}
    for mode in SHARING_MODES:
        f = gpu_fraction(network, batch, mode, precision, costs, members)
        if fraction is not None and ("time" if mode == "off" else mode) == measured_mode:
            f = fraction  # `off` packs a job's own trainings time-sliced
        placed = job_placement(network, batch, k, mode, memory, fraction=f, precision=precision, costs=costs,
                               members=members)
        row[f"job_s_{mode}"] = packed_seconds(single, k, f)
        row.update({f"{key}_{mode}": placed[key] for key in ("share", "slots", "gpu")}, threads=placed["threads"])
    return row


def grid_jobs(config: Mapping, sizes: Mapping[str, int], costs: Costs | None = None,
              fractions: Mapping[str, float] | None = None, measured_mode: str = "time") -> list[dict]:
    """Per network model of a config (`job_row`), with `model`, `epochs`, the estimated seconds of a job before
    issue #23 (`job_s_before`: learning rates one after another, the trainer as it was) and after, one job at a
    time (`job_s_after`). `sizes`: train and dev segment counts (`expected_segments`); `costs`, and `fractions`
    of one training by network under `measured_mode`, the measured ones where bench/gpu_check.py has them."""
    from emotrace import systems

    rows = []
    for model in config["models"]:
        s = systems.model_settings(config, model)
        if s["network"] not in (H100 if costs is None else costs):
            continue
        n_jobs = len(s["objectives"]) * len(systems.targets(config, model)) * len(s.get("seeds", config["seeds"]))
        processes, members = job_shape(s)
        epochs = min(MEAN_EPOCHS if processes * members == 1 else SIDE_BY_SIDE_EPOCHS, int(s["max_epochs"]))
        args = (s["network"], int(s["batch_size"]), sizes["train"], sizes["dev"])
        row = job_row(s, n_jobs, training_seconds(*args, epochs, improved=True, costs=costs, members=members), costs,
                      (fractions or {}).get(s["network"]), measured_mode)
        before = min(MEAN_EPOCHS, int(s["max_epochs"]))  # learning rates one after another, each stopping early
        row.update(model=model, epochs=epochs, job_s_after=row["job_s_off"],
                   job_s_before=row["trainings_per_job"] * training_seconds(*args, before, improved=False, costs=costs))
        rows.append(row)
    return rows


def grid_seconds(rows: Sequence[Mapping], mode: str, cores: int = CORES) -> float:
    """Wall seconds of the jobs of `job_row`s on one GPU and `cores` cores, shared as `mode` says, started in the
    pipeline's priority order (`schedule`); `off`: one GPU job at a time, as before sharing."""
    from emotrace.devices import SLOTS

    jobs = []
    for r in sorted(rows, key=lambda r: -r["priority"]):
        jobs += [Job(f"{r['network']}#{i}", r[f"job_s_{mode}"], r["threads"], r[f"gpu_{mode}"], r[f"slots_{mode}"])
                 for i in range(r["jobs"])]
    return schedule(jobs, cores, slots=SLOTS)


def expected_segments(config: Mapping) -> dict[str, int]:
    """Train (overlapping tiling) and dev (contiguous) segment counts of a synthetic-corpus config."""
    from emotrace.segments import segment_starts

    synth, split = config["synthetic"], config["split"]["proportions"]
    n, frames = int(synth["n_speakers"]), int(float(synth["duration"]) / 0.04) + 1
    total = sum(split.values())
    n_train, n_dev = max(1, round(n * split["train"] / total)), max(1, round(n * split["dev"] / total))
    hop = round(config["segments"]["train_hop"] / 0.04)
    return {"train": n_train * len(segment_starts(frames, hop)), "dev": n_dev * len(segment_starts(frames, None))}
