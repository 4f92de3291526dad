"""Several trained systems in one `emotrace predict` call: finding their model files, naming and merging them.

A system is one trained entry of the grid, results/<corpus>/train/<model>/<objective>/<target>/seed<N>/,
named `<model>_<objective>` (`e2e_ccc`, `svr_egemaps_mse`). Its per-dimension runs (Trigeorgis trains
arousal and valence separately: targets `arousal` and `valence`) merge into one system with one column
per dimension. Where two runs of one name would give the same dimension, the names grow until they
differ: `<model>_<objective>_seed<N>`, then `<corpus>_<model>_<objective>_seed<N>`. A model.pt outside
that layout is named after what it records (the network, or the SVR's config key, and the objective).

Output columns: with one system they are the dimensions (`arousal`, `valence`); with several they are
`<system>_<dimension>` (`e2e_ccc_arousal`, `svr_egemaps_mse_valence`), systems in the order given.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from emotrace.errors import InputError
from emotrace.inference import (
    OLD_SVR_NOTE,
    Prediction,
    Predictor,
    load_trained,
    make_predictor,
    model_file,
    read_audio,
)
from emotrace.training import TrainedModel

MODEL_FILE = "model.pt"
GRID_RUN = re.compile(r"lr[0-9.eE+-]+")
"""Folder of one learning rate's run inside a seed folder (`emotrace.experiment.train_system`: lr{rate:g})."""


# ---------------------------------------------------------------- finding model files


