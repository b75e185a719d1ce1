"""``read_record`` (one entry point for every format) and ``find_records``."""

from __future__ import annotations

import csv
import errno
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from qualityfm._numbers import is_number
from qualityfm.io.folders import DEMO_MARKER, check_out_apart, files_under, holds_store_arrays
from qualityfm.io.record import MissingChannelError, Record, RecordError
from qualityfm.io.table_reader import (
    csv_has_time_column,
    csv_holds_samples,
    csv_is_utf16,
    csv_not_text,
    csv_unreadable,
    read_csv,
    read_npy,
    read_npz,
)
from qualityfm.io.uci_reader import is_uci_bp_file
from qualityfm.io.vital_reader import read_vital
from qualityfm.io.wfdb_reader import (
    LABEL_FILES,
    header_naming,
    is_numerics_header,
    is_record_header,
    read_wfdb,
)

SUFFIXES = (".hea", ".vital", ".csv", ".npy", ".npz")
#: Waveform formats a folder may hold that no reader here reads (named, not passed silently).
UNREAD_WAVEFORMS = (".edf", ".bdf", ".gdf", ".h5", ".hdf5", ".xdf", ".fif", ".acq", ".tdms",
                    ".scp", ".dcm", ".mef", ".nwb", ".parquet", ".tsv")


#: A compressed table's name ending (``.csv.gz``): none is read, each is counted.
_COMPRESSED_CSV = re.compile(r"\.csv\.(gz|bz2|xz|zip|zst|7z)$")


def record_path(path: str | Path) -> Path:
    """The file a record is read from: a WFDB record named by its signal file (``.dat``,
    ``.mat``) or without suffix (and no such file) is read from its ``.hea``."""
    path = Path(path)
    if path.suffix.lower() in (".dat", ".mat") or (not path.suffix and not path.exists()):
        return path.with_suffix(".hea")
    return path


def check_file_type(path: Path) -> None:
    """Raise ``RecordError`` naming the file, its type and the known ones unless ``path``
    ends in one of ``SUFFIXES``."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        kind = repr(suffix) if suffix else "(no suffix)"
        raise RecordError(f"{path}: unsupported file type {kind} (known: {', '.join(SUFFIXES)})")


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
    given, path = Path(path), record_path(path)
    if path.is_dir():
        try:
            os.scandir(path).close()
            if not os.access(path, os.X_OK):
                raise PermissionError(13, "Permission denied")
        except OSError as e:
            raise RecordError(f"{path}: a folder that cannot be opened ({e.strerror or e}): "
                              "its records are not read") from e
        raise RecordError(f"{path}: a folder, not a record; find_records(folder) lists the "
                          "records in it")
    if not path.is_file():
        if given != path and given.is_file():
            header = header_naming(given)
            if header is not None:
                raise RecordError(f"{given}: a signal file of the record {header.name}: read "
                                  "that header")
            if is_uci_bp_file(given):
                raise RecordError(f"{given}: a part of the UCI cuff-less BP data set, many "
                                  "records in one file: read it with "
                                  "qualityfm.io.read_uci_bp (or build_task_dataset('abp', "
                                  "its folder))")
            raise RecordError(f"{given}: a WFDB signal file without its header {path.name} "
                              "(the header gives its rate, format and channels)")
        raise RecordError(f"{path}: no such file")
    check_file_type(path)
    if fs is not None and not (is_number(fs) and fs > 0):  # 0 had divided by zero, NaN cast
        raise RecordError(f"{path}: fs={fs!r} must be a sampling rate in Hz, a finite number "
                          "> 0")
    suffix = path.suffix.lower()
    if channel_names is not None and suffix not in (".csv", ".npy"):
        raise ValueError(f"{path}: channel_names applies to .csv and .npy only; "
                         f"{suffix} files name their channels")
    if isinstance(channel_names, str | bytes):  # 'PLETH' had been 5 names, one a letter
        raise TypeError(f"{path}: channel_names is a list of names, one a channel, got the "
                        f"text {channel_names!r} (give [{channel_names!r}])")
    if suffix == ".hea":
        return read_wfdb(path, channels, start, stop, fs)
    if suffix == ".vital":
        return read_vital(path, channels, start, stop, fs)
    if suffix == ".csv":
        try:
            return read_csv(path, channels, start, stop, fs, channel_names)
        except csv.Error as e:  # a quoted cell past the csv module's field limit, a NUL byte
            raise RecordError(f"{path}: a line the CSV parser cannot read ({e})") from e
    if suffix == ".npy":
        return read_npy(path, channels, start, stop, fs, channel_names)
    return read_npz(path, channels, start, stop, fs)


#: Errors of the machine, not of a file: a batch job stops (a re-run resumes at the record)
#: where a record so failed had been skipped for good (from a store that read as complete,
#: a task cache, a table of scores).
_MACHINE_ERRNOS = {errno.EIO, errno.ENOMEM, errno.EMFILE, errno.ENFILE, errno.ENOSPC,
                   errno.ESTALE}


def machine_fault(err: BaseException | None) -> BaseException | None:
    """``err``, or the error it was raised from (a reader names the file of a fault it met),
    that is the machine's (memory, I/O, open files), not the record's; None when none is."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, MemoryError) or (
                isinstance(err, OSError) and err.errno in _MACHINE_ERRNOS):
            return err
        err = err.__cause__ or err.__context__
    return None


