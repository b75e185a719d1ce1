"""Synthetic ECG + PPG + ABP of simulated patients, with known rhythm and known artifacts.

The ECG is a sum of Gaussian P, Q, R, S and T waves placed on a beat-to-beat RR series (in the
spirit of McSharry et al., IEEE TBME 2003, without the ODE). Sinus rhythm has respiratory
sinus arrhythmia; atrial fibrillation (AF) has an irregular RR series, no P wave and a
fibrillatory baseline; ventricular tachycardia (VT) beats are fast, wide and have no P wave.
Each beat sends a pulse to the PPG and the ABP after a pulse-transit delay that shortens as the
blood pressure rises, with a pulse amplitude that grows with the preceding RR interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from qualityfm.io import Record
from qualityfm.io.wfdb_reader import VT_ALARM
from qualityfm.signal.artifacts import applicable_kinds, apply_artifacts, motion

SYNTHETIC_RHYTHMS = ("sinus", "af", "vt")
#: Challenge 2017 rhythm codes given to synthetic records (VT counts as "other rhythm").
RHYTHM_CODES = {"sinus": "N", "af": "A", "vt": "O"}

# Gaussian waves of one beat: amplitude (mV), centre relative to the R wave (s), width (s).
# The T-wave centre and width scale with sqrt(RR) (Bazett) in supraventricular beats.
_SINUS_WAVES = {
    "P": (0.15, -0.17, 0.025), "Q": (-0.12, -0.035, 0.010), "R": (1.2, 0.0, 0.011),
    "S": (-0.30, 0.035, 0.011), "T": (0.30, 0.28, 0.045),
}
_VT_WAVES = {"R": (1.4, 0.0, 0.035), "S": (-0.9, 0.09, 0.035), "T": (-0.35, 0.22, 0.05)}
# Pulse waves after the arrival time: (amplitude, centre s, width s).
_PPG_WAVES = ((1.0, 0.13, 0.055), (0.45, 0.33, 0.09))
_ABP_WAVES = ((1.0, 0.10, 0.045), (0.35, 0.32, 0.06))
_SINUS, _AF, _VT = 0, 1, 2


def _add_waves(n: int, fs: float, centres: np.ndarray, amps: np.ndarray,
               widths: np.ndarray) -> np.ndarray:
    """Sum of Gaussians ``amps * exp(-(t - centres)^2 / (2 widths^2))`` on ``n`` samples."""
    if len(centres) == 0:
        return np.zeros(n)
    h = int(np.ceil(4 * widths.max() * fs))
    idx = np.round(centres * fs).astype(np.int64)[:, None] + np.arange(-h, h + 1)
    vals = amps[:, None] * np.exp(-0.5 * ((idx / fs - centres[:, None]) / widths[:, None]) ** 2)
    ok = (idx >= 0) & (idx < n)
    return np.bincount(idx[ok], weights=vals[ok], minlength=n)


#: The shortest RR interval (s) of an AF record's irregular series (240 bpm), or 0.8 of its
#: mean RR where that is shorter (records over 192 bpm).
AF_MIN_RR = 0.25


def _floored_mean(r: np.ndarray, mean: float, floor: float) -> np.ndarray:
    """``r`` scaled to ``mean`` with every value at least ``floor`` (< ``mean``): the scale is
    found again after flooring, so the floor does not slow the record (a 250-bpm AF record's
    beats had run at 223 bpm under its label)."""
    scaled = mean * r / r.mean()
    if scaled.min() >= floor:
        return scaled
    lo, hi = 0.0, mean / r.mean()  # the mean of max(c r, floor) grows with c

    def floored(c: float) -> np.ndarray:
        return np.maximum(c * r, floor)

    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if floored(mid).mean() < mean else (lo, mid)
    return floored(0.5 * (lo + hi))


def beat_times(seconds: float, hr: float, rhythm: str, rng: np.random.Generator, *,
               hrv: float = 0.04, vt_runs: Sequence[tuple[float, float]] = (),
               vt_hr: float = 170.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R-wave times (s), RR before each beat (s) and beat kind (0 sinus, 1 AF, 2 VT).

    Beats cover ``[-1, seconds + 1]`` so waves near the edges are whole. ``vt_runs`` are
    ``(start, duration)`` spans in seconds replaced by VT beats at ``vt_hr``.
    """
    if rhythm not in ("sinus", "af"):
        raise ValueError(f"base rhythm must be 'sinus' or 'af', got {rhythm!r}")
    if not 20 <= hr <= 250:
        raise ValueError(f"hr must be in 20-250 bpm, got {hr}")
    if not 0 <= hrv <= 0.5:
        raise ValueError(f"hrv (relative RR modulation) must be in 0-0.5, got {hrv}")
    if vt_runs and not 20 <= vt_hr <= 300:
        raise ValueError(f"vt_hr must be in 20-300 bpm, got {vt_hr}")
    m = 60.0 / hr
    K = int(np.ceil((seconds + 4) / (0.4 * m))) + 4
    if rhythm == "sinus":
        f_resp, phase = rng.uniform(0.18, 0.3), rng.uniform(0, 2 * np.pi)
        jitter = np.convolve(rng.standard_normal(K + 4), np.ones(5) / 5, mode="valid")[:K]
        rr = m * (1 + hrv * np.sin(2 * np.pi * f_resp * m * np.arange(K) + phase)
                  + 0.01 * jitter)
    else:
        rr = rng.lognormal(0.0, 0.25, K)
        rr = _floored_mean(rr, m, min(AF_MIN_RR, 0.8 * m))
    t = -1.0 - rng.uniform(0, m) + np.cumsum(rr)
    kind = np.full(K, _SINUS if rhythm == "sinus" else _AF)
    keep = t <= seconds + 1.0
    t, rr, kind = t[keep], rr[keep], kind[keep]
    for start, duration in vt_runs:
        if duration <= 0:
            raise ValueError(f"VT run duration must be positive, got {duration}")
        out = (t < start - 0.15) | (t >= start + duration + 0.25)
        m_vt = 60.0 / vt_hr
        n_vt = int(np.ceil(duration / m_vt)) + 1
        t_vt = start + np.concatenate([[0.0], np.cumsum(m_vt * (1 + 0.03 * rng.standard_normal(
            n_vt - 1)))])
        t_vt = t_vt[t_vt < start + duration]
        t = np.concatenate([t[out], t_vt])
        kind = np.concatenate([kind[out], np.full(len(t_vt), _VT)])
        order = np.argsort(t, kind="stable")
        t, kind = t[order], kind[order]
        rr = np.diff(t, prepend=t[0] - m)
    return t, rr, kind


