"""Datasets over segment files: 6 s of audio (or the matching feature rows), the chosen label dimensions and the mask."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from emotrace.errors import InputError
from emotrace.segments import SEGMENT_FRAMES, SEGMENT_SAMPLES
from emotrace.stored import StoredArray

Normaliser = Callable[[np.ndarray], np.ndarray]


@dataclass
class Segments:
    """The arrays of one recording's segment file, labels reduced to the requested dimensions."""

    path: Path
    recording: str
    tiling: str
    audio: np.ndarray | StoredArray | None  # (n, 96000) float32, or read by rows (lazy); None without audio
    labels: np.ndarray  # (n, 150, D) float32
    mask: np.ndarray  # (n, 150) bool
    frame0: np.ndarray  # (n,) int64
    label_offset: int  # audio frame k is paired with label frame k + label_offset

    def __len__(self) -> int:
        return len(self.frame0)

    def segment_audio(self, i: int) -> np.ndarray:
        """Segment i's audio (96000,) as float32, read from the file when loaded lazily."""
        if isinstance(self.audio, StoredArray):
            return np.asarray(self.audio.row(i), dtype=np.float32)
        return self.audio[i]


def load_segments(path: str | Path, dimensions: Sequence[str], audio: bool = True, lazy: bool = False) -> Segments:
    """Read and check a segment .npz (docs/architecture.md) and keep the label dimensions named in `dimensions`.

    With `audio=False` the audio (99 % of the file) is checked by shape but never read, for models on features;
    with `lazy=True` it is read one segment at a time when asked for (`Segments.segment_audio`), so that a
    dataset over a whole partition holds its labels and masks but no audio.
    """
    path = Path(path)
    keys = ("audio", "labels", "mask", "frame0", "label_offset", "dimensions", "recording", "tiling")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in keys if k not in npz.files]
            if missing:
                raise InputError(path, f"segment file lacks keys {missing}")
            eager = audio and not lazy
            arrays = {key: npz[key] for key in keys if key != "audio" or eager}
            stored_audio = None if eager else StoredArray(path, "audio")  # its shape, from the header
            audio_shape = arrays["audio"].shape if eager else stored_audio.shape
    except (OSError, ValueError, EOFError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(path, f"cannot read segment file ({err})") from err
    labels, mask, frame0 = arrays["labels"], arrays["mask"], arrays["frame0"]
    n = len(frame0)
    available = [str(d) for d in arrays["dimensions"]]
    expected = {
        "audio": (n, SEGMENT_SAMPLES),
        "labels": (n, SEGMENT_FRAMES, len(available)),
        "mask": (n, SEGMENT_FRAMES),
        "frame0": (n,),
    }
    for key, shape in expected.items():
        found = audio_shape if key == "audio" else arrays[key].shape
        if found != shape:
            raise InputError(path, f"{key!r} has shape {found}, expected {shape}")
    absent = [d for d in dimensions if d not in available]
    if absent:
        raise InputError(path, f"dimensions {absent} not in the segment file; available: {available}")
    columns = [available.index(d) for d in dimensions]
    if eager:
        audio_array = np.ascontiguousarray(arrays["audio"], dtype=np.float32)
    else:
        audio_array = stored_audio if audio else None
    return Segments(
        path=path,
        recording=str(arrays["recording"]),
        tiling=str(arrays["tiling"]),
        audio=audio_array,
        labels=np.ascontiguousarray(labels[:, :, columns], dtype=np.float32),
        mask=mask.astype(bool),
        frame0=frame0.astype(np.int64),
        label_offset=int(arrays["label_offset"]),
    )


CHECK_ROWS = 2048
"""Rows per block of the pass that checks a feature file's normalised rows for NaN (bounded memory)."""


class FeatureRows:
    """A recording's feature rows (n_frames, F), read window by window: memory holds no rows of the file.

    Without a normaliser the rows are read from the .npz as stored (float32, or float16 for the `ssl`
    features, which stay float16 until `feature_window`). With one (train-only statistics,
    `emotrace.normalise.apply_stats`), the rows are normalised once, in float32, by the pass that checks
    them for NaN, into an unlinked temporary file (`tempfile.TemporaryFile`, under TMPDIR; gone when the
    process ends) from which every window is then read as is: an item costs one read, not a z-score in
    each of the epochs and overlapping windows that use a row (ComParE 6373, a batch of 50 on 2 CPU cores:
    median 0.41-0.73 s before, 0.17-0.34 s after; bench/train_step.py --loader). Sliced like an array (`rows[lo:hi]`, `len`, `shape`);
    a partition of ComParE 6373 rows (3 GB for RECOLA's training speakers) is never in memory at once.
    """

    def __init__(self, path: str | Path, normalise: Normaliser | None = None):
        self.path = Path(path)
        self.stored = StoredArray(self.path, "values")
        if len(self.stored.shape) != 2:
            raise InputError(self.path, f"'values' must be (n_frames, F), got shape {self.stored.shape}")
        self.normalise = normalise
        self.keep_half = normalise is None and self.stored.dtype == np.float16
        width = self._convert(self.stored.rows(0, 0)).shape[1]
        self.cache = tempfile.TemporaryFile(prefix="emotrace-rows-") if normalise is not None else None
        for _, block in self.stored.chunks(CHECK_ROWS):
            block = self._convert(block)
            if not np.isfinite(block).all():
                raise InputError(self.path, "features contain NaN or infinite values (after normalisation)")
            if self.cache is not None:
                self.cache.write(block.tobytes())
        if self.cache is not None:
            self.cache.flush()
        self.shape = (len(self.stored), width)

    def __getstate__(self) -> dict:
        """Sent to a spawned process (DataLoader workers where fork is not the default): without the temporary
        file, which cannot travel; the copy normalises each window as it reads it, to the same values."""
        return {**self.__dict__, "cache": None}

    def _convert(self, values: np.ndarray) -> np.ndarray:
        if self.normalise is not None:
            values = self.normalise(values)
        return np.ascontiguousarray(values, dtype=np.float16 if self.keep_half else np.float32)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: slice) -> np.ndarray:
        if not isinstance(rows, slice) or rows.step not in (None, 1):
            raise TypeError("FeatureRows takes a contiguous slice of rows")
        lo, hi, _ = rows.indices(len(self))
        if self.cache is None:
            return self._convert(self.stored.rows(lo, hi))
        out = np.empty((max(0, hi - lo), self.shape[1]), dtype=np.float32)
        if out.size:  # pread: no shared file position, so DataLoader workers may read at once
            got = os.preadv(self.cache.fileno(), [out.reshape(-1).view(np.uint8)], lo * self.shape[1] * 4)
            if got != out.nbytes:
                raise InputError(self.path, f"normalised rows {lo}..{hi} could not be read back from the temporary file")
        return out


