"""Metrics against values computed by hand on small fixed inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qualityfm.tasks import af_rhythm_decisions, binary_report, rhythm_report
from qualityfm.tasks import metrics as M
from qualityfm.tasks.evaluate import bp_report
from qualityfm.tasks.splits import group_kfold

# 4 positives, 6 negatives; decisions: TP 3, FN 1, FP 2, TN 4
Y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
P = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 0])


def test_threshold_metrics_by_hand() -> None:
    assert M.confusion(Y, P) == {"tp": 3, "tn": 4, "fp": 2, "fn": 1}
    assert M.tpr(Y, P) == pytest.approx(3 / 4)
    assert M.tnr(Y, P) == pytest.approx(4 / 6)
    assert M.ppv(Y, P) == pytest.approx(3 / 5)
    assert M.f1(Y, P) == pytest.approx(6 / 9)
    assert M.accuracy(Y, P) == pytest.approx(7 / 10)
    assert M.challenge_score(Y, P) == pytest.approx(7 / (7 + 2 + 5))


def test_binary_report_has_the_alarm_score_only_when_asked() -> None:
    proba = np.where(P == 1, 0.8, 0.2)
    plain = binary_report(Y, proba, P, n_boot=20)
    alarm = binary_report(Y, proba, P, n_boot=20, alarm_score=True)
    assert "score" not in plain and "score_ci" not in plain
    assert alarm["score"] == pytest.approx(7 / 14) and len(alarm["score_ci"]) == 2
    assert {k: v for k, v in alarm.items() if not k.startswith("score")} == plain


def test_binary_report_refuses_probabilities_as_decisions() -> None:
    """Probabilities in the decisions' place had been truncated to 0 (TPR 0.0, unsaid)."""
    proba = np.where(P == 1, 0.8, 0.2)
    with pytest.raises(ValueError, match=r"pred must hold 0/1 decisions \(probabilities go in "
                                         r"proba\), got values \[0.2 0.8\]"):
        binary_report(Y, proba, proba, n_boot=20)
    with pytest.raises(ValueError, match=r"y must hold 0/1 labels"):
        binary_report(Y * 2, proba, P, n_boot=20)
    assert binary_report(Y.astype(bool), proba, P.astype(bool), n_boot=20)["tpr"] == 0.75


def test_ranking_metrics_by_hand() -> None:
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8])
    # pairs (pos, neg): (0.35>0.1) (0.35<0.4) (0.8>0.1) (0.8>0.4) -> 3/4
    assert M.auroc(y, s) == pytest.approx(0.75)
    # ranked: 0.8(+) P=1 R=.5; 0.4(-); 0.35(+) P=2/3 R=1 -> AP = .5*1 + .5*2/3
    assert M.auprc(y, s) == pytest.approx(0.5 + 1 / 3)
    assert np.isnan(M.auroc(np.zeros(3, int), np.arange(3)))


def test_ranking_metrics_equal_sklearns_with_ties() -> None:
    """AUROC and AP are computed in NumPy (the bootstrap calls them a thousand times): the
    same values as sklearn's, ties included; NaN scores refused as sklearn refuses them."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(0)
    for i in range(400):
        n = int(rng.integers(2, 120))
        y = rng.integers(0, 2, n)
        y[:2] = [0, 1]
        s = (rng.integers(0, 1 + i % 7, n).astype(float) if i % 2 else rng.standard_normal(n))
        assert M.auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        assert M.auprc(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    with pytest.raises(ValueError, match="scores hold 1 NaN"):
        M.auroc([0, 1], [0.5, np.nan])
    for y in ([0, 1, 1, 0], [1, 0, 1, 0]):  # tied infinite scores are one tie, in any order
        s = [np.inf, np.inf, 0.5, 0.1]
        assert M.auprc(y, s) == pytest.approx(average_precision_score(y, [1e300, 1e300, .5, .1]))
        assert M.auroc(y, s) == pytest.approx(roc_auc_score(y, [1e300, 1e300, .5, .1]))


def test_rhythm_metrics_by_hand() -> None:
    t = np.array(["N", "N", "A", "O", "~", "A"])
    p = np.array(["N", "A", "A", "O", "N", "O"])
    f_n = 2 * 1 / (2 * 1 + 1 + 1)  # TP1 FP1 (the '~') FN1
    f_a = 2 * 1 / (2 * 1 + 1 + 1)  # TP1 FP1 FN1
    f_o = 2 * 1 / (2 * 1 + 1 + 0)  # TP1 FP1
    assert M.macro_f1(t, p) == pytest.approx((f_n + f_a + f_o) / 3)
    assert M.noisy_auroc(t, np.array([0.1, 0.2, 0.1, 0.3, 0.9, 0.2])) == pytest.approx(1.0)


def test_af_rhythm_decisions_follow_the_binary_af_model() -> None:
    """A where the binary AF model says AF, else the most probable of N, O and ~; the rhythm
    report's macro F1 scores those decisions when given them, the argmax without."""
    proba4 = np.array([[0.6, 0.3, 0.1, 0.0],   # argmax N, AF model yes -> A
                       [0.2, 0.5, 0.3, 0.0],   # argmax A, AF model no  -> O (next best)
                       [0.1, 0.2, 0.3, 0.4],   # argmax ~, AF model no  -> ~
                       [0.1, 0.8, 0.1, 0.0]])  # argmax A, AF model yes -> A
    af = np.array([1, 0, 0, 1])
    np.testing.assert_array_equal(af_rhythm_decisions(proba4, af), [1, 2, 3, 1])
    # probabilities for decisions had been truncated to "never AF"; 3 columns read as N, A, O
    with pytest.raises(ValueError, match=r"af must hold the binary model's 0/1 decisions"):
        af_rhythm_decisions(proba4, np.array([0.9, 0.1, 0.2, 0.7]))
    with pytest.raises(ValueError, match=r"proba4 must be \[N, 4\] \(N, A, O, ~\), got \(4, 3\)"):
        af_rhythm_decisions(proba4[:, :3], af)
    rhythm = np.array([1, 2, 3, 0])  # A, O, ~, N
    with_af = rhythm_report(rhythm, proba4, n_boot=20, af=af)
    alone = rhythm_report(rhythm, proba4, n_boot=20)
    # with the AF decisions: N F1 0 (its one row called A), A 2/3, O 1 -> (0 + 2/3 + 1) / 3
    assert with_af["macro_f1"] == pytest.approx((0 + 2 / 3 + 1) / 3)
    assert with_af["class_f1"] == pytest.approx({"N": 0.0, "A": 2 / 3, "O": 1.0, "~": 1.0})
    # argmax N, A, ~, A: N F1 0, A F1 0 (two called, none true), O 0
    assert alone["macro_f1"] == pytest.approx(0.0)
    assert with_af["noisy_auroc"] == alone["noisy_auroc"] == pytest.approx(1.0)


