"""ECG quality: rrSQI of the RR series, optionally with a beat-morphology term.

rrSQI (the method, arXiv 2509.06516): a beat is bad when its heart rate is outside 40-120
bpm, or the change of its RR interval from the previous one exceeds 0.5 s, or the relative
change of its heart rate exceeds 30 %; an isolated good beat between two bad ones is bad;
the score is good beats over detected QRS, and 0 with fewer than ``min_beats`` QRS in a 30-s
window (40 bpm), in proportion for windows of other lengths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qualityfm._numbers import is_int, is_number, settle_numbers
from qualityfm.quality._common import (
    as_windows,
    band_filtered,
    beatless_share,
    finite_rows,
    flat_fraction,
    lost_share,
    median,
    template_correlation,
)
from qualityfm.quality.peaks import peaks_from_envelope, qrs_envelope
from qualityfm.signal.extremes import clip_factor, measured_clip


@dataclass(frozen=True)
class RRRules:
    """The rrSQI rules; defaults are those of the method (arXiv 2509.06516). ``min_beats``
    is a rule of its own, not derived from ``hr_min``: lowering ``hr_min`` to 25 bpm leaves a
    clean 30-bpm window scored 0 for its 15 beats unless ``min_beats`` falls too (10)."""

    hr_min: float = 40.0  # bpm
    hr_max: float = 120.0  # bpm
    max_drr: float = 0.5  # s, |RR_i - RR_{i-1}|
    max_dhr: float = 0.3  # |HR_i - HR_{i-1}| / HR_{i-1}
    min_beats: int = 20  # fewer detected QRS in a window of min_beats_seconds -> score 0
    min_beats_seconds: float = 30.0  # windows of other lengths need proportionally more / fewer

    def __post_init__(self) -> None:
        if not (is_number(self.hr_min) and is_number(self.hr_max)
                and 0 < self.hr_min < self.hr_max):
            raise ValueError(f"RRRules needs 0 < hr_min < hr_max (bpm), got hr_min "
                             f"{self.hr_min} and hr_max {self.hr_max}")
        for name in ("max_drr", "max_dhr", "min_beats_seconds"):
            value = getattr(self, name)  # (a min_beats_seconds of 0 had divided by zero)
            if not (is_number(value) and value > 0):
                raise ValueError(f"RRRules {name} must be a positive number, got {value!r}")
        if not (is_int(self.min_beats) and self.min_beats > 0):
            raise ValueError(f"RRRules min_beats must be a positive whole number, got "
                             f"{self.min_beats!r}")
        settle_numbers(self, ("hr_min", "hr_max", "max_drr", "max_dhr", "min_beats_seconds"),
                       ("min_beats",))

    def beats_needed(self, seconds: float | None = None) -> int:
        """The fewest QRS a window of ``seconds`` must hold (``min_beats`` when None): the
        same rate, 40 bpm by default, for every window length (a 10-s window needs 7)."""
        if seconds is None:
            return self.min_beats
        return max(2, math.ceil(self.min_beats * seconds / self.min_beats_seconds - 1e-9))


def bad_beats(peaks: np.ndarray, fs: float, rules: RRRules = RRRules()) -> np.ndarray:
    """Bool per detected beat: True when the beat is bad by the rrSQI rules.

    Beat ``i >= 1`` is judged on the interval ``RR_i = t_i - t_{i-1}`` that ends at it and on
    its change from ``RR_{i-1}``; beat 0 has no interval of its own and takes the flags of
    beat 1. Then every good beat whose two neighbours are both bad becomes bad.
    """
    n = len(peaks)
    if n < 2:
        return np.ones(n, dtype=bool)
    rr = np.diff(np.asarray(peaks, dtype=np.float64)) / fs  # RR_1 .. RR_{n-1}
    if not (rr > 0).all():  # reversed peaks had read every beat bad, rr_sqi 0, unsaid
        raise ValueError(f"peaks must be increasing sample indices, got a step of "
                         f"{float(rr.min() * fs):g} samples at position "
                         f"{int(np.argmin(rr)) + 1}")
    hr = 60.0 / rr
    bad = (hr < rules.hr_min) | (hr > rules.hr_max)
    drr = np.abs(np.diff(rr))
    dhr = np.abs(np.diff(hr)) / hr[:-1]
    bad[1:] |= (drr > rules.max_drr) | (dhr > rules.max_dhr)
    bad = np.concatenate((bad[:1], bad))  # beat 0 takes the flags of beat 1
    isolated = np.zeros(n, dtype=bool)
    isolated[1:-1] = ~bad[1:-1] & bad[:-2] & bad[2:]
    return bad | isolated


def rr_sqi(peaks: np.ndarray, fs: float, rules: RRRules = RRRules(),
           seconds: float | None = None) -> float:
    """rrSQI of one window of ``seconds`` (None: a window of ``rules.min_beats_seconds``) from
    its R-peak indices: good beats / detected QRS, in [0, 1]."""
    if seconds is not None and not (is_number(seconds) and seconds > 0):
        raise ValueError(f"seconds must be a window's length > 0, got {seconds!r}")
    if len(peaks) < rules.beats_needed(seconds):
        return 0.0
    return float(1.0 - bad_beats(peaks, fs, rules).mean())


def ecg_quality(
    x: np.ndarray,
    fs: float,
    *,
    morphology: bool = True,
    rules: RRRules = RRRules(),
    max_clip: float = 0.05,
    clip: np.ndarray | None = None,
    filled: np.ndarray | None = None,
) -> np.ndarray:
    """Quality in [0, 1] of each ECG window of ``x`` (``[N, T]`` or ``[T]``) at ``fs`` Hz.

    The score is rrSQI; with ``morphology`` (default) it is multiplied by the mean correlation
    of each beat (-0.2 s to +0.4 s around its R peak, 0.5-40 Hz; within one median RR interval
    where beats come faster than every 0.6 s) with the window's median beat, which sees noise
    between and within beats that the RR series alone cannot; it needs 3 whole
    beats, so with ``morphology`` a clean 2-s window at 60-80 bpm scores 0 (at 90 bpm mostly 0;
    3 s at 60 bpm mostly 0, 4 s at 60 bpm about 1; synthetic ECG). The score is then multiplied
    by one less the fraction of flat 0.5-s stretches (a lead off for part of the window), as the
    PPG's is, or less the share ``filled`` (``[N]``: samples that were missing and filled,
    ``Windows.filled``) or the share in stretches without a beat (:func:`beatless_share`)
    where that is larger.
    Windows that are flat or non-finite score 0; a window's clipped share (samples at its
    extremes) up to ``max_clip`` costs nothing, and from there its score falls linearly to 0
    at twice ``max_clip`` (:func:`~qualityfm.signal.extremes.clip_factor`); ``clip`` ``[N]``:
    each window's clipped share measured on the record's own samples (``Windows.clipped``:
    resampling rings at a flat top's corners, which hides it), else measured on ``x``.
    Returns ``[N]`` float64 (a float for a single window).
    """
    x, single = as_windows(x, fs)
    ok, x = finite_rows(x)
    ok &= np.ptp(x, axis=1) > 0
    unclipped = clip_factor(measured_clip(x, clip), max_clip)
    ok &= unclipped > 0
    spec, bp, env = qrs_envelope(x, fs)
    env[~ok] = 0.0
    peaks = peaks_from_envelope(bp, env, fs)
    if morphology:
        wide = band_filtered(spec, x.shape[1], fs, 0.5, 40.0)
    scores = np.zeros(len(x))
    beatless = np.zeros(len(x))
    for i, p in enumerate(peaks):
        if not ok[i]:
            continue
        s = rr_sqi(p, fs, rules, seconds=x.shape[1] / fs)
        if morphology and s > 0:
            s *= template_correlation(wide[i], p, *beat_segment(p, fs))
        scores[i] = s
        beatless[i] = beatless_share(p, x.shape[1], fs)
    # a lead off for part of the window (a flat stretch, or one of a few uV of noise: no beat
    # for seconds) or a gap filled by a line costs its share, as for the PPG: the beats on
    # either side of it had kept the score near 1
    lost = np.maximum(lost_share(flat_fraction(x, fs), filled), beatless)
    scores *= np.clip(1.0 - lost, 0.0, 1.0) * unclipped
    return float(scores[0]) if single else scores


def beat_segment(peaks: np.ndarray, fs: float) -> tuple[int, int]:
    """Samples (before, after) each R peak of the beat the morphology term compares: 0.2 s
    and 0.4 s, or a third and two thirds of the median RR interval where that is shorter than
    0.6 s (a fixed segment reached into the next beat, whose place jitters, and had cost clean
    ECG at 150-220 bpm 0.1)."""
    before, after = int(round(0.2 * fs)), int(round(0.4 * fs))
    if len(peaks) > 1:
        rr = int(median(np.diff(peaks)))
        if rr < before + after:
            before = rr // 3
            after = rr - before
    return before, after
