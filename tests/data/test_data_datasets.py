"""Streaming datasets: exactly-once over ranks and workers, epochs, resume, aligned pairs."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from qualityfm.data import PairDataset, Store, WindowDataset, prepare
from qualityfm.data import datasets as ds_module


@pytest.fixture(scope="module")
def store(tmp_path_factory, record_writer) -> Store:
    from qualityfm.signal import WindowConfig

    root = tmp_path_factory.mktemp("ds")
    corpus = root / "corpus"
    corpus.mkdir()
    for i in range(4):
        record_writer(corpus / f"rec{i}.npz", seed=10 + i, ppg=i != 2)
    prepare(corpus, root / "store", window=WindowConfig(fs=100.0, seconds=20.0), shard_size=6,
            progress=False)
    return Store(root / "store")


def run_worker(ds, worker: int, workers: int, monkeypatch) -> list:
    monkeypatch.setattr(ds_module, "get_worker_info",
                        lambda: SimpleNamespace(num_workers=workers, id=worker))
    out = list(ds)
    monkeypatch.setattr(ds_module, "get_worker_info", lambda: None)
    return out


def digest(*arrays: torch.Tensor) -> str:
    return hashlib.sha1(b"".join(a.numpy().tobytes() for a in arrays)).hexdigest()


@pytest.mark.parametrize("drop_last", [False, True])
def test_windows_exactly_once_over_2_ranks_x_2_workers(store, monkeypatch, drop_last):
    n = store.n_windows
    seen, per_rank = [], []
    for rank in range(2):
        ds = WindowDataset(store, shuffle=True, seed=3, rank=rank, world_size=2,
                           batch_size=4, drop_last=drop_last)
        got = [s["index"] for w in range(2) for s in run_worker(ds, w, 2, monkeypatch)]
        assert sorted(got) == sorted(ds.rank_order().tolist())
        per_rank.append(len(got))
        seen += got
    assert per_rank[0] == per_rank[1] == len(ds)
    if drop_last:
        assert len(seen) == len(set(seen)) == 2 * (n // 2)
    else:
        assert set(seen) == set(range(n)) and len(seen) == 2 * -(-n // 2)


def test_pairs_exactly_once_and_well_formed(store, monkeypatch):
    want = sorted(digest(torch.from_numpy(store.window(t)[0]), torch.from_numpy(store.window(s)[0]))
                  for t, s in store.pairs)
    got, counts = [], []
    for rank in range(2):
        ds = PairDataset(store, seed=1, rank=rank, world_size=2, drop_last=True)
        samples = [s for w in range(2) for s in run_worker(ds, w, 2, monkeypatch)]
        counts.append(len(samples))
        got += [digest(s["hi"], s["lo"]) for s in samples]
    s = samples[0]
    C, T = len(store.channels), store.n_samples
    assert s["hi"].dtype == torch.float32 and s["hi"].shape == (C, T) == s["lo"].shape
    assert s["hi_mask"].dtype == torch.bool and s["lo_mask"].shape == (C,)
    assert s["aligned"] is False
    assert counts[0] == counts[1] == store.n_pairs // 2
    assert len(set(got)) == len(got) and set(got) <= set(want)


def test_epochs_reshuffle_and_seed_repeats(store):
    ds = WindowDataset(store, shuffle=True, seed=0)
    e0 = [s["index"] for s in ds]
    ds.set_epoch(1)
    e1 = [s["index"] for s in ds]
    assert sorted(e0) == sorted(e1) == list(range(store.n_windows)) and e0 != e1
    again = WindowDataset(store, shuffle=True, seed=0)
    again.set_epoch(1)
    assert [s["index"] for s in again] == e1
    other = WindowDataset(store, shuffle=True, seed=1)
    assert [s["index"] for s in other] != e0
    assert [s["index"] for s in WindowDataset(store)] == list(range(store.n_windows))
    # a boolean mask selects its windows (cast to ids, it had read windows 0 and 1 alone)
    chosen = store.levels >= np.median(store.levels)
    assert 0 < chosen.sum() < store.n_windows
    picked = [s["index"] for s in WindowDataset(store, ids=chosen)]
    assert picked == np.flatnonzero(chosen).tolist()
    np.testing.assert_array_equal(store.windows(chosen), store.windows(np.flatnonzero(chosen)))
    for bad in (chosen[:-1], np.array([0.0, 1.0]), np.zeros((2, 2), int)):
        with pytest.raises(ValueError, match="boolean mask"):
            WindowDataset(store, ids=bad)


def test_state_dict_resumes_mid_epoch(store):
    ds = PairDataset(store, seed=5, aligned_fraction=0.5, aligned_min_level=int(store.levels.max()))
    ds.set_epoch(2)
    full = [digest(s["hi"], s["lo"]) for s in ds]
    it = iter(ds)
    head = [digest(*(lambda s: (s["hi"], s["lo"]))(next(it))) for _ in range(7)]
    state = ds.state_dict()
    assert state == {"epoch": 2, "yielded": 7}
    fresh = PairDataset(store, seed=5, aligned_fraction=0.5,
                        aligned_min_level=int(store.levels.max()))
    fresh.load_state_dict(state)
    rest = [digest(s["hi"], s["lo"]) for s in fresh]
    assert head + rest == full
    fresh.set_epoch(3)  # a new epoch skips nothing
    assert len(list(fresh)) == len(full)


def test_dataloader_workers_consume_the_rank_order(store):
    ds = WindowDataset(store, shuffle=True, seed=2, rank=1, world_size=2, batch_size=3)
    loader = ds.loader(num_workers=2)
    assert loader.batch_size == 3
    order = torch.cat([b["index"] for b in loader]).tolist()
    assert order == ds.rank_order().tolist()
    ds.load_state_dict(ds.state_dict(samples_seen=6))  # the trainer counted 2 batches
    rest = torch.cat([b["index"] for b in ds.loader(num_workers=2)]).tolist()
    assert rest == order[6:]


def test_loader_workers_read_no_index_column_of_their_own(store, tmp_path, monkeypatch):
    """Each worker of each epoch had read the channel masks again, a read of the whole index
    (about 1.6 kB a window: 33 GB at 21 M windows); the main process reads them once and the
    workers get them with the dataset."""
    import os

    log = tmp_path / "reads"
    field = Store.field

    def logged(self, name):
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {name}\n")
        return field(self, name)

    monkeypatch.setattr(Store, "field", logged)
    fresh = Store(store.path)
    ds = PairDataset(fresh, seed=0, rank=0, world_size=1, drop_last=True, batch_size=2)
    loader = ds.loader(num_workers=2)
    for epoch in range(2):
        ds.set_epoch(epoch)
        assert sum(len(b["hi"]) for b in loader) == len(ds)
    reads = [line.split() for line in log.read_text().splitlines()]
    assert [name for pid, name in reads if name == "mask"] == ["mask"]
    assert {pid for pid, _ in reads} == {str(os.getpid())}


def test_the_loader_refuses_what_would_break_the_order(store):
    """A DataLoader of another batch size hands samples out of order (workers take whole
    batches of the dataset's), and persistent workers keep their first epoch's order:
    ``loader()`` refuses both."""
    ds = WindowDataset(store, shuffle=True, seed=2, batch_size=3)
    with pytest.raises(ValueError, match="batch_size is the dataset's own"):
        ds.loader(num_workers=2, batch_size=4)
    with pytest.raises(ValueError, match="persistent workers would never see set_epoch"):
        ds.loader(num_workers=2, persistent_workers=True)
    mixed = torch.cat([b["index"] for b in DataLoader(ds, batch_size=4, num_workers=2)])
    assert mixed.tolist() != ds.rank_order().tolist()  # why: the order it would break


def test_aligned_pairs_align(store):
    top = int(store.levels.max())

    def light(x, fs, rng):
        return x + 0.01 * rng.standard_normal(x.shape)

    ds = PairDataset(store, aligned_fraction=1.0, aligned_min_level=top, corrupt=light)
    samples = list(ds)
    assert samples and all(s["aligned"] for s in samples)
    good_ids = np.flatnonzero(store.levels >= top)
    good = {digest(torch.from_numpy(store.window(i)[0])) for i in good_ids}
    for s in samples:
        assert digest(s["hi"]) in good  # the teacher reads a good window
        assert torch.equal(s["hi_mask"], s["lo_mask"])
        m = s["hi_mask"]
        assert 0 < (s["lo"][m] - s["hi"][m]).abs().max() < 0.15  # same signal, slightly corrupted
    # The default corruption: realistic artifacts, repeatable per (seed, epoch, item).
    real = PairDataset(store, aligned_fraction=1.0, aligned_min_level=top, shuffle=False)
    a, b = next(iter(real)), next(iter(real))
    assert torch.equal(a["lo"], b["lo"]) and not torch.equal(a["lo"], a["hi"])
    assert a["lo"].abs().max() <= 1.0
    mixed = PairDataset(store, aligned_fraction=0.5, aligned_min_level=top, corrupt=light)
    frac = np.mean([s["aligned"] for s in mixed])
    assert 0.2 < frac < 0.8
    # a corruptor's window of another shape, or of NaN, is named (it had failed in collate,
    # or as a normalisation fault)
    def cut(x, fs, rng):
        return x[:, :100]

    def holed(x, fs, rng):
        return np.full_like(x, np.nan)

    for bad, said in ((cut, r"'cut' returned shape \(2, 100\)"), (holed, "'holed' returned NaN")):
        with pytest.raises(ValueError, match=said):
            next(iter(PairDataset(store, aligned_fraction=1.0, aligned_min_level=top,
                                  corrupt=bad)))


def test_aligned_pairs_of_a_window_without_ppg_differ(store):
    """The default corruption hits only the channels a window holds: for a record without a
    PPG it had hit the absent channel alone in 6.5 % of pairs, the student's window then the
    teacher's own."""
    ds = PairDataset(store, aligned_fraction=1.0, aligned_min_level=0, shuffle=False)
    one = [s for epoch in range(3) for s in (ds.set_epoch(epoch), list(ds))[1]
           if not s["hi_mask"].all()]
    assert len(one) > 20
    assert all(not torch.equal(s["lo"], s["hi"]) for s in one)


def test_modality_drop_masks_one_student_channel(store):
    ds = PairDataset(store, modality_drop=1.0, shuffle=False)
    both = store.masks.all(axis=1)
    for (t, s), sample in zip(store.pairs, ds, strict=True):
        assert torch.equal(sample["hi_mask"], torch.from_numpy(store.masks[t]))
        if both[s]:
            assert int(sample["lo_mask"].sum()) == 1
            dropped = int(torch.nonzero(~sample["lo_mask"])[0, 0])
            assert torch.all(sample["lo"][dropped] == 0)
        else:
            assert torch.equal(sample["lo_mask"], torch.from_numpy(store.masks[s]))


def test_augment_window_draws_the_methods_four_augmentations() -> None:
    """Over many draws each augmentation fires at its rate and size; absent channels stay 0;
    the same generator state gives the same window."""
    from qualityfm.data import augment_window

    x = np.zeros((2, 1000), np.float32)
    x[0] = np.sin(np.arange(1000) / 10.0 + 0.3)  # no sample exactly 0
    mask = np.array([True, False])
    noise = scaled = offset = spans = 0
    for seed in range(400):
        y = augment_window(x, mask, np.random.default_rng(seed))
        assert y.dtype == np.float32 and y.shape == x.shape and not y[1].any()
        zero = y[0] == 0.0
        if zero.sum() > 1:  # a zeroed span: one run of T/20..T/10 samples
            run = np.flatnonzero(zero)
            assert 50 <= len(run) <= 100 and run[-1] - run[0] == len(run) - 1
            spans += 1
        rest = y[0][~zero]
        r = rest - x[0][~zero] * np.dot(rest, x[0][~zero]) / np.dot(x[0][~zero], x[0][~zero])
        noise += r.std() > 0.005  # noise of sigma 0.01 beside the (scaled, offset) sine
        scaled += abs(np.dot(rest, x[0][~zero]) / np.dot(x[0][~zero], x[0][~zero]) - 1) > 1e-3
        offset += abs(rest.mean() - x[0][~zero].mean()) > 2e-3
    assert 0.42 < noise / 400 < 0.58 and 0.42 < scaled / 400 < 0.58
    assert 0.2 < offset / 400 < 0.4 and 0.2 < spans / 400 < 0.4
    same = [augment_window(x, mask, np.random.default_rng(7)) for _ in range(2)]
    np.testing.assert_array_equal(*same)
    assert not np.shares_memory(same[0], x)


def test_pairs_are_augmented_member_by_member_only_when_asked(store):
    plain = list(PairDataset(store, shuffle=False))
    for (t, s), sample in zip(store.pairs, plain, strict=True):  # off: the stored windows
        assert torch.equal(sample["hi"], torch.from_numpy(store.window(t)[0]))
        assert torch.equal(sample["lo"], torch.from_numpy(store.window(s)[0]))
    augmented = list(PairDataset(store, shuffle=False, augment=True))
    assert [digest(a["hi"], a["lo"]) for a in augmented] == [
        digest(a["hi"], a["lo"]) for a in PairDataset(store, shuffle=False, augment=True)]
    hi_changed = [not torch.equal(a["hi"], p["hi"]) for a, p in zip(augmented, plain, strict=True)]
    lo_changed = [not torch.equal(a["lo"], p["lo"]) for a, p in zip(augmented, plain, strict=True)]
    assert any(hi_changed) and any(lo_changed) and hi_changed != lo_changed  # independently
    for a, p in zip(augmented, plain, strict=True):
        assert torch.equal(a["lo_mask"], p["lo_mask"])
        assert not a["lo"][~a["lo_mask"]].any() and not a["hi"][~a["hi_mask"]].any()
    from qualityfm.train import PretrainConfig

    assert PretrainConfig.for_recipe("paper").augment and not PretrainConfig().augment


def test_bad_settings(store):
    with pytest.raises(ValueError, match="no window of level"):
        PairDataset(store, aligned_fraction=0.5, aligned_min_level=9)
    with pytest.raises(ValueError, match="aligned_fraction"):
        PairDataset(store, aligned_fraction=1.5)
    with pytest.raises(ValueError, match="rank"):
        WindowDataset(store, rank=2, world_size=2)
    for rank, world in ((2, 2.5), (0.5, 2)):  # 2 of 2.5 had read as 2 of 2: rank 0's windows
        with pytest.raises(ValueError, match=f"rank and world_size must be whole numbers, got "
                                             f"{rank} and {world}"):
            WindowDataset(store, rank=rank, world_size=world)
    for cls in (PairDataset, WindowDataset):  # at construction, not in a loader's worker
        for seed in (-1, 1.5):
            with pytest.raises(ValueError, match=f"seed must be an integer >= 0, got {seed}"):
                cls(store, seed=seed)
        ds = cls(store)
        with pytest.raises(ValueError, match="epoch must be an integer >= 0, got -1"):
            ds.set_epoch(-1)
        with pytest.raises(ValueError, match="epoch must be an integer >= 0, got -2"):
            ds.load_state_dict({"epoch": -2, "yielded": 0})


def test_a_spawned_worker_keeps_the_rank_found_in_its_parent(store, monkeypatch):
    """A dataset without rank/world_size looks them up; a worker started by spawn or
    forkserver has no process group and had taken itself for rank 0 of 1, so every rank
    served the whole epoch. The dataset sent to it carries its parent's rank."""
    import pickle

    ds = PairDataset(store, batch_size=4, shuffle=False)
    monkeypatch.setattr(ds_module, "_distributed", lambda: (1, 2))  # rank 1 of 2, here
    shipped = pickle.dumps(ds)
    mine, n = ds.rank_order(), len(ds)
    monkeypatch.setattr(ds_module, "_distributed", lambda: (0, 1))  # in the worker: none
    worker = pickle.loads(shipped)
    assert worker.rank_world == (1, 2) and len(worker) == n < len(ds)
    np.testing.assert_array_equal(worker.rank_order(), mine)
    assert ds.rank_world == (0, 1)  # the dataset itself still looks it up
