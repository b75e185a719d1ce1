"""Task datasets from a handful of real records, caching, and group-disjoint splits."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import shared_path
from qualityfm.io import MODEL_CHANNELS, write_wfdb
from qualityfm.signal.synthetic import synthetic_alarm_records
from qualityfm.tasks import assert_disjoint, build_task_dataset, group_kfold, group_split
from qualityfm.tasks.datasets import TaskDataset, bp_targets

ECG, PPG = MODEL_CHANNELS.index("ecg_ii"), MODEL_CHANNELS.index("ppg")


def test_vt_alarm_dataset_from_real_records(tmp_path) -> None:
    data = shared_path("physionet2015_vt")
    ds = build_task_dataset("vt-alarm", data, max_records=6, cache_dir=tmp_path)
    assert ds.X.dtype == np.float32 and ds.X.shape == (6, 2, 3000)  # 10 s at 300 Hz
    assert ds.mask[:, ECG].all()
    assert np.abs(ds.X).max() <= 1.0 + 1e-6 and set(ds.y) <= {0, 1}
    assert list(ds.groups) == list(ds.record_ids)  # one alarm per record, no patient ids
    assert ds.features.shape == (6, len(ds.feature_names))
    assert np.isfinite(ds.features[:, ds.feature_names.index("ecg1_hr")]).all()
    # the cache returns the same arrays; a different setting is another key
    again = build_task_dataset("vt-alarm", data, max_records=6, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.X, ds.X)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    long = build_task_dataset("vt-alarm", data, max_records=2, seconds=16, pad_to=30)
    assert long.X.shape == (2, 2, 9000) and (long.X[:, :, : 14 * 300] == 0).all()


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
    assert len(ds.skipped) == 1 and ids[2] in ds.skipped[0] and "no usable" in ds.skipped[0]
    np.testing.assert_array_equal(ds.mask[:, ECG], [True, False])
    assert ds.mask[:, PPG].all() and (ds.X[1, ECG] == 0).all()
    col = ds.feature_names.index
    assert np.isnan(ds.features[1, col("ecg1_hr")]) and ds.features[1, col("n_leads")] == 0
    assert np.isfinite(ds.features[:, col("ppg_hr")]).all()
    assert np.isfinite(ds.features[0, col("ecg1_hr")])


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
    with pytest.raises(ValueError, match="both sides"):
        assert_disjoint(groups, np.array([0, 1]), np.array([1]))


def test_dataset_save_load_roundtrip(tmp_path) -> None:
    ds = TaskDataset("af", np.zeros((2, 2, 30), np.float32), np.ones((2, 2), bool),
                     np.array([0, 1]), np.array(["a", "b"]), np.array(["a", "b"]),
                     np.zeros((2, 3), np.float32), ["f1", "f2", "f3"], rhythm=np.array([0, 1]))
    ds.save(tmp_path / "d.npz")
    back = TaskDataset.load(tmp_path / "d.npz")
    assert back.task == "af" and list(back.groups) == ["a", "b"] and list(back.rhythm) == [0, 1]
