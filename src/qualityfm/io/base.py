"""Helpers shared by the readers: channel selection and the seconds-to-samples span."""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from qualityfm.io.channels import canonical_channel
from qualityfm.io.record import MissingChannelError, RecordError

#: MIMIC waveform folders are named after the subject (``p000878``, MIMIC-IV ``p10014354``).
_MIMIC_PATIENT = re.compile(r"^(p\d{6,8})(?:_|$)")
#: A MIMIC waveform segment (``3269321_0001``): a piece of record ``3269321``, one stay.
_MIMIC_SEGMENT = re.compile(r"^(\d{7})_\d{4}$")
#: A MIMIC-III matched subset record (``p000020-2183-04-28-17-47``, its numerics ``...n``):
#: the subject, then the record's start.
_MIMIC_MATCHED = re.compile(r"^(p\d{6,8})-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}n?$")


def select_channels(
    names: Sequence[str], channels: Sequence[str] | None, path: Path,
    labels: Sequence[str] | None = None,
) -> list[int]:
    """Positions of the requested ``channels`` in ``names`` (all when None); a request may
    use a raw label (``II``, ``PLETH``; ``labels``, the file's own, in the order of
    ``names``): a canonical name first, then a label of the file as written (of two ``ECG2``
    is the second lead, not the first ``ecg``), then the label normalised as the files' are.

    The positions follow the requested order. An unknown channel raises ``RecordError``
    naming the channel, the file and the channels the file has, as do two requests for one
    channel (they had been merged into one without a word).
    """
    if channels is None:
        return list(range(len(names)))
    if isinstance(channels, str):
        channels = [channels]
    repeated = sorted({c for c in channels if list(channels).count(c) > 1})
    if repeated:
        raise RecordError(f"{path}: channel {repeated[0]!r} asked for twice")
    index = {name: i for i, name in enumerate(names)}
    raw: dict[str, int] = {}
    for i, label in enumerate(labels or ()):
        raw.setdefault(label, i)
    position = {c: index.get(c, raw.get(c, index.get(canonical_channel(c)))) for c in channels}
    missing = [c for c, i in position.items() if i is None]
    if missing:
        raise MissingChannelError(
            f"{path}: no channel {', '.join(map(repr, missing))}; "
            f"the record has {', '.join(names) or 'no channels'}", list(names)
        )
    asked: dict[int, str] = {}
    for c, i in position.items():
        if asked.setdefault(i, c) != c:
            raise RecordError(f"{path}: {asked[i]!r} and {c!r} both name its channel "
                              f"{names[i]!r}; the record has {', '.join(names)}")
    return list(dict.fromkeys(position[c] for c in channels))


def sample_span(
    start: float | None, stop: float | None, fs: float, n: int, path: Path
) -> tuple[int, int]:
    """Sample indices ``[i0, i1)`` of the span ``start``..``stop`` seconds of ``n`` samples.

    ``stop`` past the end is clipped to the end; a span that is empty or starts at or past the
    end raises ``RecordError``.
    """
    t0 = 0.0 if start is None else float(start)
    if not math.isfinite(t0) or t0 < 0:
        raise RecordError(f"{path}: start={start} s must be a finite number >= 0")
    i0 = int(round(t0 * fs))
    if stop is None:
        i1 = n
    else:
        if not math.isfinite(float(stop)) or stop <= t0:
            raise RecordError(f"{path}: stop={stop} s must be after start={t0} s")
        i1 = min(n, int(round(float(stop) * fs)))
    if i0 < n and i1 <= i0:
        raise RecordError(f"{path}: span {t0}..{stop} s is shorter than one sample at {fs:g} Hz")
    if i0 >= n or i1 <= i0:
        length = "" if n == sys.maxsize else f" ({n / fs:.3f} s long)"  # unknown: not read
        raise RecordError(f"{path}: span {t0}..{stop} s lies outside the record{length}")
    return i0, i1