def test_bp_metrics_by_hand() -> None:
    y = np.array([100.0, 120.0, 140.0, 160.0])
    p = np.array([104.0, 114.0, 150.0, 160.0])  # errors +4, -6, +10, 0
    assert M.mae(y, p) == pytest.approx(5.0)
    assert M.me(y, p) == pytest.approx(2.0)
    assert M.sd(y, p) == pytest.approx(np.std([4, -6, 10, 0], ddof=1))
    # training mean 130: MAE of the mean = (30 + 10 + 10 + 30) / 4 = 20
    assert M.mase(y, p, 130.0) == pytest.approx(5.0 / 20.0)
    assert M.aami(y, p) is True  # |ME| 2 <= 5 and SD 6.73 <= 8
    assert M.aami(y, y + np.array([0.0, 0.0, 0.0, 24.0])) is False  # ME 6
    grade = M.bhs(y, p)
    assert grade["within5"] == pytest.approx(50.0) and grade["within10"] == pytest.approx(100.0)
    assert grade["grade"] == "B"  # 50/100/100 meets B (50/75/90), not A (60 within 5)
    assert M.bhs(y, y + 20.0)["grade"] == "D"


def test_mase_aami_sd_and_bhs_bars_at_their_edges_by_hand() -> None:
    """Cases whose answer the bars decide, which had gone unchecked: the MASE denominator is the
    mean (not the median) of |t - train mean| (here 0, 1, 2, 30: mean 8.25, median 1.5); the
    AAMI SD bar is 8 (errors -8.5, 0, 8.5: mean 0, SD 8.5 fails; +-7.9: SD 7.9 passes); BHS's
    B needs 75 % within 10 (50/70/100 % is C) and C 40 % within 5 (30/70/100 % is D; exactly
    40/65/85 % is C)."""
    t = np.array([130.0, 131.0, 132.0, 160.0])
    assert M.mase(t, t + np.array([2.0, -2.0, 2.0, -2.0]), 130.0) == pytest.approx(2.0 / 8.25)
    ref = np.full(3, 120.0)
    assert M.sd(ref, ref + np.array([-8.5, 0.0, 8.5])) == pytest.approx(8.5)
    assert M.aami(ref, ref + np.array([-8.5, 0.0, 8.5])) is False
    assert M.aami(ref, ref + np.array([-7.9, 0.0, 7.9])) is True

    def grade(errors: list[float]) -> dict[str, object]:
        return M.bhs(np.full(len(errors), 100.0), 100.0 + np.array(errors))

    c = grade([1.0] * 5 + [7.0] * 2 + [12.0] * 3)
    assert (c["within5"], c["within10"], c["within15"], c["grade"]) == (50.0, 70.0, 100.0, "C")
    d = grade([1.0] * 3 + [-7.0] * 4 + [12.0] * 3)
    assert (d["within5"], d["within10"], d["within15"], d["grade"]) == (30.0, 70.0, 100.0, "D")
    edge = grade([1.0] * 8 + [7.0] * 5 + [12.0] * 4 + [20.0] * 3)
    assert (edge["within5"], edge["within10"], edge["within15"]) == (40.0, 65.0, 85.0)
    assert edge["grade"] == "C"


def test_bootstrap_ci_is_the_alpha_percentiles_of_its_replicates() -> None:
    """The interval's level had gone unchecked: it is the alpha/2 and 1 - alpha/2 quantiles of
    the replicates the metric returned (2.5/97.5 % at 0.05, 5/95 % at 0.1), not alpha and
    1 - alpha; and a grouped, stratified resample takes each group's class from its first row
    (groups 0 [1, 0] and 1 [1, 1] are the positive stratum: two of them in every replicate)."""
    rng = np.random.default_rng(0)
    t = rng.normal(120, 15, 60)
    p = t + rng.normal(0, 8, 60)
    for alpha, q in ((0.05, [0.025, 0.975]), (0.1, [0.05, 0.95])):
        seen: list[float] = []

        def metric(a: np.ndarray, b: np.ndarray, seen: list[float] = seen) -> float:
            seen.append(M.mae(a, b))
            return seen[-1]

        lo, hi = M.bootstrap_ci(metric, t, p, n_boot=200, alpha=alpha, seed=4)
        assert len(seen) == 200
        assert (lo, hi) == tuple(np.quantile(seen, q))
    y = np.array([1, 0, 1, 1, 0, 0, 0, 0, 0, 0])
    g = np.repeat(np.arange(5), 2)
    positives: list[int] = []

    def count(labels: np.ndarray, groups: np.ndarray) -> float:
        positives.append(int(np.isin(groups, [0, 1]).sum()))
        return float(labels.mean())

    M.bootstrap_ci(count, y, g, groups=g, n_boot=50, seed=0)
    assert positives == [4] * 50  # two positive groups of two rows each time


def test_bootstrap_ci_is_seeded_stratified_and_grouped() -> None:
    rng = np.random.default_rng(1)
    y = np.r_[np.ones(20, int), np.zeros(40, int)]
    s = y + rng.normal(0, 0.8, len(y))
    ci = M.bootstrap_ci(M.auroc, y, s, n_boot=200, seed=3)
    assert ci == M.bootstrap_ci(M.auroc, y, s, n_boot=200, seed=3)
    assert ci[0] < M.auroc(y, s) < ci[1]
    # groups of 4 identical rows: resampling groups gives a wider interval than rows
    yg, sg, g = np.repeat(y[::4], 4), np.repeat(s[::4], 4), np.repeat(np.arange(15), 4)
    wide = M.bootstrap_ci(M.auroc, yg, sg, groups=g, n_boot=300, seed=0)
    narrow = M.bootstrap_ci(M.auroc, yg, sg, n_boot=300, seed=0)
    assert wide[1] - wide[0] > narrow[1] - narrow[0]
    # stratified: every replicate keeps both classes, so AUROC is always defined
    tiny_y, tiny_s = np.array([1, 0, 0, 0, 0]), np.array([0.9, 0.1, 0.2, 0.3, 0.95])
    lo, hi = M.bootstrap_ci(M.auroc, tiny_y, tiny_s, n_boot=100, seed=0)
    assert np.isfinite(lo) and np.isfinite(hi) and lo < hi


