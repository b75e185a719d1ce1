"""The ECG score of clean real windows with real muscle artifact added (docs/quality.md).

    .venv/bin/python scripts/ecg_noise_table.py [--data ../shared/data]

Lead II of physionet2015_icu records in name order, resampled to 300 Hz: the 30-s windows
at 0, 60, 120 ... s (up to 270 s) that are finite, not flat and score rrSQI >= 0.95
(``morphology=False``), the first 150. Each is corrupted with the nstdb ``ma`` record
(its first channel, resampled to 300 Hz; window i takes the 30 s starting at 37 i s, wrapping)
scaled to a signal-to-noise ratio (the window's variance over the noise's) of 12, 6, 3, 0 and
-6 dB. Prints the mean score of rrSQI alone and of rrSQI x correlation (the default).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

from qualityfm.io import read_record
from qualityfm.quality import ecg_quality
from qualityfm.signal import resample

DEFAULT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
FS, SECONDS, N_WINDOWS = 300.0, 30.0, 150
SNRS_DB = (12.0, 6.0, 3.0, 0.0, -6.0)


def clean_windows(folder: Path) -> np.ndarray:
    """The first ``N_WINDOWS`` clean lead-II windows of the folder's records."""
    n = int(FS * SECONDS)
    out: list[np.ndarray] = []
    for f in sorted(folder.glob("*.hea")):
        rec = read_record(f, channels=["ecg_ii"], stop=300.0)
        if "ecg_ii" not in rec.signals:
            continue
        x = resample(rec.signals["ecg_ii"].astype(np.float64), rec.fs["ecg_ii"], FS)
        for start in range(0, len(x) - n + 1, int(60 * FS)):
            w = x[start:start + n]
            if np.isfinite(w).all() and np.ptp(w) > 0 and \
                    ecg_quality(w[None], FS, morphology=False)[0] >= 0.95:
                out.append(w)
                if len(out) == N_WINDOWS:
                    return np.stack(out)
    return np.stack(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT, help="the shared data folder")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    X = clean_windows(args.data / "physionet2015_icu")
    ma = read_record(args.data / "nstdb" / "ma.hea")
    name = next(iter(ma.signals))
    noise = resample(ma.signals[name].astype(np.float64), ma.fs[name], FS)
    n = X.shape[1]
    starts = (np.arange(len(X)) * int(37 * FS)) % (len(noise) - n)
    N = np.stack([noise[s:s + n] - noise[s:s + n].mean() for s in starts])
    print(f"{len(X)} windows")
    print("| SNR | clean | " + " | ".join(f"{s:g} dB" for s in SNRS_DB) + " |")
    for label, morph in (("rrSQI alone", False), ("rrSQI x correlation", True)):
        scores = [ecg_quality(X, FS, morphology=morph).mean()]
        for snr in SNRS_DB:
            scale = np.sqrt(X.var(axis=1) / N.var(axis=1) / 10 ** (snr / 10))
            scores.append(ecg_quality(X + scale[:, None] * N, FS, morphology=morph).mean())
        print(f"| {label} | " + " | ".join(f"{s:.3f}" for s in scores) + " |")


if __name__ == "__main__":
    main()
