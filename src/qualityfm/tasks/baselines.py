"""Baselines in the same harness: a small 1-D ResNet from scratch (used through
:class:`~qualityfm.tasks.finetune.Finetuner` with ``init=ResNet1d()``) and a classical feature
model (sklearn HistGradientBoosting on :mod:`qualityfm.quality.features`)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits
from torch import Tensor, nn

from qualityfm.io.atomic import atomic_write_all, numpy_scalar, read_json
from qualityfm.io.folders import held_there, refuse_file_for_folder
from qualityfm.model.layers import ResidualBlock, entry_conv
from qualityfm.model.precision import float32_default
from qualityfm.quality.features import feature_names
from qualityfm.tasks.features import task_columns
from qualityfm.tasks.finetune import TaskEstimator, _check_settings, balanced_class_weights
from qualityfm.tasks.splits import fold_count, group_kfold


class ResNet1d(nn.Module):
    """Small 1-D ResNet: stem conv (stride 4) -> ``blocks`` residual stages (stride 2 each,
    widths doubling) -> global average pool. ``forward(x, mask) -> [B, dim]``."""

    @float32_default()
    def __init__(self, in_channels: int = 2, width: int = 16, blocks: int = 4) -> None:
        super().__init__()
        self._config = {"in_channels": in_channels, "width": width, "blocks": blocks}
        layers = entry_conv(in_channels, width, norm=nn.BatchNorm1d)
        c = width
        for i in range(blocks):
            c_out = width * 2 ** min(i, 3)
            layers.append(ResidualBlock(c, c_out, 2, norm=nn.BatchNorm1d))
            c = c_out
        self.net = nn.Sequential(*layers)
        self.dim = c

    def config(self) -> dict:
        return dict(self._config)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if mask is not None:
            x = x * mask[:, :, None].to(x.dtype)
        return self.net(x).mean(dim=2)


CLASSICAL_FILE = "classical.pkl"


class ClassicalBaseline(TaskEstimator):
    """Gradient boosting on classical features. ``fit(X, y, mask, groups, features)`` uses
    ``features`` when given (a TaskDataset's, from all channels of the record), else computes
    them from the model-input windows ``X`` at ``fs``.

    ``crossfit=k`` (default 5) fits the model on every training row and calibrates / fixes the
    threshold on out-of-fold scores of ``k`` inner group folds (models of the same settings
    fitted on the other inner folds): no row is spent on validation only, each score behind the
    operating point comes from a model that did not see its row, and the threshold rests on all
    the training positives instead of a fifth of them (on the VT records it kept the test TPR
    near its 0.95 target where the 80/20 split let it fall). ``crossfit=None`` follows the
    shared protocol: fit on ~80 % of the groups, calibrate and fix the threshold on the rest.
    Regression cross-fits too: the final model fits every row, and the inner folds' predictions
    give its ``validation`` MAE (there is no calibration or threshold to fix). It reads the columns
    :func:`~qualityfm.tasks.features.task_columns` names for its task.

    The defaults (many slow steps, each split choosing among a random 20 % of the columns,
    L2-shrunk leaves of >= 30 rows) beat 200 steps of 0.05 over all columns on all three
    tasks' records (docs/results.md, session 8): the columns are many and correlated, the
    rows few. A leaf holds at most a quarter of the rows a model fits (``min_samples_leaf``
    lowered to ``n // 4`` under 120 training rows, in the inner models too), so that small data
    sets still get splits instead of a constant model; every figure of docs/results.md fitted
    about 130 rows or more.

    ``n_models`` boosted models that differ only in their random column draws (the b-th with
    ``random_state = seed + 1000 b``) average their decision functions (regression: their
    predictions): the draw alone moves the AF macro F1 by about +-0.003 (docs/results.md,
    session 13).
    """

    reads_windows = False  # given features, X is not read

    def __init__(self, task: str = "vt-alarm", *, max_iter: int = 800,
                 learning_rate: float = 0.015, max_leaf_nodes: int = 15,
                 max_features: float = 0.2, l2_regularization: float = 2.0,
                 min_samples_leaf: int = 30, crossfit: int | None = 5, n_models: int = 1,
                 **protocol: object):
        super().__init__(task, **protocol)
        # refused here, not by scikit-learn once the features are computed (1.5 models had
        # failed in range())
        _check_settings(crossfit=crossfit, n_models=n_models, max_iter=max_iter,
                        max_leaf_nodes=max_leaf_nodes, min_samples_leaf=min_samples_leaf,
                        learning_rate=learning_rate, max_features=max_features,
                        l2_regularization=l2_regularization)
        self.crossfit, self.n_models = crossfit, n_models
        self.params = {"max_iter": max_iter, "learning_rate": learning_rate,
                       "max_leaf_nodes": max_leaf_nodes, "max_features": max_features,
                       "l2_regularization": l2_regularization,
                       "min_samples_leaf": min_samples_leaf, "random_state": self.seed,
                       # sklearn's "auto" stops early past 10,000 rows on a split blind to
                       # groups, so the final model would differ from the cross-fitted ones
                       # its calibration and threshold come from
                       "early_stopping": False}
        self.models: list = []
        self.columns = np.zeros(0, dtype=int)

    def fit(
        self, X: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None,
        groups: np.ndarray | None = None, features: np.ndarray | None = None,
    ) -> ClassicalBaseline:
        """Fit (see the class docstring for the two protocols)."""
        if self.crossfit is None:
            return super().fit(X, y, mask, groups, features)
        with self._unchanged_on_error():
            X, y, mask, groups, features = self._fit_inputs(X, y, mask, groups, features)
            F = self._features(X, mask, features)
            oof: np.ndarray | None = None
            for tr, te in self.inner_folds(y, groups):
                z = self._fit_core(None, y, None, F, tr, te, leaf_rows=len(y))
                if oof is None:
                    oof = np.zeros((len(y), *np.shape(z)[1:]))
                oof[te] = z
            self._fit_core(None, y, None, F, np.arange(len(y)), np.zeros(0, dtype=int))
            self._set_operating_point(oof, y)
        return self

    def inner_folds(self, y: np.ndarray, groups: np.ndarray) -> list:
        """The grouped inner folds a cross-fit (``crossfit``) of the rows ``y``, ``groups``
        makes; a ValueError where one trains without a class (a cross-validation checks its
        folds' with it before any fit: af's had failed at its third fit, two done)."""
        k = max(2, fold_count(y, groups, self.crossfit))
        folds = list(group_kfold(y, groups, k=k, seed=self.seed))
        for tr, _ in folds:
            if self.kind != "regression" and len(np.unique(y[tr])) < len(np.unique(y)):
                raise ValueError(
                    f"the gradient boosting's {k} inner folds: one trains without a "
                    f"class (class counts {np.bincount(y).tolist()} over "
                    f"{len(np.unique(groups))} groups); give more records of the rare "
                    "class (from Python: crossfit=None, or fewer folds)")
        return folds

    def _fit_core(self, X, y, mask, features, fit_idx, val_idx,
                  leaf_rows: int | None = None) -> np.ndarray:
        """Fit the models on ``fit_idx``; their scores of ``val_idx``. ``leaf_rows`` (default:
        the rows fitted) sets the leaf size, so that the inner models of a cross-fit have the
        settings of the final model whose operating point they fix."""
        F = self._features(X, mask, features)
        # columns with no value in the fit rows carry nothing (and trip sklearn's binning)
        self.columns = np.intersect1d(np.flatnonzero(np.isfinite(F[fit_idx]).any(axis=0)),
                                      task_columns(self.task, F.shape[1]))
        if len(self.columns) == 0:
            raise ValueError(f"no feature column of the task holds a finite value in any of "
                             f"the {len(fit_idx)} rows fitted (all NaN: no usable channel in "
                             "their windows?); the classical baseline has nothing to fit")
        self.models = [self._new_model(self.seed + 1000 * b,
                                       len(fit_idx) if leaf_rows is None else leaf_rows)
                       for b in range(self.n_models)]
        # square-root class weights, as sample weights (sklearn's class_weight is keyed by
        # the labels' ranks: labels 0, 1, 3 had failed): full balancing weighted the 98 noisy
        # AF recordings 7.6x and cost the 4-class model N/A/O macro F1 (docs/results.md,
        # session 8)
        weight = (None if self.kind == "regression"
                  else balanced_class_weights(y[fit_idx], power=0.5)[y[fit_idx]])
        # One OpenMP thread: the data are small, and with torch's own OpenMP runtime loaded
        # (torch.set_num_threads > 1) sklearn's threads spin against it (a fit 100x slower).
        with threadpool_limits(limits=1, user_api="openmp"):
            for model in self.models:
                model.fit(F[fit_idx][:, self.columns], y[fit_idx], sample_weight=weight)
        return self._scores(F[val_idx])

    def _new_model(self, random_state: int, leaf_rows: int):
        """An unfitted boosted model of these settings drawing with ``random_state``, its
        leaves of at most a quarter of ``leaf_rows``."""
        leaf = min(self.params["min_samples_leaf"], max(1, leaf_rows // 4))
        params = {**self.params, "random_state": random_state, "min_samples_leaf": leaf}
        if self.kind == "regression":
            from sklearn.multioutput import MultiOutputRegressor

            return MultiOutputRegressor(HistGradientBoostingRegressor(**params))
        return HistGradientBoostingClassifier(**params)

    def _scores(self, F: np.ndarray) -> np.ndarray:
        F = F[:, self.columns]
        if len(F) == 0:
            return np.zeros((0, self.n_out) if self.kind != "binary" else 0)
        with threadpool_limits(limits=1, user_api="openmp"):
            if self.kind == "regression":
                return np.mean([m.predict(F) for m in self.models], axis=0)
            return np.mean([self._logits(m, F) for m in self.models], axis=0)

    def _logits(self, model, F: np.ndarray) -> np.ndarray:
        """A boosted classifier's scores: binary ``[N]``; multiclass ``[N, n_out]``, a class
        its rows lacked at -30 (sklearn scores the classes it saw, two of them as one
        column)."""
        z = np.asarray(model.decision_function(F))
        if self.kind == "binary":
            return z
        if z.ndim == 1:  # two classes seen: the second's log-odds
            z = np.stack([np.zeros_like(z), z], axis=1)
        out = np.full((len(F), self.n_out), -30.0)
        out[:, np.asarray(model.classes_, dtype=np.int64)] = z
        return out

    def _raw(self, X, mask, features) -> np.ndarray:
        if not self.models:
            raise ValueError("the model is not fitted; call fit first")
        return self._scores(self._features(X, mask, features))

    # -- persistence
    def save(self, out: str | Path) -> Path:
        """Write the fitted model to ``out/``: ``classical.pkl`` (the pickled gradient-boosting
        models: load only files you trust) and ``finetune.json`` (settings, protocol state and
        the feature names the model was fitted on)."""
        if not self.models:
            raise ValueError("the model is not fitted; call fit first")
        out = Path(out)
        refuse_file_for_folder(out, "a fine-tuned model (save writes a folder)")
        out.mkdir(parents=True, exist_ok=True)
        models = pickle.dumps({"models": self.models, "columns": self.columns})
        meta = {"backbone": "classical", "fs": self.fs, "crossfit": self.crossfit,
                "n_models": self.n_models,
                "params": self.params, "feature_names": feature_names(),
                "protocol": self.protocol_state()}
        atomic_write_all({out / CLASSICAL_FILE: lambda f: f.write(models),  # the two together
                          out / "finetune.json": lambda f: f.write(
                              json.dumps(meta, indent=1, default=numpy_scalar).encode())})
        return out

    @classmethod
    def load(cls, path: str | Path) -> ClassicalBaseline:
        """A fitted baseline from a directory written by :meth:`save`; refuses one fitted on
        other feature columns (another qualityfm version)."""
        path = Path(path)
        meta = read_json(path / "finetune.json", "run file", "fit the run again")
        if meta.get("backbone") != "classical":
            raise ValueError(f"{path}: not a classical baseline "
                             f"(backbone {meta.get('backbone')!r})")
        if meta["feature_names"] != feature_names():
            raise ValueError(f"{path}: fitted on {len(meta['feature_names'])} feature columns of "
                             f"another qualityfm version; this one computes {len(feature_names())}"
                             ": fit it again")
        p = meta["protocol"]
        params = {k: v for k, v in meta["params"].items()
                  if k not in ("random_state", "early_stopping")}  # set by the constructor
        est = cls(p["task"], fs=meta["fs"], crossfit=meta["crossfit"],
                  n_models=meta.get("n_models", 1), **params)
        est.set_protocol_state(p)
        est.params["random_state"] = est.seed  # the seed it was fitted with, saved again
        with (path / CLASSICAL_FILE).open("rb") as f:
            try:
                state = pickle.load(f)  # noqa: S301 - a pickle: README says to trust it
                # files of qualityfm before session 14 hold one model under "model"
                est.models = state["models"] if "models" in state else [state["model"]]
                est.columns = np.asarray(state["columns"])
            except Exception as err:  # truncated, or another file under the name
                raise ValueError(f"{path / CLASSICAL_FILE}: unreadable, truncated or not this "
                                 f"run's model file ({err}); fit the run again") from err
        return est


def load_estimator(path: str | Path, device: str = "cpu") -> TaskEstimator:
    """A fitted task model saved by ``qualityfm finetune``: a network (:class:`Finetuner`, on
    ``device``) or the classical baseline, told apart by its ``finetune.json``."""
    from qualityfm.tasks.finetune import Finetuner

    path = Path(path)
    meta_file = path / "finetune.json"
    refuse_file_for_folder(path, "a fine-tuned model")
    if not path.exists():
        from qualityfm.train.export import names_shipped_weights

        hint = (": the shipped weights are an encoder, not a task model; fine-tune one "
                "(qualityfm finetune --init pretrained --out RUN) and give RUN"
                if names_shipped_weights(str(path)) else "")
        raise FileNotFoundError(f"model {path} does not exist{hint}")
    if (path / "cv.json").exists():
        raise FileNotFoundError(f"{path} is a cross-validation run (finetune --kfold), which "
                                "keeps no model; fine-tune without --kfold to get one")
    if not meta_file.exists():
        hint = (f": a pre-trained encoder, which finetune --init {path} fine-tunes for a task"
                if (path / "model.safetensors").is_file() else held_there(path))
        raise FileNotFoundError(f"{path} is not a fine-tuned model (no finetune.json){hint}")
    if read_json(meta_file, "run file", "fit the run again").get("backbone") == "classical":
        return ClassicalBaseline.load(path)
    return Finetuner.load(path, device)
