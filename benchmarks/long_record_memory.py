"""Peak memory of preparing one long record: read span by span against read whole.

    .venv/bin/python benchmarks/long_record_memory.py [--hours 24] [--dir DIR]

Writes a synthetic MIMIC-style record (``--hours`` of II and PLETH at 125 Hz in segments of
an hour of motion artefacts from none to strong, one ``~`` gap of 10 min between each pair,
with ``wfdb.wrsamp``) into ``--dir`` (a
temporary folder by default), then runs ``prepare``'s work on it (``process_record``: read,
window at 300 Hz in 30-s windows, score, normalise, pair) in a fresh process twice: as it
is (spans of ``SPAN_SECONDS``, ``SCORE_BLOCK`` windows scored at once) and as before them
(the record read whole, its windows scored together); prints each one's peak
resident memory (``getrusage``), less the process's own after its imports, the ratio of
the two, and whether windows, levels and pairs agree.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"  # one core: set before numpy is imported

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

FS = 125.0
GAP_SECONDS = 600.0


def write_record(folder: Path, hours: float) -> Path:
    """A multi-segment record of ``hours`` (segments of an hour, ``~`` gaps between them)."""
    import wfdb

    from qualityfm.signal.synthetic import synthesize

    folder.mkdir(parents=True, exist_ok=True)
    lines, total, n = [], 0, 0
    left = int(hours * 3600 * FS)
    while left > 0:
        if n % 2:
            size = min(left, int(GAP_SECONDS * FS))
            lines.append(f"~ {size}")
        else:
            size = min(left, int(3600 * FS))
            rec = synthesize(size / FS, fs=FS, seed=n, channels=("ecg_ii", "ppg"),
                             artifacts={"motion": 0.2 * (n // 2 % 5)})  # levels to pair
            wfdb.wrsamp(f"long_{n:04d}", fs=FS, units=["mV", "NU"], sig_name=["II", "PLETH"],
                        p_signal=np.stack([rec.signals["ecg_ii"], rec.signals["ppg"]], 1)
                        .astype(np.float64), fmt=["16", "16"], adc_gain=[200.0, 1000.0],
                        baseline=[0, 0], write_dir=str(folder))
            lines.append(f"long_{n:04d} {size}")
        total, left, n = total + size, left - size, n + 1
    (folder / "long_layout.hea").write_text(
        "long_layout 2 125 0\n~ 0 200/mV 16 0 0 0 0 II\n~ 0 1000/NU 16 0 0 0 0 PLETH\n")
    (folder / "long.hea").write_text(f"long/{len(lines) + 1} 2 125 {total}\nlong_layout 0\n"
                                     + "\n".join(lines) + "\n")
    return folder / "long.hea"


def child(path: str, whole: bool) -> None:
    """One ``process_record`` of ``path``; prints its figures as JSON."""
    import importlib
    import warnings

    from qualityfm.data.pairs import PairConfig
    from qualityfm.signal import WindowConfig

    prep = importlib.import_module("qualityfm.data.prepare")  # (the package's: a function)
    if whole:  # as before spans: the record read whole, its windows scored together
        prep.SPAN_SECONDS, prep.SCORE_BLOCK = float("inf"), sys.maxsize
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = prep.process_record(path, WindowConfig(), PairConfig())
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(getattr(res, f)).tobytes()
                                     for f in ("start", "mask", "level", "pairs"))).hexdigest()
    print(json.dumps({"peak_mb": (peak - base) / 1024, "base_mb": base / 1024,
                      "seconds": seconds, "windows": len(res), "pairs": len(res.pairs),
                      "reason": res.reason, "digest": digest,
                      "level_counts": np.bincount(res.level, minlength=5).tolist()}))


def measure(path: Path, whole: bool) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(path)]
                         + (["--whole"] if whole else []),
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, default=24.0, help="record length (default 24)")
    ap.add_argument("--dir", type=Path, default=None,
                    help="folder to write the record into (default: a temporary one)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--whole", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.whole)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or Path(tmp)
        path = write_record(folder / "long", args.hours)
        print(f"record: {path} ({args.hours:g} h, 2 channels at {FS:g} Hz, segments of an "
              f"hour, {GAP_SECONDS:g}-s gaps)")
        spans, whole = measure(path, False), measure(path, True)
    for name, r in (("read whole", whole), ("span by span", spans)):
        print(f"{name:>13}: peak {r['peak_mb']:7.1f} MB over the process's "
              f"{r['base_mb']:.0f} MB after imports, {r['seconds']:6.1f} s, "
              f"{r['windows']} windows, {r['pairs']} pairs, levels {r['level_counts']}")
    print(f"peak ratio (span by span / whole): {spans['peak_mb'] / whole['peak_mb']:.3f}")
    same = all(spans[k] == whole[k] for k in ("windows", "pairs", "digest", "level_counts"))
    print(f"windows, levels and pairs the same: {same}")


if __name__ == "__main__":
    main()
