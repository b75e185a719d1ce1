"""Checked argparse types for numeric options: ``type=positive_int`` turns ``--batch-size -1``
into ``argument --batch-size: must be >= 1, got -1`` (usage error, exit 2) instead of a run
that computes nothing."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

from qualityfm._numbers import MAX_SEED

Number = TypeVar("Number", int, float)

#: ``model.POOLS``, for ``--pool``'s choices without importing torch (a test checks they agree):
#: a name of none had been refused after the data or the model was read, with exit status 1.
POOL_NAMES = ("mean", "mean+last", "mean+stem", "mean+last+stem")


class UsageError(ValueError):
    """A command line a verb cannot run (an option it needs, given no value): exit status 2,
    as argparse's own usage errors."""


def int_at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    parse.__name__ = f"int >= {low}"  # what argparse names in its own messages
    return parse


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def hr_max_bpm(text: str) -> float:
    """An argparse type: the rrSQI's highest normal rate, above its lowest (RRRules.hr_min)."""
    from qualityfm.quality.ecg import RRRules

    value = _finite_float(text)
    low = RRRules().hr_min
    if not value > low:
        raise argparse.ArgumentTypeError(f"must be above the lowest normal rate, {low:g} bpm, "
                                         f"got {text}")
    return value


def fraction_below_one(text: str) -> float:
    """An argparse type: a finite number in [0, 1) (an Adam beta)."""
    value = _finite_float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def open_fraction(text: str) -> float:
    """An argparse type: a finite number in (0, 1) (a target rate)."""
    value = _finite_float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {text}")
    return value


def nonnegative_float(text: str) -> float:
    """An argparse type: a finite number >= 0."""
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def seed_int(text: str) -> int:
    """An argparse type: a seed, an integer in [0, MAX_SEED]."""
    value = nonnegative_int(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be <= 2**31 - 1 ({MAX_SEED}), got {text}")
    return value


#: An integer >= 1 (batch sizes, epochs, steps, workers, ...).
positive_int = int_at_least(1)
#: An integer >= 0 (warm-up steps, where 0 means none).
nonnegative_int = int_at_least(0)


def at_most(parse: Callable[[str], Number], high: Number, why: str = "") -> Callable[[str], Number]:
    """An argparse type: what ``parse`` accepts, up to ``high`` (``why`` follows the bound in
    the message, e.g. " Hz (the model reads 300 Hz)")."""

    def bounded(text: str) -> Number:
        value = parse(text)
        if value > high:
            raise argparse.ArgumentTypeError(f"must be <= {high:g}{why}, got {text}")
        return value

    bounded.__name__ = f"{parse.__name__} <= {high:g}"
    return bounded
