"""``read_record`` (one entry point for every format) and ``find_records``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from qualityfm.io.record import Record, RecordError
from qualityfm.io.table_reader import csv_has_time_column, read_csv, read_npy, read_npz
from qualityfm.io.vital_reader import read_vital
from qualityfm.io.wfdb_reader import is_record_header, read_wfdb

SUFFIXES = (".hea", ".vital", ".csv", ".npy", ".npz")


def read_record(
    path: str | Path,
    *,
    channels: Sequence[str] | None = None,
    start: float | None = None,
    stop: float | None = None,
    fs: float | None = None,
    channel_names: Sequence[str] | None = None,
) -> Record:
    """Read one record, dispatching on the file type (``.hea``, ``.vital``, ``.csv``,
    ``.npy``, ``.npz``; a WFDB record may also be named by its signal file or without suffix).

    ``channels`` selects canonical channels (``channels=[]`` reads only the metadata: ids,
    labels, events). ``start``/``stop`` are seconds from the record's first sample; only that
    span is read from disk where the format allows (all but ``.vital`` and ``.npz``).
    ``fs`` and ``channel_names`` describe files that lack them (CSV without time column or
    header, ``.npy``); where the file gives a rate, ``fs`` must agree with it.
    """
    path = Path(path)
    if path.suffix.lower() in (".dat", ".mat") or (not path.suffix and not path.exists()):
        path = path.with_suffix(".hea")
    if not path.is_file():
        raise RecordError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if channel_names is not None and suffix not in (".csv", ".npy"):
        raise ValueError(f"{path}: channel_names applies to .csv and .npy only; "
                         f"{suffix} files name their channels")
    if suffix == ".hea":
        return read_wfdb(path, channels, start, stop, fs)
    if suffix == ".vital":
        return read_vital(path, channels, start, stop, fs)
    if suffix == ".csv":
        return read_csv(path, channels, start, stop, fs, channel_names)
    if suffix == ".npy":
        return read_npy(path, channels, start, stop, fs, channel_names)
    if suffix == ".npz":
        return read_npz(path, channels, start, stop, fs)
    raise RecordError(f"{path}: unsupported file type {suffix!r} (known: {', '.join(SUFFIXES)})")


def find_records(path: str | Path) -> list[Path]:
    """Every readable record under a file or folder, sorted.

    One entry per WFDB header, leaving out the segment headers of multi-segment records and
    layout headers; ``.vital`` and ``.npz`` files; CSV files with a time column (BIDMC
    ``*_Signals.csv``, not ``*_Numerics.csv`` monitor numerics). A single file is returned as
    itself when it is a readable record (``.npy`` and time-less CSV included: the caller then
    passes ``fs`` and ``channel_names``).
    """
    path = Path(path)
    if not path.exists():
        raise RecordError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix.lower() == ".hea":
            return [path] if is_record_header(path)[0] else []
        return [path] if path.suffix.lower() in SUFFIXES else []
    found: list[Path] = []
    segments: set[Path] = set()
    for file in path.rglob("*"):
        suffix = file.suffix.lower()
        if suffix == ".hea":
            ok, segs = is_record_header(file)
            if ok:
                found.append(file)
            segments.update(file.parent / f"{s}.hea" for s in segs)
        elif suffix in (".vital", ".npz"):
            found.append(file)
        elif suffix == ".csv" and not file.stem.endswith("_Numerics"):
            if csv_has_time_column(file):
                found.append(file)
    return sorted(f for f in found if f not in segments and f.is_file())
