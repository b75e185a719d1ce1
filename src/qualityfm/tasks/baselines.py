"""Baselines in the same harness: a small 1-D ResNet from scratch (used through
:class:`~qualityfm.tasks.finetune.Finetuner` with ``init=ResNet1d()``) and a classical feature
model (sklearn HistGradientBoosting on :mod:`qualityfm.tasks.features`)."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from torch import Tensor, nn

from qualityfm.tasks.features import window_features
from qualityfm.tasks.finetune import TaskEstimator


class _ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(c_in, c_out, 7, stride, 3, bias=False), nn.BatchNorm1d(c_out), nn.ReLU(),
            nn.Conv1d(c_out, c_out, 7, 1, 3, bias=False), nn.BatchNorm1d(c_out),
        )
        self.skip = (
            nn.Identity() if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv1d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm1d(c_out))
        )

    def forward(self, x: Tensor) -> Tensor:
        return (self.body(x) + self.skip(x)).relu()


class ResNet1d(nn.Module):
    """Small 1-D ResNet: stem conv (stride 4) -> ``blocks`` residual stages (stride 2 each,
    widths doubling) -> global average pool. ``forward(x, mask) -> [B, dim]``."""

    def __init__(self, in_channels: int = 2, width: int = 16, blocks: int = 4) -> None:
        super().__init__()
        self._config = {"in_channels": in_channels, "width": width, "blocks": blocks}
        layers: list[nn.Module] = [
            nn.Conv1d(in_channels, width, 15, 4, 7, bias=False), nn.BatchNorm1d(width), nn.ReLU()
        ]
        c = width
        for i in range(blocks):
            c_out = width * 2 ** min(i, 3)
            layers.append(_ResBlock(c, c_out, 2))
            c = c_out
        self.net = nn.Sequential(*layers)
        self.dim = c

    def config(self) -> dict:
        return dict(self._config)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if mask is not None:
            x = x * mask[:, :, None].to(x.dtype)
        return self.net(x).mean(dim=2)


class ClassicalBaseline(TaskEstimator):
    """Gradient boosting on classical features. ``fit(X, y, mask, groups, features)`` uses
    ``features`` when given (a TaskDataset's, from all channels of the record), else computes
    them from the model-input windows ``X`` at ``fs``."""

    def __init__(self, task: str = "vt-alarm", *, fs: float = 300.0, max_iter: int = 200,
                 learning_rate: float = 0.05, max_leaf_nodes: int = 15, **protocol: object):
        super().__init__(task, **protocol)
        self.fs = fs
        self.params = {"max_iter": max_iter, "learning_rate": learning_rate,
                       "max_leaf_nodes": max_leaf_nodes, "random_state": self.seed}
        self.model = None
        self.columns = np.zeros(0, dtype=int)

    def _features(self, X, mask, features) -> np.ndarray:
        if features is not None:
            return np.asarray(features, dtype=np.float32)
        return window_features(np.asarray(X), mask, self.fs)

    def _fit_core(self, X, y, mask, features, fit_idx, val_idx) -> np.ndarray:
        F = self._features(X, mask, features)
        if self.kind == "regression":
            from sklearn.multioutput import MultiOutputRegressor

            self.model = MultiOutputRegressor(HistGradientBoostingRegressor(**self.params))
        else:
            self.model = HistGradientBoostingClassifier(class_weight="balanced", **self.params)
        # columns with no value in the fit rows carry nothing (and trip sklearn's binning)
        self.columns = np.flatnonzero(np.isfinite(F[fit_idx]).any(axis=0))
        self.model.fit(F[fit_idx][:, self.columns], y[fit_idx])
        return self._scores(F[val_idx])

    def _scores(self, F: np.ndarray) -> np.ndarray:
        F = F[:, self.columns]
        if self.kind == "regression":
            return self.model.predict(F)
        z = self.model.decision_function(F)
        return z if self.kind == "binary" else np.asarray(z)

    def _raw(self, X, mask, features) -> np.ndarray:
        if self.model is None:
            raise ValueError("the model is not fitted; call fit first")
        return self._scores(self._features(X, mask, features))
