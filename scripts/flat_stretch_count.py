"""How many real windows hold a flat 0.5-s ECG stretch (docs/quality.md, "Flat stretches").

    .venv/bin/python scripts/flat_stretch_count.py [DATA_DIR]

For every record of physionet2015_icu, physionet2015_vt and bidmc under DATA_DIR (default
../shared/data), cuts the default windows (``make_windows``) and counts, per folder, the
windows whose model ECG channel is present and has a flat stretch
(``quality._common.flat_fraction`` > 0), and of those the windows that take lead II itself.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

from qualityfm.io import find_records, read_record
from qualityfm.quality._common import flat_fraction
from qualityfm.signal import WindowConfig, make_windows

FOLDERS = ("physionet2015_icu", "physionet2015_vt", "bidmc")


def main() -> None:
    data = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    warnings.simplefilter("ignore")
    cfg = WindowConfig()
    for name in FOLDERS:
        n_all = n_lead = flat_all = flat_lead = 0
        for path in find_records(data / name):
            try:
                w = make_windows(read_record(path), cfg)
            except Exception as exc:  # named: a cut-short file had changed the counts unsaid
                print(f"skipped {path}: {exc}", file=sys.stderr)
                continue
            if len(w) == 0:  # a record without windows is not counted
                continue
            c = list(w.channels).index("ecg_ii")
            present = w.mask[:, c]
            flat = (flat_fraction(w.x[:, c], w.fs) > 0) if present.any() else np.zeros(len(w), bool)
            n_all += int(present.sum())
            flat_all += int((flat & present).sum())
            if w.sources.get("ecg_ii") == "ecg_ii":
                n_lead += int(present.sum())
                flat_lead += int((flat & present).sum())
        print(f"{name}: {flat_all} of {n_all} windows with an ECG have a flat stretch "
              f"({flat_lead} of {n_lead} taking lead II itself)")


if __name__ == "__main__":
    main()
