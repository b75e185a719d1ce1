"""Windowing: counts, shapes, masks, the NaN and flat rules, ECG fallback, normalisation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from qualityfm.io import Record
from qualityfm.signal import WindowConfig, make_windows, normalize
from qualityfm.signal.synthetic import synthesize


def _record(seconds: float = 95.0, fs: float = 250.0, channels=("ecg_ii", "ppg"),
            seed: int = 0) -> Record:
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    sig = {c: (np.sin(2 * np.pi * (1.2 + i) * t) + 0.1 * rng.standard_normal(n)).astype(np.float32)
           for i, c in enumerate(channels)}
    return Record("r1", sig, {c: fs for c in channels})


def test_count_shapes_and_starts() -> None:
    w = make_windows(_record(95.0))
    assert w.x.shape == (3, 2, 9000) and w.x.dtype == np.float32
    assert w.mask.all() and w.mask.shape == (3, 2)
    np.testing.assert_array_equal(w.start, [0.0, 30.0, 60.0])
    assert w.rejected == [] and not w.fallback
    assert w.channels == ("ppg", "ecg_ii") and w.sources == {"ppg": "ppg", "ecg_ii": "ecg_ii"}
    # values are the raw resampled signal: ppg (second sine, 2.2 Hz) lands in channel 0
    spec = np.abs(np.fft.rfft(w.x[0, 0]))
    assert np.fft.rfftfreq(9000, 1 / 300)[np.argmax(spec)] == pytest.approx(2.2, abs=0.05)
    z = w.normalized()
    assert z.min() == -1.0 and z.max() == 1.0 and w.x.max() != 1.0
    w2 = make_windows(_record(95.0), WindowConfig(hop=15.0))
    np.testing.assert_array_equal(w2.start, [0.0, 15.0, 30.0, 45.0, 60.0])
    np.testing.assert_array_equal(w2.x[2], w.x[1])


def test_absent_channel_is_zero_and_masked() -> None:
    w = make_windows(_record(channels=("ecg_ii",)))
    assert len(w) == 3
    assert (~w.mask[:, 0]).all() and w.mask[:, 1].all()
    assert (w.x[:, 0] == 0).all()
    w_all = make_windows(_record(channels=("ecg_ii",)), WindowConfig(require="all"))
    assert len(w_all) == 0 and len(w_all.rejected) == 3
    assert "ppg: absent" in w_all.rejected[0][1]


def test_nan_rule_and_interpolation() -> None:
    rec = _record(95.0)
    ppg = rec.signals["ppg"]
    ppg[250 * 31: 250 * 38] = np.nan  # 7 s of window 1 (23 %): unusable
    ppg[250 * 61: 250 * 62] = np.nan  # 1 s of window 2: filled
    w = make_windows(rec)
    assert len(w) == 3 and not np.isnan(w.x).any()
    np.testing.assert_array_equal(w.mask[:, 0], [True, False, True])
    assert (w.x[1, 0] == 0).all()
    # the 1-s gap is a straight line between its neighbours
    gap = w.x[2, 0, 300 * 1 + 10: 300 * 2 - 10]
    line = np.polyval(np.polyfit(np.arange(len(gap)), gap, 1), np.arange(len(gap)))
    assert np.abs(gap - line).max() < 0.01 < 0.1 < np.abs(np.diff(w.x[2, 0, 600:900])).max()
    w_all = make_windows(rec, WindowConfig(require="all"))
    np.testing.assert_array_equal(w_all.start, [0.0, 60.0])
    assert w_all.rejected == [(30.0, "ppg: 23% NaN")]
    w_loose = make_windows(rec, WindowConfig(max_nan_fraction=0.3))
    assert w_loose.mask.all()
    # inf (a CSV cell "inf") is missing like NaN: bridged, never passed on to the windows
    ppg[250 * 65] = np.inf
    w_inf = make_windows(rec)
    assert np.isfinite(w_inf.x).all() and w_inf.mask[2, 0]


def test_a_rejection_states_a_nan_share_on_its_side_of_the_limit_and_of_all() -> None:
    rec = _record(95.0)
    ppg = rec.signals["ppg"]
    ppg[250 * 30: 250 * 30 + 1523] = np.nan  # 20.3 % of window 1: over the 20 % limit
    ppg[250 * 60 + 3: 250 * 90] = np.nan  # all of window 2 but its first 3 samples
    w = make_windows(rec, WindowConfig(require="all"))
    # the whole-percent rounding had read "20% NaN" (allowed) and "100% NaN" (not all of it)
    assert w.rejected == [(30.0, "ppg: 20.3% NaN"), (60.0, "ppg: 99.96% NaN")]


@pytest.mark.parametrize("fs", [125.0, 250.0, 360.0, 500.0, 1000.0])
def test_the_nan_rule_counts_exactly_the_window_span(fs: float) -> None:
    """A channel whose window is exactly max_nan_fraction NaN is kept (the rule masks more
    than it), one sample more is masked, at rates below and above the windows' 300 Hz."""
    rng = np.random.default_rng(0)
    n = int(30 * fs)
    for extra, kept in ((0, True), (1, False)):
        x = rng.standard_normal(2 * n).astype(np.float32)
        x[: int(0.2 * n) + extra] = np.nan
        w = make_windows(Record("r", {"ppg": x}, {"ppg": fs}), WindowConfig(channels=("ppg",)))
        assert (len(w) == 2) == kept and w.mask[-1, 0], (fs, extra)


