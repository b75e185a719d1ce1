"""The share of a window's samples at its extreme values: saturated (clipped) signals."""

from __future__ import annotations

import numpy as np


def clip_fraction(x: np.ndarray, tol: float = 1e-3) -> np.ndarray:
    """Fraction of samples at the window's extreme values (within ``tol`` of its range), ``[N]``.

    A clean wave touches its maximum and minimum in a few samples; a saturated (clipped) or
    railed wave sits there for long stretches.
    """
    x = np.asarray(x)
    if x.dtype.kind in "iub":  # wide: int16 railed at both limits had wrapped its range
        x = x.astype(np.float64)
    lo = x.min(axis=1, keepdims=True)
    hi = x.max(axis=1, keepdims=True)
    span = hi - lo  # relative to the window's own range: no floor that a small scale falls under
    at_edge = (x >= hi - tol * span) | (x <= lo + tol * span)
    return at_edge.mean(axis=1)


def span_clip_fraction(values: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                       tol: float = 1e-3, missing: np.ndarray | None = None) -> np.ndarray:
    """:func:`clip_fraction` of the spans ``values[lo:hi]`` of one channel's samples,
    ``[len(lo)]`` (0 for an empty span): the rule measured on a record's own samples. Samples
    flagged ``missing`` (bool, as ``values``: gaps that were filled) are left out: a gap held
    at its neighbour's value is no saturation."""
    out = np.zeros(len(lo))
    for k, (a, b) in enumerate(zip(lo, hi, strict=True)):
        seg = values[a:b] if missing is None else values[a:b][~missing[a:b]]
        if len(seg):
            out[k] = clip_fraction(seg[None], tol)[0]
    return out


def clip_factor(share: np.ndarray, max_clip: float) -> np.ndarray:
    """The factor a window's score takes for its clipped ``share`` of samples: 1 up to
    ``max_clip``, falling linearly to 0 at twice it (a window of ``max_clip`` 0: 1 unclipped,
    else 0). A step at ``max_clip`` had scored 28 s of clean pulses and 1.5 s at the rails 0."""
    share = np.asarray(share, dtype=np.float64)
    if not max_clip >= 0:  # a negative or NaN limit is no share
        raise ValueError(f"max_clip must be a share >= 0, got {max_clip!r}")
    if max_clip == 0:
        return (share <= 0).astype(np.float64)
    return np.clip(2.0 - share / max_clip, 0.0, 1.0)


def measured_clip(x: np.ndarray, clip: np.ndarray | None) -> np.ndarray:
    """``clip`` (``[N]``, measured elsewhere) when given, else :func:`clip_fraction` of the
    windows ``x`` ``[N, T]``."""
    if clip is None:
        return clip_fraction(x)
    clip = np.atleast_1d(np.asarray(clip, dtype=np.float64))
    if clip.shape != (len(x),):
        raise ValueError(f"clip must hold one share per window, shape ({len(x)},); got "
                         f"{clip.shape}")
    bad = ~((clip >= 0) & (clip <= 1))  # NaN had scored an ECG NaN (absent), a PPG 0
    if bad.any():
        raise ValueError(f"clip must hold shares in [0, 1], got {clip[bad][:3].tolist()}")
    return clip
