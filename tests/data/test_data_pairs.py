"""Pair mining rules on hand-made level sequences."""

from __future__ import annotations

import numpy as np
import pytest

from qualityfm.data.pairs import PairConfig, mine_pairs


def as_set(pairs: np.ndarray) -> set[tuple[int, int]]:
    return {(int(t), int(s)) for t, s in pairs}


def test_better_window_is_teacher_and_equal_levels_never_pair():
    levels = np.array([4, 1, 1, 3])
    pairs = mine_pairs(levels)
    assert pairs.dtype == np.int64 and pairs.shape[1] == 2
    assert as_set(pairs) == {(0, 1), (0, 2), (0, 3), (3, 1), (3, 2)}
    assert np.all(levels[pairs[:, 0]] > levels[pairs[:, 1]])


def test_distance_limits_in_window_slots():
    levels = np.array([4] + [0] * 11)  # window 0 is better than all others
    pairs = mine_pairs(levels)
    assert sorted(s for _, s in as_set(pairs)) == list(range(1, 10))  # 1..9 apart only
    near = mine_pairs(levels, cfg=PairConfig(min_distance=2, max_distance=3))
    assert as_set(near) == {(0, 2), (0, 3)}


def test_level_gap_setting():
    levels = np.array([4, 3, 1])
    assert as_set(mine_pairs(levels, cfg=PairConfig(min_level_gap=2))) == {(0, 2), (1, 2)}
    assert as_set(mine_pairs(levels, cfg=PairConfig(min_level_gap=3))) == {(0, 2)}


def test_gaps_from_rejected_windows_count_as_distance():
    levels = np.array([4, 0, 0])
    slots = np.array([0, 9, 10])  # window 2 is 10 slots (300 s) after window 0
    assert as_set(mine_pairs(levels, slots)) == {(0, 1)}


def test_a_window_may_be_in_many_pairs_and_output_is_sorted():
    levels = np.array([0, 2, 0, 2, 0])
    pairs = mine_pairs(levels)
    counts = np.bincount(pairs.ravel(), minlength=5)
    assert counts[1] == 3 and counts[3] == 3
    first = np.minimum(pairs[:, 0], pairs[:, 1])
    assert np.all(np.diff(first) >= 0)


def test_degenerate_inputs():
    assert mine_pairs(np.array([], dtype=np.int8)).shape == (0, 2)
    assert mine_pairs(np.array([3])).shape == (0, 2)
    assert mine_pairs(np.full(20, 2)).shape == (0, 2)


def test_matches_brute_force_on_random_levels():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(0, 40))
        slots = np.sort(rng.choice(60, size=n, replace=False))
        levels = rng.integers(0, 5, n)
        cfg = PairConfig(min_distance=int(rng.integers(1, 3)),
                         max_distance=int(rng.integers(3, 10)),
                         min_level_gap=int(rng.integers(1, 3)))
        want = set()
        for i in range(n):
            for j in range(i + 1, n):
                d = slots[j] - slots[i]
                if cfg.min_distance <= d <= cfg.max_distance and \
                        abs(levels[i] - levels[j]) >= cfg.min_level_gap:
                    want.add((i, j) if levels[i] > levels[j] else (j, i))
        assert as_set(mine_pairs(levels, slots, cfg)) == want


@pytest.mark.parametrize("kwargs", [dict(min_distance=0), dict(min_distance=5, max_distance=4),
                                    dict(min_level_gap=0), dict(min_level_gap=5),
                                    dict(max_distance=2.5)])
def test_bad_config(kwargs):
    """A gap of 5 (levels run 0-4) had made a store of no pair unsaid, 2.5 windows been taken."""
    with pytest.raises(ValueError, match="PairConfig"):
        PairConfig(**kwargs)


def test_bad_slots():
    with pytest.raises(ValueError, match="increasing"):
        mine_pairs(np.array([1, 2]), np.array([3, 3]))
    with pytest.raises(ValueError, match="shape"):
        mine_pairs(np.array([1, 2]), np.array([3]))


