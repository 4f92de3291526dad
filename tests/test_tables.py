"""Table 1 of both papers from a small generated results tree; well-formed output files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emotrace.errors import InputError
from crafted_runs import DEFAULT_MODELS, crafted
from emotrace import collapse
from emotrace.runs import Scores, with_intervals
from emotrace.tables import (
    MISSING, RATERS_LABEL, collect, format_cell, format_seeds, trigeorgis_table, write_table, yang_table,
)
from emotrace.uncertainty import settings


def write_metrics(root: Path, corpus: str, model: str, objective: str, target: str, seed: int,
                  scores: dict[tuple[str, str], float], raw_offset: float = -0.1) -> Path:
    """A metrics.csv with post-processed `scores[(partition, dimension)]` and raw ones offset."""
    rows = []
    for (partition, dimension), value in scores.items():
        for post, v in ((True, value), (False, value + raw_offset)):
            rows.append({"partition": partition, "dimension": dimension, "postprocessed": post, "ccc": v,
                         "ccc_per_recording": v - 0.05, "pearson": v + 0.01, "rmse": 0.2, "n_frames": 1000})
    path = root / "results" / corpus / "evaluate" / model / objective / target / f"seed{seed}" / "metrics.csv"
    path.parent.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture
def trigeorgis_runs(tmp_path: Path) -> list[Path]:
    files = []
    # end-to-end, CCC objective, two seeds per dimension
    for seed, shift in ((1, -0.012), (2, 0.012)):
        files.append(write_metrics(tmp_path, "recola", "e2e", "ccc", "arousal", seed,
                                   {("test", "arousal"): 0.684 + shift, ("dev", "arousal"): 0.728 + shift}))
        files.append(write_metrics(tmp_path, "recola", "e2e", "ccc", "valence", seed,
                                   {("test", "valence"): 0.249 + shift, ("dev", "valence"): 0.312 - shift}))
    # SVR on eGeMAPS, MSE, one seed, arousal only
    files.append(write_metrics(tmp_path, "recola", "svr_egemaps", "mse", "arousal", 1,
                               {("test", "arousal"): 0.318, ("dev", "arousal"): 0.489}))
    return files


def test_collect_parses_keys_from_paths(trigeorgis_runs):
    df = collect(trigeorgis_runs)
    assert {"corpus", "model", "objective", "target", "seed", "partition", "dimension", "postprocessed", "ccc"} <= set(df.columns)
    assert set(df["model"]) == {"e2e", "svr_egemaps"}
    assert set(df["seed"]) == {1, 2}
    assert df["postprocessed"].dtype == bool
    assert len(df) == 4 * 4 + 4


def test_collect_rejects_bad_paths_and_files(tmp_path):
    with pytest.raises(InputError, match="not a metrics file path"):
        collect([tmp_path / "results" / "recola" / "evaluate" / "e2e" / "ccc" / "arousal" / "metrics.csv"])
    path = write_metrics(tmp_path, "recola", "e2e", "ccc", "arousal", 1, {("test", "arousal"): 0.5})
    pd.read_csv(path).drop(columns="rmse").to_csv(path, index=False)
    with pytest.raises(InputError, match=r"metrics\.csv: missing columns \['rmse'\]"):
        collect([path])
    assert collect([]).empty


def test_number_formatting_and_seed_statistics():
    assert format_seeds([0.684]) == ".684"
    assert format_seeds([-0.0123]) == "-.012"
    assert format_seeds([1.0]) == "1.000"
    assert format_seeds([]) == MISSING
    values = [0.672, 0.696]
    assert format_seeds(values) == f".684±.{round(np.std(values, ddof=1) * 1000):03d}" == ".684±.017"
    assert format_cell([0.684], [0.728]) == ".684 (.728)"
    assert format_cell([], [0.728]) == f"{MISSING} (.728)"
    assert format_cell([], []) == MISSING


def test_trigeorgis_layout_cells_and_missing_systems(trigeorgis_runs):
    table = trigeorgis_table(collect(trigeorgis_runs), DEFAULT_MODELS)
    assert list(table.columns) == ["part", "system", "model", "arousal", "valence",
                                   "published arousal (RECOLA)", "published valence (RECOLA)"]
    assert len(table) == 10
    assert list(table["part"]).count("a) MSE objective") == 6
    e2e_ccc = table[(table["model"] == "e2e") & (table["part"] == "b) CCC objective")].iloc[0]
    assert e2e_ccc["arousal"] == ".684±.017 (.728±.017)"
    assert e2e_ccc["valence"] == ".249±.017 (.312±.017)"
    assert e2e_ccc["published arousal (RECOLA)"] == ".686 (.741)"
    svr = table[table["model"] == "svr_egemaps"].iloc[0]
    assert (svr["arousal"], svr["valence"]) == (".318 (.489)", MISSING)
    assert "svr_egemaps/mse (valence)" in table.attrs["missing"]
    assert "drnn_compare/ccc (arousal, valence)" in table.attrs["missing"]
    assert not any(m.startswith("e2e/ccc") for m in table.attrs["missing"])
    raw = trigeorgis_table(collect(trigeorgis_runs), DEFAULT_MODELS, postprocessed=False)
    assert raw.loc[raw["model"] == "svr_egemaps", "arousal"].iloc[0] == ".218 (.389)"


def test_trigeorgis_rejects_mixed_corpora(tmp_path, trigeorgis_runs):
    other = write_metrics(tmp_path, "semaine", "e2e", "ccc", "arousal", 1, {("test", "arousal"): 0.5})
    with pytest.raises(InputError, match="one corpus"):
        trigeorgis_table(collect(trigeorgis_runs + [other]), DEFAULT_MODELS)


def test_yang_table_joint_models_and_published_figures(tmp_path):
    files = [
        write_metrics(tmp_path, "semaine", model, "ccc", "joint", 1,
                      {("test", "arousal"): a, ("test", "valence"): v, ("dev", "arousal"): a + 0.02, ("dev", "valence"): v + 0.02},
                      raw_offset=0.0)
        for model, a, v in (("wave", 0.66, 0.43), ("wavespec", 0.68, 0.5))
    ]
    table = yang_table(collect(files), DEFAULT_MODELS, "semaine")
    assert list(table["system"]) == ["baseline (ComParE 6373 + BLSTM)", "W only", "S only", "W+S"]
    assert list(table.columns)[-2:] == ["published arousal (SEMAINE)", "published valence (SEMAINE)"]
    w = table.set_index("model").loc["wave"]
    assert (w["arousal"], w["valence"]) == (".660 (.680)", ".430 (.450)")
    assert w["published valence (SEMAINE)"] == ".435"
    assert table.set_index("model").loc["spec", "arousal"] == MISSING
    assert table.attrs["missing"] == ["blstm6373/ccc (arousal, valence)", "spec/ccc (arousal, valence)"]
    recola = yang_table(collect([]), DEFAULT_MODELS, "RECOLA")
    assert recola["published arousal (RECOLA)"].tolist() == [".317", ".674", ".651", ".692"]
    with pytest.raises(InputError, match="corpus_label"):
        yang_table(collect(files), DEFAULT_MODELS, "IEMOCAP")


def markdown_rows(text: str) -> list[list[str]]:
    rows = [line for line in text.splitlines() if line.startswith("|")]
    return [re.split(r"(?<!\\)\|", line.strip())[1:-1] for line in rows]


def test_written_tables_are_well_formed(tmp_path, trigeorgis_runs):
    table = trigeorgis_table(collect(trigeorgis_runs), DEFAULT_MODELS)
    table.loc[0, "system"] = "odd | name & 50% {x}_y"  # characters both formats must escape
    stem = tmp_path / "tables" / "trigeorgis_table1"
    write_table(table, stem)
    assert sorted(p.name for p in stem.parent.iterdir()) == [
        "trigeorgis_table1.csv", "trigeorgis_table1.html", "trigeorgis_table1.md", "trigeorgis_table1.tex",
    ]
    page = stem.with_suffix(".html").read_text(encoding="utf-8")
    assert "odd | name &amp; 50% {x}_y" in page and page.count("<tr>") == len(table) + 1

    back = pd.read_csv(stem.with_suffix(".csv"), dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(back, table.astype(str))

    rows = markdown_rows(stem.with_suffix(".md").read_text(encoding="utf-8"))
    assert len(rows) == len(table) + 2
    assert all(len(r) == table.shape[1] for r in rows)
    assert all(set(c.strip()) == {"-"} for c in rows[1])
    assert "missing" in stem.with_suffix(".md").read_text(encoding="utf-8")

    tex = stem.with_suffix(".tex").read_text(encoding="utf-8")
    assert len(re.findall(r"\\begin\{(\w+)\}", tex)) == len(re.findall(r"\\end\{(\w+)\}", tex)) == 1
    assert tex.index(r"\toprule") < tex.index(r"\midrule") < tex.index(r"\bottomrule")
    body = [line for line in tex.splitlines() if line.endswith(r"\\")]
    assert len(body) == len(table) + 1
    assert all(len(re.split(r"(?<!\\)&", line)) == table.shape[1] for line in body)
    assert tex.count(r"\midrule") == 2  # after the header and between parts a) and b)
    assert r"$\pm$" in tex and "±" not in tex and "–" not in tex
    assert "\\begin{tabular}{" + "l" * table.shape[1] + "}" in tex


def test_cells_with_intervals_loo_collapsed_and_the_raters_row():
    runs, metrics = crafted({("e2e", "ccc", "arousal", 1): 0.8, ("e2e", "ccc", "valence", 1): 0.5,
                             ("e2e", "ccc", "arousal", 2): 0.7, ("wave", "ccc", "joint", 1): None})
    metrics = with_intervals(metrics, Scores(runs, settings({"replicates": 200})), collapse.settings())
    # post-processing "lowered" e2e arousal test CCC: the notes must say so
    lowered = (metrics["model"] == "e2e") & metrics["postprocessed"] & (metrics["partition"] == "test")
    metrics.loc[lowered & (metrics["dimension"] == "arousal"), "ccc"] -= 0.2
    agreement = pd.DataFrame({"partition": ["dev", "test"] * 2, "dimension": ["arousal"] * 2 + ["valence"] * 2,
                              "n_raters": 6, "loo_ccc": [0.8, 0.82, 0.5, 0.55], "loo_ccc_low": [0.7, 0.74, 0.4, 0.41],
                              "loo_ccc_high": [0.86, 0.88, 0.6, 0.66]})
    table = trigeorgis_table(metrics, DEFAULT_MODELS, agreement=agreement, notes=("intervals: test note",))
    e2e = table[(table["model"] == "e2e") & table["part"].str.startswith("b)")].iloc[0]
    assert re.fullmatch(r"-?\.\d{3} \[-?\.\d{3}, -?\.\d{3}\] \(-?\.\d{3}; LOO \.100\)", e2e["valence"]), e2e["valence"]
    # two seeds: mean±sd and the interval of the seed mean (the LOO figure averaged over seeds)
    number = r"-?\.\d{3}"
    assert re.fullmatch(rf"{number}±{number} \[{number}, {number}\] \({number}±{number}; LOO \.100\)", e2e["arousal"]), e2e["arousal"]
    raters = table[table["system"] == RATERS_LABEL].iloc[0]
    assert raters["arousal"] == ".820 [.740, .880] (.800)"
    notes = " ".join(table.attrs["notes"])
    assert "post-processing lowered test CCC: raw signal, end-to-end (CCC) arousal" in notes
    assert "intervals: test note" in notes and "6" in notes
    yang = yang_table(metrics, DEFAULT_MODELS, "RECOLA", agreement=agreement.iloc[:0])
    wave = yang[yang["model"] == "wave"].iloc[0]
    assert wave["arousal"].startswith("collapsed: ") and wave["valence"].startswith("collapsed: ")
    assert any("near-constant" in n for n in yang.attrs["notes"])
    assert any("no individual ratings" in n for n in yang.attrs["notes"])
    assert yang[yang["system"] == RATERS_LABEL].iloc[0]["arousal"] == MISSING