def find_model_files(paths: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """The model.pt files `--model` names, each once, in the order given, and notes on what was skipped.

    A file is taken as given, a trained-model folder (holding model.pt) as its model.pt, and any other
    folder is searched recursively (sorted). In a search, the runs of a learning-rate grid (lr<rate>/ in a
    seed folder, whose chosen model.pt is copied to the seed folder) are skipped, and so are SVR folders
    trained before SVR models were saved (with a note). A folder holding no model at all is an InputError.
    """
    files: list[Path] = []
    notes: list[str] = []
    for raw in paths:
        path = Path(raw)
        if not path.is_dir() or (path / MODEL_FILE).is_file() or (path / "c_grid.csv").is_file():
            files.append(model_file(path))
            continue
        found = sorted(p.parent for p in path.rglob(MODEL_FILE) if p.is_file())
        grid_runs = [f for f in found if GRID_RUN.fullmatch(f.name) and f.parent.name.startswith("seed")]
        folders = [f for f in found if f not in grid_runs and not any(parent in found for parent in f.parents)]
        notes += [f"{f} skipped: a learning-rate grid's run of a training that has not chosen its rate yet"
                  for f in grid_runs if f.parent not in found]
        old_svrs = sorted(p.parent for p in path.rglob("c_grid.csv") if not (p.parent / MODEL_FILE).is_file())
        notes += [f"{folder} skipped: {OLD_SVR_NOTE}" for folder in old_svrs]
        if not folders:
            raise InputError(path, f"folder holds no {MODEL_FILE} (searched recursively); point --model at a "
                                   "model.pt, a trained-model folder or a folder holding them (results/<corpus>/train)")
        files += [f / MODEL_FILE for f in folders]
    unique = list(dict.fromkeys(f.resolve() for f in files))
    return unique, notes


# ---------------------------------------------------------------- naming and merging


@dataclass(frozen=True)
class Identity:
    """What a model file says about the system it belongs to (from the results layout, else from the file)."""

    model: str
    objective: str
    seed: int | None
    corpus: str | None

    def name(self, level: int) -> str:
        """The system's name at a level of detail: 0 model_objective, 1 with the seed, 2 with corpus and seed."""
        name = f"{self.model}_{self.objective}"
        if level >= 1:
            name += f"_seed{self.seed if self.seed is not None else '?'}"
        if level >= 2:
            name = f"{self.corpus or '?'}_{name}"
        return name


def identity(path: Path, trained: TrainedModel) -> Identity:
    """The system of model file `path`: results/<corpus>/train/<model>/<objective>/<target>/seed<N>/model.pt
    when laid out so, else the network (or the SVR's config key), objective and seed that the file records."""
    parts = path.resolve().parent.parts
    if len(parts) >= 6 and parts[-5] == "train" and parts[-1].startswith("seed") and parts[-1][4:].isdigit():
        return Identity(parts[-4], parts[-3], int(parts[-1][4:]), parts[-6])
    seed = trained.checkpoint.get("seed")
    return Identity(trained.name, trained.objective, int(seed) if isinstance(seed, int) else None, None)


@dataclass
class Member:
    """One model file of a system, with the dimensions it gives and its post-processing line."""

    path: Path
    predictor: Predictor
    note: str


@dataclass
class System:
    """One named system: the model files whose dimensions together make its columns."""

    name: str
    members: list[Member]

    @property
    def dimensions(self) -> list[str]:
        return [d for m in self.members for d in m.predictor.dimensions]


def group(entries: list[tuple[Path, TrainedModel, list[str]]]) -> list[tuple[str, list[int]]]:
    """(system name, indices of `entries`) in the order first given; runs of one name giving the same
    dimension are told apart by seed, then by corpus, else an InputError names both files."""
    idents = [identity(path, trained) for path, trained, _ in entries]
    out: list[tuple[str, list[int]]] = []
    by_base: dict[str, list[int]] = {}
    for i, ident in enumerate(idents):
        by_base.setdefault(ident.name(0), []).append(i)
    for indices in by_base.values():
        for level in range(3):
            groups: dict[str, list[int]] = {}
            for i in indices:
                groups.setdefault(idents[i].name(level), []).append(i)
            clash = overlap(groups, entries)
            if clash is None:
                out += list(groups.items())
                break
        else:
            a, b, dim = clash
            raise InputError(entries[b][0], f"gives {dim} of system {idents[b].name(2)!r}, as {entries[a][0]} does; "
                                            "predict them in separate calls (or with --dimensions)")
    return sorted(out, key=lambda item: min(item[1]))


def overlap(groups: dict[str, list[int]], entries) -> tuple[int, int, str] | None:
    """The first (earlier entry, later entry, dimension) that two members of one group both give, else None."""
    for indices in groups.values():
        seen: dict[str, int] = {}
        for i in indices:
            for dim in entries[i][2]:
                if dim in seen:
                    return seen[dim], i, dim
                seen[dim] = i
    return None


def load_systems(
    files: Sequence[Path],
    dimensions: Sequence[str] | None,
    settings_file: Path | None,
    postprocess: bool,
    batch_size: int,
    device: torch.device,
    ssl_checkpoint: Path | None,
    plugin_sources: Sequence[str | Path] = (),
) -> tuple[list[System], list[str]]:
    """Every model file as a Predictor, grouped into named systems; and notes on models left out.

    Each model gives the dimensions of `dimensions` (all when None) that it has; a model with none of
    them is left out, and a dimension no model gives is an InputError. `settings_file` applies to one
    model only; `ssl_checkpoint` goes to the models that read SSL features; `plugin_sources` are where plug-in
    networks' classes may be imported from (`--plugin`).
    """
    if settings_file is not None and len(files) > 1:
        raise InputError("--postprocess-settings", f"names one model's settings, but {len(files)} models are given")
    loaded = [(path, load_trained(path, plugin_sources)) for path in files]
    if ssl_checkpoint is not None and not any(t.feature_set == "ssl" for _, t in loaded):
        names = ", ".join(repr(t.name) for _, t in loaded)
        raise InputError("--ssl-checkpoint", f"no model given reads SSL features ({names})")
    asked = list(dict.fromkeys(dimensions)) if dimensions else None
    entries, notes = [], []
    for path, trained in loaded:
        dims = list(trained.dimensions) if asked is None else [d for d in asked if d in trained.dimensions]
        if dims:
            entries.append((path, trained, dims))
        else:
            notes.append(f"{path} left out: model {trained.name!r} predicts {trained.dimensions}, none of {asked}")
    missing = [d for d in asked or [] if not any(d in dims for _, _, dims in entries)]
    if missing:
        if len(loaded) == 1:
            path, trained = loaded[0]
            raise InputError(path, f"model {trained.name!r} predicts only {trained.dimensions}; it cannot give {missing}")
        gives = "; ".join(f"{path}: {trained.dimensions}" for path, trained in loaded)
        raise InputError("--dimensions", f"no model given predicts {missing} ({gives})")
    systems = []
    for name, indices in group(entries):
        members = []
        for i in indices:
            path, trained, dims = entries[i]
            predictor, note = make_predictor(trained, path, dims, settings_file, postprocess, batch_size, device,
                                             ssl_checkpoint if trained.feature_set == "ssl" else None)
            members.append(Member(path, predictor, note))
        systems.append(System(name, members))
    return systems, notes


# ---------------------------------------------------------------- prediction


def columns(systems: Sequence[System]) -> list[str]:
    """Output column names: the dimensions with one system, `<system>_<dimension>` with several."""
    if len(systems) == 1:
        return list(systems[0].dimensions)
    return [f"{s.name}_{d}" for s in systems for d in s.dimensions]


def predict_systems(systems: Sequence[System], path: str | Path, progress: bool = False) -> Prediction:
    """Every system's traces of one recording, read and preprocessed once; one column per system and dimension
    (`columns`), each post-processed with its own model's settings."""
    start = time.perf_counter()
    path = Path(path)
    audio = read_audio(path)
    cache: dict = {}  # openSMILE rows shared by the models of one feature set
    frames, raws, values = None, [], []
    for system in systems:
        for member in system.members:
            trace = member.predictor.raw_trace(audio, path, progress, cache)
            if frames is None:
                frames = trace.frames
            elif not np.array_equal(frames, trace.frames):
                raise RuntimeError(f"{member.path} gave {len(trace.frames)} frames of {path}, others {len(frames)}")
            raw = trace.values.astype(np.float64)
            raws.append(raw)
            values.append(member.predictor.postprocessed(raw))
    return Prediction(path, columns(systems), frames, np.concatenate(values, axis=1), np.concatenate(raws, axis=1),
                      audio, time.perf_counter() - start)


def output_paths(files: Sequence[Path], out: Path, plot: bool) -> list[Path]:
    """The files predict would write for `files`: <out>/<stem>.csv, and <stem>.png with --plot."""
    csvs = [out / f"{f.stem}.csv" for f in files]
    return csvs + ([c.with_suffix(".png") for c in csvs] if plot else [])
