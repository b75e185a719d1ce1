"""Classical features of every window of a store: the targets of pre-training's feature loss.

They are computed once per store folder (each part of a store prepared in parts) from the
stored windows, and kept beside the shards as ``features.npy``: float32 ``[K, F]`` in
:func:`qualityfm.quality.features.feature_names` order, NaN where a feature is undefined (no
beats, an absent channel). :func:`feature_targets` reads them back standardised, row by row
from memory maps, so that a store of millions of windows is never loaded whole.

``features.json`` beside them names the store they were computed from (the fingerprint of its
``meta.json``: settings and records), its window count, the feature columns and the version
of the feature code (:data:`~qualityfm.quality.features.FEATURES_VERSION`). Features whose
stamp does not match their folder's store (the store made again with other settings, or
features of older code) or that have no stamp are refused when read and computed again by
:func:`compute_store_features` (which pretrain calls).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from qualityfm._progress import progress_bar
from qualityfm.data.prepare import worker_pool
from qualityfm.data.store import FEATURES, FEATURES_STAMP, Store, StorePart, save_npy
from qualityfm.io import remove_temporaries, write_json
from qualityfm.quality.features import FEATURES_VERSION, feature_names, window_features


def _chunk_features(store: Store, start: int, stop: int, masks: np.ndarray) -> np.ndarray:
    """Features of windows ``start:stop`` (their ``masks`` given, so that no process reloads
    the store's index per chunk; a pickled Store reopens only its shard maps)."""
    return window_features(store.windows(np.arange(start, stop)), masks, store.fs)


#: A features temporary untouched this long is a killed computation's, not one being written
#: (removed before a computation; after it, those older than its start go too).
STALE_SECONDS = 600.0


def parts_without_features(store: Store) -> list[StorePart]:
    """The folders of ``store`` whose features are missing or belong to another store, shape
    or columns: those :func:`compute_store_features` computes."""
    return [p for p in store.parts
            if not ((p.folder / FEATURES).is_file() and _mismatch(p) is None)]


def compute_store_features(store: Store | str | os.PathLike, workers: int = 1,
                           chunk: int = 128, progress: bool = False,
                           announce: bool = False) -> list[Path]:
    """Write ``features.npy`` (and its ``features.json`` stamp) into every folder of ``store``
    that lacks them or holds ones of another store, shape or columns: ``workers`` processes;
    atomic writes, the stamp last, so an interrupted run resumes at the folder it was on.
    ``progress``: a line on stderr saying what is computed, and a bar of windows;
    ``announce``: that line alone (a run logged without a bar). Returns the features files
    written."""
    store = store if isinstance(store, Store) else Store(store)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    started = time.time()
    _remove_killed_writes(store, started - STALE_SECONDS)
    todo = parts_without_features(store)
    if todo:
        store.check_model_channels()
    for p, part in enumerate(store.parts):  # a truncated shard named before the computing
        if part in todo:  # is said, not after it
            store.check_shards(p)
    bar = None
    if (progress or announce) and todo:
        n = sum(p.n_windows for p in todo)
        print(f"qualityfm: computing the classical features of {n} windows of {store.path} "
              f"on {max(1, min(workers, max(-(-p.n_windows // chunk) for p in todo)))} "
              "process(es), once (prepare --features stores them)",
              file=sys.stderr, flush=True)
        bar = progress_bar(n, unit="window") if progress else None
    written = []
    for part in todo:
        path = part.folder / FEATURES
        (part.folder / FEATURES_STAMP).unlink(missing_ok=True)
        end = part.offset + part.n_windows
        light = store.without_tables()  # pickled with every task
        tasks = [(light, a, min(a + chunk, end), store.masks[a:min(a + chunk, end)])
                 for a in range(part.offset, end, chunk)]
        with contextlib.ExitStack() as stack:
            if workers == 1 or len(tasks) <= 1:
                done = (_chunk_features(*t) for t in tasks)
            else:  # no more processes than chunks (--workers 50 had forked 50 for one)
                pool = stack.enter_context(worker_pool(min(workers, len(tasks))))
                done = pool.map(_chunk_features, *zip(*tasks, strict=True))
            rows = []
            try:
                for r in done:
                    rows.append(r)
                    if bar is not None:
                        bar.update(len(r))
            except cf.BrokenExecutor:
                raise ChildProcessError(
                    f"a worker process died (killed for memory?) while it computed {path}'s "
                    "windows' features; run again with fewer workers") from None
        empty = np.zeros((0, len(feature_names())), np.float32)
        save_npy(path, np.concatenate(rows).astype(np.float32) if rows else empty)
        write_json(part.folder / FEATURES_STAMP, _stamp(part))
        written.append(path)
    if bar is not None:
        bar.close()
    _remove_killed_writes(store, started)
    return written


def _remove_killed_writes(store: Store, before: float) -> None:
    """Remove the features temporaries of the store's folders last written before ``before``
    (s since the epoch): a computation killed mid-write left them, a full-size copy each. One
    another computation is writing now is newer (its final write takes seconds), and one it
    renames away meanwhile is passed over (as one that cannot be removed)."""
    for part in store.parts:
        remove_temporaries(part.folder, FEATURES, older_than_s=time.time() - before)


def _shape(n_windows: int) -> tuple[int, int]:
    """The shape of a folder's features table: one row per window, one column per feature."""
    return n_windows, len(feature_names())


def _stamp(part: StorePart) -> dict[str, Any]:
    """What ties a folder's features to its store (``features.json``)."""
    return {"fingerprint": part.meta.get("fingerprint"), "n_windows": part.n_windows,
            "features": feature_names(), "version": FEATURES_VERSION}


def _mismatch(part: StorePart) -> str | None:
    """Why the folder's existing ``features.npy`` is not the features of its store, or None."""
    try:
        shape = np.load(part.folder / FEATURES, mmap_mode="r").shape
    except (ValueError, OSError, EOFError) as err:  # computed again, not a dead end
        return f"unreadable (truncated or damaged: {err})"
    if shape != _shape(part.n_windows):
        return (f"shape {shape}, expected {_shape(part.n_windows)} "
                "(another version's feature columns, or other windows)")
    if not (part.folder / FEATURES_STAMP).exists():
        return (f"not known to belong to this store (no {FEATURES_STAMP}: written by a "
                "qualityfm before its feature code had versions, or by a run stopped before "
                "its stamp)")
    try:
        stamp = json.loads((part.folder / FEATURES_STAMP).read_text())
    except (OSError, ValueError):
        return f"not known to belong to this store (unreadable {FEATURES_STAMP})"
    expected = _stamp(part)
    if stamp.get("fingerprint") != expected["fingerprint"]:
        return (f"computed for another store (fingerprint {stamp.get('fingerprint')}; this "
                f"store's is {expected['fingerprint']}: it was made again since)")
    if stamp.get("version") != FEATURES_VERSION:
        return (f"computed by other feature code (version {stamp.get('version', 'unstated')}; "
                f"this qualityfm's is {FEATURES_VERSION})")
    if stamp != expected:
        return f"computed with other feature columns or windows ({FEATURES_STAMP})"
    return None


def _load(part: StorePart, mmap: bool) -> np.ndarray:
    path = part.folder / FEATURES
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no window features; compute them with "
                                "qualityfm.data.compute_store_features (pretrain does)")
    problem = _mismatch(part)
    if problem is not None:
        raise ValueError(f"{path}: {problem}; recompute it with "
                         "qualityfm.data.compute_store_features (pretrain does)")
    return np.load(path, mmap_mode="r" if mmap else None)


