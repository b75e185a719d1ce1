"""Calibration of raw scores (temperature, Platt) and the operating threshold, both fitted on
validation predictions of one model and then frozen."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_softmax, logit
from scipy.stats import t as student_t

from qualityfm._caller import warn_at_caller
from qualityfm.signal.nan import rows_text
from qualityfm.tasks.metrics import _binary, class_codes

CALIBRATIONS = ("temperature", "platt", "none")
THRESHOLD_RULES = ("tpr", "f1", "fixed")
#: Bounds of the log scale: an uninformative validation set must not squash every score to one
#: value (which would erase the ranking that AUROC and the threshold need).
LOG_SCALE = (-4.0, 4.0)


@dataclass
class Calibrator:
    """Maps logits to probabilities: binary ``sigmoid(a * z + b)`` (temperature: b = 0),
    multiclass ``softmax(z / T)``. Platt scaling fits Platt's smoothed targets, so that a
    small validation set whose classes separate does not give probabilities of 0 and 1."""

    method: str = "platt"
    a: float = 1.0
    b: float = 0.0

    def fit(self, logits: np.ndarray, y: np.ndarray) -> Calibrator:
        """Fit on raw scores ``logits`` ([N] binary, [N, K] classes) of labels ``y``."""
        if self.method not in CALIBRATIONS:
            raise ValueError(f"calibration must be one of {CALIBRATIONS}, got {self.method!r}")
        z = np.asarray(logits, dtype=float)
        y = _binary(y) if z.ndim != 2 else class_codes(y, z.shape[1])
        if z.ndim not in (1, 2) or len(z) != len(y):  # (one row of logits had been broadcast
            raise ValueError(f"logits {z.shape} and labels {y.shape}: one logit (a row of "
                             "them, multiclass) per label is needed")  # over every label)
        bad = np.flatnonzero(~np.isfinite(z) if z.ndim == 1 else ~np.isfinite(z).all(axis=1))
        if len(bad):  # (one NaN had made Platt's bias NaN, one inf (logit(1.0)) -inf: every
            # probability NaN or 0)
            raise ValueError(f"logits are NaN or inf in rows {rows_text(bad)}: calibration "
                             "needs a finite score for every row")
        self.a, self.b = 1.0, 0.0  # a refit on one class had kept the previous fit
        if self.method == "none" or len(np.unique(y)) < 2:
            return self
        scale = tuple(np.exp(LOG_SCALE))
        if z.ndim == 2:  # multiclass: temperature only
            onehot = np.eye(z.shape[1])[y]

            def nll_t(p: np.ndarray) -> tuple[float, np.ndarray]:
                logp = log_softmax(z * p[0], axis=1)
                grad = np.mean(((np.exp(logp) - onehot) * z).sum(axis=1))
                return float(-(logp * onehot).sum(axis=1).mean()), np.array([grad])
            self.a = float(_convex_fit(nll_t, [1.0], [scale])[0])
            return self
        target = y.astype(float)
        platt = self.method == "platt"
        if platt:  # Platt's (1999) targets, (N+ + 1) / (N+ + 2) and 1 / (N- + 2): few
            n_pos = int(y.sum())  # separable rows give no 0 or 1 certainty
            target = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (len(y) - n_pos + 2))

        # Platt fits on standardised logits u = (z - m) / sd, a * z + b = a' * u + b' with
        # a' = a sd, b' = b + a m: a shift of the logits moves b alone (their mean is no
        # bound's concern), and a' and b' are not tied to each other (a well-posed problem)
        m, sd = (float(z.mean()), float(z.std())) if platt else (0.0, 1.0)
        sd = sd if sd > 0 else 1.0
        u = (z - m) / sd

        def nll(p: np.ndarray) -> tuple[float, np.ndarray]:
            s = u * p[0] + p[1]
            r = expit(s) - target
            return float(np.mean(np.logaddexp(0, s) - target * s)), np.array(
                [np.mean(r * u), np.mean(r) if platt else 0.0])
        a, b = _convex_fit(nll, [sd, 0.0], [(scale[0] * sd, scale[1] * sd),
                                            (-20.0, 20.0) if platt else (0.0, 0.0)])
        self.a = float(a / sd)
        self.b = float(b - self.a * m) if platt else 0.0
        return self

    def __call__(self, logits: np.ndarray) -> np.ndarray:
        z = np.asarray(logits, dtype=float)
        if z.ndim == 2:
            return np.exp(log_softmax(z * self.a, axis=1))
        return expit(z * self.a + self.b)


def _convex_fit(loss: Callable[[np.ndarray], tuple[float, np.ndarray]], start: list[float],
                bounds: list[tuple[float, float]]) -> np.ndarray:
    """The minimum of a convex ``loss`` (value, gradient) of the scale (and bias) within
    ``bounds``: the log-loss of ``a * z + b`` is convex in ``a`` and ``b``, so the minimum
    found is the one, wherever the logits sit (a simplex search started at 0 had stalled at
    the scale's bound for logits far from 0)."""
    return minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds).x


