"""Training with early stopping on dev CCC, resumable checkpoints, and dev/test predictions as full-length traces.

One code path for CPU and GPU (only `.to(device)` and what `auto` settings resolve to differ); every
random choice comes from `TrainSettings.seed`, and `last.pt` holds everything (weights, optimiser, RNG
states, history) needed for a killed job, started again, to end exactly where an uninterrupted run ends.
What keeps a GPU fed (README "GPU settings"): data-loading workers with pinned memory (`num_workers: auto`),
evaluation at a large batch (`eval_batch_size: auto`), no host synchronisation per step (losses are
checked for NaN every CHECK_EVERY steps), and `precision` (fp32, tf32, bf16 autocast).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader

from emotrace import plugins
from emotrace.data import Normaliser, SegmentDataset
from emotrace.errors import InputError
from emotrace.io import atomic_write, write_csv
from emotrace.losses import OBJECTIVES
from emotrace.metrics import ccc
from emotrace.models import MODELS, build_model, describe
from emotrace.predictions import assemble, to_frame, write_predictions
from emotrace.segments import SAMPLE_RATE, SEGMENT_FRAMES, SEGMENT_SAMPLES

MODEL_FORMAT = "emotrace-model/1"
RESUME_FORMAT = "emotrace-resume/1"
OPTIMIZERS = {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop, "sgd": torch.optim.SGD}
# Settings that may change between a killed run and its restart without changing the numbers.
RESUMABLE_CHANGES = ("max_epochs", "num_workers", "device", "eval_batch_size")
PRECISIONS = ("fp32", "tf32", "bf16")
CHECK_EVERY = 25
"""Training steps between checks of the losses for NaN/inf (each check waits for the device)."""
CUDA_EVAL_BATCH = 128
"""Evaluation batch of `eval_batch_size: auto` on a GPU (no gradients: activations of one layer at a time)."""
MAX_AUTO_WORKERS = 4


@dataclass
class TrainSettings:
    """Everything that determines a training run (the papers' values live in emotrace.systems)."""

    model: str  # a registered network, or a plug-in's import path / class name (emotrace.plugins)
    dimensions: list[str]
    objective: str = "ccc"
    model_kwargs: dict = field(default_factory=dict)
    optimizer: str = "adam"
    lr: float = 2e-3
    batch_size: int = 50
    max_epochs: int = 100
    patience: int = 10
    seed: int = 1
    num_workers: int | str = "auto"
    grad_clip: float | None = None
    device: str = "auto"
    module: str | None = None  # the file of a plug-in network named by its class (`models.<name>.module`)
    eval_batch_size: int | str = "auto"
    precision: str = "fp32"
    deterministic: bool = True

    def __post_init__(self) -> None:
        where = f"training settings of {self.model!r}"
        self.dimensions = list(self.dimensions)
        self.model_kwargs = dict(self.model_kwargs)
        if not self.dimensions:
            raise InputError(where, "no dimension to train on")
        if self.objective not in OBJECTIVES:
            raise InputError(where, f"unknown objective {self.objective!r}; valid: {sorted(OBJECTIVES)}")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(where, f"unknown optimizer {self.optimizer!r}; valid: {sorted(OPTIMIZERS)}")
        if not (self.lr > 0 and self.batch_size >= 1 and self.max_epochs >= 1 and self.patience >= 1):
            raise InputError(where, "lr must be > 0 and batch_size, max_epochs, patience >= 1")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise InputError(where, f"grad_clip must be positive or null, got {self.grad_clip}")
        for key in ("num_workers", "eval_batch_size"):
            value, least = getattr(self, key), 0 if key == "num_workers" else 1
            if value != "auto" and not (isinstance(value, int) and not isinstance(value, bool) and value >= least):
                raise InputError(where, f"{key} must be 'auto' or an integer >= {least}, got {value!r}")
        if self.precision not in PRECISIONS:
            raise InputError(where, f"unknown precision {self.precision!r}; valid: {list(PRECISIONS)}")


class NonFiniteLoss(RuntimeError):
    """The training loss became NaN or infinite; the message names the epoch and batch."""


@dataclass
class TrainedModel:
    """A model rebuilt from model.pt, with what is needed to feed it and read its outputs."""

    module: nn.Module
    name: str
    dimensions: list[str]
    objective: str
    model_kwargs: dict
    n_features: int | None
    feature_set: str | None
    feature_stats: dict[str, np.ndarray] | None
    label_offset: int
    checkpoint: dict  # every other entry of the file (format, best epoch, dev CCC ...)
    origin: str | None = None  # for a plug-in network: where its class was imported from, and whether it changed
    origin_changed: bool = False  # the plug-in's file differs from the one it was trained with


def resolve_device(name: str) -> torch.device:
    """`auto` -> cuda if available, else cpu; anything else is passed to torch.device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed python, numpy and torch; `deterministic` asks torch for deterministic kernels (warning where none
    exists), else lets cuDNN pick the fastest (benchmark mode: GPU runs may differ in the last bits)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS; must precede CUDA use
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.benchmark = not deterministic


def set_precision(precision: str) -> None:
    """TF32 matrix products and convolutions on Ampere+ GPUs for `tf32`, true float32 otherwise (no effect on a CPU).

    bf16 is autocast around each forward pass (`autocast`); its float32 parts stay float32."""
    if precision not in PRECISIONS:
        raise InputError("training.precision", f"unknown precision {precision!r}; valid: {list(PRECISIONS)}")
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = precision == "tf32"


def autocast(device: torch.device, precision: str):
    """bfloat16 autocast on `device` for `bf16` (CPU and GPU alike), a no-op context otherwise."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


@dataclass
class LoaderOptions:
    """How batches reach the device: worker processes, pinned host memory, asynchronous copies."""

    num_workers: int
    pin_memory: bool

    @property
    def non_blocking(self) -> bool:
        return self.pin_memory

    def kwargs(self) -> dict:
        return {"num_workers": self.num_workers, "pin_memory": self.pin_memory,
                "persistent_workers": self.num_workers > 0}


def loader_options(num_workers: int | str, device: torch.device) -> LoaderOptions:
    """`auto`: on CUDA up to MAX_AUTO_WORKERS workers (one CPU left to the training loop) and pinned memory;
    on a CPU 0 (workers would compete with the model for the same cores). An integer is taken as given."""
    cuda = device.type == "cuda"
    if num_workers == "auto":
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        num_workers = min(MAX_AUTO_WORKERS, cpus - 1) if cuda else 0
    return LoaderOptions(num_workers=max(0, int(num_workers)), pin_memory=cuda)


def eval_batch(eval_batch_size: int | str, batch_size: int, device: torch.device) -> int:
    """`auto`: CUDA_EVAL_BATCH (at least the training batch) on a GPU; the training batch on a CPU, whose memory
    requests (emotrace.resources) assume it. Predictions do not depend on it (tests/test_training.py)."""
    if eval_batch_size != "auto":
        return int(eval_batch_size)
    return max(batch_size, CUDA_EVAL_BATCH) if device.type == "cuda" else batch_size


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def rng_state(loader_generator: torch.Generator) -> dict:
    """Every RNG state as tensors and plain Python values, so that torch.load(weights_only=True) reads it back."""
    _, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all(),
        "loader": loader_generator.get_state(),
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
    }