def store_features(store: Store | str | os.PathLike) -> np.ndarray:
    """The raw features ``[N, F]`` of every window of ``store`` (global window order), in
    memory: for analysis of small stores; training reads :class:`FeatureTargets` row by row."""
    store = store if isinstance(store, Store) else Store(store)
    return np.concatenate([_load(p, mmap=False) for p in store.parts])


class FeatureTargets:
    """Standardised features of a store's windows, read row by row from each folder's
    ``features.npy`` memory map (opened lazily; pickles without it, for DataLoader workers).

    ``targets[i]`` is float32 ``[width]`` for global window ``i``; ``rows(ids)`` several.
    Built by :func:`feature_targets`, which fixes the kept ``columns`` and their ``centre``
    and ``scale``."""

    def __init__(self, store: Store, columns: np.ndarray, centre: np.ndarray,
                 scale: np.ndarray, clip: float) -> None:
        self.store, self.clip = store, float(clip)
        self.columns = np.asarray(columns, dtype=np.int64)
        self.centre = np.asarray(centre, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self._maps: dict[int, np.ndarray] = {}
        for p in store.parts:  # fail early, naming the folder, when one lacks its features
            _load(p, mmap=True)

    @property
    def names(self) -> list[str]:
        all_names = feature_names()
        return [all_names[j] for j in self.columns]

    @property
    def width(self) -> int:
        return len(self.columns)

    def __len__(self) -> int:
        return self.store.n_windows

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_maps": {}}

    def _raw(self, ids: np.ndarray) -> np.ndarray:
        out = np.empty((len(ids), len(feature_names())), dtype=np.float64)
        part_of = np.searchsorted(self.store._part_starts, ids, side="right") - 1
        for k in np.unique(part_of):
            part = self.store.parts[k]
            if k not in self._maps:
                self._maps[k] = _load(part, mmap=True)
            sel = part_of == k
            out[sel] = self._maps[k][ids[sel] - part.offset]
        return out

    def rows(self, ids: np.ndarray | list[int]) -> np.ndarray:
        """Targets ``[len(ids), width]``: (raw - centre) / scale, clipped; NaN stays NaN."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) and (ids.min() < 0 or ids.max() >= len(self)):
            raise IndexError(f"window ids must lie in [0, {len(self)})")
        z = (self._raw(ids)[:, self.columns] - self.centre) / self.scale
        return np.clip(z, -self.clip, self.clip).astype(np.float32)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.rows([i])[0]


def feature_targets(store: Store | str | os.PathLike, min_known: float = 0.5,
                    clip: float = 5.0, sample: int = 200_000, seed: int = 0) -> FeatureTargets:
    """The store's window features as standardised targets.

    From the features of ``sample`` windows drawn at random (all of them in a smaller store),
    keeps the columns defined in at least ``min_known`` of the windows and not constant;
    centres each on its median and scales it by its interquartile range / 1.349 (its SD where
    that is 0); values are clipped to +-``clip`` so that outliers (a rate from a noise burst)
    do not dominate. Undefined entries stay NaN (the loss ignores them)."""
    store = store if isinstance(store, Store) else Store(store)
    n = store.n_windows
    ids = np.arange(n) if n <= sample else np.sort(
        np.random.default_rng(seed).choice(n, size=sample, replace=False))
    probe = FeatureTargets(store, np.arange(len(feature_names())),
                           np.zeros(len(feature_names())), np.ones(len(feature_names())), np.inf)
    raw = probe._raw(ids)
    centre, scale = robust_centre_scale(raw)
    known = np.isfinite(raw).sum(axis=0)
    keep = np.flatnonzero((known >= max(2, min_known * len(raw))) & (scale > 0))
    return FeatureTargets(store, keep, centre[keep], scale[keep], clip)


def robust_centre_scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column median and interquartile range / 1.349 (the SD of a normal column; the SD
    where the IQR is 0) of the finite entries of ``values`` [N, F]; NaN for a column with no
    finite entry. The classical features are heavy-tailed, so mean and SD would let one
    outlier set a column's scale."""
    v = np.asarray(values, dtype=np.float64)
    v = np.where(np.isfinite(v), v, np.nan)
    with warnings.catch_warnings():  # all-NaN columns (absent channels) are expected
        warnings.simplefilter("ignore", RuntimeWarning)
        q25, centre, q75 = np.nanpercentile(v, [25, 50, 75], axis=0)
        sd = np.nanstd(v, axis=0)
    return centre, np.where(q75 - q25 > 0, (q75 - q25) / 1.349, sd)
