"""Classical features of a window (the clinical baseline's, and the physiology targets of
pre-training): rates from every ECG lead and from every pulse
wave, their agreement, QRS width and morphology, spectral signs of ventricular rhythm, noise,
per-channel signal quality, and RR irregularity and P-wave signs for AF.

For the AF columns (:func:`af_rr_features`) :func:`refine_r_peaks` drops the T waves and echoes
the quality layer's detector took for beats (a hand-held ECG often has tall T waves), and they
measure irregularity on the clean beats only and over sliding stretches of 10 intervals, so
that a burst of noise does not read as an irregular rhythm; patterns of the RR series and
P-wave presence tell AF from ectopy and other irregular rhythms. ``af_columns()`` lists them.

``signal_features(signals, fs)`` works on any set of canonical channels (missing ones give NaN,
which gradient boosting handles natively); ``window_features(X, mask, fs)`` does the same for
model-input arrays ``[N, C, T]`` in ``MODEL_CHANNELS`` order.

The features expect unfiltered signals: the baseline-wander and high-frequency noise ratios
measure exactly what a protocol band-pass removes (a motion artifact, the usual cause of a
false VT alarm, lives below 0.7 Hz and above 40 Hz).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np
from scipy.signal import find_peaks

from qualityfm._numbers import is_number
from qualityfm.io import MODEL_CHANNELS, ecg_leads
from qualityfm.io.channels import lead_of, refuse_monitor_labels
from qualityfm.quality._common import (
    band_filtered,
    column_median,
    mirrored_spectrum,
    template_correlation,
)
from qualityfm.quality.ecg import ecg_quality
from qualityfm.quality.peaks import detect_r_peaks, qrs_envelope
from qualityfm.quality.ppg import drop_dicrotic, ppg_quality
from qualityfm.signal.extremes import clip_fraction

NAN = float("nan")
#: Version of the feature code, raised when a window's features change for the same samples
#: (a beat detector's rule, a column's formula). A store's ``features.json`` and the task
#: cache's key hold it, so that features of older code are computed again, not read.
FEATURES_VERSION = 24  # 2: the dRR scatter's central bin is centred on 0; 3: filters and
# spectra of the window mirrored, not end-detrended (quality._common.mirrored_spectrum);
# 4: lead_match pairs beats one to one; 5: the median beat's samples smoothed by a centred
# (odd) box, P-wave SNRs with a floor relative to the signal (independent of the units); 6:
# the Poincare SD2 floored at one sample, the rate columns on the refined R peaks; 7: the rate
# columns on the detector's peaks again (the refined ones halved fast alternating rhythms); 8:
# pulse peaks less dicrotic waves (quality.ppg.drop_dicrotic; v132s's PPG had read 2x its ECG);
# 9: sample entropy without a match of length m + 1 is its upper bound, not NaN; COSEn's
# tolerance grows until 5 pairs match (Lake & Moorman 2011), not fixed at 30 ms; 10: the
# quality columns under the scoring rules of SCORING_VERSION 14 (the clip rule's ramp, the
# ECG beat within one RR interval); 11: the Poincare SD2 floored at a fixed 1/300 s (not one
# sample of the channel's rate); 12: pulse peaks 0.2 s apart tried from a spectral peak of
# 2.9 Hz (pulses at 196-202 bpm, in the 3.3-Hz bin, had read at half their rate); 13: the
# quality columns under SCORING_VERSION 15; 14: pulses 0.2 s apart under a 3.3-Hz peak only
# where they do not alternate in prominence (a dicrotic wave at 87-99 bpm had read 180); 15:
# the quality columns under SCORING_VERSION 16; 16: under 17; 17: a second channel of lead II
# fills slot 1 before another lead where lead II is absent, and never slot 2 beside another lead;
# 18: no R peak on a window's first or last sample, and the quality columns under
# SCORING_VERSION 18; 19: the PPG quality columns under SCORING_VERSION 19; 20: the R peaks
# of a lead at 240 Hz or more found without its pacemaker stimuli (signal.pacing), and the
# quality columns under SCORING_VERSION 20; 21: those of SCORING_VERSION 21 (a
# pair of stimuli, a biphasic one through zero); 22: the clipped share and quality columns
# with a rail found past the few samples beyond it (SCORING_VERSION 22), and spec_conc a
# share of the band its total covers (it had read up to 4.2); 23: the median beat's columns
# over its largest deflection within QRS_REACH_S of the R peak, not its value at the peak
# (a peak near the zero crossing of an R and an S wave had read columns up to -27); 24: no
# pulse peaks in a pulse wave without a pulse (pulse_present), nor the better pulse from a
# wave without a rate (v540s's PPG toggling among 6 levels had read 300 bpm and been the
# pulse)
#: Floor of the Poincare SD2 (s): a fixed time, whatever the channel's rate (the features read
#: each channel at its own), one sample at 300 Hz, so that Challenge 2017's records keep theirs.
SD2_FLOOR_S = 1.0 / 300.0
#: Rate and irregularity of a beat series (ECG R peaks or pulse peaks), see :func:`rr_features`.
RR_NAMES = ("hr", "hr_max4", "rr_cv", "rmssd", "pnn50", "sampen", "tpr", "n_beats", "cosen",
            "drr_bins", "drr_med", "max_gap")
#: Patterns of an RR series that tell ectopy and other regular-but-interrupted rhythms from AF,
#: see :func:`rr_pattern_features`.
PATTERN_NAMES = ("rr_ac1", "rr_ac2", "rr_ac_max", "sl_share", "rr_2clu_fit", "rr_2clu_ratio",
                 "srl_ent")
#: AF signs robust to noise bursts and ectopic beats, see :func:`af_rr_features`.
AF_NAMES = ("r_hr", "r_rr_cv", "r_rmssd", "r_cosen", "r_drr_bins", "good_beats", "c_rr_cv",
            "c_rmssd", "c_pnn50", "c_cosen", "c_drr_bins", "c_sd_ratio",
            "c_mode_frac", "w_rmssd_p25", "w_bins_p25", "rr_hist_ent", *PATTERN_NAMES,
            "p_snr", "p_amp", "p_snr_w")
#: Times (s from the R peak) at which :func:`beat_shape_features` samples the median beat:
#: 7 over the P region, 11 over the QRS, 12 over the ST segment and T wave.
BEAT_WAVE_TIMES = tuple(np.concatenate([np.linspace(-0.33, -0.09, 7),
                                        np.linspace(-0.08, 0.08, 11),
                                        np.linspace(0.1, 0.48, 12)]).tolist())
#: Reach (s) either side of the R peak of the QRS whose largest deflection sets the median
#: beat's unit and sign in :func:`beat_shape_features`: a detected peak 30-40 ms off R (on a
#: deeper S wave, or near the zero crossing between them) keeps R and S within it, and it
#: stops short of the P region (0.08 s before) and of the T wave.
QRS_REACH_S = 0.06
#: The columns of those samples (``beat_-330ms`` ... ``beat_+480ms``).
BEAT_WAVE_NAMES = tuple(f"beat_{round(t * 1000):+d}ms" for t in BEAT_WAVE_TIMES)
#: Ectopy and the median beat's intervals, waves and sampled shape, see
#: :func:`beat_shape_features`.
BEAT_NAMES = ("ect_rate", "short_frac", "long_frac", "outlier_frac", "pr_int", "p_peak_amp",
              "t_amp", "st_level", "qrs_amp_rel", *BEAT_WAVE_NAMES)
#: Per ECG lead, see :func:`ecg_features`.
ECG_NAMES = (*RR_NAMES, "qrs_width", "morph_corr", "amp_cv", "hf_ratio", "lf_ratio", "vt_band",
             "dom_freq", "spec_conc", "kurtosis", "clip", "sqi", "p_corr", "tq_af", *AF_NAMES,
             *BEAT_NAMES)
#: Per pulse wave (PPG, ABP), see :func:`pulse_features`.
PULSE_NAMES = (*RR_NAMES, "morph_corr", "amp_cv", "sqi", "spec_conc", "end_amp")
#: Columns of the better pulse channel (of those with a pulse rate, the one whose beats agree
#: best with their median beat).
_BEST_PULSE = ("hr", "rr_cv", "rmssd", "max_gap", "drr_bins", "morph_corr", "amp_cv", "sqi",
               "spec_conc", "end_amp")
_CROSS = ("ecg_hr_max", "ecg_hrmax4_max", "ecg_sqi_max", "ecg_width_max", "ecg_vt_band_max",
          "lead_match", "d_hr_ecg1_ecg2", "d_hr_ecg_ppg", "d_hr_ecg_abp", "d_hrmax_ecg_pulse",
          "pulse_sqi_max", "pulse_end_amp_max", "n_leads")


def feature_names() -> list[str]:
    """Names of the columns of :func:`signal_features`, in order."""
    names = [f"ecg1_{n}" for n in ECG_NAMES] + [f"ecg2_{n}" for n in ECG_NAMES]
    names += [f"ppg_{n}" for n in PULSE_NAMES] + [f"abp_{n}" for n in PULSE_NAMES]
    return names + list(_CROSS) + [f"pulse_{n}" for n in _BEST_PULSE]


def ecg_columns(names: Collection[str]) -> np.ndarray:
    """Indices in :func:`feature_names` of the per-lead columns ``names`` of both ECG slots."""
    return np.array([i for i, n in enumerate(feature_names())
                     if n.startswith(("ecg1_", "ecg2_")) and n[5:] in names], dtype=int)


def af_columns() -> np.ndarray:
    """Indices in :func:`feature_names` of the rhythm columns for long recordings
    (``AF_NAMES`` and ``BEAT_NAMES`` of both ECG slots)."""
    return ecg_columns({*AF_NAMES, *BEAT_NAMES})


def _bandpass(x: np.ndarray, fs: float, low: float | None, high: float | None) -> np.ndarray:
    """Zero-phase band-pass by FFT (the quality layer's filter)."""
    x = np.asarray(x, dtype=np.float64)[None]
    return band_filtered(mirrored_spectrum(x), x.shape[1], fs, low, high)[0]


def _match_counts(x: np.ndarray, m: int, tol: float) -> tuple[int, int]:
    """Template matches (Chebyshev distance <= tol, self-matches excluded) of length m and m+1."""

    n = len(x) - m  # templates of both lengths start at the same n points
    d = np.abs(x[:n, None] - x[None, :n])  # the distance of length k, built up element by element
    for k in range(1, m):
        np.maximum(d, np.abs(x[k:k + n, None] - x[None, k:k + n]), out=d)
    short = int((d <= tol).sum() - n)
    np.maximum(d, np.abs(x[m:m + n, None] - x[None, m:m + n]), out=d)
    return short, int((d <= tol).sum() - n)


def sample_entropy(x: np.ndarray, m: int = 2, r: float = 0.2) -> float:
    """Sample entropy of a short series (tolerance ``r`` times its SD), -ln(A / B) with A and
    B the template matches of length m + 1 and m (Richman & Moorman, Am J Physiol Heart Circ
    Physiol 2000;278:H2039). Without any match of length m + 1 the estimate is infinite (or
    0/0 when none of length m either): it is reported as the largest value that N points can
    give, ln((N - m)(N - m - 1) / 2), the bound of that paper (a conditional probability
    under 2 / ((N - m)(N - m - 1)) reads as 0). A 10-s window holds 10-25 intervals, and
    in a third of the ICU alarm windows' ECG (half to two thirds of their pulse waves) no
    such match was found: NaN there had read, after imputation, as a typical entropy when
    the series was among the most irregular. NaN under m + 2 points, with NaN or inf, for a
    constant series, and without a match from m + 2 points (one pair of templates: a bound
    of 0 says nothing)."""
    x = np.asarray(x, dtype=float)
    if len(x) < m + 2 or not np.isfinite(x).all() or np.std(x) == 0:
        return NAN
    b, a = _match_counts(x, m, r * np.std(x))
    if a == 0:
        n = len(x) - m  # templates compared: the bound is ln of their pairs
        return float(np.log(n * (n - 1) / 2)) if n > 2 else NAN
    return float(-np.log(a / b))


def cosen(rr: np.ndarray, tol: float = 0.03, step: float = 0.001, min_matches: int = 5) -> float:
    """Coefficient of sample entropy of RR intervals in s (Lake & Moorman, Am J Physiol Heart
    Circ Physiol 2011;300:H319): SampEn with m = 1, its tolerance r grown from ``tol`` (30 ms)
    by ``step`` (1 ms) until at least ``min_matches`` pairs of templates of length 2 match
    (their minimum numerator count, so that a short series still gives a confident
    estimate), plus ln(2 r) - ln(mean RR). NaN under 5 intervals (under 5 pairs of
    templates) or with NaN or inf. With the tolerance fixed at 30 ms, a series without a
    match had been NaN and one without a match of length 2 floored at half a match."""
    rr = np.asarray(rr, dtype=float)
    if len(rr) < 5 or not np.isfinite(rr).all():
        return NAN
    n = len(rr) - 1  # templates of length 1 and 2, as in _match_counts
    d = np.maximum(np.abs(rr[:n, None] - rr[None, :n]), np.abs(rr[1:, None] - rr[None, 1:]))
    need = np.sort(d[np.triu_indices(n, 1)])[min_matches - 1]  # A >= min_matches from here
    k = max(0, int(np.ceil((need - tol) / step - 1e-6)))  # the grid's first r = tol + k step
    r = tol + k * step if tol + k * step >= need else tol + (k + 1) * step  # at or above it
    b, a = _match_counts(rr, 1, r)  # ordered pairs: each pair counted twice
    return float(-np.log(a / b) + np.log(2 * r) - np.log(np.mean(rr)))


def _drr_bins(drr: np.ndarray) -> float:
    """Occupied 40-ms bins of the (dRR_i, dRR_i+1) scatter per point (Sarkar et al. 2008), the
    central bin -20..20 ms (with a bin edge at 0, a regular rhythm's jitter of a few ms had
    filled four bins, as many as a rhythm changing by 40 ms a beat)."""
    return float(_drr_bins_windows(drr, len(drr))[0])


def _drr_bins_windows(drr: np.ndarray, width: int) -> np.ndarray:
    """:func:`_drr_bins` of every ``width`` successive values of ``drr`` (sliding by one), at
    once: each (bin, next bin) pair as one code, the distinct codes of each window counted."""
    if width < 2:
        raise ValueError(f"the dRR bins need windows of 2 values or more, got {width}")
    q = np.floor((np.clip(drr, -0.6, 0.6) + 0.02) / 0.04).astype(np.int64) + 64  # 49..79
    code = q[:-1] * 256 + q[1:]
    w = np.sort(np.lib.stride_tricks.sliding_window_view(code, width - 1), axis=1)
    return (1 + (np.diff(w, axis=1) != 0).sum(axis=1)) / (width - 1)


def rr_features(peaks: np.ndarray, fs: float, n_samples: int = 0,
                entropy: bool = True) -> list[float]:
    """Rate and irregularity of a beat series (``RR_NAMES``): median HR, fastest 4-beat HR,
    RR CV, RMSSD / median RR, pNN50, sample entropy (NaN with ``entropy=False``: the costliest
    column, for callers that do not read it), turning-point ratio, beat count, COSEn,
    occupied 40-ms bins of the successive-difference (dRR) scatter per point (Sarkar et al.
    2008), median |dRR| / median RR, and the longest stretch without a beat (s; needs the
    window length ``n_samples``)."""
    n = len(peaks)
    edges = np.concatenate(([0], peaks, [n_samples])) if n_samples else None
    gap = float(np.diff(edges).max() / fs) if edges is not None else NAN
    if n < 3:
        out = [NAN] * len(RR_NAMES)
        out[RR_NAMES.index("n_beats")], out[-1] = float(n), gap
        return out
    rr = np.diff(peaks) / fs
    drr = np.diff(rr)
    mrr = float(np.median(rr))
    # the median interval's rate: robust to missed and extra beats (a trimmed mean, tried in
    # session 42, was not on few beats: 75 bpm with one beat missed of four read 56), at the
    # cost of a bigeminy's rate, which jumps between its two intervals as the window moves
    # (docs/quality.md, scripts/feature_rate_checks.py)
    hr = 60.0 / mrr
    hr_max4 = 60.0 / np.convolve(rr, np.ones(4) / 4, mode="valid").min() if len(rr) >= 4 else hr
    tp = float(np.mean((drr[:-1] * drr[1:]) < 0)) if len(drr) >= 2 else NAN
    bins = _drr_bins(drr) if len(drr) >= 3 else NAN
    has_d = len(drr) > 0
    return [
        float(hr), float(hr_max4), float(np.std(rr) / np.mean(rr)),
        float(np.sqrt(np.mean(drr**2)) / mrr) if has_d else NAN,
        float(np.mean(np.abs(drr) > 0.05)) if has_d else NAN,
        sample_entropy(rr) if entropy else NAN, tp, float(n), cosen(rr), float(bins),
        float(np.median(np.abs(drr)) / mrr) if has_d else NAN, gap,
    ]


def refine_r_peaks(x: np.ndarray, fs: float, peaks: np.ndarray, window: float = 0.36,
                   ratio: float = 0.5) -> np.ndarray:
    """Drop detections that are T waves or echoes of a beat: of two detections closer than
    ``window`` s, the one whose QRS envelope is under ``ratio`` times the other's (the
    Pan-Tompkins T-wave rule; two beats of a fast rhythm have like envelopes and both stay)."""
    peaks = np.asarray(peaks, dtype=np.int64)
    if len(peaks) < 2:
        return peaks
    env = qrs_envelope(np.asarray(x, dtype=np.float64)[None], fs)[2][0]
    keep, amp = [int(peaks[0])], [float(env[peaks[0]])]
    for p in peaks[1:]:
        a = float(env[p])
        if p - keep[-1] < window * fs:
            if a < ratio * amp[-1]:
                continue
            if amp[-1] < ratio * a:
                keep[-1], amp[-1] = int(p), a
                continue
        keep.append(int(p))
        amp.append(a)
    return np.array(keep, dtype=np.int64)


def beat_correlations(y: np.ndarray, peaks: np.ndarray, fs: float) -> np.ndarray:
    """Pearson correlation of each beat's QRS (R +- 0.1 s of ``y``) with the median QRS; NaN for
    beats too near an end, all NaN under 3 whole beats."""
    h = int(0.1 * fs)
    c = np.full(len(peaks), NAN)
    ok = (peaks >= h) & (peaks + h <= len(y))
    if ok.sum() < 3:
        return c
    seg = y[peaks[ok][:, None] + np.arange(-h, h)]
    seg = seg - seg.mean(axis=1, keepdims=True)
    tmpl = column_median(seg)
    tmpl = tmpl - tmpl.mean()
    den = np.sqrt((seg * seg).sum(axis=1) * (tmpl @ tmpl))
    c[ok] = np.divide(seg @ tmpl, den, out=np.zeros(len(seg)), where=den > 0)
    return c


def _entropy(counts: np.ndarray) -> float:
    """Shannon entropy (nats) of a histogram's counts."""
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def af_rr_features(y: np.ndarray, peaks: np.ndarray, fs: float, good: float = 0.8,
                   width: int = 10) -> list[float]:
    """AF signs (``AF_NAMES``) that a noise burst or an ectopic beat does not fake, from R peaks
    ``peaks`` refined by :func:`refine_r_peaks`: rate, RR CV, RMSSD, COSEn and dRR bins of
    :func:`rr_features` on them (``r_*``), and the following.

    Clean intervals join two beats whose QRS correlates >= ``good`` with the median QRS (noise
    and ectopic beats do not; AF keeps its QRS): over them the RR CV, RMSSD / median RR, pNN50,
    COSEn, dRR-scatter bins, the Poincare SD1/SD2 ratio, and the share of intervals within 10 %
    of the median (high for a regular rhythm with a few ectopics, low in AF). Over all
    intervals: the 25th percentile, over sliding stretches of ``width`` successive differences,
    of their normalised RMS and of their dRR-scatter bins (AF is irregular in every stretch),
    and the Shannon entropy of the normalised-RR histogram (0.05 bins); the rhythm patterns of
    :func:`rr_pattern_features` (from 8 beats), which tell the "other rhythms" that are
    irregular in a repeating way from AF; and P-wave presence over the clean beats
    (:func:`p_wave_snr`). ``good_beats`` is the share of clean beats. NaN where too few
    beats."""
    out = dict.fromkeys(AF_NAMES, NAN)
    if len(peaks) < 5:
        return list(out.values())
    rrf = dict(zip(RR_NAMES, rr_features(peaks, fs, entropy=False), strict=True))
    out.update({f"r_{n}": rrf[n] for n in ("hr", "rr_cv", "rmssd", "cosen", "drr_bins")})
    ok_beat = beat_correlations(y, peaks, fs) >= good
    out["good_beats"] = float(np.mean(ok_beat))
    rr = np.diff(peaks) / fs
    ok_rr = ok_beat[:-1] & ok_beat[1:]
    pair = ok_rr[:-1] & ok_rr[1:]  # consecutive clean intervals (a, b)
    r, d = rr[ok_rr], np.diff(rr)[pair]
    if len(r) >= 5 and len(d) >= 3:
        m = float(np.median(r))
        # Poincare SD1, SD2 on the same pairs (SD2 from 2 var(r) - SD1^2 over other intervals
        # had gone negative, floored: c_sd_ratio 1.9e5 in v242s)
        sd1 = np.std(d) / np.sqrt(2)
        # (floored at a fixed time: a regular bigeminy's sums are constant, SD2 0, and the
        # ratio had read 2.8e5; floored at one sample of the channel's own rate it had grown
        # with that rate, 39.8 at 125 Hz, 159 at 500, for one rhythm)
        sd2 = max(float(np.std((rr[:-1] + rr[1:])[pair]) / np.sqrt(2)), SD2_FLOOR_S)
        out.update(c_rr_cv=float(np.std(r) / np.mean(r)), c_rmssd=float(np.sqrt(np.mean(d**2)) / m),
                   c_pnn50=float(np.mean(np.abs(d) > 0.05)), c_cosen=cosen(r),
                   c_drr_bins=_drr_bins(d), c_sd_ratio=float(sd1 / sd2),
                   c_mode_frac=float(np.mean(np.abs(r - m) <= 0.1 * m)))
    rrn = rr / np.median(rr)
    dd = np.diff(rrn)
    if len(dd) >= width:
        win = np.lib.stride_tricks.sliding_window_view(dd, width)
        out["w_rmssd_p25"] = float(np.percentile(np.sqrt(np.mean(win**2, axis=1)), 25))
        out["w_bins_p25"] = float(np.percentile(_drr_bins_windows(dd, width), 25))
    # 28 bins of 0.05 whose last edge is 1.8 itself (arange's was 1.7999..., which dropped
    # the intervals clipped to 1.8: pauses read as a regular rhythm)
    h = np.histogram(np.clip(rrn, 0.4, 1.8), bins=np.linspace(0.4, 1.8, 29))[0]
    out["rr_hist_ent"] = _entropy(h)
    if len(rr) >= 7:
        out.update(zip(PATTERN_NAMES, rr_pattern_features(rr), strict=True))
    out.update(zip(("p_snr", "p_amp", "p_snr_w"), p_wave_snr(y, peaks[ok_beat], fs), strict=True))
    return list(out.values())


def rr_pattern_features(rr: np.ndarray, short: float = 0.85, long: float = 1.15,
                        fit: float = 0.06) -> list[float]:
    """Patterns of RR intervals ``rr`` (s) that tell ectopy, bigeminy or block, whose
    irregularity repeats, from AF, whose irregularity is random (``PATTERN_NAMES``):

    - autocorrelation at lags 1 and 2, and the largest of lags 1-3 in absolute value (AF's RR
      series is nearly uncorrelated; bigeminy alternates, trigeminy repeats every third);
    - the share of irregular intervals (under ``short`` or over ``long`` times the median) that
      form a short-long couplet (a premature beat and its compensatory pause);
    - a two-level fit: the share of intervals within ``fit`` of the nearer of two cluster
      centres (1-D k-means from the quartiles), and the ratio of the centres;
    - the Shannon entropy of the transitions between short, regular and long intervals.
    """
    rr = np.asarray(rr, dtype=float)
    r = rr - rr.mean()
    den = float(r @ r) if np.std(rr) > 1e-6 else 0.0  # a constant series has no correlation
    ac = [float(r[:-k] @ r[k:] / den) if den > 0 else NAN for k in (1, 2, 3)]
    med = np.median(rr)
    s, ln = rr < short * med, rr > long * med
    n_irr = int((s | ln).sum())
    sl = float(2 * (s[:-1] & ln[1:]).sum() / n_irr) if n_irr else 0.0
    c = np.percentile(rr, [25, 75])
    last = None
    for _ in range(20):
        a = np.abs(rr[:, None] - c[None]).argmin(axis=1)
        if last is not None and np.array_equal(a, last):  # converged: c would not move
            break
        last = a
        c = np.array([rr[a == k].mean() if (a == k).any() else c[k] for k in (0, 1)])
    fit_share = float(np.mean(np.abs(rr - c[a]) / c[a] <= fit))
    sym = np.where(s, 0, np.where(ln, 2, 1))
    trans = np.zeros((3, 3))
    np.add.at(trans, (sym[:-1], sym[1:]), 1)
    return [ac[0], ac[1], float(np.nanmax(np.abs(ac))) if den > 0 else NAN, sl, fit_share,
            float(c.max() / c.min()), _entropy(trans.ravel())]


#: The P region of a beat: from 0.30 to 0.08 s before its R peak.
P_REGION_S = (0.30, 0.08)


def _p_regions(y: np.ndarray, peaks: np.ndarray, fs: float) -> np.ndarray:
    """The P region of each beat ``peaks`` of ``y`` [n_beats, samples]; every peak must lie at
    least 0.30 s into ``y``."""
    return y[peaks[:, None] + np.arange(-int(P_REGION_S[0] * fs), -int(P_REGION_S[1] * fs))]


def p_wave_snr(y: np.ndarray, peaks: np.ndarray, fs: float, stretch: int = 8) -> list[float]:
    """P-wave presence over the P regions (0.30-0.08 s before R) of the beats ``peaks`` of the
    band-passed lead ``y``: the variance of their median over the mean variance of each beat's
    residual from it (a P wave repeats beat after beat; fibrillatory waves do not), the median
    region's peak-to-peak over the median QRS's, and the median of the first ratio over
    ``stretch``-beat stretches (halfway overlapping; a P wave that drifts in shape over the
    recording still counts). NaN under 5 beats."""
    b, h, q = int(P_REGION_S[0] * fs), int(0.1 * fs), int(0.03 * fs)
    pp = peaks[(peaks >= b + h) & (peaks < len(y) - h)]
    if len(pp) < 5:
        return [NAN] * 3
    seg = _p_regions(y, pp, fs)
    seg = seg - seg.mean(axis=1, keepdims=True)

    def snr(rows: np.ndarray) -> float:
        m = column_median(rows)
        signal, residual = float(np.var(m)), float(np.mean(np.var(rows - m, axis=1)))
        # a floor relative to the signal: the ratio of a lead in volts is that in millivolts
        return signal / max(residual, 1e-12 * signal, np.finfo(float).tiny)

    qrs = y[pp[:, None] + np.arange(-q, q)]
    amp = np.ptp(column_median(seg)) / (np.median(np.ptp(qrs, axis=1)) + 1e-12)
    windowed = [snr(seg[i: i + stretch]) for i in range(0, len(seg) - stretch + 1, stretch // 2)]
    return [snr(seg), float(amp), float(np.median(windowed)) if windowed else NAN]


def _amp_cv(y: np.ndarray, peaks: np.ndarray) -> float:
    if len(peaks) < 3:
        return NAN
    a = np.abs(y[peaks])
    return float(np.std(a) / (np.mean(a) + 1e-12))


def _sqi(fn: Callable, x: np.ndarray, fs: float) -> float:
    """The quality layer's index of one window (NaN when the window is too short for it)."""
    try:
        return float(fn(x, fs))
    except ValueError:
        return NAN


def _power(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies and power spectrum of ``x`` (mean removed), of ``x`` followed by itself
    reversed (:func:`~qualityfm.quality._common.mirrored_spectrum`: no step's power)."""
    x = np.asarray(x, dtype=np.float64)
    spec = mirrored_spectrum((x - x.mean())[None])[0]
    return np.arange(len(x)) * fs / (2 * len(x)), spec * spec


def _median_beat(y: np.ndarray, peaks: np.ndarray, before: int, after: int):
    """Median beat over ``[p - before, p + after)`` and the peaks that fit (None under 3)."""
    p = peaks[(peaks >= before) & (peaks + after <= len(y))]
    if len(p) < 3:
        return None, p
    return column_median(y[p[:, None] + np.arange(-before, after)]), p


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    d = np.sqrt((a @ a) * (b @ b))
    return float(a @ b / d) if d > 0 else NAN


def _p_wave(y: np.ndarray, peaks: np.ndarray, fs: float) -> tuple[float, float]:
    """P-wave signs: median correlation of each beat's P region (0.30-0.08 s before R) with the
    median beat's, and the 4-9 Hz share (fibrillatory waves) of the T-Q stretches of the
    residual after subtracting the median beat. NaN without 4 whole beats."""
    before, after = int(P_REGION_S[0] * fs), int(0.45 * fs)
    beat, pp = _median_beat(y, peaks, before, after)
    if beat is None or len(pp) < 4:
        return NAN, NAN
    seg = _p_regions(y, pp, fs)
    tmpl = beat[: seg.shape[1]]  # the median beat's P region
    p_corr = float(np.nanmedian([_corr(s, tmpl) for s in seg]))
    resid = y.copy()
    for p in pp:
        resid[p - before: p + after] -= beat
    tq = np.zeros(len(y), dtype=bool)
    for a, b in zip(pp[:-1], pp[1:], strict=True):
        if b - int(0.1 * fs) > a + after:
            tq[a + after: b - int(0.1 * fs)] = True
    if tq.sum() <= fs:
        return p_corr, NAN
    f, s = _power(resid[tq], fs)
    return p_corr, float(s[(f >= 4) & (f <= 9)].sum() / (s[f > 1].sum() + 1e-12))


def beat_shape_features(x: np.ndarray, peaks: np.ndarray, fs: float) -> list[float]:
    """Ectopy and the shape of the median beat of one lead ``x`` (raw) with R peaks ``peaks``
    (``BEAT_NAMES``; from 8 beats, the shape from 5 clean ones), on the lead band-passed to
    0.5-40 Hz:

    - the share of intervals that open a short-long couplet (a premature beat and its pause),
      and the shares of short and long intervals, each against the median of the 9 intervals
      around it (<0.85x, >1.15x);
    - the share of beats whose QRS correlates under 0.6 with the median QRS (ectopic or
      aberrant beats, or noise);
    - on the median of the clean beats (QRS correlation >= 0.8), with its largest deflection
      within ``QRS_REACH_S`` of the peak (R, or a deeper S wave) turned upright and taken as
      the unit ("the R amplitude" below), and against its first 50 ms (on the previous T
      wave from about 100 bpm: see the code): the PR interval (s, from the largest
      deflection 0.30-0.08 s before R) and that deflection's amplitude, the largest
      deflection 0.15-0.45 s after R (T wave) and the mean level 0.06-0.12 s after R (ST),
      each over the R amplitude, and the R amplitude over the lead's SD;
    - that beat itself over the R amplitude, smoothed by a centred box of about 16 ms (an
      odd number of samples) and sampled at ``BEAT_WAVE_TIMES`` (``beat_*ms``):
      bundle-branch blocks, hypertrophy and other "other rhythm" shapes that the few named
      waves miss. With them the 4-class AF model's
      N/A/O macro F1 rose on three of three CV splits (docs/results.md, session 13).
    """
    out = dict.fromkeys(BEAT_NAMES, NAN)
    if len(peaks) < 8:
        return list(out.values())
    y = _bandpass(x, fs, 0.5, 40.0)
    rr = np.diff(peaks) / fs
    local = np.median(np.lib.stride_tricks.sliding_window_view(np.pad(rr, 4, mode="edge"), 9),
                      axis=1)
    short, long_ = rr < 0.85 * local, rr > 1.15 * local
    out.update(ect_rate=float((short[:-1] & long_[1:]).sum() / len(rr)),
               short_frac=float(short.mean()), long_frac=float(long_.mean()))
    corr = beat_correlations(y, peaks, fs)
    if np.isfinite(corr).any():
        out["outlier_frac"] = float(np.mean(corr[np.isfinite(corr)] < 0.6))
    before, after = int(0.35 * fs), int(0.5 * fs)
    beat, used = _median_beat(y, peaks[corr >= 0.8], before, after)
    if beat is None or len(used) < 5:
        return list(out.values())
    # against the level before the P wave, 0.35 s before R: from about 100 bpm the previous
    # beat's T wave (at 110 bpm an ECG of no ST change reads ST 26 % of R depressed, P and T
    # turned over). Kept: a PR-segment baseline (0.09-0.06 s before R), tried in session 50,
    # lowered af's classical 5-fold macro F1 from 0.818 to 0.812 (AUROC 0.9815 to 0.9808;
    # the default network head's macro F1 0.768 to 0.769, no change) and lands on a QRS of
    # 0.2 s; these are a classifier's inputs, not clinical measurements
    m = beat - np.median(beat[: int(0.05 * fs)])
    # the unit and the sign: the largest deflection within QRS_REACH_S of the peak (the peak's
    # own value had been, small on a mixed-polarity lead where the peak lies on a shallow S
    # trough 30-40 ms after R or near the zero crossing between them: beat_-48ms read -27.1
    # on af's A04184)
    q = int(QRS_REACH_S * fs)
    r = float(m[before - q + np.argmax(np.abs(m[before - q: before + q + 1]))])
    m, r = m * np.sign(r or 1.0), abs(r) + 1e-12

    def extreme(a: float, b: float) -> tuple[int, float]:
        seg = m[before + int(a * fs): before + int(b * fs)]
        k = int(np.argmax(np.abs(seg)))
        return k, float(seg[k] / r)

    k, p_amp = extreme(-P_REGION_S[0], -P_REGION_S[1])
    out.update(pr_int=float((int(P_REGION_S[0] * fs) - k) / fs), p_peak_amp=p_amp,
               t_amp=extreme(0.15, 0.45)[1],
               st_level=float(np.mean(m[before + int(0.06 * fs): before + int(0.12 * fs)]) / r),
               qrs_amp_rel=float(r / (np.std(y) + 1e-12)))
    k = 2 * int(round(0.008 * fs)) + 1  # odd, centred (an even box lags half a sample)
    smooth = np.convolve(m / r, np.ones(k) / k, mode="same")
    at = before + np.round(np.array(BEAT_WAVE_TIMES) * fs).astype(int)
    at = np.minimum(at, len(smooth) - 1)  # 0.48 s rounds past the beat's end at some rates
    # between 51 and 74 Hz (51.2 Hz: sample 25 of 25, an IndexError)
    out.update(zip(BEAT_WAVE_NAMES, smooth[at].tolist(), strict=True))
    return list(out.values())


def ecg_features(x: np.ndarray, fs: float) -> tuple[list[float], np.ndarray]:
    """Features of one ECG lead (``ECG_NAMES``) and its R peaks.

    Beyond rate and irregularity: the time the median beat's QRS spends at half its largest
    deflection or beyond (s, within 0.1 s of the R peak, every wave of either sign counted: an
    R wave's width, plus a deep S wave's, both of which widen with the QRS), beat-template
    correlation,
    R amplitude CV, power shares above 40 Hz (noise) and below 0.7 Hz (baseline wander), the
    share of 1.5-5 Hz in the 1-40 Hz band and the dominant frequency with its concentration
    (+-0.25 Hz; a ventricular rhythm is nearly sinusoidal at 2-4 Hz), kurtosis (narrow QRS
    spikes are peaked; VT and noise are not), clipped fraction, the quality layer's SQI, the
    P-wave signs of :func:`_p_wave`, and the AF signs of :func:`af_rr_features` and the ectopy
    and median-beat shape of :func:`beat_shape_features` (these two on the R peaks less the T
    waves and echoes :func:`refine_r_peaks` drops; the other columns use the quality layer's R
    peaks as they are: a tall T wave then counts as a beat in ``hr``, but a fast rhythm of
    alternating beats keeps its rate, which the refined peaks halve).
    """
    if not np.isfinite(x).all() or np.ptp(x) == 0 or len(x) < 2 * fs:
        return [NAN] * len(ECG_NAMES), np.zeros(0, dtype=np.int64)
    peaks = detect_r_peaks(x, fs)[0]
    # less T waves and echoes, for the AF and beat-shape columns only: the rate columns on
    # them had halved fast rhythms of alternating beats (VT at 200 bpm read 100)
    clean = refine_r_peaks(x, fs, peaks)
    y = _bandpass(x, fs, 1.0, 40.0)
    half = int(0.1 * fs)
    beat, _ = _median_beat(y, peaks, half, half)
    width = NAN
    if beat is not None:
        b = np.abs(beat - np.median(beat))
        width = float((b >= 0.5 * b.max()).sum() / fs)
    corr = template_correlation(y, peaks, int(0.2 * fs), int(0.4 * fs)) if len(peaks) else 0.0
    f, spec = _power(x, fs)
    # no band above 40 Hz at or below 80 Hz: unknown, not "no noise"
    hf = float(spec[f > 40].sum() / (spec[f > 0.5].sum() + 1e-12)) if fs > 80 else NAN
    lf = float(spec[(f > 0.05) & (f <= 0.7)].sum() / (spec[f > 0.05].sum() + 1e-12))
    spec_y = _power(y, fs)[1]
    total = spec_y[f > 1.0].sum() + 1e-12
    vt = (f >= 1.5) & (f <= 5.0)
    dom = float(f[np.argmax(np.where((f > 0.7) & (f <= 5.0), spec_y, 0.0))])
    # a share of the band it is over (dom at 0.7-1.25 Hz had counted the power under 1 Hz
    # that the total leaves out: 1.09 in v217l)
    conc = float(spec_y[(f >= dom - 0.25) & (f <= dom + 0.25) & (f > 1.0)].sum() / total)
    z = (y - y.mean()) / (y.std() + 1e-12)
    feats = [
        *rr_features(peaks, fs, len(x)), width, corr, _amp_cv(y, peaks), hf, lf,
        float(spec_y[vt].sum() / total), dom, conc, float(np.mean(z**4)),
        float(clip_fraction(x[None])[0]), _sqi(ecg_quality, x, fs), *_p_wave(y, peaks, fs),
        *af_rr_features(y, clean, fs), *beat_shape_features(x, clean, fs),
    ]
    return feats, peaks


#: The spectral peak (Hz) from which pulse peaks 0.2 s apart are tried (174 bpm: below the
#: 200 bpm that pulses 0.3 s apart cap, with room for a beat's jitter and the spectrum's bins).
FAST_PULSE_HZ = 2.9


def _alternating(prominences: np.ndarray, ratio: float = 0.8) -> bool:
    """Whether every other peak stands lower: the median prominence of one half of the
    peaks (odd or even places) under ``ratio`` of the other's (a pulse and its dicrotic
    wave, not pulses of one rate)."""
    even, odd = np.median(prominences[::2]), np.median(prominences[1::2])
    return bool(min(even, odd) < ratio * max(even, odd))


#: Least spread (5th-95th percentile) of a pulse wave's 0.5-5 Hz band, in steps of its ADC (the
#: median gap between its distinct values), that :func:`pulse_present` reads as a pulse. In the
#: VT alarms' 10 s a PPG toggling among 6 levels spans 0.1 step (v540s: its "pulses" had read
#: 300 bpm), an arterial line flat at 21 mmHg with one artifact 7 (v536s: 127 bpm); a pulse 320
#: or more (v758s, of 3 mmHg); but MIMIC-III's 8-bit PLETH holds a clean pulse (80 bpm, beats
#: correlating 0.98) in 32 steps (p000878), so lines wandering over a few dozen steps (v540s's
#: arterial line, 25.6 bpm; v233l's, 41.3) are not told from a pulse by their steps alone.
MIN_PULSE_STEPS = 8.0


def pulse_present(x: np.ndarray, spread: float) -> bool:
    """Whether the pulse wave ``x`` (finite, not flat), whose 0.5-5 Hz band spreads
    ``spread`` (5th-95th percentile), may hold a pulse: that spread spans
    :data:`MIN_PULSE_STEPS` ADC steps (the median gap between its distinct values) or more (a
    line toggling among a few levels, or flat on them but for an artifact, does not). A wave
    of unquantised values (a step of float rounding) passes."""
    step = np.median(np.diff(np.unique(np.asarray(x, dtype=np.float64))))
    return bool(spread >= MIN_PULSE_STEPS * float(step))


def pulse_features(x: np.ndarray, fs: float) -> list[float]:
    """Features of one pulsatile wave, PPG or ABP (``PULSE_NAMES``): rate and irregularity of
    the pulse peaks (less dicrotic waves, :func:`~qualityfm.quality.ppg.drop_dicrotic`),
    beat-template correlation, amplitude CV, the quality layer's SQI, the concentration of
    0.5-5 Hz power at its peak, and the amplitude of the last 4 s relative to the whole window
    (a pulse that fades at the alarm argues for a true one). A wave without a pulse
    (:func:`pulse_present`) has no pulse peaks: no rate, 0 beats, a template correlation of 0."""
    if not np.isfinite(x).all() or np.ptp(x) == 0 or len(x) < 2 * fs:
        return [NAN] * len(PULSE_NAMES)
    y = _bandpass(x, fs, 0.5, 5.0)
    spread = np.percentile(y, 95) - np.percentile(y, 5)
    f, spec = _power(y, fs)
    band = (f >= 0.5) & (f <= 5.0)
    top = f[np.argmax(np.where(band, spec, 0.0))]
    # pulses 0.3 s apart at least; 0.2 s where the spectrum peaks from 174 bpm (2.9 Hz) and
    # the pulses so found beat at that peak: at 0.3 s a pulse near or over 200 bpm had read at
    # half its rate (an ECG-pulse mismatch where there is none; 202 bpm, in the 3.3-Hz bin of
    # a 10-s window, at 104), at 0.2 s throughout a dicrotic wave at 100 bpm had read as a
    # second pulse
    prominence = max(0.3 * spread, 1e-12)
    peaks, _ = find_peaks(y, distance=max(1, int(0.3 * fs)), prominence=prominence)
    if top >= FAST_PULSE_HZ:
        fast, shape = find_peaks(y, distance=max(1, int(0.2 * fs)), prominence=prominence)
        # (up to 3.3 Hz, a pulse at 87-99 bpm whose dicrotic wave tops the spectrum: its
        # pulses and dicrotic waves alternate in prominence, and read as one rate of 180)
        if len(fast) > 2 and abs(fs / np.median(np.diff(fast)) - top) <= 0.15 * top and (
                top > 3.3 or not _alternating(shape["prominences"])):
            peaks = fast
    peaks = drop_dicrotic(y, peaks)  # a dicrotic wave had read as a second pulse (v132s)
    if not pulse_present(x, spread):  # (a PPG toggling among 6 levels had read 300 bpm: v540s)
        peaks = peaks[:0]
    corr = template_correlation(y, peaks, int(0.25 * fs), int(0.45 * fs)) if len(peaks) else 0.0
    # within the band, as its total (a peak near 0.5 Hz had counted the leaked power below
    # it: 4.24 in v540s's arterial line)
    near = band & (f >= top - 0.25) & (f <= top + 0.25)
    conc = float(spec[near].sum() / (spec[band].sum() + 1e-12))
    end = y[-int(4 * fs):]
    end_amp = float((np.percentile(end, 95) - np.percentile(end, 5)) / (spread + 1e-12))
    return [*rr_features(peaks, fs, len(x)), corr, _amp_cv(y, peaks), _sqi(ppg_quality, x, fs),
            conc, end_amp]


def lead_match(p1: np.ndarray, p2: np.ndarray, fs: float, tol: float = 0.15) -> float:
    """Agreement of two leads' beat detections, akin to bSQI: beats matched one to one (within
    ``tol`` s, in time order) over the mean count, ``2M / (N1 + N2)`` (Li and Clifford's bSQI
    is ``M / (N1 + N2 - M)``, lower unless all match), in [0, 1] and the same either way round
    (each beat of ``p1`` near any of ``p2`` had counted, so two detections of one lead near one
    beat of the other both matched: 1.33 one way, 0.67 the other); NaN when either lead has no
    beat."""
    if len(p1) == 0 or len(p2) == 0:
        return NAN
    a, b = np.sort(np.asarray(p1)), np.sort(np.asarray(p2))
    i = j = matched = 0
    while i < len(a) and j < len(b):
        d = a[i] - b[j]
        if abs(d) <= tol * fs:
            matched, i, j = matched + 1, i + 1, j + 1
        elif d < 0:
            i += 1
        else:
            j += 1
    return float(2 * matched / (len(a) + len(b)))


def _agg(fn: Callable, values: Sequence[float]) -> float:
    v = np.asarray(values, dtype=float)
    return float(fn(v[np.isfinite(v)])) if np.isfinite(v).any() else NAN


def signal_features(signals: dict[str, np.ndarray], fs: dict[str, float]) -> np.ndarray:
    """The feature vector (``feature_names()`` order) of one window given by canonical channel.

    ECG slot 1 is lead II when present, else the first ECG lead; slot 2 the next ECG lead
    (another lead before a second channel of slot 1's).
    Cross-channel columns: the largest rate, SQI, QRS width and 1.5-5 Hz share over the leads,
    beat agreement of the two leads, rate differences between leads and pulse waves, and the
    columns of the better pulse wave (so that PPG-only and ABP-only records fill one set).
    """
    no_rate = [c for c in signals if c not in fs]
    bad = [c for c, v in signals.items() if np.ndim(v) != 1]
    if no_rate or bad:
        raise ValueError(f"signal_features needs a rate for every channel and 1-D signals; "
                         f"no rate: {no_rate}, not 1-D: {bad}")
    refuse_monitor_labels(signals)  # (a row of NaN alone, said nowhere)
    found = ecg_leads(signals)
    # slot 2 another lead where there is one (a second channel of slot 1's lead, ecg_ii_2,
    # ranks right after it: as slot 2 it had replaced lead V's columns by a copy's)
    leads = found[:1] + ([c for c in found[1:] if lead_of(c) != lead_of(found[0])]
                         or found[1:])[:1]
    # each channel read: an empty one had failed in a reduction, a rate of 0 in a division,
    # naming no channel; a negative one had given features
    for c in (*leads, *(c for c in ("ppg", "abp") if c in signals)):
        if np.size(signals[c]) == 0 or not (is_number(fs[c]) and fs[c] > 0):
            raise ValueError(f"{c}: signal_features needs a sample or more at a finite rate "
                             f"> 0; got {np.size(signals[c])} samples at {fs[c]!r} Hz")

    def named(channel: str, features: Callable[..., Any]) -> Any:
        try:  # a channel's fault (an ECG under 50 Hz) named by the channel
            return features(signals[channel], fs[channel])
        except ValueError as err:
            raise ValueError(f"{channel}: {err}") from err

    ecg, peaks = [], []
    for k in range(2):
        e, p = (named(leads[k], ecg_features) if k < len(leads)
                else ([NAN] * len(ECG_NAMES), np.zeros(0, dtype=np.int64)))
        ecg.append(e)
        peaks.append(p)
    pulse = [named(c, pulse_features) if c in signals else [NAN] * len(PULSE_NAMES)
             for c in ("ppg", "abp")]
    ie = {n: i for i, n in enumerate(ECG_NAMES)}
    ip = {n: i for i, n in enumerate(PULSE_NAMES)}
    ecg_hr = _agg(np.median, [e[ie["hr"]] for e in ecg])
    match = lead_match(*peaks, fs[leads[0]]) if len(leads) == 2 and fs[leads[0]] == fs[
        leads[1]] else NAN
    cross = [
        _agg(np.max, [e[ie["hr"]] for e in ecg]), _agg(np.max, [e[ie["hr_max4"]] for e in ecg]),
        _agg(np.max, [e[ie["sqi"]] for e in ecg]), _agg(np.max, [e[ie["qrs_width"]] for e in ecg]),
        _agg(np.max, [e[ie["vt_band"]] for e in ecg]), match,
        abs(ecg[0][ie["hr"]] - ecg[1][ie["hr"]]), abs(ecg_hr - pulse[0][ip["hr"]]),
        abs(ecg_hr - pulse[1][ip["hr"]]),
        _agg(np.max, [e[ie["hr_max4"]] for e in ecg])
        - _agg(np.max, [p[ip["hr_max4"]] for p in pulse]),
        _agg(np.max, [p[ip["sqi"]] for p in pulse]),
        _agg(np.max, [p[ip["end_amp"]] for p in pulse]), float(len(leads)),
    ]
    # a wave without a pulse rate (no pulse, or under 3 beats) is none (v540s's PPG had been
    # the pulse, at 300 bpm)
    quality = [p[ip["morph_corr"]] if np.isfinite(p[ip["morph_corr"]]) and np.isfinite(
        p[ip["hr"]]) else -1.0 for p in pulse]
    best = pulse[int(np.argmax(quality))] if max(quality) > -1.0 else [NAN] * len(PULSE_NAMES)
    vec = [*ecg[0], *ecg[1], *pulse[0], *pulse[1], *cross, *(best[ip[n]] for n in _BEST_PULSE)]
    return np.array(vec, dtype=np.float32)


def window_features(x: np.ndarray, mask: np.ndarray | None, fs: float) -> np.ndarray:
    """Features ``[N, F]`` of model-input windows ``[N, C, T]`` (channels ``MODEL_CHANNELS``)."""
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[1] != len(MODEL_CHANNELS):
        raise ValueError(f"x must be [N, {len(MODEL_CHANNELS)}, T], got shape {x.shape}")
    mask = np.ones(x.shape[:2], dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if mask.shape != x.shape[:2]:
        raise ValueError(f"mask must be [N, C] = {list(x.shape[:2])}, got {list(mask.shape)}")
    rows = []
    for xi, mi in zip(x, mask, strict=True):
        sig = {c: xi[k].astype(np.float64) for k, c in enumerate(MODEL_CHANNELS) if mi[k]}
        rows.append(signal_features(sig, dict.fromkeys(sig, fs)))
    return np.stack(rows) if rows else np.zeros((0, len(feature_names())), dtype=np.float32)
