"""find_records and channel naming."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from helpers import shared_path
from qualityfm.io import canonical_channel, canonical_names, find_records


def test_find_records_wfdb_samples_skips_segments() -> None:
    root = shared_path("wfdb_samples")
    found = [p.relative_to(root).as_posix() for p in find_records(root)]
    assert found == [
        "03700181.hea", "041s/041s.hea", "a103l.hea", "mixedsignals.hea",
        "p000878_partial/3269321_0001.hea", "p000878_partial/3269321_0002.hea",
    ]
    assert find_records(root / "041s" / "041s.hea") == [root / "041s" / "041s.hea"]


def test_find_records_bidmc_signals_only() -> None:
    found = find_records(shared_path("bidmc"))
    assert len(found) == 11
    assert all(p.name.endswith("_Signals.csv") for p in found)


def test_find_records_counts_per_dataset() -> None:
    assert len(find_records(shared_path("physionet2015_vt"))) == 206
    assert len(find_records(shared_path("physionet2015_icu"))) == 293


def test_find_records_layout_and_mixed_files(tmp_path: Path) -> None:
    (tmp_path / "r_layout.hea").write_text("r_layout 1 125 0\n~ 0 1 0 0 0 0 0 II\n")
    (tmp_path / "r.hea").write_text("r/2 1 125 20\nr_layout 0\nr_0001 20\n")
    (tmp_path / "r_0001.hea").write_text("r_0001 1 125 20\nr_0001.dat 16 200 16 0 0 0 0 II\n")
    np.savez(tmp_path / "a.npz", PLETH=np.zeros(10))
    (tmp_path / "REFERENCE.csv").write_text("A1,N\n")
    assert [p.name for p in find_records(tmp_path)] == ["a.npz", "r.hea"]


def test_canonical_names_unique() -> None:
    assert canonical_names(["V", "V", "II", "PLETH", "ECG II"]) == [
        "ecg_v", "ecg_v_2", "ecg_ii", "ppg", "ecg_ii_2"]
    assert canonical_channel("SNUADC/ECG_II") == "ecg_ii"
    assert canonical_channel("SNUADC/ART") == "abp"
