"""QualityFM: a signal-quality-aware foundation model for ICU PPG and ECG waveforms."""

from __future__ import annotations

from qualityfm._lazy import lazy_names

__version__ = "0.1.0"

#: ``qualityfm.load``, ``qualityfm.Finetuner`` (fit/predict on plain arrays) and
#: ``qualityfm.ClassicalBaseline``, loaded on first use: importing the package imports no torch.
_WHERE = {"load": "train.export", "Finetuner": "tasks", "ClassicalBaseline": "tasks"}

__all__ = ["ClassicalBaseline", "Finetuner", "__version__", "load"]

__getattr__, __dir__ = lazy_names(__name__, _WHERE)
