"""Kozachenko-Leonenko entropy regulariser (DINOv2's KoLeo)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class KoLeoLoss(nn.Module):
    """-mean_i log(min_{j != i} ||z_i - z_j||) over L2-normalised embeddings z [B, D].

    Spreads a batch of pooled embeddings over the sphere; low when points are far apart.
    """

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 2 or x.shape[0] < 2:
            raise ValueError(f"KoLeoLoss needs [B >= 2, D] embeddings, got {tuple(x.shape)}")
        # in float32 under autocast too: a bf16 matmul picks the wrong neighbour of close
        # points (most of a near-collapsed batch), exactly where this term is needed
        with torch.autocast(x.device.type, enabled=False):
            z = F.normalize(x.float(), dim=-1, eps=self.eps)
            with torch.no_grad():
                sim = z @ z.T
                sim.fill_diagonal_(-2.0)
                nn_idx = sim.argmax(dim=1)
            dist2 = (z - z[nn_idx]).square().sum(dim=-1)
            return -torch.log(torch.sqrt(dist2 + self.eps) + self.eps).mean()
