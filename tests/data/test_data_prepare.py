"""prepare: skipped records, determinism over workers, resume after interruption, real records."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from helpers import shared_path
from qualityfm.data import Store, prepare, stable_part
from qualityfm.data.prepare import JOURNAL, expand_inputs


def files_digest(folder: Path) -> dict[str, str]:
    """Every file of a store folder (recursively) and a hash of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_bad_records_are_skipped_and_the_rest_written(synth_dir, small_window, tmp_path):
    summary = prepare(synth_dir, tmp_path / "s", window=small_window, progress=False)
    reasons = {Path(s["record"]).name: s["reason"] for s in summary["skipped"]}
    assert set(reasons) == {"broken.npz", "short.npz"}
    assert "broken.npz" in reasons["broken.npz"] and "corrupt" in reasons["broken.npz"]
    assert "shorter than one window" in reasons["short.npz"]
    assert summary["n_records"] == 5 and summary["n_windows"] == 50
    assert summary["n_pairs"] > 0 and sum(summary["levels"].values()) == 50
    # a record too short for a window is skipped, not counted as a rejected window too
    assert summary["n_rejected_windows"] == 0
    assert not (tmp_path / "s" / JOURNAL).exists()
    assert sorted(p.name for p in (tmp_path / "s").glob("pairs*")) == ["pairs.npy"]
    # a record whose path passes the index's width is skipped and named; the run goes on
    deep = synth_dir / ("d" * 120) / ("e" * 120)
    deep.mkdir(parents=True)
    (synth_dir / "rec0.npz").rename(deep / "rec0.npz")
    summary = prepare(synth_dir, tmp_path / "t", window=small_window, progress=False)
    reasons = {Path(s["record"]).name: s["reason"] for s in summary["skipped"]}
    assert reasons["rec0.npz"].startswith("path longer than 256 characters")
    assert summary["n_records"] == 4
    # and one whose id passes the index's 64 characters (cut, two had become one record)
    long = "icu_site_A_bed_12_patient_" + "x" * 40
    (synth_dir / "rec1.npz").rename(synth_dir / f"{long}_visit1.npz")
    (synth_dir / "rec2.npz").rename(synth_dir / f"{long}_visit2.npz")
    summary = prepare(synth_dir, tmp_path / "u", window=small_window, progress=False)
    reasons = {Path(s["record"]).name: s["reason"] for s in summary["skipped"]}
    assert reasons[f"{long}_visit1.npz"].startswith("record id 'icu_site_A_bed_12_patient_")
    assert "longer than 64 characters" in reasons[f"{long}_visit2.npz"]
    assert summary["n_records"] == 2


def test_workers_give_the_same_store(synth_dir, small_window, tmp_path):
    prepare(synth_dir, tmp_path / "w1", window=small_window, shard_size=8, progress=False)
    prepare(synth_dir, tmp_path / "w2", window=small_window, shard_size=8, workers=2,
            progress=False)
    d1, d2 = files_digest(tmp_path / "w1"), files_digest(tmp_path / "w2")
    # 50 windows in 7 shards (x, index), pairs.npy, meta.json, and .lock (held while written)
    assert len(d1) == 2 * 7 + 3
    assert d1 == d2


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("stop_after", [1, 4])
def test_resume_after_interruption_equals_uninterrupted(synth_dir, small_window, tmp_path,
                                                        stop_after):
    kw = dict(window=small_window, shard_size=7, progress=False)
    prepare(synth_dir, tmp_path / "full", **kw)
    calls = []

    def crash(state):
        calls.append(state)
        if len(calls) == stop_after:
            raise Interrupt

    out = tmp_path / "resumed"
    with pytest.raises(Interrupt):
        prepare(synth_dir, out, on_shard=crash, **kw)
    assert (out / JOURNAL).exists() and not (out / "meta.json").exists()
    with pytest.raises(FileNotFoundError):
        Store(out)  # an unfinished store is not a store
    # Leftovers of a crash after the journal point: a stray temp file and a newer shard.
    (out / ".shard-000099.x.npy.abc.tmp").write_bytes(b"partial")
    (out / "shard-000099.x.npy").write_bytes(b"stale")
    # a user's files of names like the store's: kept, and no bar to the resume (the first had
    # failed it naming no file, the second been removed)
    users = [out / "shard-000000 (copy).x.npy", out / "shard-000009-backup.x.npy"]
    for f in users:
        f.write_bytes(b"mine")
    journal = json.loads((out / JOURNAL).read_text())
    assert journal["records_done"] < 7
    assert journal["n_written"] % 7 == 0 and journal["n_written"] >= 7 * stop_after
    resumed_calls = []
    summary = prepare(synth_dir, out, on_shard=resumed_calls.append, **kw)
    assert resumed_calls[0]["n_written"] > journal["n_written"]  # it did not start over
    for f in users:
        assert f.read_bytes() == b"mine"
        f.unlink()
    assert files_digest(out) == files_digest(tmp_path / "full")
    assert summary["n_windows"] == 50


def test_existing_store_is_kept_or_refused(synth_dir, small_window, tmp_path):
    out = tmp_path / "s"
    first = prepare(synth_dir, out, window=small_window, progress=False)
    before = files_digest(out)
    again = prepare(synth_dir, out, window=small_window, progress=False)
    assert again["n_windows"] == first["n_windows"] and files_digest(out) == before
    other = type(small_window)(fs=100.0, seconds=20.0, normalization="joint")
    with pytest.raises(ValueError, match="other settings"):
        prepare(synth_dir, out, window=other, progress=False)
    prepare(synth_dir, out, window=other, overwrite=True, progress=False)
    assert Store(out).meta["normalization"] == "joint"


def test_shards_partition_the_records(synth_dir):
    keys = [k for k, _ in expand_inputs([synth_dir])]
    assert keys == sorted(keys) and keys[0].startswith("corpus/")
    parts = [stable_part(k, 3) for k in keys]
    assert parts == [stable_part(k, 3) for k in keys] and set(parts) <= {0, 1, 2}
    # Known value: the part must not depend on the process (no Python hash()).
    assert stable_part("corpus/rec0.npz", 1000) == int(
        hashlib.sha1(b"corpus/rec0.npz").hexdigest()[:16], 16) % 1000


