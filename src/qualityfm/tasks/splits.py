"""Splits by group (patient or record) only: no group is ever on both sides."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold


def _strata(y: np.ndarray, k: int = 2) -> np.ndarray:
    """Class labels for stratification. Regression targets (floats, or rows of several
    targets such as (SBP, DBP) of any dtype: integer mmHg are no classes) are binned into
    quartiles of the first, or into fewer bins of equal counts where quartiles would leave
    fewer than ``k`` rows in the largest (one bin: unstratified), so a small regression set
    still splits."""
    y = np.asarray(y)
    regression = y.ndim > 1 or np.issubdtype(y.dtype, np.floating)
    if y.ndim > 1:
        y = y[:, 0].astype(np.float64)
    if not regression:
        return y
    for n_bins in (4, 3, 2):
        bins = np.digitize(y, np.quantile(y, np.arange(1, n_bins) / n_bins))
        if np.bincount(bins).max(initial=0) >= k:
            return bins
    return np.zeros(len(y), dtype=int)


def group_kfold(
    y: np.ndarray, groups: np.ndarray, k: int = 5, seed: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(train_idx, test_idx) of ``k`` folds, disjoint in groups, stratified by class as far as
    the groups allow, shuffled by ``seed``; a draw that leaves a fold without a row is drawn
    again (ten times at most, then the folds are balanced by size, unstratified)."""
    groups = np.asarray(groups)
    n_groups = len(np.unique(groups))
    if k < 2 or k > n_groups:
        raise ValueError(f"k={k} folds need 2 <= k <= number of groups ({n_groups})")
    strata = _strata(y, k)
    counts = dict(zip(*(v.tolist() for v in np.unique(strata, return_counts=True)), strict=True))
    if max(counts.values(), default=0) < k:
        raise ValueError(f"k={k} folds stratified by class need {k} rows in the largest "
                         f"class at least; the rows hold {counts} (by class)")
    for attempt in range(10):
        # with k near the number of groups sklearn's greedy assignment can leave a fold
        # without a row (k = 6 of 6 groups, seed 47): such a draw is redrawn
        cv = StratifiedGroupKFold(n_splits=k, shuffle=True,
                                  random_state=(seed + 7919 * attempt) % 2**32)
        with warnings.catch_warnings():  # a rare class in fewer than k groups: stratified
            warnings.filterwarnings("ignore", message="The least populated class")  # as it can
            splits = list(cv.split(np.zeros(len(groups)), strata, groups))
        if all(len(te) for _, te in splits):
            break
    else:  # unstratified, balanced by size: every fold holds a group
        splits = list(GroupKFold(n_splits=k).split(np.zeros(len(groups)), groups=groups))
    yield from splits


def fold_count(y: np.ndarray, groups: np.ndarray, k: int = 5) -> int:
    """The most folds up to ``k`` that :func:`group_kfold` can make of these rows (no more
    than the groups, nor the rows of the largest class): inner folds of a small dataset."""
    counts = np.unique(_strata(y, k), return_counts=True)[1]
    return int(min(k, len(np.unique(np.asarray(groups))), counts.max(initial=0)))


def group_split(
    y: np.ndarray, groups: np.ndarray, fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, held_idx): one fold of ``k`` = 1 / ``fraction`` rounded half up (0.4: 3
    folds, a third held out; at least 2, fewer for small sets), stratified. For class labels
    it is the first fold whose training rows hold every class and whose held-out rows hold
    every class that at least two groups hold, so that a rare class is on both sides (the
    first fold can miss it: 3 positives in 5 folds), else the first whose training rows hold
    every class (a class of one group: fitted on, not validated; every row of it had been
    held out, a network trained on none)."""
    if not 0.0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5], got {fraction}")
    wanted = int(1.0 / fraction + 0.5)  # round() had taken 0.4 to 2 folds, half held out
    k = max(2, min(wanted, fold_count(y, groups, wanted)))
    folds = list(group_kfold(y, groups, k=k, seed=seed))
    y, groups = np.asarray(y), np.asarray(groups)
    if y.ndim == 1 and not np.issubdtype(y.dtype, np.floating):
        classes = np.unique(y)
        shared = [c for c in classes if len(np.unique(groups[y == c])) >= 2]
        trained = [(train, held) for train, held in folds if np.isin(classes, y[train]).all()]
        for train, held in trained:
            if np.isin(shared, y[held]).all():
                return train, held
        if trained:
            return trained[0]
    return folds[0]


def assert_disjoint(groups: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """Raise ValueError when a group has rows on both sides."""
    both = set(np.asarray(groups)[a]) & set(np.asarray(groups)[b])
    if both:
        raise ValueError(f"groups on both sides of a split: {sorted(both)[:5]}")
