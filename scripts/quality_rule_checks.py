"""The figures docs/quality.md gives for the session-38 rules (filled gaps, the clip ramp, the
ECG beat within one RR interval) and for the R-peak refractory near 240 bpm.

    PYTHONPATH=src .venv/bin/python scripts/quality_rule_checks.py [--data ../shared/data]

Run it from a worktree of an older commit (``PYTHONPATH=src`` there) to see the figures
before a rule: a clean synthetic window with a 6-s gap of NaN; clean synthetic ECG at
150-220 bpm under ``RRRules(hr_max=250)``; R peaks found at 230 and 238 bpm (seeds 0-4, 300
and 250 Hz); bidmc_14's PPG windows more than 4 % clipped. Then limits the scores keep
(docs/quality.md, "Limits the scores keep"): a sawtooth and a sine read as ECG, a burst of
noise at 20 SD in a clean window, a 0.3-Hz baseline wander of 2 and 5 SD under a clean ECG,
a PPG upside down, a PPG moved to a mean of 20-1,000, a PPG with one spike of 20 and 50
times its range, noise band-passed into the pulse band read as PPG, and a clean ECG at
50-250 Hz.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfiltfilt

from qualityfm.io import read_record
from qualityfm.quality import RRRules, detect_r_peaks, ecg_quality, ppg_quality, score_windows
from qualityfm.signal import WindowConfig, make_windows
from qualityfm.signal.synthetic import synthesize


def scores(w):
    """The windows' scores as prepare gives them (``filled`` where the code has it)."""
    kw = {"filled": w.filled} if hasattr(w, "filled") else {}
    return score_windows(w.x, w.mask, w.fs, w.channels, recorded=w.recorded,
                         clipped=w.clipped, **kw)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data", help="the shared data folder")
    data = Path(ap.parse_args().data)
    fs = 250
    rec = synthesize(30, fs=fs, hr=75, seed=3, channels=("ecg_ii", "ppg"))
    gapped = {c: rec.signals[c].astype(float) for c in ("ecg_ii", "ppg")}
    for x in gapped.values():
        x[5 * fs:11 * fs] = np.nan
    s = scores(make_windows(dataclasses.replace(rec, signals=gapped), WindowConfig()))
    print(f"30 s at 75 bpm with a 6-s gap: ECG {s.ecg[0]:.3f}, PPG {s.ppg[0]:.3f}")
    for hr in (150, 180, 200, 220):
        x = synthesize(30, fs=250, hr=hr, seed=0, channels=("ecg_ii",)).signals["ecg_ii"]
        print(f"clean ECG at {hr} bpm, hr_max 250: "
              f"{ecg_quality(x, 250, rules=RRRules(hr_max=250)):.3f}")
    for hr in (230, 238):
        for rate in (300, 250):
            found = [len(detect_r_peaks(synthesize(30, fs=rate, hr=hr, seed=k,
                                                   channels=("ecg_ii",)).signals["ecg_ii"],
                                        rate)[0]) for k in range(5)]
            print(f"R peaks at {hr} bpm, {rate} Hz, seeds 0-4: {found} of about {hr // 2}")
    w = make_windows(read_record(data / "bidmc" / "bidmc_14_Signals.csv"), WindowConfig())
    s, ci = scores(w), w.channels.index("ppg")
    for k in np.flatnonzero(w.clipped[:, ci] > 0.04):
        print(f"bidmc_14 at {w.start[k]:.0f} s: {100 * w.clipped[k, ci]:.1f} % clipped, "
              f"PPG {s.ppg[k]:.2f}")
    t = np.arange(7500) / 250
    saw = 2 * (1.25 * t % 1.0) - 1  # a 1.25-Hz sawtooth
    print(f"as ECG: a 1.25-Hz sawtooth {ecg_quality(saw, 250):.3f}, a 1.5-Hz sine "
          f"{ecg_quality(np.sin(2 * np.pi * 1.5 * t), 250):.3f}")
    clean = synthesize(30, fs=250, hr=75, seed=0, channels=("ecg_ii", "ppg"))
    ppg = clean.signals["ppg"].astype(float)
    moved = [ppg_quality(ppg - ppg.mean() + m, 250) for m in (20, 100, 300, 1000)]
    print(f"PPG {ppg_quality(ppg, 250):.3f}, upside down "
          f"{ppg_quality(2 * ppg.mean() - ppg, 250):.3f}; moved to a mean of 20, 100, 300, "
          f"1000: {', '.join(f'{q:.3f}' for q in moved)}")
    rng = np.random.default_rng(0)
    for channel, score in (("ppg", ppg_quality), ("ecg_ii", ecg_quality)):
        x = clean.signals[channel].astype(float)
        for seconds in (0.25, 1.0):
            n, y = int(seconds * 250), x.copy()
            y[500:500 + n] += 20 * x.std() * rng.standard_normal(n)
            print(f"{channel} {score(x, 250):.3f}, with {seconds:g} s of noise at 20 SD "
                  f"{score(y, 250):.3f}")
    ecg = clean.signals["ecg_ii"].astype(float)
    for size in (2, 5):
        wander = size * ecg.std() * np.sin(2 * np.pi * 0.3 * np.arange(len(ecg)) / 250)
        print(f"ECG under a 0.3-Hz wander of {size} SD: {ecg_quality(ecg + wander, 250):.3f}")
    for lo, hi in ((1, 2), (0.5, 3), (0.5, 5)):  # noise in the pulse band, as motion makes
        sos = butter(2, [lo, hi], btype="band", fs=250, output="sos")
        q = [ppg_quality(sosfiltfilt(sos, np.random.default_rng(k).standard_normal(7500)), 250)
             for k in range(10)]
        print(f"PPG of {lo:g}-{hi:g} Hz noise, seeds 0-9: {min(q):.2f}-{max(q):.2f}")
    for k in (0, 20, 50):  # one sample k x the PPG's range above it: the clip rule's range
        spiked = {c: clean.signals[c].astype(float) for c in ("ecg_ii", "ppg")}
        spiked["ppg"][3750] += k * np.ptp(spiked["ppg"])
        w = make_windows(dataclasses.replace(clean, signals=spiked), WindowConfig())
        ci = w.channels.index("ppg")
        print(f"PPG with one spike of {k} x its range: {100 * w.clipped[0, ci]:.1f} % clipped, "
              f"PPG {scores(w).ppg[0]:.3f}")
    white = [np.random.default_rng(k).standard_normal(7500) for k in range(10)]
    sos = butter(2, [5, 20], btype="band", fs=250, output="sos")
    print(f"white noise, seeds 0-9: PPG {min(ppg_quality(x, 250) for x in white):.2f}-"
          f"{max(ppg_quality(x, 250) for x in white):.2f}, ECG of it band-passed to 5-20 Hz "
          f"{max(ecg_quality(sosfiltfilt(sos, x), 250) for x in white):.2f} at most")
    for fs in (50, 62.5, 100, 125, 250):  # beats lined up on whole samples: the rate counts
        ecg = [synthesize(30, fs=fs, hr=75, seed=k, channels=("ecg_ii",)).signals["ecg_ii"]
               for k in range(10)]
        full = [ecg_quality(x, fs) for x in ecg]
        rr = [ecg_quality(x, fs, morphology=False) for x in ecg]
        print(f"clean ECG at 75 bpm and {fs:g} Hz, seeds 0-9: {min(full):.3f}-{max(full):.3f} "
              f"(rrSQI alone {min(rr):.3f}-{max(rr):.3f})")
    clean = synthesize(30, fs=250, hr=75, seed=0, channels=("ecg_ii", "ppg"))
    for channel, score in (("ecg_ii", ecg_quality), ("ppg", ppg_quality)):
        x = clean.signals[channel].astype(float)  # a step of k x its range at 20 s: the flat
        steps = [score(x + k * np.ptp(x) * (np.arange(len(x)) >= 5000), 250)  # rule's SD grows
                 for k in (3, 10, 30, 100)]
        print(f"{channel} {score(x, 250):.3f}, with a step of 3, 10, 30, 100 x its range: "
              f"{', '.join(f'{q:.3f}' for q in steps)}")


if __name__ == "__main__":
    main()
