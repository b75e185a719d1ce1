"""Shared inference fixtures: a tiny model and a folder of synthetic WFDB records."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from qualityfm.io import write_wfdb
from qualityfm.model import QualityFM, QualityFMConfig
from qualityfm.signal import synthesize


@pytest.fixture
def tiny_model() -> QualityFM:
    """A seeded one-layer model (d_model 120) in eval mode."""
    torch.manual_seed(0)
    return QualityFM(QualityFMConfig(n_layers=1, d_model=120, n_heads=2, d_ff=64,
                                     stem_channels=(4, 24, 120), n_bins=120)).eval()


@pytest.fixture
def records(tmp_path: Path) -> Path:
    """A clean 95-s and a noisy 65-s record at 250 Hz, and one broken header."""
    folder = tmp_path / "recs"
    write_wfdb(synthesize(95.0, fs=250.0, seed=1, record_id="clean"), folder)
    write_wfdb(synthesize(65.0, fs=250.0, seed=2, record_id="noisy",
                          artifacts={"motion": 1.0, "noise": 1.0}), folder)
    (folder / "broken.hea").write_text("broken 1 250 7500\nbroken.dat 16 200/mV 16 0 0 0 0 II\n")
    return folder
