"""Recordings of one stay under two names: files that share a stretch of signal, whole or
shifted in time.

PhysioNet's 2015 sets hold such pairs: ``v540s`` (physionet2015_vt) starts 82 s into
``icu0450`` (physionet2015_icu), ``v291l`` 50 s into ``v293l``. A split by record puts one on
each side unless they are grouped. Each file's peaks (its ECG leads, PPG and arterial line,
at their native samples) are cut into runs of :data:`RUN` consecutive intervals (exact sample
counts, so a copy's runs match whatever its start); two files with runs in common at one
sample offset share a stretch when, over their whole overlap at that offset, their peaks
coincide and the peaks' heights agree (a copy's heights are the same samples, at most
rescaled). A run of near-equal intervals (a paced or very regular rhythm, which two stays
may share) is not used.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import find_peaks

from qualityfm._numbers import missing
from qualityfm.io.channels import is_task_channel
from qualityfm.io.record import Record

#: Consecutive peak intervals that make one run.
RUN = 5
#: Runs two files share at one sample offset before their peaks are compared.
MIN_RUNS = 2
#: Offsets tried per pair of files, those most runs vote for first.
CANDIDATES = 3
#: A run found in more files than this, or more than twice as many times, is a common
#: pattern, not a shared stretch: not used.
MAX_FILES_PER_RUN = 8
#: Shortest peak interval, s (faster than 240 bpm: a wave's second peak, not a beat).
MIN_INTERVAL = 0.25
#: The span a peak's prominence is measured in, s.
PROMINENCE_SPAN = 4.0
#: Two files share a stretch where, over their overlap (less either's missing samples), this
#: share of the peaks of each, and at least :data:`MIN_PEAKS`, lie within a sample of the
#: other's, and the heights of the peaks so paired correlate at :data:`MIN_HEIGHT_CORR` or more
#: (:data:`SAME_HEIGHT_CORR`, the same samples rescaled, where under :data:`FEW_PEAKS` pair).
#: On the 2015 sets (499 files) the 34 pairs that share a stretch (their waveforms correlate at
#: 1.000) reach a share of 0.85 and a height correlation of 0.99998 or more on their best
#: channel (the shortest, icu0330 and icu0346: 17 peaks); cinc2017_af's near-copy A03530 of
#: A02656 (waveforms at 0.997) 32 peaks at 0.982. Synthetic stays of regular rhythms had met the
#: share alone over 6-16 s overlaps at the ends, and 10-15 peaks' heights at 0.986-0.997.
MIN_SHARE = 0.8
MIN_PEAKS = 10
MIN_HEIGHT_CORR = 0.98
FEW_PEAKS = 30
SAME_HEIGHT_CORR = 0.9999


@dataclass(frozen=True)
class ChannelPeaks:
    """One channel's rate (Hz), length (samples), peaks (sample numbers) and their heights,
    and its runs of missing samples (``[k, 2]`` sample spans, end exclusive)."""

    fs: float
    n: int
    peaks: np.ndarray
    heights: np.ndarray
    gaps: np.ndarray


def peak_marks(rec: Record) -> dict[str, ChannelPeaks]:
    """The :class:`ChannelPeaks` of each ECG lead, PPG and arterial line (the channels the
    tasks read): prominent maxima at least :data:`MIN_INTERVAL` apart, their prominence taken
    within :data:`PROMINENCE_SPAN` (a slow wave's over the whole record had taken 22 s for
    12 h of respiration); channels without a finite range give none."""
    marks: dict[str, ChannelPeaks] = {}
    for name, x in rec.signals.items():
        if not is_task_channel(name):
            continue
        fs = float(rec.fs[name])
        finite = ~missing(x)  # a fill value too (it had set the percentiles: no peak found)
        if finite.sum() < 2 or not fs > 0:
            continue
        low, high = np.percentile(x[finite], [1, 99])
        if not high > low:
            continue
        filled = np.where(finite, x, np.median(x[finite]))
        with warnings.catch_warnings():  # a flat top within the span has prominence 0 and
            # is no peak: scipy's warning had been printed by predict, naming no record
            warnings.filterwarnings("ignore", "some peaks have a prominence of 0")
            peaks, _ = find_peaks(filled, distance=max(1, int(MIN_INTERVAL * fs)),
                                  prominence=0.3 * (high - low),
                                  wlen=max(3, int(PROMINENCE_SPAN * fs) | 1))
        edges = np.diff(np.concatenate([[0], (~finite).astype(np.int8), [0]]))
        gaps = np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)], axis=1)
        marks[name] = ChannelPeaks(fs, len(x), peaks, filled[peaks].astype(np.float64), gaps)
    return marks


def _runs(ch: ChannelPeaks, channel: int) -> tuple[np.ndarray, np.ndarray]:
    """Keys (uint64: a hash of ``channel``, a number for the channel's name and rate, and the
    intervals) and first peaks of the channel's runs of :data:`RUN` peak intervals whose
    lengths differ by 2 samples or more."""
    gaps = np.diff(ch.peaks)
    if len(gaps) < RUN:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    runs = np.lib.stride_tricks.sliding_window_view(gaps, RUN)
    keep = np.flatnonzero(runs.max(axis=1) - runs.min(axis=1) >= 2)
    key = np.full(len(keep), channel, np.uint64)
    for j in range(RUN):  # (wraps modulo 2**64: a hash, whose rare collision _matched rejects)
        key = key * np.uint64(1_000_003) + runs[keep, j].astype(np.uint64)
    return key, ch.peaks[keep].astype(np.int64)


def _outside(peaks: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """``peaks`` that lie in none of the spans ``gaps``."""
    if not len(gaps):
        return peaks
    at = np.searchsorted(gaps[:, 0], peaks, side="right") - 1
    inside = (at >= 0) & (peaks < gaps[np.maximum(at, 0), 1])
    return peaks[~inside]


def _paired(a: ChannelPeaks, b: ChannelPeaks, offset: int
            ) -> tuple[np.ndarray, np.ndarray, int]:
    """The peaks of ``a`` and of ``b`` (starting ``offset`` samples into ``a``) that pair
    within a sample over their overlap, less either's missing samples (indices into each's
    ``peaks``), and how many peaks the one with more holds there."""
    lo, hi = max(0, offset), min(a.n, offset + b.n)
    pa = _outside(a.peaks[(a.peaks >= lo) & (a.peaks < hi)], b.gaps + offset)
    pb = b.peaks + offset
    pb = _outside(pb[(pb >= lo) & (pb < hi)], a.gaps)
    if min(len(pa), len(pb)) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), max(len(pa), len(pb))
    at = np.clip(np.searchsorted(pb, pa), 1, len(pb) - 1)
    nearer = np.where(np.abs(pb[at] - pa) <= np.abs(pb[at - 1] - pa), at, at - 1)
    near = np.abs(pb[nearer] - pa) <= 1
    return (np.searchsorted(a.peaks, pa[near]),
            np.searchsorted(b.peaks, pb[nearer[near]] - offset), max(len(pa), len(pb)))


def _heights_corr(a: ChannelPeaks, b: ChannelPeaks, ia: np.ndarray, ib: np.ndarray) -> float:
    """The correlation of the paired peaks' heights; NaN (nothing confirmed) where under 3
    pair or either's heights do not vary."""
    ha, hb = a.heights[ia], b.heights[ib]
    if len(ia) < 3 or not (np.ptp(ha) > 0 and np.ptp(hb) > 0):
        return float("nan")
    return float(np.corrcoef(ha, hb)[0, 1])


