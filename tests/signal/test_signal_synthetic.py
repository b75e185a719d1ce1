"""Synthetic generator and artifacts: repeatability, heart rate, rhythm, artifact effects."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import find_peaks

from qualityfm.signal import (
    ARTIFACT_KINDS,
    ARTIFACTS,
    clipping,
    corrupt,
    disconnection,
    filter_ecg,
    flat_line,
    synthesize,
    synthetic_alarm_records,
    synthetic_corpus,
)

FS = 300.0


def _r_peaks(ecg: np.ndarray, fs: float) -> np.ndarray:
    """Simple R-peak finder: peaks of the band-passed ECG above half its 99th percentile."""
    y = filter_ecg(ecg, fs, highpass=5.0, lowpass=30.0)
    y = np.abs(y)
    peaks, _ = find_peaks(y, height=0.5 * np.percentile(y, 99.5), distance=int(0.25 * fs))
    return peaks / fs


def test_repeatable_with_seed() -> None:
    a = synthesize(20, seed=3, artifacts={"noise": 0.5, "motion": 0.5})
    b = synthesize(20, seed=3, artifacts={"noise": 0.5, "motion": 0.5})
    c = synthesize(20, seed=4, artifacts={"noise": 0.5, "motion": 0.5})
    for ch in ("ecg_ii", "ppg", "abp"):
        np.testing.assert_array_equal(a.signals[ch], b.signals[ch])
    assert not np.array_equal(a.signals["ecg_ii"], c.signals["ecg_ii"])
    assert a.units == {"ecg_ii": "mV", "ppg": "NU", "abp": "mmHg"}
    assert all(v.dtype == np.float32 and len(v) == 6000 for v in a.signals.values())


def test_a_channel_is_the_same_whichever_others_are_asked_for() -> None:
    art = {"noise": 0.5, "motion": 0.5}
    full = synthesize(20, seed=3, artifacts=art)
    ecg = synthesize(20, seed=3, artifacts=art, channels=("ecg_ii",))
    ppg = synthesize(20, seed=3, artifacts=art, channels=("ppg", "abp"))
    assert list(ecg.signals) == ["ecg_ii"] and list(ppg.signals) == ["ppg", "abp"]
    np.testing.assert_array_equal(ecg.signals["ecg_ii"], full.signals["ecg_ii"])
    for ch in ("ppg", "abp"):
        np.testing.assert_array_equal(ppg.signals[ch], full.signals[ch])


@pytest.mark.parametrize("hr", [55.0, 75.0, 110.0])
def test_heart_rate_from_r_peaks(hr: float) -> None:
    rec = synthesize(60, FS, hr=hr, seed=1)
    peaks = _r_peaks(rec.signals["ecg_ii"], FS)
    measured = 60.0 / np.median(np.diff(peaks))
    assert measured == pytest.approx(hr, rel=0.05)
    # the detected peaks are the generator's R waves
    truth = rec.labels["r_peaks"]
    assert abs(len(peaks) - len(truth)) <= 1


def test_af_rr_more_irregular_than_sinus() -> None:
    def cv(rhythm: str) -> float:
        rr = np.diff(_r_peaks(synthesize(60, FS, hr=80, rhythm=rhythm, seed=2).signals["ecg_ii"],
                              FS))
        return float(np.std(rr) / np.mean(rr))

    assert cv("af") > 3 * cv("sinus")
    assert synthesize(5, rhythm="af").labels["rhythm"] == "A"


def test_vt_is_fast_and_run_placed() -> None:
    rec = synthesize(40, FS, hr=70, vt_runs=[(20.0, 10.0)], vt_hr=180, seed=0)
    peaks = _r_peaks(rec.signals["ecg_ii"], FS)
    inside = peaks[(peaks > 21) & (peaks < 29)]
    before = peaks[(peaks > 2) & (peaks < 18)]
    assert 60 / np.median(np.diff(inside)) == pytest.approx(180, rel=0.08)
    assert 60 / np.median(np.diff(before)) == pytest.approx(70, rel=0.08)
    assert rec.labels["hr"] == 70.0  # the record's sinus rate around its run
    vt = synthesize(30, FS, rhythm="vt", vt_hr=170, seed=1)  # its label had said hr's 75
    beats = vt.labels["r_peaks"]
    assert vt.labels["hr"] == 170.0 == pytest.approx(60 / np.median(np.diff(beats)), rel=0.05)


def test_abp_follows_parameters() -> None:
    rec = synthesize(30, FS, sbp=140, dbp=85, seed=0)
    abp = rec.signals["abp"]
    assert abp.max() == pytest.approx(140, abs=8) and abp.min() == pytest.approx(85, abs=4)


@pytest.mark.parametrize("kind", [k for k in ARTIFACT_KINDS if k not in ("clipping", "flat")])
def test_artifact_power_grows_with_strength(kind: str) -> None:
    clean = synthesize(30, FS, seed=0).signals["ecg_ii"]
    power = [np.mean((ARTIFACTS[kind](clean, FS, 7, s) - clean) ** 2) for s in (0.0, 0.3, 1.0)]
    assert power[0] == 0.0 and 0 < power[1] < power[2]


def test_a_seed_or_a_generator_draws_alike_and_a_generator_is_drawn_from() -> None:
    """Artifacts and the generator take a seed or a Generator (drawn from, not copied)."""
    clean = synthesize(10, FS, seed=0).signals["ecg_ii"]
    for kind, add in ARTIFACTS.items():
        g = np.random.default_rng(7)
        first = add(clean, FS, g, 0.5)
        np.testing.assert_array_equal(first, add(clean, FS, 7, 0.5), err_msg=kind)
        assert not np.array_equal(first, add(clean, FS, g, 0.5)), kind
    g = np.random.default_rng(5)
    np.testing.assert_array_equal(synthesize(10, FS, seed=g).signals["ppg"],
                                  synthesize(10, FS, seed=5).signals["ppg"])
    assert not np.array_equal(synthesize(10, FS, seed=g).signals["ppg"],
                              synthesize(10, FS, seed=5).signals["ppg"])


def test_clipping_clips_and_flat_is_flat() -> None:
    clean = synthesize(30, FS, seed=0).signals["ecg_ii"]
    c = clipping(clean, FS, 0, 1.0)
    assert c.max() < 0.7 * clean.max()
    assert np.sum(c == c.max()) > 20  # saturated stretches, not one sample
    f = flat_line(clean, FS, 0, 0.6)
    changed = np.flatnonzero(f != clean)
    seg = f[changed.min(): changed.max() + 1]
    assert np.ptp(seg) == 0 and len(seg) > 0.25 * len(clean)
    d = disconnection(clean, FS, 0, 0.5)
    assert np.sum(d == 0) >= 0.5 * len(clean) - 1
    with pytest.raises(ValueError, match="strength"):
        clipping(clean, FS, 0, 1.5)


def test_corrupt_by_default_uses_the_kinds_that_apply_at_the_rate() -> None:
    """No mains hum at or below 100 Hz: the default kinds had included powerline there, so a
    call failed or not by its seed."""
    x = np.random.default_rng(0).standard_normal((4, 2, 3000))
    for fs in (50.0, 62.5, 100.0):
        for seed in range(10):
            _, s = corrupt(x, fs, seed, return_strengths=True)
            assert "powerline" not in s
    assert "powerline" in corrupt(x, 125.0, 0, return_strengths=True)[1]
    with pytest.raises(ValueError, match="no mains frequency"):
        corrupt(x, 100.0, 0, kinds=["powerline"])
    from qualityfm.signal.synthetic import synthetic_corpus

    for seed in range(6):  # its artifact spans too (seeds 1, 2, 3, 5 had failed at 100 Hz)
        assert len(synthetic_corpus(2, 120, seed=seed, fs=100.0)) == 2


def test_corrupt_windows_pairs() -> None:
    rec = synthesize(60, FS, seed=0)
    x = np.stack([rec.signals["ppg"], rec.signals["ecg_ii"]]).reshape(2, 2, 9000).transpose(1, 0, 2)
    y, s = corrupt(x, FS, 0, return_strengths=True)
    assert y.shape == x.shape and y.dtype == np.float32 and x is not y
    assert all(v.shape == (2, 2) for v in s.values())
    assert (sum(s.values()) > 0).any(axis=1).all()  # every window corrupted somewhere
    assert not np.array_equal(y, x)
    y2 = corrupt(x, FS, 0)
    np.testing.assert_array_equal(y, y2)
    only_noise = corrupt(x[0], FS, 1, kinds=["noise"], strength=0.5)
    assert only_noise.shape == (2, 9000)
    with pytest.raises(ValueError, match="unknown artifact"):
        corrupt(x, FS, 0, kinds=["smoke"])


def test_corpus_quality_varies_over_time() -> None:
    recs = synthetic_corpus(2, seconds=120, seed=5)
    again = synthetic_corpus(2, seconds=120, seed=5)
    np.testing.assert_array_equal(recs[1].signals["ppg"], again[1].signals["ppg"])
    for rec in recs:
        s = rec.labels["artifact_strength"]
        assert s.shape == (120,) and s.dtype == np.float32
        assert ((s >= 0) & (s <= 1)).all()
        for a, b, strength, kinds, chans in rec.labels["artifact_segments"]:
            assert np.all(s[int(np.ceil(a)): int(np.floor(b))] == np.float32(strength))
            assert set(kinds) <= set(ARTIFACT_KINDS) and chans
        assert len(rec.signals["ecg_ii"]) == 120 * 300
    assert any((r.labels["artifact_strength"] > 0).any() for r in recs)
    assert any((r.labels["artifact_strength"] == 0).any() for r in recs)


def test_alarm_records() -> None:
    recs = synthetic_alarm_records(12, seed=1, seconds=60.0, fs=250.0)
    truth = [r.labels["alarm_true"] for r in recs]
    assert sum(truth) == 4 and len(set(r.patient_id for r in recs)) == 12
    for r in recs:
        assert r.labels["alarm_type"] == "Ventricular_Tachycardia"
        assert r.events["alarm"] == 60.0 and "ecg_ii" in r.signals
        runs = r.labels["vt_runs"]
        if r.labels["alarm_true"]:
            assert len(runs) == 1 and 50.0 <= runs[0][0] <= 56.0
            peaks = r.labels["r_peaks"]
            last = peaks[peaks > runs[0][0]]
            assert 60 / np.median(np.diff(last)) > 130
        else:
            assert runs == []
    assert any("ppg" not in r.signals for r in synthetic_alarm_records(20, seed=2, seconds=40.0))
    again = synthetic_alarm_records(12, seed=1, seconds=60.0, fs=250.0)
    np.testing.assert_array_equal(recs[3].signals["ecg_ii"], again[3].signals["ecg_ii"])


def test_rates_and_variability_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="hrv .* must be in 0-0.5, got 5"):
        synthesize(30, hrv=5)
    with pytest.raises(ValueError, match="vt_hr must be in 20-300 bpm, got 0"):
        synthesize(30, vt_runs=[(0, 30)], vt_hr=0)


def test_corrupt_hits_present_channels_only() -> None:
    """``present``: a window without its PPG gets its artifacts on the ECG; the channel hit
    had been the absent one (then zeroed), leaving the student the teacher's window."""
    x = np.random.default_rng(0).standard_normal((200, 2, 3000))
    x[:, 0] = 0.0  # PPG absent
    out = corrupt(x, 300.0, np.random.default_rng(1), present=np.array([False, True]))
    assert np.array_equal(out[:, 0], x[:, 0])
    assert all(not np.array_equal(out[i, 1], x[i, 1]) for i in range(200))
    both = corrupt(x, 300.0, np.random.default_rng(1), present=np.ones(2, bool))
    np.testing.assert_array_equal(both, corrupt(x, 300.0, np.random.default_rng(1)))


