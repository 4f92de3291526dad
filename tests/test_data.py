"""Segment datasets: shapes, dimension selection by name, feature rows aligned with frame0."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from emotrace.data import SegmentDataset, load_segments
from emotrace.errors import InputError
from emotrace.io import write_npz
from emotrace.segments import segment_recording

DIMS = ["arousal", "valence", "dominance"]


def write_recording(folder, name, n_labels, alignment="start", hop=None, seed=0):
    """A segment file whose labels say (frame index, 10 x frame index, -frame index) and whose audio is noise."""
    rng = np.random.default_rng(seed)
    audio = rng.standard_normal(n_labels * 640 - 200).astype(np.float32)
    frames = np.arange(n_labels, dtype=np.float32)
    labels = np.stack([frames, 10 * frames, -frames], axis=1)
    path = folder / f"{name}.npz"
    write_npz(path, **segment_recording(audio, labels, DIMS, name, alignment, hop))
    return path


def write_features(folder, name, n_rows, n_features=4):
    """Feature rows that encode their own row index: row k = (k, k+1, ..., k+F-1)."""
    values = np.arange(n_rows, dtype=np.float32)[:, None] + np.arange(n_features, dtype=np.float32)[None, :]
    path = folder / f"{name}.feat.npz"
    write_npz(path, values=values, names=np.array([f"f{i}" for i in range(n_features)]))
    return path


def test_audio_items_and_dimension_selection(tmp_path):
    files = [write_recording(tmp_path, "a", 400, hop=75), write_recording(tmp_path, "b", 200, seed=1)]
    ds = SegmentDataset(files, ["valence", "arousal"])
    assert ds.input_kind == "audio" and ds.n_features is None
    assert len(ds) == len(load_segments(files[0], DIMS)) + 2
    assert ds.recordings == ["a", "b"]
    x, labels, mask, rec, frame0 = ds[1]
    assert x.shape == (96000,) and x.dtype == torch.float32
    assert labels.shape == (150, 2) and mask.shape == (150,) and mask.dtype == torch.bool
    assert rec == 0 and frame0 == 75
    # valence first (10 x frame), then arousal (frame), in the order asked for
    np.testing.assert_array_equal(labels[:, 0].numpy(), 10 * np.arange(75, 225))
    np.testing.assert_array_equal(labels[:, 1].numpy(), np.arange(75, 225))
    with np.load(files[0]) as npz:
        np.testing.assert_array_equal(x.numpy(), npz["audio"][1])
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch[0].shape == (4, 96000) and batch[1].shape == (4, 150, 2) and batch[3].tolist() == [0, 0, 0, 0]


def test_missing_dimension_names_file_and_available(tmp_path):
    path = write_recording(tmp_path, "a", 200)
    with pytest.raises(InputError, match=r"\['power'\].*available: \['arousal', 'valence', 'dominance'\]") as err:
        SegmentDataset([path], ["arousal", "power"])
    assert str(path) in str(err.value)


def test_malformed_segment_file(tmp_path):
    bad = tmp_path / "bad.npz"
    write_npz(bad, audio=np.zeros((2, 100), np.float32))
    with pytest.raises(InputError, match="lacks keys") as err:
        SegmentDataset([bad], ["arousal"])
    assert str(bad) in str(err.value)
    arrays = dict(np.load(write_recording(tmp_path, "c", 200)))
    arrays["mask"] = arrays["mask"][:, :100]
    write_npz(bad, **arrays)
    with pytest.raises(InputError, match="'mask' has shape"):
        SegmentDataset([bad], ["arousal"])
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(InputError, match="cannot read segment file"):
        SegmentDataset([tmp_path / "junk.npz"], ["arousal"])


@pytest.mark.parametrize("alignment", ["start", "end"])
def test_feature_rows_follow_frame0_and_are_zero_past_the_end(tmp_path, alignment):
    path = write_recording(tmp_path, "a", 400, alignment=alignment, hop=75)
    feats = {"a": write_features(tmp_path, "a", 400)}
    shift = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    ds = SegmentDataset([path], ["arousal"], features=feats, normalise=lambda v: (v - shift) / 2.0)
    assert ds.input_kind == "features" and ds.n_features == 4
    for i in range(len(ds)):
        x, labels, mask, _, frame0 = ds[i]
        assert x.shape == (150, 4)
        rows = frame0 + np.arange(150)
        inside = rows < 400
        # row k of the features belongs to label frame k, i.e. to the label value k
        np.testing.assert_array_equal(x[inside, 0].numpy(), (rows[inside] - 1.0) / 2.0)
        np.testing.assert_array_equal(labels[mask.numpy(), 0].numpy(), rows[mask.numpy()])
        assert (x[~inside] == 0).all()
        assert inside[mask.numpy()].all()
    assert not ds[len(ds) - 1][2].all()  # the last segment runs past the end


def test_feature_errors_name_the_file(tmp_path):
    path = write_recording(tmp_path, "a", 400)
    with pytest.raises(InputError, match="no feature file for recording 'a'"):
        SegmentDataset([path], ["arousal"], features={})
    short = write_features(tmp_path, "a", 300)
    with pytest.raises(InputError, match="has 300 rows") as err:
        SegmentDataset([path], ["arousal"], features={"a": short})
    assert str(short) in str(err.value)
    nan = tmp_path / "nan.npz"
    write_npz(nan, values=np.full((400, 2), np.nan, np.float32))
    with pytest.raises(InputError, match="NaN") as err:
        SegmentDataset([path], ["arousal"], features={"a": nan})
    assert str(nan) in str(err.value)


def test_feature_datasets_do_not_load_the_segments_audio(tmp_path):
    seg = write_recording(tmp_path, "a", 300, hop=75)
    feats = write_features(tmp_path, "a", 300)
    ds = SegmentDataset([seg], ["arousal"], features={"a": feats})
    assert ds.files[0].audio is None  # the audio is 99 % of a segment file; feature models never use it
    assert SegmentDataset([seg], ["arousal"]).files[0].audio.shape == (len(ds), 96000)
    no_audio = load_segments(seg, ["arousal"], audio=False)
    np.testing.assert_array_equal(no_audio.labels, load_segments(seg, ["arousal"]).labels)


def test_audio_shape_is_checked_without_reading_it(tmp_path):
    path = write_recording(tmp_path, "a", 200)
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    write_npz(path, **{**arrays, "audio": arrays["audio"][:, :100]})
    with pytest.raises(InputError, match=r"'audio' has shape \(2, 100\)"):
        load_segments(path, ["arousal"], audio=False)


def eager_items(segment_files, features=None, normalise=None, with_audio=False):
    """The inputs as the earlier, eager datasets built them: every file's arrays loaded whole, then windowed."""
    from emotrace.data import feature_window

    out = []
    for path in segment_files:
        with np.load(path) as npz:
            audio, frame0, recording = npz["audio"].astype(np.float32), npz["frame0"], str(npz["recording"])
        rows = None
        if features is not None:
            with np.load(features[recording]) as npz:
                values = npz["values"]
            values = normalise(values) if normalise is not None else values
            rows = np.ascontiguousarray(values, dtype=np.float16 if normalise is None and values.dtype == np.float16
                                        else np.float32)
        for s, f0 in enumerate(frame0):
            if rows is None:
                out.append(audio[s])
            else:
                window = feature_window(rows, int(f0))
                out.append(np.concatenate([audio[s], window.reshape(-1)]) if with_audio else window)
    return out