def check_operating_settings(calibration: str, rule: str, target_tpr: float) -> None:
    """Refuse a calibration, threshold rule or target TPR that no operating point can come
    from (a target TPR outside (0, 1) gave a NaN threshold, which suppresses every alarm)."""
    if calibration not in CALIBRATIONS:
        raise ValueError(f"calibration must be one of {CALIBRATIONS}, got {calibration!r}")
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"threshold rule must be one of {THRESHOLD_RULES}, got {rule!r}")
    if not isinstance(target_tpr, (int, float, np.integer, np.floating)) or not (
            0.0 < float(target_tpr) < 1.0):
        raise ValueError(f"target_tpr must be a number in (0, 1), got {target_tpr!r}")


def choose_threshold(
    y: np.ndarray, proba: np.ndarray, rule: str = "tpr", target_tpr: float = 0.95
) -> float:
    """Operating threshold (positive when ``proba >= threshold``) from validation data.

    ``tpr``: the highest threshold that keeps the TPR >= ``target_tpr`` on new positives, so as
    many negatives (false alarms) as possible are suppressed. A new positive scores above the
    j-th lowest of n validation positives with probability (n + 1 - j) / (n + 1), so the
    threshold is the j-th lowest with j = floor((n + 1)(1 - target)) (the empirical quantile,
    j = floor(n (1 - target)) + 1, keeps the target on the validation rows only: at the lowest
    of 9 positives, 0.90 of new ones on average). With too few positives for any j >= 1 (fewer
    than 19 at 0.95) it is a one-sided normal prediction bound on their logits (Student t,
    n - 1 degrees of freedom), never above the lowest positive; below 3 positives, the lowest.
    ``f1``: the threshold of maximum F1; ``fixed``: 0.5. A threshold at a validation row's
    probability is moved just under it (:func:`_under_its_row`).
    """
    y, p = _binary(y), np.asarray(proba, dtype=float)  # labels of 2 had been no positives
    if p.shape != y.shape:
        raise ValueError(f"labels {y.shape} and probabilities {p.shape} differ in shape")
    check_operating_settings("none", rule, target_tpr)
    if not np.isfinite(p).all():
        raise ValueError(f"the validation probabilities hold {int((~np.isfinite(p)).sum())} "
                         "NaN or infinite values: no threshold can be set from them")
    pos = np.sort(p[y == 1])
    if rule == "fixed" or len(pos) == 0:
        return 0.5
    return _under_its_row(p, _row_threshold(y, p, pos, rule, target_tpr))


#: How far at most a threshold set at a validation row's probability is moved under it.
ROW_MARGIN = 1e-4


def _under_its_row(p: np.ndarray, thr: float) -> float:
    """``thr`` moved under the validation probability it equals, half way to the next lower
    one and at most :data:`ROW_MARGIN`: that row's decision had flipped on float noise of
    another batch size, runtime or device (a true alarm kept by PyTorch, suppressed by
    ONNX); no validation row's decision changes."""
    if not (p == thr).any():
        return thr
    lower = p[p < thr]
    below = lower.max() if len(lower) else 0.0
    moved = max(thr - ROW_MARGIN, (thr + below) / 2)
    # rows a float's step apart have no midpoint between them: the threshold stays
    return float(moved) if below < moved < thr else thr


def _positives_needed(target_tpr: float) -> str:
    """How many validation positives a threshold at ``target_tpr`` needs, in words: the fewest
    whose order statistic keeps it (j >= 1 in :func:`choose_threshold`: 19 at 0.95, 9 at 0.9;
    the warning had said 19 at any target), and 3 for the bound below that."""
    n = max(1, math.ceil(1.0 / (1.0 - target_tpr) - 1.0 - 1e-9))
    return (f"{n} at least: the order statistic at {target_tpr:g}" if n <= 3 else
            f"3 at least, {n} for the order statistic at {target_tpr:g}")


def _row_threshold(y: np.ndarray, p: np.ndarray, pos: np.ndarray, rule: str,
                   target_tpr: float) -> float:
    """:func:`choose_threshold`'s rule applied (``pos``: the positives' sorted scores)."""
    if rule == "tpr":
        n = len(pos)
        # the highest positive at most (a target of 1e-10 had indexed past it, after the fit)
        j = min(n, int(np.floor((n + 1) * (1.0 - target_tpr) + 1e-9)))
        if j >= 1:
            return float(pos[j - 1])
        if n < 3:  # no spread to bound: the lowest, which new positives beat ~n/(n+1) of the time
            warn_at_caller(
                f"only {n} validation positive(s) to set the threshold: it is the lowest of "
                f"their scores, which keeps TPR >= {target_tpr:g} on new positives only by "
                f"chance (about {n}/{n + 1} of them on average); give more labelled positives "
                f"({_positives_needed(target_tpr)})", RuntimeWarning)
            return float(pos[0])
        z = logit(np.clip(pos, 1e-7, 1 - 1e-7))
        bound = z.mean() - student_t.ppf(target_tpr, n - 1) * z.std(ddof=1) * np.sqrt(1 + 1 / n)
        return float(min(expit(bound), pos[0]))
    best, thr = -1.0, 0.5
    for t in np.unique(p):
        pred = p >= t
        tp = np.sum(pred & (y == 1))
        score = 2 * tp / (pred.sum() + len(pos))
        if score > best:
            best, thr = score, float(t)
    return thr
