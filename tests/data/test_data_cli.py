"""``qualityfm prepare`` and ``qualityfm info`` on real records."""

from __future__ import annotations

import json

import pytest

from helpers import shared_path
from qualityfm.cli import main
from qualityfm.data import store_features


def test_cli_prepare_and_info_on_real_records(tmp_path, capsys):
    vt = shared_path("physionet2015_vt")
    out = tmp_path / "store"
    inputs = [str(vt / "v100s.hea"), str(vt / "v101l.hea"), str(vt / "v102s.hea")]
    rc = main(["prepare", *inputs, "--out", str(out), "--workers", "2", "--dtype", "int16",
               "--normalization", "joint", "--features"])
    assert rc == 0
    captured = capsys.readouterr()
    assert "prepared" in captured.err and "windows" in captured.err  # the summary line
    assert "rec" in captured.err  # the progress bar, on stderr
    summary = json.loads(captured.out)
    assert summary["n_records"] == 3 and summary["skipped"] == []
    assert store_features(out).shape[0] == summary["n_windows"]  # --features wrote them

    assert main(["info", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    for key in ("n_records", "n_windows", "n_pairs", "levels", "skipped"):
        assert key in info
    assert info["n_records"] == 3 and info["n_windows"] == summary["n_windows"] > 0
    assert sum(info["levels"].values()) == info["n_windows"]
    assert info["dtype"] == "int16" and info["normalization"] == "joint"
    assert info["fs"] == 300.0 and info["channels"] == ["ppg", "ecg_ii"]


def test_cli_errors(tmp_path, capsys):
    assert main(["info", str(tmp_path)]) == 1
    assert "not a store" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["prepare", str(tmp_path), "--out", str(tmp_path / "o"), "--shard", "3/2"])
    assert "0 <= K < N" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["prepare", str(tmp_path), "--out", str(tmp_path / "o"), "--overwrite",
              "--shard-size", "0"])
    assert "argument --shard-size: must be >= 1, got 0" in capsys.readouterr().err
    assert main(["prepare", str(tmp_path), "--out", str(tmp_path / "o"), "--no-progress"]) == 1
    assert f"error: no records found under {tmp_path}" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
