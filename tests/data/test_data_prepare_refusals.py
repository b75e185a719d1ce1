"""prepare refuses what it would get wrong, naming why: parts or re-runs from other inputs or
settings, a store among its inputs; the same records in another order are the same run."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

from qualityfm.data import Store, prepare, stable_part
from qualityfm.data.prepare import JOURNAL, expand_inputs
from qualityfm.data.store import META
from qualityfm.quality import SCORING_VERSION


def files_digest(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Every file under ``folder`` but those named in ``skip``, and a hash of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name not in skip}


class Interrupt(Exception):
    pass


def interrupted(inputs, out: Path, **kw) -> None:
    """Run prepare into ``out`` and stop it after its first journalled shard."""
    def stop(_state):
        raise Interrupt

    with pytest.raises(Interrupt):
        prepare(inputs, out, on_shard=stop, **kw)
    assert list(out.rglob(JOURNAL)) and not list(out.rglob(META))


@pytest.fixture
def halves(synth_dir, tmp_path) -> tuple[Path, Path]:
    """The five good records of ``synth_dir`` in two folders, ``a`` (3) and ``b`` (2)."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for i in range(5):
        shutil.copy(synth_dir / f"rec{i}.npz", (a if i < 3 else b) / f"rec{i}.npz")
    return a, b


# ----------------------------------------------------------------------------- parts (item 1)
def test_a_part_from_other_inputs_is_refused_before_any_work(synth_dir, halves, small_window,
                                                             tmp_path):
    a, _ = halves
    split = tmp_path / "split"
    kw = dict(window=small_window, progress=False)
    prepare(synth_dir, split, shard=(0, 2), **kw)
    before = files_digest(split)
    here = re.escape(f"(7 records under {synth_dir.resolve()}; here 3 records under "
                     f"{a.resolve()})")
    with pytest.raises(ValueError, match=rf"part-0-of-2: made with other records {here}; "
                                         "prepare every part .* from the same inputs"):
        prepare(a, split, shard=(1, 2), **kw)
    assert files_digest(split) == before and not (split / "part-1-of-2").exists()
    # The same, against a sibling whose run was interrupted (its journal records its inputs).
    split3 = tmp_path / "split3"
    keys = [k for k, _ in expand_inputs([synth_dir])]
    busy = next(k for k in range(3) if sum(stable_part(key, 3) == k for key in keys) >= 2)
    interrupted(synth_dir, split3, shard=(busy, 3), shard_size=1, **kw)
    other = next(k for k in range(3) if k != busy)
    with pytest.raises(ValueError, match=rf"part-{busy}-of-3: made with other records"):
        prepare(a, split3, shard=(other, 3), **kw)
    assert not (split3 / f"part-{other}-of-3").exists()


def test_store_refuses_parts_made_from_other_records(synth_dir, halves, small_window, tmp_path):
    a, _ = halves
    kw = dict(window=small_window, progress=False)
    prepare(synth_dir, tmp_path / "s1", shard=(0, 2), **kw)
    prepare(a, tmp_path / "s2", shard=(1, 2), **kw)  # another folder: prepare cannot tell
    mixed = tmp_path / "s1"
    (tmp_path / "s2" / "part-1-of-2").rename(mixed / "part-1-of-2")
    with pytest.raises(ValueError, match=r"part-1-of-2: made from 3 records under .*/a, "
                                         r".*part-0-of-2 from 7 records under .*/corpus"):
        Store(mixed)
    # A part written before meta.json recorded its input records is not compared: it opens.
    meta_path = mixed / "part-1-of-2" / META
    meta = json.loads(meta_path.read_text())
    del meta["input_records"]
    meta_path.write_text(json.dumps(meta))
    assert len(Store(mixed).parts) == 2


def test_parts_from_the_same_records_in_another_order_make_one_store(halves, small_window,
                                                                     tmp_path):
    a, b = halves
    kw = dict(window=small_window, progress=False)
    split = tmp_path / "split"
    prepare([a, b], split, shard=(0, 2), **kw)
    prepare([b, a], split, shard=(1, 2), **kw)
    whole = prepare([a, b], tmp_path / "whole", **kw)
    store = Store(split)
    assert store.n_records == whole["n_records"] == 5
    assert store.n_windows == whole["n_windows"]


