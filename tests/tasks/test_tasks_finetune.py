"""Finetuner and baselines on plain arrays and on real records, with a tiny model config."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest
import torch

from helpers import shared_path, stop_at
from qualityfm.data.features import robust_centre_scale
from qualityfm.io import MODEL_CHANNELS
from qualityfm.model import QualityFM, QualityFMConfig
from qualityfm.quality.features import window_features
from qualityfm.signal import normalize
from qualityfm.tasks import (
    ClassicalBaseline,
    Finetuner,
    ResNet1d,
    build_task_dataset,
    choose_threshold,
    cross_validate,
    group_split,
    load_estimator,
)
from qualityfm.tasks import metrics as M

TINY = QualityFMConfig(d_model=16, n_layers=1, n_heads=2, d_ff=16, stem_channels=(4, 8, 16),
                       n_bins=16, n_samples=600, dropout=0.0)


def synthetic(n: int = 80, t: int = 600, seed: int = 0):
    """Class 1 carries a 5 Hz tone on the ECG channel; groups of two rows."""
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2)
    time = np.arange(t) / 300.0
    x = rng.normal(0, 0.3, (n, 2, t)).astype(np.float32)
    x[y == 1, 1] += np.sin(2 * np.pi * 5 * time).astype(np.float32)
    x = normalize(x)  # the model reads each channel of each window scaled to [-1, 1]
    groups = np.repeat(np.arange(n // 2), 2)
    return x, y, groups


def test_a_fit_on_the_cpu_leaves_every_gpu_generator_alone(monkeypatch) -> None:
    """A CPU fit seeds the CPU's generator only (torch.manual_seed, which it had called, also
    reseeds every GPU's: on a CUDA machine a CPU fit had reset the caller's GPU randomness);
    the seed still governs the fit."""
    x, y, g = synthetic(40)
    calls: list[int] = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda seed: calls.append(seed))
    monkeypatch.setattr(torch.cuda, "manual_seed", lambda seed: calls.append(seed))

    def fitted(seed: int) -> np.ndarray:
        ft = Finetuner("vt-alarm", init="none", config=TINY, epochs=1, batch_size=16,
                       seed=seed, device="cpu")
        return ft.fit(x, y, groups=g).predict_proba(x)

    first = fitted(5)
    assert calls == []
    np.testing.assert_array_equal(fitted(5), first)
    assert not np.array_equal(fitted(6), first)


def test_a_cpu_fit_resuming_a_gpu_runs_epochs_leaves_the_gpu_generator_alone(
        tmp_path, monkeypatch) -> None:
    """A fit stopped on a GPU (its checkpoint holding the GPU's generator state) resumed on
    the CPU had set the caller's GPU generator (torch.cuda.set_rng_state on the CPU device)."""
    x, y, g = synthetic(40, seed=4)
    kw = {"init": "none", "config": TINY, "mode": "full", "epochs": 4, "patience": 10,
          "seed": 0, "use_features": False, "device": "cpu"}
    ckpt = tmp_path / "epochs.pt"
    save = Finetuner._save_epochs
    monkeypatch.setattr(Finetuner, "_save_epochs", stop_at(save, 2))
    with pytest.raises(KeyboardInterrupt):
        Finetuner("vt-alarm", checkpoint=ckpt, **kw).fit(x, y, groups=g)
    monkeypatch.setattr(Finetuner, "_save_epochs", save)
    saved = torch.load(ckpt, weights_only=False)
    saved["cuda_rng"] = torch.zeros(16, dtype=torch.uint8)  # as a GPU's fit saves it
    torch.save(saved, ckpt)
    calls: list[object] = []
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda *a: calls.append(a))
    Finetuner("vt-alarm", checkpoint=ckpt, **kw).fit(x, y, groups=g)
    assert calls == [] and not ckpt.exists()


def test_plain_array_api_learns_and_round_trips(tmp_path, capsys) -> None:
    x, y, g = synthetic()
    tr, te = group_split(y, g, 0.25, seed=0)
    ft = Finetuner("vt-alarm", init="none", config=TINY, epochs=8, lr=3e-3, head_lr=3e-3,
                   patience=3, batch_size=16, seed=0)
    ft.fit(x[tr], y[tr], groups=g[tr])
    p = ft.predict_proba(x[te])
    assert p.shape == (len(te),) and ((p >= 0) & (p <= 1)).all()
    assert M.auroc(y[te], p) > 0.9
    assert set(ft.predict(x[te])) <= {0, 1}
    back = Finetuner.load(ft.save(tmp_path / "run"))
    np.testing.assert_allclose(back.predict_proba(x[te]), p, atol=1e-5)
    assert back.threshold == ft.threshold
    # a NaN probability is no decision (compared with the threshold it read as "suppress")
    with pytest.raises(ValueError, match="proba is NaN in rows 1"):
        ft.decide(np.array([0.2, np.nan, 0.9]))
    assert ft.decide(np.zeros(0)).shape == (0,)  # no rows, no decisions
    # fitting is seeded on a fork: the caller's torch randomness goes on as without it
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    Finetuner("vt-alarm", init="none", config=TINY, epochs=1, batch_size=16,
              seed=5).fit(x[tr], y[tr], groups=g[tr])
    assert torch.equal(torch.rand(3), expected)
    assert "epoch" not in capsys.readouterr().err  # quiet unless asked
    Finetuner("vt-alarm", init="none", config=TINY, epochs=2, batch_size=16, seed=5,
              verbose=True).fit(x[tr], y[tr], groups=g[tr])
    err = capsys.readouterr().err
    assert "qualityfm: epoch 1/2: training loss " in err and "(best)" in err
    assert "epoch 2/2" in err


@pytest.mark.parametrize("seed", [-1, 1.5, "0", 2**32])
def test_bad_seeds_are_refused_when_the_estimator_is_made(seed: object) -> None:
    """2**32 had passed, then failed in scikit-learn (random_state < 2**32) or torch."""
    for make in (Finetuner, ClassicalBaseline):
        with pytest.raises(ValueError, match=r"seed must be an int in \[0, 2\*\*31 - 1\]"):
            make("vt-alarm", seed=seed)


def test_operating_point_survives_a_refit() -> None:
    x, y, g = synthetic(seed=1)
    x[:, 1] += np.random.default_rng(5).normal(0, 1.0, x[:, 1].shape).astype(np.float32)
    x /= np.abs(x).max()
    tr, te = group_split(y, g, 0.3, seed=2)

    def fit() -> Finetuner:
        return Finetuner("vt-alarm", init="none", config=TINY, epochs=4, lr=3e-3, head_lr=3e-3,
                         batch_size=16, seed=7).fit(x[tr], y[tr], groups=g[tr])

    a, b = fit(), fit()
    assert a.threshold == pytest.approx(b.threshold, abs=1e-6)
    assert M.tpr(y[te], a.predict(x[te])) == pytest.approx(M.tpr(y[te], b.predict(x[te])))


def test_threshold_rule_keeps_target_tpr_and_suppresses_most() -> None:
    """The tpr rule takes the j-th lowest validation positive, j = floor((n + 1)(1 - target)):
    the lowest of 20 (the empirical 5 % quantile would be the second lowest), the second
    lowest of 40; with under 3 positives, the lowest."""
    y = np.array([1] * 20 + [0] * 5)
    p = np.r_[np.linspace(0.3, 1.0, 20), [0.1, 0.2, 0.4, 0.5, 0.6]]
    thr = choose_threshold(y, p, "tpr", 0.95)  # just under the row (1e-4 at most)
    assert 0.3 - 1e-4 <= thr < 0.3 and M.tpr(y, (p >= thr).astype(int)) == 1.0
    y40 = np.array([1] * 40 + [0] * 5)
    p40 = np.r_[np.linspace(0.3, 1.0, 40), [0.1, 0.2, 0.4, 0.5, 0.6]]
    assert choose_threshold(y40, p40, "tpr", 0.95) == pytest.approx(np.sort(p40[:40])[1] - 1e-4)
    with pytest.warns(RuntimeWarning, match=r"only 2 validation positive\(s\) to set the "
                                            r"threshold.*about 2/3 of them"):  # had been silent
        assert choose_threshold(y[[0, 1, 20]], p[[0, 1, 20]], "tpr") == pytest.approx(
            p[0] - 1e-4)
    # the positives the order statistic needs follow the target (19 had been said at 0.9)
    with pytest.warns(RuntimeWarning, match=r"19 for the order statistic at 0\.95\)"):
        choose_threshold(y[[0, 1, 20]], p[[0, 1, 20]], "tpr", 0.95)
    with pytest.warns(RuntimeWarning, match=r"9 for the order statistic at 0\.9\)"):
        choose_threshold(y[[0, 1, 20]], p[[0, 1, 20]], "tpr", 0.9)
    with pytest.warns(RuntimeWarning, match=r"\(2 at least: the order statistic at 0\.6\)"):
        choose_threshold(np.array([0, 1]), np.array([0.2, 0.8]), "tpr", 0.6)


def test_a_threshold_at_a_validation_row_sits_just_under_it() -> None:
    """The threshold had been the probability of the row that set it, whose decision then
    flipped on 1e-7 of float noise (another batch size, ONNX against PyTorch): it sits under
    that row, half way to the next lower one or 1e-4 below, every validation decision kept."""
    y = np.array([1] * 20 + [0] * 5)
    p = np.r_[np.linspace(0.3, 1.0, 20), [0.1, 0.2, 0.29999, 0.5, 0.6]]
    for rule in ("tpr", "f1"):
        thr = choose_threshold(y, p, rule)
        row = p[np.argmin(np.abs(p - thr))]
        assert row - 1e-4 <= thr < row and not (p == thr).any()
        assert ((p >= thr) == (p >= row)).all()
        assert (p - 1e-7 >= thr)[p >= row].all()  # the noise no longer flips it
    assert 0.3 - 1e-4 < choose_threshold(y, p, "tpr") == pytest.approx((0.3 + 0.29999) / 2)
    assert choose_threshold(y, p, "fixed") == 0.5


def test_tpr_threshold_keeps_the_target_on_new_positives() -> None:
    """With few validation positives (9, 12) the threshold is a normal prediction bound below
    the lowest one; over many draws it keeps about 95 % of new positives, where the lowest
    positive keeps n / (n + 1) (0.90 of 9); with 60 positives the order statistic keeps >= 95 %."""
    rng = np.random.default_rng(0)
    for n in (9, 12, 60):
        kept, kept_lowest = [], []
        for _ in range(400):
            val = 1 / (1 + np.exp(-rng.normal(1.0, 1.5, n)))
            new = 1 / (1 + np.exp(-rng.normal(1.0, 1.5, 2000)))
            thr = choose_threshold(np.ones(n, int), val, "tpr", 0.95)
            assert n >= 19 or thr <= val.min() + 1e-12
            kept.append(np.mean(new >= thr))
            kept_lowest.append(np.mean(new >= val.min()))
        if n < 19:
            assert 0.935 < np.mean(kept) < 0.965
            assert np.mean(kept_lowest) < 0.935
        else:
            assert np.mean(kept) >= 0.945


def test_tpr_threshold_order_statistic_and_bound_by_hand() -> None:
    """The loop above asserts nothing exact for n >= 19, and no case told (n + 1)(1 - target)
    from n (1 - target) (20 and 40 positives give the same j both ways) nor pinned the
    prediction bound's sqrt(1 + 1/n): positives at k / (n + 1), so j = floor((n + 1) 0.05) is
    1, 2, 3 for 19, 39, 59 (n 0.05 would give 0, 1, 2); three positives at logits -1, 0, 1
    (mean 0, SD 1) give expit(-t(0.95, 2 dof) sqrt(4/3)) = expit(-2.919986 * 1.154701)."""
    for n, j in ((19, 1), (39, 2), (59, 3)):
        pos = np.arange(1, n + 1) / (n + 1)
        thr = choose_threshold(np.ones(n, int), pos, "tpr", 0.95)
        assert thr == pytest.approx(j / (n + 1) - 1e-4, abs=1e-12), n  # under its row
    three = 1 / (1 + np.exp(-np.array([-1.0, 0.0, 1.0])))
    thr = choose_threshold(np.r_[np.ones(3, int), 0], np.r_[three, 0.01], "tpr", 0.95)
    assert thr == pytest.approx(1 / (1 + np.exp(3.3717089)), rel=1e-6)  # 0.0331914
    assert thr < 1 / (1 + np.exp(2.9199856))  # the bound without sqrt(1 + 1/n): 0.0512


def test_f1_threshold_by_hand() -> None:
    """The f1 rule had been checked only to sit under some row: scores 0.1 .. 0.8, labels
    0 0 1 0 1 1 1 (4 positives); at t (positive when p >= t) F1 = 2 TP / (predicted + 4) is
    8/11, 8/10, 8/9, 6/8, 6/7, 4/6, 2/5 for t = 0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8: the best is
    0.3, moved 1e-4 under its row (most TP alone would take 0.1; p > t would take 0.2)."""
    y = np.array([0, 0, 1, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8])
    assert choose_threshold(y, p, "f1") == pytest.approx(0.3 - 1e-4, abs=1e-12)
    assert M.f1(y, (p >= 0.3 - 1e-4).astype(int)) == pytest.approx(8 / 9)


def test_linear_mode_with_features_and_resnet_and_regression() -> None:
    x, y, g = synthetic(60)
    feats = np.c_[y + np.random.default_rng(0).normal(0, 0.5, len(y)), np.full(len(y), np.nan)]
    lin = Finetuner("vt-alarm", init="none", config=TINY, mode="linear", use_features=True,
                    epochs=3, seed=0).fit(x, y, groups=g, features=feats)
    first = next(lin.net.backbone.parameters())
    enc = first.detach().clone()
    assert lin.predict_proba(x, features=feats).shape == (60,)
    assert (first == enc).all()  # linear probe: the encoder is frozen
    res = Finetuner("vt-alarm", init=ResNet1d(width=4, blocks=2), epochs=2, seed=0)
    assert res.fit(x, y, groups=g).predict(x).shape == (60,)
    bp = np.c_[100 + 20 * y, 60 + 10 * y].astype(np.float32)
    reg = Finetuner("abp", init="none", config=TINY, epochs=2, seed=0).fit(x, bp, groups=g)
    assert reg.predict(x).shape == (60, 2)
    with pytest.raises(ValueError, match="predict_proba"):
        reg.predict_proba(x)


def test_feature_scaling_is_robust_to_one_outlier() -> None:
    rng = np.random.default_rng(0)
    col = rng.normal(10.0, 2.0, 200)
    f = np.c_[col, np.r_[col[:-1], 1e6], np.zeros(200), np.full(200, np.nan)]
    center, scale = robust_centre_scale(f)
    # one wild value moves neither the centre nor the scale of its column much
    assert abs(center[1] - center[0]) < 0.1 and abs(scale[1] / scale[0] - 1) < 0.05
    assert scale[0] == pytest.approx(2.0, rel=0.15)  # IQR / 1.349 is the SD of a normal column
    assert center[2] == 0 and scale[2] == 0  # constant column: the SD fallback
    assert np.isnan(center[3]) and np.isnan(scale[3])  # no finite value


def test_head_features_far_outside_the_training_range_stay_bounded(tmp_path) -> None:
    """A test row whose feature sits 1e6 scales from the training centre moves a regression
    head's output by no more than a value at the bound does (the tanh squashing), also after
    a save / load round trip."""
    x, y, g = synthetic(40)
    rng = np.random.default_rng(1)
    feats = np.c_[y + rng.normal(0, 0.3, len(y)), rng.normal(0, 1, len(y))].astype(np.float32)
    bp = np.c_[100 + 20 * y, 60 + 10 * y].astype(np.float32)
    reg = Finetuner("abp", init="none", config=TINY, mode="linear", use_features=True,
                    epochs=3, seed=0).fit(x, bp, groups=g, features=feats)
    center, scale = reg.feat_center, reg.feat_scale
    at_bound, wild = feats[:4].copy(), feats[:4].copy()
    at_bound[:, 1] = center[1] + 50 * scale[1]  # tanh(10) * 5: the bound itself
    wild[:, 1] = center[1] + 1e6 * scale[1]
    a, b = reg.predict(x[:4], features=at_bound), reg.predict(x[:4], features=wild)
    assert np.isfinite(b).all()
    np.testing.assert_allclose(a, b, atol=1e-3)
    with pytest.raises(ValueError, match="features hold 1 columns; the model was fitted on"):
        reg.predict(x[:4], features=feats[:4, :1])  # was a broadcasting error
    back = Finetuner.load(reg.save(tmp_path / "run"))
    assert back.feature_bound == reg.feature_bound
    # loads as it was: the target scaling stays float32, so the outputs are the same bits
    np.testing.assert_array_equal(back.predict(x[:4], features=wild), b)
    assert back.predict(x[:4], features=wild).dtype == b.dtype == np.float32
    assert back.train_mean.dtype == reg.train_mean.dtype == np.float32
    # a file saved before robust scaling (mean / SD keys, no bound) loads unbounded
    meta_file = tmp_path / "run" / "finetune.json"
    meta = json.loads(meta_file.read_text())
    meta["feat_mean"], meta["feat_std"] = meta.pop("feat_center"), meta.pop("feat_scale")
    del meta["feature_bound"]
    meta_file.write_text(json.dumps(meta))
    old = Finetuner.load(tmp_path / "run")
    assert old.feature_bound is None
    np.testing.assert_allclose(old.feat_center, center)
    assert not np.allclose(old.predict(x[:4], features=wild), b, atol=1.0)