#: A channel name no record holds: asked for, a reader names the channels the record holds.
NO_CHANNEL = "qualityfm: no such channel"


def read_channels_among(path: str | Path, wanted: Callable[[str], bool],
                        start: float | None = None, stop: float | None = None) -> Record:
    """The record ``path`` (its span ``start``..``stop`` s) with only the channels it holds
    that ``wanted`` takes (its others, which may not even be signals, are left unread: a fault
    of one had skipped the record); one holding none of them is read with all its channels,
    for the caller to name what it holds."""
    read = [NO_CHANNEL]  # refused, naming the channels it holds
    for _ in range(3):  # (a .vital track that holds no samples is named, then refused)
        try:
            return read_record(path, channels=read, start=start, stop=stop)
        except MissingChannelError as err:
            read = [c for c in err.available if wanted(c)]
            if not read:
                break
    return read_record(path, start=start, stop=stop)


def input_paths(inputs: object) -> list:
    """``inputs`` (one path, or an iterable of them) as a list of paths; TypeError for what is
    no path (a ``Record`` in memory had raised "'Record' object is not iterable")."""
    single = isinstance(inputs, str | os.PathLike) or not hasattr(inputs, "__iter__")
    items = [inputs] if single else list(inputs)
    for item in items:
        if not isinstance(item, str | os.PathLike):
            hint = (": for a record in memory, window it (qualityfm.signal.make_windows) and "
                    "pass the windows to qualityfm.quality.score_windows or "
                    "qualityfm.inference.embed_windows, or take a task's rows of it "
                    "(qualityfm.tasks.record_dataset)"
                    if isinstance(item, Record) else "")
            raise TypeError(f"inputs are file or folder paths, got {type(item).__name__}{hint}")
    return items


def find_records(path: str | Path) -> list[Path]:
    """Every readable record under a file or folder, sorted.

    One entry per WFDB header, leaving out the segment headers of multi-segment records,
    layout headers and, in a folder, records of a monitor's numerics (every channel under
    10 Hz, as ``*_Numerics.csv``; one named alone is returned) (a header that cannot be
    parsed counts, so that reading it reports why);
    ``.vital`` and ``.npz`` files (an ONNX export's golden examples aside); CSV files with a
    time column (BIDMC ``*_Signals.csv``, not ``*_Numerics.csv`` monitor numerics). Folders
    and CSV files that cannot be opened, and CSV files whose header line is blank (an empty
    file), are listed too, so that reading them says why (they had been passed over
    unsaid). A single file is returned as itself when it is a readable record (``.npy`` and
    time-less CSV included: the caller then passes ``fs`` and ``channel_names``); a WFDB
    record may be named as ``read_record`` accepts it (signal file, no suffix), which gives
    its header.
    """
    given = Path(path)
    path = record_path(given)
    if not path.exists() and given.exists():
        path = given  # a .mat that is no WFDB signal file (e.g. a UCI BP part)
    if not path.exists():
        nor = f", nor a WFDB header {path.name}" if path != given else ""
        raise RecordError(f"{given}: no such file or folder{nor}")
    if path.is_file():
        if path.suffix.lower() == ".hea":
            return [path] if is_record_header(path)[0] else []
        return [path] if path.suffix.lower() in SUFFIXES else []
    found: list[Path] = []
    segments: set[Path] = set()
    reports: dict[Path, bool] = {}  # folder -> whether it is a demo report
    # a demo report given itself: its records (data/) alone, not its task cache's .npz
    report_data = path / "data" if (path / DEMO_MARKER).is_file() else None
    for file in files_under(path):
        if _demo_report_of(file, path, reports):  # its synthetic records are no data (they
            continue  # had been read as the folder's: 106 beside 25 real ones)
        if report_data is not None and report_data not in file.parents:
            continue
        if file.is_dir():  # a folder that cannot be opened: read_record says so
            found.append(file)
            continue
        if not file.is_file():  # a link to nothing, a pipe (opening it would wait for ever)
            continue
        suffix = file.suffix.lower()
        if suffix == ".hea":
            ok, segs = is_record_header(file, numerics=False)  # numerics, as
            if ok:  # *_Numerics.csv: no waveform (every MIMIC ...n record had been skipped)
                found.append(file)
            segments.update(file.parent / f"{s}.hea" for s in segs)
        elif suffix == ".vital" or (suffix == ".npz" and not export_examples(file)):
            found.append(file)
        elif suffix == ".csv" and not file.stem.endswith("_Numerics"):
            if (csv_has_time_column(file) or csv_unreadable(file)  # read_record says why
                    or csv_not_text(file) is not None):
                found.append(file)
    return sorted(f for f in found if f not in segments)


