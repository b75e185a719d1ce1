"""Classical features of every window of a store: the targets of pre-training's feature loss.

They are computed once per store folder (each part of a store prepared in parts) from the
stored windows, and kept beside the shards as ``features.npy``: float32 ``[K, F]`` in
:func:`qualityfm.quality.features.feature_names` order, NaN where a feature is undefined (no
beats, an absent channel). :func:`feature_targets` reads them back standardised.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
from pathlib import Path

import numpy as np

from qualityfm.data.store import Store, save_npy
from qualityfm.quality.features import feature_names, window_features

FEATURES = "features.npy"


def _chunk_features(store_path: str, start: int, stop: int) -> np.ndarray:
    store = Store(store_path)
    ids = np.arange(start, stop)
    return window_features(store.windows(ids), store.masks[ids], store.fs)


def compute_store_features(store: Store | str | os.PathLike, workers: int = 1,
                           chunk: int = 128) -> list[Path]:
    """Write ``features.npy`` into every folder of ``store`` that lacks one (``workers``
    processes; atomic writes, so an interrupted run resumes at the folder it was on). Returns
    the files written."""
    store = store if isinstance(store, Store) else Store(store)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    written = []
    for part in store.parts:
        path = part.folder / FEATURES
        if path.is_file():
            continue
        bounds = [(s, min(s + chunk, part.offset + part.n_windows))
                  for s in range(part.offset, part.offset + part.n_windows, chunk)]
        if workers == 1:
            rows = [_chunk_features(str(store.path), a, b) for a, b in bounds]
        else:
            with cf.ProcessPoolExecutor(max_workers=workers) as pool:
                rows = list(pool.map(_chunk_features, [str(store.path)] * len(bounds),
                                     *zip(*bounds, strict=True)))
        empty = np.zeros((0, len(feature_names())), np.float32)
        save_npy(path, np.concatenate(rows).astype(np.float32) if rows else empty)
        written.append(path)
    return written


def store_features(store: Store | str | os.PathLike) -> np.ndarray:
    """The raw features ``[N, F]`` of every window of ``store`` (global window order)."""
    store = store if isinstance(store, Store) else Store(store)
    tables = []
    for part in store.parts:
        path = part.folder / FEATURES
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no window features; compute them with "
                                    "qualityfm.data.compute_store_features (pretrain does)")
        table = np.load(path)
        if table.shape != (part.n_windows, len(feature_names())):
            raise ValueError(f"{path}: shape {table.shape}, expected "
                             f"({part.n_windows}, {len(feature_names())}); delete it to recompute")
        tables.append(table)
    return np.concatenate(tables)


def feature_targets(store: Store | str | os.PathLike, min_known: float = 0.5,
                    clip: float = 5.0) -> tuple[np.ndarray, list[str]]:
    """Standardised features ``[N, F']`` of the store's windows and their names.

    Keeps the columns defined in at least ``min_known`` of the windows and not constant;
    centres each on its median and scales by its interquartile range / 1.349 (its SD where
    that is 0), then clips to +-``clip`` so that outliers (a rate from a noise burst) do not
    dominate. Undefined entries stay NaN (the loss ignores them)."""
    raw = store_features(store).astype(np.float64)
    names = feature_names()
    keep, centre, scale = [], [], []
    for j in range(raw.shape[1]):
        col = raw[:, j]
        known = col[np.isfinite(col)]
        if len(known) < max(2, min_known * len(col)):
            continue
        q25, med, q75 = np.percentile(known, [25, 50, 75])
        s = (q75 - q25) / 1.349 or float(np.std(known))
        if s > 0:
            keep.append(j)
            centre.append(med)
            scale.append(s)
    z = (raw[:, keep] - np.array(centre)) / np.array(scale)
    return np.clip(z, -clip, clip).astype(np.float32), [names[j] for j in keep]
