"""Task datasets from the MIMIC PERform AF layout (af) and the UCI cuff-less BP layout (abp),
on small synthetic folders written in those layouts; the Challenge 2017 layout alongside."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import wfdb
from scipy.io import savemat

from qualityfm.cli import main
from qualityfm.io import MODEL_CHANNELS, Record, RecordError, write_wfdb
from qualityfm.signal import synthesize
from qualityfm.tasks import RHYTHMS, build_task_dataset, compare_run, predict_run
from qualityfm.tasks.datasets import TaskSettings, _rows_af, perform_af_label

ECG, PPG = MODEL_CHANNELS.index("ecg_ii"), MODEL_CHANNELS.index("ppg")
FS = 125.0  # both data sets are sampled at 125 Hz
TINY = {"d_model": 16, "n_layers": 1, "n_heads": 2, "d_ff": 16, "stem_channels": [4, 8, 16],
        "n_bins": 16, "n_samples": 9000}


# ----------------------------------------------------------------------------- MIMIC PERform AF


def _perform_signals(name: str, seconds: float, seed: int) -> dict[str, np.ndarray]:
    rhythm = "sinus" if "_non_af_" in name else "af"
    rec = synthesize(seconds, FS, hr=80, rhythm=rhythm, seed=seed, channels=("ecg_ii", "ppg"))
    t = np.arange(len(rec.signals["ppg"])) / FS
    return {"ppg": rec.signals["ppg"], "ecg": rec.signals["ecg_ii"],
            "resp": (0.5 * np.sin(2 * np.pi * 0.25 * t)).astype(np.float32)}


def write_perform_wfdb(folder: Path, name: str, seconds: float, seed: int,
                       names: tuple[str, str, str] | None = None) -> None:
    """A PERform record in WFDB: by default through ``write_wfdb`` (PLETH, II, RESP); with
    ``names`` through wfdb directly with those signal names (e.g. PPG, ECG, resp)."""
    sig = _perform_signals(name, seconds, seed)
    if names is None:
        rec = Record(name, {"ppg": sig["ppg"], "ecg_ii": sig["ecg"], "resp": sig["resp"]},
                     {c: FS for c in ("ppg", "ecg_ii", "resp")},
                     units={"ppg": "NU", "ecg_ii": "mV", "resp": "NU"})
        write_wfdb(rec, folder)
        return
    folder.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(name, fs=FS, units=["NU", "mV", "NU"], sig_name=list(names),
                p_signal=np.stack([sig["ppg"], sig["ecg"], sig["resp"]], axis=1).astype(float),
                fmt=["16"] * 3, write_dir=str(folder))


def write_perform_csv(folder: Path, name: str, seconds: float, seed: int,
                      ppg_gap: tuple[float, float] | None = None) -> Path:
    """A PERform CSV (``<name>_data.csv``: Time, PPG, ECG, resp); ``ppg_gap`` blanks the PPG."""
    sig = _perform_signals(name, seconds, seed)
    t = np.arange(len(sig["ppg"])) / FS
    ppg = sig["ppg"].astype(float)
    if ppg_gap is not None:
        ppg[(t >= ppg_gap[0]) & (t < ppg_gap[1])] = np.nan
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}_data.csv"
    lines = ["Time,PPG,ECG,resp"] + [
        f"{a:.3f},{'' if np.isnan(b) else f'{b:.5f}'},{c:.5f},{d:.5f}"
        for a, b, c, d in zip(t, ppg, sig["ecg"], sig["resp"], strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def perform_dir(tmp_path) -> Path:
    """Three AF and three non-AF subjects, 70-125 s each, in both WFDB naming styles + CSV."""
    d = tmp_path / "perform"
    write_perform_wfdb(d / "af", "mimic_perform_af_001", 95, seed=1)
    write_perform_wfdb(d / "af", "mimic_perform_af_002", 70, seed=2, names=("PPG", "ECG", "resp"))
    write_perform_csv(d / "af", "mimic_perform_af_003", 65, seed=3)
    write_perform_wfdb(d / "non_af", "mimic_perform_non_af_001", 125, seed=4)
    write_perform_wfdb(d / "non_af", "mimic_perform_non_af_002_data", 61, seed=5,
                       names=("PLETH", "II", "RESP"))
    write_perform_csv(d / "non_af", "mimic_perform_non_af_003", 90, seed=6, ppg_gap=(35, 55))
    return d


def test_perform_af_windows_labels_groups_and_masks(perform_dir) -> None:
    ds = build_task_dataset("af", perform_dir)
    expected = {"mimic_perform_af_001": 3, "mimic_perform_af_002": 2, "mimic_perform_af_003": 2,
                "mimic_perform_non_af_001": 4, "mimic_perform_non_af_002": 2,
                "mimic_perform_non_af_003": 3}  # whole 30-s windows of each record
    groups, counts = np.unique(ds.groups, return_counts=True)
    assert dict(zip(groups.tolist(), counts.tolist(), strict=True)) == expected
    assert ds.skipped == [] and ds.X.shape == (16, 2, 9000) and ds.X.dtype == np.float32
    is_af = np.array([not g.startswith("mimic_perform_non_af_") for g in ds.groups])
    np.testing.assert_array_equal(ds.y, is_af.astype(int))
    np.testing.assert_array_equal(ds.rhythm, np.where(is_af, RHYTHMS.index("A"),
                                                      RHYTHMS.index("N")))
    assert len(set(ds.record_ids)) == len(ds)  # subject@start: one id per window
    assert sorted(r for r in ds.record_ids if r.startswith("mimic_perform_non_af_001@")) == [
        "mimic_perform_non_af_001@0", "mimic_perform_non_af_001@30", "mimic_perform_non_af_001@60",
        "mimic_perform_non_af_001@90"]
    # both modalities in every window but the one whose PPG is blank for 20 of its 30 s
    gap = ds.record_ids == "mimic_perform_non_af_003@30"
    assert ds.mask[:, ECG].all() and ds.mask[~gap, PPG].all() and not ds.mask[gap, PPG].any()
    assert (ds.X[gap, PPG] == 0).all() and np.abs(ds.X).max() <= 1.0 + 1e-6
    # the label follows the waves: AF subjects have irregular RR intervals
    rr_cv = ds.features[:, ds.feature_names.index("ecg1_rr_cv")]
    assert np.median(rr_cv[is_af]) > 2 * np.median(rr_cv[~is_af])


def test_perform_wfdb_with_the_converters_signal_names_keeps_its_ecg(tmp_path) -> None:
    """WFDB files written as the PERform converter writes them ("ECG, ..., lead II"): every
    window has its ECG (it had been masked in all of them)."""
    write_perform_wfdb(tmp_path, "mimic_perform_af_004", 60, seed=7, names=(
        "PPG, Fingertip PPG recorded using bedside monitor",
        "ECG, ECG recorded using bedside monitor, lead II",
        "resp, Impedance pneumography recorded using bedside monitor"))
    ds = build_task_dataset("af", tmp_path)
    assert len(ds) == 2 and ds.mask.all() and ds.skipped == []


def test_perform_label_from_the_name_and_bad_names(tmp_path) -> None:
    assert perform_af_label(Path("x"), "mimic_perform_af_012") == ("mimic_perform_af_012", "A")
    assert perform_af_label(Path("mimic_perform_non_af_007_data.csv")) == (
        "mimic_perform_non_af_007", "N")
    write_perform_wfdb(tmp_path, "mimic_perform_xx_001", 40, seed=0)
    bad = tmp_path / "mimic_perform_xx_001.hea"
    with pytest.raises(RecordError, match=r"mimic_perform_xx_001\.hea: no Challenge 2017 rhythm"):
        _rows_af(bad, TaskSettings("af", 30.0))
    short = write_perform_csv(tmp_path / "s", "mimic_perform_af_004", 20, seed=0)
    with pytest.raises(RecordError, match=r"mimic_perform_af_004_data\.csv: no 30 s window"):
        _rows_af(short, TaskSettings("af", 30.0))
    # in a folder, such records are skipped by name and the rest is built
    write_perform_wfdb(tmp_path, "mimic_perform_non_af_009", 35, seed=3)
    ds = build_task_dataset("af", tmp_path)
    assert list(ds.groups) == ["mimic_perform_non_af_009"] and list(ds.y) == [0]
    assert len(ds.skipped) == 2
    assert any(e["record"].endswith("mimic_perform_xx_001.hea") for e in ds.skipped)
    with pytest.raises(RecordError, match="no record fits task 'af'"):
        build_task_dataset("af", tmp_path / "s")


def test_challenge_2017_layout_is_unchanged(tmp_path) -> None:
    """REFERENCE.csv records: one centre-cropped (or padded) ECG-only row each, as before."""
    for i, (rid, rhythm, sec) in enumerate([("A00001", "N", 40.0), ("A00002", "A", 20.0)]):
        rec = synthesize(sec, 300.0, rhythm="af" if rhythm == "A" else "sinus", seed=i,
                         channels=("ecg_ii",), record_id=rid)
        write_wfdb(rec, tmp_path)
    (tmp_path / "REFERENCE.csv").write_text("A00001,N\nA00002,A\n")
    ds = build_task_dataset("af", tmp_path)
    assert list(ds.record_ids) == ["A00001", "A00002"] and list(ds.groups) == list(ds.record_ids)
    assert list(ds.y) == [0, 1] and list(ds.rhythm) == [0, 1]
    assert ds.mask[:, ECG].all() and not ds.mask[:, PPG].any()
    assert (ds.X[1, ECG, 20 * 300:] == 0).all() and ds.X[1, ECG, : 20 * 300].any()  # padded


def test_challenge_2017_as_physionet_serves_it_reads_its_labels(tmp_path) -> None:
    """Records in training/A00, A01 and the table in training/ keyed A00/A00001 (as PhysioNet
    serves the Challenge): every record had been "no Challenge 2017 rhythm label"; a flat
    folder keeping the table's keys reads alike, and an edit of the table up a folder is
    another dataset (the cache had keyed only the label files beside the records)."""
    rows = []
    for i, (rid, rhythm) in enumerate([("A00001", "N"), ("A00002", "A"), ("A00003", "N")]):
        rec = synthesize(32.0, 300.0, rhythm="af" if rhythm == "A" else "sinus", seed=i,
                         channels=("ecg_ii",), record_id=rid)
        sub = f"A0{i // 2}"
        write_wfdb(rec, tmp_path / "served" / "training" / sub)
        write_wfdb(rec, tmp_path / "flat")
        rows.append(f"{sub}/{rid},{rhythm}\n")
    for table in (tmp_path / "served" / "training", tmp_path / "flat"):
        (table / "REFERENCE.csv").write_text("".join(rows))
    cache = tmp_path / "cache"
    for folder in ("served", "flat"):
        ds = build_task_dataset("af", tmp_path / folder, cache_dir=cache)
        assert list(ds.record_ids) == ["A00001", "A00002", "A00003"]
        assert list(ds.y) == [0, 1, 0]
    (tmp_path / "served" / "training" / "REFERENCE.csv").write_text(
        "".join(rows).replace("A00003,N", "A00003,A"))
    assert list(build_task_dataset("af", tmp_path / "served", cache_dir=cache).y) == [0, 1, 1]
    # a table beside the records decides for them: the one up only where there is none
    (tmp_path / "served" / "training" / "A01" / "REFERENCE.csv").write_text("A09999,N\n")
    ds = build_task_dataset("af", tmp_path / "served", cache_dir=cache)
    assert list(ds.record_ids) == ["A00001", "A00002"]


def test_perform_af_runs_say_once_that_its_records_give_no_o_or_noise(perform_dir, tmp_path,
                                                                       capsys) -> None:
    """PERform AF records give the rhythms N and A alone: the 4-class model's fits had each
    warned that "y holds no row of class(es) 2, 3" (once per fold); the run says it once, in
    the data's words."""
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    for extra in ([], ["--kfold", "2"]):
        assert main(["finetune", "--task", "af", "--data", str(perform_dir), "--init", "none",
                     "--config", str(cfg), "--epochs", "1", "--batch-size", "8",
                     "--out", str(tmp_path / f"r{len(extra)}"), *extra]) == 0
        err = capsys.readouterr().err
        assert "y holds no row" not in err
        assert err.count("the records give no O, ~ rhythm: the 4-class model's p_O, p_noisy "
                         "are never learnt") == 1


