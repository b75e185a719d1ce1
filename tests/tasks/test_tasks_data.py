"""Task datasets from a handful of real records, caching, and group-disjoint splits."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from helpers import shared_path
from qualityfm.io import MODEL_CHANNELS, Record, RecordError, read_record, write_wfdb
from qualityfm.signal import WindowConfig, make_windows, synthesize
from qualityfm.signal.synthetic import synthetic_alarm_records
from qualityfm.tasks import (
    assert_disjoint,
    build_task_dataset,
    group_kfold,
    group_split,
    record_dataset,
)
from qualityfm.tasks.datasets import TaskDataset, bp_targets

ECG, PPG = MODEL_CHANNELS.index("ecg_ii"), MODEL_CHANNELS.index("ppg")


def test_vt_alarm_dataset_from_real_records(tmp_path) -> None:
    data = shared_path("physionet2015_vt")
    ds = build_task_dataset("vt-alarm", data, max_records=6, cache_dir=tmp_path)
    assert ds.X.dtype == np.float32 and ds.X.shape == (6, 2, 3000)  # 10 s at 300 Hz
    assert ds.mask[:, ECG].all()
    assert np.abs(ds.X).max() <= 1.0 + 1e-6 and set(ds.y) <= {0, 1}
    # one alarm per record, no patient ids: a group per record, but for v101l and v102s, which
    # hold stretches of v100s's recording
    assert list(ds.groups) == [{"v101l": "v100s", "v102s": "v100s"}.get(r, r)
                               for r in ds.record_ids]
    assert ds.features.shape == (6, len(ds.feature_names))
    assert np.isfinite(ds.features[:, ds.feature_names.index("ecg1_hr")]).all()
    # the cache returns the same arrays; a different setting is another key
    again = build_task_dataset("vt-alarm", data, max_records=6, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.X, ds.X)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    long = build_task_dataset("vt-alarm", data, max_records=2, seconds=16, pad_to=30)
    assert long.X.shape == (2, 2, 9000) and (long.X[:, :, : 14 * 300] == 0).all()


def test_a_record_in_memory_gives_the_rows_its_file_gives(tmp_path) -> None:
    """record_dataset: a monitor's buffer (plain arrays at their own rates) becomes the model
    input, mask and features a dataset built from the same record's file holds."""
    rec = synthetic_alarm_records(1, seed=3, ppg_missing=0.0, abp_present=1.0)[0]
    write_wfdb(rec, tmp_path)
    from_file = build_task_dataset("vt-alarm", tmp_path)
    back = read_record(tmp_path / f"{rec.record_id}.hea")  # as stored (16-bit, its gains)
    buffer = Record("bed7", {c: np.asarray(v, np.float64) for c, v in back.signals.items()},
                    dict(back.fs), events={"alarm": back.events["alarm"]})
    live = record_dataset("vt-alarm", buffer)
    assert live.X.shape == (1, 2, 3000) and list(live.y) == [-1]  # no label needed
    assert record_dataset("vt-alarm", buffer, fs=250.0).X.shape == (1, 2, 2500)
    np.testing.assert_allclose(live.X, from_file.X, atol=1e-6)
    np.testing.assert_array_equal(live.mask, from_file.mask)
    np.testing.assert_allclose(live.features, from_file.features, rtol=1e-5, equal_nan=True)
    abp = record_dataset("abp", buffer)  # 30-s windows; its features never see the ABP wave
    assert abp.X.shape[1:] == (2, 9000) and abp.y.shape == (len(abp), 2)  # the line's SBP, DBP
    assert np.isnan(abp.features[:, abp.feature_names.index("abp_hr")]).all()
    # without an alarm time a buffer ends at its alarm, however long it is (not at 300 s)
    long = Record("bed7", {c: np.concatenate([v, v]) for c, v in buffer.signals.items()},
                  buffer.fs)
    long.signals["ecg_ii"][-5 * int(long.fs["ecg_ii"]):] = 0.0  # leads off in the last 5 s
    tail = record_dataset("vt-alarm", long)
    ecg = tail.X[0, ECG]  # its last seconds are the flat ones: the window ends at the end
    assert tail.X.shape == (1, 2, 3000) and np.ptp(ecg[-1200:]) < 0.05 < np.ptp(ecg[:1200])
    with pytest.raises(RecordError, match="bed7: alarm at 5.0 s leaves less than 10.0 s"):
        record_dataset("vt-alarm", Record("bed7", buffer.signals, buffer.fs,
                                          events={"alarm": 5.0}))
    labelled = Record("bed7", {"II": buffer.signals["ecg_ii"], "PLETH": buffer.signals["ppg"]},
                      {"II": buffer.fs["ecg_ii"], "PLETH": buffer.fs["ppg"]})
    with pytest.raises(RecordError, match=r"monitor labels: key the channels by their canonical "
                                          r"names, \{'II': 'ecg_ii', 'PLETH': 'ppg'\}"):
        record_dataset("vt-alarm", labelled)
    # one channel keyed by a monitor label beside a canonical one: it had been read as absent,
    # the model judging the alarm on one modality without a word
    half = Record("bed7", {"ecg_ii": buffer.signals["ecg_ii"], "PLETH": buffer.signals["ppg"]},
                  {"ecg_ii": buffer.fs["ecg_ii"], "PLETH": buffer.fs["ppg"]})
    with pytest.raises(RecordError, match=r"bed7: channels keyed by monitor labels would be "
                                          r"left out \(.*\{'PLETH': 'ppg'\}"):
        record_dataset("vt-alarm", half)
    # a reader's second channel of one name is canonical, not a monitor label
    second = Record("bed7", {**buffer.signals, "ppg_2": buffer.signals["ppg"]},
                    {**buffer.fs, "ppg_2": buffer.fs["ppg"]})
    np.testing.assert_array_equal(record_dataset("vt-alarm", second).X, live.X)
    # a PPG ending 5 s before the alarm is half missing in the 10 s: absent (it had been
    # kept, its last seconds zeros); an alarm stamped 0.5 s past the last sample holds the
    # last values at the alarm edge rather than zeros
    cut = Record("bed7", {"ecg_ii": buffer.signals["ecg_ii"],
                          "ppg": buffer.signals["ppg"][: -5 * int(buffer.fs["ppg"])]},
                 dict(buffer.fs), events={"alarm": buffer.duration()})
    assert record_dataset("vt-alarm", cut).mask.tolist() == [[False, True]]
    past = Record("bed7", buffer.signals, buffer.fs, events={"alarm": buffer.duration() + 0.5})
    # a channel needs 2 s of its own samples in the span (the missing tail does not count),
    # and the grace for a late alarm is no more than a window's missing share
    short = Record("bed7", {"ecg_ii": buffer.signals["ecg_ii"],
                            "ppg": buffer.signals["ppg"][: -int(0.45 * buffer.fs["ppg"])]},
                   dict(buffer.fs), events={"alarm": buffer.duration()})
    assert record_dataset("vt-alarm", short, seconds=2.4).mask.tolist() == [[False, True]]
    late_4s = Record("bed7", buffer.signals, buffer.fs, events={"alarm": buffer.duration() + 0.9})
    with pytest.raises(RecordError, match="is past the record's end"):
        record_dataset("vt-alarm", late_4s, seconds=4.0)
    held = Record("bed7", {c: np.concatenate([v, np.full(int(0.5 * buffer.fs[c]), v[-1])])
                           for c, v in buffer.signals.items()}, buffer.fs)
    np.testing.assert_allclose(record_dataset("vt-alarm", past).X,
                               record_dataset("vt-alarm", held).X, atol=1e-6)
    late = buffer.duration() + 60
    with pytest.raises(RecordError, match=f"bed7: alarm at {late:g} s is past the record's end"):
        record_dataset("vt-alarm", Record("bed7", buffer.signals, buffer.fs,
                                          events={"alarm": late}))


def test_vt_alarm_with_leads_off_is_kept_on_its_pulse(tmp_path) -> None:
    """An alarm whose ECG is flat before it (leads off) but whose PPG is recorded is judged on
    the PPG (ECG masked, its feature columns missing); one with nothing usable is skipped."""
    recs = synthetic_alarm_records(3, seed=1, ppg_missing=0.0, abp_present=0.0)  # alarm at 300 s
    tail = slice(-12 * 250, None)  # the last 12 s: more than the 10-s window
    recs[1].signals["ecg_ii"][tail] = 0.0
    for ch in ("ecg_ii", "ppg"):
        recs[2].signals[ch][tail] = 0.0
    for rec in recs:
        write_wfdb(rec, tmp_path)
    ds = build_task_dataset("vt-alarm", tmp_path)
    ids = [r.record_id for r in recs]
    assert list(ds.record_ids) == ids[:2]
    assert len(ds.skipped) == 1 and ids[2] in ds.skipped[0]["record"]
    assert ds.skipped[0]["reason"].startswith("no usable")
    np.testing.assert_array_equal(ds.mask[:, ECG], [True, False])
    assert ds.mask[:, PPG].all() and (ds.X[1, ECG] == 0).all()
    col = ds.feature_names.index
    assert np.isnan(ds.features[1, col("ecg1_hr")]) and ds.features[1, col("n_leads")] == 0
    assert np.isfinite(ds.features[:, col("ppg_hr")]).all()
    assert np.isfinite(ds.features[0, col("ecg1_hr")])


