"""Batch inference on files: per-window quality (`score`), embeddings (`embed`), ONNX export.

Names load on first use (PEP 562), so scoring files with the signal-quality indices alone does
not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "FileWindows": "windows", "iter_file_windows": "windows",
    "embed_files": "embed", "embed_windows": "embed",
    "export_finetuned_onnx": "onnx", "export_onnx": "onnx",
    "learned_quality": "score", "score_files": "score",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"qualityfm.inference.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'qualityfm.inference' has no attribute {name!r}")
