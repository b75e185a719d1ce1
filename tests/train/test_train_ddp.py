"""Two processes under torchrun (gloo, CPU; DDP and FSDP) train like one process with the same
global batch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

TINY = {"n_layers": 1, "d_model": 64, "n_heads": 4, "d_ff": 64, "head_hidden": 64,
        "head_bottleneck": 32, "head_prototypes": 128, "dropout": 0.0}


def _args(store: Path, out: Path, feature_weight: str = "0") -> list[str]:
    overrides = [a for k, v in TINY.items() for a in ("--model-override", f"{k}={v}")]
    # KoLeo is per rank (DINOv2's choice), so it is left out of the comparison; the feature
    # loss (weighed over the ranks' defined targets together) has a test of its own below.
    return ["pretrain", "--store", str(store), "--out", str(out), "--steps", "4",
            "--batch-size", "8", "--lr", "0.01", "--warmup", "1", "--aligned-fraction", "0",
            "--koleo-weight", "0", "--feature-weight", feature_weight, "--log-every", "1",
            "--diag-every", "100", "--no-progress",
            "--no-tensorboard", "--device", "cpu", *overrides]


@pytest.mark.slow
def test_two_process_ddp_matches_one_process(synthetic_store, tmp_path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = tmp_path / "one"
    subprocess.run([sys.executable, "-m", "qualityfm", *_args(synthetic_store, one)],
                   check=True, env=env, capture_output=True, timeout=120)
    ck1 = torch.load(one / "last.pt", weights_only=False)
    log1 = [json.loads(ln) for ln in (one / "log.jsonl").read_text().splitlines()]
    for mode in ("--no-fsdp", "--fsdp"):
        two = tmp_path / mode.strip("-")
        proc = subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
             "2", "-m", "qualityfm", *_args(synthetic_store, two), mode],
            env=env, capture_output=True, text=True, timeout=180,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        log2 = [json.loads(ln) for ln in (two / "log.jsonl").read_text().splitlines()]
        for a, b in zip(log1, log2, strict=True):
            assert a["step"] == b["step"]
            for key in ("loss", "distill", "amp", "phase"):
                assert b[key] == pytest.approx(a[key], abs=2e-4), (mode, key, a["step"])
        ck2 = torch.load(two / "last.pt", weights_only=False)
        assert len(ck2["rng"]) == 2 and len(ck2["data"]) == 2  # per-rank state is kept
        for name, v in ck1["teacher"].items():
            torch.testing.assert_close(ck2["teacher"][name], v, rtol=1e-3, atol=1e-4)


@pytest.mark.slow
def test_two_processes_with_the_feature_loss(synthetic_store, tmp_path) -> None:
    """On a store without features, rank 0 computes them while rank 1 waits; both then train
    on the same targets."""
    from qualityfm.data.features import FEATURES

    store = tmp_path / "store"
    shutil.copytree(synthetic_store, store, ignore=shutil.ignore_patterns(FEATURES))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = _args(store, tmp_path / "run", feature_weight="5")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "qualityfm", *args, "--no-fsdp"],
        env=env, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (store / FEATURES).is_file()
    log = [json.loads(ln) for ln in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert len(log) == 4 and all(0 < r["features"] < 10 for r in log)


_WAITER = """
import sys, time, types
from datetime import timedelta
import torch, torch.distributed as dist
import qualityfm.data
import qualityfm.data.features
from qualityfm.train.engine import DistEnv, store_feature_targets

rank = int(sys.argv[1])
dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{sys.argv[2]}", rank=rank,
                        world_size=2, timeout=timedelta(seconds=2))
qualityfm.data.Store = lambda path: path
qualityfm.data.features.parts_without_features = lambda store: [types.SimpleNamespace(
    folder=".")]  # one part to compute, in a folder rank 0 may write
