"""VitalDB .vital files, written with the vitaldb API itself and read back."""

from __future__ import annotations

import gzip
import warnings
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


def test_blocks_land_on_their_nearest_sample(tmp_path: Path) -> None:
    """An unpacked file (many blocks a track, as Vital Recorder writes) whose block times are
    float sums: every sample at its index, no hole (vitaldb's rounding up had moved 39 % of
    the samples one late and left one-sample holes)."""
    t0, n, fs = 1.6e9 + 0.37, 50, 500
    vf = vitaldb.VitalFile()
    vf.dtstart, vf.dtend = t0, t0 + 60
    vf.add_track("SNUADC/PLETH", [{"dt": t0 + k * n / fs,
                                   "val": (k * n + np.arange(n)).astype(np.float32)}
                                  for k in range(600)], srate=fs)
    for packed in (False, True):
        path = tmp_path / f"blocks_{packed}.vital"
        vf.to_vital(str(path), packed=packed)
        x = read_record(path).signals["ppg"]
        np.testing.assert_array_equal(x, np.arange(30000, dtype=np.float32))


def test_the_fullest_of_two_tracks_of_a_channel_takes_its_name_and_idle_ones_are_left_out(
        tmp_path: Path) -> None:
    """A monitor's PLETH for 20 s beside the ADC's for 120 s: ``ppg`` is the full one (the
    first listed had been taken, and every window lost its PPG); a track without samples
    after a crop is left out with a warning (it had made the whole file unreadable)."""
    from qualityfm.data.prepare import read_windows
    from qualityfm.signal import WindowConfig

    t0 = 1.6e9
    rng = np.random.default_rng(0)

    def wave(fs: int, seconds: range) -> list[dict]:
        return [{"dt": t0 + k, "val": rng.normal(size=fs).astype(np.float32)} for k in seconds]

    vf = vitaldb.VitalFile()
    vf.dtstart, vf.dtend = t0, t0 + 120
    vf.add_track("Intellivue/PLETH", wave(125, range(20)), srate=125)
    vf.add_track("SNUADC/ECG_II", wave(500, range(120)), srate=500, unit="mV")
    vf.add_track("SNUADC/PLETH", wave(500, range(120)), srate=500)
    vf.add_track("BIS/EEG1_WAV", wave(128, range(20)), srate=128, unit="uV")
    full = tmp_path / "full.vital"
    vf.to_vital(str(full))
    rec = read_record(full, channels=["ppg", "ecg_ii"])
    assert rec.fs == {"ppg": 500.0, "ecg_ii": 500.0}
    assert np.isfinite(rec.signals["ppg"]).all()
    both = read_record(full)
    assert both.fs["ppg_2"] == 125.0 and np.isnan(both.signals["ppg_2"]).mean() > 0.8
    early = tmp_path / "early.vital"  # the ADC's PLETH ends where the monitor's takes over
    vf = vitaldb.VitalFile()
    vf.dtstart, vf.dtend = t0, t0 + 130
    vf.add_track("SNUADC/PLETH", wave(100, range(100)), srate=100)
    vf.add_track("Intellivue/PLETH", wave(100, range(100, 130)), srate=100)
    vf.add_track("SNUADC/ECG_II", wave(100, range(130)), srate=100, unit="mV")
    vf.to_vital(str(early))
    late = read_record(early, channels=["ppg", "ecg_ii"], start=110, stop=120)
    assert np.isfinite(late.signals["ppg"]).all()  # the fullest in the span: all NaN before
    assert np.isfinite(read_record(early, channels=["ppg"]).signals["ppg"][:10000]).all()

    quick = tmp_path / "quick.vital"  # a 500-Hz PLETH for 30 s beside a 125-Hz one for 120 s
    vf = vitaldb.VitalFile()
    vf.dtstart, vf.dtend = t0, t0 + 120
    vf.add_track("SNUADC/ECG_II", wave(500, range(120)), srate=500, unit="mV")
    vf.add_track("SNUADC/PLETH", wave(500, range(30)), srate=500)
    vf.add_track("Intellivue/PLETH", wave(125, range(120)), srate=125)
    vf.to_vital(str(quick))
    rec = read_record(quick, channels=["ppg", "ecg_ii"])  # by samples, 75 % of it had been NaN
    assert rec.fs["ppg"] == 125.0 and np.isfinite(rec.signals["ppg"]).all()
    assert read_record(quick, channels=["ppg"], start=0, stop=20).fs["ppg"] == 500.0

    cropped = tmp_path / "cropped.vital"
    vitaldb.VitalFile(str(full)).crop(60, 120).to_vital(str(cropped))
    with pytest.warns(RuntimeWarning, match=r"'Intellivue/PLETH', 'BIS/EEG1_WAV' hold no "
                                            r"samples: left out"):
        rec = read_record(cropped)
    assert rec.channels == ["ppg", "ecg_ii"]
    with pytest.warns(RuntimeWarning, match="Intellivue/PLETH"):
        _, windows = read_windows(cropped, WindowConfig(fs=125.0, seconds=30.0))
    assert len(windows) > 0 and windows.mask.all()

    rateless = vitaldb.VitalFile()  # a wave track of rate 0 had been dropped without a word
    rateless.dtstart, rateless.dtend = t0, t0 + 10
    rateless.add_track("SNUADC/PLETH", wave(100, range(10)), srate=100)
    rateless.add_track("SNUADC/ECG_II", wave(100, range(10)), srate=100).srate = 0
    rateless.to_vital(str(tmp_path / "rateless.vital"))
    with pytest.warns(RuntimeWarning, match=r"'SNUADC/ECG_II' state no sampling rate: left "
                                            r"out"):
        assert read_record(tmp_path / "rateless.vital").channels == ["ppg"]