def test_bootstrap_ci_of_a_class_of_one_unit_is_undefined() -> None:
    """Every replicate repeats a stratum of one unit (one positive; one record of windows):
    where the metric then never varies (a TPR over one positive, one positive above every
    negative) the interval it gave had a width it does not have (1.000-1.000), so there is
    none; where the other class still varies it (TNR), the interval stays."""
    y, s = np.array([1, 0, 0, 0, 0]), np.array([0.9, 0.1, 0.2, 0.3, 0.4])
    assert all(np.isnan(M.bootstrap_ci(M.auroc, y, s, n_boot=50)))
    assert all(np.isnan(M.bootstrap_ci(M.tpr, y, s > 0.5, n_boot=50)))
    y = np.r_[1, np.zeros(60, int)]
    pred = np.r_[1, np.arange(60) % 2]
    lo, hi = M.bootstrap_ci(M.tnr, y, pred, n_boot=200)
    assert 0.3 < lo < 0.5 < hi < 0.7
    t, p = np.array([120.0, 130.0, 125.0]), np.array([110.0, 128.0, 140.0])
    assert all(np.isnan(M.bootstrap_ci(M.mae, t, p, groups=np.zeros(3), n_boot=50)))
    lo, hi = M.bootstrap_ci(M.mae, t, p, groups=np.array([0, 0, 1]), n_boot=50)
    assert lo < hi


def test_one_sided_data_give_no_auprc_and_one_row_no_aami(tmp_path) -> None:
    """Without negatives any scores give an average precision of 1: NaN, as AUROC. One BP
    row has no SD, so AAMI's criterion is undecided (None, n/a), not failed, and its
    Bland-Altman plot draws no limits."""
    from qualityfm.tasks import markdown_table
    from qualityfm.tasks.report import plot_bland_altman

    assert np.isnan(M.auprc([1, 1, 1], [0.2, 0.5, 0.9]))
    assert M.auprc([1, 0, 1], [0.2, 0.1, 0.9]) == pytest.approx(1.0)
    assert M.aami([120.0], [130.0]) is None and M.aami([120.0, 100.0], [121.0, 99.0]) is True
    row = {p: {"mae": 10.0, "me": 10.0, "sd": None, "mase": 1.0, "aami": None,
               "bhs": {"grade": "D"}} for p in ("sbp", "dbp")}
    table = markdown_table({"gbm|v2\nnew": row})
    line = table.splitlines()[2]
    assert line.startswith("| gbm\\|v2 new |") and "fail" not in line
    assert line.replace("\\|", "").count("|") == table.splitlines()[0].count("|")
    assert plot_bland_altman([120.0], [130.0], tmp_path / "ba.png").stat().st_size > 0


def test_a_table_names_each_row_threshold_and_the_tpr_it_was_set_to_keep() -> None:
    """A results table read alone had shown a TPR of 0.926 with neither the threshold nor
    the 0.95 it was set to keep; an F1-set threshold (af) names no target."""
    from qualityfm.tasks import markdown_table

    vt = {"auroc": 0.9, "tpr": 0.926, "threshold": 0.0996629,
          "model_settings": {"target_tpr": 0.95}}
    af = {"auroc": 0.9, "tpr": 0.6, "threshold": 0.2849, "model_settings": {"target_tpr": None}}
    high = {"auroc": 0.9, "threshold": 0.99996}  # not "p >= 1": no alarm kept
    lines = markdown_table({"vt": vt, "af|x": af, "cv": {"auroc": 0.9}, "high": high,
                            "nan": {"auroc": 0.9, "threshold": float("nan")},
                            "higher": {"threshold": 0.9999996}}).splitlines()
    assert lines[9:] == [
        "vt: decisions at p >= 0.0996629, the threshold fixed on its validation data, set to "
        "keep TPR >= 0.95 on new positives.",
        "af\\|x: decisions at p >= 0.2849, the threshold fixed on its validation data.",
        "high: decisions at p >= 0.99996, the threshold fixed on its validation data.",
        "higher: decisions at p >= 0.9999996, the threshold fixed on its validation data."]


def test_bootstrap_ci_of_a_continuous_target_has_width() -> None:
    """Each value of a float target would be a class of its own: stratifying by them gave
    intervals of no width. Floats are resampled unstratified; a bad alpha is refused."""
    rng = np.random.default_rng(0)
    t = rng.normal(120, 15, 200)
    p = t + rng.normal(0, 8, 200)
    lo, hi = M.bootstrap_ci(M.mae, t, p, n_boot=200)
    assert hi - lo > 0.5 and lo < M.mae(t, p) < hi
    assert (lo, hi) == M.bootstrap_ci(M.mae, t, p, n_boot=200, stratify=False)
    for alpha in (0.0, 1.0, 2.0):
        with pytest.raises(ValueError, match="alpha must be in"):
            M.bootstrap_ci(M.mae, t, p, alpha=alpha)


def test_bad_labels_raise() -> None:
    with pytest.raises(ValueError, match="0/1"):
        M.tpr(np.array([0, 2]), np.array([0, 1]))


