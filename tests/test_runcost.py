"""Run cost from Snakemake benchmark files: reading, per-stage sums, growth fits and extrapolation, the figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from snakemake.benchmark import BenchmarkRecord, write_benchmark_records

from emotrace.errors import InputError
from emotrace.figures.runcost import plot_run_cost
from emotrace.runcost import (
    collect,
    cost_table,
    fit_growth,
    draw_of,
    job_of,
    per_stage,
    read_benchmark,
    scale_table,
    stage_of,
    totals,
)


def bench(path: Path, wall: float, cpu: float | None, rss: float | None) -> Path:
    """A benchmark file written by Snakemake's own writer (None: no process data collected, written NA)."""
    record = BenchmarkRecord(running_time=wall, max_rss=rss, cpu_time=cpu)
    record.data_collected = rss is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    write_benchmark_records([record], str(path), extended_fmt=False)
    return path


@pytest.fixture
def run(tmp_path) -> list[Path]:
    b = tmp_path / "benchmarks" / "synthetic"
    return [
        bench(b / "preprocess" / "spk01.tsv", 2.0, None, None),
        bench(b / "preprocess" / "spk02.tsv", 3.0, 2.5, 300.0),
        bench(b / "extract_features" / "egemaps" / "spk01.tsv", 10.0, 9.0, 500.0),
        bench(b / "extract_features" / "compare" / "spk01.tsv", 40.0, 39.0, 900.0),
        bench(b / "train_network" / "e2e" / "ccc" / "arousal" / "seed1.tsv", 600.0, 1100.0, 4000.0),
        bench(b / "train_network" / "e2e" / "mse" / "arousal" / "seed1.tsv", 500.0, 1000.0, 4200.0),
        bench(b / "figure_lime.tsv", 30.0, 29.0, 800.0),
    ]


def test_read_benchmark_of_snakemake_format(run):
    assert read_benchmark(run[1]) == {"wall_s": 3.0, "cpu_s": 2.5, "peak_rss_mb": 300.0}
    short = read_benchmark(run[0])  # a job too short for Snakemake to sample: NA, read as NaN
    assert short["wall_s"] == 2.0 and np.isnan(short["cpu_s"]) and np.isnan(short["peak_rss_mb"])


def test_bad_benchmark_files_name_the_file(tmp_path):
    bad = tmp_path / "benchmarks" / "c" / "r.tsv"
    bad.parent.mkdir(parents=True)
    bad.write_text("s\tfoo\n1\t2\n")
    with pytest.raises(InputError, match=r"r\.tsv.*lacks columns"):
        read_benchmark(bad)
    bad.write_text("")
    with pytest.raises(InputError, match=r"r\.tsv"):
        read_benchmark(bad)
    with pytest.raises(InputError, match="benchmarks/"):
        job_of(tmp_path / "x.tsv")


def test_stages_from_paths():
    assert job_of("/w/benchmarks/syn/train_network/e2e/ccc/arousal/seed1.tsv") == (
        "syn", "train_network", "e2e/ccc/arousal/seed1")
    assert job_of("benchmarks/syn/figure_cells.tsv") == ("syn", "figure_cells", "")
    assert stage_of("train_network", "e2e/ccc/arousal/seed1") == "train_network/e2e"
    assert stage_of("extract_features", "compare/spk01") == "extract_features/compare"
    assert stage_of("preprocess", "spk01") == "preprocess"


def test_per_stage_sums_wall_and_cpu_and_keeps_the_largest_peak(run):
    stages = per_stage(collect(run)).set_index("stage")
    assert list(stages.index) == ["preprocess", "extract_features/egemaps", "extract_features/compare",
                                  "train_network/e2e", "figure_lime"]
    assert stages.loc["preprocess", "jobs"] == 2 and stages.loc["preprocess", "wall_s"] == 5.0
    assert stages.loc["preprocess", "cpu_s"] == 2.5  # the NA job adds nothing, it does not void the sum
    assert stages.loc["train_network/e2e", "cpu_s"] == 2100.0
    assert stages.loc["train_network/e2e", "peak_rss_mb"] == 4200.0
    total = totals(stages.reset_index())
    assert total == {"jobs": 7, "wall_s": 1185.0, "cpu_s": 2179.5, "peak_rss_mb": 4200.0}


def test_cost_table_has_readable_units_and_a_total(run):
    table = cost_table(collect(run))
    assert table["stage"].iloc[-1] == "total" and table["jobs"].iloc[-1] == 7
    row = table.set_index("stage").loc["train_network/e2e"]
    assert row["wall (summed)"] == "18.3 min" and row["peak RSS of a job"] == "4.10 GiB"
    assert table.set_index("stage").loc["preprocess", "peak RSS of a job"] == "300 MiB"