def test_the_gaps_of_an_integer_track_are_missing_samples(tmp_path: Path) -> None:
    """A packed file fills an integer track's gaps with its format's mark (-32768 for a short,
    65535 for a word); they had been read as values (-332.68 after the gain and offset)."""
    t0 = 1_600_000_000.0
    vf = vitaldb.VitalFile()
    vf.dtstart, vf.dtend = t0, t0 + 20
    ppg = vf.add_track("Intellivue/PLETH", [
        {"dt": t0 + s, "val": (np.arange(100) + 1000).astype(np.int16)}
        for s in range(20) if s not in (5, 6, 7)], srate=100)
    ppg.fmt, ppg.gain, ppg.offset = 5, 0.01, -5.0
    ecg = vf.add_track("Intellivue/ECG_II", [
        {"dt": t0 + s, "val": np.full(200, 7, np.uint16)} for s in range(20) if s != 10],
        srate=200, unit="mV")
    ecg.fmt, ecg.gain, ecg.offset = 6, 0.005, 0.0
    for packed in (True, False):
        path = tmp_path / f"gaps_{packed}.vital"
        vf.to_vital(str(path), packed=packed)
        rec = read_record(path)
        p, e = rec.signals["ppg"], rec.signals["ecg_ii"]
        assert np.isnan(p[500:800]).all() and np.isnan(p).sum() == 300
        assert np.isnan(e[2000:2200]).all() and np.isnan(e).sum() == 200
        np.testing.assert_allclose(p[:100], (np.arange(100) + 1000) * 0.01 - 5.0, rtol=1e-6)


def test_an_integer_track_of_gain_0_is_uncalibrated_not_flat(tmp_path: Path) -> None:
    """An integer track whose info states a gain of 0 (vitaldb's when none is given) had read
    as flat zeros in its unit (an ECG off, unsaid): its ADC counts are kept, marked
    uncalibrated, with a warning, as WFDB's gain of 0 is."""
    t0 = 1.6e9
    counts = (np.arange(2000) % 50).astype(np.int32)
    path = _write_vital(tmp_path / "g.vital", [
        {"name": "ECG_II", "fmt": 7, "srate": 200.0, "gain": 0.0, "offset": 3.0,
         "recs": [(t0, counts)]},
        {"name": "PLETH", "fmt": 7, "srate": 100.0, "gain": 0.5, "recs": [(t0, counts[:1000])]}],
        header_start=t0)
    with pytest.warns(RuntimeWarning, match=r"wave track 'SNUADC/ECG_II' has a gain of 0 "
                                            r"\(uncalibrated\): its values are ADC counts"):
        rec = read_record(path)
    np.testing.assert_array_equal(rec.signals["ecg_ii"][:2000], counts)  # (the file: 60 s)
    assert rec.units["ecg_ii"] == "uncalibrated" and rec.units["ppg"] != "uncalibrated"
    np.testing.assert_array_equal(rec.signals["ppg"][:1000], counts[:1000] * 0.5)


@pytest.mark.parametrize("order", [["ecg_ii", "ppg"], ["ppg", "ecg_ii"]])
def test_channels_of_two_rates_start_together_whatever_their_order(
        vital_file: tuple[Path, dict], order: list[str]) -> None:
    """2.007 s lies between two 100-Hz samples: the PPG starts at the nearest, 2.01 s, and the
    500-Hz ECG with it (each cut at its own rate, the ECG had started at 2.008 s, and the
    record's start was whichever channel was read last)."""
    path, waves = vital_file
    rec = read_record(path, channels=order, start=2.007, stop=3.0)
    assert rec.start_time == pytest.approx(2.01)
    np.testing.assert_array_equal(rec.signals["ppg"], waves["SNUADC/PLETH"][201:300])
    np.testing.assert_array_equal(rec.signals["ecg_ii"], waves["SNUADC/ECG_II"][1005:1500])
    alone = read_record(path, channels=order[:1], start=2.007, stop=3.0)  # the same instant
    assert alone.start_time == pytest.approx(2.01)
    np.testing.assert_array_equal(alone.signals[order[0]], rec.signals[order[0]])