def test_cli_finetune_af_on_a_perform_folder(perform_dir, tmp_path) -> None:
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    run = tmp_path / "run"
    # the subjects' two folders given apart: their records pooled, as under their parent
    assert main(["finetune", "--task", "af", "--data", str(perform_dir / "af"),
                 str(perform_dir / "non_af"), "--init", "none",
                 "--config", str(cfg), "--epochs", "1", "--batch-size", "8", "--seed", "0",
                 "--out", str(run)]) == 0
    assert (run / "model.pt").exists() and (run / "rhythm" / "model.pt").exists()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["n"] == 16 and summary["skipped"] == []
    # predict: every window of the subjects, the binary and the 4-class model's columns
    table = tmp_path / "pred.csv"
    assert main(["predict", "--task", "af", "--data", str(perform_dir), "--model", str(run),
                 "--out", str(table)]) == 0
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 16 and list(rows[0]) == ["file", "record", "start_s", "p_af", "af",
                                                 "p_N", "p_A", "p_O", "p_noisy", "rhythm"]
    assert rows[0]["record"] == "mimic_perform_af_001" and float(rows[0]["start_s"]) >= 0
    for r in rows:
        p4 = [float(r[k]) for k in ("p_N", "p_A", "p_O", "p_noisy")]
        assert abs(sum(p4) - 1) < 1e-3 and 0 <= float(r["p_af"]) <= 1 and r["af"] in ("0", "1")
        # the rhythm agrees with the AF decision: A exactly when af is 1, else the most
        # probable of the other three classes
        best = max(p4[k] for k in range(4) if RHYTHMS[k] != "A")
        expected = {"A"} if r["af"] == "1" else {
            RHYTHMS[k] for k in range(4) if RHYTHMS[k] != "A" and p4[k] == best}
        assert r["rhythm"] in expected
    # read one record at a time (a folder too large for memory): the same table
    parts = tmp_path / "pred_parts.csv"
    res = predict_run("af", run, perform_dir, parts, records_per_part=1)
    again = list(csv.DictReader(parts.open()))
    assert res["n"] == 16 and res["skipped"] == [] and list(again[0]) == list(rows[0])
    # the model was fine-tuned on these subjects: said, as evaluate says it
    assert res["trained_on"]["n_groups"] == len(summary["train_groups"]) > 0
    # (a training row's own score can be the F1 threshold: its decision then rests on the
    # last bits, which batches of other sizes move)
    threshold = json.loads((run / "finetune.json").read_text())["protocol"]["threshold"]
    for r, q in zip(rows, again, strict=True):
        same = ("file", "record", "start_s") + (
            ("af", "rhythm") if abs(float(r["p_af"]) - threshold) > 1e-6 else ())
        assert [r[k] for k in same] == [q[k] for k in same]
        assert all(abs(float(r[k]) - float(q[k])) < 2e-4 for k in ("p_af", "p_N", "p_noisy"))
    assert main(["predict", "--task", "abp", "--data", str(perform_dir), "--model", str(run),
                 "--out", str(table)]) == 1  # a model of another task is refused


