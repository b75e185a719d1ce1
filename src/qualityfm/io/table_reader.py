"""Tables of samples: CSV (BIDMC ``*_Signals.csv`` and plain), NumPy ``.npy`` and ``.npz``."""

from __future__ import annotations

import codecs
import csv
import itertools
import math
import os
import re
import sys
import tokenize
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from qualityfm._caller import warn_at_caller
from qualityfm.io.base import (
    aligned_spans,
    file_head,
    not_text,
    patient_from_path,
    sample_span,
    select_channels,
)
from qualityfm.io.channels import (
    bracket_lead,
    bracket_number,
    bracket_statistic,
    canonical_channel,
    canonical_names,
    is_ecg,
    is_task_channel,
    unit_word,
)
from qualityfm.io.record import MAX_WAVEFORM_FS, MIN_WAVEFORM_FS, Record, RecordError

#: How bytes that are no UTF-8 in a CSV are read: as Latin-1 (cp1252 and Latin-1 exports, a
#: unit row's µ written as 0xB5, had read as U+FFFD: "µV" no unit, the row taken for data).
CSV_DECODE_ERRORS = "qualityfm-latin-1"
codecs.register_error(CSV_DECODE_ERRORS, lambda err: (
    err.object[err.start:err.end].decode("latin-1"), err.end))

_BIDMC = re.compile(r"^(bidmc_\d+)_Signals$")
_UNITS = r"(s|secs?|seconds?|ms|msecs?|milliseconds?)"
#: A time column: ``Time``, ``Time [s]``, ``time (ms)``, ``time_ms``, ``t_s``, ``Timestamp``,
#: ``Time (seconds)``, ``Datetime`` (of ISO date-times)...
_TIME = re.compile(
    rf"^(time|t|timestamp|seconds|sec|elapsed time|date[ _]?time)"
    rf"(?:\s*[\[(]\s*{_UNITS}\s*[\])]|[\s_]{_UNITS})?$"
)
#: Units of time a time column's name may state that are not read (``Time [min]``).
_OTHER_TIME_UNIT = re.compile(r"min|mins|minutes?|h|hr|hrs|hours?|us|µs|μs|microseconds?|ns|"
                              r"nanoseconds?|d|days?")
#: A header cell's name and its unit in brackets (``II [mV]``, ``ABP (mmHg)``; a unit holding
#: brackets of its own, ``ABP [mm[Hg]]``, had been read as a channel named abp_mm_hg).
_UNIT = re.compile(r"^(.*?)\s*[\[(]\s*((?:[^\[\]()]|\[[^\[\]()]*\])+?)\s*[\])]$")
#: Delimiters a CSV may use (Excel writes ``;`` where the decimal mark is a comma).
CSV_DELIMITERS = (",", ";", "\t")
#: Rows read to estimate the rate from a time column before a span is read.
_HEAD_ROWS = 2048
#: The lowest rate a time column may give without ``fs``: below it the values are most likely
#: milliseconds in a column that does not say so (or the file holds trends, not waveforms).
MIN_TIME_RATE = MIN_WAVEFORM_FS
#: The highest: above it a column named in milliseconds holds seconds (``Time [ms]`` of
#: values 0.000, 0.008...: 125 kHz), or a bare one holds finer units. No monitor samples so.
MAX_TIME_RATE = MAX_WAVEFORM_FS


#: Most missing samples a time column's gaps may imply where they outnumber its rows (named
#: in a warning): a stamp far off (a date-time typo) is refused rather than read as gigabytes
#: of NaN (25 million samples: 6.9 h at 1 kHz, 100 MB a channel; 10 million had refused a
#: day-long export with a 23-h dropout at 125 Hz, both its halves lost).
MAX_GAP_SAMPLES = 25_000_000
#: And the longest time they may span: the windows are cut at the model's rate (300 Hz), where
#: a day is 26 million samples a channel (a gap of 25 million samples at 12.5 Hz, 23 days, had
#: taken 4 GiB a channel there, a batch stopped for want of memory).
MAX_GAP_S = 86400.0


def _is_number(text: str, finite: bool = False) -> bool:
    """Whether ``text`` reads as a float (a finite one with ``finite``: not NaN or inf)."""
    try:
        value = float(text)
    except ValueError:
        return False
    return not finite or math.isfinite(value)


#: The cells pandas reads as missing by default (its ``na_values``), beside blanks.
_PANDAS_MISSING = frozenset((
    "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"))


def _is_placeholder(text: str) -> bool:
    """Whether a cell marks a missing sample: blank, one of :data:`PLACEHOLDERS`, or one
    pandas reads as missing (``NA``, ``null``...)."""
    text = text.strip()
    return text in ("", *PLACEHOLDERS) or text in _PANDAS_MISSING


def _time_unit(name: str) -> str | None:
    """The unit of a time column's values, ``"s"``, ``"ms"`` or ``""`` when its name states none
    (seconds then), or None when ``name`` is no time column."""
    match = _TIME.match(name.strip().lower())
    if match is None:
        return None
    unit = match.group(2) or match.group(3) or ""
    return "ms" if unit.startswith(("ms", "milli")) else "s" if unit else ""


#: Data lines read to guess a ``;`` or tab file's decimal mark.
_DECIMAL_LINES = 2048
#: A cell that is a plain number with either mark (a sample, or a time in seconds, not a
#: date-time).
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


#: Lines after the first that a ``;`` or tab delimiter must split alike (:func:`_splits_alike`).
_DELIMITER_LINES = 8


def _splits_alike(first: str, lines: list[str], sep: str) -> bool:
    """Whether ``sep`` splits ``first`` into 2 or more cells and each of ``lines`` that is not
    blank into at most as many, half of them at least into as many: cells at a line's end
    left empty (a missing last sample, a trailing delimiter) are not counted, and a ``;`` in
    one text cell of a comma file does not pass."""
    def width(line: str) -> int:
        return len(_trimmed(next(csv.reader([line.rstrip("\r\n")], delimiter=sep), [])))

    n = width(first)
    widths = [width(line) for line in lines if line.strip()]
    return n >= 2 and all(w <= n for w in widths) and 2 * widths.count(n) >= len(widths)


#: A line before a CSV's header that is no row: Excel's ``sep=;`` (which names the
#: delimiter) or a comment (``# Device: ...``, ``#,,`` padded by a spreadsheet), as monitor
#: exports write them; not a header whose first cell is ``#`` (``#,PLETH,II``: a sample
#: number) nor a first cell of pandas' missing-value marks (``#N/A``, ``#NA``). Blank lines
#: before the header are passed over too, as pandas does, where lines end in ``\n`` (pandas
#: counts a blank line of a file of bare ``\r`` ends as none).
_PREAMBLE = re.compile(
    r"^(?:sep=(.)|#[,;\t\s]*|#(?![,;\t]|(?:N/A N/A|N/A|NA)(?:[,;\t ]|$)).*)$")


def _all_blank(path: Path) -> bool:
    """Whether ``path`` holds nothing but white space (and a UTF-8 byte-order mark; read in
    chunks)."""
    with path.open("rb") as f:
        return all(not chunk.replace(b"\xef\xbb\xbf", b"").strip()
                   for chunk in iter(lambda: f.read(1 << 20), b""))


def _names_a_column(cell: str) -> bool:
    """Whether a commented header's cell reads as a column name: blank, a channel the tasks
    read (an ECG lead, PPG, ABP), or a short label (``RESP``, ``SpO2``, ``Sample``: at most
    12 characters, a letter first, one space at most; a unit in brackets aside), not a
    sentence describing the file."""
    label = _split_unit(cell)[0].strip()
    name = canonical_channel(label) if label else ""
    return (not label or is_task_channel(name)
            or (len(label) <= 12 and label[0].isalpha() and label.count(" ") <= 1))


def _csv_header(path: Path) -> tuple[list[str], str, str, bool, int, int, bool]:
    """A CSV's first-line cells (a UTF-8 BOM, quotes and stray spaces removed, the units of a
    row of units under them added, :func:`_unit_row`; the lines
    before it that :data:`_PREAMBLE` matches passed over), its delimiter (the one a ``sep=``
    line names; else ``;`` or tab where that line holds one outside quotes and it splits the
    next lines alike, :func:`_splits_alike`, ``;`` before tab: a line of decimal commas may
    hold more commas than delimiters; else the most frequent of ``,``, ``;`` and tab) and
    its decimal mark (``,`` when a ``;`` or tab file prints the numbers of its first data
    lines with commas and no points; of the time column, which may hold date-times, only
    plain numbers count), whether those lines showed a mark at all (whole numbers show
    none), the number of lines passed over before the first and how many of them are blank.
    The last comment before rows of numbers is their header where it has as many cells and
    names a time column or only column labels (NumPy's ``savetxt(..., header=...)``: ``#
    Time [s],PLETH``, ``# PLETH,II,RESP``; ``#Sample,PLETH,II``); a comment that describes
    the file is none. Last, whether a row of units follows the first line."""
    with path.open(encoding="utf-8-sig", errors=CSV_DECODE_ERRORS, newline="") as f:
        named, skipped, blank, comment = None, 0, 0, None
        while (line := f.readline()) and (
                (match := _PREAMBLE.match(line.rstrip("\r\n")))
                or (line.endswith("\n") and not line.strip())):
            skipped += 1
            if match:
                named = match.group(1) or named
                comment = line.rstrip("\r\n") if line.startswith("#") else None
            else:
                blank += 1
        first = line.rstrip("\r\n")
        bare = re.sub(r'"[^"]*"', "", first)  # quoted names may hold a delimiter
        ahead = list(itertools.islice(f, _DELIMITER_LINES))
        sep = named or next((d for d in (";", "\t")
                             if d in bare and _splits_alike(first, ahead, d)),
                            max(CSV_DELIMITERS, key=bare.count))
        names = [_unquoted(c) for c in next(csv.reader([first], delimiter=sep), [])]
        below = ahead[0] if ahead else ""  # the line under the header: a row of units?
        if comment and any(names) and all(_is_number(c.replace(",", ".")) or _is_placeholder(c)
                                          or not c for c in names):  # rows: a commented header?
            header = [_unquoted(c) for c in next(csv.reader([comment.lstrip("#").strip()],
                                                            delimiter=sep), [])]
            if len(_trimmed(header)) == len(_trimmed(names)) and (
                    any(_time_unit(c) is not None for c in header)
                    or all(_names_a_column(c) for c in _trimmed(header))):
                names, skipped, below = header, skipped - 1, ""  # the comment's line
        unit_row = _unit_row(names, below, sep)
        if unit_row is not None:  # rdsamp -c -v -p: 'Elapsed time','II' then 'seconds','mV'
            names = [_with_unit(name, unit) for name, unit in
                     itertools.zip_longest(names, unit_row, fillvalue="")][:len(names)]
        decimal, marked = ".", False
        if sep != ",":
            signal = [k for k, name in enumerate(names) if _time_unit(name) is None]
            times = [k for k, name in enumerate(names) if _time_unit(name) is not None]
            rows = list(itertools.islice(csv.reader(itertools.chain(  # (a.u.: no mark)
                ahead[1:] if unit_row is not None else ahead, f), delimiter=sep),
                _DECIMAL_LINES))
            # plain numbers alone: a note's text ("Pat. bewegt" in an alarm column) is no
            # decimal mark (it had read a file of decimal commas as text, refused)
            cells = [c for row in rows for k in (*signal, *times) if k < len(row)
                     if _PLAIN_NUMBER.match(c := row[k].strip())]
            commas, points = any("," in c for c in cells), any("." in c for c in cells)
            marked = commas or points
            if commas and not points:
                decimal = ","
    return names, sep, decimal, marked, skipped, blank, unit_row is not None


