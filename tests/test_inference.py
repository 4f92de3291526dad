"""Inference on any recording: 6 s tiling and assembly, batching, alignment, post-processing, real speech."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from emotrace.audio import preprocess
from emotrace.corpora.labels import frame_count
from emotrace.errors import InputError
from emotrace.features import extract
from emotrace.inference import (
    Predictor,
    audio_inputs,
    describe_training,
    load_predictor,
    model_file,
    postprocess_settings_path,
    short_clip_warning,
    tile,
)
from emotrace.models import build_model
from emotrace.normalise import apply_stats, fit_stats
from emotrace.postprocess import apply_trace, identity_settings
from emotrace.segments import FRAME_SAMPLES, SAMPLE_RATE, SEGMENT_FRAMES, SEGMENT_SAMPLES
from emotrace.training import TrainSettings, cpu_state, load_model, model_checkpoint, save_torch

from real_speech import concatenate, real_speech, stereo_flac  # noqa: F401  (real_speech is a fixture)

SR = SAMPLE_RATE


# Trigeorgis 2016's network with fewer, shorter filters and a small BLSTM: the real architecture, cheap on a CPU.
SMALL_E2E = {"channels": 20, "second_kernel": 80, "hidden_size": 16}


def save_model(path: Path, dimensions=("arousal",), label_offset: int = 0, name: str = "e2e",
               kwargs: dict | None = None, seed: int = 0, n_features: int | None = None,
               feature_set: str | None = None, feature_stats: dict | None = None) -> Path:
    """A freshly initialised real model written in the model.pt format (as training writes it)."""
    kwargs = dict(SMALL_E2E if kwargs is None and name == "e2e" else kwargs or {})
    torch.manual_seed(seed)
    module = build_model(name, len(dimensions), n_features=n_features, **kwargs)
    settings = TrainSettings(model=name, dimensions=list(dimensions), model_kwargs=kwargs)
    ckpt = model_checkpoint(settings, module, cpu_state(module), n_features, label_offset, feature_set, feature_stats,
                            {"seed": seed})
    save_torch(ckpt, path)
    return path


class RecordingCalls:
    """Wraps a module's forward to record the shape of every input it is given."""

    def __init__(self, module: torch.nn.Module):
        self.shapes: list[tuple[int, ...]] = []
        inner = module.forward

        def forward(x, *args, **kwargs):
            self.shapes.append(tuple(x.shape))
            return inner(x, *args, **kwargs)

        module.forward = forward


@pytest.fixture(scope="module")
def arousal_model(tmp_path_factory) -> Path:
    return save_model(tmp_path_factory.mktemp("model") / "model.pt")


def speechlike(seconds: float, seed: int) -> np.ndarray:
    """Preprocessed-looking 16 kHz input: a z-normalised random signal of the given length."""
    x = np.random.default_rng(seed).standard_normal(int(round(seconds * SR))).astype(np.float32)
    return (x - x.mean()) / x.std()


# ---------------------------------------------------------------- tiling


@pytest.mark.parametrize("n_samples", [1, 640, 641, 95_999, 96_000, 96_001, 3 * 60 * SR + 17])
def test_tiling_covers_every_frame_once(n_samples):
    tiling = tile(n_samples, label_offset=0)
    n_frames = frame_count(n_samples / SR)  # label frames at k * 40 ms in [0, duration], as a gold standard has
    assert tiling.n_frames == n_frames
    assert len(tiling.starts) == math.ceil(n_frames / SEGMENT_FRAMES)
    covered = (tiling.frame0[:, None] + np.arange(SEGMENT_FRAMES))[tiling.mask]
    np.testing.assert_array_equal(np.sort(covered), np.arange(n_frames))
    assert tiling.mask[:-1].all()  # only the last segment is padded


def test_tiling_shifts_label_frames_by_the_alignment_offset():
    tiling = tile(96_001, label_offset=1)  # 151 label frames: 0.00 .. 6.00 s
    np.testing.assert_array_equal(tiling.frame0, [0, 150])
    np.testing.assert_array_equal(tiling.starts, [-1, 149])  # label frame 0 goes with the 40 ms before the audio
    assert tiling.mask[1].sum() == 1


