"""Channel naming: derived numerics, numbered leads and arterial lines."""

from __future__ import annotations

import numpy as np
import pytest

from qualityfm.io import Record, canonical_channel, canonical_names
from qualityfm.signal import WindowConfig, make_windows


@pytest.mark.parametrize("label", [
    "Pleth HR", "PLETH_SPO2", "Solar8000/PLETH_HR", "PlethHR", "PLETH_SAT", "Pleth PI",
    "PPG rate", "Pleth Pulse Rate", "PLETH (bpm)", "PPG_PR",
])
def test_derived_numerics_are_no_waveform(label: str) -> None:
    name = canonical_channel(label)
    assert name not in ("ppg", "ecg", "abp") and name.startswith(("pleth", "ppg", "solar8000"))


@pytest.mark.parametrize("label", ["PLETH", "Pleth", "PPG", "SNUADC/PLETH", "Plethysmogram",
                                   "PLETH2", "SpO2 Wave", "PPG wave"])
def test_pleth_waveforms_stay_ppg(label: str) -> None:
    assert canonical_channel(label) == "ppg"


def test_pleth_hr_beside_pleth_leaves_the_pleth_as_ppg() -> None:
    assert canonical_names(["Pleth HR", "PLETH", "II"]) == ["pleth_hr", "ppg", "ecg_ii"]


def test_numbered_ecg_leads_arterial_lines_and_modified_leads() -> None:
    assert canonical_names(["ECG1", "ECG2"]) == ["ecg", "ecg_2"]
    assert canonical_channel("ECG2") == "ecg" and canonical_channel("EKG 1") == "ecg"
    assert canonical_channel("MLIII") == "ecg_iii" and canonical_channel("MLII") == "ecg_ii"
    assert [canonical_channel(c) for c in ("Lead2", "LEAD 1", "SpO2 pleth", "SPO2_PLETH")] == [
        "ecg_ii", "ecg_i", "ppg", "ppg"]
    assert canonical_channel("SpO2") == "spo2"  # the saturation number, not the wave
    assert canonical_channel("ECG II") == "ecg_ii" and canonical_channel("ECG V5") == "ecg_v5"
    assert canonical_channel("EKG II") == "ecg_ii" and canonical_channel("EKG V5") == "ecg_v5"
    for label in ("ART1", "ART 1", "ART", "ABP2", "IBP1", "IBP2", "FAP", "UAP", "SNUADC/FEM"):
        assert canonical_channel(label) == "abp", label  # IBP2, FAP, FEM: had kept their own
    # a wave named so, as Pleth wave and ART wave are (ECG Wave had been ecg_wave, no ECG)
    assert [canonical_channel(c) for c in ("ECG Wave", "II wave", "ECG II Wave", "Resp Wave")
            ] == ["ecg", "ecg_ii", "ecg_ii", "resp"]


def test_described_labels_name_their_signal_and_lead() -> None:
    """The MIMIC PERform WFDB files name each signal "TYPE, description" (their converter
    writes ``ECG, ECG recorded using bedside monitor, lead II``): the ECG had been an unknown
    channel, and the af task read those records' PPG alone without a word."""
    assert canonical_names(["PPG, Fingertip PPG recorded using bedside monitor",
                            "ECG, ECG recorded using bedside monitor, lead II",
                            "resp, Impedance pneumography recorded using bedside monitor"]) == [
        "ppg", "ecg_ii", "resp"]
    assert [canonical_channel(f"ECG, bedside monitor, lead {lead}")
            for lead in ("I", "III", "V", "V5", "MCL1", "aVR")] == [
        "ecg_i", "ecg_iii", "ecg_v", "ecg_v5", "ecg_mcl", "ecg_avr"]
    assert canonical_channel("ECG, no lead named") == "ecg"  # stands for lead II when alone
    # a derived number keeps its own name (a mean-pressure trend named "ABP, Mean" must not
    # take the arterial line's name); other waveforms are named as the PERform ones
    assert [canonical_channel(n) for n in (
        "ABP, arterial blood pressure recorded using invasive line",
        "ART, radial arterial line", "CVP, central venous pressure",
        "Resp, impedance pneumography (trend removed)")] == ["abp", "abp", "cvp", "resp"]
    assert [canonical_channel(n) for n in ("ECG, HR", "Pleth, HR", "foo, bar", "ABP, Mean",
                                           "ART, Systolic", "ECG, ST II", "CO2, EtCO2")] == [
        "ecg_hr", "pleth_hr", "foo_bar", "abp_mean", "art_systolic", "ecg_st_ii", "co2_etco2"]
    assert canonical_names(["ABP, Mean", "ABP"]) == ["abp_mean", "abp"]
    assert [canonical_channel(n) for n in ("ABP, MAP", "ABP, trend", "ART, pulse pressure",
                                           "ABP, PP", "PAP, wedge", "CVP, trend")] == [
        "abp_map", "abp_trend", "art_pulse_pressure", "abp_pp", "pap_wedge", "cvp_trend"]


