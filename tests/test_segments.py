"""Segmentation: alignment conventions, tilings, padding and masks."""

import numpy as np
import pytest

from emotrace.errors import InputError
from emotrace.segments import (
    FRAME_SAMPLES,
    SEGMENT_FRAMES,
    SEGMENT_SAMPLES,
    audio_window,
    label_offset,
    segment_recording,
    segment_starts,
)


def _recording(n_frames: int, n_labels: int | None = None):
    """Audio whose frame k is filled with the value k, and labels whose frame k is k."""
    audio = np.repeat(np.arange(n_frames, dtype=np.float32), FRAME_SAMPLES)
    n_labels = n_frames + 1 if n_labels is None else n_labels
    labels = np.stack([np.arange(n_labels), -np.arange(n_labels)], axis=1).astype(np.float32)
    return audio, labels


def test_label_offset_conventions():
    assert label_offset("start") == 0
    assert label_offset("end") == 1
    with pytest.raises(InputError, match="labels.alignment"):
        label_offset("middle")


def test_eval_tiling_is_contiguous_and_covers_everything():
    starts = segment_starts(400, None)
    assert starts == [0, 150, 300]
    assert segment_starts(300, None) == [0, 150]


def test_train_tiling_keeps_last_partial_segment():
    starts = segment_starts(400, 75)
    assert starts[0] == 0 and all(b - a == 75 for a, b in zip(starts, starts[1:]))
    assert starts[-1] + SEGMENT_FRAMES >= 400 > starts[-2] + SEGMENT_FRAMES


@pytest.mark.parametrize("alignment,offset", [("start", 0), ("end", 1)])
def test_audio_frame_meets_the_right_label(alignment, offset):
    audio, labels = _recording(320)  # 321 labels, frames 0..320 (times 0 .. 12.8 s)
    seg = segment_recording(audio, labels, ["arousal", "valence"], "r1", alignment, None)
    assert seg["audio"].shape == (3, SEGMENT_SAMPLES)
    assert seg["labels"].shape == (3, SEGMENT_FRAMES, 2)
    assert int(seg["label_offset"]) == offset
    np.testing.assert_array_equal(seg["frame0"], [0, 150, 300])
    for i in range(3):
        for f in np.flatnonzero(seg["mask"][i]):
            label_frame = seg["frame0"][i] + f
            assert seg["labels"][i, f, 0] == label_frame
            audio_frame = label_frame - offset
            expected = audio_frame if 0 <= audio_frame < 320 else 0  # zero where the recording has no audio
            assert np.all(seg["audio"][i, f * FRAME_SAMPLES : (f + 1) * FRAME_SAMPLES] == expected)
    assert str(seg["tiling"]) == "eval"


@pytest.mark.parametrize("alignment", ["start", "end"])
def test_every_label_frame_is_in_a_segment(alignment):
    """RECOLA-like: N * 150 + 1 label frames (the last at the recording's last instant) for N * 6 s of audio."""
    audio, labels = _recording(300, n_labels=301)
    seg = segment_recording(audio, labels, ["arousal", "valence"], "r1", alignment, None)
    covered = (seg["frame0"][:, None] + np.arange(SEGMENT_FRAMES))[seg["mask"]]
    np.testing.assert_array_equal(np.sort(covered), np.arange(301))
    train = segment_recording(audio, labels, ["arousal", "valence"], "r1", alignment, 75)
    covered = np.unique((train["frame0"][:, None] + np.arange(SEGMENT_FRAMES))[train["mask"]])
    np.testing.assert_array_equal(covered, np.arange(301))


def test_last_segment_is_padded_and_masked():
    audio, labels = _recording(320, n_labels=320)
    seg = segment_recording(audio, labels, ["arousal", "valence"], "r1", "start", None)
    assert seg["mask"][:2].all()
    assert seg["mask"][2].sum() == 320 - 300
    assert np.all(seg["audio"][2, 20 * FRAME_SAMPLES :] == 0)
    assert np.all(seg["labels"][2, 20:] == 0)


def test_audio_window_pads_both_ends():
    audio = np.arange(1, 3 * FRAME_SAMPLES + 1, dtype=np.float32)
    window = audio_window(audio, -1, 5)
    assert window.shape == (5 * FRAME_SAMPLES,)
    assert np.all(window[:FRAME_SAMPLES] == 0) and np.all(window[4 * FRAME_SAMPLES :] == 0)
    np.testing.assert_array_equal(window[FRAME_SAMPLES : 4 * FRAME_SAMPLES], audio)
    assert not audio_window(audio, 10, 2).any()


def test_dimension_mismatch_is_an_error():
    audio, labels = _recording(200)
    with pytest.raises(InputError, match="r9"):
        segment_recording(audio, labels, ["arousal"], "r9")
