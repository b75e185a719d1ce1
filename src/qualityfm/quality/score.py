"""Combined quality of both modalities, the five levels, and scoring of whole windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qualityfm.io import MODEL_CHANNELS, ecg_leads, is_ecg
from qualityfm.io.channels import refuse_monitor_labels
from qualityfm.quality._common import as_windows
from qualityfm.quality.ecg import RRRules, ecg_quality
from qualityfm.quality.ppg import ppg_quality
from qualityfm.signal.nan import check_finite, checked_mask, present_mask

#: Level names, index = level: 0 bad ... 4 excellent.
LEVEL_NAMES: tuple[str, ...] = ("bad", "poor", "acceptable", "good", "excellent")
#: Lower bounds of the levels excellent, good, acceptable, poor (the method, arXiv 2509.06516).
LEVEL_THRESHOLDS: tuple[float, float, float, float] = (0.9, 0.7, 0.5, 0.3)
#: Version of the scoring rules, raised when a window's samples or scores change for the same
#: record (2: a recorded channel that is flat or missing in a window scores 0 there; 3: the
#: resampling keeps a channel's level without a ripple; 4: an ECG's flat stretches cost their
#: share of its score; 5: a clipped window is found on the record's own samples, and
#: resampling keeps every constant level without a ripple; 6: filled gaps are left out of
#: the clip count; 7: a channel flat but for a gap is flat; 8: an R peak's refractory counts
#: from the last beat kept; 9: spectra and filters of the window mirrored, not end-detrended,
#: and bands found on bin numbers; 10: a channel of at most 4 values in a window is off there;
#: 11: of at most 12; 12: of at most 4 again, ``signal.nan.OFF_LEVELS``; 13: a PPG's pulses
#: less its dicrotic waves, ``quality.ppg.drop_dicrotic``; 14: a filled gap costs its share,
#: the clip rule falls from 5 % to 10 % rather than at 5 %, the ECG's beats fit one RR
#: interval, and float32 input past 1e6 is scored in float64; 15: an ECG's stretches without a
#: beat for over 3 s cost their share, ``quality._common.beatless_share``, and a PPG's pulses are
#: 0.3 s apart in whole samples rounded up; 16: rounded to the nearest sample, not up; 17: a
#: half sample up, not to even; 18: no R peak on a window's first or last sample, where the
#: mirrored band-pass had put a beat lying just outside, and a PPG's stretches without a pulse
#: for over 3 s cost their share; 19: within them, those of alike pulses found against their
#: own spread count only where those pulses stop, and a PPG of under two pulses has them too;
#: 20: an ECG's pacemaker stimuli taken out at 240 Hz or more, in the R-peak detector and in
#: a record's windows at its own rate before resampling, ``signal.pacing``; 21: a pair of
#: stimuli, a biphasic one through zero, and the flat and clip figures without the stimuli;
#: 22: a rail is found at a tail level where a few samples past it had made it no extreme,
#: ``signal.extremes.RAIL_QUANTILES``).
#: A store's journal records it, so that an interrupted ``prepare`` never mixes two rules.
SCORING_VERSION = 22


@dataclass
class QualityScores:
    """Per-window scores: ``ecg``, ``ppg`` (NaN where the modality is absent), ``q`` (mean over
    present modalities, 0 when none is present) and ``level`` (int8, 0 bad ... 4 excellent)."""

    ecg: np.ndarray
    ppg: np.ndarray
    q: np.ndarray
    level: np.ndarray

    def __len__(self) -> int:
        return len(self.q)


def combined_quality(
    ecg_q: np.ndarray, ppg_q: np.ndarray, ecg_present: np.ndarray, ppg_present: np.ndarray
) -> np.ndarray:
    """Mean of the scores of the present modalities, ``[N]``; 0 where neither is present."""
    e = np.asarray(ecg_q, dtype=np.float64)
    p = np.asarray(ppg_q, dtype=np.float64)
    ep = np.asarray(ecg_present, dtype=bool)
    pp = np.asarray(ppg_present, dtype=bool)
    shapes = {"ecg_q": e.shape, "ppg_q": p.shape, "ecg_present": ep.shape,
              "ppg_present": pp.shape}
    try:
        shape = np.broadcast_shapes(*shapes.values())
    except ValueError:  # numpy's broadcast error had named none of them
        shape = (0, 0)
    if len(shape) > 1:  # [N, 1] beside [N] had given an N x N table
        raise ValueError(f"the scores and presence flags must have one shape [N] (or "
                         f"broadcast to one: a flag for all), got {shapes}")
    num = np.where(ep, np.nan_to_num(e), 0.0) + np.where(pp, np.nan_to_num(p), 0.0)
    den = ep.astype(np.float64) + pp
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def quality_level(
    q: np.ndarray | float, thresholds: Sequence[float] = LEVEL_THRESHOLDS
) -> np.ndarray:
    """Level of each score: 4 (excellent) when ``q >= thresholds[0]``, ... 0 (bad) below the last.

    ``thresholds`` are the lower bounds of excellent, good, acceptable and poor, decreasing.
    NaN scores are bad.
    """
    th = np.asarray(thresholds, dtype=np.float64)
    if th.shape != (4,) or np.isnan(th).any() or np.any(np.diff(th) >= 0):
        raise ValueError(f"thresholds must be 4 decreasing values, got {tuple(thresholds)}")
    q = np.nan_to_num(np.asarray(q, dtype=np.float64), nan=-np.inf)
    return (q[..., None] >= th).sum(axis=-1).astype(np.int8)


def score_windows(
    x: np.ndarray,
    mask: np.ndarray | None,
    fs: float,
    channels: Sequence[str] = MODEL_CHANNELS,
    *,
    thresholds: Sequence[float] = LEVEL_THRESHOLDS,
    recorded: Sequence[bool] | np.ndarray | None = None,
    ecg_rules: RRRules | None = None,
    clipped: np.ndarray | None = None,
    filled: np.ndarray | None = None,
) -> QualityScores:
    """Score windows ``x`` ``[N, C, T]`` (raw, physical units) of one record, ``mask`` ``[N, C]``
    (None: a channel is present where it is not flat, as for every array entry point);
    ``channels`` names the channels of ``x`` in order (a ``Windows``' ``channels``).

    The PPG score reads channel ``"ppg"``; the ECG score reads ``"ecg_ii"`` (or, when there is none,
    the lead that stands for it: the first of ``io.ecg_leads``). Only windows whose channel is
    present are scored, all in one vectorised call per modality. ``recorded`` (bool ``[C]``, a
    ``Windows``' ``recorded``) names the channels the record holds: where one of them is masked
    (flat or missing in that window: a sensor off, leads off) its modality scores 0 and counts
    in the combined score, as a bad signal rather than an absent one. Without it a masked
    channel is absent. ``ecg_rules``: the rrSQI rules (default ``RRRules()``, QualityFM's 40-120
    bpm; ``RRRules(hr_max=250)`` rates clean tachycardia good). ``clipped`` (``[N, C]``, a
    ``Windows``' ``clipped``): each window's clipped share of each channel, measured on the
    record's own samples (resampling hides a flat top); without it, measured on ``x``.
    ``filled`` (``[N, C]``, a ``Windows``' ``filled``): each window's share of each channel
    that was missing and filled, charged as a flat stretch (a gap filled by a line had cost
    nothing: a 6-s gap scored "excellent"); without it, none.
    """
    x = np.asarray(x)
    if x.ndim != 3:  # (its "mask" shape had been printed as () where none was given)
        raise ValueError(f"x must be windows [N, C, T], got shape {x.shape}"
                         + (" (one window? x[None])" if x.ndim == 2 else ""))
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):  # (an object array had
        raise ValueError(f"x must be real numbers, got dtype {x.dtype}")  # failed in isfinite)
    mask = present_mask(x) if mask is None else checked_mask(mask, x.shape[:2])
    channels = list(channels)
    if len(channels) != x.shape[1]:
        raise ValueError(f"{len(channels)} channel names {channels} for {x.shape[1]} channels of x")
    refuse_monitor_labels(channels, lambda k: k == "ppg" or is_ecg(k))
    if recorded is not None:
        recorded = np.asarray(recorded, dtype=bool)
        if recorded.shape != (len(channels),):
            raise ValueError(f"recorded must be [C] = [{len(channels)}] for channels "
                             f"{channels}, got shape {recorded.shape}")
    n = x.shape[0]
    shares = {}
    for name, share in (("clipped", clipped), ("filled", filled)):
        share = np.zeros(mask.shape) if share is None else np.asarray(share, dtype=np.float64)
        if share.shape != mask.shape:
            raise ValueError(f"{name} must be [N, C] = {list(mask.shape)}, got shape "
                             f"{share.shape}")
        shares[name] = share
    ecg_ch = next(iter(ecg_leads(channels)), None)
    if ecg_ch is None and "ppg" not in channels:  # every window would score 0, "bad"
        raise ValueError(f"none of the channels {channels} is a PPG ('ppg') or an ECG "
                         "('ecg_ii', 'ecg*'), the signals the quality scores read")
    read = np.isin(channels, [ecg_ch, "ppg"])  # the channels scored; abp beside them unread
    check_finite(x, mask & read, channels)  # NaN would score a window 0; make_windows fills gaps
    as_windows(x[:1, 0], fs)  # the rate and length every score needs: refused as the indices
    # refuse them (a window of one sample, flat, had been scored "bad" as if all were absent)
    out = {}
    rules = ecg_rules or RRRules()

    def ecg(w: np.ndarray, fs: float, clip: np.ndarray | None, filled: np.ndarray
            ) -> np.ndarray:
        return ecg_quality(w, fs, rules=rules, clip=clip, filled=filled)

    def ppg(w: np.ndarray, fs: float, clip: np.ndarray | None, filled: np.ndarray
            ) -> np.ndarray:
        return ppg_quality(w, fs, clip=clip, filled=filled)

    for name, ch, fn in (("ecg", ecg_ch, ecg), ("ppg", "ppg", ppg)):
        score = np.full(n, np.nan)
        present = np.zeros(n, dtype=bool)
        if ch in channels:
            c = channels.index(ch)
            present = mask[:, c]
            if present.any():
                score[present] = fn(x[present, c], fs,
                                    None if clipped is None else shares["clipped"][present, c],
                                    shares["filled"][present, c])
            if recorded is not None and recorded[c]:  # off in a window: bad, not absent
                score[~present] = 0.0
                present = np.ones(n, dtype=bool)
        out[name] = (score, present)
    q = combined_quality(out["ecg"][0], out["ppg"][0], out["ecg"][1], out["ppg"][1])
    return QualityScores(out["ecg"][0], out["ppg"][0], q, quality_level(q, thresholds))
