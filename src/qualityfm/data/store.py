"""The sharded window store: windows written once, pairs kept as index pairs.

Layout of a store folder (plain NumPy files, readable without this package)::

    STORE/
      meta.json                  fs, window seconds, channels, dtype, normalization, settings,
                                 counts, skipped records ({"record", "reason"}), shard sizes,
                                 inputs, input_records ({"count", "digest"} of every record
                                 key under the inputs, all parts together), stamps
                                 (a digest of the size and modification time of each
                                 record's files: a re-run names records changed since)
      shard-000000.x.npy         windows [K, C, T], float16 (or int16, see below)
      shard-000000.scale.npy     float32 [K, C], only for dtype int16
      shard-000000.index.npy     structured [K], one row per window (INDEX_FIELDS)
      shard-000001.x.npy ...     every shard holds ``shard_size`` windows but the last
      pairs.npy                  int64 [P, 2]: (teacher, student) window ids

Window ``i`` is row ``i % shard_size`` of shard ``i // shard_size``. The windows are normalised
(``meta["normalization"]``) and in channel order ``meta["channels"]``; a missing channel is zeros
with ``mask`` False. int16 windows decode as ``x.astype(float32) * scale[..., None] / 32767``.
Open them with ``np.load(path, mmap_mode="r")``.

Index fields: ``window_id`` (int64, id within this folder), ``record`` (int32, record number in
this folder; :class:`Store` makes both global over a store's parts), ``record_id``,
``patient_id``, ``source`` (str), ``start`` (float64, seconds from the record start),
``mask`` (bool [C]), ``ecg_q``, ``ppg_q``, ``q`` (float32 quality in [0, 1], NaN when the
modality is absent), ``level`` (int8, 0 bad ... 4 excellent).

Beside them ``journal.json`` while ``prepare`` runs (an interrupted run resumes from it), and
``features.npy`` with ``features.json`` once the window features are computed
(:mod:`qualityfm.data.features`).

A corpus prepared in parts (``--shard K/N``) is a folder of ``part-K-of-N/`` sub-folders, each
laid out as above. :class:`Store` reads them as one store: global window ids run through the
parts in order (part 0 first), pairs are shifted accordingly; pairs never cross parts since they
never cross records. Every part 0..N-1 must be complete and made with the same settings from the
same records (``meta["input_records"]``: the count and a digest of every record key under the
inputs; parts written before it existed are not compared), and the folder must hold no store of
its own: :class:`Store` refuses anything else, naming the part.

Every file is written to a temporary name in the same folder and then renamed (``os.replace``),
so a crash leaves either the old file or the new one, never half a file.
"""

from __future__ import annotations

import copy
import os
from collections import OrderedDict
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qualityfm._numbers import is_int
from qualityfm.io.atomic import atomic_write, read_json
from qualityfm.io.channels import MODEL_CHANNELS
from qualityfm.io.folders import STORE_PART, refuse_file_for_folder
from qualityfm.quality.score import SCORING_VERSION
from qualityfm.signal.nan import listed

#: Version of the store's layout (shards, index, meta.json); a store of a later one is refused.
FORMAT_VERSION = 1
META = "meta.json"
PAIRS = "pairs.npy"
JOURNAL = "journal.json"
FEATURES = "features.npy"
FEATURES_STAMP = "features.json"
_INT16_MAX = 32767.0
FLOAT16_MAX = float(np.finfo(np.float16).max)  # 65504
MAX_OPEN_SHARDS = 128  # memory maps a Store keeps open per process (each holds a file)

#: Widths of the index's string fields (characters).
_STR_WIDTH = {"record_id": 64, "patient_id": 64, "source": 256}


def index_dtype(n_channels: int) -> np.dtype:
    """The structured dtype of a shard index for ``n_channels`` channels."""
    return np.dtype([
        ("window_id", "<i8"),
        ("record", "<i4"),
        ("record_id", f"<U{_STR_WIDTH['record_id']}"),
        ("patient_id", f"<U{_STR_WIDTH['patient_id']}"),
        ("source", f"<U{_STR_WIDTH['source']}"),
        ("start", "<f8"),
        ("mask", "?", (n_channels,)),
        ("ecg_q", "<f4"),
        ("ppg_q", "<f4"),
        ("q", "<f4"),
        ("level", "i1"),
    ])


