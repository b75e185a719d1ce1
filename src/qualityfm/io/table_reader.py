"""Tables of samples: CSV (BIDMC ``*_Signals.csv`` and plain), NumPy ``.npy`` and ``.npz``."""

from __future__ import annotations

import re
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from qualityfm.io.base import patient_from_path, sample_span, select_channels
from qualityfm.io.channels import canonical_names
from qualityfm.io.record import Record, RecordError

_BIDMC = re.compile(r"^(bidmc_\d+)_Signals$")
_TIME = re.compile(r"^(time|t|timestamp|seconds|sec|elapsed time)\s*([\[(]\s*(s|sec|ms)\s*[\])])?$")
_UNIT = re.compile(r"^(.*?)\s*[\[(]\s*([^\[\]()]+?)\s*[\])]$")
#: Rows read to estimate the rate from a time column before a span is read.
_HEAD_ROWS = 2048


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _time_scale(name: str) -> float | None:
    """Seconds per unit of a time column's values, or None when ``name`` is no time column."""
    match = _TIME.match(name.strip().lower())
    if match is None:
        return None
    return 1e-3 if match.group(3) == "ms" else 1.0


def _split_unit(name: str) -> tuple[str, str]:
    """``"II [mV]" -> ("II", "mV")``; ``"PLETH" -> ("PLETH", "")``."""
    match = _UNIT.match(name.strip())
    return (match.group(1), match.group(2)) if match else (name.strip(), "")


