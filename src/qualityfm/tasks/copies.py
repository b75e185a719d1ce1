"""Recordings of one stay under two names: files that share a stretch of signal, whole or
shifted in time.

PhysioNet's 2015 sets hold such pairs: ``icu0450`` (physionet2015_icu) is ``v540s``
(physionet2015_vt) 82 s later, ``v293l`` is ``v291l`` 50 s later. A split by record puts one
on each side unless they are grouped. Each file's peaks (every channel, native samples) are
cut into runs of :data:`RUN` consecutive intervals (exact sample counts, so a copy's match
whatever its start); two files with runs in common at one sample offset share a stretch when
their peaks coincide over the whole overlap at that offset. A run of near-equal intervals (a
paced or very regular rhythm, which two stays may share) finds no candidates.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy.signal import find_peaks

from qualityfm.io.record import Record

#: Consecutive peak intervals that make one run.
RUN = 4
#: Runs two files share at one sample offset before their peaks are compared.
MIN_RUNS = 2
#: A run found in more files than this is a common pattern, not a shared stretch: not used.
MAX_FILES_PER_RUN = 50
#: Shortest peak interval, s (faster than 240 bpm: a wave's second peak, not a beat).
MIN_INTERVAL = 0.25
#: Two files share a stretch where this share of the peaks of each in their overlap, and at
#: least :data:`MIN_PEAKS`, lie within a sample of the other's. On the 2015 sets (499 files)
#: sharing files reach 0.9 or more, the others under 0.5.
MIN_SHARE = 0.8
MIN_PEAKS = 10


@dataclass(frozen=True)
class ChannelPeaks:
    """One channel's rate (Hz), length (samples) and peaks (sample numbers)."""

    fs: float
    n: int
    peaks: np.ndarray


def peak_marks(rec: Record) -> dict[str, ChannelPeaks]:
    """Each channel's :class:`ChannelPeaks`: prominent maxima at least :data:`MIN_INTERVAL`
    apart; channels without a finite range give none."""
    marks: dict[str, ChannelPeaks] = {}
    for name, x in rec.signals.items():
        fs = float(rec.fs[name])
        finite = np.isfinite(x)
        if finite.sum() < 2 or not fs > 0:
            continue
        low, high = np.percentile(x[finite], [1, 99])
        if not high > low:
            continue
        filled = np.where(finite, x, np.median(x[finite]))
        peaks, _ = find_peaks(filled, distance=max(1, int(MIN_INTERVAL * fs)),
                              prominence=0.3 * (high - low))
        marks[name] = ChannelPeaks(fs, len(x), peaks)
    return marks


def _runs(marks: dict[str, ChannelPeaks]) -> Iterator[tuple[tuple, str, int]]:
    """``(key, channel, first peak)`` of each run of :data:`RUN` peak intervals whose lengths
    differ by 2 samples or more (the key: the channel, its rate and the intervals)."""
    for name, ch in marks.items():
        gaps = np.diff(ch.peaks)
        for i in range(len(gaps) - RUN + 1):
            run = gaps[i:i + RUN]
            if run.max() - run.min() >= 2:
                yield (name, ch.fs, *run.tolist()), name, int(ch.peaks[i])


def _matched(a: ChannelPeaks, b: ChannelPeaks, offset: int) -> bool:
    """Whether the peaks of ``a`` and of ``b`` starting ``offset`` samples into ``a`` coincide
    (within a sample) over their overlap."""
    lo, hi = max(0, offset), min(a.n, offset + b.n)
    pa = a.peaks[(a.peaks >= lo) & (a.peaks < hi)]
    pb = b.peaks + offset
    pb = pb[(pb >= lo) & (pb < hi)]
    if min(len(pa), len(pb)) < MIN_PEAKS:
        return False
    at = np.clip(np.searchsorted(pb, pa), 1, len(pb) - 1)
    near = np.minimum(np.abs(pb[at] - pa), np.abs(pb[at - 1] - pa)) <= 1
    return near.sum() >= max(MIN_PEAKS, MIN_SHARE * max(len(pa), len(pb)))


def shared_stretches(marks: dict[str, dict[str, ChannelPeaks]]) -> list[tuple[str, str, float]]:
    """``(file_a, file_b, offset_s)`` of the files of ``marks`` (file -> :func:`peak_marks`)
    that share a stretch of signal, ``file_b`` starting ``offset_s`` into ``file_a``
    (negative: before it); ``file_a`` sorts before ``file_b``."""
    by_key: dict[tuple, list[tuple[str, int]]] = defaultdict(list)
    for name in sorted(marks):
        for key, _, first in _runs(marks[name]):
            by_key[key].append((name, first))
    votes: Counter[tuple[str, str, str, int]] = Counter()
    for key, found in by_key.items():
        if len(found) > MAX_FILES_PER_RUN:
            continue
        for (a, ta), (b, tb) in combinations(found, 2):
            if a != b:  # (in sorted file order: a < b)
                votes[(a, b, key[0], ta - tb)] += 1
    shared: dict[tuple[str, str], float] = {}
    for (a, b, channel, offset), n in votes.most_common():
        if n < MIN_RUNS:
            break
        if (a, b) not in shared and _matched(marks[a][channel], marks[b][channel], offset):
            shared[(a, b)] = offset / marks[a][channel].fs
    return [(a, b, offset) for (a, b), offset in sorted(shared.items())]
