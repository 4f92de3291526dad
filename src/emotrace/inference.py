"""Arousal/valence traces for any recording from a trained model: 6 s tiles in batches, assembly, post-processing, CSV and plot.

A recording of any length, sample rate and channel count is preprocessed exactly as in
training (`emotrace.audio.preprocess`), cut into the contiguous evaluation tiling of 6 s
segments (the last one zero-padded and masked), and fed to the model `batch_size` segments
at a time, so memory is bounded by the batch size, not by the recording's length. Feature
models (drnn, blstm6373, and the SVR baselines, whose model.pt holds their linear weights:
`emotrace.svr.load_svr`) get the openSMILE rows of their feature set, z-normalised with the
training statistics stored in model.pt; SSL models (ssl_*) get the frozen SSL model's hidden states, extracted as
the extract_ssl rule does (`emotrace.ssl.extract`) with the settings stored in model.pt
(`ssl_extractor`). The per-segment outputs are put back into one trace per dimension with
label-frame time stamps (the model's alignment offset included) and post-processed with the
settings tuned on dev for that model, when they can be found.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np
import pandas as pd
import soundfile as sf
import torch
from tqdm import tqdm

from emotrace.audio import preprocess
from emotrace.corpora.labels import frame_count
from emotrace.data import feature_window
from emotrace.errors import InputError
from emotrace.io import atomic_write
from emotrace.postprocess import apply_trace
from emotrace.predictions import STEP, Trace, assemble
from emotrace.segments import FRAME_SAMPLES, SAMPLE_RATE, SEGMENT_FRAMES, audio_window, segment_starts
from emotrace.training import TrainedModel, load_model, load_torch

if TYPE_CHECKING:
    from emotrace.ssl import SSLSettings

DEFAULT_BATCH_SIZE = 16
# A trace from less audio than this means little: the pipeline trains on turns of at least 1 s
# (SEMAINE's min_turn) within 6 s segments, and z-normalising a shorter clip amplifies its noise.
SHORT_CLIP_SECONDS = 1.0
# Extensions searched for in folders: every format libsndfile reads, with common aliases.
AUDIO_EXTENSIONS = frozenset({f".{k.lower()}" for k in sf.available_formats()} | {".aif", ".oga", ".opus"})


# ---------------------------------------------------------------- tiling


@dataclass(frozen=True)
class Tiling:
    """The contiguous 6 s tiling of a recording's label frames: segment starts, audio offsets and masks."""

    frame0: np.ndarray  # (n,) label frame of each segment's first frame
    starts: np.ndarray  # (n,) audio frame paired with it (frame0 - label offset; -1 under `end`)
    mask: np.ndarray  # (n, 150) True where the label frame lies in the recording
    n_frames: int  # label frames of the recording: times k * 40 ms in [0, duration]


def tile(n_samples: int, label_offset: int) -> Tiling:
    """Tiling of `n_samples` of 16 kHz audio over the label frames a gold standard of it would have
    (7 501 for 300 s, as the pipeline's); each label frame lies in exactly one segment."""
    if n_samples <= 0:
        raise ValueError(f"cannot tile {n_samples} samples")
    n_frames = frame_count(n_samples / SAMPLE_RATE, STEP)
    frame0 = np.asarray(segment_starts(n_frames, None), dtype=np.int64)
    valid = np.minimum(SEGMENT_FRAMES, n_frames - frame0)
    mask = np.arange(SEGMENT_FRAMES)[None, :] < valid[:, None]
    return Tiling(frame0, frame0 - label_offset, mask, n_frames)