def test_bad_arguments(synth_dir, tmp_path):
    with pytest.raises(ValueError, match="shard"):
        prepare(synth_dir, tmp_path / "x", shard=(2, 2), progress=False)
    with pytest.raises(ValueError, match="workers"):
        prepare(synth_dir, tmp_path / "x", workers=0, progress=False)
    # no whole numbers: refused before anything is written ((0.0, 2.0) had written a part no
    # read finds; 16.5 and 2.5 had failed after the folder was made)
    for kw, said in (({"shard": (0.0, 2.0)}, "shard must be K/N, whole numbers"),
                     ({"shard_size": 16.5}, "shard_size must be a whole number >= 1"),
                     ({"workers": 2.5}, "workers must be a whole number >= 1")):
        with pytest.raises(ValueError, match=said):
            prepare(synth_dir, tmp_path / "y", progress=False, **kw)
        assert not (tmp_path / "y").exists()
    # NumPy integers are whole numbers (np.int64 had failed in the part's hash and the JSON)
    done = prepare(synth_dir, tmp_path / "z", shard=(np.int64(0), np.int64(1)),
                   shard_size=np.int64(16), progress=False)
    assert done["n_windows"] > 0


def test_segments_named_beside_their_record_are_read_within_it_alone(tmp_path) -> None:
    """A multi-segment record's files given one by one (``041s/*``) had read each segment
    twice, the second time on its own under another patient (its windows on both sides of a
    split); a segment named without its record is still read."""
    from qualityfm.inference.windows import iter_file_windows
    from qualityfm.io import write_wfdb
    from qualityfm.signal import WindowConfig, synthesize

    folder = tmp_path / "m"
    folder.mkdir()
    for k in (1, 2):
        write_wfdb(synthesize(40.0, 125.0, seed=k, channels=("ecg_ii", "ppg"),
                              record_id=f"m_000{k}"), folder)
    (folder / "m.hea").write_text("m/2 2 125 10000\nm_0001 5000\nm_0002 5000\n")
    files = sorted(str(f) for f in folder.iterdir())
    assert [path.name for _, path in expand_inputs(files)] == ["m.hea"]
    assert [p.name for _, p in expand_inputs([folder, folder / "m_0001.hea"])] == ["m.hea"]
    assert [p.name for _, p in expand_inputs([folder / "m_0002.hea"])] == ["m_0002.hea"]
    read = [item.record_id for item in iter_file_windows(
        files, WindowConfig(seconds=10.0))]
    assert read == ["m"]
    from qualityfm.tasks.datasets import build_task_dataset  # the task verbs' --data too

    rows = build_task_dataset("af", files, labels=False).record_ids.tolist()
    assert rows == build_task_dataset("af", folder, labels=False).record_ids.tolist()
    assert rows and {r.split("@")[0] for r in rows} == {"m"}


def test_an_input_given_twice_is_one_input_at_a_re_run(synth_dir, tmp_path):
    """in/x in/x/ had been recorded as two inputs: a re-run as in/x read as other inputs
    (its changed records unsaid)."""
    out = tmp_path / "s"
    prepare([synth_dir, f"{synth_dir}/"], out, progress=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prepare([synth_dir], out, progress=False)
    assert not [w for w in caught if "was made from" in str(w.message)]


def test_bad_settings_and_inputs_without_records_leave_a_store_alone(synth_dir, small_window,
                                                                      tmp_path):
    out = tmp_path / "s"
    prepare(synth_dir, out, window=small_window, progress=False)
    before = files_digest(out)
    kw = dict(window=small_window, overwrite=True, progress=False)
    with pytest.raises(ValueError, match="shard_size must be a whole number >= 1, got 0"):
        prepare(synth_dir, out, shard_size=0, **kw)
    with pytest.raises(ValueError, match="'float32'"):
        prepare(synth_dir, out, dtype="float32", **kw)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no record here")
    with pytest.raises(ValueError, match=f"{empty}: no readable record found"):
        prepare([empty], out, **kw)
    assert files_digest(out) == before
    # A part of a corpus may hold no record when the others hold them all.
    keys = [k for k, _ in expand_inputs([synth_dir])]
    k = next(k for k in range(50) if all(stable_part(key, 50) != k for key in keys))
    part = prepare(synth_dir, tmp_path / "parts", shard=(k, 50), window=small_window,
                   progress=False)
    assert part["n_records"] == part["n_windows"] == 0 and part["skipped"] == []


def test_prepare_real_vt_records(tmp_path):
    vt = shared_path("physionet2015_vt")
    names = ["v100s", "v101l", "v102s", "v111l"]
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "v999s.hea").write_text("v999s 2 250 75000\nv999s.mat 16+24 200/mV 16 0 0 0 0 II\n"
                                   "v999s.mat 16+24 100/NU 16 0 0 0 0 PLETH\n")
    inputs = [vt / f"{n}.hea" for n in names] + [bad]
    summary = prepare(inputs, tmp_path / "vt", workers=2, progress=False)
    assert [Path(s["record"]).name for s in summary["skipped"]] == ["v999s.hea"]
    assert "missing" in summary["skipped"][0]["reason"]
    store = Store(tmp_path / "vt")
    assert store.n_records == 4 and sorted(set(store.index["record_id"])) == names
    per_record = {n: int((store.index["record_id"] == n).sum()) for n in names}
    assert all(1 <= v <= 11 for v in per_record.values())  # 300 or 330 s of 30-s windows
    assert store.n_samples == 9000 and store.channels == ("ppg", "ecg_ii")
    x = store.windows(np.arange(store.n_windows))
    assert x.shape == (store.n_windows, 2, 9000)
    assert np.abs(x).max() <= 1.0 and np.isfinite(x).all()
    assert np.all(np.abs(x[~store.masks]) == 0)


def test_a_part_must_match_its_complete_siblings(synth_dir, small_window, tmp_path):
    split = tmp_path / "split"
    prepare(synth_dir, split, shard=(1, 2), window=small_window, progress=False)
    before = files_digest(split)
    joint = type(small_window)(fs=100.0, seconds=20.0, normalization="joint")
    with pytest.raises(ValueError, match=r"part-1-of-2: made with other settings "
                                         r"\(--normalization joint here, channel there\)"):
        prepare(synth_dir, split, shard=(0, 2), window=joint, progress=False)
    with pytest.raises(ValueError, match=r"part-1-of-2: a part of 2.*--shard 0/3"):
        prepare(synth_dir, split, shard=(0, 3), window=small_window, progress=False)
    with pytest.raises(ValueError, match="holds part folders"):
        prepare(synth_dir, split, window=small_window, overwrite=True, progress=False)
    assert files_digest(split) == before  # nothing written or removed
    whole = tmp_path / "whole"
    prepare(synth_dir, whole, window=small_window, progress=False)
    with pytest.raises(ValueError, match=r"holds a store made without --shard"):
        prepare(synth_dir, whole, shard=(0, 2), window=small_window, progress=False)


