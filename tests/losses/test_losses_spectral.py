"""SpectralLoss: targets, zero at the target, wrapped phase, flat signals, masks."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qualityfm.losses import SpectralLoss, wrap_angle


def test_targets_are_zscored_rfft_bins() -> None:
    t = torch.arange(600) / 300.0
    x = torch.stack([torch.sin(2 * math.pi * 5 * t), 3 * torch.cos(2 * math.pi * 10 * t)])[None]
    for mode in ("magnitude", "power"):
        amp, phase = SpectralLoss(n_bins=64, amplitude=mode).targets(x)
        assert amp.shape == phase.shape == (1, 2, 64)
        torch.testing.assert_close(amp.mean(-1), torch.zeros(1, 2), atol=1e-5, rtol=0)
        torch.testing.assert_close(amp.std(-1), torch.ones(1, 2), atol=1e-3, rtol=0)
        assert amp[0, 0].argmax() == 10 and amp[0, 1].argmax() == 20  # 5 Hz, 10 Hz over 2 s
    # the amplitude target ignores the scale of the input (z-scored per channel)
    torch.testing.assert_close(SpectralLoss(64).targets(7 * x)[0], SpectralLoss(64).targets(x)[0])


@pytest.mark.parametrize("phase_mode", ["plain", "wrapped"])
def test_zero_at_target_and_positive_elsewhere(phase_mode: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 2, 300)
    loss = SpectralLoss(n_bins=100, phase=phase_mode)
    amp, phase = loss.targets(x)
    out = loss(amp, phase, x)
    assert set(out) == {"amp", "phase"}
    assert out["amp"] == 0 and out["phase"] == 0
    out = loss(amp + 0.5, phase + 0.5, x)
    assert out["amp"] > 0 and out["phase"] > 0


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(-3, 3))
def test_wrapped_phase_ignores_multiples_of_two_pi(seed: int, turns: int) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 2, 200, generator=g)
    pred = (torch.rand(2, 2, 50, generator=g) * 2 - 1) * math.pi
    amp = torch.zeros(2, 2, 50)
    loss = SpectralLoss(n_bins=50, phase="wrapped")
    a = loss(amp, pred, x)["phase"]
    b = loss(amp, pred + 2 * math.pi * turns, x)["phase"]
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    # +pi and -pi are the same angle
    assert wrap_angle(torch.tensor(math.pi) - torch.tensor(-math.pi)).abs() < 1e-5
    if turns:
        plain = SpectralLoss(n_bins=50, phase="plain")
        assert plain(amp, pred + 2 * math.pi * turns, x)["phase"] > plain(amp, pred, x)["phase"]


def test_finite_gradients_on_flat_signals() -> None:
    x = torch.full((2, 2, 256), 0.7)
    x[1] = 0.0
    amp = torch.zeros(2, 2, 64, requires_grad=True)
    phase = torch.zeros(2, 2, 64, requires_grad=True)
    for mode in ("plain", "wrapped"):
        out = SpectralLoss(n_bins=64, amplitude="power", phase=mode)(amp, phase, x)
        total = out["amp"] + out["phase"]
        assert torch.isfinite(total)
        g_amp, g_phase = torch.autograd.grad(total, (amp, phase))
        assert torch.isfinite(g_amp).all() and torch.isfinite(g_phase).all()


def test_channel_permutation_and_mask() -> None:
    torch.manual_seed(2)
    x = torch.randn(2, 2, 200)
    amp, phase = torch.randn(2, 2, 40), torch.randn(2, 2, 40)
    loss = SpectralLoss(n_bins=40, phase="wrapped")
    a = loss(amp, phase, x)
    b = loss(amp.flip(1), phase.flip(1), x.flip(1))
    torch.testing.assert_close(a["amp"], b["amp"])
    torch.testing.assert_close(a["phase"], b["phase"])
    # an absent channel's prediction does not matter
    mask = torch.tensor([[True, False], [True, False]])
    amp2 = amp.clone()
    amp2[:, 1] += 100
    torch.testing.assert_close(loss(amp, phase, x, mask)["amp"], loss(amp2, phase, x, mask)["amp"])
    # nor its values, NaN included (NaN x 0 had made both terms NaN)
    x2 = x.clone()
    x2[:, 1] = float("nan")
    for key in ("amp", "phase"):
        torch.testing.assert_close(loss(amp, phase, x2, mask)[key], loss(amp, phase, x, mask)[key])
    torch.testing.assert_close(loss(amp, phase, x2, mask.int())["amp"],
                               loss(amp, phase, x, mask)["amp"])


def test_bad_settings_and_shapes() -> None:
    with pytest.raises(ValueError, match="n_bins must be >= 2"):  # z-scored over the bins
        SpectralLoss(n_bins=1)
    with pytest.raises(ValueError, match="amplitude"):
        SpectralLoss(amplitude="log")
    with pytest.raises(ValueError, match="phase"):
        SpectralLoss(phase="unwrapped")
    for name in ("beta", "eps"):  # unchecked, they had failed inside torch at the first batch
        for bad in (0.0, -1.0, float("nan")):
            with pytest.raises(ValueError, match=f"{name} must be finite and > 0"):
                SpectralLoss(**{name: bad})
    with pytest.raises(ValueError, match="rFFT bins"):
        SpectralLoss(n_bins=512).targets(torch.randn(1, 2, 100))
    with pytest.raises(ValueError, match="predictions must be"):
        SpectralLoss(n_bins=10)(torch.zeros(1, 2, 9), torch.zeros(1, 2, 10), torch.randn(1, 2, 100))


@pytest.mark.parametrize("n, offset", [(64, 0.5), (32, 3.0)])
def test_masked_mean_of_float16_predictions_matches_float32(n: int, offset: float) -> None:
    """64 windows x 2 channels x 512 bins: a float16 count is inf (the loss read 0); 32
    windows off by 3: a float16 sum overflows (the loss read inf)."""
    loss = SpectralLoss(512)
    x = torch.randn(n, 2, 9000, generator=torch.Generator().manual_seed(0))
    amp, phase = loss.targets(x)
    mask = torch.ones(n, 2, dtype=torch.bool)
    want = loss(amp + offset, phase + offset, x, mask)
    got = loss((amp + offset).half(), (phase + offset).half(), x, mask)
    for key in ("amp", "phase"):
        assert torch.isfinite(got[key]) and got[key] > 0
        assert got[key].float().item() == pytest.approx(want[key].item(), rel=1e-2)
