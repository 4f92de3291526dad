"""Model registry: config name -> class, and `build_model` used by training and inference.

Audio models (`input_kind = "audio"`) map [B, L] 16 kHz audio (L a multiple of
`frame_samples` = 640) to [B, L / 640, n_outputs]; feature models map
[B, T, n_features] to [B, T, n_outputs]; fusion models (`"audio+features"`) map
audio and feature rows packed in one tensor (`ssl_blstm.pack`) to [B, T, n_outputs].
"""

from __future__ import annotations

import ctypes
import ctypes.util
import inspect

from torch import nn

from emotrace.errors import InputError
from emotrace.models.e2e import E2E, E2E2017
from emotrace.models.recurrent import BLSTMDRNN, ComParEBLSTM
from emotrace.models.ssl_blstm import SSLBLSTM, SSLSpec, SSLWaveSpec
from emotrace.models.yang import Spec, Wave, WaveSpec

MODELS: dict[str, type[nn.Module]] = {
    "e2e": E2E,
    "e2e2017": E2E2017,
    "wave": Wave,
    "spec": Spec,
    "wavespec": WaveSpec,
    "drnn": BLSTMDRNN,
    "blstm6373": ComParEBLSTM,
    "ssl_blstm": SSLBLSTM,
    "ssl_spec": SSLSpec,
    "ssl_wavespec": SSLWaveSpec,
}

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_allocator_tuned = False


def keep_freed_memory() -> bool:
    """Make glibc malloc reuse freed blocks instead of returning them to the OS (idempotent).

    By default every tensor over ~32 MB is a fresh mmap, and first touching its pages
    (the kernel zeroes each one) made allocation 5-8x slower than the arithmetic in a
    CPU training step. Serving large blocks from the heap and never trimming it keeps
    the step's buffers warm; the process's memory stays at its peak, which a training
    job reaches anyway. Returns False where malloc is not glibc's.
    """
    global _allocator_tuned
    if _allocator_tuned:
        return True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _allocator_tuned = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    return _allocator_tuned


def accepted_kwargs(name: str) -> set[str]:
    """Constructor arguments a config's `kwargs` may give the network registered as `name`."""
    return set(inspect.signature(MODELS[name].__init__).parameters) - {"self", "n_outputs", "n_features"}


def build_model(name: str | type[nn.Module], n_outputs: int, n_features: int | None = None, **kwargs) -> nn.Module:
    """Instantiate the model registered as `name` (or the plug-in class `name`) with `n_outputs` outputs per frame.

    `n_features` is the input width of feature models (ignored by audio models);
    `kwargs` go to the model's constructor (e.g. `hidden_size`). Unknown names or
    arguments raise InputError. A plug-in class (emotrace.plugins, checked at load) reads
    features when `n_features` is given and audio otherwise; it also gets `sample_rate`
    when its constructor names it, and carries that `input_kind` as the built-in models do.
    """
    if isinstance(name, type):
        return _build_plugin(name, n_outputs, n_features, kwargs)
    if name not in MODELS:
        raise InputError("model", f"unknown model {name!r}; valid: {sorted(MODELS)}")
    if not isinstance(n_outputs, int) or n_outputs < 1:
        raise InputError(f"model {name!r}", f"n_outputs must be a positive integer, got {n_outputs!r}")
    cls = MODELS[name]
    accepted = accepted_kwargs(name)
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise InputError(f"model {name!r}", f"unknown argument(s) {unknown}; valid: {sorted(accepted)}")
    if getattr(cls, "input_kind", "audio") in ("features", "audio+features"):
        if n_features is None:
            raise InputError(f"model {name!r}", "is a feature model and needs n_features")
        kwargs["n_features"] = n_features
    keep_freed_memory()
    return cls(n_outputs, **kwargs)


def _build_plugin(cls: type[nn.Module], n_outputs: int, n_features: int | None, kwargs: dict) -> nn.Module:
    """A plug-in network with the trainer's arguments (emotrace.plugins.constructor_args)."""
    from emotrace.plugins import constructor_args

    kind = "features" if n_features is not None else "audio"
    keep_freed_memory()
    module = cls(n_outputs, **constructor_args(cls, kind, n_features), **kwargs)
    if getattr(module, "input_kind", None) is None:
        module.input_kind = kind  # what the trainer and predict check the data against
    return module


def describe(model: nn.Module) -> str:
    """A model's one-line description: its own `describe()`, else its class and parameter count."""
    if callable(getattr(model, "describe", None)):
        return model.describe()
    n = sum(p.numel() for p in model.parameters())
    return f"{type(model).__module__}.{type(model).__qualname__} ({n} parameters)"


__all__ = ["MODELS", "accepted_kwargs", "build_model", "describe", "keep_freed_memory"]
