"""Configuration checks run when the workflow loads, for errors the schema cannot see.

Each would otherwise surface only inside a job, possibly after many others ran: a corpus
folder that does not exist, adapter options the adapter does not know, network arguments
the network does not take, a network or adapter name that is neither registered nor a
plug-in that imports and fits (emotrace.plugins), speaker folds or training redraws that
cannot be made (emotrace.folds). Each raises InputError naming the config key.
"""

from __future__ import annotations

from pathlib import Path

from emotrace import folds, plugins, systems
from emotrace.errors import InputError

PLUGIN_HINT = "an import path package.module:ClassName, or a class name with {key} giving its file"


def check_corpus(corpus: dict) -> None:
    """corpus.adapter is registered or a plug-in adapter, corpus.root exists (unless the workflow
    generates the corpus) and corpus.options are the adapter's."""
    from emotrace.corpora import ADAPTERS

    if plugins.is_plugin(corpus["adapter"], corpus.get("module")):
        adapter = plugins.adapter_class(corpus["adapter"], corpus.get("module"))
    else:
        adapter = ADAPTERS.get(corpus["adapter"])
    if adapter is None:
        raise InputError("corpus.adapter", f"unknown adapter {corpus['adapter']!r}; valid: {sorted(ADAPTERS)}, "
                                           + PLUGIN_HINT.format(key="corpus.module"))
    name = adapter.name or adapter.__name__
    root = Path(corpus["root"]).expanduser()
    if not adapter.generated and not root.is_dir():
        raise InputError("corpus.root", f"folder {root.resolve()} does not exist "
                                        f"(adapter {name!r} reads the corpus from there)")
    unknown = sorted(set(corpus.get("options") or {}) - set(adapter.options_accepted))
    if unknown:
        valid = ", ".join(sorted(adapter.options_accepted)) or "none"
        raise InputError(f"corpus.options.{unknown[0]}", f"unknown option for adapter {name!r}; valid: {valid}")


def check_networks(config: dict) -> None:
    """Every `models.<name>.network` is registered, `svr`, or a plug-in network that imports and fits."""
    for model, entry in config["models"].items():
        if systems.is_plugin(entry):
            if entry["network"] == "svr":
                raise InputError(f"models.{model}.module", "the svr baseline takes no module")
            plugins.network_class(model, entry)
        elif entry["network"] not in systems.NETWORK_DEFAULTS:
            from emotrace.models import MODELS  # imports torch: only for a name without the papers' defaults

            if entry["network"] not in MODELS:
                valid = sorted({*systems.NETWORK_DEFAULTS, *MODELS})
                raise InputError(f"models.{model}.network", f"unknown network {entry['network']!r}; valid: {valid}, "
                                 + PLUGIN_HINT.format(key=f"models.{model}.module"))


def check_model_kwargs(config: dict) -> None:
    """Every `kwargs` entry of a network model is an argument of that network's constructor."""
    for model in config["models"]:
        settings = systems.model_settings(config, model)
        kwargs = settings.get("kwargs") or {}
        if settings["network"] == "svr" or not kwargs or systems.is_plugin(settings):
            continue  # a plug-in's arguments: check_networks
        from emotrace.models import accepted_kwargs  # imports torch: only when some model has kwargs

        accepted = accepted_kwargs(settings["network"])
        unknown = sorted(set(kwargs) - accepted)
        if unknown:
            raise InputError(f"models.{model}.kwargs.{unknown[0]}",
                             f"network {settings['network']!r} takes no such argument; valid: {sorted(accepted)}")


def check_draws_at_load(config: dict) -> None:
    """`split.folds` / `split.redraws` against the split units known now (emotrace.folds.count_units). A
    preset's lists are not read here (an adapter reads its corpus to list them): the split job checks them."""
    split = config.get("split") or {}
    if folds.draw_plan(split) is not None:
        folds.check_draws(split, folds.count_units(config), None)


def check_config(config: dict) -> None:
    """All load-time checks of a validated config (defaults filled in)."""
    check_corpus(config["corpus"])
    check_networks(config)
    check_model_kwargs(config)
    check_draws_at_load(config)