@pytest.mark.parametrize(("levels", "kwargs", "match"), [
    ([0.95, 0.10, 0.92], {}, "levels must be whole numbers 0-4.*0.95"),  # scores q: no pair
    ([3.9, 3.1], {}, "levels must be whole.*3.9"),  # one level, had been
    ([3.0, 3.0, float("nan")], {}, "levels must be whole.*nan"),  # NaN had paired with both
    ([5, 0], {}, "levels must be whole.*5"),
    ([4, 0, 4], {"slots": [0, 0.5, 1.7]}, "slots must be whole.*0.5"),  # had said increasing
    ([4, 0], {"per_window": np.float64("inf")}, "per_window must be a finite .*got inf$"),
    ([0, 4, 0], {"slots": np.array([0, 1, 2**63], np.uint64)}, "slots must be whole"),  # wrapped
])
def test_levels_slots_and_per_window_that_are_no_whole_numbers_are_refused(levels, kwargs,
                                                                           match):
    with pytest.raises(ValueError, match=match):
        mine_pairs(np.array(levels), **kwargs)


def test_whole_levels_and_slots_of_any_number_type_are_taken():
    levels = np.array([4, 0, 4], dtype=np.uint8)
    np.testing.assert_array_equal(mine_pairs(levels), [[0, 1], [2, 1]])
    np.testing.assert_array_equal(mine_pairs(levels.astype(float), slots=[0.0, 1.0, 2.0]),
                                  [[0, 1], [2, 1]])


@pytest.mark.parametrize("hop", [None, 10.0, 0.3, 40.0])
def test_overlapping_windows_pair_only_with_windows_they_do_not_overlap(tmp_path, hop,
                                                                        record_writer):
    """Distances count whole windows whatever the hop: with hop 10 s of 20-s windows a pair
    had shared half its samples (and 1-9 windows meant 10-90 s); a hop that is no whole
    number of samples (0.3 s at 128 Hz) had put two windows on one slot and dropped the
    record."""
    from qualityfm.data.prepare import process_record
    from qualityfm.signal import WindowConfig

    path = record_writer(tmp_path / "rec.npz", seconds=400.0)
    window = WindowConfig(fs=128.0, seconds=20.0, hop=hop)
    res = process_record(str(path), window, PairConfig())
    assert res.reason is None and len(res.pairs)
    gap = np.abs(res.start[res.pairs[:, 0]] - res.start[res.pairs[:, 1]])
    assert gap.min() >= 20.0 and gap.max() <= 180.0
    if hop is None:
        np.testing.assert_array_equal(res.pairs, mine_pairs(res.level, cfg=PairConfig()))
    assert np.all(res.level[res.pairs[:, 0]] > res.level[res.pairs[:, 1]])


def test_per_window_scales_the_distance_limits():
    levels = np.array([3, 1, 3, 1, 3, 1])
    slots = np.arange(6)
    two = mine_pairs(levels, slots, PairConfig(min_distance=1, max_distance=1), per_window=2)
    assert {tuple(sorted(p)) for p in two.tolist()} == set()  # two slots apart: equal levels
    three = mine_pairs(levels, slots, PairConfig(min_distance=1, max_distance=1), per_window=3)
    assert {tuple(sorted(p)) for p in three.tolist()} == {(0, 3), (1, 4), (2, 5)}
    with pytest.raises(ValueError, match="per_window"):
        mine_pairs(levels, slots, per_window=0)


def test_a_prepare_with_a_hop_records_its_pairing_unit():
    """Pairs with a hop count whole windows since session 27 (hops before): a store or an
    interrupted run of the earlier rule differs in its settings, so the two never mix; a
    store without a hop keeps the settings it had."""
    from qualityfm.data.prepare import _settings
    from qualityfm.signal import WindowConfig

    plain = _settings(WindowConfig(fs=128.0, seconds=20.0), PairConfig(), "float16", 64, None)
    hopped = _settings(WindowConfig(fs=128.0, seconds=20.0, hop=10.0), PairConfig(),
                       "float16", 64, None)
    assert "distance_unit" not in plain["pairs"] and hopped["pairs"]["distance_unit"] == "window"