def _unquoted(cell: str) -> str:
    """A header cell without stray spaces and the single quotes around it (``'II'``, as
    WFDB's ``rdsamp -c -v`` writes names)."""
    cell = cell.strip()
    return cell[1:-1].strip() if len(cell) >= 2 and cell[0] == cell[-1] == "'" else cell


#: A cell of a units row naming a time column's unit: seconds or milliseconds (read),
#: another unit of time (its column then refused by name, as ``Time [min]``), or a clock
#: format (``hh:mm:ss.mmm``, the column's values then refused by name).
_TIME_UNIT_CELL = re.compile(rf"(s|secs?|seconds?)|(ms|msecs?|milliseconds?)|"
                             rf"({_OTHER_TIME_UNIT.pattern})|(h{{1,2}}:mm(?::ss(?:\.s+|\.m+)?)?)",
                             re.IGNORECASE)
#: A cell of a units row under a signal's name: blank, or a unit a waveform is measured in.
_SIGNAL_UNIT_CELL = re.compile(
    r"((m|u|µ|μ|n)?v|mmhg|mm hg|mm\[hg\]|torr|cmh2o|kpa|hpa|mbar|pa|nu|au|a\.u\.|adu|%|ohms?|"
    r"Ω|l/min|bpm|/min|mmol/l|deg ?c|°c|celsius|unitless|counts?)?", re.IGNORECASE)


def _unit_row(names: list[str], line: str, sep: str) -> list[str] | None:
    """The units of a header's columns where ``line``, the line under it, is a row of units
    (``s,mV,NU``; ``'seconds','mV','NU'``, as WFDB's ``rdsamp -c -v -p`` writes), or None:
    the header names a column, the line has as many cells or fewer, none a number, a time
    column's a unit of time and every other cell blank or a unit a waveform is measured in,
    or any text where a time column's unit stands (``s,NU,rpm``: a unit of time has said it;
    such a line had been refused as a time column's value)."""
    cells = _trimmed([_unquoted(c) for c in next(csv.reader([line.rstrip("\r\n")],
                                                             delimiter=sep), [])])
    named = _trimmed(names)
    if (not cells or len(cells) > len(named)
            or any(_is_number(c.replace(",", ".")) or (c and _is_placeholder(c))
                   for c in (*named, *cells))  # a first line of data is no header
            or not any(named)):
        return None
    timed = False
    for name, cell in zip(named, cells, strict=False):
        if _time_unit(name) is not None:
            if not cell or _TIME_UNIT_CELL.fullmatch(cell) is None:
                return None
            timed = True
    if not timed and any(_SIGNAL_UNIT_CELL.fullmatch(cell) is None for name, cell in
                         zip(named, cells, strict=False) if _time_unit(name) is None):
        return None
    return cells


def _with_unit(name: str, unit: str) -> str:
    """A header cell with the unit its units row gives (``II`` and ``mV``: ``II [mV]``; a time
    column's ``seconds``: ``[s]``), where the cell names none of its own."""
    if not unit or not name or _UNIT.match(name):
        return name
    if _time_unit(name) is not None:
        match = _TIME_UNIT_CELL.fullmatch(unit)
        if match.group(4):  # hh:mm:ss.mmm: the column's values are refused, named
            return name
        unit = "s" if match.group(1) else "ms" if match.group(2) else unit  # min: refused
    return f"{name} [{unit}]"


def _split_unit(name: str) -> tuple[str, str]:
    """``"II [mV]" -> ("II", "mV")``, ``"ABP_cmH2O" -> ("ABP", "cmH2O")``
    (:func:`~qualityfm.io.channels.unit_word`); ``"PLETH" -> ("PLETH", "")``."""
    match = _UNIT.match(name.strip())
    if match:
        return match.group(1), match.group(2)
    return unit_word(name) or (name.strip(), "")


def _labels_and_units(cells: Sequence[str]) -> tuple[list[str], list[str]]:
    """Data columns' labels and units: :func:`_split_unit`'s, but a lead the brackets after
    an unnamed ECG name is the label (``ECG (Lead II)``: ``ecg_ii``), and a column whose
    brackets name a number taken from a wave the tasks read (:func:`bracket_number`) takes
    its whole cell as its label where another column of the file is that wave (``PLETH
    (SpO2)`` beside ``PLETH``: ``pleth_spo2``), where its brackets name a statistic alone
    (:func:`~qualityfm.io.channels.bracket_statistic`: ``ABP (Mean)``, ``II (HR)``:
    ``abp_mean``, ``ii_hr``), or another line's pressure always (``IBP (CVP)``); the least
    number-like of the columns of a wave keeps its name."""
    pairs = [_split_unit(cell) for cell in cells]
    labels, units = [p[0] for p in pairs], [p[1] for p in pairs]
    numbers = [bracket_number(unit) if unit else 0 for unit in units]
    for k, (label, unit) in enumerate(pairs):
        if unit and (lead := bracket_lead(label, unit)):
            labels[k], units[k] = lead, ""
        elif (unit and not is_task_channel(canonical_channel(label))
              and is_task_channel(wave := canonical_channel(cells[k]))
              and not any(canonical_channel(other) == wave and not numbers[j]
                          for j, (other, _) in enumerate(pairs))):
            # SpO2 (Pleth): the wave, not an SpO2 in "Pleth", where no other column is that
            # wave by its label (beside Pleth: a number; beside PLETH (SpO2), a number, the
            # wave), its number-likeness that of a plain label
            labels[k], units[k], numbers[k] = cells[k].strip(), "", 0
    columns: dict[str, list[int]] = {}
    for k, label in enumerate(labels):  # every ECG lead is the wave of an ECG's numbers
        channel = canonical_channel(label)  # (ECG (HR) beside ECG (I) had been the ECG)
        columns.setdefault("ecg" if is_ecg(channel) else channel, []).append(k)
    for channel, ks in columns.items():
        if not is_task_channel(channel):
            continue
        wave = min(ks, key=lambda k: (numbers[k], k))  # the least number-like, the first
        for k in ks:
            if (numbers[k] >= 3 or (k != wave and numbers[k] >= 1)
                    or (numbers[k] == 2 and bracket_statistic(pairs[k][1]))):  # (ABP (Mean)
                # alone had been the arterial wave, II (HR) the ECG)
                labels[k], units[k] = cells[k].strip(), ""
    return labels, units


def csv_is_utf16(path: Path) -> bool:
    """Whether a CSV starts with a UTF-16 byte-order mark (a spreadsheet's "Unicode text")."""
    try:
        with path.open("rb") as f:
            return f.read(2) in (b"\xff\xfe", b"\xfe\xff")
    except OSError:
        return False


def csv_not_text(path: Path, utf16: bool = False) -> str | None:
    """Why a ``.csv`` file holds no text (compressed, an archive, binary bytes; UTF-16 with a
    byte-order mark only with ``utf16``: :func:`csv_is_utf16` lists those), or None; it had
    been taken for a table of labels and passed over unsaid."""
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:  # named when read
        return None
    return None if not utf16 and head[:2] in (b"\xff\xfe", b"\xfe\xff") else not_text(head)


def csv_has_time_column(path: Path) -> bool:
    """Whether a CSV's header names a time column (a cheap test for ``find_records``)."""
    try:
        cells = _csv_header(path)[0]
    except (OSError, csv.Error):  # csv_unreadable lists it
        return False
    return any(_time_unit(c) is not None for c in cells)


def csv_unreadable(path: Path) -> bool:
    """Whether a CSV is a record :func:`csv_has_time_column` cannot judge, which reading
    names with its reason: it cannot be opened (no permission) or parsed, it is empty (white
    space and comments alone), or a line without cells (a bare-``\r`` file's blank line, a
    spreadsheet's ``,,``) stands where its header should be, a header naming a time column
    after it. Such a line before a label table or a time-less CSV makes no record of it."""
    try:
        if any(_trimmed(_csv_header(path)[0])):
            return False
        with path.open(encoding="utf-8-sig", errors=CSV_DECODE_ERRORS, newline="") as f:
            first = next((line for line in f if _filled(line)), None)
    except (OSError, csv.Error):
        return True
    if first is None:  # empty (white space, empty cells and comments alone): named so
        return True
    return any(_time_unit(c) is not None for c in _split_cells(first))


def _filled(line: str) -> bool:
    """Whether a CSV line holds a cell: no comment, not blank, not delimiters and empty
    quotes alone (``,,``, ``"",""``)."""
    return bool(line.strip(" \t\r\n,;\"")) and not _PREAMBLE.match(line.rstrip("\r\n"))


def _split_cells(line: str) -> list[str]:
    """A line's cells split at its most frequent delimiter, quotes and spaces stripped."""
    sep = max(CSV_DELIMITERS, key=line.count)
    return [c.strip().strip('"').strip() for c in line.rstrip("\r\n").split(sep)]


def csv_holds_samples(path: Path) -> bool:
    """Whether a CSV's first data line is all numbers (signal samples), as against a table of
    labels or names (``REFERENCE.csv``: ``A00001,N``): a cheap test of what a time-less CSV
    that :func:`find_records` passes over holds."""
    try:
        names, sep, decimal, _, skipped, _, unit_row = _csv_header(path)
        skipped += unit_row  # the header's units row is no data line
        with path.open(encoding="utf-8-sig", errors=CSV_DECODE_ERRORS, newline="") as f:
            lines = [row for row in itertools.islice(csv.reader(f, delimiter=sep), skipped,
                                                     skipped + 2) if row]
    except (OSError, csv.Error):  # csv_unreadable lists it
        return False
    for row in lines[::-1][:1] if len(lines) == 2 else lines:  # the data line after a header
        if len(row) == 1 and _parted_by_spaces(row[0]):  # np.savetxt's default: named
            return True
        if row and _CLOCK.fullmatch(row[0].strip()):  # a date-time stamp before the samples
            row = row[1:]  # (a time column under a name not read), not a table of labels
            if not any(c.strip() for c in row) and not any(  # blank cells: gaps of samples
                    is_task_channel(canonical_channel(_split_unit(n)[0]))  # under a header
                    for n in names[1:]):  # of signals (a sensor not yet on), else a table of
                return False  # times or dates (date,note)
        try:
            [float(c.strip().replace(decimal, ".")) for c in row if c.strip()]
        except ValueError:
            return False
        return True
    return False


#: A date or clock time a CSV's first cell may hold (``2024-01-01 00:00:00.000``,
#: ``00:00:01.250``): a time stamp, not a label.
_CLOCK = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{1,2}:\d{2}\S*)?|\d{1,2}:\d{2}:\d{2}([.,]\d+)?")