def test_a_window_start_between_input_samples_spans_the_samples_inside_it() -> None:
    """Windows on the input grid had left the span's rounding unchecked: at 125 Hz into 300 Hz
    (5 input samples per 12 output) a window from output sample 1 (offset 1/300 s) holds the
    input samples at or after 1/300 s and before 30 + 1/300 s: 1 .. 3750 (ceil(5/12) = 1,
    ceil(9001 * 5/12) = 3751), 3750 of them; sample 0 (t = 0) is outside, 3750 (t = 30 s)
    inside: with both NaN, one of 3750 counts."""
    t = np.arange(35 * 125) / 125
    ppg = np.sin(2 * np.pi * 1.2 * t).astype(np.float32)
    ppg[[0, 3750]] = np.nan
    w = make_windows(Record("r", {"ppg": ppg}, {"ppg": 125.0}),
                     WindowConfig(channels=("ppg",), offset=1 / 300))
    assert w.start.tolist() == [pytest.approx(1 / 300)] and w.mask.all()
    assert w.filled[0, 0] * 3750 == pytest.approx(1.0)


def test_flat_rule() -> None:
    rec = _record(95.0)
    rec.signals["ecg_ii"][250 * 30: 250 * 60] = 0.7
    rec.signals["ppg"][250 * 60: 250 * 90] = -1.0
    w = make_windows(rec)
    np.testing.assert_array_equal(w.mask, [[True, True], [True, False], [False, True]])
    w_all = make_windows(rec, WindowConfig(require="all"))
    assert [r[1] for r in w_all.rejected] == ["ecg_ii: flat", "ppg: flat"]
    # channel order ("ppg", "ecg_ii"): the ECG is off in the first, the PPG in the second
    np.testing.assert_array_equal(w_all.rejected_off, [[False, True], [True, False]])
    assert make_windows(rec, WindowConfig(drop_flat=False)).mask.all()
    rec.signals["ppg"][250 * 30: 250 * 60] = -1.0  # both flat: no usable channel
    w2 = make_windows(rec)
    assert list(w2.start) == [0.0, 60.0]
    assert w2.rejected == [(30.0, "ppg: flat; ecg_ii: flat")]
    np.testing.assert_array_equal(w2.rejected_off, [[True, True]])
    assert w.rejected_off.shape == (0, 2)


def test_ecg_fallback_lead() -> None:
    rec = _record(channels=("ecg_v", "ecg_avf", "ppg"))
    w = make_windows(rec)
    assert w.fallback and w.sources["ecg_ii"] == "ecg_avf"
    np.testing.assert_array_equal(w.x[:, 1], make_windows(
        Record("r", {"ecg_ii": rec.signals["ecg_avf"]}, {"ecg_ii": 250.0})).x[:, 1])
    w_no = make_windows(rec, WindowConfig(ecg_fallback=False))
    assert not w_no.fallback and not w_no.mask[:, 1].any()
    rec.signals["ecg_avf"][int(250 * 30):int(250 * 60)] = 0.0  # a record of no lead II
    assert make_windows(rec).rejected == [] and "ecg_ii (from ecg_avf): flat" in make_windows(
        rec).notes  # the lead that was flat is named (the row had named a lead II)


