"""Tables and findings across speaker folds and training redraws, on crafted runs whose quality per draw is known."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from crafted_runs import DEFAULT_MODELS, crafted, write_run
from emotrace import collapse
from emotrace.across_folds import (
    AcrossScores, across_findings, draw_of, draws_table, load_draws, pooled_metrics, split_note, write_across_findings,
)
from emotrace.beyond import beyond_table
from emotrace.cli import main
from emotrace.errors import InputError
from emotrace.findings import FINDING_COLUMNS, findings, write_findings
from emotrace.metrics import ccc, metrics_file
from emotrace.runs import INTERVAL_COLUMNS, Scores, with_intervals
from emotrace.tables import KEY_COLUMNS, format_number
from emotrace.uncertainty import interval, settings

CFG = settings({"replicates": 200})
MODELS = {**DEFAULT_MODELS, "mymodel": {"network": "mypkg.nets:TinyNet", "objectives": ["ccc"]}}
SCRIPT = Path(__file__).parents[1] / "scripts" / "across_draws.py"


def write_draws(root: Path, kind: str, specs: list[dict]) -> dict[str, list[Path]]:
    """Crafted runs of every draw (`specs[d]`: {run key: rho}) written where the pipeline writes them, with each
    draw's metrics.csv and split.csv: folds get their own speakers and gold, redraws share the test partition."""
    files: dict[str, list[Path]] = {k: [] for k in ("metrics", "raw", "postprocessed", "settings", "history", "splits")}
    names = [str(i + 1) for i in range(len(specs))]
    for name, spec in zip(names, specs):
        base = root / kind / name
        runs, _ = crafted(spec, seed=int(name) if kind == "folds" else 0)
        for run in runs:
            if kind == "folds":  # fold d's recordings are its own speakers
                for table in (run.raw, run.postprocessed):
                    table["recording"] = f"f{name}_" + table["recording"]
            paths = write_run(base, run)
            metrics = base / "evaluate" / paths["raw"].relative_to(base / "train").parent / "metrics.csv"
            metrics.parent.mkdir(parents=True, exist_ok=True)
            metrics_file(run.raw, run.postprocessed).to_csv(metrics, index=False)
            for what in ("raw", "postprocessed", "settings"):  # no history: write_run's says "never learnt"
                files[what].append(paths[what])
            files["metrics"].append(metrics)
        tests = {n: [f"f{n}_t{i}" if kind == "folds" else f"t{i}" for i in range(1, 5)] for n in names}
        rows = [(rec, rec, rec, "test" if n == name else "train") for n in names for rec in tests[n]
                if kind == "folds" or n == name]
        split = base / "split" / "split.csv"
        split.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows, columns=["recording", "speaker", "group", "partition"]).to_csv(split, index=False)
        files["splits"].append(split)
    return files


def across(tmp_path: Path, kind: str, specs: list[dict]):
    files = write_draws(tmp_path / "results" / "c", kind, specs)
    names = [str(i + 1) for i in range(len(specs))]
    draws = load_draws(kind, names, *(files[k] for k in ("metrics", "raw", "postprocessed", "settings", "history")),
                       CFG, collapse.settings())
    scores = AcrossScores(draws, kind)
    return draws, scores, pooled_metrics(draws, scores, "c")


def figure(metrics: pd.DataFrame, partition: str, postprocessed: bool) -> float:
    """The CCC of the first row of one partition and post-processing state."""
    return metrics.loc[(metrics["partition"] == partition) & (metrics["postprocessed"] == postprocessed), "ccc"].iloc[0]


