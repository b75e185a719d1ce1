"""The whole pipeline in one call: data -> quality -> store -> pre-training -> transfer -> report.

With no data it makes a synthetic PPG + ECG corpus of known quality and a synthetic VT-alarm
task; with ``data`` it runs the same steps on real records (e.g. the Challenge 2015 VT set).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from qualityfm._signals import Terminated
from qualityfm.data import Store, prepare
from qualityfm.io import atomic_write_text, write_json, write_wfdb
from qualityfm.io.channels import is_ecg
from qualityfm.io.folders import DEMO_MARKER, check_out_apart, folder_lock
from qualityfm.io.read import check_file_type, record_path
from qualityfm.quality import LEVEL_NAMES
from qualityfm.signal import synthetic_alarm_records, synthetic_corpus
from qualityfm.tasks.report import save_figure

LEVEL_COLOURS = ("#c0392b", "#e67e22", "#f1c40f", "#7dcea0", "#1e8449")


def write_synthetic_data(out: Path, n_pretrain: int = 16, n_alarms: int = 90,
                         seed: int = 0, artifacts: dict[str, np.ndarray] | None = None,
                         ) -> tuple[Path, Path]:
    """Write a synthetic pre-training corpus and a synthetic alarm set as WFDB records;
    ``artifacts`` (given) is filled with each pre-training record's true artifact strength
    per second (``synthetic_corpus``'s ``labels["artifact_strength"]``)."""
    pre, alarms = out / "pretrain", out / "alarms"
    for rec in synthetic_corpus(n_pretrain, seconds=300.0, seed=seed):
        write_wfdb(rec, pre)
        if artifacts is not None:
            artifacts[rec.record_id] = rec.labels["artifact_strength"]
    for rec in synthetic_alarm_records(n_alarms, seed=seed + 1):
        write_wfdb(rec, alarms)
    return pre, alarms


def levels_against_artifacts(store: Store, artifacts: dict[str, np.ndarray]) -> list[dict]:
    """Per quality level (best first): its windows, those holding no simulated artifact and
    the mean share of their seconds under one, from the generator's per-second record
    ``artifacts`` (record id -> strength at 1 Hz, 0 where clean)."""
    index, seconds = store.index, store.n_samples / store.fs
    share = np.full(len(index), np.nan)
    for i, (rid, start) in enumerate(zip(index["record_id"], index["start"], strict=True)):
        strength = artifacts.get(str(rid))
        if strength is not None:
            share[i] = np.mean(strength[int(np.floor(start)):int(np.ceil(start + seconds))] > 0)
    rows = []
    for lv in range(len(LEVEL_NAMES) - 1, -1, -1):
        held = share[(store.levels == lv) & np.isfinite(share)]
        rows.append({"level": LEVEL_NAMES[lv], "windows": int(len(held)),
                     "artifact_free": int(np.sum(held == 0)),
                     "artifact_share": round(float(held.mean()), 2) if len(held) else None})
    return rows


def panel_title(channel: str, own: float, level: int, q: float) -> str:
    """A channel's panel title: its own score (none where absent) beside its window's level
    and score (a PPG of 0.85 had been titled with its window's 0.50, set by the ECG beside
    it), scores cut (not rounded) to 3 decimals (0.4987 had read "poor (q=0.50)", the bar of
    acceptable)."""
    own_text = f" {np.floor(own * 1000) / 1000:.3f}" if np.isfinite(own) else ""
    return (f"{channel}{own_text} | window {LEVEL_NAMES[level]} "
            f"(q={np.floor(q * 1000) / 1000:.3f})")


def plot_quality_examples(store: Store, path: Path, per_level: int = 2, seed: int = 0) -> Path:
    """Example windows of each quality level, PPG and ECG, coloured by level."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    levels = store.levels
    rows = [(lv, i) for lv in range(len(LEVEL_NAMES) - 1, -1, -1)
            for i in rng.permutation(np.flatnonzero(levels == lv))[:per_level]]
    fig, axes = plt.subplots(max(1, len(rows)), 2, figsize=(12, 1.3 * max(1, len(rows))),
                             squeeze=False, sharex=True)
    t = np.arange(store.n_samples) / store.fs
    for r, (lv, i) in enumerate(rows):
        x, mask = store.window(int(i))
        for c, name in enumerate(store.channels):
            ax = axes[r, c]
            if mask[c]:
                ax.plot(t, x[c], lw=0.5, color=LEVEL_COLOURS[lv])
            else:
                ax.text(0.5, 0.5, f"{name} absent", transform=ax.transAxes, ha="center")
            ax.set_yticks([])
            own = float(store.index[f"{'ecg' if is_ecg(name) else 'ppg'}_q"][i])
            ax.set_title(panel_title(name, own, lv, float(store.index["q"][i])),
                         fontsize=7, loc="left", color=LEVEL_COLOURS[lv])
    axes[-1, 0].set_xlabel("seconds")
    axes[-1, 1].set_xlabel("seconds")
    return save_figure(fig, path)


def plot_training_curves(run: Path, path: Path, rank_ceiling: int | None = None) -> Path:
    """Loss terms and the collapse diagnostics of a pre-training run, from its log.jsonl: the
    total (the weighted sum) and every term it sums, each unweighted; ``rank_ceiling``: the
    diagnostic batch's size, the most the effective rank can reach, drawn as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.5))
    for key in ("loss", "distill", "amp", "phase", "koleo", "variance", "features"):
        pts = [(r["step"], r[key]) for r in rows if key in r and r[key] is not None]
        if pts:  # a point of its own where a line has too few to show (--steps 1: empty)
            ax1.plot(*zip(*pts, strict=True), label="total (weighted)" if key == "loss" else key,
                     marker="o" if len(pts) < 3 else None)
    ax1.set_xlabel("step")
    ax1.set_ylabel("loss (terms unweighted)")
    ax1.set_title("pre-training losses")
    ax1.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the curves
    pts = [(r["step"], r["effective_rank"]) for r in rows if "effective_rank" in r]
    if pts:
        ax2.plot(*zip(*pts, strict=True), marker="o")
    if rank_ceiling:  # a rank rising from 8 to 9 had looked like a pass with no scale beside it
        ax2.axhline(rank_ceiling, color="grey", ls="--", lw=0.8,
                    label=f"most it can be ({rank_ceiling} windows)")
        ax2.set_ylim(0, rank_ceiling * 1.05)
        ax2.legend(fontsize=7, loc="lower right")
    ax2.set_xlabel("step")
    ax2.set_ylabel("effective rank")
    ax2.set_title("teacher embedding effective rank (collapse check)")
    return save_figure(fig, path)




def _refuse_foreign_folder(out: Path) -> None:
    """Refuse an ``out`` holding anything but an earlier demo report: the demo rebuilds its
    store, runs, model and report there from scratch (it had replaced a user's store, model or
    a fine-tuned run's summary in a folder given as --out)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise ValueError(f"{out} is a file; --out names the demo's report folder")
    earlier = (out / DEMO_MARKER).is_file() or _demo_summary(out / "summary.json")
    held = sorted(p.name for p in out.iterdir())
    if held and not earlier:
        raise ValueError(f"{out} holds {', '.join(held[:5])}{' ...' if len(held) > 5 else ''} "
                         "and is no demo report: the demo writes its store, runs, model and "
                         "report there from scratch; give a new or empty --out")


def _demo_summary(path: Path) -> bool:
    """Whether ``path`` is the summary.json of a demo report written before its marker file
    (its own keys, not a word of them inside another verb's summary)."""
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(summary, dict) and {"report", "store", "pretrain", "vt_alarm_cv",
                                          "timings_s"} <= set(summary)


def run_demo(out: str | Path = "demo_report", data: str | Path | None = None, *,
             steps: int = 120, batch_size: int = 16, epochs: int | None = None, kfold: int = 3,
             seed: int = 0, progress: bool = True) -> dict:
    """Run the pipeline end to end and write a report folder; returns its summary."""
    out = Path(out)
    if ".." in out.parts:  # x/../y with no x: y's files had gone unseen (x/.. is no path) and
        out = Path(os.path.realpath(out))  # been replaced, and x made; the folder it names
    _refuse_foreign_folder(out)
    if data is not None:  # its store, runs and caches would land among the records
        if not Path(data).exists():  # before --out, which could make it
            raise FileNotFoundError(f"--data {data} does not exist")
        if Path(data).is_file():  # named before --out is judged beside it (a text file had
            check_file_type(record_path(data))  # been refused for where the report lay)
        check_out_apart(out, [data if Path(data).is_dir() else Path(data).parent], "report")
    made = next((p for p in reversed((out, *out.parents)) if not p.exists()), None)
    empty = made is None and not any(out.iterdir())
    out.mkdir(parents=True, exist_ok=True)
    (out / DEMO_MARKER).touch()  # this folder is the demo's to rebuild from now on
    try:
        with folder_lock(out, "demo"):  # a second demo on the folder is refused (it had
            # rebuilt the store and runs under the first one, both exiting 0)
            return _build_report(out, data, steps=steps, batch_size=batch_size, epochs=epochs,
                                 kfold=kfold, seed=seed, progress=progress)
    except DemoDataError:
        if made is not None or empty:
            _undo_refused(out, made, wrote_data=data is None)
        raise


def _undo_refused(out: Path, made: Path | None, wrote_data: bool) -> None:
    """What a demo refused for its data wrote in a folder new or empty before it (its marker,
    lock, task cache and, ``wrote_data``, its synthetic records: other verbs had refused the
    folder as a demo report, a later demo as holding data), removed, and the folders it made
    up to ``made`` where nothing else came to lie in them."""
    for name in (DEMO_MARKER, ".lock"):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "task_cache", ignore_errors=True)
    if wrote_data:
        shutil.rmtree(out / "data", ignore_errors=True)
    if made is None:
        return
    for folder in (out, *out.parents):
        try:
            folder.rmdir()  # only when empty: another job's files beside it stay
        except OSError:
            return
        if folder == made:
            return


class DemoDataError(ValueError):
    """--data the demo cannot fine-tune on (refused before any store or model is made)."""


def _build_report(out: Path, data: str | Path | None, *, steps: int, batch_size: int,
                  epochs: int | None, kfold: int, seed: int, progress: bool) -> dict:
    """:func:`run_demo`'s work in its checked, locked folder ``out``."""
    from qualityfm.tasks import build_task_dataset
    from qualityfm.tasks.pipeline import finetune_run
    from qualityfm.train import PretrainConfig, export_model, pretrain

    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        timings[name] = round(time.perf_counter() - t0 - sum(timings.values()), 1)
        if progress:
            # on stderr, with the other verbs' progress: stdout holds the result line alone
            print(f"[demo] {name} done ({timings[name]} s)", file=sys.stderr, flush=True)

    artifacts: dict[str, np.ndarray] = {}  # the synthetic records' true artifacts
    if data is None:  # written anew: another seed's records had been read beside these
        shutil.rmtree(out / "data", ignore_errors=True)
        pre_dir, task_dir = write_synthetic_data(out / "data", seed=seed, artifacts=artifacts)
        lap("synthetic data")
    else:
        pre_dir = task_dir = Path(data)
    # the task's records first: a folder without VT alarms, or without true and false ones
    # for the folds, is refused before pre-training (they had failed after it)
    task_cache = out / "task_cache"
    try:
        alarms = build_task_dataset("vt-alarm", task_dir, cache_dir=task_cache)
    except ValueError as e:  # (no VT alarm there, say)
        raise DemoDataError(str(e)) from e
    if len(np.unique(alarms.y)) < 2:
        raise DemoDataError(f"--data {task_dir}: its {len(alarms)} VT alarm(s) are all "
                            f"{'true' if alarms.y[0] else 'false'}: the demo's fine-tuning "
                            "needs true and false alarms")
    for label, kind in ((1, "true"), (0, "false")):  # each fold's training rows hold both
        held = len(set(alarms.groups[alarms.y == label]))
        if held < kfold:
            raise DemoDataError(f"--data {task_dir}: its {kind} VT alarms come from {held} "
                                f"record group(s); the demo's {kfold}-fold cross-validation "
                                f"needs {kfold} of each kind at least")
    if data is not None:  # an earlier run's synthetic records (kept beside this report), gone
        shutil.rmtree(out / "data", ignore_errors=True)  # once the data is not refused
    for stale in (out / "README.md", out / "summary.json"):  # an earlier run's report: gone
        stale.unlink(missing_ok=True)  # until this one writes its own, not mixed with it
    store_dir = out / "store"
    info = prepare(pre_dir, store_dir, workers=2, progress=progress,
                   overwrite=True)  # the demo rebuilds its report from scratch
    store = Store(store_dir)
    lap("prepare")
    cfg = PretrainConfig.for_recipe(
        "default", store=str(store_dir), out=str(out / "pretrain_run"), steps=steps,
        batch_size=batch_size, warmup=max(1, steps // 10), diag_every=max(1, steps // 6),
        diag_batch=32, log_every=5, ckpt_every=steps, prototypes=1024,
        teacher_temp_warmup=max(1, steps // 2), seed=seed, progress=progress,
        tensorboard=False, command=_demo_command(out, data, steps, epochs, seed, batch_size,
                                                 kfold),
    )
    summary = pretrain(cfg, overwrite=True)  # the demo rebuilds its report from scratch
    if summary.get("stopped_by") == "SIGTERM":  # pre-training stopped at a step's end, as
        raise Terminated()  # asked: no report of a half-trained model (it had gone on)
    if summary.get("stopped_by"):
        raise KeyboardInterrupt
    model_dir = export_model(cfg.out, out / "model")
    lap("pre-training")
    task = finetune_run("vt-alarm", task_dir, out / "vt_alarm", init=str(model_dir),
                        kfold=kfold, epochs=epochs, seed=seed, batch_size=32, overwrite=True,
                        cache_dir=task_cache)
    lap("fine-tuning")
    diagnostic_windows = min(cfg.diag_batch, len(store))  # the collapse checks' batch
    figures = {
        "quality": plot_quality_examples(store, out / "quality_levels.png", seed=seed),
        "training": plot_training_curves(Path(cfg.out), out / "training_curves.png",
                                         diagnostic_windows),
    }
    cv = task["cv"]
    result = {
        "report": str(out / "README.md"), "store": info,
        "pretrain": {k: v for k, v in summary.items() if k != "losses"},
        "vt_alarm_cv": {k: cv.get(k) for k in ("auroc", "auroc_ci", "tpr", "tnr", "score")},
        "timings_s": timings, "data": str(data) if data else "synthetic",
        "diagnostic_windows": diagnostic_windows,
    }
    if artifacts:
        result["levels_against_artifacts"] = levels_against_artifacts(store, artifacts)
    atomic_write_text(out / "README.md", _report_markdown(result, figures, kfold))
    write_json(out / "summary.json", result)
    return result


def _demo_command(out: Path, data: str | Path | None, steps: int, epochs: int | None,
                  seed: int, batch_size: int = 16, kfold: int = 3) -> str:
    """The command line that makes this report again (the run's record and model card had
    named --out alone: another seed or data made another model); the Python call where
    ``batch_size`` or ``kfold``, which the command line does not set, are not its own."""
    if (batch_size, kfold) != (16, 3):
        call = (f"from qualityfm.demo import run_demo; run_demo({str(out)!r}, "
                f"{None if data is None else str(data)!r}, steps={steps}, "
                f"batch_size={batch_size}, epochs={epochs}, kfold={kfold}, seed={seed})")
        return shlex.join(["python", "-c", call])
    words = ["qualityfm", "demo", "--out", str(out), "--steps", str(steps), "--seed", str(seed)]
    words += ["--data", str(data)] if data is not None else []
    words += ["--epochs", str(epochs)] if epochs is not None else []
    return shlex.join(words)


#: What the demo's figures on its own synthetic data say (and do not).
_SYNTHETIC_NOTE = (" The records are simulated, their true and false alarms easy to tell "
                   "apart: the figures below show that the pipeline runs end to end, not how "
                   "well the method works (docs/results.md has the figures on real records).")


def _report_markdown(result: dict, figures: dict[str, Path], kfold: int) -> str:
    s, cv = result["store"], result["vt_alarm_cv"]
    levels = ", ".join(f"{k} {v}" for k, v in s["levels"].items())
    ci = [c for c in cv.get("auroc_ci") or [] if c is not None and np.isfinite(c)]
    ci_text = (f"95 % CI {ci[0]:.3f}-{ci[1]:.3f}" if len(ci) == 2 else
               "no CI: no bootstrap replicate differs, as where the alarms are all told "
               "apart or a class holds one record")
    return f"""# qualityfm demo report

Data: {result['data']}.{_SYNTHETIC_NOTE if result['data'] == 'synthetic' else ''}

## 1. Signal quality and the store
{s['n_records']} records, {s['n_windows']} windows of 30 s, {s['n_pairs']} quality-divergent pairs.
Levels: {levels}. Skipped records: {len(s['skipped'])}.

![quality levels]({figures['quality'].name})

{_artifacts_markdown(result.get("levels_against_artifacts"))}
## 2. Pre-training (self-distillation, EMA teacher)
{result['pretrain']['step']} steps; final losses and collapse diagnostics are in
`pretrain_run/summary.json`; the exported teacher is in `model/`.
{_collapse_markdown(result)}
![training curves]({figures['training'].name})

## 3. Transfer: false VT alarms ({kfold}-fold cross-validation, split by record)
The default vt-alarm model: a linear head on the pre-trained embedding and the classical
features. AUROC {cv['auroc']:.3f} ({ci_text}), TPR {cv['tpr']:.3f},
TNR {cv['tnr']:.3f}, challenge score {cv['score']:.3f}.

![ROC](vt_alarm/cv_roc.png) ![confusion](vt_alarm/cv_confusion.png)

Timings: {", ".join(f"{k} {v} s" for k, v in result["timings_s"].items())}.
"""


def _artifacts_markdown(rows: list[dict] | None) -> str:
    """The synthetic windows' quality levels against the artifacts the generator placed (a
    report's ``excellent`` example had shown mains hum with no word of why)."""
    if not rows:
        return ""
    best = rows[0]
    table = "\n".join(
        f"| {r['level']} | {r['windows']} | {r['artifact_free']} | "
        f"{'' if r['artifact_share'] is None else format(r['artifact_share'], '.2f')} |"
        for r in rows)
    return f"""Against the artifacts the generator placed (its own record, second by second:
1-3 kinds at a strength of 0.1-1, on one channel or both):

| level | windows | with no artifact | mean share of seconds under one |
|---|---|---|---|
{table}

The levels are rule-based scores (docs/quality.md): they follow the artifacts' share, but pass
many artifacts ({best['artifact_free']} of the {best['windows']} {best['level']} windows hold
none): weak ones, and kinds the rules read little of (mains hum over part of a window; a
clipped stretch whose rails are not the window's extremes), so an example above may show one.
"""


def _collapse_markdown(result: dict) -> str:
    """The run's last collapse diagnostics in words (the report had given none: a rank rising
    from 8 to 9 of 32, with a mean cosine of 0.96, had read as a pass)."""
    last, n = result["pretrain"].get("last") or {}, result.get("diagnostic_windows")
    if "mean_cosine" not in last or not n:
        return ""
    cosine = float(last["mean_cosine"])
    verdict = ("They are still alike, near collapse; a run this short shows that pre-training "
               "runs, not what it learns." if cosine >= 0.8 else "They are spread apart.")
    return (f"\nAt step {last['step']} the teacher's pooled embeddings of {n} fixed windows had "
            f"an effective rank of {float(last['effective_rank']):.1f} (at most {n}) and a mean "
            f"pairwise cosine of {cosine:.2f} (1: all alike). {verdict} The shipped `base` "
            "weights ended 4,000 steps of batch 32 at a cosine of 0.06 (their model card).\n")
