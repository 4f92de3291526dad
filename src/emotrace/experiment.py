"""Glue between the config grid and the trainer: which files belong to which partition, and learning-rate grids."""

from __future__ import annotations

import logging
import shutil
from functools import partial
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from emotrace.errors import InputError
from emotrace.io import write_csv
from emotrace.normalise import apply_stats, load_stats
from emotrace.predictions import to_frame
from emotrace.svr import SVR_MAX_ITER, fit_svr_grid
from emotrace.training import TrainSettings, train

OUTPUTS = ("model.pt", "history.csv", "predictions.csv")


def read_split(path: str | Path) -> pd.DataFrame:
    """split.csv with ids as strings."""
    return pd.read_csv(path, dtype=str)


def by_partition(split: pd.DataFrame, files: Sequence[str | Path]) -> dict[str, list[Path]]:
    """Group per-recording files (named `<recording>.<ext>`) by the partition of their recording."""
    part = split.set_index("recording")["partition"]
    out: dict[str, list[Path]] = {"train": [], "dev": [], "test": []}
    for f in map(Path, files):
        if f.stem in part.index:
            out[part[f.stem]].append(f)
    for name, paths in out.items():
        if not paths:
            raise InputError("split", f"the {name} partition has no recordings")
    return out


def feature_map(files: Sequence[str | Path]) -> dict[str, Path]:
    """Recording id -> feature file."""
    return {Path(f).stem: Path(f) for f in files}


def train_system(
    settings: dict,
    objective: str,
    dimensions: list[str],
    seed: int,
    parts: dict[str, list[Path]],
    out_dir: str | Path,
    log: logging.Logger,
    trained_on: dict | None = None,
    **feature_args,
) -> dict:
    """Train one grid entry; a list-valued `lr` trains once per rate and keeps the best on dev CCC.

    With a grid, each rate trains in `out_dir/lr<rate>/` (each resumable on its own), the
    choice is written to `lr_grid.csv`, and the winner's files are copied to `out_dir`.
    """
    out_dir = Path(out_dir)
    rates = settings["lr"] if isinstance(settings["lr"], list) else [settings["lr"]]

    def run(lr: float, where: Path) -> dict:
        ts = TrainSettings(
            model=settings["network"],
            dimensions=dimensions,
            objective=objective,
            model_kwargs=settings.get("kwargs", {}),
            optimizer=settings["optimizer"],
            lr=lr,
            batch_size=settings["batch_size"],
            max_epochs=settings["max_epochs"],
            patience=settings["patience"],
            seed=seed,
            num_workers=settings.get("num_workers", 0),
        )
        return train(ts, parts["train"], parts["dev"], parts["test"], where, log, trained_on=trained_on,
                     **feature_args)

    if len(rates) == 1:
        return run(rates[0], out_dir)
    results = []
    for lr in rates:
        log.info("learning-rate grid: training with lr=%g", lr)
        summary = run(lr, out_dir / f"lr{lr:g}")
        results.append({"lr": lr, "dev_ccc_mean": summary["dev_ccc_mean"], "best_epoch": summary["best_epoch"]})
    table = pd.DataFrame(results)
    best = table.loc[table["dev_ccc_mean"].idxmax()]
    log.info("learning rate %g chosen on dev CCC %.4f", best["lr"], best["dev_ccc_mean"])
    write_csv(table.assign(chosen=table["lr"] == best["lr"]), out_dir / "lr_grid.csv")
    for name in OUTPUTS:
        shutil.copyfile(out_dir / f"lr{best['lr']:g}" / name, out_dir / name)
    return {"lr": float(best["lr"]), "dev_ccc_mean": float(best["dev_ccc_mean"])}


def trained_on(corpus: dict, split: dict, parts: dict[str, list[Path]]) -> dict:
    """What model.pt records about its data: corpus name and adapter, split method and its recordings."""
    return {
        "corpus": corpus["name"],
        "adapter": corpus["adapter"],
        "split": {"method": split.get("method"), "preset": split.get("preset"),
                  "recordings": {part: sorted(Path(f).stem for f in files) for part, files in parts.items()}},
    }


def frame_rows(
    feature_files: Sequence[Path], labels: pd.DataFrame, dimension: str, normalise
) -> tuple[list[str], list, list]:
    """Per recording: normalised feature rows and the gold trace of one dimension, cut to the shorter."""
    recs, xs, ys = [], [], []
    for path in feature_files:
        rec = Path(path).stem
        gold = labels[(labels["recording"] == rec) & (labels["dimension"] == dimension)].sort_values("frame")
        if gold.empty:
            raise InputError(rec, f"no {dimension} labels")
        values = normalise(np.load(path)["values"])
        n = min(len(values), len(gold))
        recs.append(rec)
        xs.append(values[:n])
        ys.append(gold["value"].to_numpy()[:n])
    return recs, xs, ys


def svr_experiment(
    settings: dict,
    parts: dict[str, list[Path]],
    labels: pd.DataFrame,
    dimensions: list[str],
    normalise,
    seed: int,
    log: logging.Logger,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit the SVR baseline per dimension with C chosen on dev; predictions (dev, test) and the C grid."""
    tables, grids = [], []
    for dim in dimensions:
        data = {part: frame_rows(parts[part], labels, dim, normalise) for part in ("train", "dev", "test")}
        model, grid = fit_svr_grid(
            np.concatenate(data["train"][1]), np.concatenate(data["train"][2]),
            np.concatenate(data["dev"][1]), np.concatenate(data["dev"][2]),
            settings["c_grid"], settings.get("max_train_frames"), seed, max_iter=settings.get("max_iter", SVR_MAX_ITER),
        )
        grids.append(pd.DataFrame(grid).assign(dimension=dim))
        log.info("%s: C grid by dev CCC\n%s", dim, pd.DataFrame(grid).to_string(index=False))
        for part in ("dev", "test"):
            for rec, x, y in zip(*data[part]):
                pred = model.predict(x)
                tables.append(to_frame(rec, part, [dim], np.arange(len(y)), pred[:, None], y[:, None]))
    return pd.concat(tables, ignore_index=True), pd.concat(grids, ignore_index=True)


def feature_inputs(stats_path: str | Path | None, feature_files: Sequence[str | Path], feature_set: str) -> dict:
    """Trainer arguments for a feature model: feature files, the train-only normaliser, and what model.pt stores.

    Without `stats_path` (the `ssl` features, which the model normalises itself) the rows are used as stored.
    """
    if stats_path is None:
        return {"features": feature_map(feature_files), "feature_set": feature_set}
    stats = load_stats(stats_path)
    return {
        "features": feature_map(feature_files),
        "normalise": partial(apply_stats, stats=stats),
        "feature_set": feature_set,
        "feature_stats": stats,
    }
