"""Task metrics: classification at a fixed threshold, ranking metrics, BP error metrics,
clinical bars (AAMI, BHS) and seeded, stratified, group-aware bootstrap confidence intervals.

All functions take plain NumPy arrays; nothing here knows about models or files.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from qualityfm._numbers import not_whole
from qualityfm.signal.nan import rows_text


def _binary(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"binary labels must be 0/1, got values {np.unique(y)[:5]}")
    return y.astype(int)


def class_codes(y: np.ndarray, k: int, name: str = "labels") -> np.ndarray:
    """``y`` as int64 class codes, refused unless each is a whole number 0..k-1 (-1, the
    unlabelled rows' code, had been read as the last class)."""
    y = np.asarray(y)
    if y.dtype == bool:  # False/True: codes 0 and 1, as Finetuner.fit takes them
        y = y.astype(np.int64)
    if y.ndim != 1:
        raise ValueError(f"{name} must be one class code (0..{k - 1}) per row, got shape "
                         f"{y.shape}")
    if not np.issubdtype(y.dtype, np.number) or np.iscomplexobj(y):
        raise ValueError(f"{name} must hold class codes 0..{k - 1} as numbers, got dtype "
                         f"{y.dtype}")
    bad = np.flatnonzero(not_whole(y, 0, k - 1))
    if len(bad):
        unlabelled = " (-1 marks an unlabelled row: leave those out)" if np.any(y[bad] == -1) \
            else ""
        raise ValueError(f"{name} must hold class codes 0..{k - 1}; rows {rows_text(bad)} "
                         f"hold {y[bad[:3]].tolist()}{unlabelled}")
    return y.astype(np.int64)


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, int]:
    """Counts of a binary decision: tp, tn, fp, fn (positive = 1)."""
    t, p = _binary(y_true), _binary(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"y_true {t.shape} and y_pred {p.shape} differ in shape")
    return {
        "tp": int(((t == 1) & (p == 1)).sum()), "tn": int(((t == 0) & (p == 0)).sum()),
        "fp": int(((t == 0) & (p == 1)).sum()), "fn": int(((t == 1) & (p == 0)).sum()),
    }


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else float("nan")


