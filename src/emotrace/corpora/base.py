"""The corpus-adapter interface: a corpus on disk -> manifest + tidy gold standard."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import pandas as pd

from emotrace.errors import InputError

MANIFEST_COLUMNS = [
    "recording", "speaker", "group", "gender", "age", "audio_path", "offset", "duration", "sample_rate",
]
LABEL_COLUMNS = ["recording", "dimension", "frame", "time", "value"]
RATER_COLUMNS = ["recording", "dimension", "rater", "frame", "time", "value"]


class CorpusAdapter(ABC):
    """Reads one corpus layout. Subclasses set `name` and implement the two readers."""

    name: str = ""
    # Options the adapter accepts (name -> default), checked when the workflow loads.
    options_accepted: dict = {}
    # True for a corpus the workflow generates itself (its root need not exist at load).
    generated: bool = False

    def __init__(self, root: str | Path, options: dict | None = None):
        self.root = Path(root)
        self.options = dict(options or {})
        if not self.root.is_dir():
            raise InputError(self.root, "corpus root folder does not exist")

    @abstractmethod
    def manifest(self) -> pd.DataFrame:
        """One row per recording with MANIFEST_COLUMNS."""

    @abstractmethod
    def labels(self, dimensions: list[str], step: float) -> pd.DataFrame:
        """Gold standard with LABEL_COLUMNS at `step` seconds, for the wanted dimensions."""

    def rater_labels(self, dimensions: list[str], step: float) -> pd.DataFrame | None:
        """Each rater's trace on the grid of `labels()`, tidy with RATER_COLUMNS; None when the
        corpus ships no individual ratings (the raters' agreement is then reported as unavailable)."""
        return None

    def preset_splits(self) -> dict[str, dict[str, list[str]]]:
        """Published splits by name: {preset: {partition: [group, ...]}}."""
        return {}


ADAPTERS: dict[str, type[CorpusAdapter]] = {}


def register(cls: type[CorpusAdapter]) -> type[CorpusAdapter]:
    """Class decorator: make an adapter selectable by its `name` in config."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    ADAPTERS[cls.name] = cls
    return cls


def get_adapter(name: str, root: str | Path, options: dict | None = None, module: str | Path | None = None) -> CorpusAdapter:
    """Instantiate the adapter registered under `name`, or the plug-in adapter `name` names
    (`package.module:ClassName`, or a class in the file `module`: emotrace.plugins)."""
    from emotrace import plugins

    if plugins.is_plugin(name, module):
        return plugins.adapter_class(name, module)(root, options)
    if name not in ADAPTERS:
        raise InputError("corpus.adapter", f"unknown adapter {name!r}; valid: {sorted(ADAPTERS)}")
    return ADAPTERS[name](root, options)
