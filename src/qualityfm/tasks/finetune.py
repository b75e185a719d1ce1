"""Fine-tuning on plain arrays: a head on the pooled encoder output, grouped validation split,
early stopping, class weights, calibration and an operating threshold fixed on validation.

The same protocol (:class:`TaskEstimator`) serves the encoder (:class:`Finetuner`) and the
classical feature baseline (``baselines.ClassicalBaseline``). A network trained by gradient
steps splits the training rows by group into fit/validation parts, fits on the first, then
calibrates and fixes the threshold on the validation predictions of that same model, which
then predicts the test rows. The closed-form linear head (``solver="lbfgs"``) and the gradient
boosting instead calibrate and fix the threshold on the out-of-fold scores of grouped inner
folds, models of the same settings, and predict with the model refitted on every training row
(fitted on more rows, its scores may spread a little wider than the inner models').
Nothing is pooled across the outer folds. ``groups`` (the record or patient of each row) must
be given whenever a record gives several rows (abp; af records over 61 s or MIMIC PERform
records): each row is its own group otherwise.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import pickle
import re
import sys
import warnings
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from qualityfm._caller import warn_at_caller
from qualityfm._numbers import is_int, is_number, seed_error, shown
from qualityfm.data.features import robust_centre_scale
from qualityfm.io.atomic import atomic_write_all, json_safe, numpy_scalar, read_json
from qualityfm.io.channels import MODEL_CHANNELS
from qualityfm.io.folders import refuse_file_for_folder
from qualityfm.model.network import (
    check_pool,
    decay_split,
    mean_over_shifts,
    pool_encoder,
    pooled_dim,
)
from qualityfm.model.precision import float32_default, resolve_device
from qualityfm.quality.features import FEATURES_VERSION, feature_names, window_features
from qualityfm.signal import MODEL_FS
from qualityfm.signal.nan import (
    check_finite,
    checked_mask,
    listed,
    present_mask,
    refuse_empty_rows,
    rows_text,
)
from qualityfm.signal.normalize import warn_unscaled
from qualityfm.tasks.calibration import Calibrator, check_operating_settings, choose_threshold
from qualityfm.tasks.features import task_columns
from qualityfm.tasks.metrics import auroc
from qualityfm.tasks.splits import fold_count, group_kfold, group_split

if TYPE_CHECKING:
    from qualityfm.model import QualityFMConfig

#: Task name -> (kind, number of outputs; 0 = from the labels).
TASK_KINDS: dict[str, tuple[str, int]] = {
    "vt-alarm": ("binary", 1), "af": ("binary", 1), "af4": ("multiclass", 4),
    "abp": ("regression", 2), "binary": ("binary", 1), "multiclass": ("multiclass", 0),
    "regression": ("regression", 0),
}
#: What a task's target columns hold, for error messages.
TARGETS = {"abp": " (SBP, DBP in mmHg)"}
#: Median SBP (mmHg) outside which abp targets are warned about as another unit.
SBP_RANGE = (40, 300)
#: Tasks whose datasets hold several rows (windows) per record: a fit without groups says so.
MULTI_ROW_TASKS = ("abp",)
#: Default threshold rule per task: VT suppresses false alarms at TPR >= 0.95; AF maximises F1.
DEFAULT_RULE = {"vt-alarm": "tpr", "af": "f1", "binary": "tpr"}
#: The settings of a fit by gradient steps that a saved model keeps (a refit of the loaded
#: model trains with them; it starts from the fitted weights, its ``init``).
TRAINING_SETTINGS = ("epochs", "batch_size", "lr", "head_lr", "weight_decay", "patience",
                     "class_weight", "dropout", "augment")
#: The scale of a feature column constant over the training rows: its values read as 0.
CONSTANT_COLUMN_SCALE = 1e30
#: Most epochs of a network trained by gradient steps (early stopping on validation).
DEFAULT_EPOCHS = 30


def window_digests(rows: np.ndarray) -> list[str]:
    """A 16-hex-digit digest of each row of ``rows`` (windows ``[N, C, T]`` or features
    ``[N, F]``), as float32 bytes: the same window under another record name (a renamed copy)
    has the same digest."""
    return [hashlib.sha1(np.ascontiguousarray(r, dtype=np.float32).tobytes()).hexdigest()[:16]
            for r in np.asarray(rows)]


def _task_kind(task: str) -> tuple[str, int]:
    if task not in TASK_KINDS:
        raise ValueError(f"unknown task {task!r}; choose one of {sorted(TASK_KINDS)}")
    return TASK_KINDS[task]


def balanced_class_weights(y: np.ndarray, n_classes: int | None = None,
                           power: float = 1.0) -> np.ndarray:
    """Weight of each label ``0..max(y)`` (or ``n_classes - 1``): ``(n / (k * n_c)) ** power``,
    ``k`` = ``n_classes`` or the number of labels present, an absent label counted once.
    ``power=1`` is sklearn's "balanced"; ``0.5`` lies halfway, in log scale, between it and
    no weighting."""
    y = np.asarray(y, dtype=np.int64)
    counts = np.bincount(y, minlength=n_classes or 0)
    k = n_classes or int((counts > 0).sum())
    return (len(y) / (k * np.maximum(counts, 1))) ** power


def check_test_shifts(test_shifts: int, n_samples: int) -> None:
    """Refuse more shifted copies than the windows hold samples (1e9 had run for hours after
    the fit, and more shifts than samples repeat some)."""
    if test_shifts > n_samples:
        raise ValueError(f"test_shifts (--test-shifts) {test_shifts} exceeds the windows' "
                         f"{n_samples} samples: at most one shift a sample")


def refuse_one_group(groups: np.ndarray) -> None:
    """Refuse (ValueError) rows of one group: a fit validates on other patients or records
    than those it fits."""
    if not len(groups):  # (an IndexError had named the first group of none)
        raise ValueError("no rows to fit: give rows of two groups at least")
    if len(np.unique(groups)) < 2:
        raise ValueError(f"groups holds one group ({groups[0]}) for all {len(groups)} rows: "
                         "the rows a model is validated on must come from other patients or "
                         "records than those it fits; give rows of two groups at least")


def checked_groups(groups: Any, n: int, name: str = "groups") -> np.ndarray:
    """``groups`` as an array of one entry per row that sorts: None or NaN refused, naming the
    rows; mixed types (str and int) as text."""
    groups = np.asarray(groups)
    if groups.ndim != 1 or len(groups) != n:
        raise ValueError(f"{name} must hold one entry per row ({n}), got shape "
                         f"{list(groups.shape)}")
    missing = np.flatnonzero([g is None or (isinstance(g, float) and g != g)
                              for g in groups.tolist()])
    if len(missing):
        raise ValueError(f"{name} is missing (None or NaN) in rows {rows_text(missing)}: "
                         "give every row its patient or record")
    return groups.astype(str) if groups.dtype == object else groups  # mixed types do not sort


class TaskEstimator(ABC):
    """Fit/predict protocol shared by every model of the task harness.

    ``val_fraction``: the share of the training rows' patients or records held out as the
    validation rows that choose the epoch, calibrate and fix the threshold (above 0, at most
    0.5; an lbfgs head, and the classical baseline's cross-fitted models, are calibrated on
    their inner folds instead).
    ``calibration`` of the validation scores: ``"platt"`` (a scale and an intercept, the
    default: class weighting shifts a binary model's raw scores, which a temperature alone
    cannot undo), ``"temperature"`` or ``"none"``; a multiclass model takes a temperature.
    Calibration is monotone, so rankings and the decisions of the ``tpr`` and ``f1`` rules do
    not depend on it; probabilities do.
    ``threshold_rule`` (binary tasks; ``calibration.THRESHOLD_RULES``): ``"tpr"`` keeps a TPR
    of at least ``target_tpr`` on new data (vt-alarm's default), ``"f1"`` the validation F1's
    best (af's), ``"fixed"`` a probability of 0.5. ``seed``: the validation split and the
    network's initialisation and batches. ``fs``: the rate of the windows X (Hz)."""

    #: Whether the model reads the windows X themselves (a feature model given its features
    #: does not, so their length is no concern of its)
    reads_windows = True
    #: Whether the model reads classical features (a Finetuner only with ``use_features``)
    use_features = True

    def __init__(
        self, task: str, *, val_fraction: float = 0.2, calibration: str = "platt",
        threshold_rule: str | None = None, target_tpr: float = 0.95, seed: int = 0,
        fs: float = MODEL_FS,
    ) -> None:
        self.task = task
        if not is_number(fs) or fs <= 0:  # '300', None, NaN: the fit had failed late
            raise ValueError(f"fs must be the windows' sampling rate in Hz, a finite number "
                             f"> 0, got {fs!r}")
        self.fs = float(fs)  # of the windows X, for features computed from them
        self.kind, self.n_out = _task_kind(task)
        self.val_fraction = val_fraction
        self.calibration = calibration
        self.threshold_rule = threshold_rule or DEFAULT_RULE.get(task, "tpr")
        self.target_tpr = target_tpr
        check_operating_settings(calibration, self.threshold_rule, target_tpr)
        if not (is_number(val_fraction) and 0.0 < val_fraction <= 0.5):  # ('0.2': TypeError)
            raise ValueError(f"val_fraction must be a number in (0, 0.5], got "
                             f"{shown(val_fraction)}")
        if why := seed_error(seed):  # (2**32 had failed in scikit-learn after the features)
            raise ValueError(why)
        self.seed = int(seed)
        self.calibrator = Calibrator(calibration)
        self.threshold = 0.5
        self.train_mean: np.ndarray | None = None
        self.target_1d = False  # regression fitted on y [N]: predictions [N], as y
        self.history: list[dict] = []
        #: channels the windows must hold (None: any; a custom encoder module's own affair)
        self.n_channels: int | None = len(MODEL_CHANNELS)
        self.window: tuple[int, int] | None = None  # [channels, samples] of the fitted windows
        #: figures on the rows the model did not fit (see :meth:`_set_operating_point`)
        self.validation: dict = {}
        self.features_given = False  # fitted on a features array (record-wide), not windows
        self.features_width: int | None = None  # columns of that array (None: not recorded)
        #: :func:`window_digests` of the rows fitted (None: a model saved before they were
        #: kept), so that evaluate and predict recognise its training windows under any name
        self.train_windows: list[str] | None = None
        #: each channel (of MODEL_CHANNELS): present in every window fitted (None: not known)
        self.always_present: list[bool] | None = None
        #: each channel: present in some window fitted (None: not known)
        self.ever_present: list[bool] | None = None
        #: each channel: the windows fitted that held it, of ``fitted_rows`` (None: not known)
        self.present_counts: list[int] | None = None
        self.fitted_rows: int | None = None
        #: a multiclass model's classes no row fitted held: outputs never learnt (None: not
        #: known, a model saved before they were kept)
        self.unlearnt: list[int] | None = None

    # subclasses: fit on (fit rows, validation rows) and return raw validation outputs
    @abstractmethod
    def _fit_core(self, X, y, mask, features, fit_idx, val_idx) -> np.ndarray: ...

    @abstractmethod
    def _raw(self, X, mask, features) -> np.ndarray: ...

    def fit(
        self, X: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None,
        groups: np.ndarray | None = None, features: np.ndarray | None = None,
    ) -> TaskEstimator:
        """Fit on rows ``X`` [N, C, T] (or features only) with ``mask`` [N, C] (True =
        present; None: a channel is present where it is not flat, so a missing modality filled
        with zeros is absent); ``groups`` keeps the internal validation split honest (default:
        every row its own group)."""
        with self._unchanged_on_error(), float32_default():
            X, y, mask, groups, features = self._fit_inputs(X, y, mask, groups, features)
            fit_idx, val_idx = group_split(y, groups, self.val_fraction, seed=self.seed)
            raw_val = self._fit_core(X, y, mask, features, fit_idx, val_idx)
            self._set_operating_point(raw_val, y[val_idx])
        return self

    @contextlib.contextmanager
    def _unchanged_on_error(self) -> Iterator[None]:
        """A fit that raises (inputs refused, an inner fold of one class, Ctrl-C) leaves the
        model as it was: a fitted model keeps predicting as before, not from half a refit.
        A fit replaces what it changes (network, scaling, calibrator, lists), so a shallow
        copy of the attributes, lists and dicts copied, restores it."""
        saved = {k: copy.copy(v) if isinstance(v, (list, dict)) else v
                 for k, v in self.__dict__.items()}
        try:
            yield
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _features(self, X, mask, features) -> np.ndarray:
        """``features`` as given (a TaskDataset's, from every channel of the record over the
        task's span), else the classical features of the windows ``X`` at ``fs``. Features of
        the other kind than at fit give other values, and warn (here and in :meth:`_inputs`)."""
        if features is not None:
            f = np.asarray(features, dtype=np.float32)
            # a model fitted on windows read their classical features' columns
            width = (self.features_width if self.features_given
                     else len(feature_names()) if self.window is not None else None)
            if width is not None and f.shape[-1] != width:
                # a table with columns added or left out would be read from the wrong ones
                raise ValueError(f"features hold {f.shape[-1]} columns; the model was fitted "
                                 f"on {width}: give the same table as at fit")
            return f
        if X is None:
            raise ValueError("no features given and no windows X to compute them from")
        if self.features_given and self.features_width not in (None, len(feature_names())):
            # (a user's own table: the window features' first columns had been read as its)
            raise ValueError(f"the model was fitted on a features table of "
                             f"{self.features_width} columns, not the classical window "
                             f"features ({len(feature_names())}): give features= the same "
                             "table as at fit")
        if self.features_given:  # set by a fit on a features array
            warn_at_caller("the model was fitted on a features array (a TaskDataset's, from "
                           "every channel of the record); computing them from the windows X "
                           "instead gives other values: pass features= as at fit")
        X = np.asarray(X)
        if X.ndim == 3 and X.shape[1] != len(MODEL_CHANNELS):  # (had said "x must be [N, 2,
            # T]", naming no way out)
            raise ValueError(f"the classical features are computed from windows of "
                             f"{len(MODEL_CHANNELS)} channels ({', '.join(MODEL_CHANNELS)}); X "
                             f"holds {X.shape[1]}: pass features= or use_features=False")
        return window_features(X, mask, self.fs)

    def _inputs(self, X, mask, features) -> tuple:
        """``(X, mask, features)`` checked: windows ``[N, C, T]`` of finite numbers in every
        present channel (an absent channel's values are ignored, and zeroed here when they
        are not finite), of the fitted shape once fitted; ``mask`` bool ``[N, C]`` (None: a
        channel is present where it is not flat, :func:`~qualityfm.signal.nan.present_mask`);
        ``features`` one row per window (none, when it has no columns). ``X`` may be None
        when ``features`` are given."""
        given = mask is not None
        if features is not None and np.ndim(features) == 2 and np.shape(features)[1] == 0:
            features = None  # no columns, as a TaskDataset without features holds: none given
            if X is None:
                raise ValueError("features has no columns and no windows X were given")
        if X is None:
            if features is None:
                raise ValueError("give windows X (or, for a feature model, features)")
            if self.reads_windows:
                raise ValueError("this model reads windows X [rows, channels, samples]; "
                                 "features alone serve ClassicalBaseline")
            if np.ndim(features) != 2:  # before the mask, sized by its rows
                raise ValueError(f"features must be [rows, columns], got shape "
                                 f"{np.shape(features)}")
            if given:  # a list had failed in numpy's attributes, a wrong shape been kept
                mask = checked_mask(mask, (len(np.asarray(features)),
                                            self.n_channels or len(MODEL_CHANNELS)))
        else:
            X = np.asarray(X)
            if np.iscomplexobj(X):  # its imaginary part had been dropped
                raise ValueError(f"X holds complex numbers (dtype {X.dtype}); give real-valued "
                                 "windows")
            if X.ndim != 3 or not np.issubdtype(X.dtype, np.number):
                raise ValueError("X must be numeric windows [rows, channels, samples], got "
                                 f"shape {X.shape} dtype {X.dtype}")
            if X.shape[2] == 0:
                raise ValueError(f"X holds windows of 0 samples (shape {X.shape})")
            read = self.reads_windows or features is None  # (else X only stands beside them)
            self._check_window_shape(X.shape, length=read)
            if not read and self.window is not None and X.shape[2] != self.window[1]:
                w = self.window[1]  # features of other windows: said, as the task verbs say it
                warn_at_caller(f"windows of {X.shape[2] / self.fs:g} s ({X.shape[2]} samples at "
                               f"{self.fs:g} Hz){OTHER_LENGTH}"
                               f"{w / self.fs:g} s ({w} samples); its scores and threshold hold "
                               "for those")
            if read and self.window is None and X.shape[2] < int(self.fs):  # at a fit: 8
                # samples, one token mostly padding, had been fitted (the classical features
                # refuse under 2 s themselves)
                raise ValueError(f"X holds windows of {X.shape[2]} samples "
                                 f"({X.shape[2] / self.fs:.4g} s at {self.fs:g} Hz); the tasks "
                                 "read windows of 1 s (a beat at 60 bpm) or more")
            # a flat channel (a missing modality filled with zeros) is absent
            mask = checked_mask(mask, X.shape[:2]) if given else present_mask(X)
            X = _finite_windows(X, mask)
            if read:  # (windows beside the features read had been warned of, unread)
                warn_unscaled(X, mask, MODEL_CHANNELS)
        if mask is not None and (given or self.reads_windows or features is None):
            # a ClassicalBaseline too (it had answered from no channel), unless its windows
            # only stand beside the features it reads, their flatness no statement
            refuse_empty_rows(mask, given, "the model has nothing to judge there, and its "
                              "output would be a guess"
                              + (" (vt-alarm: keep the alarm)" if self.task == "vt-alarm"
                                 else ""))
        if features is not None:
            if not self.use_features:  # at a fit and at a prediction alike
                warn_at_caller(f"features given, but this {self.task} model does not read "
                               "them (use_features=False, or the task's default): pass "
                               "use_features=True to put them in its head")
            elif not self.features_given and self.window is not None:
                warn_at_caller("the model was fitted on features computed from its windows X; "
                               "a features array (a TaskDataset's, from every channel of the "
                               "record) gives other values: leave features= out as at fit")
            features = np.asarray(features)
            n = len(features) if X is None else len(X)
            if features.ndim != 2 or len(features) != n:
                raise ValueError(f"features must be [rows, columns] with {n} rows, got shape "
                                 f"{features.shape}")
        return X, mask, features

    def _check_window_shape(self, shape: tuple[int, ...], length: bool = True) -> None:
        """Refuse windows with another channel count, or (``length``) another shape than the
        fitted ones."""
        c, t = shape[1:]
        if self.n_channels is not None and c != self.n_channels:
            hint = " (channels last? pass X.transpose(0, 2, 1))" if t == self.n_channels else ""
            names = (f" ({', '.join(MODEL_CHANNELS)})"
                     if self.n_channels == len(MODEL_CHANNELS) else "")  # (1 had named two)
            raise ValueError(f"X holds {c} channels on axis 1; the model reads "
                             f"{self.n_channels}{names} as [rows, channels, samples]{hint}")
        if length and self.window is not None and (c, t) != tuple(self.window):
            raise ValueError(f"X windows hold {t} samples but the model was fitted on "
                             f"{self.window[1]} ({self.window[1] / self.fs:g} s at "
                             f"{self.fs:g} Hz): build windows of that length at that rate "
                             f"(build_task_dataset(..., fs={self.fs:g}), record_dataset(..., "
                             f"fs={self.fs:g}))")

    def _fit_inputs(self, X, y, mask, groups, features) -> tuple:
        """Checked ``(X, y, mask, groups, features)`` for :meth:`fit`: the inputs as
        :meth:`_inputs`, integer class labels 0..K-1 (regression: finite float32 targets
        [N, K], their mean kept) and groups (default: every row its own). Inputs it refuses
        leave a fitted model as it was (every fit runs in :meth:`_unchanged_on_error`)."""
        self.window = None  # a refit may take windows of another length
        self.n_out = _task_kind(self.task)[1]  # and another class count (multiclass)
        X, mask, features = self._inputs(X, mask, features)
        self.features_given = features is not None
        self.features_width = None if features is None else int(np.shape(features)[1])
        self.train_windows = sorted(set(window_digests(features if X is None else X)))
        n = len(features) if X is None else len(X)
        if y is None:
            raise ValueError("y is required: one label (or target row) per row of X")
        y = _object_numbers(np.asarray(y))
        if y.ndim == 0:
            raise ValueError(f"y must hold one label (or target row) per row, got {y!r}")
        if len(y) != n:
            raise ValueError(f"X has {n} rows but y has {len(y)}")
        if self.kind == "regression":
            if not np.issubdtype(y.dtype, np.number):
                raise ValueError(f"y must hold numbers, got dtype {y.dtype}")
            k = _task_kind(self.task)[1]  # a task's own target count (abp: SBP, DBP)
            if k and (y.ndim != 2 or y.shape[1] != k):
                raise ValueError(f"task {self.task!r} needs y of shape [rows, {k}]"
                                 f"{TARGETS.get(self.task, '')}, got shape {list(y.shape)}")
            if y.ndim > 2 or y.ndim == 2 and y.shape[1] == 0:  # an IndexError in the split
                raise ValueError(f"y must be [rows] or [rows, targets] with a target or more, "
                                 f"got shape {list(y.shape)}")
            self.target_1d = y.ndim == 1
            y = y.reshape(len(y), -1).astype(np.float32)
            bad = np.flatnonzero(~np.isfinite(y).all(axis=1))
            if len(bad):
                raise ValueError(f"y is NaN or inf in {len(bad)} rows ({rows_text(bad)})")
            if self.task == "abp":
                _check_bp(y, mask)
            self.n_out = y.shape[1]
            self.train_mean = y.mean(axis=0)
        else:
            y = self._labels(y)
            if len(y) and (y == y[0]).all():
                raise ValueError(f"y holds only class {y[0]}: a {self.task!r} classifier needs "
                                 "rows of two classes at least")
        if groups is None:
            warn_at_caller("no groups given: each row becomes its own group, so rows of one "
                           "record or patient (several windows of a recording) fall on both "
                           "sides of the validation split and inner folds, and the operating "
                           "point is chosen on rows like those fitted; pass groups= (the "
                           "record or patient of each row, e.g. ds.groups)"
                           + (f", as task {self.task!r}'s rows are windows, several per record"
                              if self.task in MULTI_ROW_TASKS else
                              ", or groups=np.arange(len(y)) where every row is a patient "
                              "of its own"))
        groups = np.arange(len(y)) if groups is None else checked_groups(groups, len(y))
        refuse_one_group(groups)
        if X is not None:
            self.window = (int(X.shape[1]), int(X.shape[2]))
        self.always_present = None if mask is None else mask.all(axis=0).tolist()
        self.ever_present = None if mask is None else mask.any(axis=0).tolist()
        self.present_counts = None if mask is None else mask.sum(axis=0).astype(int).tolist()
        self.fitted_rows = None if mask is None else int(len(mask))
        return X, y, mask, groups, features

    def _labels(self, y: np.ndarray) -> np.ndarray:
        """Class labels as int64 0..K-1 (binary: 0 and 1); sets K of an open multiclass task."""
        if y.ndim == 1 and y.dtype.kind in "USO":  # named ("got dtype <U5" had said not which)
            shown_labels = sorted({str(v) for v in y.tolist()})
            raise ValueError(f"y must hold class labels 0, 1, ... as numbers, got labels "
                             f"{shown_labels[:5]}{' ...' if len(shown_labels) > 5 else ''} that "
                             "are no numbers: map them to numbers first "
                             f"({_label_hint(self.task, shown_labels)})")
        if y.ndim != 1 or not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
            raise ValueError(f"y must be one class label (0, 1, ...) per row, got shape "
                             f"{y.shape} dtype {y.dtype}")
        y = y.astype(np.int64) if y.dtype == bool else y
        bad = np.flatnonzero(~np.isfinite(y) | (y != np.round(y)) | (y < 0))
        if len(bad):
            raise ValueError(f"y must hold class labels 0, 1, ...; rows {rows_text(bad)} hold "
                             f"{y[bad[:3]].tolist()}")
        y = y.astype(np.int64)
        fixed = self.kind != "multiclass" or self.n_out > 0  # af4's 4; an open task's from y
        if not fixed:
            self.n_out = int(y.max()) + 1 if len(y) else 0
        k = 2 if self.kind == "binary" else self.n_out
        if len(y) and y.max() >= k:
            bad = np.flatnonzero(y >= k)
            raise ValueError(f"task {self.task!r} has {k} classes (labels 0..{k - 1}), but y "
                             f"holds {sorted(set(y[bad].tolist()))[:5]} (rows {rows_text(bad)})")
        unseen = sorted(set(range(k)) - set(y.tolist())) if self.kind == "multiclass" else []
        self.unlearnt = unseen
        if unseen and len(y):  # 3 and 7 had made a model of 8 outputs without a word (and
            # af4 fitted on two of its classes had said nothing)
            warn_at_caller(f"y holds no row of class(es) {listed(unseen)} among its labels "
                           f"0..{k - 1}: the model gets {k} outputs, those never learnt (a "
                           "cross-validation's fold may lack a class"
                           + ("" if fixed else "; else number the classes 0, 1, ... without "
                              "gaps") + ")")
        return y

    def _set_operating_point(self, raw: np.ndarray, y: np.ndarray) -> None:
        """Calibration and (binary) threshold from raw scores of rows the model did not fit,
        and ``validation``: what those rows say of the model (binary AUROC, multiclass
        accuracy, regression MAE per target), a first look after a fit, not a test (the
        threshold was set on the same rows)."""
        if self.kind == "binary" and len(np.unique(y)) < 2:
            threshold = "" if np.any(y == 1) else " and its threshold is 0.5"
            warn_at_caller(f"the validation rows ({len(y)}) hold one class only, so the model "
                           f"is not calibrated{threshold}: give more groups of the rare class "
                           "(a split keeps each group on one side)")
        if self.kind != "regression":
            self.calibrator = Calibrator(self.calibration).fit(raw, y)
            p = np.asarray(self.calibrator(raw))
            if len(y) > 1 and float(np.ptp(p, axis=0).max()) < 1e-3:
                warn_at_caller(f"the model gives every validation row ({len(y)}) the same "
                               f"probabilities ({np.round(p[0], 3).tolist()}): it tells the "
                               "classes apart nowhere, and predicts one answer for every row; "
                               "fit it on more rows")
        if self.kind == "binary":  # on the calibrated validation probabilities above
            self.threshold = choose_threshold(y, p, self.threshold_rule, self.target_tpr)
        self.validation = {"n": int(len(y))}
        if len(y) and self.kind == "binary":
            value = auroc(y, raw)  # NaN with one class among the rows: recorded as None
            self.validation["auroc"] = None if np.isnan(value) else value
        elif len(y) and self.kind == "multiclass":
            self.validation["accuracy"] = float(np.mean(np.argmax(raw, axis=1) == y))
        elif len(y):
            mae = np.abs(np.asarray(raw) - y).mean(axis=0).tolist()  # per target
            self.validation["mae"] = (dict(zip(("sbp", "dbp"), mae, strict=True))
                                      if self.task == "abp" else mae)

    def predict_proba(
        self, X: np.ndarray, mask: np.ndarray | None = None, features: np.ndarray | None = None
    ) -> np.ndarray:
        """Calibrated probability of the positive class [N] (binary) or of each class [N, K]."""
        if self.kind == "regression":
            raise ValueError("predict_proba is for classification tasks; use predict")
        return self.calibrator(self._raw(*self._predict_inputs(X, mask, features)))

    def predict(
        self, X: np.ndarray, mask: np.ndarray | None = None, features: np.ndarray | None = None
    ) -> np.ndarray:
        """Decisions at the validation threshold (binary), class index, or targets [N, K]
        ([N] where the model was fitted on y [N])."""
        if self.kind == "regression":
            out = self._raw(*self._predict_inputs(X, mask, features))
            return out[:, 0] if self.target_1d else out
        return self.decide(self.predict_proba(X, mask, features))

    def _predict_inputs(self, X, mask, features) -> tuple:
        """:meth:`_inputs`, with a warning for rows that lack a channel present in every
        window fitted (an abp model fitted on ECG II and PPG had answered PPG-less rows
        unsaid), or hold one present in none (an AF model of ECG alone given PPG too): the
        model never saw such rows."""
        X, mask, features = self._inputs(X, mask, features)
        for what, rows, why in unseen_rows(self, mask):
            warn_at_caller(f"{what} in {len(rows)} row(s) ({rows_text(rows)}){why}")
        return X, mask, features

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """Decisions from :meth:`predict_proba`'s output: 1 at or above the threshold
        (binary), else the most probable class. A NaN probability is refused: compared with
        the threshold it would read as 0 (for vt-alarm: suppress the alarm)."""
        proba = np.asarray(proba)
        bad = np.flatnonzero(np.isnan(proba).any(axis=tuple(range(1, proba.ndim))))
        if len(bad):
            raise ValueError(f"proba is NaN in rows {rows_text(bad)}: no decision can be "
                             "made from them")
        return (proba >= self.threshold).astype(int) if self.kind == "binary" else proba.argmax(1)

    def protocol_state(self) -> dict:
        return {
            "task": self.task, "kind": self.kind, "n_out": self.n_out,
            "calibration": {"method": self.calibrator.method, "a": self.calibrator.a,
                            "b": self.calibrator.b},
            "threshold": self.threshold, "threshold_rule": self.threshold_rule,
            "target_tpr": self.target_tpr, "seed": self.seed, "fs": self.fs,
            "val_fraction": self.val_fraction,
            "train_mean": None if self.train_mean is None else self.train_mean.tolist(),
            "window": None if self.window is None else list(self.window),
            "features_given": self.features_given, "validation": self.validation,
            "features_width": self.features_width, "features_version": FEATURES_VERSION,
            "train_windows": self.train_windows, "always_present": self.always_present,
            "ever_present": self.ever_present, "target_1d": self.target_1d,
            "present_counts": self.present_counts, "fitted_rows": self.fitted_rows,
            "unlearnt": self.unlearnt,
        }

    def set_protocol_state(self, s: dict) -> None:
        self.kind, self.n_out, self.threshold = s["kind"], s["n_out"], s["threshold"]
        self.threshold_rule, self.target_tpr = s["threshold_rule"], s["target_tpr"]
        self.seed, self.fs = s["seed"], s.get("fs", self.fs)  # older files: as constructed
        self.calibrator = Calibrator(**s["calibration"])
        self.calibration = self.calibrator.method  # a refit calibrates as the fit did
        self.val_fraction = s.get("val_fraction", self.val_fraction)  # older files: as made
        mean = s["train_mean"]
        self.train_mean = None if mean is None else np.asarray(mean, dtype=np.float32)
        self.window = None if s.get("window") is None else tuple(s["window"])  # older: None
        # runs saved before the key existed were fitted by the task verbs, on a features array
        self.features_given = s.get("features_given", True)
        self.features_width = s.get("features_width")  # older files: not recorded
        self.validation = s.get("validation", {})  # older files: none recorded
        self.train_windows = s.get("train_windows")  # older files: not kept
        self.always_present = s.get("always_present")  # older files: not kept
        self.ever_present = s.get("ever_present")  # older files: not kept
        self.present_counts = s.get("present_counts")  # older files: not kept
        self.fitted_rows = s.get("fitted_rows")
        self.unlearnt = s.get("unlearnt")  # older files: not known
        self.target_1d = s.get("target_1d", False)  # older files: predictions [N, K]
        version = s.get("features_version")
        if getattr(self, "use_features", True) and version != FEATURES_VERSION:
            warn_at_caller(
                f"this {self.task} model was fitted on classical features of "
                + (f"feature code version {version}; this qualityfm computes version "
                   f"{FEATURES_VERSION}, so its predictions may shift a little"
                   if version is not None else
                   "a qualityfm that did not record their version (those before version "
                   f"{FEATURES_VERSION} may differ a little from today's)")
                + ": fit it again to match them")


#: How a prediction's warning ends for rows lacking a channel every fitted window held.
UNSEEN_ABSENCE = (", while every window the model was fitted on held it: its output there is "
                  "outside what it learnt")


def init_identity(init: str | Path) -> str:
    """``init`` as a stopped fit's key records it: a model folder or file by its absolute path
    (``../model/`` from one folder and ``../../model`` from another had keyed other runs, and a
    stopped run started over unsaid), names ("pretrained", "none") as they are."""
    from qualityfm.train.export import names_shipped_weights

    text = str(init)
    if text in ("none", "classical") or names_shipped_weights(text) or not Path(text).exists():
        return text
    return str(Path(text).resolve())


def missing_channels(always_present: list[bool] | None, mask: np.ndarray | None
                     ) -> list[tuple[str, np.ndarray]]:
    """(channel name, rows) of each channel present in every window a model was fitted on
    (``always_present``, its protocol state; None: not known) that ``mask`` [N, C] marks
    absent in some rows."""
    if mask is None or always_present is None or len(always_present) != mask.shape[1]:
        return []
    names = (MODEL_CHANNELS if mask.shape[1] == len(MODEL_CHANNELS)
             else [f"channel {k}" for k in range(mask.shape[1])])
    return [(names[k], rows) for k in np.flatnonzero(always_present)
            if len(rows := np.flatnonzero(~mask[:, k]))]


#: A channel's absence from the windows fitted (or presence) is rare where at most this many
#: lacked it, or this share of them, and a fifth at most: rows lacking it rest on those few,
#: and are warned of (2 of 206 VT windows lacked an ECG: a PPG-only row had a confident
#: decision, a true alarm suppressed, unsaid; 2 of 30 too, where a share alone had said
#: nothing).
RARE_COUNT = 10
RARE_SHARE = 0.05


def rare(count: int, fitted: int) -> bool:
    """Whether ``count`` of ``fitted`` windows are a rare few (:data:`RARE_COUNT`)."""
    return 0 < count <= max(RARE_COUNT, RARE_SHARE * fitted) and count <= fitted / 5


def rare_note(count: int, fitted: int, held: bool = False) -> str:
    """What a warning says of rows lacking (``held``: holding) a channel that ``count`` of the
    ``fitted`` windows a model was fitted on lacked (held) too, a rare few."""
    return (f", as only {count} of the {fitted} windows the model was fitted on "
            f"{'held it' if held else 'did'}: its output there rests on those few")


#: What a warning says of rows holding a channel that no window a model was fitted on held.
UNSEEN_PRESENCE = (", while no window the model was fitted on held it: the model reads it "
                   "untrained there, and its output may shift")


def unseen_rows(est: TaskEstimator, mask: np.ndarray | None
                ) -> list[tuple[str, np.ndarray, str]]:
    """``(what, rows, why)`` of each channel the rows of ``mask`` [N, C] hold otherwise than
    every window ``est`` was fitted on: absent where all held it (``"ecg_ii is absent"``,
    :data:`UNSEEN_ABSENCE`), present where none did (``"ppg is present"``,
    :data:`UNSEEN_PRESENCE`)."""
    out = [(f"{name} is absent", rows, UNSEEN_ABSENCE)
           for name, rows in missing_channels(est.always_present, mask)]
    ever = getattr(est, "ever_present", None)
    if mask is not None and ever is not None and len(ever) == mask.shape[1]:
        names = (MODEL_CHANNELS if mask.shape[1] == len(MODEL_CHANNELS)
                 else [f"channel {k}" for k in range(mask.shape[1])])
        out += [(f"{names[k]} is present", rows, UNSEEN_PRESENCE)
                for k in np.flatnonzero(~np.asarray(ever, bool))
                if len(rows := np.flatnonzero(mask[:, k]))]
        counts, fitted = getattr(est, "present_counts", None), getattr(est, "fitted_rows", None)
        if counts is not None and fitted and len(counts) == mask.shape[1]:
            out += [(f"{names[k]} is absent", rows, rare_note(fitted - counts[k], fitted))
                    for k in range(mask.shape[1])
                    if rare(fitted - counts[k], fitted)
                    and len(rows := np.flatnonzero(~mask[:, k]))]
            out += [(f"{names[k]} is present", rows, rare_note(counts[k], fitted, True))
                    for k in range(mask.shape[1])
                    if rare(counts[k], fitted) and len(rows := np.flatnonzero(mask[:, k]))]
    return out


#: The message of :meth:`TaskEstimator._predict_inputs`' warnings, rows by position.
#: how a model reading features beside windows of another length than it was fitted on ends
#: the warning's first part (a run's rhythm model, reading the same windows, says it not again)
OTHER_LENGTH = ": the model was fitted on windows of "
ABSENT_ROWS = (".* is (absent|present) in .*("
               + re.escape(UNSEEN_ABSENCE) + "|" + re.escape(UNSEEN_PRESENCE)
               + "|, as only \\d+ of the \\d+ windows the model was fitted on (did|held it))")


@contextlib.contextmanager
def absences_named(est: TaskEstimator, mask: np.ndarray, names: Sequence[str],
                   where: str = "") -> Iterator[None]:
    """Predictions of ``est`` inside, their absence warnings (rows by position) held back;
    after, one per channel naming the records ``names`` (each row's) of those rows: a
    cross-validation's fold rows by position had named no record."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=ABSENT_ROWS)
        yield
    for what, at, why in unseen_rows(est, mask):
        records = list(dict.fromkeys(np.asarray(names)[at].tolist()))
        warn_at_caller(f"{where}{what} in {len(at)} row(s) (records {listed(records)}){why}")


def _check_bp(y: np.ndarray, mask: np.ndarray | None) -> None:
    """Warn when abp targets ``y`` [N, 2] do not look like (SBP, DBP) in mmHg (median SBP
    outside :data:`SBP_RANGE`, or SBP below DBP in most rows), or when ``mask`` marks ECG II or
    the PPG absent in every row: abp datasets hold both in every window."""
    sbp = float(np.median(y[:, 0])) if len(y) else 100.0
    if not SBP_RANGE[0] <= sbp <= SBP_RANGE[1]:
        warn_at_caller(f"y of task 'abp' does not look like (SBP, DBP) in mmHg: median SBP "
                       f"{sbp:.4g}, outside {SBP_RANGE[0]}-{SBP_RANGE[1]} (kPa? another unit?)")
    below = float((y[:, 0] < y[:, 1]).mean()) if len(y) else 0.0
    if below > 0.5:
        warn_at_caller(f"y of task 'abp' has SBP below DBP in {below:.0%} of the rows: the "
                       "columns must be (SBP, DBP)")
    if mask is not None and len(mask) and mask.shape[1] == len(MODEL_CHANNELS):
        absent = [MODEL_CHANNELS[k] for k in np.flatnonzero(~mask.any(axis=0))]
        if absent:
            warn_at_caller(f"task 'abp': {' and '.join(absent)} absent (mask False) in every "
                           "row, so the model learns BP without it, while abp datasets "
                           "(build_task_dataset) hold ECG II and PPG in every window")


def _finite_windows(X: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``X`` when every present channel is finite (absent channels zeroed where they are
    not); a window of a present channel with NaN or inf is refused, naming rows and channel."""
    if np.isfinite(X).all():
        return X
    check_finite(X, mask, MODEL_CHANNELS if X.shape[1] == len(MODEL_CHANNELS) else None)
    return np.where(np.isfinite(X), X, 0).astype(X.dtype)


# ----------------------------------------------------------------------------- networks


#: Default fine-tuning mode per task for a pre-trained encoder: on vt-alarm (about 160 training
#: windows a fold) a linear head on the shipped weights' frozen embedding beat full fine-tuning
#: in every 5-fold comparison (docs/results.md, sessions 6, 9, 10); on abp a linear head with
#: the features beat full fine-tuning with them (session 15); on af (and its 4-class rhythm
#: model) an lbfgs head on the embedding and the features beat the full fine-tune on the
#: windows by far (AUROC 0.976 against 0.936; session 20). An untrained network always
#: trains fully.
DEFAULT_MODE = {"vt-alarm": "linear", "abp": "linear", "af": "linear", "af4": "linear"}


def default_mode(task: str, init: str | Path | nn.Module) -> str:
    """``"linear"`` or ``"full"``: the task's :data:`DEFAULT_MODE` when ``init`` is pre-trained
    weights ("pretrained" or a model directory); ``"full"`` for "none" or a module."""
    if isinstance(init, nn.Module) or str(init) == "none":
        return "full"
    return DEFAULT_MODE.get(task, "full")


#: How a linear head is fitted (``Finetuner(solver=...)``, linear mode only): "adamw" trains
#: it by gradient steps with early stopping on the validation rows; "lbfgs" fits an
#: L2-regularised logistic regression (ridge for regression) to the standardised frozen
#: embedding (+ features) of every training row, its strength picked from :data:`C_GRID`
#: and its calibration and threshold set by grouped inner folds (:meth:`Finetuner.fit`). On
#: the 206 VT records lbfgs ranked better than adamw on three splits of three, with and
#: without the classical features (docs/results.md, session 11), and on abp with them
#: (session 15); on AF's 2985 recordings adamw did a little better without the features
#: (session 11), and lbfgs with them is af's default head (session 20).
SOLVERS = ("adamw", "lbfgs")
DEFAULT_SOLVER = {"vt-alarm": "lbfgs", "abp": "lbfgs", "af": "lbfgs", "af4": "lbfgs"}
#: Inverse regularisation strengths (sklearn's ``C``; ridge ``alpha = 1 / C``) tried by lbfgs.
C_GRID = tuple(float(c) for c in 10.0 ** np.arange(-4.0, 0.25, 0.5))


def default_solver(task: str, mode: str) -> str:
    """The task's :data:`DEFAULT_SOLVER` for a linear head; "adamw" for a full fine-tune."""
    return DEFAULT_SOLVER.get(task, "adamw") if mode == "linear" else "adamw"


def check_solver(solver: str, mode: str) -> str:
    """``solver`` when it is one of :data:`SOLVERS` and fits the ``mode``, else ValueError."""
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if solver == "lbfgs" and mode != "linear":
        raise ValueError("solver 'lbfgs' fits a linear head on a frozen encoder: "
                         "use mode='linear' (--mode linear; a full fine-tune trains with "
                         "adamw)")
    return solver


#: Tasks whose networks read the classical features beside the embedding by default
#: (``Finetuner(use_features=None)``), docs/results.md: alone, every abp network predicted SBP
#: worse than the training mean on new patients (MASE 1.02-1.11), with the features in an
#: lbfgs ridge head 0.88-0.91 over three splits (session 15); vt-alarm's default head reaches
#: AUROC 0.906-0.915 with them and 0.806-0.827 without, and still beats the same network
#: trained from scratch with them (session 18); af's default head with them: AUROC 0.976,
#: AF F1 0.755, macro F1 0.765, against 0.936, 0.63 and 0.63 for the full fine-tune on the
#: windows alone (session 20). The generic tasks ("binary"...) read the windows alone.
DEFAULT_FEATURES = {"abp": True, "vt-alarm": True, "af": True, "af4": True}


def default_features(task: str) -> bool:
    """Whether the task's networks read the classical features by default
    (:data:`DEFAULT_FEATURES`)."""
    return DEFAULT_FEATURES.get(task, False)


#: The stream, beside the fit's seed, that seeds a network's head (:meth:`Finetuner._fit_seeded`).
HEAD_STREAM = 0x4EAD

#: Default pooling of a QualityFM encoder per task (``model.POOLS``): a vt-alarm window ends
#: at the alarm, so its last token (the last ~1.7 s) sits beside the mean, and the stem's
#: feature maps (beat-scale, ~4.7 frames a second) are pooled beside the tokens.
DEFAULT_POOL = {"vt-alarm": "mean+last+stem"}


class QualityFMBackbone(nn.Module):
    """The QualityFM encoder pooled by ``pool`` (``model.pool_encoder``): [B, C, T] -> [B, dim].

    ``pool="mean"``: dim = d_model; ``"mean+last"``: 2 d_model; the "+stem" pools add 3 (4
    with "last") times the stem's map channels (``model.pooled_dim``).
    """

    def __init__(self, model: nn.Module, pool: str = "mean") -> None:
        super().__init__()
        self.encoder = model.encoder
        self.pool = check_pool(pool)
        self.dim = pooled_dim(self.encoder, pool)
        self.cfg = model.cfg

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        return pool_encoder(self.encoder, x, mask, self.pool)


def resolve_model_config(spec: object = None) -> QualityFMConfig:
    """The architecture of an untrained network: a QualityFMConfig, a preset name, a JSON file
    of its fields (or an exported model's ``config.json``), an exported model (its folder or
    ``.safetensors``), a dict of fields, or None: that of the shipped weights (the network
    ``init="pretrained"`` starts from, untrained, so "from scratch" compares like with like),
    or the ``base`` preset where no weights ship."""
    from qualityfm.model import PRESETS, QualityFMConfig

    if isinstance(spec, QualityFMConfig):
        return spec
    if isinstance(spec, dict):
        return QualityFMConfig.from_dict(spec)
    if spec is None:
        from qualityfm.train import pretrained_config

        try:
            return pretrained_config()
        except FileNotFoundError:
            return PRESETS["base"]
    if spec in PRESETS:
        return PRESETS[spec]
    path = Path(str(spec))
    if not path.exists():
        raise FileNotFoundError(f"config {spec!r} is neither a preset {sorted(PRESETS)} nor a file")
    if path.is_dir() or path.suffix == ".safetensors":
        from qualityfm.train import saved_config

        return saved_config(str(spec))  # as spelt: "./pretrained" is a folder here
    fields = read_json(path, "model config")
    if "format" in fields and isinstance(fields.get("model"), dict):  # an export's config.json
        fields = fields["model"]
    try:
        return QualityFMConfig.from_dict(fields)  # lists become tuples there
    except (TypeError, ValueError) as err:  # "d_model must be >= 1" had named no file
        raise ValueError(f"config {path}: {err}") from None


def encoder_fs(init: str | Path | nn.Module, config: object = None) -> float | None:
    """The sampling rate (Hz) of the windows the encoder of ``init`` reads (its config's
    ``fs``): what the task data must be built at; None for "classical" (no encoder)."""
    if isinstance(init, nn.Module):
        return float(getattr(getattr(init, "cfg", None), "fs", MODEL_FS))
    if str(init) == "classical":
        return None
    if str(init) == "none":
        return float(resolve_model_config(config).fs)
    check_init(init)
    from qualityfm.train.export import saved_config

    return float(saved_config(init).fs)


def shipped_init(init: str | Path | nn.Module) -> str | Path | nn.Module:
    """``init`` with the default shipped weights named as the task verbs name them,
    "pretrained" ("pretrained:base" too; it had been refused as a missing folder, which
    ``embed`` reads); another "pretrained:NAME" not shipped is refused, naming those that
    are."""
    from qualityfm.train.export import DEFAULT_PRETRAINED, model_files, names_shipped_weights

    if isinstance(init, str) and init != "pretrained" and names_shipped_weights(init):
        model_files(init)  # FileNotFoundError naming the weights shipped
        if init.partition(":")[2] == DEFAULT_PRETRAINED:
            return "pretrained"
    return init


def _object_numbers(y: np.ndarray) -> np.ndarray:
    """``y`` of dtype object holding numbers (a pandas column) as float (its 0s and 1s, or
    its SBP/DBP, had been refused as "dtype object"), None and pandas' NA as NaN (a nullable
    column's gap had been refused as "dtype object", or as a label "<NA>"); else ``y``."""
    if y.dtype == object and not any(isinstance(v, str | bytes) for v in y.flat):
        with contextlib.suppress(TypeError, ValueError):
            return np.array([np.nan if v is None or type(v).__name__ == "NAType" else v
                             for v in y.flat], dtype=float).reshape(y.shape)
    return y


def _label_hint(task: str, labels: list[str]) -> str:
    """How to map text labels to numbers: af's rhythms by :data:`RHYTHMS` (the hint of
    "(y == 'True')" had made af4's four classes one), digits by ``astype(int)``."""
    from qualityfm.tasks.datasets import RHYTHMS  # af4's label is the index in it

    if task == "af4" and set(labels) <= set(RHYTHMS):
        order = " ".join(f"{r}={i}" for i, r in enumerate(RHYTHMS))
        return ("af4's labels are the index in qualityfm.tasks.RHYTHMS, "
                f"{order}: np.array([RHYTHMS.index(v) for v in y])")
    if task == "af" and set(labels) <= set(RHYTHMS):
        return "af: 1 = AF, e.g. (y == 'A').astype(int)"
    if all(v.strip().lstrip("+-").isdigit() for v in labels):
        return "e.g. y.astype(int)"
    return "e.g. (y == 'True').astype(int)"


def refuse_unreadable_rows(values: np.ndarray, what: str) -> None:
    """ValueError naming the rows of ``values`` (``[N, ...]``, ``what`` a network made of
    them) that are not finite: their inputs are past what the network reads."""
    if not len(values):  # (no rows: reshape(0, -1) fails)
        return
    off = np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))
    if len(off):
        raise ValueError(f"{what} of rows {rows_text(off)} are not finite: their values are past "
                         "what it reads (it reads each channel scaled to [-1, 1]: "
                         "qualityfm.signal.normalize)")


