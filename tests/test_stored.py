"""Rows of uncompressed .npz arrays read on demand: the same values as np.load, errors naming the file."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from emotrace.errors import InputError
from emotrace.io import write_npz
from emotrace.stored import StoredArray


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64, np.int64])
def test_rows_equal_np_load(tmp_path, dtype):
    values = (np.random.default_rng(0).standard_normal((37, 5, 3)) * 100).astype(dtype)
    path = tmp_path / "a.npz"
    write_npz(path, first=np.arange(3), values=values, last=np.asarray("x"))
    stored = StoredArray(path, "values")
    assert stored.by_rows and stored.shape == values.shape and stored.dtype == values.dtype and len(stored) == 37
    np.testing.assert_array_equal(stored.rows(0, 37), values)
    np.testing.assert_array_equal(stored.rows(5, 9), values[5:9])
    np.testing.assert_array_equal(stored.rows(-3, 2), values[:2])  # clipped like a window past the start
    np.testing.assert_array_equal(stored.rows(35, 40), values[35:])
    assert stored.rows(40, 50).shape == (0, 5, 3)
    np.testing.assert_array_equal(stored.row(36), values[36])
    with pytest.raises(IndexError):
        stored.row(37)
    blocks = list(stored.chunks(10))
    assert [lo for lo, _ in blocks] == [0, 10, 20, 30]
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), values)


def test_compressed_members_are_read_whole(tmp_path):
    values = np.arange(60, dtype=np.float32).reshape(20, 3)
    path = tmp_path / "c.npz"
    np.savez_compressed(path, values=values)
    stored = StoredArray(path, "values")
    assert not stored.by_rows and stored.shape == (20, 3)
    np.testing.assert_array_equal(stored.rows(4, 8), values[4:8])


def test_errors_name_the_file(tmp_path):
    path = tmp_path / "a.npz"
    write_npz(path, values=np.ones((100, 4), np.float32))
    with pytest.raises(InputError, match="lacks array 'audio'") as err:
        StoredArray(path, "audio")
    assert str(path) in str(err.value)
    stored = StoredArray(path, "values")
    with open(path, "r+b") as fh:  # cut the file inside the array's data
        fh.truncate(stored.offset + 50 * stored.row_bytes)
    with pytest.raises(InputError, match="truncated"):
        stored.rows(40, 60)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="cannot read array"):
        StoredArray(junk, "values")
    with zipfile.ZipFile(tmp_path / "empty.npz", "w"):
        pass
    with pytest.raises(InputError, match="lacks array"):
        StoredArray(tmp_path / "empty.npz", "values")
