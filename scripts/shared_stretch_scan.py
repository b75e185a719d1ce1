"""Which records of the given folders hold stretches of one recording (docs/results.md,
"Session 40").

    PYTHONPATH=src .venv/bin/python scripts/shared_stretch_scan.py FOLDER [FOLDER ...]

Reads every record under the folders (pooled, as a task's ``--data``), finds the pairs that
``tasks.copies.shared_stretches`` confirms, as ``build_task_dataset`` does, and prints each with
its offset and, on the channel that pairs the most peaks, the peaks paired, their share and
the heights' correlation (``tasks.copies.agreement``); then the candidate offsets tried and
not confirmed that pair the largest share of peaks (10 or more), the closest to a copy that
is none.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import qualityfm.tasks.copies as copies
from qualityfm.io import find_records, read_record


def main() -> None:
    warnings.simplefilter("ignore")
    marks = {}
    for folder in sys.argv[1:]:
        for path in find_records(folder):
            try:
                marks[str(path)] = copies.peak_marks(read_record(path))
            except Exception as exc:  # (no marks, as _build gives none), named on stderr
                print(f"skipped {path}: {exc}", file=sys.stderr)
                continue
    tried = []
    confirm = copies._matched

    def spy(a: copies.ChannelPeaks, b: copies.ChannelPeaks, offset: int) -> bool:
        tried.append((copies.agreement(a, b, offset), confirm(a, b, offset)))
        return tried[-1][1]

    copies._matched = spy
    found = copies.shared_stretches(marks)
    print(f"{len(marks)} records, {len(found)} pairs holding one recording's stretch, "
          f"{len(tried)} candidate offsets tried")
    for a, b, offset in found:
        n, share, corr = max(
            copies.agreement(ca, marks[b][c], round(offset * ca.fs))
            for c, ca in marks[a].items() if c in marks[b] and marks[b][c].fs == ca.fs)
        print(f"  {Path(a).name} {Path(b).name}: {Path(b).name} starts {offset:g} s into "
              f"{Path(a).name}; {n} peaks paired, share {share:.3f}, heights {corr:.4f}")
    others = sorted((a for a, ok in tried if not ok and a[0] >= copies.MIN_PEAKS),
                    key=lambda a: -a[1])
    for n, share, corr in others[:5]:
        print(f"  not confirmed: {n} peaks paired, share {share:.3f}, heights {corr:.3f}")


if __name__ == "__main__":
    main()
