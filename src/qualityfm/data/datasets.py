"""Streaming datasets over a store, aware of DataLoader workers and DDP ranks.

Each epoch is a permutation of the items (pairs or windows) drawn from ``seed + epoch``. It is
split across ranks like ``DistributedSampler``: with ``drop_last=False`` the order is padded by
repeating its first items so every rank gets ``ceil(n / world_size)`` items; with
``drop_last=True`` the tail is dropped and every rank gets ``n // world_size``. Each item is
therefore seen exactly once per epoch across all ranks (up to the padded repeats).

Within a rank, DataLoader worker ``w`` of ``W`` takes the batches ``w, w + W, w + 2W ...`` of the
rank's sequence (``batch_size`` must be the DataLoader's), which is the order in which the
DataLoader hands batches out: the samples a rank consumes are exactly its sequence, in order.
That makes the position resumable: ``state_dict()`` gives the epoch and the number of samples
consumed in it, and ``load_state_dict()`` makes the next iteration skip them (until the next
``set_epoch``). With ``num_workers=0`` the dataset counts consumed samples itself; with workers
the training loop passes its own count, ``state_dict(samples_seen=n)``. ``dataset.loader()``
makes the DataLoader that keeps these promises (its batch size is the dataset's; persistent
workers, which would never see ``set_epoch``, are refused).

Windows are read from the shards' memory maps, opened lazily in each worker process.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from qualityfm._numbers import is_int
from qualityfm.data.features import FeatureTargets
from qualityfm.data.store import Store
from qualityfm.signal import normalize

Corruptor = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]
#: Lowest quality level of a window that teaches an aligned pair (its teacher).
ALIGNED_MIN_LEVEL = 3


def _default_corrupt(x: np.ndarray, fs: float, rng: np.random.Generator,
                     present: np.ndarray | None = None) -> np.ndarray:
    """:func:`qualityfm.signal.corrupt` with every artifact kind the rate allows (mains hum
    needs a mains frequency below Nyquist), on the channels ``present``."""
    from qualityfm.signal import corrupt

    return corrupt(x, fs, rng, present=present)


def augment_window(x: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """QualityFM's pre-training augmentation of one window ``[C, T]`` (a new array; absent
    channels stay zero): Gaussian noise of sigma 0.01 (p 0.5), one amplitude scale from
    U(0.9, 1.1) (p 0.5), an offset from U(-0.1, 0.1) per channel (p 0.3), and one span of
    T/20 to T/10 samples set to zero (p 0.3)."""
    out = np.array(x, dtype=np.float32)
    n_ch, t = out.shape
    if rng.random() < 0.5:
        out += rng.normal(0.0, 0.01, out.shape).astype(np.float32)
    if rng.random() < 0.5:
        out *= np.float32(rng.uniform(0.9, 1.1))
    if rng.random() < 0.3:
        out += rng.uniform(-0.1, 0.1, (n_ch, 1)).astype(np.float32)
    if rng.random() < 0.3:
        length = int(rng.integers(max(t // 20, 1), max(t // 10, 1) + 1))
        begin = int(rng.integers(0, t - length + 1))
        out[:, begin:begin + length] = 0.0
    out[~np.asarray(mask, bool)] = 0.0
    return out


def _distributed() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class _StoreDataset(IterableDataset):
    """Epoch order, rank/worker split and resumable position, shared by both datasets."""

    def __init__(
        self, store: Store | str | os.PathLike, *, shuffle: bool, seed: int,
        rank: int | None, world_size: int | None, drop_last: bool, batch_size: int,
    ) -> None:
        super().__init__()
        self.store = store if isinstance(store, Store) else Store(store)
        if (rank is None) != (world_size is None):
            raise ValueError("give both rank and world_size, or neither")
        if world_size is not None and not (is_int(rank) and is_int(world_size)):  # 2.5 had
            raise ValueError(f"rank and world_size must be whole numbers, got {rank!r} and "
                             f"{world_size!r}")  # read as 2: ranks' windows overlapping
        if world_size is not None and not (world_size >= 1 and 0 <= rank < world_size):
            raise ValueError(f"rank {rank} is not in [0, world_size={world_size})")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not is_int(seed) or seed < 0:  # numpy's generators take no negative one
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        self.shuffle, self.seed, self.drop_last = shuffle, int(seed), drop_last
        self.batch_size = batch_size
        self._rank, self._world_size = rank, world_size
        self.epoch = 0
        self._start = 0  # samples of this epoch to skip (from load_state_dict)
        self._seen = 0  # samples consumed in this epoch, counted in this process

    def __getstate__(self) -> dict[str, Any]:
        """The dataset as a DataLoader sends it to a ``spawn``/``forkserver`` worker: the rank
        and world size found here, in the process that joined the process group (a worker
        has none, and would take itself for rank 0 of 1: every rank serving the whole
        epoch)."""
        state = self.__dict__.copy()
        if state["_world_size"] is None:
            state["_rank"], state["_world_size"] = _distributed()
        return state

    # -- to be provided by subclasses
    def _n_items(self) -> int:
        raise NotImplementedError

    def _sample(self, item: int, rng: np.random.Generator) -> dict[str, Any]:
        raise NotImplementedError

    # -- order
    @property
    def rank_world(self) -> tuple[int, int]:
        if self._world_size is not None:
            return int(self._rank), int(self._world_size)
        return _distributed()

    def __len__(self) -> int:
        """Samples this rank yields per epoch (over all its workers)."""
        n, (_, world) = self._n_items(), self.rank_world
        return n // world if self.drop_last else -(-n // world)

    def rank_order(self, epoch: int | None = None) -> np.ndarray:
        """The items this rank yields in ``epoch`` (default: the current one), in order."""
        epoch = self.epoch if epoch is None else epoch
        n = self._n_items()
        rank, world = self.rank_world
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(n)
        else:
            order = np.arange(n)
        total = len(self) * world
        if total > n and n:
            order = np.resize(order, total)  # pads by repeating from the start
        return order[:total][rank::world]

    def __iter__(self):
        seq = self.rank_order()
        start = min(self._start, len(seq))
        info = get_worker_info()
        workers, worker = (1, 0) if info is None else (info.num_workers, info.id)
        positions = np.arange(start, len(seq))
        mine = positions[((positions - start) // self.batch_size) % workers == worker]
        self._seen = start
        for pos in mine:
            item = int(seq[pos])
            rng = np.random.default_rng([self.seed, self.epoch, item])
            sample = self._sample(item, rng)
            self._seen += 1
            yield sample

    def loader(self, num_workers: int = 0, **kwargs: Any) -> torch.utils.data.DataLoader:
        """A DataLoader over this dataset with its ``batch_size`` (workers take whole batches
        of it, so another batch size would hand out samples out of order and resume at the
        wrong one). ``persistent_workers`` is refused: its workers keep the epoch they
        started with, so every epoch would repeat the first one's order."""
        for key in ("batch_size", "sampler", "batch_sampler", "shuffle"):
            if key in kwargs:
                raise ValueError(f"loader(): {key} is the dataset's own (batch_size "
                                 f"{self.batch_size}; order by seed and epoch)")
        if kwargs.get("persistent_workers"):
            raise ValueError("loader(): persistent workers would never see set_epoch, so "
                             "each epoch would repeat the first one's order")
        if num_workers > 0:  # the channel masks read here, once, go to every worker with the
            # dataset: each worker of each epoch had read them again, a read of the whole
            # index (about 1.6 kB a window: 33 GB at 21 M windows)
            _ = self.store.masks
        return torch.utils.data.DataLoader(self, batch_size=self.batch_size,
                                           num_workers=num_workers, **kwargs)

    # -- epoch and position
    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch``: a new order from ``seed + epoch``, nothing skipped."""
        self.epoch, self._start, self._seen = _epoch(epoch), 0, 0

    def state_dict(self, samples_seen: int | None = None) -> dict[str, int]:
        """The position: epoch and samples of it already consumed by this rank.

        ``samples_seen`` counts the samples consumed since the epoch started; without it the
        dataset's own count is used (exact only with ``num_workers=0``).
        """
        seen = self._seen if samples_seen is None else int(samples_seen)
        return {"epoch": self.epoch, "yielded": seen}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Resume at ``state``: the next iteration yields the rest of that epoch."""
        self.epoch = _epoch(state["epoch"])
        self._start = self._seen = int(state["yielded"])


