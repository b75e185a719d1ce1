"""Batch inference on files: score, embed and ONNX export, on synthetic and real records."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import shared_path
from qualityfm.cli import main
from qualityfm.inference import (
    embed_files,
    embed_windows,
    export_onnx,
    learned_quality,
    score_files,
)
from qualityfm.inference.score import SCORE_COLUMNS, batches, write_table
from qualityfm.io import Record, read_record, write_wfdb
from qualityfm.model import QualityFM, QualityFMConfig, pooled_dim
from qualityfm.signal import WindowConfig, corrupt, synthesize


def test_write_wfdb_round_trip(tmp_path: Path) -> None:
    rec = synthesize(20.0, fs=250.0, seed=3, record_id="rt")
    rec.labels.update(alarm_type="Ventricular_Tachycardia", alarm_true=False)
    back = read_record(write_wfdb(rec, tmp_path))
    assert back.channels == rec.channels and back.fs == rec.fs
    # labelled without an alarm time: the buffer ends at its alarm (not the Challenge's 300 s)
    assert back.labels["alarm_true"] is False and back.events["alarm"] == 20.0
    for c in rec.channels:
        tol = 2e-3 * np.ptp(rec.signals[c])
        np.testing.assert_allclose(back.signals[c], rec.signals[c], atol=tol)
    assert not list(tmp_path.glob(".write-*"))  # temporary folder removed


def test_score_files_rows_levels_and_skips(records: Path, tmp_path: Path,
                                           tiny_model: QualityFM) -> None:
    out = tmp_path / "scores.csv"
    summary = score_files([records], out, model=tiny_model)
    rows = list(csv.DictReader(out.open()))
    assert summary["n_records"] == 2 and summary["n_windows"] == len(rows) == 3 + 2
    assert [s["record"] for s in summary["skipped"]] == [str(records / "broken.hea")]
    by_record: dict[str, list[dict]] = {}
    for r in rows:
        by_record.setdefault(r["record"], []).append(r)
    clean = np.mean([float(r["sqi"]) for r in by_record["clean"]])
    noisy = np.mean([float(r["sqi"]) for r in by_record["noisy"]])
    assert clean > noisy + 0.2
    assert all(np.isfinite(float(r["learned_quality"])) for r in rows)
    assert {r["level_name"] for r in rows} <= {"bad", "poor", "acceptable", "good", "excellent"}


def test_scoring_with_the_indices_alone_does_not_import_torch(records: Path,
                                                              tmp_path: Path) -> None:
    """`qualityfm score` without --model computes the signal-quality indices only: torch
    (seconds to import) loads with a model, not for a monitor's per-file scoring."""
    import subprocess
    import sys

    out = tmp_path / "scores.csv"
    out.write_text("file,record,start_s,ecg_sqi,ppg_sqi,sqi,level,level_name\n")  # an earlier
    # table of its own: told without torch
    code = ("import sys; from qualityfm.cli import main; "
            f"code = main(['score', {str(records)!r}, '--out', {str(out)!r}]); "
            "print(code, 'torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=300)
    assert result.stdout.strip().splitlines()[-1] == "0 False"
    assert len(list(csv.DictReader(out.open()))) == 5
    import qualityfm
    import qualityfm.data
    import qualityfm.inference

    # the names that load on first use are listed as any other
    assert {"score_files", "embed_files", "FileWindows"} <= set(dir(qualityfm.inference))
    assert {"Finetuner", "load", "__version__"} <= set(dir(qualityfm))
    assert "PairDataset" in dir(qualityfm.data)


def test_score_files_names_records_as_read_record_does_and_reports_bad_files(
        records: Path, tmp_path: Path) -> None:
    (records / "junk.txt").write_text("not a record")
    (records / "broken.hea").write_text("v111l 4 abc\ngarbage\n")  # header overwritten
    inputs = [records / "clean.dat", records / "noisy", records / "junk.txt", records]
    summary = score_files(inputs, tmp_path / "s.csv")
    rows = list(csv.DictReader((tmp_path / "s.csv").open()))
    assert [r["record"] for r in rows[:5]] == ["clean"] * 3 + ["noisy"] * 2
    reasons = {Path(s["record"]).name: s["reason"] for s in summary["skipped"]}
    assert set(reasons) == {"junk.txt", "broken.hea"}
    assert "unsupported file type '.txt'" in reasons["junk.txt"]
    assert ".hea" in reasons["junk.txt"] and ".npz" in reasons["junk.txt"]
    # the reason alone, as the other batch verbs list theirs (the path is the entry's record)
    assert reasons["broken.hea"].startswith("corrupt WFDB header")


def test_bad_batch_sizes_and_output_suffixes_are_refused_before_any_work(
        records: Path, tmp_path: Path, tiny_model: QualityFM,
        capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(ValueError, match="batch size must be a whole number >= 1, got 0"):
        batches(10, 0)
    with pytest.raises(ValueError, match="batch size must be a whole number >= 1, got 2.5"):
        batches(10, 2.5)  # (had failed in range())
    x = np.zeros((3, 2, 9000), np.float32)
    mask = np.ones((3, 2), dtype=bool)
    for fn in (learned_quality, embed_windows):
        with pytest.raises(ValueError, match="got -1"):
            fn(tiny_model, x, mask, batch_size=-1)
    record = str(records / "clean.hea")
    for argv in (["embed", record, "--out", str(tmp_path / "e.npy"), "--batch-size", "-1"],
                 ["score", record, "--model", "pretrained", "--batch-size", "0",
                  "--out", str(tmp_path / "s.csv")]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        assert "argument --batch-size: must be >= 1" in capsys.readouterr().err
    # an unknown table suffix: refused before the model is loaded or a file read
    out = tmp_path / "s.xlsx"
    assert main(["score", record, "--model", str(tmp_path / "no_model"), "--out", str(out)]) == 1
    assert f"score output {out} must end in .csv or .parquet" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"s\.xlsx must end in \.csv or \.parquet"):
        score_files([records], out)
    with pytest.raises(ValueError, match=r"t\.txt must end in \.csv or \.parquet"):
        write_table([], SCORE_COLUMNS, tmp_path / "t.txt")
    assert not out.exists() and not (tmp_path / "t.txt").exists()
    assert not list(tmp_path.glob("*.npy"))


def test_learned_quality_is_a_bounded_correlation(tiny_model: QualityFM) -> None:
    model = tiny_model
    x = np.stack([synthesize(30.0, seed=s).signals["ppg"][:9000] for s in range(2)])
    x = np.stack([x, x], axis=1).astype(np.float32)
    x /= np.abs(x).max()
    mask = np.ones(x.shape[:2], dtype=bool)
    q = learned_quality(model, x, mask, batch_size=1)
    assert q.shape == (2,) and np.all(np.abs(q) <= 1.0 + 1e-5)
    # Pearson's correlation of the decoder's spectra with the windows' own, channel-averaged
    # (it had been that times (n - 1) / n)
    from qualityfm.losses import SpectralLoss

    with torch.no_grad():
        amp = model.eval()(torch.from_numpy(x), torch.from_numpy(mask))["amp"].numpy()
        own = SpectralLoss(n_bins=model.cfg.n_bins).targets(torch.from_numpy(x))[0].numpy()
    pearson = [np.mean([np.corrcoef(amp[i, c], own[i, c])[0, 1] for c in range(2)])
               for i in range(2)]
    np.testing.assert_allclose(q, pearson, atol=1e-5)
    noisy = corrupt(x, 300.0, np.random.default_rng(0), kinds=["noise"], strength=1.0)
    assert not np.allclose(learned_quality(model, noisy.astype(np.float32), mask), q)
    model.train()  # the caller's mode is left as it was; a list mask is read as booleans
    assert np.allclose(learned_quality(model, x, mask.tolist()), q, atol=1e-5) and model.training
    model.eval()
    absent = np.array([[True, False], [True, True]])
    x_nan = x.copy()
    x_nan[0, 1] = np.nan  # an absent channel's values, NaN too, do not matter
    np.testing.assert_allclose(learned_quality(model, x_nan, absent),
                               learned_quality(model, np.where(absent[..., None], x, 0), absent))
    assert np.isfinite(learned_quality(model, x_nan, absent)).all()
    with pytest.warns(UserWarning, match="far outside"):
        learned_quality(model, x * 500, mask)
    x[0, 1, 7] = np.inf
    with pytest.raises(ValueError, match="channel ecg_ii: rows 0"):
        learned_quality(model, x, mask)


def test_embed_windows_checks_its_windows_as_the_model_does(tiny_model: QualityFM) -> None:
    """float64 windows (numpy's default) had failed inside torch, NaN had given NaN
    embeddings, and a missing mask a TypeError: they are read, refused or filled in as
    ``QualityFM.embed`` and ``learned_quality`` do."""
    model = tiny_model
    x = np.stack([synthesize(30.0, seed=s).signals["ppg"][:9000] for s in range(3)])
    x = np.stack([x, x], axis=1)
    x /= np.abs(x).max()
    mask = np.ones(x.shape[:2], dtype=bool)
    ref = embed_windows(model, x.astype(np.float32), mask)
    np.testing.assert_array_equal(embed_windows(model, x, mask), ref)  # float64
    np.testing.assert_array_equal(embed_windows(model, x.tolist(), None), ref)
    with pytest.raises(ValueError, match=r"got shape \(2, 9000\); one window is x\[None\]"):
        embed_windows(model, x[0], mask[0])  # the shape given, not that of a slice of it
    with pytest.raises(ValueError, match=r"windows of 2 samples \(0.006667 s at the model's "
                                         r"300 Hz\): it reads windows of 1 s"):
        embed_windows(model, x[:, :, :2], mask)  # (one token of padding had been embedded)
    assert embed_windows(model, x[:, :, :300], mask).shape == ref.shape
    model.train()
    embed_windows(model, x, mask)
    assert model.training  # left in the mode it was in
    from qualityfm.inference.score import eval_mode

    with eval_mode(model):  # two callers at once (threads): the mode before comes back when
        with eval_mode(model):  # the last leaves (the first had put a train-mode model back
            assert not model.training  # while the second ran, which then left it in eval)
        assert not model.training
    assert model.training
    model.eval()
    with pytest.raises(ValueError, match=r"windows of 10 samples \(0.03333 s at the model's "
                                         r"300 Hz\): it reads windows of 1 s"):
        model.embed(torch.as_tensor(x[:, :, :10]), torch.as_tensor(mask))  # as embed_windows
    wide = tiny_model.double()  # a model cast to float64: its windows cast alike (a torch
    np.testing.assert_allclose(embed_windows(wide, x, mask), ref, atol=1e-5)  # error had)
    model.float()
    bad = x.copy()
    bad[1, 0, 5] = np.nan
    with pytest.raises(ValueError, match=r"channel ppg: rows 1\b"):
        embed_windows(model, bad, mask)
    with pytest.raises(ValueError, match=r"input must be \[batch, 2, samples\], got shape "
                                         r"\(3, 1, 9000\)$"):  # (it had said (0, 1, 9000))
        embed_windows(model, x[:, :1], mask[:, :1])
    with pytest.raises(ValueError, match=r"got shape \(3, 9000, 2\) \(channels last\?"):
        embed_windows(model, x.transpose(0, 2, 1), None)
    read_only = x.astype(np.float32)
    read_only.flags.writeable = False  # as a memory map: no torch warning (it had one)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*not writable")
        np.testing.assert_array_equal(embed_windows(model, read_only, mask), ref)
        learned_quality(model, read_only, mask)
    with pytest.raises(ValueError, match="mask has 2 rows, the windows 3"):
        embed_windows(model, x, mask[:2])
    with pytest.raises(ValueError, match=r"mask must be bool \(or 0/1\)"):
        embed_windows(model, x, np.full(mask.shape, 0.3))
    with pytest.raises(ValueError, match=r"input must be \[batch, 2, samples\]"):
        embed_windows(model, x[:, 0], None)
    with pytest.warns(UserWarning, match="far outside"):
        embed_windows(model, x * 500, mask)
    none = mask.copy()
    none[2] = False  # no channel: the embedding would come from the absent-channel vectors
    with pytest.raises(ValueError, match=r"1 window\(s\) have no channel present \(mask all "
                                         r"False; rows 2\)"):
        embed_windows(model, x, none)
    # no mask: a missing PPG filled with zeros is absent (it had been read as a flat PPG)
    zeros = x.copy()
    zeros[:, 0] = 0.0
    ecg_only = mask.copy()
    ecg_only[:, 0] = False
    np.testing.assert_array_equal(embed_windows(model, zeros, None),
                                  embed_windows(model, x, ecg_only))
    assert not np.array_equal(embed_windows(model, zeros, mask),
                              embed_windows(model, x, ecg_only))
    np.testing.assert_allclose(  # QualityFM.embed reads a missing mask alike
        model.embed(torch.from_numpy(zeros.astype(np.float32))).detach().numpy(),
        embed_windows(model, zeros, None), atol=1e-5)
    zeros[1] = 0.25  # flat in every channel
    with pytest.raises(ValueError, match=r"1 window\(s\) have no channel present \(every "
                                         r"channel flat, no mask given; rows 1\)"):
        embed_windows(model, zeros, None)


def test_embed_files_npy_and_index(records: Path, tmp_path: Path, tiny_model: QualityFM) -> None:
    out = tmp_path / "emb.npy"
    model = tiny_model
    summary = embed_files([records], out, model)
    emb = np.load(out)
    index = list(csv.DictReader(out.with_suffix(".index.csv").open()))
    assert emb.shape == (summary["n_windows"], 120) == (len(index), 120)
    assert np.isfinite(emb).all() and not np.allclose(emb[0], emb[-1])
    with pytest.raises(ValueError, match="must end in .npy or .parquet"):
        embed_files([records], tmp_path / "emb.txt", model)
    # pool: the mean of the tokens first, then the last token and the stem's statistics
    wide = tmp_path / "wide.npy"
    summary = embed_files([records], wide, model, pool="mean+last+stem")
    w = np.load(wide)
    assert w.shape[1] == summary["dim"] == pooled_dim(model.encoder, "mean+last+stem") > 2 * 120
    np.testing.assert_allclose(w[:, :120], emb, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="'max'"):
        embed_files([records], tmp_path / "bad.npy", model, pool="max")
    assert not (tmp_path / "bad.npy").exists()


def test_a_run_without_windows_keeps_earlier_results(records: Path, tmp_path: Path,
                                                    tiny_model: QualityFM, capsys) -> None:
    """A record reached twice (its folder and its file) is read once; a run that scores no
    window writes nothing over the results of an earlier one."""
    table, emb = tmp_path / "scores.csv", tmp_path / "emb.npy"
    once = score_files([records, records / "clean.hea"], table)
    assert once["n_records"] == 2 and once["n_windows"] == 5
    embed_files([records], emb, tiny_model)
    before = [p.read_bytes() for p in (table, emb, emb.with_suffix(".index.csv"))]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert score_files([empty], table)["out"] is None
    assert embed_files([empty], emb, tiny_model)["out"] is None
    capsys.readouterr()
    assert main(["score", str(empty), "--out", str(table)]) == 1
    assert f"no window to score; {table} was not written" in capsys.readouterr().err
    # model settings without a model would do nothing: refused, the table untouched
    assert main(["score", str(records), "--out", str(table), "--precision", "bf16"]) == 1
    assert ("--precision sets how the model runs: give --model"
            in capsys.readouterr().err)
    assert main(["score", str(records), "--out", str(table), "--device", "cpu"]) == 1
    assert "--device sets how the model runs: give --model" in capsys.readouterr().err
    assert main(["embed", str(empty), "--model", "pretrained", "--out", str(emb)]) == 1
    assert f"no window to embed; {emb} was not written" in capsys.readouterr().err
    assert [p.read_bytes() for p in (table, emb, emb.with_suffix(".index.csv"))] == before


def test_cli_score_on_real_records(tmp_path: Path, capsys) -> None:
    vt = shared_path("physionet2015_vt")
    out = tmp_path / "real.csv"
    assert main(["score", str(vt / "v100s.hea"), str(vt / "v101l.hea"), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 10 + 11  # 300-s and 330-s records, 30-s windows
    sqi = np.array([float(r["sqi"]) for r in rows])
    assert np.all((sqi >= 0) & (sqi <= 1))
    # a clean ECG at about 130 bpm: bad beats by QualityFM's 40-120 bpm rule, good with --hr-max
    tachy = shared_path("wfdb_samples", "03700181.hea")
    ecg = {}
    for extra in ([], ["--hr-max", "250"]):
        assert main(["score", str(tachy), "--out", str(out), *extra]) == 0
        ecg[len(extra)] = np.array([float(r["ecg_sqi"]) for r in csv.DictReader(out.open())])
    assert ecg[0].max() < 0.1 and ecg[2].min() > 0.9
    with pytest.raises(SystemExit):  # named as the option's fault, not RRRules'
        main(["score", str(tachy), "--out", str(out), "--hr-max", "30"])
    assert "argument --hr-max: must be above the lowest normal rate, 40 bpm" in (
        capsys.readouterr().err)


def test_onnx_export_matches_pytorch(tmp_path: Path, tiny_model: QualityFM) -> None:
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    model = tiny_model
    head = torch.nn.Linear(120, 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = export_onnx(model, tmp_path / "enc.onnx", head=head)
    assert not [w for w in caught if issubclass(w.category, torch.jit.TracerWarning)]
    assert Path(res["out"]).exists()
    assert res["max_abs_diff"] is not None and res["max_abs_diff"] < 1e-4
    json.dumps(res)



def test_parquet_tables_for_score_and_embed(records: Path, tmp_path: Path,
                                            tiny_model: QualityFM) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow", reason="pyarrow is not installed (extra: parquet)")
    model = tiny_model
    score_files([records], tmp_path / "s.parquet", model=model)
    scores = pd.read_parquet(tmp_path / "s.parquet")
    assert len(scores) == 5 and scores["learned_quality"].notna().all()
    embed_files([records], tmp_path / "e.parquet", model)
    table = pd.read_parquet(tmp_path / "e.parquet")
    assert len(table) == 5 and {"record", "sqi", "e0", "e119"} <= set(table.columns)
    assert table["e0"].dtype == np.float32  # as the .npy holds them (they had been float64)
    embed_files([records], tmp_path / "e.npy", model)
    np.testing.assert_array_equal(table[[f"e{j}" for j in range(120)]].to_numpy(),
                                  np.load(tmp_path / "e.npy"))


def test_a_sensor_off_is_a_bad_window_not_an_absent_channel(tmp_path: Path,
                                                            tiny_model: QualityFM) -> None:
    """A PPG the record holds but that is flat in a window scores 0 there (the window no
    longer rates as its clean ECG alone), and a window with no usable channel is a bad row
    with its reason, counted by score and embed, not dropped without a trace."""
    rec = synthesize(90.0, fs=250.0, seed=1, channels=("ecg_ii", "ppg"))
    ecg, ppg = rec.signals["ecg_ii"].copy(), rec.signals["ppg"].copy()
    ppg[: 30 * 250] = ppg[0]  # 0-30 s: PPG sensor off, ECG clean
    ecg[30 * 250: 60 * 250] = np.nan  # 30-60 s: both off
    ppg[30 * 250: 60 * 250] = np.nan
    folder = tmp_path / "in"
    folder.mkdir()
    np.savez(folder / "rec.npz", fs=250.0, II=ecg, PLETH=ppg)
    out = tmp_path / "s.csv"
    summary = score_files([folder], out)
    rows = list(csv.DictReader(out.open()))
    assert summary["n_windows"] == len(rows) == 3 and summary["n_unusable"] == 1
    assert [float(r["start_s"]) for r in rows] == [0.0, 30.0, 60.0]
    off, none, clean = rows
    assert float(off["ppg_sqi"]) == 0.0 and float(off["ecg_sqi"]) > 0.8
    assert float(off["sqi"]) <= 0.5 < float(clean["sqi"]) and off["unusable"] == "ppg: flat"
    assert none["level_name"] == "bad" and float(none["sqi"]) == 0.0
    assert float(none["ecg_sqi"]) == float(none["ppg_sqi"]) == 0.0  # both recorded, both off
    assert "ecg_ii: 100% NaN" in none["unusable"] and "ppg: 100% NaN" in none["unusable"]
    assert clean["unusable"] == "" and float(clean["ppg_sqi"]) > 0.5
    emb = embed_files([folder], tmp_path / "e.npy", tiny_model)
    assert emb["n_windows"] == 2 and emb["n_unusable"] == 1
    # a record whose every window is off: bad rows in score (an ECG off, a PPG absent), in
    # embed nothing to embed, its windows counted as unusable (it had been skipped)
    np.savez(folder / "off.npz", fs=250.0, II=np.zeros(60 * 250))
    summary = score_files([folder], out, model=tiny_model)
    rows = list(csv.DictReader(out.open()))
    # the learned quality counts the PPG off as its worst score, -1 (the SQI as 0)
    from qualityfm.inference import learned_quality
    from qualityfm.inference.windows import iter_file_windows, model_window

    [win] = list(iter_file_windows([folder / "rec.npz"], model_window(tiny_model.cfg)))
    own = learned_quality(tiny_model, win.x, win.mask)
    got = [float(r["learned_quality"]) for r in rows if r["record"] == "rec"]
    np.testing.assert_allclose([got[0], got[2]], [(own[0] - 1) / 2, own[1]], rtol=1e-5)
    assert got[1] == -1.0  # both sensors off: the worst, as one off beside a usable one (NaN
    # had made a window look better, out of means, the more sensors were off)
    off = [r for r in rows if r["record"] == "off"]
    assert summary["skipped"] == [] and [float(r["start_s"]) for r in off] == [0.0, 30.0]
    assert all(r["level_name"] == "bad" and r["unusable"] == "ppg: absent; ecg_ii: flat"
               and float(r["ecg_sqi"]) == 0.0 and r["ppg_sqi"] in ("", "nan")
               and float(r["learned_quality"]) == -1.0 for r in off)
    emb = embed_files([folder], tmp_path / "e.npy", tiny_model)
    assert emb["skipped"] == [] and emb["n_records"] == 2
    assert emb["n_windows"] == 2 and emb["n_unusable"] == 3


def test_files_a_folder_passes_over_are_named_beside_its_records(tmp_path: Path) -> None:
    """A folder of records that also holds a .npy, a CSV of samples without a time column
    and an .edf: score and prepare name them under 'skipped' with what to do; a table of
    labels (REFERENCE.csv) is no data and is not named."""
    from qualityfm.data import prepare, stable_part
    from qualityfm.data.prepare import expand_inputs

    rec = synthesize(60.0, fs=250.0, seed=0, channels=("ecg_ii", "ppg"))
    folder = tmp_path / "in"
    folder.mkdir()
    np.savez(folder / "a.npz", fs=250.0, II=rec.signals["ecg_ii"], PLETH=rec.signals["ppg"])
    np.save(folder / "b.npy", np.zeros((2, 100)))
    (folder / "c.csv").write_text("II;PLETH\n0,1;0,2\n0,2;0,3\n")
    (folder / "REFERENCE.csv").write_text("A00001,N\nA00002,A\n")
    (folder / "x.edf").write_bytes(b"0")
    summary = score_files([folder], tmp_path / "s.csv")
    reasons = {Path(s["record"]).name: s["reason"] for s in summary["passed_over"]}
    assert summary["n_records"] == 1 and set(reasons) == {"b.npy", "c.csv", "in"}
    assert "np.savez" in reasons["b.npy"] and "no time column" in reasons["c.csv"]
    assert reasons["in"].startswith("files of types not read: 1 .edf")
    assert summary["skipped"] == []  # they are no records: none was skipped
    store = prepare([folder], tmp_path / "store", workers=1, progress=False)
    assert {Path(s["record"]).name for s in store["passed_over"]} == {"b.npy", "c.csv", "in"}
    assert store["skipped"] == []
    # a part with none of the records is not "every record skipped" for passed-over files
    parts = prepare([folder], tmp_path / "parts", workers=1, progress=False,
                    shard=(1 - stable_part(expand_inputs([folder])[0][0], 2), 2))
    assert parts["n_windows"] == 0 and parts["skipped"] == [] and parts["passed_over"]
    from qualityfm.data import store_info  # and qualityfm info lists them

    assert store_info(tmp_path / "store")["passed_over"] == store["passed_over"]


def test_score_and_embed_cut_the_windows_the_model_was_trained_on(records: Path,
                                                                  tmp_path: Path) -> None:
    """A model pre-trained on 10-s windows at 250 Hz (its config's n_samples and fs) is given
    such windows by score and embed, not 30-s windows at 300 Hz."""
    torch.manual_seed(0)
    cfg = QualityFMConfig(n_layers=1, d_model=120, n_heads=2, d_ff=64, n_samples=2500,
                          fs=250.0, stem_channels=(4, 24, 120), n_bins=120)
    model = QualityFM(cfg).eval()
    emb = embed_files([records], tmp_path / "e.npy", model)
    assert emb["n_windows"] == 9 + 6  # the 95-s and 65-s records in 10-s windows
    scores = score_files([records], tmp_path / "s.csv", model=model)
    starts = sorted(float(r["start_s"]) for r in csv.DictReader((tmp_path / "s.csv").open())
                    if r["record"] == "clean")
    assert scores["n_windows"] == 15 and starts == [10.0 * k for k in range(9)]


def test_a_file_name_that_is_not_utf8_is_escaped_in_the_tables(tmp_path: Path) -> None:
    """A record named with Latin-1 bytes (rec_\\xe9.npz) is scored beside the others, and
    the tables stay valid UTF-8 with the byte escaped (it had aborted the whole batch)."""
    import csv
    import os

    rec = synthesize(60.0, fs=250.0, seed=0, channels=("ecg_ii", "ppg"))
    folder = tmp_path / "in"
    folder.mkdir()
    for name in (b"rec_\xe9.npz", b"ok.npz"):
        np.savez(os.fsdecode(os.fsencode(folder) + b"/" + name), fs=250.0,
                 II=rec.signals["ecg_ii"], PLETH=rec.signals["ppg"])
    for verb, out in (("score", tmp_path / "s.csv"), ("embed", tmp_path / "e.npy")):
        assert main([verb, str(folder), "--out", str(out)]) == 0
    for table in (tmp_path / "s.csv", tmp_path / "e.index.csv"):
        rows = list(csv.DictReader(table.open(encoding="utf-8")))
        assert {r["record"] for r in rows} == {"ok", "rec_\\xe9"}


def test_an_output_named_like_an_input_record_is_refused(tmp_path: Path) -> None:
    """score --out naming a CSV record it reads had replaced the recording with its table;
    embed --out naming a .npy the folder holds (passed over) had replaced it."""
    from qualityfm.cli import main

    rec = synthesize(40.0, fs=125.0, seed=0, channels=("ecg_ii", "ppg"))
    t = np.arange(len(rec.signals["ppg"])) / 125.0
    path = tmp_path / "c125.csv"
    path.write_text("Time [s],PLETH,II\n" + "".join(
        f"{a:.3f},{p:.5f},{e:.5f}\n" for a, p, e in zip(t, rec.signals["ppg"],
                                                          rec.signals["ecg_ii"], strict=True)))
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"c125\.csv exists and is no output of score's "
                                         r"\(a table of window scores\)"):
        score_files([path], path)
    assert main(["score", str(path), "--out", str(path)]) == 1
    assert path.read_bytes() == before
    labels = tmp_path / "REFERENCE.csv"  # the folder's labels, which the tasks read
    labels.write_text("c125,N\n")
    with pytest.raises(ValueError, match=r"REFERENCE\.csv exists and is no output"):
        score_files([path], labels)
    assert labels.read_text() == "c125,N\n"
    numerics = tmp_path / "c125_Numerics.csv"  # a monitor's numbers beside the records
    numerics.write_text("Time [s],HR\n0,60\n")
    with pytest.raises(ValueError, match="exists and is no output"):
        score_files([path], numerics)
    # inside an input folder: refused, as a file there it passes over could be replaced
    # (a .npy, a CSV without times) and the table would be named on every later run
    other = tmp_path / "samples.npy"
    np.save(other, np.zeros((2, 100)))
    for verb, out in (("score", other.with_suffix(".csv")), ("embed", other)):
        assert main([verb, str(tmp_path), "--out", str(out)]) == 1
    assert np.load(other).shape == (2, 100) and not other.with_suffix(".csv").exists()
    with pytest.raises(ValueError, match=r"scores\.csv: the output is inside the input folder "
                                         r".*, where it would lie among the records"):
        score_files(iter([tmp_path]), tmp_path / "scores.csv")  # (an iterator too)
    assert score_files([tmp_path], tmp_path / ".out" / "scores.csv")["n_records"] == 1  # hidden
    assert score_files([tmp_path], tmp_path / ".scores.csv")["n_records"] == 1
    assert score_files([path], tmp_path / "scores.csv")["n_records"] == 1  # a file given


def test_one_path_as_a_string_is_one_input(records, tmp_path) -> None:
    """A path given as a string alone had been read a character at a time (an absolute one
    searched the whole file system from /)."""
    one = str(records / "clean.hea")
    summary = score_files(one, tmp_path / "one.csv")
    assert summary["n_records"] == 1 and summary["skipped"] == []
    assert score_files(Path(one), tmp_path / "two.csv")["n_windows"] == summary["n_windows"]


def test_a_record_or_a_models_name_in_place_of_a_path_or_model_is_named(
        records, tiny_model, tmp_path) -> None:
    """A Record in memory and a model's name had raised "'Record' object is not iterable" and
    "'str' object has no attribute 'parameters'"."""
    from qualityfm.data.prepare import prepare

    rec = read_record(records / "clean.hea")
    for inputs in (rec, [rec]):
        with pytest.raises(TypeError, match="got Record: .*make_windows.*score_windows"):
            score_files(inputs, tmp_path / "s.csv")
        with pytest.raises(TypeError, match="got Record"):
            embed_files(inputs, tmp_path / "e.npy", tiny_model)
        with pytest.raises(TypeError, match="got Record"):
            prepare(inputs, tmp_path / "store")
    for model in ("pretrained", None):
        with pytest.raises(TypeError, match=rf"got {model!r}: .*qualityfm.load\('pretrained'\)"):
            embed_files(records / "clean.hea", tmp_path / "e.npy", model)
    with pytest.raises(TypeError, match="got 'pretrained'"):
        score_files(records / "clean.hea", tmp_path / "s.csv", model="pretrained")
    assert not {"s.csv", "e.npy", "store"} & {p.name for p in tmp_path.iterdir()}


def test_rejected_rows_follow_the_window_channels(tmp_path) -> None:
    """A window config of other channels or order had crashed (IndexError) on a window with
    no usable channel, or swapped ecg_sqi and ppg_sqi in its row."""
    rec = synthesize(60.0, fs=250.0, seed=3, record_id="off")
    rec.signals["ecg_ii"][int(30 * 250):] = 0.0  # the lead off in the second window
    write_wfdb(rec, tmp_path / "in")
    rows = {}
    for channels in (("ecg_ii",), ("ecg_ii", "ppg"), ("ppg", "ecg_ii")):
        out = tmp_path / f"{'-'.join(channels)}.csv"
        score_files(tmp_path / "in", out, window=WindowConfig(channels=channels,
                                                              require="all"))
        rows[channels] = list(csv.DictReader(out.open()))[1]
    assert rows[("ecg_ii",)]["ecg_sqi"] == "0.0" and rows[("ecg_ii",)]["ppg_sqi"] == "nan"
    for channels in (("ecg_ii", "ppg"), ("ppg", "ecg_ii")):
        assert rows[channels]["ecg_sqi"] == "0.0", channels
        assert "ecg_ii: flat" in rows[channels]["unusable"]


def test_a_model_is_not_handed_windows_it_would_misread(records, tiny_model, tmp_path) -> None:
    """ECG read as PPG: windows of other channels or order (or rate) for a model are refused,
    where they had been embedded without a word."""
    swapped = WindowConfig(channels=("ecg_ii", "ppg"))
    with pytest.raises(ValueError, match=r"window channels \('ecg_ii', 'ppg'\): the model "
                                         r"reads \('ppg', 'ecg_ii'\)"):
        embed_files(records, tmp_path / "e.npy", tiny_model, window=swapped)
    with pytest.raises(ValueError, match="window rate 250 Hz: the model reads windows at 300"):
        score_files(records, tmp_path / "s.csv", tiny_model, window=WindowConfig(fs=250.0))
    assert not list(tmp_path.glob("[es].*"))
    # another length is allowed (the encoder reads any)
    assert embed_files(records, tmp_path / "e.npy", tiny_model,
                       window=WindowConfig(seconds=20.0))["n_windows"] > 0
    # a model of one channel reads windows of one
    torch.manual_seed(0)
    one = QualityFM(QualityFMConfig(in_channels=1, n_layers=1, d_model=120, n_heads=2, d_ff=64,
                                    stem_channels=(4, 24, 120), n_bins=120)).eval()
    ppg = WindowConfig(channels=("ppg",))
    assert embed_files(records, tmp_path / "one.npy", one, window=ppg)["n_windows"] > 0
    index = list(csv.DictReader((tmp_path / "one.index.csv").open()))
    assert {r["has_ppg"] for r in index} == {"True"} and {r["has_ecg"] for r in index} == {
        "False"}
    assert score_files(records, tmp_path / "one.csv", one, window=ppg)["n_windows"] > 0
    with pytest.raises(ValueError, match=r"the model reads 1 channel\(s\)"):
        embed_files(records, tmp_path / "e2.npy", one)


def test_tables_are_not_written_where_they_cannot_be_or_into_a_store(records, tmp_path,
                                                                     capsys) -> None:
    """Found before any record is read: a folder that is a file (had been a traceback after
    the work), and a prepared store (a table named pairs.npy had replaced its pairs)."""
    (tmp_path / "afile").write_text("x")
    store = tmp_path / "store"
    store.mkdir()
    (store / "meta.json").write_text("{}")
    np.save(store / "pairs.npy", np.zeros((0, 2), np.int64))  # a store's arrays beside it
    for out, said in ((tmp_path / "afile" / "s.csv", "afile is a file, not a folder"),
                      (store / "s.csv", "holds a prepared store (meta.json); write outside")):
        assert main(["score", str(records), "--out", str(out)]) == 1
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err and "skipped" not in err
    assert main(["embed", str(records), "--out", str(store / "pairs.npy"),
                 "--model", "pretrained"]) == 1
    assert "holds a prepared store" in capsys.readouterr().err
    assert sorted(p.name for p in store.iterdir()) == ["meta.json", "pairs.npy"]
    assert np.load(store / "pairs.npy").shape == (0, 2)
    # a user's own meta.json marks no store (its folder had been refused as one)
    (store / "pairs.npy").unlink()
    assert main(["score", str(records), "--out", str(store / "s.csv")]) == 0


def test_embed_names_a_record_of_no_usable_window(records: Path, tmp_path: Path,
                                                  tiny_model: QualityFM, capsys) -> None:
    """A record whose every window is flat had been counted and then found nowhere: not on
    stderr, not in the summary's lists, not in the index."""
    flat = synthesize(65.0, fs=250.0, seed=3, record_id="flat")
    write_wfdb(Record("flat", {c: np.zeros_like(x) for c, x in flat.signals.items()},
                      flat.fs, units=flat.units), records)
    summary = embed_files([records], tmp_path / "emb.npy", tiny_model)
    [entry] = summary["unusable"]
    assert entry["record"].endswith("flat.hea") and entry["reason"].startswith(
        "no usable window: ")
    assert f"no embedding of {entry['record']}: no usable window" in capsys.readouterr().err
    (tmp_path / "q.index.csv").mkdir()  # named before any record is read
    with pytest.raises(ValueError, match=r"embed index output .*q\.index\.csv is a folder"):
        embed_files([tmp_path / "nothing"], tmp_path / "q.npy", tiny_model)


def test_a_folder_given_twice_lists_what_it_passes_over_once(records: Path,
                                                             tmp_path: Path) -> None:
    np.save(records / "loose.npy", np.zeros((2, 10)))
    once = score_files([records], tmp_path / "a.csv")["passed_over"]
    twice = score_files([records, f"{records}/"], tmp_path / "b.csv")["passed_over"]
    assert len(once) == 1 and twice == once


def test_the_seconds_after_each_records_last_window_are_counted(tmp_path) -> None:
    """A 45-s record gave one 30-s window and its last 15 s were never scored, unsaid."""
    from qualityfm.inference import score_files
    from qualityfm.signal.synthetic import synthesize

    for name, seconds in (("a", 45.0), ("b", 60.0)):
        rec = synthesize(seconds, fs=125.0, seed=1)
        np.savez(tmp_path / f"{name}.npz", PLETH=rec.signals["ppg"], II=rec.signals["ecg_ii"],
                 fs=125.0)
    summary = score_files([tmp_path], tmp_path.parent / "s.csv")
    assert summary["n_windows"] == 3 and summary["unscored_s"] == pytest.approx(15.0)
    # counted on the channels windowed: a longer lead read only to choose the ECG, or a PPG
    # left out as a trend, had counted whole (210 s and 910 s for tails of 10 s)
    other = tmp_path.parent / "other"
    other.mkdir()
    rec = synthesize(300.0, fs=250.0, seed=0)
    np.savez(other / "leads.npz", aVF=rec.signals["ecg_ii"][:25000], V=rec.signals["ecg_ii"],
             PLETH=rec.signals["ppg"][:25000], fs=250.0)
    np.savez(other / "trend.npz", II=rec.signals["ecg_ii"][:25000], fs_II=250.0,
             PLETH=np.full(100, 97.0), fs_PLETH=1.0)
    for name in ("leads", "trend"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the PPG at 1 Hz, left out
            summary = score_files([other / f"{name}.npz"], tmp_path.parent / f"{name}.csv")
        assert summary["n_windows"] == 3 and summary["unscored_s"] == pytest.approx(10.0)


def test_a_window_of_no_usable_channel_scores_the_lead_scored_elsewhere(tmp_path) -> None:
    """With an ECG model channel other than ecg_ii, a recorded lead off in a window of no
    usable channel had read as absent (NaN), where beside a usable PPG it scores 0."""
    from qualityfm.inference import score_files
    from qualityfm.signal import WindowConfig
    from qualityfm.signal.synthetic import synthesize

    rec = synthesize(90.0, fs=250.0, seed=1, channels=("ecg_ii", "ppg"))
    ecg, ppg = rec.signals["ecg_ii"].copy(), rec.signals["ppg"].copy()
    ecg[: 30 * 250] = np.nan  # 0-30 s: ECG off, PPG clean; 30-60 s: both off
    ecg[30 * 250: 60 * 250] = np.nan
    ppg[30 * 250: 60 * 250] = ppg[30 * 250]
    np.savez(tmp_path / "r.npz", fs=250.0, II=ecg, PLETH=ppg)
    out = tmp_path.parent / "ecg.csv"
    score_files([tmp_path / "r.npz"], out, window=WindowConfig(channels=("ppg", "ecg")))
    rows = list(csv.DictReader(out.open()))
    assert [float(r["ecg_sqi"]) for r in rows[:2]] == [0.0, 0.0]
    assert float(rows[1]["ppg_sqi"]) == 0.0 and rows[1]["level_name"] == "bad"


def test_scoring_a_folder_shows_its_records_read_on_a_terminal(records: Path, tmp_path: Path,
                                                               monkeypatch, capsys) -> None:
    """score and embed had read a folder of long stays for hours without a word: on a
    terminal a bar counts the records read, each skipped record's line above it."""
    import qualityfm._progress as progress
    import qualityfm.inference.windows as windows

    score_files([records], tmp_path / "a.csv")
    err = capsys.readouterr().err
    assert "records" not in err and "skipped" in err  # stderr no terminal: no bar
    for module in (progress, windows):
        monkeypatch.setattr(module, "on_terminal", lambda: True)
    score_files([records], tmp_path / "b.csv")
    err = capsys.readouterr().err
    assert "records:" in err and "/3 [" in err
    assert "qualityfm: skipped " in err and "broken" in err


def test_an_output_is_written_over_only_where_it_is_one(records: Path, tmp_path: Path,
                                                       tiny_model: QualityFM) -> None:
    """score, embed and predict had replaced any file --out named: a recording beside the
    input became a table of scores. A file of their own (or an empty one) is replaced; any
    other is refused before the work, and kept."""
    from qualityfm.inference.score import check_output

    recording = tmp_path / "bidmc_26_Signals.csv"
    recording.write_text("Time [s],PLETH,II\n0.000,0.5,0.1\n")
    with pytest.raises(ValueError, match=r"score output .*bidmc_26_Signals\.csv exists and is no "
                                         r"output of score's"):
        score_files([records], recording)
    assert recording.read_text().startswith("Time [s],PLETH")
    precious = tmp_path / "precious.npy"
    np.save(precious, np.arange(3))
    with pytest.raises(ValueError, match=r"embed output .*precious\.npy exists"):
        embed_files([records], precious, tiny_model)
    assert np.load(precious).tolist() == [0, 1, 2]
    out = tmp_path / "scores.csv"
    score_files([records], out)  # written, then replaced by a re-run
    first = out.read_text()
    score_files([records], out)
    assert out.read_text() == first
    emb = tmp_path / "emb.npy"
    embed_files([records], emb, tiny_model)
    embed_files([records], emb, tiny_model)  # its index beside it: its own
    matrix = np.load(emb)
    index = emb.with_suffix(".index.csv")
    index.write_text(index.read_text().splitlines()[0] + "\n")  # an older run's, of no row:
    embed_files([records], emb, tiny_model)  # (a SIGKILL between the renames) replaced too
    np.testing.assert_array_equal(np.load(emb), matrix)
    assert len(index.read_text().splitlines()) == len(matrix) + 1
    np.save(emb, np.arange(3))  # a user's array in its place, the index still beside it
    with pytest.raises(ValueError, match=r"emb\.npy exists and is no output"):
        embed_files([records], emb, tiny_model)
    labels = tmp_path / "labels.csv"  # a user's table of windows, a column of their own
    labels.write_text("record,start_s,expert_label\nclean,0.0,good\n")
    with pytest.raises(ValueError, match=r"labels\.csv exists and is no output"):
        score_files([records], labels)
    old = tmp_path / "old_predictions.csv"  # predict's table before it had start_s
    old.write_text("file,record,p_true_alarm,true_alarm\nx.hea,x,0.2,0\n")
    assert check_output(old, what="predict") == old
    (tmp_path / "empty.csv").write_text("")
    assert check_output(tmp_path / "empty.csv") == tmp_path / "empty.csv"
    with pytest.raises(ValueError, match=r"evaluate output .*\.json needs a name before its "
                                         r"\.json"):
        check_output(tmp_path / ".json", (".json",), "evaluate")


def test_learned_quality_reads_windows_of_the_models_length_alone(records: Path, tmp_path: Path,
                                                                  tiny_model: QualityFM) -> None:
    """Windows a few samples off the model's length give its decoder as many tokens and had
    been scored against spectra up to 3 % apart in frequency; a score run of another window
    length failed only after its first record was read."""
    n = tiny_model.cfg.n_samples
    x = np.random.default_rng(0).uniform(-1, 1, (2, 2, n + 7)).astype(np.float32)
    with pytest.raises(ValueError, match=rf"learned quality compares the decoder's spectrum of "
                                         rf"a window of {n} samples .*got windows of {n + 7}"):
        learned_quality(tiny_model, x, None)
    assert learned_quality(tiny_model, x[..., :n], None).shape == (2,)
    fs = tiny_model.cfg.fs
    with pytest.raises(ValueError, match=r"got windows of"):
        score_files([records], tmp_path / "s.csv", model=tiny_model,
                    window=WindowConfig(fs=fs, seconds=(n - 150) / fs))
    assert not (tmp_path / "s.csv").exists()


def test_the_inference_functions_refuse_what_the_model_refuses(tiny_model: QualityFM) -> None:
    """Complex and bool windows had passed embed_windows and learned_quality (cast to float32
    first), windows of no sample failed in the stem's kernel error."""
    n = tiny_model.cfg.n_samples
    x = np.random.default_rng(0).uniform(-1, 1, (2, 2, n))
    for fn in (embed_windows, learned_quality):
        for bad, kind in ((x.astype(np.complex64), "complex64"), (x > 0, "bool")):
            with pytest.raises(ValueError, match=rf"real numbers .*{kind}"):
                fn(tiny_model, bad, None)
        with pytest.raises(ValueError, match=r"windows of 0 samples"):
            fn(tiny_model, np.zeros((2, 2, 0), np.float32), np.ones((2, 2), bool))


def test_one_verb_does_not_replace_another_verbs_output(tmp_path: Path, capsys) -> None:
    """score --out naming predict's table of alarm decisions had replaced it without a word
    (and embed a table of scores): each verb replaces its own outputs alone."""
    from qualityfm.cli import main

    rec = synthesize(40.0, fs=125.0, seed=0, channels=("ecg_ii", "ppg"))
    folder = tmp_path / "in"
    folder.mkdir()
    np.savez(folder / "r.npz", fs=125.0, II=rec.signals["ecg_ii"], PLETH=rec.signals["ppg"])
    decisions = tmp_path / "dec.csv"
    decisions.write_text("file,record,start_s,p_true_alarm,true_alarm\nr.npz,r,0.0,0.9,1\n")
    before = decisions.read_bytes()
    with pytest.raises(ValueError, match=r"dec\.csv exists and is no output of score's"):
        score_files([folder / "r.npz"], decisions)
    assert main(["score", str(folder), "--out", str(decisions)]) == 1
    assert decisions.read_bytes() == before
    scores = tmp_path / "s.csv"
    for _ in range(2):  # a re-run replaces its own table
        assert main(["score", str(folder), "--out", str(scores)]) == 0
    table = scores.read_bytes()
    capsys.readouterr()
    assert main(["predict", "--task", "vt-alarm", "--model", str(tmp_path / "none"),
                 "--data", str(folder), "--out", str(scores)]) == 1
    assert "s.csv exists and is no output of predict's (a table of predictions)" \
        in capsys.readouterr().err  # said before the missing model
    assert scores.read_bytes() == table
    embedding = tmp_path / "e.npy"
    for _ in range(2):
        assert main(["embed", str(folder), "--out", str(embedding)]) == 0
    index = embedding.with_suffix(".index.csv").read_bytes()
    assert main(["score", str(folder), "--out", str(embedding.with_suffix(".index.csv"))]) == 1
    assert embedding.with_suffix(".index.csv").read_bytes() == index


def test_a_users_table_of_a_verbs_column_names_is_no_output_of_it(records: Path,
                                                                  tmp_path: Path) -> None:
    """Tables of column names a verb writes but not those it always writes (a user's labels
    record,true_alarm, annotations record,start_s,level_name or level, a cuff table
    file,record,sbp,dbp, an embedding's hand-made index) had been replaced; a header cell past
    csv's field limit had given a traceback."""
    from qualityfm.inference.score import check_output, table_verbs

    for header, verb in (("record,true_alarm", "predict"), ("record,sbp,dbp", "predict"),
                         ("record,rhythm", "predict"), ("record,start_s,level_name", "score"),
                         ("file,record", "score"), ("record,start_s,sqi", "embed"),
                         ("record,start_s,level", "score"), ("record,ecg_sqi,level", "score"),
                         ("file,record,sbp,dbp", "predict"),  # the last three had been
                         ("record,start_s,sbp,dbp", "predict")):  # (and a window reference)
        table = tmp_path / f"{verb}_{len(header)}.csv"
        table.write_text(header + "\nv100s,1\n")
        with pytest.raises(ValueError, match=rf"exists and is no output of {verb}'s"):
            check_output(table, what=verb)
    assert table_verbs(["file", "record", "start_s", "p_true_alarm", "true_alarm"]) == {"predict"}
    assert table_verbs(["file", "record", "start_s", "sbp", "dbp"]) == {"predict"}
    assert table_verbs(["record", "start_s", "ecg_sqi", "ppg_sqi", "sqi"]) == {"score"}
    assert table_verbs(["row", "file", "record", "start_s", "sqi"]) == {"embed"}
    big = tmp_path / "big.csv"
    big.write_text('"' + "x" * 200_000 + "\n")
    with pytest.raises(ValueError, match=r"big\.csv exists and is no output of score's"):
        score_files([records], big)


def test_a_parquet_output_without_pyarrow_is_refused_before_the_work(records: Path,
                                                                     tmp_path: Path,
                                                                     monkeypatch) -> None:
    """Without pyarrow a .parquet output had been refused at the write, after every record's
    inference."""
    import importlib.util

    from qualityfm.inference import score as score_module

    found = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyarrow" else found(name, *a))
    calls = []
    monkeypatch.setattr(score_module, "score_rows", lambda *a, **k: calls.append(1))
    with pytest.raises(ValueError, match=r"score output .*s\.parquet: Parquet needs pyarrow "
                                         r".*or write \.csv$"):
        score_files([records], tmp_path / "s.parquet")
    assert calls == []
    from qualityfm.inference.embed import EMBED_SUFFIXES
    from qualityfm.inference.score import check_output

    with pytest.raises(ValueError, match=r"e\.parquet: Parquet needs pyarrow .*or write \.npy$"):
        check_output(tmp_path / "e.parquet", EMBED_SUFFIXES, "embed")  # (it had said .csv)