def _spaced_file(path: Path, skip: int) -> bool:
    """Whether a CSV's first two lines after ``skip`` (its header and first row, or two rows)
    include one :func:`_parted_by_spaces`."""
    with path.open(encoding="utf-8-sig", errors=CSV_DECODE_ERRORS, newline="") as f:
        return any(_parted_by_spaces(line) for line in itertools.islice(f, skip, skip + 2))


def _parted_by_spaces(line: str) -> bool:
    """Whether a CSV line parts its cells by spaces (NumPy's ``savetxt`` default), not by a
    delimiter read: no ``,``, ``;`` or tab, but two or more numbers between spaces."""
    cells = line.split()
    return (not any(d in line for d in CSV_DELIMITERS) and len(cells) >= 2
            and all(_is_number(c) for c in cells))


def _printed_resolution(t: np.ndarray) -> float:
    """The rounding step of printed time stamps (``0.01`` for ``100.02``), at most 1 s. A
    stamp is taken as a multiple of a step to within float64's error of its value (a relative
    1e-9 had let epoch seconds, 1700000000.008, pass as whole seconds: a regular file was
    refused, and rows missing from one with ``fs`` given were closed up unseen)."""
    for k in range(10):
        scaled = t * 10.0**k
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6 + 1e-14 * np.abs(scaled)):
            return 10.0**-k
    return 0.0


def _significant_steps(t: np.ndarray, finest: float) -> np.ndarray | None:
    """Each stamp's printing step where stamps ``t`` are printed to a number of significant
    figures, as MATLAB's ``csvwrite`` prints them (5: 0.008, 100.02, 1000.1; BIDMC's CSVs),
    coarser than ``finest`` (:func:`_printed_resolution`) somewhere; else None. Such a file
    read at its finest step had been refused past 100 s at 250 Hz (rows of one stamp), past
    1000 s at 125 Hz, ``fs=`` or not."""
    if len(t) == 0 or not np.isfinite(t).all():
        return None
    size = np.abs(t)
    magnitude = np.floor(np.log10(np.where(size > 0, size, 1.0)))
    for figures in range(1, 8):
        step = 10.0 ** (magnitude - figures + 1)
        # within float64's error of each value, in seconds (in steps, 0.01 s past epoch
        # seconds of 1.7e9 had passed as 2 figures: 1e-10 of a step of 1e8 s)
        if np.all(np.abs(t - np.round(t / step) * step) <= 1e-9 * step + 1e-14 * size):
            return step if float(step.max()) > finest * (1 + 1e-9) else None
    return None


def _significant_rate(t: np.ndarray, t_first: float, fs: float | None, path: Path,
                      finest: float) -> tuple[float, np.ndarray] | None:
    """(rate, each row's printing step) of stamps ``t`` of significant figures
    (:func:`_significant_steps`) that fit ``fs``, or a whole rate where none is given, with
    each stamp the rounding of its sample's time at its own step; None where they do not (a
    fitted rate of no whole number had absorbed a lost sample: 299.98 Hz, no NaN)."""
    steps = _significant_steps(t, finest)
    if steps is None:
        return None
    try:
        rate = _csv_rate(t, 0, t_first, fs, path, steps)
    except RecordError:
        return None
    return (rate, steps) if fs is not None or float(rate).is_integer() else None


def _printed(resolution: float | np.ndarray, t: np.ndarray) -> str:
    """Stamps ``t``'s printing in words: ``0.01 s``, or ``5 significant figures (0.1 s at
    most)`` for stamps of significant figures (:func:`_significant_steps`)."""
    low, high = float(np.min(resolution)), float(np.max(resolution))
    if low == high:
        return f"{high:g} s"
    i = int(np.argmax(resolution))
    figures = math.floor(math.log10(abs(float(t[i])))) - round(math.log10(high)) + 1
    return f"{figures} significant figures ({high:g} s at most)"


def _rates_to_try(fitted: float, fs: float | None) -> list[float]:
    """The rates that time stamps of about ``fitted`` Hz are tried at, in order: ``fs`` when
    given; else a whole rate within 0.1 % of ``fitted`` (stamps are printed rounded), then
    ``fitted`` itself (MIMIC-IV's 124.945 Hz lies within 0.1 % of 125: its stamps drift from
    125 Hz's by a sample every 23 s)."""
    if fs is not None:
        return [float(fs)]
    whole = float(round(fitted))
    return ([whole] if abs(fitted - whole) < 1e-3 * fitted else []) + [float(fitted)]


def _coarse(resolution: float | np.ndarray, rate: float) -> bool:
    """Whether time stamps printed to ``resolution`` s (one step, or each row's) are coarser
    than a sample at ``rate`` somewhere (several rows may share a stamp)."""
    return float(np.max(resolution)) * rate > 1.0 + 1e-6


def _blind_to_a_missing_sample(resolution: float | np.ndarray, rate: float) -> bool:
    """Whether coarse stamps (:func:`_coarse`) could hide a missing sample: where a printing
    step holds a whole number of samples (200 Hz at 0.01 s) the rows after one lost fit the
    same start time; otherwise (250 Hz: 2.5 samples a step) they do not."""
    per_step = float(np.max(resolution)) * rate
    return _coarse(resolution, rate) and abs(per_step - round(per_step)) < 1e-6


def _rounded_times(t: np.ndarray, idx: np.ndarray, t_first: float, rate: float,
                   resolution: float | np.ndarray) -> bool:
    """Whether stamps printed to ``resolution`` s, a sample or more at ``rate`` (0.01 s at
    250 Hz: rows share a stamp), are each the rounding of one start time plus their row's
    sample time: the times less each row's sample time then lie within one printing step
    (:func:`_blind_to_a_missing_sample` says when a lost sample keeps them so)."""
    if not _coarse(resolution, rate):  # stamps that resolve samples: _csv_rate's tolerance
        return False
    start = np.append(t - idx / rate, t_first)  # each row bounds the start to one step,
    # its own where stamps are of significant figures (a whole step where a time lay half
    # way and was printed up or down): the bounds of every row must meet
    half = np.append(np.broadcast_to(0.5 * np.asarray(resolution, float), t.shape),
                     0.5 * float(np.min(resolution)))
    # float64's error of the stamps' values and no more (a relative 1e-9, 1.7 s for epoch
    # seconds, had let any rate fit and rows missing go unseen)
    return float(np.max(start - half)) <= float(np.min(start + half)) + 1e-9 + 1e-14 * float(
        np.abs(t).max())


def _csv_rate(t: np.ndarray, offset: int, t_first: float, fs: float | None, path: Path,
              resolution: float | np.ndarray | None = None) -> float:
    """The rate of time stamps ``t`` (rows ``offset``.. of a file whose first row is at
    ``t_first``), checked for regularity and against an explicit ``fs``."""
    idx = offset + np.arange(len(t))
    span = float(t[-1] - t_first)
    if idx[-1] == 0 or span <= 0:
        if fs is None:
            raise RecordError(f"{path}: a time column needs two increasing rows to give a rate")
        return float(fs)
    fitted = idx[-1] / span
    if resolution is None:  # (the stamps' printing step, where the caller has it not)
        resolution = _printed_resolution(t)
    if fs is None and _coarse(resolution, fitted):  # stamps that resolve no sample: the one
        # whole rate they fit within their printing's error (a rate fitted to a few such rows
        # had been taken: 128 Hz read at 127.9)
        wholes = _whole_rates(t, idx, t_first, fitted, resolution, span)
        if len(wholes) == 1:
            return wholes[0]
        if len(wholes) > 1:  # (no grid with gaps either: _gap_grid passes it on)
            raise _UntoldRate(
                f"{path}: its time column's {len(t)} rows (stamps printed to "
                f"{_printed(resolution, t)}) "
                f"fit {len(wholes)} whole rates, {wholes[0]:g} to {wholes[-1]:g} Hz: too few "
                "rows to tell the rate (in Python, read_record(path, fs=...) gives it)")
    elif fs is None:
        for rate in _rates_to_try(fitted, None):
            if _fit_within_a_sample(t, idx, t_first, rate, resolution) and (
                    rate == round(rate) or _single_steps(t, rate)):
                return rate
    elif (_fit_within_a_sample(t, idx, t_first, float(fs), resolution)
          or _rounded_times(t, idx, t_first, float(fs), resolution)):
        return float(fs)
    if fs is not None:
        coarse = (f"; its stamps, printed to {_printed(resolution, t)}, resolve no single "
                  f"sample at {fs:g} Hz, and no start time rounds to every one of them at "
                  "that rate"
                  if _coarse(resolution, fs) else "")
        raise RecordError(
            f"{path}: fs={fs} Hz disagrees with the time column (about {fitted:.6g} Hz)"
            f"{coarse}"
        )
    steps = np.diff(t) if len(t) > 1 else np.array([span])
    # each row's printing step: its own where stamps are of significant figures (MATLAB)
    printing = _significant_steps(t, float(np.min(resolution)))
    rows = np.broadcast_to(np.asarray(resolution if printing is None else printing, float),
                           t.shape)
    where, gap = _irregular_rows(t, offset, t_first, fitted, rows)
    hint = ("" if not _coarse(rows, fitted) else
            # (fs= had been advised, and failed too: no rate places a gap among them)
            f"; its stamps, printed to {_printed(rows, t)}, resolve no single sample at that "
            "rate, so no gap among them can be placed: write them with more decimals" if gap
            else f"; its stamps, printed to {_printed(rows, t)}, resolve no single sample at "
            "that rate, and no whole rate near it rounds to every one of them alone: a "
            "sample missing among them, or a rate of no whole number (which Python's "
            "read_record(path, fs=...) reads where each stamp is its sample's time rounded "
            "at fs)")
    raise RecordError(
        f"{path}: irregular time column: steps from {steps.min():.6g} to {steps.max():.6g} s "
        f"(about {fitted:.6g} Hz on average){where}{hint}"
    )


