"""VitalDB .vital files, written with the vitaldb API itself and read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import vitaldb

from qualityfm.io import find_records, read_record


@pytest.fixture
def vital_file(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    t0 = 1_700_000_000.0
    waves = {
        "SNUADC/ECG_II": (500.0, "mV", rng.standard_normal(5000).astype(np.float32)),
        "SNUADC/PLETH": (100.0, "", rng.uniform(0, 100, 1000).astype(np.float32)),
        "SNUADC/ART": (500.0, "mmHg", rng.uniform(60, 120, 5000).astype(np.float32)),
    }
    vf = vitaldb.VitalFile()
    vf.dtstart, vf.dtend = t0, t0 + 10.0
    for name, (fs, unit, x) in waves.items():
        vf.add_track(name, [{"dt": t0, "val": x}], srate=fs, unit=unit)
    vf.add_track("Solar8000/HR", [{"dt": t0 + 1.0, "val": 70.0}], unit="/min")  # numeric
    path = tmp_path / "case1.vital"
    vf.to_vital(str(path))
    return path, {name: x for name, (_, _, x) in waves.items()}


def test_vital_roundtrip_values_rates_names(vital_file: tuple[Path, dict]) -> None:
    path, waves = vital_file
    rec = read_record(path)
    assert rec.record_id == "case1"
    assert rec.channels == ["ecg_ii", "ppg", "abp"]  # numeric HR track skipped
    assert rec.fs == {"ecg_ii": 500.0, "ppg": 100.0, "abp": 500.0}
    assert rec.units == {"ecg_ii": "mV", "ppg": "NU", "abp": "mmHg"}
    np.testing.assert_array_equal(rec.signals["ecg_ii"], waves["SNUADC/ECG_II"])
    np.testing.assert_array_equal(rec.signals["ppg"], waves["SNUADC/PLETH"])
    np.testing.assert_array_equal(rec.signals["abp"], waves["SNUADC/ART"])
    assert find_records(path.parent) == [path]


def test_vital_channels_and_span(vital_file: tuple[Path, dict]) -> None:
    path, waves = vital_file
    rec = read_record(path, channels=["ppg"], start=2.0, stop=4.5)
    assert rec.channels == ["ppg"] and rec.start_time == 2.0
    np.testing.assert_array_equal(rec.signals["ppg"], waves["SNUADC/PLETH"][200:450])
