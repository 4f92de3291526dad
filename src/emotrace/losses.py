"""Training objectives: 1 - CCC (Trigeorgis 2016, Yang & Hirschberg 2018) and masked MSE.

CCC uses 1/N (biased) moments over all valid frames of the batch, as the papers'
TensorFlow code computes it over a mini-batch and as `emotrace.metrics` scores
predictions; masked frames (padding past a recording's end) take no part.
"""

from __future__ import annotations

import functools
from typing import Callable

import torch
from torch import Tensor

from emotrace.errors import InputError

# Floor of the CCC denominator: it is 0 only when prediction and gold are the same constant.
CCC_EPS = 1e-12


def _columns(pred: Tensor, gold: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    """Prediction, gold and weights as [N, D] (D outputs; D = 1 unless given [B, T, D])."""
    if pred.shape != gold.shape:
        raise InputError("objective", f"prediction shape {tuple(pred.shape)} differs from gold {tuple(gold.shape)}")
    per_column = pred.dim() == 3
    frame_shape = pred.shape[:-1] if per_column else pred.shape
    if mask is None:
        mask = torch.ones(frame_shape, dtype=torch.bool, device=pred.device)
    elif tuple(mask.shape) != tuple(frame_shape):
        raise InputError("objective", f"mask shape {tuple(mask.shape)} does not match frames {tuple(frame_shape)}")
    d = pred.shape[-1] if per_column else 1
    valid = mask.reshape(-1, 1).expand(-1, d)
    # where() rather than multiplying, so non-finite values in masked frames cannot leak in
    p = torch.where(valid, pred.reshape(-1, d), 0)
    g = torch.where(valid, gold.reshape(-1, d), 0)
    return p, g, valid.to(pred.dtype)


def ccc(pred: Tensor, gold: Tensor, mask: Tensor | None = None) -> Tensor:
    """Concordance correlation coefficient over the valid frames, per output column.

    `pred`, `gold`: [B, T, D] (returns [D]) or any other shape (one column, returns a
    scalar); `mask`: the frame shape ([B, T]), True where a frame counts. With no
    valid frame the moments are 0 and so is the CCC (no NaN, no gradient).
    """
    p, g, w = _columns(pred, gold, mask)
    n = w.sum(dim=0).clamp_min(1)
    mean_p = p.sum(dim=0) / n
    mean_g = g.sum(dim=0) / n
    dp = (p - mean_p) * w
    dg = (g - mean_g) * w
    var_p = (dp * dp).sum(dim=0) / n
    var_g = (dg * dg).sum(dim=0) / n
    cov = (dp * dg).sum(dim=0) / n
    value = 2 * cov / (var_p + var_g + (mean_p - mean_g) ** 2).clamp_min(CCC_EPS)
    return value if pred.dim() == 3 else value[0]


def _at_least_float32(t: Tensor) -> Tensor:
    """bfloat16/float16 -> float32; float32 and float64 as they are."""
    return t.float() if t.is_floating_point() and t.element_size() < 4 else t


def in_float32(objective: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """The objective computed in float32 even under bfloat16 autocast (`training.precision: bf16`): CCC's
    moments over thousands of frames lose their digits in bfloat16's 8-bit mantissa."""

    @functools.wraps(objective)
    def wrapped(pred: Tensor, gold: Tensor, mask: Tensor | None = None) -> Tensor:
        with torch.autocast(pred.device.type, enabled=False):
            return objective(_at_least_float32(pred), _at_least_float32(gold), mask)

    return wrapped


@in_float32
def ccc_loss(pred: Tensor, gold: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean over outputs of 1 - CCC: the papers' training objective."""
    return (1 - ccc(pred, gold, mask)).mean()


@in_float32
def mse_loss(pred: Tensor, gold: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean squared error over the valid frames and all outputs."""
    p, g, w = _columns(pred, gold, mask)
    return ((p - g) ** 2 * w).sum() / w.sum().clamp_min(1)


OBJECTIVES: dict[str, Callable[..., Tensor]] = {"ccc": ccc_loss, "mse": mse_loss}


def get_objective(name: str) -> Callable[..., Tensor]:
    """The objective registered under `name`; an unknown name is an InputError listing the valid ones."""
    if name not in OBJECTIVES:
        raise InputError("objective", f"unknown objective {name!r}; valid: {sorted(OBJECTIVES)}")
    return OBJECTIVES[name]
