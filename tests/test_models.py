"""Model registry, shapes at the papers' sizes, frame bookkeeping, spectrogram front end."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import pytest
import torch
import torch.nn.functional as F
import torchaudio

from emotrace.errors import InputError
from emotrace.models import MODELS, build_model
from emotrace.models.e2e import frames_from_maps
from emotrace.models.recurrent import count_parameters

AUDIO = ["e2e", "e2e2017", "wave", "spec", "wavespec"]
FEATURES = ["drnn", "blstm6373", "ssl_blstm"]
FUSION = ["ssl_spec", "ssl_wavespec"]
SEGMENT = 96_000


@pytest.fixture(scope="module")
def audio():
    return torch.randn(2, SEGMENT, generator=torch.Generator().manual_seed(0))


def test_registry_lists_every_model_and_refuses_unknown_names_and_arguments():
    assert sorted(MODELS) == sorted(AUDIO + FEATURES + FUSION)
    with pytest.raises(InputError, match=r"unknown model 'x'; valid: \['blstm6373', 'drnn', 'e2e'"):
        build_model("x", 1)
    with pytest.raises(InputError, match="unknown argument"):
        build_model("e2e", 1, cells=3)
    with pytest.raises(InputError, match="needs n_features"):
        build_model("drnn", 1)
    with pytest.raises(InputError, match="n_outputs"):
        build_model("wave", 0)
    for name in AUDIO:
        assert MODELS[name].input_kind == "audio" and MODELS[name].frame_samples == 640
    for name in FEATURES:
        assert MODELS[name].input_kind == "features"


@pytest.mark.parametrize("name, n_out, width", [
    ("e2e", 1, 512), ("e2e2017", 2, 512), ("wave", 2, 512), ("spec", 2, 512), ("wavespec", 2, 1024),
])
def test_audio_models_map_a_segment_to_150_frames(name, n_out, width, audio):
    model = build_model(name, n_out).eval()
    with torch.no_grad():
        assert model(audio).shape == (2, 150, n_out)
        short = audio[:, : 7 * 640]
        assert model(short).shape == (2, 7, n_out)
        assert model.recurrent_activations(short).shape == (2, 7, width)
    line = model.describe()
    assert "\n" not in line and line.startswith(name) and f"{count_parameters(model):,}" in line


def test_e2e_trains_end_to_end_and_has_the_texts_parameter_count(audio):
    torch.manual_seed(0)
    model = build_model("e2e", 1).train()
    # conv1 + conv2 (40 x 40 x 4000) + 2 BLSTM layers (640 -> 128, 256 -> 128, both directions) + linear
    lstm = lambda n_in: 2 * (4 * 128 * (n_in + 128) + 2 * 4 * 128)
    expected = (40 * 80 + 40) + (40 * 40 * 4000 + 40) + lstm(640) + lstm(256) + (256 + 1)
    assert count_parameters(model) == expected
    out = model(audio)
    out.pow(2).mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_bad_audio_is_refused():
    model = build_model("e2e", 1).eval()
    with pytest.raises(InputError, match="multiple of 640"):
        model(torch.randn(1, 1000))
    with pytest.raises(InputError, match="audio"):
        model(torch.randn(1, 1, 640))


def test_frames_keep_each_channels_samples_together():
    maps = torch.arange(2 * 2 * 960.0).view(2, 2, 960)
    frames = frames_from_maps(maps, 3)
    assert frames.shape == (2, 3, 640)
    for t in range(3):
        want = torch.cat([maps[:, 0, 320 * t : 320 * (t + 1)], maps[:, 1, 320 * t : 320 * (t + 1)]], dim=1)
        assert torch.equal(frames[:, t], want)


def test_e2e2017_cnn_sees_one_frame_at_a_time(audio):
    model = build_model("e2e2017", 1).eval()
    changed = audio.clone()
    changed[:, 640 * 5 : 640 * 6] = torch.randn(2, 640)
    with torch.no_grad():
        before, after = model.frame_features(audio), model.frame_features(changed)
    assert before.shape == (2, 150, 1280)
    differs = (before != after).any(dim=2).any(dim=0)
    assert differs.nonzero().flatten().tolist() == [5]


def test_spectrogram_is_logmel_with_deltas_one_frame_per_10ms():
    model = build_model("spec", 2).eval()
    t = torch.arange(SEGMENT) / 16000
    tone = torch.sin(2 * math.pi * 1000 * t)
    click = torch.zeros(SEGMENT)
    click[16000:16160] = 10 * torch.randn(160, generator=torch.Generator().manual_seed(1))
    spec = model.spectrogram(torch.stack([tone, click]))
    assert spec.shape == (2, 3, 40, 600)
    fbank = torchaudio.functional.melscale_fbanks(201, 0.0, 8000.0, 40, 16000)
    assert spec[0, 0].mean(dim=1).argmax().item() == fbank[1000 * 400 // 16000].argmax().item()
    assert spec[1, 0].mean(dim=0).argmax().item() in (99, 100)  # the click at 1 s is in frames 99-100
    assert torch.allclose(spec[:, 1], torchaudio.functional.compute_deltas(spec[:, 0]))
    assert torch.allclose(spec[:, 2], torchaudio.functional.compute_deltas(spec[:, 1]))


@pytest.mark.parametrize("name", ["spec", "wavespec"])
def test_forward_from_spectrogram_matches_forward(name, audio):
    model = build_model(name, 2).eval()
    audio = audio[:, : 640 * 7]
    with torch.no_grad():
        spec = model.spectrogram(audio)
        assert torch.allclose(model.forward_from_spectrogram(spec, audio), model(audio), atol=1e-5)
        shuffled = model.forward_from_spectrogram(spec.flip(-1), audio)
        assert not torch.allclose(shuffled, model(audio))
    with pytest.raises(InputError, match="spectrogram"):
        model.forward_from_spectrogram(spec[..., :-1], audio)


def test_spectrogram_cnn_pads_like_torch_same_padding_without_its_warning(audio):
    """The explicit padding gives PyTorch's padding='same' result exactly (the extra zero after), silently."""
    model = build_model("spec", 2).eval()
    cnn = model.spec_cnn
    with torch.no_grad():
        spec = model.spectrogram(audio[:, : 640 * 7])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            h = F.conv2d(spec, cnn.freq_conv.weight, cnn.freq_conv.bias, padding="same")
            h = F.relu(F.max_pool2d(h, (2, 1)))
            h = F.relu(F.conv2d(h, cnn.time_conv.weight, cnn.time_conv.bias, padding="same"))
            reference = h.reshape(h.shape[0], -1, cnn.channel_pool, *h.shape[2:]).amax(dim=2)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert torch.equal(cnn(spec), reference)


