"""Signal artifacts of controllable strength, each a small function usable on any array.

Every artifact takes ``x`` [..., T] (time last), the sampling rate, a NumPy ``Generator`` and a
``strength`` in [0, 1] (a scalar, or an array broadcastable to ``x.shape[:-1]`` for one
strength per window/channel), and returns a new array. Strength 0 leaves the signal unchanged.
Amplitudes are relative to the signal's own scale (4 standard deviations, about its
peak-to-peak span; the additive kinds take ``scale=`` to fix it), so one setting works for mV,
mmHg and unitless PPG alike; an all-zero (absent) channel stays zero under additive artifacts.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np

#: A generator, or a seed for it (``np.random.default_rng`` returns a Generator as it is).
Rng = np.random.Generator | int | None


def _prepare(x: np.ndarray, strength: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float copy of ``x`` and the strength as an array of shape ``x.shape[:-1] + (1,)``."""
    x = np.asarray(x)
    if x.ndim < 1 or x.shape[-1] == 0:
        raise ValueError(f"x must have a time axis last with samples, got shape {x.shape}")
    x = np.array(x, dtype=x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64)
    s = np.asarray(strength, dtype=np.float64)
    if np.any(~np.isfinite(s)) or np.any(s < 0) or np.any(s > 1):
        raise ValueError(f"artifact strength must lie in [0, 1], got {strength}")
    try:
        s = np.broadcast_to(s, x.shape[:-1])
    except ValueError:
        raise ValueError(
            f"strength of shape {s.shape} does not broadcast to x.shape[:-1] = {x.shape[:-1]}"
        ) from None
    return x, s[..., None]


def signal_scale(x: np.ndarray) -> np.ndarray:
    """The amplitude artifacts are scaled by: 4 standard deviations, ``x.shape[:-1] + (1,)``."""
    return 4.0 * np.nanstd(x, axis=-1, keepdims=True)


def _scale(x: np.ndarray, scale: np.ndarray | None) -> np.ndarray:
    return signal_scale(x) if scale is None else np.asarray(scale)


def _time(x: np.ndarray, fs: float) -> np.ndarray:
    if not (np.isfinite(fs) and fs > 0):
        raise ValueError(f"sampling rate must be positive, got {fs}")
    return np.arange(x.shape[-1]) / fs


def _segment(x: np.ndarray, rng: np.random.Generator, length: np.ndarray) -> np.ndarray:
    """Boolean mask [..., T] of one random segment of ``length`` samples per row."""
    T = x.shape[-1]
    length = np.clip(np.round(length).astype(np.int64), 0, T)[..., None]
    start = (rng.random(length.shape) * (T - length + 1)).astype(np.int64)
    t = np.arange(T)
    return (t >= start) & (t < start + length)


def baseline_wander(x: np.ndarray, fs: float, rng: Rng = None,
                    strength: float | np.ndarray = 1.0, *,
                    scale: np.ndarray | None = None) -> np.ndarray:
    """Slow drift: three sinusoids of 0.05-0.5 Hz, total amplitude ``strength`` x scale."""
    x, s = _prepare(x, strength)
    g, t = np.random.default_rng(rng), _time(x, fs)
    shape = x.shape[:-1] + (3, 1)
    f = g.uniform(0.05, 0.5, shape)
    w = g.dirichlet(np.ones(3), x.shape[:-1])[..., None]
    wander = (w * np.sin(2 * np.pi * f * t + g.uniform(0, 2 * np.pi, shape))).sum(axis=-2)
    return x + (s * _scale(x, scale) * wander).astype(x.dtype)


