"""WFDB records of every dataset in ../shared/data: names, rates, units, labels, lengths."""

from __future__ import annotations

import csv
import errno
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import wfdb

from helpers import shared_path
from qualityfm.io import Record, RecordError, find_records, read_record


def _check_ecg_mv(rec: Record, ch: str) -> None:
    assert rec.units[ch] == "mV"
    x = rec.signals[ch]
    assert x.dtype == np.float32
    spread = np.nanpercentile(x, 99) - np.nanpercentile(x, 1)
    assert 0.1 < spread < 20, f"{ch} spread {spread} mV is not an ECG in mV"


def _check_abp_mmhg(rec: Record) -> None:
    assert rec.units["abp"] == "mmHg"
    med = float(np.nanmedian(rec.signals["abp"]))
    assert 30 < med < 200, f"median ABP {med} mmHg is not physiological"


def test_vt_record_channels_labels_and_length() -> None:
    rec = read_record(shared_path("physionet2015_vt", "v100s.hea"))
    assert rec.record_id == "v100s" and rec.patient_id == "v100s"
    assert rec.channels == ["ecg_ii", "ecg_v", "ppg", "resp"]
    assert set(rec.fs.values()) == {250.0}
    assert {len(x) for x in rec.signals.values()} == {75000}
    assert rec.units["ppg"] == "NU"
    assert rec.labels == {"alarm_type": "Ventricular_Tachycardia", "alarm_true": False}
    assert rec.events == {"alarm": 300.0}
    _check_ecg_mv(rec, "ecg_ii")


def test_vt_long_record_with_abp() -> None:
    folder = shared_path("physionet2015_vt")
    rec = read_record(folder / "v217l.hea", channels=["abp", "ecg_ii"])
    assert rec.duration() == pytest.approx(330.0)
    assert rec.fs == {"abp": 250.0, "ecg_ii": 250.0}
    _check_abp_mmhg(rec)
    _check_ecg_mv(rec, "ecg_ii")
    with open(folder / "alarms.csv") as f:
        rows = {r["record"]: r["label"] for r in csv.DictReader(f)}
    truth = read_record(folder / "v217l.hea", channels=[])
    assert truth.signals == {}
    assert truth.labels["alarm_true"] is (rows["v217l"] == "true")


def test_vt_all_headers_54_true_152_false() -> None:
    folder = shared_path("physionet2015_vt")
    heads = sorted(folder.glob("*.hea"))
    assert len(heads) == 206
    labels = [read_record(h, channels=[]).labels for h in heads]
    assert {lab["alarm_type"] for lab in labels} == {"Ventricular_Tachycardia"}
    true = sum(lab["alarm_true"] for lab in labels)
    assert (true, len(labels) - true) == (54, 152)


def test_span_read_equals_slice_of_full_read() -> None:
    path = shared_path("physionet2015_vt", "v100s.hea")
    full = read_record(path)
    part = read_record(path, start=12.5, stop=20.0, channels=["ppg", "ecg_ii"])
    assert part.channels == ["ppg", "ecg_ii"]
    assert part.start_time == 12.5
    assert part.events["alarm"] == pytest.approx(287.5)
    for ch in part.channels:
        np.testing.assert_array_equal(part.signals[ch], full.signals[ch][3125:5000])


def test_icu_flac_format_516() -> None:
    rec = read_record(shared_path("physionet2015_icu", "icu0002.hea"))
    assert rec.channels == ["ecg_ii", "ppg"]
    assert rec.fs == {"ecg_ii": 250.0, "ppg": 250.0}
    assert len(rec.signals["ecg_ii"]) == 82500
    assert rec.labels == {} and rec.events == {}
    _check_ecg_mv(rec, "ecg_ii")
    part = read_record(shared_path("physionet2015_icu", "icu0002.hea"), start=100, stop=101)
    np.testing.assert_array_equal(part.signals["ppg"], rec.signals["ppg"][25000:25250])


def test_icu_record_with_abp() -> None:
    folder = shared_path("physionet2015_icu")
    hea = next(h for h in sorted(folder.glob("*.hea")) if "ABP" in h.read_text())
    rec = read_record(hea, channels=["abp", "ppg", "ecg_ii"])
    _check_abp_mmhg(rec)


def test_cinc2017_rhythm_from_reference_and_single_lead() -> None:
    folder = shared_path("cinc2017_af")
    rec = read_record(folder / "A00001.hea")
    assert rec.channels == ["ecg"] and rec.fs == {"ecg": 300.0} and rec.units == {"ecg": "mV"}
    assert len(rec.signals["ecg"]) == 9000
    assert rec.labels == {"rhythm": "N"}
    assert read_record(folder / "A00004.hea", channels=[]).labels == {"rhythm": "A"}
    _check_ecg_mv(rec, "ecg")


def test_nstdb_format_212() -> None:
    with pytest.warns(RuntimeWarning, match=r"bw\.hea: channel 'noise1' has an ADC gain of 0"):
        rec = read_record(shared_path("nstdb", "bw.hea"), start=60, stop=70)
    assert rec.channels == ["noise1", "noise2"]
    assert rec.units == {"noise1": "uncalibrated", "noise2": "uncalibrated"}  # gain 0
    assert rec.fs == {"noise1": 360.0, "noise2": 360.0}
    assert len(rec.signals["noise1"]) == 3600 and rec.start_time == 60.0


def test_multisegment_multifrequency_041s() -> None:
    path = shared_path("wfdb_samples", "041s", "041s.hea")
    rec = read_record(path)
    assert rec.channels == ["ecg_iii", "ecg_i", "ecg_v", "abp", "pap", "ppg", "resp"]
    assert rec.fs["ecg_iii"] == 500.0 and rec.fs["abp"] == 125.0
    assert len(rec.signals["ecg_i"]) == 8000 and len(rec.signals["abp"]) == 2000
    assert rec.duration() == pytest.approx(16.0)
    assert rec.units["ppg"] == "NU"  # the header states no unit: not WFDB's default mV
    _check_abp_mmhg(rec)
    part = read_record(path, start=7.0, stop=9.0, channels=["ecg_v", "abp"])  # crosses segments
    np.testing.assert_array_equal(part.signals["ecg_v"], rec.signals["ecg_v"][3500:4500])
    np.testing.assert_array_equal(part.signals["abp"], rec.signals["abp"][875:1125])


def test_03700181_mcl1_abp_resp() -> None:
    rec = read_record(shared_path("wfdb_samples", "03700181.hea"), stop=60)
    assert rec.channels == ["ecg_mcl", "abp", "resp"]
    assert rec.fs == {"ecg_mcl": 500.0, "abp": 125.0, "resp": 125.0}
    assert len(rec.signals["ecg_mcl"]) == 30000 and len(rec.signals["resp"]) == 7500
    _check_abp_mmhg(rec)
    _check_ecg_mv(rec, "ecg_mcl")


def test_mixedsignals_flac_multifrequency() -> None:
    rec = read_record(shared_path("wfdb_samples", "mixedsignals.hea"))
    assert rec.channels == ["ecg_ii", "ecg_iii", "ecg_v", "abp", "ppg", "resp"]
    assert rec.fs["ecg_ii"] == pytest.approx(249.89)
    assert rec.fs["abp"] == pytest.approx(124.945)
    assert rec.fs["resp"] == pytest.approx(62.4725)
    assert rec.units == {"ecg_ii": "mV", "ecg_iii": "mV", "ecg_v": "mV", "abp": "mmHg",
                         "ppg": "NU", "resp": "Ohm"}
    assert len(rec.signals["ecg_ii"]) == 4 * len(rec.signals["resp"]) == 57600


def test_mimic_pieces_format_80_and_patient_folder() -> None:
    one = read_record(shared_path("wfdb_samples", "p000878_partial", "3269321_0001.hea"))
    two = read_record(shared_path("wfdb_samples", "p000878_partial", "3269321_0002.hea"))
    assert one.channels == ["ppg"] and two.channels == ["ecg_ii", "ppg"]
    assert one.fs == {"ppg": 125.0} and len(one.signals["ppg"]) == 2000
    assert len(two.signals["ecg_ii"]) == 1750 and two.units["ecg_ii"] == "mV"
    assert one.patient_id == two.patient_id == "p000878"


def test_a103l_challenge2015_asystole() -> None:
    rec = read_record(shared_path("wfdb_samples", "a103l.hea"), channels=["ecg_ii", "ppg"])
    assert rec.labels == {"alarm_type": "Asystole", "alarm_true": False}
    assert len(rec.signals["ppg"]) == 82500


def test_unknown_channel_names_file_and_channels() -> None:
    path = shared_path("physionet2015_vt", "v100s.hea")
    with pytest.raises(RecordError, match=r"v100s\.hea.*'abp'.*ecg_ii, ecg_v, ppg, resp"):
        read_record(path, channels=["abp"])


def test_fs_must_agree_with_header() -> None:
    with pytest.raises(RecordError, match="fs=100"):
        read_record(shared_path("physionet2015_vt", "v100s.hea"), fs=100)


def _segment(folder: Path, name: str, first: int, n: int, chans: list[str]) -> None:
    """A format-16 WFDB segment at 125 Hz whose values give the global sample index."""
    idx = np.arange(first, first + n)
    values = {"II": (idx % 1000) / 1000.0, "PLETH": 2 + idx / 1e5, "ABP": 60 + idx / 1e3}
    units = {"II": "mV", "PLETH": "NU", "ABP": "mmHg"}
    wfdb.wrsamp(name, fs=125, units=[units[c] for c in chans], sig_name=chans,
                p_signal=np.stack([values[c] for c in chans], 1), fmt=["16"] * len(chans),
                write_dir=str(folder))


def test_multisegment_with_zero_length_segment(tmp_path: Path) -> None:
    folder = tmp_path / "p000123"
    folder.mkdir()
    _segment(folder, "3000001_0001", 0, 5000, ["II", "PLETH"])
    _segment(folder, "3000001_0002", 6250, 6250, ["PLETH", "ABP", "II"])
    (folder / "3000001_0003.hea").write_text("3000001_0003 1 125 0\n"
                                             "3000001_0003.dat 16 100/mV 16 0 0 0 0 II\n")
    (folder / "3000001_0003.dat").write_bytes(b"")
    (folder / "3000001_layout.hea").write_text(
        "3000001_layout 3 125 0\n~ 0 100/mV 16 0 0 0 0 II\n~ 0 1/NU 16 0 0 0 0 PLETH\n"
        "~ 0 1/mmHg 16 0 0 0 0 ABP\n")
    master = folder / "3000001.hea"
    master.write_text("3000001/5 3 125 12500\n3000001_layout 0\n3000001_0001 5000\n~ 1250\n"
                      "3000001_0002 6250\n3000001_0003 0\n")
    rec = read_record(master)
    assert rec.channels == ["ecg_ii", "ppg", "abp"] and rec.patient_id == "p000123"
    assert rec.units == {"ecg_ii": "mV", "ppg": "NU", "abp": "mmHg"}
    (tmp_path / "plain").symlink_to(folder)  # the same files by another spelling: one patient
    assert read_record(tmp_path / "plain" / "3000001.hea").patient_id == "p000123"
    annex = tmp_path / "annex" / "p000124"  # links to files kept elsewhere (an annex): the
    annex.mkdir(parents=True)  # folder of the links names the patient
    for f in folder.iterdir():
        (annex / f.name).symlink_to(f)
    assert read_record(annex / "3000001.hea").patient_id == "p000124"
    blob = tmp_path / "blob42"  # a patient folder that is itself a link into an annex: its
    blob.mkdir()  # name is the patient (resolved, it had given the record as its group)
    for f in folder.iterdir():
        (blob / f.name).symlink_to(f)
    (tmp_path / "mimic").mkdir()
    (tmp_path / "mimic" / "p000125").symlink_to(blob)
    assert read_record(tmp_path / "mimic" / "p000125" / "3000001.hea").patient_id == "p000125"
    assert {len(x) for x in rec.signals.values()} == {12500}
    idx = np.arange(12500)
    gap = (idx >= 5000) & (idx < 6250)
    np.testing.assert_allclose(rec.signals["ppg"][~gap], 2 + idx[~gap] / 1e5, atol=1e-4)
    assert np.isnan(rec.signals["ppg"][gap]).all() and np.isnan(rec.signals["abp"][:6250]).all()
    part = read_record(master, start=39.0, stop=100.0, channels=["abp", "ecg_ii"])
    assert part.channels == ["abp", "ecg_ii"] and part.start_time == 39.0
    np.testing.assert_array_equal(part.signals["ecg_ii"], rec.signals["ecg_ii"][4875:])
    with pytest.raises(RecordError, match=r"3000001\.hea: span 101.0..102.0 s lies outside"):
        read_record(master, start=101.0, stop=102.0)


def test_a_fixed_layout_whose_first_segment_holds_fewer_signals_is_refused(
        tmp_path: Path) -> None:
    """Its later segments' other channels had been dropped without a word (the first segment
    stood for the layout); the record line's count names the fault, as wfdb refuses it."""
    _segment(tmp_path, "vl_0001", 0, 1250, ["II"])
    _segment(tmp_path, "vl_0002", 1250, 1250, ["II", "PLETH"])
    master = tmp_path / "vl.hea"
    master.write_text("vl/2 2 125 2500\nvl_0001 1250\nvl_0002 1250\n")
    with pytest.raises(RecordError, match=r"vl\.hea: its record line announces 2 signals, "
                                          r"segment vl_0001 holds 1 \(II\): .*layout segment"):
        read_record(master)
    master.write_text("vl/2 1 125 2500\nvl_0001 1250\nvl_0002 1250\n")  # II alone: read
    assert read_record(master).channels == ["ecg_ii"]
    # a later segment holding a channel the first lacks: its ABP had been dropped, the
    # first's PLETH NaN there, without a word
    _segment(tmp_path, "va_0001", 0, 1250, ["II", "PLETH"])
    _segment(tmp_path, "va_0002", 1250, 1250, ["II", "ABP"])
    (tmp_path / "va.hea").write_text("va/2 2 125 2500\nva_0001 1250\nva_0002 1250\n")
    with pytest.warns(RuntimeWarning, match=r"va\.hea: 'ABP' of segment va_0002 not read: its "
                                            r"first segment, the layout of the record, lacks "
                                            r"it \(II, PLETH; "):
        rec = read_record(tmp_path / "va.hea")
    assert rec.channels == ["ecg_ii", "ppg"] and np.isnan(rec.signals["ppg"][1250:]).all()