def test_vt_alarm_keeps_only_vt_alarms(tmp_path) -> None:
    """Pointed at a folder of several Challenge 2015 alarm types, vt-alarm builds the VT alarms
    (the type's spelling aside) and names each other alarm it skips, labelled or not."""
    recs = synthetic_alarm_records(3, seed=2, ppg_missing=0.0, abp_present=0.0)
    recs[1].labels["alarm_type"] = "Asystole"
    recs[2].labels["alarm_type"] = "ventricular tachycardia"
    for rec in recs:
        write_wfdb(rec, tmp_path)
    ids = [r.record_id for r in recs]
    for labels in (True, False):
        ds = build_task_dataset("vt-alarm", tmp_path, labels=labels)
        assert list(ds.record_ids) == [ids[0], ids[2]]
        assert len(ds.skipped) == 1 and ids[1] in ds.skipped[0]["record"]
        assert ds.skipped[0]["reason"] == "alarm type 'Asystole', not ventricular tachycardia"


def test_unlabelled_records_give_rows_for_predict(tmp_path) -> None:
    """``labels=False`` reads records without labels (what ``predict`` scores): a VT alarm
    record without an alarm time ends at its alarm, a long AF record gives every window and a
    short one its crop, and abp needs ECG II and PPG but no arterial line."""
    vt, af, bp = tmp_path / "vt", tmp_path / "af", tmp_path / "bp"
    labelled = synthetic_alarm_records(1, seed=2, ppg_missing=0.0, abp_present=0.0)[0]
    write_wfdb(labelled, vt)
    fs = labelled.fs["ecg_ii"]
    last_minute = {c: x[-int(60 * fs):] for c, x in labelled.signals.items()}
    write_wfdb(Record("clip", last_minute, dict(labelled.fs)), vt)  # no label, no alarm time
    with pytest.raises(RecordError, match="no Challenge 2015 alarm label"):
        build_task_dataset("vt-alarm", vt / "clip.hea")
    ds = build_task_dataset("vt-alarm", vt, labels=False)
    assert list(ds.record_ids) == ["clip", labelled.record_id] and ds.y[0] == -1
    assert ds.y[1] == int(labelled.labels["alarm_true"])
    np.testing.assert_allclose(ds.X[0], ds.X[1], atol=1e-3)  # the 10 s before the alarm (the
    # two files quantise the signals with gains of their own)

    for name, seconds in (("short", 35.0), ("long", 95.0)):
        write_wfdb(synthesize(seconds, 300.0, seed=4, record_id=name, channels=("ecg_ii",)), af)
    with pytest.raises(RecordError, match="no record fits"):
        build_task_dataset("af", af)
    ds = build_task_dataset("af", af, labels=False)
    assert list(ds.record_ids) == ["long@0", "long@30", "long@60", "short"]
    assert (ds.y == -1).all() and (ds.rhythm == -1).all() and ds.X.shape == (4, 2, 9000)
    # labelled, a recording over 61 s still gives every window, each of its label, labels
    # read or not (a label had made it one central crop, its other minutes unread)
    (af / "REFERENCE.csv").write_text("long,A\nshort,N\n")
    for labels in (True, False):
        ds = build_task_dataset("af", af, labels=labels)
        assert list(ds.record_ids) == ["long@0", "long@30", "long@60", "short"]
    ds = build_task_dataset("af", af)
    assert ds.y.tolist() == [1, 1, 1, 0] and ds.groups.tolist()[:3] == ["long"] * 3

    write_wfdb(synthesize(65, 250.0, seed=3, record_id="no_line", channels=("ecg_ii", "ppg")), bp)
    write_wfdb(synthesize(65, 250.0, sbp=135, dbp=72, seed=3, record_id="line"), bp)
    ds = build_task_dataset("abp", bp)
    assert list(ds.record_ids) == ["line@0", "line@30"]
    unl = build_task_dataset("abp", bp, labels=False)
    assert list(unl.record_ids) == ["line@0", "line@30", "no_line@0", "no_line@30"]
    np.testing.assert_array_equal(unl.y[:2], ds.y)
    assert np.isnan(unl.y[2:]).all() and unl.mask.all()
    # a monitor's numerics beside the waveforms (MIMIC's ...n record) is named with its
    # channels (it had been "it has []": they are under the tasks' rate)
    trend = {c: np.full(65, 80.0) for c in ("hr", "abpsys", "spo2")}
    write_wfdb(Record("line_n", trend, dict.fromkeys(trend, 1.0)), bp)
    assert not [k for k in build_task_dataset("abp", bp).skipped if "line_n" in k["record"]]
    with pytest.raises(RecordError, match=re.escape(  # in a folder no waveform; named alone
            "abp needs ABP, ECG II and PPG; it has ['hr', 'abpsys', 'spo2'] (hr, abpsys, spo2 "
            "under 50 Hz)")):
        build_task_dataset("abp", bp / "line_n.hea")


def test_af_dataset_from_real_records() -> None:
    ds = build_task_dataset("af", shared_path("cinc2017_af"), max_records=6)
    assert ds.X.shape == (6, 2, 9000)
    assert ds.mask[:, ECG].all() and not ds.mask[:, PPG].any()  # PPG absent -> masked
    assert (ds.X[:, PPG] == 0).all()
    np.testing.assert_array_equal(ds.y, (ds.rhythm == 1).astype(int))  # A is index 1


def test_abp_dataset_from_real_records() -> None:
    data = shared_path("physionet2015_vt")
    ds = build_task_dataset("abp", data, max_records=12)
    assert ds.y.shape[1] == 2 and len(ds) >= 3
    sbp, dbp = ds.y[:, 0], ds.y[:, 1]
    assert ((sbp > dbp + 15) & (sbp < 250) & (dbp > 20)).all()
    assert ds.mask.all()
    assert "abp_hr" in ds.feature_names and np.isnan(ds.features[:, ds.feature_names.index(
        "abp_hr")]).all()  # the target's own wave is hidden from the features


def test_bp_targets_reject_damped_and_flat_lines() -> None:
    fs = 125.0
    t = np.arange(0, 30, 1 / fs)
    beat = (t * 1.2) % 1.0
    abp = 80 + 40 * np.exp(-((beat - 0.15) ** 2) / 0.005)  # ~120/80 at 72 bpm
    sbp, dbp = bp_targets(abp, fs)
    assert sbp == pytest.approx(120, abs=2) and dbp == pytest.approx(80, abs=2)
    assert "flat" in bp_targets(np.full_like(t, 90.0), fs)
    assert "damped" in bp_targets(90 + 5 * np.sin(2 * np.pi * 1.2 * t), fs)


def test_a_window_starting_on_a_falling_slope_has_no_beat_at_its_start() -> None:
    """The smoothing had padded the wave with zeros, so its first box read ~30 mmHg low: a
    window starting after a systolic peak had a "beat" at sample 1 near diastolic, which
    pulled the SBP median down (up to 4 mmHg on 10-s windows of the VT records)."""
    from qualityfm.tasks.datasets import beat_pressures

    fs = 250.0
    t = np.arange(0, 10, 1 / fs) + 0.2 / 1.2  # starts 0.04 s after a peak, on its decay
    beat = (t * 1.2) % 1.0
    abp = 70 + 50 * np.exp(-((beat - 0.15) ** 2) / 0.005)  # 120/70 at 72 bpm
    assert abp[0] > abp[1] > abp[2]
    sys_, dia = beat_pressures(abp, fs)
    assert len(sys_) == 11 and sys_.min() == pytest.approx(120, abs=0.5)
    assert dia.max() == pytest.approx(70, abs=0.5)


def test_a_flush_of_a_few_seconds_leaves_the_beats_after_it_counted() -> None:
    """A 4-s flush at 300 mmHg had widened the wave's spread so that no beat reached the
    prominence asked of it: the window was rejected as 30 s without a beat."""
    fs = 125.0
    t = np.arange(0, 30, 1 / fs)
    beat = (t * 1.2) % 1.0
    abp = 80 + 40 * np.exp(-((beat - 0.15) ** 2) / 0.005)
    flushed = abp.copy()
    flushed[: int(4 * fs)] = 300.0
    sbp, dbp = bp_targets(flushed, fs)
    assert sbp == pytest.approx(120, abs=2) and dbp == pytest.approx(80, abs=2)
    flushed[: int(8 * fs)] = 300.0  # over a fifth of the window: rejected
    assert "still for over 20% of the window (flush" in bp_targets(flushed, fs)


def test_splits_are_group_disjoint() -> None:
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(30), rng.integers(1, 5, 30))
    y = (rng.random(len(groups)) < 0.3).astype(int)
    seen = []
    for tr, te in group_kfold(y, groups, k=5, seed=1):
        assert not set(groups[tr]) & set(groups[te])
        seen.append(te)
    assert sorted(np.concatenate(seen)) == list(range(len(groups)))
    tr, va = group_split(y, groups, 0.2, seed=0)
    assert not set(groups[tr]) & set(groups[va])
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 0.5\], got 0.6"):
        group_split(y, groups, 0.6)
    with pytest.raises(ValueError, match="both sides"):
        assert_disjoint(groups, np.array([0, 1]), np.array([1]))


def test_dataset_save_load_roundtrip(tmp_path) -> None:
    ds = TaskDataset("af", np.zeros((2, 2, 30), np.float32), np.ones((2, 2), bool),
                     np.array([0, 1]), np.array(["a", "b"]), np.array(["a", "b"]),
                     np.zeros((2, 3), np.float32), ["f1", "f2", "f3"], rhythm=np.array([0, 1]))
    ds.save(tmp_path / "d.npz")
    back = TaskDataset.load(tmp_path / "d.npz")
    assert back.task == "af" and list(back.groups) == ["a", "b"] and list(back.rhythm) == [0, 1]