def set_rng_state(state: dict, loader_generator: torch.Generator) -> None:
    """Inverse of rng_state."""
    torch.set_rng_state(state["torch"])
    torch.cuda.set_rng_state_all(state["cuda"])
    loader_generator.set_state(state["loader"])
    np_state = state["numpy"]
    np.random.set_state(("MT19937", np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
                         np_state["has_gauss"], np_state["cached"]))
    py_state = state["python"]
    random.setstate((py_state["version"], tuple(py_state["internal"]), py_state["gauss_next"]))


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the model's weights."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def save_torch(obj, path: Path) -> None:
    """torch.save through atomic_write: a killed job never leaves a half-written checkpoint."""
    with atomic_write(path) as tmp:
        torch.save(obj, tmp)


def load_torch(path: Path, what: str) -> dict:
    """torch.load(weights_only=True) of a dict; anything else is an InputError naming the file."""
    if not path.is_file():
        raise InputError(path, f"no such {what} file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError ... for foreign files
        raise InputError(path, f"not an {what} file (cannot be read as a weights-only torch file: {err})") from err
    return obj if isinstance(obj, dict) else {}


# ---------------------------------------------------------------- prediction

def predict_segments(model: nn.Module, dataset: SegmentDataset, device: torch.device, batch_size: int,
                     precision: str = "fp32", options: LoaderOptions | None = None) -> list:
    """The model's outputs (n, 150, D) for every segment file of `dataset`, in file and segment order; for a
    model of k networks side by side (`emotrace.fused`: outputs (k, B, 150, D)), one such list per network."""
    options = options or LoaderOptions(0, False)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=options.num_workers,
                        pin_memory=options.pin_memory)
    model.eval()
    outputs = []
    with torch.no_grad():
        for x, labels, *_ in loader:
            with autocast(device, precision):
                y = model(x.to(device, non_blocking=options.non_blocking))
            check_output(y, labels, model)
            outputs.append(y.float())
    out = torch.cat(outputs, dim=-3).cpu().numpy()  # one copy back from the device, not one per batch
    bounds = np.cumsum([len(f) for f in dataset.files])[:-1]
    return [np.split(o, bounds) for o in out] if out.ndim == 4 else np.split(out, bounds)