def test_spectrogram_models_run_without_warnings():
    """In a fresh interpreter: PyTorch raises its padding warning once per process, so an earlier test would hide it."""
    code = ("import torch; from emotrace.models import build_model\n"
            "x = torch.randn(1, 640 * 7)\n"
            "for name in ('spec', 'wavespec'): build_model(name, 2).eval()(x)\n"
            "build_model('ssl_spec', 2, n_features=8).eval()(torch.cat([x, torch.randn(1, 7 * 8)], dim=1))\n")
    proc = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "Warning" not in proc.stderr, proc.stderr


def test_wavespec_needs_the_waveform_with_the_spectrogram(audio):
    model = build_model("wavespec", 2).eval()
    spec = model.spectrogram(audio)
    with pytest.raises(InputError, match="needs the waveform"):
        model.forward_from_spectrogram(spec)
    with pytest.raises(InputError, match="does not match"):
        model.forward_from_spectrogram(spec, audio[:, :640 * 10])


@pytest.mark.parametrize("name, n_features, width", [("drnn", 88, 384), ("blstm6373", 6373, 512)])
def test_feature_models_map_frames_to_frames(name, n_features, width):
    model = build_model(name, 2, n_features=n_features)
    x = torch.randn(2, 30, n_features)
    model.eval()
    with torch.no_grad():
        out = model(x)
        assert out.shape == (2, 30, 2)
        assert torch.equal(out, model(x))  # no noise or dropout in eval mode
        assert model.recurrent_activations(x).shape == (2, 30, width)
    model.train()
    with torch.no_grad():
        assert not torch.equal(model(x), model(x))  # input noise / dropout in training
    with pytest.raises(InputError, match=f"{n_features}"):
        model(torch.randn(2, 30, n_features + 1))


def test_drnn_input_noise_has_sigma_0_1():
    model = build_model("drnn", 1, n_features=50).train()
    x = torch.zeros(4, 100, 50)
    assert model.frame_features(x).std().item() == pytest.approx(0.1, rel=0.05)
    assert torch.equal(model.eval().frame_features(x), x)


def test_yang_models_have_one_head_per_output():
    model = build_model("wave", 3)
    assert len(model.output.heads) == 3
    assert all(head.out_features == 1 for head in model.output.heads)