def test_tiling_rejects_empty_audio():
    with pytest.raises(ValueError):
        tile(0, 0)


# ---------------------------------------------------------------- tiled prediction


@pytest.mark.parametrize(
    "seconds",
    [3.3, 6.0, 6.0 + 100 / SR, 180.0 + 1000 / SR],
    ids=["shorter-than-6s", "exactly-6s", "6s-and-a-bit", "several-minutes"],
)
def test_traces_match_the_model_on_each_padded_segment(arousal_model, seconds):
    audio = speechlike(seconds, seed=int(seconds * 10))
    predictor = Predictor(load_model(arousal_model), batch_size=4, device="cpu")
    calls = RecordingCalls(predictor.module)
    trace = predictor.raw_trace(audio)

    n_frames = frame_count(audio.size / SR)
    n_segments = math.ceil(n_frames / SEGMENT_FRAMES)
    np.testing.assert_array_equal(trace.frames, np.arange(n_frames))
    assert trace.values.shape == (n_frames, 1) and np.isfinite(trace.values).all()
    # memory bounded: never more than batch-size segments of 6 s per forward pass
    assert [s[0] for s in calls.shapes] == [min(4, n_segments - i) for i in range(0, n_segments, 4)]
    assert all(s[1:] == (SEGMENT_SAMPLES,) for s in calls.shapes)

    # the last (padded) segment's frames equal the model's outputs on that zero-padded segment
    last = (n_segments - 1) * SEGMENT_FRAMES
    padded = np.zeros(SEGMENT_SAMPLES, dtype=np.float32)
    tail = audio[last * FRAME_SAMPLES :]
    padded[: tail.size] = tail
    with torch.no_grad():
        direct = predictor.module(torch.from_numpy(padded)[None])[0, : n_frames - last].numpy()
    np.testing.assert_allclose(trace.values[last:], direct, rtol=1e-4, atol=1e-5)


def test_predict_file_time_stamps_and_label_offset(tmp_path):
    """The authors' 2017 network with the `end` alignment: label frame k+1 goes with audio frame k."""
    path = tmp_path / "rec.wav"
    sf.write(str(path), 0.1 * speechlike(7.0, seed=1), SR, subtype="FLOAT")
    model = save_model(tmp_path / "end.pt", ("arousal", "valence"), label_offset=1, name="e2e2017")
    predictor, _ = load_predictor(model, batch_size=2, device="cpu")
    prediction = predictor.predict_file(path)
    n_frames = 7 * SR // FRAME_SAMPLES + 1  # 176: every label frame 0.00 .. 7.00 s, frame 0 included
    np.testing.assert_array_equal(prediction.frames, np.arange(n_frames))
    assert prediction.times[0] == 0.0 and prediction.times[-1] == 7.0
    np.testing.assert_array_equal(prediction.times, np.round(np.arange(n_frames) * 0.04, 6))
    assert prediction.values.shape == (n_frames, 2) and prediction.duration == 7.0


def test_dimension_subset_keeps_the_model_column(tmp_path):
    model = save_model(tmp_path / "joint.pt", ("arousal", "valence"))
    audio = speechlike(4.0, seed=2)
    both, _ = load_predictor(model, device="cpu")
    valence, _ = load_predictor(model, ["valence"], device="cpu")
    np.testing.assert_allclose(valence.raw_trace(audio).values[:, 0], both.raw_trace(audio).values[:, 1], rtol=1e-6)


