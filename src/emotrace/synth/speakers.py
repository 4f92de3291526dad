"""Synthetic speakers: who they are, how they sound, and how strongly emotion moves their prosody.

Arousal drives F0 level, F0 range, speaking rate, loudness, vocal effort (spectral tilt:
more energy above 1.5 kHz) and pause length; valence
shifts the formants (a smile shortens the vocal tract: F2/F3 rise) and, weakly, F0.
Every speaker has its own gain per cue, and every utterance adds noise that is not
emotion, so arousal is learnable from prosody but not trivially, and valence is harder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from emotrace.errors import InputError
from emotrace.synth.espeak import voice_file

LANGUAGE = "fr"  # RECOLA is French
AGE_RANGE = (19, 60)

# Effect of a full unit of the hidden curve (the curves stay mostly within +-0.6).
F0_OCTAVES_PER_AROUSAL = 0.50
F0_OCTAVES_PER_VALENCE = 0.10
RANGE_LOG2_PER_AROUSAL = 1.0
RATE_LOG2_PER_AROUSAL = 0.35
LOUDNESS_DB_PER_AROUSAL = 12.0
TILT_DB_PER_AROUSAL = 8.0
PAUSE_LOG2_PER_AROUSAL = -1.2
FORMANT_SHIFT_PER_VALENCE = 0.08

# Per-utterance noise that is not emotion (standard deviations, before the speaker's noise scale).
F0_NOISE_OCTAVES = 0.06
RANGE_NOISE_LOG2 = 0.25
RATE_NOISE_LOG2 = 0.05
LOUDNESS_NOISE_DB = 1.5
TILT_NOISE_DB = 1.5
PAUSE_NOISE_LOG2 = 0.4
FORMANT_NOISE = 0.01

GAIN_COLUMNS = [
    "gain_f0", "gain_f0_range", "gain_rate", "gain_loudness", "gain_tilt", "gain_pause",
    "gain_formant", "gain_valence_f0",
]
SPEAKER_COLUMNS = [
    "speaker", "recording", "gender", "age",
    "f0_base_hz", "f0_top_hz", "rate_wpm", "formant_scale", "flutter", "roughness",
    "pause_s", "level_db", "snr_db", "mapping_noise", *GAIN_COLUMNS,
]


def _spread_ages(k: int, rng: np.random.Generator) -> np.ndarray:
    """k integer ages, one in each of k equal slices of AGE_RANGE, in random order."""
    low, high = AGE_RANGE
    edges = low + (high - low) * (rng.permutation(k) + rng.uniform(0.0, 1.0, k)) / k
    return np.floor(edges).astype(int)


def speakers(n_speakers: int, seed: int) -> pd.DataFrame:
    """One row per synthetic speaker (one recording each), gender-balanced, ages spread over 19-60."""
    if n_speakers < 2:
        raise InputError("n_speakers", f"need at least 2 speakers, got {n_speakers}")
    rng = np.random.default_rng(seed)
    n_female = n_speakers // 2 + (int(rng.integers(2)) if n_speakers % 2 else 0)
    genders = np.array(["F"] * n_female + ["M"] * (n_speakers - n_female))
    ages = np.concatenate([_spread_ages(n_female, rng), _spread_ages(n_speakers - n_female, rng)])
    order = rng.permutation(n_speakers)
    genders, ages = genders[order], ages[order]

    width = max(2, len(str(n_speakers)))
    rows = []
    for i, (gender, age) in enumerate(zip(genders, ages), start=1):
        female = gender == "F"
        f0_base = rng.uniform(160.0, 190.0) if female else rng.uniform(85.0, 102.0)
        row = {
            "speaker": f"S{i:0{width}d}",
            "recording": f"S{i:0{width}d}",
            "gender": str(gender),
            "age": int(age),
            "f0_base_hz": f0_base,
            "f0_top_hz": f0_base * rng.uniform(1.4, 1.55),
            "rate_wpm": rng.uniform(160.0, 180.0),
            "formant_scale": rng.uniform(1.06, 1.16) if female else rng.uniform(0.94, 1.03),
            "flutter": int(rng.integers(20, 80)),
            "roughness": int(rng.integers(0, 4)),
            "pause_s": rng.uniform(0.4, 0.55),
            "level_db": rng.uniform(-6.0, 0.0),
            "snr_db": rng.uniform(30.0, 45.0),
            "mapping_noise": rng.uniform(0.8, 1.25),
        }
        for column in GAIN_COLUMNS:
            row[column] = float(np.exp(rng.normal(0.0, 0.3)))
        rows.append(row)
    table = pd.DataFrame(rows, columns=SPEAKER_COLUMNS)
    floats = table.select_dtypes("float").columns
    table[floats] = table[floats].round(4)  # so a CSV round trip gives back the same numbers
    return table


def check_speaker_row(row: Mapping, where: str) -> None:
    """Raise InputError if a speaker-table row lacks a column the synthesiser needs."""
    missing = [c for c in SPEAKER_COLUMNS if c not in row]
    if missing:
        raise InputError(where, f"speaker table lacks column(s) {', '.join(missing)}")
    if row["gender"] not in ("F", "M"):
        raise InputError(where, f"gender must be F or M, got {row['gender']!r}")


@dataclass(frozen=True)
class Prosody:
    """Speech settings for one utterance, derived from the hidden curves at its time."""

    pitch: int
    pitch_range: int
    rate: int
    gain_db: float  # utterance loudness offset, on top of the continuous arousal gain
    tilt_db: float  # vocal effort: gain of the band above 1.5 kHz
    formant_shift: float
    pause_s: float


def utterance_prosody(row: Mapping, arousal: float, valence: float, rng: np.random.Generator) -> Prosody:
    """Map the emotion at an utterance to its prosody through the speaker's gains, plus noise."""

    def cue(gain: str, effect: float, emotion: float, noise_sd: float) -> float:
        return row[gain] * effect * emotion + row["mapping_noise"] * noise_sd * rng.standard_normal()

    f0_octaves = cue("gain_f0", F0_OCTAVES_PER_AROUSAL, arousal, F0_NOISE_OCTAVES)
    f0_octaves += row["gain_valence_f0"] * F0_OCTAVES_PER_VALENCE * valence
    range_log2 = cue("gain_f0_range", RANGE_LOG2_PER_AROUSAL, arousal, RANGE_NOISE_LOG2)
    rate_log2 = cue("gain_rate", RATE_LOG2_PER_AROUSAL, arousal, RATE_NOISE_LOG2)
    gain_db = row["mapping_noise"] * LOUDNESS_NOISE_DB * rng.standard_normal()  # arousal's part: loudness_db
    tilt_db = cue("gain_tilt", TILT_DB_PER_AROUSAL, arousal, TILT_NOISE_DB)
    formant_shift = cue("gain_formant", FORMANT_SHIFT_PER_VALENCE, valence, FORMANT_NOISE)
    pause_log2 = cue("gain_pause", PAUSE_LOG2_PER_AROUSAL, arousal, PAUSE_NOISE_LOG2)
    return Prosody(
        # eSpeak's pitch scale: +50 steps doubles F0; its range scale: 50 is the voice's own range
        pitch=int(np.clip(round(50 + 50 * f0_octaves), 0, 99)),
        pitch_range=int(np.clip(round(50 * 2.0**range_log2), 5, 99)),
        rate=int(np.clip(round(row["rate_wpm"] * 2.0**rate_log2), 90, 380)),
        gain_db=float(gain_db),
        tilt_db=float(tilt_db),
        formant_shift=float(np.clip(formant_shift, -0.15, 0.15)),
        pause_s=float(np.clip(row["pause_s"] * 2.0**pause_log2, 0.08, 3.0)),
    )


def loudness_db(row: Mapping, arousal: np.ndarray) -> np.ndarray:
    """Continuous gain (dB) that arousal adds to the speech, on top of the speaker's level."""
    return row["level_db"] + row["gain_loudness"] * LOUDNESS_DB_PER_AROUSAL * np.asarray(arousal)


def speaker_voice(row: Mapping, formant_shift: float) -> str:
    """eSpeak voice file for this speaker with formants moved by `formant_shift` (fraction; + = smiling)."""
    scale = float(row["formant_scale"])
    formants = {}
    for number in range(1, 6):
        tract = scale if number <= 3 else 1.0 + 0.7 * (scale - 1.0)
        smile = {1: 0.5, 2: 1.0, 3: 1.0}.get(number, 0.5) * formant_shift
        formants[number] = (100.0 * tract * (1.0 + smile), 100.0, 100.0)
    return voice_file(
        LANGUAGE, row["gender"], row["f0_base_hz"], row["f0_top_hz"], formants,
        flutter=int(row["flutter"]), roughness=int(row["roughness"]),
    )
