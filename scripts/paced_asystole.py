"""The paced-asystole figures of docs/results.md (session 54): ECG quality of pacemaker stimuli
without a QRS, and of stimuli that capture, at 125, 250 and 500 Hz.

    PYTHONPATH=src .venv/bin/python scripts/paced_asystole.py

Run it from a worktree of an older commit (``PYTHONPATH=src`` there) to see the figures before
the stimuli were taken out. An asystole is noise of 5 uV SD over 60 s with a 5-mV one-sample
stimulus each second; a captured rhythm is a synthetic ECG at 70 bpm with 5 mV added 40 ms
before each R. ``ecg_quality`` and ``detect_r_peaks`` read the first 30 s at the record's rate;
the store's figures are ``score_windows`` on the two 30-s windows ``make_windows`` cuts.
"""

from __future__ import annotations

import warnings

import numpy as np

from qualityfm.io import Record
from qualityfm.quality import detect_r_peaks, ecg_quality, score_windows
from qualityfm.signal import WindowConfig, make_windows, synthesize


def store_scores(x: np.ndarray, fs: float) -> list[float]:
    """ECG quality of the store's windows of ``x`` (the rule ``prepare`` scores by)."""
    w = make_windows(Record("r", {"ecg_ii": x}, {"ecg_ii": fs}),
                     WindowConfig(channels=("ecg_ii",)))
    scores = score_windows(w.x, w.mask, w.fs, w.channels, recorded=w.recorded,
                           clipped=w.clipped, filled=w.filled)
    return np.round(scores.ecg, 3).tolist()


def main() -> None:
    warnings.simplefilter("ignore")
    for fs in (125.0, 250.0, 500.0):
        n = int(30 * fs)
        asystole = 0.005 * np.random.default_rng(0).standard_normal(int(60 * fs))
        asystole[np.arange(int(fs // 2), len(asystole), int(fs))] += 5.0
        rec = synthesize(60.0, fs, hr=70, seed=0, channels=("ecg_ii",))
        ecg = rec.signals["ecg_ii"].astype(np.float64)
        at = np.round(rec.labels["r_peaks"] * fs).astype(int) - int(0.04 * fs)
        captured = ecg.copy()
        captured[at[at > 2]] += 5.0
        print(f"{fs:g} Hz asystole: ecg_quality {ecg_quality(asystole[:n], fs):.3f}, "
              f"beats {len(detect_r_peaks(asystole[:n], fs)[0])}, "
              f"store {store_scores(asystole, fs)} | captured: ecg_quality "
              f"{ecg_quality(captured[:n], fs):.3f} (without the stimuli "
              f"{ecg_quality(ecg[:n], fs):.3f}), store {store_scores(captured, fs)}")


if __name__ == "__main__":
    main()
