"""Write a Record as a WFDB record (header + format-16 signal file), e.g. synthetic corpora."""

from __future__ import annotations

import contextlib
import errno
import re
import shutil
import tempfile
import time
import unicodedata
from pathlib import Path

import numpy as np
import wfdb

from qualityfm._numbers import missing
from qualityfm.io.atomic import (
    STALE_TEMPORARY_S,
    named_write_error,
    replace_together,
    sync_file,
)
from qualityfm.io.channels import ascii_text, is_numbered_channel
from qualityfm.io.record import Record, RecordError
from qualityfm.io.wfdb_reader import MAX_PHYSICAL

#: WFDB signal names written for canonical channels (read back by ``canonical_channel``).
WFDB_NAMES = {"ecg_ii": "II", "ppg": "PLETH", "abp": "ABP", "resp": "RESP", "ecg_v": "V"}


def write_wfdb(record: Record, folder: str | Path) -> Path:
    """Write ``record`` to ``folder/<record_id>.hea/.dat``; returns the header path.

    Challenge 2015 labels (``alarm_type``, ``alarm_true``) become the header's comment lines,
    as in the Challenge files, and each event a line ``event: NAME at T s`` after them, so
    the reader recovers both (an alarm's time had been lost: read back, it sat at the
    Challenge's 300 s). A record labelled as an alarm without an alarm time is written with
    its alarm at its end, as the task datasets take such a buffer (``record_dataset``), not
    at the Challenge's 300 s the reader would give it. All channels must share one rate. The
    record id names the files: ASCII letters, digits, ``_`` and ``-``. Both files are written
    in a hidden temporary folder in ``folder`` (``.write-*``; one a killed write left there is
    removed by a later write once an hour old), flushed, then moved into place together, as
    :func:`~qualityfm.io.atomic.atomic_write_all` moves files that belong together (a stop
    between the two renames had left an old header over a new signal file, read without an
    error). Format 16 keeps a channel of whole numbers within +-32767 exactly; other values
    come back to within half a step of the 16-bit scale spanning the channel's range (then
    read as float32, about 7 digits: a channel far from zero for its swing loses more to
    that), and a channel whose offset is too large for format 16 itself (over about 32768
    times its swing) is refused, named. A file of the record that is a link is replaced, the
    file it links to left as it was. The patient id, start time and labels other than the
    alarm's are not written (WFDB has no field for them).
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]+", record.record_id or ""):
        raise RecordError(f"record id {record.record_id!r}: write_wfdb names the record's "
                          "files by it, and WFDB record names hold only ASCII letters, digits, "
                          "'_' and '-'; give the Record another record_id")
    bad = [k for k in record.events if not re.fullmatch(r"\w+", k, re.ASCII)]
    if bad:
        raise RecordError(f"{record.record_id}: event name(s) {bad} cannot be written (ASCII "
                          "letters, digits and '_')")
    folder = Path(folder)
    rates = {float(fs) for fs in record.fs.values()}
    if len(rates) != 1:
        raise RecordError(f"{record.record_id}: channels have different rates {sorted(rates)}; "
                          "write_wfdb needs one rate")
    lengths = {len(v) for v in record.signals.values()}
    if len(lengths) != 1:
        raise RecordError(f"{record.record_id}: channels have different lengths {sorted(lengths)}")
    names = list(record.signals)
    signal = np.stack([np.asarray(record.signals[c], dtype=np.float64) for c in names], axis=1)
    # a fill value is written as missing (the reader had refused the file it made: no
    # calibration reads 9.97e36); inf is refused below, naming the channel
    signal[missing(signal) & np.isfinite(signal)] = np.nan
    empty = [c for k, c in enumerate(names) if not np.isfinite(signal[:, k]).any()]
    if empty:  # wfdb fails on it ("cannot convert float NaN to integer")
        raise RecordError(f"{record.record_id}: channel(s) {empty} hold no finite sample, which "
                          "WFDB cannot scale; leave them out")
    infinite = [c for k, c in enumerate(names) if np.isinf(signal[:, k]).any()]
    if infinite:  # wfdb: "Signal contains inf. Cannot perform adc."
        raise RecordError(f"{record.record_id}: channel(s) {infinite} hold an infinite sample, "
                          "which WFDB cannot scale; set it to NaN (a gap)")
    huge = [c for k, c in enumerate(names) if np.nanmax(np.abs(signal[:, k])) > MAX_PHYSICAL]
    if huge:  # the reader refuses such values as no calibration: the file would not read
        raise RecordError(f"{record.record_id}: channel(s) {huge} hold values past "
                          f"{MAX_PHYSICAL:g}, which no reader takes for a calibration; "
                          "set them to NaN (a gap)")
    comments = []
    label = _alarm_label(record)
    if label is not None:
        comments = ([str(record.labels["alarm_type"])] if "alarm_type" in record.labels
                    else []) + ["True alarm" if label else "False alarm"]
    elif "alarm_type" in record.labels:  # an alarm not labelled yet: its type alone
        comments = [str(record.labels["alarm_type"])]
    events = dict(record.events)
    if comments and "alarm" not in events:
        events["alarm"] = len(signal) / next(iter(rates))  # the buffer ends at its alarm
    comments += [f"event: {name} at {float(t)!r} s" for name, t in events.items()]
    # one line each: a line break in a label had made a header the reader refuses
    comments = [" ".join(c.split()) for c in comments]
    gains, baselines = _adc_params(signal)
    coarse = [c for k, c in enumerate(names) if _coarse(signal[:, k], gains[k], baselines[k])]
    if coarse:  # wfdb bounds the baseline to 32 bits and shrinks the gain: the swing had been
        # flattened to a few steps, unsaid
        raise RecordError(f"{record.record_id}: channel(s) {coarse} sit too far from zero for "
                          "their swing (an offset over about 32768 times it): format 16 "
                          "would keep a few levels of them; subtract the offset (e.g. the "
                          "median) before writing")
    targets = [folder / f"{record.record_id}{suffix}" for suffix in (".dat", ".hea")]
    for target in targets:  # before either is written (a new .dat had been left under no
        if target.is_dir():  # header, the old one a folder)
            raise IsADirectoryError(errno.EISDIR, f"cannot write {target}: it is a folder")
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_writes(folder)
    try:
        made = tempfile.TemporaryDirectory(dir=folder, prefix=_WRITE_PREFIX)
    except OSError as err:  # a read-only folder: named by the record (a random temporary
        raise named_write_error(err, targets[0]) from err  # folder's name had said nothing of it)
    with made as tmp:
        try:
            _write_files(record, Path(tmp), names, signal, rates.pop(), gains, baselines,
                         comments)
            moves = [(Path(tmp) / target.name, target) for target in targets]
            for file, _ in moves:
                sync_file(file)
        except OSError as err:  # a full disk: numpy's "N requested and M written" had named
            # no file; a file of the temporary folder, the record's file it stands for
            header = str(err.filename or "").endswith(".hea")
            raise named_write_error(err, targets[1] if header else targets[0]) from err
        replace_together(moves)  # header last: a header means a complete record
    return targets[1]


def _write_files(record: Record, tmp: Path, names: list[str], signal: np.ndarray, fs: float,
                 gains: list[float], baselines: list[int], comments: list[str]) -> None:
    """wfdb's writing of ``record``'s header and signal file into ``tmp``; its ValueError
    named."""
    try:
        wfdb.wrsamp(
            record.record_id, fs=fs,
            units=[_wfdb_unit(record.units.get(c) or "") for c in names],
            sig_name=_labels(names),
            p_signal=signal,
            fmt=["16"] * len(names), adc_gain=gains, baseline=baselines,
            comments=comments, write_dir=str(tmp),
        )
    except ValueError as err:  # wfdb's words, named
        raise RecordError(f"{record.record_id}: cannot be written as WFDB ({err}); its "
                          f"channels {names}, units {[record.units.get(c) for c in names]}"
                          ) from None


#: The prefix of write_wfdb's temporary folders, and their names (tempfile's 8 characters).
_WRITE_PREFIX = ".write-"
_WRITE_FOLDER = re.compile(r"\.write-[a-z0-9_]{8}")


def _remove_stale_writes(folder: Path) -> None:
    """Remove the temporary folders of writes to ``folder`` killed mid-write (untouched for
    :data:`~qualityfm.io.atomic.STALE_TEMPORARY_S`; a younger one may be another process's)."""
    now = time.time()
    for tmp in folder.glob(f"{_WRITE_PREFIX}*"):
        with contextlib.suppress(OSError):
            if (_WRITE_FOLDER.fullmatch(tmp.name) and tmp.is_dir() and not tmp.is_symlink()
                    and now - tmp.stat().st_mtime > STALE_TEMPORARY_S):  # (.write-notes stays)
                shutil.rmtree(tmp, ignore_errors=True)


def _alarm_label(record: Record) -> bool | None:
    """``record``'s ``alarm_true`` as True or False, None where it is absent or missing (None,
    NaN: an alarm not labelled yet); a label of another kind is refused (written by its
    truth, None had been a false alarm, NaN and the text "False" true ones)."""
    value = record.labels.get("alarm_true")
    if value is None or (isinstance(value, float | np.floating) and np.isnan(value)):
        return None
    if isinstance(value, bool | np.bool_) or (isinstance(value, int | np.integer | float |
                                                           np.floating) and value in (0, 1)):
        return bool(value)
    raise RecordError(f"{record.record_id}: labels['alarm_true'] is {value!r}: give True or "
                      "False (1 or 0), or leave it out for an alarm not labelled yet")


def _adc_params(signal: np.ndarray) -> tuple[list[float], list[int]]:
    """Gain and baseline of each column of ``signal`` [T, C] in format 16: wfdb's (the span
    of its values over the 16-bit range), but 1 and 0 for a channel of whole numbers within
    it (ADC counts read back exactly: 2253 had come back as 2253.032)."""
    gains, baselines = wfdb.Record(p_signal=signal, fmt=["16"] * signal.shape[1],
                                   n_sig=signal.shape[1]).calc_adc_params()
    for k in range(signal.shape[1]):
        x = signal[:, k][np.isfinite(signal[:, k])]
        if len(x) and (x == np.round(x)).all() and -32767 <= x.min() and x.max() <= 32767:
            gains[k], baselines[k] = 1.0, 0
    return [float(g) for g in gains], [int(b) for b in baselines]


def _coarse(x: np.ndarray, gain: float, baseline: int) -> bool:
    """Whether ``x``'s finite values come back from format 16 at ``gain`` and ``baseline``
    more than one step of the 16-bit scale spanning them away (a half step is the rounding)."""
    x = x[np.isfinite(x)]
    span = float(np.ptp(x)) if len(x) else 0.0
    if span == 0.0:
        return False
    back = (np.clip(np.round(x * gain + baseline), -32767, 32767) - baseline) / gain
    return float(np.abs(back - x).max()) > span / 65534


def _wfdb_unit(unit: str) -> str:
    """``unit`` as a WFDB header holds it, read back alike by qualityfm and the ``wfdb``
    package: ASCII letters, digits and ``_ / % ^ -`` (``µV`` -> ``uV``, ``°C`` -> ``degC``,
    ``mm Hg`` and ``mm(Hg)`` -> ``mmHg``; "NU" when none is left). wfdb had dropped the µ of
    µV (a factor of 1e6) and read ``mm(Hg)`` as the unit ``mm`` and a label of the rest of
    the line."""
    text = unicodedata.normalize("NFKD", unit)  # first: the degree Celsius sign is "°C" then
    for symbol, word in (("\u00b5", "u"), ("\u03bc", "u"), ("\u00b0", "deg"),
                         ("\u03a9", "Ohm")):  # (Ω had been dropped: "NU"; ℃ read "C")
        text = text.replace(symbol, word)
    return re.sub(r"[^A-Za-z0-9_/%^-]", "", text) or "NU"


def _label(name: str) -> str:
    """The WFDB label of a canonical name. A second channel of a name (``ecg_v_2``) keeps its
    name as it is, which reads back the same (``ECG_V_2`` would read as lead V2; WFDB labels
    must differ, so it cannot take the first's ``V``)."""
    if is_numbered_channel(name):  # in ASCII, as wfdb reads a label (PPG_É had lost its É)
        return ascii_text(name)
    return WFDB_NAMES.get(name, ascii_text(name.upper()))


def _labels(names: list[str]) -> list[str]:
    """The WFDB labels of ``names``; two channels of one label (``pléth`` beside ``ppg``, both
    PLETH in ASCII) are refused by name (wfdb's "sig_name strings must be unique" else; a
    label numbered ``_2`` could take another channel's name as read back)."""
    labels = [_label(name) or f"signal_{k + 1}" for k, name in enumerate(names)]
    for k, label in enumerate(labels):
        if label in labels[:k]:
            raise RecordError(f"channels {names[labels.index(label)]!r} and {names[k]!r} would "
                              f"both be written as the WFDB signal {label!r}; rename one")
    return labels