def _epoch(epoch: object) -> int:
    """``epoch`` checked: an integer >= 0 (it seeds numpy's generators with the seed)."""
    if not is_int(epoch) or epoch < 0:
        raise ValueError(f"epoch must be an integer >= 0, got {epoch!r}")
    return int(epoch)


class PairDataset(_StoreDataset):
    """Teacher/student pairs: ``{"hi", "lo", "hi_mask", "lo_mask", "aligned"}`` per sample.

    An epoch has one sample per mined pair. With probability ``aligned_fraction`` a sample is
    instead aligned: a good window (``level >= aligned_min_level``: the pair's teacher when it
    is good enough, else a good window drawn at random) as ``hi`` and a corrupted copy of it
    (``corrupt(x, fs, rng)``, default :func:`qualityfm.signal.corrupt`, re-normalised like the
    store) as ``lo``, so teacher and student tokens align in time. With probability
    ``modality_drop`` one of the student's channels is masked out and zeroed (only when it has
    more than one present). With ``augment`` each member of the pair is then augmented on its
    own (:func:`augment_window`). Random choices are seeded per sample from
    ``(seed, epoch, item)``.

    With ``feature_targets`` (one row per window: :func:`qualityfm.data.feature_targets`, or
    an array ``[n_windows, F]``) a sample also holds ``"lo_features"``: the targets of the
    window the student reads (for an aligned pair, of the clean window it is a corrupted copy
    of).
    """

    def __init__(
        self, store: Store | str | os.PathLike, *, shuffle: bool = True, seed: int = 0,
        aligned_fraction: float = 0.0, aligned_min_level: int = ALIGNED_MIN_LEVEL,
        corrupt: Corruptor | None = None, modality_drop: float = 0.0, augment: bool = False,
        rank: int | None = None, world_size: int | None = None, drop_last: bool = False,
        batch_size: int = 1, feature_targets: FeatureTargets | np.ndarray | None = None,
    ) -> None:
        super().__init__(store, shuffle=shuffle, seed=seed, rank=rank, world_size=world_size,
                         drop_last=drop_last, batch_size=batch_size)
        if feature_targets is not None and len(feature_targets) != self.store.n_windows:
            raise ValueError(f"feature_targets has {len(feature_targets)} rows; store "
                             f"{self.store.path} has {self.store.n_windows} windows")
        self.feature_targets = feature_targets
        for name, p in (("aligned_fraction", aligned_fraction), ("modality_drop", modality_drop)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {p}")
        self.aligned_fraction, self.modality_drop = aligned_fraction, modality_drop
        self.augment = augment
        self.aligned_min_level = aligned_min_level
        self.corrupt = corrupt or _default_corrupt
        self.pairs = self.store.pairs
        self._good = np.zeros(0, np.int64)
        if aligned_fraction > 0:
            self._good = np.flatnonzero(self.store.levels >= aligned_min_level)
            if not len(self._good):
                raise ValueError(
                    f"{self.store.path}: no window of level >= {aligned_min_level} for aligned "
                    "pairs; set aligned_fraction=0 (pretrain --aligned-fraction 0) or lower "
                    "PairDataset's aligned_min_level"
                )

    def _n_items(self) -> int:
        return len(self.pairs)

    def _sample(self, item: int, rng: np.random.Generator) -> dict[str, Any]:
        teacher, student = (int(i) for i in self.pairs[item])
        aligned = bool(rng.random() < self.aligned_fraction)
        if aligned:
            if self.store.levels[teacher] < self.aligned_min_level:
                teacher = int(self._good[rng.integers(len(self._good))])
            student = teacher  # the student reads a corrupted copy of the teacher's window
            hi, hi_mask = self.store.window(teacher)
            # the default corruptor hits present channels only (an absent one, zeroed again
            # below, had left the student the teacher's very window)
            held = {"present": hi_mask} if self.corrupt is _default_corrupt else {}
            lo = np.asarray(self.corrupt(hi.copy(), self.store.fs, rng, **held),
                            dtype=np.float32)
            if lo.shape != hi.shape or not np.isfinite(lo).all():  # named here, not in a batch
                got = f"shape {lo.shape}" if lo.shape != hi.shape else "NaN or inf"
                raise ValueError(f"PairDataset corrupt={getattr(self.corrupt, '__name__', '')!r}"
                                 f" returned {got} for a window of shape {hi.shape}: a "
                                 "corruptor returns a finite window of its input's shape")
            lo_mask = hi_mask.copy()
            lo = normalize(lo, lo_mask, self.store.meta["normalization"])
        else:
            hi, hi_mask = self.store.window(teacher)
            lo, lo_mask = self.store.window(student)
        if self.augment:  # each member on its own
            hi, lo = augment_window(hi, hi_mask, rng), augment_window(lo, lo_mask, rng)
        if self.modality_drop and rng.random() < self.modality_drop and lo_mask.sum() > 1:
            drop = int(rng.choice(np.flatnonzero(lo_mask)))
            lo_mask[drop] = False
            lo[drop] = 0.0
        sample = {
            "hi": torch.from_numpy(np.ascontiguousarray(hi, np.float32)),
            "lo": torch.from_numpy(np.ascontiguousarray(lo, np.float32)),
            "hi_mask": torch.from_numpy(hi_mask),
            "lo_mask": torch.from_numpy(lo_mask),
            "aligned": aligned,
        }
        if self.feature_targets is not None:
            sample["lo_features"] = torch.from_numpy(
                np.ascontiguousarray(self.feature_targets[student], np.float32))
        return sample


class WindowDataset(_StoreDataset):
    """Single windows: ``{"x": float32 [C, T], "mask": bool [C], "index": global window id}``.

    ``ids`` restricts the dataset to some windows (e.g. a level or a record: ids, or a boolean
    mask such as ``store.levels >= 3``); by default all.
    """

    def __init__(
        self, store: Store | str | os.PathLike, *, shuffle: bool = False, seed: int = 0,
        ids: np.ndarray | None = None, rank: int | None = None, world_size: int | None = None,
        drop_last: bool = False, batch_size: int = 1,
    ) -> None:
        super().__init__(store, shuffle=shuffle, seed=seed, rank=rank, world_size=world_size,
                         drop_last=drop_last, batch_size=batch_size)
        n = self.store.n_windows
        self.ids = np.arange(n, dtype=np.int64) if ids is None else self.store.window_ids(ids)
        if len(self.ids) and (self.ids.min() < 0 or self.ids.max() >= n):
            raise ValueError(f"ids must lie in [0, {n}) for store {self.store.path}")

    def _n_items(self) -> int:
        return len(self.ids)

    def _sample(self, item: int, rng: np.random.Generator) -> dict[str, Any]:
        i = int(self.ids[item])
        x, mask = self.store.window(i)
        return {"x": torch.from_numpy(x), "mask": torch.from_numpy(mask), "index": i}
