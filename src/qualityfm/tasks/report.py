"""Reports: results JSON, a markdown table with CIs, and PNG plots (ROC with the operating
point, confusion matrix, Bland-Altman for BP), drawn with matplotlib's Agg backend."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from qualityfm._caller import warn_at_caller
from qualityfm.io import atomic_write_all, atomic_write_bytes, json_text, utf8_bytes
from qualityfm.io.atomic import remove_file_temporaries


def _fmt(v: object, ci: object = None) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    if isinstance(v, bool):
        return "pass" if v else "fail"
    s = f"{v:.3f}" if isinstance(v, float) else str(v)
    if ci and all(c is not None and np.isfinite(c) for c in ci):
        sep = " to " if min(ci) < 0 else "-"  # "-0.05 to 0.02", not "-0.05-0.02"
        s += f" ({ci[0]:.3f}{sep}{ci[1]:.3f})"
    return s


CLASSIFICATION_COLUMNS = ("auroc", "auprc", "tpr", "tnr", "ppv", "f1", "accuracy", "score",
                          "macro_f1", "noisy_auroc", "delta_auroc")
#: Table headers that say more than their key: the Challenge 2017 macro F1 leaves out '~'.
COLUMN_HEADERS = {"macro_f1": "macro_f1 (N, A, O)"}


def _cell(text: str) -> str:
    """``text`` as one table cell: a ``|`` escaped, line breaks as spaces."""
    return " ".join(str(text).split()).replace("|", "\\|")


def markdown_table(rows: dict[str, dict]) -> str:
    """One row per model name; classification columns with 95 % CIs, or BP MAE/ME/SD/MASE."""
    if not rows:
        return ""
    first = next(iter(rows.values()))
    if "targets" in first:  # a generic regression's (regression_report), target by target
        n = max(len(r["targets"]) for r in rows.values())
        head = ["model"] + [f"target {k} {m}" for k in range(n)
                            for m in ("MAE", "ME", "SD", "MASE")]
        lines = [[_cell(name)] + [cell for t in r["targets"] for cell in (
            _fmt(t["mae"], t.get("mae_ci")), _fmt(t["me"]), _fmt(t["sd"]), _fmt(t["mase"]))]
            for name, r in rows.items()]
    elif "sbp" in first:
        head = ["model"] + [f"{p} {m}" for p in ("SBP", "DBP") for m in ("MAE", "ME", "SD", "MASE",
                                                                          "AAMI", "BHS")]
        delta = any("delta_sbp_mae" in r for r in rows.values())
        head += ["delta_sbp_mae"] if delta else []
        lines = []
        for name, r in rows.items():
            cells = [_cell(name)]
            for p in ("sbp", "dbp"):
                d = r[p]
                cells += [_fmt(d["mae"], d.get("mae_ci")), _fmt(d["me"]), _fmt(d["sd"]),
                          _fmt(d["mase"]), _fmt(d["aami"]), _fmt(d["bhs"]["grade"])]
            if delta:
                cells.append(_fmt(r.get("delta_sbp_mae"), r.get("delta_sbp_mae_ci")))
            lines.append(cells)
    else:
        cols = [c for c in CLASSIFICATION_COLUMNS if any(c in r for r in rows.values())]
        folds = any(r.get("fold_auroc_mean") is not None for r in rows.values())
        rhythm = any("noisy_auroc" in r for r in rows.values())  # the AF rhythm's N, A, O
        head = ["model", *(COLUMN_HEADERS.get(c, c) if rhythm else c for c in cols)]
        lines = [[_cell(name), *(_fmt(r.get(c), r.get(f"{c}_ci")) for c in cols)]
                 for name, r in rows.items()]
        if folds and "auroc" in cols:  # a cross-validation's: beside the pooled AUROC
            at = cols.index("auroc") + 2
            head.insert(at, "fold auroc mean (SD)")
            for cells, r in zip(lines, rows.values(), strict=True):
                mean, sd = r.get("fold_auroc_mean"), r.get("fold_auroc_sd")
                held, k = r.get("fold_auroc_n"), len(r.get("folds") or [])
                notes = [f"{sd:.3f}"] if sd is not None and np.isfinite(sd) else []
                notes += [f"{held} of {k} folds"] if held is not None and 0 < held < k else []
                cells.insert(at, "n/a" if mean is None or not np.isfinite(mean) else
                             f"{mean:.3f}" + (f" ({', '.join(notes)})" if notes else ""))
        if any(isinstance(r.get("n"), int) for r in rows.values()):  # how many rows it rests on
            head.append("n")
            for cells, r in zip(lines, rows.values(), strict=True):
                n, pos = r.get("n"), r.get("n_pos")
                cells.append("n/a" if not isinstance(n, int) else f"{n} ({pos} positive)"
                             if isinstance(pos, int) else str(n))
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(cells) + " |" for cells in lines]
    notes = dict.fromkeys(r["protocol_note"] for r in rows.values() if r.get("protocol_note"))
    notes.update(dict.fromkeys(_threshold_note(name, r) for name, r in rows.items()
                               if isinstance(r.get("threshold"), float)
                               and np.isfinite(r["threshold"])))
    per_fold = {name: _fold_threshold_note(r) for name, r in rows.items()
                if "threshold" not in r and any("threshold" in f for f in r.get("folds") or [])}
    if len(per_fold) > 1 and len(set(per_fold.values())) == 1:  # one note for every row
        notes[f"Every row: {next(iter(per_fold.values()))}"] = None
    else:
        notes.update(dict.fromkeys(f"{_cell(name)}: {note}" for name, note in per_fold.items()))
    if "sbp" in first:
        notes["MAE, ME and SD in mmHg"] = None
    if any("score" in r for r in rows.values()) and "sbp" not in first:
        notes["score: the PhysioNet/CinC Challenge 2015 score, (TP+TN)/(TP+TN+FP+5FN)"] = None
    out += ["", *(f"{note}." for note in notes)] if notes else []  # abp's AAMI and BHS
    return "\n".join(out) + "\n"


def _threshold_note(name: str, r: dict) -> str:
    """The operating point of a row decided at one threshold, with the TPR it was set to keep
    (a table read alone had shown a TPR of 0.926 with no 0.95 beside it)."""
    target = (r.get("model_settings") or {}).get("target_tpr")
    kept = f", set to keep TPR >= {target:g} on new positives" if target else ""
    shown = f"{r['threshold']:.6g}"
    if float(shown) in (0.0, 1.0) and r["threshold"] not in (0.0, 1.0):  # 0.9999996 had read
        shown = repr(float(r["threshold"]))  # "p >= 1": no alarm kept
    return (f"{_cell(name)}: decisions at p >= {shown}, the threshold fixed on "
            f"its validation data{kept}")


def _fold_threshold_note(r: dict) -> str:
    """How a cross-validation's pooled decisions were made: each fold at its own threshold (a
    cv.md had shown a TPR of 0.944 with no word of how its decisions were made)."""
    target = (r.get("model_settings") or {}).get("target_tpr")
    kept = f", set to keep TPR >= {target:g} on new positives" if target else ""
    return f"each fold's decisions at its own threshold, fixed on that fold's validation data{kept}"


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _title(ax: object, title: str, width: int) -> None:
    """``title`` over ``ax``, wrapped at about ``width`` characters (long model names)."""
    import textwrap

    # a name is text, not mathtext: "run_$HOME_$USER" had failed the report
    ax.set_title(textwrap.fill(title, width), fontsize=10, parse_math=False)


def plot_roc(y: np.ndarray, score: np.ndarray, pred: np.ndarray, path: str | Path,
             title: str = "", per_fold: bool = False) -> Path:
    """ROC curve with the operating point of the decisions ``pred`` marked. ``per_fold``:
    pooled out-of-fold scores and decisions, each fold at its own threshold, so that the
    point need not lie on the pooled curve (the legend says so)."""
    from sklearn.metrics import roc_curve

    from qualityfm.tasks import metrics as M

    plt = _figure()
    fpr, tpr_, _ = roc_curve(np.asarray(y).astype(int), np.asarray(score, float))
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(fpr, tpr_, lw=1.5, label=f"AUROC {M.auroc(y, score):.3f}")
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    op_fpr, op_tpr = 1 - M.tnr(y, pred), M.tpr(y, pred)
    what = "pooled decisions, per-fold thresholds" if per_fold else "operating point"
    ax.plot([op_fpr], [op_tpr], "o", c="C3", clip_on=False, zorder=3,
            label=f"{what} (TPR {op_tpr:.2f}, TNR {1 - op_fpr:.2f})")
    # a margin on each side: a good model's curve, up the left edge and along the top, had
    # lain on the frame
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(-0.02, 1.02),
           ylim=(-0.02, 1.02))
    _title(ax, title, 50)
    # below the axes: inside, the long per-fold text covered the curve's start
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=8, frameon=False)
    return save_figure(fig, path)


def plot_confusion(y: np.ndarray, pred: np.ndarray, labels: list[str], path: str | Path,
                   title: str = "") -> Path:
    """Confusion matrix (rows true, columns predicted) with counts."""
    from sklearn.metrics import confusion_matrix

    plt = _figure()
    cm = confusion_matrix(np.asarray(y), np.asarray(pred), labels=range(len(labels)))
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 2, 1.2 * len(labels) + 1.5))
    # shaded from 0, as the text colour below reads it: shaded from the smallest count, a
    # count over half the largest but the smallest was white on white ([[60, 40], [35, 65]])
    ax.imshow(cm, cmap="Blues", vmin=0, vmax=max(int(cm.max()), 1))
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set(xticks=range(len(labels)), yticks=range(len(labels)), xticklabels=labels,
           yticklabels=labels, xlabel="predicted", ylabel="true")
    _title(ax, title, 8 * len(labels) + 22)
    return save_figure(fig, path)


def plot_bland_altman(y: np.ndarray, pred: np.ndarray, path: str | Path, title: str = "") -> Path:
    """Bland-Altman plot of predicted vs reference pressure with bias and 95 % limits."""
    plt = _figure()
    y, pred = np.asarray(y, float), np.asarray(pred, float)
    mean, diff = (y + pred) / 2, pred - y
    bias = diff.mean()
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(mean, diff, s=8, alpha=0.6)
    if len(diff) > 1:  # one row has no SD (the JSON's is null): no limits drawn
        sd = diff.std(ddof=1)
        ax.axhline(bias, ls="-", c="C3", lw=1, label=f"ME {bias:.1f}, SD {sd:.1f}")
        lo, hi = bias - 1.96 * sd, bias + 1.96 * sd
        ax.axhline(hi, ls="--", c="C3", lw=1, label=f"ME ± 1.96 SD: {lo:.1f} to {hi:.1f}")
        ax.axhline(lo, ls="--", c="C3", lw=1)
    else:
        ax.axhline(bias, ls="-", c="C3", lw=1, label=f"ME {bias:.1f} (one row: no SD)")
    ax.set(xlabel="mean of reference and estimate (mmHg)", ylabel="estimate - reference (mmHg)")
    _title(ax, title, 60)
    # below the axes: inside, it sat on the points or a limit line
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8, frameon=False)
    return save_figure(fig, path)


def save_figure(fig: object, path: str | Path) -> Path:
    """Lay out ``fig``, write it as a PNG at ``path`` atomically, and close it."""
    import io

    import matplotlib.pyplot as plt

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)


#: Names of a binary task's two classes in plots (others: negative, positive).
BINARY_LABELS = {"vt-alarm": ["false alarm", "true alarm"], "af": ["not AF", "AF"]}


def binary_labels(task: str | None) -> list[str]:
    """The two class names a binary task's plots show."""
    return BINARY_LABELS.get(task or "", ["negative", "positive"])