def test_a_folder_of_symlinks_to_records_elsewhere(tmp_path):
    vt = shared_path("physionet2015_vt")
    links = tmp_path / "lnk"
    links.mkdir()
    for suffix in ("hea", "mat"):
        (links / f"v100s.{suffix}").symlink_to(vt / f"v100s.{suffix}")
    assert [k for k, _ in expand_inputs([links])] == ["lnk/v100s.hea"]
    # The same file given twice (through the link and directly) is one record.
    assert [k for k, _ in expand_inputs([links, vt / "v100s.hea"])] == ["lnk/v100s.hea"]
    summary = prepare(links, tmp_path / "s", progress=False)
    assert summary["n_records"] == 1 and summary["skipped"] == []
    assert set(Store(tmp_path / "s").index["record_id"]) == {"v100s"}


def test_a_record_missing_a_model_channel_reads_only_what_the_windows_use(tmp_path) -> None:
    """A PPG-only file with a non-signal entry (a patient's age, a notes column) is read on
    its PPG and ECG leads only: the extra entry does not make it unreadable."""
    from qualityfm.data.prepare import read_model_channels
    from qualityfm.io import MissingChannelError, read_record
    from qualityfm.signal import synthesize

    rec = synthesize(40.0, 125.0, seed=0, channels=("ecg_ii", "ppg"))
    ppg, lead_i = rec.signals["ppg"], rec.signals["ecg_ii"]
    np.savez(tmp_path / "a.npz", fs=125.0, PLETH=ppg, age=np.array([[63]]))
    np.savez(tmp_path / "b.npz", fs=125.0, PLETH=ppg, I=lead_i, age=np.array([[63]]))
    with pytest.raises(MissingChannelError) as err:
        read_record(tmp_path / "a.npz", channels=["ppg", "ecg_ii"])
    assert err.value.available == ["ppg", "age"]
    assert read_model_channels(str(tmp_path / "a.npz"), ("ppg", "ecg_ii")).channels == ["ppg"]
    assert read_model_channels(str(tmp_path / "b.npz"), ("ppg", "ecg_ii")).channels == [
        "ppg", "ecg_i"]  # lead I kept, for the ECG fallback
    with pytest.raises(Exception, match="age"):  # reading every channel fails on the entry
        read_record(tmp_path / "a.npz")


