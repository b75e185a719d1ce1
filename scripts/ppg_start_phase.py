"""How much a clean PPG window's quality moves with where the window starts (docs/quality.md).

    .venv/bin/python scripts/ppg_start_phase.py [--data ../shared/data/physionet2015_vt]

The first 25 records of physionet2015_vt whose name starts with v3 that hold a PLETH: 30-s
windows at 30, 120 and 210 s, each started at 21 points 0-1 s apart; windows with a gap, a
flat stretch or an unusable channel are left out. Prints the range over the starts of the
`band` term and of the PPG score (median, 90th percentile, maximum) and the five widest.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

from qualityfm.io import read_record
from qualityfm.quality import ppg_quality
from qualityfm.quality.ppg import ppg_terms

DEFAULT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "physionet2015_vt"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT, help="physionet2015_vt folder")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    band_ranges, score_ranges = [], []
    for f in sorted(args.data.glob("v3*.hea"))[:25]:
        rec = read_record(f)
        if "ppg" not in rec.signals:
            continue
        x, fs = rec.signals["ppg"].astype(np.float64), rec.fs["ppg"]
        for w0 in (30, 120, 210):
            X = np.stack([x[int((w0 + s) * fs):int((w0 + s) * fs) + int(30 * fs)]
                          for s in np.arange(0, 1.01, 0.05)])
            if not np.isfinite(X).all() or np.ptp(X) == 0:
                continue
            terms, q = ppg_terms(X, fs), ppg_quality(X, fs)
            if terms["usable"].min() == 0:
                continue
            band_ranges.append(np.ptp(terms["band"]))
            score_ranges.append((float(np.ptp(q)), float(q.min()), float(q.max()), f.stem, w0))
    rb, rq = np.array(band_ranges), np.array([r[0] for r in score_ranges])
    print(f"{len(rb)} windows")
    for name, r in (("band term", rb), ("PPG score", rq)):
        print(f"{name} range over the starts: median {np.median(r):.3f}, "
              f"p90 {np.percentile(r, 90):.3f}, max {r.max():.3f}")
    for r in sorted(score_ranges, reverse=True)[:5]:
        print(f"  {r[3]} at {r[4]} s: {r[1]:.2f} to {r[2]:.2f}")


if __name__ == "__main__":
    main()
