"""Files that share a stretch of signal, whole or shifted in time, are found and grouped."""

from __future__ import annotations

import dataclasses
import os
import warnings

import numpy as np
import pytest

from helpers import shared_path
from qualityfm.io import Record, write_wfdb
from qualityfm.signal import synthesize
from qualityfm.tasks import build_task_dataset
from qualityfm.tasks.copies import peak_marks, shared_stretches


def _part(rec: Record, start_s: float, seconds: float, name: str, gain: float = 1.0) -> Record:
    """The stretch of ``rec`` from ``start_s``, scaled by ``gain``, as a record ``name``."""
    out = {}
    for c, x in rec.signals.items():
        i = int(round(start_s * rec.fs[c]))
        out[c] = (x[i:i + int(round(seconds * rec.fs[c]))] * gain).astype(np.float32)
    return dataclasses.replace(rec, signals=out, record_id=name, patient_id=None, labels={})


def test_a_shifted_copy_is_found_with_its_offset() -> None:
    rec = synthesize(120.0, 250.0, seed=3)
    marks = {"a": peak_marks(rec), "b": peak_marks(_part(rec, 37.0, 60.0, "b", gain=2.5)),
             "c": peak_marks(synthesize(120.0, 250.0, seed=4))}
    assert shared_stretches(marks) == [("a", "b", 37.0)]


def test_a_copy_whose_gap_is_a_fill_value_is_found_as_one_of_nan() -> None:
    """A fill value (9.97e36) had set the channel's percentiles: no peak found, the copy (and a
    record of the model's training data) missed where the same gap as NaN was found."""
    rec = synthesize(120.0, 250.0, seed=3, channels=("ecg_ii",))
    for gap in (np.nan, 9.96921e36):
        part = _part(rec, 37.0, 60.0, "b")
        ecg = part.signals["ecg_ii"].copy()
        ecg[2500:3750] = gap
        part = dataclasses.replace(part, signals={**part.signals, "ecg_ii": ecg})
        assert shared_stretches({"a": peak_marks(rec), "b": peak_marks(part)}) == [
            ("a", "b", 37.0)]


def test_many_copies_of_one_training_stay_in_a_folder_are_each_found() -> None:
    """Ten copies of a training record's stretch in the folder evaluated: each run they share
    with it was held by eleven files, over the limit of a common pattern, so none was found
    (each alone was); the training side's files alone judge a pattern common, and the
    folder's copies are not compared with each other."""
    from qualityfm.tasks.copies import MAX_FILES_PER_RUN, stretches_of

    rec = synthesize(120.0, 250.0, seed=3, channels=("ecg_ii", "ppg"))
    training = {"train/v1.hea": peak_marks(rec),
                "train/v2.hea": peak_marks(synthesize(120.0, 250.0, seed=4))}
    n = MAX_FILES_PER_RUN + 2
    folder = {f"eval/c{k}.hea": peak_marks(_part(rec, 10.0, 60.0, f"c{k}", 1.0 + k / 10))
              for k in range(n)}
    folder["eval/new.hea"] = peak_marks(synthesize(120.0, 250.0, seed=5))
    found = stretches_of(folder, training)
    assert found == {f"eval/c{k}.hea": "train/v1.hea" for k in range(n)}
    assert stretches_of({"eval/c0.hea": folder["eval/c0.hea"]}, training) == {
        "eval/c0.hea": "train/v1.hea"}


def test_regular_rhythms_at_one_rate_are_not_copies() -> None:
    """Two stays paced at one rate, or of no rate variability, share every run of intervals
    at many offsets: no run of near-equal intervals is compared."""
    one = synthesize(120.0, 250.0, seed=1, hrv=0.0)
    other = synthesize(120.0, 250.0, seed=2, hrv=0.0)
    assert shared_stretches({"a": peak_marks(one), "b": peak_marks(other)}) == []


def test_stays_of_regular_rhythms_whose_ends_line_up_are_not_copies() -> None:
    """Two stays of little rate variability had lined up within a sample for 10-20 beats
    where one's end meets the other's start (an overlap of 6-16 s): their peaks' heights
    (independent noise) tell them apart."""
    a = synthesize(300.0, 250.0, seed=156, hr=94.21, hrv=0.02, channels=("ecg_ii",))
    b = synthesize(300.0, 250.0, seed=157, hr=94.45, hrv=0.02, channels=("ecg_ii",))
    assert shared_stretches({"a": peak_marks(a), "b": peak_marks(b)}) == []
    # 15 peaks over 9 s at the ends, heights (R waves and T waves) correlating at 0.991: under
    # 30 pairs, heights must be the same samples rescaled
    a, b = synthesize(300.0, 250.0, seed=133), synthesize(300.0, 250.0, seed=1826)
    assert shared_stretches({"a": peak_marks(a), "b": peak_marks(b)}) == []