def test_unnamed_numbered_lead_feeds_the_model_ecg() -> None:
    fs, n = 250.0, 7500
    t = np.arange(n) / fs
    ecg = (np.sin(2 * np.pi * 1.2 * t) ** 15).astype(np.float32)
    names = canonical_names(["ECG1", "ECG2"])
    rec = Record("nsr", {c: ecg.copy() for c in names}, {c: fs for c in names})
    win = make_windows(rec, WindowConfig())
    assert win.sources == {"ecg_ii": "ecg"} and win.fallback
    assert win.mask[:, 1].all() and not win.mask[:, 0].any()


def test_a_record_refuses_a_channel_that_is_no_1d_signal() -> None:
    import numpy as np
    import pytest

    from qualityfm.io import Record, RecordError

    ecg = np.zeros(100, np.float32)
    with pytest.raises(RecordError, match=r"record b: channel 'ecg_ii' must be a 1-D array of "
                                          r"numbers, got shape \[2, 100\]"):
        Record("b", {"ecg_ii": np.stack([ecg, ecg])}, {"ecg_ii": 100.0})
    with pytest.raises(RecordError, match="channel 'ppg' must be a 1-D array of numbers"):
        Record("b", {"ppg": np.array(["1", "2"])}, {"ppg": 100.0})
    assert Record("b", {"ecg_ii": ecg, "flag": np.ones(3, bool)}, {"ecg_ii": 1.0, "flag": 1.0})
    # a rate of 0 (a ZeroDivisionError deep in a task build) or a NaN alarm time is named
    with pytest.raises(RecordError, match=r"record b: sampling rates must be finite numbers > 0 "
                                          r"Hz, got \{'ecg_ii': 0.0\}"):
        Record("b", {"ecg_ii": ecg}, {"ecg_ii": 0.0})
    with pytest.raises(RecordError, match=r"record b: event times must be finite seconds, got "
                                          r"\{'alarm': nan\}"):
        Record("b", {"ecg_ii": ecg}, {"ecg_ii": 100.0}, events={"alarm": float("nan")})
    # text passes no longer (it had failed later, in a comparison: TypeError)
    with pytest.raises(RecordError, match=r"sampling rates .* got \{'ecg_ii': '250'\}"):
        Record("b", {"ecg_ii": ecg}, {"ecg_ii": "250"})
    with pytest.raises(RecordError, match=r"event times .* got \{'alarm': '300'\}"):
        Record("b", {"ecg_ii": ecg}, {"ecg_ii": 100.0}, events={"alarm": "300"})
    assert Record("b", {"ecg_ii": ecg}, {"ecg_ii": np.float32(250)}, events={"alarm": 3})
    # a 0-d array (a rate read by np.load(...)["fs"]) is its number (refused in session 44)
    r = Record("b", {"ecg_ii": ecg}, {"ecg_ii": np.array(250.0)}, events={"a": np.array(3)})
    assert r.fs == {"ecg_ii": 250.0} and r.events == {"a": 3} and r.duration() == 0.4
    with pytest.raises(RecordError, match=r"sampling rates .* got \{'ecg_ii': '250'\}"):
        Record("b", {"ecg_ii": ecg}, {"ecg_ii": np.array("250")})


