"""Every corpus adapter and experiment config runs the whole DAG on its fixture corpus.

The experiment configs (configs/*.yaml) are used as shipped except for what a
fixture forces: the corpus root, one seed, one epoch, one learning rate and one
objective per model, and (for the RECOLA presets) the preset's speaker lists
restricted to the six speakers the fixture has.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, TINY, snakemake

sys.path.insert(0, str(REPO / "tests" / "fixtures"))
import make_corpora  # noqa: E402

from emotrace.corpora import get_adapter  # noqa: E402

pytestmark = pytest.mark.integration

CASES = {
    # name: (config, fixture writer, adapter options)
    "generic": (TINY, make_corpora.write_generic, {}),
    "recola_full": (REPO / "configs" / "trigeorgis2016_recola.yaml", make_corpora.write_recola_full,
                    {"metadata": "speaker_metadata.csv"}),
    "recola_avec2016": (REPO / "configs" / "yang2018_recola.yaml", make_corpora.write_recola_avec2016,
                        {"speaker_map": "instance_speakers.csv", "metadata": "speaker_metadata.csv"}),
    "semaine": (REPO / "configs" / "yang2018_semaine.yaml", make_corpora.write_semaine,
                {"metadata": "speaker_metadata.csv"}),
}


def shrink(config: dict) -> dict:
    """The experiment as configured, cut to its first feature model and first audio network,
    one epoch, one seed, learning rate and objective.

    Every stage of the DAG still runs; figures are left to the tiny run (tests/test_pipeline.py).
    """
    feature_networks = {"svr", "drnn", "blstm6373"}
    first_features = next(m for m, c in config["models"].items() if c["network"] in feature_networks)
    first_audio = next(m for m, c in config["models"].items() if c["network"] not in feature_networks)
    config["models"] = {m: config["models"][m] for m in (first_features, first_audio)}
    config["figures"] = {"enabled": False}
    config["seeds"] = [1]
    config["training"] = {"max_epochs": 1, "patience": 1}
    config["postprocess"] = {"median_windows": [0.4, 1.2], "shifts": [0.04, 0.4]}
    for model in config["models"].values():
        model["objectives"] = model["objectives"][:1]
        if isinstance(model.get("lr"), list):
            model["lr"] = model["lr"][0]
        if model["network"] != "svr":
            model["batch_size"] = 4
    return config


@pytest.mark.parametrize("name", sorted(CASES))
def test_adapter_runs_the_whole_dag(name, tmp_path):
    config_path, write, options = CASES[name]
    root = tmp_path / "corpus"
    write(root, seed=1)
    config = yaml.safe_load(Path(config_path).read_text())
    config = shrink(config)
    config["corpus"].update(name=name, adapter=name, root=str(root), options=options)
    if config["split"].get("method") == "preset":
        presets = get_adapter(name, root, options).preset_splits()[config["split"]["preset"]]
        present = set(get_adapter(name, root, options).manifest()["group"])
        config["split"] = {"method": "lists", "lists": {p: [g for g in groups if g in present]
                                                         for p, groups in presets.items()}}
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    snakemake(tmp_path, "--configfile", str(cfg), "--cores", "2", "--resources", "gpu=1")
    res = tmp_path / "results" / name
    metrics = pd.read_csv(res / "tables" / "all_metrics.csv")
    assert set(metrics["model"]) == set(config["models"])
    assert metrics["ccc"].notna().all()
    split = pd.read_csv(res / "split" / "split.csv", dtype=str)
    assert split.groupby("group")["partition"].nunique().max() == 1
