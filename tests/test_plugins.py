"""Plug-in networks and corpus adapters (emotrace.plugins, docs/extending.md): refused at load naming the key,
recorded in model.pt as data, and the documented examples run through the snakemake CLI."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
import yaml
from snakemake.utils import validate

from conftest import REPO, snakemake
from emotrace import plugins, resources, systems
from emotrace.config_checks import check_config
from emotrace.corpora import get_adapter
from emotrace.errors import InputError
from emotrace.models import build_model
from emotrace.training import TrainSettings, cpu_state, load_model, model_checkpoint, save_torch

EXAMPLES = REPO / "docs" / "examples"
MY_NETWORK = EXAMPLES / "my_network.py"
MY_ADAPTER = EXAMPLES / "my_adapter.py"

BASE = {
    "corpus": {"name": "c", "adapter": "synthetic", "root": "results/corpora/c", "options": {}},
    "models": {"e2e": {"network": "e2e", "objectives": ["ccc"]},
               "mine": {"network": "ConvGRU", "module": str(MY_NETWORK), "objectives": ["ccc"]}},
}

NOT_A_MODULE = """
class Net:
    def __init__(self, n_outputs):
        pass
"""
FEATURE_NET = """
import torch
from torch import nn


class FeatureNet(nn.Module):
    input_kind = "features"

    def __init__(self, n_outputs, n_features, hidden=4):
        super().__init__()
        self.rnn = nn.GRU(n_features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_outputs)

    def forward(self, x):
        return self.head(self.rnn(x)[0])
"""
NEEDS_DEPTH = """
from torch import nn


class Deep(nn.Module):
    def __init__(self, n_outputs, depth):
        super().__init__()