def test_a_second_channel_of_a_name_keeps_its_name_through_a_file(tmp_path) -> None:
    """canonical_names' ecg_v_2 had read back as lead V2 (and ppg_2 as a PPG label)."""
    from qualityfm.io import read_record, write_wfdb

    assert canonical_channel("ecg_v_2") == "ecg_v_2" and canonical_channel("V2") == "ecg_v2"
    for label, name in (("ppg_1", "ppg"), ("abp_1", "abp"), ("ecg_1", "ecg"), ("ECG_2", "ecg"),
                        ("PLETH_2", "ppg"), ("ppg_2", "ppg_2")):  # a file's own labels
        assert canonical_channel(label) == name, label
    x = np.sin(np.arange(2500) / 10.0)
    for names in (("ecg_v", "ecg_v_2", "ppg", "ppg_2"), ("ppg_2", "ppg"), ("ecg_v", "ecg_2"),
                  ("abp_2", "abp")):
        rec = Record("r1", {c: x * (i + 1) for i, c in enumerate(names)},
                     dict.fromkeys(names, 250.0))
        back = read_record(write_wfdb(rec, tmp_path / "_".join(names)))
        assert back.channels == list(names)
        for c in names:  # each name over its own samples
            np.testing.assert_allclose(back.signals[c], rec.signals[c], atol=1e-3)


def test_a_channel_asked_for_by_its_own_label_is_that_channel(tmp_path) -> None:
    """ECG2 of ECG1/ECG2 had returned ECG1's samples (both normalise to ecg); two requests for
    one channel had been merged without a word."""
    from qualityfm.io import RecordError, read_record

    path = tmp_path / "two.npz"
    np.savez(path, fs=250.0, ECG1=np.zeros(1000), ECG2=np.ones(1000))
    rec = read_record(path, channels=["ECG2"])
    assert list(rec.signals) == ["ecg_2"] and rec.signals["ecg_2"][0] == 1.0
    assert read_record(path, channels=["ecg"]).signals["ecg"][0] == 0.0
    with pytest.raises(RecordError, match=r"'ECG1' and 'ecg' both name its channel 'ecg'"):
        read_record(path, channels=["ECG1", "ecg"])
    with pytest.raises(RecordError, match=r"channel 'ecg' asked for twice"):
        read_record(path, channels=["ecg", "ecg"])


def test_a_numbered_lead_is_still_an_ecg() -> None:
    """`II_1` and `MLII_1` had read as unknown channels (the model given no ECG, unsaid), where
    `PLETH_1` and `ABP_1` were the PPG and the arterial line; a second `ecg_ii_2` of a record,
    `ecg_ii_2_2`, was no ECG."""
    from qualityfm.io.channels import canonical_names, is_ecg

    assert canonical_names(["Time", "II_1", "II_2", "PLETH_1", "ABP_1", "MLII 1", "noise1"]) == [
        "time", "ecg_ii", "ecg_ii_2", "ppg", "abp", "ecg_ii_3", "noise1"]
    names = canonical_names(["II", "ECG II", "ecg_ii_2"])
    assert names == ["ecg_ii", "ecg_ii_2", "ecg_ii_2_2"] and all(is_ecg(n) for n in names)
    assert not is_ecg("spo2_2") and not is_ecg("ppg_2_2")
    assert canonical_names(["SpO2_1", "HR_2", "V1", "V_1"]) == ["spo2_1", "hr_2", "ecg_v1",
                                                                "ecg_v1_2"]


