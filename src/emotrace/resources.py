"""Resource requests (`mem_mb`, `runtime` in minutes) of the expensive rules from the size of their inputs.

Snakemake evaluates `resources: mem_mb=lambda wildcards, input, attempt: ...` when a job is ready, so the
request follows the corpus instead of a constant: a SLURM job asks for what it needs (profiles/slurm), and a
local run can be held under `--resources mem_mb=...`. Each retry (`attempt`) asks for proportionally more.

The constants are calibrated on what the earlier measurements recorded (bench/train_step.py: a training step of
e2e at batch 50 peaks at 3-5.5 GB RSS on the CPU, ~0.25 s per segment on 2 cores; bench/features.py: openSMILE
takes 2.3 s per minute of audio for eGeMAPS and 9.5 s for ComParE; docs/references.md §11), with MARGIN on top.
`python bench/scale.py` measures every stage against corpus size; a later calibration only edits the constants below.

A training job that gets a GPU (`gets_gpu`: a cluster executor submits the rule's `gpu=1`, or the machine that
runs Snakemake has one) asks for GPU rates instead (`emotrace.gpucost`, estimates for one H100 until
`bench/gpu_check.py` has run on one): its time from the step cost on the GPU, its host memory from the batches
in flight (the activations live on the GPU), and `gpu_mem_mb` from the model's weights and its batch.
"""

from __future__ import annotations

import math
import os
from typing import Iterable, Mapping

from emotrace import gpucost
from emotrace.errors import InputError
from emotrace.segments import SEGMENT_FRAMES, SEGMENT_SAMPLES

MIB = 2**20
MARGIN = 1.3  # on memory
RUNTIME_MARGIN = 2.0  # on time: shared nodes, slower disks
MIN_MEM_MB = 1000
MIN_RUNTIME = 30  # minutes: start-up of Snakemake and Python on a busy compute node, for the shortest jobs
MAX_RUNTIME = 24 * 60  # training beyond a day continues from last.pt on the retry (profiles/slurm: retries 1)

# Resident memory of a job's interpreter with its libraries loaded, before any data (MiB).
BASE_MB = {"features": 400, "torch": 1000, "svr": 500, "figures": 1200}
# openSMILE: CPU seconds per minute of audio (docs/references.md §4.4; ComParE LLD functionals at the ComParE rate),
# and the columns of each feature set (the output's rows are held ~4 times: float64 frame, float32 copies).
FEATURE_SECONDS_PER_MIN = {"egemaps": 2.3, "compare": 9.5, "compare6373": 9.5}
FEATURE_WIDTH = {"egemaps": 88, "compare": 650, "compare6373": 6373}
FEATURE_COPIES = 4
AUDIO_COPIES = 4  # the padded signal and openSMILE's own buffers
LABEL_STEP = 0.04
# Training: memory per segment of a batch, activations and the segment's input (e2e at batch 50: (5.5 GB - 1 GB)
# / 50 ~ 90 MB; blstm6373: 10 MB of activations + its 150 x 6373 window, ~15 MB when it was z-normalised in
# float64 per item), and the seconds of one training step per segment on 2 CPU cores (e2e ~0.25 s; e2e2017
# ~0.7 s, config.yaml's note). blstm6373 is set from bench/scale.py's peaks (4.0 GiB at 12 min of audio, 5.0 GiB at
# 24 min, batch 50; docs/scale.md), which still rise with the corpus. The SSL models' figures are estimates
# from their parts (a BLSTM over cached layers; + Yang's branches), not measured yet.
ACTIVATION_MB = {"e2e": 100, "e2e2017": 100, "wave": 100, "spec": 100, "wavespec": 150, "drnn": 5, "blstm6373": 90,
                 "ssl_blstm": 30, "ssl_spec": 130, "ssl_wavespec": 180}
STEP_SECONDS = {"e2e": 0.25, "e2e2017": 0.7, "wave": 0.3, "spec": 0.3, "wavespec": 0.5, "drnn": 0.02,
                "blstm6373": 0.05, "ssl_blstm": 0.05, "ssl_spec": 0.35, "ssl_wavespec": 0.55}
# A network without measured constants (a plug-in, emotrace.plugins, or one newly registered): the largest
# built-in figures stand for it; a request too small fails the job, one too large only waits longer.
PLUGIN_ACTIVATION_MB = max(ACTIVATION_MB.values())
PLUGIN_STEP_SECONDS = max(STEP_SECONDS.values())
# GPU jobs: batches of input in host memory at once (4 workers x 2 prefetched, the pinned copy, the one in use),
# and the weights of each network at the papers' sizes (bench/train_step.py prints them; ssl_*: estimates, their
# size follows the ssl layers chosen) for its GPU memory.
GPU_BATCHES_IN_FLIGHT = 10
GPU_PARAMETERS = {"e2e": 7_587_281, "e2e2017": 2_166_385, "wave": 2_467_538, "spec": 1_250_818, "wavespec": 6_077_650,
                  "drnn": 277_633, "blstm6373": 7_054_850, "ssl_blstm": 1_000_000, "ssl_spec": 2_300_000,
                  "ssl_wavespec": 3_500_000}