@pytest.mark.parametrize("kind", ["audio", "features", "float16", "audio+features"])
def test_lazy_datasets_give_the_eager_inputs(tmp_path, kind):
    from emotrace.normalise import apply_stats, fit_stats

    files = [write_recording(tmp_path, "a", 420, hop=50, seed=2), write_recording(tmp_path, "b", 260, "end", seed=3)]
    rng = np.random.default_rng(4)
    dtype = np.float16 if kind == "float16" else np.float32
    feats = {}
    for name, n in (("a", 420), ("b", 260)):
        feats[name] = tmp_path / f"{name}.feat.npz"
        write_npz(feats[name], values=(rng.standard_normal((n, 6)) * 3 + 1).astype(dtype))
    stats = fit_stats([np.load(feats["a"])["values"]], [f"f{i}" for i in range(6)])
    features = None if kind == "audio" else feats
    normalise = (lambda v: apply_stats(v, stats)) if kind in ("features", "audio+features") else None
    ds = SegmentDataset(files, ["arousal"], features, normalise, with_audio=kind == "audio+features")
    expected = eager_items(files, features, normalise, with_audio=kind == "audio+features")
    assert len(ds) == len(expected)
    for i, want in enumerate(expected):
        x = ds[i][0]
        assert x.dtype == torch.float32
        np.testing.assert_array_equal(x.numpy(), want)


def test_a_dataset_holds_no_audio_or_feature_rows(tmp_path):
    """Memory must not grow with the partition: the dataset keeps labels and masks, and reads inputs per item."""
    files = [write_recording(tmp_path, f"r{i}", 900, hop=50, seed=i) for i in range(3)]
    feats = {f"r{i}": write_features(tmp_path, f"r{i}", 900, n_features=64) for i in range(3)}

    def held_bytes(obj, seen=None) -> int:
        seen = set() if seen is None else seen
        if id(obj) in seen:
            return 0
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            return obj.nbytes
        if isinstance(obj, (list, tuple)):
            return sum(held_bytes(o, seen) for o in obj)
        if isinstance(obj, dict):
            return sum(held_bytes(o, seen) for o in obj.values())
        if hasattr(obj, "__dict__"):
            return held_bytes(vars(obj), seen)
        return 0

    for features in (None, feats):
        ds = SegmentDataset(files, ["arousal"], features, with_audio=False)
        inputs = sum(ds[i][0].numpy().nbytes for i in range(len(ds)))
        assert held_bytes(ds) < inputs / 20, f"dataset holds {held_bytes(ds)} B of {inputs} B of inputs"


def test_normalised_rows_survive_pickling_for_spawned_workers(tmp_path):
    """The temporary file of normalised rows stays behind; the copy normalises as it reads, to the same values."""
    import pickle
    from functools import partial

    from emotrace.data import FeatureRows
    from emotrace.normalise import apply_stats, fit_stats

    rng = np.random.default_rng(8)
    path = tmp_path / "r.npz"
    write_npz(path, values=(rng.standard_normal((300, 5)) * 2 + 3).astype(np.float32))
    stats = fit_stats([np.load(path)["values"]], [f"f{i}" for i in range(5)])
    rows = FeatureRows(path, partial(apply_stats, stats=stats))
    copy = pickle.loads(pickle.dumps(rows))
    assert rows.cache is not None and copy.cache is None
    np.testing.assert_array_equal(copy[10:160], rows[10:160])
    np.testing.assert_array_equal(rows[10:160], apply_stats(np.load(path)["values"][10:160], stats))
