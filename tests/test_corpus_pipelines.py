"""Every corpus adapter and experiment config runs through the snakemake command on its fixture corpus.

The fixtures follow the corpora's release layouts (tests/fixtures/make_corpora.py).
The paper configs (configs/*.yaml) run the whole DAG as shipped, with no adapter
option set, except for what a fixture forces: the corpus root, one seed, one
epoch, one learning rate and one objective per model.  The release cases of
issue 17 run the workflow up to the split (ingestion and split are what they
exercise), each on the corpus as released.
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

pytestmark = pytest.mark.integration

CONFIGS = REPO / "configs"
CASES = {
    # name: (config, fixture writer, its arguments besides the seed)
    "generic": (TINY, make_corpora.write_generic, {}),
    "recola_full": (CONFIGS / "trigeorgis2016_recola.yaml", make_corpora.write_recola_full, {}),
    "recola_avec2016": (CONFIGS / "yang2018_recola.yaml", make_corpora.write_recola_avec2016, {}),
    "semaine": (CONFIGS / "yang2018_semaine.yaml", make_corpora.write_semaine, {"seconds": 20.0}),  # ~20 turns
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


def configured(tmp_path: Path, config_path: Path, name: str, root: Path, **changes) -> Path:
    """The config file as shipped with the corpus root (and `changes` to top-level sections) set."""
    config = yaml.safe_load(config_path.read_text())
    config["corpus"].update(name=name, root=str(root))
    config.update(changes)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def until_split(tmp_path: Path, config: Path, name: str, check: bool = True):
    """Run the workflow up to split.csv; (process, split table or None, split log, ingest log)."""
    proc = snakemake(tmp_path, "--configfile", str(config), "--cores", "1",
                     f"results/{name}/split/split.csv", check=check)
    split = tmp_path / "results" / name / "split" / "split.csv"
    logs = {k: (tmp_path / "logs" / name / f"{k}.log") for k in ("split", "ingest")}
    return (proc, pd.read_csv(split, dtype=str) if split.is_file() else None,
            *(p.read_text() if p.is_file() else "" for p in logs.values()))


def partitions(split: pd.DataFrame) -> dict[str, list[str]]:
    return {p: sorted(rows["group"].unique()) for p, rows in split.groupby("partition")}


@pytest.mark.parametrize("name", sorted(CASES))
def test_adapter_runs_the_whole_dag(name, tmp_path):
    """The paper configs as shipped (no layout option) on the release-layout fixtures, end to end."""
    config_path, write, kwargs = CASES[name]
    root = write(tmp_path / "corpus", seed=1, **kwargs)
    config = shrink(yaml.safe_load(Path(config_path).read_text()))
    config["corpus"].update(name=name, adapter=name, root=str(root))
    if name != "generic":
        assert config["corpus"]["options"] == {}
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    snakemake(tmp_path, "--configfile", str(cfg), "--cores", "2", "--resources", "gpu=1")
    res = tmp_path / "results" / name
    metrics = pd.read_csv(res / "tables" / "all_metrics.csv")
    assert set(metrics["model"]) == set(config["models"])
    assert metrics["ccc"].notna().all()
    split = pd.read_csv(res / "split" / "split.csv", dtype=str)
    assert split.groupby("group")["partition"].nunique().max() == 1
    if name == "recola_full":
        # The 16/15/15 preset on a copy holding 6 of the 46 speakers: the 6 keep their partition,
        # the 40 others are named in the tables' notes.
        assert partitions(split) == {"train": ["P16", "P21"], "dev": ["P19", "P26"], "test": ["P13", "P20"]}
        table = (res / "tables" / "trigeorgis2016_table1.md").read_text()
        assert "split preset trigeorgis2016: 40 group(s) not in the corpus" in table and "P15" in table


# --------------------------------------------------------------------------- issue 17 cases

@pytest.mark.parametrize("layout", ["release", "group"])
def test_full_recola_layouts_read_without_options(layout, tmp_path):
    """Cases 1-2: the release's own folders (and the authors' group's), rater headers
    `FM1 ;...;FF3` with CRLF lines, read with no option; the log names the layout."""
    root = make_corpora.write_recola_full(tmp_path / "corpus", seed=2, seconds=6.0, layout=layout)
    config = configured(tmp_path, CONFIGS / "trigeorgis2016_recola.yaml", "full", root)
    _, split, _, ingest = until_split(tmp_path, config, "full")
    assert f"RECOLA layout {layout!r}" in ingest
    labels = pd.read_csv(tmp_path / "results" / "full" / "ingest" / "labels.csv")
    assert labels.groupby(["recording", "dimension"]).size().to_dict() == {
        (s, d): 151 for s in ["P13", "P16", "P19", "P20", "P21", "P26"] for d in ("arousal", "valence")}
    assert partitions(split)["test"] == ["P13", "P20"]


def test_full_recola_partial_release_presets(tmp_path):
    """Case 3: presets on a partial release keep their assignment for the speakers present, name
    the missing ones (log and notes for the tables), offer public23, and stop on an empty partition."""
    root = make_corpora.write_recola_full(tmp_path / "corpus", seed=2, seconds=6.0)
    config = configured(tmp_path, CONFIGS / "recola_public23.yaml", "pub", root)
    _, split, split_log, _ = until_split(tmp_path, config, "pub")
    assert partitions(split) == {"train": ["P16", "P21"], "dev": ["P19", "P26"], "test": ["P13", "P20"]}
    notes = (tmp_path / "results" / "pub" / "split" / "notes.txt").read_text()
    assert "split preset public23: 14 group(s) not in the corpus" in notes and "P23" in split_log

    tmp = tmp_path / "empty"
    tmp.mkdir()
    for wav in (root / "RECOLA-Audio-recordings").glob("P2*.wav"):  # P20 P21 P26 leave
        wav.unlink()
        for dim in ("arousal", "valence"):
            (root / "RECOLA-Annotation/emotional_behaviour" / dim / f"{wav.stem}.csv").unlink()
    (root / "RECOLA-Audio-recordings" / "P13.wav").unlink()
    for dim in ("arousal", "valence"):
        (root / "RECOLA-Annotation/emotional_behaviour" / dim / "P13.csv").unlink()
    config = configured(tmp, CONFIGS / "trigeorgis2016_recola.yaml", "trig", root)
    proc, split, split_log, _ = until_split(tmp, config, "trig", check=False)
    assert proc.returncode != 0 and split is None
    assert "['test'] are empty" in split_log and "test P13, P20, P22" in split_log


def test_avec2016_preset_from_file_names(tmp_path):
    """Case 4: the avec2016 preset on the release (no instance map) takes train/dev/test from the names;
    on the public release (test gold withheld) the empty test partition stops with the reason."""
    root = make_corpora.write_recola_avec2016(tmp_path / "corpus", seed=2, seconds=6.0, test_labels=True)
    split_cfg = {"method": "preset", "preset": "avec2016"}
    config = configured(tmp_path, CONFIGS / "yang2018_recola.yaml", "avec", root, split=split_cfg)
    _, split, _, _ = until_split(tmp_path, config, "avec")
    assert partitions(split) == {"train": ["train_1", "train_2"], "dev": ["dev_1", "dev_2"],
                                 "test": ["test_1", "test_2"]}

    tmp = tmp_path / "public"
    tmp.mkdir()
    root = make_corpora.write_recola_avec2016(tmp / "corpus", seed=2, seconds=6.0)
    config = configured(tmp, CONFIGS / "yang2018_recola.yaml", "avec", root, split=split_cfg)
    proc, split, split_log, ingest = until_split(tmp, config, "avec", check=False)
    assert proc.returncode != 0 and "skipped 2 test recording(s)" in ingest and "['test'] are empty" in split_log


def test_semaine_as_released(tmp_path):
    """Cases 5-8: extension-less word-level transcripts whose `.`-closed blocks are the turns, a rater
    trace 5 s short, 24-bit 48 kHz mono audio, `A<r>R<n>` trace names and a stray trace-like file;
    the sessions of one recording stay in one partition."""
    root = make_corpora.write_semaine(tmp_path / "corpus", seed=2, seconds=30.0)
    config = configured(tmp_path, CONFIGS / "yang2018_semaine.yaml", "sem", root)
    _, split, _, ingest = until_split(tmp_path, config, "sem")
    manifest = pd.read_csv(tmp_path / "results" / "sem" / "ingest" / "manifest.csv", dtype={"group": str})
    assert set(manifest["sample_rate"]) == {48000}
    assert "user turns (transcript)" in ingest
    # Turn ids are the transcript's blocks; session 3's rater 1 ends 5 s early and is named.
    assert "Sessions/3: dropped" in ingest and "R1S1TUCSpDA.txt" in ingest
    assert "R1S1TUCPoDA_old.txt" in ingest  # listed as ignored
    blocks = [(root / "Sessions" / s / f"wordLevel_alignedTranscript_{n}_user").read_text().count(" turn ")
              for s, n in (("2", "01.1Poppy"), ("3", "01.2Spike"))]
    turns = manifest["recording"].str.split("_").str[0].value_counts()
    assert turns["2"] == blocks[0] - 1 and turns["3"] < blocks[1] - 1  # the short turn, the short trace
    session_of = split["recording"].str.split("_").str[0]
    assert split.groupby("group")["partition"].nunique().max() == 1
    assert split.groupby(session_of)["group"].first().to_dict() == {"2": "1", "3": "1", "8": "2", "9": "2",
                                                                     "14": "3", "20": "4", "26": "5"}
    assert set(split["partition"]) == {"train", "dev", "test"}


def test_yang_full_release_config_splits_by_speaker(tmp_path):
    """configs/yang2018_recola_full.yaml reads the full release as distributed (no option) and
    splits its speakers at random, each speaker in one partition."""
    root = make_corpora.write_recola_full(tmp_path / "corpus", seed=2, seconds=6.0)
    config = configured(tmp_path, CONFIGS / "yang2018_recola_full.yaml", "yfull", root)
    _, split, _, ingest = until_split(tmp_path, config, "yfull")
    assert "RECOLA layout 'release'" in ingest
    parts = partitions(split)
    assert set(parts) == {"train", "dev", "test"}
    assert sorted(sum(parts.values(), [])) == ["P13", "P16", "P19", "P20", "P21", "P26"]