def _irregular_rows(t: np.ndarray, offset: int, t_first: float, fitted: float,
                    rows: np.ndarray) -> tuple[str, bool]:
    """The rows at fault in an irregular time column (``t``: rows ``offset``.. of a file
    whose first is at ``t_first``; ``rows``: each row's printing step), for its message: a
    gap (a step well past the others), the first step of no whole number of samples at the
    whole rate near ``fitted``, the first stamp before the one before it or equal to it
    where its row resolves a sample; else the first row off that rate's grid. (A repeat a
    coarse printing makes had been named alone, and the 15-s gap before it, or a jittered row
    beside a gap, not at all.) Also whether a gap was named."""
    if len(t) < 2:
        return "", False
    steps = np.diff(t)
    named = []
    positive = steps[steps > 0]
    typical = float(np.median(positive)) if len(positive) else 0.0
    gaps = steps > 1.5 * typical + 0.5 * (rows[1:] + rows[:-1])
    k = int(np.argmax(steps))
    gap = typical > 0 and bool(gaps[k])
    if typical > 0 and not gaps.all():  # the rate between the gaps (the mean over a 15-s gap
        # had read 99.98 Hz at 125, the rows named at 100)
        fitted = float((~gaps).sum() / steps[~gaps].sum()) if steps[~gaps].sum() > 0 else fitted
    if gap:
        named.append(f"the longest step, {steps[k]:.6g} s, ends at data row {offset + k + 2} "
                     f"(after the header; {t[k]:.13g} to {t[k + 1]:.13g} s): a gap, read as "
                     "missing samples only where every step is a whole number of sample "
                     "periods and no two rows share a sample")
    whole = _rates_to_try(fitted, None)[0]
    repeats = (steps == 0) & (rows[1:] * fitted <= 1.0 + 1e-6)  # a coarse printing's: legal
    back = np.flatnonzero((steps < 0) | repeats)[:1]
    named += [f"data row {offset + j + 2} (after the header) has time {t[j + 1]:.13g} s, not "
              f"after the previous row's {t[j]:.13g} s" for j in back]
    if whole != fitted:  # a whole rate near: the first step of no whole number of samples
        periods = steps * whole
        slack = 0.1 + 0.5 * (rows[1:] + rows[:-1]) * whole
        odd = np.flatnonzero((steps > 0) & (np.abs(periods - np.round(periods)) > slack))[:1]
        named += [f"data row {offset + j + 2} (after the header) is {steps[j]:.6g} s after "
                  f"the one before it ({t[j]:.13g} s): {periods[j]:.3g} samples at {whole:g} "
                  "Hz, no whole number" for j in odd if not (gap and j == k)]
        if not named:  # no step stands out: the first row whose start time (its stamp
            # less its sample's time, to its printing and a tenth of a sample) meets none
            # the rows before it allow
            start = t - (offset + np.arange(len(t))) / whole
            half = 0.5 * rows + 0.1 / whole
            low = np.maximum.accumulate(start - half)
            high = np.minimum.accumulate(start + half)
            far = np.flatnonzero(low > high)[:1]
            named += [f"data row {offset + i + 1} (after the header), at {t[i]:.13g} s, "
                      f"fits no {whole:g}-Hz grid the rows before it fit: a sample missing "
                      "or added at or before it?" for i in far]
    return "".join(f"; {n}" for n in named), gap


def _single_steps(t: np.ndarray, rate: float) -> bool:
    """Whether stamps ``t`` hold no step of a sample on the grid of ``rate``: the mean of
    their offsets from it over 50 rows moves by under half a sample anywhere. A rate of no
    whole number fitted over a lost sample (249.997 Hz for 250 Hz less one row mid-file)
    leaves a step of one sample where the row was lost (it had been closed up, the samples
    after it half a sample off), where the jitter of a monitor's stamps averages out."""
    offsets = (t - t[0]) * rate - np.arange(len(t))
    w = min(50, len(t) // 4)
    if w < 5:  # too few rows to tell a step from jitter
        return True
    c = np.concatenate([[0.0], np.cumsum(offsets)])
    before = (c[w:len(t) - w + 1] - c[:len(t) - 2 * w + 1]) / w
    after = (c[2 * w:] - c[w:len(t) - w + 1]) / w
    return bool(np.max(np.abs(after - before)) < 0.5)


def _fit_within_a_sample(t: np.ndarray, idx: np.ndarray, t_first: float, rate: float,
                         resolution: float | np.ndarray) -> bool:
    """Whether stamps ``t`` lie within half a sample at ``rate``, plus the printing's
    rounding but less than a whole sample, of their rows' sample times."""
    tolerance = (0.5 + np.minimum(0.5 * np.asarray(resolution) * rate, 0.49)) / rate
    return bool(np.all(np.abs(t - (t_first + idx / rate)) <= tolerance))


class _UntoldRate(RecordError):
    """Time stamps too few to tell their rate: no reading of them as gaps either."""


def _whole_rates(t: np.ndarray, idx: np.ndarray, t_first: float, fitted: float,
                 resolution: float | np.ndarray, span: float) -> list[float]:
    """The whole rates near ``fitted`` (within 0.1 %, or the printing's error over ``span``)
    that stamps ``t`` fit (:func:`_fit_within_a_sample`, or for stamps coarser than a sample
    :func:`_rounded_times`); more than one where a few rows tell no rate (34 rows printed to
    0.01 s had read at 254 Hz)."""
    near = max(1e-3, 2.0 * float(np.max(resolution)) / span) * fitted
    return [float(r) for r in range(max(1, math.ceil(fitted - near)),
                                    math.floor(fitted + near) + 1)
            if _fit_within_a_sample(t, idx, t_first, float(r), resolution)
            or _rounded_times(t, idx, t_first, float(r), resolution)]


def _gap_grid(t: np.ndarray, t_first: float, fs: float | None, path: Path,
              err: RecordError, whole: bool = True,
              resolution: float | np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """(rate, sample index of each row) of time stamps ``t`` that are regular but for gaps (a
    monitor export with dropouts): every step a whole number of periods of the rate (``fs``,
    else that of the steps of one period, or the whole rate within 0.1 % of it where that
    puts each row on the same sample). Re-raises ``err`` (the irregularity) when they are
    not, or when it says the rows are too few to tell a rate. ``whole``: ``t`` is every row
    read, whose gaps may not outnumber them (the first rows alone, read for the rate, may
    hold a long gap)."""
    steps = np.diff(t)
    if isinstance(err, _UntoldRate) or len(steps) == 0 or not (np.median(steps) > 0):
        raise err
    median = float(np.median(steps))
    single = steps[(steps > 0.5 * median) & (steps < 1.5 * median)]  # one period each
    if len(single) == 0:  # steps of 0 and 2 periods alike (200 Hz printed to 0.01 s): no
        raise err  # period to read (its NaN mean had raised "cannot convert float NaN")
    fitted = 1.0 / float(single.mean())  # their printed rounding averages out
    if resolution is None:
        resolution = _printed_resolution(t)

    def samples(rate: float) -> np.ndarray | None:
        """Each row's sample at ``rate``, None when a step is not a whole number of periods
        (to a tenth of one plus the printing's rounding) or two rows fall on one sample."""
        if abs(fitted / rate - 1.0) > 0.01:  # most steps must be one period of the rate
            return None
        periods = steps * rate
        res = np.asarray(resolution, float)  # a step's: the coarser of its two rows'
        res = np.maximum(res[1:], res[:-1]) if res.ndim else res
        # (each of a step's two stamps rounded by up to half its printing step: the step by
        # a whole one; half of one had refused a dropout at 256 Hz printed to 1 ms)
        slack = np.minimum(0.1 + res * rate, 0.45)  # (past 0.5 no step would fail: an
        # irregular 500-Hz file printed to 1 ms had passed)
        if (np.abs(periods - np.round(periods)) > slack).any() or (np.round(periods) < 1).any():
            return None
        k = np.round((t - t_first) * rate).astype(np.int64)
        return k if (np.diff(k) >= 1).all() else None  # two rows on one sample

    found = [(rate, k) for rate in _rates_to_try(fitted, fs)
             if (k := samples(rate)) is not None]
    if not found:
        raise err
    # a whole rate near a fitted one that it does not match (124.945 Hz read at 125 Hz drifts
    # a sample every 23 s: each read as a missing sample) is not the stamps' rate
    rate, k = found[0] if len(found) == 1 or np.array_equal(found[0][1], found[1][1]) else found[1]
    missing = int(k[-1]) + 1 - len(t)
    # a dropout longer than the rows around it is read, and named (a date-time typo reads
    # so too); one of more samples than MAX_GAP_SAMPLES or longer than MAX_GAP_S (a stamp far
    # off) would fill gigabytes
    if whole and missing > len(t):
        gaps = (f"{path}: the time column's gaps ({missing} missing samples at {rate:g} Hz, "
                f"{missing / rate:.0f} s) outnumber its {len(t)} rows")
        if missing > MAX_GAP_SAMPLES or missing / rate > MAX_GAP_S:
            raise RecordError(f"{gaps}, over the {MAX_GAP_SAMPLES} or {MAX_GAP_S / 3600:g} h "
                              "read; is a time stamp wrong?")
        warn_at_caller(f"{gaps}: read as missing samples; is a time stamp wrong?",
                       RuntimeWarning)
    return rate, k


def _first_bad(bad: np.ndarray, values: pd.Series, first_line: int) -> tuple[str, int]:
    """The first value flagged in ``bad`` (as written, ``''`` for an empty cell) and its line
    in the file (``first_line`` is the line of ``values``' first row)."""
    k = int(np.flatnonzero(bad)[0])
    value = values.iloc[k]
    return ("" if pd.isna(value) else str(value)), first_line + k


def _seconds(
    col: pd.Series, scale: float, origin: int | None, path: Path, name: str, first_line: int,
    decimal: str = ".",
) -> tuple[np.ndarray, int | None]:
    """A time column's values in seconds: numbers times ``scale``, or ISO date-times
    (``2024-01-01 00:00:00.008``) in seconds from ``origin`` (ns since the epoch; None: the
    first value), returned beside them (None for numbers). ``first_line`` is the file line of
    the column's first row, for naming a bad value; ``decimal`` the file's decimal mark."""
    numbers = col
    if not pd.api.types.is_numeric_dtype(col) and decimal != ".":  # text: a bad cell among them
        numbers = col.astype("string").str.replace(decimal, ".", regex=False)
    if pd.api.types.is_numeric_dtype(col) or _is_number(str(numbers.iloc[0])):
        t = pd.to_numeric(numbers, errors="coerce").to_numpy(np.float64, na_value=np.nan)
        bad = ~np.isfinite(t)  # a blank, a cell that is no number or inf, among numbers
        if not bad.any():
            return t * scale, None
    else:
        # ISO 8601 allows a comma before the fraction (10:00:00,008, as Python's logging
        # writes it); stamps with UTC offsets are read as UTC, so that an offset that changes
        # (a daylight-saving switch in a day-long recording) is no mix of zones
        text = col.astype("string").str.strip().str.replace(
            r"(\d{2}:\d{2}:\d{2}),(\d)", r"\1.\2", regex=True)
        zoned = bool(text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True,
                                       na=False).any())
        try:
            stamps = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=zoned)
            if stamps.dt.tz is not None:
                stamps = stamps.dt.tz_convert(None)
        except (ValueError, TypeError, AttributeError) as e:  # mixed time zones
            raise RecordError(f"{path}: time column {name!r} holds unreadable date-times "
                              f"({e})") from e
        if not stamps.isna().any():
            ns = stamps.to_numpy("datetime64[ns]").astype(np.int64)
            origin = int(ns[0]) if origin is None else origin
            return (ns - origin) / 1e9, origin
        bad = stamps.isna().to_numpy()
    value, line = _first_bad(bad, col, first_line)
    if value == "":
        raise RecordError(f"{path}: time column {name!r} has an empty (or NaN) cell on "
                          f"non-blank line {line}")
    raise RecordError(f"{path}: time column {name!r} holds {value!r} on non-blank line {line}, "
                      f"neither a finite number nor an ISO date-time; write the times in "
                      f"seconds or as ISO 8601 (2024-01-01 10:00:00.008)")


#: Monitor exports' placeholders for a missing sample, read as NaN in the first parse of the
#: signal columns (pandas' own, "", "NA", "N/A", "null", "nan", ..., too); other text makes
#: the columns be re-read as text (:func:`_signal_values`).
PLACEHOLDERS = ("---", "--", "-", "?")

#: Above this fraction of text cells (no number, no blank), a signal column is refused rather
#: than read as mostly gaps: it is most likely notes or alarms, not a signal with placeholders.
MAX_TEXT_FRACTION = 0.5


