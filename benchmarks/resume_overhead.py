"""What keeping each finished record costs a ``score`` / ``embed`` run (docs/benchmarks.md).

    PYTHONPATH=src .venv/bin/python benchmarks/resume_overhead.py --data DIR [--records 20]
        [--repeats 3] [--embed]

Scores (or embeds, with the shipped weights) the first ``--records`` records under ``--data``
with the kept records (``inference.resume.RecordResults``) and with them switched off, the
two alternating ``--repeats`` times in this process, and prints the median times, their
ratio, the size of the kept folder against the output's, and the time of a run resumed from
a complete folder (every record kept) against a fresh one.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from qualityfm.inference import embed_files, resume, score_files
from qualityfm.io import find_records


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--records", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--embed", action="store_true", help="embed (shipped weights), not score")
    args = ap.parse_args()
    records = find_records(args.data)[: args.records]
    if args.embed:
        from qualityfm.train import load

        model = load("pretrained")

        def run(out: Path) -> dict:
            return embed_files(records, out / "e.npy", model)
        outputs = ("e.npy", "e.index.csv")
    else:
        def run(out: Path) -> dict:
            return score_files(records, out / "s.csv")
        outputs = ("s.csv",)

    real = (resume.RecordResults.get, resume.RecordResults.put, resume.RecordResults.finish)
    off = (lambda self, path: None, lambda self, path, arrays: None, lambda self: None)
    times: dict[str, list[float]] = {"kept": [], "off": [], "resumed": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for name, methods in (("kept", real), ("off", off)):
                out = Path(tmp) / f"{name}{r}"
                resume.RecordResults.get, resume.RecordResults.put, resume.RecordResults.finish \
                    = methods
                if name == "kept":  # the folder left in place: measured, then resumed from
                    resume.RecordResults.finish = off[2]
                start = time.perf_counter()
                summary = run(out)
                times[name].append(time.perf_counter() - start)
                if name == "kept":
                    kept = size(next(out.glob(".*.records")))
                    written = sum((out / o).stat().st_size for o in outputs)
                    resume.RecordResults.finish = real[2]
                    start = time.perf_counter()
                    again = run(out)
                    times["resumed"].append(time.perf_counter() - start)
                    assert again["n_resumed"] == summary["n_records"]
                shutil.rmtree(out)
    resume.RecordResults.get, resume.RecordResults.put, resume.RecordResults.finish = real
    med = {k: statistics.median(v) for k, v in times.items()}
    verb = "embed" if args.embed else "score"
    print(f"{verb}: {len(records)} records, {summary['n_windows']} windows, "
          f"{args.repeats} repeats (medians)")
    print(f"records kept: {med['kept']:.2f} s, not kept: {med['off']:.2f} s, "
          f"ratio {med['kept'] / med['off']:.3f}")
    print(f"resumed from every record kept: {med['resumed']:.2f} s, "
          f"{med['resumed'] / med['off']:.3f} of a fresh run")
    print(f"kept folder {kept} B against the output's {written} B: {kept / written:.2f}x")


if __name__ == "__main__":
    main()
