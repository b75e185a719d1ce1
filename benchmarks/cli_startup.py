"""Seconds of one `qualityfm score` run on one synthetic 60-s record (signal-quality indices
only, no model), beside the import of torch alone in the same run: scoring by the indices
imports no torch, so the ratio stays well under 1 plus the scoring's own work.

    .venv/bin/python benchmarks/cli_startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qualityfm.cli.argtypes import positive_int


def seconds(commands: list[list[str]], repeats: int) -> list[float]:
    """The median wall time of ``repeats`` runs of each command, the commands taken in turn
    in every round (a load that drifts while they run moves them alike; one block of each
    had moved their ratio from 0.7 to 1.45); a first round, warming the file cache, is not
    counted."""
    times: list[list[float]] = [[] for _ in commands]
    for round_ in range(repeats + 1):
        for command, spent in zip(commands, times, strict=True):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            if round_:
                spent.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=positive_int, default=5)
    args = parser.parse_args()

    from qualityfm.io import write_wfdb
    from qualityfm.signal import synthesize

    with tempfile.TemporaryDirectory() as tmp:
        record = write_wfdb(synthesize(60.0, fs=250.0, seed=0, record_id="bed1"), Path(tmp))
        out = Path(tmp) / "scores.csv"
        score, torch, python = seconds(
            [[sys.executable, "-m", "qualityfm", "score", str(record), "--out", str(out)],
             [sys.executable, "-c", "import torch"], [sys.executable, "-c", "pass"]],
            args.repeats)
    print(json.dumps({"score_one_record_s": round(score, 3), "import_torch_s": round(torch, 3),
                      "python_s": round(python, 3),
                      "score_over_torch_import": round(score / torch, 2)}))


if __name__ == "__main__":
    main()
