"""``prepare``: a corpus of record files -> windows -> quality -> pairs -> a sharded store.

Records are independent, so a process pool reads, windows, scores and pairs them; the parent
writes their results in the order of the record list, so the store is the same whatever the
number of workers. Progress is journalled after every full shard (``journal.json``): an
interrupted run, started again with the same arguments, resumes from the last complete shard
and ends with the same store as an uninterrupted one. ``meta.json`` is written last and marks a
complete store.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import hashlib
import json
import math
import os
import re
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from qualityfm._caller import warn_at_caller
from qualityfm._numbers import is_int
from qualityfm._progress import progress_bar
from qualityfm._signals import raise_terminated
from qualityfm.data.pairs import PairConfig, mine_pairs
from qualityfm.data.store import (
    _STR_WIDTH,
    FEATURES,
    FEATURES_STAMP,
    FLOAT16_MAX,
    FORMAT_VERSION,
    JOURNAL,
    META,
    PAIRS,
    PART_SETTINGS,
    ShardWriter,
    float16_overflow,
    index_dtype,
    list_parts,
    part_name,
    read_store_json,
    records_differ,
    records_phrase,
    save_npy,
    settings_difference,
    shard_name,
)
from qualityfm.io import (
    MIN_WAVEFORM_FS,
    MissingChannelError,
    Record,
    RecordError,
    ecg_leads,
    find_records,
    is_ecg,
    read_record,
    remove_temporaries,
    write_json,
)
from qualityfm.io.folders import (
    check_out_apart,
    check_writable_folder,
    folder_lock,
    refuse_other_kind,
)
from qualityfm.io.read import (
    input_paths,
    machine_fault,
    no_record_reason,
    passed_over_skips,
    read_channels_among,
    record_path,
    skip_reason,
    without_segments,
)
from qualityfm.io.wfdb_reader import (
    UnreadableSpanError,
    header_files,
    lost_segments_joined,
    parse_header,
)
from qualityfm.quality import LEVEL_NAMES, SCORING_VERSION, QualityScores, RRRules, score_windows
from qualityfm.quality._common import MIN_SECONDS as MIN_WINDOW_SECONDS
from qualityfm.signal import WindowConfig, Windows, make_windows, normalize
from qualityfm.signal.nan import missing
from qualityfm.signal.pacing import MIN_PACING_FS, NOISE_SECONDS
from qualityfm.signal.resample import rational_ratio


@dataclass
class _Result:
    """What a worker returns for one record."""

    source: str
    record_id: str = ""
    patient_id: str = ""
    x: np.ndarray | None = None  # normalised float32 [N, C, T]
    start: np.ndarray | None = None
    mask: np.ndarray | None = None
    ecg_q: np.ndarray | None = None
    ppg_q: np.ndarray | None = None
    q: np.ndarray | None = None
    level: np.ndarray | None = None
    pairs: np.ndarray | None = None  # int64 [P, 2] indices into this record's windows
    n_rejected: int = 0
    reason: str | None = None

    def __len__(self) -> int:
        return 0 if self.x is None else len(self.x)


def record_key(path: Path, root: Path) -> str:
    """Machine-independent name of a record: its path relative to the input's parent.

    ``path`` is taken as found under ``root`` (links not followed), so a folder of symbolic
    links to records elsewhere names them by their links; only ``root`` itself is resolved,
    for its name (``.``, a linked folder)."""
    if not root.is_dir():  # a file, or a WFDB record named without suffix
        return path.name
    relative = Path(os.path.abspath(path)).relative_to(os.path.abspath(root))
    return f"{root.resolve().name}/{relative.as_posix()}"


def stable_part(key: str, n: int) -> int:
    """The part (0..n-1) a record belongs to: a SHA-1 of its key, the same on every machine."""
    return int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "big") % n


def expand_inputs(inputs: Sequence[str | os.PathLike],
                  empty: list | None = None) -> list[tuple[str, Path]]:
    """``(key, path)`` of every record under ``inputs``, sorted by key, each file once; the
    inputs that hold no record are appended to ``empty``.

    A file reached twice (given twice, or through a link) keeps the key of a place reached
    through no folder that is a link where there is one (folders that are links were not
    looked in before session 32: the keys of the stores made then stay), and of those the
    smallest, so the same set of records gives the same list, and the same store, in any
    order of ``inputs``."""
    keys: dict[Path, tuple[bool, str]] = {}  # resolved path -> (via a linked folder, key)
    where: dict[Path, dict[str, Path]] = {}  # resolved path -> {key: the place it names}
    for inp in inputs:
        root = Path(inp)
        found = find_records(root)
        if not found and empty is not None:
            empty.append(inp)
        for p in found:
            key, path, place = record_key(p, root), p.resolve(), _named_place(p, root)
            where.setdefault(path, {})[key] = place
            rank = (root.is_dir() and place.parent != p.parent.resolve(), key)
            if path not in keys or rank < keys[path]:
                keys[path] = rank
    keys = without_segments(keys, inputs)  # a segment named as well as its record
    return sorted(_distinct_keys({path: (key, where[path][key])
                                  for path, (_, key) in keys.items()}))


def _named_place(path: Path, root: Path) -> Path:
    """The absolute place a record's key names: the resolved input folder, then the path
    found under it (links not followed), as ``record_key`` reads it."""
    if not root.is_dir():
        return Path(os.path.abspath(path)).parent.resolve() / path.name
    return root.resolve() / Path(os.path.abspath(path)).relative_to(os.path.abspath(root))


def _distinct_keys(named: dict[Path, tuple[str, Path]]) -> list[tuple[str, Path]]:
    """``(key, path)`` pairs in which two files never share a key: files of two inputs of the
    same folder name (``site1/icu``, ``site2/icu``) and the same file names keep as many more
    of their place's parent folders in their key as tell them apart (``site1/icu/rec.hea``);
    refused, naming both, where a key so made is another record's."""
    by_key: dict[str, list[Path]] = {}
    for path, (key, _) in named.items():
        by_key.setdefault(key, []).append(path)
    pairs = {path: key for path, (key, _) in named.items()}
    for key, paths in by_key.items():
        if len(paths) < 2:
            continue
        n_key = len(Path(key).parts)
        # never the root itself: a key names no machine's absolute path
        places = {path: named[path][1].parts[1:] for path in paths}
        longest = max(len(parts) for parts in places.values())
        n = next((n for n in range(n_key + 1, longest + 1)
                  if len({parts[-n:] for parts in places.values()}) == len(paths)), None)
        if n is None:  # (places on two drives of one path: Windows)
            raise ValueError(f"{' and '.join(map(str, sorted(paths)))}: records named {key!r} "
                             "that no folder above them tells apart")
        for path, parts in places.items():
            pairs[path] = Path(*parts[-n:]).as_posix()
    found: dict[str, Path] = {}
    for path, key in pairs.items():
        if key in found:
            raise ValueError(f"{found[key]} and {path}: two records named {key!r}; give "
                             "their inputs under folders of other names")
        found[key] = path
    return [(key, path) for path, key in pairs.items()]