# ----------------------------------------------------------------------------- UCI cuff-less BP


def write_uci_part(path: Path, records: list[np.ndarray], var: str | None = None) -> Path:
    """A UCI part as a MATLAB v5 file: a 1 x n cell array of 3 x N matrices (PPG, ABP, ECG)."""
    cell = np.empty((1, len(records)), dtype=object)
    for i, m in enumerate(records):
        cell[0, i] = m
    savemat(path, {var or path.stem: cell})
    return path


def uci_record(seconds: float, sbp: float, dbp: float, seed: int, damp: bool = False) -> np.ndarray:
    rec = synthesize(seconds, FS, sbp=sbp, dbp=dbp, seed=seed)
    abp = rec.signals["abp"].astype(float)
    if damp:  # an over-damped line: the pulse shrinks to a fifth around the mean
        abp = abp.mean() + 0.2 * (abp - abp.mean())
    return np.stack([rec.signals["ppg"], abp, rec.signals["ecg_ii"]]).astype(float)


def test_uci_parts_give_bp_windows_close_to_the_truth(tmp_path) -> None:
    truth = [(105.0, 62.0), (128.0, 76.0), (150.0, 88.0)]
    write_uci_part(tmp_path / "Part_1.mat", [uci_record(65, s, d, seed=i)
                                              for i, (s, d) in enumerate(truth)])
    write_uci_part(tmp_path / "Part_2.mat", [
        uci_record(40, 118, 70, seed=7),
        uci_record(20, 120, 80, seed=8),  # shorter than one window
        uci_record(70, 120, 80, seed=9, damp=True),  # damped: rejected by bp_targets
    ])
    with pytest.warns(UserWarning, match="the UCI cuff-less BP parts name no patients: each "
                                         "record is its own group"):
        ds = build_task_dataset("abp", tmp_path)
    assert list(ds.record_ids) == ["Part_1_0001@0", "Part_1_0001@30", "Part_1_0002@0",
                                   "Part_1_0002@30", "Part_1_0003@0", "Part_1_0003@30",
                                   "Part_2_0001@0"]
    assert list(ds.groups) == [r.split("@")[0] for r in ds.record_ids]  # part + record index
    assert ds.mask.all() and ds.X.shape == (7, 2, 9000) and ds.y.dtype == np.float32
    expected = np.array([truth[0]] * 2 + [truth[1]] * 2 + [truth[2]] * 2 + [(118.0, 70.0)])
    np.testing.assert_allclose(ds.y, expected, atol=3.0)
    assert np.isnan(ds.features[:, ds.feature_names.index("abp_hr")]).all()  # target hidden
    assert ds.skipped == [{"record": str(tmp_path / "Part_2.mat"),
                           "reason": "2 of 3 records gave no 30 s window with a usable ECG II, "
                           "PPG and arterial line (first: Part_2_0002 (20.0 s), Part_2_0003; "
                           "damped arterial line (pulse pressure under 20 mmHg): 2 windows)"}]
    # max_records caps the parts and the records read from each part
    capped = build_task_dataset("abp", tmp_path, max_records=1)
    assert list(capped.record_ids) == ["Part_1_0001@0", "Part_1_0001@30"]
    # the original's window max/min rule is still an option
    mm = build_task_dataset("abp", tmp_path, bp_rule="max_min")
    assert (mm.y[:, 0] >= ds.y[:, 0] - 1e-3).all() and (mm.y[:, 1] <= ds.y[:, 1] + 1e-3).all()