def test_window_length_and_record_count_must_be_positive(tmp_path) -> None:
    with pytest.raises(ValueError, match="seconds must be a number > 0, got 0"):
        build_task_dataset("vt-alarm", tmp_path, seconds=0)
    with pytest.raises(ValueError, match="max_records must be >= 1, got -1"):
        build_task_dataset("vt-alarm", tmp_path, max_records=-1)
    # pad_to -2 had cut an 8-s window 2 s off the alarm, 5 the last 5 s, NaN failed each record
    for pad_to in (-2.0, 5.0, float("nan")):
        with pytest.raises(ValueError, match=f"pad_to must be at least the window's 10 s .*"
                                             f"got {pad_to}"):
            build_task_dataset("vt-alarm", tmp_path, pad_to=pad_to)
    from qualityfm.io import Record
    from qualityfm.tasks.datasets import record_dataset

    rec = Record("r", {"ecg_ii": np.zeros(3000, np.float32)}, {"ecg_ii": 300.0})
    with pytest.raises(ValueError, match="seconds must be a number > 0, got nan"):
        record_dataset("af", rec, seconds=float("nan"))
    from qualityfm.tasks.datasets import TaskSettings
    from qualityfm.tasks.pipeline import _window_settings

    assert TaskSettings("vt-alarm", 10.0, pad_to=0).pad_to is None  # 0: no padding, as before
    # predict --seconds 40 on a classical run saved with pad_to 30: its padding is dropped
    # (it had been passed on, and refused as shorter than the windows)
    classical = type("Est", (), {"fs": 300.0})()
    with pytest.warns(UserWarning, match="fitted on windows of 30 s"):
        got = _window_settings({"settings": {"seconds": 30.0, "pad_to": 30.0}}, 40.0, classical)
    assert got == {"seconds": 40.0, "fs": 300.0, "pad_to": None}


def test_cached_af_labels_follow_the_label_file(tmp_path) -> None:
    """Relabelling a folder (its REFERENCE.csv) is a new dataset, cached or not."""
    data = shared_path("cinc2017_af")
    folder = tmp_path / "af"
    folder.mkdir()
    heads = sorted(data.glob("A0*.hea"))[:6]
    for hea in heads:
        for f in (hea, hea.with_suffix(".mat")):
            (folder / f.name).symlink_to(f)
    (folder / "REFERENCE.csv").write_text("".join(f"{h.stem},A\n" for h in heads))
    cache = tmp_path / "cache"
    first = build_task_dataset("af", folder, cache_dir=cache)
    assert first.y.tolist() == [1] * 6
    (folder / "REFERENCE.csv").write_text("".join(f"{h.stem},N\n" for h in heads))
    again = build_task_dataset("af", folder, cache_dir=cache)
    assert again.y.tolist() == [0] * 6 and len(list(cache.iterdir())) == 2


def test_a_hand_built_task_dataset_names_what_it_lacks() -> None:
    from qualityfm.tasks import TaskDataset

    x, y = np.zeros((4, 2, 30), np.float32), [0, 1, 0, 1]
    with pytest.raises(ValueError, match="TaskDataset.groups is required"):
        TaskDataset("vt-alarm", x, np.ones((4, 2), bool), y, None, np.arange(4),
                    np.zeros((4, 0)), [])
    with pytest.raises(ValueError, match="y has 4 rows but groups 3"):
        TaskDataset("vt-alarm", x, np.ones((4, 2), bool), y, [0, 1, 2], np.arange(4),
                    np.zeros((4, 0)), [])
    ds = TaskDataset("vt-alarm", x, np.ones((4, 2), bool), y, [0, 1, 2, 3], np.arange(4),
                     np.zeros((4, 0)), [])
    assert isinstance(ds.y, np.ndarray) and len(ds.subset(np.array([0, 2]))) == 2
    # af's rhythm too: one of another length had been saved, loaded and failed in sklearn
    with pytest.raises(ValueError, match="y has 4 rows but rhythm 3"):
        TaskDataset("af", x, np.ones((4, 2), bool), y, [0, 1, 2, 3], np.arange(4),
                    np.zeros((4, 0)), [], rhythm=[0, 1, 0])
    af = TaskDataset("af", x, np.ones((4, 2), bool), y, [0, 1, 2, 3], np.arange(4),
                     np.zeros((4, 0)), [], rhythm=[0, 1, 0, 2])  # a list had stayed one
    assert af.subset(np.array([1, 3])).rhythm.tolist() == [1, 2]


def test_a_task_window_takes_the_lead_and_gap_rules_of_pre_training() -> None:
    """Without lead II the task window stands lead I for it, as make_windows does (not aVR,
    first by name); a pulse half +inf is masked as a half-NaN one is, not interpolated."""
    fs = 250.0
    t = np.arange(int(40 * fs)) / fs
    ecg = np.exp(-(((t % 0.8) - 0.4) ** 2) / (2 * 0.012 ** 2))  # upright R waves
    ppg = np.sin(2 * np.pi * 1.2 * t)
    rec = Record("r1", {"ecg_avr": -ecg, "ecg_i": ecg, "ppg": ppg},
                 {"ecg_avr": fs, "ecg_i": fs, "ppg": fs})
    assert make_windows(rec, WindowConfig(seconds=10)).sources["ecg_ii"] == "ecg_i"
    lead_i = Record("r1", {"ecg_i": ecg, "ppg": ppg}, {"ecg_i": fs, "ppg": fs})
    np.testing.assert_array_equal(record_dataset("vt-alarm", rec).X,
                                  record_dataset("vt-alarm", lead_i).X)
    for missing in (np.nan, np.inf):
        gappy = ppg.copy()
        gappy[-int(5 * fs):] = missing  # half of the 10-s alarm window
        held = Record("r1", {"ecg_i": ecg, "ppg": gappy}, {"ecg_i": fs, "ppg": fs})
        assert list(record_dataset("vt-alarm", held).mask[0]) == [False, True]


def test_a_cached_dataset_follows_its_signal_files_and_long_records_end_at_their_end(
        tmp_path) -> None:
    """A signal file rewritten under the same header is another dataset, not the cached one;
    a record without an alarm time is judged on its last seconds, as record_dataset judges
    the same buffer (not on 290-300 s of an 8-minute record)."""
    data, cache = tmp_path / "data", tmp_path / "cache"
    rec = synthesize(480.0, 250.0, seed=1, record_id="bed7", channels=("ecg_ii", "ppg"))
    write_wfdb(rec, data)
    first = build_task_dataset("vt-alarm", data, cache_dir=cache, labels=False)
    back = read_record(data / "bed7.hea")
    np.testing.assert_allclose(first.X, record_dataset("vt-alarm", back).X, atol=1e-6)
    header, stamp = (data / "bed7.hea").read_bytes(), (data / "bed7.hea").stat().st_mtime_ns
    other = synthesize(480.0, 250.0, seed=2, record_id="bed7", channels=("ecg_ii", "ppg"))
    write_wfdb(other, data)
    (data / "bed7.hea").write_bytes(header)  # the header as it was, the samples new
    os.utime(data / "bed7.hea", ns=(stamp, stamp))
    again = build_task_dataset("vt-alarm", data, cache_dir=cache, labels=False)
    assert not np.allclose(again.X, first.X)
    fresh = build_task_dataset("vt-alarm", data, labels=False)
    np.testing.assert_array_equal(again.X, fresh.X)
    # a header naming a signal file of another name: that file is part of the record too
    (data / "bed7.dat").rename(data / "samples.dat")
    (data / "bed7.hea").write_text((data / "bed7.hea").read_text().replace("bed7.dat",
                                                                           "samples.dat"))
    named = build_task_dataset("vt-alarm", data, cache_dir=cache, labels=False)
    np.testing.assert_array_equal(named.X, fresh.X)
    write_wfdb(rec, tmp_path / "first")
    (tmp_path / "first" / "bed7.dat").replace(data / "samples.dat")  # the first samples
    changed = build_task_dataset("vt-alarm", data, cache_dir=cache, labels=False)
    np.testing.assert_allclose(changed.X, first.X, atol=1e-6)
    # a truncated cache file is built again (it had failed the run with a bare zip error)
    newest = max(cache.glob("*.npz"), key=lambda f: f.stat().st_mtime_ns)
    newest.write_bytes(newest.read_bytes()[:1000])
    with pytest.warns(RuntimeWarning, match="unreadable task cache"):
        rebuilt = build_task_dataset("vt-alarm", data, cache_dir=cache, labels=False)
    np.testing.assert_array_equal(rebuilt.X, changed.X)
    np.testing.assert_array_equal(
        build_task_dataset("vt-alarm", data, cache_dir=cache, labels=False).X, changed.X)
    (tmp_path / "afile").write_text("")
    with pytest.raises(ValueError, match="afile is a file, not a folder"):
        build_task_dataset("vt-alarm", data, cache_dir=tmp_path / "afile", labels=False)


