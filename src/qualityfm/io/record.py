"""The one record type every reader returns."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qualityfm._numbers import is_number


class RecordError(ValueError):
    """A file that cannot be read, or whose content is not usable. The message names the file."""


class MissingChannelError(RecordError):
    """A requested channel the file does not hold; ``available`` lists the canonical names of
    the channels it does hold."""

    def __init__(self, message: str, available: list[str]) -> None:
        super().__init__(message)
        self.available = available


#: The unit of a channel whose file gives no calibration (a WFDB gain of 0): its values are
#: in the recorder's units, not physical ones.
UNCALIBRATED = "uncalibrated"

#: The lowest rate of a waveform, Hz: a channel sampled more slowly holds trends (a monitor's
#: 1-Hz numerics), not beats.
MIN_WAVEFORM_FS = 10.0
#: The highest: no monitor samples a waveform faster; a rate above it is a fault of the file
#: (read, it would size its channel past any memory: a .vital track stating 1e9 Hz).
MAX_WAVEFORM_FS = 20000.0


@dataclass
class Record:
    """One recording: signals by canonical channel name, each with its own sampling rate.

    ``signals[ch]`` is a 1-D array of numbers (float32 from the readers; a list is made an
    array) in physical units (``units[ch]``, e.g. ``mV``,
    ``mmHg``, ``NU`` for unitless, :data:`UNCALIBRATED` when the file gives no calibration),
    sampled at ``fs[ch]`` Hz. ``events`` holds times in seconds
    from the start of ``signals`` (e.g. ``{"alarm": 300.0}``); ``labels`` holds record-level
    annotations (e.g. ``{"alarm_type": "Ventricular_Tachycardia", "alarm_true": False}`` or
    ``{"rhythm": "A"}``).
    """

    record_id: str
    signals: dict[str, np.ndarray]
    fs: dict[str, float]
    units: dict[str, str] = field(default_factory=dict)
    patient_id: str | None = None
    source: str = ""
    labels: dict[str, Any] = field(default_factory=dict)
    events: dict[str, float] = field(default_factory=dict)
    start_time: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.signals, dict) or not isinstance(self.fs, dict):
            raise TypeError(f"record {self.record_id}: signals and fs must be dicts keyed by "
                            f"channel name, e.g. fs={{'ppg': 125.0}}; got signals of type "
                            f"{type(self.signals).__name__} and fs of type "
                            f"{type(self.fs).__name__}")
        missing = [c for c in self.signals if c not in self.fs]
        if missing:
            raise ValueError(f"record {self.record_id}: no sampling rate in fs for channels "
                             f"{missing}")
        # a 0-d array (np.load(...)["fs"]) is its number (it had been refused, as text is)
        def scalar(v: Any) -> Any:
            return v.item() if isinstance(v, np.ndarray) and v.ndim == 0 else v
        self.fs = {c: scalar(v) for c, v in self.fs.items()}
        self.events = {k: scalar(t) for k, t in self.events.items()}
        # numbers, not text: a rate of "250" had passed here, then failed in a comparison
        bad_fs = {c: self.fs[c] for c in self.signals
                  if not (is_number(self.fs[c]) and self.fs[c] > 0)}
        if bad_fs:
            raise RecordError(f"record {self.record_id}: sampling rates must be finite numbers "
                              f"> 0 Hz, got {bad_fs}")
        bad_events = {k: t for k, t in self.events.items() if not is_number(t)}
        if bad_events:
            raise RecordError(f"record {self.record_id}: event times must be finite seconds, "
                              f"got {bad_events}")
        self.signals = {c: v if isinstance(v, np.ndarray) else np.asarray(v)  # (a list had
                        for c, v in self.signals.items()}  # no .dtype or len of samples)
        for c, sig in self.signals.items():  # a stacked pair or text would be read wrongly
            shape, kind = np.shape(sig), np.asarray(sig).dtype
            if len(shape) != 1 or not np.issubdtype(kind, np.number) and kind != np.bool_:
                raise RecordError(f"record {self.record_id}: channel {c!r} must be a 1-D array "
                                  f"of numbers, got shape {list(shape)} and dtype {kind}")

    @property
    def channels(self) -> list[str]:
        return list(self.signals)

    def duration(self, channel: str | None = None) -> float:
        """Length in seconds of ``channel`` (default: the longest channel)."""
        chans = [channel] if channel else list(self.signals)
        if channel and channel not in self.signals:
            raise KeyError(f"record {self.record_id} has no channel {channel!r}; it has "
                           f"{', '.join(self.signals) or 'none'}")
        if not chans:
            return 0.0
        return max(len(self.signals[c]) / self.fs[c] for c in chans)

    def has(self, *channels: str) -> bool:
        return all(c in self.signals for c in channels)

    def only(self, channels: Iterable[str]) -> Record:
        """This record with the channels ``channels`` alone (their signals, rates and
        units), in its own order; the rest is kept."""
        wanted = set(channels)
        keep = [c for c in self.signals if c in wanted]
        return dataclasses.replace(self, signals={c: self.signals[c] for c in keep},
                                   fs={c: self.fs[c] for c in keep if c in self.fs},
                                   units={c: u for c, u in self.units.items() if c in keep})

    @property
    def group_id(self) -> str:
        """The id used to keep splits honest: the patient when known, else the record."""
        return self.patient_id or self.record_id