def check_output(y: torch.Tensor, labels: torch.Tensor, model: nn.Module) -> None:
    """A model must give one row per label frame: (B, 150, D); k networks side by side (k, B, 150, D)."""
    if tuple(y.shape[-3:] if getattr(model, "side_by_side", False) else y.shape) != tuple(labels.shape):
        raise RuntimeError(f"model {type(model).__name__} gave outputs of shape {tuple(y.shape)}, expected {tuple(labels.shape)}")


def require_eval(dataset: SegmentDataset) -> SegmentDataset:
    """Only contiguous (eval) tilings can be put back together into traces."""
    for seg in dataset.files:
        if seg.tiling != "eval":
            raise InputError(seg.path, f"tiling is {seg.tiling!r}; predictions need the contiguous 'eval' tiling")
    return dataset


def traces(dataset: SegmentDataset, outputs: list[np.ndarray]):
    """Per recording: (recording, frames, prediction (m, D), gold (m, D)) re-assembled from contiguous segments."""
    for seg, out in zip(require_eval(dataset).files, outputs):
        pred = assemble(out, seg.frame0, seg.mask, where=str(seg.path))
        gold = assemble(seg.labels, seg.frame0, seg.mask, where=str(seg.path))
        yield seg.recording, pred.frames, pred.values, gold.values


def dev_scores(dataset: SegmentDataset, outputs: list[np.ndarray]) -> dict[str, float]:
    """CCC per dimension on all recordings concatenated (AV+EC 2015 protocol), plus their mean."""
    pieces = list(traces(dataset, outputs))
    pred = np.concatenate([p for _, _, p, _ in pieces])
    gold = np.concatenate([g for _, _, _, g in pieces])
    scores = {d: ccc(pred[:, i], gold[:, i], where=f"dev predictions [{d}]") for i, d in enumerate(dataset.dimensions)}
    scores["mean"] = float(np.mean(list(scores.values())))
    return scores


def prediction_frame(dataset: SegmentDataset, outputs: list[np.ndarray], partition: str) -> pd.DataFrame:
    """Rows of predictions.csv for every recording of `dataset`."""
    frames = [to_frame(rec, partition, dataset.dimensions, fr, p, g) for rec, fr, p, g in traces(dataset, outputs)]
    return pd.concat(frames, ignore_index=True)


def predict(
    trained: TrainedModel,
    segment_files: Sequence[str | Path],
    partition: str,
    device: str = "auto",
    batch_size: int = 50,
    features: Mapping[str, str | Path] | None = None,
    normalise: Normaliser | None = None,
) -> pd.DataFrame:
    """Predictions (predictions.csv rows) of a trained model on eval-tiled segment files."""
    dataset = segment_dataset(trained.name, segment_files, trained.dimensions, features, normalise)
    check_input_kind(trained.module, dataset, trained.name)
    dev = resolve_device(device)
    model = trained.module.to(dev)
    return prediction_frame(dataset, predict_segments(model, dataset, dev, batch_size), partition)


