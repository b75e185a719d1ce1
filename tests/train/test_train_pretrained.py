"""The shipped pre-trained ``base`` weights: loading, storage type, non-collapsed embeddings,
fine-tuning from them, and the compact (float16, headless) export that produced them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

import qualityfm
from qualityfm.model import QualityFM, QualityFMConfig
from qualityfm.signal.synthetic import synthesize
from qualityfm.signal.windows import make_windows
from qualityfm.tasks.finetune import Finetuner
from qualityfm.train import export_model, load
from qualityfm.train.checkpoint import CHECKPOINT_NAME, save_checkpoint
from qualityfm.train.config import PretrainConfig
from qualityfm.train.export import FORMAT, weights_dir

SHIPPED = weights_dir() / "base.safetensors"
needs_weights = pytest.mark.skipif(not SHIPPED.is_file(), reason=f"{SHIPPED} not shipped")


def _windows(n_per: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised 30-s windows of three simulated patients with different rhythms."""
    xs, ms = [], []
    for seed, (hr, rhythm) in enumerate([(60.0, "sinus"), (110.0, "af"), (170.0, "vt")]):
        rec = synthesize(30.0 * n_per, hr=hr, rhythm=rhythm, seed=seed,
                         artifacts={"motion": 0.5} if seed == 1 else None)
        w = make_windows(rec)
        xs.append(w.normalized())
        ms.append(w.mask)
    return torch.from_numpy(np.concatenate(xs)).float(), torch.from_numpy(np.concatenate(ms))


@needs_weights
def test_pretrained_loads_float32_eval_equal_to_the_stored_float16() -> None:
    model = qualityfm.load("pretrained")
    assert isinstance(model, QualityFM) and not model.training
    assert model.cfg.head == "none" and model.head is None
    state = model.state_dict()
    with safe_open(str(SHIPPED), framework="pt") as f:
        assert f.metadata()["dtype"] == "float16"
        names = list(f.keys())
        stored = {k: f.get_tensor(k) for k in names}
    assert sorted(stored) == sorted(state)
    for k, t in stored.items():
        if t.is_floating_point():
            assert t.dtype == torch.float16, k
            assert state[k].dtype == torch.float32, k
        assert torch.equal(state[k], t.float() if t.is_floating_point() else t), k
    same = load("pretrained:base")
    for k, v in same.state_dict().items():
        assert torch.equal(v, state[k])
    # the package stays small: 9.6 M parameters (encoder 4.3 M, spectral decoder 5.3 M) at
    # 2 bytes each, no DINO head (that alone would add 2.7 M parameters)
    assert SHIPPED.stat().st_size < 2 * model.num_params() + 2**20


@needs_weights
def test_pretrained_embeddings_are_finite_and_not_collapsed() -> None:
    x, mask = _windows()
    model = load("pretrained")
    with torch.no_grad():
        z = model.embed(x, mask)
    assert z.shape == (len(x), model.cfg.d_model) and z.dtype == torch.float32
    assert torch.isfinite(z).all()
    zn = torch.nn.functional.normalize(z, dim=1)
    cos = zn @ zn.T
    off = cos[~torch.eye(len(z), dtype=torch.bool)]
    assert off.mean() < 0.95, f"mean pairwise cosine {off.mean():.3f}: collapsed"
    assert (z.std(dim=0) > 0).float().mean() > 0.5  # most dimensions vary across windows


@needs_weights
def test_unknown_pretrained_name_is_refused() -> None:
    with pytest.raises(FileNotFoundError, match=r"'nope'.*shipped: \['base'"):
        load("pretrained:nope")


