"""Quality scores on real ICU windows, and real muscle-artifact noise lowering a clean window."""

from __future__ import annotations

import numpy as np

from helpers import shared_path
from qualityfm.io import read_record
from qualityfm.quality import detect_r_peaks, ecg_quality, score_windows
from qualityfm.signal import WindowConfig, make_windows, resample

FS = 300.0


def _windows(db: str, name: str):
    return make_windows(read_record(shared_path(db, name + ".hea")), WindowConfig(fs=FS))


def test_real_windows_scores_are_finite_and_bounded() -> None:
    for db, name in (("physionet2015_vt", "v100s"), ("physionet2015_icu", "icu0002")):
        w = _windows(db, name)
        assert len(w) >= 5
        s = score_windows(w.x, w.mask, w.fs, w.channels)
        for arr in (s.ecg, s.ppg, s.q):
            present = np.isfinite(arr)
            assert present.any()
            assert ((arr[present] >= 0) & (arr[present] <= 1)).all()
        assert np.isfinite(s.q).all() and ((s.level >= 0) & (s.level <= 4)).all()


def test_muscle_artifact_lowers_a_clean_real_window() -> None:
    w = _windows("physionet2015_icu", "icu0002")
    ecg = w.x[:, list(w.channels).index("ecg_ii")]
    q = ecg_quality(ecg, FS)
    best = int(np.argmax(q))
    assert q[best] > 0.8, "expected a clean real ECG window in icu0002"
    clean = ecg[best].astype(np.float64)
    ma = read_record(shared_path("nstdb", "ma.hea"))
    ch = next(iter(ma.signals))
    noise = resample(ma.signals[ch][: int(40 * ma.fs[ch])].astype(np.float64), ma.fs[ch], FS)
    noise = noise[: clean.size] - noise[: clean.size].mean()
    power = np.mean((clean - clean.mean()) ** 2)
    scores = []
    for snr_db in (12.0, 0.0, -6.0):
        scale = np.sqrt(power / np.mean(noise**2) / 10 ** (snr_db / 10))
        scores.append(ecg_quality(clean + scale * noise, FS))
    assert q[best] > scores[-1]
    assert scores[0] >= scores[-1]
    assert scores[-1] < 0.6


def test_a_beat_before_the_window_is_not_seen_on_its_first_sample() -> None:
    """v198s's window at 150 s starts 45 ms after an R: its S wave had been read as a beat on
    sample 0, 147 samples before the next, and the clean window as "good" (0.853, not 0.918)."""
    w = _windows("physionet2015_vt", "v198s")
    ecg = w.x[:, list(w.channels).index("ecg_ii")]
    whole = detect_r_peaks(np.concatenate(list(ecg)), FS)[0]
    n = ecg.shape[1]
    for k, peaks in enumerate(detect_r_peaks(ecg, FS)):
        inside = whole[(whole > k * n) & (whole < (k + 1) * n - 1)] - k * n
        assert peaks.min() > 0 and peaks.max() < n - 1
        if k == 5:
            np.testing.assert_array_equal(peaks[:2], [147, 369])
            assert np.isin(peaks, inside).mean() > 0.95
    assert ecg_quality(ecg[5:6], FS)[0] > 0.9


def test_an_ecg_on_its_rail_with_samples_past_it_is_clipped() -> None:
    """icu0121's ECG sits on its -0.5 mV rail after each beat from 150 s, with about 1 % of
    samples just under the rail: the extremes alone had read it 0.03 % clipped and scored
    its 210-s window 0.99; the rail at its tail level counts (a helper's audit, session 55)."""
    w = _windows("physionet2015_icu", "icu0121")
    c = list(w.channels).index("ecg_ii")
    s = score_windows(w.x, w.mask, w.fs, w.channels, recorded=w.recorded, clipped=w.clipped,
                      filled=w.filled)
    at = {int(t): k for k, t in enumerate(w.start)}
    for t in (150, 180, 210):
        assert w.clipped[at[t], c] > 0.1 and s.ecg[at[t]] == 0.0
    assert w.clipped[at[120], c] < 0.01 and s.ecg[at[120]] > 0.95  # before it: clean