def test_short_record_and_no_channel() -> None:
    w = make_windows(_record(20.0))
    assert w.x.shape == (0, 2, 9000) and w.mask.shape == (0, 2)
    assert "shorter than one window" in w.rejected[0][1]
    w = make_windows(Record("r", {"resp": np.zeros(10000, np.float32)}, {"resp": 25.0}))
    assert len(w) == 0 and "no channel" in w.rejected[0][1]
    monitor = {"II": np.zeros(10000, np.float32), "PLETH": np.zeros(10000, np.float32)}
    w = make_windows(Record("r", monitor, {"II": 250.0, "PLETH": 250.0}))  # labels as written
    assert len(w) == 0 and "canonical_names" in w.rejected[0][1]
    with pytest.raises(TypeError, match="fs must be dicts keyed by channel name"):
        Record("r", {"ppg": np.zeros(10, np.float32)}, 125.0)
    with pytest.raises(ValueError, match=r"no sampling rate in fs for channels \['ecg_ii'\]"):
        Record("r", {"ppg": np.zeros(10), "ecg_ii": np.zeros(10)}, {"ppg": 125.0})


def test_mixed_rates_and_shorter_channel() -> None:
    rec = _record(95.0, fs=250.0, channels=("ecg_ii",))
    rec.signals["ppg"] = np.sin(np.arange(125 * 50) / 125.0).astype(np.float32)  # 50 s at 125 Hz
    rec.fs["ppg"] = 125.0
    w = make_windows(rec)
    assert len(w) == 3
    np.testing.assert_array_equal(w.mask[:, 0], [True, False, False])  # past its end: NaN


def test_a_kept_window_past_a_channels_end_holds_its_last_value() -> None:
    """A PPG ending 1 s before its first window does (29 s of 30: 3.3 % missing, so the window
    is kept): the samples past its end are its last value held (unchecked before; 0
    there would be a step the model reads as a real drop)."""
    n = 29 * 300
    ppg = (5 + np.sin(2 * np.pi * 1.2 * np.arange(n) / 300)).astype(np.float32)
    ecg = np.sin(2 * np.pi * 1.1 * np.arange(60 * 300) / 300).astype(np.float32)
    w = make_windows(Record("r", {"ppg": ppg, "ecg_ii": ecg}, {"ppg": 300.0, "ecg_ii": 300.0}))
    assert w.channels[0] == "ppg" and w.mask[:, 0].tolist() == [True, False]
    assert w.filled[0, 0] == pytest.approx(300 / 9000)
    np.testing.assert_array_equal(w.x[0, 0, :n], ppg)
    assert (w.x[0, 0, n:] == ppg[-1]).all() and ppg[-1] > 4.0


def test_bad_config() -> None:
    with pytest.raises(ValueError, match="require"):
        WindowConfig(require="some")
    with pytest.raises(ValueError, match="normalization"):
        WindowConfig(normalization="zscore")
    with pytest.raises(ValueError, match="a tuple of names"):
        WindowConfig(channels="ppg")
    for field, value in (("offset", float("nan")), ("hop", float("nan")),
                         ("seconds", float("inf")), ("fs", "300"), ("fs", 10**400)):
        with pytest.raises(ValueError, match=f"WindowConfig.{field} must be a finite number"):
            WindowConfig(**{field: value})
    for field in ("drop_flat", "ecg_fallback"):  # the text "False" had counted as True
        with pytest.raises(ValueError, match=f"WindowConfig.{field} must be True or False, "
                                             "got 'False'"):
            WindowConfig(**{field: "False"})
    assert WindowConfig(drop_flat=np.bool_(False)).drop_flat is False