def input_records(keys: Sequence[str]) -> dict[str, Any]:
    """``{"count", "digest"}`` of the record keys under a run's inputs (all parts together):
    what ``meta.json`` records so that parts made from other records can be told apart."""
    blob = json.dumps(sorted(keys))
    return {"count": len(keys), "digest": hashlib.sha256(blob.encode()).hexdigest()}


def read_model_channels(path: str, channels: Sequence[str], start: float | None = None,
                        stop: float | None = None) -> Record:
    """The record (its span ``start``..``stop`` s) with only the model channels; when one is
    missing, or an ECG of them is sampled too slowly for a waveform or left out by its reader,
    those it holds and its ECG leads, so that :func:`make_windows` can fall back to another
    lead (its other channels, which may not even be signals, are left unread)."""
    try:
        rec: Record | None = read_record(path, channels=list(channels), start=start, stop=stop)
    except MissingChannelError as err:
        if not ([c for c in channels if c in err.available] + ecg_leads(err.available)):
            # named as make_windows names a record without them, with what it holds
            raise RecordError(f"no channel of {tuple(channels)} (record has: "
                              f"{', '.join(err.available) or 'none'})") from None
        rec = None
    if rec is None or any(is_ecg(c) and (c not in rec.signals or rec.fs[c] < MIN_WAVEFORM_FS)
                          for c in channels):
        # a channel missing, a lead of trends (a 1-Hz II), or one its reader left out (a
        # .vital track of no samples, which had masked the ECG where V5 was full): the
        # record's model channels and its leads, one of which stands in, as in the task
        # windows (the record's other channels, which may be no signals, still unread)
        return read_channels_among(path, lambda c: c in channels or is_ecg(c), start, stop)
    return rec


#: Record time (s) of a long WFDB record read and windowed at once (prepare, score, embed):
#: read whole, a record had taken about 37 MB of memory an hour of two 125-Hz channels (0.9
#: GB a day, per worker; MIMIC holds stays of weeks), read an hour at a time its windows
#: alone grow with it. An hour keeps the margins' extra reading (2 x SPAN_MARGIN_SECONDS) at
#: 3 %; records up to it and its margins are read whole.
SPAN_SECONDS = 3600.0
#: Record time (s) read either side of a span and windowed in the next: past every rule that
#: reads beyond a window's samples (the resampling filter, under 0.1 s; the pacing stimuli's
#: noise, over 10-s blocks, the last joined to the one before), so the windows kept are those
#: of the whole record.
SPAN_MARGIN_SECONDS = 60.0


def read_windows(path: str | Path, cfg: WindowConfig) -> tuple[Record, Windows]:
    """A record's model channels (:func:`read_model_channels`) cut into raw windows; a WFDB
    record longer than :data:`SPAN_SECONDS` span by span (:func:`_span_windows`), with the
    windows of the whole record. The record returned is then its last span (``start_time``
    its start), its ids those of the record."""
    frames = _wfdb_frames(Path(path))
    if frames is not None and frames[0] > (SPAN_SECONDS + 2 * SPAN_MARGIN_SECONDS) * frames[1]:
        return _span_windows(str(path), cfg, *frames)
    rec = read_model_channels(str(path), cfg.channels)
    return rec, make_windows(rec, cfg)


def _wfdb_frames(path: Path) -> tuple[int, float] | None:
    """``(frames, frame rate)`` a WFDB record's header gives; None for another format, or a
    header that gives no count (the reader then says what it lacks)."""
    path = record_path(path)
    if path.suffix.lower() != ".hea" or not path.is_file():
        return None
    try:
        header = parse_header(path)
    except RecordError:
        return None
    n = sum(n for _, n in header.data_segments) if header.multi else header.n_frames
    return (n, header.fs) if n and header.fs > 0 else None


