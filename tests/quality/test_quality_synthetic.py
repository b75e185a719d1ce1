"""Quality indices on signals of known quality, and the rrSQI rules on hand-built RR series."""

from __future__ import annotations

import numpy as np
import pytest

from qualityfm.quality import (
    LEVEL_NAMES,
    RRRules,
    bad_beats,
    combined_quality,
    detect_r_peaks,
    ecg_quality,
    ppg_quality,
    ppg_terms,
    quality_level,
    rr_sqi,
    score_windows,
)
from qualityfm.quality.peaks import peaks_from_envelope, refractory_keep
from qualityfm.signal import synthesize

FS = 300.0
T = int(30 * FS)


def _clean(hr: float = 72.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clean synthetic ECG and PPG of 30 s, and the true R-peak samples."""
    rec = synthesize(30.0, FS, hr=hr, seed=seed, channels=("ecg_ii", "ppg"))
    peaks = np.round(rec.labels["r_peaks"] * FS).astype(int)
    return rec.signals["ecg_ii"], rec.signals["ppg"], peaks


def _peaks_at(rr: list[float], fs: float = 100.0) -> np.ndarray:
    """Peak samples for the RR intervals ``rr`` (s), first beat at 1 s."""
    return np.round((1.0 + np.concatenate(([0.0], np.cumsum(rr)))) * fs).astype(int)


# ---------------------------------------------------------------- R-peak detector
@pytest.mark.parametrize("hr", [40, 60, 100, 150, 200])
@pytest.mark.parametrize("invert", [False, True])
def test_detector_finds_every_beat(hr: float, invert: bool) -> None:
    ecg, _, true = _clean(hr, seed=hr)
    found = detect_r_peaks(-ecg if invert else ecg, FS)[0]
    dist = np.abs(true[:, None] - found[None, :])
    assert (dist.min(axis=1) <= int(0.05 * FS)).all(), "missed beats"
    assert len(found) <= len(true) + 1, "false detections"


def test_detector_vectorised_matches_single_windows() -> None:
    ecgs = np.stack([_clean(hr, seed=i)[0] for i, hr in enumerate((50, 90, 130))])
    batch = detect_r_peaks(ecgs, FS)
    for i in range(3):
        np.testing.assert_array_equal(batch[i], detect_r_peaks(ecgs[i], FS)[0])
    assert detect_r_peaks(np.zeros(T), FS)[0].size == 0


@pytest.mark.parametrize("level", [1.0, 5.0, -3.3, 1000.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_detector_finds_no_beat_in_a_lead_held_at_one_value(level: float, dtype: type) -> None:
    # the band-pass's rounding of a constant had read as 55-79 beats (a lead off at 5 mV: 158 bpm)
    held = np.full((2, T), level, dtype=dtype)
    held[1] = _clean(70, seed=3)[0]
    found = detect_r_peaks(held, FS)
    assert found[0].size == 0 and found[1].size > 20



def test_detector_refractory_counts_from_the_last_kept_beat() -> None:
    # Envelope peaks 0.25 s apart whose band-passed extremes lie at 1.07, 1.25 and 1.43 s: the
    # middle one is within the 0.25-s refractory of the first and is dropped; the third is
    # 0.36 s after the first kept beat and stays (it had been dropped for its distance to the
    # dropped middle one).
    fs = 200.0
    t = np.arange(int(3 * fs)) / fs

    def bumps(times: list[float], width: float) -> np.ndarray:
        return sum(np.exp(-0.5 * ((t - c) / width) ** 2) for c in times)[None]

    env = bumps([1.0, 1.25, 1.5], 0.01)
    bp = bumps([1.07, 1.25, 1.43], 0.005)
    found = peaks_from_envelope(bp, env, fs)[0]
    np.testing.assert_array_equal(found, [214, 286])


@pytest.mark.parametrize(
    ("peaks", "kept"),
    [([0, 20, 35], [0, 35]), ([0, 50, 75], [0, 50]), ([0, 10, 20, 30, 62], [0, 30, 62]),
     ([5], [5]), ([], [])],
)
def test_refractory_keep_is_greedy(peaks: list[int], kept: list[int]) -> None:
    out = refractory_keep(np.array(peaks, dtype=np.int64), 30)
    np.testing.assert_array_equal(out, kept)
    assert out.dtype == np.int64

# ---------------------------------------------------------------- rrSQI rules
def test_rr_regular_beats_are_all_good() -> None:
    p = _peaks_at([0.8] * 30)
    assert not bad_beats(p, 100.0).any()
    assert rr_sqi(p, 100.0) == 1.0


def test_rr_rule_heart_rate_range() -> None:
    assert bad_beats(_peaks_at([1.6] * 25), 100.0).all()  # 37.5 bpm
    assert bad_beats(_peaks_at([0.45] * 25), 100.0).all()  # 133 bpm
    assert not bad_beats(_peaks_at([0.52] * 25), 100.0).any()  # 115 bpm
    assert rr_sqi(_peaks_at([0.45] * 25), 100.0, RRRules(hr_max=200.0)) == 1.0


def test_rr_rule_delta_rr() -> None:
    # 0.9 s -> 1.45 s: HR 66.7 -> 41.4 bpm stays in range; dRR 0.55 s > 0.5 s (and dHR 38 %).
    rr = [0.9] * 10 + [1.45] + [0.9] * 10
    bad = bad_beats(_peaks_at(rr), 100.0)
    assert bad[11] and bad[12]  # the long interval and the return from it
    assert bad.sum() == 2
    # dRR alone: 1.2 -> 1.45 s is dRR 0.25 s but dHR 17 %: good.
    assert not bad_beats(_peaks_at([1.2] * 10 + [1.45] + [1.2] * 10), 100.0).any()


def test_rr_rule_relative_heart_rate_change() -> None:
    # 0.6 -> 0.8 s: dRR 0.2 s (< 0.5 s), HR 100 -> 75 bpm = -25 %: good.
    assert not bad_beats(_peaks_at([0.6] * 10 + [0.8] * 10), 100.0).any()
    # 0.6 -> 0.9 s: HR 100 -> 66.7 bpm = -33 % > 30 %: the beat at the change is bad.
    bad = bad_beats(_peaks_at([0.6] * 10 + [0.9] * 10), 100.0)
    assert bad.sum() == 1 and bad[11]


def test_rr_isolated_good_beat_becomes_bad() -> None:
    # Beats 6 and 8 end 1.9-s intervals (31.6 bpm): bad; beat 7 (0.8 s) sits between them.
    flags = bad_beats(_peaks_at([0.8] * 5 + [1.9, 0.8, 1.9] + [0.8] * 12), 100.0)
    assert flags[6] and flags[7] and flags[8]


def test_rr_isolated_rule_exactly() -> None:
    # Intervals: HR outside range at beats 6 and 8 only (rules on dRR/dHR relaxed to isolate
    # the neighbour rule): beat 7 is good on its own, and becomes bad between two bad beats.
    rules = RRRules(max_drr=10.0, max_dhr=10.0)
    p = _peaks_at([0.8] * 5 + [1.9, 0.8, 1.9] + [0.8] * 12)
    flags = bad_beats(p, 100.0, rules)
    assert flags[6] and flags[7] and flags[8]
    assert flags.sum() == 3
    assert rr_sqi(p, 100.0, rules) == pytest.approx(1 - 3 / len(p))
    # Two good beats between bad ones are kept.
    p2 = _peaks_at([0.8] * 5 + [1.9, 0.8, 0.8, 1.9] + [0.8] * 12)
    assert bad_beats(p2, 100.0, rules).sum() == 2


def test_rr_fewer_than_min_beats_is_zero() -> None:
    assert rr_sqi(_peaks_at([0.8] * 18), 100.0) == 0.0  # 19 beats
    assert rr_sqi(_peaks_at([0.8] * 19), 100.0) == 1.0  # 20 beats
    assert rr_sqi(_peaks_at([0.8] * 18), 100.0, RRRules(min_beats=10)) == 1.0
    # 30 s at 38 bpm: under 20 QRS, so 0 even for a clean ECG.
    ecg, _, true = _clean(38.0)
    assert len(true) < 20 and ecg_quality(ecg, FS) == 0.0
    for name, bad in (("min_beats_seconds", 0), ("max_drr", -0.5), ("max_dhr", float("nan")),
                      ("min_beats", "20"), ("min_beats", 2.5)):  # (0 s had divided by zero)
        with pytest.raises(ValueError, match=rf"RRRules {name} must be a positive"):
            RRRules(**{name: bad})
    for bad in ({"hr_max": "200"}, {"hr_min": None}):  # (a TypeError had named no field)
        with pytest.raises(ValueError, match=r"RRRules needs 0 < hr_min < hr_max"):
            RRRules(**bad)
    numpy_rules = RRRules(max_drr=np.float32(0.4), min_beats=np.int64(15))  # NumPy's numbers
    assert numpy_rules.beats_needed() == 15


def test_ppg_settings_that_give_no_score_are_refused() -> None:
    """As RRRules: a corr_zero of 1 had divided by zero, a max_flat of 0 scored NaN, a weight
    of an unknown term raised a KeyError, a band given high to low scored on nothing."""
    from qualityfm.quality.ppg import PPGSettings

    for name, bad, need in (("max_flat", 0.0, "a positive number"),
                            ("corr_zero", 1.0, "below 1"),
                            ("pulse_band", (5.0, 0.5), "two numbers, low < high"),
                            ("weights", (("snr", 1.0), ("nope", 1.0)), r"\(term, weight"),
                            ("weights", (("snr", 0.0),), "one > 0"),
                            ("skew_zero", 0.6, r"below skew_one"),
                            ("min_pulses", 1.5, "a whole number >= 2")):
        with pytest.raises(ValueError, match=rf"PPGSettings {name} must be .*{need}"):
            PPGSettings(**{name: bad})
    assert PPGSettings(weights=(("snr", 1.0),), min_pulses=np.int64(3)).min_pulses == 3
    for bad in (None, "snr", (("snr",),)):
        with pytest.raises(ValueError, match=r"PPGSettings weights must be"):
            PPGSettings(weights=bad)
    # lists and arrays (settings read from JSON) are the tuples they stand for
    listed = PPGSettings(pulse_band=[0.5, 5.0], weights=[["snr", 1.0], ["band", 1.0]],
                         pulse_rate=np.array([30, 220]))
    assert listed.pulse_band == (0.5, 5.0) and listed.pulse_rate == (30.0, 220.0)
    assert listed.weights == (("snr", 1.0), ("band", 1.0)) and hash(listed)


def test_rr_min_beats_scale_with_the_window() -> None:
    """The 20-QRS floor is a rate (40 bpm over 30 s): a clean 10-s window at 75 bpm scores
    high (it held 12 QRS, under 20, and scored 0 before), one at 35 bpm scores 0."""
    rules = RRRules()
    assert [rules.beats_needed(s) for s in (None, 30.0, 10.0, 60.0)] == [20, 20, 7, 40]
    assert rr_sqi(_peaks_at([0.8] * 6), 100.0, seconds=10.0) == 1.0  # 7 beats in 10 s
    assert rr_sqi(_peaks_at([0.8] * 5), 100.0, seconds=10.0) == 0.0  # 6 beats
    ecg, _, _ = _clean(75.0)
    ten = ecg[: int(10 * FS)]
    assert ecg_quality(ten, FS) > 0.8
    assert ecg_quality(ecg, FS) == pytest.approx(ecg_quality(ecg[None], FS)[0])
    slow, _, _ = _clean(35.0)
    assert ecg_quality(slow[: int(10 * FS)], FS) == 0.0


# ---------------------------------------------------------------- known-quality signals
def test_ecg_quality_orders_known_signals() -> None:
    rng = np.random.default_rng(0)
    ecg, _, _ = _clean(72.0)
    std = ecg.std()
    clean = ecg_quality(ecg, FS)
    noisy = ecg_quality(ecg + 0.5 * std * rng.standard_normal(T), FS)
    very_noisy = ecg_quality(ecg + 2.0 * std * rng.standard_normal(T), FS)
    noise = ecg_quality(std * rng.standard_normal(T), FS)
    assert clean > 0.9
    assert clean > noisy > very_noisy
    assert very_noisy < 0.5 and noise < 0.2
    assert ecg_quality(np.zeros(T), FS) == 0.0  # flat
    assert ecg_quality(np.clip(ecg, None, np.percentile(ecg, 80)), FS) == 0.0  # clipped
    off = ecg.copy()
    off[T // 3:] = 0.0  # lead off after 10 s
    assert ecg_quality(off, FS) < 0.5
    assert ecg_quality(ecg, 1000.0) < 0.2  # told 1000 Hz: 22 bpm and QRS 3x too wide
    assert ecg_quality(ecg, 100.0) < 0.2  # told 100 Hz: 216 bpm
    assert ecg_quality(-ecg, FS) == pytest.approx(clean, abs=0.02)


def test_ecg_morphology_term_sees_noise_between_beats() -> None:
    rng = np.random.default_rng(1)
    ecg, _, _ = _clean(72.0)
    noisy = ecg + 0.3 * ecg.std() * rng.standard_normal(T)
    rr_only = ecg_quality(noisy, FS, morphology=False)
    assert rr_only == 1.0  # every beat found, RR series perfect
    assert ecg_quality(noisy, FS) < rr_only


def test_ppg_quality_orders_known_signals() -> None:
    rng = np.random.default_rng(0)
    _, ppg, _ = _clean(72.0)
    ac = ppg.std()
    clean = ppg_quality(ppg, FS)
    noisy = ppg_quality(ppg + 0.5 * ac * rng.standard_normal(T), FS)
    noise = ppg_quality(ppg.mean() + ac * rng.standard_normal(T), FS)
    assert clean > 0.9
    assert clean > noisy > noise
    assert noise < 0.3
    assert ppg_quality(np.full(T, 20.0), FS) == 0.0  # flat
    clipped = np.clip(ppg, None, np.percentile(ppg, 70))
    assert ppg_quality(clipped, FS) == 0.0
    disconnected = ppg.copy()
    disconnected[T // 4:] = ppg.mean()  # sensor off after 7.5 s
    assert ppg_quality(disconnected, FS) < 0.3
    # Wrong rates move the pulse out of the 0.5-5 Hz band: told 3000 Hz (pulses at 12 Hz),
    # told 60 Hz (pulses at 0.24 Hz).
    assert ppg_quality(ppg, 10 * FS) < clean - 0.3
    assert ppg_quality(ppg, FS / 5) < clean - 0.3
    terms = ppg_terms(ppg, FS)
    assert set(terms) >= {"snr", "band", "skew", "template", "perfusion"}
    assert all(0.0 <= float(v[0]) <= 1.0 for k, v in terms.items())



def test_a_clean_ppg_scores_alike_wherever_its_window_starts() -> None:
    """30-s windows of one clean record started 0-1.5 s apart: removing the line joining a
    window's ends had added a ramp as large as a pulse where the window started and ended at
    other phases of it (its 'band' term 0.70-1.0, the score 0.937-0.995)."""
    rec = synthesize(40.0, FS, hr=75, seed=0, channels=("ecg_ii", "ppg"))
    starts = np.round(np.linspace(0.0, 1.5, 16) * FS).astype(int)
    x = np.stack([rec.signals["ppg"][s:s + T] for s in starts]).astype(np.float64)
    terms, score = ppg_terms(x, FS), ppg_quality(x, FS)
    assert np.ptp(terms["band"]) < 0.01 and np.ptp(score) < 0.01
    assert score.min() > 0.95


def test_the_ppg_bands_are_alike_at_every_rate() -> None:
    """At 300 Hz the bins at exactly 0.5, 5 and 25 Hz had landed a rounding error below their
    bands (a 75-bpm pulse's 4th harmonic at 5 Hz counted as pulse, not noise): the snr term
    read 0.97 there and 0.86 at every other rate."""
    from qualityfm.quality._common import band_bins
    from qualityfm.signal import resample

    assert band_bins(9000, 18000, 300.0, 0.5, 5.0) == slice(30, 300)
    ppg = synthesize(30.0, 300.0, hr=75, seed=1, channels=("ppg",)).signals["ppg"]
    snr = [float(ppg_terms(resample(ppg.astype(np.float64), 300.0, fs), fs)["snr"][0])
           for fs in (125.0, 250.0, 300.0, 500.0)]
    assert np.ptp(snr) < 0.02, snr

def _pulse_train(hr: float, dicrotic: float, seconds: float = 10.0, every: int = 1,
                 fs: float = 250.0) -> np.ndarray:
    """The 0.5-8 Hz wave (as ppg_terms filters it) of Gaussian pulses at ``hr`` bpm, each
    ``every``-th one followed 0.3 s later, on its downslope, by a dicrotic wave of
    ``dicrotic`` times its size."""
    from qualityfm.quality._common import band_filtered, mirrored_spectrum

    t = np.arange(int(seconds * fs)) / fs
    x = np.zeros_like(t)
    for k, c in enumerate(np.arange(0.3, seconds, 60.0 / hr)):
        x += np.exp(-0.5 * ((t - c) / 0.08) ** 2)
        if k % every == 0:
            x += dicrotic * np.exp(-0.5 * ((t - c - 0.3) / 0.06) ** 2)
    return band_filtered(mirrored_spectrum(x[None]), len(x), fs, 0.5, 8.0)[0]


@pytest.mark.parametrize("hr", [55.0, 70.0, 85.0])
def test_a_dicrotic_wave_is_no_second_pulse(hr: float) -> None:
    """A dicrotic wave tall enough for the prominence rule had counted as a pulse of its own
    (v132s's PPG read 140-175 bpm against an ECG at 76): pulse_peaks drops it."""
    from scipy.signal import find_peaks

    from qualityfm.quality.ppg import pulse_peaks

    fs = 250.0
    y = _pulse_train(hr, 0.5)
    raw, _ = find_peaks(y, distance=int(0.3 * fs), prominence=0.85 * y.std())
    assert 60 * fs / np.median(np.diff(raw)) > 1.7 * hr  # the fault this guards against
    assert 60 * fs / np.median(np.diff(pulse_peaks(y, fs))) == pytest.approx(hr, rel=0.05)


def test_pulses_of_like_size_and_a_lone_small_peak_are_kept() -> None:
    """Tachycardic pulses (150-200 bpm) keep their rate, and a dicrotic wave after only one
    pulse in eight is kept (a lone small peak is as likely a weak pulse)."""
    from scipy.signal import find_peaks

    from qualityfm.quality._common import band_filtered, mirrored_spectrum
    from qualityfm.quality.ppg import drop_dicrotic, pulse_peaks

    fs = 250.0
    for hr in (150.0, 170.0, 200.0):
        x = synthesize(10.0, fs, hr=hr, hrv=0.0, seed=0, channels=("ppg",)).signals["ppg"]
        y = band_filtered(mirrored_spectrum(x[None].astype(np.float64)), len(x), fs, 0.5, 8.0)[0]
        rate = 60 * fs / np.median(np.diff(pulse_peaks(y, fs)))
        assert rate == pytest.approx(hr, rel=0.05)
    y = _pulse_train(60.0, 0.5, every=8)
    raw, _ = find_peaks(y, distance=int(0.3 * fs), prominence=0.85 * y.std())
    assert np.array_equal(drop_dicrotic(y, raw), raw)


def test_ppg_perfusion_only_where_dc_is_meaningful() -> None:
    _, ppg, _ = _clean(72.0)
    assert np.isfinite(ppg_terms(ppg, FS)["perfusion"][0])  # DC 20, AC ~1: PI ~5 %
    ac_coupled = ppg - ppg.mean()
    assert np.isnan(ppg_terms(ac_coupled, FS)["perfusion"][0])
    weak = ppg_terms(ppg.mean() * 50 + (ppg - ppg.mean()), FS)["perfusion"][0]
    assert weak < ppg_terms(ppg, FS)["perfusion"][0]  # same AC on a 50x DC: lower PI
    # AC-coupled windows still score high from the other terms.
    assert ppg_quality(ac_coupled, FS) > 0.85


def test_nonfinite_and_bad_input() -> None:
    ecg, ppg, _ = _clean()
    bad = np.stack([ecg, ecg])
    bad[1, 100] = np.nan
    q = ecg_quality(bad, FS)
    assert q[0] > 0.9 and q[1] == 0.0
    with pytest.raises(ValueError, match="fs"):
        ppg_quality(ppg, 20.0)
    with pytest.raises(ValueError, match="shape"):
        ecg_quality(np.zeros((2, 2, T)), FS)


# ---------------------------------------------------------------- combination and levels
def test_levels_and_combination() -> None:
    assert LEVEL_NAMES == ("bad", "poor", "acceptable", "good", "excellent")
    q = np.array([0.0, 0.29, 0.3, 0.5, 0.69, 0.7, 0.9, 1.0, np.nan])
    np.testing.assert_array_equal(quality_level(q), [0, 0, 1, 2, 2, 3, 4, 4, 0])
    np.testing.assert_array_equal(quality_level(q[:3], (0.8, 0.6, 0.4, 0.2)), [0, 1, 1])
    with pytest.raises(ValueError, match="decreasing"):
        quality_level(q, (0.3, 0.5, 0.7, 0.9))
    with pytest.raises(ValueError, match="decreasing"):  # NaN had passed, shifting every level
        quality_level(q, (0.9, float("nan"), 0.5, 0.3))
    np.testing.assert_array_equal(quality_level([0.95, 0.2], (np.inf, 0.7, 0.5, 0.3)), [3, 0])
    e, p = np.array([1.0, 0.4, np.nan, 0.2]), np.array([0.6, np.nan, 0.8, 0.1])
    ep, pp = np.array([True, True, False, False]), np.array([True, False, True, False])
    np.testing.assert_allclose(combined_quality(e, p, ep, pp), [0.8, 0.4, 0.8, 0.0])


def test_score_windows_masks_absent_modalities() -> None:
    rng = np.random.default_rng(2)
    ecg, ppg, _ = _clean()
    x = np.zeros((3, 2, T), np.float32)
    x[:, 0], x[:, 1] = ppg, ecg
    x[2, 0] = ppg.mean() + ppg.std() * rng.standard_normal(T)
    mask = np.array([[True, True], [False, True], [True, True]])
    s = score_windows(x, mask, FS, ("ppg", "ecg_ii"))
    assert np.isnan(s.ppg[1]) and np.isfinite(s.ecg).all()
    assert s.q[1] == pytest.approx(s.ecg[1])
    assert s.q[0] == pytest.approx((s.ecg[0] + s.ppg[0]) / 2)
    assert s.level[0] == 4 and s.q[2] < s.q[0] and s.level[2] < s.level[0]
    assert s.level.dtype == np.int8 and len(s) == 3
    only_ecg = score_windows(x[:, 1:], mask[:, 1:], FS, ("ecg_ii",))
    assert np.isnan(only_ecg.ppg).all()
    np.testing.assert_allclose(only_ecg.q, only_ecg.ecg)
    with pytest.raises(ValueError, match="channel names"):
        score_windows(x, mask, FS, ("ppg",))
    # monitor labels would read as absent channels, every window "bad": refused, mapped
    with pytest.raises(ValueError, match=r"\['PLETH', 'II'\] are monitor labels.*\['ppg', "
                                         r"'ecg_ii'\].*canonical_names"):
        score_windows(x, mask, FS, ("PLETH", "II"))
    # names of neither modality, or NaN in a present channel, would score every window 0
    with pytest.raises(ValueError, match=r"none of the channels \['a', 'b'\] is a PPG"):
        score_windows(x, mask, FS, ("a", "b"))
    gap = x.copy()
    gap[2, 0, 100:200] = np.nan
    with pytest.raises(ValueError, match=r"channel ppg: rows 2\b"):
        score_windows(gap, mask, FS, ("ppg", "ecg_ii"))
    gap_mask = mask.copy()
    gap_mask[2, 0] = False  # the same NaN in a channel marked absent is not read
    assert np.isnan(score_windows(gap, gap_mask, FS, ("ppg", "ecg_ii")).ppg[2])
    # nor is a channel of neither modality (abp): its NaN had been refused as if scored
    with_abp = np.concatenate([x, gap[:, :1]], axis=1)
    both = score_windows(with_abp, np.c_[mask, np.ones(3, bool)], FS, ("ppg", "ecg_ii", "abp"))
    np.testing.assert_array_equal(both.q, score_windows(x, mask, FS, ("ppg", "ecg_ii")).q)
    # recorded, thresholds and rules are keywords: a recorded row passed fifth is not taken
    # for the level thresholds
    with pytest.raises(TypeError, match="positional"):
        score_windows(x, mask, FS, ("ppg", "ecg_ii"), np.array([True, True]))


def test_column_median_is_numpys_median_exactly() -> None:
    """The sort-based median of the beat templates gives numpy's values bit for bit: odd and
    even counts, ties, one row, and NaN (propagated as numpy does)."""
    from qualityfm.quality._common import column_median

    rng = np.random.default_rng(0)
    for shape in ((1, 5), (2, 7), (7, 40), (30, 181)):
        a = rng.standard_normal(shape)
        assert np.array_equal(column_median(a), np.median(a, axis=0))
        tied = np.round(a, 1)
        assert np.array_equal(column_median(tied), np.median(tied, axis=0))
    a = rng.standard_normal((6, 4))
    a[2, 1] = np.nan
    assert np.array_equal(column_median(a), np.median(a, axis=0), equal_nan=True)
    assert np.isnan(column_median(a)[1])


def test_an_ecg_lead_off_for_part_of_the_window_costs_its_share() -> None:
    """A lead off (flat) for 40 % of a window had left the ECG score at 0.996: the beats on
    either side passed every rule. The flat share now costs its part, as for the PPG."""
    from qualityfm.quality import ecg_quality
    from qualityfm.signal.synthetic import synthesize

    ecg = synthesize(30, fs=250.0, hr=75, seed=3).signals["ecg_ii"].astype(float)
    clean = ecg_quality(ecg, 250.0)
    off = ecg.copy()
    off[:3000] = 0.0  # the first 12 s of 30
    assert clean > 0.99 and ecg_quality(off, 250.0) == pytest.approx(clean * 0.6, abs=0.01)


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_lead_off_of_a_few_microvolts_of_noise_costs_its_share_wherever_it_lies(
        where: str) -> None:
    """A lead off showing 10 uV of noise is no flat stretch: at a window's end it had cost
    nothing (0.996 for 12 s of 30), in the middle 0.906; its stretch without a beat costs its
    share now, as the same stretch held flat does."""
    from qualityfm.quality import ecg_quality
    from qualityfm.quality._common import beatless_share

    fs = 250.0
    ecg = synthesize(30, fs=fs, hr=75, seed=0, channels=("ecg_ii",)).signals["ecg_ii"]
    ecg = ecg.astype(float)
    start = {"first": 0, "middle": 9, "last": 18}[where] * int(fs)
    noisy, flat = ecg.copy(), ecg.copy()
    noisy[start:start + 3000] = 0.01 * np.random.default_rng(0).standard_normal(3000)
    flat[start:start + 3000] = 0.0
    assert ecg_quality(noisy, fs) == pytest.approx(ecg_quality(flat, fs), abs=0.02)
    assert ecg_quality(noisy, fs) < 0.62
    assert beatless_share(np.arange(0, 7500, 200), 7500, fs) == 0.0  # a rhythm: no share
    assert ecg_quality(ecg, fs) > 0.99


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_ppg_sensor_off_showing_a_little_noise_costs_its_share(where: str) -> None:
    """A PPG sensor off for 10 s of 30 showing noise of 1 % of the pulse's SD is no flat
    stretch: it had scored 0.81 ("good"; held flat 0.54); its stretch without a pulse costs
    its share now, as the ECG's does."""
    from qualityfm.quality import ppg_quality, ppg_terms

    fs = 125.0
    ppg = synthesize(30, fs=fs, hr=75, seed=0, channels=("ppg",)).signals["ppg"].astype(float)
    start = {"first": 0, "middle": 10, "last": 20}[where] * int(fs)
    noisy, flat = ppg.copy(), ppg.copy()
    rest = ppg[start:start + 1250].mean()
    noise = 0.01 * ppg.std() * np.random.default_rng(0).standard_normal(1250)
    noisy[start:start + 1250] = rest + noise
    flat[start:start + 1250] = rest
    assert ppg_quality(noisy, fs) == pytest.approx(ppg_quality(flat, fs), abs=0.08)
    assert ppg_quality(noisy, fs) < 0.62
    assert ppg_terms(noisy, fs)["pulseless"][0] > 0.25
    assert ppg_terms(ppg, fs)["pulseless"][0] == 0.0 and ppg_quality(ppg, fs) > 0.9


def test_clean_pulses_beside_a_large_artefact_or_a_louder_stretch_are_no_stretch_off() -> None:
    """Pulses are found against the window's spread: beside a 2-s artefact 30 times a clean
    pulse, or after the pulse grew 6 times (a probe seated again), the clean ones had been
    charged as a stretch without a pulse (0.04 and 0.44, against 0.39 and 0.73 before the
    charge): a stretch whose own alike pulses are found is none."""
    from qualityfm.quality import ppg_quality, ppg_terms

    fs = 125.0
    ppg = synthesize(30, fs=fs, hr=75, seed=0, channels=("ppg",)).signals["ppg"].astype(float)
    t = np.arange(len(ppg)) / fs
    burst = ppg.copy()
    inside = (t >= 10) & (t < 12)
    burst[inside] += 30 * ppg.std() * np.sin(2 * np.pi * 1.5 * t[inside])
    louder = ppg.copy()
    louder[t >= 15] = ppg.mean() + 6 * (ppg[t >= 15] - ppg.mean())
    for x in (burst, louder):
        assert ppg_terms(x, fs)["pulseless"][0] == 0.0
    assert ppg_quality(burst, fs) > 0.35 and ppg_quality(louder, fs) > 0.7


def test_a_sensor_off_after_one_pulse_or_after_hidden_pulses_costs_its_share() -> None:
    """A sensor off after one pulse had cost nothing (0.40, "poor"; after two pulses 0.03),
    no stretch read under two beats; a sensor off after pulses hidden by louder ones had been
    forgiven whole with them (pulseless 0)."""
    from qualityfm.quality import ppg_quality, ppg_terms

    fs = 125.0
    ppg = synthesize(30, fs=fs, hr=75, seed=0, channels=("ppg",)).signals["ppg"].astype(float)
    t = np.arange(len(ppg)) / fs
    rest = ppg.mean() + 0.01 * ppg.std() * np.random.default_rng(0).standard_normal(len(ppg))
    for keep in (0.5, 0.9):  # one pulse, two pulses
        x = np.where(t < keep, ppg, rest)
        assert ppg_terms(x, fs)["pulseless"][0] > 0.9 and ppg_quality(x, fs) < 0.1
    x = np.where(t < 12, ppg.mean() + 6 * (ppg - ppg.mean()), np.where(t < 16, ppg, rest))
    assert ppg_terms(x, fs)["pulseless"][0] == pytest.approx(13.2 / 30, abs=0.03)


def test_a_ppg_pulse_near_200_bpm_scores_alike_at_every_rate() -> None:
    """Pulses 0.3 s apart had been cut down to whole samples (0.288 s at 62.5 Hz): a 200-bpm
    pulse scored 0.94 there, "excellent", against 0.69 at 250 Hz."""
    from qualityfm.quality import ppg_quality
    from qualityfm.signal.resample import resample

    ppg = synthesize(30, fs=1000.0, hr=200, seed=0, channels=("ppg",)).signals["ppg"]
    scores = [ppg_quality(resample(ppg.astype(float), 1000.0, fs), fs)
              for fs in (62.5, 75.0, 125.0, 250.0)]  # 75 Hz: 22.5 samples, a half up, not 22
    assert max(scores) - min(scores) < 0.05, scores


def test_vectorised_rr_helpers_equal_their_plain_definitions() -> None:
    """The dRR scatter's bins of every sliding window, and the template matches of sample
    entropy, computed at once: the counts of their plain definitions, exactly."""
    from qualityfm.quality.features import _drr_bins_windows, _match_counts

    rng = np.random.default_rng(3)
    for _ in range(50):
        drr = rng.normal(0, rng.choice([0.01, 0.08, 0.4]), int(rng.integers(4, 40)))
        width = int(rng.integers(3, len(drr) + 1))
        q = np.floor((np.clip(drr, -0.6, 0.6) + 0.02) / 0.04).astype(int)
        plain = [len(set(zip(q[i:i + width - 1].tolist(), q[i + 1:i + width].tolist(),
                             strict=True))) / (width - 1) for i in range(len(drr) - width + 1)]
        np.testing.assert_array_equal(_drr_bins_windows(drr, width), plain)
        x = rng.normal(0, 1, int(rng.integers(5, 30)))
        m, tol = int(rng.integers(1, 4)), 0.5
        if len(x) <= m + 1:
            continue
        counts = []
        for k in (m, m + 1):
            emb = np.array([x[i:i + k] for i in range(len(x) - m)])
            d = np.abs(emb[:, None, :] - emb[None, :, :]).max(axis=2)
            counts.append(int((d <= tol).sum() - len(emb)))
        assert _match_counts(x, m, tol) == tuple(counts)


def test_the_array_entry_points_name_a_rate_given_as_text_and_take_no_mask() -> None:
    """``ecg_quality(x, "300")`` had failed inside NumPy (``ufunc 'isfinite' not
    supported``); ``score_windows(x, None, fs)`` had refused the missing mask, which every
    other array entry point takes (a flat channel is absent)."""
    r = synthesize(30.0, fs=300.0, seed=0)
    for score in (ecg_quality, ppg_quality):
        with pytest.raises(ValueError, match=r"fs must be a finite rate >= 50 Hz, got '300'"):
            score(r.signals["ecg_ii"], "300")
    x = np.stack([r.signals["ppg"][:9000], r.signals["ecg_ii"][:9000]])[None]
    x = np.concatenate([x, 0 * x, x])
    x[2, 0] = 0.0  # no PPG there
    got = score_windows(x, None, 300.0)
    want = score_windows(x, np.array([[1, 1], [0, 0], [0, 1]], bool), 300.0)
    np.testing.assert_array_equal(got.level, want.level)
    np.testing.assert_array_equal(got.ppg, want.ppg)
    assert got.level[0] == 4 and got.level[1] == 0 and np.isnan(got.ppg[2])


def test_score_windows_refuses_windows_too_short_or_a_bad_rate() -> None:
    """One-sample windows (flat, so masked absent) had been scored level 0, "bad", where the
    per-modality scores refuse windows under 2 s; a bad rate is named likewise."""
    from qualityfm.quality import score_windows

    for t in (1, 599):
        with pytest.raises(ValueError, match=rf"at least 2 s long, got {t} samples at 300 Hz"):
            score_windows(np.zeros((2, 2, t)), None, 300.0)
    with pytest.raises(ValueError, match="fs must be a finite rate"):
        score_windows(np.zeros((2, 2, 600)), None, float("nan"))
    assert score_windows(np.zeros((2, 2, 600)), None, 300.0).level.tolist() == [0, 0]


def test_a_filled_gap_costs_its_share_as_a_flat_stretch_does() -> None:
    """A gap of NaN under the 20 % limit is filled by a line, which is not flat: a 6-s gap
    (20 %) had scored ECG 0.93 and PPG 0.90, "excellent", above the same stretch held flat."""
    import dataclasses

    from qualityfm.signal import WindowConfig, make_windows

    fs = 250
    rec = synthesize(30, fs=fs, hr=75, seed=3, channels=("ecg_ii", "ppg"))
    gap = dict(rec.signals)
    for c in gap:
        gap[c] = gap[c].astype(np.float64)
        gap[c][5 * fs:11 * fs] = np.nan
    w = make_windows(dataclasses.replace(rec, signals=gap), WindowConfig())
    np.testing.assert_allclose(w.filled, 0.2)
    s = score_windows(w.x, w.mask, w.fs, w.channels, recorded=w.recorded, clipped=w.clipped,
                      filled=w.filled)
    assert s.ecg[0] <= 0.8 and s.ppg[0] <= 0.8 and LEVEL_NAMES[s.level[0]] == "good"
    whole = make_windows(rec, WindowConfig())
    assert (whole.filled == 0).all()
    clean = score_windows(whole.x, whole.mask, whole.fs, whole.channels, filled=whole.filled)
    assert clean.ecg[0] > 0.99 and clean.ppg[0] > 0.95
    # on the arrays: the share given, or the flat share where that is larger
    x, fs = whole.x[0, 1], whole.fs
    assert ecg_quality(x, fs, filled=[0.3]) == pytest.approx(0.7 * clean.ecg[0], rel=1e-4)
    assert ppg_quality(whole.x[0, 0], fs, filled=0.3) == pytest.approx(0.7 * clean.ppg[0],
                                                                       rel=1e-4)
    with pytest.raises(ValueError, match="filled must hold one share per window"):
        ecg_quality(x, fs, filled=[0.1, 0.2])
    for share in (np.nan, 1.5, -1.0):  # NaN would score a present PPG NaN, as if absent
        with pytest.raises(ValueError, match=r"filled must hold shares in \[0, 1\]"):
            ppg_quality(whole.x[0, 0], fs, filled=[share])
    with pytest.raises(ValueError, match=r"filled must be \[N, C\] = \[1, 2\]"):
        score_windows(whole.x, whole.mask, whole.fs, whole.channels, filled=[0.1])


def test_the_clip_rule_falls_from_5_to_10_percent_rather_than_at_5() -> None:
    """A clean PPG with 1.5 s at its rails (5.3 % of a 30-s window, as bidmc_14's) had scored
    0: a step at 5 %. Its share now costs nothing up to 5 % and all at 10 %."""
    from qualityfm.signal.extremes import clip_factor

    np.testing.assert_allclose(clip_factor([0.0, 0.05, 0.053, 0.075, 0.1, 0.3], 0.05),
                               [1.0, 1.0, 0.94, 0.5, 0.0, 0.0])
    np.testing.assert_array_equal(clip_factor([0.0, 0.01], 0.0), [1.0, 0.0])
    for limit in (-0.05, float("nan")):  # no share: refused, not read as 0
        with pytest.raises(ValueError, match="max_clip must be a share >= 0"):
            clip_factor([0.0], limit)
    _, ppg, _ = _clean()
    ppg = ppg.astype(np.float64)
    clean = ppg_quality(ppg, FS)
    for share, factor in ((0.04, 1.0), (0.06, 0.8), (0.09, 0.2), (0.11, 0.0)):
        assert ppg_quality(ppg, FS, clip=[share]) == pytest.approx(clean * factor)
        assert ppg_terms(ppg, FS, clip=[share])["unclipped"][0] == pytest.approx(factor)
    ecg = _clean()[0]
    assert ecg_quality(ecg, FS, clip=[0.075]) == pytest.approx(0.5 * ecg_quality(ecg, FS))


@pytest.mark.parametrize("hr", [150.0, 180.0, 220.0])
def test_clean_fast_ecg_keeps_its_morphology(hr: float) -> None:
    """The beat the morphology term compares spanned -0.2 to +0.4 s whatever the rate, so past
    150 bpm it reached into the next beat, whose place jitters: clean ECG scored 0.90-0.93
    under RRRules(hr_max=250). It now fits one median RR interval."""
    from qualityfm.quality.ecg import beat_segment

    ecg = synthesize(30, fs=250.0, hr=hr, seed=0, channels=("ecg_ii",)).signals["ecg_ii"]
    assert ecg_quality(ecg, 250.0, rules=RRRules(hr_max=250)) > 0.98
    rr = int(round(250 * 60 / hr))
    before, after = beat_segment(np.arange(0, 30 * 250, rr), 250.0)
    assert before + after == rr and before == rr // 3
    assert beat_segment(np.arange(0, 30 * 250, 250), 250.0) == (50, 100)  # 60 bpm: as before


def test_float32_at_a_large_scale_scores_as_float64() -> None:
    """Beat energies overflowed float32 past a scale of about 1e8 (ADC counts of a 24-bit
    converter scaled up): a clean PPG at 1e10 had scored 0.43 and the ECG 0."""
    ecg, ppg, _ = _clean()
    for x, fn in ((ecg, ecg_quality), (ppg, ppg_quality)):
        x = x.astype(np.float64)
        for scale in (1e9, 1e10):
            assert fn((x * scale).astype(np.float32), FS) == pytest.approx(fn(x, FS), abs=1e-5)


def test_arguments_out_of_range_are_refused_by_name() -> None:
    """A NaN clipped share had scored an ECG NaN (read as absent) and a PPG 0, a negative one
    cost nothing; a 2-D x had been named with a mask shape of (); scores of two lengths
    failed in numpy's broadcast; a negative refractory period and a mask of 2 were taken."""
    from qualityfm.signal import normalize

    rec = synthesize(30, fs=300, seed=0, channels=("ecg_ii", "ppg"))
    e, p = rec.signals["ecg_ii"][:9000], rec.signals["ppg"][:9000]
    for bad in (np.nan, -5.0, 1.5):
        with pytest.raises(ValueError, match=r"clip must hold shares in \[0, 1\]"):
            ecg_quality(e, 300, clip=bad)
        with pytest.raises(ValueError, match=r"clip must hold shares in \[0, 1\]"):
            ppg_quality(p, 300, clip=bad)
        with pytest.raises(ValueError, match=r"clip must hold shares in \[0, 1\]"):
            score_windows(np.stack([p, e])[None], None, 300, clipped=np.full((1, 2), bad))
    assert ecg_quality(e, 300, clip=0.0) > 0.8  # a share in range still scores
    with pytest.raises(ValueError, match=r"x must be windows \[N, C, T\], got shape "
                                         r"\(2, 9000\) \(one window\? x\[None\]\)"):
        score_windows(np.stack([p, e]), None, 300)
    with pytest.raises(ValueError, match=r"mask must be bool \(or 0/1\)"):
        score_windows(np.stack([p, e])[None], np.array([[2, 1]]), 300)
    with pytest.raises(ValueError, match=r"one shape \[N\] \(or broadcast to one: a flag "
                                         r"for all\), got \{'ecg_q': \(3,\), 'ppg_q': \(2,\)"):
        combined_quality([0.9, 0.1, 0.3], [0.5, 0.7], [1, 0, 1], [1, 1])
    np.testing.assert_allclose(combined_quality([0.8, 0.4], [0.6, 0.2], True, [True, False]),
                               [0.7, 0.4])  # a flag for all broadcasts, as it always has
    with pytest.raises(ValueError, match=r"one shape \[N\]"):  # not into a table
        combined_quality(np.array([[0.9], [0.1], [0.5]]), [0.8, 0.2, 0.4], [1, 1, 1], [1, 1, 1])
    with pytest.raises(ValueError, match=r"refractory must be the shortest RR interval"):
        detect_r_peaks(e, 300, refractory=-1)
    with pytest.raises(ValueError, match=r"mask must be bool \(or 0/1\)"):
        normalize(np.stack([p, e])[None], np.array([[2, 1]]))


def test_flat_fraction_leaves_missing_samples_out() -> None:
    """NaN is missing, not flat: a gap (its filled line had read as flat) and a block of one
    or two recorded samples (no spread to judge) count as no flat stretch; a flat stretch
    beside a gap still does."""
    from qualityfm.quality._common import flat_fraction

    x = np.sin(2 * np.pi * 1.2 * np.arange(7500) / 250)
    gap = x.copy()
    gap[126:1000] = np.nan  # one sample left in its first block
    sparse = x.copy()
    for k in range(10):
        sparse[k * 125 + 2:(k + 1) * 125] = np.nan
    off = gap.copy()
    off[2500:3750] = 0.3  # 10 of the 60 blocks flat
    np.testing.assert_array_equal(flat_fraction(np.stack([x, gap, sparse, off]), 250),
                                  [0.0, 0.0, 0.0, 10 / 60])
    assert flat_fraction(np.full((1, 7500), np.nan), 250)[0] == 0.0


def test_rr_rules_refuse_peaks_out_of_order_and_a_window_of_no_length() -> None:
    """Reversed peaks had read every beat bad (rrSQI 0) and seconds=0 a window of the rules'
    own length, both unsaid."""
    peaks = np.arange(40) * 250
    assert rr_sqi(peaks, 250.0) == 1.0
    with pytest.raises(ValueError, match=r"peaks must be increasing sample indices, got a step "
                                         r"of -250 samples at position 1"):
        rr_sqi(peaks[::-1], 250.0)
    with pytest.raises(ValueError, match="increasing"):
        bad_beats(np.array([0, 250, 250, 500]), 250.0)
    with pytest.raises(ValueError, match=r"seconds must be a window's length > 0, got 0"):
        rr_sqi(peaks, 250.0, seconds=0)


def test_no_r_peak_is_seen_on_a_window_edge() -> None:
    """The mirrored band-pass is flat at a window's ends, so the S wave of a beat whose R lay
    just before the window had refined onto sample 0: a beat 15 ms from the last real one,
    two beats flagged (0.85 against 0.92 on a clean 30-s window of v198s)."""
    fs = 300.0
    t = np.arange(int(40 * fs)) / fs
    beats = np.arange(0.3, 40.0, 0.8)
    x = sum(np.exp(-0.5 * ((t - b) / 0.012) ** 2)
            - 0.6 * np.exp(-0.5 * ((t - b - 0.04) / 0.02) ** 2) for b in beats)
    n = int(10 * fs)
    for lag in (0.005, 0.01, 0.015):  # the window starts after an R, within its S wave
        start = int(round((beats[5] + lag) * fs))
        peaks = detect_r_peaks(x[start:start + n], fs)[0]
        inside = (beats * fs - start)[(beats * fs > start) & (beats * fs < start + n)]
        assert peaks.min() > 0 and peaks.max() < n - 1
        assert len(peaks) == len(inside)
        np.testing.assert_allclose(peaks, inside, atol=2)


# ---------------------------------------------------------------- pacemaker stimuli
@pytest.mark.parametrize("fs", [250.0, 500.0])
def test_a_paced_asystole_scores_low_natively_and_in_its_windows(fs: float) -> None:
    """Stimuli of 5 mV once a second over 5 uV of noise, no QRS (docs/results.md): they had
    scored 1.0 as ECG quality at the record's rate, every stimulus a beat, and so in the
    store's 300-Hz windows. They are taken out at the record's own rate (signal.pacing)."""
    from qualityfm.io import Record
    from qualityfm.signal import WindowConfig, make_windows

    x = 0.005 * np.random.default_rng(0).standard_normal(int(60 * fs))
    x[np.arange(int(fs // 2), len(x), int(fs))] += 5.0
    assert ecg_quality(x[: int(30 * fs)], fs) < 0.1
    assert len(detect_r_peaks(x[: int(30 * fs)], fs)[0]) != 30
    w = make_windows(Record("paced", {"ecg_ii": x}, {"ecg_ii": fs}),
                     WindowConfig(channels=("ecg_ii",)))
    scores = score_windows(w.x, w.mask, w.fs, w.channels, recorded=w.recorded,
                           clipped=w.clipped, filled=w.filled)
    assert len(scores) == 2 and (scores.ecg < 0.1).all()


def test_score_windows_names_windows_of_no_numbers() -> None:
    """An object array had failed inside np.isfinite (a TypeError naming no argument) before
    the scores' own dtype check."""
    from qualityfm.quality import score_windows

    x = synthesize(30, fs=300.0, channels=("ppg", "ecg_ii"))
    w = np.stack([x.signals["ppg"], x.signals["ecg_ii"]])[None].astype(np.float64)
    for bad in (w.astype(object), w.astype(complex)):
        for mask in (None, np.ones((1, 2), bool)):
            with pytest.raises(ValueError, match=f"x must be real numbers, got dtype {bad.dtype}"):
                score_windows(bad, mask, 300.0)


def test_median_of_beat_intervals_is_numpys_median_exactly() -> None:
    """_common.median (the beat intervals' median by one sort: numpy's had cost 10x on a
    window's few dozen intervals) gives float(np.median) for every input."""
    from qualityfm.quality._common import median

    rng = np.random.default_rng(0)
    cases = [rng.integers(0, 900, n) for n in (1, 2, 3, 4, 35, 36)]
    cases += [np.array([3, 3, 4, 4]), np.array([2**53 + 1, 2**53 + 3], dtype=np.int64),
              np.array([7, 8], dtype=np.uint16), np.array([0.5, np.nan, 2.0]),
              np.array([1.5, 2.5]), np.array([[1, 2], [3, 4]])]
    for a in cases:
        got, want = median(a), float(np.median(a))
        assert type(got) is float and (got == want or (np.isnan(got) and np.isnan(want))), a
