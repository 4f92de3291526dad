"""Trigeorgis et al. 2016 Fig. 2: recurrent cells of the end-to-end model that follow prosodic features.

The model runs over the contiguous (eval) segments of an unseen recording; its recurrent
activations, one row per 40 ms frame with the padding frames dropped, are correlated with
three openSMILE low-level descriptors brought to the same 40 ms grid (frame k covers the
audio [0.04 k, 0.04 (k + 1)) s; descriptor frames are placed at their window centre):

- RMS energy range: ComParE 2016 `pcm_RMSenergy_sma`, max - min over the 1 s centred on the frame;
- loudness: eGeMAPS v02 `Loudness_sma3`, mean of the descriptor frames inside the 40 ms frame;
- mean F0: eGeMAPS v02 `F0semitoneFrom27.5Hz_sma3nz` (semitones), mean over the voiced
  descriptor frames of the 1 s centred on the frame (undefined, hence left out, without any).

For each descriptor the cell with the largest |Pearson r| is plotted, sign-flipped when r < 0,
both z-scored, against time in minutes. What the recording cannot give is drawn as a note
instead of stopping the run: a descriptor undefined or constant over it (no voiced frame: no
F0) leaves its panel empty with the reason, a recording shorter than `min_frames` is analysed
with a warning on the figure, and one too short for the descriptors (under 1 s) gives a
placeholder figure that says so.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import opensmile
import pandas as pd
import torch
from scipy.ndimage import maximum_filter1d, minimum_filter1d, uniform_filter1d

from emotrace.data import Segments, load_segments
from emotrace.errors import InputError
from emotrace.features import OPENSMILE_GAIN
from emotrace.figures import (
    Output,
    Rule,
    add_notes,
    longest_recording,
    new_figure,
    placeholder_figure,
    require_input,
    save_figure,
)
from emotrace.io import write_csv
from emotrace.segments import FRAME_SAMPLES, SAMPLE_RATE
from emotrace.training import TrainedModel, load_model

log = logging.getLogger(__name__)

STEP = FRAME_SAMPLES / SAMPLE_RATE  # 0.04 s
LLD_HOP = 0.01
WINDOW = 1.0  # s, for the RMS range and the F0 mean
MIN_FRAMES = 500  # 20 s: fewer frames make cell/feature correlations meaningless

FEATURES = {
    "rms_energy_range": "range of RMS energy (ComParE pcm_RMSenergy_sma, max-min over 1 s)",
    "loudness": "loudness (eGeMAPS Loudness_sma3, 40 ms mean)",
    "f0_mean": "mean F0 (eGeMAPS F0semitoneFrom27.5Hz_sma3nz, voiced frames over 1 s, semitones)",
}
SHORT_NAMES = {"rms_energy_range": "RMS energy range", "loudness": "loudness", "f0_mean": "mean F0"}
CSV_COLUMNS = ["recording", "feature", "description", "cell", "unit", "rho", "abs_rho", "n_frames"]


@functools.lru_cache(maxsize=None)
def _lld_smile(feature_set: opensmile.FeatureSet) -> opensmile.Smile:
    return opensmile.Smile(feature_set, opensmile.FeatureLevel.LowLevelDescriptors)


def _lld(feature_set: opensmile.FeatureSet, audio: np.ndarray, where: str) -> pd.DataFrame:
    """openSMILE low-level descriptors of the whole recording, with each frame's window centre (s)."""
    smile = _lld_smile(feature_set)
    full_scale = 32767.0 / 32768.0
    signal = np.clip(audio * OPENSMILE_GAIN, -full_scale, full_scale).astype(np.float32)  # as in emotrace.features
    try:
        df = smile.process_signal(signal, SAMPLE_RATE)
    except Exception as err:  # the openSMILE C library reports failures with assorted exception types
        raise InputError(where, f"openSMILE failed: {err}") from err
    start = df.index.get_level_values("start").total_seconds().to_numpy()
    end = df.index.get_level_values("end").total_seconds().to_numpy()
    return df.reset_index(drop=True).assign(centre=(start + end) / 2)


