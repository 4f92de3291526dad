"""Audio reading, resampling and normalisation."""

import numpy as np
import pytest
import soundfile as sf

from emotrace.audio import preprocess, read_region, resample, znormalise
from emotrace.errors import InputError


def test_stereo_44k_becomes_16k_mono_zscores(tmp_path):
    sr = 44100
    t = np.arange(sr * 2) / sr
    left = 0.3 * np.sin(2 * np.pi * 220 * t)
    right = 0.1 * np.sin(2 * np.pi * 220 * t)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), sr, subtype="PCM_16")
    x = preprocess(path, 0.0, None, 16000)
    assert x.dtype == np.float32 and len(x) == 32000
    assert abs(x.mean()) < 1e-4 and abs(x.std() - 1) < 1e-4
    spectrum = np.abs(np.fft.rfft(x))
    assert abs(np.argmax(spectrum) * 16000 / len(x) - 220) < 2  # pitch kept by the resampler


def test_region_reading(tmp_path):
    sr = 16000
    x = np.arange(sr * 3, dtype=np.float32) / (sr * 3)
    path = tmp_path / "ramp.wav"
    sf.write(path, x, sr, subtype="FLOAT")
    region, rate = read_region(path, 1.0, 0.5)
    assert rate == sr and len(region) == 8000
    assert region[0] == pytest.approx(x[sr])


def test_resample_identity_and_length():
    x = np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    assert resample(x, 16000, 16000) is not None and len(resample(x, 8000, 16000)) == 16000


def test_unreadable_and_silent_files_name_the_file(tmp_path):
    bad = tmp_path / "not_audio.wav"
    bad.write_text("hello")
    with pytest.raises(InputError, match="not_audio.wav"):
        preprocess(bad, 0.0, None)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, dtype=np.float32), 16000)
    with pytest.raises(InputError, match="silent.wav.*no variance"):
        preprocess(silent, 0.0, None)
    with pytest.raises(InputError, match="rec1"):
        znormalise(np.zeros(10, dtype=np.float32), "rec1")
