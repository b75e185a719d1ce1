"""score and embed, stopped part way, go on from the records they had finished."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from qualityfm.inference import embed as embed_module
from qualityfm.inference import embed_files, score_files
from qualityfm.inference import score as score_module
from qualityfm.inference import windows as windows_module
from qualityfm.model import QualityFM
from qualityfm.quality import RRRules


def _stop_at_second(monkeypatch, module: object, name: str) -> None:
    """``module.name`` raising KeyboardInterrupt on its second call (a Ctrl-C mid-run)."""
    real, calls = getattr(module, name), []

    def stopping(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, stopping)


def _counted_reads(monkeypatch) -> list[str]:
    """The records read from now on."""
    real, read = windows_module.read_windows, []

    def counting(path, cfg):
        read.append(Path(path).name)
        return real(path, cfg)

    monkeypatch.setattr(windows_module, "read_windows", counting)
    return read


def _kept(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.*.records/*.npz"))


def test_score_goes_on_from_the_records_it_had_scored(records: Path, tmp_path: Path,
                                                      tiny_model: QualityFM,
                                                      monkeypatch) -> None:
    """A stopped run had started over from the first record; its rows are the same as an
    uninterrupted run's, and its kept records go once the table is written."""
    fresh = tmp_path / "fresh.csv"
    score_files([records], fresh, model=tiny_model)
    out = tmp_path / "scores.csv"
    with monkeypatch.context() as m:
        _stop_at_second(m, score_module, "score_rows")
        with pytest.raises(KeyboardInterrupt):
            score_files([records], out, model=tiny_model)
    assert not out.exists() and len(_kept(out)) == 1  # clean.hea's rows
    read = _counted_reads(monkeypatch)
    summary = score_files([records], out, model=tiny_model)
    assert summary["n_resumed"] == 1 and summary["n_records"] == 2
    assert sorted(read) == ["broken.hea", "noisy.hea"]  # clean.hea not read again
    assert out.read_bytes() == fresh.read_bytes()
    assert [s["record"] for s in summary["skipped"]] == [str(records / "broken.hea")]
    assert not list(tmp_path.glob(".scores.csv.*"))  # the kept records gone


def test_a_changed_record_or_other_settings_are_not_taken_from_a_stopped_run(
        records: Path, tmp_path: Path, monkeypatch) -> None:
    """A record whose files changed since is read again; a run under other quality rules
    reads every record (the stopped run's results kept for it, under its own key)."""
    out = tmp_path / "scores.csv"
    with monkeypatch.context() as m:
        _stop_at_second(m, score_module, "score_rows")
        with pytest.raises(KeyboardInterrupt):
            score_files([records], out)
    assert len(_kept(out)) == 1
    fast = score_files([records], out, ecg_rules=RRRules(hr_max=250))
    assert fast["n_resumed"] == 0 and len(_kept(out)) == 1  # (not the fast run's)
    later = os.stat(records / "clean.dat").st_mtime_ns + 10**10
    os.utime(records / "clean.dat", ns=(later, later))
    again = score_files([records], out)
    assert again["n_resumed"] == 0 and again["n_windows"] == fast["n_windows"] == 5
    assert not _kept(out)


def test_a_damaged_kept_record_is_read_again(records: Path, tmp_path: Path,
                                             monkeypatch) -> None:
    out = tmp_path / "scores.csv"
    fresh = tmp_path / "fresh.csv"
    score_files([records], fresh)
    with monkeypatch.context() as m:
        _stop_at_second(m, score_module, "score_rows")
        with pytest.raises(KeyboardInterrupt):
            score_files([records], out)
    (kept,) = _kept(out)
    kept.write_bytes(kept.read_bytes()[:100])  # cut short (a disk filled up)
    summary = score_files([records], out)
    assert summary["n_resumed"] == 0 and out.read_bytes() == fresh.read_bytes()


