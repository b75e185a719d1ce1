"""DINO-style self-distillation loss with a centred, sharpened teacher."""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn


class DistillationLoss(nn.Module):
    """Cross-entropy between a sharpened, centred teacher and the student, over the last axis.

    ``loss = mean over tokens of -sum_k softmax((t - c) / tt)_k * log_softmax(s / ts)_k``, the
    teacher detached. Inputs are [B, D] or [B, L, D]. With ``pooled=True`` (or per sample where
    ``aligned`` is False) the outputs are mean-pooled over tokens first, for pairs of windows
    whose tokens do not correspond. The centre ``c`` is an EMA of the batch-mean teacher output,
    all-reduced across ranks when torch.distributed is initialised.

    Args:
        student_temp: student temperature ts.
        teacher_temp: teacher temperature tt; set ``loss.teacher_temp`` each step for a warm-up.
        center_momentum: m in c <- m c + (1 - m) mean(teacher).
        dim: size D of the last axis.
        pooled: always compare mean-pooled outputs.
    """

    center: Tensor

    def __init__(
        self,
        dim: int,
        student_temp: float = 0.1,
        teacher_temp: float = 0.04,
        center_momentum: float = 0.9,
        pooled: bool = False,
    ) -> None:
        super().__init__()
        if not all(math.isfinite(t) and t > 0 for t in (student_temp, teacher_temp)):  # NaN
            raise ValueError(f"temperatures must be finite and > 0, got {student_temp}, "
                             f"{teacher_temp}")  # had passed, the loss NaN
        if not 0.0 <= center_momentum <= 1.0:
            raise ValueError(f"center_momentum must be in [0, 1], got {center_momentum}")
        self.dim = dim
        self.student_temp = student_temp
        self.teacher_temp = teacher_temp
        self.center_momentum = center_momentum
        self.pooled = pooled
        self.register_buffer("center", torch.zeros(dim))

    def forward(
        self,
        student: Tensor,
        teacher: Tensor,
        aligned: Tensor | None = None,
        update_center: bool = True,
    ) -> Tensor:
        """Mean cross-entropy; ``aligned`` bool [B] selects token-wise (True) or pooled (False)."""
        if student.shape != teacher.shape or student.shape[-1] != self.dim:
            raise ValueError(
                f"student {tuple(student.shape)} and teacher {tuple(teacher.shape)} must match "
                f"with last axis {self.dim}"
            )
        teacher = teacher.detach()
        if student.ndim == 2 or self.pooled:
            loss = self._ce(_pool(student), _pool(teacher)).mean()
        elif aligned is None:
            loss = self._ce(student, teacher).mean()
        else:
            if aligned.shape != student.shape[:1]:
                raise ValueError(
                    f"aligned must be [B={student.shape[0]}], got {tuple(aligned.shape)}"
                )
            if aligned.dtype != torch.bool:  # 0/1 of another type: ~1 would be -2, not False
                if not bool(((aligned == 0) | (aligned == 1)).all()):
                    raise ValueError("aligned must be bool (or 0/1) per sample")
                aligned = aligned.bool()
            # Each sample's own term only: token-wise for aligned, pooled for the rest.
            per_sample = student.new_zeros(student.shape[0], dtype=torch.float32)
            if aligned.any():
                a = aligned.nonzero().squeeze(1)
                per_sample = per_sample.index_put(
                    (a,), self._ce(student[a], teacher[a]).mean(dim=1).float())
            if not aligned.all():
                n = (~aligned).nonzero().squeeze(1)
                per_sample = per_sample.index_put(
                    (n,), self._ce(student[n].mean(dim=1), teacher[n].mean(dim=1)).float())
            loss = per_sample.mean()
        if update_center and self.training:
            self.update_center(teacher)
        return loss

    def _ce(self, student: Tensor, teacher: Tensor) -> Tensor:
        t = F.softmax((teacher - self.center) / self.teacher_temp, dim=-1)
        return -(t * F.log_softmax(student / self.student_temp, dim=-1)).sum(dim=-1)

    @torch.no_grad()
    def update_center(self, teacher: Tensor) -> None:
        """c <- m c + (1 - m) mean(teacher over every axis but the last), across ranks."""
        batch_center = teacher.detach().reshape(-1, self.dim).mean(dim=0)
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(batch_center)
            batch_center = batch_center / dist.get_world_size()
        self.center.mul_(self.center_momentum).add_(batch_center, alpha=1 - self.center_momentum)


def _pool(x: Tensor) -> Tensor:
    return x if x.ndim == 2 else x.mean(dim=1)
