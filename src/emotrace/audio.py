"""Reading, resampling and normalising audio: every recording reaches the models as 16 kHz mono z-scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from emotrace.errors import InputError
from emotrace.wav import check_not_truncated


def read_region(path: str | Path, offset: float = 0.0, duration: float | None = None) -> tuple[np.ndarray, int]:
    """Read `duration` seconds from `offset` of an audio file as mono float32 (channels averaged)."""
    path = Path(path)
    check_not_truncated(path)
    try:
        info = sf.info(str(path))
        start = int(round(offset * info.samplerate))
        stop = None if duration is None else start + int(round(duration * info.samplerate))
        data, sr = sf.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, OSError) as err:
        raise InputError(path, f"cannot read audio ({err})") from err
    if data.shape[0] == 0:
        raise InputError(path, f"no audio samples in region offset={offset}s duration={duration}s")
    if not np.isfinite(data).all():
        raise InputError(path, "audio contains NaN or infinite samples")
    return data.mean(axis=1), int(sr)


def resample(signal: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling with torchaudio's windowed-sinc resampler."""
    if orig_sr == target_sr:
        return signal.astype(np.float32, copy=False)
    out = AF.resample(torch.from_numpy(np.ascontiguousarray(signal, dtype=np.float32)), orig_sr, target_sr)
    return out.numpy()


def znormalise(signal: np.ndarray, where: str | Path, min_std: float = 1e-6) -> np.ndarray:
    """Zero mean, unit variance per recording (both papers); a silent recording is an error."""
    std = float(signal.std())
    if not np.isfinite(std) or std < min_std:
        raise InputError(where, f"recording has no variance (std={std:.3g}); is it silent?")
    return ((signal - signal.mean()) / std).astype(np.float32)


def preprocess(path: str | Path, offset: float, duration: float | None, target_sr: int = 16000) -> np.ndarray:
    """Read a recording region, mix to mono, resample to `target_sr` and z-normalise it."""
    signal, sr = read_region(path, offset, duration)
    return znormalise(resample(signal, sr, target_sr), where=path)