"""


def config(model: dict | None = None, **corpus) -> dict:
    """BASE with the `mine` model replaced by `model` and corpus keys changed."""
    out = copy.deepcopy(BASE)
    if model is not None:
        out["models"]["mine"] = {"objectives": ["ccc"], **model}
    out["corpus"].update(corpus)
    return out


def refused(cfg: dict, key: str, *needles: str) -> str:
    """check_config stops with an InputError starting with `key` and containing every needle."""
    with pytest.raises(InputError) as info:
        check_config(cfg)
    message = str(info.value)
    assert message.startswith(f"{key}: "), message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- load-time checks: networks


def test_plugin_network_from_a_file_passes_and_gets_the_plugin_defaults():
    cfg = config()
    check_config(cfg)
    settings = systems.model_settings(cfg, "mine")
    assert {k: settings[k] for k in systems.PLUGIN_DEFAULTS} == systems.PLUGIN_DEFAULTS
    assert systems.is_plugin(settings) and not systems.reads_features(settings)
    assert systems.feature_sets(cfg) == [] and not systems.has_ssl(cfg)
    plugin = resources.train_request(settings["network"], 50, 40, 1, 500.0)  # nothing measured: the largest
    for network in resources.ACTIVATION_MB:
        builtin = resources.train_request(network, 50, 40, 1, 500.0)
        assert plugin["mem_mb"] >= builtin["mem_mb"] and plugin["runtime"] >= builtin["runtime"]


@pytest.mark.parametrize("network, needles", [
    ("no_such_package.nets:Net", ["cannot import 'no_such_package.nets'", "ModuleNotFoundError"]),
    ("collections:NoSuchClass", ["collections has no 'NoSuchClass'"]),
    ("collections:OrderedDict", ["collections.OrderedDict is not a torch.nn.Module subclass"]),
    ("os.path:join", ["'join' in os.path is a function, not a class"]),
    ("convgru", ["unknown network 'convgru'", "e2e", "package.module:ClassName", "models.mine.module"]),
    ("my net:Net", ["is neither a registered name nor an import path package.module:ClassName"]),
])
def test_bad_import_paths_stop_at_load_naming_the_key(network, needles):
    refused(config({"network": network}), "models.mine.network", *needles)


def test_bad_plugin_files_stop_at_load_naming_the_key(tmp_path):
    refused(config({"network": "Net", "module": str(tmp_path / "absent.py")}), "models.mine.module", "does not exist")
    broken = write(tmp_path / "broken.py", "import torch\ndef oops(:\n")
    refused(config({"network": "Net", "module": str(broken)}), "models.mine.module", "cannot import", "SyntaxError")
    raising = write(tmp_path / "raising.py", "raise RuntimeError('no GPU here')\n")
    refused(config({"network": "Net", "module": str(raising)}), "models.mine.module", "RuntimeError: no GPU here")
    plain = write(tmp_path / "plain.py", NOT_A_MODULE)
    refused(config({"network": "Net", "module": str(plain)}), "models.mine.network", "not a torch.nn.Module subclass")
    refused(config({"network": "pkg:Net", "module": str(plain)}), "models.mine.network", "is not a class name")


def test_constructor_arguments_it_does_not_take_stop_at_load(tmp_path):
    refused(config({"network": "ConvGRU", "module": str(MY_NETWORK), "kwargs": {"hiden_size": 8}}),
            "models.mine.kwargs", "unexpected keyword argument 'hiden_size'")
    refused(config({"network": "ConvGRU", "module": str(MY_NETWORK), "kwargs": {"sample_rate": 8000}}),
            "models.mine.kwargs.sample_rate", "set by the trainer")
    deep = write(tmp_path / "deep.py", NEEDS_DEPTH)
    refused(config({"network": "Deep", "module": str(deep)}), "models.mine.network", "missing a required argument: 'depth'")
    check_config(config({"network": "Deep", "module": str(deep), "kwargs": {"depth": 3}}))


def test_input_kind_follows_the_features_key_and_must_agree_with_the_class(tmp_path):
    feat = write(tmp_path / "feat.py", FEATURE_NET)
    refused(config({"network": "FeatureNet", "module": str(feat)}), "models.mine.network",
            "declares input_kind 'features'", "models.mine.features is not set")
    refused(config({"network": "ConvGRU", "module": str(MY_NETWORK), "features": "egemaps"}), "models.mine.network",
            "declares input_kind 'audio'")
    refused(config({"network": "Deep", "module": str(write(tmp_path / "deep.py", NEEDS_DEPTH)), "features": "egemaps",
                    "kwargs": {"depth": 2}}), "models.mine.network", "takes no n_features")
    cfg = config({"network": "FeatureNet", "module": str(feat), "features": "compare"})
    check_config(cfg)
    assert systems.reads_features(cfg["models"]["mine"]) and systems.feature_sets(cfg) == ["compare"]
    model = build_model(plugins.network_class("mine", cfg["models"]["mine"]), 2, n_features=7)
    assert model.input_kind == "features" and model(torch.zeros(3, 150, 7)).shape == (3, 150, 2)


def test_svr_takes_no_module():
    refused(config({"network": "svr", "module": str(MY_NETWORK), "features": "egemaps"}), "models.mine.module")


def test_schema_accepts_any_network_and_adapter_name(tmp_path):
    """The names live in the registries only; the schema takes a string and the load-time check decides."""
    cfg = config(adapter="TakesAdapter", module=str(MY_ADAPTER), root=str(tmp_path))
    validate(cfg, str(REPO / "schemas" / "config.schema.yaml"))
    assert cfg["models"]["mine"]["network"] == "ConvGRU" and cfg["corpus"]["module"] == str(MY_ADAPTER)
    check_config(cfg)


# ---------------------------------------------------------------- load-time checks: adapters


ABSTRACT_ADAPTER = """
from emotrace.corpora.base import CorpusAdapter


class Half(CorpusAdapter):
    def manifest(self):
        return None