_POOL_HOLDER = """
import sys, time
from qualityfm.data.prepare import worker_pool

with worker_pool(2) as pool:
    pids = [pool.submit(__import__("os").getpid).result() for _ in range(8)]
    futures = [pool.submit(time.sleep, 3) for _ in range(4)]
    time.sleep(1)  # both workers busy in a task when the signal comes
    print(" ".join(map(str, sorted(set(pids)))), flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_pool_workers_end_with_their_parent(sig: str) -> None:
    """Workers of a pool (prepare, a store's features) had outlived a parent ended by SIGTERM
    or SIGKILL, waiting for tasks forever; SIGTERM now ends the parent with status 143."""
    import os
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-c", _POOL_HOLDER], stdout=subprocess.PIPE,
                            text=True)
    workers = [int(p) for p in proc.stdout.readline().split()]
    assert workers
    proc.send_signal(getattr(signal, sig))
    assert proc.wait(timeout=30) == (143 if sig == "SIGTERM" else -signal.SIGKILL)

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        # a zombie of an exited worker, not yet reaped by init, counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"

    deadline = time.monotonic() + 20
    while any(alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(p) for p in workers)


_BUSY_POOL = """
import numpy as np
from qualityfm.data.prepare import worker_pool

with worker_pool(2) as pool:
    print("started", flush=True)
    while True:  # results of many pipe buffers each, as a record's windows are
        for r in pool.map(np.ones, [4_000_000] * 4):
            pass
"""


def test_a_signal_to_the_whole_group_ends_a_busy_pool() -> None:
    """A scheduler (or Ctrl-C) signals every process of the job. A worker killed while it
    wrote a large result had left the parent waiting in the pool's shutdown for ever; the
    workers now leave SIGTERM and SIGINT to the parent, which ends after the pool."""
    import os
    import signal
    import subprocess
    import sys
    import time

    for k, sig in enumerate([signal.SIGTERM, signal.SIGINT] * 3):
        proc = subprocess.Popen([sys.executable, "-c", _BUSY_POOL], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, start_new_session=True)
        assert proc.stdout.readline().strip() == "started"
        time.sleep(0.5 + 0.3 * k)
        os.killpg(proc.pid, sig)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        # SIGTERM: our handler's 143; SIGINT: Python's own end by the signal (the CLI: 130)
        assert code == (143 if sig == signal.SIGTERM else -signal.SIGINT), (k, code)


def test_an_input_folder_without_records_beside_others_is_named(tmp_path) -> None:
    """Given alone, a folder without records is an error; beside folders that hold some, it
    had been passed over without a word: it is listed under passed_over (and named on
    stderr by the command), as the files of a folder that are no record are."""
    import shutil

    recs, empty = tmp_path / "recs", tmp_path / "empty"
    recs.mkdir()
    empty.mkdir()
    for ext in (".hea", ".mat"):
        shutil.copy(shared_path("physionet2015_vt", f"v100s{ext}"), recs)
    summary = prepare([recs, empty], tmp_path / "store", workers=1, progress=False)
    assert summary["n_records"] == 1
    assert [e["record"] for e in summary["passed_over"]] == [str(empty)]
    assert "no" in summary["passed_over"][0]["reason"]
    with pytest.raises(ValueError, match=rf"{empty}: "):
        prepare([empty], tmp_path / "alone", workers=1, progress=False)


def test_a_part_folder_holding_another_part_is_refused(synth_dir, tmp_path, small_window) -> None:
    """part-1-of-2 replaced by a copy of part-0-of-2 had been read as a store with part 0's
    records twice and part 1's missing; the part a folder holds (its meta.json) must be the
    one its name says."""
    import shutil

    split = tmp_path / "split"
    for k in (0, 1):
        prepare(synth_dir, split, shard=(k, 2), window=small_window, progress=False)
    assert Store(split).n_windows > 0
    shutil.rmtree(split / "part-1-of-2")
    shutil.copytree(split / "part-0-of-2", split / "part-1-of-2")
    with pytest.raises(ValueError, match=r"part-1-of-2: holds part 0/2 of a store, not the part "
                                         r"its name says"):
        Store(split)
    # a whole store made in a part's folder: its windows had been read twice beside part 1,
    # and part 1's prepare had taken it for its sibling
    whole = tmp_path / "whole"
    prepare(synth_dir, whole / "part-0-of-2", window=small_window, progress=False)
    with pytest.raises(ValueError, match=r"part-0-of-2: made with no --shard \(a whole store in "
                                         r"a part's folder\)"):
        prepare(synth_dir, whole, shard=(1, 2), window=small_window, progress=False)
    unfinished = tmp_path / "unfinished"  # one stopped part way: its journal says so too

    class Stop(Exception):
        pass

    def stop(*_: object) -> None:
        raise Stop

    with pytest.raises(Stop):
        prepare(synth_dir, unfinished / "part-0-of-2", window=small_window, progress=False,
                shard_size=8, on_shard=stop)
    with pytest.raises(ValueError, match=r"part-0-of-2: made with no --shard"):
        prepare(synth_dir, unfinished, shard=(1, 2), window=small_window, progress=False)
    shutil.copytree(split / "part-0-of-2", whole / "part-1-of-2")
    with pytest.raises(ValueError, match=r"part-0-of-2: holds a whole store \(prepared without "
                                         r"--shard\), not the part its name says"):
        Store(whole)


def test_a_resume_refuses_other_inputs_and_changed_records(synth_dir, small_window, tmp_path,
                                                           record_writer):
    """A journal is finished only from the inputs and files it read: another folder of the
    same name (its records of the same names) had been spliced into the store, as had a
    record rewritten between the interruption and the resume."""
    import shutil

    kw = dict(window=small_window, shard_size=7, progress=False)
    calls = []

    def crash(state):
        calls.append(state)
        if len(calls) == 2:
            raise Interrupt

    out = tmp_path / "s"
    with pytest.raises(Interrupt):
        prepare(synth_dir, out, on_shard=crash, **kw)
    assert json.loads((out / JOURNAL).read_text())["records_done"] >= 1
    other = tmp_path / "elsewhere" / "corpus"
    shutil.copytree(synth_dir, other)
    with pytest.raises(ValueError, match="journal of an interrupted run of other inputs"):
        prepare(other, out, **kw)
    for i in range(5):  # new versions of the records, same names
        record_writer(synth_dir / f"rec{i}.npz", seed=10 + i, seconds=180.0)
    (synth_dir / "broken.npz").write_bytes(b"PK\x03\x04 another broken file, longer")
    with pytest.raises(ValueError, match="has changed since the interrupted run read it"):
        prepare(synth_dir, out, **kw)
    assert prepare(synth_dir, out, overwrite=True, **kw)["n_windows"] == 45
    with pytest.warns(RuntimeWarning, match="the store there was made from .*returned as it"):
        prepare(other, out, **kw)


def test_a_second_prepare_on_a_folder_being_written_is_refused(synth_dir, small_window,
                                                               tmp_path) -> None:
    """Two runs on one folder had each removed and rewritten the other's pair chunks (a
    store of 285 pairs of 659, both exiting 0)."""
    pytest.importorskip("fcntl", reason="folder locks need fcntl (POSIX)")
    from qualityfm.io.folders import folder_lock

    out = tmp_path / "s"
    out.mkdir()
    with folder_lock(out, "prepare"), pytest.raises(ValueError, match="another prepare"):
        prepare(synth_dir, out, window=small_window, progress=False)
    assert prepare(synth_dir, out, window=small_window, progress=False)["n_windows"] == 50


def test_a_resume_checks_the_signal_files_of_the_records_it_read(small_window,
                                                                 tmp_path) -> None:
    """The stamps cover the files a WFDB header names (a .dat rewritten under the same header
    had been resumed), and a record first read by a resumed run is judged by the version it
    read, at the next resume too (one edited before it had been refused for good)."""
    from qualityfm.io import write_wfdb
    from qualityfm.signal import synthesize

    data = tmp_path / "wfdb"
    for i in range(6):
        write_wfdb(synthesize(200.0, 125.0, seed=i, record_id=f"rec{i}",
                              channels=("ecg_ii", "ppg")), data)
    kw = dict(window=small_window, shard_size=7, progress=False)
    out = tmp_path / "s"

    def stop_at(n):
        calls = []

        def crash(state):
            calls.append(state)
            if len(calls) == n:
                raise Interrupt
        return crash

    def rewrite(i, seed):  # the record's samples, its header as it was
        write_wfdb(synthesize(200.0, 125.0, seed=seed, record_id=f"rec{i}",
                              channels=("ecg_ii", "ppg")), tmp_path / f"new{seed}")
        (tmp_path / f"new{seed}" / f"rec{i}.dat").replace(data / f"rec{i}.dat")

    with pytest.raises(Interrupt):
        prepare(data, out, on_shard=stop_at(2), **kw)
    assert "stamps" not in json.loads((out / JOURNAL).read_text())  # written once, apart
    assert 1 <= json.loads((out / JOURNAL).read_text())["records_done"] < 3
    rewrite(3, seed=9)  # not read yet: the resume reads this version
    with pytest.raises(Interrupt):
        prepare(data, out, on_shard=stop_at(4), **kw)
    assert json.loads((out / JOURNAL).read_text())["records_done"] >= 4
    assert prepare(data, out, **kw)["n_windows"] == 60  # rec3 as the second run read it
    with pytest.raises(Interrupt):
        prepare(data, tmp_path / "t", on_shard=stop_at(2), **kw)
    rewrite(0, seed=8)  # read before the stop: refused
    with pytest.raises(ValueError, match=r"rec0\.hea has changed since the interrupted run"):
        prepare(data, tmp_path / "t", **kw)
    with pytest.raises(Interrupt):
        prepare(data, tmp_path / "u", on_shard=stop_at(2), **kw)
    journal = json.loads((tmp_path / "u" / JOURNAL).read_text())
    assert journal["n_written"] > journal["windows_done"]  # rec1's first windows on disk
    rewrite(journal["records_done"], seed=7)  # that record: refused too (it had been spliced)
    with pytest.raises(ValueError, match=r"has changed since the interrupted run"):
        prepare(data, tmp_path / "u", **kw)
    # a complete store is returned without a lock (a store others made, a read-only mount)
    import importlib

    P = importlib.import_module("qualityfm.data.prepare")  # the module, not the function

    def no_lock(*args, **kwargs):
        raise AssertionError("locked")

    done = prepare(data, tmp_path / "v", **kw)
    P_lock, P.folder_lock = P.folder_lock, no_lock
    import os

    access = os.access  # a read-only mount (its writable check had refused the store)
    os.access = lambda path, mode, *a, **k: not mode & os.W_OK and access(path, mode, *a, **k)
    try:
        assert prepare(data, tmp_path / "v", **kw)["n_windows"] == done["n_windows"]
        with pytest.raises(ValueError, match=r"cannot write in"):  # a store to write: said
            prepare(data, tmp_path / "v", overwrite=True, **kw)
    finally:
        P.folder_lock, os.access = P_lock, access
    # a complete store made from a record since changed: named, not returned without a word
    rewrite(2, seed=6)
    with pytest.warns(RuntimeWarning, match=r"rec2\.hea has changed since the store there was "
                      r"made from it .*1 record\(s\) in all\): it is returned as it is; "
                      r"--overwrite"):
        assert prepare(data, tmp_path / "v", **kw)["n_windows"] == 60
    assert prepare(data, tmp_path / "v", overwrite=True, **kw)["n_windows"] == 60
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # this version: returned, nothing said
        assert prepare(data, tmp_path / "v", **kw)["n_windows"] == 60

    meta = json.loads((tmp_path / "v" / "meta.json").read_text())
    assert sorted(meta["stamps"]) == [f"wfdb/rec{i}.hea" for i in range(6)]
    assert all(len(v) == 16 for v in meta["stamps"].values())
    from qualityfm.data.prepare import record_stamp  # a store keeping whole stamps: read alike

    meta["stamps"] = {f"wfdb/rec{i}.hea": record_stamp(data / f"rec{i}.hea") for i in range(6)}
    (tmp_path / "v" / "meta.json").write_text(json.dumps(meta))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert prepare(data, tmp_path / "v", **kw)["n_windows"] == 60


def test_a_file_made_readable_changes_its_records_stamp(tmp_path, monkeypatch) -> None:
    """A record skipped for a signal file it could not open (Permission denied) had kept its
    stamp once the file was made readable: a complete store was returned without a word."""
    import importlib
    import os

    P = importlib.import_module("qualityfm.data.prepare")
    (tmp_path / "r.hea").write_text("r 1 100 2\nr.dat 16 200 16 0 0 0 0 II\n")
    (tmp_path / "r.dat").write_bytes(b"\x01\x00\x02\x00")
    readable = P.record_stamp(tmp_path / "r.hea")
    assert [len(entry) for entry in readable] == [3, 3]  # as stores kept them: digests agree
    real = os.access
    monkeypatch.setattr(P.os, "access", lambda f, mode: real(f, mode)
                        and not str(f).endswith("r.dat"))
    assert P.record_stamp(tmp_path / "r.hea") == [readable[0], [*readable[1], "unreadable"]]


_DYING_WORKER = """
import os, sys
import importlib
P = importlib.import_module("qualityfm.data.prepare")
from qualityfm.signal import WindowConfig

