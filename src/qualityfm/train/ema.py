"""Exponential moving average of the student into the teacher."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def _local(t: torch.Tensor) -> torch.Tensor:
    """This rank's shard of an FSDP2 (DTensor) parameter; the tensor itself otherwise."""
    return t.to_local() if hasattr(t, "to_local") else t


def ema_tensors(module: nn.Module) -> list[torch.Tensor]:
    """The floating-point parameters and buffers that the EMA follows, in a fixed order.

    Sharded (FSDP2) parameters give their local shards: teacher and student are sharded alike.
    """
    params = [_local(p.data) for p in module.parameters()]
    buffers = [_local(b) for b in module.buffers() if b.is_floating_point()]
    return params + buffers


@torch.no_grad()
def ema_update(
    teacher: nn.Module | Sequence[torch.Tensor],
    student: nn.Module | Sequence[torch.Tensor],
    m: float,
) -> None:
    """``teacher <- m * teacher + (1 - m) * student`` in one fused foreach call.

    Pass modules, or (in a hot loop) the lists from :func:`ema_tensors` computed once.
    """
    if not 0.0 <= m <= 1.0:
        raise ValueError(f"EMA momentum must be in [0, 1], got {m}")
    t = ema_tensors(teacher) if isinstance(teacher, nn.Module) else list(teacher)
    s = ema_tensors(student) if isinstance(student, nn.Module) else list(student)
    if len(t) != len(s):
        raise ValueError(f"teacher has {len(t)} tensors but student has {len(s)}")
    for i, (a, b) in enumerate(zip(t, s, strict=True)):
        if a.shape != b.shape:  # foreach_lerp would broadcast [1, 3] into [4, 3]
            raise ValueError(f"teacher tensor {i} has shape {list(a.shape)}, the student's "
                             f"{list(b.shape)}: not the same network")
    if m == 1.0:
        return
    torch._foreach_lerp_(t, s, 1.0 - m)
