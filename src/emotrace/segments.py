"""Cutting recordings into 6 s segments of 150 label frames, with audio-label alignment made explicit."""

from __future__ import annotations

import math

import numpy as np

from emotrace.errors import InputError

SAMPLE_RATE = 16000
FRAME_SAMPLES = 640  # 40 ms at 16 kHz
SEGMENT_FRAMES = 150  # 6 s
SEGMENT_SAMPLES = FRAME_SAMPLES * SEGMENT_FRAMES


def label_offset(alignment: str) -> int:
    """Label frames between audio frame k and its label: 0 for `start` (End2You), 1 for `end` (authors' code).

    `start`: audio [t_k, t_k + step) goes with the label at t_k.
    `end`: audio (t_k - step, t_k] goes with the label at t_k, so audio frame k meets label frame k + 1.
    """
    if alignment == "start":
        return 0
    if alignment == "end":
        return 1
    raise InputError("labels.alignment", f"unknown alignment {alignment!r}; valid: ['end', 'start']")


def covered_frames(n_samples: int, n_labels: int, offset: int) -> int:
    """Number of audio frames that have both audio (possibly a partial last frame) and a label."""
    return max(0, min(math.ceil(n_samples / FRAME_SAMPLES), n_labels - offset))


def segment_starts(n_frames: int, hop_frames: int | None) -> list[int]:
    """Audio-frame starts of the segments covering `n_frames` frames.

    `hop_frames=None` gives the contiguous evaluation tiling (each frame exactly once);
    otherwise segments start every `hop_frames` until one reaches the end. The last,
    partial segment is kept (padded and masked later), never dropped.
    """
    if n_frames <= 0:
        return []
    hop = SEGMENT_FRAMES if hop_frames is None else hop_frames
    if hop <= 0:
        raise InputError("segments.train_hop", "hop must be positive")
    starts = [0]
    while starts[-1] + SEGMENT_FRAMES < n_frames:
        starts.append(starts[-1] + hop)
    return starts


def segment_recording(
    audio: np.ndarray,
    labels: np.ndarray,
    dimensions: list[str],
    recording: str,
    alignment: str = "start",
    hop_frames: int | None = None,
) -> dict[str, np.ndarray]:
    """Cut a 16 kHz recording and its (n_labels, D) label matrix into 6 s segments.

    Returns the arrays of a segment .npz (docs/architecture.md): audio (n, 96000),
    labels (n, 150, D), mask (n, 150), frame0 (n,) as label-frame indices.
    """
    if labels.ndim != 2 or labels.shape[1] != len(dimensions):
        raise InputError(recording, f"labels must be (frames, {len(dimensions)}), got {labels.shape}")
    offset = label_offset(alignment)
    n_frames = covered_frames(len(audio), len(labels), offset)
    if n_frames == 0:
        raise InputError(recording, "no frame has both audio and a label")
    starts = segment_starts(n_frames, hop_frames)
    n = len(starts)
    seg_audio = np.zeros((n, SEGMENT_SAMPLES), dtype=np.float32)
    seg_labels = np.zeros((n, SEGMENT_FRAMES, len(dimensions)), dtype=np.float32)
    mask = np.zeros((n, SEGMENT_FRAMES), dtype=bool)
    for i, start in enumerate(starts):
        chunk = audio[start * FRAME_SAMPLES : (start + SEGMENT_FRAMES) * FRAME_SAMPLES]
        seg_audio[i, : len(chunk)] = chunk
        valid = min(SEGMENT_FRAMES, n_frames - start)
        seg_labels[i, :valid] = labels[start + offset : start + offset + valid]
        mask[i, :valid] = True
    return {
        "audio": seg_audio,
        "labels": seg_labels,
        "mask": mask,
        "frame0": np.asarray(starts, dtype=np.int64) + offset,
        "dimensions": np.asarray(dimensions),
        "recording": np.asarray(recording),
        "tiling": np.asarray("eval" if hop_frames is None else "train"),
    }