# ----------------------------------------------------------------------------- re-runs (item 3)
def test_reuse_names_the_setting_or_the_records_that_differ(synth_dir, halves, small_window,
                                                            tmp_path):
    from qualityfm.data import PairConfig

    a, _ = halves
    out = tmp_path / "s"
    kw = dict(window=small_window, progress=False)
    prepare(synth_dir, out, **kw)
    before = files_digest(out)
    with pytest.raises(ValueError, match=r"s: a store made with other settings "
                                         r"\(--max-distance 3 here, 9 there\) is there"):
        prepare(synth_dir, out, pairs=PairConfig(max_distance=3), **kw)
    with pytest.raises(ValueError, match=r"other settings \(--shard-size 8 here, 2048 there\)"):
        prepare(synth_dir, out, shard_size=8, **kw)
    here = re.escape(f"(7 records under {synth_dir.resolve()}; here 3 records under "
                     f"{a.resolve()})")
    with pytest.raises(ValueError, match=rf"a store made with other records {here} is there"):
        prepare(a, out, **kw)
    assert files_digest(out) == before
    # A store of an earlier version (no input_records, another fingerprint) is still refused.
    meta = json.loads((out / META).read_text())
    old = {k: v for k, v in meta.items() if k != "input_records"} | {"fingerprint": "old"}
    (out / META).write_text(json.dumps(old))
    with pytest.raises(ValueError, match=r"other settings or records \(made from records "
                                         r"under .*corpus, by an earlier qualityfm"):
        prepare(synth_dir, out, **kw)
    assert json.loads((out / META).read_text()) == old


def test_resume_names_what_differs_and_keeps_the_journal(synth_dir, halves, small_window,
                                                         tmp_path):
    a, _ = halves
    out = tmp_path / "s"
    kw = dict(window=small_window, progress=False)
    interrupted(synth_dir, out, shard_size=7, **kw)
    before = files_digest(out)
    with pytest.raises(ValueError, match=r"journal.json: journal of an interrupted run with "
                                         r"other settings \(--shard-size 8 here, 7 there\)"):
        prepare(synth_dir, out, shard_size=8, **kw)
    with pytest.raises(ValueError, match=r"journal of an interrupted run with other records "
                                         r"\(7 records under .*corpus; here 3 records under"):
        prepare(a, out, shard_size=7, **kw)
    assert files_digest(out) == before  # nothing removed: the run can still be finished
    assert prepare(synth_dir, out, shard_size=7, **kw)["n_windows"] == 50


def test_a_journal_scored_by_earlier_rules_is_not_finished_with_these(synth_dir, small_window,
                                                                     tmp_path):
    """Windows scored before and after a change of the scoring rules never share a store."""
    out = tmp_path / "s"
    kw = dict(window=small_window, shard_size=7, progress=False)
    interrupted(synth_dir, out, **kw)
    journal = json.loads((out / JOURNAL).read_text())
    assert journal["scoring_version"] == SCORING_VERSION
    del journal["scoring_version"]  # as a qualityfm before the version was recorded wrote it
    (out / JOURNAL).write_text(json.dumps(journal))
    before = files_digest(out)
    with pytest.raises(ValueError, match=rf"journal of an interrupted run whose windows were "
                                         rf"scored by an earlier qualityfm \(scoring rules 1, "
                                         rf"now {SCORING_VERSION}\).*--overwrite"):
        prepare(synth_dir, out, **kw)
    assert files_digest(out) == before
    summary = prepare(synth_dir, out, overwrite=True, **kw)
    assert summary["n_windows"] == 50
    assert json.loads((out / META).read_text())["scoring_version"] == SCORING_VERSION


def test_the_same_records_in_another_order_are_the_same_run(halves, small_window, tmp_path):
    a, b = halves
    kw = dict(window=small_window, shard_size=7, progress=False)
    assert expand_inputs([a, b]) == expand_inputs([b, a])
    first = prepare([a, b], tmp_path / "ab", **kw)
    before = files_digest(tmp_path / "ab")
    again = prepare([b, a], tmp_path / "ab", **kw)  # kept as is, not refused
    assert again["n_windows"] == first["n_windows"] and files_digest(tmp_path / "ab") == before
    # Made afresh, or resumed, in the other order: the same windows, index and pairs.
    prepare([b, a], tmp_path / "ba", **kw)
    interrupted([a, b], tmp_path / "resumed", **kw)
    prepare([b, a], tmp_path / "resumed", **kw)
    data = files_digest(tmp_path / "ab", skip=(META,))
    assert files_digest(tmp_path / "ba", skip=(META,)) == data
    assert files_digest(tmp_path / "resumed", skip=(META,)) == data
    # meta.json too, but for the folder it describes: the inputs are listed sorted
    metas = [json.loads((tmp_path / d / META).read_text()) for d in ("ab", "ba", "resumed")]
    assert metas[0]["inputs"] == sorted(metas[0]["inputs"])
    assert all(m["inputs"] == metas[0]["inputs"] for m in metas)