def shard_name(i: int, kind: str) -> str:
    """File name of shard ``i``'s ``kind`` array (``x``, ``scale`` or ``index``)."""
    return f"shard-{i:06d}.{kind}.npy"


def part_name(k: int, n: int) -> str:
    """The folder name of a store's part ``k`` of ``n`` (``prepare --shard k/n``)."""
    return f"part-{k}-of-{n}"


# ----------------------------------------------------------------------------- atomic writes
def save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    atomic_write(path, lambda f: np.save(f, array, allow_pickle=False))


# ----------------------------------------------------------------------------- encoding
def float16_overflow(x: np.ndarray) -> np.ndarray:
    """bool ``[C]``: the channels of windows ``x`` ``[K, C, T]`` holding a value that float16
    cannot store (magnitude above 65504)."""
    if x.size == 0:
        return np.zeros(x.shape[1] if x.ndim == 3 else 0, bool)
    return np.abs(x).max(axis=(0, 2)) > FLOAT16_MAX


def encode_windows(x: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray | None]:
    """float32 windows ``[K, C, T]`` to the stored dtype (and, for int16, the scale ``[K, C]``).

    float16 refuses values past its range (they would be stored as inf)."""
    if dtype == "float16":
        over = float16_overflow(x)
        if over.any():
            raise ValueError(f"window values up to {float(np.abs(x).max()):.6g} in channel(s) "
                             f"{np.flatnonzero(over).tolist()} pass float16's range "
                             f"({FLOAT16_MAX:g}); store them with dtype int16")
        return x.astype(np.float16), None
    if dtype == "int16":
        scale = np.abs(x).max(axis=-1).astype(np.float32)
        scale[scale == 0] = 1.0
        q = np.rint(x / scale[..., None] * _INT16_MAX)
        return np.clip(q, -_INT16_MAX, _INT16_MAX).astype(np.int16), scale
    raise ValueError(f"store dtype must be 'float16' or 'int16', got {dtype!r}")


def decode_windows(x: np.ndarray, scale: np.ndarray | None) -> np.ndarray:
    """Stored windows back to float32 ``[K, C, T]``."""
    out = np.asarray(x, dtype=np.float32)
    if scale is not None:
        out = out * (np.asarray(scale, dtype=np.float32)[..., None] / _INT16_MAX)
    return out


