"""Warnings attributed to the user's code rather than to the package's internals."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from pathlib import Path
from types import FrameType

_PACKAGE = str(Path(__file__).resolve().parent) + os.sep
#: contextlib's file: a warning from a context manager of the package belongs to the ``with``
#: line that entered it, not to ``contextlib.__enter__``
_CONTEXTLIB = str(Path(contextlib.__file__).resolve())


def _ours(frame: FrameType) -> bool:
    name = str(Path(frame.f_code.co_filename).resolve())
    return name.startswith(_PACKAGE) or name == _CONTEXTLIB


def warn_at_caller(message: str | Warning, category: type[Warning] = UserWarning) -> None:
    """Warn, attributing the warning to the first caller outside the qualityfm package (and
    the ``contextlib`` frames of its context managers); ``message`` may be a Warning itself
    (its class is then the category)."""
    frame, level = sys._getframe(1), 2
    while frame is not None and _ours(frame):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
