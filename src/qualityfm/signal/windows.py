"""Cut a record into fixed-length model windows, with the NaN and flat-line rules.

Each channel is resampled once for the whole record, NaNs are bridged by linear interpolation
(and an ECG lead's pacemaker stimuli taken out at its own rate, :mod:`qualityfm.signal.pacing`),
and windows are cut as strided views; the NaN and flat statistics are counted on the original
sample grid with cumulative sums, so nothing loops over windows in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qualityfm._caller import warn_at_caller
from qualityfm._numbers import FILL_MAGNITUDE, is_number, settle_numbers
from qualityfm.io import (
    MIN_WAVEFORM_FS,
    MODEL_CHANNELS,
    Record,
    RecordError,
    canonical_channel,
    ecg_leads,
    is_ecg,
)
from qualityfm.signal.extremes import span_clip_fraction
from qualityfm.signal.nan import Edges, few_levels, fill_nan, missing
from qualityfm.signal.normalize import NORMALIZATIONS, normalize
from qualityfm.signal.pacing import pacing_spikes
from qualityfm.signal.resample import rational_ratio, resample

REQUIRE = ("any", "all")

#: Largest share of missing samples (NaN, inf) a channel may hold in a window and be used, its
#: gaps interpolated: the windows of pre-training and of the tasks alike.
MAX_NAN_FRACTION = 0.2

#: Sampling rate (Hz) of the windows every model reads: pre-training, the tasks and export.
MODEL_FS = 300.0


#: The longest window, in seconds: a day.
MAX_WINDOW_SECONDS = 86400.0


@dataclass
class WindowConfig:
    """How records become model windows.

    ``hop`` is the step between window starts in seconds (None: ``seconds``, no overlap) and
    ``offset`` the start of the first window. A present channel is unusable in a window when
    more than ``max_nan_fraction`` of its samples are NaN (or all of them, whatever the
    limit: a window past the channel's end) or, with ``drop_flat``, when its recorded samples
    take at most ``signal.nan.OFF_LEVELS`` values (constant, or an ADC toggling between
    neighbouring steps with the sensor off); ``require="any"`` keeps windows with at least one
    usable channel (the others masked), ``"all"`` only windows where every channel is usable
    (the original rule).
    ``normalization`` is what :meth:`Windows.normalized` applies; ``Windows.x`` stays raw.
    """

    fs: float = MODEL_FS
    seconds: float = 30.0
    channels: tuple[str, ...] = MODEL_CHANNELS
    max_nan_fraction: float = MAX_NAN_FRACTION
    drop_flat: bool = True
    ecg_fallback: bool = True
    require: str = "any"
    normalization: str = "channel"
    hop: float | None = None
    offset: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.channels, str):
            raise ValueError(f"WindowConfig.channels must be a tuple of names, e.g. "
                             f"({self.channels!r},), got the string {self.channels!r}")
        self.channels = tuple(self.channels)
        for name in ("fs", "seconds", "offset", "hop", "max_nan_fraction"):
            v = getattr(self, name)
            if v is not None and not is_number(v):
                raise ValueError(f"WindowConfig.{name} must be a finite number, got {v!r}")
        settle_numbers(self, ("fs", "seconds", "offset", "hop", "max_nan_fraction"))
        if not self.fs > 0:
            raise ValueError(f"WindowConfig.fs must be positive, got {self.fs}")
        if not self.seconds > 0 or self.samples < 1:
            raise ValueError(f"WindowConfig.seconds must give >= 1 sample, got {self.seconds}")
        if self.seconds > MAX_WINDOW_SECONDS:  # (1e17 s had failed in NumPy for every record)
            raise ValueError(f"WindowConfig.seconds must be at most {MAX_WINDOW_SECONDS:g} (a "
                             f"day), got {self.seconds:g}")
        if self.hop is not None and self.hop_samples < 1:
            raise ValueError(f"WindowConfig.hop must give at least one sample, got {self.hop}")
        if self.offset < 0:
            raise ValueError(f"WindowConfig.offset must be >= 0, got {self.offset}")
        if not self.channels or len(set(self.channels)) != len(self.channels):
            raise ValueError(f"WindowConfig.channels must be distinct names, got {self.channels}")
        if not 0.0 <= self.max_nan_fraction <= 1.0:
            raise ValueError(f"max_nan_fraction must be in [0, 1], got {self.max_nan_fraction}")
        for name in ("drop_flat", "ecg_fallback"):  # ("False" had counted as True)
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"WindowConfig.{name} must be True or False, got "
                                 f"{getattr(self, name)!r}")
            setattr(self, name, bool(getattr(self, name)))
        if self.require not in REQUIRE:
            raise ValueError(f"require must be one of {REQUIRE}, got {self.require!r}")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}"
            )

    @property
    def samples(self) -> int:
        """Samples per window at ``fs``."""
        return int(round(self.seconds * self.fs))

    @property
    def hop_samples(self) -> int:
        return self.samples if self.hop is None else int(round(self.hop * self.fs))


@dataclass
class Windows:
    """Windows of one record: raw resampled values, channel mask, start times, rejections.

    ``sources`` maps each model channel to the record channel it came from (absent channels
    are left out); ``fallback`` is True when an ECG channel came from another lead;
    ``notes[i]`` says which recorded channels window ``i`` masks and why ("ppg: flat"), ""
    when none; ``rejected`` holds (start s, why) of the windows dropped for having none usable,
    and ``rejected_off[j, c]`` whether recorded channel ``c`` is off (flat, missing) in the
    ``j``-th of them. ``clipped[i, c]``: the share of window ``i``'s samples of channel ``c``
    at their extremes, counted on the record's own samples (the clip rule of the quality
    scores; resampling rings at a flat top's corners, which hides it); 0 where absent.
    ``filled[i, c]``: the share of window ``i``'s samples of channel ``c`` that were missing
    (NaN, past the channel's end) and filled; the quality scores charge it as a flat stretch.
    """

    x: np.ndarray  # float32 [N, C, T], physical units, NaNs filled, unusable channels zero
    mask: np.ndarray  # bool [N, C]
    start: np.ndarray  # float64 [N], seconds from the record start
    rejected: list[tuple[float, str]] = field(default_factory=list)
    channels: tuple[str, ...] = MODEL_CHANNELS
    fs: float = MODEL_FS
    sources: dict[str, str] = field(default_factory=dict)
    fallback: bool = False
    normalization: str = "channel"
    notes: list[str] = field(default_factory=list)  # per window: recorded channels off there
    n_cut: int = 0  # windows the record gave, kept or rejected (0: the record gave none)
    rejected_off: np.ndarray | None = None  # bool [len(rejected), C]; None: none off
    clipped: np.ndarray | None = None  # float [N, C]; None: none clipped
    filled: np.ndarray | None = None  # float [N, C]; None: none filled

    def __post_init__(self) -> None:
        if self.rejected_off is None:
            self.rejected_off = np.zeros((len(self.rejected), len(self.channels)), bool)
        if self.clipped is None:
            self.clipped = np.zeros(self.mask.shape)
        if self.filled is None:
            self.filled = np.zeros(self.mask.shape)

    def __len__(self) -> int:
        return len(self.x)

    @property
    def recorded(self) -> np.ndarray:
        """bool ``[C]``: the channels the record holds (a masked window of one of them is
        flat or missing there, not absent)."""
        return np.array([c in self.sources for c in self.channels], dtype=bool)

    def normalized(self, mode: str | None = None) -> np.ndarray:
        """``x`` normalised by ``mode`` (default: the config's), see :func:`normalize`."""
        return normalize(self.x, self.mask, mode or self.normalization)


def resolve_sources(record: Record, cfg: WindowConfig) -> tuple[dict[str, str], bool]:
    """Record channel feeding each requested channel, and whether an ECG fallback was used."""
    sources: dict[str, str] = {c: c for c in cfg.channels if c in record.signals}
    fallback = False
    if cfg.ecg_fallback:
        for c in cfg.channels:
            if c in sources or not is_ecg(c):
                continue
            used = set(sources.values())
            lead = next((lead for lead in ecg_leads(record.signals) if lead not in used),
                        None)
            if lead is not None:
                sources[c] = lead
                fallback = True
    return sources, fallback


def _empty(cfg: WindowConfig, rejected: list[tuple[float, str]], sources: dict[str, str],
           fallback: bool) -> Windows:
    c, t = len(cfg.channels), cfg.samples
    return Windows(np.zeros((0, c, t), np.float32), np.zeros((0, c), bool), np.zeros(0),
                   rejected, cfg.channels, cfg.fs, sources, fallback, cfg.normalization)


def _window_counts(flags: np.ndarray, n_valid: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """How many of ``flags`` are set in each span ``[lo, hi)`` (indices may pass the end)."""
    cs = np.concatenate([[0], np.cumsum(flags, dtype=np.int64)])
    return cs[np.clip(hi, 0, n_valid)] - cs[np.clip(lo, 0, n_valid)]


def _percent(share: float, limit: float) -> str:
    """``share`` in percent with the fewest decimals (up to 3) that keep it on its side of
    ``limit`` and of 100 (20.3 % over a 20 % limit had read "20%", 99.9 % "100%")."""
    p = 100.0 * float(share)
    for digits in range(4):
        text = f"{p:.{digits}f}"
        if (float(text) > 100 * limit) == (p > 100 * limit) and (float(text) < 100) == (p < 100):
            break
    return text


def make_windows(record: Record, cfg: WindowConfig | None = None, *,
                 edges: dict[str, Edges] | None = None) -> Windows:
    """Cut ``record`` into windows of ``cfg.seconds`` at ``cfg.fs`` (see :class:`WindowConfig`).

    Channels absent from the record are zeros with mask False. A record shorter than one
    window, or without any requested channel, gives zero windows and a reason in ``rejected``.
    ``edges`` (by record channel): where ``record`` is a span of a longer one, the finite
    samples just outside it, towards which its gaps at either end are filled.
    """
    if not isinstance(record, Record):  # (a dict of signals had been an AttributeError)
        raise TypeError(f"make_windows reads a qualityfm.io.Record (read_record(path), or "
                        f"Record(...) of arrays), got {type(record).__name__}")
    if cfg is not None and not isinstance(cfg, WindowConfig):
        raise TypeError(f"make_windows' cfg is a WindowConfig (WindowConfig(seconds=10, ...)), "
                        f"got {type(cfg).__name__}")
    cfg = cfg or WindowConfig()
    asked = {c: n for c in cfg.channels if c not in record.signals
             and (n := canonical_channel(c)) != c and n in record.signals}
    if asked:  # ('PLETH', 'ecg_ii') of a read record: its PPG had been absent, unsaid
        warn_at_caller(f"record {record.record_id}: " + ", ".join(
            f"{c!r} asked for is held as {n!r}" for c, n in asked.items()) + ": the record's "
            "channels are canonical names (qualityfm.io.canonical_channel); ask for those",
            RuntimeWarning)
    sources, fallback = resolve_sources(record, cfg)
    slow = {c: src for c, src in sources.items() if record.fs.get(src, np.inf) < MIN_WAVEFORM_FS}
    if slow:  # a monitor's trends under a waveform's name: no beats to window or score; the
        # sources chosen among the others (a 1-Hz II had left the ECG out where lead V was
        # there to stand in, as it does in the task windows)
        fast = [c for c in record.signals if not record.fs.get(c, np.inf) < MIN_WAVEFORM_FS]
        sources, fallback = resolve_sources(record.only(fast), cfg)
        named = ", ".join(f"{src} at {record.fs[src]:g} Hz" for src in slow.values())
        if not sources:
            return _empty(cfg, [(0.0, f"{named}: below {MIN_WAVEFORM_FS:g} Hz, trends rather "
                                      "than a waveform")], sources, fallback)
        warn_at_caller(f"record {record.record_id}: {named} left out: below "
                       f"{MIN_WAVEFORM_FS:g} Hz, trends rather than a waveform", RuntimeWarning)
    if not sources:
        have = ", ".join(record.signals) or "none"
        named = [canonical_channel(c) for c in record.signals]
        hint = ("; name them by qualityfm.io.canonical_names, as the readers do"
                if set(named) & set(cfg.channels) else
                # monitor labels asked for (PLETH, II) of a record the readers named (their
                # zero windows had said no more)
                "; the record's channels are canonical names: ask for " + ", ".join(
                    f"{n!r} (not {c!r})" for c, n in asked.items()) if asked else "")
        return _empty(cfg, [(0.0, f"no channel of {cfg.channels} (record has: {have}){hint}")],
                      sources, fallback)
    T, hop = cfg.samples, cfg.hop_samples
    off = int(round(cfg.offset * cfg.fs))

    filled: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # channel -> (NaN mask, filled)
    resampled: dict[str, np.ndarray] = {}
    for c, src in sources.items():
        raw = np.asarray(record.signals[src], dtype=np.float32)
        if raw.ndim != 1:
            raise RecordError(
                f"record {record.record_id}: channel {src} must be 1-D, got shape {raw.shape}"
            )
        if src not in record.fs:
            raise RecordError(f"record {record.record_id}: channel {src} has no sampling rate")
        # inf and fill values count as missing, like NaN; read as given (a float64 fill past
        # float32's range is inf once cast, and said here as a fill value)
        given = np.asarray(record.signals[src])
        gone = missing(given)
        with np.errstate(invalid="ignore"):
            fills = int((gone & np.isfinite(given)).sum())
        if fills:
            warn_at_caller(f"record {record.record_id}: channel {src}: {fills} sample(s) of "
                           f"magnitude over {FILL_MAGNITUDE:g} (a fill value) read as missing",
                           RuntimeWarning)
        if gone.any():  # filled as found: a float64 fill value just past FILL_MAGNITUDE
            raw = np.where(gone, np.float32(np.nan), raw)  # is under it as float32, and had
        values = fill_nan(raw, (edges or {}).get(src))  # been counted missing but kept
        # an ECG's pacemaker stimuli out at the record's own rate: resampled, one spans several
        # samples and the R-peak detector counts it as a beat (a paced asystole had scored
        # 1.0); nothing is done under MIN_PACING_FS, where a stimulus and an R apex are alike
        # one sample wide. The flat and clip figures below read the samples as recorded, the
        # stimuli left out (its stand-in, between two ADC codes, had made a sensor-off lead's
        # levels more, its windows usable; a stimulus past a clipped lead's rail, its rail
        # samples no extreme)
        cleaned, stimuli = values, np.zeros(len(values), dtype=bool)
        if is_ecg(c):
            cleaned, stimuli = pacing_spikes(values, record.fs[src])
        filled[c] = (gone, values, stimuli)
        try:
            resampled[c] = resample(cleaned, record.fs[src], cfg.fs)
        except ValueError as err:
            raise RecordError(f"record {record.record_id}: channel {src}: {err}") from None
    total = max(len(y) for y in resampled.values())
    n = (total - off - T) // hop + 1 if total - off >= T else 0
    if n <= 0:
        dur = total / cfg.fs
        return _empty(cfg, [(cfg.offset, f"record shorter than one window "
                                         f"({dur:.6g} s < {cfg.offset + cfg.seconds:g} s)")],
                      sources, fallback)

    C = len(cfg.channels)
    starts = off + hop * np.arange(n)  # output-grid sample of each window's start
    X = np.zeros((C, total), np.float32)
    nan_frac = np.zeros((n, C))
    flat = np.zeros((n, C), bool)
    clipped = np.zeros((n, C))
    for ci, c in enumerate(cfg.channels):
        if c not in sources:
            continue
        y = resampled[c]
        X[ci, : len(y)] = y
        X[ci, len(y):] = y[-1] if len(y) else 0.0  # past a short channel's end: hold last value
        nan, values, stimuli = filled[c]
        fs_in = float(record.fs[sources[c]])
        up, down = rational_ratio(fs_in, cfg.fs) if fs_in != cfg.fs else (1, 1)
        # Input-grid span [i0, i1) of each window: the input samples whose times fall in the
        # window's [start, start + T) (ceil of both ends, in whole input samples); samples past
        # the channel's end count as NaN.
        i0 = -((-starts * down) // up)
        i1 = -((-(starts + T) * down) // up)
        m = len(values)
        n_nan = _window_counts(nan, m, i0, i1) + np.maximum(i1 - np.maximum(i0, m), 0)
        nan_frac[:, ci] = n_nan / np.maximum(i1 - i0, 1)  # a window under one input sample
        if cfg.drop_flat:
            # Flat: no consecutive pair of samples inside the window differs; in a window with
            # a gap, its recorded samples all equal (the gap's linear fill had read as a change)
            # or they take a few values only (OFF_LEVELS: an ADC toggling with the sensor off)
            changes = np.diff(values) != 0
            flat[:, ci] = _window_counts(changes, m - 1, i0, np.minimum(i1, m) - 1) == 0
            unseen = nan | stimuli
            for k in np.flatnonzero(~flat[:, ci] | (n_nan > 0)):
                seen = values[i0[k]:min(i1[k], m)][~unseen[i0[k]:min(i1[k], m)]]
                flat[k, ci] = few_levels(seen)
        clipped[:, ci] = span_clip_fraction(values, i0, np.minimum(i1, m),
                                            missing=nan | stimuli)
    present = np.array([c in sources for c in cfg.channels])
    # a window with no sample of the channel is missing it whatever the limit (at 1.0 a window
    # past the channel's end had been "usable", a constant handed to the model)
    bad_nan = (nan_frac > cfg.max_nan_fraction) | (nan_frac >= 1.0)
    flat &= ~bad_nan
    usable = present & ~bad_nan & ~flat

    keep = usable.any(axis=1) if cfg.require == "any" else usable.all(axis=1)
    start_s = starts / cfg.fs

    def why(k: int, absent: bool) -> str:
        """What makes the channels of window ``k`` unusable (absent ones only if ``absent``)."""
        return "; ".join(  # a lead standing for II named too: the record may hold no II
            f"{c}{f' (from {sources[c]})' if sources.get(c, c) != c else ''}: "
            + ("absent" if not present[ci] else
                        f"{_percent(nan_frac[k, ci], cfg.max_nan_fraction)}% NaN"
                        if bad_nan[k, ci] else "flat")
            for ci, c in enumerate(cfg.channels)
            if not usable[k, ci] and (absent or present[ci]))

    rejected = [(float(start_s[k]), why(k, True)) for k in np.flatnonzero(~keep)]
    # kept windows with a recorded channel off (flat or missing there): why, "" for the others
    notes = ["" if (usable[k] == present).all() else why(k, False) for k in np.flatnonzero(keep)]

    view = np.lib.stride_tricks.sliding_window_view(X[:, off:], T, axis=1)[:, ::hop][:, :n]
    x = np.ascontiguousarray(view[:, keep].transpose(1, 0, 2))
    mask = usable[keep]
    x[~mask] = 0.0
    return Windows(x, mask, start_s[keep].astype(np.float64), rejected, cfg.channels, cfg.fs,
                   sources, fallback, cfg.normalization, notes, int(n),
                   rejected_off=(present & ~usable)[~keep], clipped=clipped[keep],
                   filled=np.where(mask, nan_frac[keep], 0.0))
