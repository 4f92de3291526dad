"""Trigeorgis et al. 2016's end-to-end model (`e2e`) and the authors' later frame-wise variant (`e2e2017`).

Both read z-normalised 16 kHz audio [B, L] (L a multiple of 640) and give one
prediction per 40 ms frame, [B, L // 640, n_outputs].
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from emotrace.errors import InputError
from emotrace.models.fftconv import FFTConv1d, same_padding
from emotrace.models.layers import ConvPoolReLU, Dropout, channel_max_pool
from emotrace.models.recurrent import LSTMStack, SequenceRegressor

FRAME_SAMPLES = 640  # 40 ms at 16 kHz: one annotation frame


def check_audio(x: Tensor, name: str) -> None:
    """Audio input must be [B, L] with L a positive multiple of one 40 ms frame."""
    if x.dim() != 2 or x.shape[1] == 0 or x.shape[1] % FRAME_SAMPLES:
        raise InputError(f"model {name!r}",
                         f"expects audio [batch, samples] with samples a multiple of {FRAME_SAMPLES}, got {tuple(x.shape)}")


def frames_from_maps(x: Tensor, n_frames: int) -> Tensor:
    """[B, C, L'] -> [B, n_frames, C * L' / n_frames]: frame t holds samples [t*s, (t+1)*s) of every channel.

    Channels stay apart inside a frame (channel-major), so no frame mixes times of
    another frame (End2You's port pools and reshapes so that frames mix; docs/references.md §3.2).
    """
    b, c, length = x.shape
    return x.reshape(b, c, n_frames, length // n_frames).transpose(1, 2).reshape(b, n_frames, -1)


class WaveformCNN(nn.Module):
    """Raw-waveform front end: conv (5 ms) -> ReLU -> max-pool 2 (8 kHz) -> long conv -> max-pool across channels.

    Gives `channels / channel_pool` maps at 8 kHz, i.e. 640 values per 40 ms frame for
    40 channels pooled by 20. The first layer (with its pooling, ReLU and dropout) is
    one fused matrix product, the long convolution runs through FFTs.
    """

    def __init__(self, channels: int = 40, first_kernel: int = 80, second_kernel: int = 4000,
                 second_relu: bool = False, channel_pool: int = 20, input_dropout: float = 0.0,
                 pool_dropout: float = 0.5, map_dropout: float = 0.0):
        super().__init__()
        self.input_dropout = Dropout(input_dropout)
        self.conv1 = ConvPoolReLU(channels, first_kernel, dropout=pool_dropout)
        self.conv2 = FFTConv1d(channels, channels, second_kernel, padding="same")
        self.second_relu, self.channel_pool = second_relu, channel_pool
        self.map_dropout = Dropout(map_dropout)
        self.out_channels = channels // channel_pool

    def forward(self, x: Tensor) -> Tensor:
        """[B, L] at 16 kHz -> [B, channels / channel_pool, L / 2] at 8 kHz."""
        h = channel_max_pool(self.conv2(self.conv1(self.input_dropout(x))), self.channel_pool)
        if self.second_relu:  # ReLU commutes with the max: applied after it, on 1/20 of the values
            h = F.relu(h)
        return self.map_dropout(h)

    def describe(self) -> str:
        c = self.conv1.out_channels
        return (f"conv {c}x{self.conv1.kernel_size} -> pool 2 -> conv {c}x{self.conv2.kernel_size} (FFT)"
                f"{' -> ReLU' if self.second_relu else ''} -> channel pool {self.channel_pool}")


class E2E(SequenceRegressor):
    """Trigeorgis 2016 as its text describes it.

    conv 40 x 80 taps (5 ms), ReLU, max-pool 2; conv 40 x 4 000 taps (500 ms at 8 kHz);
    max-pool across channels by 20 -> 2 x 320 = 640 values per 40 ms frame; 2 BLSTM
    layers of 128; linear output per frame. Dropout 0.5 "on all but the recurrent
    layers" is read as dropout on the input of every non-recurrent layer: the
    waveform (as in the authors' public code), the second convolution's input and
    the output layer's input. The second convolution alone has 6.4 M weights, so the
    model has ~7.6 M parameters (1.2 M in the BLSTM), not the ~1.5 M the paper quotes
    (docs/references.md §3.1).
    """

    name = "e2e"
    input_kind = "audio"
    frame_samples = FRAME_SAMPLES

    def __init__(self, n_outputs: int, channels: int = 40, second_kernel: int = 4000, hidden_size: int = 128,
                 dropout: float = 0.5):
        super().__init__()
        self.cnn = WaveformCNN(channels, 80, second_kernel, second_relu=False, channel_pool=20,
                               input_dropout=dropout, pool_dropout=dropout, map_dropout=0.0)
        self.rnn = LSTMStack(self.cnn.out_channels * FRAME_SAMPLES // 2, hidden_size, 2, bidirectional=True)
        self.dropout = Dropout(dropout)
        self.output = nn.Linear(self.rnn.output_size, n_outputs)

    def frame_features(self, x: Tensor) -> Tensor:
        check_audio(x, self.name)
        return frames_from_maps(self.cnn(x), x.shape[1] // FRAME_SAMPLES)

    def output_dropout(self, x: Tensor) -> Tensor:
        return self.dropout(x)

    def front_end(self) -> str:
        return self.cnn.describe() + f" -> {self.rnn.layers[0].input_size} per frame"


class FrameCNN(nn.Module):
    """The 2017 public code's CNN, applied to each 640-sample frame on its own.

    Dropout 0.5 on the input; conv 40 x 20 ('same'), ReLU, max-pool 2; conv 40 x 40
    ('same'), ReLU (slim's default activation in that code); max-pool across channels
    by 10 -> 4 x 320 = 1 280 values per frame. The channel pooling pools channels,
    not time (End2You's port gets this wrong).
    """

    def __init__(self, channels: int = 40, channel_pool: int = 10, input_dropout: float = 0.5):
        super().__init__()
        self.input_dropout = Dropout(input_dropout)
        self.conv1 = ConvPoolReLU(channels, 20)
        self.conv2 = nn.Conv1d(channels, channels, 40)  # 'same' padding applied explicitly in forward
        self.channel_pool = channel_pool
        self.out_features = channels // channel_pool * FRAME_SAMPLES // 2

    def forward(self, x: Tensor) -> Tensor:
        """[B, L] -> [B, L / 640, 1 280]."""
        b, length = x.shape
        frames = self.input_dropout(x).reshape(b * (length // FRAME_SAMPLES), FRAME_SAMPLES)
        h = self.conv1(frames)  # [B*T, 40, 320]
        h = F.relu(channel_max_pool(self.conv2(F.pad(h, same_padding(40))), self.channel_pool))  # [B*T, 4, 320]; ReLU commutes with max
        return h.reshape(b, length // FRAME_SAMPLES, -1)


class E2E2017(SequenceRegressor):
    """The authors' later frame-wise model: a CNN per 40 ms frame, then a 2-layer LSTM and a linear output.

    Default LSTM: 256 cells, unidirectional, as in the public 2017 code (which also
    used peephole connections, which torch's LSTM lacks); `hidden_size=128` and
    `bidirectional=True` give the other published setting.
    """

    name = "e2e2017"
    input_kind = "audio"
    frame_samples = FRAME_SAMPLES

    def __init__(self, n_outputs: int, hidden_size: int = 256, bidirectional: bool = False, dropout: float = 0.5):
        super().__init__()
        self.cnn = FrameCNN(input_dropout=dropout)
        self.rnn = LSTMStack(self.cnn.out_features, hidden_size, 2, bidirectional=bidirectional)
        self.output = nn.Linear(self.rnn.output_size, n_outputs)

    def frame_features(self, x: Tensor) -> Tensor:
        check_audio(x, self.name)
        return self.cnn(x)

    def front_end(self) -> str:
        return f"per-frame CNN conv 40x20 -> pool 2 -> conv 40x40 -> channel pool 10 -> {self.cnn.out_features} per frame"
