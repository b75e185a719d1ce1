"""Time of a binary report with its bootstrap CIs (1000 replicates per metric), as every
``finetune --kfold``, ``evaluate`` and ``compare`` row makes one, against the same report with
sklearn's ``roc_auc_score`` and ``average_precision_score`` as the ranking metrics (the
reference, measured in the same run); also checks that the two give the same figures.

    .venv/bin/python benchmarks/report_bootstrap.py [--rows 206] [--positives 54] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from qualityfm.cli.argtypes import positive_int


def timed(reps: int, fn) -> tuple[float, dict]:  # noqa: ANN001 - a report function
    times, out = [], {}
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=positive_int, default=206,
                        help="rows (default: the VT alarms)")
    parser.add_argument("--positives", type=positive_int, default=54)
    parser.add_argument("--reps", type=positive_int, default=3)
    args = parser.parse_args()
    if args.positives >= args.rows:  # both classes, or no AUROC to time
        parser.error(f"--positives must be below --rows ({args.rows}), got {args.positives}")

    from sklearn.metrics import average_precision_score, roc_auc_score

    from qualityfm.tasks import metrics
    from qualityfm.tasks.evaluate import binary_report

    rng = np.random.default_rng(0)
    y = np.zeros(args.rows, int)
    y[rng.choice(args.rows, args.positives, replace=False)] = 1
    proba = np.clip(0.3 * y + rng.normal(0.35, 0.2, args.rows), 0, 1).round(3)  # with ties
    pred = (proba >= 0.5).astype(int)

    def report() -> dict:
        return binary_report(y, proba, pred, alarm_score=True)

    ours, ours_out = timed(args.reps, report)
    fast = metrics.auroc, metrics.auprc
    try:  # the reference: sklearn's ranking metrics under the same one-class rule
        metrics.auroc = lambda t, s: (float("nan") if len(np.unique(t)) < 2
                                      else float(roc_auc_score(t, s)))
        metrics.auprc = lambda t, s: (float("nan") if len(np.unique(t)) < 2
                                      else float(average_precision_score(t, s)))
        ref, ref_out = timed(args.reps, report)
    finally:
        metrics.auroc, metrics.auprc = fast
    worst = max(abs(a - b) for k in ("auroc", "auprc")
                for a, b in zip([ours_out[k], *ours_out[f"{k}_ci"]],
                                [ref_out[k], *ref_out[f"{k}_ci"]], strict=True))
    print(json.dumps({"rows": args.rows, "report_s": round(ours, 3),
                      "sklearn_reference_s": round(ref, 3), "speedup": round(ref / ours, 1),
                      "max_abs_diff": worst}))


if __name__ == "__main__":
    main()