def test_paired_difference_is_zero_for_one_model_and_antisymmetric() -> None:
    from qualityfm.tasks.evaluate import paired_difference

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 60)
    good = y + rng.normal(0, 0.6, len(y))
    poor = rng.normal(0, 1.0, len(y))
    groups = np.arange(len(y)) // 2
    same = paired_difference(y, good, good, groups, n_boot=200)
    # no replicate can differ from 0: no interval (a zero-width one claims a certainty)
    assert same["delta"] == 0.0 and np.isnan(same["delta_ci"]).all()
    ab = paired_difference(y, good, poor, groups, n_boot=200)
    ba = paired_difference(y, poor, good, groups, n_boot=200)
    assert ab["metric"] == "auroc" and ab["delta"] > 0.2
    assert ab["delta_ci"][0] > 0  # clearly better: the interval excludes 0
    assert ba["delta"] == pytest.approx(-ab["delta"])
    assert ba["delta_ci"] == pytest.approx([-ab["delta_ci"][1], -ab["delta_ci"][0]])
    # regression: SBP MAE, negative when the first model errs less
    t = np.c_[rng.normal(120, 15, 50), rng.normal(70, 8, 50)]
    reg = paired_difference(t, t + 1.0, t + 5.0, kind="regression", n_boot=200)
    assert reg["metric"] == "sbp_mae" and reg["delta"] == pytest.approx(-4.0)
    assert np.isnan(reg["delta_ci"]).all()  # -4 in every replicate: no interval to give
    with pytest.raises(ValueError, match="must match"):
        paired_difference(y, good, good[:-1])


def test_report_names_the_task_and_its_classes(tmp_path, monkeypatch) -> None:
    """Plots carry the task in their title and its class names (vt-alarm: false/true alarm),
    from the ``task`` argument or the results' own ``task``."""
    import importlib

    R = importlib.import_module("qualityfm.tasks.report")  # the package exports report()
    seen: dict = {}

    def capture(y, pred, labels, path, title=""):
        seen.update(labels=labels, title=title)
        Path(path).write_bytes(b"png")
        return path

    monkeypatch.setattr(R, "plot_confusion", capture)
    res = {"auroc": 0.5, "oof": {"y": Y.tolist(), "score": P.astype(float).tolist(),
                                 "pred": P.tolist()}}
    files = R.report(res, tmp_path, "cv", task="vt-alarm")
    assert seen == {"labels": ["false alarm", "true alarm"], "title": "vt-alarm: cv"}
    assert files["roc"].exists() and files["md"].exists()
    assert set(files.values()) <= set(R.report_paths(tmp_path, "cv"))  # what a later one clears
    R.report({**res, "task": "af"}, tmp_path, "ev")
    assert seen == {"labels": ["not AF", "AF"], "title": "af: ev"}
    R.report(res, tmp_path, "plain")
    assert seen == {"labels": ["negative", "positive"], "title": "plain"}


def test_a_report_is_replaced_whole(tmp_path, monkeypatch) -> None:
    """A report stopped while drawing leaves the earlier one whole (results, table and plots);
    a finished one removes the earlier one's plot it does not draw."""
    import importlib

    R = importlib.import_module("qualityfm.tasks.report")
    res = {"auroc": 0.5, "oof": {"y": Y.tolist(), "score": P.astype(float).tolist(),
                                 "pred": P.tolist()}}
    files = R.report(res, tmp_path, "ev", task="vt-alarm")
    before = {p: p.read_bytes() for p in files.values()}
    assert len(before) == 4  # json, md, roc, confusion

    def stop(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(R, "plot_confusion", stop)
    with pytest.raises(KeyboardInterrupt):
        R.report({**res, "auroc": 0.9}, tmp_path, "ev", task="vt-alarm")
    assert {p: p.read_bytes() for p in files.values()} == before
    monkeypatch.undo()
    one_class = {"auroc": None, "oof": {"y": [0] * 4, "score": [0.1] * 4, "pred": [0] * 4}}
    with pytest.warns(UserWarning, match=r"vt-alarm: ev: no ROC plot: the rows hold one class "
                                         r"only \(false alarm\)"):  # said, not left out unsaid
        R.report(one_class, tmp_path, "ev", task="vt-alarm")  # no ROC without both classes
    assert not files["roc"].exists() and files["confusion"].exists()
    assert json.loads(files["json"].read_text())["auroc"] is None


def test_a_stop_during_a_reports_renames_leaves_no_earlier_plot(tmp_path, monkeypatch) -> None:
    """A SIGTERM held during the renames was raised before the earlier report's plots that the
    new one does not draw were removed: an earlier ROC stayed beside a report without one.
    The temporaries of a report killed mid-write go with the next report of that name."""
    import importlib
    import os
    import signal

    R = importlib.import_module("qualityfm.tasks.report")
    A = importlib.import_module("qualityfm.io.atomic")
    res = {"auroc": 0.5, "oof": {"y": Y.tolist(), "score": P.astype(float).tolist(),
                                 "pred": P.tolist()}}
    files = R.report(res, tmp_path, "ev", task="vt-alarm")
    left = tmp_path / ".ev_roc.png.k3x9q2zz.tmp"  # of a report killed mid-write, an hour ago
    left.write_bytes(b"half")
    os.utime(left, (left.stat().st_mtime - 3601,) * 2)
    real = os.replace

    def replace(src, dst):  # SIGTERM right after the first rename into the report's folder
        real(src, dst)
        if Path(dst).parent == tmp_path:
            os.kill(os.getpid(), signal.SIGTERM)

    class Stopped(Exception):
        pass

    def stopped(*_: object) -> None:
        raise Stopped

    before = signal.signal(signal.SIGTERM, stopped)
    try:
        monkeypatch.setattr(A.os, "replace", replace)
        one_class = {"auroc": None, "oof": {"y": [0] * 4, "score": [0.1] * 4, "pred": [0] * 4}}
        with pytest.raises(Stopped):
            R.report(one_class, tmp_path, "ev", task="vt-alarm")
    finally:
        signal.signal(signal.SIGTERM, before)
    assert json.loads(files["json"].read_text())["auroc"] is None
    assert not files["roc"].exists() and files["confusion"].exists() and not left.exists()


def test_metric_edge_cases_have_a_stated_answer() -> None:
    """An error of exactly 5/10/15 mmHg is inside its BHS band however the subtraction
    rounds; macro F1 averages the classes that occur; a threshold needs finite
    probabilities."""
    from qualityfm.tasks.calibration import choose_threshold

    t = np.array([88.6, 117.3, 141.9])
    grade = M.bhs(t, t + np.array([10.0, 15.0, 5.0]))  # 98.6 - 88.6 is 10.000000000000014
    assert (grade["within5"], grade["within10"], grade["within15"]) == pytest.approx(
        (100 / 3, 200 / 3, 100.0))
    ref32 = np.full(5, 120.2, np.float32)  # float32 targets: 125.2 - 120.2 reads 5.000003
    assert M.bhs(ref32, np.full(5, 125.2))["within5"] == 100.0
    assert M.aami(ref32, np.full(5, 125.2) + np.r_[0.0, 0.0, 0.0, 0.0, 1e-12]) is True
    assert M.macro_f1(list("NNOO"), list("NONO")) == pytest.approx(0.5)  # no A: N and O only
    # a class no row is labelled with is not averaged, even where it is predicted: the A
    # called on an N row costs N's F1 (2/3), not a third F1 of 0 (0.556 before)
    assert M.macro_f1(list("NNOO"), list("ANOO")) == pytest.approx((2 / 3 + 1) / 2)
    rhythm, proba4 = np.array([0] * 10 + [2] * 10), np.zeros((20, 4))  # N and O rows only
    proba4[np.arange(20), rhythm] = 0.9
    proba4[0] = [0.1, 0.8, 0.05, 0.05]  # one N row called A
    report = rhythm_report(rhythm, proba4, n_boot=500)
    assert report["macro_f1"] == pytest.approx((2 * 9 / 19 + 1) / 2)
    assert report["macro_f1_ci"][0] <= report["macro_f1"] <= report["macro_f1_ci"][1]
    assert np.isnan(M.macro_f1(list("~~"), list("~~")))
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        choose_threshold([1, 1, 1, 0], [0.9, np.nan, 0.8, 0.1])
    # a TPR target near 0 keeps the highest positive (1e-10 had indexed past it)
    y8, p8 = [1] * 8 + [0] * 4, np.r_[np.linspace(0.5, 0.9, 8), [0.1, 0.2, 0.3, 0.95]]
    assert choose_threshold(y8, p8, target_tpr=1e-10) == pytest.approx(0.9, abs=2e-4)


def test_edge_cases_of_the_review_of_session_28() -> None:
    """AAMI keeps an error of exactly 5 mmHg (float subtraction had made it 5.000000000000007,
    failing it while BHS counted it within 5); integer (SBP, DBP) targets stratify as a
    regression, not one class per mmHg; float 0/1 labels stratify a paired bootstrap as int
    ones do."""
    from qualityfm.tasks.evaluate import paired_difference
    from qualityfm.tasks.metrics import aami
    from qualityfm.tasks.splits import _strata

    assert aami(np.array([60.4, 60.4]), np.array([65.4, 65.4])) is True
    y = np.stack([np.arange(100, 124), np.arange(60, 84)], axis=1)  # int mmHg
    assert len(np.unique(_strata(y))) == 4
    assert _strata(np.array([0, 1, 1, 0])).tolist() == [0, 1, 1, 0]  # classes stay classes
    rng = np.random.default_rng(0)
    labels = np.arange(40) % 2
    a, b = rng.random(40) + 0.3 * labels, rng.random(40)
    groups = np.arange(40) // 2
    as_int = paired_difference(labels, a, b, groups, "binary", 200, 0)
    as_float = paired_difference(labels.astype(float), a, b, groups, "binary", 200, 0)
    assert as_int == as_float
    with pytest.raises(ValueError, match="binary labels must be 0/1"):  # not truncated to 0
        paired_difference(np.r_[labels[:-1], 0.5], a, b, groups, "binary", 200, 0)


def test_group_kfold_never_leaves_a_fold_empty() -> None:
    """k = the number of groups: sklearn's greedy assignment left one fold without a row for
    this seed (an lbfgs head then scored every C NaN); the draw is redrawn."""
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1])
    groups = np.array([407] * 4 + [567] * 2 + [814] * 4 + [327] * 2 + [580] * 3 + [447])
    folds = list(group_kfold(y, groups, k=6, seed=47))
    assert all(len(te) for _, te in folds)
    assert sorted(np.concatenate([te for _, te in folds]).tolist()) == list(range(16))
    for tr, te in folds:
        assert not set(groups[tr]) & set(groups[te])


