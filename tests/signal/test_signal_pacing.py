"""Pacemaker stimuli taken out of an ECG at its own rate (signal.pacing), where they can be told
from a QRS; nothing done at the rates where they cannot."""

from __future__ import annotations

import numpy as np
import pytest

from qualityfm.io import Record
from qualityfm.quality import detect_r_peaks, ecg_quality, score_windows
from qualityfm.signal import WindowConfig, fill_nan, make_windows, resample, synthesize
from qualityfm.signal.pacing import MIN_PACING_FS, pacing_spikes, remove_pacing_spikes


def _asystole(fs: float, seconds: float = 30.0, mv: float = 5.0, rate: float = 60.0,
              biphasic: bool = False) -> np.ndarray:
    """Noise of 5 uV SD with a one-sample stimulus of ``mv`` at ``rate`` per minute, no QRS
    (docs/results.md's paced asystole); ``biphasic``: the next sample at ``-mv``."""
    x = 0.005 * np.random.default_rng(0).standard_normal(int(seconds * fs))
    at = np.arange(int(fs // 2), len(x) - 2, int(60.0 / rate * fs))
    x[at] += mv
    if biphasic:
        x[at + 1] -= mv
    return x


def _ecg(fs: float, hr: float = 70.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rec = synthesize(30.0, fs, hr=hr, seed=seed, channels=("ecg_ii",))
    return (rec.signals["ecg_ii"].astype(np.float64),
            np.round(rec.labels["r_peaks"] * fs).astype(int))


@pytest.mark.parametrize("fs", [250.0, 500.0, 1000.0])
@pytest.mark.parametrize("biphasic", [False, True])
def test_a_paced_asystole_scores_low(fs: float, biphasic: bool) -> None:
    """It had scored 0.98-1.0, every stimulus a beat."""
    x = _asystole(fs, biphasic=biphasic)
    assert ecg_quality(x, fs) < 0.1
    y, found = pacing_spikes(x, fs)
    assert found.sum() == 30 * (2 if biphasic else 1)
    assert ecg_quality(y, fs) < 0.1


@pytest.mark.parametrize("fs", [250.0, 500.0])
def test_a_paced_asystole_scores_low_in_its_300_hz_windows(fs: float) -> None:
    """The store scores windows at 300 Hz, where a resampled stimulus spans several samples
    (a despiking at the detector alone had left it 0.56): the windows are cut without them."""
    rec = Record("paced", {"ecg_ii": _asystole(fs, 60.0)}, {"ecg_ii": fs})
    w = make_windows(rec, WindowConfig(channels=("ecg_ii",)))
    assert len(w) == 2
    assert np.abs(w.x[:, 0]).max() < 0.1  # no stimulus left in them
    scores = score_windows(w.x, w.mask, w.fs, w.channels, recorded=w.recorded,
                           clipped=w.clipped, filled=w.filled)
    assert (scores.ecg < 0.1).all()


@pytest.mark.parametrize("fs", [250.0, 500.0, 1000.0])
def test_paced_beats_count_once_and_failed_stimuli_not_at_all(fs: float) -> None:
    ecg, true = _ecg(fs, hr=50, seed=2)
    tol = int(0.05 * fs)
    stim = true - int(0.04 * fs)  # a ventricular stimulus 40 ms before the R
    half = int(np.median(np.diff(true))) // 2
    captured = ecg.copy()
    captured[stim[stim > 2]] += 5.0
    failed = captured.copy()  # 1:2 failure to capture: a stimulus midway, no QRS after it
    failed[(stim + half)[stim + half < len(ecg) - 3]] += 5.0
    for x in (captured, failed):
        found = detect_r_peaks(x, fs)[0]
        assert len(found) == len(true)
        assert (np.abs(true[:, None] - found[None, :]).min(axis=1) <= tol).all()
    assert abs(ecg_quality(captured, fs) - ecg_quality(ecg, fs)) < 0.01
    assert abs(ecg_quality(failed, fs) - ecg_quality(ecg, fs)) < 0.01


@pytest.mark.parametrize("fs", [250.0, 300.0, 360.0, 500.0, 1000.0])
@pytest.mark.parametrize("hr", [50.0, 90.0, 150.0])
def test_ordinary_ecg_keeps_every_sample(fs: float, hr: float) -> None:
    ecg, _ = _ecg(fs, hr=hr, seed=int(hr))
    noisy = ecg + 0.02 * np.random.default_rng(1).standard_normal(len(ecg))
    for x in (ecg, noisy):
        y, found = pacing_spikes(x, fs)
        assert not found.any()
        assert y is x


@pytest.mark.parametrize("fs", [62.5, 125.0, 128.0])
def test_nothing_is_done_where_a_stimulus_and_an_r_apex_are_alike(fs: float) -> None:
    """At 62.5-128 Hz an R apex is a sample wide too: a despiking there had flattened real R
    peaks (BIDMC at 62.5 Hz: 1890 matched beats fell to 1751). Those ECG are untouched."""
    assert fs < MIN_PACING_FS
    ecg, _ = _ecg(fs)
    ecg[np.arange(int(fs), len(ecg) - 2, int(fs))] += 5.0  # stimuli too: left in
    assert remove_pacing_spikes(ecg, fs) is ecg
    assert not pacing_spikes(ecg, fs)[1].any()
    raw = ecg.astype(np.float32)
    w = make_windows(Record("r", {"ecg_ii": raw}, {"ecg_ii": fs}),
                     WindowConfig(channels=("ecg_ii",), seconds=10.0))
    expect = resample(fill_nan(raw), fs, w.fs)
    np.testing.assert_array_equal(w.x[:, 0].ravel(), expect[: w.x[:, 0].size])
    # the asystole's stimuli read as beats still: a sample of 8-16 ms is no narrower than
    # an R apex there
    assert len(detect_r_peaks(_asystole(fs), fs)[0]) == 30


def test_ringing_and_bursts_are_no_stimuli() -> None:
    """A filter's ringing after a step (lead off), or a burst of spikes, is left as it is:
    no other stimulus-like run may lie within 50 ms."""
    fs = 250.0
    x = 0.005 * np.random.default_rng(3).standard_normal(int(10 * fs))
    k = np.arange(20)
    x[1000:1020] += 2.0 * (-1.0) ** k * np.exp(-k / 6.0)  # ringing at the Nyquist rate
    x[1500:1540:4] += 3.0  # a burst of spikes 16 ms apart
    assert not pacing_spikes(x, fs)[1].any()


def test_a_window_edge_is_no_stimulus() -> None:
    """The first and last samples lack flanks to judge them by: left as they are (the first
    two samples of a window had been taken for a stimulus)."""
    fs = 300.0
    x = 0.005 * np.random.default_rng(4).standard_normal(int(10 * fs))
    x[1] += 1.0
    x[-2] -= 1.0
    assert not pacing_spikes(x, fs)[1].any()
    x[1500] += 1.0  # one inside is taken
    assert np.flatnonzero(pacing_spikes(x, fs)[1]).tolist() == [1500]


def test_chunks_and_rows_find_what_one_pass_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The noise and the candidates are found chunk by chunk (a day-long record needs no
    float64 copy of itself) and rows together: chunks of a few samples give the same."""
    import qualityfm.signal.pacing as pacing

    fs = 500.0
    rows = np.stack([_asystole(fs, 25.0), _ecg(fs)[0][: int(25 * fs)], _asystole(fs, 25.0, -3.0)])
    rows[1, 5000] += 4.0  # one stimulus amid the beats
    whole = [pacing_spikes(r, fs) for r in rows]
    assert [int(f.sum()) for _, f in whole] == [25, 1, 25]
    for chunk in (7, 4999, 1 << 21):
        monkeypatch.setattr(pacing, "_CHUNK", chunk)
        y, found = pacing_spikes(rows, fs)
        for r, (y1, f1) in enumerate(whole):
            np.testing.assert_array_equal(found[r], f1)
            np.testing.assert_array_equal(y[r], y1)


def test_integer_samples_are_stepped_without_wrapping() -> None:
    """ADC counts (int16) at the ends of their range: a step between them computed in int16
    wraps (-32000 to 32767 read as a step of 769), and the stimulus had been missed."""
    fs = 250.0
    noise = 300 * np.random.default_rng(5).standard_normal(int(10 * fs))
    x = np.clip(-32000 + noise, -32768, 32767).astype(np.int16)
    x[1000] = 32767
    y, found = pacing_spikes(x, fs)
    assert np.flatnonzero(found).tolist() == [1000]
    assert y.dtype == np.float64 and y[1000] < -30000


@pytest.mark.parametrize("layout", ["fortran", "transposed"])
def test_stimuli_come_out_of_inputs_of_any_memory_layout(layout: str) -> None:
    """A [a, b, T] of Fortran order or a transposed view had been despiked in a copy of its
    rows: the mask marked the stimuli, the samples returned still held them."""
    x = 0.005 * np.random.default_rng(3).standard_normal((2, 3, 5000))
    x[..., [1000, 2000, 3000]] += 5.0
    given = (np.asfortranarray(x) if layout == "fortran"
             else np.ascontiguousarray(x.transpose(2, 1, 0)).transpose(2, 1, 0))
    y, found = pacing_spikes(given, 250.0)
    assert found.sum() == 18
    assert np.abs(y).max() < 0.1
    np.testing.assert_array_equal(y, pacing_spikes(np.ascontiguousarray(x), 250.0)[0])
    np.testing.assert_array_equal(remove_pacing_spikes(given, 250.0), y)


def test_a_sensor_off_lead_with_stimuli_stays_flat_in_its_windows() -> None:
    """The flat and clip figures read the samples as recorded: a stimulus's stand-in on the
    line between two ADC codes (-0.5 between -1 and 0) had been one level more, and the
    windows of a lead off (an ADC toggling over 3 codes) usable."""
    fs = 250.0
    x = np.random.default_rng(0).integers(-1, 2, int(60 * fs)).astype(np.float64)
    x[125::250] = 500.0
    assert pacing_spikes(x, fs)[1].sum() == 60
    w = make_windows(Record("off", {"ecg_ii": x}, {"ecg_ii": fs}),
                     WindowConfig(channels=("ecg_ii",)))
    assert len(w) == 0 and [why for _, why in w.rejected] == ["ecg_ii: flat"] * 2


@pytest.mark.parametrize("fs", [250.0, 500.0, 1000.0])
@pytest.mark.parametrize("apart_s", [0.004, 0.008, 0.012, 0.02, 0.04])
def test_a_biventricular_pair_of_stimuli_is_taken_out(fs: float, apart_s: float) -> None:
    """A biventricular pacer fires its two leads 0-40 ms apart: such a pair had been taken
    for a ringing (no other run within 50 ms) and left in, a paced asystole scoring 0.75-0.84,
    and one 4-12 ms apart, the second within the first's flank, 0.97-1.0."""
    x = _asystole(fs)
    at = np.flatnonzero(x > 1.0)
    x[at + int(round(apart_s * fs))] += 5.0
    y, found = pacing_spikes(x, fs)
    assert found.sum() >= 60 and np.abs(y).max() < 0.1
    assert ecg_quality(x, fs) < 0.1


@pytest.mark.parametrize("fs", [500.0, 1000.0])
def test_a_biphasic_stimulus_through_zero_is_taken_out(fs: float) -> None:
    """[+5, 0, -5]: the middle sample lies on the line between the neighbours; every sample
    of a run had had to lie off it, and such a paced asystole scored 0.99-1.0."""
    x = _asystole(fs)
    at = np.flatnonzero(x > 1.0)
    x[at + 2] -= 5.0
    y, found = pacing_spikes(x, fs)
    assert found.sum() == 90 and np.abs(y).max() < 0.1
    assert ecg_quality(x, fs) < 0.1


def test_a_clipped_lead_and_a_lead_off_keep_their_figures_beside_stimuli() -> None:
    """The flat and clip figures leave the stimuli out: a stimulus past a clipped lead's rail
    had made the rail samples no extreme (22 % clipped read as 0, the lead scored 1.0), and
    stimuli of varying height had kept a sensor-off lead's windows usable."""
    fs = 250.0
    ecg, true = _ecg(fs)
    clipped = np.minimum(ecg, 0.1)
    bare = make_windows(Record("c", {"ecg_ii": clipped}, {"ecg_ii": fs}),
                        WindowConfig(channels=("ecg_ii",), seconds=10.0))
    stim = clipped.copy()
    stim[true - int(0.04 * fs)] += 5.0
    paced = make_windows(Record("c", {"ecg_ii": stim}, {"ecg_ii": fs}),
                         WindowConfig(channels=("ecg_ii",), seconds=10.0))
    assert bare.clipped.min() > 0.15
    np.testing.assert_allclose(paced.clipped, bare.clipped, atol=0.01)
    off = np.random.default_rng(0).integers(-1, 2, int(60 * fs)).astype(np.float64)
    off[125::250] = 480.0 + 20.0 * np.random.default_rng(1).random(60)  # by sampling phase
    w = make_windows(Record("off", {"ecg_ii": off}, {"ecg_ii": fs}),
                     WindowConfig(channels=("ecg_ii",)))
    assert len(w) == 0 and [why for _, why in w.rejected] == ["ecg_ii: flat"] * 2


def test_the_task_windows_judge_a_lead_off_without_its_stimuli() -> None:
    """As make_windows: a sensor-off lead (an ADC over 3 codes) with stimuli of varying height
    had passed the task windows' flat check, its despiked samples read as an ECG."""
    from qualityfm.tasks.datasets import _raw_pieces

    fs = 250.0
    off = np.random.default_rng(0).integers(-1, 2, int(30 * fs)).astype(np.float32)
    off[125::250] = 480.0 + 20.0 * np.random.default_rng(1).random(30)
    ppg = synthesize(30.0, 125.0, seed=0, channels=("ppg",)).signals["ppg"]
    rec = Record("off", {"ecg_ii": off, "ppg": ppg}, {"ecg_ii": fs, "ppg": 125.0})
    assert sorted(_raw_pieces(rec, 0.0, 30.0)) == ["ppg"]
    ecg, true = _ecg(fs)
    ecg[true - int(0.04 * fs)] += 5.0  # a paced rhythm keeps its lead, the stimuli out
    rec = Record("paced", {"ecg_ii": ecg.astype(np.float32)}, {"ecg_ii": fs})
    assert np.abs(_raw_pieces(rec, 0.0, 30.0)["ecg_ii"]).max() < 3.0


def test_a_span_cut_beside_a_stimulus_still_finds_a_lead_off() -> None:
    """A stimulus within a flank of a task span's end is not judged: it had stayed in the
    flat check and kept a sensor-off lead usable where make_windows, reading the whole
    record, found it off."""
    from qualityfm.tasks.datasets import _raw_pieces

    fs = 250.0
    rng = np.random.default_rng(0)
    off = rng.integers(0, 4, int(60 * fs)).astype(np.float64)  # 4 ADC codes
    off[125::250] = 480.0 + 20.0 * rng.random(60)
    rec = Record("off", {"ecg_ii": off}, {"ecg_ii": fs})
    for t0 in ((125 + 2500 - 1) / fs, (125 + 2500 + 3) / fs - 10.0):  # its 2nd, last-3rd sample
        assert _raw_pieces(rec, t0, t0 + 10.0) == {}


def test_a_ringing_after_a_step_is_no_pair() -> None:
    """Two overshoots at a step stand off their own neighbours, but the pair's outer
    neighbours differ by the step: it ends elsewhere than it began (they had been smoothed
    away as a biventricular pair)."""
    fs = 250.0
    x = 0.005 * np.random.default_rng(6).standard_normal(int(10 * fs))
    x[1500:] += 5.0
    x[1499], x[1500], x[1501] = 6.0, 2.5, 9.0
    assert not pacing_spikes(x, fs)[1].any()


def test_the_noise_screen_spread_over_a_chunk_is_each_sample_s_bound() -> None:
    """The screen's per-sample bound (one repeat per block, the last block joined to the one
    before) is the bound _at looks up for each sample, in any chunk (the speed-up of the
    candidate screen: the same candidates, found in one pass)."""
    from qualityfm.signal.pacing import _at, _spread

    bound = np.random.default_rng(0).random((3, 5))
    block, t = 7, 5 * 7 + 6  # the last block holds 13 samples
    for lo, hi in [(0, t), (3, 8), (7, 14), (6, 7), (30, t), (35, t), (40, 41), (2, 40)]:
        rows = np.repeat(np.arange(3), hi - lo)
        at = np.tile(np.arange(lo, hi), 3)
        assert np.array_equal(_spread(bound, block, lo, hi).ravel(),
                              _at(bound, block, rows, at)), (lo, hi)
