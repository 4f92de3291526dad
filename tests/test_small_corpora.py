"""Small corpora through the snakemake command with the local profile (issue 25): three speakers split
60/10/30, labels every 100 ms, and test recordings too short and unvoiced for the cell figure."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, snakemake

sys.path.insert(0, str(REPO / "tests" / "fixtures"))
import make_corpora  # noqa: E402

pytestmark = pytest.mark.integration

SECONDS = 6.0  # 150 frames: under figures.min_cell_frames below


def write_noise_corpus(root: Path, speakers: int = 3, label_step: float = 0.1) -> Path:
    """Generic layout: per speaker 6 s of white noise (no voiced frame) at 16 kHz, labels every `label_step` s."""
    rng = np.random.default_rng(0)
    rows = ["recording,speaker,gender,age,audio_path"]
    for s in range(1, speakers + 1):
        speaker = f"S{s:02d}"
        make_corpora.write_audio(root / "audio" / f"{speaker}.wav",
                                 0.1 * rng.standard_normal((int(SECONDS * 16000), 1)), 16000)
        rows.append(f"{speaker},{speaker},{'FM'[s % 2]},{20 + s},audio/{speaker}.wav")
        times = make_corpora.grid(SECONDS, label_step)
        for dim in ("arousal", "valence"):
            make_corpora.write_time_value(root / "labels" / dim / f"{speaker}.csv", times,
                                          make_corpora.smooth_trace(times, rng))
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    return root


def test_profiles_keep_going_past_a_failed_job():
    for profile in ("local", "slurm"):
        assert yaml.safe_load((REPO / "profiles" / profile / "config.yaml").read_text())["keep-going"] is True


def test_three_speakers_10hz_labels_short_unvoiced_tests_run_to_the_tables(tmp_path):
    """One e2e network, one epoch: the 60/10/30 split gives dev its speaker (said in the split log),
    the ingest log names the 10 Hz rate and the interpolation, and the cell figure is drawn with
    notes instead of stopping the run before the tables."""
    root = write_noise_corpus(tmp_path / "corpus")
    config = {
        "corpus": {"name": "small", "adapter": "generic", "root": str(root), "dimensions": ["arousal", "valence"]},
        "split": {"method": "stratified", "seed": 1, "proportions": {"train": 0.6, "dev": 0.1, "test": 0.3}},
        "segments": {"train_hop": 3.0},
        "seeds": [1],
        "training": {"max_epochs": 1, "patience": 1},
        "postprocess": {"median_windows": [0.4], "shifts": [0.04]},
        "figures": {"min_cell_frames": 250},
        "models": {"e2e": {"network": "e2e", "objectives": ["ccc"], "batch_size": 4, "joint": True,
                           "kwargs": {"channels": 20, "second_kernel": 80, "hidden_size": 16}}},
    }
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(config))
    snakemake(tmp_path, "--profile", str(REPO / "profiles" / "local"), "--configfile", str(path), "--cores", "2",
              "results/small/tables/all_metrics.csv", "results/small/figures/cells_e2e.png")
    res, logs = tmp_path / "results" / "small", tmp_path / "logs"
    split = pd.read_csv(res / "split" / "split.csv", dtype=str)
    assert split["partition"].value_counts().to_dict() == {"train": 1, "dev": 1, "test": 1}
    assert "dev's share (0.3 of 3 groups) rounds to 0 groups; rounded up to 1" in (logs / "small" / "split.log").read_text()
    ingest = (logs / "small" / "ingest.log").read_text()
    for dim in ("arousal", "valence"):
        assert f"{dim}: 3 trace(s) at 10 Hz (every 100 ms): interpolated linearly onto the 40 ms grid" in ingest
    assert set(pd.read_csv(res / "tables" / "all_metrics.csv")["model"]) == {"e2e"}
    cells = (logs / "figure_cells" / "small.log").read_text()
    assert "fewer than figures.min_cell_frames = 250" in cells and "mean F0: no voiced frame" in cells
    assert (res / "figures" / "cells_e2e.png").is_file()