def motion(x: np.ndarray, fs: float, rng: Rng = None, strength: float | np.ndarray = 1.0, *,
           n_bursts: int | None = None, duration: tuple[float, float] = (1.0, 4.0),
           freq: tuple[float, float] = (0.3, 3.0), start: float | None = None,
           scale: np.ndarray | None = None) -> np.ndarray:
    """Motion bursts: oscillations of ``freq`` Hz under a sin^2 envelope lasting ``duration`` s.

    ``n_bursts`` defaults to one per 10 s, or to one where ``start`` (seconds) places every
    burst. A burst peaks at up to 2 x ``strength`` x scale; bursts that overlap add.
    """
    x, s = _prepare(x, strength)
    g, t = np.random.default_rng(rng), _time(x, fs)
    T_s = x.shape[-1] / fs
    if n_bursts is None:  # (twelve bursts of 120 s had stacked on one start: 6 x, not 2 x)
        n_bursts = 1 if start is not None else max(1, int(round(T_s / 10)))
    nb = n_bursts
    lead = x.shape[:-1] + (1,)
    out = np.zeros(x.shape)
    flat = out.reshape(-1, x.shape[-1])  # a view: bursts are written row by row into ``out``
    for _ in range(nb):
        d = g.uniform(*duration, lead)
        t0 = g.uniform(0, np.maximum(T_s - d, 0)) if start is None else np.full(lead, start)
        f1, f2 = g.uniform(*freq, lead), g.uniform(*freq, lead)
        p1, p2 = g.uniform(0, 2 * np.pi, lead), g.uniform(0, 2 * np.pi, lead)
        a = g.uniform(1.0, 2.0, lead)
        # The sin^2 envelope is 0 outside (t0, t0 + d): evaluate the burst on its support only.
        row, col = np.nonzero(((t > t0) & (t < t0 + d)).reshape(flat.shape))
        d, t0, f1, f2, p1, p2, a = (v.reshape(-1)[row] for v in (d, t0, f1, f2, p1, p2, a))
        tt = t[col]
        wave = (np.sin(2 * np.pi * f1 * tt + p1) + 0.5 * np.sin(2 * np.pi * f2 * tt + p2)) / 1.5
        flat[row, col] += a * np.sin(np.pi * (tt - t0) / d) ** 2 * wave
    return x + (s * _scale(x, scale) * out).astype(x.dtype)


def electrode_pop(x: np.ndarray, fs: float, rng: Rng = None,
                  strength: float | np.ndarray = 1.0, *, n_pops: int | None = None,
                  scale: np.ndarray | None = None) -> np.ndarray:
    """Electrode pops: a step of +-(1..3) x ``strength`` x scale decaying with tau 0.1-0.8 s.

    ``n_pops`` defaults to one per 15 s.
    """
    x, s = _prepare(x, strength)
    g, t = np.random.default_rng(rng), _time(x, fs)
    T_s = x.shape[-1] / fs
    n = max(1, int(round(T_s / 15))) if n_pops is None else n_pops
    lead = x.shape[:-1] + (1,)
    out = np.zeros(x.shape)
    for _ in range(n):
        t0, tau = g.uniform(0, T_s, lead), g.uniform(0.1, 0.8, lead)
        amp = g.uniform(1.0, 3.0, lead) * g.choice([-1.0, 1.0], lead)
        dt = t - t0
        out += np.where(dt >= 0, amp * np.exp(-np.maximum(dt, 0) / tau), 0.0)
    return x + (s * _scale(x, scale) * out).astype(x.dtype)


#: Mains frequencies, Hz: the hum ``powerline`` adds (one of them at random by default).
MAINS_HZ = (50.0, 60.0)


def powerline(x: np.ndarray, fs: float, rng: Rng = None, strength: float | np.ndarray = 1.0,
              *, freq: float | None = None, scale: np.ndarray | None = None) -> np.ndarray:
    """Mains interference at ``freq`` (default 50 or 60 Hz at random), amplitude 0.5 x
    ``strength`` x scale, with a weaker third harmonic when it is below Nyquist."""
    x, s = _prepare(x, strength)
    g, t = np.random.default_rng(rng), _time(x, fs)
    lead = x.shape[:-1] + (1,)
    if freq is None:
        choices = [f for f in MAINS_HZ if f < fs / 2]
        if not choices:
            raise ValueError(f"no mains frequency (50/60 Hz) below Nyquist at fs={fs} Hz")
        f = g.choice(choices, lead)
    else:
        if not 0 < freq < fs / 2:
            raise ValueError(f"powerline freq {freq} Hz must lie below Nyquist ({fs / 2} Hz)")
        f = np.full(lead, float(freq))
    phase = g.uniform(0, 2 * np.pi, lead)
    hum = np.sin(2 * np.pi * f * t + phase)
    hum += np.where(3 * f < fs / 2, 0.2 * np.sin(2 * np.pi * 3 * f * t + 3 * phase), 0.0)
    return x + (0.5 * s * _scale(x, scale) * hum).astype(x.dtype)