SEGMENT_FILE_MB = (SEGMENT_SAMPLES * 4 + SEGMENT_FRAMES * (2 * 4 + 1) + 8) / MIB  # audio, 2 label dims, mask
# What a training dataset holds of a segment file: labels, mask and start, not the audio (read per item).
SEGMENT_HELD_FRACTION = 1 - SEGMENT_SAMPLES * 4 / MIB / SEGMENT_FILE_MB
# SVR: every dev frame as float32 (scored for each C), the kept training frames and one recording's rows at a
# time: at most once every recording's features, whatever the split; libsvm's fits per C.
SVR_COPIES = 1
# Minutes per C at the cap of 20 000 training frames: bench/scale.py measured 1.1 min per C for ComParE at 12 000
# frames (24 speakers x 60 s), and libsvm's time grew as n^2.6 there: (20 000 / 12 000)^2.6 x 1.1 ~ 4.2.
SVR_MINUTES_PER_FIT = 4.5
# Figures: segments of the test recordings through the model (cells, LIME) or prediction tables (traces).
FIGURE_SEGMENT_COPIES = 3
FIGURE_CSV_COPIES = 10  # pandas holds a CSV's rows as objects and floats, several times the text


def files_mb(paths: Iterable[str | os.PathLike]) -> float:
    """Total size in MiB of the files that exist (a file still to be made counts 0 until the job is ready)."""
    total = 0
    for path in paths:
        try:
            total += os.path.getsize(path)
        except OSError:
            continue
    return total / MIB


def input_mb(input, name: str) -> float:
    """Size in MiB of the named input of a job (0 when the job has no such input)."""
    return files_mb(getattr(input, name)) if name in input.keys() else 0.0


def _request(mem_mb: float, minutes: float, attempt: int = 1) -> dict:
    """{mem_mb, runtime}: memory with MARGIN rounded up to 100 MiB, minutes rounded up; both scale with attempt."""
    if attempt < 1:
        raise InputError("attempt", f"must be at least 1, got {attempt}")
    mem = max(MIN_MEM_MB, math.ceil(mem_mb * MARGIN / 100) * 100) * attempt
    runtime = min(MAX_RUNTIME, max(MIN_RUNTIME, math.ceil(minutes * RUNTIME_MARGIN))) * attempt
    return {"mem_mb": int(mem), "runtime": int(runtime)}


def _known(table: Mapping[str, float], key: str, what: str) -> float:
    if key not in table:
        raise InputError(what, f"no resource constants for {key!r}; known: {sorted(table)}")
    return table[key]


def features_request(audio_mb: float, feature_set: str, attempt: int = 1) -> dict:
    """openSMILE on one recording of `audio_mb` MiB of 16 kHz float32 audio."""
    minutes = audio_mb * MIB / (16000 * 4) / 60
    rows_mb = minutes * 60 / LABEL_STEP * _known(FEATURE_WIDTH, feature_set, "featureset") * 4 / MIB
    mem = BASE_MB["features"] + AUDIO_COPIES * audio_mb + FEATURE_COPIES * rows_mb
    return _request(mem, 1 + minutes * FEATURE_SECONDS_PER_MIN[feature_set] / 60, attempt)


