"""Measures of arterial-line damping on real 30-s abp windows and on damped copies of them.

The abp task rejects a window as damped where its median pulse pressure is under 20 mmHg. A
moderately damped line (a kinked catheter, an air bubble) keeps more: its SBP reads low and
its DBP high. This script low-passes each window that ``bp_targets`` accepts (2nd-order
Butterworth at 3, 2.5 and 2 Hz) and prints, for the clean and the damped windows it still
accepts, three measures of damping: the median 10-90 % rise time of a beat's upstroke, the
median largest upstroke slope over the pulse pressure, and the power over 4-15 Hz against
0.5-4 Hz; the shift of the SBP and DBP it takes from each damped copy against the clean
window; then what share of each a threshold on the last would reject.

Usage (about 5 min on one core)::

    PYTHONPATH=src python scripts/abp_damping_measures.py ../shared/data/physionet2015_vt \
        ../shared/data/physionet2015_icu
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy.signal import butter, lfilter

from qualityfm.io import MissingChannelError, find_records, read_record
from qualityfm.tasks.datasets import _beat_peaks, _fill, bp_targets

CUTS = (None, 3.0, 2.5, 2.0)
SECONDS = 30.0


def measures(abp: np.ndarray, fs: float) -> tuple[float, float, float]:
    """(median rise time s, median upstroke slope / pulse pressure 1/s, 4-15 Hz power ratio)."""
    smooth, peaks = _beat_peaks(abp, fs)
    rise, slope = [], []
    for a, b in zip(peaks[:-1], peaks[1:], strict=True):
        t = a + int(np.argmin(abp[a:b]))  # the trough before the next peak
        pp = abp[b] - abp[t]
        if b - t < 2 or pp <= 0:
            continue
        up = abp[t:b + 1]
        lo = int(np.argmax(up >= abp[t] + 0.1 * pp))
        hi = int(np.argmax(up >= abp[t] + 0.9 * pp))
        rise.append((hi - lo) / fs)
        slope.append(np.max(np.diff(smooth[t:b + 1])) * fs / pp)
    f = np.fft.rfftfreq(len(abp), 1 / fs)
    power = np.abs(np.fft.rfft(abp - abp.mean())) ** 2
    ratio = power[(f >= 4) & (f < 15)].sum() / max(power[(f >= 0.5) & (f < 4)].sum(), 1e-12)
    return (float(np.median(rise)) if rise else np.nan,
            float(np.median(slope)) if slope else np.nan, float(ratio))


def main(folders: list[str]) -> None:
    accepted: dict[float | None, list[tuple[float, float, float]]] = {c: [] for c in CUTS}
    shifts: dict[float | None, list[tuple[float, float]]] = {c: [] for c in CUTS}
    tried = 0
    for folder in folders:
        for path in find_records(Path(folder)):
            try:
                rec = read_record(path, channels=["abp"])
            except MissingChannelError:  # a record without an arterial line
                continue
            except Exception as exc:  # noqa: BLE001 - named, not dropped unsaid
                print(f"skipped {path}: {exc}", file=sys.stderr)
                continue
            if "abp" not in rec.signals:
                continue
            fs, x = rec.fs["abp"], rec.signals["abp"]
            for k in range(int(len(x) / fs // SECONDS)):
                w = _fill(x[int(k * SECONDS * fs):int((k + 1) * SECONDS * fs)])
                if w is None:
                    continue
                tried += 1
                clean = bp_targets(w, fs)
                for cut in CUTS:
                    v = w if cut is None else lfilter(*butter(2, cut / (fs / 2)), w - w[0]) + w[0]
                    got = bp_targets(v, fs)
                    if not isinstance(got, str):
                        accepted[cut].append(measures(v, fs))
                        if not isinstance(clean, str):
                            shifts[cut].append((got[0] - clean[0], got[1] - clean[1]))
    print(f"{tried} windows with a filled arterial line")
    clean = np.array(accepted[None])
    for cut in CUTS:
        a = np.array(accepted[cut])
        pct = [np.nanpercentile(a[:, j], [5, 50, 95]).round(4).tolist() for j in range(3)]
        print(f"low-pass {cut or 'none'}: {len(a)} accepted; 5/50/95th percentiles: rise time "
              f"{pct[0]} s, slope/PP {pct[1]} 1/s, 4-15 Hz ratio {pct[2]}")
        if cut is not None:
            d = np.array(shifts[cut])
            print(f"  SBP shift median {np.median(d[:, 0]):.1f} mmHg (mean {d[:, 0].mean():.1f}), "
                  f"DBP {np.median(d[:, 1]):+.1f} (mean {d[:, 1].mean():+.1f}), over {len(d)} "
                  "windows accepted clean and damped")
            for th in (0.005, 0.01):
                print(f"  ratio < {th}: rejects {np.mean(clean[:, 2] < th):.3f} of the clean, "
                      f"{np.mean(a[:, 2] < th):.3f} of these")


if __name__ == "__main__":
    main(sys.argv[1:])
