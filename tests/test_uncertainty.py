"""Block bootstrap of CCC: exact sums, coverage on traces with a known CCC, the paired test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import signal

from emotrace.errors import InputError
from emotrace.metrics import ccc
from emotrace.uncertainty import Resampler, common_frames, interval, on_frames, paired, settings


def ar1(n: int, phi: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance AR(1) trace (autocorrelated like a rating), started in its stationary state."""
    e = rng.standard_normal(n) * np.sqrt(1 - phi**2)
    x = signal.lfilter([1.0], [1.0, -phi], e, zi=[rng.standard_normal() * phi])[0]
    return x


def simulate(lengths, rho: float, bias: float, rng, phi: float = 0.95):
    """Gold and a prediction whose population CCC is 2 rho / (2 + bias^2)."""
    gold = np.concatenate([ar1(n, phi, rng) for n in lengths])
    noise = np.concatenate([ar1(n, phi, rng) for n in lengths])
    return rho * gold + np.sqrt(1 - rho**2) * noise + bias, gold


@pytest.mark.parametrize("lengths", [[40, 700, 13], [300] * 12])
def test_replicates_match_ccc_of_the_resampled_frames(lengths):
    """Sums from cumulative sums give the CCC of the frames each replicate draws, in both modes."""
    rng = np.random.default_rng(0)
    pred, gold = simulate(lengths, 0.6, 0.2, rng)
    rs = Resampler(lengths, step=0.04, replicates=5, block_seconds=4.0, min_recordings=10, seed=1)
    assert rs.mode == ("recordings" if len(lengths) >= 10 else "blocks")
    concat, per_rec = rs.ccc(pred, gold)
    for b in range(5):
        idx_by_unit = {}
        for k in range(rs.starts.shape[1]):
            idx = rs.base[b, k] + (rs.starts[b, k] + np.arange(rs.sizes[b, k])) % rs.span[b, k]
            idx_by_unit.setdefault(rs.units[k], []).append(idx)
        units = [np.concatenate(v) for v in idx_by_unit.values()]
        every = np.concatenate(units)
        assert concat[b] == pytest.approx(ccc(pred[every], gold[every]), abs=1e-9)
        assert per_rec[b] == pytest.approx(np.mean([ccc(pred[i], gold[i]) for i in units]), abs=1e-9)


def test_same_seed_same_draws_and_constant_prediction_scores_zero():
    a = Resampler([500, 600], replicates=200, seed=4, name="test")
    b = Resampler([500, 600], replicates=200, seed=4, name="test")
    c = Resampler([500, 600], replicates=200, seed=4, name="dev")
    assert np.array_equal(a.starts, b.starts) and not np.array_equal(a.starts, c.starts)
    gold = np.random.default_rng(0).standard_normal(1100)
    concat, per_rec = a.ccc(np.full(1100, 0.3), gold)
    assert np.all(concat == 0) and np.all(per_rec == 0)


@pytest.mark.parametrize("lengths,block_seconds", [([750] * 20, 20.0), ([3000] * 3, 20.0)])
def test_interval_covers_a_known_ccc_about_95_in_100_times(lengths, block_seconds):
    """200 simulated partitions with population CCC 0.5: the nominal 95 % interval covers it 90-99 % of the time."""
    rho, bias = 0.55, 0.2
    truth = 2 * rho / (2 + bias**2)
    rng = np.random.default_rng(2026)
    rs = Resampler(lengths, step=0.04, replicates=1000, block_seconds=block_seconds, min_recordings=10, seed=7)
    covered = 0
    for _ in range(200):
        pred, gold = simulate(lengths, rho, bias, rng)
        low, high = interval(rs.ccc(pred, gold)[0])
        covered += low <= truth <= high
    assert 180 <= covered <= 198, f"coverage {covered / 200:.3f}"


def test_paired_rejects_a_known_difference_and_not_identical_systems():
    lengths = [1125] * 4
    rs = Resampler(lengths, replicates=2000, seed=3)
    rng = np.random.default_rng(5)
    gold = np.concatenate([ar1(n, 0.95, rng) for n in lengths])
    noise = [np.concatenate([ar1(n, 0.95, rng) for n in lengths]) for _ in range(3)]
    good = 0.9 * gold + np.sqrt(1 - 0.81) * noise[0]   # CCC about .9
    poor = 0.3 * gold + np.sqrt(1 - 0.09) * noise[1]   # CCC about .3
    result = paired(rs.ccc(good, gold)[0], rs.ccc(poor, gold)[0])
    assert result["diff_low"] > 0.3 and result["p"] < 0.01
    same = paired(rs.ccc(good, gold)[0], rs.ccc(good.copy(), gold)[0])
    assert same == {"diff_low": 0.0, "diff_high": 0.0, "p": 1.0}


def test_paired_false_rejections_near_the_nominal_rate():
    """Two different systems with the same population CCC: p < .05 in few of 100 simulated partitions."""
    lengths = [3000] * 3
    rs = Resampler(lengths, replicates=1000, seed=9)
    rng = np.random.default_rng(11)
    rejections = 0
    for _ in range(100):
        gold = np.concatenate([ar1(n, 0.95, rng) for n in lengths])
        a, b = (0.6 * gold + 0.8 * np.concatenate([ar1(n, 0.95, rng) for n in lengths]) for _ in range(2))
        rejections += paired(rs.ccc(a, gold)[0], rs.ccc(b, gold)[0])["p"] < 0.05
    assert rejections <= 12


def test_common_frames_and_settings_checks():
    a = pd.DataFrame({"recording": ["r1"] * 3 + ["r2"] * 2, "frame": [0, 1, 2, 0, 1], "prediction": np.arange(5.0)})
    b = pd.DataFrame({"recording": ["r1"] * 2 + ["r2"] * 3, "frame": [1, 2, 0, 1, 2], "prediction": np.arange(5.0)})
    frames = common_frames([a, b])
    assert frames.values.tolist() == [["r1", 1], ["r1", 2], ["r2", 0], ["r2", 1]]
    assert on_frames(b, frames).tolist() == [0.0, 1.0, 2.0, 3.0]
    with pytest.raises(InputError, match="replicates"):
        settings({"replicates": 10})
    with pytest.raises(InputError, match="unknown keys"):
        settings({"blocks": 3})
