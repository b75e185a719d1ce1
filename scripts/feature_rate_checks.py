"""How the classical features' rhythm columns depend on the sampling rate and on where a window
starts (docs/quality.md, "Classical features: rate and window limits").

    PYTHONPATH=src .venv/bin/python scripts/feature_rate_checks.py

1. Sinus RR series (0.8 s, 8 ms respiratory swing, 5 ms jitter; 200 seeds), each R peak put on
   the sample grid of 125-1000 Hz: the median of ``rr_features``' sample entropy, turning-point
   ratio and normalised RMSSD at each rate, and of the unrounded series.
2. A hand-made bigeminy (R waves 0.55 s then 1.0 s apart, a pulse 0.2 s after each beat):
   ``ecg1_hr``, ``ppg_hr`` and ``d_hr_ecg_ppg`` of 30-s windows starting 0, 0.6 and 1.0 s in,
   and ``c_sd_ratio`` of its ECG at 125-500 Hz.
"""

from __future__ import annotations

import numpy as np

from qualityfm.quality.features import (
    ECG_NAMES,
    RR_NAMES,
    ecg_features,
    feature_names,
    rr_features,
    signal_features,
)


def sinus_intervals(rng: np.random.Generator, n: int = 38) -> np.ndarray:
    phase = rng.uniform(0, 2 * np.pi)
    return 0.8 + 0.008 * np.sin(2 * np.pi * 0.2 * np.arange(n) + phase) \
        + 0.005 * rng.standard_normal(n)


def quantisation() -> None:
    rng = np.random.default_rng(0)
    series = [np.cumsum(sinus_intervals(rng)) for _ in range(200)]
    cols = ("sampen", "tpr", "rmssd")
    at = {n: i for i, n in enumerate(RR_NAMES)}
    print("sinus RR series on each rate's sample grid (medians of 200):")
    for fs in (125, 250, 300, 500, 1000, None):
        rows = []
        for t in series:
            if fs is None:  # unrounded: peaks in ms at 1 MHz, a grid far under any jitter
                rows.append(rr_features(np.round(t * 1e6).astype(np.int64), 1e6))
            else:
                rows.append(rr_features(np.round(t * fs).astype(np.int64), float(fs)))
        med = {c: float(np.nanmedian([r[at[c]] for r in rows])) for c in cols}
        print(f"  {'unrounded' if fs is None else f'{fs} Hz':>9}: "
              + ", ".join(f"{c} {v:.3f}" for c, v in med.items()))


def bigeminy(fs: float, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(int(seconds * fs)) / fs
    beats = 0.3 + np.concatenate([[0.0], np.cumsum(np.tile([0.55, 1.0], int(seconds)))])
    beats = beats[beats < seconds - 0.3]

    def bumps(at: np.ndarray, width: float) -> np.ndarray:
        return np.exp(-0.5 * ((t[:, None] - at[None]) / width) ** 2).sum(axis=1)

    ecg = (bumps(beats, 0.01) - 0.2 * bumps(beats + 0.03, 0.01)
           + 0.25 * bumps(beats + 0.25, 0.04) + 0.12 * bumps(beats - 0.16, 0.02))
    ecg += 0.003 * np.random.default_rng(0).standard_normal(len(t))
    return ecg, 10.0 + bumps(beats + 0.2, 0.08)


def bigeminy_checks() -> None:
    fs = 250.0
    ecg, ppg = bigeminy(fs, 40.0)
    ix = {n: i for i, n in enumerate(feature_names())}
    print("bigeminy (0.55 / 1.0 s, mean rate 77.4 bpm), 30-s windows at 250 Hz:")
    for start in (0.0, 0.6, 1.0):
        cut = slice(int(start * fs), int((start + 30) * fs))
        v = signal_features({"ecg_ii": ecg[cut], "ppg": ppg[cut]}, {"ecg_ii": fs, "ppg": fs})
        print(f"  from {start:.1f} s: ecg1_hr {v[ix['ecg1_hr']]:.1f}, ppg_hr "
              f"{v[ix['ppg_hr']]:.1f}, d_hr_ecg_ppg {v[ix['d_hr_ecg_ppg']]:.1f}")
    ratios = []
    for rate in (125.0, 250.0, 300.0, 500.0):
        e = dict(zip(ECG_NAMES, ecg_features(bigeminy(rate, 30.0)[0], rate)[0], strict=True))
        ratios.append(f"{rate:g} Hz {e['c_sd_ratio']:.2f}")
    print("  c_sd_ratio: " + ", ".join(ratios))


if __name__ == "__main__":
    quantisation()
    bigeminy_checks()
