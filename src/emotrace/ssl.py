"""Frozen self-supervised speech models (wav2vec 2.0, HuBERT, WavLM) as per-frame features (docs/references.md §3.7).

A torchaudio pipeline bundle names the architecture; its weights come from `ssl.checkpoint`
(a state dict saved on a machine with internet, for offline clusters) or, when no checkpoint
is configured, from `bundle.get_model()` (downloaded once into the torch hub cache).
`ssl.architecture` overrides the bundle's builder arguments: the tests use it for a tiny
random-initialised model, which is for checking the plumbing and never gives a result.

Hidden states are taken from the chosen transformer blocks (1-based: layer k is the output of
block k, as `extract_features` lists them), over overlapping chunks so that memory does not
grow with the recording's duration, and brought from the models' 20 ms frames to the 40 ms
label grid (`to_label_grid`). They are stored as float16, (n_frames, n_layers * dim).
`ssl.precision: bfloat16` runs the front end and feed-forward layers under bfloat16 autocast
(`precision_of`; ~1 % relative error on the hidden states, bench/ssl_features.py --compare).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from emotrace.errors import InputError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
FRAME_HOP = 320
"""Samples between two SSL frames (20 ms): the product of the convolutional front end's strides."""
RECEPTIVE_FIELD = 400
"""Samples one SSL frame sees (25 ms): frame j covers samples [320 j, 320 j + 400), centred at 20 j + 12.5 ms."""
BUNDLES = (
    "WAV2VEC2_BASE", "WAV2VEC2_LARGE", "WAV2VEC2_LARGE_LV60K", "WAV2VEC2_XLSR53",
    "HUBERT_BASE", "HUBERT_LARGE", "HUBERT_XLARGE", "WAVLM_BASE", "WAVLM_BASE_PLUS", "WAVLM_LARGE",
)
STORE_DTYPE = np.float16
PRECISIONS = ("float32", "bfloat16")
MAX_REPEAT_SECONDS = 2.0
"""Longest stretch of labels past the audio that repeats the last SSL frame (ingestion allows 1 s by default)."""


@dataclass(frozen=True)
class SSLSettings:
    """The config's `ssl` section (schemas/config.schema.yaml)."""

    bundle: str = "WAVLM_BASE_PLUS"
    checkpoint: str | None = None
    architecture: dict | None = None
    layers: tuple[int, ...] | None = None
    chunk_seconds: float = 30.0
    context_seconds: float = 5.0
    device: str = "auto"
    precision: str = "bfloat16"

    @classmethod
    def from_config(cls, section: dict) -> "SSLSettings":
        """Settings from the validated `ssl` config section (unknown keys are the schema's business)."""
        known = {k: v for k, v in section.items() if k in inspect.signature(cls).parameters}
        if known.get("layers") is not None:
            known["layers"] = tuple(int(v) for v in known["layers"])
        if known.get("architecture") is not None:
            known["architecture"] = dict(known["architecture"])
        return cls(**known)


def stored_settings(settings: SSLSettings) -> dict:
    """The settings an ssl_* model.pt keeps, so that `emotrace predict` extracts the features it was trained on.

    A config-like `ssl` section (SSLSettings.from_config reads it back): the checkpoint made
    absolute (predict runs from any folder), the stored layers spelt out, no device.
    """
    checkpoint = settings.checkpoint
    return {
        "bundle": settings.bundle,
        "checkpoint": None if checkpoint is None else str(Path(checkpoint).expanduser().resolve()),
        "architecture": None if settings.architecture is None else dict(settings.architecture),
        "layers": selected_layers(settings),
        "chunk_seconds": float(settings.chunk_seconds),
        "context_seconds": float(settings.context_seconds),
        "precision": settings.precision,
    }


def _bundle(name: str):
    import torchaudio

    if name not in BUNDLES:
        raise InputError("ssl.bundle", f"unknown bundle {name!r}; valid: {list(BUNDLES)}")
    return getattr(torchaudio.pipelines, name)


