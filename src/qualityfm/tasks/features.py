"""Which classical feature columns (:mod:`qualityfm.quality.features`) each task's models read."""

from __future__ import annotations

import numpy as np

from qualityfm.quality.features import af_columns, feature_names


def task_columns(task: str, n_columns: int) -> np.ndarray:
    """Indices of the feature columns the models of ``task`` read: all of them, except the
    rhythm columns of long recordings (``af_columns``: irregularity, RR patterns, P waves,
    ectopy, the median beat's shape) for ``vt-alarm``: 10-s alarm windows hold too few beats,
    and in 5-fold CV the irregularity columns lowered the VT AUROC of the GBM by about 0.01 and
    of a linear head by about 0.04 (the later columns were never given to the VT models)."""
    cols = np.arange(n_columns)
    if task == "vt-alarm" and n_columns == len(feature_names()):
        cols = np.setdiff1d(cols, af_columns())
    return cols
