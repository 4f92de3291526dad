"""Glue between the config grid and the trainer: which files belong to which partition, and learning-rate grids."""

from __future__ import annotations

import logging
import shutil
from functools import partial
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.svm import SVR

from emotrace import ssl
from emotrace.errors import InputError
from emotrace.fused import fuses, train_fused
from emotrace.io import write_csv
from emotrace.normalise import apply_stats, load_stats
from emotrace.predictions import to_frame
from emotrace.stored import StoredArray
from emotrace.svr import SVR_MAX_ITER, even_subsample, fit_svr_grid
from emotrace.packing import Training, pack_width, train_all
from emotrace.training import TrainSettings

OUTPUTS = ("model.pt", "history.csv", "predictions.csv")
# Config `training` keys passed to TrainSettings as they are (their defaults live there and in the schema).
TRAINING_KEYS = ("num_workers", "eval_batch_size", "precision", "deterministic")


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
    device: str = "auto",
    **feature_args,
) -> dict:
    """Train one grid entry; a list-valued `lr` trains once per rate and keeps the best on dev CCC.

    With a grid, each rate trains in `out_dir/lr<rate>/` (each resumable on its own), the
    choice is written to `lr_grid.csv`, and the winner's files are copied to `out_dir`. `device` is the one
    the job holds (`emotrace.devices.claim_device`); on a GPU the DRNN's rates train as one network
    (`emotrace.fused`; `training.fuse`), other networks' side by side in processes (`emotrace.packing`;
    `training.pack` sets how many at once); on a CPU one after another.
    """
    out_dir = Path(out_dir)
    rates = settings["lr"] if isinstance(settings["lr"], list) else [settings["lr"]]

    def training(lr: float, where: Path) -> Training:
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
            device=device,
            module=settings.get("module"),
            **{key: settings[key] for key in TRAINING_KEYS if key in settings},
        )
        return Training(ts, where, f"lr={lr:g}", {"trained_on": trained_on, **feature_args})

    if len(rates) == 1:
        return train_all([training(rates[0], out_dir)], parts, log)[0]
    grid = [training(lr, out_dir / f"lr{lr:g}") for lr in rates]
    if fuses(settings["network"], device, len(grid), settings.get("fuse", "auto")):
        summaries = train_fused(grid, parts, log)
    else:
        summaries = train_all(grid, parts, log, pack_width(device, len(grid), settings.get("pack", "auto")))
    results = [{"lr": lr, "dev_ccc_mean": summary["dev_ccc_mean"], "best_epoch": summary["best_epoch"]}
               for lr, summary in zip(rates, summaries)]
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


def gold_trace(labels: pd.DataFrame, recording: str, dimension: str) -> np.ndarray:
    """A recording's gold values of one dimension, in frame order."""
    gold = labels[(labels["recording"] == recording) & (labels["dimension"] == dimension)].sort_values("frame")
    if gold.empty:
        raise InputError(recording, f"no {dimension} labels")
    return gold["value"].to_numpy()


def recording_frames(path: Path, gold: np.ndarray, normalise, keep: np.ndarray | None = None):
    """One recording's normalised feature rows and gold values, cut to the shorter; only rows `keep` if given."""
    values = normalise(np.load(path)["values"])
    n = min(len(values), len(gold))
    x, y = values[:n], gold[:n]
    if not np.isfinite(x).all():
        raise InputError(path, "features contain NaN or infinite values (after normalisation)")
    return (x, y) if keep is None else (x[keep], y[keep])


def frame_rows(feature_files: Sequence[Path], labels: pd.DataFrame, dimension: str, normalise):
    """Per recording, read one at a time: (recording, normalised feature rows, gold trace of one dimension)."""
    for path in map(Path, feature_files):
        yield (path.stem, *recording_frames(path, gold_trace(labels, path.stem, dimension), normalise))


def subsampled_frames(feature_files: Sequence[Path], labels: pd.DataFrame, dimension: str, normalise,
                      max_frames: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The training frames `fit_svr_grid` keeps (`even_subsample` of all recordings' frames concatenated),
    picked while reading one recording at a time: memory holds the kept frames, not the partition's."""
    golds = [gold_trace(labels, Path(p).stem, dimension) for p in feature_files]
    lengths = [min(len(StoredArray(p, "values")), len(g)) for p, g in zip(feature_files, golds)]
    rows = even_subsample(sum(lengths), max_frames, seed)
    bounds = np.cumsum([0, *lengths])
    xs, ys = [], []
    for path, gold, lo, hi in zip(map(Path, feature_files), golds, bounds[:-1], bounds[1:]):
        x, y = recording_frames(path, gold, normalise, rows[(rows >= lo) & (rows < hi)] - lo)
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def svr_experiment(
    settings: dict,
    parts: dict[str, list[Path]],
    labels: pd.DataFrame,
    dimensions: list[str],
    normalise,
    seed: int,
    log: logging.Logger,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, SVR]]:
    """Fit the SVR baseline per dimension with C chosen on dev; predictions (dev, test), the C grid and
    the chosen model of each dimension (for model.pt, `emotrace.svr.svr_checkpoint`).

    Memory: the kept training frames (`max_train_frames`), every dev frame (each C is scored on all of
    them) and one test recording at a time.
    """
    tables, grids, models = [], [], {}
    for dim in dimensions:
        X_train, y_train = subsampled_frames(parts["train"], labels, dim, normalise,
                                             settings.get("max_train_frames"), seed)
        dev = list(frame_rows(parts["dev"], labels, dim, normalise))
        model, grid = fit_svr_grid(
            X_train, y_train, [x for _, x, _ in dev], np.concatenate([y for _, _, y in dev]),
            settings["c_grid"], None, seed, max_iter=settings.get("max_iter", SVR_MAX_ITER),
        )
        del X_train, y_train
        models[dim] = model
        grids.append(pd.DataFrame(grid).assign(dimension=dim))
        log.info("%s: C grid by dev CCC\n%s", dim, pd.DataFrame(grid).to_string(index=False))
        for part, pieces in (("dev", dev), ("test", frame_rows(parts["test"], labels, dim, normalise))):
            for rec, x, y in pieces:
                pred = model.predict(x)
                tables.append(to_frame(rec, part, [dim], np.arange(len(y)), pred[:, None], y[:, None]))
    return pd.concat(tables, ignore_index=True), pd.concat(grids, ignore_index=True), models


def feature_inputs(stats_path: str | Path | None, feature_files: Sequence[str | Path], feature_set: str,
                   ssl_config: dict | None = None) -> dict:
    """Trainer arguments for a feature model: feature files, the train-only normaliser, and what model.pt stores.

    Without `stats_path` (the `ssl` features, which the model normalises itself) the rows are used as stored.
    For the `ssl` features model.pt also keeps the extractor's settings (`ssl_config`, the config's `ssl`
    section), so that `emotrace predict` extracts the same features.
    """
    args = {"features": feature_map(feature_files), "feature_set": feature_set}
    if feature_set == "ssl":
        if ssl_config is None:
            raise InputError("ssl", "the ssl features need the config's ssl section")
        args["ssl_settings"] = ssl.stored_settings(ssl.SSLSettings.from_config(ssl_config))
    if stats_path is not None:
        stats = load_stats(stats_path)
        args.update(normalise=partial(apply_stats, stats=stats), feature_stats=stats)
    return args
