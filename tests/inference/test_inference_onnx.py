"""ONNX export at the length the model reads: a fine-tuned run's own windows, the teacher's
n_samples; parity on windows scaled as real ones; a cross-validation run named as such."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from qualityfm.cli import main
from qualityfm.inference.onnx import (
    CARD_METADATA_KEY,
    CARD_METADATA_NOTE,
    example_windows,
    export_finetuned_onnx,
    export_onnx,
)
from qualityfm.model import QualityFM, QualityFMConfig
from qualityfm.tasks import Finetuner

#: n_samples 600 (2 s), as a pre-trained config's 9000 (30 s) is longer than a run's windows
TINY = QualityFMConfig(d_model=16, n_layers=1, n_heads=2, d_ff=16, stem_channels=(4, 8, 16),
                       n_bins=16, n_samples=600, dropout=0.0)


def windows(n: int, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of two classes (class 1: a 5 Hz tone on the ECG) scaled into [-1, 1]."""
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], n // 2)
    x = rng.normal(0, 0.3, (n, 2, t)).astype(np.float32)
    x[y == 1, 1] += np.sin(2 * np.pi * 5 * np.arange(t) / 300.0).astype(np.float32)
    x /= np.abs(x).max()
    return x, y, np.repeat(np.arange(n // 2), 2)


@pytest.mark.parametrize(("task", "kw"), [("vt-alarm", {"use_features": False}),
                                          ("af", {"test_shifts": 3, "use_features": False})])
def test_onnx_of_a_run_reads_the_run_windows_length(tmp_path: Path, task: str, kw: dict) -> None:
    """A run fitted on windows shorter than its config's n_samples (vt-alarm's 10 s under the
    30-s pre-trained config) exports a graph of the run's length, whose calibrated output on
    the run's windows equals ``predict_proba``; the export says the length it reads."""
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    x, y, g = windows(24, 300)
    ft = Finetuner(task, init="none", config=TINY, epochs=1, seed=0, **kw).fit(x, y, groups=g)
    assert ft.window == (2, 300)
    res = export_finetuned_onnx(ft.save(tmp_path / "run"), tmp_path / "model.onnx")
    session = ort.InferenceSession(res["out"], providers=["CPUExecutionProvider"])
    mask = np.ones((len(x), 2), dtype=bool)
    _, head = session.run(None, {"x": x, "mask": mask})  # the run's own windows
    np.testing.assert_allclose(ft.calibrator(head[:, 0]), ft.predict_proba(x), atol=1e-4)
    assert session.get_inputs()[0].shape == ["batch", 2, 300]
    for rows in (1, len(x) + 1):  # a mask of other rows fails (one row had been broadcast)
        with pytest.raises(Exception, match="mismatched dimensions"):
            session.run(None, {"x": x, "mask": np.ones((rows, 2), dtype=bool)})
    assert res["max_abs_diff"] < 1e-4
    assert res["input"] == {"x": ["batch", 2, 300], "fs": 300.0, "seconds": 1.0}
    card = json.loads((tmp_path / "model.json").read_text())  # what a deployment needs
    assert res["card"] == str(tmp_path / "model.json")
    assert card["input"]["channels"] == ["ppg", "ecg_ii"] and card["input"]["x"][2] == 300
    assert "unknown" in card["input"]["filters"]  # fitted from arrays: their filters unknown
    if task == "vt-alarm":
        assert card["threshold"] == ft.threshold and card["calibration"]["b"] == ft.calibrator.b
        p = 1 / (1 + np.exp(-(card["calibration"]["a"] * head[:, 0] + card["calibration"]["b"])))
        np.testing.assert_allclose(p, ft.predict_proba(x), atol=1e-4)  # as the card says
        assert "no present channel" in card["decision"] and "keep the alarm" in card["decision"]
    else:
        assert "alarm" not in card["decision"]
    # the rules an integrator implements without qualityfm: span, zero-phase filters, absent
    # channels, the lead standing for lead II
    rules = card["input"]["rules"]
    assert "sosfiltfilt" in rules["filter_mode"] and "0.2" in rules["absent_channel"]
    # its provenance: the graph's digest and opset, the package, the channels every fitted
    # window held (a window lacking one is outside what the model learnt)
    import hashlib

    import qualityfm

    digest = hashlib.sha256((tmp_path / "model.onnx").read_bytes()).hexdigest()
    assert card["graph"] == {"file": "model.onnx", "sha256": digest, "opset": 18,
                             "metadata": CARD_METADATA_NOTE}
    # the graph holds its card: copied away from model.json, it still says its operating point
    held = json.loads(session.get_modelmeta().custom_metadata_map[CARD_METADATA_KEY])
    assert held == {k: v for k, v in card.items() if k not in ("graph", "examples")}
    assert card["made_by"]["qualityfm"] == qualityfm.__version__
    assert card["fitted_on"]["present_in_every_window"] == ["ppg", "ecg_ii"]
    n = card["fitted_on"]["windows_holding"]["of"]  # the counts a rare few are judged by
    assert n > 0 and {k: card["fitted_on"]["windows_holding"][k] for k in ("ppg", "ecg_ii")} == {
        "ppg": n, "ecg_ii": n}
    # golden examples beside the graph (fitted from arrays: windows only, one per case)
    ex = np.load(tmp_path / "model.examples.npz")
    assert card["examples"]["file"] == "model.examples.npz" and res["examples"]
    assert ex["x"].shape == (6, 2, 300) and not any(k.startswith("raw") for k in ex.files)
    assert ex["mask"].sum(axis=1).tolist() == [2, 2, 2, 1, 1, 0]  # last: no channel
    assert (ex["x"][~ex["mask"]] == 0).all() and "alarm{i}" not in card["examples"]["keys"]
    _, gold = session.run(None, {"x": ex["x"], "mask": ex["mask"]})
    np.testing.assert_allclose(gold[:5], ex["head"][:5], atol=1e-4)
    assert np.isnan(gold[5]).all() and np.isnan(ex["head"][5]).all()
    np.testing.assert_allclose(ft.predict_proba(ex["x"][:5], ex["mask"][:5]), ex["p"][:5],
                               atol=1e-5)
    assert (ex["decision"][:5] == ft.decide(ex["p"][:5])).all() and ex["decision"][5] == -1
    assert "-1 where there is no decision: p NaN, or a row holding none" in \
        card["examples"]["keys"]["decision"]
    assert "(the examples' decision: -1)" in card["decision"]
    assert rules["span"].startswith("unknown: fitted from arrays")
    assert rules["ecg_lead"].startswith("lead II when") and "ecg_i, " in rules["ecg_lead"]
    # a window with no present channel has nothing to judge: NaN from the graph (no decision)
    # and a refusal from the model, where both once gave a probability
    empty = mask.copy()
    empty[1] = False
    _, head = session.run(None, {"x": x, "mask": empty})
    assert np.isnan(head[1]).all() and np.isfinite(np.delete(head, 1, axis=0)).all()
    with pytest.raises(ValueError, match=r"1 window\(s\) have no channel present \(mask all "
                                         r"False; rows 1\)"):
        ft.predict_proba(x, empty)


def test_onnx_of_a_blood_pressure_run_outputs_mmhg(tmp_path: Path) -> None:
    """The regression head learns standardised targets; its graph rescales them to mmHg."""
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    x, _, g = windows(24, 300)
    rng = np.random.default_rng(1)
    y = np.stack([rng.uniform(100, 160, 24), rng.uniform(50, 90, 24)], axis=1)
    ft = Finetuner("abp", init="none", config=TINY, epochs=1, seed=0, use_features=False)
    ft.fit(x, y, groups=g)
    res = export_finetuned_onnx(ft.save(tmp_path / "run"), tmp_path / "model.onnx")
    session = ort.InferenceSession(res["out"], providers=["CPUExecutionProvider"])
    _, head = session.run(None, {"x": x, "mask": np.ones((len(x), 2), dtype=bool)})
    np.testing.assert_allclose(head, ft.predict(x), atol=1e-3)
    assert 40 < head[:, 0].mean() < 250  # mmHg, not standardised units
    assert "mmHg" in json.loads((tmp_path / "model.json").read_text())["decision"]


def test_onnx_parity_windows_are_scaled_as_real_ones() -> None:
    """The parity check's inputs span [-1, 1] in each channel, as normalised windows do, and
    are signals (not white noise): far from the unscaled range the models warn about."""
    x = example_windows(3, 2, 900)
    assert x.shape == (3, 2, 900) and x.dtype == np.float32
    np.testing.assert_allclose(x.min(-1), -1.0)
    np.testing.assert_allclose(x.max(-1), 1.0)
    assert np.abs(np.diff(x, axis=-1)).mean() < 0.2  # smooth, unlike uniform noise (~0.67)
    other = example_windows(2, 3, 100)  # another channel count: scaled random walks
    np.testing.assert_allclose(other.min(-1), -1.0)
    np.testing.assert_allclose(other.max(-1), 1.0)


def test_an_encoder_graph_says_what_it_reads_in_its_metadata(tmp_path: Path) -> None:
    """A pre-training export's graph had said nothing of its rate, channels or scaling (only
    its shape): its metadata holds them, the config and the package, as the export wrote them."""
    onnx = pytest.importorskip("onnx", reason="the onnx package is not installed")
    import qualityfm
    from qualityfm.inference.onnx import ENCODER_METADATA_KEY, export_encoder_onnx

    model = QualityFM(TINY).eval()
    res = export_encoder_onnx(model, tmp_path / "encoder.onnx")
    props = {p.key: p.value for p in onnx.load(res["out"]).metadata_props}
    said = json.loads(props[ENCODER_METADATA_KEY])
    assert said["input"] == {**res["input"], "channels": ["ppg", "ecg_ii"],
                             "normalization": TINY.normalization}
    assert said["config"] == json.loads(json.dumps(TINY.to_dict()))
    assert said["made_by"] == {"qualityfm": qualityfm.__version__}


def test_onnx_of_the_teacher_keeps_its_n_samples(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    model = QualityFM(TINY).eval()
    res = export_onnx(model, tmp_path / "encoder.onnx")
    assert res["max_abs_diff"] < 1e-4
    assert res["input"] == {"x": ["batch", 2, 600], "fs": 300.0, "seconds": 2.0}
    session = ort.InferenceSession(res["out"], providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == ["batch", 2, 600]


def test_onnx_export_of_a_cross_validation_run_says_it_keeps_no_model(tmp_path: Path,
                                                                        capsys) -> None:
    """``finetune --kfold`` keeps reports only: export says so, as evaluate and predict do,
    instead of asking for a pre-training run's checkpoint."""
    run = tmp_path / "cv"
    run.mkdir()
    for name in ("cv.json", "summary.json"):  # what a --kfold run writes, with cv.md and plots
        (run / name).write_text(json.dumps({}))
    (run / "cv.md").write_text("# cv\n")
    capsys.readouterr()
    assert main(["export", str(run), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "cross-validation run" in err and "without --kfold" in err
    assert "last.pt" not in err and not (tmp_path / "out").exists()


def test_an_interrupted_export_keeps_the_graph_and_card_it_replaces(tmp_path: Path,
                                                                    monkeypatch) -> None:
    """The check against PyTorch runs on the graph in memory; stopped there, the folder keeps
    the earlier graph with its own card and examples (not a new graph beside the old
    threshold)."""
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    import qualityfm.inference.onnx as onnx_module

    x, y, g = windows(24, 300)
    runs = [Finetuner("vt-alarm", init="none", config=TINY, epochs=1, seed=s,
                      use_features=False).fit(x, y, groups=g).save(tmp_path / f"run{s}")
            for s in (0, 1)]
    out = tmp_path / "model.onnx"
    export_finetuned_onnx(runs[0], out)
    beside = (out, out.with_suffix(".json"), out.with_suffix(".examples.npz"))
    before = [p.read_bytes() for p in beside]

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx_module, "onnx_parity", stop)
    with pytest.raises(KeyboardInterrupt):
        export_finetuned_onnx(runs[1], out)
    assert [p.read_bytes() for p in beside] == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.examples.npz", "model.json",
                                                          "model.onnx", "run0", "run1"]


def test_card_rules_state_the_task_windows_own_absence_constants(monkeypatch) -> None:
    """The card's absent-channel rule is written from the constants the task windows apply,
    so the two cannot drift apart."""
    from qualityfm.inference.onnx import _input_rules
    from qualityfm.tasks import datasets

    rules = _input_rules("vt-alarm", {"seconds": 10.0})
    text = rules["absent_channel"]
    assert "peak-to-peak <= 1e-09" in text and "under 2 s" in text
    assert "past the channel's last sample" in text  # as _raw_pieces counts it
    assert "not absent in the span" in rules["ecg_lead"] and "by name" in rules["ecg_lead"]
    # what an integration from the card alone had to guess: a second II, the ECG leads there
    # are, a Challenge record's alarm, the values of an absent channel and of a gap at an end
    assert "a second channel of a named lead (two labelled II: ecg_ii_2) right after the " \
        "first; then any other ECG lead (a second unnamed lead, ecg_2, among them)" in rules[
        "ecg_lead"]
    assert "the ECG leads being exactly ecg_ii, ecg_i, " in rules["channel_names"]["rule"]
    assert "alarms at 300 s" in rules["span"]
    assert "the examples give it zeros" in text and "holding the nearest recorded" in text
    flat = np.full(3000, 5.0)
    flat[::7] += datasets.FLAT_PEAK_TO_PEAK / 2  # wobbles below the flat limit: still flat
    assert datasets._fill(flat) is None and datasets._fill(flat * np.arange(3000)) is not None
    monkeypatch.setattr(datasets, "FLAT_PEAK_TO_PEAK", 0.5)
    monkeypatch.setattr(datasets, "MIN_CHANNEL_SECONDS", 3.0)
    text = _input_rules("vt-alarm", {"seconds": 10.0})["absent_channel"]
    assert "peak-to-peak <= 0.5" in text and "under 3 s" in text


def test_a_failed_onnx_export_leaves_no_graph_of_the_old_weights(tmp_path: Path, capsys,
                                                                monkeypatch) -> None:
    """export --onnx into a model folder replaces the weights first: an ONNX graph of the
    earlier weights is removed then, so that a failed graph export (torch's exporter raises
    RuntimeErrors, a missing onnx package among them) leaves none beside the new weights
    rather than one that disagrees with them; the failure is one error line."""
    import qualityfm.inference.onnx as onnx_module
    from qualityfm.train.checkpoint import CHECKPOINT_NAME, save_checkpoint
    from qualityfm.train.config import PretrainConfig

    run, out = tmp_path / "run", tmp_path / "model"
    save_checkpoint(run / CHECKPOINT_NAME, {
        "step": 1, "config": PretrainConfig(store="none", out=str(run), steps=1).to_dict(),
        "model_config": TINY.to_dict(), "teacher": QualityFM(TINY).state_dict()})
    assert main(["export", str(run), "--out", str(out)]) == 0
    for name in ("encoder.onnx", "encoder.examples.npz"):  # an earlier export's
        (out / name).write_text("old")

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("Module onnx is not installed!")

    monkeypatch.setattr(onnx_module, "export_encoder_onnx", broken)
    capsys.readouterr()
    assert main(["export", str(run), "--out", str(out), "--onnx"]) == 1
    err = capsys.readouterr().err
    assert "qualityfm export: error: ONNX export failed (RuntimeError: Module onnx is not " in err
    assert "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json",
                                                     "model.safetensors"]


def test_an_onnx_export_without_onnx_names_the_extra_and_writes_nothing(tmp_path: Path,
                                                                      capsys,
                                                                      monkeypatch) -> None:
    """Without the onnx package, --onnx had written the model folder and then failed with
    torch's "Module onnx is not installed!"; it is refused first, naming the extra."""
    import importlib.util

    from qualityfm.train.checkpoint import CHECKPOINT_NAME, save_checkpoint
    from qualityfm.train.config import PretrainConfig

    run, out = tmp_path / "run", tmp_path / "model"
    save_checkpoint(run / CHECKPOINT_NAME, {
        "step": 1, "config": PretrainConfig(store="none", out=str(run), steps=1).to_dict(),
        "model_config": TINY.to_dict(), "teacher": QualityFM(TINY).state_dict()})
    find = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnx" else find(name, *a))
    assert main(["export", str(run), "--out", str(out), "--onnx"]) == 1
    assert ("--onnx: that needs the onnx package, which is not installed: pip install "
            "'qualityfm[onnx]'") in capsys.readouterr().err
    assert not out.exists()
    # a fine-tuned run: what keeps it from export is said first (its head reads the features)
    x, _, g = windows(24, 300)
    y = np.arange(24) % 2
    feats = Finetuner("vt-alarm", init="none", config=TINY, epochs=1, seed=0, use_features=True)
    fitted = feats.fit(x, y, groups=g).save(tmp_path / "feats")
    assert main(["export", str(fitted), "--out", str(tmp_path / "f")]) == 1
    assert "its head also reads classical features" in capsys.readouterr().err
    plain = Finetuner("vt-alarm", init="none", config=TINY, epochs=1, seed=0,
                      use_features=False).fit(x, y, groups=g).save(tmp_path / "plain")
    assert main(["export", str(plain), "--out", str(tmp_path / "p")]) == 1
    assert ("a fine-tuned run is exported as ONNX: that needs the onnx package"
            in capsys.readouterr().err)
    assert not (tmp_path / "p").exists()


def test_exports_of_two_kinds_never_share_a_folder(tmp_path) -> None:
    """A pre-training export beside a fine-tuned run's ONNX files (two encoders' files in one
    folder), or the other way round, is refused, as is an --out that is a file (it had said
    '[Errno 17] File exists')."""
    from qualityfm.train import export_model

    run = tmp_path / "run"
    run.mkdir()
    onnx_export, encoder_export = tmp_path / "deploy", tmp_path / "encoder"
    onnx_export.mkdir()
    (onnx_export / "model.onnx").write_bytes(b"graph")
    encoder_export.mkdir()
    (encoder_export / "model.safetensors").write_bytes(b"weights")
    with pytest.raises(ValueError, match=r"deploy holds a fine-tuned ONNX export \(model\.onnx\)"):
        export_model(run, onnx_export)
    with pytest.raises(ValueError, match=r"encoder holds a model folder \(model\.safetensors\)"):
        export_finetuned_onnx(run, encoder_export / "model.onnx")
    (tmp_path / "afile").write_text("hi")
    for export in (lambda: export_model(run, tmp_path / "afile"),
                   lambda: export_finetuned_onnx(run, tmp_path / "afile" / "model.onnx")):
        with pytest.raises(ValueError, match=r"afile is a file, not a folder"):
            export()


def test_exports_refuse_the_folder_of_a_sharded_store(tmp_path) -> None:
    """A store prepared with --shard K/N holds its parts alone (no meta.json of its own): an
    export into it had been written among the parts, and the next prepare --shard of the store
    then refused its folder as a model folder's."""
    from qualityfm.train import export_model

    run, store = tmp_path / "run", tmp_path / "store"
    run.mkdir()
    for part in ("part-0-of-2", "part-1-of-2"):  # the files prepare writes in each part
        (store / part).mkdir(parents=True)
        (store / part / "meta.json").write_text("{}")
        np.save(store / part / "pairs.npy", np.zeros((0, 2), np.int64))
    for export in (lambda: export_model(run, store),
                   lambda: export_finetuned_onnx(run, store / "model.onnx")):
        with pytest.raises(ValueError, match=r"store holds a prepared store \(part-0-of-2\)"):
            export()
    assert sorted(p.name for p in store.iterdir()) == ["part-0-of-2", "part-1-of-2"]


def test_card_rules_follow_each_task_windows() -> None:
    """af's short recordings and abp's windows as the datasets make them (a review found the
    vt-alarm wording on their cards: a span before t1 where af takes the whole recording and
    pads after scaling; a stand-in lead and masked channels abp never uses)."""
    from qualityfm.inference.onnx import _input_rules

    af = _input_rules("af", {"seconds": 30.0})
    assert "shorter than the window: all of it" in af["span_samples"]
    assert "zero-filled at its end to the graph's samples (after scaling)" in af["order"]
    assert "no_window" not in af
    assert "of a recording of at most 61 s" in af["span"]
    # a 90-s window: a recording of up to 90 s is one padded window (the card had said 61)
    assert "of a recording of at most 90 s" in _input_rules("af", {"seconds": 90.0})["span"]
    abp = _input_rules("abp", {"seconds": 30.0})
    assert abp["ecg_lead"] == ("lead II only (the first channel labelled II): no other lead, "
                               "nor a second channel labelled II, stands in")
    assert "its missing samples left out of both" in abp["no_window"]
    assert "no row and no prediction" in abp["no_window"]
    # the two rules predict applies that the card had left out: a deployment had given
    # pressures for windows of a PPG flat for 68 % of them, and past the shorter channel's end
    assert "is flat for over 0.2 of the window (the share of its 0.5-s blocks" in \
        abp["no_window"]
    assert "over the shorter of its ECG II and PPG" in abp["span"]
    vt = _input_rules("vt-alarm", {"seconds": 10.0})
    assert "all of it" not in vt["span_samples"] and "less than 10.0 s" in vt["no_window"]


def test_a_multiclass_card_names_its_calibration_a_temperature(tmp_path: Path) -> None:
    """A multiclass model's calibrator fits a temperature; the card had called it "platt"."""
    pytest.importorskip("onnx", reason="the onnx package is not installed")
    x, _, g = windows(24, 300)
    y = np.arange(24) % 3
    ft = Finetuner("multiclass", init="none", config=TINY, epochs=1, seed=0,
                   use_features=False).fit(x, y, groups=g)
    export_finetuned_onnx(ft.save(tmp_path / "run"), tmp_path / "model.onnx")
    card = json.loads((tmp_path / "model.json").read_text())
    assert card["calibration"] == {"method": "temperature", "a": ft.calibrator.a}
    assert card["decision"].startswith("p = softmax(a * head)")


def test_an_af_runs_rhythm_model_is_not_exported(tmp_path: Path) -> None:
    """Its export had succeeded with a card naming neither its classes (N, A, O, ~) nor its
    windows ("unknown: fitted from arrays"), where README says it is not exported."""
    x, _, g = windows(24, 300)
    ft = Finetuner("af4", init="none", config=TINY, epochs=1, seed=0,
                   use_features=False).fit(x, np.arange(24) % 4, groups=g)
    run = tmp_path / "af" / "rhythm"
    ft.save(run)
    with pytest.raises(ValueError, match=r"rhythm: the 4-class rhythm model of an af run is not "
                                         r"exported .* export the af run itself \(.*af\)"):
        export_finetuned_onnx(run, tmp_path / "out" / "model.onnx")
    assert not (tmp_path / "out").exists()


def test_a_users_model_json_is_not_replaced_by_the_card(tmp_path: Path) -> None:
    """A fine-tuned export into a folder holding a user's model.json had replaced it with the
    deployment card, where a pre-training export refuses such files."""
    pytest.importorskip("onnx", reason="the onnx package is not installed")
    x, y, g = windows(24, 300)
    run = Finetuner("vt-alarm", init="none", config=TINY, epochs=1, seed=0,
                    use_features=False).fit(x, y, groups=g).save(tmp_path / "run")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "model.json").write_text('{"my": "deployment notes"}')
    with pytest.raises(ValueError, match=r"mine: model\.json exists and is no qualityfm "
                                         r"deployment card"):
        export_finetuned_onnx(run, mine / "model.onnx")
    assert [p.name for p in mine.iterdir()] == ["model.json"]
    for name in ("model.onnx", "model.examples.npz"):  # no card beside: no export's
        theirs = tmp_path / f"theirs_{name}"
        theirs.mkdir()
        (theirs / name).write_bytes(b"someone's graph")
        with pytest.raises(ValueError, match=rf"theirs_{re.escape(name)}: {re.escape(name)} "
                                             r"exists and is no qualityfm export's \(no "
                                             r"deployment card model\.json beside it\)"):
            export_finetuned_onnx(run, theirs / "model.onnx")
        assert (theirs / name).read_bytes() == b"someone's graph"
    export_finetuned_onnx(run, tmp_path / "ours" / "model.onnx")
    export_finetuned_onnx(run, tmp_path / "ours" / "model.onnx")  # its own card: replaced
    (run / "summary.json").write_text('{"settings": []}')  # damaged: named, as evaluate
    with pytest.raises(ValueError, match=r"summary\.json: damaged run summary"):  # does (an
        export_finetuned_onnx(run, tmp_path / "ours" / "model.onnx")  # AttributeError)


def test_golden_examples_give_no_decision_where_predict_gives_none(tmp_path: Path) -> None:
    """An AF model fitted on ECG alone: its golden examples had decided AF (1) on a PPG-only
    window, where predict (and evaluate) give no output."""
    pytest.importorskip("onnx", reason="the onnx package is not installed")
    x, y, g = windows(24, 300)
    ecg_only = np.zeros((24, 2), bool)
    ecg_only[:, 1] = True  # [ppg, ecg_ii]
    x[:, 0] = 0.0
    ft = Finetuner("af", init="none", config=TINY, epochs=1, seed=0,
                   use_features=False).fit(x, y, ecg_only, groups=g)
    export_finetuned_onnx(ft.save(tmp_path / "run"), tmp_path / "out" / "model.onnx")
    with np.load(tmp_path / "out" / "model.examples.npz") as z:
        mask, decision, p = z["mask"], z["decision"], z["p"]
    blind = ~mask[:, 1]
    assert blind.any() and (~blind).any()
    assert (decision[blind] == -1).all() and np.isin(decision[~blind & ~np.isnan(p)],
                                                     (0, 1)).all()
    card = json.loads((tmp_path / "out" / "model.json").read_text())
    assert "where fitted_on.present_in_every_window lists channels, holding none of them" in \
        card["decision"]
