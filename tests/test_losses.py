"""Training objectives against direct formulas: CCC (1/N moments, per output), masking, gradients, MSE."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emotrace.errors import InputError
from emotrace.losses import OBJECTIVES, ccc, ccc_loss, get_objective, mse_loss


def numpy_ccc(x: np.ndarray, y: np.ndarray) -> float:
    """The textbook formula with 1/N moments, written out independently."""
    mx, my = x.mean(), y.mean()
    cov = ((x - mx) * (y - my)).mean()
    return 2 * cov / (x.var() + y.var() + (mx - my) ** 2)


def batch(seed: int = 0, b: int = 3, t: int = 40, d: int = 2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    gold = torch.randn(b, t, d, generator=gen, dtype=torch.float64)
    pred = 0.6 * gold + 0.5 * torch.randn(b, t, d, generator=gen, dtype=torch.float64) + 0.2
    mask = torch.rand(b, t, generator=gen) > 0.3
    return pred, gold, mask


def test_ccc_per_output_matches_numpy_over_valid_frames_of_the_batch():
    pred, gold, mask = batch()
    got = ccc(pred, gold, mask)
    assert got.shape == (2,)
    m = mask.numpy()
    for d in range(2):
        want = numpy_ccc(pred[..., d].numpy()[m], gold[..., d].numpy()[m])
        assert got[d].item() == pytest.approx(want, rel=1e-12)
    assert ccc_loss(pred, gold, mask).item() == pytest.approx(float((1 - got).mean()), rel=1e-12)


def test_ccc_of_flat_inputs_is_a_scalar_and_without_mask_uses_every_frame():
    pred, gold, _ = batch()
    got = ccc(pred[..., 0], gold[..., 0])
    assert got.dim() == 0
    assert got.item() == pytest.approx(numpy_ccc(pred[..., 0].numpy().ravel(), gold[..., 0].numpy().ravel()), rel=1e-12)


def test_ccc_is_one_for_perfect_and_minus_one_for_mirrored_prediction():
    _, gold, mask = batch()
    assert torch.allclose(ccc(gold, gold, mask), torch.ones(2, dtype=torch.float64))
    first = gold[..., :1]
    assert ccc(2 * first.mean() - first, first).item() == pytest.approx(-1, abs=1e-12)
    assert ccc_loss(gold, gold, mask).item() == pytest.approx(0, abs=1e-12)


def test_masked_frames_take_no_part_even_when_not_finite():
    pred, gold, mask = batch()
    before = ccc(pred, gold, mask)
    pred2, gold2 = pred.clone(), gold.clone()
    pred2[~mask] = float("nan")
    gold2[~mask] = 1e6
    assert torch.equal(ccc(pred2, gold2, mask), before)
    assert mse_loss(pred2, gold2, mask).item() == pytest.approx(mse_loss(pred, gold, mask).item(), rel=1e-12)


def test_gradient_matches_finite_differences():
    pred, gold, mask = batch(b=2, t=6)
    pred.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: ccc_loss(p, gold, mask), (pred,))
    assert torch.autograd.gradcheck(lambda p: mse_loss(p, gold, mask), (pred,))


def test_constant_prediction_gives_finite_loss_and_gradient():
    _, gold, mask = batch()
    for value in (0.0, 3.0):
        pred = torch.full_like(gold, value, requires_grad=True)
        loss = ccc_loss(pred, gold, mask)
        loss.backward()
        assert torch.isfinite(loss) and loss.item() == pytest.approx(1.0)
        assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    # prediction and gold the same constant: 0/0 in the formula, no NaN here
    const = torch.zeros(2, 5, 1, requires_grad=True)
    loss = ccc_loss(const, torch.zeros(2, 5, 1))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(const.grad).all()


def test_no_valid_frame_gives_zero_ccc_not_nan():
    pred, gold, mask = batch()
    assert torch.equal(ccc(pred, gold, torch.zeros_like(mask)), torch.zeros(2, dtype=torch.float64))


def test_mse_is_the_masked_mean_over_frames_and_outputs():
    pred, gold, mask = batch()
    m = mask.numpy()
    want = ((pred.numpy() - gold.numpy())[m] ** 2).mean()
    assert mse_loss(pred, gold, mask).item() == pytest.approx(want, rel=1e-12)


def test_registry_and_bad_input():
    assert set(OBJECTIVES) == {"ccc", "mse"}
    assert get_objective("ccc") is ccc_loss
    with pytest.raises(InputError, match=r"unknown objective 'rmse'; valid: \['ccc', 'mse'\]"):
        get_objective("rmse")
    pred, gold, mask = batch()
    with pytest.raises(InputError, match="differs from gold"):
        ccc(pred, gold[:, :-1])
    with pytest.raises(InputError, match="mask shape"):
        ccc(pred, gold, mask[:, :-1])
