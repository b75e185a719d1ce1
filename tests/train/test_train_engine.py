"""Pre-training runs end to end: exact resume, recipes, CLI, export and load."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

import qualityfm
from qualityfm.cli import main
from qualityfm.train import PretrainConfig, export_model, load, pretrain
from qualityfm.train.engine import check_store_pairs

TINY = {"n_layers": 1, "d_model": 64, "n_heads": 4, "d_ff": 64, "head_hidden": 64,
        "head_bottleneck": 32, "head_prototypes": 128}


def tiny(store, out, **kw) -> PretrainConfig:
    # CPU unless a test asks for CUDA: the engine's semantics (fp32 on CPU, bf16 by default on a
    # GPU) are what these tests pin down, on any machine
    base = dict(store=str(store), out=str(out), steps=6, batch_size=8, warmup=2, lr=0.01,
                device="cpu",
                log_every=1, diag_every=3, diag_batch=16, ckpt_every=100, progress=False,
                aligned_fraction=0.0, modality_drop=0.2, teacher_temp_warmup=3,
                model_overrides=TINY)
    return PretrainConfig.for_recipe(kw.pop("recipe", "default"), **{**base, **kw})



def test_grad_sync_skips_the_sync_on_every_micro_step_but_the_last() -> None:
    """Gradient accumulation: FSDP2 modules are told to sync on the last micro-step only; a
    DDP module runs the others under no_sync; a lone module needs nothing."""
    import contextlib

    from torch import nn

    from qualityfm.train.engine import grad_sync

    class FSDPLike(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[bool] = []

        def set_requires_gradient_sync(self, sync: bool) -> None:
            self.calls.append(sync)

    class DDPLike(nn.parallel.DistributedDataParallel):
        def __init__(self) -> None:  # no process group needed to count the calls
            nn.Module.__init__(self)
            self.unsynced = 0

        @contextlib.contextmanager
        def no_sync(self):  # noqa: ANN202
            self.unsynced += 1
            yield

    fsdp, ddp = FSDPLike(), DDPLike()
    for k in range(3):
        for model in (fsdp, ddp, nn.Linear(1, 1)):
            with grad_sync(model, k == 2):
                pass
    assert fsdp.calls == [False, False, True] and ddp.unsynced == 2

def test_resume_is_exact(synthetic_store, tmp_path) -> None:
    # 143 pairs make 17 batches of 8 per epoch: the interruption falls after an epoch turned.
    full = pretrain(tiny(synthetic_store, tmp_path / "full", steps=20))
    part = pretrain(tiny(synthetic_store, tmp_path / "part", steps=20), stop_after=18)
    assert part["step"] == 18 and not part["done"]
    ck = torch.load(tmp_path / "part" / "last.pt", weights_only=False)
    assert ck["data"] == [{"epoch": 1, "yielded": 8}]
    rest = pretrain(tiny(synthetic_store, tmp_path / "part", steps=20), resume=True)
    assert rest["done"] and rest["step"] == 20
    torch.testing.assert_close(torch.tensor(part["losses"] + rest["losses"]),
                               torch.tensor(full["losses"]), rtol=0, atol=1e-6)
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "part" / "last.pt", weights_only=False)
    for k, v in a["teacher"].items():
        torch.testing.assert_close(b["teacher"][k], v, rtol=0, atol=1e-6)
    assert set(a) >= {"student", "teacher", "optimizer", "objective", "rng", "data", "config"}
    log = [json.loads(ln) for ln in (tmp_path / "part" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 21))
    assert {"effective_rank", "mean_cosine", "argmax_dims", "teacher_entropy",
            "pairs_per_s", "lr", "momentum"} <= set(log[2])
    with pytest.raises(ValueError, match="lr"):
        pretrain(tiny(synthetic_store, tmp_path / "part", steps=20, lr=0.5), resume=True)
    # a read-out of another width (the store's feature columns changed): a clear refusal
    b["model_config"]["feature_targets"] += 1
    torch.save(b, tmp_path / "part" / "last.pt")
    with pytest.raises(ValueError, match="network setting 'feature_targets' was"):
        pretrain(tiny(synthetic_store, tmp_path / "part", steps=22), resume=True)


def test_paper_recipe_runs_with_grad_accum(synthetic_store, tmp_path) -> None:
    out = pretrain(tiny(synthetic_store, tmp_path / "p", recipe="paper", grad_accum=2, steps=3,
                        diag_every=3))
    assert out["done"] and all(map(torch.isfinite, torch.tensor(out["losses"])))
    assert out["model_config"]["head"] == "none"
    assert out["last"]["momentum"] == pytest.approx(1.0)  # 0.7 -> 1 over the run
    assert 0 < out["last"]["effective_rank"] <= 16


def test_a_residual_tokeniser_pretrains_exports_and_loads(synthetic_store, tmp_path) -> None:
    overrides = {**TINY, "stem": "residual", "stem_width": 4, "stem_blocks": 2}
    out = pretrain(tiny(synthetic_store, tmp_path / "r", steps=3, model_overrides=overrides))
    assert out["done"] and all(map(torch.isfinite, torch.tensor(out["losses"])))
    assert out["model_config"]["stem"] == "residual"
    model = load(export_model(tmp_path / "r", tmp_path / "w"))
    assert model.cfg.stem == "residual" and model.cfg.n_tokens(9000) == 71  # 9000 / 128
    assert model.embed(torch.randn(2, 2, 9000)).shape == (2, 64)


def test_the_network_records_the_rate_of_its_store(synthetic_store, tmp_path) -> None:
    """A store of windows at 250 Hz: the network trained on it records fs=250 (no override
    needed), its export and model card say so, and score/embed would cut such windows."""
    store = tmp_path / "store250"
    shutil.copytree(synthetic_store, store)
    meta = json.loads((store / "meta.json").read_text())
    (store / "meta.json").write_text(json.dumps({**meta, "fs": 250.0}))
    out = pretrain(tiny(store, tmp_path / "r", steps=2))
    assert out["model_config"]["fs"] == 250.0
    model_dir = export_model(tmp_path / "r", tmp_path / "m")
    assert load(model_dir).cfg.fs == 250.0
    card = (model_dir / "README.md").read_text()
    assert "36-s window (channels `ppg`, `ecg_ii` at 250 Hz)" in card


def test_feature_loss_reads_out_the_store_features_and_export_drops_the_read_out(
        synthetic_store, tmp_path) -> None:
    from qualityfm.data import feature_targets
    from qualityfm.data.features import FEATURES
    from qualityfm.model import QualityFM, QualityFMConfig

    run = pretrain(tiny(synthetic_store, tmp_path / "f", steps=20, feature_weight=1.0,
                        aligned_fraction=0.5, diag_every=10))
    assert (synthetic_store / FEATURES).is_file()  # computed on first use, kept in the store
    n = feature_targets(synthetic_store).width
    assert n > 10 and run["model_config"]["feature_targets"] == n
    log = [json.loads(ln) for ln in (tmp_path / "f" / "log.jsonl").read_text().splitlines()]
    assert all(0 < r["features"] < 10 for r in log)
    torch.manual_seed(0)  # the run's initial weights: its seed, then the model
    init = QualityFM(QualityFMConfig.from_dict(run["model_config"])).feature_head.weight
    ck = torch.load(tmp_path / "f" / "last.pt", weights_only=False)
    moved = (ck["student"]["feature_head.weight"] - init).norm()
    assert 0 < (ck["teacher"]["feature_head.weight"] - init).norm() < moved  # EMA lags behind
    full, headless = load(export_model(tmp_path / "f", tmp_path / "m")), load(
        export_model(tmp_path / "f", tmp_path / "h", include_head=False))
    assert full.feature_head is not None and headless.feature_head is None
    assert headless.cfg.feature_targets == 0 and headless.head is None
    x = torch.randn(2, 2, 9000)
    assert full(x, decode=False)["features"].shape == (2, n)
    torch.testing.assert_close(headless.embed(x), full.embed(x))
    paper = PretrainConfig.for_recipe("paper")
    assert paper.feature_weight == 0


def test_cli_pretrain_export_and_load(synthetic_store, tmp_path, capsys) -> None:
    run, model_dir = tmp_path / "run", tmp_path / "model"
    overrides = [a for k, v in TINY.items() for a in ("--model-override", f"{k}={v}")]
    args = ["pretrain", "--store", str(synthetic_store), "--out", str(run), "--steps", "4",
            "--batch-size", "8", "--aligned-fraction", "0", "--warmup", "1", "--no-progress",
            "--diag-every", "2", "--diag-batch", "8", *overrides]
    assert main([*args, "--stop-after", "2"]) == 0
    assert main(["pretrain", "--out", str(run), "--resume"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["step"] == 4 and summary["done"]
    assert main(["export", str(run), "--out", str(model_dir)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {
        "out": str(model_dir)}
    card = (model_dir / "README.md").read_text()
    assert "qualityfm pretrain --store" in card and "--steps 4" in card
    assert "effective_rank" in card
    # what a deployment reads: the input's shape, rate, scaling, mask and the ONNX files
    assert "`x` [batch, 2, 9000]: channels `ppg`, `ecg_ii` at 300 Hz, each channel min-max" \
        in card and "encoder.onnx" in card and "no channel present has no embedding" in card

    model = qualityfm.load(model_dir)
    assert not model.training
    teacher = torch.load(run / "last.pt", map_location="cpu", weights_only=False)["teacher"]
    for k, v in model.state_dict().items():
        assert torch.equal(v, teacher[k])
    x, mask = torch.randn(2, 2, 9000), torch.ones(2, 2, dtype=torch.bool)
    assert model.embed(x, mask).shape == (2, 64)

    if importlib.util.find_spec("onnxruntime") is not None:  # ONNX export with parity check
        capsys.readouterr()
        assert main(["export", str(run), "--out", str(tmp_path / "m_onnx"), "--onnx"]) == 0
        printed = capsys.readouterr().out.strip().splitlines()
        assert len(printed) == 1  # one JSON line (the folder had been printed bare before it)
        parity = json.loads(printed[0])["onnx"]
        assert (tmp_path / "m_onnx" / "encoder.onnx").exists() and parity["max_abs_diff"] < 1e-4
        # golden examples beside it: the graph gives their embeddings, one modality absent
        import onnxruntime as ort

        ex = np.load(tmp_path / "m_onnx" / "encoder.examples.npz")
        assert parity["examples"].endswith("encoder.examples.npz")
        assert ex["x"].shape == (5, 2, 9000) and ex["mask"].sum(axis=1).tolist() == [2, 2, 2, 1, 1]
        session = ort.InferenceSession(str(tmp_path / "m_onnx" / "encoder.onnx"),
                                       providers=["CPUExecutionProvider"])
        [emb] = session.run(None, {"x": ex["x"], "mask": ex["mask"]})
        np.testing.assert_allclose(emb, ex["embedding"], atol=1e-4)

    cfg = json.loads((model_dir / "config.json").read_text())
    cfg["model"]["d_ff"] = 128
    (model_dir / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"config.json: field 'd_ff'"):
        load(model_dir)
    export_model(run, model_dir)
    (model_dir / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="model.safetensors: corrupt"):
        load(model_dir)
    assert main(["export", str(tmp_path / "no_run"), "--out", str(model_dir)]) == 1

    # folders of one kind are not written over by another verb: the export into the run it
    # reads had replaced its config.json; a fine-tune into a pre-training run, its summary;
    # a pre-training run in a model folder had read the model's config.json as its own
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    capsys.readouterr()
    assert main(["export", str(run), "--out", str(run)]) == 1
    assert "is the run folder itself" in capsys.readouterr().err
    assert main(["export", str(run), "--out", str(synthetic_store)]) == 1
    assert "holds a prepared store (meta.json)" in capsys.readouterr().err
    assert main(["finetune", "--task", "vt-alarm", "--data", str(synthetic_store), "--init",
                 "classical", "--out", str(run)]) == 1
    assert "holds a pre-training run (last.pt)" in capsys.readouterr().err
    assert main(["pretrain", "--store", str(synthetic_store), "--out", str(model_dir),
                 "--resume"]) == 1
    assert "holds a model folder (model.safetensors)" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
    # a folder of another kind given where a model or run is read: what it holds is named
    assert main(["export", str(synthetic_store), "--out", str(tmp_path / "x")]) == 1
    assert (f"{synthetic_store} is no pre-training run (no last.pt); {synthetic_store} holds "
            "a prepared store (meta.json)") in capsys.readouterr().err
    started = tmp_path / "started"  # a run stopped before its first checkpoint
    started.mkdir()
    (started / "log.jsonl").write_text('{"step": 1}\n')
    assert main(["export", str(started), "--out", str(tmp_path / "y")]) == 1
    assert (f"{started} holds a pre-training run without a checkpoint yet (no last.pt: it "
            "stopped before its first)") in capsys.readouterr().err
    # none of ours: a stopped k-fold run, a folder of records, no folder (each had been told
    # "no checkpoint at DIR/last.pt")
    (tmp_path / "kfold" / ".folds").mkdir(parents=True)
    for given, said in ((tmp_path / "kfold", "is no pre-training run (no last.pt): it holds a "
                         "stopped cross-validation run (finetune --kfold), which keeps no model"),
                        (tmp_path / "nothing", ": no such folder (a pre-training run to export)")):
        assert main(["export", str(given), "--out", str(tmp_path / "z")]) == 1
        assert f"{given}{' ' if said[0] != ':' else ''}{said}" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match=r"missing \(expected an exported qualityfm "
                                                r"model folder; .* holds a prepared store"):
        load(synthetic_store)
    from qualityfm.tasks import load_estimator

    with pytest.raises(FileNotFoundError, match=r"not a fine-tuned model \(no finetune.json\): "
                                                r"a pre-trained encoder, which finetune --init"):
        load_estimator(model_dir)


def test_folder_markers_are_the_files_the_verbs_write() -> None:
    from qualityfm.data.store import META
    from qualityfm.demo import DEMO_MARKER
    from qualityfm.io.folders import FOLDER_KINDS
    from qualityfm.tasks.pipeline import RUN_MARKERS
    from qualityfm.train.checkpoint import CHECKPOINT_NAME
    from qualityfm.train.engine import LOG_NAME
    from qualityfm.train.export import WEIGHTS_NAME

    markers = {kind: files for kind, files in FOLDER_KINDS}
    assert markers["demo report"] == (DEMO_MARKER,)
    assert markers["pre-training run"] == (CHECKPOINT_NAME, LOG_NAME)
    assert markers["model folder"] == (WEIGHTS_NAME,) and markers["prepared store"] == (META,)
    assert RUN_MARKERS == (*markers["fine-tuned run"], *markers["cross-validation report"],
                           *markers["comparison"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_flex_bf16_run_resumes_and_exports_to_cpu(synthetic_store, tmp_path) -> None:
    """The GPU path: FlexAttention trained under bf16 autocast; resume continues the run, and
    the exported model gives the GPU's embeddings on CPU."""
    kw = dict(device="cuda", attention="flex", amp_dtype="bf16", steps=8)
    full = pretrain(tiny(synthetic_store, tmp_path / "full", **kw))
    assert full["done"] and torch.isfinite(torch.tensor(full["losses"])).all()
    assert full["model_config"]["attention"] == "flex"
    part = pretrain(tiny(synthetic_store, tmp_path / "part", **kw), stop_after=5)
    rest = pretrain(tiny(synthetic_store, tmp_path / "part", **kw), resume=True)
    assert rest["done"] and rest["step"] == 8
    # the same stream of batches; GPU reductions in bf16 are not bitwise repeatable
    torch.testing.assert_close(torch.tensor(part["losses"] + rest["losses"]),
                               torch.tensor(full["losses"]), rtol=0, atol=2e-2)
    export_model(tmp_path / "full", tmp_path / "model")
    cpu, gpu = load(tmp_path / "model"), load(tmp_path / "model", device="cuda")
    x, mask = torch.randn(4, 2, 9000), torch.ones(4, 2, dtype=torch.bool)
    mask[1, 0] = False  # one window without PPG
    with torch.no_grad():
        a, b = gpu.embed(x.cuda(), mask.cuda()).cpu(), cpu.embed(x, mask)
    # cuDNN convolutions run in TF32 by default: close, not equal
    assert torch.nn.functional.cosine_similarity(a, b).min() > 0.9999
    torch.testing.assert_close(a, b, rtol=1e-2, atol=1e-2)


