"""Hand-computed values of the losses where a changed sign, constant or count would shift
them without breaking their other properties."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from qualityfm.losses import DistillationLoss, SpectralLoss, VarianceLoss


def test_distillation_subtracts_the_centre_from_the_teacher() -> None:
    loss = DistillationLoss(3, student_temp=0.1, teacher_temp=0.04).eval()
    loss.center.copy_(torch.tensor([0.5, -0.2, 0.1]))
    s, t = torch.tensor([[0.3, 0.1, -0.4]]), torch.tensor([[0.2, 0.0, 0.1]])
    p = F.softmax((t - loss.center) / 0.04, dim=-1)
    expected = -(p * F.log_softmax(s / 0.1, dim=-1)).sum()
    torch.testing.assert_close(loss(s, t), expected)


def test_power_amplitude_is_the_zscored_squared_magnitude() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 1, 64)
    amp, _ = SpectralLoss(n_bins=16, amplitude="power").targets(x)
    power = torch.fft.rfft(x, dim=-1)[..., :16].abs().square()
    expected = (power - power.mean(-1, keepdim=True)) / (power.std(-1, keepdim=True) + 1e-6)
    torch.testing.assert_close(amp, expected, rtol=1e-4, atol=1e-5)


def test_masked_spectral_loss_is_the_mean_over_bins_of_present_channels() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 2, 64)
    loss = SpectralLoss(n_bins=16)
    amp, phase = torch.randn(2, 2, 16), torch.randn(2, 2, 16)
    plain = loss(amp, phase, x)
    every = loss(amp, phase, x, torch.ones(2, 2, dtype=torch.bool))
    for k in ("amp", "phase"):
        torch.testing.assert_close(every[k], plain[k])
    first = torch.tensor([[True, False], [True, False]])
    alone = loss(amp[:, :1], phase[:, :1], x[:, :1])
    masked = loss(amp, phase, x, first)
    for k in ("amp", "phase"):
        torch.testing.assert_close(masked[k], alone[k])


def test_spectral_beta_applies_to_the_phase_term_too() -> None:
    x = torch.zeros(1, 1, 8)  # targets: amplitude 0 (z-scored constant), phase 0
    loss = SpectralLoss(n_bins=4, beta=0.5)
    out = loss(torch.zeros(1, 1, 4), torch.full((1, 1, 4), 0.25), x)
    torch.testing.assert_close(out["phase"], torch.tensor(0.5 * 0.25**2 / 0.5))


def test_variance_uses_the_unbiased_batch_variance() -> None:
    x = torch.tensor([[0.0], [1.0]])  # unbiased variance 0.5
    torch.testing.assert_close(VarianceLoss()(x), 1 - torch.tensor(0.5 + 1e-4).sqrt())
