"""Frozen SSL features without downloads: a tiny random wav2vec 2.0 saved as a checkpoint, chunked
extraction, the 20 ms -> 40 ms alignment, layer selection, and the ssl_blstm layer pooling."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from emotrace import ssl, systems
from emotrace.errors import InputError
from emotrace.models import build_model
from emotrace.models.ssl_blstm import LayerPooling, pack


# A few hundred kB: 3 transformer blocks of 32 units, a 16-channel convolutional front end
# with the real strides (20 ms frames, 25 ms receptive field). Random weights: plumbing only.
TINY = {
    "extractor_conv_layer_config": [[16, 10, 5]] + [[16, 3, 2]] * 4 + [[16, 2, 2]] * 2,
    "encoder_embed_dim": 32, "encoder_pos_conv_kernel": 16, "encoder_pos_conv_groups": 4,
    "encoder_num_layers": 3, "encoder_num_heads": 2, "encoder_ff_interm_features": 64,
}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ssl") / "tiny.pt"
    torch.save(ssl.random_model(ssl.SSLSettings(bundle="WAV2VEC2_BASE", architecture=TINY), seed=1).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def settings(checkpoint):
    return ssl.SSLSettings(bundle="WAV2VEC2_BASE", architecture=TINY, checkpoint=str(checkpoint))


@pytest.fixture(scope="module")
def model(settings):
    return ssl.load_extractor(settings)


@pytest.fixture(scope="module")
def speechlike():
    """12.3 s of noise with a slow loudness envelope, z-normalised like the preprocessed audio."""
    rng = np.random.default_rng(0)
    n = int(12.3 * 16000)
    x = rng.standard_normal(n) * (1.2 + np.sin(np.arange(n) / 16000 * 2 * np.pi * 0.7))
    return ((x - x.mean()) / x.std()).astype(np.float32)


def test_checkpoint_loads_into_the_configured_architecture_and_missing_files_name_the_key(settings, checkpoint, tmp_path):
    model = ssl.load_extractor(settings)
    assert len(model.encoder.transformer.layers) == 3 and not any(p.requires_grad for p in model.parameters())
    reference = ssl.random_model(settings, seed=1).state_dict()
    assert all(torch.equal(v, reference[k]) for k, v in model.state_dict().items())
    absent = tmp_path / "nowhere" / "wavlm.pt"
    with pytest.raises(InputError, match=rf"ssl.checkpoint \({absent}\): no such file"):
        ssl.load_extractor(ssl.SSLSettings(bundle="WAV2VEC2_BASE", architecture=TINY, checkpoint=str(absent)))
    with pytest.raises(InputError, match=r"ssl.checkpoint .*weights do not fit"):  # the base architecture
        ssl.load_extractor(ssl.SSLSettings(bundle="WAV2VEC2_BASE", checkpoint=str(checkpoint)))
    with pytest.raises(InputError, match=r"ssl.architecture.*unknown argument\(s\) \['hidden'\]"):
        ssl.architecture(ssl.SSLSettings(architecture={"hidden": 3}))
    with pytest.raises(InputError, match="ssl.architecture.*set ssl.checkpoint"):  # would download mismatched weights
        ssl.load_extractor(ssl.SSLSettings(bundle="WAV2VEC2_BASE", architecture=TINY))


def test_torchaudio_wrapper_prefix_is_dropped(settings, tmp_path):
    wrapped = {f"model.{k}": v for k, v in ssl.random_model(settings, seed=2).state_dict().items()}
    path = tmp_path / "wrapped.pt"
    torch.save(wrapped, path)
    model = ssl.load_extractor(ssl.SSLSettings(bundle="WAV2VEC2_BASE", architecture=TINY, checkpoint=str(path)))
    assert torch.equal(model.state_dict()["encoder.feature_projection.projection.weight"],
                       wrapped["model.encoder.feature_projection.projection.weight"])


def test_layers_are_one_based_blocks_and_checked(settings):
    assert ssl.selected_layers(settings) == [1, 2, 3]
    assert ssl.selected_layers(ssl.SSLSettings(bundle="WAV2VEC2_BASE", architecture=TINY, layers=(3, 1))) == [3, 1]
    assert ssl.n_model_layers(ssl.SSLSettings(bundle="WAVLM_LARGE")) == 24
    for bad in [(0,), (4,), (2, 2)]:
        with pytest.raises(InputError, match=r"ssl.layers"):
            ssl.selected_layers(ssl.SSLSettings(bundle="WAV2VEC2_BASE", architecture=TINY, layers=bad))


def test_hidden_states_are_the_chosen_blocks_on_the_20ms_grid(model, speechlike):
    frames = ssl.hidden_states(model, speechlike, [3, 1], chunk_seconds=60)
    assert frames.dtype == np.float16
    assert frames.shape == (ssl.n_ssl_frames(speechlike.size), 2, 32) == (614, 2, 32)  # (196800 - 400) // 320 + 1
    with torch.no_grad():
        states, _ = model.extract_features(torch.from_numpy(speechlike)[None])
    np.testing.assert_allclose(frames[:, 0], states[2][0].numpy(), atol=2e-2, rtol=2e-3)
    np.testing.assert_allclose(frames[:, 1], states[0][0].numpy(), atol=2e-2, rtol=2e-3)


def test_chunk_plan_tiles_the_recording_with_context():
    plan = ssl.chunk_plan(10, 4, 1)
    assert plan == [(0, 5, 0, 4), (3, 9, 4, 8), (7, 10, 8, 10)]
    with pytest.raises(InputError):
        ssl.chunk_plan(10, 0, 1)


def test_chunked_extraction_matches_one_pass_within_tolerance(model, speechlike):
    one = ssl.hidden_states(model, speechlike, [1, 2, 3], chunk_seconds=60).astype(np.float32)
    chunked = ssl.hidden_states(model, speechlike, [1, 2, 3], chunk_seconds=3, context_seconds=2).astype(np.float32)
    assert chunked.shape == one.shape
    # The transformer attends over its whole input and the base models' front end normalises over
    # time, so chunks differ a little from one pass; a chunk misplaced by one frame would differ by ~100 %.
    relative = np.linalg.norm(chunked - one) / np.linalg.norm(one)
    assert relative < 0.05, relative
    shifted = np.linalg.norm(chunked[1:] - one[:-1]) / np.linalg.norm(one)
    assert shifted > 10 * relative


def test_bfloat16_precision_is_close_to_float32_and_checked(model, speechlike):
    fp32 = ssl.hidden_states(model, speechlike, [1, 3], chunk_seconds=60).astype(np.float32)
    bf16 = ssl.hidden_states(model, speechlike, [1, 3], chunk_seconds=60, precision="bfloat16").astype(np.float32)
    assert bf16.shape == fp32.shape
    for k in range(2):  # bfloat16 keeps 8 bits of mantissa: ~0.4 % per operation, ~1 % after a few blocks
        relative = np.linalg.norm(bf16[:, k] - fp32[:, k]) / np.linalg.norm(fp32[:, k])
        assert 1e-4 < relative < 0.03, (k, relative)  # lower bound: the autocast did take effect
    assert "forward" not in model.feature_extractor.__dict__  # the float32 forwards are back
    assert ssl.hidden_states(model, speechlike, [1, 3], chunk_seconds=60).astype(np.float32).tobytes() == fp32.tobytes()
    with pytest.raises(InputError, match="ssl.precision"):
        ssl.hidden_states(model, speechlike[:16000], [1], precision="float16")
    assert ssl.SSLSettings().precision == "bfloat16"


def test_stored_settings_reproduce_the_features_from_another_folder(settings, model, speechlike, tmp_path, monkeypatch):
    relative = dataclasses.replace(settings, layers=(3, 1), chunk_seconds=4, context_seconds=1, precision="float32",
                                   checkpoint=Path(settings.checkpoint).name)  # relative to the training job's folder
    monkeypatch.chdir(Path(settings.checkpoint).parent)
    stored = ssl.stored_settings(relative)
    assert stored["checkpoint"] == str(Path(settings.checkpoint).resolve()) and stored["layers"] == [3, 1]
    assert "device" not in stored
    torch.save({"ssl": stored}, tmp_path / "model.pt")  # model.pt is read back with weights_only=True
    monkeypatch.chdir(tmp_path)
    again = ssl.SSLSettings.from_config(torch.load(tmp_path / "model.pt", weights_only=True)["ssl"])
    first, _ = ssl.extract(model, speechlike, relative, 300)
    second, layers = ssl.extract(ssl.load_extractor(again), speechlike, again, 300)
    assert layers == [3, 1]
    np.testing.assert_array_equal(first, second)
    every = ssl.stored_settings(ssl.SSLSettings(bundle="WAV2VEC2_BASE", architecture=TINY))
    assert every["layers"] == [1, 2, 3] and every["checkpoint"] is None


def test_20ms_frames_are_averaged_in_pairs_on_the_label_grid():
    frames = np.arange(7, dtype=np.float16)[:, None, None] * np.ones((1, 2, 3), dtype=np.float16)  # frame j holds j
    start = ssl.to_label_grid(frames, 5, offset=0, block=2)
    assert start.dtype == np.float16 and start.shape == (5, 2, 3)
    np.testing.assert_array_equal(start[:, 0, 0], [0.5, 2.5, 4.5, 6.0, 6.0])  # (0+1)/2, (2+3)/2, ... then the last frame
    end = ssl.to_label_grid(frames, 4, offset=1)
    np.testing.assert_array_equal(end[:, 1, 2], [0.0, 0.5, 2.5, 4.5])  # label k <- audio frame k - 1


def test_extract_gives_float16_rows_per_label_frame_and_refuses_mismatched_lengths(model, settings, speechlike):
    n_rows = 308  # 12.3 s: 307.5 label frames of audio, the last one repeats the last SSL frame
    values, layers = ssl.extract(model, speechlike, settings, n_rows)
    assert layers == [1, 2, 3] and values.shape == (n_rows, 3 * 32) and values.dtype == np.float16
    assert len(ssl.feature_names(layers, 32)) == 96 and ssl.feature_names(layers, 32)[32] == "l2_0"
    with pytest.raises(InputError, match="rec: .*lengths do not match"):
        ssl.extract(model, speechlike, settings, n_rows + 100, where="rec")


def test_layer_pooling_is_a_softmax_weighted_sum_of_normalised_layers():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 3 * 4) * torch.tensor([1.0, 10.0, 100.0]).repeat_interleave(4)
    pool = LayerPooling(3)
    assert torch.allclose(pool.weights(), torch.full((3,), 1 / 3))
    layers = torch.nn.functional.layer_norm(x.reshape(2, 5, 3, 4), (4,))
    assert torch.allclose(pool(x), layers.mean(dim=2), atol=1e-6)
    with torch.no_grad():
        pool.logits.copy_(torch.tensor([0.0, 30.0, 0.0]))
    assert torch.allclose(pool(x), layers[:, :, 1], atol=1e-5)  # all weight on the second layer


def test_ssl_blstm_trains_its_layer_weights_and_checks_its_input():
    model = build_model("ssl_blstm", 2, n_features=3 * 8, n_layers=3, hidden_size=4)
    y = model(torch.randn(2, 150, 24))
    assert y.shape == (2, 150, 2) and "3 SSL layers x 8" in model.describe()
    y.sum().backward()
    assert model.pooling.logits.grad is not None and model.pooling.logits.grad.abs().sum() > 0
    with pytest.raises(InputError, match="do not split into n_layers=5"):
        build_model("ssl_blstm", 1, n_features=24, n_layers=5)


def test_grid_settings_give_ssl_models_their_layer_count_and_feature_set():
    config = {"corpus": {"dimensions": ["arousal"]}, "models": {"s": {"network": "ssl_blstm", "objectives": ["ccc"]},
                                                              "e2e": {"network": "e2e", "objectives": ["ccc"]}},
              "ssl": {"bundle": "HUBERT_LARGE", "layers": [6, 12, 18]}}
    settings = systems.model_settings(config, "s")
    assert settings["features"] == "ssl" and settings["kwargs"] == {"n_layers": 3}
    assert systems.has_ssl(config)
    config["ssl"]["layers"] = None
    assert systems.model_settings(config, "s")["kwargs"] == {"n_layers": 24}
    del config["models"]["s"]
    assert not systems.has_ssl(config)


@pytest.mark.parametrize("name, width", [("ssl_spec", 24 // 3 + 640), ("ssl_wavespec", 24 // 3 + 1280)])
def test_fusion_models_take_audio_and_ssl_rows_packed(name, width):
    torch.manual_seed(0)
    model = build_model(name, 2, n_features=24, n_layers=3, hidden_size=4).eval()
    audio, rows = torch.randn(2, 7 * 640), torch.randn(2, 7, 24)
    x = pack(audio, rows)
    assert model.input_kind == "audio+features" and x.shape == (2, 7 * (640 + 24))
    unpacked = model.unpack(x)
    assert torch.equal(unpacked[0], audio) and torch.equal(unpacked[1], rows)
    assert model.frame_features(x).shape == (2, 7, width)
    y = model(x)
    assert y.shape == (2, 7, 2) and "3 SSL layers x 8" in model.describe()
    y.sum().backward()
    assert model.pooling.logits.grad.abs().sum() > 0
    with pytest.raises(InputError, match="packed audio and SSL rows"):
        model(audio)


def test_predict_refuses_ssl_models_without_stored_settings_and_stray_ssl_checkpoints(tmp_path, checkpoint):
    from emotrace.inference import load_predictor
    from emotrace.training import TrainSettings, cpu_state, model_checkpoint, save_torch

    def write(name: str, extra: dict, n_features: int | None, feature_set: str | None) -> Path:
        module = build_model(name, 1, n_features=n_features, **({"n_layers": 2} if feature_set else {}))
        settings = TrainSettings(model=name, dimensions=["arousal"], model_kwargs={"n_layers": 2} if feature_set else {})
        path = tmp_path / f"{name}.pt"
        save_torch(model_checkpoint(settings, module, cpu_state(module), n_features, 0, feature_set, None, extra), path)
        return path

    older = write("ssl_blstm", {}, 64, "ssl")  # a model.pt written before the ssl settings were stored
    with pytest.raises(InputError, match="ssl_blstm.pt: .*does not record the ssl settings"):
        load_predictor(older, device="cpu")
    audio_model = write("e2e", {}, None, None)
    with pytest.raises(InputError, match="--ssl-checkpoint: .*does not read SSL features"):
        load_predictor(audio_model, device="cpu", ssl_checkpoint=checkpoint)
