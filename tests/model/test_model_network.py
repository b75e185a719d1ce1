"""QualityFM network: preset sizes, shapes, missing channels, optimizer groups, heads."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qualityfm.cli import main
from qualityfm.model import PRESETS, QualityFM, QualityFMConfig

# The original's counts (encoder + decoder + heads, encoder alone), from arXiv 2509.06516.
TARGETS = {
    "base": (9_576_714, 4_255_005),
    "middle": (70_589_706, 34_761_501),
    "large": (319_552_778, 159_243_037),
}


def tiny(**kw: object) -> QualityFMConfig:
    """A small but complete config: 3-stage stem, 1000 samples -> 4 tokens, d = 32."""
    base = dict(
        d_model=32, n_layers=1, n_heads=2, d_ff=16, n_samples=1000, stem_channels=(4, 8, 32),
        stem_kernels=(11, 7, 5), stem_strides=(5, 5, 10), n_bins=16, dropout=0.0,
    )
    base.update(kw)
    return QualityFMConfig(**base)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_preset_counts_match_original(name: str) -> None:
    with torch.device("meta"):
        model = QualityFM(PRESETS[name])
    total, encoder = TARGETS[name]
    assert abs(model.num_params() - total) / total < 0.01
    assert abs(model.num_params("encoder") - encoder) / encoder < 0.01
    # exact apart from our learned absent-channel embedding (C x d)
    assert model.num_params() - total == 2 * 512
    assert model.num_params("encoder") - encoder == 2 * 512


def test_presets_cli_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["presets"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["name"] for r in rows] == ["base", "middle", "large"]
    for row in rows:
        total, encoder = TARGETS[row["name"]]
        assert abs(row["total_params"] - total) / total < 0.01
        assert abs(row["encoder_params"] - encoder) / encoder < 0.01
        assert row["n_tokens"] == 18
    assert main(["presets", "base", "--stem", "residual"]) == 0  # what pretrain builds
    row = json.loads(capsys.readouterr().out)
    assert row["stem"] == "residual" and row["stem_channels"] == [16, 16, 32, 64, 128]
    assert row["n_tokens"] == 18 and 0.95 < row["total_params"] / TARGETS["base"][0] < 1.0


def test_stem_output_length_is_n_tokens() -> None:
    cfg = tiny()
    model = QualityFM(cfg)
    for n in (1, 49, 50, 51, 999, 1000, 1001):
        assert model.encode(torch.randn(1, 2, n)).shape[1] == cfg.n_tokens(n)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 20000))
def test_token_count_is_ceil_of_strides(n: int) -> None:
    cfg = QualityFMConfig()
    ceil = math.ceil
    assert cfg.n_tokens(n) == ceil(ceil(ceil(n / 5) / 10) / 10)
    assert cfg.n_tokens(9000) == 18


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 20000), st.integers(1, 5))
def test_residual_stem_token_count_is_ceil_of_its_stride(n: int, blocks: int) -> None:
    cfg = QualityFMConfig(stem="residual", stem_blocks=blocks)
    assert cfg.n_tokens(n) == math.ceil(n / (4 * 2**blocks * 8))


def test_residual_stem_shapes_tokens_and_gradients() -> None:
    """The residual tokeniser makes the tokens its config promises, the decoder (conv stem
    always) reads them, and every parameter gets a finite gradient, missing channels too."""
    torch.manual_seed(0)
    assert QualityFMConfig.preset("base", stem="residual").n_tokens(9000) == 18
    cfg = tiny(stem="residual", stem_width=4, stem_blocks=2)  # 1000 samples / 128 -> 8 tokens
    model = QualityFM(cfg)
    assert model.encoder.trunk.stem[3].body[1].num_groups == 1  # GroupNorm, not batch norm
    assert type(model.decoder.trunk.stem).__name__ == "ConvStem"
    for n in (1, 127, 128, 129, 1000, 2500):
        assert model.encode(torch.randn(1, 2, n)).shape == (1, cfg.n_tokens(n), 32)
    mask = torch.tensor([[True, False], [False, True]])
    out = model(torch.randn(2, 2, 1000), mask)
    assert out["tokens"].shape == (2, 8, 32) and out["amp"].shape == (2, 2, 16)
    (out["amp"].sum() + out["phase"].sum() + out["tokens"].pow(2).mean()).backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    # per-sample normalisation: a window's tokens do not depend on the rest of the batch
    model.eval()
    x = torch.randn(3, 2, 1000)
    with torch.no_grad():
        torch.testing.assert_close(model.encode(x)[:1], model.encode(x[:1]))


@pytest.mark.parametrize("stem", ["residual", "conv"])
def test_pools_read_tokens_and_stem_maps(stem: str) -> None:
    """Every pool gives ``pooled_dim`` values; "+stem" appends the mean, SD and maximum over
    time of the maps that enter the stem's token conv (and with "last" their mean over the
    last token's frames); asking for the maps leaves the tokens unchanged."""
    from qualityfm.model import POOLS, check_pool, pool_encoder, pool_tokens, pooled_dim

    torch.manual_seed(0)
    cfg = tiny(stem="residual", stem_width=4, stem_blocks=2) if stem == "residual" else tiny()
    enc = QualityFM(cfg).eval().encoder
    x, mask = torch.randn(3, 2, 1000), torch.tensor([[True, True], [True, False], [False, True]])
    with torch.no_grad():
        tokens = enc(x, mask)
        same, maps = enc(x, mask, stem_maps=True)
        pooled = {p: pool_encoder(enc, x, mask, p) for p in POOLS}
        # the maps are what the stem's last three layers (token conv, norm, activation) read
        _, plain_maps = enc(x, None, stem_maps=True)
        tail = torch.nn.Sequential(*list(enc.trunk.stem)[-3:])
        torch.testing.assert_close(tail(plain_maps), enc.trunk.stem(x))
    entry = enc.trunk.stem[-3]  # the token conv
    torch.testing.assert_close(same, tokens)
    assert maps.shape[:2] == (3, enc.trunk.map_channels) == (3, entry.in_channels)
    for p, h in pooled.items():
        assert h.shape == (3, pooled_dim(enc, p))
    span = enc.trunk.token_span
    assert span == entry.stride[0] and span > 1
    stats = [maps.mean(-1), maps.std(-1, correction=0), maps.amax(-1)]
    with torch.no_grad():  # a window of one map frame still gives finite values
        short = torch.randn(2, 2, 8)
        assert enc(short, None, stem_maps=True)[1].shape[-1] == 1
        assert torch.isfinite(pool_encoder(enc, short, None, "mean+last+stem")).all()
    torch.testing.assert_close(pooled["mean+stem"], torch.cat([tokens.mean(1), *stats], 1))
    torch.testing.assert_close(pooled["mean+last+stem"], torch.cat(
        [tokens.mean(1), tokens[:, -1], *stats, maps[..., -span:].mean(-1)], 1))
    torch.testing.assert_close(pooled["mean+last"], pool_tokens(tokens, "mean+last"))
    with pytest.raises(ValueError, match="pool_encoder"):
        pool_tokens(tokens, "mean+stem")
    with pytest.raises(ValueError, match="'max'"):
        check_pool("max")


