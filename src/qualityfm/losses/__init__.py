"""qualityfm.losses: one loss per file, no model knowledge."""

from __future__ import annotations

from qualityfm.losses.distillation import DistillationLoss
from qualityfm.losses.features import FeatureLoss
from qualityfm.losses.koleo import KoLeoLoss
from qualityfm.losses.spectral import SpectralLoss, wrap_angle
from qualityfm.losses.variance import VarianceLoss

__all__ = [
    "DistillationLoss", "FeatureLoss", "KoLeoLoss", "SpectralLoss", "VarianceLoss", "wrap_angle",
]