def agreement(a: ChannelPeaks, b: ChannelPeaks, offset: int) -> tuple[int, float, float]:
    """How ``a`` and ``b`` starting ``offset`` samples into ``a`` agree (:func:`_paired`): the
    peaks paired, their share of the peaks of the one with more, and the paired peaks'
    heights' correlation."""
    ia, ib, most = _paired(a, b, offset)
    return len(ia), len(ia) / max(most, 1), _heights_corr(a, b, ia, ib)


def _matched(a: ChannelPeaks, b: ChannelPeaks, offset: int) -> bool:
    """Whether ``a`` and ``b`` starting ``offset`` samples into ``a`` share their stretch:
    :data:`MIN_PEAKS` paired at a share of :data:`MIN_SHARE`, heights correlating at
    :data:`MIN_HEIGHT_CORR` (:data:`SAME_HEIGHT_CORR` under :data:`FEW_PEAKS`); the heights
    are looked at only where the peaks pair (most candidates do not)."""
    ia, ib, most = _paired(a, b, offset)
    if len(ia) < max(MIN_PEAKS, MIN_SHARE * most):
        return False
    need = SAME_HEIGHT_CORR if len(ia) < FEW_PEAKS else MIN_HEIGHT_CORR
    return _heights_corr(a, b, ia, ib) >= need