real = P.process_record

def dies_on_rec2(path, *args):
    if path.endswith("rec2.npz"):
        os._exit(1)  # as a worker killed for memory
    return real(path, *args)

P.process_record = dies_on_rec2  # the forked workers inherit it
try:
    P.prepare(sys.argv[1], sys.argv[2], workers=2, progress=False,
              window=WindowConfig(fs=100.0, seconds=20.0))
except ChildProcessError as err:
    print(err)
"""


def test_a_worker_that_dies_ends_the_run_with_the_records_in_flight_named(synth_dir,
                                                                          tmp_path) -> None:
    """The pool ends its other workers by SIGTERM, which they ignore: the run had hung for
    ever, deaf to Ctrl-C and SIGTERM."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _DYING_WORKER, str(synth_dir),
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "a worker process died" in proc.stdout and "rec2.npz" in proc.stdout


def test_a_resume_refuses_a_half_stored_record_that_now_reads_otherwise(
        synth_dir, small_window, tmp_path, monkeypatch) -> None:
    """The record whose first windows an interrupted run had stored, giving none (or other
    windows) on resume, had shifted the next record's windows and every later pair id."""
    import importlib

    P = importlib.import_module("qualityfm.data.prepare")  # the module, not the function
    kw = dict(window=small_window, shard_size=7, progress=False)
    out = tmp_path / "out"

    def stop_part_way(state):
        if state["n_written"] > state["windows_done"]:
            raise Interrupt

    with pytest.raises(Interrupt):
        prepare(synth_dir, out, on_shard=stop_part_way, **kw)
    partial = json.loads((out / JOURNAL).read_text())["partial"]
    assert partial["windows"] > 0 and partial["record"].endswith(".npz")
    real = P.process_record

    def unreadable(path, *args):
        res = real(path, *args)
        if path == partial["record"]:
            return P._Result(source=res.source, reason="cannot open (Permission denied)")
        return res

    monkeypatch.setattr(P, "process_record", unreadable)
    with pytest.raises(ValueError, match=r"the interrupted run had stored the first \d+ of "
                                         rf"its {partial['windows']} windows, and it now "
                                         r"gives 0 \(cannot open"):
        prepare(synth_dir, out, **kw)
    monkeypatch.undo()
    prepare(synth_dir, out, **kw)  # read as before: resumed to the whole store
    full = prepare(synth_dir, tmp_path / "full", **kw)
    assert files_digest(out) == files_digest(tmp_path / "full") and full["n_windows"] == 50