def test_a_skipped_record_is_listed_under_its_own_file(tmp_path, capsys) -> None:
    """A multi-segment record whose segment headers are all missing is skipped under its
    header (it was listed under the missing segment, a file that does not exist); the task
    verbs name skipped records on stderr (finetune had listed them in summary.json alone)."""

    from qualityfm.io.read import note_skipped
    from qualityfm.tasks.pipeline import _dataset

    folder = tmp_path / "vt"
    good = synthetic_alarm_records(1, seed=2, ppg_missing=0.0, abp_present=0.0)[0]
    write_wfdb(good, folder)
    seg = folder / "multi"
    shutil.copytree(shared_path("wfdb_samples", "041s"), seg)
    (seg / "041s01.hea").unlink()
    (seg / "041s02.hea").unlink()
    ds = build_task_dataset("vt-alarm", folder, labels=False)
    assert list(ds.record_ids) == [good.record_id]
    [entry] = ds.skipped
    assert entry["record"] == str(seg / "041s.hea")
    assert entry["reason"].startswith("no segment header can be read: missing segment header "
                                      "041s01.hea (and 1 more)")
    capsys.readouterr()
    again, passed = _dataset("vt-alarm", folder, labels=False)
    assert len(again) == 1 and [e["record"] for e in passed] == [
        str(seg / "041s01.dat"), str(seg / "041s02.dat")]
    err = capsys.readouterr().err.splitlines()  # the orphan signal files named too
    assert err[0] == f"qualityfm: skipped {seg / '041s.hea'}: {entry['reason']}"
    assert err[1].startswith(f"qualityfm: passed over {seg / '041s01.dat'}: a WFDB signal file")
    assert len(err) == 3
    note_skipped([{"record": f"r{i}", "reason": "bad"} for i in range(8)], shown=5)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 6 and err[4] == "qualityfm: skipped r4: bad" and "3 more" in err[5]


def test_an_uncalibrated_arterial_line_gives_no_bp_target(tmp_path) -> None:
    """An ABP channel with a WFDB gain of 0 is in ADC units, not mmHg: abp skips it for its
    targets, naming why, and still reads its windows for predictions."""
    folder = tmp_path / "bp"
    hea = write_wfdb(synthesize(65, 250.0, sbp=135, dbp=72, seed=3, record_id="line"), folder)
    lines = hea.read_text().splitlines()
    lines = [ln if not ln.endswith(" ABP") else ln.replace(ln.split()[2], "0/mmHg", 1)
             for ln in lines]
    hea.write_text("\n".join(lines) + "\n")
    with pytest.warns(RuntimeWarning, match="'abp' has an ADC gain of 0"):
        assert read_record(hea).units["abp"] == "uncalibrated"
    with pytest.warns(RuntimeWarning), pytest.raises(RecordError, match="line.hea: its arterial "
                                                                        "line is uncalibrated"):
        build_task_dataset("abp", hea)
    with pytest.warns(RuntimeWarning):
        assert len(build_task_dataset("abp", folder, labels=False)) == 2


def test_an_arterial_line_in_another_pressure_unit_gives_targets_in_mmhg(tmp_path) -> None:
    """ABP stated in kPa or cmH2O is converted (its values had been taken for mmHg: 163/92
    for 120/67); one in mV is no pressure and is skipped, naming its unit."""
    import re

    hea = write_wfdb(synthesize(65, 250.0, sbp=135, dbp=72, seed=3, record_id="line"),
                     tmp_path / "mmhg")
    targets = build_task_dataset("abp", hea).y
    for unit, per_mmhg in (("kPa", 1 / 7.50062), ("cmH2O", 1 / 0.73556), ("mm[Hg]", 1.0),
                           ("mbar", 1 / 0.750062), ("hPa", 1 / 0.750062),
                           ("cmH20", 1 / 0.73556), ("mV", 1.0)):
        lines = []
        for ln in hea.read_text().splitlines():
            if ln.endswith(" ABP"):
                gain = ln.split()[2]
                g, rest = re.match(r"([^(/]+)(.*)/mmHg", gain).groups()
                ln = ln.replace(gain, f"{float(g) / per_mmhg!r}{rest}/{unit}", 1)
            lines.append(ln)
        other = tmp_path / unit / "line.hea"
        other.parent.mkdir()
        other.write_text("\n".join(lines) + "\n")
        shutil.copy(hea.with_suffix(".dat"), other.with_suffix(".dat"))
        if unit == "mV":
            with pytest.raises(RecordError, match=r"line\.hea: its arterial line is in 'mV', "
                                                  r"a unit not converted to mmHg"):
                build_task_dataset("abp", other)
        else:
            np.testing.assert_allclose(build_task_dataset("abp", other).y, targets, atol=0.05)


def test_a_validation_split_holds_a_rare_class_held_by_two_groups_or_more() -> None:
    """3 positive records among 60 in 5 folds leave two folds without one: the validation
    split takes the first fold that holds every class held by at least two groups, for
    every seed (the first fold alone missed them on 11 seeds of 50)."""
    y = np.zeros(60, int)
    y[[5, 30, 51]] = 1
    groups = np.array([f"r{i}" for i in range(60)])
    for seed in range(50):
        tr, va = group_split(y, groups, 0.2, seed=seed)
        assert y[va].sum() >= 1 and y[tr].sum() >= 1 and len(va) == 12
        assert_disjoint(groups, tr, va)
    ones = np.zeros(60, int)
    ones[7] = 1  # one positive group: on one side only, the fit's (it had been held out on
    for seed in range(20):  # some seeds, a network trained on no positive)
        tr, va = group_split(ones, groups, 0.2, seed=seed)
        assert ones[tr].sum() == 1 and len(va) == 12
    g = np.repeat(np.arange(10), [4, 6, 2, 2, 6, 2, 2, 3, 5, 6])  # 38 windows of 10 patients
    y = (g == 6).astype(int)  # both positives from patient 6 (held out on seed 0)
    tr, va = group_split(y, g, 0.2, seed=0)
    assert y[tr].sum() == 2
    # 1 / fraction rounded half up: 0.4 holds out a third (round(2.5) had held out half)
    for fraction, held in ((0.4, 20), (0.45, 30), (0.3, 20), (0.2, 12)):
        assert len(group_split(np.arange(60) % 2, groups, fraction, seed=0)[1]) == held


def test_a_cache_inside_the_data_folder_is_refused(tmp_path, monkeypatch) -> None:
    """Its .npz files had been read as records: each run skipped the last run's cache files
    as bad records and, its file list changed, wrote a new cache; left out of the task's
    records since, they still read as bad records to score and prepare: refused."""
    import shutil

    src = shared_path("physionet2015_vt")
    data = tmp_path / "vt"
    data.mkdir()
    for name in ("v100s", "v101l"):
        for ext in (".hea", ".mat"):
            shutil.copy(src / f"{name}{ext}", data / f"{name}{ext}")
    with pytest.raises(ValueError, match=r"cache: the cache folder is inside the input folder "
                                         r".*vt, where its files would lie among the records"):
        build_task_dataset("vt-alarm", data, cache_dir=data / "cache")
    assert not (data / "cache").exists()
    # a hidden folder there is never read, and a cache holding the data folder writes beside it
    for cache in (data / ".cache", tmp_path):
        assert len(build_task_dataset("vt-alarm", data, cache_dir=cache)) == 2
    (data / "cachelink").symlink_to(data / ".cache")  # hidden where it lies, not by this name
    with pytest.raises(ValueError, match=r"cachelink: the cache folder is inside"):
        build_task_dataset("vt-alarm", data, cache_dir=data / "cachelink")
    (data / "cachelink").unlink()
    (tmp_path / "elsewhere" / "deep").mkdir(parents=True)  # a link, then '..': outside the data
    (data / "out").symlink_to(tmp_path / "elsewhere" / "deep")
    from qualityfm.io.folders import check_out_apart

    refuse = functools.partial(check_out_apart, kind="cache", hidden_ok=True, may_hold=True)
    refuse(data / "out" / ".." / "c", [data])  # not refused
    (data / "out").unlink()
    # a link inside the data, named through '..' from a folder beside it: the readers walk it
    (data / "ext").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    for cache in ("../vt/ext", "../vt/ext/c", str(data / "sub" / ".." / "ext")):
        with pytest.raises(ValueError, match="the cache folder is inside"):
            refuse(Path(cache), [Path("../vt")])
    # and a folder of links to datasets elsewhere, the cache inside one of them
    with pytest.raises(ValueError, match="the cache folder is inside"):
        refuse(tmp_path / "elsewhere" / "c", [data])
    refuse(tmp_path / "elsewhere" / ".c", [data])  # hidden: never read
    (data / "ext").unlink()
    for _ in range(2):
        ds = build_task_dataset("vt-alarm", data, cache_dir=tmp_path / "cache")
        assert ds.skipped == [] and len(ds) == 2
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1


def test_a_missing_optional_reader_is_named_not_blamed_on_the_file(tmp_path,
                                                                   monkeypatch) -> None:
    """A FLAC-compressed WFDB record (format 516) without soundfile had been skipped as a
    "truncated or corrupt signal file", and that skip cached."""
    import sys

    path = shared_path("physionet2015_icu") / "icu0025.hea"
    monkeypatch.setitem(sys.modules, "soundfile", None)
    with pytest.raises(ImportError, match=r"icu0025\.hea: reading its signal file needs the "
                                          r"soundfile package"):
        read_record(path)


