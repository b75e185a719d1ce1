"""Which classical feature columns (:mod:`qualityfm.quality.features`) each task's models read."""

from __future__ import annotations

import numpy as np

from qualityfm._caller import warn_at_caller
from qualityfm.quality.features import BEAT_WAVE_NAMES, af_columns, ecg_columns, feature_names


def task_columns(task: str, n_columns: int) -> np.ndarray:
    """Indices of the feature columns the models of ``task`` read: all of them, except

    - for ``vt-alarm`` the rhythm columns of long recordings (``af_columns``: irregularity, RR
      patterns, P waves, ectopy, the median beat's shape): 10-s alarm windows hold too few
      beats, and in 5-fold CV the irregularity columns lowered the VT AUROC of the GBM by
      about 0.01 and of a linear head by about 0.04, the median beat's sampled shape that of
      the default hybrid head on three of three splits;
    - for ``abp`` the median beat's sampled shape (``BEAT_WAVE_NAMES``), added for AF: with
      it the SBP MASE of the GBM rose on two of three splits and that of the hybrid lbfgs head
      from 0.90 to 0.94 (docs/results.md, session 13).

    A table of another width is another feature set: every column is read. One wider than
    the feature set warns, since the feature set with columns appended would otherwise give
    a ``vt-alarm`` model its rhythm columns back without a word: select the columns the
    task reads (``task_columns(task, len(feature_names()))``) before appending. The rule
    goes by width alone: a table of exactly the feature set's width is read as the feature
    set, whatever its columns are.
    """
    cols = np.arange(n_columns)
    n_names = len(feature_names())
    if n_columns > n_names and task in ("vt-alarm", "abp"):
        warn_at_caller(
            f"features have {n_columns} columns, more than the {n_names} of the classical "
            f"feature set: every column is read, and {task}'s exclusions from that set "
            f"(task_columns) are not applied; select its columns before appending yours")
    if n_columns != n_names:
        return cols
    if task == "vt-alarm":
        return np.setdiff1d(cols, af_columns())
    if task == "abp":
        return np.setdiff1d(cols, ecg_columns(BEAT_WAVE_NAMES))
    return cols