def test_base_forward_shapes_and_missing_modalities() -> None:
    torch.manual_seed(0)
    model = QualityFM(QualityFMConfig.preset("base")).eval()
    x = torch.randn(3, 2, 9000)
    mask = torch.tensor([[True, True], [False, True], [True, False]])  # both, ECG-only, PPG-only
    with torch.no_grad():
        out = model(x, mask)
        assert out["tokens"].shape == (3, 18, 512)
        assert out["amp"].shape == out["phase"].shape == (3, 2, 512)
        assert set(out) == {"tokens", "amp", "phase"}
        torch.testing.assert_close(model.embed(x, mask), out["tokens"].mean(dim=1))
        # the content of an absent channel is ignored
        y = x.clone()
        y[1, 0] = torch.randn(9000) * 10
        torch.testing.assert_close(model.encode(y, mask), out["tokens"])
        # ... and absent differs from a present flat channel (the absent embedding is added)
        flat = x.clone()
        flat[1, 0] = 0
        assert not torch.allclose(model.encode(flat[1:2])[0], out["tokens"][1])
        assert torch.isfinite(out["amp"]).all() and torch.isfinite(out["phase"]).all()


def test_absent_embedding_learns() -> None:
    model = QualityFM(tiny())
    x = torch.randn(2, 2, 1000)
    mask = torch.tensor([[True, False], [True, True]])
    model(x, mask)["tokens"].sum().backward()
    grad = model.encoder.absent.weight.grad
    assert grad[1].abs().sum() > 0 and grad[0].abs().sum() == 0


