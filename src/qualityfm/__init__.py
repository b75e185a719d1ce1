"""QualityFM: a signal-quality-aware foundation model for ICU PPG and ECG waveforms."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["ClassicalBaseline", "Finetuner", "__version__", "load"]


def __getattr__(name: str) -> Any:
    """``qualityfm.load``, ``qualityfm.Finetuner`` (fit/predict on plain arrays) and
    ``qualityfm.ClassicalBaseline`` without importing torch at package import."""
    if name == "load":
        from qualityfm.train.export import load

        return load
    if name in ("Finetuner", "ClassicalBaseline"):
        from qualityfm import tasks

        return getattr(tasks, name)
    raise AttributeError(f"module 'qualityfm' has no attribute {name!r}")
