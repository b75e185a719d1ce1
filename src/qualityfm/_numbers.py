"""What counts as an integer and as a number in a setting: the one test every config uses."""

from __future__ import annotations

import math
import numbers


def is_int(value: object) -> bool:
    """An integer (Python or NumPy), not a bool, float or string."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


#: The largest seed: scikit-learn's ``random_state`` takes ints under 2**32 (a bagged baseline
#: adds 1000 per model) and torch's under 2**64 (pre-training adds each rank's number).
MAX_SEED = 2**31 - 1


def seed_error(value: object) -> str | None:
    """Why ``value`` is no seed (None when it is one: an int in [0, MAX_SEED])."""
    if not is_int(value) or not 0 <= value <= MAX_SEED:
        return f"seed must be an int in [0, 2**31 - 1], got {value!r}"
    return None


def is_number(value: object, finite: bool = True) -> bool:
    """A real number (Python or NumPy), not a bool or string; finite unless ``finite=False``."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return False
    try:
        return not finite or math.isfinite(value)
    except OverflowError:  # an integer past a float's range
        return False
