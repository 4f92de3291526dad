"""Atomic file writing and small readers shared by every stage."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_write(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    A killed or failing job therefore never leaves a half-written output.
    The temporary name keeps the final suffix so that writers which infer the
    format from the extension (numpy, soundfile, matplotlib) still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=suffix if suffix is not None else path.suffix, dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    """Write a data frame as CSV atomically, without the index."""
    with atomic_write(path) as tmp:
        df.to_csv(tmp, index=False)


def write_json(obj, path: str | Path) -> None:
    """Write JSON atomically, indented and key-sorted so it diffs well."""
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_npz(path: str | Path, **arrays) -> None:
    """Write an uncompressed .npz atomically."""
    with atomic_write(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def write_npy(path: str | Path, array: np.ndarray) -> None:
    """Write a .npy atomically."""
    with atomic_write(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, array)
