"""Which classical feature columns (:mod:`qualityfm.quality.features`) each task's models read."""

from __future__ import annotations

import numpy as np

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
    """
    cols = np.arange(n_columns)
    if n_columns != len(feature_names()):
        return cols
    if task == "vt-alarm":
        return np.setdiff1d(cols, af_columns())
    if task == "abp":
        return np.setdiff1d(cols, ecg_columns(BEAT_WAVE_NAMES))
    return cols
