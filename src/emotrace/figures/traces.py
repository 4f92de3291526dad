"""Gold standard and model predictions over a whole test recording and over one 6 s segment (Yang & Hirschberg Figs. 2-3).

Choices are deterministic: the recording is the one of the partition with the most frames
(ties: the smallest id) among those every model predicted; the segment is the 6 s tile of
the contiguous evaluation tiling (frames first + 150 k, as the models saw them) with the
largest range of the gold standard, summed over the plotted dimensions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from emotrace.errors import InputError
from emotrace.figures import Output, Rule, new_figure, require_input, save_figure
from emotrace.metrics import ccc
from emotrace.predictions import STEP, read_predictions
from emotrace.segments import SEGMENT_FRAMES

GOLD_STYLE = {"color": "tab:blue", "linestyle": "-", "linewidth": 2.2, "zorder": 3}
# Yang & Hirschberg: W dashed yellow, S dotted red, W+S dash-dot green.
YANG_STYLES = {
    "wave": {"color": "orange", "linestyle": "--"},
    "spec": {"color": "red", "linestyle": ":"},
    "wavespec": {"color": "green", "linestyle": "-."},
}
YANG_NAMES = {"wave": "W only", "spec": "S only", "wavespec": "W+S"}
_ALIASES = {"w": "wave", "w only": "wave", "s": "spec", "s only": "spec", "w+s": "wavespec", "w + s": "wavespec"}
OTHER_STYLES = [
    {"color": "purple", "linestyle": (0, (8, 2))},
    {"color": "saddlebrown", "linestyle": (0, (4, 1, 1, 1, 1, 1))},
    {"color": "magenta", "linestyle": (0, (1, 1))},
    {"color": "dimgray", "linestyle": (0, (6, 2, 2, 2))},
    {"color": "olive", "linestyle": (0, (3, 3))},
    {"color": "teal", "linestyle": (0, (10, 3, 1, 3))},
    {"color": "black", "linestyle": (0, (2, 1, 2, 4))},
    {"color": "darkorange", "linestyle": (0, (12, 2))},
    {"color": "steelblue", "linestyle": (0, (1, 3))},
    {"color": "crimson", "linestyle": (0, (6, 1, 1, 1, 1, 1, 1, 1))},
]
CLIP = (0.5, 99.5)  # percentiles of the predictions the y axis shows at least (with the whole gold range)


def model_styles(labels: Sequence[str]) -> dict[str, dict]:
    """Line style and legend name per model label: Yang's styles for W, S and W+S, distinct ones for the rest."""
    styles, others = {}, iter(OTHER_STYLES * (1 + len(labels) // len(OTHER_STYLES)))
    for label in labels:
        key = _ALIASES.get(label.strip().lower(), label.strip().lower())
        if key in YANG_STYLES:
            styles[label] = {**YANG_STYLES[key], "linewidth": 1.6, "label": YANG_NAMES[key]}
        else:
            styles[label] = {**next(others), "linewidth": 1.4, "label": label}
    return styles


def load_predictions(files: Mapping[str, str | Path | Sequence[str | Path]], rule: Rule = None) -> dict[str, pd.DataFrame]:
    """Model label -> predictions.csv (or several, e.g. one per dimension, concatenated), read and checked.

    A missing file raises InputError naming it and the rule that makes it.
    """
    out = {}
    for label, paths in files.items():
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        frames = [read_predictions(require_input(path, rule, "predictions")) for path in paths]
        if not frames:
            raise InputError(f"predictions of {label!r}", "no file given")
        out[label] = pd.concat(frames, ignore_index=True)
        dup = out[label].duplicated(["recording", "dimension", "frame"])
        if dup.any():
            row = out[label][dup].iloc[0]
            raise InputError(f"predictions of {label!r}", f"{row['recording']}/{row['dimension']} frame {row['frame']} "
                                                         f"is predicted by more than one of {[str(p) for p in paths]}")
    return out


def _check(predictions: Mapping[str, pd.DataFrame]) -> None:
    if not predictions:
        raise InputError("predictions", "no model to plot")
    for label, df in predictions.items():
        missing = {"recording", "partition", "dimension", "frame", "time", "prediction", "gold"} - set(df.columns)
        if missing:
            raise InputError(f"predictions of {label!r}", f"missing columns {sorted(missing)}")


def choose_recording(predictions: Mapping[str, pd.DataFrame], partition: str = "test") -> str:
    """The recording of `partition` with the most frames among those every model predicted (ties: smallest id)."""
    _check(predictions)
    common = None
    for df in predictions.values():
        recs = set(df.loc[df["partition"] == partition, "recording"])
        common = recs if common is None else common & recs
    if not common:
        raise InputError("predictions", f"no {partition} recording is predicted by every model ({sorted(predictions)})")
    first = next(iter(predictions.values()))
    counts = first[first["recording"].isin(common)].groupby("recording")["frame"].nunique()
    return str(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0])


def dimensions_of(predictions: Mapping[str, pd.DataFrame], recording: str) -> list[str]:
    """Dimensions any model predicted for `recording`, arousal and valence first."""
    dims = set()
    for df in predictions.values():
        dims |= set(df.loc[df["recording"] == recording, "dimension"])
    order = {"arousal": 0, "valence": 1}
    return sorted(dims, key=lambda d: (order.get(d, 2), d))


def gold_trace(predictions: Mapping[str, pd.DataFrame], recording: str, dimension: str) -> pd.Series:
    """The gold standard of one recording and dimension, indexed by frame (union over models, first seen wins)."""
    pieces = []
    for df in predictions.values():
        rows = df[(df["recording"] == recording) & (df["dimension"] == dimension)]
        pieces.append(pd.Series(rows["gold"].to_numpy(np.float64), index=rows["frame"].to_numpy(np.int64)))
    gold = pd.concat(pieces)
    gold = gold[~gold.index.duplicated()].sort_index()
    if gold.empty:
        raise InputError("predictions", f"no gold standard for {recording}/{dimension}")
    return gold


def prediction_trace(df: pd.DataFrame, recording: str, dimension: str) -> pd.Series:
    """One model's prediction of one recording and dimension, indexed by frame (empty if not predicted)."""
    rows = df[(df["recording"] == recording) & (df["dimension"] == dimension)].sort_values("frame")
    return pd.Series(rows["prediction"].to_numpy(np.float64), index=rows["frame"].to_numpy(np.int64))


def tile_starts(first: int, last: int, frames: int = SEGMENT_FRAMES) -> list[int]:
    """First frames of the full tiles of the contiguous tiling of frames first..last; the first tile if none is full."""
    starts = list(range(first, last - frames + 2, frames))
    return starts or [first]


def choose_segment(golds: Sequence[pd.Series], frames: int = SEGMENT_FRAMES) -> int:
    """First frame of the tile with the largest gold range (summed over `golds`, all on one frame index)."""
    index = golds[0].index
    starts = tile_starts(int(index.min()), int(index.max()), frames)
    ranges = []
    for start in starts:
        total = 0.0
        for gold in golds:
            window = gold[(gold.index >= start) & (gold.index < start + frames)]
            total += float(window.max() - window.min()) if len(window) else 0.0
        ranges.append(total)
    return starts[int(np.argmax(ranges))]


def _panel_label(dimension: str) -> str:
    return f"{dimension} (rating, -1 to 1)"


def _draw(axes, predictions, recording, dims, lo, hi, origin, scale, with_ccc) -> bool:
    """Draw every panel; True if some prediction lies outside the y range shown (see CLIP)."""
    styles = model_styles(list(predictions))
    clipped = False
    for ax, dim in zip(axes, dims):
        gold = gold_trace(predictions, recording, dim)
        gold = gold[(gold.index >= lo) & (gold.index < hi)]
        ax.plot((gold.index * STEP - origin) / scale, gold.to_numpy(), label="gold standard", **GOLD_STYLE)
        shown = [gold.to_numpy()]
        for label, df in predictions.items():
            pred = prediction_trace(df, recording, dim)
            pred = pred[(pred.index >= lo) & (pred.index < hi)]
            if pred.empty:
                continue
            shown.append(pred.to_numpy())
            style = dict(styles[label])
            if with_ccc:
                common = pred.index.intersection(gold.index)
                if len(common) > 1:
                    value = ccc(pred[common].to_numpy(), gold[common].to_numpy(), where=f"{label} {recording}/{dim}")
                    style["label"] += f" (CCC {value:.3f})"
            ax.plot((pred.index * STEP - origin) / scale, pred.to_numpy(), **style)
        ax.set_ylabel(_panel_label(dim))
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", borderaxespad=0)
        values = np.concatenate(shown[1:]) if len(shown) > 1 else shown[0]
        y_lo = min(float(shown[0].min()), float(np.percentile(values, CLIP[0])))
        y_hi = max(float(shown[0].max()), float(np.percentile(values, CLIP[1])))
        margin = 0.08 * max(y_hi - y_lo, 0.1)
        ax.set_ylim(y_lo - margin, y_hi + margin)
        clipped |= bool(np.concatenate(shown).min() < y_lo - margin or np.concatenate(shown).max() > y_hi + margin)
    return clipped


def _clip_note(clipped: bool) -> str:
    return f"; y axis cut at the {CLIP[0]}-{CLIP[1]} percentiles of the predictions" if clipped else ""


def plot_recording(
    predictions: Mapping[str, pd.DataFrame],
    output: Output,
    recording: str | None = None,
    dimensions: Sequence[str] | None = None,
    partition: str = "test",
) -> dict:
    """Gold and every model's prediction over one whole recording, one panel per dimension (Yang Fig. 2 style).

    `predictions` maps a model label (`wave`, `spec`, `wavespec` get Yang's line styles) to a
    predictions table. Returns what was plotted: recording, dimensions, paths.
    """
    _check(predictions)
    chosen = recording is None
    recording = recording or choose_recording(predictions, partition)
    dims = list(dimensions) if dimensions else dimensions_of(predictions, recording)
    if not dims:
        raise InputError("predictions", f"no prediction for recording {recording!r}")
    n_frames = len(gold_trace(predictions, recording, dims[0]))
    minutes = n_frames * STEP > 120
    scale = 60.0 if minutes else 1.0
    fig = new_figure(11, 2.6 * len(dims) + 0.8)
    axes = fig.subplots(len(dims), 1, sharex=True, squeeze=False)[:, 0]
    clipped = _draw(axes, predictions, recording, dims, -np.inf, np.inf, 0.0, scale, with_ccc=True)
    axes[-1].set_xlabel("time (min)" if minutes else "time (s)")
    why = f"the {partition} recording with the most frames" if chosen else "chosen by the caller"
    fig.suptitle(f"Gold standard and predictions over {partition} recording {recording} ({why}, {n_frames} frames of 40 ms)\n"
                 f"CCC on this recording alone in the legend{_clip_note(clipped)}")
    paths = save_figure(fig, output)
    return {"recording": recording, "dimensions": dims, "paths": paths}


def plot_segment(
    predictions: Mapping[str, pd.DataFrame],
    output: Output,
    recording: str | None = None,
    dimensions: Sequence[str] | None = None,
    start_frame: int | None = None,
    partition: str = "test",
) -> dict:
    """Gold and predictions over one 6 s segment (Yang Fig. 3, top); time relative to the segment start.

    Without `start_frame`, the tile with the largest gold range is taken. Returns recording,
    dimensions, start_frame, paths.
    """
    _check(predictions)
    chosen_rec = recording is None
    recording = recording or choose_recording(predictions, partition)
    dims = list(dimensions) if dimensions else dimensions_of(predictions, recording)
    if not dims:
        raise InputError("predictions", f"no prediction for recording {recording!r}")
    chosen_seg = start_frame is None
    if chosen_seg:
        start_frame = choose_segment([gold_trace(predictions, recording, d) for d in dims])
    lo, hi = start_frame, start_frame + SEGMENT_FRAMES
    fig = new_figure(10, 2.4 * len(dims) + 0.9)
    axes = fig.subplots(len(dims), 1, sharex=True, squeeze=False)[:, 0]
    clipped = _draw(axes, predictions, recording, dims, lo, hi, lo * STEP, 1.0, with_ccc=False)
    axes[-1].set_xlabel(f"time in the segment (s; segment starts at {lo * STEP:.2f} s)")
    axes[-1].set_xlim(0, SEGMENT_FRAMES * STEP)
    why_rec = f"the {partition} recording with the most frames" if chosen_rec else "recording chosen by the caller"
    why_seg = "the 6 s evaluation tile with the largest gold range" if chosen_seg else "segment chosen by the caller"
    fig.suptitle(f"Gold standard and predictions over one 6 s segment: {recording}, {lo * STEP:.2f}-{hi * STEP:.2f} s\n"
                 f"({why_rec}; {why_seg}{_clip_note(clipped)})")
    paths = save_figure(fig, output)
    return {"recording": recording, "dimensions": dims, "start_frame": int(start_frame), "paths": paths}
