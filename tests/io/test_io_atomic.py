"""The one atomic writer: content, the usual file mode, nothing left behind on failure."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from qualityfm.io import atomic_write, atomic_write_bytes, atomic_write_text
from qualityfm.io.atomic import atomic_write_all, remove_temporaries


def test_atomic_write_content_and_mode(tmp_path) -> None:
    out = tmp_path / "sub" / "a.npy"
    atomic_write(out, lambda f: np.save(f, np.arange(5)))
    np.testing.assert_array_equal(np.load(out), np.arange(5))
    mask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "b.txt", "héllo")
    finally:
        os.umask(mask)
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == "héllo"
    assert (tmp_path / "b.txt").stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
    mask = os.umask(0o077)
    try:
        atomic_write_text(tmp_path / "private.txt", "x")
    finally:
        os.umask(mask)
    assert (tmp_path / "private.txt").stat().st_mode & 0o777 == 0o600  # the umask is followed
    assert os.umask(mask) == mask  # reading the umask left it as it was


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path) -> None:
    out = tmp_path / "c.bin"
    atomic_write_bytes(out, b"old")

    def fail(f) -> None:  # noqa: ANN001 - the writer's file object
        f.write(b"half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        atomic_write(out, fail)
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.bin"]


def test_files_written_together_are_replaced_together(tmp_path) -> None:
    a, b = tmp_path / "m.npy", tmp_path / "m.index.csv"
    atomic_write_all({a: lambda f: f.write(b"old matrix"), b: lambda f: f.write(b"old index")})

    def fail(f) -> None:  # noqa: ANN001 - the writer's file object
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):  # the first was written, not moved
        atomic_write_all({a: lambda f: f.write(b"new matrix"), b: fail})
    assert (a.read_bytes(), b.read_bytes()) == (b"old matrix", b"old index")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.index.csv", "m.npy"]
    (tmp_path / ".m.npy.k1ll3d.tmp").write_bytes(b"left by a SIGKILL")
    assert remove_temporaries(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.index.csv", "m.npy"]


def test_write_json_writes_strict_json(tmp_path) -> None:
    """Arrays, numpy scalars and paths are written as JSON types, NaN and inf as null (a
    demo summary with a NaN interval gave the invalid token NaN), and a later write replaces
    the file whole."""
    import json
    from pathlib import Path

    from qualityfm.io import write_json

    path = tmp_path / "summary.json"
    obj = {"auroc": np.float32(0.5), "ci": [float("nan"), np.inf], "n": np.int64(3),
           "ok": np.bool_(True), "rows": np.arange(2), "store": Path("/x/y")}
    assert write_json(path, obj) == path
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict {c}")) == {
        "auroc": 0.5, "ci": [None, None], "n": 3, "ok": True, "rows": [0, 1], "store": "/x/y"}
    write_json(path, {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1} and list(tmp_path.iterdir()) == [path]


def test_a_stop_that_a_writer_turns_into_its_own_error_is_the_stop(tmp_path) -> None:
    """torch.save answers a SIGTERM during its write with RuntimeError("unexpected pos"): the
    stop is raised, so that the verb ends with 130/143 and its message, not a traceback."""
    from qualityfm._signals import Terminated

    def stopped(f) -> None:
        try:
            raise Terminated()
        except Terminated:
            raise RuntimeError("unexpected pos")  # noqa: B904 - as torch raises it

    with pytest.raises(Terminated):
        atomic_write(tmp_path / "a.pt", stopped)
    assert not list(tmp_path.iterdir())

    def broken(f) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(tmp_path / "a.pt", broken)


def test_a_failed_write_names_the_file_not_its_temporary(tmp_path) -> None:
    """A full disk had said "[Errno 28] No space left on device" (numpy: "N requested and M
    written") and nothing of which file; the old file stays."""
    import errno

    target = tmp_path / "scores.csv"
    target.write_text("old")

    def full(f):
        raise OSError(errno.ENOSPC, "No space left on device")

    def short(f):
        raise OSError("21504 requested and 16352 written")

    for writer, said in ((full, r"\[Errno 28\] cannot write .*scores\.csv: No space left"),
                         (short, r"cannot write .*scores\.csv: 21504 requested and 16352 "
                                 r"written \(is its disk full\?\)$")):
        with pytest.raises(OSError, match=said):
            atomic_write(target, writer)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == [
        "scores.csv"]


def test_a_folder_that_is_a_link_to_nothing_is_refused_first(tmp_path) -> None:
    from qualityfm.io.folders import check_writable_folder

    (tmp_path / "dl").symlink_to(tmp_path / "nowhere" / "dir")
    with pytest.raises(ValueError, match=r"--out X: .*dl is a link to nothing"):
        check_writable_folder(tmp_path / "dl" / "sub", "--out X")
    check_writable_folder(tmp_path / "new" / "sub", "--out X")  # made at the write: fine


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads Linux's /proc/self/fd")
def test_the_folder_is_flushed_after_the_renames(tmp_path, monkeypatch) -> None:
    """A rename is on disk only once its folder is flushed: each folder written to, once,
    after the files it holds were moved there."""
    import stat

    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("rename", b)),
                                                     real_replace(a, b))[1])

    def fsync(fd: int) -> None:
        events.append(("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file",
                       os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    (tmp_path / "sub").mkdir()
    a, b, c = tmp_path / "a.bin", tmp_path / "b.bin", tmp_path / "sub" / "c.bin"
    atomic_write_all({a: lambda f: f.write(b"a"), b: lambda f: f.write(b"b"),
                      c: lambda f: f.write(b"c")})
    kinds = [kind for kind, _ in events]
    assert kinds == ["file"] * 3 + ["rename"] * 3 + ["folder"] * 2
    assert [p for kind, p in events if kind == "folder"] == [os.path.realpath(tmp_path),
                                                             os.path.realpath(tmp_path / "sub")]


def _stop_after_the_first_rename(monkeypatch, *signals: int) -> list:
    """Send ``signals`` to this process right after atomic_write_all's first rename; returns
    the list of the renames' targets."""
    import os

    from qualityfm.io import atomic

    real, calls = os.replace, []

    def replace(src, dst):
        real(src, dst)
        calls.append(dst)
        if len(calls) == 1:
            for sig in signals:
                os.kill(os.getpid(), sig)

    monkeypatch.setattr(atomic.os, "replace", replace)
    return calls


def test_a_stop_between_the_renames_of_files_that_belong_together_waits(tmp_path,
                                                                        monkeypatch) -> None:
    """Ctrl-C right after the first rename had left a new matrix beside the old index: the
    stop is held until both are in place, then raised."""
    import signal

    from qualityfm.io import atomic

    a, b = tmp_path / "e.npy", tmp_path / "e.index.csv"
    a.write_bytes(b"old")
    b.write_bytes(b"old")
    calls = _stop_after_the_first_rename(monkeypatch, signal.SIGINT)
    synced = []
    monkeypatch.setattr(atomic, "_sync_folder", synced.append)
    with pytest.raises(KeyboardInterrupt):
        atomic.atomic_write_all({a: lambda f: f.write(b"new"), b: lambda f: f.write(b"new")})
    assert a.read_bytes() == b.read_bytes() == b"new" and len(calls) == 2
    assert synced == [tmp_path]  # the folder flushed before the stop (it had been skipped)
    assert not list(tmp_path.glob(".*.tmp"))


def test_every_stop_held_during_the_renames_is_raised_after_them(tmp_path, monkeypatch) -> None:
    """Ctrl-C and SIGTERM both sent during the renames: after them Ctrl-C raises and SIGTERM
    still reaches its handler (it had been lost to the KeyboardInterrupt)."""
    import signal

    from qualityfm.io import atomic

    seen = []
    before = signal.signal(signal.SIGTERM, lambda n, _f: seen.append(n))
    try:
        calls = _stop_after_the_first_rename(monkeypatch, signal.SIGINT, signal.SIGTERM)
        with pytest.raises(KeyboardInterrupt):
            atomic.atomic_write_all({tmp_path / "a.x": lambda f: f.write(b"1"),
                                     tmp_path / "b.x": lambda f: f.write(b"1")})
        assert seen == [signal.SIGTERM] and len(calls) == 2
        assert (tmp_path / "b.x").read_bytes() == b"1"
    finally:
        signal.signal(signal.SIGTERM, before)


def test_the_temporaries_of_one_file_are_removed_before_it_is_written_again(tmp_path) -> None:
    """score, embed and predict killed mid-write (SIGKILL) had left ``.scores.csv.XXXX.tmp``
    for every later run; the next write of that file removes them (an hour old: a younger
    one may be another run's, writing), and only them."""
    from qualityfm.inference.score import write_table

    left = tmp_path / ".scores.csv.a1b2c3d4.tmp"
    other = tmp_path / ".other.csv.a1b2c3d4.tmp"
    mine = tmp_path / ".draft.tmp"  # the user's own
    for f in (left, other, mine):
        f.write_text("x")
        os.utime(f, (time.time() - 3601,) * 2)
    assert remove_temporaries(tmp_path, "[bracket].csv") == 0  # a glob character is a name
    write_table([{"a": 1}], ["a"], tmp_path / "scores.csv")
    assert not left.exists() and other.exists() and mine.exists()
    assert (tmp_path / "scores.csv").read_text().splitlines() == ["a", "1"]


def test_a_task_caches_stale_temporaries_go_and_fresh_ones_stay(tmp_path) -> None:
    """A cache save killed mid-write had left its temporary (as large as the dataset) for
    ever; one untouched for an hour goes, one another process may be writing stays, as do a
    user's own hidden files and what cannot be removed (never a bar to the save)."""
    from qualityfm.io.atomic import STALE_TEMPORARY_S
    from qualityfm.tasks import TaskDataset
    from qualityfm.tasks.datasets import _CACHE_FILE

    stale = tmp_path / ".vt-alarm-0123456789abcdef.npz.ab12cd34.tmp"
    fresh = tmp_path / ".af-0123456789abcdef.npz.ef56gh78.tmp"
    users = tmp_path / ".notes.v2.tmp"
    odd = tmp_path / ".abp-0123456789abcdef.npz.zz99yy88.tmp"  # a folder of that name
    for f in (stale, fresh, users):
        f.write_bytes(b"x" * 100)
    odd.mkdir()
    for f in (stale, users, odd):
        os.utime(f, (time.time() - 7200,) * 2)
    ds = TaskDataset("vt-alarm", np.zeros((2, 2, 10), np.float32), np.ones((2, 2), bool),
                     np.array([0, 1]), np.array(["a", "b"]), np.array(["a", "b"]),
                     np.zeros((2, 0), np.float32), [])
    ds.save(tmp_path / "mine.npz")  # a save to a user's folder cleans nothing up
    assert stale.exists() and users.exists()
    assert remove_temporaries(tmp_path, older_than_s=STALE_TEMPORARY_S, of=_CACHE_FILE) == 1
    assert not stale.exists() and fresh.exists() and users.exists() and odd.is_dir()


def test_a_write_through_a_link_replaces_the_file_it_points_to(tmp_path) -> None:
    """The link had been replaced by a plain file, the file it points to keeping the old
    table (read through another link, stale results)."""
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "scores.csv"
    target.write_text("old")
    link = tmp_path / "scores.csv"
    link.symlink_to(os.path.join("real", "scores.csv"))
    assert atomic_write(link, lambda f: f.write(b"new")) == link
    assert link.is_symlink() and target.read_text() == "new"
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == ["scores.csv"]


def test_links_that_lead_nowhere_writable_are_refused_and_temporaries_found(tmp_path) -> None:
    """A loop of links had been replaced by a plain file, a link into a missing folder had
    made that folder; the temporaries of a write through a link lie beside its target, where
    remove_file_temporaries looks (write_table had looked beside the link)."""
    from qualityfm.io.atomic import remove_file_temporaries

    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OSError, match=r"cannot write .*a: its links loop"):
        atomic_write(tmp_path / "a", lambda f: f.write(b"x"))
    assert (tmp_path / "a").is_symlink()
    (tmp_path / "c").symlink_to(os.path.join("nowhere", "x.csv"))
    with pytest.raises(FileNotFoundError, match=r"links to .*nowhere.x\.csv, in a folder that "
                                                r"does not exist"):
        atomic_write(tmp_path / "c", lambda f: f.write(b"x"))
    assert not (tmp_path / "nowhere").exists()
    (tmp_path / "real").mkdir()
    (tmp_path / "t.csv").symlink_to(os.path.join("real", "t.csv"))
    killed = tmp_path / "real" / ".t.csv.k1ll3d.tmp"
    killed.write_bytes(b"half")  # a killed write's, an hour old
    os.utime(killed, (time.time() - 3601, time.time() - 3601))
    (tmp_path / "real" / ".t.csv.l1v3ly.tmp").write_bytes(b"half")  # another run's, writing
    assert remove_file_temporaries(tmp_path / "t.csv") == 1
    assert [p.name for p in (tmp_path / "real").iterdir()] == [".t.csv.l1v3ly.tmp"]


def test_two_runs_writing_one_output_both_finish(tmp_path) -> None:
    """A second score run writing the same --out had removed the first one's temporary
    before its rename: that run failed ("cannot write ...: No such file or directory"), its
    work lost. A write's clean-up leaves a temporary another writer may still rename."""
    from qualityfm.inference.score import write_table

    out = tmp_path / "same.csv"
    real, calls = os.replace, []

    def second_run_between(src, dst):  # the other run writes just before this rename
        calls.append(dst)
        if len(calls) == 1:
            write_table([{"record": "b"}], ["record"], out)
        return real(src, dst)

    os.replace = second_run_between
    try:
        write_table([{"record": "a"}], ["record"], out)
    finally:
        os.replace = real
    assert len(calls) == 2 and out.read_text().splitlines() == ["record", "a"]


def test_a_full_disk_under_torch_save_is_named_as_such(tmp_path) -> None:
    """torch.save wraps the OSError of a full disk in its own RuntimeError ("[enforce fail at
    inline_container.cc] unexpected pos"): a checkpoint's write had ended pretrain in that
    traceback, the "No space left on device" only partway up it."""
    import errno

    import torch

    class Full:  # a file that takes 100 kB, then is out of space
        def __init__(self, f) -> None:
            self.f, self.n = f, 0

        def write(self, b) -> int:
            self.n += len(b)
            if self.n > 100_000:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.f.write(b)

        def flush(self) -> None:
            self.f.flush()

    with pytest.raises(OSError, match=r"\[Errno 28\] cannot write .*last\.pt: No space left"):
        atomic_write(tmp_path / "last.pt", lambda f: torch.save(torch.zeros(100_000), Full(f)))
    assert not list(tmp_path.iterdir())


def test_files_written_together_are_refused_together_where_one_is_a_folder(tmp_path) -> None:
    """A report's plot named like a folder had failed at its rename, after the JSON and
    markdown beside it had been replaced: a half-made report."""
    (tmp_path / "r.json").write_text("old")
    (tmp_path / "r_roc.png").mkdir()
    with pytest.raises(IsADirectoryError, match=r"cannot write .*r_roc\.png: it is a folder"):
        atomic_write_all({tmp_path / "r.json": lambda f: f.write(b"new"),
                          tmp_path / "r_roc.png": lambda f: f.write(b"png")})
    assert (tmp_path / "r.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r_roc.png"]


def test_a_link_to_a_folder_among_files_written_together_is_refused_first(tmp_path) -> None:
    """A link to a folder had passed the check: the matrix was replaced, then the index's
    rename failed, leaving the new matrix beside the old index."""
    import os

    (tmp_path / "emb.npy").write_bytes(b"OLD")
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "emb.index.csv")
    with pytest.raises(IsADirectoryError, match=r"emb\.index\.csv: it is a folder \(it links "
                                                 r"to .*elsewhere\)"):
        atomic_write_all({tmp_path / "emb.npy": lambda f: f.write(b"NEW"),
                          tmp_path / "emb.index.csv": lambda f: f.write(b"idx")})
    assert (tmp_path / "emb.npy").read_bytes() == b"OLD"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "emb.index.csv",
                                                          "emb.npy"]


def test_an_output_name_with_no_room_for_its_temporary_is_refused_before_the_work(
        tmp_path) -> None:
    """A name of 245 bytes (one the file system takes) had been scored whole, then refused at
    the write, its temporary's name 14 bytes too long; evaluate's plot names beside its JSON
    likewise (a raw OSError)."""
    from qualityfm.inference.score import check_output

    fits, long = "a" * 237 + ".csv", "a" * 241 + ".csv"
    assert check_output(tmp_path / fits, what="score") == tmp_path / fits
    with pytest.raises(ValueError, match=r"score output .*a\.csv: a name of 245 bytes; its "
                                         r"folder takes names of 255 at most"):
        check_output(tmp_path / "new" / long, what="score")  # a folder yet to be made
    with pytest.raises(ValueError, match=r"_confusion\.png: a name of 244 bytes"):
        check_output(tmp_path / ("a" * 230 + ".json"), (".json",), what="evaluate",
                     beside=["a" * 230 + "_confusion.png"])