def test_prepare_takes_the_ecg_rules_and_records_them(tmp_path):
    """icu0295's clean tachycardia rates bad under the method's 120-bpm rule, so it is the
    student of its pairs; with hr_max 250 it rates by its signal. The rules are part of the
    store's settings: a re-run with others is refused, one with the defaults matches a store
    made before they could be set."""
    from qualityfm.quality import RRRules

    rec = shared_path("physionet2015_icu", "icu0295.hea")
    default = prepare([rec], tmp_path / "a", progress=False)
    wide = prepare([rec], tmp_path / "b", ecg_rules=RRRules(hr_max=250), progress=False)
    ecg_a, ecg_b = (Store(tmp_path / k).index["q"] for k in "ab")
    assert default["n_windows"] == wide["n_windows"] and (ecg_b > ecg_a + 0.2).any()
    meta = json.loads((tmp_path / "b" / "meta.json").read_text())
    assert meta["settings"]["ecg_rules"]["hr_max"] == 250
    assert "ecg_rules" not in json.loads((tmp_path / "a" / "meta.json").read_text())["settings"]
    # said by the flag (it had shown the field beside a dict of six rules)
    with pytest.raises(ValueError, match=r"other settings \(--hr-max 120 here, 250 there\)"):
        prepare([rec], tmp_path / "b", progress=False)
    with pytest.raises(ValueError, match=r"other settings \(--hr-max 150 here, 250 there\)"):
        prepare([rec], tmp_path / "b", ecg_rules=RRRules(hr_max=150), progress=False)
    assert prepare([rec], tmp_path / "a", ecg_rules=RRRules(), progress=False)[
        "n_windows"] == default["n_windows"]


def test_an_overwrite_stopped_while_removing_the_old_store_is_no_finished_store(
        synth_dir, small_window, tmp_path, monkeypatch):
    """--overwrite removes the old store's marks (meta.json, the journal) before its shards:
    a stop part way had left meta.json beside missing shards, returned as finished."""
    import importlib

    prep = importlib.import_module("qualityfm.data.prepare")  # the module, not the function
    out = tmp_path / "s"
    prepare(synth_dir, out, window=small_window, shard_size=4, progress=False)
    reference = files_digest(out)
    unlink, calls = Path.unlink, []

    def stopped(self, *args, **kwargs):  # Ctrl-C after three files are gone
        calls.append(self)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return unlink(self, *args, **kwargs)

    monkeypatch.setattr(Path, "unlink", stopped)
    with pytest.raises(KeyboardInterrupt):
        prep._remove_store(out)
    monkeypatch.undo()
    assert not (out / "meta.json").exists()
    prepare(synth_dir, out, window=small_window, shard_size=4, progress=False)
    assert files_digest(out) == reference and Store(out).n_windows > 0


def test_overwrite_remakes_a_split_store_part_by_part(synth_dir, small_window, tmp_path):
    """Each part was checked against siblings still holding the old settings, so
    `--overwrite` refused every part and a split store could only be removed by hand."""
    from qualityfm.data import Store

    split = tmp_path / "split"
    for k in range(2):
        prepare(synth_dir, split, shard=(k, 2), window=small_window, progress=False)
    joint = type(small_window)(fs=100.0, seconds=20.0, normalization="joint")
    with pytest.warns(RuntimeWarning, match=r"part-1-of-2 made otherwise than this part"):
        prepare(synth_dir, split, shard=(0, 2), window=joint, overwrite=True, progress=False)
    with pytest.raises(ValueError, match="normalization"):
        Store(split)  # half remade: not read as one
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # its sibling now agrees: no warning
        prepare(synth_dir, split, shard=(1, 2), window=joint, overwrite=True, progress=False)
    whole = tmp_path / "whole"
    prepare(synth_dir, whole, window=joint, progress=False)
    assert Store(split).n_windows == Store(whole).n_windows
    assert Store(split).meta["normalization"] == "joint"


def test_an_empty_part_of_older_rules_is_returned_as_it_is(synth_dir, small_window, tmp_path):
    """An empty part holds no score, so it agrees with parts of any rules: its own re-run had
    been refused for its siblings' (newer) rules."""
    from qualityfm.data import Store
    from qualityfm.data.prepare import expand_inputs, stable_part

    keys = [key for key, _ in expand_inputs([synth_dir])]
    n = 12
    k = next(k for k in range(n) if all(stable_part(key, n) != k for key in keys))
    split = tmp_path / "split"
    for part in range(n):
        prepare(synth_dir, split, shard=(part, n), window=small_window, progress=False)
    meta = split / f"part-{k}-of-{n}" / "meta.json"
    held = json.loads(meta.read_text())
    meta.write_text(json.dumps({**held, "scoring_version": held["scoring_version"] - 1}))
    assert Store(split).n_windows > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no score to be of older rules: nothing to say
        assert prepare(synth_dir, split, shard=(k, n), window=small_window,
                       progress=False)["n_windows"] == 0
    other = next(p for p in range(n) if p != k)
    prepare(synth_dir, split, shard=(other, n), window=small_window, progress=False)


def test_running_out_of_memory_on_a_record_stops_the_run_and_a_rerun_reads_it(
        synth_dir, small_window, tmp_path, monkeypatch) -> None:
    """A MemoryError had skipped the record for good from a store that read as complete (a
    re-run returned it); the machine's faults now stop the run, which resumes at the record."""
    import importlib

    P = importlib.import_module("qualityfm.data.prepare")  # (the package's prepare: a function)
    read = P.read_windows

    def short_of_memory(path, cfg):
        if Path(path).name == "rec2.npz":
            raise MemoryError("Unable to allocate 82.4 MiB")
        return read(path, cfg)

    out, kw = tmp_path / "s", dict(window=small_window, shard_size=7, progress=False)
    monkeypatch.setattr(P, "read_windows", short_of_memory)
    with pytest.raises(OSError, match=r"rec2\.npz: MemoryError while reading it \(Unable to "
                                      r"allocate 82\.4 MiB\); the records before it are kept"):
        prepare(synth_dir, out, **kw)
    assert not (out / "meta.json").exists()
    monkeypatch.undo()
    summary = prepare(synth_dir, out, **kw)
    assert summary["n_windows"] == prepare(synth_dir, tmp_path / "whole", **kw)["n_windows"]
    assert not any("rec2" in s["record"] for s in summary["skipped"])


