"""What counts as an integer and as a number in a setting: the one test every config uses."""

from __future__ import annotations

import math
import numbers


def is_int(value: object) -> bool:
    """An integer (Python or NumPy), not a bool, float or string."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: object, finite: bool = True) -> bool:
    """A real number (Python or NumPy), not a bool or string; finite unless ``finite=False``."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return False
    try:
        return not finite or math.isfinite(value)
    except OverflowError:  # an integer past a float's range
        return False