def test_pooled_ccc_is_that_of_the_concatenated_predictions(tmp_path):
    rhos = (0.8, 0.5, 0.3)
    draws, scores, metrics = across(tmp_path, "folds", [{("e2e", "ccc", "arousal", 1): r} for r in rhos])
    assert list(metrics.columns[:len(KEY_COLUMNS) + 8 + len(INTERVAL_COLUMNS)]) == list(draws[0].metrics.columns)
    assert (metrics["corpus"] == "c").all()
    for pp in (False, True):
        preds = pd.concat([d.runs[0].predictions(pp) for d in draws])
        test = preds[preds["partition"] == "test"]
        row = metrics[(metrics["partition"] == "test") & (metrics["postprocessed"] == pp)].iloc[0]
        assert row["ccc"] == pytest.approx(ccc(test["prediction"], test["gold"]), abs=1e-12)
        assert row["n_frames"] == len(test) and row["ccc_low"] < row["ccc"] < row["ccc_high"]
        own = [figure(d.metrics, "test", pp) for d in draws]
        assert [row[f"ccc_fold_{i}"] for i in (1, 2, 3)] == pytest.approx(own)
        assert row["ccc_draws_mean"] == pytest.approx(np.mean(own)) and row["ccc_draws_sd"] > 0.1
        dev = metrics[(metrics["partition"] == "dev") & (metrics["postprocessed"] == pp)].iloc[0]
        own_dev = [figure(d.metrics, "dev", pp) for d in draws]
        assert dev["ccc"] == pytest.approx(np.mean(own_dev)) and np.isnan(dev["ccc_low"])
    # the replicates' centre is the pooled figure, from sums about one centre added over folds
    reps = scores.replicates[("e2e", "ccc", "arousal", 1, "test", "arousal", True)][0]
    point = metrics.query("partition == 'test' and postprocessed")["ccc"].iloc[0]
    assert abs(np.median(reps) - point) < 0.05


def test_interval_widens_when_folds_disagree(tmp_path):
    def width(rhos, where):
        *_, metrics = across(tmp_path / where, "folds", [{("e2e", "ccc", "arousal", 1): r} for r in rhos])
        row = metrics.query("partition == 'test' and postprocessed").iloc[0]
        return row["ccc_high"] - row["ccc_low"]

    assert width((0.9, 0.55, 0.15), "disagree") > 1.5 * width((0.55, 0.55, 0.55), "agree")


def test_redraws_average_the_draws_on_one_shared_resample(tmp_path):
    draws, scores, metrics = across(tmp_path, "redraws", [{("e2e", "ccc", "arousal", 1): r} for r in (0.8, 0.6, 0.4)])
    test = metrics[metrics["partition"] == "test"]
    assert np.allclose(test["ccc"], test["ccc_draws_mean"])
    assert np.allclose(test["ccc"], test[[f"ccc_draw_{i}" for i in (1, 2, 3)]].mean(axis=1))
    # every draw resamples the same test frames the same way, so a replicate scores all draws on one sample
    starts = [d.scores.resamplers["test"].starts for d in draws]
    assert all(np.array_equal(starts[0], s) for s in starts[1:])
    # with one draw picked three times, the replicate is that draw's own
    key = ("e2e", "ccc", "arousal", 1, "test", "arousal", True)
    own = [d.scores.replicates[key][0] for d in draws]
    same = np.flatnonzero((scores.picked == scores.picked[:, :1]).all(axis=1))
    for b in same:
        assert scores.replicates[key][0][b] == pytest.approx(own[scores.picked[b, 0]][b])
    mean = np.mean(own, axis=0)
    assert np.all(scores.replicates[key][0] >= np.min(own, axis=0) - 1e-12)
    assert interval(mean)[1] - interval(mean)[0] < test["ccc_high"].iloc[0] - test["ccc_low"].iloc[0]
    paths = write_draws(tmp_path / "other", "folds", [{("e2e", "ccc", "arousal", 1): 0.5}] * 2)["splits"]
    with pytest.raises(InputError, match="redraws keep the test partition"):
        split_note("redraws", ["1", "2"], paths)
    assert "2 folds: every one of the 8 groups" in split_note("folds", ["1", "2"], paths)
    with pytest.raises(InputError, match="tested by folds 1 and 2"):
        split_note("folds", ["1", "2"], [paths[0], paths[0]])