def test_settings_given_as_whole_numbers_or_numpy_numbers_are_the_same_run(halves, tmp_path):
    """seconds=20 in Python and --window 20 (20.0) had fingerprinted as two runs: the store
    and an interrupted run's journal were refused ("by an earlier qualityfm"); a NumPy
    integer in PairConfig or RRRules had been a bare JSON TypeError."""
    import numpy as np

    from qualityfm.data import PairConfig
    from qualityfm.quality import RRRules
    from qualityfm.signal import WindowConfig

    a, _ = halves
    whole = dict(window=WindowConfig(fs=100, seconds=20), shard_size=7, progress=False,
                 ecg_rules=RRRules(hr_max=250), pairs=PairConfig(max_distance=np.int64(9)))
    floats = dict(window=WindowConfig(fs=100.0, seconds=20.0), shard_size=7, progress=False,
                  ecg_rules=RRRules(hr_max=250.0), pairs=PairConfig(max_distance=9))
    first = prepare([a], tmp_path / "s", **whole)
    before = files_digest(tmp_path / "s")
    assert prepare([a], tmp_path / "s", **floats)["n_windows"] == first["n_windows"]
    assert files_digest(tmp_path / "s") == before
    interrupted([a], tmp_path / "r", **whole)
    assert prepare([a], tmp_path / "r", **floats)["n_windows"] == first["n_windows"]


def test_a_store_and_journal_of_whole_number_settings_made_before_they_were_floats(
        halves, tmp_path, monkeypatch):
    """Before session 46 WindowConfig(seconds=20) kept 20 as written: such a store, or an
    interrupted run's journal, recorded and fingerprinted 20 where a run now has 20.0; they
    are the same numbers, so the same run (not refused as an earlier version's)."""
    from qualityfm.signal import WindowConfig
    from qualityfm.signal import windows as windows_module

    a, _ = halves
    with monkeypatch.context() as m:  # as the earlier qualityfm kept them
        m.setattr(windows_module, "settle_numbers", lambda *args, **kw: None)
        old = dict(window=WindowConfig(fs=100, seconds=20), shard_size=7, progress=False)
        assert isinstance(old["window"].seconds, int)
        first = prepare([a], tmp_path / "s", **old)
        interrupted([a], tmp_path / "r", **old)
    assert json.loads((tmp_path / "s" / META).read_text())["settings"]["window"]["seconds"] == 20
    now = dict(window=WindowConfig(fs=100, seconds=20), shard_size=7, progress=False)
    before = files_digest(tmp_path / "s")
    assert prepare([a], tmp_path / "s", **now)["n_windows"] == first["n_windows"]
    assert files_digest(tmp_path / "s") == before
    assert prepare([a], tmp_path / "r", **now)["n_windows"] == first["n_windows"]
    with pytest.raises(ValueError, match=r"other settings \(--window 10 here, 20 there\)"):
        prepare([a], tmp_path / "s", **{**now, "window": WindowConfig(fs=100, seconds=10)})


def test_a_store_inside_an_input_folder_is_named_once_not_shard_by_shard(halves, small_window,
                                                                          tmp_path):
    """Each shard of a store kept among the records had been named as a .npy record without
    a rate, with advice to save it as an .npz record (27 lines for one store)."""
    a, b = halves
    kw = dict(window=small_window, shard_size=2, progress=False)
    prepare([b], a / "old", **kw)
    summary = prepare([a], tmp_path / "s", **kw)
    assert summary["passed_over"] == [{
        "record": str(a / "old"),
        "reason": f"{a / 'old'}: a store qualityfm prepare wrote (windows of records, no "
                  "records): left out"}]
    assert summary["n_records"] == 3
    # a records folder's own meta.json is no store's: its .npy is named as a record without
    # a rate (it had read as a store, left out with every file below it)
    import numpy as np

    (b / "meta.json").write_text('{"site": "ward 3"}')
    np.save(b / "extra.npy", np.zeros((2, 3000)))
    listed = prepare([b], tmp_path / "t", **kw)["passed_over"]
    assert [e["record"] for e in listed] == [str(b / "extra.npy")]