def _packet(kind: int, data: bytes) -> bytes:
    import struct

    return struct.pack("<BL", kind, len(data)) + data


def _text(value: str) -> bytes:
    import struct

    return struct.pack("<L", len(value.encode())) + value.encode()


def _write_vital(path: Path, tracks: list[dict], header_start: float | None,
                 again: float | None = None, again_id: int = 1) -> Path:
    """A .vital file written byte by byte (the format's packets: device, track info, wave
    records), with a header that states its start and end (27 bytes) or not (10, as older
    files): tracks of ``name``, ``fmt`` (1 float, 7 long), ``srate``, ``gain``, ``offset``,
    ``recs`` [(dt, samples)]; ``again``: the first track's info written again before the
    first record at or after that time (a device reconnecting), under the track id
    ``again_id``, which its later records then carry."""
    import struct

    codes = {1: "<f4", 7: "<i4", 8: "<u4"}
    header = struct.pack("<hLL", -540, 0, 0)
    if header_start is not None:
        header += struct.pack("<dd", header_start, header_start + 60.0) + b"\x00"
    out = b"VITA" + struct.pack("<L", 3) + struct.pack("<H", len(header)) + header
    out += _packet(9, struct.pack("<L", 1) + _text("SNUADC") + _text("SNUADC") + _text(""))
    infos = [_packet(0, struct.pack("<HBB", tid, 1, t["fmt"]) + _text(t["name"]) + _text("")
                     + struct.pack("<ffLfddBL", 0, 100, 0, t["srate"], t.get("gain", 1.0),
                                   t.get("offset", 0.0), 0, 1))
             for tid, t in enumerate(tracks, 1)]
    out += b"".join(infos)
    recs = sorted((dt, tid, np.asarray(v, codes[t["fmt"]]))
                  for tid, t in enumerate(tracks, 1) for dt, v in t["recs"])
    moved = False
    for dt, tid, a in recs:
        if again is not None and dt >= again:
            out += struct.pack("<BL", 0, len(infos[0]) - 5) + struct.pack("<H", again_id) + \
                infos[0][7:]
            again, moved = None, True
        tid = again_id if moved and tid == 1 else tid
        out += _packet(1, struct.pack("<HdHL", 10, dt, tid, len(a)) + a.tobytes())
    path.write_bytes(gzip.compress(out))
    return path


@pytest.mark.parametrize("header_start", [None, 1.6e9])
def test_vital_time_zero_does_not_follow_the_tracks_read(tmp_path, header_start) -> None:
    """A header without a start (older files): vitaldb starts a read at the first record of
    the tracks read, so the PPG alone, 2 s behind the ECG, had been read 2 s early."""
    t0 = 1.6e9
    path = _write_vital(tmp_path / "legacy.vital", [
        {"name": "ECG_II", "fmt": 1, "srate": 500.0, "recs": [(t0, np.arange(5000.0))]},
        {"name": "PLETH", "fmt": 1, "srate": 100.0,
         "recs": [(t0 + 2.0, np.arange(200.0, 1000.0))]}], header_start)
    full = read_record(path)
    assert np.flatnonzero(np.isfinite(full.signals["ppg"]))[0] == 200
    alone = read_record(path, channels=["ppg"])
    np.testing.assert_array_equal(alone.signals["ppg"], full.signals["ppg"][:len(
        alone.signals["ppg"])])
    span = read_record(path, channels=["ppg"], start=3.0, stop=4.0)
    np.testing.assert_array_equal(span.signals["ppg"], np.arange(300.0, 400.0))
    assert span.start_time == 3.0


def test_vital_long_tracks_are_read(tmp_path) -> None:
    """Formats 7 and 8 (4-byte integers) had been refused as corrupt files: vitaldb reads
    them with the platform's 'l', 8 bytes on Linux."""
    for fmt in (7, 8):
        path = _write_vital(tmp_path / f"f{fmt}.vital", [
            {"name": "PLETH", "fmt": fmt, "srate": 100.0, "gain": 0.5, "offset": 1.0,
             "recs": [(1.6e9, np.arange(1000))]}], 1.6e9)
        rec = read_record(path)
        np.testing.assert_allclose(rec.signals["ppg"][:1000], np.arange(1000) * 0.5 + 1.0)
    import vitaldb.utils

    assert vitaldb.utils.FMT_TYPE_LEN[7] == ("l", 4)  # vitaldb's own table is left as it was


