"""VitalDB ``.vital`` files (local files only), wave tracks at their native rates."""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import io
import struct
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from qualityfm._caller import warn_at_caller
from qualityfm._numbers import missing
from qualityfm.io.base import aligned_spans, patient_from_path, sample_span, select_channels
from qualityfm.io.channels import canonical_channel, canonical_names
from qualityfm.io.record import (
    MAX_WAVEFORM_FS,
    MIN_WAVEFORM_FS,
    UNCALIBRATED,
    MissingChannelError,
    Record,
    RecordError,
)

_WAVE = 1  # vitaldb track type of a waveform
#: Longest span a file may cover: vitaldb fills every track over the file's whole span, so a
#: far-off time stamp (a clock error) would otherwise allocate terabytes.
MAX_SPAN_S = 7 * 86400.0
#: Longest the header's stated start or end may lie beyond the wave samples and still bound
#: the record (read as NaN there): further, a clock error (a start stated 2 days early had
#: read 17 million NaN samples a track at 100 Hz before 1000 real ones).
MAX_STATED_GAP_S = 86400.0


#: vitaldb's format table and the process's stdout are changed while it reads: one read at a
#: time (two threads had left stdout swallowed and the table at the other file's widths).
_VITALDB = threading.Lock()
#: Bytes of a sample by track format (1 float, 2 double, 3-6 integers; 7 and 8 vary by file).
_SAMPLE_BYTES = {1: 4, 2: 8, 3: 1, 4: 1, 5: 2, 6: 2}
#: vitaldb stops reading an unpacked file at a packet larger than this, without a word.
_VITALDB_MAX_PACKET = 1_000_000


def _open(path: Path, track_names: list[str] | None, header_only: bool,
          long_bytes: int | None = None,
          exclude: list[str] | None = None):  # -> vitaldb.VitalFile
    """The file read by vitaldb (``header_only``: track list and times, no samples);
    ``long_bytes``: the bytes of a sample of formats 7 and 8 in this file (4 as the format
    says, 8 as vitaldb writes them on Linux; None: vitaldb's own, the platform's 'l')."""
    import vitaldb  # imported here: it is heavy and only needed for .vital files

    said = io.StringIO()  # vitaldb prints its read errors (to stdout, where JSON goes)
    sizes = vitaldb.utils.FMT_TYPE_LEN
    with _VITALDB:
        kept = {k: sizes.get(k) for k in (7, 8)}  # inside: another read's widths are put back
        if long_bytes is not None:
            sizes.update({7: ("i", 4), 8: ("I", 4)} if long_bytes == 4
                         else {7: ("q", 8), 8: ("Q", 8)})
        try:
            with contextlib.redirect_stdout(said):
                vf = vitaldb.VitalFile(str(path), track_names=track_names,
                                       header_only=header_only, exclude=exclude)
        except Exception as e:  # gzip, struct and OS errors of a corrupt or truncated file
            raise RecordError(f"{path}: truncated or corrupt .vital file "
                              f"({type(e).__name__}: {e})") from e
        finally:
            sizes.update({k: v for k, v in kept.items() if v is not None})
    if said.getvalue().strip():
        raise RecordError(f"{path}: truncated or corrupt .vital file "
                          f"({said.getvalue().strip()})")
    if not vf.trks and vf.dtend == 0:
        raise RecordError(f"{path}: not a .vital file (no VITA signature or header)")
    return vf


@dataclass
class _Facts:
    """What a walk over a file's packets tells: the start and end its header states (None:
    an older header without them, or 0), the first record and the last sample's end of its
    wave tracks (s of the epoch; None: no wave record), and the bytes of a sample of formats
    7 and 8 in its first such wave record (None: none found)."""

    stated: float | None = None
    stated_end: float | None = None
    first: float | None = None
    end: float | None = None
    long_bytes: int | None = None
    packed: bool = False  # the header's flag (vitaldb reads a packet over 1 MB in one only)
    fault: str | None = None  # a packet vitaldb would misread or stop at: the error said
    unknown: list[str] = dataclasses.field(default_factory=list)  # wave tracks of a format
    # wave tracks announced again after records of theirs (vitaldb drops those records)
    announced_again: list[str] = dataclasses.field(default_factory=list)


