"""Pacemaker stimuli in an ECG: found and taken out at the record's own rate, where they can
be told from a QRS.

A pacing stimulus lasts 0.1-2 ms: sampled at 250 Hz or more it is a run of one or two
samples (up to three at 500 Hz, four at 1000 Hz) standing far out from both its neighbours,
which lie level with the samples beside them and with each other. The R-peak detector's
5-20 Hz band-pass had taken each one for a QRS: a paced asystole (stimuli over a few uV of
noise, no QRS) scored ECG quality 1.0, every stimulus a beat. Once a record is resampled to
the model's 300 Hz a stimulus spans several samples and rings, so it is taken out before that
(:func:`~qualityfm.signal.windows.make_windows`, the task windows), and by the R-peak
detector itself on arrays at such rates (:func:`~qualityfm.quality.peaks.qrs_envelope`).

Under :data:`MIN_PACING_FS` (the 62.5-128 Hz of many monitors' exports) a stimulus and the
apex of a narrow R wave are both about one sample wide, and a despiking there had flattened
real R peaks: nothing is done at those rates (a paced asystole sampled at 125 Hz still reads
as beats).

A stimulus the acquisition chain has low-passed before sampling (a main lobe of 2-3 samples
at 250 Hz with ringing either side, as in Challenge 2015's paced records) is no such narrow
spike and is left in: it cannot be told from a notched QRS by width alone.
"""

from __future__ import annotations

import numpy as np

#: Lowest sampling rate (Hz) at which stimuli are taken out: one sample is ~4 ms there, the
#: apex of an R wave several samples wide.
MIN_PACING_FS = 240.0
#: Longest stimulus taken out, in seconds (rounded to whole samples, plus one: see
#: :func:`max_spike_samples`).
MAX_SPIKE_SECONDS = 0.003
#: A stimulus stands out from both neighbours by this many times the local noise (1.4826 x the
#: median absolute step between samples over :data:`NOISE_SECONDS`, at least one ADC step)...
NOISE_FACTOR = 10.0
#: ... and by this many times every step beyond its neighbours (within
#: :data:`FLANK_SECONDS`; the flanks of an R apex fall steeply, a stimulus's lie level).
FLANK_FACTOR = 3.0
#: Span (s) beyond each neighbour whose steps must all be small beside the stimulus.
FLANK_SECONDS = 0.008
#: No other stimulus-like run within this many seconds (a ringing or a noise burst has many;
#: stimuli come 60 ms apart at the closest, atrial then ventricular).
ISOLATION_SECONDS = 0.05
#: Span (s) over which the local noise is measured.
NOISE_SECONDS = 10.0


def max_spike_samples(fs: float) -> int:
    """The widest run of samples taken for a stimulus at ``fs`` Hz: one more than
    :data:`MAX_SPIKE_SECONDS` rounded to samples (a stimulus straddling two samples, or
    biphasic): 2 at 240-499 Hz, 3 at 500-833 Hz, 4 at 1000 Hz."""
    return 1 + int(MAX_SPIKE_SECONDS * float(fs) + 0.5)


