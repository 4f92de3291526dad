"""`ssl_blstm`: a learnt softmax-weighted sum of frozen SSL layers, 2 BLSTM layers, one linear head per dimension.

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
from emotrace.models.layers import Dropout
from emotrace.models.recurrent import FeatureRegressor, LSTMStack, OutputHeads, check_features


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
