"""CCC and friends against direct formulas; evaluation protocols; trace alignment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emotrace.errors import InputError
from emotrace.metrics import (
    METRICS_FILE_COLUMNS, PREDICTION_COLUMNS, align, ccc, ccc_columns, evaluate, metrics_file, pearson, rmse,
)

STEP = 0.04


def direct_ccc(x: np.ndarray, y: np.ndarray) -> float:
    """The textbook formula with 1/N moments, written out independently."""
    n = len(x)
    mx, my = x.sum() / n, y.sum() / n
    vx, vy = ((x - mx) ** 2).sum() / n, ((y - my) ** 2).sum() / n
    cov = ((x - mx) * (y - my)).sum() / n
    return 2 * cov / (vx + vy + (mx - my) ** 2)


def test_ccc_matches_direct_biased_formula():
    rng = np.random.default_rng(1)
    for n in (2, 7, 500):
        x = rng.normal(size=n)
        y = 0.3 * x + rng.normal(size=n) + 0.5
        assert ccc(x, y) == pytest.approx(direct_ccc(x, y), rel=1e-12)
        unbiased = 2 * np.cov(x, y)[0, 1] / (x.var(ddof=1) + y.var(ddof=1) + (x.mean() - y.mean()) ** 2)
        if n < 10:
            assert abs(ccc(x, y) - unbiased) > 1e-6  # 1/N really is what is used


def test_ccc_extremes():
    x = np.linspace(-1, 1, 50)
    assert ccc(x, x) == pytest.approx(1.0)
    assert ccc(-x, x) == pytest.approx(-1.0)
    assert ccc(x + 1.0, x) < 1.0
    assert ccc(2 * x, x) < 1.0


def test_constant_prediction_or_gold_gives_zero_not_nan():
    gold = np.sin(np.linspace(0, 6, 100))
    const = np.full(100, 0.1)
    assert ccc(const, gold) == 0.0
    assert ccc(gold, const) == 0.0
    assert ccc(const, const) == 0.0
    assert pearson(const, gold) == 0.0
    # identical floats whose mean is not exactly representable still count as constant
    assert ccc(np.full(7, 0.1 + 0.2), gold[:7]) == 0.0
    assert not np.isnan(ccc_columns(np.stack([const, gold], axis=1), gold)).any()


def test_empty_mismatched_and_nan_inputs_raise():
    with pytest.raises(InputError, match="empty"):
        ccc([], [])
    with pytest.raises(InputError, match="3 values but gold has 2"):
        ccc([1, 2, 3], [1, 2])
    with pytest.raises(InputError, match="NaN"):
        ccc([1.0, np.nan], [1.0, 2.0])


def test_pearson_and_rmse_match_numpy():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=300), rng.normal(size=300)
    assert pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-10)
    assert rmse(x, y) == pytest.approx(np.sqrt(np.mean((x - y) ** 2)))


def predictions_frame(traces: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]], dimension: str = "arousal") -> pd.DataFrame:
    rows = []
    for (recording, partition), (pred, gold) in traces.items():
        n = len(pred)
        rows.append(pd.DataFrame({
            "recording": recording, "partition": partition, "dimension": dimension,
            "frame": np.arange(n), "time": np.arange(n) * STEP, "prediction": pred, "gold": gold,
        }))
    return pd.concat(rows, ignore_index=True)[PREDICTION_COLUMNS]


def test_concatenated_and_per_recording_ccc_differ():
    # The model gets each recording's level right but not the movement within it:
    # concatenated, the between-recording levels make the CCC high; per recording it is near 0.
    rng = np.random.default_rng(4)
    g1, g2 = 1.0 + 0.1 * rng.normal(size=200), -1.0 + 0.1 * rng.normal(size=200)
    p1, p2 = 1.0 + 0.1 * rng.normal(size=200), -1.0 + 0.1 * rng.normal(size=200)
    df = predictions_frame({("r1", "test"): (p1, g1), ("r2", "test"): (p2, g2)})
    m = evaluate(df).iloc[0]
    assert m["ccc"] == pytest.approx(direct_ccc(np.r_[p1, p2], np.r_[g1, g2]))
    assert m["ccc_per_recording"] == pytest.approx((direct_ccc(p1, g1) + direct_ccc(p2, g2)) / 2)
    assert m["ccc"] > 0.9 and abs(m["ccc_per_recording"]) < 0.3
    assert m["n_frames"] == 400


def test_evaluate_layout_one_row_per_partition_and_dimension():
    rng = np.random.default_rng(3)
    parts = []
    for dim in ("arousal", "valence"):
        parts.append(predictions_frame({
            (f"{p}_{i}", p): (rng.normal(size=30), rng.normal(size=30)) for p in ("test", "dev") for i in range(2)
        }, dimension=dim))
    out = evaluate(pd.concat(parts, ignore_index=True))
    assert list(out.columns) == ["partition", "dimension", "ccc", "ccc_per_recording", "pearson", "rmse", "n_frames"]
    assert list(zip(out["partition"], out["dimension"])) == [
        ("dev", "arousal"), ("dev", "valence"), ("test", "arousal"), ("test", "valence"),
    ]
    assert (out["n_frames"] == 60).all()


def test_metrics_file_holds_raw_and_postprocessed_rows():
    rng = np.random.default_rng(5)
    raw = predictions_frame({("d", "dev"): (rng.normal(size=50), rng.normal(size=50)),
                             ("t", "test"): (rng.normal(size=50), rng.normal(size=50))})
    post = raw.assign(prediction=raw["gold"])
    out = metrics_file(raw, post)
    assert list(out.columns) == METRICS_FILE_COLUMNS
    assert out["postprocessed"].tolist() == [False, False, True, True]
    assert out.loc[out["postprocessed"], "ccc"].tolist() == [1.0, 1.0]
    assert len(metrics_file(raw)) == 2


def test_evaluate_rejects_bad_frames():
    df = predictions_frame({("r1", "dev"): (np.arange(5.0), np.arange(5.0))})
    with pytest.raises(InputError, match="missing columns"):
        evaluate(df.drop(columns="gold"))
    with pytest.raises(InputError, match="'r1'.*twice"):
        evaluate(pd.concat([df, df.iloc[:1]]))
    with pytest.raises(InputError, match="NaN"):
        evaluate(df.assign(prediction=np.r_[np.nan, np.arange(4.0)]))


def gold_labels(recording: str, n: int) -> pd.DataFrame:
    return pd.DataFrame({
        "recording": recording, "dimension": "arousal", "frame": np.arange(n),
        "time": np.arange(n) * STEP, "value": np.sin(np.arange(n) / 5.0),
    })


def model_output(recording: str, frames: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "recording": recording, "partition": "dev", "dimension": "arousal",
        "time": frames * STEP, "prediction": frames * 0.01,
    })


def test_align_tolerates_one_trailing_frame_and_pairs_by_time():
    gold = gold_labels("P19", 100)
    out = align(model_output("P19", np.arange(99)), gold, "train/predictions.csv")  # one frame short
    assert list(out.columns) == PREDICTION_COLUMNS
    assert len(out) == 99
    np.testing.assert_allclose(out["gold"], gold["value"].iloc[:99])
    np.testing.assert_allclose(out["time"], np.arange(99) * STEP)
    longer = align(model_output("P19", np.arange(101)), gold, "x")  # one frame too many: dropped
    assert len(longer) == 100
    shuffled = model_output("P19", np.arange(100)).sample(frac=1.0, random_state=0)
    np.testing.assert_allclose(align(shuffled, gold, "x")["prediction"], np.arange(100) * 0.01)


def test_align_gap_names_the_recording():
    frames = np.r_[np.arange(40), np.arange(45, 100)]
    with pytest.raises(InputError, match=r"'P19'.*gap of 5 missing frame.*1\.56 s and 1\.80 s") as err:
        align(model_output("P19", frames), gold_labels("P19", 100), "train/predictions.csv")
    assert "train/predictions.csv" in str(err.value)


def test_align_rejects_larger_length_difference_missing_gold_and_offgrid_times():
    gold = gold_labels("P19", 100)
    with pytest.raises(InputError, match="'P19'.*at most 1 frame"):
        align(model_output("P19", np.arange(98)), gold, "x")
    with pytest.raises(InputError, match="'P20'.*no gold"):
        align(model_output("P20", np.arange(100)), gold, "x")
    offgrid = model_output("P19", np.arange(100)).assign(time=lambda d: d["time"] + 0.02)
    with pytest.raises(InputError, match="not on the 0.04 s frame grid"):
        align(offgrid, gold, "x")