def test_a_claim_of_fold_one_alone_is_marked_with_k_of_k(tmp_path):
    specs = [{("e2e", "ccc", "arousal", 1): e2e, ("mymodel", "ccc", "arousal", 1): mine}
             for e2e, mine in ((0.3, 0.85), (0.8, 0.3), (0.8, 0.35))]
    claims = [{"a": "mymodel", "b": "e2e", "dimension": "arousal", "claim": "greater"},
              {"a": "mymodel", "b": "e2e", "dimension": "arousal", "claim": "less"}]
    draws, scores, metrics = across(tmp_path, "folds", specs)
    table = across_findings(metrics, scores, MODELS, claims=claims)
    assert list(table.columns[:len(FINDING_COLUMNS)]) == FINDING_COLUMNS
    own = table[table["paper"] == "config findings"]
    assert own["single_split_verdict"].tolist() == ["supported", "contradicted"]
    assert own["a_beats_b"].tolist() == ["1 of 3 folds", "2 of 3 folds"]
    assert own["verdict"].tolist() != own["single_split_verdict"].tolist()
    assert own["robustness"].tolist() == ["holds on the single split, not across folds"] * 2
    # the single split's verdict is what fold 1 alone gives, with its own bootstrap
    alone = findings(draws[0].metrics, draws[0].scores, MODELS, claims=claims)
    assert own["single_split_verdict"].tolist() == alone.loc[alone["paper"] == "config findings", "verdict"].tolist()
    assert own["single_split_p"].tolist() == alone.loc[alone["paper"] == "config findings", "p"].tolist()
    assert (table.loc[table["verdict"] == "no result", "a_beats_b"] == "–").all()
    out = tmp_path / "tables"
    out.mkdir()
    write_across_findings(table, out / "findings", "folds", "1", scores.describe())
    md = (out / "findings.md").read_text()
    assert "| single split (fold 1) |" in md and "holds on the single split, not across folds" in md
    assert "(2 here)" in md and "hierarchical" in md and "| 1 of 3 |" in md
    assert "holds on the single split" in (out / "findings.html").read_text()
    per_system = draws_table(metrics, MODELS, "folds", ["1", "2", "3"], scores.describe())
    mine = per_system[(per_system["model"] == "mymodel")]
    assert len(mine) == 2 and set(mine["predictions"]) == {"raw", "post-processed"}  # beyond the papers: both
    e2e = per_system[per_system["model"] == "e2e"]
    assert e2e["predictions"].tolist() == ["post-processed"]  # as Trigeorgis's table
    own = metrics.query("model == 'e2e' and partition == 'test' and postprocessed")["ccc_fold_1"].iloc[0]
    assert e2e["fold 1"].iloc[0] == format_number(own)
    assert " ± " in e2e["mean ± sd over folds"].iloc[0] and "[" in e2e["pooled CCC [interval]"].iloc[0]


