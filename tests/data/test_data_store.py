"""Shard store: encoding, writer, atomic writes, reading one store or several parts as one."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest

from qualityfm.data import Store, prepare, store_info
from qualityfm.data.store import (
    ShardWriter,
    decode_windows,
    encode_windows,
    index_dtype,
    save_npy,
    shard_name,
)


def test_encode_decode_precision():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (5, 2, 300)).astype(np.float32)
    x[1, 0] = 0.0  # an absent channel
    f16, scale = encode_windows(x, "float16")
    assert f16.dtype == np.float16 and scale is None
    np.testing.assert_allclose(decode_windows(f16, None), x, atol=1e-3)
    i16, scale = encode_windows(x * 50, "int16")
    assert i16.dtype == np.int16 and scale.shape == (5, 2)
    np.testing.assert_allclose(decode_windows(i16, scale), x * 50, atol=50 * 2 / 32767)
    assert np.all(decode_windows(i16, scale)[1, 0] == 0)
    with pytest.raises(ValueError, match="dtype"):
        encode_windows(x, "float64")


def test_writer_fills_fixed_size_shards(tmp_path):
    w = ShardWriter(tmp_path, 2, 8, shard_size=4)
    x = np.arange(10 * 2 * 8, dtype=np.float32).reshape(10, 2, 8) / 200
    rows = np.zeros(10, index_dtype(2))
    rows["start"] = np.arange(10)
    assert w.append(x[:3], rows[:3]) == []
    assert w.append(x[3:], rows[3:]) == [0, 1]
    assert w.n_written == 8 and w.n_total == 10
    assert w.finish() == 3
    sizes = [len(np.load(tmp_path / shard_name(s, "x"))) for s in range(3)]
    assert sizes == [4, 4, 2]
    idx = np.load(tmp_path / shard_name(2, "index"))
    assert idx["window_id"].tolist() == [8, 9] and idx["start"].tolist() == [8.0, 9.0]
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))
    with pytest.raises(ValueError, match="do not fit"):
        w.append(np.zeros((1, 3, 8), np.float32), rows[:1])


def test_atomic_write_leaves_old_file_and_no_partial(tmp_path, monkeypatch):
    target = tmp_path / "a.npy"
    save_npy(target, np.arange(3))

    def broken_save(f, arr, allow_pickle=False):
        f.write(b"\x93NUMPY half")
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_npy(target, np.arange(100))
    monkeypatch.undo()
    assert np.load(target).tolist() == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy"]


def test_prepare_round_trip(synth_dir, small_window, tmp_path):
    from qualityfm.io import read_record
    from qualityfm.quality import score_windows
    from qualityfm.signal import make_windows, normalize

    out = tmp_path / "store"
    prepare(synth_dir, out, window=small_window, shard_size=7, progress=False)
    store = Store(out)
    index = store.index
    assert store.n_windows == len(index) == int(json.loads((out / "meta.json").read_text())
                                                 ["n_windows"])
    assert index["window_id"].tolist() == list(range(store.n_windows))
    rec = read_record(synth_dir / "rec3.npz")  # the record without PPG
    w = make_windows(rec, small_window)
    rows = np.flatnonzero(index["record_id"] == "rec3")
    assert len(rows) == len(w) == 10
    assert np.all(index["source"][rows] == str((synth_dir / "rec3.npz").resolve()))
    np.testing.assert_array_equal(index["start"][rows], w.start)
    np.testing.assert_array_equal(index["mask"][rows], w.mask)
    assert not index["mask"][rows][:, 0].any()  # PPG absent everywhere
    s = score_windows(w.x, w.mask, small_window.fs, small_window.channels, clipped=w.clipped)
    np.testing.assert_array_equal(index["level"][rows], s.level)
    np.testing.assert_allclose(index["q"][rows], s.q, rtol=1e-6)
    want = normalize(w.x, w.mask, "channel")
    got = store.windows(rows)
    np.testing.assert_allclose(got, want, atol=1e-3)  # float16: 11-bit mantissa on [-1, 1]
    assert np.array_equal(store.masks[rows], w.mask)
    pairs = store.pairs
    assert pairs.dtype == np.int64 and len(pairs) == store.n_pairs > 0
    lv = store.levels
    assert np.all(lv[pairs[:, 0]] > lv[pairs[:, 1]])
    assert np.all(index["record"][pairs[:, 0]] == index["record"][pairs[:, 1]])
    info = store_info(out)
    assert sum(info["levels"].values()) == info["n_windows"] == store.n_windows
    assert info["n_records"] == 5 and info["parts"] == ["."]


def test_int16_store(synth_dir, small_window, tmp_path):
    prepare(synth_dir, tmp_path / "f", window=small_window, progress=False)
    f16 = Store(tmp_path / "f")
    prepare(synth_dir, tmp_path / "i", window=small_window, dtype="int16", progress=False)
    i16 = Store(tmp_path / "i")
    assert (tmp_path / "i" / shard_name(0, "scale")).exists()
    ids = np.arange(0, i16.n_windows, 5)
    np.testing.assert_allclose(i16.windows(ids), f16.windows(ids), atol=2e-3)


def test_parts_read_as_one(synth_dir, small_window, tmp_path):
    whole = tmp_path / "whole"
    prepare(synth_dir, whole, window=small_window, progress=False)
    split = tmp_path / "split"
    for k in range(2):
        prepare(synth_dir, split, shard=(k, 2), window=small_window, progress=False)
    a, b = Store(whole), Store(split)
    assert [p.folder.name for p in b.parts] == ["part-0-of-2", "part-1-of-2"]
    assert b.n_windows == a.n_windows and b.n_pairs == a.n_pairs and b.n_records == a.n_records
    assert b.index["window_id"].tolist() == list(range(b.n_windows))
    assert sorted(s["record"] for s in b.skipped) == sorted(s["record"] for s in a.skipped)
    # The same windows and pairs, named by (source, start) instead of ids.
    def named(store):
        key = [f"{s}@{t}" for s, t in zip(store.index["source"], store.index["start"],
                                           strict=True)]
        return {(key[t], key[s]) for t, s in store.pairs}, key

    pa, ka = named(a)
    pb, kb = named(b)
    assert pa == pb
    j = kb.index(ka[3])
    np.testing.assert_array_equal(b.window(j)[0], a.window(3)[0])
    info = store_info(split)
    assert info["parts"] == ["part-0-of-2", "part-1-of-2"] and info["n_pairs"] == a.n_pairs


def test_not_a_store(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a store"):
        Store(tmp_path)


def test_a_file_given_for_a_store_names_its_folder_only_for_what_it_holds(tmp_path):
    """A demo report's file had pointed at the report as "the one that holds it" (no store:
    the demo's store is a folder inside)."""
    report = tmp_path / "report"
    report.mkdir()
    (report / ".qualityfm-demo").touch()
    (report / "summary.json").write_text("{}")
    with pytest.raises(ValueError, match=r"summary\.json is a file; a store is a folder \(the "
                                         r"folder that holds it, .*report, is a demo report\)"):
        Store(report / "summary.json")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=r"notes\.txt is a file; a store is a folder$"):
        Store(tmp_path / "notes.txt")