def test_normalize_modes() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 2, 600)).astype(np.float32)
    x[:, 1] *= 10
    mask = np.ones((4, 2), bool)
    mask[1, 0] = False
    x[2, 1] = 3.0  # constant channel
    y = normalize(x, mask)
    assert y.dtype == np.float32
    assert (y[1, 0] == 0).all() and (y[2, 1] == 0).all()
    for n, c in [(0, 0), (0, 1), (3, 1)]:
        assert y[n, c].min() == pytest.approx(-1) and y[n, c].max() == pytest.approx(1)
    j = normalize(x, mask, "joint")
    assert j.min() >= -1 and j.max() <= 1
    assert j[0].min() == pytest.approx(-1) and j[0].max() == pytest.approx(1)
    assert np.ptp(j[0, 0]) < 0.5 * np.ptp(j[0, 1])  # the small channel stays small
    assert (j[1, 0] == 0).all() and (j[2, 1] == 0).all()
    none = normalize(x, mask, "none")
    np.testing.assert_array_equal(none[0], x[0])
    assert (none[1, 0] == 0).all()
    with pytest.raises(ValueError, match="NaN or inf in a present channel"):
        normalize(np.full((2, 10), np.nan), None)
    # a masked-out channel is 0 whatever it holds
    y = normalize(np.stack([np.full(10, np.nan), np.arange(10.0)])[None], np.array([[False, True]]))
    assert (y[0, 0] == 0).all() and y[0, 1, 0] == -1 and y[0, 1, -1] == 1
    with pytest.raises(ValueError, match="mode"):
        normalize(x, mask, "z")
    # a range past float32's (a spike near its maximum) is scaled in float64, not to NaN
    spike = x.copy()
    spike[0, 0, 3], spike[0, 0, 4] = 3.3e38, -3.3e38
    y = normalize(spike, mask)
    assert np.isfinite(y).all() and y[0, 0, 3] == 1 and y[0, 0, 4] == -1
    np.testing.assert_array_equal(y[1:], normalize(x, mask)[1:])
    big = np.array([[0, 1e38, 2e38, 2.5e38, 3e38]], np.float32)  # 2 x range past float32's
    np.testing.assert_allclose(normalize(big[None])[0, 0], [-1, -1 / 3, 1 / 3, 2 / 3, 1],
                               rtol=1e-6)


def test_real_vt_record() -> None:
    from helpers import shared_path
    from qualityfm.io import read_record

    path = sorted(shared_path("physionet2015_vt").glob("v*s.hea"))[0]
    rec = read_record(path)
    w = make_windows(rec)
    assert len(w) + len(w.rejected) == 10  # 300 s at 250 Hz
    assert w.x.shape[1:] == (2, 9000) and np.isfinite(w.x).all()
    assert w.mask[:, 1].any() and w.sources.get("ecg_ii") in rec.signals


def test_a_channel_sampled_below_a_waveform_rate_is_left_out() -> None:
    """A 1-Hz 'PPG' (a monitor's trend) had been upsampled and scored 'acceptable'. It is left
    out, with a warning when another channel remains and as the reason when none does."""
    from qualityfm.io import MODEL_CHANNELS
    from qualityfm.signal import synthesize

    ecg = synthesize(60, fs=250.0, channels=("ecg_ii",), seed=0).signals["ecg_ii"]
    trend = np.sin(np.arange(60) / 5.0).astype(np.float32)
    alone = make_windows(Record("t", {"ppg": trend}, {"ppg": 1.0}))
    assert len(alone.x) == 0
    assert alone.rejected == [(0.0, "ppg at 1 Hz: below 10 Hz, trends rather than a waveform")]
    with pytest.warns(RuntimeWarning, match=r"record both: ppg at 1 Hz left out: below 10 Hz"):
        both = make_windows(Record("both", {"ecg_ii": ecg, "ppg": trend},
                                   {"ecg_ii": 250.0, "ppg": 1.0}))
    assert len(both.x) == 2 and both.mask[:, MODEL_CHANNELS.index("ecg_ii")].all()
    assert not both.mask[:, MODEL_CHANNELS.index("ppg")].any()


def test_a_slow_lead_ii_gives_way_to_another_lead(tmp_path) -> None:
    """A 1-Hz 'II' (a rate trend under a lead's name) had taken the ECG's place and been left
    out, the ECG masked in every window although lead V was there (in score, embed and
    prepare alike; the task windows took V); another lead stands in, as without lead II."""
    from qualityfm.data.prepare import read_model_channels
    from qualityfm.io import MODEL_CHANNELS
    from qualityfm.signal import synthesize

    rec = synthesize(60, fs=250.0, seed=1)
    np.savez(tmp_path / "rec.npz", II=np.full(60, 75.0, np.float32), V=rec.signals["ecg_ii"],
             PLETH=rec.signals["ppg"], fs_II=1.0, fs_V=250.0, fs_PLETH=250.0,
             notes=np.array(["line flushed at 12:03"]))  # no signal: left unread
    read = read_model_channels(str(tmp_path / "rec.npz"), MODEL_CHANNELS)
    assert sorted(read.signals) == ["ecg_ii", "ecg_v", "ppg"]
    with pytest.warns(RuntimeWarning, match=r"ecg_ii at 1 Hz left out"):
        w = make_windows(read)
    assert w.sources == {"ppg": "ppg", "ecg_ii": "ecg_v"} and w.mask.all()