def audio_segments(audio: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(len(starts), 96000) segments of `audio` from the given audio frames, zero outside the recording."""
    return np.stack([audio_window(audio, int(start)) for start in starts])


def feature_segments(rows: np.ndarray, frame0: np.ndarray) -> np.ndarray:
    """(len(frame0), 150, F) feature windows starting at the given label frames, zero past the end."""
    return np.stack([feature_window(rows, int(f)) for f in frame0])


def batches(n: int, batch_size: int) -> Iterator[slice]:
    """Consecutive slices of at most `batch_size` out of `n` items."""
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


# ---------------------------------------------------------------- the model and its settings


OLD_SVR_NOTE = ("is an SVR baseline trained before emotrace saved SVR models (c_grid.csv but no model.pt); "
                "run the pipeline again (its train_svr job writes model.pt) to use it with predict")


def model_file(path: str | Path) -> Path:
    """The model.pt of `path` (a file, or a trained-model folder); SVR folders from before SVRs were saved are refused."""
    path = Path(path)
    if path.is_dir():
        if (path / "model.pt").is_file():
            return path / "model.pt"
        if (path / "c_grid.csv").is_file():
            raise InputError(path, OLD_SVR_NOTE)
        raise InputError(path, "folder holds no model.pt; point --model at a model.pt or a trained-model folder")
    if not path.exists():
        raise InputError(path, "no such model file or folder")
    return path


def load_trained(path: str | Path, plugin_sources: Sequence[str | Path] = ()) -> TrainedModel:
    """A network's model.pt (`emotrace.training.load_model`) or an SVR's (`emotrace.svr.load_svr`), on the CPU.

    Both are read with torch.load(weights_only=True): loading a model file runs no code of its own; a plug-in
    network's class is imported only from `plugin_sources` (`--plugin`, emotrace.plugins).
    """
    from emotrace.svr import SVR_FORMAT, load_svr

    path = Path(path)
    try:  # memory-mapped peek at the format: a network's weights are not read twice
        peek = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # not a zip-format torch file: load_model names the file and the reason
        peek = None
    try:
        if isinstance(peek, dict) and peek.get("format") == SVR_FORMAT:
            return load_svr(load_torch(path, "emotrace SVR model"), path)
        return load_model(path, device="cpu", plugin_sources=plugin_sources)
    except InputError as err:
        if err.where != str(path):  # e.g. build_model's errors name the model, not the file
            raise InputError(path, str(err)) from err
        raise
    except (KeyError, TypeError, AttributeError) as err:  # an emotrace-format file with entries missing or mistyped
        raise InputError(path, f"incomplete or damaged emotrace model checkpoint ({type(err).__name__}: {err})") from err


def check_device(name: str) -> torch.device:
    """The torch device `--device` names: auto (cuda:0 when available, else cpu), cpu, cuda or cuda:N.

    A CUDA device that this machine does not have is an InputError naming the option.
    """
    text = str(name).strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    head, _, index = text.partition(":")
    if head != "cuda" or (index and not index.isdigit()):
        raise InputError("--device", f"{name!r} is not a device; use auto, cpu, cuda or cuda:N (N = 0, 1, ...)")
    if not torch.cuda.is_available():
        raise InputError("--device", f"{name!r} asked for but CUDA is not available here (torch {torch.__version__}, "
                                     f"CUDA build {torch.version.cuda or 'none'}); use --device cpu or auto")
    count = torch.cuda.device_count()
    if index and int(index) >= count:
        raise InputError("--device", f"{name!r} asked for but this machine has {count} CUDA device(s): "
                                     f"{', '.join(f'cuda:{i}' for i in range(count))}")
    return torch.device(f"cuda:{int(index)}" if index else "cuda")


def postprocess_settings_path(model_path: str | Path) -> Path | None:
    """results/{corpus}/postprocess/{model}/{objective}/{target}/seed{n}/settings.json for a model under
    results/{corpus}/train/{model}/{objective}/{target}/seed{n}/; None if the path is not laid out so."""
    path = Path(model_path).resolve()
    folder = path if path.is_dir() else path.parent
    parts = folder.parts
    if len(parts) < 6 or parts[-5] != "train" or not parts[-1].startswith("seed"):
        return None
    return Path(*parts[:-5]) / "postprocess" / Path(*parts[-4:]) / "settings.json"


def read_settings(path: str | Path, dimensions: Sequence[str]) -> dict[str, dict]:
    """Post-processing settings {dimension: settings} from a settings.json, for every dimension asked for."""
    path = Path(path)
    try:
        settings = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(path, f"cannot read post-processing settings ({err})") from err
    if not isinstance(settings, dict):
        raise InputError(path, "post-processing settings must be a JSON object {dimension: settings}")
    missing = [d for d in dimensions if not isinstance(settings.get(d), dict)]
    if missing:
        raise InputError(path, f"no post-processing settings for {missing}; it has {sorted(settings)}")
    for d in dimensions:
        step = settings[d].get("step")
        if not isinstance(step, (int, float)) or abs(step - STEP) > 1e-9:
            raise InputError(path, f"settings of {d!r} are for a {step!r} s step; predictions use {STEP} s")
    return {d: settings[d] for d in dimensions}


def describe_settings(settings: dict) -> str:
    """The post-processing steps a settings entry applies, in words."""
    steps = []
    if settings.get("median_window") is not None:
        steps.append(f"median {settings['median_window']:g} s")
    if settings.get("bias") is not None:
        steps.append(f"bias {settings['bias']:+.3g}")
    if settings.get("scale") is not None:
        steps.append(f"scale {settings['scale']:.3g}")
    if settings.get("shift") is not None:
        steps.append(f"shift {settings['shift']:g} s")
    return ", ".join(steps) or "none kept"


def ssl_extractor(
    trained: TrainedModel, device: torch.device, where: str | Path, checkpoint: str | Path | None = None
) -> tuple[SSLSettings, torch.nn.Module]:
    """(SSLSettings, frozen model) that an ssl_* model's features come from, as its model.pt records them.

    `checkpoint` (--ssl-checkpoint) replaces the stored weights' path; a path that is not a
    file raises InputError naming it and the option.
    """
    from emotrace import ssl

    stored = trained.checkpoint.get("ssl")
    if not isinstance(stored, dict):
        raise InputError(where, f"model {trained.name!r} reads SSL features but its model.pt does not record the "
                         "ssl settings (written before emotrace stored them); retrain it with the pipeline")
    section = {**stored, "checkpoint": str(checkpoint) if checkpoint is not None else stored.get("checkpoint")}
    settings = ssl.SSLSettings.from_config(section)
    if settings.checkpoint is not None and not Path(settings.checkpoint).expanduser().is_file():
        given = "given with --ssl-checkpoint" if checkpoint is not None else "recorded in the model at training"
        raise InputError(settings.checkpoint, f"no such file: the {settings.bundle} weights {trained.name!r} was "
                         f"trained on ({given}); pass their file with --ssl-checkpoint PATH")
    return settings, ssl.load_extractor(settings, device)


def describe_training(trained: TrainedModel) -> tuple[str, str | None]:
    """A line saying what the model was trained on (from model.pt), and a warning when that was generated speech."""
    from emotrace.corpora import ADAPTERS

    info = trained.checkpoint.get("trained_on")
    if not isinstance(info, dict):
        return "trained on: not recorded in this model.pt (written before emotrace recorded it)", None
    split = info.get("split") or {}
    counts = " / ".join(f"{len(recs)} {part}" for part, recs in (split.get("recordings") or {}).items())
    method = split.get("method") or "?"
    if split.get("preset"):
        method += f" {split['preset']}"
    line = f"trained on corpus {info.get('corpus')} (adapter {info.get('adapter')}), split {method}: {counts} recordings"
    warning = None
    if getattr(ADAPTERS.get(info.get("adapter")), "generated", False):
        warning = ("the model was trained on the generated corpus (synthetic speech and labels): "
                   "its traces of real speech mean little")
    return line, warning


def short_clip_warning(prediction: Prediction) -> str | None:
    """A warning when the trace comes from less than SHORT_CLIP_SECONDS of audio, else None."""
    if prediction.duration >= SHORT_CLIP_SECONDS:
        return None
    return (f"{prediction.source}: the trace is from {prediction.duration:.2f} s of audio, less than "
            f"{SHORT_CLIP_SECONDS:g} s; it means little (the models learnt from 6 s segments of longer recordings)")


# ---------------------------------------------------------------- prediction


@dataclass
class Prediction:
    """One recording's traces: label frames, their times, and a value per frame and dimension."""

    source: Path
    dimensions: list[str]
    frames: np.ndarray  # (m,) int64 label frames
    values: np.ndarray  # (m, D) post-processed (or raw, without settings)
    raw: np.ndarray  # (m, D) the model's outputs
    audio: np.ndarray = field(repr=False)  # 16 kHz preprocessed recording
    seconds: float = 0.0  # wall time taken

    @property
    def times(self) -> np.ndarray:
        """Label-frame times in seconds (frame * 40 ms, rounded to the microsecond)."""
        return np.round(self.frames * STEP, 6)

    @property
    def duration(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def read_audio(path: Path) -> np.ndarray:
    """A recording preprocessed as in training (`emotrace.audio.preprocess`): 16 kHz mono, z-normalised."""
    if path.is_file() and path.stat().st_size == 0:
        raise InputError(path, "empty file (0 bytes)")
    return preprocess(path, 0.0, None, SAMPLE_RATE)


class Predictor:
    """A trained model ready to predict traces of any recording, tile by tile."""

    def __init__(
        self,
        trained: TrainedModel,
        dimensions: Sequence[str] | None = None,
        settings: dict[str, dict] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: str | torch.device = "auto",
        where: str | Path = "model",
        ssl_checkpoint: str | Path | None = None,
    ):
        self.trained = trained
        self.where = str(where)
        self.dimensions = list(dict.fromkeys(trained.dimensions if dimensions is None else dimensions))
        missing = [d for d in self.dimensions if d not in trained.dimensions]
        if missing:
            raise InputError(where, f"model {trained.name!r} predicts only {trained.dimensions}; it cannot give {missing}")
        if not self.dimensions:
            raise InputError(where, "no dimension asked for")
        self.columns = [trained.dimensions.index(d) for d in self.dimensions]
        if batch_size < 1:
            raise InputError("--batch-size", f"must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self.settings = settings
        self.device = check_device(device) if isinstance(device, str) else device
        self.input_kind = getattr(trained.module, "input_kind", "audio")
        self.ssl = None
        if trained.feature_set == "ssl" and self.input_kind in ("features", "audio+features"):
            self.ssl = ssl_extractor(trained, self.device, where, ssl_checkpoint)
        elif ssl_checkpoint is not None:
            raise InputError("--ssl-checkpoint", f"model {trained.name!r} does not read SSL features")
        elif self.input_kind == "features":
            if trained.feature_set is None or trained.feature_stats is None:
                raise InputError(where, f"feature model {trained.name!r} lacks its feature set or training statistics")
            absent = [k for k in ("mean", "std", "keep") if k not in trained.feature_stats]
            if absent:
                raise InputError(where, f"feature statistics lack {absent} (emotrace.normalise.apply_stats needs them)")
        elif self.input_kind != "audio":
            raise InputError(where, f"model {trained.name!r} takes {self.input_kind!r} input, which predict cannot give")
        self.module = trained.module.to(self.device).eval()

    def _inputs(self, audio: np.ndarray, tiling: Tiling, where: str | Path, cache: dict | None = None):
        """A function giving the model input of segments `sl` (audio, or normalised feature rows).

        `cache` (one dict per recording) keeps the openSMILE rows, so that several models of one feature
        set and alignment (an SVR and a BLSTM-DRNN, say) extract them once.
        """
        if self.input_kind == "audio":
            return lambda sl: audio_segments(audio, tiling.starts[sl])
        cache = {} if cache is None else cache
        if self.ssl is not None:
            return self._ssl_inputs(audio, tiling, where, cache)
        from emotrace.features import extract
        from emotrace.normalise import apply_stats

        offset = self.trained.label_offset
        key = (self.trained.feature_set, offset, tiling.n_frames)
        if key not in cache:
            # Row k describes the audio frame paired with label k, centred in it (as scripts/extract_features.py).
            cache[key] = extract(audio, SAMPLE_RATE, self.trained.feature_set, tiling.n_frames, STEP,
                                 STEP / 2 - offset * STEP, where=where)[0]
        rows = apply_stats(cache[key], self.trained.feature_stats, where=where)
        if rows.shape[1] != self.trained.n_features:
            raise InputError(where, f"{rows.shape[1]} features, the model expects {self.trained.n_features}")
        return lambda sl: feature_segments(rows, tiling.frame0[sl])

    def _ssl_inputs(self, audio: np.ndarray, tiling: Tiling, where: str | Path, cache: dict):
        """A function giving SSL feature windows of segments `sl` (packed after their audio for the fusion models);
        models of the same SSL settings share the rows through `cache`."""
        from emotrace import ssl

        settings, model = self.ssl
        key = ("ssl", repr(settings), self.trained.label_offset, tiling.n_frames)  # architecture: a dict
        if key not in cache:
            cache[key] = ssl.extract(model, audio, settings, tiling.n_frames, self.trained.label_offset, self.device,
                                     where=str(where))[0]
        rows = cache[key]
        if rows.shape[1] != self.trained.n_features:
            raise InputError(where, f"{rows.shape[1]} SSL features, the model expects {self.trained.n_features}")
        if self.input_kind == "features":
            return lambda sl: feature_segments(rows, tiling.frame0[sl])
        # as emotrace.data.SegmentDataset packs them (emotrace.models.ssl_blstm.pack)
        return lambda sl: np.concatenate([audio_segments(audio, tiling.starts[sl]),
                                          feature_segments(rows, tiling.frame0[sl]).reshape(sl.stop - sl.start, -1)],
                                         axis=1)

    def raw_trace(self, audio: np.ndarray, where: str | Path = "<audio>", progress: bool = False,
                  cache: dict | None = None) -> Trace:
        """The model's outputs over a preprocessed 16 kHz recording, one row per label frame (asked dimensions).

        `cache`: a dict shared by the models run on the same recording (feature rows extracted once)."""
        if audio.ndim != 1 or audio.size == 0:
            raise InputError(where, f"need a non-empty mono signal, got shape {audio.shape}")
        tiling = tile(audio.size, self.trained.label_offset)
        inputs = self._inputs(audio, tiling, where, cache)
        n_out = len(self.trained.dimensions)
        out = np.empty((len(tiling.starts), SEGMENT_FRAMES, len(self.columns)), dtype=np.float32)
        slices = list(batches(len(tiling.starts), self.batch_size))
        with torch.inference_mode():
            for sl in tqdm(slices, desc=Path(str(where)).name, unit="batch", leave=False,
                           disable=None if progress and len(slices) > 1 else True):
                y = self.module(torch.from_numpy(inputs(sl)).to(self.device))
                expected = (sl.stop - sl.start, SEGMENT_FRAMES, n_out)
                if tuple(y.shape) != expected:
                    raise RuntimeError(f"model {self.trained.name!r} gave outputs of shape {tuple(y.shape)}, expected {expected}")
                out[sl] = y[..., self.columns].float().cpu().numpy()
        trace = assemble(out, tiling.frame0, tiling.mask, where=str(where))
        if not np.isfinite(trace.values).all():
            raise InputError(where, f"model {self.trained.name!r} gave non-finite outputs")
        return trace

    def postprocessed(self, raw: np.ndarray) -> np.ndarray:
        """`raw` (m, D) with each dimension's post-processing applied (unchanged without settings)."""
        if self.settings is None:
            return raw.copy()
        return np.stack([apply_trace(raw[:, i], self.settings[d]) for i, d in enumerate(self.dimensions)], axis=1)

    def predict_file(self, path: str | Path, progress: bool = False) -> Prediction:
        """Traces of one audio file (any format soundfile reads, any rate, mono or multi-channel)."""
        start = time.perf_counter()
        path = Path(path)
        audio = read_audio(path)
        trace = self.raw_trace(audio, path, progress)
        raw = trace.values.astype(np.float64)
        return Prediction(path, self.dimensions, trace.frames, self.postprocessed(raw), raw, audio,
                          time.perf_counter() - start)


def load_predictor(
    model: str | Path,
    dimensions: Sequence[str] | None = None,
    settings_file: str | Path | None = None,
    postprocess: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | torch.device = "auto",
    ssl_checkpoint: str | Path | None = None,
    plugin_sources: Sequence[str | Path] = (),
) -> tuple[Predictor, str]:
    """A Predictor for a model.pt (a network's or an SVR's) or trained-model folder, and a line saying which
    post-processing it applies. `device` is checked by `check_device` (a missing CUDA device is an InputError).

    `ssl_checkpoint` replaces the SSL weights' path stored in an ssl_* model (`ssl_extractor`);
    `plugin_sources` are where a plug-in network's class may be imported from (`--plugin`, emotrace.plugins).

    Post-processing settings come from `settings_file`, else from the settings.json that the
    pipeline wrote for the model (results/{corpus}/postprocess/...), else none (raw outputs).
    """
    path = model_file(model)
    return make_predictor(load_trained(path, plugin_sources), path, dimensions, settings_file, postprocess, batch_size,
                          check_device(device) if isinstance(device, str) else device, ssl_checkpoint)


def make_predictor(
    trained: TrainedModel,
    path: Path,
    dimensions: Sequence[str] | None = None,
    settings_file: str | Path | None = None,
    postprocess: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: torch.device = torch.device("cpu"),
    ssl_checkpoint: str | Path | None = None,
) -> tuple[Predictor, str]:
    """`load_predictor` for a model already loaded from `path`: the Predictor and its post-processing line."""
    predictor = Predictor(trained, dimensions, None, batch_size, device, where=path, ssl_checkpoint=ssl_checkpoint)
    dims = predictor.dimensions
    note = "post-processing: off (--no-postprocess); raw model outputs"
    if postprocess:
        found = Path(settings_file) if settings_file is not None else postprocess_settings_path(path)
        if found is not None and (settings_file is not None or found.is_file()):
            predictor.settings = read_settings(found, dims)
            steps = "; ".join(f"{d}: {describe_settings(predictor.settings[d])}" for d in dims)
            note = f"post-processing from {found}: {steps}"
        else:
            looked = f" (looked for {found})" if found is not None else ""
            note = f"post-processing: no settings.json found for {path}{looked}; raw model outputs"
    return predictor, note


# ---------------------------------------------------------------- inputs and outputs


def audio_inputs(paths: Sequence[str | Path]) -> tuple[list[Path], list[InputError]]:
    """Files to predict: files as given, folders searched (recursively, sorted) for audio files.

    Returns the files and an InputError for each path that does not exist or is a folder without audio.
    """
    files: list[Path] = []
    errors: list[InputError] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                errors.append(InputError(path, f"folder holds no audio file ({', '.join(sorted(AUDIO_EXTENSIONS))})"))
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            errors.append(InputError(path, "no such file or folder"))
    return files, errors


def trace_table(prediction: Prediction) -> pd.DataFrame:
    """The CSV table: `time` and one column per dimension."""
    columns = {"time": prediction.times}
    columns.update({d: prediction.values[:, i] for i, d in enumerate(prediction.dimensions)})
    return pd.DataFrame(columns)


def write_trace_csv(prediction: Prediction, path: str | Path) -> None:
    """Write the traces as CSV atomically (9 significant digits: float32 exact)."""
    with atomic_write(path) as tmp:
        trace_table(prediction).to_csv(tmp, index=False, float_format="%.9g")


def plot_traces(prediction: Prediction, path: str | Path) -> None:
    """PNG of the traces under the waveform's envelope (min/max per 40 ms frame), on one time axis."""
    from matplotlib.figure import Figure

    audio = prediction.audio
    n_frames = math.ceil(audio.size / FRAME_SAMPLES)
    padded = np.zeros(n_frames * FRAME_SAMPLES, dtype=np.float32)
    padded[: audio.size] = audio
    frames = padded.reshape(n_frames, FRAME_SAMPLES)
    t_audio = np.arange(n_frames) * STEP
    fig = Figure(figsize=(10, 5), layout="constrained")
    wave_ax, trace_ax = fig.subplots(2, 1, sharex=True, height_ratios=[1, 2])
    wave_ax.fill_between(t_audio, frames.min(axis=1), frames.max(axis=1), step="post", color="0.5", linewidth=0)
    wave_ax.set_ylabel("waveform (z)")
    wave_ax.set_title(prediction.source.name)
    for i, d in enumerate(prediction.dimensions):
        trace_ax.plot(prediction.times, prediction.values[:, i], label=d, linewidth=1)
    trace_ax.axhline(0, color="0.8", linewidth=0.5)
    trace_ax.set_xlabel("time (s)")
    trace_ax.set_ylabel("prediction")
    trace_ax.set_xlim(0, max(prediction.duration, float(prediction.times[-1])))
    trace_ax.legend(loc="upper right")
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=100)


def summary(prediction: Prediction) -> str:
    """One line: duration, frames, mean/min/max per dimension, seconds taken."""
    stats = ", ".join(
        f"{d} mean {v.mean():+.3f} min {v.min():+.3f} max {v.max():+.3f}"
        for d, v in zip(prediction.dimensions, prediction.values.T)
    )
    return (f"{prediction.source}: {prediction.duration:.2f} s, {len(prediction.frames)} frames, {stats} "
            f"({prediction.seconds:.2f} s taken)")
