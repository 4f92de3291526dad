"""A network of one's own for emotrace (docs/extending.md): a strided convolution per 40 ms frame and a GRU.

Trained by the pipeline when a config names it:

    models:
      convgru:
        network: ConvGRU
        module: docs/examples/my_network.py
        objectives: [ccc]

Its only contract with emotrace: a torch.nn.Module whose constructor takes the number of
outputs first (plus `sample_rate`, which the trainer passes because the signature names it,
and any `kwargs` of the config), and whose forward maps a batch of 16 kHz audio [B, L], L a
multiple of 640 samples (40 ms), to one row per 40 ms frame: [B, L / 640, n_outputs].
"""

from __future__ import annotations

import torch
from torch import nn


class ConvGRU(nn.Module):
    """Two convolutions down to one vector per 40 ms frame, then a bidirectional GRU and a linear output."""

    input_kind = "audio"  # optional; when declared, it must agree with the config (no `features` key: audio)

    def __init__(self, n_outputs: int, sample_rate: int = 16000, channels: int = 16, hidden_size: int = 32):
        super().__init__()
        frame = sample_rate * 40 // 1000  # samples per 40 ms label frame (640 at 16 kHz)
        hop = frame // 16  # 2.5 ms
        self.conv = nn.Sequential(
            nn.Conv1d(1, channels, kernel_size=2 * hop, stride=hop, padding=hop // 2),  # 5 ms windows
            nn.ReLU(),
            nn.Conv1d(channels, channels, kernel_size=16, stride=16),  # 16 hops -> one vector per frame
            nn.ReLU(),
        )
        self.gru = nn.GRU(channels, hidden_size, batch_first=True, bidirectional=True)
        self.output = nn.Linear(2 * hidden_size, n_outputs)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        frames = self.conv(audio[:, None, :]).transpose(1, 2)  # [B, L / 640, channels]
        return self.output(self.gru(frames)[0])

    def describe(self) -> str:
        """The line the training log shows (optional: without it, the class and its parameter count)."""
        n = sum(p.numel() for p in self.parameters())
        return f"ConvGRU: conv {self.conv[0].out_channels} x 5 ms -> 40 ms frames -> BiGRU {self.gru.hidden_size} ({n} parameters)"


class FeatureGRU(nn.Module):
    """A GRU over openSMILE feature rows, for an entry with a `features:` key: [B, T, n_features] -> [B, T, n_outputs].

    The trainer passes `n_features` (the width of the rows, z-normalised with the training speakers'
    statistics) because the entry names a feature set.
    """

    def __init__(self, n_outputs: int, n_features: int, hidden_size: int = 32):
        super().__init__()
        self.gru = nn.GRU(n_features, hidden_size, batch_first=True, bidirectional=True)
        self.output = nn.Linear(2 * hidden_size, n_outputs)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.output(self.gru(rows)[0])