#: What :func:`without_segments` keeps beside each record's path.
T = TypeVar("T")


def without_segments(found: Mapping[Path, T], inputs: Iterable[str | Path]) -> dict[Path, T]:
    """``found`` (the records ``find_records`` gives for ``inputs``, by resolved path) less the
    WFDB headers that a multi-segment record among them lists as its segments: those are read
    within that record alone, as a folder's walk leaves them (``041s/*`` given file by file
    had read each segment twice, the second time on its own, under another patient, its
    windows on both sides of a split). Where every input is a folder, their walks have left
    the segments out: ``found`` as it is, no header read again."""
    if all(Path(item).is_dir() for item in inputs):
        return dict(found)
    segments = {(path.parent / f"{s}.hea").resolve() for path in found
                if path.suffix.lower() == ".hea" for s in is_record_header(path)[1]}
    return {path: v for path, v in found.items() if path not in segments}


def export_examples(file: Path) -> bool:
    """Whether ``file`` is the golden examples of a qualityfm ONNX export (``NAME.examples.npz``
    beside ``NAME.onnx``), no record: an export into a folder of records had been read by the
    next score of that folder as a bad record."""
    name = file.name
    return (name.endswith(".examples.npz")
            and file.with_name(name.removesuffix(".examples.npz") + ".onnx").is_file())


def _orphan_signal(file: Path, uci_read: bool) -> bool:
    """A WFDB signal file (``.dat``, ``.mat``) that no header beside it names, or a UCI
    cuff-less BP part (``Part_N.mat``) unless ``uci_read`` (the abp task reads them)."""
    if file.suffix.lower() not in (".dat", ".mat") or header_naming(file) is not None:
        return False  # a WFDB record's (a record named Part_1 included)
    return not (uci_read and is_uci_bp_file(file))


def passed_over(folder: str | Path, uci_read: bool = False) -> tuple[list[Path], Counter[str]]:
    """What :func:`find_records` passes over in ``folder``: data files it cannot read without
    a sampling rate (``.npy``, CSV of samples without a time column, a WFDB ``.dat`` or
    ``.mat`` without its header, a UCI cuff-less BP part unless ``uci_read``;
    ``*_Numerics.csv`` monitor numerics and tables of labels such as ``REFERENCE.csv`` are
    not data) or in an encoding it does not read (UTF-16 CSV), and the count of waveform
    files of formats it does not read, by suffix (:data:`UNREAD_WAVEFORMS`: ``.edf``,
    ``.parquet``...; annotations, indexes and other files are no waveform). A store
    ``qualityfm prepare`` wrote there is listed once, as its folder. Hidden folders (``.git``)
    are not looked in."""
    path = Path(folder)
    no_rate: list[Path] = []
    other: Counter[str] = Counter()
    stores: dict[Path, bool] = {}  # folder -> whether it is a prepared store
    reports: dict[Path, bool] = {}  # folder -> whether it is a demo report
    for file in files_under(path) if path.is_dir() else []:
        if report := _demo_report_of(file, path, reports):  # named once, by its folder, as
            if report not in no_rate:  # a store is
                no_rate.append(report)
            continue
        home = next((d for d in (file.parent, *file.parent.parents)
                     if _is_store(d, stores) or d == path), path)
        if home != path or _is_store(path, stores):  # its shards are no records: the store
            if home not in no_rate:  # is named once (each .npy had been, with advice to
                no_rate.append(home)  # make it a record)
            continue
        suffix = file.suffix.lower()
        if not file.is_file():
            if suffix in (*SUFFIXES, ".dat", ".mat"):  # named, not lost without a word
                no_rate.append(file)
            continue
        if suffix == ".npy" or _orphan_signal(file, uci_read) or (
                suffix == ".csv" and not file.stem.endswith("_Numerics")
                and not csv_has_time_column(file) and not csv_unreadable(file)  # found
                and csv_not_text(file) is None
                and (csv_holds_samples(file) or csv_is_utf16(file))):
            no_rate.append(file)
        elif suffix in UNREAD_WAVEFORMS:
            other[suffix] += 1
        elif (packed := _COMPRESSED_CSV.search(file.name.lower())) is not None:  # counted,
            other[packed.group(0)] += 1  # not lost
    return no_rate, other