def check_init(init: str | Path | nn.Module, classical: bool = False) -> None:
    """FileNotFoundError when ``init`` names a model folder that does not exist (the named
    inits "pretrained" and "none", and modules, pass); "classical", the task verbs' name for
    the classical feature baseline, passes with ``classical`` only, else a ValueError points
    to :class:`~qualityfm.tasks.ClassicalBaseline` (no network to initialise); TypeError for
    what is neither a name, a path nor a module (None had failed at ``fit``)."""
    if isinstance(init, nn.Module):
        return
    if not isinstance(init, str | os.PathLike):
        raise TypeError(f"init must be 'pretrained', 'none', a model folder or a module, got "
                        f"{shown(init, 60)}")
    if str(init) in ("pretrained", "none"):
        return
    if isinstance(init, str) and init.startswith("pretrained:"):  # the shipped weights by
        shipped_init(init)  # name: refused where no such weights ship
        return
    if str(init) == "classical" and not isinstance(init, Path):
        if classical:
            return
        raise ValueError("init='classical' is the classical feature baseline, not an encoder: "
                         "use qualityfm.tasks.ClassicalBaseline(task) (finetune --init "
                         "classical fits it)")
    if not Path(init).exists():
        raise FileNotFoundError(f"model {init} does not exist (an exported model folder, or "
                                "one of pretrained, none" + (", classical" if classical else "")
                                + ")")