def aligned_spans(
    start: float | None, stop: float | None, channels: list[tuple[float, int]], path: Path,
    grid: float | None = None,
) -> tuple[list[tuple[int, int]], float]:
    """:func:`sample_span` of each channel ``(rate, samples)`` of a file whose channels share
    one clock but not one rate, and the instant they start at.

    ``start`` is rounded to the nearest sample of the ``grid`` rate (the caller's: the file's
    slowest waveform channel, whichever channels are read; default the slowest of
    ``channels``), and each
    channel starts at its own sample nearest that instant (cut at its own rate alone, a
    125-Hz and a 500-Hz channel had started up to 4 ms apart, and the record's start was
    whichever was cut last).
    """
    grid = min(rate for rate, _ in channels) if grid is None else grid
    if start is not None:
        sample_span(start, None, grid, sys.maxsize, path)  # a start as given: checked
        start = round(float(start) * grid) / grid
    spans = [sample_span(start, stop, rate, n, path) for rate, n in channels]
    return spans, 0.0 if start is None else start


def patient_from_path(path: Path, record_id: str) -> str:
    """The patient id a path gives (a MIMIC ``pNNNNNN`` folder up to two levels up), else that
    of a MIMIC segment read alone in its record's folder or beside its record's layout
    header, the record (``32/3269321/`` holding ``3269321_0002``, or ``3269321_layout.hea``
    beside it: ``3269321``, so that two pieces of one stay are one group), else the record id
    (but a MIMIC-III matched record's name, ``p000020-2183-04-28-17-47``, gives its subject
    wherever it lies: copied into one folder, each record had been a patient of its own).
    The path is read as given, then with its folder resolved (not a linked file:
    a folder of links into an annex is the patient's): a patient folder that is a link into
    an annex (``p000123 -> blob42``) and a folder link named otherwise (``data -> p000123``)
    both keep the patient (each had given every record a group of its own)."""
    path = Path(path)
    for spelt in (path, path.parent.resolve() / path.name):
        for parent in list(spelt.parents)[:2]:
            match = _MIMIC_PATIENT.match(parent.name)
            if match:
                return match.group(1)
        segment = _MIMIC_SEGMENT.match(record_id)
        if segment and (spelt.parent.name == segment.group(1)  # MIMIC-III's 32/3269321/
                        # or its record's layout beside it, the master header gone
                        or (spelt.parent / f"{segment.group(1)}_layout.hea").is_file()):
            return segment.group(1)
    matched = _MIMIC_MATCHED.match(record_id)
    return matched.group(1) if matched else record_id


def file_head(path: Path) -> bytes:
    """The first 4 KB of ``path``, for telling its format; a file that cannot be opened is a
    RecordError naming it."""
    try:
        with path.open("rb") as f:
            return f.read(4096)
    except OSError as e:
        raise RecordError(f"{path}: cannot open ({e})") from e


def utf16_text(head: bytes) -> str | None:
    """What a file whose first bytes are ``head`` is where it is UTF-16 text (with or without
    a byte-order mark), which no reader reads, or None."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "UTF-16 text, which is not read: save it as UTF-8"
    odd, even = head[1::2].count(0), head[0::2].count(0)  # text's zeros in one parity alone
    if len(head) >= 4 and ((odd > 0.9 * len(head[1::2]) and even < 0.1 * len(head[0::2]))
                           or (even > 0.9 * len(head[0::2]) and odd < 0.1 * len(head[1::2]))):
        return "UTF-16 text without a byte-order mark, which is not read: save it as UTF-8"
    return None


def not_text(head: bytes) -> str | None:
    """Why a file whose first bytes are ``head`` (4 KB) holds no text the readers read
    (compressed, an archive, UTF-16, binary bytes), or None."""
    if head[:2] == b"\x1f\x8b":
        return "gzip-compressed, not text: decompress it (gunzip) first"
    if head[:4] == b"PK\x03\x04":
        return "a zip archive, not text: extract it first"
    if (utf16 := utf16_text(head)) is not None:
        return utf16
    if b"\0" in head:
        return "binary data (NUL bytes in its first 4 KB), not text"
    return None