def test_kernels_give_same_model_output() -> None:
    torch.manual_seed(1)
    cfg = tiny(n_samples=20000, global_tokens=(0, 3), window=4)  # 80 tokens
    dense = QualityFM(dataclasses.replace(cfg, attention="dense")).eval()
    local = QualityFM(dataclasses.replace(cfg, attention="local")).eval()
    local.load_state_dict(dense.state_dict())
    x = torch.randn(2, 2, 20000)
    with torch.no_grad():
        a, b = dense(x), local(x)
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-5, rtol=1e-4)


def test_non_default_tokeniser_and_long_windows() -> None:
    """Finer tokens / longer windows: the decoder pools its stem output to C channels."""
    cfg = tiny(stem_strides=(2, 2, 2), n_samples=400)  # 50 tokens, decoder stem gives 4
    model = QualityFM(cfg)
    out = model(torch.randn(2, 2, 400))
    assert out["tokens"].shape == (2, 50, 32) and out["amp"].shape == (2, 2, 16)
    (out["amp"].sum() + out["phase"].sum()).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    # the encoder accepts any length; the decoder needs its configured token count
    assert model.encode(torch.randn(1, 2, 4000)).shape == (1, 500, 32)
    with pytest.raises(ValueError, match="decoder is built for 50 tokens"):
        model(torch.randn(1, 2, 4000))


def test_bad_inputs_raise() -> None:
    model = QualityFM(tiny())
    with pytest.raises(ValueError, match="input must be"):
        model.encode(torch.randn(2, 3, 1000))
    with pytest.raises(ValueError, match="mask must be bool"):
        model.encode(torch.randn(2, 2, 1000), torch.full((2, 2), 0.5))
    with pytest.raises(ValueError, match=r"mask must be \[batch, 2\]"):
        model.encode(torch.randn(2, 2, 1000), torch.ones(3, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="n_heads"):
        tiny(n_heads=5)
    with pytest.raises(ValueError, match="stem_kernels"):
        tiny(stem_kernels=(10, 7, 5))
    with pytest.raises(ValueError, match="stem must be one of"):
        tiny(stem="resnet")
    with pytest.raises(ValueError, match="stem_width and stem_blocks"):
        tiny(stem="residual", stem_blocks=0)
    with pytest.raises(ValueError, match="unknown preset"):
        QualityFMConfig.preset("huge")
    with pytest.raises(ValueError, match="unknown QualityFMConfig fields"):
        QualityFMConfig.from_dict({"d_modle": 3})


def test_embed_warns_on_windows_outside_the_unit_range() -> None:
    """Raw values (an ECG in microvolts) instead of normalised windows warn, naming the
    channel, at the caller's line; an absent channel is not looked at; the decoder's length
    error says what window the model reads."""
    model = QualityFM(tiny())
    x = torch.rand(2, 2, 1000) * 2 - 1
    raw = x.clone()
    raw[:, 1] *= 800.0
    with pytest.warns(UserWarning, match=r"channel\(s\) ecg_ii:") as caught:
        model.embed(raw)
        model.embed(raw * torch.tensor([1.0, 3.0])[:, None])  # one message whatever the
        # values, so that a loop over batches warns once
    assert caught[0].filename == __file__ and "ppg" not in str(caught[0].message)
    assert str(caught[0].message) == str(caught[1].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.embed(x)
        model.embed(raw, torch.tensor([[True, False], [True, False]]))
    with pytest.raises(ValueError, match="windows of 1000 samples"):
        model(torch.zeros(1, 2, 2000))
    gap = x.clone()
    gap[1, 0, 500] = float("nan")  # one dropped PPG sample: refused, not a NaN embedding
    with pytest.raises(ValueError, match=r"NaN or inf in present channels \(channel ppg: "
                                         r"rows 1\)"):
        model.embed(gap)
    assert torch.isfinite(model.embed(gap, torch.tensor([[True, True], [False, True]]))).all()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("n_heads", 4.0, "config n_heads must be an integer, got 4.0"),
    ("n_layers", "2", "config n_layers must be an integer, got '2'"),
    ("window", 2.5, "config window must be an integer, got 2.5"),
    ("d_ff", True, "config d_ff must be an integer, got True"),
    ("stem_kernels", (11.0, 7, 5), "config stem_kernels must be a tuple of integers, got (11.0"),
    ("global_tokens", 0, "config global_tokens must be a tuple of integers, got 0"),
    ("dropout", "0.1", "config dropout must be a number, got '0.1'"),
    ("bias", 1, "config bias must be true or false, got 1"),
    ("head_prototypes", 0, "config head_prototypes must be >= 1, got 0"),
])
def test_config_refuses_wrong_types(field: str, value: object, message: str) -> None:
    """Values that torch would reject later (or, like a float window, silently truncate).
    (Too many spectrum bins for the windows is pre-training's concern: check_trainable.)"""
    with pytest.raises(ValueError, match=re.escape(message)):
        tiny(**{field: value})
    with pytest.raises(ValueError, match=f"config {field} "):  # overrides of a preset too
        QualityFMConfig.preset("base", **{field: value})


