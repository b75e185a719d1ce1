"""Collapse diagnostics of pooled embeddings and teacher output distributions."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


@torch.no_grad()
def effective_rank(z: torch.Tensor) -> float:
    """``exp`` of the entropy of the normalised singular values of ``z`` [N, d] (RankMe)."""
    s = torch.linalg.svdvals(z.double())
    p = s / s.sum().clamp_min(1e-12)
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


@torch.no_grad()
def mean_pairwise_cosine(z: torch.Tensor) -> float:
    """Mean cosine similarity over distinct pairs of rows of ``z`` [N, d]."""
    n = z.shape[0]
    if n < 2:
        raise ValueError("mean pairwise cosine needs at least two embeddings")
    u = F.normalize(z.double(), dim=1)
    sim = u @ u.T
    return float((sim.sum() - sim.diagonal().sum()) / (n * (n - 1)))


@torch.no_grad()
def entropy(p: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) along the last axis of probabilities ``p``."""
    p = p.double().clamp_min(1e-12)
    return -(p * p.log()).sum(-1)


@torch.no_grad()
def collapse_diagnostics(
    pooled: torch.Tensor, teacher_probs: torch.Tensor | None = None
) -> dict[str, float]:
    """Diagnostics of a fixed batch.

    ``pooled`` [N, d]: pooled teacher embeddings. ``teacher_probs`` [N, K] (or [N, L, K]): the
    teacher's output distributions after centring and sharpening, when there are any.
    """
    z = pooled.detach().float()
    u = F.normalize(z, dim=1)
    out = {
        "effective_rank": effective_rank(z),
        "mean_cosine": mean_pairwise_cosine(z),
        "std_mean": float(u.std(dim=0).mean()),
        "std_floor": 1.0 / math.sqrt(z.shape[1]),
        "argmax_dims": float(torch.unique(z.argmax(dim=1)).numel()),
    }
    if teacher_probs is not None:
        p = teacher_probs.detach().reshape(-1, teacher_probs.shape[-1])
        out["teacher_entropy"] = float(entropy(p).mean())
        out["teacher_usage_entropy"] = float(entropy(p.double().mean(0)))
        out["teacher_max_entropy"] = math.log(p.shape[-1])
    return out