def _file_facts(path: Path) -> _Facts:
    """:class:`_Facts` of a ``.vital`` file, from its packets' headers (no samples decoded):
    the file's time 0 and span must not follow which tracks a read asks for (vitaldb starts
    and ends a read at the records of the tracks it reads), and vitaldb reads formats 7 and
    8 with the platform's 'l' (8 bytes on Linux) whatever the file holds (its own writer
    writes 8, the format says 4). The walk reads the stream to its end, so a file whose gzip
    stream stops early (vitaldb reads such a file up to the cut and says nothing) or is
    corrupt is refused here (RecordError)."""
    facts = _Facts()
    try:
        with gzip.open(path, "rb") as f:
            _walk(f, facts)
            while f.read(1 << 22):  # the rest of a walk a malformed packet ended
                pass
    except (EOFError, OSError, zlib.error) as e:
        raise RecordError(f"{path}: truncated or corrupt .vital file ({type(e).__name__}: {e})"
                          ) from e
    return facts


def _walk(f: IO[bytes], facts: _Facts) -> None:
    """Fill ``facts`` from the packets of the stream ``f`` (:func:`_file_facts`); a packet
    that does not parse ends the walk."""
    rates: dict[int, float] = {}  # wave track id -> rate
    long_tracks: set[int] = set()  # wave tracks of format 7 or 8
    long_numbers: set[int] = set()  # numeric tracks of format 7 or 8
    try:
        head = f.read(10)
        if len(head) < 10 or head[:4] != b"VITA":
            return
        size = struct.unpack_from("<H", head, 8)[0]
        header = f.read(size)
        stated, stated_end = (struct.unpack_from("<dd", header, 10) if size >= 26
                              else (0.0, 0.0))
        facts.stated = stated if stated > 0 else None
        facts.stated_end = stated_end if stated_end > 0 else None
        facts.packed = size >= 27 and header[26] == 1
        names: dict[int, str] = {}  # wave track id -> name
        recorded: set[str] = set()  # wave track names with a record so far
        devices: dict[int, str] = {}  # device id -> name
        formats: dict[int, int] = {}  # wave track id -> format
        while len(packet := f.read(5)) == 5:
            kind, length = struct.unpack("<BL", packet)
            data = f.read(length)
            if len(data) < length:  # the stream ends inside it
                facts.fault = facts.fault or (f"truncated or corrupt .vital file (its last "
                                              f"packet is cut short ({len(data)} of {length} "
                                              "bytes): a truncated file)")
                break
            if not facts.packed and length > _VITALDB_MAX_PACKET:
                facts.fault = facts.fault or (
                    f".vital file not packed with a packet of {length} bytes, past the "
                    f"{_VITALDB_MAX_PACKET} vitaldb (which reads the file) reads in such a file: "
                    "it would stop there without a word; saved packed (vitaldb's "
                    "to_vital(packed=True)), it reads")
            if kind == 0 and len(data) >= 4 and data[2] == _WAVE:  # a wave track's info
                tid = struct.unpack_from("<H", data, 0)[0]
                name, pos = _text_at(data, 4)  # then its unit (vitaldb: fields a short packet
                pos = _text_at(data, pos)[1]  # lacks are 0)
                # after mindisp, maxdisp and colour; the device after srate, gain, offset and
                # the monitor type: vitaldb names the track DEVICE/NAME
                rates[tid] = (struct.unpack_from("<f", data, pos + 12)[0]
                              if len(data) >= pos + 16 else 0.0)
                did = struct.unpack_from("<L", data, pos + 33)[0] if len(data) >= pos + 37 else 0
                names[tid] = f"{devices[did]}/{name}" if devices.get(did) else name
                formats[tid] = data[3]
                # a track announced again after records of its name (of this id or another:
                # a device reconnecting), whose records before vitaldb drops
                if names[tid] in recorded and names[tid] not in facts.announced_again:
                    facts.announced_again.append(names[tid])
                if data[3] not in (*_SAMPLE_BYTES, 7, 8):
                    facts.unknown.append(f"{names[tid]!r} (format {data[3]})")
                if data[3] in (7, 8):
                    long_tracks.add(tid)
            elif kind == 9 and len(data) >= 8:  # a device: its id, type and name (vitaldb
                kind_name, pos = _text_at(data, 4)  # names it by its type where it has none)
                devices[struct.unpack_from("<L", data, 0)[0]] = _text_at(data, pos)[0] or kind_name
            elif kind == 0 and len(data) >= 4:  # another kind of track's info: an id that
                tid = struct.unpack_from("<H", data, 0)[0]  # a wave track had is no more its
                for held in (rates, names, formats):  # (vitaldb reads it as the new track; its
                    held.pop(tid, None)  # numbers had been walked as wave samples, the file
                long_tracks.discard(tid)  # refused as corrupt)
                if data[2] == 2 and data[3] in (7, 8):
                    long_numbers.add(tid)
            elif kind == 1 and len(data) >= 12:  # a record
                info = struct.unpack_from("<H", data, 0)[0]
                dt, tid = struct.unpack_from("<dH", data, 2)
                if tid in long_numbers and facts.long_bytes is None:  # one value
                    facts.long_bytes = length - 2 - info
                if tid not in rates or len(data) < 2 + info + 4 or not 0 < dt < np.inf:
                    continue
                recorded.add(names.get(tid, ""))
                n = struct.unpack_from("<L", data, 2 + info)[0]
                width = _SAMPLE_BYTES.get(formats.get(tid, 0))
                if width is not None and length != 2 + info + 4 + n * width:
                    facts.fault = facts.fault or (
                        f"truncated or corrupt .vital file (a record of wave track "
                        f"{names[tid]!r} holds {length - 6 - info} bytes for {n} samples of "
                        f"format {formats[tid]} ({n * width} bytes))")
                if rates[tid] > 0:  # the tracks read (vitaldb skips those of rate 0)
                    facts.first = dt if facts.first is None else min(facts.first, dt)
                    last = dt + n / rates[tid]
                    facts.end = last if facts.end is None else max(facts.end, last)
                if tid in long_tracks and n and facts.long_bytes is None:
                    facts.long_bytes = (length - 2 - info - 4) // n
    except struct.error:
        pass