def segment_dataset(model: str, files, dimensions, features=None, normalise=None) -> SegmentDataset:
    """The segments as the registered model `model` takes them (audio and features packed for fusion models)."""
    with_audio = getattr(MODELS.get(model), "input_kind", None) == "audio+features"
    return SegmentDataset(files, dimensions, features, normalise, with_audio=with_audio)


def check_input_kind(model: nn.Module, dataset: SegmentDataset, name: str) -> None:
    """Audio models need segment audio, feature models need feature files."""
    kind = getattr(model, "input_kind", None)
    if kind != dataset.input_kind:
        raise InputError(f"model {name!r}", f"takes {kind!r} input but the data give {dataset.input_kind!r}")


def network_of(settings: TrainSettings) -> str | type[nn.Module]:
    """The registered name of the settings' network, or its plug-in class, imported as the config names it."""
    if not plugins.is_plugin(settings.model, settings.module):
        return settings.model
    cls = plugins.import_class(settings.model, settings.module, "network", "module")
    if not issubclass(cls, nn.Module):
        raise InputError("network", f"{settings.model!r} is not a torch.nn.Module subclass")
    return cls


# ---------------------------------------------------------------- checkpoints

def _storable(value):
    """Numbers as tensors, strings (feature names) as a plain list: both load with weights_only=True."""
    array = np.asarray(value)
    if array.dtype.kind in "US":
        return [str(v) for v in array.reshape(-1)]
    if array.dtype.kind == "O":
        return list(value)
    return torch.as_tensor(array)


def model_checkpoint(
    settings: TrainSettings, model: nn.Module, state: dict, n_features: int | None, label_offset: int,
    feature_set: str | None, feature_stats: Mapping[str, np.ndarray] | None, extra: dict,
) -> dict:
    """The contents of model.pt: enough to rebuild the model from the file alone."""
    checkpoint = {
        "format": MODEL_FORMAT,
        "model": settings.model,
        "model_kwargs": dict(settings.model_kwargs),
        "n_outputs": len(settings.dimensions),
        "n_features": n_features,
        "dimensions": list(settings.dimensions),
        "objective": settings.objective,
        "state_dict": state,
        "sample_rate": SAMPLE_RATE,
        "segment_samples": SEGMENT_SAMPLES,
        "segment_frames": SEGMENT_FRAMES,
        "label_offset": label_offset,
        **extra,
    }
    if feature_set is not None or feature_stats is not None:
        checkpoint["feature_set"] = feature_set
        checkpoint["feature_stats"] = None if feature_stats is None else {
            k: _storable(v) for k, v in feature_stats.items()
        }
    return checkpoint


def load_model(path: str | Path, expected_model: str | None = None, device: str = "cpu",
               plugin_sources: Sequence[str | Path] = ()) -> TrainedModel:
    """Rebuild a model from model.pt; InputError naming the file if it is not one, or holds another model.

    The file is read as data (torch.load weights_only). A plug-in network's class is imported only
    from `plugin_sources` (files or modules the caller names: `emotrace predict --plugin`), never from
    a path stored in the file; without one that defines it, InputError says which class to name.
    """
    path = Path(path)
    ckpt = load_torch(path, "emotrace model checkpoint")
    if ckpt.get("format") != MODEL_FORMAT:
        raise InputError(path, f"not an emotrace model checkpoint (format {ckpt.get('format')!r}, expected {MODEL_FORMAT!r})")
    if expected_model is not None and ckpt["model"] != expected_model:
        raise InputError(path, f"holds model {ckpt['model']!r}, expected {expected_model!r}")
    network, origin, changed = ckpt["model"], None, False
    if ckpt.get("plugin") is not None:
        network, origin, changed = plugins.checkpoint_network(ckpt["plugin"], [str(s) for s in plugin_sources], path)
    module = build_model(network, ckpt["n_outputs"], n_features=ckpt["n_features"], **ckpt["model_kwargs"])
    try:
        module.load_state_dict(ckpt["state_dict"])
    except RuntimeError as err:
        raise InputError(path, f"weights do not fit model {ckpt['model']!r}: {err}") from err
    module.to(resolve_device(device)).eval()
    stats = ckpt.get("feature_stats")
    return TrainedModel(
        module=module,
        name=ckpt["model"],
        dimensions=list(ckpt["dimensions"]),
        objective=ckpt["objective"],
        model_kwargs=dict(ckpt["model_kwargs"]),
        n_features=ckpt["n_features"],
        feature_set=ckpt.get("feature_set"),
        feature_stats=None if stats is None else {
            k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in stats.items()
        },
        label_offset=int(ckpt["label_offset"]),
        checkpoint={k: v for k, v in ckpt.items() if k != "state_dict"},
        origin=origin,
        origin_changed=changed,
    )