def _signal_values(
    col: pd.Series, path: Path, name: str, first_line: int, decimal: str,
    comma_decimals: bool = False,
) -> np.ndarray:
    """A signal column read as text because some cells are no number (a monitor's ``---``,
    ``-`` or ``?`` placeholders) as float32, those cells NaN like blank ones; refused when
    more than ``MAX_TEXT_FRACTION`` of the rows read hold such text. ``comma_decimals``: a
    ``;`` or tab file whose first lines showed no decimal mark (whole numbers), where a later
    comma is a decimal mark: such numbers are read, not dropped as text."""
    text = col.astype("string").str.strip()
    if decimal != ".":
        text = text.str.replace(decimal, ".", regex=False)
    elif comma_decimals:
        text = text.str.replace(r"^([+-]?\d*),(\d+)$", r"\1.\2", regex=True)
    values = pd.to_numeric(text, errors="coerce").to_numpy(np.float64, na_value=np.nan)
    bad = np.isnan(values) & text.notna().to_numpy(bool) & ~text.str.lower().isin(
        ["nan", "+nan", "-nan"]).to_numpy(bool, na_value=False)
    if bad.mean() > MAX_TEXT_FRACTION:
        value, line = _first_bad(bad, col, first_line)
        raise RecordError(
            f"{path}: column {name!r} is mostly not numbers ({bad.mean():.0%} of "
            f"{len(values)} rows, the first {value!r} on non-blank line {line}); remove the "
            f"column, or "
            f"in Python read the others with read_record(path, channels=[...])"
        )
    text_cells = bad & ~text.isin([*PLACEHOLDERS, *_PANDAS_MISSING]).to_numpy(
        bool, na_value=False)  # (stripped: "NA " is pandas' NA once its space is gone)
    if text_cells.any():  # a monitor's placeholders are expected gaps; other text is said
        value, line = _first_bad(text_cells, col, first_line)
        n = int(text_cells.sum())
        warn_at_caller(f"{path}: column {name!r}: {n} {'cell is' if n == 1 else 'cells are'} "
                       f"text, not numbers (the first {value!r} on non-blank line {line}); read "
                       "as missing samples", RuntimeWarning)
    return values.astype(np.float32)


def _warn_inf(values: np.ndarray, path: Path, name: str, first_line: int) -> None:
    """Warn of a column's infinite values (inf cells, or numbers past float32's range, about
    3.4e38), naming the column and the first such row: they count as missing samples."""
    inf = np.isinf(values)
    if inf.any():
        line = first_line + int(inf.argmax())
        warn_at_caller(f"{path}: column {name!r}: {int(inf.sum())} values are inf or beyond "
                       f"float32's range (the first on non-blank line {line}); they are read as "
                       "inf and count as missing samples", RuntimeWarning)


def read_csv(
    path: Path,
    channels: Sequence[str] | None = None,
    start: float | None = None,
    stop: float | None = None,
    fs: float | None = None,
    channel_names: Sequence[str] | None = None,
) -> Record:
    """Read a CSV of samples, one column per channel, with a time column or an explicit ``fs``.

    A time column (``Time [s]``, ``time``, ``t [ms]``, ``time_ms``...; numbers, or ISO
    date-times read as seconds from the first row) gives the rate, which must be regular, at
    least ``MIN_TIME_RATE`` Hz without ``fs``, and agree with ``fs`` when both are given (a
    column whose name states no unit is in seconds, or milliseconds where ``fs`` says so).
    ``,``, ``;`` or tab delimiters, a UTF-8 BOM, quoted names and decimal commas (``;`` or tab
    files) are read. Column names (stray spaces stripped, a unit in brackets split off, but
    for a lead or a number the brackets name: :func:`_labels_and_units`) or
    ``channel_names`` name the channels. BIDMC ``bidmc_NN_Signals.csv``
    gets record and patient id ``bidmc_NN`` and units ``NU`` (its values are scaled); other files
    take the file name as both ids (they name no patient). A span parses the rows up to its
    end (and a few past it), checks their time stamps and keeps its own; a gap before its end
    is refused (read the whole file: its missing samples are then NaN).
    Blank cells, and cells of a signal column that are no number (``---``, ``?``), are NaN; a
    column where such text fills more than ``MAX_TEXT_FRACTION`` of the rows is refused. A
    column holding values on every k-th row alone (k >= 2: a slower channel exported in a
    faster one's rows, blank between) is read at 1/k of the rows' rate (:func:`_every_kth`).
    """
    if (why := csv_not_text(path, utf16=True)) is not None:
        raise RecordError(f"{path}: {why}")
    try:
        cells, sep, decimal, marked, preamble, blank, unit_row = _csv_header(path)
    except OSError as e:
        raise RecordError(f"{path}: cannot open ({e})") from e
    except csv.Error as e:  # a quoted cell past the csv module's field limit, a NUL byte
        raise RecordError(f"{path}: its first lines are no CSV this reader parses ({e})") from e
    cells = _trimmed(cells)  # a trailing delimiter names no column
    if not any(cells):
        if _all_blank(path):
            raise RecordError(f"{path}: empty record (empty file)")
        with path.open(encoding="utf-8-sig", errors=CSV_DECODE_ERRORS, newline="") as f:
            if not any(_filled(line) for line in f):
                raise RecordError(f"{path}: empty record (comment lines and empty cells only)")
        raise RecordError(f"{path}: line {preamble + 1} holds no cell where the header or the "
                          "first row should be (a blank line there is passed over only in a "
                          "file whose lines end in \\n)")
    if len(cells) == 1 and _spaced_file(path, preamble):
        raise RecordError(f"{path}: its cells are parted by spaces, not by ',', ';' or a tab "
                          "(NumPy's savetxt writes so by default); write it with ',' between "
                          "cells (np.savetxt(..., delimiter=','))")
    # a header holds a name: a first line of numbers, blanks and placeholders is data
    has_header = any(not _is_number(c.replace(decimal, ".")) and not _is_placeholder(c)
                     for c in cells)
    time_col = next((i for i, c in enumerate(cells) if _time_unit(c) is not None), None)
    if (has_header and channel_names is not None and time_col is None
            and any(_is_number(c.replace(decimal, "."), finite=True) for c in cells)):
        # names given: a first line of numbers beside text may be a row with a gap's text
        # ("100,LEAD OFF"), which had been dropped as a header without a word
        warn_at_caller(f"{path}: line {preamble + 1} ({sep.join(cells)!r}) holds numbers but "
                       "is read as a header and passed over (it holds text too); if it is a "
                       "row of samples, write a header line above it", RuntimeWarning)
    if not has_header:
        time_col = None
    data_cols = [i for i in range(len(cells)) if i != time_col]
    if not data_cols:  # a time column alone (it had read as a record of no channels)
        raise RecordError(f"{path}: empty record (no column beside the time column)")
    labels, units = (_labels_and_units([cells[i] for i in data_cols]) if has_header
                     else ([], []))
    if channel_names is not None:
        if len(channel_names) != len(data_cols):
            raise RecordError(
                f"{path}: {len(channel_names)} channel_names for {len(data_cols)} data columns"
            )
        # their units, as a header's (ABP_cmH2O had read as mmHg), else the header's
        labels, named = _labels_and_units(list(channel_names))
        units = [u or (units[k] if units else "") for k, u in enumerate(named)]
    elif not has_header:
        raise RecordError(f"{path}: no header line; add one naming the columns, e.g. "
                          f"'Time [s],PLETH,II', or in Python call "
                          f"read_record(path, fs=..., channel_names=[...])")
    if time_col is None and fs is None:
        timed = next((c for c in cells if _TIME.match(name := _split_unit(c)[0].strip().lower())
                      and (unit := _split_unit(c)[1].strip().lower())
                      and (_OTHER_TIME_UNIT.fullmatch(unit) or name != "t")),
                     None)  # Time [min], Timestamp (UTC); T [degC] is a temperature
        if timed is not None:  # "Time [min]": a time column in a unit not read
            raise RecordError(f"{path}: column {timed!r} is read as no time column: its unit "
                              f"{_split_unit(timed)[1] or timed!r} is not one read; give the "
                              "times in seconds ('Time [s]') or milliseconds ('Time [ms]'), or "
                              "in Python call read_record(path, fs=...)")
        raise RecordError(f"{path}: no time column; add one in seconds named 'Time [s]' (or "
                          f"in milliseconds, 'Time [ms]'), or in Python call "
                          f"read_record(path, fs=...)")

    skip = preamble + int(has_header) + int(has_header and unit_row)  # lines before the first row
    numbered = skip - blank  # the non-blank ones, as errors number a row's line
    _check_row_widths(path, sep, len(cells), skip)
    bidmc = _BIDMC.match(path.stem)
    record_id = bidmc.group(1) if bidmc else path.stem
    names = canonical_names(list(labels))
    if channels is not None:
        # a column asked for by its whole header cell or channel_names entry, unit and all
        # ('ECG [mV]'; an entry's had been matched by its label alone: another column)
        given = [cells[i] for i in data_cols] if channel_names is None else list(channel_names)
        written: dict[str, str] = {}  # the first column of a cell (by its label, a header
        for cell, name in zip(given, names, strict=True):  # cell named ecg_ii had been the
            written.setdefault(cell, name)  # first column of that name)
        channels = [c if c in names else written.get(c, c)  # a canonical name first (the
                    for c in ([channels] if isinstance(channels, str)  # readers ask so)
                                                else channels)]
    picked = select_channels(names, channels, path, list(labels))
    if not picked:  # channels=[]: the names only
        return Record(record_id, {}, {}, patient_id=record_id if bidmc else
                      patient_from_path(path, record_id), source=str(path))
    rate = float(fs) if fs is not None else 0.0
    t_first = 0.0
    scale = 1.0
    origin: int | None = None
    if time_col is not None:
        time_name, unit = cells[time_col], _time_unit(cells[time_col])
        scale = 1e-3 if unit == "ms" else 1.0
        head = _parse(path, [time_col], skip, _HEAD_ROWS, [], sep, decimal)
        if len(head) == 0:
            raise RecordError(f"{path}: empty record (no rows)")
        t_head, origin = _seconds(head[time_col], scale, None, path, time_name, numbered + 1,
                                  decimal)
        span = float(t_head[-1] - t_head[0])
        if unit == "" and origin is None and fs is not None and span > 0 and (
            (len(t_head) - 1) / span * 1e3**0.5 < fs
        ):  # fs is nearer the rate of the values as milliseconds than as seconds
            scale, t_head = 1e-3, t_head * 1e-3
        t_first = float(t_head[0])
        try:
            rate = _csv_rate(t_head, 0, t_first, fs, path)
        except _UntoldRate:  # stamps of a rate no waveform has (Excel's serial days, 1e7 Hz,
            # had been "too few rows to tell the rate", which fs= did not mend): said so
            if fs is None and span > 0 and not (
                    MIN_TIME_RATE <= (len(t_head) - 1) / span <= MAX_TIME_RATE):
                rate = (len(t_head) - 1) / span
            else:
                raise
        except RecordError as err:  # regular but for gaps: samples on the grid, NaN between
            try:
                rate = _gap_grid(t_head, t_first, fs, path, err, whole=False)[0]
            except RecordError:  # or of significant figures, its first rows past 100 s
                found = None if origin is not None else _significant_rate(
                    t_head, t_first, fs, path, _printed_resolution(t_head))
                if found is None:
                    raise
                rate = found[0]
        if fs is None and rate < MIN_TIME_RATE:
            hint = ("is it a file of trends?" if unit == "ms" else
                    "if its values are milliseconds, name the column 'Time [ms]'"
                    + (" (or in Python call read_record(path, fs=...) with the rate)"
                       if unit == "" else ""))
            raise RecordError(
                f"{path}: time column {time_name!r} gives {rate:.6g} Hz, implausibly low for a "
                f"waveform (below {MIN_TIME_RATE:g} Hz); {hint}"
            )
        if fs is None and rate > MAX_TIME_RATE:
            hint = ("if its values are seconds, name the column 'Time [s]'" if unit == "ms" else
                    "are its values in seconds? (milliseconds: name the column 'Time [ms]', "
                    "or in Python call read_record(path, fs=...) with the rate; a "
                    "spreadsheet's days are not read: write seconds)")
            raise RecordError(
                f"{path}: time column {time_name!r} gives {rate:.6g} Hz, implausibly high for "
                f"a monitor's waveform (above {MAX_TIME_RATE:g} Hz); {hint}"
            )
    i0, i1 = sample_span(start, stop, rate, sys.maxsize, path)
    spanned = bool(i0) or i1 != sys.maxsize
    cols = ([time_col] if time_col is not None else []) + [data_cols[i] for i in picked]
    # the rows up to the span's end, and a margin: the rate of the first rows alone may be off
    # by a fraction of a sample over them; every row read up to the span fits it again below
    last = None if i1 == sys.maxsize else i1 + 10 + i1 // 1000
    if last is None or last > _HEAD_ROWS:  # the lines read past those checked first
        _check_row_widths(path, sep, len(cells), skip, _HEAD_ROWS, last)
    # Rows before the span are parsed and dropped, not skipped as lines: pandas' skiprows
    # counts blank lines (and each "\r" of "\r\r\n"), which are no rows.
    table = _parse(path, cols, skip, last, [data_cols[i] for i in picked], sep, decimal)
    if len(table) == 0:
        raise RecordError(f"{path}: empty record (no rows)")
    if last is None:  # read to the end: a last line cut while written is said
        _warn_cut_tail(path, sep, len(cells))
    grid = None  # sample index of each row, where the time column has gaps
    if time_col is not None:
        # every row up to the span's end is checked, not the span's alone: a gap before it
        # would shift the span (a rate fitted to the span's rows absorbs the missing samples)
        t = _seconds(table[time_col], scale, origin, path, cells[time_col], numbered + 1,
                     decimal)[0]
        # rows up to a span's end among the first rows read: their rate (fewer rows fit a
        # rate less surely; coarse stamps of a short span had read at 247 Hz, the file at 250)
        known = fs if fs is not None or len(t) > len(t_head) else rate
        resolution: float | np.ndarray = _printed_resolution(t)  # once for every row
        try:
            rate = _csv_rate(t, 0, t_first, known, path, resolution)
        except RecordError as err:
            try:
                rate, grid = _gap_grid(t, t_first, known, path, err, resolution=resolution)
            except RecordError:  # printed to significant figures (MATLAB)? each stamp read
                found = None if origin is not None else _significant_rate(  # at its own step
                    t, t_first, known, path, resolution)
                if found is None:
                    raise
                rate, resolution = found
            if grid is not None and spanned:  # rows before the first gap are samples: a span
                # among them is cut
                off_grid = np.flatnonzero(grid != np.arange(len(grid)))
                regular = int(off_grid[0]) if len(off_grid) else len(grid)
                if regular > 1:
                    rate = _csv_rate(t[:regular], 0, t_first, known, path)
                if regular <= 1 or sample_span(start, stop, rate, sys.maxsize, path)[1] > \
                        regular:
                    raise RecordError(f"{path}: the time column has gaps "
                                      f"({int(grid[-1] + 1 - len(t))} samples missing by the "
                                      "span's end): read the whole file (no start/stop)"
                                      ) from None
                grid = None
        if spanned:  # on the rate of all those rows (a fraction of a Hz: rows drift)
            i0, i1 = sample_span(start, stop, rate, sys.maxsize, path)
        if grid is None and _blind_to_a_missing_sample(resolution, rate):
            warn_at_caller(f"{path}: its time stamps, printed to {_printed(resolution, t)}, "
                           f"resolve no single sample at {rate:g} Hz: its rows are read as "
                           "samples without a gap (a missing sample would go unseen); write the "
                           "stamps with more decimals to have them checked", RuntimeWarning)
    table = table.iloc[i0:None if i1 == sys.maxsize else i1].reset_index(drop=True)
    if len(table) == 0:
        raise RecordError(f"{path}: span {start}..{stop} s lies outside the record")
    signals, rates = {}, {}
    for i in picked:
        col = table[data_cols[i]]
        # a column named as its header cell names it, else by channel_names (the first row's
        # sample had named it)
        column = cells[data_cols[i]] if has_header else labels[i]
        values = (col.to_numpy(np.float32) if col.dtype == np.float32
                  else _signal_values(col, path, column, numbered + i0 + 1, decimal,
                                      sep != "," and not marked))
        _warn_inf(values, path, column, numbered + i0 + 1)
        if grid is not None:  # the gaps' samples are missing: NaN, as a blank cell is
            filled = np.full(int(grid[-1]) + 1, np.nan, dtype=values.dtype)
            filled[grid] = values
            values = filled
        values, every = _every_kth(values)
        signals[names[i]] = np.ascontiguousarray(values)
        rates[names[i]] = rate / every
    unit_of = {names[i]: ("NU" if bidmc else units[i] if units else "") for i in picked}
    return Record(
        record_id=record_id,
        signals=signals,
        fs=rates,
        units=unit_of,
        patient_id=record_id if bidmc else patient_from_path(path, record_id),
        source=str(path),
        start_time=i0 / rate,
    )