def _text_at(data: bytes, pos: int) -> tuple[str, int]:
    """The length-prefixed string of a packet at byte ``pos`` ("" where the packet ends
    first), and the position after it."""
    if len(data) < pos + 4:
        return "", pos
    n = struct.unpack_from("<L", data, pos)[0]
    return data[pos + 4:pos + 4 + n].decode("utf-8", "replace"), pos + 4 + n


#: The raw value that marks a missing sample in an integer track, by the track's format (3:
#: signed byte, 4: unsigned byte, 5: short, 6: word, 7: long, 8: dword): a packed ``.vital``
#: file fills the gaps between blocks with it, and keeps it when vitaldb saves it unpacked;
#: read as no sample in every file.
GAP_VALUE = {3: -128, 4: 255, 5: -32768, 6: 65535, 7: -2147483648, 8: 4294967295}


def _track_samples(trk, origin: float, end: float,
                   path: Path) -> np.ndarray:  # trk: a vitaldb track
    """A wave track's samples from ``origin`` to ``end`` (s of the epoch; float32, NaN where
    it has none), in its units. Each block goes to its start time rounded to the nearest
    sample: vitaldb's ``get_track_samples`` rounds up, so a block starting a hair past a
    sample (float time stamps) moved one sample late, overwrote the next block's first
    sample and left a hole.
    An integer track's gap marks (:data:`GAP_VALUE`) are missing samples, not values (also
    in an unpacked file: vitaldb saves a packed file's blocks unpacked with their marks; a
    full-scale value is a saturated converter, as WFDB's -32768 is no sample)."""
    rate = float(trk.srate)
    n = int(np.ceil((end - origin) * rate))  # as vitaldb sizes it
    out = np.full(max(n, 0), np.nan, dtype=np.float32)
    gap = GAP_VALUE.get(int(trk.fmt))
    outside = clashing = 0  # samples before time 0 (stamped 0?), and samples of overlapping
    for rec in trk.recs:  # blocks that disagree (a stated rate below the blocks' own)
        if not np.isfinite(rec["dt"]):
            raise RecordError(f"{path}: a record of wave track {trk.dtname!r} is stamped at "
                              f"{rec['dt']} s")
        raw = np.asarray(rec["val"]).ravel()
        val = raw.astype(np.float32)
        if gap is not None:
            val[raw == gap] = np.nan
        a = int(round((rec["dt"] - origin) * rate))
        lo, hi = max(a, 0), min(a + len(val), len(out))
        outside += len(val) - max(hi - lo, 0)
        if hi > lo:
            held, new = out[lo:hi], val[lo - a:hi - a]
            clashing += int(np.count_nonzero(~np.isnan(held) & ~np.isnan(new) & (held != new)))
            out[lo:hi] = new
    if outside or clashing:  # each had been lost without a word
        warn_at_caller(
            f"{path}: wave track {trk.dtname!r}: "
            + "; ".join(([f"{outside} sample(s) stamped outside the file's span (at 0?) left out"]
                         if outside else [])
                        + ([f"{clashing} sample(s) overwritten by a later block over the same "
                            "time (blocks overlapping: their time stamps off, or a stated rate "
                            f"of {rate:g} Hz below theirs?)"] if clashing else [])),
            RuntimeWarning)
    if trk.fmt > 2 and trk.gain != 0:  # integer samples: to physical units (1: float, 2:
        out *= np.float32(trk.gain)  # double); a gain of 0 states none: ADC counts kept
        out += np.float32(trk.offset)
    # vitaldb's marks of no value, and fill values of either sign (a track of -9.97e36 had
    # read as full, taking the channel's name over the real one)
    out[np.isinf(out) | (out > 4e9) | missing(out)] = np.nan
    return out