def test_a_label_with_its_unit_in_brackets_names_its_signal() -> None:
    """WFDB and .vital labels such as 'ECG II (mV)' had become ecg_ii_mv: no ECG II."""
    from qualityfm.io import canonical_channel

    assert [canonical_channel(n) for n in ("ECG II (mV)", "ABP [mmHg]", "ART (mmHg)",
                                           "CVP[mmHg]", "Pleth HR (bpm)", "foo (mV)")] == [
        "ecg_ii", "abp", "abp", "cvp", "pleth_hr_bpm", "foo_mv"]
    # a lead or a statistic in brackets is no unit: ECG (II) is lead II, ABP (mean) a number
    assert [canonical_channel(n) for n in ("ECG (II)", "ECG (V)", "ABP (mean)")] == [
        "ecg_ii", "ecg_v", "abp_mean"]
    assert [canonical_channel(n) for n in ("ABP (V)", "ECG II (V)", "ART (torr)")] == [
        "abp", "ecg_ii", "abp"]  # volts after a named signal


@pytest.mark.parametrize(("label", "channel"), [
    ("II lead", "ecg_ii"), ("ECG II lead", "ecg_ii"), ("II-ECG", "ecg_ii"),
    ("ECG Wave II", "ecg_ii"), ("aVR-lead", "ecg_avr"), ("V5 ECG", "ecg_v5"),
    ("ABP lead", "abp_lead"), ("RESP ECG", "resp_ecg"), ("lead", "lead")])
def test_a_lead_named_among_words_that_say_it_is_a_lead_is_that_lead(label: str,
                                                                     channel: str) -> None:
    """A lead's name with ECG, lead or wave around it, in any order, is that lead (``II lead``
    and ``II-ECG`` had been channels of their own: a record of them held no lead II); other
    signals beside those words keep their labels."""
    assert canonical_channel(label) == channel


def test_a_device_prefix_changes_no_label_that_names_a_channel() -> None:
    """A VitalDB track carries its device's name: Dev/ecg_v_2 had read as lead V2 (the
    misreading ecg_v_2 is kept from), Dev/II lead and Dev/II-ECG as channels of their own (no
    ECG), where the same labels without it read as ecg_v_2 and lead II."""
    for label in ("ecg_v_2", "ppg_2", "II lead", "II-ECG", "ECG Wave II", "aVR-lead", "V5 ECG",
                  "ECG_II", "PLETH", "ART", "II_1", "II_mV"):
        assert canonical_channel(f"Monitor/{label}") == canonical_channel(label), label
    assert canonical_channel("Monitor/ecg_v_2") == "ecg_v_2"


def test_a_unit_after_an_underscore_or_space_names_its_signal() -> None:
    """MATLAB and spreadsheet headers put the unit after a separator: II_mV had been a
    channel ii_mv (no ECG: windows scored on the PPG alone, with no word), while PLETH_NU
    was read as the PPG."""
    names = ("II_mV", "ECG_mV", "ECG_II_mV", "ABP_mmHg", "II mV", "V_mV", "Resp_ohm", "foo_mV")
    assert [canonical_channel(n) for n in names] == [
        "ecg_ii", "ecg", "ecg_ii", "abp", "ecg_ii", "ecg_v", "resp", "foo_mv"]
    # V after a separator is lead V, a rate's unit no wave's, a statistic no signal
    assert [canonical_channel(n) for n in ("ECG_V", "HR_bpm", "ABP Mean_mmHg")] == [
        "ecg_v", "hr_bpm", "abp_mean_mmhg"]


def test_name_lists_refuse_one_text_and_a_record_takes_lists() -> None:
    """canonical_names("II") had read two labels, I and I; ecg_leads("ecg_ii") its letters
    (no lead); a Record of a list had kept the list (no dtype: an AttributeError later)."""
    from qualityfm.io import ecg_leads

    with pytest.raises(TypeError, match=r"a list of labels, got the text 'II'"):
        canonical_names("II")
    with pytest.raises(TypeError, match=r"channel names, got the text 'ecg_ii'"):
        ecg_leads("ecg_ii")
    rec = Record("r", {"ppg": [0.0, 1.0, 2.0]}, {"ppg": 100.0})
    assert isinstance(rec.signals["ppg"], np.ndarray) and rec.signals["ppg"].shape == (3,)
