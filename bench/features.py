"""Benchmark: openSMILE feature extraction, one pass vs window by window, and linear-SVR fit times.

Run by hand (not a test): `.venv/bin/python bench/features.py [--seconds 60] [--windows 24] [--svr]`.
Prints CPU seconds (this process; openSMILE runs in-process) per minute of audio for each
feature set with the one-pass method of emotrace.features, and the same for openSMILE run on
a subset of windows one at a time (scaled to all windows), with their ratio. With --svr it
also times libsvm linear-SVR fits on 5 000 frames of eGeMAPS (88) and ComParE (650) features.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import opensmile

from emotrace import features
from emotrace.features import FEATURE_SETS, OPENSMILE_GAIN, extract

SR = 16000
STEP = 0.04


def voiced_signal(seconds: float, seed: int = 0) -> np.ndarray:
    """Synthetic speech-like audio: harmonics with wandering F0 and loudness, unvoiced gaps, noise; z-scored."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)

    def smooth(rate: float) -> np.ndarray:
        knots = rng.standard_normal(int(n * rate / SR) + 4)
        return np.interp(np.arange(n) * rate / SR, np.arange(knots.size), knots)

    phase = 2 * np.pi * np.cumsum(150 * np.exp(0.25 * smooth(3.0))) / SR
    harmonics = sum(np.sin(h * phase + rng.uniform(0, 2 * np.pi)) / h for h in range(1, 20))
    voiced = smooth(5.0) > -0.8
    x = np.exp(0.8 * smooth(4.0)) * np.where(voiced, harmonics, 0.3 * rng.standard_normal(n))
    x += 0.02 * rng.standard_normal(n)
    return ((x - x.mean()) / x.std()).astype(np.float32)


def timed(fn, *args, **kwargs):
    """(result, CPU seconds of this process, wall seconds)."""
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.process_time() - cpu, time.perf_counter() - wall


def window_by_window(signal: np.ndarray, name: str, rows: np.ndarray) -> None:
    """openSMILE on each chosen window's audio alone (the method the one pass replaces)."""
    spec = FEATURE_SETS[name]
    half = int(spec.window * SR / 2)
    padded = np.pad(signal, (half, half + int(0.1 * SR)), mode="reflect") * OPENSMILE_GAIN
    span = int(round((spec.window + 0.05) * SR))  # the audio a one-pass window's LLD frames cover
    hop = int(round(STEP * SR))
    if spec.method == "functionals":
        smile = opensmile.Smile(spec.opensmile_set, opensmile.FeatureLevel.Functionals)
        for k in rows:
            smile.process_signal(padded[k * hop : k * hop + span], SR)
    else:
        smile = opensmile.Smile(spec.opensmile_set, "lld;lld_de")
        for k in rows:
            lld = smile.process_signal(padded[k * hop : k * hop + span], SR).to_numpy()
            np.concatenate([lld.max(0), lld.min(0), np.ptp(lld, 0), lld.mean(0), lld.std(0)])


def bench_extraction(seconds: float, n_windows: int) -> None:
    signal = voiced_signal(seconds)
    n_frames = int(round(seconds / STEP))
    minutes = seconds / 60
    print(f"{seconds:g} s of synthetic voiced audio, {n_frames} rows per feature set; CPU s per minute of audio")
    print(f"{'set':12s} {'columns':>7s} {'one-pass':>9s} {'wall':>7s} {'per-window':>11s} {'ratio':>7s}")
    for name in FEATURE_SETS:
        extract(signal[: 5 * SR], SR, name, 50, STEP)  # build and cache the openSMILE objects first
        (values, _), cpu, wall = timed(extract, signal, SR, name, n_frames, STEP, STEP / 2)
        rows = np.linspace(0, n_frames - 1, n_windows).astype(int)
        _, cpu_w, _ = timed(window_by_window, signal, name, rows)
        per_window_total = cpu_w * n_frames / n_windows
        print(
            f"{name:12s} {values.shape[1]:7d} {cpu / minutes:9.2f} {wall / minutes:7.2f} "
            f"{per_window_total / minutes:11.1f} {per_window_total / cpu:6.0f}x"
        )


def bench_svr(n_frames: int = 5000) -> None:
    from emotrace.normalise import apply_stats, fit_stats
    from emotrace.svr import SVR_MAX_ITER, fit_svr_grid

    rng = np.random.default_rng(0)
    print(f"\nlibsvm linear SVR, {n_frames} training frames, 1250 dev frames; target linear in 5 features + noise")
    print(f"{'set':8s} {'cols':>5s} {'C':>6s} {'max_iter':>9s} {'CPU s':>7s} {'n_iter':>9s} {'conv':>5s} {'dev CCC':>8s}")
    n_rec = n_frames // 1250
    for name in ("egemaps", "compare"):
        parts = [extract(voiced_signal(50.0, seed=s), SR, name, 1250, STEP)[0] for s in range(n_rec + 1)]
        stats = fit_stats(parts[:n_rec], features.feature_names(name))
        X = apply_stats(np.concatenate(parts), stats)
        cols = rng.choice(X.shape[1], 5, replace=False)
        y = 0.15 * X[:, cols].mean(1) + 0.05 * rng.standard_normal(len(X))
        split = n_rec * 1250
        runs = [(c, SVR_MAX_ITER) for c in (1e-6, 1e-4, 1e-2, 1e-1, 1.0)]
        if name == "egemaps":
            runs.append((1.0, -1))  # the same fit to convergence, to see what the cap costs
        for c, cap in runs:
            (_, table), cpu, _ = timed(fit_svr_grid, X[:split], y[:split], X[split:], y[split:], [c], None, 0,
                                       max_iter=cap)
            row = table.iloc[0]
            print(f"{name:8s} {X.shape[1]:5d} {c:6g} {cap:9d} {cpu:7.1f} {row.n_iter:9d} {str(row.converged):>5s} "
                  f"{row.dev_ccc:8.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--windows", type=int, default=24, help="windows extracted one by one per set")
    parser.add_argument("--svr", action="store_true", help="also time linear-SVR fits (minutes)")
    args = parser.parse_args()
    warnings.simplefilter("ignore", UserWarning)
    bench_extraction(args.seconds, args.windows)
    if args.svr:
        bench_svr()


if __name__ == "__main__":
    main()