def _votes(key: np.ndarray, file: np.ndarray, first: np.ndarray,
           side: np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Entries sorted by key then file: for each (file a, file b > a, offset) pair of entries
    of one key (a key held in 2 to :data:`MAX_FILES_PER_RUN` files, by at most twice as many
    entries), ``(a, b, offset, runs)``: ``runs``, the pairs of entries that vote for it.
    With ``side`` (bool per entry, sorted by key, then side True first, then file), only
    pairs of one entry of each side, a key's commonness judged by its False side alone: the
    files of the True side (a folder evaluated against a model's training records) are not
    compared with each other, and had also counted to the limit, so that nine copies of one
    training stay in a folder had hidden one another's match."""
    bounds = np.flatnonzero(np.diff(key)) + 1
    starts = np.concatenate([[0], bounds])
    sizes = np.diff(np.concatenate([starts, [len(key)]]))
    new_file = np.concatenate([[True], (np.diff(file) != 0) | (np.diff(key) != 0)])
    if side is not None:
        return _cross_votes(starts, sizes, new_file, file, first, side)
    n_files = np.add.reduceat(new_file.astype(np.int64), starts)
    fa, fb, offset = [], [], []
    for m in range(2, 2 * MAX_FILES_PER_RUN + 1):  # keys of m entries, all at once
        at = starts[(sizes == m) & (n_files >= 2) & (n_files <= MAX_FILES_PER_RUN)]
        if not len(at):
            continue
        i, j = np.triu_indices(m, 1)
        a, b = (at[:, None] + i).ravel(), (at[:, None] + j).ravel()
        two = file[a] != file[b]
        fa.append(file[a][two])
        fb.append(file[b][two])
        offset.append(first[a][two] - first[b][two])
    return _tally(fa, fb, offset)


def _cross_votes(starts: np.ndarray, sizes: np.ndarray, new_file: np.ndarray,
                 file: np.ndarray, first: np.ndarray, side: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_votes` with sides: each True entry of a key paired with each of its False
    entries, where those are 1 to 2 x :data:`MAX_FILES_PER_RUN` in 1 to that many files."""
    n_true = np.add.reduceat(side.astype(np.int64), starts)
    n_false = sizes - n_true
    false_files = np.add.reduceat((new_file & ~side).astype(np.int64), starts)
    ok = (n_true >= 1) & (false_files >= 1) & (false_files <= MAX_FILES_PER_RUN) & (
        n_false <= 2 * MAX_FILES_PER_RUN)
    group = np.repeat(np.arange(len(starts)), sizes)  # each entry's key
    fa, fb, offset = [], [], []
    for m in range(1, 2 * MAX_FILES_PER_RUN + 1):  # keys of m False entries, all at once
        g = ok & (n_false == m)
        mine = np.flatnonzero(side & g[group])  # the True entries of such keys
        if not len(mine):
            continue
        theirs = (starts[group[mine]] + n_true[group[mine]])[:, None] + np.arange(m)
        x, y = np.repeat(mine, m), theirs.ravel()
        low, high = np.minimum(file[x], file[y]), np.maximum(file[x], file[y])
        lead = np.where(file[x] <= file[y], x, y)  # the entry of the file sorted first
        trail = np.where(file[x] <= file[y], y, x)
        two = low != high
        fa.append(low[two])
        fb.append(high[two])
        offset.append(first[lead][two] - first[trail][two])
    return _tally(fa, fb, offset)


def _tally(fa: list[np.ndarray], fb: list[np.ndarray], offset: list[np.ndarray]
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The distinct ``(a, b, offset)`` of the pairs given, each with the pairs voting for it."""
    if not fa:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, empty
    fa, fb, offset = np.concatenate(fa), np.concatenate(fb), np.concatenate(offset)
    order = np.lexsort((offset, fb, fa))
    fa, fb, offset = fa[order], fb[order], offset[order]
    new = np.concatenate([[True], (np.diff(fa) != 0) | (np.diff(fb) != 0)
                          | (np.diff(offset) != 0)])
    first_of = np.flatnonzero(new)
    runs = np.diff(np.concatenate([first_of, [len(fa)]]))
    return fa[first_of], fb[first_of], offset[first_of], runs


def shared_stretches(marks: dict[str, dict[str, ChannelPeaks]],
                     across: set[str] | None = None) -> list[tuple[str, str, float]]:
    """``(file_a, file_b, offset_s)`` of the files of ``marks`` (file -> :func:`peak_marks`)
    that share a stretch of signal, ``file_b`` starting ``offset_s`` into ``file_a``
    (negative: before it); ``file_a`` sorts before ``file_b``. Each pair of files is compared
    at the :data:`CANDIDATES` offsets most runs vote for (:data:`MIN_RUNS` at least); with
    ``across``, only pairs of one file in it and one not, a run's commonness judged by the
    files not in it."""
    names = sorted(marks)
    channels: dict[tuple[str, float], int] = {}  # (channel, rate) -> its number in the keys
    parts = []
    for i, name in enumerate(names):
        for channel, ch in marks[name].items():
            c = channels.setdefault((channel, ch.fs), len(channels))
            key, first = _runs(ch, c)
            parts.append((key, np.full(len(key), i, np.int64), np.full(len(key), c), first))
    if not parts:
        return []
    key, file, chan, first = (np.concatenate(p) for p in zip(*parts, strict=True))
    side = None if across is None else np.isin(file, [i for i, n in enumerate(names)
                                                      if n in across])
    # by key, then (with across) its side first, then file
    order = np.lexsort((file, key) if side is None else (file, ~side, key))
    key, file, chan, first = key[order], file[order], chan[order], first[order]
    # the channel joins the file numbers: pairs are counted per channel
    n_chan = len(channels)
    fa, fb, offset, runs = _votes(key, file * n_chan + chan, first,
                                  None if side is None else side[order])
    chan_of = {c: channel for (channel, _), c in channels.items()}
    shared: dict[tuple[str, str], float] = {}
    tried: Counter[tuple[str, str]] = Counter()
    for k in np.argsort(-runs, kind="stable"):
        if runs[k] < MIN_RUNS:
            break
        a, b = names[fa[k] // n_chan], names[fb[k] // n_chan]
        channel = chan_of[int(fa[k] % n_chan)]
        if (fa[k] % n_chan != fb[k] % n_chan or (a, b) in shared or tried[(a, b)] >= CANDIDATES
                or (across is not None and (a in across) == (b in across))):
            continue  # (two channels of one file, found already, tried enough, or one side's)
        tried[(a, b)] += 1
        if _matched(marks[a][channel], marks[b][channel], int(offset[k])):
            shared[(a, b)] = int(offset[k]) / marks[a][channel].fs
    return [(a, b, offset) for (a, b), offset in sorted(shared.items())]


def pack_marks(marks: dict[str, dict[str, ChannelPeaks]]) -> dict[str, np.ndarray]:
    """``marks`` (file -> channel -> peaks) as flat arrays for an ``.npz`` (no pickle)."""
    entries = [(f, c, ch) for f, chans in sorted(marks.items()) for c, ch in chans.items()]
    return {
        "files": np.array([f for f, _, _ in entries], dtype=str),
        "channels": np.array([c for _, c, _ in entries], dtype=str),
        "fs": np.array([ch.fs for *_, ch in entries], dtype=np.float64),
        "n": np.array([ch.n for *_, ch in entries], dtype=np.int64),
        "n_peaks": np.array([len(ch.peaks) for *_, ch in entries], dtype=np.int64),
        "peaks": _joined([ch.peaks for *_, ch in entries], (0,), np.int64),
        "heights": _joined([ch.heights for *_, ch in entries], (0,), np.float64),
        "n_gaps": np.array([len(ch.gaps) for *_, ch in entries], dtype=np.int64),
        "gaps": _joined([ch.gaps.reshape(-1, 2) for *_, ch in entries], (0, 2), np.int64),
    }


def _joined(arrays: list[np.ndarray], empty: tuple[int, ...], dtype: type) -> np.ndarray:
    """``arrays`` concatenated as ``dtype`` (an array of shape ``empty`` when there are none)."""
    return np.concatenate(arrays).astype(dtype) if arrays else np.zeros(empty, dtype)


def unpack_marks(arrays: dict[str, np.ndarray]) -> dict[str, dict[str, ChannelPeaks]]:
    """The marks :func:`pack_marks` packed."""
    marks: dict[str, dict[str, ChannelPeaks]] = {}
    p = np.concatenate([[0], np.cumsum(arrays["n_peaks"])])
    g = np.concatenate([[0], np.cumsum(arrays["n_gaps"])])
    for i, (f, c) in enumerate(zip(arrays["files"].tolist(), arrays["channels"].tolist(),
                                   strict=True)):
        marks.setdefault(f, {})[c] = ChannelPeaks(
            float(arrays["fs"][i]), int(arrays["n"][i]), arrays["peaks"][p[i]:p[i + 1]],
            arrays["heights"][p[i]:p[i + 1]], arrays["gaps"][g[i]:g[i + 1]])
    return marks


def stretches_of(marks: dict[str, dict[str, ChannelPeaks]],
                 others: dict[str, dict[str, ChannelPeaks]]) -> dict[str, str]:
    """The files of ``marks`` that share a stretch with a file of ``others`` (a model's
    training records) of another name, each with one such file (a record under its own name,
    wherever it lies, is no other record's stretch)."""
    ours = {f"a:{f}" for f in marks}
    joined = {f"a:{f}": m for f, m in marks.items()} | {f"b:{f}": m for f, m in others.items()}
    found: dict[str, str] = {}
    for x, y, _ in shared_stretches(joined, across=ours):
        (sx, fx), fy = x.split(":", 1), y.split(":", 1)[1]
        mine, theirs = (fx, fy) if sx == "a" else (fy, fx)
        if Path(mine).name != Path(theirs).name:
            found.setdefault(mine, theirs)
    return found
