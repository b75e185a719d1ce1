"""Inference precision: bf16 / fp16 autocast for embed and score, API and CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from qualityfm.cli import main
from qualityfm.inference import embed_files, embed_windows, learned_quality, score_files
from qualityfm.model import QualityFM
from qualityfm.model.precision import check_precision, precision_autocast
from qualityfm.signal import synthesize


def windows(n: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Normalised-looking 30-s windows at 300 Hz: a synthetic PPG + ECG and noise; one PPG off."""
    rec = synthesize(30.0, fs=300.0, seed=1)
    sig = np.stack([rec.signals[c][:9000] for c in ("ppg", "ecg_ii")])[None]
    noise = np.random.default_rng(0).standard_normal((n - 1, 2, 9000))
    x = np.concatenate([sig, noise]).astype(np.float32)
    x = (x - x.mean(-1, keepdims=True)) / x.std(-1, keepdims=True)
    mask = np.ones((n, 2), dtype=bool)
    mask[1, 0] = False
    return x, mask


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))



def test_bf16_embeddings_close_to_fp32_but_computed_in_bf16(tiny_model: QualityFM) -> None:
    model, (x, mask) = tiny_model, windows()
    fp32 = embed_windows(model, x, mask)
    bf16 = embed_windows(model, x, mask, batch_size=3, precision="bf16")
    assert bf16.dtype == np.float32 and bf16.shape == fp32.shape == (4, 120)
    assert np.all(cosine(fp32, bf16) > 0.99)
    assert np.abs(fp32 - bf16).max() > 1e-4  # autocast ran: bf16 rounding shows
    np.testing.assert_array_equal(embed_windows(model, x, mask, precision="fp32"), fp32)


def test_bf16_learned_quality_close_to_fp32(tiny_model: QualityFM) -> None:
    model, (x, mask) = tiny_model, windows()
    fp32 = learned_quality(model, x, mask)
    bf16 = learned_quality(model, x, mask, precision="bf16")
    assert bf16.dtype == np.float32
    assert np.abs(fp32 - bf16).max() < 0.02
    assert not np.array_equal(fp32, bf16)


def test_learned_quality_compares_the_spectrum_the_decoder_learnt(tiny_model: QualityFM) -> None:
    """A model pre-trained with --amplitude power predicts |X|^2: its prediction had been
    correlated with |X|. The network's config carries the setting (export keeps it)."""
    import dataclasses

    model, (x, mask) = tiny_model, windows()
    power = QualityFM(dataclasses.replace(model.cfg, amplitude="power")).eval()
    power.load_state_dict(model.state_dict())
    with torch.no_grad():
        pred = model(torch.from_numpy(x), torch.from_numpy(mask))["amp"]
    spectrum = torch.fft.rfft(torch.from_numpy(x), dim=-1).abs()[..., :model.cfg.n_bins] ** 2

    def z(a: torch.Tensor) -> torch.Tensor:
        return (a - a.mean(-1, keepdim=True)) / (a.std(-1, keepdim=True) + 1e-6)

    corr = ((z(pred) * z(spectrum)).sum(-1) / (model.cfg.n_bins - 1)).numpy()
    want = (corr * mask).sum(-1) / mask.sum(-1)
    got = learned_quality(power, x, mask)
    np.testing.assert_allclose(got, want, atol=1e-3)
    assert np.abs(got - learned_quality(model, x, mask)).max() > 1e-2
    assert QualityFM(power.cfg).cfg.to_dict()["amplitude"] == "power"


def test_autocast_helper_sets_the_dtype() -> None:
    lin = torch.nn.Linear(4, 4)
    with precision_autocast("bf16", "cpu"):
        assert lin(torch.ones(1, 4)).dtype == torch.bfloat16
    with precision_autocast("fp32", "cpu"):
        assert lin(torch.ones(1, 4)).dtype == torch.float32


@pytest.mark.parametrize("name", ["float16", "BF16", "half", ""])
def test_unknown_precision_names_raise(name: str, records: Path, tmp_path: Path,
                                       tiny_model: QualityFM) -> None:
    model, (x, mask) = tiny_model, windows(2)
    match = f"unknown precision {name!r}"
    with pytest.raises(ValueError, match=match):
        embed_windows(model, x, mask, precision=name)
    with pytest.raises(ValueError, match=match):
        learned_quality(model, x, mask, precision=name)
    with pytest.raises(ValueError, match=match):
        embed_files([records], tmp_path / "e.npy", model, precision=name)
    with pytest.raises(ValueError, match=match):
        score_files([records], tmp_path / "s.csv", precision=name)  # even without a model
    assert not list(tmp_path.glob("[es].*"))  # refused before anything was written


