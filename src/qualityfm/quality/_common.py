"""Shared helpers of the quality indices: input checks, zero-phase FFT filters, beat templates."""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import scipy.fft

from qualityfm._numbers import is_number

#: Lowest sampling rate the indices accept: the PPG noise band reaches 25 Hz.
MIN_FS = 50.0
#: Shortest window the indices accept, s.
MIN_SECONDS = 2.0


def as_windows(x: np.ndarray, fs: float, name: str = "x") -> tuple[np.ndarray, bool]:
    """Return ``x`` as float ``[N, T]`` and whether the input was a single window ``[T]``.

    float32 input stays float32 (half the FFT and memory cost; ample precision for scoring)
    unless it holds values past 1e6 in magnitude (a 1e10 scale had overflowed the beat
    correlations), anything else becomes float64.
    """
    x = np.asarray(x)
    if x.ndim not in (1, 2):
        raise ValueError(f"{name} must have shape [N, T] or [T], got {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):  # (complex had been
        raise ValueError(f"{name} must be real numbers, got dtype {x.dtype}")  # scored real)
    if not is_number(fs) or fs < MIN_FS:  # a string had failed inside np.isfinite
        raise ValueError(f"fs must be a finite rate >= {MIN_FS:g} Hz, got {fs!r}")
    single = x.ndim == 1
    dtype = np.float32 if x.dtype == np.float32 else np.float64
    # (fmax passes over NaN; an inf reads as large, harmless: its window scores 0)
    if dtype == np.float32 and np.fmax.reduce(np.abs(x), axis=None, initial=0.0) > 1e6:
        dtype = np.float64  # beat energies (squares of sums) overflow float32 past ~1e8
    x2 = np.atleast_2d(x).astype(dtype, copy=False)
    if x2.shape[1] < int(MIN_SECONDS * fs):
        raise ValueError(
            f"{name} windows must be at least {MIN_SECONDS:g} s long, got {x2.shape[1]} "
            f"samples at {fs:g} Hz"
        )
    return x2, single


def lost_share(flat: np.ndarray, filled: np.ndarray | None) -> np.ndarray:
    """Each window's share of samples that carry no signal: the larger of its flat share
    ``flat`` (:func:`flat_fraction`) and its share ``filled`` (``[N]``: samples that were
    missing and filled by a line, ``Windows.filled``; None: none). The larger, not the sum:
    a line across a gap between like values is itself flat."""
    return np.maximum(flat, missing_share(filled, len(flat)))


def missing_share(filled: np.ndarray | None, n: int) -> np.ndarray:
    """``filled`` (each window's share of samples that were missing and filled, ``[N]``) as
    float ``[n]``; zeros when None."""
    if filled is None:
        return np.zeros(n)
    filled = np.atleast_1d(np.asarray(filled, dtype=np.float64))
    if filled.shape != (n,):
        raise ValueError(f"filled must hold one share per window, shape ({n},); got "
                         f"{filled.shape}")
    bad = ~((filled >= 0) & (filled <= 1))  # NaN would score a present channel NaN
    if bad.any():
        raise ValueError(f"filled must hold shares in [0, 1], got {filled[bad][:3].tolist()}")
    return filled


def finite_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``x`` without NaN/inf (bool ``[N]``) and ``x`` with non-finite values set to 0."""
    ok = np.isfinite(x).all(axis=1)
    if not ok.all():
        x = np.where(np.isfinite(x), x, 0.0)
    return ok, x


def mirrored_spectrum(x: np.ndarray) -> np.ndarray:
    """The spectrum of each window of ``x`` ``[N, T]`` followed by itself reversed, as ``T``
    real coefficients, bin ``k`` at ``k fs / 2T`` Hz: the type-II DCT, whose magnitudes are
    those of the ``rfft`` of the ``2T`` mirrored samples (bins ``0..T-1``; bin ``T`` is 0). The
    mirrored signal has no step where it wraps, so no step's power leaks into the spectrum,
    and a filter applied to it (:func:`band_filtered`) has no transient at the window's ends.
    (Before, the line joining the window's two ends was removed instead: that ramp, as large
    as a pulse where a window starts and ends at other phases of it, put power below 0.5 Hz
    and made a PPG's score depend on where its window started.)"""
    return scipy.fft.dct(x, type=2, axis=1)


def band_filtered(spec: np.ndarray, n: int, fs: float, low: float | None,
                  high: float | None) -> np.ndarray:
    """The ``n`` samples of each window, zero-phase band-passed (:func:`band_gain`), from
    its :func:`mirrored_spectrum` ``spec``."""
    gain = band_gain(2 * n, fs, low, high, dtype=spec.dtype)[:n]
    return scipy.fft.idct(spec * gain, type=2, axis=1)


def band_bins(n_bins: int, n: int, fs: float, low: float, high: float) -> slice:
    """The bins ``k`` of a spectrum of ``n_bins`` bins at ``k fs / n`` Hz (an ``rfft`` of
    ``n`` samples; a :func:`mirrored_spectrum` of ``n / 2``) whose frequency lies in
    ``[low, high)``, found on bin numbers (the frequencies ``rfftfreq`` returns fall a
    rounding error short of 0.5, 5 and 25 Hz at 300 Hz, and those bins had landed in the band
    below)."""
    first = int(np.ceil(low * n / fs - 1e-9))
    stop = int(np.ceil(high * n / fs - 1e-9))
    return slice(min(first, n_bins), min(stop, n_bins))


@lru_cache(maxsize=64)
def band_gain(
    n: int, fs: float, low: float | None, high: float | None, order: int = 2,
    dtype: npt.DTypeLike = np.float64,
) -> np.ndarray:
    """Zero-phase Butterworth magnitude-squared gain on the ``rfft`` bins of ``n`` samples.

    Equals the gain of a forward-backward (``filtfilt``) Butterworth filter of ``order``.
    Cached; the returned array is read-only.
    """
    f = np.fft.rfftfreq(n, 1.0 / fs)
    g = np.ones_like(f)
    if low:
        r = (f / low) ** (2 * order)
        g *= r / (1.0 + r)
    if high:
        g /= 1.0 + (f / high) ** (2 * order)
    g = g.astype(dtype)
    g.flags.writeable = False
    return g


def column_median(a: np.ndarray) -> np.ndarray:
    """``np.median(a, axis=0)`` of a 2-D array, the same values, by a sort down the columns
    (twice as fast on beat matrices as numpy's partition across strided rows)."""
    s = np.sort(a, axis=0)
    if np.isnan(s[-1]).any():  # NaN sorts last: numpy's median propagates it instead
        return np.median(a, axis=0)
    n = len(s)
    return 0.5 * (s[(n - 1) // 2] + s[n // 2])


def median(a: np.ndarray) -> float:
    """``float(np.median(a))`` of a 1-D array, the same value; for integers (beat intervals)
    by one sort, which costs a tenth of numpy's median on a window's few dozen intervals."""
    a = np.asarray(a)
    if a.ndim != 1 or a.dtype.kind not in "iu" or not len(a):  # NaN, empty: numpy's rules
        return float(np.median(a))
    s = np.sort(a)
    n = len(s)
    if n % 2:
        return float(s[n // 2])
    return (float(s[n // 2 - 1]) + float(s[n // 2])) / 2.0  # as numpy's mean of the two


def template_correlation(
    y: np.ndarray, peaks: np.ndarray, before: int, after: int, min_beats: int = 3
) -> float:
    """Mean Pearson correlation of each beat of ``y`` with the median beat (Li & Clifford 2012).

    Beats are segments ``[p - before, p + after)`` around the fiducial points ``peaks``; those
    that do not fit inside ``y`` are skipped. Correlations are clipped to [0, 1]. Returns 0 with
    fewer than ``min_beats`` beats.
    """
    peaks = peaks[(peaks >= before) & (peaks + after <= len(y))]
    if len(peaks) < min_beats:
        return 0.0
    beats = y[peaks[:, None] + np.arange(-before, after)]
    beats = beats - beats.mean(axis=1, keepdims=True)
    template = column_median(beats)
    template = template - template.mean()
    num = beats @ template
    den = np.sqrt((beats * beats).sum(axis=1) * (template @ template))
    corr = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return float(np.clip(corr, 0.0, 1.0).mean())


def flat_fraction(x: np.ndarray, fs: float, block: float = 0.5, rel: float = 0.01) -> np.ndarray:
    """Fraction of ``block``-second stretches of each window that are flat, ``[N]``.

    A stretch is flat when its peak-to-peak is below ``rel`` of the window's span, taken as four
    standard deviations (robust to a few spikes): a disconnected sensor or lead holding one value.
    NaN samples (missing) are left out of both, a stretch of under half its samples is not
    flat (a gap filled by a line between its edges had read as flat, and outliers at its
    edges had made the rest of the window flat beside them; a gap's edge block of one sample
    has no spread to judge).
    """
    n, t = x.shape
    b = max(1, int(round(block * fs)))
    nb = t // b
    if nb == 0:
        return np.zeros(n)
    blocks = x[:, : nb * b].reshape(n, nb, b)
    if not np.isnan(x).any():
        span = 4.0 * x.std(axis=1)
        ptp = blocks.max(axis=2) - blocks.min(axis=2)
    else:
        with warnings.catch_warnings(), np.errstate(invalid="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows and blocks: NaN
            span = 4.0 * np.nanstd(x, axis=1)
            ptp = np.nanmax(blocks, axis=2) - np.nanmin(blocks, axis=2)
        ptp[(~np.isnan(blocks)).sum(axis=2) < b / 2] = np.nan  # too few samples: not flat
    with np.errstate(invalid="ignore"):
        return (ptp <= rel * np.maximum(span, 1e-12)[:, None]).mean(axis=1)


#: A stretch of a window without a detected beat (R peak or pulse; between two beats, or
#: between the window's edge and its first or last beat) longer than this (s) and than two
#: median beat intervals is a lead or sensor off, not a pause of the rhythm (a 3-s pause is
#: past any rhythm the rules take).
BEATLESS_SECONDS = 3.0


def beatless_stretches(peaks: np.ndarray, n_samples: int, fs: float
                       ) -> tuple[list[tuple[int, int]], float]:
    """The stretches ``(start, end)`` (samples) of a window of ``n_samples`` without a beat
    (:data:`BEATLESS_SECONDS`), and the median beat interval (samples; 0 with under two beats,
    whose stretches are then those over ``BEATLESS_SECONDS`` alone: a PPG of one pulse and a
    sensor off after it had been charged nothing, one of two nearly all)."""
    rr = median(np.diff(peaks)) if len(peaks) > 1 else 0.0
    edges = np.concatenate([[0], peaks, [n_samples]]).astype(np.int64)
    long = np.diff(edges) > max(BEATLESS_SECONDS * fs, 2.0 * rr)
    return [(int(a), int(e)) for a, e in zip(edges[:-1][long], edges[1:][long], strict=True)], rr


def beatless_share(peaks: np.ndarray, n_samples: int, fs: float) -> float:
    """The share of a window of ``n_samples`` in stretches without a beat
    (:func:`beatless_stretches`; each less one median beat interval, the beat that would end
    it): a lead off holding a few uV of noise is no flat stretch, and at the window's edge it
    had cost nothing (12 s of 30 at the end scored 0.996)."""
    stretches, rr = beatless_stretches(peaks, n_samples, fs)
    return float(np.clip(sum(e - a - rr for a, e in stretches) / n_samples, 0.0, 1.0))