def _pulses(n: int, fs: float, arrival: np.ndarray, amp: np.ndarray,
            waves: tuple[tuple[float, float, float], ...]) -> np.ndarray:
    out = np.zeros(n)
    for a, c, w in waves:
        out += _add_waves(n, fs, arrival + c, amp * a, np.full(len(arrival), w))
    return out


def synthesize(
    seconds: float,
    fs: float = 300.0,
    hr: float = 75.0,
    rhythm: str = "sinus",
    artifacts: Mapping[str, float] | None = None,
    seed: int | np.random.Generator = 0,
    *,
    hrv: float = 0.04,
    vt_runs: Sequence[tuple[float, float]] | None = None,
    vt_hr: float = 170.0,
    ecg_amplitude: float = 1.0,
    ppg_amplitude: float = 1.0,
    ppg_dc: float = 20.0,
    sbp: float = 120.0,
    dbp: float = 80.0,
    ptt: float | None = None,
    noise: float = 0.005,
    channels: Sequence[str] = ("ecg_ii", "ppg", "abp"),
    record_id: str = "synthetic",
    patient_id: str | None = None,
) -> Record:
    """One simulated patient: ``ecg_ii`` (mV), ``ppg`` (NU) and ``abp`` (mmHg) at ``fs`` Hz.

    ``rhythm``: ``"sinus"`` or ``"af"`` at ``hr`` bpm, or ``"vt"`` (VT throughout at ``vt_hr``);
    ``vt_runs`` adds VT runs ``(start s, duration s)`` at ``vt_hr`` to a sinus or AF record.
    ``artifacts`` maps artifact kinds (see ``ARTIFACTS``) to strengths in
    [0, 1], applied to the ECG and the PPG over the whole record (ABP stays clean).
    ``ptt`` (s) defaults to 0.25 s at 120 mmHg systolic, 2 ms shorter per mmHg more.
    ``labels`` hold the truth: rhythm (as Challenge 2017 codes and by name), hr (a VT
    record's: ``vt_hr``), sbp, dbp (the peaks and troughs of a sinus or AF beat up to about
    150 bpm; a VT beat's pulse pressure is 0.35 of ``sbp - dbp``, scaled by its RR over the
    base rhythm's, 0.3-1.5 times (a record VT throughout: over its own, so ``hr`` plays no
    part), and faster beats overlap, raising both),
    the R-peak times ``r_peaks`` (s) and the VT runs.
    """
    if rhythm not in SYNTHETIC_RHYTHMS:
        raise ValueError(f"rhythm must be one of {SYNTHETIC_RHYTHMS}, got {rhythm!r}")
    if not seconds > 0 or not fs > 0:
        raise ValueError(f"seconds and fs must be positive, got {seconds}, {fs}")
    if not sbp > dbp > 0:
        raise ValueError(f"need sbp > dbp > 0 mmHg, got sbp={sbp}, dbp={dbp}")
    unknown = [c for c in channels if c not in ("ecg_ii", "ppg", "abp")]
    if unknown:
        raise ValueError(f"synthesize makes ecg_ii, ppg and abp; unknown channel(s) {unknown}")
    rng = np.random.default_rng(seed)  # (a Generator comes back as it is)
    n = int(round(seconds * fs))
    if n < 1:  # (an empty record had failed in the artifacts' reshape)
        raise ValueError(f"{seconds} s at {fs} Hz is no sample: give a longer record")
    t = np.arange(n) / fs
    runs = list(vt_runs or [])
    if rhythm == "vt":
        runs = [(-1.5, seconds + 3.0)] + runs
    base = "af" if rhythm == "af" else "sinus"
    times, rr, kind = beat_times(seconds, hr, base, rng, hrv=hrv, vt_runs=runs,
                                 vt_hr=vt_hr)
    m = 60.0 / hr
    f_resp, resp_phase = rng.uniform(0.18, 0.3), rng.uniform(0, 2 * np.pi)
    resp = np.sin(2 * np.pi * f_resp * t + resp_phase)

    # ECG: per-patient morphology, per-beat jitter.
    ecg = np.zeros(n)
    scale_rr = np.sqrt(np.clip(rr, 0.3, 2.0))
    for waves, kinds in ((_SINUS_WAVES, (_SINUS, _AF)), (_VT_WAVES, (_VT,))):
        sel = np.isin(kind, kinds)
        for name, (a, c, w) in waves.items():
            beats = sel & (kind != _AF) if name == "P" else sel
            k = int(beats.sum())
            amp = a * rng.uniform(0.8, 1.2) * (1 + 0.03 * rng.standard_normal(k))
            if name == "T" and waves is _SINUS_WAVES:
                centre, width = c * scale_rr[beats], w * scale_rr[beats]
            else:
                centre, width = np.full(k, c), np.full(k, w)
            ecg += _add_waves(n, fs, times[beats] + centre, amp, width)
    if rhythm == "af":
        f1, f2 = rng.uniform(4.5, 7.0), rng.uniform(4.5, 7.0)
        drift = np.cumsum(0.3 * rng.standard_normal(n)) / fs  # slow frequency wobble
        fib = (np.sin(2 * np.pi * f1 * t + drift) + 0.6 * np.sin(2 * np.pi * f2 * t - drift))
        ecg += 0.05 * fib / 1.6 * rng.uniform(0.6, 1.4)
    ecg = ecg_amplitude * (ecg * (1 + 0.05 * resp)) + noise * ecg_amplitude * rng.standard_normal(n)

    # Pulses: amplitude from the preceding RR, weak in VT (poor perfusion).
    ptt = float(np.clip(0.25 - 0.002 * (sbp - 120.0), 0.12, 0.4)) if ptt is None else ptt
    base_rr = 60.0 / vt_hr if rhythm == "vt" else m  # (hr had set a VT record's pulses)
    amp = np.clip(rr / base_rr, 0.3, 1.5) * np.where(kind == _VT, 0.35, 1.0)
    amp = amp * (1 + 0.02 * rng.standard_normal(len(amp)))
    # Every channel is made, and the random draws run in one order, whichever are asked for:
    # a seed gives the same ECG with or without the PPG.
    pulse = _pulses(n, fs, times + ptt, amp, _PPG_WAVES)
    ppg = ppg_dc + ppg_amplitude * (pulse * (1 + 0.1 * resp) + 0.05 * resp)
    signals = {"ecg_ii": ecg, "ppg": ppg + 0.002 * ppg_amplitude * rng.standard_normal(n)}
    pulse = _pulses(n, fs, times + 0.6 * ptt, amp, _ABP_WAVES)
    signals["abp"] = dbp + (sbp - dbp) * pulse + 1.5 * resp
    if artifacts:
        for ch in ("ecg_ii", "ppg"):
            signals[ch] = apply_artifacts(signals[ch], fs, rng, dict(artifacts))
    signals = {c: signals[c] for c in ("ecg_ii", "ppg", "abp") if c in channels}
    inside = (times >= 0) & (times < seconds)
    labels = {
        # the rate its beats run at: a VT record's is vt_hr's (hr had been said there)
        "rhythm": RHYTHM_CODES[rhythm], "synthetic_rhythm": rhythm,
        "hr": float(vt_hr if rhythm == "vt" else hr),
        "sbp": float(sbp), "dbp": float(dbp), "r_peaks": times[inside],
        "vt_runs": [(float(a), float(d)) for a, d in runs],
        "artifacts": dict(artifacts or {}),
    }
    units = {"ecg_ii": "mV", "ppg": "NU", "abp": "mmHg"}
    return Record(
        record_id=record_id,
        signals={c: v.astype(np.float32) for c, v in signals.items()},
        fs={c: float(fs) for c in signals},
        units={c: units[c] for c in signals},
        patient_id=patient_id or record_id,
        source="synthetic",
        labels=labels,
    )


