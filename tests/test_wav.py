"""WAV header checks: a file cut short is told apart from a shorter recording."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from emotrace.audio import read_region
from emotrace.errors import InputError
from emotrace.wav import check_not_truncated, wav_truncation


def write(path, seconds: float, sr: int = 8000, subtype: str = "PCM_16", channels: int = 1):
    signal = 0.1 * np.sin(np.arange(int(seconds * sr)) / 5.0)
    sf.write(str(path), np.stack([signal] * channels, axis=1) if channels > 1 else signal, sr, subtype=subtype)
    return path


@pytest.mark.parametrize("subtype,width", [("PCM_16", 2), ("PCM_24", 3), ("FLOAT", 4)])
@pytest.mark.parametrize("channels", [1, 2])
def test_cut_wav_reports_declared_and_held_seconds(tmp_path, subtype, width, channels):
    path = write(tmp_path / "a.wav", 3.0, subtype=subtype, channels=channels)
    assert wav_truncation(path) is None
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 8000 * 2 * width * channels])  # 2 s of frames removed
    declared, held = wav_truncation(path)
    assert declared == pytest.approx(3.0) and held == pytest.approx(1.0)
    with pytest.raises(InputError, match=r"declares 3.00 s but the file holds 1.00 s") as err:
        read_region(path)
    assert str(path) in str(err.value)


def test_half_a_frame_cut_counts_and_other_files_pass(tmp_path):
    path = write(tmp_path / "a.wav", 1.0)
    path.write_bytes(path.read_bytes()[:-1])
    assert wav_truncation(path)[1] == pytest.approx(1.0 - 1 / 8000)
    flac = tmp_path / "a.flac"
    sf.write(str(flac), np.zeros(800), 8000)
    (tmp_path / "junk.wav").write_bytes(b"RIFF\x00\x00")
    for ok in (flac, tmp_path / "junk.wav", tmp_path / "absent.wav"):
        assert wav_truncation(ok) is None
    check_not_truncated(flac)


def test_unknown_data_size_of_streaming_writers_is_not_truncation(tmp_path):
    path = write(tmp_path / "a.wav", 1.0)
    data = bytearray(path.read_bytes())
    at = data.index(b"data") + 4
    data[at : at + 4] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    assert wav_truncation(path) is None