def test_a_store_of_an_earlier_version_from_several_inputs_is_found_complete(
        halves, small_window, tmp_path):
    """Before session 19 a store's records ran in the order its inputs were given and its
    meta.json held no input_records: re-running its command finds it complete, as it did."""
    from qualityfm.data.prepare import _fingerprint

    a, b = halves
    kw = dict(window=small_window, shard_size=7, progress=False)
    prepare([b, a], tmp_path / "old", **kw)
    meta_path = tmp_path / "old" / META
    meta = json.loads(meta_path.read_text())
    del meta["input_records"]  # as that version wrote it: b's records first
    old_order = [key for key, _ in expand_inputs([b]) + expand_inputs([a])]
    meta["fingerprint"] = _fingerprint(meta["settings"], old_order)
    meta_path.write_text(json.dumps(meta))
    before = files_digest(tmp_path / "old")
    assert prepare([b, a], tmp_path / "old", **kw)["n_windows"] == meta["n_windows"]
    assert files_digest(tmp_path / "old") == before
    with pytest.raises(ValueError, match="a store made with"):  # another order is another store
        prepare([a, b], tmp_path / "old", **kw)


# ----------------------------------------------------------------------------- out (item 4)
def test_the_store_must_lie_apart_from_its_inputs(synth_dir, small_window, tmp_path):
    before = files_digest(synth_dir)
    kw = dict(window=small_window, progress=False)
    with pytest.raises(ValueError, match=rf"{synth_dir}: the store folder is the input folder "
                                         rf"{synth_dir}, where its files would lie among the "
                                         r"records; "
                                         r"write the store into a folder outside the inputs$"):
        prepare(synth_dir, synth_dir, **kw)
    with pytest.raises(ValueError, match=r"store folder is inside the input folder"):
        prepare(synth_dir, synth_dir / "store", shard=(0, 2), **kw)
    with pytest.raises(ValueError, match=rf"{tmp_path}: the store folder holds the input "
                                         rf"{synth_dir}"):
        prepare(synth_dir, tmp_path, **kw)
    record = synth_dir / "rec0.npz"
    with pytest.raises(ValueError, match=r"store folder holds the input .*rec0.npz"):
        prepare(record, synth_dir, **kw)
    # Through a link to the input folder, too.
    (tmp_path / "link").symlink_to(synth_dir)
    with pytest.raises(ValueError, match=r"store folder is the input folder"):
        prepare(synth_dir, tmp_path / "link", **kw)
    # Inside a folder a link under the input leads to (the readers walk it), or named
    # through such a link and '..' from a folder beside it; hidden in the input, too.
    (tmp_path / "elsewhere").mkdir()
    (synth_dir / "ext").symlink_to(tmp_path / "elsewhere")
    try:
        with pytest.raises(ValueError, match=r"elsewhere/s: the store folder is inside .*"
                                             r"elsewhere, a folder linked from the input folder"):
            prepare(synth_dir, tmp_path / "elsewhere" / "s", **kw)
        with pytest.raises(ValueError, match=r"store folder is inside the input folder"):
            prepare(synth_dir, synth_dir / "sub" / ".." / "ext" / "s", **kw)
        with pytest.raises(ValueError, match=r"store folder is inside the input folder"):
            prepare(synth_dir, synth_dir / ".store", **kw)
    finally:
        (synth_dir / "ext").unlink()
    assert files_digest(synth_dir) == before and not (synth_dir / "store").exists()
    assert not any((tmp_path / "elsewhere").iterdir())
    # A file input beside the store folder is fine.
    assert prepare(record, synth_dir.parent / "beside", **kw)["n_records"] == 1


