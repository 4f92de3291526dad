"""Rows of an array in an uncompressed .npz read from disk on demand, so that memory holds one window, not the file.

`emotrace.io.write_npz` stores every array of a segment or feature file uncompressed (`np.savez`),
so each array's bytes lie contiguously in the file at an offset that the zip and .npy headers give.
`np.load(..., mmap_mode="r")` ignores `mmap_mode` for .npz files, hence this reader. A compressed or
Fortran-ordered member (a file written by other tools) is loaded whole at its first read instead: same
values, more memory.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import numpy as np

from emotrace.errors import InputError

_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, ..., file name length, extra field length
_LOCAL_SIGNATURE = b"PK\x03\x04"


class StoredArray:
    """Array `key` of the .npz at `path`: its shape and dtype from the headers, its rows read only when asked for."""

    def __init__(self, path: str | Path, key: str):
        self.path = Path(path)
        self.key = key
        self._whole: np.ndarray | None = None
        self.offset: int | None = None  # of the data in the file; None when the member is read whole
        try:
            with zipfile.ZipFile(self.path) as zf:
                try:
                    info = zf.getinfo(f"{key}.npy")
                except KeyError:
                    has = sorted(n[:-4] for n in zf.namelist())
                    raise InputError(self.path, f"lacks array {key!r} (has {has})") from None
                with zf.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                    else:
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                    header_bytes = fh.tell()
            if info.compress_type == zipfile.ZIP_STORED and not (fortran or dtype.hasobject or not shape):
                with open(self.path, "rb") as fh:
                    fh.seek(info.header_offset)
                    signature, name_len, extra_len = _LOCAL_HEADER.unpack(fh.read(_LOCAL_HEADER.size))
                if signature != _LOCAL_SIGNATURE:
                    raise InputError(self.path, f"damaged zip entry {info.filename!r}")
                self.offset = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len + header_bytes
        except InputError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, struct.error) as err:
            raise InputError(self.path, f"cannot read array {key!r} ({err})") from err
        self.shape: tuple[int, ...] = tuple(shape)
        self.dtype: np.dtype = np.dtype(dtype)
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def by_rows(self) -> bool:
        """False when the member cannot be read by rows (compressed): the first read loads it whole."""
        return self.offset is not None

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """A new array of rows [lo, hi) (clipped to the array), read from the file."""
        lo, hi = max(0, lo), min(hi, len(self))
        hi = max(lo, hi)
        if self.offset is None:
            if self._whole is None:
                try:
                    with np.load(self.path, allow_pickle=False) as npz:
                        self._whole = np.ascontiguousarray(npz[self.key])
                except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
                    raise InputError(self.path, f"cannot read array {self.key!r} ({err})") from err
            return self._whole[lo:hi].copy()
        out = np.empty((hi - lo, *self.shape[1:]), dtype=self.dtype)
        if hi > lo:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset + lo * self.row_bytes)
                got = fh.readinto(out.reshape(-1).view(np.uint8))
            if got != out.nbytes:
                raise InputError(self.path, f"array {self.key!r} is truncated: rows {lo}..{hi} not all in the file")
        return out

    def row(self, i: int) -> np.ndarray:
        """Row i as a new array."""
        if not 0 <= i < len(self):
            raise IndexError(f"row {i} of {len(self)}")
        return self.rows(i, i + 1)[0]

    def chunks(self, n_rows: int):
        """(lo, rows) for consecutive blocks of at most `n_rows` rows: a pass over the array in bounded memory."""
        for lo in range(0, len(self), n_rows):
            yield lo, self.rows(lo, lo + n_rows)
