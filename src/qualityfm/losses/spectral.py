"""Spectral reconstruction loss: amplitude and phase of the high-quality input's rFFT."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

AMPLITUDES = ("magnitude", "power")
PHASES = ("plain", "wrapped")


def wrap_angle(a: Tensor) -> Tensor:
    """Angle wrapped into [-pi, pi] (atan2: -pi itself stays -pi; the loss is symmetric)."""
    return torch.atan2(torch.sin(a), torch.cos(a))


class SpectralLoss(nn.Module):
    """SmoothL1 on the amplitude and phase spectra of each channel of ``x_hi``.

    Targets: rFFT along time, the first ``n_bins`` bins; amplitude |X| (``magnitude``) or |X|^2
    (``power``) z-scored per channel over its bins; phase angle(X) in radians. ``plain`` phase
    compares angles directly (as the original); ``wrapped`` compares the wrapped difference
    atan2(sin(p - t), cos(p - t)) with 0, so phases differing by 2*pi cost nothing. Channels
    marked absent in ``mask`` are left out.
    """

    def __init__(
        self,
        n_bins: int = 512,
        amplitude: str = "magnitude",
        phase: str = "plain",
        beta: float = 1.0,
        eps: float = 1e-6,
    ) -> None:
        super().__init__()
        if amplitude not in AMPLITUDES:
            raise ValueError(f"amplitude must be one of {AMPLITUDES}, got {amplitude!r}")
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
        if n_bins < 2:  # the amplitude targets are z-scored over the bins
            raise ValueError(f"n_bins must be >= 2, got {n_bins}")
        for name, value in (("beta", beta), ("eps", eps)):  # (unchecked, they failed in torch)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0, got {value}")
        self.n_bins, self.amplitude, self.phase = n_bins, amplitude, phase
        self.beta, self.eps = beta, eps

    @torch.no_grad()
    def targets(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x [B, C, T] -> (z-scored amplitude, phase), each [B, C, n_bins]."""
        if x.shape[-1] // 2 + 1 < self.n_bins:
            raise ValueError(
                f"{x.shape[-1]} samples give {x.shape[-1] // 2 + 1} rFFT bins, fewer than "
                f"n_bins={self.n_bins}"
            )
        spec = torch.fft.rfft(x.float(), dim=-1)[..., : self.n_bins]
        amp = spec.abs()
        if self.amplitude == "power":
            amp = amp.square()
        amp = (amp - amp.mean(dim=-1, keepdim=True)) / (amp.std(dim=-1, keepdim=True) + self.eps)
        return amp, torch.angle(spec)

    def forward(
        self, amp: Tensor, phase: Tensor, x_hi: Tensor, mask: Tensor | None = None
    ) -> dict[str, Tensor]:
        """Predictions [B, C, n_bins], high-quality input [B, C, T], mask bool [B, C] ->
        dict(amp=..., phase=...) scalar terms."""
        expected = (*x_hi.shape[:2], self.n_bins)
        if amp.shape != expected or phase.shape != expected:
            raise ValueError(
                f"predictions must be {expected}, got amp {tuple(amp.shape)}, "
                f"phase {tuple(phase.shape)}"
            )
        if mask is not None:  # an absent channel may hold anything (NaN): it is left out
            mask = mask.bool()
            x_hi = torch.where(mask[..., None], x_hi, torch.zeros((), dtype=x_hi.dtype,
                                                                  device=x_hi.device))
        amp_t, phase_t = self.targets(x_hi)
        amp_l = F.smooth_l1_loss(amp, amp_t.to(amp.dtype), beta=self.beta, reduction="none")
        diff = phase - phase_t.to(phase.dtype)
        if self.phase == "wrapped":
            diff = wrap_angle(diff)
        phase_l = F.smooth_l1_loss(diff, torch.zeros_like(diff), beta=self.beta, reduction="none")
        return {"amp": _masked_mean(amp_l, mask), "phase": _masked_mean(phase_l, mask)}


def _masked_mean(loss: Tensor, mask: Tensor | None) -> Tensor:
    """Mean over bins of present channels; 0 (with gradient) when no channel is present.
    Summed in float32: a float16 count of 65,536 bins (64 windows of 2 channels) is inf, and
    the loss had read 0."""
    if mask is None:
        return loss.mean()
    keep = mask[..., None].expand_as(loss)
    total = torch.where(keep, loss, 0).sum(dtype=torch.float32)
    return (total / keep.sum(dtype=torch.float32).clamp_min(1)).to(loss.dtype)