def test_bad_uci_parts_are_named(tmp_path) -> None:
    good = tmp_path / "ok"
    good.mkdir()
    write_uci_part(good / "Part_1.mat", [uci_record(35, 120, 80, seed=0)])
    write_uci_part(good / "Part_2.mat", [uci_record(35, 120, 80, seed=1)[:2]])  # 2 x N
    # a bad record among good ones: the others still give windows, the bad one is named
    write_uci_part(good / "Part_5.mat", [uci_record(35, 120, 80, seed=3),
                                         uci_record(35, 120, 80, seed=4)[:2],
                                         uci_record(35, 120, 80, seed=5)])
    write_uci_part(good / "Part_3.mat", [uci_record(35, 120, 80, seed=2)], var="records")
    ds = build_task_dataset("abp", good)
    assert list(ds.groups) == ["Part_1_0001", "Part_5_0001", "Part_5_0003"]
    assert {"record": str(good / "Part_5.mat"), "reason": "record 2 of Part_5 has shape "
            "(2, 4375); expected 3 x N (rows PPG, ABP, ECG II)"} in ds.skipped
    assert any(e["record"] == str(good / "Part_2.mat")
               and e["reason"].startswith("record 1 of Part_2 has shape (2, ") for e in ds.skipped)
    assert any(e["record"] == str(good / "Part_3.mat")
               and e["reason"].startswith("no variable 'Part_3'") for e in ds.skipped)
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    write_uci_part(only_bad / "Part_4.mat", [uci_record(35, 120, 80, seed=0).T])  # N x 3
    with pytest.raises(RecordError, match=r"Part_4\.mat: record 1 of Part_4 has shape"):
        build_task_dataset("abp", only_bad)


