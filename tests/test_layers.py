"""Fused and fast front-end layers equal their plain torch counterparts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from emotrace.models.layers import ConvPoolReLU, Dropout, channel_max_pool, dropout, random_bytes

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


def reference(layer: ConvPoolReLU, x: torch.Tensor) -> torch.Tensor:
    """conv1d 'same' -> max-pool 2 -> ReLU with the layer's weights, through torch's own ops."""
    return F.relu(F.max_pool1d(F.conv1d(x.unsqueeze(1), layer.weight, layer.bias, padding="same"), 2))


@pytest.mark.parametrize("length, k", [(96000, 80), (640, 20), (90, 7), (1000, 80)])
def test_conv_pool_relu_equals_conv1d_maxpool_relu(length, k):
    torch.manual_seed(0)
    layer = ConvPoolReLU(5, k).double()
    x = torch.randn(3, length, dtype=torch.float64, requires_grad=True)
    out, ref = layer(x), reference(layer, x)
    assert out.shape == ref.shape == (3, 5, length // 2)
    grad = torch.randn_like(ref)
    got = torch.autograd.grad(out, (x, layer.weight, layer.bias), grad)
    want = torch.autograd.grad(ref, (x, layer.weight, layer.bias), grad)
    assert torch.allclose(out, ref, rtol=1e-10, atol=1e-12)
    for g, w in zip(got, want):
        assert torch.allclose(g, w, rtol=1e-10, atol=1e-10)


def test_conv_pool_relu_dropout_drops_with_the_documented_mask():
    layer = ConvPoolReLU(4, 80, dropout=0.5).double().train()
    x = torch.randn(2, 2000, dtype=torch.float64, requires_grad=True)
    torch.manual_seed(7)
    out = layer(x)
    torch.manual_seed(7)
    keep = (random_bytes((2, 1000 // 4, 4, 4), x.device) >= 128).view(2, 1000, 4).transpose(1, 2)
    ref = reference(layer, x) * keep * 2
    assert torch.allclose(out, ref, rtol=1e-10, atol=1e-12)
    grad = torch.randn_like(ref)
    got = torch.autograd.grad(out, (x, layer.weight, layer.bias), grad)
    want = torch.autograd.grad(ref, (x, layer.weight, layer.bias), grad)
    for g, w in zip(got, want):
        assert torch.allclose(g, w, rtol=1e-10, atol=1e-10)
    assert torch.allclose(layer.eval()(x), reference(layer, x), rtol=1e-10, atol=1e-12)


def test_channel_max_pool_pools_consecutive_channels():
    x = torch.randn(2, 40, 7, 3, requires_grad=True)
    out = channel_max_pool(x, 10)
    assert torch.equal(out, x.view(2, 4, 10, 7, 3).amax(dim=2))
    out.sum().backward()
    assert torch.equal(x.grad.view(2, 4, 10, 7, 3).sum(dim=2), torch.ones(2, 4, 7, 3))  # one winner per group


def test_dropout_statistics_and_eval_identity():
    torch.manual_seed(1)
    x = torch.ones(200_000)
    for p in (0.5, 0.25):
        y = dropout(x, p, training=True)
        dropped = (y == 0).float().mean().item()
        assert dropped == pytest.approx(round(p * 256) / 256, abs=0.01)
        assert y.mean().item() == pytest.approx(1.0, abs=0.02)
    module = Dropout(0.5).eval()
    assert module(x) is x
    x = torch.randn(1000, requires_grad=True)
    y = dropout(x, 0.5, training=True)
    y.sum().backward()
    assert torch.equal(x.grad, (y != 0).float() * 2)


def test_random_bytes_are_uniform_and_seeded():
    torch.manual_seed(5)
    a = random_bytes((300, 1000), torch.device("cpu"))
    torch.manual_seed(5)
    assert torch.equal(a, random_bytes((300, 1000), torch.device("cpu")))
    counts = torch.bincount(a.flatten().long(), minlength=256).double()
    assert a.dtype == torch.uint8 and counts.min() > 0.9 * counts.mean() and counts.max() < 1.1 * counts.mean()
