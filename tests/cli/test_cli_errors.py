"""How the command line reports an error: one line naming the verb (and the rank under
torchrun), exit status 1."""

from __future__ import annotations

import pytest

from qualityfm.cli import main


def test_an_error_names_its_verb_and_under_torchrun_its_rank(tmp_path, capsys,
                                                            monkeypatch) -> None:
    missing = tmp_path / "nope"
    assert main(["score", str(missing), "--out", str(tmp_path / "s.csv")]) == 1
    err = capsys.readouterr().err
    assert f"qualityfm score: error: {missing}: no such file or folder" in err.splitlines()[-1]
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")  # every rank of a torchrun job prints its own refusal
    assert main(["score", str(missing), "--out", str(tmp_path / "s.csv")]) == 1
    assert "qualityfm score: error (rank 3 of 4): " in capsys.readouterr().err


def test_pretrain_without_a_store_is_a_usage_error(tmp_path, capsys) -> None:
    """It had exited 1, as a failed run does; argparse's usage errors exit 2."""
    from qualityfm.cli import main

    assert main(["pretrain", "--out", str(tmp_path / "run")]) == 2
    assert "--store is required" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:  # argparse's own: a value outside the choices
        main(["pretrain", "--out", str(tmp_path / "run"), "--stem", "resdual"])
    assert stop.value.code == 2


def test_out_of_memory_is_one_line_and_other_runtime_errors_keep_their_traceback(
        tmp_path, capsys, monkeypatch) -> None:
    """torch's "can't allocate memory" (a --prototypes of 1e12) had been a traceback."""
    import qualityfm.inference as inference

    def fail(*_: object, **__: object) -> None:
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: "
                           "can't allocate memory: you tried to allocate 1024000000000000 "
                           "bytes.\nsecond line")

    monkeypatch.setattr(inference, "score_files", fail)
    (tmp_path / "in").mkdir()
    argv = ["score", str(tmp_path / "in"), "--out", str(tmp_path / "s.csv")]
    assert main(argv) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("qualityfm score: error: out of memory ([enforce")
    assert err[0].endswith("use a smaller batch size, model or window")

    def bug(*_: object, **__: object) -> None:
        raise RuntimeError("a fault of ours")

    monkeypatch.setattr(inference, "score_files", bug)
    with pytest.raises(RuntimeError, match="a fault of ours"):
        main(argv)


def test_an_empty_out_is_a_usage_error(tmp_path, capsys) -> None:
    """--out "" had meant the working folder (a store or run written straight into it)."""
    for argv in (["prepare", str(tmp_path), "--out", ""],
                 ["finetune", "--task", "vt-alarm", "--data", str(tmp_path), "--out", " "]):
        assert main(argv) == 2
        assert "error: --out is empty: give a file or folder" in capsys.readouterr().err
    assert main(["finetune", "--task", "vt-alarm", "--data", str(tmp_path), "--out",
                 str(tmp_path / "r"), "--cache", ""]) == 2  # a cache in the working folder
    assert "error: --cache is empty" in capsys.readouterr().err
    # an empty input, --data or --model (records had been read from the working folder, and
    # score --model "" had scored with no model at all)
    record = tmp_path / "r.npz"
    for argv, said in ((["score", "", "--out", str(tmp_path / "s.csv")], "an input"),
                       (["info", ""], "the store"),
                       (["finetune", "--task", "vt-alarm", "--data", "", "--out",
                         str(tmp_path / "f")], "--data"),
                       (["score", str(record), "--out", str(tmp_path / "s.csv"), "--model", ""],
                        "--model")):
        assert main(argv) == 2
        assert f"error: {said} is empty: give a file or folder" in capsys.readouterr().err
    # pretrain's store is its --store (it had said "the store is empty": no windows?); a
    # --models NAME= had loaded the working folder as a model
    assert main(["pretrain", "--store", "", "--out", str(tmp_path / "p")]) == 2
    assert "error: --store is empty: give a file or folder" in capsys.readouterr().err
    assert main(["compare", "--task", "vt-alarm", "--data", str(tmp_path), "--out",
                 str(tmp_path / "c"), "--models", "mine="]) == 2
    assert "error: --models 'mine=' gives no file or folder" in capsys.readouterr().err
    assert main(["compare", "--task", "vt-alarm", "--data", str(tmp_path), "--out",
                 str(tmp_path / "c"), "--models", "a=b="]) == 2  # parted at its last '='
    assert "error: --models 'a=b=' gives no file or folder" in capsys.readouterr().err
    # a report named as the file that marks a run or store makes an ordinary folder one
    (tmp_path / "rep").mkdir()
    for name, kind in (("cv.json", "cross-validation report"), ("meta.json", "prepared store"),
                       ("finetune.json", "fine-tuned run")):
        assert main(["evaluate", "--task", "vt-alarm", "--model", str(tmp_path), "--data",
                     str(tmp_path / "elsewhere"), "--out", str(tmp_path / "rep" / name)]) == 1
        assert f"{name} marks a folder as a qualityfm {kind}" in capsys.readouterr().err
    # no abbreviations: another verb's --mode had been read as --model
    with pytest.raises(SystemExit) as stop:
        main(["evaluate", "--task", "vt-alarm", "--mode", "linear", "--model", "m", "--data",
              "d", "--out", "e.json"])
    assert stop.value.code == 2
    assert "unrecognized arguments: --mode linear" in capsys.readouterr().err


def test_a_repeated_data_or_models_flag_pools_its_values() -> None:
    """--data a --data b had read b alone (argparse keeps the last), with exit 0; so had
    --models; --modes linear,linear had made two rows of one name."""
    from qualityfm.cli import build_parser

    parser = build_parser()
    for verb in ("finetune", "evaluate", "predict", "compare"):
        args = parser.parse_args([verb, "--task", "vt-alarm", "--data", "a", "--data", "b", "c",
                                  "--out", "o", *(["--model", "m"] if verb in ("evaluate",
                                                                               "predict") else [])])
        assert args.data == ["a", "b", "c"]
    args = parser.parse_args(["compare", "--task", "af", "--data", "d", "--out", "o",
                              "--models", "a=pretrained", "--models", "b=none"])
    assert args.models == ["a=pretrained", "b=none"]


@pytest.mark.parametrize("verb", [["embed", "x.hea", "--out", "e.npy"],
                                  ["finetune", "--task", "af", "--data", "d", "--out", "r"],
                                  ["compare", "--task", "af", "--data", "d", "--out", "r"]])
def test_a_pool_of_no_name_is_a_usage_error_before_any_work(verb: list[str], capsys) -> None:
    """--pool max had been refused after the data or the model was read, with exit status 1;
    the choices are model.POOLS, kept without importing torch."""
    from qualityfm.cli.argtypes import POOL_NAMES
    from qualityfm.model import POOLS

    assert POOL_NAMES == POOLS
    with pytest.raises(SystemExit) as stop:
        main([*verb, "--pool", "max"])
    assert stop.value.code == 2
    assert "argument --pool: invalid choice: 'max'" in capsys.readouterr().err
