"""Missing samples (NaN, inf, or a fill value past :data:`FILL_MAGNITUDE`): linear
interpolation along time; missing (flat) channels and recorded ones that are off (a few ADC
levels)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from qualityfm._numbers import missing

#: The finite samples just outside a span of a longer recording, of one channel: ``(index,
#: value)`` of the last before it and of the first after it (indices from the span's first
#: sample; None: none there).
Edges = tuple[tuple[int, float] | None, tuple[int, float] | None]


def fill_nan(x: np.ndarray, edges: Edges | None = None) -> np.ndarray:
    """Copy of ``x`` [..., T] with missing samples (:func:`missing`: NaN, +-inf, which no
    sensor measures, and fill values) linearly interpolated along the last axis.

    Leading and trailing gaps take the nearest valid value; a row without one becomes zeros.
    ``edges``: where ``x`` is a span of a longer recording, the finite samples outside it,
    towards which its gaps at either end are interpolated, as in the whole recording.
    """
    x = np.asarray(x)
    if x.ndim == 0:  # (an IndexError of the shape had said nothing)
        raise ValueError(f"fill_nan needs samples along a last axis, got a scalar ({x!r})")
    x = np.array(x, dtype=x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64)
    nan = missing(x)
    if not nan.any():
        return x
    flat = x.reshape(-1, x.shape[-1])
    fnan = nan.reshape(-1, x.shape[-1])
    idx = np.arange(x.shape[-1])
    before, after = edges or (None, None)
    for row in np.flatnonzero(fnan.any(axis=1)):
        good = ~fnan[row]
        xp = np.concatenate([[before[0]] if before else [], idx[good], [after[0]] if after else []])
        if not len(xp):
            flat[row] = 0.0
            continue
        fp = np.concatenate([np.float32([before[1]]) if before else np.float32([]),
                             flat[row, good],
                             np.float32([after[1]]) if after else np.float32([])])
        flat[row, ~good] = np.interp(idx[~good], xp, fp)
    return flat.reshape(x.shape)


#: A channel whose peak-to-peak range is at most this is flat: no signal (leads off, a missing
#: modality filled with zeros), absent.
FLAT_PEAK_TO_PEAK = 1e-9


#: A recorded channel whose samples take at most this many distinct values over a window is
#: off, as a flat one is: an ADC toggling between neighbouring steps with the sensor off
#: carries no waveform, and min-max scaling would stretch it into a full-range signal. In
#: physionet2015 (30-s windows) 41 PPG windows of 8 records hold 2-4 values, 0.0005 NU apart.
#: 26 more hold 5-12 (PPG toggling over 0.003 NU, two ECG leads off, an arterial flush), but a
#: noise-free synthetic ECG of QRS templates on a flat line holds 5-6 values too: 4 it stays.
OFF_LEVELS = 4


def few_levels(x: np.ndarray) -> bool:
    """Whether the samples of the 1-D recording ``x`` not :func:`missing` take at most
    :data:`OFF_LEVELS` distinct values (a flat stretch included; False without one)."""
    x = np.asarray(x)
    if x.ndim == 1 and len(x) > 4 * _PROBE:  # a recording's levels seen in a spread of its
        probe = x[:: len(x) // _PROBE]  # samples first: more than OFF_LEVELS there are more
        probe = np.sort(probe[~missing(probe)])  # in all (the sort of all had cost 10x)
        if np.count_nonzero(probe[1:] != probe[:-1]) >= OFF_LEVELS:
            return False
    v = np.sort(x[~missing(x)])  # a fill value is no level (it had been a fifth)
    return bool(len(v) > 0 and np.count_nonzero(v[1:] != v[:-1]) < OFF_LEVELS)


#: Samples :func:`few_levels` looks at before sorting all of them.
_PROBE = 64


def present_mask(x: Any) -> Any:
    """bool [N, C]: True where channel ``c`` of window ``n`` of ``x`` [N, C, T] is not flat
    (:data:`FLAT_PEAK_TO_PEAK`), the mask of windows given without one. A channel holding NaN
    or inf counts as present, so that the checks name it. A torch tensor gives a tensor on
    its device (reduced there)."""
    if hasattr(x, "detach"):
        x = x.detach()
        return ~((x.amax(-1).double() - x.amin(-1).double()) <= FLAT_PEAK_TO_PEAK)
    x = np.asarray(x)
    with np.errstate(invalid="ignore", over="ignore"):  # (wide, so int16 does not wrap)
        span = x.max(axis=-1).astype(np.float64) - x.min(axis=-1)
    return ~(span <= FLAT_PEAK_TO_PEAK)


def checked_mask(mask: Any, shape: Sequence[int]) -> np.ndarray:
    """A caller's channel mask as bool of ``shape`` (``[rows, channels]``), refused (named)
    when of another shape or holding values other than 0/1 (a 2 had read as present)."""
    mask = np.asarray(mask)
    if mask.shape != tuple(shape):
        raise ValueError(f"mask must be [rows, channels] = {list(shape)}, got shape "
                         f"{list(mask.shape)}")
    if mask.dtype != bool and (np.iscomplexobj(mask) or not np.isin(mask, (0, 1)).all()):
        raise ValueError("mask must be bool (or 0/1) [rows, channels]: True = present, got "
                         f"values {np.unique(mask)[:5].tolist()}")
    return mask.astype(bool)


def refuse_empty_rows(mask: Any, given: bool, then: str = "leave them out") -> None:
    """ValueError naming the rows of ``mask`` [N, C] (array or tensor) with no channel
    present, where a model would answer from its absent-channel embeddings alone; ``given``:
    the mask was the caller's (else found by flatness); ``then`` ends the message."""
    mask = np.asarray(mask.cpu() if hasattr(mask, "cpu") else mask, dtype=bool)
    empty = np.flatnonzero(~mask.any(axis=1))
    if len(empty):
        how = "mask all False" if given else "every channel flat, no mask given"
        raise ValueError(f"{len(empty)} window(s) have no channel present ({how}; rows "
                         f"{rows_text(empty)}): {then}")


