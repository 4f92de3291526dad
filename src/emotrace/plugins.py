"""Plug-in networks and corpus adapters: classes named in the config, imported and checked at load.

`models.<name>.network` (and `corpus.adapter`) is either a registry name or a plug-in: an
import path `package.module:ClassName` of an installed package, or a class name in the
file given by `models.<name>.module` (`corpus.module`). The pipeline imports exactly what
its config names; `emotrace predict` imports a plug-in network only from a source the user
names (`--plugin`), never from a path stored in model.pt, which records the import path and
the sha256 of the file the class came from (docs/extending.md).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from pathlib import Path
from typing import Sequence

from emotrace.errors import InputError

IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
CLASS_NAME = re.compile(r"^[A-Za-z_]\w*$")
SAMPLE_RATE = 16000  # the pipeline's rate (emotrace.segments); a plug-in's `sample_rate` argument gets it
INPUT_KINDS = ("audio", "features")  # what a plug-in network may read (not the SSL fusion packing)


def is_plugin(name: str, module: str | None) -> bool:
    """Whether a config's `network`/`adapter` value names a plug-in (an import path, or a class in the
    file `module`) rather than a registered name."""
    return module is not None or ":" in name


def sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (what model.pt records of a plug-in's source)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _import_file(path: Path, key: str):
    """Import a Python file as a module of its own (once per process and file content)."""
    if not path.is_file():
        raise InputError(key, f"plug-in file {path} does not exist")
    stem = re.sub(r"\W", "_", path.stem)
    name = f"emotrace_plugin_{stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:10]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError(key, f"cannot import {path}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it: dataclasses and pickling look the module up by name
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # the user's code: any error means it does not import
        del sys.modules[name]
        raise InputError(key, f"cannot import {path}: {type(err).__name__}: {err}") from err
    return module


def import_class(name: str, module_file: str | Path | None, key: str, module_key: str | None = None):
    """The class a plug-in value names: `package.module:ClassName`, or `ClassName` in `module_file`.

    `key` is the config key of the value (errors name it); `module_key` that of the file.
    """
    if module_file is not None:
        path = Path(module_file).expanduser().resolve()
        if not CLASS_NAME.match(name):
            raise InputError(key, f"{name!r} is not a class name (with {module_key or 'module'} given, "
                                  f"it names a class in {path})")
        module = _import_file(path, module_key or key)
        where, attr = str(path), name
    else:
        if not IMPORT_PATH.match(name):
            raise InputError(key, f"{name!r} is neither a registered name nor an import path package.module:ClassName")
        mod_name, attr = name.split(":")
        try:
            module = importlib.import_module(mod_name)
        except Exception as err:  # ImportError, or any error raised by the module's own code
            raise InputError(key, f"cannot import {mod_name!r}: {type(err).__name__}: {err}") from err
        where = mod_name
    cls = getattr(module, attr, None)
    if cls is None:
        raise InputError(key, f"{where} has no {attr!r}")
    if not inspect.isclass(cls):
        raise InputError(key, f"{attr!r} in {where} is a {type(cls).__name__}, not a class")
    return cls


def source_file(cls) -> Path | None:
    """The file a class was defined in (None for classes without one)."""
    try:
        found = inspect.getsourcefile(cls) or inspect.getfile(cls)
    except (TypeError, OSError):
        return None
    return Path(found).resolve() if found else None


def class_label(cls) -> str:
    """How messages name a class: module.Class, or Class (file) for one imported from a plug-in file."""
    if cls.__module__.startswith("emotrace_plugin_"):
        return f"{cls.__qualname__} ({source_file(cls)})"
    return f"{cls.__module__}.{cls.__qualname__}"


def bind_check(cls, args: tuple, kwargs: dict, key: str, what: str) -> None:
    """The constructor of `cls` takes `args` and `kwargs`; else InputError naming `key`."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return  # no signature to check (a C extension): the job's call will say
    try:
        signature.bind(*args, **kwargs)
    except TypeError as err:
        empty = inspect.Parameter.empty  # shown without annotations: `name=default` reads as a call
        plain = signature.replace(parameters=[p.replace(annotation=empty) for p in signature.parameters.values()],
                                  return_annotation=inspect.Signature.empty)
        raise InputError(key, f"{cls.__name__}{plain} cannot be called as {what}: {err}") from err


# ---------------------------------------------------------------- networks


def network_input_kind(entry: dict) -> str:
    """What a plug-in network reads, from its config entry: features when `features` is given, else audio."""
    return "features" if entry.get("features") else "audio"


