"""Regression of a window's classical features (rates, irregularity, morphology, quality) from
its embedding: the targets are computed from the signals, so no label is used."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class FeatureLoss(nn.Module):
    """Smooth-L1 between predicted and target features ``[B, F]``, averaged over the entries
    whose target is finite (a feature that cannot be computed for a window is NaN there).

    Targets are expected standardised (about unit spread per column); ``beta`` is the
    Smooth-L1 switch point. With no finite target in the batch the loss is 0 (with a gradient
    of 0), so a batch of windows without beats does not break a run. A micro-batch divides
    by its own count of finite targets; the training step weighs it by its share of the
    step's (``train.engine.Objective``).
    """

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        if not (math.isfinite(beta) and beta > 0):  # NaN had passed, to fail in torch
            raise ValueError(f"beta must be finite and > 0, got {beta}")
        self.beta = beta

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        if pred.shape != target.shape:
            raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} "
                             "must have the same shape")
        known = torch.isfinite(target)
        pred = pred.float()
        target = torch.where(known, target.float(), pred.detach())
        per = F.smooth_l1_loss(pred, target, beta=self.beta, reduction="none")
        # no host sync: with no finite target the sum is 0 and so is the gradient
        return (per * known).sum() / known.sum().clamp_min(1)
