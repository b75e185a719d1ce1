"""Seconds and memory of finding files that share a stretch of one recording
(``tasks.copies.shared_stretches``) among ``--records`` synthetic stays of 5 minutes (ECG,
PPG, arterial line at 250 Hz, every one another patient) and one copy of the first stay, the
one pair to be found (the script fails where it finds another or misses it).

    PYTHONPATH=src .venv/bin/python benchmarks/shared_stretches.py [--records 3000]

Prints the seconds to take each record's peaks (``peak_marks``), the seconds of
``shared_stretches`` over them all, the pairs it found and its peak memory over the peaks'.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from qualityfm.cli.argtypes import positive_int


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=positive_int, default=3000)
    args = parser.parse_args()

    from qualityfm.signal import synthesize
    from qualityfm.tasks.copies import peak_marks, shared_stretches

    t = time.perf_counter()
    marks = {f"r{i:05d}": peak_marks(synthesize(300.0, 250.0, seed=i))
             for i in range(args.records)}
    marks_s = time.perf_counter() - t
    peaks = sum(len(ch.peaks) for m in marks.values() for ch in m.values())  # the stays'
    marks["copy"] = marks["r00000"]  # the positive control: a search doing nothing finds none
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    found = shared_stretches(marks)
    spent = time.perf_counter() - t
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    pairs = sorted({tuple(sorted(pair[:2])) for pair in found})
    if pairs != [("copy", "r00000")]:
        raise SystemExit(f"found {pairs}: the one copy (copy, r00000) should be found, alone")
    print(json.dumps({"records": args.records, "peaks": peaks,
        "synthesize_and_peak_marks_s": round(marks_s, 1), "shared_stretches_s": round(spent, 1),
        "pairs_found": len(found), "peak_memory_growth_mb": round(grown / 1024)}))


if __name__ == "__main__":
    main()