def test_cpu_bf16_flags_read_from_cpuinfo(tmp_path: Path) -> None:
    """x86 flags and Arm features name bf16 instructions; a CPU without them gives (), an
    unreadable file (not Linux) None."""
    from qualityfm.model.precision import cpu_bf16_flags

    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile "
                   "amx_bf16\nbugs\t\t: bf16\n\nprocessor\t: 1\nflags\t\t: fpu avx2\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n")
    avx2 = tmp_path / "avx2"
    avx2.write_text("model name\t: AMD EPYC bf16\nflags\t\t: fpu sse2 avx2 avx512f\n")
    assert cpu_bf16_flags(str(x86)) == ("avx512_bf16", "amx_bf16")
    assert cpu_bf16_flags(str(arm)) == ("bf16",)
    assert cpu_bf16_flags(str(avx2)) == ()  # (a model name or a bugs line is no flag)
    assert cpu_bf16_flags(str(tmp_path / "absent")) is None


@pytest.mark.parametrize(("flags", "onednn", "warned"), [
    ((), False, True), (("amx_bf16",), False, False), (None, False, False), ((), True, False)])
def test_bf16_on_a_cpu_without_bf16_instructions_warns(monkeypatch, flags, onednn: bool,
                                                       warned: bool) -> None:
    """bf16 autocast there is emulated, many times slower than fp32 (about 0.1x on an AVX2
    host): said, where it had run without a word; a CPU with the instructions, one whose
    flags are unknown, or one oneDNN gives bf16 kernels (AVX-512), is not warned about."""
    import warnings

    from qualityfm.model import precision

    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda: flags)
    monkeypatch.setattr(precision, "_onednn_bf16", lambda: onednn)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_precision("bf16", "cpu")
        check_precision("fp32", "cpu")
    said = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(said) == warned
    if warned:
        assert "no bf16 instructions" in said[0] and "use fp32 where the run allows" in said[0]


def test_fp16_on_cpu_raises(records: Path, tmp_path: Path, tiny_model: QualityFM) -> None:
    model, (x, mask) = tiny_model, windows(2)
    with pytest.raises(ValueError, match="'fp16' needs a CUDA device.*cpu"):
        embed_windows(model, x, mask, precision="fp16")
    with pytest.raises(ValueError, match="'fp16' needs a CUDA device"):
        score_files([records], tmp_path / "s.csv", model=model, precision="fp16")
    check_precision("fp16")  # a valid name when no device is given


def test_cli_precision_reaches_embed_and_score(records: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    emb = {}
    for p in ("fp32", "bf16"):
        out = tmp_path / f"emb_{p}.npy"
        assert main(["embed", str(records), "--out", str(out), "--precision", p]) == 0
        emb[p] = np.load(out)
    assert emb["fp32"].shape == emb["bf16"].shape == (5, 512)  # pretrained `base`, 3 + 2 windows
    assert np.all(cosine(emb["fp32"], emb["bf16"]) > 0.99)
    assert not np.array_equal(emb["fp32"], emb["bf16"])

    learned = {}
    for p in ("fp32", "bf16"):
        out = tmp_path / f"score_{p}.csv"
        argv = ["score", str(records), "--out", str(out), "--model", "pretrained"]
        assert main([*argv, "--precision", p]) == 0
        learned[p] = np.array([float(r["learned_quality"]) for r in csv.DictReader(out.open())])
    assert np.abs(learned["fp32"] - learned["bf16"]).max() < 0.02
    assert not np.array_equal(learned["fp32"], learned["bf16"])

    capsys.readouterr()
    bad = ["score", str(records), "--out", str(tmp_path / "x.csv"), "--model", "pretrained"]
    assert main([*bad, "--precision", "fp16"]) == 1
    assert "'fp16' needs a CUDA device" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*bad, "--precision", "fp64"])
    assert "invalid choice: 'fp64'" in capsys.readouterr().err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_cuda_autocast_close_to_fp32(precision: str, tiny_model: QualityFM) -> None:
    model, (x, mask) = tiny_model.cuda(), windows()
    fp32 = embed_windows(model, x, mask)
    low = embed_windows(model, x, mask, precision=precision)
    assert low.dtype == np.float32 and np.all(cosine(fp32, low) > 0.99)
    assert not np.array_equal(fp32, low)
    q32 = learned_quality(model, x, mask)
    q = learned_quality(model, x, mask, precision=precision)
    assert np.abs(q32 - q).max() < 0.02
