"""Bad input: every fault is a RecordError that names the file and the fault."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers import shared_path
from qualityfm.io import RecordError, read_record


def _copy(src: Path, dst: Path, signal_bytes: int | None = None) -> Path:
    """Copy a WFDB header and its signal files into ``dst``, cutting them to ``signal_bytes``."""
    for file in src.parent.glob(f"{src.stem}.*"):
        data = file.read_bytes()
        if file.suffix != ".hea" and signal_bytes is not None:
            data = data[:signal_bytes]
        (dst / file.name).write_bytes(data)
    return dst / src.name


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match=r"nothere\.hea: no such file"):
        read_record(tmp_path / "nothere.hea")


def test_missing_signal_file(tmp_path: Path) -> None:
    hea = shutil.copy(shared_path("physionet2015_vt", "v100s.hea"), tmp_path)
    with pytest.raises(RecordError, match=r"v100s\.hea: missing signal file"):
        read_record(hea)


@pytest.mark.parametrize(
    "parts", [("physionet2015_vt", "v100s.hea"), ("nstdb", "ma.hea"),
              ("physionet2015_icu", "icu0002.hea"), ("cinc2017_af", "A00001.hea")]
)
def test_truncated_signal_file(tmp_path: Path, parts: tuple[str, str]) -> None:
    hea = _copy(shared_path(*parts), tmp_path, signal_bytes=10000)
    with pytest.raises(RecordError, match=rf"{parts[1]}: truncated (or corrupt )?signal file"
                       ) as err:
        read_record(hea)
    if parts[0] in ("physionet2015_vt", "nstdb"):  # .mat and format 212: the file named
        stem = parts[1].removesuffix(".hea")
        assert re.search(rf"truncated signal file {stem}\.(mat|dat): it holds", str(err.value))
    if parts[0] != "cinc2017_af":  # the part still on disk reads fine
        assert len(read_record(hea, stop=1.0).signals) > 0


def test_a_signal_file_that_cannot_be_opened_is_named_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No permission to read the signal file: said so, not "truncated or corrupt"."""
    from qualityfm.io import wfdb_reader

    hea = _copy(shared_path("physionet2015_vt", "v100s.hea"), tmp_path)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "v100s.mat"))

    monkeypatch.setattr(wfdb_reader, "_read_frames", denied)
    with pytest.raises(RecordError, match=r"v100s\.hea: cannot open its signal file "
                       r".*v100s\.mat \(Permission denied\)"):
        read_record(hea)


def test_out_of_memory_reading_a_signal_file_is_not_named_corrupt(tmp_path: Path,
                                                                  monkeypatch) -> None:
    """Out of memory while a record's samples are decoded is the machine's fault: said so
    (it had been "truncated or corrupt signal file (MemoryError ...)", sending a user to a
    file that is sound), and still a machine fault that stops a batch."""
    import wfdb

    from qualityfm.io import wfdb_reader
    from qualityfm.io.read import machine_fault

    wfdb.wrsamp("r", fs=125, units=["mV"], sig_name=["II"], fmt=["16"],
                p_signal=np.sin(np.arange(1250) / 9)[:, None], write_dir=str(tmp_path))

    def exhausted(*args, **kwargs):
        raise MemoryError("Unable to allocate 3.2 GiB")

    monkeypatch.setattr(wfdb_reader, "_read_frames", exhausted)
    with pytest.raises(RecordError, match=r"r\.hea: the machine failed reading its signal "
                       r"file \(MemoryError: Unable to allocate 3\.2 GiB\)") as raised:
        read_record(tmp_path / "r.hea")
    assert "corrupt" not in str(raised.value)
    assert isinstance(machine_fault(raised.value), MemoryError)


