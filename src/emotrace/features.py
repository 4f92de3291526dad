"""openSMILE features per annotation frame: functionals over sliding windows, one pass per recording.

Row `k` of every feature set summarises the window centred at `k * step + centre_offset`
seconds. The recording is padded by reflection (half a window on both sides, more if the
labels run past the audio) so that every row exists, and the window slides over the padded
signal in a single pass instead of each window being extracted separately (docs/references.md §4):
openSMILE's own windowed functionals for `egemaps` and `compare6373`, and for `compare` the
LLDs from one openSMILE run followed by running max/min filters and cumulative sums in numpy.

Window extent: openSMILE frames its low-level descriptors (LLDs) every 10 ms with 25 ms
(energy, spectral, MFCC) or 60 ms (pitch, voice quality) analysis frames, and a window of
W seconds takes the W / 10 ms LLD frames that start inside it; the audio it reads therefore
runs 15-50 ms past the nominal end, so the effective centre lies 7.5-25 ms after the nominal
one. All three sets share this convention.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import opensmile
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from emotrace.errors import InputError

LLD_HOP = 0.01
"""openSMILE's LLD frame step (s) in the eGeMAPS and ComParE configs; windows and steps must be multiples."""

OPENSMILE_GAIN = 0.05
"""Gain applied before openSMILE: the z-normalised input (RMS 1) becomes RMS -26 dBFS, so that the
int16 conversion inside openSMILE does not wrap; the few samples beyond full scale are clipped."""

END_MARGIN = 0.2
"""Seconds of audio kept past the last window, so its LLD smoothing, deltas and pitch tracking see
real context rather than the end of the stream."""

MIN_SAMPLE_RATE = 8000
"""Lowest sample rate accepted: the configs assume speech bandwidth, and openSMILE can crash far below it."""

COMPARE_FUNCTIONALS = ("max", "min", "range", "mean", "std")


@dataclass(frozen=True)
class FeatureSetSpec:
    """How a feature set is computed: openSMILE set, window length and method."""

    description: str
    opensmile_set: opensmile.FeatureSet
    window: float
    method: str  # "functionals": openSMILE windowed functionals; "lld_functionals": LLDs + numpy functionals
    n_features: int


FEATURE_SETS: dict[str, FeatureSetSpec] = {
    "egemaps": FeatureSetSpec(
        "eGeMAPS v02 functionals (88) over 3 s windows at the annotation step (AVEC 2016; Trigeorgis 2016)",
        opensmile.FeatureSet.eGeMAPSv02, 3.0, "functionals", 88,
    ),
    "compare": FeatureSetSpec(
        "ComParE 2016 LLDs and deltas (130) with max, min, range, mean, std over 3 s windows "
        "at the annotation step (650; Trigeorgis 2016)",
        opensmile.FeatureSet.ComParE_2016, 3.0, "lld_functionals", 650,
    ),
    "compare6373": FeatureSetSpec(
        "ComParE 2016 functionals (6 373) over 1 s windows at the annotation step (Yang & Hirschberg 2018 baseline)",
        opensmile.FeatureSet.ComParE_2016, 1.0, "functionals", 6373,
    ),
}


def extract(
    signal: np.ndarray,
    sr: int,
    feature_set: str,
    n_frames: int,
    step: float = 0.04,
    centre_offset: float = 0.0,
    where: str | Path = "<signal>",
) -> tuple[np.ndarray, list[str]]:
    """Features of `signal` as (n_frames, F) float32, row k = window centred at k*step + centre_offset s.

    `signal` is the preprocessed mono recording (16 kHz, z-normalised); `where` names it in errors.
    Exactly `n_frames` rows come back: the audio past the last window is cut off (keeping
    END_MARGIN s of context), and windows running past the end of the audio see its
    reflection; a row whose whole window lies beyond the audio is an error (labels far
    longer than the audio).
    """
    spec = _spec(feature_set)
    signal = _check_signal(signal, sr, spec, n_frames, step, centre_offset, where)
    span = _padded_span(signal, sr, spec.window, n_frames, step, centre_offset)
    if spec.method == "functionals":
        values, names = _windowed_functionals(span, sr, spec, n_frames, step, where)
    else:
        values, names = _lld_functionals(span, sr, spec, n_frames, step, where)
    _check_finite(values, names, where)
    return values, names


