"""Task datasets built from raw records: ``vt-alarm``, ``af`` and ``abp``.

Every task gives a :class:`TaskDataset`: model input ``X`` float32 ``[N, C, T]`` at the model
rate in ``MODEL_CHANNELS`` order (per-channel min-max to [-1, 1], a missing channel zeros with
mask False), targets ``y``, ``groups`` (patient when the record knows it, else the record: the
unit of every split), record ids, and classical features computed from all channels of the
record at their native rate. Built datasets are cached to ``.npz`` keyed by their settings.

Decisions:
- vt-alarm takes the ``seconds`` (default 10, as in the original) ending at the alarm. The
  window is not padded by default: the encoder is convolutional with sinusoidal positions and
  reads any length that is a multiple of its token stride; ``pad_to`` zero-pads on the left (the
  alarm stays at the right edge) for a model that needs a fixed input. A record labelled with
  another Challenge 2015 alarm type (asystole, brady- or tachycardia, flutter/fibrillation) is
  skipped, with its type named: pointed at the whole Challenge set, the task keeps its VT alarms.
- af crops the centre ``seconds`` (default 30) of each recording or zero-pads it at the end;
  its classical features are computed on the whole recording (more beats for irregularity).
  MIMIC PERform AF records (``mimic_perform_af_NNN`` / ``mimic_perform_non_af_NNN``, WFDB or
  CSV, 20 min of PPG + ECG at 125 Hz) carry no rhythm file: the name gives the label (non-AF
  subjects were in sinus rhythm, rhythm ``N``), every non-overlapping ``seconds`` window is a row
  and the subject is the group.
- abp cuts non-overlapping ``seconds`` windows; SBP/DBP are medians of beat-level systolic peaks
  and diastolic troughs (``bp_rule="max_min"`` gives the original's window max/min). UCI
  cuff-less BP parts (``Part_N.mat``) are read record by record; each record is its own group
  (the data set names no patients, and one patient may appear in several records).
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy.signal import find_peaks

from qualityfm._caller import warn_at_caller
from qualityfm._numbers import is_number
from qualityfm._progress import on_terminal, progress_bar
from qualityfm.io import (
    MODEL_CHANNELS,
    UNCALIBRATED,
    Record,
    RecordError,
    atomic_write,
    canonical_channel,
    ecg_leads,
    find_records,
    find_uci_bp,
    is_ecg,
    is_task_channel,
    is_uci_bp_file,
    iter_uci_bp,
    read_channels_among,
    read_record,
    remove_temporaries,
)
from qualityfm.io.atomic import STALE_TEMPORARY_S, read_json, write_json
from qualityfm.io.base import patient_from_path
from qualityfm.io.folders import check_out_apart, check_writable_folder
from qualityfm.io.read import (
    input_paths,
    machine_fault,
    no_record_reason,
    refuse_writing_over,
    skip_reason,
    without_segments,
)
from qualityfm.io.wfdb_reader import header_files, is_vt_alarm, label_files
from qualityfm.quality._common import MIN_FS, flat_fraction
from qualityfm.quality.features import FEATURES_VERSION, feature_names, signal_features
from qualityfm.signal import (
    MAX_NAN_FRACTION,
    MODEL_FS,
    VT_ECG_FILTER,
    VT_PPG_FILTER,
    apply_filter,
    fill_nan,
    normalize,
    resample,
)
from qualityfm.signal.nan import FLAT_PEAK_TO_PEAK, few_levels, missing
from qualityfm.signal.pacing import pacing_spikes, unjudged_samples
from qualityfm.signal.windows import MAX_WINDOW_SECONDS
from qualityfm.tasks.copies import (
    ChannelPeaks,
    pack_marks,
    peak_marks,
    shared_stretches,
    unpack_marks,
)

TASKS = ("vt-alarm", "af", "abp")
#: How abp's per-window SBP/DBP are taken: the median of the beats' systolic peaks and
#: diastolic troughs (the default), or the window's maximum and minimum (the original's).
BP_RULES = ("beat_median", "max_min")
RHYTHMS = ("N", "A", "O", "~")
# The classical features' code has its own version (quality.features.FEATURES_VERSION), which
# keys the cache too: raise that one for a change of the features alone.
# 29-30: an arterial line stated in kPa, cmH2O or Pa is converted to mmHg (it had been read as
# mmHg), one in another unit skipped; an alarm's type is the nearest alarm type before its
# label, contradicting labels leave a record unlabelled, an ECG, PPG or arterial line under
# 50 Hz is left out; 30: multi-segment channels matched by name first; 31: MIMIC segments
# read alone are grouped by their record; 32: an abp window whose line has no pulse for over
# 20 % of it, or is noisy, gives no target; 33: the arterial wave's smoothing is a centred box
# of an odd number of samples, 3 at least; 34: the box's odd width nearest 30 ms, noise judged
# from 100 Hz; 35: a channel of a few ADC levels (signal.nan.OFF_LEVELS, 4) is off, as a flat
# one; 36: of up to 12 levels; 37: of up to 4 again; 38: channels of different rates lined up
# on the model's grid from the window's start, a resampled piece short of the window holds its
# last value (a padded 0 had ended it); 39: an abp window whose PPG or ECG II is flat for over
# 20 % of it gives no row, and rows without labels keep their targets in mmHg; 40: that
# flatness judged on the filtered model input too; 41: a dataset lists the files that share a
# stretch of signal (``shared``, tasks.copies); 42: those whose peaks' heights agree too;
# 43: a dataset keeps each file's peaks (``marks``); 44: of ECG, PPG and ABP alone; 45: a
# record's ECG, PPG and ABP alone are read (an .npz's longer other channel had set its length);
# 46: an arterial wave's beats counted after a flush of a few seconds (the peaks' prominence
# from the lower of its 5-95th percentile range and the upper quartile of its 2-s ranges), a
# record shorter than an abp window said so; 47: a labelled af recording over 61 s gives every
# window (it had given one central crop); 48: an abp window past its arterial line's end
# gives no target from the part it holds, a note before an alarm label is no alarm type (a
# labelled VT alarm had been skipped as of type '<age>: 69'), a record with no ECG or PPG at
# 50 Hz or more is said to hold none, and a patient's folder is found through links (the
# group had depended on the path's spelling); 52: an answer file's label in the header's own
# words ("True alarm") is read, and an abp window names ECG II, PPG and arterial line as what
# it lacks; 53: resampling by fractions of terms up to 10000 (a channel at 299.9 Hz had been
# read at 300), CSV stamps coarser than a sample read and bytes that are no UTF-8 read as
# Latin-1, lead labels such as "II lead"; 54: a second channel of one lead (two labelled II)
# stands in right after the first; 55: an abp window's flat share on its recorded samples
# (a gap's filled line had counted as flat); 56: a multi-segment record's PPG or arterial
# line that its segments label otherwise (ABP in some, ART in others) is one channel (the
# windows under the second label had had no line); 57: MIMIC segments read beside their
# record's layout header, its master gone, are one group; 58: a NumPy file's channel names
# give their units (ABP_cmH2O had been read as mmHg); 59: and their names as a CSV header's
# (ABP [Pa] had been a channel abp_pa), a CSV's channel_names their units too; 60: a wave
# named in brackets after a number's label (SpO2 (Pleth)) is that wave; 61: VitalDB files
# of a reused track id or a far stated start are read; 62: CSV columns on every k-th row
# at 1/k of the rate, ABP (Mean) alone a number, decimal commas beside a note's text; 63:
# an .npz of one 2-D array and channel_names, CSV gaps to 25 million samples or 24 h, a
# VitalDB start stated a day early; 64: an ECG lead's pacemaker stimuli taken out at its own
# rate of 240 Hz or more (signal.pacing; a paced asystole had read as beats); 65: a pair of
# stimuli, a biphasic one through zero, a lead off judged without its stimuli; 66: a rail
# found at a tail level where a few samples lie past it (signal.extremes), spec_conc a share
# of its band;
# 28: a dataset lists the windows of its records left out, and why (``left_out``);
# 27: an R peak's refractory counts from the last beat kept (a beat 0.36 s after it had been
# dropped for its distance to a dropped detection between them); 26: pulse peaks 0.2 s apart
# only where the spectrum and the pulses agree on over 200 bpm (a dicrotic wave at 100 bpm
# had read as a second pulse), a channel needs 2 s of its own samples in the span; 25: pulse
# peaks 0.2 s apart (a pulse over 200 bpm had read at half its rate),
# c_sd_ratio's SD2 from the pairs its SD1 reads, rr_hist_ent's last bin ending at 1.8; 24:
# the span past a channel's end is missing samples of it (a PPG ending 5 s before an alarm had
# been kept, its last seconds zeros); 23: a second channel of a name (ecg_v_2) is no other
# lead (it had read as lead V2), and a channel asked for by its file's own label is that
# channel; 22: the readers return other
# records for some files (CSV decimal commas past the first lines, ISO stamps across a
# UTC-offset change, quoted names holding the delimiter; VitalDB
# integer gap marks; "TYPE, description" and accented channel names); 21: an abp window
# whose arterial line holds still (1-s stretches within 2 mmHg) for over 20 % of it has no
# target; 20: resampling keeps every constant level exactly (each polyphase branch of unit
# DC gain; windows move by about 1e-3 of their values), an abp window needs lead II itself
# (another lead had stood in where lead II was off); 19: a long af record's windows are
# named by the record, not its patient, and rows keep their window start (``starts``) and
# file (``sources``); 18: the ECG SQI columns count a lead's flat stretches;
# 17: the resampling keeps a channel's level without a ripple (windows move by up to 2e-5),
# and a Challenge 2015 record naming its alarm type but no label has its alarm at 300 s;
# 16: a vt-alarm record without an alarm time ends at its alarm, past 300 s too; 15: the ECG
# lead standing for lead II is chosen as in pre-training (I before aVL), a channel mostly inf
# is masked as one mostly NaN; 14: leads and PPG named "Lead2", "SpO2 pleth" are read
CACHE_VERSION = 66
#: A task cache's file name (:func:`_cache_path`).
_CACHE_FILE = re.compile(r"[a-z0-9-]+-[0-9a-f]{16}(\.npz|\.none\.json)")
#: A task channel is absent when flat (``FLAT_PEAK_TO_PEAK``: leads off) or off (a few ADC
#: levels, ``signal.nan.OFF_LEVELS``), or when fewer seconds of it than this lie in the
#: window's span.
MIN_CHANNEL_SECONDS = 2.0


@dataclass
class TaskDataset:
    """Arrays of one task; ``y`` is int (classification) or float ``[N, 2]`` (SBP, DBP)."""

    task: str
    X: np.ndarray
    mask: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    record_ids: np.ndarray
    features: np.ndarray
    feature_names: list[str]
    fs: float = MODEL_FS
    rhythm: np.ndarray | None = None  # af: 4-class label index into RHYTHMS
    settings: dict = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"record", "reason"}
    #: windows of the records read that give no row, ``{"window", "reason"}`` (abp: no target
    #: or no usable ECG II and PPG; af records over 61 s: no usable channel)
    left_out: list[dict[str, str]] = field(default_factory=list)
    #: float64 [N]: a row's window start (s) in its record, NaN for a row that is the record
    #: (or its one crop); record_ids name windows ``record@start`` (:func:`window_id`)
    starts: np.ndarray | None = None
    #: str [N]: the file each row was read from (None for a record given in memory)
    sources: np.ndarray | None = None
    #: files that share a stretch of signal, whole or shifted in time (:mod:`.copies`):
    #: ``{"records": [file_a, file_b], "offset_s": file_b's start in file_a}``
    shared: list[dict] = field(default_factory=list)
    #: each file's peaks (:func:`.copies.peak_marks`): what a model fitted on these rows keeps
    #: to tell a later record holding a stretch of one of its training records
    marks: dict[str, dict[str, ChannelPeaks]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Arrays (lists become arrays), one row each: a hand-built dataset missing one, or of
        another length, is named here rather than deep inside a cross-validation."""
        for name in ("X", "mask", "y", "groups", "record_ids", "features"):
            value = getattr(self, name)
            if value is None:
                raise ValueError(f"TaskDataset.{name} is required (groups: the patient or record "
                                 "of each row; features: task_features of each row, or NaN "
                                 "[rows, 0]); build_task_dataset makes them all")
            setattr(self, name, np.asarray(value))
        if self.rhythm is not None:  # (a list, or one of another length, had passed)
            self.rhythm = np.asarray(self.rhythm)
        if self.starts is not None:
            self.starts = np.asarray(self.starts, dtype=np.float64)
        if self.sources is not None:
            self.sources = np.asarray(self.sources, dtype=str)
        n = len(self.y)
        names = ("X", "mask", "groups", "record_ids", "features",
                 *(k for k in ("rhythm", "starts", "sources") if getattr(self, k) is not None))
        wrong = [f"{name} {len(getattr(self, name))}" for name in names
                 if len(getattr(self, name)) != n]
        if wrong:
            raise ValueError(f"TaskDataset: y has {n} rows but {', '.join(wrong)}")

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx: np.ndarray) -> TaskDataset:
        """The rows ``idx`` as a new dataset (with the peaks of their files)."""
        files = set() if self.sources is None else set(self.sources[idx].tolist())
        return TaskDataset(
            self.task, self.X[idx], self.mask[idx], self.y[idx], self.groups[idx],
            self.record_ids[idx], self.features[idx], list(self.feature_names), self.fs,
            None if self.rhythm is None else self.rhythm[idx], dict(self.settings),
            starts=None if self.starts is None else self.starts[idx],
            sources=None if self.sources is None else self.sources[idx],
            marks={f: m for f, m in self.marks.items() if f in files},
        )

    def save(self, path: str | Path) -> None:
        """Write to ``path`` (.npz) atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {
            "X": self.X, "mask": self.mask, "y": self.y, "groups": self.groups.astype(str),
            "record_ids": self.record_ids.astype(str), "features": self.features,
            "feature_names": np.array(self.feature_names, dtype=str),
            "rhythm": self.rhythm if self.rhythm is not None else np.zeros(0, dtype=np.int64),
            "starts": self.starts if self.starts is not None else np.zeros(0),
            "sources": self.sources if self.sources is not None else np.zeros(0, dtype=str),
            **{f"marks_{k}": v for k, v in pack_marks(self.marks).items()},
            "meta": np.array(json.dumps({"task": self.task, "fs": self.fs,
                                         "settings": self.settings, "skipped": self.skipped,
                                         "left_out": self.left_out, "shared": self.shared})),
        }
        atomic_write(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls, path: str | Path) -> TaskDataset:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            rhythm = z["rhythm"] if len(z["rhythm"]) else None
            return cls(
                meta["task"], z["X"], z["mask"], z["y"], z["groups"], z["record_ids"],
                z["features"], list(z["feature_names"]), meta["fs"], rhythm, meta["settings"],
                [skip_entry(m) if isinstance(m, str) else m for m in meta["skipped"]],
                left_out=meta.get("left_out", []),
                starts=z["starts"] if "starts" in z and len(z["starts"]) else None,
                sources=z["sources"] if "sources" in z and len(z["sources"]) else None,
                shared=meta.get("shared", []),
                marks=unpack_marks({k[6:]: z[k] for k in z.files if k.startswith("marks_")})
                if "marks_files" in z.files else {},
            )


@dataclass(frozen=True)
class TaskSettings:
    """Everything a built dataset depends on (the cache key). ``labels=False`` also builds rows
    of records without a label (``y`` -1, ``rhythm`` -1; for ``abp`` windows of ECG II + PPG
    without an arterial line, targets NaN): the rows ``predict`` scores."""

    task: str
    seconds: float
    pad_to: float | None = None
    fs: float = MODEL_FS
    bp_rule: str = "beat_median"
    max_records: int | None = None
    filters: bool = True
    labels: bool = True

    def __post_init__(self) -> None:
        if not (is_number(self.seconds) and self.seconds > 0):
            raise ValueError(f"seconds must be a number > 0, got {self.seconds}")
        if not (is_number(self.fs) and self.fs >= MIN_FS):  # NaN, -300: every record had
            # been skipped with a NumPy message; under 50 Hz: the least rate prepare --fs
            # takes for a store's windows, and the tasks take for a channel
            raise ValueError(f"fs must be the windows' rate in Hz, at least {MIN_FS:g} (as "
                             f"prepare --fs), got {self.fs}")
        if not MIN_CHANNEL_SECONDS <= self.seconds <= MAX_WINDOW_SECONDS:
            # every record had been skipped: under 2 s as holding no usable channel (a channel
            # counts from 2 s), 1e17 s in NumPy
            raise ValueError(f"seconds must be {MIN_CHANNEL_SECONDS:g} to {MAX_WINDOW_SECONDS:g}"
                             f" (a channel of the tasks counts from {MIN_CHANNEL_SECONDS:g} s; "
                             f"a day), got {self.seconds:g}")
        if self.pad_to not in (None, 0) and self.task != "vt-alarm":  # it had been ignored
            raise ValueError(f"pad_to zero-pads a vt-alarm window before its alarm; task "
                             f"{self.task!r} takes none, got {self.pad_to}")
        if self.pad_to == 0:  # no padding, as it has always read
            object.__setattr__(self, "pad_to", None)
        if self.pad_to is not None and not (np.isfinite(self.pad_to)
                                            and self.seconds <= self.pad_to <= MAX_WINDOW_SECONDS):
            raise ValueError(f"pad_to must be at least the window's {self.seconds:g} s (it "
                             f"zero-pads the window on the left) and at most "
                             f"{MAX_WINDOW_SECONDS:g} (a day), got {self.pad_to}")


# ----------------------------------------------------------------------------- filtering


def protocol_filter(x: np.ndarray, fs: float, kind: str) -> np.ndarray:
    """The VT protocol's zero-phase filters (signal layer): ECG high-pass 1 Hz, low-pass 30 Hz,
    60 Hz notch; pulse (PPG) 60 Hz notch and band-pass 0.5-5 Hz. ``kind``: "ecg" or "pulse"."""
    if kind not in ("ecg", "pulse"):
        raise ValueError(f"filter kind must be 'ecg' or 'pulse', got {kind!r}")
    spec = VT_ECG_FILTER if kind == "ecg" else VT_PPG_FILTER
    return apply_filter(np.asarray(x, dtype=np.float64), fs, spec).astype(np.float32)


def _fill(x: np.ndarray) -> np.ndarray | None:
    """Linear interpolation over missing samples (NaN, inf); None when more than
    :data:`MAX_NAN_FRACTION` is missing, as in a model window, or the channel is flat."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0 or missing(x).mean() > MAX_NAN_FRACTION or few_levels(x):
        return None  # few_levels: flat, or an ADC toggling between a few steps (sensor off)
    x = fill_nan(x)
    return None if np.ptp(x) <= FLAT_PEAK_TO_PEAK else x


