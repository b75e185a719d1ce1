"""Documented constants and boundaries of the quality indices (docs/quality.md), each checked
on a hand-built input whose value is known, so that a changed constant or comparison fails."""

from __future__ import annotations

import numpy as np
import pytest

from qualityfm.quality import RRRules, bad_beats, ppg_quality, ppg_terms
from qualityfm.quality._common import beatless_stretches, flat_fraction, lost_share

FS = 100.0


def test_rr_rules_limits_are_inclusive() -> None:
    """A beat is bad when its rate is *outside* 40-120 bpm and when its RR changes by *more*
    than 0.5 s: exactly 120 bpm, exactly 40 bpm and a change of exactly 0.5 s are good."""
    at_120 = np.arange(0, 3000, 50)  # RR 0.5 s: 120.0 bpm exactly
    at_40 = np.arange(0, 3000, 150)  # RR 1.5 s: 40.0 bpm exactly
    assert not bad_beats(at_120, FS).any()
    assert not bad_beats(at_40, FS).any()
    # RR 1.25 s then 1.75 s: a change of exactly 0.5 s, the rate's change 28.6 % (< 30 %)
    step = np.cumsum([0, 125, 125, 125, 175, 175, 175])
    assert not bad_beats(step, FS, RRRules(hr_min=20.0)).any()


def test_lost_share_is_the_larger_of_flat_and_filled_not_their_sum() -> None:
    np.testing.assert_allclose(lost_share(np.array([0.2, 0.5]), np.array([0.3, 0.1])),
                               [0.3, 0.5])


def test_a_flat_stretch_is_under_1_percent_of_four_standard_deviations() -> None:
    t = np.arange(1000) / FS  # 10 s: twenty 0.5-s stretches of 50 samples
    x = np.sin(2 * np.pi * t)
    x[250:300] = 0.01 * np.sin(2 * np.pi * 5 * t[250:300])  # peak-to-peak about 0.02
    span = 4.0 * x.std()  # about 2.76: 1 % of it is 0.0276, of two SDs 0.0138
    assert 0.02 < 0.01 * span and 0.02 > 0.01 * span / 2
    assert flat_fraction(x[None], FS)[0] == pytest.approx(1 / 20)


def test_a_stretch_without_a_beat_must_pass_3_s_and_two_median_intervals() -> None:
    # 30 bpm (median interval 2 s): a gap of 3.5 s is under two intervals, no stretch
    stretches, rr = beatless_stretches(np.array([100, 300, 500, 700, 1050, 1250]), 1350, FS)
    assert stretches == [] and rr == 200.0
    stretches, _ = beatless_stretches(np.array([100, 300, 500, 700, 1150, 1350]), 1450, FS)
    assert stretches == [(700, 1150)]  # 4.5 s: past both


def test_ppg_terms_follow_their_documented_formulas() -> None:
    """perfusion = clip(log10(PI / 0.1 %), 0, 1) x template with AC = 2 sqrt(2) SD (a sine's
    peak-to-peak); the score is the mean of the terms weighted 1, 1, 0.5, 2, 1."""
    t = np.arange(1060) / FS
    # 2 Hz pulse, peak-to-peak 0.316 on a DC of 100: PI 0.316 %, log10(3.16) = 0.5
    x = 100.0 + 0.158 * np.cos(2 * np.pi * 2 * t)
    terms = {k: float(v[0]) for k, v in ppg_terms(x[None], FS).items()}
    assert terms["template"] == pytest.approx(1.0, abs=0.01)
    # (the 0.5-8 Hz band-pass keeps 0.992 of the 2-Hz amplitude)
    assert terms["perfusion"] == pytest.approx(0.5 * terms["template"], abs=0.01)
    weights = {"snr": 1.0, "band": 1.0, "skew": 0.5, "template": 2.0, "perfusion": 1.0}
    expected = sum(w * terms[k] for k, w in weights.items()) / sum(weights.values())
    assert ppg_quality(x, FS) == pytest.approx(expected, rel=1e-9)


def test_ppg_template_coverage_is_regular_intervals_over_nine_tenths_of_the_window() -> None:
    # 1-Hz pulses at 0.8 ... 9.8 s of a 10.6-s window: 9 s of intervals, coverage 9 / 10.6
    t = np.arange(1060) / FS
    x = np.cos(2 * np.pi * (t - 0.8))
    template = ppg_terms(x[None], FS)["template"][0]
    assert template == pytest.approx(9 / 10.6 / 0.9, abs=0.01)


def test_ppg_snr_term_is_one_half_at_10_db() -> None:
    # a 1-Hz pulse and a 10-Hz noise of a tenth of its power: SNR 10 dB, the logistic's centre
    t = np.arange(3000) / FS
    x = 10.0 + np.sin(2 * np.pi * t) + np.sin(2 * np.pi * 10 * t) / np.sqrt(10)
    assert ppg_terms(x[None], FS)["snr"][0] == pytest.approx(0.5, abs=0.03)