@pytest.mark.parametrize("workers", [1, 2])
def test_an_io_error_inside_a_reader_stops_the_run_too(synth_dir, small_window, tmp_path,
                                                       monkeypatch, workers) -> None:
    """The readers name the file of a fault they meet (a RecordError raised from it): an I/O
    error of the disk under rec2.npz had still skipped it for good; from a worker process
    (the wrapped error's cause lost on the way back) it had been told as a corrupt file."""
    import errno

    load = np.load

    def failing_disk(path, *args, **kwargs):
        if Path(path).name == "rec2.npz":
            raise OSError(errno.EIO, "Input/output error")
        return load(path, *args, **kwargs)

    out = tmp_path / "s"
    kw = dict(window=small_window, shard_size=7, progress=False, workers=workers)
    monkeypatch.setattr(np, "load", failing_disk)
    with pytest.raises(OSError, match=r"rec2\.npz: OSError while reading it .*Input/output "
                                      r"error.*move it out of the inputs"):
        prepare(synth_dir, out, **kw)
    monkeypatch.undo()
    assert not any("rec2" in s["record"] for s in prepare(synth_dir, out, **kw)["skipped"])


def test_a_users_files_named_like_pair_chunks_are_neither_merged_nor_removed(
        synth_dir, small_window, tmp_path) -> None:
    """"pairs-000000 (copy).npy" in the output folder had been merged into the store's pairs
    (a pair more) and removed; "shard-000009-backup.x.npy" removed by --overwrite."""
    kw = dict(window=small_window, shard_size=7, progress=False)
    want = prepare(synth_dir, tmp_path / "plain", **kw)["n_pairs"]
    out = tmp_path / "s"
    out.mkdir()
    mine = {out / "pairs-000000 (copy).npy": np.array([[0, 1]]),
            out / "shard-000009-backup.x.npy": np.zeros(3)}
    for f, a in mine.items():
        np.save(f, a)
    assert prepare(synth_dir, out, **kw)["n_pairs"] == want
    assert len(Store(out).pairs) == want
    prepare(synth_dir, out, overwrite=True, **kw)
    for f, a in mine.items():
        np.testing.assert_array_equal(np.load(f), a)