def test_one_record_in_two_formats_is_named(tmp_path) -> None:
    """A MIMIC PERform subject in WFDB and in CSV beside it: its windows came twice, without
    a word."""
    t = np.arange(0, 65, 1 / 125.0)
    rec = synthesize(65, fs=125.0, hr=80, rhythm="af", seed=3, channels=("ecg_ii", "ppg"))
    write_wfdb(rec.__class__("mimic_perform_af_001", rec.signals, rec.fs, units=rec.units),
               tmp_path)
    (tmp_path / "mimic_perform_af_001_data.csv").write_text("Time,PPG,ECG\n" + "".join(
        f"{a:.3f},{b:.5f},{c:.5f}\n" for a, b, c in
        zip(t, rec.signals["ppg"], rec.signals["ecg_ii"], strict=False)))
    with pytest.warns(UserWarning, match=r"2 row id\(s\) come from two files "
                                         r"\(mimic_perform_af_001@0: .*mimic_perform_af_001"
                                         r"\.hea and .*_data\.csv ...\): one record in two "
                                         r"formats is counted twice"):
        build_task_dataset("af", tmp_path)


def test_an_abp_window_needs_lead_ii_itself() -> None:
    """Where lead II is off in a window, another lead had stood in for it there; abp reads
    ECG II and PPG, so the window is left out, as any window without lead II."""
    rec = synthesize(90, fs=125.0, hr=75, seed=0)
    ecg = rec.signals["ecg_ii"].copy()
    rec.signals["ecg_ii"][30 * 125:60 * 125] = 0.0  # leads off for the second window
    rec.signals["ecg_v"], rec.fs["ecg_v"] = -ecg, 125.0
    ds = record_dataset("abp", rec, labels=True, filters=False)
    assert ds.record_ids.tolist() == [f"{rec.record_id}@0", f"{rec.record_id}@60"]


def test_abp_names_why_a_record_gives_no_window_and_a_bad_rule_early(tmp_path) -> None:
    """A record of abp without a usable window said only "no 30.0 s window with a usable
    arterial line"; it now counts the reasons. A wrong bp_rule had been found in every
    record, after reading them all."""
    rec = synthesize(65, fs=125.0, hr=75, seed=0)
    abp = rec.signals["abp"]
    rec.signals["abp"] = 90.0 + 0.25 * (abp - abp.mean())  # pulse pressure about 10 mmHg
    with pytest.raises(RecordError, match=r"no 30 s window with a usable ECG II, PPG and "
                                          r"arterial line "
                                          r"\(damped arterial line \(pulse pressure "
                                          r"under 20 mmHg\): "
                                          r"2 windows\)"):
        record_dataset("abp", rec, labels=True)
    with pytest.raises(ValueError, match=r"bp_rule must be one of \('beat_median', 'max_min'\), "
                                         r"got 'maxmin'"):
        build_task_dataset("abp", tmp_path, bp_rule="maxmin")


def test_an_arterial_line_still_for_part_of_a_window_gives_no_target() -> None:
    """A flush, zeroing or disconnection for 10 of 30 s had been kept (the beats around it
    gave a target, and max_min took the flush's plateau for SBP); a few still seconds are
    kept, as a few missing ones are."""
    from qualityfm.tasks.datasets import bp_targets

    fs = 125.0
    abp = synthesize(30, fs=fs, hr=75, seed=0, channels=("abp",)).signals["abp"].astype(float)
    assert not isinstance(bp_targets(abp, fs), str)
    for still, value in ((10, 0.0), (10, 300.0), (4, 0.0)):
        cut = abp.copy()
        cut[: int(still * fs)] = value
        for rule in ("beat_median", "max_min"):
            got = bp_targets(cut, fs, rule)
            if still > 6:
                assert got == ("arterial line still for over 20% of the window (flush, zeroing "
                               "or a disconnection)")
            elif rule == "beat_median":  # (max_min: DBP 0, out of range)
                assert not isinstance(got, str) and got[0] < 200


def test_an_arterial_line_without_a_pulse_or_noisy_gives_no_target() -> None:
    """A line that stops pulsing for 15 of 30 s (about 20 mmHg without a beat, or noise about
    0) had been kept from the beats of its other half (v564s@210: DBP 42), and noise of SD 3
    mmHg pulled the per-beat troughs, minima, 3 mmHg down (v318s: DBP 51 for about 67)."""
    from qualityfm.tasks.datasets import bp_targets

    fs = 125.0
    abp = synthesize(30, fs=fs, hr=75, seed=0, channels=("abp",)).signals["abp"].astype(float)
    rng = np.random.default_rng(0)
    assert not isinstance(bp_targets(abp + rng.normal(0, 0.3, abp.shape), fs), str)
    for tail in (20 + rng.normal(0, 1, int(15 * fs)), rng.normal(0, 4, int(15 * fs))):
        cut = abp.copy()
        cut[-len(tail):] = tail
        assert bp_targets(cut, fs).startswith("arterial pulse absent for over 20% of the window")
    five = abp.copy()  # 5 s without a pulse: kept, as 5 missing seconds are
    five[-int(5 * fs):] = 20 + rng.normal(0, 1, int(5 * fs))
    assert not isinstance(bp_targets(five, fs), str)
    noisy = bp_targets(abp + rng.normal(0, 3, abp.shape), fs)
    assert noisy.startswith("noisy arterial line (noise 2."), noisy
    for rate in (50.0, 62.5, 80.0, 100.0, 200.0, 360.0):  # clean lines give targets at any rate
        line = synthesize(30, fs=rate, hr=75, seed=0, channels=("abp",)).signals["abp"]
        assert not isinstance(bp_targets(line.astype(float), rate), str), rate
        got = bp_targets(line.astype(float) + rng.normal(0, 3, line.shape), rate)
        assert (isinstance(got, str) and got.startswith("noisy")) == (rate >= 100), (rate, got)


def test_a_cached_dataset_names_its_files_as_this_run_spells_them(tmp_path, monkeypatch) -> None:
    """A cache filled by a run from another folder had named the files as that run spelt
    them (predict's `file` column then named paths that did not exist from here)."""
    import shutil

    data = tmp_path / "pv" / "x"
    data.mkdir(parents=True)
    for name in ("v100s", "v101l"):
        for ext in (".hea", ".mat"):
            shutil.copy(shared_path("physionet2015_vt") / f"{name}{ext}", data)
    (data / "bad.hea").write_text("bad 1 250 x\n")
    cache = tmp_path / "cache"
    first = build_task_dataset("vt-alarm", data, cache_dir=cache, labels=False)
    assert all(s.startswith(str(data)) for s in first.sources)
    monkeypatch.chdir(tmp_path / "pv")
    again = build_task_dataset("vt-alarm", Path("x"), cache_dir=cache, labels=False)
    assert len(list(cache.glob("*.npz"))) == 1  # read from the cache
    assert sorted(again.sources.tolist()) == ["x/v100s.hea", "x/v101l.hea"]
    assert [e["record"] for e in again.skipped] == ["x/bad.hea"]


def test_af_windows_longer_than_61_s_pad_every_shorter_recording(tmp_path) -> None:
    """With --seconds 90 a 65-s recording had been skipped ("no 90 s window with a usable ECG")
    while a 60-s one was padded; an unlabelled .npz's skip names label tables as WFDB's."""
    for dur in (60, 65, 95):
        ecg = synthesize(float(dur), 300.0, seed=dur, channels=("ecg_ii",)).signals["ecg_ii"]
        np.savez(tmp_path / f"e{dur}.npz", II=ecg, fs=300)
    ds = build_task_dataset("af", tmp_path, seconds=90, labels=False)
    assert sorted(ds.record_ids.tolist()) == ["e60", "e65", "e95@0"] and not ds.skipped
    assert ds.X.shape[-1] == 27000
    with pytest.raises(RecordError, match=r"no Challenge 2017 rhythm label \(REFERENCE\.csv "
                                          r"beside it, or a folder up where none lies beside "
                                          r"it, read for WFDB records "
                                          r"\(\.hea\) only\)"):
        build_task_dataset("af", tmp_path / "e60.npz")


def test_a_cached_part_of_no_row_is_not_read_again(tmp_path, monkeypatch) -> None:
    """A part of records the task cannot use (abp: none holds ABP + ECG II + PPG) had been read
    again by every run with --cache (only parts with rows were saved)."""
    import shutil

    from qualityfm.tasks import datasets
    from qualityfm.tasks.datasets import iter_task_datasets

    data = tmp_path / "d"
    data.mkdir()
    for name in ("v100s", "v131l"):  # v131l: no PPG (no abp window), v100s: windows
        for ext in (".hea", ".mat"):
            shutil.copy(shared_path("physionet2015_vt") / f"{name}{ext}", data)
    stale = tmp_path / "cache" / ".abp-0123456789abcdef.none.json.x1y2.tmp"  # a killed write's
    stale.parent.mkdir()
    stale.write_text("{")
    os.utime(stale, (1, 1))
    reads = []
    read = datasets._read_task_channels
    monkeypatch.setattr(datasets, "_read_task_channels", lambda f: reads.append(f) or read(f))
    runs = []
    for _ in range(2):
        skipped: list = []
        parts = list(iter_task_datasets("abp", data, skipped, records_per_part=1,
                                        cache_dir=tmp_path / "cache", labels=False))
        runs.append(([len(p) for p in parts], [Path(e["record"]).name for e in skipped]))
    assert runs[0] == runs[1] and runs[0][1] == ["v131l.hea"]
    assert len(reads) == 2  # the first run's two records; the second read none
    assert not stale.exists()
    # a damaged one is built again, and said so, as a damaged .npz is (it had been silent)
    none, = (tmp_path / "cache").glob("*.none.json")
    none.write_text(none.read_text()[:20])
    with pytest.warns(RuntimeWarning, match=r"none\.json: unreadable task cache"):
        list(iter_task_datasets("abp", data, [], records_per_part=1,
                                cache_dir=tmp_path / "cache", labels=False))
    assert len(reads) == 3 and json.loads(none.read_text())["skipped"]