def _labels_hint(rec: Record) -> str:
    """A hint for a record in memory keyed by monitor labels (``II``, ``PLETH``), which the
    readers would have named canonically: "" when there are none."""
    named = {c: n for c, n in ((c, canonical_channel(c)) for c in rec.channels)
             if n != c and is_task_channel(n)
             # a reader's second channel of a name ("ppg_2", "ecg_v_2") is canonical
             and canonical_channel(base := re.sub(r"_\d+$", "", c)) != base}
    if not named:
        return ""
    return (f" (monitor labels: key the channels by their canonical names, {named}; "
            "qualityfm.io.canonical_names maps them)")


def _primary_ecg(rec: Record) -> str | None:
    """The lead that stands for the model's ECG (:func:`qualityfm.io.ecg_leads`)."""
    leads = ecg_leads(rec.signals)
    return leads[0] if leads else None


def _raw_pieces(rec: Record, t0: float, t1: float, span: bool = True) -> dict[str, np.ndarray]:
    """Every usable ECG, PPG and ABP channel of ``rec`` over ``[t0, t1)`` s, NaNs filled (an
    ECG lead's pacemaker stimuli out, :func:`~qualityfm.signal.pacing.pacing_spikes`). With
    ``span``, the part of the span past a channel's end is missing samples of it (a PPG
    stopping 5 s before an alarm is half missing in its 10 s, so absent; it had been kept,
    its last seconds zeros, and an alarm stamped just past the last sample had read zeros at
    the alarm)."""
    pieces: dict[str, np.ndarray] = {}
    for ch in rec.signals:
        if not is_task_channel(ch):
            continue
        raw = _recorded(rec, ch, t0, t1, span)
        present = int((~np.isnan(raw)).sum())  # of the channel's own samples (fill values not)
        seg = _fill(raw)
        if seg is not None and is_ecg(ch):  # pacemaker stimuli out at its own rate, and the
            # lead judged flat or off without them, as make_windows does (a sensor-off lead
            # beside its stimuli had been usable)
            despiked, stimuli = pacing_spikes(seg, rec.fs[ch])
            if stimuli.any():  # (and the span's ends, where a stimulus is not judged: one
                # there had kept a lead off usable, where make_windows, reading the whole
                # record, found it)
                edge = unjudged_samples(rec.fs[ch])
                unseen = stimuli.copy()
                unseen[:edge] = unseen[-edge:] = True
                seg = None if few_levels(np.where(unseen, np.nan, raw)) or np.ptp(
                    despiked) <= FLAT_PEAK_TO_PEAK else despiked
        if seg is not None and present >= MIN_CHANNEL_SECONDS * rec.fs[ch]:
            pieces[ch] = seg
    return pieces


