"""Schedules, EMA, config/recipes, diagnostics and checkpoints of the train layer."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from qualityfm.train import (
    RECIPES,
    PretrainConfig,
    Schedules,
    collapse_diagnostics,
    cosine,
    effective_rank,
    ema_update,
    load_checkpoint,
    mean_pairwise_cosine,
    save_checkpoint,
    scaled_lr,
    warmup_cosine,
)
from qualityfm.train.checkpoint import CHECKPOINT_KEYS, rng_state, set_rng_state


def test_cosine_and_warmup_endpoints() -> None:
    assert cosine(0, 100, 0.7, 1.0) == pytest.approx(0.7)
    assert cosine(50, 100, 0.7, 1.0) == pytest.approx(0.85)
    assert cosine(100, 100, 0.7, 1.0) == pytest.approx(1.0)
    assert cosine(500, 100, 0.04, 0.4) == pytest.approx(0.4)
    assert warmup_cosine(0, 100, 10, 1.0, 0.01) == pytest.approx(0.1)
    assert warmup_cosine(9, 100, 10, 1.0, 0.01) == pytest.approx(1.0)
    assert warmup_cosine(10, 100, 10, 1.0, 0.01) == pytest.approx(1.0)
    assert warmup_cosine(100, 100, 10, 1.0, 0.01) == pytest.approx(0.01)
    assert scaled_lr(1e-4, 512) == pytest.approx(2e-4)


def test_schedules_monotone() -> None:
    s = Schedules(total=50, lr=1e-3, min_lr=1e-6, warmup=5, weight_decay=0.04,
                  weight_decay_end=0.4, momentum=0.996, momentum_end=1.0, teacher_temp=0.04,
                  teacher_temp_end=0.07, teacher_temp_warmup=10)
    vals = [s.at(i) for i in range(51)]
    for a, b in zip(vals, vals[1:], strict=False):
        assert b["momentum"] >= a["momentum"] and b["weight_decay"] >= a["weight_decay"]
        assert b["teacher_temp"] >= a["teacher_temp"]
    lrs = [v["lr"] for v in vals]
    assert max(lrs) == pytest.approx(1e-3) and lrs.index(max(lrs)) == 4
    assert vals[10]["teacher_temp"] == pytest.approx(0.07)
    assert vals[49]["momentum"] == pytest.approx(1.0) and vals[49]["lr"] == pytest.approx(1e-6)


def test_ema_update_matches_formula_and_edges() -> None:
    torch.manual_seed(0)
    student = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    teacher = copy.deepcopy(student)
    for p in teacher.parameters():
        p.data.add_(1.0)
    before = [p.clone() for p in teacher.parameters()]
    ema_update(teacher, student, 0.9)
    for t0, t, s in zip(before, teacher.parameters(), student.parameters(), strict=True):
        torch.testing.assert_close(t, 0.9 * t0 + 0.1 * s, rtol=0, atol=1e-6)
    snap = [p.clone() for p in teacher.parameters()]
    ema_update(teacher, student, 1.0)
    assert all(torch.equal(a, b) for a, b in zip(snap, teacher.parameters(), strict=True))
    ema_update(teacher, student, 0.0)
    assert all(torch.equal(a, b) for a, b in zip(student.parameters(), teacher.parameters(),
                                                 strict=True))
    with pytest.raises(ValueError, match="momentum"):
        ema_update(teacher, student, 1.5)
    with pytest.raises(ValueError, match="tensors"):
        ema_update(teacher, nn.Linear(4, 3), 0.5)
    with pytest.raises(ValueError, match=r"teacher tensor 0 has shape \[4, 3\], the student's "
                                         r"\[1, 3\]: not the same network"):
        ema_update(nn.Linear(3, 4), nn.Linear(3, 1), 0.5)  # had broadcast the student's rows


def test_recipes_and_validation() -> None:
    paper = PretrainConfig.for_recipe("paper", steps=5)
    assert (paper.momentum, paper.teacher_temp, paper.optimizer, paper.lr) == (0.7, 0.04, "adam",
                                                                             1e-4)
    assert not paper.head and paper.distill_mode == "token" and paper.aligned_fraction == 0
    assert paper.amp_weight == paper.phase_weight == 0.1 and paper.steps == 5
    default = PretrainConfig.for_recipe("default")
    assert default.head and default.momentum == 0.996 and default.phase == "wrapped"
    assert default.koleo_weight > 0 and default.distill_mode == "mixed"
    assert set(RECIPES) == {"paper", "default"}
    assert PretrainConfig.from_dict(paper.to_dict()) == paper
    assert default.feature_weight == 5.0 and paper.feature_weight == 0
    assert PretrainConfig.from_dict(default.to_dict()) == default
    older = {k: v for k, v in default.to_dict().items() if k != "feature_weight"}
    assert PretrainConfig.from_dict(older).feature_weight == 0  # resumes without the loss
    assert default.stem == "residual" and paper.stem == "conv"
    older = {k: v for k, v in default.to_dict().items() if k != "stem"}
    assert PretrainConfig.from_dict(older).stem == "conv"  # resumes with its tokeniser
    from qualityfm.train.engine import model_config

    assert model_config(default).stem == "residual" and model_config(paper).stem == "conv"
    assert model_config(default.replace(model_overrides={"stem": "conv"})).stem == "conv"
    with pytest.raises(ValueError, match="stem"):
        PretrainConfig(stem="resnet")
    with pytest.raises(ValueError, match="phase"):
        PretrainConfig(phase="unwrapped")
    with pytest.raises(ValueError, match="amp_weight"):
        PretrainConfig(amp_weight=-1)
    with pytest.raises(ValueError, match="bogus"):
        PretrainConfig.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="recipe"):
        PretrainConfig.for_recipe("dino")


def test_diagnostics_tell_collapse_from_spread() -> None:
    torch.manual_seed(0)
    spread = torch.randn(64, 32)
    collapsed = torch.randn(1, 32).repeat(64, 1) + 1e-4 * torch.randn(64, 32)
    assert effective_rank(spread) > 20
    assert effective_rank(collapsed) < 1.5
    assert mean_pairwise_cosine(collapsed) > 0.99
    assert abs(mean_pairwise_cosine(spread)) < 0.1
    d_spread = collapse_diagnostics(spread, torch.softmax(spread, -1))
    d_coll = collapse_diagnostics(collapsed, torch.softmax(collapsed / 0.01, -1))
    assert d_spread["argmax_dims"] > 10 and d_coll["argmax_dims"] == 1
    assert d_coll["teacher_entropy"] < d_spread["teacher_entropy"]
    assert d_spread["teacher_max_entropy"] == pytest.approx(math.log(32))
    assert d_coll["std_mean"] < 0.01 < d_spread["std_mean"]


def test_checkpoint_atomic_and_rng_roundtrip(tmp_path) -> None:
    state = rng_state()
    a = (torch.rand(3), __import__("random").random())
    set_rng_state(state)
    b = (torch.rand(3), __import__("random").random())
    assert torch.equal(a[0], b[0]) and a[1] == b[1]
    path = tmp_path / "ck" / "last.pt"
    save_checkpoint(path, {"step": 3, "w": torch.ones(2)})
    assert load_checkpoint(path)["step"] == 3 == load_checkpoint(path, ("step", "w"))["step"]
    with pytest.raises(ValueError, match=r"not a qualityfm pre-training checkpoint \(no teacher"):
        load_checkpoint(path, CHECKPOINT_KEYS)  # what a resume reads is not all there
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temp file left
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="last.pt"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="nope"):
        load_checkpoint(tmp_path / "nope.pt")


def test_loader_workers_auto_feeds_gpus_and_spares_cpus(monkeypatch) -> None:
    from qualityfm.train.engine import loader_workers

    cpu, gpu = torch.device("cpu"), torch.device("cuda", 0)
    assert loader_workers(3, cpu) == 3 and loader_workers(0, gpu) == 0  # as set
    assert loader_workers(-1, cpu) == 0
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert loader_workers(-1, gpu) == 8
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")  # four GPU processes share the node's cores
    assert loader_workers(-1, gpu) == 3
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert loader_workers(-1, gpu) == 0
    for workers in (-2, 257):  # (1e20 had forked until the process was killed)
        with pytest.raises(ValueError, match=r"workers must be in \[0, 256\], or -1"):
            PretrainConfig(workers=workers)
    with pytest.raises(ValueError, match=r"prototypes must be at most 2\*\*31 - 1, got 10"):
        PretrainConfig(prototypes=10**20)  # (a torch traceback)
    from qualityfm.model import QualityFMConfig

    with pytest.raises(ValueError, match=r"config head_hidden must be at most 2\*\*31 - 1"):
        QualityFMConfig(head_hidden=10**20)
    with pytest.raises(ValueError, match=r"config stem_strides must hold integers of at most"):
        QualityFMConfig(stem_strides=(5, 10, 2**40))  # (it had asked for 52 TB)


def test_config_refuses_negative_seeds_and_betas_outside_0_1() -> None:
    with pytest.raises(ValueError, match=r"seed must be an int in \[0, 2\*\*31 - 1\], got -1"):
        PretrainConfig(seed=-1)
    # 2**64 had failed in torch after the run's folder was made and locked, naming no seed
    with pytest.raises(ValueError, match=rf"seed must be .*, got {2**64}"):
        PretrainConfig(seed=2**64)
    assert PretrainConfig(seed=2**31 - 1).seed == 2**31 - 1
    with pytest.raises(ValueError, match=r"betas must be two numbers in \[0, 1\)"):
        PretrainConfig(betas=(1.5, 0.9))
    assert PretrainConfig(betas=[0.8, 0.95]).betas == (0.8, 0.95)
    # every loss weight 0: refused as the config is made (said at the first step, it had come
    # after --overwrite had cleared the run it was to replace)
    from qualityfm.train.config import LOSS_TERMS

    zero = {f"{term}_weight": 0.0 for term in LOSS_TERMS}
    with pytest.raises(ValueError, match="every loss weight is 0: nothing to train"):
        PretrainConfig(**zero)
    assert PretrainConfig(**{**zero, "amp_weight": 0.1}).amp_weight == 0.1


@pytest.mark.parametrize("field, value, message", [
    ("grad_clip", -1.0, "grad_clip must be >= 0"),  # had turned clipping off without a word
    ("grad_clip", float("nan"), "grad_clip must be a finite number"),
    ("steps", 2.5, "steps must be an integer"),  # had run 3 steps
    ("steps", True, "steps must be an integer"),
    ("batch_size", 8.0, "batch_size must be an integer"),  # had failed in torch's sampler
    ("amp_weight", float("inf"), "amp_weight must be a finite number"),  # read as divergence
    ("min_lr", float("nan"), "min_lr must be a finite number"),
    ("lr", 10**400, "lr must be a finite number"),  # past a float's range
    ("compile", 1, "compile must be true or false"),
    ("store", None, "store must be a string"),
    ("model_overrides", ["n_layers"], "model_overrides must be a mapping"),
    ("betas", (0.9, "x"), r"betas must be two numbers in \[0, 1\)"),
])
def test_config_refuses_values_of_the_wrong_type(field, value, message) -> None:
    with pytest.raises(ValueError, match=message):
        PretrainConfig(**{field: value})


def test_config_takes_numpy_numbers_and_paths_as_python_ones(tmp_path) -> None:
    import numpy as np

    cfg = PretrainConfig(steps=np.int64(3), lr=np.float32(0.5), store=tmp_path, out=tmp_path,
                         betas=[np.float64(0.8), 0.9])
    assert type(cfg.steps) is int and type(cfg.lr) is float and cfg.lr == 0.5
    assert cfg.store == str(tmp_path) and cfg.out == str(tmp_path)
    assert cfg.betas == (0.8, 0.9) and PretrainConfig.from_dict(cfg.to_dict()) == cfg


def test_a_crafted_checkpoint_runs_no_code(tmp_path) -> None:
    """Checkpoints had been read with pickle's whole power: a last.pt holding an object whose
    unpickling runs a command ran it (export, --resume), then was refused. Read as states
    only, it is refused without running anything; a real one, NumPy states and all, loads."""
    import os

    from qualityfm.train.checkpoint import load_checkpoint, rng_state, save_checkpoint

    marker = tmp_path / "ran"

    class Crafted:
        def __reduce__(self):  # noqa: ANN204
            return (os.system, (f"touch {marker}",))

    torch.save({"step": 1, "config": Crafted()}, tmp_path / "last.pt")
    with pytest.raises(ValueError, match=r"last\.pt: not a readable qualityfm checkpoint"):
        load_checkpoint(tmp_path / "last.pt")
    assert not marker.exists()
    (tmp_path / "text.pt").write_text("hello\n")  # no torch file: said so (torch's bare
    with pytest.raises(ValueError, match=r"text\.pt: not a readable qualityfm checkpoint \(no "
                                         r"file torch\.save writes \(KeyError"):  # KeyError)
        load_checkpoint(tmp_path / "text.pt")
    save_checkpoint(tmp_path / "real.pt", {"step": 3, "rng": rng_state(),
                                           "history": [np.float64(0.5), np.int64(2)]})
    state = load_checkpoint(tmp_path / "real.pt")
    assert state["step"] == 3 and state["history"] == [0.5, 2]
    np.testing.assert_array_equal(state["rng"]["numpy"][1], np.random.get_state()[1])  # noqa: NPY002
    # the same file as the other NumPy names its array and scalar builders (numpy.core in
    # NumPy 1, numpy._core in 2): it loads too (a run resumes under the other NumPy)
    import zipfile

    other = tmp_path / "other.pt"
    with zipfile.ZipFile(tmp_path / "real.pt") as src, zipfile.ZipFile(other, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("data.pkl"):
                a, b = b"numpy._core.multiarray", b"numpy.core.multiarray"
                data = data.replace(a, b) if a in data else data.replace(b, a)
            dst.writestr(item, data)
    assert load_checkpoint(other)["history"] == [0.5, 2]


def test_a_second_sigterm_during_training_is_the_systems() -> None:
    """The command line's SIGTERM handler (a Python one) was put back after the first
    signal: a second could not end a rank blocked in a collective until it returned."""
    import signal

    from qualityfm._signals import raise_terminated
    from qualityfm.train.engine import _StopRequest

    before = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        with _StopRequest() as stop:
            stop._handle(signal.SIGTERM, None)
            assert stop.signal == signal.SIGTERM
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        assert signal.getsignal(signal.SIGTERM) is raise_terminated  # put back after
    finally:
        signal.signal(signal.SIGTERM, before)


def test_a_checkpoint_with_a_damaged_byte_is_refused_by_its_entry(tmp_path) -> None:
    """torch reads a checkpoint's entries without their CRC checks: a weight overwritten on
    disk had loaded (-0.15 as 1000.0), resumed and exported unsaid. Refused, naming the
    entry; an intact one loads."""
    import zipfile

    from qualityfm.train.checkpoint import load_checkpoint, save_checkpoint

    weight = torch.full((64,), -0.15)
    save_checkpoint(tmp_path / "last.pt", {"step": 3, "teacher": {"w": weight}})
    assert torch.equal(load_checkpoint(tmp_path / "last.pt")["teacher"]["w"], weight)
    raw = bytearray((tmp_path / "last.pt").read_bytes())
    with zipfile.ZipFile(tmp_path / "last.pt") as archive:
        entry = next(i for i in archive.infolist() if "/data/" in i.filename)
    at = raw.find(weight.numpy().tobytes(), entry.header_offset)
    assert at > 0
    raw[at:at + 4] = np.float32(1000.0).tobytes()
    (tmp_path / "last.pt").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=rf"last\.pt: not a readable qualityfm checkpoint \(its "
                                         rf"entry {entry.filename} fails its CRC check"):
        load_checkpoint(tmp_path / "last.pt")
    config = torch.utils.serialization.config.save  # saved without CRCs (torch's option):
    config.compute_crc32 = False  # loads, unchecked
    try:
        save_checkpoint(tmp_path / "plain.pt", {"step": 4, "teacher": {"w": weight}})
    finally:
        config.compute_crc32 = True
    assert load_checkpoint(tmp_path / "plain.pt")["step"] == 4