def read_vital(
    path: Path,
    channels: Sequence[str] | None = None,
    start: float | None = None,
    stop: float | None = None,
    fs: float | None = None,
) -> Record:
    """Read the wave tracks (``SNUADC/ECG_II``, ``SNUADC/PLETH``, ``SNUADC/ART``...) of a
    ``.vital`` file, each at its native rate; numeric tracks are skipped.

    A ``.vital`` file is one gzip stream, so the selected tracks are decoded whole and then cut
    to ``start``..``stop`` s (from the file's start). Several tracks of one channel (a
    monitor's PLETH beside the ADC's) are named fullest first: ``ppg`` is the track covering
    the most time in the span read (the most samples among tracks covering as long),
    ``ppg_2`` the next. A wave track without samples (a device
    declared but idle, or cropped away) is left out with a warning. The record and patient id
    are the file name (VitalDB names cases, not patients).
    """
    header = _open(path, None, header_only=True)
    tracks = [name for name, trk in header.trks.items() if trk.type == _WAVE
              and 0 < trk.srate <= MAX_WAVEFORM_FS]
    rateless = [name for name, trk in header.trks.items() if trk.type == _WAVE
                and not 0 < trk.srate < np.inf]
    if rateless:
        warn_at_caller(f"{path}: wave track(s) {', '.join(map(repr, rateless))} state no "
                       "sampling rate: left out", RuntimeWarning)
    fast = [f"{name!r} ({trk.srate:g} Hz)" for name, trk in header.trks.items()
            if trk.type == _WAVE and MAX_WAVEFORM_FS < trk.srate < np.inf]
    if fast:  # sized by its rate, such a track had stopped a batch for want of memory
        warn_at_caller(f"{path}: wave track(s) {', '.join(fast)} state a rate above "
                       f"{MAX_WAVEFORM_FS:g} Hz, no monitor's: left out", RuntimeWarning)
    picked = select_channels(canonical_names(tracks), channels, path, tracks)
    record_id = path.stem
    if not picked:
        if channels is not None:
            return Record(record_id, {}, {}, patient_id=record_id, source=str(path))
        raise RecordError(f"{path}: empty record (no wave tracks)")
    # every track of a picked track's channel is read: the fullest takes the channel's name
    bases = [canonical_channel(t) for t in tracks]
    wanted = {bases[i] for i in picked}
    candidates = [t for t, b in zip(tracks, bases, strict=True) if b in wanted]
    facts = _file_facts(path)
    if facts.fault is not None:  # vitaldb would misread the file or stop early, unsaid
        raise RecordError(f"{path}: {facts.fault}")
    if facts.unknown:  # vitaldb drops such a track's info: it would vanish unsaid
        warn_at_caller(f"{path}: wave track(s) {', '.join(facts.unknown)} of a format code no "
                       "reader knows: left out", RuntimeWarning)
    again = [t for t in candidates if t in facts.announced_again]
    if again:  # (a device reconnected?) its records before had been lost unsaid
        warn_at_caller(f"{path}: wave track(s) {', '.join(map(repr, again))} announced again "
                       "after records of theirs: vitaldb, which reads the file, keeps only the "
                       "records after that, the earlier ones read as missing", RuntimeWarning)
    # vitaldb's own 8-byte files record track lengths for 4-byte samples: its early stop of
    # a read of some tracks would end before the later ones, so it reads them all but those
    # excluded
    wide = facts.long_bytes == 8
    longs = [t for t, trk in header.trks.items() if trk.fmt in (7, 8)]  # device/track names
    vf = _open(path, None if wide else candidates, header_only=False,
               long_bytes=facts.long_bytes,  # (vitaldb excludes a name's every suffix match)
               exclude=[t for t, trk in header.trks.items()  # skipping a 7/8 track mis-seeks
                        if trk.fmt not in (7, 8) and not any(
                            c.endswith(t) for c in (*candidates, *longs))]
               if wide else None)
    # time 0 and the end are the file's, whichever tracks are read: the header's stated
    # start, or the first record of any wave track where that is earlier (a cropped file)
    # or the header states none; the last wave sample's end (a numeric record far off, a
    # clock error, had set vitaldb's span)
    # (a stated start or end over MAX_STATED_GAP_S beyond the wave samples is no bound: a
    # clock error)
    firsts = [v for v in (facts.stated if facts.stated is not None and (
        facts.first is None or facts.first - facts.stated <= MAX_STATED_GAP_S) else None,
        facts.first) if v is not None]
    origin = min(firsts) if firsts else vf.dtstart
    # the later of the last wave sample's end and the header's stated end (the file's span,
    # read as NaN past the samples)
    ends = [v for v in (facts.end, facts.stated_end if facts.stated_end is not None and (
        facts.stated_end - (origin if facts.end is None else facts.end) <= MAX_STATED_GAP_S)
        else None) if v is not None]
    end = max(ends) if ends else vf.dtend
    if end - origin > MAX_SPAN_S:
        raise RecordError(
            f"{path}: its records span {(end - origin) / 86400:.0f} days (from "
            f"{origin:.0f} to {end:.0f} s of the epoch), over the "
            f"{MAX_SPAN_S / 86400:.0f} days read: a time stamp far off (a clock error)?")
    samples: dict[str, np.ndarray] = {}
    for t in candidates:
        trk = vf.trks.get(t)
        x = (_track_samples(trk, origin, end, path) if trk is not None and trk.recs
             else np.zeros(0, np.float32))
        if np.isfinite(x).any():
            samples[t] = x
    idle = [t for t in candidates if t not in samples]
    if idle:
        warn_at_caller(f"{path}: wave track(s) {', '.join(map(repr, idle))} hold no samples: "
                       "left out", RuntimeWarning)
    if not samples:
        raise RecordError(f"{path}: empty record (no wave track holds samples: "
                          f"{', '.join(map(repr, candidates))})")
    first = {b: bases.index(b) for b in wanted}  # channels in file order, fullest track first

    def held(t: str, span: bool = True) -> tuple[float, int]:
        """Whole seconds track ``t`` covers in the span read (or in the file), then its
        samples: a 500-Hz track of a few minutes had taken the name over a full 125-Hz one
        (and a track full elsewhere over one full within the span: an all-NaN PPG)."""
        rate = float(header.trks[t].srate)
        a, b = 0, len(samples[t])
        if span:
            try:
                a, b = sample_span(start, stop, rate, len(samples[t]), path)
            except RecordError:  # a span refused below, for every track alike
                return 0.0, 0
        finite = int(np.isfinite(samples[t][a:b]).sum())
        return -float(np.floor(finite / rate)), -finite

    kept = sorted(samples, key=lambda t: (first[canonical_channel(t)], held(t),
                                          held(t, False), tracks.index(t)))
    names = canonical_names(kept)
    signals: dict[str, np.ndarray] = {}
    rates: dict[str, float] = {}
    units: dict[str, str] = {}
    try:
        picked = select_channels(names, channels, path, kept)
    except MissingChannelError as err:  # asked for a channel whose tracks are all idle: it
        # had read "no channel 'ecg_v5'; the record has abp", of a record of five channels
        declared = [n for n in dict.fromkeys(canonical_names(tracks))]
        raise MissingChannelError(
            f"{str(err).partition('; the record has')[0]}: its track(s) "
            f"{', '.join(map(repr, idle))} hold no samples; the file declares "
            f"{', '.join(declared)}", err.available) from None
    tracks_read = [vf.trks[kept[i]] for i in picked]
    lengths = [(float(trk.srate), len(samples[kept[i]]))
               for i, trk in zip(picked, tracks_read, strict=True)]
    # the file's slowest waveform track, read or not (a trend's track under 10 Hz had moved
    # a span's start by up to its period: 0.001 Hz, the whole file from 0); a trend read
    # starts at its own sample nearest that start. Without a waveform track, the slowest read
    grid = min((r for t in tracks if (r := float(header.trks[t].srate)) >= MIN_WAVEFORM_FS),
               default=None)
    spans, t0 = aligned_spans(start, stop, lengths, path, grid=grid) if picked else ([], 0.0)
    for i, trk, (i0, i1) in zip(picked, tracks_read, spans, strict=True):
        signals[names[i]] = np.ascontiguousarray(samples[kept[i]][i0:i1])
        rates[names[i]] = float(trk.srate)
        units[names[i]] = trk.unit or "NU"
        if trk.fmt > 2 and trk.gain == 0:  # (it had read as flat zeros in its unit)
            units[names[i]] = UNCALIBRATED
            warn_at_caller(f"{path}: wave track {kept[i]!r} has a gain of 0 (uncalibrated): "
                           "its values are ADC counts, not physical units", RuntimeWarning)
    if fs is not None and not any(np.isclose(fs, r) for r in rates.values()):
        raise RecordError(f"{path}: fs={fs} Hz disagrees with the track rates {rates}")
    return Record(record_id, signals, rates, units=units,
                  patient_id=patient_from_path(path, record_id), source=str(path), start_time=t0)
