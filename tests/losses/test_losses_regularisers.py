"""KoLeoLoss and VarianceLoss."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qualityfm.losses import KoLeoLoss, VarianceLoss


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_koleo_permutation_and_scale_invariant(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(8, 16, generator=g)
    loss = KoLeoLoss()
    torch.testing.assert_close(loss(x[torch.randperm(8, generator=g)]), loss(x))
    torch.testing.assert_close(loss(3.0 * x), loss(x))  # embeddings are L2-normalised


def test_koleo_prefers_spread_and_is_finite_on_collapse() -> None:
    spread = torch.eye(4)  # nearest neighbour at distance sqrt(2)
    torch.testing.assert_close(KoLeoLoss()(spread), -torch.log(torch.tensor(2.0).sqrt()))
    collapsed = torch.ones(4, 4, requires_grad=True)
    value = KoLeoLoss()(collapsed)
    assert value > KoLeoLoss()(spread)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(collapsed.grad).all()


def test_koleo_takes_each_points_nearest_neighbour_by_hand() -> None:
    """Which neighbour the loss measures had gone unchecked (eye(4) has every other point at one
    distance): unit vectors at 0, 10 and 90 degrees; the nearest of 0 and 10 is each other
    (chord 2 sin 5 deg), of 90 it is 10 (chord 2 sin 40 deg), not 0 (2 sin 45 deg)."""
    deg = torch.tensor([0.0, 10.0, 90.0], dtype=torch.float64).deg2rad()
    x = torch.stack([deg.cos(), deg.sin()], dim=1).float() * torch.tensor([[1.0], [2.0], [0.5]])
    near, far = 2 * math.sin(math.radians(5)), 2 * math.sin(math.radians(40))
    expected = -(2 * math.log(near) + math.log(far)) / 3  # 1.08087
    assert KoLeoLoss()(x).item() == pytest.approx(expected, rel=1e-5)


def test_variance_hinge() -> None:
    torch.manual_seed(0)
    wide = torch.randn(512, 8) * 3
    assert VarianceLoss()(wide) == 0  # every std above gamma = 1
    flat = torch.zeros(16, 8, requires_grad=True)
    value = VarianceLoss()(flat)
    torch.testing.assert_close(value, 1 - torch.tensor(1e-4).sqrt())
    value.backward()
    assert torch.isfinite(flat.grad).all()
    x = torch.randn(32, 8)
    torch.testing.assert_close(VarianceLoss()(x[torch.randperm(32)]), VarianceLoss()(x))
    torch.testing.assert_close(VarianceLoss()(x + 5.0), VarianceLoss()(x))  # shift invariant


def test_koleo_keeps_float32_under_autocast() -> None:
    """Training runs the loss under bf16 autocast (a GPU's default): the neighbour search and
    distances stay in float32, or close points pick wrong neighbours (56 of 64 here)."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(1, 512, generator=g) + 0.1 * torch.randn(64, 512, generator=g)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under = KoLeoLoss()(z)
    torch.testing.assert_close(under, KoLeoLoss()(z))
