"""Parameter counts and main settings of a preset, built on the meta device (no memory)."""

from __future__ import annotations

import torch

from qualityfm.model.config import QualityFMConfig
from qualityfm.model.network import QualityFM


def preset_summary(name: str, stem: str | None = None) -> dict:
    """dict(name, total_params, encoder_params, main config fields) of preset ``name``, with
    its tokeniser (``stem``; default the preset's, the original's conv stem)."""
    cfg = QualityFMConfig.preset(name, **({"stem": stem} if stem else {}))
    with torch.device("meta"):
        model = QualityFM(cfg)
    return {
        "name": name,
        "total_params": model.num_params("total"),
        "encoder_params": model.num_params("encoder"),
        "d_model": cfg.d_model,
        "n_layers": cfg.n_layers,
        "n_heads": cfg.n_heads,
        "d_ff": cfg.d_ff,
        "window": cfg.window,
        "global_tokens": list(cfg.global_tokens),
        "n_samples": cfg.n_samples,
        "n_tokens": cfg.n_tokens(cfg.n_samples),
        "n_bins": cfg.n_bins,
        "stem": cfg.stem,
        **({"stem_kernels": list(cfg.stem_kernels), "stem_strides": list(cfg.stem_strides),
            "stem_channels": list(cfg.stem_widths)} if cfg.stem == "conv" else
           {"stem_width": cfg.stem_width, "stem_blocks": cfg.stem_blocks,
            "stem_channels": list(cfg.residual_widths)}),
    }