#: The plots :func:`report` can draw, as ``{name}_{plot}.png``.
REPORT_PLOTS = ("roc", "confusion", "bland_altman_sbp", "bland_altman_dbp")


def report_paths(out: str | Path, name: str) -> list[Path]:
    """Every file :func:`report` can write for ``name`` in ``out``: JSON, markdown, plots."""
    out = Path(out)
    return [out / f"{name}.json", out / f"{name}.md",
            *(out / f"{name}_{plot}.png" for plot in REPORT_PLOTS)]


def clear_report(out: str | Path, name: str) -> None:
    """Remove what an earlier :func:`report` of ``name`` wrote to ``out`` (other files stay)."""
    for path in report_paths(out, name):
        path.unlink(missing_ok=True)


def report(results: dict, out: str | Path, name: str = "results",
           task: str | None = None, label: str | None = None) -> dict[str, Path]:
    """Write ``out/name.json``, ``out/name.md`` and the plots that fit ``results``
    (which holds ``oof``/``predictions``: y, score, pred as produced by evaluation), all
    replaced together once drawn, then remove the files an earlier report of ``name`` wrote
    there that this one does not (a plot it does not draw); the table row and the plots are
    named ``label`` (default: ``name``), the plots also by the task (``task``, else
    ``results["task"]``) and its classes. The temporaries of a report of ``name`` killed
    mid-write there, an hour old, go first."""
    out = Path(out)
    for path in report_paths(out, name):
        remove_file_temporaries(path)
    with tempfile.TemporaryDirectory() as drawn:  # the plots drawn first, away from out
        files = _draw(results, Path(drawn), name, label or name, task)
        texts = {out / f"{name}.json": json_text(results),
                 out / f"{name}.md": markdown_table({label or name: results})}
        writes = {**{path: (lambda f, t=t: f.write(utf8_bytes(t))) for path, t in texts.items()},
                  **{out / p.name: (lambda f, p=p: f.write(p.read_bytes()))
                     for p in files.values()}}
        # the earlier plots removed with the renames (after a stop held during them, an
        # earlier ROC had stayed beside a report without one)
        atomic_write_all(writes, remove=set(report_paths(out, name)) - set(writes))
    return {"json": out / f"{name}.json", "md": out / f"{name}.md",
            **{key: out / p.name for key, p in files.items()}}


