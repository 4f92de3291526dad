"""The linear SVR baseline: C chosen on dev CCC, even sub-sampling of training frames, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.svm import SVR

from emotrace.errors import InputError
from emotrace.metrics import ccc
from emotrace.svr import even_subsample, fit_svr_grid

GRID = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]


def linear_problem(n: int, gain: float, noise: float, rng: np.random.Generator, w: np.ndarray):
    X = rng.standard_normal((n, w.size))
    return X, gain * 0.5 * X @ w / np.linalg.norm(w) + noise * rng.standard_normal(n)


def test_c_is_chosen_on_dev_even_when_test_prefers_another():
    rng = np.random.default_rng(0)
    w = rng.standard_normal(5)
    X_train, y_train = linear_problem(300, 1.0, 0.1, rng, w)
    # Dev gold has a tenth of the training scale: only a strongly regularised (shrunk) model is concordant.
    X_dev, y_dev = linear_problem(300, 0.1, 0.02, rng, w)
    X_test, y_test = linear_problem(300, 1.0, 0.1, rng, w)
    model, table = fit_svr_grid(X_train, y_train, X_dev, y_dev, GRID, max_train_frames=None, seed=0)

    test_ccc = [ccc(SVR(kernel="linear", C=c).fit(X_train, y_train).predict(X_test), y_test) for c in GRID]
    best_dev_c = table.loc[table["dev_ccc"].idxmax(), "C"]
    assert best_dev_c != GRID[int(np.argmax(test_ccc))]
    assert model.C == best_dev_c and table["chosen"].sum() == 1
    assert table.loc[table["chosen"], "C"].item() == best_dev_c
    assert ccc(model.predict(X_dev), y_dev) == pytest.approx(table["dev_ccc"].max())
    assert list(table["C"]) == GRID and (table["n_train"] == 300).all() and table["converged"].all()


def test_learns_a_linear_problem_better_than_a_constant():
    rng = np.random.default_rng(1)
    w = rng.standard_normal(8)
    X_train, y_train = linear_problem(2000, 1.0, 0.1, rng, w)
    X_dev, y_dev = linear_problem(300, 1.0, 0.1, rng, w)
    X_test, y_test = linear_problem(300, 1.0, 0.1, rng, w)
    model, table = fit_svr_grid(X_train, y_train, X_dev, y_dev, GRID, max_train_frames=500, seed=3)
    assert (table["n_train"] == 500).all()
    mse_model = np.mean((model.predict(X_test) - y_test) ** 2)
    mse_constant = np.mean((y_train.mean() - y_test) ** 2)
    assert mse_model < 0.2 * mse_constant
    assert ccc(model.predict(X_test), y_test) > 0.9


def test_even_subsample_takes_every_kth_frame_from_a_seeded_phase():
    rows = even_subsample(10_000, 2_500, seed=7)
    assert len(rows) == 2_500 and set(np.diff(rows)) == {4} and 0 <= rows[0] < 4
    assert np.array_equal(rows, even_subsample(10_000, 2_500, seed=7))
    phases = {int(even_subsample(10_000, 3_000, seed=s)[0]) for s in range(20)}
    assert len(phases) > 1 and max(phases) < 4  # stride ceil(10000 / 3000) = 4
    assert len(even_subsample(10_000, 3_000, seed=0)) <= 3_000
    assert np.array_equal(even_subsample(50, None, seed=0), np.arange(50))
    assert np.array_equal(even_subsample(50, 100, seed=0), np.arange(50))


def test_bad_input_is_an_input_error():
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((50, 3)), rng.standard_normal(50)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(InputError, match="training frames.*NaN"):
        fit_svr_grid(bad, y, X, y, GRID, None, 0)
    with pytest.raises(InputError, match="dev frames.*do not match"):
        fit_svr_grid(X, y, X, y[:10], GRID, None, 0)
    with pytest.raises(InputError, match="3 features, dev frames 2"):
        fit_svr_grid(X, y, X[:, :2], y, GRID, None, 0)
    with pytest.raises(InputError, match="c_grid"):
        fit_svr_grid(X, y, X, y, [], None, 0)
    with pytest.raises(InputError, match="c_grid"):
        fit_svr_grid(X, y, X, y, [0.1, -1.0], None, 0)


def test_iteration_cap_is_recorded():
    rng = np.random.default_rng(6)
    w = rng.standard_normal(4)
    X, y = linear_problem(400, 1.0, 0.1, rng, w)
    _, capped = fit_svr_grid(X, y, X, y, [1e-2, 1.0], None, 0, max_iter=5)
    assert (capped["n_iter"] <= 5).all() and not capped["converged"].any()
    _, free = fit_svr_grid(X, y, X, y, [1e-2, 1.0], None, 0)
    assert free["converged"].all() and (free["n_iter"] > 5).all()


def test_experiment_subsamples_while_reading_and_matches_the_eager_fit(tmp_path):
    """svr_experiment reads one recording at a time and keeps only the sub-sampled training frames; its grid and
    predictions equal those of the earlier path (every frame concatenated, then fit_svr_grid sub-sampling)."""
    import logging

    import pandas as pd

    from emotrace.experiment import svr_experiment
    from emotrace.io import write_npz
    from emotrace.normalise import apply_stats, fit_stats

    rng = np.random.default_rng(5)
    w = rng.standard_normal(4)
    parts, label_rows, arrays = {"train": [], "dev": [], "test": []}, [], {}
    for i, (part, n) in enumerate([("train", 130), ("train", 95), ("train", 120), ("dev", 80), ("dev", 70),
                                   ("test", 60)]):
        X, y = linear_problem(n + 3, 1.0, 0.2, rng, w)
        path = tmp_path / f"r{i}.npz"
        write_npz(path, values=(X * 2 + 1).astype(np.float32))
        arrays[path] = X[:n]
        parts[part].append(path)
        label_rows.append(pd.DataFrame({"recording": f"r{i}", "dimension": "arousal", "frame": np.arange(n)[::-1],
                                        "value": y[:n][::-1]}))  # gold shorter than the rows, unordered
    labels = pd.concat(label_rows, ignore_index=True)
    stats = fit_stats([np.load(p)["values"] for p in parts["train"]], [f"f{k}" for k in range(4)])
    normalise = lambda v: apply_stats(v, stats)  # noqa: E731
    settings = {"c_grid": [1e-3, 1e-1], "max_train_frames": 100, "max_iter": 100_000}
    predictions, grid, models = svr_experiment(settings, parts, labels, ["arousal"], normalise, 7,
                                               logging.getLogger("t"))

    def eager(part):
        xs = [normalise(np.load(p)["values"])[: len(arrays[p])] for p in parts[part]]
        ys = [labels[labels["recording"] == p.stem].sort_values("frame")["value"].to_numpy() for p in parts[part]]
        return np.concatenate(xs), np.concatenate(ys)

    model, want = fit_svr_grid(*eager("train"), *eager("dev"), settings["c_grid"], 100, 7, max_iter=100_000)
    assert set(grid["n_train"]) <= {86, 87}  # every 4th of 345 frames
    pd.testing.assert_frame_equal(grid.drop(columns=["fit_seconds", "dimension"]), want.drop(columns="fit_seconds"))
    test = predictions[predictions["partition"] == "test"]
    np.testing.assert_array_equal(test["prediction"].to_numpy(), model.predict(eager("test")[0]))
    np.testing.assert_array_equal(models["arousal"].predict(eager("test")[0]), model.predict(eager("test")[0]))
    assert set(predictions["partition"]) == {"dev", "test"} and len(predictions) == 80 + 70 + 60
