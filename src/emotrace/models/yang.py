"""Yang & Hirschberg 2018: waveform (`wave`), spectrogram (`spec`) and fused (`wavespec`) models.

Each branch turns 6 s of audio into a 96 000-value map (640 values per 40 ms frame);
the fused model concatenates both per frame (1 280). 2 BLSTM layers (128 cells per
branch model, 256 for the fusion) and one linear head per output dimension.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchaudio
from torch import Tensor, nn

from emotrace.errors import InputError
from emotrace.models.e2e import FRAME_SAMPLES, WaveformCNN, check_audio, frames_from_maps
from emotrace.models.fftconv import same_padding
from emotrace.models.layers import Dropout, channel_max_pool
from emotrace.models.recurrent import LSTMStack, OutputHeads, SequenceRegressor

SAMPLE_RATE = 16_000
HOP = 160  # 10 ms
WINDOW = 400  # 25 ms
N_MELS = 40
LOG_FLOOR = 1e-6  # power floor before the log (the audio is z-normalised, so speech power is ~1)


class LogMelDeltas(nn.Module):
    """40-band log-mel spectrogram (25 ms Hann window, 10 ms hop) with first and second deltas.

    The signal is zero-padded by (window - hop) / 2 on both sides so that there is
    exactly one frame per 10 ms hop, centred on it: [B, L] -> [B, 3, 40, L / 160].
    """

    def __init__(self, n_mels: int = N_MELS, floor: float = LOG_FLOOR):
        super().__init__()
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=SAMPLE_RATE, n_fft=WINDOW, win_length=WINDOW, hop_length=HOP, n_mels=n_mels,
            center=False, power=2.0)
        self.floor = floor

    def forward(self, x: Tensor) -> Tensor:
        pad = (WINDOW - HOP) // 2
        logmel = self.mel(F.pad(x, (pad, pad))).clamp_min(self.floor).log()
        delta = torchaudio.functional.compute_deltas(logmel)
        delta2 = torchaudio.functional.compute_deltas(delta)
        return torch.stack([logmel, delta, delta2], dim=1)


class SpectrogramCNN(nn.Module):
    """conv 80 x 10 along frequency, ReLU, max-pool 2 along frequency; conv 80 x 10 along time, ReLU;
    max-pool across channels by 10 -> 8 x 20 values per 10 ms = 640 per 40 ms frame.

    Dropout follows each max-pooling ("dropout layers ... after the max-pooling layers").
    Both convolutions are 'same'-padded explicitly (the extra zero after, as PyTorch's
    padding='same' places it): with the even kernel, padding='same' warns on every call.
    """

    def __init__(self, channels: int = 80, kernel: int = 10, channel_pool: int = 10, dropout: float = 0.5):
        super().__init__()
        self.freq_conv = nn.Conv2d(3, channels, (kernel, 1))
        self.time_conv = nn.Conv2d(channels, channels, (1, kernel))
        self.pad = same_padding(kernel)
        self.channel_pool = channel_pool
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.channels, self.kernel = channels, kernel

    def forward(self, spec: Tensor) -> Tensor:
        """[B, 3, 40, T] (T spectrogram frames) -> [B, channels / pool, 20, T]."""
        h = self.freq_conv(F.pad(spec, (0, 0, *self.pad)))  # F.pad's order: last dim (time) first
        h = self.dropout1(F.relu(F.max_pool2d(h, (2, 1))))
        return self.dropout2(channel_max_pool(F.relu(self.time_conv(F.pad(h, self.pad))), self.channel_pool))

    def describe(self) -> str:
        return (f"log-mel {N_MELS} + deltas -> conv {self.channels}x{self.kernel} (freq) -> pool 2 -> "
                f"conv {self.channels}x{self.kernel} (time) -> channel pool {self.channel_pool}")


def spectrogram_frames(maps: Tensor) -> Tensor:
    """[B, C, 20, T] spectrogram maps -> [B, T / 4, C * 20 * 4]: each 40 ms frame's four 10 ms columns."""
    b, c, f, t = maps.shape
    return frames_from_maps(maps.reshape(b, c * f, t), t // (FRAME_SAMPLES // HOP))


def check_spectrogram(spec: Tensor, name: str) -> None:
    """Spectrogram input must be [B, 3, 40, T] with T a multiple of 4 (whole 40 ms frames)."""
    per_frame = FRAME_SAMPLES // HOP
    if spec.dim() != 4 or tuple(spec.shape[1:3]) != (3, N_MELS) or spec.shape[3] == 0 or spec.shape[3] % per_frame:
        raise InputError(f"model {name!r}",
                         f"expects a spectrogram [batch, 3, {N_MELS}, frames] with frames a multiple of {per_frame}, "
                         f"got {tuple(spec.shape)}")


def wave_branch() -> WaveformCNN:
    """conv 40 x 80, ReLU, max-pool 2; conv 40 x 800 (100 ms at 8 kHz), ReLU; channel pool 20; dropout after each pool."""
    return WaveformCNN(40, 80, 800, second_relu=True, channel_pool=20, input_dropout=0.0,
                       pool_dropout=0.5, map_dropout=0.5)


class YangModel(SequenceRegressor):
    """Common part of the three models: audio in, 2 BLSTM layers, one head per output."""

    input_kind = "audio"
    frame_samples = FRAME_SAMPLES

    def _finish(self, in_features: int, hidden_size: int, n_outputs: int) -> None:
        self.rnn = LSTMStack(in_features, hidden_size, 2, bidirectional=True)
        self.output = OutputHeads(self.rnn.output_size, n_outputs)

    def predict_frames(self, frames: Tensor) -> Tensor:
        return self.output(self.rnn(frames))


class Wave(YangModel):
    """Yang & Hirschberg's 'W only' model."""

    name = "wave"

    def __init__(self, n_outputs: int, hidden_size: int = 128):
        super().__init__()
        self.wave_cnn = wave_branch()
        self._finish(self.wave_cnn.out_channels * FRAME_SAMPLES // 2, hidden_size, n_outputs)

    def frame_features(self, x: Tensor) -> Tensor:
        check_audio(x, self.name)
        return frames_from_maps(self.wave_cnn(x), x.shape[1] // FRAME_SAMPLES)

    def front_end(self) -> str:
        return self.wave_cnn.describe()


class Spec(YangModel):
    """Yang & Hirschberg's 'S only' model; `forward_from_spectrogram` lets LIME perturb the spectrogram."""

    name = "spec"

    def __init__(self, n_outputs: int, hidden_size: int = 128):
        super().__init__()
        self.logmel = LogMelDeltas()
        self.spec_cnn = SpectrogramCNN()
        per_frame = self.spec_cnn.channels // self.spec_cnn.channel_pool * (N_MELS // 2) * (FRAME_SAMPLES // HOP)
        self._finish(per_frame, hidden_size, n_outputs)

    def spectrogram(self, x: Tensor) -> Tensor:
        """[B, L] audio -> [B, 3, 40, L / 160] log-mel + deltas."""
        check_audio(x, self.name)
        return self.logmel(x)

    def frame_features(self, x: Tensor) -> Tensor:
        return spectrogram_frames(self.spec_cnn(self.spectrogram(x)))

    def forward_from_spectrogram(self, spec: Tensor, waveform: Tensor | None = None) -> Tensor:
        """Predictions [B, T / 4, n_outputs] from a (possibly perturbed) spectrogram; `waveform` is unused."""
        check_spectrogram(spec, self.name)
        return self.predict_frames(spectrogram_frames(self.spec_cnn(spec)))

    def front_end(self) -> str:
        return self.spec_cnn.describe()


class WaveSpec(YangModel):
    """Yang & Hirschberg's 'W+S' model: both branches' 640 values per frame concatenated (1 280)."""

    name = "wavespec"

    def __init__(self, n_outputs: int, hidden_size: int = 256):
        super().__init__()
        self.wave_cnn = wave_branch()
        self.logmel = LogMelDeltas()
        self.spec_cnn = SpectrogramCNN()
        per_frame = 2 * self.wave_cnn.out_channels * FRAME_SAMPLES // 2
        self._finish(per_frame, hidden_size, n_outputs)

    def spectrogram(self, x: Tensor) -> Tensor:
        """[B, L] audio -> [B, 3, 40, L / 160] log-mel + deltas."""
        check_audio(x, self.name)
        return self.logmel(x)

    def _fused(self, spec: Tensor, x: Tensor) -> Tensor:
        wave = frames_from_maps(self.wave_cnn(x), x.shape[1] // FRAME_SAMPLES)
        return torch.cat([wave, spectrogram_frames(self.spec_cnn(spec))], dim=-1)

    def frame_features(self, x: Tensor) -> Tensor:
        return self._fused(self.spectrogram(x), x)

    def forward_from_spectrogram(self, spec: Tensor, waveform: Tensor | None = None) -> Tensor:
        """Predictions from a (possibly perturbed) spectrogram and the unperturbed waveform it came from."""
        check_spectrogram(spec, self.name)
        if waveform is None:
            raise InputError(f"model {self.name!r}", "forward_from_spectrogram needs the waveform too")
        check_audio(waveform, self.name)
        if waveform.shape[0] != spec.shape[0] or waveform.shape[1] // HOP != spec.shape[3]:
            raise InputError(f"model {self.name!r}",
                             f"waveform {tuple(waveform.shape)} does not match spectrogram {tuple(spec.shape)}")
        return self.predict_frames(self._fused(spec, waveform))

    def front_end(self) -> str:
        return f"[{self.wave_cnn.describe()}] + [{self.spec_cnn.describe()}]"