def test_head_features_come_from_the_windows_when_not_given() -> None:
    """Plain arrays: with ``use_features=True`` and no features array, the classical features
    of the windows at ``fs`` are computed, in fit and in predict, as if they had been given."""
    x, y, g = synthetic(24)
    x[:, 1] += np.sin(2 * np.pi * 1.2 * np.arange(x.shape[2]) / 300.0).astype(np.float32)
    x = normalize(x)
    kw = {"init": "none", "config": TINY, "mode": "linear", "use_features": True, "epochs": 2,
          "seed": 0}
    with warnings.catch_warnings():  # features computed inside fit warn about nothing
        warnings.simplefilter("error")
        auto = Finetuner("vt-alarm", **kw).fit(x, y, groups=g)
        auto.predict_proba(x)
    f = window_features(x, None, 300.0)
    assert np.isfinite(f).any(axis=0).sum() > 10  # the computed columns carry values
    given = Finetuner("vt-alarm", **kw).fit(x, y, groups=g, features=f)
    np.testing.assert_allclose(auto.predict_proba(x), given.predict_proba(x, features=f),
                               atol=1e-6)
    np.testing.assert_allclose(auto.feat_center, given.feat_center)


def test_resnet_baseline_keeps_its_layer_names_and_batch_norm() -> None:
    """The ResNet baseline builds its blocks from the model's ``ResidualBlock`` with batch
    norm; its parameter names stay those saved fine-tuned runs hold."""
    import torch

    net = ResNet1d(width=4, blocks=2)
    keys = set(net.state_dict())
    assert {"net.0.weight", "net.3.body.0.weight", "net.3.body.1.running_mean",
            "net.4.skip.0.weight", "net.4.skip.1.weight"} <= keys
    assert isinstance(net.net[3].body[1], torch.nn.BatchNorm1d)
    assert net(torch.randn(3, 2, 640), None).shape == (3, net.dim)


def test_linear_probe_runs_the_frozen_encoder_once_per_row() -> None:
    """Linear mode embeds every row once and trains the head on those embeddings; its
    predictions are the whole network's (head on the encoder's output)."""
    import torch

    x, y, g = synthetic(40)
    rows: list[int] = []
    lin = Finetuner("vt-alarm", init="none", config=TINY, mode="linear", epochs=4, patience=9,
                    solver="adamw", seed=0, use_features=False)
    orig = Finetuner._embeddings

    def counting(self, X, mask, shifts=1):  # noqa: ANN001, ANN202 - counts later encoder calls
        self.net.backbone.register_forward_hook(lambda m, a, o: rows.append(len(o)))
        return orig(self, X, mask, shifts)

    Finetuner._embeddings = counting
    try:
        lin.fit(x, y, groups=g)
    finally:
        Finetuner._embeddings = orig
    # one pass over all rows, then the validation rows once more for calibration; running the
    # encoder every epoch would take at least 4 x the training rows
    assert len(lin.history) == 4 and len(x) < sum(rows) < 2 * len(x)
    with torch.no_grad():
        xt = torch.as_tensor(x)
        expect = lin.net.head_forward(lin.net.backbone(xt, None))[:, 0].numpy()
    np.testing.assert_allclose(lin._raw(x, None, None), expect, rtol=1e-5, atol=1e-5)


def test_mean_last_pooling_reads_the_right_edge_and_round_trips(tmp_path) -> None:
    """``pool="mean+last"`` puts the last token beside the mean (vt-alarm's default adds the
    stem's maps); the setting is saved, and a file saved before it existed loads as mean
    pooling."""
    import torch

    from qualityfm.model import QualityFM, pooled_dim
    from qualityfm.tasks.finetune import QualityFMBackbone

    x, y, g = synthetic(40)
    model = QualityFM(TINY).eval()
    both = QualityFMBackbone(model, "mean+last")
    with torch.no_grad():
        tokens = model.encoder(torch.as_tensor(x[:3]), None)
        h = both(torch.as_tensor(x[:3]), None)
    assert both.dim == 2 * TINY.d_model == h.shape[1]
    torch.testing.assert_close(h, torch.cat([tokens.mean(1), tokens[:, -1]], 1))
    assert Finetuner("vt-alarm").pool == "mean+last+stem" and Finetuner("af").pool == "mean"
    with pytest.raises(ValueError, match="'max'"):
        Finetuner("af", pool="max")

    for pool in ("mean+last", "mean+last+stem"):
        vt = Finetuner("vt-alarm", init="none", config=TINY, mode="linear", epochs=2, seed=0,
                       pool=pool, use_features=False)
        vt.fit(x, y, groups=g)
        back = Finetuner.load(vt.save(tmp_path / pool))
        assert back.pool == back.net.backbone.pool == pool
        assert back.net.backbone.dim == pooled_dim(model.encoder, pool)
        np.testing.assert_allclose(back.predict_proba(x), vt.predict_proba(x), atol=1e-5)
    old = Finetuner("vt-alarm", init="none", config=TINY, mode="linear", pool="mean", epochs=2,
                    use_features=False,
                    seed=0).fit(x, y, groups=g)
    meta_file = old.save(tmp_path / "old") / "finetune.json"
    meta = json.loads(meta_file.read_text())
    del meta["pool"]
    meta_file.write_text(json.dumps(meta))
    back = Finetuner.load(tmp_path / "old")
    assert back.net.backbone.pool == "mean"
    np.testing.assert_allclose(back.predict_proba(x), old.predict_proba(x), atol=1e-5)


def test_default_mode_is_linear_only_for_pretrained_clinical_tasks(tmp_path) -> None:
    """The clinical tasks from pre-trained weights (shipped or a directory) fit a linear
    head by lbfgs by default; an untrained network and any module train every weight, as do
    the generic tasks. The clinical tasks' networks read the classical features by default,
    the generic ones do not."""
    for task in ("vt-alarm", "abp", "af", "af4"):
        assert Finetuner(task).mode == "linear" and Finetuner(task).solver == "lbfgs"
        assert Finetuner(task, init=tmp_path).mode == "linear"
        assert Finetuner(task, init="none").mode == "full"
        assert Finetuner(task, init=ResNet1d()).mode == "full"
        assert Finetuner(task).use_features and Finetuner(task, init="none").use_features
        assert not Finetuner(task, use_features=False).use_features
    assert Finetuner("binary").mode == "full" and not Finetuner("binary").use_features
    assert Finetuner("vt-alarm", mode="full").mode == "full"


def test_pretrained_without_shipped_weights_is_a_clear_error(monkeypatch, tmp_path) -> None:
    import qualityfm.tasks.finetune as F
    import qualityfm.train.export as E

    monkeypatch.setattr(E, "weights_dir", lambda: tmp_path)
    with pytest.raises(FileNotFoundError, match="no pretrained weights"):
        F.load_backbone("pretrained")


def test_fold_key_follows_the_shipped_weights_content(monkeypatch, tmp_path) -> None:
    """A stopped k-fold run on "pretrained" resumes only on the same shipped files: an
    upgrade that changes them (same names) gives another key, a reinstall of the same
    bytes (new times) the same key."""
    import shutil

    import qualityfm.train.export as E
    from qualityfm.tasks.evaluate import files_stamp

    shipped = E.weights_dir()
    monkeypatch.setattr(E, "weights_dir", lambda: tmp_path)
    for name in ("base.safetensors", "base.json"):
        shutil.copyfile(shipped / name, tmp_path / name)
    before = files_stamp("pretrained")
    assert [n for n, _ in before] == ["base.safetensors", "base.json"]
    shutil.copyfile(shipped / "base.json", tmp_path / "base.json")  # same bytes, new time
    assert files_stamp("pretrained:base") == before
    data = bytearray((tmp_path / "base.safetensors").read_bytes())
    data[-1] ^= 1
    (tmp_path / "base.safetensors").write_bytes(bytes(data))
    assert files_stamp("pretrained") != before
    assert files_stamp("none") is None and files_stamp("classical") is None


def test_short_finetune_and_classical_cv_on_real_vt_records() -> None:
    ds = build_task_dataset("vt-alarm", shared_path("physionet2015_vt"), max_records=24)
    assert ds.y.sum() >= 3  # both classes present
    cfg = QualityFMConfig(**{**TINY.to_dict(), "n_samples": 3000})
    res = cross_validate(lambda: Finetuner("vt-alarm", init="none", config=cfg, epochs=2,
                                           seed=0), ds, k=3, n_boot=50)
    assert 0.0 <= res["auroc"] <= 1.0 and len(res["folds"]) == 3
    assert {"tpr", "tnr", "ppv", "f1", "accuracy", "score", "auroc_ci"} <= set(res)
    aucs = [f["auroc"] for f in res["folds"]]  # the folds' sample SD (ddof 1)
    assert res["fold_auroc_sd"] == pytest.approx(np.std(aucs, ddof=1))
    cls = cross_validate(lambda: ClassicalBaseline("vt-alarm", max_iter=30), ds, k=3, n_boot=50)
    assert np.isfinite(cls["auroc"])
    # plain arrays without stored features: the baseline computes them from the windows
    base = ClassicalBaseline("vt-alarm", max_iter=20).fit(ds.X, ds.y, ds.mask, ds.groups)
    assert base.predict_proba(ds.X[:3], ds.mask[:3]).shape == (3,)


def test_calibration_keeps_the_ranking_of_uninformative_scores() -> None:
    from qualityfm.tasks import Calibrator

    z = np.array([0.3, -0.2, 0.1, 0.5, -0.4, 0.0])
    y = np.array([0, 1, 1, 0, 0, 1])  # anti-correlated: unbounded NLL fit would squash to 0.5
    cal = Calibrator("platt").fit(z, y)
    p = cal(z)
    assert len(np.unique(p)) == len(z) and cal.a >= np.exp(-4.0) - 1e-12
    t = Calibrator("temperature").fit(np.c_[z, -z], y)
    assert t(np.c_[z, -z]).shape == (6, 2)


def test_platt_on_few_separable_rows_gives_no_certainty() -> None:
    """Twelve rows of each class that separate: Platt's smoothed targets keep the calibrated
    probabilities off 0 and 1 (plain 0/1 targets gave 1e-232 and 1.0), in the same order."""
    from qualityfm.tasks import Calibrator

    rng = np.random.default_rng(0)
    z = np.r_[rng.normal(-3, 1, 12), rng.normal(3, 1, 12)]
    y = np.r_[np.zeros(12), np.ones(12)]
    p = Calibrator("platt").fit(z, y)(z)
    assert 0.01 < p.min() and p.max() < 0.99
    np.testing.assert_array_equal(np.argsort(p), np.argsort(z))


def test_calibration_finds_the_same_optimum_wherever_the_logits_sit() -> None:
    """Platt's fit is the log-loss minimum of ``a * z + b``: logits shifted by a constant get
    the same probabilities, at the least NLL of a grid (a simplex search from 0 had stopped
    at the scale's lower bound for logits near 2: every probability 0.257-0.260)."""
    from scipy.special import log_softmax

    from qualityfm.tasks import Calibrator

    z = np.array([1.54, 1.68, 1.76, 1.82, 1.87, 1.91, 1.96, 2.0, 2.04, 2.09, 2.13, 2.18, 2.24,
                  2.32, 2.46, 1.93, 2.12, 2.25, 2.38, 2.57])
    y = np.r_[np.zeros(15), np.ones(5)].astype(int)
    near = Calibrator("platt").fit(z, y)
    for shift in (-2.0, 8.0, 100.0):  # the bias goes where the shift takes it, past +-20 too
        far = Calibrator("platt").fit(z + shift, y)
        np.testing.assert_allclose(near(z), far(z + shift), atol=1e-6)
    assert near(z).max() - near(z).min() > 0.3
    t = (5 + 1) / (5 + 2), 1 / (15 + 2)  # Platt's targets for 5 positives, 15 negatives
    target = np.where(y == 1, *t)

    def nll(a, b):
        s = np.multiply.outer(a, z) + b[..., None]
        return np.mean(np.logaddexp(0, s) - target * s, axis=-1)
    a, b = np.meshgrid(np.linspace(0.02, 10, 400), np.linspace(-25, 5, 400))
    assert nll(np.array(near.a), np.array(near.b)) <= nll(a, b).min() + 1e-6
    # the multiclass temperature is the minimum of its own convex NLL
    rng = np.random.default_rng(0)
    zz, yy = rng.normal(size=(60, 4)) * 3, rng.integers(0, 4, 60)
    zz[np.arange(60), yy] += 2
    temp = Calibrator().fit(zz, yy)
    grid = np.linspace(0.02, 50, 5000)
    losses = [-log_softmax(zz * g, axis=1)[np.arange(60), yy].mean() for g in grid]
    assert abs(temp.a - grid[int(np.argmin(losses))]) < 0.02


def test_probabilities_of_a_class_weighted_model_match_the_positive_rate() -> None:
    """Class weighting shifts a binary model's raw scores toward the rare class; the default
    Platt calibration undoes the shift (a temperature alone cannot), leaving the ranking and
    the tpr threshold's decisions as they were."""
    from qualityfm.tasks import Calibrator

    rng = np.random.default_rng(0)
    z = rng.normal(size=4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-(2 * z - 1.5)))).astype(int)  # about 30 % positive
    shifted = 2 * z - 1.5 + np.log((1 - y.mean()) / y.mean())  # as balanced weights give
    platt, temp = Calibrator("platt").fit(shifted, y), Calibrator("temperature").fit(shifted, y)
    assert abs(platt(shifted).mean() - y.mean()) < 0.01 < abs(temp(shifted).mean() - y.mean())
    assert Finetuner("vt-alarm").calibration == "platt"
    for cal in (platt, temp):  # monotone: the same rows pass the tpr rule's threshold
        p = cal(shifted)
        np.testing.assert_array_equal(p >= choose_threshold(y, p, "tpr", 0.95),
                                      shifted >= np.sort(shifted[y == 1])[
                                          int(np.floor((y.sum() + 1) * 0.05 + 1e-9)) - 1])


def test_init_from_an_exported_model_directory(tmp_path) -> None:
    """A model folder in the export format (model.safetensors + config.json) starts the encoder
    from its weights, and linear probing leaves them untouched."""
    import json

    import torch
    from safetensors.torch import save_file

    from qualityfm.model import QualityFM
    from qualityfm.train.export import CONFIG_NAME, FORMAT, WEIGHTS_NAME

    torch.manual_seed(3)
    model = QualityFM(TINY)
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(tmp_path / WEIGHTS_NAME),
              metadata={"format": FORMAT, "config": json.dumps(TINY.to_dict())})
    (tmp_path / CONFIG_NAME).write_text(json.dumps({"format": FORMAT, "model": TINY.to_dict()}))
    x, y, g = synthetic(40)
    ft = Finetuner("vt-alarm", init=str(tmp_path), mode="linear", epochs=1, seed=0)
    ft.fit(x, y, groups=g)
    got = ft.net.backbone.encoder.state_dict()
    for k, v in model.encoder.state_dict().items():
        assert torch.equal(got[k], v), k


def test_an_encoder_pre_trained_at_another_rate_reads_task_data_at_that_rate(
        tmp_path, monkeypatch, capsys) -> None:
    """A model folder whose config says fs=250 tells finetune to build its task windows at
    250 Hz (``encoder_fs``); a Finetuner given 300-Hz windows for it refuses, naming both
    rates, instead of feeding it windows of another time scale; at 250 Hz it fits."""
    import dataclasses
    import json

    from safetensors.torch import save_file

    from qualityfm.model import QualityFM
    from qualityfm.tasks.finetune import encoder_fs
    from qualityfm.train.export import CONFIG_NAME, FORMAT, WEIGHTS_NAME

    cfg = dataclasses.replace(TINY, fs=250.0, n_samples=500)
    save_file({k: v.contiguous() for k, v in QualityFM(cfg).state_dict().items()},
              str(tmp_path / WEIGHTS_NAME),
              metadata={"format": FORMAT, "config": json.dumps(cfg.to_dict())})
    (tmp_path / CONFIG_NAME).write_text(json.dumps({"format": FORMAT, "model": cfg.to_dict()}))
    assert encoder_fs(str(tmp_path)) == 250.0 and encoder_fs("pretrained") == 300.0
    assert encoder_fs("classical") is None and encoder_fs("none", TINY) == 300.0
    x, y, g = synthetic(40, t=500)
    with pytest.raises(ValueError, match=r"pre-trained on windows at 250 Hz, and fs, the rate "
                                         r"X is read at, is 300 Hz \(300 unless given\): pass "
                                         r"fs=250"):  # (it had said X was at 300 Hz)
        Finetuner("vt-alarm", init=str(tmp_path), mode="linear", seed=0).fit(x, y, groups=g)
    ft = Finetuner("vt-alarm", init=str(tmp_path), mode="linear", seed=0, fs=250.0)
    assert ft.fit(x, y, groups=g).predict_proba(x).shape == (40,)
    assert ft.net.training is False  # a fitted model is left for inference (no dropout)
    from qualityfm.tasks import compare_run

    with pytest.raises(ValueError, match=rf"different rates \(x={tmp_path}: 250 Hz, scratch: "
                                         r"300 Hz\): compare models of one rate"):
        compare_run("vt-alarm", tmp_path / "data", tmp_path / "cmp", models=(f"x={tmp_path}",),
                    baselines=("scratch",), modes=("linear",), config=TINY)
    # the default row of the shipped weights (300 Hz) is left out, said, beside rows at
    # another rate (it had made every such comparison fail)
    from qualityfm.tasks.pipeline import BASELINES, _compare_rate

    class Seen(Exception):
        pass

    def stop(*args, **kwargs):
        raise Seen

    monkeypatch.setattr("qualityfm.tasks.pipeline._dataset", stop)
    with pytest.raises(Seen):
        compare_run("vt-alarm", tmp_path / "data", tmp_path / "cmp", models=(f"x={tmp_path}",),
                    baselines=("classical", "pretrained"), modes=("linear",))
    assert "(finetune's default)\" reads windows at 300 Hz, the other rows at 250 Hz: " \
        "left out" in capsys.readouterr().err
    assert _compare_rate((), BASELINES, TINY) == 300.0


