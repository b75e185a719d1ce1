"""Where the pacemaker-stimulus rule (``signal.pacing``) takes samples out of real records: the
counts docs/results.md gives for session 54.

    PYTHONPATH=src .venv/bin/python scripts/pacing_removals.py [--data ../shared/data]

Reads every record of physionet2015_vt, physionet2015_icu and cinc2017_af, fills each ECG
channel's NaN as ``make_windows`` does, and prints each lead the rule changes with the samples
it takes out, then the totals per folder.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

from qualityfm.io import find_records, is_ecg, read_record
from qualityfm.signal import fill_nan
from qualityfm.signal.pacing import pacing_spikes

FOLDERS = ("physionet2015_vt", "physionet2015_icu", "cinc2017_af")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path,
                        default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    for folder in FOLDERS:
        leads = samples = 0
        for path in sorted(find_records(args.data / folder)):
            rec = read_record(path)
            for channel, x in rec.signals.items():
                if not is_ecg(channel):
                    continue
                found = pacing_spikes(fill_nan(np.asarray(x, np.float32)), rec.fs[channel])[1]
                if found.any():
                    leads, samples = leads + 1, samples + int(found.sum())
                    print(f"{path.name} {channel}: samples {np.flatnonzero(found).tolist()}")
        print(f"{folder}: {samples} samples of {leads} leads")


if __name__ == "__main__":
    main()
