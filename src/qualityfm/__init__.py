"""QualityFM: a signal-quality-aware foundation model for ICU PPG and ECG waveforms."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
