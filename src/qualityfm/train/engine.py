"""The self-distillation pre-training loop: one CPU to many GPUs (``torchrun``).

One optimizer step reads as three steps (I-JEPA): the teacher encodes the high-quality window
without gradient; the student's outputs on the low-quality window give the loss; after the
optimizer step the teacher follows the student by EMA.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import gc
import hashlib
import json
import math
import os
import random
import re
import signal
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh

from qualityfm._numbers import is_int
from qualityfm._progress import progress_bar
from qualityfm.data.datasets import ALIGNED_MIN_LEVEL
from qualityfm.data.features import FeatureTargets
from qualityfm.data.store import scoring_note
from qualityfm.io.atomic import atomic_write_text, read_json, remove_temporaries, write_json
from qualityfm.io.folders import (
    check_writable_folder,
    folder_lock,
    refuse_other_kind,
    refuse_records_there,
)
from qualityfm.losses import DistillationLoss, FeatureLoss, KoLeoLoss, SpectralLoss, VarianceLoss
from qualityfm.model import QualityFM, QualityFMConfig
from qualityfm.model.precision import precision_autocast, resolve_device
from qualityfm.quality.score import SCORING_VERSION
from qualityfm.train.checkpoint import (
    CHECKPOINT_KEYS,
    CHECKPOINT_NAME,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from qualityfm.train.config import RESUMABLE_FIELDS, PretrainConfig
from qualityfm.train.diagnostics import collapse_diagnostics
from qualityfm.train.ema import ema_tensors, ema_update
from qualityfm.train.schedules import Schedules, scaled_lr

LOG_NAME = "log.jsonl"
CONFIG_NAME = "config.json"
SUMMARY_NAME = "summary.json"
TENSORBOARD_DIR = "tb"
#: How long the other ranks wait for rank 0 to compute a store's features (days of windows).
FEATURE_WAIT = timedelta(hours=48)
_HEAD_ON = {"token": "tokens", "mixed": "tokens", "pooled": "pooled"}


# ----------------------------------------------------------------------------- set-up
@dataclass
class DistEnv:
    """Where this process sits: rank, world size and device."""

    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def setup_distributed(device: str = "auto") -> DistEnv:
    """Join the process group when started by ``torchrun`` (gloo on CPU, NCCL on GPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    dev = resolve_device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistEnv(rank, world, local_rank, dev)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's global and torch's generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeds legacy global users
    torch.manual_seed(seed)


def model_config(cfg: PretrainConfig, n_features: int = 0, fs: float | None = None,
                 normalization: str | None = None) -> QualityFMConfig:
    """The network's config for a pre-training config (preset, overrides, attention, head;
    a read-out of ``n_features`` window features when the feature loss is on; ``fs`` and
    ``normalization``, the store's, recorded as those of the windows it reads: ``fs`` unless
    overridden, ``normalization`` always, as the run refuses an override of it)."""
    head = {"head": "dino", "head_on": _HEAD_ON[cfg.distill_mode],
            "head_prototypes": cfg.prototypes} if cfg.head else {"head": "none"}
    settings = {"attention": cfg.attention, "window": cfg.window, "stem": cfg.stem,
                "amplitude": cfg.amplitude, **head,
                "feature_targets": n_features if cfg.feature_weight > 0 else 0,
                **({"fs": float(fs)} if fs is not None else {}),
                **({"normalization": normalization} if normalization is not None else {})}
    return QualityFMConfig.preset(cfg.preset, **{**settings, **cfg.model_overrides})


def check_trainable(mcfg: QualityFMConfig, device: torch.device, store_path: str) -> None:
    """Refuse, before any work, a network that cannot train on ``device`` and the store's
    windows: FlexAttention has no backward on CPU (its forward there, for embedding, is fine);
    the channels, tokens and spectrum bins must fit the windows."""
    from qualityfm.data import Store

    if mcfg.attention == "flex" and device.type == "cpu":
        raise ValueError("attention 'flex' cannot train on CPU (FlexAttention has no backward "
                         "there); use --attention local or dense (the same maths), or a GPU")
    store = Store(store_path)
    store.check_model_channels()
    channels, length = len(store.channels), store.n_samples
    if mcfg.in_channels != channels:
        raise ValueError(f"{store_path}: windows have {channels} channels, the network's "
                         f"in_channels is {mcfg.in_channels}")
    # the network is told the windows it reads, so that score, embed and fine-tuning cut them so
    wrong = [(name, got, want) for name, got, want in
             (("n_samples", mcfg.n_samples, length), ("fs", mcfg.fs, store.fs))
             if (got != want if name == "n_samples" else abs(got - want) > 1e-6 * want)]
    if wrong:
        raise ValueError(f"{store_path}: windows of {length} samples at {store.fs:g} Hz, the "
                         "network's " + " and ".join(f"{n} is {g:g}" for n, g, _ in wrong)
                         + "; give " + " ".join(f"--model-override {n}={w:g}"
                                                for n, _, w in wrong))
    if mcfg.n_bins > length // 2 + 1:
        raise ValueError(f"{store_path}: windows of {length} samples give {length // 2 + 1} "
                         f"rFFT bins, fewer than the network's n_bins {mcfg.n_bins}")


def run_precision(cfg: PretrainConfig, device: torch.device) -> str:
    """The precision a run trains at: ``amp_dtype``, where ``auto`` is bf16 on GPU only."""
    use = cfg.amp_dtype == "bf16" or (cfg.amp_dtype == "auto" and device.type == "cuda")
    return "bf16" if use else "fp32"


def autocast(cfg: PretrainConfig, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast when asked (``auto``: on GPU only), else a no-op."""
    return precision_autocast(run_precision(cfg, device), device)


def build_optimizer(model: QualityFM, cfg: PretrainConfig, lr: float,
                    fused: bool = True) -> torch.optim.Optimizer:
    """The model's optimizer as ``cfg`` names it (fused kernels exist on CPU and GPU; FSDP's
    sharded parameters take the unfused one)."""
    return model.configure_optimizer(lr, cfg.weight_decay, cfg.betas, fused=fused or None,
                                     kind=cfg.optimizer)


def shard(model: QualityFM, mesh: DeviceMesh) -> None:
    """FSDP2 over ``mesh``: shard every transformer block, then the rest; ``encode`` unshards
    like forward."""
    from torch.distributed.fsdp import fully_shard, register_fsdp_forward_method

    for trunk in (model.encoder.trunk, model.decoder.trunk):
        for block in trunk.blocks:
            fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)
    register_fsdp_forward_method(model, "encode")
    # torch warns, once per process, that the root returns views (a slice of the tokens) on
    # which an in-place op would drop a backward hook; the losses make none, and DDP and FSDP
    # train to the same teacher (tests/train/test_train_ddp.py)
    warnings.filterwarnings("ignore", message="FSDP2-wrapped module .* returned a view",
                            category=UserWarning)


def grad_sync(model: nn.Module, sync: bool) -> contextlib.AbstractContextManager:
    """Accumulate gradients without communication on all micro-steps but the last: DDP's
    ``no_sync``, FSDP2's ``set_requires_gradient_sync``; a lone process has nothing to sync."""
    if hasattr(model, "set_requires_gradient_sync"):  # FSDP2 (fully_shard)
        model.set_requires_gradient_sync(sync)
        return contextlib.nullcontext()
    if sync or not isinstance(model, nn.parallel.DistributedDataParallel):
        return contextlib.nullcontext()
    return model.no_sync()


def full_states(student: nn.Module, teacher: nn.Module, optimizer: torch.optim.Optimizer,
                fsdp: bool) -> dict[str, Any]:
    """Whole (unsharded) state dicts of both models and the optimizer (collective under FSDP)."""
    if not fsdp:
        return {"student": student.state_dict(), "teacher": teacher.state_dict(),
                "optimizer": optimizer.state_dict()}
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_model_state_dict,
        get_optimizer_state_dict,
    )

    opts = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return {"student": get_model_state_dict(student, options=opts),
            "teacher": get_model_state_dict(teacher, options=opts),
            "optimizer": get_optimizer_state_dict(student, optimizer, options=opts)}


