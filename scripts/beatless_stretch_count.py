"""How many real windows hold an ECG stretch without a detected beat, or a PPG stretch without
a detected pulse, and what charging it costs (docs/quality.md, "Stretches without a beat").

    .venv/bin/python scripts/beatless_stretch_count.py [DATA_DIR]

For every record of physionet2015_icu, physionet2015_vt and bidmc under DATA_DIR (default
../shared/data), and every tenth of cinc2017_af, cuts the default windows (``make_windows``)
and scores the model's ECG and PPG channels where present with ``ecg_quality`` and
``ppg_quality``, once as they are and once with the beat-free share left out; prints per
folder and channel the windows scored, those whose score the share lowers, by more than 0.05,
and those whose level it changes.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from unittest import mock

import numpy as np

from qualityfm.io import find_records, read_record
from qualityfm.quality import ecg_quality, ppg_quality, quality_level
from qualityfm.signal import WindowConfig, make_windows

FOLDERS = (("physionet2015_icu", 1), ("physionet2015_vt", 1), ("bidmc", 1), ("cinc2017_af", 10))


def main() -> None:
    data = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    warnings.simplefilter("ignore")
    scorers = {"ecg_ii": ecg_quality, "ppg": ppg_quality}
    for name, step in FOLDERS:
        now: dict[str, list] = {c: [] for c in scorers}
        without: dict[str, list] = {c: [] for c in scorers}
        for path in find_records(data / name)[::step]:
            try:
                w = make_windows(read_record(path), WindowConfig())
            except Exception as exc:  # named: a cut-short file had changed the counts unsaid
                print(f"skipped {path}: {exc}", file=sys.stderr)
                continue
            for channel, score in scorers.items():
                c = list(w.channels).index(channel)
                present = w.mask[:, c] if len(w) else np.zeros(0, bool)
                if not present.any():
                    continue
                x, clip = w.x[present, c], w.clipped[present, c]
                filled = w.filled[present, c]
                now[channel].append(score(x, w.fs, clip=clip, filled=filled))
                share = ("qualityfm.quality.ecg.beatless_share" if channel == "ecg_ii" else
                         "qualityfm.quality.ppg.pulseless_share")
                with mock.patch(share, lambda *a: 0.0):
                    without[channel].append(score(x, w.fs, clip=clip, filled=filled))
        for channel in scorers:
            if not now[channel]:
                continue
            a, b = np.concatenate(now[channel]), np.concatenate(without[channel])
            print(f"{name} {channel}: {len(a)} windows; the beat-free share lowers "
                  f"{int((a < b - 1e-9).sum())}, by more than 0.05 {int((a < b - 0.05).sum())}"
                  f"; level changed {int((quality_level(a) != quality_level(b)).sum())}")


if __name__ == "__main__":
    main()