@pytest.mark.parametrize("suffix", [".npy", ".parquet"])
def test_embed_goes_on_from_the_records_it_had_embedded(records: Path, tmp_path: Path,
                                                        tiny_model: QualityFM, monkeypatch,
                                                        suffix: str) -> None:
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    fresh = tmp_path / f"fresh{suffix}"
    embed_files([records], fresh, tiny_model)
    out = tmp_path / f"emb{suffix}"
    with monkeypatch.context() as m:
        _stop_at_second(m, embed_module, "embed_windows")
        with pytest.raises(KeyboardInterrupt):
            embed_files([records], out, tiny_model)
    assert len(_kept(out)) == 1
    read = _counted_reads(monkeypatch)
    summary = embed_files([records], out, tiny_model)
    assert summary["n_resumed"] == 1 and summary["n_windows"] == 5
    assert sorted(read) == ["broken.hea", "noisy.hea"]
    if suffix == ".npy":
        np.testing.assert_array_equal(np.load(out), np.load(fresh))
        assert (out.with_suffix(".index.csv").read_text()
                == fresh.with_suffix(".index.csv").read_text())
    else:
        import pandas as pd

        pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(fresh))
    assert not _kept(out)


def test_an_output_name_leaving_no_room_for_its_kept_records_is_refused_first(
        records: Path, tmp_path: Path, monkeypatch) -> None:
    """A name the table fits but its records' folder does not had failed at the first record
    ("File name too long"), after that record's work."""
    out = tmp_path / ("s" * 232 + ".csv")  # 14 bytes to spare, not 26
    read = _counted_reads(monkeypatch)
    with pytest.raises(ValueError, match="finished records' folder .*give a shorter name"):
        score_files([records], out)
    assert read == [] and not out.exists()


def test_kept_rows_take_a_byte_a_character() -> None:
    """A record's kept rows had been NumPy str (4 bytes a character): 10 times its CSV."""
    from qualityfm.inference.resume import rows_array, rows_of

    rows = [{"file": os.fsdecode(b"r\xff\xc3\xa9.hea"), "start_s": 30.0,
             "ecg_sqi": float("nan"), "level": 2, "has_ppg": True}]
    kept = rows_array(rows)
    assert kept.nbytes == len(json.dumps(rows))
    back = rows_of(kept)
    assert back[0]["file"] == rows[0]["file"] and np.isnan(back[0]["ecg_sqi"])
    assert {k: v for k, v in back[0].items() if k != "ecg_sqi"} == {
        k: v for k, v in rows[0].items() if k != "ecg_sqi"}


def test_a_finished_run_leaves_another_outputs_kept_records(records: Path,
                                                            tmp_path: Path) -> None:
    """Only this output's stale folders go: s.csv.v2.csv's had matched .s.csv.*.records."""
    from qualityfm.io.atomic import STALE_TEMPORARY_S

    other = tmp_path / f".s.csv.v2.csv.{'0' * 16}.records"
    mine = tmp_path / f".s.csv.{'0' * 16}.records"
    for folder in (other, mine):
        folder.mkdir()
        old = os.stat(folder).st_mtime - 2 * STALE_TEMPORARY_S
        os.utime(folder, (old, old))
    score_files([records], tmp_path / "s.csv")
    assert other.is_dir() and not mine.exists()


def test_a_record_kept_while_another_run_removes_the_folder_is_kept(tmp_path: Path,
                                                                    monkeypatch) -> None:
    """A second run of the same settings on the same output, finishing, removes the folder of
    kept records while this one writes into it: written again (the run had failed)."""
    from qualityfm.inference import resume
    from qualityfm.signal import WindowConfig

    record = tmp_path / "r.npz"
    record.write_bytes(b"")
    results = resume.RecordResults(tmp_path / "s.csv", resume.run_settings("score",
                                                                           WindowConfig()))
    real, calls = resume.atomic_write, []

    def raced(path, write):
        calls.append(path)
        if len(calls) == 1:  # the other run's finish, between the folder made and the rename
            raise FileNotFoundError(2, "No such file or directory")
        return real(path, write)

    monkeypatch.setattr(resume, "atomic_write", raced)
    assert results.get(record) is None
    results.put(record, {"rows": resume.rows_array([{"a": 1.5}])})
    assert len(calls) == 2 and resume.rows_of(results.get(record)["rows"]) == [{"a": 1.5}]


def test_the_run_key_holds_the_models_config_and_device(tiny_model: QualityFM) -> None:
    """The same weights under another attention kernel or on another device give other floats:
    their kept records are not taken (the key had held the weights alone)."""
    import copy
    import dataclasses

    from qualityfm.inference.resume import run_settings
    from qualityfm.signal import WindowConfig

    other = copy.deepcopy(tiny_model)
    other.cfg = dataclasses.replace(other.cfg, attention="local")
    one, two = (run_settings("embed", WindowConfig(), m) for m in (tiny_model, other))
    assert one["model"]["weights"] == two["model"]["weights"] and one != two
    assert one["model"]["device"] == "cpu"