def test_a_variable_layout_omitting_a_segments_channel_warns(tmp_path: Path) -> None:
    """A segment's channel that the layout segment does not name is not read (as wfdb); it had
    been dropped without a word where the same fault of a fixed layout is warned about."""
    _segment(tmp_path, "vv_0001", 0, 1250, ["II", "PLETH"])
    _segment(tmp_path, "vv_0002", 1250, 1250, ["II", "ABP"])
    (tmp_path / "vv_layout.hea").write_text("vv_layout 2 125 0\n~ 0 100/mV 16 0 0 0 0 II\n"
                                            "~ 0 1/NU 16 0 0 0 0 PLETH\n")
    (tmp_path / "vv.hea").write_text("vv/3 2 125 2500\nvv_layout 0\nvv_0001 1250\n"
                                     "vv_0002 1250\n")
    with pytest.warns(RuntimeWarning, match=r"vv\.hea: 'ABP' of segment vv_0002 not read: the "
                                            r"record's layout segment lacks it \(II, PLETH\)"):
        rec = read_record(tmp_path / "vv.hea")
    assert rec.channels == ["ecg_ii", "ppg"] and np.isnan(rec.signals["ppg"][1250:]).all()
    np.testing.assert_allclose(rec.signals["ecg_ii"], (np.arange(2500) % 1000) / 1000, atol=1e-4)


def test_an_unreadable_segment_is_a_gap(tmp_path: Path) -> None:
    """A segment whose files are cut short or missing is read as a gap, with a warning naming
    the record and the segment (the whole record had been refused: a MIMIC record of hundreds
    of segments lost to one); the record is refused when no segment can be read."""
    folder = tmp_path / "p000123"
    folder.mkdir()
    _segment(folder, "3000001_0001", 0, 5000, ["II", "PLETH"])
    _segment(folder, "3000001_0002", 5000, 2500, ["PLETH", "II"])
    _segment(folder, "3000001_0003", 7500, 5000, ["II", "PLETH"])
    master = folder / "3000001.hea"
    master.write_text("3000001/3 2 125 12500\n3000001_0001 5000\n3000001_0002 2500\n"
                      "3000001_0003 5000\n")
    whole = read_record(master)
    idx = np.arange(12500)
    lost = (idx >= 5000) & (idx < 7500)
    dat = folder / "3000001_0002.dat"
    dat.write_bytes(dat.read_bytes()[:1000])  # cut short
    with pytest.warns(RuntimeWarning, match=r"3000001\.hea: segment 3000001_0002 cannot be "
                                            r"read \(truncated .*3000001_0002\.dat.*20\.0 s\) are"):
        rec = read_record(master)
    for ch in ("ecg_ii", "ppg"):
        assert np.isnan(rec.signals[ch][lost]).all()
        np.testing.assert_array_equal(rec.signals[ch][~lost], whole.signals[ch][~lost])
    assert rec.units == whole.units
    part = read_record(master, start=10.0, stop=30.0)  # a span clear of it: no warning
    np.testing.assert_array_equal(part.signals["ppg"], whole.signals["ppg"][1250:3750])
    dat.unlink()
    with pytest.warns(RuntimeWarning, match="3000001_0002 cannot be read .missing signal file "
                                            "3000001_0002.dat"):
        assert np.isnan(read_record(master).signals["ppg"][lost]).all()
    from qualityfm.io.wfdb_reader import header_files

    (folder / "3000001_0001.hea").unlink()  # no layout: the channels from the next segment
    assert folder / "3000001_0003.dat" in header_files(master)  # the others' files still kept
    with pytest.warns(RuntimeWarning, match="missing segment header 3000001_0001.hea"):
        rec = read_record(master)
    assert sorted(rec.channels) == sorted(whole.channels)  # in 3000001_0002's order
    assert np.isnan(rec.signals["ppg"][:7500]).all()
    np.testing.assert_array_equal(rec.signals["ppg"][7500:], whole.signals["ppg"][7500:])
    with pytest.raises(RecordError, match=r"3000001\.hea: no segment of the span can be read: "
                                          r"segment 3000001_0001: missing segment header"):
        read_record(master, stop=40.0)
    (folder / "3000001_0003.hea").unlink()
    with pytest.raises(RecordError, match=r"can be read: segment 3000001_0001: missing segment "
                                          r"header 3000001_0001\.hea \(and 2 more\)$"):
        read_record(master)
    (folder / "3000001_0002.hea").unlink()
    with pytest.raises(RecordError, match=r"3000001\.hea: no segment header can be read: "
                                          r"missing segment header 3000001_0001\.hea \(and 2 "):
        read_record(master)


@pytest.mark.parametrize("fault", [MemoryError("Unable to allocate 3.2 GiB"),
                                   OSError(errno.EIO, "Input/output error")])
def test_a_machine_fault_reading_a_segment_is_no_gap(tmp_path: Path, monkeypatch,
                                                     fault: BaseException) -> None:
    """Out of memory or a bad disk while one segment is read is the machine's fault, as in a
    one-segment record: raised, so that a batch stops and a re-run reads the record whole (the
    segment had been read as a gap, "truncated or corrupt", the record kept with a hole)."""
    from qualityfm.io import wfdb_reader
    from qualityfm.io.read import machine_fault

    _segment(tmp_path, "3000001_0001", 0, 1250, ["II", "PLETH"])
    _segment(tmp_path, "3000001_0002", 1250, 1250, ["PLETH", "II"])
    master = tmp_path / "3000001.hea"
    master.write_text("3000001/2 2 125 2500\n3000001_0001 1250\n3000001_0002 1250\n")
    real = wfdb_reader.wfdb.rdrecord

    def failing(base: str, *args, **kwargs):
        if base.endswith("_0002"):
            raise fault
        return real(base, *args, **kwargs)

    monkeypatch.setattr(wfdb_reader.wfdb, "rdrecord", failing)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no segment read as a gap
        with pytest.raises(Exception) as raised:
            read_record(master)
    assert machine_fault(raised.value) is fault
    assert len(read_record(master, stop=10.0).signals["ppg"]) == 1250  # the other one reads


def test_span_of_header_without_sample_count(tmp_path: Path) -> None:
    x = np.stack([np.sin(np.arange(2500) / 10), np.cos(np.arange(2500) / 7)], 1)
    wfdb.wrsamp("r", fs=250, units=["mV", "NU"], sig_name=["II", "PLETH"], p_signal=x,
                fmt=["212", "212"], write_dir=str(tmp_path))
    hea = tmp_path / "r.hea"
    lines = hea.read_text().splitlines()
    hea.write_text("\n".join(["r 2 250", *lines[1:]]) + "\n")  # no sample count
    rec = read_record(hea)
    assert {len(v) for v in rec.signals.values()} == {2500}
    part = read_record(hea, start=2.0, stop=3.0, channels=["ppg"])
    assert part.start_time == 2.0
    np.testing.assert_array_equal(part.signals["ppg"], rec.signals["ppg"][500:750])
    assert len(read_record(hea, start=9.5).signals["ecg_ii"]) == 125
    with pytest.raises(RecordError, match=r"r\.hea: span 11.0..12.0 s lies outside the record "
                                          r"\(10.000 s long\)"):
        read_record(hea, start=11.0, stop=12.0)


def _gain_record(folder: Path, gain: str) -> Path:
    """A one-signal format-16 record ``g`` of digital values 0, 10, ..., 490 at 100 Hz whose
    signal line's gain field is ``gain``."""
    (folder / "g.dat").write_bytes((np.arange(50, dtype="<i2") * 10).tobytes())
    hea = folder / "g.hea"
    hea.write_text(f"g 1 100 50\ng.dat 16 {gain} 16 0 0 0 0 II\n")
    return hea


@pytest.mark.parametrize(("gain", "scale", "baseline", "unit"), [
    ("200", 200.0, 0, "mV"), ("100/mV", 100.0, 0, "mV"), ("200(10)/mV", 200.0, 10, "mV"),
    ("1e+03(-5)/mmHg", 1000.0, -5, "mmHg"), ("0(0)/mV", 200.0, 0, "uncalibrated"),
    (".5/uV", 0.5, 0, "uV"),
])
def test_valid_gain_fields_scale_the_signal(
    tmp_path: Path, gain: str, scale: float, baseline: int, unit: str
) -> None:
    """A gain of 0 means uncalibrated: WFDB divides by 200, and the channel's unit says so,
    with a warning naming it (it had read as mV)."""
    if unit == "uncalibrated":
        with pytest.warns(RuntimeWarning, match=r"g\.hea: channel 'ecg_ii' has an ADC gain of 0 or "
                                                 r"none \(uncalibrated\).* not physical "
                                                 r"units"):
            rec = read_record(_gain_record(tmp_path, gain))
    else:
        rec = read_record(_gain_record(tmp_path, gain))
    assert rec.units == {"ecg_ii": unit}
    np.testing.assert_allclose(rec.signals["ecg_ii"], (np.arange(50) * 10 - baseline) / scale,
                               rtol=1e-6)


def test_a_signal_line_without_a_gain_is_uncalibrated(tmp_path: Path) -> None:
    """WFDB: a gain "zero or missing" is uncalibrated; a missing one had read as mV."""
    hea = _gain_record(tmp_path, "0")
    hea.write_text("g 1 100 50\ng.dat 16\n")
    with pytest.warns(RuntimeWarning, match=r"g\.hea: channel '\w+' has an ADC gain of 0 or "
                                            r"none \(uncalibrated\)"):
        rec = read_record(hea)
    assert list(rec.units.values()) == ["uncalibrated"]
    np.testing.assert_allclose(rec.signals[rec.channels[0]], np.arange(50) * 10 / 200.0)


@pytest.mark.parametrize(("line", "message"), [
    ("g.dat 16 1e400/mV 16 0 0 0 0 II", r"gain field '1e400/mV' is no finite number"),
    ("g.dat 16x0 200/mV 16 0 0 0 0 II", r"format field '16x0' gives 0 samples per frame"),
    ("g.dat 16 200/mV 16 0 0 0 0 II\ng.dat 212 200/mV 12 0 0 0 0 V",
     r"signal file g\.dat is given the formats 16, 212: a file holds one format"),
])
def test_signal_lines_no_file_can_follow_are_named(tmp_path: Path, line: str,
                                                   message: str) -> None:
    """An infinite gain had read every value as 0 mV, 0 samples per frame as a "corrupt
    signal file" (ZeroDivisionError), two formats in one file as the first one's."""
    hea = _gain_record(tmp_path, "0")
    hea.write_text(f"g {line.count(chr(10)) + 1} 100 50\n{line}\n")
    with pytest.raises(RecordError, match=rf"g\.hea: corrupt WFDB header \(.*{message}"):
        read_record(hea)


@pytest.mark.parametrize("gain", ["abc(0)/mV", "200(x)/mV", "200/", "+200/mV",
                                  "200(0)mV"])
def test_malformed_gain_field_is_refused_naming_the_signal(tmp_path: Path, gain: str) -> None:
    """A gain (or format) field WFDB would misread is refused, naming the signal."""
    hea = _gain_record(tmp_path, gain)
    with pytest.raises(RecordError, match=r"g\.hea: corrupt WFDB header \(signal 1 'II': gain "
                                          rf"field '{re.escape(gain)}' is not gain"):
        read_record(hea)
    assert find_records(tmp_path) == [hea]  # listed, so that a batch reports why it skips it


@pytest.mark.parametrize("fmt", ["abc", "16+", "17", "x16"])
def test_malformed_format_field_is_refused_naming_the_signal(tmp_path: Path, fmt: str) -> None:
    hea = _gain_record(tmp_path, "200/mV")
    hea.write_text(hea.read_text().replace(" 16 200/mV", f" {fmt} 200/mV"))
    with pytest.raises(RecordError, match=r"g\.hea: corrupt WFDB header \(signal 1 'II': format "
                                          rf"field '{re.escape(fmt)}' is not a WFDB format"):
        read_record(hea)


def test_a_mat_file_cut_short_under_a_header_without_count_is_refused(tmp_path: Path) -> None:
    """Without a sample count the record is read to its signal file's end: a .mat cut in half
    had read as a record half as long; its own MATLAB header says how long it was."""
    src = shared_path("physionet2015_vt")
    hea = tmp_path / "v100s.hea"
    hea.write_text((src / "v100s.hea").read_text().replace("v100s 4 250 75000", "v100s 4 250"))
    raw = (src / "v100s.mat").read_bytes()
    (tmp_path / "v100s.mat").write_bytes(raw)
    assert len(read_record(hea).signals["ecg_ii"]) == 75000  # whole: read to the end
    (tmp_path / "v100s.mat").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(RecordError, match=r"v100s\.hea: truncated signal file v100s\.mat: its "
                                          r"MATLAB header declares 75000 samples per signal, "
                                          r"the file holds 37498"):
        read_record(hea)


def test_a_master_header_whose_length_its_segments_do_not_make_is_named(
        tmp_path: Path) -> None:
    """The segments are read (wfdb refuses such a record); the header's other count had
    passed unsaid."""
    import shutil

    folder = tmp_path / "041s"
    shutil.copytree(shared_path("wfdb_samples", "041s"), folder)
    want = read_record(folder / "041s.hea")
    master = folder / "041s.hea"
    lines = master.read_text().splitlines(keepends=True)
    head = lines[0].split()
    head[3] = str(int(head[3]) + 1000)
    master.write_text(" ".join(head) + "\n" + "".join(lines[1:]))
    with pytest.warns(RuntimeWarning, match=rf"041s\.hea: the header counts {head[3]} samples "
                                            r"per signal, its segments \d+: reading"):
        got = read_record(master)
    for c in want.channels:
        np.testing.assert_array_equal(got.signals[c], want.signals[c])


