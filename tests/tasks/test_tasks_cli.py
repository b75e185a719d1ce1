"""CLI finetune + evaluate (and compare) end to end on a few real records."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import link_vt_alarms, shared_path, stop_at
from qualityfm.cli import main
from qualityfm.tasks import ClassicalBaseline, predict_run

TINY = {"d_model": 16, "n_layers": 1, "n_heads": 2, "d_ff": 16, "stem_channels": [4, 8, 16],
        "n_bins": 16, "n_samples": 3000}


def test_cli_finetune_then_evaluate_vt(tmp_path, capsys) -> None:
    data = shared_path("physionet2015_vt")
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    run = tmp_path / "run"
    common = ["--task", "vt-alarm", "--data", str(data), "--max-records", "16"]
    assert main(["finetune", *common, "--init", "none", "--config", str(cfg), "--out", str(run),
                 "--epochs", "2", "--seed", "1", "--no-features"]) == 0  # exported below
    assert (run / "model.pt").exists() and (run / "finetune.json").exists()
    assert json.loads((run / "finetune.json").read_text())["augment"] is True  # the default
    # a plain fit says what its validation rows (not fitted on) give, and keeps it saved
    val = json.loads((run / "summary.json").read_text())["validation"]["model"]
    assert val["n"] >= 2 and 0.0 <= val["auroc"] <= 1.0
    # v101l and v102s hold stretches of v100s: one group, named v100s; they are listed by
    # their own names (found so when evaluated)
    assert json.loads((run / "summary.json").read_text())["train_records"] == ["v101l", "v102s"]
    assert json.loads((run / "finetune.json").read_text())["protocol"]["validation"] == val
    out = tmp_path / "eval" / "results.json"
    for name in ("finetune.json", "summary.json"):  # it would replace the run's own file
        kept = (run / name).read_bytes()
        assert main(["evaluate", *common, "--model", str(run), "--out", str(run / name)]) == 1
        assert (run / name).read_bytes() == kept
    assert "holds a fine-tuned run, whose summary.json" in capsys.readouterr().err
    # a comparison's rows and table are not replaced
    (tmp_path / "cmp").mkdir()
    (tmp_path / "cmp" / "compare.json").write_text("{}")
    (tmp_path / "cmp" / "table.md").write_text("rows")
    assert main(["evaluate", *common, "--model", str(run),
                 "--out", str(tmp_path / "cmp" / "table.json")]) == 1
    assert (tmp_path / "cmp" / "table.md").read_text() == "rows"
    assert "holds a comparison (compare.json), whose tables" in capsys.readouterr().err
    linked = tmp_path / "linked"  # a report among the records, as the demo's: refused
    linked.mkdir()
    for f in sorted(data.glob("v10*"))[:4]:
        (linked / f.name).symlink_to(f)
    assert main(["evaluate", "--task", "vt-alarm", "--data", str(linked), "--model", str(run),
                 "--out", str(linked / "r.json")]) == 1
    assert f"r.json: the report is inside the input folder {linked}, where it would lie " \
        "among the records" in capsys.readouterr().err
    assert sorted(p.name for p in linked.iterdir()) == sorted(
        f.name for f in sorted(data.glob("v10*"))[:4])
    assert main(["evaluate", "--task", "vt-alarm", "--data", str(linked), "--model", str(run),
                 "--out", str(linked / ".rep" / "r.json")]) == 0  # hidden: no reader looks
    assert (linked / ".rep" / "r.md").is_file()
    assert main(["evaluate", "--task", "vt-alarm", "--data", str(linked), "--model", str(run),
                 "--out", str(linked / ".r.json")]) == 0  # a hidden name, as predict's
    assert (linked / ".r.md").is_file()
    # a network reads windows of its own length only: other --seconds refused up front
    for verb, dest in (("evaluate", out), ("predict", tmp_path / "p.csv")):
        assert main([verb, *common, "--model", str(run), "--out", str(dest),
                     "--seconds", "8"]) == 1
        assert "--seconds 8: this run's network reads windows of 10 s only" in (
            capsys.readouterr().err)
    # as many samples are the run's windows (10.0000001 had been refused as "--seconds 10")
    assert main(["evaluate", *common, "--model", str(run), "--out", str(out),
                 "--seconds", "10.0000001"]) == 0
    assert main(["evaluate", *common, "--model", str(run), "--out", str(out), "--seconds",
                 "10.01"]) == 1
    assert "--seconds 10.01: this run's network" in capsys.readouterr().err
    assert main(["evaluate", *common, "--model", str(run), "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    # evaluated on the records it was trained on: said in the results and on stderr
    # 16 records, 14 groups: v100s, v101l and v102s hold stretches of one recording
    assert res["trained_on"]["n_groups"] == 14 == len(res["trained_on"]["groups"])
    assert res["model_settings"]["use_features"] is False  # which model made these figures
    assert (res["model_settings"]["init"], res["model_settings"]["mode"]) == ("none", "full")
    assert "14 of the 14 patients/records evaluated were in the model's training data" in (
        capsys.readouterr().err)
    for key in ("auroc", "auroc_ci", "auprc", "tpr", "tnr", "ppv", "f1", "accuracy", "score"):
        assert key in res
    assert res["threshold"] == json.loads((run / "finetune.json").read_text())["protocol"][
        "threshold"]  # the threshold fixed on validation, not re-chosen on the test data
    pred = np.array(res["predictions"]["pred"])
    assert ((np.array(res["predictions"]["score"]) >= res["threshold"]) == pred).all()
    assert (out.parent / "results_roc.png").stat().st_size > 1000
    assert (out.parent / "results.md").read_text().startswith("| model |")
    # the row names the model, and says the figures are no test
    assert "\n| run (NOT A TEST: 14 of 14 patients/records trained on) |" in (
        out.parent / "results.md").read_text()

    if importlib.util.find_spec("onnxruntime") is not None:  # encoder + task head as ONNX
        onnx_dir = tmp_path / "onnx"
        capsys.readouterr()
        assert main(["export", str(run), "--out", str(onnx_dir)]) == 0
        parity = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (onnx_dir / "model.onnx").stat().st_size > 1000 and parity["max_abs_diff"] < 1e-4
        rules = json.loads((onnx_dir / "model.json").read_text())["input"]["rules"]
        assert rules["span"].startswith("the 10.0 s ending at the alarm")  # a run from records
        # what a card had left out (an audit's integration from the card alone disagreed):
        # no window short of the span or past the record's end, slow channels absent, the
        # span's samples, the resampler's fraction, the one filter cascade
        assert "less than 10.0 s before the alarm" in rules["no_window"]
        assert "under 50 Hz is absent" in rules["slow_channel"]
        assert "round(t0 * f)" in rules["span_samples"] and "float32" in rules["span_samples"]
        assert "limit_denominator(max(1, int(10000 / max(1.0, fs / f))))" in rules[
            "resampler"]
        assert "iirnotch" in rules["filter_mode"] and "one cascade" in rules["filter_mode"]
        assert "pad_to" not in rules["span"]  # a setting the run did not set: not named
        assert rules["channel_names"]["PLETH"] == "ppg" == rules["channel_names"]["Pleth"]
        assert rules["channel_names"]["II"] == "ecg_ii" and "padtype='edge'" in rules[
            "resampler"]
        card_input = json.loads((onnx_dir / "model.json").read_text())["input"]
        assert "record_dataset(..., seconds=10, fs=300)" in card_input["preprocessing"]
        # golden examples: raw records at their own rates -> the windows -> the graph -> p
        import onnxruntime as ort

        from qualityfm.io import Record
        from qualityfm.tasks import load_estimator, record_dataset

        ex = np.load(onnx_dir / "model.examples.npz")
        est = load_estimator(run)
        # five cases of one span each, a monitor's longer buffer (its alarm off the samples'
        # grid, a gap in its ECG: what a filter-the-buffer-then-cut integration gets wrong,
        # and these had not caught), and a row of no channel (no decision: keep the alarm)
        assert list(ex["case"])[4] == "vt, ppg" and len(ex["case"]) == 7
        for i in range(6):
            sigs = {k.split("_", 1)[1]: ex[k] for k in ex.files if k.startswith(f"raw{i}_")}
            events = {"alarm": float(ex[f"alarm{i}"])} if f"alarm{i}" in ex.files else {}
            rec = Record("r", sigs, {ch: float(ex[f"fs_{ch}"]) for ch in sigs}, events=events)
            ds = record_dataset("vt-alarm", rec, fs=est.fs)
            np.testing.assert_allclose(ds.X[0], ex["x"][i], atol=1e-6)
            assert (ds.mask[0] == ex["mask"][i]).all()
        assert ex["mask"][3].tolist() == [False, True] and ex["mask"][4].tolist() == [True, False]
        buffer = ex["raw5_ecg_ii"]
        assert len(buffer) == 30 * 250 and np.isnan(buffer).sum() == 75
        assert float(ex["alarm5"]) * 250 % 1 > 0.5  # between two samples
        session = ort.InferenceSession(str(onnx_dir / "model.onnx"),
                                       providers=["CPUExecutionProvider"])
        _, head = session.run(None, {"x": ex["x"], "mask": ex["mask"]})
        np.testing.assert_allclose(head[:6], ex["head"][:6], atol=1e-4)
        assert np.isnan(head[6]).all() and np.isnan(ex["head"][6]).all()
        assert np.isnan(ex["p"][6]) and ex["decision"][6] == -1  # not 0: "suppress"
        np.testing.assert_allclose(est.predict_proba(ex["x"][:6], ex["mask"][:6]), ex["p"][:6],
                                   atol=1e-5)
        # no decision where predict gives no output (none of the channels every fitted
        # window held: here the PPG-only row of a model whose windows all held ECG II)
        from qualityfm.tasks.pipeline import blind_rows

        blind = blind_rows(est, ex["mask"][:6])
        assert (ex["decision"][:6] == np.where(blind, -1, est.decide(ex["p"][:6]))).all()


def test_cli_compare_and_abp_evaluate(tmp_path) -> None:
    data = shared_path("physionet2015_vt")
    out = tmp_path / "cmp"
    assert main(["compare", "--task", "abp", "--data", str(data), "--max-records", "30",
                 "--baselines", "classical,pretrained", "--kfold", "3", "--out", str(out)]) == 0
    table = (out / "table.md").read_text()
    assert "classical features + GBM" in table and "SBP MAE" in table
    rows = json.loads((out / "compare.json").read_text())
    sbp = rows["classical features + GBM"]["sbp"]
    assert {"mae", "me", "sd", "mase", "aami", "bhs"} <= set(sbp)
    from qualityfm.tasks import metrics as M

    # the pooled MASE recomputes from the row's JSON: each fold's training means are in it
    row = json.loads((out / "classical_features___gbm.json").read_text())
    fold_of, y_oof = np.asarray(row["oof"]["fold"]), np.asarray(row["oof"]["y"])
    ref = np.array([row["folds"][f]["train_mean"] for f in fold_of])
    pred_oof = np.asarray(row["oof"]["pred"])
    for k, name in enumerate(("sbp", "dbp")):
        assert M.mae(y_oof[:, k], pred_oof[:, k]) / np.mean(np.abs(y_oof[:, k] - ref[:, k])) \
            == pytest.approx(row[name]["mase"])
    assert all(np.isfinite(f["mase_dbp"]) for f in row["folds"])
    # the shipped weights as finetune fits them by default (the foundation model had no row
    # unless --models named it, and then not in finetune's configuration)
    summary = json.loads((out / "summary.json").read_text())
    used = summary["row_settings"]
    assert list(rows) == ["classical features + GBM", "QualityFM pre-trained (finetune's default)"]
    # which weights the pre-trained row started from: no output had said (an ablation's run)
    from qualityfm.train import pretrained_config

    weights = summary["weights"]
    assert list(weights) == [list(rows)[1]] and weights[list(rows)[1]]["init"] == "pretrained"
    assert weights[list(rows)[1]]["config"] == json.loads(json.dumps(pretrained_config().to_dict()))
    assert weights[list(rows)[1]]["files"]  # names and content hashes of the shipped files
    assert {k: used[list(rows)[1]][k] for k in ("mode", "solver", "use_features")} == \
        {"mode": "linear", "solver": "lbfgs", "use_features": True}
    assert np.isfinite(rows[list(rows)[1]]["sbp"]["mae"])
    assert (out / "classical_features___gbm_bland_altman_sbp.png").exists()
    # predict reads the windows of records without an arterial line too
    run, table = tmp_path / "bp", tmp_path / "bp.csv"
    common = ["--task", "abp", "--data", str(data), "--max-records", "30"]
    assert main(["finetune", *common, "--init", "classical", "--out", str(run)]) == 0
    assert main(["predict", *common, "--model", str(run), "--out", str(table)]) == 0
    pred = list(csv.DictReader(table.open()))
    # an --out that is a record read is refused (a CSV recording would have been replaced)
    csv_data = tmp_path / "csvdata"
    csv_data.mkdir()
    record = csv_data / "r.csv"
    record.write_text("Time [s],PLETH,II,ABP\n" + "".join(
        f"{i / 125:.3f},{np.sin(i / 20):.4f},{np.cos(i / 9):.4f},{100 + 20 * np.sin(i / 40):.2f}\n"
        for i in range(125 * 40)))
    kept = record.read_bytes()
    assert main(["predict", "--task", "abp", "--data", str(csv_data), "--model", str(run),
                 "--out", str(record)]) == 1
    assert record.read_bytes() == kept
    # windows of another length than the model's: said (the threshold holds for its own)
    np.save(csv_data / "buffer.npy", np.zeros((2, 100)))  # no record here: named, not lost
    with pytest.warns(UserWarning, match=r"windows of 20 s \(6000 samples at 300 Hz\): the "
                                         r"model was fitted on windows of 30 s"):
        res = predict_run("abp", run, csv_data, tmp_path / "p20.csv", seconds=20.0)
    assert res["seconds"] == 20.0
    assert [Path(e["record"]).name for e in res["passed_over"]] == ["buffer.npy"]
    assert main(["evaluate", "--task", "abp", "--data", str(csv_data), "--model", str(run),
                 "--out", str(tmp_path / "e.json")]) == 0  # evaluate names it too
    evaluated = json.loads((tmp_path / "e.json").read_text())
    assert [Path(e["record"]).name for e in evaluated["passed_over"]] == ["buffer.npy"]
    n_abp = json.loads((run / "summary.json").read_text())["n"]
    assert len(pred) > n_abp and list(pred[0]) == ["file", "record", "start_s", "sbp", "dbp"]
    assert all(Path(r["file"]).name.startswith(r["record"]) for r in pred)  # each row's file
    assert "@" not in pred[0]["record"] and float(pred[1]["start_s"]) >= 0
    assert all(len(r["sbp"].partition(".")[2]) <= 1 for r in pred)  # 121.6, no float32 noise
    sbp, dbp = (np.array([float(r[k]) for r in pred]) for k in ("sbp", "dbp"))
    assert np.isfinite(sbp).all() and (sbp > dbp).all()


def test_cli_abp_default_reads_the_features(tmp_path, capsys) -> None:
    """``finetune --task abp`` from the shipped weights fits an lbfgs ridge head on the
    embedding and the classical features (its networks alone predict worse than the mean);
    ``--no-features`` turns the features off, and the saved model evaluates."""
    data = shared_path("physionet2015_vt")
    common = ["--task", "abp", "--data", str(data), "--max-records", "12"]
    run = tmp_path / "bp"
    assert main(["finetune", *common, "--out", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["mode"], summary["use_features"], summary["solver"]) == ("linear", True,
                                                                              "lbfgs")
    assert json.loads((run / "finetune.json").read_text())["use_features"] is True
    assert summary["target_tpr"] is None  # no threshold: a regression
    assert set(summary["validation"]["model"]["mae"]) == {"sbp", "dbp"}  # mmHg, named
    res = tmp_path / "res.json"
    assert main(["evaluate", *common, "--model", str(run), "--out", str(res)]) == 0
    got = json.loads(res.read_text())
    assert np.isfinite(got["sbp"]["mae"])
    from qualityfm.tasks import metrics as M  # MASE recomputes from the JSON alone

    y, pred = np.array(got["predictions"]["y"]), np.array(got["predictions"]["pred"])
    assert M.mase(y[:, 0], pred[:, 0], got["train_mean"][0]) == pytest.approx(got["sbp"]["mase"])
    capsys.readouterr()
    assert main(["export", str(run), "--out", str(tmp_path / "onnx")]) == 1  # features: no ONNX
    assert "--no-features" in capsys.readouterr().err
    plain = tmp_path / "plain"
    assert main(["finetune", *common, "--no-features", "--out", str(plain)]) == 0
    assert json.loads((plain / "summary.json").read_text())["use_features"] is False
    assert json.loads((plain / "finetune.json").read_text())["use_features"] is False


def test_cli_compare_says_the_default_rows_differ_in_more_than_the_weights(tmp_path) -> None:
    """The default reference, the network from scratch without the features, differs from
    the default pre-trained row in its head and features too: the table had read its delta as
    the pre-training's alone."""
    data = shared_path("physionet2015_vt")
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    out = tmp_path / "cmp"
    assert main(["compare", "--task", "vt-alarm", "--data", str(data), "--max-records", "30",
                 "--baselines", "scratch,pretrained", "--config", str(cfg), "--kfold", "2",
                 "--epochs", "1", "--out", str(out)]) == 0
    table = " ".join((out / "table.md").read_text().split())
    assert ("`QualityFM pre-trained (finetune's default)` differs from `QualityFM from "
            "scratch` in more than the weights") in table
    assert "--reference 'random (linear + features)'" in table


