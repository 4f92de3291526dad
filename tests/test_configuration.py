"""Config files and overrides merge as the Snakefile merges them: `emotrace.configuration`, `emotrace config`,
the snakemake command (`--configfile A B`, `--config` with and without files) and the Makefile's CONFIG/CORES."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, TINY, snakemake
from emotrace import configuration
from emotrace.cli import main
from emotrace.errors import InputError


def write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def test_files_merge_in_order_key_by_key(tmp_path):
    mine = write(tmp_path / "mine.yaml", {"corpus": {"root": "/data/RECOLA"}, "seeds": [7]})
    config = configuration.load([REPO / "configs" / "trigeorgis2016_recola.yaml", mine])
    assert config["corpus"]["root"] == "/data/RECOLA"
    assert config["corpus"]["adapter"] == "recola_full"  # kept from the experiment config
    assert config["seeds"] == [7]
    assert set(config["models"]) == {"svr_egemaps", "svr_compare", "drnn_egemaps", "drnn_compare", "e2e", "e2e2017"}
    assert config["postprocess"]["enabled"] is True  # a schema default


def test_no_file_means_config_yaml_and_overrides_apply_on_top(monkeypatch):
    monkeypatch.chdir(REPO)
    config = configuration.load([], ["corpus={name: other}"])
    assert config["corpus"]["name"] == "other"
    assert config["corpus"]["adapter"] == "synthetic"
    assert set(config["models"]) == set(yaml.safe_load((REPO / "config.yaml").read_text())["models"])


def test_experiment_files_do_not_inherit_config_yaml_models():
    config = configuration.load([TINY])
    assert set(config["models"]) == set(yaml.safe_load(TINY.read_text())["models"])


@pytest.mark.parametrize("content, problem", [("corpus: [1", "not valid YAML"), ("- 1\n- 2\n", "mapping"),
                                              ("corpus: {nme: x}\n", "schema")])
def test_bad_file_is_named(tmp_path, content, problem):
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    with pytest.raises(InputError, match=problem) as err:
        configuration.load([TINY, bad])
    assert "bad.yaml" in str(err.value)


def test_config_command_prints_a_key_or_names_a_missing_one(tmp_path, capsys):
    mine = write(tmp_path / "mine.yaml", {"corpus": {"name": "mine"}})
    assert main(["config", "corpus.name", "--configfile", str(TINY), str(mine)]) == 0
    assert capsys.readouterr().out.strip() == "mine"
    assert main(["config", "corpus.nmae", "--configfile", str(TINY)]) == 2
    assert "corpus.nmae" in capsys.readouterr().err


def models_in_dry_run(proc: subprocess.CompletedProcess, corpus: str) -> set[str]:
    """Model names of the train jobs a dry run lists for `corpus`."""
    marker = f"results/{corpus}/train/"
    return {line.split(marker)[1].split("/")[0] for line in proc.stdout.splitlines() if marker in line}


@pytest.mark.integration
def test_snakemake_config_overrides_without_a_configfile_use_config_yaml(tmp_path):
    proc = snakemake(tmp_path, "-n", "--cores", "1", "--config", "corpus={name: renamed}")
    assert models_in_dry_run(proc, "renamed") == set(yaml.safe_load((REPO / "config.yaml").read_text())["models"])
    counts = dict(line.split()[:2] for line in proc.stdout.splitlines() if line.startswith("synthesize_recording "))
    assert counts == {"synthesize_recording": "20"}  # config.yaml's 20 speakers


@pytest.mark.integration
def test_snakemake_merges_configfiles_in_order_and_config_on_top(tmp_path):
    mine = write(tmp_path / "mine.yaml", {"corpus": {"name": "mine"}, "seeds": [4]})
    snakemake(tmp_path, "--configfile", str(TINY), str(mine), "--config", "corpus={name: final}", "--cores", "1",
              "results/final/split/split.csv")
    proc = snakemake(tmp_path, "-n", "--configfile", str(TINY), str(mine), "--config", "corpus={name: final}",
                     "--cores", "1")
    assert models_in_dry_run(proc, "final") == set(yaml.safe_load(TINY.read_text())["models"])
    assert "seed4" in proc.stdout and "seed1" not in proc.stdout


def make(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """The repository's Makefile run in `cwd` without a terminal, with this interpreter's environment as the venv."""
    venv = Path(sys.executable).parent.parent
    cmd = ["make", "--no-print-directory", "-f", str(REPO / "Makefile"), f"VENV={venv}", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120,
                          env={**os.environ, "GPUS": "0"})


def test_make_takes_config_and_cores_and_writes_the_report_per_corpus():
    (Path(sys.executable).parent.parent / ".emotrace-installed").exists() or pytest.skip("not a `make setup` venv")
    cfg = REPO / "configs" / "yang2018_semaine.yaml"
    proc = make(REPO, "-n", "run", f"CONFIG={cfg} {TINY}", "CORES=3")  # -n: prints the commands only
    assert proc.returncode == 0, proc.stderr
    assert f"--cores 3 --configfile {cfg} {TINY}" in proc.stdout
    assert "--report results/tiny/report.html" in proc.stdout  # tiny.yaml names the corpus last
    assert "show results/tiny" in proc.stdout


def test_make_clean_lists_and_asks_unless_forced(tmp_path):
    (tmp_path / "results" / "recola").mkdir(parents=True)
    (tmp_path / "logs").mkdir()
    refused = make(tmp_path, "clean")
    assert refused.returncode != 0
    assert "results/recola/" in refused.stdout and "FORCE=1" in refused.stderr
    assert (tmp_path / "results" / "recola").is_dir()
    forced = make(tmp_path, "clean", "FORCE=1")
    assert forced.returncode == 0, forced.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()
