"""Job priorities for Snakemake's scheduler: the order in which ready jobs take free cores.

With every job at the same priority, Snakemake prefers ready jobs with the largest inputs, so training jobs
(every recording's segments) overtook the feature extraction of the last recordings, and every feature-based
model then waited for those few late jobs while cores idled. Here feature extraction and statistics come first
(many trainings wait on them), then trainings by their expected length, longest first, so that short jobs fill
the cores at the end instead of one long job running alone.

On a machine with a GPU the trainings' order follows their expected GPU time instead (`emotrace.gpucost`), all of
them above the SVRs: there the GPU is what the run waits on, and small jobs share it (`emotrace.devices`), so the
long latency-bound DRNN jobs go first and the short jobs that take most of the GPU do not cut in between them
(each of those would make the next DRNN job wait for the device while holding its cores).
"""

from __future__ import annotations

from typing import Mapping

FEATURES = 10**9
"""Priority of extract_features, feature_stats and extract_ssl: above any training."""

MEASURED_AUDIO_MINUTES = 12.0
EPOCH_CPU_SECONDS = {"e2e": 90, "e2e2017": 270, "wave": 24, "spec": 22, "wavespec": 72, "drnn": 33,
                     "blstm6373": 20, "ssl_blstm": 20, "ssl_spec": 40, "ssl_wavespec": 80}
"""CPU seconds of one epoch at one learning rate on 12 minutes of audio, batch 10: docs/scale.md's measured
table (2026-12-03, `bench/scale.py`, 2 cores; drnn: half its two-rate job; e2e2017: 3x e2e, its step cost in
bench/train_step.py). The SSL models are not measured: their BLSTM over cached layers is set like blstm6373's,
plus the Yang branches they add. A network outside this table (a plug-in) counts as the most expensive."""
SVR_CPU_SECONDS = {"egemaps": 28, "compare": 138}
"""CPU seconds of an SVR job on 12 minutes of audio with 7 values of C and 4000 training frames (same table)."""
SVR_MEASURED = {"c_values": 7, "frames": 4000}
SVR_GROWTH = 2.6  # libsvm's time ~ frames^2.6 (bench/scale.py, docs/scale.md)


def expected_training_seconds(settings: Mapping, audio_seconds: float) -> float:
    """CPU seconds a network's training job is expected to take on `audio_seconds` of corpus: epochs x learning
    rates x the measured epoch cost, scaled with the audio. Priorities are set when the DAG is built, before any
    segment exists, so the audio's length (the ingested manifest) is the measure of size."""
    lrs = settings["lr"] if isinstance(settings["lr"], list) else [settings["lr"]]
    epoch = EPOCH_CPU_SECONDS.get(settings["network"], max(EPOCH_CPU_SECONDS.values()))
    return len(lrs) * int(settings["max_epochs"]) * epoch * audio_seconds / 60 / MEASURED_AUDIO_MINUTES


def expected_svr_seconds(settings: Mapping) -> float:
    """CPU seconds of an SVR job: fits on at most `max_train_frames` frames, one per C (the cap, not the corpus,
    sets the cost once a corpus has more training frames than it)."""
    base = SVR_CPU_SECONDS.get(settings["features"], max(SVR_CPU_SECONDS.values()))
    frames = (int(settings["max_train_frames"]) / SVR_MEASURED["frames"]) ** SVR_GROWTH
    return base * frames * len(settings["c_grid"]) / SVR_MEASURED["c_values"]


GPU_TRAINING = 10**8
"""Priority of train_network jobs on a machine with a GPU, plus their expected GPU seconds: above every SVR."""
TRAIN_HOP_SECONDS = 2.0
"""Training segments per second of audio for the GPU order (the papers' hop; the order does not depend on it)."""


def expected_gpu_seconds(settings: Mapping, audio_seconds: float) -> float:
    """GPU seconds a network's training job is expected to take on one H100 (`emotrace.gpucost`, bf16 with loading
    workers): `max_epochs` epochs of its learning rates side by side (or fused, `gpucost.job_shape`) over the
    segments of `audio_seconds`."""
    from emotrace import gpucost

    network, batch = settings["network"], int(settings["batch_size"])
    if network not in gpucost.H100:
        network = max(gpucost.H100, key=lambda n: gpucost.H100[n].per_segment)
    _, members = gpucost.job_shape(settings)
    epoch = audio_seconds / TRAIN_HOP_SECONDS / batch * gpucost.wall_step_seconds(network, batch, members=members)
    return gpucost.packed_seconds(int(settings["max_epochs"]) * epoch, gpucost.serial_trainings(settings),
                                  gpucost.gpu_fraction(network, batch, "time", members=members))


def for_training(settings: Mapping, audio_seconds: float, gpu: bool | None = None) -> float:
    """Priority of a train_network job: its expected CPU seconds (below FEATURES); where the machine running
    Snakemake has a GPU (`gpu`, default `emotrace.devices.gpus_present`), GPU_TRAINING + its expected GPU seconds."""
    if gpu is None:
        from emotrace.devices import gpus_present

        gpu = gpus_present()
    if gpu:
        return min(FEATURES - 1, GPU_TRAINING + expected_gpu_seconds(settings, audio_seconds))
    return min(FEATURES - 1, expected_training_seconds(settings, audio_seconds))


def for_svr(settings: Mapping) -> float:
    """Priority of a train_svr job: its expected CPU seconds (below FEATURES)."""
    return min(FEATURES - 1, expected_svr_seconds(settings))