def load_backbone(init: str | Path | nn.Module, config: object = None,
                  pool: str = "mean") -> nn.Module:
    """The backbone for ``init``: "none" (random, of the architecture :func:`model_config`
    makes of ``config``), "pretrained" (the weights the package ships), a model directory, or a
    module (one with ``.dim`` is used as it is). A QualityFM's tokens are pooled by ``pool``."""
    from qualityfm.model import QualityFM

    if isinstance(init, nn.Module):
        return init if hasattr(init, "dim") else QualityFMBackbone(init, pool)
    if init == "none":
        return QualityFMBackbone(QualityFM(resolve_model_config(config)), pool)
    check_init(init)
    from qualityfm.train import load  # "pretrained" without shipped weights: a clear error

    model = load(init)
    if model.cfg.normalization != "channel" and str(init) not in _SCALING_SAID:
        _SCALING_SAID.add(str(init))  # once a process: each fold's and each rhythm model's
        # load had said it again
        warn_at_caller(f"{init}: pre-trained on windows scaled {model.cfg.normalization!r}; "
                       "task windows are min-max scaled per channel (the original's "
                       "downstream protocol), so its encoder reads them scaled otherwise")
    return QualityFMBackbone(model, pool)


#: The models whose other scaling :func:`load_backbone` has said.
_SCALING_SAID: set[str] = set()