def test_rule_script_writes_every_table_and_show_prints_them(tmp_path, monkeypatch, capsys):
    specs = [{("e2e", "ccc", "arousal", 1): e2e, ("mymodel", "ccc", "arousal", 1): mine,
              ("wavespec", "ccc", "joint", 1): 0.6, ("blstm6373", "ccc", "joint", 1): 0.3}
             for e2e, mine in ((0.3, 0.85), (0.8, 0.3), (0.8, 0.35))]
    root = tmp_path / "results" / "c"
    files = write_draws(root, "folds", specs)
    out = root / "tables"
    monkeypatch.chdir(tmp_path)
    smk = SimpleNamespace(
        input=SimpleNamespace(**files, findings=[]), log=[str(tmp_path / "across.log")],
        params=SimpleNamespace(kind="folds", draws=["1", "2", "3"], outdir=str(out), corpus="c", adapter="synthetic",
                               uncertainty={"replicates": 200}, collapse={}, step=0.04, models=MODELS,
                               claims=[{"a": "mymodel", "b": "e2e", "dimension": "arousal", "claim": "greater"}]))
    runpy.run_path(str(SCRIPT), init_globals={"snakemake": smk}, run_name="__main__")
    for stem in ("trigeorgis2016_table1", "yang2018_table1", "across_draws", "findings"):
        for ext in (".csv", ".md", ".html"):
            assert (out / f"{stem}{ext}").is_file(), stem + ext
    assert (out / "trigeorgis2016_table1.tex").is_file() and (out / "all_metrics.csv").is_file()
    table1 = (out / "trigeorgis2016_table1.md").read_text()
    assert "pooled out-of-fold CCC over 3 folds" in table1 and "3 folds: every one of the 12 groups" in table1
    assert "hierarchical bootstrap interval, 200 replicates" in table1
    assert draw_of(files["raw"][0], "folds") == "1"
    # the beyond table (its own rule) reads the pooled all_metrics.csv as it reads a single run's
    pooled = pd.read_csv(out / "all_metrics.csv")
    beyond = beyond_table(pooled, MODELS, "WAVLM_BASE_PLUS", "c")
    mine = pooled[(pooled["model"] == "mymodel") & (pooled["partition"] == "test") & pooled["postprocessed"]]
    assert beyond.loc[beyond["model"] == "mymodel", "arousal"].iloc[0].startswith(
        f"{format_number(mine['ccc'].iloc[0])} [{format_number(mine['ccc_low'].iloc[0])}, ")
    capsys.readouterr()
    assert main(["show", str(root)]) == 0
    shown = capsys.readouterr().out
    headers = [line.rsplit("/", 1)[-1] for line in shown.splitlines() if line.startswith("## ")]
    assert headers[:4] == ["trigeorgis2016_table1.md", "yang2018_table1.md", "across_draws.md", "findings.md"]
    assert "holds on the single split, not across folds" in shown


def test_show_puts_across_draws_after_the_papers_tables_and_marks_in_findings(tmp_path, capsys):
    tables = tmp_path / "results" / "c" / "tables"
    tables.mkdir(parents=True)
    for name in ("findings.md", "across_draws.md", "beyond_table.md", "trigeorgis2016_table1.md", "yang2018_table1.md"):
        (tables / name).write_text(f"{name}\n")
    (tmp_path / "results" / "c" / "folds" / "1" / "tables").mkdir(parents=True)
    assert main(["show", str(tmp_path / "results" / "c")]) == 0
    out = capsys.readouterr().out
    printed = [line for line in out.splitlines() if line.endswith(".md") and not line.startswith("##")]
    assert printed == ["trigeorgis2016_table1.md", "yang2018_table1.md", "beyond_table.md", "across_draws.md",
                       "findings.md"]
    assert "folds: " in out and "each fold's own run and tables" in out


def test_the_default_findings_output_is_unchanged(tmp_path):
    """A single run's findings keep their columns, header and notes: the hook for draws adds nothing there."""
    runs, metrics = crafted({("e2e", "ccc", "arousal", 1): 0.7, ("wavespec", "ccc", "joint", 1): 0.6})
    scores = Scores(runs, CFG)
    table = findings(with_intervals(metrics, scores, collapse.settings()), scores, DEFAULT_MODELS)
    assert list(table.columns) == FINDING_COLUMNS
    write_findings(table, tmp_path / "findings")
    md = (tmp_path / "findings.md").read_text()
    assert md.startswith("# Findings: each paper's claims (and the config's own) tested\n\n| paper | claim | dimension "
                         "| A | B | paper says | ours: A - B [interval] | p | verdict |\n")
    assert ("interval and two-sided p from a paired block bootstrap on the same test frames (supported: the interval "
            "lies on the side of 0 the claim says") in md
    assert "single split" not in md and "robustness" not in md
