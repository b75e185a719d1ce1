"""Evaluation: metrics with bootstrap CIs from predictions, and grouped k-fold cross-validation.

Cross-validation keeps each fold model's own threshold and calibration (fixed on a validation
split inside its training folds); out-of-fold decisions are pooled, thresholds never are. The
per-fold AUROCs are reported beside the pooled one, because fold models' scores differ in scale.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import sys
import time
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch

from qualityfm._numbers import is_int, seed_error
from qualityfm.io.atomic import atomic_write
from qualityfm.signal.nan import rows_text
from qualityfm.tasks import metrics as M
from qualityfm.tasks.datasets import RHYTHMS, TASKS, TaskDataset, record_of
from qualityfm.tasks.finetune import TaskEstimator, absences_named, checked_groups
from qualityfm.tasks.splits import assert_disjoint, group_kfold


def binary_report(
    y: np.ndarray, proba: np.ndarray, pred: np.ndarray, groups: np.ndarray | None = None,
    n_boot: int = 1000, seed: int = 0, *, alarm_score: bool = False,
) -> dict:
    """Binary metrics of probabilities ``proba`` and decisions ``pred`` (already thresholded),
    with stratified, group-resampled bootstrap 95 % CIs; ``alarm_score`` adds the PhysioNet
    2015 challenge ``score`` (false-alarm tasks, where 1 is a true alarm)."""
    y, pred = np.asarray(y), np.asarray(pred)
    for name, v, what in (("y", y, "labels"),
                          ("pred", pred, "decisions (probabilities go in proba)")):
        if not np.isin(v, (0, 1)).all():  # probabilities as decisions had truncated to 0
            raise ValueError(f"binary_report: {name} must hold 0/1 {what}, got values "
                             f"{np.unique(v)[:5]}")
    y, pred = y.astype(int), pred.astype(int)
    proba = np.asarray(proba, float)
    out: dict = {"n": int(len(y)), "n_pos": int(y.sum())}
    out["auroc"], out["auprc"] = M.auroc(y, proba), M.auprc(y, proba)
    fns = {"tpr": M.tpr, "tnr": M.tnr, "ppv": M.ppv, "f1": M.f1, "accuracy": M.accuracy}
    if alarm_score:
        fns["score"] = M.challenge_score
    for name, fn in fns.items():
        out[name] = fn(y, pred)
    units = np.arange(len(y)) if groups is None else np.asarray(groups)
    # the units each proportion is taken over: at 0 or 1 no replicate can differ, so its
    # interval is the exact one over them (not a percentile interval of no width, nor none
    # where the other class held one record)
    over = {"tpr": y == 1, "tnr": y == 0, "ppv": pred == 1, "accuracy": np.ones(len(y), bool)}
    for name, fn, arr in (("auroc", M.auroc, proba), ("auprc", M.auprc, proba),
                          *((k, f, pred) for k, f in fns.items())):
        ci = M.bootstrap_ci(fn, y, arr, groups=groups, n_boot=n_boot, seed=seed)
        n_over = len(np.unique(units[over[name]])) if name in over else 0
        if n_over >= 2 and out[name] in (0.0, 1.0):
            ci = M.boundary_ci(out[name], n_over)
        out[f"{name}_ci"] = list(ci)
    out["confusion"] = M.confusion(y, pred)
    return out


def af_rhythm_decisions(proba4: np.ndarray, af: np.ndarray) -> np.ndarray:
    """4-class rhythm decisions (indices into ``RHYTHMS``) that agree with the binary AF
    model's decisions ``af``: A where it says AF, else the most probable of N, O and ~.

    The binary model's threshold is fixed for the AF F1 on validation rows: on the AF records
    its A decisions had a higher F1 than the 4-class model's argmax, and the macro F1 rose,
    for the GBM on three splits of three and for two linear heads (docs/results.md, session
    15). A table's ``af`` and ``rhythm`` columns then never disagree."""
    p = _no_nan(np.array(proba4, dtype=float), "proba4")
    if p.ndim != 2 or p.shape[1] != len(RHYTHMS):  # (3 columns had been read as N, A, O)
        raise ValueError(f"proba4 must be [N, {len(RHYTHMS)}] ({', '.join(RHYTHMS)}), got "
                         f"{p.shape}")
    try:  # decisions (probabilities had been truncated to 0: never AF)
        af = M._binary(af)
    except ValueError as err:
        raise ValueError(f"af must hold the binary model's 0/1 decisions, one per row "
                         f"({err})") from None
    if af.shape != (len(p),):
        raise ValueError(f"af holds {af.shape} decisions for {len(p)} rows of proba4")
    a = RHYTHMS.index("A")
    p[:, a] = -np.inf
    return np.where(af == 1, a, p.argmax(axis=1))