class TaskNet(nn.Module):
    """Backbone -> pooled embedding (+ scaled, bounded classical features) -> linear head."""

    @float32_default()
    def __init__(self, backbone: nn.Module, n_out: int, n_features: int = 0, dropout: float = 0.1):
        super().__init__()
        self.backbone = backbone
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(backbone.dim + n_features, n_out)

    def forward(self, x: Tensor, mask: Tensor | None, feats: Tensor | None = None) -> Tensor:
        return self.head_forward(self.backbone(x, mask), feats)

    def head_forward(self, h: Tensor, feats: Tensor | None = None) -> Tensor:
        """The head on backbone embeddings ``h`` [B, dim] (+ features)."""
        if feats is not None:
            h = torch.cat([h, feats], dim=1)
        return self.head(self.drop(h))


def random_time_shift(x: Tensor, rng: np.random.Generator) -> Tensor:
    """Roll each row of ``x`` [B, C, T] circularly along time by its own random offset."""
    t = x.shape[-1]
    shift = torch.as_tensor(rng.integers(0, t, len(x)), device=x.device)
    idx = (torch.arange(t, device=x.device)[None, :] - shift[:, None]) % t
    return torch.gather(x, -1, idx[:, None, :].expand_as(x))


#: Evenly spaced circular shifts whose outputs a network trained on shifted windows averages
#: when it predicts (and when it calibrates and fixes its threshold on validation rows).
TEST_SHIFTS = 8


