"""VitalDB .vital files, written with the vitaldb API itself and read back."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import vitaldb

from qualityfm.io import RecordError, find_records, read_record


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


def test_truncated_corrupt_and_far_off_vital_files_are_refused_by_name(
        vital_file: tuple[Path, dict], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path, _ = vital_file
    raw = path.read_bytes()
    cut = tmp_path / "cut.vital"  # a recorder stopped mid-file: vitaldb alone reads it as whole
    cut.write_bytes(raw[: int(len(raw) * 0.9)])
    with pytest.raises(RecordError, match=r"cut\.vital: truncated or corrupt \.vital file "
                                          r"\(EOFError"):
        read_record(cut)
    inner = tmp_path / "inner.vital"  # a whole gzip stream whose records stop mid-packet
    inner.write_bytes(gzip.compress(gzip.decompress(raw)[:60]))
    with pytest.raises(RecordError, match=r"inner\.vital: "):
        read_record(inner)
    assert capsys.readouterr().out == ""  # vitaldb's own printout kept off stdout (JSON)
    t0 = 1_700_000_000.0
    vf = vitaldb.VitalFile()
    x = np.zeros(100, np.float32)
    vf.add_track("SNUADC/PLETH", [{"dt": t0, "val": x}, {"dt": t0 + 1e10, "val": x}], srate=100.0)
    far = tmp_path / "far.vital"
    vf.to_vital(str(far), packed=False)  # packed, vitaldb itself would fill the gap
    with pytest.raises(RecordError, match=r"far\.vital: its records span 115741 days .* a time "
                                          r"stamp far off"):
        read_record(far)