def _no_nan(proba: np.ndarray, name: str) -> np.ndarray:
    """``proba`` [N, K], refused where a row holds NaN: argmax reads a NaN as the most probable
    class (a row [nan, .5, .5] had been scored as a correct class 0), as binary_report
    refuses NaN scores."""
    bad = np.flatnonzero(np.isnan(proba).any(axis=1)) if proba.ndim == 2 else []
    if len(bad):
        raise ValueError(f"{name} is NaN in rows {rows_text(bad)}: no decision can be made "
                         "from them")
    return proba


def rhythm_report(rhythm: np.ndarray, proba4: np.ndarray, groups: np.ndarray | None = None,
                  n_boot: int = 1000, seed: int = 0, af: np.ndarray | None = None) -> dict:
    """AF 4-class: macro F1 over N/A/O and AUROC of the noisy class '~', with CIs, and the F1
    of each class (``class_f1``: where the macro F1 is lost). The decisions are the most
    probable class, or with the binary AF model's decisions ``af`` those of
    :func:`af_rhythm_decisions`."""
    rhythm = M.class_codes(rhythm, len(RHYTHMS), "rhythm")
    true = np.array(RHYTHMS)[rhythm]
    codes = (_no_nan(np.asarray(proba4, float), "proba4").argmax(axis=1) if af is None
             else af_rhythm_decisions(proba4, af))
    pred = np.array(RHYTHMS)[codes]
    noisy = np.asarray(proba4)[:, RHYTHMS.index("~")]
    code = np.asarray(rhythm)

    def mf1(c, p):
        return M.macro_f1(np.array(RHYTHMS)[c], p)

    def nauc(c, s):
        return M.noisy_auroc(np.array(RHYTHMS)[c], s)

    return {
        "macro_f1": M.macro_f1(true, pred),
        "macro_f1_ci": list(M.bootstrap_ci(mf1, code, pred, groups=groups, n_boot=n_boot,
                                            seed=seed)),
        "noisy_auroc": M.noisy_auroc(true, noisy),
        "noisy_auroc_ci": list(M.bootstrap_ci(nauc, code, noisy, groups=groups, n_boot=n_boot,
                                              seed=seed)),
        "class_f1": {c: M.f1((true == c).astype(int), (pred == c).astype(int)) for c in RHYTHMS},
    }


def multiclass_report(y: np.ndarray, proba: np.ndarray, groups: np.ndarray | None = None,
                      n_boot: int = 1000, seed: int = 0) -> dict:
    """A K-class model's accuracy and macro F1 over the classes its labels hold, with CIs, and
    each class's F1 (``class_f1``, keyed by class index), of its most probable classes."""
    proba = _no_nan(np.asarray(proba, float), "proba")
    y, pred = M.class_codes(y, proba.shape[1], "y"), proba.argmax(axis=1)
    classes = tuple(range(proba.shape[1]))

    def mf1(t, p):
        return M.macro_f1(t, p, classes)

    def acc(t, p):
        return float(np.mean(np.asarray(t) == np.asarray(p)))

    return {
        "n": int(len(y)),
        "accuracy": acc(y, pred),
        "accuracy_ci": list(M.bootstrap_ci(acc, y, pred, groups=groups, n_boot=n_boot,
                                           seed=seed)),
        "macro_f1": mf1(y, pred),
        "macro_f1_ci": list(M.bootstrap_ci(mf1, y, pred, groups=groups, n_boot=n_boot,
                                           seed=seed)),
        "class_f1": {str(c): M.f1((y == c).astype(int), (pred == c).astype(int))
                     for c in classes},
    }


