"""CSV (BIDMC and plain), .npy and .npz readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import shared_path
from qualityfm.io import RecordError, read_record


def _write_csv(path: Path, header: str | None, t: np.ndarray | None, cols: np.ndarray) -> Path:
    data = cols.T if t is None else np.column_stack([t, cols.T])
    with path.open("w") as f:
        if header is not None:
            f.write(header + "\n")
        np.savetxt(f, data, delimiter=",", fmt="%.6g")
    return path


def test_bidmc_signals_csv() -> None:
    path = shared_path("bidmc", "bidmc_14_Signals.csv")
    rec = read_record(path)
    assert rec.record_id == rec.patient_id == "bidmc_14"
    assert rec.channels == ["resp", "ppg", "ecg_ii", "ecg_v", "ecg_avr"]
    assert set(rec.fs.values()) == {125.0}
    assert {len(x) for x in rec.signals.values()} == {60001}
    assert set(rec.units.values()) == {"NU"}
    assert rec.signals["ppg"][0] == pytest.approx(0.60508)
    part = read_record(path, start=100.0, stop=110.5, channels=["ppg", "ecg_ii"])
    assert part.start_time == 100.0
    for ch in ("ppg", "ecg_ii"):
        np.testing.assert_array_equal(part.signals[ch], rec.signals[ch][12500:13812])


def test_bidmc_column_order_differs_by_file() -> None:
    rec = read_record(shared_path("bidmc", "bidmc_39_Signals.csv"), channels=["ppg", "ecg_ii"])
    assert rec.channels == ["ppg", "ecg_ii"] and rec.fs["ppg"] == 125.0
    full = read_record(shared_path("bidmc", "bidmc_39_Signals.csv"))
    assert full.channels == ["ecg_i", "resp", "ecg_ii", "ecg_v", "ppg"]


def test_plain_csv_with_time_column_units_and_duplicates(tmp_path: Path) -> None:
    fs = 200.0
    t = np.arange(1000) / fs
    cols = np.stack([np.sin(t), np.cos(t), t * 2])
    path = _write_csv(tmp_path / "rec.csv", "time [ms], V [mV], V, ART (mmHg)", t * 1000, cols)
    rec = read_record(path)
    assert rec.channels == ["ecg_v", "ecg_v_2", "abp"]
    assert rec.fs == {"ecg_v": fs, "ecg_v_2": fs, "abp": fs}
    assert rec.units == {"ecg_v": "mV", "ecg_v_2": "", "abp": "mmHg"}
    np.testing.assert_allclose(rec.signals["abp"], cols[2], rtol=1e-5)
    part = read_record(path, start=1.0, stop=2.0, channels=["ecg_v_2"])
    np.testing.assert_array_equal(part.signals["ecg_v_2"], rec.signals["ecg_v_2"][200:400])


def test_plain_csv_with_fs_and_channel_names(tmp_path: Path) -> None:
    cols = np.arange(30, dtype=float).reshape(3, 10)
    path = _write_csv(tmp_path / "raw.csv", None, None, cols)
    rec = read_record(path, fs=5.0, channel_names=["II", "PLETH", "ABP"])
    assert rec.channels == ["ecg_ii", "ppg", "abp"] and rec.fs["ppg"] == 5.0
    np.testing.assert_array_equal(rec.signals["ppg"], cols[1])
    assert read_record(path, fs=5.0, channel_names=["II", "PLETH", "ABP"],
                       start=1.0).signals["abp"].tolist() == cols[2, 5:].tolist()
    with pytest.raises(RecordError, match="raw.csv.*channel_names"):
        read_record(path, fs=5.0)


def test_csv_rate_mismatch_and_irregular_time(tmp_path: Path) -> None:
    t = np.arange(2000) / 100.0
    x = np.sin(t)[None]
    good = _write_csv(tmp_path / "good.csv", "Time [s], PLETH", t, x)
    assert read_record(good, fs=100.0).fs == {"ppg": 100.0}
    with pytest.raises(RecordError, match=r"good\.csv.*fs=125.*100 Hz"):
        read_record(good, fs=125.0)
    gap = np.delete(t, np.arange(1000, 1005))  # five samples missing
    bad = _write_csv(tmp_path / "gap.csv", "Time [s], PLETH", gap, np.sin(gap)[None])
    with pytest.raises(RecordError, match=r"gap\.csv.*irregular time column"):
        read_record(bad)
    with pytest.raises(RecordError, match=r"nofs\.csv.*no time column; pass fs"):
        read_record(_write_csv(tmp_path / "nofs.csv", "PLETH", None, x))


def test_npy_needs_fs_and_names_and_reads_span(tmp_path: Path) -> None:
    arr = np.random.default_rng(0).standard_normal((2, 3000)).astype(np.float32)
    path = tmp_path / "x.npy"
    np.save(path, arr)
    rec = read_record(path, fs=300.0, channel_names=["PLETH", "ECG II"])
    assert rec.channels == ["ppg", "ecg_ii"] and rec.fs == {"ppg": 300.0, "ecg_ii": 300.0}
    np.testing.assert_array_equal(rec.signals["ecg_ii"], arr[1])
    part = read_record(path, fs=300.0, channel_names=["PLETH", "ECG II"], start=2, stop=3)
    np.testing.assert_array_equal(part.signals["ppg"], arr[0, 600:900])
    with pytest.raises(RecordError, match=r"x\.npy.*pass fs and channel_names"):
        read_record(path, fs=300.0)
    with pytest.raises(RecordError, match=r"x\.npy.*3 channel_names for 2 rows"):
        read_record(path, fs=300.0, channel_names=["a", "b", "c"])


def test_npz_by_channel_name_with_fs_entry(tmp_path: Path) -> None:
    path = tmp_path / "y.npz"
    np.savez(path, PLETH=np.arange(100.0), II=np.ones(100), fs=np.float64(50.0))
    rec = read_record(path, channels=["ecg_ii"], start=1.0)
    assert rec.channels == ["ecg_ii"] and rec.fs == {"ecg_ii": 50.0}
    assert len(rec.signals["ecg_ii"]) == 50
    assert read_record(path).signals["ppg"][10] == 10.0
    with pytest.raises(RecordError, match=r"y\.npz.*fs=60.*fs=50"):
        read_record(path, fs=60.0)
    bare = tmp_path / "z.npz"
    np.savez(bare, PLETH=np.arange(10.0))
    assert read_record(bare, fs=10.0).duration() == 1.0
    with pytest.raises(RecordError, match=r"z\.npz.*pass fs"):
        read_record(bare)
