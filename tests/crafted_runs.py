"""Crafted runs for the findings and interval tests: predictions of known quality on shared frames."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import signal

from emotrace.metrics import PREDICTION_COLUMNS, metrics_file
from emotrace.runs import Run

DEFAULT_MODELS = yaml.safe_load((Path(__file__).parents[1] / "config.yaml").read_text())["models"]
"""The default grid's `models` (config.yaml): what each paper system is, under the shipped keys."""
N_FRAMES, RECORDINGS = 1125, {"dev": ["d1", "d2", "d3", "d4"], "test": ["t1", "t2", "t3", "t4"]}


def smooth(n: int, rng: np.random.Generator) -> np.ndarray:
    x = signal.lfilter([1.0], [1.0, -0.97], rng.standard_normal(n) * np.sqrt(1 - 0.97**2))
    return 0.3 * x


def gold_traces(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {rec: smooth(N_FRAMES, rng) for recs in RECORDINGS.values() for rec in recs}


def predictions(gold: dict[str, np.ndarray], rho: float | None, dims=("arousal",), seed: int = 1) -> pd.DataFrame:
    """rho * gold + independent smooth noise (CCC about rho); rho None: a constant output."""
    rng = np.random.default_rng(seed)
    parts = []
    for dim in dims:
        for partition, recs in RECORDINGS.items():
            for rec in recs:
                g = gold[rec]
                p = np.full(N_FRAMES, 0.05) if rho is None else rho * g + np.sqrt(1 - rho**2) * smooth(N_FRAMES, rng)
                parts.append(pd.DataFrame({"recording": rec, "partition": partition, "dimension": dim,
                                           "frame": np.arange(N_FRAMES), "time": np.arange(N_FRAMES) * 0.04,
                                           "prediction": p, "gold": g}))
    return pd.concat(parts, ignore_index=True)[PREDICTION_COLUMNS]


def crafted(specs: dict[tuple, float | None], seed: int = 0) -> tuple[list[Run], pd.DataFrame]:
    """Runs {(model, objective, target, seed): rho} (raw = post-processed) and their metrics as tables.collect gives."""
    gold = gold_traces(seed)
    runs, metrics = [], []
    for i, (key, rho) in enumerate(specs.items()):
        dims = ("arousal", "valence") if key[2] == "joint" else (key[2],)
        preds = predictions(gold, rho, dims, seed=100 + i)
        runs.append(Run(*key, preds, preds.copy(), {d: {"enabled": True, "dev_ccc_loo": 0.1} for d in dims}, None))
        m = metrics_file(preds, preds)
        metrics.append(m.assign(corpus="crafted", model=key[0], objective=key[1], target=key[2], seed=key[3]))
    return runs, pd.concat(metrics, ignore_index=True)


def write_run(root: Path, run: Run) -> dict[str, Path]:
    """The run's files where the pipeline writes them."""
    sub = f"{run.model}/{run.objective}/{run.target}/seed{run.seed}"
    paths = {"raw": root / "train" / sub / "predictions.csv", "postprocessed": root / "postprocess" / sub / "predictions.csv",
             "settings": root / "postprocess" / sub / "settings.json", "history": root / "train" / sub / "history.csv"}
    for p in paths.values():
        p.parent.mkdir(parents=True, exist_ok=True)
    run.raw.to_csv(paths["raw"], index=False)
    run.postprocessed.to_csv(paths["postprocessed"], index=False)
    paths["settings"].write_text(json.dumps(run.settings))
    pd.DataFrame({"epoch": [1, 2], "dev_ccc_arousal": [0.01, 0.02]}).to_csv(paths["history"], index=False)
    return paths
