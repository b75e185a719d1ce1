"""DistillationLoss: cross-entropy properties, centre EMA, pooled mode, DDP all-reduce."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from qualityfm.losses import DistillationLoss

SEEDS = st.integers(0, 2**31 - 1)


@settings(max_examples=25, deadline=None)
@given(SEEDS, st.floats(0.05, 2.0))
def test_identical_inputs_give_entropy_the_minimum(seed: int, temp: float) -> None:
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(3, 5, 16, generator=g)
    loss = DistillationLoss(16, student_temp=temp, teacher_temp=temp).eval()
    logp = F.log_softmax(t / temp, dim=-1)
    entropy = -(logp.exp() * logp).sum(-1).mean()  # log_softmax: no 0 * log(0) at low temps
    torch.testing.assert_close(loss(t, t), entropy, atol=1e-5, rtol=1e-5)
    other = torch.randn(3, 5, 16, generator=g)
    assert loss(other, t) >= entropy - 1e-6  # Gibbs: CE >= H


def test_matches_hand_formula_and_teacher_is_detached() -> None:
    torch.manual_seed(0)
    s = torch.randn(4, 18, 32, requires_grad=True)
    t = torch.randn(4, 18, 32, requires_grad=True)
    loss = DistillationLoss(32).eval()
    loss.center.fill_(0.3)
    value = loss(s, t)
    ref = -(F.softmax((t - 0.3) / 0.04, -1) * F.log_softmax(s / 0.1, -1)).sum(-1).mean()
    torch.testing.assert_close(value, ref)
    value.backward()
    assert t.grad is None and torch.isfinite(s.grad).all()


def test_token_permutation_invariance_and_pooled_mode() -> None:
    torch.manual_seed(1)
    s, t = torch.randn(2, 6, 8), torch.randn(2, 6, 8)
    perm = torch.randperm(6)
    tokenwise = DistillationLoss(8).eval()
    torch.testing.assert_close(tokenwise(s[:, perm], t[:, perm]), tokenwise(s, t))
    pooled = DistillationLoss(8, pooled=True).eval()
    # pooled mode ignores token order on either side separately (unaligned pairs)
    torch.testing.assert_close(pooled(s[:, perm], t), pooled(s, t))
    torch.testing.assert_close(pooled(s, t), tokenwise(s.mean(1), t.mean(1)))
    # per-sample choice: aligned rows token-wise, the others pooled
    mixed = tokenwise(s, t, aligned=torch.tensor([True, False]))
    expect = (tokenwise(s[:1], t[:1]) + pooled(s[1:], t[1:])) / 2
    torch.testing.assert_close(mixed, expect)
    # 0/1 of another dtype reads as bool (~1 had been -2: every row pooled)
    for dtype in (torch.int64, torch.uint8, torch.float32):
        torch.testing.assert_close(tokenwise(s, t, aligned=torch.tensor([1, 0], dtype=dtype)),
                                   expect)
    with pytest.raises(ValueError, match="aligned must be bool"):
        tokenwise(s, t, aligned=torch.tensor([2, 0]))


def test_center_update_math_and_temperature() -> None:
    loss = DistillationLoss(4, center_momentum=0.9)
    t1 = torch.arange(24, dtype=torch.float32).view(2, 3, 4)
    loss(torch.zeros_like(t1), t1)
    c1 = 0.1 * t1.reshape(-1, 4).mean(0)
    torch.testing.assert_close(loss.center, c1)
    t2 = torch.ones(5, 4)
    loss.update_center(t2)
    torch.testing.assert_close(loss.center, 0.9 * c1 + 0.1 * torch.ones(4))
    # no update in eval mode or when asked not to
    before = loss.center.clone()
    loss(t2, t2, update_center=False)
    loss.eval()(t2, t2)
    torch.testing.assert_close(loss.center, before)
    # the teacher temperature is settable per step and changes the loss
    s, t = torch.randn(3, 4), torch.randn(3, 4)
    a = loss(s, t)
    loss.teacher_temp = 0.07
    assert not torch.isclose(a, loss(s, t))


def test_bad_shapes_raise() -> None:
    loss = DistillationLoss(8)
    with pytest.raises(ValueError, match="last axis 8"):
        loss(torch.randn(2, 4), torch.randn(2, 4))
    with pytest.raises(ValueError, match="must match"):
        loss(torch.randn(2, 3, 8), torch.randn(2, 4, 8))
    with pytest.raises(ValueError, match="temperatures"):
        DistillationLoss(8, teacher_temp=0)
    for bad in ({"student_temp": float("nan")}, {"teacher_temp": float("nan")},
                {"teacher_temp": float("inf")}):  # NaN had passed, the loss NaN
        with pytest.raises(ValueError, match="temperatures must be finite and > 0"):
            DistillationLoss(8, **bad)


def _ddp_worker(rank: int, world: int, port: int, queue: mp.SimpleQueue) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        loss = DistillationLoss(3, center_momentum=0.5)
        teacher = torch.full((2, 3), float(rank + 1))  # rank 0 mean 1, rank 1 mean 2
        loss.update_center(teacher)
        queue.put((rank, loss.center.tolist()))
    finally:
        dist.destroy_process_group()


def test_center_is_all_reduced_across_ranks() -> None:
    if not dist.is_available():
        pytest.skip("torch.distributed is not available in this build")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    mp.start_processes(_ddp_worker, args=(2, port, queue), nprocs=2, start_method="spawn")
    results = dict(queue.get() for _ in range(2))
    # global batch mean = 1.5; centre = 0.5 * 0 + 0.5 * 1.5 on every rank
    assert results[0] == pytest.approx([0.75] * 3) and results[1] == pytest.approx([0.75] * 3)
