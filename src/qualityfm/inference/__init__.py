"""Batch inference on files: per-window quality (`score`), embeddings (`embed`), ONNX export.

Names load on first use (PEP 562), so scoring files with the signal-quality indices alone does
not import torch.
"""

from __future__ import annotations

from qualityfm._lazy import lazy_names

_WHERE = {
    "FileWindows": "windows", "iter_file_windows": "windows",
    "embed_files": "embed", "embed_windows": "embed",
    "export_finetuned_onnx": "onnx", "export_onnx": "onnx",
    "learned_quality": "score", "score_files": "score",
}

__all__ = sorted(_WHERE)

__getattr__, __dir__ = lazy_names(__name__, _WHERE)
