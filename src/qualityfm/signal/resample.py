"""Polyphase resampling between sampling rates."""

from __future__ import annotations

import warnings
from fractions import Fraction
from functools import lru_cache

import numpy as np
from scipy.signal import firwin, resample_poly

from qualityfm._numbers import missing

#: Largest numerator and denominator of the rational approximation of ``fs_out / fs_in``
#: (the anti-aliasing filter has 20 taps per unit of the larger: 200,001 at most, 1.6 MB).
#: With terms up to 1000, 299.9 -> 300 Hz had been 1/1, a time scale 3.3e-4 off: the
#: windows of a 12-h record 14 s late by its end; now 3000/2999, and MIMIC's rates (124.945,
#: 62.4725 Hz) drift by under 3 ms in 12 h. A rate within about 1/20000 of a simple ratio
#: still takes it (300.015 -> 300 Hz is 1/1: 2.2 s in 12 h; 250.0025 -> 300 is 6/5).
MAX_TERM = 10000
#: Largest relative error of that approximation (a time-scale error); a ratio under 1/10000
#: (15000 -> 1 Hz) would be off by up to a factor 2.
MAX_RATIO_ERROR = 1e-3


@lru_cache(maxsize=256)
def rational_ratio(fs_in: float, fs_out: float) -> tuple[int, int]:
    """``(up, down)`` with ``up / down`` the closest fraction to ``fs_out / fs_in`` whose
    denominator is at most ``MAX_TERM`` and ``MAX_TERM / ratio`` (its numerator about
    ``MAX_TERM`` at most)."""
    if not (np.isfinite(fs_in) and fs_in > 0):
        raise ValueError(f"input sampling rate must be positive and finite, got {fs_in}")
    if not (np.isfinite(fs_out) and fs_out > 0):
        raise ValueError(f"output sampling rate must be positive and finite, got {fs_out}")
    ratio = float(fs_out) / float(fs_in)
    frac = Fraction(ratio).limit_denominator(max(1, int(MAX_TERM / max(1.0, ratio))))
    if abs(float(frac) - ratio) > MAX_RATIO_ERROR * ratio:
        raise ValueError(f"cannot resample {fs_in:g} Hz to {fs_out:g} Hz: no fraction of "
                         f"terms up to {MAX_TERM} comes within "
                         f"{MAX_RATIO_ERROR:g} of their ratio (the input rate is "
                         f"{1 / ratio:.4g} times the output rate)")
    return frac.numerator, frac.denominator


def resample(x: np.ndarray, fs_in: float, fs_out: float, axis: int = -1) -> np.ndarray:
    """Resample ``x`` from ``fs_in`` to ``fs_out`` Hz along ``axis`` (polyphase FIR).

    The ratio is approximated by a fraction of terms up to about ``MAX_TERM``
    (:func:`rational_ratio`: 250 -> 300 Hz is exactly 6/5, 299.9 -> 300 Hz 3000/2999; a
    ratio no such fraction comes within ``MAX_RATIO_ERROR`` of is refused). Equal
    rates return ``x`` itself, untouched. The signal is
    padded by its edge values, so a record's first and last samples do not ring towards zero.
    The output has ``ceil(n * up / down)`` samples and the dtype of ``x`` (float64 for ints,
    float32 for float16, whose range the filter's overshoot at a railed step passes: inf).
    NaNs spread over the filter length: fill them first (see ``fill_nan``). Infinite and fill
    values (:func:`qualityfm._numbers.missing`) are NaN here (a fill value of 9.97e36 had set
    the level taken out, and left rounding noise of 1e16 on every sample).
    """
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("resample needs an array with a time axis, got a scalar")
    if float(fs_in) == float(fs_out):
        return x
    up, down = rational_ratio(float(fs_in), float(fs_out))
    if up == down:
        return x
    dtype = (np.float32 if x.dtype == np.float16 else x.dtype
             if np.issubdtype(x.dtype, np.floating) else np.float64)
    if x.shape[axis] == 0:
        shape = list(x.shape)
        shape[axis] = 0
        return np.zeros(shape, dtype)
    if np.iscomplexobj(x):  # (its imaginary part had been dropped with NumPy's warning)
        raise ValueError(f"resample needs real samples, got dtype {x.dtype}")
    x = x.astype(np.float64, copy=False)
    gone = missing(x)
    if gone.any():
        x = np.where(gone, np.nan, x)
    # the filter runs on the signal less its mean, which is added back exactly (precision
    # for a small wave on a large offset)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: no level to take out
        level = np.nan_to_num(np.nanmean(x, axis=axis, keepdims=True), nan=0.0, posinf=0.0,
                              neginf=0.0)
    y = resample_poly(x - level, up, down, axis=axis, window=lowpass(up, down),
                      padtype="edge") + level
    return y.astype(dtype, copy=False)


@lru_cache(maxsize=16)  # up to 1.6 MB each
def lowpass(up: int, down: int) -> np.ndarray:
    """The anti-aliasing FIR filter of a ``up / down`` resampling: scipy's default design
    (Kaiser window, beta 5, 10 zero crossings each side), each polyphase branch scaled to a
    DC gain of exactly 1. The branches of the plain design differ by about 1e-3, which put a
    ripple of that share of its level on every constant stretch (a comb of 6 samples from 250
    to 300 Hz: the flat top of a clipped wave, a lead off at a rail). Read-only."""
    rate = max(up, down)
    h = firwin(2 * 10 * rate + 1, 1.0 / rate, window=("kaiser", 5.0))
    for p in range(up):
        h[p::up] /= up * h[p::up].sum()  # resample_poly multiplies by up
    h.flags.writeable = False
    return h