def _patient(rng: np.random.Generator) -> dict:
    """Random patient-level settings for :func:`synthesize`."""
    sbp = rng.uniform(95, 165)
    return {
        "hr": rng.uniform(52, 110), "hrv": rng.uniform(0.01, 0.06),
        "ecg_amplitude": rng.uniform(0.5, 2.0), "ppg_amplitude": rng.uniform(0.3, 3.0),
        "ppg_dc": rng.uniform(10, 60), "sbp": sbp, "dbp": sbp * rng.uniform(0.52, 0.68),
    }


def _artifact_segments(record: Record, fs: float, seconds: float, rng: np.random.Generator,
                       spans: Sequence[tuple[float, float]], max_strength: float,
                       kinds: Sequence[str] | None = None) -> list[tuple]:
    """Corrupt ECG and PPG over each span with 1-3 random kinds (default: those that apply at
    ``fs``); returns the applied segments."""
    kinds = applicable_kinds(fs) if kinds is None else kinds
    applied = []
    for a, b in spans:
        s = float(rng.uniform(0.1, max_strength))
        chosen = list(rng.choice(kinds, size=int(rng.integers(1, 4)), replace=False))
        i0, i1 = int(round(a * fs)), min(int(round(b * fs)), int(round(seconds * fs)))
        chans = [c for c in ("ecg_ii", "ppg") if c in record.signals]
        hit = [c for c in chans if rng.random() < 0.8] or chans[:1]
        if i1 <= i0:  # a last span under half a sample long (the draws above kept the stream)
            continue
        for c in hit:
            x = record.signals[c]
            x[i0:i1] = apply_artifacts(x[i0:i1], fs, rng, {k: s for k in chosen})
        applied.append((float(a), float(b), s, chosen, hit))
    return applied