def test_corrupt_signal_file(tmp_path: Path) -> None:
    hea = _copy(shared_path("physionet2015_icu", "icu0005.hea"), tmp_path)
    dat = tmp_path / "icu0005.dat"
    data = bytearray(dat.read_bytes())
    data[: len(data) // 2] = bytes(len(data) // 2)  # zero the FLAC stream's start
    dat.write_bytes(bytes(data))
    with pytest.raises(RecordError, match=r"icu0005\.hea: truncated or corrupt signal file"):
        read_record(hea)


def test_corrupt_header(tmp_path: Path) -> None:
    hea = _copy(shared_path("physionet2015_vt", "v100s.hea"), tmp_path)
    hea.write_text("v100s four 250 75000\nv100s.mat 16+24 2264/mV 16 0 669 8945 0 II\n")
    with pytest.raises(RecordError, match=r"v100s\.hea: corrupt WFDB header"):
        read_record(hea)


def test_a_header_in_utf16_is_named_so(tmp_path: Path) -> None:
    """Notepad's "Unicode" header had been refused as giving no sampling rate."""
    text = "u 1 100 2\nu.dat 16 200/mV 16 0 0 0 0 II\n"
    (tmp_path / "u.dat").write_bytes(b"\x01\x00\x02\x00")
    for encoding, message in (("utf-16", "UTF-16 text, which"),
                              ("utf-16-le", "UTF-16 text without a byte-order mark")):
        (tmp_path / "u.hea").write_bytes(text.encode(encoding))
        with pytest.raises(RecordError, match=rf"u\.hea: its header is {message}"):
            read_record(tmp_path / "u.hea")
    (tmp_path / "u.hea").write_text(text)
    np.testing.assert_allclose(read_record(tmp_path / "u.hea").signals["ecg_ii"], [0.005, 0.01])
    (tmp_path / "u.hea").write_bytes(text.encode() + b"\0" * 5000)  # a crash's NUL padding:
    with pytest.raises(RecordError) as caught:  # no UTF-16 (whose other bytes are text)
        read_record(tmp_path / "u.hea")
    assert "UTF-16" not in str(caught.value)


def test_a_signal_file_that_is_a_pipe_is_refused_not_opened(tmp_path: Path) -> None:
    """A header naming a named pipe as its .mat had hung the whole batch (open waits for a
    writer); a .dat pipe is named too. Read in a child process, so that a hang fails."""
    import os
    import subprocess
    import sys

    for name in ("p.mat", "p.dat"):
        os.mkfifo(tmp_path / name)
        fmt = "16+24" if name.endswith(".mat") else "16"
        (tmp_path / "p.hea").write_text(f"p 1 100 2\n{name} {fmt} 200 16 0 0 0 0 II\n")
        code = ("import sys; from qualityfm.io import RecordError, read_record\n"
                "try: read_record(sys.argv[1])\nexcept RecordError as e: print(e)")
        out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "p.hea")],
                             capture_output=True, text=True, timeout=60).stdout
        assert f"p.hea: its signal file {name} is no regular file (a pipe or a device)" in out
        (tmp_path / "p.hea").write_text(f"p 1 100\n{name} {fmt} 200 16 0 0 0 0 II\n")  # no
        out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "p.hea")],  # count:
                             capture_output=True, text=True, timeout=60).stdout  # not "empty"
        assert f"p.hea: its signal file {name} is no regular file (a pipe or a device)" in out
        (tmp_path / name).unlink()