def test_a_cached_dataset_keeps_the_patient_its_folder_link_names(tmp_path) -> None:
    """A patient folder that is a link into an annex (p000123 -> blob42) names the patient;
    the folder read directly does not: one cache had served both spellings' groups."""
    import shutil

    blob = tmp_path / "blob42"
    blob.mkdir()
    for name in ("v100s", "v101l"):
        for ext in (".hea", ".mat"):
            shutil.copy(shared_path("physionet2015_vt") / f"{name}{ext}", blob)
    (tmp_path / "p000123").symlink_to(blob)
    cache = tmp_path / "cache"
    direct = build_task_dataset("vt-alarm", blob, cache_dir=cache, labels=False)
    linked = build_task_dataset("vt-alarm", tmp_path / "p000123", cache_dir=cache,
                                labels=False)
    assert "p000123" not in set(direct.groups.tolist()) and len(direct) == len(linked)
    assert set(linked.groups.tolist()) == {"p000123"}
    assert len(list(cache.glob("*.npz"))) == 2


@pytest.mark.parametrize("fs", [12.5, 1e-3])
def test_a_task_channel_sampled_too_slowly_is_left_out_naming_it(tmp_path, fs) -> None:
    """An ECG at 12.5 Hz had failed deep in the features naming no channel, one at 1e-6 Hz
    had made a record of 9e9 s whose windows af walked for ever: it is left out, named, and
    a record without another ECG is skipped as such (af had failed in NumPy); a slow PPG
    beside a good ECG costs the PPG."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "slow.npz", ECG=rng.standard_normal(9000).astype(np.float32), fs=fs)
    for task in ("af", "vt-alarm"):
        with pytest.warns(RuntimeWarning, match=rf"slow\.npz: ecg at {fs:g} Hz left out: the "
                                                r"tasks read ECG, PPG and arterial lines of "
                                                r"50 Hz or more"), pytest.raises(
                RecordError, match=r"no usable ECG or PPG channel; it has \['ecg'\]"):
            build_task_dataset(task, tmp_path / "slow.npz", labels=False)
    both = tmp_path / "both.npz"
    ecg = synthesize(30.0, 300.0, seed=1, channels=("ecg_ii",)).signals["ecg_ii"]
    np.savez(both, II=ecg, PLETH=np.zeros(int(30 * fs) + 1, np.float32), fs_PLETH=fs, fs=300)
    with pytest.warns(RuntimeWarning, match=rf"both\.npz: ppg at {fs:g} Hz left out"):
        ds = build_task_dataset("af", both, labels=False)
    assert len(ds) == 1 and ds.mask[0].tolist() == [False, True]  # [PPG, ECG II]
    resp = tmp_path / "resp.npz"  # a slow channel no task reads sets no record length
    np.savez(resp, II=ecg, RESP=np.zeros(10, np.float32), fs_RESP=1e-4, fs=300)
    ds = build_task_dataset("af", resp, labels=False)
    assert len(ds) == 1 and not ds.left_out  # it had walked 3332 windows past the ECG


def test_two_files_of_the_same_signals_share_a_group(tmp_path) -> None:
    """A recording stored twice under two names (cinc2017_af's A00227 and A01176) had been two
    groups, so a split could put one copy on each side."""
    from qualityfm.io import write_wfdb

    for name, seed in (("r1", 1), ("copy_of_r0_longer_name", 0), ("r0", 0)):
        write_wfdb(synthesize(30.0, 300.0, seed=seed, record_id=name, channels=("ecg_ii",)),
                   tmp_path)
    (tmp_path / "REFERENCE.csv").write_text("r0,N\nr1,A\ncopy_of_r0_longer_name,N\n")
    with pytest.warns(UserWarning, match=r"records hold signals of another, whole or shifted in "
                                         r"time \(1 join\(s\): .*r0\.hea as "
                                         r".*copy_of_r0_longer_name\.hea\)"):
        ds = build_task_dataset("af", tmp_path)
    group = dict(zip(ds.record_ids.tolist(), ds.groups.tolist(), strict=True))
    assert group == {"r0": "copy_of_r0_longer_name", "r1": "r1",
                     "copy_of_r0_longer_name": "copy_of_r0_longer_name"}


def test_a_ppg_of_a_few_adc_levels_is_absent_on_a_real_record() -> None:
    """icu0290's PPG toggles between two ADC steps 0.0005 NU apart: it is absent from its
    task window, and from the store's windows, instead of scaled to [-1, 1]."""
    from qualityfm.signal import WindowConfig, make_windows
    from qualityfm.tasks.datasets import record_dataset

    rec = read_record(shared_path("physionet2015_icu", "icu0290.hea"))
    ds = record_dataset("vt-alarm", rec)
    assert ds.mask.tolist() == [[False, True]] and not ds.X[0, 0].any()
    w = make_windows(rec, WindowConfig())
    assert w.mask[:, 0].sum() <= 1 and "ppg: flat" in w.notes


def test_task_windows_line_channels_of_different_rates_up_and_end_on_a_signal() -> None:
    """Each channel had been cut on its own sample grid and placed at the window's start, so
    an ECG at 500 Hz and a PPG at 100 Hz lay 4 ms (1.2 model samples) apart where the alarm
    fell off their grids; and at MIMIC-IV's rates (124.945 Hz) the resampled piece, a sample
    short, had ended in a padded 0, scaled to -1 at the alarm."""
    def bump(fs: float, seconds: float) -> np.ndarray:  # a narrow pulse at 20 s
        t = np.arange(int(round(seconds * fs))) / fs
        return (np.exp(-0.5 * ((t - 20.0) / 0.015) ** 2) + 0.02 * np.sin(2 * np.pi * t)
                ).astype(np.float32)

    for alarm in (25.0, 25.005, 25.0149):
        rec = Record("r", {"ecg_ii": bump(500.0, 30), "ppg": bump(100.0, 30)},
                     {"ecg_ii": 500.0, "ppg": 100.0}, events={"alarm": alarm})
        x = record_dataset("vt-alarm", rec, filters=False).X[0]
        peaks = [(alarm - 10.0) + np.argmax(x[c]) / 300.0 for c in (ECG, PPG)]
        assert abs(peaks[0] - peaks[1]) <= 1 / 300 + 1e-9, (alarm, peaks)
        assert all(abs(p - 20.0) <= 1 / 300 + 1e-9 for p in peaks), (alarm, peaks)
    fs = 124.945
    t = np.arange(int(300 * fs)) / fs
    rec = Record("m4", {"ppg": (1000 + 50 * np.sin(2 * np.pi * 1.2 * t)).astype(np.float32)},
                 {"ppg": fs}, events={"alarm": 290.0})
    for a in (290.0, 153.0, 62.0):
        rec.events["alarm"] = a
        x = record_dataset("vt-alarm", rec, filters=False).X[0, PPG]
        assert x[:-1].min() == -1.0 and x.max() == 1.0 and x[-1] > -0.99, (a, x[-3:])


def test_vt_answers_from_alarms_csv_reach_the_task_and_its_cache(tmp_path) -> None:
    """Headers without labels and their answers in alarms.csv: the task reads the answers,
    and an edited answer file is another dataset (the cache had kept the old labels)."""
    src = shared_path("physionet2015_vt")
    data = tmp_path / "vt"
    data.mkdir()
    names = ("v100s", "v131l")  # false, true
    for name in names:
        shutil.copy(src / f"{name}.mat", data)
        (data / f"{name}.hea").write_text("".join(
            ln + "\n" for ln in (src / f"{name}.hea").read_text().splitlines()
            if not ln.startswith("#")))
    cache = tmp_path / "cache"
    with pytest.raises(RecordError, match=r"no record fits task 'vt-alarm'.*or a line in "
                                          r"alarms\.csv or ALARMS beside it"):
        build_task_dataset("vt-alarm", data, cache_dir=cache)
    (data / "alarms.csv").write_text("record,alarm_type,label\nv100s,Ventricular_Tachycardia,"
                                     "false\nv131l,Ventricular_Tachycardia,true\n")
    ds = build_task_dataset("vt-alarm", data, cache_dir=cache)
    assert list(ds.record_ids) == list(names) and ds.y.tolist() == [0, 1]
    (data / "alarms.csv").write_text("record,alarm_type,label\nv100s,Ventricular_Tachycardia,"
                                     "true\nv131l,Ventricular_Tachycardia,true\n")
    assert build_task_dataset("vt-alarm", data, cache_dir=cache).y.tolist() == [1, 1]


def test_a_buffer_channel_read_as_absent_is_said(recwarn) -> None:
    """A monitor buffer whose ECG ends before the alarm, or is flat (leads off), is read
    with the ECG masked: the model decided from the PPG alone without a word."""
    from qualityfm.tasks import record_dataset

    rec = read_record(shared_path("physionet2015_vt", "v100s.hea"))
    ecg, ppg = rec.signals["ecg_ii"], rec.signals["ppg"]
    fs = {"ecg_ii": 250.0, "ppg": 250.0}
    whole = record_dataset("vt-alarm", Record("bed7", {"ecg_ii": ecg, "ppg": ppg}, fs,
                                              events={"alarm": 300.0}))
    assert whole.mask.tolist() == [[True, True]]
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]
    for cut in (ecg[:-1250], np.r_[ecg[:-2500], np.zeros(2500, np.float32)]):
        with pytest.warns(UserWarning, match=r"bed7: ecg_ii is in the record but read as "
                                             r"absent in the window .* the model decides "
                                             r"without it there"):
            ds = record_dataset("vt-alarm", Record("bed7", {"ecg_ii": cut, "ppg": ppg}, fs,
                                                   events={"alarm": 300.0}))
        assert ds.mask.tolist() == [[True, False]]  # [PPG, ECG II]
    recwarn.clear()
    record_dataset("vt-alarm", Record("bed7", {"ppg": ppg}, {"ppg": 250.0},
                                      events={"alarm": 300.0}))  # none held: nothing to say
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_a_buffer_without_an_alarm_time_ends_where_its_task_channels_end(tmp_path) -> None:
    """A buffer's respiration 2 s longer, or a 1-Hz SpO2 of 32 samples, had set its end (its
    window 2 s past the ECG's end, or "alarm at 32 s is past the record's end"), where the
    same record read from a file ends with its ECG and PPG, which are all a task reads."""
    from qualityfm.tasks import build_task_dataset, record_dataset

    rec = synthesize(30.0, 250.0, seed=3, channels=("ecg_ii", "ppg"))
    resp = np.sin(np.arange(int(32 * 62.5)) / 62.5).astype(np.float32)
    np.savez(tmp_path / "bed7.npz", II=rec.signals["ecg_ii"], PLETH=rec.signals["ppg"],
             RESP=resp, fs=250.0, fs_RESP=62.5)
    from_file = build_task_dataset("vt-alarm", tmp_path, labels=False)
    for extra, fs in (({"resp": resp}, {"resp": 62.5}),
                      ({"spo2": np.full(32, 97.0, np.float32)}, {"spo2": 1.0})):
        buffer = Record("bed7", {**rec.signals, **extra}, {**rec.fs, **fs})
        ds = record_dataset("vt-alarm", buffer, labels=False)
        np.testing.assert_array_equal(ds.X, from_file.X)


