"""Synthesise one recording of the synthetic corpus end to end: audio, hidden curves, raters, gold standard.

Run as `python -m emotrace.synth.recording --root R --speaker-table T.csv --recording S01
--duration 120 --seed 7`. The on-disk layout is the generic corpus layout:
`audio/{rec}.wav`, `labels/{dim}/{rec}.csv`, `raters/{dim}/{rec}.csv`,
`hidden/{dim}/{rec}.csv` and `metadata.csv`.
"""

from __future__ import annotations

import argparse
import math
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from scipy import signal

from emotrace.errors import InputError
from emotrace.io import atomic_write, write_csv
from emotrace.synth.curves import DIMENSIONS, hidden_curves, n_frames
from emotrace.synth.espeak import SAMPLE_RATE as ESPEAK_RATE
from emotrace.synth.espeak import EspeakProcess, Utterance
from emotrace.synth.raters import N_RATERS, gold_standard, simulate_raters
from emotrace.synth.speakers import check_speaker_row, loudness_db, speaker_voice, utterance_prosody

MASTER_RATE = 44_100
STEP = 0.04
SPEECH_LEVEL = 0.35  # linear gain on eSpeak's full-volume output before the arousal gain
PEAK_LIMIT = 0.95
LISTENING_PROBABILITY = 0.15  # chance that a pause is a longer stretch of listening to the partner
TILT_CORNER_HZ = 1500.0

WORDS = (
    "le la les un une des du de au et mais ou donc car ni que qui quoi dont où "
    "je tu il elle nous vous ils elles on ce cela ça moi toi lui eux "
    "être avoir faire dire aller voir savoir pouvoir vouloir venir devoir prendre trouver donner "
    "parler aimer passer penser regarder suivre rester partir comprendre attendre chercher "
    "temps jour année monde vie main homme femme enfant maison ville pays travail "
    "porte table soleil pluie mer montagne route voiture train livre lettre musique "
    "idée question réponse problème histoire moment semaine matin soir nuit ami famille "
    "grand petit bon mauvais nouveau vieux jeune beau long court chaud froid "
    "heureux triste calme rapide lent simple difficile possible important vrai "
    "très bien peu trop assez encore toujours jamais souvent parfois ici là demain hier "
    "aujourd'hui maintenant ensemble vraiment peut-être alors après avant pendant depuis "
    "avec sans pour contre sous sur dans entre vers chez"
).split()


def _rng(seed: int, recording: str, purpose: str) -> np.random.Generator:
    """Independent random stream per recording and purpose, stable across processes."""
    return np.random.default_rng([seed, zlib.crc32(recording.encode()), zlib.crc32(purpose.encode())])


def sentence(rng: np.random.Generator) -> str:
    """A sentence of 3-12 random French words, sometimes with a comma, ending in . or ?."""
    words = list(rng.choice(WORDS, size=int(rng.integers(3, 13))))
    if len(words) > 5 and rng.uniform() < 0.4:
        words[int(rng.integers(2, len(words) - 2))] += ","
    text = " ".join(words)
    return text[0].upper() + text[1:] + ("?" if rng.uniform() < 0.25 else ".")


def speak(row: Mapping, hidden: Mapping[str, np.ndarray], duration: float, seed: int) -> np.ndarray:
    """Speech at eSpeak's 22 050 Hz covering `duration` s, prosody driven by the hidden curves."""
    recording = str(row["recording"])
    text_rng, prosody_rng = _rng(seed, recording, "text"), _rng(seed, recording, "prosody")
    n_out = int(np.ceil(round(duration * MASTER_RATE) * ESPEAK_RATE / MASTER_RATE))
    speech = np.zeros(n_out)
    curve_times = np.arange(len(hidden["arousal"])) * STEP
    high_band = signal.butter(2, TILT_CORNER_HZ, btype="high", fs=ESPEAK_RATE, output="sos")
    t = text_rng.uniform(0.2, 1.0)
    with EspeakProcess() as engine:
        while t < duration - 0.3:
            text = sentence(text_rng)
            expected = len(text.split()) * 60.0 / float(row["rate_wpm"])
            middle = t + expected / 2
            arousal = float(np.interp(middle, curve_times, hidden["arousal"]))
            valence = float(np.interp(middle, curve_times, hidden["valence"]))
            prosody = utterance_prosody(row, arousal, valence, prosody_rng)
            voice = speaker_voice(row, prosody.formant_shift)
            samples = engine.synthesize(Utterance(text, voice, prosody.rate, prosody.pitch, prosody.pitch_range))
            start = int(round(t * ESPEAK_RATE))
            samples = samples[: max(0, n_out - start)].astype(np.float64) / 32768.0
            samples = samples + (10.0 ** (prosody.tilt_db / 20.0) - 1.0) * signal.sosfilt(high_band, samples)
            sample_times = (start + np.arange(len(samples))) / ESPEAK_RATE
            gain_db = loudness_db(row, np.interp(sample_times, curve_times, hidden["arousal"])) + prosody.gain_db
            speech[start : start + len(samples)] = SPEECH_LEVEL * samples * 10.0 ** (gain_db / 20.0)
            t = (start + len(samples)) / ESPEAK_RATE + prosody.pause_s
            if text_rng.uniform() < LISTENING_PROBABILITY:
                t += text_rng.uniform(1.5, 5.0)
    peak = np.abs(speech).max()
    if peak > PEAK_LIMIT:  # like setting the recording level once for the whole session
        speech *= PEAK_LIMIT / peak
    return speech