def test_cli_compare_refuses_a_row_name_too_long_for_its_report_before_the_folds(
        tmp_path, capsys) -> None:
    """A --models NAME of 235 characters had run every fold, then failed at its report's
    write ("File name too long"), an earlier comparison with --overwrite already gone."""
    out = tmp_path / "cmp"
    assert main(["compare", "--task", "vt-alarm", "--data", str(tmp_path / "nodata"),
                 "--baselines", "", "--models", "r" * 235 + "=none", "--modes", "linear",
                 "--out", str(out)]) == 1
    assert f"row {'r' * 235 + ' (linear)'!r}: report file" in capsys.readouterr().err
    assert not out.exists()


def test_cli_compare_embedding_with_and_without_features(tmp_path, capsys) -> None:
    """--models none (a random encoder) probed linearly, alone and with the features."""
    data = shared_path("physionet2015_vt")
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    out = tmp_path / "cmp"
    assert main(["compare", "--task", "vt-alarm", "--data", str(data), "--max-records", "40",
                 "--baselines", "", "--models", "random=none", "--modes", "linear",
                 "--with-features", "--config", str(cfg), "--kfold", "2", "--epochs", "2",
                 "--reference", "random (linear)", "--out", str(out)]) == 0
    rows = json.loads((out / "compare.json").read_text())
    assert sorted(rows) == ["random (linear + features)", "random (linear)"]
    assert all(0.0 <= r["auroc"] <= 1.0 for r in rows.values())
    feat, plain = rows["random (linear + features)"], rows["random (linear)"]
    assert feat["auroc"] != plain["auroc"]
    # the paired difference against the reference row, on the same out-of-fold rows
    assert feat["delta_auroc"] == pytest.approx(feat["auroc"] - plain["auroc"])
    lo, hi = feat["delta_auroc_ci"]
    assert lo <= feat["delta_auroc"] <= hi and feat["reference"] == "random (linear)"
    assert "delta_auroc" not in plain
    assert "delta_auroc" in (out / "table.md").read_text()
    capsys.readouterr()
    assert main(["compare", "--task", "vt-alarm", "--data", str(data), "--max-records", "40",
                 "--baselines", "", "--models", "random=none", "--modes", "linear",
                 "--config", str(cfg), "--reference", "random", "--out", str(tmp_path / "x")]) != 0
    assert "reference 'random' is not a row" in capsys.readouterr().err
    # --pool reaches every QualityFM row: mean pooling gives other scores than vt's default
    common = ["compare", "--task", "vt-alarm", "--data", str(data), "--max-records", "40",
              "--baselines", "", "--models", "random=none", "--modes", "linear", "--config",
              str(cfg), "--kfold", "2", "--epochs", "2"]
    assert main([*common, "--pool", "mean", "--out", str(tmp_path / "mean")]) == 0
    mean = json.loads((tmp_path / "mean" / "compare.json").read_text())["random (linear)"]
    assert mean["auroc"] != plain["auroc"]
    with pytest.raises(SystemExit) as stop:  # argparse's usage error (cli.argtypes.POOL_NAMES)
        main([*common, "--pool", "max", "--out", str(tmp_path / "bad")])
    assert stop.value.code == 2
    assert "'max'" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    # --solver reaches the linear rows: the gradient-trained head ranks otherwise than lbfgs
    assert main([*common, "--solver", "adamw", "--out", str(tmp_path / "adamw")]) == 0
    adamw = json.loads((tmp_path / "adamw" / "compare.json").read_text())["random (linear)"]
    assert adamw["auroc"] != plain["auroc"]


