"""Small synthetic records (``.npz``: PLETH + II at 125 Hz) and store settings for data tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def write_record(path: Path, *, seconds: float = 200.0, fs: float = 125.0, seed: int = 0,
                 ppg: bool = True) -> Path:
    """A record whose noise level changes every 20 s, so its windows differ in quality."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    hr = 1.1 + 0.2 * rng.random()  # beats per second
    beats = np.arange(0.3, seconds, 1 / hr)
    qrs = np.array([0.1, 0.4, 0.9, 1.2, 0.9, 0.4, 0.1])
    ecg = np.zeros(len(t) + len(qrs))
    for b in beats:
        i = int(b * fs)
        ecg[i: i + len(qrs)] += qrs
    ecg = ecg[3: 3 + len(t)]  # centre each QRS on its beat time
    pulse = 0.5 * (1 - np.cos(2 * np.pi * hr * t)) ** 2 + 2.0
    amp = rng.choice([0.0, 0.02, 0.3, 1.5], size=int(np.ceil(seconds / 20)))
    noise_amp = np.repeat(amp, int(20 * fs))[: len(t)]
    arrays = {"fs": np.float64(fs),
              "II": (ecg + noise_amp * rng.standard_normal(len(t))).astype(np.float32)}
    if ppg:
        arrays["PLETH"] = (pulse + 0.5 * noise_amp * rng.standard_normal(len(t))).astype(np.float32)
    np.savez(path, **arrays)
    return path


@pytest.fixture
def synth_dir(tmp_path: Path) -> Path:
    """Five good records, one too short and one corrupt file."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for i in range(5):
        write_record(folder / f"rec{i}.npz", seed=i, ppg=i != 3)
    write_record(folder / "short.npz", seconds=10.0, seed=9)
    (folder / "broken.npz").write_bytes(b"PK\x03\x04 this is no zip file")
    return folder


@pytest.fixture
def small_window():
    """Windows of 20 s at 100 Hz (2000 samples): small, and long enough for 20+ beats."""
    from qualityfm.signal import WindowConfig

    return WindowConfig(fs=100.0, seconds=20.0)


@pytest.fixture(scope="session")
def record_writer():
    """:func:`write_record`, for fixtures of wider scope."""
    return write_record