@needs_weights
def test_finetuner_starts_from_the_shipped_weights() -> None:
    rng = np.random.default_rng(0)
    x, mask = _windows(1)
    x = x[..., :1500].numpy()  # 5-s windows: short inputs keep the test fast
    x = np.concatenate([x] * 4) + rng.normal(0, 0.05, (12, *x.shape[1:])).astype("f4")
    y = np.tile([0, 1], 6)
    ft = Finetuner("vt-alarm", init="pretrained", mode="linear", epochs=1, batch_size=12, seed=0)
    ft.fit(x, y, mask=np.concatenate([mask.numpy()] * 4))
    enc = ft.net.backbone.encoder.state_dict()
    for k, v in load("pretrained").encoder.state_dict().items():
        assert torch.equal(enc[k], v), k  # linear probing leaves the encoder as shipped
    p = ft.predict_proba(x)
    assert np.isfinite(p).all() and p.shape[0] == 12


@needs_weights
def test_from_scratch_means_the_shipped_architecture_untrained(tmp_path) -> None:
    """``init="none"`` without a config builds the network the shipped weights fill (so a
    pre-trained-vs-scratch comparison changes the weights only); presets and JSON files
    still choose other architectures."""
    from qualityfm.model import PRESETS
    from qualityfm.tasks.finetune import load_backbone, resolve_model_config

    shipped = load("pretrained")
    assert resolve_model_config() == shipped.cfg
    scratch = load_backbone("none").encoder.state_dict()
    assert {k: v.shape for k, v in scratch.items()} == {
        k: v.shape for k, v in shipped.encoder.state_dict().items()}
    assert not torch.equal(next(iter(scratch.values())),
                           next(iter(shipped.encoder.state_dict().values())))
    assert resolve_model_config("base") == PRESETS["base"] and resolve_model_config(TINY) is TINY
    (tmp_path / "c.json").write_text(json.dumps({"d_model": 64, "stem": "residual"}))
    assert resolve_model_config(str(tmp_path / "c.json")).stem == "residual"
    with pytest.raises(FileNotFoundError, match="neither a preset"):
        resolve_model_config(str(tmp_path / "missing.json"))


TINY = QualityFMConfig(d_model=16, n_layers=1, n_heads=2, d_ff=16, stem_channels=(4, 8, 16),
                       n_bins=16, n_samples=600, dropout=0.0, head="dino", head_hidden=8,
                       head_bottleneck=4, head_prototypes=8)


def write_run(run: Path, model_config: QualityFMConfig, teacher: dict, steps: int = 1) -> None:
    """A pre-training run folder of one checkpoint at ``steps`` holding ``teacher``."""
    cfg = PretrainConfig(store=str(run.parent / "none"), out=str(run), steps=steps)
    save_checkpoint(run / CHECKPOINT_NAME, {
        "step": steps, "config": cfg.to_dict(), "model_config": model_config.to_dict(),
        "teacher": teacher})


