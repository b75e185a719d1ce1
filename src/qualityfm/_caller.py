"""Warnings attributed to the user's code rather than to the package's internals."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

_PACKAGE = str(Path(__file__).resolve().parent) + os.sep


def warn_at_caller(message: str, category: type[Warning] = UserWarning) -> None:
    """Warn, attributing the warning to the first caller outside the qualityfm package."""
    frame, level = sys._getframe(1), 2
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