"""


def test_bad_plugin_adapters_stop_at_load_naming_the_key(tmp_path):
    refused(config(adapter="no_such_package:Adapter", root=str(tmp_path)), "corpus.adapter", "cannot import")
    refused(config(adapter="unknown_layout", root=str(tmp_path)), "corpus.adapter", "unknown adapter 'unknown_layout'",
            "generic", "corpus.module")
    refused(config(adapter="Net", module=str(write(tmp_path / "plain.py", NOT_A_MODULE)), root=str(tmp_path)),
            "corpus.adapter", "is not a subclass of emotrace.corpora.base.CorpusAdapter")
    refused(config(adapter="ConvGRU", module=str(MY_NETWORK), root=str(tmp_path)), "corpus.adapter", "not a subclass")
    refused(config(adapter="Half", module=str(write(tmp_path / "half.py", ABSTRACT_ADAPTER)), root=str(tmp_path)),
            "corpus.adapter", "does not implement labels")
    refused(config(adapter="TakesAdapter", module=str(tmp_path / "absent.py"), root=str(tmp_path)),
            "corpus.module", "does not exist")
    refused(config(adapter="TakesAdapter", module=str(MY_ADAPTER), root=str(tmp_path / "nowhere")),
            "corpus.root", "'takes' reads the corpus from there")
    refused(config(adapter="TakesAdapter", module=str(MY_ADAPTER), root=str(tmp_path), options={"scael": 10}),
            "corpus.options.scael", "unknown option for adapter 'takes'; valid: scale, tolerance")


# ---------------------------------------------------------------- the made-up corpus of docs/examples/my_adapter.py


def write_takes_corpus(root: Path, n_speakers: int = 4, seconds: float = 10.0, rate: int = 22050, seed: int = 0) -> Path:
    """A corpus in my_adapter.py's layout: noise whose loudness follows arousal and whose brightness follows
    valence, rated every 100 ms in milliseconds on a -100..100 scale, audio at 22.05 kHz."""
    rng = np.random.default_rng(seed)
    (root / "ratings").mkdir(parents=True, exist_ok=True)
    speakers = []
    for k in range(n_speakers):
        speaker = f"spk{k + 1}"
        speakers.append((speaker, "female" if k % 2 else "male", 20 + 3 * k))
        t = np.arange(0, seconds + 1e-9, 0.1)
        arousal = np.sin(2 * np.pi * t / rng.uniform(3, 6) + rng.uniform(0, 6)) * 80
        valence = np.cos(2 * np.pi * t / rng.uniform(3, 6) + rng.uniform(0, 6)) * 60
        n = int(seconds * rate)
        times = np.arange(n) / rate
        loud = 0.05 + 0.2 * (1 + np.interp(times, t, arousal) / 100)
        noise = rng.standard_normal(n)
        bright = np.interp(times, t, valence) / 100
        signal = loud * (noise + bright * np.diff(noise, prepend=0.0))
        (root / "audio" / speaker).mkdir(parents=True, exist_ok=True)
        sf.write(root / "audio" / speaker / "take1.wav", signal.astype(np.float32), rate)
        rows = "\n".join(f"{ms:.0f} {a:.2f} {v:.2f}" for ms, a, v in zip(t * 1000, arousal, valence))
        (root / "ratings" / f"{speaker}-take1.txt").write_text(f"# t_ms arousal valence\n{rows}\n")
    table = pd.DataFrame(speakers, columns=["id", "sex", "age"])
    table.to_csv(root / "speakers.tsv", sep="\t", index=False)
    return root


def test_example_adapter_reads_its_made_up_layout(tmp_path):
    root = write_takes_corpus(tmp_path / "takes", n_speakers=2, seconds=6.0)
    adapter = get_adapter("TakesAdapter", root, {"scale": 100}, MY_ADAPTER)
    manifest = adapter.manifest()
    assert list(manifest["recording"]) == ["spk1-take1", "spk2-take1"]
    assert list(manifest["gender"]) == ["M", "F"] and set(manifest["sample_rate"]) == {22050}
    labels = adapter.labels(["arousal", "valence"], 0.04)
    one = labels[(labels["recording"] == "spk1-take1") & (labels["dimension"] == "arousal")]
    assert len(one) == 151 and one["value"].abs().max() <= 0.8 + 1e-9
    from emotrace.ingest import ingest

    ingest(adapter, ["arousal", "valence"])  # the pipeline's own checks of manifest and gold standard


# ---------------------------------------------------------------- model.pt: data, provenance, user-named imports


def saved_plugin_model(tmp_path: Path, source: Path) -> Path:
    """A model.pt of ConvGRU from `source`, written as the trainer writes it."""
    settings = TrainSettings(model="ConvGRU", dimensions=["arousal"], module=str(source))
    cls = plugins.import_class("ConvGRU", source, "network")
    model = build_model(cls, 1)
    record = plugins.provenance("ConvGRU", source, cls)
    path = tmp_path / "model.pt"
    save_torch(model_checkpoint(settings, model, cpu_state(model), None, 0, None, None, {"plugin": record}), path)
    return path


def test_model_pt_records_the_plugin_and_loads_only_from_a_user_named_source(tmp_path):
    source = Path(shutil.copy(MY_NETWORK, tmp_path / "net_v1.py"))
    path = saved_plugin_model(tmp_path, source)
    stored = torch.load(path, weights_only=True)  # plain data
    assert stored["plugin"]["module"] == str(source.resolve()) and stored["plugin"]["class"] == "ConvGRU"
    assert stored["plugin"]["sha256"] == plugins.sha256(source)
    with pytest.raises(InputError, match="name its code with --plugin") as info:
        load_model(path)  # never imports from the path stored in the file
    assert str(path) in str(info.value)
    with pytest.raises(InputError, match="no --plugin source defines class 'ConvGRU'"):
        load_model(path, plugin_sources=["collections"])
    trained = load_model(path, plugin_sources=[str(source)])
    assert not trained.origin_changed and "sha256 matches" in trained.origin and str(source.resolve()) in trained.origin
    assert trained.module.input_kind == "audio" and trained.module(torch.zeros(1, 640 * 3)).shape == (1, 3, 1)
    edited = tmp_path / "net_v2.py"
    edited.write_text(source.read_text() + "\n# tuned after training\n")
    changed = load_model(path, plugin_sources=[str(edited)])
    assert changed.origin_changed and "changed since training" in changed.origin


# ---------------------------------------------------------------- the documented examples through the snakemake CLI


def example_config(name: str, tmp_path: Path, **corpus) -> Path:
    """docs/examples/<name>.yaml as shipped, with its relative `module` paths made absolute (and corpus keys moved)."""
    cfg = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    for entry in [cfg["corpus"], *cfg["models"].values()]:
        if "module" in entry:
            entry["module"] = str(REPO / entry["module"])
    cfg["corpus"].update(corpus)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emotrace.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


@pytest.mark.integration
def test_example_network_goes_through_the_whole_dag_beside_e2e(tmp_path):
    """docs/examples/my_network.yaml: trained, post-processed, evaluated, with curves, run cost and predict."""
    snakemake(tmp_path, "--configfile", str(example_config("my_network", tmp_path)), "--cores", "2")
    res = tmp_path / "results" / "my_network"
    metrics = pd.read_csv(res / "tables" / "all_metrics.csv")
    assert {"e2e", "convgru"} <= set(metrics["model"])
    mine = metrics[metrics["model"] == "convgru"]
    assert set(mine["dimension"]) == {"arousal", "valence"} and "collapsed" in mine.columns
    for target in ("arousal", "valence"):
        run = f"convgru/ccc/{target}/seed1"
        assert (res / "postprocess" / run / "settings.json").is_file()
        assert (res / "evaluate" / run / "metrics.csv").is_file()
        assert (res / "figures" / "curves" / f"{run}.png").is_file()
    assert "convgru" in (res / "runcost" / "run_cost.md").read_text()
    assert "convgru" in (res / "tables" / "beyond_table.md").read_text()  # no paper row is a ConvGRU
    findings = pd.read_csv(res / "tables" / "findings.csv")
    assert "convgru" in findings.to_string()  # the config's own claim
    log = (tmp_path / "logs" / "my_network" / "train_network" / "convgru" / "ccc" / "arousal" / "seed1.log").read_text()
    assert "ConvGRU: conv 16 x 5 ms" in log and "BiGRU 16" in log and "plug-in network ConvGRU" in log

    model = res / "train" / "convgru" / "ccc" / "arousal" / "seed1" / "model.pt"
    wav = next((tmp_path / "results" / "corpora" / "my_network").rglob("*.wav"))
    refused_run = run_cli("predict", str(wav), "--model", str(model), "--out", str(tmp_path / "p0"))
    assert refused_run.returncode == 2 and "--plugin" in refused_run.stderr, refused_run.stderr
    done = run_cli("predict", str(wav), "--model", str(model), "--out", str(tmp_path / "p1"), "--plugin", str(MY_NETWORK))
    assert done.returncode == 0, done.stderr
    assert f"imported from {MY_NETWORK}" in done.stdout and "sha256 matches" in done.stdout
    trace = pd.read_csv(tmp_path / "p1" / f"{wav.stem}.csv")
    arousal = [c for c in trace.columns if "arousal" in c]  # `arousal`, or named after the system too
    assert len(arousal) == 1 and np.isfinite(trace[arousal[0]]).all() and len(trace) > 100
    edited = tmp_path / "my_network_edited.py"
    edited.write_text(MY_NETWORK.read_text() + "\n# edited after training\n")
    warned = run_cli("predict", str(wav), "--model", str(model), "--out", str(tmp_path / "p2"), "--plugin", str(edited))
    assert warned.returncode == 0 and "changed since training" in warned.stderr, warned.stderr


@pytest.mark.integration
def test_example_adapter_reads_a_made_up_layout_through_the_dag(tmp_path):
    """docs/examples/my_adapter.yaml on a corpus in its layout, with the network named by its import path."""
    root = write_takes_corpus(tmp_path / "takes")
    cfg = example_config("my_adapter", tmp_path, root=str(root))
    env_path = os.pathsep.join([str(EXAMPLES), os.environ.get("PYTHONPATH", "")])
    os.environ["PYTHONPATH"], saved = env_path, os.environ.get("PYTHONPATH")
    try:
        snakemake(tmp_path, "--configfile", str(cfg), "--cores", "2")
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved
    res = tmp_path / "results" / "takes"
    manifest = pd.read_csv(res / "ingest" / "manifest.csv")
    assert sorted(manifest["recording"]) == [f"spk{k}-take1" for k in range(1, 5)]
    metrics = pd.read_csv(res / "tables" / "all_metrics.csv")
    assert set(metrics["model"]) == {"convgru", "gru_egemaps"} and set(metrics["dimension"]) == {"arousal", "valence"}
    stored = torch.load(res / "train" / "convgru" / "ccc" / "joint" / "seed1" / "model.pt", weights_only=True)
    assert stored["plugin"]["network"] == "my_network:ConvGRU" and stored["plugin"]["module"] is None
    assert stored["plugin"]["file"] == str(MY_NETWORK) and stored["trained_on"]["adapter"] == "TakesAdapter"
    # the feature network read the eGeMAPS rows with the training statistics, as drnn does
    assert len(list((res / "features" / "egemaps").glob("*.npz"))) == 5  # 4 recordings + stats.npz
    features = torch.load(res / "train" / "gru_egemaps" / "ccc" / "joint" / "seed1" / "model.pt", weights_only=True)
    assert features["feature_set"] == "egemaps" and features["n_features"] == int(features["feature_stats"]["keep"].sum())
    wav = root / "audio" / "spk1" / "take1.wav"
    done = run_cli("predict", str(wav), "--model", str(res / "train" / "gru_egemaps" / "ccc" / "joint" / "seed1"),
                   "--out", str(tmp_path / "p"), "--plugin", "my_network", env={"PYTHONPATH": env_path})
    assert done.returncode == 0 and "plug-in network FeatureGRU imported from" in done.stdout, done.stderr
    trace = pd.read_csv(tmp_path / "p" / "take1.csv")
    assert len(trace) > 100 and {"arousal", "valence"} <= {d for c in trace.columns for d in ("arousal", "valence") if d in c}


def test_a_network_registered_in_the_project_needs_no_other_entry(monkeypatch):
    """One file plus its registration in emotrace.models.MODELS: the schema, the defaults and the
    resource constants need no edit (it gets PLUGIN_DEFAULTS and the plug-in resource figures)."""
    from emotrace import models

    cls = plugins.import_class("ConvGRU", MY_NETWORK, "network")
    monkeypatch.setitem(models.MODELS, "convgru", cls)
    cfg = config({"network": "convgru", "batch_size": 4})
    check_config(cfg)
    settings = systems.model_settings(cfg, "mine")
    assert not systems.is_plugin(settings) and settings["optimizer"] == "adam" and settings["batch_size"] == 4
    assert resources.train_request("convgru", 4, 1, 1, 10.0)["mem_mb"] > 0
    validate(cfg, str(REPO / "schemas" / "config.schema.yaml"))


@pytest.mark.integration
def test_a_bad_plugin_stops_the_workflow_before_any_job(tmp_path):
    """Through the snakemake command: a dry run already stops, naming the key."""
    cfg = yaml.safe_load((EXAMPLES / "my_network.yaml").read_text())
    cfg["models"]["convgru"]["module"] = str(MY_NETWORK)
    cfg["models"]["convgru"]["kwargs"] = {"hiden_size": 8}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, "-n", "--cores", "1", "--configfile", str(path), check=False)
    assert proc.returncode != 0
    assert "models.convgru.kwargs: ConvGRU(n_outputs, sample_rate=16000" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()
