"""What counts as an integer and as a number in a setting: the one test every config uses;
and what counts as a missing sample."""

from __future__ import annotations

import math
import numbers

import numpy as np


def is_int(value: object) -> bool:
    """An integer (Python or NumPy), not a bool, float or string."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


#: The largest integer setting (a count, a size, a window): past it a setting is a typo, and
#: torch's C++ had failed on 2**63 with a traceback.
MAX_INT = 2**31 - 1

#: The largest seed: scikit-learn's ``random_state`` takes ints under 2**32 (a bagged baseline
#: adds 1000 per model) and torch's under 2**64 (pre-training adds each rank's number).
MAX_SEED = 2**31 - 1


def shown(value: object, limit: int | None = None) -> str:
    """``value`` as a message shows it: a NumPy scalar as the number (``2.5``, not
    ``np.float64(2.5)``), anything else by its repr (``'0.2'``: a string); a repr longer than
    ``limit`` by its type's name (an array, a module)."""
    text = repr(value.item()) if isinstance(value, np.generic) else repr(value)
    return type(value).__name__ if limit is not None and len(text) > limit else text


def not_whole(values: np.ndarray, low: float | None = None,
              high: float | None = None) -> np.ndarray:
    """Where ``values`` (an array of real numbers) hold no finite whole number within
    ``[low, high]`` (either bound optional; uint64 past int64's range counts as none)."""
    v = np.asarray(values)
    with np.errstate(invalid="ignore"):
        if np.issubdtype(v.dtype, np.integer):
            bad = v > np.iinfo(np.int64).max if v.dtype.kind == "u" else np.zeros(v.shape, bool)
        else:
            bad = ~np.isfinite(v) | (v != np.round(v))
        if low is not None:
            bad |= v < low
        if high is not None:
            bad |= v > high
    return bad


def seed_error(value: object) -> str | None:
    """Why ``value`` is no seed (None when it is one: an int in [0, MAX_SEED])."""
    if not is_int(value) or not 0 <= value <= MAX_SEED:
        return f"seed must be an int in [0, 2**31 - 1], got {value!r}"
    return None


def settle_numbers(obj: object, floats: tuple[str, ...] = (), ints: tuple[str, ...] = ()) -> None:
    """Set a settings object's checked ``floats`` fields (None kept) to Python floats and its
    ``ints`` to Python ints, frozen dataclasses too: ``seconds=8`` in Python and ``--window 8``
    (8.0) on the command line are one setting (their JSON, 8 and 8.0, had read as two runs'),
    and a NumPy integer writes to JSON."""
    for names, kind in ((floats, float), (ints, int)):
        for name in names:
            value = getattr(obj, name)
            if value is not None:
                object.__setattr__(obj, name, kind(value))


def is_number(value: object, finite: bool = True) -> bool:
    """A real number (Python or NumPy), not a bool or string; finite unless ``finite=False``."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return False
    try:
        return not finite or math.isfinite(value)
    except OverflowError:  # an integer past a float's range
        return False


#: A sample of a larger magnitude is missing, as NaN is: a fill value (NetCDF's 9.97e36,
#: 1e20, float32's largest), which no sensor's physical or ADC value comes near (one second of
#: 9.97e36 had made a whole ECG channel quantisation noise, its mean taken out to resample).
#: Above the readers' calibration limit (``io.wfdb_reader.MAX_PHYSICAL``, 1e12): int32 ADC
#: counts (a 24-bit converter left-justified passes 1e9) stay samples.
FILL_MAGNITUDE = 1e15


def missing(x: np.ndarray) -> np.ndarray:
    """Where ``x`` is missing: NaN, +-inf or a fill value past :data:`FILL_MAGNITUDE`."""
    x = np.asarray(x)
    with np.errstate(invalid="ignore", over="ignore"):  # (float16: 1e15 is inf there)
        return ~np.isfinite(x) | (np.abs(x) > FILL_MAGNITUDE)
