"""Window features of a store: computed once per folder, read back standardised, and handed
to the student's side of every pair."""

from __future__ import annotations

import json
import os
import pickle
import time

import numpy as np
import pytest
import torch

from qualityfm.data import (
    PairDataset,
    Store,
    compute_store_features,
    feature_targets,
    prepare,
    store_features,
)
from qualityfm.data.features import FEATURES, FEATURES_STAMP
from qualityfm.quality.features import FEATURES_VERSION, feature_names, window_features


@pytest.fixture
def store(tmp_path, record_writer) -> Store:
    from qualityfm.signal import WindowConfig

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(3):
        record_writer(corpus / f"rec{i}.npz", seed=20 + i, ppg=i != 1)
    prepare(corpus, tmp_path / "store", window=WindowConfig(fs=100.0, seconds=20.0),
            shard_size=5, progress=False)
    return Store(tmp_path / "store")


def test_features_are_computed_once_and_match_the_windows(store, capsys) -> None:
    with pytest.raises(FileNotFoundError, match=f"{FEATURES}: no window features"):
        store_features(store)
    written = compute_store_features(store, workers=2, chunk=4, progress=True)
    assert written == [store.path / FEATURES]
    err = capsys.readouterr().err  # what pretrain waits on is said, with a bar of windows
    assert f"computing the classical features of {store.n_windows} windows" in err
    assert f"{store.n_windows}/{store.n_windows}" in err
    raw = store_features(store)
    assert raw.shape == (store.n_windows, len(feature_names()))
    ids = np.arange(store.n_windows)
    np.testing.assert_array_equal(raw, window_features(store.windows(ids), store.masks, store.fs))
    hr = raw[:, feature_names().index("ecg1_hr")]
    assert np.nanmedian(hr) == pytest.approx(72, abs=15)  # the records beat at 66-78 bpm
    stamp = (store.path / FEATURES).stat().st_mtime_ns
    assert compute_store_features(store, progress=True) == []  # nothing left to do, nor said
    assert (store.path / FEATURES).stat().st_mtime_ns == stamp and capsys.readouterr().err == ""
    (store.path / FEATURES).unlink()  # announced without a bar (pre-training's log)
    compute_store_features(store, announce=True)
    assert capsys.readouterr().err == (
        f"qualityfm: computing the classical features of {store.n_windows} windows of "
        f"{store.path} on 1 process(es), once (prepare --features stores them)\n")


def test_targets_are_standardised_clipped_and_keep_nan(store) -> None:
    compute_store_features(store)
    raw = store_features(store)
    targets = feature_targets(store, clip=2.0)
    z, names = targets.rows(np.arange(store.n_windows)), targets.names
    assert z.shape == (store.n_windows, targets.width) and z.dtype == np.float32
    np.testing.assert_array_equal(targets[3], z[3])
    again = pickle.loads(pickle.dumps(targets))  # DataLoader workers get a copy without maps
    np.testing.assert_array_equal(again.rows([0, 5]), z[[0, 5]])
    sub = feature_targets(store, sample=10)  # statistics from 10 windows: other centres
    assert sub.width <= len(feature_names()) and not np.array_equal(sub.centre, targets.centre)
    with pytest.raises(IndexError, match="window ids"):
        targets.rows([store.n_windows])
    cols = [feature_names().index(n) for n in names]
    assert all(np.isfinite(raw[:, j]).mean() >= 0.5 for j in cols)
    np.testing.assert_array_equal(np.isnan(z), np.isnan(raw[:, cols]))
    assert np.nanmax(np.abs(z)) <= 2.0
    np.testing.assert_allclose(np.nanmedian(z, axis=0), 0.0, atol=1e-6)
    assert "ppg_hr" in names  # one record without PPG: still defined in most windows
    assert "abp_hr" not in names  # no ABP channel anywhere


