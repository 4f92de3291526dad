"""Recurrent back end shared by every model, and the two feature baselines.

`SequenceRegressor` is the common shape of all models here: per-frame features
(a CNN on audio, or openSMILE rows), a stack of (B)LSTM layers whose every
layer's output stays reachable (Trigeorgis 2016 Fig. 2 correlates single cells
with prosodic features), and a linear output per frame.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn

from emotrace.errors import InputError
from emotrace.models.layers import Dropout


class LSTMStack(nn.Module):
    """Stacked (bidirectional) LSTM layers, batch-first, keeping each layer's output."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, bidirectional: bool = True):
        super().__init__()
        width = hidden_size * (2 if bidirectional else 1)
        self.layers = nn.ModuleList(
            nn.LSTM(input_size if i == 0 else width, hidden_size, batch_first=True, bidirectional=bidirectional)
            for i in range(num_layers)
        )
        self.hidden_size, self.num_layers, self.bidirectional = hidden_size, num_layers, bidirectional
        self.output_size = width

    def layer_outputs(self, x: Tensor) -> list[Tensor]:
        """Output of every layer, each [B, T, hidden * directions]."""
        outputs = []
        for lstm in self.layers:
            x, _ = lstm(x)
            outputs.append(x)
        return outputs

    def forward(self, x: Tensor) -> Tensor:
        return self.layer_outputs(x)[-1]

    def describe(self) -> str:
        kind = "BLSTM" if self.bidirectional else "LSTM"
        return f"{kind} {self.num_layers}x{self.hidden_size}"


class OutputHeads(nn.Module):
    """One linear head per output dimension on each frame (Yang & Hirschberg's joint arousal/valence)."""

    def __init__(self, in_features: int, n_outputs: int):
        super().__init__()
        self.heads = nn.ModuleList(nn.Linear(in_features, 1) for _ in range(n_outputs))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([head(x) for head in self.heads], dim=-1)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class SequenceRegressor(nn.Module, ABC):
    """Per-frame features -> recurrent stack -> linear output; subclasses define `frame_features`.

    Subclasses set `rnn` (an LSTMStack), `output` (a module on the last layer's
    frames) and optionally `output_dropout` (applied before `output`).
    """

    name = "model"
    input_kind = "audio"
    rnn: LSTMStack
    output: nn.Module

    @abstractmethod
    def frame_features(self, x: Tensor) -> Tensor:
        """The recurrent stack's input, [B, T, F]."""

    def output_dropout(self, x: Tensor) -> Tensor:
        return x

    def forward(self, x: Tensor) -> Tensor:
        return self.output(self.output_dropout(self.rnn(self.frame_features(x))))

    def recurrent_activations(self, x: Tensor) -> Tensor:
        """Every recurrent layer's output, concatenated: [B, T, sum of layer widths]."""
        return torch.cat(self.rnn.layer_outputs(self.frame_features(x)), dim=-1)

    def front_end(self) -> str:
        """One phrase describing what produces the frame features."""
        return ""

    def describe(self) -> str:
        """One line for the training log: name, parameter count, key sizes."""
        n_out = len(self.output.heads) if isinstance(self.output, OutputHeads) else self.output.out_features
        return (f"{self.name}: {count_parameters(self):,} parameters; {self.front_end()}; "
                f"{self.rnn.describe()}; {n_out} output(s)")


def check_features(x: Tensor, n_features: int, name: str) -> None:
    """Feature input must be [B, T, n_features]."""
    if x.dim() != 3 or x.shape[-1] != n_features:
        raise InputError(f"model {name!r}", f"expects features [batch, frames, {n_features}], got {tuple(x.shape)}")


class FeatureRegressor(SequenceRegressor):
    """Common part of the models on per-frame openSMILE features."""

    input_kind = "features"

    def __init__(self, n_outputs: int, n_features: int):
        super().__init__()
        if n_features is None or n_features < 1:
            raise InputError(f"model {self.name!r}", f"needs the number of input features, got {n_features!r}")
        self.n_features = n_features

    def front_end(self) -> str:
        return f"{self.n_features} features per frame"


class BLSTMDRNN(FeatureRegressor):
    """Trigeorgis 2016's baseline: Gaussian input noise (sigma 0.1, training only), 3 BLSTM layers of 64, linear output."""

    name = "drnn"

    def __init__(self, n_outputs: int, n_features: int, hidden_size: int = 64, num_layers: int = 3,
                 noise_std: float = 0.1):
        super().__init__(n_outputs, n_features)
        self.noise_std = noise_std
        self.rnn = LSTMStack(n_features, hidden_size, num_layers, bidirectional=True)
        self.output = nn.Linear(self.rnn.output_size, n_outputs)

    def frame_features(self, x: Tensor) -> Tensor:
        check_features(x, self.n_features, self.name)
        if self.training and self.noise_std > 0:
            x = x + self.noise_std * torch.randn_like(x)
        return x

    def front_end(self) -> str:
        return f"{self.n_features} features per frame + N(0, {self.noise_std}) input noise"


class ComParEBLSTM(FeatureRegressor):
    """Yang & Hirschberg's baseline on ComParE 2016 functionals: input dropout 0.5, 2 BLSTM of 128, a head per output."""

    name = "blstm6373"

    def __init__(self, n_outputs: int, n_features: int = 6373, hidden_size: int = 128, num_layers: int = 2,
                 dropout: float = 0.5):
        super().__init__(n_outputs, n_features)
        self.input_dropout = Dropout(dropout)
        self.rnn = LSTMStack(n_features, hidden_size, num_layers, bidirectional=True)
        self.output = OutputHeads(self.rnn.output_size, n_outputs)

    def frame_features(self, x: Tensor) -> Tensor:
        check_features(x, self.n_features, self.name)
        return self.input_dropout(x)

    def front_end(self) -> str:
        return f"{self.n_features} features per frame + dropout {self.input_dropout.p}"