def _every_kth(values: np.ndarray) -> tuple[np.ndarray, int]:
    """A column's samples and k, where its finite values (eight or more) all fall on every
    k-th row, k >= 2, and fill at least half of those rows: a channel sampled k times slower
    than the rows (a PPG at 125 Hz beside an ECG at 250 Hz, its cells between blank), read as
    every k-th cell, each sample at the slower rate's time nearest to its row's (at most half
    its period off: a NaN first where its rows start past half its period); else ``values``
    and 1 (a few scattered values, marks or a sensor mostly off, keep their rows' times).
    (Read as they were, half its samples had been NaN: "50 % NaN", unusable.)"""
    at = np.flatnonzero(np.isfinite(values))
    if len(at) < 8:
        return values, 1
    k = int(np.gcd.reduce(np.diff(at)))
    if k < 2:
        return values, 1
    first = int(at[0]) % k
    kept = values[first::k]
    if np.isfinite(kept).mean() < 0.5:  # scattered values on a common step by chance
        return values, 1
    if 2 * first > k:  # its samples nearer the next slower sample's time than this one's
        kept = np.concatenate([np.full(1, np.nan, values.dtype), kept])
    return kept, k


def _warn_cut_tail(path: Path, sep: str, width: int) -> None:
    """Warn where a CSV's last line has no line end and fewer cells than its first row names:
    a file cut while written (its missing cells read as gaps, its last cell maybe cut short:
    0.71 of 0.71394)."""
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 65536))
        tail = f.read()
    if not tail or tail.endswith((b"\n", b"\r")):
        return
    line = re.split(rb"\r\n|\r|\n", tail)[-1].decode("utf-8", errors=CSV_DECODE_ERRORS)
    try:  # every cell, empty ones too: a whole row of gaps at the end is no cut
        row = next(csv.reader([line], delimiter=sep, skipinitialspace=True), [])
    except csv.Error:  # a check, never a refusal
        return
    if 0 < len(_trimmed(row)) and len(row) < width:
        warn_at_caller(f"{path}: its last line ends without a line end and holds {len(row)} of "
                       f"{width} cells: a file cut while written? Its missing cells read as "
                       "gaps, and its last cell may be cut short", RuntimeWarning)


def _trimmed(cells: list[str]) -> list[str]:
    """``cells`` without the empty ones at the end (a line's trailing delimiter)."""
    while cells and not cells[-1].strip():
        cells = cells[:-1]
    return cells


def _check_row_widths(path: Path, sep: str, width: int, skip: int, first: int = 0,
                      stop: int | None = _HEAD_ROWS) -> None:
    """Refuse a CSV whose data lines ``first``..``stop`` (None: to the end) hold more cells
    than its first row names: the columns would be read shifted (an unquoted ``1,234.5`` in
    a comma file; pandas drops the extra cell without a word). Empty cells at a line's end (a
    trailing delimiter) are not counted. Past the first lines, only the lines with enough
    delimiters to be wide are parsed as CSV (a quoted cell may hold a delimiter, never fewer)."""
    if stop is not None and stop - first <= _HEAD_ROWS:
        with path.open(encoding="utf-8-sig", errors=CSV_DECODE_ERRORS, newline="") as f:
            rows = itertools.islice(csv.reader(f, delimiter=sep, skipinitialspace=True),
                                    skip + first, skip + stop)
            for n, row in enumerate(rows, start=skip + first + 1):  # cells as pandas reads
                _refuse_wide(path, n, _trimmed(row), width)
        return
    line0 = 0  # the index of the chunk's first line in the file
    with path.open("rb") as f:  # in chunks of whole lines: memory stays bounded
        tail = b""
        while True:
            chunk = f.read(_WIDTH_CHUNK)
            data = tail + chunk
            if not chunk:
                if not data:
                    return
                cut = len(data)  # a last line without its newline
            else:
                cut = data.rfind(b"\n") + 1
                if cut == 0:  # no line ends in this chunk: read on
                    tail = data
                    continue
            data, tail = data[:cut], data[cut:]
            line0 = _check_wide_lines(path, data, line0, sep, width, skip + first,
                                      None if stop is None else skip + stop)
            if not chunk or (stop is not None and line0 >= skip + stop):
                return


#: Bytes of a CSV read at a time by the width check past its first lines.
_WIDTH_CHUNK = 1 << 24


def _check_wide_lines(path: Path, data: bytes, line0: int, sep: str, width: int, first: int,
                      stop: int | None) -> int:
    """:func:`_check_row_widths` on ``data``, whole lines of which the first is line
    ``line0`` (0-based) of the file; returns the index of the line after them."""
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == ord("\n"))
    if len(buf) and buf[-1] != ord("\n"):
        ends = np.r_[ends, len(buf)]  # a last line without its newline
    starts = np.r_[0, ends[:-1] + 1]
    delimiters = np.flatnonzero(buf == ord(sep))
    per_line = np.diff(np.r_[0, np.searchsorted(delimiters, ends)])
    lines = line0 + np.arange(len(ends))
    keep = (lines >= first) & (per_line >= width)
    if stop is not None:
        keep &= lines < stop
    for i in np.flatnonzero(keep):
        text = data[starts[i]:ends[i]].decode("utf-8-sig", errors=CSV_DECODE_ERRORS)
        row = next(csv.reader([text], delimiter=sep, skipinitialspace=True), [])
        _refuse_wide(path, int(lines[i]) + 1, _trimmed(row), width)
    return line0 + len(ends)