def file_digest(path: str | Path) -> str:
    """BLAKE2b of a file's bytes, read in 1 MiB blocks (a changed segment or feature file changes it)."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def arrays_digest(arrays: Mapping[str, np.ndarray] | None) -> str | None:
    """BLAKE2b of named arrays (the feature statistics), None when there are none."""
    if arrays is None:
        return None
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(arrays):
        value = np.ascontiguousarray(np.asarray(arrays[name]))
        digest.update(f"{name}:{value.dtype.str}:{value.shape}".encode())
        digest.update(value.tobytes() if value.dtype.kind != "O" else repr(value.tolist()).encode())
    return digest.hexdigest()


def fingerprint(
    settings: TrainSettings,
    train_files,
    dev_files,
    feature_set: str | None,
    test_files=(),
    features: Mapping[str, str | Path] | None = None,
    feature_stats: Mapping[str, np.ndarray] | None = None,
    code: str | None = None,
) -> str:
    """What last.pt must have been written with for a restart to continue it: the settings and the
    *content* of every input (segment files, feature files, feature statistics, a plug-in network's
    source file as its sha256 `code`), so that inputs remade upstream (another alignment, hop, label
    or audio file, an edited network) never continue stale weights."""
    plain = {k: v for k, v in asdict(settings).items() if k not in RESUMABLE_CHANGES and (k != "module" or v)}
    if code is not None:
        plain["code"] = code
    plain["feature_set"] = feature_set
    for part, files in (("train_files", train_files), ("dev_files", dev_files), ("test_files", test_files)):
        plain[part] = {Path(p).name: file_digest(p) for p in files}
    plain["feature_files"] = {rec: file_digest(p) for rec, p in sorted((features or {}).items())}
    plain["feature_stats"] = arrays_digest(feature_stats)
    return json.dumps(plain, sort_keys=True, default=str)


def fingerprint_changes(old: str, new: str) -> str:
    """In words, what differs between two fingerprints (settings by name, inputs by file)."""
    try:
        before, after = json.loads(old), json.loads(new)
    except (TypeError, ValueError):
        return "written in another format"
    if not isinstance(before, dict):
        return "written in another format"
    changes = []
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            files = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            more = f" and {len(files) - 3} more" if len(files) > 3 else ""
            changes.append(f"{key} changed ({', '.join(files[:3])}{more})")
        else:
            changes.append(f"{key} changed ({a!r} -> {b!r})")
    return "; ".join(changes) or "written by another run"


# ---------------------------------------------------------------- training

def history_columns(dimensions: Sequence[str]) -> list[str]:
    """Columns of history.csv."""
    return ["epoch", "train_loss", *[f"dev_ccc_{d}" for d in dimensions], "dev_ccc_mean", "seconds"]


def check_finite(losses: list[torch.Tensor], first: int, epoch: int, names: Sequence[str] = ()) -> None:
    """NonFiniteLoss naming the first batch (1-based) from `first` whose loss is NaN/inf: one device sync.
    Losses of k trainings side by side (one per step, each a vector of k) name the training, from `names`."""
    if len(losses) <= first:
        return
    tail = torch.stack(losses[first:]).reshape(len(losses) - first, -1)
    finite = torch.isfinite(tail)
    if not bool(finite.all()):
        i, j = (int(v) for v in (~finite).nonzero()[0])
        who = f"[{names[j]}] " if names else ""
        raise NonFiniteLoss(
            f"{who}epoch {epoch} batch {first + i + 1}: training loss is {float(tail[i, j])}; "
            "lower the learning rate or set grad_clip (no predictions were written)"
        )


def train_epoch(model, loader, loss_fn, optimizer, device, grad_clip, epoch: int, precision: str = "fp32",
                non_blocking: bool = False, names: Sequence[str] = ()):
    """One pass over the training data; the mean loss per segment. NaN/inf raises NonFiniteLoss, naming the
    batch, at most CHECK_EVERY steps later: losses stay on the device between checks (no sync per step).

    k trainings side by side (`emotrace.fused`): `loss_fn` gives a vector of k losses, `optimizer` steps each
    training's optimiser, gradients are clipped per training (`model.parameter_groups()`), and the mean losses
    come back as an array of k, NaN/inf naming the training from `names`."""
    model.train()
    losses, sizes = [], []
    for batch, (x, labels, mask, *_) in enumerate(loader, start=1):
        x, labels, mask = (t.to(device, non_blocking=non_blocking) for t in (x, labels, mask))
        with autocast(device, precision):
            y = model(x)
            check_output(y, labels, model)
            loss = loss_fn(y, labels, mask)
        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()  # the sum of independent trainings' losses: each gets its own gradient
        if grad_clip is not None:
            for group in getattr(model, "parameter_groups", lambda: [model.parameters()])():
                nn.utils.clip_grad_norm_(group, grad_clip)
        optimizer.step()
        losses.append(loss.detach().float())
        sizes.append(len(x))
        if batch % CHECK_EVERY == 0:
            check_finite(losses, batch - CHECK_EVERY, epoch, names)
    check_finite(losses, len(losses) - len(losses) % CHECK_EVERY, epoch, names)
    values = torch.stack(losses).double().cpu().numpy()
    mean = np.dot(sizes, values) / sum(sizes)
    return float(mean) if values.ndim == 1 else mean


def resume_state(path: Path, key: str, model: nn.Module, optimizer, generator: torch.Generator,
                 log: logging.Logger) -> dict:
    """The loop's state from `path` (restoring weights, optimiser and RNGs) if it continues this run, else a fresh one."""
    state = {"epoch": 0, "best_score": -math.inf, "best_epoch": 0, "best_state": None,
             "bad_epochs": 0, "stopped": False, "history": []}
    if not path.exists():
        return state
    saved = load_torch(path, "emotrace resume checkpoint")
    if saved.get("format") != RESUME_FORMAT:
        log.warning("discarding %s: not a resume checkpoint of format %s; starting afresh", path, RESUME_FORMAT)
        return state
    if saved.get("fingerprint") != key:
        log.warning("discarding %s (after epoch %s): its inputs or settings changed since: %s; starting afresh",
                    path, saved.get("epoch"), fingerprint_changes(saved.get("fingerprint"), key))
        return state
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    set_rng_state(saved["rng"], generator)
    log.info("resuming from %s after epoch %d", path, saved["epoch"])
    return {k: saved[k] for k in state}


