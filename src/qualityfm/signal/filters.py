"""Zero-phase IIR filters as settings, designed once per sampling rate and cached.

A :class:`FilterSpec` names a chain (high-pass, low-pass, mains notch); :func:`apply_filter` runs
it forwards and backwards (``sosfiltfilt``) along the last axis, vectorised over leading axes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import signal as sps

from qualityfm._numbers import is_int, is_number
from qualityfm.signal.nan import fill_nan, missing

_KINDS = ("highpass", "lowpass", "bandpass", "notch")


@dataclass(frozen=True)
class FilterSpec:
    """A filter chain: Butterworth high-pass and/or low-pass of ``order``, optional notch.

    ``notch`` is the mains frequency (50 or 60 Hz) removed by an IIR notch of quality
    ``notch_q``. A low-pass or notch at or above Nyquist is skipped (nothing to remove there).
    """

    highpass: float | None = None
    lowpass: float | None = None
    notch: float | None = None
    order: int = 4
    notch_q: float = 30.0

    def __post_init__(self) -> None:
        for name in ("highpass", "lowpass", "notch"):
            f = getattr(self, name)
            if f is not None and not (is_number(f) and f > 0):  # ('1': a TypeError)
                raise ValueError(f"FilterSpec.{name} must be a positive frequency, got {f!r}")
        if not is_int(self.order) or not is_number(self.notch_q):  # (2.7 had designed 2)
            raise ValueError(f"FilterSpec: order must be an integer and notch_q a number, got "
                             f"{self.order!r} and {self.notch_q!r}")
        if self.highpass is not None and self.lowpass is not None and (
                self.highpass >= self.lowpass):
            raise ValueError(f"FilterSpec: highpass {self.highpass} Hz must lie below lowpass "
                             f"{self.lowpass} Hz (a band-pass keeps what lies between)")
        if self.order < 1 or not self.notch_q > 0:
            raise ValueError(f"FilterSpec: order must be >= 1 and notch_q > 0, got "
                             f"{self.order} and {self.notch_q}")

    def sos(self, fs: float) -> np.ndarray:
        """Second-order sections of the whole chain at ``fs`` (cached)."""
        return _chain_sos(self, float(fs))


#: VT-alarm protocol (arXiv 2509.06516): ECG high-pass 1 Hz, low-pass 30 Hz, 60 Hz notch.
VT_ECG_FILTER = FilterSpec(highpass=1.0, lowpass=30.0, notch=60.0)
#: VT-alarm protocol: PPG 60 Hz notch, band-pass 0.5-5 Hz.
VT_PPG_FILTER = FilterSpec(highpass=0.5, lowpass=5.0, notch=60.0)


@lru_cache(maxsize=512)
def design_sos(kind: str, fs: float, params: tuple[float, ...]) -> np.ndarray:
    """Design one stage as SOS, cached by ``(kind, fs, params)``.

    ``highpass``/``lowpass``: ``(cutoff, order)``; ``bandpass``: ``(low, high, order)``;
    ``notch``: ``(freq, q)``. Returned arrays are read-only (they are shared by the cache).
    """
    nyq = fs / 2.0
    if kind in ("highpass", "lowpass"):
        cutoff, order = params
        if not 0 < cutoff < nyq:
            raise ValueError(f"{kind} cutoff {cutoff} Hz must lie in (0, {nyq}) at fs={fs} Hz")
        sos = sps.butter(int(order), cutoff, btype=kind, fs=fs, output="sos")
    elif kind == "bandpass":
        low, high, order = params
        if not 0 < low < high < nyq:
            raise ValueError(f"bandpass {low}-{high} Hz must satisfy 0 < low < high < {nyq}")
        sos = sps.butter(int(order), [low, high], btype="bandpass", fs=fs, output="sos")
    elif kind == "notch":
        freq, q = params
        if not 0 < freq < nyq:
            raise ValueError(f"notch {freq} Hz must lie in (0, {nyq}) at fs={fs} Hz")
        b, a = sps.iirnotch(freq, q, fs=fs)
        sos = sps.tf2sos(b, a)
    else:
        raise ValueError(f"unknown filter kind {kind!r}; expected one of {_KINDS}")
    sos = np.ascontiguousarray(sos, dtype=np.float64)
    sos.setflags(write=False)
    return sos


@lru_cache(maxsize=256)
def _chain_sos(spec: FilterSpec, fs: float) -> np.ndarray:
    nyq = fs / 2.0
    stages = []
    if spec.highpass is not None:
        stages.append(design_sos("highpass", fs, (float(spec.highpass), spec.order)))
    if spec.lowpass is not None and spec.lowpass < nyq:
        stages.append(design_sos("lowpass", fs, (float(spec.lowpass), spec.order)))
    if spec.notch is not None and spec.notch < nyq:
        stages.append(design_sos("notch", fs, (float(spec.notch), float(spec.notch_q))))
    sos = np.concatenate(stages) if stages else np.zeros((0, 6))
    sos.setflags(write=False)
    return sos


def apply_filter(x: np.ndarray, fs: float, spec: FilterSpec) -> np.ndarray:
    """Filter ``x`` [..., T] at ``fs`` Hz with ``spec``, zero-phase, along the last axis.

    Keeps the floating dtype of ``x`` (float64 for ints). Missing samples (NaN or inf) are
    bridged by linear interpolation for the filter and come back as NaN.
    """
    x = np.asarray(x)
    if x.ndim == 0:  # (an IndexError)
        raise ValueError("a filter needs an array with a time axis, got a scalar")
    if np.iscomplexobj(x) or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"a filter needs real samples, got dtype {x.dtype}")
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
    sos = spec.sos(fs)
    if len(sos) == 0 or x.shape[-1] == 0:
        return x.astype(dtype, copy=True)
    nan = missing(x)
    has_nan = bool(nan.any())
    data = fill_nan(x) if has_nan else x
    # Default pad of sosfiltfilt, shortened for short signals instead of failing.
    padlen = min(3 * (2 * len(sos) + 1), x.shape[-1] - 1)
    # scipy needs a writable copy of the shared, read-only cached sections.
    y = sps.sosfiltfilt(sos.copy(), data.astype(np.float64, copy=False), axis=-1, padlen=padlen)
    y = y.astype(dtype, copy=False)
    if has_nan:
        y[nan] = np.nan
    return y


def filter_ecg(x: np.ndarray, fs: float, highpass: float | None = 0.5,
               lowpass: float | None = 40.0, notch: float | None = None,
               order: int = 4) -> np.ndarray:
    """ECG filter: high-pass (baseline), low-pass (EMG), optional mains notch (50/60 Hz)."""
    return apply_filter(x, fs, FilterSpec(highpass, lowpass, notch, order))


def filter_ppg(x: np.ndarray, fs: float, low: float = 0.5, high: float = 8.0,
               notch: float | None = None, order: int = 4) -> np.ndarray:
    """PPG band-pass ``low``-``high`` Hz (default 0.5-8), optional mains notch."""
    return apply_filter(x, fs, FilterSpec(low, high, notch, order))
