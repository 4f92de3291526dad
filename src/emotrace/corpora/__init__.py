"""Corpus adapters, selected by name in config (`corpus.adapter`)."""

from emotrace.corpora.base import ADAPTERS, CorpusAdapter, get_adapter, register

# Importing the adapter modules registers them in ADAPTERS.
from emotrace.corpora import generic, recola, semaine, synthetic  # noqa: E402,F401  isort: skip

__all__ = ["ADAPTERS", "CorpusAdapter", "get_adapter", "register"]