@dataclass
class Setup:
    """What the trainings of one set of settings share: device, loading, the partitions and the built network."""

    device: torch.device
    options: LoaderOptions
    eval_size: int
    train_set: SegmentDataset
    dev_set: SegmentDataset
    test_set: SegmentDataset | None
    label_offset: int
    plugin: dict | None
    model: nn.Module

    def loader(self, settings: TrainSettings) -> tuple[DataLoader, torch.Generator]:
        """The shuffled training batches and the generator that orders them (seeded; saved in last.pt)."""
        generator = torch.Generator().manual_seed(settings.seed)
        return DataLoader(self.train_set, batch_size=settings.batch_size, shuffle=True, generator=generator,
                          **self.options.kwargs()), generator

    def evaluate(self, model: nn.Module, dataset: SegmentDataset, precision: str) -> list:
        """`predict_segments` on this setup's device, evaluation batch and loading."""
        return predict_segments(model, dataset, self.device, self.eval_size, precision, self.options)


def set_up(settings: TrainSettings, train_files, dev_files, test_files, log: logging.Logger,
           features: Mapping[str, str | Path] | None = None, normalise: Normaliser | None = None) -> Setup:
    """Seed every RNG, read the partitions and build the network on its device, in the order a training always
    does (the initial weights depend on it); logs what was built."""
    device = resolve_device(settings.device)
    seed_everything(settings.seed, settings.deterministic)
    set_precision(settings.precision)
    options = loader_options(settings.num_workers, device)
    eval_size = eval_batch(settings.eval_batch_size, settings.batch_size, device)
    dims = settings.dimensions

    train_set = segment_dataset(settings.model, train_files, dims, features, normalise)
    dev_set = require_eval(segment_dataset(settings.model, dev_files, dims, features, normalise))
    test_set = require_eval(segment_dataset(settings.model, test_files, dims, features, normalise)) if test_files else None
    label_offset = alignment_offset(train_set, dev_set, test_set)
    network = network_of(settings)
    plugin = None if isinstance(network, str) else plugins.provenance(settings.model, settings.module, network)
    model = build_model(network, len(dims), n_features=train_set.n_features, **settings.model_kwargs)
    check_input_kind(model, train_set, settings.model)
    model.to(device)
    log.info("model %s", describe(model))
    if plugin is not None:
        log.info("plug-in network %s from %s (sha256 %s)", settings.model, plugin["file"], plugin["sha256"])
    log.info("%d trainable parameters; device %s; %d train segments (%d recordings), %d dev segments (%d recordings)",
             count_parameters(model), device, len(train_set), len(train_set.files), len(dev_set), len(dev_set.files))
    log.info("precision %s, deterministic %s, %d data-loading workers%s, evaluation batch %d",
             settings.precision, settings.deterministic, options.num_workers,
             " (pinned memory)" if options.pin_memory else "", eval_size)
    return Setup(device, options, eval_size, train_set, dev_set, test_set, label_offset, plugin, model)


