"""Would per-class offsets chosen for the macro F1 lift af's rhythm decisions? (docs/results.md,
session 57)

    .venv/bin/python -m qualityfm finetune --task af --init classical --data DATA --kfold 5 \
        --seed 0 --out RUN
    .venv/bin/python scripts/af_rhythm_offsets.py --cv RUN/cv.json --data DATA [--cache DIR]

In each of the run's outer folds (``oof.fold``), the 4-class rhythm GBM is fitted again on the
training rows; the offsets of log p for O and ~ (against N; a grid of -1..1 by 0.1) that give
the best macro F1 on its cross-fitted inner predictions (the rows the operating point is set
on; A where the inner argmax says A, the binary model's inner decisions being out of reach)
are applied to the fold's test rows, A still where the run's binary model says AF. Prints the
macro F1 (N, A, O) and each class's F1 with and without them. Exploratory: nothing here is a
default of the package.
"""

from __future__ import annotations

import argparse
import itertools
import json

import numpy as np

from qualityfm.tasks import RHYTHMS, ClassicalBaseline, build_task_dataset
from qualityfm.tasks import metrics as M
from qualityfm.tasks.finetune import TaskEstimator

NAMES = np.array(RHYTHMS)
GRID = np.round(np.arange(-1.0, 1.01, 0.1), 2)


def decide(p: np.ndarray, af: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """A where ``af``, else the class of highest log p + offset among N, O and ~."""
    q = np.log(np.clip(p, 1e-9, 1.0)) + offset
    q[:, RHYTHMS.index("A")] = -np.inf
    return np.where(af == 1, RHYTHMS.index("A"), q.argmax(axis=1))


def best_offset(p: np.ndarray, y: np.ndarray, af: np.ndarray) -> tuple[float, np.ndarray]:
    """The grid's offsets of O and ~ of the highest macro F1 on (p, y), and that F1."""
    best = (-1.0, np.zeros(len(RHYTHMS)))
    for o, n in itertools.product(GRID, GRID):
        offset = np.array([0.0, 0.0, o, n])
        score = M.macro_f1(NAMES[y], NAMES[decide(p, af, offset)])
        if score > best[0] + 1e-12:
            best = (score, offset)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cv", required=True, help="cv.json of an af --init classical --kfold run")
    ap.add_argument("--data", required=True)
    ap.add_argument("--cache", default=None)
    args = ap.parse_args()
    oof = json.load(open(args.cv))["oof"]
    ds = build_task_dataset("af", args.data, cache_dir=args.cache)
    row = {r: i for i, r in enumerate(ds.record_ids.astype(str))}
    idx = np.array([row[r] for r in oof["record_ids"]])
    fold, af, rhythm = np.array(oof["fold"]), np.array(oof["pred"]), ds.rhythm[idx]
    X, mask, groups, F = ds.X[idx], ds.mask[idx], ds.groups[idx], ds.features[idx]

    inner: dict[str, np.ndarray] = {}  # the calibrated inner predictions of the last fit
    set_point = TaskEstimator._set_operating_point

    def keep_inner(est: TaskEstimator, raw: np.ndarray, y: np.ndarray) -> None:
        set_point(est, raw, y)
        inner.update(p=np.asarray(est.calibrator(raw)), y=np.asarray(y))

    TaskEstimator._set_operating_point = keep_inner
    plain, shifted = np.empty(len(idx), int), np.empty(len(idx), int)
    for k in sorted(set(fold.tolist())):
        tr, te = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        est = ClassicalBaseline("af4", seed=0, fs=ds.fs)
        est.fit(X[tr], rhythm[tr], mask[tr], groups[tr], F[tr])
        a_inner = (inner["p"].argmax(axis=1) == RHYTHMS.index("A")).astype(int)
        score, offset = best_offset(inner["p"], inner["y"], a_inner)
        p = est.predict_proba(X[te], mask[te], F[te])
        plain[te] = decide(p, af[te], np.zeros(len(RHYTHMS)))
        shifted[te] = decide(p, af[te], offset)
        print(f"fold {k}: inner macro F1 {score:.4f} at offsets O {offset[2]:+.1f}, "
              f"~ {offset[3]:+.1f}", flush=True)
    truth = NAMES[rhythm]
    for name, pred in (("argmax", plain), ("offsets", shifted)):
        per_class = ", ".join(
            f"{c} {M.f1((truth == c).astype(int), (NAMES[pred] == c).astype(int)):.3f}"
            for c in RHYTHMS)
        print(f"{name}: macro F1 {M.macro_f1(truth, NAMES[pred]):.4f} ({per_class})")


if __name__ == "__main__":
    main()
