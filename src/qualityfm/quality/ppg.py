"""PPG quality: a mean of documented terms in [0, 1], each a published or physical index.

Terms (formulas and references in docs/quality.md):
``snr``        in-band SNR, power 0.5-5 Hz over 5-25 Hz, in dB through a logistic;
``band``       fraction of the power above DC that lies in 0.5-5 Hz;
``skew``       skewness SQI of the 0.5-8 Hz pulse wave (Elgendi 2016), mapped linearly;
``template``   mean correlation of each pulse with the window's median pulse (Li & Clifford 2012);
``perfusion``  perfusion index AC/DC of the raw signal, on a log scale, times ``template`` (an
               amplitude is perfusion only when it is pulsatile); only where DC is meaningful
               (the signal is positive and AC/DC is physiological), else left out.
Flat and non-finite windows score 0; flat stretches, filled gaps and stretches without a
pulse cost their share, and a clipped share past ``max_clip`` costs up to all of the score
at twice it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

from qualityfm._numbers import is_int, is_number
from qualityfm.quality._common import (
    as_windows,
    band_bins,
    band_filtered,
    beatless_stretches,
    finite_rows,
    flat_fraction,
    lost_share,
    median,
    mirrored_spectrum,
    template_correlation,
)
from qualityfm.signal.extremes import clip_factor, measured_clip

PPG_TERMS = ("snr", "band", "skew", "template", "perfusion")


@dataclass(frozen=True)
class PPGSettings:
    """Settings of the PPG score; the defaults are the documented ones."""

    pulse_band: tuple[float, float] = (0.5, 5.0)  # Hz, cardiac band
    noise_band: tuple[float, float] = (5.0, 25.0)  # Hz
    snr_mid_db: float = 10.0  # logistic centre of the in-band SNR
    snr_scale_db: float = 2.5  # logistic scale
    skew_zero: float = -0.2  # skewness mapped to 0 ...
    skew_one: float = 0.5  # ... and to 1
    pi_zero: float = 0.1  # perfusion index (%) mapped to 0 ...
    pi_one: float = 1.0  # ... and to 1 (log scale between)
    pi_max_physiological: float = 30.0  # AC/DC above this (%) means DC is not a DC level
    max_clip: float = 0.05  # clipped share costing nothing; the score falls to 0 at twice it
    band_one: float = 0.7  # in-band power fraction mapped to 1 (0 maps to 0)
    min_pulses: int = 5  # fewer detected pulses -> template term 0
    pulse_rate: tuple[float, float] = (30.0, 220.0)  # bpm; median pulse rate outside -> template 0
    max_interval_change: float = 0.4  # a pulse interval within 40 % of the median is regular
    corr_zero: float = 0.5  # mean pulse correlation mapped to 0 (1.0 maps to 1)
    max_flat: float = 1.0  # the score is multiplied by (1 - flat fraction / max_flat), floored at 0
    weights: tuple[tuple[str, float], ...] = (
        ("snr", 1.0), ("band", 1.0), ("skew", 0.5), ("template", 2.0), ("perfusion", 1.0),
    )

    def __post_init__(self) -> None:
        """Refuse settings that give no score (as RRRules does): a corr_zero of 1 had divided
        by zero, a max_flat of 0 scored NaN, a weight of an unknown term raised a KeyError,
        a band given high to low scored on nothing, without a word."""
        def fault(name: str, need: str) -> ValueError:
            return ValueError(f"PPGSettings {name} must be {need}, got {getattr(self, name)!r}")

        def pairs(value: object) -> tuple | None:
            """``value`` as a tuple of its items (lists and arrays too: settings read from
            JSON), or None where it is no sequence."""
            try:
                return tuple(value)  # type: ignore[call-overload]
            except TypeError:
                return None

        for name in ("pulse_band", "noise_band", "pulse_rate"):
            pair = pairs(getattr(self, name))
            if not (pair is not None and len(pair) == 2 and all(map(is_number, pair))
                    and 0 <= pair[0] < pair[1]):
                raise fault(name, "two numbers, low < high")
            object.__setattr__(self, name, tuple(float(v) for v in pair))  # (frozen)
        weights = pairs(self.weights)
        weights = None if weights is None else tuple(pairs(w) for w in weights)
        pairs_need = f"(term, weight >= 0) pairs of distinct terms of {PPG_TERMS}, one > 0"
        if weights is None or not all(w is not None and len(w) == 2 for w in weights):
            raise fault("weights", pairs_need)
        object.__setattr__(self, "weights", weights)
        for name in ("snr_scale_db", "pi_zero", "pi_max_physiological", "band_one",
                     "max_interval_change", "max_flat"):
            if not (is_number(getattr(self, name)) and getattr(self, name) > 0):
                raise fault(name, "a positive number")
        for name in ("snr_mid_db", "skew_zero", "skew_one", "pi_one", "corr_zero", "max_clip"):
            if not is_number(getattr(self, name)):
                raise fault(name, "a finite number")
        for low, high in (("skew_zero", "skew_one"), ("pi_zero", "pi_one")):
            if not getattr(self, low) < getattr(self, high):
                raise fault(low, f"below {high} ({getattr(self, high)!r})")
        for name, ok, need in (("corr_zero", self.corr_zero < 1, "below 1"),
                               ("max_clip", self.max_clip >= 0, ">= 0"),
                               ("band_one", self.band_one <= 1, "at most 1")):
            if not ok:
                raise fault(name, need)
        if not (is_int(self.min_pulses) and self.min_pulses >= 2):
            raise fault("min_pulses", "a whole number >= 2")
        names = [w[0] for w in self.weights]
        if (len(set(names)) != len(names) or not set(names) <= set(PPG_TERMS)
                or not all(is_number(w[1]) and w[1] >= 0 for w in self.weights)
                or not any(w[1] > 0 for w in self.weights)):
            raise fault("weights", pairs_need)


def _band_power(power: np.ndarray, n: int, fs: float, band: tuple[float, float]) -> np.ndarray:
    """Power of each row in ``[band)`` Hz, ``power`` the squared ``rfft`` of ``n`` samples."""
    return power[:, band_bins(power.shape[1], n, fs, *band)].sum(axis=1)


def drop_dicrotic(y: np.ndarray, peaks: np.ndarray, ratio: float = 0.5, tol: float = 1.3,
                  share: float = 0.25) -> np.ndarray:
    """``peaks`` of the pulse wave ``y`` less those that are dicrotic waves, not pulses.

    A peak's rise is its height above the lowest point between it and the peak before it (the
    first peak's: above the lowest point before it). A dicrotic wave rises from the notch on
    its pulse's downslope, so much less than the pulses on either side rise from their feet:
    an inner peak that rises less than ``ratio`` times both its neighbours' rises is a
    candidate (two adjacent peaks cannot both be). A candidate is dropped only where the
    interval it splits, from the peak before it to the one after, is at most ``tol`` times the
    median interval of the peaks that are not candidates: a typical pulse interval, as where
    every pulse has its dicrotic wave (they had doubled the rate: v132s's PPG read 140-175
    bpm against an ECG at 76). A small true pulse whose removal would leave a gap (a weak
    beat in a run of normal ones) stays. And candidates are dropped only when they follow at
    least ``share`` of the other peaks: a dicrotic wave shows after many pulses, while one or
    two small peaks in a noisy or irregular window are as likely weak pulses (dropping such
    single peaks had moved the median interval of 7 VT-alarm windows away from the ECG's).
    Pulses of like size (tachycardia) have no candidate; a pulse wave whose every other pulse
    rises under half as much as its neighbours (strong pulsus alternans) reads at half its
    rate.
    """
    peaks = np.asarray(peaks)
    if len(peaks) < 3:
        return peaks
    trough = np.minimum.reduceat(y, peaks)[:-1]  # lowest point between each peak and the next
    rise = np.concatenate(([y[peaks[0]] - y[: peaks[0] + 1].min()], y[peaks[1:]] - trough))
    small = np.zeros(len(peaks), dtype=bool)
    small[1:-1] = rise[1:-1] < ratio * np.minimum(rise[:-2], rise[2:])
    kept = peaks[~small]
    if not small.any() or len(kept) < 2:
        return peaks
    split = np.zeros(len(peaks))
    split[1:-1] = peaks[2:] - peaks[:-2]
    small &= split <= tol * median(np.diff(kept))
    if small.sum() < share * (len(peaks) - small.sum()):
        return peaks
    return peaks[~small]


def pulse_peaks(y: np.ndarray, fs: float, min_interval: float = 0.3) -> np.ndarray:
    """Systolic peaks of one band-passed pulse wave ``y`` (prominence >= 0.85 of its standard
    deviation, about 30 % of a pulse wave's 5th-95th percentile span), less dicrotic waves
    (:func:`drop_dicrotic`), ``min_interval`` s apart at least, to the nearest sample, a half
    up (cut down, 0.288 s at 62.5 Hz had let a 200-bpm pulse score 0.94 against 0.69 at
    250 Hz; rounded up, 0.3125 s at 64 Hz cost 188-195 bpm; a half to even, 75 Hz's 22.5
    samples had been 22, 0.293 s)."""
    distance = max(1, int(np.floor(min_interval * fs + 0.5)))
    peaks, _ = find_peaks(y, distance=distance, prominence=max(0.85 * y.std(), 1e-12))
    return drop_dicrotic(y, peaks)


#: Mean correlation with their median pulse (:func:`~qualityfm.quality._common.
#: template_correlation`) at which the pulses found within a stretch against its own spread
#: are pulses, not noise: of the 696 stretches without a pulse in the real windows (session
#: 51), 521 hold under 3 such peaks, 116 peaks alike under 0.8, 25 at 0.9 or more (those
#: looked at, damped pulses beside an artefact).
ALIKE_PULSES = 0.9


def pulse_likeness(y: np.ndarray, peaks: np.ndarray, fs: float, settings: PPGSettings,
                   min_pulses: int) -> tuple[float, int] | None:
    """(mean correlation of the pulses of ``y`` at ``peaks`` with their median pulse, a median
    period long from 40 % of it before each peak; that period in samples), or None with fewer
    than ``min_pulses`` pulses or a median rate outside ``settings.pulse_rate``."""
    if len(peaks) < min_pulses:
        return None
    period = int(median(np.diff(peaks)))
    if not settings.pulse_rate[0] <= 60.0 * fs / period <= settings.pulse_rate[1]:
        return None
    before = int(0.4 * period)
    return template_correlation(y, peaks, before, period - before, min_pulses), period


def pulseless_share(y: np.ndarray, peaks: np.ndarray, fs: float,
                    settings: PPGSettings = PPGSettings()) -> float:
    """The share of a pulse wave ``y`` (one window, band-passed) in stretches without a pulse
    (:func:`~qualityfm.quality._common.beatless_stretches` of its ``peaks``, each less one
    median interval). Pulses are found against the window's spread, and an artefact 30 times
    a clean pulse had hidden 28 s of them (a score of 0.04): within a stretch whose pulses,
    found against its own spread (:func:`pulse_peaks`), are 3 at least at a rate of
    ``settings.pulse_rate`` and alike (:data:`ALIKE_PULSES`), only the stretches without one
    of those count."""
    stretches, period = beatless_stretches(peaks, len(y), fs)
    lost = 0.0
    for a, e in stretches:
        found = pulse_peaks(y[a:e], fs)
        alike = pulse_likeness(y[a:e], found, fs, settings, 3)
        if alike is not None and alike[0] >= ALIKE_PULSES:  # (the whole stretch had gone:
            inner, own_period = beatless_stretches(found, e - a, fs)  # 14 s off after them)
            lost += sum(e2 - a2 - own_period for a2, e2 in inner)
        else:
            lost += e - a - period
    return float(np.clip(lost / len(y), 0.0, 1.0))


def ppg_terms(
    x: np.ndarray, fs: float, settings: PPGSettings = PPGSettings(), *,
    clip: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Each PPG term in [0, 1] for each window of ``x`` ``[N, T]`` (``perfusion`` NaN where DC is
    not meaningful), ``flat`` (fraction of flat 0.5-s stretches), ``pulseless`` (the share in
    stretches without a pulse, :func:`pulseless_share`),
    ``unclipped`` (the factor of its clipped share,
    :func:`~qualityfm.signal.extremes.clip_factor`) and ``usable`` (1.0 for finite,
    non-constant windows clipped less than twice ``max_clip``, else 0.0). ``clip``: each
    window's clipped share measured on the record's own samples, as for
    :func:`ecg_quality`."""
    x, _ = as_windows(x, fs)
    ok, x = finite_rows(x)
    s = settings
    n, t = x.shape
    ok &= np.ptp(x, axis=1) > 0
    unclipped = clip_factor(measured_clip(x, clip), s.max_clip)
    ok &= unclipped > 0

    spec = mirrored_spectrum(x)
    power = spec * spec
    power[:, 0] = 0.0
    p_pulse = _band_power(power, 2 * t, fs, s.pulse_band)
    p_noise = _band_power(power, 2 * t, fs, s.noise_band)
    p_total = power.sum(axis=1)
    tiny = 1e-30
    snr_db = 10.0 * np.log10((p_pulse + tiny) / (p_noise + tiny))
    snr = 1.0 / (1.0 + np.exp(-(snr_db - s.snr_mid_db) / s.snr_scale_db))
    band = np.clip(p_pulse / np.maximum(p_total, tiny) / s.band_one, 0.0, 1.0)

    y = band_filtered(spec, t, fs, 0.5, 8.0)
    yc = y - y.mean(axis=1, keepdims=True)
    sd = yc.std(axis=1)
    skewness = np.divide((yc * yc * yc).mean(axis=1), sd**3, out=np.zeros(n), where=sd > 0)
    skew = np.clip((skewness - s.skew_zero) / (s.skew_one - s.skew_zero), 0.0, 1.0)

    template = np.zeros(n)
    pulseless = np.zeros(n)
    for i in np.flatnonzero(ok):
        peaks = pulse_peaks(y[i], fs)
        pulseless[i] = pulseless_share(y[i], peaks, fs, s)
        alike = pulse_likeness(y[i], peaks, fs, s, s.min_pulses)
        if alike is None:
            continue
        corr, period = alike
        intervals = np.diff(peaks)
        # Coverage: the share of the window spanned by pulse intervals close to the median one.
        regular = np.abs(intervals - period) <= s.max_interval_change * period
        coverage = intervals[regular].sum() / t
        corr = np.clip((corr - s.corr_zero) / (1.0 - s.corr_zero), 0.0, 1.0)
        template[i] = corr * min(1.0, coverage / 0.9)

    # Perfusion index of the raw signal: AC (2 sqrt(2) standard deviations of the pulse wave,
    # a sine's peak-to-peak) / DC.
    dc = x.mean(axis=1)
    ac = 2.0 * np.sqrt(2.0) * sd  # peak-to-peak of a sine of standard deviation sd
    pi_pct = 100.0 * np.divide(ac, dc, out=np.full(n, np.inf), where=dc > 0)
    meaningful = (x.min(axis=1) > 0) & (pi_pct <= s.pi_max_physiological)
    log_pi = np.log10(np.maximum(pi_pct, 1e-9) / s.pi_zero) / np.log10(s.pi_one / s.pi_zero)
    pi_term = np.clip(log_pi, 0.0, 1.0)
    # Amplitude is perfusion only when it is pulsatile: weight the PI term by the template term.
    perfusion = np.where(meaningful, pi_term * template, np.nan)

    terms = {"snr": snr, "band": band, "skew": skew, "template": template, "perfusion": perfusion}
    out = {k: np.where(ok, v, 0.0 if k != "perfusion" else np.nan) for k, v in terms.items()}
    out["flat"] = flat_fraction(x, fs)
    out["pulseless"] = pulseless
    out["unclipped"] = np.where(ok, unclipped, 0.0)
    out["usable"] = ok.astype(np.float64)
    return out


def ppg_quality(x: np.ndarray, fs: float, settings: PPGSettings = PPGSettings(), *,
                clip: np.ndarray | None = None, filled: np.ndarray | None = None
                ) -> np.ndarray:
    """Quality in [0, 1] of each PPG window of ``x`` (``[N, T]`` or ``[T]``) at ``fs`` Hz.

    The weighted mean of :func:`ppg_terms` over the terms available for the window (perfusion is
    left out where the DC level is not meaningful), times its ``unclipped`` factor and one less
    the largest of its flat share, its share ``filled`` (``[N]``: samples that were missing
    and filled, ``Windows.filled``) and its share without a pulse; 0 for unusable windows
    (``clip``: see :func:`ppg_terms`).
    """
    single = np.asarray(x).ndim == 1
    terms = ppg_terms(x, fs, settings, clip=clip)
    # a sensor off showing a little noise is no flat stretch: no pulse for seconds is lost too
    lost = np.maximum(lost_share(terms["flat"], filled), terms["pulseless"])
    num = np.zeros_like(terms["usable"])
    den = np.zeros_like(num)
    for name, w in settings.weights:
        v = terms[name]
        have = np.isfinite(v)
        num += np.where(have, w * v, 0.0)
        den += np.where(have, w, 0.0)
    q = np.where(terms["usable"] > 0, num / np.maximum(den, 1e-12), 0.0)
    q *= np.clip(1.0 - lost / settings.max_flat, 0.0, 1.0) * terms["unclipped"]
    return float(q[0]) if single else q
