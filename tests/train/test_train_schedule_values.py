"""Schedule values at their first steps, and the EMA of floating-point buffers."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from qualityfm.train import Schedules, ema_update
from qualityfm.train.schedules import linear_warmup


def test_teacher_temperature_warmup_starts_at_its_start_value() -> None:
    assert linear_warmup(0, 10, 0.04, 0.07) == pytest.approx(0.04)
    assert linear_warmup(5, 10, 0.04, 0.07) == pytest.approx(0.055)
    s = Schedules(total=50, lr=1e-3, min_lr=1e-6, warmup=5, weight_decay=0.04,
                  weight_decay_end=0.4, momentum=0.996, momentum_end=1.0, teacher_temp=0.04,
                  teacher_temp_end=0.07, teacher_temp_warmup=10)
    assert s.at(0)["teacher_temp"] == pytest.approx(0.04)


def test_ema_follows_floating_point_buffers_and_leaves_integer_ones() -> None:
    student = nn.BatchNorm1d(3)
    student.running_mean.fill_(1.0)
    student.num_batches_tracked.fill_(7)
    teacher = copy.deepcopy(student)
    teacher.running_mean.zero_()
    teacher.num_batches_tracked.zero_()
    ema_update(teacher, student, 0.75)
    torch.testing.assert_close(teacher.running_mean, torch.full((3,), 0.25))
    assert int(teacher.num_batches_tracked) == 0
