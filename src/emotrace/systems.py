"""The experiment grid: config `models` entries resolved into training jobs with the papers' settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from emotrace import plugins

# Per-network defaults from the papers (docs/references.md §3.5); config keys override them.
NETWORK_DEFAULTS: dict[str, dict] = {
    "e2e": {"optimizer": "adam", "lr": 2e-3, "batch_size": 50},  # Trigeorgis 2016
    "e2e2017": {"optimizer": "adam", "lr": 2e-3, "batch_size": 50},
    "wave": {"optimizer": "rmsprop", "lr": 5e-4, "batch_size": 50},  # Yang & Hirschberg 2018
    "spec": {"optimizer": "rmsprop", "lr": 5e-4, "batch_size": 50},
    "wavespec": {"optimizer": "rmsprop", "lr": 5e-4, "batch_size": 50},
    # BLSTM-DRNN: SGD, batches of 5 sequences, learning rate chosen on dev
    "drnn": {"optimizer": "sgd", "lr": [1e-3, 1e-2], "batch_size": 5},
    "blstm6373": {"optimizer": "rmsprop", "lr": 5e-4, "batch_size": 50},
    # linear-kernel SVR, C on a log grid chosen on dev
    "svr": {"c_grid": [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0], "max_train_frames": 4000},
    # beyond the papers: frozen SSL layers + BLSTM (Yang's optimiser and batch size)
    "ssl_blstm": {"optimizer": "rmsprop", "lr": 5e-4, "batch_size": 50},
    "ssl_spec": {"optimizer": "rmsprop", "lr": 5e-4, "batch_size": 50},  # ssl+S
    "ssl_wavespec": {"optimizer": "rmsprop", "lr": 5e-4, "batch_size": 50},  # ssl+W+S
}
# A plug-in network (`package.module:ClassName`, or a class in `models.<name>.module`; docs/extending.md)
# gets Adam at the customary 1e-3 and the papers' batch of 50 segments; its config keys override them.
PLUGIN_DEFAULTS: dict = {"optimizer": "adam", "lr": 1e-3, "batch_size": 50}
FEATURE_NETWORKS = {"drnn", "blstm6373", "svr"}
SSL_NETWORKS = {"ssl_blstm", "ssl_spec", "ssl_wavespec"}
"""Networks on the cached `ssl` feature set: no train-set statistics, and `n_layers` from the config's `ssl` section."""


@dataclass(frozen=True)
class System:
    """One trained model of the grid: results/{corpus}/train/{model}/{objective}/{target}/seed{seed}/."""

    model: str
    objective: str
    target: str
    seed: int
    settings: dict = field(hash=False, compare=False)

    @property
    def path(self) -> str:
        return f"{self.model}/{self.objective}/{self.target}/seed{self.seed}"


def is_plugin(entry: dict) -> bool:
    """Whether a `models` entry names a plug-in network (an import path, or a class in `module`)
    rather than a registered one (emotrace.config_checks refuses names that are neither)."""
    return plugins.is_plugin(entry["network"], entry.get("module"))


def reads_features(entry: dict) -> bool:
    """Whether a `models` entry reads a hand-crafted feature set (a plug-in does when it names `features`)."""
    if is_plugin(entry):
        return bool(entry.get("features"))
    return entry["network"] in FEATURE_NETWORKS


def model_settings(config: dict, model: str) -> dict:
    """A model's full settings: network defaults < config `training` < the model's own keys."""
    entry = config["models"][model]
    network = entry["network"]
    settings = {"kwargs": {}, "joint": False}
    settings.update(PLUGIN_DEFAULTS if is_plugin(entry) else NETWORK_DEFAULTS.get(network, PLUGIN_DEFAULTS))
    settings.update({k: v for k, v in config.get("training", {}).items()})
    settings.update(entry)
    if not is_plugin(entry) and network in FEATURE_NETWORKS and "features" not in entry:
        raise ValueError(f"models.{model}: network {network} needs a `features` set")
    if not is_plugin(entry) and network in SSL_NETWORKS:
        from emotrace import ssl  # torch and torchaudio: imported only when the grid has SSL models

        layers = ssl.selected_layers(ssl.SSLSettings.from_config(config.get("ssl", {})))
        settings["features"] = "ssl"
        settings["kwargs"] = {"n_layers": len(layers), **settings["kwargs"]}
    return settings


def has_ssl(config: dict) -> bool:
    """Whether some model of the grid reads the `ssl` features."""
    return any(entry["network"] in SSL_NETWORKS and not is_plugin(entry) for entry in config["models"].values())


def targets(config: dict, model: str) -> list[str]:
    """`joint` for models predicting every dimension at once, else one target per dimension."""
    if model_settings(config, model)["joint"]:
        return ["joint"]
    return list(config["corpus"]["dimensions"])


def grid(config: dict) -> list[System]:
    """Every (model, objective, target, seed) the config asks for."""
    out = []
    for model in config["models"]:
        settings = model_settings(config, model)
        for objective in settings["objectives"]:
            for target in targets(config, model):
                for seed in settings.get("seeds", config.get("seeds", [1])):
                    out.append(System(model, objective, target, seed, settings))
    return out


def target_dimensions(config: dict, target: str) -> list[str]:
    """Dimensions a model trained for `target` predicts."""
    return list(config["corpus"]["dimensions"]) if target == "joint" else [target]


def feature_sets(config: dict) -> list[str]:
    """Feature sets some model of the grid needs (extraction runs only for those)."""
    return sorted({model_settings(config, m)["features"] for m in config["models"]
                   if reads_features(config["models"][m])})
