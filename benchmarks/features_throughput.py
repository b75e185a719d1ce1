"""Milliseconds per window of the classical features (``quality.features.signal_features``),
on the first ``--seconds`` of records of ``../shared/data`` (cinc2017_af: one ECG lead;
physionet2015_vt: two leads, PPG and arterial line).

    .venv/bin/python benchmarks/features_throughput.py [--af 150] [--vt 60] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

from qualityfm.cli.argtypes import positive_int

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--af", type=positive_int, default=150, help="cinc2017_af records")
    parser.add_argument("--vt", type=positive_int, default=60, help="physionet2015_vt records")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()

    from qualityfm.io import read_record
    from qualityfm.quality.features import signal_features

    out = {}
    for name, n in (("cinc2017_af", args.af), ("physionet2015_vt", args.vt)):
        files = sorted((args.data / name).glob("*.hea"))[:n]
        if not files:
            raise SystemExit(f"no records under {args.data / name}")
        spent = 0.0
        for f in files:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rec = read_record(f)
            sig = {c: x[: int(args.seconds * rec.fs[c])] for c, x in rec.signals.items()}
            fs = {c: rec.fs[c] for c in sig}
            t0 = time.perf_counter()
            signal_features(sig, fs)
            spent += time.perf_counter() - t0
        out[name] = {"windows": len(files), "ms_per_window": round(1000 * spent / len(files), 2)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
