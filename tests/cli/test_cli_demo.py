"""The demo runs the whole pipeline on synthetic data and writes a report that shows it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from qualityfm.cli import build_parser, main
from qualityfm.io import write_wfdb
from qualityfm.signal import synthesize
from qualityfm.signal.synthetic import synthetic_alarm_records


@pytest.mark.slow
def test_demo_writes_a_complete_report(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "report"
    assert main(["demo", "--out", str(out), "--steps", "6", "--epochs", "2"]) == 0
    said = capsys.readouterr()
    assert said.out == f"report: {out / 'README.md'}\n"  # the progress lines on stderr
    assert "[demo] pre-training done" in said.err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["store"]["n_records"] == 16 and summary["store"]["n_pairs"] > 0
    assert sum(summary["store"]["levels"].values()) == summary["store"]["n_windows"]
    assert len([lv for lv, n in summary["store"]["levels"].items() if n]) >= 3
    assert summary["pretrain"]["step"] == 6
    assert 0.0 <= summary["vt_alarm_cv"]["auroc"] <= 1.0
    for png in ("quality_levels.png", "training_curves.png", "vt_alarm/cv_roc.png"):
        assert (out / png).stat().st_size > 5000, png
    text = (out / "README.md").read_text()
    assert "AUROC" in text and "quality_levels.png" in text
    assert "not how well the method works" in text  # synthetic data: said so
    # the levels against the artifacts the generator placed, with what they miss
    rows = summary["levels_against_artifacts"]
    assert [r["level"] for r in rows] == ["excellent", "good", "acceptable", "poor", "bad"]
    assert sum(r["windows"] for r in rows) == summary["store"]["n_windows"]
    assert all(0 <= r["artifact_free"] <= r["windows"] for r in rows)
    assert rows[-1]["artifact_share"] > rows[0]["artifact_share"]  # bad windows: more of it
    assert "| level | windows | with no artifact |" in text and "mains hum" in text
    # the collapse diagnostics in words, beside the most the rank can be
    assert summary["diagnostic_windows"] == 32
    assert "mean pairwise cosine of" in text and "(at most 32)" in text
    assert "Timings: synthetic data " in text and "{" not in text.split("Timings")[1]
    assert (out / "model" / "config.json").exists()
    # --data without VT alarms is refused before pre-training, not after it
    plain = tmp_path / "plain"
    write_wfdb(synthesize(120.0, fs=250.0, seed=1, record_id="r1",
                          channels=("ecg_ii", "ppg")), plain)
    mtime = (out / "pretrain_run" / "last.pt").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["demo", "--data", str(plain), "--out", str(out), "--steps", "6"]) == 1
    assert "no record fits task 'vt-alarm'" in capsys.readouterr().err
    assert (out / "pretrain_run" / "last.pt").stat().st_mtime_ns == mtime
    # other records into the same report folder: the demo starts its store over
    alarms = tmp_path / "alarms"
    for rec in synthetic_alarm_records(12, seed=5):
        write_wfdb(rec, alarms)
    assert main(["demo", "--data", str(alarms), "--out", str(out), "--steps", "6"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["store"]["n_records"] == 12
    # records of the user's: no generator's record of their artifacts to set levels against,
    # and the earlier run's synthetic records gone (they had stayed beside this report)
    assert "levels_against_artifacts" not in summary and not (out / "data").exists()
    assert "with no artifact" not in (out / "README.md").read_text()


def test_a_quality_example_is_titled_by_its_channels_score_and_its_windows() -> None:
    """A window of q 0.4987 is poor: its title had read "poor (q=0.50)", the bar of
    acceptable; and each channel's panel had carried the window's score alone (a PPG of 0.85
    titled 0.50, the ECG beside it at 0.14)."""
    from qualityfm.demo import panel_title

    assert panel_title("ppg", 0.8474, 1, 0.49872) == "ppg 0.847 | window poor (q=0.498)"
    assert panel_title("ecg_ii", 0.99999, 4, 0.99999) == (
        "ecg_ii 0.999 | window excellent (q=0.999)")
    assert panel_title("ppg", float("nan"), 2, 0.5) == "ppg | window acceptable (q=0.500)"


def test_demo_refuses_a_folder_that_is_no_demo_report(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    """The demo rebuilds store/, model/ and its report in --out: a folder holding a user's
    store, model or fine-tuned run is refused before anything is written (``demo --out .``
    had replaced them)."""
    out = tmp_path / "project"
    (out / "store").mkdir(parents=True)
    (out / "store" / "meta.json").write_text("{}")
    (out / "README.md").write_text("my notes")
    assert main(["demo", "--out", str(out), "--steps", "2"]) == 1
    err = capsys.readouterr().err
    assert "holds README.md, store and is no demo report" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "store"]
    assert (out / "README.md").read_text() == "my notes"
    # another verb's summary.json naming a path with the demo's key in it is no demo report
    other = tmp_path / "cmp"
    other.mkdir()
    (other / "summary.json").write_text('{"data": "../vt_alarm_cv", "rows": []}')
    assert main(["demo", "--out", str(other), "--steps", "2"]) == 1
    assert "is no demo report" in capsys.readouterr().err
    # a report inside its --data folder: refused before anything is written there (it had
    # made its marker, then failed on a cache it had not been given)
    data = tmp_path / "records"
    data.mkdir()
    assert main(["demo", "--data", str(data), "--out", str(data / "rep"), "--steps", "2"]) == 1
    assert "the report folder is inside the input folder" in capsys.readouterr().err
    assert list(data.iterdir()) == []
    (data / "v100s.hea").write_text("v100s 1 250 10\n")  # a record given as a file: its folder
    assert main(["demo", "--data", str(data / "v100s.hea"), "--out", str(data / "rep"),
                 "--steps", "2"]) == 1
    assert "the report folder is inside the input folder" in capsys.readouterr().err
    (data / "notes.txt").write_text("hi\n")  # no record: said so (not where the report lies)
    assert main(["demo", "--data", str(data / "notes.txt"), "--out", str(data / "rep"),
                 "--steps", "2"]) == 1
    assert "notes.txt: unsupported file type '.txt'" in capsys.readouterr().err
    (data / "notes.txt").unlink()
    missing = tmp_path / "missing"  # named, not made by --out inside it
    assert main(["demo", "--data", str(missing), "--out", str(missing / "rep")]) == 1
    assert f"--data {missing} does not exist" in capsys.readouterr().err
    assert not missing.exists() and [p.name for p in data.iterdir()] == ["v100s.hea"]


def test_help_lists_every_verb(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for verb in ("prepare", "info", "presets", "pretrain", "export", "finetune", "evaluate",
                 "compare", "score", "embed", "demo"):
        assert verb in text


def test_ctrl_c_while_verbs_load_ends_quietly(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture) -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("qualityfm.cli.build_parser", interrupted)
    assert main(["presets"]) == 130
    assert capsys.readouterr().err == "qualityfm: interrupted\n"


#: Numeric options any of whose values makes sense: a plain int on purpose (-1: auto).
UNCHECKED = {("pretrain", "workers")}


def test_numeric_options_have_checked_types() -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    plain = {(verb, action.dest) for verb, parser in sub.choices.items()
             for action in parser._actions if action.type in (int, float)}
    assert plain == UNCHECKED


@pytest.mark.parametrize("argv, message", [
    (["embed", "f", "--out", "e.npy", "--batch-size", "-1"], "--batch-size: must be >= 1, got -1"),
    (["score", "f", "--out", "s.csv", "--batch-size", "abc"], "must be an integer, got 'abc'"),
    (["prepare", "d", "--out", "o", "--shard-size", "0"], "--shard-size: must be >= 1, got 0"),
    (["prepare", "d", "--out", "o", "--window", "inf"], "--window: must be a finite number"),
    (["prepare", "d", "--out", "o", "--max-distance", "0"], "--max-distance: must be >= 1"),
    (["finetune", "--task", "af", "--data", "d", "--out", "o", "--kfold", "1"],
     "--kfold: must be >= 2, got 1"),
    (["finetune", "--task", "af", "--data", "d", "--out", "o", "--seconds", "0"],
     "--seconds: must be > 0, got 0"),
    (["compare", "--task", "af", "--data", "d", "--out", "o", "--test-shifts", "0"],
     "--test-shifts: must be >= 1, got 0"),
    (["evaluate", "--task", "af", "--data", "d", "--model", "m", "--out", "o",
      "--max-records", "-2"], "--max-records: must be >= 1, got -2"),
    (["demo", "--steps", "0"], "--steps: must be >= 1, got 0"),
    (["pretrain", "--out", "o", "--stop-after", "0"], "--stop-after: must be >= 1, got 0"),
])
def test_bad_numbers_are_usage_errors(argv: list[str], message: str,
                                      capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("verb", ["demo", "finetune", "compare", "pretrain"])
def test_seeds_are_non_negative_and_at_most_2_31_less_1(verb: str,
                                                       capsys: pytest.CaptureFixture) -> None:
    """NumPy's generators refuse negative seeds, scikit-learn's 2**32 and past, torch's 2**64:
    a usage error, not a failed run."""
    args = {"demo": [], "finetune": ["--task", "af", "--data", "d", "--out", "o"],
            "compare": ["--task", "af", "--data", "d", "--out", "o"], "pretrain": ["--out", "o"]}
    assert build_parser().parse_args([verb, *args[verb], "--seed", "7"]).seed == 7
    with pytest.raises(SystemExit):
        build_parser().parse_args([verb, *args[verb], "--seed", "-3"])
    assert "argument --seed: must be >= 0, got -3" in capsys.readouterr().err
    assert build_parser().parse_args([verb, *args[verb], "--seed", "2147483647"]).seed == 2**31 - 1
    with pytest.raises(SystemExit):
        build_parser().parse_args([verb, *args[verb], "--seed", "4294967296"])
    assert "argument --seed: must be <= 2**31 - 1 (2147483647), got 4294967296" in \
        capsys.readouterr().err


def test_betas_are_checked() -> None:
    assert build_parser().parse_args(["pretrain", "--out", "o", "--betas", "0.9",
                                      "0.99"]).betas == [0.9, 0.99]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["pretrain", "--out", "o", "--betas", "1.5", "0.9"])


@pytest.mark.parametrize("verb", ["evaluate", "finetune"])
def test_results_on_stdout_are_json_with_nan_as_null(
        verb: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    from qualityfm.tasks import pipeline

    def fake_run(*args: object, **kwargs: object) -> dict:
        return {"auroc": float("nan"), "auroc_ci": [np.float64("nan"), 0.5], "n": 3}

    monkeypatch.setattr(pipeline, f"{verb}_run", fake_run)
    extra = ["--model", "m"] if verb == "evaluate" else []
    argv = [verb, "--task", "vt-alarm", "--data", str(tmp_path), *extra,
            "--out", str(tmp_path / "res.json")]
    assert main(argv) == 0

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    shown = json.loads(capsys.readouterr().out, parse_constant=refuse)
    assert shown == {"auroc": None, "auroc_ci": [None, 0.5], "n": 3}


def test_sigterm_during_a_verb_ends_it_as_ctrl_c_does(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    """A scheduler's SIGTERM unwinds a verb (its temporaries are left for a re-run to remove)
    and says so, with status 143, instead of killing it without a word; the handler is put
    back afterwards."""
    import os
    import signal
    import time

    def terminated(args: object) -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        return 0

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr("qualityfm.cli.presets.run", terminated)
    assert main(["presets"]) == 143
    assert capsys.readouterr().err == "qualityfm presets: interrupted (SIGTERM)\n"
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_pools_sigterm_is_told_as_the_verbs_and_an_ignored_one_stays_ignored(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """prepare's worker pool raises Terminated on SIGTERM (after its tasks in flight): the
    verb says so as it does for its own handler's; a SIGTERM the caller ignores stays
    ignored."""
    import signal

    from qualityfm._signals import Terminated
    from qualityfm.cli import _sigterm_interrupts

    def pool_stopped(args: object) -> int:
        raise Terminated()

    monkeypatch.setattr("qualityfm.cli.presets.run", pool_stopped)
    assert main(["presets"]) == 143
    assert capsys.readouterr().err == "qualityfm presets: interrupted (SIGTERM)\n"
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        assert _sigterm_interrupts("finetune") is None
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_the_parser_is_built_without_torch_and_names_the_bp_rules() -> None:
    """qualityfm --help stays fast: building the parser imports no torch (the --bp-rule
    choices are named in the CLI, equal to the task datasets' BP_RULES)."""
    import subprocess
    import sys

    code = ("import sys; from qualityfm.cli import build_parser; p = build_parser(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout.strip()
    assert out == "False"
    from qualityfm.cli import build_parser
    from qualityfm.tasks.datasets import BP_RULES

    finetune = build_parser()._subparsers._group_actions[0].choices["finetune"]
    [rule] = [a for a in finetune._actions if a.dest == "bp_rule"]
    assert tuple(rule.choices) == BP_RULES


@pytest.mark.parametrize("stop, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_stop_during_the_demos_pretraining_ends_the_demo(
        stop: str, code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    """Pre-training ends a stopped run at a step's end with its checkpoint; the demo had then
    fine-tuned and reported the half-trained model, exiting 0."""
    import qualityfm.train

    monkeypatch.setattr(qualityfm.train, "pretrain",  # the demo imports it when it runs
                        lambda cfg, overwrite: {"stopped_by": stop, "step": 2, "done": False})
    out = tmp_path / "report"
    assert main(["demo", "--out", str(out), "--steps", "6"]) == code
    assert "qualityfm demo: interrupted" in capsys.readouterr().err
    assert not (out / "README.md").exists() and not (out / "model").exists()


@pytest.mark.parametrize("ci", [[float("nan"), float("nan")], [None, None], None])
def test_the_demo_report_says_when_its_auroc_has_no_interval(tmp_path, ci) -> None:
    """The synthetic alarms are told apart perfectly, so no bootstrap replicate differs and
    the AUROC has no interval: the report had printed "95 % CI nan-nan"."""
    from qualityfm.demo import _report_markdown

    result = {"data": "synthetic", "timings_s": {},
              "store": {"levels": {"good": 3}, "n_records": 2, "n_windows": 3, "n_pairs": 1,
                        "skipped": []},
              "pretrain": {"step": 6},
              "vt_alarm_cv": {"auroc": 1.0, "auroc_ci": ci, "tpr": 1.0, "tnr": 1.0,
                              "score": 1.0}}
    figures = {"quality": tmp_path / "q.png", "training": tmp_path / "t.png"}
    text = _report_markdown(result, figures, 2)
    assert "AUROC 1.000 (no CI: no bootstrap replicate differs" in text and "nan" not in text
    result["vt_alarm_cv"]["auroc_ci"] = [0.91, 0.99]
    assert "AUROC 1.000 (95 % CI 0.910-0.990)" in _report_markdown(result, figures, 2)


def test_pretrain_says_a_sigterm_in_its_set_up_and_succeeds_when_its_last_step_ran(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path) -> None:
    """A SIGTERM while pretrain set up its model and store had ended it without a word (143,
    stderr empty); one during its last step had reported a finished run as interrupted,
    "--resume continues", and exit 143, so that a scheduler requeued a finished job."""
    import os
    import signal
    import time

    def set_up_stopped(cfg: object, **kwargs: object) -> dict:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        return {}

    args = ["pretrain", "--store", str(tmp_path), "--out", str(tmp_path / "run")]
    monkeypatch.setattr("qualityfm.train.pretrain", set_up_stopped)
    assert main(args) == 143
    assert capsys.readouterr().err == "qualityfm pretrain: interrupted (SIGTERM)\n"
    for done, code, said in ((True, 0, "SIGTERM came during the last step (6); the run is "
                              "complete"),
                             (False, 143, "interrupted (SIGTERM) after step 6, its checkpoint "
                              "written: --resume continues")):
        monkeypatch.setattr("qualityfm.train.pretrain", lambda cfg, done=done, **kw: {
            "step": 6, "done": done, "stopped_by": "SIGTERM", "world_size": 1})
        assert main(args) == code
        assert said in capsys.readouterr().err


def test_the_demo_refuses_alarms_of_one_kind_before_pre_training(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder of false alarms alone had been prepared and pre-trained on, then failed in
    "y holds only class 0", leaving a new store and model beside the earlier run's report."""
    from helpers import link_vt_alarms
    from qualityfm.demo import run_demo

    data = link_vt_alarms(tmp_path / "alarms", false=4)
    out = tmp_path / "report"
    out.mkdir()
    (out / ".qualityfm-demo").touch()
    (out / "README.md").write_text("an earlier run's report")
    (out / "data").mkdir()  # its synthetic records: kept with it (a refusal had removed them)
    with pytest.raises(ValueError, match=r"its 4 VT alarm\(s\) are all false: the demo's "
                                         r"fine-tuning needs true and false alarms"):
        run_demo(out, data, steps=2, progress=False)
    assert not (out / "store").exists() and (out / "README.md").exists()
    assert (out / "data").is_dir()
    link_vt_alarms(data, true=1)  # one true alarm: too few for 3 folds
    with pytest.raises(ValueError, match=r"its true VT alarms come from 1 record group\(s\); "
                                         r"the demo's 3-fold cross-validation needs 3 of each"):
        run_demo(out, data, steps=2, progress=False)
    assert not (out / "store").exists()
    # a folder the refused run made is gone again (its marker, lock and task cache had stayed)
    fresh = tmp_path / "new" / "report"
    with pytest.raises(ValueError, match=r"its true VT alarms come from 1 record group"):
        run_demo(fresh, data, steps=2, progress=False)
    assert not (tmp_path / "new").exists() and out.exists()  # the parent it made too
    given = tmp_path / "given"  # an empty folder given: empty again, no demo report
    given.mkdir()
    with pytest.raises(ValueError, match=r"its true VT alarms come from 1 record group"):
        run_demo(given, data, steps=2, progress=False)
    assert given.is_dir() and not any(given.iterdir())
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError) as none_there:  # no record at all
        run_demo(fresh, tmp_path / "empty", steps=2, progress=False)
    assert "empty" in str(none_there.value) and not fresh.exists()
    # what another job writes beside the demo meanwhile stays (a refusal had removed the
    # topmost folder the demo made, with it)
    import qualityfm.tasks

    def refuse_later(*args: object, **kwargs: object) -> None:
        (tmp_path / "runs" / "store").mkdir(parents=True)
        (tmp_path / "runs" / "store" / "shard.npy").write_text("another job's")
        (tmp_path / "runs" / "demo" / "notes.txt").write_text("the user's")
        raise ValueError("no VT alarm there")

    monkeypatch.setattr(qualityfm.tasks, "build_task_dataset", refuse_later)
    with pytest.raises(ValueError, match="no VT alarm there"):
        run_demo(tmp_path / "runs" / "demo", data, steps=2, progress=False)
    assert sorted(p.name for p in (tmp_path / "runs" / "demo").iterdir()) == ["notes.txt"]
    assert (tmp_path / "runs" / "store" / "shard.npy").exists()
    monkeypatch.undo()
    # x/../y names y (with no x, y's files had gone unseen and been replaced, x made; x/..
    # had stopped the undo); the synthetic records a refused run wrote go (they had stayed,
    # and a later demo refused the folder as data)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="no readable record"):
        run_demo("x/../y", tmp_path / "empty", steps=2, progress=False)
    assert not Path("x").exists() and not Path("y").exists()
    Path("y").mkdir()
    with pytest.raises(ValueError, match="no readable record"):  # an empty y stays
        run_demo("x/../y", tmp_path / "empty", steps=2, progress=False)
    assert Path("y").is_dir() and not any(Path("y").iterdir()) and not Path("x").exists()
    (Path("y") / "mine.txt").write_text("the user's")
    with pytest.raises(ValueError, match=r"y holds mine\.txt and is no demo report"):
        run_demo("x/../y", tmp_path / "empty", steps=2, progress=False)
    import qualityfm.demo as demo

    def records_of_no_alarm(folder: Path, seed: int, artifacts: dict) -> tuple[Path, Path]:
        (folder / "alarms").mkdir(parents=True)
        (folder / "alarms" / "notes.txt").write_text("no record")
        return folder, folder / "alarms"

    monkeypatch.setattr(demo, "write_synthetic_data", records_of_no_alarm)
    with pytest.raises(ValueError, match="no readable record"):
        run_demo(tmp_path / "synthetic", steps=2, progress=False)
    assert not (tmp_path / "synthetic").exists()


def test_a_demo_rerun_makes_its_data_anew_records_its_command_and_runs_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-run with another --seed had read the earlier seed's records beside its own (32
    records, 180 alarms); the run's record named `--out` alone; a second demo on the folder
    had rebuilt the store and runs under the first, both exiting 0."""
    import qualityfm.demo as demo
    from qualityfm.io.folders import folder_lock

    class Stop(Exception):
        pass

    def stop(*_: object, **__: object) -> None:
        raise Stop

    monkeypatch.setattr(demo, "prepare", stop)  # after the data are written and checked
    out = tmp_path / "report"
    for seed in (0, 1):
        with pytest.raises(Stop):
            demo.run_demo(out, seed=seed, progress=False)
    names = {p.name.split("_")[1] for p in (out / "data" / "pretrain").glob("*.hea")}
    assert names == {"1"}  # seed 1's records alone
    assert demo._demo_command(out, None, 10, None, 1) == \
        f"qualityfm demo --out {out} --steps 10 --seed 1"
    python = demo._demo_command(out, None, 10, None, 1, batch_size=8, kfold=4)  # no CLI option
    assert python.startswith("python -c ") and "batch_size=8" in python and "kfold=4" in python
    with folder_lock(out, "demo"), pytest.raises(ValueError, match=r"another demo is writing "
                                                                    r"there"):
        demo.run_demo(out, progress=False)