def test_bp_metrics_refuse_non_finite_values() -> None:
    """A NaN prediction had given an MAE of NaN beside a finite CI and a BHS grade."""
    with pytest.raises(ValueError, match="y_pred holds 1 NaN or infinite values of 4"):
        bp_report(np.array([[120.0, 80.0]] * 4), np.array([[121.0, 80], [np.nan, 80],
                                                            [119, 81], [120, 79]]),
                  np.array([120.0, 80.0]), n_boot=10)
    # SBP alone, or a scalar mean: named, not an IndexError or a TypeError
    with pytest.raises(ValueError, match=r"needs y and pred of \[N, 2\].*got \(3,\), \(3,\)"):
        bp_report(np.array([120.0, 130, 125]), np.array([121.0, 128, 126]),
                  np.array([125.0, 80]))
    with pytest.raises(ValueError, match=r"train_mean of 2; got \(3, 2\), \(3, 2\) and \(\)"):
        bp_report(np.array([[120.0, 80]] * 3), np.array([[121.0, 80]] * 3), 125.0)


def test_report_titles_are_text_not_mathtext(tmp_path) -> None:
    """A model folder named with $ signs (run_$HOME_$USER) had failed the report, unwritten."""
    import importlib

    R = importlib.import_module("qualityfm.tasks.report")
    res = {"auroc": 0.5, "oof": {"y": Y.tolist(), "score": P.astype(float).tolist(),
                                 "pred": P.tolist()}}
    files = R.report(res, tmp_path, "cv", task="vt-alarm", label="run_$HOME_$USER")
    assert files["roc"].exists() and files["confusion"].exists() and files["json"].exists()