def takes_parameter(cls, name: str) -> bool:
    """Whether the constructor of `cls` has a parameter `name` (or takes **kwargs)."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def constructor_args(cls, kind: str, n_features: int | None) -> dict:
    """The arguments the trainer gives a plug-in network besides its `kwargs`: `n_features` to feature
    networks, `sample_rate` (16000) to any whose constructor names it."""
    extra = {}
    if kind == "features":
        extra["n_features"] = n_features
    try:
        named = "sample_rate" in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        named = False
    if named:
        extra["sample_rate"] = SAMPLE_RATE
    return extra


def check_network_class(cls, model: str, entry: dict) -> None:
    """A plug-in network class is a torch.nn.Module whose constructor takes what the trainer passes
    (n_outputs, n_features for feature input, sample_rate where named, the entry's kwargs) and whose
    declared `input_kind`, if any, agrees with the config; else InputError naming the key."""
    from torch import nn

    key = f"models.{model}.network"
    if not issubclass(cls, nn.Module):
        raise InputError(key, f"{class_label(cls)} is not a torch.nn.Module subclass")
    kind = network_input_kind(entry)
    declared = getattr(cls, "input_kind", None)
    if declared is not None and declared not in INPUT_KINDS:
        raise InputError(key, f"{cls.__name__}.input_kind is {declared!r}; a plug-in network reads one of {INPUT_KINDS}")
    if declared is not None and declared != kind:
        why = f"models.{model}.features is {'set' if kind == 'features' else 'not set'}"
        raise InputError(key, f"{cls.__name__} declares input_kind {declared!r} but {why}, so the pipeline "
                              f"would feed it {kind}")
    if kind == "features" and not takes_parameter(cls, "n_features"):
        raise InputError(key, f"{cls.__name__} reads features (models.{model}.features is set) but its "
                              "constructor takes no n_features argument")
    kwargs = dict(entry.get("kwargs") or {})
    extra = constructor_args(cls, kind, 1)
    clash = sorted(set(kwargs) & ({"n_outputs"} | set(extra)))
    if clash:
        raise InputError(f"models.{model}.kwargs.{clash[0]}", "is set by the trainer, not by the config")
    bind_check(cls, (1,), {**extra, **kwargs}, f"models.{model}.kwargs" if kwargs else key,
               f"{cls.__name__}(n_outputs, {', '.join([*extra, *kwargs])})")


def network_class(model: str, entry: dict):
    """The checked class of a plug-in network entry (`network`, optional `module`)."""
    cls = import_class(entry["network"], entry.get("module"), f"models.{model}.network", f"models.{model}.module")
    check_network_class(cls, model, entry)
    return cls


def provenance(network: str, module_file: str | Path | None, cls) -> dict:
    """What model.pt records of a plug-in network: its name as configured, the file given as `module`
    (absolute), the file its class came from and that file's sha256. Plain strings: data, not code."""
    origin = source_file(cls)
    return {
        "network": network,
        "module": None if module_file is None else str(Path(module_file).expanduser().resolve()),
        "class": cls.__name__,
        "file": None if origin is None else str(origin),
        "sha256": None if origin is None or not origin.is_file() else sha256(origin),
    }


def _source_class(source: str, class_name: str):
    """`class_name` from a user-named source (a .py file, `package.module` or `package.module:Class`); None if
    the source does not define it."""
    if source.endswith(".py") or Path(source).expanduser().is_file():
        return getattr(_import_file(Path(source).expanduser().resolve(), "--plugin"), class_name, None)
    mod_name, _, attr = source.partition(":")
    if attr and attr != class_name:
        return None
    try:
        module = importlib.import_module(mod_name)
    except Exception as err:  # ImportError, or any error raised by the module's own code
        raise InputError("--plugin", f"cannot import {mod_name!r}: {type(err).__name__}: {err}") from err
    return getattr(module, class_name, None)


def checkpoint_network(record: dict, sources: Sequence[str], where: str | Path):
    """The class of a plug-in network recorded in model.pt (`record`, from `provenance`), imported from the
    first of the user-named `sources` that defines it; a line saying which it imported and whether its file
    changed since training; and whether it changed. Nothing is imported from a path stored in the file."""
    from torch import nn

    name = record.get("class") or str(record.get("network", "")).split(":")[-1]
    trained_from = record.get("module") or record.get("network")
    hint = (f"model.pt holds plug-in network {record.get('network')!r} (trained from {trained_from}); "
            "name its code with --plugin FILE.py or --plugin package.module (a model.pt is data: "
            "emotrace never imports code from a path stored in it)")
    if not sources:
        raise InputError(where, hint)
    for source in sources:
        cls = _source_class(str(source), name)
        if cls is None:
            continue
        if not (inspect.isclass(cls) and issubclass(cls, nn.Module)):
            raise InputError("--plugin", f"{name!r} in {source} is not a torch.nn.Module subclass")
        origin = source_file(cls)
        now = sha256(origin) if origin is not None and origin.is_file() else None
        line = f"plug-in network {name} imported from {origin or source} (--plugin {source})"
        changed = bool(record.get("sha256")) and now != record["sha256"]
        if changed:
            line += (f"; the file changed since training (sha256 {str(now)[:12]}... now, "
                     f"{record['sha256'][:12]}... at training): the outputs may differ from the pipeline's")
        else:
            line += "; the file is the one it was trained with (sha256 matches)"
        return cls, line, changed
    raise InputError(where, f"no --plugin source defines class {name!r} ({', '.join(map(str, sources))}); {hint}")


# ---------------------------------------------------------------- corpus adapters


def check_adapter_class(cls, key: str = "corpus.adapter") -> None:
    """A plug-in adapter is a concrete subclass of CorpusAdapter taking (root, options)."""
    from emotrace.corpora.base import CorpusAdapter

    if not issubclass(cls, CorpusAdapter):
        raise InputError(key, f"{class_label(cls)} is not a subclass of emotrace.corpora.base.CorpusAdapter")
    if inspect.isabstract(cls):
        missing = sorted(getattr(cls, "__abstractmethods__", ()))
        raise InputError(key, f"{cls.__name__} does not implement {', '.join(missing)}")
    bind_check(cls, ("ROOT", {}), {}, key, f"{cls.__name__}(root, options)")


def adapter_class(name: str, module_file: str | Path | None):
    """The checked class of a plug-in corpus adapter (`corpus.adapter`, optional `corpus.module`)."""
    cls = import_class(name, module_file, "corpus.adapter", "corpus.module")
    check_adapter_class(cls)
    return cls