def _draw(results: dict, out: Path, name: str, label: str, task: str | None
          ) -> dict[str, Path]:
    """The plots of :func:`report` that fit ``results``, drawn into ``out``."""
    files: dict[str, Path] = {}
    pr = results.get("oof") or results.get("predictions")
    task = task or results.get("task")
    title = f"{task}: {label}" if task else label
    if pr:
        y, score, pred = np.asarray(pr["y"]), np.asarray(pr["score"]), np.asarray(pr["pred"])
        if "targets" in results:  # a generic regression's: its table says it all
            pass
        elif "sbp" in results:
            for k, p in enumerate(("sbp", "dbp")):
                png = out / f"{name}_bland_altman_{p}.png"
                files[f"ba_{p}"] = plot_bland_altman(y[:, k], pred[:, k], png,
                                                     f"{title}, {p.upper()}")
        elif score.ndim == 1:
            if len(np.unique(y)) == 2:  # a ROC curve needs both classes
                files["roc"] = plot_roc(y, score, pred, out / f"{name}_roc.png", title,
                                        per_fold="oof" in results)
            elif len(y):  # said (the plot had been left out unsaid)
                warn_at_caller(f"{title}: no ROC plot: the rows hold one class only "
                               f"({binary_labels(task)[int(y[0])]}), so AUROC, AUPRC and TPR "
                               "or TNR are undefined")
            files["confusion"] = plot_confusion(y, pred, binary_labels(task),
                                                out / f"{name}_confusion.png", title)
        else:  # the AF rhythm's classes, or a generic multiclass model's by index
            from qualityfm.tasks.datasets import RHYTHMS

            classes = (list(RHYTHMS) if "noisy_auroc" in results
                       else [str(c) for c in range(score.shape[1])])
            files["confusion"] = plot_confusion(y, pred, classes,
                                                out / f"{name}_confusion.png", title)
    return files
