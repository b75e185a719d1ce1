"""Quality-divergent pair mining: which windows of one record teach which.

Two windows of the same record form a pair when they lie ``min_distance`` to ``max_distance``
window lengths apart (1 to 9 = 30 to 270 s for 30-s windows; overlapping windows never pair
with one they overlap) and their quality levels differ
by at least ``min_level_gap``. The better window goes to the teacher, the worse to the student;
one window may be in many pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qualityfm._numbers import is_int, is_number, not_whole, settle_numbers, shown
from qualityfm.quality.score import LEVEL_NAMES

#: The largest level gap a pair can have: levels run from 0 (bad) to 4 (excellent).
MAX_LEVEL_GAP = len(LEVEL_NAMES) - 1


@dataclass(frozen=True)
class PairConfig:
    """Settings of :func:`mine_pairs` (distances in window lengths, not seconds)."""

    min_distance: int = 1
    max_distance: int = 9
    min_level_gap: int = 1

    def __post_init__(self) -> None:
        for name in ("min_distance", "max_distance", "min_level_gap"):
            if not is_int(getattr(self, name)):  # 2.5 windows had been taken
                raise ValueError(f"PairConfig.{name} must be an integer, got "
                                 f"{getattr(self, name)!r}")
        if self.min_distance < 1:
            raise ValueError(f"PairConfig.min_distance must be >= 1, got {self.min_distance}")
        if self.max_distance < self.min_distance:
            raise ValueError(
                f"PairConfig.max_distance ({self.max_distance}) must be >= "
                f"min_distance ({self.min_distance})"
            )
        if not 1 <= self.min_level_gap <= MAX_LEVEL_GAP:  # 5: a store of no pair, unsaid
            raise ValueError(f"PairConfig.min_level_gap must be 1-{MAX_LEVEL_GAP} (levels run "
                             f"from 0, bad, to 4, excellent), got {self.min_level_gap}")
        settle_numbers(self, ints=("min_distance", "max_distance", "min_level_gap"))


def mine_pairs(
    levels: np.ndarray, slots: np.ndarray | None = None, cfg: PairConfig | None = None,
    per_window: float = 1.0,
) -> np.ndarray:
    """Quality-divergent pairs among the windows of one record.

    ``levels`` holds the quality level of each window (higher is better); ``slots`` the integer
    position of each window on the record's grid of window starts, strictly increasing; by
    default ``arange(N)``. ``per_window`` is the number of slots in one window length (1 for
    back-to-back windows; seconds / hop otherwise), so that distances count whole
    windows and the two windows of a pair never overlap. Rejected windows leave gaps in
    ``slots``, so distances stay true distances in time. Returns int64 ``[P, 2]`` of
    ``(teacher, student)`` indices into ``levels``, sorted by the earlier window then the
    later one.
    """
    cfg = cfg or PairConfig()
    levels = np.asarray(levels)
    if levels.ndim != 1:
        raise ValueError(f"levels must be 1-D, got shape {levels.shape}")
    n = len(levels)
    # Scores q in [0, 1] for levels had given no pair, 3.9 and 3.1 one level, NaN any pair.
    _refuse_unwhole(levels, f"levels must be whole numbers 0-{MAX_LEVEL_GAP} (quality_level(q))",
                    0, MAX_LEVEL_GAP)
    if slots is None:
        slots = np.arange(n, dtype=np.int64)
    else:
        slots = np.asarray(slots)
        _refuse_unwhole(slots, "slots must be whole numbers")  # 0.5 had been cut to 0
        slots = slots.astype(np.int64)
    if slots.shape != (n,):
        raise ValueError(f"slots shape {slots.shape} does not match levels shape {levels.shape}")
    if n > 1 and np.any(np.diff(slots) <= 0):
        raise ValueError("slots must be strictly increasing")
    if not (is_number(per_window) and per_window > 0):
        raise ValueError(f"per_window must be a finite number > 0 of slots, got "
                         f"{shown(per_window)}")
    lo, hi = cfg.min_distance * per_window, cfg.max_distance * per_window
    lv = levels.astype(np.int64)
    firsts, seconds = [], []
    # Slots are unique and increasing, so i and j are at most max_distance windows of slots
    # apart in index.
    for k in range(1, min(int(np.floor(hi + 1e-9)), n - 1) + 1):
        i = np.arange(n - k)
        j = i + k
        dist = slots[j] - slots[i]
        keep = (dist >= lo - 1e-9) & (dist <= hi + 1e-9)
        keep &= np.abs(lv[i] - lv[j]) >= cfg.min_level_gap
        firsts.append(i[keep])
        seconds.append(j[keep])
    if not firsts:
        return np.zeros((0, 2), dtype=np.int64)
    i = np.concatenate(firsts)
    j = np.concatenate(seconds)
    order = np.lexsort((j, i))
    i, j = i[order], j[order]
    i_better = lv[i] > lv[j]
    teacher = np.where(i_better, i, j)
    student = np.where(i_better, j, i)
    return np.stack([teacher, student], axis=1).astype(np.int64)


def _refuse_unwhole(values: np.ndarray, what: str, low: int | None = None,
                    high: int | None = None) -> None:
    """ValueError ``what``, naming the first value that is no whole number within bounds
    (:func:`~qualityfm._numbers.not_whole`), or the dtype of values that are no numbers."""
    if values.dtype == bool or not np.issubdtype(values.dtype, np.number) or np.iscomplexobj(
            values):
        if values.size:
            raise ValueError(f"{what}, got dtype {values.dtype}")
        return
    bad = not_whole(values, low, high)
    if bad.any():
        raise ValueError(f"{what}, got {shown(values[bad][0])}")