def test_vital_long_tracks_written_by_vitaldb_and_far_off_numbers(tmp_path) -> None:
    """vitaldb writes formats 7/8 with the platform's 'l' (8 bytes on Linux): such files read
    as written, as 4-byte ones do; a numeric record far off in time (a clock error) moves
    nothing of the waves (time 0 had been taken over every track: terabytes allocated)."""
    t0 = 1.6e9
    vf = vitaldb.VitalFile()
    vf.dtstart, vf.dtend = t0, t0 + 10.0
    vf.add_track("SNUADC/PLETH", [{"dt": t0, "val": np.arange(1000) + 100}], srate=100.0)
    vf.trks["SNUADC/PLETH"].fmt = 7
    vf.add_track("SNUADC/ECG_II", [{"dt": t0, "val": np.arange(5000.0)}], srate=500.0)
    vf.add_track("Solar8000/HR", [{"dt": t0 + 1000 * 86400.0, "val": 70.0}], unit="/min")
    path = tmp_path / "long.vital"
    vf.to_vital(str(path))
    rec = read_record(path)
    np.testing.assert_array_equal(rec.signals["ppg"][:1000], np.arange(1000) + 100)
    assert len(rec.signals["ecg_ii"]) == 5000
    np.testing.assert_array_equal(read_record(path, channels=["ppg"], start=2.0,
                                              stop=3.0).signals["ppg"], np.arange(300, 400))


def test_vital_tracks_read_alone_keep_the_files_time_and_tracks(tmp_path) -> None:
    """A review's cases: an ECG from 1 s before the header's start had moved time 0 only when
    read (the PPG alone started 1 s off); vitaldb's early stop, on its own 8-byte files, had
    ended a read before the tracks stored after a format-7 one; a file vitaldb re-saved
    with a far-off numeric record in its header's end had been refused."""
    t0 = 1.6e9
    vf = vitaldb.VitalFile()
    vf.dtstart, vf.dtend = t0, t0 + 10.0
    vf.add_track("SNUADC/PLETH", [{"dt": t0, "val": np.arange(6000) + 0}], srate=100.0)
    vf.trks["SNUADC/PLETH"].fmt = 7
    vf.add_track("SNUADC/ECG_II", [{"dt": t0 - 1.0, "val": np.arange(5000.0)}], srate=500.0)
    vf.add_track("Solar8000/HR", [{"dt": t0 + 1000 * 86400.0, "val": 70.0}], unit="/min")
    path = tmp_path / "mixed.vital"
    vf.to_vital(str(path))
    vitaldb.VitalFile(str(path)).to_vital(str(tmp_path / "resaved.vital"))
    for p in (path, tmp_path / "resaved.vital"):
        full = read_record(p)
        assert full.signals["ppg"][100] == 0.0  # the ECG's first second comes first
        alone = read_record(p, channels=["ppg"], start=2.0, stop=3.0)
        np.testing.assert_array_equal(alone.signals["ppg"], full.signals["ppg"][200:300])
        ecg = read_record(p, channels=["ecg_ii"]).signals["ecg_ii"]
        np.testing.assert_array_equal(ecg[:5000], np.arange(5000.0))


def test_vital_reads_to_the_stated_end_and_keeps_suffix_named_tracks(tmp_path) -> None:
    """The header's stated end bounds the record as before (a span past the last wave sample
    but within it reads NaN, not refused); a numeric track whose name ends a wave track's
    (PLETH beside SNUADC/PLETH) no longer drops that wave track from vitaldb's 8-byte files."""
    t0 = 1.6e9
    vf = vitaldb.VitalFile()
    vf.dtstart, vf.dtend = t0, t0 + 120.0
    vf.add_track("SNUADC/PLETH", [{"dt": t0, "val": np.arange(6000) + 0}], srate=100.0)
    vf.trks["SNUADC/PLETH"].fmt = 7
    vf.add_track("PLETH", [{"dt": t0 + 1.0, "val": 98.0}], unit="%")  # numeric, no device
    vf.add_track("Solar8000/HR", [{"dt": t0 + 119.0, "val": 70.0}], unit="/min")
    path = tmp_path / "ends.vital"
    vf.to_vital(str(path))
    rec = read_record(path, channels=["ppg"])
    np.testing.assert_array_equal(rec.signals["ppg"][:6000], np.arange(6000))
    late = read_record(path, channels=["ppg"], start=70.0, stop=80.0).signals["ppg"]
    assert len(late) == 1000 and np.isnan(late).all()


