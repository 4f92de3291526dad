"""Benchmark (by hand, not in CI): how wide the test CCC's 95 % interval is for k test recordings.

Reads one system's `predictions.csv` (raw or post-processed) with many test recordings, draws
`--draws` random subsets of k recordings for each k, and prints the mean CCC and the mean (and sd)
half-width of the interval the tables would print for that subset, with each bootstrap mode forced
(`blocks`: 20 s circular blocks; `recordings`: whole recordings), using `emotrace.uncertainty` with
the config defaults. This is how the README's "±0.10 needs 12 to 20 test speakers" was measured:

    snakemake --cores 2 --configfile configs/interval_width.yaml \
        --set-resources train_network:gpu=0 --set-threads train_network=1      # ~7 min on 2 cores
    python bench/interval_width.py results/interval_width/train/e2e/ccc/arousal/seed1/predictions.csv
    python bench/interval_width.py results/interval_width/postprocess/e2e/ccc/arousal/seed1/predictions.csv
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from emotrace.metrics import ccc
from emotrace.uncertainty import DEFAULTS, Resampler, interval


def ccc_and_half_width(parts: list[pd.DataFrame], min_recordings: int) -> tuple[float, float]:
    """The concatenated CCC over `parts` (one frame table per recording) and its interval's half-width."""
    pred = np.concatenate([p["prediction"].to_numpy() for p in parts])
    gold = np.concatenate([p["gold"].to_numpy() for p in parts])
    resampler = Resampler([len(p) for p in parts], 0.04, DEFAULTS["replicates"], DEFAULTS["block_seconds"],
                          min_recordings, DEFAULTS["seed"], "test")
    low, high = interval(resampler.ccc(pred, gold)[0], DEFAULTS["level"])
    return ccc(pred, gold), (high - low) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("predictions")
    parser.add_argument("--dimension", default="arousal")
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 10, 12, 16, 20, 24, 32, 40])
    parser.add_argument("--draws", type=int, default=12)
    args = parser.parse_args()
    df = pd.read_csv(args.predictions)
    df = df[(df["partition"] == "test") & (df["dimension"] == args.dimension)]
    by_recording = {r: g.sort_values("frame") for r, g in df.groupby("recording")}
    names = sorted(by_recording)
    print(f"{len(names)} test recordings, CCC of all: {ccc(df['prediction'].to_numpy(), df['gold'].to_numpy()):.3f}")
    print(f"{'k':>3} {'mode':<11} {'CCC':>6} {'half-width':>10} {'sd':>6}")
    rng = np.random.default_rng(0)
    for k in (k for k in args.sizes if k <= len(names)):
        for mode, min_recordings in (("blocks", 10**9), ("recordings", 1)):
            widths, cccs = [], []
            for _ in range(args.draws if k < len(names) else 1):
                subset = sorted(rng.choice(names, size=k, replace=False))
                score, width = ccc_and_half_width([by_recording[r] for r in subset], min_recordings)
                cccs.append(score)
                widths.append(width)
            print(f"{k:>3} {mode:<11} {np.mean(cccs):>6.3f} {np.mean(widths):>10.3f} {np.std(widths):>6.3f}")


if __name__ == "__main__":
    main()