def test_config_fields_set_after_construction_are_named_as_tuples() -> None:
    """A list of integers set on a built config had been refused as "must be a list of
    integers"."""
    cfg = tiny()
    cfg.global_tokens = [0, 5]
    with pytest.raises(ValueError, match=re.escape("config global_tokens must be a tuple of "
                                                   "integers, got [0, 5]")):
        QualityFM(cfg)


def test_pool_encoder_of_no_window_and_shifts_below_one() -> None:
    """pool_encoder of a batch of none had failed in the stem's reshape; mean_over_shifts of
    0 shifts had given inf and of -2 half the output's negative."""
    from qualityfm.model import POOLS, mean_over_shifts, pool_encoder, pooled_dim

    for stem in ("conv", "residual"):
        cfg = tiny(stem="residual", stem_width=4, stem_blocks=2) if stem == "residual" else tiny()
        enc = QualityFM(cfg).eval().encoder
        for pool in POOLS:
            out = pool_encoder(enc, torch.zeros(0, 2, 1000), None, pool)
            assert out.shape == (0, pooled_dim(enc, pool))
    x = torch.ones(1, 6)
    torch.testing.assert_close(mean_over_shifts(lambda t: t.sum(-1), x, 3), torch.tensor([6.0]))
    for bad in (0, -2, 1.5):
        with pytest.raises(ValueError, match=f"shifts must be a whole number >= 1, got {bad}"):
            mean_over_shifts(lambda t: t.sum(-1), x, bad)


def test_config_refuses_a_decoder_stage_of_one_value_and_one_bin() -> None:
    """d_model under 20 with the default stem widths gave the decoder a stage of width 1 over
    one sample: GroupNorm made its spectra independent of the tokens (and a batch of one
    failed in training). One spectrum bin cannot be z-scored."""
    with pytest.raises(ValueError, match=r"decoder's conv stage 2 would normalise one value.*"
                                         r"stem_channels"):
        QualityFMConfig(d_model=16, n_heads=2, n_samples=600)
    QualityFMConfig(d_model=16, n_heads=2, n_samples=600, stem_channels=(4, 8, 16)).validate()
    QualityFMConfig(d_model=32, n_heads=2, n_samples=600).validate()  # (1, 3, 32): fine
    with pytest.raises(ValueError, match="config n_bins must be >= 2, got 1"):
        QualityFMConfig(n_bins=1)


def test_config_keeps_integral_values_of_other_types() -> None:
    cfg = tiny(n_bins=501, n_heads=np.int64(2), stem_kernels=[11, 7, 5], global_tokens=[0, 2])
    assert cfg.stem_kernels == (11, 7, 5) and cfg.global_tokens == (0, 2)
    assert QualityFM(cfg)(torch.randn(1, 2, 1000))["amp"].shape == (1, 2, 501)


def test_config_stores_python_numbers() -> None:
    """A NumPy integer validates, and is stored as a Python int: a run's config is JSON."""
    cfg = tiny(n_layers=np.int64(1), dropout=np.float32(0.0), stem_strides=[np.int64(5), 5, 10])
    assert type(cfg.n_layers) is int and type(cfg.dropout) is float
    assert all(type(s) is int for s in cfg.stem_strides)
    assert json.loads(json.dumps(cfg.to_dict()))["n_layers"] == 1
    with pytest.raises(ValueError, match="fs must be a finite rate"):
        tiny(fs=float("inf"))


