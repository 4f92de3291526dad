"""Runs read from their files and scored together: interval columns, seeds, `collapsed`."""

from __future__ import annotations

import numpy as np
import pytest

from crafted_runs import crafted, write_run
from emotrace import collapse
from emotrace.errors import InputError
from emotrace.runs import INTERVAL_COLUMNS, Scores, load_runs, run_key, with_intervals
from emotrace.uncertainty import settings

CFG = settings({"replicates": 500})


def test_run_files_are_matched_by_key(tmp_path):
    runs, _ = crafted({("e2e", "ccc", "arousal", 1): 0.8})
    paths = write_run(tmp_path / "results" / "c", runs[0])
    assert run_key(paths["raw"]) == ("e2e", "ccc", "arousal", 1)
    (loaded,) = load_runs([paths["raw"]], [paths["postprocessed"]], [paths["settings"]], [paths["history"]])
    assert loaded.key == runs[0].key and loaded.history["dev_ccc_arousal"].max() == pytest.approx(0.02)
    assert loaded.settings["arousal"]["dev_ccc_loo"] == 0.1
    with pytest.raises(InputError, match="no post-processing settings"):
        load_runs([paths["raw"]], [paths["postprocessed"]], [])
    with pytest.raises(InputError, match="not a run file path"):
        run_key(tmp_path / "predictions.csv")


def test_interval_columns_seeds_and_collapsed():
    runs, metrics = crafted({("e2e", "ccc", "arousal", 1): 0.8, ("e2e", "ccc", "arousal", 2): 0.7,
                             ("wave", "ccc", "joint", 1): None})
    scores = Scores(runs, CFG)
    out = with_intervals(metrics, scores, collapse.settings())
    assert set(INTERVAL_COLUMNS) <= set(out.columns) and len(out) == len(metrics)
    e2e = out[(out["model"] == "e2e") & (out["partition"] == "test")]
    assert (e2e["ccc_low"] < e2e["ccc"]).all() and (e2e["ccc"] < e2e["ccc_high"]).all()
    # the interval of the seed mean lies around the mean of the seeds' figures, the same on each seed's row
    mean = e2e.groupby("postprocessed")["ccc"].mean()
    for pp, rows in e2e.groupby("postprocessed"):
        assert rows["ccc_seeds_low"].nunique() == 1
        assert rows["ccc_seeds_low"].iloc[0] < mean[pp] < rows["ccc_seeds_high"].iloc[0]
    assert not e2e["collapsed"].any()
    wave = out[out["model"] == "wave"]
    assert wave["collapsed"].all() and wave["collapse_reason"].str.contains("near-constant").all()
    dev_pp = out[(out["partition"] == "dev") & out["postprocessed"]]
    assert np.allclose(dev_pp["dev_ccc_loo"], 0.1)
    assert out.loc[out["partition"] == "test", "dev_ccc_loo"].isna().all()
    assert "whole recordings" not in scores.describe() and "20 s blocks over 4 recordings" in scores.describe()
