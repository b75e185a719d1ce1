"""find_records and channel naming."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import shared_path
from qualityfm.io import RecordError, canonical_channel, canonical_names, find_records, read_record
from qualityfm.io.read import SUFFIXES


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


def test_find_records_lists_a_corrupt_header_but_not_a_listed_segment(tmp_path: Path) -> None:
    (tmp_path / "v111l.hea").write_text("v111l 4 abc\ngarbage\n")
    (tmp_path / "r.hea").write_text("r/2 1 125 20\nr_layout 0\nr_0001 20\n")
    (tmp_path / "r_layout.hea").write_text("r_layout 1 125 0\n~ 0 1 0 0 0 0 0 II\n")
    (tmp_path / "r_0001.hea").write_text("r_0001 x 125\n")  # corrupt, but a segment of r
    assert [p.name for p in find_records(tmp_path)] == ["r.hea", "v111l.hea"]
    assert find_records(tmp_path / "v111l.hea") == [tmp_path / "v111l.hea"]
    with pytest.raises(RecordError, match=r"v111l\.hea: corrupt WFDB header"):
        read_record(tmp_path / "v111l.hea")


def test_find_records_names_a_wfdb_record_as_read_record_does(tmp_path: Path) -> None:
    vt = shared_path("physionet2015_vt")
    for name in ("v100s.mat", "v100s", "v100s.hea"):
        assert find_records(vt / name) == [vt / "v100s.hea"], name
    with pytest.raises(RecordError, match=r"v999x: no such file or folder, nor .*v999x\.hea"):
        find_records(vt / "v999x")
    (tmp_path / "Part_1.mat").write_bytes(b"no header beside it")  # e.g. a UCI BP part
    (tmp_path / "notes.txt").write_text("text")
    assert find_records(tmp_path / "Part_1.mat") == []
    assert find_records(tmp_path / "notes.txt") == []
    with pytest.raises(RecordError, match=r"notes\.txt: unsupported file type '\.txt' \(known: "):
        read_record(tmp_path / "notes.txt")


def test_a_folder_s_numerics_records_are_no_waveforms(tmp_path: Path) -> None:
    """MIMIC's ...n records (every channel at 1 Hz) beside the waveforms: every one had been a
    skipped bad record of each verb (half a MIMIC tree's skip list); named alone, one is
    read (and skipped, saying why)."""
    from qualityfm.io import Record, write_wfdb
    from qualityfm.io.read import passed_over_skips

    wave = np.sin(np.arange(1250) / 10.0)
    write_wfdb(Record("p000020-2183-04-28-17-47", {"ecg_ii": wave}, {"ecg_ii": 125.0}),
               tmp_path)
    trend = np.full(60, 80.0)
    write_wfdb(Record("p000020-2183-04-28-17-47n", {"hr": trend, "spo2": trend},
                      {"hr": 1.0, "spo2": 1.0}), tmp_path)
    write_wfdb(Record("slow", {"ecg_ii": wave[:100]}, {"ecg_ii": 9.5}), tmp_path)
    assert [p.name for p in find_records(tmp_path)] == ["p000020-2183-04-28-17-47.hea"]
    assert passed_over_skips(tmp_path) == []
    named = tmp_path / "p000020-2183-04-28-17-47n.hea"
    assert find_records(named) == [named]
    assert read_record(named).fs == {"hr": 1.0, "spo2": 1.0}
    from qualityfm.io.read import no_record_reason

    alone = tmp_path / "numerics"  # a folder of them alone: said why nothing is read
    alone.mkdir()
    write_wfdb(Record("p1n", {"hr": trend}, {"hr": 1.0}), alone)
    assert find_records(alone) == []
    assert no_record_reason(alone) == ("no readable record found; 1 record(s) of a monitor's "
                                       "numerics (every channel under 10 Hz, e.g. p1n.hea), "
                                       "which no window reads")


def test_canonical_names_unique() -> None:
    assert canonical_names(["V", "V", "II", "PLETH", "ECG II"]) == [
        "ecg_v", "ecg_v_2", "ecg_ii", "ppg", "ecg_ii_2"]
    assert canonical_channel("SNUADC/ECG_II") == "ecg_ii"
    assert canonical_channel("SNUADC/ART") == "abp"


def test_no_record_reason_names_what_a_folder_passed_over(tmp_path: Path) -> None:
    from qualityfm.io.read import no_record_reason

    assert no_record_reason(tmp_path) == "no readable record found"
    np.save(tmp_path / "a.npy", np.zeros((2, 100)))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.csv").write_text("PLETH,II\n1,2\n3,4\n")
    (tmp_path / "c.edf").write_bytes(b"0")
    (tmp_path / "d.EDF").write_bytes(b"0")
    (tmp_path / "notes.txt").write_text("x")
    assert find_records(tmp_path) == []
    reason = no_record_reason(tmp_path)
    assert "2 file(s) without a sampling rate passed over" in reason
    assert "a.npy: a .npy file holds no rate" in reason  # the first one's reader message
    assert "np.savez('a.npz'" in reason
    assert "2 .edf" in reason and ".txt" not in reason
    assert "unsupported file type '.edf'" in no_record_reason(tmp_path / "c.edf")
    from qualityfm.tasks import build_task_dataset

    with pytest.raises(RecordError, match="without a sampling rate passed over"):
        build_task_dataset("af", tmp_path)


def test_headerless_mat_files_uci_parts_and_tables_are_named_as_passed_over(
        tmp_path: Path) -> None:
    """A WFDB .mat without its header, a UCI cuff-less BP part (read by the abp task only)
    and Parquet or TSV tables had been passed over by score and prepare without a word."""
    import shutil

    from qualityfm.io.read import passed_over, passed_over_skips

    for suffix in (".hea", ".mat"):
        shutil.copy(shared_path("wfdb_samples", "a103l" + suffix), tmp_path)
    (tmp_path / "x").mkdir()
    shutil.copy(shared_path("physionet2015_vt", "v100s.mat"), tmp_path / "x")
    (tmp_path / "Part_1.mat").write_bytes(b"\0" * 256)
    (tmp_path / "rec.parquet").write_bytes(b"PAR1")
    (tmp_path / "rec.tsv").write_text("Time\tPLETH\n0\t1\n")
    assert find_records(tmp_path) == [tmp_path / "a103l.hea"]
    no_rate, other = passed_over(tmp_path)
    assert sorted(no_rate) == [tmp_path / "Part_1.mat", tmp_path / "x" / "v100s.mat"]
    assert other == {".parquet": 1, ".tsv": 1}
    assert passed_over(tmp_path, uci_read=True)[0] == [tmp_path / "x" / "v100s.mat"]
    reasons = {Path(e["record"]).name: e["reason"] for e in passed_over_skips(tmp_path)}
    assert "without its header v100s.hea" in reasons["v100s.mat"]
    assert "read_uci_bp" in reasons["Part_1.mat"]
    assert "1 .parquet, 1 .tsv" in reasons[tmp_path.name]
    from qualityfm.io.read import no_record_reason

    assert "without its header v100s.hea" in no_record_reason(tmp_path / "x" / "v100s.mat")
    assert "a .dat or .mat without its header" in no_record_reason(tmp_path / "x")
    for suffix in (".hea", ".mat"):  # a WFDB record named like a UCI part is a record
        shutil.copy(shared_path("wfdb_samples", "a103l" + suffix), tmp_path / f"Part_2{suffix}")
    assert tmp_path / "Part_2.mat" not in passed_over(tmp_path)[0]
    # a Part_N.mat that a header of another name lists is that record's signal file: no UCI
    # part to the abp task either (it had been read twice)
    from qualityfm.io import find_uci_bp

    named = tmp_path / "named"
    named.mkdir()
    shutil.copy(shared_path("wfdb_samples", "a103l.mat"), named / "Part_3.mat")
    hea = shared_path("wfdb_samples", "a103l.hea").read_text().replace("a103l.mat", "Part_3.mat")
    (named / "rec.hea").write_text(hea)
    assert find_uci_bp(named) == [] and passed_over(named)[0] == []


def test_is_ecg_knows_a_repeated_lead() -> None:
    from qualityfm.io import is_ecg
    from qualityfm.quality.features import feature_names, signal_features

    assert canonical_names(["ECG1", "ECG2", "PLETH"]) == ["ecg", "ecg_2", "ppg"]
    assert canonical_names(["V", "V"]) == ["ecg_v", "ecg_v_2"]
    assert all(is_ecg(c) for c in ("ecg", "ecg_2", "ecg_v_2", "ecg_v2", "ecg_ii"))
    assert not any(is_ecg(c) for c in ("ppg", "ppg_2", "abp_2", "resp", "ecg_hr", "ecg_ii_x"))
    # the lead standing for lead II comes first: lead II, then I before aVF, aVR last, and a
    # repeated lead after every named one; other channels are left out
    from qualityfm.io import ecg_leads
    assert ecg_leads(["ecg_avr", "ppg", "ecg_2", "ecg_i", "ecg_avf"]) == [
        "ecg_i", "ecg_avf", "ecg_avr", "ecg_2"]
    assert ecg_leads(["ecg_v1", "ecg_ii", "abp"])[0] == "ecg_ii" and ecg_leads(["ppg"]) == []
    # a second channel of a named lead right after its first (a healthy second II had given
    # way to V where the first was off); a second unnamed one still after every named one
    assert ecg_leads(["ecg_v", "ecg_ii_2", "ecg_2", "ecg", "ecg_ii", "ecg_i_2", "ecg_i"]) == [
        "ecg_ii", "ecg_ii_2", "ecg", "ecg_i", "ecg_i_2", "ecg_v", "ecg_2"]
    # an ECG1/ECG2 record fills both lead slots of the classical features
    t = np.arange(0, 10, 1 / 250)
    beats = np.exp(-(((t % 0.8) - 0.4) ** 2) / 2e-4)
    vec = signal_features({"ecg": beats, "ecg_2": 0.5 * beats}, {"ecg": 250.0, "ecg_2": 250.0})
    names = feature_names()
    assert vec[names.index("n_leads")] == 2


def test_hidden_folders_and_signal_files_without_a_header(tmp_path: Path) -> None:
    """A writer's leftover temporary folder (hidden) holds no record to read twice; a .dat
    that no header names is listed as passed over, and given alone says what it lacks."""
    from qualityfm.io import write_wfdb
    from qualityfm.io.read import no_record_reason, passed_over_skips
    from qualityfm.signal import synthesize

    rec = synthesize(20.0, 125.0, seed=0, record_id="rec", channels=("ecg_ii", "ppg"))
    write_wfdb(rec, tmp_path)
    write_wfdb(rec, tmp_path / ".write-abc123")  # as a killed write_wfdb leaves it
    (tmp_path / "orphan.dat").write_bytes(b"\0" * 400)
    assert find_records(tmp_path) == [tmp_path / "rec.hea"]
    why = "orphan.dat: a WFDB signal file without its header orphan.hea"
    assert [(e["record"], e["reason"].split(" (")[0]) for e in passed_over_skips(tmp_path)] == [
        (str(tmp_path / "orphan.dat"), str(tmp_path / why))]
    # the callers name the file: the reason does not name it again
    assert no_record_reason(tmp_path / "orphan.dat").startswith(
        "a WFDB signal file without its header orphan.hea")
    with pytest.raises(RecordError, match=why):
        read_record(tmp_path / "orphan.dat")
    # a signal file named by a header of another name (wfdb_samples/mixedsignals): no orphan
    mixed = shared_path("wfdb_samples")
    assert passed_over_skips(mixed) == []
    with pytest.raises(RecordError, match=r"mixedsignals_e\.dat: a signal file of the record "
                                          r"mixedsignals\.hea"):
        read_record(mixed / "mixedsignals_e.dat")


def test_linked_folders_links_to_nothing_and_pipes(tmp_path: Path) -> None:
    """Records in a folder that is a link are found (they had been dropped without a word),
    a folder reached by its path and by a link is read once under its path, a link loop
    ends; a link to nothing and a pipe named like a record are named as passed over (a pipe
    had been opened, and the scan waited for ever)."""
    import os

    from qualityfm.io import write_wfdb
    from qualityfm.io.read import passed_over_skips
    from qualityfm.signal import synthesize

    elsewhere, inputs = tmp_path / "elsewhere", tmp_path / "inputs"
    for i in range(2):
        write_wfdb(synthesize(20.0, 125.0, seed=i, record_id=f"r{i}",
                              channels=("ecg_ii", "ppg")), elsewhere / f"site{i}")
    inputs.mkdir()
    (inputs / "site0").symlink_to(elsewhere / "site0")
    (inputs / "a_alias").symlink_to(elsewhere / "site1")  # a link sorted before its folder
    (inputs / "z").symlink_to(elsewhere / "site1")
    (elsewhere / "site1" / "up").symlink_to(inputs)  # a loop
    assert find_records(inputs) == [inputs / "a_alias" / "r1.hea", inputs / "site0" / "r0.hea"]
    (inputs / "site1").symlink_to(elsewhere / "site1")
    real = inputs / "real"
    real.mkdir()
    (real / "r2.hea").write_bytes((elsewhere / "site0" / "r0.hea").read_bytes()
                                         .replace(b"r0", b"r2"))
    (real / "r2.dat").write_bytes((elsewhere / "site0" / "r0.dat").read_bytes())
    (inputs / "a_real_alias").symlink_to(real)
    assert inputs / "real" / "r2.hea" in find_records(inputs)  # its path, not the link's
    assert inputs / "a_real_alias" / "r2.hea" not in find_records(inputs)
    (inputs / "gone.hea").symlink_to(tmp_path / "nothing.hea")
    os.mkfifo(inputs / "pipe.csv")
    assert {e["record"]: e["reason"].removeprefix(e["record"] + ": ")
            for e in passed_over_skips(inputs)} == {
        str(inputs / "gone.hea"): f"a link to nothing ({tmp_path / 'nothing.hea'})",
        str(inputs / "pipe.csv"): "no regular file (a pipe or a device), not read"}
    assert inputs / "pipe.csv" not in find_records(inputs)


def test_unopenable_folders_and_csv_files_are_found_and_named_not_dropped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder or CSV the user may not open, and an empty CSV, are listed by find_records
    so that reading them says why (they had vanished from a prepare unsaid)."""
    import os

    for name in ("locked", "shut"):  # shut: listed, not entered (read but no execute bit)
        (tmp_path / name).mkdir()
        np.savez(tmp_path / name / "a.npz", PLETH=np.zeros(10))
    (tmp_path / "lead.csv").write_text("\nTime [s],PLETH\n0,1\n0.01,2\n")  # read, as pandas
    (tmp_path / "padded.csv").write_text(",,\nTime [s],PLETH,II\n0,1,2\n")  # a ',,' header
    (tmp_path / "padded8.csv").write_text(",,\n" * 9 + "Time [s],PLETH,II\n0,1,2\n")
    (tmp_path / "quoted.csv").write_text('"",""\nTime [s],PLETH\n0,1\n')  # empty quotes
    (tmp_path / "notes.csv").write_text("# exported by X\n# no rows\n")  # comments alone
    (tmp_path / "pad.csv").write_text("# exported by X\n#,,\n")  # a padded comment last
    (tmp_path / "cells.csv").write_text(",,\n,,\n")  # empty cells alone
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "blank.csv").write_text("\n \n")
    (tmp_path / "secret.csv").write_text("Time [s],PLETH\n0,1\n0.01,2\n")
    (tmp_path / "REFERENCE.csv").write_text("A1,N\n")  # a table of labels: still no record
    (tmp_path / "labels.csv").write_text(",,\nrecord,label\nv100s,1\n")  # a blank first row
    (tmp_path / "lab2.csv").write_bytes(b"# labels\r\rA1,N\r")
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf\n")  # empty, as a spreadsheet saves it
    (tmp_path / "samples.csv").write_text("\n0.1,0.2\n0.3,0.4\n")  # no rate: passed over
    (tmp_path / "big.csv").write_text('"' + "a" * 200_000 + '"\n1\n')  # past csv's field limit
    scandir, path_open, access = os.scandir, Path.open, os.access
    denied = PermissionError(13, "Permission denied")  # as a user who is not root meets it

    def locked_scandir(path=".") -> object:
        if Path(path).name == "locked":
            raise denied
        return scandir(path)

    def locked_open(self: Path, *args, **kwargs) -> object:
        if self.name == "secret.csv":
            raise denied
        return path_open(self, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", locked_scandir)
    monkeypatch.setattr(os, "access", lambda path, mode: (
        Path(path).name != "shut" or not mode & os.X_OK) and access(path, mode))
    monkeypatch.setattr(Path, "open", locked_open)
    found = [p.name for p in find_records(tmp_path)]
    assert found == ["big.csv", "blank.csv", "bom.csv", "cells.csv", "empty.csv", "lead.csv",
                     "locked", "notes.csv", "pad.csv", "padded.csv", "padded8.csv",
                     "quoted.csv", "secret.csv", "shut"]
    from qualityfm.io.read import passed_over

    assert [p.name for p in passed_over(tmp_path)[0]] == ["samples.csv"]  # named once
    with pytest.raises(RecordError, match=r"big\.csv: its first lines are no CSV this reader "
                                          r"parses \(field larger than field limit"):
        read_record(tmp_path / "big.csv")
    (tmp_path / "row.csv").write_text('Time [s],PLETH\n0,1\n0.01,"' + "a" * 200_000 + '"\n')
    with pytest.raises(RecordError, match=r"row\.csv: a line the CSV parser cannot read "
                                          r"\(field larger than field limit"):
        read_record(tmp_path / "row.csv")  # a row past the limit: a skip, not a crash
    with pytest.raises(RecordError, match=r"locked: a folder that cannot be opened "
                       r"\(Permission denied\)"):
        read_record(tmp_path / "locked")
    with pytest.raises(RecordError, match=r"shut: a folder that cannot be opened"):
        read_record(tmp_path / "shut")
    assert read_record(tmp_path / "lead.csv").signals["ppg"].tolist() == [1.0, 2.0]
    with pytest.raises(RecordError, match=r"padded\.csv: line 1 holds no cell where the header"):
        read_record(tmp_path / "padded.csv")
    for name in ("notes.csv", "pad.csv", "cells.csv"):
        with pytest.raises(RecordError, match=rf"{name}: empty record \(comment lines and "
                                              r"empty cells only\)"):
            read_record(tmp_path / name)
    with pytest.raises(RecordError, match=r"secret\.csv: cannot open"):
        read_record(tmp_path / "secret.csv")
    for name in ("empty.csv", "blank.csv", "bom.csv"):
        with pytest.raises(RecordError, match=rf"{name}: empty record \(empty file\)"):
            read_record(tmp_path / name)


def test_csv_files_of_no_text_are_found_and_named_not_taken_for_label_tables(
        tmp_path: Path) -> None:
    """A gzip-compressed CSV kept under .csv, or one of random bytes, had been taken for a
    table of labels: no record, no skip, no word; a .csv.gz had vanished alike."""
    import gzip

    from qualityfm.io.read import passed_over_skips

    text = "Time [s],PLETH\n" + "".join(f"{i / 125:.3f},{i % 7}\n" for i in range(500))
    (tmp_path / "packed.csv").write_bytes(gzip.compress(text.encode()))
    (tmp_path / "noise.csv").write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 3000,
                                                                              dtype=np.uint8)))
    (tmp_path / "table.csv.gz").write_bytes(gzip.compress(text.encode()))
    (tmp_path / "table.csv.bz2").write_bytes(b"BZh9")
    (tmp_path / "utf16.csv").write_bytes(text[:200].encode("utf-16-le"))  # no byte-order mark
    (tmp_path / "REFERENCE.csv").write_text("A00001,N\n")  # labels: still no record
    assert find_records(tmp_path) == [tmp_path / "noise.csv", tmp_path / "packed.csv",
                                      tmp_path / "utf16.csv"]
    with pytest.raises(RecordError, match=r"utf16\.csv: UTF-16 text without a byte-order mark"):
        read_record(tmp_path / "utf16.csv")
    with pytest.raises(RecordError, match=r"packed\.csv: gzip-compressed, not text: "
                                          r"decompress it"):
        read_record(tmp_path / "packed.csv")
    with pytest.raises(RecordError, match=r"noise\.csv: binary data \(NUL bytes"):
        read_record(tmp_path / "noise.csv")
    reasons = [e["reason"] for e in passed_over_skips(tmp_path)]
    assert reasons == [f"files of types not read: 1 .csv.bz2, 1 .csv.gz (known: "
                       f"{', '.join(SUFFIXES)})"]