def test_empty_records(tmp_path: Path) -> None:
    (tmp_path / "empty.hea").write_text("empty 0 250 0\n")
    with pytest.raises(RecordError, match=r"empty\.hea: empty record"):
        read_record(tmp_path / "empty.hea")
    (tmp_path / "nocount.hea").write_text("nocount 1 250\nnocount.dat 16 200 16 0 0 0 0 II\n")
    (tmp_path / "nocount.dat").write_bytes(b"")  # no sample count, and no samples either
    with pytest.raises(RecordError, match=r"nocount\.hea: empty record \(no samples\)"):
        read_record(tmp_path / "nocount.hea")
    (tmp_path / "nocount.dat").write_bytes(b"\x01\x00\x02\x00")  # two samples: read
    assert read_record(tmp_path / "nocount.hea").signals["ecg_ii"].shape == (2,)
    (tmp_path / "two.hea").write_text("two 2 250\na.dat 16 200 16 0 0 0 0 II\n"
                                      "b.dat 16 200 16 0 0 0 0 PLETH\n")
    (tmp_path / "a.dat").write_bytes(b"")
    (tmp_path / "b.dat").write_bytes(b"\x01\x00\x02\x00")  # one file of two empty: truncated
    with pytest.raises(RecordError, match=r"two\.hea: truncated record: signal file a\.dat "
                                          r"holds no sample"):
        read_record(tmp_path / "two.hea")
    (tmp_path / "b.dat").write_bytes(b"")
    with pytest.raises(RecordError, match=r"two\.hea: empty record \(no samples\)"):
        read_record(tmp_path / "two.hea")
    (tmp_path / "flac.hea").write_text("flac 1 250\nflac.dat 516 200 16 0 0 0 0 II\n")
    (tmp_path / "flac.dat").write_bytes(b"")  # a compressed format: no sample size, still empty
    with pytest.raises(RecordError, match=r"flac\.hea: empty record \(no samples\)"):
        read_record(tmp_path / "flac.hea")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(RecordError, match=r"empty\.csv: empty record"):
        read_record(tmp_path / "empty.csv")
    (tmp_path / "blank.csv").write_text(" \n\n")  # white space only: empty too
    with pytest.raises(RecordError, match=r"blank\.csv: empty record \(empty file\)"):
        read_record(tmp_path / "blank.csv")
    (tmp_path / "head.csv").write_text("Time [s], PLETH\n")
    with pytest.raises(RecordError, match=r"head\.csv: empty record"):
        read_record(tmp_path / "head.csv")
    # no channel: empty too (they had read as records of no channels, an .npz refused)
    (tmp_path / "times.csv").write_text("Time [s]\n0\n0.008\n0.016\n")
    with pytest.raises(RecordError, match=r"times\.csv: empty record \(no column beside the "
                                          r"time column\)"):
        read_record(tmp_path / "times.csv")
    np.save(tmp_path / "none.npy", np.zeros((0, 100)))
    with pytest.raises(RecordError, match=r"none\.npy: empty record \(no channels\)"):
        read_record(tmp_path / "none.npy", fs=125.0, channel_names=[])


def test_corrupt_csv_npy_npz_vital(tmp_path: Path) -> None:
    (tmp_path / "text.csv").write_text("Time [s], PLETH\n0,1\n0.01,abc\n0.02,def\n")
    with pytest.raises(RecordError, match=r"text\.csv: column 'PLETH' is mostly not numbers "
                                          r"\(67% of 3 rows, the first 'abc' on non-blank "
                                          r"line 3\)"):
        read_record(tmp_path / "text.csv")
    (tmp_path / "quote.csv").write_text('Time [s],PLETH\n0,1\n0.01,"2\n')  # open quote
    with pytest.raises(RecordError, match=r"quote\.csv: corrupt CSV"):
        read_record(tmp_path / "quote.csv")
    for name in ("bad.npy", "bad.npz", "bad.vital"):
        (tmp_path / name).write_bytes(b"not a real file" * 10)
        with pytest.raises(RecordError, match=rf"bad\{name[3:]}: .*corrupt"):
            read_record(tmp_path / name, fs=100.0, channel_names=["ppg"]
                        if name.endswith(".npy") else None)


def test_unsupported_suffix_and_span_outside(tmp_path: Path) -> None:
    (tmp_path / "x.edf").write_text("x")
    with pytest.raises(RecordError, match=r"x\.edf: unsupported file type"):
        read_record(tmp_path / "x.edf")
    with pytest.raises(RecordError, match=r"v100s\.hea: span 400"):
        read_record(shared_path("physionet2015_vt", "v100s.hea"), start=400)
    with pytest.raises(RecordError, match=r"v100s\.hea: stop=5"):
        read_record(shared_path("physionet2015_vt", "v100s.hea"), start=10, stop=5)


def test_raw_channel_labels_select_and_short_spans_say_so() -> None:
    path = shared_path("physionet2015_vt") / "v100s.hea"
    rec = read_record(path, channels=["II", "PLETH"])  # as the files label them
    assert rec.channels == ["ecg_ii", "ppg"]
    with pytest.raises(RecordError, match="shorter than one sample at 250 Hz"):
        read_record(path, start=10, stop=10.001)
    csv = shared_path("bidmc") / "bidmc_14_Signals.csv"
    with pytest.raises(RecordError, match=r"lies outside the record$"):  # length not read
        read_record(csv, start=10000, stop=10001)