qualityfm.data.compute_store_features = lambda *a, **k: time.sleep(6)  # a large store
qualityfm.data.feature_targets = lambda store: f"targets of rank {rank}"
print(store_feature_targets("unused", DistEnv(rank, 2, rank, torch.device("cpu"))))
dist.destroy_process_group()
"""


def test_ranks_wait_for_the_store_features_beyond_the_process_group_timeout(tmp_path) -> None:
    """Rank 0 computes a store's features while the others wait: longer than the process
    group's timeout (10 min on NCCL; 2 s here), which had ended the job."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", _WAITER, str(r), port], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in (0, 1)]
    outs = [p.communicate(timeout=120) for p in procs]
    for r, (p, (out, err)) in enumerate(zip(procs, outs, strict=True)):
        assert p.returncode == 0, err[-2000:]
        assert out.strip() == f"targets of rank {r}"


@pytest.mark.slow
def test_gradient_accumulation_under_ddp_and_fsdp(synthetic_store, tmp_path) -> None:
    """Micro-steps skip the gradient sync but the last: FSDP2 through
    ``set_requires_gradient_sync`` (it has no ``no_sync``), DDP through ``no_sync``; both give
    the same steps."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    logs, teachers = {}, {}
    for mode in ("--no-fsdp", "--fsdp"):
        out = tmp_path / mode.strip("-")
        args = [*_args(synthetic_store, out), "--steps", "2", "--grad-accum", "2", mode]
        proc = subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
             "2", "-m", "qualityfm", *args],
            env=env, capture_output=True, text=True, timeout=180,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        logs[mode] = [json.loads(ln) for ln in (out / "log.jsonl").read_text().splitlines()]
        teachers[mode] = torch.load(out / "last.pt", weights_only=False)["teacher"]
    assert [r["step"] for r in logs["--fsdp"]] == [1, 2]
    for a, b in zip(logs["--no-fsdp"], logs["--fsdp"], strict=True):
        for key in ("loss", "distill", "amp", "phase", "grad_norm"):
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-5), (key, a["step"])
    for name, v in teachers["--no-fsdp"].items():
        torch.testing.assert_close(teachers["--fsdp"][name], v, rtol=1e-3, atol=1e-4)


@pytest.mark.slow
def test_a_diverging_run_stops_every_rank(synthetic_store, tmp_path) -> None:
    """Under DDP the diagnostics run on rank 0 only: when its teacher's embeddings are not
    finite, every rank stops with an error line, instead of the others waiting in the next
    step's all-reduce until the launcher kills them."""
    args = _args(synthetic_store, tmp_path / "run")  # later flags replace earlier ones
    args += ["--lr", "1e7", "--warmup", "0", "--steps", "12", "--diag-every", "1",
             "--diag-batch", "8", "--no-fsdp"]
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "qualityfm", *args],
        env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    for rank in (0, 1):
        assert f"qualityfm pretrain: error (rank {rank} of 2): training diverged" in proc.stderr


def _worker_of_rank(parent: int, rank: int) -> int | None:
    """The pid of the torchrun worker below ``parent`` whose environment holds RANK=rank."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[1]) == parent and f"RANK={rank}".encode() in environ:
            return int(entry.name)
    return None


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux's /proc")
def test_a_signal_that_reaches_one_rank_stops_every_rank_naming_it(synthetic_store,
                                                                   tmp_path) -> None:
    """SIGTERM to rank 1 alone: both ranks checkpoint the same step, and rank 0 names the
    signal and exits 128 + 15 (it had exited 0, its summary saying nothing of a stop)."""
    import signal
    import time

    out = tmp_path / "run"
    args = _args(synthetic_store, out) + ["--steps", "2000", "--no-fsdp"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "qualityfm", *args],
        env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not ((out / "log.jsonl").is_file() and (out / "log.jsonl").read_text().count("\n")
                   >= 2):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.2)
        worker = _worker_of_rank(proc.pid, 1)
        assert worker is not None, "rank 1's process was not found"
        os.kill(worker, signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["stopped_by"] == "SIGTERM" and not summary["done"]
    assert "qualityfm pretrain: interrupted (SIGTERM) after step" in stderr
    assert proc.returncode != 0
    assert json.loads((out / "summary.json").read_text())["stopped_by"] == "SIGTERM"
    assert torch.load(out / "last.pt", weights_only=False)["step"] == summary["step"] < 2000
