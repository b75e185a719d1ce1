"""WFDB records (``.hea`` with ``.dat``/``.mat``; formats 16, 212, 80, 516, multi-segment,
multi-frequency) and the labels of the PhysioNet/CinC Challenges 2015 and 2017."""

from __future__ import annotations

import contextlib
import contextvars
import csv
import datetime
import io
import math
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import wfdb
from wfdb.io.header import rx_signal

from qualityfm._caller import warn_at_caller
from qualityfm.io.base import patient_from_path, sample_span, select_channels, utf16_text
from qualityfm.io.channels import canonical_channel, canonical_names
from qualityfm.io.record import MIN_WAVEFORM_FS, UNCALIBRATED, Record, RecordError
from qualityfm.io.table_reader import CSV_DELIMITERS

#: The largest magnitude a calibrated sample may read, in any unit (ADC counts of 24 bits,
#: µV, mmHg are far below): a gain of 1e-30 had read an ECG as 1e34 mV.
MAX_PHYSICAL = 1e12
#: Challenge 2015: the alarm sounds 300 s into every record.
ALARM_TIME = 300.0
#: Challenge 2015's name of a ventricular tachycardia alarm (the header comment before the label;
#: the others are Asystole, Bradycardia, Tachycardia and Ventricular_Flutter_Fib).
VT_ALARM = "Ventricular_Tachycardia"

_ALARM_LINE = re.compile(r"^\s*(true|false)\s+alarm\s*$", re.IGNORECASE)
#: A header comment giving an event's time, as ``write_wfdb`` writes it (``event: alarm at
#: 250 s``): seconds from the record's first sample.
_EVENT_LINE = re.compile(r"^event:\s*(\w+)\s+at\s+([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)\s*s$",
                         re.IGNORECASE)
#: Challenge 2015's alarm types, as its headers name them (case, spaces and hyphens aside).
ALARM_TYPES = ("Asystole", "Bradycardia", "Tachycardia", VT_ALARM, "Ventricular_Flutter_Fib")
#: Channels whose WFDB default unit (mV, when the header states none) would be wrong: read
#: as ``NU``, stated by no header (an arterial line so is taken as mmHg, as a CSV's or a
#: NumPy file's without a unit is).
_UNITLESS_WHEN_UNSTATED = ("ppg", "resp", "abp")
#: A signal line's gain field, ``gain[(baseline)][/units]`` (``200``, ``200/mV``,
#: ``1e+03(-5)/mmHg``; a gain of 0 means uncalibrated, read as 200): what wfdb's parser reads
#: whole.
_GAIN_FIELD = re.compile(r"^-?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?(?:\(-?\d+\))?(?:/\S+)?$")
#: A signal line's format field, ``format[xsamples][:skew][+offset]`` (``16``, ``16+24``,
#: ``212``, ``16x4``), and the formats WFDB defines.
#: format[xsamples per frame][:skew][+byte offset]
_FORMAT_FIELD = re.compile(r"^(\d+)(?:x(\d+))?(?::(-?\d+))?(?:\+(\d+))?$")
_FORMATS = {"0", "8", "16", "24", "32", "61", "80", "160", "212", "310", "311", "508", "516",
            "524"}
#: Bytes per element of a little-endian MATLAB v4 matrix by its type code (double, single,
#: int32, int16, uint16, uint8).
_MAT_V4_BYTES = {0: 8, 10: 4, 20: 4, 30: 2, 40: 2, 50: 1}
_MAT_V4_NAMES = {0: "double", 10: "single", 20: "int32", 30: "int16", 40: "uint16", 50: "uint8"}
#: The MATLAB v4 type codes a ``.mat`` signal file of each WFDB format holds (wfdb2mat's).
_MAT_V4_TYPES = {"16": (30,), "32": (20,), "80": (50,), "8": (50,)}
#: Bytes per sample of the WFDB formats whose signal file size gives the sample count.
_BYTES_PER_SAMPLE = {"8": 1.0, "16": 2.0, "24": 3.0, "32": 4.0, "61": 2.0, "80": 1.0,
                     "160": 2.0, "212": 1.5, "310": 4 / 3, "311": 4 / 3}


@dataclass
class Header:
    """What a reader needs from a WFDB header, parsed without wfdb (whose parser is slow)."""

    fs: float  # frame rate
    n_frames: int | None  # None when the header does not say
    sig_names: list[str]  # as written ("II", "PLETH"...); empty for a multi-segment header
    files: list[str]  # signal file of each channel ("~" for none)
    segments: list[str]  # segment names of a multi-segment record, "~" gaps left out
    unstated: set[int]  # positions of the signals whose line gives no units (WFDB: mV)
    comments: list[str]
    #: every segment line of a multi-segment record, (name, frames), layout and "~" gaps kept
    seg_lens: list[tuple[str, int]] = field(default_factory=list)
    #: positions of the signals whose gain is 0: uncalibrated (WFDB then divides by 200);
    #: by position, as two channels may share a name
    uncalibrated: set[int] = field(default_factory=set)
    #: the units each signal line states, by position ("µV": wfdb drops what is not ASCII)
    units: dict[int, str] = field(default_factory=dict)
    #: each signal's format ("16", "212", "8") and skew in frames: the header states it in
    #: samples, rounded to whole frames as libwfdb does (``skew / spf + 0.5``, truncated)
    formats: list[str] = field(default_factory=list)
    skews: list[int] = field(default_factory=list)
    #: format-8 signals whose line states no initial value, and their ADC zero, which WFDB
    #: then takes as the first value (wfdb sums their differences from 0)
    initial_zeros: dict[int, int] = field(default_factory=dict)
    #: each signal's samples per frame and the byte its signal file's samples start at
    frame_samples: list[int] = field(default_factory=list)
    byte_offsets: list[int] = field(default_factory=list)
    #: the signals a multi-segment record's line announces (its layout's channel count)
    n_signals: int | None = None

    def signals_in(self, file: str) -> list[int]:
        """Positions of the signals stored in the signal file ``file``."""
        return [k for k, f in enumerate(self.files) if f == file]

    @property
    def multi(self) -> bool:
        return bool(self.segments)

    @property
    def data_segments(self) -> list[tuple[str, int]]:
        """The segments that hold samples or gaps: all but a layout segment (a first segment
        of length 0, whose header names the channels of a variable-layout record)."""
        variable = bool(self.seg_lens) and self.seg_lens[0][1] == 0
        return self.seg_lens[1:] if variable else self.seg_lens


def _record_line_fault(head: list[str]) -> str | None:
    """What wfdb cannot read in a record line's counter frequency, base time or base date
    (``250/1000(0) 75000 12:00:00.5 01/02/2000``), else None."""
    counter = re.fullmatch(r"[^/(]+(?:/([^(]*))?(?:\((.*)\))?", head[2]) if len(head) > 2 else None
    number = r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?"
    if counter and counter.group(1) is not None and not re.fullmatch(number, counter.group(1)):
        return f"counter frequency {counter.group(1)!r} is no number"
    if counter and counter.group(2) is not None and not re.fullmatch(number, counter.group(2)):
        return f"base counter value {counter.group(2)!r} is no number"
    for k, what in ((1, "counter frequency"), (2, "base counter value")):
        if counter and counter.group(k) is not None and re.search("[eE+]", counter.group(k)):
            # wfdb reads none there ('>' between int and None had been "a corrupt signal
            # file")
            return (f"{what} {counter.group(k)!r} is written with an exponent or a '+' sign, "
                    "which wfdb does not read: write it as a plain number")
    formats = {0: "%S", 1: "%M:%S", 2: "%H:%M:%S"}
    for k, (what, form) in enumerate((("base time", None), ("base date", "%d/%m/%Y"))):
        if len(head) <= 4 + k:
            break
        text = head[4 + k]
        if form is None:
            form = formats.get(text.count(":"), "") + (".%f" if "." in text else "")
        try:
            datetime.datetime.strptime(text, form)
        except ValueError:
            return (f"{what} {text!r} is no time, HH:MM:SS" if what == "base time"
                    else f"{what} {text!r} is no date, DD/MM/YYYY" + (
                        " (header(5)'s 0/0/0 for none is one wfdb fails on: leave it out)"
                        if re.fullmatch(r"0+/0+/0+", text) else ""))
    return None