def test_no_rows_have_no_bhs_grade_and_nan_probabilities_no_class() -> None:
    """BHS on no rows had read "D" beside NaN percentages; a multiclass row of NaN had been
    scored as its NaN's class (argmax), a row [nan, .5, .5] of class 0 as correct."""
    from qualityfm.tasks.evaluate import multiclass_report
    from qualityfm.tasks.report import markdown_table

    empty = M.bp_metrics(np.zeros(0), np.zeros(0), 120.0)
    assert empty["bhs"]["grade"] is None and np.isnan(empty["bhs"]["within5"])
    table = markdown_table({"m": {"sbp": empty, "dbp": empty}})
    assert "None" not in table and table.splitlines()[2].endswith("| n/a | n/a | n/a | n/a | n/a |")
    assert table.rstrip().endswith("MAE, ME and SD in mmHg.")
    y = np.array([0, 1, 2, 3])
    p = np.array([[np.nan, .5, .5, 0], [.1, .8, .1, 0], [.1, .1, .8, 0], [0, 0, 0, 1.]])
    with pytest.raises(ValueError, match=r"proba is NaN in rows 0\b"):
        multiclass_report(y[:3], p[:3, :3], n_boot=10)
    with pytest.raises(ValueError, match=r"proba4 is NaN in rows 0\b"):
        rhythm_report(y, p, n_boot=10)
    with pytest.raises(ValueError, match=r"proba4 is NaN in rows 0\b"):
        af_rhythm_decisions(p, np.zeros(4, int))


def test_aami_and_bhs_on_fewer_than_85_subjects_are_marked_indicative() -> None:
    """AAMI and BHS validations need 85 subjects: the abp report had printed a pass and a
    grade A on two windows of one record as if validated. The pooled cross-validation's
    relative MAE takes each row's fold mean (its zero denominator had raised)."""
    from qualityfm.tasks import markdown_table

    y = np.array([[120.0, 80.0], [130.0, 85.0], [110.0, 70.0], [125.0, 82.0]])
    p = y + np.array([[1.0, 0.0], [-1.0, 1.0], [0.5, -0.5], [0.0, 0.5]])
    rep = bp_report(y, p, np.array([121.0, 79.0]), groups=np.array([0, 0, 1, 1]), n_boot=10)
    assert rep["sbp"]["aami"] is True and rep["sbp"]["bhs"]["grade"] == "A"
    assert rep["n_subjects"] == 2
    assert rep["protocol_note"].startswith("AAMI and BHS on 4 windows (2 patients or records): "
                                           "indicative only; a validation by either needs >= 85")
    assert rep["protocol_note"] in markdown_table({"gbm": rep})
    many = bp_report(np.tile(y, (25, 1)), np.tile(p, (25, 1)), np.array([121.0, 79.0]),
                     groups=np.arange(100), n_boot=10)
    assert many["n_subjects"] == 100 and "protocol_note" not in many
    assert "indicative" not in markdown_table({"gbm": many})
    assert "subjects not given" in bp_report(y, p, np.array([121.0, 79.0]),
                                             n_boot=10)["protocol_note"]
    # one training mean per row (each fold's), and none better than it: NaN, not an error
    assert M.mase([1.0, 3.0], [2.0, 2.0], np.array([0.0, 4.0])) == pytest.approx(1.0)
    assert np.isnan(M.mase([1.0, 3.0], [2.0, 2.0], np.array([1.0, 3.0])))


