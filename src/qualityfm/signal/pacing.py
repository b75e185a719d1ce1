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
#: Stimulus-like runs chained this close (s) are one cluster...
ISOLATION_SECONDS = 0.05
#: ... taken for stimuli when it holds this many runs at most (a biventricular pacer fires
#: its two leads 0-40 ms apart; a ringing or a noise burst makes more runs).
MAX_STIMULI_CLUSTERED = 2
#: Span (s) over which the local noise is measured.
NOISE_SECONDS = 10.0


def max_spike_samples(fs: float) -> int:
    """The widest run of samples taken for a stimulus at ``fs`` Hz: one more than
    :data:`MAX_SPIKE_SECONDS` rounded to samples (a stimulus straddling two samples, or
    biphasic): 2 at 240-499 Hz, 3 at 500-833 Hz, 4 at 1000 Hz."""
    return 1 + int(MAX_SPIKE_SECONDS * float(fs) + 0.5)


#: Samples a pass handles at once (the noise and the candidates are found chunk by chunk, over
#: rows and time: a day-long record at 1000 Hz needs no float64 copy of itself).
_CHUNK = 1 << 21


def flank_samples(fs: float) -> int:
    """The steps beyond each neighbour of a run that its flank holds at ``fs`` Hz
    (:data:`FLANK_SECONDS`, two at least)."""
    return max(2, int(round(FLANK_SECONDS * float(fs))))


def unjudged_samples(fs: float) -> int:
    """How many samples at each end of a row no stimulus is judged in (its flank would pass
    the end): a caller judging a span by its samples without the stimuli leaves these out
    too, a stimulus there being left in."""
    return flank_samples(fs) + 2