def synthetic_corpus(n_records: int, seconds: float = 300.0, seed: int = 0,
                     fs: float = 300.0, af_fraction: float = 0.2) -> list[Record]:
    """Records whose quality changes over time, for pre-training demos.

    Each record alternates clean stretches and artifact stretches (10-60 s, strength 0.1-1,
    one to three kinds). ``labels["artifact_strength"]`` is the true strength per second
    (float32, 1 Hz, ``ceil(seconds)`` values, 0 where clean); ``labels["artifact_segments"]``
    lists ``(start s, stop s, strength, kinds, channels)``.
    """
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_records):
        p = _patient(rng)
        rhythm = "af" if rng.random() < af_fraction else "sinus"
        rid = f"syn_{seed}_{i:04d}"
        rec = synthesize(seconds, fs, rhythm=rhythm, seed=int(rng.integers(2**32)),
                         record_id=rid, patient_id=rid, **p)
        spans, t, dirty = [], 0.0, bool(rng.random() < 0.5)
        while t < seconds:
            d = float(rng.uniform(10, 60))
            if dirty:
                spans.append((t, min(t + d, seconds)))
            t, dirty = t + d, not dirty
        segs = _artifact_segments(rec, fs, seconds, rng, spans, 1.0)
        strength = np.zeros(int(np.ceil(seconds)), np.float32)
        for a, b, s, _, _ in segs:
            strength[int(np.floor(a)): int(np.ceil(b))] = s
        rec.labels.update(artifact_strength=strength, artifact_segments=segs)
        out.append(rec)
    return out


