"""qualityfm.model: the network only (config + presets, tokeniser, attention, encoder, decoder)."""

from __future__ import annotations

from qualityfm.model.attention import (
    KERNELS,
    WindowedAttention,
    dense_attention,
    flex_attention,
    local_attention,
    window_mask,
)
from qualityfm.model.config import PRESETS, QualityFMConfig
from qualityfm.model.network import (
    POOLS,
    QualityFM,
    check_pool,
    mean_over_shifts,
    pool_encoder,
    pool_tokens,
    pooled_dim,
)
from qualityfm.model.precision import (
    PRECISIONS,
    check_precision,
    float32_default,
    precision_autocast,
    resolve_device,
)
from qualityfm.model.summary import preset_summary

__all__ = [
    "KERNELS",
    "POOLS",
    "PRECISIONS",
    "PRESETS",
    "QualityFM",
    "QualityFMConfig",
    "WindowedAttention",
    "check_pool",
    "check_precision",
    "float32_default",
    "resolve_device",
    "dense_attention",
    "flex_attention",
    "local_attention",
    "mean_over_shifts",
    "pool_encoder",
    "pool_tokens",
    "pooled_dim",
    "precision_autocast",
    "preset_summary",
    "window_mask",
]