def test_a_network_fit_stopped_part_way_resumes_from_its_last_epoch(tmp_path,
                                                                     monkeypatch) -> None:
    """A full fine-tune with a checkpoint, stopped (Ctrl-C) after its third epoch, fitted
    again on the same rows: it resumes after that epoch and ends as an unstopped fit does;
    the file is gone after the fit; other rows start over."""
    x, y, g = synthetic(40, seed=4)
    kw = {"init": "none", "config": TINY, "mode": "full", "epochs": 6, "patience": 10,
          "seed": 0, "use_features": False}
    whole = Finetuner("vt-alarm", **kw).fit(x, y, groups=g)
    ckpt = tmp_path / "epochs.pt"
    save = Finetuner._save_epochs
    stopping = stop_at(save, 3)
    monkeypatch.setattr(Finetuner, "_save_epochs", stopping)
    with pytest.raises(KeyboardInterrupt):
        Finetuner("vt-alarm", checkpoint=ckpt, **kw).fit(x, y, groups=g)
    assert ckpt.is_file()
    monkeypatch.setattr(Finetuner, "_save_epochs", save)
    resumed = Finetuner("vt-alarm", checkpoint=ckpt, **kw)
    resumed.fit(x, y, groups=g)
    assert not ckpt.exists() and stopping.calls[0] == 3
    assert resumed.history == whole.history and len(whole.history) == 6
    np.testing.assert_allclose(resumed.predict_proba(x), whole.predict_proba(x), atol=1e-6)
    # a checkpoint of other rows is not resumed: that fit starts at its first epoch
    monkeypatch.setattr(Finetuner, "_save_epochs", stop_at(save, 3))
    with pytest.raises(KeyboardInterrupt):
        Finetuner("vt-alarm", checkpoint=ckpt, **kw).fit(x, y, groups=g)
    monkeypatch.setattr(Finetuner, "_save_epochs", save)
    other = Finetuner("vt-alarm", checkpoint=ckpt, **kw).fit(x[:30], y[:30], groups=g[:30])
    fresh = Finetuner("vt-alarm", **kw).fit(x[:30], y[:30], groups=g[:30])
    assert other.history == fresh.history and not ckpt.exists()
    # nor one of another encoder of the same class (or a folder exported again): it had
    # resumed the first encoder's epochs and returned its model
    enc = {}
    for s in (1, 2):
        torch.manual_seed(s)
        enc[s] = QualityFM(TINY)
    mod = {k: v for k, v in kw.items() if k not in ("init", "config")}
    monkeypatch.setattr(Finetuner, "_save_epochs", stop_at(save, 2))
    with pytest.raises(KeyboardInterrupt):
        Finetuner("vt-alarm", init=enc[1], checkpoint=ckpt, **mod).fit(x, y, groups=g)
    monkeypatch.setattr(Finetuner, "_save_epochs", save)
    second = Finetuner("vt-alarm", init=enc[2], checkpoint=ckpt, **mod).fit(x, y, groups=g)
    alone = Finetuner("vt-alarm", init=enc[2], **mod).fit(x, y, groups=g)
    np.testing.assert_allclose(second.predict_proba(x), alone.predict_proba(x), atol=1e-6)


def test_a_kept_checkpoint_of_a_finished_fit_gives_the_model_again(tmp_path,
                                                                     monkeypatch) -> None:
    """keep_checkpoint: af's run fits its rhythm model after the binary one, and a stop during
    the second had fitted the first from its first epoch again."""
    x, y, g = synthetic(40, seed=4)
    kw = {"init": "none", "config": TINY, "mode": "full", "epochs": 3, "patience": 10,
          "seed": 0, "use_features": False}
    ckpt = tmp_path / "epochs.pt"
    first = Finetuner("vt-alarm", checkpoint=ckpt, keep_checkpoint=True, **kw).fit(
        x, y, groups=g)
    assert ckpt.is_file()
    trained = []
    monkeypatch.setattr(Finetuner, "_save_epochs",
                        lambda self, *a, **k: trained.append(a[1]))  # an epoch trained
    again = Finetuner("vt-alarm", checkpoint=ckpt, keep_checkpoint=True, **kw).fit(
        x, y, groups=g)
    assert trained == [] and again.history == first.history
    np.testing.assert_array_equal(again.predict_proba(x), first.predict_proba(x))


def test_an_epoch_is_said_done_once_kept(tmp_path, monkeypatch, capsys) -> None:
    """A stop between an epoch's line and its save had lost an epoch stderr called done: the
    resumed run trained "epoch 3/6" again."""
    x, y, g = synthetic(20, seed=4)
    kw = {"init": "none", "config": TINY, "mode": "full", "epochs": 4, "patience": 10,
          "seed": 0, "use_features": False, "verbose": True}
    monkeypatch.setattr(Finetuner, "_save_epochs", stop_at(Finetuner._save_epochs, 3,
                                                           before=True))
    with pytest.raises(KeyboardInterrupt):
        Finetuner("vt-alarm", checkpoint=tmp_path / "e.pt", **kw).fit(x, y, groups=g)
    said = re.findall(r"epoch (\d)/4", capsys.readouterr().err)
    assert said == ["1", "2"]


def test_a_checkpoint_path_holding_another_file_is_refused_and_left(tmp_path) -> None:
    """A user's array or another model at ``checkpoint`` had been replaced at the first
    epoch, then removed when the fit ended."""
    x, y, g = synthetic(20, seed=4)
    kw = {"init": "none", "config": TINY, "mode": "full", "epochs": 1, "seed": 0,
          "use_features": False}
    data = tmp_path / "precious.npy"
    np.save(data, x[:2])
    model = tmp_path / "model.pt"
    torch.save({"model": QualityFM(TINY).state_dict()}, model)
    archive = tmp_path / "records.zip"  # a user's zip archive (it had been taken as torn)
    import zipfile

    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("notes.txt", "mine")
    module = tmp_path / "module.pt"  # another model saved whole (it had been started over)
    torch.save(torch.nn.Linear(3, 2), module)
    for path in (data, model, archive, module):
        before = path.read_bytes()
        with pytest.raises(ValueError, match=rf"checkpoint={re.escape(str(path))}: that file "
                                             r"is no fine-tuning checkpoint"):
            Finetuner("vt-alarm", checkpoint=path, **kw).fit(x, y, groups=g)
        assert path.read_bytes() == before
    empty = tmp_path / "empty.pt"  # nothing to lose: the fit starts over, as on a torn file
    empty.write_bytes(b"")
    Finetuner("vt-alarm", checkpoint=empty, **kw).fit(x, y, groups=g)
    assert not empty.exists()


def test_a_loaded_model_refits_with_its_own_protocol(tmp_path) -> None:
    """A loaded model's calibration method and validation share are those it was fitted
    with (a refit of a loaded temperature-calibrated model had used Platt scaling)."""
    from qualityfm.tasks import load_estimator

    x, y, g = synthetic(40, seed=4)
    est = ClassicalBaseline("vt-alarm", seed=0, max_iter=10, calibration="temperature",
                            val_fraction=0.3).fit(x, y, groups=g)
    back = load_estimator(est.save(tmp_path / "m"))
    assert (back.calibration, back.val_fraction) == ("temperature", 0.3)


def test_a_refused_refit_leaves_the_fitted_model_and_its_checks() -> None:
    x, y, g = synthetic(40, seed=5)
    ft = Finetuner("vt-alarm", init="none", config=TINY, mode="linear", seed=0,
                   use_features=False).fit(x, y, groups=g)
    before = ft.predict_proba(x)
    with pytest.raises(ValueError):
        ft.fit(x, np.array(["a"] * 40), groups=g)  # refused: labels are no classes
    assert ft.window == (2, 600)
    with pytest.raises(ValueError, match="fitted on 600"):  # its checks still hold
        ft.predict_proba(x[:, :, :500])
    np.testing.assert_array_equal(ft.predict_proba(x), before)


def test_a_refit_that_fails_part_way_leaves_the_fitted_model() -> None:
    """A refit refused inside the fit (an inner fold of one class: after the network, the
    feature scaling or the boosted models were replaced) keeps the model predicting as
    before, for the lbfgs head and the GBM's cross-fit alike."""
    x, y, g = synthetic(24, seed=7)
    one = np.zeros(24, int)
    one[10] = 1
    for est in (Finetuner("vt-alarm", init="none", config=TINY, mode="linear", seed=0),
                ClassicalBaseline("vt-alarm", seed=0, max_iter=10)):
        est.fit(x, y, groups=g)
        before, threshold = est.predict_proba(x), est.threshold
        with pytest.raises(ValueError, match="inner"):
            est.fit(x, one, groups=np.arange(24))
        np.testing.assert_array_equal(est.predict_proba(x), before)
        assert est.threshold == threshold


def test_a_multiclass_refit_takes_its_new_class_count() -> None:
    x, _, g = synthetic(24, seed=8)
    for est in (Finetuner("multiclass", init="none", config=TINY, mode="linear", seed=0,
                          use_features=False),
                ClassicalBaseline("multiclass", seed=0, max_iter=10)):
        est.fit(x, np.arange(24) % 3, groups=g)
        assert est.predict_proba(x).shape == (24, 3)
        est.fit(x, np.arange(24) % 4, groups=g)
        assert est.predict_proba(x).shape == (24, 4)
        est.fit(x, np.arange(24) % 2, groups=g)
        assert est.predict_proba(x).shape == (24, 2)
        with pytest.warns(UserWarning, match=r"y holds no row of class\(es\) 0, 1, 2, 4, 5 "
                                             r"and 1 more among its labels 0\.\.7: the "
                                             r"model gets 8 outputs"):
            est.fit(x, np.where(np.arange(24) % 2, 7, 3), groups=g)  # had been silent
        assert est.predict_proba(x[:0]).shape == (0, 8)  # empty: of the model's width