def test_a_link_loop_beside_a_record_does_not_stop_a_cached_build(tmp_path) -> None:
    """The cache key's file versions had stat'ed a link loop beside a record: "Too many
    levels of symbolic links" ended the whole run (predict, finetune) with --cache."""
    data = tmp_path / "vt"
    data.mkdir()
    for ext in (".hea", ".mat"):
        shutil.copy(shared_path("physionet2015_vt", f"v100s{ext}"), data)
    (data / "loop_a").symlink_to(data / "loop_b")
    (data / "loop_b").symlink_to(data / "loop_a")
    ds = build_task_dataset("vt-alarm", data, cache_dir=tmp_path / "cache")
    assert list(ds.record_ids) == ["v100s"]


def test_task_settings_no_record_can_meet_are_refused_up_front() -> None:
    """A negative, NaN or 1-Hz fs and a 1-ms window had skipped every record, each with a
    NumPy message; pad_to had been recorded, and ignored, for af and abp."""
    from qualityfm.tasks.datasets import TaskSettings

    for kwargs, message in (({"fs": -300.0}, "fs must be the windows' rate"),
                            ({"fs": float("nan")}, "fs must be the windows' rate"),
                            ({"fs": 1.0}, "fs must be the windows' rate"),
                            ({"seconds": 0.001}, r"seconds must be 2 to 86400 \(a channel "
                                                 r"of the tasks counts from 2 s; a day\), "
                                                 r"got 0\.001"),
                            # under 2 s every record had been "no usable ECG or PPG"; 1e17
                            # had failed in NumPy for each
                            ({"seconds": 1.5}, "seconds must be 2 to 86400"),
                            ({"seconds": 1e17}, "seconds must be 2 to 86400")):
        with pytest.raises(ValueError, match=message):
            TaskSettings("abp", **{"seconds": 30.0, **kwargs})
    for task in ("af", "abp"):
        with pytest.raises(ValueError, match=f"task '{task}' takes none"):
            TaskSettings(task, 30.0, pad_to=45.0)
    assert TaskSettings("vt-alarm", 10.0, pad_to=16.0).pad_to == 16.0
    with pytest.raises(ValueError, match=r"pad_to must be .* at most 86400"):  # (NumPy's
        TaskSettings("vt-alarm", 10.0, pad_to=1e17)  # "Maximum allowed dimension" for each)


def test_abp_rows_without_labels_keep_their_targets_in_mmhg() -> None:
    """labels=False had left an arterial line in cmH2O as it was: SBP 160.9 for 118.3 mmHg."""
    from qualityfm.tasks import record_dataset

    rec = synthesize(65.0, fs=125.0, seed=3)
    rec.units["abp"] = "cmH2O"
    rec.signals["abp"] = rec.signals["abp"] * 1.35951
    with_labels = record_dataset("abp", rec, labels=True)
    without = record_dataset("abp", rec, labels=False)
    np.testing.assert_allclose(without.y, with_labels.y, rtol=1e-6)
    assert 100 < float(np.median(without.y[:, 0])) < 140


def test_a_files_readability_is_part_of_its_version_in_the_cache_key(tmp_path,
                                                                      monkeypatch) -> None:
    """A record skipped for a signal file it could not open stayed skipped, from the task
    cache, once the file was made readable (its mtime and size unchanged)."""
    import os

    from qualityfm.tasks import datasets as D

    (tmp_path / "r.hea").write_text("r 1 100 2\nr.dat 16 200 16 0 0 0 0 II\n")
    (tmp_path / "r.dat").write_bytes(b"\x01\x00\x02\x00")
    readable = D._record_files([tmp_path / "r.hea"])
    real = os.access
    monkeypatch.setattr(D.os, "access", lambda f, mode: real(f, mode)
                        and not str(f).endswith("r.dat"))
    unreadable = D._record_files([tmp_path / "r.hea"])
    assert unreadable != readable
    assert [v[:3] for v in unreadable] == [v[:3] for v in readable]


def test_an_arterial_line_ending_within_a_window_gives_it_no_target() -> None:
    """Without labels, a line stopping at 45 s had given the 30-60 s window the targets of its
    first 15 s; the same 15 s missing (NaN) give none."""
    from qualityfm.tasks import record_dataset

    rec = synthesize(65.0, fs=125.0, seed=3)
    whole = record_dataset("abp", rec, labels=False)
    rec.signals["abp"] = rec.signals["abp"][:45 * 125]
    cut = record_dataset("abp", rec, labels=False)
    assert cut.starts.tolist() == whole.starts.tolist() == [0.0, 30.0]
    np.testing.assert_array_equal(cut.y[0], whole.y[0])
    assert np.isnan(cut.y[1]).all() and np.isfinite(whole.y[1]).all()


def test_an_abp_window_of_a_ppg_flat_for_most_of_it_gives_no_row() -> None:
    """A PPG flat for a third of a window had counted as present (its flatness was judged
    over the whole window), its pulse timing an input of the blood-pressure models."""
    from qualityfm.tasks import record_dataset

    rec = synthesize(65.0, fs=125.0, seed=3)
    rec.signals["ppg"][int(40 * 125):int(50 * 125)] = rec.signals["ppg"][int(40 * 125)]
    ds = record_dataset("abp", rec, labels=True)
    assert ds.starts.tolist() == [0.0]
    assert [e["reason"] for e in ds.left_out] == ["PPG flat for over 20% of the window"]
    # a sensor off whose ADC toggles at the mains rate, six levels in all: no pulse, yet not
    # flat in the raw samples; the filtered model input is (such rows had given predict's SBP
    # and DBP from no pulse)
    n = 30 * 125
    toggle = 2.536 + 0.002 * (np.arange(n) % 2)
    toggle[[400, 1500, 2600, 3300]] += [0.004, -0.004, 0.006, -0.006]
    rec.signals["ppg"][n:2 * n] = toggle
    ds = record_dataset("abp", rec, labels=False)
    assert ds.starts.tolist() == [0.0]


def test_a_fault_in_a_channel_no_task_reads_does_not_skip_the_record(tmp_path) -> None:
    """A respiration channel whose unit changes between segments had skipped the record from
    every task verb (it was read though no task reads it), while prepare and score kept it."""
    import wfdb

    rec = synthesize(60.0, 125.0, seed=2, channels=("ecg_ii", "ppg"))
    resp = np.sin(np.arange(7500) / 125.0)
    for k, unit in enumerate(("Ohm", "mV")):
        part = slice(k * 3750, (k + 1) * 3750)
        wfdb.wrsamp(f"r_000{k + 1}", fs=125, units=["mV", "NU", unit],
                    sig_name=["II", "PLETH", "RESP"], fmt=["16"] * 3, write_dir=str(tmp_path),
                    p_signal=np.stack([rec.signals["ecg_ii"][part], rec.signals["ppg"][part],
                                       resp[part]], 1))
    (tmp_path / "r.hea").write_text("r/2 3 125 7500\nr_0001 3750\nr_0002 3750\n")
    with pytest.raises(RecordError, match="one channel's values would mix two units"):
        read_record(tmp_path / "r.hea")
    ds = build_task_dataset("vt-alarm", tmp_path, labels=False)
    assert len(ds) == 1 and ds.mask.all() and not ds.skipped