def test_cli_pretrain_refuses_stores_without_pairs_and_unknown_overrides(
        synthetic_store, tmp_path, capsys) -> None:
    from qualityfm.data import prepare
    from qualityfm.data.store import PAIRS, save_npy
    from qualityfm.io import write_json

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "broken.npz").write_bytes(b"PK\x03\x04 no zip")
    empty = tmp_path / "empty"
    prepare(corpus, empty, progress=False)  # the one record skipped: 0 windows
    no_pairs = tmp_path / "no_pairs"
    shutil.copytree(synthetic_store, no_pairs)
    save_npy(no_pairs / PAIRS, np.zeros((0, 2), np.int64))
    meta = json.loads((no_pairs / "meta.json").read_text())
    write_json(no_pairs / "meta.json", {**meta, "n_pairs": 0})
    run = tmp_path / "run"
    common = ["pretrain", "--out", str(run), "--steps", "2", "--no-progress"]
    assert main([*common, "--store", str(empty)]) == 1
    assert f"{empty}: holds 0 windows and 0 pairs; pre-training needs pairs" in (
        capsys.readouterr().err)
    assert main([*common, "--store", str(no_pairs)]) == 1
    assert f"{no_pairs}: holds 40 windows and 0 pairs" in capsys.readouterr().err
    assert main([*common, "--store", str(synthetic_store), "--batch-size", "256"]) == 1
    assert "fewer than one step's batch (256)" in capsys.readouterr().err
    # the batch, not its split, decides: 128 pairs as 64 micro-batches of 2 ran, a pair twice
    n_pairs = json.loads((synthetic_store / "meta.json").read_text())["n_pairs"]
    assert main([*common, "--store", str(synthetic_store), "--batch-size",
                 str(2 * n_pairs), "--grad-accum", str(n_pairs)]) == 1
    assert f"holds {n_pairs} pairs, fewer than one step's batch" in capsys.readouterr().err
    assert main([*common, "--store", str(synthetic_store), "--batch-size", "1"]) == 1
    assert "micro-batch of 1 pair per rank" in capsys.readouterr().err  # KoLeo compares two
    assert main([*common, "--store", str(synthetic_store), "--model-override", "foo=1"]) == 1
    err = capsys.readouterr().err
    assert "unknown QualityFMConfig fields: ['foo']" in err and "d_model" in err
    assert "Traceback" not in err and not run.exists()