def test_a_flat_channel_with_a_gap_is_flat() -> None:
    """A sensor off then a gap before the signal returns: the gap's linear fill had read as a
    change, and the flat PPG window was kept as present."""
    fs = 125
    t = np.arange(60 * fs) / fs
    ppg = (np.cos(2 * np.pi * 1.2 * t) + 5).astype(np.float32)
    ppg[: 27 * fs] = 5.0
    ppg[27 * fs: 30 * fs] = np.nan
    ecg = np.random.default_rng(0).standard_normal(120 * fs).astype(np.float32)
    w = make_windows(Record("r", {"ppg": ppg, "ecg_ii": ecg}, {"ppg": 125.0, "ecg_ii": 250.0}))
    assert w.mask[0].tolist() == [False, True] and w.mask[1].tolist() == [True, True]
    # a gap across a window's start, the value before it not the window's own
    ppg = (np.cos(2 * np.pi * 1.2 * t) + 5).astype(np.float32)
    ppg[28 * fs: 32 * fs] = np.nan
    ppg[32 * fs:] = 5.0
    w = make_windows(Record("r", {"ppg": ppg, "ecg_ii": ecg}, {"ppg": 125.0, "ecg_ii": 250.0}))
    assert w.mask[0].tolist() == [True, True] and w.mask[1].tolist() == [False, True]


def test_a_window_with_no_sample_of_a_channel_is_never_usable() -> None:
    """At max_nan_fraction 1.0 a window past the PPG's end had been usable: a constant."""
    fs = 100.0
    rec = Record("r", {"ecg_ii": np.sin(np.arange(6000) / 7.0).astype(np.float32),
                       "ppg": np.sin(np.arange(3000) / 9.0).astype(np.float32)},
                 {"ecg_ii": fs, "ppg": fs})
    win = make_windows(rec, WindowConfig(fs=fs, seconds=30.0, max_nan_fraction=1.0))
    assert win.start.tolist() == [0.0, 30.0]
    ppg = WindowConfig().channels.index("ppg")
    assert win.mask[:, ppg].tolist() == [True, False]


def test_window_config_takes_numpy_numbers() -> None:
    cfg = WindowConfig(fs=np.float32(300.0), seconds=np.int64(30),
                       max_nan_fraction=np.float32(0.5))
    # floats, as the command line gives them (30 and 30.0 had fingerprinted two stores)
    assert type(cfg.fs) is float and type(cfg.seconds) is float and cfg.samples == 9000
    assert type(cfg.max_nan_fraction) is float  # a store's settings are written as JSON
    with pytest.raises(ValueError, match="WindowConfig.fs must be a finite number, got True"):
        WindowConfig(fs=True)


def test_clip_fraction_does_not_depend_on_the_scale() -> None:
    from qualityfm.signal.extremes import clip_fraction

    x = np.sin(2 * np.pi * np.linspace(0, 10, 3000))[None]
    for scale in (1.0, 1e-13, 1e-20, 1e6):
        np.testing.assert_allclose(clip_fraction(x * scale), clip_fraction(x), atol=1e-9)
    assert clip_fraction(np.ones((1, 10)))[0] == 1.0  # a constant window sits at its extremes
    # and not on the integer type: int16 railed at both limits had wrapped its range (0 clipped)
    railed = np.clip(np.round(x[0] * 40000), -32768, 32767)
    for dtype in (np.int16, np.int32, np.float64):
        assert clip_fraction(railed.astype(dtype)[None])[0] == pytest.approx(
            clip_fraction(railed[None])[0]) and clip_fraction(railed[None])[0] > 0.1