def test_jobs_of_folds_count_under_their_stage_and_each_fold_gets_a_cost_line(tmp_path):
    b = tmp_path / "benchmarks" / "syn"
    run = [
        bench(b / "preprocess" / "spk01.tsv", 3.0, 2.5, 300.0),
        bench(b / "feature_stats" / "folds" / "1" / "egemaps.tsv", 2.0, 1.5, 200.0),
        bench(b / "train_network" / "folds" / "1" / "e2e" / "ccc" / "arousal" / "seed1.tsv", 60.0, 55.0, 900.0),
        bench(b / "train_network" / "folds" / "2" / "e2e" / "ccc" / "arousal" / "seed1.tsv", 40.0, 35.0, 900.0),
    ]
    assert draw_of("folds/2/e2e/ccc/arousal/seed1") == ("folds/2", "e2e/ccc/arousal/seed1")
    assert draw_of("redraws/3/egemaps") == ("redraws/3", "egemaps") and draw_of("egemaps") == ("", "egemaps")
    jobs = collect(run)
    assert list(per_stage(jobs)["stage"]) == ["preprocess", "feature_stats", "train_network/e2e"]
    assert per_stage(jobs).set_index("stage").loc["train_network/e2e", "jobs"] == 2
    notes = cost_table(jobs).attrs["notes"][-1]
    assert "folds/1: 2 jobs, wall 1.0 min (summed), CPU 56.5 s" in notes
    assert "folds/2: 1 jobs" in notes and "shared by every draw: 1 jobs" in notes
    assert not any("cost per draw" in n for n in cost_table(collect(run[:1])).attrs["notes"])


def test_linear_growth_with_overhead_is_fitted_and_extrapolated():
    x = np.array([12.0, 24.0, 46.0])
    g = fit_growth(x, 30 + 2.0 * x)
    assert g.kind == "linear" and g.a == pytest.approx(30) and g.b == pytest.approx(2)
    assert 0 < g.exponent < 1  # the constant part makes it grow slower than the corpus
    assert g(230.0) == pytest.approx(490.0)


def test_power_growth_is_fitted_with_its_exponent():
    x = np.array([12.0, 24.0, 46.0])
    g = fit_growth(x, 0.5 * x**1.8)
    assert g.kind == "power" and g.exponent == pytest.approx(1.8) and g(230.0) == pytest.approx(0.5 * 230**1.8)


def test_flat_costs_are_constant_not_extrapolated_noise():
    g = fit_growth([12.0, 24.0, 46.0], [700.0, 690.0, 720.0])
    assert g.kind == "constant" and g.exponent == 0.0 and g(230.0) == pytest.approx(703.2, abs=1)


def test_a_cost_that_falls_with_size_is_not_extrapolated_downwards():
    g = fit_growth([12.0, 24.0, 46.0], [150.0, 60.0, 40.0])
    assert g.kind == "linear" and g.b == 0.0 and g(230.0) == pytest.approx(250 / 3)


def test_growth_needs_two_sizes():
    with pytest.raises(InputError, match="two or more"):
        fit_growth([10.0, 10.0], [1.0, 2.0])


def test_scale_table_extrapolates_every_stage_and_metric():
    rows = []
    for minutes in (10.0, 20.0, 40.0):
        rows.append({"minutes": minutes, "stage": "train_network/e2e", "wall_s": 60 * minutes, "cpu_s": 120 * minutes,
                     "peak_rss_mb": 1000 + 10 * minutes})
        rows.append({"minutes": minutes, "stage": "figure_lime", "wall_s": 30.0, "cpu_s": 29.0, "peak_rss_mb": 800.0})
    table = scale_table(pd.DataFrame(rows), {"RECOLA": 230.0})
    assert list(table.columns) == ["stage", "metric", "10 min", "20 min", "40 min", "growth", "RECOLA"]
    e2e = table[table["stage"] == "train_network/e2e"].set_index("metric")
    assert e2e.loc["wall", "RECOLA"] == "3.83 h" and e2e.loc["wall", "growth"] == "linear, exponent 1.00"
    assert e2e.loc["peak RSS", "RECOLA"] == "3.22 GiB"  # 1000 + 10 x 230 MiB
    lime = table[table["stage"] == "figure_lime"].set_index("metric")
    assert lime.loc["wall", "RECOLA"] == "30.0 s" and lime.loc["wall", "growth"].endswith("exponent 0.00")


def test_run_cost_figure(run, tmp_path):
    paths = plot_run_cost(collect(run), tmp_path / "run_cost", corpus="synthetic")
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 1000 for p in paths)
    with pytest.raises(InputError, match="no benchmark"):
        plot_run_cost(collect([]), tmp_path / "empty")


def test_scaled_config_resizes_the_corpus_and_caps_epochs():
    from emotrace.runcost import scaled_config

    base = {"corpus": {"name": "r", "adapter": "synthetic", "root": "x"}, "synthetic": {"n_speakers": 46, "seed": 1},
            "training": {"max_epochs": 100, "patience": 10},
            "models": {"e2e": {"network": "e2e", "objectives": ["ccc"]},
                       "drnn": {"network": "drnn", "objectives": ["ccc"], "max_epochs": 50}}}
    config = scaled_config(base, 12, 60, 1, models=["drnn"])
    assert config["corpus"]["name"] == "scale_12x60s" and config["corpus"]["root"] == "results/corpora/scale_12x60s"
    assert config["synthetic"] == {"n_speakers": 12, "seed": 1, "duration": 60.0}
    assert config["training"]["max_epochs"] == 1 and list(config["models"]) == ["drnn"]
    assert config["models"]["drnn"]["max_epochs"] == 1
    assert base["models"]["drnn"]["max_epochs"] == 50 and base["synthetic"]["n_speakers"] == 46  # base untouched
    with pytest.raises(InputError, match="wave"):
        scaled_config(base, 12, 60, 1, models=["wave"])


def test_run_stages_reads_a_run_folder(run, tmp_path):
    from emotrace.runcost import run_stages

    stages = run_stages(tmp_path, "synthetic", 12.0)
    assert set(stages["minutes"]) == {12.0} and "train_network/e2e" in set(stages["stage"])
    with pytest.raises(InputError, match="no benchmark"):
        run_stages(tmp_path, "other", 1.0)
