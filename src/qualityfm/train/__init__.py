"""qualityfm.train: pre-training loop, distributed set-up, checkpoints, schedules, export/load.

Names load on first use (PEP 562), so ``qualityfm --help`` does not import torch.
"""

from __future__ import annotations

from qualityfm._lazy import lazy_names

_WHERE = {
    "PretrainConfig": "config", "RECIPES": "config",
    "pretrain": "engine",
    "ema_update": "ema",
    "export_model": "export", "load": "export", "pretrained_config": "export",
    "saved_config": "export",
    "load_checkpoint": "checkpoint", "save_checkpoint": "checkpoint",
    "collapse_diagnostics": "diagnostics", "effective_rank": "diagnostics",
    "mean_pairwise_cosine": "diagnostics",
    "Schedules": "schedules", "cosine": "schedules", "linear_warmup": "schedules",
    "scaled_lr": "schedules", "warmup_cosine": "schedules",
}

__all__ = sorted(_WHERE)

__getattr__, __dir__ = lazy_names(__name__, _WHERE)
