"""``qualityfm prepare`` and ``qualityfm info`` on real records."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import shared_path
from qualityfm.cli import build_parser, main
from qualityfm.data import Store, prepare, stable_part, store_features
from qualityfm.data.prepare import JOURNAL, expand_inputs
from qualityfm.quality.features import window_features


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
    assert summary["n_records"] == 3 and summary["n_skipped"] == 0 == summary["n_passed_over"]
    assert "skipped" not in summary  # listed in the store (qualityfm info), counted here
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
    assert f"error: {tmp_path}: no readable record found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    notes = tmp_path / "notes.mat"  # a single file of another type: named once, not twice
    notes.write_bytes(b"MATLAB")
    assert main(["prepare", str(notes), "--out", str(tmp_path / "o"), "--no-progress"]) == 1
    assert (f"error: {notes}: a WFDB signal file without its header notes.hea"
            in capsys.readouterr().err.replace(f"{notes}: {notes}", "twice"))


def test_cli_overwrite_recomputes_the_features(synth_dir, tmp_path, capsys):
    out = tmp_path / "store"
    args = ["prepare", str(synth_dir), "--out", str(out), "--window", "20", "--features",
            "--no-progress"]
    assert main(args) == 0
    assert main([*args, "--overwrite", "--normalization", "none"]) == 0
    capsys.readouterr()
    store = Store(out)
    assert store.meta["normalization"] == "none"
    ids = np.arange(store.n_windows)
    np.testing.assert_array_equal(store_features(store),
                                  window_features(store.windows(ids), store.masks, store.fs))


def test_cli_info_on_an_interrupted_store_says_a_rerun_resumes(synth_dir, tmp_path, capsys,
                                                                monkeypatch):
    prep = importlib.import_module("qualityfm.data.prepare")
    read, calls = prep.read_model_channels, []

    def interrupted(*args, **kwargs):  # Ctrl-C while reading the fourth record
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return read(*args, **kwargs)

    monkeypatch.setattr(prep, "read_model_channels", interrupted)
    out = tmp_path / "store"
    args = ["prepare", str(synth_dir), "--out", str(out), "--window", "20", "--shard-size", "4",
            "--no-progress"]
    assert main(args) == 130
    assert capsys.readouterr().err == "qualityfm prepare: interrupted\n"
    assert (out / JOURNAL).is_file()
    assert main(["info", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"qualityfm info: error: {out}: not a store")
    assert "re-running the same qualityfm prepare command resumes it" in err
    monkeypatch.undo()
    assert main(args) == 0 and len(calls) == 4
    assert json.loads(capsys.readouterr().out)["n_records"] == 5
    shard = out / "shard-000000.x.npy"  # a truncated window file: named, as pretrain would
    shard.write_bytes(shard.read_bytes()[:1000])
    assert main(["info", str(out)]) == 1
    assert "shard-000000.x.npy: truncated or damaged store file" in capsys.readouterr().err
    np.save(shard, np.array([{"a": 1}], dtype=object), allow_pickle=True)  # objects: NumPy's
    assert main(["info", str(out)]) == 1  # advice to load them unsafely is not passed on
    err = capsys.readouterr().err
    assert "shard-000000.x.npy: truncated or damaged store file (objects, not numbers); " \
        "qualityfm prepare --overwrite writes the store again" in err
    assert "allow_pickle" not in err
    shard.unlink()  # a missing one: named with the way to write it again (a bare errno had)
    assert main(["info", str(out)]) == 1
    assert "shard-000000.x.npy: a file of the store is missing; qualityfm prepare " \
        "--overwrite writes the store again" in capsys.readouterr().err


def test_cli_output_into_a_closed_pipe_is_quiet(synth_dir, small_window, tmp_path):
    prepare(synth_dir, tmp_path / "store", window=small_window, progress=False)
    read_end, write_end = os.pipe()
    os.close(read_end)  # `qualityfm info STORE | head -1`, once head has exited
    try:
        proc = subprocess.run([sys.executable, "-m", "qualityfm", "info", str(tmp_path / "store")],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    finally:
        os.close(write_end)
    assert proc.stderr == "" and proc.returncode == 141


def test_cli_prepare_without_any_window_fails(synth_dir, tmp_path, capsys):
    npy = tmp_path / "arr.npy"
    np.save(npy, np.zeros((2, 5000), np.float32))  # skipped: no rate, no channel names
    out = tmp_path / "empty"
    assert main(["prepare", str(npy), "--out", str(out), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["n_windows"] == 0
    assert captured.err.startswith("qualityfm prepare: no window to store; every record was "
                                   f"skipped (1; first: {npy}: a .npy file")
    assert f"{out} lists them under \"skipped\"" in captured.err
    assert "prepared" not in captured.err
    assert main(["prepare", str(npy), "--out", str(out), "--no-progress"]) == 1  # kept: still 1
    capsys.readouterr()
    # A part that none of the records falls in is needed by its store: it succeeds.
    keys = [k for k, _ in expand_inputs([synth_dir])]
    k = next(k for k in range(50) if all(stable_part(key, 50) != k for key in keys))
    assert main(["prepare", str(synth_dir), "--out", str(tmp_path / "parts"), "--shard",
                 f"{k}/50", "--window", "20", "--no-progress"]) == 0
    assert "holds none of the records" in capsys.readouterr().err
    # so is a part whose records were all skipped (its array job had failed)
    bad = ("broken.npz", "short.npz")  # a corrupt file, a record too short for a window
    n, k = next((n, stable_part(key, n)) for n in range(2, 1000) for key in keys
                if key.endswith(bad) and all(stable_part(other, n) != stable_part(key, n)
                                             for other in keys if not other.endswith(bad)))
    assert main(["prepare", str(synth_dir), "--out", str(tmp_path / "bad"), "--shard",
                 f"{k}/{n}", "--window", "20", "--no-progress"]) == 0
    assert "every record of this part was skipped" in capsys.readouterr().err


def test_cli_prepare_bounds_fs_and_the_level_gap(tmp_path, capsys):
    from qualityfm.cli.prepare import (
        MAX_LEVEL_GAP,
        MAX_WINDOW_SECONDS,
        MIN_FS,
        MIN_WINDOW_SECONDS,
    )
    from qualityfm.quality import LEVEL_NAMES
    from qualityfm.quality._common import MIN_FS as QUALITY_MIN_FS
    from qualityfm.quality._common import MIN_SECONDS
    from qualityfm.signal import windows

    assert MAX_LEVEL_GAP == len(LEVEL_NAMES) - 1 and MIN_FS == QUALITY_MIN_FS
    assert MIN_WINDOW_SECONDS == MIN_SECONDS
    assert MAX_WINDOW_SECONDS == windows.MAX_WINDOW_SECONDS
    from qualityfm.tasks.datasets import MIN_CHANNEL_SECONDS  # the task verbs' --seconds too
    assert MIN_WINDOW_SECONDS == MIN_CHANNEL_SECONDS
    base = ["prepare", str(tmp_path), "--out", str(tmp_path / "o")]
    for option, value, message in [
        # (1e17 s had skipped every record with NumPy's "Maximum allowed dimension exceeded")
        ("--window", "1e17", "argument --window: must be at most 86400 s (a day), got 1e17"),
        ("--fs", "1e9", "argument --fs: must be 50-2000 Hz (the quality scores need 50 Hz; "
                        "the model reads 300 Hz), got 1e9"),
        ("--fs", "2000.5", "argument --fs: must be 50-2000 Hz"),
        ("--fs", "10", "argument --fs: must be 50-2000 Hz"),  # every record had been skipped
        ("--fs", "0", "argument --fs: must be > 0, got 0"),
        ("--min-level-gap", "5", "argument --min-level-gap: must be <= 4"),
        # every record had been skipped, and the empty store left blocked the right command
        ("--window", "1.9", "argument --window: must be at least 2 s (the quality scores "
                            "and the tasks' channels need it), got 1.9"),
    ]:
        with pytest.raises(SystemExit) as exit_:
            main([*base, option, value])
        assert exit_.value.code == 2 and message in capsys.readouterr().err
    args = build_parser().parse_args([*base, "--fs", "2000", "--min-level-gap", "4"])
    assert (args.fs, args.min_level_gap) == (2000.0, 4)
    assert build_parser().parse_args([*base, "--fs", "50"]).fs == 50.0
    assert build_parser().parse_args([*base, "--window", "2"]).window == 2.0
    from qualityfm.data import prepare
    from qualityfm.signal import WindowConfig

    with pytest.raises(ValueError, match="windows of 1.5 s: the quality scores need at least 2 s"):
        prepare(tmp_path, tmp_path / "o", window=WindowConfig(seconds=1.5), progress=False)
    assert not (tmp_path / "o").exists()


def test_cli_prepare_warns_when_windows_give_no_pair(synth_dir, tmp_path, capsys,
                                                     record_writer):
    folder = tmp_path / "one"
    folder.mkdir()
    record_writer(folder / "r.npz", seconds=30.0)  # one 20-s window: nothing to pair it with
    out = tmp_path / "store"
    assert main(["prepare", str(folder), "--out", str(out), "--window", "20", "--max-distance",
                 "2", "--min-level-gap", "3", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["n_pairs"] == 0
    assert f"warning: {out} holds 1 windows but 0 pairs, so pretrain cannot use it" in captured.err
    assert "--max-distance 2" in captured.err and "--min-level-gap 3" in captured.err
    assert main(["prepare", str(synth_dir), "--out", str(tmp_path / "ok"), "--window", "20",
                 "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["n_pairs"] > 0 and "warning" not in captured.err


def test_cli_prepare_features_of_an_empty_part(synth_dir, tmp_path):
    """A part of no record got no features table with --features, so pre-training wrote one
    into the store (or, the store read-only, told the user to run prepare --features, which
    skipped the part again)."""
    from qualityfm.data.store import FEATURES
    from qualityfm.quality.features import feature_names

    keys = [key for key, _ in expand_inputs([synth_dir])]
    n = 12
    k = next(k for k in range(n) if all(stable_part(key, n) != k for key in keys))
    out = tmp_path / "split"
    assert main(["prepare", str(synth_dir), "--out", str(out), "--shard", f"{k}/{n}",
                 "--window", "20", "--fs", "100", "--features", "--no-progress"]) == 0
    table = np.load(out / f"part-{k}-of-{n}" / FEATURES)
    assert table.shape == (0, len(feature_names()))