def regression_report(y: np.ndarray, pred: np.ndarray, train_mean: np.ndarray,
                      groups: np.ndarray | None = None, n_boot: int = 1000, seed: int = 0
                      ) -> dict:
    """Per target (``targets``, in the columns' order): mae with a CI, me, sd and mase against
    ``train_mean`` (one per target, or per row and target)."""
    y = np.asarray(y, float).reshape(len(y), -1)
    pred = np.asarray(pred, float).reshape(len(pred), -1)
    ref = np.broadcast_to(np.asarray(train_mean, float), y.shape)
    targets = []
    for k in range(y.shape[1]):
        t, p = y[:, k], pred[:, k]
        targets.append({
            "mae": M.mae(t, p), "me": M.me(t, p), "sd": M.sd(t, p),
            "mase": M.mase(t, p, ref[:, k]),
            "mae_ci": list(M.bootstrap_ci(M.mae, t, p, groups=groups, n_boot=n_boot,
                                          seed=seed, stratify=False)),
        })
    return {"n": int(len(y)), "targets": targets}


def bp_report(y: np.ndarray, pred: np.ndarray, train_mean: np.ndarray,
              groups: np.ndarray | None = None, n_boot: int = 1000, seed: int = 0) -> dict:
    """SBP and DBP objects: mae, me, sd, mase, aami, bhs, and a CI of the MAE; ``n`` rows,
    ``n_subjects`` (the groups: patients or records; None without groups) and, under
    :data:`metrics.PROTOCOL_SUBJECTS` of them, ``protocol_note``: AAMI and BHS then say how
    these rows meet their bars, not that a device passed a validation."""
    y, pred, train_mean = np.asarray(y), np.asarray(pred), np.asarray(train_mean, dtype=float)
    if y.ndim != 2 or y.shape[1:] != (2,) or pred.shape != y.shape or train_mean.shape != (2,):
        raise ValueError(f"bp_report needs y and pred of [N, 2] (SBP, DBP) and train_mean of "
                         f"2; got {y.shape}, {pred.shape} and {train_mean.shape}")
    out = {}
    for k, name in enumerate(("sbp", "dbp")):
        d = M.bp_metrics(y[:, k], pred[:, k], float(train_mean[k]))
        d["mae_ci"] = list(M.bootstrap_ci(M.mae, y[:, k], pred[:, k], groups=groups,
                                          n_boot=n_boot, seed=seed, stratify=False))
        out[name] = d
    out["n"] = int(len(y))
    out["n_subjects"] = None if groups is None else int(len(np.unique(np.asarray(groups))))
    if out["n_subjects"] is None or out["n_subjects"] < M.PROTOCOL_SUBJECTS:
        subjects = ("subjects not given" if out["n_subjects"] is None  # groups: patients
                    else f"{out['n_subjects']} patients or records")  # where known, else records
        out["protocol_note"] = (f"AAMI and BHS on {len(y)} windows ({subjects}): indicative "
                                f"only; a validation by either needs >= {M.PROTOCOL_SUBJECTS} "
                                "subjects and its own measurement protocol")
    return out


def _refuse_one_class_folds(y: np.ndarray, groups: np.ndarray, splits: list, k: int) -> None:
    """Refuse, before any fold is fitted, a two-class CV whose training rows of a fold hold
    one class (its every group of the other class in that fold's test rows): the fit would
    fail there with a message about that fold's rows, not the data."""
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        return
    classes = np.unique(y)
    if len(classes) != 2:
        return
    for f, (tr, _) in enumerate(splits):
        lacking = [c for c in classes if not np.any(y[tr] == c)]
        if lacking:
            c = lacking[0]
            n = len(np.unique(np.asarray(groups)[y == c]))
            way = ("more records of that class" if n < 2 else
                   "more records of that class or fewer folds")
            raise ValueError(f"class {c} is held by {n} patient(s)/record(s): with {k} folds, "
                             f"fold {f + 1}'s training rows hold none of it; give {way}")


def check_folds(y: np.ndarray, groups: np.ndarray, k: int, seed: int) -> list:
    """The ``k`` grouped folds :func:`cross_validate` fits, refused (ValueError) before any fit
    where they cannot be made or a fold's training rows hold one class or one group."""
    splits = list(group_kfold(y, groups, k=k, seed=seed))
    _refuse_one_class_folds(y, groups, splits, k)
    _refuse_one_group_folds(groups, splits, k)
    return splits