def gaussian_noise(x: np.ndarray, fs: float, rng: Rng = None,
                   strength: float | np.ndarray = 1.0, *,
                   scale: np.ndarray | None = None) -> np.ndarray:
    """White Gaussian noise of standard deviation ``strength`` x scale / 4 (0 dB at 1)."""
    x, s = _prepare(x, strength)
    noise = np.random.default_rng(rng).standard_normal(x.shape)
    return x + (s * _scale(x, scale) / 4.0 * noise).astype(x.dtype)


def clipping(x: np.ndarray, fs: float, rng: Rng = None,
             strength: float | np.ndarray = 1.0) -> np.ndarray:
    """Saturation: each end of the range is cut by up to 0.8 x ``strength`` of the half range
    (a random 50-100 % of that per end), as an amplifier or ADC at its rails."""
    x, s = _prepare(x, strength)
    g = np.random.default_rng(rng)
    with warnings.catch_warnings():  # an all-NaN row stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanmin(x, axis=-1, keepdims=True), np.nanmax(x, axis=-1, keepdims=True)
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    top = hi - 0.8 * s * g.uniform(0.5, 1.0, s.shape) * half
    bottom = lo + 0.8 * s * g.uniform(0.5, 1.0, s.shape) * half
    return np.clip(x, np.minimum(bottom, mid), np.maximum(top, mid)).astype(x.dtype)


def flat_line(x: np.ndarray, fs: float, rng: Rng = None,
              strength: float | np.ndarray = 1.0) -> np.ndarray:
    """A segment of ``strength`` / 2 of the length held at its first value (a frozen sensor)."""
    x, s = _prepare(x, strength)
    seg = _segment(x, np.random.default_rng(rng), s[..., 0] * x.shape[-1] / 2)
    first = np.take_along_axis(x, np.argmax(seg, axis=-1)[..., None], axis=-1)
    return np.where(seg, first, x).astype(x.dtype)


def disconnection(x: np.ndarray, fs: float, rng: Rng = None,
                  strength: float | np.ndarray = 1.0) -> np.ndarray:
    """A segment of ``strength`` of the length at zero (a lead or probe off)."""
    x, s = _prepare(x, strength)
    seg = _segment(x, np.random.default_rng(rng), s[..., 0] * x.shape[-1])
    return np.where(seg, 0.0, x).astype(x.dtype)


Artifact = Callable[..., np.ndarray]

#: Every artifact by name, in the order :func:`apply_artifacts` applies them (additive first).
ARTIFACTS: dict[str, Artifact] = {
    "baseline": baseline_wander,
    "motion": motion,
    "pop": electrode_pop,
    "powerline": powerline,
    "noise": gaussian_noise,
    "clipping": clipping,
    "flat": flat_line,
    "disconnection": disconnection,
}
ARTIFACT_KINDS: tuple[str, ...] = tuple(ARTIFACTS)
#: The kinds that add a wave scaled by the signal (they take ``scale=``).
ADDITIVE = ("baseline", "motion", "pop", "powerline", "noise")


def _check_kinds(kinds: Sequence[str]) -> None:
    unknown = [k for k in kinds if k not in ARTIFACTS]
    if unknown:
        raise ValueError(f"unknown artifact kind(s) {unknown}; known: {ARTIFACT_KINDS}")