# ----------------------------------------------------------------------------- writing
class ShardWriter:
    """Appends windows to fixed-size shards in ``folder``; each full shard is written at once.

    ``append`` buffers windows; when ``shard_size`` are buffered the shard is written (atomically)
    and ``on_flush`` is called, so a caller can journal its progress. ``finish`` writes the last,
    partial shard. ``n_written`` counts windows on disk.
    """

    def __init__(
        self, folder: Path, n_channels: int, n_samples: int, *, dtype: str = "float16",
        shard_size: int = 2048, n_written: int = 0,
    ) -> None:
        self.check_settings(dtype, shard_size)
        if n_written % shard_size:
            raise ValueError(f"n_written={n_written} is not a multiple of shard_size={shard_size}")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.n_channels, self.n_samples = n_channels, n_samples
        self.dtype, self.shard_size = dtype, shard_size
        self.n_written = n_written
        self._x: list[np.ndarray] = []
        self._index: list[np.ndarray] = []
        self._buffered = 0

    @staticmethod
    def check_settings(dtype: str, shard_size: int) -> None:
        """Raise ValueError unless ``dtype`` is a store dtype and ``shard_size`` >= 1."""
        if not (is_int(shard_size) and shard_size >= 1):  # 16.5 had failed mid-write
            raise ValueError(f"shard_size must be a whole number >= 1, got {shard_size!r}")
        encode_windows(np.zeros((0, 1, 1), np.float32), dtype)  # validates dtype

    @property
    def n_total(self) -> int:
        """Windows appended so far (written or buffered): the id the next window gets."""
        return self.n_written + self._buffered

    def append(self, x: np.ndarray, index: np.ndarray) -> list[int]:
        """Add windows ``x`` [N, C, T] with their index rows; returns the shards written."""
        if x.shape[1:] != (self.n_channels, self.n_samples) or len(index) != len(x):
            raise ValueError(
                f"windows of shape {x.shape} with {len(index)} index rows do not fit a store of "
                f"[*, {self.n_channels}, {self.n_samples}]"
            )
        written = []
        pos = 0
        while pos < len(x):
            take = min(self.shard_size - self._buffered, len(x) - pos)
            self._x.append(x[pos:pos + take])
            self._index.append(index[pos:pos + take])
            self._buffered += take
            pos += take
            if self._buffered == self.shard_size:
                written.append(self._flush())
        return written

    def finish(self) -> int:
        """Write the last (partial) shard, if any; returns the number of shards."""
        if self._buffered:
            self._flush()
        return -(-self.n_written // self.shard_size)

    def _flush(self) -> int:
        shard = self.n_written // self.shard_size
        x = np.concatenate(self._x)
        index = np.concatenate(self._index)
        index["window_id"] = np.arange(self.n_written, self.n_written + len(x))
        data, scale = encode_windows(x, self.dtype)
        if scale is not None:
            save_npy(self.folder / shard_name(shard, "scale"), scale)
        save_npy(self.folder / shard_name(shard, "x"), data)
        save_npy(self.folder / shard_name(shard, "index"), index)
        self.n_written += len(x)
        self._x, self._index, self._buffered = [], [], 0
        return shard


# ----------------------------------------------------------------------------- reading
def list_parts(path: Path) -> list[tuple[int, int, Path]]:
    """``(k, n, folder)`` of every ``part-K-of-N`` folder in ``path``, complete or not, sorted."""
    if not path.is_dir():
        return []
    found = ((STORE_PART.match(child.name), child) for child in path.iterdir() if child.is_dir())
    return sorted((int(m.group(1)), int(m.group(2)), child) for m, child in found if m)


#: Settings in which the parts of one store may differ: the part, and windows per shard file.
PART_SETTINGS = ("shard", "shard_size")


def settings_difference(
    a: dict[str, Any], b: dict[str, Any], ignore: Collection[str] = PART_SETTINGS
) -> tuple[str, Any, Any] | None:
    """The first setting (``meta["settings"]``, nested keys dotted) in which ``a`` and ``b``
    differ, as ``(key, value in a, value in b)``; None when they agree but for the top-level
    keys in ``ignore`` (by default those in which two parts of a store may differ)."""
    for key in sorted((set(a) | set(b)) - set(ignore)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            inner = settings_difference(va, vb, ignore=())
            if inner is not None:
                return (f"{key}.{inner[0]}", *inner[1:])
        elif va != vb:
            return key, va, vb
    return None


def records_phrase(meta: dict[str, Any]) -> str:
    """``N records under A, B`` from a ``meta.json`` (or journal): how many records its inputs
    held (every part's, see ``input_records``) and the inputs as given."""
    shown = listed(meta.get("inputs") or [], 3)
    count = (meta.get("input_records") or {}).get("count")
    return f"{'' if count is None else f'{count} '}records under {shown or '(not recorded)'}"


def records_differ(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two ``meta.json`` (or journals) were made from other records: their
    ``input_records`` differ. False when either predates that field."""
    ra, rb = a.get("input_records"), b.get("input_records")
    return ra is not None and rb is not None and ra != rb


def _part_folders(path: Path) -> list[Path]:
    """The folders holding a ``meta.json`` that make up the store at ``path``, in part order."""
    refuse_file_for_folder(path, "a store")
    parts = list_parts(path)
    if (path / META).is_file():
        if parts:
            names = ", ".join(folder.name for _, _, folder in parts)
            raise ValueError(f"{path}: holds both a store ({META}) and part folders ({names}); "
                             "move the parts or the store to a folder of their own")
        return [path]
    if not parts:
        hint = (f"; an interrupted prepare left {JOURNAL} here: re-running the same qualityfm "
                "prepare command resumes it" if (path / JOURNAL).is_file() else "")
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such folder")
        raise FileNotFoundError(f"{path}: not a store (no {META} and no part-K-of-N folder)"
                                + hint)
    totals = sorted({n for _, n, _ in parts})
    if len(totals) > 1:
        raise ValueError(f"{path}: parts of different splits {totals} in one folder")
    n = totals[0]
    folders = [path / part_name(k, n) for k in range(n)]
    bad = [k for k, folder in enumerate(folders) if not (folder / META).is_file()]
    if bad:
        def state(folder: Path) -> str:
            if not folder.is_dir():
                return "is missing"
            if (folder / JOURNAL).is_file():
                return "is unfinished (its prepare was interrupted)"
            return f"is unfinished (no {META})"

        what = "; ".join(f"{folders[k].name} {state(folders[k])}" for k in bad)
        runs = ", ".join(f"--shard {k}/{n}" for k in bad)
        raise ValueError(f"{path}: a store in {n} parts, but {what}; re-running qualityfm "
                         f"prepare {runs} into this folder, with the inputs and settings of the "
                         "other parts, writes or finishes it")
    return folders


def _load(path: Path, mmap: bool = False) -> np.ndarray:
    """A store file (memory-mapped with ``mmap``); a truncated or damaged one is a ValueError
    naming it, a missing one a FileNotFoundError naming it and the way to write it again."""
    try:
        return np.load(path, mmap_mode="r" if mmap else None)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{path}: a file of the store is missing; qualityfm prepare "
                                "--overwrite writes the store again") from err
    except PermissionError:
        raise
    except (ValueError, OSError, EOFError) as err:  # (NumPy's text on a file of objects
        # invites loading it with allow_pickle: not said)
        objects = "allow_pickle" in str(err) or "Python objects" in str(err)
        why = "objects, not numbers" if objects else err
        raise ValueError(f"{path}: truncated or damaged store file ({why}); qualityfm prepare "
                         "--overwrite writes the store again") from err


def _checked_pairs(part: StorePart) -> np.ndarray:
    """A part's ``pairs.npy``: integer window ids ``[n_pairs, 2]`` of its own windows, as its
    ``meta.json`` says, or a ValueError naming the file (another array written there)."""
    path = part.folder / PAIRS
    pairs = _load(path)
    n = int(part.meta["n_pairs"])
    if (pairs.dtype.kind not in "iu" or pairs.size != 2 * n
            or (pairs.size and not 0 <= pairs.min() <= pairs.max() < part.n_windows)):
        raise ValueError(f"{path}: not this store's pairs (meta.json: {n} pairs of "
                         f"{part.n_windows} windows; the file holds {pairs.dtype} "
                         f"{tuple(pairs.shape)}); prepare the store again")
    return pairs.reshape(-1, 2)


def read_store_json(path: Path) -> dict[str, Any]:
    """A store's JSON file (``meta.json``, the journal); a truncated or damaged one is a
    ValueError naming it, a missing one a FileNotFoundError."""
    return read_json(path, "store file", "prepare the store again (--overwrite)")


class StorePart:
    """One folder of shards (a part of a store prepared with --shard K/N, or the whole store)."""

    def __init__(self, folder: Path, offset: int, record_offset: int = 0) -> None:
        self.folder = folder
        self.meta = read_store_json(folder / META)
        self.offset = offset  # its first window's and first record's numbers in the store
        self.record_offset = record_offset
        version = self.meta.get("format_version", FORMAT_VERSION)  # before the fields, which
        if is_int(version) and version > FORMAT_VERSION:  # a later layout may name otherwise
            raise ValueError(f"{folder / META}: a store of layout version {version}; this "
                             f"qualityfm reads version {FORMAT_VERSION}: read it with the "
                             "qualityfm that wrote it, or prepare it again (--overwrite)")
        try:  # a field of the wrong type had been a bare "invalid literal for int()"
            if not (is_int(version) and version >= 1):
                raise ValueError(f"format_version {version!r} is no layout version")
            self.n_windows = int(self.meta["n_windows"])
            self.shard_size = int(self.meta["shard_size"])
            self.n_shards = int(self.meta["n_shards"])
            # the fields every read takes (a missing one had been a KeyError traceback)
            int(self.meta["n_samples"]), int(self.meta["n_records"]), int(self.meta["n_pairs"])
            float(self.meta["fs"]), np.dtype(self.meta["dtype"])
            float(self.meta["seconds"]), str(self.meta["normalization"])
            for name in ("channels", "skipped"):
                if not isinstance(self.meta[name], list):
                    raise TypeError(f"{name} {self.meta[name]!r} is no list")
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{folder / META}: truncated or damaged store file (its fields: "
                             f"{type(err).__name__} {err}); qualityfm prepare --overwrite "
                             "writes the store again") from None

    def rows(self, s: int) -> int:
        """Windows shard ``s`` holds: ``shard_size``, the last shard the rest."""
        return min(self.shard_size, self.n_windows - s * self.shard_size)

    def shard_file(self, s: int, kind: str, mmap: bool = False) -> np.ndarray:
        """Shard ``s``'s file of ``kind`` (x, scale, index), its row count checked against
        ``meta.json`` (a file of another shard copied there had read as this one: a short
        index shifted every later window's level and mask), or a ValueError naming it."""
        path = self.folder / shard_name(s, kind)
        a = _load(path, mmap=mmap)
        if a.ndim == 0 or len(a) != self.rows(s):
            raise ValueError(f"{path}: holds {len(a) if a.ndim else 0} windows, shard {s} of "
                             f"this part holds {self.rows(s)} (meta.json): a damaged or foreign "
                             "shard; prepare the store again (--overwrite)")
        if kind == "index":  # its window ids (another shard's index of as many rows had
            # given each window another record's level and mask)
            first = s * self.shard_size
            ids = a["window_id"] if a.dtype.names and "window_id" in a.dtype.names else None
            if ids is None or not np.array_equal(ids, np.arange(first, first + len(a))):
                got = "no window ids" if ids is None else (
                    f"windows {int(ids[0])}..{int(ids[-1])}" if len(ids) else "no window")
                raise ValueError(f"{path}: holds {got}, shard {s} of this part windows "
                                 f"{first}..{first + len(a) - 1}: a damaged or foreign shard; "
                                 "prepare the store again (--overwrite)")
        return a


class Store:
    """A prepared store (one folder, or a folder of ``part-K-of-N`` folders) read as one.

    Windows are read from memory maps opened lazily in each process; a ``Store`` pickles without
    them, so it can be handed to DataLoader workers.
    """

    _SAME = ("fs", "seconds", "channels", "n_samples", "dtype", "normalization")

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        folders = _part_folders(self.path)
        self.parts: list[StorePart] = []
        offset = records = 0
        for folder in folders:
            part = StorePart(folder, offset, records)
            named = STORE_PART.match(folder.name) if folder != self.path else None
            # [k, n] of the prepare run that wrote it (None: a whole store; absent: a store
            # from before parts were recorded)
            held = part.meta.get("part", "unrecorded")
            if named and held != "unrecorded" and (held is None or list(held) != [
                    int(named.group(1)), int(named.group(2))]):
                what = ("a whole store (prepared without --shard)" if held is None
                        else f"part {held[0]}/{held[1]} of a store")
                raise ValueError(f"{folder}: holds {what}, not the part its name says (its "
                                 "windows had been read twice beside the parts); copy each "
                                 "part-K-of-N folder as it was written")
            offset += part.n_windows
            records += int(part.meta["n_records"])
            self.parts.append(part)
        self.meta = self.parts[0].meta
        scored = [p for p in self.parts if p.n_windows]  # a part of no window holds no score
        for part in scored[1:]:
            rules = part.meta.get("scoring_version"), scored[0].meta.get("scoring_version")
            if rules[0] != rules[1]:  # levels, and so pairs, by two rules
                raise ValueError(f"{part.folder}: scored by the quality rules of version "
                                 f"{rules[0]}, {scored[0].folder} by version {rules[1]}; "
                                 "prepare every part with one qualityfm (--overwrite)")
        #: The quality rules its levels and pairs follow: those of its parts holding windows
        #: (an empty part 0's had been said), None where an older qualityfm recorded none.
        self.scoring_version = (scored or self.parts)[0].meta.get("scoring_version")
        for part in self.parts[1:]:
            for key in self._SAME:
                if part.meta[key] != self.meta[key]:
                    raise ValueError(
                        f"{part.folder}: {key}={part.meta[key]!r} differs from "
                        f"{self.parts[0].folder}: {self.meta[key]!r}"
                    )
            diff = settings_difference(part.meta.get("settings", {}),
                                       self.meta.get("settings", {}))
            if diff is not None:
                key, here, there = diff
                raise ValueError(f"{part.folder}: {key}={here!r} differs from "
                                 f"{self.parts[0].folder}: {there!r}")
            if records_differ(part.meta, self.meta):
                raise ValueError(f"{part.folder}: made from {records_phrase(part.meta)}, "
                                 f"{self.parts[0].folder} from {records_phrase(self.meta)}; "
                                 "prepare every part from the same inputs")
        self.n_windows = offset
        self._part_starts = np.array([p.offset for p in self.parts], dtype=np.int64)
        self._maps: OrderedDict[tuple[int, int], tuple[np.ndarray, np.ndarray | None]] = \
            OrderedDict()
        self._index: np.ndarray | None = None
        self._pairs: np.ndarray | None = None
        self._levels: np.ndarray | None = None
        self._masks: np.ndarray | None = None

    # -- metadata
    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self.meta["channels"])

    @property
    def fs(self) -> float:
        return float(self.meta["fs"])

    @property
    def n_samples(self) -> int:
        return int(self.meta["n_samples"])

    @property
    def n_records(self) -> int:
        return sum(int(p.meta["n_records"]) for p in self.parts)

    @property
    def skipped(self) -> list[dict[str, str]]:
        return [s for p in self.parts for s in p.meta["skipped"]]

    @property
    def passed_over(self) -> list[dict[str, str]]:
        """Files in the input folders that are no record (part 0 of a sharded store lists
        them; stores of earlier versions list none)."""
        return [s for p in self.parts for s in p.meta.get("passed_over", [])]

    def __len__(self) -> int:
        return self.n_windows

    def __repr__(self) -> str:
        return (f"Store({str(self.path)!r}, windows={self.n_windows}, pairs={self.n_pairs}, "
                f"parts={len(self.parts)})")

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_maps"] = OrderedDict()
        state["_index"] = None
        state["_pairs"] = None
        return state

    # -- tables
    @property
    def index(self) -> np.ndarray:
        """The index of every window (structured, see the module doc), with global window ids
        and record numbers (each part's own had repeated across parts: grouped by them, the
        windows of different records had been one record's)."""
        if self._index is None:
            tables = []
            for part in self.parts:
                for s in range(part.n_shards):
                    t = part.shard_file(s, "index")
                    t["window_id"] += part.offset
                    t["record"] += part.record_offset
                    tables.append(t)
            n_ch = len(self.channels)
            self._index = np.concatenate(tables) if tables else np.zeros(0, index_dtype(n_ch))
        return self._index

    @property
    def pairs(self) -> np.ndarray:
        """int64 ``[P, 2]`` (teacher, student) global window ids."""
        if self._pairs is None:
            arrays = [_checked_pairs(p) + p.offset for p in self.parts]
            self._pairs = np.concatenate(arrays).astype(np.int64).reshape(-1, 2)
        return self._pairs

    @property
    def n_pairs(self) -> int:
        return sum(int(p.meta["n_pairs"]) for p in self.parts)

    def field(self, name: str) -> np.ndarray:
        """One index field of every window, read shard by shard from memory maps (the whole
        index is not loaded)."""
        if self._index is not None:
            return np.ascontiguousarray(self._index[name])
        cols = [np.array(part.shard_file(s, "index", mmap=True)[name])
                for part in self.parts for s in range(part.n_shards)]
        if name in ("window_id", "record"):  # global, as in index (they had been each
            starts = [part.offset if name == "window_id" else part.record_offset  # part's own)
                      for part in self.parts for _ in range(part.n_shards)]
            cols = [c + start for c, start in zip(cols, starts, strict=True)]
        if cols:
            return np.concatenate(cols)
        return np.zeros((0, *index_dtype(len(self.channels))[name].shape),
                        index_dtype(len(self.channels))[name].base)

    @property
    def levels(self) -> np.ndarray:
        """int8 ``[N]`` quality level of every window."""
        if self._levels is None:
            self._levels = self.field("level")
        return self._levels

    @property
    def masks(self) -> np.ndarray:
        """bool ``[N, C]`` channel mask of every window."""
        if self._masks is None:
            self._masks = self.field("mask").reshape(-1, len(self.channels))
        return self._masks

    # -- windows
    def _locate(self, i: int) -> tuple[int, int, int]:
        if not 0 <= i < self.n_windows:
            raise IndexError(f"window {i} out of range for a store of {self.n_windows} windows")
        p = int(np.searchsorted(self._part_starts, i, side="right")) - 1
        local = i - self.parts[p].offset
        size = self.parts[p].shard_size
        return p, local // size, local % size

    def _shard(self, p: int, s: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Shard ``s`` of part ``p``: its memory map (and int16 scale). The last
        :data:`MAX_OPEN_SHARDS` used stay open, so a store of thousands of shards does not
        exhaust the process's open files."""
        key = (p, s)
        if key in self._maps:
            self._maps.move_to_end(key)
        else:
            while len(self._maps) >= MAX_OPEN_SHARDS:
                self._maps.popitem(last=False)
            part = self.parts[p]
            x = part.shard_file(s, "x", mmap=True)
            if x.ndim != 3 or x.shape[1:] != (len(self.channels), self.n_samples):
                raise ValueError(f"{part.folder / shard_name(s, 'x')}: windows of shape "
                                 f"{x.shape[1:]}, the store's are "
                                 f"{(len(self.channels), self.n_samples)}: a damaged or foreign "
                                 "shard")
            if x.dtype != np.dtype(self.meta["dtype"]):  # (int16 samples of another store had
                # been read as float16 windows' values, up to 32767)
                raise ValueError(f"{part.folder / shard_name(s, 'x')}: samples of {x.dtype}, "
                                 f"the store's are {self.meta['dtype']}: a damaged or foreign "
                                 "shard")
            scale_path = part.folder / shard_name(s, "scale")
            scale = part.shard_file(s, "scale") if self.meta["dtype"] == "int16" else None
            if scale is None and scale_path.exists():
                raise ValueError(f"{scale_path}: scale file in a {self.meta['dtype']} store")
            self._maps[key] = (x, scale)
        return self._maps[key]

    def check_model_channels(self) -> None:
        """Refuse windows that are not in ``MODEL_CHANNELS`` order (a store prepared with other
        ``WindowConfig.channels``): the network and the classical features read them by
        position, and a PPG read as ECG II had trained without a word."""
        if self.channels != MODEL_CHANNELS:
            raise ValueError(f"{self.path}: windows of channels {', '.join(self.channels)}; the "
                             f"network and its classical features read "
                             f"{', '.join(MODEL_CHANNELS)} in that order (prepare's default "
                             "WindowConfig.channels)")

    def check_shards(self, p: int) -> None:
        """Open every shard of part ``p`` (memory maps: no sample read): a truncated, damaged
        or foreign one is a ValueError naming it."""
        for s in range(self.parts[p].n_shards):
            self._shard(p, s)

    def _samples(self, i: int) -> np.ndarray:
        """Window ``i``'s samples, float32 ``[C, T]``."""
        p, s, r = self._locate(i)
        x, scale = self._shard(p, s)
        return decode_windows(x[r:r + 1], None if scale is None else scale[r:r + 1])[0]

    def window(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Window ``i`` as float32 ``[C, T]`` and its channel mask bool ``[C]``."""
        return self._samples(int(i)), self.mask(i)

    def mask(self, i: int) -> np.ndarray:
        """Channel mask bool ``[C]`` of window ``i``."""
        self._locate(int(i))  # -1 had read the last window's mask, as window(-1) refuses
        return self.masks[int(i)].copy()

    def window_ids(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """``ids`` as int64 global window ids: whole numbers, or a boolean mask of every
        window (``store.levels >= 3``; cast to ids, it had read windows 0 and 1 alone)."""
        ids = np.asarray(ids)
        if ids.dtype == np.bool_:
            if ids.shape != (self.n_windows,):
                raise ValueError(f"a boolean mask of windows needs one value per window "
                                 f"({self.n_windows}), got shape {list(ids.shape)}")
            return np.flatnonzero(ids)
        if ids.ndim != 1 or ids.size and ids.dtype.kind not in "iu":
            raise ValueError(f"window ids must be a 1-D array of whole numbers (or a boolean "
                             f"mask), got shape {list(ids.shape)} and dtype {ids.dtype}")
        return ids.astype(np.int64)

    def windows(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """float32 ``[len(ids), C, T]`` for the given global ids or boolean mask
        (:meth:`window_ids`)."""
        ids = self.window_ids(ids)
        out = np.empty((len(ids), len(self.channels), self.n_samples), np.float32)
        for pos, i in enumerate(ids):
            out[pos] = self._samples(int(i))
        return out

    def without_tables(self) -> Store:
        """A shallow copy that pickles small: no index, pairs, levels or masks (they reload
        on use), for sending to a process with every task."""
        light = copy.copy(self)
        light._maps = OrderedDict()
        light._index = light._pairs = light._levels = light._masks = None
        return light


def scoring_note(rules: object) -> str:
    """What a store scored by the quality rules of version ``rules`` (not this qualityfm's;
    None: unrecorded) means: its levels, and so its pairs, follow those rules."""
    which = (f"version {rules}" if rules is not None else
             "a version from before versions were recorded (under 2)")
    remedy = ("read it with the qualityfm that wrote it" if is_int(rules)
              and rules > SCORING_VERSION else "qualityfm prepare --overwrite scores it again")
    return (f"scored by the quality rules of {which} (this qualityfm's: {SCORING_VERSION}): "
            f"its levels and pairs follow those; {remedy}")


def store_info(path: str | os.PathLike) -> dict[str, Any]:
    """Summary of a store: counts, windows per quality level, skipped records (and the files
    its input folders held that are no record), parts; a window file shorter than its header
    says, a shard file of another row count than ``meta.json``'s, windows of another shape
    or dtype, an index of other window ids or a ``pairs.npy`` that is not the part's is a
    ValueError naming it, as pre-training would find it."""
    store = Store(path)
    for p, part in enumerate(store.parts):  # each shard file's header against its size,
        # rows, shape and dtype, each index's window ids: no samples read
        store.check_shards(p)
        for s in range(part.n_shards):
            part.shard_file(s, "index", mmap=True)
        _checked_pairs(part)
    names = store.meta.get("level_names") or [str(i) for i in range(5)]
    counts = np.bincount(store.levels.astype(np.int64), minlength=len(names))
    rules = store.scoring_version
    return {
        "path": str(store.path),
        "n_records": store.n_records,
        "n_windows": store.n_windows,
        "n_pairs": store.n_pairs,
        "levels": {name: int(c) for name, c in zip(names, counts, strict=False)},
        # the quality rules its levels and pairs follow (an older store had said nothing)
        "scoring_version": rules,
        **({"scoring_note": scoring_note(rules)} if rules != SCORING_VERSION else {}),
        "n_rejected_windows": sum(int(p.meta.get("n_rejected_windows", 0))
                                  for p in store.parts),
        "skipped": store.skipped,
        "passed_over": store.passed_over,
        "parts": [str(p.folder.relative_to(store.path)) for p in store.parts],
        "fs": store.fs,
        "seconds": store.meta["seconds"],
        "channels": list(store.channels),
        "dtype": store.meta["dtype"],
        "normalization": store.meta["normalization"],
        "bytes": sum(f.stat().st_size for p in store.parts for f in p.folder.glob("*.npy")),
    }