def _refuse_one_group_folds(groups: np.ndarray, splits: list, k: int) -> None:
    """Refuse, before any fold is fitted, a CV whose training rows of a fold come from one
    patient or record: a fit validates on other groups than it fits, so it would fail there
    with a message about that fold's rows ("groups holds one group for all 2 rows")."""
    groups = np.asarray(groups)
    for f, (tr, _) in enumerate(splits):
        held = np.unique(groups[tr])
        if len(held) < 2:
            raise ValueError(
                f"with {k} folds of {len(np.unique(groups))} patients/records, fold {f + 1}'s "
                f"training rows come from one ({held[0]}), and a fit validates on other "
                "patients or records than it fits: give "
                + ("fewer folds (--kfold) or " if k > 2 else "")  # 2 is the fewest
                + "more records")


def _dataset_digest(ds: TaskDataset, y: np.ndarray) -> str:
    """A digest of the rows a CV splits: record ids, targets and groups, and what the models
    read of them (windows, masks, features: a record rewritten under its name changes it)."""
    h = hashlib.sha256()
    for part in (ds.record_ids.astype(str), np.asarray(y), ds.groups.astype(str)):
        h.update(json.dumps(np.asarray(part).tolist()).encode())
    for array in (ds.X, ds.mask, ds.features):
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()[:16]