def rows_text(idx: np.ndarray) -> str:
    """Row numbers for an error message: the first five, then how many more."""
    return listed(np.asarray(idx).tolist())


def listed(items: Sequence[object], first: int = 5) -> str:
    """``items`` for a message: the first ``first``, then how many more."""
    more = f" and {len(items) - first} more" if len(items) > first else ""
    return ", ".join(str(i) for i in items[:first]) + more


def check_finite(x: Any, mask: Any = None, names: Sequence[str] | None = None) -> None:
    """ValueError when a present channel of model input ``x`` [N, C, T] (array or tensor, on
    any device) holds NaN or inf, naming the channels (``names``) and rows: a model would
    return NaN for them, which a threshold then reads as a decision."""
    if hasattr(x, "detach"):  # a torch tensor: reduce where it lives, fetch N x C booleans
        import torch

        bad = ~torch.isfinite(x.detach()).all(-1)
        if mask is not None:
            bad &= torch.as_tensor(np.asarray(mask, bool) if not hasattr(mask, "to") else mask,
                                   device=bad.device).bool()
        bad = bad.cpu().numpy()
    else:
        # (finite values of any size pass: model inputs are the caller's, scaled as it chose;
        # a record's fill values became NaN where its windows were made)
        bad = ~np.isfinite(np.asarray(x)).all(-1)
        if mask is not None:
            bad &= np.asarray(mask, bool)
    if bad.any():
        if names is None or len(names) != bad.shape[1]:
            names = [str(k) for k in range(bad.shape[1])]
        where = "; ".join(f"channel {name}: rows {rows_text(np.flatnonzero(bad[:, k]))}"
                          for k, name in enumerate(names) if bad[:, k].any())
        raise ValueError(f"X holds NaN or inf in present channels ({where}); fill short gaps "
                         "(qualityfm.signal.fill_nan) or mark the channel absent in mask")