def _recorded(rec: Record, channel: str, t0: float, t1: float, span: bool = True
              ) -> np.ndarray:
    """``channel``'s samples over ``[t0, t1)`` s as read, float64, missing ones NaN (with
    ``span``, the part of the span past the channel's end too)."""
    f = rec.fs[channel]
    i0, i1 = int(round(t0 * f)), int(round(t1 * f))
    seg = np.asarray(rec.signals[channel][i0:i1], dtype=np.float64)
    seg = np.where(missing(seg), np.nan, seg)
    return np.concatenate([seg, np.full(i1 - i0 - len(seg), np.nan)]) if span else seg


def _model_input(
    rec: Record, t0: float, t1: float, fs: float, filters: bool
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], dict[str, float]]:
    """Model channels of ``rec`` over ``[t0, t1)`` s: X ``[C, T]`` normalised, mask ``[C]``, and
    every usable channel's unfiltered native-rate piece (for the classical features, whose
    noise measures need what the protocol filters remove)."""
    n_out = int(round((t1 - t0) * fs))
    x = np.zeros((len(MODEL_CHANNELS), n_out), dtype=np.float32)
    mask = np.zeros(len(MODEL_CHANNELS), dtype=bool)
    raw = _raw_pieces(rec, t0, t1)
    pieces = {ch: protocol_filter(seg, rec.fs[ch], "ecg" if is_ecg(ch) else "pulse")
              if filters and ch != "abp" else seg for ch, seg in raw.items()}
    ecg = _primary_ecg(Record(rec.record_id, pieces, rec.fs))
    for k, ch in enumerate(MODEL_CHANNELS):
        src = ecg if ch == "ecg_ii" else ch
        if src is None or src not in pieces:
            continue
        x[k] = _on_model_grid(resample(pieces[src], rec.fs[src], fs), rec.fs[src], t0, fs,
                              n_out)
        mask[k] = True
    x = normalize(x[None], mask[None], mode="channel")[0]
    return x, mask, raw, {c: rec.fs[c] for c in raw}


def _on_model_grid(r: np.ndarray, f: float, t0: float, fs: float, n_out: int) -> np.ndarray:
    """A piece read from the native sample nearest ``t0`` (rate ``f``, :func:`_raw_pieces`),
    resampled to ``fs`` (``r``), as the ``n_out`` samples from ``t0``: shifted by the whole
    model samples its first sample lies off ``t0`` (channels of different rates had lain up
    to half the slowest one's sample apart: 4 ms at 125 Hz), and its last value held where
    the resampled piece is short of ``n_out`` (at rates such as MIMIC-IV's 124.945 Hz a
    sample short: a padded 0 had been scaled to -1 at the alarm)."""
    shift = int(round((int(round(t0 * f)) / f - t0) * fs))  # the piece's start, in samples
    r = np.concatenate([np.full(max(shift, 0), r[0]), r[max(-shift, 0):]])[:n_out]
    return np.pad(r, (0, n_out - len(r)), mode="edge") if len(r) < n_out else r


def _pad_left(x: np.ndarray, n: int) -> np.ndarray:
    if x.shape[-1] >= n:
        return x[..., -n:]
    return np.concatenate([np.zeros((*x.shape[:-1], n - x.shape[-1]), x.dtype), x], axis=-1)


# ----------------------------------------------------------------------------- tasks


def _fast_enough(rec: Record, path: Path) -> Record:
    """``rec`` without its channels sampled under :data:`~qualityfm.quality._common.MIN_FS`;
    an ECG lead, PPG or arterial line among them is named in a warning: the classical features
    need that rate (12.5 Hz had failed in them naming no channel), and a channel of 1e-6 Hz
    (of any name: it sets the record's length) had made a record of 9e9 s whose windows were
    walked for ever. A task that then lacks a channel it needs says so."""
    slow = [c for c in rec.signals if not rec.fs[c] >= MIN_FS]
    if not slow:
        return rec
    named = [c for c in (*ecg_leads(rec.signals), "ppg", "abp") if c in slow]
    if named:
        warn_at_caller(f"{path}: {', '.join(f'{c} at {rec.fs[c]:g} Hz' for c in named)} left "
                       f"out: the tasks read ECG, PPG and arterial lines of {MIN_FS:g} Hz or "
                       "more", RuntimeWarning)
    return rec.only(c for c in rec.signals if c not in slow)


def _ecg_or_ppg(rec: Record, path: Path, before: Record) -> Record:
    """``rec`` (``before`` less its slow channels) where it holds an ECG lead or a PPG; else
    a ``RecordError`` naming ``before``'s channels (a record of none left had failed in NumPy,
    or read as an alarm too early)."""
    if not ecg_leads(rec.signals) and "ppg" not in rec.signals:
        raise RecordError(f"{path}: no usable ECG or PPG channel; it has "
                          f"{before.channels}{_labels_hint(before)}")
    return rec


def _rows_vt(path: Path, s: TaskSettings, rec: Record | None = None) -> list[dict]:
    rec = read_record(path) if rec is None else rec
    rec = _ecg_or_ppg(_fast_enough(rec, path), path, rec)
    if s.labels and "alarm_true" not in rec.labels:
        raise RecordError(f"{path}: " + rec.labels.get("unlabelled", {}).get(
            "alarm_true", "no Challenge 2015 alarm label (labels['alarm_true']: a '#True "
            "alarm' or '#False alarm' header line, or a line in alarms.csv or ALARMS "
            "beside it" + ("" if path.suffix.lower() == ".hea" else
                           ", which are read for WFDB records (.hea) only") + ")"))
    # a folder of the whole Challenge 2015 set holds five alarm types; only VT is this task's
    kind = rec.labels.get("alarm_type")
    if kind is not None and not is_vt_alarm(str(kind)):
        raise RecordError(f"{path}: alarm type {kind!r}, not ventricular tachycardia")
    # without an alarm time a record ends at its alarm, as record_dataset's buffer does (the
    # Challenge 2015 reader gives its records their alarm at 300 s)
    t1 = float(rec.events.get("alarm", rec.duration()))
    t0 = t1 - s.seconds
    if t0 < 0:
        raise RecordError(f"{path}: alarm at {t1} s leaves less than {s.seconds} s before it")
    # a second's grace (the last sample's time, rounding), no more than a window's missing
    # share: the span past the end is missing samples
    if t1 > rec.duration() + min(1.0, MAX_NAN_FRACTION * s.seconds):
        raise RecordError(f"{path}: alarm at {t1:g} s is past the record's end "
                          f"({rec.duration():.1f} s)")
    x, mask, pieces, fs = _model_input(rec, t0, t1, s.fs, s.filters)
    # An alarm whose ECG leads are flat or missing but whose pulse is recorded (leads off) is
    # still an alarm to judge: it is kept with its ECG channel masked.
    if not mask.any():
        raise RecordError(f"{path}: no usable ECG or PPG channel in the {s.seconds:g} s "
                          f"before the alarm; it has {rec.channels}{_labels_hint(rec)}")
    if s.pad_to:
        x = _pad_left(x, int(round(s.pad_to * s.fs)))
    y = int(bool(rec.labels["alarm_true"])) if "alarm_true" in rec.labels else -1
    return [{"x": x, "mask": mask, "y": y,
             "features": signal_features(pieces, fs), "group": rec.group_id,
             "record": rec.record_id}]


