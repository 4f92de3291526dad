"""Label traces at their own rate onto the 40 ms grid: kept, interpolated or averaged, said in the log;
irregular and decreasing time stamps refused naming the file."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emotrace.corpora import get_adapter
from emotrace.corpora.labels import frame_times
from emotrace.corpora.rates import GridMapping, describe, to_grid, trace_step
from emotrace.errors import InputError

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import make_corpora  # noqa: E402

GRID = frame_times(4.0)  # 0, 0.04, ... 4.00 s


def test_a_trace_on_the_grid_is_kept():
    values = np.sin(GRID)
    got, mapping = to_grid(GRID, values, GRID, 0.04, "a.csv")
    np.testing.assert_array_equal(got, values)
    assert mapping == GridMapping(pytest.approx(0.04), "kept")


def test_a_trace_at_the_grid_rate_but_shifted_is_interpolated():
    _, mapping = to_grid(GRID + 0.01, np.sin(GRID), GRID, 0.04, "a.csv")
    assert mapping.action == "interpolated"


def test_a_10_hz_trace_is_interpolated_linearly():
    times = np.arange(41) * 0.1
    got, mapping = to_grid(times, 2 * times, GRID, 0.04, "a.csv")
    np.testing.assert_allclose(got, 2 * GRID, atol=1e-12)
    assert mapping.action == "interpolated" and mapping.step == pytest.approx(0.1)


def test_a_100_hz_trace_is_averaged_over_each_frame():
    times = np.arange(401) * 0.01
    values = np.where(np.arange(401) % 2 == 0, 1.0, -1.0)  # alternates faster than the grid can follow
    got, mapping = to_grid(times, values, GRID, 0.04, "a.csv")
    assert mapping.action == "averaged"
    # frame k averages the samples at k*40 ms - 20 ms <= t < k*40 ms + 20 ms: as many of each sign,
    # but the last frame, where the trace ends at 4.00 s (3.98, 3.99 and 4.00 s: +1, -1, +1)
    assert np.abs(got[:-1]).max() < 1e-12 and got[-1] == pytest.approx(1 / 3)
    # linear interpolation would have picked the +1 samples only (every frame time is an even 10 ms)
    assert np.interp(GRID, times, values)[1:-1].min() == 1.0


def test_jitter_and_missing_samples_are_accepted():
    rng = np.random.default_rng(0)
    times = np.round(np.delete(np.arange(100) * 0.1, [30, 31]) + rng.uniform(-0.005, 0.005, 98), 2)
    assert trace_step(times, "a.csv") == pytest.approx(0.1, abs=0.011)


def test_irregular_time_stamps_are_refused_naming_file_and_line():
    times = np.concatenate([np.arange(31) * 0.1, 3.0 + np.arange(1, 20) * 0.04])  # 10 Hz, then 25 Hz
    with pytest.raises(InputError, match=r"x\.csv:33: irregular time stamps: step 0\.04 s.*median step 0\.1 s"):
        to_grid(times, np.zeros_like(times), GRID, 0.04, "x.csv")
    with pytest.raises(InputError, match=r"x\.csv:5: time 0\.1 does not increase \(previous 0\.2\)"):
        to_grid(np.array([0.0, 0.1, 0.2, 0.1, 0.3]), np.zeros(5), GRID, 0.04, "x.csv")
    with pytest.raises(InputError, match=r"x\.csv.*a rate needs at least 2"):
        trace_step(np.array([0.0]), "x.csv")


def test_describe_says_rate_and_action_per_group_of_files():
    line = describe("arousal", [GridMapping(0.1, "interpolated")] * 5 + [GridMapping(0.02, "averaged")], 0.04)
    assert line == ("arousal: 5 trace(s) at 10 Hz (every 100 ms): interpolated linearly onto the 40 ms grid; "
                    "1 trace(s) at 50 Hz (every 20 ms): averaged over each 40 ms frame (denser than the grid)")


def test_generic_adapter_logs_rates_and_refuses_irregular_files(tmp_path, caplog):
    root = make_corpora.write_generic(tmp_path / "c", speakers=2, label_step=0.1, channels=1, sample_rate=16000)
    with caplog.at_level(logging.INFO):
        get_adapter("generic", root).labels(["arousal", "valence"])
    assert "arousal: 3 trace(s) at 10 Hz (every 100 ms): interpolated linearly onto the 40 ms grid" in caplog.text
    assert "valence: 3 trace(s) at 10 Hz" in caplog.text
    path = root / "labels" / "valence" / "S01_r1.csv"
    table = pd.read_csv(path)
    table.loc[11, "time"] += 0.05  # line 13: half a step late
    table.to_csv(path, index=False)
    with pytest.raises(InputError, match=r"S01_r1\.csv:13.*irregular time stamps"):
        get_adapter("generic", root).labels(["arousal", "valence"])


def test_recola_and_semaine_adapters_log_their_label_rates(tmp_path, caplog):
    """RECOLA's 40 ms traces are kept; SEMAINE's FeelTraces (~20 ms, their own clocks) are interpolated, as before."""
    recola = make_corpora.write_recola_full(tmp_path / "recola", seed=2, seconds=6.0)
    semaine = make_corpora.write_semaine(tmp_path / "semaine", seed=2, seconds=12.0)
    with caplog.at_level(logging.INFO):
        adapter = get_adapter("recola_full", recola)
        adapter.labels(["arousal"])
        adapter.rater_labels(["arousal"])
        get_adapter("semaine", semaine).labels(["arousal"])
    assert "label rate, arousal: 6 trace(s) at 25 Hz (every 40 ms): kept (on the 40 ms grid already)" in caplog.text
    assert "arousal raters: 36 trace(s) at 25 Hz (every 40 ms): kept" in caplog.text
    semaine_line = next(r.getMessage() for r in caplog.records if r.name.endswith("semaine") and "label rate" in r.getMessage())
    assert " at 50 Hz (every 20 ms): interpolated linearly onto the 40 ms grid" in semaine_line