def test_clipping_ignores_nan_and_short_last_spans_are_skipped() -> None:
    """A few NaNs had made a clipped row all NaN; a last artifact span under half a sample
    had crashed synthetic_corpus (seed 1826 at 50 Hz)."""
    x = np.sin(np.linspace(0, 20, 1000))
    x[::100] = np.nan
    assert np.isnan(clipping(x, 300.0, 0)).sum() == 10
    assert len(synthetic_corpus(4, seconds=300.0, seed=1826, fs=50.0)) == 4


@pytest.mark.parametrize("hr", [200.0, 240.0, 250.0])
def test_fast_af_records_beat_at_their_label(hr: float) -> None:
    """The RR floor had been applied after scaling to the mean: a 250-bpm AF record's beats
    had run at 223 bpm under its label (240: 219)."""
    rec = synthesize(300, FS, hr=hr, rhythm="af", seed=0)
    beats = rec.labels["r_peaks"]
    assert rec.labels["hr"] == hr
    assert 60 * (len(beats) - 1) / (beats[-1] - beats[0]) == pytest.approx(hr, rel=0.02)
    assert np.diff(beats).min() >= 0.8 * 60 / hr - 0.01  # still a floor


def test_a_vt_record_does_not_take_its_pulses_from_hr_and_a_burst_start_is_one_burst() -> None:
    """A record VT throughout had made its pulses from hr (40 and 120 bpm gave systolic 86 and
    91 mmHg); twelve motion bursts of a 120-s signal had stacked on one start (6 x, not the
    docstring's 2 x); an empty record had failed in the artifacts' reshape."""
    from qualityfm.signal import motion, signal_scale

    peaks = [np.percentile(synthesize(30, FS, rhythm="vt", hr=hr, vt_hr=170, sbp=160, dbp=80,
                                      seed=0, noise=0).signals["abp"], 99) for hr in (40, 120)]
    assert peaks[0] == pytest.approx(peaks[1], abs=1.0)
    assert 80 + 0.25 * 80 < peaks[0] < 80 + 0.5 * 80  # about 0.35 of the pulse pressure
    x = np.sin(2 * np.pi * 1.2 * np.arange(120 * FS) / FS)
    scale = float(signal_scale(x)[0])
    worst = max(np.abs(motion(x, FS, s, 1.0, start=5.0) - x).max() / scale for s in range(10))
    assert 0.5 < worst <= 2.0
    with pytest.raises(ValueError, match="0.001 s at 250.0 Hz is no sample"):
        synthesize(0.001, 250.0, artifacts={"noise": 0.5})