def test_damaged_store_files_are_named(synth_dir, small_window, tmp_path, capsys):
    """A truncated meta.json had been a bare JSON error; a truncated features.npy stopped
    every read of the features instead of being computed again."""
    from qualityfm.data import compute_store_features, feature_targets

    out = tmp_path / "store"
    prepare([synth_dir], out, window=small_window, progress=False)
    compute_store_features(out, workers=1, progress=False)
    good = feature_targets(out)
    (out / "features.npy").write_bytes((out / "features.npy").read_bytes()[:200])
    assert compute_store_features(out, workers=1, progress=False) == [out / "features.npy"]
    np.testing.assert_array_equal(feature_targets(out), good)
    # a truncated shard is named before the features are computed (and said to be), not
    # after the windows before it were read
    shard = out / "shard-000000.x.npy"
    kept = shard.read_bytes()
    shard.write_bytes(kept[:len(kept) // 2])
    (out / "features.npy").unlink()
    with pytest.raises(ValueError, match=r"shard-000000\.x\.npy: truncated or damaged store "):
        compute_store_features(out, workers=1, progress=True)
    assert "computing the classical features" not in capsys.readouterr().err
    shard.write_bytes(kept)
    meta = (out / "meta.json").read_text()
    (out / "meta.json").write_text(meta.replace('"n_windows": ', '"n_windows": "abc", "x": ', 1))
    with pytest.raises(ValueError, match=r"meta\.json: truncated or damaged store file \(its "
                                         r"fields: ValueError"):
        Store(out)
    for key in ("channels", "fs", "dtype", "n_samples", "seconds", "normalization", "skipped"):
        # each a KeyError traceback in info (the last three after session 44)
        damaged = json.loads(meta)
        del damaged[key]
        (out / "meta.json").write_text(json.dumps(damaged))
        with pytest.raises(ValueError, match=rf"meta\.json: truncated or damaged store file "
                                             rf"\(its fields: KeyError '{key}'"):
            Store(out)
    (out / "meta.json").write_text(meta[:100])
    with pytest.raises(ValueError, match=r"meta\.json: truncated or damaged store file"):
        Store(out)
    later = {**json.loads(meta), "format_version": 2}
    for fields in (later, {k: v for k, v in later.items() if k != "n_pairs"}):  # a later
        (out / "meta.json").write_text(json.dumps(fields))  # layout had been read unsaid,
        with pytest.raises(ValueError, match=r"meta\.json: a store of layout version 2; this "
                                             r"qualityfm reads version 1"):  # or said damaged
            Store(out)
    for version in ("1", None, 0):
        (out / "meta.json").write_text(json.dumps({**later, "format_version": version}))
        with pytest.raises(ValueError, match=r"meta\.json: truncated or damaged store file "
                                             rf"\(its fields: ValueError format_version "
                                             rf"{re.escape(repr(version))} is no layout"):
            Store(out)


class Interrupt(Exception):
    pass


def _crash(state):
    raise Interrupt


def test_a_parted_store_with_a_part_missing_or_unfinished_is_refused(synth_dir, small_window,
                                                                     tmp_path):
    split = tmp_path / "split"
    kw = dict(window=small_window, shard_size=3, progress=False)
    prepare(synth_dir, split, shard=(1, 2), **kw)
    with pytest.raises(ValueError, match=r"part-0-of-2 is missing.*--shard 0/2"):
        Store(split)
    with pytest.raises(Interrupt):  # part 0 killed part-way: only its journal is there
        prepare(synth_dir, split, shard=(0, 2), on_shard=_crash, **kw)
    assert (split / "part-0-of-2" / "journal.json").is_file()
    with pytest.raises(ValueError, match=r"part-0-of-2 is unfinished.*--shard 0/2"):
        store_info(split)
    prepare(synth_dir, split, shard=(0, 2), **kw)  # the same command finishes it
    assert Store(split).n_records == 5


def test_a_folder_with_a_store_and_parts_is_refused(synth_dir, small_window, tmp_path):
    out = tmp_path / "s"
    prepare(synth_dir, out, window=small_window, progress=False)
    part = out / "part-0-of-1"
    part.mkdir()
    (part / "meta.json").write_text(json.dumps({"n_windows": 0}))  # a stray part, hand-made
    with pytest.raises(ValueError, match=r"both a store \(meta.json\) and part folders "
                                         r"\(part-0-of-1\)"):
        Store(out)


def test_a_store_keeps_a_bounded_number_of_shards_open(synth_dir, small_window, tmp_path,
                                                         monkeypatch):
    """Each memory map holds a file open: a store of more shards than the cap reads every
    window while holding at most MAX_OPEN_SHARDS of them (thousands of shards had passed the
    usual limit of 1,024 open files)."""
    import os

    from qualityfm.data import store as store_module

    out = tmp_path / "store"
    prepare(synth_dir, out, window=small_window, shard_size=3, progress=False)
    store = Store(out)
    n_shards = int(store.meta["n_shards"])
    assert n_shards >= 12
    monkeypatch.setattr(store_module, "MAX_OPEN_SHARDS", 4)
    whole = store.windows(np.arange(store.n_windows))  # opens every shard once
    before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    again = store.windows(np.arange(store.n_windows)[::-1])
    assert len(store._maps) == 4
    if before is not None:
        assert len(os.listdir("/proc/self/fd")) <= before
    np.testing.assert_array_equal(again[::-1], whole)
    fresh = Store(out)
    fresh.windows(np.arange(store.n_windows))
    assert len(fresh._maps) == 4


def test_float16_refuses_values_past_its_range(synth_dir, small_window, tmp_path,
                                               record_writer):
    """A raw value past 65504 would be stored as inf: encode_windows refuses it, and prepare
    skips the record naming the channel and the way out, keeping the others."""
    x = np.zeros((2, 2, 10), np.float32)
    x[1, 1, 3] = 7e4
    with pytest.raises(ValueError, match=r"channel\(s\) \[1\].*int16"):
        encode_windows(x, "float16")
    assert np.isfinite(decode_windows(*encode_windows(x, "int16"))).all()

    rec = record_writer(synth_dir / "counts.npz", seed=11)
    arrays = dict(np.load(rec))
    arrays["PLETH"] = arrays["PLETH"] * 5e4  # an oximeter in ADC counts
    np.savez(rec, **arrays)
    raw = type(small_window)(fs=100.0, seconds=20.0, normalization="none")
    summary = prepare(synth_dir, tmp_path / "f16", window=raw, progress=False)
    skipped = {s["record"].rsplit("/", 1)[-1]: s["reason"] for s in summary["skipped"]}
    assert "float16's range" in skipped["counts.npz"] and "channel ppg" in skipped["counts.npz"]
    store = Store(tmp_path / "f16")
    assert store.n_records == 5 and np.isfinite(store.windows(np.arange(store.n_windows))).all()
    prepare(synth_dir, tmp_path / "i16", window=raw, dtype="int16", progress=False)
    i16 = Store(tmp_path / "i16")
    assert i16.n_records == 6
    assert np.isfinite(i16.windows(np.arange(i16.n_windows))).all()


def test_a_store_without_tables_pickles_small_and_reads_the_same(synth_dir, small_window,
                                                                  tmp_path):
    """compute_store_features sends the store with every chunk: without its tables (levels,
    masks: bytes per window) it pickles to a size that does not grow with the store."""
    import pickle

    out = tmp_path / "store"
    prepare(synth_dir, out, window=small_window, shard_size=7, progress=False)
    store = Store(out)
    assert store.masks.shape[0] == len(store.levels)  # loaded, as compute_store_features does
    light = pickle.loads(pickle.dumps(store.without_tables()))
    assert light._masks is None and light._levels is None and store._masks is not None
    heavy = len(pickle.dumps(store))
    assert len(pickle.dumps(store.without_tables())) <= heavy - store.n_windows * 3
    ids = np.arange(store.n_windows)
    np.testing.assert_array_equal(light.windows(ids), store.windows(ids))
    np.testing.assert_array_equal(light.masks, store.masks)


def test_a_pairs_file_that_is_not_the_stores_is_named(synth_dir, small_window, tmp_path):
    """Another array written over pairs.npy (an embedding saved there) had been read as pairs
    of window 0 with itself."""
    out = tmp_path / "store"
    prepare([synth_dir], out, window=small_window)
    good = Store(out).pairs
    assert good.dtype == np.int64 and len(good) == Store(out).n_pairs
    for bad in (np.zeros((512, 2), np.float32), good[:-1], good + Store(out).n_windows):
        np.save(out / "pairs.npy", bad)
        with pytest.raises(ValueError, match=r"pairs\.npy: not this store's pairs"):
            _ = Store(out).pairs


def test_a_shard_file_of_another_row_count_is_named(synth_dir, small_window, tmp_path):
    """A valid .npy of another shard copied over one had read as this shard: a short x file
    gave a bare IndexError, a short index shifted every later window's level and mask, and
    `info` passed both and a pairs.npy one row short."""
    import shutil

    from qualityfm.data import PairDataset

    good = tmp_path / "good"
    prepare(synth_dir, good, window=small_window, dtype="int16", shard_size=8, progress=False)
    n_shards = Store(good).parts[0].n_shards
    assert n_shards >= 3 and Store(good).n_windows % 8  # a short last shard to copy
    last = n_shards - 1
    for kind in ("x", "index", "scale"):
        out = tmp_path / kind
        shutil.copytree(good, out)
        shutil.copy(out / shard_name(last, kind), out / shard_name(1, kind))
        wrong = rf"{shard_name(1, kind)}: holds \d+ windows, shard 1 of this part holds 8"
        with pytest.raises(ValueError, match=wrong):
            store_info(out)
        with pytest.raises(ValueError, match=wrong):
            store = Store(out)
            store.levels if kind == "index" else store.windows(np.arange(store.n_windows))
    out = tmp_path / "pairs"
    shutil.copytree(good, out)
    np.save(out / "pairs.npy", np.load(out / "pairs.npy")[:-1])
    with pytest.raises(ValueError, match=r"pairs\.npy: not this store's pairs"):
        store_info(out)
    assert store_info(good)["n_windows"] == Store(good).n_windows
    assert len(PairDataset(good, shuffle=False)) == Store(good).n_pairs
    # a file of as many rows but another shard's index, or another store's samples: info had
    # passed them, and int16 samples had read as float16 windows' values up to 32767
    out = tmp_path / "ids"
    shutil.copytree(good, out)
    shutil.copy(out / shard_name(2, "index"), out / shard_name(1, "index"))
    with pytest.raises(ValueError, match=rf"{shard_name(1, 'index')}: holds windows 16\.\.23, "
                                         r"shard 1 of this part windows 8\.\.15"):
        store_info(out)
    with pytest.raises(ValueError, match=r"holds windows 16\.\.23"):
        _ = Store(out).levels
    half = tmp_path / "half"
    prepare(synth_dir, half, window=small_window, shard_size=8, progress=False)  # float16
    shutil.copy(good / shard_name(1, "x"), half / shard_name(1, "x"))
    with pytest.raises(ValueError, match=rf"{shard_name(1, 'x')}: samples of int16, the store's "
                                         r"are float16"):
        store_info(half)
    with pytest.raises(ValueError, match=r"samples of int16"):
        Store(half).windows([9])


def test_window_ids_are_global_however_they_are_read(synth_dir, small_window, tmp_path):
    """Store.field("window_id") had given each part's own ids until the index was loaded."""
    split = tmp_path / "split"
    for k in (0, 1):
        prepare(synth_dir, split, shard=(k, 2), window=small_window, shard_size=8,
                progress=False)
    store = Store(split)
    assert len(store.parts) == 2 and store.parts[1].offset > 0
    np.testing.assert_array_equal(store.field("window_id"), np.arange(store.n_windows))
    np.testing.assert_array_equal(store.index["window_id"], store.field("window_id"))
    # record numbers too: each part's own had repeated (windows of two records read as one's)
    prepare(synth_dir, tmp_path / "whole", window=small_window, progress=False)
    whole = Store(tmp_path / "whole")
    for numbers in (Store(split).field("record"), store.index["record"]):
        ids = store.index["record_id"]
        assert len(set(numbers.tolist())) == store.n_records == whole.n_records
        assert all(len(set(ids[numbers == r])) == 1 for r in set(numbers.tolist()))
    # a pre-training checkpoint's digest of the store keeps each part's own numbers (a run
    # begun on this store before they were global had been refused its resume)
    import hashlib
    import json

    from qualityfm.train.engine import check_store_pairs

    digest = hashlib.sha1(json.dumps(
        [(p.meta.get("settings"), p.meta.get("input_records")) for p in store.parts],
        sort_keys=True, default=str).encode())
    local = np.concatenate([p.shard_file(s, "index")["record"] for p in store.parts
                            for s in range(p.n_shards)])
    for column in (local, store.field("start"), store.pairs):
        digest.update(np.ascontiguousarray(column).tobytes())
    assert check_store_pairs(str(split), 1)["digest"] == digest.hexdigest()


def test_a_mask_out_of_range_is_refused_as_its_window(synth_dir, small_window, tmp_path):
    """Store.mask(-1) had given the last window's mask while window(-1) refused it."""
    prepare(synth_dir, tmp_path / "s", window=small_window, progress=False)
    store = Store(tmp_path / "s")
    for i in (-1, store.n_windows):
        for read in (store.mask, store.window):
            with pytest.raises(IndexError, match=f"window {i} out of range for a store of "
                                                 f"{store.n_windows} windows"):
                read(i)


def test_parts_scored_by_other_rules_are_not_read_as_one(synth_dir, small_window, tmp_path,
                                                         monkeypatch):
    """The quality rules' version was no setting: a part scored by an older qualityfm merged
    silently with a newer one (levels, and so pairs, by two rules), and a complete store of
    older rules was returned without a word."""
    import importlib

    prep = importlib.import_module("qualityfm.data.prepare")  # the module, not the function
    split = tmp_path / "split"
    prepare(synth_dir, split, shard=(0, 2), window=small_window, progress=False)
    monkeypatch.setattr(prep, "SCORING_VERSION", prep.SCORING_VERSION + 1)
    with pytest.raises(ValueError, match=r"part-0-of-2: made with the quality rules of version"):
        prepare(synth_dir, split, shard=(1, 2), window=small_window, progress=False)
    with pytest.warns(RuntimeWarning, match="scored by the quality rules of version"):
        prepare(synth_dir, split, shard=(0, 2), window=small_window, progress=False)
    monkeypatch.undo()
    prepare(synth_dir, split, shard=(1, 2), window=small_window, progress=False)
    meta = split / "part-1-of-2" / "meta.json"
    held = json.loads(meta.read_text())
    held["scoring_version"] -= 1
    meta.write_text(json.dumps(held))
    with pytest.raises(ValueError, match=r"part-1-of-2: scored by the quality rules of version"):
        Store(split)
    # both parts of older rules (a new qualityfm): a re-run returns each, said; --overwrite
    # remakes one, then the other (each had been refused for the other's older rules)
    held["scoring_version"] += 1
    meta.write_text(json.dumps(held))
    monkeypatch.setattr(prep, "SCORING_VERSION", prep.SCORING_VERSION + 1)
    for k in range(2):
        with pytest.warns(RuntimeWarning, match="scored by the quality rules of version"):
            prepare(synth_dir, split, shard=(k, 2), window=small_window, progress=False)
    with pytest.warns(RuntimeWarning, match="part-1-of-2 made otherwise than this part"):
        prepare(synth_dir, split, shard=(0, 2), window=small_window, overwrite=True,
                progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prepare(synth_dir, split, shard=(1, 2), window=small_window, overwrite=True,
                progress=False)
    assert {p.meta["scoring_version"] for p in Store(split).parts} == {prep.SCORING_VERSION}


def test_a_store_of_other_channels_is_refused_by_the_features_and_pre_training(
        synth_dir, small_window, tmp_path):
    """A store prepared with ECG II before PPG had its PPG measured as ECG and pre-trained on
    without a word; one of PPG alone had failed with "x must be [N, 2, T]", naming no store."""
    from dataclasses import replace

    import torch

    from qualityfm.data import compute_store_features
    from qualityfm.model import QualityFMConfig
    from qualityfm.train.engine import check_trainable

    for channels in (("ecg_ii", "ppg"), ("ppg",)):
        out = tmp_path / "_".join(channels)
        prepare(synth_dir, out, window=replace(small_window, channels=channels), progress=False)
        said = rf"{out.name}: windows of channels {', '.join(channels)}; the network and its " \
               r"classical features read ppg, ecg_ii in that order"
        with pytest.raises(ValueError, match=said):
            compute_store_features(out)
        assert not (out / "features.npy").exists()
        mcfg = QualityFMConfig.preset("base", n_samples=2000, fs=100.0,
                                      in_channels=len(channels))
        with pytest.raises(ValueError, match=said):
            check_trainable(mcfg, torch.device("cpu"), str(out))
    out = tmp_path / "default"
    prepare(synth_dir, out, window=small_window, progress=False)
    check_trainable(QualityFMConfig.preset("base", n_samples=2000, fs=100.0),
                    torch.device("cpu"), str(out))


def test_a_store_s_scoring_version_is_that_of_its_parts_holding_windows(
        synth_dir, small_window, tmp_path) -> None:
    """info and pretrain had read the version of part 0, which may hold no window: a store
    of older levels said nothing, one of today's levels was said old."""
    from qualityfm.data import stable_part
    from qualityfm.data.prepare import expand_inputs
    from qualityfm.data.store import scoring_note
    from qualityfm.quality import SCORING_VERSION

    keys = [k for k, _ in expand_inputs([synth_dir])]
    n = next(n for n in range(2, 60) if all(stable_part(key, n) != 0 for key in keys))
    split = tmp_path / "split"
    for k in range(n):
        prepare(synth_dir, split, shard=(k, n), window=small_window, progress=False)
    assert Store(split).parts[0].n_windows == 0
    for empty, scored in ((SCORING_VERSION, SCORING_VERSION - 1),
                          (SCORING_VERSION - 1, SCORING_VERSION)):
        for part in Store(split).parts:
            meta = json.loads((part.folder / "meta.json").read_text())
            meta["scoring_version"] = scored if part.n_windows else empty
            (part.folder / "meta.json").write_text(json.dumps(meta))
        info = store_info(split)
        assert Store(split).scoring_version == info["scoring_version"] == scored
        assert ("scoring_note" in info) == (scored != SCORING_VERSION)
    assert scoring_note(None).startswith("scored by the quality rules of a version from "
                                         "before versions were recorded (under 2)")
    assert scoring_note(SCORING_VERSION + 1).endswith(
        "read it with the qualityfm that wrote it")  # (not: prepare again with this one)