def prosodic_features(audio: np.ndarray, n_frames: int, where: str = "audio") -> pd.DataFrame:
    """The three descriptors of FEATURES on the 40 ms grid: n_frames rows, NaN where undefined.

    `audio` is 16 kHz and z-normalised (it is scaled like the feature extraction before openSMILE).
    """
    if audio.size < int(WINDOW * SAMPLE_RATE):
        raise InputError(where, f"{audio.size / SAMPLE_RATE:.2f} s of audio; the descriptors need at least {WINDOW} s")
    compare = _lld(opensmile.FeatureSet.ComParE_2016, audio, where)
    egemaps = _lld(opensmile.FeatureSet.eGeMAPSv02, audio, where)
    centres = (np.arange(n_frames) + 0.5) * STEP
    size = int(round(WINDOW / LLD_HOP)) + 1  # odd: centred on the frame

    def at_frames(values: np.ndarray, lld_centres: np.ndarray) -> np.ndarray:
        index = np.clip(np.round((centres - lld_centres[0]) / LLD_HOP).astype(int), 0, len(values) - 1)
        return values[index]

    rms = compare["pcm_RMSenergy_sma"].to_numpy(np.float64)
    rms_range = maximum_filter1d(rms, size, mode="nearest") - minimum_filter1d(rms, size, mode="nearest")

    loud = egemaps["Loudness_sma3"].to_numpy(np.float64)
    bins = np.floor(egemaps["centre"].to_numpy() / STEP).astype(int)
    inside = (bins >= 0) & (bins < n_frames)
    total = np.bincount(bins[inside], weights=loud[inside], minlength=n_frames)
    count = np.bincount(bins[inside], minlength=n_frames).astype(np.float64)
    loudness = np.where(count > 0, total / np.maximum(count, 1), np.nan)[:n_frames]

    f0 = egemaps["F0semitoneFrom27.5Hz_sma3nz"].to_numpy(np.float64)
    voiced = (f0 > 0).astype(np.float64)
    num = uniform_filter1d(f0 * voiced, size, mode="constant")
    den = uniform_filter1d(voiced, size, mode="constant")
    f0_mean = np.where(den > 0.5 / size, num / np.maximum(den, 1e-12), np.nan)

    return pd.DataFrame({
        "rms_energy_range": at_frames(rms_range, compare["centre"].to_numpy()),
        "loudness": loudness,
        "f0_mean": at_frames(f0_mean, egemaps["centre"].to_numpy()),
    })