def _levels(steps: np.ndarray) -> np.ndarray:
    """Noise level over the last axis of ``steps`` (absolute steps between samples): 1.4826 x
    their median, at least the smallest nonzero step (one ADC step; 0 where all are level)."""
    n = steps.shape[-1]  # the median by one partition: np.median's pair of kth had cost 10x
    part = np.partition(steps, n // 2, axis=-1)
    med = part[..., n // 2] if n % 2 else (part[..., : n // 2].max(axis=-1) + part[..., n // 2]) / 2
    med = 1.4826 * med.astype(np.float64)
    lsb = np.where(steps > 0, steps, np.inf).min(axis=-1)
    return np.maximum(med, np.where(np.isfinite(lsb), lsb, 0.0))


def _block_noise(x: np.ndarray, fs: float) -> tuple[np.ndarray, int]:
    """The noise level ``[R, B]`` of each block of :data:`NOISE_SECONDS` of each row of ``x``
    ``[R, T]`` (the last block joined to the one before when short), and the block's length
    in samples: sample ``i`` lies in block ``min(i // block, B - 1)``."""
    rows, t = x.shape
    block = max(2, int(round(NOISE_SECONDS * fs)))
    nb = max(1, (t - 1) // block)
    levels = np.empty((rows, nb))
    group = max(1, _CHUNK // (block * rows))
    for g in range(0, nb, group):
        last = min(g + group, nb)
        lo, hi = g * block, (t - 1 if last == nb else last * block)
        steps = np.abs(np.diff(x[:, lo: hi + 1], axis=1))  # steps lo .. hi - 1
        full = last - g - (last == nb)
        levels[:, g: g + full] = _levels(steps[:, : full * block].reshape(rows, full, block))
        if last == nb:
            levels[:, nb - 1] = _levels(steps[:, full * block:])
    return levels, block


def _at(bound: np.ndarray, block: int, row: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The noise bound ``[R, B]`` (per block of ``block`` samples, the last block joined to
    the one before) about each sample ``at`` of its ``row``."""
    return bound[row, np.minimum(at // block, bound.shape[1] - 1)]


def _spread(bound: np.ndarray, block: int, lo: int, hi: int) -> np.ndarray:
    """The noise bound ``[R, B]`` (per block of ``block`` samples, the last block joined to
    the one before) about each sample ``lo .. hi - 1``, ``[R, hi - lo]``."""
    last = bound.shape[1] - 1
    b0, b1 = min(lo // block, last), min((hi - 1) // block, last)
    starts = np.arange(b0, b1 + 1) * block
    starts[0] = lo
    return np.repeat(bound[:, b0: b1 + 1], np.diff(np.append(starts, hi)), axis=1)


def _largest_steps(x: np.ndarray, row: np.ndarray, first: np.ndarray, k: int) -> np.ndarray:
    """For each ``row``, ``first``: the largest of the ``k`` steps ``first .. first + k - 1``
    of that row of ``x`` ``[R, T]`` (step ``j`` is ``|x[j + 1] - x[j]|``); inf where they pass
    an end (unseen flanks)."""
    t = x.shape[1]
    ok = (first >= 0) & (first + k <= t - 1)
    flat = x.reshape(-1)  # one gather of flat indices (x is C-ordered: _stimulus_runs)
    at = row * t + np.minimum(np.maximum(first, 0), max(0, t - 1 - k))
    big = np.zeros(len(row))
    for j in range(k):  # the steps one column at a time: no [n, k] index table
        np.maximum(big, np.abs(flat[at + (j + 1)].astype(np.float64) - flat[at + j]), out=big)
    return np.where(ok, big, np.inf)


def _stimulus_runs(x: np.ndarray, fs: float) -> np.ndarray:
    """Bool mask ``[R, T]`` of the samples of ``x`` ``[R, T]`` that are runs passing every rule
    of :func:`pacing_spikes` but isolation. A run ``h`` off the line between its neighbours
    (who differ by under ``h``) starts with a step over ``h / 2``: over 1.5 times every step
    before it within the flank (``h`` is over 3 times those) and over half the noise bound, so
    the rules are judged at the samples that step so alone (the screen in ``x``'s float type,
    its bounds 10 % and 3 % below theirs for its rounding)."""
    x = np.ascontiguousarray(x)  # the helpers gather by flat index
    rows, t = x.shape
    found = np.zeros(x.shape, dtype=bool)
    levels, block = _block_noise(x, fs)
    bound = NOISE_FACTOR * levels
    k = flank_samples(fs)
    span = max(block, _CHUNK // rows)
    screen = 0.45 * bound  # the noise screen per block, spread over its samples chunk by chunk
    cand_r, cand_s = [], []
    for lo in range(k + 1, t - 1, span):  # run starts lie in k + 1 .. t - 2 (flanks seen)
        hi = min(lo + span, t - 1)
        steps = np.abs(np.diff(x[:, lo - 1 - k: hi], axis=1))  # steps lo - 1 - k .. hi - 2
        step_in = steps[:, k:]  # into samples lo .. hi - 1
        flank = steps[:, :-k].copy()  # the largest of the k steps before each one's first
        for j in range(1, k):
            np.maximum(flank, steps[:, j: j + flank.shape[1]], out=flank)
        noise = _spread(screen, block, lo, hi)
        r, c = np.nonzero((step_in > 1.45 * flank) & (step_in > noise))
        cand_r.append(r)
        cand_s.append(lo + c)
    row = np.concatenate(cand_r) if cand_r else np.zeros(0, dtype=np.int64)
    start = np.concatenate(cand_s) if cand_s else np.zeros(0, dtype=np.int64)
    before = _largest_steps(x, row, start - 1 - k, k)
    firsts = []  # runs standing out but for a step after them: the first of a pair?
    for w in range(1, max_spike_samples(fs) + 1):
        keep = start <= t - w - 1
        r, s = row[keep], start[keep]
        if not len(s):
            break
        h, level = _run_height(x, r, s, w), _level_ends(x, r, s, w)
        noise = _at(bound, block, r, s)
        alone = (h > noise) & (level < h) & (h > FLANK_FACTOR * before[keep])
        hit = alone.copy()  # the flank after judged only where the rest holds
        hit[alone] = h[alone] > FLANK_FACTOR * _largest_steps(x, r[alone], s[alone] + w, k)
        found[r[hit][:, None], s[hit][:, None] + np.arange(w)] = True
        pending = alone & ~hit
        firsts.append((r[pending], s[pending], np.full(int(pending.sum()), w), h[pending],
                       before[keep][pending]))
    _pairs(x, fs, found, bound, block, k, firsts)
    return found


def _run_height(x: np.ndarray, r: np.ndarray, s: np.ndarray, w: int) -> np.ndarray:
    """How far the runs ``x[r, s : s + w]`` stand off the line between their neighbours: the
    nearer of their two ends (a biphasic stimulus's middle may cross the line)."""
    flat, at = x.reshape(-1), r * x.shape[1] + s  # x C-ordered (_stimulus_runs)
    a, b = flat[at - 1].astype(np.float64), flat[at + w].astype(np.float64)
    frac = np.arange(1, w + 1) / (w + 1)
    first = np.abs(flat[at].astype(np.float64) - (a + frac[0] * (b - a)))
    last = np.abs(flat[at + (w - 1)].astype(np.float64) - (a + frac[-1] * (b - a)))
    return np.minimum(first, last)


def _level_ends(x: np.ndarray, r: np.ndarray, s: np.ndarray, w: int) -> np.ndarray:
    """The step between the two neighbours of the runs ``x[r, s : s + w]``."""
    flat, at = x.reshape(-1), r * x.shape[1] + s
    return np.abs(flat[at + w].astype(np.float64) - flat[at - 1])


def _pairs(x: np.ndarray, fs: float, found: np.ndarray, bound: np.ndarray, block: int, k: int,
           firsts: list[tuple[np.ndarray, ...]]) -> None:
    """Mark in ``found`` the pairs of stimuli closer than a flank: a run (``firsts``: row,
    start, width, height, the largest step before it) that stands out but for the steps of a
    second run whose first step lies in its flank (a biventricular pacer's two stimuli, 4-12
    ms apart, had been left as beats), the two judged as one: each stands off the line
    between its neighbours by over the noise bound and their step, the first's left
    neighbour and the second's right one lie level (the step between them under the smaller
    height: a ringing after a step ends elsewhere), and the smaller height is over
    :data:`FLANK_FACTOR` times every step within the flank before the first, between the
    two, and within the flank after the second. Two stimuli touching (the second starting on
    the first's right neighbour) are not found, nor a small one within the flank of one over
    :data:`FLANK_FACTOR` times as tall, which stands out alone."""
    if not firsts:
        return
    r, s_a, w_a, h_a, before = (np.concatenate(part) for part in zip(*firsts, strict=True))
    t = x.shape[1]
    left = x[r, s_a - 1].astype(np.float64)
    for gap in range(k):  # steps between the first's right neighbour and the second's left
        between = _largest_steps(x, r, s_a + w_a, gap) if gap else np.zeros(len(r))
        s_b = s_a + w_a + 1 + gap
        for w in range(1, max_spike_samples(fs) + 1):
            ok = np.flatnonzero(s_b + w + k <= t - 1)  # its neighbour and flank within x
            if not len(ok):
                continue
            rr, ss = r[ok], s_b[ok]
            h_b, level = _run_height(x, rr, ss, w), _level_ends(x, rr, ss, w)
            h = np.minimum(h_a[ok], h_b)
            outer = np.abs(x[rr, ss + w].astype(np.float64) - left[ok])
            flank = np.maximum(np.maximum(before[ok], between[ok]),
                               _largest_steps(x, rr, ss + w, k))
            pair = ok[(h_b > _at(bound, block, rr, ss)) & (level < h_b)
                      & (outer < h) & (h > FLANK_FACTOR * flank)]
            for first, width in ((s_a[pair], w_a[pair]), (s_b[pair], np.full(len(pair), w))):
                at = first[:, None] + np.arange(width.max(initial=0))
                inside = at < (first + width)[:, None]
                found[np.broadcast_to(r[pair][:, None], at.shape)[inside], at[inside]] = True


def pacing_spikes(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """``x`` ``[..., T]`` (finite samples, time last) with its pacemaker stimuli replaced by
    the line between the samples either side, and a bool mask of the samples replaced.

    A run of 1 to :func:`max_spike_samples` samples is a stimulus where its first and last
    samples lie off the line between its two neighbours (up or down: a biphasic stimulus
    too, whatever the samples between, one of which may lie on its zero crossing) by ``h``
    or more, with ``h`` over :data:`NOISE_FACTOR` times the local noise, over
    :data:`FLANK_FACTOR` times every step among the samples within :data:`FLANK_SECONDS`
    beyond each neighbour (two steps at least), and over the step between the two
    neighbours (a run that ends elsewhere than it began is no stimulus); two runs closer
    than a flank (a biventricular pacer's pair, 4-12 ms apart) are judged as one, the steps
    between them level (:func:`_pairs`); and where at most one other such run lies within
    :data:`ISOLATION_SECONDS` of it, chained (a filter's ringing after a step, or a burst of
    noise, makes more; so does a multipoint pacer's three stimuli, left in). Under
    :data:`MIN_PACING_FS` ``x`` is returned as it is and nothing is marked.
    """
    x = np.asarray(x)
    found = np.zeros(x.shape, dtype=bool)
    t = x.shape[-1]
    if not float(fs) >= MIN_PACING_FS or t < 8:
        return x, found
    rows_x, rows_f = x.reshape(-1, t), found.reshape(-1, t)
    if rows_x.dtype not in (np.float32, np.float64):  # steps of integers would wrap
        rows_x = rows_x.astype(np.float64)
    step = max(1, _CHUNK // t)
    for r in range(0, len(rows_x), step):
        rows_f[r: r + step] = _stimulus_runs(rows_x[r: r + step], fs)
    if not found.any():
        return x, found
    # C order: a view of rows of any other layout (a Fortran-ordered or transposed [a, b, T])
    # had been a copy, the stimuli taken out of it and x returned as it was
    y = np.array(x, dtype=x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64,
                 order="C")
    gap = max(1, int(round(ISOLATION_SECONDS * fs)))
    rows_y = y.reshape(-1, t)
    for r in np.flatnonzero(rows_f.any(axis=1)):
        at = np.flatnonzero(rows_f[r])
        cut = np.flatnonzero(np.diff(at) > 1) + 1
        starts, ends = at[np.r_[0, cut]], at[np.r_[cut - 1, len(at) - 1]]  # runs [s, e]
        # runs chained within the gap are one cluster: a pair is two stimuli (a
        # biventricular pacer's, 0-40 ms apart, had been left as beats), three or more a
        # ringing or a burst
        cluster = np.cumsum(np.r_[True, starts[1:] - ends[:-1] > gap]) - 1
        alone = np.bincount(cluster)[cluster] <= MAX_STIMULI_CLUSTERED
        rows_f[r] = False
        for s, e in zip(starts[alone], ends[alone], strict=True):
            left, right = float(rows_y[r, s - 1]), float(rows_y[r, e + 1])
            rows_y[r, s: e + 1] = left + (right - left) * np.arange(1, e - s + 2) / (e - s + 2)
            rows_f[r, s: e + 1] = True
    return (y, found) if found.any() else (x, found)


def remove_pacing_spikes(x: np.ndarray, fs: float) -> np.ndarray:
    """``x`` ``[..., T]`` less its pacemaker stimuli (:func:`pacing_spikes`); ``x`` itself
    under :data:`MIN_PACING_FS` or where none is found."""
    return pacing_spikes(x, fs)[0]