@pytest.mark.parametrize("d_model", [32, 512, 1024])
def test_decoder_predicts_each_channel_its_own_spectra(d_model: int) -> None:
    """Where the decoder's stem leaves fewer rows than channels (d_model <= 500 with the default
    strides), a learned map gives each channel its own row: it starts as the copy it replaced
    (one row for both channels, which could only learn their mean) and moves the channels
    apart as the loss asks."""
    cfg = QualityFMConfig(d_model=d_model, n_heads=4, n_layers=1, d_ff=32, n_samples=3000,
                          n_bins=16)
    torch.manual_seed(0)
    model = QualityFM(cfg).eval()
    x = torch.randn(2, 2, 3000)
    if model.decoder.mix is not None:  # one step of a loss that tells the channels apart
        out = model(x)
        (out["amp"][:, 0].sum() - out["amp"][:, 1].sum()).backward()
        with torch.no_grad():
            for p in model.decoder.mix.parameters():
                p -= 0.1 * p.grad
    with torch.no_grad():
        out = model(x)
    assert not torch.allclose(out["amp"][:, 0], out["amp"][:, 1])
    assert not torch.allclose(out["phase"][:, 0], out["phase"][:, 1])


def test_weights_saved_before_the_decoders_mix_load_as_they_predicted() -> None:
    """A d_model <= 500 network saved before ``mix`` existed (the one row copied to every
    channel) loads, and its decoder predicts as it did."""
    torch.manual_seed(0)
    model = QualityFM(tiny()).eval()
    old = {k: v for k, v in model.state_dict().items() if not k.startswith("decoder.mix.")}
    again = QualityFM(tiny()).eval()
    again.load_state_dict(old)  # strict
    x = torch.randn(2, 2, 1000)
    with torch.no_grad():
        amp = again(x)["amp"]
        h = again.decoder.trunk(again.encoder(x))
    torch.testing.assert_close(amp[:, 0], amp[:, 1])  # the copy of before
    torch.testing.assert_close(amp[:, 0], again.decoder.amp(h)[:, 0])


def test_the_decoders_mix_starts_as_the_pooling_it_replaced() -> None:
    """Rows fewer than channels: 2 rows to 3 channels had pooled as [h0, (h0+h1)/2, h1]."""
    import torch.nn.functional as F

    torch.manual_seed(0)
    cfg = QualityFMConfig(in_channels=3, n_heads=4, n_layers=1, d_ff=32, n_samples=3000,
                          n_bins=16)
    model = QualityFM(cfg).eval()
    assert cfg.decoder_rows == 2 and model.decoder.mix is not None
    with torch.no_grad():
        h = model.decoder.trunk(model.encoder(torch.randn(2, 3, 3000)))
        pooled = F.adaptive_avg_pool1d(h.transpose(1, 2), 3).transpose(1, 2)
        torch.testing.assert_close(model.decoder.mix(h.transpose(1, 2)).transpose(1, 2),
                                   pooled)


def test_config_round_trip() -> None:
    cfg = QualityFMConfig.preset("middle", window=32, global_tokens=(0, 5))
    again = QualityFMConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.global_tokens == (0, 5)
    assert PRESETS["middle"].window == 8  # presets are not mutated by overrides


def test_optimizer_groups() -> None:
    model = QualityFM(tiny(head="dino", head_hidden=16, head_bottleneck=8, head_prototypes=12))
    opt = model.configure_optimizer(lr=1e-3, weight_decay=0.04)
    groups = {g["name"]: g for g in opt.param_groups}
    decay = {id(p) for p in groups["decay"]["params"]}
    no_decay = {id(p) for p in groups["no_decay"]["params"]}
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay.isdisjoint(no_decay) and decay | no_decay == set(names)
    for pid in decay:
        assert names[pid].endswith("weight") and "ln" not in names[pid]
        assert "absent" not in names[pid]
    for n, p in model.named_parameters():
        if n.endswith("bias") or "ln" in n or "absent" in n or p.ndim == 1:
            assert id(p) in no_decay, n
        if p.ndim >= 2 and "absent" not in n:
            assert id(p) in decay, n
    assert groups["decay"]["weight_decay"] == 0.04 and groups["no_decay"]["weight_decay"] == 0.0
    QualityFM.set_weight_decay(opt, 0.4)
    assert groups["decay"]["weight_decay"] == 0.4 and groups["no_decay"]["weight_decay"] == 0.0
    with pytest.raises(ValueError, match="decay"):
        QualityFM.set_weight_decay(torch.optim.SGD(model.parameters(), lr=0.1), 0.1)
    adam = model.configure_optimizer(lr=1e-3, weight_decay=0.04, kind="adam")  # the original's
    assert type(adam) is torch.optim.Adam and type(opt) is torch.optim.AdamW
    assert [(g["name"], g["weight_decay"], len(g["params"])) for g in adam.param_groups] == [
        ("decay", 0.04, len(decay)), ("no_decay", 0.0, len(no_decay))]
    with pytest.raises(ValueError, match="'sgd'"):
        model.configure_optimizer(lr=1e-3, weight_decay=0.04, kind="sgd")


