"""Re-assembly of contiguous segments into traces, and the predictions.csv format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emotrace.errors import InputError
from emotrace.metrics import evaluate
from emotrace.predictions import COLUMNS, assemble, read_predictions, to_frame, write_predictions
from emotrace.segments import segment_recording


def tiled(n_labels: int, offset_alignment: str, dims=("arousal", "valence"), hop=None):
    """Segment a recording whose labels encode their own frame index, so placement errors show."""
    n_samples = (n_labels - 3) * 640 + 100  # partial last audio frame
    labels = np.stack([np.arange(n_labels) * (i + 1.0) for i in range(len(dims))], axis=1).astype(np.float32)
    seg = segment_recording(np.zeros(n_samples, np.float32), labels, list(dims), "rec", offset_alignment, hop)
    return seg, labels


@pytest.mark.parametrize("alignment", ["start", "end"])
def test_assemble_inverts_contiguous_tiling_with_padded_last_segment(alignment):
    seg, labels = tiled(400, alignment)  # 3 segments, the last one mostly padding
    assert seg["mask"][-1].sum() < 150
    trace = assemble(seg["labels"], seg["frame0"], seg["mask"], n_frames=len(labels))
    expected = np.arange(400)  # every label frame, whatever the alignment and the audio's length
    np.testing.assert_array_equal(trace.frames, expected)
    np.testing.assert_array_equal(trace.values, labels[expected])


def test_assemble_rejects_overlapping_tiling_and_out_of_range():
    seg, labels = tiled(400, "start", hop=75)
    with pytest.raises(InputError, match="covered twice"):
        assemble(seg["labels"], seg["frame0"], seg["mask"], where="rec.npz")
    seg, labels = tiled(400, "start")
    with pytest.raises(InputError, match="outside the trace"):
        assemble(seg["labels"], seg["frame0"], seg["mask"], n_frames=200)
    mask = seg["mask"].copy()
    mask[1, 10] = False
    with pytest.raises(InputError, match="frame 160 is not covered"):
        assemble(seg["labels"], seg["frame0"], mask)


def test_to_frame_layout_and_round_trip(tmp_path):
    frames = np.arange(5, 9)
    pred = np.array([[0.1, 1.1], [0.2, 1.2], [0.3, 1.3], [0.4, 1.4]], np.float32)
    gold = pred * 2
    df = to_frame("P16", "dev", ["arousal", "valence"], frames, pred, gold)
    assert list(df.columns) == COLUMNS
    assert list(df["dimension"]) == ["arousal"] * 4 + ["valence"] * 4
    np.testing.assert_allclose(df["time"], np.tile(frames * 0.04, 2))
    np.testing.assert_array_equal(df["prediction"].to_numpy()[4:], pred[:, 1].astype(np.float64))
    path = tmp_path / "predictions.csv"
    write_predictions(df, path)
    back = read_predictions(path)
    pd.testing.assert_frame_equal(back, df.astype({"frame": np.int64}), check_dtype=False)
    assert back["frame"].dtype == np.int64 and back["prediction"].dtype == np.float64
    # exact for float32 values after the text round trip
    assert (back["prediction"].to_numpy(np.float32) == df["prediction"].to_numpy(np.float32)).all()
    # the shared metrics module reads it
    assert set(evaluate(back)["dimension"]) == {"arousal", "valence"}


def test_numeric_recording_ids_stay_strings(tmp_path):
    df = to_frame("007", "test", ["arousal"], np.arange(3), np.zeros(3), np.arange(3.0))
    write_predictions(df, tmp_path / "p.csv")
    assert read_predictions(tmp_path / "p.csv")["recording"].iloc[0] == "007"


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda df: df.drop(columns=["gold"]), "missing columns"),
        (lambda df: df.assign(prediction=["x"] + [0.0] * (len(df) - 1)), "non-numeric"),
        (lambda df: df.assign(partition="validation"), "unknown partitions"),
        (lambda df: pd.concat([df, df.iloc[:1]]), "appears twice"),
        (lambda df: df.assign(frame=df["frame"] + 0.5), "non-negative integers"),
        (lambda df: df.iloc[:0], "no predictions"),
    ],
)
def test_bad_prediction_files_name_the_file(tmp_path, corrupt, message):
    df = to_frame("P16", "dev", ["arousal"], np.arange(4), np.zeros(4), np.ones(4))
    path = tmp_path / "bad.csv"
    corrupt(df).to_csv(path, index=False)
    with pytest.raises(InputError, match=message) as err:
        read_predictions(path)
    assert str(path) in str(err.value)


def test_unreadable_prediction_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(InputError, match="cannot read predictions") as err:
        read_predictions(path)
    assert str(path) in str(err.value)


def test_missing_gold_allowed_only_on_request(tmp_path):
    df = to_frame("r", "test", ["arousal"], np.arange(3), np.zeros(3), np.full(3, np.nan))
    df.to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(InputError, match="'gold'"):
        read_predictions(tmp_path / "p.csv")
    assert read_predictions(tmp_path / "p.csv", require_gold=False)["gold"].isna().all()