def test_inputs_of_one_folder_name_keep_their_records_apart(synth_dir, small_window, tmp_path):
    """site1/icu and site2/icu holding files of the same names: each record has a key of its
    own (they had shared one, and a resume then missed a change to one of them)."""
    sites = [tmp_path / s / "icu" for s in ("site1", "site2")]
    for n, site in enumerate(sites):
        site.mkdir(parents=True)
        for i in range(2):
            shutil.copy(synth_dir / f"rec{i + 2 * n}.npz", site / f"rec{i}.npz")
    keys = [key for key, _ in expand_inputs(sites)]
    assert keys == ["site1/icu/rec0.npz", "site1/icu/rec1.npz",
                    "site2/icu/rec0.npz", "site2/icu/rec1.npz"]
    assert expand_inputs(sites[::-1]) == expand_inputs(sites)
    assert [k for k, _ in expand_inputs(sites[:1])] == ["icu/rec0.npz", "icu/rec1.npz"]
    files = [site / "rec0.npz" for site in sites]  # files given alone: keyed by their names
    assert [k for k, _ in expand_inputs(files)] == ["site1/icu/rec0.npz", "site2/icu/rec0.npz"]
    assert [k for k, _ in expand_inputs(files[:1])] == ["rec0.npz"]
    # a record reached through a link and by its own path keeps its own path's key, as before
    # links were followed (the smaller link key had made an earlier store read as another's)
    (sites[0] / "a_link").symlink_to(sites[1], target_is_directory=True)
    assert [k for k, _ in expand_inputs(sites)] == keys
    assert [k for k, _ in expand_inputs(sites[:1])] == [
        "icu/a_link/rec0.npz", "icu/a_link/rec1.npz", "icu/rec0.npz", "icu/rec1.npz"]
    (sites[0] / "a_link").unlink()
    from qualityfm.data.prepare import _distinct_keys  # an input at the root: no "/" key

    named = {Path(p): ("rec.npz", Path(p)) for p in ("/data/rec.npz", "/mnt/x/data/rec.npz")}
    assert sorted(k for k, _ in _distinct_keys(named)) == ["data/rec.npz", "x/data/rec.npz"]
    kw = dict(window=small_window, shard_size=3, progress=False)
    interrupted(sites, tmp_path / "store", **kw)
    shutil.copy(synth_dir / "rec4.npz", sites[0] / "rec0.npz")  # read before the stop
    with pytest.raises(ValueError, match=r"site1/icu/rec0\.npz has changed since"):
        prepare(sites, tmp_path / "store", **kw)
    # A key so lengthened that is another input's own is refused, naming both files.
    other = tmp_path / "elsewhere" / "site1"
    (other / "icu").mkdir(parents=True)
    shutil.copy(synth_dir / "rec4.npz", other / "icu" / "rec0.npz")
    with pytest.raises(ValueError, match=r"two records named 'site1/icu/rec0\.npz'"):
        expand_inputs([*sites, other])


def test_a_run_stopped_after_its_meta_json_leaves_nothing_behind(synth_dir, small_window,
                                                                   tmp_path, monkeypatch) -> None:
    """A stop between meta.json and the removal of the journal, stamps and pair chunks: the
    next run finds the store complete and removes them (they had stayed for good)."""
    import importlib

    prep = importlib.import_module("qualityfm.data.prepare")  # the module, not the function
    real = prep.write_json

    def stop_after_meta(path, obj):  # noqa: ANN001, ANN202 - write_json's own arguments
        real(path, obj)
        if Path(path).name == META:
            raise KeyboardInterrupt

    kw = dict(window=small_window, shard_size=3, progress=False)
    out = tmp_path / "store"
    monkeypatch.setattr(prep, "write_json", stop_after_meta)
    with pytest.raises(KeyboardInterrupt):
        prepare(synth_dir, out, **kw)
    monkeypatch.setattr(prep, "write_json", real)
    assert (out / JOURNAL).exists() and list(out.glob("pairs-*.npy"))
    clean = tmp_path / "clean"
    prepare(synth_dir, clean, **kw)
    assert prepare(synth_dir, out, **kw)["n_windows"] == 50
    assert files_digest(out, skip=(META,)) == files_digest(clean, skip=(META,))


def test_records_phrase_names_three_inputs_then_how_many_more() -> None:
    """A refusal's "N records under A, B, C and K more", as every other list of a message."""
    from qualityfm.data.store import records_phrase

    meta = {"inputs": ["a", "b", "c", "d", "e"], "input_records": {"count": 9}}
    assert records_phrase(meta) == "9 records under a, b, c and 2 more"
    assert records_phrase({"inputs": ["a"]}) == "records under a"
    assert records_phrase({}) == "records under (not recorded)"
