"""Tests of the generated corpus: speaker table, curves, raters, eSpeak worker, files on disk, learnability."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from emotrace.errors import InputError
from emotrace.io import write_csv
from emotrace.synth.curves import hidden_curves, n_frames
from emotrace.synth.espeak import EspeakProcess, Utterance, voice_file
from emotrace.synth.raters import N_RATERS, gold_standard, simulate_raters
from emotrace.synth.recording import read_speaker_row, synthesize_recording, write_metadata
from emotrace.synth.speakers import speakers

SEED = 7
DURATION = 24.0
STEP = 0.04


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """Three 24 s recordings made in this (test) process, last one first to exercise process reuse."""
    root = tmp_path_factory.mktemp("synthetic")
    table = speakers(3, SEED)
    write_csv(table, root / "speakers.csv")
    write_metadata(table, root)
    for _, row in table.iloc[::-1].iterrows():
        synthesize_recording(row.to_dict(), DURATION, SEED, root)
    return root, table


def test_speakers_balanced_gender_and_spread_ages():
    table = speakers(10, 3)
    assert (table["gender"] == "F").sum() == 5 and (table["gender"] == "M").sum() == 5
    assert table["speaker"].tolist() == [f"S{i:02d}" for i in range(1, 11)]
    assert table["recording"].tolist() == table["speaker"].tolist()
    for _, ages in table.groupby("gender")["age"]:
        assert ages.between(19, 60).all() and ages.max() - ages.min() >= 20
    assert table.equals(speakers(10, 3))
    assert not table.equals(speakers(10, 4))
    odd = speakers(7, 1)["gender"].value_counts()
    assert abs(odd["F"] - odd["M"]) == 1
    with pytest.raises(InputError, match="n_speakers"):
        speakers(1, 0)


def test_hidden_curves_smooth_bounded_partly_independent():
    correlations = []
    for seed in range(4):
        curves = hidden_curves(300.0, STEP, np.random.default_rng(seed))
        assert set(curves) == {"arousal", "valence"}
        for values in curves.values():
            assert values.shape == (n_frames(300.0, STEP),)
            assert np.abs(values).max() <= 1.0
            assert values.std() > 0.15
            assert np.abs(np.diff(values)).max() < 0.05  # no jumps between 40 ms frames
        correlations.append(np.corrcoef(curves["arousal"], curves["valence"])[0, 1])
    assert max(abs(c) for c in correlations) < 0.9


def _peak_lag(rating: np.ndarray, hidden: np.ndarray, max_lag_s: float = 8.0) -> float:
    lags = np.arange(int(max_lag_s / STEP) + 1)
    corr = [np.corrcoef(rating[lag:], hidden[: len(hidden) - lag])[0, 1] for lag in lags]
    return lags[int(np.argmax(corr))] * STEP


def test_raters_lag_hidden_curve_by_two_to_four_seconds():
    hidden = hidden_curves(300.0, STEP, np.random.default_rng(0))["arousal"]
    ratings = simulate_raters(hidden, STEP, np.random.default_rng(1))
    assert ratings.shape == (len(hidden), N_RATERS)
    assert np.abs(ratings).max() <= 1.0
    assert 2.0 <= _peak_lag(gold_standard(ratings), hidden) <= 4.0
    for r in range(N_RATERS):
        assert 1.8 <= _peak_lag(ratings[:, r], hidden) <= 4.5
    between = np.corrcoef(ratings.T)[np.triu_indices(N_RATERS, 1)]
    assert between.min() > 0.5 and between.max() < 0.999  # raters agree but are not copies


def _f0(samples: np.ndarray, rate: int) -> float:
    """Median autocorrelation F0 (Hz) of the loud 40 ms frames."""
    hop = int(0.04 * rate)
    frames = samples[: len(samples) // hop * hop].reshape(-1, hop).astype(float)
    frames = frames[(frames**2).mean(1) > 0.1 * (frames**2).mean(1).max()]
    ac = np.fft.irfft(np.abs(np.fft.rfft(frames, 2 * hop, axis=1)) ** 2, axis=1)
    low, high = rate // 400, rate // 60
    return float(np.median(rate / (low + ac[:, low:high].argmax(1))))


def test_espeak_worker_is_reproducible_and_follows_parameters():
    voice = voice_file("fr", "M", 95, 140, {1: (100, 100, 100), 2: (100, 100, 100)})
    requests = [
        Utterance("Bonjour, la maison est grande.", voice, rate=175, pitch=30),
        Utterance("Bonjour, la maison est grande.", voice, rate=175, pitch=80),
        Utterance("Bonjour, la maison est grande.", voice, rate=260, pitch=50),
    ]
    runs = []
    for _ in range(2):
        with EspeakProcess() as engine:
            runs.append([engine.synthesize(u) for u in requests])
    for a, b in zip(*runs):
        assert a.dtype == np.int16 and len(a) > 10_000 and np.array_equal(a, b)
    low, high, fast = runs[0]
    assert _f0(high, 22_050) > 1.4 * _f0(low, 22_050)
    assert len(fast) < 0.8 * len(low)


def test_recording_files_layout(corpus):
    root, table = corpus
    n = n_frames(DURATION, STEP)
    assert n == 601
    meta = pd.read_csv(root / "metadata.csv")
    assert list(meta.columns) == ["recording", "speaker", "gender", "age", "audio_path"]
    assert meta["audio_path"].tolist() == [f"audio/{r}.wav" for r in table["recording"]]
    for recording in table["recording"]:
        info = sf.info(root / "audio" / f"{recording}.wav")
        assert (info.samplerate, info.channels, info.subtype, info.frames) == (44_100, 1, "PCM_16", 24 * 44_100)
        audio, _ = sf.read(root / "audio" / f"{recording}.wav")
        assert 1e-3 < np.sqrt(np.mean(audio**2)) and np.abs(audio).max() < 1.0
        for dimension in ("arousal", "valence"):
            gold = pd.read_csv(root / "labels" / dimension / f"{recording}.csv")
            raters = pd.read_csv(root / "raters" / dimension / f"{recording}.csv")
            hidden = pd.read_csv(root / "hidden" / dimension / f"{recording}.csv")
            assert list(gold.columns) == ["time", "value"] and list(hidden.columns) == ["time", "value"]
            assert list(raters.columns) == ["time"] + [f"R{i}" for i in range(1, 7)]
            for trace in (gold, raters, hidden):
                assert len(trace) == n and not trace.isna().any().any()
                np.testing.assert_allclose(trace["time"], np.arange(n) * STEP, atol=1e-9)
            np.testing.assert_allclose(gold["value"], raters.iloc[:, 1:].mean(axis=1), atol=1e-5)
            assert hidden["value"].abs().max() <= 1.0 and raters.iloc[:, 1:].abs().max().max() <= 1.0


def test_fresh_process_gives_identical_bytes(corpus, tmp_path):
    """The command line in a new process reproduces, from the CSV table, what this process wrote."""
    root, table = corpus
    subprocess.run(
        [sys.executable, "-m", "emotrace.synth.recording", "--root", str(tmp_path / "fresh"),
         "--speaker-table", str(root / "speakers.csv"), "--recording", "S01",
         "--duration", str(DURATION), "--seed", str(SEED)],
        check=True, capture_output=True,
    )
    for relative in ["audio/S01.wav"] + [
        f"{kind}/{dim}/S01.csv" for kind in ("labels", "raters", "hidden") for dim in ("arousal", "valence")
    ]:
        assert (root / relative).read_bytes() == (tmp_path / "fresh" / relative).read_bytes(), relative
    synthesize_recording(table.iloc[0].to_dict(), DURATION, SEED + 1, tmp_path / "other")
    assert (root / "audio/S01.wav").read_bytes() != (tmp_path / "other" / "audio/S01.wav").read_bytes()


def _window_cues(audio: np.ndarray, rate: int, arousal: np.ndarray, width: int = 25) -> np.ndarray:
    """Per 1 s window with speech: (speech energy dB, median F0 semitones, mean hidden arousal)."""
    hop = int(STEP * rate)
    n = min(len(audio) // hop, len(arousal))
    frames = audio[: n * hop].reshape(n, hop)
    power = (frames**2).mean(1)
    energy = 10 * np.log10(power + 1e-12)
    speech = energy > np.percentile(energy, 5) + 12
    window = np.hanning(hop)
    ac = np.fft.irfft(np.abs(np.fft.rfft(frames * window, 4096, axis=1)) ** 2, axis=1)[:, :800]
    window_ac = np.fft.irfft(np.abs(np.fft.rfft(window, 4096)) ** 2)[:800]
    ac = ac / (ac[:, :1] + 1e-12) / (window_ac / window_ac[0])
    low, high = rate // 400, rate // 60
    lag = low + ac[:, low:high].argmax(1)
    voiced = speech & (ac[np.arange(n), lag] > 0.6)
    semitones = 12 * np.log2(rate / lag / 100)
    rows = []
    for k in range(0, n - width + 1, width):
        s = slice(k, k + width)
        if speech[s].sum() >= 5 and voiced[s].sum() >= 3:
            energy_db = 10 * np.log10(power[s][speech[s]].mean())
            rows.append((energy_db, np.median(semitones[s][voiced[s]]), arousal[s].mean()))
    return np.array(rows)


def test_loudness_and_f0_follow_hidden_arousal(corpus):
    """Energy and F0 track the recording's own arousal curve, not another's nor its time reversal."""
    root, table = corpus
    cues = {}
    for recording in table["recording"]:
        audio, rate = sf.read(root / "audio" / f"{recording}.wav")
        arousal = pd.read_csv(root / "hidden" / "arousal" / f"{recording}.csv")["value"].to_numpy()
        cues[recording] = _window_cues(audio, rate, arousal)
        assert len(cues[recording]) >= 10
    recordings = list(cues)
    for column, threshold in ((0, 0.6), (1, 0.3)):
        true, other, reversed_ = [], [], []
        for i, recording in enumerate(recordings):
            own, foreign = cues[recording], cues[recordings[(i + 1) % len(recordings)]]
            m = min(len(own), len(foreign))
            true.append(np.corrcoef(own[:, column], own[:, 2])[0, 1])
            other.append(np.corrcoef(own[:m, column], foreign[:m, 2])[0, 1])
            reversed_.append(np.corrcoef(own[:, column], own[::-1, 2])[0, 1])
        assert np.mean(true) > threshold
        assert np.mean(true) > max(np.mean(other), np.mean(reversed_)) + 0.25


def test_bad_input_is_reported(corpus, tmp_path):
    root, table = corpus
    row = table.iloc[0].to_dict()
    with pytest.raises(InputError, match="gain_f0"):
        synthesize_recording({k: v for k, v in row.items() if k != "gain_f0"}, 5.0, 1, tmp_path)
    with pytest.raises(InputError, match="dominance"):
        synthesize_recording(row, 5.0, 1, tmp_path, dimensions=("arousal", "dominance"))
    with pytest.raises(InputError, match="duration"):
        synthesize_recording(row, 0.0, 1, tmp_path)
    with pytest.raises(InputError, match="S99"):
        read_speaker_row(root / "speakers.csv", "S99")
    with pytest.raises(InputError, match="not found"):
        read_speaker_row(tmp_path / "missing.csv", "S01")
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_a_synthesis_job_starts_without_torch():
    """Each recording is synthesised in its own process: importing torch there would cost ~2.8 CPU-s per recording."""
    code = "import sys, emotrace.synth.recording; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