def test_a_v73_part_without_h5py_is_an_error_not_a_skip(tmp_path, monkeypatch) -> None:
    part = tmp_path / "Part_1.mat"
    part.write_bytes(b"MATLAB 7.3 MAT-file".ljust(512, b" ") + b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"Part_1\.mat.*h5py"):
        build_task_dataset("abp", tmp_path)


def test_abp_from_wfdb_records_is_unchanged(tmp_path) -> None:
    rec = synthesize(65, 250.0, sbp=135, dbp=72, seed=3, record_id="rec1", patient_id="p1")
    write_wfdb(rec, tmp_path)
    ds = build_task_dataset("abp", tmp_path)
    assert list(ds.record_ids) == ["rec1@0", "rec1@30"] and list(ds.groups) == ["rec1", "rec1"]
    np.testing.assert_allclose(ds.y, [[135, 72]] * 2, atol=3.0)


def test_records_of_several_folders_are_pooled(tmp_path) -> None:
    wfdb_dir, uci_dir = tmp_path / "icu", tmp_path / "uci"
    write_wfdb(synthesize(65, 250.0, sbp=135, dbp=72, seed=3, record_id="rec1"), wfdb_dir)
    uci_dir.mkdir()
    write_uci_part(uci_dir / "Part_2.mat", [uci_record(35, 118, 70, seed=7)])
    write_uci_part(uci_dir / "Part_10.mat", [uci_record(35, 140, 85, seed=8)])
    ds = build_task_dataset("abp", [wfdb_dir, uci_dir, wfdb_dir], cache_dir=tmp_path / "cache")
    # each file once (the repeated folder adds nothing); UCI parts in part order
    assert list(ds.record_ids) == ["rec1@0", "rec1@30", "Part_2_0001@0", "Part_10_0001@0"]
    np.testing.assert_allclose(ds.y, [[135, 72]] * 2 + [[118, 70], [140, 85]], atol=3.0)
    one = build_task_dataset("abp", wfdb_dir)
    np.testing.assert_array_equal(ds.X[:2], one.X)
    # the cache key follows the pooled files: one folder alone is another entry
    build_task_dataset("abp", uci_dir, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2
    with pytest.raises(FileNotFoundError, match=r"nowhere"):
        build_task_dataset("abp", [wfdb_dir, tmp_path / "nowhere"])
    with pytest.raises(ValueError, match="no data directory"):
        build_task_dataset("abp", [])
    # a copy of a record in a second folder is named, not silently counted twice
    copy_dir = tmp_path / "copy"
    write_wfdb(synthesize(65, 250.0, sbp=135, dbp=72, seed=3, record_id="rec1"), copy_dir)
    with pytest.warns(UserWarning) as caught:
        build_task_dataset("abp", [wfdb_dir, copy_dir])
    said = [str(w.message) for w in caught if "record" in str(w.message)]
    assert len(said) == 1 and said[0].startswith(  # not also "in two formats"
        "1 record name(s) appear in more than one folder (rec1.hea)")


def test_compare_reads_several_folders_and_names_them(tmp_path) -> None:
    wfdb_dir, uci_dir = tmp_path / "icu", tmp_path / "uci"
    for i, (sbp, dbp) in enumerate([(135, 72), (100, 60)]):
        write_wfdb(synthesize(65, 250.0, sbp=sbp, dbp=dbp, seed=i, record_id=f"rec{i}"), wfdb_dir)
    uci_dir.mkdir()
    # enough rows for the grouped, quartile-stratified inner validation split of each fold
    write_uci_part(uci_dir / "Part_1.mat", [uci_record(35, 100 + 2 * i, 60 + i, seed=i)
                                             for i in range(36)])
    rows = compare_run("abp", [wfdb_dir, uci_dir], tmp_path / "cmp", baselines=("classical",),
                       kfold=2, n_boot=20)
    assert list(rows) == ["classical features + GBM"]
    assert rows["classical features + GBM"]["n"] == 40  # 2 x 2 WFDB windows + 36 UCI records
    table = (tmp_path / "cmp" / "table.md").read_text()
    assert f"({wfdb_dir}, {uci_dir})" in table and "No paired differences" not in table
    # a stopped comparison's finished row that this one does not run goes with its report
    old = tmp_path / "two" / ".folds" / "old_row"
    old.mkdir(parents=True)
    (tmp_path / "two" / "old_row.json").write_text("{}")
    (tmp_path / "two" / "notes.txt").write_text("mine")
    rows = compare_run("abp", [wfdb_dir, uci_dir], tmp_path / "two", kfold=2, n_boot=20,
                       baselines=("classical",), models=("r=none",), modes=("linear",))
    assert not (tmp_path / "two" / "old_row.json").exists() and not old.exists()
    assert (tmp_path / "two" / "notes.txt").read_text() == "mine"
    assert list(rows) == ["classical features + GBM", "r (linear)"]
    assert "delta_sbp_mae" not in rows["r (linear)"]  # no reference row: none is made up
    assert ("No paired differences: the default reference, `QualityFM from scratch`, is not "
            "a row here; `--reference ROW`") in (tmp_path / "two" / "table.md").read_text()


def test_abp_evaluate_replaces_an_earlier_report_and_names_the_windows(tmp_path,
                                                                      capsys) -> None:
    """evaluate into a folder of an earlier (af) evaluation: the old report's ROC and
    confusion plots go, unrelated files stay; abp predictions carry their window ids; an
    --out without .json is refused before the model or records are read."""
    data = tmp_path / "icu"
    for i in range(12):  # two 30-s windows each: enough for the grouped validation split
        write_wfdb(synthesize(65, 250.0, sbp=100 + 4 * i, dbp=60 + 2 * i, seed=i,
                              record_id=f"rec{i:02d}"), data)
    run, ev = tmp_path / "run", tmp_path / "ev"
    assert main(["finetune", "--task", "abp", "--data", str(data), "--init", "classical",
                 "--out", str(run)]) == 0
    ev.mkdir()
    old = ["results_roc.png", "results_confusion.png", "results.md", "results.json"]
    mine = ["mine.png", "results_mine.png", "other_roc.png", "results"]
    for name in old + mine:
        (ev / name).write_text("earlier")
    (ev / "results.json").write_text('{"task": "af", "model": "an earlier run", '
                                     '"predictions": {}}')  # a report
    (ev / "results.md").write_text("| model | auroc |\n")  # and its table
    assert main(["evaluate", "--task", "abp", "--data", str(data), "--model", str(run),
                 "--out", str(ev / "results.json")]) == 0
    assert sorted(p.name for p in ev.iterdir()) == sorted(
        ["results.json", "results.md", "results_bland_altman_sbp.png",
         "results_bland_altman_dbp.png", *mine])
    assert all((ev / name).read_text() == "earlier" for name in mine)
    pr = json.loads((ev / "results.json").read_text())["predictions"]
    ids = build_task_dataset("abp", data).record_ids.tolist()
    assert pr["record_ids"] == ids and len(ids) == len(pr["y"]) == 24 and ids[1] == "rec00@30"
    capsys.readouterr()
    for model in (run, tmp_path / "nowhere"):  # the suffix is named before the model is read
        assert main(["evaluate", "--task", "abp", "--data", str(data), "--model", str(model),
                     "--out", str(tmp_path / "evout")]) == 1
        assert f"evaluate output {tmp_path / 'evout'} must end in .json" in (
            capsys.readouterr().err)
    assert not any(p.name.startswith("evout") for p in tmp_path.iterdir())


def test_bp_rule_reaches_the_command_line_and_evaluate_keeps_the_runs(tmp_path,
                                                                      capsys) -> None:
    """--bp-rule max_min takes abp's targets as the original did (the window's max and min);
    evaluate takes them as the run did unless told; the flag is refused for another task."""
    data = tmp_path / "icu"
    for i in range(12):
        write_wfdb(synthesize(65, 250.0, sbp=100 + 4 * i, dbp=60 + 2 * i, seed=i,
                              record_id=f"rec{i:02d}"), data)
    run, ev = tmp_path / "run", tmp_path / "ev.json"
    assert main(["finetune", "--task", "abp", "--data", str(data), "--init", "classical",
                 "--bp-rule", "max_min", "--out", str(run)]) == 0
    assert json.loads((run / "summary.json").read_text())["settings"]["bp_rule"] == "max_min"
    assert main(["evaluate", "--task", "abp", "--data", str(data), "--model", str(run),
                 "--out", str(ev)]) == 0
    y = np.array(json.loads(ev.read_text())["predictions"]["y"])
    np.testing.assert_allclose(y, build_task_dataset("abp", data, bp_rule="max_min").y)
    beats = build_task_dataset("abp", data).y
    assert (y[:, 0] > beats[:, 0]).all() and (y[:, 1] < beats[:, 1]).all()
    assert "--bp-rule" not in capsys.readouterr().err
    assert main(["evaluate", "--task", "abp", "--data", str(data), "--model", str(run),
                 "--bp-rule", "beat_median", "--out", str(ev)]) == 0  # told, not silent
    assert ("warning: --bp-rule beat_median: the model was fitted to max_min targets"
            in capsys.readouterr().err)
    assert json.loads(ev.read_text())["bp_rule"] == "beat_median"
    assert main(["finetune", "--task", "af", "--data", str(data), "--bp-rule", "max_min",
                 "--out", str(tmp_path / "af")]) == 1
    assert ("--bp-rule sets the blood-pressure targets of --task abp; --task af has none"
            in capsys.readouterr().err)
    assert not (tmp_path / "af").exists()


def test_long_af_records_of_one_patient_keep_their_names_and_numeric_starts(tmp_path) -> None:
    """Two long records in one patient's folder: each window is named by its record (they had
    been named by the patient, so the two records could not be told apart), and predict's
    start_s is a number from the dataset's starts, not parsed out of the id (a record named
    'bed7@icu2' had been split into record 'bed7', start 'icu2')."""
    from qualityfm.tasks import ClassicalBaseline
    from qualityfm.tasks.pipeline import _prediction_table

    folder = tmp_path / "p000123"
    folder.mkdir()
    for name, seconds, seed in (("rec0", 95.0, 0), ("rec1", 95.0, 1), ("bed7@icu2", 20.0, 2)):
        ecg = synthesize(seconds, fs=250.0, seed=seed, channels=("ecg_ii",)).signals["ecg_ii"]
        np.savez(folder / f"{name}.npz", fs=250.0, II=ecg)
    ds = build_task_dataset("af", tmp_path, labels=False)
    assert sorted(ds.record_ids.tolist()) == [
        "bed7@icu2", "rec0@0", "rec0@30", "rec0@60", "rec1@0", "rec1@30", "rec1@60"]
    assert set(ds.groups.tolist()) == {"p000123"}
    by_id = dict(zip(ds.record_ids.tolist(), ds.starts.tolist(), strict=True))
    assert by_id["rec1@60"] == 60.0 and np.isnan(by_id["bed7@icu2"])
    rng = np.random.default_rng(0)
    f = rng.normal(size=(40, ds.features.shape[1])).astype(np.float32)
    est = ClassicalBaseline("af", crossfit=None, max_iter=5).fit(
        None, np.arange(40) % 2, groups=np.arange(40), features=f)
    table = _prediction_table("af", est, None, ds)
    rows = sorted(zip(table["record"], table["start_s"], strict=True), key=str)
    assert [r for r, _ in rows] == ["bed7@icu2", "rec0", "rec0", "rec0", "rec1", "rec1", "rec1"]
    assert np.isnan(rows[0][1]) and [t for _, t in rows[1:4]] == [0.0, 30.0, 60.0]
    ds.save(tmp_path / "ds.npz")  # the cache keeps the starts
    np.testing.assert_array_equal(type(ds).load(tmp_path / "ds.npz").starts, ds.starts)
    assert sorted({Path(f).name for f in table["file"]}) == ["bed7@icu2.npz", "rec0.npz",
                                                              "rec1.npz"]
    np.testing.assert_array_equal(type(ds).load(tmp_path / "ds.npz").sources, ds.sources)
    np.testing.assert_array_equal(ds.subset(np.array([1, 2])).starts, ds.starts[[1, 2]])


def test_windows_left_out_are_listed_with_their_reason(tmp_path, capsys) -> None:
    """A window that gives no row (af: no usable channel; abp: no usable ECG II and PPG, or no
    target) is listed under ``left_out`` with its reason and file, kept by the task cache and
    counted on stderr by the task verbs; it had been dropped without a word (``skipped``
    empty, the window missing from predict's table), then named by its record id alone."""
    from qualityfm.tasks.pipeline import note_left_out

    af_dir, abp_dir = tmp_path / "af", tmp_path / "abp"
    write_perform_wfdb(af_dir, "mimic_perform_af_001", 95, seed=1)
    rec = synthesize(95, 250.0, sbp=135, dbp=72, seed=3, record_id="rec1")
    gap = {c: v.copy() for c, v in rec.signals.items()}
    for c in ("ecg_ii", "ppg"):
        gap[c][int(30 * 250):int(60 * 250)] = np.nan
    write_wfdb(Record("rec1", gap, rec.fs, units=rec.units), abp_dir)
    af = Record("mimic_perform_af_001", *_blank(af_dir / "mimic_perform_af_001.hea", 30, 60))
    write_wfdb(af, af_dir)
    for task, folder, kept, reason in [
            ("af", af_dir, ["mimic_perform_af_001@0", "mimic_perform_af_001@60"],
             "no usable ECG or PPG"),
            ("abp", abp_dir, ["rec1@0", "rec1@60"], "ECG II or PPG flat or over")]:
        for cache in (None, tmp_path / "cache", tmp_path / "cache"):  # built, saved, loaded
            ds = build_task_dataset(task, folder, cache_dir=cache)
            assert list(ds.record_ids) == kept and ds.skipped == []
            assert [e["window"] for e in ds.left_out] == [kept[0].replace("@0", "@30")]
            assert ds.left_out[0]["reason"].startswith(reason)
            # the file, so that two folders' records of one name are told apart
            assert ds.left_out[0]["file"] == str(folder / f"{kept[0][:-2]}.hea")
    note_left_out(ds.left_out)
    err = capsys.readouterr().err
    assert "qualityfm: left out 1 window of the records read (ECG II or PPG flat or over " in err
    assert err.endswith("each is listed under 'left_out' in the run's JSON\n")
    note_left_out(ds.left_out, "eval/results.json")  # evaluate's: in its report
    assert capsys.readouterr().err.endswith("under 'left_out' in eval/results.json\n")


def test_a_window_left_out_names_its_file_as_each_run_spells_it(tmp_path, monkeypatch) -> None:
    """The task cache keeps absolute paths: a left-out window's file had come back as the
    first run's spelling (relative, pointing nowhere from another folder), where its rows'
    files and skipped records follow each run's."""
    rec = synthesize(95, 250.0, sbp=135, dbp=72, seed=3, record_id="rec1")
    gap = {c: v.copy() for c, v in rec.signals.items()}
    for c in ("ecg_ii", "ppg"):
        gap[c][int(30 * 250):int(60 * 250)] = np.nan
    write_wfdb(Record("rec1", gap, rec.fs, units=rec.units), tmp_path / "some")
    monkeypatch.chdir(tmp_path)
    cache = tmp_path / "cache"
    ds = build_task_dataset("abp", "some", cache_dir=cache)  # built and saved
    assert ds.left_out[0]["file"] == str(Path("some") / "rec1.hea")
    ds = build_task_dataset("abp", tmp_path / "some", cache_dir=cache)  # loaded
    assert ds.left_out[0]["file"] == str(tmp_path / "some" / "rec1.hea")


def _blank(header: Path, start: float, stop: float) -> tuple[dict, dict]:
    """The signals and rates of a WFDB record, ECG and PPG blank (NaN) over ``start``-``stop``
    s."""
    from qualityfm.io import read_record

    rec = read_record(header)
    signals = {c: v.copy() for c, v in rec.signals.items()}
    for c in ("ecg_ii", "ppg"):
        fs = rec.fs[c]
        signals[c][int(start * fs):int(stop * fs)] = np.nan
    return signals, rec.fs


def test_a_uci_record_copied_into_another_part_shares_its_group(tmp_path) -> None:
    """A record of one UCI part copied into another had stayed a group of its own (each
    part's rows were compared as a whole), so a split could put the copy on each side."""
    first = uci_record(65, 120, 75, seed=1)
    write_uci_part(tmp_path / "Part_1.mat", [first, uci_record(65, 140, 85, seed=5)])
    write_uci_part(tmp_path / "Part_2.mat", [uci_record(65, 110, 70, seed=6), first.copy()])
    with pytest.warns(UserWarning, match=r"records hold signals of another, whole or shifted in "
                                         r"time \(1 join\(s\): Part_2_0002 of .*Part_2\.mat as "
                                         r"Part_1_0001 of .*Part_1\.mat\)"):
        ds = build_task_dataset("abp", tmp_path)
    group = dict(zip(ds.record_ids.tolist(), ds.groups.tolist(), strict=True))
    assert group["Part_2_0002@0"] == group["Part_2_0002@30"] == "Part_1_0001"
    assert len({group["Part_1_0002@0"], group["Part_2_0001@0"], "Part_1_0001"}) == 3


def test_an_abp_record_shorter_than_a_window_says_so(tmp_path) -> None:
    """Its skip had read "no 30 s window with a usable arterial line", blaming a clean line."""
    rec = synthesize(25.0, 250.0, seed=0, record_id="short25")
    write_wfdb(rec, tmp_path)
    write_wfdb(synthesize(65.0, 250.0, seed=1, record_id="long65"), tmp_path)
    short_abp = synthesize(65.0, 250.0, seed=2, record_id="abp25")  # its arterial line 25 s
    np.savez(tmp_path / "abp25.npz", fs=250.0, II=short_abp.signals["ecg_ii"],
             PLETH=short_abp.signals["ppg"], ABP=short_abp.signals["abp"][:25 * 250])
    ds = build_task_dataset("abp", tmp_path)
    said = "no 30 s window with a usable ECG II, PPG and arterial line (record of 25.0 s)"
    assert ds.skipped == [{"record": str(tmp_path / "abp25.npz"), "reason": said},
                          {"record": str(tmp_path / "short25.hea"), "reason": said}]
    uci = tmp_path / "uci"
    uci.mkdir()
    write_uci_part(uci / "Part_1.mat", [uci_record(20, 120, 80, seed=0),
                                        uci_record(65, 120, 80, seed=1)])
    with pytest.warns(UserWarning, match="name no patients"):
        ds = build_task_dataset("abp", uci)
    assert ds.skipped == [{"record": str(uci / "Part_1.mat"),
                           "reason": "1 of 2 records gave no 30 s window with a usable ECG II, PPG "
                                     "and arterial line (first: Part_1_0001 (20.0 s))"}]
    # a flat PPG: its reason counted, the arterial line not blamed (a part's error had given
    # no reason, a record's had wanted a usable arterial line of a clean one)
    flat = uci_record(65, 120, 80, seed=3)
    flat[0] = 1.0
    write_uci_part(uci / "Part_1.mat", [flat])
    with pytest.raises(RecordError, match=r"Part_1\.mat: none of its 1 records has a 30 s window "
                                          r"with a usable ECG II, PPG and arterial line \(first: "
                                          r"Part_1_0001; ECG II or PPG flat or over 20% "
                                          r"missing: 2 windows\)"):
        build_task_dataset("abp", uci)