#: Scaled features enter the head as ``b * tanh(z / b)``: nearly ``z`` within a few scales of
#: the centre, never beyond ``b`` (a test value far outside the training range cannot swamp the
#: head's output; with the mean and SD, one ABP record's test value sat 3e5 SDs from its fold's
#: training mean and the head's SBP for it went to 5e5 mmHg). Centre and scale: median and IQR.
FEATURE_BOUND = 5.0


def _setting_fault(name: str, value: object) -> str | None:
    """What is wrong with training setting ``name`` = ``value``, or None."""
    if name in ("epochs", "batch_size", "patience", "n_models", "max_iter", "min_samples_leaf",
                "test_shifts"):
        ok, want = is_int(value) and value >= 1, "an int >= 1"
    elif name == "max_leaf_nodes":  # (a gradient-boosting setting, as the four below)
        ok, want = value is None or (is_int(value) and value >= 2), "None or an int >= 2"
    elif name == "crossfit":
        ok, want = value is None or (is_int(value) and value >= 2), "None or an int >= 2"
    elif name == "max_features":
        ok, want = is_number(value) and 0 < value <= 1, "a share in (0, 1]"
    elif name == "dropout":
        ok, want = is_number(value) and 0 <= value < 1, "in [0, 1)"
    elif name in ("weight_decay", "lr", "l2_regularization"):  # lr 0: a frozen encoder
        ok, want = is_number(value) and value >= 0, "a number >= 0"
    elif name in ("head_lr", "learning_rate"):
        ok, want = is_number(value) and value > 0, "a number > 0"
    elif name in ("class_weight", "augment", "verbose", "keep_checkpoint", "use_features"):
        ok = isinstance(value, (bool, np.bool_)) or (name == "use_features" and value is None)
        want = "True or False" + (" (or None)" if name == "use_features" else "")
    else:  # a setting of another kind: not checked here
        return None
    return None if ok else f"{name} must be {want}, got {value!r}"


def _check_settings(**given: object) -> None:
    """A ValueError naming the first training setting out of its range (a negative rate had
    trained by gradient ascent without a word; a float batch size failed deep in the fit)."""
    for name, value in given.items():
        fault = _setting_fault(name, value)
        if fault:
            raise ValueError(fault)


