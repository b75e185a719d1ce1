"""VICReg-style variance regulariser: keep every embedding dimension's spread above a floor."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class VarianceLoss(nn.Module):
    """mean_d relu(gamma - sqrt(var_batch(x_d) + eps)) for x [B, D] (or [B, L, D], flattened)."""

    def __init__(self, gamma: float = 1.0, eps: float = 1e-4) -> None:
        super().__init__()
        self.gamma, self.eps = gamma, eps

    def forward(self, x: Tensor) -> Tensor:
        x = x.reshape(-1, x.shape[-1])
        if x.shape[0] < 2:
            raise ValueError(f"VarianceLoss needs at least 2 samples, got {x.shape[0]}")
        std = torch.sqrt(x.float().var(dim=0) + self.eps)
        return F.relu(self.gamma - std).mean()