def test_a_stale_features_file_is_refused_then_recomputed(store) -> None:
    stale = np.zeros((store.n_windows, 3), np.float32)  # another version's columns
    np.save(store.path / FEATURES, stale)
    with pytest.raises(ValueError, match=f"{FEATURES}: shape \\({store.n_windows}, 3\\)"):
        store_features(store)
    with pytest.raises(ValueError, match="compute_store_features"):
        feature_targets(store)
    left = store.path / f".{FEATURES}.k1ll3d.tmp"  # a computation killed mid-write: a copy
    left.write_bytes(b"0" * 1000)
    os.utime(left, (time.time() - 3600, time.time() - 3600))
    writing = store.path / f".{FEATURES}.wr1t1ng.tmp"  # another one's, written as this runs
    writing.write_bytes(b"0")
    os.utime(writing, (time.time() + 60, time.time() + 60))
    assert compute_store_features(store) == [store.path / FEATURES]
    assert not left.exists() and writing.exists()
    again = store.path / f".{FEATURES}.k1ll3d.tmp"  # killed, then a run at once: it goes too
    again.write_bytes(b"0" * 1000)
    os.utime(again, (time.time() - 5, time.time() - 5))
    compute_store_features(store)  # nothing to compute, and older than this call: removed
    assert not again.exists()
    writing.unlink()
    ids = np.arange(store.n_windows)
    np.testing.assert_array_equal(
        store_features(store), window_features(store.windows(ids), store.masks, store.fs))


def test_pairs_carry_the_targets_of_the_window_the_student_reads(store) -> None:
    z = np.arange(store.n_windows * 2, dtype=np.float32).reshape(-1, 2)
    natural = PairDataset(store, shuffle=False, feature_targets=z)
    for (_, student), sample in zip(store.pairs, natural, strict=True):
        assert torch.equal(sample["lo_features"], torch.from_numpy(z[student]))
    top = int(store.levels.max())
    aligned = PairDataset(store, aligned_fraction=1.0, aligned_min_level=top,
                          corrupt=lambda x, fs, rng: x, feature_targets=z)
    for sample in aligned:  # a corrupted copy of a good window: that window's targets
        i = int(sample["lo_features"][0]) // 2
        assert torch.equal(sample["hi"], torch.from_numpy(store.window(i)[0]))
    with pytest.raises(ValueError, match="feature_targets has 3 rows"):
        PairDataset(store, feature_targets=z[:3])
    assert "lo_features" not in next(iter(PairDataset(store)))


def test_features_belong_to_their_store(store, tmp_path) -> None:
    from qualityfm.signal import WindowConfig

    compute_store_features(store)
    ids = np.arange(store.n_windows)
    # The store made again with other settings: its old features are neither kept nor used.
    prepare(tmp_path / "corpus", store.path, overwrite=True, shard_size=5, progress=False,
            window=WindowConfig(fs=100.0, seconds=20.0, normalization="none"))
    assert not (store.path / FEATURES).exists()
    zeros = np.zeros((store.n_windows, len(feature_names())), "f4")
    np.save(store.path / FEATURES, zeros)
    fresh = Store(store.path)  # unstamped, of the right shape: an older qualityfm's, not read
    with pytest.raises(ValueError, match=f"{FEATURES}: not known to belong to this store "
                                         rf"\(no {FEATURES_STAMP}: written by a qualityfm "
                                         "before its feature code had versions"):
        store_features(fresh)
    assert compute_store_features(fresh) == [fresh.path / FEATURES]
    (fresh.path / FEATURES_STAMP).write_text("{not json")
    with pytest.raises(ValueError, match=f"{FEATURES}: not known to belong to this store.*"
                                         "compute_store_features"):
        store_features(fresh)
    assert compute_store_features(fresh) == [fresh.path / FEATURES]
    expected = window_features(fresh.windows(ids), fresh.masks, fresh.fs)
    np.testing.assert_array_equal(store_features(fresh), expected)
    assert compute_store_features(fresh) == []
    # Features of other feature code (a stamp of another version, or of none) are computed
    # again: they would be other numbers for the same windows.
    stamp = fresh.path / FEATURES_STAMP
    np.save(fresh.path / FEATURES, zeros)
    for version in (FEATURES_VERSION - 1, None):
        old = {k: v for k, v in json.loads(stamp.read_text()).items() if k != "version"}
        stamp.write_text(json.dumps({**old, **({} if version is None else {"version": version})}))
        unstated = "unstated" if version is None else version
        with pytest.raises(ValueError, match=rf"computed by other feature code \(version "
                                             rf"{unstated}; this qualityfm's is "
                                             rf"{FEATURES_VERSION}\)"):
            feature_targets(fresh)
        assert compute_store_features(fresh) == [fresh.path / FEATURES]
        np.testing.assert_array_equal(store_features(fresh), expected)
    # A stamp of another store (a features file copied from elsewhere) is refused too.
    stamp.write_text(json.dumps({**json.loads(stamp.read_text()), "fingerprint": "other"}))
    with pytest.raises(ValueError, match="computed for another store"):
        feature_targets(fresh)
    assert compute_store_features(fresh) == [fresh.path / FEATURES]
    np.testing.assert_array_equal(store_features(fresh), expected)