def test_run_files_past_a_million_are_the_runs_own(tmp_path) -> None:
    """Chunk 1,000,000 is named pairs-1000000.npy ({:06d}): it had been no chunk of the run,
    left out of the store's pairs (and past --overwrite)."""
    from qualityfm.data.prepare import _run_files

    names = ["pairs-000000.npy", "pairs-999999.npy", "pairs-1000000.npy", "pairs-0000001.npy",
             "shard-1234567.x.npy", "shard-000002.index.npy", "shard-01234567.x.npy"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    assert [(n, f.name) for n, f in _run_files(tmp_path, "pairs")] == [
        (0, "pairs-000000.npy"), (999999, "pairs-999999.npy"), (1000000, "pairs-1000000.npy")]
    assert [n for n, _ in _run_files(tmp_path, "shard")] == [2, 1234567]


def test_no_more_worker_processes_than_records(synth_dir, small_window, tmp_path,
                                               monkeypatch) -> None:
    """--workers 1000 had started 1000 processes for 2 records (33 s against 0.1 s)."""
    import importlib

    prep = importlib.import_module("qualityfm.data.prepare")  # (the package's prepare is
    # the function)

    started: list[int] = []
    pool = prep.worker_pool

    def counted(workers: int):  # noqa: ANN202
        started.append(workers)
        return pool(workers)

    monkeypatch.setattr(prep, "worker_pool", counted)
    n = len(prep.expand_inputs([synth_dir]))
    prepare(synth_dir, tmp_path / "w", window=small_window, workers=1000, progress=False)
    assert started == [n] and 1 < n < 1000


def _write_long_record(folder: Path, kind: str) -> Path:
    """A 40-min record of II and PLETH with gaps across the 600-s spans' margins: one
    segment at 250 Hz (pacing noise blocks, 6/5 resampling) or MIMIC's segments at 125 Hz,
    a ``~`` gap from 595 to 705 s and its second segment's files lost."""
    import wfdb

    from qualityfm.signal.synthetic import synthesize

    fs = 250.0 if kind == "single" else 125.0
    rec = synthesize(2400.0, fs=fs, seed=3, channels=("ecg_ii", "ppg"))
    sig = np.stack([rec.signals["ecg_ii"], rec.signals["ppg"]], 1).astype(np.float64)
    t = np.arange(len(sig)) / fs
    sig[(t >= 450) & (t < 605), 1] = np.nan  # into the second span's first window (5 s)
    sig[(t >= 595) & (t < 700), 0] = np.nan  # past the first span's end, from its last window
    sig[(t >= 1500) & (t < 1530), 1] = 20.0  # a flat PPG
    folder.mkdir()
    kw = dict(units=["mV", "NU"], sig_name=["II", "PLETH"], fmt=["16", "16"],
              adc_gain=[200.0, 1000.0], baseline=[0, 0], write_dir=str(folder))
    if kind == "single":
        wfdb.wrsamp("long", fs=fs, p_signal=sig, **kw)
        return folder / "long.hea"
    cuts = [(0, 595), (705, 2000), (2000, 2400)]  # seconds; ~ between the first two
    for n, (a, b) in enumerate(cuts, 1):
        wfdb.wrsamp(f"long_{n:04d}", fs=fs, p_signal=sig[int(a * fs): int(b * fs)], **kw)
    (folder / "long_layout.hea").write_text("long_layout 2 125 0\n~ 0 200/mV 16 0 0 0 0 II\n"
                                            "~ 0 1000/NU 16 0 0 0 0 PLETH\n")
    (folder / "long_0002.dat").write_bytes(b"\0" * 10)  # lost: a gap, said
    (folder / "long.hea").write_text(
        f"long/5 2 125 {int(2400 * fs)}\nlong_layout 0\nlong_0001 {int(595 * fs)}\n"
        f"~ {int(110 * fs)}\nlong_0002 {int(1295 * fs)}\nlong_0003 {int(400 * fs)}\n")
    return folder / "long.hea"


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_a_long_record_is_read_span_by_span_with_the_windows_of_the_whole(
        tmp_path, monkeypatch, kind) -> None:
    """A record was read whole before windowing (a 24-h MIMIC record: 0.8 GB a worker); one
    longer than SPAN_SECONDS is read a span at a time, and its windows scored SCORE_BLOCK at a
    time, with the windows, scores and pairs of the whole record (gaps across a span's margin
    filled as in the whole record)."""
    import importlib

    from qualityfm.data.pairs import PairConfig
    from qualityfm.inference.windows import unscored_tail
    from qualityfm.signal import WindowConfig

    P = importlib.import_module("qualityfm.data.prepare")
    path = _write_long_record(tmp_path / kind, kind)
    cfg = WindowConfig()

    def results() -> tuple:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            rec, w = P.read_windows(path, cfg)
            return rec, w, P.process_record(str(path), cfg, PairConfig()), said

    rec, whole, res, said = results()
    spans: list[float] = []
    read = P.read_record

    def spied(*args, **kwargs):
        if kwargs.get("stop") is not None:
            spans.append(kwargs["stop"] - kwargs["start"])
        return read(*args, **kwargs)

    monkeypatch.setattr(P, "SPAN_SECONDS", 600.0)
    monkeypatch.setattr(P, "SCORE_BLOCK", 16)  # scored and scaled 16 windows at a time
    monkeypatch.setattr(P, "read_record", spied)
    rec_s, w, res_s, said_s = results()
    assert spans and max(spans) <= 600.0 + 2 * P.SPAN_MARGIN_SECONDS + 1
    np.testing.assert_array_equal(w.start, whole.start)
    assert w.rejected == whole.rejected and w.notes == whole.notes and w.n_cut == whole.n_cut
    np.testing.assert_array_equal(w.mask, whole.mask)
    np.testing.assert_array_equal(w.rejected_off, whole.rejected_off)
    np.testing.assert_array_equal(w.clipped, whole.clipped)
    np.testing.assert_array_equal(w.filled, whole.filled)
    # the resampling filter runs on a span less its own mean: rounding apart, the same
    np.testing.assert_allclose(w.x, whole.x, rtol=0, atol=1e-6)
    assert w.sources == whole.sources and any(whole.notes)
    for field in ("start", "mask", "level", "pairs"):
        np.testing.assert_array_equal(getattr(res_s, field), getattr(res, field))
    np.testing.assert_allclose(res_s.q, res.q, atol=1e-6)
    np.testing.assert_allclose(res_s.x, res.x, atol=1e-5)  # (scaled into [-1, 1])
    assert res_s.n_rejected == res.n_rejected and len(res.pairs) > 0
    assert unscored_tail(rec_s, w, cfg) == unscored_tail(rec, whole, cfg)
    assert rec_s.record_id == rec.record_id and rec_s.patient_id == rec.patient_id
    if kind == "multi":  # the lost segment said, a span of it alone a gap, not the record's
        from qualityfm.io import LostSegmentsWarning

        def lost(caught: list) -> list[str]:
            return [str(m.message) for m in caught if m.category is LostSegmentsWarning]

        assert any("long_0002" in m for m in lost(said)) and whole.rejected
        # said once a read, as by the whole read (each span touching it had said it again)
        assert lost(said_s) == lost(said) and len(lost(said)) == 2  # (read_windows, process)


def test_a_machine_fault_in_a_span_of_a_long_record_stops_the_run(tmp_path, monkeypatch
                                                                  ) -> None:
    """Out of memory while a later span of a long record is read stops the run, as a whole
    read's does (no span read as a gap, the record kept with a hole)."""
    import importlib

    from qualityfm.data.pairs import PairConfig
    from qualityfm.signal import WindowConfig

    P = importlib.import_module("qualityfm.data.prepare")
    path = _write_long_record(tmp_path / "single", "single")
    read = P.read_record

    def failing(*args, **kwargs):
        if kwargs.get("start"):
            raise MemoryError("Unable to allocate 82.4 MiB")
        return read(*args, **kwargs)

    monkeypatch.setattr(P, "SPAN_SECONDS", 600.0)
    monkeypatch.setattr(P, "read_record", failing)
    with pytest.raises(MemoryError, match="82.4 MiB"):
        P.process_record(str(path), WindowConfig(), PairConfig())


def test_a_long_gap_of_a_record_read_span_by_span_is_read_once(tmp_path, monkeypatch) -> None:
    """The first sample past a span ending in a gap is sought once for the gap: each span of
    a gap of hours had read on to its end (reads of the square of its spans)."""
    import importlib

    import wfdb

    from qualityfm.signal import WindowConfig
    from qualityfm.signal.synthetic import synthesize

    P = importlib.import_module("qualityfm.data.prepare")
    fs, folder = 125.0, tmp_path / "gap"
    folder.mkdir()
    for n in (1, 3):
        rec = synthesize(300.0, fs=fs, seed=n, channels=("ecg_ii", "ppg"))
        wfdb.wrsamp(f"gap_{n:04d}", fs=fs, units=["mV", "NU"], sig_name=["II", "PLETH"],
                    p_signal=np.stack([rec.signals["ecg_ii"], rec.signals["ppg"]], 1)
                    .astype(np.float64), fmt=["16", "16"], adc_gain=[200.0, 1000.0],
                    baseline=[0, 0], write_dir=str(folder))
    (folder / "gap_layout.hea").write_text("gap_layout 2 125 0\n~ 0 200/mV 16 0 0 0 0 II\n"
                                           "~ 0 1000/NU 16 0 0 0 0 PLETH\n")
    frames = int(300 * fs)
    (folder / "gap.hea").write_text(f"gap/4 2 125 {2 * frames + int(10800 * fs)}\n"
                                    f"gap_layout 0\ngap_0001 {frames}\n~ {int(10800 * fs)}\n"
                                    f"gap_0003 {frames}\n")
    cfg = WindowConfig()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, whole = P.read_windows(folder / "gap.hea", cfg)
        reads = []
        read = P.read_record
        monkeypatch.setattr(P, "SPAN_SECONDS", 600.0)
        monkeypatch.setattr(P, "read_record",
                            lambda *a, **k: reads.append(k.get("start")) or read(*a, **k))
        _, w = P.read_windows(folder / "gap.hea", cfg)
    np.testing.assert_array_equal(w.start, whole.start)
    assert w.rejected == whole.rejected and len(w.rejected) > 300
    assert len(reads) <= 2 * (11400 // 600 + 1)  # a span's read, and the gap's once: 39