def _demo_report_of(file: Path, root: Path, known: dict[Path, bool]) -> Path | None:
    """The ``qualityfm demo`` report below ``root`` that ``file`` lies in, or None (its
    synthetic records, store and caches are the demo's; a report given as ``root`` itself is
    read); folders looked at are remembered in ``known``."""
    for folder in (file.parent, *file.parent.parents):
        if folder == root or root not in folder.parents:
            return None
        if folder not in known:
            known[folder] = (folder / DEMO_MARKER).is_file()
        if known[folder]:
            return folder
    return None


def _is_store(folder: Path, known: dict[Path, bool]) -> bool:
    """Whether ``folder`` holds a store ``qualityfm prepare`` wrote, finished or interrupted:
    a ``meta.json`` or ``journal.json`` (data.store.META, JOURNAL) beside a store's arrays
    (a records folder's own ``meta.json`` had read as a store's, its records' files passed
    over unnamed); remembered in ``known``."""
    if folder not in known:
        known[folder] = (any((folder / name).is_file() for name in ("meta.json", "journal.json"))
                         and holds_store_arrays(folder))
    return known[folder]


def no_rate_reason(path: str | Path) -> str:
    """Why a file :func:`passed_over` lists as having no sampling rate is not read: its
    reader's message (which says how to give the rate); a link to nothing or a pipe, so; a
    prepared store's folder, so."""
    path = Path(path)
    if path.is_dir() and (path / DEMO_MARKER).is_file():
        return (f"{path}: a report qualityfm demo wrote (its synthetic records, store and "
                "caches are no data of this folder): left out")
    if path.is_dir():
        return (f"{path}: a store qualityfm prepare wrote (windows of records, no records): "
                "left out")
    if not path.exists():
        return f"{path}: a link to nothing ({os.readlink(path)})"
    if not path.is_file():
        return f"{path}: no regular file (a pipe or a device), not read"
    try:
        read_record(path)
    except (RecordError, ValueError, OSError) as err:
        return str(err)
    return "no sampling rate (.npy, CSV without a time column)"


def refuse_writing_over(outputs: Sequence[str | Path], records: Sequence[str | Path],
                        inputs: Sequence[str | Path] = ()) -> None:
    """Refuse (ValueError) an output file that is one of the ``records`` a run reads, or a
    file beside them that the readers take labels or data from (``REFERENCE.csv``,
    ``alarms.csv``, a monitor's ``*_Numerics.csv``): it would be replaced by the table written
    there; and one inside a folder among ``inputs`` (where it could replace a file the run
    passes over, and would be named on every later run), but for a hidden folder or name."""
    for out in outputs:
        check_out_apart(out, inputs, "output", hidden_ok=True, file=True)
    read = {Path(r).resolve() for r in records}
    folders = {r.parent for r in read}
    for out in outputs:
        path = Path(out).resolve()
        if path in read:
            raise ValueError(f"--out {out} is a record this run reads: writing there would "
                             "replace it; give the output another name")
        if path.parent in folders and (path.name.lower() in {n.lower() for n in LABEL_FILES} or (
                path.suffix.lower() == ".csv" and path.stem.endswith("_Numerics"))):
            raise ValueError(f"--out {out} is a file the records beside it are read with "
                             "(labels or monitor numerics): writing there would replace it; "
                             "give the output another name")