class Finetuner(TaskEstimator):
    """Fine-tune (``mode="full"``) or linearly probe (``mode="linear"``) an encoder on arrays.

    ``init``: "pretrained", "none", a model directory, or a module (a QualityFM or any module
    with ``.dim`` mapping ``(x, mask)`` to ``[B, dim]``, e.g. ``baselines.ResNet1d``).
    ``mode`` None: :func:`default_mode` (linear for the three clinical tasks from pre-trained
    weights).
    ``config`` (``init="none"`` only): the architecture of the network trained from scratch
    (:func:`resolve_model_config`: a preset name, a ``QualityFMConfig``, a dict or JSON file
    of its fields, an exported model; None: the shipped weights' architecture).
    Training by gradient steps: ``epochs`` (at most; early stopping ends it after
    ``patience`` epochs without a better validation loss), ``batch_size``, ``lr`` (the
    encoder's, full mode), ``head_lr`` (the head's), ``weight_decay`` (AdamW), ``dropout``
    (before the head), ``class_weight`` (classes weighted by their inverse frequency in the
    loss; not for abp), on ``device`` ("cpu", "cuda", "cuda:1").
    ``pool`` None: the task's :data:`DEFAULT_POOL` (mean+last+stem for vt-alarm), else "mean".
    ``use_features``: the classical features beside the embedding in the head; None:
    :func:`default_features` (on for the three clinical tasks).
    ``augment`` (full mode): every training window is shifted circularly in time by a random
    amount each epoch, so the network cannot memorise the windows (early stopping sees them
    unshifted).
    ``verbose``: a line on stderr per epoch of a head or network trained by gradient steps
    (its training and validation losses), as ``qualityfm finetune`` prints them.
    ``test_shifts``: outputs averaged over this many evenly spaced circular shifts of each
    window, for the validation rows that set calibration and threshold and for predictions.
    None: :data:`TEST_SHIFTS` for a network trained on shifted windows (full mode with
    ``augment``) whose pooling has no "last" part (a module with ``.dim`` pools as it does
    itself: none), else 1 (a shift would move a vt-alarm window's alarm off the right edge
    that "last" reads).
    ``solver`` (linear mode): how the head is fitted, "adamw" or "lbfgs" (:data:`SOLVERS`);
    None: :func:`default_solver` (lbfgs for a linear head of a clinical task, adamw otherwise).
    An lbfgs head is fitted on every row and calibrated on its inner folds' outputs
    (:meth:`fit`). lbfgs fits 46 models
    (9 strengths x 5 inner folds, then the chosen one): 1.7 s for 2388 AF rows of 512 values
    on one core (the whole fit, encoder pass included, 10 s); on far larger data adamw may be
    the cheaper one.
    ``fs``: the rate of the windows X, which carry none (300 Hz unless given); an encoder
    pre-trained at another rate refuses a fit until ``fs`` is that rate.
    ``checkpoint``: a file where a network trained by gradient steps keeps its last finished
    epoch (weights, optimiser, early-stopping state, random state); fitted again on the same
    rows with the same settings, it resumes after that epoch with the result an unstopped fit
    gives, and the file is removed when the fit ends; ``keep_checkpoint`` keeps it (a fit
    again then ends at once with the same model: for a caller fitting several models in a
    row, which removes the files once all are saved).
    The other keywords (``val_fraction``, ``calibration``, ``threshold_rule``, ``target_tpr``,
    ``seed``, ``fs``) are :class:`TaskEstimator`'s.
    """

    def __init__(
        self, task: str = "vt-alarm", init: str | Path | nn.Module = "pretrained",
        mode: str | None = None, *, config: object = None, epochs: int = DEFAULT_EPOCHS,
        batch_size: int = 32,
        lr: float = 1e-4, head_lr: float = 1e-3, weight_decay: float = 0.01, patience: int = 5,
        class_weight: bool = True, use_features: bool | None = None, dropout: float = 0.1,
        augment: bool = True, pool: str | None = None, test_shifts: int | None = None,
        solver: str | None = None, device: str = "cpu", verbose: bool = False,
        checkpoint: str | Path | None = None, keep_checkpoint: bool = False,
        **protocol: object,
    ) -> None:
        super().__init__(task, **protocol)
        init = shipped_init(init)
        check_init(init)  # "classical" or a missing folder: now, not at fit
        self.verbose = verbose  # a line on stderr per epoch of a network trained by adamw
        #: file of the last finished epoch of a network trained by gradient steps: a fit
        #: stopped part way resumes there when fitted again on the same rows and settings
        if checkpoint is not None and not isinstance(checkpoint, str | os.PathLike):
            raise ValueError(f"checkpoint must be a file path or None, got {checkpoint!r}")
        self.checkpoint = None if checkpoint is None else Path(checkpoint)  # (5 had raised a
        # raw TypeError)
        self.keep_checkpoint = keep_checkpoint
        mode = mode or default_mode(task, init)
        if mode not in ("full", "linear"):
            raise ValueError(f"mode must be 'full' or 'linear', got {mode!r}")
        self.solver = check_solver(solver or default_solver(task, mode), mode)
        _check_settings(epochs=epochs, batch_size=batch_size, patience=patience, lr=lr,
                        head_lr=head_lr, weight_decay=weight_decay, dropout=dropout,
                        class_weight=class_weight, use_features=use_features, augment=augment,
                        verbose=verbose, keep_checkpoint=keep_checkpoint)  # "no": True
        if (isinstance(init, nn.Module) and hasattr(init, "dim")
                and not isinstance(init, QualityFMBackbone)):
            # an encoder module declaring ``config()["in_channels"]`` (ResNet1d) is checked
            # here; another checks its own input
            declared = init.config() if callable(getattr(init, "config", None)) else {}
            self.n_channels = declared.get("in_channels") if isinstance(declared, dict) else None
        if config is not None:  # refused here, not at fit
            if not (isinstance(init, str) and init == "none"):
                raise ValueError("config sets the architecture of init='none' only; "
                                 f"init={init!r} brings its own")
            channels = resolve_model_config(config).in_channels
            if channels != len(MODEL_CHANNELS):  # the windows' ppg and ecg_ii: it had failed
                raise ValueError(  # in a matrix product, or refused X of that many channels
                    f"config in_channels={channels}: the task models read "
                    f"{len(MODEL_CHANNELS)} channels ({', '.join(MODEL_CHANNELS)}), a missing "
                    "one marked absent in mask")
        self.init, self.mode, self.config = init, mode, config
        self.epochs, self.batch_size, self.lr, self.head_lr = epochs, batch_size, lr, head_lr
        self.weight_decay, self.patience, self.class_weight = weight_decay, patience, class_weight
        self.use_features = default_features(task) if use_features is None else use_features
        self.dropout = dropout
        self.device = resolve_device(device)
        self.augment = augment
        self.pool = check_pool(pool or DEFAULT_POOL.get(task, "mean"))  # of a QualityFM encoder
        # a module with its own pooling (ResNet1d: global average) reads no last token
        reads_last = ("last" in init.pool if isinstance(init, QualityFMBackbone)
                      else "last" in self.pool and not (isinstance(init, nn.Module)
                                                        and hasattr(init, "dim")))
        if test_shifts is None:
            shifted = mode == "full" and augment and not reads_last
            test_shifts = TEST_SHIFTS if shifted else 1
        _check_settings(test_shifts=test_shifts)  # (2.7 had been taken as 2, "3" as 3)
        self.test_shifts = int(test_shifts)
        if self.test_shifts > 1 and reads_last:  # (accepted without a word)
            warn_at_caller(f"test_shifts {self.test_shifts} with a pooling that reads the last "
                           "token: each shift moves the window's end (a vt-alarm window's "
                           "alarm) away from the right edge that token reads", RuntimeWarning)
        self.net: TaskNet | None = None
        self.feat_center: np.ndarray | None = None
        self.feat_scale: np.ndarray | None = None
        self.feature_bound: float | None = FEATURE_BOUND  # None: files saved before it existed
        self.feature_columns: np.ndarray | None = None  # of the features array, set by fit
        self.y_mean = np.zeros(1, np.float32)
        self.y_std = np.ones(1, np.float32)

    # -- data helpers
    def _feats(self, features: np.ndarray | None, n: int) -> np.ndarray | None:
        """The head's feature inputs: the fitted columns, scaled and bounded."""
        if not self.use_features:
            return None
        f = np.asarray(features, dtype=np.float32)
        needs = (int(self.feature_columns.max()) + 1 if self.feature_columns is not None
                 else len(self.feat_center))
        if f.ndim != 2 or f.shape[1] < needs or (self.feature_columns is None
                                                and f.shape[1] != needs):
            raise ValueError(f"features hold {f.shape[-1]} columns; the model was fitted on "
                             f"the task's classical features (columns up to {needs}, "
                             "qualityfm.quality.features.feature_names()): give a TaskDataset's "
                             "features, or leave features= out as at fit")
        if self.feature_columns is not None:
            f = f[:, self.feature_columns]
        f = (f - self.feat_center) / self.feat_scale
        if self.feature_bound is not None:
            f = self.feature_bound * np.tanh(f / self.feature_bound)
        return np.nan_to_num(f, nan=0.0, posinf=0.0, neginf=0.0)[:n]

    def _batches(self, X, mask, feats, idx):
        for i in range(0, len(idx), self.batch_size):
            b = idx[i: i + self.batch_size]
            x = m = None  # X None: rows of features only (cached embeddings)
            if X is not None:
                x = torch.as_tensor(np.asarray(X[b], dtype=np.float32), device=self.device)
            if X is not None and mask is not None:
                m = torch.as_tensor(np.asarray(mask[b], bool), device=self.device)
            f = None if feats is None else torch.as_tensor(feats[b], device=self.device)
            yield b, x, m, f

    def _outputs(self, X, mask, feats, idx, emb: Tensor | None = None,
                 shifts: int = 1) -> np.ndarray:
        """Raw outputs of rows ``idx``; ``emb`` [N, dim]: the frozen backbone's embeddings;
        ``shifts`` > 1: averaged over that many evenly spaced circular shifts of the windows."""
        self.net.eval()
        out = []
        with torch.no_grad():
            if emb is not None:
                f = None if feats is None else torch.as_tensor(feats[idx], device=self.device)
                out.append(self.net.head_forward(emb[idx], f).float().cpu().numpy())
            else:
                for _, x, m, f in self._batches(X, mask, feats, idx):
                    z = mean_over_shifts(lambda xs, m=m, f=f: self.net(xs, m, f).float(), x,
                                         shifts)
                    out.append(z.cpu().numpy())
        z = np.concatenate(out) if out else np.zeros((0, self.n_out), np.float32)
        return z[:, 0] if self.kind == "binary" else z

    def _embeddings(self, X, mask, shifts: int = 1) -> Tensor:
        """The frozen backbone's embeddings [N, dim] of every row (linear mode: computed once;
        the backbone is in eval mode, so every epoch would get the same values), averaged over
        ``shifts`` circular shifts of each window."""
        self.net.backbone.eval()
        with torch.no_grad():
            parts = [mean_over_shifts(lambda xs, m=m: self.net.backbone(xs, m).float(), x,
                                      shifts)
                     for _, x, m, _ in self._batches(X, mask, None, np.arange(len(X)))]
        return torch.cat(parts) if parts else torch.zeros(0, self.net.backbone.dim)

    def _loss(self, out: Tensor, y: Tensor, weight: Tensor | None) -> Tensor:
        if self.kind == "binary":
            return F.binary_cross_entropy_with_logits(out[:, 0], y.float(), pos_weight=weight)
        if self.kind == "multiclass":
            return F.cross_entropy(out, y.long(), weight=weight)
        return F.smooth_l1_loss(out, y.float())

    def _fit_core(self, X, y, mask, features, fit_idx, val_idx, groups=None) -> np.ndarray:
        """Seeded by ``seed`` on a fork of torch's random state: the caller's own torch
        randomness is as it was after a fit."""
        if X is not None:
            check_test_shifts(self.test_shifts, X.shape[-1])
        device = torch.device(self.device)  # fork only the device used: forking starts CUDA
        cuda = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            # the generators forked alone: torch.manual_seed would reseed every GPU's too
            torch.default_generator.manual_seed(self.seed)
            for i in cuda:
                torch.cuda.default_generators[i].manual_seed(self.seed)
            # a fit under the caller's no_grad() or inference_mode() had failed in backward
            with torch.inference_mode(False), torch.enable_grad():
                return self._fit_seeded(X, y, mask, features, fit_idx, val_idx, groups)

    def _fit_seeded(self, X, y, mask, features, fit_idx, val_idx, groups) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        n_feat = 0
        if self.use_features:
            features = fa = self._features(X, mask, features)
            self.feature_columns = task_columns(self.task, fa.shape[1])
            fa = fa[fit_idx][:, self.feature_columns]
            center, scale = robust_centre_scale(fa)
            self.feat_center = np.nan_to_num(center).astype(np.float32)
            # a column constant over the training rows says nothing: read as 0 (a scale of
            # 1e-6 had made any other value at prediction a full +-bound input, on a weight
            # no gradient had reached)
            scale = np.where(np.nan_to_num(scale) > 0, scale + 1e-6, CONSTANT_COLUMN_SCALE)
            self.feat_scale = np.nan_to_num(scale, nan=1.0).astype(np.float32)
            self.feature_bound = FEATURE_BOUND
            n_feat = fa.shape[1]
        feats = self._feats(features, len(X))
        backbone = load_backbone(self.init, self.config, self.pool)
        attention = getattr(getattr(backbone, "cfg", None), "attention", None)
        if attention == "flex" and self.mode == "full" and self.device.type == "cpu":
            # torch's own error had come from inside the first step
            raise ValueError("the encoder's attention 'flex' cannot train on CPU (FlexAttention "
                             "has no backward there): fine-tune with mode='linear', build it "
                             "with attention='local' or 'dense' (the same maths), or use a GPU")
        rate = getattr(getattr(backbone, "cfg", None), "fs", self.fs)
        if abs(rate - self.fs) > 1e-6 * self.fs:
            name = self.init if isinstance(self.init, (str, Path)) else "given"
            made = ("an untrained encoder (init none) of a config that reads windows at"
                    if isinstance(self.init, str) and self.init == "none"
                    else f"the encoder ({name}) was pre-trained on windows at")
            # (X carries no rate: it had been said to be at fs, which the caller may never
            # have given, its windows built at the encoder's rate already)
            raise ValueError(f"{made} {rate:g} Hz, and fs, the rate X is read at, is "
                             f"{self.fs:g} Hz ({MODEL_FS:g} unless given): pass fs={rate:g}, "
                             f"with X built at {rate:g} Hz (build_task_dataset(..., "
                             f"fs={rate:g}))")
        # the head starts from a seed of its own, whatever building the backbone drew (a
        # fresh QualityFM draws, a loaded model's module does not: a refit had started
        # elsewhere); derived from the fit's seed, not equal to it (the seed itself had drawn
        # the head's weights as a copy of an untrained stem's first ones)
        torch.default_generator.manual_seed(int(np.random.SeedSequence(
            (self.seed, HEAD_STREAM)).generate_state(1, np.uint64)[0]) % 2**63)
        self.net = TaskNet(copy.deepcopy(backbone), self.n_out, n_feat, self.dropout)
        self.net.to(self.device)
        if self.kind == "regression":
            self.y_mean = y[fit_idx].mean(axis=0)
            self.y_std = y[fit_idx].std(axis=0) + 1e-6
            y_t = (y - self.y_mean) / self.y_std
        else:
            y_t = y
        weight = None
        if self.class_weight and self.kind != "regression":  # "balanced" (power 1)
            w = balanced_class_weights(y[fit_idx], max(self.n_out, 2)).astype(np.float32)
            # binary: one logit, so the positive class's weight relative to the negative's
            weight = torch.as_tensor(w[1] / w[0] if self.kind == "binary" else w,
                                     device=self.device)
        # a linear head of the shift-averaged embedding is the average of its outputs over the
        # shifts: the closed-form head fits and calibrates on what it predicts from
        shifts = self.test_shifts if self.solver == "lbfgs" else 1
        emb = self._embeddings(X, mask, shifts) if self.mode == "linear" else None
        if emb is not None:  # (sklearn had said "Input X contains NaN" of its own matrix)
            refuse_unreadable_rows(emb.cpu().numpy(), "the encoder's embeddings")
        if self.solver == "lbfgs":  # fit() passes every row: the inner folds' outputs
            oof = self._fit_head_lbfgs(emb, feats, y_t, fit_idx, groups, weight)
            z = oof[:, 0] if self.kind == "binary" else oof
            return z * self.y_std + self.y_mean if self.kind == "regression" else z
        if self.mode == "linear":
            for p in self.net.backbone.parameters():
                p.requires_grad_(False)
            parts = [(self.net.head, self.head_lr)]
        else:
            parts = [(self.net.backbone, self.lr), (self.net.head, self.head_lr)]
        # the weights of linear and convolution layers decay; biases, norms, embeddings not
        param_groups = [{"params": kept, "lr": lr, **({} if decays else {"weight_decay": 0.0})}
                        for module, lr in parts
                        for decays, params in zip((True, False), decay_split(module), strict=True)
                        if (kept := [p for p in params if p.requires_grad])]
        opt = torch.optim.AdamW(param_groups, weight_decay=self.weight_decay)
        best, best_state, stale = np.inf, copy.deepcopy(self.net.state_dict()), 0
        self.history = []
        key = self._epoch_key(X, y, mask, feats, fit_idx, val_idx)
        start, saved = 0, self._read_epochs(key)
        if saved is not None:  # a fit stopped part way: on from its last finished epoch
            self.net.load_state_dict(saved["net"])
            opt.load_state_dict(saved["opt"])
            best, best_state, stale = saved["best"], saved["best_state"], saved["stale"]
            self.history = saved["history"]
            rng.bit_generator.state = saved["numpy_rng"]
            torch.set_rng_state(saved["torch_rng"].cpu())
            # a GPU's, on a GPU only (a run stopped on one and resumed on the CPU had set
            # the caller's GPU generator)
            if saved.get("cuda_rng") is not None and torch.device(self.device).type == "cuda":
                torch.cuda.set_rng_state(saved["cuda_rng"].cpu(), self.device)
            start = saved["epoch"] + 1 if not saved["stopped"] else self.epochs
            if self.verbose:
                print(f"qualityfm: resumed after epoch {saved['epoch'] + 1} from "
                      f"{self.checkpoint}", file=sys.stderr, flush=True)
        for epoch in range(start, self.epochs):
            self.net.train()
            if self.mode == "linear":
                self.net.backbone.eval()  # frozen: no dropout, fixed statistics
            order = rng.permutation(fit_idx)
            total = 0.0
            for b, x, m, f in self._batches(None if emb is not None else X, mask, feats, order):
                if self.augment and x is not None:
                    x = random_time_shift(x, rng)
                yt = torch.as_tensor(y_t[b], device=self.device)
                out = self.net(x, m, f) if emb is None else self.net.head_forward(emb[b], f)
                loss = self._loss(out, yt, weight)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
                opt.step()
                total += float(loss.detach()) * len(b)
            z = self._outputs(X, mask, feats, val_idx, emb)
            zt = torch.as_tensor(z if self.kind != "binary" else z[:, None])
            vy = torch.as_tensor(y_t[val_idx])
            val = float(self._loss(zt, vy, None if weight is None else weight.cpu()))
            self.history.append({"epoch": epoch, "train_loss": total / len(fit_idx),
                                 "val_loss": val})
            improved = val < best - 1e-6
            if improved:
                best, best_state, stale = val, copy.deepcopy(self.net.state_dict()), 0
            else:
                stale += 1
            self._save_epochs(key, epoch, opt, best, best_state, stale, rng,
                              stopped=stale >= self.patience)
            if self.verbose:  # once kept: a stop before had lost an epoch said to be done
                print(f"qualityfm: epoch {epoch + 1}/{self.epochs}: training loss "
                      f"{total / len(fit_idx):.4f}, validation loss {val:.4f}"
                      f"{' (best)' if improved else ''}", file=sys.stderr, flush=True)
            if stale >= self.patience:
                break
        if not np.isfinite(best) and self.history:  # the untrained network had been returned
            self.net.load_state_dict(best_state)  # untrained: rows it cannot read had been
            refuse_unreadable_rows(  # blamed on the learning rate
                self._outputs(X, mask, feats, np.arange(len(y)), emb), "the untrained network's "
                "outputs")
            raise FloatingPointError(
                f"no epoch of {len(self.history)} gave a finite validation loss (the training "
                "diverged): lower the learning rate (lr, head_lr)")
        self.net.load_state_dict(best_state)
        raw = self._raw(X[val_idx], None if mask is None else mask[val_idx],
                        None if features is None else np.asarray(features)[val_idx])
        if self.checkpoint is not None and not self.keep_checkpoint:  # done: nothing to resume
            self.checkpoint.unlink(missing_ok=True)
        return raw

    def _epoch_key(self, X, y, mask, feats, fit_idx, val_idx) -> str:
        """What a checkpoint's epochs belong to: the rows, the settings of this fit and the
        network it starts from (an init folder exported again, or another module of the same
        class, had resumed the other encoder's epochs)."""
        if self.checkpoint is None:
            return ""
        h = hashlib.sha256()
        for name, t in self.net.state_dict().items():  # before the first step
            h.update(name.encode())
            h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
        for a in (X, y, mask, feats, fit_idx, val_idx):
            if a is not None:
                a = np.ascontiguousarray(a)
                h.update(repr((a.shape, a.dtype.str)).encode())
                h.update(a.tobytes())
        h.update(repr(self._settings_key()).encode())
        return h.hexdigest()

    def _settings_key(self) -> tuple:
        """The settings a stopped fit's epochs belong to (:meth:`_epoch_key`), its init as
        :func:`init_identity` names it."""
        init = (init_identity(self.init) if isinstance(self.init, (str, Path))
                else type(self.init).__name__)
        return (init, self.mode, self.solver, self.epochs, self.batch_size, self.lr,
                self.head_lr, self.weight_decay, self.patience, self.class_weight,
                self.use_features, self.dropout, self.augment, self.pool, self.seed,
                self.task, repr(self.config), "no decay on biases and norms")

    def _read_epochs(self, key: str) -> dict | None:
        """The checkpoint of a stopped fit of these rows and settings; None when there is
        none (one of another fit is left alone, to be replaced at the first epoch). A file
        that is no such checkpoint (a user's data, another model) is refused, named: it had
        been replaced, then removed; so is a folder (before the first epoch: its write had
        failed after it)."""
        if self.checkpoint is not None and self.checkpoint.is_dir():
            raise IsADirectoryError(f"checkpoint={self.checkpoint} is a folder: give a file "
                                    "path, e.g. inside it")
        if self.checkpoint is None or not self.checkpoint.is_file():
            return None
        from qualityfm.train.checkpoint import load_state

        foreign = ValueError(
            f"checkpoint={self.checkpoint}: that file is no fine-tuning checkpoint this class "
            "wrote (it would be replaced, then removed): move it away, or give checkpoint= "
            "another path")
        try:
            with self.checkpoint.open("rb") as f:
                magic = f.read(4)
            if not magic:  # nothing to lose: started over
                return None
            if magic != b"PK\x03\x04":  # no file torch.save writes
                raise foreign
            if not zipfile.is_zipfile(self.checkpoint):  # a torn one: started over
                return None
            with zipfile.ZipFile(self.checkpoint) as archive:  # whole: torch's, or a user's
                if not any(n.endswith("/data.pkl") for n in archive.namelist()):  # archive
                    raise foreign
            try:
                saved = load_state(self.checkpoint, self.device)
            except pickle.UnpicklingError as err:  # a whole torch file of more than states
                raise foreign from err  # (a module saved whole: every checkpoint of ours
                # holds states alone)
        except (OSError, zipfile.BadZipFile, RuntimeError, EOFError, IndexError):
            return None  # unreadable (damaged): started over
        if not isinstance(saved, dict) or "key" not in saved or "epoch" not in saved:
            raise foreign
        return saved if saved["key"] == key else None

    def _save_epochs(self, key: str, epoch: int, opt: torch.optim.Optimizer, best: float,
                     best_state: dict, stale: int, rng: np.random.Generator,
                     stopped: bool) -> None:
        if self.checkpoint is None:
            return
        from qualityfm.train.checkpoint import save_checkpoint

        save_checkpoint(self.checkpoint, {
            "key": key, "epoch": epoch, "stopped": stopped, "net": self.net.state_dict(),
            "opt": opt.state_dict(), "best": best, "best_state": best_state, "stale": stale,
            "history": self.history, "numpy_rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": (torch.cuda.get_rng_state(self.device)
                         if torch.device(self.device).type == "cuda" else None),
        })

    def fit(
        self, X: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None,
        groups: np.ndarray | None = None, features: np.ndarray | None = None,
    ) -> Finetuner:
        """Fit (see :meth:`TaskEstimator.fit`). The lbfgs head cross-fits, as
        ``ClassicalBaseline`` does: it is fitted on every row, and calibration and threshold
        come from the outputs of its grouped inner folds at the chosen strength (models of the
        same form on four fifths of the rows, each scoring rows it did not see), so no row is
        spent on validation only and the threshold rests on all the positives."""
        if self.solver != "lbfgs":
            super().fit(X, y, mask, groups, features)
        else:
            with self._unchanged_on_error():
                X, y, mask, groups, features = self._fit_inputs(X, y, mask, groups, features)
                oof = self._fit_core(X, y, mask, features, np.arange(len(y)),
                                     np.zeros(0, int), groups)
                self._set_operating_point(oof, y)
        self.net.eval()  # fitted: for inference (no dropout) when called directly too
        return self

    def _fit_head_lbfgs(self, emb: Tensor, feats: np.ndarray | None, y_t: np.ndarray,
                        fit_idx: np.ndarray, groups: np.ndarray | None,
                        weight: Tensor | None) -> np.ndarray:
        """Fit the linear head to the frozen embeddings (+ features) of the fit rows in closed
        form: L2 logistic regression (ridge for regression) on standardised inputs, with the
        strength of :data:`C_GRID` whose grouped inner folds of the fit rows give the lowest
        task loss; the standardisation is folded into the head's weights. The feature columns
        are scaled up by sqrt(embedding size / feature count), so that both blocks carry the
        same total variance and one penalty does not let the many embedding columns drown
        the few features (on the VT records: AUROC +0.04 to +0.06 over equal scaling).
        Each inner fold standardises by its own training rows (each column's SD at least a
        tenth of the fit rows'). Returns the inner folds'
        outputs at that strength (rows in ``fit_idx`` order); a binary task whose inner folds
        cannot each train on both classes is refused."""
        from sklearn.linear_model import LogisticRegression, Ridge

        H = emb.cpu().numpy().astype(np.float64)
        n_emb = H.shape[1]
        if feats is not None:
            H = np.concatenate([H, feats.astype(np.float64)], axis=1)
        H, yf = H[fit_idx], y_t[fit_idx]
        if self.kind != "regression" and len(np.unique(yf)) < 2:
            raise ValueError(f"solver 'lbfgs': the fit rows hold only class {yf[0].item()!r}; "
                             "a classifier needs rows of two classes at least")
        gf = np.arange(len(fit_idx)) if groups is None else np.asarray(groups)[fit_idx]

        # An inner fold's SD of a column is floored at a tenth of the fit rows' (nearly
        # constant in an inner fold's training rows, a feature had put a held-out record
        # 1.2e4 SDs out: validation SBP MAE 68 mmHg against 22 for the mean); the fit on
        # every fit row is standardised exactly
        sd_floor = 0.1 * (H.std(axis=0) + 1e-6)

        def fit(rows: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
            """Head weights [n_out, d] and bias [n_out] on the raw columns, fitted to ``rows``
            standardised by their own mean and SD (an inner fold's held-out rows had set the
            scale its model was fitted on)."""
            mu, sd = H[rows].mean(axis=0), np.maximum(H[rows].std(axis=0) + 1e-6, sd_floor)
            if H.shape[1] > n_emb:  # the features' block as heavy as the embedding's
                sd[n_emb:] /= np.sqrt(n_emb / (H.shape[1] - n_emb))
            Z = (H[rows] - mu) / sd
            if self.kind == "regression":
                m = Ridge(alpha=1.0 / c).fit(Z, yf[rows])
                w, b = np.atleast_2d(m.coef_), np.atleast_1d(m.intercept_)
            else:
                m = LogisticRegression(C=c, max_iter=2000,
                                       class_weight="balanced" if self.class_weight else None)
                m.fit(Z, yf[rows])
                if self.kind == "binary":
                    w, b = m.coef_, m.intercept_
                else:
                    w, b = np.zeros((self.n_out, Z.shape[1])), np.full(self.n_out, -30.0)
                    cls = m.classes_.astype(int)  # a class absent from the rows: never chosen
                    w[cls], b[cls] = (m.coef_, m.intercept_) if len(cls) > 2 else (
                        np.vstack([-m.coef_, m.coef_]) / 2,
                        np.r_[-m.intercept_, m.intercept_] / 2)
            return w / sd, b - (w * mu / sd).sum(axis=1)

        def loss(out: np.ndarray, rows: np.ndarray) -> float:
            return float(self._loss(torch.as_tensor(out, dtype=torch.float32),
                                    torch.as_tensor(yf[rows]),
                                    None if weight is None else weight.cpu()))

        n_groups = len(np.unique(gf))
        if n_groups < 2:
            raise ValueError("solver 'lbfgs' needs rows of two groups at least (its strength "
                             "and operating point come from grouped inner folds)")
        folds = list(group_kfold(yf, gf, k=max(2, fold_count(yf, gf, 5)), seed=self.seed))
        counts = np.unique(yf, return_counts=True)[1].tolist()
        if any(len(np.unique(yf[tr])) < 2 for tr, _ in folds) and self.kind != "regression":
            raise ValueError(f"solver 'lbfgs': an inner fold trains on one class only (class "
                             f"counts {counts} over {n_groups} groups); use solver='adamw'")
        if self.kind == "multiclass" and any(len(np.unique(yf[tr])) < len(counts)
                                             for tr, _ in folds):
            # its held-out rows of that class are scored by a head that never chose it
            # (logit -30), which flattens the temperature fitted on the inner folds' outputs
            warn_at_caller(f"{self.task}: an inner fold of the closed-form head trains without "
                           f"one of the classes (class counts {counts} over {n_groups} "
                           "groups): its calibration is flattened; more groups of each class "
                           "(or solver='adamw') avoid it")
        outputs, scores = [], []  # per strength: the inner folds' outputs and mean loss
        for c in C_GRID:
            out = np.zeros((len(fit_idx), self.n_out))
            for tr, te in folds:
                w, b = fit(tr, c)
                out[te] = H[te] @ w.T + b
            outputs.append(out)
            scores.append(float(np.mean([loss(out[te], te) for _, te in folds])))
        best = int(np.argmin(scores))
        c, oof = C_GRID[best], outputs[best]
        w, b = fit(np.arange(len(fit_idx)), c)
        with torch.no_grad():
            self.net.head.weight.copy_(torch.as_tensor(w, dtype=torch.float32))
            self.net.head.bias.copy_(torch.as_tensor(b, dtype=torch.float32))
        self.history = [{"solver": "lbfgs", "C": c, "C_grid": list(C_GRID),
                         "inner_loss": scores}]
        return oof

    @float32_default()
    def _raw(self, X, mask, features) -> np.ndarray:
        if self.net is None:
            raise ValueError("the model is not fitted; call fit first")
        if self.use_features:
            features = self._features(X, mask, features)
        feats = self._feats(features, len(X))
        z = self._outputs(X, mask, feats, np.arange(len(X)), shifts=self.test_shifts)
        # (a row of 1e30 had read as a NaN probability, "no decision can be made", or as NaN
        # mmHg without a word, where fit names it)
        refuse_unreadable_rows(np.asarray(z), "the network's outputs")
        if self.kind == "regression":
            return z * self.y_std + self.y_mean
        return z

    # -- persistence
    def save(self, out: str | Path) -> Path:
        """Write the fitted model (weights, backbone config, protocol state) to ``out/``."""
        if self.net is None:
            raise ValueError("the model is not fitted; call fit before save")
        bb = self.net.backbone
        kind = "qualityfm" if isinstance(bb, QualityFMBackbone) else type(bb).__name__
        if kind not in ("qualityfm", "ResNet1d"):  # what load can build again
            raise ValueError(f"a fine-tune of a custom encoder module ({kind}) cannot be saved "
                             "by qualityfm (load could not build it again): save its "
                             "state_dict yourself, or fine-tune a QualityFM or ResNet1d")
        out = Path(out)
        refuse_file_for_folder(out, "a fine-tuned model (save writes a folder)")
        out.mkdir(parents=True, exist_ok=True)
        meta = {
            "backbone": kind,
            "backbone_config": bb.cfg.to_dict() if kind == "qualityfm" else bb.config(),
            "n_features": self.net.head.in_features - bb.dim, "mode": self.mode,
            "use_features": self.use_features,
            "augment": self.augment if self.mode == "full" else None,  # a linear head: unused
            "pool": getattr(bb, "pool", None), "test_shifts": self.test_shifts,
            "solver": self.solver, "protocol": self.protocol_state(),
            "y_mean": np.asarray(self.y_mean).tolist(), "y_std": np.asarray(self.y_std).tolist(),
            "feat_center": None if self.feat_center is None else self.feat_center.tolist(),
            "feat_scale": None if self.feat_scale is None else self.feat_scale.tolist(),
            "feature_bound": self.feature_bound,
            "feature_columns": (None if self.feature_columns is None
                                else self.feature_columns.tolist()),
            "history": self.history,
            # how it was trained, so that a refit of the loaded model trains as this fit did
            "training": json_safe({k: getattr(self, k) for k in TRAINING_SETTINGS}),
        }
        state = self.net.state_dict()
        # the two together (a save stopped between them had loaded one model's weights with
        # another's calibration and threshold); finetune.json is read back by load() alone:
        # Python's JSON keeps a NaN as NaN here
        atomic_write_all({out / "model.pt": lambda f: torch.save(state, f),
                          out / "finetune.json": lambda f: f.write(
                              json.dumps(meta, indent=1, default=numpy_scalar).encode())})
        return out

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> Finetuner:
        """A fitted Finetuner from a directory written by :meth:`save`, on ``device``. It
        refits with the settings it was trained with; a full fine-tune's refit starts from
        its fine-tuned encoder (a warm start: the encoder it was made from is not stored),
        a linear head's from the same frozen encoder as its first fit."""
        path = Path(path)
        meta_file = path / "finetune.json"
        if not meta_file.exists():
            raise FileNotFoundError(f"{path} is not a fine-tuned model (no finetune.json)")
        meta = read_json(meta_file, "run file", "fit the run again")
        try:
            return cls._from_meta(path, meta, device)
        except KeyError as err:
            raise ValueError(f"{meta_file}: incomplete run file (no {err}); fit the run "
                             "again") from None

    @classmethod
    def _from_meta(cls, path: Path, meta: dict, device: str) -> Finetuner:
        """:meth:`load`'s work, on the read ``finetune.json``."""
        from qualityfm.model import QualityFM, QualityFMConfig
        from qualityfm.tasks.baselines import ResNet1d

        if meta["backbone"] == "classical":
            raise ValueError(f"{path}: a classical baseline, not a network: load it with "
                             "qualityfm.tasks.load_estimator (or ClassicalBaseline.load)")
        if meta["backbone"] not in ("qualityfm", "ResNet1d"):
            raise ValueError(f"{path}: backbone {meta['backbone']!r} is none this version "
                             "loads (qualityfm, ResNet1d)")
        if meta["backbone"] == "qualityfm":
            bb: nn.Module = QualityFMBackbone(QualityFM(QualityFMConfig.from_dict(
                {k: tuple(v) if isinstance(v, list) else v
                 for k, v in meta["backbone_config"].items()})),
                meta.get("pool") or "mean")  # files saved before pooling was a setting: mean
        else:
            bb = ResNet1d(**meta["backbone_config"])
        p = meta["protocol"]
        training = {k: v for k, v in meta.get("training", {}).items()  # older files: none
                    if k in TRAINING_SETTINGS}
        if meta.get("augment") is not None:
            training.setdefault("augment", meta["augment"])
        kept = {k: v for k, v in training.items() if _setting_fault(k, v) is not None}
        ft = cls(p["task"], init=bb, mode=meta["mode"], use_features=meta["use_features"],
                 pool=getattr(bb, "pool", None), device=device,
                 test_shifts=meta.get("test_shifts", 1),  # files saved before: unshifted
                 solver=meta.get("solver", "adamw"),  # files saved before: adamw
                 **{k: v for k, v in training.items() if k not in kept})
        for name, value in kept.items():  # as saved before they were checked (patience=2.0):
            setattr(ft, name, value)  # the model predicts; a refit trains with them as then
        ft.set_protocol_state(p)
        ft.net = TaskNet(bb, p["n_out"], meta["n_features"])
        try:
            ft.net.load_state_dict(torch.load(path / "model.pt", map_location="cpu",
                                              weights_only=True))
        except FileNotFoundError:
            raise
        except Exception as err:  # truncated, or another file (or model) under the name
            raise ValueError(f"{path / 'model.pt'}: unreadable, truncated or not this run's "
                             f"model file ({err}); fit the run again") from err
        ft.net.to(ft.device)
        ft.y_mean = np.asarray(meta["y_mean"], dtype=np.float32)
        ft.y_std = np.asarray(meta["y_std"], dtype=np.float32)
        # files saved before robust scaling hold a mean and SD and no bound
        center, scale = (meta.get("feat_center", meta.get("feat_mean")),
                         meta.get("feat_scale", meta.get("feat_std")))
        if center is not None:
            ft.feat_center = np.asarray(center, np.float32)
            ft.feat_scale = np.asarray(scale, np.float32)
        ft.feature_bound = meta.get("feature_bound")
        if meta.get("feature_columns") is not None:
            ft.feature_columns = np.asarray(meta["feature_columns"], dtype=int)
        ft.history = meta["history"]
        return ft
