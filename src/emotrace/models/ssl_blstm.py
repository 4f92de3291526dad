"""`ssl_blstm`: a learnt softmax-weighted sum of frozen SSL layers, 2 BLSTM layers, one linear head per dimension;
`ssl_spec` and `ssl_wavespec`: the same layers fused with Yang & Hirschberg's spectrogram (and waveform) branches.

Input rows are the cached `ssl` features (emotrace.ssl): [B, T, n_layers * dim], layer-major.
Each layer's vector is layer-normalised (no learnt scale: the layers' magnitudes differ by
orders, and a per-frame norm needs no training-set statistics), then the layers are mixed
with softmax(w) weights learnt with the rest (as in SUPERB's weighted sum of hidden states).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from emotrace.errors import InputError
from emotrace.models.e2e import FRAME_SAMPLES, check_audio, frames_from_maps
from emotrace.models.layers import Dropout
from emotrace.models.recurrent import FeatureRegressor, LSTMStack, OutputHeads, SequenceRegressor, check_features
from emotrace.models.yang import HOP, N_MELS, LogMelDeltas, SpectrogramCNN, spectrogram_frames, wave_branch


class LayerPooling(nn.Module):
    """[B, T, L * D] -> [B, T, D]: per-layer layer norm, then the softmax-weighted sum over the L layers."""

    def __init__(self, n_layers: int, normalise: bool = True):
        super().__init__()
        self.n_layers, self.normalise = n_layers, normalise
        self.logits = nn.Parameter(torch.zeros(n_layers))  # equal weights at the start

    def weights(self) -> Tensor:
        """The current layer weights (sum to 1)."""
        return torch.softmax(self.logits, dim=0)

    def forward(self, x: Tensor) -> Tensor:
        b, t, width = x.shape
        layers = x.reshape(b, t, self.n_layers, width // self.n_layers)
        if self.normalise:
            layers = F.layer_norm(layers, layers.shape[-1:])
        return torch.einsum("btld,l->btd", layers, self.weights())


class SSLBLSTM(FeatureRegressor):
    """Frozen SSL layers (weighted sum) -> dropout -> 2 BLSTM layers of 128 -> a linear head per output."""

    name = "ssl_blstm"

    def __init__(self, n_outputs: int, n_features: int, n_layers: int = 1, hidden_size: int = 128,
                 num_layers: int = 2, dropout: float = 0.2, layer_norm: bool = True):
        super().__init__(n_outputs, n_features)
        if n_layers < 1 or n_features % n_layers:
            raise InputError(f"model {self.name!r}",
                             f"{n_features} input features do not split into n_layers={n_layers} equal layers")
        self.pooling = LayerPooling(n_layers, layer_norm)
        self.dim = n_features // n_layers
        self.input_dropout = Dropout(dropout)
        self.rnn = LSTMStack(self.dim, hidden_size, num_layers, bidirectional=True)
        self.output = OutputHeads(self.rnn.output_size, n_outputs)

    def frame_features(self, x: Tensor) -> Tensor:
        check_features(x, self.n_features, self.name)
        return self.input_dropout(self.pooling(x))

    def layer_weights(self) -> list[float]:
        """The learnt weight of each stored layer, in the feature file's layer order."""
        return [float(w) for w in self.pooling.weights().detach().cpu()]

    def front_end(self) -> str:
        weights = " ".join(f"{w:.3f}" for w in self.layer_weights())
        return f"{self.pooling.n_layers} SSL layers x {self.dim} -> softmax-weighted sum (weights {weights})"


def pack(audio: Tensor, features: Tensor) -> Tensor:
    """One input tensor for the fusion models: [B, T * 640] audio and [B, T, F] feature rows -> [B, T * (640 + F)]."""
    return torch.cat([audio, features.reshape(features.shape[0], -1)], dim=1)


class SSLFusion(SequenceRegressor):
    """SSL layers (weighted sum) fused per 40 ms frame with Yang's spectrogram branch (`ssl_spec`, 'ssl+S')
    or with both of Yang's branches (`ssl_wavespec`, 'ssl+W+S'); 2 BLSTM layers of 256, a head per output.

    The input packs the segment's audio and its SSL rows in one tensor (`pack`), so that the shared
    trainer and data loader handle it like any other model's input.
    """

    name = "ssl_fusion"
    input_kind = "audio+features"
    frame_samples = FRAME_SAMPLES
    waveform = False

    def __init__(self, n_outputs: int, n_features: int, n_layers: int = 1, hidden_size: int = 256,
                 num_layers: int = 2, dropout: float = 0.2, layer_norm: bool = True):
        super().__init__()
        if n_features is None or n_layers < 1 or n_features % n_layers:
            raise InputError(f"model {self.name!r}",
                             f"{n_features} input features do not split into n_layers={n_layers} equal layers")
        self.n_features = n_features
        self.pooling = LayerPooling(n_layers, layer_norm)
        self.ssl_dropout = Dropout(dropout)
        self.logmel = LogMelDeltas()
        self.spec_cnn = SpectrogramCNN()
        width = n_features // n_layers + self.spec_cnn.channels // self.spec_cnn.channel_pool * (N_MELS // 2) * (FRAME_SAMPLES // HOP)
        if self.waveform:
            self.wave_cnn = wave_branch()
            width += self.wave_cnn.out_channels * FRAME_SAMPLES // 2
        self.rnn = LSTMStack(width, hidden_size, num_layers, bidirectional=True)
        self.output = OutputHeads(self.rnn.output_size, n_outputs)

    def unpack(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """[B, T * (640 + F)] -> audio [B, T * 640], SSL rows [B, T, F]."""
        per_frame = FRAME_SAMPLES + self.n_features
        if x.dim() != 2 or x.shape[1] == 0 or x.shape[1] % per_frame:
            raise InputError(f"model {self.name!r}", f"expects packed audio and SSL rows [batch, frames * "
                             f"({FRAME_SAMPLES} + {self.n_features})], got {tuple(x.shape)}")
        n_frames = x.shape[1] // per_frame
        audio = x[:, : n_frames * FRAME_SAMPLES]
        return audio, x[:, n_frames * FRAME_SAMPLES :].reshape(x.shape[0], n_frames, self.n_features)

    def frame_features(self, x: Tensor) -> Tensor:
        audio, rows = self.unpack(x)
        check_audio(audio, self.name)
        parts = [self.ssl_dropout(self.pooling(rows))]
        if self.waveform:
            parts.append(frames_from_maps(self.wave_cnn(audio), rows.shape[1]))
        parts.append(spectrogram_frames(self.spec_cnn(self.logmel(audio))))
        return torch.cat(parts, dim=-1)

    def layer_weights(self) -> list[float]:
        """The learnt weight of each stored layer, in the feature file's layer order."""
        return [float(w) for w in self.pooling.weights().detach().cpu()]

    def front_end(self) -> str:
        ssl_part = f"{self.pooling.n_layers} SSL layers x {self.n_features // self.pooling.n_layers} (weighted sum)"
        wave = f" + [{self.wave_cnn.describe()}]" if self.waveform else ""
        return f"[{ssl_part}]{wave} + [{self.spec_cnn.describe()}]"


class SSLSpec(SSLFusion):
    """'ssl+S': SSL layers and Yang's spectrogram branch."""

    name = "ssl_spec"


class SSLWaveSpec(SSLFusion):
    """'ssl+W+S': SSL layers and both of Yang's branches."""

    name = "ssl_wavespec"
    waveform = True
