"""Prepare a corpus (windows -> quality -> pairs -> shards) and stream it to training.

The datasets import torch; they load on first use so that ``prepare`` and ``info`` stay light.
"""

from __future__ import annotations

from qualityfm._lazy import lazy_names
from qualityfm.data.features import (
    FeatureTargets,
    compute_store_features,
    feature_targets,
    store_features,
)
from qualityfm.data.pairs import PairConfig, mine_pairs
from qualityfm.data.prepare import prepare, stable_part
from qualityfm.data.store import Store, store_info

__all__ = [
    "FeatureTargets", "PairConfig", "PairDataset", "Store", "WindowDataset", "augment_window",
    "compute_store_features", "feature_targets", "mine_pairs", "prepare", "stable_part",
    "store_features", "store_info",
]

__getattr__, __dir__ = lazy_names(
    __name__, {name: "datasets" for name in ("PairDataset", "WindowDataset", "augment_window")})
