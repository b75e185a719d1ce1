"""Min-max normalisation of windows into [-1, 1], mask-aware."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from qualityfm._caller import warn_at_caller
from qualityfm.signal.nan import checked_mask

NORMALIZATIONS = ("channel", "joint", "none")

#: Largest magnitude a model input may hold in a present channel without a warning: the
#: windows the model reads are scaled into [-1, 1] per channel (:func:`normalize`).
UNSCALED_LIMIT = 1.5


def normalize(x: np.ndarray, mask: np.ndarray | None = None, mode: str = "channel") -> np.ndarray:
    """Scale windows ``x`` [..., C, T] into [-1, 1]; returns a new float32 array.

    ``"channel"``: each channel of each window min-max to [-1, 1] (the default).
    ``"joint"``: one min-max over the present channels of a window together (the original's).
    ``"none"``: values unchanged. In every mode, channels masked out (``mask`` [..., C] False)
    and constant channels are 0, whatever they hold (NaN included); a present channel must be
    finite.
    """
    if mode not in NORMALIZATIONS:
        raise ValueError(f"normalization mode must be one of {NORMALIZATIONS}, got {mode!r}")
    given = np.asarray(x)
    with np.errstate(over="ignore"):
        x = given.astype(np.float32, copy=False)
    if x.ndim < 2 or x.shape[-1] == 0:  # (no sample had been NumPy's empty min)
        raise ValueError(f"x must have shape [..., C, T] with T >= 1, got {x.shape}")
    mask = np.ones(x.shape[:-1], bool) if mask is None else checked_mask(mask, x.shape[:-1])
    finite = np.isfinite(x).all(axis=-1)  # (a spike near float32's maximum is scaled)
    if not finite[mask].all():
        if np.isfinite(given[mask]).all():  # finite, past float32's range (it had been
            raise ValueError("x holds values past float32's range (3.4e38) in a present "
                             "channel; scale it first")  # called NaN or inf)
        raise ValueError("x holds NaN or inf in a present channel; fill missing samples "
                         "(qualityfm.signal.fill_nan) before normalising")
    if not finite.all():  # only in masked channels, which become 0
        x = np.where(mask[..., None], x, np.float32(0))
    lo = x.min(axis=-1)
    hi = x.max(axis=-1)
    keep = mask & (hi > lo)  # [..., C]
    if mode == "none":
        return np.where(keep[..., None], x, np.float32(0))
    if mode == "joint":
        lo = np.where(keep, lo, np.inf).min(axis=-1, keepdims=True)
        hi = np.where(keep, hi, -np.inf).max(axis=-1, keepdims=True)
    lo, hi = np.broadcast_to(lo, keep.shape), np.broadcast_to(hi, keep.shape)
    with np.errstate(over="ignore"):
        span = np.where(keep, hi - lo, 1.0)
        # a range whose double passes float32's (values past 1.7e38): in float64 below
        wide = ~np.isfinite(2 * span)
    span = np.where(wide, 1.0, span)
    lo0 = np.where(keep, lo, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        y = (2.0 * (x - lo0[..., None]) / span[..., None] - 1.0).astype(np.float32)
    if wide.any():
        lw, hw = lo[wide].astype(np.float64)[:, None], hi[wide].astype(np.float64)[:, None]
        y[wide] = 2.0 * (x[wide].astype(np.float64) - lw) / (hw - lw) - 1.0
    y[~keep] = 0.0
    return np.clip(y, -1.0, 1.0, out=y)


#: Median distance of a present channel's window minimum from -1 and maximum from +1 above
#: which per-channel windows are warned about as scaled otherwise (offset, [0, 1], raw mV):
#: :func:`normalize`'s windows reach both ends exactly.
UNSPANNED_LIMIT = 0.05


def warn_unscaled(x: Any, mask: Any = None, names: Sequence[str] | None = None,
                  normalization: str = "channel") -> None:
    """Warn when a present channel of model input ``x`` [N, C, T] (array or tensor, on any
    device) holds values far outside [-1, 1] (raw mV, ADC counts or z-scores instead of
    :func:`normalize`'s windows) or, for a model of per-channel windows, does not span
    [-1, 1] as they do (its windows' minimum and maximum, medians over the rows, further than
    :data:`UNSPANNED_LIMIT` from -1 and 1: windows scaled into [0, 1], shifted, or raw mV
    within the range had shifted the probabilities unsaid). ``names`` label the channels;
    the message names channels only, so a loop over batches warns once per call site.
    ``normalization``: the model's (``"none"``: it reads raw windows, nothing to say)."""
    if normalization == "none" or x.shape[0] == 0 or x.shape[-1] == 0:
        return
    if hasattr(x, "detach"):  # a torch tensor: reduce where it lives, fetch 2 N C numbers
        x = x.detach()
        x = x if x.is_floating_point() else x.double()  # int16 would wrap in -x
        lo = x.amin(-1).double().cpu().numpy()
        hi = x.amax(-1).double().cpu().numpy()
    else:
        x = np.asarray(x)
        lo, hi = x.min(-1).astype(np.float64), x.max(-1).astype(np.float64)  # no copy of x
    present = (np.ones(lo.shape, bool) if mask is None
               else np.asarray(mask.cpu() if hasattr(mask, "cpu") else mask, bool))
    if names is None or len(names) != lo.shape[1]:
        names = [str(k) for k in range(lo.shape[1])]
    peak = np.nan_to_num(np.where(present, np.maximum(hi, -lo), 0.0), nan=0.0).max(axis=0)
    bad = peak > UNSCALED_LIMIT
    if bad.any():
        where = ", ".join(name for name, b in zip(names, bad, strict=True) if b)
        warn_at_caller(f"X holds values far outside [-1, 1] in channel(s) {where}: the model "
                       "reads windows min-max scaled into [-1, 1] per channel; pass "
                       "Windows.normalized() or qualityfm.signal.normalize(X, mask)")
        return
    if normalization != "channel":  # joint: one channel of a window reaches the ends
        return
    spread = np.where(present & (hi > lo), np.maximum(np.abs(lo + 1), np.abs(hi - 1)), np.nan)
    off = [names[k] for k in range(lo.shape[1]) if np.isfinite(spread[:, k]).any()
           and np.nanmedian(spread[:, k]) > UNSPANNED_LIMIT]
    if off:  # channels only in the message: a loop over batches warns once
        warn_at_caller(f"X's windows do not span [-1, 1] in channel(s) {', '.join(off)}: the model "
                       "reads each channel of each window min-max scaled to exactly -1 and 1 "
                       "(windows scaled into [0, 1], shifted, or raw values give other "
                       "outputs); pass Windows.normalized() or "
                       "qualityfm.signal.normalize(X, mask)")