def test_compact_export_drops_the_head_and_halves_storage(tmp_path) -> None:
    torch.manual_seed(0)
    teacher = QualityFM(TINY)
    write_run(tmp_path / "run", TINY, teacher.state_dict(), steps=3)
    full = export_model(tmp_path / "run", tmp_path / "full")
    small = export_model(tmp_path / "run", tmp_path / "w", name="tiny", dtype="float16",
                         include_head=False, card_name="MODEL_CARD.md", notes="## Data\nnone")
    assert {p.name for p in small.iterdir()} == {"tiny.safetensors", "tiny.json", "MODEL_CARD.md"}
    assert "## Data" in (small / "MODEL_CARD.md").read_text()
    assert json.loads((small / "tiny.json").read_text())["model"]["head"] == "none"
    m_full, m_small = load(full), load(small / "tiny.safetensors")
    assert m_full.head is not None and m_small.head is None
    assert load(small).cfg == m_small.cfg  # a folder with one named model resolves to it
    for k, v in m_small.state_dict().items():
        assert v.dtype == torch.float32
        assert torch.allclose(v, m_full.state_dict()[k], rtol=1e-3, atol=1e-4), k
    assert (small / "tiny.safetensors").stat().st_size < (full / "model.safetensors").stat().st_size
    x = torch.randn(2, 2, 600)
    assert torch.allclose(m_small.embed(x), m_full.embed(x), atol=1e-2)
    # an export is the same bytes each time: safetensors writes its metadata in an order that
    # varies from process to process, so the header is written with its keys sorted
    data = (full / "model.safetensors").read_bytes()
    n = int.from_bytes(data[:8], "little")
    assert n % 8 == 0 and list(json.loads(data[8:8 + n])["__metadata__"]) == [
        "config", "dtype", "format", "sha256", "step"]
    again = export_model(tmp_path / "run", tmp_path / "again")
    assert (again / "model.safetensors").read_bytes() == data

    # load keeps refusing mismatched and corrupt files
    good_json = (small / "tiny.json").read_text()
    cfg_json = json.loads(good_json)
    cfg_json["model"]["d_ff"] = 32
    (small / "tiny.json").write_text(json.dumps(cfg_json))
    with pytest.raises(ValueError, match=r"tiny.json: field 'd_ff'"):
        load(small / "tiny.safetensors")
    for text, message in (('{"format": ', "tiny.json: truncated or damaged model config"),
                          ("[1]", r"tiny.json: no model config \(a JSON list"),
                          ('{"model": {}}', "tiny.json: not a qualityfm model config")):
        (small / "tiny.json").write_text(text)
        with pytest.raises(ValueError, match=message):
            load(small / "tiny.safetensors")
    (small / "tiny.json").write_text(good_json)
    from safetensors.torch import save_file

    bad = {k: v.clone() for k, v in m_full.state_dict().items()}
    bad["encoder.trunk.out.weight"][0, 0] = float("nan")  # a NaN weight: every output NaN
    meta = {"format": "qualityfm-model", "config": json.dumps(m_full.cfg.to_dict())}
    save_file(bad, str(full / "model.safetensors"), metadata=meta)
    with pytest.raises(ValueError, match=r"model.safetensors: tensor 'encoder.trunk.out.weight' "
                                         r"holds 1 NaN or infinite values"):
        load(full)
    (small / "tiny.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="tiny.safetensors: corrupt"):
        load(small / "tiny.safetensors")
    with pytest.raises(ValueError, match="dtype='int8'"):
        export_model(tmp_path / "run", tmp_path / "x", dtype="int8")


def test_a_file_that_predates_a_config_field_loads_with_its_default(tmp_path) -> None:
    """Weights exported before ``feature_targets`` existed (no such key in the embedded or
    the JSON config) load, and the field takes its default; a present, different value is
    still refused."""
    from safetensors.torch import save_file

    torch.manual_seed(0)
    cfg = dataclasses.replace(TINY, head="none")
    model = QualityFM(cfg)
    old = {k: v for k, v in cfg.to_dict().items() if k != "feature_targets"}
    save_file(model.state_dict(), str(tmp_path / "old.safetensors"),
              metadata={"format": FORMAT, "config": json.dumps(old)})
    (tmp_path / "old.json").write_text(json.dumps({"format": FORMAT, "model": old}))
    loaded = load(tmp_path / "old.safetensors")
    assert loaded.cfg.feature_targets == 0 and loaded.feature_head is None
    x = torch.randn(2, 2, 600)
    torch.testing.assert_close(loaded.embed(x), model.eval().embed(x))
    (tmp_path / "old.json").write_text(json.dumps(
        {"format": FORMAT, "model": {**old, "feature_targets": 3}}))
    with pytest.raises(ValueError, match=r"old.json: field 'feature_targets' = 3"):
        load(tmp_path / "old.safetensors")
    # a damaged config string in the header is named with its file (a bare JSON error before)
    save_file(model.state_dict(), str(tmp_path / "old.safetensors"),
              metadata={"format": FORMAT, "config": "{" + json.dumps(old)[2:]})
    with pytest.raises(ValueError, match=r"old\.safetensors: corrupt config in its "
                                         r"safetensors header"):
        load(tmp_path / "old.safetensors")


def test_a_folder_named_pretrained_is_no_export_target(tmp_path, monkeypatch) -> None:
    """'pretrained' names the shipped weights wherever a model is read, so an export there
    would never be read back (load had returned the shipped model without a word)."""
    from qualityfm.train import export_model
    from qualityfm.train.export import model_files

    monkeypatch.chdir(tmp_path)
    for name in ("pretrained", "pretrained:mine"):
        with pytest.raises(ValueError, match="names the shipped weights"):
            export_model(tmp_path / "run", Path(name))
    with pytest.raises(FileNotFoundError, match="run: no such folder"):  # a folder: not refused
        export_model(tmp_path / "run", "./pretrained")
    Path("pretrained").mkdir()
    with pytest.warns(UserWarning, match=r"means the weights shipped with qualityfm, not the "
                                         r".*; give './pretrained' for that one \(a str: "
                                         r"Path\('./pretrained'\) is 'pretrained' too\)"):
        model_files(Path("pretrained"))
    assert model_files("./pretrained")[0].parent.resolve() == Path("pretrained").resolve()


def test_an_export_to_dot_pretrained_returns_and_prints_that_folder(tmp_path, monkeypatch,
                                                                    capsys) -> None:
    """export_model returned Path('./pretrained'), that is 'pretrained', which load read as
    the shipped weights: `export --onnx` graphed the shipped model beside the run's weights
    (and checked it against itself) and printed "pretrained"."""
    import json

    from qualityfm.cli import main
    from qualityfm.train import export_model

    torch.manual_seed(0)
    teacher = QualityFM(TINY)
    write_run(tmp_path / "run", TINY, teacher.state_dict())
    monkeypatch.chdir(tmp_path)
    out = export_model(tmp_path / "run", "./pretrained")
    assert out == tmp_path / "pretrained"
    assert load(out).num_params() == teacher.num_params() != load("pretrained").num_params()
    assert main(["export", str(tmp_path / "run"), "--out", "./pretrained"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["out"] == "./pretrained"


def test_a_residual_stem_model_exports_and_loads(tmp_path) -> None:
    """The tokeniser choice travels in the exported config: a residual-stem teacher loads back
    as one and embeds the same windows."""
    torch.manual_seed(0)
    cfg = dataclasses.replace(TINY, stem="residual", stem_width=4, stem_blocks=1)
    teacher = QualityFM(cfg)
    write_run(tmp_path / "run", cfg, teacher.state_dict())
    loaded = load(export_model(tmp_path / "run", tmp_path / "w", include_head=False))
    assert loaded.cfg.stem == "residual" and loaded.cfg.stem_blocks == 1
    x = torch.randn(2, 2, 600)
    torch.testing.assert_close(loaded.embed(x), teacher.eval().embed(x))


@needs_weights
def test_the_attention_kernel_is_a_runtime_choice_not_part_of_the_weights(tmp_path) -> None:
    """The shipped config says ``auto``; a copy whose config names another kernel loads the same
    weights and embeds the same windows (kernels are interchangeable); other fields are checked."""
    import shutil

    cfg = json.loads((weights_dir() / "base.json").read_text())
    assert cfg["model"]["attention"] == "auto"
    shutil.copy(SHIPPED, tmp_path / "base.safetensors")
    cfg["model"]["attention"] = "local"
    (tmp_path / "base.json").write_text(json.dumps(cfg))
    x, mask = _windows(1)
    with torch.no_grad():
        a = load("pretrained").embed(x, mask)
        b = load(tmp_path / "base.safetensors").embed(x, mask)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    cfg["model"]["window"] = 4
    (tmp_path / "base.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="'window'"):
        load(tmp_path / "base.safetensors")


def test_export_refuses_weights_beyond_the_dtype(tmp_path) -> None:
    """A weight beyond float16's range would be written as inf, which load() refuses: the
    export says so, naming the tensor, and writes nothing."""
    torch.manual_seed(0)
    teacher = QualityFM(TINY)
    state = teacher.state_dict()
    key = "decoder.amp.2.bias"
    state[key][0] = 1e5
    write_run(tmp_path / "run", TINY, state, steps=3)
    with pytest.raises(ValueError, match=rf"{key}.*float16.*bfloat16 or float32"):
        export_model(tmp_path / "run", tmp_path / "w", dtype="float16")
    assert not (tmp_path / "w").exists() or not any((tmp_path / "w").iterdir())
    # bfloat16 holds it: the weights are float32's rounded to bfloat16 (8 bits of mantissa),
    # stored as such, and embed as float32's do to that precision (had been only "loads")
    half_dir = export_model(tmp_path / "run", tmp_path / "b", dtype="bfloat16")
    with safe_open(half_dir / "model.safetensors", "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.bfloat16}
    full, half = load(export_model(tmp_path / "run", tmp_path / "f")), load(half_dir)
    full_state, half_state = full.state_dict(), half.state_dict()
    assert half_state.keys() == full_state.keys()
    for k, v in full_state.items():
        if v.is_floating_point():
            torch.testing.assert_close(half_state[k], v.to(torch.bfloat16).float(), rtol=0,
                                       atol=0, msg=k)
    assert half_state[key][0] == 99840.0  # 1e5 in bfloat16
    x = 2 * torch.rand(2, 2, 600, generator=torch.Generator().manual_seed(1)) - 1
    with torch.no_grad():  # embeddings of size ~1 agree to ~4e-3
        torch.testing.assert_close(half.embed(x), full.embed(x), rtol=0.02, atol=0.02)


def test_an_export_saved_before_the_decoders_mix_loads(tmp_path) -> None:
    """A small model (one decoder row) exported before ``decoder.mix`` existed: load() had
    refused it for the missing tensors; it predicts as it did."""
    from safetensors.torch import load_file, save_file

    torch.manual_seed(0)
    write_run(tmp_path / "run", TINY, QualityFM(TINY).state_dict(), steps=3)
    folder = export_model(tmp_path / "run", tmp_path / "m")
    weights = folder / "model.safetensors"
    with safe_open(weights, "pt") as f:
        metadata = {k: v for k, v in f.metadata().items() if k != "sha256"}  # none then
    tensors = load_file(weights)
    save_file({k: v for k, v in tensors.items() if not k.startswith("decoder.mix.")},
              weights, metadata=metadata)
    model = load(folder)
    x = torch.randn(1, 2, 600)
    with torch.no_grad():
        amp = model(x)["amp"]
    torch.testing.assert_close(amp[:, 0], amp[:, 1])  # the one row copied, as before


def test_a_damaged_weights_file_is_refused(tmp_path) -> None:
    """One header byte ("F32" -> "I32") had loaded float bits as integers (a weight of 1e9),
    one flipped bit in the data a weight of 1e36, both without a word: the dtype is checked
    against the model's, and an export's digest of its tensors against them."""
    torch.manual_seed(0)
    teacher = QualityFM(TINY)
    write_run(tmp_path / "run", TINY, teacher.state_dict())
    good = export_model(tmp_path / "run", tmp_path / "good")
    assert load(good) is not None
    name = "encoder.trunk.blocks.0.attn.qkv.weight"
    raw = (good / "model.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    start = json.loads(raw[8:8 + n])[name]["data_offsets"][0]
    for folder, at, new in (("retyped", raw.find(b'"F32"', raw.find(name.encode())) + 1, b"I"),
                            ("flipped", 8 + n + start + 3, bytes([raw[8 + n + start + 3] ^ 0x40]))):
        damaged = tmp_path / folder
        damaged.mkdir()
        (damaged / "config.json").write_bytes((good / "config.json").read_bytes())
        (damaged / "model.safetensors").write_bytes(raw[:at] + new + raw[at + 1:])
        with pytest.raises(ValueError, match=r"the file is damaged"):
            load(damaged)