def record_epoch(state: dict, epoch: int, train_loss: float, scores: dict[str, float], seconds: float,
                 settings: TrainSettings, model: nn.Module, optimizer, generator: torch.Generator, key: str,
                 out_dir: Path, log: logging.Logger) -> dict:
    """Early stopping's bookkeeping after an epoch: the best weights, history.csv, last.pt and the log line.
    Returns the epoch's history row."""
    dims = settings.dimensions
    if scores["mean"] > state["best_score"]:
        state.update(best_score=scores["mean"], best_epoch=epoch, best_state=cpu_state(model), bad_epochs=0)
    else:
        state["bad_epochs"] += 1
    state["stopped"] = state["bad_epochs"] >= settings.patience
    state["epoch"] = epoch
    row = {"epoch": epoch, "train_loss": train_loss, **{f"dev_ccc_{d}": scores[d] for d in dims},
           "dev_ccc_mean": scores["mean"], "seconds": seconds}
    state["history"].append(row)
    write_csv(pd.DataFrame(state["history"], columns=history_columns(dims)), out_dir / "history.csv")
    save_torch({"format": RESUME_FORMAT, "fingerprint": key, "model": cpu_state(model),
                "optimizer": optimizer.state_dict(), "rng": rng_state(generator), **state}, out_dir / "last.pt")
    per_dim = " ".join(f"{d} {scores[d]:.4f}" for d in dims)
    log.info("epoch %d train_loss %.4f dev_ccc %.4f (%s) seconds %.1f", epoch, train_loss, scores["mean"], per_dim, seconds)
    if state["stopped"]:
        log.info("early stop: no dev improvement for %d epochs; best epoch %d (dev_ccc %.4f)",
                 settings.patience, state["best_epoch"], state["best_score"])
    return row


def finished(state: dict, settings: TrainSettings) -> bool:
    """Early stopping has ended the training, or it has run `max_epochs`."""
    return state["stopped"] or state["epoch"] >= settings.max_epochs


