"""CSV (BIDMC and plain), .npy and .npz readers."""

from __future__ import annotations

import gzip
import inspect
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import shared_path
from qualityfm.io import RecordError, canonical_channel, find_records, read_record


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
    # a column's faults name its channel (they had named the first row's sample, '0.7')
    (tmp_path / "nh.csv").write_text("0.1,0.7\n" + "".join(f"0.{i},LEADOFF\n" for i in range(7)))
    with pytest.raises(RecordError, match=r"nh\.csv: column 'II' is mostly not numbers"):
        read_record(tmp_path / "nh.csv", fs=100.0, channel_names=["PLETH", "II"])
    (tmp_path / "inf.csv").write_text("0.1,3e39\n0.2,0.1\n")
    with pytest.warns(RuntimeWarning, match=r"column 'II': 1 values are inf"):
        read_record(tmp_path / "inf.csv", fs=100.0, channel_names=["PLETH", "II"])


@pytest.mark.parametrize("gap", [False, True])
@pytest.mark.parametrize("fs, places", [(124.945, 6), (124.945, 3), (249.89, 6), (125.0, 3)])
def test_a_rate_near_a_whole_one_is_read_at_the_stamps_rate(tmp_path: Path, fs: float,
                                                             places: int, gap: bool) -> None:
    """MIMIC-IV's 124.945 Hz lies within 0.1 % of 125: its stamps had been read at 125 Hz
    with a missing sample every 23 s (or refused as irregular); a whole rate printed rounded
    stays whole."""
    n = 40000
    t = np.arange(n) / fs
    lost = np.arange(n // 3, n // 3 + 50) if gap else np.array([], int)
    kept = np.delete(t, lost)
    path = tmp_path / "mimic4.csv"
    with path.open("w") as f:
        f.write("Time [s],PLETH\n")
        f.writelines(f"{v:.{places}f},{np.sin(v):.5f}\n" for v in kept)
    ppg = read_record(path).signals["ppg"]
    assert read_record(path).fs["ppg"] == pytest.approx(fs, rel=2e-6)
    assert len(ppg) == n
    np.testing.assert_array_equal(np.flatnonzero(np.isnan(ppg)), lost)


def test_csv_rate_mismatch_and_irregular_time(tmp_path: Path) -> None:
    t = np.arange(2000) / 100.0
    x = np.sin(t)[None]
    good = _write_csv(tmp_path / "good.csv", "Time [s], PLETH", t, x)
    assert read_record(good, fs=100.0).fs == {"ppg": 100.0}
    with pytest.raises(RecordError, match=r"good\.csv.*fs=125.*100 Hz"):
        read_record(good, fs=125.0)
    # a monitor export with dropouts: the missing samples are NaN on the regular grid
    for lost in (np.arange(1000, 1005), np.arange(3, 40)):  # a gap late, and in the first rows
        gap = np.delete(t, lost)
        path = _write_csv(tmp_path / "gap.csv", "Time [s], PLETH", gap, np.sin(gap)[None])
        ppg = read_record(path).signals["ppg"]
        assert len(ppg) == 2000 and read_record(path, fs=100.0).fs == {"ppg": 100.0}
        np.testing.assert_array_equal(np.flatnonzero(np.isnan(ppg)), lost)
        np.testing.assert_allclose(np.delete(ppg, lost), np.sin(gap), atol=1e-4)
    with pytest.raises(RecordError, match=r"gap\.csv: the time column has gaps \(37 samples "
                                          r"missing by the span's end\): read the whole"):
        read_record(path, start=1.0)
    # a gap before a short span (a span's rows alone, fitted a rate of their own, had read
    # 20.08-21.07 s at 124.5 Hz for 20-21 s)
    t125 = np.delete(np.arange(125 * 40) / 125.0, np.arange(500, 510))
    path = _write_csv(tmp_path / "gap125.csv", "Time [s], PLETH", t125, t125[None] * 125)
    with pytest.raises(RecordError, match=r"gap125\.csv: the time column has gaps \(10 "):
        read_record(path, start=20.0, stop=21.0)
    # a span that ends before the first gap is cut (the rows read past its end hold the gap)
    late = np.delete(np.arange(125 * 40) / 125.0, np.arange(3000, 3100))  # missing from 24 s
    path = _write_csv(tmp_path / "late.csv", "Time [s], PLETH", late, late[None] * 125)
    for stop, n in ((23.9, 488), (23.95, 494), (24.0, 500)):
        got = read_record(path, start=20.0, stop=stop).signals["ppg"]
        np.testing.assert_array_equal(got, np.arange(2500, 2500 + n))
    with pytest.raises(RecordError, match=r"late\.csv: the time column has gaps"):
        read_record(path, start=20.0, stop=24.5)
    # a rate of a fraction of a Hz, stamps rounded to 1 ms: a late span is the full read's
    fs = 62.4725
    tf = np.arange(int(fs * 3100)) / fs
    path = tmp_path / "frac.csv"
    with path.open("w") as f:
        f.write("Time [s],PLETH\n")
        np.savetxt(f, np.column_stack([tf, np.arange(len(tf))]), delimiter=",",
                   fmt=["%.3f", "%d"])
    full = read_record(path)
    for start in (10.0, 3000.1):  # no sample half-way: one nearest sample
        part = read_record(path, start=start, stop=start + 2.0)
        k = int(round(start * full.fs["ppg"]))
        np.testing.assert_array_equal(part.signals["ppg"],
                                      full.signals["ppg"][k:k + len(part.signals["ppg"])])
        assert part.signals["ppg"][0] == k and abs(part.fs["ppg"] / fs - 1) < 1e-4
    long = np.arange(20000) / 100.0
    long_gap = np.delete(long, np.arange(100, 3100))  # 30 s lost among the first rows read
    path = _write_csv(tmp_path / "long.csv", "Time [s], PLETH", long_gap, np.sin(long_gap)[None])
    assert np.isnan(read_record(path).signals["ppg"]).sum() == 3000
    # a dropout longer than the rows around it (20 s between two 4-s stretches) is read too
    two = np.r_[np.arange(500), np.arange(3000, 3500)] / 125.0
    path = _write_csv(tmp_path / "drop.csv", "Time [s], PLETH", two, np.sin(two)[None])
    with pytest.warns(RuntimeWarning, match="read as missing samples"):
        assert np.isnan(read_record(path).signals["ppg"]).sum() == 2500
    switch = np.r_[t[:1000], t[999] + np.arange(1, 1001) / 80.0]  # 100 Hz, then 80 Hz
    path = _write_csv(tmp_path / "switch.csv", "Time [s], PLETH", switch, np.sin(switch)[None])
    with pytest.raises(RecordError, match=r"switch\.csv.*irregular time column"):
        read_record(path)
    typo = t.copy()
    typo[-1] = 1e6  # a stamp far off: refused, not gigabytes of NaN
    path = _write_csv(tmp_path / "typo.csv", "Time [s], PLETH", typo, np.sin(t)[None])
    with pytest.raises(RecordError, match=r"typo\.csv: the time column's gaps .* outnumber "
                                          r".*over the 25000000 or 24 h read; is a time "
                                          r"stamp wrong"):
        read_record(path)
    typo[-1] = 30 * 3600  # 30 h late: 10.8 million samples at 100 Hz, past the day read
    path = _write_csv(tmp_path / "day.csv", "Time [s], PLETH", typo, np.sin(t)[None])
    with pytest.raises(RecordError, match=r"day\.csv: the time column's gaps \(10798001 "):
        read_record(path)
    typo[-1] = 23 * 3600  # 23 h late (a day-long export's dropout): read, and named
    path = _write_csv(tmp_path / "late.csv", "Time [s], PLETH", typo, np.sin(t)[None])
    with pytest.warns(RuntimeWarning, match=r"late\.csv: the time column's gaps .* outnumber "
                                            r".*read as missing samples; is a time stamp"):
        read_record(path)
    jitter = t + np.random.default_rng(0).uniform(-0.004, 0.004, len(t))  # not on any grid
    bad = _write_csv(tmp_path / "jitter.csv", "Time [s], PLETH", jitter, np.sin(t)[None])
    with pytest.raises(RecordError, match=r"jitter\.csv.*irregular time column"):
        read_record(bad)
    with pytest.raises(RecordError, match=r"nofs\.csv.*no time column; add one in seconds "
                                          r"named 'Time \[s\]'.*read_record\(path, fs=\.\.\.\)"):
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
    with pytest.raises(RecordError, match=r"x\.npy: a \.npy file holds no rate or channel "
                                          r"names.*an 'fs' entry"):
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
    with pytest.raises(RecordError, match=r"z\.npz: no 'fs' entry for channel 'PLETH'; save "
                                          r"the rate.*fs_PLETH="):
        read_record(bare)
    # channels of other rates: fs_<KEY> gives a channel its own, over the shared fs
    mixed = tmp_path / "m.npz"
    np.savez(mixed, II=np.zeros(2500), PLETH=np.arange(1250.0), fs=250.0, fs_PLETH=125.0)
    rec = read_record(mixed)
    assert rec.fs == {"ecg_ii": 250.0, "ppg": 125.0} and rec.channels == ["ecg_ii", "ppg"]
    assert rec.duration("ppg") == rec.duration("ecg_ii") == 10.0
    assert read_record(mixed, start=2.0).signals["ppg"][0] == 250.0  # 2 s at 125 Hz
    # an fs argument is one of the file's rates, as for WFDB (each had been refused here)
    assert read_record(mixed, fs=250.0).fs == read_record(mixed, fs=125.0).fs == rec.fs
    with pytest.raises(RecordError, match=r"m\.npz: fs=300.0 Hz is none of the file's rates "
                                          r"\(fs=250 Hz, fs_PLETH=125 Hz\)"):
        read_record(mixed, fs=300.0)
    part = tmp_path / "p.npz"  # no file rate: fs gives the unrated channel's (it was refused)
    np.savez(part, II=np.zeros(2500), PLETH=np.arange(1250.0), fs_PLETH=125.0)
    with pytest.raises(RecordError, match=r"p\.npz: no 'fs' entry for channel 'II'"):
        read_record(part)
    assert read_record(part, fs=250.0).fs == {"ecg_ii": 250.0, "ppg": 125.0}
    named = tmp_path / "n.npz"  # a channel whose name ends like a rated one's is kept
    np.savez(named, PLETH=np.zeros(125), fs_PLETH=125.0, XYPLETH=np.zeros(250), fs=250.0)
    assert read_record(named).fs == {"ppg": 125.0, "xypleth": 250.0}


@pytest.mark.parametrize("order", [["ecg_ii", "ppg"], ["ppg", "ecg_ii"]])
def test_npz_channels_of_two_rates_start_together_whatever_their_order(
        tmp_path: Path, order: list[str]) -> None:
    """Each sample's value is its time: cut at its own rate, the 500-Hz ECG had started at
    2.004 s and the 125-Hz PPG at 2.008 s, the record's start whichever was read last."""
    path = tmp_path / "mr.npz"
    np.savez(path, II=np.arange(5000) / 500.0, PLETH=np.arange(1250) / 125.0, fs_II=500.0,
             fs_PLETH=125.0)
    rec = read_record(path, channels=order, start=2.005, stop=3.0)
    assert rec.start_time == pytest.approx(2.008)
    assert rec.signals["ecg_ii"][0] == rec.signals["ppg"][0] == pytest.approx(2.008)
    assert len(rec.signals["ecg_ii"]) == 496 and len(rec.signals["ppg"]) == 124
    alone = read_record(path, channels=order[:1], start=2.005, stop=3.0)  # the same instant
    assert alone.start_time == pytest.approx(2.008)
    np.testing.assert_array_equal(alone.signals[order[0]], rec.signals[order[0]])


def test_npz_channels_of_two_lengths_under_one_rate_are_named(tmp_path: Path) -> None:
    """An ECG at 250 Hz and a PPG at 125 Hz saved with fs=125 had read as a record twice as
    long, its ECG at half speed, unsaid; one rate per channel (fs_<KEY>) reads quietly."""
    ecg, ppg = np.zeros(15000), np.zeros(7500)
    path = tmp_path / "monitor.npz"
    np.savez(path, fs=125.0, II=ecg, PLETH=ppg)
    with pytest.warns(RuntimeWarning, match=r"monitor\.npz: the channels read at its one "
                                            r"fs=125 Hz differ in length: II 15000 \(120 s\), "
                                            r"PLETH 7500 \(60 s\); .*fs_<KEY>"):
        read_record(path)
    np.savez(path, fs=125.0, fs_II=250.0, II=ecg, PLETH=ppg)
    np.savez(tmp_path / "short.npz", fs=125.0, II=ecg[:7000], PLETH=ppg)  # a channel ends early
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_record(path).fs == {"ecg_ii": 250.0, "ppg": 125.0}
        read_record(tmp_path / "short.npz")


def _csv_text(header: str, rows: list[str]) -> str:
    return "\n".join([header, *rows]) + "\n"


def _signal_rows(n: int, fs: float, sep: str = ",", time: str = "s") -> list[str]:
    """``n`` rows of time, PLETH and II at ``fs``; time in seconds, ms or ISO date-times."""
    rows = []
    for i in range(n):
        t = (f"{i / fs:.3f}" if time == "s" else f"{1000 * i / fs:g}" if time == "ms"
             else f"2024-01-01 00:00:{i / fs:06.3f}")
        rows.append(sep.join([t, f"{2 + np.sin(i / 10):.5f}", f"{np.cos(i / 7):.5f}"]))
    return rows


def test_csv_time_in_ms_without_unit_is_refused_or_read_with_fs(tmp_path: Path) -> None:
    path = tmp_path / "ms.csv"
    path.write_text(_csv_text("Time,PLETH,II", _signal_rows(500, 125.0, time="ms")))
    with pytest.raises(RecordError, match=r"ms\.csv: time column 'Time' gives 0\.125 Hz.*"
                                          r"below 10 Hz.*'Time \[ms\]' \(or in Python call "
                                          r"read_record\(path, fs=\.\.\.\)"):
        read_record(path)
    rec = read_record(path, fs=125.0)  # fs says the values are milliseconds
    assert rec.fs == {"ppg": 125.0, "ecg_ii": 125.0} and len(rec.signals["ppg"]) == 500
    named = tmp_path / "named.csv"
    named.write_text(path.read_text().replace("Time,", "Time [ms],", 1))
    assert read_record(named, start=1.0, stop=2.0).signals["ppg"].tolist() == \
        rec.signals["ppg"][125:250].tolist()
    trend = tmp_path / "trend.csv"  # seconds, but 1 Hz: not a waveform
    trend.write_text(_csv_text("Time [s],PLETH", [f"{i},{i % 7}" for i in range(60)]))
    with pytest.raises(RecordError, match=r"trend\.csv: time column 'Time \[s\]' gives 1 Hz"):
        read_record(trend)
    assert read_record(trend, fs=1.0).fs == {"ppg": 1.0}
    # seconds in a column named in milliseconds: 125 kHz (it had read as a 0.5-s record)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text(_csv_text("Time [ms],PLETH,II", _signal_rows(500, 125.0)))
    with pytest.raises(RecordError, match=r"wrong\.csv: time column 'Time \[ms\]' gives "
                                          r"125000 Hz, implausibly high .* name the column "
                                          r"'Time \[s\]'"):
        read_record(wrong)


@pytest.mark.parametrize("variant", ["bom", "quoted", "semicolon", "tab", "time_ms", "time_s",
                                     "seconds", "milliseconds", "decimal_comma", "crlf"])
def test_csv_dialects_are_read_and_listed(tmp_path: Path, variant: str) -> None:
    fs, sep = 125.0, {"semicolon": ";", "tab": "\t", "decimal_comma": ";"}.get(variant, ",")
    header = sep.join(["Time [s]", "PLETH", "II"])
    rows = _signal_rows(400, fs, sep)
    if variant == "quoted":
        header = '"Time [s]","PLETH","II"'
    elif variant in ("time_ms", "time_s"):
        header = f"{variant},PLETH,II"
        rows = _signal_rows(400, fs, time=variant[-2:].strip("_"))
    elif variant in ("seconds", "milliseconds"):  # they had been no time column
        header = f"Time ({variant}),PLETH,II"
        rows = _signal_rows(400, fs, time="ms" if variant == "milliseconds" else "s")
    elif variant == "decimal_comma":
        rows = [r.replace(".", ",") for r in rows]
    text = _csv_text(header, rows)
    path = tmp_path / f"{variant}.csv"
    if variant == "bom":
        path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    elif variant == "crlf":
        path.write_bytes(text.replace("\n", "\r\n").encode())
    else:
        path.write_text(text)
    (tmp_path / "REFERENCE.csv").write_text("A00001,N\nA00002,A\n")  # labels: no record
    assert find_records(tmp_path) == [path]
    rec = read_record(path)
    assert rec.channels == ["ppg", "ecg_ii"] and rec.fs == {"ppg": fs, "ecg_ii": fs}
    assert len(rec.signals["ppg"]) == 400
    assert rec.signals["ppg"][10] == pytest.approx(2 + np.sin(1.0), abs=1e-5)
    part = read_record(path, start=1.0, stop=2.0, channels=["ecg_ii"])
    np.testing.assert_array_equal(part.signals["ecg_ii"], rec.signals["ecg_ii"][125:250])


def test_decimal_commas_are_found_past_date_times_and_whole_first_rows(tmp_path: Path) -> None:
    """The decimal mark comes from the signal columns of many rows: a date-time column's points
    and a first row of whole numbers (as spreadsheets print 0) do not hide the commas."""
    t = pd.date_range("2024-01-01", periods=400, freq="8ms")
    wave = np.sin(np.arange(400) / 10)
    dated = tmp_path / "dated.csv"
    pd.DataFrame({"Timestamp": t, "PLETH": wave}).to_csv(dated, sep=";", decimal=",", index=False)
    rec = read_record(dated)
    assert rec.fs == {"ppg": 125.0}
    np.testing.assert_allclose(rec.signals["ppg"], wave, atol=1e-6)
    whole = tmp_path / "whole.csv"
    whole.write_text("time;PLETH\n0;1\n" + "".join(
        f"{i * 0.008:.3f};{1 + i:.1f}\n".replace(".", ",") for i in range(1, 400)))
    rec = read_record(whole)
    assert rec.fs == {"ppg": 125.0} and rec.signals["ppg"][3] == pytest.approx(4.0)


def test_csv_datetime_time_column_is_seconds_from_first_row(tmp_path: Path) -> None:
    path = tmp_path / "monitor.csv"
    path.write_text(_csv_text("Timestamp,PLETH,II", _signal_rows(1000, 125.0, time="iso")))
    rec = read_record(path)
    assert rec.fs == {"ppg": 125.0, "ecg_ii": 125.0} and rec.start_time == 0.0
    part = read_record(path, start=2.0, stop=3.0)
    assert part.start_time == 2.0
    np.testing.assert_array_equal(part.signals["ppg"], rec.signals["ppg"][250:375])
    bad = tmp_path / "bad.csv"
    bad.write_text(_csv_text("Timestamp,PLETH", ["yesterday,1.0", "today,2.0"]))
    with pytest.raises(RecordError, match=r"bad\.csv: time column 'Timestamp' holds 'yesterday'"):
        read_record(bad)


def test_npz_fs_as_one_element_array_and_bad_fs(tmp_path: Path) -> None:
    path = tmp_path / "arr.npz"
    np.savez(path, PLETH=np.arange(250.0), fs=np.array([125.0]))
    assert read_record(path).fs == {"ppg": 125.0}
    for name, fs in (("two", np.array([125.0, 250.0])), ("text", np.array("125")),
                     ("zero", np.float64(0.0)), ("nan", np.array([np.nan]))):
        bad = tmp_path / f"{name}.npz"
        np.savez(bad, PLETH=np.arange(250.0), fs=fs)
        with pytest.raises(RecordError, match=rf"{name}\.npz: 'fs' entry must be"):
            read_record(bad)
    own = tmp_path / "own.npz"  # a channel's own rate is named by its own key
    np.savez(own, ECG=np.arange(500.0), PLETH=np.arange(250.0), fs=250, fs_PLETH=-1)
    with pytest.raises(RecordError, match=r"own\.npz: 'fs_PLETH' entry must be a positive"):
        read_record(own)


def _hint_keywords(message: str) -> set[str]:
    """The keyword names of every ``read_record(path, ...)`` call a message suggests."""
    calls = re.findall(r"read_record\(path, ([^)]*)\)", message)
    assert calls, f"no read_record call in {message!r}"
    return {kw.split("=")[0].strip() for call in calls for kw in call.split(", ")}


def test_hints_name_keywords_and_files_that_work(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Each hint names read_record keywords that exist, and the file it describes reads."""
    params = set(inspect.signature(read_record).parameters)
    arr = np.stack([np.sin(np.arange(500) / 10), np.cos(np.arange(500) / 7)]).astype(np.float32)
    np.save(tmp_path / "x.npy", arr)
    with pytest.raises(RecordError) as npy:
        read_record(tmp_path / "x.npy")
    assert _hint_keywords(str(npy.value)) == {"fs", "channel_names"} <= params
    monkeypatch.chdir(tmp_path)  # the suggested np.savez(...) call, run as written
    eval(re.search(r"np\.savez\(.*\)", str(npy.value)).group(0), {"np": np, "x": arr})
    rec = read_record(tmp_path / "x.npz")
    assert rec.channels == ["ppg", "ecg_ii"] and rec.fs == {"ppg": 125.0, "ecg_ii": 125.0}
    np.testing.assert_array_equal(rec.signals["ecg_ii"], arr[1])

    np.savez(tmp_path / "nofs.npz", PLETH=arr[0])
    with pytest.raises(RecordError) as npz:
        read_record(tmp_path / "nofs.npz")
    assert _hint_keywords(str(npz.value)) == {"fs"} <= params
    np.savez(tmp_path / "nofs.npz", PLETH=arr[0], fs=125.0)  # the entry it asks for
    assert read_record(tmp_path / "nofs.npz").fs == {"ppg": 125.0}

    plain = _write_csv(tmp_path / "plain.csv", "PLETH,II", None, arr)
    headless = _write_csv(tmp_path / "headless.csv", None, None, arr)
    for path in (plain, headless):
        with pytest.raises(RecordError) as e:
            read_record(path)
        assert _hint_keywords(str(e.value)) <= params
    with pytest.raises(RecordError) as e:
        read_record(plain)
    column = re.search(r"named '([^']+)'", str(e.value)).group(1)  # the name it suggests
    timed = _write_csv(tmp_path / "timed.csv", f"{column},PLETH,II", np.arange(500) / 125, arr)
    assert read_record(timed).fs == {"ppg": 125.0, "ecg_ii": 125.0}
    ms = tmp_path / "ms.csv"
    ms.write_text(_csv_text("Time,PLETH,II", _signal_rows(500, 125.0, time="ms")))
    with pytest.raises(RecordError) as e:
        read_record(ms)
    assert _hint_keywords(str(e.value)) == {"fs"} <= params


def test_lines_before_a_csv_header_are_passed_over(tmp_path: Path) -> None:
    """Excel's ``sep=;`` line and a monitor export's ``#`` comment lines before the header:
    such a file had been passed over by a folder's read (nothing said) and refused alone
    ("no time column")."""
    rows = [r.replace(",", ";").replace(".", ",") for r in _signal_rows(1500, 125.0)]
    plain = tmp_path / "plain.csv"
    plain.write_text(_csv_text("Time [s];PLETH;II", rows))
    folder = tmp_path / "exports"
    folder.mkdir()
    excel = folder / "excel.csv"
    excel.write_text(_csv_text("sep=;\nTime [s];PLETH;II", rows))
    monitor = folder / "monitor.csv"
    monitor.write_text(_csv_text("# Device: X\n# Patient: 42\nTime [s];PLETH;II", rows))
    want = read_record(plain)
    for path in (excel, monitor):
        got = read_record(path)
        assert got.fs == want.fs == {"ppg": 125.0, "ecg_ii": 125.0}
        for c in want.channels:
            np.testing.assert_array_equal(got.signals[c], want.signals[c])
    assert sorted(find_records(folder)) == [excel, monitor]
    spaced = tmp_path / "spaced.csv"  # a blank line between the comments and the header
    spaced.write_text(_csv_text("# Device: X\n\nTime [s];PLETH;II", rows))
    numpy = tmp_path / "savetxt.csv"  # np.savetxt(..., header=...): the header commented out
    numpy.write_text(_csv_text("# exported\n# Time [s];PLETH;II", rows))
    for path in (spaced, numpy):
        np.testing.assert_array_equal(read_record(path).signals["ppg"], want.signals["ppg"])
    padded = tmp_path / "padded.csv"  # a spreadsheet's comment rows, padded with delimiters
    padded.write_text(_csv_text("#;;\n# Device X;;\nTime [s];PLETH;II", rows))
    np.testing.assert_array_equal(read_record(padded).signals["ppg"], want.signals["ppg"])
    # a comment that describes the file names no column, however many cells it has
    plain_rows = [r.split(";", 1)[1] for r in rows]
    described = tmp_path / "described.csv"
    described.write_text(_csv_text("# Philips MX800; bed 4", plain_rows))
    with pytest.raises(RecordError, match=r"described\.csv: no header line"):
        read_record(described, fs=125.0)
    # bare \r line ends (Excel's "CSV (Macintosh)"): a blank line after a comment, which
    # pandas counts as no line, is not passed over (it had shifted the rows by one)
    mac = tmp_path / "mac.csv"
    mac.write_bytes(_csv_text("# Device X\n\nTime [s];PLETH;II", rows).replace("\n", "\r")
                    .encode())
    with pytest.raises(RecordError, match=r"mac\.csv: line 2 holds no cell where the header"):
        read_record(mac)
    mac.write_bytes(_csv_text("# Device X\nTime [s];PLETH;II", rows).replace("\n", "\r")
                    .encode())
    np.testing.assert_array_equal(read_record(mac).signals["ppg"], want.signals["ppg"])
    for header in ("#;PLETH;II", "# PLETH;II", "## PLETH;II"):  # a '#' column, or a
        # commented header naming channels only: read with fs
        numbered = tmp_path / "numbered.csv"
        numbered.write_text(_csv_text(header, [f"{k};{r.split(';', 1)[1]}"
                                               for k, r in enumerate(rows)] if header[1] == ";"
                                      else [r.split(";", 1)[1] for r in rows]))
        got = read_record(numbered, fs=125.0)
        np.testing.assert_array_equal(got.signals["ppg"], want.signals["ppg"])
    for header, first in (("# PLETH;II;RESP", "ppg"), ("#Sample;PLETH;II", "sample")):
        labelled = tmp_path / "labelled.csv"  # other labels than the tasks' channels
        labelled.write_text(_csv_text(header, [f"{k};{r.split(';', 1)[1]}"
                                               for k, r in enumerate(rows)]))
        assert read_record(labelled, fs=125.0).channels[0] == first
    na = tmp_path / "na.csv"  # pandas' '#N/A ' mark in a headerless first row: a sample
    na.write_text("#N/A ;1.5\n" + "".join(f"{k};1.5\n" for k in range(1, 200)))
    assert len(read_record(na, fs=100.0, channel_names=["PLETH", "II"]).signals["ppg"]) == 200
    index = tmp_path / "index.csv"  # a first column named '#' is a header, not a comment
    index.write_text(_csv_text("#;Time [s];PLETH;II", [f"{k};{r}" for k, r in enumerate(rows)]))
    np.testing.assert_array_equal(read_record(index, channels=["ppg"]).signals["ppg"],
                                  want.signals["ppg"])
    bad = rows.copy()
    bad[100] = "0,8;oops;1,0"
    monitor.write_text(_csv_text("# Device: X\n# Patient: 42\nTime [s];PLETH;II", bad))
    with pytest.warns(RuntimeWarning, match=r"monitor\.csv: .*'oops' on non-blank line 104\)"):
        assert np.isnan(read_record(monitor).signals["ppg"][100])
    monitor.write_text(_csv_text("# Device X\n\n\nTime [s];PLETH;II", bad))  # 2 blank lines
    with pytest.warns(RuntimeWarning, match=r"monitor\.csv: .*'oops' on non-blank line 103\)"):
        read_record(monitor)


def test_csv_time_column_errors_name_the_bad_value_and_its_line(tmp_path: Path) -> None:
    rows = _signal_rows(5000, 125.0)
    for row, cell, at in ((501, "oops", "holds 'oops' on non-blank line 503"),  # in the head read
                          (3000, "later", "holds 'later' on non-blank line 3002"),  # past it
                          (700, "", r"has an empty \(or NaN\) cell on non-blank line 702"),
                          # inf had passed: "negative dimensions" (last row), "needs two
                          # increasing rows" (first), naming no column, line or value
                          (4999, "inf", "holds 'inf' on non-blank line 5001"),
                          (0, "inf", "holds 'inf' on non-blank line 2")):
        bad = rows.copy()
        bad[row] = cell + bad[row][bad[row].index(","):]
        path = tmp_path / f"bad{row}.csv"
        path.write_text(_csv_text("Time [s],PLETH,II", bad))
        with pytest.raises(RecordError, match=rf"bad{row}\.csv: time column 'Time \[s\]' {at}"):
            read_record(path)
    with pytest.raises(RecordError, match=r"bad3000\.csv: .* 'later' on non-blank line 3002"):
        read_record(tmp_path / "bad3000.csv", start=20.0)  # a span starting at row 2500
    iso = tmp_path / "iso.csv"
    iso_rows = _signal_rows(400, 125.0, time="iso")
    iso_rows[250] = "2024-13-45 99:00:00" + iso_rows[250][iso_rows[250].index(","):]
    iso.write_text(_csv_text("Timestamp,PLETH,II", iso_rows))
    with pytest.raises(RecordError, match=r"iso\.csv: time column 'Timestamp' holds "
                                          r"'2024-13-45 99:00:00' on non-blank line 252"):
        read_record(iso)
    # decimal commas: the bad cell is named, not the first (valid) one
    comma = tmp_path / "comma.csv"
    lines = ["Time [s];PLETH"] + [f"{k / 125:.3f};{k % 7},5".replace(".", ",")
                                  for k in range(300)]
    lines[6] = "---;1,5"
    comma.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordError, match=r"comma\.csv: time column 'Time \[s\]' holds '---' on "
                                          r"non-blank line 7"):
        read_record(comma)


@pytest.mark.parametrize("sep", [",", ";"])
def test_csv_placeholder_cells_read_as_missing(tmp_path: Path, sep: str, recwarn) -> None:
    """Cells a monitor writes for no value ('---', '-', '?', 'NaN', blank) are NaN in a signal
    column, also in a ``;`` file with decimal commas; the other cells keep their values."""
    rows = _signal_rows(600, 125.0, sep)
    if sep == ";":
        rows = [r.replace(".", ",") for r in rows]
    holes = {100: "---", 101: "---", 200: "-", 300: "?", 400: "NaN", 500: ""}
    for k, cell in holes.items():
        t, _, ii = rows[k].split(sep)
        rows[k] = sep.join([t, cell, ii])
    path = tmp_path / "monitor.csv"
    path.write_text(_csv_text(sep.join(["Time [s]", "PLETH", "II"]), rows))
    rec = read_record(path)
    assert rec.fs == {"ppg": 125.0, "ecg_ii": 125.0} and len(rec.signals["ppg"]) == 600
    ppg = rec.signals["ppg"]
    assert ppg.dtype == np.float32 and np.flatnonzero(np.isnan(ppg)).tolist() == sorted(holes)
    assert ppg[10] == pytest.approx(2 + np.sin(1.0), abs=1e-5)
    assert rec.signals["ecg_ii"][100] == pytest.approx(np.cos(100 / 7), abs=1e-5)
    part = read_record(path, start=0.8, stop=1.0, channels=["ppg"])  # rows 100..124
    assert np.isnan(part.signals["ppg"][:2]).all() and not np.isnan(part.signals["ppg"][2:]).any()
    assert not [w for w in recwarn if "cells are text" in str(w.message)]  # expected gaps


def test_csv_text_cells_in_a_signal_column_are_said(tmp_path: Path) -> None:
    """A few cells of text that is no placeholder ('ERR') are read as gaps, with a warning
    naming the column, their count and the first (they had become NaN without a word)."""
    rows = _signal_rows(400, 125.0)
    for k, cell in ((50, "ERR"), (51, "ERR"), (300, "ERR"), (301, "NA "), (302, " None")):
        t, _, ii = rows[k].split(",")
        rows[k] = ",".join([t, cell, ii])  # pandas' NA tokens, spaced, are gaps, not text
    path = tmp_path / "err.csv"
    path.write_text(_csv_text("Time [s],PLETH,II", rows))
    with pytest.warns(RuntimeWarning, match=r"err\.csv: column 'PLETH': 3 cells are text, not "
                                            r"numbers \(the first 'ERR' on non-blank line 52\)"):
        rec = read_record(path)
    assert np.flatnonzero(np.isnan(rec.signals["ppg"])).tolist() == [50, 51, 300, 301, 302]


def test_csv_column_of_text_is_refused_naming_column_value_and_line(tmp_path: Path) -> None:
    rows = [f"{r},{'ok' if i >= 3 else '1.5'}" for i, r in enumerate(_signal_rows(400, 125.0))]
    path = tmp_path / "notes.csv"
    path.write_text(_csv_text("Time [s],PLETH,II,Note", rows))
    with pytest.raises(RecordError, match=r"notes\.csv: column 'Note' is mostly not numbers "
                                          r"\(99% of 400 rows, the first 'ok' on non-blank "
                                          r"line 5\)"):
        read_record(path)
    rec = read_record(path, channels=["ppg", "ecg_ii"])  # as the message suggests
    assert rec.channels == ["ppg", "ecg_ii"] and not np.isnan(rec.signals["ppg"]).any()


def test_npz_that_is_no_zip_says_so(tmp_path: Path) -> None:
    text = tmp_path / "text.npz"
    text.write_bytes(b"hello world")
    renamed = tmp_path / "renamed.npz"
    np.save(tmp_path / "a.npy", np.zeros((2, 10)))
    (tmp_path / "a.npy").rename(renamed)
    empty, short = tmp_path / "empty.npz", tmp_path / "short.npz"
    empty.write_bytes(b"")
    short.write_bytes(b"PK")
    for path, kind in ((text, "a CSV or text renamed?"), (renamed, "a .npy renamed?"),
                       (empty, "it is empty"), (short, "it is cut short")):  # (each of the
        # last two, and a text, had been "a .npy renamed?")
        with pytest.raises(RecordError, match=rf"{path.stem}\.npz: not a valid \.npz \(zip\) "
                                              rf"file.*\({re.escape(kind)}\)") as e:
            read_record(path)
        assert "pickle" not in str(e.value)
    cut = tmp_path / "cut.npz"
    np.savez(cut, PLETH=np.arange(1000.0), fs=100.0)
    cut.write_bytes(cut.read_bytes()[:300])
    with pytest.raises(RecordError, match=r"cut\.npz: truncated or corrupt \.npz file"):
        read_record(cut)


def test_npy_that_is_no_npy_says_so(tmp_path: Path) -> None:
    """An .npz renamed .npy had been an AttributeError ('NpzFile' object has no attribute
    'ndim'), a text file "pickled (object) data", with NumPy's advice to load it unsafely."""
    np.savez(tmp_path / "z.npz", II=np.zeros(100), fs=100.0)
    (tmp_path / "z.npz").rename(tmp_path / "zip.npy")
    (tmp_path / "text.npy").write_text("1,2,3\n")
    (tmp_path / "empty.npy").write_bytes(b"")
    np.save(tmp_path / "whole.npy", np.zeros(100))
    (tmp_path / "short.npy").write_bytes((tmp_path / "whole.npy").read_bytes()[:3])
    (tmp_path / "gz.npy").write_bytes(gzip.compress((tmp_path / "whole.npy").read_bytes()))
    (tmp_path / "pkl.npy").write_bytes(b"\x80\x04\x95\x10\x00\x00\x00")  # a pickle
    for name, kind in (("zip", r"an \.npz \(zip\) renamed\?"), ("text", "a CSV or text renamed"),
                       ("empty", "it is empty"), ("short", "it is cut short"),
                       ("gz", r"gzip-compressed: decompress it \(gunzip\) first"),
                       ("pkl", "binary data of another kind")):
        with pytest.raises(RecordError, match=rf"{name}\.npy: not a valid \.npy file; it is "
                                              rf"corrupt, or of another format \({kind}") as e:
            read_record(tmp_path / f"{name}.npy", fs=100.0, channel_names=["II"])
        assert "pickle" not in str(e.value)
    cut = tmp_path / "cut.npy"
    np.save(cut, np.arange(1000.0))
    cut.write_bytes(cut.read_bytes()[:300])
    with pytest.raises(RecordError, match=r"cut\.npy: truncated or corrupt \.npy file"):
        read_record(cut, fs=100.0, channel_names=["II"])


@pytest.mark.parametrize("newline", ["\n", "\r\r\n"])
def test_a_span_of_a_csv_with_blank_lines_is_the_same_samples(tmp_path, newline) -> None:
    """Blank lines are no rows: a span read of a file with them (after the header, or as the
    extra "\\r" of "\\r\\r\\n" endings) gives the samples a whole read gives there."""
    x = np.round(np.sin(np.arange(3000) / 7.0), 5)
    t = np.arange(3000) / 125.0
    for name, has_time in (("time.csv", True), ("notime.csv", False)):
        rows = [f"{ti:.3f},{xi}" if has_time else f"{xi}" for ti, xi in zip(t, x, strict=True)]
        head = "Time [s],PLETH" if has_time else "PLETH"
        (tmp_path / name).write_bytes(newline.join([head, "", *rows, ""]).encode())
        kw = {} if has_time else {"fs": 125.0}
        whole = read_record(tmp_path / name, **kw).signals["ppg"]
        part = read_record(tmp_path / name, start=10.0, stop=20.0, **kw)
        assert part.start_time == 10.0
        np.testing.assert_array_equal(part.signals["ppg"], whole[1250:2500])
        np.testing.assert_allclose(whole, x, atol=1e-6)


def test_numbers_past_float32_are_named_not_silently_inf(tmp_path: Path) -> None:
    """A CSV number beyond float32's range reads as inf (a missing sample) with a warning that
    names the file, the column and the line, instead of numpy's anonymous overflow warning."""
    import warnings

    path = tmp_path / "big.csv"
    rows = [f"{i / 100:.2f},{np.sin(i / 10):.4f},{1e60 if i == 7 else 1.0}" for i in range(300)]
    path.write_text("time [s],II,PLETH\n" + "\n".join(rows) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = read_record(path)
    assert [str(w.message) for w in caught] == [
        f"{path}: column 'PLETH': 1 values are inf or beyond float32's range (the first on "
        "non-blank line 9); they are read as inf and count as missing samples"]
    assert np.isinf(rec.signals["ppg"]).sum() == 1 and np.isinf(rec.signals["ppg"][7])


def test_csv_lines_wider_than_the_header_and_utf16_files_are_refused(tmp_path: Path,
                                                                    monkeypatch) -> None:
    """An unquoted ``1,234.5`` gives a line more cells than the header names, which had been
    read shifted (PLETH 1, II 234.5); a UTF-16 file had been passed over without a word."""
    from qualityfm.io.read import passed_over_skips

    wide = tmp_path / "wide.csv"
    wide.write_text("Time [s],PLETH,II,\n0.000,1.5,0.1,\n0.008,1,234.5,0.0153\n")
    with pytest.raises(RecordError, match=r"wide\.csv: line 3 has 4 cells, the first row "
                                          r"names 3"):  # trailing delimiters not counted
        read_record(wide)
    wide.write_text("Time [s],PLETH,II\n0.000,1.5,0.1\n0.008,1,234.5,0.0153\n")
    with pytest.raises(RecordError, match=r"wide\.csv: line 3 has 4 cells, the first row "
                                          r"names 3 \(an unquoted comma in a number, or a "
                                          r"column the first row does not name\?\)"):
        read_record(wide)
    # a quoted cell holding the delimiter after a space is one cell, as pandas reads it; a
    # header's trailing delimiter names no column (it had given an empty 'unknown' channel)
    wide.write_text('Time [s], PLETH, II, Note\n0.000, 0.05, 0.99, "ok, fine"\n'
                    '0.008, 0.06, 0.98, "x"\n')
    assert read_record(wide, channels=["ppg", "ecg_ii"]).signals["ppg"].tolist() == [
        pytest.approx(0.05), pytest.approx(0.06)]
    wide.write_text("Time [s],PLETH,II,\n0.000,1.5,0.1\n0.008,1.2,0.3\n")
    assert read_record(wide).channels == ["ppg", "ecg_ii"]
    # a wide line far into the file (past the first lines checked) is refused too, when
    # the read reaches it
    lines = [f"{i / 125:.3f},{i % 7},{i % 5}" for i in range(5000)]
    lines[4000] = f"{4000 / 125:.3f},1,234.5,3"
    wide.write_text("Time [s],PLETH,II\n" + "\n".join(lines) + "\n")
    with pytest.raises(RecordError, match=r"wide\.csv: line 4002 has 4 cells"):
        read_record(wide)
    assert len(read_record(wide, stop=20.0).signals["ppg"]) == 2500
    # read in chunks that end mid-line and hold no whole line: the same line is named
    monkeypatch.setattr("qualityfm.io.table_reader._WIDTH_CHUNK", 7)
    with pytest.raises(RecordError, match=r"wide\.csv: line 4002 has 4 cells"):
        read_record(wide)
    wide.write_text(wide.read_text().rstrip("\n") + ",9")  # the last line, without newline
    with pytest.raises(RecordError, match=r"wide\.csv: line 4002 has 4 cells"):
        read_record(wide)
    lines[4000] = f"{4000 / 125:.3f},1,2"
    wide.write_text("Time [s],PLETH,II\n" + "\n".join(lines) + ",9")
    with pytest.raises(RecordError, match=r"wide\.csv: line 5001 has 4 cells"):
        read_record(wide)
    monkeypatch.undo()
    wide.write_text("Time [s],PLETH,II\n0.000,1.5\n0.008,1.2,0.3\n")  # a first line short
    with pytest.raises(RecordError, match=r"wide\.csv: the first data line \(line 2\) holds "
                                          r"fewer cells than the first row names: column\(s\) "
                                          r"\[3\] missing"):
        read_record(wide)
    wide.unlink()
    t = np.arange(0, 10, 1 / 125)
    text = "Time [s],PLETH,II\n" + "".join(f"{a:.3f},{np.sin(a):.4f},{np.cos(a):.4f}\n"
                                           for a in t)
    (tmp_path / "u16.csv").write_text(text, encoding="utf-16")
    with pytest.raises(RecordError, match=r"u16\.csv: UTF-16 text, which is not read: save it "
                                          r"as UTF-8"):
        read_record(tmp_path / "u16.csv")
    assert find_records(tmp_path) == []
    assert [e["reason"] for e in passed_over_skips(tmp_path)] == [
        f"{tmp_path / 'u16.csv'}: UTF-16 text, which is not read: save it as UTF-8"]


def test_decimal_commas_past_the_first_lines_and_in_the_time_column_are_read(tmp_path) -> None:
    """A ';' file whose first lines hold whole numbers had taken '.' for its decimal mark and
    read every later '80,5' as NaN without a word; a time column in seconds written '0,008'
    beside whole-number signals had been refused as no number."""
    n, fs = 3000, 125
    abp = [0] * 250 + [80 + (i % 5) / 2 for i in range(n - 250)]
    cell = [f"{v:g}".replace(".", ",") for v in abp]
    late = tmp_path / "late.csv"
    late.write_text("Time;ABP\n" + "".join(  # ISO date-times: no mark to learn from
        f"2024-03-01T10:{i // (60 * fs):02d}:{(i % (60 * fs)) / fs:06.3f};{c}\n"
        for i, c in enumerate(cell)))
    rec = read_record(late)
    assert rec.fs == {"abp": 125.0} and not np.isnan(rec.signals["abp"]).any()
    np.testing.assert_allclose(rec.signals["abp"], abp)
    whole = tmp_path / "whole.csv"  # integer signals, the time alone with decimal commas
    whole.write_text("Time [s];PLETH\n" + "".join(
        f"{f'{i / fs:.3f}'.replace('.', ',')};{i % 97}\n" for i in range(n)))
    rec = read_record(whole)
    assert rec.fs == {"ppg": 125.0} and rec.signals["ppg"][:3].tolist() == [0, 1, 2]


def test_iso_times_across_a_daylight_saving_switch_and_with_a_decimal_comma(tmp_path) -> None:
    """Stamps whose UTC offset changes had been refused as "unreadable" (pandas refuses mixed
    zones unless told UTC); '10:00:00,008' (ISO 8601's comma, Python logging's format) had
    been called no date-time."""
    import pandas as pd

    fs = 125
    start = pd.Timestamp("2024-03-31T00:59:50", tz="UTC")  # 01:59:50+01:00 -> 03:00:05+02:00
    stamps = [start + pd.Timedelta(seconds=i / fs) for i in range(16 * fs)]
    local = [t.tz_convert("Europe/Paris").isoformat(timespec="milliseconds") for t in stamps]
    assert local[0].endswith("+01:00") and local[-1].endswith("+02:00")
    dst = tmp_path / "dst.csv"
    dst.write_text("Time,PLETH\n" + "".join(f"{t},{i % 50}\n" for i, t in enumerate(local)))
    rec = read_record(dst)
    assert rec.fs == {"ppg": 125.0} and len(rec.signals["ppg"]) == 16 * fs
    comma = tmp_path / "comma.csv"
    comma.write_text("Time;PLETH\n" + "".join(
        f"2024-03-01 10:00:{i // fs:02d},{(i % fs) * 8:03d};{i % 50}\n" for i in range(10 * fs)))
    rec = read_record(comma)
    assert rec.fs == {"ppg": 125.0} and len(rec.signals["ppg"]) == 10 * fs


def test_the_delimiter_is_counted_outside_quoted_names(tmp_path) -> None:
    """A ';' file whose quoted names hold commas (the MIMIC PERform label style) had been read
    as a comma file, and found no time column."""
    path = tmp_path / "sc.csv"
    path.write_text('"Time [s]";"PLETH, PPG recorded using bedside monitor";'
                    '"ECG, ECG recorded using bedside monitor, lead II"\n' + "".join(
                        f"{i / 125:.3f};{i % 50};{i % 7}\n" for i in range(1250)))
    rec = read_record(path)
    assert sorted(rec.signals) == ["ecg_ii", "ppg"] and rec.fs["ppg"] == 125.0


def test_later_commas_are_no_decimal_marks_where_points_were_seen(tmp_path) -> None:
    """The fallback that reads a ';' file's later decimal commas holds only where its first
    lines showed no mark: beside points a '1,234' is a thousands separator, left as text
    (NaN), not read 1000 times too small."""
    fs = 125
    rows = [f"{i / fs:.3f};{80.5 + i % 3}" if i < 2500 else f"{i / fs:.3f};1,234"
            for i in range(2600)]
    path = tmp_path / "points.csv"
    path.write_text("Time [s];ABP\n" + "\n".join(rows) + "\n")
    with pytest.warns(RuntimeWarning, match=r"'ABP': 100 cells are text, not numbers \(the "
                                            r"first '1,234' on non-blank line 2502\)"):
        abp = read_record(path).signals["abp"]
    assert abp[:2].tolist() == [80.5, 81.5] and np.isnan(abp[2500:]).all()


def test_a_headerless_first_row_with_a_blank_and_decimal_commas_without_a_header(
        tmp_path) -> None:
    """A header-less CSV whose first row has a blank or placeholder cell had lost that row,
    every sample one step early, unsaid; a ';' or tab file of decimal commas without a header
    had been split on its commas (more of them in a data line than delimiters)."""
    for first in ("", "-", "?", "NA", "null", "#N/A"):
        path = tmp_path / "blank.csv"
        path.write_text(f"{first},0.5\n1.0,0.6\n2.0,0.7\n3.0,0.8\n")
        rec = read_record(path, fs=100, channel_names=["PLETH", "II"])
        assert np.isnan(rec.signals["ppg"][0]) and rec.signals["ppg"][1:].tolist() == [1, 2, 3]
        np.testing.assert_allclose(rec.signals["ecg_ii"], [0.5, 0.6, 0.7, 0.8], rtol=1e-6)
        with pytest.raises(RecordError, match=r"blank\.csv: no header line"):
            read_record(path, fs=100)
    for sep in (";", "\t"):
        path = tmp_path / "dc.csv"
        path.write_text("".join(f"{i},0{sep}0,{i + 5}\n" for i in range(1, 4)))
        rec = read_record(path, fs=100, channel_names=["PLETH", "II"])
        np.testing.assert_allclose(rec.signals["ppg"], [1, 2, 3])
        np.testing.assert_allclose(rec.signals["ecg_ii"], [0.6, 0.7, 0.8], rtol=1e-6)
    blank = tmp_path / "blank_last.csv"  # a missing last sample: still ';'
    blank.write_text("1,0;0,5\n2,0;0,6\n3,0;\n4,0;0,8\n")
    rec = read_record(blank, fs=100, channel_names=["PLETH", "II"])
    assert rec.signals["ppg"].tolist() == [1, 2, 3, 4] and np.isnan(rec.signals["ecg_ii"][2])
    text = tmp_path / "text.csv"  # a ';' in one text cell of a comma file: still commas
    text.write_text("Time [s],II,event;label\n" + "".join(
        f"{i / 125:.3f},{i % 7},{'alarm; VT' if i == 5 else ''}\n" for i in range(1250)))
    with pytest.warns(RuntimeWarning, match=r"'event;label': 1 cell is text"):
        assert read_record(text).channels[0] == "ecg_ii"
    for header in ("Time [s],II,PLETH\t", "Time [s],ABP [mmHg; art],PLETH"):
        path = tmp_path / "comma.csv"  # a tab or ';' in a comma file's header: still commas
        path.write_text(header + "\n" + "".join(f"{i / 125:.3f},{i % 7},{i % 50}\n"
                                                for i in range(1250)))
        assert len(read_record(path).channels) == 2
    named = tmp_path / "named.csv"  # names with commas, no quotes: the ';' still delimits
    named.write_text("Time [s];ECG, lead II;PLETH\n" + "".join(
        f"{i / 125:.3f};{i % 7};{i % 50}\n" for i in range(1250)))
    assert sorted(read_record(named).signals) == ["ecg_ii", "ppg"]


def test_leads_written_as_lead_x_are_ecg_leads() -> None:
    """'Lead V', 'Lead aVR', 'ECG lead V5' had been unknown channels (no ECG in the record);
    'Lead II' had been read, being in the alias table."""
    from qualityfm.io.channels import canonical_channel, is_ecg

    got = [canonical_channel(x) for x in ("Lead II", "Lead V", "Lead aVR", "ECG lead V2",
                                          "Lead V5", "Lead MCL1", "EKG III", "Lead pleth")]
    assert got == ["ecg_ii", "ecg_v", "ecg_avr", "ecg_v2", "ecg_v5", "ecg_mcl", "ecg_iii",
                   "lead_pleth"]
    assert all(is_ecg(name) for name in got[:-1])
    assert canonical_channel("ECG RESP") == "resp"  # an ECG-derived respiration, as before


def test_readers_name_what_they_cannot_use(tmp_path) -> None:
    """A .npy of [samples, channels] is named as such; a UCI part given to read_record points
    to its reader (it had been called a WFDB signal file without its header); a column is
    found by its whole header cell, unit and all."""
    np.save(tmp_path / "d.npy", np.zeros((1000, 2), np.float32))
    with pytest.raises(RecordError, match=r"2 channel_names for 1000 rows \(an array of "
                                          r"\[samples, channels\] \(1000, 2\)\? save arr\.T"):
        read_record(tmp_path / "d.npy", fs=125, channel_names=["PLETH", "II"])
    (tmp_path / "Part_1.mat").write_bytes(b"MATLAB 5.0 MAT-file")
    with pytest.raises(RecordError, match=r"Part_1\.mat: a part of the UCI cuff-less BP data "
                                          r"set.*read_uci_bp"):
        read_record(tmp_path / "Part_1.mat")
    path = tmp_path / "u.csv"
    path.write_text("Time [s],PLETH [NU],ECG [mV]\n" + "".join(
        f"{i / 125:.3f},{i % 50},{i % 7}\n" for i in range(250)))
    for asked in (["ECG [mV]"], "ECG [mV]"):
        rec = read_record(path, channels=asked)
        assert rec.channels == ["ecg"] and rec.signals["ecg"][:3].tolist() == [0, 1, 2]


def test_a_csv_cut_while_written_is_said(tmp_path: Path) -> None:
    """A CSV whose last line was cut while written (no line end, fewer cells) had its cut
    cell read as a value (0.71 of 0.71394) and its missing cells as gaps, without a word."""
    rows = "".join(f"{i / 125:.3f},{0.5 + i / 1e4:.5f},{0.1:.5f}\n" for i in range(2000))
    whole = tmp_path / "whole.csv"
    whole.write_text("Time [s],PLETH,II\n" + rows)
    cut = tmp_path / "cut.csv"
    cut.write_text("Time [s],PLETH,II\n" + rows + "16.000,0.71")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_record(whole)  # whole: nothing to say
    with pytest.warns(RuntimeWarning, match=r"cut\.csv: its last line ends without a line end "
                                            r"and holds 2 of 3 cells"):
        rec = read_record(cut)
    assert len(rec.signals["ppg"]) == 2001 and np.isnan(rec.signals["ecg_ii"][-1])
    for name, text in (("gaps.csv", "Time [s],PLETH,II\n" + rows + "16.000,0.5,"),  # a gap
                       ("cr.csv", ("Time [s],PLETH,II\n" + rows + "16.000,0.5,0.1")
                        .replace("\n", "\r"))):  # lines ended by \r alone (had been refused)
        (tmp_path / name).write_text(text, newline="")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert len(read_record(tmp_path / name).signals["ppg"]) == 2001


def test_an_npz_channel_rate_matches_its_array_in_any_case_or_label(tmp_path) -> None:
    """`fs_PLETH` beside an array `Pleth` had been passed over: the PPG read at the file's
    `fs` (twice its speed) and the entry read as a 1-sample channel `fs_pleth`."""
    ecg, ppg = np.arange(2000.0), np.arange(1000.0)
    for entry in ("fs_PLETH", "fs_pleth", "fs_ppg", "FS_Pleth"):
        path = tmp_path / f"{entry}.npz"
        np.savez(path, fs=250.0, II=ecg, Pleth=ppg, **{entry: np.array([125.0])})
        rec = read_record(path)
        assert rec.fs == {"ecg_ii": 250.0, "ppg": 125.0} and set(rec.signals) == {"ecg_ii", "ppg"}
    np.savez(tmp_path / "stray.npz", fs=250.0, II=ecg, fs_ABP=125.0)
    with pytest.raises(RecordError, match=r"stray\.npz: 'fs_ABP' gives a rate for no array of "
                                          r"the file \(its arrays: II\)"):
        read_record(tmp_path / "stray.npz")
    np.savez(tmp_path / "twice.npz", fs=250.0, Pleth=ppg, fs_PLETH=125.0, fs_ppg=125.0)
    with pytest.raises(RecordError, match="two entries give the rate of array 'Pleth'"):
        read_record(tmp_path / "twice.npz")
    np.savez(tmp_path / "both.npz", fs=62.5, ECG1=ecg, ECG2=ecg, fs_ecg=125.0)  # which one?
    with pytest.raises(RecordError, match=r"'fs_ecg' gives a rate for several arrays "
                                          r"\(ECG1, ECG2\)"):
        read_record(tmp_path / "both.npz")
    np.savez(tmp_path / "signal.npz", fs=250.0, II=ecg, fs_signal=ecg)  # an array: a channel
    assert set(read_record(tmp_path / "signal.npz").signals) == {"ecg_ii", "fs_signal"}
    np.savez(tmp_path / "upper.npz", FS=250.0, II=ecg, Pleth=ppg, fs_PLETH=125.0)  # FS, as FS_
    assert read_record(tmp_path / "upper.npz").fs == {"ecg_ii": 250.0, "ppg": 125.0}
    np.savez(tmp_path / "rates.npz", fs=250.0, FS=250.0, II=ecg)
    with pytest.raises(RecordError, match="entries fs, FS each give the file's rate"):
        read_record(tmp_path / "rates.npz")


@pytest.mark.parametrize("fs", [0, -125.0, float("nan"), float("inf"), "125"])
def test_a_bad_fs_argument_is_named_for_every_format(tmp_path, fs) -> None:
    """fs=0 had been a ZeroDivisionError, NaN a cast error, and an .npz blamed its file."""
    np.save(tmp_path / "x.npy", np.zeros((2, 500), np.int16))
    np.savez(tmp_path / "x.npz", II=np.zeros(500))
    (tmp_path / "x.csv").write_text("PLETH,II\n" + "0,0\n1,-1\n" * 300)
    for name in ("x.npy", "x.npz", "x.csv"):
        kw = {"channel_names": ["PLETH", "II"]} if name != "x.npz" else {}
        with pytest.raises(RecordError, match=rf"{name}: fs=.* must be a sampling rate in Hz"):
            read_record(tmp_path / name, fs=fs, **kw)


def test_a_first_line_of_numbers_and_text_taken_as_a_header_is_said(tmp_path) -> None:
    """A first row `100,LEAD OFF` had been taken as a header when channel_names were given,
    and dropped without a word; a header may hold a number too (`Pleth,II,V,0.5`), so it is
    still a header, said."""
    path = tmp_path / "nh.csv"
    path.write_text("100,LEAD OFF\n" + "".join(f"{i},{-i}\n" for i in range(10)))
    with pytest.warns(RuntimeWarning, match=r"nh\.csv: line 1 \('100,LEAD OFF'\) holds numbers "
                                            r"but is read as a header and passed over"):
        rec = read_record(path, fs=125, channel_names=["PLETH", "II"])
    np.testing.assert_array_equal(rec.signals["ppg"], np.arange(10))
    header = tmp_path / "h.csv"
    header.write_text("Pleth,II,V,0.5\n" + "".join(f"{i % 7},{i % 5},1,2\n" for i in range(60)))
    with pytest.warns(RuntimeWarning, match="holds numbers but is read as a header"):
        rec = read_record(header, fs=125, channel_names=["PLETH", "II", "V", "X"])
    assert rec.signals["ppg"][:3].tolist() == [0, 1, 2]
    named = tmp_path / "named.csv"  # a header of names (NaN a placeholder): nothing to say
    named.write_text("a,NaN\n" + "".join(f"{i},{-i}\n" for i in range(10)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_record(named, fs=125, channel_names=["PLETH", "II"]).signals["ppg"]) == 10


def test_a_time_column_stepping_back_names_its_row(tmp_path) -> None:
    """The refusal gave the range of steps only: in a file of thousands of rows the user had
    to search for the one at fault."""
    t = np.arange(6000) / 125.0
    t[3000:] -= 0.5
    path = tmp_path / "back.csv"
    path.write_text("Time [s],PLETH\n" + "".join(f"{a:.3f},{np.sin(a):.4f}\n" for a in t))
    with pytest.raises(RecordError, match=r"irregular time column: .*; data row 3001 \(after "
                                          r"the header\) has time 23\.5 s, not after the "
                                          r"previous row's 23\.992 s"):
        read_record(path)
    # stamps of 2 decimals at 125 Hz repeat where they round alike: the row stepping back is
    # named, not the first repeat (BIDMC's 100.02 s twice had been named)
    path.write_text("Time [s],PLETH\n" + "".join(f"{a:.2f},{np.sin(a):.4f}\n" for a in t))
    with pytest.raises(RecordError, match=r"; data row 3001 \(after the header\) has time "
                                          r"23\.5 s, not after the previous row's 23\.99 s"):
        read_record(path)


def test_reader_warnings_name_the_callers_line(tmp_path) -> None:
    """Each reader's warning points at the user's call, not at a line inside qualityfm (the
    hand-counted stack levels had pointed into io/ for some callers)."""
    import warnings

    from qualityfm.io.write import write_wfdb

    text = tmp_path / "text.csv"
    text.write_text("PLETH\n" + "".join(f"{i}\n" for i in range(300)) + "LEAD OFF\n")
    rates = tmp_path / "rates.npz"
    np.savez(rates, PLETH=np.zeros(250), II=np.zeros(500), fs=125.0)
    header = tmp_path / "header.csv"
    header.write_text("7,LEAD OFF\n" + "".join(f"{i},{i}\n" for i in range(300)))
    rec = read_record(text, fs=125)
    rec.units["ppg"] = "NU"
    hea = write_wfdb(rec, tmp_path / "gain")
    hea.write_text(re.sub(r" [0-9.e+-]+\(-?\d+\)/NU", " 0/NU", hea.read_text()))
    for path, kwargs, said in ((text, {"fs": 125}, "text, not numbers"),
                               (rates, {}, "differ in length"),
                               (header, {"fs": 125, "channel_names": ["PLETH", "II"]},
                                "read as a header"),
                               (hea, {}, "ADC gain of 0")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            read_record(path, **kwargs)
        assert any(said in str(w.message) for w in caught), (path.name, said)
        assert all(w.filename == __file__ for w in caught), (
            path.name, [(w.filename, str(w.message)) for w in caught])


def test_a_warning_of_a_context_manager_names_the_with_line(tmp_path, monkeypatch) -> None:
    """A folder lock that cannot lock warns at the user's ``with`` line (contextlib's own
    frame had been named)."""
    import fcntl

    from qualityfm.io.folders import folder_lock

    def refuse(*args) -> None:  # noqa: ANN002
        raise OSError(95, "Operation not supported")

    monkeypatch.setattr(fcntl, "flock", refuse)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with folder_lock(tmp_path, "prepare"):
            pass
    assert [w.filename for w in caught if "cannot lock" in str(w.message)] == [__file__]


def test_a_row_of_units_under_the_header_gives_the_units(tmp_path: Path) -> None:
    """WFDB's ``rdsamp -c -v -p`` writes quoted names and a row of units ('seconds','mV'):
    the time column had not been found (its quotes kept), and with ``fs`` the units row had
    been read as a first sample of NaN, every sample one step late."""
    rows = _signal_rows(500, 125.0)
    plain = tmp_path / "plain.csv"
    plain.write_text(_csv_text("Time [s],PLETH,II", rows))
    want = read_record(plain)
    rdsamp = tmp_path / "rdsamp.csv"
    rdsamp.write_text(_csv_text("'Elapsed time','PLETH','II'\n'seconds','NU','mV'", rows))
    short = tmp_path / "short.csv"
    short.write_text(_csv_text("Time;PLETH;II\ns;;mV", [r.replace(",", ";") for r in rows]))
    timeless = tmp_path / "timeless.csv"
    timeless.write_text(_csv_text("PLETH,II\nNU,mV", [r.split(",", 1)[1] for r in rows]))
    for path, kw in ((rdsamp, {}), (short, {}), (timeless, {"fs": 125.0})):
        got = read_record(path, **kw)
        assert got.channels == ["ppg", "ecg_ii"], path
        for ch in got.channels:
            np.testing.assert_array_equal(got.signals[ch], want.signals[ch])
        assert got.fs == want.fs and got.units["ecg_ii"] == "mV", path
    assert read_record(rdsamp).units["ppg"] == "NU" and read_record(short).units["ppg"] == ""
    assert rdsamp in find_records(tmp_path)  # its time column named: a record
    # a first row of text that names no unit is no units row: its cells are gaps, said
    gap = tmp_path / "gap.csv"
    gap.write_text(_csv_text("Time [s],PLETH,II", ["0.000,LEAD OFF,LEAD OFF", *rows[1:]]))
    with pytest.warns(RuntimeWarning, match=r"column 'PLETH': 1 cell is text"):
        rec = read_record(gap)
    assert np.isnan(rec.signals["ppg"][0]) and len(rec.signals["ppg"]) == 500
    # a bad time stamp after a units row is named on its own line
    bad = tmp_path / "bad.csv"
    bad.write_text(_csv_text("Time,PLETH,II\ns,NU,mV", [*rows[:3], "x,1,2", *rows[4:]]))
    with pytest.raises(RecordError, match=r"holds 'x' on non-blank line 6"):
        read_record(bad)
    # a unit holding brackets of its own, mm[Hg], in the units row or the header's cell: the
    # channel keeps its name (it had been abp_mm_hg, no arterial line to the abp task)
    for name, header in (("row.csv", "Time [s],PLETH,ABP\ns,NU,mm[Hg]"),
                         ("cell.csv", "Time [s],PLETH,ABP [mm[Hg]]")):
        (tmp_path / name).write_text(_csv_text(header, rows))
        got = read_record(tmp_path / name)
        assert got.channels == ["ppg", "abp"] and got.units["abp"] == "mm[Hg]", name


def test_a_note_with_a_point_leaves_decimal_commas_and_any_unit_under_time_a_units_row(
        tmp_path: Path) -> None:
    """One note holding a point in a text column ("Pat. bewegt") had turned the decimal-comma
    guess off, the whole ``;`` file refused as text; a units row under a time column's unit
    naming a unit not on the list (``rpm``) had been read as a data line, refused as a time
    column holding ``s``."""
    rows = [f"{8 * i};{0.5 + i % 7 / 10:.2f}".replace(".", ",") + f";{np.sin(i / 9):.3f};"
            .replace(".", ",") + ("Pat. bewegt" if i == 40 else "") for i in range(1000)]
    noted = tmp_path / "noted.csv"
    noted.write_text(_csv_text("Time [ms];PLETH;II;Alarm", rows))
    rec = read_record(noted, channels=["ppg", "ecg_ii"])
    assert rec.fs["ppg"] == 125.0
    np.testing.assert_allclose(rec.signals["ppg"][:3], [0.5, 0.6, 0.7], rtol=1e-6)
    np.testing.assert_allclose(rec.signals["ecg_ii"][9], np.sin(1.0), atol=1e-3)
    units = tmp_path / "units.csv"
    units.write_text(_csv_text("Time,PLETH,RESP\ns,NU,rpm",
                               [f"{i / 125:.3f},{np.sin(i / 9):.4f},{i % 5}" for i in range(500)]))
    rec = read_record(units)
    assert len(rec.signals["ppg"]) == 500 and rec.fs["ppg"] == 125.0
    assert rec.units == {"ppg": "NU", "resp": "rpm"}
    assert rec.signals["ppg"][0] == 0.0  # the units row is no sample


def test_first_rows_of_data_are_no_units_row(tmp_path: Path) -> None:
    """A review of the units-row reading: a first row of blanks beside a date-time, of
    ``None`` placeholders, or a headerless file's second line of them had been taken for a
    units row (a sample dropped, every sample shifted); ``min`` under Time read as seconds,
    60 times the rate; ``a.u.`` in a ``;`` file's units row taken for a decimal point."""
    rows = _signal_rows(300, 125.0)
    stamps = _signal_rows(300, 125.0, time="iso")
    dated = tmp_path / "dated.csv"
    dated.write_text(_csv_text("Timestamp,PLETH,II",
                               [stamps[0].split(",")[0] + ",,", *stamps[1:]]))
    rec = read_record(dated)
    assert len(rec.signals["ppg"]) == 300 and np.isnan(rec.signals["ppg"][0])
    timeless = tmp_path / "timeless.csv"
    timeless.write_text(_csv_text("PLETH,II", ["None,None", *(r.split(",", 1)[1]
                                                              for r in rows[1:])]))
    rec = read_record(timeless, fs=125.0)
    assert len(rec.signals["ppg"]) == 300 and np.isnan(rec.signals["ppg"][0])
    assert rec.units == {"ppg": "", "ecg_ii": ""}
    bare = tmp_path / "bare.csv"
    bare.write_text("\n".join([rows[0].split(",", 1)[1], "None,None",
                               *(r.split(",", 1)[1] for r in rows[2:])]) + "\n")
    rec = read_record(bare, fs=125.0, channel_names=["PLETH", "II"])
    assert len(rec.signals["ppg"]) == 300 and np.isnan(rec.signals["ppg"][1])
    minutes = tmp_path / "minutes.csv"
    minutes.write_text(_csv_text("Time,PLETH,II\nmin,NU,mV", rows))
    with pytest.raises(RecordError, match=r"column 'Time \[min\]' is read as no time column"):
        read_record(minutes)
    au = tmp_path / "au.csv"
    au.write_text(_csv_text("Time;PLETH;II\ns;a.u.;mV",
                            [r.replace(",", ";").replace(".", ",") for r in rows]))
    rec = read_record(au)
    np.testing.assert_allclose(rec.signals["ppg"][:2], [2.0, 2.0 + np.sin(0.1)], atol=1e-5)


def test_numpy_values_past_float32_are_named(tmp_path: Path) -> None:
    """A float64 .npz channel around 1e300 had warned "overflow encountered in cast", naming
    no file or channel."""
    x = np.full(1000, 0.5)
    x[10:13] = 1e300
    np.savez(tmp_path / "big.npz", PLETH=x, II=np.zeros(1000), fs=125.0)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        rec = read_record(tmp_path / "big.npz")
    said = [str(w.message) for w in seen]
    assert any("big.npz: channel 'ppg': 3 values beyond float32's range (the first at sample "
               "10)" in m for m in said), said
    assert not any("overflow encountered" in m for m in said)
    assert np.isinf(rec.signals["ppg"][10:13]).all()


def test_csv_brackets_naming_a_statistic_number_or_lead_stay_in_the_column_name(
        tmp_path: Path) -> None:
    """``PLETH (SpO2)``, ``ABP (mean)``, ``II (HR)``, ``PLETH (1/min)`` and ``ECG (V)`` name
    what their column holds, not a unit: those columns had taken the waves' names (the SpO2
    read as the PPG, the real PLETH as ppg_2); ``ABP [mm Hg]``, ``II [mV]`` and a wave's
    description (``Pleth (SpO2 sensor, a.u.)``) keep the wave's name."""
    header = ('Time [s],PLETH (SpO2),ABP (mean),II (HR),PLETH,ART,II [mV],ECG (V),'
              'ABP [mm Hg],PLETH (SpO2 %),"ABP (mean, mmHg)",PLETH (1/min),"ECG (I, mV)",'
              '"Pleth (SpO2 sensor, a.u.)"')
    rows = [f"{i / 125:.3f},98,93,72,{np.sin(i / 10):.4f},{80 + 20 * np.sin(i / 10):.2f},"
            f"{np.cos(i / 7):.4f},{np.cos(i / 7):.4f},{80 + 20 * np.sin(i / 10):.2f},98,93,"
            f"72,{np.cos(i / 7):.4f},{np.sin(i / 10):.4f}" for i in range(2500)]
    path = tmp_path / "numbers.csv"
    path.write_text(_csv_text(header, rows))
    record = read_record(path)
    assert list(record.signals) == ["pleth_spo2", "abp_mean", "ii_hr", "ppg", "abp", "ecg_ii",
                                    "ecg_v", "abp_2", "pleth_spo2_2", "abp_mean_mmhg",
                                    "pleth_1_min", "ecg_i", "ppg_2"]
    assert record.units["ppg"] == "" and record.units["pleth_spo2"] == ""
    assert record.units["ecg_ii"] == "mV" and record.units["abp_2"] == "mm Hg"
    assert record.units["ppg_2"] == "SpO2 sensor, a.u."
    assert np.ptp(record.signals["ppg"]) > 1.5 and np.ptp(record.signals["pleth_spo2"]) == 0
    # leads written otherwise, numbers described in other words, units of no task wave
    header = ("Time [s],PLETH (heart rate),ART (Mean BP),ECG (Lead V),ECG (II lead),PLETH,"
              "ART,ECG (\u00b5V),Flow (l/min),HR (bpm)")
    rows = [f"{i / 125:.3f},72,93,{np.cos(i / 7):.4f},{np.cos(i / 7):.4f},{np.sin(i / 10):.4f},"
            f"{80 + 20 * np.sin(i / 10):.2f},{np.cos(i / 7):.4f},1.5,72" for i in range(2500)]
    path.write_text(_csv_text(header, rows), encoding="utf-8")
    record = read_record(path)
    assert list(record.signals) == ["pleth_heart_rate", "art_mean_bp", "ecg_v", "ecg_ii", "ppg",
                                    "abp", "ecg", "flow", "hr"]
    assert record.units["ecg"] == "\u00b5V" and record.units["flow"] == "l/min"
    assert record.units["hr"] == "bpm"
    # a number's name only beside its wave: alone, a described wave stays the wave (PLETH
    # (SpO2 finger) had lost the PPG); another line's pressure never is the arterial line;
    # a column asked for by its header cell is that column
    for header, names in (
            ('PLETH (SpO2 finger),"ECG (II, HR)",II (mV),ART (SBP),ART,IBP1 (CVP)',
             ["ppg", "ecg_ii_hr", "ecg_ii", "art_sbp", "abp", "ibp1_cvp"]),
            ("PLETH (mean),PLETH (Pulse),PLETH,V,ECG (HR),ECG (I),ECG (ST I),ABP (Pa)",
             ["pleth_mean", "pleth_pulse", "ppg", "ecg_v", "ecg_hr", "ecg_i", "ecg_st_i",
              "abp"]),  # (ECG (HR) beside V had been the ECG; ABP in pascals no ABP)
            ("PLETH (SpO\u2082),PLETH,ECG (Lead V-5),II,ECG1 (II)",
             ["pleth_spo2", "ppg", "ecg_v5", "ecg_ii", "ecg_ii_2"])):
        rows = [f"{i / 125:.3f}," + ",".join(f"{np.sin(i / 10 + k):.4f}"
                                             for k in range(len(names))) for i in range(2500)]
        path.write_text(_csv_text("Time [s]," + header, rows), encoding="utf-8")
        assert list(read_record(path).signals) == names
        # each name reads back as itself (pleth_pulse had read back as the PPG)
        assert [canonical_channel(n) for n in names] == names
    # a statistic alone in brackets names a number with no wave beside it too: ABP (Mean)
    # alone had been the arterial wave (unit "Mean"), II (HR) the ECG, as .npy names; words
    # a PPG's label may carry (SpO2, Pulse, min-max) leave a wave alone the wave
    for header, names in (("II,PLETH (SpO2),ABP (Mean)", ["ecg_ii", "ppg", "abp_mean"]),
                          ("PLETH,II (HR)", ["ppg", "ii_hr"]),
                          ('Pleth (Pulse),"ART (mean, mmHg)"', ["ppg", "art_mean_mmhg"]),
                          ("PPG (min-max),ECG (II)", ["ppg", "ecg_ii"]),
                          ("ABP (Sys),ABP (Dia),ECG (HR),ECG (V)",
                           ["abp_sys", "abp_dia", "ecg_hr", "ecg_v"])):
        rows = [f"{i / 125:.3f}," + ",".join(f"{np.sin(i / 10 + k):.4f}"
                                             for k in range(len(names))) for i in range(2500)]
        alone = tmp_path / "alone.csv"
        alone.write_text(_csv_text("Time [s]," + header, rows), encoding="utf-8")
        assert list(read_record(alone).signals) == names
    np.save(tmp_path / "n.npy", np.zeros((2, 1000), np.float32))
    assert list(read_record(tmp_path / "n.npy", fs=125.0, channel_names=[
        "II (HR)", "PLETH"]).signals) == ["ii_hr", "ppg"]
    asked = read_record(path, channels=["ECG1 (II)"]).signals
    np.testing.assert_array_equal(asked["ecg_ii_2"], read_record(path).signals["ecg_ii_2"])
    rows = [f"{i / 125:.3f},{np.sin(i / 10):.4f},{np.cos(i / 10):.4f}" for i in range(2500)]
    path.write_text(_csv_text("Time [s],PLETH,PLETH", rows))  # a cell repeated: its first
    asked = read_record(path, channels=["PLETH"]).signals
    np.testing.assert_array_equal(asked["ppg"], read_record(path).signals["ppg"])
    path.write_text(_csv_text("Time [s],PLETH,ppg", rows))  # a canonical name asked for is
    asked = read_record(path, channels=["ppg"]).signals  # that channel (the readers ask so)
    np.testing.assert_array_equal(asked["ppg"], read_record(path).signals["ppg"])
    assert np.isclose(asked["ppg"][0], 0.0, atol=1e-4)  # PLETH's sin, not ppg's cos


def test_date_time_and_space_parted_csvs_are_read_or_named(tmp_path: Path) -> None:
    """A ``Datetime`` column of ISO stamps is a time column; a CSV of samples whose time
    column is not read (``Timestamp (UTC)``) or whose cells are parted by spaces (NumPy's
    savetxt default) is listed as passed over with its reason (each had vanished from a
    folder's records without a word, taken for a table of labels); a table of times or
    dates alone is no such CSV, one whose first samples are blank is."""
    from qualityfm.io.read import passed_over_skips

    (tmp_path / "a.csv").write_text(_csv_text("Datetime,PLETH,II",
                                              _signal_rows(1250, 125.0, time="iso")))
    (tmp_path / "b.csv").write_text(_csv_text("Timestamp (UTC),PLETH,II",
                                              _signal_rows(1250, 125.0, time="iso")))
    spaced = [row.replace(",", " ") for row in _signal_rows(1250, 125.0)]
    (tmp_path / "c.csv").write_text(_csv_text("# Time [s] PLETH II", spaced))
    (tmp_path / "REFERENCE.csv").write_text("A00001,N\nA00002,A\n")
    (tmp_path / "alarm_times.csv").write_text("alarm_time\n10:00:01\n10:05:00\n")
    (tmp_path / "visits.csv").write_text("date,note\n2024-01-01,\n")
    blank = _signal_rows(1250, 125.0, time="iso")
    blank[:250] = [row.split(",")[0] + ",," for row in blank[:250]]  # no sensor for 2 s
    (tmp_path / "d.csv").write_text(_csv_text("Timestamp (UTC),PLETH,II", blank))
    record = read_record(tmp_path / "a.csv")
    assert record.fs == {"ppg": 125.0, "ecg_ii": 125.0} and len(record.signals["ppg"]) == 1250
    assert find_records(tmp_path) == [tmp_path / "a.csv"]
    reasons = {Path(e["record"]).name: e["reason"] for e in passed_over_skips(tmp_path)}
    assert sorted(reasons) == ["b.csv", "c.csv", "d.csv"]
    (tmp_path / "e.csv").write_text(_csv_text("Datetime,PLETH", ["01/01/2024 12:00:00.000,1",
                                                                "01/01/2024 12:00:00.008,2"]))
    with pytest.raises(RecordError, match=r"e\.csv: time column 'Datetime' holds '01/01/2024 "
                                          r"12:00:00\.000'.*or as ISO 8601"):
        read_record(tmp_path / "e.csv")
    assert "column 'Timestamp (UTC)' is read as no time column: its unit 'UTC'" in reasons["b.csv"]
    assert "cells are parted by spaces" in reasons["c.csv"]
    with pytest.raises(RecordError, match=r"c\.csv: its cells are parted by spaces.*"
                                          r"delimiter=','"):
        read_record(tmp_path / "c.csv")


def test_time_stamps_coarser_than_a_sample_are_read_where_each_rounds_its_time(
        tmp_path: Path) -> None:
    """Stamps printed to 0.01 s at 250 Hz (rows share a stamp) had been refused, fs given or
    not, as a time column that 'disagrees' with fs=250: each is its sample's time rounded. They
    are read, a sample missing among them refused; at 200 Hz (two samples a step), where a
    missing sample would fit the stamps, with a word. A span's few rows read at the rate of
    the rows read first (at 247 Hz in a first mend), and a few rows alone tell no rate."""
    def write(name: str, t: np.ndarray) -> Path:
        path = tmp_path / name
        path.write_text("Time [s],PLETH\n" + "".join(f"{a:.2f},{i}\n" for i, a in enumerate(t)))
        return path

    t = np.arange(5000) / 250.0 + 0.003
    path = write("coarse.csv", t)
    for kw in ({}, {"fs": 250}, {"start": 0, "stop": 0.15}, {"start": 15, "stop": 19}):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            rec = read_record(path, **kw)
        assert rec.fs == {"ppg": 250.0}
        k = int(round(kw.get("start", 0) * 250))
        np.testing.assert_array_equal(rec.signals["ppg"], np.arange(5000)[k:k + len(
            rec.signals["ppg"])])
    gap = write("gap.csv", np.delete(t, 2500))
    with pytest.raises(RecordError, match=r"fs=250 Hz disagrees with the time column .*printed "
                                          r"to 0\.01 s, resolve no single sample at 250 Hz"):
        read_record(gap, fs=250)
    with pytest.raises(RecordError, match=r"irregular time column.*no whole rate near it "
                                          r"rounds to every one of them alone: a sample "
                                          r"missing among them") as caught:
        read_record(gap)
    # the row after the lost sample is named, not a row sharing its stamp (no fault here)
    assert "; data row 2501 (after the header), at 10.01 s, fits no 250-Hz grid" in str(
        caught.value)
    for n in (10, 20, 34, 60, 100, 150):  # a few rows: the rate they tell, or none (34
        for start in (0.0, 0.003):  # rows had read at 254 Hz)
            try:
                assert read_record(write("short.csv", t[:n] - 0.003 + start)).fs["ppg"] == 250
            except RecordError as err:
                assert "too few rows to tell the rate" in str(err)
    # 0.01 s, 20 rows at 200 Hz: they had read at 194 Hz (a rate fitted to the rows)
    path = write("two20.csv", np.arange(20) / 200.0 + 0.0123)
    with pytest.raises(RecordError, match=r"two20\.csv: its time column's 20 rows \(stamps "
                                          r"printed to 0\.01 s\) fit \d+ whole rates"):
        read_record(path)
    assert read_record(path, fs=200).fs == {"ppg": 200.0}
    path = write("r128.csv", np.arange(1000) / 128.0)  # had read at 127.913 Hz
    assert read_record(path).fs == {"ppg": 128.0}
    # two samples a step, one lost: no step of one period to read gaps from (a raw "cannot
    # convert float NaN to integer" had been the reason)
    with pytest.raises(RecordError, match=r"lost\.csv: irregular time column"):
        read_record(write("lost.csv", np.delete(np.arange(300) / 200.0, 100)))
    two = write("two.csv", np.arange(4000) / 200.0 + 0.0123)
    with pytest.warns(RuntimeWarning, match=r"two\.csv: its time stamps, printed to 0\.01 s, "
                                            r"resolve no single sample at 200 Hz.*a missing "
                                            "sample would go unseen"):
        assert read_record(two).fs == {"ppg": 200.0}
    # stamps of 1 ms at 1000 Hz resolve each sample: a missing one is a gap, as before
    path = tmp_path / "ms.csv"
    path.write_text("Time [s],PLETH\n" + "".join(f"{a:.3f},{i}\n" for i, a in enumerate(
        np.delete(np.arange(3000) / 1000.0, 1500))))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(read_record(path, fs=1000).signals["ppg"]).sum() == 1


def test_a_latin_1_csv_reads_its_micro_sign(tmp_path: Path) -> None:
    """A cp1252 or Latin-1 export writes µ as the byte 0xB5, which had read as U+FFFD: a units
    row "s,NU,\\xb5V" was taken for data and refused for its time cell 's', a header
    "II [\\xb5V]" gave the unit '\\ufffdV'. Bytes that are no UTF-8 read as Latin-1."""
    t = np.arange(2500) / 125.0
    rows = "".join(f"{a:.3f},{np.sin(a):.4f},{1000 * np.cos(a):.2f}\n" for a in t).encode()
    units, head = tmp_path / "units.csv", tmp_path / "head.csv"
    units.write_bytes(b"Time,PLETH,II\ns,NU,\xb5V\n" + rows)
    head.write_bytes(b"Time [s],PLETH,II [\xb5V]\n" + rows)
    for path in (units, head):
        rec = read_record(path)
        assert rec.units["ecg_ii"] == "\u00b5V" and rec.fs["ecg_ii"] == 125.0
        assert rec.signals["ecg_ii"][0] == pytest.approx(1000.0)


def test_an_npz_trend_moves_no_span_of_its_waveforms(tmp_path: Path) -> None:
    """A 0.2-Hz (or 0.001-Hz) trend beside a 250-Hz ECG had set a span's grid: 12.7 s read
    from 15 s (or from 0), as VitalDB had; the waveforms keep their own grid."""
    ecg = np.sin(np.arange(15000) / 10).astype(np.float32)
    for rate in (0.2, 0.001):
        path = tmp_path / f"slow{rate}.npz"
        np.savez(path, II=ecg, HR=np.full(12, 70.0), fs=250.0, fs_HR=rate)
        rec = read_record(path, channels=["ecg_ii"], start=12.7, stop=30.0)
        assert rec.start_time == pytest.approx(12.7)
        np.testing.assert_array_equal(rec.signals["ecg_ii"], ecg[3175:7500])


def _write_rows(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_epoch_seconds_are_read_at_their_printed_resolution(tmp_path: Path) -> None:
    """Unix-epoch stamps printed to the millisecond had been taken as printed to 1 s (a
    tolerance relative to their size): a regular file refused as too few rows to tell the
    rate, and with fs given 60 rows missing closed up unseen (the samples after them moved
    0.48 s)."""
    fs, n = 125, 60 * 125
    t = 1_700_000_000 + np.arange(n) / fs
    rows = [f"{a:.3f},{np.sin(k / 10):.4f}" for k, a in enumerate(t)]
    rec = read_record(_write_rows(tmp_path / "epoch.csv", "Time [s],PLETH", rows))
    assert rec.fs == {"ppg": 125.0} and len(rec.signals["ppg"]) == n
    missing = _write_rows(tmp_path / "missing.csv", "Time [s],PLETH", rows[:1000] + rows[1060:])
    for given in (None, 125):
        x = read_record(missing, fs=given).signals["ppg"]
        assert len(x) == n and np.isnan(x[1000:1060]).all() and not np.isnan(x[1060:]).any()
        np.testing.assert_allclose(x[1060:1070], np.sin(np.arange(1060, 1070) / 10), atol=1e-4)


def test_a_gap_not_read_as_one_is_named_by_its_row(tmp_path: Path) -> None:
    """bidmc_14 less its rows from 40 to 55 s is refused (its stamps, 5 significant figures,
    repeat past 100 s): the message had named a harmless repeat at 100.02 s, not the gap."""
    lines = shared_path("bidmc", "bidmc_14_Signals.csv").read_text().splitlines()
    t = np.array([float(r.split(",")[0]) for r in lines[1:]])
    kept = [r for r, s in zip(lines[1:], t, strict=True) if not 40 <= s < 55]
    path = _write_rows(tmp_path / "bidmc_14_Signals.csv", lines[0], kept)
    with pytest.raises(RecordError, match=r"the longest step, 15\.008 s, ends at data row 5001 "
                       r"\(after the header; 39\.992 to 55 s\): a gap"):
        read_record(path)


def test_spreadsheet_days_are_said_to_be_no_seconds(tmp_path: Path) -> None:
    """Excel's serial days (1e7 'Hz' read as seconds) had been "too few rows to tell the
    rate", with a hint to give fs=, which then failed too."""
    t = 45292.4166666667 + np.arange(2048) / 125 / 86400
    path = _write_rows(tmp_path / "days.csv", "Time,PLETH", [f"{a:.10f},0.5" for a in t])
    with pytest.raises(RecordError, match=r"gives 1\.08e\+07 Hz, implausibly high .*a "
                       r"spreadsheet's days are not read"):
        read_record(path)


def test_channel_names_given_as_one_text_are_refused(tmp_path: Path) -> None:
    """channel_names='PLETH' had been read as five names, one a letter ("5 channel_names for
    1 rows")."""
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((1, 1000), np.float32))
    with pytest.raises(TypeError, match=r"channel_names is a list of names.*\['PLETH'\]"):
        read_record(path, fs=125, channel_names="PLETH")


def _five_figures(fs: float, seconds: float, drop: slice | None = None) -> list[str]:
    """Rows of a PLETH sine with time stamps of 5 significant figures, as MATLAB's csvwrite
    prints them (0.004, 100.02, 1000.1)."""
    t = np.arange(int(fs * seconds)) / fs
    rows = [f"{float(f'{a:.5g}'):g},{np.sin(2 * np.pi * 1.2 * a):.5g}" for a in t]
    if drop is not None:
        del rows[drop]
    return rows


@pytest.mark.parametrize(("fs", "seconds"), [(250, 200), (128, 300), (125, 1200)])
def test_stamps_of_significant_figures_are_read_at_each_rows_printing(
        tmp_path: Path, fs: int, seconds: int) -> None:
    """Stamps of 5 significant figures print 0.01 s past 100 s and 0.1 s past 1000 s: read at
    the first rows' 0.001 s, a regular file had been refused ("irregular", or with fs "fs=250
    Hz disagrees"); each stamp is the rounding of its sample's time at its own printing."""
    path = _write_rows(tmp_path / "m.csv", "Time [s],PLETH", _five_figures(fs, seconds))
    for given in (None, fs):
        rec = read_record(path, fs=given)
        assert rec.fs == {"ppg": float(fs)} and len(rec.signals["ppg"]) == fs * seconds
        assert not np.isnan(rec.signals["ppg"]).any()
    # a span of them (its rows had met a gap grid of None: a TypeError)
    assert len(read_record(path, start=seconds - 30, stop=seconds - 10).signals["ppg"]) == 20 * fs
    # and rows from 95 s on: the first rows read cross 100 s (refused at the first rows' rate)
    late = _write_rows(tmp_path / "late.csv", "Time [s],PLETH",
                       _five_figures(fs, seconds)[95 * fs:])
    assert read_record(late).fs == {"ppg": float(fs)}
    # a sample missing among stamps that resolve one is still refused, and its row named
    lost = _write_rows(tmp_path / "lost.csv", "Time [s],PLETH",
                       _five_figures(250, 200, slice(1000, 1001)))
    with pytest.raises(RecordError, match=r"data row 1001 \(after the header\), at 4\.004 s, "
                       r"fits no 250-Hz grid the rows before it fit"):
        read_record(lost)


def test_epoch_stamps_coarser_than_a_sample_do_not_close_up_missing_rows(
        tmp_path: Path) -> None:
    """Epoch seconds printed to 0.01 s at 250 Hz (rows share stamps): 60 rows missing had
    been read at 249 Hz, without a NaN or a word (a tolerance of 1e-9 of 1.7e9 s)."""
    t = 1_700_000_000 + np.arange(250 * 60) / 250
    rows = [f"{a:.2f},{np.sin(k / 7):.4f}" for k, a in enumerate(t)]
    rec = read_record(_write_rows(tmp_path / "whole.csv", "Time [s],PLETH", rows))
    assert rec.fs == {"ppg": 250.0} and len(rec.signals["ppg"]) == len(t)
    lost = _write_rows(tmp_path / "lost.csv", "Time [s],PLETH", rows[:1000] + rows[1060:])
    for given in (None, 250):
        with pytest.raises(RecordError, match="irregular time column|disagrees"):
            read_record(lost, fs=given)


def test_stamps_of_g_format_keep_a_lost_sample_a_gap() -> None:
    """%g stamps at 300 Hz less one row: read at 300 Hz with a NaN there (a first mend read
    them at their fitted 299.98 Hz, the row closed up)."""
    import tempfile

    t = np.arange(300 * 60) / 300
    rows = [f"{a:g},{np.sin(k / 7):.4f}" for k, a in enumerate(t)]
    with tempfile.TemporaryDirectory() as d:
        rec = read_record(_write_rows(Path(d) / "g.csv", "Time [s],PLETH",
                                      rows[:9000] + rows[9001:]))
    assert rec.fs == {"ppg": 300.0} and np.flatnonzero(np.isnan(rec.signals["ppg"])).tolist() == [
        9000]


def test_an_irregular_column_names_the_step_that_is_no_whole_number_of_samples(
        tmp_path: Path) -> None:
    """A gap of whole samples and, far from it, a row 3 ms off: the message had named the
    gap alone (which reads as missing samples), not the row that stops the reading."""
    t = np.arange(125 * 60) / 125
    t = np.r_[t[:100], t[100:101] + 0.003, t[101:2500], t[2500:] + 15.008]
    path = _write_rows(tmp_path / "j.csv", "Time [s],PLETH",
                       [f"{a:.3f},{np.sin(k / 7):.4f}" for k, a in enumerate(t)])
    with pytest.raises(RecordError, match=r"the longest step, 15\.016 s, ends at data row 2501"
                       r".*; data row 101 \(after the header\) is 0\.011 s after the one before "
                       r"it \(0\.792 s\): 1\.38 samples at 125 Hz, no whole number"):
        read_record(path)


def test_a_unit_after_an_underscore_is_the_columns_unit(tmp_path: Path) -> None:
    """ABP_cmH2O named the arterial line but lost its unit, read as mmHg: targets 36 % high
    (163/109 for a line of 120/80), unsaid; ABP_kPa was refused as no pressure in mmHg."""
    from qualityfm.signal import synthesize
    from qualityfm.tasks import record_dataset

    rec = synthesize(65.0, 250.0, seed=1, sbp=120.0, dbp=80.0, channels=("ecg_ii", "ppg", "abp"))
    t = np.arange(len(rec.signals["ppg"])) / 250.0
    for unit, scale in (("cmH2O", 1.35951), ("kPa", 1 / 7.50062), ("mm_Hg", 1.0)):
        path = tmp_path / f"{unit}.csv"
        np.savetxt(path, np.c_[t, rec.signals["ecg_ii"], rec.signals["ppg"],
                               rec.signals["abp"] * scale],
                   header=f"Time_s,II_mV,PLETH_NU,ABP_{unit}", comments="", delimiter=",",
                   fmt="%.6f")
        read = read_record(path)
        assert read.channels == ["ecg_ii", "ppg", "abp"]
        assert read.units == {"ecg_ii": "mV", "ppg": "NU", "abp": unit}
        y = record_dataset("abp", read, labels=True).y
        assert np.allclose(y, [120.0, 80.0], atol=6.0), (unit, y)


def test_a_numpy_files_channel_names_give_their_units_as_a_csvs_do(tmp_path: Path) -> None:
    """An .npz key ABP_cmH2O (an .npy's or a CSV's channel_names too) had lost its unit,
    the line read as mmHg: targets 36 % high, unsaid, where the same CSV column gave cmH2O."""
    from qualityfm.signal import synthesize
    from qualityfm.tasks import record_dataset

    rec = synthesize(65.0, 250.0, seed=1, sbp=120.0, dbp=80.0, channels=("ecg_ii", "ppg", "abp"))
    for label, unit, scale in (("ABP_cmH2O", "cmH2O", 1.35951), ("ABP [kPa]", "kPa", 1 / 7.50062),
                               ("ABP [Pa]", "Pa", 133.322), ("ABP", "", 1.0)):
        names = ["II_mV", "PLETH", label]  # ABP [Pa] had been a channel abp_pa, no line
        x = np.stack([rec.signals["ecg_ii"], rec.signals["ppg"], rec.signals["abp"] * scale])
        np.savez(tmp_path / "r.npz", fs=250.0, **dict(zip(names, x, strict=True)))
        np.save(tmp_path / "r.npy", x)
        np.savetxt(tmp_path / "r.csv", x.T, delimiter=",", fmt="%.6f")  # no header
        for read in (read_record(tmp_path / "r.npz"),
                     read_record(tmp_path / "r.npy", fs=250.0, channel_names=names),
                     read_record(tmp_path / "r.csv", fs=250.0, channel_names=names)):
            assert read.units == {"ecg_ii": "mV", "ppg": "", "abp": unit}
            y = record_dataset("abp", read, labels=True).y
            assert np.allclose(y, [120.0, 80.0], atol=6.0), (label, read.source, y)
        assert read_record(tmp_path / "r.npz", channels=["abp"]).units == {"abp": unit}
    # a column asked for by its channel_names entry, unit and all, is that column (it had
    # been matched by its label alone: the first ecg_ii)
    x = np.stack([np.arange(500.0), np.arange(500.0) + 1000, np.arange(500.0) + 2000])
    np.savetxt(tmp_path / "n.csv", x.T, delimiter=",")
    np.save(tmp_path / "n.npy", x)
    for path in ("n.csv", "n.npy"):
        for names, asked, first in ((["II", "II [mV]", "PLETH"], "II [mV]", 1000.0),
                                    (["II [mV]", "PLETH", "ABP [Pa]"], "ABP [Pa]", 2000.0)):
            read = read_record(tmp_path / path, fs=250.0, channel_names=names, channels=[asked])
            assert [float(v[0]) for v in read.signals.values()] == [first], (path, asked)
    # a wave named in brackets after a number's label is that wave (SpO2 (Pleth): it had
    # been a channel spo2, no PPG), and an fs_ entry finds a key by its label (fs_ABP for
    # ABP [Pa] had been refused as naming no array)
    np.savez(tmp_path / "w.npz", fs=250.0, fs_ABP=125.0, **{"II": x[0], "SpO2 (Pleth)": x[1],
                                                             "ABP [Pa]": x[2, :250]})
    read = read_record(tmp_path / "w.npz")
    assert read.channels == ["ecg_ii", "ppg", "abp"] and read.fs["abp"] == 125.0
    # beside the wave itself, such a column is a number: the wave keeps its name (a flat
    # SpO2 had taken "ppg", the wave "ppg_2"); fs_abp names ART, not ART (Mean) beside it
    (tmp_path / "s.csv").write_text("Time [s],SpO2 (Pleth),Pleth,II\n" + "".join(
        f"{i / 250},97,{np.sin(i / 10)},{np.cos(i / 10)}\n" for i in range(2500)))
    read = read_record(tmp_path / "s.csv")
    assert read.channels == ["spo2", "ppg", "ecg_ii"] and np.ptp(read.signals["ppg"]) > 1.9
    np.savez(tmp_path / "m.npz", fs=250.0, fs_abp=125.0, ART=x[0], **{"ART (Mean)": x[0, :50]})
    assert read_record(tmp_path / "m.npz").fs == {"abp": 125.0, "art_mean": 250.0}
    np.savez(tmp_path / "p.npz", fs=250.0, fs_ppg=125.0, **{"fs_ABP [Pa]": 50.0}, Pleth=x[0],
             ABP=x[1, :100], **{"SpO2 (Pleth)": x[0, :50]})  # fs_ppg: the wave, not the SpO2
    assert read_record(tmp_path / "p.npz").fs == {"ppg": 125.0, "abp": 50.0, "spo2": 250.0}
    # beside a number of the wave (PLETH (SpO2), a rate), it is the wave, they the numbers
    np.savez(tmp_path / "q.npz", fs=250.0, **{"SpO2 (Pleth)": x[0], "PLETH (SpO2)": x[1]})
    assert read_record(tmp_path / "q.npz").channels == ["ppg", "pleth_spo2"]
    # an entry naming a number of the wave is no rate of the wave (fs_ABP (Mean) had been)
    np.savez(tmp_path / "o.npz", fs=250.0, **{"fs_ABP (Mean)": 2.0}, ART=x[0],
             **{"ART (Mean)": x[0, :50]})
    with pytest.raises(RecordError, match=r"'fs_ABP \(Mean\)' gives a rate for no array"):
        read_record(tmp_path / "o.npz")


@pytest.mark.parametrize(("fs", "lost_at"), [(250, 10.0), (250, 150.0), (250, 290.0),
                                             (500, 150.0), (1000, 150.0), (300, 150.0),
                                             (256, 5.86), (128, 150.0)])
def test_one_row_lost_mid_file_is_a_gap_not_a_rate_of_no_whole_number(
        tmp_path: Path, fs: int, lost_at: float) -> None:
    """Stamps to the millisecond less one row near the middle had read at a fitted rate
    (249.997 Hz for 250), closed up, no NaN (near the ends the row was a NaN); at 256 Hz
    (steps of 3 and 4 ms for 3.906) such a file had been refused as irregular."""
    t = np.arange(fs * 300) / fs
    rows = [f"{a:.3f},{np.sin(k / 7):.4f}" for k, a in enumerate(t)]
    k = int(lost_at * fs)
    rec = read_record(_write_rows(tmp_path / "lost.csv", "Time [s],PLETH", rows[:k] + rows[k + 1:]))
    assert rec.fs == {"ppg": float(fs)}
    assert np.flatnonzero(np.isnan(rec.signals["ppg"])).tolist() == [k]


def test_stamps_to_the_millisecond_of_an_irregular_500_hz_file_are_refused(tmp_path) -> None:
    """A review of the printing slack: at 500 Hz to 1 ms a step's slack had reached half a
    period, no step failing, a clock that steps by 1 ms and a dropout read as regular."""
    t = np.r_[np.arange(1500), np.arange(1500, 3000) + 0.5, np.arange(3300, 5000) + 0.5] / 500
    rows = [f"{a:.3f},{np.sin(k / 7):.4f}" for k, a in enumerate(t)]
    with pytest.raises(RecordError, match="irregular time column"):
        read_record(_write_rows(tmp_path / "stepped.csv", "Time [s],PLETH", rows))


def test_a_rate_of_no_whole_number_with_jittered_stamps_still_reads() -> None:
    """MIMIC-IV's 124.945 Hz, its stamps jittered by a fifth of a sample: the step test of a
    lost sample averages jitter out."""
    import tempfile

    rng = np.random.default_rng(0)
    t = np.arange(int(124.945 * 120)) / 124.945 + rng.uniform(-0.2, 0.2, 14993) / 124.945
    with tempfile.TemporaryDirectory() as d:
        rec = read_record(_write_rows(Path(d) / "j.csv", "Time [s],PLETH",
                                      [f"{a:.4f},{np.sin(k / 7):.4f}" for k, a in enumerate(t)]))
    assert abs(rec.fs["ppg"] - 124.945) < 0.01 and not np.isnan(rec.signals["ppg"]).any()


def test_a_gap_among_coarse_stamps_is_said_to_be_unplaceable(tmp_path: Path) -> None:
    """0.01-s stamps at 250 Hz with a 15-s gap: the message had advised fs=, which then
    failed as well (no rate places a gap among stamps that resolve no sample)."""
    t = np.arange(250 * 60) / 250
    t = np.r_[t[:5000], t[5000:] + 15.0]
    path = _write_rows(tmp_path / "c.csv", "Time [s],PLETH",
                       [f"{a:.2f},{np.sin(k / 7):.4f}" for k, a in enumerate(t)])
    with pytest.raises(RecordError, match=r"the longest step, 15 s, ends at data row 5001 .*"
                       r"resolve no single sample at that rate, so no gap among them can be "
                       r"placed: write them with more decimals") as caught:
        read_record(path)
    assert "fs=" not in str(caught.value)


def test_a_column_filled_on_every_kth_row_is_a_slower_channel(tmp_path: Path) -> None:
    """A PPG at 125 Hz exported beside an ECG at 250 Hz (its cells blank on every other row)
    had read at 250 Hz, half its samples NaN, scored unusable ("ppg: 50% NaN"); a 1-Hz number
    among them is a 1-Hz channel. A column of values on rows 3, 8, 13... at a fifth of the rate
    starts a sample later (its rows nearer that sample's time), and a column with a dropout
    on its own rows stays slower, the dropout NaN."""
    n = 2500
    rows = []
    for i in range(n):
        ppg = f"{np.sin(i / 40):.4f}" if i % 2 == 0 else ""
        late = f"{i}" if i % 5 == 3 and not 1000 <= i < 1100 else ""
        rows.append(f"{i / 250:.3f},{np.cos(i / 9):.4f},{ppg},{late},"
                    + ("72" if i % 250 == 0 else ""))
    path = tmp_path / "mixed.csv"
    path.write_text(_csv_text("Time [s],II [mV],PLETH,ABP,HR", rows))
    rec = read_record(path)
    assert rec.fs == {"ecg_ii": 250.0, "ppg": 125.0, "abp": 50.0, "hr": 1.0}
    assert len(rec.signals["ppg"]) == 1250 and not np.isnan(rec.signals["ppg"]).any()
    np.testing.assert_allclose(rec.signals["ppg"], np.sin(np.arange(0, n, 2) / 40), atol=1e-4)
    abp = rec.signals["abp"]  # row 3 of 5 is nearer the second 50-Hz sample (row 5)
    assert np.isnan(abp[0]) and abp[1] == 3.0 and abp[2] == 8.0
    assert np.isnan(abp[1 + 200:1 + 220]).all() and abp[1 + 220] == 1103.0
    assert rec.signals["hr"].tolist() == [72.0] * 10
    assert len(rec.signals["ecg_ii"]) == n
    # a few values on a common step by chance (marks, a sensor mostly off) keep their rows'
    # times (rows 100, 700, 1900 had read at 0.42 Hz, moved); an inf counts as no sample
    rows = [f"{i / 250:.3f},{np.cos(i / 9):.4f},"
            + ("5" if i in (100, 700, 1900) else "")
            + "," + ("inf" if i == 7 else f"{np.sin(i / 40):.4f}" if i % 2 == 0 else "")
            for i in range(n)]
    path.write_text(_csv_text("Time [s],II [mV],Marker,PLETH", rows))
    with pytest.warns(RuntimeWarning, match="inf"):
        rec = read_record(path)
    assert rec.fs == {"ecg_ii": 250.0, "marker": 250.0, "ppg": 125.0}
    assert np.flatnonzero(np.isfinite(rec.signals["marker"])).tolist() == [100, 700, 1900]


def test_an_npz_of_one_2d_array_and_its_channel_names(tmp_path: Path) -> None:
    """np.savez(p, x=X, fs=125.0, channel_names=[...]), X [channels, samples] or [samples,
    channels], a researcher's usual file, had been refused ("array 'x' is not a non-empty
    real 1-D signal"; score and prepare: "no channel of ('ppg', 'ecg_ii') (record has: x,
    channel_names)"): its rows (or columns) are read as a .npy's with channel_names."""
    X = np.arange(2000.0).reshape(2, 1000)  # II: 0..999, PLETH: 1000..1999
    names = np.array(["II [mV]", "PLETH"])
    np.savez(tmp_path / "rows.npz", x=X, fs=125.0, channel_names=names)
    np.savez(tmp_path / "cols.npz", X=X.T, FS=125.0, Channel_Names=names)
    for name in ("rows", "cols"):
        rec = read_record(tmp_path / f"{name}.npz")
        assert rec.record_id == name and rec.channels == ["ecg_ii", "ppg"]
        assert rec.fs == {"ecg_ii": 125.0, "ppg": 125.0} and rec.start_time == 0.0
        assert rec.units == {"ecg_ii": "mV", "ppg": ""}
        assert rec.signals["ppg"].dtype == np.float32 and len(rec.signals["ppg"]) == 1000
        assert rec.signals["ecg_ii"][-1] == 999.0 and rec.signals["ppg"][0] == 1000.0
        part = read_record(tmp_path / f"{name}.npz", channels=["ppg"], start=1.0, stop=2.0)
        assert part.channels == ["ppg"] and part.start_time == 1.0
        np.testing.assert_array_equal(part.signals["ppg"], np.arange(1125.0, 1250.0))
        assert read_record(tmp_path / f"{name}.npz", channels=["PLETH"]).channels == ["ppg"]
    # both axes of the names' length: rows, as a .npy's [channels, samples]
    np.savez(tmp_path / "square.npz", x=np.array([[1.0, 2.0], [3.0, 4.0]]), fs=100,
             channel_names=np.array(["PLETH", "ABP"]))
    sq = read_record(tmp_path / "square.npz")
    assert sq.channels == ["ppg", "abp"] and list(sq.signals["abp"]) == [3.0, 4.0]
    # without an fs entry the fs argument gives the rate; beside one it must agree
    np.savez(tmp_path / "nofs.npz", x=X, channel_names=names)
    assert read_record(tmp_path / "nofs.npz", fs=250.0).fs == {"ecg_ii": 250.0, "ppg": 250.0}
    with pytest.raises(RecordError, match=r"nofs\.npz: no 'fs' entry for the channels of 'x'"):
        read_record(tmp_path / "nofs.npz")
    with pytest.raises(RecordError, match=r"rows\.npz: fs=100.0 Hz is none of the file's rates "
                                          r"\(fs=125 Hz\)"):
        read_record(tmp_path / "rows.npz", fs=100.0)
    # one 1-D array per channel beside a list of their names: read as before
    np.savez(tmp_path / "flat.npz", PLETH=X[1], II=X[0], fs=125.0, channel_names=names, id=7)
    assert read_record(tmp_path / "flat.npz", channels=["ppg"]).signals["ppg"][0] == 1000.0
    bad = {
        "numbers": ({"x": X, "channel_names": np.array([1, 2])},
                    r"'channel_names' must be a 1-D array of strings.*shape \(2,\) dtype int"),
        "three": ({"x": X, "channel_names": np.array(["II", "PLETH", "ABP"])},
                  r"3 channel_names match neither axis of array 'x' of shape \(2, 1000\)"),
        "two": ({"x": X, "y": X, "channel_names": names},
                r"'channel_names' names the rows of one \[channels, samples\] array, but the "
                r"file holds 2 arrays beside its rates \(x \(2, 1000\), y \(2, 1000\)\)"),
        "cube": ({"x": X[None], "channel_names": names},
                 r"array 'x' of shape \(1, 2, 1000\): the channels 'channel_names' names are "
                 r"one 2-D array"),
        "own": ({"x": X, "fs_PLETH": 250.0, "channel_names": names},
                r"fs_PLETH give\(s\) a channel's own rate.*give it as 'fs'"),
        "text": ({"x": X.astype(str), "channel_names": names},
                 r"expected a real \[channels, samples\] array \('x'\), got shape \(2, 1000\)"),
    }
    for name, (arrays, said) in bad.items():
        np.savez(tmp_path / f"{name}.npz", fs=125.0, **arrays)
        for channels in (None, ["ppg"]):
            with pytest.raises(RecordError, match=rf"{name}\.npz: {said}"):
                read_record(tmp_path / f"{name}.npz", channels=channels)


def test_score_reads_an_npz_of_one_2d_array_and_its_channel_names(tmp_path: Path) -> None:
    """qualityfm score had skipped such a file: "no channel of ('ppg', 'ecg_ii') (record
    has: x, channel_names)"; its [samples, channels] array is scored as the record it is."""
    from qualityfm.cli import main
    from qualityfm.signal import synthesize

    rec = synthesize(60.0, fs=250.0, seed=0, channels=("ecg_ii", "ppg"))
    np.savez(tmp_path / "rec.npz", fs=250.0, channel_names=np.array(["PLETH", "II"]),
             signals=np.stack([rec.signals["ppg"], rec.signals["ecg_ii"]], axis=1))
    out = tmp_path / "s.csv"
    assert main(["score", str(tmp_path / "rec.npz"), "--out", str(out)]) == 0
    rows = pd.read_csv(out)
    assert list(rows["start_s"]) == [0.0, 30.0] and set(rows["record"]) == {"rec"}
    assert (rows["ecg_sqi"] > 0.8).all() and (rows["ppg_sqi"] > 0.5).all()


def test_an_npz_of_names_beside_a_scalar_or_one_1d_array_reads(tmp_path: Path) -> None:
    """A review of the 2-D layout: an id or a label beside the array had the file skipped
    ("2 arrays beside its rates", a scalar called an array), and one 1-D array with one name,
    the layout the .npy hint gives for a 1-D .npy, read as no channel of the model's."""
    x = np.sin(np.arange(2000) / 9.0)
    np.savez(tmp_path / "id.npz", x=np.stack([x, 2 * x]), fs=125.0,
             channel_names=np.array(["II", "PLETH"]), id=7, y=1)
    rec = read_record(tmp_path / "id.npz")
    assert rec.channels == ["ecg_ii", "ppg"] and rec.fs == {"ecg_ii": 125.0, "ppg": 125.0}
    np.testing.assert_allclose(rec.signals["ppg"], 2 * x, rtol=1e-6)
    np.savez(tmp_path / "one.npz", x=x, fs=125.0, channel_names=["PLETH"])
    rec = read_record(tmp_path / "one.npz", channels=["ppg"])
    assert rec.channels == ["ppg"] and len(rec.signals["ppg"]) == 2000
    np.savez(tmp_path / "two.npz", x=np.stack([x, x]), y=x, fs=125.0,
             channel_names=np.array(["II", "PLETH"]), id=7)
    with pytest.raises(RecordError, match=r"holds 2 arrays beside its rates \(x \(2, 2000\), y "
                                          r"\(2000,\)\)"):
        read_record(tmp_path / "two.npz")