def test_an_uncalibrated_segment_channel_is_marked_in_a_multisegment_record(
        tmp_path: Path) -> None:
    """A gain of 0 in a segment header marks the channel of the whole record uncalibrated (it
    had read as mmHg, the layout's unit)."""
    import shutil

    folder = tmp_path / "041s"
    shutil.copytree(shared_path("wfdb_samples", "041s"), folder)
    seg = folder / "041s02.hea"
    seg.write_text(seg.read_text().replace("20(-1600)/mmHg", "0(-1600)/mmHg"))
    with pytest.warns(RuntimeWarning, match=r"041s\.hea: channel 'abp' has an ADC gain of 0"):
        rec = read_record(folder / "041s.hea")
    assert rec.units["abp"] == "uncalibrated" and rec.units["ppg"] != "uncalibrated"


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_units_and_names_beyond_ascii_are_read(tmp_path: Path, encoding: str) -> None:
    """wfdb drops the µ of "µV" (the units had read "V", off by 1e6); "Pléth" is the PPG."""
    hea = _gain_record(tmp_path, "1000/mV")
    hea.write_bytes(hea.read_text().replace("1000/mV", "1000/µV").replace(" II\n", " Pléth\n")
                    .encode(encoding))
    rec = read_record(hea)
    assert rec.units == {"ppg": "µV"} and rec.signals["ppg"][1] == pytest.approx(0.01)


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_a_multi_segment_record_keeps_names_and_units_beyond_ascii(tmp_path: Path,
                                                                   encoding: str) -> None:
    """A segment's "µV" had read "V" and "ÉCG II" had been no ECG ("cg_ii"): the layout and
    segment names and units came from wfdb, which drops what is not ASCII."""
    (tmp_path / "seg1.dat").write_bytes((np.arange(1250, dtype="<i2") % 100).tobytes())
    (tmp_path / "seg1.hea").write_bytes(
        "seg1 1 125 1250\nseg1.dat 16 1000/µV 16 0 0 0 0 ÉCG II\n".encode(encoding))
    (tmp_path / "multi.hea").write_text("multi/1 1 125 1250\nseg1 1250\n")
    rec = read_record(tmp_path / "multi.hea")
    assert rec.units == {"ecg_ii": "µV"} and rec.signals["ecg_ii"][5] == pytest.approx(0.005)


def test_a_signal_file_name_that_is_not_ascii_is_named_as_such(tmp_path: Path) -> None:
    """WFDB names files in ASCII: a header naming one with other bytes is refused as corrupt
    (it had been reported as a missing file under a name with the bytes dropped)."""
    hea = _gain_record(tmp_path, "200/mV")
    hea.write_bytes(hea.read_bytes().replace(b"g.dat 16", b"g\xe9.dat 16"))
    with pytest.raises(RecordError, match=r"g\.hea: corrupt WFDB header \(signal 1 'II': its "
                                          r"signal file name .* holds bytes that are not ASCII"):
        read_record(hea)


def test_a_segment_sampled_at_another_rate_than_its_record_is_a_gap(tmp_path: Path) -> None:
    """A segment header whose rate differs from the master's had been read at the master's
    rate, stretching its samples in time without a word: it is read as a gap, said why."""
    _segment(tmp_path, "rec_0001", 0, 1000, ["II"])
    _segment(tmp_path, "rec_0002", 1000, 1000, ["II"])
    seg = tmp_path / "rec_0002.hea"
    seg.write_text(seg.read_text().replace(" 125 ", " 250 ", 1))
    master = tmp_path / "rec.hea"
    master.write_text("rec/2 1 125 2000\nrec_0001 1000\nrec_0002 1000\n")
    with pytest.warns(RuntimeWarning, match=r"rec\.hea: segment rec_0002 cannot be read \(it "
                                            r"is sampled at 250 Hz, the record's header at 125 "
                                            r"Hz\); its 1000 frames \(8\.0 s\) are read as a gap"):
        assert np.isnan(read_record(master).signals["ecg_ii"][1000:]).all()
    assert len(read_record(master, stop=8.0).signals["ecg_ii"]) == 1000  # the first one reads


def test_a_new_challenge_alarm_without_its_label_keeps_its_alarm_time(tmp_path: Path) -> None:
    """A Challenge 2015 record whose header names the alarm type but no label yet (a new
    alarm to predict) sounds at 300 s as the labelled ones do: the 330-s 'l' record had been
    judged on its last 10 s, 30 s after the alarm."""
    from qualityfm.tasks import build_task_dataset

    src = shared_path("physionet2015_vt")
    for ext in (".hea", ".mat"):
        (tmp_path / f"v101l{ext}").write_bytes((src / f"v101l{ext}").read_bytes())
    hea = tmp_path / "v101l.hea"
    hea.write_text("".join(ln for ln in hea.read_text().splitlines(keepends=True)
                           if "alarm" not in ln.lower()))
    rec = read_record(hea)
    assert rec.events == {"alarm": 300.0} and "alarm_true" not in rec.labels
    assert rec.labels["alarm_type"] == "Ventricular_Tachycardia" and rec.duration() == 330.0
    unlabelled = build_task_dataset("vt-alarm", tmp_path, labels=False)
    labelled = build_task_dataset("vt-alarm", src / "v101l.hea")
    np.testing.assert_array_equal(unlabelled.X, labelled.X)


def _two_leads_ii(folder: Path) -> None:
    """Single-segment ``s`` and multi-segment ``m`` (a layout, one segment): two leads named
    II holding 1.0 and 2.0 mV, and a PLETH."""
    folder.mkdir()
    np.array([[200, 400, 100]] * 1250, "<i2").tofile(folder / "m_0001.dat")
    lines = ("{} 3 125 {}\n{f} 16 200/mV 16 0 0 0 0 II\n{f} 16 200/mV 16 0 0 0 0 II\n"
             "{f} 16 200/NU 16 0 0 0 0 PLETH\n")
    (folder / "m_0001.hea").write_text(lines.format("m_0001", 1250, f="m_0001.dat"))
    (folder / "m_layout.hea").write_text(lines.format("m_layout", 0, f="~"))
    (folder / "m.hea").write_text("m/2 3 125 1250\nm_layout 0\nm_0001 1250\n")
    (folder / "s.dat").write_bytes((folder / "m_0001.dat").read_bytes())
    (folder / "s.hea").write_text(lines.format("s", 1250, f="s.dat"))


@pytest.mark.parametrize("name", ["s.hea", "m.hea"])
def test_the_second_of_two_same_named_leads_is_read_as_asked(tmp_path: Path, name: str) -> None:
    """A multi-segment record asked for the second lead II alone (or before the first) had
    read the first's samples under the second's name."""
    _two_leads_ii(tmp_path / "r")
    for channels in (None, ["ecg_ii_2"], ["ecg_ii_2", "ecg_ii"], ["ppg", "ecg_ii_2"]):
        rec = read_record(tmp_path / "r" / name, channels=channels)
        got = {k: float(v[0]) for k, v in rec.signals.items()}
        want = {"ecg_ii": 1.0, "ecg_ii_2": 2.0, "ppg": 0.5}
        assert got == {k: want[k] for k in got}, channels


def test_a_gain_of_0_marks_its_own_channel_not_every_one_of_its_name(tmp_path: Path) -> None:
    """Two arterial lines named ABP, the first calibrated: only the second is uncalibrated
    (the flag had been kept by name, so the first was read as uncalibrated too, and the abp
    task refused the record)."""
    np.array([[12000, 500, 300]] * 2500, "<i2").tofile(tmp_path / "r.dat")
    (tmp_path / "r.hea").write_text("r 3 250 2500\nr.dat 16 100/mmHg 16 0 0 0 0 ABP\n"
                                    "r.dat 16 0 16 0 0 0 0 ABP\nr.dat 16 200 16 0 0 0 0 PLETH\n")
    with pytest.warns(RuntimeWarning, match="channel 'abp_2' has an ADC gain of 0") as caught:
        rec = read_record(tmp_path / "r.hea")
    assert not any("'abp' has" in str(w.message) for w in caught)
    assert rec.units == {"abp": "mmHg", "abp_2": "uncalibrated", "ppg": "NU"}
    assert float(rec.signals["abp"][0]) == 120.0


def _difference_record(folder: Path, name: str = "f8") -> tuple[Path, np.ndarray]:
    """A format-8 record (first differences, initial value 10) of one channel at 100 Hz, and
    its true values in mV."""
    digital = np.round(100 * np.sin(2 * np.pi * np.arange(1000) / 100)).astype(np.int64) + 50
    (folder / f"{name}.dat").write_bytes(np.diff(np.r_[10, digital]).astype(np.int8).tobytes())
    hea = folder / f"{name}.hea"
    hea.write_text(f"{name} 1 100 1000\n{name}.dat 8 100(0)/mV 8 0 10 0 0 II\n")
    return hea, digital / 100.0


def test_a_span_of_a_format_8_record_is_summed_from_its_first_sample(tmp_path: Path) -> None:
    """Format 8 stores differences: a span read from sample 200 had been summed from the
    header's initial value, every value off by the same 0.34 mV."""
    hea, true = _difference_record(tmp_path)
    np.testing.assert_allclose(read_record(hea).signals["ecg_ii"], true, atol=1e-6)
    part = read_record(hea, start=2.0, stop=3.0).signals["ecg_ii"]
    np.testing.assert_allclose(part, true[200:300], atol=1e-6)