def test_cli_classical_finetune_then_evaluate_on_other_records(tmp_path, capsys) -> None:
    """The classical baseline is saved by finetune and evaluated on records it never saw, at
    its own operating point; a model fitted on other feature columns is refused."""
    data = shared_path("physionet2015_vt")
    train, test = tmp_path / "train", tmp_path / "test"
    train.mkdir()
    test.mkdir()
    heads = sorted(data.glob("*.hea"))
    for i, hea in enumerate(heads[:60]):  # links: every record of the folder, none copied
        for f in data.glob(hea.stem + ".*"):
            (train if i < 40 else test).joinpath(f.name).symlink_to(f)
    run = tmp_path / "cls"
    assert main(["finetune", "--task", "vt-alarm", "--data", str(train), "--init", "classical",
                 "--out", str(run)]) == 0
    meta = json.loads((run / "finetune.json").read_text())
    assert meta["backbone"] == "classical" and (run / "classical.pkl").stat().st_size > 1000
    # --target-tpr: a lower target keeps fewer true alarms, so its threshold is no lower
    lower = tmp_path / "cls80"
    assert main(["finetune", "--task", "vt-alarm", "--data", str(train), "--init", "classical",
                 "--target-tpr", "0.8", "--out", str(lower)]) == 0
    assert json.loads((lower / "summary.json").read_text())["target_tpr"] == 0.8
    low = json.loads((lower / "finetune.json").read_text())["protocol"]
    assert low["target_tpr"] == 0.8 and low["threshold"] >= meta["protocol"]["threshold"]
    assert json.loads((run / "summary.json").read_text())["target_tpr"] == 0.95
    for bad in ("1", "0", "nan"):
        with pytest.raises(SystemExit):
            main(["finetune", "--task", "vt-alarm", "--data", str(train), "--target-tpr", bad,
                  "--out", str(lower)])
    out = tmp_path / "eval" / "results.json"
    (test / heads[60].name).symlink_to(heads[60])  # its signal file missing: named, not fatal
    assert main(["evaluate", "--task", "vt-alarm", "--data", str(test), "--model", str(run),
                 "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["trained_on"] == {"n_groups": 0, "groups": [], "n_windows": 0}  # other records
    assert "\n| cls |" in (out.parent / "results.md").read_text()
    renamed = tmp_path / "renamed"  # training records under other names: still no test
    renamed.mkdir()
    for k, hea in enumerate(heads[:3]):
        text = hea.read_text().replace(hea.stem, f"x{k}")
        (renamed / f"x{k}.hea").write_text(text)
        (renamed / f"x{k}.mat").write_bytes(hea.with_suffix(".mat").read_bytes())
    again = tmp_path / "again" / "results.json"
    capsys.readouterr()
    # the run keeps its training records' peaks: the copies hold stretches of v100s, v101l and
    # v102s (one group, x0's)
    assert main(["evaluate", "--task", "vt-alarm", "--data", str(renamed), "--model", str(run),
                 "--out", str(again)]) == 0
    found = json.loads(again.read_text())["trained_on"]
    assert (found["n_groups"], found["groups"], found["n_windows"]) == (1, ["x0"], 0)
    assert [Path(e["file"]).name for e in found["stretches"]] == ["x0.hea", "x1.hea", "x2.hea"]
    assert {Path(e["of"]).name for e in found["stretches"]} <= {"v100s.hea", "v101l.hea",
                                                                "v102s.hea"}
    assert "3 file(s) hold stretches of training records under other names" in (
        capsys.readouterr().err)
    # a run fitted before it kept them: renamed copies found by their windows
    (run / ".train_peaks.npz").unlink()
    assert main(["evaluate", "--task", "vt-alarm", "--data", str(renamed), "--model", str(run),
                 "--out", str(again)]) == 0
    assert json.loads(again.read_text())["trained_on"] == {
        "n_groups": 0, "groups": [], "n_windows": 3}
    assert "3 of the 3 windows evaluated are windows the model was fitted on, under other " \
        "names: these figures are not a test" in capsys.readouterr().err
    assert "| cls (NOT A TEST: 3 of 3 windows trained on under other names) |" in (
        again.parent / "results.md").read_text()
    for ext in (".hea", ".mat"):  # and one by its own name: both told (the copies had not been)
        (renamed / f"{heads[3].stem}{ext}").symlink_to(heads[3].with_suffix(ext))
    assert main(["evaluate", "--task", "vt-alarm", "--data", str(renamed), "--model", str(run),
                 "--out", str(again)]) == 0
    assert json.loads(again.read_text())["trained_on"] == {
        "n_groups": 1, "groups": [heads[3].stem], "n_windows": 3}
    err = capsys.readouterr().err
    # x0-x2 (v100s, v101l, v102s) hold stretches of one recording: one group
    assert f"1 of the 2 patients/records evaluated were in the model's training data " \
        f"({heads[3].stem})" in err and "3 of the 4 windows evaluated are windows" in err
    assert "| cls (NOT A TEST: 1 of 2 patients/records trained on; 3 of 4 windows trained on " \
        "under other names) |" in (again.parent / "results.md").read_text()
    merged = tmp_path / "merged"  # a training record beside its copy named to sort first:
    merged.mkdir()  # one group for both, named by the copy; the record is still found by name
    for ext in (".hea", ".mat"):
        (merged / f"{heads[4].stem}{ext}").symlink_to(heads[4].with_suffix(ext))
    (merged / f"a{heads[4].stem}.hea").write_text(
        heads[4].read_text().replace(heads[4].stem, f"a{heads[4].stem}"))
    (merged / f"a{heads[4].stem}.mat").write_bytes(heads[4].with_suffix(".mat").read_bytes())
    want = {"n_groups": 1, "groups": [heads[4].stem], "n_windows": 1}
    assert main(["evaluate", "--task", "vt-alarm", "--data", str(merged), "--model", str(run),
                 "--out", str(tmp_path / "m.json")]) == 0
    assert json.loads((tmp_path / "m.json").read_text())["trained_on"] == want
    capsys.readouterr()
    assert main(["predict", "--task", "vt-alarm", "--data", str(merged), "--model", str(run),
                 "--out", str(tmp_path / "m.csv")]) == 0
    assert json.loads(capsys.readouterr().out)["trained_on"] == want  # as evaluate says it
    assert len(res["predictions"]["y"]) == 20 and res["threshold"] == meta["protocol"]["threshold"]
    assert res["n"] == 20 and len(res["skipped"]) == 1
    assert res["skipped"][0]["record"].endswith(heads[60].name)  # as score and prepare list it
    assert ((np.array(res["predictions"]["score"]) >= res["threshold"])
            == np.array(res["predictions"]["pred"])).all()
    # predict: the same scores and decisions as a table, labels not read
    table = tmp_path / "pred.csv"
    capsys.readouterr()
    assert main(["predict", "--task", "vt-alarm", "--data", str(test), "--model", str(run),
                 "--out", str(table)]) == 0
    assert capsys.readouterr().err.count(f"qualityfm: skipped {res['skipped'][0]['record']}: ") == 1
    rows = list(csv.DictReader(table.open()))
    assert [r["record"] for r in rows] == res["predictions"]["record_ids"]
    assert list(rows[0])[:3] == ["file", "record", "start_s"]  # the same columns for any data
    assert all(r["start_s"] == "nan" for r in rows)  # each row is its record
    np.testing.assert_allclose([float(r["p_true_alarm"]) for r in rows],
                               res["predictions"]["score"], atol=1e-4)
    assert [int(r["true_alarm"]) for r in rows] == res["predictions"]["pred"]
    # the table's own probabilities give its decisions at the threshold (unrounded)
    assert all((float(r["p_true_alarm"]) >= res["threshold"]) == (r["true_alarm"] == "1")
               for r in rows)
    meta["feature_names"] = meta["feature_names"][:-1]
    (run / "finetune.json").write_text(json.dumps(meta))
    assert main(["evaluate", "--task", "vt-alarm", "--data", str(test), "--model", str(run),
                 "--out", str(out)]) == 1  # refused: fitted on other feature columns


def test_cli_reports_a_missing_pretrained_model(tmp_path, capsys) -> None:
    data = shared_path("physionet2015_vt")
    code = main(["finetune", "--task", "vt-alarm", "--data", str(data), "--max-records", "4",
                 "--init", str(tmp_path / "nope"), "--out", str(tmp_path / "r")])
    assert code == 1 and "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # named before the records are read


def test_cli_vt_finetune_defaults_to_a_linear_head_on_mean_and_last_tokens(
        tmp_path, capsys) -> None:
    """Plain ``finetune --task vt-alarm`` (shipped weights) fits a linear head (lbfgs) on the
    mean and last tokens and the stem's maps; ``--init none`` trains the whole network; an
    unknown pool and a solver that does not fit the mode are named before the records are
    read."""
    data = shared_path("physionet2015_vt")
    common = ["--task", "vt-alarm", "--data", str(data), "--max-records", "16", "--epochs", "2"]
    with pytest.raises(SystemExit) as stop:  # argparse's usage error (cli.argtypes.POOL_NAMES)
        main(["finetune", *common, "--pool", "max", "--out", str(tmp_path / "bad")])
    assert stop.value.code == 2
    assert "'max'" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    assert main(["finetune", *common, "--mode", "full", "--solver", "lbfgs",
                 "--out", str(tmp_path / "bad")]) == 1
    assert "mode='linear' (--mode linear;" in capsys.readouterr().err  # the flag named
    assert not (tmp_path / "bad").exists()
    for seconds, bound in (("1e9", "at most 86400 s (a day)"), ("1", "at least 2 s")):
        with pytest.raises(SystemExit):  # the range a flag's ("seconds must be ...", exit 1)
            main(["finetune", *common, "--seconds", seconds, "--out", str(tmp_path / "bad")])
        err = capsys.readouterr().err
        assert f"argument --seconds: must be {bound}" in err and f"got {seconds}" in err
    assert main(["finetune", *common, "--out", str(tmp_path / "pre")]) == 0
    meta = json.loads((tmp_path / "pre" / "finetune.json").read_text())
    assert (meta["mode"], meta["pool"], meta["solver"]) == ("linear", "mean+last+stem", "lbfgs")
    assert meta["history"][0]["C"] in meta["history"][0]["C_grid"]
    summary = json.loads((tmp_path / "pre" / "summary.json").read_text())
    assert (summary["mode"], summary["solver"]) == ("linear", "lbfgs")
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    assert main(["finetune", *common, "--init", "none", "--config", str(cfg),
                 "--out", str(tmp_path / "none")]) == 0
    meta = json.loads((tmp_path / "none" / "finetune.json").read_text())
    assert (meta["mode"], meta["test_shifts"]) == ("full", 1)  # shifts would move the alarm
    assert main(["finetune", *common, "--init", "none", "--config", str(cfg), "--pool", "mean",
                 "--test-shifts", "3", "--out", str(tmp_path / "mean")]) == 0
    assert json.loads((tmp_path / "mean" / "finetune.json").read_text())["test_shifts"] == 3


def test_cli_finetune_with_features_then_evaluate(tmp_path) -> None:
    """``--features``: the saved head keeps the robust centre, scale and bound of its columns,
    and ``evaluate`` on the records feeds it their features (finite, calibrated scores)."""
    data = shared_path("physionet2015_vt")
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    run, out = tmp_path / "run", tmp_path / "eval.json"
    common = ["--task", "vt-alarm", "--data", str(data), "--max-records", "16"]
    assert main(["finetune", *common, "--init", "none", "--config", str(cfg), "--mode",
                 "linear", "--features", "--epochs", "2", "--out", str(run)]) == 0
    meta = json.loads((run / "finetune.json").read_text())
    assert meta["use_features"] is True and meta["feature_bound"] == 5.0
    assert meta["n_features"] == len(meta["feat_center"]) == len(meta["feat_scale"]) > 50
    assert meta["protocol"]["fs"] == 300.0
    assert main(["evaluate", *common, "--model", str(run), "--out", str(out)]) == 0
    score = np.array(json.loads(out.read_text())["predictions"]["score"])
    assert len(score) == 16 and np.isfinite(score).all() and ((0 <= score) & (score <= 1)).all()


def test_cli_af_has_rhythm_metrics_and_no_vt_score(tmp_path) -> None:
    data = shared_path("cinc2017_af")
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps({**TINY, "n_samples": 9000}))
    common = ["--task", "af", "--data", str(data), "--max-records", "30"]
    assert main(["finetune", *common, "--init", "none", "--config", str(cfg), "--epochs", "1",
                 "--no-augment", "--out", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "rhythm" / "model.pt").exists()  # the 4-class head
    for part in ("", "rhythm"):  # the flag reaches both models
        meta = json.loads((tmp_path / "run" / part / "finetune.json").read_text())
        assert meta["augment"] is False
    out = tmp_path / "af.json"
    assert main(["evaluate", *common, "--model", str(tmp_path / "run"), "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert {"auroc", "f1", "macro_f1", "macro_f1_ci", "noisy_auroc", "class_f1"} <= set(res)
    assert res["macro_f1"] == pytest.approx(np.mean([res["class_f1"][c] for c in "NAO"]))
    assert "score" not in res
    assert "| macro_f1 (N, A, O) |" in (tmp_path / "af.md").read_text()  # '~' not averaged
    # the rhythm decisions the macro F1 scores are in the predictions: it recomputes
    from qualityfm.tasks import metrics as M

    pr = res["predictions"]
    assert set(pr["rhythm"]) <= set("NAO~") and len(pr["rhythm_pred"]) == res["n"]
    assert M.macro_f1(np.array(pr["rhythm"]), np.array(pr["rhythm_pred"])) == res["macro_f1"]
    assert M.noisy_auroc(np.array(pr["rhythm"]), pr["p_noisy"]) == res["noisy_auroc"]
    assert all((r == "A") == (p == 1) for r, p in zip(pr["rhythm_pred"], pr["pred"],
                                                       strict=True))


@pytest.mark.parametrize("verb", ["finetune", "compare", "evaluate", "predict", "embed", "score"])
def test_cli_device_is_checked_before_any_work(verb: str, tmp_path, capsys) -> None:
    """Every verb that runs a network takes --device; a bad one is a clear error, not a torch
    traceback, and nothing is written."""
    out = tmp_path / {"embed": "out.npy", "score": "out.csv", "evaluate": "out.json",
                      "predict": "p.csv"}.get(verb, "out")
    (tmp_path / "data").mkdir()
    task = ["--task", "vt-alarm", "--data", str(tmp_path / "data")]
    argv = {"finetune": ["finetune", *task, "--out", str(out)],
            "compare": ["compare", *task, "--out", str(out)],
            "evaluate": ["evaluate", *task, "--model", str(tmp_path), "--out", str(out)],
            "predict": ["predict", *task, "--model", str(tmp_path), "--out", str(out)],
            "embed": ["embed", str(tmp_path), "--out", str(out), "--model", "pretrained"],
            "score": ["score", str(tmp_path), "--out", str(out), "--model", "pretrained"]}[verb]
    assert main([*argv, "--device", "gpu0"]) == 1
    assert "unknown device 'gpu0'" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main([*argv, "--device", "cuda"]) == 1
        assert "device 'cuda' needs a CUDA GPU; none is available here" in capsys.readouterr().err
    for other in ("mps", "meta"):  # devices torch names but qualityfm does not run on (a
        # traceback in .to() had followed, after the data were read)
        assert main([*argv, "--device", other]) == 1
        assert f"device '{other}': qualityfm runs on 'cpu' or 'cuda'" in capsys.readouterr().err
    assert not out.exists()


def test_cli_says_which_options_a_run_ignores_and_records_what_it_used(tmp_path,
                                                                       capsys) -> None:
    data = shared_path("physionet2015_vt")
    common = ["finetune", "--task", "vt-alarm", "--data", str(data), "--max-records", "30"]
    run = tmp_path / "cls"
    assert main([*common, "--init", "classical", "--pool", "mean", "--epochs", "5",
                 "--no-features", "--out", str(run)]) == 0
    assert "--pool, --epochs, --no-features: not used by the classical baseline" in (
        capsys.readouterr().err)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["ignored"] == ["--pool", "--epochs", "--no-features"]
    assert summary["use_features"] is True and summary["augment"] is None
    from qualityfm.tasks.pipeline import _used_settings  # af's threshold maximises the F1
    assert _used_settings(ClassicalBaseline("af", target_tpr=0.8))["target_tpr"] is None
    run = tmp_path / "bp"  # a TPR target is the task's matter, not the model's
    assert main(["finetune", "--task", "abp", "--data", str(data), "--max-records", "12",
                 "--init", "classical", "--target-tpr", "0.9", "--out", str(run)]) == 0
    err = capsys.readouterr().err
    assert "--target-tpr: abp sets no threshold by a TPR target (it has no threshold)" in err
    assert "not used by the classical baseline" not in err
    run = tmp_path / "lin"  # the default vt-alarm head is fitted in closed form: no epochs
    assert main([*common, "--epochs", "5", "--config", "base", "--out", str(run)]) == 0
    err = capsys.readouterr().err
    assert "--epochs: not used by a linear head fitted by lbfgs" in err
    # --config is ignored for the weights, not the head (it had been said "not used by a
    # linear head", and by a full fine-tune, which uses it from --init none)
    assert "--config: sets the architecture of --init none only; --init pretrained brings " \
        "its own, ignored" in err and "--epochs, --config" not in err
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["pool"], summary["test_shifts"], summary["epochs"], summary["seed"]) == (
        "mean+last+stem", 1, None, 0)
    # the linear head never shifts windows: neither record claims it did
    assert summary["augment"] is None
    assert json.loads((run / "finetune.json").read_text())["augment"] is None
    # a classical model saved from Python, fitted on 10-s windows padded to 30 s, reads the
    # task's 10 s by default, as fitted (its padded length, read as its windows, had given
    # other features and probabilities, unsaid)
    import csv

    from qualityfm.tasks import build_task_dataset

    ds = build_task_dataset("vt-alarm", data, seconds=10, pad_to=30, max_records=30,
                            labels=False)
    clf = ClassicalBaseline("vt-alarm", max_iter=20).fit(
        ds.X, (np.arange(len(ds)) % 2), ds.mask, ds.groups, features=ds.features)
    clf.save(tmp_path / "pad30")
    predict_run("vt-alarm", tmp_path / "pad30", data, tmp_path / "p.csv", max_records=30)
    with open(tmp_path / "p.csv", newline="") as f:
        p = np.array([float(r["p_true_alarm"]) for r in csv.DictReader(f)])
    np.testing.assert_allclose(p, clf.predict_proba(ds.X, ds.mask, ds.features), atol=1e-6)


def test_cli_compare_refuses_rows_it_cannot_run_before_any_work(tmp_path, capsys) -> None:
    data = shared_path("physionet2015_vt")
    out = tmp_path / "cmp"
    common = ["compare", "--task", "vt-alarm", "--data", str(data), "--max-records", "30",
              "--kfold", "2", "--out", str(out)]
    assert main([*common, "--baselines", "classical", "--models", "nowhere"]) == 1
    assert "--models nowhere: model nowhere does not exist" in capsys.readouterr().err
    assert main([*common, "--baselines", "", "--models", "a=pretrained", "a=none",
                 "--modes", "linear"]) == 1
    assert "two --models give the row 'a (linear)'" in capsys.readouterr().err
    assert main([*common, "--baselines", "", "--models", "v1.0=pretrained", "v1-0=none",
                 "--modes", "linear"]) == 1  # one report file for two rows
    assert "would write the same report files (v1_0__linear.*)" in capsys.readouterr().err
    assert main([*common, "--baselines", "", "--models", "pretrained", "--modes", ""]) == 1
    assert "no --modes" in capsys.readouterr().err
    assert main([*common, "--baselines", ""]) == 1
    assert "nothing to compare" in capsys.readouterr().err
    assert main([*common, "--baselines", "classical", "--modes", "nope"]) == 1  # refused
    err = capsys.readouterr().err  # alone (a note had first called it ignored)
    assert "unknown mode 'nope'; choose from full, linear" in err and "ignored" not in err
    store = tmp_path / "store"  # a folder that exists but holds no model
    store.mkdir()
    assert main([*common, "--baselines", "classical", "--models", f"s={store}"]) == 1
    assert f"--models s={store}: " in capsys.readouterr().err
    assert main([*common, "--baselines", "classical", "--reference", "nope"]) == 1
    assert "reference 'nope' is not a row" in capsys.readouterr().err
    assert not out.exists()
    assert main([*common, "--baselines", "classical"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rows"] == ["classical features + GBM"] and summary["n"] == 30
    assert summary["skipped"] == [] and summary["kfold"] == 2
    assert summary["target_tpr"] is None
    # --target-tpr as finetune's: a lower target keeps fewer true alarms in every fold
    low = tmp_path / "low"
    assert main([*common[:-1], str(low), "--baselines", "classical", "--target-tpr", "0.6"]) == 0
    assert json.loads((low / "summary.json").read_text())["target_tpr"] == 0.6
    assert "fold's validation data, set to keep TPR >= 0.6 on new positives" in (
        low / "table.md").read_text()  # the table says what its fold thresholds keep
    row = "classical features + GBM"
    folds = [json.loads((d / "compare.json").read_text())[row]["folds"] for d in (out, low)]
    assert all(b["threshold"] >= a["threshold"] for a, b in zip(*folds, strict=True))
    assert folds[1] != folds[0]
    # a comparison of other rows into the same folder leaves none of the old rows' files
    (out / "notes.txt").write_text("mine")
    other = [*common, "--baselines", "", "--models", "r=none", "--modes", "linear"]
    assert main(other) == 1  # refused without --overwrite: the old rows stay
    assert "holds a finished run (compare.json)" in capsys.readouterr().err
    assert json.loads((out / "summary.json").read_text())["rows"] == ["classical features + GBM"]
    from qualityfm.tasks import pipeline

    def stopped(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as mp:  # stopped before its rows are done: the old
        mp.setattr(pipeline, "_task_cv", stopped)  # comparison stays (it had been removed
        assert main([*other, "--overwrite"]) == 130  # first, leaving neither)
    assert json.loads((out / "summary.json").read_text())["rows"] == ["classical features + GBM"]
    assert (out / "table.md").exists() and list(out.glob("classical_features*"))
    assert main([*other, "--overwrite"]) == 0
    assert not list(out.glob("classical_features*")) and (out / "notes.txt").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rows"] == ["r (linear)"] and summary["solver"] is None  # as given
    used = summary["row_settings"]["r (linear)"]  # as the row ran: the defaults resolved
    assert (used["mode"], used["solver"], used["pool"]) == ("linear", "lbfgs", "mean+last+stem")


def test_cli_finetune_into_a_used_folder_leaves_no_stale_model(tmp_path, capsys) -> None:
    data = shared_path("physionet2015_vt")
    run = tmp_path / "run"
    common = ["finetune", "--task", "vt-alarm", "--data", str(data), "--max-records", "30",
              "--out", str(run)]
    assert main([*common, "--kfold", "2", "--init", "classical"]) == 0
    assert "\n| 2-fold CV, the classical baseline |" in (run / "cv.md").read_text()
    assert ("each fold's decisions at its own threshold, fixed on that fold's validation data, "
            "set to keep TPR >= 0.95 on new positives.") in (run / "cv.md").read_text()
    assert main([*common]) == 1  # a finished run is not replaced by mistake
    assert "holds a finished run (cv.json): --overwrite replaces it" in capsys.readouterr().err
    assert (run / "cv.json").exists() and not (run / "model.pt").exists()
    common.append("--overwrite")
    assert main([*common]) == 0  # the default network head replaces the CV report
    assert (run / "model.pt").exists() and not (run / "cv.json").exists()
    assert main([*common[:-1], "--kfold", "2", "--init", "classical"]) == 1  # nor a model
    assert (run / "model.pt").exists() and not (run / "cv.json").exists()
    (run / ".folds").mkdir()  # as a k-fold run stopped here would leave
    assert main([*common, "--init", "classical"]) == 0
    assert (run / "classical.pkl").exists() and not (run / "model.pt").exists()
    assert not (run / ".folds").exists()  # else a --kfold run would "resume" over the model
    (run / ".folds").mkdir()  # as a plain --overwrite run stopped removing stopped folds
    capsys.readouterr()  # leaves it: no finished fold to resume, the model stays
    assert main([*common[:-1], "--kfold", "2", "--init", "classical"]) == 1
    assert "holds a finished run (finetune.json)" in capsys.readouterr().err
    assert (run / "classical.pkl").exists()
    (run / ".folds").rmdir()
    assert main(["compare", "--task", "vt-alarm", "--data", str(data), "--max-records", "30",
                 "--baselines", "classical", "--kfold", "2", "--out", str(run)]) == 1
    assert "holds a finished run (finetune.json)" in capsys.readouterr().err
    out = tmp_path / "res.json"
    # --overwrite across kinds: the folder holds the new run's files only
    cmp = tmp_path / "across"
    shutil.copytree(run, cmp)
    assert main(["compare", "--task", "vt-alarm", "--data", str(data), "--max-records", "30",
                 "--baselines", "classical", "--kfold", "2", "--out", str(cmp),
                 "--overwrite"]) == 0
    assert not (cmp / "classical.pkl").exists() and not (cmp / "finetune.json").exists()
    assert (cmp / "compare.json").exists()
    assert main([*common[:-2], str(cmp), "--overwrite", "--kfold", "2", "--init",
                 "classical"]) == 0
    assert not list(cmp.glob("classical_features*")) and not (cmp / "table.md").exists()
    assert not (cmp / "compare.json").exists() and (cmp / "cv.json").exists()
    assert main(["evaluate", "--task", "vt-alarm", "--data", str(data), "--max-records", "30",
                 "--model", str(run), "--out", str(out)]) == 0
    mine = tmp_path / "mine"  # a folder that holds no run: files of the same names stay
    mine.mkdir()
    (mine / "model.pt").write_text("the user's own")
    assert main([*common[:-2], str(mine), "--kfold", "2", "--init", "classical"]) == 0
    assert (mine / "model.pt").read_text() == "the user's own" and (mine / "cv.json").exists()


def test_cli_plain_fine_tune_stopped_part_way_resumes(tmp_path, capsys, monkeypatch) -> None:
    """A plain finetune of a network stopped (Ctrl-C) after its second epoch: the same
    command resumes after it and saves what an unstopped run saves; the epochs are removed."""
    from qualityfm.tasks import Finetuner

    data = shared_path("physionet2015_vt")
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps({**TINY, "n_samples": 3000}))
    common = ["finetune", "--task", "vt-alarm", "--data", str(data), "--max-records", "16",
              "--init", "none", "--config", str(cfg), "--epochs", "4", "--no-features",
              "--cache", str(tmp_path / "cache")]
    assert main([*common, "--out", str(tmp_path / "whole")]) == 0
    save = Finetuner._save_epochs
    run = tmp_path / "run"
    monkeypatch.setattr(Finetuner, "_save_epochs", stop_at(save, 2))
    assert main([*common, "--out", str(run)]) == 130
    assert [p.name for p in (run / ".epochs").iterdir()] == ["vt-alarm.pt"]
    monkeypatch.setattr(Finetuner, "_save_epochs", save)
    capsys.readouterr()
    assert main([*common, "--out", str(run)]) == 0
    assert "resumed after epoch 2" in capsys.readouterr().err
    assert not (run / ".epochs").exists()
    whole = json.loads((tmp_path / "whole" / "finetune.json").read_text())
    resumed = json.loads((run / "finetune.json").read_text())
    assert resumed["protocol"] == whole["protocol"]


@pytest.mark.slow
def test_cli_kfold_run_stopped_part_way_resumes(tmp_path, capsys, monkeypatch) -> None:
    """finetune --kfold keeps each finished fold until its report is written: stopped in
    its second fold, the same command resumes there; the report equals an unstopped run's
    and the folds are removed. compare does the same per row."""
    from qualityfm.tasks import ClassicalBaseline

    data = shared_path("physionet2015_vt")
    cache = ["--cache", str(tmp_path / "cache")]  # the dataset is built once
    common = ["finetune", "--task", "vt-alarm", "--data", str(data), "--max-records", "30",
              "--kfold", "3", "--init", "classical", *cache]
    assert main([*common, "--out", str(tmp_path / "whole")]) == 0
    fit = ClassicalBaseline.fit
    run = tmp_path / "run"
    monkeypatch.setattr(ClassicalBaseline, "fit", stop_at(fit, 2, before=True))
    assert main([*common, "--out", str(run)]) == 130
    assert [p.name for p in (run / ".folds").iterdir()] == ["y-fold0.npz"]
    monkeypatch.setattr(ClassicalBaseline, "fit", fit)
    capsys.readouterr()
    # resumed with --data spelt otherwise and an option the GBM ignores: the same folds
    again = [os.path.relpath(data) if a == str(data) else a for a in common]
    assert main([*again, "--epochs", "3", "--out", str(run)]) == 0
    assert "fold 1/3 read from the checkpoint" in capsys.readouterr().err
    assert not (run / ".folds").exists()
    whole = json.loads((tmp_path / "whole" / "cv.json").read_text())
    resumed = json.loads((run / "cv.json").read_text())
    assert resumed["auroc"] == whole["auroc"] and resumed["folds"] == whole["folds"]
    out = tmp_path / "cmp"
    cmp = ["compare", "--task", "vt-alarm", "--data", str(data), "--max-records", "30",
           "--kfold", "3", "--baselines", "classical", "--out", str(out), *cache]
    monkeypatch.setattr(ClassicalBaseline, "fit", stop_at(fit, 2, before=True))
    assert main(cmp) == 130
    assert list((out / ".folds").glob("*/y-fold0.npz"))
    monkeypatch.setattr(ClassicalBaseline, "fit", fit)
    assert main(cmp) == 0 and not (out / ".folds").exists()
    row = json.loads((out / "compare.json").read_text())["classical features + GBM"]
    assert row["auroc"] == whole["auroc"]


def test_a_model_of_another_rate_is_fine_tuned_evaluated_and_applied_at_it(tmp_path) -> None:
    """finetune --init MODEL of a 250-Hz model builds its vt-alarm windows at 250 Hz (10 s:
    2500 samples), records the rate, and evaluate and predict build theirs at it too."""
    from safetensors.torch import save_file

    from qualityfm.model import QualityFM, QualityFMConfig
    from qualityfm.train.export import CONFIG_NAME, FORMAT, WEIGHTS_NAME

    data = shared_path("physionet2015_vt")
    cfg = QualityFMConfig.from_dict({**TINY, "n_samples": 2500, "fs": 250.0})
    model = tmp_path / "model250"
    model.mkdir()
    save_file({k: v.contiguous() for k, v in QualityFM(cfg).state_dict().items()},
              str(model / WEIGHTS_NAME),
              metadata={"format": FORMAT, "config": json.dumps(cfg.to_dict())})
    (model / CONFIG_NAME).write_text(json.dumps({"format": FORMAT, "model": cfg.to_dict()}))
    run = tmp_path / "run"
    common = ["--task", "vt-alarm", "--data", str(data), "--max-records", "16",
              "--cache", str(tmp_path / "cache")]
    assert main(["finetune", *common, "--init", str(model), "--no-features", "--out",
                 str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["settings"]["fs"] == 250.0
    assert json.loads((run / "finetune.json").read_text())["protocol"]["window"] == [2, 2500]
    out = tmp_path / "res.json"
    assert main(["evaluate", *common, "--model", str(run), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["n"] == 16
    table = tmp_path / "pred.csv"
    assert main(["predict", *common, "--model", str(run), "--out", str(table)]) == 0
    assert len(list(csv.DictReader(table.open()))) == 16


def test_compare_and_finetune_fold_keys_follow_the_contents_they_name(tmp_path, monkeypatch,
                                                                        capsys) -> None:
    """A --config file edited, or a .safetensors model rewritten, between a stop and a resume
    changes the key its folds are read back under (the path alone had been keyed, and the
    resume mixed folds of two models)."""
    import qualityfm.tasks.pipeline as P

    keys = []

    class Seen(Exception):
        pass

    def capture(make, ds, kfold, seed, n_boot, folds, key):  # noqa: ANN001, ANN202
        keys.append(json.dumps(key, sort_keys=True))
        raise Seen

    monkeypatch.setattr(P, "_task_cv", capture)
    monkeypatch.setattr(P, "_check_splits", lambda *a: None)  # (one class a fold: a key still)
    cfg = tmp_path / "tiny.json"
    data = shared_path("physionet2015_vt")
    for d_model in (16, 32):
        cfg.write_text(json.dumps({**TINY, "d_model": d_model,
                                   "stem_channels": [4, 8, d_model]}))
        with pytest.raises(Seen):
            P.compare_run("vt-alarm", data, tmp_path / f"cmp{d_model}", baselines=("scratch",),
                          config=str(cfg), max_records=20, kfold=2)
    assert keys[0] != keys[1]
    weights = tmp_path / "m" / "base.safetensors"
    weights.parent.mkdir()
    weights.write_bytes(b"0" * 10)
    (tmp_path / "m" / "base.json").write_text("{}")
    from qualityfm.tasks.evaluate import files_stamp

    first = files_stamp(str(weights))
    weights.write_bytes(b"1" * 20)  # retrained in place
    assert first and files_stamp(str(weights)) != first
    # --data spelt otherwise, with a record skipped: the same keys (the skip's path, as
    # --data spells it, had been keyed, and the resume fitted every fold again)
    folder = link_vt_alarms(tmp_path / "vt", true=3, false=3, prefix="v1")  # both kinds
    (folder / "bad.hea").write_text("bad 1 250 x\n")
    keys.clear()
    for spelt in (folder, Path(os.path.relpath(folder))):
        for run in (lambda d: P.finetune_run("vt-alarm", d, tmp_path / "ft", init="classical",
                                             kfold=2),
                    lambda d: P.compare_run("vt-alarm", d, tmp_path / "cmp",
                                            baselines=("classical",), kfold=2)):
            with pytest.raises(Seen):
                run(spelt)
    assert keys[0] == keys[2] and keys[1] == keys[3]
    # options no row uses key nothing and are named (a classical row's finished folds had
    # been fitted again, and summary.json had recorded the options as if applied)
    keys.clear()
    for extra in ({}, {"pool": "mean", "epochs": 3, "test_shifts": 4}):
        with pytest.raises(Seen):
            P.compare_run("vt-alarm", folder, tmp_path / "cmp2", baselines=("classical",),
                          kfold=2, **extra)
    assert keys[0] == keys[1]
    # --epochs too (its CLI default had hidden whether it was given)
    assert "--epochs, --pool, --test-shifts: used by no row of this comparison, ignored" in \
        capsys.readouterr().err
    from qualityfm.cli import build_parser
    args = build_parser().parse_args(["compare", "--task", "vt-alarm", "--data", str(folder),
                                      "--out", str(tmp_path / "cmp3")])
    assert args.epochs is None and args.modes is None
    # the options of --models rows given without one: those given named, in summary.json too
    # (a fixed note had named --solver unasked; --modes and --with-features were unrecorded)
    monkeypatch.undo()
    P.compare_run("vt-alarm", data, tmp_path / "cmp4", baselines=("classical",), kfold=2,
                  n_boot=20, max_records=40, modes=["full"], with_features=True, epochs=3)
    err = capsys.readouterr().err
    assert "--modes, --with-features: for --models rows only, and none is given; ignored" in err
    assert "--solver" not in err and "--epochs: used by no row" in err
    summary = json.loads((tmp_path / "cmp4" / "summary.json").read_text())
    assert summary["ignored"] == ["--modes", "--with-features", "--epochs"]
    # --target-tpr on a task of no TPR target: named under ignored too (said on stderr alone)
    P.compare_run("abp", data, tmp_path / "cmp5", baselines=("classical",), kfold=2,
                  n_boot=20, max_records=40, target_tpr=0.9)
    assert "--target-tpr: abp models take no TPR target; ignored" in capsys.readouterr().err
    summary = json.loads((tmp_path / "cmp5" / "summary.json").read_text())
    assert summary["ignored"] == ["--target-tpr"] and summary["target_tpr"] is None


def test_a_finetune_into_a_stopped_comparison_is_refused(tmp_path) -> None:
    """A finetune run had removed a stopped comparison's finished rows (its .folds) without
    --overwrite; so had an evaluate/predict --out that is a folder only been refused after
    the work."""
    from qualityfm.inference.score import check_output
    from qualityfm.tasks.pipeline import FOLDS_DIR, compare_run, finetune_run

    row = tmp_path / "cmp" / FOLDS_DIR / "scratch"
    row.mkdir(parents=True)
    (row / "y-fold0.npz").write_bytes(b"finished")
    with pytest.raises(ValueError, match=r"holds a stopped comparison \(finished folds of "
                                         r"scratch in \.folds\)"):
        finetune_run("vt-alarm", tmp_path / "data", tmp_path / "cmp", init="classical")
    assert (row / "y-fold0.npz").is_file()
    # and the other way: a comparison into a stopped finetune --kfold's folder
    folds = tmp_path / "ft" / FOLDS_DIR
    folds.mkdir(parents=True)
    (folds / "y-fold0.npz").write_bytes(b"finished")
    with pytest.raises(ValueError, match=r"holds a stopped finetune --kfold"):
        compare_run("vt-alarm", tmp_path / "data", tmp_path / "ft", baselines=("classical",))
    assert (folds / "y-fold0.npz").is_file()
    (tmp_path / "t.csv").mkdir()
    with pytest.raises(ValueError, match=r"t\.csv is a folder"):
        check_output(tmp_path / "t.csv")


def test_overwrite_removes_the_other_verbs_stopped_folds(tmp_path, monkeypatch) -> None:
    """finetune --overwrite over a stopped comparison, and compare --overwrite over a stopped
    finetune --kfold, themselves stopped: the other verb's stopped folds are gone, so that
    the new run resumes (they had stayed, and each verb refused the folder, naming the
    other)."""
    from qualityfm.tasks import pipeline
    from qualityfm.tasks.pipeline import FOLDS_DIR, compare_run, finetune_run

    def stop(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise KeyboardInterrupt

    data = shared_path("physionet2015_vt")
    row = tmp_path / "cmp" / FOLDS_DIR / "scratch"
    row.mkdir(parents=True)
    (row / "y-fold0.npz").write_bytes(b"finished")
    monkeypatch.setattr(pipeline, "_task_cv", stop)
    with pytest.raises(KeyboardInterrupt):
        finetune_run("vt-alarm", data, tmp_path / "cmp", init="classical", max_records=20,
                     kfold=2, overwrite=True)
    assert not row.exists()
    folds = tmp_path / "ft" / FOLDS_DIR
    folds.mkdir(parents=True)
    (folds / "y-fold0.npz").write_bytes(b"finished")
    with pytest.raises(KeyboardInterrupt):
        compare_run("vt-alarm", data, tmp_path / "ft", baselines=("classical",), kfold=2,
                    n_boot=10, max_records=20, overwrite=True)
    assert not (folds / "y-fold0.npz").exists()
    monkeypatch.undo()  # resumed without --overwrite: neither folder is refused
    compare_run("vt-alarm", data, tmp_path / "ft", baselines=("classical",), kfold=2,
                n_boot=10, max_records=20)
    assert (tmp_path / "ft" / "compare.json").is_file()


def test_a_kfold_run_or_comparison_asks_overwrite_before_a_stopped_plain_runs_epochs(
        tmp_path) -> None:
    """A stopped plain run's .epochs (a resumable network fit) had been removed unasked by a
    finetune --kfold (a comparison asked first): both refuse the folder, and --overwrite
    removes them once the data is read, so that the same command resumes without it."""
    from qualityfm.tasks import pipeline
    from qualityfm.tasks.pipeline import EPOCHS_DIR, compare_run, finetune_run

    data = shared_path("physionet2015_vt")

    def stop(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise KeyboardInterrupt

    def run(name: str, overwrite: bool = False) -> dict:
        if name == "ft":
            return finetune_run("vt-alarm", data, tmp_path / name, init="classical",
                                max_records=20, kfold=2, overwrite=overwrite)
        return compare_run("vt-alarm", data, tmp_path / name, kfold=2, n_boot=10,
                           baselines=("classical",), max_records=20, overwrite=overwrite)

    for name in ("ft", "cmp"):
        epochs = tmp_path / name / EPOCHS_DIR
        epochs.mkdir(parents=True)
        (epochs / "vt-alarm.pt").write_bytes(b"a stopped fit's epochs")
        with pytest.raises(ValueError, match=r"holds a stopped finetune \(its last "
                                             r"finished epoch in \.epochs\)"):
            run(name)
        assert epochs.is_dir()
        with pytest.MonkeyPatch.context() as mp:  # stopped after the data is read: the
            mp.setattr(pipeline, "_task_cv", stop)  # epochs go then, so that the same
            with pytest.raises(KeyboardInterrupt):  # command resumes without --overwrite
                run(name, overwrite=True)
        assert not epochs.exists()
        run(name)


def test_a_plain_run_asks_overwrite_before_a_stopped_kfold_runs_folds(tmp_path) -> None:
    """A plain finetune had removed a stopped finetune --kfold's finished folds unasked."""
    from qualityfm.tasks.pipeline import FOLDS_DIR, finetune_run

    folds = tmp_path / "ft" / FOLDS_DIR
    folds.mkdir(parents=True)
    (folds / "y-fold0.npz").write_bytes(b"finished")
    with pytest.raises(ValueError, match=r"holds a stopped finetune --kfold \(finished folds "
                                         r"such as \.folds/y-fold0\.npz\): resume it with "
                                         r"finetune --kfold, --overwrite it"):
        finetune_run("vt-alarm", shared_path("physionet2015_vt"), tmp_path / "ft",
                     init="classical", max_records=20)
    assert (folds / "y-fold0.npz").is_file()
    finetune_run("vt-alarm", shared_path("physionet2015_vt"), tmp_path / "ft",
                 init="classical", max_records=20, overwrite=True)
    assert not (folds / "y-fold0.npz").exists()
    assert (tmp_path / "ft" / "classical.pkl").is_file()


def test_a_models_spec_keeps_a_folder_name_holding_an_equals_sign(tmp_path,
                                                                  monkeypatch) -> None:
    """A sweep folder runs/lr=3e-4 had been parted at its own '=' (model 3e-4 does not exist),
    with or without a NAME= before it."""
    from qualityfm.tasks.pipeline import model_spec

    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "lr=3e-4").mkdir(parents=True)
    assert model_spec("runs/lr=3e-4") == ("", "runs/lr=3e-4")
    assert model_spec("mine=runs/lr=3e-4") == ("mine", "runs/lr=3e-4")
    assert model_spec("r=none") == ("r", "none") and model_spec("pretrained") == ("",
                                                                                 "pretrained")
    assert model_spec("a=b=") == ("a=b", "")


def test_overwrite_removes_nothing_before_the_rhythm_folds_or_groups_are_checked(
        tmp_path) -> None:
    """af's rhythm folds had been checked after --overwrite removed the stopped work (and every
    binary fold was fitted); a plain run on one group had been refused by its fit, the
    stopped --kfold run's folds gone."""
    from qualityfm.tasks.pipeline import FOLDS_DIR, compare_run, finetune_run

    af = tmp_path / "af9"  # 3 N, 3 A, 3 O: 6/3 binary rows allow 3 folds, rhythm only 3
    af.mkdir()
    lines = (shared_path("cinc2017_af") / "REFERENCE.csv").read_text().splitlines()
    kept = [ln for c in "NAO" for ln in [x for x in lines if x.endswith("," + c)][:3]]
    for ln in kept:
        for ext in (".hea", ".mat"):
            shutil.copy(shared_path("cinc2017_af", ln.split(",")[0] + ext), af)
    (af / "REFERENCE.csv").write_text("\n".join(kept) + "\n")
    for verb, stopped in (("finetune", FOLDS_DIR + "/classical/y-fold0.npz"),
                          ("compare", FOLDS_DIR + "/y-fold0.npz")):
        out = tmp_path / verb
        (out / stopped).parent.mkdir(parents=True)
        (out / stopped).write_bytes(b"finished")
        with pytest.raises(ValueError, match=r"k=4 folds"):
            if verb == "finetune":
                finetune_run("af", af, out, init="classical", kfold=4, overwrite=True)
            else:
                compare_run("af", af, out, baselines=("classical",), kfold=4, overwrite=True)
        assert (out / stopped).is_file()
    one = tmp_path / "one"  # one record's abp windows: one group
    one.mkdir()
    for ext in (".hea", ".mat"):
        shutil.copy(shared_path("physionet2015_vt", "v122s" + ext), one)
    out = tmp_path / "plain"
    (out / FOLDS_DIR).mkdir(parents=True)
    (out / FOLDS_DIR / "y-fold0.npz").write_bytes(b"finished")
    with pytest.raises(ValueError, match=r"groups holds one group \(v122s\)"):
        finetune_run("abp", one, out, init="classical", overwrite=True)
    assert (out / FOLDS_DIR / "y-fold0.npz").is_file()
    # the fits' own validation splits too: one true and one false alarm hold one row a class
    two = link_vt_alarms(tmp_path / "two", true=1, false=1)
    for kfold in (None, 2):
        with pytest.raises(ValueError, match=r"need 2 rows in the largest class"):
            finetune_run("vt-alarm", two, out, init="classical", kfold=kfold, overwrite=True)
        assert (out / FOLDS_DIR / "y-fold0.npz").is_file()
    # a classical model fitted from windows alone (no features array) reads its own length
    from qualityfm.tasks import build_task_dataset

    ds = build_task_dataset("vt-alarm", shared_path("physionet2015_vt"), seconds=20,
                            max_records=30)
    ClassicalBaseline("vt-alarm", max_iter=10).fit(ds.X, ds.y, ds.mask, ds.groups).save(
        tmp_path / "win20")
    res = predict_run("vt-alarm", tmp_path / "win20", shared_path("physionet2015_vt"),
                      tmp_path / "p20.csv", max_records=30)  # (the task's 10 s: refused)
    assert res["seconds"] == 20.0


def test_overwrite_keeps_a_users_model_file_and_refuses_test_shifts_first(tmp_path) -> None:
    """--overwrite had removed a user's model.pt beside a classical or k-fold run (every model
    file went whenever a finetune.json or cv.json was there); and an option the windows
    refuse (--test-shifts) had been refused by the fit, the stopped work already gone."""
    from qualityfm.tasks.pipeline import EPOCHS_DIR, finetune_run

    data = shared_path("physionet2015_vt")
    for kfold in (None, 2):
        out = tmp_path / f"run{kfold}"
        out.mkdir()
        (out / "model.pt").write_text("my weights, do not lose")
        for overwrite in (False, True):
            finetune_run("vt-alarm", data, out, init="classical", max_records=20, kfold=kfold,
                         overwrite=overwrite)
        assert (out / "model.pt").read_text() == "my weights, do not lose"
    epochs = tmp_path / "ft" / EPOCHS_DIR
    epochs.mkdir(parents=True)
    (epochs / "vt-alarm.pt").write_bytes(b"a stopped fit's epochs")
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY))
    with pytest.raises(ValueError, match=r"test_shifts \(--test-shifts\) 100000 exceeds the "
                                         r"windows' 3000 "
                                         r"samples"):
        finetune_run("vt-alarm", data, tmp_path / "ft", init="none", config=str(config),
                     mode="linear", solver="lbfgs", test_shifts=100000, max_records=20,
                     kfold=2, overwrite=True)
    assert (epochs / "vt-alarm.pt").is_file()
    with pytest.raises(ValueError, match=r"k=40 folds need 2 <= k <= number of groups"):
        finetune_run("vt-alarm", data, tmp_path / "ft", init="classical", max_records=20,
                     kfold=40, overwrite=True)  # a fold's refusal: the epochs stay too
    assert (epochs / "vt-alarm.pt").is_file()
    # an option the run ignores is not checked (the classical baseline shifts no window)
    finetune_run("vt-alarm", data, tmp_path / "cls", init="classical", max_records=20,
                 test_shifts=100000)


def test_compare_at_another_rate_fits_its_classical_row_at_that_rate(tmp_path) -> None:
    """A comparison of windows at 250 Hz (--config) had its classical row refused by
    cross_validate: the row read windows at 300 Hz."""
    from qualityfm.tasks.pipeline import compare_run

    config = tmp_path / "cfg250.json"
    config.write_text(json.dumps({**TINY, "n_samples": 2500, "fs": 250.0}))
    rows = compare_run("vt-alarm", shared_path("physionet2015_vt"), tmp_path / "cmp",
                       baselines=("classical", "scratch"), kfold=2, n_boot=10, max_records=20,
                       config=str(config), epochs=1)
    assert rows["classical features + GBM"]["n"] == 20
    summary = json.loads((tmp_path / "cmp" / "summary.json").read_text())
    assert summary["settings"]["fs"] == 250.0


def test_a_users_files_of_a_runs_names_are_refused(tmp_path) -> None:
    """A folder of no run of ours holding a user's summary.json, model.pt, classical.pkl or
    table.md: a finetune or compare writing that file there had replaced it unsaid (a file a
    run does not write stays, as does a stopped run's own summary)."""
    from qualityfm.tasks.pipeline import compare_run, finetune_run

    def finetune(init: str, kfold: int | None = None):  # noqa: ANN202
        return lambda o: finetune_run("vt-alarm", tmp_path / "data", o, init=init, kfold=kfold)

    for name, run in (("summary.json", finetune("classical")),
                      ("classical.pkl", finetune("classical")),
                      ("model.pt", finetune("none")), ("cv.md", finetune("none", 2)),
                      ("summary.json", lambda o: compare_run("vt-alarm", tmp_path / "data", o)),
                      ("table.md", lambda o: compare_run("vt-alarm", tmp_path / "data", o))):
        mine = tmp_path / name.replace(".", "_")
        mine.mkdir(exist_ok=True)
        (mine / name).write_text("mine")
        with pytest.raises(ValueError, match=rf"--out .* holds {re.escape(name)}, which no "
                                             r"qualityfm run wrote there"):
            run(mine)
        assert (mine / name).read_text() == "mine"
    (tmp_path / "model_pt" / "summary.json").write_text(json.dumps(  # a stopped run's own
        {"task": "vt-alarm", "n": 3, "settings": {}}))
    with pytest.raises(FileNotFoundError):  # not refused for its files: on to the data
        finetune("none")(tmp_path / "model_pt")


def test_predict_with_a_model_saved_from_python_reads_its_rate(tmp_path) -> None:
    """A model saved by Finetuner.save has no run summary: its windows had been built at
    300 Hz whatever rate it was fitted at, and every record refused."""
    from qualityfm.model import QualityFMConfig
    from qualityfm.tasks import Finetuner

    cfg = QualityFMConfig(**{**TINY, "n_samples": 2500, "fs": 250.0})
    x = np.random.default_rng(0).normal(0, 0.3, (20, 2, 2500)).astype(np.float32)
    Finetuner("vt-alarm", init="none", config=cfg, mode="full", epochs=1, seed=0, fs=250.0,
              use_features=False).fit(x, np.tile([0, 1], 10), groups=np.arange(20)).save(
        tmp_path / "m")
    res = predict_run("vt-alarm", tmp_path / "m", shared_path("physionet2015_vt"),
                      tmp_path / "p.csv", max_records=3)
    assert res["n"] == 3 and not res["skipped"]
    # it keeps its training windows' digests, which predict and evaluate compare with theirs
    from qualityfm.tasks import load_estimator
    from qualityfm.tasks.finetune import window_digests

    assert load_estimator(tmp_path / "m").train_windows == sorted(set(window_digests(x)))
    assert res["trained_on"] == {"n_groups": 0, "groups": [], "n_windows": 0}
    # nor its window length: a network fitted on 16-s windows reads them without --seconds
    Finetuner("vt-alarm", init="none", config=cfg, mode="full", epochs=1, seed=0, fs=250.0,
              use_features=False).fit(np.tile(x, (1, 1, 2))[..., :4000], np.tile([0, 1], 10),
                                      groups=np.arange(20)).save(tmp_path / "m16")
    res = predict_run("vt-alarm", tmp_path / "m16", shared_path("physionet2015_vt"),
                      tmp_path / "p16.csv", max_records=2)
    assert res["n"] == 2 and res["seconds"] == 16.0


def test_predict_names_the_records_lacking_a_channel_the_fit_always_had(tmp_path) -> None:
    """A model fitted on windows that all held ECG II, predicting records of flat leads: one
    warning naming the records (it had named rows of each 64-record part, once a part)."""
    import warnings

    from qualityfm.tasks.pipeline import finetune_run

    vt = shared_path("physionet2015_vt")
    finetune_run("vt-alarm", vt, tmp_path / "run", init="classical", max_records=20)
    assert json.loads((tmp_path / "run" / "finetune.json").read_text()
                      )["protocol"]["always_present"][1] is True  # ecg_ii, in every window
    folder = tmp_path / "bedside"
    folder.mkdir()
    for record in ("v100s", "v400s", "v623l", "v101l"):  # v400s and v623l: ECG II flat
        for suffix in (".hea", ".mat"):
            shutil.copy(vt / (record + suffix), folder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = predict_run("vt-alarm", tmp_path / "run", folder, tmp_path / "p.csv",
                          records_per_part=1)
    # their PPG alone, which the model never read without an ECG: no output, said once (an
    # absence had been named by row of each 64-record part, once a part)
    said = [str(w.message) for w in caught if "row(s)" in str(w.message)]
    assert res["n"] == 4 and said == [
        "2 row(s) hold none of the channels present in every window the model was fitted on: "
        "their outputs are left empty (no prediction)"]
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert sum(line.endswith(",nan,") for line in rows) == 2, rows
    # evaluate leaves them out of its metrics as predict leaves them empty, and lists them
    # (it had scored the model's guess there: v400s a false positive at p 0.13)
    from qualityfm.tasks.pipeline import evaluate_run

    res = evaluate_run("vt-alarm", tmp_path / "run", folder, tmp_path / "ev.json")
    assert res["n"] == 2 and sorted(res["predictions"]["record_ids"]) == ["v100s", "v101l"]
    blind = [e for e in res["left_out"] if "no output, as predict leaves it" in e["reason"]]
    assert sorted(e["window"] for e in blind) == ["v400s", "v623l"]
    assert sorted(e["file"] for e in blind) == [str(folder / "v400s.hea"),
                                                str(folder / "v623l.hea")]  # as other rows
    assert "a deployment keeps the alarm" in blind[0]["reason"]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    (tmp_path / "run" / "summary.json").write_text(json.dumps({**summary, "settings": []}))
    with pytest.raises(ValueError, match=r"summary\.json: damaged run summary \(its settings "
                                         r"are no JSON object\)"):  # (an AttributeError)
        evaluate_run("vt-alarm", tmp_path / "run", folder, tmp_path / "ev2.json")


def test_predict_leaves_empty_the_rows_of_no_channel_the_fit_always_had(tmp_path) -> None:
    """PPG-only windows to an AF model fitted on ECG alone had each been written as a
    confident normal rhythm (the same p_N 0.945 for every one), a warning aside."""
    import csv
    import warnings

    from qualityfm.io import read_record
    from qualityfm.tasks.pipeline import finetune_run

    finetune_run("af", shared_path("cinc2017_af"), tmp_path / "run", init="classical",
                 max_records=60)
    folder = tmp_path / "new"
    folder.mkdir()
    rec = read_record(shared_path("bidmc", "bidmc_14_Signals.csv"), stop=40.0)
    np.savez(folder / "ppg_only.npz", PLETH=rec.signals["ppg"], fs=rec.fs["ppg"])
    shutil.copy(shared_path("cinc2017_af", "A00001.hea"), folder)
    shutil.copy(shared_path("cinc2017_af", "A00001.mat"), folder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = predict_run("af", tmp_path / "run", folder, tmp_path / "p.csv")
    assert res["n"] == 2
    assert any("1 row(s) hold none of the channels present in every window the model was "
               "fitted on: their outputs are left empty" in str(w.message) for w in caught)
    assert not [w for w in caught if "is absent in" in str(w.message)]  # said once, above
    with open(tmp_path / "p.csv", newline="") as f:
        rows = {r["record"]: r for r in csv.DictReader(f)}
    blind, seen = rows["ppg_only"], rows["A00001"]
    assert (blind["af"], blind["rhythm"]) == ("", "") and blind["p_af"] == "nan"
    assert blind["p_N"] == "nan" and seen["af"] in ("0", "1") and seen["rhythm"] in "NAO~"
    assert 0.0 <= float(seen["p_af"]) <= 1.0
    # windows of another length: said once by predict and evaluate, not again by the rhythm
    # model (it had been said twice)
    from qualityfm.tasks.pipeline import evaluate_run

    for verb in ("predict", "evaluate"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if verb == "predict":
                predict_run("af", tmp_path / "run", folder, tmp_path / "p20.csv", seconds=20.0)
            else:
                evaluate_run("af", tmp_path / "run", shared_path("cinc2017_af"),
                             tmp_path / "e.json", seconds=20.0, max_records=12)
        said = [w for w in caught if "the model was fitted on windows of 30 s" in str(w.message)]
        assert len(said) == 1, (verb, [str(w.message) for w in caught])
    # the report says which windows it read (its figures had read as of the model's own)
    assert json.loads((tmp_path / "e.json").read_text())["seconds"] == 20.0


def test_a_plain_run_stopped_while_saving_resumes(tmp_path, monkeypatch) -> None:
    """The model's finetune.json, the mark of a finished run, is written last: a stop in the
    saves had left a folder refused as finished, without its summary (af: without its
    rhythm model)."""
    from qualityfm.tasks.pipeline import finetune_run

    data = shared_path("physionet2015_vt")
    save = ClassicalBaseline.save

    def stopped(self, out):  # noqa: ANN001, ANN202
        raise KeyboardInterrupt

    monkeypatch.setattr(ClassicalBaseline, "save", stopped)
    with pytest.raises(KeyboardInterrupt):
        finetune_run("vt-alarm", data, tmp_path / "run", init="classical", max_records=40)
    assert not (tmp_path / "run" / "finetune.json").exists()
    monkeypatch.setattr(ClassicalBaseline, "save", save)
    summary = finetune_run("vt-alarm", data, tmp_path / "run", init="classical",
                           max_records=40)  # no --overwrite needed
    assert (tmp_path / "run" / "finetune.json").is_file() and summary["n"] == 40
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["n"] == 40


def test_an_out_that_cannot_be_a_folder_is_refused_before_the_work(tmp_path, capsys,
                                                                   monkeypatch) -> None:
    """finetune / compare into a file had failed with a traceback after the fit (a k-fold
    run's, and compare's, after the first fold); a saved model whose file is damaged had
    been a torch or pickle traceback naming no file."""
    data = shared_path("physionet2015_vt")
    afile = tmp_path / "afile"
    afile.write_text("x")
    monkeypatch.setattr(ClassicalBaseline, "fit", lambda *a, **k: pytest.fail("fitted"))
    common = ["--task", "vt-alarm", "--data", str(data), "--max-records", "20"]
    for verb in (["finetune", "--init", "classical"], ["finetune", "--kfold", "2"],
                 ["compare", "--baselines", "classical", "--kfold", "2"]):
        for out in (afile, afile / "run"):
            assert main([*verb, *common, "--out", str(out)]) == 1
            err = capsys.readouterr().err
            assert f"--out {out}: {afile} is a file, not a folder" in err, err
    assert afile.read_text() == "x"
    monkeypatch.undo()
    run, cfg = tmp_path / "run", tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    assert main(["finetune", *common, "--init", "none", "--config", str(cfg),
                 "--epochs", "1", "--out", str(run)]) == 0
    (run / "model.pt").write_bytes((run / "model.pt").read_bytes()[:1000])
    gbm = tmp_path / "gbm"
    assert main(["finetune", *common, "--init", "classical", "--out", str(gbm)]) == 0
    (gbm / "classical.pkl").write_bytes(b"garbage")
    for k, (model, name) in enumerate(((run, "model.pt"), (gbm, "classical.pkl")) * 2):
        if k == 2:  # then files that read, but hold something else
            torch.save({"x": torch.zeros(1)}, run / "model.pt")
            (gbm / "classical.pkl").write_bytes(__import__("pickle").dumps({"x": 1}))
        assert main(["evaluate", *common, "--model", str(model),
                     "--out", str(tmp_path / "r.json")]) == 1
        err = capsys.readouterr().err
        assert f"{model / name}: unreadable, truncated or not this run's model file" in err
        assert "Traceback" not in err


def test_the_plain_array_api_is_at_the_package_top() -> None:
    """The issue's qualityfm.Finetuner(...).fit(X, y).predict(X) (it had lived in
    qualityfm.tasks only)."""
    import subprocess
    import sys

    import qualityfm
    from qualityfm import tasks

    assert qualityfm.Finetuner is tasks.Finetuner
    assert qualityfm.ClassicalBaseline is tasks.ClassicalBaseline
    code = "import sys, qualityfm; print('torch' in sys.modules)"  # no torch at import
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout.strip()
    assert out == "False"


def test_trained_on_counts_windows_or_features_fitted_and_says_when_it_cannot(capsys) -> None:
    """A model fitted on features alone (from Python) recognises its rows by their features;
    a model saved before it kept digests reports n_windows None (unknown), not 0."""
    from types import SimpleNamespace

    from qualityfm.tasks.pipeline import _row_digests, _trained_on

    rng = np.random.default_rng(0)
    ds = SimpleNamespace(X=rng.normal(size=(4, 2, 50)).astype(np.float32),
                         features=rng.normal(size=(4, 7)).astype(np.float32))
    est = ClassicalBaseline("vt-alarm", crossfit=None, max_iter=5)
    est.fit(None, np.array([0, 1, 0, 1] * 3), features=np.r_[ds.features, rng.normal(
        size=(8, 7)).astype(np.float32)], groups=np.arange(12))
    got = _trained_on({}, ["r"] * 4, "evaluated", "", est, _row_digests(ds))  # each row's
    assert got == {"n_groups": 0, "groups": [], "n_windows": 4}
    assert "4 of the 4 windows evaluated are windows the model was fitted on" in (
        capsys.readouterr().err)
    est.train_windows = None  # saved before the digests were kept
    got = _trained_on({"train_groups": ["v100s"]}, ["x0"] * 4, "evaluated", "", est,
                      _row_digests(ds))
    assert got == {"n_groups": 0, "groups": [], "n_windows": None}


def test_a_second_run_on_the_same_out_is_refused(tmp_path) -> None:
    """Two finetune (or compare) runs on one --out had run side by side, each clearing the
    other's finished files, both exiting 0; a run refused before any work leaves no folder."""
    from qualityfm.tasks.pipeline import _out_lock, compare_run, finetune_run

    data = shared_path("physionet2015_vt")
    out = tmp_path / "run"
    with _out_lock(out, "finetune"):  # the first run, still writing
        (out / ".summary.json.x1.tmp").write_text("{")  # its half-written file stays
        with pytest.raises(ValueError, match=r"run: another finetune is writing there"):
            finetune_run("vt-alarm", data, out, init="classical", max_records=20)
        with pytest.raises(ValueError, match=r"run: another compare is writing there"):
            compare_run("vt-alarm", data, out, baselines=["classical"], max_records=20)
        assert (out / ".summary.json.x1.tmp").exists()
    with pytest.raises(ValueError, match="'max'"):
        finetune_run("vt-alarm", data, tmp_path / "bad", pool="max")
    assert not (tmp_path / "bad").exists()
    (out / ".summary.json.x1.tmp").write_text("{")  # a write killed by an earlier run,
    os.utime(out / ".summary.json.x1.tmp", (time.time() - 3601,) * 2)  # an hour ago
    (out / ".scores.csv.l1v3.tmp").write_text("r")  # another verb's, writing there now
    (out / ".notes.v2.tmp").write_text("mine")  # a user's, however old
    os.utime(out / ".notes.v2.tmp", (time.time() - 7200,) * 2)
    finetune_run("vt-alarm", data, out, init="classical", max_records=20)
    assert sorted(p.name for p in out.glob(".*.tmp")) == [".notes.v2.tmp",
                                                          ".scores.csv.l1v3.tmp"]
    assert (out / "finetune.json").is_file()
    (out / ".scores.csv.l1v3.tmp").unlink()
    (out / ".epochs").mkdir()  # a refit stopped since: its epochs, newer, resume
    (out / ".epochs" / "vt-alarm.pt").write_bytes(b"0" * 100)
    with pytest.raises(ValueError, match="holds a finished run"):
        finetune_run("vt-alarm", data, out, init="classical", max_records=20)
    assert (out / ".epochs" / "vt-alarm.pt").exists()
    past = (out / "finetune.json").stat().st_mtime - 60  # a stop just after the model was
    os.utime(out / ".epochs" / "vt-alarm.pt", (past, past))  # saved: its epochs, older, go
    with pytest.raises(ValueError, match="holds a finished run"):
        finetune_run("vt-alarm", data, out, init="classical", max_records=20)
    assert not (out / ".epochs").exists()
    (out / ".draft.tmp").write_text("mine")  # a user's file is no temporary of a write
    finetune_run("vt-alarm", data, out, init="classical", max_records=20, overwrite=True)
    assert (out / ".draft.tmp").read_text() == "mine"
    model = tmp_path / "model"  # a folder of another kind: refused, untouched
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="holds a"):
        finetune_run("vt-alarm", data, model, init="classical")
    assert sorted(p.name for p in model.iterdir()) == ["config.json", "model.safetensors"]
    with pytest.raises(ValueError, match="'max'"):  # the folders made for it go again
        finetune_run("vt-alarm", data, tmp_path / "a" / "b" / "c", pool="max")
    assert not (tmp_path / "a").exists()


def test_a_run_folder_inside_its_data_folder_is_refused(tmp_path, capsys) -> None:
    """finetune and compare wrote their runs into the data folder they read (prepare alone
    refused that): the run goes elsewhere, and nothing is written there."""
    data = tmp_path / "vt"
    data.mkdir()
    for f in sorted(shared_path("physionet2015_vt").glob("v10*"))[:4]:
        (data / f.name).symlink_to(f)
    before = sorted(p.name for p in data.iterdir())
    for verb in ("finetune", "compare"):
        for out in (data, data / "run"):
            assert main([verb, "--task", "vt-alarm", "--data", str(data), "--init"
                         if verb == "finetune" else "--baselines", "classical", "--out",
                         str(out)]) == 1
            where = "is" if out == data else "is inside"
            assert (f"the run folder {where} the input folder {data}, where its files would "
                    "lie among the records; write the run into a folder outside the inputs"
                    ) in capsys.readouterr().err
    assert sorted(p.name for p in data.iterdir()) == before


def test_a_folder_of_one_class_is_named_before_a_fit(tmp_path, capsys) -> None:
    """finetune and compare on false alarms alone had said "y holds only class 0", naming
    neither the folder nor the task."""
    data = link_vt_alarms(tmp_path / "alarms", false=4)
    for verb, how in (("finetune", ["--init", "classical"]), ("compare", ["--baselines",
                                                                        "classical"])):
        assert main([verb, "--task", "vt-alarm", "--data", str(data), *how,
                     "--out", str(tmp_path / verb)]) == 1
        assert (f"{data}: all 4 vt-alarm rows hold label 0; fitting a classifier needs rows "
                "of two classes at least") in capsys.readouterr().err


def test_evaluate_and_predict_leave_a_users_files_beside_out_alone(tmp_path, capsys) -> None:
    """evaluate had replaced a user's notes.md and notes_roc.png beside --out notes.json (and
    removed a plot it did not draw); predict_run from Python had read every record before
    refusing its --out."""
    run = tmp_path / "run"
    assert main(["finetune", "--task", "vt-alarm", "--data",
                 str(shared_path("physionet2015_vt")), "--max-records", "24", "--init",
                 "classical", "--out", str(run)]) == 0
    rep = tmp_path / "rep"
    rep.mkdir()
    (rep / "notes.md").write_text("my notes")
    capsys.readouterr()
    args = ["evaluate", "--task", "vt-alarm", "--model", str(run), "--data",
            str(shared_path("physionet2015_vt")), "--max-records", "4"]
    assert main([*args, "--out", str(rep / "notes.json")]) == 1
    assert "notes.md exists beside it and is no part of an earlier report of notes.json" in \
        capsys.readouterr().err
    assert (rep / "notes.md").read_text() == "my notes" and not (rep / "notes.json").exists()
    assert main([*args, "--out", str(rep / "r.json")]) == 0  # a report of its own: replaced
    assert main([*args, "--out", str(rep / "r.json")]) == 0
    (rep / "r.json").unlink()  # its table and plots alone: still its own
    assert main([*args, "--out", str(rep / "r.json")]) == 0
    (rep / "r.md").write_text("my own notes")  # beside a report of its own: still a user's
    capsys.readouterr()
    assert main([*args, "--out", str(rep / "r.json")]) == 1
    assert "r.md exists beside it and is no part of an earlier report" in capsys.readouterr().err
    assert (rep / "r.md").read_text() == "my own notes"
    (rep / "f.md").mkdir()  # a folder where its table goes: refused before the work
    assert main([*args, "--out", str(rep / "f.json")]) == 1
    assert "f.md exists beside it" in capsys.readouterr().err
    foreign = tmp_path / "foreign.csv"
    foreign.write_text("Time [s],PLETH\n0,1\n")
    with pytest.raises(ValueError, match=r"predict output .*foreign\.csv exists"):
        predict_run("vt-alarm", run, tmp_path / "missing", foreign)  # before the data


def test_windows_of_a_model_saved_from_python_are_not_said_to_be_renamed(capsys) -> None:
    """A model saved from Python keeps no record names: its training windows, predicted under
    their own names, had been said to come "under other names"."""
    from types import SimpleNamespace

    from qualityfm.tasks.pipeline import _trained_on

    est = SimpleNamespace(train_windows=["a", "b"])
    found = _trained_on({}, ["r1", "r2"], "predicted", "", est, [("a", "x"), ("b", "y")],
                        ["r1", "r2"])
    err = capsys.readouterr().err
    assert found == {"n_groups": 0, "groups": [], "n_windows": 2}
    assert "2 of the 2 windows predicted are windows the model was fitted on, whatever their " \
           "names (the model, saved from Python, keeps none)" in err
    _trained_on({"train_groups": ["r9"]}, ["r1", "r2"], "predicted", "", est,
                [("a", "x"), ("b", "y")], ["r1", "r2"])
    assert "fitted on, under other names" in capsys.readouterr().err


def test_a_training_record_grouped_under_its_copys_name_is_found_by_its_own(capsys) -> None:
    """A training record whose identical copy under another name named their group
    (train_groups ["v0131"]) had been reported, evaluated by its own name, as a stretch of
    that copy "under other names" (and, without the peaks file, under no name at all)."""
    from qualityfm.tasks.pipeline import _trained_on

    summary = {"train_groups": ["v0131", "v111l"], "train_records": ["v131l"]}
    found = _trained_on(summary, ["v131l", "v211l"], "evaluated", records=["v131l", "v211l"],
                        sources=["h/v131l.hea", "h/v211l.hea"],
                        stretches={"h/v131l.hea": "t/v0131.hea"})
    assert found == {"n_groups": 1, "groups": ["v131l"], "n_windows": None}
    err = capsys.readouterr().err
    assert "were in the model's training data (v131l)" in err and "other names" not in err
    # patients' records: each patient once (its records had been counted beside it, "20 of
    # the 4 patients/records")
    summary = {"train_groups": ["p0", "p1"], "train_records": []}  # no copies among them
    found = _trained_on(summary, ["p0", "p0", "p1", "p9"], "evaluated",
                        records=["A1", "A2", "A3", "A9"])
    assert found == {"n_groups": 2, "groups": ["p0", "p1"], "n_windows": None}
    assert "2 of the 3 patients/records evaluated" in capsys.readouterr().err
    # records trained on in a flat folder, evaluated in one patient's folder: one patient
    # (it had read "3 of the 1")
    found = _trained_on({"train_groups": ["A1", "A2", "A3"]}, ["p7"] * 3, "evaluated",
                        records=["A1", "A2", "A3"])
    assert found == {"n_groups": 1, "groups": ["A1", "A2", "A3"], "n_windows": None}
    assert "1 of the 1 patients/records evaluated" in capsys.readouterr().err


def test_a_users_file_named_as_a_run_marker_is_refused_not_removed(tmp_path, capsys,
                                                                   monkeypatch) -> None:
    """A user's notes named cv.json (or compare.json) had been taken for a finished run, and
    --overwrite had removed them without a word."""
    out, data = tmp_path / "out", tmp_path / "data"
    out.mkdir()
    data.mkdir()
    for verb, marker, extra in (("finetune", "cv.json", ["--init", "classical"]),
                                ("compare", "compare.json", [])):
        (out / marker).write_text('{"my": "notes"}')
        for again in ([], ["--overwrite"]):
            args = [verb, "--task", "vt-alarm", "--data", str(data), "--out", str(out)]
            assert main([*args, *extra, *again]) == 1
            assert (f"--out {out} holds {marker}, which no qualityfm run wrote there"
                    in capsys.readouterr().err)
            assert (out / marker).read_text() == '{"my": "notes"}'
        (out / marker).unlink()
    # a config of the user's naming a backbone, beside the user's model.pt: kept too (it had
    # passed as a model saved from Python, both files removed by --overwrite)
    (out / "finetune.json").write_text('{"backbone": "resnet50", "lr": 0.001}')
    (out / "model.pt").write_bytes(b"weights")
    args = ["finetune", "--task", "vt-alarm", "--data", str(data), "--out", str(out)]
    assert main([*args, "--kfold", "3", "--overwrite"]) == 1
    assert "holds finetune.json, which no qualityfm run wrote there" in capsys.readouterr().err
    assert (out / "model.pt").read_bytes() == b"weights"
    from qualityfm.tasks.pipeline import _clear_run

    run = tmp_path / "run"  # a CV report: cleared before its summary, which shows it ours
    run.mkdir()
    for name in ("cv.json", "cv.md", "summary.json"):
        (run / name).write_text("{}")
    calls, kept = [], Path.unlink

    def unlink(self, missing_ok=False):
        calls.append(self.name)
        return kept(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    _clear_run(run)
    assert calls.index("cv.json") < calls.index("summary.json")


def test_evaluate_gives_no_noisy_auroc_of_a_rhythm_model_that_never_saw_noise(tmp_path,
                                                                             capsys) -> None:
    """A 4-class model fitted on records without '~' had its never-learnt p_noisy ranked into
    a noisy AUROC with an interval (0.818 (0.636-1.000) in an audit), without a word."""
    lines = (shared_path("cinc2017_af") / "REFERENCE.csv").read_text().splitlines()
    of = {c: [x for x in lines if x.endswith("," + c)] for c in "NAO~"}
    sets = {"train": [ln for c in "NAO" for ln in of[c][:6]],
            "test": [ln for c in "NAO~" for ln in of[c][6:10]]}
    for name, kept in sets.items():
        folder = tmp_path / name
        folder.mkdir()
        for ln in kept:
            for ext in (".hea", ".mat"):
                shutil.copy(shared_path("cinc2017_af", ln.split(",")[0] + ext), folder)
        (folder / "REFERENCE.csv").write_text("\n".join(kept) + "\n")
    run = tmp_path / "run"
    assert main(["finetune", "--task", "af", "--data", str(tmp_path / "train"), "--init",
                 "classical", "--out", str(run)]) == 0
    assert "the 4-class model's p_noisy are never learnt" in capsys.readouterr().err
    out = tmp_path / "af.json"
    assert main(["evaluate", "--task", "af", "--data", str(tmp_path / "test"), "--model",
                 str(run), "--out", str(out)]) == 0
    assert "its p_noisy were never learnt, and no noisy_auroc is given" in capsys.readouterr().err
    res = json.loads(out.read_text())
    assert res["noisy_auroc"] is None and res["noisy_auroc_ci"] == [None, None]
    assert res["macro_f1"] is not None and len(res["predictions"]["p_noisy"]) == 16
    assert main(["predict", "--task", "af", "--data", str(tmp_path / "test"), "--model",
                 str(run), "--out", str(tmp_path / "p.csv")]) == 0  # its column, said
    assert ("the 4-class model was fitted on records that give no ~ rhythm: its p_noisy were "
            "never learnt\n") in capsys.readouterr().err


def test_compare_names_a_solver_no_row_fits_by_as_ignored(tmp_path, capsys, monkeypatch) -> None:
    """``--solver adamw`` with full ``--models`` rows beside the pre-trained baseline (its
    head finetune's default, lbfgs): no row fits by it, so it is named as ignored (it had been
    recorded in summary.json as if applied)."""
    from qualityfm.tasks import pipeline

    def stop(*args: object, **kwargs: object) -> dict:
        raise KeyboardInterrupt  # the note is said before the first row's folds

    monkeypatch.setattr(pipeline, "_task_cv", stop)
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    with pytest.raises(KeyboardInterrupt):
        pipeline.compare_run("vt-alarm", shared_path("physionet2015_vt"), tmp_path / "cmp",
                             baselines=["pretrained"], models=["r=none"], modes=["full"],
                             config=str(cfg), solver="adamw", kfold=2, max_records=16)
    assert "--solver: used by no row of this comparison, ignored" in capsys.readouterr().err


@pytest.mark.parametrize("baselines", ["classical", "scratch,classical"])
def test_the_classical_rows_inner_folds_are_checked_before_any_fold(tmp_path, capsys,
                                                                    monkeypatch,
                                                                    baselines: str) -> None:
    """af's classical rhythm model cross-fits inner folds in each fold's training rows: one
    training without '~' (one noisy record left there) is refused before any fit (it had
    failed at the third fit, after a minute of folds), the classical row first or not (the
    first row's rhythm model alone had been checked)."""
    from qualityfm.tasks import pipeline

    src = shared_path("cinc2017_af")
    rows = [line.split(",") for line in (src / "REFERENCE.csv").read_text().split()]
    picked = [r for label, n in (("N", 10), ("A", 6), ("O", 5), ("~", 3))
              for r in [r for r in rows if r[1] == label][:n]]
    data = tmp_path / "af"
    data.mkdir()
    for name, _ in picked:
        for ext in (".hea", ".mat"):
            (data / (name + ext)).symlink_to(src / (name + ext))
    (data / "REFERENCE.csv").write_text("".join(f"{n},{label}\n" for n, label in picked))

    def no_fold(*args: object, **kwargs: object) -> dict:
        raise AssertionError("a fold ran before the refusal")

    monkeypatch.setattr(pipeline, "_task_cv", no_fold)
    assert main(["compare", "--task", "af", "--data", str(data), "--baselines", baselines,
                 "--kfold", "2", "--out", str(tmp_path / "cmp")]) == 1
    assert "the gradient boosting's 5 inner folds: one trains without a class" in (
        capsys.readouterr().err)