def test_dino_head() -> None:
    cfg = tiny(head="dino", head_on="both", head_hidden=16, head_bottleneck=8, head_prototypes=12)
    model = QualityFM(cfg)
    out = model(torch.randn(3, 2, 1000))
    assert out["proj"].shape == (3, 12) and out["proj_tokens"].shape == (3, 4, 12)
    assert out["proj"].abs().max() <= 1 + 1e-5  # cosine logits of normalised vectors
    plain = QualityFM(tiny())
    assert model.num_params() == plain.num_params()  # counts exclude the head by default
    assert model.num_params(head=True) > plain.num_params()


def test_feature_read_out() -> None:
    model = QualityFM(tiny(feature_targets=7))
    x = torch.randn(3, 2, 1000)
    out = model(x, decode=False)
    expected = model.feature_head(model.embed(x))  # linear in the pooled embedding
    assert out["features"].shape == (3, 7)
    torch.testing.assert_close(out["features"], expected)
    assert model.num_params() == QualityFM(tiny()).num_params()  # counts exclude it
    assert "features" not in QualityFM(tiny())(x)
    with pytest.raises(ValueError, match="feature_targets must be >= 0"):
        tiny(feature_targets=-1)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 5),  # input channels
    st.sampled_from([1, 3, 7, 130]),  # output channels (>= 128 takes the GEMM path)
    st.sampled_from([1, 3, 5, 11, 51]),  # kernel
    st.integers(1, 12),  # stride
    st.integers(0, 30),  # padding
    st.integers(1, 200),  # input length
    st.booleans(),  # bias
)
def test_strided_conv_equals_conv1d(c_in: int, c_out: int, k: int, s: int, p: int, t: int,
                                    bias: bool) -> None:
    """The tokeniser's rewritten convolution is nn.Conv1d, forward and backward."""
    from qualityfm.model.layers import StridedConv1d

    if t + 2 * p < k:
        return  # no output position: nn.Conv1d raises too
    torch.manual_seed(0)
    conv = StridedConv1d(c_in, c_out, k, stride=s, padding=p, bias=bias).double()
    x = torch.randn(2, c_in, t, dtype=torch.double, requires_grad=True)
    y = conv(x)
    ref = torch.nn.functional.conv1d(x, conv.weight, conv.bias, stride=s, padding=p)
    torch.testing.assert_close(y, ref)
    g = torch.randn_like(ref)
    params = (x, conv.weight) + ((conv.bias,) if bias else ())
    for a, b in zip(torch.autograd.grad(y, params, g), torch.autograd.grad(ref, params, g),
                    strict=True):
        torch.testing.assert_close(a, b)


def test_inputs_as_users_hold_them() -> None:
    """float64 arrays, 0/1 masks and empty batches work; NaN in an absent channel is ignored."""
    model = QualityFM(tiny()).eval()
    x = np.random.default_rng(0).normal(size=(3, 2, 1000))  # float64, as numpy makes it
    mask = np.array([[1, 1], [1, 0], [0, 1]])
    ref = model.embed(torch.from_numpy(x).float(), torch.from_numpy(mask).bool())
    torch.testing.assert_close(model.embed(x, mask), ref)
    torch.testing.assert_close(model.embed(torch.from_numpy(x), torch.from_numpy(mask)), ref)
    assert model.embed(x[:0], mask[:0]).shape == (0, model.cfg.d_model)
    x[1, 1] = np.nan  # channel 1 of row 1 is absent
    x[2, 0, :10] = np.inf
    torch.testing.assert_close(model.embed(x, mask), ref)


def test_embed_names_a_channels_last_input_before_reading_its_values() -> None:
    model = QualityFM(tiny())
    x = np.zeros((2, 600, 2), np.float32)
    with pytest.raises(ValueError, match=r"input must be \[batch, 2, samples\], got shape "
                                         r"\(2, 600, 2\) \(channels last\?"):
        model.embed(x)
    with pytest.raises(ValueError, match=r"got shape \(2, 600\); one window is x\[None\]"):
        model.embed(x[0].T)  # one window without its batch axis, as embed_windows says