#: MIMIC PERform AF (Charlton et al., 2022) record and file names; CSV files end in ``_data``.
_PERFORM = re.compile(r"^mimic_perform_(non_af|af)_(\d+)(?:_data)?$", re.IGNORECASE)


def perform_af_label(path: Path, name: str | None = None) -> tuple[str, str]:
    """(subject, rhythm) of a MIMIC PERform AF record from its name (``name`` or the file's
    stem): ``mimic_perform_af_001`` -> ("mimic_perform_af_001", "A"),
    ``mimic_perform_non_af_001_data`` -> ("mimic_perform_non_af_001", "N")."""
    name = name or path.stem
    match = _PERFORM.match(name)
    if match is None:
        raise RecordError(
            f"{path}: no Challenge 2017 rhythm label (REFERENCE.csv beside it, or a folder up "
            "where none lies beside it"
            + ("" if path.suffix.lower() == ".hea" else ", read for WFDB records (.hea) only")
            + f") and {name!r} is no MIMIC PERform AF name (mimic_perform_af_NNN or "
            "mimic_perform_non_af_NNN) to give one"
        )
    group, number = match.group(1).lower(), match.group(2)
    return f"mimic_perform_{group}_{number}", "N" if group == "non_af" else "A"


#: Challenge 2017 recordings last 9-61 s; an AF record longer than this, labelled or not, is
#: read as a long recording (every window, as the MIMIC PERform layout), a shorter one as one
#: crop.
AF_CROP_MAX_SECONDS = 61.0


def _af_label(rhythm: str | None) -> dict:
    """``y`` (AF or not) and ``rhythm`` (index into RHYTHMS) of a label; -1 for none."""
    if rhythm is None:
        return {"y": -1, "rhythm": -1}
    return {"y": int(rhythm == "A"), "rhythm": RHYTHMS.index(rhythm)}