def _refuse_wide(path: Path, line: int, row: list[str], width: int) -> None:
    if len(row) > width:
        raise RecordError(f"{path}: line {line} has {len(row)} cells, the first row "
                          f"names {width} (an unquoted comma in a number, or a column "
                          "the first row does not name?)")


def _parse(
    path: Path, cols: list[int], skip: int, nrows: int | None, numeric: list[int],
    sep: str = ",", decimal: str = ".",
) -> pd.DataFrame:
    """Rows ``skip``.. (``nrows`` of them) of the columns ``cols`` of a CSV, the ``numeric``
    ones as float32, or all as text when one of them holds a cell that is no number (a time
    column may hold date-times)."""
    if not cols:
        return pd.DataFrame(index=range(0))

    def read(dtype: type) -> pd.DataFrame:
        return pd.read_csv(
            path, header=None, skiprows=skip, nrows=nrows, usecols=cols,
            dtype=dict.fromkeys(numeric, dtype), skipinitialspace=True, engine="c", sep=sep,
            decimal=decimal, encoding="utf-8-sig", encoding_errors=CSV_DECODE_ERRORS,
            na_values=dict.fromkeys(numeric, PLACEHOLDERS),
        )

    try:
        try:
            with np.errstate(over="ignore"):  # a number past float32's range: inf, named later
                return read(np.float32)
        except ValueError as e:
            if not numeric or isinstance(e, (pd.errors.ParserError, pd.errors.EmptyDataError)):
                raise
            return read(str)  # "could not convert string to float": the caller reads the text
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=cols)
    except (ValueError, pd.errors.ParserError) as e:
        if "Usecols do not match columns" in str(e):  # pandas sizes the table by its first line
            missing = [int(k) + 1 for k in re.findall(r"\d+", str(e).split(":")[-1])]
            raise RecordError(f"{path}: the first data line (line {skip + 1}) holds fewer cells "
                              f"than the first row names: column(s) {missing} missing") from e
        raise RecordError(f"{path}: corrupt CSV ({e})") from e


def _load_fault(path: Path, err: Exception, kind: str) -> RecordError:
    """What NumPy's failure to load ``path`` says of it: an array of Python objects (its
    "allow_pickle" error had read as a corrupt file), else a truncated or corrupt file."""
    if "Object arrays" in str(err) or "Python objects" in str(err):  # .npz, .npy (mmap)
        return RecordError(f"{path}: an array holds Python objects (saved from a list of arrays "
                           "or of mixed types?), not numbers: save each channel as a numeric "
                           "array")
    return RecordError(f"{path}: truncated or corrupt {kind} file ({err})")


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
        raise RecordError(
            f"{path}: a .npy file holds no rate or channel names, so only Python reads it, "
            f"with read_record(path, fs=..., channel_names=[...]); for the command line save "
            f"it as an .npz with its channel names and an 'fs' entry in Hz: "
            f"np.savez('{path.stem}.npz', x=x, fs=125.0, channel_names=['PLETH', 'II'])"
        )
    head = file_head(path)
    if not head.startswith(_NPY_MAGIC):  # a zip had been an AttributeError, a text "pickled
        # data", with NumPy's advice to load it unsafely
        raise RecordError(f"{path}: not a valid .npy file; it is corrupt, or of another format "
                          f"({_other_format(head, (_NPY_MAGIC,), 'an .npz (zip) renamed?')})")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise _load_fault(path, e, ".npy") from e
    return _rows_record(path, arr, list(channel_names), channels, start, stop, float(fs))


def _rows_record(path: Path, arr: np.ndarray, channel_names: list[str],
                 channels: Sequence[str] | None, start: float | None, stop: float | None,
                 fs: float, of: str = "") -> Record:
    """The record of ``arr``'s rows (``[channels, samples]``; 1-D: one channel) at ``fs``,
    named by ``channel_names`` as a CSV header's cells are: a ``.npy``'s, and an ``.npz``'s
    one 2-D array beside its ``channel_names`` (``of`` names it in a refusal: `` ('x')``).
    Only the span is converted (from a memory-mapped ``.npy``, only it read from disk)."""
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.dtype.kind not in "iuf":
        raise RecordError(f"{path}: expected a real [channels, samples] array{of}, got "
                          f"shape {arr.shape} dtype {arr.dtype}")
    if len(channel_names) != arr.shape[0]:
        hint = (f" (an array of [samples, channels] {arr.shape}? save arr.T, "
                "[channels, samples])" if len(channel_names) == arr.shape[1] else "")
        raise RecordError(f"{path}: {len(channel_names)} channel_names for {arr.shape[0]} rows"
                          + hint)
    labels, stated = _labels_and_units(channel_names)  # as a CSV header's
    names = canonical_names(labels)
    picked = select_channels(names, channels, path, channel_names)
    if arr.shape[1] == 0:
        raise RecordError(f"{path}: empty record (no samples)")
    if arr.shape[0] == 0:  # as an .npz of no arrays is
        raise RecordError(f"{path}: empty record (no channels)")
    i0, i1 = sample_span(start, stop, fs, arr.shape[1], path)
    signals = {names[i]: _float32(arr[i, i0:i1], path, names[i]) for i in picked}
    return Record(path.stem, signals, {n: fs for n in signals},
                  units={names[i]: stated[i] for i in picked},
                  patient_id=patient_from_path(path, path.stem), source=str(path),
                  start_time=i0 / fs)


def _float32(x: np.ndarray, path: Path, name: str) -> np.ndarray:
    """A NumPy file's channel as float32, values past its range (about 3.4e38) named in a
    warning (numpy's "overflow encountered in cast" had named no file): read as inf, they
    count as missing samples."""
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(x, dtype=np.float32)
    past = np.isinf(out) & ~np.isinf(x)
    if past.any():
        warn_at_caller(f"{path}: channel {name!r}: {int(past.sum())} values beyond float32's "
                       f"range (the first at sample {int(past.argmax())}); they are read as inf "
                       "and count as missing samples", RuntimeWarning)
    return out


def _npz_rate(path: Path, value: np.ndarray, key: str = "fs") -> float:
    """A ``.npz`` file's rate entry ``key`` (``fs``, ``fs_PPG``) as a rate: one positive finite
    number, as a scalar or an array of one element (``np.array([125.0])``)."""
    if value.size != 1 or value.dtype.kind not in "iuf":
        raise RecordError(f"{path}: {key!r} entry must be one number, got shape {value.shape} "
                          f"dtype {value.dtype}")
    rate = float(value.reshape(-1)[0])
    if not math.isfinite(rate) or rate <= 0:
        raise RecordError(f"{path}: {key!r} entry must be a positive finite rate in Hz, got "
                          f"{rate}")
    return rate


#: The first bytes of a zip file (one with members, or an empty one), as an .npz is.
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_NPY_MAGIC = b"\x93NUMPY"


def _other_format(head: bytes, magics: tuple[bytes, ...], sibling: str) -> str:
    """What a NumPy file whose first bytes ``head`` lack each of its ``magics`` seems to be:
    empty, cut short, ``sibling`` (the other NumPy format, renamed), gzip-compressed, other
    binary data, else a text."""
    if not head:
        return "it is empty"
    if any(m.startswith(head) for m in magics):
        return "it is cut short"
    if head[:4] in _ZIP_MAGIC or head.startswith(_NPY_MAGIC):
        return sibling
    if head[:2] == b"\x1f\x8b":
        return "gzip-compressed: decompress it (gunzip) first"
    return "binary data of another kind" if b"\0" in head else "a CSV or text renamed?"


#: Channels under one ``fs`` whose lengths differ by this factor or more are named in a
#: warning: most likely channels of different rates saved with one rate.
SHARED_RATE_LENGTHS = 1.5


def _warn_shared_rate(path: Path, lengths: dict[str, int], rate: float | None) -> None:
    """Warn when the channels an ``.npz`` reads at its one ``fs`` (key -> samples) differ
    in length by :data:`SHARED_RATE_LENGTHS` or more (an ECG at 250 Hz beside a PPG at 125
    Hz, saved with ``fs=125``, had read as a record twice as long, its ECG at half speed)."""
    if rate is None or len(lengths) < 2 or (max(lengths.values())
                                            < SHARED_RATE_LENGTHS * min(lengths.values())):
        return
    said = ", ".join(f"{k} {n} ({n / rate:.6g} s)" for k, n in lengths.items())
    warn_at_caller(f"{path}: the channels read at its one fs={rate:g} Hz differ in length: "
                   f"{said}; if their rates differ, save each channel's as fs_<KEY> "
                   f"(np.savez(..., fs_{max(lengths, key=lengths.get)}=...))", RuntimeWarning)


def _npz_member(path: Path, npz: np.lib.npyio.NpzFile, key: str) -> np.ndarray:
    """``npz[key]``, its header read first: a member that is no NumPy array (numpy hands it
    back as bytes, an AttributeError later), or that declares more bytes than it holds (a
    70-kB file declaring 10^6 x 10^6 samples had asked for 3.6 TiB, a MemoryError that
    stopped a batch as the machine's fault), is the file's fault, named."""
    name = key if key in npz.zip.namelist() else f"{key}.npy"
    info = npz.zip.getinfo(name)
    with npz.zip.open(name) as f:
        try:
            version = np.lib.format.read_magic(f)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read(f)
        except ValueError as e:
            raise RecordError(f"{path}: member {name!r} is no NumPy array ({e})") from None
        held = info.file_size - f.tell()
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if need > held and not dtype.hasobject:  # (pickled objects: refused as such when read)
        raise RecordError(f"{path}: array {key!r} declares shape {tuple(shape)} of {dtype} "
                          f"({need} bytes) but holds {held} bytes: a corrupt or foreign file")
    return npz[key]


def _npz_own_rates(path: Path, npz: np.lib.npyio.NpzFile
                   ) -> tuple[dict[str, float], dict[str, str]]:
    """The ``fs_<KEY>`` entries of a ``.npz`` (of one value: an array of samples so named is a
    channel): each array key's own rate, and the entry that gave it. ``KEY`` names its array
    as written, or in another case, or by another label of the same channel (``fs_ppg`` for
    ``PLETH``); one naming no array, or several, is refused (``fs_PLETH`` beside ``Pleth`` had
    been passed over, the PPG read at the file's ``fs``, and the entry read as a channel)."""
    entries = [k for k in npz.files
               if k.lower().startswith("fs_") and _npz_member(path, npz, k).size == 1]
    # the arrays (an fs_ entry of samples, fs_signal, is one)
    arrays = [k for k in npz.files if k.lower() != "fs" and k not in entries]
    # each key's channel as the file reads it (ABP [Pa]: abp; ART (Mean) beside ART: none)
    read_as = dict(zip(arrays, map(canonical_channel, _labels_and_units(arrays)[0]),
                       strict=True))
    own: dict[str, float] = {}
    given: dict[str, str] = {}
    for entry in entries:
        name = entry[3:]
        keys = ([name] if name in arrays else
                [k for k in arrays if k.lower() == name.lower()]
                # KEY read as a cell among the file's (ABP (Mean) beside ART: a number)
                or [k for k in arrays if read_as[k] == canonical_channel(
                    _labels_and_units([*arrays, name])[0][-1])])
        if len(keys) != 1:
            raise RecordError(f"{path}: {entry!r} gives a rate for "
                              + (f"several arrays ({', '.join(keys)})" if keys else
                                 f"no array of the file (its arrays: {', '.join(arrays)})")
                              + "; name it fs_<KEY>, KEY one array's key as written")
        if keys[0] in own:
            raise RecordError(f"{path}: two entries give the rate of array {keys[0]!r}; keep "
                              "one")
        own[keys[0]] = _npz_rate(path, _npz_member(path, npz, entry), entry)
        given[keys[0]] = entry
    return own, given