def test_a_vital_file_with_an_idle_track_still_gives_task_rows(tmp_path) -> None:
    """A .vital track that holds no samples in the file (an idle arterial line, a cropped
    file) is named by a reader's channel list, then left out when read: asked for by name, it
    had skipped the record from every task."""
    import vitaldb
    t0 = 1.6e9
    rec = synthesize(120.0, 500.0, seed=5, channels=("ecg_ii", "ppg", "abp"))
    vf = vitaldb.VitalFile()
    vf.dtstart, vf.dtend = t0, t0 + 120
    vf.add_track("SNUADC/ECG_II", [{"dt": t0, "val": rec.signals["ecg_ii"]}], srate=500,
                 unit="mV")
    vf.add_track("SNUADC/PLETH", [{"dt": t0, "val": rec.signals["ppg"]}], srate=500)
    vf.add_track("SNUADC/ART", [{"dt": t0, "val": rec.signals["abp"][:500 * 20]}], srate=500,
                 unit="mmHg")
    vf.to_vital(str(tmp_path / "full.vital"))
    vitaldb.VitalFile(str(tmp_path / "full.vital")).crop(60, 120).to_vital(
        str(tmp_path / "case.vital"))
    (tmp_path / "full.vital").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = build_task_dataset("af", tmp_path, labels=False)
    assert len(ds) >= 1 and not ds.skipped


def test_building_a_task_dataset_shows_its_records_read_on_a_terminal(tmp_path, monkeypatch,
                                                                      capsys) -> None:
    """A task dataset of thousands of records (cinc2017_af) had been built for minutes without
    a word; on a terminal a bar counts the records read (not in a log file or a pipe)."""
    import qualityfm._progress as progress
    import qualityfm.tasks.datasets as datasets

    data = shared_path("physionet2015_vt")
    build_task_dataset("vt-alarm", data, max_records=3)
    assert "records" not in capsys.readouterr().err  # stderr no terminal: no bar
    for module in (progress, datasets):
        monkeypatch.setattr(module, "on_terminal", lambda: True)
    build_task_dataset("vt-alarm", data, max_records=3)
    err = capsys.readouterr().err
    assert "vt-alarm records:" in err and "/3 [" in err  # (redrawn, then erased when done)


def test_a_wfdb_record_named_without_its_header_suffix_is_task_data(tmp_path) -> None:
    """prepare and score read ``folder/v100s`` as the record v100s; the task verbs had said
    "data directory .../v100s does not exist"."""
    ds = build_task_dataset("vt-alarm", shared_path("physionet2015_vt") / "v100s")
    assert ds.record_ids.tolist() == ["v100s"]
    with pytest.raises(FileNotFoundError, match=r"data .*v999x: no such file or folder, nor a "
                                                r"WFDB header v999x\.hea"):
        build_task_dataset("vt-alarm", tmp_path / "v999x")


def test_a_cache_that_cannot_be_written_is_named_before_any_record_is_read(tmp_path) -> None:
    """A --cache on a read-only or misplaced folder had failed at the first save with the
    system's words, naming no flag."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ValueError, match=r"--cache .*file/c: .*file is a file, not a folder"):
        build_task_dataset("vt-alarm", shared_path("physionet2015_vt") / "v100s",
                           cache_dir=blocker / "c")


def test_running_out_of_memory_stops_a_batch_rather_than_skipping_a_record(
        tmp_path, monkeypatch) -> None:
    """A MemoryError while one record was read had skipped it as a bad record ("unexpected
    MemoryError"), kept so in the task cache and exiting 0; score did the same. The machine's
    fault stops the run, which a re-run resumes."""
    import qualityfm.inference.windows as windows
    import qualityfm.tasks.datasets as datasets
    from qualityfm.inference import score_files

    rec = synthesize(30.0, 250.0, seed=3, channels=("ecg_ii", "ppg"))
    np.savez(tmp_path / "r.npz", II=rec.signals["ecg_ii"], PLETH=rec.signals["ppg"], fs=250.0)

    def out_of_memory(*_: object, **__: object) -> None:
        raise MemoryError("Unable to allocate 2.00 GiB")

    monkeypatch.setattr(datasets, "read_channels_among", out_of_memory)
    with pytest.raises(MemoryError):
        build_task_dataset("vt-alarm", tmp_path, labels=False, cache_dir=tmp_path.parent / "c")
    assert not list((tmp_path.parent / "c").glob("*.npz"))  # no cache of the skip
    monkeypatch.setattr(windows, "read_windows", out_of_memory)
    with pytest.raises(MemoryError):
        score_files([tmp_path], tmp_path.parent / "s.csv")


def test_a_second_lead_ii_stands_in_before_another_lead_where_the_first_is_off() -> None:
    """Two channels labelled II (ecg_ii, ecg_ii_2) beside V, the first off: the healthy II
    had given way to V (ranked after every listed lead), a decision flipped on the card's
    reading."""
    rec = synthesize(40.0, 250.0, seed=1, channels=("ecg_ii", "ppg"))
    other = synthesize(40.0, 250.0, seed=2, channels=("ecg_ii",)).signals["ecg_ii"]
    healthy = rec.signals["ecg_ii"]
    both = Record("r", {"ecg_ii": np.full_like(healthy, 0.1), "ecg_v": other,
                        "ecg_ii_2": healthy, "ppg": rec.signals["ppg"]},
                  dict.fromkeys(("ecg_ii", "ecg_v", "ecg_ii_2", "ppg"), 250.0))
    alone = Record("r", {"ecg_ii": healthy, "ppg": rec.signals["ppg"]},
                   dict.fromkeys(("ecg_ii", "ppg"), 250.0))
    got = record_dataset("vt-alarm", both, seconds=10.0)
    np.testing.assert_array_equal(got.X, record_dataset("vt-alarm", alone, seconds=10.0).X)


def test_an_abp_window_s_gap_is_no_flat_stretch() -> None:
    """A 5-s ECG gap (17 %, filled) between equal samples beside 4 s of a flat ECG: the
    gap's filled line had counted as flat (0.3 of the window), the window left out as "ECG II
    flat"; on the recorded samples 0.13 is flat. 12 s of flat ECG still leaves it out."""
    rec = synthesize(65.0, 250.0, sbp=130, dbp=70, seed=3)
    for flat_s, kept in ((4, True), (12, False)):
        ecg = rec.signals["ecg_ii"].copy()
        ecg[250 * 5 - 1] = ecg[250 * 10] = 0.2
        ecg[250 * 5: 250 * 10] = np.nan
        ecg[250 * 20: 250 * (20 + flat_s)] = 0.2
        one = Record("r", {**rec.signals, "ecg_ii": ecg}, dict(rec.fs), units=dict(rec.units))
        ds = record_dataset("abp", one, labels=True)
        assert ("r@0" in ds.record_ids) is kept and "r@30" in ds.record_ids


def test_a_record_in_memory_given_as_data_points_to_record_dataset() -> None:
    """build_task_dataset(task, record) had raised "'Record' object is not iterable"."""
    rec = synthesize(40.0, 250.0, seed=1)
    for data in (rec, [rec], None):
        with pytest.raises(TypeError, match="inputs are file or folder paths, got"):
            build_task_dataset("abp", data)
    with pytest.raises(TypeError, match=r"qualityfm\.tasks\.record_dataset"):
        build_task_dataset("abp", rec)
    with pytest.raises(ValueError, match="no data directory given"):
        build_task_dataset("abp", [])


def test_record_dataset_given_a_path_points_to_the_function_that_reads_files() -> None:
    """A path (as build_task_dataset takes) had been an AttributeError from inside."""
    with pytest.raises(TypeError, match=r"reads a Record in memory, got str .*v100s\.hea.*: "
                                        r"build_task_dataset reads files and folders"):
        record_dataset("vt-alarm", "/data/v100s.hea")


def test_an_arterial_line_at_no_pressure_in_mmhg_is_asked_about_its_unit() -> None:
    """A line in kPa stated in no unit had been refused as damped, one in mV as flat: the
    catheter blamed for the unit."""
    rec = synthesize(65.0, 250.0, seed=3, sbp=130.0, dbp=70.0,
                     channels=("ecg_ii", "ppg", "abp"))
    ok = record_dataset("abp", rec, labels=True)
    assert len(ok) == 2 and np.isfinite(ok.y).all()
    for scale, said in ((1 / 7.50062, "damped"), (1 / 100.0, "flat")):
        kpa = Record(rec.record_id, {**rec.signals, "abp": rec.signals["abp"] * scale},
                     rec.fs, units={**rec.units, "abp": ""})
        with pytest.raises(RecordError, match=rf"{said}.*its arterial line's median, .* mmHg "
                                              r"\(no unit stated\), is no arterial pressure"):
            record_dataset("abp", kpa, labels=True)
    # flat near zero (disconnected): asked so, whatever the sign of its offset
    flat = Record(rec.record_id, {**rec.signals, "abp": np.full_like(rec.signals["abp"], -0.2)},
                  rec.fs, units=rec.units)
    with pytest.raises(RecordError, match=r"median, -0\.2 mmHg \(stated 'mmHg'\), is no arterial "
                                          r"pressure: .*or disconnected \(its transducer open "
                                          r"to air\)\?"):
        record_dataset("abp", flat, labels=True)
    # below zero (a line zeroed wrong): no unit makes it a pressure, its zero is asked about
    low = Record(rec.record_id, {**rec.signals, "abp": rec.signals["abp"] * 0.2 - 40.0},
                 rec.fs, units=rec.units)
    with pytest.raises(RecordError, match=r"median, -\d+(\.\d+)? mmHg, is below zero: is the "
                                          r"transducer zeroed or levelled wrong\?"):
        record_dataset("abp", low, labels=True)
