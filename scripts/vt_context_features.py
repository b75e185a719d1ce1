"""Does the minute before a VT alarm help tell true alarms from false? (docs/results.md, session 24)

    .venv/bin/python scripts/vt_context_features.py --model gbm|default --columns all|selected \
        [--data ../shared/data/physionet2015_vt] [--cache DIR] [--seeds 0 1 2]

For every VT alarm record, the classical features of the 60 s that end 10 s before the alarm
(the patient's own baseline) are subtracted from those of the 10-s alarm window; the
differences (``all`` columns a VT model reads, or a ``selected`` few: rates, QRS width and
morphology, pulse shape, plus the correlation of the window's median beat with the
baseline's) are appended to the task features. Prints the 5-fold grouped CV AUROC,
challenge score and TPR of the classical GBM or the default head (shipped weights, lbfgs,
features) with and without them. Exploratory: nothing here is a default of the package.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import warnings
from pathlib import Path

import numpy as np

from qualityfm.io import find_records, read_record
from qualityfm.quality.features import feature_names, signal_features
from qualityfm.tasks import ClassicalBaseline, Finetuner, build_task_dataset, cross_validate
from qualityfm.tasks.datasets import _raw_pieces
from qualityfm.tasks.features import task_columns

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "physionet2015_vt"
SELECTED = ("ecg_hr_max", "ecg_hrmax4_max", "ecg_width_max", "ecg_vt_band_max",
            "ecg1_qrs_width", "ecg1_morph_corr", "ecg1_amp_cv", "pulse_hr", "pulse_morph_corr",
            "pulse_amp_cv", "pulse_sqi", "pulse_end_amp", "d_hr_ecg_ppg", "ecg1_sqi")


def baseline_features(ds, data: Path, before: float = 70.0, gap: float = 10.0) -> np.ndarray:
    """Each record's features over [alarm - before, alarm - gap) s (NaN without a channel)."""
    paths = {p.stem: p for p in find_records(data)}
    out = np.full_like(ds.features, np.nan)
    for i, rid in enumerate(ds.record_ids):
        rec = read_record(paths[rid])
        t1 = float(rec.events.get("alarm", rec.duration()))
        pieces = _raw_pieces(rec, t1 - before, t1 - gap)
        if pieces:
            out[i] = signal_features(pieces, {c: rec.fs[c] for c in pieces})
    return out


def beat_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation of two sampled median beats (NaN ignored)."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # a row without beats: NaN
        a = a - np.nanmean(a, 1, keepdims=True)
        b = b - np.nanmean(b, 1, keepdims=True)
        return np.nansum(a * b, 1) / np.sqrt(np.nansum(a * a, 1) * np.nansum(b * b, 1))


def context_columns(window: np.ndarray, base: np.ndarray, columns: str) -> np.ndarray:
    names = feature_names()
    if columns == "all":  # the columns a VT model reads (task_columns), as differences
        keep = task_columns("vt-alarm", len(names))
        return window[:, keep] - base[:, keep]
    ix = {n: i for i, n in enumerate(names)}
    beat = [i for i, n in enumerate(names) if n.startswith("ecg1_beat_")]
    cols = [window[:, ix[n]] - base[:, ix[n]] for n in SELECTED]
    cols.append(beat_correlation(window[:, beat], base[:, beat]))
    return np.stack(cols, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--cache", default=None, help="task cache folder (build_task_dataset)")
    ap.add_argument("--model", choices=("gbm", "default"), default="gbm")
    ap.add_argument("--columns", choices=("all", "selected"), default="all")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    ds = build_task_dataset("vt-alarm", args.data, cache_dir=args.cache)
    extra = context_columns(ds.features, baseline_features(ds, args.data), args.columns)
    # a VT model reads the task's columns of a table of the feature set's width, and every
    # column of a wider one: the window's columns are chosen here, as the model would
    keep = task_columns("vt-alarm", ds.features.shape[1])
    with_ctx = dataclasses.replace(
        ds, features=np.concatenate([ds.features[:, keep], extra], 1).astype(np.float32),
        feature_names=[feature_names()[i] for i in keep]
        + [f"context_{i}" for i in range(extra.shape[1])])
    for seed in args.seeds:
        def make(seed: int = seed) -> object:
            if args.model == "gbm":
                return ClassicalBaseline("vt-alarm", seed=seed)
            return Finetuner("vt-alarm", init="pretrained", seed=seed)

        for name, d in (("window only", ds), (f"+ context ({args.columns})", with_ctx)):
            r = cross_validate(make, d, k=5, seed=seed, n_boot=200)
            print(f"{args.model} split {seed} {name}: AUROC {r['auroc']:.4f} "
                  f"score {100 * r['score']:.1f} TPR {r['tpr']:.3f}", flush=True)


if __name__ == "__main__":
    main()
