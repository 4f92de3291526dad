"""Configuration errors that the schema cannot see are reported when the workflow loads, naming the key."""

from __future__ import annotations

import copy

import pytest
import yaml

from conftest import TINY, snakemake
from emotrace.config_checks import check_config
from emotrace.corpora import ADAPTERS
from emotrace.errors import InputError

BASE = {
    "corpus": {"name": "c", "adapter": "synthetic", "root": "results/corpora/c", "options": {}},
    "models": {"e2e": {"network": "e2e", "objectives": ["ccc"], "kwargs": {"hidden_size": 8}},
               "svr": {"network": "svr", "features": "egemaps", "objectives": ["mse"]}},
}


def config(**corpus) -> dict:
    out = copy.deepcopy(BASE)
    out["corpus"].update(corpus)
    return out


def test_good_config_passes(tmp_path):
    check_config(config())
    check_config(config(adapter="generic", root=str(tmp_path), options={"metadata": "m.csv"}))


def test_missing_root_of_a_real_corpus_names_corpus_root(tmp_path):
    with pytest.raises(InputError, match=r"^corpus.root: folder .*nowhere does not exist"):
        check_config(config(adapter="recola_full", root=str(tmp_path / "nowhere")))
    check_config(config(root=str(tmp_path / "nowhere")))  # the synthetic corpus is generated there


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_each_adapter_declares_its_options(tmp_path, adapter):
    accepted = ADAPTERS[adapter].options_accepted
    assert accepted, f"{adapter} declares no options"
    check_config(config(adapter=adapter, root=str(tmp_path), options={k: accepted[k] for k in accepted}))
    with pytest.raises(InputError, match=rf"^corpus.options.colour: unknown option for adapter '{adapter}'"):
        check_config(config(adapter=adapter, root=str(tmp_path), options={"colour": "red"}))


def test_network_kwargs_are_checked_against_the_constructor():
    bad = copy.deepcopy(BASE)
    bad["models"]["e2e"]["kwargs"] = {"hiden_size": 8}
    with pytest.raises(InputError, match=r"^models.e2e.kwargs.hiden_size: network 'e2e' takes no such argument"):
        check_config(bad)


@pytest.mark.integration
@pytest.mark.parametrize(
    "change,message",
    [
        ({"corpus": {"adapter": "generic", "root": "no/such/folder"}}, "corpus.root: folder"),
        ({"corpus": {"options": {"colour": "red"}}}, "corpus.options.colour: unknown option for adapter 'synthetic'"),
        ({"models": {"e2e": {"network": "e2e", "objectives": ["ccc"], "kwargs": {"hiden_size": 8}}}},
         "models.e2e.kwargs.hiden_size: network 'e2e' takes no such argument"),
        ({"split": {"folds": 7}}, "split.folds: 7 folds need at least 7 speakers (split units); the corpus has 6"),
    ],
)
def test_workflow_stops_at_load_naming_the_key(tmp_path, change, message):
    """A dry run (no job runs) already stops, with the config key in the message."""
    cfg = yaml.safe_load(TINY.read_text())
    for section, value in change.items():
        cfg[section] = {**cfg[section], **value}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, "-n", "--cores", "1", "--configfile", str(path), check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr, proc.stdout + proc.stderr