def tpr(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Sensitivity TP / (TP + FN)."""
    c = confusion(y_true, y_pred)
    return _ratio(c["tp"], c["tp"] + c["fn"])


def tnr(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Specificity TN / (TN + FP)."""
    c = confusion(y_true, y_pred)
    return _ratio(c["tn"], c["tn"] + c["fp"])


def ppv(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Precision TP / (TP + FP)."""
    c = confusion(y_true, y_pred)
    return _ratio(c["tp"], c["tp"] + c["fp"])


def f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """2 TP / (2 TP + FP + FN)."""
    c = confusion(y_true, y_pred)
    return _ratio(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"])


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The share of binary decisions ``y_pred`` equal to the 0/1 labels ``y_true``."""
    c = confusion(y_true, y_pred)
    return _ratio(c["tp"] + c["tn"], sum(c.values()))


def challenge_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """PhysioNet/CinC 2015 score (TP + TN) / (TP + TN + FP + 5 FN); a suppressed true alarm
    (FN) costs five times a false alarm let through."""
    c = confusion(y_true, y_pred)
    return _ratio(c["tp"] + c["tn"], c["tp"] + c["tn"] + c["fp"] + 5 * c["fn"])


def _scored(y_true: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Labels and scores as arrays, sorted by score (ties kept together); None when only one
    class is present."""
    t = _binary(y_true)
    s = np.asarray(score, dtype=float)
    if s.shape != t.shape:
        raise ValueError(f"labels {t.shape} and scores {s.shape} differ in shape")
    if np.isnan(s).any():
        raise ValueError(f"scores hold {int(np.isnan(s).sum())} NaN values")
    n_pos = int(t.sum())
    if n_pos == 0 or n_pos == len(t):
        return None
    order = np.argsort(s, kind="mergesort")
    return t[order], s[order]


def auroc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (NaN when only one class is present): the Mann-Whitney
    statistic, ties counting one half, as the trapezoids of the ROC curve give it (computed
    here in NumPy: the bootstrap calls it a thousand times, and sklearn's input checks cost
    more than the sum)."""
    scored = _scored(y_true, score)
    if scored is None:
        return float("nan")
    t, s = scored
    _, first, counts = np.unique(s, return_index=True, return_counts=True)
    ranks = np.repeat(first + (counts + 1) / 2, counts)  # 1-based, ties averaged
    n_pos = int(t.sum())
    n_neg = len(t) - n_pos
    return float((ranks[t == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auprc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the precision-recall curve (average precision: the precision at each
    distinct score, weighted by the recall it adds, as sklearn's average_precision_score;
    NaN when only one class is present: without negatives any scores give 1)."""
    scored = _scored(y_true, score)
    if scored is None:
        return float("nan")
    t, s = scored[0][::-1], scored[1][::-1]  # highest score first
    # the last row of each distinct score (compared, not subtracted: inf - inf is no 0)
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]
    tps = np.cumsum(t)[last]
    precision = tps / (last + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, classes: tuple = ("N", "A", "O")) -> float:
    """Mean one-vs-rest F1 over the ``classes`` (Challenge 2017: N, A, O; '~' is not averaged)
    that the labels hold (NaN when they hold none). A class no row is labelled with is left
    out: its F1 is 0 at any prediction of it, 0/0 at none, so counting it by the predictions
    would make one stray prediction cost a third of the mean (a record set of N and A only,
    as MIMIC PERform's). Its wrong predictions still cost the F1 of the rows' true classes; a
    class-stratified bootstrap keeps the same classes in every replicate."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    present = [c for c in classes if np.any(t == c)]
    if not present:
        return float("nan")
    return float(np.mean([f1((t == c).astype(int), (p == c).astype(int)) for c in present]))


def noisy_auroc(y_true: np.ndarray, proba_noisy: np.ndarray, noisy: str = "~") -> float:
    """AUROC of the probability of the 'too noisy' class against everything else."""
    return auroc((np.asarray(y_true) == noisy).astype(int), proba_noisy)


# ----------------------------------------------------------------------------- blood pressure


#: Slack of the AAMI and BHS bars, mmHg: targets (and a network's predictions) are float32,
#: whose rounding of two pressures under 512 mmHg moves their difference by at most one step
#: there, 2**-15 (an error of exactly 5 had read 5.000003, outside); a slack of 1e-4 had
#: counted an error of 15.0000958 within 15.
MMHG_TOL = 3.1e-5


def _pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if t.shape != p.shape or t.ndim != 1:
        raise ValueError(f"y_true {t.shape} and y_pred {p.shape} must be equal 1-D shapes")
    for name, v in (("y_true", t), ("y_pred", p)):  # else an MAE of NaN beside a grade
        if not np.isfinite(v).all():
            raise ValueError(f"{name} holds {int((~np.isfinite(v)).sum())} NaN or infinite "
                             f"values of {len(v)}")
    return t, p


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(p - t)))


def me(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean error (bias), prediction minus reference."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(p - t))


def sd(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Standard deviation of the error (sample SD, ddof=1, as in AAMI)."""
    t, p = _pair(y_true, y_pred)
    return float(np.std(p - t, ddof=1)) if len(t) > 1 else float("nan")


def mase(y_true: np.ndarray, y_pred: np.ndarray, train_mean: float | np.ndarray) -> float:
    """MAE over the MAE of always predicting the training mean on the same rows (1 = no
    better than the mean; NaN where that MAE is 0). A mean absolute error relative to the
    training mean's, not Hyndman's MASE against a naive forecast; ``train_mean`` may hold one
    mean per row (pooled cross-validation: each row's fold's)."""
    t, _ = _pair(y_true, y_pred)
    return _ratio(mae(y_true, y_pred), float(np.mean(np.abs(t - train_mean))))


#: Subjects a validation by AAMI/ISO 81060-2 or the BHS protocol needs: :func:`aami` and
#: :func:`bhs` on fewer (or on windows of fewer patients) are indicative, not a validation.
PROTOCOL_SUBJECTS = 85


def aami(y_true: np.ndarray, y_pred: np.ndarray) -> bool | None:
    """AAMI/ISO 81060-2 criterion 1: |ME| <= 5 mmHg and SD <= 8 mmHg (None when the SD is
    undefined: fewer than two rows). The criterion on these rows only: the standard also
    asks for :data:`PROTOCOL_SUBJECTS` subjects and its own measurement protocol."""
    spread = sd(y_true, y_pred)
    if not np.isfinite(spread):
        return None
    # an exact 5 (or 8) stays within where rounding gives 5.000003, as in bhs
    return bool(abs(me(y_true, y_pred)) <= 5.0 + MMHG_TOL and spread <= 8.0 + MMHG_TOL)


def bhs(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, object]:
    """BHS grade from the cumulative % of absolute errors within 5/10/15 mmHg.

    A: 60/85/95, B: 50/75/90, C: 40/65/85 (all three must be met), else D. The bars on these
    rows only: the protocol also asks for :data:`PROTOCOL_SUBJECTS` subjects.
    """
    t, p = _pair(y_true, y_pred)
    err = np.abs(p - t)
    # an error of exactly 5 mmHg is within 5, also where rounding gives 5.000003
    within = [float(100.0 * np.mean(err <= k + MMHG_TOL)) if len(err) else float("nan")
              for k in (5, 10, 15)]
    if not len(err):  # no rows: no grade (every bar failed had read as "D")
        return {"grade": None, "within5": within[0], "within10": within[1],
                "within15": within[2]}
    grade = "D"
    for name, bars in (("A", (60, 85, 95)), ("B", (50, 75, 90)), ("C", (40, 65, 85))):
        if all(w >= b for w, b in zip(within, bars, strict=True)):
            grade = name
            break
    return {"grade": grade, "within5": within[0], "within10": within[1], "within15": within[2]}


def bp_metrics(y_true: np.ndarray, y_pred: np.ndarray, train_mean: float) -> dict[str, object]:
    """MAE, ME, SD, MASE, AAMI pass and BHS grade of one pressure (SBP or DBP)."""
    return {
        "mae": mae(y_true, y_pred), "me": me(y_true, y_pred), "sd": sd(y_true, y_pred),
        "mase": mase(y_true, y_pred, train_mean), "aami": aami(y_true, y_pred),
        "bhs": bhs(y_true, y_pred),
    }


# ----------------------------------------------------------------------------- bootstrap


def boundary_ci(value: float, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """The exact (Clopper-Pearson) (1 - alpha) interval of a proportion observed at 0 or 1
    over ``n`` units, where a bootstrap's replicates cannot differ (18 of 18 true alarms
    kept: 0.815-1, not 1-1)."""
    if value not in (0.0, 1.0) or n < 1:
        raise ValueError(f"boundary_ci: a proportion of 0 or 1 over n >= 1 units, got {value} "
                         f"over {n}")
    bound = (alpha / 2) ** (1.0 / n)
    return (bound, 1.0) if value == 1.0 else (0.0, 1.0 - bound)


def bootstrap_ci(
    metric: Callable[..., float],
    y_true: np.ndarray,
    *arrays: np.ndarray,
    groups: np.ndarray | None = None,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    stratify: bool = True,
) -> tuple[float, float]:
    """Percentile bootstrap (1 - alpha) CI of ``metric(y_true, *arrays)``.

    Resamples whole groups (patients or records) when ``groups`` is given, else samples.
    With ``stratify``, class labels (``y_true`` of an integer, boolean or string type) are
    resampled within each class (of each group's first label when grouped), so every
    replicate keeps the class counts; continuous targets (floats) are not stratified, since
    each value would be a class of its own and the interval would have no width.
    Replicates where the metric is undefined (NaN) are dropped. Every replicate repeats a
    stratum of one unit (one positive; one record's windows), so its uncertainty is not
    resampled: with every stratum (or, unstratified, the whole set) of one unit there is no
    interval (NaN, NaN). Nor is there one when every replicate agrees (to 1e-12): a TPR over
    one positive, an AUROC of 1, the accuracy of a model that keeps every alarm (the class
    counts are fixed in every replicate) would have an interval of no width, a certainty the
    data do not give (a proportion at 0 or 1 has its exact interval, :func:`boundary_ci`).
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"bootstrap_ci: alpha must be in (0, 1), got {alpha}")
    y_true = np.asarray(y_true)
    arrays = tuple(np.asarray(a) for a in arrays)
    n = len(y_true)
    if any(len(a) != n for a in arrays):
        raise ValueError("bootstrap_ci: all arrays must have the length of y_true")
    rng = np.random.default_rng(seed)
    if groups is None:
        units = [np.array([i]) for i in range(n)]
    else:
        groups = np.asarray(groups)
        if len(groups) != n:
            raise ValueError(f"groups has length {len(groups)}, expected {n}")
        _, inverse = np.unique(groups, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        units = np.split(order, np.flatnonzero(np.diff(inverse[order])) + 1)
    if stratify and not np.issubdtype(y_true.dtype, np.floating):
        unit_label = np.array([y_true[u[0]] for u in units])
        strata = [np.flatnonzero(unit_label == c) for c in np.unique(unit_label)]
    else:
        strata = [np.arange(len(units))]
    if all(len(st) < 2 for st in strata):
        return (float("nan"), float("nan"))
    # the units' rows end to end: a replicate's rows gathered at once, the same rows in the
    # same order as its units' rows joined one by one (a loop over 2985 units a replicate had
    # taken most of a report's 11 intervals' time)
    flat = np.concatenate(units)
    sizes = np.array([len(u) for u in units])
    firsts = np.cumsum(sizes) - sizes
    values = []
    for _ in range(n_boot):
        pick = np.concatenate([rng.choice(s, size=len(s), replace=True) for s in strata])
        took = sizes[pick]
        ends = np.cumsum(took)
        idx = flat[np.arange(ends[-1]) + np.repeat(firsts[pick] - ends + took, took)]
        v = metric(y_true[idx], *(a[idx] for a in arrays))
        if np.isfinite(v):
            values.append(v)
    if not values or np.ptp(values) <= 1e-12:  # (AUPRC's replicates 1 and 1 - 1e-16)
        return (float("nan"), float("nan"))
    lo, hi = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    if hi - lo <= 1e-12:  # all but a few replicates agree: no width either
        return (float("nan"), float("nan"))
    return (float(lo), float(hi))