def recording_activations(module: torch.nn.Module, segments: Segments, batch_size: int = 4,
                          device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """(audio of the valid frames, recurrent activations (m, H)) over a recording's contiguous segments."""
    if segments.tiling != "eval":
        raise InputError(segments.path, f"tiling is {segments.tiling!r}; the cell analysis needs the contiguous 'eval' tiling")
    if not hasattr(module, "recurrent_activations"):
        raise InputError(f"model {type(module).__name__}", "has no recurrent_activations(); the cell analysis needs an audio model with recurrent layers")
    module = module.to(device).eval()
    outputs = []
    with torch.no_grad():
        for i in range(0, len(segments), batch_size):
            x = torch.from_numpy(segments.audio[i : i + batch_size]).to(device)
            h = module.recurrent_activations(x)
            if h.ndim != 3 or h.shape[:2] != (len(x), segments.mask.shape[1]):
                raise RuntimeError(f"recurrent_activations gave shape {tuple(h.shape)}, expected ({len(x)}, {segments.mask.shape[1]}, H)")
            outputs.append(h.float().cpu().numpy())
    activations = np.concatenate(outputs)[segments.mask]
    n = int(segments.mask.sum())
    audio = segments.audio.reshape(-1)[: n * FRAME_SAMPLES]  # contiguous tiling from audio frame 0
    return audio, activations


def undefined_features(features: pd.DataFrame) -> dict[str, str]:
    """Descriptors with nothing to correlate (fewer than 3 defined frames, or constant), with the reason."""
    reasons = {}
    for name in features.columns:
        f = features[name].to_numpy(np.float64)
        valid = np.isfinite(f)
        if valid.sum() < 3:
            why = "no voiced frame" if name == "f0_mean" else "no frame where it is defined"
            reasons[name] = f"{SHORT_NAMES.get(name, name)}: {why} in the recording ({int(valid.sum())} defined frames)"
        elif np.std(f[valid]) == 0:
            reasons[name] = f"{SHORT_NAMES.get(name, name)}: constant over the recording"
    return reasons


def correlate_cells(activations: np.ndarray, features: pd.DataFrame, where: str = "recording") -> pd.DataFrame:
    """Per feature, the cell with the largest |Pearson r| over the frames where the feature is defined."""
    rows = []
    for name in features.columns:
        f = features[name].to_numpy(np.float64)
        valid = np.isfinite(f)
        if valid.sum() < 3 or np.std(f[valid]) == 0:
            raise InputError(where, f"feature {name!r} is undefined or constant over the recording; no correlation")
        a = activations[valid].astype(np.float64)
        a = a - a.mean(axis=0)
        std = a.std(axis=0)
        fz = (f[valid] - f[valid].mean()) / f[valid].std()
        rho = np.where(std > 1e-8, (a * fz[:, None]).mean(axis=0) / np.maximum(std, 1e-12), 0.0)
        rho = np.clip(rho, -1.0, 1.0)
        cell = int(np.argmax(np.abs(rho)))
        rows.append({"feature": name, "description": FEATURES.get(name, name), "cell": cell, "rho": float(rho[cell]),
                     "abs_rho": float(abs(rho[cell])), "n_frames": int(valid.sum())})
    return pd.DataFrame(rows)


def unit_name(module: torch.nn.Module, cell: int) -> str:
    """Where column `cell` of recurrent_activations lies: layer, direction and cell of the LSTM stack."""
    rnn = getattr(module, "rnn", None)
    hidden, bidirectional = getattr(rnn, "hidden_size", None), getattr(rnn, "bidirectional", False)
    if not hidden:
        return f"unit {cell}"
    width = hidden * (2 if bidirectional else 1)
    layer, within = divmod(cell, width)
    direction = ("backward " if within >= hidden else "forward ") if bidirectional else ""
    return f"layer {layer + 1} {direction}cell {within % hidden}"


def _as_model(model: str | Path | TrainedModel, rule: Rule) -> TrainedModel:
    if isinstance(model, TrainedModel):
        return model
    return load_model(require_input(model, rule, "model"))


def _zscore(x: np.ndarray) -> np.ndarray:
    return (x - np.nanmean(x)) / np.nanstd(x)


def cell_figure(
    model: str | Path | TrainedModel,
    segment_files: Sequence[str | Path],
    output: Output,
    csv: str | Path,
    recording: str | None = None,
    min_frames: int = MIN_FRAMES,
    rule: Rule = None,
    device: str = "cpu",
    title: str | None = None,
) -> pd.DataFrame:
    """Trigeorgis Fig. 2 for `recording`, or the one with the most frames among `segment_files` (test partition).

    Writes the figure (three panels: RMS energy range, loudness, mean F0) and `csv` with the
    chosen cells (CSV_COLUMNS, one row per descriptor that could be correlated); returns that
    table. What could not be drawn is said on the figure and logged (see the module docstring).
    `rule` names the rule(s) that make the inputs (one name, or a mapping with keys 'model'
    and 'segments').
    """
    path = longest_recording(segment_files, rule, recording)
    segments = load_segments(path, [])
    n_valid = int(segments.mask.sum())
    notes = []
    if n_valid < min_frames:
        notes.append(f"recording {segments.recording} has only {n_valid} frames ({n_valid * STEP:.1f} s), fewer than "
                     f"figures.min_cell_frames = {min_frames}: correlations over so few frames are unreliable")
    trained = _as_model(model, rule)
    heading = (title or f"Recurrent cells vs prosodic features (Trigeorgis et al. 2016, Fig. 2): model {trained.name} "
                        f"({', '.join(trained.dimensions)}), unseen recording {segments.recording}")
    if n_valid * STEP < WINDOW:
        notes.append(f"the descriptors need at least {WINDOW:g} s of audio; the longest given recording has "
                     f"{n_valid * STEP:.2f} s")
        return _without_figure(heading, notes, output, csv)
    audio, activations = recording_activations(trained.module, segments, device=device)
    features = prosodic_features(audio, len(activations), where=str(path))
    missing = undefined_features(features)
    notes += [f"{reason}: panel left empty" for reason in missing.values()]
    drawable = features.drop(columns=list(missing))
    if drawable.columns.empty:
        return _without_figure(heading, notes, output, csv)
    table = correlate_cells(activations, drawable, where=str(path))
    table = table.assign(recording=segments.recording, unit=[unit_name(trained.module, c) for c in table["cell"]])[CSV_COLUMNS]
    write_csv(table, csv)
    for note in notes:
        log.warning("cell figure: %s", note)

    minutes = (np.arange(len(activations)) + 0.5) * STEP / 60
    fig = new_figure(11, 8)
    axes = fig.subplots(len(features.columns), 1, sharex=True, squeeze=False)[:, 0]
    rows = {row.feature: row for row in table.itertuples(index=False)}
    for ax, name in zip(axes, features.columns):
        ax.grid(True, alpha=0.3)
        if name in missing:
            ax.text(0.5, 0.5, f"not drawn: {missing[name]}", transform=ax.transAxes, ha="center", va="center",
                    color="tab:red")
            ax.set_title(FEATURES.get(name, name), fontsize="medium")
            ax.set_yticks([])
            continue
        row = rows[name]
        sign = 1.0 if row.rho >= 0 else -1.0
        flipped = " (sign flipped)" if sign < 0 else ""
        ax.plot(minutes, _zscore(sign * activations[:, row.cell]), color="tab:blue", linewidth=0.8,
                label=f"{row.unit} activation{flipped}")
        ax.plot(minutes, _zscore(features[row.feature].to_numpy(np.float64)), color="tab:red", linewidth=1.2,
                label=SHORT_NAMES.get(row.feature, row.feature))
        ax.set_title(f"{row.description} vs {row.unit}: ρ = {row.rho:.2f}", fontsize="medium")
        ax.set_ylabel("z-score (unitless)")
        ax.legend(loc="upper right", fontsize="small", ncol=2)
    axes[-1].set_xlabel("time (min)")
    fig.suptitle(heading if title else
                 heading + f"\n({'chosen by the caller' if recording else 'the given recording with the most frames'}: "
                           f"{n_valid} frames of 40 ms; per feature the recurrent cell with the largest |ρ|)")
    add_notes(fig, notes)
    save_figure(fig, output)
    return table


def _without_figure(heading: str, notes: list[str], output: Output, csv: str | Path) -> pd.DataFrame:
    """Nothing to correlate: a placeholder figure naming what was missing and an empty table."""
    for note in notes:
        log.warning("cell figure not drawn: %s", note)
    table = pd.DataFrame({c: pd.Series(dtype=object) for c in CSV_COLUMNS})
    write_csv(table, csv)
    placeholder_figure(output, heading, notes)
    return table
