"""A fast R-peak detector, vectorised over the windows of one record.

Pan-Tompkins in spirit (Pan & Tompkins, IEEE TBME 32(3), 1985): zero-phase band-pass 5-20 Hz
and derivative in one FFT, squared, integrated over 120 ms, square root (an amplitude
envelope, so the threshold is in amplitude units), an adaptive threshold from the local
maximum of the envelope within +-1 s, a refractory period, and each peak moved to the extreme
of the band-passed signal of the window's dominant polarity (inverted leads work alike).
Pacemaker stimuli are taken out first where the rate tells them from a QRS
(:mod:`qualityfm.signal.pacing`).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d
from scipy.signal import find_peaks

from qualityfm._numbers import is_number
from qualityfm.quality._common import as_windows, band_filtered, finite_rows, mirrored_spectrum
from qualityfm.signal.pacing import remove_pacing_spikes

#: Band of the QRS energy envelope, Hz.
QRS_BAND = (5.0, 20.0)


def qrs_envelope(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The windows' :func:`~qualityfm.quality._common.mirrored_spectrum`, the 5-20 Hz
    band-passed signal and its QRS envelope.

    ``x`` is float ``[N, T]``; all three outputs keep the window axis. The spectrum is
    returned so that callers can derive other bands without transforming again
    (:func:`~qualityfm.quality._common.band_filtered`); all three are of ``x`` less its
    pacemaker stimuli at 240 Hz or more (:func:`~qualityfm.signal.pacing.pacing_spikes`;
    windows cut from a record had them taken out at its own rate, before resampling).
    """
    spec = mirrored_spectrum(remove_pacing_spikes(x, fs))
    bp = band_filtered(spec, x.shape[1], fs, *QRS_BAND)
    deriv = np.diff(bp, axis=1, prepend=bp[:, :1]) * fs
    width = max(1, int(round(0.12 * fs)))
    env = np.sqrt(np.maximum(uniform_filter1d(deriv * deriv, width, axis=1), 0.0))
    return spec, bp, env


def _thresholds(env: np.ndarray, fs: float, k_local: float, k_global: float) -> np.ndarray:
    """Per-sample threshold ``max(k_local * local max within +-1 s, k_global * median of it)``."""
    n, t = env.shape
    block = max(1, int(round(0.1 * fs)))
    nb = -(-t // block)
    padded = np.pad(env, ((0, 0), (0, nb * block - t)), mode="edge")
    coarse = padded.reshape(n, nb, block).max(axis=2)
    local = maximum_filter1d(coarse, size=21, axis=1, mode="nearest")
    floor = k_global * np.median(local, axis=1, keepdims=True)
    thr = np.maximum(k_local * local, floor)
    return np.repeat(thr, block, axis=1)[:, :t]


def peaks_from_envelope(
    bp: np.ndarray,
    env: np.ndarray,
    fs: float,
    refractory: float = 0.25,
    k_local: float = 0.3,
    k_global: float = 0.2,
) -> list[np.ndarray]:
    """Pick R peaks per window from band-passed signal ``bp`` and envelope ``env``, ``[N, T]``."""
    if not (is_number(refractory) and refractory > 0):  # -1 had been taken as one sample
        raise ValueError(f"refractory must be the shortest RR interval in s, > 0, got "
                         f"{refractory!r}")
    thr = _thresholds(env, fs, k_local, k_global)
    dist = max(1, int(round(refractory * fs)))
    half = max(1, int(round(0.075 * fs)))
    offsets = np.arange(-half, half + 1)
    t = env.shape[1]
    out: list[np.ndarray] = []
    for i in range(env.shape[0]):
        if not env[i].any():
            out.append(np.zeros(0, dtype=np.int64))
            continue
        cand, _ = find_peaks(env[i], height=thr[i], distance=dist)
        if len(cand) == 0:
            out.append(cand.astype(np.int64))
            continue
        idx = np.minimum(np.maximum(cand[:, None] + offsets, 0), t - 1)
        seg = bp[i][idx]
        # Dominant polarity of the window: R waves up, or an inverted lead with R waves down.
        up = seg.max(axis=1).sum() >= -seg.min(axis=1).sum()
        pick = np.argmax(seg, axis=1) if up else np.argmin(seg, axis=1)  # (first extreme)
        r = np.take_along_axis(idx, pick[:, None], axis=1)[:, 0]
        # The mirrored band-pass is flat at the window's first and last samples, so the tail
        # of a QRS whose R lies outside the window, or a wave of no QRS, refines onto them: no
        # beat is seen there (a true R within a few samples of the edge is lost with them).
        r = r[(r > 0) & (r < t - 1)]
        if not (r[1:] > r[:-1]).all():  # sorted, once each (mostly so already)
            r = np.unique(r)
        out.append(refractory_keep(r, dist))
    return out


def refractory_keep(peaks: np.ndarray, dist: int) -> np.ndarray:
    """The sorted ``peaks`` kept in order, each at least ``dist`` samples after the last kept.

    Two envelope peaks refined onto one beat, or onto beats too close, keep the first; a later
    peak is measured against the beat kept, not against a dropped one (peaks 0, 0.2 and 0.3 s
    with a 0.25-s refractory keep 0 and 0.3 s).
    """
    peaks = np.asarray(peaks, dtype=np.int64)
    if len(peaks) < 2 or (np.diff(peaks) >= dist).all():
        return peaks
    keep = [int(peaks[0])]
    for p in peaks[1:]:
        if p - keep[-1] >= dist:
            keep.append(int(p))
    return np.asarray(keep, dtype=np.int64)


def detect_r_peaks(x: np.ndarray, fs: float, refractory: float = 0.25) -> list[np.ndarray]:
    """R-peak sample indices of each ECG window of ``x`` (``[N, T]`` or ``[T]``) at ``fs`` Hz.

    Returns one sorted int64 array per window (a list of length N; for a single window
    ``[T]`` a list of one array). Windows with non-finite values return no peaks.
    ``refractory`` (s) is the shortest accepted RR interval (0.25 s allows 240 bpm). Constant
    windows (a lead off held at one value) return none too: the band-pass's float rounding had
    read as dozens of beats.
    """
    x, _ = as_windows(x, fs)
    ok, x = finite_rows(x)
    ok &= np.ptp(x, axis=1) > 0
    _, bp, env = qrs_envelope(x, fs)
    env[~ok] = 0.0
    return peaks_from_envelope(bp, env, fs, refractory=refractory)