def _read_fold(path: Path, stamp: str, te: np.ndarray) -> dict | None:
    """A finished fold saved by :func:`_save_fold`, or None when absent or of another run."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("stamp") != stamp or not np.array_equal(z["te"], te):
                return None
            return {"score": z["score"], "pred": z["pred"], **meta}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # a torn or foreign file: the fold runs again


def _save_fold(path: Path, stamp: str, te: np.ndarray, score: np.ndarray, pred: np.ndarray,
               fold: dict, train_mean: list | None) -> None:
    buf = io.BytesIO()
    meta = json.dumps({"stamp": stamp, "fold": fold, "train_mean": train_mean}, default=float)
    np.savez(buf, te=te, score=score, pred=pred, meta=np.array(meta))
    atomic_write(path, lambda f: f.write(buf.getvalue()))


def features_read(est: TaskEstimator, ds: TaskDataset) -> np.ndarray | None:
    """``ds.features`` for a model that reads them, else None (a Finetuner given features it
    does not read warns of them)."""
    return ds.features if est.use_features else None


def files_stamp(init: object) -> list | None:
    """What identifies the weights ``init`` names, so that a stopped k-fold run resumes only
    on the same weights: the shipped files' names and content hashes for "pretrained" /
    "pretrained:NAME" (an upgrade that changes them runs every fold again); the names, sizes
    and times of a model folder's (or a .safetensors file's) files (a model retrained in the
    same place); None else."""
    from qualityfm.train.export import model_files, names_shipped_weights

    text = str(init)
    if names_shipped_weights(text):
        return [[f.name, hashlib.sha256(f.read_bytes()).hexdigest()]
                for f in model_files(text) if f.is_file()]
    path = Path(text)
    if text in ("none", "classical") or not path.exists():
        return None
    files = (sorted(f for f in path.iterdir() if f.is_file()) if path.is_dir()
             else [f for f in model_files(path) if f.is_file()])  # NAME.safetensors + NAME.json
    return [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files]


#: Estimator attributes that change no fold's result: left out of :func:`_settings_of`.
_NOT_SETTINGS = ("verbose", "device", "checkpoint", "keep_checkpoint")


def _settings_of(est: TaskEstimator) -> dict:
    """The unfitted estimator's class and settings (numbers, text, flags and lists of them; a
    path as text, a config by its fields, a network by a digest of its weights), for a
    checkpoint's stamp without a key: folds of another model had been read as this one's."""
    def plain(v: object) -> bool:
        if isinstance(v, (list, tuple)):
            return all(plain(u) for u in v)
        if isinstance(v, dict):  # ClassicalBaseline's params
            return all(isinstance(k, str) and plain(u) for k, u in v.items())
        return v is None or isinstance(v, (bool, int, float, str, np.generic))

    def said(v: object) -> object:
        if isinstance(v, Path) or dataclasses.is_dataclass(v):  # a path, a QualityFMConfig
            return str(v) if isinstance(v, Path) else repr(v)
        if isinstance(v, torch.nn.Module):  # an init network: its weights
            from qualityfm.train.export import tensors_digest

            return f"{type(v).__qualname__} {tensors_digest(v.state_dict())[:16]}"
        return v if plain(v) else None
    settings = {k: said(v) for k, v in sorted(vars(est).items()) if k not in _NOT_SETTINGS}
    init = getattr(est, "init", None)  # the weights a path names, not its text alone (a
    if isinstance(init, str | Path):  # model retrained there had resumed folds of the old)
        settings["init_files"] = files_stamp(init)
    return {"class": type(est).__qualname__,
            **{k: v for k, v in settings.items() if v is not None}}


def _fit_fold(est: TaskEstimator, ds: TaskDataset, y: np.ndarray, tr: np.ndarray,
              te: np.ndarray, f: int) -> tuple[np.ndarray, np.ndarray, dict, list | None]:
    """Fit ``est`` on the rows ``tr``: its scores and decisions on ``te``, the fold's metrics
    and (regression) its training mean."""
    features = features_read(est, ds)
    est.fit(ds.X[tr], y[tr], ds.mask[tr], ds.groups[tr],
            None if features is None else features[tr])
    args = (ds.X[te], ds.mask[te], None if features is None else features[te])
    train_mean = None
    with absences_named(est, ds.mask[te], [record_of(r) for r in ds.record_ids[te]],
                        f"fold {f + 1}: "):
        if est.kind == "regression":
            score = pred = est.predict(*args)
        else:
            score = est.predict_proba(*args)
            pred = est.decide(score)
    fold = {"fold": f, "n_test": int(len(te))}
    if est.kind == "binary":
        fold.update(auroc=M.auroc(y[te], score), threshold=est.threshold,
                    tpr=M.tpr(y[te], pred), tnr=M.tnr(y[te], pred))
    elif est.kind == "regression" and est.task != "abp":
        train_mean = np.asarray(est.train_mean, float).tolist()
        t, p = y[te].reshape(len(te), -1), np.asarray(pred).reshape(len(te), -1)
        fold.update(mae=[M.mae(t[:, k], p[:, k]) for k in range(t.shape[1])],
                    mase=[M.mase(t[:, k], p[:, k], train_mean[k]) for k in range(t.shape[1])],
                    train_mean=train_mean)
    elif est.kind == "regression":
        train_mean = np.asarray(est.train_mean, float).tolist()
        # with each fold's training means the pooled MASE recomputes from the JSON alone
        fold.update(mae_sbp=M.mae(y[te, 0], pred[:, 0]), mae_dbp=M.mae(y[te, 1], pred[:, 1]),
                    mase_sbp=M.mase(y[te, 0], pred[:, 0], float(est.train_mean[0])),
                    mase_dbp=M.mase(y[te, 1], pred[:, 1], float(est.train_mean[1])),
                    train_mean=train_mean)
    return score, pred, fold, train_mean


def cross_validate(
    make: Callable[[], TaskEstimator], ds: TaskDataset, k: int = 5, seed: int = 0,
    n_boot: int = 1000, target: str = "y", checkpoint: str | Path | None = None,
    key: Mapping | None = None, progress: bool = False,
) -> dict:
    """Grouped k-fold CV of the estimator built by ``make()``; returns pooled out-of-fold
    metrics with CIs, per-fold metrics and the out-of-fold predictions.

    ``target="rhythm"`` fits a 4-class AF model on ``ds.rhythm``.
    ``checkpoint``: a folder where each finished fold's predictions are saved, so that a run
    stopped part-way resumes at its first unfinished fold when called again with the same
    ``key`` (the run's settings, JSON-serialisable) on the same rows; folds saved under
    another key or other rows run again, and, where no key is given, those of an estimator
    of another class or settings. The caller removes the folder when its report is written.
    ``progress``: a line on stderr as each fold ends.
    """
    if target not in ("y", "rhythm"):  # "Rhythm" had run on ds.y without a word
        raise ValueError(f"cross_validate: target must be 'y' or 'rhythm', got {target!r}")
    y = ds.rhythm if target == "rhythm" else ds.y
    if y is None:
        raise ValueError(f"dataset of task {ds.task!r} has no {target!r} target")
    for why in (seed_error(seed), None if is_int(n_boot) and n_boot >= 0
                else f"n_boot must be an int >= 0, got {n_boot!r}",
                None if is_int(k) and k >= 2 else f"k must be an int >= 2, got {k!r}"):
        if why:  # a seed of -1 had failed in the bootstrap, after every fold was fitted
            raise ValueError(f"cross_validate: {why}")
    if not callable(make) or (hasattr(make, "fit") and not isinstance(make, type)):  # an
        # instance, as scikit-learn takes it (a class makes new ones: taken)
        raise ValueError(f"cross_validate: make must be a function returning a new, unfitted "
                         f"estimator (e.g. lambda: ClassicalBaseline('af')), got {make!r}")
    probe = make()
    if not all(hasattr(probe, a) for a in ("fit", "kind", "task")):
        raise ValueError(f"cross_validate: make() must return an estimator (Finetuner, "
                         f"ClassicalBaseline...), got {probe!r}")
    kind, task = probe.kind, probe.task
    if ds.task in TASKS and task in (*TASKS, "af4") and task != ds.task and (task, ds.task) != (
            "af4", "af"):  # (a vt-alarm model had run on af rows, its threshold rule and all)
        raise ValueError(f"cross_validate: the estimator is made for task {task!r}, the "
                         f"dataset is of task {ds.task!r}")
    if task == "af4" and target != "rhythm":  # 0/1 labels had been read as N and A
        raise ValueError("cross_validate: an 'af4' model (N, A, O, ~) is cross-validated on "
                         "target='rhythm'")
    if target == "rhythm" and kind != "multiclass":
        raise ValueError(f"cross_validate: target='rhythm' (N, A, O, ~) needs a 4-class model "
                         f"(task 'af4'), not a {task!r} one")
    groups = checked_groups(ds.groups, len(ds.groups), "the dataset's groups")
    if groups is not ds.groups:  # mixed types had failed to sort in the split
        ds = dataclasses.replace(ds, groups=groups)
    reads = probe.reads_windows or features_read(probe, ds) is None
    if reads and not np.isclose(probe.fs, ds.fs):  # 250-Hz windows had run through 300 Hz
        raise ValueError(f"cross_validate: the dataset's windows are at {ds.fs:g} Hz, the "
                         f"estimator reads windows at {probe.fs:g} Hz: make it with "
                         f"fs={ds.fs:g} (or build the dataset at {probe.fs:g} Hz)")
    if kind == "binary":  # 0/1 as floats: classes, stratified as such (they had been binned)
        y = M._binary(y)
    elif kind == "multiclass":  # whole numbers as floats: classes too
        y = np.asarray(y)
        if y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all():
            y = y.astype(np.int64)
    elif np.asarray(y).dtype.kind in "iub":  # whole mmHg are values: they had been
        y = np.asarray(y, dtype=np.float64)  # stratified (and refused) as classes
    n = len(y)
    stamp = ""
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        stamp = hashlib.sha256(json.dumps(
            {"key": key, "k": k, "seed": seed, "target": target, "rows": _dataset_digest(ds, y),
             # without a key, the model's own settings (with one, the caller's: the CLI's
             # leaves out the options a run ignores, which refit nothing)
             **({"estimator": _settings_of(probe)} if key is None else {})},
            sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
    oof_score: np.ndarray | None = None
    oof_pred: np.ndarray | None = None
    fold_id = np.full(n, -1)
    folds = []
    train_means = []
    splits = check_folds(y, ds.groups, k, seed)
    for f, (tr, te) in enumerate(splits):
        assert_disjoint(ds.groups, tr, te)
        path = None if checkpoint is None else checkpoint / f"{target}-fold{f}.npz"
        saved = None if path is None else _read_fold(path, stamp, te)
        t0 = time.perf_counter()
        if saved is not None:
            score, pred, fold, train_mean = (saved["score"], saved["pred"], saved["fold"],
                                             saved["train_mean"])
        else:
            score, pred, fold, train_mean = _fit_fold(make(), ds, y, tr, te, f)
            if path is not None:
                _save_fold(path, stamp, te, np.asarray(score), np.asarray(pred), fold,
                           train_mean)
        if kind == "multiclass" and task != "af4":  # a fold short of the top class(es)
            width = int(np.max(y)) + 1  # had failed to broadcast into the pooled scores
            score = np.pad(np.asarray(score), ((0, 0), (0, width - np.shape(score)[1])))
        if oof_score is None:
            oof_score = np.zeros((n, *np.shape(score)[1:]), dtype=float)
            oof_pred = np.zeros((n, *np.shape(pred)[1:]), dtype=np.asarray(pred).dtype)
        oof_score[te], oof_pred[te], fold_id[te] = score, pred, f
        if train_mean is not None:
            train_means.append(np.asarray(train_mean))
        folds.append(fold)
        if progress:
            took = time.perf_counter() - t0
            what = "read from the checkpoint" if saved is not None else (
                f"done in {took:.1f} s" if took < 60 else f"done in {took / 60:.1f} min")
            auc = f", AUROC {fold['auroc']:.3f}" if "auroc" in fold else ""
            print(f"qualityfm: {'rhythm ' if target == 'rhythm' else ''}fold {f + 1}/{k} "
                  f"{what}{auc}", file=sys.stderr, flush=True)
    if kind == "binary":
        result = binary_report(y, oof_score, oof_pred, ds.groups, n_boot, seed,
                               alarm_score=ds.task == "vt-alarm")
        aucs = [f["auroc"] for f in folds]
        result["fold_auroc_mean"] = float(np.nanmean(aucs))
        finite = np.asarray(aucs, dtype=float)[np.isfinite(aucs)]  # the sample SD of the folds
        result["fold_auroc_sd"] = float(np.std(finite, ddof=1)) if len(finite) > 1 else None
        result["fold_auroc_n"] = int(len(finite))  # folds of one class have none (6 of 20
        # had dropped out of the mean with no word)
    elif kind == "multiclass" and task == "af4":
        result = rhythm_report(y, oof_score, ds.groups, n_boot, seed)
    elif kind == "multiclass":  # any other classes: not the Challenge's N, A, O and ~
        result = multiclass_report(y, oof_score, ds.groups, n_boot, seed)
    else:
        # MASE against each fold's own training mean, pooled: mean over rows of that fold's mean
        ref = np.asarray(train_means, float)[fold_id].reshape(n, -1)
        if task != "abp":  # any other targets: not SBP and DBP
            result = regression_report(y, oof_pred, ref, ds.groups, n_boot, seed)
        else:
            result = bp_report(y, oof_pred, np.zeros(2), ds.groups, n_boot, seed)
            for kk, name in enumerate(("sbp", "dbp")):
                result[name]["mase"] = M.mase(y[:, kk], oof_pred[:, kk], ref[:, kk])
    result.update(k=k, seed=seed, folds=folds, n_groups=int(len(np.unique(ds.groups))))
    result["oof"] = {"score": oof_score.tolist(), "pred": oof_pred.tolist(),
                     "fold": fold_id.tolist(), "y": np.asarray(y).tolist(),
                     "record_ids": ds.record_ids.tolist()}
    return result


def paired_difference(
    y: np.ndarray, a: np.ndarray, b: np.ndarray, groups: np.ndarray | None = None,
    kind: str = "binary", n_boot: int = 1000, seed: int = 0,
) -> dict:
    """Model ``a`` minus model ``b`` on the same rows, with a paired bootstrap 95 % CI (one
    resample of the groups serves both models, so the rows they share cancel out).

    binary: AUROC of the scores ``a`` and ``b`` (above 0: ``a`` ranks better); regression: SBP
    MAE of the predictions ``[N, 2]`` (below 0: ``a`` errs less). An interval that excludes 0
    says the two models differ on these rows.
    """
    y, a, b = np.asarray(y), np.asarray(a, float), np.asarray(b, float)
    if kind == "binary":  # 0/1 labels as floats stratify as classes, as binary_report's do
        y = M._binary(y)
    if a.shape != b.shape or len(a) != len(y):
        raise ValueError(f"paired predictions must match: {a.shape} vs {b.shape}, {len(y)} rows")
    if kind == "regression" and (y.ndim != 2 or a.ndim != 2):
        raise ValueError(f"regression: y and predictions must be [N, 2] (SBP, DBP), got "
                         f"{y.shape} and {a.shape}")
    if kind == "binary":
        def metric(t, u, v):
            return M.auroc(t, u) - M.auroc(t, v)
        name, stratify = "auroc", True
    elif kind == "regression":
        def metric(t, u, v):
            return M.mae(t[:, 0], u[:, 0]) - M.mae(t[:, 0], v[:, 0])
        name, stratify = "sbp_mae", False
    else:
        raise ValueError(f"paired_difference: kind must be binary or regression, got {kind!r}")
    lo, hi = M.bootstrap_ci(metric, y, a, b, groups=groups, n_boot=n_boot, seed=seed,
                            stratify=stratify)
    return {"metric": name, "delta": float(metric(y, a, b)), "delta_ci": [lo, hi]}
