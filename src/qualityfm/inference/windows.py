"""Files to model-ready windows, for the batch verbs (score, embed): one record at a time."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from qualityfm._progress import on_terminal, progress_bar
from qualityfm.data.prepare import read_windows, score_and_scale, unusable_reason
from qualityfm.io import MODEL_CHANNELS, find_records
from qualityfm.io.read import (
    input_paths,
    machine_fault,
    no_record_reason,
    note_passed_over,
    passed_over_skips,
    refuse_writing_over,
    skip_line,
    skip_reason,
    without_segments,
)
from qualityfm.quality import RRRules
from qualityfm.signal import WindowConfig

if TYPE_CHECKING:  # the model (and torch) only where a model is given
    from qualityfm.io import Record
    from qualityfm.model import QualityFMConfig
    from qualityfm.signal.windows import Windows

T = TypeVar("T")


@dataclass
class FileWindows:
    """The windows of one record: raw for quality, normalised for the model."""

    path: Path
    record_id: str
    start: np.ndarray  # float64 [N] seconds
    mask: np.ndarray  # bool [N, C]
    x: np.ndarray  # float32 [N, C, T], normalised as the model was trained
    ecg_sqi: np.ndarray  # [N], NaN where the ECG is absent
    ppg_sqi: np.ndarray  # [N], NaN where the PPG is absent
    sqi: np.ndarray  # [N] combined score in [0, 1]
    level: np.ndarray  # int [N], 0 (bad) .. 4 (excellent)
    notes: list[str] = field(default_factory=list)  # [N]: recorded channels off ("ppg: flat")
    #: (start s, why) of the windows left out for having no usable channel (bad, no embedding)
    rejected: list[tuple[float, str]] = field(default_factory=list)
    #: bool [len(rejected), C]: the recorded channels off (flat, missing) in each of them
    rejected_off: np.ndarray | None = None
    #: bool [C]: the channels the record holds (None: unknown, all taken as recorded)
    recorded: np.ndarray | None = None
    #: the names of the C channels, in order (the window config's)
    channels: tuple[str, ...] = MODEL_CHANNELS
    #: seconds at the record's end after its last window, shorter than a window: not scored
    unscored_s: float = 0.0


def model_window(cfg: QualityFMConfig) -> WindowConfig:
    """The windows a model was pre-trained on: ``cfg.n_samples`` samples at ``cfg.fs`` Hz,
    scaled as ``cfg.normalization``."""
    return WindowConfig(fs=float(cfg.fs), seconds=cfg.n_samples / float(cfg.fs),
                        normalization=cfg.normalization)


def check_model_window(window: WindowConfig, cfg: QualityFMConfig) -> None:
    """Refuse (ValueError) windows a model would misread: another number of channels than
    it reads, for a model of the two model channels others than ``MODEL_CHANNELS`` in that
    order (ECG read as PPG), another rate or scaling than the model's (another length is
    allowed: the encoder reads any)."""
    if len(window.channels) != cfg.in_channels or (
            cfg.in_channels == len(MODEL_CHANNELS) and tuple(window.channels) != MODEL_CHANNELS):
        wanted = MODEL_CHANNELS if cfg.in_channels == len(MODEL_CHANNELS) else None
        raise ValueError(f"window channels {tuple(window.channels)}: the model reads "
                         + (f"{wanted}, in this order" if wanted else
                            f"{cfg.in_channels} channel(s)"))
    if abs(window.fs - float(cfg.fs)) > 1e-6 * float(cfg.fs):
        raise ValueError(f"window rate {window.fs:g} Hz: the model reads windows at "
                         f"{float(cfg.fs):g} Hz")
    if window.normalization != cfg.normalization:
        raise ValueError(f"window normalization {window.normalization!r}: the model was "
                         f"pre-trained on windows scaled {cfg.normalization!r}")


def iter_file_windows(
    inputs: Iterable[str | Path] | str | Path,
    cfg: WindowConfig | None = None,
    skipped: list[dict[str, str]] | None = None,
    ecg_rules: RRRules | None = None,
    passed_over: list[dict[str, str]] | None = None,
    keep_unusable: bool = False,
    outputs: Sequence[Path] = (),
    done: Callable[[Path], T | None] | None = None,
) -> Iterator[FileWindows | T]:
    """Yield the scored windows of every record under ``inputs`` (or, for a record that
    ``done`` returns something for, that: a stopped run's result, the record not read).

    A record that cannot be read or gives no window is reported on stderr, appended to
    ``skipped`` as ``{"record", "reason"}`` and passed over; the others go on. The files of a
    folder that are no record here (``.npy`` or CSV without a rate, unread waveform types) are
    named on stderr and appended to ``passed_over`` alike.
    A channel the record holds but that is flat or missing in a window scores 0 there (a
    sensor off is a bad signal); windows with no usable channel are listed in ``rejected``,
    and with ``keep_unusable`` a record whose every window is so is yielded (no windows, its
    ``rejected``) rather than skipped.
    ``ecg_rules``: the ECG quality's rrSQI rules (default: QualityFM's). ``outputs``: the
    files the caller will write, refused (ValueError, before any record is read) when one is
    a record among the inputs or lies in an input folder (a hidden folder or name aside).
    """
    cfg = cfg or WindowConfig()
    inputs = input_paths(inputs)  # one path, not its characters; an iterator read twice
    refuse_writing_over(outputs, [], inputs)  # an output among the records: before a word
    paths: dict[Path, Path] = {}  # a record reached twice (a folder and a file in it) once
    listed: set[Path] = set()  # a folder given twice ("d", "d/") is listed once
    for item in inputs:
        found = find_records(item)
        if not found:
            _skip(skipped, str(item), no_record_reason(item))
        elif Path(item).resolve() not in listed:  # what a folder holds besides its records
            listed.add(Path(item).resolve())  # is named, not lost silently
            entries = passed_over_skips(item)
            note_passed_over(entries)
            if passed_over is not None:
                passed_over.extend(entries)
        for path in found:
            paths.setdefault(Path(path).resolve(), path)
    paths = without_segments(paths, inputs)  # a segment named as well as its record
    refuse_writing_over(outputs, list(paths))  # (the input folders checked above)
    # on a terminal, a bar counts the records read (a folder of long stays had run for hours
    # without a word); redrawn under each skipped record's line
    bar = (progress_bar(len(paths), unit="rec", desc="records", leave=False)
           if on_terminal() and len(paths) > 1 else None)
    try:
        for path in paths.values():
            item = done(path) if done is not None else None
            if item is None:
                item = _file_windows(path, cfg, skipped, ecg_rules, keep_unusable)
            if bar is not None:
                bar.update(1)
            if item is not None:
                yield item
    finally:
        if bar is not None:
            bar.close()


def _file_windows(path: str | Path, cfg: WindowConfig, skipped: list[dict[str, str]] | None,
                  ecg_rules: RRRules | None, keep_unusable: bool) -> FileWindows | None:
    """:func:`iter_file_windows`' windows of one record, or None where it is skipped (said
    and listed)."""
    try:
        record, win = read_windows(path, cfg)
    except Exception as err:
        if machine_fault(err) is not None:  # the machine's, not the record's: the run stops
            raise  # (out of memory had skipped the record as a bad one, the run exiting 0)
        _skip(skipped, str(path), skip_reason(err))
        return None
    if len(win.x) == 0 and not (keep_unusable and win.n_cut):
        _skip(skipped, str(path), unusable_reason(win))
        return None
    try:
        scores, x = score_and_scale(win, cfg, ecg_rules)
    except ValueError as err:  # one record's bad values: named and skipped, not the batch's
        _skip(skipped, str(path), skip_reason(err))
        return None
    return FileWindows(
        path=Path(path),
        record_id=record.record_id,
        start=win.start,
        mask=win.mask,
        x=x,
        ecg_sqi=scores.ecg,
        ppg_sqi=scores.ppg,
        sqi=scores.q,
        level=scores.level,
        notes=win.notes,
        rejected=win.rejected,
        rejected_off=win.rejected_off,
        recorded=win.recorded,
        channels=tuple(cfg.channels),
        unscored_s=unscored_tail(record, win, cfg),
    )


def unscored_tail(record: Record, win: Windows, cfg: WindowConfig) -> float:
    """Seconds of ``record`` after the end of its last window (kept or rejected): a part
    shorter than a window, which no row scores (the span before a monitor's alarm at a
    record's end may lie there), measured on the channels windowed (a longer lead read only
    to choose the ECG, or a PPG left out as a trend, had counted whole); ``record`` may be its
    last span (a long record is read span by span), whose end is the record's."""
    starts = [*win.start.tolist(), *(t for t, _ in win.rejected)]
    if not starts or not record.signals:
        return 0.0
    windowed = [c for c in win.sources.values() if c in record.signals] or list(record.signals)
    duration = record.start_time + max(len(record.signals[c]) / record.fs[c]
                                       for c in windowed)
    return max(0.0, round(duration - (max(starts) + cfg.seconds), 6))


def _skip(skipped: list[dict[str, str]] | None, record: str, reason: str) -> None:
    """List and say a skipped record, its reason without the record's path in front (a
    reader's message begins with it), as the other batch jobs list theirs."""
    from tqdm import tqdm

    entry = {"record": record, "reason": reason.removeprefix(f"{record}: ")}
    tqdm.write(f"qualityfm: skipped {skip_line(entry)}", file=sys.stderr)  # above a bar
    if skipped is not None:
        skipped.append(entry)