def skip_reason(err: Exception) -> str:
    """Why a batch job (prepare, score, embed, the task builds) skips a record that raised
    ``err``: a reader's message (a :class:`RecordError`, ``ValueError`` or ``OSError``), or
    "unexpected Type: ..." for any other error, so that a folder of many files does not die
    on one odd file. A missing optional reader (``ImportError``: h5py for a MATLAB v7.3
    part) is no record's fault: it is raised again, for the user to install it."""
    if isinstance(err, ImportError):
        raise err
    if isinstance(err, (RecordError, ValueError, OSError)):
        return str(err)
    return f"unexpected {type(err).__name__}: {err}"


def skip_line(entry: dict[str, str]) -> str:
    """``record: reason`` of a batch job's ``skipped`` (or ``passed_over``) entry, the record
    named once where the reason begins with it (a reader's message names its file)."""
    record, reason = entry["record"], entry["reason"]
    return reason if reason.startswith(record) else f"{record}: {reason}"


def note_skipped(skipped: list[dict[str, str]], shown: int = 5, verb: str = "",
                 listed_in: str = "the run's JSON") -> None:
    """Name on stderr the first ``shown`` records of a batch job's ``skipped`` list and count
    the rest, which ``listed_in`` lists under 'skipped'."""
    prefix = f"qualityfm{' ' + verb if verb else ''}: skipped"
    for entry in skipped[:shown]:
        print(f"{prefix} {skip_line(entry)}", file=sys.stderr)
    if len(skipped) > shown:
        print(f"{prefix} {len(skipped) - shown} more (all are listed under 'skipped' in "
              f"{listed_in})", file=sys.stderr)


def note_passed_over(entries: list[dict[str, str]], verb: str = "") -> None:
    """Name on stderr each file of a batch job's input folders that is no record."""
    prefix = f"qualityfm{' ' + verb if verb else ''}: passed over"
    for entry in entries:
        print(f"{prefix} {skip_line(entry)}", file=sys.stderr)


def no_record_reason(path: str | Path) -> str:
    """Why ``find_records(path)`` found nothing, with what to do about it.

    A file of another type: its type. A folder: the files it passed over, ``.npy`` and CSV
    without a time column (no sampling rate), with the first one's reader message, the
    types of the others (``.edf``...) and its records of a monitor's numerics, so that a
    user is not left with "nothing".
    """
    path = Path(path)
    if path.is_file():
        reason = "no readable record found"
        if path.suffix.lower() in (".dat", ".mat"):  # a signal file: its header's, or none
            reason = no_rate_reason(path)
        else:
            try:
                check_file_type(path)
            except RecordError as err:
                reason = str(err)
        return reason.removeprefix(f"{path}: ")  # the callers name the path

    no_rate, other = passed_over(path)
    parts = ["no readable record found"]
    if no_rate:
        parts.append(f"{len(no_rate)} file(s) without a sampling rate passed over (.npy, CSV "
                     "without a time column, a .dat or .mat without its header, a UCI "
                     "cuff-less BP part); the first: "
                     f"{no_rate_reason(no_rate[0])}")
    if other:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(other.items()))
        parts.append(f"files of types not read: {kinds} (known: {', '.join(SUFFIXES)})")
    numerics = [f for f in files_under(path) if f.suffix.lower() == ".hea" and f.is_file()
                and is_numerics_header(f)]
    if numerics:  # (a folder of MIMIC's ...n records alone had been "nothing", unexplained)
        parts.append(f"{len(numerics)} record(s) of a monitor's numerics (every channel under "
                     f"10 Hz, e.g. {numerics[0].name}), which no window reads")
    return "; ".join(parts)


def passed_over_skips(folder: str | Path, uci_read: bool = False) -> list[dict[str, str]]:
    """The files :func:`passed_over` lists in ``folder``, as ``{"record", "reason"}`` entries of
    a batch verb's ``skipped`` list: one per file without a sampling rate, one for the folder
    naming the counts of unread types. Empty for a file or a folder with none."""
    no_rate, other = passed_over(folder, uci_read)
    out = [{"record": str(f), "reason": no_rate_reason(f)} for f in no_rate]
    if other:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(other.items()))
        out.append({"record": str(folder),
                    "reason": f"files of types not read: {kinds} (known: {', '.join(SUFFIXES)})"})
    return out
