"""Missing samples (NaN or inf): linear interpolation along time."""

from __future__ import annotations

import numpy as np


def fill_nan(x: np.ndarray) -> np.ndarray:
    """Copy of ``x`` [..., T] with missing samples (NaN, and +-inf, which no sensor
    measures) linearly interpolated along the last axis.

    Leading and trailing gaps take the nearest valid value; a row without one becomes zeros.
    """
    x = np.asarray(x)
    x = np.array(x, dtype=x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64)
    nan = ~np.isfinite(x)
    if not nan.any():
        return x
    flat = x.reshape(-1, x.shape[-1])
    fnan = nan.reshape(-1, x.shape[-1])
    idx = np.arange(x.shape[-1])
    for row in np.flatnonzero(fnan.any(axis=1)):
        good = ~fnan[row]
        if not good.any():
            flat[row] = 0.0
            continue
        flat[row, ~good] = np.interp(idx[~good], idx[good], flat[row, good])
    return flat.reshape(x.shape)
