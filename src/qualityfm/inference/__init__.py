"""Batch inference on files: per-window quality (`score`), embeddings (`embed`), ONNX export."""

from qualityfm.inference.embed import embed_files, embed_windows
from qualityfm.inference.onnx import export_finetuned_onnx, export_onnx
from qualityfm.inference.score import learned_quality, score_files
from qualityfm.inference.windows import FileWindows, iter_file_windows

__all__ = [
    "FileWindows",
    "embed_files",
    "embed_windows",
    "export_finetuned_onnx",
    "export_onnx",
    "iter_file_windows",
    "learned_quality",
    "score_files",
]