def test_embed_refuses_a_window_without_a_present_channel() -> None:
    """Such a row had been embedded from the absent-channel embeddings alone, as
    embed_windows and the task models refuse it."""
    model = QualityFM(tiny()).eval()
    x = np.random.default_rng(0).uniform(-1, 1, (3, 2, 1000)).astype(np.float32)
    with pytest.raises(ValueError, match=r"1 window\(s\) have no channel present \(mask all "
                                         r"False; rows 1\)"):
        model.embed(x, np.array([[1, 1], [0, 0], [1, 0]], bool))
    x[2] = 0.0
    with pytest.raises(ValueError, match=r"every channel flat, no mask given; rows 2\)"):
        model.embed(x)
    with torch.no_grad():
        assert model.embed(x[:2], np.array([[1, 1], [1, 0]], bool)).shape == (2, 32)


def test_an_integer_mask_reads_as_the_bool_one_and_others_are_refused() -> None:
    """A uint8 mask of ones had embedded every present channel as absent 254 times (~ of 1
    in uint8), cosine 0.23 to the bool mask's embedding, a deprecation warning aside."""
    from qualityfm.model.network import pool_encoder

    torch.manual_seed(0)
    cfg = QualityFMConfig(d_model=16, n_layers=1, n_heads=2, d_ff=16, stem_channels=(4, 8, 16),
                          n_bins=16, n_samples=600, dropout=0.0)
    model = QualityFM(cfg).eval()
    x = torch.rand(2, 2, 600) * 2 - 1
    mask = torch.tensor([[True, True], [False, True]])
    with torch.no_grad():
        want = pool_encoder(model.encoder, x, mask)
        for dtype in (torch.uint8, torch.int64, torch.float32):
            torch.testing.assert_close(pool_encoder(model.encoder, x, mask.to(dtype)), want)
        for bad in (mask.float() / 2, mask.to(torch.int64) * 2, mask.to(torch.complex64)):
            with pytest.raises(ValueError, match="mask must be bool"):
                pool_encoder(model.encoder, x, bad)



def test_empty_batches_windows_of_no_sample_and_unreal_inputs() -> None:
    """A batch of none had failed in the decoder's reshape, windows of 0 samples in the
    stem's "kernel size" error; complex windows had lost their imaginary part and bool ones
    been read as 0/1 signals."""
    import numpy as np

    torch.manual_seed(0)
    cfg = QualityFMConfig(d_model=16, n_layers=1, n_heads=2, d_ff=16, stem_channels=(4, 8, 16),
                          n_bins=16, n_samples=600)
    model = QualityFM(cfg).eval()
    out = model(np.zeros((0, 2, 600), np.float32))
    assert out["amp"].shape == out["phase"].shape == (0, 2, 16) and len(out["tokens"]) == 0
    with pytest.raises(ValueError, match=r"windows of 0 samples \(shape \(2, 2, 0\)\)"):
        model.embed(np.zeros((2, 2, 0), np.float32), np.ones((2, 2), bool))
    x = np.random.default_rng(0).uniform(-1, 1, (1, 2, 600))
    for bad, kind in ((x.astype(np.complex64), "complex64"), (x > 0, "bool")):
        with pytest.raises(ValueError, match=rf"input must hold real numbers .*{kind}"):
            model.embed(bad)


def test_array_like_inputs_other_than_arrays_and_tensors_are_read_or_named() -> None:
    """A pandas mask had been indexed by torch position by position (KeyError: 2), and an
    object array had failed in torch's conversion naming neither argument."""
    import pandas as pd

    model = QualityFM(tiny()).eval()
    x = np.random.default_rng(0).uniform(-1, 1, (3, 2, 1000)).astype(np.float32)
    mask = np.array([[True, True], [True, False], [False, True]])
    with torch.no_grad():
        want = model.embed(x, mask)
        assert torch.equal(model.embed(x, pd.DataFrame(mask)), want)
        assert torch.equal(model.encode(x, pd.DataFrame(mask)), model.encode(x, mask))
        with pytest.raises(ValueError, match="x must hold numbers, got dtype object"):
            model.embed(x.astype(object), mask)
        with pytest.raises(ValueError, match="mask must hold numbers, got dtype object"):
            model.embed(x, mask.astype(object))
