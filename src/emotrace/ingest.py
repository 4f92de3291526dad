"""Ingestion: a corpus adapter's output checked against the contract every later stage relies on."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from emotrace.corpora.base import LABEL_COLUMNS, MANIFEST_COLUMNS, RATER_COLUMNS, CorpusAdapter
from emotrace.errors import InputError

log = logging.getLogger(__name__)


def check_manifest(manifest: pd.DataFrame, where: str) -> pd.DataFrame:
    """Column set, unique recording ids, positive durations."""
    missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
    if missing:
        raise InputError(where, f"manifest lacks columns {missing}")
    manifest = manifest[MANIFEST_COLUMNS].copy()
    dup = manifest["recording"][manifest["recording"].duplicated()].tolist()
    if dup:
        raise InputError(where, f"duplicate recording ids {dup[:5]}")
    bad = manifest.loc[~(manifest["duration"] > 0), "recording"].tolist()
    if bad:
        raise InputError(where, f"recordings with no duration: {bad[:5]}")
    if manifest.empty:
        raise InputError(where, "corpus has no recordings")
    return manifest.sort_values("recording").reset_index(drop=True)


def check_labels(
    labels: pd.DataFrame, manifest: pd.DataFrame, dimensions: list[str], step: float, max_mismatch: float
) -> pd.DataFrame:
    """Every recording has every dimension, frames 0..n-1 without gaps or NaN, length close to the audio's."""
    missing = [c for c in LABEL_COLUMNS if c not in labels.columns]
    if missing:
        raise InputError("labels", f"gold standard lacks columns {missing}")
    labels = labels[LABEL_COLUMNS].sort_values(["recording", "dimension", "frame"]).reset_index(drop=True)
    audio_recs = set(manifest["recording"])
    label_recs = set(labels["recording"])
    if audio_recs != label_recs:
        raise InputError(
            "labels",
            "audio and labels cover different recordings: "
            f"no labels for {sorted(audio_recs - label_recs)[:5]}, no audio for {sorted(label_recs - audio_recs)[:5]}",
        )
    durations = manifest.set_index("recording")["duration"]
    for (rec, dim), trace in labels.groupby(["recording", "dimension"], sort=False):
        values = trace["value"].to_numpy()
        if not np.isfinite(values).all():
            first = int(trace["frame"].to_numpy()[~np.isfinite(values)][0])
            raise InputError(rec, f"{dim} labels contain NaN/inf (first at frame {first})")
        frames = trace["frame"].to_numpy()
        if frames[0] != 0 or np.any(np.diff(frames) != 1):
            gap = int(frames[np.argmax(np.diff(frames) != 1)]) if len(frames) > 1 else int(frames[0])
            raise InputError(rec, f"{dim} labels have a gap or do not start at frame 0 (near frame {gap})")
        label_seconds = len(frames) * step
        if abs(label_seconds - durations[rec]) > max_mismatch + step:
            raise InputError(
                rec,
                f"{dim} labels cover {label_seconds:.2f} s but the audio lasts {durations[rec]:.2f} s "
                f"(more than {max_mismatch} s apart)",
            )
    for rec, dims in labels.groupby("recording")["dimension"]:
        absent = sorted(set(dimensions) - set(dims))
        if absent:
            raise InputError(rec, f"no labels for dimensions {absent}")
    return labels


def ingest(
    adapter: CorpusAdapter, dimensions: list[str], step: float = 0.04, max_mismatch: float = 1.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run an adapter and return the checked (manifest, gold standard)."""
    manifest = check_manifest(adapter.manifest(), where=str(adapter.root))
    labels = adapter.labels(dimensions, step)
    labels = labels[labels["dimension"].isin(dimensions)]
    labels = check_labels(labels, manifest, dimensions, step, max_mismatch)
    log.info("ingested %d recordings, %d speakers, dimensions %s", len(manifest), manifest["speaker"].nunique(), dimensions)
    return manifest, labels


def rater_table(adapter: CorpusAdapter, dimensions: list[str], step: float, labels: pd.DataFrame) -> pd.DataFrame:
    """The adapter's individual rater traces, checked to lie on the gold standard's frames;
    an empty table with RATER_COLUMNS when the corpus has no individual ratings."""
    raters = adapter.rater_labels(dimensions, step)
    if raters is None or raters.empty:
        log.info("the corpus has no individual ratings")
        return pd.DataFrame({c: pd.Series(dtype=object) for c in RATER_COLUMNS})
    missing = [c for c in RATER_COLUMNS if c not in raters.columns]
    if missing:
        raise InputError("rater labels", f"lack columns {missing}")
    raters = raters.loc[raters["dimension"].isin(dimensions), RATER_COLUMNS]
    raters = raters.sort_values(["recording", "dimension", "rater", "frame"]).reset_index(drop=True)
    if not np.isfinite(raters["value"].to_numpy(dtype=np.float64)).all():
        raise InputError("rater labels", "contain NaN or infinite values")
    known = pd.MultiIndex.from_frame(labels[["recording", "dimension", "frame"]])
    keys = pd.MultiIndex.from_frame(raters[["recording", "dimension", "frame"]])
    off = ~keys.isin(known)
    if off.any():
        row = raters.loc[off].iloc[0]
        raise InputError(row["recording"], f"rater {row['rater']} ({row['dimension']}) has frame {row['frame']} "
                                           "outside the gold standard's frames")
    log.info("%d raters' traces for %d recordings", raters["rater"].nunique(), raters["recording"].nunique())
    return raters


def read_raters(path) -> pd.DataFrame:
    """Read raters.csv with ids kept as strings."""
    return pd.read_csv(path, dtype={"recording": str, "dimension": str, "rater": str})


def label_matrix(labels: pd.DataFrame, recording: str, dimensions: list[str]) -> np.ndarray:
    """(n_frames, D) gold-standard matrix of one recording, columns in `dimensions` order."""
    rows = labels[labels["recording"] == recording]
    if rows.empty:
        raise InputError(recording, "recording has no labels")
    wide = rows.pivot(index="frame", columns="dimension", values="value")
    absent = [d for d in dimensions if d not in wide.columns]
    if absent:
        raise InputError(recording, f"no labels for dimensions {absent}; available {sorted(wide.columns)}")
    return wide[dimensions].dropna().to_numpy(dtype=np.float32)


def read_manifest(path) -> pd.DataFrame:
    """Read manifest.csv with ids kept as strings."""
    return pd.read_csv(path, dtype={"recording": str, "speaker": str, "group": str, "gender": str})


def read_labels(path) -> pd.DataFrame:
    """Read labels.csv with ids kept as strings."""
    return pd.read_csv(path, dtype={"recording": str, "dimension": str})
