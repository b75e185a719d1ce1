"""Training schedules: learning rate, weight decay, EMA momentum and teacher temperature.

Every schedule is a pure function of the optimizer step, so a resumed run only needs the step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def cosine(step: int, total: int, start: float, end: float) -> float:
    """Half-cosine from ``start`` (step 0) to ``end`` (step ``total``), constant afterwards."""
    if total <= 0:
        return end
    t = min(max(step, 0), total) / total
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * t))


def warmup_cosine(step: int, total: int, warmup: int, peak: float, floor: float) -> float:
    """Linear warm-up to ``peak`` over ``warmup`` steps (step ``k`` gets ``peak (k + 1) /
    warmup``: the first step trains, the last warm-up step is at the peak), then cosine decay
    from the peak to ``floor``."""
    if warmup > 0 and step < warmup:
        return peak * (step + 1) / warmup
    return cosine(step - warmup, max(total - warmup, 0), peak, floor)


def linear_warmup(step: int, warmup: int, start: float, end: float) -> float:
    """Linear ramp from ``start`` to ``end`` over ``warmup`` steps, then ``end``."""
    if warmup <= 0 or step >= warmup:
        return end
    return start + (end - start) * step / warmup


def scaled_lr(lr: float, batch_size: int) -> float:
    """The linear scaling rule: ``lr`` is quoted per 256 pairs."""
    return lr * batch_size / 256.0


@dataclass(frozen=True)
class Schedules:
    """All step-dependent hyper-parameters of pre-training.

    ``lr`` and ``min_lr`` are the already scaled values (see :func:`scaled_lr`).
    """

    total: int
    lr: float
    min_lr: float
    warmup: int
    weight_decay: float
    weight_decay_end: float
    momentum: float
    momentum_end: float
    teacher_temp: float
    teacher_temp_end: float
    teacher_temp_warmup: int

    def at(self, step: int) -> dict[str, float]:
        """Values at optimizer step ``step`` (0-based); the last step (``total - 1``) gets the
        end values of the cosine schedules, unless it is the first too (a one-step run takes
        the start values), and the learning rate's floor only where its warm-up ended before
        that step (the engine warns of a warm-up longer than the run); the teacher temperature
        reaches its end at step
        ``teacher_temp_warmup``, which a run of fewer steps never does."""
        last = max(self.total - 1, 1)
        return {
            "lr": warmup_cosine(step, last, self.warmup, self.lr, self.min_lr),
            "weight_decay": cosine(step, last, self.weight_decay, self.weight_decay_end),
            "momentum": cosine(step, last, self.momentum, self.momentum_end),
            "teacher_temp": linear_warmup(
                step, self.teacher_temp_warmup, self.teacher_temp, self.teacher_temp_end
            ),
        }