def _factory(model_type: str):
    from torchaudio.models import wav2vec2_model, wavlm_model

    return {"Wav2Vec2": wav2vec2_model, "WavLM": wavlm_model}[model_type]


def architecture(settings: SSLSettings) -> tuple[str, dict]:
    """(model type, builder arguments): the bundle's, with `ssl.architecture` overriding them."""
    bundle = _bundle(settings.bundle)
    params = dict(bundle._params)
    if settings.architecture:
        accepted = set(inspect.signature(_factory(bundle._model_type)).parameters)
        unknown = sorted(set(settings.architecture) - accepted)
        if unknown:
            raise InputError("ssl.architecture", f"unknown argument(s) {unknown} of the {bundle._model_type} builder; "
                             f"valid: {sorted(accepted)}")
        params.update(settings.architecture)
    return bundle._model_type, params


def n_model_layers(settings: SSLSettings) -> int:
    """Transformer blocks of the configured architecture."""
    return int(architecture(settings)[1]["encoder_num_layers"])


def selected_layers(settings: SSLSettings) -> list[int]:
    """The 1-based transformer blocks whose outputs are stored (every block when `ssl.layers` is null)."""
    total = n_model_layers(settings)
    if settings.layers is None:
        return list(range(1, total + 1))
    layers = list(settings.layers)
    bad = [k for k in layers if not 1 <= k <= total]
    if bad or len(set(layers)) != len(layers):
        raise InputError("ssl.layers", f"must be distinct block numbers in 1..{total}, got {layers}")
    return layers


