"""`emotrace check`: every fixture layout passes with its experiment config, each problem planted in a broken
copy is named with its file (exit 1), a config error exits 2, and the config loads as the workflow's does."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from emotrace.check import ConfigError, load_config, render
from emotrace.cli import main

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
_spec = importlib.util.spec_from_file_location("make_corpora", Path(__file__).parent / "fixtures" / "make_corpora.py")
make_corpora = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_corpora)

# case -> (experiment config the user starts from, fixture corpus), as tests/test_corpus_pipelines.py pairs them
CASES = {
    "generic": (ROOT / "tests" / "configs" / "tiny.yaml", "generic"),
    "synthetic": (ROOT / "config.yaml", "synthetic"),
    "recola_full": (CONFIGS / "trigeorgis2016_recola.yaml", "recola_full"),
    "recola_public23": (CONFIGS / "recola_public23.yaml", "recola_full"),
    "recola_avec2016": (CONFIGS / "yang2018_recola.yaml", "recola_avec2016"),
    "semaine": (CONFIGS / "yang2018_semaine.yaml", "semaine"),
}
WRITERS = {  # fixture -> (writer, arguments): short recordings, the layouts as released
    "generic": (make_corpora.write_generic, {}),
    "synthetic": (make_corpora.write_synthetic, {}),
    "recola_full": (make_corpora.write_recola_full, {"seconds": 10.0}),
    "recola_avec2016": (make_corpora.write_recola_avec2016, {"seconds": 10.0}),
    "semaine": (make_corpora.write_semaine, {"seconds": 20.0}),
}


def override(tmp_path: Path, root: Path, adapter: str | None = None, **sections) -> Path:
    """The small file a user writes beside an experiment config: the corpus root (and options)."""
    corpus = {"root": str(root), **({"adapter": adapter} if adapter else {})}
    path = tmp_path / f"my_{root.name}.yaml"
    path.write_text(yaml.safe_dump({"corpus": corpus, **sections}))
    return path


def run(capsys, *args: str) -> tuple[int, str]:
    status = main(["check", *args])
    return status, capsys.readouterr().out


def run_json(capsys, *args: str) -> tuple[int, dict]:
    status, out = run(capsys, *args, "--json")
    return status, json.loads(out)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("check_corpora")
    return {name: write(base / name, seed=1, **kwargs) for name, (write, kwargs) in WRITERS.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_fixture_layout_can_run(name, corpora, tmp_path, capsys):
    config, fixture = CASES[name]
    mine = override(tmp_path, corpora[fixture], "synthetic" if name == "synthetic" else None)
    status, report = run_json(capsys, "--configfile", str(config), str(mine))
    assert status == 0 and report["exit"] == 0 and report["status"] == "can run", report.get("reasons")
    assert report["corpus"]["layout"] and report["corpus"]["recordings"] > 0
    assert all(v["recordings"] > 0 for v in report["split"]["partitions"].values())
    assert report["plan"]["jobs"]["preprocess"] == report["corpus"]["recordings"]
    assert report["plan"]["jobs"]["train_network"] + report["plan"]["jobs"].get("train_svr", 0) > 0
    for dim in report["corpus"]["dimensions"].values():
        assert dim["files"] > 0 and 0 < dim["frames"] <= dim["audio_frames"]
    text = render(report)
    assert "result: the corpus can run (exit 0)" in text and "problems: 0 errors" in text
    assert f"follow training: tail -n 3 -f logs/{report['corpus']['name']}/train_network/" in text


def test_recola_release_reports_speakers_raters_and_the_missing_preset_speakers(corpora, tmp_path, capsys):
    cfg = override(tmp_path, corpora["recola_full"])
    status, report = run_json(capsys, "--configfile", str(CONFIGS / "trigeorgis2016_recola.yaml"), str(cfg))
    assert status == 0
    corpus = report["corpus"]
    assert corpus["speakers"] == ["P13", "P16", "P19", "P20", "P21", "P26"]
    assert corpus["sample_rates"] == {"44100": 6} and corpus["duration_s"]["max"] == pytest.approx(10.0)
    assert corpus["dimensions"]["arousal"]["raters"] == ["FF1", "FF2", "FF3", "FM1", "FM2", "FM3"]
    assert corpus["dimensions"]["arousal"]["label_step_s"] == pytest.approx(0.04)
    split = report["split"]
    assert split["partitions"]["test"]["speakers"] == ["P13", "P20"]
    assert "P15" in split["missing"]["train"] and sum(map(len, split["missing"].values())) == 40
    assert [p["kind"] for p in report["problems"]] == ["split"]  # a warning: the run still goes
    stages = {s["stage"]: s for s in report["plan"]["stages"]}
    e2e = stages["train_network/e2e"]
    assert 0 < e2e["gpu_h"] < e2e["cpu_h"] and "emotrace.gpucost" in e2e["basis"]  # an estimate, and says so
    assert stages["preprocess"]["gpu_h"] == 0.0
    assert "6-24 min of audio" in stages["preprocess"]["basis"]  # docs/scale.md's measured sizes
    assert "formula" in stages["train_svr/svr_egemaps"]["basis"]


def plant_recola_full(root: Path) -> dict[str, tuple[str, Path]]:
    """Break a copy of the recola_full fixture in seven ways; {what: (problem kind, file to be named)}."""
    audio, ratings = root / "RECOLA-Audio-recordings", root / "RECOLA-Annotation" / "emotional_behaviour"
    planted = {}
    wav = audio / "P13.wav"
    with open(wav, "r+b") as fh:
        fh.truncate(wav.stat().st_size // 2)
    planted["truncated"] = ("audio", wav)
    (audio / "P16.wav").write_bytes(b"RIFF this is not audio at all")
    planted["unreadable"] = ("audio", audio / "P16.wav")
    (audio / "P19.wav").unlink()
    planted["labels without audio"] = ("labels without audio", ratings / "arousal" / "P19.csv")
    for dim in ("arousal", "valence"):
        (ratings / dim / "P20.csv").unlink()
    planted["audio without labels"] = ("audio without labels", audio / "P20.wav")
    times = np.arange(0, 10.01, 0.1)
    make_corpora.write_rater_csv(ratings / "arousal" / "P21.csv", times, np.zeros((len(times), 6)))
    planted["10 Hz"] = ("label rate", ratings / "arousal" / "P21.csv")
    path = ratings / "arousal" / "P26.csv"
    lines = path.read_text().splitlines()
    lines[-50:] = [line.rsplit(";", 1)[0] + ";" for line in lines[-50:]]  # FF3 stops 2 s early
    path.write_text("\n".join(lines) + "\n")
    planted["unequal raters"] = ("unequal raters", path)
    path = ratings / "valence" / "P26.csv"
    lines = path.read_text().splitlines()
    lines[50] = ";".join(lines[50].split(";")[:3] + ["nan"] + lines[50].split(";")[4:])
    path.write_text("\n".join(lines) + "\n")
    planted["NaN"] = ("nan", path)
    return planted


def test_broken_recola_release_names_every_planted_problem(corpora, tmp_path, capsys):
    root = tmp_path / "broken"
    shutil.copytree(corpora["recola_full"], root)
    planted = plant_recola_full(root)
    cfg = override(tmp_path, root)
    status, report = run_json(capsys, "--configfile", str(CONFIGS / "trigeorgis2016_recola.yaml"), str(cfg))
    assert status == 1 and report["status"] == "cannot run"
    errors = [p for p in report["problems"] if p["severity"] == "error"]
    for what, (kind, path) in planted.items():
        named = [p for p in errors if p["kind"] == kind and p["file"].split(":")[0] == str(path)]
        assert named, f"{what}: no {kind} error naming {path} in {errors}"
    assert len(errors) == len(planted) + 1  # P19's valence file as well
    assert "FF3 " in next(p["message"] for p in errors if p["kind"] == "unequal raters")
    assert next(p["file"] for p in errors if p["kind"] == "nan").endswith("P26.csv:51")  # lines[50] is line 51
    status, text = run(capsys, "--configfile", str(CONFIGS / "trigeorgis2016_recola.yaml"), str(cfg))
    assert status == 1 and "result: the corpus cannot run (exit 1):" in text
    assert all(str(path) in text for _, path in planted.values())
    assert "plan for" not in text  # no recordings to plan for


def test_broken_avec2016_and_semaine_name_their_files(corpora, tmp_path, capsys):
    avec = tmp_path / "avec"
    shutil.copytree(corpora["recola_avec2016"], avec)
    individual = avec / "ratings_individual" / "arousal" / "train_1.csv"
    individual.write_text("\n".join(individual.read_text().splitlines()[:-20]) + "\n")
    arff = avec / "ratings_gold_standard" / "valence" / "train_2.arff"
    lines = arff.read_text().splitlines()
    lines[-3] = ",".join(lines[-3].split(",")[:2] + ["nan"])
    arff.write_text("\n".join(lines) + "\n")
    status, report = run_json(capsys, "--configfile", str(CONFIGS / "yang2018_recola.yaml"),
                              str(override(tmp_path, avec)))
    assert status == 1
    found = {(p["kind"], p["file"].split(":")[0]) for p in report["problems"] if p["severity"] == "error"}
    assert found == {("unequal raters", str(individual)), ("nan", str(arff))}

    semaine = tmp_path / "semaine"
    shutil.copytree(corpora["semaine"], semaine)
    trace = next((semaine / "Sessions" / "8").glob("R2S2TUC*DV.txt"))
    lines = trace.read_text().splitlines()
    lines[10] = lines[10].split()[0] + " nan"
    trace.write_text("\n".join(lines) + "\n")
    status, report = run_json(capsys, "--configfile", str(CONFIGS / "yang2018_semaine.yaml"),
                              str(override(tmp_path, semaine)))
    assert status == 1
    assert [(p["kind"], p["file"]) for p in report["problems"] if p["severity"] == "error"] == \
        [("nan", f"{trace}:11")]


def test_generic_off_grid_labels_warn_and_missing_audio_is_named(corpora, tmp_path, capsys):
    root = tmp_path / "generic"
    shutil.copytree(corpora["generic"], root)
    stray = root / "labels" / "arousal" / "S09_r1.csv"
    shutil.copy(root / "labels" / "arousal" / "S01_r1.csv", stray)
    status, report = run_json(capsys, "--configfile", str(ROOT / "tests" / "configs" / "tiny.yaml"),
                              str(override(tmp_path, root)))
    assert status == 1
    errors = [(p["kind"], p["file"]) for p in report["problems"] if p["severity"] == "error"]
    assert errors == [("labels without audio", str(stray))]
    rates = [p for p in report["problems"] if p["kind"] == "label rate"]
    assert rates and all(p["severity"] == "warning" and "0.100 s" in p["message"] for p in rates)


def test_synthetic_corpus_not_generated_still_plans(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, text = run(capsys, "--configfile", str(CONFIGS / "scale_recola.yaml"))
    assert status == 0, text
    assert "corpus not generated yet" in text and "plan for 46 recordings, 3.83 h of audio" in text
    assert "synthesize_recording 46" in text and "train_network 20" in text
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


def test_the_plan_counts_every_fold(tmp_path, capsys, monkeypatch):
    """configs/folds_synthetic.yaml: 5 folds of 30 generated speakers; the split on runs once per fold."""
    monkeypatch.chdir(tmp_path)
    status, report = run_json(capsys, "--configfile", str(CONFIGS / "folds_synthetic.yaml"))
    assert status == 0, report
    jobs = report["plan"]["jobs"]
    assert jobs["preprocess"] == 30 and jobs["segment"] == 30 and jobs["extract_features"] == 30
    assert jobs["split"] == 5 and jobs["feature_stats"] == 5 and jobs["train_network"] == 5 * 4
    assert jobs["train_svr"] == 5 and jobs["tables"] == 5 and jobs["across_draws"] == 1
    stages = {s["stage"]: s for s in report["plan"]["stages"]}
    assert stages["train_network/e2e"]["jobs"] == 10 and stages["train_svr/svr_egemaps"]["jobs"] == 5


@pytest.mark.parametrize("args, message", [
    (["--config", "seeds=2"], "is not of type 'array'"),
    (["--config", "corpus={adapter: nope}"], "unknown adapter 'nope'"),
    (["--configfile", "no_such_file.yaml"], "no_such_file.yaml: cannot read config file"),
    (["--config", "corpus={adapter: recola_full, root: /no/such/folder}"], "corpus.root: folder"),
])
def test_config_errors_exit_2(args, message, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    status, text = run(capsys, *args)
    assert status == 2 and text.startswith("config error:") and message in text
    status, report = run_json(capsys, *args)
    assert status == 2 and report["exit"] == 2 and message in report["error"]


def test_load_config_merges_files_in_order_and_overrides(tmp_path, monkeypatch):
    first = tmp_path / "a.yaml"
    first.write_text(yaml.safe_dump({"corpus": {"name": "a", "root": "/x"}, "seeds": [1]}))
    second = tmp_path / "b.yaml"
    second.write_text(yaml.safe_dump({"corpus": {"root": "/data/RECOLA"}, "training": {"max_epochs": 7}}))
    # --config values are parsed as snakemake parses them (YAML without types: a list's items stay strings)
    config = load_config([CONFIGS / "trigeorgis2016_recola.yaml", first, second], ["corpus={name: b}"],
                         checks=False)
    assert config["corpus"]["name"] == "b" and config["corpus"]["root"] == "/data/RECOLA"
    assert config["corpus"]["adapter"] == "recola_full"  # kept from the first file: nested dicts merge
    assert config["training"] == {**config["training"], "max_epochs": 7, "patience": 10}
    assert config["seeds"] == [1] and config["labels"]["step"] == 0.04  # a schema default filled in
    assert "wave" not in config["models"]  # an experiment file does not inherit config.yaml's models
    monkeypatch.chdir(ROOT)
    default = load_config(None, ["corpus={name: mine}"])
    assert default["corpus"]["name"] == "mine" and default["corpus"]["adapter"] == "synthetic"
    assert "wave" in default["models"]  # config.yaml under the overrides
    with pytest.raises(ConfigError, match="Invalid config definition"):
        load_config(None, ["no equals sign"])


def test_full_size_recola_release_finishes(tmp_path, capsys):
    """46 speakers x 300 s in the release layout (sparse silent audio): the check reads it all and finishes;
    bench/check_speed.py times it."""
    root = make_corpora.write_recola_full_sparse(tmp_path / "RECOLA")
    status, report = run_json(capsys, "--configfile", str(CONFIGS / "trigeorgis2016_recola.yaml"),
                              str(override(tmp_path, root)))
    assert status == 0, report.get("reasons")
    assert len(report["corpus"]["speakers"]) == 46 and report["corpus"]["duration_s"]["min"] == 300.0
    assert {p: v["recordings"] for p, v in report["split"]["partitions"].items()} == {"train": 16, "dev": 15,
                                                                                      "test": 15}
    assert report["corpus"]["dimensions"]["valence"]["frames"] == 46 * 7501


def test_a_root_without_the_adapters_layout_cannot_run(tmp_path, capsys):
    root = tmp_path / "RECOLA"
    (root / "wav").mkdir(parents=True)
    status, report = run_json(capsys, "--configfile", str(CONFIGS / "trigeorgis2016_recola.yaml"),
                              str(override(tmp_path, root)))
    assert status == 1 and report["plan"] is None
    assert [(p["kind"], p["file"]) for p in report["problems"]] == [("layout", str(root))]
    assert "no known RECOLA layout found" in report["reasons"][0]


def test_the_follow_command_matches_where_training_logs_its_epochs():
    """The log path `emotrace check` prints is train_network's `log:` (rules/train.smk), where the trainer's
    per-epoch line goes (emotrace.logs.job_logger routes emotrace.training's records there)."""
    from emotrace.check import follow_command

    follow = follow_command({"corpus": {"name": "mine"}})
    rule = (ROOT / "rules" / "train.smk").read_text()
    expected = 'f"logs/{CORPUS}/train_network/{DRAW_PART}{{model}}/{{objective}}/{{target}}/seed{{seed}}.log"'
    assert expected in rule  # DRAW_PART: "" for a single split, "folds/{draw}/" with folds (rules/common.smk)
    assert follow["logs"] == "logs/mine/train_network/<model>/<objective>/<target>/seed<N>.log"
    assert follow["command"] == "tail -n 3 -f logs/mine/train_network/*/*/*/*.log"  # model/objective/target/seed
    assert 'log.info("epoch %d train_loss' in (ROOT / "src" / "emotrace" / "training.py").read_text()
    folds = follow_command({"corpus": {"name": "mine"}, "split": {"folds": 5}})
    assert folds["command"] == "tail -n 3 -f logs/mine/train_network/folds/*/*/*/*/*.log"


def test_an_empty_partition_is_named(corpora, tmp_path, capsys):
    """The AVEC 2016 release withholds the test labels: its own avec2016 preset leaves test empty."""
    mine = override(tmp_path, corpora["recola_avec2016"], split={"method": "preset", "preset": "avec2016"})
    status, report = run_json(capsys, "--configfile", str(CONFIGS / "yang2018_recola.yaml"), str(mine))
    assert status == 1
    assert [(p["kind"], p["message"]) for p in report["problems"]] == \
        [("split", "partitions ['test'] are empty")]


def test_a_misnamed_file_is_named_without_a_cascade(corpora, tmp_path, capsys):
    root = tmp_path / "misnamed"
    shutil.copytree(corpora["recola_full"], root)
    copy = root / "RECOLA-Audio-recordings" / "P16 (copy).wav"
    shutil.copy(root / "RECOLA-Audio-recordings" / "P16.wav", copy)
    status, report = run_json(capsys, "--configfile", str(CONFIGS / "trigeorgis2016_recola.yaml"),
                              str(override(tmp_path, root)))
    assert status == 1
    assert [(p["kind"], p["file"]) for p in report["problems"]] == [("layout", str(copy))]
    assert "does not follow the layout" in report["problems"][0]["message"]