def _extremes_rule(x: np.ndarray, tol: float = 1e-3) -> np.ndarray:
    """The share within ``tol`` of the range of a window's minimum or maximum: the clip rule
    before its rails were also looked for at tail quantiles."""
    lo, hi = x.min(axis=1, keepdims=True), x.max(axis=1, keepdims=True)
    return ((x >= hi - tol * (hi - lo)) | (x <= lo + tol * (hi - lo))).mean(axis=1)


def test_a_rail_is_found_past_the_few_samples_beyond_it() -> None:
    """One sample past a rail had made the rail no extreme: an ECG whose wander holds it 15 %
    on its rail read 0.02 % clipped with one sample past it, 0.5 % with 1.5 % of its samples
    past it in noise, and scored 0.99 either way."""
    from qualityfm.quality import ecg_quality
    from qualityfm.signal.extremes import clip_fraction

    e = synthesize(30, fs=300.0, seed=0, channels=("ecg_ii",)).signals["ecg_ii"].astype(float)
    e += np.sin(2 * np.pi * 0.1 * np.arange(len(e)) / 300.0)  # a wander into the rail
    rail = np.percentile(e, 15)
    railed = np.maximum(e, rail)
    assert 0.15 <= clip_fraction(railed[None])[0] < 0.16
    spiked = railed.copy()
    spiked[4000] = rail - 0.05 * np.ptp(e)
    noisy = railed.copy()
    on = np.flatnonzero(railed == rail)[::10]
    noisy[on] -= 0.003 * np.ptp(e) * (1 + np.arange(len(on)) % 3)  # 1.5 % of samples past
    for x in (spiked, noisy):
        assert _extremes_rule(x[None])[0] < 0.01  # the extremes alone miss it
        assert clip_fraction(x[None])[0] > 0.13
        assert ecg_quality(x, 300.0) == 0.0 < 0.99 < ecg_quality(e, 300.0)


def test_smooth_waves_and_coarse_steps_are_read_at_their_extremes_alone() -> None:
    """The tail levels count as rails only where they outnumber the samples just inside them
    (the wave's approach) or its next two recorded values (a coarse ADC step): noise, a sine
    and a PPG on 30-48 levels read as the extremes rule reads them (a PPG's troughs on a
    coarse step had read as a rail, 0.5-0.6 % more)."""
    from qualityfm.signal.extremes import clip_fraction

    noise = np.random.default_rng(0).standard_normal((4, 7500))
    sine = np.sin(2 * np.pi * np.linspace(0, 30, 9000))[None]
    p = synthesize(60, fs=125.0, hr=65, seed=0, channels=("ppg",)).signals["ppg"]
    windows = p.astype(float).reshape(6, -1)
    span = np.ptp(windows, axis=1, keepdims=True)
    for x in [noise, sine] + [np.round((windows - windows.min(axis=1, keepdims=True)) / span
                                       * (levels - 1)) for levels in (30, 48)]:
        np.testing.assert_array_equal(clip_fraction(x), _extremes_rule(x))