def to_master(speech: np.ndarray, duration: float, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Resample to the 44.1 kHz master, add pinkish room noise `snr_db` below the speech, quantise to int16.

    The generator upsamples with scipy's polyphase filter (22.05 -> 44.1 kHz is exactly 2x) rather than
    torchaudio: a synthesis job then starts without torch (2.8 CPU-s per recording on 2 cores), and the
    pipeline's own resampling (emotrace.audio, torchaudio) is what every corpus goes through.
    """
    n = int(round(duration * MASTER_RATE))
    g = math.gcd(MASTER_RATE, ESPEAK_RATE)
    master = signal.resample_poly(speech, MASTER_RATE // g, ESPEAK_RATE // g)[:n]
    master = np.pad(master, (0, n - len(master)))
    noise = signal.lfilter([1.0], [1.0, -0.95], rng.standard_normal(n))
    active = master[np.abs(master) > 1e-4]
    speech_rms = np.sqrt(np.mean(active**2)) if len(active) else 1e-3
    noise *= speech_rms * 10.0 ** (-snr_db / 20.0) / np.sqrt(np.mean(noise**2))
    return np.clip(np.round((master + noise) * 32767.0), -32768, 32767).astype(np.int16)


def _trace(times: np.ndarray, columns: Mapping[str, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame({"time": times, **{name: np.round(values, 6) for name, values in columns.items()}})


def synthesize_recording(
    row: Mapping,
    duration: float,
    seed: int,
    root: Path,
    dimensions: Sequence[str] = ("arousal", "valence"),
) -> None:
    """Write one recording's audio, hidden curves, six raters and gold standard per dimension under `root`.

    Deterministic: the same row, duration and seed give byte-identical files in any process.
    """
    where = f"speaker table row {row.get('recording', '?')}"
    check_speaker_row(row, where)
    if not duration > 0:
        raise InputError("duration", f"must be positive, got {duration}")
    unknown = [d for d in dimensions if d not in DIMENSIONS]
    if unknown:
        raise InputError("dimensions", f"unknown {unknown}; the synthetic corpus has {list(DIMENSIONS)}")
    root, recording = Path(root), str(row["recording"])

    hidden = hidden_curves(duration, STEP, _rng(seed, recording, "curves"))
    speech = speak(row, hidden, duration, seed)
    audio = to_master(speech, duration, float(row["snr_db"]), _rng(seed, recording, "room"))
    with atomic_write(root / "audio" / f"{recording}.wav") as tmp:
        sf.write(tmp, audio, MASTER_RATE, subtype="PCM_16", format="WAV")

    times = np.round(np.arange(n_frames(duration, STEP)) * STEP, 6)
    for dimension in dimensions:
        ratings = simulate_raters(hidden[dimension], STEP, _rng(seed, recording, f"raters/{dimension}"))
        raters = {f"R{r + 1}": ratings[:, r] for r in range(N_RATERS)}
        write_csv(_trace(times, raters), root / "raters" / dimension / f"{recording}.csv")
        gold = gold_standard(ratings)
        write_csv(_trace(times, {"value": gold}), root / "labels" / dimension / f"{recording}.csv")
        write_csv(_trace(times, {"value": hidden[dimension]}), root / "hidden" / dimension / f"{recording}.csv")


def write_metadata(speakers_df: pd.DataFrame, root: Path) -> None:
    """Write `{root}/metadata.csv`: recording, speaker, gender, age, audio_path (relative to root)."""
    missing = [c for c in ("recording", "speaker", "gender", "age") if c not in speakers_df.columns]
    if missing:
        raise InputError("speaker table", f"lacks column(s) {', '.join(missing)}")
    meta = speakers_df[["recording", "speaker", "gender", "age"]].copy()
    meta["audio_path"] = [f"audio/{r}.wav" for r in meta["recording"]]
    write_csv(meta, Path(root) / "metadata.csv")


def read_speaker_row(table: Path, recording: str) -> dict:
    """The row of a speaker-table CSV for one recording."""
    table = Path(table)
    if not table.is_file():
        raise InputError(table, "speaker table not found")
    df = pd.read_csv(table, dtype={"speaker": str, "recording": str, "gender": str})
    if "recording" not in df.columns:
        raise InputError(table, "no 'recording' column")
    match = df[df["recording"] == recording]
    if len(match) != 1:
        raise InputError(table, f"expected one row for recording {recording!r}, found {len(match)}")
    return match.iloc[0].to_dict()


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: synthesise one recording in this (fresh) process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="corpus root folder")
    parser.add_argument("--speaker-table", type=Path, required=True, help="CSV from emotrace.synth.speakers()")
    parser.add_argument("--recording", required=True)
    parser.add_argument("--duration", type=float, required=True, help="seconds")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--dimensions", nargs="+", default=list(DIMENSIONS))
    args = parser.parse_args(argv)
    row = read_speaker_row(args.speaker_table, args.recording)
    synthesize_recording(row, args.duration, args.seed, args.root, args.dimensions)


if __name__ == "__main__":
    main()