def test_a_proportion_at_0_or_1_gets_the_exact_interval() -> None:
    """18 of 18 true alarms kept had been reported as TPR 1.000 (1.000-1.000): no bootstrap
    replicate can differ there. The exact interval over the class's units is given instead,
    counted by group when grouped; interior values keep the bootstrap's."""
    y = np.r_[np.ones(18, int), np.zeros(10, int)]
    pred = np.r_[np.ones(18, int), np.ones(4, int), np.zeros(6, int)]
    proba = np.r_[np.linspace(0.6, 0.9, 18), np.linspace(0.1, 0.7, 10)]
    rep = binary_report(y, proba, pred, n_boot=200)
    assert rep["tpr"] == 1.0
    np.testing.assert_allclose(rep["tpr_ci"], [0.025 ** (1 / 18), 1.0])  # 0.815-1
    assert 0.0 < rep["tnr_ci"][0] < rep["tnr"] < rep["tnr_ci"][1] < 1.0  # interior: bootstrap
    grouped = binary_report(y, proba, pred, groups=np.arange(28) // 2, n_boot=200)
    np.testing.assert_allclose(grouped["tpr_ci"], [0.025 ** (1 / 9), 1.0])  # 9 records
    none = binary_report(y, proba, np.ones(28, int), n_boot=200)  # every alarm kept
    np.testing.assert_allclose(none["tnr_ci"], [0.0, 1 - 0.025 ** (1 / 10)])
    from qualityfm.tasks.metrics import boundary_ci

    with pytest.raises(ValueError, match="a proportion of 0 or 1"):
        boundary_ci(0.5, 10)
    # one false alarm beside the 18 true ones: the TPR's interval had been dropped (the other
    # class's lone record), the AUPRC's had been 1-1 (its replicates 1 and 1 - 1e-16)
    lone = binary_report(np.r_[np.ones(18, int), 0], np.r_[np.linspace(.5, 1, 18), .1],
                         np.r_[np.ones(18, int), 0], n_boot=200)
    np.testing.assert_allclose(lone["tpr_ci"], [0.025 ** (1 / 18), 1.0])
    np.testing.assert_allclose(lone["accuracy_ci"], [0.025 ** (1 / 19), 1.0])
    assert np.isnan(lone["tnr_ci"]).all() and np.isnan(lone["auprc_ci"]).all()
    # a PPV of 1 is a proportion over the alarms kept; what cannot vary gets no interval
    # (accuracy 0.2 (0.2-0.2) of a model keeping every alarm: class counts fixed)
    from qualityfm.tasks.evaluate import paired_difference, rhythm_report

    four = np.repeat(np.arange(4), 3)  # a perfect rhythm model: macro F1 1 (1-1) before
    rhythm = rhythm_report(four, np.eye(4)[four] * 0.9 + 0.025, n_boot=100)
    assert rhythm["macro_f1"] == 1.0 and np.isnan(rhythm["macro_f1_ci"]).all()
    same = paired_difference(y, proba, proba * 0.5, kind="binary", n_boot=100)
    assert same["delta"] == 0.0 and np.isnan(same["delta_ci"]).all()  # (0.000-0.000) before
    kept = binary_report(y, proba, np.r_[np.ones(6, int), np.zeros(22, int)], n_boot=200)
    np.testing.assert_allclose(kept["ppv_ci"], [0.025 ** (1 / 6), 1.0])
    assert np.isnan(none["accuracy_ci"]).all() and np.isnan(none["ppv_ci"]).all()


def test_a_cross_validation_table_gives_the_fold_auroc_beside_the_pooled_one() -> None:
    """The protocol gives the mean of the per-fold AUROCs beside the pooled one: the JSON had
    it, compare's table.md and cv.md had not."""
    from qualityfm.tasks import markdown_table

    rows = {"a": {"auroc": 0.9, "auroc_ci": [0.85, 0.95], "tpr": 0.96, "fold_auroc_mean": 0.91,
                  "fold_auroc_sd": 0.031},
            "b": {"auroc": 0.7, "auroc_ci": [0.6, 0.8], "tpr": 0.9, "fold_auroc_mean": float("nan"),
                  "fold_auroc_sd": None}}
    head, _, a, b = markdown_table(rows).splitlines()[:4]
    assert head == "| model | auroc | fold auroc mean (SD) | tpr |"
    assert a == "| a | 0.900 (0.850-0.950) | 0.910 (0.031) | 0.960 |"
    assert b.split(" | ")[2] == "n/a"
    assert "fold auroc" not in markdown_table({"a": {"auroc": 0.9, "tpr": 1.0}})
    # folds of one class have no AUROC: the mean says over how many it is (6 of 20 folds had
    # dropped out of it unsaid)
    rows["a"].update(fold_auroc_n=14, folds=[{}] * 20)
    assert markdown_table(rows).splitlines()[2].split(" | ")[2] == "0.910 (0.031, 14 of 20 folds)"
    rows["a"].update(fold_auroc_sd=None, fold_auroc_n=1)
    assert markdown_table(rows).splitlines()[2].split(" | ")[2] == "0.910 (1 of 20 folds)"
    rows["a"].update(fold_auroc_n=20)
    assert markdown_table(rows).splitlines()[2].split(" | ")[2] == "0.910"


def test_the_mmhg_slack_covers_float32_rounding_and_no_more() -> None:
    """A slack of 1e-4 had counted an error of 15.0000958 (a float32 target against a float64
    prediction) within 15 mmHg, where a recomputation does not."""
    t = np.array([100.0, 120.0])
    assert M.bhs(t, t + 5.0000958)["within5"] == 0.0
    assert M.aami(t, t + np.array([5.0000958, 5.0000958])) is False
    t32 = np.float32([290.3, 301.7])  # stored as float32, an error of exactly 5 still within
    assert M.bhs(t32.astype(float), np.float32(t32 + 5.0).astype(float))["within5"] == 100.0


def test_cross_validate_takes_whole_mmhg_as_values_and_refuses_a_bad_seed_first() -> None:
    """1-D integer regression targets had been stratified as classes (60 values: refused);
    a seed of -1 had failed in the bootstrap after every fold was fitted."""
    from qualityfm.tasks import ClassicalBaseline, TaskDataset, cross_validate

    rng = np.random.default_rng(0)
    n = 60
    feats = rng.normal(size=(n, 5))
    y = np.empty(n, np.int64)
    y[np.argsort(feats[:, 0])] = np.arange(100, 100 + n)
    ds = TaskDataset("regression", np.zeros((n, 2, 10), np.float32), np.ones((n, 2), bool), y,
                     np.arange(n), np.array([f"r{i}" for i in range(n)]), feats,
                     [f"f{i}" for i in range(5)])
    as_int = cross_validate(lambda: ClassicalBaseline("regression", seed=0), ds, k=5, n_boot=20)
    ds.y = y.astype(np.float64)
    as_float = cross_validate(lambda: ClassicalBaseline("regression", seed=0), ds, k=5,
                              n_boot=20)
    assert as_int["oof"]["fold"] == as_float["oof"]["fold"]
    assert as_int["targets"] == as_float["targets"]
    calls = []
    for seed in (-1, 0.5):
        with pytest.raises(ValueError, match=r"cross_validate: seed must be an int"):
            cross_validate(lambda: calls.append(1), ds, k=5, seed=seed)
    with pytest.raises(ValueError, match=r"cross_validate: n_boot must be an int >= 0"):
        cross_validate(lambda: calls.append(1), ds, k=5, n_boot=-5)
    assert calls == []
    ds.fs = 250.0  # windows at another rate than the model reads: it had run on, unsaid
    from qualityfm.tasks import Finetuner

    with pytest.raises(ValueError, match=r"cross_validate: the dataset's windows are at 250 "
                                         r"Hz, the estimator reads windows at 300 Hz"):
        cross_validate(lambda: Finetuner("regression", init="none", config={
            "d_model": 16, "n_layers": 1, "n_heads": 2, "d_ff": 16, "stem_channels": [4, 8, 16],
            "n_bins": 16}), ds, k=5, n_boot=20)
    # a model of the features alone reads no window: their rate is no concern (it had been
    # refused too)
    assert cross_validate(lambda: ClassicalBaseline("regression", seed=0), ds, k=5,
                          n_boot=20)["targets"] == as_float["targets"]


def test_calibration_and_threshold_refuse_labels_other_than_0_and_1() -> None:
    """Labels of 2 had been no positives (threshold 0.5) and 0.7 had been read as 0; a refit
    on one class had kept the previous fit."""
    from qualityfm.tasks.calibration import Calibrator, choose_threshold

    for bad in ([2, 0, 2], [0.7, 0, 1]):
        with pytest.raises(ValueError, match=r"binary labels must be 0/1"):
            choose_threshold(bad, [0.9, 0.1, 0.8])
        with pytest.raises(ValueError, match=r"binary labels must be 0/1"):
            Calibrator("platt").fit(np.array([1.0, -1.0, 2.0]), bad)
    rng = np.random.default_rng(0)
    z = rng.normal(size=50)
    c = Calibrator("platt").fit(z, (z + rng.normal(size=50) > 0).astype(int))
    assert (c.a, c.b) != (1.0, 0.0)
    c.fit(z, np.ones(50, int))
    assert (c.a, c.b) == (1.0, 0.0)
    # lengths that differ: named (one logit had been broadcast over every label and fitted,
    # a threshold had failed in NumPy's words)
    with pytest.raises(ValueError, match=r"labels \(3,\) and probabilities \(2,\) differ"):
        choose_threshold(np.array([0, 1, 1]), np.array([0.1, 0.9]))
    for logits, labels in ((np.array([0.5]), np.array([0, 1, 1, 0, 1])),
                           (np.array([[0.5, 0.1, 0.2]]), np.array([0, 1, 2, 1]))):
        with pytest.raises(ValueError, match=r"one logit .* per label is needed"):
            Calibrator("platt" if logits.ndim == 1 else "temperature").fit(logits, labels)


def test_calibration_and_class_reports_refuse_nan_logits_and_codes_out_of_range() -> None:
    """One NaN logit had made Platt's bias NaN (every probability NaN after); a multiclass
    label of -1 (an unlabelled row) had been read as the last class ('~': noisy AUROC and
    macro F1 changed without a word) and of K had failed in NumPy's words."""
    from qualityfm.tasks.calibration import Calibrator
    from qualityfm.tasks.evaluate import multiclass_report

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    z = (2 * y - 1) * 3 + rng.normal(0, 1, 60)
    for bad in (np.nan, np.inf, -np.inf):  # inf: logit(1.0), Platt's bias -inf had followed
        z[4] = bad
        for method in ("platt", "temperature"):
            with pytest.raises(ValueError, match=r"logits are NaN or inf in rows 4"):
                Calibrator(method).fit(z, y)
    for method in ("platt", "temperature", "none"):  # no row: the identity, as before
        assert (Calibrator(method).fit(np.zeros(0), np.zeros(0)).a,
                Calibrator(method).fit(np.zeros((0, 3)), np.zeros(0, int)).a) == (1.0, 1.0)
    proba = rng.dirichlet(np.ones(4), 30)
    codes = proba.argmax(axis=1)
    for bad, word in ((-1, "-1 marks an unlabelled row"), (7, r"hold \[7\]$")):
        wrong = codes.copy()
        wrong[2] = bad
        with pytest.raises(ValueError, match=rf"labels must hold class codes 0..3; rows 2 .*"
                                             rf"{word}"):
            Calibrator("temperature").fit(np.log(proba), wrong)
        with pytest.raises(ValueError, match=r"rhythm must hold class codes 0..3; rows 2"):
            rhythm_report(wrong, proba, n_boot=10)
        with pytest.raises(ValueError, match=r"y must hold class codes 0..3; rows 2"):
            multiclass_report(wrong, proba, n_boot=10)
    assert rhythm_report(codes.astype(float), proba, n_boot=10)["macro_f1"] == 1.0
    two = np.c_[1 - proba[:, 0], proba[:, 0]]  # bool labels are codes 0 and 1, as fit takes
    flags = proba[:, 0] > 0.5
    assert multiclass_report(flags, two, n_boot=10)["accuracy"] == 1.0
    assert Calibrator("temperature").fit(np.log(two), flags).a > 1.0
    assert Calibrator("temperature").fit(np.log(proba), codes).a > 1.0


def test_confusion_counts_stay_readable_where_every_count_is_near_the_largest(monkeypatch,
                                                                             tmp_path) -> None:
    """Each count's text contrasts with its cell: white only on a cell shaded past half the
    colour map (shaded from the smallest count, 35 of [[60, 40], [35, 65]] was white text on
    a white cell)."""
    import importlib

    import matplotlib

    R = importlib.import_module("qualityfm.tasks.report")  # the package exports report()
    drawn = []
    keep = R.save_figure
    monkeypatch.setattr(R, "save_figure", lambda fig, path: drawn.append(fig) or keep(fig, path))
    y = np.array([0] * 100 + [1] * 100)
    pred = np.array([0] * 60 + [1] * 40 + [0] * 35 + [1] * 65)
    R.plot_confusion(y, pred, ["false alarm", "true alarm"], tmp_path / "cm.png")
    ax = drawn[0].axes[0]
    image = ax.images[0]
    for text in ax.texts:
        shade = image.norm(int(text.get_text()))
        white = matplotlib.colors.same_color(text.get_color(), "white")
        assert white == (shade > 0.5), (text.get_text(), shade, text.get_color())


def test_a_cross_validation_table_says_its_rows_the_fold_thresholds_and_the_score() -> None:
    """A cv.md read alone had shown a TPR of 0.944 and a score of 0.569 with neither the rows
    they rest on, how its decisions were made (each fold at its own threshold) nor what the
    score is."""
    from qualityfm.tasks import markdown_table

    cv = {"auroc": 0.9, "tpr": 0.944, "score": 0.569, "n": 206, "n_pos": 54,
          "folds": [{"fold": 0, "threshold": 0.1}, {"fold": 1, "threshold": 0.2}]}
    lines = markdown_table({"5-fold CV": cv}).splitlines()
    assert lines[0] == "| model | auroc | tpr | score | n |"
    assert lines[2].endswith("| 0.569 | 206 (54 positive) |")
    assert lines[4:] == [
        "5-fold CV: each fold's decisions at its own threshold, fixed on that fold's "
        "validation data.",
        "score: the PhysioNet/CinC Challenge 2015 score, (TP+TN)/(TP+TN+FP+5FN)."]
    cv["model_settings"] = {"target_tpr": 0.95}
    assert markdown_table({"cv": cv}).splitlines()[4].endswith(
        "validation data, set to keep TPR >= 0.95 on new positives.")
    # a comparison's rows alike: one note for them all (it had been repeated row by row)
    notes = markdown_table({"a": cv, "b": dict(cv)}).splitlines()[5:]
    assert notes[0] == ("Every row: each fold's decisions at its own threshold, fixed on that "
                        "fold's validation data, set to keep TPR >= 0.95 on new positives.")
    assert len(notes) == 2


def test_a_roc_curve_along_the_frame_stays_visible(monkeypatch, tmp_path) -> None:
    """A good model's curve runs up the left edge and along the top: with the axes at [0, 1]
    it had lain on the frame."""
    import importlib

    R = importlib.import_module("qualityfm.tasks.report")
    drawn = []
    keep = R.save_figure
    monkeypatch.setattr(R, "save_figure", lambda fig, path: drawn.append(fig) or keep(fig, path))
    y = np.r_[np.zeros(20, int), np.ones(10, int)]
    R.plot_roc(y, y + 0.0, y, tmp_path / "roc.png")
    (x0, x1), (y0, y1) = drawn[0].axes[0].get_xlim(), drawn[0].axes[0].get_ylim()
    assert x0 < 0 < 1 < x1 and y0 < 0 < 1 < y1