def test_a_label_table_not_in_utf8_is_named(tmp_path: Path) -> None:
    hea = _copy(shared_path("cinc2017_af", "A00001.hea"), tmp_path)
    (tmp_path / "REFERENCE.csv").write_bytes(b"A00001,N\ncaf\xe9,O\n")  # Latin-1
    labels = read_record(hea).labels  # the record reads (it had been refused); no rhythm
    assert list(labels) == ["unlabelled"] and re.fullmatch(
        r"REFERENCE\.csv beside it cannot be read \(.*\); save it as UTF-8 CSV",
        labels["unlabelled"]["rhythm"])
    from qualityfm.tasks import build_task_dataset

    with pytest.raises(RecordError, match=r"A00001\.hea: REFERENCE\.csv beside it cannot be "
                                          r"read"):  # the task that needs it says why
        build_task_dataset("af", tmp_path)
    (tmp_path / "REFERENCE.csv").write_bytes(b"\xef\xbb\xbfA00001,A\n")  # UTF-8 with a BOM
    assert read_record(hea).labels["rhythm"] == "A"


def test_contradicting_labels_leave_a_record_unlabelled_naming_why(tmp_path: Path) -> None:
    """A record REFERENCE.csv lists as N and as A (the last row had won without a word), and
    an alarm labelled true and false: no label, the reason under ``unlabelled``; the same
    label twice is one label."""
    hea = _copy(shared_path("cinc2017_af", "A00001.hea"), tmp_path)
    (tmp_path / "REFERENCE.csv").write_text("A00001,N\nA00001,N\n")
    assert read_record(hea).labels == {"rhythm": "N"}
    (tmp_path / "REFERENCE.csv").write_text("A00001,N\nA00002,O\nA00001,A\n")
    assert read_record(hea).labels == {
        "unlabelled": {"rhythm": "REFERENCE.csv beside it lists A00001 with the labels N, A"}}
    text = hea.read_text()
    hea.write_text(text + "#Ventricular_Tachycardia\n#False alarm\n#True alarm\n")
    labels = read_record(hea).labels
    assert "alarm_true" not in labels and labels["unlabelled"] == {
        "alarm_true": "its header labels the alarm both true and false",
        "rhythm": "REFERENCE.csv beside it lists A00001 with the labels N, A"}
    from qualityfm.tasks.datasets import build_task_dataset  # each task names its own label

    for task, why in (("vt-alarm", "labels the alarm both true and false"),
                      ("af", r"lists A00001 with the labels N, A")):
        with pytest.raises(RecordError, match=why):
            build_task_dataset(task, hea)


def test_an_alarm_type_is_the_nearest_type_before_its_label(tmp_path: Path) -> None:
    """A note between the alarm type and its label (it had been taken for the type, and the
    VT alarm skipped as 'Bed 12, monitor note')."""
    hea = _copy(shared_path("cinc2017_af", "A00004.hea"), tmp_path)
    text = hea.read_text()
    hea.write_text(text + "#Ventricular_Tachycardia\n#Bed 12, monitor note\n#True alarm\n")
    assert read_record(hea).labels == {"alarm_type": "Ventricular_Tachycardia",
                                       "alarm_true": True}
    for other in ("Bed 12", "Brady (HR<40)", "AFib/Flutter"):  # no type named: the line
        hea.write_text(text + f"#{other}\n#True alarm\n")  # before, another database's
        assert read_record(hea).labels["alarm_type"] == other  # (not taken for VT)
    hea.write_text(text + "#<age>: 69 <sex>: M\n#True alarm\n")  # a note of fields is none:
    assert read_record(hea).labels == {"alarm_true": True}  # it had been the type, and the
    # VT task skipped the labelled record


def test_complex_arrays_are_refused_not_cut_to_their_real_part(tmp_path: Path) -> None:
    z = (np.arange(500) * (1 + 1j)).astype(np.complex64)
    np.savez(tmp_path / "z.npz", fs=100.0, PLETH=z)
    with pytest.raises(RecordError, match=r"z\.npz: array 'PLETH' is not a non-empty real 1-D "
                                          r"signal .*complex64"):
        read_record(tmp_path / "z.npz")
    np.save(tmp_path / "z.npy", z[None])
    with pytest.raises(RecordError, match=r"z\.npy: expected a real \[channels, samples\]"):
        read_record(tmp_path / "z.npy", fs=100.0, channel_names=["ppg"])