def test_a_copy_with_a_gap_or_light_noise_is_still_found() -> None:
    """Peaks are compared where both copies hold samples (a 30 % gap in one had hidden it),
    and heights need not be equal, only correlated (a copy re-digitised, noisy by 0.2 % of
    its range; noise that moves most peaks by more than a sample hides a copy)."""
    rec = synthesize(120.0, 250.0, seed=8, channels=("ecg_ii",))
    gap = _part(rec, 30.0, 60.0, "gap")
    x = gap.signals["ecg_ii"].copy()
    x[1000:5500] = np.nan  # 18 s of the 60
    gap = dataclasses.replace(gap, signals={"ecg_ii": x})
    noisy = _part(rec, 10.0, 60.0, "noisy")
    y = noisy.signals["ecg_ii"]
    y = y + np.random.default_rng(0).normal(0, 0.002 * np.ptp(y), len(y)).astype(np.float32)
    noisy = dataclasses.replace(noisy, signals={"ecg_ii": np.round(y, 3)})
    marks = {"a": peak_marks(rec), "gap": peak_marks(gap), "noisy": peak_marks(noisy)}
    assert shared_stretches(marks) == [("a", "gap", 30.0), ("a", "noisy", 10.0),
                                       ("gap", "noisy", -20.0)]


def test_a_short_overlap_under_ten_peaks_is_not_a_copy() -> None:
    rec = synthesize(60.0, 250.0, seed=3)
    marks = {"a": peak_marks(_part(rec, 0.0, 30.0, "a")),
             "b": peak_marks(_part(rec, 25.0, 30.0, "b"))}  # 5 s shared: about 6 beats
    assert shared_stretches(marks) == []
    marks["b"] = peak_marks(_part(rec, 10.0, 30.0, "b"))  # 20 s shared
    assert shared_stretches(marks) == [("a", "b", 10.0)]


def test_a_shifted_copy_joins_the_group_of_its_recording(tmp_path) -> None:
    """Two files of one stay, one starting 20 s into the other, had been two groups: a split
    by record could train on one and test on the other."""
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    rec = synthesize(60.0, 300.0, seed=5, channels=("ecg_ii",), record_id="r0")
    write_wfdb(rec, data)
    write_wfdb(_part(rec, 20.0, 40.0, "later"), data)
    write_wfdb(synthesize(60.0, 300.0, seed=6, channels=("ecg_ii",), record_id="r1"), data)
    (data / "REFERENCE.csv").write_text("r0,N\nr1,N\nlater,A\n")
    with pytest.warns(UserWarning, match=r"records hold signals of another, whole or shifted in "
                                         r"time \(1 join\(s\): .*later\.hea starts 20 s into "
                                         r".*r0\.hea\)"):
        ds = build_task_dataset("af", data, cache_dir=cache)
    group = dict(zip(ds.record_ids.tolist(), ds.groups.tolist(), strict=True))
    assert group == {"r0": "later", "later": "later", "r1": "r1"}
    assert [e["offset_s"] for e in ds.shared] == [-20.0]
    with pytest.warns(UserWarning, match=r"shifted in time"):  # from the cache, said again
        again = build_task_dataset("af", os.path.relpath(data), cache_dir=cache)
    assert again.groups.tolist() == ds.groups.tolist()
    assert all(not os.path.isabs(f) for e in again.shared for f in e["records"])
    # the peaks a fitted run keeps come back from the cache, under the run's spelling
    assert set(again.marks) == set(again.sources.tolist()) and len(again.marks) == 3
    for f, m in again.marks.items():
        kept = ds.marks[os.path.abspath(f)]["ecg_ii"]
        np.testing.assert_array_equal(m["ecg_ii"].peaks, kept.peaks)
        np.testing.assert_array_equal(m["ecg_ii"].heights, kept.heights)
        assert (m["ecg_ii"].fs, m["ecg_ii"].n) == (kept.fs, kept.n)