def test_feature_model_gets_normalised_openSMILE_rows(tmp_path):
    """BLSTM-DRNN on eGeMAPS: rows from emotrace.features.extract, z-scored with the stored train statistics."""
    train_audio, test_audio = speechlike(8.0, seed=5), speechlike(6.5, seed=6)
    train_rows, names = extract(train_audio, SR, "egemaps", 200, 0.04, 0.02)
    stats = fit_stats([train_rows], names)
    n_kept = int(stats["keep"].sum())
    numeric = {k: stats[k] for k in ("mean", "std", "keep")}  # model_checkpoint stores tensors only
    model = save_model(tmp_path / "drnn.pt", name="drnn", n_features=n_kept, feature_set="egemaps", feature_stats=numeric)
    predictor, _ = load_predictor(model, batch_size=1, device="cpu")
    calls = RecordingCalls(predictor.module)
    trace = predictor.raw_trace(test_audio, "test.wav")

    n_frames = math.ceil(test_audio.size / FRAME_SAMPLES)  # 163: two segments
    np.testing.assert_array_equal(trace.frames, np.arange(n_frames))
    assert calls.shapes == [(1, SEGMENT_FRAMES, n_kept)] * 2
    rows = apply_stats(extract(test_audio, SR, "egemaps", n_frames, 0.04, 0.02)[0], stats)
    second = np.zeros((1, SEGMENT_FRAMES, n_kept), dtype=np.float32)
    second[0, : n_frames - SEGMENT_FRAMES] = rows[SEGMENT_FRAMES:]
    with torch.no_grad():
        direct = predictor.module(torch.from_numpy(second))[0, : n_frames - SEGMENT_FRAMES].numpy()
    np.testing.assert_allclose(trace.values[SEGMENT_FRAMES:], direct, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- model and settings lookup


def results_model(root: Path, settings: dict | None) -> Path:
    """A trained model in the results layout, with (optionally) its post-processing settings.json."""
    folder = root / "results" / "demo" / "train" / "e2e2017" / "ccc" / "arousal" / "seed1"
    folder.mkdir(parents=True)
    save_model(folder / "model.pt")
    if settings is not None:
        pp = root / "results" / "demo" / "postprocess" / "e2e2017" / "ccc" / "arousal" / "seed1"
        pp.mkdir(parents=True)
        (pp / "settings.json").write_text(json.dumps({"arousal": settings}))
    return folder


def test_postprocessing_settings_found_and_applied(tmp_path):
    settings = {**identity_settings("arousal", 0.04), "enabled": True, "median_window": 0.44, "bias": 0.25,
                "scale": 1.5, "scale_centre": 0.1, "shift": 0.4}
    folder = results_model(tmp_path, settings)
    assert postprocess_settings_path(folder) == (tmp_path / "results/demo/postprocess/e2e2017/ccc/arousal/seed1/settings.json").resolve()
    wav = tmp_path / "a.wav"
    sf.write(str(wav), speechlike(9.0, seed=3), SR, subtype="FLOAT")

    processed, note = load_predictor(folder, device="cpu")
    assert "median 0.44 s" in note and "shift 0.4 s" in note
    pred = processed.predict_file(wav)
    np.testing.assert_allclose(pred.values[:, 0], apply_trace(pred.raw[:, 0], settings))
    assert not np.allclose(pred.values, pred.raw)

    raw, note = load_predictor(folder / "model.pt", postprocess=False, device="cpu")
    assert "off" in note
    np.testing.assert_allclose(raw.predict_file(wav).values, pred.raw, rtol=1e-6)


def test_missing_settings_are_reported_not_invented(tmp_path):
    folder = results_model(tmp_path, None)
    predictor, note = load_predictor(folder, device="cpu")
    assert predictor.settings is None and "no settings.json" in note and "raw" in note


def test_settings_without_the_dimension_name_the_file(tmp_path):
    bad = tmp_path / "settings.json"
    bad.write_text(json.dumps({"valence": identity_settings("valence", 0.04)}))
    with pytest.raises(InputError, match="settings.json.*arousal"):
        load_predictor(save_model(tmp_path / "m.pt"), settings_file=bad, device="cpu")


def test_unusable_models_are_input_errors(tmp_path, arousal_model):
    svr = tmp_path / "svr_egemaps"
    svr.mkdir()
    (svr / "c_grid.csv").write_text("c,dev_ccc\n0.1,0.5\n")
    with pytest.raises(InputError, match="SVR"):
        model_file(svr)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(InputError, match="foreign.pt.*not an emotrace model"):
        load_predictor(foreign, device="cpu")
    with pytest.raises(InputError, match="predicts only.*valence"):
        load_predictor(arousal_model, ["valence"], device="cpu")
    incomplete = tmp_path / "incomplete.pt"
    torch.save({"format": "emotrace-model/1", "model": "e2e"}, incomplete)
    with pytest.raises(InputError, match="incomplete.pt.*incomplete or damaged"):
        load_predictor(incomplete, device="cpu")
    unknown = tmp_path / "unknown.pt"
    ckpt = torch.load(arousal_model, weights_only=True)
    torch.save({**ckpt, "model": "resnet50"}, unknown)
    with pytest.raises(InputError, match="unknown.pt.*unknown model 'resnet50'"):
        load_predictor(unknown, device="cpu")


def test_folders_are_searched_for_audio(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.wav", "sub/a.flac"):
        sf.write(str(tmp_path / name), speechlike(0.5, seed=4), SR)
    (tmp_path / "notes.txt").write_text("not audio")
    files, errors = audio_inputs([tmp_path, tmp_path / "missing.wav"])
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["b.wav", "sub/a.flac"]
    assert len(errors) == 1 and "missing.wav" in str(errors[0])


# ---------------------------------------------------------------- real speech


def test_real_speech_any_rate_length_and_channels(real_speech, arousal_model, tmp_path):
    long_8k, _, second, short_8k = real_speech
    joined = concatenate([short_8k, second], tmp_path / "joined.wav")
    flac = stereo_flac(short_8k, tmp_path / "short-stereo.flac")
    assert sf.info(str(flac)).channels == 2 and sf.info(str(flac)).samplerate == 44100
    assert sf.info(str(short_8k)).samplerate == 8000 and sf.info(str(short_8k)).duration < 6

    predictor, _ = load_predictor(arousal_model, batch_size=8, device="cpu")
    traces = {}
    for path in (long_8k, short_8k, joined, flac):
        pred = predictor.predict_file(path)
        n_samples = preprocess(path, 0.0, None).size
        n_frames = math.ceil(n_samples / FRAME_SAMPLES)
        assert abs(pred.duration - sf.info(str(path)).duration) < 1e-3
        np.testing.assert_array_equal(pred.frames, np.arange(n_frames))
        np.testing.assert_array_equal(pred.times, np.round(np.arange(n_frames) * 0.04, 6))
        assert pred.values.shape == (n_frames, 1) and np.isfinite(pred.values).all()
        traces[path] = pred.values[:, 0]
    assert sf.info(str(joined)).duration > 6
    # the stereo 44.1 kHz copy is mixed down and resampled to what the 8 kHz original gives
    a, b = traces[short_8k], traces[flac]
    n = min(a.size, b.size)
    assert np.corrcoef(a[:n], b[:n])[0, 1] > 0.99


def test_what_a_model_was_trained_on_is_described(tmp_path):
    older = load_model(save_model(tmp_path / "old.pt"))
    line, warning = describe_training(older)
    assert "not recorded" in line and warning is None
    for adapter, warns in (("synthetic", True), ("recola_full", False)):
        older.checkpoint["trained_on"] = {"corpus": "c", "adapter": adapter, "split": {
            "method": "preset", "preset": "trigeorgis2016",
            "recordings": {"train": ["a", "b"], "dev": ["c"], "test": ["d"]}}}
        line, warning = describe_training(older)
        assert line == (f"trained on corpus c (adapter {adapter}), split preset trigeorgis2016: "
                        "2 train / 1 dev / 1 test recordings")
        assert (warning is not None and "generated corpus" in warning) == warns


def test_short_clip_warning_names_the_threshold(tmp_path, arousal_model):
    predictor = Predictor(load_model(arousal_model), device="cpu")
    for seconds, warns in ((0.1, True), (0.99, True), (1.0, False), (3.0, False)):
        path = tmp_path / f"clip{seconds}.wav"
        sf.write(str(path), 0.1 * speechlike(seconds, seed=3), SR)
        warning = short_clip_warning(predictor.predict_file(path))
        assert (warning is not None) == warns
        if warns:
            assert str(path) in warning and "less than 1 s" in warning
