"""openSMILE features per annotation frame and their normalisation with training statistics."""

from __future__ import annotations

import numpy as np
import opensmile
import pytest

from emotrace import features
from emotrace.errors import InputError
from emotrace.features import FEATURE_SETS, OPENSMILE_GAIN, extract, feature_names
from emotrace.normalise import apply_stats, fit_stats, fit_train_stats, kept_names, load_stats, save_stats

SR = 16000
STEP = 0.04


def _smooth_noise(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    """A random curve with about `rate` Hz of bandwidth and unit spread."""
    knots = rng.standard_normal(int(n * rate / SR) + 4)
    return np.interp(np.arange(n) * rate / SR, np.arange(knots.size), knots)


def voiced_signal(seconds: float, seed: int = 0) -> np.ndarray:
    """Synthetic speech-like audio: a harmonic series with wandering F0 and loudness, unvoiced gaps, noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    f0 = 150 * np.exp(0.25 * _smooth_noise(rng, n, 3.0))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    harmonics = sum(np.sin(h * phase + rng.uniform(0, 2 * np.pi)) / h for h in range(1, 20))
    amplitude = np.exp(0.8 * _smooth_noise(rng, n, 4.0))
    voiced = _smooth_noise(rng, n, 5.0) > -0.8
    x = amplitude * np.where(voiced, harmonics, 0.3 * rng.standard_normal(n)) + 0.02 * rng.standard_normal(n)
    return ((x - x.mean()) / x.std()).astype(np.float32)


@pytest.fixture(scope="module")
def signal() -> np.ndarray:
    return voiced_signal(8.0, seed=1)


@pytest.mark.parametrize("name, n_columns", [("egemaps", 88), ("compare", 130 * 5), ("compare6373", 6373)])
def test_shapes_and_names(signal, name, n_columns):
    n_frames = 203  # labels a little longer than the 8 s of audio: the end is reflected
    values, names = extract(signal, SR, name, n_frames, STEP, centre_offset=0.02, where="rec")
    assert values.shape == (n_frames, n_columns) and values.dtype == np.float32
    assert np.isfinite(values).all()
    assert names == feature_names(name) and len(set(names)) == n_columns == FEATURE_SETS[name].n_features
    assert values.std(axis=0).max() > 0


def test_compare_functionals_equal_direct_computation_on_the_llds(signal):
    """Row k = max, min, range, mean, std (1/N) of the ComParE LLDs of the window centred at k*step + offset."""
    offset = 0.02
    values, names = extract(signal, SR, "compare", 200, STEP, centre_offset=offset)
    # Pad the start by half a window minus the offset: LLD frame 4k then starts the window of row k.
    pad = int(round((1.5 - offset) * SR))
    smile = opensmile.Smile(opensmile.FeatureSet.ComParE_2016, "lld;lld_de")
    lld = smile.process_signal(np.pad(signal, (pad, 0), mode="reflect") * OPENSMILE_GAIN, SR).to_numpy(np.float64)
    assert names[:130] == [f"{n}_max" for n in smile.feature_names]
    for k in (0, 37, 120, 160):  # rows whose window ends before the audio does
        window = lld[4 * k : 4 * k + 300]
        expected = np.concatenate(
            [window.max(0), window.min(0), np.ptp(window, 0), window.mean(0), window.std(0)]
        )
        np.testing.assert_allclose(values[k], expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())
    shifted = lld[4 * 120 + 2 : 4 * 120 + 302]  # the window 20 ms later must not match
    assert not np.allclose(values[120, 390:520], shifted.mean(0), rtol=1e-4)


@pytest.mark.parametrize(
    "name, opensmile_set",
    [("egemaps", opensmile.FeatureSet.eGeMAPSv02), ("compare6373", opensmile.FeatureSet.ComParE_2016)],
)
def test_windowed_functionals_follow_the_centre_offset(signal, tmp_path, name, opensmile_set):
    """Rows equal openSMILE's sliding functionals on the audio padded by half a window minus the offset."""
    offset, window = -0.02, FEATURE_SETS[name].window
    values, _ = extract(signal, SR, name, 150, STEP, centre_offset=offset)
    conf = tmp_path / "frame_mode.conf.inc"
    conf.write_text(f"frameMode = fixed\nframeSize = {window}\nframeStep = {STEP}\nframeCenterSpecial = left\n")
    smile = opensmile.Smile(opensmile_set, options={"frameModeFunctionalsConf": str(conf)})
    pad = int(round((window / 2 - offset) * SR))
    expected = smile.process_signal(np.pad(signal, (pad, 0), mode="reflect") * OPENSMILE_GAIN, SR).to_numpy()
    rows = [0, 60, 140]  # windows that end before the audio does
    np.testing.assert_allclose(values[rows], expected[rows], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "name, opensmile_set, max_median_rel",
    [("egemaps", opensmile.FeatureSet.eGeMAPSv02, 0.015), ("compare6373", opensmile.FeatureSet.ComParE_2016, 0.05)],
)
def test_interior_window_matches_opensmile_on_the_excerpt(signal, name, opensmile_set, max_median_rel):
    """One-pass row k vs openSMILE run on that window's audio alone (window + 50 ms that its LLD frames span).

    Exact equality is not expected: in the one pass the LLD smoothing, deltas and pitch
    tracker see the audio around the window, and in ComParE the RASTA filter (an IIR filter
    with long memory) is warmed up; those RASTA columns are left out of the tolerance.
    """
    offset, window = 0.02, FEATURE_SETS[name].window
    values, names = extract(signal, SR, name, 200, STEP, centre_offset=offset)
    direct = opensmile.Smile(opensmile_set, opensmile.FeatureLevel.Functionals)
    k = 110
    start = int(round((k * STEP + offset - window / 2) * SR))
    excerpt = signal[start : start + int(round((window + 0.05) * SR))]
    reference = direct.process_signal(excerpt * OPENSMILE_GAIN, SR).to_numpy(np.float64)[0]
    assert list(direct.feature_names) == names

    def median_rel(row: int, columns: np.ndarray) -> float:
        diff = np.abs(values[row, columns] - reference[columns]) / (np.abs(reference[columns]) + 1e-3)
        return float(np.median(diff))

    memoryless = np.array(["Rfilt" not in n and "Rasta" not in n for n in names])
    assert median_rel(k, memoryless) < max_median_rel
    everything = np.ones(len(names), dtype=bool)
    nearest = min(range(k - 12, k + 13), key=lambda row: median_rel(row, everything))
    assert abs(nearest - k) <= 1


@pytest.mark.parametrize("name, column", [
    ("egemaps", "equivalentSoundLevel_dBp"),
    ("compare", "pcm_RMSenergy_sma_max"),
    ("compare6373", "pcm_RMSenergy_sma_range"),
])
@pytest.mark.parametrize("offset", [-0.02, 0.5])
def test_a_loud_burst_shows_in_the_rows_whose_windows_contain_it(name, column, offset):
    rng = np.random.default_rng(5)
    quiet = 0.01 * voiced_signal(8.0, seed=2)
    t0, burst = 4.0, int(0.02 * SR)
    i0 = int(t0 * SR)
    quiet[i0 : i0 + burst] += np.sin(2 * np.pi * 1000 * np.arange(burst) / SR) + 0.05 * rng.standard_normal(burst)
    x = ((quiet - quiet.mean()) / quiet.std()).astype(np.float32)
    n_frames = 200
    values, names = extract(x, SR, name, n_frames, STEP, centre_offset=offset)
    trace = values[:, names.index(column)]
    window = FEATURE_SETS[name].window
    begin = np.arange(n_frames) * STEP + offset - window / 2
    margin = 0.06  # LLD frames run 25-60 ms past their start, smoothing adds a frame on each side
    inside = (begin <= t0 - margin) & (begin + window >= t0 + 0.02 + margin)
    outside = (begin + window + margin < t0) | (begin > t0 + 0.02 + margin)
    assert inside.sum() > 10 and outside.sum() > 10
    assert trace[inside].min() > trace[outside].max()


def test_fewer_frames_give_the_same_leading_rows(signal):
    short, _ = extract(signal, SR, "compare", 100, STEP)
    long, _ = extract(signal, SR, "compare", 190, STEP)
    np.testing.assert_allclose(short, long[:100], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, seconds", [("egemaps", 2.9), ("compare", 2.5), ("compare6373", 0.9)])
def test_signal_shorter_than_a_window_is_an_input_error(name, seconds):
    with pytest.raises(InputError, match=r"rec_07.*shorter than one"):
        extract(voiced_signal(seconds), SR, name, 10, STEP, where="rec_07")


def test_other_bad_inputs_name_the_recording(signal):
    with pytest.raises(InputError, match=r"rec_08.*lengths do not match"):
        extract(signal, SR, "egemaps", 400, STEP, where="rec_08")  # 16 s of labels for 8 s of audio
    bad = signal.copy()
    bad[100] = np.nan
    with pytest.raises(InputError, match=r"rec_09.*NaN"):
        extract(bad, SR, "compare", 50, STEP, where="rec_09")
    with pytest.raises(InputError, match=r"rec_10.*multiple"):
        extract(signal, SR, "compare", 50, 0.025, where="rec_10")
    with pytest.raises(InputError, match=r"unknown feature set 'mfcc'"):
        extract(signal, SR, "mfcc", 50, STEP)


def test_opensmile_failure_is_an_input_error():
    # openSMILE itself rejects 40 Hz audio (extract refuses anything below 8 kHz before it gets there).
    smile = features._functionals_smile(opensmile.FeatureSet.eGeMAPSv02, 3.0, STEP)
    with pytest.raises(InputError, match=r"rec_11.*openSMILE failed"):
        features._run_smile(smile, voiced_signal(1.0)[:200], 40, "rec_11")


def test_non_finite_features_name_the_columns():
    values = np.ones((5, 3), dtype=np.float32)
    values[2, 1] = np.inf
    with pytest.raises(InputError, match=r"rec_12.*\['b'\]"):
        features._check_finite(values, ["a", "b", "c"], "rec_12")


# Normalisation with training statistics (emotrace.normalise)


def test_fit_stats_pools_all_training_frames_and_drops_constant_columns():
    rng = np.random.default_rng(3)
    arrays = [rng.normal(5.0, 2.0, size=(n, 4)).astype(np.float32) for n in (40, 7, 90)]
    for a in arrays:
        a[:, 2] = 1.5  # constant over training: no information, would divide by zero
    stats = fit_stats(arrays, ["a", "b", "c", "d"])
    pooled = np.concatenate(arrays).astype(np.float64)
    np.testing.assert_allclose(stats["mean"], pooled.mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stats["std"], pooled.std(0), rtol=1e-10, atol=1e-12)
    assert stats["dropped"] == ["c"] and list(stats["keep"]) == [True, True, False, True]
    assert stats["n_frames"] == 137 and kept_names(stats) == ["a", "b", "d"]
    z = apply_stats(pooled, stats)
    assert z.shape == (137, 3) and z.dtype == np.float32
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-5)


def test_statistics_come_from_the_train_partition_only():
    rng = np.random.default_rng(4)
    names = ["x", "y", "const_in_train"]
    values = {rec: rng.normal(size=(30, 3)) for rec in ("r1", "r2", "r3", "r4")}
    values["r1"][:, 2] = values["r2"][:, 2] = 7.0
    partition_of = {"r1": "train", "r2": "train", "r3": "dev", "r4": "test"}
    stats = fit_train_stats(values, partition_of, names)
    assert stats["n_frames"] == 60 and stats["dropped"] == ["const_in_train"]  # dev/test vary in that column

    changed = dict(values, r3=values["r3"] * 1000 + 50, r4=np.full((500, 3), np.nan))
    again = fit_train_stats(changed, partition_of, names)
    for key in ("mean", "std", "keep"):
        np.testing.assert_array_equal(again[key], stats[key])
    moved = fit_train_stats(dict(values, r1=values["r1"] + 1.0), partition_of, names)
    assert not np.allclose(moved["mean"], stats["mean"])  # train values do move them

    with pytest.raises(InputError, match="no recording is in the train partition"):
        fit_train_stats(values, {r: "dev" for r in values}, names)
    with pytest.raises(InputError, match="without a partition"):
        fit_train_stats(values, {"r1": "train"}, names)


def test_stats_round_trip_and_bad_input(tmp_path):
    rng = np.random.default_rng(5)
    stats = fit_stats([rng.normal(size=(20, 3)), np.zeros((0, 3))], ["a", "b", "c"])
    path = tmp_path / "stats.npz"
    save_stats(path, stats)
    loaded = load_stats(path)
    for key in ("mean", "std", "keep"):
        np.testing.assert_array_equal(loaded[key], stats[key])
    assert loaded["names"] == stats["names"] and loaded["n_frames"] == 20 and loaded["dropped"] == []
    with pytest.raises(InputError, match=r"rec_13.*shape \(4, 2\).*3 columns"):
        apply_stats(np.zeros((4, 2)), loaded, where="rec_13")
    with pytest.raises(InputError, match="training array 1.*NaN"):
        fit_stats([np.ones((3, 3)), np.full((2, 3), np.nan)], ["a", "b", "c"])
    with pytest.raises(InputError, match="does not match 2 feature names"):
        fit_stats([np.ones((3, 3))], ["a", "b"])
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not an npz")
    with pytest.raises(InputError, match="broken.npz.*cannot read"):
        load_stats(broken)
    partial = tmp_path / "partial.npz"
    np.savez(partial, mean=np.zeros(3))
    with pytest.raises(InputError, match=r"partial.npz.*lacks \['std'"):
        load_stats(partial)


def test_fit_stats_streams_recordings_without_holding_them():
    """A generator of recordings is consumed one at a time: each is released before the next is read."""
    import weakref

    rng = np.random.default_rng(4)
    parts = [rng.normal(size=(50, 3)) for _ in range(4)]
    seen: list[weakref.ref] = []

    def recordings():
        for part in parts:
            assert all(ref() is None for ref in seen), "fit_stats still holds an earlier recording"
            values = part.copy()
            seen.append(weakref.ref(values))
            yield values
            del values

    stats = fit_stats(recordings(), ["a", "b", "c"])
    np.testing.assert_allclose(stats["mean"], np.concatenate(parts).mean(axis=0))
    np.testing.assert_allclose(stats["std"], np.concatenate(parts).std(axis=0))
    with pytest.raises(InputError, match="no training recordings"):
        fit_stats(iter([]), ["a"])