def _noise(x: np.ndarray, fs: float) -> np.ndarray:
    """Per sample of ``x`` ``[..., T]``: the local noise level, measured over blocks of
    :data:`NOISE_SECONDS` (the last block joined to the one before when short)."""
    t = x.shape[-1]
    step = np.abs(np.diff(x, axis=-1))
    block = max(2, int(round(NOISE_SECONDS * fs)))
    nb = max(1, (t - 1) // block)
    out = np.empty(x.shape, dtype=np.float64)
    for k in range(nb):
        lo, hi = k * block, (t - 1 if k == nb - 1 else (k + 1) * block)
        s = step[..., lo:hi]
        med = 1.4826 * np.median(s, axis=-1)
        lsb = np.where(s > 0, s, np.inf).min(axis=-1)  # one ADC step (inf: all level)
        level = np.maximum(med, np.where(np.isfinite(lsb), lsb, 0.0))
        out[..., lo: (t if k == nb - 1 else hi)] = level[..., None]
    return out


def _flank_steps(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per sample ``i`` of ``x`` ``[..., T]``: the largest step among the ``k`` steps
    ending at ``i`` (``x[i - k .. i]``) and among the ``k`` starting at it (inf where they
    pass an end: a run there is not judged, its flanks unseen; the first samples of a window
    had been taken for a stimulus)."""
    step = np.abs(np.diff(x, axis=-1))
    pad = np.full((*x.shape[:-1], k), np.inf, dtype=step.dtype)
    padded = np.concatenate([pad, step, pad], axis=-1)  # padded[j] = step j - k
    t = x.shape[-1]
    before = np.max([padded[..., j: j + t] for j in range(k)], axis=0)  # steps i-k .. i-1
    after = np.max([padded[..., k + j: k + j + t] for j in range(k)], axis=0)  # i .. i+k-1
    return before, after


def pacing_spikes(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """``x`` ``[..., T]`` (finite samples, time last) with its pacemaker stimuli replaced by
    the line between the samples either side, and a bool mask of the samples replaced.

    A run of 1 to :func:`max_spike_samples` samples is a stimulus where every sample of it
    lies off the line between its two neighbours (up or down: a biphasic stimulus too) by
    ``h`` or more, with ``h`` over :data:`NOISE_FACTOR` times the local noise, over
    :data:`FLANK_FACTOR` times every step among the samples within :data:`FLANK_SECONDS`
    beyond each neighbour (two steps at least), and over the step between the two
    neighbours (a run that ends elsewhere than it began is no stimulus); and where no other
    such run lies within :data:`ISOLATION_SECONDS` of it (a filter's ringing after a step,
    or a burst of noise, makes several). Under :data:`MIN_PACING_FS` ``x`` is returned as it
    is and nothing is marked.
    """
    x = np.asarray(x)
    found = np.zeros(x.shape, dtype=bool)
    t = x.shape[-1]
    if not float(fs) >= MIN_PACING_FS or t < 8:
        return x, found
    xd = x.astype(np.float64, copy=False)
    noise = NOISE_FACTOR * _noise(xd, fs)
    k = max(2, int(round(FLANK_SECONDS * fs)))
    before, after = _flank_steps(xd, k)
    for w in range(1, max_spike_samples(fs) + 1):
        n = t - w - 1  # runs starting at samples 1 .. t - w - 1 (a neighbour either side)
        if n <= 0:
            break
        run = np.stack([xd[..., 1 + j: 1 + j + n] for j in range(w)])
        a, b = xd[..., :n], xd[..., 1 + w: 1 + w + n]
        frac = (np.arange(1, w + 1) / (w + 1)).reshape((w,) + (1,) * a.ndim)
        h = np.abs(run - (a + frac * (b - a))).min(axis=0)  # off the line between neighbours
        flank = np.maximum(before[..., :n], after[..., 1 + w: 1 + w + n])
        hit = (h > noise[..., 1: 1 + n]) & (h > FLANK_FACTOR * flank) & (np.abs(b - a) < h)
        for j in range(w):
            found[..., 1 + j: 1 + j + n] |= hit
    if not found.any():
        return x, found
    y = np.array(x, dtype=x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64)
    gap = max(1, int(round(ISOLATION_SECONDS * fs)))
    rows_y, rows_f = y.reshape(-1, t), found.reshape(-1, t)
    for r in np.flatnonzero(rows_f.any(axis=1)):
        at = np.flatnonzero(rows_f[r])
        cut = np.flatnonzero(np.diff(at) > 1) + 1
        starts, ends = at[np.r_[0, cut]], at[np.r_[cut - 1, len(at) - 1]]  # runs [s, e]
        near = np.zeros(len(starts), dtype=bool)
        near[1:] |= starts[1:] - ends[:-1] <= gap
        near[:-1] |= starts[1:] - ends[:-1] <= gap
        rows_f[r] = False
        for s, e in zip(starts[~near], ends[~near], strict=True):
            left, right = float(rows_y[r, s - 1]), float(rows_y[r, e + 1])
            rows_y[r, s: e + 1] = left + (right - left) * np.arange(1, e - s + 2) / (e - s + 2)
            rows_f[r, s: e + 1] = True
    return (y, found) if found.any() else (x, found)


def remove_pacing_spikes(x: np.ndarray, fs: float) -> np.ndarray:
    """``x`` ``[..., T]`` less its pacemaker stimuli (:func:`pacing_spikes`); ``x`` itself
    under :data:`MIN_PACING_FS` or where none is found."""
    y, found = pacing_spikes(x, fs)
    return y if found.any() else np.asarray(x)