def test_records_of_one_stay_in_the_2015_sets_share_a_group(tmp_path) -> None:
    """v291l starts 50 s into v293l; v100s, v101l and v102s are one stay; icu0450
    (physionet2015_icu) holds v540s from 82 s."""
    vt, icu = shared_path("physionet2015_vt"), shared_path("physionet2015_icu")
    for folder, names in ((vt, ("v291l", "v293l", "v100s", "v101l", "v102s", "v131l", "v540s")),
                          (icu, ("icu0450",))):
        for name in names:
            for f in folder.glob(f"{name}.*"):
                os.symlink(f, tmp_path / f.name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = build_task_dataset("abp", tmp_path)
    group = dict(zip(ds.sources.tolist(), ds.groups.tolist(), strict=True))
    by_name = {os.path.basename(f).split(".")[0]: g for f, g in group.items()}
    assert by_name["icu0450"] == by_name["v540s"]
    offsets = {tuple(os.path.basename(f)[:-4] for f in e["records"]): e["offset_s"]
               for e in ds.shared}
    assert offsets[("icu0450", "v540s")] == pytest.approx(82.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vt_ds = build_task_dataset("vt-alarm", tmp_path)
    groups = dict(zip(vt_ds.record_ids.tolist(), vt_ds.groups.tolist(), strict=True))
    assert groups["v291l"] == groups["v293l"]
    assert groups["v100s"] == groups["v101l"] == groups["v102s"] != groups["v131l"]


def test_evaluate_and_predict_name_records_holding_stretches_of_training_records(
        tmp_path, capsys) -> None:
    """icu0450 holds v540s from 82 s under another name: evaluated or predicted by a model
    fitted on v540s, it had passed as a test (trained_on matched names and identical windows
    only)."""
    from qualityfm.tasks.pipeline import TRAIN_PEAKS, evaluate_run, finetune_run, predict_run

    vt, icu = shared_path("physionet2015_vt"), shared_path("physionet2015_icu")
    train, test = tmp_path / "train", tmp_path / "test"
    for folder, source, names in ((train, vt, ("v122s", "v140s", "v154s", "v160s", "v162s",
                                               "v177l", "v202s", "v218s", "v540s", "v291l",
                                               "v293l")),
                                  (test, icu, ("icu0450", "icu0025"))):
        folder.mkdir()
        for name in names:
            for f in source.glob(f"{name}.*"):
                os.symlink(f, folder / f.name)
    run = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        finetune_run("abp", train, run, init="classical")
    assert (run / TRAIN_PEAKS).is_file()
    capsys.readouterr()
    res = evaluate_run("abp", run, test, tmp_path / "eval" / "r.json")
    err = capsys.readouterr().err
    assert res["trained_on"]["groups"] == ["icu0450"] and res["trained_on"]["n_groups"] == 1
    [held] = res["trained_on"]["stretches"]
    assert held["file"].endswith("icu0450.hea") and held["of"].endswith("v540s.hea")
    assert "1 of the 2 patients/records evaluated were in the model's training data " \
        "(icu0450; 1 file(s) hold stretches of training records under other names:" in err
    assert "NOT A TEST: 1 of 2 patients/records trained on" in (
        tmp_path / "eval" / "r.md").read_text()
    out = predict_run("abp", run, test, tmp_path / "p.csv")
    assert out["trained_on"]["groups"] == ["icu0450"]
    # the run's peaks are no record of its folder; a training record under its own name,
    # wherever it lies, is trained on by name, not another record's stretch
    from qualityfm.io import find_records

    assert find_records(run) == []
    again = evaluate_run("abp", run, os.path.relpath(train), tmp_path / "self" / "r.json")
    # (v291l starts 50 s into v293l, both trained on by name: it had also been listed as a
    # stretch of v293l)
    assert again["trained_on"]["n_groups"] == 10 and "stretches" not in again["trained_on"]


def test_peaks_of_prominence_zero_raise_no_warning_naming_no_record() -> None:
    """A peak whose span holds higher samples on both sides has prominence 0: scipy's
    PeakPropertyWarning had been printed 13 times by predict on physionet2015_vt (v204s is
    one such record), naming no record."""
    from qualityfm.tasks.datasets import _read_task_channels

    rec = _read_task_channels(shared_path("physionet2015_vt", "v204s.hea"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        marks = peak_marks(rec)
    assert max(len(m.peaks) for m in marks.values()) > 100