def test_int16_windows_at_the_negative_rail_warn_as_unscaled() -> None:
    """-(-32768) wraps to -32768 in int16: ADC counts that touched the negative rail had gone
    to the model without the unscaled-input warning, numpy arrays and torch tensors alike."""
    import warnings

    import torch

    from qualityfm.signal.normalize import warn_unscaled

    raw = np.full((2, 2, 50), -1, np.int16)
    raw[:, :, 10] = -32768
    for x in (raw, torch.from_numpy(raw)):
        with pytest.warns(UserWarning, match=r"far outside \[-1, 1\] in channel\(s\) 0, 1"):
            warn_unscaled(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_unscaled(np.full((2, 2, 50), -1, np.int16))  # within [-1, 1]: nothing said


def test_a_channel_of_a_few_adc_levels_is_off() -> None:
    """A PPG toggling between two or four neighbouring ADC steps (sensor off) had been a
    present channel, min-max scaled into a full-range signal; five levels are kept."""
    from qualityfm.signal.nan import OFF_LEVELS, few_levels

    fs = 125
    rng = np.random.default_rng(0)
    ecg = rng.standard_normal(60 * 250).astype(np.float32)
    for levels, off in ((2, True), (OFF_LEVELS, True), (OFF_LEVELS + 1, False)):
        ppg = (0.5 + 0.00053 * rng.integers(0, levels, 60 * fs)).astype(np.float32)
        ppg[: levels] = 0.5 + 0.00053 * np.arange(levels)  # every level drawn
        ppg[35 * fs: 36 * fs] = np.nan  # a gap does not change the count
        w = make_windows(Record("r", {"ppg": ppg, "ecg_ii": ecg}, {"ppg": fs, "ecg_ii": 250.0}))
        assert w.mask[:, 0].tolist() == [not off, not off], levels
        assert few_levels(ppg[: 30 * fs]) is off
        if off:
            assert w.notes == ["ppg: flat", "ppg: flat"]
    assert not few_levels(np.full(10, np.nan))


@pytest.mark.parametrize("fill", [9.96921e36, 1e20, float(np.finfo(np.float32).max)])
def test_a_fill_value_is_missing_and_costs_its_stretch_only(fill: float) -> None:
    """One second of a fill value (NetCDF's 9.97e36, 1e20, float32's largest) had made the
    whole channel quantisation noise in every window (its mean taken out to resample), or
    overflowed to inf and cost the record; it is missing now, as NaN, and said."""
    from qualityfm.signal import synthesize

    clean = synthesize(120.0, 125.0, seed=3, channels=("ecg_ii", "ppg"))
    ecg = clean.signals["ecg_ii"].copy()
    ecg[5000:5125] = fill  # 1 s at 40 s
    marked = Record("r", {**clean.signals, "ecg_ii": ecg}, clean.fs)
    base = make_windows(clean, WindowConfig())
    with pytest.warns(RuntimeWarning, match=r"record r: channel ecg_ii: 125 sample\(s\) of "
                                            r"magnitude over 1e\+15 \(a fill value\) read as "
                                            r"missing"):
        got = make_windows(marked, WindowConfig())
    assert got.mask.all() and np.isfinite(got.x).all()
    wide = {**clean.signals, "ecg_ii": clean.signals["ecg_ii"].astype(np.float64)}
    wide["ecg_ii"][5000:5125] = 1e300  # past float32's range: named too, not numpy's cast
    with pytest.warns(RuntimeWarning, match=r"125 sample\(s\) of magnitude over 1e\+15"):
        make_windows(Record("r", wide, clean.fs), WindowConfig())
    wide["ecg_ii"][5000:5125] = 1.00000001e15  # 999999986991104 as float32: missing, as said
    with pytest.warns(RuntimeWarning, match=r"125 sample\(s\) of magnitude over 1e\+15"):
        plain = make_windows(Record("r", wide, clean.fs), WindowConfig(normalization="none"))
    assert np.abs(plain.x).max() < 1e3  # (it had been warned of, and kept)
    c = got.channels.index("ecg_ii")
    far = [k for k, s in enumerate(got.start) if s >= 60.0]  # windows clear of the fill
    assert far and np.allclose(got.x[far, c], base.x[far, c], atol=1e-4)
    # int32 ADC counts past 1e9 are samples (a 1e9 limit had read them as fill values); a
    # fill value is no level of a sensor that is off
    from qualityfm.signal import fill_nan
    from qualityfm.signal.nan import few_levels

    counts = np.array([1.22e9, -1.1e9, 3.0, 4.0])
    np.testing.assert_array_equal(fill_nan(counts), counts)
    off = np.tile([0.0, 0.001, 0.002, 0.003], 50)
    assert few_levels(off) and few_levels(np.r_[off, fill])
    with warnings.catch_warnings():  # float16 holds no fill value: no overflow said of 1e15
        warnings.simplefilter("error")
        assert fill_nan(np.ones(8, np.float16)).dtype == np.float16
    with pytest.raises(ValueError, match=r"fill_nan needs samples along a last axis, got a "
                                         r"scalar"):  # (an IndexError of the shape had)
        fill_nan(np.float64(np.nan))
    np.testing.assert_array_equal(fill_nan(np.array([np.nan, 2.0, np.nan])), [2.0, 2.0, 2.0])



def test_windows_name_monitor_labels_and_refuse_arguments_of_another_type() -> None:
    """WindowConfig(channels=("PLETH", "II")) had given no window of a read record with no
    word of its names; a dict given for the record or the config had been an AttributeError
    from inside."""
    wave = np.sin(np.arange(9000) / 9).astype(np.float32)
    rec = Record("r", {"ppg": wave, "ecg_ii": wave.copy()}, {"ppg": 300.0, "ecg_ii": 300.0})
    with pytest.warns(RuntimeWarning, match=r"'PLETH' asked for is held as 'ppg': the "
                                            r"record's channels are canonical names"):
        mixed = make_windows(rec, WindowConfig(channels=("PLETH", "ecg_ii")))
    assert mixed.mask.tolist() == [[False, True]]  # (its PPG had been absent unsaid)
    with pytest.warns(RuntimeWarning, match="'II' asked for is held as 'ecg_ii'"):
        w = make_windows(rec, WindowConfig(channels=("PLETH", "II")))
    assert len(w.x) == 0 and w.rejected[0][1].endswith(
        "; the record's channels are canonical names: ask for 'ppg' (not 'PLETH'), 'ecg_ii' "
        "(not 'II')")
    # a record of a user's own keys is windowed by them, as before
    own = Record("r", {"II": wave}, {"II": 300.0})
    assert len(make_windows(own, WindowConfig(channels=("II",), seconds=10)).x) == 3
    with pytest.raises(TypeError, match=r"cfg is a WindowConfig .*got dict"):
        make_windows(rec, {"seconds": 10})
    with pytest.raises(TypeError, match=r"reads a qualityfm\.io\.Record .*got dict"):
        make_windows(rec.signals)


def test_few_levels_probe_answers_as_the_sort_of_all_samples() -> None:
    """few_levels looks at a spread of 64 samples first (the sort of a whole window's samples
    had been a tenth of make_windows' time): its answer is the full count's wherever the
    probe sees few levels, fill values and NaN among them or not."""
    from qualityfm.signal.nan import _PROBE, OFF_LEVELS, few_levels

    def by_sort(x: np.ndarray) -> bool:
        v = np.sort(x[np.isfinite(x) & (np.abs(x) <= 1e15)])
        return bool(len(v) > 0 and np.count_nonzero(v[1:] != v[:-1]) < OFF_LEVELS)

    rng = np.random.default_rng(0)
    n = 7500
    levels = np.tile([0.0, 0.001, 0.002, 0.003], n // 4)
    one_more = levels.copy()
    one_more[1] = 0.5  # a fifth level the probe (every n // 64-th sample) does not see
    assert one_more[:: n // _PROBE][1] != 0.5
    noisy = rng.standard_normal(n)
    gappy = noisy.copy()
    gappy[::3] = np.nan
    filled_off = levels.copy()
    filled_off[::2] = 9.97e36
    for x in (levels, one_more, noisy, gappy, filled_off, np.full(n, np.nan), levels[:200],
              noisy.astype(np.float32), np.round(noisy).astype(np.int16)):
        assert few_levels(x) is by_sort(np.asarray(x, dtype=np.float64))
    assert few_levels(levels) and not few_levels(one_more) and not few_levels(noisy)


def test_rails_at_both_ends_found_at_different_tail_levels_both_count() -> None:
    """A low rail with 1 % of samples past it is found at the 2 % level only, a high rail of
    1.2 % at the 0.5 % level only: both rails count (each level had been paired with its own
    share at the other end, and the window read 4.0 % clipped where 5.3 % of it is railed)."""
    from qualityfm.signal.extremes import clip_fraction

    rng = np.random.default_rng(0)
    x = rng.standard_normal(7500)
    lo, hi = np.quantile(x, 0.05), np.quantile(x, 0.985)
    x = np.clip(x, lo, hi)
    at_lo, at_hi = np.flatnonzero(x == lo), np.flatnonzero(x == hi)
    x[at_lo[:75]] = lo - 0.01 - 0.05 * rng.random(75)  # 1 % of samples past the low rail
    x[at_hi[:15]] = hi + 0.01 + 0.05 * rng.random(15)  # 0.2 % past the high rail
    railed = np.mean((x == lo) | (x == hi))
    assert _extremes_rule(x[None])[0] < 0.01
    assert railed - 1e-3 <= clip_fraction(x[None])[0] <= railed + 1e-3
    assert clip_fraction(x[::-1][None])[0] == clip_fraction(x[None])[0]
    assert clip_fraction(-x[None])[0] == clip_fraction(x[None])[0]  # either end