def test_a_time_column_in_a_unit_not_read_is_named(tmp_path: Path) -> None:
    """'Time [min]' had been told "no time column"."""
    path = tmp_path / "minutes.csv"
    path.write_text("Time [min],PLETH\n" + "".join(f"{i / 7500:.6f},{i % 7}\n"
                                                  for i in range(300)))
    with pytest.raises(RecordError, match=r"minutes\.csv: column 'Time \[min\]' is read as no "
                                          r"time column: its unit 'min' is not one read"):
        read_record(path)
    degrees = tmp_path / "degrees.csv"  # T for a temperature: no time column, as it says
    degrees.write_text("T [degC],PLETH\n" + "".join(f"37,{i % 7}\n" for i in range(300)))
    with pytest.raises(RecordError, match=r"degrees\.csv: no time column"):
        read_record(degrees)


def test_an_output_folder_guard_counts_record_files_not_folders_it_cannot_open(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A volume's root-only lost+found had made pretrain/export --out refuse the volume's root
    as holding records ("holds records (lost+found)")."""
    import os

    from qualityfm.io.folders import refuse_records_there

    (tmp_path / "lost+found").mkdir()
    scandir = os.scandir

    def locked_scandir(path=".") -> object:
        if Path(path).name == "lost+found":
            raise PermissionError(13, "Permission denied")
        return scandir(path)

    monkeypatch.setattr(os, "scandir", locked_scandir)
    assert find_records(tmp_path) == [tmp_path / "lost+found"]  # a reader still says why
    refuse_records_there(tmp_path)
    np.savez(tmp_path / "a.npz", PLETH=np.zeros(10))
    with pytest.raises(ValueError, match=r"--out .* holds records \(a\.npz\): write"):
        refuse_records_there(tmp_path)


def test_a_demo_report_among_the_records_is_left_out_and_named(tmp_path: Path) -> None:
    """A demo report inside a data folder: its synthetic records had been read as the
    folder's (106 beside 25 real ones, the AUROC 0.98 against 0.48) and its task cache tried
    as a record; it is left out and named once, as a store is. Given itself, its records are
    read (not its task cache)."""
    from qualityfm.io import write_wfdb
    from qualityfm.io.folders import DEMO_MARKER
    from qualityfm.io.read import no_rate_reason, passed_over
    from qualityfm.signal import synthesize

    write_wfdb(synthesize(60.0, fs=250.0, seed=0, record_id="real"), tmp_path)
    report = tmp_path / "old_demo"
    write_wfdb(synthesize(60.0, fs=250.0, seed=1, record_id="syn_0"), report / "data" / "alarms")
    (report / "task_cache").mkdir()
    np.savez(report / "task_cache" / "vt-alarm-x.npz", X=np.zeros(3))
    (report / DEMO_MARKER).touch()
    assert find_records(tmp_path) == [tmp_path / "real.hea"]
    assert passed_over(tmp_path)[0] == [report]
    assert no_rate_reason(report).endswith("a report qualityfm demo wrote (its synthetic "
                                           "records, store and caches are no data of this "
                                           "folder): left out")
    assert find_records(report) == [report / "data" / "alarms" / "syn_0.hea"]