@pytest.mark.parametrize("packed", [True, False])
def test_vital_8_byte_tracks_of_any_kind_keep_the_others(tmp_path, packed: bool) -> None:
    """vitaldb's 8-byte format-7 tracks, a numeric one or a wave in blocks: vitaldb skips a
    track not read by its length for 4-byte samples, mis-seeking into the next packet, and
    every later track had been lost (by channel asked for); a wave block 30 days on is
    refused, not dropped."""
    t0 = 1.6e9
    vf = vitaldb.VitalFile()
    vf.dtstart, vf.dtend = t0, t0 + 10.0
    vf.add_track("Solar8000/HR", [{"dt": t0 + k, "val": 70 + k} for k in range(10)],
                 unit="/min")
    vf.trks["Solar8000/HR"].fmt = 7
    vf.add_track("SNUADC/ECG_II", [{"dt": t0 + 2.0 * k, "val": np.arange(1000) + 1000 * k}
                                   for k in range(4)], srate=500.0)
    vf.trks["SNUADC/ECG_II"].fmt = 7
    vf.add_track("SNUADC/PLETH", [{"dt": t0, "val": np.arange(2000, dtype=np.float32)}],
                 srate=200.0)  # (vitaldb writes an unpacked block in its own dtype)
    path = tmp_path / "wide.vital"
    vf.to_vital(str(path), packed=packed)
    for channels in (None, ["ppg"], ["ecg_ii"]):
        rec = read_record(path, channels=channels)
        if "ppg" in rec.signals:
            np.testing.assert_array_equal(rec.signals["ppg"][:2000], np.arange(2000.0))
        if "ecg_ii" in rec.signals:
            np.testing.assert_array_equal(rec.signals["ecg_ii"][:4000], np.arange(4000))
    vf.add_track("SNUADC/ART", [{"dt": t0, "val": np.ones(500, np.float32)},
                                {"dt": t0 + 30 * 86400.0, "val": np.ones(500, np.float32)}],
                 srate=500.0)  # (float64 under a float32 track: refused as a bad packet)
    vf.to_vital(str(path), packed=False)
    with pytest.raises(RecordError, match="its records span 30 days"):
        read_record(path, channels=["abp"])