def apply_artifacts(x: np.ndarray, fs: float, rng: Rng,
                    strengths: Mapping[str, float | np.ndarray]) -> np.ndarray:
    """Apply each named artifact at its strength (scalar or per row), in ``ARTIFACTS`` order."""
    _check_kinds(list(strengths))
    g = np.random.default_rng(rng)
    x = np.asarray(x)
    T = x.shape[-1]
    out = np.array(x, dtype=x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64,
                   order="C")
    rows = out.reshape(-1, T)  # a view: rows are edited in place
    scale = signal_scale(rows)  # of the clean input, so artifacts do not compound
    for kind in ARTIFACT_KINDS:
        if kind not in strengths:
            continue
        s = _prepare(x[..., :1], strengths[kind])[1].reshape(-1)
        hit = np.flatnonzero(s > 0)  # only the rows this artifact touches are computed
        if len(hit):
            kw = {"scale": scale[hit]} if kind in ADDITIVE else {}
            rows[hit] = ARTIFACTS[kind](rows[hit], fs, g, s[hit], **kw)
    return out


def applicable_kinds(fs: float) -> list[str]:
    """The artifact kinds that apply at ``fs``: all but ``powerline`` where no mains
    frequency lies below Nyquist (100 Hz and below)."""
    mains = any(f < fs / 2 for f in MAINS_HZ)
    return [k for k in ARTIFACT_KINDS if k != "powerline" or mains]


def corrupt(x: np.ndarray, fs: float, rng: Rng = None, kinds: Sequence[str] | None = None,
            strength: float | tuple[float, float] = (0.2, 1.0), p: float = 0.4,
            channel_p: float = 0.7, return_strengths: bool = False,
            present: np.ndarray | None = None,
            ) -> np.ndarray | tuple[np.ndarray, dict[str, np.ndarray]]:
    """A corrupted copy of windows ``x`` [C, T] or [N, C, T]: a random subset of artifacts.

    Each kind of ``kinds`` (default: all that apply at ``fs``; ``powerline`` needs 50 Hz
    below Nyquist, so it is left out at 100 Hz and below unless named) is active in a window
    with probability ``p`` (at least one kind per window) at a strength drawn uniformly from
    ``strength`` (or fixed), and hits each channel with probability ``channel_p`` (at least
    one channel). ``present`` (bool ``[C]`` or ``[N, C]``, a window's mask) keeps artifacts
    to the channels a window holds, so that the one channel hit is never an absent one. With
    ``return_strengths`` also returns ``{kind: strength [N, C]}`` (zeros where not applied).
    """
    x = np.asarray(x)
    if x.ndim not in (2, 3):
        raise ValueError(f"x must have shape [C, T] or [N, C, T], got {x.shape}")
    kinds = list(applicable_kinds(fs) if kinds is None else kinds)
    if not kinds:
        raise ValueError("corrupt needs at least one artifact kind")
    _check_kinds(kinds)
    lo, hi = (strength, strength) if np.isscalar(strength) else strength
    if not 0 <= lo <= hi <= 1:
        raise ValueError(f"strength must be in [0, 1] (or a range lo <= hi), got {strength}")
    g = np.random.default_rng(rng)
    xb = x[None] if x.ndim == 2 else x
    N, C = xb.shape[:2]
    K = len(kinds)
    active = g.random((N, K)) < p
    none = ~active.any(axis=1)
    active[none, g.integers(0, K, none.sum())] = True
    held = (np.ones((N, C), bool) if present is None
            else np.broadcast_to(np.asarray(present, bool), (N, C)))
    hit = (g.random((N, K, C)) < channel_p) & held[:, None, :]
    miss = ~hit.any(axis=2) & held.any(axis=1)[:, None]
    idx = np.nonzero(miss)
    # the i-th present channel of the window (every channel when all are present)
    pick = g.integers(0, held.sum(axis=1)[idx[0]]) if len(idx[0]) else np.zeros(0, int)
    order = np.argsort(~held, axis=1, kind="stable")  # present channels first, in order
    hit[idx[0], idx[1], order[idx[0], pick]] = True
    s = g.uniform(lo, hi, (N, K))[..., None] * (active[..., None] & hit)
    strengths = {k: s[:, i] for i, k in enumerate(kinds)}
    out = apply_artifacts(xb, fs, g, strengths)
    out = out[0] if x.ndim == 2 else out
    if return_strengths:
        return out, {k: (v[0] if x.ndim == 2 else v) for k, v in strengths.items()}
    return out