def test_a_label_beside_an_npz_s_channels_says_what_an_entry_is(tmp_path: Path) -> None:
    """A label or id saved beside the channels (np.savez(..., label=1)) had been refused as
    "not a non-empty real 1-D signal", no more: the file's layout and the way round it said."""
    path = tmp_path / "l.npz"
    for label in (np.int64(1), np.array(["a", "b"])):  # a label, ids
        np.savez(path, fs=100.0, PLETH=np.sin(np.arange(3000) / 9.0), label=label)
        with pytest.raises(RecordError, match=rf"l\.npz: array 'label' is not a non-empty real "
                                              rf"1-D signal \(shape \({len(label.shape) * '2,'}"
                                              r"\), dtype .*\); every entry but fs and "
                                              r"fs_<KEY> is read as a channel"):
            read_record(path)
        assert read_record(path, channels=["ppg"]).channels == ["ppg"]


def test_skip_reason_is_the_one_skip_policy_of_batch_jobs() -> None:
    """A reader's message is kept; an error no reader raises on purpose is named by type; a
    missing optional reader is raised again, not taken for a bad record."""
    from qualityfm.io.read import skip_reason

    assert skip_reason(RecordError("a.hea: truncated")) == "a.hea: truncated"
    assert skip_reason(OSError("disk")) == "disk"
    assert skip_reason(KeyError("x")) == "unexpected KeyError: 'x'"
    with pytest.raises(ImportError, match="h5py"):
        skip_reason(ImportError("Part_1.mat needs h5py"))


def test_a_header_counting_fewer_samples_than_its_mat_file_warns(tmp_path: Path) -> None:
    """The read stops at the header's count; the MATLAB file's own header says it holds more,
    so the record would end early (an alarm at 300 s past its end) without a word."""
    hea = _copy(shared_path("physionet2015_vt", "v100s.hea"), tmp_path)
    hea.write_text(hea.read_text().replace(" 75000", " 70000", 1))
    with pytest.warns(RuntimeWarning, match=r"v100s\.hea: the header counts 70000 samples per "
                                            r"signal, its signal file v100s\.mat declares 75000"):
        rec = read_record(hea)
    assert {len(x) for x in rec.signals.values()} == {70000}


