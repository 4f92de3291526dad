"""Post-processing chain on constructed traces whose right settings are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emotrace.errors import InputError
from emotrace.metrics import PREDICTION_COLUMNS, ccc, evaluate
from emotrace.postprocess import DEFAULT_GRIDS, apply, loo_dev_ccc, postprocess, shift_frames, tune, window_frames

STEP = 0.04
N = 750  # 30 s per recording


def smooth_trace(rng: np.random.Generator, n: int = N, width: int = 61) -> np.ndarray:
    """A slowly varying emotion-like trace: noise smoothed over `width` frames, std 0.3."""
    kernel = np.hanning(width)
    x = np.convolve(rng.normal(size=n + 2 * width), kernel / kernel.sum(), mode="same")[width : width + n]
    return 0.3 * (x - x.mean()) / x.std()


def delayed(x: np.ndarray, frames: int) -> np.ndarray:
    """x as a rater reacting `frames` late would trace it."""
    return np.r_[np.full(frames, x[0]), x[:-frames]]


def corpus(make, seed: int = 0, dims=("arousal",), n_rec: int = 3, width: int = 61) -> pd.DataFrame:
    """Dev and test recordings; make(signal, rng) -> (prediction, gold)."""
    rng = np.random.default_rng(seed)
    rows = []
    for dim in dims:
        for part in ("dev", "test"):
            for i in range(n_rec):
                pred, gold = make(smooth_trace(rng, width=width), rng)
                rows.append(pd.DataFrame({
                    "recording": f"{part}_{i}", "partition": part, "dimension": dim,
                    "frame": np.arange(N), "time": np.arange(N) * STEP, "prediction": pred, "gold": gold,
                }))
    return pd.concat(rows, ignore_index=True)[PREDICTION_COLUMNS]


def kept(settings: dict) -> list[str]:
    return [s["name"] for s in settings["steps"] if s["kept"]]


def partition_ccc(df: pd.DataFrame, partition: str) -> float:
    rows = df[df["partition"] == partition]
    return ccc(rows["prediction"], rows["gold"])


def test_grid_conversions_and_defaults():
    assert window_frames(0.4, STEP) == 11  # 10 frames made odd
    assert window_frames(0.44, STEP) == 11
    assert window_frames(20.0, STEP) == 501
    assert shift_frames(2.0, STEP) == 50
    assert min(DEFAULT_GRIDS["median_windows"]) == 0.4 and max(DEFAULT_GRIDS["median_windows"]) == 20.0
    assert min(DEFAULT_GRIDS["shifts"]) == 0.04 and max(DEFAULT_GRIDS["shifts"]) == 10.0
    assert 2.0 in DEFAULT_GRIDS["shifts"] and 0.68 in DEFAULT_GRIDS["shifts"]


def test_rater_delay_of_two_seconds_is_recovered_by_the_shift():
    df = corpus(lambda x, rng: (x, delayed(x, 50)))
    settings, out = postprocess(df, {"steps": ["shift"]})
    s = settings["arousal"]
    assert s["shift"] == 2.0 and kept(s) == ["shift"]
    assert partition_ccc(out, "test") > 0.99 > partition_ccc(df, "test")


def test_full_chain_finds_the_delay_of_slow_traces():
    # The chain is greedy in the paper's order: the median filter chosen first can move
    # the best shift on fast traces, but not on traces as slow as emotion ratings (~12 s).
    df = corpus(lambda x, rng: (x, delayed(x, 50)), width=301)
    settings, out = postprocess(df)
    assert settings["arousal"]["shift"] == 2.0
    assert partition_ccc(out, "test") > partition_ccc(df, "test") + 0.1


def test_bias_is_fixed_by_centring_and_unhelpful_steps_are_not_applied():
    df = corpus(lambda x, rng: (x + 0.5, x))
    s = tune(df[df["partition"] == "dev"], DEFAULT_GRIDS)
    assert kept(s) == ["centre"]
    assert s["bias"] == pytest.approx(-0.5)
    assert s["median_window"] is None and s["scale"] is None and s["shift"] is None
    for step in s["steps"]:
        if step["name"] != "centre":
            assert step["ccc_after"] <= step["ccc_before"] + 1e-9
    assert s["dev_ccc"] == pytest.approx(1.0)


def test_wrong_scale_is_fixed_by_scaling_about_the_mean():
    rng = np.random.default_rng(5)
    golds = [smooth_trace(rng) + 0.2 for _ in range(6)]
    level = np.mean(np.concatenate(golds[:3]))  # dev gold mean: centring has nothing to fix

    def make(x, _rng, it=iter(golds)):
        gold = next(it)
        return level + 2.0 * (gold - level), gold

    df = corpus(make)
    # Without scaling, a median filter alone would shrink the too-large swings: leave it out.
    settings, out = postprocess(df, {"steps": ["centre", "scale", "shift"]})
    s = settings["arousal"]
    assert kept(s) == ["scale"]
    assert s["scale"] == pytest.approx(0.5)
    assert s["scale_centre"] == pytest.approx(level)
    assert partition_ccc(out, "dev") == pytest.approx(1.0)


def test_noisy_trace_is_improved_by_the_median_filter():
    df = corpus(lambda x, rng: (x + rng.normal(scale=0.4, size=x.size), x))
    settings, out = postprocess(df, {"steps": ["median"]})
    s = settings["arousal"]
    assert s["median_window"] is not None and s["median_window"] > 0.4
    assert round(s["median_window"] / STEP) % 2 == 1
    assert partition_ccc(out, "dev") > partition_ccc(df, "dev") + 0.1
    assert partition_ccc(out, "test") > partition_ccc(df, "test") + 0.1


def test_perfect_prediction_is_left_alone():
    df = corpus(lambda x, rng: (x, x))
    settings, out = postprocess(df)
    assert kept(settings["arousal"]) == []
    pd.testing.assert_frame_equal(out, df)


def test_constant_prediction_keeps_nothing_and_gives_no_nan():
    df = corpus(lambda x, rng: (np.full(x.size, 0.1), x))
    settings, out = postprocess(df)
    s = settings["arousal"]
    assert kept(s) == [] and s["dev_ccc"] == 0.0
    assert [step["candidate"] for step in s["steps"] if step["name"] == "scale"] == [None]
    assert not out["prediction"].isna().any()


def test_test_data_never_influences_any_choice():
    def make(x, rng):
        gold = delayed(x, 30)
        return 0.4 * x + 0.1 + rng.normal(scale=0.1, size=x.size), gold

    df = corpus(make, seed=7)
    settings, out = postprocess(df)
    assert len(kept(settings["arousal"])) >= 3

    rng = np.random.default_rng(99)
    perturbed = df.copy()
    test = perturbed["partition"] == "test"
    perturbed.loc[test, "prediction"] = rng.normal(size=test.sum()) * 5 - 3
    perturbed.loc[test, "gold"] = rng.normal(size=test.sum())
    settings2, out2 = postprocess(perturbed)
    assert settings2 == settings
    pd.testing.assert_frame_equal(out2[~test], out[~test])


def test_settings_dev_ccc_agrees_with_evaluation():
    df = corpus(lambda x, rng: (0.5 * x - 0.2 + rng.normal(scale=0.2, size=x.size), delayed(x, 20)), seed=3)
    settings, out = postprocess(df)
    dev = evaluate(out).set_index("partition").loc["dev", "ccc"]
    assert settings["arousal"]["dev_ccc"] == pytest.approx(dev, abs=1e-12)
    chain = [s["ccc_after"] if s["kept"] else s["ccc_before"] for s in settings["arousal"]["steps"]]
    assert chain == sorted(chain)  # each kept step raised dev CCC


def test_shift_stays_within_each_recording_and_row_order_is_kept():
    df = corpus(lambda x, rng: (x, x), n_rec=2)
    settings = {"dimension": "arousal", "step": STEP, "median_window": None, "bias": None,
                "scale": None, "scale_centre": None, "shift": 0.2}
    shuffled = df.sample(frac=1.0, random_state=1)
    out = apply(shuffled, settings)
    assert out.index.equals(shuffled.index)
    pd.testing.assert_frame_equal(out.drop(columns="prediction"), shuffled.drop(columns="prediction"))
    for recording, rec in df.groupby("recording"):
        got = out.loc[rec.index, "prediction"].to_numpy()
        x = rec["prediction"].to_numpy()
        np.testing.assert_array_equal(got[:5], np.full(5, x[0]))  # filled with its own first value
        np.testing.assert_array_equal(got[5:], x[:-5])


def test_each_dimension_is_tuned_separately():
    df = corpus(lambda x, r: (x, delayed(x, 25)), dims=("arousal", "valence"))
    val = df["dimension"] == "valence"
    df.loc[val, "prediction"] = df.loc[val, "gold"] - 0.3
    settings, out = postprocess(df, {"steps": ["centre", "shift"]})
    assert settings["arousal"]["shift"] == 1.0
    assert settings["valence"]["bias"] == pytest.approx(0.3) and settings["valence"]["shift"] is None
    with pytest.raises(InputError, match="tuned for 'arousal'"):
        apply(df[val], settings["arousal"])


def test_disabled_returns_identity():
    df = corpus(lambda x, rng: (x + 0.5, x))
    settings, out = postprocess(df, enabled=False)
    s = settings["arousal"]
    assert s["enabled"] is False and s["steps"] == []
    assert all(s[k] is None for k in ("median_window", "bias", "scale", "shift"))
    assert s["dev_ccc_raw"] == pytest.approx(partition_ccc(df, "dev"))
    pd.testing.assert_frame_equal(out, df)


def test_bad_input_raises():
    df = corpus(lambda x, rng: (x, x))
    with pytest.raises(InputError, match="no dev predictions; cannot tune post-processing"):
        postprocess(df[df["partition"] == "test"])
    with pytest.raises(InputError, match="tuned on dev only"):
        tune(df, DEFAULT_GRIDS)
    with pytest.raises(InputError, match="unknown keys"):
        postprocess(df, {"shift": [1.0]})
    gap = df[~((df["recording"] == "dev_1") & df["frame"].between(10, 12))]
    with pytest.raises(InputError, match="'dev_1'.*gap"):
        postprocess(gap)


def test_avec2018_scaling_multiplies_the_prediction_itself():
    """scale * p (AVEC 2018) instead of scaling about the mean: the mean moves with the scale."""
    rng = np.random.default_rng(8)

    def make(x, _rng):
        return 0.5 + 2.0 * x, x  # too wide swings around a mean of 0.5, gold mean 0

    df = corpus(make)
    settings, out = postprocess(df, {"steps": ["scale"], "scaling": "avec2018"})
    s = settings["arousal"]
    assert s["scaling"] == "avec2018" and s["scale_centre"] == 0.0
    dev = df[df["partition"] == "dev"]
    assert s["scale"] == pytest.approx(dev["gold"].std(ddof=0) / dev["prediction"].std(ddof=0))
    np.testing.assert_allclose(out["prediction"], s["scale"] * df["prediction"])
    mean_kept, _ = postprocess(df, {"steps": ["scale"]})
    assert mean_kept["arousal"]["scaling"] == "mean_preserving"
    # scaled about its own mean 0.5 the trace keeps its offset, which costs more CCC than the swings
    assert mean_kept["arousal"]["scale"] is None and mean_kept["arousal"]["steps"][0]["kept"] is False
    with pytest.raises(InputError, match="scaling"):
        postprocess(df, {"scaling": "zscore"})


def test_leave_one_dev_recording_out_is_below_the_tuned_figure_on_noise():
    """On predictions unrelated to the gold, tuning on dev looks good on dev; held-out dev says otherwise."""
    def make(x, rng):
        return smooth_trace(rng, width=301), x

    df = corpus(make, seed=3, n_rec=4)
    settings, _ = postprocess(df)
    s = settings["arousal"]
    assert s["dev_ccc_loo"] is not None and s["dev_ccc_loo"] < s["dev_ccc"] - 0.05
    dev = df[df["partition"] == "dev"]
    assert loo_dev_ccc(dev) == pytest.approx(s["dev_ccc_loo"])
    assert loo_dev_ccc(dev[dev["recording"] == "dev_0"]) is None


def test_leave_one_out_close_to_tuned_when_the_chain_generalises():
    """A delayed, noisy copy of the gold: the chain found on three recordings works on the fourth."""
    def make(x, rng):
        return delayed(x, 50) + 0.05 * rng.standard_normal(N), x

    settings, _ = postprocess(corpus(make, seed=4, n_rec=4))
    s = settings["arousal"]
    assert s["dev_ccc_loo"] == pytest.approx(s["dev_ccc"], abs=0.05)
