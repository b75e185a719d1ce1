"""Classical features of the clinical baseline: rates from every ECG lead and from the pulse,
their agreement, QRS width and morphology, signal quality, RR irregularity (for AF).

``signal_features(signals, fs)`` works on any set of canonical channels (missing ones give NaN,
which gradient boosting handles natively); ``window_features(X, mask, fs)`` does the same for
model-input arrays ``[N, C, T]`` in ``MODEL_CHANNELS`` order.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import find_peaks

from qualityfm.io import MODEL_CHANNELS, is_ecg
from qualityfm.quality import detect_r_peaks, ecg_quality, ppg_quality
from qualityfm.quality._common import band_gain, template_correlation

_RR_NAMES = ("hr", "hr_max4", "rr_cv", "rmssd", "pnn50", "sampen", "tpr", "n_beats")
_ECG_NAMES = (*_RR_NAMES, "qrs_width", "morph_corr", "amp_cv", "hf_ratio", "sqi")
_PULSE_NAMES = (*_RR_NAMES, "morph_corr", "amp_cv", "sqi")


def feature_names() -> list[str]:
    """Names of the columns of :func:`signal_features`, in order."""
    names = [f"ecg1_{n}" for n in _ECG_NAMES] + [f"ecg2_{n}" for n in _ECG_NAMES]
    names += [f"ppg_{n}" for n in _PULSE_NAMES] + [f"abp_{n}" for n in _PULSE_NAMES]
    names += ["d_hr_ecg1_ecg2", "d_hr_ecg_ppg", "d_hr_ecg_abp", "d_hrmax_ecg_pulse", "n_leads"]
    return names


def _bandpass(x: np.ndarray, fs: float, low: float | None, high: float | None) -> np.ndarray:
    """Zero-phase band-pass by FFT (the same gain as the quality layer's filters)."""
    x = x - np.linspace(x[0], x[-1], len(x))
    return np.fft.irfft(np.fft.rfft(x) * band_gain(len(x), fs, low, high), n=len(x))


def sample_entropy(x: np.ndarray, m: int = 2, r: float = 0.2) -> float:
    """Sample entropy of a short series (tolerance ``r`` times its SD); NaN when undefined."""
    x = np.asarray(x, dtype=float)
    if len(x) < m + 2 or np.std(x) == 0:
        return float("nan")
    tol = r * np.std(x)

    def matches(k: int) -> int:
        emb = np.lib.stride_tricks.sliding_window_view(x, k)[: len(x) - m]
        d = np.abs(emb[:, None, :] - emb[None, :, :]).max(axis=2)
        return int((d <= tol).sum() - len(emb))

    b, a = matches(m), matches(m + 1)
    return float(-np.log(a / b)) if a > 0 and b > 0 else float("nan")


def rr_features(peaks: np.ndarray, fs: float) -> list[float]:
    """Rate and irregularity of a beat series: median HR, fastest 4-beat HR, RR CV, RMSSD,
    pNN50, sample entropy of RR, turning-point ratio, beat count."""
    n = len(peaks)
    if n < 3:
        return [float("nan")] * (len(_RR_NAMES) - 1) + [float(n)]
    rr = np.diff(peaks) / fs
    drr = np.diff(rr)
    hr = 60.0 / np.median(rr)
    hr_max4 = 60.0 / np.convolve(rr, np.ones(4) / 4, mode="valid").min() if len(rr) >= 4 else hr
    tp = float(np.mean((drr[:-1] * drr[1:]) < 0)) if len(drr) >= 2 else float("nan")
    return [
        float(hr), float(hr_max4), float(np.std(rr) / np.mean(rr)),
        float(np.sqrt(np.mean(drr**2))) if len(drr) else float("nan"),
        float(np.mean(np.abs(drr) > 0.05)) if len(drr) else float("nan"),
        sample_entropy(rr), tp, float(n),
    ]


def _amp_cv(y: np.ndarray, peaks: np.ndarray) -> float:
    if len(peaks) < 3:
        return float("nan")
    a = np.abs(y[peaks])
    return float(np.std(a) / (np.mean(a) + 1e-12))


def _sqi(fn, x: np.ndarray, fs: float) -> float:
    """The quality layer's index of one window (NaN when the window is too short for it)."""
    try:
        return float(fn(x, fs))
    except ValueError:
        return float("nan")


def ecg_features(x: np.ndarray, fs: float) -> list[float]:
    """Features of one ECG lead (see ``_ECG_NAMES``)."""
    if not np.isfinite(x).all() or np.ptp(x) == 0 or len(x) < 2 * fs:
        return [float("nan")] * len(_ECG_NAMES)
    peaks = detect_r_peaks(x, fs)[0]
    y = _bandpass(x, fs, 1.0, 40.0)
    feats = rr_features(peaks, fs)
    half = int(0.1 * fs)
    width = float("nan")
    inner = peaks[(peaks >= half) & (peaks + half < len(y))]
    if len(inner) >= 3:
        beat = np.median(y[inner[:, None] + np.arange(-half, half)], axis=0)
        beat = np.abs(beat - np.median(beat))
        width = float((beat >= 0.5 * beat.max()).sum() / fs)
    corr = template_correlation(y, peaks, int(0.2 * fs), int(0.4 * fs)) if len(peaks) else 0.0
    spec = np.abs(np.fft.rfft(x - x.mean())) ** 2
    f = np.fft.rfftfreq(len(x), 1.0 / fs)
    hf = float(spec[f > 40].sum() / (spec[(f > 0.5)].sum() + 1e-12))
    return [*feats, width, corr, _amp_cv(y, peaks), hf, _sqi(ecg_quality, x, fs)]


def pulse_features(x: np.ndarray, fs: float) -> list[float]:
    """Features of one pulsatile wave, PPG or ABP (see ``_PULSE_NAMES``)."""
    if not np.isfinite(x).all() or np.ptp(x) == 0 or len(x) < 2 * fs:
        return [float("nan")] * len(_PULSE_NAMES)
    y = _bandpass(x, fs, 0.5, 5.0)
    prom = 0.3 * (np.percentile(y, 95) - np.percentile(y, 5))
    peaks, _ = find_peaks(y, distance=max(1, int(0.3 * fs)), prominence=max(prom, 1e-12))
    corr = template_correlation(y, peaks, int(0.25 * fs), int(0.45 * fs)) if len(peaks) else 0.0
    return [*rr_features(peaks, fs), corr, _amp_cv(y, peaks), _sqi(ppg_quality, x, fs)]


def signal_features(signals: dict[str, np.ndarray], fs: dict[str, float]) -> np.ndarray:
    """The feature vector (``feature_names()`` order) of one window given by canonical channel.

    ECG slot 1 is lead II when present, else the first ECG lead; slot 2 the next ECG lead.
    """
    leads = sorted((c for c in signals if is_ecg(c)), key=lambda c: (c != "ecg_ii", c))
    e1 = ecg_features(signals[leads[0]], fs[leads[0]]) if leads else [np.nan] * len(_ECG_NAMES)
    e2 = ecg_features(signals[leads[1]], fs[leads[1]]) if len(leads) > 1 else [np.nan] * len(
        _ECG_NAMES
    )
    p = pulse_features(signals["ppg"], fs["ppg"]) if "ppg" in signals else [np.nan] * len(
        _PULSE_NAMES
    )
    a = pulse_features(signals["abp"], fs["abp"]) if "abp" in signals else [np.nan] * len(
        _PULSE_NAMES
    )
    hr1, hr2, hrp, hra = e1[0], e2[0], p[0], a[0]
    ecg_hr = np.nanmedian([hr1, hr2]) if np.isfinite([hr1, hr2]).any() else np.nan
    pulse_max = np.nanmax([p[1], a[1]]) if np.isfinite([p[1], a[1]]).any() else np.nan
    ecg_max = np.nanmax([e1[1], e2[1]]) if np.isfinite([e1[1], e2[1]]).any() else np.nan
    agree = [abs(hr1 - hr2), abs(ecg_hr - hrp), abs(ecg_hr - hra), ecg_max - pulse_max]
    return np.array([*e1, *e2, *p, *a, *agree, float(len(leads))], dtype=np.float32)


def window_features(x: np.ndarray, mask: np.ndarray | None, fs: float) -> np.ndarray:
    """Features ``[N, F]`` of model-input windows ``[N, C, T]`` (channels ``MODEL_CHANNELS``)."""
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[1] != len(MODEL_CHANNELS):
        raise ValueError(f"x must be [N, {len(MODEL_CHANNELS)}, T], got shape {x.shape}")
    mask = np.ones(x.shape[:2], dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    rows = []
    for xi, mi in zip(x, mask, strict=True):
        sig = {c: xi[k].astype(np.float64) for k, c in enumerate(MODEL_CHANNELS) if mi[k]}
        rows.append(signal_features(sig, dict.fromkeys(sig, fs)))
    return np.stack(rows) if rows else np.zeros((0, len(feature_names())), dtype=np.float32)