def test_write_wfdb_names_a_channel_without_a_finite_sample(tmp_path) -> None:
    """It had failed with wfdb's "cannot convert float NaN to integer"."""
    from qualityfm.io import Record, write_wfdb

    rec = Record("allnan", {"ecg_ii": np.zeros(1000, np.float32),
                            "ppg": np.full(1000, np.nan, np.float32)},
                 {"ecg_ii": 250.0, "ppg": 250.0})
    with pytest.raises(RecordError, match=r"allnan: channel\(s\) \['ppg'\] hold no finite "
                                          r"sample"):
        write_wfdb(rec, tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_an_upper_case_header_suffix_is_named(tmp_path) -> None:
    """'U2.HEA' is found as a record, and had been refused as a "missing signal file"."""
    src = shared_path("physionet2015_vt")
    for ext in (".hea", ".mat"):
        shutil.copy(src / f"v100s{ext}", tmp_path / f"v100s{ext}")
    (tmp_path / "v100s.hea").rename(tmp_path / "v100s.HEA")
    with pytest.raises(RecordError, match=r"v100s\.HEA: WFDB headers are read under a "
                                          r"lower-case \.hea suffix; rename it to v100s\.hea"):
        read_record(tmp_path / "v100s.HEA")
    # beside another file v100s.hea (a filesystem that tells cases apart): still refused, not
    # read as this header with that one's samples
    text = (tmp_path / "v100s.HEA").read_text()
    (tmp_path / "v100s.hea").write_text(text)
    if not (tmp_path / "v100s.hea").samefile(tmp_path / "v100s.HEA"):
        (tmp_path / "v100s.HEA").write_text(text.replace(" 250 ", " 125 ", 1))
        with pytest.raises(RecordError, match=r"lower-case \.hea suffix"):
            read_record(tmp_path / "v100s.HEA")


def test_an_alarm_label_without_a_type_is_written_without_one(tmp_path: Path) -> None:
    """write_wfdb had written such an alarm's type as 'Alarm', which the vt-alarm task then
    skipped as no ventricular tachycardia."""
    from qualityfm.io import write_wfdb
    from qualityfm.signal import synthesize
    from qualityfm.tasks.datasets import build_task_dataset

    rec = synthesize(20.0, 250.0, seed=0, record_id="al", channels=("ecg_ii", "ppg"))
    rec.labels, rec.events = {"alarm_true": True}, {"alarm": 15.0}
    hea = write_wfdb(rec, tmp_path)
    assert read_record(hea).labels == {"alarm_true": True}
    assert build_task_dataset("vt-alarm", hea).y.tolist() == [1]


def test_object_arrays_and_a_folder_for_a_signal_file_are_named(tmp_path: Path) -> None:
    """An .npz of a Python object array had read as "truncated or corrupt"; a folder named as
    a WFDB signal file as a "truncated signal file" of the folder's size."""
    ragged = np.empty(2, dtype=object)
    ragged[:] = [np.zeros(3), np.zeros(5)]
    np.savez(tmp_path / "obj.npz", PLETH=ragged, fs=125.0)
    np.save(tmp_path / "obj.npy", ragged, allow_pickle=True)
    for path, kwargs in ((tmp_path / "obj.npz", {}),
                         (tmp_path / "obj.npy", {"fs": 125.0, "channel_names": ["PLETH"]})):
        with pytest.raises(RecordError, match=r"obj\.np[yz]: an array holds Python objects"):
            read_record(path, **kwargs)
    (tmp_path / "g.dat").mkdir()
    (tmp_path / "g.hea").write_text("g 1 100 50\ng.dat 16 200/mV 16 0 0 0 0 II\n")
    with pytest.raises(RecordError, match=r"g\.hea: its signal file g\.dat is a folder"):
        read_record(tmp_path / "g.hea")


def test_an_npz_member_declaring_more_than_it_holds_or_no_array_is_the_files_fault(
        tmp_path: Path) -> None:
    """A 70-kB .npz declaring 10^6 x 10^6 samples had asked for 3.6 TiB: a MemoryError that
    stopped a whole batch as the machine's fault; a member that is no .npy had been a raw
    AttributeError. Both are the file's, named, and a batch goes on past them."""
    import io
    import zipfile

    from qualityfm.inference import score_files

    data = tmp_path / "data"
    data.mkdir()
    np.savez(data / "ok.npz", II=np.sin(np.arange(7500) / 10).astype(np.float32), fs=250.0)
    head, rate = io.BytesIO(), io.BytesIO()
    np.lib.format.write_array_header_1_0(
        head, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 10**6)})
    np.save(rate, np.float64(250.0))
    for name, member in (("huge", head.getvalue() + b"\0" * 64), ("raw", b"not an array")):
        with zipfile.ZipFile(data / f"{name}.npz", "w") as z:
            z.writestr("II.npy", member)
            z.writestr("fs.npy", rate.getvalue())
    with pytest.raises(RecordError, match=r"huge.npz: array 'II' declares shape \(1000000, "
                                          r"1000000\) of float32 \(4000000000000 bytes\) but "
                                          r"holds 64 bytes"):
        read_record(data / "huge.npz")
    with pytest.raises(RecordError, match=r"raw.npz: member 'II.npy' is no NumPy array"):
        read_record(data / "raw.npz")
    np.savez(data / "objects.npz", II=np.empty(5000, dtype=object), fs=250.0)
    with pytest.raises(RecordError, match="objects.npz: an array holds Python objects"):
        read_record(data / "objects.npz")  # pickled small: no size to compare (it had been
        # "declares ... but holds 5158 bytes")
    np.savez_compressed(data / "zipped.npz", II=np.sin(np.arange(7500) / 10), fs=250.0)
    raw = bytearray((data / "zipped.npz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # a damaged deflate stream: zlib's error, the file's (it had been an
    (data / "zipped.npz").write_bytes(bytes(raw))  # "unexpected error")
    with pytest.raises(RecordError, match="zipped.npz: truncated or corrupt .npz file"):
        read_record(data / "zipped.npz")
    text = b"{'descr': '<f4', 'fortran_order': False, 'shape': (10,"  # a header cut short
    text += b" " * (118 - len(text)) + b"\n"
    with zipfile.ZipFile(data / "header.npz", "w") as z:  # (tokenize's error had been an
        z.writestr("II.npy", b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text
                   + b"\0" * 40)  # "unexpected TokenError")
        z.writestr("fs.npy", rate.getvalue())
    with pytest.raises(RecordError, match="header.npz: truncated or corrupt .npz file"):
        read_record(data / "header.npz")
    summary = score_files(data, tmp_path / "s.csv")
    assert summary["n_records"] == 1 and len(summary["skipped"]) == 5
