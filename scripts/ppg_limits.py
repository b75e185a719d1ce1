"""Where the PPG quality score stops following a clean signal (docs/quality.md, "Limits").

    .venv/bin/python scripts/ppg_limits.py

On clean synthetic PPG at 300 Hz (``qualityfm.signal.synthesize``, seed 0 unless said) prints
the score of short windows, of 30-s windows at fast rates with the pulses the template term
finds, the snr term of 30-s windows at 120-180 bpm, the score of 30-s windows quantised
to few levels (seeds 0-4), and the PPG and ECG scores of 30-s windows under 50 Hz mains hum
of a few times the signal's standard deviation (the scores' bands end at 25 and 40 Hz).
"""

from __future__ import annotations

import numpy as np

from qualityfm.quality import ecg_quality, ppg_quality
from qualityfm.quality._common import band_filtered, mirrored_spectrum
from qualityfm.quality.ppg import ppg_terms, pulse_peaks
from qualityfm.signal import synthesize

FS = 300.0


def clean_ppg(seconds: float, hr: float, seed: int = 0) -> np.ndarray:
    return synthesize(seconds, FS, hr=hr, seed=seed, channels=("ppg",)).signals["ppg"].astype(float)


def quantised(x: np.ndarray, levels: int) -> np.ndarray:
    return np.round((x - x.min()) / np.ptp(x) * (levels - 1))


def main() -> None:
    for seconds in (2, 3, 4, 10):
        scores = " ".join(f"{hr} bpm {ppg_quality(clean_ppg(seconds, hr), FS):.2f}"
                          for hr in (60, 70, 90))
        print(f"{seconds:>2} s: {scores}")
    for hr in (180, 200, 210, 220):
        x = clean_ppg(30, hr)
        wave = band_filtered(mirrored_spectrum(x[None]), len(x), FS, 0.5, 8.0)[0]
        found = len(pulse_peaks(wave, FS))  # the 0.5-8 Hz wave ppg_terms finds pulses on
        print(f"30 s at {hr} bpm: score {ppg_quality(x, FS):.2f}, pulses found {found} of "
              f"{int(round(hr / 2))}")
    for hr in (120, 140, 150, 160, 170, 180):  # the second harmonic in the 5-25 Hz band
        x = clean_ppg(30, hr)
        print(f"30 s at {hr} bpm: snr term {float(ppg_terms(x[None], FS)['snr'][0]):.2f}, "
              f"score {ppg_quality(x, FS):.2f}")
    for levels in (40, 50, 60):
        scores = [round(float(ppg_quality(quantised(clean_ppg(30, 75, s), levels), FS)), 2)
                  for s in range(5)]
        print(f"30 s at 75 bpm quantised to {levels} levels (seeds 0-4): {scores}")

    ecg = synthesize(30, FS, hr=75, seed=0, channels=("ecg_ii",)).signals["ecg_ii"].astype(float)
    ppg = clean_ppg(30, 75)
    for ratio in (0.0, 1.4, 4.0, 14.0):  # hum amplitude / the signal's standard deviation
        hum = np.sin(2 * np.pi * 50.0 * np.arange(len(ppg)) / FS)
        hummed = [x + ratio * x.std() * hum for x in (ppg, ecg)]
        terms = ppg_terms(hummed[0][None], FS)
        print(f"30 s at 75 bpm, 50 Hz hum {ratio:g} x SD: PPG score "
              f"{ppg_quality(hummed[0], FS):.2f} (band term {float(terms['band'][0]):.2f}, "
              f"snr term {float(terms['snr'][0]):.2f}), ECG score "
              f"{ecg_quality(hummed[1], FS):.2f}")


if __name__ == "__main__":
    main()