def _npz_file_rate(path: Path, npz: np.lib.npyio.NpzFile) -> tuple[list[str], float | None]:
    """A ``.npz``'s own rate entry (``fs``, or ``FS``; as a list, empty where there is none)
    and the rate it gives; two such entries are refused."""
    rate_keys = [k for k in npz.files if k.lower() == "fs"]  # FS too, as FS_PLETH
    if len(rate_keys) > 1:
        raise RecordError(f"{path}: entries {', '.join(rate_keys)} each give the file's "
                          "rate; keep one")
    return rate_keys, (_npz_rate(path, _npz_member(path, npz, rate_keys[0]), rate_keys[0])
                       if rate_keys else None)


def _npz_rows(path: Path, npz: np.lib.npyio.NpzFile, channels: Sequence[str] | None,
              start: float | None, stop: float | None, fs: float | None) -> Record | None:
    """The record of a ``.npz`` of one 2-D array and a ``channel_names`` entry (in any case;
    a 1-D array of strings) naming its rows, ``[channels, samples]``, or its columns where
    only they match (``np.savez(path, x=X, fs=125.0, channel_names=np.array(["II",
    "PLETH"]))`` had been refused: "array 'x' is not a non-empty real 1-D signal"), read as
    a ``.npy`` is (:func:`_rows_record`) at the file's ``fs`` (or the ``fs`` argument); None
    for a file without ``channel_names``, or without an array of two axes or more (one
    1-D array a channel: :func:`read_npz`'s own layout). Its rows share one rate: an
    ``fs_<KEY>`` entry is refused, as are a second array beside it, or one of other than two
    axes."""
    names_keys = [k for k in npz.files if k.lower() == "channel_names"]
    if not names_keys:
        return None
    if len(names_keys) > 1:
        raise RecordError(f"{path}: entries {', '.join(names_keys)} each name the channels; "
                          "keep one")
    key = names_keys[0]
    own = [k for k in npz.files if k.lower().startswith("fs_")
           and _npz_member(path, npz, k).size == 1]
    others = [k for k in npz.files if k != key and k.lower() != "fs" and k not in own]
    arrays = {k: _npz_member(path, npz, k) for k in others}
    # a scalar (an id, a label) is no array of samples: beside them, as in the other layout
    others = [k for k, x in arrays.items() if x.ndim >= 1]
    if len(others) == 1 and arrays[others[0]].ndim == 1 and \
            _npz_member(path, npz, key).size == 1:  # one 1-D channel, as a 1-D .npy's (the
        arrays[others[0]] = arrays[others[0]][None]  # .npy hint's layout had been skipped)
    if all(x.ndim < 2 for x in arrays.values()):  # (a scalar id beside them: as before too)
        return None  # one array per channel, as before (a list of their names beside is
        # then an array of text: refused unless channels= leaves it out)
    if len(others) != 1:
        said = ", ".join(f"{k} {arrays[k].shape}" for k in others) or "none"
        raise RecordError(f"{path}: {key!r} names the rows of one [channels, samples] array, "
                          f"but the file holds {len(others)} arrays beside its rates ({said}); "
                          "save one 2-D array with its channel_names, or one 1-D array per "
                          "channel keyed by its name")
    names = _npz_member(path, npz, key)
    if names.ndim != 1 or names.dtype.kind not in "US":
        raise RecordError(f"{path}: {key!r} must be a 1-D array of strings, one a channel "
                          f"(np.array(['II', 'PLETH'])), got shape {names.shape} dtype "
                          f"{names.dtype}")
    labels = [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n)
              for n in names.tolist()]
    if own:
        raise RecordError(f"{path}: {', '.join(own)} give(s) a channel's own rate, but the rows "
                          f"of array {others[0]!r} that {key!r} names share one: give it as "
                          "'fs'")
    rate_keys, file_fs = _npz_file_rate(path, npz)
    if fs is not None and file_fs is not None and not np.isclose(fs, file_fs):
        raise RecordError(f"{path}: fs={fs} Hz is none of the file's rates "
                          f"({rate_keys[0]}={file_fs:g} Hz)")
    rate = file_fs if file_fs is not None else fs
    if rate is None:
        raise RecordError(f"{path}: no 'fs' entry for the channels of {others[0]!r}; save the "
                          "rate in Hz beside them (np.savez(..., fs=125.0)), or in Python call "
                          "read_record(path, fs=...)")
    x = arrays[others[0]]
    if x.ndim != 2:
        raise RecordError(f"{path}: array {others[0]!r} of shape {x.shape}: the channels "
                          f"{key!r} names are one 2-D array, [channels, samples] or [samples, "
                          "channels]")
    if len(labels) != x.shape[0] and len(labels) == x.shape[1]:
        x = x.T  # [samples, channels]
    elif len(labels) != x.shape[0]:
        raise RecordError(f"{path}: {len(labels)} {key} match neither axis of array "
                          f"{others[0]!r} of shape {x.shape}: save it as [channels, samples] "
                          "or [samples, channels], one name a channel")
    return _rows_record(path, x, labels, channels, start, stop, float(rate),
                        of=f" ({others[0]!r})")


def read_npz(
    path: Path,
    channels: Sequence[str] | None = None,
    start: float | None = None,
    stop: float | None = None,
    fs: float | None = None,
) -> Record:
    """Read a ``.npz`` with one 1-D array per channel (keyed by name) and an optional ``fs``
    entry (a number, or an array of one); an ``fs`` argument must agree with it. Channels of
    other rates (a monitor's ECG at 250 Hz, its PPG at 125 Hz) give theirs as ``fs_<KEY>``
    entries (``np.savez(path, II=ecg, PLETH=ppg, fs_II=250.0, fs_PLETH=125.0)``), which take
    precedence over ``fs`` for their channel: ``KEY`` as the array's key in any case, or
    another label of its channel (``fs_ppg``); see :func:`_npz_own_rates`. Or one 2-D array
    beside a ``channel_names`` entry naming its rows, as a ``.npy``'s (or its columns, where
    only they match), at the file's ``fs`` (``np.savez(path, x=X, fs=125.0,
    channel_names=np.array(["II", "PLETH"]))``); see :func:`_npz_rows`."""
    head = file_head(path)
    if head[:4] not in _ZIP_MAGIC:  # np.load would try it as a .npy or a pickle
        raise RecordError(f"{path}: not a valid .npz (zip) file; it is corrupt, or of another "
                          f"format ({_other_format(head, _ZIP_MAGIC, 'a .npy renamed?')})")
    try:
        with np.load(path, allow_pickle=False) as npz:
            rows = _npz_rows(path, npz, channels, start, stop, fs)
            if rows is not None:
                return rows
            own, given = _npz_own_rates(path, npz)
            rate_keys, file_fs = _npz_file_rate(path, npz)
            keys = [k for k in npz.files if k not in rate_keys and k not in given.values()]
            stated = {**({rate_keys[0]: file_fs} if file_fs is not None else {}),
                      **{given[k]: r for k, r in own.items()}}
            # an fs argument must be one of the file's rates, as read_wfdb's (the file's own
            # rates go first; a file with several had refused every value), unless it is the
            # rate of channels the file gives none for (it had been refused, their rate asked for)
            rateless = file_fs is None and any(k not in own for k in keys)
            if (fs is not None and stated and not rateless
                    and not any(np.isclose(fs, r) for r in stated.values())):
                said = ", ".join(f"{k}={r:g} Hz" for k, r in stated.items())
                raise RecordError(f"{path}: fs={fs} Hz is none of the file's rates ({said})")
            rate = file_fs if file_fs is not None else fs
            if not keys:
                raise RecordError(f"{path}: empty record (no arrays)")
            labels, stated = _labels_and_units(keys)  # as a CSV header's (ABP [Pa]: abp, Pa)
            names = canonical_names(labels)
            picked = select_channels(names, channels, path, keys)
            arrays: dict[str, tuple[np.ndarray, float]] = {}
            for i in picked:
                ch_rate = own.get(keys[i], rate)
                if ch_rate is None:
                    raise RecordError(f"{path}: no 'fs' entry for channel {keys[i]!r}; save the "
                                      f"rate in Hz beside the channels (np.savez(..., fs=125.0), "
                                      f"or fs_{keys[i]}=... for this channel alone), or in "
                                      f"Python call read_record(path, fs=...)")
                x = _npz_member(path, npz, keys[i])
                if x.ndim != 1 or x.dtype.kind not in "iuf" or len(x) == 0:
                    raise RecordError(
                        f"{path}: array {keys[i]!r} is not a non-empty real 1-D signal (shape "
                        f"{x.shape}, dtype {x.dtype})" + ("; every entry but fs and fs_<KEY> "
                        "is read as a channel: keep labels and ids out of the file, or name "
                        "the channels to read (read_record(path, channels=[...]); the verbs "
                        "read only theirs)" if (x.ndim == 0 or x.dtype.kind in "SUb")
                        and channels is None else ""))
                arrays[names[i]] = x, float(ch_rate)
            _warn_shared_rate(path, {keys[i]: len(arrays[names[i]][0]) for i in picked
                                     if keys[i] not in own}, rate)
            lengths = [(r, len(x)) for x, r in arrays.values()]
            # the file's slowest waveform rate sets the start, whichever channels are read (a
            # trend's, under 10 Hz, had moved it by up to its period: 0.001 Hz, to 0), as for
            # VitalDB; a trend read starts at its own nearest sample
            known = [r for r in (own.get(k, rate) for k in keys)
                     if r is not None and r >= MIN_WAVEFORM_FS]
            spans, start_time = (aligned_spans(start, stop, lengths, path,
                                               grid=min(known) if known else None)
                                 if arrays else ([], 0.0))
            signals = {name: _float32(x[i0:i1], path, name)
                       for (name, (x, _)), (i0, i1) in zip(arrays.items(), spans, strict=True)}
            rates = {name: r for name, (_, r) in arrays.items()}
            units = {names[i]: stated[i] for i in picked}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError, zlib.error,
            tokenize.TokenError, SyntaxError, NotImplementedError) as e:
        # (zlib: a compressed member's bytes damaged; tokenize, SyntaxError: its header's
        # text; NotImplementedError: a zip version zipfile does not read)
        if isinstance(e, RecordError):
            raise
        raise _load_fault(path, e, ".npz") from e
    return Record(path.stem, signals, rates, units=units,
                  patient_id=patient_from_path(path, path.stem), source=str(path),
                  start_time=start_time)