@pytest.mark.parametrize(("gain", "zero"), [("100(0)/mV", 40), ("0", 40), ("5(3)/mV", -7)])
def test_format_8_without_an_initial_value_starts_at_the_adc_zero(tmp_path: Path, gain: str,
                                                                   zero: int) -> None:
    """header(5): a missing initial value is the ADC zero; wfdb sums from 0, every value had
    been off by the ADC zero over the gain."""
    digital = np.array([3, 5, 2, -4, 0, 9]) + zero
    (tmp_path / "d.dat").write_bytes(np.diff(np.r_[zero, digital]).astype(np.int8).tobytes())
    (tmp_path / "d.hea").write_text(f"d 1 10 6\nd.dat 8 {gain} 8 {zero}\n")
    g, base = (200.0, zero) if gain == "0" else (float(gain.split("(")[0]),  # baseline: ADC zero
                                                  int(gain.split("(")[1].split(")")[0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gain 0: uncalibrated
        read = read_record(tmp_path / "d.hea").signals["unknown"]
        part = read_record(tmp_path / "d.hea", start=0.2, stop=0.5).signals["unknown"]
    np.testing.assert_allclose(read, (digital - base) / g, atol=1e-6)
    np.testing.assert_allclose(part, ((digital - base) / g)[2:5], atol=1e-6)


def test_a_format_8_segment_span_is_summed_from_the_segment_start(tmp_path: Path) -> None:
    _difference_record(tmp_path, "s1")
    hea2, true = _difference_record(tmp_path, "s2")
    (tmp_path / "m.hea").write_text("m/2 1 100 2000\ns1 1000\ns2 1000\n")
    part = read_record(tmp_path / "m.hea", start=12.0, stop=13.0).signals["ecg_ii"]
    np.testing.assert_allclose(part, true[200:300], atol=1e-6)


def _skewed_record(folder: Path, spf: list[int], skew: list[int]) -> tuple[Path, list]:
    """A format-16 record of 100 frames at 100 Hz whose channel k has ``spf[k]`` samples per
    frame and is stored ``skew[k]`` frames late; the file holds exactly 100 frames, so a
    skewed channel's last ``skew`` frames are not recorded. Returns the header and each
    channel's true values (NaN where unrecorded)."""
    rng = np.random.default_rng(0)
    true = [rng.integers(-3000, 3000, 100 * s) for s in spf]
    stored = []
    for x, s, k in zip(true, spf, skew, strict=True):
        cell = np.zeros((100 + k) * s, dtype=np.int64)
        cell[k * s:] = x
        stored.append(cell[:100 * s].reshape(100, s))
    (folder / "sk.dat").write_bytes(np.concatenate(stored, axis=1).astype("<i2").tobytes())
    names = ["II", "PLETH", "ABP"]
    lines = [f"sk {len(spf)} 100 100"]
    for s, k, name in zip(spf, skew, names, strict=False):  # header(5): skew in samples
        fmt = "16" + (f"x{s}" if s > 1 else "") + (f":{k * s}" if k else "")
        lines.append(f"sk.dat {fmt} 100(0)/mV 16 0 0 0 0 {name}")
    (folder / "sk.hea").write_text("\n".join(lines) + "\n")
    values = []
    for x, s, k in zip(true, spf, skew, strict=True):
        v = x / 100.0
        v[len(v) - k * s:] = np.nan
        values.append(v)
    return folder / "sk.hea", values


@pytest.mark.parametrize(("spf", "skew"), [([2, 1], [1, 0]), ([1, 2, 1], [0, 3, 1]),
                                           ([1, 2, 1], [0, 1, 0])])
@pytest.mark.parametrize(("start", "stop"), [(None, None), (0.1, 0.5), (0.97, 1.0)])
def test_a_skewed_channel_of_several_samples_per_frame_is_shifted_whole(
    tmp_path: Path, spf: list[int], skew: list[int], start: float | None, stop: float | None
) -> None:
    """wfdb's own shift of a skewed channel of several samples per frame had invented a value
    past the file's end (-0.5 mV from zero padding) or refused an intact file as corrupt."""
    hea, true = _skewed_record(tmp_path, spf, skew)
    rec = read_record(hea, start=start, stop=stop)
    a, b = int(round((start or 0) * 100)), int(round((stop or 1.0) * 100))
    for x, s, name in zip(true, spf, rec.signals, strict=True):
        np.testing.assert_allclose(rec.signals[name], x[a * s:b * s], atol=1e-6)


@pytest.mark.parametrize(("spf", "stated", "frames"), [(2, 2, 1), (2, 3, 2), (2, 1, 1),
                                                      (4, 1, 0), (3, 4, 1)])
def test_a_skew_is_stated_in_samples_and_rounded_to_frames(tmp_path: Path, spf: int,
                                                            stated: int, frames: int) -> None:
    """header(5) states a skew in samples, libwfdb rounds it to frames (skew / spf + 0.5): a
    PPG of 2 samples per frame stated 2 samples late had been shifted 2 frames, 0.1 s."""
    hea, true = _skewed_record(tmp_path, [1, spf], [0, frames])
    hea.write_text(hea.read_text().replace(f"16x{spf}:{frames * spf} ", f"16x{spf}:{stated} ")
                   .replace(f"16x{spf} ", f"16x{spf}:{stated} "))
    assert f":{stated} " in hea.read_text()
    np.testing.assert_allclose(read_record(hea).signals["ppg"], true[1], atol=1e-6)


def test_unskewed_channels_of_a_file_with_a_skewed_one_read_alone(tmp_path: Path) -> None:
    """wfdb's own shift ran whenever the file held a skewed channel, asked for or not: lead II
    alone failed to read."""
    hea, true = _skewed_record(tmp_path, [1, 2, 1], [0, 3, 1])
    np.testing.assert_allclose(read_record(hea, channels=["ecg_ii"]).signals["ecg_ii"],
                               true[0], atol=1e-6)
    part = read_record(hea, channels=["ecg_ii"], start=0.5, stop=0.6).signals["ecg_ii"]
    np.testing.assert_allclose(part, true[0][50:60], atol=1e-6)


def test_a_short_span_at_a_skewed_segments_end_reads(tmp_path: Path) -> None:
    """A span shorter than a channel's skew at a segment's end had been refused as truncated
    (its unrecorded tail padded with more NaN than the span holds)."""
    seg, true = _skewed_record(tmp_path, [1, 2], [0, 3])
    for name in ("s1", "s2"):
        for suffix in (".hea", ".dat"):
            text = (tmp_path / f"sk{suffix}").read_bytes()
            if suffix == ".hea":
                text = text.replace(b"sk ", f"{name} ".encode(), 1).replace(b"sk.dat",
                                                                            f"{name}.dat".encode())
            (tmp_path / f"{name}{suffix}").write_bytes(text)
    (tmp_path / "m.hea").write_text("m/2 2 100 200\ns1 100\ns2 100\n")
    for start, stop in ((0.98, 1.0), (0.99, 1.0), (0.98, 1.05)):
        rec = read_record(tmp_path / "m.hea", start=start, stop=stop)
        a, b = int(round(start * 100)), int(round(stop * 100))
        expected = np.concatenate([true[1], true[1]])[a * 2:b * 2]
        np.testing.assert_allclose(rec.signals["ppg"], expected, atol=1e-6)


def test_a_negative_skew_is_refused_naming_the_signal(tmp_path: Path) -> None:
    hea = _gain_record(tmp_path, "200/mV")
    hea.write_text(hea.read_text().replace(" 16 200/mV", " 16:-2 200/mV"))
    with pytest.raises(RecordError, match=r"g\.hea: corrupt WFDB header \(signal 1 'II': format "
                                          r"field '16:-2' has a negative skew"):
        read_record(hea)


def test_write_wfdb_writes_a_fill_value_as_a_missing_sample(tmp_path: Path) -> None:
    """A fill value (9.97e36) had been written as a sample, and the file refused by the reader
    (no calibration reads it); it is missing, as NaN is."""
    from qualityfm.io import write_wfdb

    x = np.sin(np.arange(2500) / 25).astype(np.float32)
    marked = x.copy()
    marked[100:110] = 9.96921e36
    back = read_record(write_wfdb(Record("f", {"ecg_ii": marked}, {"ecg_ii": 250.0}),
                                  tmp_path)).signals["ecg_ii"]
    assert np.isnan(back[100:110]).all()
    keep = np.r_[0:100, 110:2500]
    np.testing.assert_allclose(back[keep], x[keep], atol=1e-3)
    marked[100:110] = 2e12  # past the reader's calibration limit: refused, not written
    with pytest.raises(RecordError, match=r"g2: channel\(s\) \['ecg_ii'\] hold values past "
                                          r"1e\+12"):
        write_wfdb(Record("g2", {"ecg_ii": marked}, {"ecg_ii": 250.0}), tmp_path)
    assert not (tmp_path / "g2.hea").exists()


def test_write_wfdb_writes_what_the_tables_read_units_with_spaces_labels_on_lines(
        tmp_path: Path) -> None:
    """A unit the CSV reader takes (``mm Hg``, ``deg C``) had been refused by wfdb's
    "units strings may not contain whitespaces"; a label holding a line break had been
    written as a header the reader refuses ("1 signals announced, 2 given")."""
    from qualityfm.io import write_wfdb

    x = np.sin(np.arange(2500) / 25).astype(np.float32)
    rec = Record("u", {"abp": 90 + 20 * x, "temp": 37 + 0 * x}, {"abp": 250.0, "temp": 250.0},
                 units={"abp": "mm Hg", "temp": "deg C"},
                 labels={"alarm_type": "Ventricular Tachycardia\nX", "alarm_true": False})
    back = read_record(write_wfdb(rec, tmp_path))
    assert back.units == {"abp": "mmHg", "temp": "degC"}
    blank = Record("b", {"ppg": x}, {"ppg": 250.0}, units={"ppg": " "})  # CSV 'PLETH [ ]'
    assert read_record(write_wfdb(blank, tmp_path)).units["ppg"] == "NU"  # (it had written
    # a header the reader refuses)
    assert back.labels["alarm_true"] is False
    np.testing.assert_allclose(back.signals["abp"], rec.signals["abp"], atol=1e-2)


def test_write_wfdb_units_and_labels_read_back_alike_by_wfdb(tmp_path: Path) -> None:
    """wfdb had dropped the µ of µV (a factor of 1e6 to its readers) and the accent's letter
    of a label, and read ``mm(Hg)`` as the unit ``mm`` and a label of the rest of the line."""
    from qualityfm.io import write_wfdb

    x = np.sin(np.arange(500) / 10).astype(np.float32)
    units = {"eeg": "\u00b5V", "temp": "\u00b0C", "abp": "mm(Hg)", "ppg_\u00e9": "a.u.",
             "flow": "mL/s", "ecg_ii": "mV"}
    rec = Record("w", {c: x + k for k, c in enumerate(units)}, dict.fromkeys(units, 125.0),
                 units=units)
    header = write_wfdb(rec, tmp_path)
    want = ["uV", "degC", "mmHg", "au", "mL/s", "mV"]
    theirs = wfdb.rdrecord(str(header.with_suffix("")))
    assert theirs.units == want
    assert theirs.sig_name == ["EEG", "TEMP", "ABP", "PPG_E", "FLOW", "II"]
    assert list(read_record(header).units.values()) == want
    np.testing.assert_allclose(theirs.p_signal[:, 2], x + 2, atol=1e-3)
    # Ω had been dropped ("NU"), ℃ and ℉ read "C" and "F"
    more = {"resp": "\u03a9", "temp": "\u2103", "skin": "\u2109"}
    rec = Record("w2", {c: x for c in more}, dict.fromkeys(more, 125.0), units=more)
    back = read_record(write_wfdb(rec, tmp_path))
    assert back.units == {"resp": "Ohm", "temp": "degC", "skin": "degF"}
    # two channels of one label in ASCII (pléth beside ppg: PLETH twice) are named, not
    # numbered (a PLETH_2 had read back as another channel's ppg_2)
    both = Record("w3", {"ppg": x, "pl\u00e9th": x}, {"ppg": 125.0, "pl\u00e9th": 125.0})
    with pytest.raises(RecordError, match=r"channels 'ppg' and 'pl\u00e9th' would both be "
                                          r"written as the WFDB signal 'PLETH'"):
        write_wfdb(both, tmp_path)


@pytest.mark.parametrize("labels", [{"alarm_type": "Ventricular_Tachycardia",
                                     "alarm_true": True}, {}])
def test_write_wfdb_keeps_an_alarm_time(tmp_path: Path, labels: dict) -> None:
    """An alarm at 250 s reads back at 250 s, labelled or not (it had read back at the
    Challenge's 300 s with labels, and not at all without), also after a span read."""
    from qualityfm.io import write_wfdb

    x = np.sin(np.arange(330 * 250) / 25).astype(np.float32)
    rec = Record("bed7", {"ecg_ii": x, "ppg": x}, {"ecg_ii": 250.0, "ppg": 250.0},
                 events={"alarm": 250.0}, labels=labels)
    hea = write_wfdb(rec, tmp_path)
    back = read_record(hea)
    assert back.events == {"alarm": 250.0}
    assert {k: back.labels[k] for k in labels} == labels
    assert read_record(hea, start=100.0, stop=200.0).events == {"alarm": 150.0}
    # labelled, or named by its type alone, without a time: the buffer ends at its alarm (it
    # had read back at the Challenge's 300 s, past a 60-s record's end; a type alone was lost)
    short = Record("bed8", {"ecg_ii": x[:15000]}, {"ecg_ii": 250.0}, labels=labels)
    back = read_record(write_wfdb(short, tmp_path))
    assert back.events == ({"alarm": 60.0} if labels else {})
    typed = Record("bed9", {"ecg_ii": x[:15000]}, {"ecg_ii": 250.0},
                   labels={"alarm_type": "Ventricular_Tachycardia"})
    back = read_record(write_wfdb(typed, tmp_path))
    assert back.events == {"alarm": 60.0}
    assert back.labels["alarm_type"] == "Ventricular_Tachycardia"
    assert "alarm_true" not in back.labels


@pytest.mark.parametrize("record_id", ["bed 7", "Bett7ü", "bed/7", "bed.7", ""])
def test_write_wfdb_refuses_an_id_wfdb_cannot_name_files_by(tmp_path: Path,
                                                            record_id: str) -> None:
    """Such ids had been written as records no reader reads (a space splits the header's
    record line), or failed with wfdb's or the file system's bare error."""
    from qualityfm.io import write_wfdb

    x = np.zeros(2500, np.float32) + np.arange(2500) % 7
    rec = Record(record_id, {"ecg_ii": x}, {"ecg_ii": 250.0})
    with pytest.raises(RecordError, match=rf"record id {re.escape(repr(record_id))}: "
                                          r"write_wfdb names the record's files by it"):
        write_wfdb(rec, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    bad = Record("bed7", {"ecg_ii": x}, {"ecg_ii": 250.0}, events={"alarm time": 250.0})
    with pytest.raises(RecordError, match=r"bed7: event name\(s\) \['alarm time'\] cannot be "
                                          "written"):
        write_wfdb(bad, tmp_path / "out")


def test_segments_of_one_channel_in_two_units_are_refused(tmp_path) -> None:
    """An arterial line in mmHg in one segment and kPa in the next had been joined under the
    first read's unit (which thus followed the span)."""
    d = (np.arange(100) % 50).astype("<i2")
    for seg, fmt in (("s1", "100(0)/mmHg"), ("s2", "10(5)/kPa"), ("s3", "100(0)/mmHg")):
        (tmp_path / f"{seg}.dat").write_bytes(d.tobytes())
        (tmp_path / f"{seg}.hea").write_text(f"{seg} 1 100 100\n{seg}.dat 16 {fmt} 16 0 0 0 0 "
                                             "ABP\n")
    (tmp_path / "m.hea").write_text("m/2 1 100 200\ns1 100\ns2 100\n")
    with pytest.raises(RecordError, match=r"m\.hea: segment s2 gives 'ABP' in 'kPa', "
                                          r"segment s1 in 'mmHg'"):
        read_record(tmp_path / "m.hea")
    assert read_record(tmp_path / "m.hea", start=1.5, stop=2.0).units == {"abp": "kPa"}
    (tmp_path / "same.hea").write_text("same/2 1 100 200\ns1 100\ns3 100\n")
    rec = read_record(tmp_path / "same.hea")
    assert rec.units == {"abp": "mmHg"} and len(rec.signals["abp"]) == 200
    # a first segment that states none does not hide the others' disagreement; case alone
    # is no other unit
    (tmp_path / "s0.dat").write_bytes(d.tobytes())
    (tmp_path / "s0.hea").write_text("s0 1 100 100\ns0.dat 16 100(0) 16 0 0 0 0 ABP\n")
    (tmp_path / "s4.dat").write_bytes(d.tobytes())
    (tmp_path / "s4.hea").write_text("s4 1 100 100\ns4.dat 16 100(0)/mmhg 16 0 0 0 0 ABP\n")
    (tmp_path / "u.hea").write_text("u/3 1 100 300\ns0 100\ns1 100\ns2 100\n")
    with pytest.raises(RecordError, match=r"segment s2 gives 'ABP' in 'kPa', segment s1"):
        read_record(tmp_path / "u.hea")
    (tmp_path / "c.hea").write_text("c/2 1 100 200\ns1 100\ns4 100\n")
    assert len(read_record(tmp_path / "c.hea").signals["abp"]) == 200
    # a first segment stating none takes the unit a later one states, whatever the span (it
    # had been 'NU' read whole, read as mmHg by the abp task, and kPa read from s2 on)
    (tmp_path / "k.hea").write_text("k/2 1 100 200\ns0 100\ns2 100\n")
    with pytest.warns(RuntimeWarning, match=r"k\.hea: 'ABP' states no units in segment s0; "
                                            r"read in 'kPa' as segment s2 states them"):
        assert read_record(tmp_path / "k.hea").units == {"abp": "kPa"}
    assert read_record(tmp_path / "k.hea", start=1.5).units == {"abp": "kPa"}
    with pytest.warns(RuntimeWarning, match=r"states no units in segment s0; read in 'kPa'"):
        # a span of the silent segment alone: the unit the others state (it had read 'NU')
        assert read_record(tmp_path / "k.hea", stop=0.5).units == {"abp": "kPa"}


@pytest.mark.parametrize("rate", ["nan", "inf", "-1"])
def test_a_header_rate_that_is_no_number_is_named(tmp_path, rate: str) -> None:
    np.zeros((100, 1), "<i2").tofile(tmp_path / "z.dat")
    (tmp_path / "r.hea").write_text(f"r 1 {rate} 100\nz.dat 16 200/mV 16 0 0 0 0 II\n")
    for span in ({}, {"start": 0.0, "stop": 0.5}):
        with pytest.raises(RecordError, match=r"r\.hea: corrupt WFDB header: it gives no "
                                              r"sampling rate \('"):
            read_record(tmp_path / "r.hea", **span)


@pytest.mark.parametrize("rate", ["1e-6", "3.6e2", "1E1"])
def test_a_rate_with_an_exponent_is_named_with_its_plain_form(tmp_path, rate: str) -> None:
    """header(5) allows 3.6e2; wfdb reads it to its 'e' (3.6 Hz) and loses the sample count:
    it had been called no number (1e-6), or failed as a corrupt signal file (1e1)."""
    np.zeros((100, 1), "<i2").tofile(tmp_path / "z.dat")
    (tmp_path / "r.hea").write_text(f"r 1 {rate} 100\nz.dat 16 200/mV 16 0 0 0 0 II\n")
    with pytest.raises(RecordError, match=rf"r\.hea: its sampling rate '{rate}' is written with "
                                          rf"an exponent.*\({float(rate):g}\)"):
        read_record(tmp_path / "r.hea")


def test_a_stated_sample_count_of_0_is_named_with_the_way_round_it(tmp_path) -> None:
    """header(5): a count of 0 is no count given; wfdb reads an empty record, which had been
    said of a file holding samples."""
    np.arange(5, dtype="<i2").tofile(tmp_path / "z.dat")
    (tmp_path / "r.hea").write_text("r 1 10 0\nz.dat 16 1/mV 16 0 0 0 0 II\n")
    with pytest.raises(RecordError, match=r"r\.hea: the header's record line counts 0 samples"
                                          r".*leave the count out"):
        read_record(tmp_path / "r.hea")
    (tmp_path / "r.hea").write_text("r 1 10\nz.dat 16 1/mV 16 0 0 0 0 II\n")
    np.testing.assert_array_equal(read_record(tmp_path / "r.hea").signals["ecg_ii"],
                                  np.arange(5))
    (tmp_path / "r.hea").write_text("r 1 10 0\nz.dat 516 1/mV 16 0 0 0 0 II\n")
    with pytest.raises(RecordError, match=r"counts 0 samples.*write the count \(a FLAC"):
        read_record(tmp_path / "r.hea")  # its size gives none: "leave it out" had failed
    (tmp_path / "z.dat").write_bytes(b"")  # no samples at all: an empty record
    (tmp_path / "r.hea").write_text("r 1 10 0\nz.dat 16 1/mV 16 0 0 0 0 II\n")
    with pytest.raises(RecordError, match=r"r\.hea: empty record"):
        read_record(tmp_path / "r.hea")
    # no count, and a file of less than one frame read over a span: no "counts 0" said of
    # a header stating no count
    (tmp_path / "r.hea").write_text("r 2 10\nz.dat 16 1/mV 16 0 0 0 0 II\n"
                                    "z.dat 16 1/mV 16 0 0 0 0 PLETH\n")
    (tmp_path / "z.dat").write_bytes(b"\0\0")
    with pytest.raises(RecordError, match=r"r\.hea: its signal file z\.dat holds less than one "
                                          r"sample of each"):
        read_record(tmp_path / "r.hea", start=0.0, stop=0.1)


def test_a_signal_files_lines_parted_by_another_files_are_named(tmp_path) -> None:
    """header(5): a file's signals are consecutive; such a header had failed as a truncated or
    corrupt signal file (wfdb's IndexError)."""
    np.zeros((5, 2), "<i2").tofile(tmp_path / "a.dat")
    np.zeros(5, "<i2").tofile(tmp_path / "b.dat")
    (tmp_path / "r.hea").write_text("r 3 10 5\na.dat 16 1/mV 16 0 0 0 0 II\n"
                                    "b.dat 16 1/mmHg 16 0 0 0 0 ABP\n"
                                    "a.dat 16 1/mV 16 0 0 0 0 V\n")
    with pytest.raises(RecordError, match=r"r\.hea: corrupt WFDB header \(the lines of signal "
                                          r"file a\.dat, signals 1, 3, are parted"):
        read_record(tmp_path / "r.hea")


@pytest.mark.parametrize(("line", "fault"), [
    ("r 1 250 100 0:0:0 0/0/0", r"base date '0/0/0' is no date, DD/MM/YYYY \(header\(5\)'s "
                                r"0/0/0 for none is one wfdb fails on: leave it out\)"),
    ("r 1 250 100 12:00:00 2000-01-01", r"base date '2000-01-01' is no date, DD/MM/YYYY"),
    ("r 1 250 100 25:00:00", r"base time '25:00:00' is no time, HH:MM:SS"),
    ("r 1 250 100 12:00:00 31/02/2000", r"base date '31/02/2000' is no date"),
    ("r 1 250/abc 100", r"counter frequency 'abc' is no number"),
    ("r 1 250/1000(x) 100", r"base counter value 'x' is no number")])
def test_a_record_lines_time_date_or_counter_fault_is_named(tmp_path, line: str,
                                                            fault: str) -> None:
    """wfdb's failure on such a field had been said as "truncated or corrupt signal file",
    pointing at an intact .dat, while the label pass read the header without a word."""
    np.zeros((100, 1), "<i2").tofile(tmp_path / "z.dat")
    (tmp_path / "r.hea").write_text(f"{line}\nz.dat 16 200/mV 16 0 0 0 0 II\n")
    for channels in (None, []):
        with pytest.raises(RecordError, match=r"r\.hea: corrupt WFDB header \(record line "
                                              rf"'{re.escape(line)}': {fault}"):
            read_record(tmp_path / "r.hea", channels=channels)
    (tmp_path / "r.hea").write_text("r 1 250/1000(2) 100 8:5:3.25 1/02/2000\n"
                                    "z.dat 16 200/mV 16 0 0 0 0 II\n")  # all good
    assert len(read_record(tmp_path / "r.hea").signals["ecg_ii"]) == 100


def _mat_record(folder: Path, name: str, samples: np.ndarray, fmt: str = "16+24",
                **savemat) -> Path:
    """A two-signal WFDB record ``name`` whose .mat signal file scipy writes as told."""
    import scipy.io

    scipy.io.savemat(folder / f"{name}.mat", {savemat.pop("key", "val"): samples}, **savemat)
    n = samples.shape[1]
    lines = [f"{name} 2 250 {n}"] + [f"{name}.mat {fmt} 200/mV 16 0 0 0 0 {lead}"
                                      for lead in ("II", "V")]
    hea = folder / f"{name}.hea"
    hea.write_text("\n".join(lines) + "\n")
    return hea


def test_a_mat_signal_file_of_another_layout_is_refused(tmp_path: Path) -> None:
    """A .mat that is no MATLAB v4 int16 matrix named val had been read from byte 24 as if it
    were: its samples shifted, the channels rotated, nothing said."""
    rng = np.random.default_rng(0)
    val = rng.integers(-500, 500, size=(2, 2500)).astype(np.int16)
    good = read_record(_mat_record(tmp_path, "good", val, format="4"))
    np.testing.assert_allclose(good.signals["ecg_v"], val[1] / 200, rtol=1e-6)
    cases = {
        "v5": (dict(), r"v5\.mat is a MATLAB v5 file; WFDB reads \.mat signal files of MATLAB v4"),
        "double": (dict(format="4", dtype=float),
                   r"double\.mat holds double samples, the header's format 16 reads int16"),
        "named": (dict(format="4", key="signal"),
                  r"named\.mat holds its samples from byte 27, the header's format field reads "
                  r"them from byte 24: write the field as 16\+27"),
        "bare": (dict(format="4", fmt="16"),
                 r"bare\.mat holds its samples from byte 24, the header's format field reads "
                 r"them from byte 0"),
        "rows": (dict(format="4", rows=1), r"rows\.mat holds 1 signals per frame, the header "
                                           r"gives it 2"),
    }
    for name, (kw, message) in cases.items():
        samples = val.astype(kw.pop("dtype", np.int16))[:kw.pop("rows", 2)]
        hea = _mat_record(tmp_path, name, samples, fmt=kw.pop("fmt", "16+24"), **kw)
        with pytest.raises(RecordError, match=rf"{name}\.hea: its signal file {message}"):
            read_record(hea)


def test_a_mat_file_without_a_header_count_is_read_to_its_matrix_end(tmp_path: Path) -> None:
    """A second variable after the matrix had been read as 31 more samples a signal (junk of
    up to 259 NU), the header stating no count."""
    import scipy.io

    rng = np.random.default_rng(2)
    val = rng.integers(-500, 500, size=(2, 1000)).astype(np.int16)
    hea = _mat_record(tmp_path, "two", val, format="4")
    hea.write_text(hea.read_text().replace("two 2 250 1000", "two 2 250"))
    scipy.io.savemat(tmp_path / "two.mat", {"val": val, "note": np.arange(50, dtype=np.int16)
                                            .reshape(1, 50)}, format="4")
    with pytest.warns(RuntimeWarning, match=r"two\.hea: its signal file two\.mat holds bytes "
                                            r"after its matrix of 1000 samples per signal"):
        rec = read_record(hea)
    np.testing.assert_allclose(rec.signals["ecg_v"], val[1] / 200, rtol=1e-6)
    with pytest.warns(RuntimeWarning, match="after its matrix"):
        part = read_record(hea, start=2.0)
    np.testing.assert_array_equal(part.signals["ecg_ii"], rec.signals["ecg_ii"][500:])


def test_a_dat_file_larger_than_its_formats_give_warns(tmp_path: Path) -> None:
    """16-bit samples under a format-80 header had read as other values without a word."""
    rng = np.random.default_rng(1)
    rng.integers(-500, 500, size=(2500, 2)).astype("<i2").tofile(tmp_path / "w.dat")
    lines = ["w 2 250 2500"] + [f"w.dat FMT 200/mV 8 0 0 0 0 {lead}" for lead in ("II", "V")]
    hea = tmp_path / "w.hea"
    hea.write_text("\n".join(lines).replace("FMT", "16") + "\n")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the right format: no word
        read_record(hea)
    hea.write_text("\n".join(lines).replace("FMT", "80") + "\n")
    with pytest.warns(RuntimeWarning, match=r"w\.hea: its signal file w\.dat holds 10000 bytes "
                                            r"of samples, the header's formats \(80, 80\) and "
                                            r"2500 samples per signal make 5000"):
        read_record(hea)


def test_a_segment_spelling_a_channel_otherwise_gives_its_samples(tmp_path: Path) -> None:
    """A later segment naming PLETH "Pleth" and III "ECG III": the same channels (they had
    been left NaN in that segment, half the record, without a word)."""
    import shutil

    folder = tmp_path / "041s"
    shutil.copytree(shared_path("wfdb_samples", "041s"), folder)
    seg = folder / "041s02.hea"
    seg.write_text(seg.read_text().replace("PLETH", "Pleth").replace(" III ", " ECG III "))
    spelt = read_record(folder / "041s.hea")
    plain = read_record(shared_path("wfdb_samples", "041s", "041s.hea"))
    for channel in ("ppg", "ecg_iii"):
        assert not np.isnan(spelt.signals[channel]).any()
        np.testing.assert_array_equal(spelt.signals[channel], plain.signals[channel])


def test_a_multisegment_header_listing_itself_is_refused(tmp_path: Path) -> None:
    """It had raised a bare TypeError (and in a folder the record vanished as its own
    segment)."""
    (tmp_path / "self.hea").write_text("self/2 1 125 40\nself 20\nseg 20\n")
    (tmp_path / "seg.hea").write_text("seg 1 125 20\nseg.dat 16 200/mV 16 0 0 0 0 II\n")
    (tmp_path / "seg.dat").write_bytes(b"\0" * 40)
    with pytest.raises(RecordError, match=r"self\.hea: corrupt WFDB header \(a multi-segment "
                                          r"record that lists itself, self, as a segment\)"):
        read_record(tmp_path / "self.hea")
    assert tmp_path / "self.hea" in find_records(tmp_path)  # listed, so that its read says why


def test_a_segment_that_is_itself_multisegment_is_named(tmp_path: Path) -> None:
    """WFDB does not nest records: such a segment had raised a bare TypeError (as the first
    segment) or been read as NaN without a word (after a layout segment)."""
    (tmp_path / "seg2.hea").write_text("seg2 1 100 200\nseg2.dat 16 200/mV 16 0 0 0 0 II\n")
    (tmp_path / "seg2.dat").write_bytes(np.arange(200, dtype="<i2").tobytes())
    (tmp_path / "nest.hea").write_text("nest/1 1 100 200\nseg2 200\n")
    (tmp_path / "r.hea").write_text("r/1 1 100 200\nnest 200\n")
    with pytest.raises(RecordError, match=r"r\.hea: segment nest: its header is itself a "
                                          r"multi-segment record"):
        read_record(tmp_path / "r.hea")
    (tmp_path / "lay.hea").write_text("lay 1 100 0\n~ 0 200/mV 16 0 0 0 0 II\n")
    (tmp_path / "v.hea").write_text("v/3 1 100 400\nlay 0\nseg2 200\nnest 200\n")
    with pytest.warns(RuntimeWarning, match=r"nest.*itself a multi-segment record"):
        rec = read_record(tmp_path / "v.hea")
    assert np.isnan(rec.signals["ecg_ii"][200:]).all()
    np.testing.assert_allclose(rec.signals["ecg_ii"][:200], np.arange(200) / 200)


def test_two_unnamed_leads_of_a_multisegment_record_never_swap(tmp_path: Path) -> None:
    """Leads ECG1 (1 mV) and ECG2 (2 mV): a later segment holding ECG2 alone, or both in the
    other order, gives each its own samples (matching by channel kind had put ECG2's into
    ECG1's channel)."""
    def segment(name: str, leads: list[str]) -> None:
        lines = [f"{name} {len(leads)} 125 10"] + [
            f"{name}.dat 16 100/mV 16 0 0 0 0 {lead}" for lead in leads]
        (tmp_path / f"{name}.hea").write_text("\n".join(lines) + "\n")
        values = [100 * int(lead[-1]) for lead in leads]
        np.tile(np.array(values, "<i2"), (10, 1)).tofile(tmp_path / f"{name}.dat")

    segment("s1", ["ECG1", "ECG2"])
    for later, ecg1 in ((["ECG2"], np.nan), (["ECG2", "ECG1"], 1.0), (["ecg2", "ecg1"], 1.0)):
        segment("s2", later)
        (tmp_path / "r.hea").write_text("r/2 2 125 20\ns1 10\ns2 10\n")
        rec = read_record(tmp_path / "r.hea")
        np.testing.assert_allclose(rec.signals["ecg"], [1.0] * 10 + [ecg1] * 10)
        np.testing.assert_allclose(rec.signals["ecg_2"], [2.0] * 20)
    # a layout of one unnamed lead: a segment holding another is no piece of it
    segment("s1", ["ECG1"])
    segment("s2", ["ECG2"])
    (tmp_path / "r.hea").write_text("r/2 1 125 20\ns1 10\ns2 10\n")
    np.testing.assert_allclose(read_record(tmp_path / "r.hea").signals["ecg"],
                               [1.0] * 10 + [np.nan] * 10)


def test_mimic_segments_read_alone_share_their_records_patient(tmp_path: Path) -> None:
    """Two pieces of one MIMIC stay (3269321_0001, _0002) in MIMIC-III's 32/3269321/ folders,
    read without their master header: one patient (they had been two groups); inside a
    pNNNNNN folder the subject still names it."""
    import shutil

    src = shared_path("wfdb_samples", "p000878_partial")
    stay = tmp_path / "32" / "3269321"
    stay.mkdir(parents=True)
    for f in src.glob("3269321_000*"):
        shutil.copy(f, stay / f.name)
    patients = {read_record(h).patient_id for h in find_records(stay)}
    assert patients == {"3269321"}
    assert {read_record(h).patient_id for h in find_records(src)} == {"p000878"}
    other = tmp_path / "recordings"  # names of that shape elsewhere: each its own
    shutil.copytree(stay, other)
    assert {read_record(h).patient_id for h in find_records(other)} == {
        "3269321_0001", "3269321_0002"}
    # beside their record's layout header (its master gone): pieces of one stay again
    (other / "3269321_layout.hea").write_text("3269321_layout 1 125 0\n~ 0 100/mV 16 0 0 0 0 II\n")
    assert {read_record(h).patient_id for h in find_records(other)} == {"3269321"}


def test_mimic_matched_records_copied_into_one_folder_keep_their_subject(tmp_path) -> None:
    """MIMIC-III matched subset records (p000020-2183-04-28-17-47, numerics ...n) copied out of
    their p00/p000020/ folders (wfdb.dl_database(keep_subdirs=False)): each had been a patient
    of its own, one subject's records on both sides of a fold; other names keep their own."""
    from qualityfm.io import write_wfdb
    from qualityfm.signal import synthesize

    for name in ("p000020-2183-04-28-17-47", "p000020-2183-04-29-09-10",
                 "p000020-2183-04-28-17-47n", "p10014354-2150-01-01-10-00", "p000021-notes",
                 "p000020-2183-04-28-17-47x"):
        write_wfdb(synthesize(10.0, 125.0, seed=0, channels=("ecg_ii",), record_id=name),
                   tmp_path)
    patients = {h.stem: read_record(h).patient_id for h in find_records(tmp_path)}
    assert patients == {"p000020-2183-04-28-17-47": "p000020",
                        "p000020-2183-04-29-09-10": "p000020",
                        "p000020-2183-04-28-17-47n": "p000020",
                        "p10014354-2150-01-01-10-00": "p10014354",
                        "p000021-notes": "p000021-notes",
                        "p000020-2183-04-28-17-47x": "p000020-2183-04-28-17-47x"}


def test_a_segment_in_mimics_own_folders_is_its_subjects(tmp_path: Path) -> None:
    """MIMIC-III's layout p00/p000020/3544749/3544749_0001: the subject folder two levels up
    names the patient (the stay folder one level up, 3544749, had been all that was read)."""
    from qualityfm.io import write_wfdb
    from qualityfm.signal import synthesize

    stay = tmp_path / "p00" / "p000020" / "3544749"
    stay.mkdir(parents=True)
    for name in ("3544749_0001", "3544749_0002"):
        write_wfdb(synthesize(10.0, 125.0, seed=0, channels=("ecg_ii",), record_id=name), stay)
    assert {read_record(h).patient_id for h in find_records(stay)} == {"p000020"}
    assert read_record(stay / "3544749_0001.hea").patient_id == "p000020"


def test_a_gain_near_zero_is_refused_naming_the_channel(tmp_path: Path) -> None:
    """A gain of 1e-30 had read an ECG as 1e34 mV: scored 0 with numpy's overflow warnings
    that named no file."""
    rng = np.random.default_rng(2)
    rng.integers(-500, 500, size=(500, 2)).astype("<i2").tofile(tmp_path / "g.dat")
    lines = ["g 2 250 500", "g.dat 16 1e-30/mV 16 0 0 0 0 II", "g.dat 16 200/mV 16 0 0 0 0 V"]
    (tmp_path / "g.hea").write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordError, match=r"g\.hea: channel 'ecg_ii' reads values of .*e\+3\d "
                                          r"mV: its gain or baseline in the header is no "
                                          r"calibration"):
        read_record(tmp_path / "g.hea")
    assert read_record(tmp_path / "g.hea", channels=["ecg_v"]).channels == ["ecg_v"]


def test_header_fields_wfdb_would_split_otherwise_are_refused(tmp_path: Path) -> None:
    """wfdb takes gains, baselines and offsets from a signal line, this reader names and
    units: units past wfdb's pattern (``mm[Hg]``, ``0.1mmHg``) or a non-ASCII space had ended
    wfdb's units early, its ADC zero lost and every value shifted by 5.12 without a word;
    such units before no field that matters read as written."""
    (tmp_path / "g.dat").write_bytes((np.arange(4) * 100 + 1024).astype("<i2").tobytes())
    hea = tmp_path / "g.hea"
    hea.write_text("g 1 100 4\ng.dat 16 200/µmHg 16 1024 0 0 0 ABP\n", encoding="utf-8")
    np.testing.assert_allclose(read_record(hea).signals["abp"], [0, 0.5, 1, 1.5])
    hea.write_text("g 1 100 4\ng.dat 16 200/mmHg 16 1024.0 0 0 0 ABP\n")  # read as wfdb reads
    np.testing.assert_allclose(read_record(hea).signals["abp"], [0, 0.5, 1, 1.5])  # (int() of
    # it had crashed a folder's scan)
    hea.write_text("g 1 100 4\ng.dat 16 200(1024)/mm[Hg] 16 0 0 0 0 ABP\n")  # lost: nothing
    np.testing.assert_allclose(read_record(hea).signals["abp"], [0, 0.5, 1, 1.5])
    assert read_record(hea).units == {"abp": "mm[Hg]"}
    for line, field in (("g.dat 16 200/mm[Hg] 16 1024 0 0 0 ABP", "baseline as 0, not 1024"),
                        ("g.dat 16 200/0.1mmHg 16 1024 0 0 0 ABP", "baseline as 0, not 1024"),
                        ("g.dat 16 200/mmHg\u00a016 1024 0 0 0 ABP", "baseline as 0, not"),
                        ("sub/g.dat 16 200/mmHg 16 1024 0 0 0 ABP", "cannot read the line")):
        hea.write_text(f"g 1 100 4\n{line}\n", encoding="utf-8")
        with pytest.raises(RecordError, match=rf"g\.hea: corrupt WFDB header \(signal 1 'ABP': "
                                              rf"a WFDB reader (would read its )?{field}"):
            read_record(hea)
    for zero, said in (("+5", "baseline as 0, not 5"), ("1e3", "baseline as 1, not 1000"),
                       ("5.7", "ADC zero field '5.7' is no integer"),
                       ("-", "ADC zero field '-' is no integer")):  # (int() had crashed)
        hea.write_text(f"g 1 100 4\ng.dat 16 200/mmHg 16 {zero} 0 0 0 ABP\n")
        with pytest.raises(RecordError, match=re.escape(said)):
            read_record(hea)
    hea.write_text("g 1 100 -4\ng.dat 16 200/mmHg 16 1024 0 0 0 ABP\n")
    with pytest.raises(RecordError, match="a negative count"):
        read_record(hea)
    hea.write_text("g 1 100 4\ng.dat 0 200/mmHg 16 1024 0 0 0 ABP\n")
    with pytest.raises(RecordError, match=r"signal 1 'ABP' is a null signal \(format 0"):
        read_record(hea)


def test_format_32_keeps_its_precision(tmp_path: Path) -> None:
    """32-bit samples less a baseline of 2**30 had been computed in float32 (0 for 1)."""
    base = 2**30
    (tmp_path / "p.dat").write_bytes((base + np.array([0, 1, 2, 3, 100, -50])).astype("<i4")
                                     .tobytes())
    (tmp_path / "p.hea").write_text(f"p 1 100 6\np.dat 32 1({base})/uV 32 0 0 0 0 II\n")
    np.testing.assert_array_equal(read_record(tmp_path / "p.hea").signals["ecg_ii"],
                                  [0, 1, 2, 3, 100, -50])


def test_a_short_signal_file_is_named_with_its_size(tmp_path: Path) -> None:
    """wfdb says "Samples were not loaded correctly" naming no file: the file at fault and
    its size are named, and a span within what it holds still reads."""
    x = np.arange(20).astype("<i2")
    (tmp_path / "a.dat").write_bytes(x.tobytes())
    (tmp_path / "b.dat").write_bytes(x[:15].tobytes())
    hea = tmp_path / "t.hea"
    hea.write_text("t 2 100 20\na.dat 16 1/mV 16 0 0 0 0 II\nb.dat 16 1/mV 16 0 0 0 0 V\n")
    with pytest.raises(RecordError, match=r"t\.hea: truncated signal file b\.dat: it holds 30 "
                                          r"bytes of samples, the header's formats \(16\) need "
                                          r"40 bytes for the first 20 samples per signal, "
                                          r"which the read takes"):
        read_record(hea)
    np.testing.assert_array_equal(read_record(hea, stop=0.15).signals["ecg_v"], x[:15])
    # a channel whose file is whole reads in full (only the files read are checked)
    np.testing.assert_array_equal(read_record(hea, channels=["ecg_ii"]).signals["ecg_ii"], x)


def test_segment_lines_must_agree_with_the_segments(tmp_path: Path) -> None:
    """A segment line counting other samples than the segment's header had cut or shifted
    the record's timeline without a word (or read a whole good segment as a gap)."""
    for name, first in (("s1", 0), ("s2", 100)):
        (tmp_path / f"{name}.dat").write_bytes((first + np.arange(10)).astype("<i2").tobytes())
        (tmp_path / f"{name}.hea").write_text(f"{name} 1 100 10\n{name}.dat 16 1/mV 16 0 0 0 0 "
                                              "II\n")
    master = tmp_path / "m.hea"
    master.write_text("m/2 1 100 20\ns1 10\ns2 10\n")
    np.testing.assert_array_equal(read_record(master).signals["ecg_ii"],
                                  [*range(10), *range(100, 110)])
    for text, match in (("m/2 1 100 15\ns1 5\ns2 10\n", "segment s1 cannot be read \\(the "
                         "record's header gives it 5 samples per signal, its own header 10"),
                        ("m/2 1 100 22\ns1 12\ns2 10\n", ".*gives it 12 samples")):
        master.write_text(text)
        with pytest.warns(RuntimeWarning, match=rf"m\.hea: {match}"):
            rec = read_record(master)
        np.testing.assert_array_equal(rec.signals["ecg_ii"][-10:], range(100, 110))  # s2 read
    from qualityfm.io.wfdb_reader import header_files

    master.write_text("m/² 1 100 20\ns1 10\ns2 10\n")  # no ValueError out of a folder scan
    with pytest.raises(RecordError, match="announces ² segments"):
        read_record(master)
    master.write_text("m/2 1 100 20\ns1 10\n\x00 10\n")
    assert header_files(master)[:2] == [tmp_path / "s1.hea", tmp_path / "s1.dat"]
    master.write_text("m/02 1 100 20\ns1 10\ns2 10\n")  # the count as a number
    assert len(read_record(master).signals["ecg_ii"]) == 20
    for text, match in (("m/5 1 100 20\ns1 10\ns2 10\n", "announces 5 segments, 2 segment"),
                        ("m/2 1 100 20\ns1 -10\ns2 10\n", "a segment of a negative length")):
        master.write_text(text)
        with pytest.raises(RecordError, match=rf"m\.hea: .*{match}"):
            read_record(master)


def test_challenge_2015_answers_beside_the_headers(tmp_path: Path) -> None:
    """A test set's answers come apart from its headers: ``alarms.csv`` (or the Challenge's
    ``ALARMS``, 1/0 without a header line) labels records whose headers carry no label, and
    a disagreement leaves the record unlabelled, said why (the file had been ignored: a
    folder of unlabelled headers read as no record, one of flipped answers as the headers)."""
    import shutil

    src = shared_path("physionet2015_vt")
    for name in ("v100s", "v101l", "v131l"):
        shutil.copy(src / f"{name}.mat", tmp_path)
        text = (src / f"{name}.hea").read_text()
        if name != "v131l":  # v131l keeps its '#True alarm' line
            text = "".join(ln + "\n" for ln in text.splitlines() if not ln.startswith("#"))
        (tmp_path / f"{name}.hea").write_text(text)
    assert "alarm_true" not in read_record(tmp_path / "v100s.hea").labels
    (tmp_path / "alarms.csv").write_text("record,alarm_type,label\nv100s,Ventricular_Tachycardia,"
                                         "true\nv101l,Ventricular_Tachycardia,maybe\n"
                                         "v131l,Ventricular_Tachycardia,false\n")
    rec = read_record(tmp_path / "v100s.hea")
    assert rec.labels == {"alarm_true": True, "alarm_type": "Ventricular_Tachycardia"}
    assert rec.events == {"alarm": 300.0}
    assert read_record(tmp_path / "v101l.hea").labels["unlabelled"] == {
        "alarm_true": "alarms.csv beside it gives it 'maybe', not true/false or 1/0"}
    assert read_record(tmp_path / "v131l.hea").labels["unlabelled"] == {
        "alarm_true": "its header labels the alarm true, alarms.csv beside it false"}
    # in the header's own words: read (beside a header labelled otherwise it had been no
    # label, left out unsaid)
    (tmp_path / "alarms.csv").write_text("record,alarm_type,label\nv100s,Ventricular_Tachycardia,"
                                         "True alarm\nv131l,Ventricular_Tachycardia,False_Alarm\n")
    assert read_record(tmp_path / "v100s.hea").labels["alarm_true"] is True
    assert read_record(tmp_path / "v131l.hea").labels["unlabelled"] == {
        "alarm_true": "its header labels the alarm true, alarms.csv beside it false"}
    (tmp_path / "alarms.csv").unlink()
    (tmp_path / "ALARMS").write_text("v100s,Ventricular_Tachycardia,0\nv131l,"
                                     "Ventricular_Tachycardia,1\n")
    assert read_record(tmp_path / "v100s.hea").labels["alarm_true"] is False
    assert read_record(tmp_path / "v131l.hea").labels["alarm_true"] is True

    def why(name: str) -> str | None:
        return read_record(tmp_path / f"{name}.hea", channels=[]).labels.get(
            "unlabelled", {}).get("alarm_true")

    # the two files disagreeing: no label, said why (alarms.csv had won unsaid)
    (tmp_path / "alarms.csv").write_text("v100s,Ventricular_Tachycardia,true\n")
    assert why("v100s") == "alarms.csv and ALARMS beside it label it both true and false"
    (tmp_path / "ALARMS").unlink()
    # another alarm type than the header's, or two types: no label
    (tmp_path / "alarms.csv").write_text("v131l,Asystole,true\nv100s,Asystole,false\n"
                                         "v100s,Tachycardia,false\n")
    assert why("v131l") == ("its header names a Ventricular_Tachycardia alarm, alarms.csv "
                            "beside it Asystole")
    assert why("v100s") == "alarms.csv beside it gives it 2 alarm types (Asystole, Tachycardia)"
    # columns named by a header line in another order, a trailing column, semicolons
    (tmp_path / "alarms.csv").write_text("record;label;alarm_type;checked\n"
                                         "v100s;1;Ventricular_Tachycardia;yes\nv101l\n")
    rec = read_record(tmp_path / "v100s.hea", channels=[])
    assert rec.labels == {"alarm_true": True, "alarm_type": "Ventricular_Tachycardia"}
    assert why("v101l") == "alarms.csv beside it gives it no label"
    # a title line without commas, and a header line holding a comma: most rows decide
    (tmp_path / "alarms.csv").write_text("answers; v3\nv100s,Asystole,true\nv101l,Asystole,"
                                         "false\n")
    assert read_record(tmp_path / "v101l.hea", channels=[]).labels["alarm_true"] is False
    (tmp_path / "alarms.csv").write_text("record;type;label (true, false)\nv100s;Asystole;1\n"
                                         "v101l;Asystole;0\n")
    assert read_record(tmp_path / "v100s.hea", channels=[]).labels["alarm_true"] is True
    (tmp_path / "alarms.csv").write_text("v131l,Asystole,true\n")
    assert why("v131l").startswith("its header names a Ventricular_Tachycardia alarm")
    (tmp_path / "alarms.csv").write_text("v100s\nv101l\n")  # no row of two cells
    assert why("v100s") == ("alarms.csv beside it holds no row of a record and its label "
                            "(cells parted by commas, semicolons or tabs)")
    assert read_record(tmp_path / "v100s.hea", channels=[]).events == {}  # (a 300-s alarm
    # had been set on every record beside a table that does not read, past a short one's end)
    # a file that does not read: a labelled header stands, an unlabelled one says why
    (tmp_path / "alarms.csv").write_bytes("v100s,Ventricular_Tachycardia,fälse\n"
                                          .encode("cp1252"))
    assert read_record(tmp_path / "v131l.hea", channels=[]).labels["alarm_true"] is True
    assert why("v100s").startswith("alarms.csv beside it cannot be read (")
    (tmp_path / "REFERENCE.csv").write_bytes("v100s,é\n".encode("cp1252"))  # rhythms too
    labels = read_record(tmp_path / "v131l.hea", channels=[]).labels  # (it had raised)
    assert labels["alarm_true"] is True and list(labels["unlabelled"]) == ["rhythm"]
    assert labels["unlabelled"]["rhythm"].startswith("REFERENCE.csv beside it cannot be read")


def test_alarm_answers_against_the_header_type(tmp_path: Path) -> None:
    """The header's alarm type is compared only where it names one (a note before the label
    line had been taken for a type, and the alarm left unlabelled); the reason reads well."""
    from qualityfm.io.wfdb_reader import _alarm_answer

    (tmp_path / "alarms.csv").write_text("x,Tachycardia,1\n")
    assert _alarm_answer(str(tmp_path), "x", "Asystole", True)[2] == (
        "its header names an Asystole alarm, alarms.csv beside it Tachycardia")
    assert _alarm_answer(str(tmp_path), "x", "recorded at bed 3", True) == (
        "Tachycardia", True, None)


def test_a_flac_record_without_a_sample_count_is_named(tmp_path: Path) -> None:
    """wfdb had failed on it with a ZeroDivisionError read as a corrupt signal file, and a
    span read had been told to read the whole record, which failed so."""
    import shutil

    src = shared_path("physionet2015_icu", "icu0025.hea")
    for f in src.parent.glob("icu0025.*"):
        shutil.copy(f, tmp_path)
    hea = tmp_path / "icu0025.hea"
    lines = hea.read_text().splitlines()
    hea.write_text("\n".join([" ".join(lines[0].split()[:3]), *lines[1:]]) + "\n")
    for span in ({}, {"stop": 5.0}):
        with pytest.raises(RecordError, match=r"icu0025\.hea: the header states no sample "
                                              r"count, which a FLAC-compressed signal file "
                                              r"\(format 5\d\d\) does not give by its size"):
            read_record(hea, **span)


def test_write_wfdb_keeps_adc_counts_exactly_and_names_what_it_cannot_write(tmp_path) -> None:
    """A channel of ADC counts came back scaled (2253 as 2253.032); an infinite sample gave
    wfdb's own ValueError, naming no record; a unit with a space is written without it."""
    from qualityfm.io import Record
    from qualityfm.io.write import write_wfdb

    counts = np.random.default_rng(0).integers(-2000, 3000, 5000).astype(np.float64)
    counts[100:110] = np.nan  # a gap stays a gap
    wave = np.sin(np.arange(5000) / 10.0)
    rec = Record("adc", {"ecg_ii": counts, "ppg": wave}, {"ecg_ii": 250.0, "ppg": 250.0},
                 units={"ecg_ii": "mV", "ppg": "NU"})
    back = read_record(write_wfdb(rec, tmp_path))
    np.testing.assert_array_equal(back.signals["ecg_ii"], counts.astype(np.float32))
    np.testing.assert_allclose(back.signals["ppg"], wave, atol=1.01 / 65534)  # half a step
    spaced = Record("r9", {"abp": wave}, {"abp": 125.0}, units={"abp": "mm Hg"})
    assert read_record(write_wfdb(spaced, tmp_path)).units["abp"] == "mmHg"  # (wfdb refuses
    # the space: it had been refused in wfdb's words, though the CSV reader reads the unit)
    with pytest.raises(RecordError, match=r"r8: channel\(s\) \['ppg'\] hold an infinite sample"):
        write_wfdb(Record("r8", {"ppg": np.r_[wave[:9], np.inf]}, {"ppg": 125.0}), tmp_path)
    assert not (tmp_path / "r8.hea").exists()


def test_a_null_signal_reads_as_missing_samples(tmp_path: Path) -> None:
    """A signal line of file '~' (format 0, no samples stored) reads as NaN, as WFDB reads
    it; it had failed the whole record as a "truncated or corrupt signal file" (KeyError)."""
    (tmp_path / "n.dat").write_bytes(np.arange(500, dtype="<i2").tobytes())
    hea = tmp_path / "n.hea"
    hea.write_text("n 2 100 500\nn.dat 16 200/mV 16 0 0 0 0 II\n~ 0 1/NU 16 0 0 0 0 PLETH\n")
    with pytest.warns(RuntimeWarning, match=r"n\.hea: 'PLETH': null signal\(s\) \(file '~', "
                                            r"no samples stored\), read as missing samples"):
        rec = read_record(hea, start=1.0, stop=2.0)
    assert rec.channels == ["ecg_ii", "ppg"] and np.isnan(rec.signals["ppg"]).all()
    np.testing.assert_allclose(rec.signals["ecg_ii"], np.arange(100, 200) / 200.0, rtol=1e-6)
    with pytest.raises(RecordError, match=r"n\.hea: empty record \(its signals read are null"):
        read_record(hea, channels=["ppg"])


def test_a_layout_segment_naming_fewer_signals_than_the_record_is_named_as_such(
        tmp_path: Path) -> None:
    """The message had told a record with a layout segment to add one; a layout naming more
    signals than the record line (wfdb reads it) reads as before."""
    _segment(tmp_path, "vl_0001", 0, 1250, ["II", "PLETH"])
    (tmp_path / "vl_layout.hea").write_text("vl_layout 2 125 0\n~ 0 100/mV 16 0 0 0 0 II\n"
                                            "~ 0 1/NU 16 0 0 0 0 PLETH\n")
    master = tmp_path / "vl.hea"
    master.write_text("vl/2 3 125 1250\nvl_layout 0\nvl_0001 1250\n")
    with pytest.raises(RecordError, match=r"vl\.hea: its record line announces 3 signals, its "
                                          r"layout segment vl_layout names 2 \(II, PLETH\)$"):
        read_record(master)
    master.write_text("vl/2 1 125 1250\nvl_layout 0\nvl_0001 1250\n")
    assert read_record(master).channels == ["ecg_ii", "ppg"]


def test_a_null_signal_in_a_segment_leaves_that_channel_alone_missing(tmp_path: Path) -> None:
    """A segment holding a null signal had been read as a gap whole (its ECG too), and a
    header without a sample count whose first signal is null is named."""
    (tmp_path / "s1.dat").write_bytes((np.arange(1250, dtype="<i2") % 100).tobytes())
    (tmp_path / "s1.hea").write_text("s1 2 125 1250\ns1.dat 16 100/mV 16 0 0 0 0 II\n"
                                     "~ 0 1/NU 16 0 0 0 0 PLETH\n")
    _segment(tmp_path, "s2", 1250, 1250, ["II", "PLETH"])
    master = tmp_path / "m.hea"
    master.write_text("m/2 2 125 2500\ns1 1250\ns2 1250\n")
    rec = read_record(master)
    assert np.isfinite(rec.signals["ecg_ii"]).all()
    ppg = rec.signals["ppg"]
    assert np.isnan(ppg[:1250]).all() and np.isfinite(ppg[1250:]).all()
    (tmp_path / "a.hea").write_text("a 2 125\n~ 0 1/NU 16 0 0 0 0 PLETH\n"
                                    "s1.dat 16 100/mV 16 0 0 0 0 II\n")
    with pytest.raises(RecordError, match=r"a\.hea: the header states no sample count and its "
                                          r"first signal is a null signal"):
        read_record(tmp_path / "a.hea")


def test_a_missing_layout_header_takes_the_channels_from_the_segments(tmp_path: Path) -> None:
    """A partial download without its layout header had lost the whole record, though a lost
    data segment is only a gap; the channels now come from the segments' headers, warned."""
    folder = tmp_path / "p000123"
    folder.mkdir()
    _segment(folder, "3000001_0001", 0, 5000, ["II", "PLETH"])
    _segment(folder, "3000001_0002", 6250, 6250, ["PLETH", "ABP", "II"])
    master = folder / "3000001.hea"
    master.write_text("3000001/4 3 125 12500\n3000001_layout 0\n3000001_0001 5000\n~ 1250\n"
                      "3000001_0002 6250\n")
    with pytest.warns(UserWarning, match=r"3000001\.hea: missing segment header "
                                         r"3000001_layout\.hea: the channels are taken from "
                                         r"the segments' own headers \(II, PLETH, ABP\)"):
        rec = read_record(master)
    assert rec.channels == ["ecg_ii", "ppg", "abp"]
    assert rec.units == {"ecg_ii": "mV", "ppg": "NU", "abp": "mmHg"}
    idx = np.arange(12500)
    gap = (idx >= 5000) & (idx < 6250)
    np.testing.assert_allclose(rec.signals["ppg"][~gap], 2 + idx[~gap] / 1e5, atol=1e-4)
    assert np.isnan(rec.signals["abp"][:6250]).all()
    # segments naming fewer channels than the record line: refused, as before
    master.write_text("3000001/4 4 125 12500\n3000001_layout 0\n3000001_0001 5000\n~ 1250\n"
                      "3000001_0002 6250\n")
    with pytest.raises(RecordError, match="missing segment header 3000001_layout.hea"):
        read_record(master)


def test_an_arterial_line_of_no_stated_unit_is_no_millivolt(tmp_path: Path) -> None:
    """A header stating no unit for ABP had given WFDB's default, mV, and the abp task then
    refused the record, though a CSV's or a NumPy file's unitless line is taken as mmHg."""
    from qualityfm.tasks.datasets import _abp_in_mmhg

    n = 1250
    counts = np.column_stack([np.zeros(n), np.zeros(n), np.full(n, 900)]).astype("<i2")
    counts.tofile(tmp_path / "u.dat")
    (tmp_path / "u.hea").write_text(
        f"u 3 125 {n}\nu.dat 16 200/mV 16 0 0 0 0 II\nu.dat 16 100 16 0 0 0 0 PLETH\n"
        "u.dat 16 10 16 0 0 0 0 ABP\n")
    rec = read_record(tmp_path / "u.hea")
    assert rec.units == {"ecg_ii": "mV", "ppg": "NU", "abp": "NU"}
    assert float(_abp_in_mmhg(rec, tmp_path / "u.hea").signals["abp"][0]) == 90.0


def test_headers_reaching_outside_their_folder_or_past_float32_are_refused(
        tmp_path: Path) -> None:
    """A segment named ../ok/ok (or by its whole path) had read another folder's record under
    this header's name; a gain of 1e300 had read every value as 0 (a "flat" channel); a
    counter frequency written with an exponent had been "a corrupt signal file"; a gain of a
    capital E had been "not gain[(baseline)][/units]", the shape it has."""
    from qualityfm.io import write_wfdb
    from qualityfm.signal import synthesize

    ok = tmp_path / "ok"
    write_wfdb(synthesize(60.0, 250.0, seed=0, record_id="ok", channels=("ecg_ii",)), ok)
    here = tmp_path / "here"
    here.mkdir()
    for segment in ("../ok/ok", str(ok / "ok")):
        (here / "m.hea").write_text(f"m/1 1 250 15000\n{segment} 15000\n")
        with pytest.raises(RecordError, match=r"a segment is a record in the header's own "
                                              r"folder, named without a path"):
            read_record(here / "m.hea")
    dat = (ok / "ok.hea").read_text().splitlines()
    (ok / "g.hea").write_text(f"g 1 250 15000\n{dat[1].split()[0]} 16 1e300/mV 16 0 0 0 0 "
                              "II\n")
    with pytest.raises(RecordError, match=r"its gain '1e300' makes one ADC step 1e-300 of its "
                                          r"unit, under the 1e-30 read as a calibration"):
        read_record(ok / "g.hea")
    for gain in ("2E3/mV", "1.5E+02(-3)/mmHg"):  # wfdb reads gain 2 of unit "E3/mV"
        (ok / "g.hea").write_text(f"g 1 250 15000\n{dat[1].split()[0]} 16 {gain} 16 0 0 0 0 "
                                  "II\n")
        with pytest.raises(RecordError, match=rf"gain field '{re.escape(gain)}' is written "
                                              r"with a capital E, which wfdb misreads"):
            read_record(ok / "g.hea")
    for line, what in (("250/1e3", "counter frequency '1e3' is written with an exponent"),
                       ("250/1000(1e3)", "base counter value '1e3' is written with an "
                                         "exponent"),
                       ("250/1000(+5)", "base counter value '+5' is written with an "
                                        "exponent or a '+' sign"),
                       ("250/1000(zero)", "base counter value 'zero' is no number")):
        (ok / "c.hea").write_text(f"c 1 {line} 15000\n{dat[1]}\n")
        with pytest.raises(RecordError, match=re.escape(what)):
            read_record(ok / "c.hea")
    (ok / "z.hea").write_text(f"z 1 0 15000\n{dat[1]}\n")  # a rate of 0 is no numerics
    assert (ok / "z.hea") in find_records(ok)  # record: listed, to be read and said so


def test_a_label_table_past_its_size_is_named_not_read(tmp_path: Path, monkeypatch) -> None:
    """A 234-MB alarms.csv beside the records had taken 4.3 GB and a minute to read one
    record: a table past MAX_LABEL_TABLE_BYTES is named as the reason, not read."""
    from qualityfm.io import wfdb_reader, write_wfdb
    from qualityfm.signal import synthesize

    write_wfdb(synthesize(40.0, 300.0, seed=0, record_id="A00001", channels=("ecg_ii",)),
               tmp_path)
    (tmp_path / "REFERENCE.csv").write_text("A00001,N\n" + "A99999,N\n" * 100)
    assert read_record(tmp_path / "A00001.hea").labels["rhythm"] == "N"
    monkeypatch.setattr(wfdb_reader, "MAX_LABEL_TABLE_BYTES", 500)
    (tmp_path / "REFERENCE.csv").write_text("A00001,N\n" + "A99999,N\n" * 101)  # 918 bytes
    labels = read_record(tmp_path / "A00001.hea").labels
    assert "rhythm" not in labels
    assert labels["unlabelled"]["rhythm"] == ("REFERENCE.csv beside it holds 918 bytes, past "
                                              "the 500 a table of labels is read to")


def test_a_multi_segment_span_past_memory_is_the_records_fault(tmp_path: Path,
                                                                monkeypatch) -> None:
    """A 100-byte header declaring 10^12 frames (317 years at 100 Hz) had asked for 3.6 TiB
    before any segment was read: a MemoryError that stopped a whole batch as the machine's
    fault. It is the record's, named, and the batch goes on; a span a monitor records (35 days) past
    memory stays the machine's (the allocation is failed here by a stand-in, so that no
    machine tries the real one)."""
    from qualityfm.inference import score_files
    from qualityfm.io import wfdb_reader, write_wfdb
    from qualityfm.io.read import machine_fault
    from qualityfm.signal import synthesize

    data = tmp_path / "data"
    write_wfdb(synthesize(40.0, 250.0, seed=0, record_id="ok"), data)
    (data / "s1.dat").write_bytes(np.arange(10).astype("<i2").tobytes())
    (data / "s1.hea").write_text("s1 1 100 10\ns1.dat 16 1/mV 16 0 0 0 0 II\n")
    (data / "m.hea").write_text(f"m/1 1 100 {10**12}\ns1 {10**12}\n")
    full = np.full

    def refused(shape, *args, **kwargs):
        if np.prod(shape, dtype=float) > 1e8:
            raise MemoryError("Unable to allocate 3.64 TiB")
        return full(shape, *args, **kwargs)

    monkeypatch.setattr(wfdb_reader.np, "full", refused)
    with pytest.raises(RecordError, match=r"m.hea: corrupt WFDB header: it declares "
                                          r"1000000000000 frames to read \(317 years "
                                          r"at 100 Hz\)") as said:
        read_record(data / "m.hea")
    assert machine_fault(said.value) is None
    summary = score_files(data, tmp_path / "s.csv")
    assert summary["n_records"] == 1 and [s["record"] for s in summary["skipped"]] == [
        str(data / "m.hea")]
    (data / "m.hea").write_text(f"m/2 1 100 {3 * 10**8}\ns1 10\n~ {3 * 10**8 - 10}\n")
    with pytest.raises(RecordError) as long_stay:
        read_record(data / "m.hea")
    assert machine_fault(long_stay.value) is not None  # the machine's: the batch stops


def test_an_arterial_line_relabelled_between_segments_is_one_channel(tmp_path: Path) -> None:
    """A MIMIC layout listing ABP and ART, one segment holding each: one arterial line (the
    abp task had read ABP's alone and left ART's windows out as a line "over 20% missing");
    two lines recorded at one time, or in two units, stay two channels."""
    def segment(name: str, signals: dict[str, tuple[str, int]]) -> None:
        lines = [f"{name} {len(signals)} 125 10"] + [
            f"{name}.dat 16 100/{unit} 16 0 0 0 0 {label}"
            for label, (unit, _) in signals.items()]
        (tmp_path / f"{name}.hea").write_text("\n".join(lines) + "\n")
        values = [100 * v for _, v in signals.values()]
        np.tile(np.array(values, "<i2"), (10, 1)).tofile(tmp_path / f"{name}.dat")

    def record(art_unit: str = "mmHg") -> Record:
        (tmp_path / "r_layout.hea").write_text(
            "r_layout 4 125 0\n~ 0 100/mV 16 0 0 0 0 II\n~ 0 100/mmHg 16 0 0 0 0 ABP\n"
            f"~ 0 100/{art_unit} 16 0 0 0 0 ART\n~ 0 100/NU 16 0 0 0 0 PLETH\n")
        (tmp_path / "r.hea").write_text("r/4 4 125 30\nr_layout 0\ns1 10\ns2 10\ns3 10\n")
        return read_record(tmp_path / "r.hea")

    segment("s1", {"II": ("mV", 1), "ABP": ("mmHg", 80), "PLETH": ("NU", 2)})
    segment("s2", {"II": ("mV", 1), "ART": ("mmHg", 90), "PLETH": ("NU", 2)})
    segment("s3", {"II": ("mV", 1), "PLETH": ("NU", 2)})
    rec = record()
    assert rec.channels == ["ecg_ii", "abp", "ppg"]
    np.testing.assert_allclose(rec.signals["abp"], [80.0] * 10 + [90.0] * 10 + [np.nan] * 10)
    assert rec.units["abp"] == "mmHg" and rec.fs["abp"] == 125.0
    asked = read_record(tmp_path / "r.hea", channels=["abp"])  # as the tasks read it
    assert asked.channels == ["abp"]
    np.testing.assert_array_equal(asked.signals["abp"], rec.signals["abp"])
    both = read_record(tmp_path / "r.hea", channels=["abp", "abp_2"])  # each asked: its own
    np.testing.assert_allclose(both.signals["abp_2"], [np.nan] * 10 + [90.0] * 10 + [np.nan] * 10)

    segment("s3", {"II": ("mV", 1), "ABP": ("mmHg", 80), "ART": ("mmHg", 95)})
    rec = record()  # both lines at one time in s3: two sensors
    assert rec.channels == ["ecg_ii", "abp", "abp_2", "ppg"]
    np.testing.assert_allclose(rec.signals["abp_2"], [np.nan] * 10 + [90.0] * 10 + [95.0] * 10)

    segment("s3", {"II": ("mV", 1), "PLETH": ("NU", 2)})
    segment("s2", {"II": ("mV", 1), "ART": ("kPa", 12), "PLETH": ("NU", 2)})
    assert record("kPa").channels == ["ecg_ii", "abp", "abp_2", "ppg"]  # two units
    # ART in mmHg in s3, in kPa in s2: a channel of two units, refused where asked for, but
    # not read to join ABP where ABP alone is asked for (a channel not asked for refuses no
    # record)
    segment("s3", {"II": ("mV", 1), "ART": ("mmHg", 95)})
    with pytest.raises(RecordError, match="one channel's values would mix two units"):
        record()
    np.testing.assert_allclose(read_record(tmp_path / "r.hea", channels=["abp"]).signals["abp"],
                               [80.0] * 10 + [np.nan] * 20)


def test_write_wfdb_writes_labels_as_given_and_refuses_what_it_would_flatten(tmp_path) -> None:
    """alarm_true None or NaN (not labelled yet) had been written as a false or a true alarm,
    the text "False" as a true one; a channel far from zero for its swing had come back as
    a few steps (100000 + 1e-3 sin: all of its swing lost), unsaid."""
    from qualityfm.io import write_wfdb

    x = np.sin(np.arange(2500) / 25.0)
    for value, read in ((None, None), (float("nan"), None), (np.float64(1.0), True),
                        (0, False), (np.True_, True)):
        rec = Record("lab", {"ecg_ii": x}, {"ecg_ii": 250.0},
                     labels={"alarm_type": "Ventricular_Tachycardia", "alarm_true": value})
        back = read_record(write_wfdb(rec, tmp_path)).labels
        assert back.get("alarm_true") == read and back["alarm_type"] == "Ventricular_Tachycardia"
    with pytest.raises(RecordError, match=r"lab: labels\['alarm_true'\] is 'False': give True"):
        write_wfdb(Record("lab", {"ecg_ii": x}, {"ecg_ii": 250.0},
                          labels={"alarm_true": "False"}), tmp_path)
    with pytest.raises(RecordError, match=r"far: channel\(s\) \['abp'\] sit too far from zero "
                                          r"for their swing"):
        write_wfdb(Record("far", {"ecg_ii": x, "abp": 1e5 + 1e-3 * x},
                          {"ecg_ii": 250.0, "abp": 250.0}), tmp_path)
    assert not list(tmp_path.glob("far*"))
    near = 3e4 + x  # an offset 30000 times the swing still reads back within a step
    back = read_record(write_wfdb(Record("near", {"abp": near}, {"abp": 250.0}), tmp_path))
    np.testing.assert_allclose(back.signals["abp"], near, atol=2 * 2 / 65534 + 4e-3)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "lab.dat", "lab.hea", "near.dat", "near.hea"]  # no temporary left beside them


def test_write_wfdb_moves_its_two_files_in_together(tmp_path, monkeypatch) -> None:
    """A Ctrl-C between the signal file's rename and the header's had left the old header
    over the new signal file, a record read without an error (garbage)."""
    import os
    import signal

    from qualityfm.io import write_wfdb

    x = np.sin(np.arange(2500) / 25.0)
    write_wfdb(Record("r1", {"ecg_ii": x}, {"ecg_ii": 250.0}), tmp_path)
    replace = os.replace

    def interrupted(src, dst):
        replace(src, dst)
        if str(dst).endswith(".dat"):
            signal.raise_signal(signal.SIGINT)  # between the two renames

    monkeypatch.setattr(os, "replace", interrupted)
    three = Record("r1", {"ecg_ii": x, "ppg": 2 * x, "abp": 80 + x},
                   {"ecg_ii": 250.0, "ppg": 250.0, "abp": 250.0})
    with pytest.raises(KeyboardInterrupt):
        write_wfdb(three, tmp_path)
    monkeypatch.undo()
    back = read_record(tmp_path / "r1.hea")  # the new record whole, the stop after it
    assert back.channels == ["ecg_ii", "ppg", "abp"]
    np.testing.assert_allclose(back.signals["ppg"], 2 * x, atol=4 / 65534)
    # a killed write's folder is removed by a later write once an hour old, another's kept
    stale, fresh = tmp_path / ".write-abcd1234", tmp_path / ".write-efgh5678"
    notes = tmp_path / ".write-notes"  # a user's folder of that prefix stays
    for made in (stale, fresh, notes):
        made.mkdir()
        (made / "r1.dat").write_bytes(b"\0" * 10)
    os.utime(stale, (0, 0))
    os.utime(notes, (0, 0))
    # a record's file that links elsewhere is replaced, the file it links to left alone
    annex = tmp_path / "annex"
    annex.mkdir()
    write_wfdb(Record("r2", {"ecg_ii": x}, {"ecg_ii": 250.0}), annex)
    kept = (annex / "r2.dat").read_bytes()
    for suffix in (".hea", ".dat"):
        (tmp_path / f"r2{suffix}").symlink_to(annex / f"r2{suffix}")
    write_wfdb(Record("r2", {"ppg": 3 * x}, {"ppg": 250.0}), tmp_path)
    assert not stale.exists() and fresh.is_dir() and notes.is_dir()
    assert not (tmp_path / "r2.hea").is_symlink() and (annex / "r2.dat").read_bytes() == kept
    assert read_record(tmp_path / "r2.hea").channels == ["ppg"]
    assert read_record(annex / "r2.hea").channels == ["ecg_ii"]


def test_write_wfdb_names_the_record_file_it_cannot_write(tmp_path, monkeypatch) -> None:
    """A full disk had said numpy's "600000 requested and 258048 written", a read-only folder
    a random temporary folder's name; a header that is a folder had been found after the new
    signal file replaced the old one."""
    import errno
    import tempfile

    import qualityfm.io.write as write
    from qualityfm.io import write_wfdb

    x = np.sin(np.arange(2500) / 25.0)
    rec = Record("r5", {"ecg_ii": x}, {"ecg_ii": 250.0})

    def short(*args, **kwargs):
        raise OSError("600000 requested and 258048 written")

    monkeypatch.setattr(write.wfdb, "wrsamp", short)
    with pytest.raises(OSError, match=r"cannot write .*r5\.dat: 600000 requested and 258048 "
                                      r"written \(is its disk full\?\)"):
        write_wfdb(rec, tmp_path)

    def denied(*args, **kwargs):
        raise PermissionError("denied by policy")

    monkeypatch.setattr(write.wfdb, "wrsamp", denied)  # its type kept, no disk blamed
    with pytest.raises(PermissionError, match=r"cannot write .*r5\.dat: denied by policy$"):
        write_wfdb(rec, tmp_path)
    monkeypatch.undo()
    (tmp_path / "afile").write_text("")  # a folder that is a file: said as the OS says it
    with pytest.raises(FileExistsError, match=r"afile'$"):
        write_wfdb(rec, tmp_path / "afile")

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / ".write-x1y2z3w4"))

    monkeypatch.setattr(tempfile, "TemporaryDirectory", read_only)
    with pytest.raises(OSError, match=r"cannot write .*r5\.dat: Read-only file system$"):
        write_wfdb(rec, tmp_path)
    monkeypatch.undo()
    (tmp_path / "r6.dat").write_bytes(b"old")
    (tmp_path / "r6.hea").mkdir()
    with pytest.raises(IsADirectoryError, match=r"r6\.hea: it is a folder"):
        write_wfdb(Record("r6", {"ecg_ii": x}, {"ecg_ii": 250.0}), tmp_path)
    assert (tmp_path / "r6.dat").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "r6.dat", "r6.hea"]