def _af_windows(path: Path, rec: Record, s: TaskSettings, group: str,
                rhythm: str | None, name: str | None = None) -> list[dict]:
    """Every non-overlapping ``seconds`` window of ``rec`` with a usable ECG or PPG, each
    with its own features, all in ``group`` and labelled ``rhythm``, named
    ``name@start`` (default: the record's id)."""
    rows = []
    for k in range(int(rec.duration() // s.seconds)):
        t0, t1 = k * s.seconds, (k + 1) * s.seconds
        x, mask, pieces, fs = _model_input(rec, t0, t1, s.fs, s.filters)
        if not mask.any():
            rows.append(_left_out(name or rec.record_id, t0, "no usable ECG or PPG (each flat "
                                  f"or over {MAX_NAN_FRACTION:.0%} missing)"))
            continue
        rows.append({"x": x, "mask": mask, **_af_label(rhythm),
                     "features": signal_features(pieces, fs), "group": group,
                     "record": window_id(name or rec.record_id, t0), "start": t0})
    if not any("x" in r for r in rows):
        raise RecordError(f"{path}: no {s.seconds:g} s window with a usable ECG or PPG "
                          f"(record of {rec.duration():.1f} s)")
    return rows


def _rows_perform_af(path: Path, rec: Record, s: TaskSettings) -> list[dict]:
    """The windows of a MIMIC PERform AF record (:func:`_af_windows`); the label comes from
    the name, the group is the subject."""
    subject, rhythm = perform_af_label(path, rec.record_id)
    return _af_windows(path, rec, s, subject, rhythm, name=subject)  # one record a subject


def _rows_af(path: Path, s: TaskSettings, rec: Record | None = None) -> list[dict]:
    rec = read_record(path) if rec is None else rec
    rec = _ecg_or_ppg(_fast_enough(rec, path), path, rec)
    rhythm = rec.labels.get("rhythm")
    why = rec.labels.get("unlabelled", {}).get("rhythm")
    if rhythm is None and s.labels and why:
        raise RecordError(f"{path}: {why}")
    if rhythm is None and (s.labels or _PERFORM.match(rec.record_id or path.stem)):
        return _rows_perform_af(path, rec, s)
    if rhythm is not None and rhythm not in RHYTHMS:
        raise RecordError(f"{path}: rhythm label {rhythm!r} is not one of {RHYTHMS}")
    if rec.duration() > max(AF_CROP_MAX_SECONDS, s.seconds):  # every window, labelled or
        # not (a label had made a long recording one central crop, its other minutes unread,
        # unsaid); one shorter than a window is padded, as any under 61 s (with --seconds 90
        # a 65-s recording had been skipped, a 60-s one padded)
        return _af_windows(path, rec, s, rec.group_id, rhythm)
    dur = rec.duration()
    n = int(round(s.seconds * s.fs))
    t0 = max(0.0, (dur - s.seconds) / 2)
    t1 = min(dur, t0 + s.seconds)
    x, mask, _, _ = _model_input(rec, t0, t1, s.fs, s.filters)
    if not mask.any():
        raise RecordError(f"{path}: no usable ECG or PPG channel; it has "
                          f"{rec.channels}{_labels_hint(rec)}")
    if x.shape[1] < n:
        x = np.concatenate([x, np.zeros((x.shape[0], n - x.shape[1]), x.dtype)], axis=1)
    whole = _raw_pieces(rec, 0.0, dur, span=False)  # the whole recording, not the crop
    return [{"x": x[:, :n], "mask": mask, **_af_label(rhythm),
             "features": signal_features(whole, {c: rec.fs[c] for c in whole}),
             "group": rec.group_id, "record": rec.record_id}]


def _beat_peaks(abp: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """The arterial wave smoothed over about 30 ms (a centred box of an odd number of samples:
    1 under 66.7 Hz, 3 from 66.7 to 133 Hz, 7 at 250 Hz) and the indices of its systolic
    peaks: those rising by 30 % of the wave's spread (its 5-95th percentile range, or, where
    lower, the upper quartile of its 2-s peak-to-peak ranges: a flush of a few seconds at
    300 mmHg had widened the spread so that no beat after it counted, the window rejected as
    pulseless), 2 mmHg at least."""
    k = 2 * int(0.015 * fs) + 1  # padded by the edge values: zeros had made the first box
    # read ~30 mmHg low, a window starting on a falling slope a "beat" there near diastolic
    smooth = np.convolve(np.pad(abp, k // 2, mode="edge"), np.ones(k) / k, "valid")
    spread = float(np.percentile(abp, 95) - np.percentile(abp, 5))
    n = max(1, int(2 * fs))
    if len(abp) >= n:
        blocks = abp[:len(abp) // n * n].reshape(-1, n)
        spread = min(spread, float(np.percentile(np.ptp(blocks, axis=1), 75)))
    peaks, _ = find_peaks(smooth, distance=int(0.3 * fs), prominence=max(2.0, 0.3 * spread))
    return smooth, peaks


def beat_pressures(abp: np.ndarray, fs: float, peaks: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Systolic peaks and diastolic troughs (mmHg) of each beat of an arterial pressure wave
    (``peaks``: its systolic peaks, when :func:`_beat_peaks` found them already)."""
    if peaks is None:
        _, peaks = _beat_peaks(abp, fs)
    sys_, dia = [], []
    for a, b in zip(peaks[:-1], peaks[1:], strict=True):
        sys_.append(abp[a])
        dia.append(abp[a:b].min())
    return np.asarray(sys_, dtype=float), np.asarray(dia, dtype=float)


#: An arterial line holding still (a 1-s stretch within this many mmHg: a flush, zeroing or a
#: disconnection; a pulsing line moves more in any second) for more than ``MAX_NAN_FRACTION``
#: of a window gives it no target, as one mostly missing gives none.
ABP_STILL_MMHG = 2.0
#: A stretch without a beat longer than this many seconds (a line that stops pulsing, an
#: artefact) counts as missing pulse; over ``MAX_NAN_FRACTION`` of a window of it gives no target.
ABP_MAX_BEAT_GAP_S = 3.0
#: Noise on the arterial wave (robust SD of what a 30-ms smoothing takes out) above which a
#: window gives no target: each beat's trough is a minimum, which noise pulls down (DBP 51
#: where the clean beats of the record read 67-73). Clean lines here stay under 0.7 mmHg.
ABP_NOISE_MMHG = 1.0
#: ... judged where the line is sampled at this rate or faster: slower, the smoothing box
#: spans more than 30 ms (3 samples from 66.7 Hz) and takes out pulse shape as well (a box of
#: 3 at 50 Hz had called a clean line noisy in 30 of 206 windows), or smooths nothing (1
#: sample under 66.7 Hz).
ABP_NOISE_MIN_FS = 100.0
#: The median beat's pulse pressure (mmHg) under which a window's arterial line reads as
#: damped (an over-damped or kinked line, an air bubble): no target.
ABP_MIN_PULSE_PRESSURE = 20.0


#: A window's targets are kept within these (mmHg): SBP 60-250, DBP 20-150, SBP - DBP at least
#: 15; outside them, "out of physiological range" (genuine hypotension under 60 included).
TARGET_SBP_RANGE = (60.0, 250.0)
TARGET_DBP_RANGE = (20.0, 150.0)
MIN_PULSE_PRESSURE_TARGET = 15.0
#: The median level (mmHg) between which a record's arterial line can be one in mmHg; a line
#: outside it that gives no window is said to be in another unit or disconnected.
ABP_LEVEL_MMHG = (15.0, 300.0)


def bp_targets(abp: np.ndarray, fs: float, rule: str = "beat_median") -> tuple[float, float] | str:
    """(SBP, DBP) of one window, or the reason it is rejected (damped, flat, noisy, without
    a pulse or disconnected for part of it, out of physiological range)."""
    if np.ptp(abp) < 1.0:
        return "flat arterial line"
    b = max(1, int(round(fs)))
    n_blocks = len(abp) // b
    still = int((np.ptp(abp[: n_blocks * b].reshape(n_blocks, b), axis=1)
                 < ABP_STILL_MMHG).sum()) if n_blocks else 0
    if n_blocks and still / n_blocks > MAX_NAN_FRACTION:
        return f"arterial line still for over {MAX_NAN_FRACTION:.0%} of the window (flush, " \
               "zeroing or a disconnection)"
    smooth, peaks = _beat_peaks(abp, fs)
    seconds = len(abp) / fs
    gaps = np.diff(np.concatenate([[0.0], peaks / fs, [seconds]]))
    pulseless = float(gaps[gaps > ABP_MAX_BEAT_GAP_S].sum())
    if pulseless > MAX_NAN_FRACTION * seconds:
        return f"arterial pulse absent for over {MAX_NAN_FRACTION:.0%} of the window " \
               f"({pulseless:.0f} s without a beat for over {ABP_MAX_BEAT_GAP_S:g} s)"
    residual = abp - smooth
    noise = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
    if fs >= ABP_NOISE_MIN_FS and noise > ABP_NOISE_MMHG:
        return f"noisy arterial line (noise {noise:.1f} mmHg over {ABP_NOISE_MMHG:g})"
    sys_, dia = beat_pressures(abp, fs, peaks)
    if len(sys_) < max(3, int(seconds / 3)):
        return f"too few arterial beats ({len(sys_)})"
    pp = sys_ - dia
    if np.median(pp) < ABP_MIN_PULSE_PRESSURE:
        return f"damped arterial line (pulse pressure under {ABP_MIN_PULSE_PRESSURE:g} mmHg)"
    if rule == "beat_median":
        sbp, dbp = float(np.median(sys_)), float(np.median(dia))
    elif rule == "max_min":
        sbp, dbp = float(abp.max()), float(abp.min())
    else:
        raise ValueError(f"bp_rule must be one of {BP_RULES}, got {rule!r}")
    if not (TARGET_SBP_RANGE[0] <= sbp <= TARGET_SBP_RANGE[1]
            and TARGET_DBP_RANGE[0] <= dbp <= TARGET_DBP_RANGE[1]
            and sbp - dbp >= MIN_PULSE_PRESSURE_TARGET):
        return f"out of physiological range (SBP {sbp:.0f}, DBP {dbp:.0f})"
    return sbp, dbp


def _abp_span(rec: Record, s: TaskSettings) -> float:
    """Seconds of ``rec`` that abp windows tile: the shortest of the channels they read."""
    need = ("abp", "ppg", "ecg_ii") if s.labels else ("ppg", "ecg_ii")
    return min(rec.duration(c) for c in need)


def _abp_windows(rec: Record, s: TaskSettings, why: Counter[str] | None = None) -> list[dict]:
    """Rows of the non-overlapping windows of ``rec`` whose arterial line gives targets (with
    ``s.labels`` False: every window with a usable ECG II and PPG, targets NaN where the
    arterial line gives none or is absent); ``why`` counts the reasons windows are left out,
    and each one left out is a ``{"left_out", "reason"}`` row."""
    why = Counter() if why is None else why
    rows = []
    for k in range(int(_abp_span(rec, s) // s.seconds)):
        t0, t1 = k * s.seconds, (k + 1) * s.seconds
        target = _window_bp(rec, t0, t1, s) if rec.has("abp") else "no arterial line"
        if isinstance(target, str):
            if s.labels:
                why[target] += 1
                rows.append(_left_out(rec.record_id, t0, target))
                continue
            target = (np.nan, np.nan)
        x, mask, pieces, fs = _model_input(rec, t0, t1, s.fs, s.filters)
        if not mask.all() or "ecg_ii" not in pieces:  # lead II itself, not a lead for it
            reason = f"ECG II or PPG flat or over {MAX_NAN_FRACTION:.0%} missing"
            why[reason] += 1
            rows.append(_left_out(rec.record_id, t0, reason))
            continue
        # judged on the recorded samples and on the model's input, filtered as the model
        # reads it: an off PPG toggling at mains frequency reads as flat there alone, a flat
        # stretch's edges blur there (the filters' transients); a gap, missing, is no flat
        # stretch (filled by a line, it had been one, and its saturated edges had made 17 of
        # v809l@210's 60 ECG blocks flat beside them)
        filtered = flat_fraction(x.astype(np.float64), s.fs)
        still = [name for c, name in (("ppg", "PPG"), ("ecg_ii", "ECG II"))
                 if max(filtered[MODEL_CHANNELS.index(c)],
                        flat_fraction(_recorded(rec, c, t0, t1)[None], fs[c])[0])
                 > MAX_NAN_FRACTION]
        if still:  # flat for most of the window (a sensor off): its pulse timing and shape
            # are no input (14 of 467 windows had held a PPG flat for over half of theirs)
            reason = f"{' and '.join(still)} flat for over {MAX_NAN_FRACTION:.0%} of the window"
            why[reason] += 1
            rows.append(_left_out(rec.record_id, t0, reason))
            continue
        pieces.pop("abp", None)  # the features must not see the target's own wave
        rows.append({"x": x, "mask": mask, "y": np.array(target, dtype=np.float32),
                     "features": signal_features(pieces, fs), "group": rec.group_id,
                     "record": window_id(rec.record_id, t0), "start": t0})
    return rows


def _left_out(record_id: str, start: float, reason: str) -> dict[str, str]:
    """A builder's note of a window that gives no row, and why."""
    return {"left_out": window_id(record_id, start), "reason": reason}


def window_id(record_id: str, start: float) -> str:
    """The id of a record's window starting at ``start`` s: ``record@start`` (``v519l@30``)."""
    return f"{record_id}@{start:.10g}"


def record_of(row_id: str) -> str:
    """The record of a row id, :func:`window_id`'s inverse: ``v519l@30`` -> ``v519l``; a
    record's own id (one row a record) stays as it is."""
    name, at, start = str(row_id).rpartition("@")
    try:
        float(start)
    except ValueError:
        return str(row_id)
    return name if at else str(row_id)


def skip_entry(message: str) -> dict[str, str]:
    """A skipped record as the other batch jobs list it, ``{"record", "reason"}``, from a
    ``RecordError`` message ``"PATH: reason"``."""
    record, sep, reason = message.partition(": ")
    return {"record": record, "reason": reason} if sep else {"record": "", "reason": message}


#: What an abp window with targets needs usable: a window refused for its ECG II or PPG had
#: been said to want a usable arterial line.
_ABP_INPUTS = "ECG II, PPG and arterial line"


def _rows_uci_bp(path: Path, s: TaskSettings) -> list[dict]:
    """Rows of every record of a UCI cuff-less BP part (the first ``max_records`` of it when
    set); one ``{"skip": ...}`` row sums up the records that gave no window."""
    rows: list[dict] = []
    empty: list[str] = []
    bad: list[RecordError] = []
    why: Counter[str] = Counter()  # the windows' reasons, of the records that gave none
    n = 0
    for rec in iter_uci_bp(path, limit=s.max_records, bad=bad):
        n += 1
        reasons: Counter[str] = Counter()
        got = _abp_windows(rec, s, reasons)
        rows += got
        if not any("x" in r for r in got):  # a short record said so (it had read as a bad line)
            span = _abp_span(rec, s)
            empty.append(rec.record_id if span >= s.seconds else f"{rec.record_id} ({span:.1f} s)")
            why.update(reasons)
    said = "".join(f"; {reason}: {k} window{'s' * (k > 1)}" for reason, k in why.most_common(3))
    if not any("x" in r for r in rows) and bad and not n:  # not one record read: why
        more = f" (and {len(bad) - 1} more records unread)" if len(bad) > 1 else ""
        raise RecordError(f"{bad[0]}{more}")
    if not any("x" in r for r in rows):
        why = f"; {len(bad)} more unread, the first: {bad[0]}" if bad else ""
        raise RecordError(f"{path}: none of its {n} records has a {s.seconds:g} s window with a "
                          f"usable {_ABP_INPUTS} (first: {', '.join(empty[:5])}{said}){why}")
    rows += [{"skip": str(err)} for err in bad]
    if empty:
        rows.append({"skip": f"{path}: {len(empty)} of {n} records gave no {s.seconds:g} s "
                             f"window with a usable {_ABP_INPUTS} (first: "
                             f"{', '.join(empty[:5])}{said})"})
    return rows


def _rows_abp(path: Path, s: TaskSettings, rec: Record | None = None) -> list[dict]:
    if rec is None and is_uci_bp_file(path):
        return _rows_uci_bp(path, s)
    read = read_record(path) if rec is None else rec
    rec = _fast_enough(read, path)
    need = ("abp", "ppg") if s.labels else ("ppg",)  # predictions need no arterial line
    if not (rec.has(*need) and _primary_ecg(rec) == "ecg_ii"):
        what = "ABP, ECG II and PPG" if s.labels else "ECG II and PPG"
        slow = [c for c in read.channels if c not in rec.signals]  # a numerics record's had
        under = f" ({', '.join(slow)} under {MIN_FS:g} Hz)" if slow else ""  # read "it has []"
        raise RecordError(f"{path}: abp needs {what}; it has {read.channels}{under}")
    if s.labels:
        rec = _abp_in_mmhg(rec, path)
    elif rec.has("abp"):  # targets beside predictions: in mmHg too (they had kept cmH2O),
        try:  # or none where the line's unit gives none (the rows need no arterial line)
            rec = _abp_in_mmhg(rec, path)
        except RecordError:
            rec = dataclasses.replace(rec, signals={c: x for c, x in rec.signals.items()
                                                    if c != "abp"})
    why: Counter[str] = Counter()
    rows = _abp_windows(rec, s, why)
    if not any("x" in r for r in rows):
        what = _ABP_INPUTS if s.labels else "ECG II and PPG"
        reasons = "; ".join(f"{reason}: {n} window{'s' * (n > 1)}"
                            for reason, n in why.most_common(3))
        # (a record shorter than a window had read as one of a bad arterial line)
        raise RecordError(f"{path}: no {s.seconds:g} s window with a usable {what} "
                          f"({reasons or f'record of {_abp_span(rec, s):.1f} s'})"
                          f"{_unit_hint(rec, read.units.get('abp', '')) if s.labels else ''}")
    return rows


def _unit_hint(rec: Record, stated: str) -> str:
    """A note where ``rec``'s arterial line, in mmHg from its ``stated`` unit, lies at no
    arterial pressure (a line in kPa had read as damped, one in mV as flat, one in Pa as
    noisy: the catheter blamed for its unit), else ''; a line that pulses below zero is asked
    about its zero instead (no unit makes it a pressure)."""
    line = rec.signals.get("abp")
    level = float(np.nanmedian(line)) if line is not None and np.isfinite(line).any() else None
    if level is None or ABP_LEVEL_MMHG[0] <= level <= ABP_LEVEL_MMHG[1]:
        return ""
    low, high = np.nanpercentile(line, [1, 99])
    if level < 0 and high - low >= ABP_MIN_PULSE_PRESSURE / 4:  # a pulse below zero (a line
        # flat near zero, of either sign, is asked about its connection below)
        return (f"; its arterial line's median, {level:.3g} mmHg, is below zero: is the "
                "transducer zeroed or levelled wrong?")
    unit = f"stated {stated!r}" if stated.strip() else "no unit stated"
    return (f"; its arterial line's median, {level:.3g} mmHg ({unit}), is no arterial pressure: "
            "is it in another unit (kPa, mV, Pa), or disconnected (its transducer open to "
            "air)?")


#: Pressure units an arterial line may be stated in, and their mmHg; a line that states none
#: ("", or "NU": a table's column without a unit) is taken to be in mmHg.
PRESSURE_MMHG = {"mmhg": 1.0, "torr": 1.0, "cmh2o": 0.73556, "cmh20": 0.73556,
                 "kpa": 7.50062, "hpa": 0.750062, "mbar": 0.750062, "pa": 0.00750062,
                 "": 1.0, "nu": 1.0}


def _abp_in_mmhg(rec: Record, path: Path) -> Record:
    """``rec`` with its arterial line in mmHg, converted from the pressure unit it states;
    one in no pressure unit (mV, uncalibrated) gives no target and is refused."""
    unit = rec.units.get("abp", "")
    if unit == UNCALIBRATED:
        raise RecordError(f"{path}: its arterial line is uncalibrated (ADC gain 0): its values "
                          "are not mmHg, so they give no blood-pressure target")
    scale = PRESSURE_MMHG.get(re.sub(r"[\s_.\[\]]", "", unit).lower())  # UCUM: mm[Hg]
    if scale is None:
        raise RecordError(f"{path}: its arterial line is in {unit!r}, a unit not converted to "
                          "mmHg (mmHg, cmH2O, kPa, hPa, mbar, Pa), so it gives no "
                          "blood-pressure target")
    if scale == 1.0:
        return rec
    return dataclasses.replace(rec, signals={**rec.signals, "abp": rec.signals["abp"] * scale},
                               units={**rec.units, "abp": "mmHg"})


def _window_bp(rec: Record, t0: float, t1: float, s: TaskSettings) -> tuple[float, float] | str:
    """(SBP, DBP) of ``rec``'s arterial line over ``[t0, t1)`` s, or why it gives none; the
    span past the line's end is missing samples of it (a line stopping half-way through a
    window had given it the targets of its first half)."""
    fa = rec.fs["abp"]
    i0, i1 = int(t0 * fa), int(t1 * fa)
    seg = rec.signals["abp"][i0:i1]
    if len(seg) < i1 - i0:
        seg = np.concatenate([seg, np.full(i1 - i0 - len(seg), np.nan, np.float32)])
    abp = _fill(seg)
    if abp is None:
        return f"arterial line flat or over {MAX_NAN_FRACTION:.0%} missing"
    return bp_targets(abp, fa, s.bp_rule)


_BUILDERS = {"vt-alarm": _rows_vt, "af": _rows_af, "abp": _rows_abp}
_DEFAULT_SECONDS = {"vt-alarm": 10.0, "af": 30.0, "abp": 30.0}


def _record_files(files: list[Path]) -> list[tuple[str, int, int, bool]]:
    """Every file each record of ``files`` may read, with its version (mtime, size, whether
    it can be read: a record skipped for a file it could not open had stayed skipped, from
    the cache, once the file was made readable): the files beside it whose names start with
    its stem (a header's ``.dat``/``.mat`` signal files and its segments' files), each folder
    listed once."""
    listed: dict[Path, list[tuple[str, int, int, bool]]] = {}
    versions: set[tuple[str, int, int, bool]] = set()

    def version(path: Path | str, st: os.stat_result) -> tuple[str, int, int, bool]:
        return str(path), st.st_mtime_ns, st.st_size, os.access(path, os.R_OK)

    for f in files:
        folder = f.parent.resolve()
        if folder not in listed:
            listed[folder] = []
            with os.scandir(folder) as it:
                for e in it:
                    with contextlib.suppress(OSError):  # a link loop, a file gone: no version
                        if e.is_file():
                            listed[folder].append((e.name, *version(e.path, e.stat())[1:]))
            listed[folder].sort()
        entries = listed[folder]
        for name, mtime, size, readable in entries[bisect.bisect_left(entries, (f.stem,)):]:
            if not name.startswith(f.stem):
                break
            versions.add((str(folder / name), mtime, size, readable))
        versions.add(version(f.resolve(), f.stat()))
        for named in header_files(f):  # a header may name a signal file of any name
            with contextlib.suppress(OSError):
                versions.add(version(named.resolve(), named.stat()))
    return sorted(versions)


def _cache_path(cache_dir: Path, s: TaskSettings, files: list[Path]) -> Path:
    """The cache file of a dataset: its settings, its files, the files they read (signal
    files, segments: a rewritten ``.mat`` under the same header is another dataset) and the
    label files beside them (``REFERENCE.csv``, ``alarms.csv``; a ``REFERENCE.csv`` a folder
    up, :func:`~qualityfm.io.wfdb_reader.label_files`), each by path and version, and
    the patient each file's path names (a folder link named ``pNNNNNN`` names it, the folder
    it leads to may not)."""
    labels = sorted({t for f in files for t in label_files(f)})
    key = json.dumps({"v": CACHE_VERSION, "features": FEATURES_VERSION, "settings": asdict(s),
                      "files": _record_files(files),
                      "patients": [patient_from_path(f, Path(f).stem) for f in files],
                      "labels": [(str(f), f.stat().st_mtime_ns, f.stat().st_size)
                                 for f in labels if f.is_file()]},
                     sort_keys=True)
    return cache_dir / f"{s.task}-{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"


DataDirs = str | Path | Sequence[str | Path]
"""One folder of task records, or several whose records are pooled."""


def data_dirs(data: DataDirs) -> list[Path]:
    """The folders of ``data`` as a list (one folder or several)."""
    dirs = [Path(d) for d in input_paths(data)]  # (a Record had been "not iterable")
    if not dirs:
        raise ValueError("no data directory given")
    return dirs


def data_label(data: DataDirs) -> str:
    """The folders of ``data`` for messages and reports: "a, b"."""
    return ", ".join(map(str, data_dirs(data)))


def build_task_dataset(
    task: str,
    data_dir: DataDirs,
    *,
    seconds: float | None = None,
    pad_to: float | None = None,
    fs: float = MODEL_FS,
    bp_rule: str = "beat_median",
    max_records: int | None = None,
    filters: bool = True,
    cache_dir: str | Path | None = None,
    labels: bool = True,
) -> TaskDataset:
    """Build (or load from ``cache_dir``) the dataset of ``task`` from the records under
    ``data_dir`` (a folder, or several: their records pooled, each file once). Records that
    do not fit the task are skipped and listed in ``.skipped``.

    ``max_records`` keeps the first records in sorted order (for quick runs and tests); for
    ``abp`` the UCI cuff-less BP parts (``Part_N.mat``) under ``data_dir`` count as records
    too, and ``max_records`` also caps the records read from each part. ``labels=False``
    also reads records without labels (see :class:`TaskSettings`), for ``predict``.
    """
    s, files, where = _task_files(task, data_dir, seconds, pad_to, fs, bp_rule, max_records,
                                  filters, labels, cache_dir)
    ds, skipped, _ = _build(s, files, cache_dir, progress=on_terminal())
    if ds is None:
        raise _nothing_fits(where, task, skipped)
    _warn_repeated_ids(ds)
    return _group_copies(ds)


def _group_copies(ds: TaskDataset) -> TaskDataset:
    """``ds`` with the rows of two files that hold the same signals, whole or shifted in time
    (``ds.shared``), in one group (the group of the first file), with a warning: no split then
    puts one copy on each side (cinc2017_af holds one recording twice, A00227 and A01176;
    physionet2015_vt's v540s starts 82 s into physionet2015_icu's icu0450). The records of a
    file of many (a UCI part) are compared one by one, whole copies alone (no peaks are
    marked in them). Flat records are not compared."""
    if ds.sources is None or not len(ds):
        return ds
    rows: dict[tuple[str, str], list[int]] = {}  # by file and record: a UCI part holds many
    for i, (src, rid) in enumerate(zip(ds.sources.tolist(), ds.record_ids.tolist(),
                                       strict=True)):
        rows.setdefault((src, record_of(rid)), []).append(i)
    in_file = Counter(src for src, _ in rows)

    def named(key: tuple[str, str]) -> str:
        return key[0] if in_file[key[0]] == 1 else f"{key[1]} of {key[0]}"

    first: dict[bytes, tuple[str, str]] = {}
    copies: list[str] = []  # how each file joined another, for the warning
    groups = ds.groups.tolist()  # (a fixed-width string array would cut a longer name)
    merged: dict[object, object] = {}  # group -> the group it joined (union-find)

    def root(g: object) -> object:
        while merged.get(g, g) != g:
            g = merged[g]
        return g

    for key in sorted(rows):
        h = hashlib.sha1()
        flat = True
        for i in rows[key]:
            h.update(np.ascontiguousarray(ds.X[i]).tobytes())
            flat = flat and not np.ptp(ds.X[i]) > 0
        if flat:
            continue
        kept = first.setdefault(h.digest(), key)
        joined = False
        for i, k in zip(rows[key], rows[kept], strict=True):  # row i of the copy is row k
            a, b = root(groups[i]), root(groups[k])
            if a != b:  # (copies of one name are one group already, and named so)
                merged[a] = b
                joined = True
        if joined:
            copies.append(f"{named(key)} as {named(kept)}")
    by_file = {key[0]: rows[key] for key in rows}
    for entry in ds.shared:  # a record's file, one group: joined whole
        kept, src = entry["records"]
        if kept in by_file and src in by_file:
            a, b = root(groups[by_file[src][0]]), root(groups[by_file[kept][0]])
            if a != b:
                merged[a] = b
                at = entry["offset_s"]
                copies.append(f"{src} starts {at:g} s into {kept}" if at >= 0
                              else f"{kept} starts {-at:g} s into {src}")
    if not copies:
        return ds
    groups = [root(g) for g in groups]
    warn_at_caller(f"records hold signals of another, whole or shifted in time ({len(copies)} "
                   f"join(s): {copies[0]}{' ...' if len(copies) > 1 else ''}): grouped with it, so "
                   "that no split puts one copy on each side and a bootstrap draws them as "
                   "one")
    return dataclasses.replace(ds, groups=np.asarray(groups))


def _warn_repeated_ids(ds: TaskDataset) -> None:
    """Warn when two files give rows of one id (a MIMIC PERform subject in WFDB and in CSV
    beside it, one record in two formats): it is counted twice."""
    if ds.sources is None:
        return
    first: dict[str, str] = {}
    twice: dict[str, tuple[str, str]] = {}
    for rid, src in zip(ds.record_ids.tolist(), ds.sources.tolist(), strict=True):
        kept = first.setdefault(rid, src)
        if kept != src and Path(kept).name != Path(src).name:  # copies: _warn_repeated_names
            twice.setdefault(rid, (kept, src))
    if twice:
        rid, (a, b) = next(iter(twice.items()))
        warn_at_caller(f"{len(twice)} row id(s) come from two files ({rid}: {a} and {b}"
                       f"{' ...' if len(twice) > 1 else ''}): one record in two formats is "
                       "counted twice; pass each record once")


def iter_task_datasets(
    task: str,
    data_dir: DataDirs,
    skipped: list[dict[str, str]],
    *,
    records_per_part: int = 64,
    seconds: float | None = None,
    pad_to: float | None = None,
    max_records: int | None = None,
    cache_dir: str | Path | None = None,
    labels: bool = True,
    fs: float | None = None,
    outputs: Sequence[Path] = (),
    left_out: list[dict[str, str]] | None = None,
) -> Iterator[TaskDataset]:
    """The dataset of :func:`build_task_dataset` in parts of ``records_per_part`` records, so
    that a large folder is never held in memory at once (``predict``); the records skipped are
    appended to ``skipped``, the windows left out to ``left_out``. Each part is cached on its
    own under ``cache_dir``. ``fs``: the windows' rate (None: 300 Hz). ``outputs``: files the
    caller will write, refused before any record is read when one is a record read here."""
    if records_per_part < 1:
        raise ValueError(f"records_per_part must be >= 1, got {records_per_part}")
    s, files, where = _task_files(task, data_dir, seconds, pad_to, MODEL_FS if fs is None else fs,
                                  "beat_median", max_records, True, labels, cache_dir)
    refuse_writing_over(outputs, files, data_dirs(data_dir))
    n_rows = 0
    for i in range(0, len(files), records_per_part):
        ds, part_skipped, part_left_out = _build(s, files[i:i + records_per_part], cache_dir)
        skipped += part_skipped
        if left_out is not None:
            left_out += part_left_out
        if ds is not None:
            n_rows += len(ds)
            yield ds
    if not n_rows:
        raise _nothing_fits(where, task, skipped)


def _warn_repeated_names(files: list[Path]) -> None:
    """Warn when folders pooled hold records of the same name (copies counted twice, or two
    sites' records that share a group: their ids and groups collide)."""
    folders: dict[str, set[Path]] = {}
    for f in files:
        folders.setdefault(f.name, set()).add(f.parent.resolve())
    repeated = sorted(name for name, where in folders.items() if len(where) > 1)
    if repeated:
        warn_at_caller(f"{len(repeated)} record name(s) appear in more than one folder "
                       f"({', '.join(repeated[:3])}{' ...' if len(repeated) > 3 else ''}): "
                       "copies are counted twice, and records of one name share an id and a "
                       "group; pass each record once")


def _task_files(
    task: str, data_dir: DataDirs, seconds: float | None, pad_to: float | None, fs: float,
    bp_rule: str, max_records: int | None, filters: bool, labels: bool,
    cache_dir: str | Path | None = None,
) -> tuple[TaskSettings, list[Path], str]:
    """The settings of a task dataset, its record files in order, and its folders (for
    messages); the arguments checked. A ``cache_dir`` inside a data folder is refused: its
    ``.npz`` files would read as records there (``score`` and ``prepare`` had skipped them as
    bad ones)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {TASKS}")
    dirs = data_dirs(data_dir)
    for d in dirs:
        if not d.exists() and not d.with_name(d.name + ".hea").is_file():  # a WFDB record's
            # name reads as prepare and score read it (it had been "no data directory")
            raise FileNotFoundError(f"data {d}: no such file or folder, nor a WFDB header "
                                    f"{d.name}.hea")
    if max_records is not None and max_records < 1:
        raise ValueError(f"max_records must be >= 1, got {max_records}")
    if bp_rule not in BP_RULES:  # before any record is read
        raise ValueError(f"bp_rule must be one of {BP_RULES}, got {bp_rule!r}")
    s = TaskSettings(task, float(_DEFAULT_SECONDS[task] if seconds is None else seconds), pad_to,
                     fs, bp_rule, max_records, filters, labels)
    if cache_dir is not None:
        check_out_apart(cache_dir, dirs, "cache", hidden_ok=True, may_hold=True)
        # before any record is read, not after ("[Errno 30] Read-only file system" had
        # named no flag); a file there too
        check_writable_folder(cache_dir, f"--cache {cache_dir}")
    found = {f.resolve(): f for d in dirs for f in find_records(d)}
    found = without_segments(found, dirs)  # a segment named beside its multi-segment record
    files = sorted(found.values())
    if task == "abp":
        uci = {f.resolve(): f for d in dirs for f in find_uci_bp(d)}
        files += list(uci.values())  # in part order
        if uci and labels:  # said where it matters: splits and cross-validation
            warn_at_caller("the UCI cuff-less BP parts name no patients: each record is its "
                           "own group, and one patient may hold several records, so a split "
                           "may put one patient on both sides (figures optimistic)")
    where = data_label(dirs)
    _warn_repeated_names(files)
    if max_records is not None:
        files = files[:max_records]
    if not files:
        raise RecordError("; ".join(f"{d}: {no_record_reason(d)}" for d in dirs))
    return s, files, where


def _nothing_fits(where: str, task: str, skipped: list[dict[str, str]]) -> RecordError:
    first = "; ".join(f"{e['record']}: {e['reason']}" for e in skipped[:3])
    return RecordError(f"{where}: no record fits task {task!r}; first: {first}")


def record_dataset(task: str, record: Record, *, seconds: float | None = None,
                   labels: bool = False, fs: float = MODEL_FS,
                   pad_to: float | None = None, filters: bool = True) -> TaskDataset:
    """The rows the dataset of ``task`` holds for ``record``, a :class:`~qualityfm.io.Record`
    in memory (a monitor's buffer: ``signals`` and ``fs`` by canonical channel name; for
    vt-alarm the alarm time in ``events["alarm"]``, else the record's end): each window's
    model input as the task's models were fitted on it (protocol filters, 300 Hz, scaled per
    channel), its mask and the classical features of the unfiltered channels. Pass
    ``X, mask, features`` to a fitted model's ``predict_proba`` / ``predict``. A record that
    does not fit the task raises :class:`~qualityfm.io.RecordError`. ``fs``: the rate of the
    windows, that of the model's encoder (``model.fs``; 300 Hz for the shipped weights);
    ``pad_to``, ``filters``: as for :func:`build_task_dataset` (a run's ``settings`` hold
    those its windows were built with). An ECG or PPG the record holds that a window reads as
    absent (leads off, cut short) is named in a warning."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {TASKS}")
    if not isinstance(record, Record):  # a path had been an AttributeError
        raise TypeError(f"record_dataset reads a Record in memory, got "
                        f"{type(record).__name__} {record!r:.80}: build_task_dataset reads "
                        "files and folders (or give read_record(path))")
    s = TaskSettings(task, float(_DEFAULT_SECONDS[task] if seconds is None else seconds),
                     pad_to=pad_to, fs=float(fs), filters=filters, labels=labels)
    hint = _labels_hint(record)
    if hint:  # such a channel is read as absent: one modality lost without a word
        raise RecordError(f"{record.record_id}: channels keyed by monitor labels would be "
                          f"left out{hint}")
    # the channels a task reads, as a file's are read: a buffer's other channels (a longer
    # respiration, a 1-Hz SpO2) had set the end a buffer without an alarm time ends at
    read = [c for c in record.signals if is_task_channel(c)]
    if read:
        record = record.only(read)
    built = _BUILDERS[task](Path(record.record_id or "record"), s, record)
    rows = [r for r in built if "x" in r]
    if not rows:
        raise RecordError(f"{record.record_id}: no window fits task {task!r}")
    held = {"ecg_ii": bool(ecg_leads(record.signals)), "ppg": "ppg" in record.signals}
    lost = [ch for k, ch in enumerate(MODEL_CHANNELS)
            if held.get(ch) and not all(r["mask"][k] for r in rows)]
    if lost:  # a buffer's lead off or cut short: the model decides without it, said so
        warn_at_caller(f"{record.record_id}: {' and '.join(lost)} "
                       f"{'is' if len(lost) == 1 else 'are'} in the record but read as absent "
                       f"in {'a window' if len(rows) > 1 else 'the window'} (flat, a few ADC "
                       "levels, mostly NaN, or short of its span): the model decides without "
                       f"{'it' if len(lost) == 1 else 'them'} there")
    return _dataset_of(s, rows, [], _left_out_entries(built))


def _left_out_entries(rows: list[dict], source: str | None = None) -> list[dict[str, str]]:
    """The windows builder ``rows`` note as left out, ``{"window", "reason"}``, with
    ``"file"``, the record's ``source``, where given (two folders' records of one name had
    been told apart by nothing)."""
    return [{"window": r["left_out"], **({"file": source} if source is not None else {}),
             "reason": r["reason"]} for r in rows if "left_out" in r]


def _dataset_of(s: TaskSettings, rows: list[dict], skipped: list[dict[str, str]],
                left_out: list[dict[str, str]]) -> TaskDataset:
    """The dataset of builder rows."""
    return TaskDataset(
        task=s.task,
        X=np.stack([r["x"] for r in rows]).astype(np.float32),
        mask=np.stack([r["mask"] for r in rows]),
        y=np.stack([r["y"] for r in rows]),
        groups=np.array([r["group"] for r in rows]),
        record_ids=np.array([r["record"] for r in rows]),
        features=np.stack([r["features"] for r in rows]).astype(np.float32),
        feature_names=feature_names(),
        fs=s.fs,
        rhythm=np.array([r["rhythm"] for r in rows]) if s.task == "af" else None,
        settings=asdict(s),
        skipped=skipped,
        left_out=left_out,
        starts=np.array([r.get("start", np.nan) for r in rows], dtype=np.float64),
        sources=(np.array([r["source"] for r in rows], dtype=str)
                 if all("source" in r for r in rows) else None),
    )


def _build(
    s: TaskSettings, files: list[Path], cache_dir: str | Path | None, progress: bool = False,
) -> tuple[TaskDataset | None, list[dict[str, str]], list[dict[str, str]]]:
    """The dataset of ``files`` (None when no record fits), the records skipped and the
    windows left out; loaded from, or saved to, ``cache_dir``; with ``progress``, a bar of
    the records read on stderr, gone when done."""
    cache = _cache_path(Path(cache_dir), s, files) if cache_dir is not None else None
    # the cache names files by their absolute paths, and a run by its own spelling of them
    spelt = {str(Path(f).resolve()): str(f) for f in files}
    # files of no row: what was skipped or left out, kept as such (a folder of records the
    # task cannot read had been read again by every run, part by part)
    none = None if cache is None else cache.with_name(cache.stem + ".none.json")
    if none is not None and none.is_file():
        try:
            held = read_json(none, "task cache")
            return (None, [{**e, "record": spelt.get(e["record"], e["record"])}
                           for e in held["skipped"]], _left_out_renamed(held["left_out"], spelt))
        except (OSError, ValueError, KeyError, TypeError) as err:  # damaged: built again and
            # replaced, and said, as a damaged .npz is (it had been silent)
            warn_at_caller(f"{none}: unreadable task cache ({type(err).__name__}: {err}); "
                           "building the dataset again", RuntimeWarning)
    if cache is not None and cache.exists():
        try:
            loaded = TaskDataset.load(cache)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
            loaded = None  # truncated, or not ours: built again and replaced
            warn_at_caller(f"{cache}: unreadable task cache ({type(err).__name__}: {err}); "
                           "building the dataset again", RuntimeWarning)
        if loaded is not None:
            ds = _renamed(loaded, spelt)
            return ds, ds.skipped, ds.left_out
    rows: list[dict] = []
    skipped: list[dict[str, str]] = []
    left_out: list[dict[str, str]] = []
    marks: dict[str, dict[str, ChannelPeaks]] = {}  # each record's peaks: shared stretches
    bar = (progress_bar(len(files), unit="rec", desc=f"{s.task} records", leave=False)
           if progress and len(files) > 1 else None)
    try:
        for f in files:
            try:
                rec = None if s.task == "abp" and is_uci_bp_file(f) else _read_task_channels(f)
                built = list(_BUILDERS[s.task](f, s, rec))  # read twice: rows, then notes
                if rec is not None and any("x" in row for row in built):
                    marks[str(f)] = peak_marks(rec)
                for row in built:
                    if "skip" in row:  # a note on part of a multi-record file (UCI parts)
                        skipped.append(skip_entry(row["skip"]))
                    elif "x" in row:
                        rows.append({**row, "source": str(f)})
                left_out += _left_out_entries(built, str(f))
            except Exception as err:
                if machine_fault(err) is not None:  # the machine's, not the record's: the run
                    raise  # stops (out of memory had skipped the record, kept so in a cache)
                # a RecordError listed under the file it was reading; another said without
                # the record's path, named here
                entry = (skip_entry(str(err)) if isinstance(err, RecordError)
                         else {"record": str(f), "reason": skip_reason(err)})
                if entry["record"] != str(f):
                    entry = {"record": str(f), "reason": str(err)}
                skipped.append(entry)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if not rows:
        if none is not None:
            remove_temporaries(cache.parent, older_than_s=STALE_TEMPORARY_S, of=_CACHE_FILE)
            absolute = {v: k for k, v in spelt.items()}
            write_json(none, {"skipped": [{**e, "record": absolute.get(e["record"], e["record"])}
                                          for e in skipped],
                             "left_out": _left_out_renamed(left_out, absolute)})
        return None, skipped, left_out
    ds = _dataset_of(s, rows, skipped, left_out)
    ds.shared = [{"records": [a, b], "offset_s": offset}
                 for a, b, offset in shared_stretches(marks)]
    ds.marks = marks
    if cache is not None:
        # a cache save killed mid-write leaves its temporary (as large as the dataset): the
        # cache's own, untouched for an hour, go (other processes may be writing theirs)
        remove_temporaries(cache.parent, older_than_s=STALE_TEMPORARY_S, of=_CACHE_FILE)
        _renamed(ds, {v: k for k, v in spelt.items()}).save(cache)
    return ds, skipped, left_out


def _read_task_channels(path: Path) -> Record:
    """The record with only the channels a task reads, its ECG leads, PPG and arterial line
    (a fault of another had skipped it: a respiration channel whose unit changes between
    segments); one holding none of them is read whole, for its task to name what it holds
    (record_dataset keeps a buffer's alike)."""
    return read_channels_among(path, is_task_channel)


def _renamed(ds: TaskDataset, names: dict[str, str]) -> TaskDataset:
    """``ds`` with its rows' files, its skipped records and the files of its windows left out
    renamed by ``names`` (those not in it as they are): a cache keeps absolute paths, a run
    its own spelling of them."""
    sources = None if ds.sources is None else np.array(
        [names.get(f, f) for f in ds.sources.tolist()], dtype=object)
    skipped = [{**e, "record": names.get(e["record"], e["record"])} for e in ds.skipped]
    shared = [{**e, "records": [names.get(f, f) for f in e["records"]]} for e in ds.shared]
    marks = {names.get(f, f): m for f, m in ds.marks.items()}
    return dataclasses.replace(ds, sources=sources, skipped=skipped, shared=shared, marks=marks,
                               left_out=_left_out_renamed(ds.left_out, names))


def _left_out_renamed(left_out: list[dict[str, str]], names: dict[str, str]
                      ) -> list[dict[str, str]]:
    """The windows ``left_out`` with their files renamed by ``names`` (see :func:`_renamed`)."""
    return [{**e, "file": names.get(e["file"], e["file"])} if "file" in e else e
            for e in left_out]
