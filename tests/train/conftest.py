"""Fixtures of the train tests: a small synthetic store written with the store's own writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qualityfm.data.pairs import mine_pairs
from qualityfm.data.store import PAIRS, ShardWriter, index_dtype, save_npy
from qualityfm.io import write_json
from qualityfm.quality import SCORING_VERSION

FS, SECONDS = 300.0, 30.0


def write_synthetic_store(folder: Path, n_records: int = 4, per_record: int = 10,
                          seed: int = 0, top_level: int = 4) -> Path:
    """Quasi-periodic PPG and ECG with record-specific rates and noise that sets the level
    (0 to ``top_level``)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(FS * SECONDS)) / FS
    writer = ShardWriter(folder, 2, t.size, shard_size=16)
    all_pairs, levels_all = [], []
    for r in range(n_records):
        hr = rng.uniform(0.9, 1.8)
        levels = rng.integers(0, top_level + 1, per_record)
        x = np.empty((per_record, 2, t.size), np.float32)
        for i, lv in enumerate(levels):
            noise = (4 - lv) * 0.25
            phase = rng.uniform(0, 2 * np.pi)
            ppg = np.sin(2 * np.pi * hr * t + phase) + noise * rng.standard_normal(t.size)
            ecg = np.cos(2 * np.pi * hr * t + phase) ** 31 + noise * rng.standard_normal(t.size)
            for c, sig in enumerate((ppg, ecg)):
                x[i, c] = 2 * (sig - sig.min()) / (sig.max() - sig.min()) - 1
        index = np.zeros(per_record, index_dtype(2))
        index["record"] = r
        index["record_id"] = f"syn{r}"
        index["patient_id"] = f"p{r}"
        index["source"] = "synthetic"
        index["start"] = np.arange(per_record) * SECONDS
        index["mask"] = True
        index["level"] = levels
        index["q"] = levels / 4.0
        offset = writer.n_total
        writer.append(x, index)
        all_pairs.append(mine_pairs(levels) + offset)
        levels_all.append(levels)
    n_shards = writer.finish()
    pairs = np.concatenate(all_pairs)
    save_npy(folder / PAIRS, pairs)
    write_json(folder / "meta.json", {
        "fs": FS, "seconds": SECONDS, "n_samples": t.size, "channels": ["ppg", "ecg_ii"],
        "dtype": "float16", "normalization": "channel", "shard_size": 16, "n_shards": n_shards,
        "n_records": n_records, "n_windows": writer.n_written, "n_pairs": int(len(pairs)),
        "skipped": [], "level_names": ["bad", "poor", "acceptable", "good", "excellent"],
        "scoring_version": SCORING_VERSION,  # levels of today's rules, as prepare's
    })
    return folder


@pytest.fixture(scope="session")
def synthetic_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_store(tmp_path_factory.mktemp("train_store") / "store")


@pytest.fixture
def low_level_store(tmp_path: Path) -> Path:
    """A store whose windows are all of level 0-2: none teaches an aligned pair."""
    return write_synthetic_store(tmp_path / "low_store", top_level=2)
