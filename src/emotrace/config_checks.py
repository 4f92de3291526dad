"""Configuration checks run when the workflow loads, for errors the schema cannot see.

Each would otherwise surface only inside a job, possibly after many others ran: a corpus
folder that does not exist, adapter options the adapter does not know, network arguments
the network does not take. Each raises InputError naming the config key.
"""

from __future__ import annotations

from pathlib import Path

from emotrace import systems
from emotrace.errors import InputError


def check_corpus(corpus: dict) -> None:
    """corpus.root exists (unless the workflow generates the corpus) and corpus.options are the adapter's."""
    from emotrace.corpora import ADAPTERS

    adapter = ADAPTERS.get(corpus["adapter"])
    if adapter is None:
        raise InputError("corpus.adapter", f"unknown adapter {corpus['adapter']!r}; valid: {sorted(ADAPTERS)}")
    root = Path(corpus["root"]).expanduser()
    if not adapter.generated and not root.is_dir():
        raise InputError("corpus.root", f"folder {root.resolve()} does not exist "
                                        f"(adapter {adapter.name!r} reads the corpus from there)")
    unknown = sorted(set(corpus.get("options") or {}) - set(adapter.options_accepted))
    if unknown:
        valid = ", ".join(sorted(adapter.options_accepted)) or "none"
        raise InputError(f"corpus.options.{unknown[0]}", f"unknown option for adapter {adapter.name!r}; valid: {valid}")


def check_model_kwargs(config: dict) -> None:
    """Every `kwargs` entry of a network model is an argument of that network's constructor."""
    for model in config["models"]:
        settings = systems.model_settings(config, model)
        kwargs = settings.get("kwargs") or {}
        if settings["network"] == "svr" or not kwargs:
            continue
        from emotrace.models import accepted_kwargs  # imports torch: only when some model has kwargs

        accepted = accepted_kwargs(settings["network"])
        unknown = sorted(set(kwargs) - accepted)
        if unknown:
            raise InputError(f"models.{model}.kwargs.{unknown[0]}",
                             f"network {settings['network']!r} takes no such argument; valid: {sorted(accepted)}")


def check_config(config: dict) -> None:
    """All load-time checks of a validated config (defaults filled in)."""
    check_corpus(config["corpus"])
    check_model_kwargs(config)