def train_request(network: str, batch_size: int, epochs: int, n_lr: int, segments_mb: float, attempt: int = 1,
                  gpu: bool = False, n_parameters: int | None = None, fuse: bool | str = "auto") -> dict:
    """A network's training job: interpreter + the datasets' labels and masks + one batch's inputs and
    activations; epochs over every segment at the cost of a training step (dev and test passes are cheaper,
    which is part of the margin). The segments' audio and the feature rows are read per item
    (`emotrace.data.SegmentDataset`), so neither the audio nor the feature files add to the memory.
    With `gpu`: time from the GPU's step cost (`emotrace.gpucost`, the learning rates side by side, or fused into
    one network where `fuse` and the network allow, `gpucost.job_shape`), host memory
    for the batches in flight (GPU_BATCHES_IN_FLIGHT: workers' prefetch and the pinned copy), and `gpu_mem_mb`
    from the weights (`n_parameters`, else GPU_PARAMETERS) and one batch of activations per learning rate.
    A network without constants (a plug-in, or one newly registered) gets the largest built-in figures
    (PLUGIN_ACTIVATION_MB, PLUGIN_STEP_SECONDS, the costliest GPU step and the most weights)."""
    activation = ACTIVATION_MB.get(network, PLUGIN_ACTIVATION_MB)
    n_segments = segments_mb / SEGMENT_FILE_MB
    held = BASE_MB["torch"] + segments_mb * SEGMENT_HELD_FRACTION
    if not gpu:
        minutes = 2 + n_lr * epochs * n_segments * STEP_SECONDS.get(network, PLUGIN_STEP_SECONDS) / 60
        return _request(held + batch_size * activation, minutes, attempt)
    known = network if network in gpucost.H100 else _costliest()
    step = gpucost.cost(known)
    shape = {"network": network, "lr": [0.0] * n_lr, "fuse": fuse}
    processes, members = gpucost.job_shape(shape)
    single = gpucost.training_seconds(known, batch_size, round(n_segments), 0, epochs, precision="fp32",
                                      members=members)
    request = _request(held + GPU_BATCHES_IN_FLIGHT * processes * batch_size * step.input_mb,
                       2 + gpucost.packed_seconds(single, gpucost.serial_trainings(shape)) / 60, attempt)
    request["gpu_mem_mb"] = int(math.ceil(gpu_job_mb(network, batch_size, processes, n_parameters, members) / 100)
                                * 100) * attempt
    return request


def svr_request(features_mb: float, n_c: int, n_lr: int = 1, attempt: int = 1) -> dict:
    """The linear SVR over every recording's features: one fit per C on the (capped) training frames."""
    return _request(BASE_MB["svr"] + SVR_COPIES * features_mb, 2 + n_c * n_lr * SVR_MINUTES_PER_FIT, attempt)


def figure_request(segments_mb: float, model_mb: float = 0.0, tables_mb: float = 0.0, attempt: int = 1) -> dict:
    """A figure rule: the model, the test segments through it, or the prediction tables it plots."""
    mem = BASE_MB["figures"] + 3 * model_mb + FIGURE_SEGMENT_COPIES * segments_mb + FIGURE_CSV_COPIES * tables_mb
    minutes = 2 + segments_mb / SEGMENT_FILE_MB * 0.5 / 60 + tables_mb / 50
    return _request(mem, minutes, attempt)


# ---------------------------------------------------------------- from a job's inputs (rules/*.smk)


def for_features(wildcards, input, attempt: int) -> dict:
    """Request of an extract_features job."""
    return features_request(input_mb(input, "audio"), wildcards.featureset, attempt)


def for_training(settings: Mapping, input, attempt: int, gpu: bool = False) -> dict:
    """Request of a train_network job, from the model's resolved settings (systems.model_settings); `gpu`: the
    job gets a GPU (`gets_gpu`)."""
    lrs = settings["lr"] if isinstance(settings["lr"], list) else [settings["lr"]]
    return train_request(settings["network"], int(settings["batch_size"]), int(settings["max_epochs"]), len(lrs),
                         input_mb(input, "segments"), attempt, gpu=gpu, fuse=settings.get("fuse", "auto"))


def gets_gpu(local_exec: bool) -> bool:
    """Whether train_network jobs will hold a GPU: always under a cluster executor (the rule's `gpu=1` is submitted
    as `--gpus=1`), on a local run when this machine shows one (`emotrace.devices.gpus_present`)."""
    from emotrace.devices import gpus_present

    return not local_exec or gpus_present()


TRAIN_THREADS = 4
"""Threads of a train_network job on a CPU or under a cluster executor (the rule's value before GPU sharing)."""


def train_placement(settings: Mapping, local_exec: bool, mode: str | None = None,
                    device_mb: float | None = None) -> dict:
    """How a train_network job holds the machine: `threads`, `gpu` (of Snakemake's pool, `--resources gpu=1`) and
    `gpu_slots` (its share slots of a device, `emotrace.devices`; 0: no sharing, no slot locks).

    On a CPU-only machine and under a cluster executor (each job its own GPU), as before sharing: TRAIN_THREADS,
    gpu=1, no slots. On a local machine with a GPU, a job shares the device by its share in the cost model
    (`emotrace.gpucost.job_share` under `mode`, default `devices.sharing_mode()`, and its memory on a device of
    `device_mb`, default the smallest GPU's, unknown: no sharing): a share below one device takes that many slots and
    gpu=0, so that several run beside each other and beside a job holding the pool; a whole device takes every slot
    and gpu=1. Its threads are the cores its trainings keep busy (`gpucost.job_cores`), whatever the mode."""
    from emotrace import devices

    if not local_exec or not devices.gpus_present():
        return {"threads": TRAIN_THREADS, "gpu": 1, "gpu_slots": 0}
    network, batch = settings["network"], int(settings["batch_size"])
    k, members = gpucost.job_shape(settings)
    mode = devices.sharing_mode() if mode is None else mode
    device_mb = devices.gpu_memory_mb() if device_mb is None else device_mb
    placed = gpucost.job_placement(network, batch, k, mode, gpu_job_mb(network, batch, k, members=members), device_mb,
                                   precision=str(settings.get("precision", "fp32")), members=members)
    return {"threads": placed["threads"], "gpu": placed["gpu"], "gpu_slots": placed["slots"]}