def test_vital_files_vitaldb_would_misread_are_refused_or_read_whole(tmp_path: Path) -> None:
    """Faults vitaldb passes over without a word: a packet over 1 MB in an unpacked file (it
    stops there: the rest of the file lost), a stream cut inside its last packet, a packet
    whose size disagrees with its sample count (float64 under a float32 track: garbage), a
    record stamped at NaN; a device-less track name ending a format-7 track's had lost the
    whole file, as did one ending a device's format-7 track (A/HR and BA/HR); a gap mark
    is no sample in an unpacked file too (vitaldb saves packed blocks unpacked with them)."""
    t0 = 1.6e9

    def file(name: str, tracks: dict, packed: bool = False, **kw) -> Path:
        vf = vitaldb.VitalFile()
        vf.dtstart, vf.dtend = t0, t0 + kw.pop("span", 20)
        for track, (recs, fs) in tracks.items():
            vf.add_track(track, recs, srate=fs, **kw)
        path = tmp_path / name
        vf.to_vital(str(path), packed=packed)
        return path

    ones = np.ones(500, np.float32)
    big = file("big.vital", {"SNUADC/ECG_II": ([{"dt": t0, "val": ones}, {"dt": t0 + 1, "val":
                                                np.ones(300_000, np.float32)}], 500)},
               span=700)
    with pytest.raises(RecordError, match=r"big\.vital: \.vital file not packed with a packet "
                                          r"of \d+ bytes, past the 1000000 vitaldb .*saved "
                                          r"packed .*it reads"):
        read_record(big)  # (a well-formed file: not said to be corrupt)
    whole = file("a.vital", {"SNUADC/ECG_II": ([{"dt": t0 + k, "val": ones}
                                                for k in range(10)], 500)})
    raw = gzip.decompress(whole.read_bytes())
    (tmp_path / "cut.vital").write_bytes(gzip.compress(raw[:len(raw) // 2 + 7]))
    with pytest.raises(RecordError, match=r"its last packet is cut short"):
        read_record(tmp_path / "cut.vital")
    f64 = file("f64.vital", {"SNUADC/PLETH": ([{"dt": t0, "val": np.linspace(0, 1, 100)}],
                                              100)})
    with pytest.raises(RecordError, match=r"a record of wave track 'SNUADC/PLETH' holds 800 "
                                          r"bytes for 100 samples of format 1 \(400 bytes\)"):
        read_record(f64)
    nan = file("nan.vital", {"SNUADC/PLETH": ([{"dt": float("nan"), "val": ones[:100]},
                                               {"dt": t0 + 1, "val": ones[:100]}], 100)})
    with pytest.raises(RecordError, match=r"wave track 'SNUADC/PLETH' is stamped at nan s"):
        read_record(nan)
    for numeric, long in (("HR", "Solar8000/HR"), ("A/HR", "BA/HR")):  # a name ending it
        vf = vitaldb.VitalFile()
        vf.dtstart, vf.dtend = t0, t0 + 20
        vf.add_track(numeric, [{"dt": t0 + k, "val": 60.0} for k in range(20)])
        vf.add_track(long, [{"dt": t0 + k, "val": 70} for k in range(20)])
        vf.trks[long].fmt = 7
        vf.add_track("SNUADC/PLETH", [{"dt": t0, "val": np.arange(2000, dtype=np.float32)}],
                     srate=100)
        vf.to_vital(str(tmp_path / "wide.vital"))
        np.testing.assert_array_equal(
            read_record(tmp_path / "wide.vital").signals["ppg"][:2000], np.arange(2000.0))
    vf = vitaldb.VitalFile()
    vf.dtstart, vf.dtend = t0, t0 + 5
    vf.add_track("SNUADC/ECG_II", [{"dt": t0, "val": np.array([-32768, 0, 100] * 100,
                                                                np.int16)}], srate=100)
    trk = vf.trks["SNUADC/ECG_II"]
    trk.fmt, trk.gain, trk.offset = 5, 1.0, 0.0
    vf.to_vital(str(tmp_path / "short.vital"), packed=False)
    x = read_record(tmp_path / "short.vital").signals["ecg_ii"][:3]  # the gap mark: none,
    assert np.isnan(x[0]) and x[1:].tolist() == [0.0, 100.0]  # in an unpacked file too


def test_vital_reads_from_threads_leave_stdout_alone(vital_file) -> None:
    """vitaldb's reads change its format table and the process's stdout: two threads had
    left stdout swallowed (a CLI's JSON lost) and wrong values read."""
    import sys
    from concurrent.futures import ThreadPoolExecutor

    path, waves = vital_file
    before = sys.stdout
    with ThreadPoolExecutor(4) as pool:
        recs = list(pool.map(lambda _: read_record(path), range(12)))
    assert sys.stdout is before
    for rec in recs:
        np.testing.assert_array_equal(rec.signals["ecg_ii"][:5000], waves["SNUADC/ECG_II"])


def test_a_lead_ii_track_of_no_samples_gives_way_to_another_lead_in_prepare(tmp_path) -> None:
    """A .vital file whose ECG_II track holds no samples, ECG_V5 and PLETH full: the task
    windows read V5, while prepare, score and embed had masked the ECG in every window."""
    import warnings

    from qualityfm.data.prepare import read_windows
    from qualityfm.signal import WindowConfig
    from qualityfm.signal.synthetic import synthesize

    rec = synthesize(60, fs=100.0, seed=1)
    path = _write_vital(tmp_path / "t.vital", [
        dict(name="SNUADC/ECG_II", fmt=1, srate=100.0, recs=[]),
        dict(name="SNUADC/ECG_V5", fmt=1, srate=100.0, recs=[(1.6e9, rec.signals["ecg_ii"])]),
        dict(name="SNUADC/PLETH", fmt=1, srate=100.0, recs=[(1.6e9, rec.signals["ppg"])])],
        1.6e9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the empty track, named by the reader
        read, win = read_windows(path, WindowConfig())
    assert "ecg_v5" in read.signals and win.mask.all()


def test_a_track_of_negative_fill_values_is_idle_not_the_channel(tmp_path: Path) -> None:
    """A PLETH track full of -9.97e36 had read as full, taking the name ppg over the real
    track (whose windows then lost their PPG); a fill value is missing, as +9.97e36 was."""
    t0 = 1_700_000_000.0
    real = np.sin(np.arange(5000) / 20).astype(np.float32)
    vf = vitaldb.VitalFile()
    vf.dtstart, vf.dtend = t0, t0 + 10.0
    vf.add_track("Intellivue/PLETH", [{"dt": t0, "val": np.full(1250, -9.96921e36,
                                                                 np.float32)}], srate=125.0)
    vf.add_track("SNUADC/PLETH", [{"dt": t0, "val": real}], srate=500.0)
    path = tmp_path / "fill.vital"
    vf.to_vital(str(path))
    with pytest.warns(RuntimeWarning, match=r"'Intellivue/PLETH' hold no samples"):
        rec = read_record(path)
    assert rec.channels == ["ppg"] and rec.fs["ppg"] == 500.0
    np.testing.assert_allclose(rec.signals["ppg"], real, atol=1e-6)


def test_a_wave_track_stating_a_rate_no_monitor_samples_at_is_left_out(tmp_path) -> None:
    """A track stating 1e9 Hz had been sized by it (261 GiB for 70 s) and the MemoryError
    had stopped a whole batch, blamed on the batch size; it is left out, named with its rate,
    and the file's other tracks are read."""
    t0 = 1.6e9
    path = _write_vital(tmp_path / "odd.vital", [
        {"name": "ECG_II", "fmt": 1, "srate": 500.0, "recs": [(t0, np.arange(5000.0))]},
        {"name": "PLETH", "fmt": 1, "srate": 1e9, "recs": [(t0, np.arange(100.0))]}], t0)
    with pytest.warns(RuntimeWarning, match=r"odd\.vital: wave track\(s\) 'SNUADC/PLETH' "
                                            r"\(1e\+09 Hz\) state a rate above 20000 Hz.*left "
                                            r"out"):
        record = read_record(path)
    assert list(record.signals) == ["ecg_ii"] and record.fs["ecg_ii"] == 500.0


def test_a_slow_track_moves_no_span_and_an_idle_ones_channel_is_named(tmp_path: Path) -> None:
    """A 0.2-Hz wave track (a trend), read or not, had set the grid of a span's start: 12.7 s
    read from 15 s (2.3 s of ECG lost; at 0.001 Hz the whole file from 0). Asking for a
    channel whose track is idle had said "the record has abp" of a record of more."""
    from qualityfm.io import MissingChannelError

    t0 = 1.6e9
    ecg = np.random.default_rng(0).normal(size=30000)
    path = _write_vital(tmp_path / "slow.vital", [
        {"name": "ECG_II", "fmt": 1, "srate": 500.0, "recs": [(t0, ecg)]},
        {"name": "PLETH", "fmt": 1, "srate": 100.0, "recs": [(t0, np.arange(6000.0))]},
        {"name": "RESP", "fmt": 1, "srate": 0.2, "recs": [(t0, np.ones(12))]},
        {"name": "ECG_V5", "fmt": 1, "srate": 500.0, "recs": []}], t0)
    rec = read_record(path, channels=["ecg_ii"], start=12.7, stop=30.0)
    assert rec.start_time == pytest.approx(12.7)
    np.testing.assert_array_equal(rec.signals["ecg_ii"], ecg[6350:15000].astype(np.float32))
    both = read_record(path, channels=["ppg", "ecg_ii"], start=12.703, stop=30.0)
    assert both.start_time == pytest.approx(12.7)  # on the 100-Hz PPG's grid
    for channels in (["resp", "ecg_ii"], None):  # a trend read, or every track: the
        # waveforms still start at 12.7 s (read whole, 0.001 Hz had read the file from 0)
        slow = read_record(path, channels=channels, start=12.7, stop=30.0)
        assert slow.start_time == pytest.approx(12.7)
        np.testing.assert_array_equal(slow.signals["ecg_ii"], ecg[6350:15000].astype(np.float32))
        assert len(slow.signals["resp"]) == 3  # its samples at 15, 20, 25 s: its own nearest
    np.testing.assert_array_equal(both.signals["ppg"], np.arange(1270.0, 3000.0))
    with pytest.warns(RuntimeWarning, match="ECG_V5"), pytest.raises(
            MissingChannelError, match=r"no channel 'ecg_v5': its track\(s\) 'SNUADC/ECG_V5' hold "
                                       r"no samples; the file declares ecg_ii, ppg, resp, ecg_v5"):
        read_record(path, channels=["ecg_ii", "ecg_v5"])


def test_a_track_announced_again_part_way_says_what_is_lost(tmp_path: Path) -> None:
    """vitaldb drops a track's records read before its info packet comes again (a device
    reconnecting): the first half of the ECG had read as missing without a word."""
    t0 = 1.6e9
    path = _write_vital(tmp_path / "again.vital", [
        {"name": "ECG_II", "fmt": 1, "srate": 100.0,
         "recs": [(t0 + k, np.full(100, float(k))) for k in range(60)]},
        {"name": "PLETH", "fmt": 1, "srate": 100.0,
         "recs": [(t0 + k, np.full(100, 1.0)) for k in range(60)]}], t0, again=t0 + 30)
    with pytest.warns(RuntimeWarning, match="'SNUADC/ECG_II' announced again after"):
        rec = read_record(path)
    assert np.isnan(rec.signals["ecg_ii"][:3000]).all()  # what vitaldb keeps, said
    assert np.isfinite(rec.signals["ppg"]).all()
    moved = _write_vital(tmp_path / "moved.vital", [  # under a new id (it had gone unsaid)
        {"name": "ECG_II", "fmt": 1, "srate": 100.0,
         "recs": [(t0 + k, np.full(100, float(k))) for k in range(60)]},
        {"name": "PLETH", "fmt": 1, "srate": 100.0,
         "recs": [(t0 + k, np.full(100, 1.0)) for k in range(60)]}], t0, again=t0 + 30,
        again_id=7)
    with pytest.warns(RuntimeWarning, match="'SNUADC/ECG_II' announced again after"):
        read_record(moved)
    clean = _write_vital(tmp_path / "once.vital", [
        {"name": "ECG_II", "fmt": 1, "srate": 100.0, "recs": [(t0, np.ones(6000))]}], t0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert np.isfinite(read_record(clean).signals["ecg_ii"]).all()


def test_vital_samples_lost_to_overlapping_or_unstamped_blocks_are_said(tmp_path: Path) -> None:
    """Blocks of 125 samples a second under a track stating 100 Hz overlap: each had
    overwritten the end of the one before without a word (1025 of 1250 samples kept); a file
    of relative time (stamps from 0) had lost its first second unsaid. Blocks repeating the
    same samples lose nothing and are not said."""
    t0 = 1.6e9
    x = np.arange(1250, dtype=np.float32)
    vf = vitaldb.VitalFile()
    vf.dtstart, vf.dtend = t0, t0 + 10
    vf.add_track("SNUADC/PLETH", [{"dt": t0 + k, "val": x[125 * k:125 * (k + 1)]}
                                  for k in range(10)], srate=100)
    vf.to_vital(str(tmp_path / "fast.vital"), packed=False)
    with pytest.warns(RuntimeWarning, match=r"fast\.vital: wave track 'SNUADC/PLETH': 225 "
                                            r"sample\(s\) overwritten by a later block .*100 Hz"):
        rec = read_record(tmp_path / "fast.vital")
    assert np.isfinite(rec.signals["ppg"]).sum() == 1025  # as vitaldb keeps them, now said
    vf = vitaldb.VitalFile()
    vf.dtstart, vf.dtend = t0, t0 + 10
    vf.add_track("SNUADC/PLETH", [{"dt": t0 + k, "val": x[:100]} for k in range(10)]
                 + [{"dt": t0 + 3, "val": x[:100]}], srate=100)  # one block twice
    vf.to_vital(str(tmp_path / "twice.vital"), packed=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert np.isfinite(read_record(tmp_path / "twice.vital").signals["ppg"]).sum() == 1000
    vf = vitaldb.VitalFile()
    vf.dtstart, vf.dtend = 0.0, 10.0
    vf.add_track("SNUADC/PLETH", [{"dt": float(k), "val": x[100 * k:100 * (k + 1)]}
                                  for k in range(10)], srate=100)
    vf.to_vital(str(tmp_path / "relative.vital"), packed=False)
    with pytest.warns(RuntimeWarning, match=r"relative\.vital: wave track 'SNUADC/PLETH': 100 "
                                            r"sample\(s\) stamped outside the file's span"):
        rec = read_record(tmp_path / "relative.vital")
    np.testing.assert_array_equal(rec.signals["ppg"][:900], x[100:1000])


def test_a_wave_track_id_taken_by_a_numeric_track_is_read(tmp_path: Path) -> None:
    """A track info that gives a wave track's id to a numeric track (vitaldb reads the file,
    the wave track's earlier records under its name): the numbers had been walked as wave
    samples and the file refused as corrupt."""
    import struct

    t0 = 1.6e9
    path = _write_vital(tmp_path / "reused.vital", [
        {"name": "PLETH", "fmt": 1, "srate": 100.0, "recs": [(t0 + k, np.arange(100.0) + 100 * k)
                                                             for k in range(10)]},
        {"name": "ECG_II", "fmt": 1, "srate": 100.0, "recs": [(t0, np.arange(2000.0))]}], t0)
    raw = gzip.decompress(path.read_bytes())
    raw += _packet(0, struct.pack("<HBB", 1, 2, 1) + _text("HR") + _text("/min")
                   + struct.pack("<ffLfddBL", 0, 200, 0, 0.0, 1.0, 0.0, 0, 1))
    raw += b"".join(_packet(1, struct.pack("<HdH", 10, t0 + 10 + k, 1) + struct.pack("<f", 70.0))
                    for k in range(10))
    path.write_bytes(gzip.compress(raw))
    rec = read_record(path)
    np.testing.assert_array_equal(rec.signals["ppg"][:1000], np.arange(1000.0))
    np.testing.assert_array_equal(rec.signals["ecg_ii"][:2000], np.arange(2000.0))


@pytest.mark.parametrize("days", [2.0, 30.0])
def test_a_stated_start_far_before_the_records_is_not_the_files(tmp_path, days) -> None:
    """A header stating a start 30 days before its records (a clock error) had refused a
    file of 10 s as spanning 30 days, and one 2 days early read 17 million NaN samples
    before its 1000; an hour early it bounds the record (NaN before the samples)."""
    t0 = 1.6e9
    path = _write_vital(tmp_path / "early.vital", [
        {"name": "PLETH", "fmt": 1, "srate": 100.0, "recs": [(t0, np.arange(1000.0))]}],
        t0 - days * 86400.0)
    rec = read_record(path)
    np.testing.assert_array_equal(rec.signals["ppg"], np.arange(1000.0))
    path = _write_vital(tmp_path / "hour.vital", [
        {"name": "PLETH", "fmt": 1, "srate": 100.0, "recs": [(t0, np.arange(1000.0))]}],
        t0 - 3600.0)
    x = read_record(path).signals["ppg"]
    assert np.isnan(x[:360000]).all() and x[360000] == 0.0