def _span_quantum(rec: Record, frame_fs: float, cfg: WindowConfig) -> tuple[int, int] | None:
    """``(frames, output samples)`` of the smallest step of span starts at which every channel
    of ``rec`` is resampled and its pacing noise measured on the whole record's grids (a
    start on a resampling phase and a 10-s noise block of its own); None when none under a
    tenth of :data:`SPAN_SECONDS` is (rates of no common grid)."""
    quantum, out = 1, set()
    for fs in rec.fs.values():
        spf = max(1, int(round(fs / frame_fs)))
        up, down = rational_ratio(float(fs), cfg.fs) if float(fs) != cfg.fs else (1, 1)
        steps = [down // math.gcd(spf * up, down)]
        if fs >= MIN_PACING_FS:
            block = max(2, int(round(NOISE_SECONDS * fs)))
            steps.append(block // math.gcd(spf, block))
        for step in steps:
            quantum = math.lcm(quantum, step)
        out.add((spf, up, down))
    if quantum > SPAN_SECONDS * frame_fs / 10:
        return None
    samples = {quantum * spf * up // down for spf, up, down in out}
    return (quantum, samples.pop()) if len(samples) == 1 else None


def _span_windows(path: str, cfg: WindowConfig, n_frames: int, frame_fs: float
                  ) -> tuple[Record, Windows]:
    """:func:`_windows_by_span`, the segments its spans' reads lose said once, as a whole
    read says them (a span touching one had said it again, a day's record up to 24 times)."""
    with lost_segments_joined():
        return _windows_by_span(path, cfg, n_frames, frame_fs)


def _windows_by_span(path: str, cfg: WindowConfig, n_frames: int, frame_fs: float
                     ) -> tuple[Record, Windows]:
    """:func:`read_windows` of a WFDB record of ``n_frames`` read span by span: each span of
    :data:`SPAN_SECONDS` of windows read with :data:`SPAN_MARGIN_SECONDS` either side from a
    start on the grids of :func:`_span_quantum`, its gaps at either end filled towards the
    samples outside it, its windows on the whole record's grid of starts; a span of a
    multi-segment record none of whose segments can be read is a gap, as in the whole record
    (where the first is, the record is read whole)."""
    hop, length = cfg.hop_samples, cfg.samples
    off = int(round(cfg.offset * cfg.fs))
    per = max(1, int(SPAN_SECONDS * cfg.fs) // hop)  # windows a span keeps
    margin = int(math.ceil(SPAN_MARGIN_SECONDS * cfg.fs))  # output samples
    try:
        first = read_model_channels(path, cfg.channels, 0.0,
                                    (off + hop * (per - 1) + length + margin) / cfg.fs)
    except UnreadableSpanError:  # its channels and rates unknown: read whole (a record of
        first = None  # no segment that can be read is refused as it was)
    grid = None if first is None else _span_quantum(first, frame_fs, cfg)
    if first is None or grid is None or not first.signals:  # (rates of no common grid; no
        rec = read_model_channels(path, cfg.channels)  # channel, which the windows name)
        return rec, make_windows(rec, cfg)
    quantum, q_out = grid
    names = list(first.signals)
    spf = {c: int(round(first.fs[c] / frame_fs)) for c in names}

    def read(f0: int, f1: int) -> Record:
        """Frames ``f0``..``f1`` of the record's channels; a span of segments none of which
        can be read as a gap (NaN), said."""
        try:
            return read_record(path, channels=names, start=f0 / frame_fs, stop=f1 / frame_fs)
        except UnreadableSpanError as err:
            warn_at_caller(f"{err}; its {f1 - f0} frames ({(f1 - f0) / frame_fs:.1f} s) are "
                           "read as a gap (NaN)", RuntimeWarning)
            return dataclasses.replace(first, signals={
                c: np.full((f1 - f0) * spf[c], np.nan, np.float32) for c in names},
                start_time=f0 / frame_fs)

    seen: dict[str, tuple[int, float] | None] = {}  # what after() found (None: no sample)

    def after(f1: int, wanted: list[str]) -> dict[str, tuple[int, float]]:
        """The first finite sample at or after frame ``f1`` of each channel ``wanted``, by
        its index in the channel, read a span at a time; one found for an earlier span's end
        still at or after ``f1`` (or none to the record's end) is not sought again (each span
        of a gap of days had read on to its end: reads of the square of its spans)."""
        found = {c: seen[c] for c in wanted if c in seen
                 and (seen[c] is None or seen[c][0] >= f1 * spf[c])}
        sought = [c for c in wanted if c not in found]
        step = int(SPAN_SECONDS * frame_fs)
        while f1 < n_frames and any(c not in found for c in sought):
            rec = read(f1, min(n_frames, f1 + step))
            for c in sought:
                at = np.flatnonzero(~missing(rec.signals[c]))
                if c not in found and len(at):
                    found[c] = (f1 * spf[c] + int(at[0]), float(rec.signals[c][at[0]]))
            f1 += step
        seen.update({c: found.get(c) for c in sought})
        return {c: at for c, at in found.items() if at is not None}

    # the windows' samples, in one array of as many as the record's grid may hold (its
    # longest channel's), cut to those kept at the end: no second copy of them all
    longest = max(-(-n_frames * spf[c] * up // down) for c in names
                  for up, down in [rational_ratio(float(first.fs[c]), cfg.fs)
                                   if float(first.fs[c]) != cfg.fs else (1, 1)])
    x = np.empty((max(0, (longest - off - length) // hop + 1), len(cfg.channels), length),
                 np.float32)
    parts: list[Windows] = []
    before: dict[str, tuple[int, float]] = {}  # last finite sample before the span (index)
    k, f0, rec, n_kept = 0, 0, first, 0
    while True:
        f1 = f0 + len(rec.signals[names[0]]) // spf[names[0]]
        last = f1 >= n_frames
        tail = [c for c in names if not last and missing(rec.signals[c][-1:]).any()]
        ahead = after(f1, tail) if tail else {}
        edges = {c: ((before[c][0] - f0 * spf[c], before[c][1]) if c in before else None,
                     (ahead[c][0] - f0 * spf[c], ahead[c][1]) if c in ahead else None)
                 for c in names}
        shift = f0 // quantum * q_out  # the span's first output sample in the record
        w = make_windows(rec, dataclasses.replace(cfg, offset=(off + hop * k - shift) / cfg.fs),
                         edges=edges)
        if not w.n_cut and not parts:  # no window anywhere: the record's reason
            return rec, w
        w = _span_part(w, shift, None if last else off + hop * (k + per))
        x[n_kept: n_kept + len(w)] = w.x
        n_kept += len(w)
        w.x = x[:0].copy()  # (its copy freed)
        parts.append(w)
        if last:
            break
        k += per  # the next span: its first window less the margin, on the grid
        f_next = max(0, off + hop * k - margin) // q_out * quantum
        for c in names:  # the last finite sample before it
            at = np.flatnonzero(~missing(rec.signals[c][: (f_next - f0) * spf[c]]))
            if len(at):
                before[c] = (f0 * spf[c] + int(at[-1]), float(rec.signals[c][at[-1]]))
        f0 = f_next
        f_stop = -(-(off + hop * (k + per - 1) + length + margin) // q_out) * quantum
        rec = w = None  # (freed before the next span is read)
        rec = read(f0, min(n_frames, f_stop))
    x.resize((n_kept, *x.shape[1:]), refcheck=False)  # (in place: no view of it is left)
    return rec, _joined(parts, x)


def _span_part(w: Windows, shift: int, stop: int | None) -> Windows:
    """The windows ``w`` of a span whose first output sample is sample ``shift`` of the
    record, those starting before sample ``stop`` (None: all), their starts the record's."""
    if not w.n_cut:  # (past the last window: the span's "shorter than one window")
        w.rejected, w.rejected_off = [], w.rejected_off[:0]
        return w
    at = np.rint(w.start * w.fs).astype(np.int64) + shift
    gone = np.rint(np.array([t for t, _ in w.rejected]) * w.fs).astype(np.int64) + shift
    keep = at < stop if stop is not None else np.ones(len(at), bool)
    drop = gone < stop if stop is not None else np.ones(len(gone), bool)
    return dataclasses.replace(
        w, x=w.x[keep], mask=w.mask[keep], start=at[keep] / w.fs,
        rejected=[(float(t), why) for t, (_, why), ok in
                  zip(gone / w.fs, w.rejected, drop, strict=True) if ok],
        notes=[n for n, ok in zip(w.notes, keep, strict=True) if ok],
        n_cut=int(keep.sum() + drop.sum()), rejected_off=w.rejected_off[drop],
        clipped=w.clipped[keep], filled=w.filled[keep])


def _joined(parts: list[Windows], x: np.ndarray) -> Windows:
    """The windows of a record's spans ``parts`` as one, their samples ``x``."""
    return dataclasses.replace(
        parts[0], x=x, mask=np.concatenate([w.mask for w in parts]),
        start=np.concatenate([w.start for w in parts]),
        rejected=[r for w in parts for r in w.rejected],
        notes=[n for w in parts for n in w.notes], n_cut=sum(w.n_cut for w in parts),
        rejected_off=np.concatenate([w.rejected_off for w in parts]),
        clipped=np.concatenate([w.clipped for w in parts]),
        filled=np.concatenate([w.filled for w in parts]))


def unusable_reason(w: Windows) -> str:
    """Why a record gives no window: the reasons its windows were left out."""
    return "no usable window: " + ("; ".join(sorted({r for _, r in w.rejected})) or "no window")


#: Windows scored and scaled at once (:func:`score_and_scale`): the scores' working arrays
#: of a day's windows scored together had been 0.5 GB, three times the windows themselves.
SCORE_BLOCK = 256


def score_and_scale(w: Windows, cfg: WindowConfig, ecg_rules: RRRules | None = None
                    ) -> tuple[QualityScores, np.ndarray]:
    """The quality of the raw windows (a recorded channel off in a window scores 0), then the
    windows scaled as the model reads them (float32); :data:`SCORE_BLOCK` windows at a time
    (each window's score and scaling are its own)."""
    parts, x = [], np.empty(w.x.shape, np.float32)
    for a in range(0, max(len(w), 1), SCORE_BLOCK):  # (one call of no windows: its checks)
        block = slice(a, a + SCORE_BLOCK)
        clipped, filled = (None if v is None else v[block] for v in (w.clipped, w.filled))
        parts.append(score_windows(w.x[block], w.mask[block], w.fs, w.channels,
                                   recorded=w.recorded, ecg_rules=ecg_rules, clipped=clipped,
                                   filled=filled))
        x[block] = normalize(w.x[block], w.mask[block], cfg.normalization)
    if len(parts) == 1:
        return parts[0], x
    return QualityScores(*(np.concatenate([getattr(p, f.name) for p in parts])
                           for f in dataclasses.fields(QualityScores))), x


def process_record(path: str, window: WindowConfig, pair_cfg: PairConfig,
                   ecg_rules: RRRules | None = None) -> _Result:
    """Read, window, score (on raw windows, the ECG by ``ecg_rules``; None: the method's),
    normalise and pair one record."""
    res = _Result(source=path)
    if len(str(path)) > _STR_WIDTH["source"]:  # the index's width: skipped, named, not fatal
        res.reason = (f"path longer than {_STR_WIDTH['source']} characters (the store's "
                      "index holds no more): move the record to a shorter path")
        return res
    try:
        rec, w = read_windows(path, window)
        res.record_id = rec.record_id
        res.patient_id = rec.patient_id or rec.record_id
        for field in ("record_id", "patient_id"):  # cut, two records would be one
            if len(getattr(res, field)) > _STR_WIDTH[field]:
                res.reason = (f"{field.replace('_', ' ')} {getattr(res, field)!r} longer than "
                              f"{_STR_WIDTH[field]} characters (the store's index holds no "
                              "more): rename the record")
                return res
        res.n_rejected = len(w.rejected) if w.n_cut else 0  # else: why the record gave none
        if len(w) == 0:
            res.reason = unusable_reason(w)
            return res
        scores, res.x = score_and_scale(w, window, ecg_rules)
        # slots on the sample grid of window starts (a hop of 0.3 s is 38 samples at 128 Hz);
        # pairs lie whole windows apart, so overlapping windows (hop < seconds) never pair
        # with a window that shares their samples
        hop = window.hop_samples
        slots = np.rint((w.start - window.offset) * window.fs / hop).astype(np.int64)
        res.start, res.mask = w.start, w.mask
        res.ecg_q, res.ppg_q = np.asarray(scores.ecg), np.asarray(scores.ppg)
        res.q, res.level = np.asarray(scores.q), np.asarray(scores.level)
        res.pairs = mine_pairs(res.level, slots, pair_cfg, per_window=window.samples / hop)
    except Exception as err:
        fault = machine_fault(err)
        if fault is not None:  # not the record's: it stops the run, which resumes here; as
            # the fault itself, which a worker process sends back whole (a reader's error
            # wrapping it loses its cause on the way)
            raise (MemoryError(str(err)) if isinstance(fault, MemoryError)
                   else OSError(fault.errno, str(err))) from err
        res.x = None
        res.reason = skip_reason(err)
    return res


def _refuse_float16_overflow(res: _Result, channels: Sequence[str]) -> None:
    """Turn a record whose windows float16 cannot store (``--normalization none`` on raw
    values past 65504) into a skipped record naming its channels."""
    over = float16_overflow(res.x)
    if over.any():
        names = ", ".join(c for c, o in zip(channels, over, strict=True) if o)
        res.reason = (f"values up to {float(np.abs(res.x).max()):.6g} in channel {names} pass "
                      f"float16's range ({FLOAT16_MAX:g}); prepare with --dtype int16 or a "
                      "--normalization other than none")
        res.x, res.pairs = None, None


def _index_rows(res: _Result, record: int, n_channels: int) -> np.ndarray:
    rows = np.zeros(len(res), index_dtype(n_channels))
    rows["record"] = record
    rows["record_id"] = res.record_id
    rows["patient_id"] = res.patient_id
    rows["source"] = res.source
    rows["start"] = res.start
    rows["mask"] = res.mask
    rows["ecg_q"] = res.ecg_q
    rows["ppg_q"] = res.ppg_q
    rows["q"] = res.q
    rows["level"] = res.level
    return rows


def _settings(window: WindowConfig, pair_cfg: PairConfig, dtype: str, shard_size: int,
              shard: tuple[int, int] | None, ecg_rules: RRRules | None = None
              ) -> dict[str, Any]:
    pairs: dict[str, Any] = dataclasses.asdict(pair_cfg)
    if window.hop is not None:  # distances in window lengths since session 27 (in hops before)
        pairs["distance_unit"] = "window"
    # the ECG rules only where they are not the method's: a store made before they could be
    # set has the same settings as one made with the defaults today
    rules = {} if ecg_rules is None or ecg_rules == RRRules() else {
        "ecg_rules": dataclasses.asdict(ecg_rules)}
    return {
        **rules,
        "window": dataclasses.asdict(window),
        "pairs": pairs,
        "dtype": dtype,
        "shard_size": shard_size,
        "shard": list(shard) if shard else None,
        "format_version": FORMAT_VERSION,
    }


def _untold(theirs: dict[str, Any]) -> str:
    """Why a store or journal of an earlier version, which records too little to tell, is
    another run's."""
    made = f"made from {records_phrase(theirs)}, " if theirs.get("inputs") else ""
    return (f"other settings or records ({made}by an earlier qualityfm that recorded too "
            "little to say which)")


def _legacy_fingerprints(meta: dict[str, Any], settings: dict[str, Any],
                         inputs: Sequence[str | os.PathLike],
                         shard: tuple[int, int] | None) -> list[str]:
    """The fingerprint a store written before session 19 (no ``input_records``) has for these
    inputs: its records in the order they were given (each input's sorted, a file reached
    twice kept where first met), so that re-running its command finds it complete."""
    if "input_records" in meta:
        return []
    seen: set[Path] = set()
    keys = []
    for inp in inputs:
        root = Path(inp)
        for key, path in sorted((record_key(p, root), p.resolve()) for p in find_records(root)):
            if path not in seen:
                seen.add(path)
                keys.append(key)
    if shard is not None:
        keys = [k for k in keys if stable_part(k, shard[1]) == shard[0]]
    return [_fingerprint(settings, keys)]


def _as_recorded(theirs: dict[str, Any], settings: dict[str, Any], keys: list[str]) -> list[str]:
    """The fingerprint of the settings a store or journal ``theirs`` recorded, where they
    equal ``settings`` as numbers but are written otherwise (``seconds`` 8 where 8.0: the
    Python API kept whole numbers as given before session 46, and such a store or journal had
    been refused on an identical re-run as an earlier version's)."""
    saved = theirs.get("settings")
    if not isinstance(saved, dict) or settings_difference(saved, settings, ignore=()) is not None:
        return []
    return [_fingerprint(saved, keys)]


def _fingerprint(settings: dict[str, Any], keys: list[str]) -> str:
    blob = json.dumps({"settings": settings, "records": keys}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _worker_start(parent: int) -> None:
    """A pool worker leaves Ctrl-C and SIGTERM to the parent, which lets the tasks in flight
    finish and then ends the pool: a worker killed while it writes a result leaves the pool's
    reader waiting for the rest for ever. It ends with the parent: on Linux it is sent
    SIGKILL when the parent dies (killed by SIGKILL, say), instead of waiting for tasks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):  # prctl: Linux only
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl could take effect
        os._exit(1)


@contextlib.contextmanager
def worker_pool(workers: int) -> Iterator[cf.ProcessPoolExecutor]:
    """A process pool whose workers leave Ctrl-C and SIGTERM to the parent (which stops
    cleanly, instead of every worker printing a traceback); leaving it early drops the tasks
    not started yet and waits for those running. A SIGTERM to the parent ends it (status 143)
    after the pool; its workers had been left behind, waiting for tasks."""
    main = threading.current_thread() is threading.main_thread()
    # a handler set outside Python (getsignal None) could not be put back: left alone
    previous = signal.getsignal(signal.SIGTERM) if main else None
    if previous is not None:
        signal.signal(signal.SIGTERM, raise_terminated)
    pool = cf.ProcessPoolExecutor(max_workers=workers, initializer=_worker_start,
                                  initargs=(os.getpid(),))
    try:
        yield pool
    finally:
        if getattr(pool, "_broken", False):
            # a worker died (killed for memory, a reader's crash): the pool ends the others
            # with SIGTERM, which they ignore, and waits for them; without this it hung for
            # ever, deaf to Ctrl-C and SIGTERM
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.kill()
        pool.shutdown(wait=True, cancel_futures=True)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _ordered_results(
    todo: list[Path], window: WindowConfig, pair_cfg: PairConfig, workers: int,
    ecg_rules: RRRules | None = None,
) -> Iterator[_Result]:
    """Results of :func:`process_record` in the order of ``todo``, ``workers`` at a time (no
    more processes than records: 1000 had been started for 2, taking 33 s)."""
    workers = min(workers, len(todo))
    if workers <= 1:
        for path in todo:
            try:
                res = process_record(str(path), window, pair_cfg, ecg_rules)
            except Exception as err:
                _stop_at(path, err)
            yield res
        return
    with worker_pool(workers) as pool:
        pending: deque[tuple[Path, cf.Future[_Result]]] = deque()
        paths = iter(todo)
        for path in paths:  # keep at most 2 records per worker in flight
            pending.append((path, pool.submit(process_record, str(path), window, pair_cfg,
                                              ecg_rules)))
            if len(pending) >= 2 * workers:
                break
        while pending:
            try:
                res = pending[0][1].result()
                pending.popleft()
                nxt = next(paths, None)
                if nxt is not None:  # a pool broken since is found here too
                    pending.append((nxt, pool.submit(process_record, str(nxt), window,
                                                     pair_cfg, ecg_rules)))
            except cf.BrokenExecutor:
                raise ChildProcessError(
                    "a worker process died (killed for memory, or a crash in a reader) while "
                    f"it read one of: {', '.join(str(p) for p, _ in pending)}; the records "
                    "before them are kept: run the same command again, with fewer --workers "
                    "if memory ran out (--workers 1 finds a record that crashes its "
                    "reader, to leave out)") from None
            except Exception as err:
                _stop_at(pending[0][0], err)
            yield res


def _stop_at(path: Path, err: Exception) -> NoReturn:
    """Stop the run at ``path`` for ``err``, a :func:`machine_fault`, as an OSError the
    command line reports (others propagate)."""
    if machine_fault(err) is None:
        raise err
    raise OSError(f"{path}: {type(err).__name__} while reading it ({err}); the records "
                  "before it are kept: run the same command again (with fewer --workers if "
                  "memory ran out) to go on from it; should it stop here again, the file "
                  "itself may be unreadable (a bad disk): move it out of the inputs") from err


#: A number as a run writes it in a file name, ``{:06d}`` (7 digits from 1,000,000: those
#: chunks had been left out of the store's pairs).
_NUMBER = r"(\d{6}|[1-9]\d{6,})"
#: The names of the shard and pair-chunk files a run writes (:func:`store.shard_name`).
_RUN_FILES = {"shard": re.compile(rf"shard-{_NUMBER}\.(x|scale|index)\.npy"),
              "pairs": re.compile(rf"pairs-{_NUMBER}\.npy")}


def _run_files(folder: Path, kind: str) -> list[tuple[int, Path]]:
    """``(number, path)`` of the ``kind`` ("shard" or "pairs") files in ``folder``, by number;
    only names a run writes: a user's "shard-000000 (copy).x.npy" had failed every resume
    naming no file, "pairs-000000 (copy).npy" been merged into the store's pairs, and
    "shard-000009-backup.x.npy" been removed."""
    made = [(_RUN_FILES[kind].fullmatch(f.name), f) for f in folder.iterdir()]
    return sorted((int(m.group(1)), f) for m, f in made if m)


def _clean(folder: Path, keep_shards: int, keep_chunks: int) -> None:
    """Remove temporary files, and shard and pair-chunk files past the journalled ones."""
    remove_temporaries(folder)
    for kind, keep in (("shard", keep_shards), ("pairs", keep_chunks)):
        for number, f in _run_files(folder, kind):
            if number >= keep:
                f.unlink(missing_ok=True)


def _remove_run_files(folder: Path) -> None:
    """Remove what a complete store no longer needs, its journal, record stamps and pair
    chunks, where the folder may be written (a store others made may be read only): a stop
    between ``meta.json`` and their removal leaves them for the next run to remove."""
    for f in (folder / JOURNAL, folder / STAMPS, *(f for _, f in _run_files(folder, "pairs"))):
        with contextlib.suppress(OSError):
            f.unlink(missing_ok=True)


def _remove_store(folder: Path) -> None:
    """Remove every file a store folder may hold (features included), and nothing else: the
    marks of a finished or resumable store first, so that a stop part way never leaves a
    folder that reads as finished (or resumable) without its shards."""
    patterns = (META, JOURNAL, STAMPS, PAIRS, FEATURES, FEATURES_STAMP, ".*.tmp")
    for f in [f for p in patterns for f in folder.glob(p)] + [
            f for kind in ("shard", "pairs") for _, f in _run_files(folder, kind)]:
        f.unlink(missing_ok=True)


#: The ``prepare`` flag of a store setting (``meta["settings"]``, nested keys dotted).
_SETTING_FLAGS = {"window.fs": "--fs", "window.seconds": "--window",
                  "window.normalization": "--normalization", "dtype": "--dtype",
                  "shard_size": "--shard-size", "pairs.max_distance": "--max-distance",
                  "pairs.min_level_gap": "--min-level-gap"}


def _setting_phrase(key: str, there: Any, here: Any) -> str:
    """A setting in which a store and this run differ, said by its flag where it has one
    (``--fs 250 here, 300 there``; the ECG rules by ``--hr-max``: they had been shown as
    two dicts of six values)."""
    if key == "ecg_rules" or key.startswith("ecg_rules."):
        if key != "ecg_rules":  # one rule of two stores' non-default rules
            key, there, here = "ecg_rules", {key[10:]: there}, {key[10:]: here}
        default = RRRules().hr_max
        there_max = (there or {}).get("hr_max", default)
        here_max = (here or {}).get("hr_max", default)
        if there_max != here_max:
            return f"--hr-max {here_max:g} here, {there_max:g} there"
        return f"ECG rules {here or 'the method'} here, {there or 'the method'} there"
    flag = _SETTING_FLAGS.get(key)
    if flag is None:
        return f"{key} {here!r} here, {there!r} there"
    def shown(v: Any) -> str:
        return f"{v:g}" if isinstance(v, float) else str(v)

    return f"{flag} {shown(here)} here, {shown(there)} there"


def _other_run(theirs: dict[str, Any], ours: dict[str, Any],
               ignore: Collection[str] = ()) -> str | None:
    """What makes the run recorded in ``theirs`` (a ``meta.json`` or journal) other than
    ``ours`` (settings, inputs, input_records), as ``"other settings (key=..., here ...)"`` or
    ``"other records (...; here ...)"``; None when neither differs (or is not recorded)."""
    if "settings" in theirs:
        diff = settings_difference(theirs["settings"], ours["settings"], ignore=ignore)
        if diff is not None:
            return f"other settings ({_setting_phrase(*diff)})"
    if records_differ(theirs, ours):
        return f"other records ({records_phrase(theirs)}; here {records_phrase(ours)})"
    return None


def _check_siblings(out: Path, shard: tuple[int, int] | None, run: dict[str, Any],
                    overwrite: bool = False) -> None:
    """Refuse to write what :class:`Store` would not read with what ``out`` holds: a store
    beside part folders, or a part of another split, or with other settings or from other
    records than the parts beside it (complete, or journalled by an unfinished run). With
    ``overwrite`` a part made otherwise than its siblings is written, with a warning naming
    them (each is remade by its own ``--overwrite`` run: refused, no part could be)."""
    others = [(k, n, f) for k, n, f in list_parts(out) if shard is None or (k, n) != shard]
    if shard is None:
        if others:
            names = ", ".join(f.name for _, _, f in others)
            raise ValueError(f"{out}: holds part folders ({names}); a store prepared without "
                             "--shard goes into a folder of its own (remove them to make it "
                             "there)")
        return
    k, n = shard
    if (out / META).is_file():
        raise ValueError(f"{out}: holds a store made without --shard; parts go into a folder "
                         "of their own")
    # the quality rules this part will hold: a complete part returned as it is keeps its own
    # (None: one of no window, which holds no score and agrees with any)
    own = out / part_name(k, n) / META
    rules_here: int | None = SCORING_VERSION
    if not overwrite and own.is_file():
        kept = read_store_json(own)
        rules_here = kept.get("scoring_version") if kept.get("n_windows", 1) else None
    unlike = []
    for other_k, other_n, folder in others:
        if other_n != n:
            raise ValueError(f"{folder}: a part of {other_n}, while --shard {k}/{n} writes parts "
                             f"of {n}; use --shard K/{other_n}, or another folder (or remove "
                             "the parts of another split to split it anew)")
        recorded = folder / META if (folder / META).is_file() else folder / JOURNAL
        if recorded.is_file():
            theirs = read_store_json(recorded)
            rules = theirs.get("scoring_version")
            if theirs.get("n_windows", 1) == 0 or rules_here is None:  # no score to differ
                rules = rules_here
            # the part it was made as: a store's "part", a journal's settings (stores and
            # journals that predate them: the part of their folder's name)
            held = theirs["part"] if "part" in theirs else (
                theirs.get("settings") or {}).get("shard", [other_k, other_n])
            diff = ("no --shard (a whole store in a part's folder)" if held is None
                    else f"--shard {held[0]}/{held[1]}" if list(held) != [other_k, other_n]
                    else f"the quality rules of version {rules} (this part's: {rules_here})"
                    if rules != rules_here  # Store refuses them
                    else _other_run(theirs, run, ignore=PART_SETTINGS))
            if diff is not None and overwrite:
                unlike.append(folder.name)
            elif diff is not None:
                raise ValueError(f"{folder}: made with {diff}; prepare every part with the "
                                 "same settings from the same inputs (--overwrite remakes "
                                 "this part, then each other one), or write into another "
                                 "folder")
    if unlike:
        warn_at_caller(f"{out}: {', '.join(unlike)} made otherwise than this part: the store "
                       "reads as one only once each is made again (--overwrite)",
                       RuntimeWarning)


#: The version of every record's files of an interrupted run (beside its journal).
STAMPS = "journal-stamps.json"


def record_stamp(path: str | os.PathLike) -> list[list]:
    """Size and modification time (ns) of a record's file and of the files its WFDB header
    names (signal files, segments), to tell a record changed between an interrupted run and
    its resume, or since a store was made; a file that is not there is left out, one that
    cannot be read is marked so (a record skipped for it had not been said to have changed
    once it was made readable)."""
    out = []
    for f in (Path(path), *header_files(Path(path))):
        try:
            st = os.stat(f)
        except OSError:
            continue
        out.append([f.name, int(st.st_size), int(st.st_mtime_ns)]
                   + ([] if os.access(f, os.R_OK) else ["unreadable"]))
    return out


def _stamp_digest(stamp: list[list]) -> str:
    """A short digest of a record's :func:`record_stamp`, as a complete store keeps it."""
    return hashlib.sha256(json.dumps(stamp).encode()).hexdigest()[:16]


def _read_stamps(folder: Path) -> dict[str, Any]:
    """The record versions an interrupted run in ``folder`` saw ({} when none are kept)."""
    try:
        return json.loads((folder / STAMPS).read_text())
    except (OSError, ValueError):
        return {}


def _check_journal(journal_path: Path, fingerprint: str, run: dict[str, Any],
                   records: list[tuple[str, Path]], stamps: dict[str, Any]) -> None:
    """Refuse to resume the interrupted run of ``journal_path`` with other settings or
    records, other input folders (records of the same names), records it read that have
    changed since, or other scoring rules: finishing it would mix the two."""
    journal = read_store_json(journal_path)
    if journal.get("fingerprint") not in (fingerprint, *_as_recorded(
            journal, run["settings"], [key for key, _ in records])):
        why = _other_run(journal, run) or _untold(journal)
        raise ValueError(f"{journal_path}: journal of an interrupted run with {why}; re-run "
                         "that command to finish it, or choose another folder or --overwrite "
                         "it")
    # same names, other folders (one given twice is one)
    if sorted(set(journal.get("inputs", run["inputs"]))) != run["inputs"]:
        raise ValueError(f"{journal_path}: journal of an interrupted run of other inputs "
                         f"({', '.join(journal['inputs'])}; here {', '.join(run['inputs'])}); "
                         "finishing it would mix their records: re-run that command, or "
                         "--overwrite it")
    seen = _read_stamps(journal_path.parent)
    # the records read before the stop, and the one whose first windows are on disk
    partly = journal.get("n_written", 0) > journal.get("windows_done", 0)
    done = [key for key, _ in records[:journal.get("records_done", 0) + int(partly)]]
    changed = [key for key in done if seen.get(key, stamps[key]) != stamps[key]]
    if changed:
        raise ValueError(f"{journal_path}: {changed[0]} has changed since the interrupted run "
                         "read it (size, modification time or readability of its files; "
                         f"{len(changed)} record(s) in all); finishing it would mix two "
                         "versions: --overwrite it")
    rules = journal.get("scoring_version", 1)
    if rules != SCORING_VERSION:
        raise ValueError(f"{journal_path}: journal of an interrupted run whose windows were "
                         f"scored by an earlier qualityfm (scoring rules {rules}, now "
                         f"{SCORING_VERSION}); finishing it would mix the two: --overwrite it "
                         "or choose another folder")


def _summary(meta: dict[str, Any], folder: Path, wall: float) -> dict[str, Any]:
    names = meta["level_names"]
    return {
        "path": str(folder),
        "n_records": meta["n_records"],
        "n_windows": meta["n_windows"],
        "n_pairs": meta["n_pairs"],
        "n_rejected_windows": meta["n_rejected_windows"],
        "levels": dict(zip(names, meta["level_counts"], strict=True)),
        "skipped": meta["skipped"],
        "passed_over": meta.get("passed_over", []),  # stores before session 21: none listed
        "n_shards": meta["n_shards"],
        "seconds": round(wall, 3),
    }


def prepare(
    inputs: str | os.PathLike | Iterable[str | os.PathLike],
    out: str | os.PathLike,
    *,
    workers: int = 1,
    shard: tuple[int, int] | None = None,
    window: WindowConfig | None = None,
    pairs: PairConfig | None = None,
    ecg_rules: RRRules | None = None,
    dtype: str = "float16",
    shard_size: int = 2048,
    overwrite: bool = False,
    progress: bool = True,
    on_shard: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Prepare the records under ``inputs`` into the store ``out``; returns a summary dict.

    ``shard=(k, n)`` writes part ``k`` of ``n`` (folder ``out/part-k-of-n``) with the records
    whose :func:`stable_part` is ``k``. Unreadable or unusable records are listed under
    ``skipped`` with the reason. An existing complete store made with the same settings and
    records (given in any order) is returned as is; one made otherwise is an error naming what
    differs, unless ``overwrite``. A journal left by an interrupted run with the same settings
    and records is resumed. ``out`` must lie apart from the input folders. ``on_shard`` is
    called with the journal each time full shards have been written (raising from it
    interrupts the run). ``ecg_rules`` scores the ECG (None: the method's rules; a higher
    ``hr_max`` keeps clean tachycardia from rating bad, the student of its pairs)."""
    t0 = time.perf_counter()
    window = window or WindowConfig()
    pair_cfg = pairs or PairConfig()
    inputs = input_paths(inputs)
    # Every setting is checked before anything is read or removed.
    if not (is_int(workers) and workers >= 1):  # 2.5 had failed after the folder was made
        raise ValueError(f"workers must be a whole number >= 1, got {workers!r}")
    workers = int(workers)
    if not window.seconds >= MIN_WINDOW_SECONDS:  # every record would be skipped for it
        raise ValueError(f"windows of {window.seconds:g} s: the quality scores need at least "
                         f"{MIN_WINDOW_SECONDS:g} s")
    ShardWriter.check_settings(dtype, shard_size)
    shard_size = int(shard_size)  # (np.int64 had failed in the settings' JSON)
    folder = Path(out)
    if shard is not None:
        k, n = shard
        if not (is_int(k) and is_int(n) and n >= 1 and 0 <= k < n):  # (0.0, 2.0) had
            # written a part no read finds, np.int64 failed in the part's hash
            raise ValueError(f"shard must be K/N, whole numbers with 0 <= K < N, got {k}/{n}")
        k, n = int(k), int(n)
        shard = (k, n)
        folder = folder / part_name(k, n)
    empty: list = []  # inputs without a record, named under passed_over beside the others
    records = expand_inputs(inputs, empty)
    if not records:  # a part may get none, but the inputs as a whole must hold some
        raise ValueError("; ".join(f"{item}: {no_record_reason(item)}" for item in inputs)
                         or "no input given")
    refuse_other_kind(out, ("prepared store",))
    if overwrite or not (folder / META).is_file():  # a complete store is returned unwritten
        # (one others made, or on a read-only mount): finished() below
        check_writable_folder(out, f"--out {out}")  # a file there had been "[Errno 17] File exists"
    check_out_apart(out, inputs, "store")
    all_records = input_records([key for key, _ in records])
    if shard is not None:
        records = [(key, p) for key, p in records if stable_part(key, shard[1]) == shard[0]]
    settings = _settings(window, pair_cfg, dtype, shard_size, shard, ecg_rules)
    run = {  # what meta.json and the journal record of this run, as JSON reads them back
        "settings": json.loads(json.dumps(settings)),
        # their order is no setting, nor one given twice (in/icu in/icu/ had read as other
        # inputs than in/icu at a re-run or resume)
        "inputs": sorted({str(Path(i).resolve()) for i in inputs}),
        "input_records": all_records,
    }
    _check_siblings(Path(out), shard, run, overwrite)
    fingerprint = _fingerprint(settings, [key for key, _ in records])
    stamps = {key: record_stamp(path) for key, path in records}

    meta_path, journal_path = folder / META, folder / JOURNAL

    def finished() -> dict[str, Any] | None:
        """The summary of the complete store there, made from these records with these
        settings; None when there is none; refused when one of another run is there."""
        if overwrite or not meta_path.exists():
            return None
        meta = read_store_json(meta_path)
        if meta.get("fingerprint") in (fingerprint, *_legacy_fingerprints(
                meta, settings, inputs, shard), *_as_recorded(
                    meta, run["settings"], [key for key, _ in records])):
            same_inputs = sorted(set(meta.get("inputs", run["inputs"]))) == run["inputs"]
            if not same_inputs:
                warn_at_caller(f"{folder}: the store there was made from "
                               f"{', '.join(meta['inputs'])} (here {', '.join(run['inputs'])}), "
                               "records of the same names: it is returned as it is; "
                               "--overwrite makes it again from these", RuntimeWarning)
            changed = [key for key, seen in meta.get("stamps", {}).items()  # (early stores
                       if same_inputs and key in stamps  # of session 33 keep whole stamps)
                       and (seen if isinstance(seen, str) else _stamp_digest(seen))
                       != _stamp_digest(stamps[key])]
            if changed:  # a copy without its times changes them too: said, not refused
                warn_at_caller(f"{folder}: {changed[0]} has changed since the store there was "
                               "made from it (size, modification time or readability of its "
                               "files; "
                               f"{len(changed)} record(s) in all): it is returned as it is; "
                               "--overwrite makes it again from these", RuntimeWarning)
            if meta.get("scoring_version") != SCORING_VERSION and meta["n_windows"]:
                warn_at_caller(f"{folder}: the store there was scored by the quality rules of "
                               f"version {meta.get('scoring_version')} (this qualityfm's: "
                               f"{SCORING_VERSION}): it is returned as it is; --overwrite "
                               "scores it again", RuntimeWarning)
            _remove_run_files(folder)  # of a run stopped after writing meta.json
            return _summary(meta, folder, time.perf_counter() - t0)
        why = _other_run(meta, run) or _untold(meta)
        raise ValueError(f"{folder}: a store made with {why} is there; choose another folder "
                         "or --overwrite it")

    done_store = finished()  # read only: a store others made, or on a read-only mount
    if done_store is not None:
        return done_store
    folder.mkdir(parents=True, exist_ok=True)
    # held from the checks on: a run finishing between another's checks and its start had
    # had its complete store's shards removed by the other
    with folder_lock(folder, "prepare"):  # a second launch on the folder is refused
        done_store = finished()
        if done_store is not None:
            return done_store
        if not overwrite and journal_path.exists():
            _check_journal(journal_path, fingerprint, run, records, stamps)
        if overwrite:
            _remove_store(folder)
        state: dict[str, Any] = {
            **run,
            "fingerprint": fingerprint, "scoring_version": SCORING_VERSION,
            "final": False, "n_written": 0, "n_shards": 0,
            "n_chunks": 0, "records_done": 0,
            "windows_done": 0, "n_records": 0, "n_pairs": 0, "n_rejected_windows": 0,
            "skipped": [],
            # files of the input folders that are no record here, and inputs that hold none
            # beside others that do (one part lists them)
            "passed_over": [e for i in sorted(inputs, key=lambda i: str(Path(i).resolve()))
                            for e in ([{"record": str(i), "reason": no_record_reason(i)}]
                                      if i in empty else passed_over_skips(i))]
            if shard is None or shard[0] == 0 else [],
        }
        if journal_path.exists():  # of this very run (checked above): resume it
            state = read_store_json(journal_path)
        # the version of each record's files, once (not in every journal): those an
        # interrupted run read were checked against them (_check_journal), the others are
        # read from now on
        write_json(folder / STAMPS, stamps)
        _clean(folder, state["n_shards"], state["n_chunks"])

        C, T = len(window.channels), window.samples
        writer = ShardWriter(folder, C, T, dtype=dtype, shard_size=shard_size,
                             n_written=0 if state["final"] else state["n_written"])
        done = state["records_done"]
        carry = state["n_written"] - state["windows_done"]  # windows of record `done` on disk
        # Bookkeeping of the records processed since the last journal point.
        open_pairs: list[np.ndarray] = []  # pairs (global ids) of records not journalled yet
        open_records: list[dict[str, Any]] = []  # per record: windows, pairs, skipped, rejected

        bar = None
        if progress:
            bar = progress_bar(len(records), done, unit="rec", desc=f"prepare {folder.name}")

        def journal(n_complete: int) -> None:
            """Record that the first ``n_complete`` open records are entirely on disk."""
            closing = open_records[:n_complete]
            chunk = [p for p in open_pairs[:n_complete] if len(p)]
            n_new_pairs = sum(len(p) for p in chunk)
            state["n_shards"] = -(-writer.n_written // shard_size)
            if n_new_pairs:
                save_npy(folder / f"pairs-{state['n_chunks']:06d}.npy", np.concatenate(chunk))
                state["n_chunks"] += 1
            state["n_written"] = writer.n_written
            state["records_done"] += n_complete
            state["windows_done"] += sum(r["windows"] for r in closing)
            state["n_records"] += sum(1 for r in closing if r["windows"])
            state["n_pairs"] += n_new_pairs
            state["n_rejected_windows"] += sum(r["rejected"] for r in closing)
            state["skipped"] += [r["skipped"] for r in closing if r["skipped"]]
            del open_records[:n_complete]
            del open_pairs[:n_complete]
            # the record whose first windows are on disk, and how many it gave: a resume
            # checks that it gives them again (else it had mixed two readings of it)
            state["partial"] = ({"record": open_records[0]["source"],
                                 "windows": open_records[0]["windows"]}
                                if state["n_written"] > state["windows_done"] else None)
            write_json(journal_path, state)
            if on_shard is not None:
                on_shard(dict(state))

        try:
            todo = [] if state["final"] else [p for _, p in records[done:]]
            for res in _ordered_results(todo, window, pair_cfg, workers, ecg_rules):
                if dtype == "float16" and len(res):
                    _refuse_float16_overflow(res, window.channels)
                base = state["windows_done"] + sum(r["windows"] for r in open_records)
                n_rec = state["n_records"] + sum(1 for r in open_records if r["windows"])
                if carry and state.get("partial") and len(res) != state["partial"]["windows"]:
                    raise ValueError(
                        f"{res.source}: the interrupted run had stored the first {carry} of "
                        f"its {state['partial']['windows']} windows, and it now gives "
                        f"{len(res)}{f' ({res.reason})' if res.reason else ''}: it reads "
                        "otherwise than it did; prepare again with --overwrite")
                open_records.append({
                    "source": res.source, "windows": len(res), "rejected": res.n_rejected,
                    "skipped": {"record": res.source, "reason": res.reason} if res.reason else None,
                })
                open_pairs.append(res.pairs + base if res.pairs is not None else np.zeros((0, 2)))
                if len(res):
                    rows = _index_rows(res, n_rec, C)
                    x = res.x
                    if carry:  # this record's first windows were written before the interruption
                        x, rows, carry = x[carry:], rows[carry:], 0
                    written = writer.append(x, rows)
                    if written:
                        journal(len(open_records) - (1 if writer.n_total > writer.n_written else 0))
                if bar is not None:
                    bar.update(1)
            if not state["final"]:
                writer.finish()
                state["final"] = True
                journal(len(open_records))
        finally:
            if bar is not None:
                bar.close()

        # Finalise: one pairs array, meta.json last, then drop the journal and the pair chunks.
        all_pairs = [np.load(c) for _, c in _run_files(folder, "pairs")]
        pairs_arr = (np.concatenate(all_pairs) if all_pairs else np.zeros((0, 2))).astype(np.int64)
        save_npy(folder / PAIRS, pairs_arr.reshape(-1, 2))
        level_counts = np.zeros(len(LEVEL_NAMES), np.int64)
        for s in range(state["n_shards"]):
            lv = np.load(folder / shard_name(s, "index"), mmap_mode="r")["level"]
            level_counts += np.bincount(np.asarray(lv, np.int64), minlength=len(LEVEL_NAMES))
        meta = {
            "format_version": FORMAT_VERSION,
            "fs": window.fs,
            "seconds": window.seconds,
            "n_samples": T,
            "channels": list(window.channels),
            "dtype": dtype,
            "normalization": window.normalization,
            "shard_size": shard_size,
            "n_shards": state["n_shards"],
            "n_records": state["n_records"],
            "n_windows": state["n_written"],
            "n_pairs": int(len(pairs_arr)),
            "n_rejected_windows": state["n_rejected_windows"],
            "level_names": list(LEVEL_NAMES),
            "scoring_version": SCORING_VERSION,
            "level_counts": level_counts.tolist(),
            "skipped": state["skipped"],
            "passed_over": state.get("passed_over", []),
            "settings": settings,
            "fingerprint": fingerprint,
            "part": list(shard) if shard else None,
            "inputs": run["inputs"],
            "input_records": all_records,
            # the version of each record's files it was made from (a digest: a MIMIC record's
            # stamps list every segment's files)
            "stamps": {key: _stamp_digest(stamp) for key, stamp in stamps.items()},
        }
        write_json(meta_path, meta)
        _remove_run_files(folder)
        _clean(folder, state["n_shards"], 0)
        return _summary(meta, folder, time.perf_counter() - t0)
