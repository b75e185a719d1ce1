"""The share of a window's samples at its extreme values: saturated (clipped) signals."""

from __future__ import annotations

import numpy as np

#: Tail shares at which a window's rails are looked for beside its extremes: a rail holds the
#: samples of a tail from the few past it (a spike, a lead's noise beyond its ADC's limit) up
#: to its own share, so the quantile at 0.5 % or at 2 % lies on it where the exact minimum or
#: maximum need not.
RAIL_QUANTILES: tuple[float, ...] = (0.005, 0.02)
#: Width, as a share of the window's range, of the band just inside such a level that it must
#: outnumber to be a rail (or twice the distance to the next value recorded inside, where
#: wider: a coarse ADC step): a saturated wave piles up at its rail, where a smooth one (a
#: PPG's troughs on a coarse step) approaches a level through as many samples or more.
RAIL_APPROACH = 0.02


def clip_fraction(x: np.ndarray, tol: float = 1e-3) -> np.ndarray:
    """Fraction of samples on the window's rails, ``[N]``: those within ``tol`` of the window's
    range of its minimum or maximum, or, where more, those in a band ``tol`` of the range
    between the outer :data:`RAIL_QUANTILES` wide about a level at one of those tail shares, at
    each end, that outnumber those in the :data:`RAIL_APPROACH` of that range just inside it.

    A clean wave touches its maximum and minimum in a few samples; a saturated (clipped) or
    railed wave sits there for long stretches. A few samples past a rail no more hide it
    (icu0121's ECG on its rail, about 100 of a window's 7,500 samples just under it, had read
    0.03 % clipped; 12 % now).
    """
    x = np.asarray(x)
    if x.dtype.kind in "iub":  # wide: int16 railed at both limits had wrapped its range
        x = x.astype(np.float64)
    return np.array([_row_clip_fraction(row, tol) for row in x], dtype=np.float64)


def extremes_fraction(x: np.ndarray, tol: float = 1e-3) -> np.ndarray:
    """Fraction of samples within ``tol`` of the window's range of its minimum or maximum,
    ``[N]``: :func:`clip_fraction`'s first count, the whole rule before session 55."""
    x = np.asarray(x)
    if x.dtype.kind in "iub":  # wide: int16 railed at both limits had wrapped its range
        x = x.astype(np.float64)
    lo, hi = x.min(axis=1, keepdims=True), x.max(axis=1, keepdims=True)
    span = hi - lo  # relative to the window's own range: no floor that a small scale falls under
    return ((x >= hi - tol * span) | (x <= lo + tol * span)).mean(axis=1)


def _row_clip_fraction(row: np.ndarray, tol: float) -> float:
    """:func:`clip_fraction` of one window, counted on its sorted samples."""
    ordered = np.sort(row)
    lo, hi = ordered[0], ordered[-1]
    span = hi - lo
    if not np.isfinite(span):  # as the comparisons read it
        return float(extremes_fraction(row[None], tol)[0])
    n = len(ordered)
    s = ordered.astype(np.float64)  # the thresholds in the row's own precision, compared exactly
    below = np.searchsorted(s, lo + tol * span, "right")  # extremes_fraction's count, on the
    above = np.searchsorted(s, hi - tol * span, "left")  # sorted samples
    share = 1.0 if below >= above else (below + n - above) / n
    if span == 0:
        return share
    k = len(RAIL_QUANTILES)
    h = np.array([*RAIL_QUANTILES, *(1.0 - p for p in RAIL_QUANTILES)]) * (n - 1)
    f = h.astype(np.int64)
    levels = s[f] + (h - f) * (s[np.minimum(f + 1, n - 1)] - s[f])  # numpy's linear quantiles
    robust = levels[k] - levels[0]  # between the outer quantiles
    half, approach = tol * robust / 2, RAIL_APPROACH * robust
    a = np.searchsorted(s, levels - half, "left")  # each level's band: s[a:b]
    b = np.searchsorted(s, levels + half, "right")
    low = np.arange(2 * k) < k  # inside: above a low level, below a high one
    nearest = np.where(low, s[np.minimum(b, n - 1)] - levels, levels - s[np.maximum(a - 1, 0)])
    nearest[np.where(low, b >= n, a <= 0)] = np.inf
    reach = np.maximum(half + approach, 2 * nearest)
    inside = np.where(low, np.searchsorted(s, levels + reach, "right") - b,
                      a - np.searchsorted(s, levels - reach, "left"))
    held = np.where(b - a > inside, b - a, 0)
    # a rail at each end, each at whichever tail level holds it most (a low rail with 1 % of
    # samples past it is found at 2 % only, a high one of 1.2 % at 0.5 % only)
    i, j = int(held[:k].argmax()), k + int(held[k:].argmax())
    overlap = max(0, int(b[i] - a[j])) if held[i] > 0 and held[j] > 0 else 0
    return max(share, float(held[i] + held[j] - overlap) / n)


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
