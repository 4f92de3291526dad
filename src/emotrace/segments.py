"""Cutting recordings into 6 s segments of 150 label frames, with audio-label alignment made explicit."""

from __future__ import annotations

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


def audio_window(audio: np.ndarray, first_frame: int, n_frames: int = SEGMENT_FRAMES) -> np.ndarray:
    """Samples of audio frames [first_frame, first_frame + n_frames), zero where the recording has none.

    `first_frame` may be negative (the `end` alignment pairs label frame 0 with the 40 ms before the
    recording) and the window may run past the end (the last label frames of a recording).
    """
    out = np.zeros(n_frames * FRAME_SAMPLES, dtype=np.float32)
    lo = first_frame * FRAME_SAMPLES
    a, b = max(lo, 0), min(lo + out.size, len(audio))
    if b > a:
        out[a - lo : b - lo] = audio[a:b]
    return out


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
    """Cut a 16 kHz recording and its (n_labels, D) label matrix into 6 s segments over its label frames.

    Every label frame lies in a segment (the challenge protocols score one prediction per label
    frame): label frame k is paired with audio frame k - offset (docs/references.md §5.2), zero audio where
    the recording has none (frame 0 under `end`, the frame at the recording's last instant under
    `start`). Returns the arrays of a segment .npz (docs/architecture.md): audio (n, 96000),
    labels (n, 150, D), mask (n, 150), frame0 (n,) as label-frame indices, label_offset.
    """
    if labels.ndim != 2 or labels.shape[1] != len(dimensions):
        raise InputError(recording, f"labels must be (frames, {len(dimensions)}), got {labels.shape}")
    offset = label_offset(alignment)
    n_frames = len(labels)
    if n_frames == 0 or len(audio) == 0:
        raise InputError(recording, "no frame has both audio and a label")
    starts = segment_starts(n_frames, hop_frames)
    n = len(starts)
    seg_audio = np.zeros((n, SEGMENT_SAMPLES), dtype=np.float32)
    seg_labels = np.zeros((n, SEGMENT_FRAMES, len(dimensions)), dtype=np.float32)
    mask = np.zeros((n, SEGMENT_FRAMES), dtype=bool)
    for i, start in enumerate(starts):
        seg_audio[i] = audio_window(audio, start - offset)
        valid = min(SEGMENT_FRAMES, n_frames - start)
        seg_labels[i, :valid] = labels[start : start + valid]
        mask[i, :valid] = True
    return {
        "audio": seg_audio,
        "labels": seg_labels,
        "mask": mask,
        "frame0": np.asarray(starts, dtype=np.int64),
        "label_offset": np.asarray(offset, dtype=np.int64),
        "dimensions": np.asarray(dimensions),
        "recording": np.asarray(recording),
        "tiling": np.asarray("eval" if hop_frames is None else "train"),
    }