def parse_header(path: Path) -> Header:
    """Parse a ``.hea`` file; a malformed record line or gain field raises ``RecordError``."""
    try:
        raw = path.read_bytes()
    except (OSError, ValueError) as e:  # ValueError: a name holding a NUL byte
        raise RecordError(f"{path}: cannot read header ({e})") from e
    if (why := utf16_text(raw[:4096])) is not None:  # it had read as "no sampling rate"
        raise RecordError(f"{path}: its header is {why}")
    try:  # names and units may hold µ or é: UTF-8, else a Latin-1 editor's bytes
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = [ln.strip() for ln in text.splitlines()]
    comments = [ln.lstrip("#").strip() for ln in lines if ln.startswith("#")]
    body = [ln for ln in lines if ln and not ln.startswith("#")]
    if not body:
        raise RecordError(f"{path}: corrupt WFDB header (no record line)")
    head = body[0].split()
    rate = re.split(r"[/(]", head[2])[0] if len(head) > 2 else "250"
    if re.fullmatch(r"(\d+(\.\d*)?|\.\d+)[eE][+-]?\d+", rate):  # header(5) allows it
        raise RecordError(f"{path}: its sampling rate {rate!r} is written with an exponent, "
                          "which wfdb misreads (3.6e2 as 3.6 Hz, the sample count lost): write "
                          f"it as a plain number ({float(rate):g})")
    if not re.fullmatch(r"\d+(\.\d*)?|\.\d+", rate):  # wfdb's grammar
        raise RecordError(f"{path}: corrupt WFDB header: it gives no sampling rate ({rate!r} "
                          "is no decimal number, e.g. 250 or 62.5)")
    try:
        n_sig = int(head[1])
        fs = float(rate)
        n_frames = int(head[3]) if len(head) > 3 else None
    except (IndexError, ValueError) as e:
        raise RecordError(f"{path}: corrupt WFDB header (record line {body[0]!r})") from e
    if n_sig < 0 or (n_frames is not None and n_frames < 0):
        raise RecordError(f"{path}: corrupt WFDB header (record line {body[0]!r}: a negative "
                          "count)")
    fault = _record_line_fault(head)
    if fault:  # (wfdb's failure on it had been said as a corrupt signal file)
        raise RecordError(f"{path}: corrupt WFDB header (record line {body[0]!r}: {fault})")
    if "/" in head[0]:  # multi-segment: "name/nseg nsig fs len", then "segment length" lines
        try:
            seg_lens = [(ln.split()[0], int(ln.split()[1])) for ln in body[1:]]
        except (IndexError, ValueError) as e:
            raise RecordError(f"{path}: corrupt WFDB header (segment lines {body[1:]!r})") from e
        n_seg = head[0].split("/", 1)[1]
        if not (n_seg.isascii() and n_seg.isdigit()) or int(n_seg) != len(seg_lens):
            raise RecordError(f"{path}: corrupt WFDB header (record line {body[0]!r} announces "
                              f"{n_seg} segments, {len(seg_lens)} segment lines follow)")
        if any(n < 0 for _, n in seg_lens):
            raise RecordError(f"{path}: corrupt WFDB header (a segment of a negative length: "
                              f"{next(f'{s} {n}' for s, n in seg_lens if n < 0)!r})")
        segments = [s for s, _ in seg_lens]
        foreign = next((s for s in segments if "/" in s or "\\" in s or s in (".", "..")),
                       None)
        if foreign is not None:  # ../ok/ok, /abs/x: a record of another folder, read under
            raise RecordError(  # this one's name (and hidden from that folder's listing)
                f"{path}: corrupt WFDB header (segment {foreign!r}: a segment is a record in "
                "the header's own folder, named without a path)")
        if path.stem in segments:  # a segment header is a one-segment record's
            raise RecordError(f"{path}: corrupt WFDB header (a multi-segment record that lists "
                              f"itself, {path.stem}, as a segment)")
        # units (stated or not) as each segment's header states them: see _read_segments
        return Header(fs, n_frames, [], [], [s for s in segments if s != "~"], set(), comments,
                      seg_lens=seg_lens, n_signals=n_sig)
    signal_lines = body[1:]
    if len(signal_lines) != n_sig:
        raise RecordError(
            f"{path}: corrupt WFDB header ({n_sig} signals announced, {len(signal_lines)} given)"
        )
    parts = [ln.split(maxsplit=8) for ln in signal_lines]
    names = [p[8].strip() if len(p) > 8 else "" for p in parts]
    for k, (name, p) in enumerate(zip(names, parts, strict=True)):
        signal = f"signal {k + 1}{f' {name!r}' if name else ''}"
        if not p[0].isascii():  # WFDB names files in ASCII
            raise RecordError(f"{path}: corrupt WFDB header ({signal}: its signal file name "
                              f"{p[0]!r} holds bytes that are not ASCII)")
        fmt = _FORMAT_FIELD.match(p[1]) if len(p) > 1 else None
        if fmt is not None and fmt.group(1) == "0" and p[0] != "~":  # "~": a layout's line
            raise RecordError(f"{path}: {signal} is a null signal (format 0: no samples "
                              "stored); leave its line out of the header to read the others")
        if len(p) > 1 and (fmt is None or fmt.group(1) not in _FORMATS):
            raise RecordError(
                f"{path}: corrupt WFDB header ({signal}: format field {p[1]!r} is not a WFDB "
                "format, e.g. 16, 212 or 16+24)"
            )
        if fmt is not None and int(fmt.group(3) or 0) < 0:
            raise RecordError(f"{path}: corrupt WFDB header ({signal}: format field {p[1]!r} "
                              "has a negative skew)")
        if len(p) > 2 and not _GAIN_FIELD.match(p[2]):  # wfdb would read another gain or unit
            if _GAIN_FIELD.match(p[2].replace("E", "e", 1)):  # header(5) allows a capital E
                raise RecordError(f"{path}: {signal}: its gain field {p[2]!r} is written with "
                                  "a capital E, which wfdb misreads (2E3/mV as gain 2 of unit "
                                  "'E3/mV'): write it with a small e, e.g. 2e3/mV")
            raise RecordError(
                f"{path}: corrupt WFDB header ({signal}: gain field {p[2]!r} is not "
                "gain[(baseline)][/units], e.g. 200(0)/mV)"
            )
        if len(p) > 2 and not math.isfinite(float(re.split(r"[(/]", p[2])[0])):
            raise RecordError(f"{path}: corrupt WFDB header ({signal}: gain field {p[2]!r} "
                              "is no finite number)")  # 1e400: every value had read as 0
        if fmt is not None and fmt.group(2) is not None and int(fmt.group(2)) == 0:
            raise RecordError(f"{path}: corrupt WFDB header ({signal}: format field {p[1]!r} "
                              "gives 0 samples per frame)")
    for file in dict.fromkeys(p[0] for p in parts if p[0] != "~"):
        at = [k for k, p in enumerate(parts) if p[0] == file]
        if at[-1] - at[0] + 1 != len(at):  # header(5): its signals' lines are consecutive
            raise RecordError(f"{path}: corrupt WFDB header (the lines of signal file {file}, "
                              f"signals {', '.join(str(k + 1) for k in at)}, are parted by "
                              "another file's: a file's signals are listed one after another)")
        kinds = {p[1].partition("x")[0].partition(":")[0].partition("+")[0] for p in parts
                 if p[0] == file and len(p) > 1}
        if len(kinds) > 1:  # WFDB stores one format per file: the others had read as its
            raise RecordError(f"{path}: corrupt WFDB header (signal file {file} is given the "
                              f"formats {', '.join(sorted(kinds))}: a file holds one format)")
    for k, (line, name) in enumerate(zip(signal_lines, names, strict=True)):
        _check_as_wfdb_reads(path, f"signal {k + 1}{f' {name!r}' if name else ''}", line)
    unstated = {i for i, p in enumerate(parts) if len(p) < 3 or "/" not in p[2]}
    # a gain of 0, or none (WFDB: "zero or missing"), marks a signal uncalibrated
    uncalibrated = {i for i, p in enumerate(parts)
                    if len(p) < 3 or float(re.split(r"[(/]", p[2])[0]) == 0}
    units = {i: p[2].split("/", 1)[1] for i, p in enumerate(parts)
             if len(p) > 2 and "/" in p[2]}
    fields = [_FORMAT_FIELD.match(p[1]) if len(p) > 1 else None for p in parts]
    return Header(fs, n_frames, names, [p[0] for p in parts], [], unstated, comments,
                  uncalibrated=uncalibrated, units=units,
                  formats=[f.group(1) if f else "16" for f in fields],
                  skews=[(2 * int(f.group(3) or 0) + int(f.group(2) or 1))
                         // (2 * int(f.group(2) or 1)) if f else 0 for f in fields],
                  initial_zeros={k: int(_field_int(p[4])) for k, (p, f) in
                                 enumerate(zip(parts, fields, strict=True))
                                 if len(p) == 5 and f is not None and f.group(1) == "8"
                                 and not p[0].lower().endswith(".mat") and _field_int(p[4])},
                  frame_samples=[int(f.group(2) or 1) if f else 1 for f in fields],
                  byte_offsets=[int(f.group(4) or 0) if f else 0 for f in fields])


def _check_as_wfdb_reads(path: Path, signal: str, line: str) -> None:
    """Refuse a signal line that wfdb's reader, which takes the samples' layout and scaling
    from it (this module takes names and units), would read to other values: units holding
    a character past its pattern (``0.1mmHg``, ``mm[Hg]``) or a field parted by a non-ASCII
    space end its units early, and the fields after them are lost (a baseline in the ADC
    zero field read as 0: every value shifted without a word)."""
    p = line.split(maxsplit=8)
    if len(p) < 2:
        raise RecordError(f"{path}: corrupt WFDB header ({signal}: the line {line!r} gives no "
                          "format after its signal file)")
    m = rx_signal.match(line.encode("ascii", "ignore").decode())  # as wfdb reads the file
    if m is None:
        raise RecordError(f"{path}: corrupt WFDB header ({signal}: a WFDB reader cannot read "
                          f"the line {line!r}; a signal file is named by letters, digits, - "
                          "and _ with one dot, in the header's folder)")
    fmt = _FORMAT_FIELD.match(p[1])
    gain = re.fullmatch(r"([^(/]*)(?:\((-?\d+)\))?(?:/.*)?", p[2]) if len(p) > 2 else None
    zero = p[4] if len(p) > 4 else ""
    for what, text in (("ADC zero", zero), ("initial value", p[5] if len(p) > 5 else "")):
        if _field_int(text) is None:
            raise RecordError(f"{path}: corrupt WFDB header ({signal}: its {what} field "
                              f"{text!r} is no integer)")
    try:
        step = 1.0 / abs(float(gain.group(1))) if gain and gain.group(1) else 1.0
    except (ValueError, ZeroDivisionError):
        step = 1.0  # a gain of 0: uncalibrated; none that reads: wfdb's own error below
    if step < MIN_ADC_STEP:  # 1e300 had read every value as 0: "flat", the sensor blamed
        raise RecordError(f"{path}: corrupt WFDB header ({signal}: its gain "
                          f"{gain.group(1)!r} makes one ADC step {step:.3g} of its unit, under "
                          f"the {MIN_ADC_STEP:g} read as a calibration)")
    ours = {"file": p[0], "format": fmt.group(1) if fmt else "",
            "samples per frame": (fmt.group(2) or "") if fmt else "",
            "skew": (fmt.group(3) or "").lstrip("-") if fmt else "",
            "byte offset": (fmt.group(4) or "") if fmt else "",
            "gain": gain.group(1) if gain else "",
            "baseline": _field_int((gain.group(2) if gain else None) or zero)}
    theirs = {"file": m["file_name"], "format": m["fmt"],
              "samples per frame": m["samps_per_frame"], "skew": m["skew"],
              "byte offset": m["byte_offset"], "gain": m["adc_gain"],
              "baseline": _lead_int(m["baseline"] or m["adc_zero"])}
    if ours["format"] == "8":  # differences summed from the initial value
        ours["initial value"] = _field_int(p[5] if len(p) > 5 else "")
        theirs["initial value"] = _lead_int(m["init_value"])
    for what, mine in ours.items():
        if str(theirs[what]) != str(mine):
            raise RecordError(f"{path}: corrupt WFDB header ({signal}: a WFDB reader would "
                              f"read its {what} as {theirs[what]!r}, not {mine!r}: a field "
                              "holds a character WFDB does not read there (a '+' sign; units "
                              "other than letters, digits and ^ - ? % /), or a space that is "
                              "not ASCII parts the fields)")


#: The smallest ADC step (1 / gain, in the signal's unit) read as a calibration: its values
#: then stay within float32's range (write_wfdb gives a signal spanning 1e-9 of its unit a
#: step of 1.5e-14: read back).
MIN_ADC_STEP = 1e-30


def _lead_int(text: str | None) -> int:
    """The integer a field starts with, as wfdb's ``-?\\d*`` takes it (0 for none)."""
    digits = re.match(r"-?\d*", text or "").group()
    return int(digits) if digits not in ("", "-") else 0


def _field_int(text: str | None) -> int | None:
    """The whole integer field ``text`` states (``1024.0`` too; 0 when empty), or None where
    it states none (``5.7``, ``-``, ``abc``)."""
    if not text:
        return 0
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() else None


def _read_frames(base: str, header: Header, picked: list[int], i0: int, i1: int,
                 n_frames: int | None) -> tuple[Any, list[np.ndarray], int]:
    """wfdb's record of channels ``picked`` and each one's samples of frames ``i0``..``i1``
    (``sys.maxsize``: to the file's end, returned resolved) of a one-segment WFDB file.

    Format 8 stores differences, summed from the record's first sample: a span is read from
    there and cut (wfdb would sum from the header's initial value at any start). A skewed
    channel (stored ``skew`` frames late) is read unshifted and shifted here, its samples past
    the file's ``n_frames`` missing (NaN): wfdb's own shift invents a sample there, or fails,
    for a channel of several samples per frame, or any channel of a file with a skewed one
    (the skew of a channel not asked for too). A channel read short of the span (a truncated
    file) is returned short, for the caller to refuse.
    """
    skews = [header.skews[j] if j < len(header.skews) else 0 for j in picked]
    lead = 0 if any(header.formats[j] == "8" for j in picked if j < len(header.formats)) else i0
    end = None if i1 == sys.maxsize or header.n_frames is None else i1 + max(skews, default=0)
    if end is not None and n_frames is not None:
        end = min(end, n_frames)
    with np.errstate(over="ignore"):  # a gain past any calibration: refused by the caller
        rec = wfdb.rdrecord(base, sampfrom=lead, sampto=end, channels=picked, physical=True,
                            smooth_frames=False, ignore_skew=True,  # shifted below
                            # float32 holds 24 bits: 32-bit samples less a baseline in 64
                            return_res=64 if any(header.formats[j] == "32" for j in picked)
                            else 32)
    if i1 == sys.maxsize:
        i1 = lead + rec.sig_len
    total = n_frames if n_frames is not None else lead + rec.sig_len
    out = []
    for m, skew in enumerate(skews):
        spf = int(rec.samps_per_frame[m])
        x = rec.e_p_signal[m][(i0 - lead + skew) * spf:(i1 - lead + skew) * spf]
        if picked[m] in header.initial_zeros:  # summed from the ADC zero, not wfdb's 0
            x = x + x.dtype.type(header.initial_zeros[picked[m]] / float(rec.adc_gain[m]))
        # a skewed channel's unrecorded tail, at most the span
        past = min(i1 - i0, max(0, i1 + skew - total)) * spf
        if past:
            x = np.concatenate([x, np.full(past, np.nan, dtype=x.dtype)])
        out.append(x)
    return rec, out, i1


def header_files(path: Path) -> list[Path]:
    """The files a WFDB header names: its signal files, or its segments' headers and theirs
    (none for another file, or a header that does not parse: that record is skipped)."""
    if path.suffix.lower() != ".hea":
        return []
    try:
        header = parse_header(path)
        if not header.multi:
            return [path.parent / name for name in header.files if name != "~"]
        out = []
        for seg, _ in header.seg_lens:
            if seg != "~":
                out.append(path.parent / f"{seg}.hea")
                try:  # a lost segment is read as a gap: the others' files still count
                    out += [path.parent / name for name in parse_header(out[-1]).files
                            if name != "~"]
                except RecordError:
                    pass
        return out
    except RecordError:
        return []


def is_record_header(path: Path, numerics: bool = True) -> tuple[bool, list[str]]:
    """Whether a header describes a record, and the segment names it lists.

    Layout headers (all signal files ``~``) and headers with no signal are not records, nor
    without ``numerics`` a monitor's numerics (:func:`is_numerics_header`); a header that
    cannot be parsed is (reading it raises the ``RecordError`` that says why).
    """
    try:
        header = parse_header(path)
    except RecordError:
        return True, []
    if header.multi:
        return True, header.segments
    return any(f != "~" for f in header.files) and (numerics or not _numerics(header)), []


def is_numerics_header(path: Path) -> bool:
    """Whether the header describes a record of a monitor's numerics: every channel sampled
    under :data:`~qualityfm.io.record.MIN_WAVEFORM_FS` (MIMIC's ``...n`` records beside the
    waveforms, at 1 Hz or once a minute), trends that no window reads."""
    try:
        return _numerics(parse_header(path))
    except RecordError:
        return False  # read, to say why


def _numerics(header: Header) -> bool:
    """:func:`is_numerics_header` of a parsed header."""
    if header.multi or not header.sig_names or not header.fs > 0:
        return False  # (a rate of 0 is a fault, read to say so)
    spf = header.frame_samples or [1] * len(header.sig_names)
    return max(header.fs * k for k in spf) < MIN_WAVEFORM_FS


#: The label file of a Challenge 2017 folder (record -> rhythm).
REFERENCE_FILE = "REFERENCE.csv"


#: The answer files of a Challenge 2015 folder: record, alarm type and label (true/false or
#: 1/0) per line; the Challenge's own ``ALARMS`` has no header line. Read beside the headers'
#: own labels, for records whose headers carry none (a test set's answers come apart).
ALARMS_FILES = ("alarms.csv", "ALARMS")
#: Every file beside the records that labels them.
LABEL_FILES = (REFERENCE_FILE, *ALARMS_FILES)


def rhythm_tables(path: Path) -> list[tuple[Path, str]]:
    """The ``REFERENCE.csv`` files that may label the record of header ``path``, each with
    the record's key there: the one beside it (key: its name), else the one a folder up (key:
    ``A00/A00001``: PhysioNet serves Challenge 2017 so, the records in ``training/A00`` to
    ``A08`` and the table in ``training``; its rows had matched no record)."""
    up = Path(os.path.abspath(path.parent))  # the folders as the user laid them out
    return [(path.parent.resolve() / REFERENCE_FILE, path.stem),
            (up.parent / REFERENCE_FILE, f"{up.name}/{path.stem}")]


def label_files(path: Path) -> list[Path]:
    """Every file that may label the record of header ``path`` (:data:`LABEL_FILES` beside
    it, the ``REFERENCE.csv`` a folder up)."""
    return sorted({path.parent.resolve() / n for n in LABEL_FILES}
                  | {t for t, _ in rhythm_tables(path)})


#: An answer file's label cells (lower case): the header's own words too ("True alarm": it had
#: been no label, left out unsaid beside a header labelled otherwise)
_TRUE = frozenset({"true", "1", "t", "yes", "true alarm"})
_FALSE = frozenset({"false", "0", "f", "no", "false alarm"})


def _labels_in(folder: str, name: str) -> dict | str | None:
    """The labels the table ``name`` in ``folder`` gives its records (REFERENCE.csv: record
    -> rhythm, or all of a record's rhythms as a tuple; an answer file: record -> the set of
    (alarm type, label or why none) its rows give), why it cannot be read, or None without
    one: read once per folder and version of the file (an edited file is read again)."""
    path = Path(folder) / name
    if not path.is_file():
        return None
    st = path.stat()
    return _read_labels(str(path), st.st_mtime_ns, st.st_size)


#: The largest label table read (Challenge 2017's REFERENCE.csv of 8,528 records is 0.1 MB).
MAX_LABEL_TABLE_BYTES = 64_000_000


@lru_cache(maxsize=64)
def _read_labels(path: str, mtime_ns: int, size: int) -> dict | str:
    """:func:`_labels_in`'s work: the table's cells (parted by ``,``, ``;`` or a tab,
    whichever parts most rows in two or more cells), interpreted by its name."""
    name = Path(path).name
    if size > MAX_LABEL_TABLE_BYTES:  # a 234-MB one had taken 4.3 GB and a minute a record
        return (f"{name} beside it holds {size:,} bytes, past the {MAX_LABEL_TABLE_BYTES:,} "
                "a table of labels is read to")
    try:
        text = Path(path).read_text(encoding="utf-8-sig").lstrip("\ufeff \t\r\n")

        def cells(delimiter: str) -> list[list[str]]:
            return [[c.strip() for c in row]
                    for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
                    if any(c.strip() for c in row)]

        # the delimiter that parts most rows in two or more cells (a title line aside)
        rows = max((cells(d) for d in CSV_DELIMITERS),
                   key=lambda parted: sum(len(r) >= 2 for r in parted))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        return f"{name} beside it cannot be read ({e}); save it as UTF-8 CSV"
    if not any(len(r) >= 2 for r in rows):
        return (f"{name} beside it holds no row of a record and its label (cells parted by "
                "commas, semicolons or tabs)")
    if name == REFERENCE_FILE:
        rhythms: dict[str, list[str]] = {}
        for row in rows:
            if len(row) >= 2 and row[1] not in rhythms.setdefault(row[0], []):
                rhythms[row[0]].append(row[1])
        table = {r: ls[0] if len(ls) == 1 else tuple(ls) for r, ls in rhythms.items() if ls}
        # a key of PhysioNet's layout (A00/A00001) also under the record's name, where no
        # other key has that name: a flat folder keeping the table as served
        named: dict[str, list[str]] = {}
        for key in table:
            if "/" in key.replace("\\", "/"):
                named.setdefault(key.replace("\\", "/").rsplit("/", 1)[1], []).append(key)
        table.update({n: table[keys[0]] for n, keys in named.items()
                      if len(keys) == 1 and n not in table})
        return table
    type_at, label_at = 1, 2  # record, alarm type, label
    if rows and rows[0][0].lower() == "record":  # a header line names the columns
        cells = [c.lower().replace(" ", "_") for c in rows.pop(0)]
        label_at = next((i for i, c in enumerate(cells) if c in ("label", "alarm_true",
                                                                  "true_alarm")), 2)
        type_at = next((i for i, c in enumerate(cells) if "type" in c), 1)
    answers: dict[str, set[tuple[str, bool | str]]] = {}
    for row in rows:
        at = label_at if len(row) > label_at else len(row) - 1  # record,label rows
        cell = " ".join(row[at].lower().replace("_", " ").split()) if at > 0 else ""
        said: bool | str = (True if cell in _TRUE else False if cell in _FALSE else
                            f"{name} beside it gives it {row[at]!r}, not true/false or 1/0"
                            if at > 0 else f"{name} beside it gives it no label")
        kind = row[type_at] if type_at < len(row) and type_at != at else ""
        answers.setdefault(row[0], set()).add((kind, said))
    return answers


def _alarm_answer(folder: str, record: str, header_type: str | None,
                  header_label: bool | None) -> tuple[str | None, bool | None, str | None]:
    """(alarm type, label, why the alarm has none) the answer files of ``folder`` give
    ``record``, beside its header's type and label: a disagreement (between the files, or
    with the header) leaves it without a label; an answer that does not read leaves a
    labelled header as it is."""
    answers: list[tuple[str, str, bool | str]] = []
    faults = []
    for name in ALARMS_FILES:
        table = _labels_in(folder, name)
        if isinstance(table, str):
            faults.append(table)
        elif table is not None:
            answers += [(name, kind, said) for kind, said in sorted(
                table.get(record, ()), key=str)]
    if not answers:  # an unreadable file: its records' labels unknown
        return None, None, faults[0] if faults and header_label is None else None
    files = " and ".join(dict.fromkeys(name for name, _, _ in answers))
    plural = "" if " and " in files else "s"  # "alarms.csv gives", "... and ALARMS give"
    kinds = {_normal_alarm_type(k): k for _, k, _ in answers if k}
    typed = header_type is not None and _normal_alarm_type(header_type) in _ALARM_TYPE_KEYS
    if typed and kinds and set(kinds) != {_normal_alarm_type(header_type)}:
        article = "an" if header_type[:1].lower() in "aeiou" else "a"
        return None, None, (f"its header names {article} {header_type} alarm, {files} beside "
                            f"it {' and '.join(kinds.values())}")
    if len(kinds) > 1:
        return None, None, (f"{files} beside it give{plural} it {len(kinds)} alarm types "
                            f"({', '.join(kinds.values())})")
    kind = next(iter(kinds.values()), None)
    labels = {said for _, _, said in answers if isinstance(said, bool)}
    bad = [said for _, _, said in answers if isinstance(said, str)]
    if header_label is not None:
        other = labels - {header_label}
        why = (f"its header labels the alarm {str(header_label).lower()}, {files} beside it "
               f"{str(other.pop()).lower()}") if other else None
        return kind, None if why else header_label, why
    if len(labels) > 1:
        return kind, None, f"{files} beside it label{plural} it both true and false"
    if bad:
        return kind, None, bad[0]
    return kind, labels.pop(), None


def _normal_alarm_type(name: str) -> str:
    return re.sub(r"[\s-]+", "_", name.strip()).lower()


_ALARM_TYPE_KEYS = frozenset(_normal_alarm_type(t) for t in ALARM_TYPES)


def is_vt_alarm(alarm_type: str) -> bool:
    """Whether a Challenge 2015 alarm type names ventricular tachycardia (case, spaces and
    hyphens aside: ``Ventricular_Tachycardia``, ``ventricular tachycardia``)."""
    return _normal_alarm_type(alarm_type) == VT_ALARM.lower()


def challenge_labels(
    comments: Sequence[str], path: Path
) -> tuple[dict[str, Any], dict[str, float]]:
    """Labels and events of Challenge 2015 (header comments, else an answer file beside it,
    :data:`ALARMS_FILES`; the two disagreeing leave it unlabelled) and 2017 (``REFERENCE.csv``
    beside it, else the one a folder up, :func:`rhythm_tables`)
    of the record whose header is ``path``. The alarm's type is the nearest line before its
    label that names an alarm type (other notes may lie between), else the line before it
    (another database's type, ``Brady (HR<40)``) unless that is a note of fields
    (``<age>: 69 <sex>: M``: it had been the type, and a labelled VT alarm skipped).
    An alarm labelled both true and false, or a record listed with two rhythms, is left
    unlabelled, the reason under ``labels["unlabelled"]``, by label (``{"alarm_true": why}``,
    ``{"rhythm": why}``: its signals still serve where no label is needed; a task that needs
    the label names why it has none)."""
    labels: dict[str, Any] = {}
    events: dict[str, float] = {}
    lines = [c.strip() for c in comments if c.strip()]
    said: set[bool] = set()  # the labels the alarm is given
    for i, line in enumerate(lines):
        match = _ALARM_LINE.match(line)
        if match:
            said.add(match.group(1).lower() == "true")
            labels["alarm_true"] = next(iter(said))
            typed = [t for t in lines[:i] if _normal_alarm_type(t) in _ALARM_TYPE_KEYS]
            if not typed and i > 0 and ":" not in lines[i - 1]:
                typed = [lines[i - 1]]  # another database's type: not taken for VT's
            if typed:
                labels["alarm_type"] = typed[-1]
            events["alarm"] = ALARM_TIME
        elif _normal_alarm_type(line) in _ALARM_TYPE_KEYS:
            # a new alarm, not labelled yet: its type alone marks the Challenge layout, whose
            # alarm sounds at 300 s (an 'l' record runs 30 s past it)
            labels.setdefault("alarm_type", line)
            events["alarm"] = ALARM_TIME
    for line in lines:  # a stated time (write_wfdb's) over the Challenge's 300 s
        match = _EVENT_LINE.match(line)
        if match:
            events[match.group(1)] = float(match.group(2))
    folder = str(path.parent.resolve())
    if len(said) > 1:
        del labels["alarm_true"]
        labels["unlabelled"] = {"alarm_true": "its header labels the alarm both true and false"}
    else:
        kind, label, why = _alarm_answer(folder, path.stem, labels.get("alarm_type"),
                                         labels.get("alarm_true"))
        if any(isinstance(table := _labels_in(folder, name), dict) and path.stem in table
               for name in ALARMS_FILES):  # listed: the Challenge's layout (a table's own
            events.setdefault("alarm", ALARM_TIME)  # fault gives its records no alarm)
        if kind is not None:
            labels.setdefault("alarm_type", kind)
        if why is not None:
            labels.pop("alarm_true", None)
            labels["unlabelled"] = {"alarm_true": why}
        elif label is not None:
            labels["alarm_true"] = label
    rhythm, where = None, "beside it"
    for (table_path, key), where in zip(rhythm_tables(path), ("beside it", "a folder up"),
                                        strict=True):
        table = _labels_in(str(table_path.parent), REFERENCE_FILE)
        if isinstance(table, str):  # it cannot be read
            labels.setdefault("unlabelled", {})["rhythm"] = table.replace("beside it", where)
            break
        rhythm = (table or {}).get(key, (table or {}).get(path.stem))
        if table is not None:  # the table beside it decides (the one up only where none is)
            break
    if isinstance(rhythm, tuple):
        labels.setdefault("unlabelled", {})["rhythm"] = (
            f"{REFERENCE_FILE} {where} lists {path.stem} with the labels {', '.join(rhythm)}")
    elif rhythm is not None:
        labels["rhythm"] = rhythm
    return labels, events


@dataclass
class _Signals:
    """The fields of a ``wfdb.Record`` that ``read_wfdb`` uses, for a multi-segment record."""

    sig_name: list[str]
    units: list[str]
    samps_per_frame: list[int]
    e_p_signal: list[np.ndarray]
    sig_len: int
    unstated: list[bool]  # no units on its line in the first segment read


def _layout(path: Path, header: Header) -> Any:
    """The header naming a multi-segment record's channels (a ``wfdb.Record``): its layout
    segment (a first segment of length 0), else its first segment with samples whose header
    can be read."""
    if len(header.data_segments) < len(header.seg_lens):
        names = [header.seg_lens[0][0]]
    else:
        names = [s for s, n in header.data_segments if s != "~" and n > 0]
    if not names:
        raise RecordError(f"{path}: empty record (no segment with samples)")
    faults = []
    for name in names:
        try:
            layout = _segment_layout(path, name)
        except RecordError as e:
            if name == header.seg_lens[0][0] and names == [name]:  # the layout segment
                layout = _layout_of_segments(path, header, e)
                if layout is not None:
                    return layout
            faults.append(e)
            continue
        if header.n_signals is not None and len(layout.sig_name) < header.n_signals:
            # a fixed layout whose first segment holds fewer signals had dropped the others
            # of later segments without a word (wfdb refuses such a record)
            variable = len(header.data_segments) < len(header.seg_lens)
            raise RecordError(
                f"{path}: its record line announces {header.n_signals} signals, "
                + (f"its layout segment {name} names {len(layout.sig_name)}"
                   if variable else f"segment {name} holds {len(layout.sig_name)}")
                + f" ({', '.join(layout.sig_name)})"
                + ("" if variable else ": a record whose segments hold other signals names "
                   "them all in a layout segment (a first segment of length 0)"))
        return layout
    if len(faults) > 1:
        first = str(faults[0]).removeprefix(f"{path}: ")
        raise RecordError(f"{path}: no segment header can be read: {first} (and "
                          f"{len(faults) - 1} more)") from faults[0]
    raise faults[0]


def _layout_of_segments(path: Path, header: Header, fault: RecordError) -> Any:
    """In place of a layout segment that cannot be read (``fault``; a partial download), the
    channels its data segments name, in their order of first appearance, said in a warning:
    a record whose segments are all there had been lost whole. None when they name another
    number of channels than the record line (or none can be read)."""
    layout, names, units, spf = None, [], [], []
    for name in dict.fromkeys(s for s, n in header.data_segments if s != "~" and n > 0):
        try:
            seg = _segment_layout(path, name)
        except RecordError:
            continue
        for k, channel in enumerate(seg.sig_name):
            held = names.count(channel)
            if held < seg.sig_name[:k + 1].count(channel):  # a channel (or its n-th copy) new
                names.append(channel)
                units.append(seg.units[k])
                spf.append(seg.samps_per_frame[k])
        layout = seg
    if layout is None or (header.n_signals is not None and len(names) != header.n_signals):
        return None
    layout.sig_name, layout.units, layout.samps_per_frame = names, units, spf
    warn_at_caller(f"{fault}: the channels are taken from the segments' own headers "
                   f"({', '.join(names)})")
    return layout


#: A segment header that is itself a multi-segment record (WFDB segments hold signals).
_NESTED = "its header is itself a multi-segment record (a segment holds signals, as WFDB reads it)"


def _segment_layout(path: Path, name: str) -> Any:
    """Segment ``name``'s header as a ``wfdb.Record``, its names and units as written."""
    try:
        layout = wfdb.rdheader(str(path.parent / name))
    except FileNotFoundError as e:
        raise RecordError(f"{path}: missing segment header {name}.hea") from e
    except Exception as e:  # wfdb's parser errors
        raise RecordError(f"{path}: corrupt segment header {name}.hea ({e})") from e
    # names and units as written (wfdb reads ASCII and drops the rest: "µV" -> "V"), as the
    # segments' own headers are read (parse_header)
    try:
        ours = parse_header(path.parent / f"{name}.hea")
    except RecordError as e:
        raise RecordError(f"{path}: segment {name}: {e}") from e
    if ours.multi:  # its sig_name None had raised a bare TypeError
        raise RecordError(f"{path}: segment {name}: {_NESTED}")
    if len(ours.sig_names) == len(layout.sig_name):
        layout.sig_name = ours.sig_names
        layout.units = [ours.units.get(i, u) for i, u in enumerate(layout.units)]
    return layout


def _loose_name(name: str) -> str:
    """A channel label with case, spaces, ``_`` and ``-`` aside (``ECG 1`` and ``ecg1``)."""
    return re.sub(r"[\s_-]", "", name).lower()


def _nth(layout: Sequence[str], picked: Sequence[int], among: Sequence[str]
         ) -> list[int | None]:
    """Position in ``among`` (a segment's names) of each ``picked`` layout channel: the n-th
    channel of a name in the layout is the n-th of that name in the segment, names compared
    as written, then with case, spaces, ``_`` and ``-`` aside (``ECG1``, ``ecg1``). A layout
    name the segment writes neither way is matched as a channel (``PLETH`` and ``Pleth``,
    ``III`` and ``ECG III``: it had been NaN there) where that channel is the one of its kind,
    unmatched, in both; never an unnamed lead (``ECG1`` is no ``ECG2``)."""
    out: list[int | None] = [None] * len(picked)
    for same in (str, _loose_name):
        ours, theirs = [same(n) for n in layout], [same(n) for n in among]
        for m, i in enumerate(picked):
            if out[m] is None:
                at = [j for j, other in enumerate(theirs) if other == ours[i]]
                k = ours[:i].count(ours[i])
                if k < len(at) and at[k] not in out:
                    out[m] = at[k]
    loose = [_loose_name(n) for n in layout]
    kind = [canonical_channel(name) for name in layout]
    spare = [j for j, name in enumerate(among)  # written otherwise than any layout name
             if _loose_name(name) not in loose]
    kinds = [canonical_channel(n) for n in among]
    for m, i in enumerate(picked):
        if out[m] is not None or kind[i] == "ecg" or kind.count(kind[i]) != 1:
            continue
        same_kind = [j for j in spare if kinds[j] == kind[i]]
        if len(same_kind) == 1 and kinds.count(kind[i]) == 1:
            out[m] = same_kind[0]
    return out


def _read_fault(err: Exception, files: str = "") -> str:
    """What a failed read of signal ``files`` (where known) says of them."""
    named = Path(err.filename).name if getattr(err, "filename", None) else files
    if isinstance(err, FileNotFoundError):
        return f"missing signal file {named or err}"
    if isinstance(err, PermissionError):
        return f"cannot open its signal file{' ' + named if named else ''} " \
               f"({err.strerror or err})"
    from qualityfm.io.read import machine_fault  # (read imports this module)

    if machine_fault(err) is not None:  # the machine's, not the file's (it had been named
        return (f"the machine failed reading its signal file"  # a corrupt file)
                f"{' ' + named if named else ''} ({type(err).__name__}: {err})")
    return (f"truncated or corrupt signal file{' ' + files if files else ''} "
            f"({type(err).__name__}: {err})")


class _SegmentLost(Exception):
    """A segment whose own files cannot be read; the message says why."""


class UnreadableSpanError(RecordError):
    """A multi-segment record of which no segment in the span read can be read."""


class LostSegmentsWarning(RuntimeWarning):
    """Segments of a multi-segment record that cannot be read, their frames read as a gap:
    ``lost`` maps each segment's name to why and to the frames ``(a, b)`` of it read (of
    the record), ``fs`` the record's frame rate; one warning a read (a reader of a long
    record's spans joins theirs: :meth:`joined`)."""

    def __init__(self, path: Path | str, lost: dict[str, tuple[str, int, int]],
                 fs: float) -> None:
        self.path, self.lost, self.fs = path, lost, fs
        entries = [f"segment {name}: {why}" for name, (why, _, _) in lost.items()]
        gap = sum(b - a for _, a, b in lost.values())
        what, _, why = entries[0].partition(": ")
        said = (f"{what} cannot be read ({why})" if len(entries) == 1 else
                f"{len(entries)} segments cannot be read: {'; '.join(entries[:3])}"
                f"{f'; and {len(entries) - 3} more' if len(entries) > 3 else ''}")
        super().__init__(f"{path}: {said}; {'its' if len(entries) == 1 else 'their'} {gap} "
                         f"frames ({gap / fs:.1f} s) are read as a gap (NaN)")

    @classmethod
    def joined(cls, said: list[LostSegmentsWarning]) -> LostSegmentsWarning:
        """One warning for the reads ``said`` of one record (spans that may overlap): each
        segment once, its frames those any of them read."""
        lost: dict[str, tuple[str, int, int]] = {}
        for w in said:
            for name, (why, a, b) in w.lost.items():
                was = lost.get(name, (why, a, b))
                lost[name] = (was[0], min(was[1], a), max(was[2], b))
        return cls(said[0].path, lost, said[0].fs)


#: Where :func:`lost_segments_joined` keeps the reads' lost segments (None: said at once).
_LOST_KEPT: contextvars.ContextVar[list[LostSegmentsWarning] | None] = contextvars.ContextVar(
    "lost_segments_kept", default=None)


@contextlib.contextmanager
def lost_segments_joined() -> Iterator[None]:
    """The :class:`LostSegmentsWarning` of the reads within said once, joined, at the end (the
    spans of a long record read one by one had each said the segments they touched)."""
    kept: list[LostSegmentsWarning] = []
    token = _LOST_KEPT.set(kept)
    try:
        yield
    finally:
        _LOST_KEPT.reset(token)
        if kept:
            warn_at_caller(LostSegmentsWarning.joined(kept))


def _segment(path: Path, header: Header, layout: Any, picked: list[int], name: str, a: int,
             b: int, length: int) -> tuple[Header, list[tuple[int, int]], Any, list]:
    """One segment's header, the (layout position, segment position) of each picked channel it
    holds, and its frames ``a``..``b``. Faults of the segment's own files, and a rate or sample
    count other than the record's header gives it, raise :class:`_SegmentLost`."""
    seg_path = path.parent / f"{name}.hea"
    if not seg_path.is_file():
        raise _SegmentLost(f"missing segment header {seg_path.name}")
    try:
        seg = parse_header(seg_path)
    except RecordError as e:
        raise _SegmentLost(str(e)) from e
    if seg.multi:  # no channel had matched, its frames NaN without a word
        raise _SegmentLost(_NESTED)
    if not np.isclose(seg.fs, header.fs, rtol=1e-6):
        raise _SegmentLost(f"it is sampled at {seg.fs:g} Hz, the record's header at "
                           f"{header.fs:g} Hz")
    if seg.n_frames is not None and seg.n_frames != length:  # its samples would lie elsewhere
        raise _SegmentLost(f"the record's header gives it {length} samples per signal, its own "
                           f"header {seg.n_frames}")
    wanted = [(k, j) for k, j in enumerate(_nth(layout.sig_name, picked, seg.sig_names))
              if j is not None and seg.files[j] != "~"]  # a null signal: left NaN
    if not wanted:
        return seg, wanted, None, []
    try:
        _refuse_irregular(seg_path, seg)
        _check_dat_length(seg_path, seg, [j for _, j in wanted], b)
    except RecordError as e:
        raise _SegmentLost(str(e).removeprefix(f"{seg_path}: ")) from e
    files = ", ".join(dict.fromkeys(seg.files[j] for _, j in wanted))
    try:
        rec, samples, _ = _read_frames(str(path.parent / name), seg, [j for _, j in wanted],
                                       a, b, length)
    except ImportError:
        raise
    except Exception as e:  # named by the segment's file, not the master header
        raise _SegmentLost(_read_fault(e, files)) from e
    for m, (_, j) in enumerate(wanted):
        if len(samples[m]) != (b - a) * int(rec.samps_per_frame[m]):
            raise _SegmentLost(f"truncated signal file {files}: {seg.sig_names[j]!r} has "
                               f"{len(samples[m])} samples, its header promises "
                               f"{(b - a) * int(rec.samps_per_frame[m])}")
    return seg, wanted, rec, samples


def _stated_elsewhere(path: Path, header: Header, layout: Any, channel: int
                      ) -> tuple[str, str] | None:
    """``(unit, segment)`` of the layout channel ``channel`` where every data segment of the
    record that states its unit states the same one (the first of them named), else None;
    segments whose headers cannot be read are passed over."""
    found: dict[str, tuple[str, str]] = {}  # unit, case aside -> (unit, first segment)
    for name, _ in header.data_segments:
        try:
            seg = parse_header(path.parent / f"{name}.hea") if name != "~" else None
        except RecordError:
            continue
        j = None if seg is None else _nth(layout.sig_name, [channel], seg.sig_names)[0]
        if j is not None and j not in seg.unstated and j not in seg.uncalibrated:
            unit = seg.units.get(j, "")
            found.setdefault(unit.lower(), (unit, name))
    return next(iter(found.values())) if len(found) == 1 else None


#: The longest span a record's header is believed to declare: no monitor records longer.
MAX_RECORD_YEARS = 1.0


def _read_segments(
    path: Path, header: Header, layout: Any, picked: list[int], i0: int, i1: int
) -> _Signals:
    """Frames ``i0``..``i1`` of the layout channels ``picked`` of a multi-segment record, read
    segment by segment; ``~`` gaps and segments without a channel leave NaN, and a segment of
    length 0 contributes nothing (wfdb's own reader fails on one). A segment whose own files
    are missing, truncated or corrupt, or whose rate or sample count disagrees with the
    record's header, is read as a gap, with one warning a record naming them (a record of
    hundreds of segments is not lost to one); a fault of the machine's (memory, a bad disk)
    reading one is raised; the record is refused when no segment of the span can be read,
    and where segments disagree on a channel's units or samples per frame;
    segments that state no units take those the others state, with a warning, as a segment
    holding a channel the layout lacks (not read) is warned about."""
    names = [layout.sig_name[i] for i in picked]
    spf = [int(layout.samps_per_frame[i]) for i in picked]
    units = [layout.units[i] or "" for i in picked]
    years = (i1 - i0) / header.fs / (365.25 * 86400)
    try:  # (the span the record's header declares, before any segment is read)
        out = [np.full((i1 - i0) * s, np.nan, np.float32) for s in spf]
    except (MemoryError, ValueError):  # a 100-byte header declaring 10^12 frames had stopped
        if years <= MAX_RECORD_YEARS:  # a whole batch as the machine's fault: a span no
            raise  # monitor records is this record's (a long stay's stays the machine's)
        out = None  # (raised outside the handler, so that no MemoryError is chained to it)
    if out is None:
        raise RecordError(f"{path}: corrupt WFDB header: it declares {i1 - i0} frames to read "
                          f"({years:.3g} years at {header.fs:g} Hz)")
    seen = [False] * len(picked)
    unstated = [False] * len(picked)
    stated: list[tuple[str, str] | None] = [None] * len(picked)  # (unit, segment) stated first
    silent: list[list[str]] = [[] for _ in picked]  # segments that state no unit
    lost: dict[str, tuple[str, int, int]] = {}  # segment -> (why, frames a..b read)
    unread: list[str] = []  # segments' channels that the layout lacks
    fixed = len(header.data_segments) == len(header.seg_lens)
    n_read = 0
    offset = 0
    for name, length in header.data_segments:
        a, b = max(i0, offset), min(i1, offset + length)
        offset += length
        if name == "~" or b <= a:
            continue
        try:
            seg, wanted, rec, samples = _segment(path, header, layout, picked, name,
                                                 a - (offset - length), b - (offset - length),
                                                 length)
        except _SegmentLost as e:
            from qualityfm.io.read import machine_fault  # (read imports this module)

            fault = machine_fault(e)
            if fault is not None:  # the machine's (memory, a bad disk, open files), not the
                raise fault from None  # segment's: it stops a batch, as in a one-segment
                # record (its frames had been a gap, the record kept with a hole that no
                # re-run fills)
            lost[name] = (str(e), a, b)
            continue
        n_read += 1
        held = set(_nth(layout.sig_name, range(len(layout.sig_name)), seg.sig_names))
        unread += [f"{n!r} of segment {name}" for j, n in enumerate(seg.sig_names)
                   if j not in held and seg.files[j] != "~"]
        for m, (k, j) in enumerate(wanted):
            if int(rec.samps_per_frame[m]) != spf[k]:
                raise RecordError(f"{path}: segment {name} has {rec.samps_per_frame[m]} "
                                  f"samples per frame of {names[k]!r}, the layout {spf[k]}")
            out[k][(a - i0) * spf[k]:(b - i0) * spf[k]] = samples[m]
            unit = seg.units.get(j, rec.units[m]) or units[k]
            if not seen[k]:  # units as the first segment read states them
                units[k], seen[k] = unit, True
                unstated[k] = j in seg.unstated
            if j not in seg.unstated and j not in seg.uncalibrated:
                if stated[k] is None:
                    stated[k] = (unit, name)
                elif unit.lower() != stated[k][0].lower():
                    raise RecordError(
                        f"{path}: segment {name} gives {names[k]!r} in {unit!r}, segment "
                        f"{stated[k][1]} in {stated[k][0]!r}: one channel's values would "
                        "mix two units")
            if j in seg.unstated:
                silent[k].append(name)
            if j in seg.uncalibrated:  # in any segment: not physical
                units[k] = UNCALIBRATED
    for k, said in enumerate(stated):
        # a unit one segment states holds for the segments that state none (the first
        # segment's silence had labelled a later segment's cmH2O values 'NU', read as mmHg,
        # where a span from that segment read them in cmH2O); a span of silent segments
        # alone takes the unit the record's other segments state, where they state one
        if said is None and silent[k]:
            said = _stated_elsewhere(path, header, layout, picked[k])
        if said is not None and silent[k] and units[k] != UNCALIBRATED:
            units[k], unstated[k] = said[0], False
            warn_at_caller(f"{path}: {names[k]!r} states no units in segment "
                           f"{', '.join(silent[k][:3])}{' ...' if len(silent[k]) > 3 else ''}; "
                           f"read in {said[0]!r} as segment {said[1]} states them",
                           RuntimeWarning)
    if unread:  # (dropped without a word, the layout's channel NaN there)
        it = "it" if len(unread) == 1 else "them"
        why = (f"its first segment, the layout of the record, lacks {it} "
               f"({', '.join(layout.sig_name)}; a record whose segments hold other signals "
               "names them all in a layout segment, a first segment of length 0)" if fixed
               else f"the record's layout segment lacks {it} ({', '.join(layout.sig_name)})")
        warn_at_caller(f"{path}: {', '.join(unread[:3])}{' ...' if len(unread) > 3 else ''} "
                       f"not read: {why}", RuntimeWarning)
    if lost and not n_read:
        first, (why, _, _) = next(iter(lost.items()))
        more = f" (and {len(lost) - 1} more)" if len(lost) > 1 else ""
        raise UnreadableSpanError(f"{path}: no segment of the span can be read: segment "
                                  f"{first}: {why}{more}")
    if lost:  # one warning a read (a partly downloaded MIMIC record may lack hundreds)
        said, kept = LostSegmentsWarning(path, lost, header.fs), _LOST_KEPT.get()
        if kept is None:
            warn_at_caller(said)
        else:
            kept.append(said)
    return _Signals(names, units, spf, out, i1 - i0, unstated)


def _frames_in_file(path: Path, header: Header) -> int:
    """The frame count of a header that states none, from the size of its first signal file
    (as wfdb infers it; a first null signal is refused before); formats without a fixed sample
    size (FLAC) raise ``RecordError``."""
    file, fmt = header.files[0], header.formats[0]
    spf = sum(header.frame_samples[k] for k in header.signals_in(file))
    try:
        size = (path.parent / file).stat().st_size - header.byte_offsets[0]
    except OSError as e:
        raise RecordError(f"{path}: {_read_fault(e, file)}") from e
    if fmt not in _BYTES_PER_SAMPLE:
        raise RecordError(
            f"{path}: the header states no sample count and a format {fmt} signal file does not "
            f"give it by its size, so no span can be read: read the whole record (no start/stop)"
        )
    return int(size / (_BYTES_PER_SAMPLE[fmt] * spf))


def _check_empty_files(path: Path, header: Header) -> None:
    """A header without a sample count over signal files of which some hold no sample (past
    their byte offset): every one empty is an empty record, some a truncated record, each a
    ``RecordError`` naming them; missing files are left to the read, which names them."""
    empty, files = [], [f for f in dict.fromkeys(header.files) if f != "~"]
    for f in files:
        try:
            size = (path.parent / f).stat().st_size - header.byte_offsets[header.signals_in(f)[0]]
        except FileNotFoundError:
            return
        if size <= 0:
            empty.append(f)
    if empty and len(empty) == len(files):
        raise RecordError(f"{path}: empty record (no samples)")
    if empty:
        raise RecordError(f"{path}: truncated record: signal file {', '.join(empty)} holds no "
                          f"sample, the others do")


def _refuse_irregular(path: Path, header: Header) -> None:
    """Refuse a header whose signal file is there but no regular file: opening a named pipe
    had waited for ever, the whole batch with it (a folder is named by the read)."""
    for name in dict.fromkeys(f for f in header.files if f != "~"):
        file = path.parent / name
        if file.exists() and not file.is_file() and not file.is_dir():
            raise RecordError(f"{path}: its signal file {name} is no regular file (a pipe or "
                              "a device): not read")


def _check_mat_length(path: Path, header: Header, needed: int) -> int | None:
    """A MATLAB v4 ``.mat`` signal file (format 16+24) against its own header: one that is no
    MATLAB v4 matrix of the header's sample type, whose samples start elsewhere than the
    format field's byte offset says, or that holds another number of signals is refused (it
    would read as other samples, channels rotated: a v5 file, a matrix of doubles or named
    other than ``val``); one cut short is refused (a header without a sample count is read to
    the file's end), and a WFDB header that counts fewer samples than the file declares warns
    (the read stops at its count). Returns the fewest samples per signal a file declares
    (None: no ``.mat`` file), the record's length where the header counts none: bytes after
    the matrix (another variable) had been read as samples."""
    declared: list[int] = []
    for name in dict.fromkeys(f for f in header.files if f.lower().endswith(".mat")):
        file = path.parent / name
        signals = header.signals_in(name)
        try:
            with file.open("rb") as f:
                head = f.read(20)
        except OSError:
            return  # missing: the read names it
        if len(head) < 20:
            return  # too short: the read names it
        kind, rows, cols, imaginary, name_len = (int(v) for v in np.frombuffer(head, "<i4"))
        item = _MAT_V4_BYTES.get(kind)  # little-endian full matrices only
        if item is None or rows <= 0 or cols <= 0 or imaginary or not 0 < name_len < 64:
            what = ("a MATLAB v5 file" if head.startswith(b"MATLAB") else
                    "no little-endian MATLAB v4 matrix of real numbers")
            raise RecordError(f"{path}: its signal file {name} is {what}; WFDB reads .mat signal "
                              "files of MATLAB v4 (as wfdb2mat writes them; scipy: "
                              "savemat(file, {'val': samples}, format='4'))")
        fmt = header.formats[signals[0]]
        if kind not in _MAT_V4_TYPES.get(fmt, (kind,)):
            raise RecordError(f"{path}: its signal file {name} holds {_MAT_V4_NAMES[kind]} "
                              f"samples, the header's format {fmt} reads "
                              f"{_MAT_V4_NAMES[_MAT_V4_TYPES[fmt][0]]}: they would read as "
                              "other values")
        start, stated = 20 + name_len, header.byte_offsets[signals[0]]
        if start != stated:
            raise RecordError(f"{path}: its signal file {name} holds its samples from byte "
                              f"{start}, the header's format field reads them from byte "
                              f"{stated}: write the field as {fmt}+{start}")
        frame = sum(header.frame_samples[k] for k in signals)
        if rows != frame:
            raise RecordError(f"{path}: its signal file {name} holds {rows} signals per frame, "
                              f"the header gives it {frame}")
        held = (file.stat().st_size - start) // (item * rows)
        if held < cols and header.n_frames is None:
            raise RecordError(f"{path}: truncated signal file {name}: its MATLAB header "
                              f"declares {cols} samples per signal, the file holds {held}")
        if header.n_frames is not None and held < needed:
            raise RecordError(f"{path}: truncated signal file {name}: it holds {held} samples "
                              f"per signal, {needed} read")
        if header.n_frames is not None and header.n_frames < cols:
            warn_at_caller(f"{path}: the header counts {header.n_frames} samples per signal, its "
                           f"signal file {name} declares {cols}: reading {header.n_frames}",
                           RuntimeWarning)
        if header.n_frames is None and held > cols:
            warn_at_caller(f"{path}: its signal file {name} holds bytes after its matrix of "
                           f"{cols} samples per signal (another variable?): reading {cols}",
                           RuntimeWarning)
        declared.append(cols)
    return min(declared, default=None)


def _check_dat_length(path: Path, header: Header, picked: Sequence[int], needed: int) -> None:
    """Refuse a signal file of the channels ``picked`` too short for the ``needed`` frames a
    read takes from it (skewed channels' lead too; named, with its size: wfdb says "Samples
    were not loaded correctly"), and warn where one holds more bytes than the header's
    formats and sample count give it: a file of another format (16-bit samples under a
    format-80 header) reads as other values."""
    if header.n_frames is None:
        return
    files = dict.fromkeys(header.files[j] for j in picked)
    for name in (f for f in files if not f.lower().endswith(".mat")):
        signals = header.signals_in(name)
        if name == "~" or any(header.formats[k] not in _BYTES_PER_SAMPLE for k in signals):
            continue
        if (path.parent / name).is_dir():  # its size had read as a truncated file's
            raise RecordError(f"{path}: its signal file {name} is a folder")
        try:
            size = (path.parent / name).stat().st_size - header.byte_offsets[signals[0]]
        except OSError:
            continue  # missing: the read names it
        per_frame = sum(_BYTES_PER_SAMPLE[header.formats[k]] * header.frame_samples[k]
                        for k in signals)
        expected = math.ceil(header.n_frames * per_frame)
        skew = max((header.skews[k] for k in signals if k in picked and k < len(header.skews)),
                   default=0)
        frames = min(needed + skew, header.n_frames)
        if size < math.ceil(frames * per_frame):
            raise RecordError(f"{path}: truncated signal file {name}: it holds {max(size, 0)} "
                              f"bytes of samples, the header's formats "
                              f"({', '.join(header.formats[k] for k in signals)}) need "
                              f"{math.ceil(frames * per_frame)} bytes for the first {frames} "
                              "samples per signal, which the read takes")
        if size > expected + math.ceil(per_frame):  # (packed formats round up)
            warn_at_caller(f"{path}: its signal file {name} holds {size} bytes of samples, the "
                           f"header's formats ({', '.join(header.formats[k] for k in signals)}) "
                           f"and {header.n_frames} samples per signal make {expected}: is its "
                           "format the file's?", RuntimeWarning)


def read_wfdb(
    path: Path,
    channels: Sequence[str] | None = None,
    start: float | None = None,
    stop: float | None = None,
    fs: float | None = None,
) -> Record:
    """Read a WFDB record from its ``.hea``; only the span ``start``..``stop`` s is read.

    Each channel keeps its own rate (frame rate x samples per frame). A multi-segment record is
    read segment by segment (its channels named by its layout header; gaps are NaN, a
    zero-length segment adds nothing). A header that states no sample count has it from the
    signal file's size, and a span of it is read from ``start`` to the file's end, then cut.
    The patient id is the MIMIC subject folder when there is one, else the record id (the
    Challenge datasets name no patients). With ``channels=[]`` only the header is read (labels,
    events, no signals).
    """
    lower = path.with_suffix(".hea")
    if path.suffix != ".hea" and not (lower.is_file() and lower.samefile(path)):
        # wfdb opens BASE.hea: "U2.HEA" would read as "missing" (where the filesystem tells
        # cases apart; elsewhere BASE.hea is that file)
        raise RecordError(f"{path}: WFDB headers are read under a lower-case .hea suffix; "
                          f"rename it to {path.with_suffix('.hea').name}")
    base = str(path.with_suffix(""))
    header = parse_header(path)
    record_id = path.stem
    labels, events = challenge_labels(header.comments, path)
    if channels is not None and len(channels) == 0:
        return Record(record_id, {}, {}, patient_id=patient_from_path(path, record_id),
                      source=str(path), labels=labels, events=events)
    frame_fs = header.fs
    multi = header.multi
    if not np.isfinite(frame_fs) or frame_fs <= 0:
        raise RecordError(f"{path}: header gives no sampling rate ({frame_fs:g} Hz)")
    if not multi and not header.sig_names:
        raise RecordError(f"{path}: empty record (no signals)")
    if not multi:  # before any size is read of it (a pipe had read as "no samples")
        _refuse_irregular(path, header)
    n_frames = header.n_frames
    if multi:
        n_frames = sum(n for _, n in header.data_segments)
        if header.n_frames not in (None, 0, n_frames):  # wfdb refuses such a record
            warn_at_caller(f"{path}: the header counts {header.n_frames} samples per signal, its "
                           f"segments {n_frames}: reading the segments' {n_frames}",
                           RuntimeWarning)
    elif n_frames is None and any(f.startswith("5") for f in header.formats):
        _check_empty_files(path, header)  # an empty one named as such first
        raise RecordError(f"{path}: the header states no sample count, which a FLAC-compressed "
                          f"signal file (format {next(f for f in header.formats if f[0] == '5')}"
                          ") does not give by its size (wfdb fails on it): write the count in "
                          "the header's record line")
    elif n_frames is None and header.files[:1] == ["~"]:  # wfdb sizes it by its first file
        raise RecordError(f"{path}: the header states no sample count and its first signal is "
                          "a null signal ('~'), which wfdb sizes the record by (wfdb: "
                          "\"missing signal file ~\"): write the count in the header's record "
                          "line")
    elif n_frames is None and (start is not None or stop is not None):
        n_frames = _frames_in_file(path, header)  # wfdb reads no span of one without it
        if n_frames == 0:  # (it had been told its header "counts 0 samples")
            _check_empty_files(path, header)
            raise RecordError(f"{path}: its signal file {header.files[0]} holds less than one "
                              "sample of each of its signals (truncated or corrupt signal "
                              "file)")
    elif n_frames is None:
        _check_empty_files(path, header)  # named here, not by wfdb's span or sample errors
    if n_frames == 0 and not multi and header.files[:1] != ["~"]:
        _check_empty_files(path, header)  # an empty file: an empty record
        flac = any(f.startswith("5") for f in header.formats)  # its size gives no count
        raise RecordError(f"{path}: the header's record line counts 0 samples, which WFDB "
                          "takes as no count given but wfdb reads as an empty record: "
                          + ("write the count (a FLAC-compressed signal file's size does not "
                             "give it)" if flac else "leave the count out (the signal file's "
                             "size then gives it) or write it"))
    if n_frames == 0:
        raise RecordError(f"{path}: empty record (no samples)")
    i0, i1 = sample_span(start, stop, frame_fs, n_frames or sys.maxsize, path)
    if not multi:
        declared = _check_mat_length(path, header, i1)
        if header.n_frames is None and declared is not None:  # the matrix's, not the file's
            n_frames = declared
            i0, i1 = sample_span(start, stop, frame_fs, n_frames, path)

    layout = _layout(path, header) if multi else None
    file_labels = layout.sig_name if multi else header.sig_names
    every_name = canonical_names(file_labels)
    picked = select_channels(every_name, channels, path, file_labels)  # read only those
    joins = _relabelled(file_labels, picked, channels is None) if multi else {}
    extra = [i for later in joins.values() for i in later if i not in picked]  # read beside
    # the channel they may join, dropped unless joined
    # null signals (file '~', no samples stored) read as missing samples, as WFDB reads them
    # (wfdb's KeyError had read as a "truncated or corrupt signal file")
    stored = picked if multi else [i for i in picked if header.files[i] != "~"]
    if not stored:
        raise RecordError(f"{path}: empty record (its signals read are null signals, file "
                          "'~': no samples stored)")
    if len(stored) < len(picked):
        nulls = ", ".join(repr(file_labels[i]) for i in picked if i not in stored)
        warn_at_caller(f"{path}: {nulls}: null signal(s) (file '~', no samples stored), read "
                       "as missing samples", RuntimeWarning)
    if not multi:
        _check_dat_length(path, header, stored, i1)
    try:
        if multi:
            rec, extra = _segments_with(path, header, layout, picked, extra, i0, i1)
            picked = stored = picked + extra
        else:
            rec, samples, i1 = _read_frames(base, header, stored, i0, i1, n_frames)
    except RecordError:
        raise
    except ImportError as e:  # soundfile for FLAC-compressed signals (formats 508-532)
        raise ImportError(f"{path}: reading its signal file needs the {e.name or 'missing'} "
                          f"package, which is not installed ({e})") from e
    except Exception as e:  # wfdb/numpy/soundfile errors of a truncated or corrupt file
        raise RecordError(f"{path}: {_read_fault(e)}") from e

    names = [every_name[i] for i in picked]
    signals: dict[str, np.ndarray] = {}
    rates: dict[str, float] = {}
    units: dict[str, str] = {}
    at = {p: k for k, p in enumerate(stored)}
    for j, name in enumerate(names):
        k = at.get(picked[j])  # None: a null signal
        if k is None:
            spf = header.frame_samples[picked[j]]
            x = np.full((i1 - i0) * spf, np.nan, np.float32)
        else:
            spf = int(rec.samps_per_frame[k])
            # a header without a sample count is read to the file's end: keep the span
            x = np.ascontiguousarray((rec.e_p_signal if multi else samples)[k][: (i1 - i0) * spf],
                                     dtype=np.float32)
        if len(x) != (i1 - i0) * spf:
            raise RecordError(
                f"{path}: truncated signal file: channel {name!r} has {len(x)} samples, "
                f"header promises {(i1 - i0) * spf}"
            )
        big = float(np.nanmax(np.abs(x), initial=0.0))
        if not big <= MAX_PHYSICAL and picked[j] in extra:  # not asked for: not joined
            continue
        if not big <= MAX_PHYSICAL:  # (ADC value - baseline) / gain: a gain near 0
            raise RecordError(f"{path}: channel {name!r} reads values of {big:.3g} "
                              f"{header.units.get(picked[j], '') if not multi else ''}"
                              ": its gain or baseline in the header is no calibration")
        signals[name] = x
        rates[name] = frame_fs * spf
        # the header's own text where it states the units (wfdb drops the µ of µV)
        unit = (rec.units[j] if multi else header.units.get(
            picked[j], rec.units[k] if k is not None else "")) or "NU"
        unstated = rec.unstated[j] if multi else picked[j] in header.unstated
        if unstated and name.split("_")[0] in _UNITLESS_WHEN_UNSTATED:
            unit = "NU"
        if not multi and picked[j] in header.uncalibrated:  # a multi-segment record's: in
            unit = UNCALIBRATED  # its units already (_read_segments)
        if unit == UNCALIBRATED and picked[j] not in extra:
            warn_at_caller(f"{path}: channel {name!r} has an ADC gain of 0 or none (uncalibrated): "
                           "values are ADC units / 200, not physical units", RuntimeWarning)
        units[name] = unit
    if joins:
        _join_relabelled(signals, rates, units,
                         {every_name[f]: [every_name[i] for i in later]
                          for f, later in joins.items()})
        for i in extra:  # read only to join the channel asked for
            for table in (signals, rates, units):
                table.pop(every_name[i], None)
    if fs is not None and not any(np.isclose(fs, r, rtol=1e-6) for r in rates.values()):
        raise RecordError(f"{path}: fs={fs} Hz disagrees with the header rates {rates}")
    t0 = i0 / frame_fs
    return Record(
        record_id=record_id,
        signals=signals,
        fs=rates,
        units=units,
        patient_id=patient_from_path(path, record_id),
        source=str(path),
        labels=labels,
        events={k: v - t0 for k, v in events.items()},
        start_time=t0,
    )


#: Channel kinds a multi-segment record may label otherwise from one segment to the next (a
#: MIMIC layout listing ABP and ART, PLETH and Pleth); ECG leads are not: ECG1 and ECG2 are
#: two leads, and a lead renamed is another lead.
_RELABELLED_KINDS = ("ppg", "abp")


def _relabelled(labels: list[str], picked: list[int], every: bool) -> dict[int, list[int]]:
    """For each PPG or arterial-line kind whose first channel of ``labels`` is ``picked``, the
    later channels of that kind that may join it: all of them, or (not ``every`` channel read)
    those not asked for by name."""
    joins: dict[int, list[int]] = {}
    for kind in _RELABELLED_KINDS:
        same = [i for i, label in enumerate(labels) if canonical_channel(label) == kind]
        later = [i for i in same[1:] if every or i not in picked]
        if same and same[0] in picked and later:
            joins[same[0]] = later
    return joins


def _segments_with(path: Path, header: Header, layout: Any, picked: list[int],
                   extra: list[int], i0: int, i1: int) -> tuple[_Signals, list[int]]:
    """:func:`_read_segments` of the layout channels ``picked`` and ``extra`` (read only to join
    one of ``picked``) with ``extra``, or of ``picked`` alone, ``extra`` then [], where reading
    them fails: a channel not asked for refuses no record."""
    if extra:
        with contextlib.suppress(RecordError):
            return _read_segments(path, header, layout, picked + extra, i0, i1), extra
    return _read_segments(path, header, layout, picked, i0, i1), []


def _join_relabelled(signals: dict[str, np.ndarray], rates: dict[str, float],
                     units: dict[str, str], joins: dict[str, list[str]]) -> None:
    """Join in place each later channel of ``joins`` into its first where the two never hold
    a sample at one time, at one rate and in one unit: one sensor that a multi-segment
    record's segments label otherwise (the abp task had read the line under ABP alone:
    windows of the segments labelling it ART were left out as "arterial line flat or over 20%
    missing", where the segments read alone gave targets). Channels recorded at one time are
    two sensors and stay apart. It is judged on the span read: a span where each holds
    samples at other times joins them, though they overlap elsewhere in the record."""
    for first, later in joins.items():
        for name in (n for n in later if n in signals):
            a, b = signals[first], signals[name]
            if (len(a) != len(b) or rates[first] != rates[name]
                    or units[first].lower() != units[name].lower()
                    or (~np.isnan(a) & ~np.isnan(b)).any()):
                continue
            signals[first] = np.where(np.isnan(a), b, a)
            for table in (signals, rates, units):
                del table[name]


def header_naming(file: Path) -> Path | None:
    """The WFDB header beside ``file`` that names it as a signal file, if any."""
    if file.with_suffix(".hea").is_file():
        return file.with_suffix(".hea")
    for hea in sorted(file.parent.glob("*.hea")):
        try:
            if file.name in parse_header(hea).files:
                return hea
        except RecordError:
            continue
    return None