def test_a_save_stopped_midway_leaves_the_earlier_model_whole(tmp_path, monkeypatch) -> None:
    """A model's weights and its finetune.json are written together: a save stopped at the
    second file had left the new weights beside the old calibration and threshold."""
    import json

    from qualityfm.tasks import load_estimator

    x, y, g = synthetic(40, seed=4)
    for make in (lambda s: Finetuner("vt-alarm", init="none", config=TINY, epochs=1, seed=s),
                 lambda s: ClassicalBaseline("vt-alarm", seed=s, max_iter=10)):
        first = make(0).fit(x[:30], y[:30], groups=g[:30])
        out = first.save(tmp_path / "m")
        before = {f.name: f.read_bytes() for f in out.iterdir()}
        second = make(1).fit(x[10:], y[10:], groups=g[10:])
        with monkeypatch.context() as m:
            m.setattr(json, "dumps", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
            with pytest.raises(KeyboardInterrupt):
                second.save(out)
        assert {f.name: f.read_bytes() for f in out.iterdir()} == before
        np.testing.assert_allclose(load_estimator(out).predict_proba(x), first.predict_proba(x))
        # saved again from a loaded model: the same settings file (a loaded baseline of seed
        # 1 had written random_state 0)
        again = load_estimator(second.save(tmp_path / "s1")).save(tmp_path / "s2")
        assert (again / "finetune.json").read_text() == (
            tmp_path / "s1" / "finetune.json").read_text()


def test_unclear_inputs_of_the_plain_array_api_are_named(tmp_path) -> None:
    """Features without windows for a network, a classical folder given to Finetuner.load,
    a ResNet1d of other channels, missing groups: each a ValueError saying what is wrong."""
    x, y, g = synthetic(24, seed=9)
    with pytest.raises(ValueError, match="reads windows X"):
        Finetuner("vt-alarm", init="none", config=TINY).fit(None, y, features=np.ones((24, 3)))
    classical = ClassicalBaseline("vt-alarm", seed=0, max_iter=10).fit(x, y, groups=g)
    classical.save(tmp_path / "c")
    with pytest.raises(ValueError, match="classical baseline.*load_estimator"):
        Finetuner.load(tmp_path / "c")
    # save writes a folder: a file given (its own finetune.json) had raised FileExistsError
    for est in (classical, Finetuner("vt-alarm", init="none", config=TINY, epochs=1,
                                     mode="linear", solver="adamw").fit(x, y, groups=g)):
        with pytest.raises(ValueError, match=r"finetune.json is a file; a fine-tuned model "
                                             r"\(save writes a folder\) is a folder"):
            est.save(tmp_path / "c" / "finetune.json")
    x3 = np.concatenate([x, x[:, :1]], axis=1)
    with pytest.raises(ValueError, match="X holds 3 channels.*reads 2"):
        Finetuner("binary", init=ResNet1d(), epochs=1).fit(x3, y, groups=g)
    for missing in (None, float("nan")):
        groups = g.astype(object)
        groups[3] = missing
        with pytest.raises(ValueError, match=r"groups is missing \(None or NaN\) in rows 3"):
            ClassicalBaseline("vt-alarm", seed=0, max_iter=10).fit(x, y, groups=groups)
    mixed = np.array([f"p{i}" if i % 2 else i for i in g], dtype=object)  # str and int
    est = ClassicalBaseline("vt-alarm", seed=0, max_iter=10).fit(x, y, groups=mixed)
    assert est.predict_proba(x).shape == (24,)


def test_six_rows_fit_with_as_many_inner_folds_as_their_classes_allow() -> None:
    """Four rows of one class and two of the other: the inner folds of the lbfgs head and of
    the GBM's cross-fit drop to what the classes allow (they asked for 5), without warnings."""
    x, _, _ = synthetic(6, seed=6)
    y = np.array([0, 0, 0, 0, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        for est in (Finetuner("vt-alarm", init="none", config=TINY, mode="linear", seed=0,
                              use_features=False),
                    ClassicalBaseline("vt-alarm", seed=0, max_iter=10)):
            est.fit(x, y, groups=np.arange(6))
            assert est.predict_proba(x).shape == (6,) and est.validation["n"] == 6


def test_random_time_shift_rolls_each_row_by_its_own_offset() -> None:
    import torch

    from qualityfm.tasks.finetune import random_time_shift

    x = torch.arange(3 * 2 * 50, dtype=torch.float32).reshape(3, 2, 50)
    out = random_time_shift(x, np.random.default_rng(0))
    again = random_time_shift(x, np.random.default_rng(0))
    assert torch.equal(out, again)  # the seed fixes the shifts
    shifts = []
    for row_in, row_out in zip(x, out, strict=True):
        s = int((row_out[0] == row_in[0, 0]).nonzero()[0])  # where sample 0 went
        assert torch.equal(row_out, torch.roll(row_in, s, dims=-1))  # both channels, one shift
        shifts.append(s)
    assert len(set(shifts)) > 1


def test_augmentation_changes_training_and_stays_repeatable() -> None:
    x, y, g = synthetic(40)

    def fit(augment: bool) -> Finetuner:
        return Finetuner("vt-alarm", init="none", config=TINY, epochs=2, patience=5, seed=3,
                         use_features=False,
                         augment=augment).fit(x, y, groups=g)

    a, b, plain = fit(True), fit(True), fit(False)
    np.testing.assert_array_equal(a.predict_proba(x), b.predict_proba(x))
    assert not np.allclose(a.predict_proba(x), plain.predict_proba(x))


def test_test_shifts_average_the_outputs_of_shifted_windows(tmp_path) -> None:
    """A network trained on shifted windows with mean pooling averages its outputs over
    TEST_SHIFTS circular shifts; pools that read the last token (vt-alarm's), linear heads and
    unshifted training do not shift; the setting is saved, and older files load unshifted."""
    from qualityfm.tasks.finetune import TEST_SHIFTS

    x, y, g = synthetic(40)
    assert Finetuner("af", init="none").test_shifts == TEST_SHIFTS == 8
    assert Finetuner("af", init="none", augment=False).test_shifts == 1
    assert Finetuner("af", mode="linear").test_shifts == 1
    assert Finetuner("vt-alarm", init="none").test_shifts == 1  # mean+last+stem
    assert Finetuner("vt-alarm", init="none", pool="mean+last").test_shifts == 1
    assert Finetuner("vt-alarm", init="none", pool="mean").test_shifts == TEST_SHIFTS
    assert Finetuner("af", init="none", pool="mean+stem").test_shifts == TEST_SHIFTS
    # a ResNet1d pools globally: vt-alarm's default pool (mean+last+stem) is not its own
    assert Finetuner("vt-alarm", init=ResNet1d(width=4, blocks=2)).test_shifts == TEST_SHIFTS
    with pytest.raises(ValueError, match="test_shifts"):
        Finetuner("af", test_shifts=0)
    # asked for beside a pool reading the last token: said (it had been taken without a word)
    with pytest.warns(RuntimeWarning, match=r"test_shifts 4 with a pooling that reads the last"):
        Finetuner("vt-alarm", init="none", test_shifts=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        Finetuner("vt-alarm", init="none", pool="mean", test_shifts=4)

    ft = Finetuner("af", init="none", config=TINY, epochs=2, seed=0, test_shifts=4,
                   use_features=False)
    ft.fit(x, y, groups=g)
    t = x.shape[-1]
    ft.test_shifts = 1
    each = [ft._raw(np.roll(x, k * t // 4, axis=-1), None, None) for k in range(4)]
    ft.test_shifts = 4
    averaged = ft._raw(x, None, None)
    np.testing.assert_allclose(averaged, np.mean(each, axis=0), rtol=1e-4, atol=1e-5)
    assert not np.allclose(averaged, each[0], atol=1e-4)  # the shifts change the outputs
    back = Finetuner.load(ft.save(tmp_path / "run"))
    assert back.test_shifts == 4
    np.testing.assert_allclose(back.predict_proba(x), ft.predict_proba(x), atol=1e-5)
    meta_file = tmp_path / "run" / "finetune.json"
    meta = json.loads(meta_file.read_text())
    del meta["test_shifts"]
    meta_file.write_text(json.dumps(meta))
    assert Finetuner.load(tmp_path / "run").test_shifts == 1


@pytest.mark.parametrize("pool", ["mean", "mean+stem"])
def test_onnx_of_a_run_with_test_shifts_predicts_as_the_run(tmp_path, pool: str) -> None:
    """The ONNX graph of a fine-tuned run pools as the run does and averages its head over the
    run's shifted copies: its calibrated output equals ``predict_proba``."""
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    from qualityfm.inference.onnx import export_finetuned_onnx

    x, y, g = synthetic(40)
    ft = Finetuner("af", init="none", config=TINY, epochs=2, seed=0, test_shifts=3, pool=pool,
                   use_features=False)
    ft.fit(x, y, groups=g)
    run = ft.save(tmp_path / "run")
    res = export_finetuned_onnx(run, tmp_path / "model.onnx")
    assert res["max_abs_diff"] < 1e-4
    session = ort.InferenceSession(res["out"], providers=["CPUExecutionProvider"])
    mask = np.ones((len(x), 2), dtype=bool)
    _, head = session.run(None, {"x": x, "mask": mask})
    np.testing.assert_allclose(ft.calibrator(head[:, 0]), ft.predict_proba(x), atol=1e-4)
    ft.test_shifts = 1  # one pass gives other outputs: the graph really averages the shifts
    assert not np.allclose(ft.calibrator(head[:, 0]), ft.predict_proba(x), atol=1e-4)


def test_lbfgs_head_is_the_logistic_regression_of_the_standardised_embedding(tmp_path) -> None:
    """``solver="lbfgs"`` (vt-alarm's default linear head) fits sklearn's L2 logistic regression
    to the standardised embeddings of every training row, with the grid strength of lowest
    inner-fold loss, folded into the head: the head's logits are that model's decision
    function. Calibration and threshold come from the inner folds' models at that strength,
    each standardised by its own training rows."""
    import torch
    from sklearn.linear_model import LogisticRegression

    from qualityfm.tasks import Calibrator
    from qualityfm.tasks.finetune import C_GRID
    from qualityfm.tasks.splits import group_kfold

    x, y, g = synthetic(80, seed=3)
    tr, te = group_split(y, g, 0.25, seed=1)
    ft = Finetuner("vt-alarm", init="none", config=TINY, mode="linear", seed=0,
                   use_features=False)
    assert ft.solver == "lbfgs"
    ft.fit(x[tr], y[tr], groups=g[tr])
    (h,) = ft.history
    assert h["C"] in C_GRID and h["C"] == C_GRID[int(np.argmin(h["inner_loss"]))]
    assert len(h["inner_loss"]) == len(C_GRID)
    with torch.no_grad():
        emb = ft.net.backbone(torch.as_tensor(x[tr]), None).double().numpy()

    def logreg(rows: np.ndarray):
        """The model of ``rows``, standardised by their own mean and SD (an inner fold's
        held-out rows had set its scale)."""
        mu, sd = emb[rows].mean(0), emb[rows].std(0) + 1e-6
        m = LogisticRegression(C=h["C"], class_weight="balanced", max_iter=2000).fit(
            (emb[rows] - mu) / sd, y[tr][rows])
        return lambda e: m.decision_function((e - mu) / sd)

    np.testing.assert_allclose(ft._raw(x[tr], None, None), logreg(np.arange(len(tr)))(emb),
                               rtol=1e-3, atol=1e-3)
    oof = np.zeros(len(tr))
    for a, b in group_kfold(y[tr], g[tr], k=5, seed=ft.seed):
        oof[b] = logreg(a)(emb[b])
    cal = Calibrator("platt").fit(oof, y[tr])
    assert ft.calibrator.a == pytest.approx(cal.a, rel=1e-2)
    assert ft.calibrator.b == pytest.approx(cal.b, rel=1e-2, abs=1e-3)
    assert ft.threshold == pytest.approx(choose_threshold(y[tr], cal(oof), "tpr", 0.95),
                                         rel=1e-2, abs=1e-3)
    assert M.auroc(y[te], ft.predict_proba(x[te])) > 0.8  # a random tiny encoder's features
    again = Finetuner("vt-alarm", init="none", config=TINY, mode="linear", seed=0,
                      use_features=False)
    np.testing.assert_array_equal(again.fit(x[tr], y[tr], groups=g[tr]).predict_proba(x[te]),
                                  ft.predict_proba(x[te]))  # repeatable
    back = Finetuner.load(ft.save(tmp_path / "run"))
    assert back.solver == "lbfgs"
    np.testing.assert_allclose(back.predict_proba(x[te]), ft.predict_proba(x[te]), atol=1e-5)
    meta_file = tmp_path / "run" / "finetune.json"  # a file saved before the setting: adamw
    meta = json.loads(meta_file.read_text())
    del meta["solver"]
    meta_file.write_text(json.dumps(meta))
    assert Finetuner.load(tmp_path / "run").solver == "adamw"


def test_lbfgs_head_for_classes_and_targets() -> None:
    """lbfgs also fits multiclass heads (a class missing from the rows is never predicted) and
    ridge heads for regression; rows its grouped inner folds cannot split are refused."""
    x, y, g = synthetic(90, seed=4)
    rhythm = np.where(y == 1, 1, np.arange(90) % 3 == 0) * 1 + (y == 1)  # classes 0, 1, 2
    four = Finetuner("af4", init="none", config=TINY, mode="linear", solver="lbfgs", seed=0)
    p = four.fit(x, rhythm, groups=g).predict_proba(x)
    assert p.shape == (90, 4) and np.allclose(p.sum(1), 1) and p[:, 3].max() < 1e-6
    assert M.auroc(rhythm == 2, p[:, 2]) > 0.9  # the tone marks class 2
    bp = np.c_[100 + 20 * y, 60 + 10 * y].astype(np.float32)
    reg = Finetuner("abp", init="none", config=TINY, mode="linear", solver="lbfgs", seed=0)
    pred = reg.fit(x, bp, groups=g).predict(x)
    assert pred.shape == (90, 2) and np.corrcoef(pred[:, 0], bp[:, 0])[0, 1] > 0.8
    lin = Finetuner("vt-alarm", init="none", config=TINY, mode="linear", seed=0,
                    use_features=False)
    with pytest.raises(ValueError, match="two groups"):
        lin.fit(x[:6], y[:6], groups=np.zeros(6, int))
    one = np.r_[np.zeros(8, int), [1, 1]]  # every positive in one group of five
    with pytest.raises(ValueError, match=r"one class only \(class counts \[8, 2\] over 5"):
        lin.fit(x[:10], one, groups=np.repeat(np.arange(5), 2))


def test_lbfgs_inner_folds_do_not_blow_up_a_column_flat_in_their_training_rows() -> None:
    """A feature flat in three of four records (its inner fold's training rows) had put the
    fourth 1e4 SDs out: the cross-fitted validation MAE read 43 mmHg (68 on four real VT
    records, where predicting the mean gave 22)."""
    x, y, _ = synthetic(80, seed=1)
    g = np.repeat(np.arange(4), 20)
    rng = np.random.default_rng(0)
    bp = np.c_[120 + 15 * y + rng.normal(0, 3, 80), 70 + 8 * y + rng.normal(0, 2, 80)]
    F = np.c_[np.where(g == 3, 1.0, 0.0) + rng.normal(0, 1e-4, 80), y + rng.normal(0, 0.3, 80)]
    reg = Finetuner("abp", init="none", config=TINY, mode="linear", solver="lbfgs", seed=0)
    reg.fit(x, bp.astype(np.float32), groups=g, features=F.astype(np.float32))
    assert reg.validation["mae"]["sbp"] < 6 and reg.validation["mae"]["dbp"] < 4


def test_default_solver_and_bad_solvers() -> None:
    """lbfgs is the default of a clinical task's linear head (with or without the features);
    a generic task's linear head and full fine-tunes train with adamw."""
    assert Finetuner("vt-alarm").solver == Finetuner("abp").solver == "lbfgs"
    assert Finetuner("vt-alarm", use_features=True).solver == "lbfgs"
    assert Finetuner("abp", mode="linear", use_features=False).solver == "lbfgs"
    assert Finetuner("af", mode="linear").solver == "lbfgs"
    assert Finetuner("binary", mode="linear").solver == "adamw"
    assert Finetuner("abp", mode="full").solver == "adamw"
    assert Finetuner("vt-alarm", init="none").solver == "adamw"  # full
    with pytest.raises(ValueError, match="mode='linear'"):
        Finetuner("vt-alarm", mode="full", solver="lbfgs")
    with pytest.raises(ValueError, match="'sgd'"):
        Finetuner("vt-alarm", solver="sgd")
    x, y, g = synthetic(20)
    with pytest.raises(ValueError, match="only class 0"):
        Finetuner("vt-alarm", init="none", config=TINY, mode="linear",
                  use_features=False).fit(
            x, np.zeros(20, int), groups=g)


def test_lbfgs_head_weighs_the_feature_block_as_the_embedding() -> None:
    """With the classical features beside the embedding, lbfgs scales the standardised feature
    columns by sqrt(embedding size / feature count) before the logistic regression."""
    import torch
    from sklearn.linear_model import LogisticRegression

    x, y, g = synthetic(80, seed=5)
    feats = np.c_[y + np.random.default_rng(1).normal(0, 1.0, len(y)),
                  np.random.default_rng(2).normal(0, 1.0, (len(y), 3))].astype(np.float32)
    ft = Finetuner("vt-alarm", init="none", config=TINY, mode="linear", use_features=True,
                   seed=0).fit(x, y, groups=g, features=feats)
    assert ft.solver == "lbfgs"
    with torch.no_grad():
        emb = ft.net.backbone(torch.as_tensor(x), None).double().numpy()
    H = np.c_[emb, ft._feats(feats, len(x)).astype(np.float64)]
    Z = (H - H.mean(0)) / (H.std(0) + 1e-6)
    Z[:, emb.shape[1]:] *= np.sqrt(emb.shape[1] / 4)
    ref = LogisticRegression(C=ft.history[0]["C"], class_weight="balanced", max_iter=2000)
    ref.fit(Z, y)
    np.testing.assert_allclose(ft._raw(x, None, feats), ref.decision_function(Z),
                               rtol=1e-3, atol=1e-3)


def test_bad_arrays_are_refused_naming_the_rows_and_channel(tmp_path) -> None:
    """NaN, wrong shapes and bad labels get a clear error instead of silent decisions; a NaN in
    a channel marked absent is ignored; windows of another length than the fitted ones are
    refused, also after a save and load."""
    x, y, g = synthetic(n=40)
    ft = Finetuner("vt-alarm", init="none", config=TINY, epochs=1, batch_size=16, seed=0,
                  use_features=False)
    bad = x.copy()
    bad[3, 1, 100] = np.nan
    with pytest.raises(ValueError, match=r"channel ecg_ii: rows 3\b"):
        ft.fit(bad, y, groups=g)
    with pytest.raises(ValueError, match="channels last"):
        ft.fit(x.transpose(0, 2, 1), y, groups=g)  # [rows, samples, channels]
    with pytest.raises(ValueError, match="class labels"):
        ft.fit(x, np.where(np.arange(40) == 5, np.nan, y), groups=g)
    with pytest.raises(ValueError, match=r"2 classes .* \[2\] \(rows 5\)"):
        ft.fit(x, np.where(np.arange(40) == 5, 2, y), groups=g)
    with pytest.raises(ValueError, match="only class 1"):
        ft.fit(x, np.ones(40, int), groups=g)
    with pytest.raises(ValueError, match=r"mask must be bool \(or 0/1\)"):
        ft.fit(x, y, np.full((40, 2), 0.5), g)
    with pytest.raises(ValueError, match=r"groups must hold one entry per row \(40\), got "
                                         r"shape \[39\]"):
        ft.fit(x, y, groups=g[:-1])
    with pytest.raises(ValueError, match=r"groups must hold one entry per row \(40\), got "
                                         r"shape \[40, 1\]"):
        ft.fit(x, y, groups=g[:, None])  # had raised "unhashable type: 'numpy.ndarray'"
    with pytest.raises(ValueError, match="mask must be"):
        ft.fit(x, y, np.ones((40, 3), bool), g)
    for setting, value, want in (("batch_size", 0, "an int >= 1"), ("batch_size", 1.5, "an int"),
                                 ("epochs", 2.5, "an int"), ("patience", 0, "an int >= 1"),
                                 ("lr", -1e-2, "a number >= 0"), ("head_lr", 0.0, "a number"),
                                 ("weight_decay", -5, "a number >= 0"), ("dropout", 1.5, "in")):
        with pytest.raises(ValueError, match=rf"{setting} must be {want}.*got {value!r}"):
            Finetuner("vt-alarm", init="none", config=TINY, **{setting: value})
    with pytest.raises(ValueError, match=r"X holds windows of 8 samples \(0.02667 s at 300 "
                                         r"Hz\); the tasks read windows of 1 s"):
        ft.fit(x[:, :, :8], y, groups=g)  # one token, mostly padding, had been fitted
    with pytest.raises(ValueError, match=r"X holds complex numbers \(dtype complex"):
        ft.fit(x + 1j * x, y, groups=g)  # its imaginary part had been dropped
    with pytest.raises(ValueError, match=r"the encoder's embeddings of rows 0, 1, 2, 3, 4 and "
                                         r"35 more are not finite"), pytest.warns(UserWarning):
        Finetuner("vt-alarm", init="none", config=TINY, mode="linear", use_features=False,
                  seed=0).fit(x * np.float32(1e30), y, groups=g)  # sklearn's NaN error had
    ft.fit(x, y, groups=g)
    with pytest.raises(ValueError, match=r"channel ecg_ii: rows 3\b"):
        ft.predict(bad)
    mask = np.ones((40, 2), bool)
    mask[3, 1] = False  # the NaN channel marked absent: read as the model reads it, zeros
    zeroed = x.copy()
    zeroed[3, 1] = 0.0
    np.testing.assert_allclose(ft.predict_proba(bad, mask), ft.predict_proba(zeroed, mask))
    back = Finetuner.load(ft.save(tmp_path / "run"))
    for model in (ft, back):
        with pytest.raises(ValueError, match="fitted on 600"):
            model.predict(np.concatenate([x, x], axis=2))


def test_without_a_mask_a_flat_channel_is_absent() -> None:
    """ECG-only arrays with the PPG filled with zeros and no mask had been read as a flat PPG:
    other probabilities than with the mask, and nothing said."""
    x, y, g = synthetic(n=40)
    x[:, 0] = 0.0
    mask = np.ones((40, 2), bool)
    mask[:, 0] = False
    ft = Finetuner("vt-alarm", init="none", config=TINY, epochs=1, batch_size=16, seed=0,
                   use_features=False)
    p_mask = ft.fit(x, y, mask, g).predict_proba(x, mask)
    np.testing.assert_array_equal(ft.predict_proba(x), p_mask)
    all_present = np.ones((40, 2), bool)
    assert not np.allclose(ft.predict_proba(x, all_present), p_mask)
    np.testing.assert_array_equal(
        Finetuner("vt-alarm", init="none", config=TINY, epochs=1, batch_size=16, seed=0,
                  use_features=False).fit(x, y, groups=g).predict_proba(x), p_mask)
    x[7] = 0.0
    with pytest.raises(ValueError, match=r"1 window\(s\) have no channel present \(every channel "
                                         r"flat, no mask given; rows 7\): the model has "
                                         r"nothing to judge"):
        ft.predict(x)


def test_windows_outside_the_unit_range_warn_at_the_callers_line() -> None:
    """Raw windows (mV, ADC counts) instead of normalised ones give a warning naming the
    channel, attributed to the user's call; a channel marked absent is not looked at."""
    x, y, g = synthetic(n=20)
    ft = Finetuner("vt-alarm", init="none", config=TINY, epochs=1, seed=0, use_features=False)
    raw = x.copy()
    raw[:, 1] *= 800.0  # an ECG in microvolts
    with pytest.warns(UserWarning, match=r"outside \[-1, 1\] in channel\(s\) ecg_ii:") as caught:
        ft.fit(raw, y, groups=g)
    assert caught[0].filename == __file__
    mask = np.ones((20, 2), bool)
    mask[:, 1] = False
    with warnings.catch_warnings():  # no unit-range warning (20 rows: a few-positives one)
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", message="the model gives every validation row")
        ft.fit(raw, y, mask, g)  # (its PPG alone, of noise: nothing to tell apart)
        ft.fit(x, y, groups=g)
    # windows inside [-1, 1] but not spanning it, as normalize's do: scaled into [0, 1] (the
    # probabilities had moved by up to 0.2, unsaid), or only the ECG rescaled
    for shifted, where in (((x + 1) / 2, "ppg, ecg_ii:"),
                           (x * np.float32([[1.0], [0.6]]), "ecg_ii:")):
        with pytest.warns(UserWarning, match=rf"do not span \[-1, 1\] in channel\(s\) {where}"
                          ) as caught:
            ft.predict_proba(shifted)
        assert caught[0].filename == __file__
    with warnings.catch_warnings(record=True) as caught:  # batches of a loop: said once
        warnings.simplefilter("default")
        for k in range(4):
            ft.predict_proba(x[5 * k:5 * k + 5] * np.float32(0.3 + 0.1 * k))
    assert len([w for w in caught if "do not span" in str(w.message)]) == 1
    from qualityfm.signal.normalize import warn_unscaled

    with warnings.catch_warnings():  # a joint model's channels need not each reach the ends
        warnings.simplefilter("error", UserWarning)
        warn_unscaled(x * 0.5, None, MODEL_CHANNELS, "joint")
        warn_unscaled(torch.from_numpy(x), None, MODEL_CHANNELS)
    with pytest.warns(UserWarning, match=r"do not span \[-1, 1\] in channel\(s\) ppg"):
        warn_unscaled(torch.from_numpy(x * np.float32([[0.5], [1.0]])), None, MODEL_CHANNELS)


def test_classical_baseline_on_a_few_rows_is_not_a_constant() -> None:
    """Leaves of 30 rows leave 24 training rows no split: the leaf size follows small data."""
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 15)
    F = rng.normal(size=(30, 5)).astype(np.float32)
    F[:, 0] += 3 * y  # one informative column
    est = ClassicalBaseline("binary", seed=0, crossfit=3)
    est.fit(None, y[:24], features=F[:24])
    p = est.predict_proba(None, features=F[24:])
    assert np.ptp(p) > 0.1 and M.auroc(y[24:], p) > 0.8



def test_the_gbm_inner_models_share_the_final_model_leaf_size(monkeypatch) -> None:
    """The cross-fitted models that fix the operating point are of the final model's settings:
    on 100 training rows every model's leaves hold 25 (inner folds of 80 rows had got 20)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    leaves: list[int] = []
    fit = HistGradientBoostingClassifier.fit
    monkeypatch.setattr(HistGradientBoostingClassifier, "fit", lambda self, *a, **k: (
        leaves.append(self.min_samples_leaf), fit(self, *a, **k))[1])
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 50)
    F = rng.normal(size=(100, 4)).astype(np.float32) + y[:, None]
    ClassicalBaseline("binary", crossfit=5, max_iter=5).fit(None, y, features=F)
    assert leaves == [25] * 6


def test_group_folds_on_too_few_rows_say_so() -> None:
    from qualityfm.tasks.splits import group_kfold

    with pytest.raises(ValueError, match=r"3 rows in the largest class at least; .*\{0: 2, 1: 2\}"):
        next(group_kfold(np.array([0, 0, 1, 1]), np.arange(4), k=3))


def test_small_regression_sets_split_into_fewer_target_bins() -> None:
    """Quartile bins of 4 targets hold one row each: folds of a regression stratify by as
    many bins of equal counts as the rows allow, down to none, instead of a class error."""
    from qualityfm.tasks.splits import fold_count, group_kfold

    y = np.array([[110.0, 70.0], [120.0, 75.0], [130.0, 80.0], [140.0, 85.0]], np.float32)
    folds = list(group_kfold(y, np.arange(4), k=2, seed=0))
    assert len(folds) == 2 and sorted(np.concatenate([te for _, te in folds])) == [0, 1, 2, 3]
    assert fold_count(y, np.arange(4), k=5) == 4  # one bin: as many folds as groups
    big = np.random.default_rng(0).normal(120, 15, (200, 2))
    for _tr, te in group_kfold(big, np.arange(200), k=5, seed=0):  # quartiles, as before
        assert abs(np.mean(big[te, 0] > np.median(big[:, 0])) - 0.5) < 0.05


def test_operating_settings_and_groups_are_checked_before_any_work() -> None:
    """A target TPR outside (0, 1) had given a NaN threshold, so that every alarm was
    suppressed; an unknown calibration was refused only after the encoder pass; one group
    cannot give a validation split; a missing y and empty windows are named."""
    for bad in (2, 0, -1, 1.0, float("nan"), "0.9"):
        with pytest.raises(ValueError, match="target_tpr must be a number in"):
            Finetuner("vt-alarm", init="none", config=TINY, target_tpr=bad)
        with pytest.raises(ValueError, match="target_tpr"):
            ClassicalBaseline("vt-alarm", target_tpr=bad)
    with pytest.raises(ValueError, match="target_tpr"):
        choose_threshold(np.array([0, 1, 1]), np.array([0.1, 0.5, 0.9]), target_tpr=1.5)
    with pytest.raises(ValueError, match="calibration must be one of"):
        Finetuner("af", init="none", config=TINY, calibration="isotonic")
    with pytest.raises(ValueError, match="threshold rule must be one of"):
        ClassicalBaseline("vt-alarm", threshold_rule="youden")
    with pytest.raises(ValueError, match="val_fraction"):
        Finetuner("af", init="none", config=TINY, val_fraction=1.0)
    x, y, _ = synthetic(n=16)
    ft = Finetuner("af", init="none", config=TINY, epochs=1, seed=0, use_features=False)
    with pytest.raises(ValueError, match=r"groups holds one group \(7\) for all 16 rows"):
        ft.fit(x, y, groups=np.full(16, 7))
    with pytest.raises(ValueError, match="y is required"):
        ft.fit(x, None)
    with pytest.raises(ValueError, match="windows of 0 samples"):
        ft.fit(x[:, :, :0], y)


def test_windows_of_another_length_beside_features_are_said() -> None:
    """A classical baseline reading a features array had taken shorter windows beside it than
    it was fitted on, without a word (without features= they are refused)."""
    x, y, g = synthetic(n=24)
    feats = window_features(x, None, 300.0)
    est = ClassicalBaseline("vt-alarm", seed=0, max_iter=5).fit(x, y, groups=g, features=feats)
    assert x.shape[2] == 600
    with pytest.warns(UserWarning, match=r"windows of 1\.6 s \(480 samples at 300 Hz\): the "
                                         r"model was fitted on windows of 2 s \(600 samples\)"):
        est.predict_proba(x[:, :, :480], features=feats)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.predict_proba(x, features=feats)


def test_features_of_no_columns_are_no_features() -> None:
    """A TaskDataset without features holds NaN [rows, 0]: a model then computes its
    features from the windows, as when none are given (it had failed inside the scaling)."""
    x, y, g = synthetic(n=24)
    kw = dict(init="none", config=TINY, mode="linear", seed=0)
    a = Finetuner("af", **kw).fit(x, y, groups=g)
    b = Finetuner("af", **kw).fit(x, y, groups=g, features=np.zeros((24, 0), np.float32))
    assert not b.features_given
    np.testing.assert_array_equal(a.predict_proba(x), b.predict_proba(x))
    with pytest.raises(ValueError, match="features has no columns and no windows"):
        ClassicalBaseline("af").fit(None, y, groups=g, features=np.zeros((24, 0)))


def test_loading_a_folder_that_holds_no_model_says_why(tmp_path) -> None:
    from qualityfm.tasks.baselines import load_estimator

    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_estimator(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="shipped weights are an encoder, not a task"):
        load_estimator("pretrained")  # predict --model pretrained
    (tmp_path / "cv").mkdir()
    (tmp_path / "cv" / "cv.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"cross-validation run \(finetune --kfold\)"):
        load_estimator(tmp_path / "cv")
    with pytest.raises(FileNotFoundError, match="no finetune.json"):
        load_estimator(tmp_path)


def test_lbfgs_head_with_test_shifts_calibrates_on_what_it_predicts() -> None:
    """With test_shifts the closed-form head is fitted and calibrated on the shift-averaged
    embedding, whose linear read-out is exactly the average of the shifted outputs."""
    import torch

    from qualityfm.model.network import mean_over_shifts

    x, y, g = synthetic(60, seed=2)
    one = Finetuner("vt-alarm", init="none", config=TINY, mode="linear", solver="lbfgs", seed=0,
                   use_features=False)
    four = Finetuner("vt-alarm", init="none", config=TINY, mode="linear", solver="lbfgs",
                     use_features=False,
                     seed=0, test_shifts=4)
    one.fit(x, y, groups=g)
    four.fit(x, y, groups=g)
    assert four.calibrator.a != one.calibrator.a  # calibrated on other (averaged) outputs
    xt = torch.as_tensor(x)
    with torch.no_grad():
        z = mean_over_shifts(lambda xs: four.net(xs, None), xt, 4)[:, 0].numpy()
    np.testing.assert_allclose(four.predict_proba(x), four.calibrator(z), atol=1e-5)


def test_predicting_without_the_features_a_model_was_fitted_on_warns() -> None:
    x, y, g = synthetic(40, seed=3)
    feats = window_features(x, None, 300.0)
    est = ClassicalBaseline("binary", seed=0, crossfit=3, max_iter=20).fit(x, y, None, g, feats)
    with pytest.warns(UserWarning, match="pass features= as at fit"):
        est.predict_proba(x)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.predict_proba(x, features=feats)  # as at fit: no warning
        # windows beside the features it reads are not read: their scale is no matter (it
        # had warned that they must be scaled into [-1, 1])
        np.testing.assert_array_equal(est.predict_proba(x * 100, features=feats),
                                      est.predict_proba(x, features=feats))
        ClassicalBaseline("binary", seed=0, crossfit=3, max_iter=20).fit(x * 100, y, None, g,
                                                                          feats)
    # given its features, it does not read the windows, but windows of another length beside
    # them say the features are of other windows than it was fitted on (as the task verbs say)
    with pytest.warns(UserWarning, match="the model was fitted on windows of 2 s"):
        est.predict_proba(x[:, :, :500], features=feats)
    with pytest.raises(ValueError, match="fitted on 600"):  # computed from them, it is
        est.predict_proba(x[:, :, :500])
    # the other way round: fitted on features of its windows, a features array warns
    own = ClassicalBaseline("binary", seed=0, crossfit=3, max_iter=20).fit(x, y, None, g)
    with pytest.warns(UserWarning, match="leave features= out as at fit"):
        own.predict_proba(x, features=feats + 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        own.predict_proba(x)


def test_task_verbs_give_a_model_the_features_it_was_fitted_on(tmp_path) -> None:
    """evaluate/predict pass a TaskDataset's features only to a model fitted on such an array
    (also after a save and load); one fitted on its windows alone gets them computed from the
    windows, as at fit."""
    from qualityfm.tasks.baselines import load_estimator
    from qualityfm.tasks.datasets import TaskDataset
    from qualityfm.tasks.pipeline import _inputs_for

    x, y, g = synthetic(40, seed=3)
    feats = window_features(x, None, 300.0)
    ds = TaskDataset("vt-alarm", x, np.ones((40, 2), bool), y, g.astype(str),
                     np.array([f"r{i}" for i in range(40)]), feats, [])

    def fitted(features, name: str):  # noqa: ANN001, ANN202
        est = ClassicalBaseline("binary", seed=0, crossfit=3, max_iter=20)
        return load_estimator(est.fit(x, y, None, g, features).save(tmp_path / name))

    given, own = fitted(feats, "given"), fitted(None, "own")
    assert _inputs_for(given, ds)[2] is feats and _inputs_for(own, ds)[2] is None
    # a run saved before features_given was recorded came from a task verb: fitted on an array
    run = tmp_path / "own"
    meta = json.loads((run / "finetune.json").read_text())
    del meta["protocol"]["features_given"]
    (run / "finetune.json").write_text(json.dumps(meta))
    assert load_estimator(run).features_given
    # a run fitted on another version's features warns when loaded (it had said nothing)
    from qualityfm.quality.features import FEATURES_VERSION

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_estimator(run)  # this version's: silent
    for version, said in ((FEATURES_VERSION - 1, f"feature code version {FEATURES_VERSION - 1}"
                                                  f"; this qualityfm computes version "
                                                  f"{FEATURES_VERSION}"),
                          (None, "a qualityfm that did not record their version")):
        if version is None:
            del meta["protocol"]["features_version"]
        else:
            meta["protocol"]["features_version"] = version
        (run / "finetune.json").write_text(json.dumps(meta))
        with pytest.warns(UserWarning, match=rf"fitted on classical features of {said}"):
            load_estimator(run)


def test_what_a_fit_cannot_see_is_said(recwarn) -> None:
    """A fit without groups warns for every task (rows of one record on both sides of the
    validation split had scored AUROC 0.81 where the signal carried nothing, unsaid, for af);
    a model whose validation probabilities are all alike says it predicts one answer (4 rows:
    every probability 0.5, unsaid); rows lacking a channel that every fitted window held are
    named at prediction (an abp model fitted on ECG II and PPG had answered PPG-less rows)."""
    x, y, g = synthetic(40)
    est = ClassicalBaseline("af", max_iter=5, crossfit=None)
    est.fit(x, y)
    [caught] = [w for w in recwarn if issubclass(w.category, UserWarning)]
    assert caught.filename == __file__
    assert re.search(r"no groups given: .*groups=np\.arange\(len\(y\)\) where every row "
                     r"is a patient of its own", str(caught.message))
    recwarn.clear()
    est.fit(x, y, groups=np.arange(40))  # said: nothing to warn
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]
    with pytest.warns(UserWarning, match=r"the model gives every validation row \(3\) the same "
                                         r"probabilities \(0\.\d+\): .*fit it on more rows"):
        est._set_operating_point(np.zeros(3), np.array([0, 1, 1]))
    bp = np.c_[100 + 20 * y, 60 + 10 * y].astype(np.float32)
    abp = ClassicalBaseline("abp", max_iter=5, crossfit=None).fit(x, bp, groups=g)
    no_ppg = x.copy()
    no_ppg[:3, MODEL_CHANNELS.index("ppg")] = 0.0
    with pytest.warns(UserWarning, match=r"ppg is absent in 3 row\(s\) \(0, 1, 2\), while "
                                         r"every window the model was fitted on held it"):
        abp.predict(no_ppg)
    recwarn.clear()
    abp.predict(x)
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]
    assert abp.predict(x[:0]).shape == (0, 2)
    # a channel a rare few windows fitted lacked (1 of 40): rows lacking it rest on those few
    # (2 of 206 VT windows without an ECG had switched every word off: a PPG-only row decided
    # with confidence, unsaid)
    rare = x.copy()
    rare[0, MODEL_CHANNELS.index("ppg")] = 0.0
    abp = ClassicalBaseline("abp", max_iter=5, crossfit=None).fit(rare, bp, groups=g)
    assert abp.present_counts[MODEL_CHANNELS.index("ppg")] == 39 and abp.fitted_rows == 40
    with pytest.warns(UserWarning, match=r"ppg is absent in 3 row\(s\) \(0, 1, 2\), as only 1 "
                                         r"of the 40 windows the model was fitted on did"):
        abp.predict(no_ppg)
    from qualityfm.tasks.finetune import rare

    assert rare(2, 30) and rare(2, 206) and rare(50, 1000) and not rare(51, 1000)
    assert not rare(0, 30) and not rare(10, 22) and not rare(30, 30) and rare(4, 22)
    # a channel a rare few held: rows holding it rest on those few too
    once = x.copy()
    once[1:, MODEL_CHANNELS.index("ppg")] = 0.0
    few = ClassicalBaseline("abp", max_iter=5, crossfit=None).fit(once, bp, groups=g)
    with pytest.warns(UserWarning, match=r"ppg is present in 40 row\(s\) .*, as only 1 of the "
                                         r"40 windows the model was fitted on held it"):
        few.predict(x)
    one = ClassicalBaseline("regression", max_iter=5, crossfit=None).fit(x, bp[:, :1], groups=g)
    assert one.predict(x[:2]).shape == (2, 1) and one.predict(x[:0]).shape == (0, 1)  # had 2
    for bad in (bp[:, :0], bp[:, :, None]):  # no target column: an IndexError in the split
        with pytest.raises(ValueError, match=r"y must be \[rows\] or \[rows, targets\] with a "
                                             rf"target or more, got shape \[40, {bad.shape[1]}"):
            ClassicalBaseline("regression").fit(x, bad, groups=g)


def test_abp_targets_must_be_sbp_and_dbp_in_mmhg(recwarn) -> None:
    """abp needs y [N, 2] (SBP, DBP): one column or three are refused, by the network and
    the classical baseline alike; values unlike mmHg, PPG absent in every row and a fit
    without groups warn, each at the caller's line."""
    x, y, g = synthetic(40)
    bp = np.c_[100 + 20 * y, 60 + 10 * y].astype(np.float32)
    ft = Finetuner("abp", init="none", config=TINY, mode="full", epochs=1, seed=0,
                   use_features=False)
    for est in (ft, ClassicalBaseline("abp")):
        for bad in (bp[:, 0], np.c_[bp, bp[:, 0]]):
            message = ("task 'abp' needs y of shape [rows, 2] (SBP, DBP in mmHg), got shape "
                       f"{list(bad.shape)}")
            with pytest.raises(ValueError, match=re.escape(message)):
                est.fit(x, bad, groups=g)
    no_ppg = np.ones((40, 2), bool)
    no_ppg[:, MODEL_CHANNELS.index("ppg")] = False
    cases = [((bp / 7.5,), {"groups": g}, r"median SBP 14\.67, outside 40-300"),  # kPa
             ((bp[:, ::-1],), {"groups": g}, r"SBP below DBP in 100% of the rows"),
             ((bp, no_ppg), {"groups": g}, r"ppg absent \(mask False\) in every row"),
             ((bp,), {}, r"no groups given: .*e\.g\. ds\.groups\), as task 'abp''s rows "
                         r"are windows")]
    for args, kw, message in cases:
        recwarn.clear()
        ft.fit(x, *args, **kw)
        caught = [w for w in recwarn if issubclass(w.category, UserWarning)]
        assert len(caught) == 1 and caught[0].filename == __file__, [str(w.message)
                                                                     for w in caught]
        assert re.search(message, str(caught[0].message))
    recwarn.clear()
    ft.fit(x, bp, groups=g)  # mmHg, both channels, groups: nothing to say
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]
    assert ft.predict(x).shape == (40, 2)
    with warnings.catch_warnings():  # the generic regression task takes any target count
        warnings.simplefilter("error")
        one = Finetuner("regression", init="none", config=TINY, mode="full", epochs=1, seed=0,
                        use_features=False).fit(x, bp[:, 0], groups=g)
    assert one.predict(x).shape == (40,)  # as y (it had been [40, 1]: p - y broadcast)


def test_init_classical_is_refused_at_construction_naming_the_baseline(tmp_path) -> None:
    """``Finetuner(init="classical")`` points to ClassicalBaseline before any data is read
    (the task verbs' --init classical still passes their check); a missing model folder is
    named at construction too, not at fit."""
    import qualityfm.tasks
    from qualityfm.tasks.finetune import check_init

    with pytest.raises(ValueError, match=r"use qualityfm\.tasks\.ClassicalBaseline\(task\)"):
        Finetuner("af", init="classical")
    assert qualityfm.tasks.ClassicalBaseline is ClassicalBaseline  # the name the error gives
    check_init("classical", classical=True)
    with pytest.raises(FileNotFoundError, match="nowhere does not exist"):
        Finetuner("af", init=tmp_path / "nowhere")
    # a typo of a keyword names the keywords (it had said only that no such model exists)
    with pytest.raises(FileNotFoundError, match=r"model pretrianed does not exist \(an "
                       r"exported model folder, or one of pretrained, none\)"):
        Finetuner("af", init="pretrianed")
    with pytest.raises(FileNotFoundError, match=r"pretrianed: no such model folder \(an "
                       r"exported model folder, or pretrained for the shipped weights\)"):
        qualityfm.load("pretrianed")  # it had said "pretrianed/model.safetensors: missing"


def test_cross_validate_resumes_after_its_last_finished_fold(tmp_path, capsys) -> None:
    """A CV stopped in its third fold resumes there with the same key: folds 1-2 are read
    back, not fitted again, and the result equals an uninterrupted run's; another key (or
    other rows) fits every fold again."""
    from qualityfm.tasks.datasets import TaskDataset

    x, y, g = synthetic(40, seed=3)
    feats = window_features(x, None, 300.0)
    ds = TaskDataset("vt-alarm", x, np.ones((40, 2), bool), y, g.astype(str),
                     np.array([f"r{i}" for i in range(40)]), feats, [])
    fits = []

    class Stop(Exception):
        pass

    def make(stop_at: int | None = None):  # noqa: ANN202
        def build() -> ClassicalBaseline:
            est = ClassicalBaseline("vt-alarm", seed=0, max_iter=20)
            fit = est.fit

            def counted(*args, **kw):  # noqa: ANN002, ANN003, ANN202
                fits.append(1)
                if stop_at is not None and len(fits) == stop_at:
                    raise Stop
                return fit(*args, **kw)

            est.fit = counted
            return est
        return build

    whole = cross_validate(make(), ds, k=4, seed=0, n_boot=20)
    fits.clear()
    folds = tmp_path / ".folds"
    with pytest.raises(Stop):
        cross_validate(make(stop_at=3), ds, k=4, seed=0, n_boot=20, checkpoint=folds,
                       key={"run": 1})
    assert sorted(p.name for p in folds.iterdir()) == ["y-fold0.npz", "y-fold1.npz"]
    fits.clear()
    capsys.readouterr()
    again = cross_validate(make(), ds, k=4, seed=0, n_boot=20, checkpoint=folds,
                           key={"run": 1}, progress=True)
    assert len(fits) == 2  # folds 3 and 4 only
    assert "fold 1/4 read from the checkpoint" in capsys.readouterr().err
    assert again["oof"] == whole["oof"] and again["folds"] == whole["folds"]
    assert again["auroc"] == whole["auroc"]
    fits.clear()
    cross_validate(make(), ds, k=4, seed=0, n_boot=20, checkpoint=folds, key={"run": 2})
    assert len(fits) == 4  # another key: nothing is read back
    fits.clear()
    cross_validate(make(), ds.subset(np.arange(36)), k=4, seed=0, n_boot=20,
                   checkpoint=folds, key={"run": 2})
    assert len(fits) == 4  # other rows: nothing is read back
    # the same rows and labels, a record's signal rewritten under its name: every fold again
    # (the stamp had held ids, targets and groups only, and resumed on the old folds)
    fits.clear()
    cross_validate(make(), ds, k=4, seed=0, n_boot=20, checkpoint=folds, key={"run": 3})
    changed = ds.subset(np.arange(40))
    changed.X[0] = -changed.X[0]
    changed.features[0] += 1.0
    fits.clear()
    cross_validate(make(), changed, k=4, seed=0, n_boot=20, checkpoint=folds, key={"run": 3})
    assert len(fits) == 4
    # a fold file torn or truncated (a copied run folder): that fold runs again, no traceback
    fold0 = folds / "y-fold0.npz"
    for data in (fold0.read_bytes()[:1000], b""):
        fold0.write_bytes(data)
        fits.clear()
        cross_validate(make(), changed, k=4, seed=0, n_boot=20, checkpoint=folds,
                       key={"run": 3})
        assert len(fits) == 1


def test_a_cv_whose_fold_trains_on_one_class_or_group_is_refused_before_any_fit() -> None:
    """One positive record in three folds: the fold that tests it trains on negatives only;
    two records in two folds: each fold trains on one. Said of the data before any fold is
    fitted (it had failed in that fold: 'y holds only class 0', 'groups holds one group')."""
    from qualityfm.tasks.datasets import TaskDataset

    x, _, _ = synthetic(12, seed=4)
    y = np.r_[1, np.zeros(11, int)]
    ds = TaskDataset("vt-alarm", x, np.ones((12, 2), bool), y, np.arange(12).astype(str),
                     np.array([f"r{i}" for i in range(12)]), window_features(x, None, 300.0), [])
    fitted = []

    class Counted(ClassicalBaseline):
        def fit(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            fitted.append(1)
            return super().fit(*args, **kwargs)

    def make() -> ClassicalBaseline:
        return Counted("vt-alarm", seed=0, max_iter=5)

    with pytest.raises(ValueError, match=r"class 1 is held by 1 patient\(s\)/record\(s\): "
                                         r"with 3 folds, fold \d's training rows hold none of "
                                         r"it; give more records of that class$"):
        cross_validate(make, ds, k=3, seed=0, n_boot=10)
    assert fitted == []
    ds.groups = np.r_[np.zeros(6, int), np.ones(6, int)].astype(str)  # two records
    ds.y = np.r_[0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0]
    with pytest.raises(ValueError, match=r"with 2 folds of 2 patients/records, fold 1's "
                                         r"training rows come from one \(\d\), .* than it "
                                         r"fits: give more records$"):  # (2 folds: the fewest)
        cross_validate(make, ds, k=2, seed=0, n_boot=10)  # each fold had failed in its fit
    assert fitted == []


def test_a_validation_split_of_one_class_warns() -> None:
    """One positive group: the validation rows hold no positive, so the model cannot be
    calibrated and its threshold falls back to 0.5; the fit says so."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 5)).astype(np.float32)
    y = np.zeros(40, int)
    y[:4] = 1
    groups = np.array(["p"] * 4 + [f"n{i}" for i in range(36)])
    est = ClassicalBaseline("vt-alarm", crossfit=None, max_iter=10, seed=0)
    with pytest.warns(UserWarning, match=r"hold one class only, so the model is not "
                                         r"calibrated and its threshold is 0.5"):
        est.fit(None, y, groups=groups, features=features)
    assert est.threshold == 0.5


def test_compares_resnet_row_starts_from_weights_its_seed_draws() -> None:
    """The ResNet1d row's network is made before the Finetuner seeds torch: its initial
    weights had followed the process's random state, so two identical compares differed."""
    from qualityfm.tasks.pipeline import _compare_makers

    def weights(seed: int) -> torch.Tensor:
        make = _compare_makers(["resnet"], [], [], False, cfg=None, epochs=1, seed=seed,
                               augment=False, pool=None, test_shifts=None, solver=None,
                               device="cpu", rule={})["ResNet1d from scratch"]
        return torch.cat([p.detach().flatten() for p in make("vt-alarm", 300.0).init.parameters()])

    torch.manual_seed(123)
    first = weights(0)
    torch.manual_seed(456)  # another process state: the same weights
    assert torch.equal(weights(0), first) and not torch.equal(weights(1), first)
    from qualityfm.tasks.pipeline import _used_settings

    resnet = _compare_makers(["resnet"], [], [], False, cfg=None, epochs=1, seed=0,
                             augment=False, pool=None, test_shifts=None, solver=None,
                             device="cpu", rule={})["ResNet1d from scratch"]("vt-alarm", 300.0)
    assert _used_settings(resnet)["pool"] is None  # it pools as it does: no option applies


def test_a_features_table_of_another_width_is_refused_at_predict(tmp_path) -> None:
    """A table with columns added in front had been read from the wrong columns without a
    word (predictions moved by up to 0.97), and the GBM raised a bare IndexError for fewer;
    the fitted width is kept through save and load."""
    from qualityfm.tasks import ClassicalBaseline

    rng = np.random.default_rng(0)
    feats = rng.normal(size=(60, 5)).astype(np.float32)
    y = (feats[:, 0] > 0).astype(int)
    x = rng.uniform(-1, 1, size=(60, 2, 600)).astype(np.float32)  # (flat ones: absent)
    gbm = ClassicalBaseline("binary", crossfit=None, max_iter=5).fit(None, y, features=feats)
    head = Finetuner("binary", init="none", mode="linear", solver="lbfgs",
                     use_features=True).fit(x, y, features=feats)
    for est, windows in ((gbm, None), (head, x)):
        loaded = type(est).load(est.save(tmp_path / type(est).__name__))
        for other in (np.c_[rng.normal(size=(60, 2)), feats], feats[:, :4]):
            with pytest.raises(ValueError, match=rf"features hold {other.shape[1]} columns; "
                                                 r"the model was fitted on 5"):
                loaded.predict_proba(windows, features=other)
        np.testing.assert_allclose(loaded.predict_proba(windows, features=feats),
                                   est.predict_proba(windows, features=feats), atol=1e-6)


def test_the_gbm_never_stops_early_on_its_own_split() -> None:
    """sklearn's early stopping turned itself on past 10,000 rows, on a split blind to groups,
    for the final model alone (its calibration and threshold came from cross-fitted models
    that ran every iteration)."""
    from qualityfm.tasks import ClassicalBaseline

    rng = np.random.default_rng(0)
    feats = rng.normal(size=(14_000, 3)).astype(np.float32)  # its fit rows past 10,000
    y = (feats[:, 0] + rng.normal(size=len(feats)) > 0).astype(int)
    gbm = ClassicalBaseline("binary", crossfit=None, max_iter=5).fit(None, y, features=feats)
    assert not gbm.models[0].do_early_stopping_


def test_config_is_checked_when_made_and_a_custom_encoder_is_not_saved(tmp_path) -> None:
    """A dict config (or an unknown preset) had failed only at fit; a config beside
    init="pretrained" had been ignored without a word; a fine-tune of a custom encoder
    module had crashed in save (or written a folder load refused)."""
    from torch import nn

    with pytest.raises(FileNotFoundError, match="config 'tiny' is neither a preset"):
        Finetuner("vt-alarm", init="none", config="tiny")
    bad = tmp_path / "bad.json"
    bad.write_text('{"d_model": -5}')
    with pytest.raises(ValueError, match=r"config .*bad\.json: .*d_model"):  # (the file had
        Finetuner("vt-alarm", init="none", config=str(bad))  # gone unnamed)
    with pytest.raises(ValueError, match=r"config sets the architecture of init='none' only; "
                                         r"init='pretrained' brings its own"):
        Finetuner("vt-alarm", init="pretrained", config="base")
    x = np.random.default_rng(0).normal(size=(24, 2, 600)).astype(np.float32)
    y = np.arange(24) % 2
    ft = Finetuner("vt-alarm", init="none", config={**TINY.to_dict()}, epochs=1, seed=0,
                   use_features=False).fit(x, y)  # a dict of the config's fields
    assert ft.predict(x).shape == (24,)
    with pytest.raises(ValueError, match=r"config in_channels=1: the task models read 2 "
                                         r"channels \(ppg, ecg_ii\)"):  # (a torch error had
        Finetuner("vt-alarm", init="none", config={**TINY.to_dict(), "in_channels": 1})  # come)
    # settings given as NumPy scalars (a grid from np.arange) save and load (save had failed
    # in json after the whole fit)
    g = np.arange(24) // 2
    for est in (ClassicalBaseline("vt-alarm", max_iter=np.int64(5), target_tpr=np.float32(0.9),
                                  val_fraction=np.float32(0.25), crossfit=np.int64(2)),
                Finetuner("vt-alarm", init="none", config=TINY, mode="linear", solver="lbfgs",
                          use_features=np.True_, augment=np.False_,
                          val_fraction=np.float32(0.25))):
        est.fit(x, y, groups=g)
        back = load_estimator(est.save(tmp_path / type(est).__name__))
        np.testing.assert_allclose(back.predict_proba(x), est.predict_proba(x), atol=1e-6)

    class Lin(nn.Module):
        dim = 8

        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(2, 8)

        def forward(self, x, mask=None):  # noqa: ANN001, ANN201
            return self.proj(x.mean(-1))

    own = Finetuner("binary", init=Lin(), mode="full", epochs=1, use_features=False).fit(x, y)
    with pytest.raises(ValueError, match=r"custom encoder module \(Lin\) cannot be saved"):
        own.save(tmp_path / "own")
    assert not (tmp_path / "own").exists()


def test_fits_that_would_go_wrong_quietly_are_refused_or_made_safe(tmp_path) -> None:
    """An audit's cases: a 4-class closed-form head whose inner fold lacked a class skews
    its calibration (logits of -30), now said; a feature column constant over the training
    rows had turned any other value into a full-bound input; a fit whose every epoch
    diverged returned the untrained network; the GBM without a finite column failed inside
    sklearn; a loaded network refitted with the default recipe, not its own."""
    x, y, g = synthetic(80, seed=5)
    y4 = y.copy()
    y4[:2] = 3  # one group holds class 3: the inner fold holding it out trains without it
    y4[2:6] = 2
    with pytest.warns(UserWarning, match="af4: an inner fold of the closed-form head trains "
                                         "without one of the classes"):
        Finetuner("af4", init="none", config=TINY, mode="linear", solver="lbfgs",
                  use_features=False, seed=0).fit(x, y4, groups=g)
    feats = window_features(x, None, 300.0)
    feats[:, 0] = 3.0  # constant over every training row
    ft = Finetuner("vt-alarm", init="none", config=TINY, mode="linear", solver="adamw",
                   epochs=2, seed=0).fit(x, y, groups=g, features=feats)
    moved = feats.copy()
    moved[:, 0] = 3.0001
    np.testing.assert_array_equal(ft.predict_proba(x, features=moved),
                                  ft.predict_proba(x, features=feats))
    with pytest.raises(FloatingPointError, match="no epoch of 2 gave a finite validation"):
        Finetuner("vt-alarm", init="none", config=TINY, mode="full", epochs=2, lr=1e30,
                  head_lr=1e30, use_features=False, seed=0).fit(x, y, groups=g)
    with pytest.raises(ValueError, match="no feature column of the task holds a finite value"):
        ClassicalBaseline("vt-alarm", seed=0).fit(x, y, None, g,
                                                   np.full_like(feats, np.nan))
    ft = Finetuner("vt-alarm", init="none", config=TINY, mode="full", epochs=np.int64(2),
                   lr=np.float32(1e-3), class_weight=False, augment=False, use_features=False,
                   seed=0)  # NumPy numbers too: JSON writes them
    from qualityfm.tasks import load_estimator

    loaded = load_estimator(ft.fit(x, y, groups=g).save(tmp_path / "run"))
    assert (loaded.epochs, loaded.class_weight, loaded.augment) == (2, False, False)
    assert loaded.lr == pytest.approx(1e-3)


def test_a_damaged_run_file_is_named(tmp_path) -> None:
    """A truncated finetune.json had said "Expecting value: line 34 column 13" naming no file,
    an incomplete one raised a bare KeyError."""
    from qualityfm.tasks import load_estimator

    run = tmp_path / "run"
    run.mkdir()
    (run / "finetune.json").write_text('{"task": "vt-alarm", "backbone": "qual')
    with pytest.raises(ValueError, match=r"run[/\\]finetune\.json: truncated or damaged run "
                                         r"file \(.*\); fit the run again"):
        load_estimator(run)
    (run / "finetune.json").write_text('{"task": "vt-alarm"}')
    with pytest.raises(ValueError, match=r"finetune\.json: incomplete run file \(no "
                                         r"'backbone'\); fit the run again"):
        load_estimator(run)
    (run / "finetune.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"finetune\.json: no run file \(a JSON list"):
        load_estimator(run)


def test_a_config_may_be_an_exported_model_or_its_config_file(tmp_path, monkeypatch) -> None:
    """--config MODEL (or its config.json) gives the architecture of a pre-trained model for
    a scratch row: an export's config.json had been refused for its 'format' and 'model'
    keys, a folder read as no file."""
    from qualityfm.tasks.finetune import resolve_model_config
    from qualityfm.train.export import FORMAT

    cfg = QualityFMConfig(**{**TINY.to_dict(), "fs": 250.0, "n_samples": 2500})
    folder = tmp_path / "m250"  # an export's two files (its weights are not read here)
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"format": FORMAT, "model": cfg.to_dict()}))
    (folder / "model.safetensors").write_bytes(b"")
    assert resolve_model_config(folder) == cfg
    local = tmp_path / "pretrained"  # a folder of that name, not the shipped weights
    local.mkdir()
    for f in folder.iterdir():
        (local / f.name).write_bytes(f.read_bytes())
    monkeypatch.chdir(tmp_path)
    assert resolve_model_config("./pretrained") == cfg
    assert resolve_model_config(folder / "config.json") == cfg
    (tmp_path / "plain.json").write_text(json.dumps(cfg.to_dict()))
    assert resolve_model_config(tmp_path / "plain.json") == cfg
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match=r"bad\.json: truncated or damaged model config"):
        resolve_model_config(tmp_path / "bad.json")


@pytest.mark.parametrize("mode", ["full", "linear"])
def test_fine_tuning_decays_no_bias_norm_or_embedding(mode: str, monkeypatch) -> None:
    """Fine-tuning had built its own AdamW groups, decaying biases, norms and the absent
    channel's embedding (pre-training spares them, as the model's own groups say)."""
    import qualityfm.tasks.finetune as F
    from qualityfm.model.network import decay_split

    seen = []
    adamw = torch.optim.AdamW

    def capture(groups, **kwargs):  # noqa: ANN001, ANN202
        seen.append((groups, kwargs))
        return adamw(groups, **kwargs)

    monkeypatch.setattr(F.torch.optim, "AdamW", capture)
    x, y, g = synthetic(40)
    ft = Finetuner("vt-alarm", init="none", config=TINY, mode=mode, solver="adamw", epochs=1,
                   seed=0, use_features=False, weight_decay=0.05)
    ft.fit(x, y, groups=g)
    [(groups, kwargs)] = seen
    decayed = {id(p) for grp in groups if grp.get("weight_decay", kwargs["weight_decay"]) > 0
               for p in grp["params"]}
    trained = {id(p) for grp in groups for p in grp["params"]}
    assert sum(len(grp["params"]) for grp in groups) == len(trained)  # each once
    want = {id(p) for p in ft.net.parameters() if p.requires_grad}
    assert trained == want
    spared = [p for module in (ft.net.backbone, ft.net.head) for p in decay_split(module)[1]]
    assert spared and not {id(p) for p in spared} & decayed
    assert any(p.ndim == 1 for p in spared)  # biases and norms among them
    weights = {id(p) for module in (ft.net.backbone, ft.net.head)
               for p in decay_split(module)[0] if p.requires_grad}
    assert weights and weights == decayed


def test_a_cross_validation_names_the_records_of_rows_lacking_a_channel(recwarn) -> None:
    """A fold's test rows without a channel every training window held were warned about by
    their positions in the fold (compare printed "(28, 51)"); they are named by record (a
    record of two windows, r5@0 and r5@30, once)."""
    from qualityfm.quality.features import feature_names
    from qualityfm.tasks import TaskDataset, cross_validate

    x, y, g = synthetic(40, seed=3)
    mask = np.ones((40, 2), bool)
    mask[[10, 11], MODEL_CHANNELS.index("ppg")] = False  # both rows of group 5
    x[[10, 11], MODEL_CHANNELS.index("ppg")] = 0.0
    feats = window_features(x, mask, 300.0)
    ds = TaskDataset("vt-alarm", x, mask, y, g.astype(str),  # windows of records, by id
                     np.array([f"r{i}@{30 * (k % 2)}" for k, i in enumerate(g)]), feats,
                     feature_names())
    cross_validate(lambda: ClassicalBaseline("vt-alarm", max_iter=5, crossfit=None), ds, k=4,
                   n_boot=10)
    said = [str(w.message) for w in recwarn if "is absent in" in str(w.message)]
    assert len(said) == 1 and re.fullmatch(r"fold \d: ppg is absent in 2 row\(s\) \(records "
                                           r"r5\), while every window .*", said[0]), said


def test_a_run_saved_with_settings_now_refused_still_loads(tmp_path) -> None:
    """Training settings are checked at construction; a run saved before with one now
    refused (patience=2.0) still loads and predicts, the setting kept as saved."""
    import json

    x, y, g = synthetic(40, seed=4)
    ft = Finetuner("vt-alarm", init="none", config=TINY, epochs=1, seed=0,
                   use_features=False).fit(x, y, groups=g)
    out = ft.save(tmp_path / "m")
    meta_path = out / "finetune.json"
    meta = json.loads(meta_path.read_text())
    meta["training"]["patience"] = 2.0
    meta_path.write_text(json.dumps(meta))
    back = Finetuner.load(out)
    assert back.patience == 2.0
    np.testing.assert_allclose(back.predict_proba(x), ft.predict_proba(x), atol=1e-6)
    with pytest.raises(ValueError, match="patience must be an int >= 1, got 2.0"):
        Finetuner("vt-alarm", init="none", config=TINY, patience=2.0)
    Finetuner("vt-alarm", init="none", config=TINY, lr=0.0)  # a frozen encoder: allowed


def _generic(task: str, y: np.ndarray, n: int = 40):
    """A TaskDataset of task ``task`` on :func:`synthetic` windows with labels ``y``."""
    from qualityfm.tasks.datasets import TaskDataset

    x, _, g = synthetic(n)
    return TaskDataset(task, x, np.ones((n, 2), bool), y, g.astype(str),
                       np.array([f"r{i}" for i in range(n)]), np.zeros((n, 0)), [])


def test_cross_validate_refuses_a_target_the_model_does_not_take_and_sorts_mixed_groups(
        tmp_path) -> None:
    """target="Rhythm" had run on ds.y, an af4 model on 0/1 labels (read as N and A); groups
    of text and numbers had failed to sort in the split (fit takes them); a fold short of an
    open multiclass task's top class had failed to broadcast; a checkpoint without a key had
    given the first model's folds to another."""
    y = np.arange(40) % 2
    ds = _generic("af", y)
    ds.rhythm = np.arange(40) % 4
    with pytest.raises(ValueError, match=r"target must be 'y' or 'rhythm', got 'Rhythm'"):
        cross_validate(lambda: ClassicalBaseline("af"), ds, k=2, target="Rhythm")
    with pytest.raises(ValueError, match=r"an 'af4' model \(N, A, O, ~\) is cross-validated "
                                         r"on target='rhythm'"):
        cross_validate(lambda: ClassicalBaseline("af4"), ds, k=2)
    with pytest.raises(ValueError, match=r"target='rhythm' \(N, A, O, ~\) needs a 4-class "
                                         r"model \(task 'af4'\), not a 'af' one"):
        cross_validate(lambda: ClassicalBaseline("af"), ds, k=2, target="rhythm")
    mixed = np.array([i // 2 if i < 20 else f"B{i // 2}" for i in range(40)], dtype=object)
    as_text = cross_validate(lambda: ClassicalBaseline("af", max_iter=10),
                             _generic("af", y).subset(np.arange(40)), k=2, n_boot=10)
    ds.groups = mixed
    res = cross_validate(lambda: ClassicalBaseline("af", max_iter=10), ds, k=2, n_boot=10)
    assert len(res["oof"]["fold"]) == 40 and np.isfinite(as_text["auroc"])
    ds.groups = np.where(np.arange(40) == 3, None, mixed)
    with pytest.raises(ValueError, match=r"the dataset's groups is missing \(None or NaN\) in "
                                         r"rows 3"):
        cross_validate(lambda: ClassicalBaseline("af", max_iter=10), ds, k=2, n_boot=10)
    top = np.arange(40) % 2
    top[[0, 1]] = 2  # class 2 in one group: one fold trains without it
    multi = _generic("af", top)
    multi.groups = (np.arange(40) // 2).astype(str)
    res = cross_validate(lambda: ClassicalBaseline("multiclass", max_iter=10, crossfit=None),
                         multi, k=3, n_boot=10)
    assert np.shape(res["oof"]["score"]) == (40, 3)
    # one checkpoint folder, no key, two models: the second fits its own folds
    folds = tmp_path / ".folds"
    a = cross_validate(lambda: ClassicalBaseline("af", max_iter=10), _generic("af", y), k=2,
                       n_boot=10, checkpoint=folds)
    b = cross_validate(lambda: ClassicalBaseline("af", max_iter=3), _generic("af", y), k=2,
                       n_boot=10, checkpoint=folds)
    fresh = cross_validate(lambda: ClassicalBaseline("af", max_iter=3), _generic("af", y), k=2,
                           n_boot=10)
    assert b["oof"] == fresh["oof"] and a["oof"] != fresh["oof"]
    # with a key, the caller's word (the CLI's leaves out options a run ignores): read back
    keyed = [cross_validate(lambda it=it: ClassicalBaseline("af", max_iter=it),
                            _generic("af", y), k=2, n_boot=10, checkpoint=tmp_path / "keyed",
                            key={"run": 1}) for it in (10, 3)]
    assert keyed[0]["oof"] == keyed[1]["oof"] == a["oof"]
    # an init given as a path, or a network, is part of the settings (a Path had been left
    # out: a second encoder had read the first one's folds)
    from pathlib import Path
    from types import SimpleNamespace

    from torch import nn

    from qualityfm.tasks.evaluate import _settings_of

    assert _settings_of(SimpleNamespace(init=Path("A"))) != _settings_of(
        SimpleNamespace(init=Path("B")))
    torch.manual_seed(0)
    one, two = nn.Linear(2, 2), nn.Linear(2, 2)
    assert _settings_of(SimpleNamespace(init=one)) != _settings_of(SimpleNamespace(init=two))
    assert _settings_of(SimpleNamespace(init=one, verbose=True, device="cpu")) == \
        _settings_of(SimpleNamespace(init=one))
    # a path's weights, not its text alone (a model retrained there had resumed the old
    # model's folds)
    weights = tmp_path / "m" / "base.safetensors"
    weights.parent.mkdir()
    weights.write_bytes(b"0" * 10)
    (tmp_path / "m" / "base.json").write_text("{}")
    before = _settings_of(SimpleNamespace(init=str(tmp_path / "m")))
    weights.write_bytes(b"1" * 20)
    assert _settings_of(SimpleNamespace(init=str(tmp_path / "m"))) != before
    # another task's model, an estimator given for its maker, k that is no whole number:
    # named (a vt-alarm model had run on af rows, its threshold rule and all)
    for make, k, said in ((lambda: ClassicalBaseline("vt-alarm"), 2,
                           "the estimator is made for task 'vt-alarm', the dataset is of task "
                           "'af'"),
                          (ClassicalBaseline("af"), 2, "make must be a function returning"),
                          (lambda: None, 2, r"make\(\) must return an estimator"),
                          (lambda: ClassicalBaseline("af"), 2.5, "k must be an int >= 2")):
        with pytest.raises(ValueError, match=said):
            cross_validate(make, _generic("af", y), k=k)

    class Small(ClassicalBaseline):  # a class makes new estimators: a maker too
        def __init__(self) -> None:
            super().__init__("af", max_iter=3)

    assert cross_validate(Small, _generic("af", y), k=2, n_boot=10)["oof"] == fresh["oof"]


@pytest.mark.parametrize("n_classes", [3, 5])
def test_cross_validate_reports_a_generic_multiclass_model_over_its_own_classes(
        n_classes: int) -> None:
    """Any multiclass model had been reported as the AF rhythm (N, A, O, ~): an IndexError
    with 3 or 5 classes, a macro F1 over three of four classes and a noisy AUROC otherwise."""
    y = np.arange(40) % n_classes
    res = cross_validate(lambda: ClassicalBaseline("multiclass"), _generic("af", y), k=2,
                         n_boot=50)
    pred = np.asarray(res["oof"]["score"]).argmax(axis=1)
    assert sorted(res["class_f1"]) == [str(c) for c in range(n_classes)]
    assert "noisy_auroc" not in res
    assert res["accuracy"] == pytest.approx(np.mean(pred == y))
    want = np.mean([M.f1((y == c).astype(int), (pred == c).astype(int))
                    for c in range(n_classes)])
    assert res["macro_f1"] == pytest.approx(want)


@pytest.mark.parametrize("targets", [1, 3])
def test_cross_validate_reports_generic_regression_targets(targets: int) -> None:
    """A 1-D target had failed after the first fold (IndexError); three targets had been
    reported as SBP and DBP with AAMI and BHS verdicts. Predictions of a model fitted on y
    [N] are [N], as y (they had been [N, 1]: ``p - y`` broadcast to [N, N])."""
    rng = np.random.default_rng(0)
    y = rng.normal(50, 10, (40, targets)).astype(np.float32)
    y = y[:, 0] if targets == 1 else y
    res = cross_validate(lambda: ClassicalBaseline("regression"), _generic("abp", y), k=2,
                         n_boot=50)
    assert "sbp" not in res and len(res["targets"]) == targets
    pred = np.asarray(res["oof"]["pred"]).reshape(40, -1)
    y2 = y.reshape(40, -1)
    for k, t in enumerate(res["targets"]):
        assert t["mae"] == pytest.approx(np.mean(np.abs(pred[:, k] - y2[:, k])), rel=1e-6)
    x, _, g = synthetic(40)
    p = ClassicalBaseline("regression").fit(x, y, groups=g).predict(x)
    assert p.shape == y.shape


def test_float_binary_labels_are_stratified_as_classes_in_cross_validation() -> None:
    """0.0/1.0 labels had been binned as regression targets: folds of 0 and 2 positives where
    integer labels gave one each, a fold AUROC of NaN."""
    y = np.zeros(40, int)
    y[[0, 10, 20, 30]] = 1
    ints = cross_validate(lambda: ClassicalBaseline("binary"), _generic("vt-alarm", y), k=4,
                          n_boot=20)
    floats = cross_validate(lambda: ClassicalBaseline("binary"),
                            _generic("vt-alarm", y.astype(float)), k=4, n_boot=20)
    assert floats["oof"]["fold"] == ints["oof"]["fold"]
    assert floats["auroc"] == ints["auroc"]
    three = np.arange(40) % 3
    folds = [cross_validate(lambda: ClassicalBaseline("multiclass"), _generic("af", labels),
                            k=4, n_boot=20)["oof"]["fold"] for labels in (three, three * 1.0)]
    assert folds[0] == folds[1]  # whole-number floats of a multiclass task: classes too


def test_features_a_model_does_not_read_are_named_and_fs_is_checked() -> None:
    """Features given to a Finetuner without use_features had been ignored without a word;
    an fs of the wrong type had failed inside the fit."""
    x, y, g = synthetic(40)
    ft = Finetuner("binary", init="none", config=TINY, epochs=1, batch_size=16)
    with pytest.warns(UserWarning, match="features given, but this binary model does not "
                                         "read them"):
        ft.fit(x, y, groups=g, features=np.ones((40, 3)))
    for fs in ("300", None, float("nan"), 0, True):
        with pytest.raises(ValueError, match=r"fs must be the windows' sampling rate in Hz"):
            Finetuner("binary", init="none", config=TINY, fs=fs)


def test_a_loaded_model_refits_to_the_same_model(tmp_path) -> None:
    """A backbone loaded from weights is built (drawing from the generator) before the head,
    a loaded model's module is not: the refit's head had started elsewhere (probabilities up
    to 0.87 apart)."""
    x, y, g = synthetic(40)
    ft = Finetuner("binary", init="pretrained", mode="linear", solver="adamw", epochs=2,
                   batch_size=16, seed=3, use_features=False)
    first = ft.fit(x, y, groups=g).predict_proba(x)
    back = Finetuner.load(ft.save(tmp_path / "run"))
    np.testing.assert_array_equal(back.fit(x, y, groups=g).predict_proba(x), first)


def test_a_full_fine_tune_of_a_flex_encoder_on_the_cpu_is_refused_by_name() -> None:
    """torch's "does not support backward on CPU" had come from inside the first step."""
    import dataclasses

    x, y, g = synthetic(40)
    flex = dataclasses.replace(TINY, attention="flex")
    with pytest.raises(ValueError, match="attention 'flex' cannot train on CPU"):
        Finetuner("binary", init="none", config=flex, mode="full", epochs=1,
                  device="cpu").fit(x, y, groups=g)


def test_reports_of_generic_models_name_their_own_targets_and_classes(tmp_path) -> None:
    """report() had failed on a generic regression ("continuous is not supported") and
    labelled a 5-class model's confusion matrix N, A, O, ~ (its fifth class dropped)."""
    from qualityfm.tasks import report

    rng = np.random.default_rng(0)
    y = rng.normal(50, 10, 40).astype(np.float32)
    reg = cross_validate(lambda: ClassicalBaseline("regression"), _generic("abp", y), k=2,
                         n_boot=20)
    table = report(reg, tmp_path / "reg", "cv")
    md = table["md"].read_text()
    assert "target 0 MAE" in md and "SBP" not in md and set(table) == {"json", "md"}
    five = cross_validate(lambda: ClassicalBaseline("multiclass"),
                          _generic("af", np.arange(40) % 5), k=2, n_boot=20)
    drawn = report(five, tmp_path / "five", "cv")
    assert "macro_f1 (N, A, O)" not in drawn["md"].read_text() and "confusion" in drawn


def test_an_untrained_encoders_head_is_drawn_apart_from_its_stem() -> None:
    """Seeded alike, the head's first weights had been a scaled copy of the untrained stem's
    (correlation 1)."""
    x, y, g = synthetic(40)
    ft = Finetuner("binary", init="none", config=TINY, mode="linear", solver="adamw",
                   epochs=1, lr=1e-12, head_lr=1e-12, batch_size=16,
                   use_features=False).fit(x, y, groups=g)  # the head as it was drawn
    head = ft.net.head.weight.detach().flatten()
    stem = next(ft.net.backbone.parameters()).detach().flatten()[:len(head)]
    assert abs(float(torch.corrcoef(torch.stack([head, stem]))[0, 1])) < 0.5


def test_rows_holding_a_channel_no_fitted_window_held_are_named(tmp_path) -> None:
    """A model fitted on ECG alone, given PPG too, had read it untrained without a word (its
    probabilities moved by up to 0.11); kept across save and load."""
    x, y, g = synthetic(40)
    ecg_only = np.zeros((40, 2), bool)
    ecg_only[:, MODEL_CHANNELS.index("ecg_ii")] = True
    est = ClassicalBaseline("binary", max_iter=5).fit(x, y, ecg_only, groups=g)
    back = load_estimator(est.save(tmp_path / "m"))
    for model in (est, back):
        with pytest.warns(UserWarning, match=r"ppg is present in 40 row\(s\) \(0, 1, .*\), "
                                             r"while no window the model was fitted on held "
                                             r"it: the model reads it untrained there"):
            model.predict_proba(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.predict_proba(x, ecg_only)


def test_a_stopped_fit_is_keyed_by_its_model_folder_however_it_is_spelt(tmp_path,
                                                                        monkeypatch) -> None:
    """'--init ../model/' from one folder and '../../model' from another had keyed other
    runs: a stopped finetune started over unsaid, its saved epochs replaced."""
    from qualityfm.tasks.finetune import init_identity

    (tmp_path / "model").mkdir()
    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a")
    first = init_identity("../model/")
    monkeypatch.chdir(tmp_path / "a" / "b")
    assert init_identity("../../model") == first == str((tmp_path / "model").resolve())
    assert [init_identity(n) for n in ("pretrained", "none", "pretrained:base")] == [
        "pretrained", "none", "pretrained:base"]
    from safetensors.torch import save_file

    from qualityfm.train.export import CONFIG_NAME, FORMAT, WEIGHTS_NAME

    save_file({k: v.contiguous() for k, v in QualityFM(TINY).state_dict().items()},
              str(tmp_path / "model" / WEIGHTS_NAME),
              metadata={"format": FORMAT, "config": json.dumps(TINY.to_dict())})
    (tmp_path / "model" / CONFIG_NAME).write_text(json.dumps({"format": FORMAT,
                                                              "model": TINY.to_dict()}))
    monkeypatch.chdir(tmp_path / "a")
    first = Finetuner("vt-alarm", init="../model/")._settings_key()
    monkeypatch.chdir(tmp_path / "a" / "b")
    assert Finetuner("vt-alarm", init="../../model")._settings_key() == first


def test_evaluate_names_the_records_of_rows_a_model_never_saw_so(tmp_path) -> None:
    """evaluate had named such rows by position ("rows 0, 1, 2, 3, 4 and 35 more")."""
    from qualityfm.tasks.datasets import TaskDataset
    from qualityfm.tasks.pipeline import evaluate_estimator

    x, y, g = synthetic(40)
    ecg_only = np.zeros((40, 2), bool)
    ecg_only[:, MODEL_CHANNELS.index("ecg_ii")] = True
    est = ClassicalBaseline("vt-alarm", max_iter=5).fit(x, y, ecg_only, groups=g)
    ds = TaskDataset("vt-alarm", x, np.ones((40, 2), bool), y, g.astype(str),
                     np.array([f"r{i // 2}" for i in range(40)]), np.zeros((40, 0)), [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluate_estimator(est, ds, n_boot=10)
    said = [str(w.message) for w in caught if "is present in" in str(w.message)]
    assert len(said) == 1 and "(records r0, r1, r2" in said[0], said


def test_the_classical_baseline_checks_its_inputs_as_the_finetuner_does() -> None:
    """The baseline had answered a window of no channel (0.89, the alarm suppressed), failed
    in an IndexError on a features table of the wrong width, taken a list mask or one of the
    wrong shape beside features, and refused 1.5 models only after computing the features."""
    x, y, g = synthetic(40)
    est = ClassicalBaseline("vt-alarm", seed=0, crossfit=2, max_iter=5).fit(x, y, groups=g)
    blind = np.zeros((2, 2), bool)
    with pytest.raises(ValueError, match=r"2 window\(s\) have no channel present \(mask all "
                                         r"False.*keep the alarm"):
        est.predict(x[:2], blind)
    for no_columns in (None, np.zeros((2, 0))):  # a TaskDataset's features of no column
        with pytest.raises(ValueError, match=r"every channel flat, no mask given"):
            est.predict_proba(np.zeros_like(x[:2]), None, no_columns)
    with pytest.raises(ValueError, match=r"features hold 5 columns; the model was fitted on "
                                         r"237"):
        est.predict(x[:2], None, np.zeros((2, 5)))
    F = window_features(x, None, 300.0)
    feat = ClassicalBaseline("vt-alarm", seed=0, crossfit=2, max_iter=5)
    feat.fit(None, y, [[True, False]] * 40, groups=g, features=F)  # a list, as numpy takes
    assert feat.always_present == [True, False]
    for mask in (np.ones((3, 5), bool), np.ones((40, 2)) * 2):
        with pytest.raises(ValueError, match=r"mask must be"):
            ClassicalBaseline("vt-alarm", crossfit=2).fit(None, y, mask, groups=g, features=F)
    with pytest.raises(ValueError, match=r"mask must be \[rows, channels\] = \[2, 2\]"):
        feat.predict(None, np.ones((2, 7), bool), F[:2])
    # a model of the user's own table, asked without it: the window features' first columns
    # had been read as its own (accuracy 0.95 -> 0.5, a warning made for the other case)
    own = np.c_[y + np.random.default_rng(0).normal(0, 0.3, 40), np.zeros((40, 4))]
    mine = ClassicalBaseline("vt-alarm", seed=0, crossfit=2, max_iter=5).fit(
        x, y, groups=g, features=own)
    with pytest.raises(ValueError, match=r"fitted on a features table of 5 columns, not the "
                                         r"classical window features \(237\)"):
        mine.predict(x[:2])
    assert mine.predict(x[:2], None, own[:2]).shape == (2,)
    for bad in ("0.2", None):  # (had failed in a comparison's TypeError)
        with pytest.raises(ValueError, match=r"val_fraction must be a number in \(0, 0.5\]"):
            ClassicalBaseline("vt-alarm", val_fraction=bad)
    for bad in (3.0, F[0]):  # not a table: said before the mask is sized by its rows
        with pytest.raises(ValueError, match=r"features must be \[rows, columns\]"):
            feat.predict(None, np.ones((1, 2), bool), bad)
    for setting, value in (("n_models", 1.5), ("max_iter", -1), ("learning_rate", 0.0),
                           ("max_features", 1.5), ("crossfit", 2.5)):
        with pytest.raises(ValueError, match=rf"{setting} must be"):
            ClassicalBaseline("vt-alarm", **{setting: value})


def test_features_given_to_a_model_that_reads_none_are_said_at_prediction_too() -> None:
    x, y, g = synthetic(40)
    est = Finetuner("binary", init=QualityFM(TINY), mode="linear", solver="lbfgs", seed=0,
                    use_features=False).fit(x, y, groups=g)
    with pytest.warns(UserWarning, match=r"features given, but this binary model does not "
                                          r"read them"):
        est.predict(x[:4], None, np.full((4, 3), 7.0))


def test_fits_and_inference_take_what_a_caller_may_hand_them() -> None:
    """A fit by gradient steps under the caller's no_grad() or inference_mode() had failed in
    backward; a reversed view (channels swapped by [:, ::-1]) had failed in torch.from_numpy
    at embed_windows; test_shifts=2.7 had been taken as 2."""
    from qualityfm.inference import embed_windows

    x, y, g = synthetic(40)
    ref = Finetuner("vt-alarm", init="none", config=TINY, epochs=1, batch_size=16, seed=0,
                    use_features=False).fit(x, y, groups=g).predict_proba(x)
    for context in (torch.no_grad, torch.inference_mode):
        with context():
            ft = Finetuner("vt-alarm", init="none", config=TINY, epochs=1, batch_size=16,
                           seed=0, use_features=False).fit(x, y, groups=g)
        np.testing.assert_array_equal(ft.predict_proba(x), ref)
    assert torch.is_grad_enabled()
    model = QualityFM(TINY)
    swapped = x[:, ::-1]
    np.testing.assert_array_equal(embed_windows(model, swapped, np.ones((40, 2), bool)[:, ::-1]),
                                  embed_windows(model, np.ascontiguousarray(swapped), None))
    with pytest.raises(ValueError, match=r"got shape \(\)$"):  # as given, not made 1-D
        embed_windows(model, np.float32(1.0), None)
    with pytest.raises(ValueError, match=r"mask must be \[batch, 2\] matching the input "
                                         r"\(40, 2, 600\), got \(40, 3\)"):  # not (40, 2, 0)
        embed_windows(model, x, np.ones((40, 3), bool))
    for bad in (2.7, "3", float("nan")):
        with pytest.raises(ValueError, match=r"test_shifts must be an int >= 1, got"):
            Finetuner("binary", init="none", test_shifts=bad)
    with pytest.raises(ValueError, match=r"test_shifts \(--test-shifts\) 601 exceeds the "
                                         r"windows' 600 samples"):
        Finetuner("vt-alarm", init="none", config=TINY, epochs=1, test_shifts=601,
                  use_features=False).fit(x, y, groups=g)  # (1e9 had run for hours)
    for name in ("class_weight", "use_features", "augment", "verbose", "keep_checkpoint"):
        with pytest.raises(ValueError, match=rf"{name} must be True or False.*, got 'no'"):
            Finetuner("binary", init="none", **{name: "no"})  # had been read as True
    with pytest.raises(ValueError, match=r"checkpoint must be a file path or None, got 5"):
        Finetuner("binary", init="none", checkpoint=5)  # (a raw TypeError)


def test_a_one_channel_encoder_is_named_for_what_it_reads() -> None:
    """A 1-channel model had said "the model reads 1 (ppg, ecg_ii)"; the classical features of
    1-channel windows had failed with "x must be [N, 2, T]", naming no way out."""
    x, y, g = synthetic(40)
    one = x[:, 1:]
    with pytest.raises(ValueError, match=r"the classical features are computed from windows of "
                                         r"2 channels \(ppg, ecg_ii\); X holds 1: pass features= "
                                         r"or use_features=False"):
        Finetuner("vt-alarm", init=ResNet1d(in_channels=1, width=8), epochs=1,
                  batch_size=16).fit(one, y, groups=g)
    ft = Finetuner("vt-alarm", init=ResNet1d(in_channels=1, width=8), epochs=1, batch_size=16,
                   use_features=False).fit(one, y, groups=g)
    with pytest.raises(ValueError, match=r"X holds 2 channels on axis 1; the model reads 1 as "
                                         r"\[rows, channels, samples\]"):
        ft.predict_proba(x)


@pytest.mark.parametrize("init", ["none", "resnet"])
def test_a_caller_default_dtype_of_float64_changes_nothing(tmp_path, init: str) -> None:
    """Under a caller's torch.set_default_dtype(torch.float64) the networks had been built in
    float64 and refused the float32 windows ("Input type ... and weight type ... should be the
    same"): they are built in float32, give what a float32 default gives, and the caller's
    default stays."""
    x, y, g = synthetic(40)

    def fitted() -> Finetuner:
        backbone = "none" if init == "none" else ResNet1d(width=8)
        return Finetuner("vt-alarm", init=backbone, config=TINY if init == "none" else None,
                         epochs=1, batch_size=16, seed=0, use_features=False
                         ).fit(x, y, groups=g)

    torch.manual_seed(0)
    ref = fitted().predict_proba(x)
    saved = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(0)
        ft = fitted()
        np.testing.assert_allclose(ft.predict_proba(x), ref, rtol=0, atol=1e-6)
        assert torch.get_default_dtype() == torch.float64
        ft.save(tmp_path / "m")
        np.testing.assert_allclose(Finetuner.load(tmp_path / "m").predict_proba(x), ref,
                                   rtol=0, atol=1e-6)
        assert {p.dtype for p in QualityFM(TINY).parameters()} == {torch.float32}
    finally:
        torch.set_default_dtype(saved)


def test_a_fit_of_no_rows_is_refused_as_such() -> None:
    """No rows had been an IndexError (the first group of none), then a fold-count message."""
    with pytest.raises(ValueError, match="no rows to fit"):
        ClassicalBaseline("vt-alarm").fit(np.zeros((0, 2, 3000), np.float32), np.zeros(0, int),
                                          groups=np.zeros(0))


def test_the_shipped_weights_by_name_are_pretrained() -> None:
    """--init pretrained:base had been refused as a missing folder (embed reads it); another
    name is refused naming the weights shipped."""
    from qualityfm.tasks.finetune import shipped_init

    assert shipped_init("pretrained:base") == "pretrained" == shipped_init("pretrained")
    ft = Finetuner("vt-alarm", init="pretrained:base")
    assert ft.init == "pretrained" and ft.mode == Finetuner("vt-alarm", init="pretrained").mode
    with pytest.raises(FileNotFoundError, match=r"no pretrained weights 'huge' shipped"):
        Finetuner("vt-alarm", init="pretrained:huge")


def test_an_init_that_is_no_name_path_or_module_is_refused_when_made() -> None:
    """None and 5 had been kept, then failed at fit in pathlib (a raw TypeError)."""
    import qualityfm

    for init in (None, 5):
        with pytest.raises(TypeError, match=f"init must be .*, got {init}"):
            Finetuner("vt-alarm", init=init)
    with pytest.raises(TypeError, match="a model is a folder or file path.*got NoneType"):
        qualityfm.load(None)


def test_af4_fitted_without_some_of_its_classes_says_so() -> None:
    x, y, g = synthetic(40)
    kw = dict(init="none", config=TINY, epochs=1, solver="adamw", use_features=False)
    with pytest.warns(UserWarning, match=r"no row of class\(es\) 2, 3 among its labels 0\.\.3"):
        Finetuner("af4", **kw).fit(x, y, groups=g)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        Finetuner("af4", **kw).fit(x, np.arange(40) % 4, groups=g)


def test_a_checkpoint_that_is_a_folder_is_refused_before_the_first_epoch(tmp_path, capsys
                                                                          ) -> None:
    x, y, g = synthetic(40)
    ft = Finetuner("vt-alarm", init="none", config=TINY, epochs=2, use_features=False,
                   checkpoint=tmp_path, verbose=True)
    with pytest.raises(IsADirectoryError, match="is a folder: give a file path"):
        ft.fit(x, y, groups=g)
    assert "epoch 1" not in capsys.readouterr().err


@pytest.mark.parametrize("mode", ["full", "linear"])
def test_rows_past_what_the_network_reads_are_named_not_blamed_on_the_rate(mode) -> None:
    """A row of 1e30 had made every validation loss NaN: "the training diverged: lower the
    learning rate" (the lbfgs head named them already)."""
    x, y, g = synthetic(40)
    x[3] *= np.float32(1e30)
    ft = Finetuner("vt-alarm", init="none", config=TINY, epochs=2, use_features=False,
                   mode=mode, solver="adamw")
    with pytest.warns(UserWarning, match="outside"), \
            pytest.raises(ValueError, match=r"of rows 3 are not finite: their values are past"):
        ft.fit(x, y, groups=g)


@pytest.mark.parametrize("task", ["vt-alarm", "abp"])
def test_rows_past_what_the_network_reads_are_named_at_prediction_too(task) -> None:
    """A fill value of 9.97e36 in a row given to predict: it had read as a NaN probability
    ("no decision can be made") or as NaN mmHg without a word, where fit names such rows."""
    x, y, g = synthetic(40)
    if task == "abp":
        y = np.stack([120 + 10 * y, 70 + 5 * y], axis=1).astype(np.float32)
    ft = Finetuner(task, init="none", config=TINY, epochs=1, use_features=False,
                   mode="linear", solver="adamw").fit(x, y, groups=g)
    x[2, 0, 100] = np.float32(9.97e36)
    with pytest.warns(UserWarning, match="outside"), \
            pytest.raises(ValueError, match=r"of rows 2 are not finite: their values are past"):
        ft.predict(x)


def test_a_model_of_other_scaling_is_said_once_a_process(monkeypatch, tmp_path) -> None:
    """A model pre-trained on jointly scaled windows: its scaling had been said at each load
    (each fold's, the rhythm model's), the same line K times in a --kfold run."""
    import dataclasses

    import qualityfm.train
    from qualityfm.tasks.finetune import load_backbone

    joint = dataclasses.replace(TINY, normalization="joint")
    monkeypatch.setattr(qualityfm.train, "load", lambda path: QualityFM(joint))
    with pytest.warns(UserWarning, match="pre-trained on windows scaled 'joint'") as said:
        for _ in range(3):
            load_backbone(tmp_path)
    assert sum("scaled 'joint'" in str(w.message) for w in said) == 1


def test_labels_given_as_text_are_named_and_a_column_of_numbers_is_read() -> None:
    """y of "True"/"False" had been refused as "got shape (40,) dtype <U5", naming no label;
    y of dtype object holding 0 and 1 (a pandas column) had been refused the same way."""
    x, y, g = synthetic(40)
    ft = Finetuner("vt-alarm", init="none", config=TINY, epochs=1, use_features=False,
                   mode="linear", solver="adamw")
    with pytest.raises(ValueError, match=r"got labels \['False', 'True'\] that are no numbers: "
                                         r"map them"):
        ft.fit(x, np.where(y == 1, "True", "False"), groups=g)
    for text in (y.astype(str), y.astype(str).astype(object)):  # as an object column too
        with pytest.raises(ValueError, match=r"got labels \['0', '1'\] that are no numbers"):
            ft.fit(x, text, groups=g)
    with pytest.raises(ValueError, match=r"rows 39 hold \[nan\]"):  # a pandas gap: its row
        ft.fit(x, np.array([0, 1] * 19 + [0, None], dtype=object), groups=g)
    base = ft.fit(x, y, groups=g).predict_proba(x)
    np.testing.assert_array_equal(ft.fit(x, y.astype(object), groups=g).predict_proba(x), base)
    bp = np.stack([120 + 10 * y, 70 + 5 * y], axis=1).astype(np.float32)  # abp's too
    abp = Finetuner("abp", init="none", config=TINY, epochs=1, use_features=False,
                    mode="linear", solver="adamw")
    base = abp.fit(x, bp, groups=g).predict(x)
    np.testing.assert_array_equal(abp.fit(x, bp.astype(object), groups=g).predict(x), base)


def test_text_labels_hint_fits_the_task_and_pandas_gaps_are_named_rows() -> None:
    """af4's rhythms 'N', 'A', 'O', '~' had been told to map as (y == 'True').astype(int),
    which makes one class of four; a nullable pandas column's gap (pd.NA) had been refused as
    "dtype object" (abp) or as a label '<NA>' rather than named as the row it is."""
    x, y, g = synthetic(40)
    rhythms = np.array(["N", "A", "O", "~"])[np.arange(40) % 4]
    af4 = Finetuner("af4", init="none", config=TINY, epochs=1, use_features=False,
                    mode="linear", solver="adamw")
    with pytest.raises(ValueError, match=r"RHYTHMS.index"):
        af4.fit(x, rhythms, groups=g)
    af = Finetuner("af", init="none", config=TINY, epochs=1, use_features=False,
                   mode="linear", solver="adamw")
    with pytest.raises(ValueError, match=r"y == 'A'"):
        af.fit(x, np.where(y == 1, "A", "N"), groups=g)
    with pytest.raises(ValueError, match=r"y.astype\(int\)"):
        af.fit(x, y.astype(str), groups=g)
    pd = pytest.importorskip("pandas")
    gap = pd.Series(y.astype(bool), dtype="boolean")
    gap[7] = pd.NA
    with pytest.raises(ValueError, match=r"rows 7 hold \[nan\]"):
        af.fit(x, gap, groups=g)
    bp = pd.DataFrame(np.stack([120 + 10 * y, 70 + 5 * y], axis=1), dtype="Float64")
    bp.iloc[5, 0] = pd.NA
    abp = Finetuner("abp", init="none", config=TINY, epochs=1, use_features=False,
                    mode="linear", solver="adamw")
    with pytest.raises(ValueError, match=r"y is NaN or inf in 1 rows \(5\)"):
        abp.fit(x, bp, groups=g)
