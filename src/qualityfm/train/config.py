"""One typed configuration for pre-training, and the two recipes."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from qualityfm._numbers import MAX_INT, is_int, is_number, seed_error

#: The most DataLoader worker processes a run may ask for (more than any node's cores).
MAX_LOADER_WORKERS = 256

RECIPES: dict[str, dict[str, Any]] = {
    # The original's settings, kept for ablations: per-token distillation on raw encoder tokens,
    # centring, temperatures 0.1 / 0.04, momentum 0.7 -> 1, Adam 1e-4 x batch / 256 with L2
    # weight decay (its floor, 1e-6, scaled as the peak is: the original's at batch 256, where
    # the original, at batch 512, decays to 1e-6 itself); the batch stays ours, 64 by default
    # (a compute choice: --batch-size 512 is the original's, at a peak of 2e-4),
    # amplitude + phase 0.1 each, natural pairs only, plain phase target, each
    # member of a pair augmented (noise, scale, offset, a zeroed span).
    "paper": dict(
        head=False, distill_mode="token", teacher_temp=0.04, teacher_temp_end=0.04,
        teacher_temp_warmup=0, momentum=0.7, momentum_end=1.0, optimizer="adam", lr=1e-4,
        min_lr=1e-6, warmup=0, koleo_weight=0.0, variance_weight=0.0, aligned_fraction=0.0,
        phase="plain", amplitude="magnitude", modality_drop=0.0, grad_clip=0.0,
        feature_weight=0.0, stem="conv", augment=True,
    ),
    # Our recipe: anti-collapse distillation, the feature read-out and the residual tokeniser
    # (the dataclass defaults).
    "default": {},
}


#: The values each setting of a fixed set takes (the command line offers them as choices).
CHOICES: dict[str, tuple[str, ...]] = {
    "recipe": tuple(RECIPES), "attention": ("auto", "dense", "local", "flex"),
    "stem": ("conv", "residual"),
    "optimizer": ("adam", "adamw"), "distill_mode": ("token", "pooled", "mixed"),
    "amplitude": ("magnitude", "power"), "phase": ("plain", "wrapped"),
    "device": ("auto", "cpu", "cuda"), "amp_dtype": ("auto", "bf16", "fp32"),
}


@dataclass
class PretrainConfig:
    """Every setting of a pre-training run; a checkpoint stores it and resume checks it."""

    # data and run
    store: str = ""
    out: str = "run"
    recipe: str = "default"
    seed: int = 0
    workers: int = -1               # DataLoader workers; -1: auto (CUDA: up to 8, CPU: none)
    aligned_fraction: float = 0.5   # share of aligned (synthetic) pairs mixed with natural ones
    modality_drop: float = 0.1      # probability to hide one channel of the student's input
    # QualityFM's augmentation of each pair member (data.augment_window); off in our recipe,
    # which made the shipped weights without it (its effect on transfer is not measured)
    augment: bool = False
    # model
    preset: str = "base"
    # Tokeniser (QualityFMConfig.stem): "residual" resolves beats and transferred far better
    # than the original's "conv" (session 6, docs/results.md); model_overrides win over it.
    stem: str = "residual"
    model_overrides: dict[str, Any] = field(default_factory=dict)
    attention: str = "auto"         # attention kernel: "auto" | "dense" | "local" | "flex"
    window: int = 8
    # optimisation
    steps: int = 1000
    batch_size: int = 64            # global pairs per optimizer step (all ranks, all micro-steps)
    grad_accum: int = 1
    optimizer: str = "adamw"        # "adamw" (decoupled decay) | "adam" (the original's)
    lr: float = 5e-4                # per 256 pairs (scaled by batch_size / 256)
    min_lr: float = 1e-6            # per 256 pairs, as lr
    warmup: int = 100
    weight_decay: float = 0.04
    weight_decay_end: float = 0.4
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 3.0          # 0 disables clipping
    # teacher
    momentum: float = 0.996
    momentum_end: float = 1.0
    # loss
    distill_mode: str = "mixed"     # "token" | "pooled" | "mixed" (pooled natural, token aligned)
    head: bool = True               # DINO projection head to `prototypes` outputs (model's "dino")
    prototypes: int = 4096
    student_temp: float = 0.1
    teacher_temp: float = 0.04
    teacher_temp_end: float = 0.07
    teacher_temp_warmup: int = 300
    centre_momentum: float = 0.9
    distill_weight: float = 1.0
    amp_weight: float = 0.1
    phase_weight: float = 0.1
    amplitude: str = "magnitude"    # "magnitude" (|X|) | "power" (|X|^2)
    phase: str = "wrapped"          # "plain" | "wrapped" (cos/sin, respects the wrap at +-pi)
    koleo_weight: float = 0.1
    variance_weight: float = 0.0
    # Linear read-out of each student window's classical features (rates, irregularity,
    # morphology, SQIs; qualityfm.data.feature_targets) from its pooled embedding, so that the
    # embedding keeps rhythm and quality; 0 turns it off. 5 was chosen by transfer (session 5).
    feature_weight: float = 5.0
    # engine
    device: str = "auto"            # "auto" | "cpu" | "cuda"
    amp_dtype: str = "auto"         # "auto" (bf16 on GPU, fp32 on CPU) | "bf16" | "fp32"
    compile: bool = False
    fsdp: bool = False              # shard with FSDP instead of DDP (for the large preset)
    log_every: int = 10
    diag_every: int = 100
    diag_batch: int = 64
    ckpt_every: int = 500
    progress: bool = True
    tensorboard: bool = True
    command: str = ""               # the command line that started the run (for the model card)

    def __post_init__(self) -> None:
        self._check_types()
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r} is not one of {sorted(allowed)}")
        if self.model_overrides:  # checked here, before a run folder or features are made
            from qualityfm.model.config import QualityFMConfig

            try:
                QualityFMConfig.check_fields(self.model_overrides)
            except ValueError as err:
                raise ValueError(f"model_overrides: {err}") from None
            # the objective is sized from these run settings: an override would change it
            # without a word (head_on) or fail at the first step (head)
            owned = {"head": "head", "head_on": "distill_mode", "amplitude": "amplitude",
                     "feature_targets": "feature_weight (the store sets the width)"}
            clash = sorted(set(self.model_overrides) & set(owned))
            if clash:
                raise ValueError(f"model_overrides: {clash[0]} follows the run setting "
                                 f"{owned[clash[0]]}; set that instead")
        if not -1 <= self.workers <= MAX_LOADER_WORKERS:  # 1e20 had forked until killed
            raise ValueError(f"workers must be in [0, {MAX_LOADER_WORKERS}], or -1 for auto, "
                             f"got {self.workers}")
        for name in ("steps", "batch_size", "grad_accum", "window", "log_every", "ckpt_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.prototypes < 2:  # a softmax over one output is constant: no distillation
            raise ValueError(f"prototypes must be >= 2, got {self.prototypes}")
        if self.diag_batch < (2 if self.diag_every > 0 else 1):  # pairwise comparisons
            raise ValueError(f"diag_batch must be >= 2 (the collapse diagnostics compare "
                             f"embeddings pairwise; --diag-batch, which a resume may change), "
                             f"got {self.diag_batch}")
        if why := seed_error(self.seed):  # 2**64 had failed in torch after the run folder
            raise ValueError(why)  # was locked
        for name in ("warmup", "teacher_temp_warmup", "diag_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("student_temp", "teacher_temp", "teacher_temp_end", "lr"):  # lr 0: no step
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("aligned_fraction", "modality_drop", "momentum", "momentum_end",
                     "centre_momentum"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("distill_weight", "amp_weight", "phase_weight", "koleo_weight",
                     "variance_weight", "feature_weight", "min_lr", "weight_decay",
                     "weight_decay_end", "grad_clip"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not any(getattr(self, f"{term}_weight") > 0 for term in LOSS_TERMS):
            # (said at the first step, it had come after --overwrite had cleared the run)
            raise ValueError("every loss weight is 0: nothing to train")

    def _check_types(self) -> None:
        """Each field of its annotated type, or refused naming it: integers (Python or NumPy,
        not bools or floats: a float step count had run an extra step), finite numbers (an
        infinite loss weight had read as divergence, a NaN clip as no clipping), bools,
        strings (paths become strings), a mapping of overrides; NumPy numbers become Python
        ones (JSON writes them)."""
        self.betas = tuple(self.betas) if isinstance(self.betas, list | tuple) else self.betas
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int":
                if not is_int(value):
                    raise ValueError(f"{f.name} must be an integer, got {value!r}")
                if abs(value) > MAX_INT:  # 1e20 prototypes had been a torch traceback
                    raise ValueError(f"{f.name} must be at most 2**31 - 1, got {value!r}")
                setattr(self, f.name, int(value))
            elif f.type == "float":
                if not is_number(value):
                    raise ValueError(f"{f.name} must be a finite number, got {value!r}")
                setattr(self, f.name, float(value))
            elif f.type == "bool" and not isinstance(value, bool):
                raise ValueError(f"{f.name} must be true or false, got {value!r}")
            elif f.type == "str":
                if isinstance(value, os.PathLike):  # store, out
                    setattr(self, f.name, os.fspath(value))
                elif not isinstance(value, str):
                    raise ValueError(f"{f.name} must be a string, got {value!r}")
        if not isinstance(self.model_overrides, dict):
            raise ValueError("model_overrides must be a mapping of model config fields to "
                             f"values, got {self.model_overrides!r}")
        if (not isinstance(self.betas, tuple) or len(self.betas) != 2
                or not all(is_number(b) and 0 <= b < 1 for b in self.betas)):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        self.betas = (float(self.betas[0]), float(self.betas[1]))

    @classmethod
    def for_recipe(cls, recipe: str = "default", **overrides: Any) -> PretrainConfig:
        """The recipe's settings, then ``overrides`` on top."""
        if recipe not in RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; choose one of {sorted(RECIPES)}")
        return cls(**{**RECIPES[recipe], **overrides, "recipe": recipe})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PretrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown PretrainConfig fields: {unknown}")
        # a run saved before a setting existed ran without it: resume it the same way
        return cls(**{**PREDATED, **data})

    def replace(self, **changes: Any) -> PretrainConfig:
        return dataclasses.replace(self, **changes)

    def save(self, path: str | Path) -> None:
        from qualityfm.io import write_json

        write_json(path, self.to_dict())


#: The terms of the pre-training loss, each weighted by its ``{term}_weight``.
LOSS_TERMS = ("distill", "amp", "phase", "koleo", "variance", "feature")

# The value that reproduces the maths of a saved config that predates the field.
PREDATED: dict[str, Any] = {"feature_weight": 0.0, "stem": "conv"}

# Settings that may change between an interrupted run and its resumption. All but ``steps``
# leave the maths as it was (``attention``: the kernels compute the same attention, to float
# rounding, so a run made with flex on a GPU resumes on a CPU with local); a new ``steps``
# (to extend a run) changes the length of the cosine schedules, so the steps after the
# resume point differ from the original plan's.
RESUMABLE_FIELDS = frozenset(
    {"out", "store", "steps", "workers", "log_every", "diag_every", "diag_batch", "ckpt_every",
     "progress", "tensorboard", "command", "device", "compile", "attention"}
)