def _state_dict(path: Path) -> dict:
    """A state dict from a file: a plain one, or the `state_dict` entry of a dict; torchaudio's wrapper prefix dropped."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for foreign files
        raise InputError(f"ssl.checkpoint ({path})", f"cannot be read as a weights-only torch file: {err}") from err
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj:
        raise InputError(f"ssl.checkpoint ({path})", "holds no state dict")
    # bundles that normalise their input wrap the model, so get_model().state_dict() keys start with "model."
    if all(k.startswith("model.") for k in obj):
        obj = {k[len("model."):]: v for k, v in obj.items()}
    return obj


def load_extractor(settings: SSLSettings, device: str | torch.device = "cpu") -> nn.Module:
    """The frozen model in eval mode: built from the architecture and `ssl.checkpoint`, else `bundle.get_model()`.

    A configured checkpoint that does not exist, cannot be read or does not fit the
    architecture raises InputError naming `ssl.checkpoint` and the path.
    """
    model_type, params = architecture(settings)
    if settings.checkpoint is not None:
        path = Path(settings.checkpoint).expanduser()
        if not path.is_file():
            raise InputError(f"ssl.checkpoint ({path})", "no such file; save the bundle's weights there "
                             "(README, 'Self-supervised features') or set ssl.checkpoint: null to download them")
        model = _factory(model_type)(**params)
        try:
            model.load_state_dict(_state_dict(path))
        except RuntimeError as err:
            raise InputError(f"ssl.checkpoint ({path})",
                             f"weights do not fit {settings.bundle} with ssl.architecture {settings.architecture}: "
                             f"{str(err)[:500]}") from err
    else:
        if settings.architecture:
            raise InputError("ssl.architecture", "overrides the bundle's architecture, so the bundle's published "
                             "weights do not fit: set ssl.checkpoint to weights of that architecture")
        model = _bundle(settings.bundle).get_model()
        model = getattr(model, "model", model)  # the input layer norm is the recording's z-normalisation here
    model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def random_model(settings: SSLSettings, seed: int = 0) -> nn.Module:
    """The configured architecture with random weights (tests, benchmarks): its features mean nothing."""
    model_type, params = architecture(settings)
    torch.manual_seed(seed)
    return _factory(model_type)(**params).eval()


def n_ssl_frames(n_samples: int) -> int:
    """20 ms frames the convolutional front end gives for `n_samples` samples."""
    return max(0, (n_samples - RECEPTIVE_FIELD) // FRAME_HOP + 1)


def chunk_plan(n_frames: int, chunk_frames: int, context_frames: int) -> list[tuple[int, int, int, int]]:
    """(input first frame, input end frame, kept first frame, kept end frame) per chunk, in 20 ms frames.

    Each chunk keeps `chunk_frames` frames and sees `context_frames` more on each side
    (cut at the recording's ends); the kept ranges tile [0, n_frames) without overlap.
    """
    if chunk_frames < 1 or context_frames < 0:
        raise InputError("ssl.chunk_seconds", "chunks must hold at least one frame and context must be >= 0")
    plan = []
    for keep0 in range(0, n_frames, chunk_frames):
        keep1 = min(keep0 + chunk_frames, n_frames)
        plan.append((max(0, keep0 - context_frames), min(n_frames, keep1 + context_frames), keep0, keep1))
    return plan


def _in_bfloat16(forward, device_type: str):
    """`forward` under bfloat16 autocast, its floating-point tensor outputs brought back to float32."""

    def run(*args, **kwargs):
        with torch.autocast(device_type=device_type, dtype=torch.bfloat16):
            out = forward(*args, **kwargs)
        if isinstance(out, tuple):
            return tuple(o.float() if isinstance(o, torch.Tensor) and o.is_floating_point() else o for o in out)
        return out.float()

    return run


@contextlib.contextmanager
def precision_of(model: nn.Module, precision: str, device: str | torch.device):
    """Run `model`'s forward passes in `precision` (`ssl.precision`) inside the block.

    bfloat16 puts the convolutional front end and every block's feed-forward layers (most of the
    arithmetic) under bfloat16 autocast and leaves attention in float32: on CPUs, bfloat16
    attention with WavLM's relative position bias is slower than float32 (the bias is cast every
    block), and the error on the hidden states is lower (~0.8 % relative vs ~1.2 % for a whole-model
    autocast on a random WavLM Base+). CUDA devices without bfloat16 support stay in float32.
    """
    if precision not in PRECISIONS:
        raise InputError("ssl.precision", f"unknown precision {precision!r}; valid: {list(PRECISIONS)}")
    device_type = torch.device(device).type
    if precision == "float32":
        yield
        return
    if device_type == "cuda" and not torch.cuda.is_bf16_supported():
        log.warning("ssl.precision bfloat16: this GPU has no bfloat16 support; extracting in float32")
        yield
        return
    parts = [model.feature_extractor, *(layer.feed_forward for layer in model.encoder.transformer.layers)]
    for part in parts:  # an instance attribute shadows the class's forward until deleted
        part.forward = _in_bfloat16(part.forward, device_type)
    try:
        yield
    finally:
        for part in parts:
            del part.forward


@torch.inference_mode()
def hidden_states(
    model: nn.Module,
    audio: np.ndarray,
    layers: Sequence[int],
    chunk_seconds: float = 30.0,
    context_seconds: float = 5.0,
    device: str | torch.device = "cpu",
    precision: str = "float32",
) -> np.ndarray:
    """Outputs of the 1-based transformer `layers` for mono 16 kHz `audio`: (n_ssl_frames, len(layers), dim) float16.

    The audio is cut into chunks of `chunk_seconds` with `context_seconds` of context on both sides;
    chunk inputs start on the 20 ms frame grid, so a chunk's frame i is the recording's frame
    (first + i). Only each chunk's central frames are kept, so the result approximates one pass over
    the whole recording (equal when one chunk covers it) at a memory cost set by the chunk size.
    Blocks above the deepest requested layer are not run; `precision` is `ssl.precision` (`precision_of`).
    """
    audio = np.asarray(audio, dtype=np.float32)
    n_frames = n_ssl_frames(audio.size)
    if audio.ndim != 1 or n_frames == 0:
        raise InputError("audio", f"need a mono signal of at least {RECEPTIVE_FIELD} samples, got shape {audio.shape}")
    deepest = max(layers)
    chunk = max(1, int(round(chunk_seconds * SAMPLE_RATE / FRAME_HOP)))
    context = int(round(context_seconds * SAMPLE_RATE / FRAME_HOP))
    out: np.ndarray | None = None
    for first, end, keep0, keep1 in chunk_plan(n_frames, chunk, context):
        piece = audio[first * FRAME_HOP : (end - 1) * FRAME_HOP + RECEPTIVE_FIELD]
        with precision_of(model, precision, device):
            states, _ = model.extract_features(torch.from_numpy(piece)[None].to(device), num_layers=deepest)
        got = states[0].shape[1]
        if got != end - first:
            raise RuntimeError(f"model gave {got} frames for {piece.size} samples, expected {end - first}")
        kept = torch.stack([states[k - 1][0, keep0 - first : keep1 - first] for k in layers], dim=1)
        if out is None:
            out = np.empty((n_frames, len(layers), kept.shape[-1]), dtype=STORE_DTYPE)
        out[keep0:keep1] = kept.float().cpu().numpy().astype(STORE_DTYPE)
    assert out is not None
    return out


def to_label_grid(frames: np.ndarray, n_rows: int, offset: int = 0, block: int = 2048) -> np.ndarray:
    """20 ms SSL frames -> `n_rows` rows at the 40 ms label step, as float16.

    Row k is the mean of SSL frames 2 (k - offset) and 2 (k - offset) + 1, whose centres
    (12.5 ms and 32.5 ms into the 40 ms audio frame paired with label k, docs/architecture.md)
    average to 2.5 ms after that frame's centre. `offset` is the alignment's label offset
    (0 for `start`, 1 for `end`). Frames before the first or past the last SSL frame (labels a
    little longer than the audio) repeat the nearest one.
    """
    if frames.ndim < 2 or len(frames) == 0:
        raise InputError("ssl frames", f"need (n_frames, ...) with n_frames >= 1, got shape {frames.shape}")
    out = np.empty((n_rows, *frames.shape[1:]), dtype=STORE_DTYPE)
    last = len(frames) - 1
    for lo in range(0, n_rows, block):
        k = np.arange(lo, min(lo + block, n_rows))
        first = np.clip(2 * (k - offset), 0, last)
        second = np.clip(2 * (k - offset) + 1, 0, last)
        mean = (frames[first].astype(np.float32) + frames[second].astype(np.float32)) / 2
        out[lo : lo + len(k)] = mean.astype(STORE_DTYPE)
    return out


def extract(
    model: nn.Module, audio: np.ndarray, settings: SSLSettings, n_rows: int, offset: int = 0,
    device: str | torch.device = "cpu", where: str = "<audio>",
) -> tuple[np.ndarray, list[int]]:
    """Feature rows of one recording: (n_rows, n_layers * dim) float16 on the label grid, and the layers stored."""
    layers = selected_layers(settings)
    frames = hidden_states(model, audio, layers, settings.chunk_seconds, settings.context_seconds, device,
                           settings.precision)
    short = n_rows - offset - math.ceil(len(frames) / 2)  # label rows past the audio, filled by repetition
    if short * 0.04 > MAX_REPEAT_SECONDS:
        raise InputError(where, f"{n_rows} label frames but {len(frames)} SSL frames of audio: lengths do not match")
    rows = to_label_grid(frames, n_rows, offset)
    if not np.isfinite(rows).all():
        raise InputError(where, "SSL features contain NaN or infinite values (float16 overflow or a broken checkpoint)")
    return rows.reshape(n_rows, -1), layers


def feature_names(layers: Sequence[int], dim: int) -> list[str]:
    """Column names of a stored SSL feature file: layer-major, `l<layer>_<unit>`."""
    return [f"l{layer}_{unit}" for layer in layers for unit in range(dim)]