def gpu_job_mb(network: str, batch: int, k: int, n_parameters: int | None = None, members: int = 1) -> float:
    """GPU memory of a job of k trainings side by side (`members` networks fused in each), with MARGIN: weights
    `n_parameters`, else GPU_PARAMETERS (the costliest network and the most weights standing for one without
    constants)."""
    params = n_parameters if n_parameters is not None else GPU_PARAMETERS.get(network, max(GPU_PARAMETERS.values()))
    known = network if network in gpucost.H100 else _costliest()
    return gpucost.gpu_memory_mb(known, params, batch, k, members) * MARGIN


def train_threads(settings: Mapping, local_exec: bool) -> int:
    """Threads of a train_network job (`train_placement`; the rule's `threads:` fits on one line)."""
    return train_placement(settings, local_exec)["threads"]


def _costliest() -> str:
    """The network with the costliest GPU step, standing for one without constants (a plug-in)."""
    return max(gpucost.H100, key=lambda n: gpucost.H100[n].per_segment)


def for_svr(settings: Mapping, input, attempt: int) -> dict:
    """Request of a train_svr job."""
    return svr_request(input_mb(input, "features"), len(settings["c_grid"]), attempt=attempt)


def for_figure(input, attempt: int) -> dict:
    """Request of a figure rule: segments and model where it has them, else its inputs as tables."""
    if "segments" in input.keys():
        return figure_request(input_mb(input, "segments"), input_mb(input, "model"), attempt=attempt)
    return figure_request(0.0, tables_mb=files_mb(input), attempt=attempt)


# ---------------------------------------------------------------- planning from the config alone


def expected_sizes(config: Mapping) -> dict:
    """Input sizes (MiB) the jobs of a synthetic-corpus config will see, computed without running anything:
    one recording's audio, every recording's segments, every recording's features per set, the test segments."""
    synth, split = config["synthetic"], config["split"]["proportions"]
    n, seconds = int(synth["n_speakers"]), float(synth["duration"])
    frames = int(seconds / LABEL_STEP) + 1
    hop = round(config["segments"]["train_hop"] / LABEL_STEP)
    total = sum(split.values())
    n_train = max(1, round(n * split["train"] / total))
    n_test = max(1, round(n * split["test"] / total))
    train_segments = 1 + max(0, math.ceil((frames - SEGMENT_FRAMES) / hop))
    eval_segments = math.ceil(frames / SEGMENT_FRAMES)
    return {
        "audio": seconds * 16000 * 4 / MIB,
        "segments": (n_train * train_segments + (n - n_train) * eval_segments) * SEGMENT_FILE_MB,
        "test_segments": n_test * eval_segments * SEGMENT_FILE_MB,
        # the segment stage writes both tilings of every recording (rules/segment.smk)
        "segments_on_disk": n * (train_segments + eval_segments) * SEGMENT_FILE_MB,
        "features": {fs: n * frames * width * 4 / MIB for fs, width in FEATURE_WIDTH.items()},
    }


def plan(config: Mapping) -> dict[str, dict]:
    """Requests of every expensive job kind of a synthetic-corpus config: `extract_features/<set>`,
    `train_network/<model>`, `train_svr/<model>`, `figures` (the largest figure rule)."""
    from emotrace import systems

    sizes = expected_sizes(config)
    out = {}
    for fs in systems.feature_sets(config):
        out[f"extract_features/{fs}"] = features_request(sizes["audio"], fs)
    for model in config["models"]:
        s = systems.model_settings(config, model)
        if s["network"] == "svr":
            out[f"train_svr/{model}"] = svr_request(sizes["features"][s["features"]], len(s["c_grid"]))
        else:
            lrs = s["lr"] if isinstance(s["lr"], list) else [s["lr"]]
            out[f"train_network/{model}"] = train_request(s["network"], s["batch_size"], s["max_epochs"], len(lrs),
                                                          sizes["segments"])
    out["figures"] = figure_request(sizes["test_segments"], model_mb=30.0)
    return out