def test_cli_pretrain_help_and_checked_numbers(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["pretrain", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    # a setting the paper recipe changes shows both recipes' values, a shared one its value
    assert ("the rate used is LR x batch-size / 256 (default: the recipe's (default 0.0005, "
            "paper 0.0001))") in text
    assert "(default: the recipe's (default False, paper True))" in text  # --augment
    assert "-1: auto (CUDA: up to 8, CPU: none) (default: -1)" in text
    assert "--student-temp STUDENT_TEMP default: 0.1" in text
    for flag, value, message in (("--log-every", "0", "must be >= 1, got 0"),
                                 ("--warmup", "-1", "must be >= 0, got -1"),
                                 ("--teacher-temp", "0", "must be > 0, got 0"),
                                 ("--lr", "nan", "must be a finite number"),
                                 ("--lr", "0", "must be > 0, got 0"),  # a run of no steps
                                 ("--prototypes", "1", "must be >= 2, got 1")):
        with pytest.raises(SystemExit) as exit_info:
            main(["pretrain", "--out", "run", flag, value])
        assert exit_info.value.code == 2
        assert f"argument {flag}: {message}" in capsys.readouterr().err
    # the settings' upper bounds, checked by PretrainConfig, are the flag's too (they had
    # named the field, "momentum must be in [0, 1]", exit 1), before the store is looked at
    for flag, value, message in (("--momentum", "1.5", "must be in [0, 1], got 1.5"),
                                 ("--momentum-end", "2", "must be in [0, 1], got 2"),
                                 ("--workers", "-5", "must be in [0, 256], or -1 for auto")):
        assert main(["pretrain", "--store", "nowhere", "--out", "run", flag, value]) == 2
        assert f"pretrain: error: argument {flag}: {message}" in capsys.readouterr().err


def test_run_folders_are_guarded_and_resume_is_safe(synthetic_store, tmp_path, capsys) -> None:
    """A new run refuses a folder holding one (unless overwrite); resuming a finished run keeps
    its summary; a log line cut short by a kill is dropped; another process count is refused;
    the store is recorded as an absolute path."""
    run = tmp_path / "run"
    first = pretrain(tiny(synthetic_store, run, steps=3))
    assert json.loads((run / "config.json").read_text())["store"] == str(synthetic_store.resolve())
    with pytest.raises(ValueError, match="holds a run .*--resume continues it"):
        pretrain(tiny(synthetic_store, run, steps=3))
    again = pretrain(tiny(synthetic_store, run, steps=3, seed=1), overwrite=True)
    assert again["losses"] != first["losses"]
    assert len((run / "log.jsonl").read_text().splitlines()) == 3  # the old lines are gone
    done = json.loads((run / "summary.json").read_text())
    with (run / "log.jsonl").open("a") as f:
        f.write('{"step": 4, "distill": 3.5')  # a kill while writing the line
    assert pretrain(tiny(synthetic_store, run, steps=3, seed=1), resume=True)["step"] == 3
    kept = json.loads((run / "summary.json").read_text())
    assert kept["last"] == done["last"] and kept["last"]["step"] == 3
    # extended, and killed before its next checkpoint: no summary says "done" at step 3
    import qualityfm.train.engine as E

    def killed(*args, **kwargs):
        raise RuntimeError("killed")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(E, "save_checkpoint", killed)
        with pytest.raises(RuntimeError, match="killed"):
            pretrain(tiny(synthetic_store, run, steps=5, seed=1), resume=True)
    assert not (run / "summary.json").exists()
    # a resume that trains nothing (stopped at once) keeps no record of another step
    nothing = pretrain(tiny(synthetic_store, run, steps=5, seed=1), resume=True, stop_after=3)
    assert nothing["step"] == 3 and not nothing["done"] and nothing["last"] == {}
    export_model(run, tmp_path / "model")  # reads the log: the cut line is dropped there too
    ck = torch.load(run / "last.pt", weights_only=False)
    ck["data"] = ck["data"] * 2  # as if two processes had trained it
    torch.save(ck, run / "last.pt")
    with pytest.raises(ValueError, match=r"trained by 2 process\(es\), and 1 would resume"):
        pretrain(tiny(synthetic_store, run, steps=6, seed=1), resume=True)
    with pytest.raises(FileNotFoundError, match="is a pre-training run, not a model: export"):
        load(run)
    from qualityfm.tasks.finetune import encoder_fs

    with pytest.raises(FileNotFoundError, match="is a pre-training run, not a model: export"):
        encoder_fs(run)  # what finetune --init RUN asks first


def test_a_resume_that_trains_nothing_keeps_the_figures_of_its_step(synthetic_store,
                                                                      tmp_path) -> None:
    """A run stopped at step 2 of 4, resumed with --stop-after 1: nothing to train, and its
    summary's figures of step 2 had been wiped ("last": {}); a stop_after of 2.5 had run 3
    steps and written no checkpoint, one of 0 run nothing, unsaid."""
    run = tmp_path / "run"
    for bad in (2.5, 0, -1):
        with pytest.raises(ValueError, match=rf"stop_after must be a whole number of steps "
                                             rf">= 1, got {bad}"):
            pretrain(tiny(synthetic_store, run, steps=4), stop_after=bad)
    stopped = pretrain(tiny(synthetic_store, run, steps=4), stop_after=2)
    assert stopped["step"] == 2 and stopped["last"]["step"] == 2
    again = pretrain(tiny(synthetic_store, run, steps=4), resume=True, stop_after=1)
    assert again["step"] == 2 and not again["done"] and again["last"] == stopped["last"]
    assert json.loads((run / "summary.json").read_text())["last"] == stopped["last"]


def test_resume_follows_its_store_and_records_what_it_runs(synthetic_store, tmp_path,
                                                           capsys) -> None:
    """A moved store resumes (config.json then names it, and a new --steps), another store is
    refused, a temporary left by a killed checkpoint write is removed, and a run may not be
    written into its store."""
    from qualityfm.data.store import PAIRS, save_npy
    from qualityfm.io import write_json

    run = tmp_path / "run"
    pretrain(tiny(synthetic_store, run, steps=4, command="qualityfm pretrain --first"),
             stop_after=2)
    (run / ".last.pt.x1y2z3.tmp").write_bytes(b"half a checkpoint")  # a SIGKILL mid-save
    moved = shutil.copytree(synthetic_store, tmp_path / "moved")
    capsys.readouterr()
    assert pretrain(tiny(moved, run, steps=5), resume=True)["step"] == 5
    err = capsys.readouterr().err
    assert "resuming with steps 5 (was 4)" in err and f"resuming with store '{moved}'" in err
    assert not list(run.glob(".*.tmp"))
    config = json.loads((run / "config.json").read_text())
    assert (config["store"], config["steps"]) == (str(moved), 5)
    assert config["command"] == "qualityfm pretrain --first"  # kept by a resume from Python
    assert pretrain(tiny(moved, run, steps=3), resume=True)["step"] == 5  # nothing to train
    assert "already at step 5: nothing more to train" in capsys.readouterr().err
    assert json.loads((run / "config.json").read_text())["steps"] == 5  # as its checkpoint
    other = shutil.copytree(synthetic_store, tmp_path / "other")  # 8 pairs fewer
    save_npy(other / PAIRS, np.load(other / PAIRS)[:-8])
    meta = json.loads((other / "meta.json").read_text())
    write_json(other / "meta.json", {**meta, "n_pairs": meta["n_pairs"] - 8})
    for f in other.rglob("features.*"):  # refused before hours of feature targets
        f.unlink()
    with pytest.raises(ValueError, match=r"cannot resume on .*other \(4 records, 40 windows, "
                                         r"135 pairs\): the run was trained on .*moved"):
        pretrain(tiny(other, run, steps=6), resume=True)
    assert not list(other.rglob("features.*"))
    odd = shutil.copytree(other, tmp_path / "odd")  # other data the network cannot read
    write_json(odd / "meta.json", {**json.loads((odd / "meta.json").read_text()), "fs": 250.0})
    with pytest.raises(ValueError, match=r"cannot resume on .*odd .*: the run was trained on"):
        pretrain(tiny(odd, run, steps=6, model_overrides={**TINY, "fs": 300.0}), resume=True)
    shuffled = shutil.copytree(synthetic_store, tmp_path / "shuffled")  # same counts
    save_npy(shuffled / PAIRS, np.load(shuffled / PAIRS)[::-1])
    with pytest.raises(ValueError, match=r"the same counts, other windows or pairs"):
        pretrain(tiny(shuffled, run, steps=6), resume=True)
    with pytest.raises(ValueError, match="is in the store"):
        pretrain(tiny(moved, moved / "run", steps=2))
    assert not (moved / "run").exists()


def test_cli_resume_starts_a_run_that_has_no_checkpoint_yet(synthetic_store, tmp_path,
                                                            capsys) -> None:
    """The README's cluster launch (`--resume` on every launch) works on the first one too."""
    run = tmp_path / "run"
    overrides = [a for k, v in TINY.items() for a in ("--model-override", f"{k}={v}")]
    args = ["pretrain", "--store", str(synthetic_store), "--out", str(run), "--steps", "2",
            "--batch-size", "8", "--warmup", "1", "--no-progress", "--no-tensorboard",
            "--diag-every", "0", *overrides, "--model-override", 'attention="local"']
    assert main([*args, "--resume"]) == 0
    assert "no checkpoint in" in capsys.readouterr().err
    assert json.loads((run / "summary.json").read_text())["done"]
    command = json.loads((run / "config.json").read_text())["command"]
    assert main([*args, "--resume"]) == 0  # a relaunch as it was: the record stays
    assert json.loads((run / "config.json").read_text())["command"] == command
    assert main(["pretrain", "--out", str(run), "--resume", "--steps", "3", "--no-progress"]) == 0
    config = json.loads((run / "config.json").read_text())  # extended: it shows how
    assert config["steps"] == 3 and config["command"].startswith(command + " && ")
    resumed = config["command"][len(command) + 4:]
    assert "--steps 3" in resumed and resumed.endswith(" --resume")
    assert main([*args]) == 1  # without --resume or --overwrite: refused
    assert "--overwrite starts it over" in capsys.readouterr().err
    assert main(["pretrain", "--out", str(tmp_path / "none"), "--resume"]) == 2  # no store
    err = capsys.readouterr().err
    assert "no checkpoint to resume, and no --store" in err
    assert "starting the run" not in err  # (said before the refusal, it had contradicted it)
    saved = (run / "config.json").read_text()  # run settings that are no run's: named
    for text, message in (('{"store": ', "config.json: truncated or damaged settings of a "
                                         "qualityfm pre-training run"),
                          ('{"store": ', "or move it away (--resume then takes the settings "
                                         "the run's checkpoint holds)"),
                          ("[]", "config.json: no settings of a qualityfm pre-training "
                                 "run (a JSON list, not an object)"),
                          ('{"name": "x"}', "config.json: not the settings of a qualityfm "
                                            "pre-training run (unknown PretrainConfig fields")):
        (run / "config.json").write_text(text)
        assert main(["pretrain", "--out", str(run), "--resume", "--store",
                     str(synthetic_store), "--no-progress"]) == 1
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    (run / "config.json").write_text(saved)
    # a flag of a field the run's own override sets, and a bad flag, named as such
    resume = ["pretrain", "--out", str(run), "--resume", "--no-progress"]
    assert main([*resume, "--attention", "dense", "--model-override",
                 "attention=local"]) == 1  # given together: refused (the override had won)
    assert ('--attention dense and --model-override attention="local" set the same network '
            "field" in capsys.readouterr().err)
    # attention may change on resume: the flag replaces the run's own override of it (a run
    # started with --model-override attention=... had refused both ways to change it)
    assert main([*resume, "--attention", "dense"]) == 0
    changed = json.loads((run / "config.json").read_text())
    assert changed["attention"] == "dense" and "attention" not in changed["model_overrides"]
    assert main([*resume, "--model-override", "attention=local"]) == 0
    assert json.loads((run / "config.json").read_text())["model_overrides"]["attention"] == \
        "local"
    assert main([*resume, "--model-override", "head=none"]) == 1
    err = capsys.readouterr().err
    assert "head follows the run setting head" in err and "config.json" not in err, err
    model = tmp_path / "model"
    assert main(["export", str(run), "--out", str(model)]) == 0  # an earlier export
    (model / "encoder.onnx").write_bytes(b"stale")
    (model / "encoder.examples.npz").write_bytes(b"stale")
    assert main(["export", str(run), "--out", str(model)]) == 0
    assert not (model / "encoder.onnx").exists()  # it belonged to other weights
    assert not (model / "encoder.examples.npz").exists()
    # a finished run whose checkpoint was removed (after an export): --resume had started it
    # over, its log and summary gone; an empty checkpoint is named as such
    log = (run / "log.jsonl").read_text()
    (run / "last.pt").write_bytes(b"")
    assert main(resume) == 1
    assert "last.pt: not a readable qualityfm checkpoint (an empty file): put the run's own " \
        "back" in capsys.readouterr().err
    (run / "last.pt").unlink()
    (run / ".notes.v2.tmp").write_text("a user's")
    assert main(resume) == 1
    assert "summary.json records a run, but its checkpoint last.pt is not there" in \
        capsys.readouterr().err
    assert (run / "log.jsonl").read_text() == log and (run / "summary.json").is_file()
    assert main([*args, "--overwrite"]) == 0  # the run's temporaries go, a user's stays
    assert (run / ".notes.v2.tmp").read_text() == "a user's"


@pytest.mark.filterwarnings("ignore::UserWarning")  # FlexAttention's forward on CPU
def test_runs_that_cannot_train_are_refused_before_anything_is_written(synthetic_store,
                                                                      tmp_path, capsys) -> None:
    """FlexAttention on CPU (it has no backward there), network settings of the wrong type and
    windows that do not fit the network are refused before the run folder is made; a folder
    left with only the config.json of a launch that failed before its first step is no run."""
    from qualityfm.model import QualityFM
    from qualityfm.train.engine import model_config

    run = tmp_path / "run"
    flex = tiny(synthetic_store, run, attention="flex", device="cpu", feature_weight=0.0)
    with pytest.raises(ValueError, match="attention 'flex' cannot train on CPU"):
        pretrain(flex)
    with pytest.raises(ValueError, match="attention 'flex' cannot train on CPU"):
        pretrain(flex.replace(attention="auto", model_overrides={**TINY, "attention": "flex"}))
    assert not run.exists()
    model = QualityFM(model_config(flex)).eval()  # forward only (embedding) stays allowed
    with torch.no_grad():
        assert model.embed(torch.randn(2, 2, 9000)).shape == (2, 64)

    overrides = [a for k, v in TINY.items() for a in ("--model-override", f"{k}={v}")]
    args = ["pretrain", "--store", str(synthetic_store), "--out", str(run), "--steps", "2",
            "--batch-size", "8", "--warmup", "1", "--no-progress", "--no-tensorboard",
            "--diag-every", "0", "--feature-weight", "0", *overrides]
    for extra, message in (
            (["--attention", "flex", "--device", "cpu"], "attention 'flex' cannot train on CPU"),
            (["--model-override", "n_heads=4.0"], "config n_heads must be an integer, got 4.0"),
            (["--model-override", "window=2.5"], "config window must be an integer, got 2.5"),
            (["--model-override", "n_bins=5000"],
             "4501 rFFT bins, fewer than the network's n_bins 5000"),
            (["--model-override", "n_samples=3000"],
             "windows of 9000 samples at 300 Hz, the network's n_samples is 3000; give "
             "--model-override n_samples=9000"),
            (["--model-override", "fs=250"],
             "the network's fs is 250; give --model-override fs=300"),
            (["--model-override", "fs=0"], "config fs must be a finite rate in Hz > 0, got 0"),
            (["--model-override", "head_on=pooled"],
             "model_overrides: head_on follows the run setting distill_mode"),
            (["--model-override", "head=none"],
             "model_overrides: head follows the run setting head"),
            (["--model-override", "amplitude=\"power\""],  # the loss's: --amplitude sets it
             "model_overrides: amplitude follows the run setting amplitude"),
            # the override had won without a word, config.json keeping the flag's value
            (["--prototypes", "256"],
             "--prototypes 256 and --model-override head_prototypes=128 set the same network "
             "field; give one"),
            (["--window", "4", "--model-override", "window=6"],
             "--window 4 and --model-override window=6 set the same network field")):
        assert main([*args, *extra]) == 1, extra
        err = capsys.readouterr().err
        assert "qualityfm pretrain: error: " in err and message in err, err
        assert "Traceback" not in err
    assert not run.exists()

    run.mkdir()
    PretrainConfig.for_recipe(store=str(synthetic_store), out=str(run)).save(run / "config.json")
    assert main(args) == 0  # a lone config.json: the corrected command runs without --overwrite
    (run / "last.pt").unlink()
    (run / "summary.json").unlink()
    assert main(args) == 1  # its log holds trained steps: refused
    assert "holds a run (log.jsonl)" in capsys.readouterr().err


@pytest.mark.parametrize("workers", [0, 2])
def test_sigterm_writes_a_checkpoint(synthetic_store, tmp_path, workers: int) -> None:
    """A preempted run (SIGTERM to its whole process group, as a job scheduler sends it, data
    loader workers included) finishes its step, saves it and exits 143."""
    import os
    import signal
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    overrides = [a for k, v in TINY.items() for a in ("--model-override", f"{k}={v}")]
    cmd = [sys.executable, "-m", "qualityfm", "pretrain", "--store", str(synthetic_store),
           "--out", str(run), "--steps", "100000", "--batch-size", "8", "--warmup", "1",
           "--log-every", "1", "--diag-every", "0", "--no-progress", "--no-tensorboard",
           "--workers", str(workers), *overrides]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        log = run / "log.jsonl"
        deadline = time.time() + 120
        while time.time() < deadline and (
                not log.exists() or len(log.read_text().splitlines()) < 3):
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.2)
        assert len(log.read_text().splitlines()) >= 3, "the run logged no steps in 120 s"
        os.killpg(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 128 + signal.SIGTERM, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["stopped_by"] == "SIGTERM" and not summary["done"]
    assert (f"qualityfm pretrain: interrupted (SIGTERM) after step {summary['step']}, its "
            "checkpoint written: --resume continues") in err  # said, as the other verbs say it
    ck = torch.load(run / "last.pt", weights_only=False)
    assert ck["step"] == summary["step"] >= 3  # nothing trained was lost


def test_the_centre_moves_once_a_step_whatever_the_micro_batches() -> None:
    """Two micro-batches of a step give the centre one full batch gives (gradient
    accumulation keeps the maths); and no micro-batch's loss sees another's update."""
    from qualityfm.model import QualityFMConfig
    from qualityfm.train.engine import Objective

    cfg = PretrainConfig(head=False, amp_weight=0, phase_weight=0, koleo_weight=0,
                         feature_weight=0, distill_mode="token")
    mcfg = QualityFMConfig.preset("base")
    g = torch.Generator().manual_seed(0)
    s, t = (torch.randn(8, 18, mcfg.d_model, generator=g) for _ in range(2))
    batch = {"aligned": torch.zeros(8, dtype=torch.bool)}
    whole, halves = Objective(cfg, mcfg), Objective(cfg, mcfg)
    loss_whole = whole({"tokens": s}, {"tokens": t}, batch)["distill"]
    whole.end_step()
    parts = [halves({"tokens": s[k:k + 4]}, {"tokens": t[k:k + 4]},
                    {"aligned": batch["aligned"][k:k + 4]})["distill"] for k in (0, 4)]
    assert halves.distill.center.abs().max() == 0  # nothing moved within the step
    halves.end_step()
    torch.testing.assert_close(halves.distill.center, whole.distill.center)
    assert halves.distill.center.abs().max() > 0
    torch.testing.assert_close((parts[0] + parts[1]) / 2, loss_whole)


def test_the_python_config_refuses_what_would_fail_after_work() -> None:
    for field_name, value, message in (("log_every", 0, "log_every must be >= 1, got 0"),
                                       ("ckpt_every", 0, "ckpt_every must be >= 1, got 0"),
                                       ("teacher_temp_end", 0.0, "teacher_temp_end must be > 0"),
                                       ("student_temp", -1.0, "student_temp must be > 0"),
                                       ("warmup", -1, "warmup must be >= 0, got -1"),
                                       ("lr", 0.0, "lr must be > 0, got 0.0"),
                                       ("prototypes", 1, "prototypes must be >= 2, got 1"),
                                       ("centre_momentum", 1.5, "centre_momentum must be in"),
                                       ("diag_batch", 1, r"diag_batch must be >= 2 .*got 1")):
        with pytest.raises(ValueError, match=message):
            PretrainConfig(**{field_name: value})


def test_a_run_resumed_elsewhere_keeps_its_precision(synthetic_store, tmp_path, capsys) -> None:
    """amp_dtype 'auto' is bf16 on GPU, fp32 on CPU: a run moved between them continues at the
    precision it was trained at, and says so."""
    part = pretrain(tiny(synthetic_store, tmp_path / "run", steps=4, diag_every=0), stop_after=2)
    ck_path = tmp_path / "run" / "last.pt"
    ck = torch.load(ck_path, weights_only=False)
    assert part["step"] == 2 and ck["precision"] == "fp32"
    ck["precision"] = "bf16"  # as if trained on a GPU
    torch.save(ck, ck_path)
    rest = pretrain(tiny(synthetic_store, tmp_path / "run", steps=4, diag_every=0), resume=True)
    assert rest["done"] and np.isfinite(rest["losses"]).all()
    assert "resuming on cpu at the run's bf16 precision" in capsys.readouterr().err
    assert torch.load(ck_path, weights_only=False)["precision"] == "bf16"


def test_a_checkpoint_from_before_the_weighted_terms_is_named_on_resume(synthetic_store,
                                                                       tmp_path, capsys) -> None:
    """A run split into micro-batches that began under the old objective (micro-batches
    weighed alike) goes on under the exact one: said, not silent; a new one says nothing."""
    run = tmp_path / "run"
    pretrain(tiny(synthetic_store, run, steps=3, grad_accum=2, diag_every=0), stop_after=1)
    ck_path = run / "last.pt"
    ck = torch.load(ck_path, weights_only=False)
    assert ck["weighted_terms"] is True
    pretrain(tiny(synthetic_store, run, steps=3, grad_accum=2, diag_every=0), resume=True,
             stop_after=2)
    assert "predates" not in capsys.readouterr().err
    ck = torch.load(ck_path, weights_only=False)
    del ck["weighted_terms"]
    torch.save(ck, ck_path)
    pretrain(tiny(synthetic_store, run, steps=3, grad_accum=2, diag_every=0), resume=True)
    assert "checkpoint predates the spectral and feature terms" in capsys.readouterr().err


def test_train_step_teacher_gets_no_gradient_and_follows_by_momentum(synthetic_store,
                                                                     monkeypatch) -> None:
    """The step's three parts: the teacher's forward leaves it without gradients, the student
    moves, and the teacher is then momentum * teacher + (1 - momentum) * student."""
    import copy

    from qualityfm.model import QualityFM
    from qualityfm.train.engine import (
        Objective,
        TrainStep,
        build_optimizer,
        make_dataset,
        model_config,
        setup_distributed,
        teacher_forward,
    )

    torch.manual_seed(0)
    cfg = tiny(synthetic_store, synthetic_store.parent / "unused", feature_weight=0.0,
               grad_accum=2)
    env = setup_distributed("cpu")
    mcfg = model_config(cfg, 0, 300.0)
    student = QualityFM(mcfg)
    teacher = copy.deepcopy(student)  # requires grad: only the step's no_grad keeps it clean
    objective = Objective(cfg, mcfg)
    optimizer = build_optimizer(student, cfg, 1e-3)
    step = TrainStep(student=student, teacher=teacher, model=student, synced=student,
                     teacher_fn=teacher_forward, objective=objective, optimizer=optimizer,
                     cfg=cfg, precision="fp32", env=env, fsdp=False)
    batches = iter(torch.utils.data.DataLoader(make_dataset(cfg, env, 4, None), batch_size=4))
    before_s = [p.detach().clone() for p in student.parameters()]
    before_t = [p.detach().clone() for p in teacher.parameters()]
    values = {"lr": 1e-3, "weight_decay": 0.04, "teacher_temp": 0.04, "momentum": 0.75}
    asked = []  # the stop request is read after the micro-batches, not before them

    def stop() -> int:
        asked.append(sum(p.grad is not None for p in student.parameters()))
        return signal.SIGTERM

    sums, stop = step((next(batches) for _ in range(2)), values, stop)
    assert asked and asked[0] > 0
    assert stop == signal.SIGTERM and math.isfinite(sums["loss"])
    assert not [k for k in sums if k.startswith("_stop")]
    assert all(p.grad is None for p in teacher.parameters())
    moved = [not torch.equal(a, p) for a, p in zip(before_s, student.parameters(), strict=True)]
    assert sum(moved) > len(moved) // 2
    for t0, t1, s1 in zip(before_t, teacher.parameters(), student.parameters(), strict=True):
        torch.testing.assert_close(t1, 0.75 * t0 + 0.25 * s1)
    assert optimizer.param_groups[0]["lr"] == 1e-3
    # Under torchrun a signal reaching one rank stops all, each naming it (the others had
    # stopped as if done, rank 0 exiting 0): the flags are reduced with the loss terms.
    import dataclasses

    from qualityfm.train import engine

    def other_rank_signalled(values, device):  # this rank's and a SIGTERM'd rank's mean
        assert values[f"_stop_{int(signal.SIGTERM)}"] == 0.0
        return {k: (v + (1.0 if k == f"_stop_{int(signal.SIGTERM)}" else v)) / 2
                for k, v in values.items()}

    monkeypatch.setattr(engine, "_mean_over_ranks", other_rank_signalled)
    monkeypatch.setattr(engine, "_sum_over_ranks", lambda t: 2 * t)  # a rank of like counts
    step.env = dataclasses.replace(env, world=2)
    _, told = step((next(batches) for _ in range(2)), values, lambda: None)
    assert told == signal.SIGTERM


def test_a_step_of_micro_batches_equals_one_whole_batch_with_channels_missing() -> None:
    """The spectral term is a mean over present channels: with the absent ones all in one
    micro-batch, grad_accum 2 had weighed that micro-batch's windows up (amp 0.436 against
    0.431 for the whole batch, decoder gradients 20-30 % off). Each micro-batch now counts
    by its share of the step's channels, and the feature term by its finite targets."""
    import copy

    from qualityfm.model import QualityFM
    from qualityfm.train.engine import (
        DistEnv,
        Objective,
        TrainStep,
        build_optimizer,
        model_config,
        teacher_forward,
    )

    g = torch.Generator().manual_seed(1)
    present = torch.ones(8, 2, dtype=torch.bool)
    hi_mask = present.clone()
    hi_mask[0, 0] = hi_mask[1, 1] = hi_mask[2, 0] = False  # all in the first half
    feats = torch.randn(8, 6, generator=g)
    feats[:3, :4] = float("nan")
    batch = {"hi": torch.randn(8, 2, 2048, generator=g), "lo": torch.randn(8, 2, 2048, generator=g),
             "hi_mask": hi_mask, "lo_mask": present, "aligned": torch.arange(8) % 2 == 0,
             "lo_features": feats}
    values = {"lr": 1e-3, "weight_decay": 0.04, "momentum": 0.9, "teacher_temp": 0.04}

    def one_step(accum: int) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
        cfg = PretrainConfig(store="x", grad_accum=accum, batch_size=8, koleo_weight=0.0,
                             variance_weight=0.0, feature_weight=1.0, model_overrides=dict(
                                 d_model=32, n_layers=1, n_heads=2, d_ff=32, n_samples=2048,
                                 n_bins=64, dropout=0.0))
        torch.manual_seed(0)
        mcfg = model_config(cfg, 6, 300.0)
        student = QualityFM(mcfg)
        teacher = copy.deepcopy(student).requires_grad_(False).eval()
        optimizer = build_optimizer(student, cfg, 1e-3, fused=False)
        grads: dict[str, torch.Tensor] = {}
        optimizer.step = lambda: grads.update(  # the step's gradient, before any update
            {n: p.grad.clone() for n, p in student.named_parameters() if p.grad is not None})
        step = TrainStep(student=student, teacher=teacher, model=student, synced=student,
                         teacher_fn=teacher_forward, objective=Objective(cfg, mcfg),
                         optimizer=optimizer, cfg=cfg, precision="fp32",
                         env=DistEnv(0, 1, 0, torch.device("cpu")), fsdp=False)
        size = 8 // accum
        sums, _ = step(iter([{k: v[i * size:(i + 1) * size] for k, v in batch.items()}
                             for i in range(accum)]), values)
        return sums, grads

    whole, whole_grads = one_step(1)
    for accum in (2, 4):
        sums, grads = one_step(accum)
        for term in ("amp", "phase", "features", "distill"):
            assert sums[term] == pytest.approx(whole[term], rel=1e-5), (accum, term)
        assert grads.keys() == whole_grads.keys()
        for name, grad in grads.items():
            scale = whole_grads[name].abs().max().item()
            torch.testing.assert_close(grad, whole_grads[name], rtol=0, atol=1e-4 * scale + 1e-9,
                                       msg=f"{name} with grad_accum {accum}")


def test_a_signal_during_a_step_ends_the_run_after_that_step(synthetic_store, tmp_path,
                                                              monkeypatch) -> None:
    """SIGINT while step 3 computes its loss: the run stops after step 3 with a checkpoint,
    not after one more step (the stop request is read once the step's micro-batches ran)."""
    import os
    import signal

    import qualityfm.train.engine as engine

    forward, calls = engine.Objective.__call__, []

    def interrupted(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(engine.Objective, "__call__", interrupted)
    res = pretrain(tiny(synthetic_store, tmp_path / "run", steps=10, diag_every=0))
    assert res["step"] == 3 and res["stopped_by"] == "SIGINT" and len(calls) == 3
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=False)["step"] == 3


def test_one_diagnostics_window_is_enough_when_there_are_no_diagnostics() -> None:
    assert PretrainConfig(diag_batch=1, diag_every=0).diag_batch == 1


def test_a_diverging_run_ends_with_one_error_line(synthetic_store, tmp_path, capsys) -> None:
    """A learning rate far too high had ended in a linear-algebra traceback from the collapse
    diagnostics (the teacher already NaN); it is now one error line, exit 1, and the last
    checkpoint is kept."""
    overrides = [a for k, v in TINY.items() for a in ("--model-override", f"{k}={v}")]
    run = tmp_path / "run"
    args = ["pretrain", "--store", str(synthetic_store), "--out", str(run), "--steps", "12",
            "--batch-size", "8", "--log-every", "1", "--ckpt-every", "1", "--diag-every", "1",
            "--diag-batch", "8", "--no-progress", "--no-tensorboard", "--lr", "1e7",
            "--warmup", "0", "--teacher-temp-warmup", "0", "--teacher-temp-end", "0.04",
            *overrides]  # no warning beside (the temperature 0.04 throughout)
    from qualityfm.data import compute_store_features

    compute_store_features(synthetic_store)  # (run alone, the test had seen them computed)
    capsys.readouterr()
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("qualityfm pretrain: error: training diverged")
    assert "lower --lr" in err and "Traceback" not in err and len(err.splitlines()) == 1
    if (run / "last.pt").exists():  # the checkpoint of the last step that was finite
        step = torch.load(run / "last.pt", weights_only=False)["step"]
        assert f"step {step + 1}" in err


def test_a_finite_loss_of_nan_gradients_stops_before_its_checkpoint(synthetic_store, tmp_path,
                                                                     monkeypatch) -> None:
    """The paper recipe clips no gradient: a step whose loss was finite and whose gradients
    were NaN had written its checkpoint with NaN weights over the last good one (the run
    stopped one step later). Its gradient norm is measured all the same and stops it there."""
    import qualityfm.train.engine as engine

    forward, calls = engine.Objective.forward, []

    def nan_gradients(self, s_out, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        terms = forward(self, s_out, *args, **kwargs)
        calls.append(1)
        if len(calls) == 3:  # sqrt at 0: a value of 0, a gradient of inf * 0
            x = s_out["tokens"]
            terms["loss"] = terms["loss"] + 0.0 * torch.sqrt(x - x.detach()).sum()
        return terms

    monkeypatch.setattr(engine.Objective, "forward", nan_gradients)
    run = tmp_path / "run"
    cfg = tiny(synthetic_store, run, recipe="paper", diag_every=0, ckpt_every=1)
    assert cfg.grad_clip == 0
    with pytest.raises(FloatingPointError, match=r"diverged at step 3 \(loss [0-9.]+, "
                                                  r"gradient norm nan\)"):
        pretrain(cfg)
    ck = torch.load(run / "last.pt", weights_only=False)
    assert ck["step"] == 2
    assert all(torch.isfinite(v).all() for part in ("student", "teacher")
               for v in ck[part].values() if v.is_floating_point())
    assert "grad_norm" in json.loads((run / "log.jsonl").read_text().splitlines()[0])


def test_diagnostics_batch_may_change_on_resume_and_a_new_run_drops_old_events(
        synthetic_store, tmp_path) -> None:
    """The diagnostics read their own batch, so its size is no part of the training maths:
    a resume may change it. A run started over (--overwrite) removes the old run's
    TensorBoard events; a resume keeps them. A run stopped part way logs the steps an
    uninterrupted one does."""
    run = tmp_path / "run"
    pretrain(tiny(synthetic_store, run, log_every=2, diag_every=100), stop_after=3)
    (run / "tb").mkdir(exist_ok=True)  # the run made it where tensorboard is installed
    old = run / "tb" / "events.out.tfevents.0.old"
    old.write_text("x")
    assert pretrain(tiny(synthetic_store, run, log_every=2, diag_every=100, diag_batch=4),
                    resume=True)["step"] == 6
    assert old.exists()
    steps = [json.loads(ln)["step"] for ln in (run / "log.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6]
    pretrain(tiny(synthetic_store, run, steps=2, tensorboard=False), overwrite=True)
    assert not old.exists()  # the old run's events (only: other files of tb/ stay)


def test_a_resume_hides_the_tensorboard_events_after_its_checkpoint(synthetic_store,
                                                                    tmp_path) -> None:
    """A run that logged past its last checkpoint (killed between two) and is resumed from it
    shows each step once in TensorBoard, as in log.jsonl: the events after the checkpoint are
    purged."""
    pytest.importorskip("tensorboard", reason="tensorboard is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    pretrain(tiny(synthetic_store, run, diag_every=0), stop_after=3)
    at_3 = (run / "last.pt").read_bytes()
    pretrain(tiny(synthetic_store, run, diag_every=0), resume=True)  # logs steps 4-6
    (run / "last.pt").write_bytes(at_3)  # as if killed before the step-6 checkpoint
    pretrain(tiny(synthetic_store, run, diag_every=0), resume=True)
    events = EventAccumulator(str(run / "tb")).Reload()
    assert [e.step for e in events.Scalars("loss")] == [1, 2, 3, 4, 5, 6]
    logged = [json.loads(ln) for ln in (run / "log.jsonl").read_text().splitlines()]
    assert [e.value for e in events.Scalars("loss")] == pytest.approx(
        [r["loss"] for r in logged], rel=1e-6)


def test_a_damaged_shard_is_named(synthetic_store, tmp_path) -> None:
    """A shard of the wrong shape is refused naming its file (it had failed in the loader's
    collate, naming nothing)."""
    from qualityfm.data import Store
    from qualityfm.data.store import shard_name

    store = tmp_path / "store"
    shutil.copytree(synthetic_store, store)
    shard = sorted(store.rglob(shard_name(0, "x")))[0]
    x = np.load(shard)
    np.save(shard, x[:, :, : x.shape[2] // 2])
    with pytest.raises(ValueError, match=rf"{shard.name}: windows of shape .* a damaged or "
                                         r"foreign shard"):
        Store(store).window(0)
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(ValueError, match=rf"{shard.name}: truncated or damaged store file"):
        Store(store).window(0)


def test_a_truncated_shard_is_named_before_the_first_step(synthetic_store, tmp_path) -> None:
    """With the features stored, pre-training had opened no shard before its loader's workers
    read one: a truncated last shard stopped the run when first read (hours in, on a large
    corpus) with a worker's traceback. It is named before any step."""
    from qualityfm.data.store import shard_name

    store = tmp_path / "store"
    shutil.copytree(synthetic_store, store)
    shard = sorted(store.rglob(shard_name(0, "x")))[-1]
    shard.write_bytes(shard.read_bytes()[:-100])
    with pytest.raises(ValueError, match=rf"{shard.name}: truncated or damaged store file"):
        check_store_pairs(str(store), 4)
    run = tmp_path / "run"
    with pytest.raises(ValueError, match=rf"{shard.name}: truncated or damaged store file"):
        pretrain(tiny(store, run, diag_every=0, feature_weight=0.0))
    assert not (run / "last.pt").exists() and not (run / "log.jsonl").exists()


def test_an_error_that_escapes_a_run_with_loader_workers_ends_it(synthetic_store,
                                                                  tmp_path) -> None:
    """The loader's workers ignore SIGTERM, so a run ends them itself on the way out of an
    error the caller does not catch (an audit saw an exit wait for them for ever after a
    collate error; this reproduction did not hang before the change either): the process
    ends with the error."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(f"""
        import qualityfm.data.store as st
        from qualityfm.train import PretrainConfig, pretrain

        def broken(self, i):
            raise RuntimeError("a worker's error")

        st.Store.window = broken  # the forked workers inherit it
        pretrain(PretrainConfig(store={str(synthetic_store)!r}, out={str(tmp_path / "run")!r},
                                steps=20, batch_size=8, workers=2, device="cpu",
                                progress=False, tensorboard=False, diag_every=0,
                                model_overrides={TINY!r}))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 1 and "a worker's error" in proc.stderr


def test_an_error_before_the_first_step_ends_the_loader_workers(synthetic_store,
                                                                 tmp_path) -> None:
    """The loader's workers start before the loop (the RNG is resumed, the progress bar made
    after them): an error there ends them too, while the caller still holds the traceback."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(f"""
        import multiprocessing
        import qualityfm.train.engine as engine
        from qualityfm.train import PretrainConfig, pretrain

        def broken(*args, **kwargs):
            raise RuntimeError("no terminal")

        engine.progress_bar = broken
        try:
            pretrain(PretrainConfig(store={str(synthetic_store)!r},
                                    out={str(tmp_path / "run")!r}, steps=20, batch_size=8,
                                    workers=2, device="cpu", progress=True, tensorboard=False,
                                    diag_every=0, model_overrides={TINY!r}))
        except RuntimeError as err:
            held = err  # keeps the run's frame (and its loader iterator) alive
            print("alive", len(multiprocessing.active_children()))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "alive 0" in proc.stdout


def test_a_second_launch_on_a_running_folder_is_refused(synthetic_store, tmp_path) -> None:
    """A requeued job started while the first still writes the run: refused by the run's
    lock (it had removed the first's checkpoint temporary mid-write); free again after. A
    filesystem without flock warns and runs unguarded, as before."""
    import errno

    fcntl = pytest.importorskip("fcntl", reason="run locks need fcntl (POSIX)")
    from qualityfm.io.folders import folder_lock

    run = tmp_path / "run"
    pretrain(tiny(synthetic_store, run, steps=2, diag_every=0))
    with (run / ".lock").open("a") as other:  # the first launch, still running
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ValueError, match=r"another pretrain is writing there"):
            pretrain(tiny(synthetic_store, run, steps=3, diag_every=0), resume=True)
    assert pretrain(tiny(synthetic_store, run, steps=3, diag_every=0), resume=True)["step"] == 3
    with folder_lock(run, "pretrain"), pytest.raises(ValueError, match="another pretrain"), \
            folder_lock(run, "pretrain"):
        pass

    def no_flock(handle: object, how: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    import unittest.mock

    with unittest.mock.patch.object(fcntl, "flock", no_flock), \
            pytest.warns(RuntimeWarning, match="cannot lock the folder"):
        assert pretrain(tiny(synthetic_store, run, steps=4, diag_every=0),
                        resume=True)["step"] == 4


def test_resume_with_another_attention_kernel_and_a_checkpoint_copied_alone(
        synthetic_store, tmp_path, capsys) -> None:
    """The kernels compute the same attention: a run resumes under another (a GPU's flex run
    on a CPU with local: the error's own advice had been refused). A checkpoint copied without
    config.json resumes from its own settings (it had been 'no checkpoint to resume')."""
    run = tmp_path / "run"
    pretrain(tiny(synthetic_store, run, steps=4, attention="dense", diag_every=0), stop_after=2)
    out = pretrain(tiny(synthetic_store, run, steps=4, attention="local", diag_every=0),
                   resume=True)
    assert out["step"] == 4
    assert torch.load(run / "last.pt", weights_only=False)["config"]["attention"] == "local"
    (run / "config.json").unlink()
    assert main(["pretrain", "--out", str(run), "--resume", "--steps", "5", "--no-progress"]) == 0
    assert json.loads((run / "summary.json").read_text())["last"]["step"] == 5
    torch.save({"step": 3}, run / "last.pt")  # a file of another program
    assert main(["pretrain", "--out", str(run), "--resume", "--store", str(synthetic_store),
                 "--no-progress"]) == 1
    assert "last.pt: not a qualityfm pre-training checkpoint (no teacher" in (
        capsys.readouterr().err)


def test_the_model_card_reports_the_checkpoints_step(synthetic_store, tmp_path) -> None:
    """A run still training (or killed after its last checkpoint) has logged steps its
    weights have not seen: the card's last figures are those of the checkpoint's step."""
    run = tmp_path / "run"
    pretrain(tiny(synthetic_store, run, steps=3, diag_every=0))
    with (run / "log.jsonl").open("a") as f:
        f.write(json.dumps({"step": 9, "loss": 123.0, "distill": 1.0}) + "\n")
    card = (export_model(run, tmp_path / "model") / "README.md").read_text()
    assert "last (step 3)" in card and "step 9" not in card and "| 123 |" not in card
    # the data's counts are those the checkpoint kept (the store as it is now had been
    # counted: remade, or gone)
    counts = torch.load(run / "last.pt", weights_only=False)["store_counts"]
    said = (f"({counts['n_records']} records, {counts['n_windows']} windows, "
            f"{counts['n_pairs']} pairs)")
    state = torch.load(run / "last.pt", weights_only=False)
    state["config"]["store"] = str(tmp_path / "gone")
    torch.save(state, run / "last.pt")
    card = (export_model(run, tmp_path / "model") / "README.md").read_text()
    assert said in card and "DINO projection head: included" in card
    assert "processes" not in card
    # the card's counts add up to the file's (the feature read-out's had been counted nowhere)
    from safetensors.torch import load_file
    stored = sum(t.numel() for t in load_file(tmp_path / "model" / "model.safetensors").values())
    counts = [int(n.replace(",", "")) for n in re.findall(
        r"Parameters: ([\d,]+)|\(([\d,]+) parameters more\)", card) for n in n if n]
    assert "Feature read-out (" in card and len(counts) == 3 and sum(counts) == stored
    state["data"] = [state["data"][0]] * 2  # a run of two processes says so (its command,
    torch.save(state, run / "last.pt")  # run on one, had given other weights)
    card = (export_model(run, tmp_path / "model") / "README.md").read_text()
    assert "on 2 processes (`torchrun --nproc-per-node 2`" in card
    headless = tmp_path / "headless"  # a run of no head (any recipe) says it had none
    pretrain(tiny(synthetic_store, headless, steps=2, diag_every=0, head=False))
    card = (export_model(headless, tmp_path / "m2") / "README.md").read_text()
    assert "DINO projection head: none (the run trained without one)" in card


def test_export_and_pretrain_leave_a_users_files_alone(synthetic_store, tmp_path) -> None:
    """A folder given as --out holding a user's README.md or config.json had them replaced
    without a word by export's card and config, or by pretrain's config (and a user's
    encoder.onnx removed by export)."""
    run = tmp_path / "run"
    pretrain(tiny(synthetic_store, run, steps=2, diag_every=0))
    for name in ("README.md", "config.json"):
        mine = tmp_path / f"mine_{name}"
        mine.mkdir()
        (mine / name).write_text("my notes\n")
        with pytest.raises(ValueError, match=rf"--out .*mine_{re.escape(name)}: "
                                             rf"{re.escape(name)} exists and is no qualityfm "
                                             r"export's"):
            export_model(run, mine)
        assert [p.name for p in mine.iterdir()] == [name]
    export_model(run, tmp_path / "model")
    export_model(run, tmp_path / "model")  # its own export: replaced
    from qualityfm.cli import main

    for name in ("encoder.onnx", "encoder.examples.npz"):  # a user's, no export beside it:
        theirs = tmp_path / f"theirs_{name}"  # it had been removed as an earlier export's
        theirs.mkdir()
        (theirs / name).write_bytes(b"mine")
        assert main(["export", str(run), "--out", str(theirs)]) == 1
        assert [p.name for p in theirs.iterdir()] == [name]
        (tmp_path / "model" / name).write_bytes(b"an earlier export's")
    assert main(["export", str(run), "--out", str(tmp_path / "model")]) == 0
    assert not (tmp_path / "model" / "encoder.onnx").exists()  # stale beside new weights
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"my": "settings"}')
    for overwrite in (False, True):
        with pytest.raises(ValueError, match=r"mine: config\.json exists and is no pre-training "
                                             r"run's"):
            pretrain(tiny(synthetic_store, mine, steps=2), overwrite=overwrite)
    assert (mine / "config.json").read_text() == '{"my": "settings"}'


def test_pretrain_records_its_store_scaling_and_refuses_unwritable_targets_first(
        synthetic_store, tmp_path, monkeypatch) -> None:
    """A store of windows scaled jointly (the original's pre-training) gives a model that
    records it, so that score and embed scale their windows so (they had fed it per-channel
    windows without a word); a store whose feature targets cannot be written is said to be
    so before they are computed, with the two ways out."""
    from qualityfm.inference.windows import check_model_window, model_window
    from qualityfm.io import write_json
    from qualityfm.model import QualityFMConfig
    from qualityfm.signal import WindowConfig
    from qualityfm.train import load_checkpoint

    joint = shutil.copytree(synthetic_store, tmp_path / "joint")
    write_json(joint / "meta.json", {**json.loads((joint / "meta.json").read_text()),
                                     "normalization": "joint"})
    pretrain(tiny(joint, tmp_path / "a", steps=2, feature_weight=0.0))
    cfg = QualityFMConfig.from_dict(load_checkpoint(tmp_path / "a" / "last.pt")["model_config"])
    assert cfg.normalization == "joint" and model_window(cfg).normalization == "joint"
    with pytest.raises(ValueError, match="window normalization 'channel': the model was "
                                         "pre-trained on windows scaled 'joint'"):
        check_model_window(WindowConfig(fs=cfg.fs), cfg)
    with pytest.raises(ValueError, match="normalization='channel': the store's windows are "
                                         "scaled 'joint'"):  # an override cannot say otherwise
        pretrain(tiny(joint, tmp_path / "c", model_overrides={**TINY, "normalization":
                                                               "channel"}))
    from qualityfm.inference.onnx import _array_examples  # an integrator's examples alike
    from qualityfm.signal import normalize

    golden = _array_examples(2, 3000, 100.0, "joint")
    raw = _array_examples(2, 3000, 100.0, "none")["x"]
    np.testing.assert_allclose(golden["x"], normalize(raw, golden["mask"], "joint"), atol=1e-6)
    bare = shutil.copytree(synthetic_store, tmp_path / "bare")
    for f in bare.rglob("features.*"):
        f.unlink()
    access = os.access  # the store may not be written; the run's folder may
    monkeypatch.setattr("qualityfm.train.engine.os.access", lambda path, mode: (
        not Path(path).resolve().is_relative_to(bare.resolve()) and access(path, mode)))
    with pytest.raises(ValueError, match=r"bare: its windows' classical features .* cannot be "
                                         r"written to; .*prepare --features.*--feature-weight 0"):
        pretrain(tiny(bare, tmp_path / "b", feature_weight=1.0))
    assert not list(bare.rglob("features.*"))


def test_a_folder_lock_ends_with_its_process_not_with_the_workers_it_forked(tmp_path) -> None:
    """DataLoader workers (forked) had held the run's lock until they noticed their parent
    gone, about 5 s after a kill -9: a relaunch then was refused as if the run still wrote."""
    import subprocess
    import sys

    pytest.importorskip("fcntl", reason="run locks need fcntl (POSIX)")
    if not hasattr(os, "fork"):
        pytest.skip("needs os.fork (POSIX)")
    from qualityfm.io.folders import folder_lock

    child = tmp_path / "child.pid"
    script = f"""
import os, signal, time
from qualityfm.io.folders import folder_lock
with folder_lock({str(tmp_path)!r}, "pretrain"):
    pid = os.fork()
    if pid == 0:  # a worker that lives on, its fork handled (written once fork returns)
        open({str(child)!r} + ".tmp", "w").write(str(os.getpid()))
        os.rename({str(child)!r} + ".tmp", {str(child)!r})
        time.sleep(60)
        os._exit(0)
    while not os.path.exists({str(child)!r}):  # (under load the kill had come first)
        time.sleep(0.01)
    os.kill(os.getpid(), signal.SIGKILL)  # the run killed while it holds the lock
"""
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ}, timeout=60)
    assert done.returncode == -9
    worker = int(child.read_text())
    try:
        os.kill(worker, 0)  # the forked worker still runs
        with folder_lock(tmp_path, "pretrain"):  # and the lock is free
            pass
    finally:
        os.kill(worker, 9)


def test_a_bad_store_or_out_is_named_for_what_it_is(synthetic_store, tmp_path, capsys) -> None:
    """A folder that is no store, holding --out, had been told to move --out; a file as
    --out had given a bare "[Errno 17] File exists"."""
    data = tmp_path / "records"
    data.mkdir()
    assert main(["pretrain", "--store", str(data), "--out", str(data / "run")]) == 1
    assert f"{data}: not a store" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["pretrain", "--store", str(synthetic_store), "--out",
                 str(tmp_path / "file")]) == 1
    assert f"--out {tmp_path / 'file'}: {tmp_path / 'file'} is a file, not a folder" in \
        capsys.readouterr().err


def test_the_progress_bar_in_a_log_file_is_not_redrawn_at_every_logged_step(
        synthetic_store, tmp_path, capsys, monkeypatch) -> None:
    """Into a file (stderr no terminal), the bar is drawn at most every 30 s: its loss, set at
    every logged step, had redrawn it each time (a GPU run's log filled with bars). (The
    interval made an hour here: on a loaded machine 8 steps had outlasted 30 s.)"""
    import qualityfm._progress as progress

    monkeypatch.setattr(progress, "LOG_INTERVAL", 3600.0)
    pretrain(tiny(synthetic_store, tmp_path / "run", steps=8, log_every=1, diag_every=0,
                  progress=True))
    err = capsys.readouterr().err
    bars = [line for line in err.splitlines() if "step/s" in line or "s/step" in line]
    assert len(bars) == 2, bars  # drawn at the start and the end (10 times before)


def test_a_resume_short_of_its_step_keeps_the_run_unfinished(synthetic_store, tmp_path,
                                                             capsys) -> None:
    """`--resume --steps 2` at step 3 of 6 had marked the run done (summary.json), while its
    config.json kept 6 steps; a fresh run had removed a tb/ folder of the user's whole."""
    run = tmp_path / "run"
    (run / "tb").mkdir(parents=True)
    (run / "tb" / "notes.txt").write_text("mine")
    (run / "tb" / "events.out.tfevents.1.host").write_bytes(b"an old run's events")
    part = pretrain(tiny(synthetic_store, run, steps=6, tensorboard=False), stop_after=3)
    assert part["step"] == 3 and not part["done"]
    assert (run / "tb" / "notes.txt").read_text() == "mine"
    assert not (run / "tb" / "events.out.tfevents.1.host").exists()
    short = pretrain(tiny(synthetic_store, run, steps=2, tensorboard=False), resume=True)
    assert short["step"] == 3 and not short["done"]
    assert "already at step 3: nothing more to train" in capsys.readouterr().err
    assert not json.loads((run / "summary.json").read_text())["done"]
    assert json.loads((run / "config.json").read_text())["steps"] == 6
    done = pretrain(tiny(synthetic_store, run, steps=6, tensorboard=False), resume=True)
    assert done["step"] == 6 and done["done"]
    assert pretrain(tiny(synthetic_store, run, steps=2, tensorboard=False),
                    resume=True)["done"]  # a finished run stays finished
    from qualityfm.io import write_json

    config = json.loads((run / "config.json").read_text())
    write_json(run / "config.json", {**config, "steps": 9})  # an extension killed before its
    # first checkpoint; resumed with the steps the run has, it is done, and config.json says so
    assert pretrain(tiny(synthetic_store, run, steps=6, tensorboard=False), resume=True)["done"]
    assert json.loads((run / "config.json").read_text())["steps"] == 6


@pytest.mark.parametrize("config, message", [
    ({"store": 5}, "store must be a string, got 5"),
    ({"recipe": 1}, "recipe must be a string, got 1"),
])
def test_a_run_config_of_wrong_types_is_named(synthetic_store, tmp_path, capsys, config,
                                              message) -> None:
    """A saved config.json whose store or recipe was of another type had been a traceback
    (TypeError from Path, KeyError on the recipe) before its check."""
    from qualityfm.cli import main

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(config))
    assert main(["pretrain", "--out", str(run), "--resume", "--recipe", "default",
                 "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "not the settings of a qualityfm pre-training run" in err and message in err, err
    assert "Traceback" not in err
    (run / "config.json").write_text(json.dumps({"lr": 0.1}))  # no store: "" had read as "."
    assert main(["pretrain", "--out", str(run), "--resume", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "config.json: records no store; resume with --store PATH" in err, err
    assert "Traceback" not in err
    assert main(["pretrain", "--out", str(run), "--resume", "--recipe", "paper", "--store",
                 str(synthetic_store), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "run used recipe 'default', not 'paper'" in err and "Traceback" not in err, err


def test_a_demo_report_is_no_run_to_resume(synthetic_store, tmp_path) -> None:
    """pretrain --out on a demo report had called it a run (its summary.json) to --resume,
    and the resume then wrote over the report's summary."""
    from qualityfm.demo import DEMO_MARKER

    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / DEMO_MARKER).write_text("")
    (demo / "summary.json").write_text('{"report": "report.md"}')
    for resume in (False, True):
        with pytest.raises(ValueError, match=r"holds a demo report \(\.qualityfm-demo\): write "
                                             r"to a folder of its own"):
            pretrain(tiny(synthetic_store, demo, steps=2), resume=resume)
    assert (demo / "summary.json").read_text() == '{"report": "report.md"}'


def test_runs_and_exports_are_not_written_among_records(synthetic_store, tmp_path,
                                                        capsys) -> None:
    """pretrain and export had written into a folder of WFDB records, whose next score read
    an export's examples as a bad record."""
    from qualityfm.cli import main

    records = tmp_path / "records"
    (records / "sub").mkdir(parents=True)  # below the folder: find_records looks there too
    (records / "sub" / "v100s.hea").write_text("v100s 1 250 10\n"
                                               "v100s.dat 16 200/mV 16 0 0 0 0 II\n")
    with pytest.raises(ValueError, match=r"--out .*records holds records \(sub.v100s\.hea\): "
                                         r"write to a folder of its own"):
        pretrain(tiny(synthetic_store, records, steps=2))
    run = tmp_path / "run"
    pretrain(tiny(synthetic_store, run, steps=2))
    assert main(["export", str(run), "--out", str(records)]) == 1
    assert "holds records (sub/v100s.hea)" in capsys.readouterr().err
    assert sorted(p.name for p in records.iterdir()) == ["sub"]
    model = tmp_path / "model"  # an export again into its own folder: its examples are no record
    assert main(["export", str(run), "--out", str(model), "--onnx"]) == 0
    assert main(["export", str(run), "--out", str(model), "--onnx"]) == 0
    # an export into a new folder among records: its golden examples are no record to the
    # next read of the records (they had been skipped as bad records, and listed so)
    from qualityfm.io import find_records

    shutil.copytree(model, records / "sub" / "model")
    assert [p.name for p in find_records(records)] == ["v100s.hea"]
    (records / "sub" / "model" / "encoder.onnx").unlink()  # examples without their graph: read
    assert "encoder.examples.npz" in [p.name for p in find_records(records)]


def test_a_stop_after_the_run_has_passed_is_said(synthetic_store, tmp_path, capsys) -> None:
    """--resume --stop-after N at or past step N had trained nothing without a word."""
    run = tmp_path / "run"
    pretrain(tiny(synthetic_store, run, steps=6, tensorboard=False), stop_after=3)
    capsys.readouterr()
    again = pretrain(tiny(synthetic_store, run, steps=6, tensorboard=False), resume=True,
                     stop_after=2)
    assert again["step"] == 3 and not again["done"]
    assert "--stop-after 2: the run is already at step 3" in capsys.readouterr().err


def test_a_store_without_good_windows_is_refused_before_the_feature_targets(
        low_level_store, tmp_path) -> None:
    """Aligned pairs need windows of level 3 or more: a store of levels 0-2 had been refused
    only after its classical features were computed (minutes to hours on a real store)."""
    store = low_level_store
    with pytest.raises(ValueError, match=r"no window of quality level >= 3 .*--aligned-fraction 0"):
        pretrain(tiny(store, tmp_path / "run", aligned_fraction=0.5, feature_weight=5.0))
    assert not list(store.glob("features*"))  # refused before any work
    assert pretrain(tiny(store, tmp_path / "run", steps=1))["step"] == 1  # aligned 0: trains


def test_a_damaged_summary_does_not_bar_a_resume_with_nothing_to_train(
        synthetic_store, tmp_path) -> None:
    """summary.json is a report: a truncated one had failed the relaunch of a finished run
    with a JSON error naming no file; it is written afresh."""
    run = tmp_path / "run"
    pretrain(tiny(synthetic_store, run, steps=2))
    (run / "summary.json").write_text('{"step": 2')
    again = pretrain(tiny(synthetic_store, run, steps=2), resume=True)
    assert again["step"] == 2 and again["done"]
    assert json.loads((run / "summary.json").read_text())["step"] == 2


def test_a_damaged_log_is_refused_before_a_resume_changes_anything_and_exports_without_it(
        synthetic_store, tmp_path) -> None:
    """A bad line in log.jsonl had failed a resume after it rewrote config.json (its new
    steps) and removed summary.json, with no remedy said; export had failed on it too."""
    run = tmp_path / "run"
    pretrain(tiny(synthetic_store, run, steps=4), stop_after=2)
    lines = (run / "log.jsonl").read_text().splitlines()
    (run / "log.jsonl").write_text("\n".join(['{"step": 1, "dist', *lines[1:]]) + "\n")
    config, summary = ((run / n).read_text() for n in ("config.json", "summary.json"))
    with pytest.raises(ValueError, match=r"log\.jsonl: line 1 is not JSON .*move it away"):
        pretrain(tiny(synthetic_store, run, steps=6), resume=True)
    assert (run / "config.json").read_text() == config
    assert (run / "summary.json").read_text() == summary
    with pytest.warns(RuntimeWarning, match=r"log\.jsonl: line 1 is not JSON .*the model card "
                                            r"gives no training figures"):
        export_model(run, tmp_path / "model")
    assert load(tmp_path / "model").cfg.n_layers == 1
    (run / "log.jsonl").unlink()  # as the message says: the run goes on
    assert pretrain(tiny(synthetic_store, run, steps=4), resume=True)["step"] == 4


def test_the_decoder_spectrum_is_exported_from_a_run_made_before_the_network_held_it(
        synthetic_store, tmp_path) -> None:
    """A power run's checkpoint made before the network's config held ``amplitude`` had
    exported as magnitude (its learned quality then comparing |X|^2 with |X|)."""
    from qualityfm.train.checkpoint import load_checkpoint, save_checkpoint

    run = tmp_path / "run"
    pretrain(tiny(synthetic_store, run, steps=1, diag_every=0, amplitude="power"))
    state = load_checkpoint(run / "last.pt")
    assert state["model_config"]["amplitude"] == "power"
    del state["model_config"]["amplitude"]  # as an earlier qualityfm wrote it
    save_checkpoint(run / "last.pt", state)
    assert load(export_model(run, tmp_path / "model")).cfg.amplitude == "power"


def test_fsdp_on_one_process_is_said(synthetic_store, tmp_path, capsys) -> None:
    """--fsdp without torchrun had been dropped without a word (config.json saying fsdp)."""
    pretrain(tiny(synthetic_store, tmp_path / "run", steps=1, diag_every=0, fsdp=True))
    assert "--fsdp shards the model over the processes of a torchrun launch" in \
        capsys.readouterr().err


def test_a_run_shorter_than_the_teacher_temperature_warm_up_says_so(synthetic_store, tmp_path,
                                                                      capsys) -> None:
    """The default recipe's teacher temperature ramps over 300 steps: a shorter run never
    reaches its end value, which (unlike the learning rate's warm-up) had been unsaid."""
    overrides = [a for k, v in TINY.items() for a in ("--model-override", f"{k}={v}")]
    args = ["pretrain", "--store", str(synthetic_store), "--steps", "2", "--batch-size", "8",
            "--warmup", "1", "--no-progress", "--no-tensorboard", "--diag-every", "0",
            *overrides, "--model-override", 'attention="local"']
    assert main([*args, "--out", str(tmp_path / "short")]) == 0
    assert "teacher_temp_warmup 300 >= steps 2: the teacher temperature never reaches 0.07" \
        in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "ramp"), "--teacher-temp-warmup", "1"]) == 0
    err = capsys.readouterr().err
    assert "teacher temperature never" not in err and "min_lr" not in err
    # a floor above the peak: the rate rises (it had, tenfold, unsaid); said, not refused, so
    # that such a run of an earlier version still resumes
    assert main([*args, "--out", str(tmp_path / "rise"), "--lr", "1e-3", "--min-lr",
                 "1e-2"]) == 0
    assert "min_lr 0.01 > lr 0.001: the learning rate rises over the run" in \
        capsys.readouterr().err
    # no ramp: the end value from the first step, --teacher-temp unused (had been unsaid);
    # an override in Python's spelling (False) is read (it had been refused as the text
    # 'False': "must be true or false")
    assert main([*args, "--out", str(tmp_path / "flat"), "--teacher-temp-warmup", "0",
                 "--teacher-temp", "0.05", "--model-override", "bias=False"]) == 0
    assert "teacher temperature is teacher_temp_end 0.07 from the first step; teacher_temp " \
        "0.05 is not used" in capsys.readouterr().err
    assert json.loads((tmp_path / "flat" / "config.json").read_text())[
        "model_overrides"]["bias"] is False


def test_model_overrides_read_json_or_python_values_json_can_hold() -> None:
    """Python's spelling is read (False had been kept as the text 'False' and refused as
    text); a value JSON cannot hold (1j, a set) stays text, refused by the field's check
    (a first mend had passed it on to a raw TypeError where the command is written)."""
    from qualityfm.cli.pretrain import _parse_override

    assert _parse_override("bias=False") == ("bias", False)
    assert _parse_override("global_tokens=(0, 1)") == ("global_tokens", (0, 1))
    assert _parse_override("stem_channels=null") == ("stem_channels", None)
    assert _parse_override('attention="local"') == ("attention", "local")
    assert _parse_override("attention=local") == ("attention", "local")
    for text in ("dropout=1j", "d_model={64}", "bias=b'x'", "x={[1]: 2}"):
        assert _parse_override(text) == tuple(text.split("=", 1))


@pytest.mark.slow
def test_grad_accum_steps_read_the_pairs_of_an_unsplit_step_in_every_epoch(
        synthetic_store, tmp_path) -> None:
    """Micro-batches of a step had run from one epoch into the next where the epoch's pairs
    were no whole number of steps (its tail dropped per micro-batch, not per step): from the
    second epoch on, a run with --grad-accum 2 trained on other pairs than the same run
    unsplit. Without the terms that depend on the split (KoLeo, variance) the two runs' losses
    agree step by step into the second epoch."""
    from qualityfm.data import Store

    n_pairs = Store(synthetic_store).n_pairs
    batch = 12
    assert n_pairs % batch >= batch // 2, f"{n_pairs} pairs leave no micro-batch over"
    steps = n_pairs // batch + 2  # into the second epoch
    logs = {}
    for accum in (1, 2):
        run = tmp_path / f"a{accum}"
        pretrain(tiny(synthetic_store, run, steps=steps, batch_size=batch, grad_accum=accum,
                      diag_every=0, koleo_weight=0.0, variance_weight=0.0, modality_drop=0.0,
                      model_overrides={**TINY, "dropout": 0.0}))
        logs[accum] = [json.loads(ln) for ln in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs[1]] == [r["step"] for r in logs[2]] == list(
        range(1, steps + 1))
    np.testing.assert_allclose([r["loss"] for r in logs[2]], [r["loss"] for r in logs[1]],
                               rtol=1e-4)


def test_throughput_leaves_out_the_time_of_checkpoint_writes(synthetic_store, tmp_path,
                                                             monkeypatch) -> None:
    """pairs_per_s is the training rate: a slow checkpoint write after a step does not count
    in the next step's rate (a 0.4-s write had halved it). The write takes 1,000 s of the
    engine's clock, so that the rates say which time they count on a loaded machine too (a
    2-s sleep had failed where a tiny step took over a second)."""
    import time

    from qualityfm.train import engine

    write, clock = engine.save_checkpoint, time.perf_counter
    lost = [0.0]

    def slow_write(*args, **kwargs) -> None:
        lost[0] += 1000.0
        write(*args, **kwargs)

    monkeypatch.setattr(engine, "save_checkpoint", slow_write)
    monkeypatch.setattr(engine.time, "perf_counter", lambda: clock() + lost[0])
    pretrain(tiny(synthetic_store, tmp_path / "run", steps=3, ckpt_every=1, diag_every=0))
    log = [json.loads(ln) for ln in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    # with the writes counted, the second and third steps' 8 pairs would be under 0.008 a
    # second; a step of 8 pairs takes well under 100 s however loaded the machine is
    assert [r["step"] for r in log] == [1, 2, 3]
    assert all(r["pairs_per_s"] > 0.08 for r in log[1:]), [r["pairs_per_s"] for r in log]


def test_a_store_of_older_quality_rules_is_said_by_info_and_pretrain(synthetic_store, tmp_path,
                                                                     capsys) -> None:
    """A store scored by older quality rules had been trained on, and summarised by info,
    without a word: its levels and pairs follow those rules."""
    from qualityfm.data import store_info
    from qualityfm.quality import SCORING_VERSION

    store = tmp_path / "store"
    shutil.copytree(synthetic_store, store)
    info = store_info(store)
    assert info["scoring_version"] == SCORING_VERSION and "scoring_note" not in info
    assert info["n_rejected_windows"] >= 0
    meta = json.loads((store / "meta.json").read_text())
    (store / "meta.json").write_text(json.dumps({**meta, "scoring_version": 17}))
    assert store_info(store)["scoring_note"].startswith(
        f"scored by the quality rules of version 17 (this qualityfm's: {SCORING_VERSION}): "
        "its levels and pairs follow those")
    pretrain(tiny(store, tmp_path / "run", steps=1, diag_every=0))
    assert (f"{store}: scored by the quality rules of version 17"
            in capsys.readouterr().err)