def feature_names(feature_set: str, step: float = 0.04) -> list[str]:
    """Column names of `feature_set`, in the order `extract` returns them."""
    spec = _spec(feature_set)
    if spec.method == "functionals":
        return list(_functionals_smile(spec.opensmile_set, spec.window, step).feature_names)
    llds = list(_lld_smile(spec.opensmile_set).feature_names)
    return [f"{lld}_{fn}" for fn in COMPARE_FUNCTIONALS for lld in llds]


def _spec(feature_set: str) -> FeatureSetSpec:
    if feature_set not in FEATURE_SETS:
        raise InputError("feature_set", f"unknown feature set {feature_set!r}; known: {sorted(FEATURE_SETS)}")
    return FEATURE_SETS[feature_set]


def _is_multiple(value: float, unit: float) -> bool:
    return abs(value / unit - round(value / unit)) < 1e-6


def _check_signal(signal, sr, spec, n_frames, step, centre_offset, where) -> np.ndarray:
    x = np.asarray(signal)
    if x.ndim != 1:
        raise InputError(where, f"expected a mono 1-D signal, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise InputError(where, "signal contains NaN or infinite samples")
    if int(sr) != sr or sr < MIN_SAMPLE_RATE:
        raise InputError(where, f"sample rate {sr!r} Hz is not a whole number of at least {MIN_SAMPLE_RATE} Hz")
    if n_frames < 1:
        raise InputError(where, f"n_frames must be at least 1, got {n_frames}")
    if step <= 0 or not _is_multiple(step, LLD_HOP):
        raise InputError(where, f"step {step} s is not a positive multiple of openSMILE's {LLD_HOP} s LLD step")
    duration = x.size / sr
    if duration < spec.window:
        raise InputError(where, f"signal is {duration:.3f} s long, shorter than one {spec.window:g} s feature window")
    last_centre = (n_frames - 1) * step + centre_offset
    if last_centre - spec.window / 2 >= duration or last_centre + spec.window / 2 <= 0:
        raise InputError(
            where,
            f"{n_frames} frames at {step} s (offset {centre_offset} s) put whole windows outside the "
            f"{duration:.2f} s of audio: labels and audio lengths do not match",
        )
    return x.astype(np.float32, copy=False)


def _padded_span(
    signal: np.ndarray, sr: int, window: float, n_frames: int, step: float, centre_offset: float
) -> np.ndarray:
    """Samples from the first window's start to END_MARGIN past the last window's end, reflected outside the audio."""
    start = int(round((centre_offset - window / 2) * sr))
    stop = int(round(((n_frames - 1) * step + centre_offset + window / 2 + END_MARGIN) * sr))
    left, right = max(0, -start), max(0, stop - signal.size)
    padded = np.pad(signal, (left, right), mode="reflect") if left or right else signal
    return padded[start + left : stop + left]


def _opensmile_input(span: np.ndarray) -> np.ndarray:
    full_scale = 32767.0 / 32768.0
    return np.clip(span * OPENSMILE_GAIN, -full_scale, full_scale).astype(np.float32)


def _run_smile(
    smile: opensmile.Smile, span: np.ndarray, sr: int, where, dtype=np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """Run openSMILE on `span`; return (values, frame start times in s)."""
    try:
        df = smile.process_signal(_opensmile_input(span), sr)
    except Exception as err:  # the openSMILE C library reports failures with assorted exception types
        raise InputError(where, f"openSMILE failed: {err}") from err
    starts = df.index.get_level_values("start").total_seconds().to_numpy()
    return df.to_numpy(dtype=dtype), starts


def _check_grid(starts: np.ndarray, needed: int, hop: float, what: str, where) -> None:
    if starts.size < needed:
        raise InputError(where, f"openSMILE returned {starts.size} {what}, fewer than the {needed} needed")
    expected = np.arange(needed) * hop
    if not np.allclose(starts[:needed], expected, atol=1e-4):
        raise InputError(where, f"openSMILE {what} do not start every {hop} s as assumed")


def _windowed_functionals(span, sr, spec: FeatureSetSpec, n_frames: int, step: float, where):
    """openSMILE functionals over every window in one run (frameModeFunctionalsConf, docs/references.md §4.4)."""
    smile = _functionals_smile(spec.opensmile_set, spec.window, step)
    values, starts = _run_smile(smile, span, sr, where, dtype=np.float32)
    _check_grid(starts, n_frames, step, "windows", where)
    return values[:n_frames], list(smile.feature_names)


def _lld_functionals(span, sr, spec: FeatureSetSpec, n_frames: int, step: float, where):
    """ComParE LLDs and deltas in one openSMILE run, then the five functionals over sliding windows.

    One pass: running max/min filters (scipy.ndimage, linear in the number of LLD frames)
    and cumulative sums of the centred LLDs for the window means and 1/N standard deviations.
    """
    smile = _lld_smile(spec.opensmile_set)
    lld, starts = _run_smile(smile, span, sr, where)
    size = int(round(spec.window / LLD_HOP))
    stride = int(round(step / LLD_HOP))
    needed = (n_frames - 1) * stride + size
    _check_grid(starts, needed, LLD_HOP, "LLD frames", where)
    lld = lld[:needed]
    first = np.arange(n_frames) * stride
    # origin -(size // 2) makes output i the extreme of lld[i : i + size]
    wmax = maximum_filter1d(lld, size, axis=0, origin=-(size // 2))[first]
    wmin = minimum_filter1d(lld, size, axis=0, origin=-(size // 2))[first]
    centre = lld.mean(axis=0)
    dev = lld - centre
    zero = np.zeros((1, lld.shape[1]))
    csum = np.concatenate([zero, np.cumsum(dev, axis=0)])
    csq = np.concatenate([zero, np.cumsum(dev**2, axis=0)])
    mean_dev = (csum[first + size] - csum[first]) / size
    var = (csq[first + size] - csq[first]) / size - mean_dev**2
    values = np.concatenate([wmax, wmin, wmax - wmin, mean_dev + centre, np.sqrt(np.maximum(var, 0.0))], axis=1)
    llds = list(smile.feature_names)
    names = [f"{lld_name}_{fn}" for fn in COMPARE_FUNCTIONALS for lld_name in llds]
    return values.astype(np.float32), names


def _check_finite(values: np.ndarray, names: list[str], where) -> None:
    bad = ~np.isfinite(values).all(axis=0)
    if bad.any():
        cols = [names[i] for i in np.flatnonzero(bad)]
        more = f" and {len(cols) - 5} more" if len(cols) > 5 else ""
        raise InputError(where, f"non-finite feature values in columns {cols[:5]}{more}")


@functools.lru_cache(maxsize=None)
def _conf_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="emotrace-opensmile-"))
    atexit.register(shutil.rmtree, path, True)
    return path


@functools.lru_cache(maxsize=None)
def _frame_mode_conf(window: float, step: float) -> str:
    """A frameModeFunctionalsConf include that makes every functionals component slide a window."""
    path = _conf_dir() / f"frame_mode_{window:g}s_{step:g}s.conf.inc"
    path.write_text(
        f"frameMode = fixed\nframeSize = {window:g}\nframeStep = {step:g}\nframeCenterSpecial = left\n"
    )
    return str(path)


@functools.lru_cache(maxsize=None)
def _functionals_smile(feature_set: opensmile.FeatureSet, window: float, step: float) -> opensmile.Smile:
    return opensmile.Smile(
        feature_set,
        opensmile.FeatureLevel.Functionals,
        options={"frameModeFunctionalsConf": _frame_mode_conf(window, step)},
    )


@functools.lru_cache(maxsize=None)
def _lld_smile(feature_set: opensmile.FeatureSet) -> opensmile.Smile:
    # Both sink levels in one run: the LLDs and their deltas share frame times.
    return opensmile.Smile(feature_set, "lld;lld_de")