def feature_window(rows: np.ndarray | FeatureRows, frame0: int) -> np.ndarray:
    """Rows [frame0, frame0 + 150) of a recording's features, zero where the recording has no row."""
    lo, hi = max(frame0, 0), min(frame0 + SEGMENT_FRAMES, len(rows))
    if (lo, hi) == (frame0, frame0 + SEGMENT_FRAMES) and isinstance(rows, FeatureRows) and rows.cache is not None:
        return rows[lo:hi]  # a new float32 array already: no second copy
    window = np.zeros((SEGMENT_FRAMES, rows.shape[1]), dtype=np.float32)
    if hi > lo:
        window[lo - frame0 : hi - frame0] = rows[lo:hi]
    return window


class SegmentDataset(Dataset):
    """Segments of several recordings; item i is (input, labels (150, D), mask (150,), recording index, frame0).

    The input is the segment's audio (96000,) or, when `features` maps recordings to feature files,
    the recording's feature rows for the segment's 150 label frames (150, F), normalised by
    `normalise` (built from training-set statistics) and zero past the end of the recording;
    with `with_audio` as well, both packed in one vector (96000 + 150 F,) for the fusion models
    (`emotrace.models.ssl_blstm.pack`). Only the labels, masks and segment starts are held in
    memory; each item's audio and feature rows are read from the files when the item is asked
    for (`emotrace.stored`), so memory does not grow with the partition's audio or features
    (docs/scale.md, "Memory that does not grow with the corpus").
    """

    def __init__(
        self,
        segment_files: Sequence[str | Path],
        dimensions: Sequence[str],
        features: Mapping[str, str | Path] | None = None,
        normalise: Normaliser | None = None,
        with_audio: bool = False,
    ):
        if not segment_files:
            raise InputError("segment files", "no segment file given")
        self.dimensions = list(dimensions)
        self.files = [load_segments(path, self.dimensions, audio=features is None or with_audio, lazy=True)
                      for path in segment_files]
        self.recordings = [f.recording for f in self.files]
        if with_audio and features is None:
            raise InputError("features", "packing audio with features needs feature files")
        self.input_kind = "audio" if features is None else "audio+features" if with_audio else "features"
        self.feature_rows: list[FeatureRows] = []
        if features is not None:
            for seg in self.files:
                if seg.recording not in features:
                    raise InputError(seg.path, f"no feature file for recording {seg.recording!r}")
                rows = FeatureRows(features[seg.recording], normalise)
                used = (seg.frame0[:, None] + np.arange(SEGMENT_FRAMES))[seg.mask]
                if used.size and (used.min() < 0 or used.max() >= len(rows)):
                    raise InputError(
                        features[seg.recording],
                        f"has {len(rows)} rows but {seg.path} needs label frames {used.min()}..{used.max()}",
                    )
                self.feature_rows.append(rows)
            widths = {rows.shape[1] for rows in self.feature_rows}
            if len(widths) != 1:
                raise InputError("features", f"feature files disagree on the number of features: {sorted(widths)}")
        self.index = [(f, s) for f, seg in enumerate(self.files) for s in range(len(seg))]

    @property
    def n_features(self) -> int | None:
        """Width of a feature input (after normalisation), None for audio input."""
        return self.feature_rows[0].shape[1] if self.feature_rows else None

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int):
        f, s = self.index[i]
        seg = self.files[f]
        if self.feature_rows:
            x = torch.from_numpy(feature_window(self.feature_rows[f], int(seg.frame0[s])))
            if self.input_kind == "audio+features":
                x = torch.cat([torch.from_numpy(seg.segment_audio(s)), x.reshape(-1)])
        else:
            x = torch.from_numpy(seg.segment_audio(s))
        return x, torch.from_numpy(seg.labels[s]), torch.from_numpy(seg.mask[s]), f, int(seg.frame0[s])
