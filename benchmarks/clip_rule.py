"""Cost of the clip rule (``signal.extremes.clip_fraction``) against the extremes-only rule it
grew from (session 55 added the rails at tail levels), measured in the same run.

    .venv/bin/python benchmarks/clip_rule.py [--repeats 5]

Times one window of 7,500 float32 samples (a channel's 30-s window at 250 Hz, as
``make_windows`` measures it) and 64 windows of 9,000 at once (arrays scored without
``clip=``), on one core, best of ``--repeats``; prints milliseconds and the ratio.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"  # one core: set before numpy is imported

import argparse  # noqa: E402
import timeit  # noqa: E402

import numpy as np  # noqa: E402

from qualityfm.signal.extremes import clip_fraction, extremes_fraction  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for name, x, number in (("1 x 7500", rng.standard_normal((1, 7500)), 300),
                            ("64 x 9000", rng.standard_normal((64, 9000)), 5)):
        x = x.astype(np.float32)
        times = {}
        for rule, fn in (("clip_fraction", clip_fraction), ("extremes only", extremes_fraction)):
            best = min(timeit.repeat(lambda fn=fn, x=x: fn(x), number=number,
                                     repeat=args.repeats))
            times[rule] = best / number * 1e3
        new, old = times["clip_fraction"], times["extremes only"]
        print(f"{name} float32: clip_fraction {new:.3f} ms, extremes only {old:.3f} ms, "
              f"x{new / old:.1f}")


if __name__ == "__main__":
    main()
