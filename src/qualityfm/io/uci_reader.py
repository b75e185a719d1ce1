"""The UCI "Cuff-Less Blood Pressure Estimation" files (Kachuee et al., 2015/2017).

Layout (from the data set's description): ``Part_1.mat`` .. ``Part_4.mat``, each holding one
variable named like the file (``Part_1``), a MATLAB cell array of records (3000 per part in the
published files). Every record is a ``3 x N`` matrix at 125 Hz: row 0 the fingertip PPG, row 1
the arterial blood pressure (mmHg), row 2 ECG lead II. The published files are MATLAB v7.3
(HDF5, read with the optional ``h5py``: ``pip install 'qualityfm[uci]'``); a v5 file
(``scipy.io.savemat``) is read with SciPy.

The records carry no patient ids: each record is its own group (``Part_1_0001``, the part and the
1-based cell index), yet the data set was cut from MIMIC-II recordings and the same patient may
appear in several records, so record-level splits of these files can leak a patient across sides.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from qualityfm.io.base import file_head
from qualityfm.io.channels import canonical_names
from qualityfm.io.folders import files_under
from qualityfm.io.record import Record, RecordError
from qualityfm.io.wfdb_reader import header_naming

#: Sampling rate of every record (Hz).
UCI_FS = 125.0
#: Row labels of a record matrix, mapped through the channel name table.
UCI_ROWS = ("PPG", "ABP", "II")
_UNITS = {"ppg": "NU", "abp": "mmHg", "ecg_ii": ""}  # "": the description states no ECG unit
_PART = re.compile(r"^Part_(\d+)$", re.IGNORECASE)
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_uci_bp_file(path: str | Path) -> bool:
    """Whether ``path`` is named like a part of the UCI cuff-less BP data set (``Part_N.mat``)."""
    path = Path(path)
    return path.suffix.lower() == ".mat" and _PART.match(path.stem) is not None


def _is_hdf5(path: Path) -> bool:
    """HDF5 signature at offset 0 or, for MATLAB v7.3 files (512-byte user block), at 512..."""
    head = file_head(path)
    if len(head) < 128:
        raise RecordError(f"{path}: truncated or corrupt .mat file ({len(head)} bytes)")
    return any(head[k: k + 8] == _HDF5_SIGNATURE for k in (0, 512, 1024, 2048))


def _variable(path: Path, names: list[str]) -> str:
    """The cell array's variable: the file's stem (``Part_1``), else the only ``Part_N`` one."""
    if path.stem in names:
        return path.stem
    parts = [n for n in names if _PART.match(n)]
    if len(parts) == 1:
        return parts[0]
    raise RecordError(f"{path}: no variable {path.stem!r} (a cell array of 3 x N records); "
                      f"the file has {', '.join(map(repr, names)) or 'no variables'}")


def _record(path: Path, part: str, index: int, matrix: np.ndarray) -> Record:
    """One record from its ``3 x N`` matrix (``index`` is 0-based; ids are 1-based as in
    MATLAB)."""
    if matrix.ndim != 2 or matrix.shape[0] != len(UCI_ROWS) or matrix.shape[1] < 2:
        raise RecordError(f"{path}: record {index + 1} of {part} has shape {matrix.shape}; "
                          f"expected 3 x N (rows PPG, ABP, ECG II)")
    if not np.issubdtype(matrix.dtype, np.number):
        raise RecordError(f"{path}: record {index + 1} of {part} is not numeric "
                          f"(dtype {matrix.dtype})")
    names = canonical_names(list(UCI_ROWS))
    rid = f"{part}_{index + 1:04d}"
    signals = {n: np.ascontiguousarray(matrix[k], dtype=np.float32) for k, n in enumerate(names)}
    return Record(rid, signals, {n: UCI_FS for n in names}, units={n: _UNITS[n] for n in names},
                  patient_id=None, source=str(path))


def _records(path: Path, items: Iterator[Callable[[], Record]],
             bad: list[RecordError] | None) -> Iterator[Record]:
    """The records ``items`` make; a record that fails is appended to ``bad`` and passed over
    when ``bad`` is a list, else its error is raised."""
    for make in items:
        try:
            record = make()
        except RecordError as err:
            if bad is None:
                raise
            bad.append(err)
            continue
        yield record


def _iter_hdf5(path: Path, limit: int | None) -> Iterator[Callable[[], Record]]:
    try:
        import h5py
    except ImportError as e:
        raise ImportError(f"{path} is a MATLAB v7.3 (HDF5) file: reading it needs the h5py "
                          "package (pip install 'qualityfm[uci]')") from e
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise RecordError(f"{path}: truncated or corrupt MATLAB v7.3 file ({e})") from e
    with f:
        var = _variable(path, [k for k in f.keys() if not k.startswith("#")])
        cell = f[var]
        if not isinstance(cell, h5py.Dataset) or h5py.check_dtype(ref=cell.dtype) is None:
            raise RecordError(f"{path}: variable {var!r} is not a cell array of records")
        refs = np.asarray(cell[()]).ravel()
        for i, ref in enumerate(refs[:limit]):
            yield functools.partial(_hdf5_record, path, f, var, i, ref)


def _hdf5_record(path: Path, f, var: str, i: int, ref) -> Record:  # f: h5py.File
    import h5py

    try:
        item = f[ref]
    except (ValueError, KeyError) as e:
        raise RecordError(f"{path}: record {i + 1} of {var}: broken reference ({e})") from e
    if not isinstance(item, h5py.Dataset):
        raise RecordError(f"{path}: record {i + 1} of {var} is not a matrix")
    # MATLAB stores column-major: a 3 x N matrix reads back as N x 3
    return _record(path, var, i, np.asarray(item[()]).T)


def _iter_v5(path: Path, limit: int | None) -> Iterator[Callable[[], Record]]:
    from scipy.io import loadmat, whosmat

    try:
        names = [w[0] for w in whosmat(str(path))]
        var = _variable(path, names)
        cell = loadmat(str(path), variable_names=[var])[var]
    except RecordError:
        raise
    except NotImplementedError as e:  # SciPy's answer to v7.3 without the HDF5 signature seen
        raise RecordError(f"{path}: unsupported MATLAB file version ({e})") from e
    except Exception as e:  # scipy.io raises ValueError, TypeError, OSError... on corrupt files
        raise RecordError(f"{path}: truncated or corrupt .mat file "
                          f"({type(e).__name__}: {e})") from e
    if cell.dtype != object:
        raise RecordError(f"{path}: variable {var!r} is not a cell array of records "
                          f"(a {cell.dtype} array of shape {cell.shape})")
    for i, item in enumerate(cell.ravel(order="F")[:limit]):
        yield functools.partial(_record, path, var, i, np.asarray(item))


def iter_uci_bp(path: str | Path, *, limit: int | None = None,
                bad: list[RecordError] | None = None) -> Iterator[Record]:
    """Yield the records of one UCI cuff-less BP part (``Part_N.mat``), one at a time.

    Each :class:`Record` has ``ppg`` (NU), ``abp`` (mmHg) and ``ecg_ii`` at 125 Hz, record id
    ``Part_N_IIII`` (1-based cell index) and no patient id, so its group is the record.
    ``limit`` reads only the first records. A file that lacks the variable, is no cell array, or
    holds a record that is not ``3 x N`` raises :class:`RecordError` naming the file (and the
    record); with ``bad`` a list, a record that is not ``3 x N`` is appended to it as its
    error and the others still come. A v7.3 file without h5py installed raises
    ``ImportError`` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise RecordError(f"{path}: no such file")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    yield from _records(path, (_iter_hdf5 if _is_hdf5(path) else _iter_v5)(path, limit), bad)


def read_uci_bp(path: str | Path, *, limit: int | None = None) -> list[Record]:
    """All records (or the first ``limit``) of one UCI cuff-less BP part; see
    :func:`iter_uci_bp`."""
    return list(iter_uci_bp(path, limit=limit))


def find_uci_bp(path: str | Path) -> list[Path]:
    """The ``Part_N.mat`` files of the UCI cuff-less BP data set under a file or folder, sorted
    by part number (a ``.mat`` that a WFDB header beside it names is a signal file, not a
    part)."""
    path = Path(path)
    if path.is_file():
        return [path] if is_uci_bp_file(path) and header_naming(path) is None else []
    if not path.exists():
        raise RecordError(f"{path}: no such file or folder")
    found = [f for f in files_under(path) if f.suffix.lower() == ".mat" and f.is_file()
             and is_uci_bp_file(f)
             and header_naming(f) is None]  # a WFDB signal file is no UCI part
    return sorted(found, key=lambda f: (int(_PART.match(f.stem).group(1)), str(f)))