def synthetic_alarm_records(n: int, seed: int = 0, *, true_fraction: float = 0.35,
                            seconds: float = 300.0, post: float = 0.0, fs: float = 250.0,
                            ppg_missing: float = 0.2, abp_present: float = 0.3) -> list[Record]:
    """A synthetic VT-alarm task shaped like the PhysioNet/CinC Challenge 2015 VT alarms.

    Records last ``seconds + post`` s at ``fs`` Hz with the alarm at ``events["alarm"] =
    seconds``. True alarms have a VT run (140-220 bpm) starting 4-10 s before the alarm and
    lasting past it; false alarms are sinus or AF rhythm with a fast (2.3-4 Hz) wide motion
    burst on the ECG in the last 10 s (sometimes on the PPG too). Both have mild artifacts
    elsewhere. Patients, heart rates and amplitudes vary; the PPG is absent in a fraction
    ``ppg_missing`` of records, ABP present in ``abp_present``. Labels follow the Challenge
    2015 reader: ``alarm_type = "Ventricular_Tachycardia"``, ``alarm_true``.
    """
    if not 0 <= true_fraction <= 1:
        raise ValueError(f"true_fraction must be in [0, 1], got {true_fraction}")
    rng = np.random.default_rng(seed)
    total = seconds + post
    out = []
    n_true = int(round(true_fraction * n))
    truth = rng.permutation(np.arange(n) < n_true)
    for i in range(n):
        p = _patient(rng)
        is_true = bool(truth[i])
        chans = ["ecg_ii"]
        if rng.random() >= ppg_missing:
            chans.append("ppg")
        if rng.random() < abp_present:
            chans.append("abp")
        rhythm = "af" if rng.random() < 0.15 else "sinus"
        runs = []
        if is_true:
            start = seconds - rng.uniform(4, 10)
            runs.append((start, max(seconds - start + rng.uniform(0, 10), 4.0)))
        rid = f"syn_vt{seed}_{i:04d}"
        rec = synthesize(total, fs, rhythm=rhythm, seed=int(rng.integers(2**32)), vt_runs=runs,
                         vt_hr=rng.uniform(140, 220), channels=chans, record_id=rid,
                         patient_id=rid, **p)
        if not is_true:
            dur = rng.uniform(3, 8)
            start = seconds - rng.uniform(dur, 10)
            hit = ["ecg_ii"] + (["ppg"] if "ppg" in rec.signals and rng.random() < 0.3 else [])
            for c in hit:
                x = rec.signals[c]
                rec.signals[c] = motion(x, fs, rng, rng.uniform(0.5, 1.0), n_bursts=1,
                                        duration=(dur, dur), freq=(2.3, 4.0), start=start)
        if rng.random() < 0.5:  # mild artifacts earlier in the record, for both classes
            a = rng.uniform(0, max(seconds - 40, 1))
            _artifact_segments(rec, fs, total, rng, [(a, a + rng.uniform(5, 30))], 0.4)
        rec.labels.pop("rhythm")  # Challenge 2015 records carry no rhythm label
        rec.labels.update(alarm_type=VT_ALARM, alarm_true=is_true)
        rec.events["alarm"] = float(seconds)
        out.append(rec)
    return out
