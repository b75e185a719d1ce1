"""FeatureLoss: zero for a perfect read-out, symmetric, NaN targets ignored, finite gradients."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qualityfm.losses import FeatureLoss


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_zero_for_identical_and_symmetric(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(6, 5, generator=g), 3 * torch.randn(6, 5, generator=g)
    loss = FeatureLoss()
    assert loss(a, a.clone()) == 0
    torch.testing.assert_close(loss(a, b), loss(b, a))
    assert loss(a, b) > 0


def test_value_by_hand_and_nan_targets_ignored() -> None:
    pred = torch.tensor([[0.0, 0.0, 5.0], [1.0, 0.0, 0.0]])
    target = torch.tensor([[0.5, 3.0, float("nan")], [1.0, float("nan"), float("nan")]])
    # smooth L1 (beta 1): 0.5 * 0.5**2 = 0.125; |3| - 0.5 = 2.5; 0 -> mean over 3 known entries
    torch.testing.assert_close(FeatureLoss()(pred, target), torch.tensor((0.125 + 2.5) / 3))
    pred.requires_grad_(True)
    FeatureLoss()(pred, target).backward()
    assert pred.grad[0, 2] == 0 and pred.grad[1, 1] == 0 and pred.grad[1, 2] == 0
    assert pred.grad[0, 1] < 0  # pulled up towards the target 3


def test_finite_gradients_on_flat_inputs_and_no_known_target() -> None:
    flat = torch.zeros(4, 3, requires_grad=True)
    value = FeatureLoss()(flat, torch.ones(4, 3))
    value.backward()
    assert math.isfinite(value.item()) and torch.isfinite(flat.grad).all()
    none = torch.zeros(4, 3, requires_grad=True)
    value = FeatureLoss()(none, torch.full((4, 3), float("nan")))
    value.backward()
    assert value.item() == 0 and torch.equal(none.grad, torch.zeros(4, 3))


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"prediction \(2, 3\) and target \(2, 4\)"):
        FeatureLoss()(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="beta"):
        FeatureLoss(beta=0)
    with pytest.raises(ValueError, match="beta must be finite and > 0, got nan"):
        FeatureLoss(beta=float("nan"))  # it had failed inside torch, at the first batch