def csv_has_time_column(path: Path) -> bool:
    """Whether a CSV's first line names a time column (a cheap test for ``find_records``)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            first = f.readline()
    except OSError:
        return False
    return any(_time_scale(c) is not None for c in first.split(","))


def _printed_resolution(t: np.ndarray) -> float:
    """The rounding step of printed time stamps (``0.01`` for ``100.02``), at most 1 s."""
    for k in range(10):
        scaled = t * 10.0**k
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6 + 1e-9 * np.abs(scaled)):
            return 10.0**-k
    return 0.0


def _csv_rate(t: np.ndarray, offset: int, t_first: float, fs: float | None, path: Path) -> float:
    """The rate of time stamps ``t`` (rows ``offset``.. of a file whose first row is at
    ``t_first``), checked for regularity and against an explicit ``fs``."""
    idx = offset + np.arange(len(t))
    span = float(t[-1] - t_first)
    if idx[-1] == 0 or span <= 0:
        if fs is None:
            raise RecordError(f"{path}: a time column needs two increasing rows to give a rate")
        return float(fs)
    fitted = idx[-1] / span
    if fs is not None:
        rate = float(fs)
    else:  # a whole rate when the stamps are within 0.1 % of one (they are printed rounded)
        rate = float(round(fitted)) if abs(fitted - round(fitted)) < 1e-3 * fitted else fitted
    resolution = _printed_resolution(t)
    # half a sample plus the printing's rounding, but less than a whole sample
    tolerance = (0.5 + min(0.5 * resolution * rate, 0.49)) / rate if rate > 0 else 0.0
    if rate > 0 and np.abs(t - (t_first + idx / rate)).max() <= tolerance:
        return rate
    if fs is not None:
        raise RecordError(
            f"{path}: fs={fs} Hz disagrees with the time column (about {fitted:.6g} Hz)"
        )
    steps = np.diff(t) if len(t) > 1 else np.array([span])
    raise RecordError(
        f"{path}: irregular time column: steps from {steps.min():.6g} to {steps.max():.6g} s "
        f"(about {fitted:.6g} Hz on average)"
    )


def read_csv(
    path: Path,
    channels: Sequence[str] | None = None,
    start: float | None = None,
    stop: float | None = None,
    fs: float | None = None,
    channel_names: Sequence[str] | None = None,
) -> Record:
    """Read a CSV of samples, one column per channel, with a time column or an explicit ``fs``.

    A time column (``Time [s]``, ``time``, ``t [ms]``...) gives the rate, which must be regular
    and agree with ``fs`` when both are given. Column names (stray spaces stripped, a unit in
    brackets split off) or ``channel_names`` name the channels. BIDMC ``bidmc_NN_Signals.csv``
    gets record and patient id ``bidmc_NN`` and units ``NU`` (its values are scaled); other files
    take the file name as both ids (they name no patient). Only the rows of the span are parsed.
    """
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            first = f.readline()
    except OSError as e:
        raise RecordError(f"{path}: cannot open ({e})") from e
    cells = [c.strip() for c in first.rstrip("\r\n").split(",")]
    if not first.strip():
        raise RecordError(f"{path}: empty record (empty file)")
    has_header = not all(_is_number(c) for c in cells)
    time_col = next((i for i, c in enumerate(cells) if _time_scale(c) is not None), None)
    if not has_header:
        time_col = None
    data_cols = [i for i in range(len(cells)) if i != time_col]
    pairs = [_split_unit(cells[i]) for i in data_cols] if has_header else []
    labels, units = [p[0] for p in pairs], [p[1] for p in pairs]
    if channel_names is not None:
        if len(channel_names) != len(data_cols):
            raise RecordError(
                f"{path}: {len(channel_names)} channel_names for {len(data_cols)} data columns"
            )
        labels = list(channel_names)
    elif not has_header:
        raise RecordError(f"{path}: no header line; pass channel_names")
    if time_col is None and fs is None:
        raise RecordError(f"{path}: no time column; pass fs")

    bidmc = _BIDMC.match(path.stem)
    record_id = bidmc.group(1) if bidmc else path.stem
    names = canonical_names(list(labels))
    picked = select_channels(names, channels, path)
    if not picked:  # channels=[]: the names only
        return Record(record_id, {}, {}, patient_id=record_id if bidmc else
                      patient_from_path(path, record_id), source=str(path))
    skip = int(has_header)
    rate = float(fs) if fs is not None else 0.0
    t_first = 0.0
    scale = 1.0
    if time_col is not None:
        scale = _time_scale(cells[time_col]) or 1.0
        head = _parse(path, [time_col], skip, _HEAD_ROWS, {})
        if len(head) == 0:
            raise RecordError(f"{path}: empty record (no rows)")
        t_head = head[time_col].to_numpy(np.float64) * scale
        t_first = float(t_head[0])
        rate = _csv_rate(t_head, 0, t_first, fs, path)
    i0, i1 = sample_span(start, stop, rate, sys.maxsize, path)
    cols = ([time_col] if time_col is not None else []) + [data_cols[i] for i in picked]
    nrows = None if i1 == sys.maxsize else i1 - i0
    table = _parse(path, cols, skip + i0, nrows, {data_cols[i]: np.float32 for i in picked})
    if len(table) == 0:
        raise RecordError(
            f"{path}: empty record (no rows)" if i0 == 0
            else f"{path}: span {start}..{stop} s lies outside the record"
        )
    if time_col is not None:
        t = table[time_col].to_numpy(np.float64) * scale
        rate = _csv_rate(t, i0, t_first, fs, path)
    signals = {names[i]: np.ascontiguousarray(table[data_cols[i]].to_numpy(np.float32))
               for i in picked}
    unit_of = {names[i]: ("NU" if bidmc else units[i] if units else "") for i in picked}
    return Record(
        record_id=record_id,
        signals=signals,
        fs={n: rate for n in signals},
        units=unit_of,
        patient_id=record_id if bidmc else patient_from_path(path, record_id),
        source=str(path),
        start_time=i0 / rate,
    )


def _parse(
    path: Path, cols: list[int], skip: int, nrows: int | None, dtypes: dict[int, type]
) -> pd.DataFrame:
    """Rows ``skip``.. (``nrows`` of them) of the columns ``cols`` of a CSV, numbers only."""
    if not cols:
        return pd.DataFrame(index=range(0))
    try:
        return pd.read_csv(
            path, header=None, skiprows=skip, nrows=nrows, usecols=cols, dtype=dtypes,
            skipinitialspace=True, engine="c",
        )
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=cols)
    except (ValueError, pd.errors.ParserError) as e:
        raise RecordError(f"{path}: corrupt CSV ({e})") from e


def read_npy(
    path: Path,
    channels: Sequence[str] | None = None,
    start: float | None = None,
    stop: float | None = None,
    fs: float | None = None,
    channel_names: Sequence[str] | None = None,
) -> Record:
    """Read a ``.npy`` array ``[channels, samples]`` (or 1-D, one channel); needs ``fs`` and
    ``channel_names``. The file is memory-mapped, so only the span is read."""
    if fs is None or channel_names is None:
        raise RecordError(f"{path}: a .npy file holds no rate or names; pass fs and channel_names")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise RecordError(f"{path}: truncated or corrupt .npy file ({e})") from e
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.number):
        raise RecordError(f"{path}: expected a numeric [channels, samples] array, got "
                          f"shape {arr.shape} dtype {arr.dtype}")
    if len(channel_names) != arr.shape[0]:
        raise RecordError(f"{path}: {len(channel_names)} channel_names for {arr.shape[0]} rows")
    names = canonical_names(list(channel_names))
    picked = select_channels(names, channels, path)
    if arr.shape[1] == 0:
        raise RecordError(f"{path}: empty record (no samples)")
    i0, i1 = sample_span(start, stop, float(fs), arr.shape[1], path)
    signals = {names[i]: np.array(arr[i, i0:i1], dtype=np.float32) for i in picked}
    return Record(path.stem, signals, {n: float(fs) for n in signals},
                  units={n: "" for n in signals}, patient_id=patient_from_path(path, path.stem),
                  source=str(path), start_time=i0 / float(fs))


def read_npz(
    path: Path,
    channels: Sequence[str] | None = None,
    start: float | None = None,
    stop: float | None = None,
    fs: float | None = None,
) -> Record:
    """Read a ``.npz`` with one 1-D array per channel (keyed by name) and an optional ``fs``
    entry; an ``fs`` argument must agree with it."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = [k for k in npz.files if k != "fs"]
            file_fs = float(npz["fs"]) if "fs" in npz.files else None
            if fs is not None and file_fs is not None and not np.isclose(fs, file_fs):
                raise RecordError(f"{path}: fs={fs} Hz disagrees with the file's fs={file_fs} Hz")
            rate = fs if fs is not None else file_fs
            if rate is None:
                raise RecordError(f"{path}: no 'fs' entry; pass fs")
            if not keys:
                raise RecordError(f"{path}: empty record (no arrays)")
            names = canonical_names(keys)
            picked = select_channels(names, channels, path)
            signals: dict[str, np.ndarray] = {}
            i0 = 0
            for i in picked:
                x = npz[keys[i]]
                if x.ndim != 1 or not np.issubdtype(x.dtype, np.number) or len(x) == 0:
                    raise RecordError(f"{path}: array {keys[i]!r} is not a non-empty numeric "
                                      f"1-D signal (shape {x.shape}, dtype {x.dtype})")
                i0, i1 = sample_span(start, stop, float(rate), len(x), path)
                signals[names[i]] = np.ascontiguousarray(x[i0:i1], dtype=np.float32)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        if isinstance(e, RecordError):
            raise
        raise RecordError(f"{path}: truncated or corrupt .npz file ({e})") from e
    return Record(path.stem, signals, {n: float(rate) for n in signals},
                  units={n: "" for n in signals}, patient_id=patient_from_path(path, path.stem),
                  source=str(path), start_time=i0 / float(rate))