def finish(settings: TrainSettings, setup: Setup, model: nn.Module, state: dict, out_dir: Path, log: logging.Logger,
           feature_set: str | None = None, feature_stats: Mapping[str, np.ndarray] | None = None,
           trained_on: dict | None = None, ssl_settings: dict | None = None) -> dict:
    """The best epoch's weights into `model`, then model.pt and predictions.csv written and last.pt removed.
    Returns the training's summary."""
    dims = settings.dimensions
    model.load_state_dict(state["best_state"])
    best_row = state["history"][state["best_epoch"] - 1]
    extra = {"best_epoch": state["best_epoch"], "dev_ccc": {d: best_row[f"dev_ccc_{d}"] for d in dims}, "seed": settings.seed}
    if trained_on is not None:
        extra["trained_on"] = trained_on
    if ssl_settings is not None:
        extra["ssl"] = ssl_settings
    if setup.plugin is not None:
        extra["plugin"] = setup.plugin
    save_torch(model_checkpoint(settings, model, state["best_state"], setup.train_set.n_features, setup.label_offset,
                                feature_set, feature_stats, extra), out_dir / "model.pt")

    tables = [prediction_frame(setup.dev_set, setup.evaluate(model, setup.dev_set, settings.precision), "dev")]
    if setup.test_set is not None:
        tables.append(prediction_frame(setup.test_set, setup.evaluate(model, setup.test_set, settings.precision), "test"))
    write_predictions(pd.concat(tables, ignore_index=True), out_dir / "predictions.csv")
    (out_dir / "last.pt").unlink(missing_ok=True)
    log.info("best epoch %d dev_ccc %.4f; wrote %s", state["best_epoch"], state["best_score"], out_dir)
    return {
        "epochs": state["epoch"],
        "best_epoch": state["best_epoch"],
        "dev_ccc": extra["dev_ccc"],
        "dev_ccc_mean": state["best_score"],
        "stopped_early": state["stopped"],
        "n_parameters": count_parameters(model),
        "device": str(setup.device),
    }


def train(
    settings: TrainSettings,
    train_files: Sequence[str | Path],
    dev_files: Sequence[str | Path],
    test_files: Sequence[str | Path],
    out_dir: str | Path,
    log: logging.Logger,
    features: Mapping[str, str | Path] | None = None,
    normalise: Normaliser | None = None,
    feature_set: str | None = None,
    feature_stats: Mapping[str, np.ndarray] | None = None,
    after_epoch: Callable[[int, dict], None] | None = None,
    trained_on: dict | None = None,
    ssl_settings: dict | None = None,
) -> dict:
    """Train, keep the best dev epoch, and write model.pt, history.csv and predictions.csv to `out_dir`.

    `features` maps recording -> feature file for feature models (None for audio models);
    `normalise` z-normalises feature rows with train-only statistics, and `feature_set` /
    `feature_stats` are stored in model.pt so the model can be used later on its own.
    `last.pt` is written after every epoch and removed at the end; if it exists at the
    start, training continues from it. `after_epoch(epoch, history_row)` is called after
    each epoch's checkpoint (progress reporting). `trained_on` (corpus, adapter, split) is
    stored in model.pt as is, so the model can say later what it learnt from; so are `ssl_settings`
    (`emotrace.ssl.stored_settings`, ssl_* models), so that predict can extract their features. Returns a summary dict.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    setup = set_up(settings, train_files, dev_files, test_files, log, features, normalise)
    model = setup.model
    optimizer = OPTIMIZERS[settings.optimizer](model.parameters(), lr=settings.lr)
    loss_fn = OBJECTIVES[settings.objective]
    loader, generator = setup.loader(settings)
    key = fingerprint(settings, train_files, dev_files, feature_set, test_files, features, feature_stats,
                      None if setup.plugin is None else setup.plugin["sha256"])
    state = resume_state(out_dir / "last.pt", key, model, optimizer, generator, log)

    while not finished(state, settings):
        epoch = state["epoch"] + 1
        start = time.perf_counter()
        train_loss = train_epoch(model, loader, loss_fn, optimizer, setup.device, settings.grad_clip, epoch,
                                 settings.precision, setup.options.non_blocking)
        scores = dev_scores(setup.dev_set, setup.evaluate(model, setup.dev_set, settings.precision))
        row = record_epoch(state, epoch, train_loss, scores, time.perf_counter() - start, settings, model, optimizer,
                           generator, key, out_dir, log)
        if after_epoch is not None:
            after_epoch(epoch, row)
    return finish(settings, setup, model, state, out_dir, log, feature_set, feature_stats, trained_on, ssl_settings)


def alignment_offset(*datasets: SegmentDataset | None) -> int:
    """The alignment offset (0 or 1 label frame) of the segment files; all must agree."""
    offsets = {seg.label_offset for ds in datasets if ds is not None for seg in ds.files}
    if len(offsets) != 1:
        raise InputError("segment files", f"were cut with different alignments (label offsets {sorted(offsets)})")
    return offsets.pop()