def load_states(student: nn.Module, teacher: nn.Module, optimizer: torch.optim.Optimizer,
                state: dict[str, Any], fsdp: bool) -> None:
    """Inverse of :func:`full_states` (every rank reads the whole checkpoint)."""
    if not fsdp:
        student.load_state_dict(state["student"])
        teacher.load_state_dict(state["teacher"])
        optimizer.load_state_dict(state["optimizer"])
        return
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    opts = StateDictOptions(full_state_dict=True)
    set_model_state_dict(student, state["student"], options=opts)
    set_model_state_dict(teacher, state["teacher"], options=opts)
    set_optimizer_state_dict(student, optimizer, state["optimizer"], options=opts)


# ----------------------------------------------------------------------------- the objective
class Objective(nn.Module):
    """Distillation + spectral reconstruction + KoLeo/variance regularisers + the regression
    of the student window's classical features, weighted.

    Holds the distillation centre (a buffer), so it is checkpointed with the run. The centre
    moves once per optimizer step, by the mean teacher output of all its micro-batches
    (:meth:`end_step`), so that ``grad_accum`` does not change it. The spectral and feature
    terms are means over entries (present channels, finite targets) whose count varies from
    micro-batch to micro-batch: ``shares`` (:meth:`entry_counts`, :class:`TrainStep`) scale
    each micro-batch's term by its share of the step's entries, so that a step equals one
    whole batch whatever ``grad_accum`` and the number of ranks. KoLeo's neighbours and the
    variance are taken over each micro-batch.
    """

    def __init__(self, cfg: PretrainConfig, mcfg: QualityFMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        dim = mcfg.head_prototypes if cfg.head else mcfg.d_model
        self.distill = DistillationLoss(
            dim, cfg.student_temp, cfg.teacher_temp, cfg.centre_momentum,
            pooled=cfg.distill_mode == "pooled",
        )
        self.spectral = SpectralLoss(mcfg.n_bins, mcfg.amplitude, cfg.phase)
        self.koleo = KoLeoLoss()
        self.variance = VarianceLoss()
        self.features = FeatureLoss()
        self._teacher_means: list[Tensor] = []  # this step's micro-batches, for the centre

    @staticmethod
    def logits(out: dict[str, Tensor]) -> Tensor:
        """What the distillation compares: head outputs when there is a head, else tokens."""
        return out.get("proj_tokens", out.get("proj", out["tokens"]))

    def entry_counts(self, batch: dict[str, Tensor]) -> Tensor:
        """The entries the spectral and feature terms of ``batch`` average over: [present
        channels, finite feature targets] (int64, on the batch's device)."""
        hi = batch["hi"]
        mask = batch.get("hi_mask")
        channels = (mask.sum() if mask is not None
                    else torch.tensor(hi.shape[0] * hi.shape[1], device=hi.device))
        feats = batch.get("lo_features")
        finite = (torch.isfinite(feats).sum() if feats is not None
                  else torch.zeros((), dtype=torch.int64, device=hi.device))
        return torch.stack([channels.long(), finite.long()])

    def forward(self, s_out: dict[str, Tensor], t_out: dict[str, Tensor],
                batch: dict[str, Tensor], shares: Tensor | None = None) -> dict[str, Tensor]:
        """The weighted loss and its terms. ``shares``: [spectral, features] scales of this
        micro-batch's terms (its share of the step's :meth:`entry_counts`; None: 1)."""
        cfg = self.cfg
        terms: dict[str, Tensor] = {}
        if cfg.distill_weight > 0:
            aligned = batch["aligned"] if cfg.distill_mode == "mixed" else None
            teacher = self.logits(t_out).float()
            terms["distill"] = self.distill(self.logits(s_out).float(), teacher, aligned,
                                            update_center=False)
            if self.training:
                self._teacher_means.append(teacher.detach().reshape(-1, teacher.shape[-1])
                                           .mean(dim=0))
        if cfg.amp_weight > 0 or cfg.phase_weight > 0:
            spec = self.spectral(s_out["amp"].float(), s_out["phase"].float(), batch["hi"],
                                 batch["hi_mask"])
            terms["amp"], terms["phase"] = spec["amp"], spec["phase"]
            if shares is not None:
                terms["amp"], terms["phase"] = (terms[k] * shares[0] for k in ("amp", "phase"))
        pooled = s_out["tokens"].float().mean(dim=1)
        if cfg.koleo_weight > 0:
            terms["koleo"] = self.koleo(pooled)
        if cfg.variance_weight > 0:
            terms["variance"] = self.variance(pooled)
        if cfg.feature_weight > 0:
            terms["features"] = self.features(s_out["features"], batch["lo_features"])
            if shares is not None:
                terms["features"] = terms["features"] * shares[1]
        weights = {"distill": cfg.distill_weight, "amp": cfg.amp_weight,
                   "phase": cfg.phase_weight, "koleo": cfg.koleo_weight,
                   "variance": cfg.variance_weight, "features": cfg.feature_weight}
        loss = sum(weights[k] * v for k, v in terms.items() if weights[k] > 0)
        if not isinstance(loss, Tensor):
            raise ValueError("every loss weight is 0: nothing to train")
        terms["loss"] = loss
        return terms

    @torch.no_grad()
    def end_step(self) -> None:
        """Move the distillation centre by the mean teacher output of this step's
        micro-batches (every rank calls it: the mean is reduced across ranks)."""
        if self._teacher_means:
            self.distill.update_center(torch.stack(self._teacher_means))
            self._teacher_means.clear()

    @torch.no_grad()
    def teacher_probs(self, t_out: dict[str, Tensor]) -> Tensor:
        """The teacher's centred, sharpened output distributions (for diagnostics)."""
        t = self.logits(t_out).float()
        return torch.softmax((t - self.distill.center) / self.distill.teacher_temp, dim=-1)


# ----------------------------------------------------------------------------- data
def make_dataset(cfg: PretrainConfig, env: DistEnv, micro_batch: int,
                 feature_targets: FeatureTargets | None = None) -> Any:
    """This rank's pair stream (aligned pairs, augmentation and modality drop are drawn per
    sample there)."""
    from qualityfm.data import PairDataset

    return PairDataset(
        cfg.store, seed=cfg.seed, aligned_fraction=cfg.aligned_fraction,
        modality_drop=cfg.modality_drop, augment=cfg.augment, rank=env.rank,
        world_size=env.world, drop_last=True, batch_size=micro_batch,
        feature_targets=feature_targets,
    )


def store_feature_targets(store: str, env: DistEnv, progress: bool = False) -> FeatureTargets:
    """The store's standardised window features (``qualityfm.data.feature_targets``); the main
    rank computes missing ones first, on every core of its node, while the others wait."""
    from qualityfm.data import Store, compute_store_features, feature_targets
    from qualityfm.data.features import parts_without_features

    # The others wait in a group of their own: on the process group's timeout (10 min on
    # NCCL, 30 on gloo) a store of millions of windows would end the job while rank 0 works.
    # Every rank sees the same store, so all of them know whether there is anything to wait for.
    todo = parts_without_features(Store(store))
    # the main rank writes them: asked there alone (a worker node may see the store read-only;
    # the main rank's error ends the others under torchrun)
    unwritable = [str(p.folder) for p in todo
                  if env.is_main and not os.access(p.folder, os.W_OK)]
    if unwritable:  # said before hours of computing, not at the first write
        raise ValueError(f"{store}: its windows' classical features (the feature loss's "
                         f"targets) are missing or of another feature set, and {unwritable[0]}"
                         f"{f' (and {len(unwritable) - 1} more)' if len(unwritable) > 1 else ''}"
                         " cannot be written to; run `qualityfm prepare --features` on a "
                         "writable copy, or pre-train with --feature-weight 0")
    missing = env.distributed and bool(todo)
    waiting = dist.new_group(backend="gloo", timeout=FEATURE_WAIT) if missing else None
    if env.is_main:
        # said on stderr with or without a bar: minutes before the first step, in a job's log
        compute_store_features(store, workers=max(1, os.cpu_count() or 1), progress=progress,
                               announce=True)
    if waiting is not None:
        dist.barrier(group=waiting)
        dist.destroy_process_group(waiting)
    return feature_targets(store)


def loader_workers(workers: int, device: torch.device) -> int:
    """DataLoader workers: ``workers``, or for -1 (auto) up to 8 per GPU process and none on
    CPU. Pairs are corrupted and read on the CPU: in the main process that left an H100 idle
    for 90 % of each ``base`` step; on a CPU run, workers would take the cores the model uses."""
    if workers >= 0:
        return workers
    if device.type != "cuda":
        return 0
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(0, min(8, ((os.cpu_count() or 1) - 2) // per_node))


def _ignore_stop_signals(worker_id: int) -> None:
    """DataLoader workers leave SIGTERM / SIGINT to the main process, which checkpoints and
    then shuts them down (a job scheduler signals every process of the job)."""
    for sig in _StopRequest.SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def _end_workers(batches: Any) -> None:
    """End a DataLoader iterator's worker processes now (a no-op without workers)."""
    shutdown = getattr(batches, "_shutdown_workers", None)
    if shutdown is not None:
        shutdown()


def make_loader(dataset: Any, workers: int) -> torch.utils.data.DataLoader:
    """The run's DataLoader: micro-batches of the dataset's ``batch_size``."""
    return dataset.loader(
        workers, drop_last=True, pin_memory=torch.cuda.is_available(),
        worker_init_fn=_ignore_stop_signals if workers > 0 else None,
    )


def check_store_pairs(store_path: str, per_step: int) -> dict[str, Any]:
    """Refuse, before any work, a store with fewer pairs than one optimizer step reads
    (``per_step``, the batch size): each epoch has one sample per pair, so a step of more
    holds a pair twice (a step that spans the end of one epoch and the start of the next may
    still, rarely, hold one twice). Returns
    the store's counts (records, windows, pairs) and a digest of its content (settings and
    records of each part, each window's record number in its part and start, the pairs),
    which a checkpoint keeps to recognise its store wherever it lies. Every shard is opened
    (memory maps: no sample read), so a truncated one is named now, not by a loader worker
    when it first reads it, hours into a run on a large corpus."""
    from qualityfm.data import Store

    store = Store(store_path)
    for p in range(len(store.parts)):
        store.check_shards(p)
    if store.n_pairs == 0:
        raise ValueError(f"{store_path}: holds {store.n_windows} windows and 0 pairs; "
                         "pre-training needs pairs (windows of one record whose quality "
                         "levels differ)")
    if store.n_pairs < per_step:
        raise ValueError(f"{store_path}: holds {store.n_pairs} pairs, fewer than one step's "
                         f"batch ({per_step}); lower the batch size")
    digest = hashlib.sha1(json.dumps(
        [(p.meta.get("settings"), p.meta.get("input_records")) for p in store.parts],
        sort_keys=True, default=str).encode())
    records = np.array(store.field("record"))  # each part's own numbers (a copy), as the
    for part in store.parts:  # digests of runs made before a store numbered them over its
        # parts hold them
        records[part.offset:part.offset + part.n_windows] -= part.record_offset
    for column in (records, store.field("start"), store.pairs):  # no whole index
        digest.update(np.ascontiguousarray(column).tobytes())
    return {"n_records": store.n_records, "n_windows": store.n_windows,
            "n_pairs": store.n_pairs, "digest": digest.hexdigest()}


def diagnostic_batch(store_path: str, n: int, seed: int) -> tuple[Tensor, Tensor]:
    """A fixed batch of store windows (seeded choice) for the collapse diagnostics."""
    from qualityfm.data import Store

    store = Store(store_path)
    if store.n_windows < 2:
        raise ValueError(f"{store_path}: needs at least 2 windows for diagnostics")
    rng = np.random.default_rng(seed + 7919)
    ids = np.sort(rng.choice(store.n_windows, size=min(n, store.n_windows), replace=False))
    return torch.from_numpy(store.windows(ids)), torch.from_numpy(store.masks[ids].copy())


def teacher_forward(teacher: QualityFM, x: Tensor, mask: Tensor) -> dict[str, Tensor]:
    """What the loss needs of the teacher: tokens and head outputs (its decoder is unused)."""
    return teacher(x, mask, decode=False)


def _to(batch: dict[str, Tensor], device: torch.device) -> dict[str, Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


# ----------------------------------------------------------------------------- the step
@dataclass
class TrainStep:
    """One optimizer step of self-distillation over ``grad_accum`` micro-batches.

    ``student`` is the network whose parameters are clipped and followed by the teacher;
    ``model`` is the same network as it is called (DDP-wrapped and/or compiled), ``synced`` the
    module whose gradient sync is switched off between micro-batches (the DDP wrapper or, under
    FSDP, the student itself).
    """

    student: nn.Module
    teacher: nn.Module
    model: Any
    synced: nn.Module
    teacher_fn: Any
    objective: Objective
    optimizer: torch.optim.Optimizer
    cfg: PretrainConfig
    precision: str
    env: DistEnv
    fsdp: bool

    def __post_init__(self) -> None:
        self._pairs = self._ema_pairs()

    def _ema_pairs(self) -> tuple[list[Tensor], list[Tensor]]:
        return ema_tensors(self.teacher), ema_tensors(self.student)

    def set_schedules(self, values: dict[str, float]) -> None:
        """This step's learning rate, weight decay and teacher temperature."""
        for group in self.optimizer.param_groups:
            group["lr"] = values["lr"]
        QualityFM.set_weight_decay(self.optimizer, values["weight_decay"])
        self.objective.distill.teacher_temp = values["teacher_temp"]

    def __call__(self, micro_batches: Any, values: dict[str, float],
                 stop: Callable[[], int | None] = lambda: None
                 ) -> tuple[dict[str, float], int | None]:
        """Train on ``micro_batches``; returns the loss terms, averaged over the step's micro-
        batches and (when distributed) over ranks, and the signal that asked any rank to stop
        (None: none): ``stop()``, the signal this rank received, is read after the
        micro-batches, so a signal during this step ends the run after it."""
        self.set_schedules(values)
        accum = self.cfg.grad_accum
        sums: dict[str, float] = {}
        micro_batches = list(micro_batches)
        shares = self._entry_shares(micro_batches)
        for k, batch in enumerate(micro_batches):
            with grad_sync(self.synced, k == accum - 1):
                with precision_autocast(self.precision, self.env.device):
                    with torch.no_grad():  # 1. teacher forward, no gradient
                        t_out = self.teacher_fn(self.teacher, batch["hi"], batch["hi_mask"])
                    s_out = self.model(batch["lo"], batch["lo_mask"])  # 2. student and loss
                    terms = self.objective(s_out, t_out, batch, shares[k])
                (terms["loss"] / accum).backward()
            for name, v in terms.items():
                sums[name] = sums.get(name, 0.0) + float(v.detach()) / accum
        # a signal on any rank stops every rank at the same step, each naming it: a flag per
        # signal is reduced with the loss terms (any rank's 1 makes the mean positive)
        asked = stop()
        for sig in _StopRequest.SIGNALS:
            sums[f"_stop_{int(sig)}"] = float(asked == sig)
        if self.cfg.grad_clip > 0:
            norm = nn.utils.clip_grad_norm_(self.student.parameters(), self.cfg.grad_clip)
        else:  # measured unclipped: a finite loss of NaN gradients (the paper recipe clips
            # none) had written its step's checkpoint with NaN weights over the last good one
            norm = nn.utils.get_total_norm(
                [p.grad for p in self.student.parameters() if p.grad is not None])
        sums["grad_norm"] = float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.objective.end_step()  # the centre moves once a step, by all its micro-batches
        if self.env.distributed:  # report the global batch's terms, not this rank's share
            sums = _mean_over_ranks(sums, self.env.device)
        self.momentum_update(values["momentum"])  # 3. the teacher follows by EMA
        flags = [int(sig) for sig in _StopRequest.SIGNALS if sums.pop(f"_stop_{int(sig)}") > 0]
        return sums, (flags[0] if flags else None)

    def _entry_shares(self, micro_batches: list[dict[str, Tensor]]) -> list[Tensor]:
        """Each micro-batch's share of the step's spectral and feature entries, times the
        micro-batches of the step (all ranks'): 1 where the counts are alike, so that the
        step's gradient is that of one whole batch."""
        counts = [self.objective.entry_counts(b) for b in micro_batches]
        total = torch.stack(counts).sum(dim=0)
        share = len(micro_batches) * self.env.world
        if self.env.distributed:
            total = _sum_over_ranks(total)
        return [((c * share).double() / total.clamp_min(1).double()).float() for c in counts]

    def momentum_update(self, momentum: float) -> None:
        """teacher <- momentum * teacher + (1 - momentum) * student."""
        if self.fsdp:  # EMA on the local shards, so both models must be resharded
            self.teacher.reshard()
            self.student.reshard()
            self._pairs = self._ema_pairs()
        ema_update(*self._pairs, momentum)


# ----------------------------------------------------------------------------- the run
class _Log:
    """JSON lines on rank 0, and TensorBoard when it is installed."""

    def __init__(self, run_dir: Path, enabled: bool, tensorboard: bool, resume_step: int) -> None:
        self.path = run_dir / LOG_NAME
        self.enabled = enabled
        self.tb = None
        if not enabled:
            return
        if resume_step and self.path.exists():  # drop lines after the checkpoint we resume from
            keep = [r for r in read_log(self.path) if r.get("step", 0) <= resume_step]
            atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in keep))
        elif not resume_step:
            self.path.unlink(missing_ok=True)
        tb_dir = run_dir / TENSORBOARD_DIR
        if not resume_step and tb_dir.is_dir():  # a run started over: none of the old
            # run's events (its files only: a tb/ of the user's had been removed whole)
            for events in tb_dir.glob("events.out.tfevents.*"):
                events.unlink(missing_ok=True)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                # events after the checkpoint resumed from are dropped, as the log's lines are
                self.tb = SummaryWriter(str(tb_dir), purge_step=resume_step + 1 if resume_step
                                        else None)
            except ImportError:
                print("qualityfm: tensorboard is not installed; logging to log.jsonl only "
                      "(pip install tensorboard, or --no-tensorboard)", file=sys.stderr)

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for k, v in record.items():
                if k != "step" and isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, record["step"])

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def read_log(path: Path) -> list[dict[str, Any]]:
    """The records of a run's JSON-lines log. A last line cut short (the process killed while
    writing it) is dropped; a bad line before it raises ValueError naming the file."""
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    records = []
    for i, ln in enumerate(lines):
        try:
            records.append(json.loads(ln))
        except json.JSONDecodeError as err:
            if i < len(lines) - 1:
                raise ValueError(f"{path}: line {i + 1} is not JSON ({err}); the log only "
                                 "reports the steps: move it away and the run goes on "
                                 "without its earlier figures") from None
    return records


class _StopRequest:
    """SIGTERM / SIGINT (a preempted job, Ctrl-C) while training: the run finishes its step,
    writes a checkpoint and stops, so that ``--resume`` loses nothing. A second signal acts
    as it would without this handler. Only the main thread can install handlers."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopRequest:
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, sig: int, frame: Any) -> None:
        self.signal = sig
        for s, handler in self._previous.items():  # a second signal: the usual behaviour;
            # SIGTERM's the system's, which ends a process blocked in a collective (the
            # command line's handler, a Python one, would wait for it to return)
            signal.signal(s, signal.SIG_DFL if s == signal.SIGTERM and callable(handler)
                          else handler)

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)



def _gather(obj: Any, env: DistEnv) -> list[Any]:
    if not env.distributed:
        return [obj]
    out: list[Any] = [None] * env.world
    dist.all_gather_object(out, obj)
    return out


def _sum_over_ranks(t: Tensor) -> Tensor:
    dist.all_reduce(t)
    return t


def _mean_over_ranks(values: dict[str, float], device: torch.device) -> dict[str, float]:
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return dict(zip(keys, (t / dist.get_world_size()).tolist(), strict=True))


def _unwrap(module: nn.Module) -> nn.Module:
    module = getattr(module, "_orig_mod", module)
    return getattr(module, "module", module)


def _check_resume(saved: dict[str, Any], current: dict[str, Any], path: Path,
                  what: str = "setting", skip: frozenset[str] = RESUMABLE_FIELDS) -> None:
    """Refuse to resume when a saved setting (other than ``skip``) differs from now's: the
    run's config, or the network's (``feature_targets`` changes with the store's feature
    columns, e.g. after a qualityfm version with other columns recomputed them)."""
    for key, value in saved.items():
        if key in skip:
            continue
        now = current.get(key)
        if key == "model_overrides":  # a network field that may change, as the flag may
            value, now = ({k: v for k, v in (d or {}).items() if k not in skip}
                          for d in (value, now))
        if json.loads(json.dumps(now)) != json.loads(json.dumps(value)):
            raise ValueError(
                f"{path}: cannot resume, {what} {key!r} was {value!r} and is now {now!r}"
            )


def _check_store(state: dict[str, Any], counts: dict[str, int], store: str, path: Path) -> None:
    """Refuse to resume on a store other than the run's: the data order continues from a
    position in that store. A moved store (same content, another path) is fine. Checkpoints
    written before the store was recorded are not checked, nor the digest where one lacks it."""
    saved = state.get("store_counts")
    if saved is not None and "digest" not in saved:
        counts = {k: v for k, v in counts.items() if k != "digest"}
    if saved is not None and saved != counts:
        def text(c: dict[str, int]) -> str:
            return f"{c['n_records']} records, {c['n_windows']} windows, {c['n_pairs']} pairs"

        same = ("; the same counts, other windows or pairs, or a store prepared with other "
                "settings (shard size included: qualityfm info STORE)"
                if text(counts) == text(saved) else "")
        raise ValueError(f"{path}: cannot resume on {store} ({text(counts)}): the run was "
                         f"trained on {state['config'].get('store')} ({text(saved)}{same}); "
                         "start a new run (another --out) to train on other data")


def _note_resumed_changes(saved: dict[str, Any], cfg: PretrainConfig, step: int) -> None:
    """Say on stderr which recorded settings a resumption changes (RESUMABLE_FIELDS); a
    resumption at ``step`` already past the new ``steps`` trains nothing more."""
    now = cfg.to_dict()
    for key in ("steps", "store"):
        if saved.get(key) != now.get(key):
            what = ("" if key != "steps" else
                    f"; the run is already at step {step}: nothing more to train"
                    if step >= cfg.steps else "; the cosine schedules follow the new length")
            print(f"qualityfm: resuming with {key} {now.get(key)!r} (was {saved.get(key)!r})"
                  + what, file=sys.stderr)


def _refuse_foreign_config(path: Path) -> None:
    """Refuse (ValueError) a ``config.json``, not empty, that is no pre-training run's (a
    user's, in the folder given as ``--out``, had been replaced without a word); a run's holds
    its store, steps and recipe."""
    if not path.is_file() or not path.stat().st_size:
        return
    try:
        ours = {"store", "steps", "recipe"} <= set(read_json(path))
    except (OSError, ValueError):
        ours = False
    if not ours:
        raise ValueError(f"--out {path.parent}: {path.name} exists and is no pre-training "
                         "run's; write the run to a folder of its own, or move the file away")


def pretrain(cfg: PretrainConfig, resume: bool = False, stop_after: int | None = None,
             overwrite: bool = False) -> dict[str, Any]:
    """Pre-train, writing checkpoints, logs and a summary to ``cfg.out``; returns the summary.

    ``resume`` continues exactly from ``cfg.out/last.pt``; a new run refuses a folder that
    holds a run (a checkpoint, log or summary; not the lone ``config.json`` of a launch that
    failed before its first step) unless ``overwrite``. ``stop_after`` ends the run after that
    many optimizer steps in total (a checkpoint is written), as an interruption would. SIGTERM
    or SIGINT (Ctrl-C) during the run does not raise: the step running ends, its checkpoint is
    written and the summary is returned with ``stopped_by`` set to the signal's name
    (``"SIGINT"``, ``"SIGTERM"``; the command line then exits with 130 or 143), so a script
    that starts several runs checks ``summary.get("stopped_by")`` to stop as asked. The store
    is recorded as an absolute path, so that a run resumes from any working directory.
    """
    if not cfg.store:
        raise ValueError("PretrainConfig.store is empty: give the prepared store folder")
    if stop_after is not None and not (is_int(stop_after) and stop_after >= 1):
        # 2.5 had run 3 steps and written no checkpoint; 0 or -1 had run nothing, unsaid
        raise ValueError(f"stop_after must be a whole number of steps >= 1, got {stop_after!r}")
    cfg = dataclasses.replace(cfg, store=str(Path(cfg.store).resolve()))
    run_dir = Path(cfg.out)
    check_writable_folder(run_dir, f"--out {run_dir}")
    refuse_other_kind(run_dir, ("pre-training run",))
    refuse_records_there(run_dir)
    if run_dir.resolve().is_relative_to(cfg.store):  # its files would mix with the store's
        check_store_pairs(cfg.store, cfg.batch_size)  # no store at all: say that first
        raise ValueError(f"--out {run_dir} is in the store {cfg.store}: write the run to a "
                         "folder of its own")
    ckpt_path = run_dir / CHECKPOINT_NAME
    _refuse_foreign_config(run_dir / CONFIG_NAME)
    held = [p for p in (ckpt_path, run_dir / LOG_NAME, run_dir / SUMMARY_NAME) if p.exists()]
    if not resume and held and not overwrite:
        raise ValueError(f"{run_dir} holds a run ({held[0].name}): --resume continues it, "
                         "--overwrite starts it over")
    env = setup_distributed(cfg.device)
    if env.distributed:  # every rank has looked at the folder before rank 0 writes to it
        dist.barrier()
    held_lock = contextlib.ExitStack()
    try:
        result = _run(cfg, env, run_dir, ckpt_path, resume, stop_after, held_lock)
        if env.distributed:  # no rank tears the group down while another still uses it
            dist.barrier()
        return result
    finally:
        held_lock.close()
        if env.distributed and dist.is_initialized():
            # the sharded modules' reference cycles hold the group's gloo threads: freed here,
            # not at the interpreter's exit, where a rank had aborted ("terminate called
            # without an active exception") after a finished run, failing the job
            gc.collect()
            dist.destroy_process_group()
            gc.collect()


def _run(cfg: PretrainConfig, env: DistEnv, run_dir: Path, ckpt_path: Path, resume: bool,
         stop_after: int | None, held_lock: contextlib.ExitStack) -> dict[str, Any]:
    per_step = env.world * cfg.grad_accum
    if cfg.batch_size % per_step:
        raise ValueError(
            f"batch_size {cfg.batch_size} is not divisible by world size x grad_accum "
            f"({env.world} x {cfg.grad_accum})"
        )
    micro = cfg.batch_size // per_step
    if micro < 2 and (cfg.koleo_weight > 0 or cfg.variance_weight > 0):
        raise ValueError(f"micro-batch of {micro} pair per rank (batch size / (world size x "
                         "grad_accum)); the KoLeo and variance terms compare the embeddings "
                         "of a micro-batch and need >= 2 (or set their weights to 0)")
    store_counts = check_store_pairs(cfg.store, cfg.batch_size)
    from qualityfm.data import Store

    store = Store(cfg.store)  # the network records the rate and scaling of what it reads
    store_fs, store_norm = store.fs, store.meta.get("normalization", "channel")
    if cfg.aligned_fraction > 0 and not (store.levels >= ALIGNED_MIN_LEVEL).any():
        # said before the feature targets (minutes to hours), which PairDataset follows
        raise ValueError(f"{cfg.store}: no window of quality level >= {ALIGNED_MIN_LEVEL} to "
                         "teach aligned pairs; give --aligned-fraction 0")
    told = cfg.model_overrides.get("normalization", store_norm)
    if told != store_norm:  # score and embed would scale windows otherwise than it trained
        raise ValueError(f"--model-override normalization={told!r}: the store's windows are "
                         f"scaled {store_norm!r} (prepare --normalization); the network records "
                         "the store's: leave the override out (a run started with it, which "
                         "records another scaling than it read, cannot resume: start it again)")
    try:
        check_trainable(model_config(cfg, fs=store_fs, normalization=store_norm), env.device,
                        cfg.store)  # before writing
    except ValueError:
        if resume and ckpt_path.is_file():  # a resumption on other data: say that first
            _check_store(load_checkpoint(ckpt_path), store_counts, cfg.store, ckpt_path)
        raise
    if env.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        # before touching another run's files
        held_lock.enter_context(folder_lock(run_dir, "pretrain"))
        # of a process killed while it saved a checkpoint: the run's own files only (a user's
        # ".notes.v2.tmp" there had gone too)
        remove_temporaries(run_dir, of=re.compile("|".join(re.escape(n) for n in (
            CHECKPOINT_NAME, CONFIG_NAME, SUMMARY_NAME, LOG_NAME))))

    state = None
    if resume:  # before the feature targets, which may take hours on a store not the run's
        state = load_checkpoint(ckpt_path, CHECKPOINT_KEYS)
        if len(state["data"]) != env.world:
            raise ValueError(f"{ckpt_path}: the run was trained by {len(state['data'])} "
                             f"process(es), and {env.world} would resume it; start it with "
                             f"{len(state['data'])} (each keeps its own data order and random "
                             "streams, so only that continues exactly)")
        _check_resume(state["config"], cfg.to_dict(), ckpt_path)
        _check_store(state, store_counts, cfg.store, ckpt_path)
    targets = (store_feature_targets(cfg.store, env, cfg.progress) if cfg.feature_weight > 0
               else None)
    seed_everything(cfg.seed)  # identical initial weights on every rank
    mcfg = model_config(cfg, 0 if targets is None else targets.width, store_fs, store_norm)
    student = QualityFM(mcfg).to(env.device)
    teacher = copy.deepcopy(student).requires_grad_(False).eval()
    objective = Objective(cfg, mcfg).to(env.device)
    lr = scaled_lr(cfg.lr, cfg.batch_size)
    schedules = Schedules(
        total=cfg.steps, lr=lr, min_lr=scaled_lr(cfg.min_lr, cfg.batch_size), warmup=cfg.warmup,
        weight_decay=cfg.weight_decay, weight_decay_end=cfg.weight_decay_end,
        momentum=cfg.momentum, momentum_end=cfg.momentum_end, teacher_temp=cfg.teacher_temp,
        teacher_temp_end=cfg.teacher_temp_end, teacher_temp_warmup=cfg.teacher_temp_warmup,
    )
    fsdp = cfg.fsdp and env.distributed
    if cfg.fsdp and not fsdp and env.is_main:  # it had been dropped without a word
        print("qualityfm: warning: --fsdp shards the model over the processes of a torchrun "
              "launch; one process trains it whole", file=sys.stderr)
    if fsdp:
        # on the run's device: FSDP's default mesh is CUDA whenever a GPU is present, which a
        # CPU run (--device cpu) on a GPU machine must not use
        mesh = init_device_mesh(env.device.type, (env.world,))
        shard(student, mesh)
        shard(teacher, mesh)
    optimizer = build_optimizer(student, cfg, lr, fused=not fsdp)
    dataset = make_dataset(cfg, env, micro, targets)

    step, seen = 0, 0  # seen: samples of the current epoch this rank has consumed
    planned = cfg.steps  # the run's length, as its config.json keeps it
    kept: dict[str, Any] = {}  # the run's summary at its checkpoint's step, for a resume
    # that trains nothing (its figures had been lost with the summary removed below)
    precision = run_precision(cfg, env.device)
    if state is not None:
        _check_resume(state.get("model_config", {}), mcfg.to_dict(), ckpt_path,
                      "network setting", frozenset({"attention"}))  # same maths, any kernel
        load_states(student, teacher, optimizer, state, fsdp)
        objective.load_state_dict(state["objective"])
        step = int(state["step"])
        dataset.load_state_dict(state["data"][env.rank])
        seen = int(state["data"][env.rank]["yielded"])
        if not cfg.command:  # resumed from Python: the run's command stays recorded
            cfg = dataclasses.replace(cfg, command=state["config"].get("command"))
        split = cfg.grad_accum > 1 or env.world > 1
        if state.get("weighted_terms") is None and split and env.is_main:
            print("qualityfm: this run's checkpoint predates the spectral and feature terms "
                  "counted by each micro-batch's share of the step (with channels missing or "
                  "feature targets undefined, its steps so far weighed micro-batches alike); "
                  "it goes on with the exact objective", file=sys.stderr)
        if state.get("precision", precision) != precision:
            # amp_dtype "auto" on another device: keep the run's precision (its maths)
            if env.is_main:
                print(f"qualityfm: resuming on {env.device.type} at the run's "
                      f"{state['precision']} precision (amp_dtype auto gives {precision} there)",
                      file=sys.stderr)
            precision = state["precision"]
        if step >= cfg.steps:  # a run already past the new steps trains nothing: as it was
            # (done or not by its own steps: --steps 2 at step 3 of 6 had marked it done)
            planned = max(cfg.steps, int(state["config"].get("steps", cfg.steps)))
        if env.is_main:  # the run's record says what it runs now (a new --steps, a moved store)
            if (run_dir / LOG_NAME).is_file():  # a damaged log refused before any change (it
                read_log(run_dir / LOG_NAME)  # had come with config.json and summary changed)
            _note_resumed_changes(state["config"], cfg, step)
            # config.json says the length the run now has: an extension killed before its
            # first checkpoint had left its longer steps there beside a finished run
            dataclasses.replace(cfg, steps=planned).save(run_dir / CONFIG_NAME)
            kept = _summary_at(run_dir / SUMMARY_NAME, step)
            if step < cfg.steps:
                # a finished run's summary no longer says where it is (killed while extended,
                # it had said "done" at the old step): written again when this one stops
                (run_dir / SUMMARY_NAME).unlink(missing_ok=True)
    else:
        seed_everything(cfg.seed + env.rank)  # per-rank streams for dropout and modality drop
        if env.is_main:
            for stale in (ckpt_path, run_dir / SUMMARY_NAME):  # of a run started over
                stale.unlink(missing_ok=True)
            cfg.save(run_dir / CONFIG_NAME)
            rules = store.scoring_version
            if rules != SCORING_VERSION:  # (its pairs had been trained on unsaid)
                print(f"qualityfm: warning: {cfg.store}: {scoring_note(rules)}",
                      file=sys.stderr)
            if cfg.warmup > cfg.steps:  # warmup = steps reaches the peak at the last step
                print(f"qualityfm: warning: warmup {cfg.warmup} > steps {cfg.steps}: the "
                      "learning rate never reaches its peak", file=sys.stderr)
            if cfg.min_lr > cfg.lr:  # (it had risen tenfold unsaid; a refusal would stop
                # the resumption of such a run)
                print(f"qualityfm: warning: min_lr {cfg.min_lr:g} > lr {cfg.lr:g}: the "
                      "learning rate rises over the run, where it decays from lr to min_lr",
                      file=sys.stderr)
            if cfg.teacher_temp_warmup <= 0 and cfg.teacher_temp != cfg.teacher_temp_end:
                # (no ramp: the end value from the first step, the start value unused unsaid)
                print(f"qualityfm: warning: teacher_temp_warmup {cfg.teacher_temp_warmup}: the "
                      f"teacher temperature is teacher_temp_end {cfg.teacher_temp_end:g} from "
                      f"the first step; teacher_temp {cfg.teacher_temp:g} is not used",
                      file=sys.stderr)
            if cfg.teacher_temp_warmup >= cfg.steps and cfg.teacher_temp != cfg.teacher_temp_end:
                # (its ramp reaches the end value at step teacher_temp_warmup: had been unsaid)
                print(f"qualityfm: warning: teacher_temp_warmup {cfg.teacher_temp_warmup} >= "
                      f"steps {cfg.steps}: the teacher temperature never reaches "
                      f"{cfg.teacher_temp_end:g}", file=sys.stderr)

    model: nn.Module = student
    if env.distributed and not fsdp:
        unused = min(cfg.distill_weight, cfg.amp_weight, cfg.phase_weight) == 0
        model = nn.parallel.DistributedDataParallel(
            student, device_ids=[env.local_rank] if env.device.type == "cuda" else None,
            find_unused_parameters=unused,
        )
    compiled = torch.compile if cfg.compile else (lambda f: f)
    train_step = TrainStep(
        student=student, teacher=teacher, model=compiled(model), synced=model,
        teacher_fn=compiled(teacher_forward), objective=objective, optimizer=optimizer,
        cfg=cfg, precision=precision, env=env, fsdp=fsdp,
    )

    diag_x = diag_mask = None
    if (env.is_main or fsdp) and cfg.diag_every > 0:  # FSDP forwards are collective
        diag_x, diag_mask = diagnostic_batch(cfg.store, cfg.diag_batch, cfg.seed)
    log = _Log(run_dir, env.is_main, cfg.tensorboard, step)
    loader = make_loader(dataset, loader_workers(cfg.workers, env.device))
    batches = iter(loader)  # draws a base seed from torch's RNG: restore the RNG after it
    end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    if stop_after is not None and step >= stop_after and step < cfg.steps and env.is_main:
        print(f"qualityfm: --stop-after {stop_after}: the run is already at step {step}: "
              "nothing to train in this process", file=sys.stderr)  # (it had said nothing)
    bar = None
    try:  # the workers have started: an error before the loop ends them too
        if resume:
            set_rng_state(state["rng"][env.rank])
            if env.device.type == "cuda" and "cuda" not in state["rng"][env.rank]:
                torch.cuda.manual_seed(cfg.seed + env.rank)  # moved from CPU: per-rank streams
        if env.is_main and cfg.progress and end > step:
            bar = progress_bar(end, step, unit="step")
    except BaseException:
        _end_workers(batches)
        raise

    def save(at: int) -> None:
        data_states = _gather(dataset.state_dict(samples_seen=seen), env)
        rngs = _gather(rng_state(), env)
        models = full_states(student, teacher, optimizer, fsdp)
        if env.is_main:
            save_checkpoint(ckpt_path, {
                "step": at, **models, "objective": objective.state_dict(),
                "data": data_states, "rng": rngs, "config": cfg.to_dict(),
                "model_config": mcfg.to_dict(), "store_counts": store_counts,
                "precision": precision,
                # the micro-batches' spectral and feature terms weighted by their share
                # (TrainStep._entry_shares): a resume of an older checkpoint says so
                "weighted_terms": True,
            })

    last: dict[str, Any] = {}
    history: list[float] = []
    window_t, window_pairs = time.perf_counter(), 0
    first = step
    student.train()
    stop = _StopRequest()

    def micro_batches() -> Any:
        nonlocal seen, batches
        if seen + micro * cfg.grad_accum > len(dataset):  # a step's pairs within one epoch,
            # as a step of one process without accumulation reads them (its micro-batches
            # had run into the next epoch, every step after the first epoch on other pairs)
            _end_workers(batches)
            dataset.set_epoch(dataset.epoch + 1)
            seen, batches = 0, iter(loader)
        for _ in range(cfg.grad_accum):
            try:
                batch = next(batches)
            except StopIteration:  # an epoch of pairs ended: start the next
                dataset.set_epoch(dataset.epoch + 1)
                seen, batches = 0, iter(loader)
                batch = next(batches)
            seen += micro
            yield _to(batch, env.device)

    # the loader's workers ignore SIGTERM: ended on the way out, also of an error that
    # escapes (its traceback keeps this frame, and them, alive until the exit)
    stopped_by: int | None = None  # the signal that stopped the run, on any rank
    with stop, contextlib.ExitStack() as ending:
        ending.callback(lambda: _end_workers(batches))
        while step < end:
            values = schedules.at(step)
            sums, told = train_step(micro_batches(), values, lambda: stop.signal)
            stop_now = told is not None
            stopped_by = stop.signal if stop.signal is not None else told
            step += 1
            window_pairs += cfg.batch_size
            history.append(sums["loss"])
            if not math.isfinite(sums["loss"]) or not math.isfinite(sums["grad_norm"]):
                raise FloatingPointError(
                    f"training diverged at step {step} (loss {sums['loss']}, gradient norm "
                    f"{sums['grad_norm']}); start again with a lower --lr (--overwrite)")

            diag_step = cfg.diag_every > 0 and (step % cfg.diag_every == 0 or step == cfg.steps)
            diag_due = diag_x is not None and diag_step  # on rank 0 (every rank under FSDP)
            diverged = False
            if step % cfg.log_every == 0 or step == cfg.steps or diag_due:
                elapsed = time.perf_counter() - window_t
                last = {"step": step, **sums, **values, "pairs_per_s": window_pairs / elapsed}
                if diag_due:
                    diag = run_diagnostics(teacher, objective, diag_x, diag_mask, precision,
                                           env.device)
                    diverged = diag is None
                    last.update(diag or {})
                if env.is_main:
                    log.write(last)
                window_t, window_pairs = time.perf_counter(), 0
                if bar is not None:
                    bar.set_postfix(loss=f"{sums['loss']:.3f}",  # drawn at the bar's pace
                                    pairs_s=f"{last['pairs_per_s']:.1f}", refresh=False)
            if diag_step and env.distributed:  # every rank stops, not only the one that saw it
                diverged = _mean_over_ranks({"diverged": float(diverged)}, env.device)[
                    "diverged"] > 0
            if diverged:
                raise FloatingPointError(
                    f"training diverged by step {step}: the teacher's embeddings are not "
                    "finite; start again with a lower --lr (--overwrite)")
            if bar is not None:
                bar.update(1)
            if stop_now:  # preempted or Ctrl-C: keep this step, then stop
                save(step)
                break
            if step % cfg.ckpt_every == 0 or step == end:
                saving = time.perf_counter()
                save(step)  # a checkpoint's write is no training: out of the next pairs_per_s
                window_t += time.perf_counter() - saving  # (it had halved the logged rate)
    if bar is not None:
        bar.close()
    log.close()

    if step == first:  # nothing run: keep its record
        last = kept.get("last", {})
    summary = {"run_dir": str(run_dir), "checkpoint": str(ckpt_path), "step": step,
               "done": step >= planned, "last": last, "losses": history,
               "world_size": env.world, "model_config": mcfg.to_dict()}
    # this rank's signal (also one after the last step), or another rank's that stopped it
    cause = stop.signal if stop.signal is not None else stopped_by
    if cause is not None:
        summary["stopped_by"] = signal.Signals(cause).name
    elif step == first and "stopped_by" in kept:  # how the run stopped, still where it is
        summary["stopped_by"] = kept["stopped_by"]
    if env.is_main:
        write_json(run_dir / SUMMARY_NAME, {k: v for k, v in summary.items() if k != "losses"})
    return summary


def _summary_at(path: Path, step: int) -> dict[str, Any]:
    """The run summary at ``path`` where it is of ``step`` (not an earlier checkpoint's),
    else {} (none, or damaged: written afresh, not a bar to the resumption)."""
    if not path.is_file():
        return {}
    try:
        kept = read_json(path, "run summary")
    except ValueError:
        return {}
    return kept if isinstance(kept, dict) and kept.get("step") == step else {}


@torch.no_grad()
def run_diagnostics(teacher: nn.Module, objective: Objective, x: Tensor, mask: Tensor,
                    precision: str, device: torch.device, chunk: int = 64
                    ) -> dict[str, float] | None:
    """Collapse diagnostics of the teacher on a fixed batch (see ``diagnostics``); None when
    its embeddings are not finite (training diverged)."""
    teacher = _unwrap(teacher)
    pooled, probs = [], []
    for i in range(0, x.shape[0], chunk):
        xb, mb = x[i:i + chunk].to(device), mask[i:i + chunk].to(device)
        with precision_autocast(precision, device):
            out = teacher_forward(teacher, xb, mb)
        pooled.append(out["tokens"].float().mean(dim=1).cpu())
        probs.append(objective.teacher_probs(out).float().cpu())
    pooled_all = torch.cat(pooled)
    if not torch.isfinite(pooled_all).all():
        return None
    return collapse_diagnostics(pooled_all, torch.cat(probs))
