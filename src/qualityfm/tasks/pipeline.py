"""The task workflows behind the CLI verbs: ``finetune_run``, ``evaluate_run``,
``predict_run`` and ``compare_run``. Each builds the task dataset, runs the harness and writes
a report (``predict_run``: a table of predictions)."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import re
import shutil
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from qualityfm._caller import warn_at_caller
from qualityfm.inference.score import (
    PREDICTION_COLUMNS,
    RHYTHM_COLUMNS,
    check_output,
    refuse_foreign_output,
    write_table,
    written_here,
)
from qualityfm.io import atomic_write, atomic_write_text, read_json, write_json
from qualityfm.io.atomic import STALE_TEMPORARY_S, check_name_room, remove_temporaries
from qualityfm.io.folders import (
    check_out_apart,
    check_writable_folder,
    folder_kind,
    folder_lock,
    refuse_other_kind,
    refuse_reserved_name,
)
from qualityfm.io.read import note_passed_over, note_skipped, passed_over_skips
from qualityfm.model.network import check_pool
from qualityfm.model.precision import resolve_device
from qualityfm.signal.nan import listed
from qualityfm.tasks.baselines import CLASSICAL_FILE, ClassicalBaseline, ResNet1d, load_estimator
from qualityfm.tasks.copies import ChannelPeaks, pack_marks, stretches_of, unpack_marks
from qualityfm.tasks.datasets import (
    BP_RULES,
    RHYTHMS,
    DataDirs,
    TaskDataset,
    build_task_dataset,
    data_dirs,
    data_label,
    iter_task_datasets,
    record_of,
    window_id,
)
from qualityfm.tasks.evaluate import (
    af_rhythm_decisions,
    binary_report,
    bp_report,
    check_folds,
    cross_validate,
    features_read,
    files_stamp,
    paired_difference,
    rhythm_report,
)
from qualityfm.tasks.finetune import (
    ABSENT_ROWS,
    DEFAULT_EPOCHS,
    OTHER_LENGTH,
    Finetuner,
    TaskEstimator,
    absences_named,
    check_init,
    check_solver,
    check_test_shifts,
    default_features,
    default_mode,
    encoder_fs,
    init_identity,
    refuse_one_group,
    resolve_model_config,
    shipped_init,
    unseen_rows,
    window_digests,
)
from qualityfm.tasks.report import clear_report, markdown_table, report, report_paths
from qualityfm.tasks.splits import group_split


def _dataset(task: str, data: DataDirs, listed_in: str = "the run's JSON", **kw: object
             ) -> tuple[TaskDataset, list[dict[str, str]]]:
    """The task dataset of ``data`` and the files of its folders that are no record, each
    named on stderr as the records skipped are (all listed in ``listed_in``)."""
    ds = build_task_dataset(task, data, **{k: v for k, v in kw.items() if v is not None})
    note_skipped(ds.skipped, listed_in=listed_in)
    note_left_out(ds.left_out, listed_in)
    return ds, _passed_over(data, task)


def _refuse_one_class(ds: TaskDataset, data: DataDirs) -> None:
    """ValueError naming the data when a classification task's rows hold one class (a fit
    had failed with "y holds only class 0", naming no folder)."""
    if ds.task != "abp" and len(ds) and len(np.unique(ds.y)) < 2:
        raise ValueError(f"{data_label(data)}: all {len(ds)} {ds.task} rows hold label "
                         f"{ds.y[0].item()!r}; fitting a classifier needs rows of two classes "
                         "at least")


def note_left_out(left_out: list[dict[str, str]], listed_in: str = "the run's JSON") -> None:
    """Count on stderr, by reason, the windows of the records read that give no row (each
    one is listed under 'left_out' in ``listed_in``)."""
    if not left_out:
        return
    by = Counter(e["reason"] for e in left_out).most_common()
    reasons = "; ".join(f"{reason}: {n}" for reason, n in by[:3]) + ("; ..." * (len(by) > 3))
    print(f"qualityfm: left out {len(left_out)} window{'s' * (len(left_out) > 1)} of the "
          f"records read ({reasons}); each is listed under 'left_out' in {listed_in}",
          file=sys.stderr)


def _passed_over(data: DataDirs, task: str) -> list[dict[str, str]]:
    """The files of ``data``'s folders that are no record of ``task``
    (``io.read.passed_over_skips``; abp reads UCI cuff-less BP parts), named on stderr as
    score names them."""
    folders = {d.resolve(): d for d in data_dirs(data)}  # a folder given twice: once
    passed = [entry for d in folders.values()
              for entry in passed_over_skips(d, uci_read=task == "abp")]
    note_passed_over(passed)
    return passed


def _resolved_dirs(data: DataDirs) -> list[str]:
    """The folders of ``data`` as absolute paths: how a stopped run's folds are keyed, however
    ``--data`` is spelt or ordered (the records are pooled: the order makes no dataset)."""
    return sorted({str(d.resolve()) for d in data_dirs(data)})


def check_bp_rule(task: str, bp_rule: str | None) -> None:
    """``bp_rule`` (``datasets.BP_RULES``) sets abp's targets: refused for another task."""
    if bp_rule is None:
        return
    if bp_rule not in BP_RULES:
        raise ValueError(f"bp_rule must be one of {BP_RULES}, got {bp_rule!r}")
    if task != "abp":
        raise ValueError(f"--bp-rule sets the blood-pressure targets of --task abp; "
                         f"--task {task} has none")


#: Folder of a k-fold run (``finetune --kfold``, ``compare``) that holds its finished folds
#: until its report is written: the same command run again resumes after the last of them.
FOLDS_DIR = ".folds"
#: Folder of a plain ``finetune`` run that holds each network's last finished epoch until
#: the fit ends: the same command run again resumes after it.
EPOCHS_DIR = ".epochs"
#: The peaks of a fitted run's training records (:mod:`.copies`), by which evaluate and predict
#: tell a record holding a stretch of one of them under another name (hidden: no reader takes
#: it for a record of the folder).
TRAIN_PEAKS = ".train_peaks.npz"


#: The names of the files finetune and compare write in their RUN folder (a model's, a run's
#: JSON, tables and plots): their temporaries, not a user's, are cleared there.
_RUN_FILE = re.compile(r".+\.(json|md|png|pt|pkl|npz)")


@contextlib.contextmanager
def _out_lock(out: str | Path, verb: str) -> Iterator[None]:
    """Hold ``out/.lock`` while ``verb`` runs (``io.folders.folder_lock``): a second run on the
    same ``out`` is refused (two had cleared each other's finished files, both exiting 0).
    A folder of another kind is refused first, untouched; the temporaries of the run's own
    files (:data:`_RUN_FILE`) that a write killed there before left are removed once an hour
    old (a younger one may be another verb's, writing there: a score's had gone, its rename
    failing; a user's ``.notes.v2.tmp`` is none of them); folders made for the lock alone go
    again when the run ends with nothing in them (a refusal)."""
    out = Path(out)
    check_writable_folder(out, f"--out {out}")
    refuse_other_kind(out, RUN_KINDS)
    made = [d for d in (out, *out.parents) if not d.exists()]  # out first, its parents after
    out.mkdir(parents=True, exist_ok=True)
    try:
        with folder_lock(out, verb):
            remove_temporaries(out, older_than_s=STALE_TEMPORARY_S, of=_RUN_FILE)
            yield
    finally:
        if made and [p.name for p in out.iterdir()] in ([], [".lock"]):
            (out / ".lock").unlink(missing_ok=True)
            for d in made:
                with contextlib.suppress(OSError):  # one that holds something else stays
                    d.rmdir()


def _locked(verb: str) -> Callable[[Callable[..., dict]], Callable[..., dict]]:
    """Run the decorated ``(task, data, out, ...)`` under :func:`_out_lock` of its ``out``."""
    def wrap(run: Callable[..., dict]) -> Callable[..., dict]:
        @functools.wraps(run)
        def locked(task: str, data: DataDirs, out: str | Path, *args, **kwargs) -> dict:
            check_out_apart(out, [data] if isinstance(data, str | os.PathLike) else data,
                            "run")
            with _out_lock(out, verb):
                return run(task, data, out, *args, **kwargs)
        return locked
    return wrap


@_locked("finetune")
def finetune_run(
    task: str, data: DataDirs, out: str | Path, *, init: str = "pretrained",
    mode: str | None = None,
    kfold: int | None = None, epochs: int | None = None, seed: int = 0,
    config: str | None = None, batch_size: int | None = None, seconds: float | None = None,
    max_records: int | None = None,
    cache_dir: str | Path | None = None, use_features: bool | None = None, augment: bool = True,
    pool: str | None = None, test_shifts: int | None = None, solver: str | None = None,
    device: str = "cpu", overwrite: bool = False, target_tpr: float | None = None,
    bp_rule: str | None = None,
) -> dict:
    """Fine-tune on all of ``data`` (grouped validation inside) and save the model to ``out``;
    with ``kfold``, run grouped k-fold CV instead and write its report to ``out``. For ``af`` a
    second, 4-class rhythm model goes to ``out/rhythm``. ``use_features`` feeds the task's
    classical features to the head beside the embedding (None: ``finetune.default_features``,
    on for every clinical task); ``init="classical"`` fits the classical feature baseline
    instead of a network (``mode`` and ``epochs`` do not apply).
    ``mode`` None: ``finetune.default_mode`` (linear from pre-trained weights).
    ``augment``: random circular time shifts of the training windows (full mode); ``pool``: how
    the encoder's tokens are pooled (default: the task's, ``finetune.DEFAULT_POOL``);
    ``test_shifts``: shifted copies averaged at prediction (default: ``Finetuner``'s);
    ``solver``: how a linear head is fitted (default: ``finetune.default_solver``);
    ``device``: where networks train ("cpu", "cuda", ...); ``epochs`` and ``batch_size`` None:
    ``Finetuner``'s (30 and 32); ``target_tpr``: the TPR the threshold keeps on new alarms
    (vt-alarm; None: the estimators' 0.95); ``bp_rule``: how abp's targets are taken
    (``datasets.BP_RULES``; None: the median of the beats). Options given that the run does not use
    (``--epochs`` for a closed-form head, a network option for the classical baseline, ...) are
    named on stderr and under ``ignored`` in ``summary.json``, which records the settings the
    run used. An ``out`` that holds a finished run (a model or a CV report) is refused unless
    ``overwrite`` (then replaced); a k-fold run stopped there resumes."""
    _remove_finished_epochs(Path(out))
    _refuse_finished(out, overwrite, resumable=bool(kfold))
    _refuse_foreign_files(out, ("summary.json", *(
        ("cv.md",) if kfold else ("classical.pkl",) if init == "classical" else ("model.pt",))))
    rows = sorted(p.name for p in (Path(out) / FOLDS_DIR).glob("*") if p.is_dir())
    if rows and not overwrite:  # a finetune run there would remove them
        raise ValueError(f"{out} holds a stopped comparison (finished folds of {rows[0]}"
                         f"{' ...' if len(rows) > 1 else ''} in {FOLDS_DIR}): resume it with "
                         "compare, --overwrite it, or choose another --out")
    # the other kind of stopped finetune: a plain fit's kept epochs, or a k-fold run's folds
    # (each had been removed, unasked, by a run of the other kind)
    stopped = ([Path(out) / EPOCHS_DIR] if kfold and (Path(out) / EPOCHS_DIR).is_dir() else
               [] if kfold else sorted((Path(out) / FOLDS_DIR).glob("*-fold*.npz")))
    if stopped and not overwrite:
        raise ValueError(
            f"{out} holds a stopped finetune " + (
                f"(its last finished epoch in {EPOCHS_DIR}): resume it with finetune without "
                "--kfold" if kfold else f"--kfold (finished folds such as {FOLDS_DIR}/"
                f"{stopped[0].name}): resume it with finetune --kfold")
            + ", --overwrite it, or choose another --out")
    resolve_device(device)
    check_bp_rule(task, bp_rule)
    if pool is not None:
        check_pool(pool)  # before the dataset is built
    init = shipped_init(init)  # "pretrained:base" is "pretrained"
    check_init(init, classical=True)  # before the dataset is built
    # (flag, the setting it sets, given?) of the options a run may not use
    given = [("--mode", "mode", mode), ("--solver", "solver", solver), ("--pool", "pool", pool),
             ("--test-shifts", "test_shifts", test_shifts), ("--config", "config", config),
             ("--epochs", "epochs", epochs), ("--batch-size", "batch_size", batch_size),
             ("--target-tpr", "target_tpr", target_tpr),
             ("--no-augment", "augment", None if augment else True),
             ("--no-features" if use_features is False else "--features", "use_features",
              use_features)]
    mode = None if init == "classical" else mode or default_mode(task, init)
    if solver is not None and mode is not None:
        check_solver(solver, mode)
    if init != "classical" and use_features is None:
        use_features = default_features(task)
    # the task windows at the rate the encoder was pre-trained on (300 Hz for the shipped one)
    ds, passed = _dataset(task, data, seconds=seconds, max_records=max_records,
                          cache_dir=cache_dir, fs=encoder_fs(init, config), bp_rule=bp_rule)
    _refuse_one_class(ds, data)
    cfg = resolve_model_config(config) if init == "none" else None

    sizes = {k: v for k, v in (("epochs", epochs), ("batch_size", batch_size)) if v is not None}
    rule = {} if target_tpr is None else {"target_tpr": target_tpr}

    def make(t: str = task, checkpoint: Path | None = None) -> TaskEstimator:
        if init == "classical":
            return ClassicalBaseline(t, seed=seed, fs=ds.fs, **rule)
        return Finetuner(t, init=init, mode=mode, config=cfg, **sizes, **rule, seed=seed,
                         use_features=use_features,
                         augment=augment, pool=pool, test_shifts=test_shifts, solver=solver,
                         device=device, verbose=True, fs=ds.fs, checkpoint=checkpoint,
                         # af's binary model stays resumable while its rhythm model fits
                         keep_checkpoint=True)

    out = Path(out)
    used = _used_settings(make())  # (a config the task models cannot read refused here)
    # the refusals the settings and windows decide, before --overwrite removes anything (a
    # fit's or a fold's refusal had come with the stopped work gone)
    if used["test_shifts"] is not None:
        check_test_shifts(used["test_shifts"], ds.X.shape[-1])
    _check_splits(ds, kfold, seed, [make] + ([lambda: make("af4")] if task == "af" else []))
    for row in rows:  # --overwrite, the data read: the stopped comparison goes (kept, a stop
        shutil.rmtree(out / FOLDS_DIR / row)  # of this run had left a folder both verbs
        # refused)
    for path in stopped:  # and the stopped finetune of the other kind
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    summary: dict = {"task": task, "n": len(ds), "skipped": ds.skipped, "passed_over": passed,
                     "left_out": ds.left_out, "init": str(init),
                     **used, "seed": seed, "settings": ds.settings}
    ignored = [flag for flag, key, value in given if value is not None and (
        used[key] is None or (key == "use_features" and used[key] != value))]
    if ignored:
        summary["ignored"] = ignored
        model_kind = [f for f in ignored if f != "--target-tpr"]
        if "--config" in model_kind and init not in ("none", "classical"):  # not the mode's
            model_kind.remove("--config")  # doing (it had said "not used by a full fine-tune")
            print(f"qualityfm: note: --config: sets the architecture of --init none only; "
                  f"--init {init} brings its own, ignored", file=sys.stderr)
        if model_kind:
            print(f"qualityfm: note: {', '.join(model_kind)}: not used by {_run_kind(used)}, "
                  "ignored", file=sys.stderr)
        if "--target-tpr" in ignored:  # the task's rule, whichever model fits it
            how = ("its threshold maximises the validation F1" if task == "af"
                   else "it has no threshold")
            print(f"qualityfm: note: --target-tpr: {task} sets no threshold by a TPR target "
                  f"({how}), ignored", file=sys.stderr)
    if kfold:
        folds = out / FOLDS_DIR  # finished folds, so that a stopped run resumes
        # what the folds are fitted from: not the ignored options, nor how --data is spelt
        # (the windows themselves are hashed in the CV stamp)
        key = {**{k: v for k, v in summary.items()
                  if k not in ("ignored", "passed_over", "skipped", "left_out")},
               "data": _resolved_dirs(data), "init": init_identity(init),
               "init_files": files_stamp(init)}
        res = _task_cv(make, ds, kfold, seed, 1000, folds, key)
        summary["cv"] = {k: v for k, v in res.items() if k != "oof"}
        _clear_run(out)  # this run's results replace an earlier run's, whatever its kind
        model_label = _run_kind(used) if init == "classical" else f"init {init}, {_run_kind(used)}"
        # the summary before the report, whose cv.json marks the run finished: a stop between
        # the two had left a finished run without its summary (and its folds removed)
        write_json(out / "summary.json", summary)
        if used["target_tpr"] is not None:  # what each fold's threshold was set to keep (a
            res["model_settings"] = {"target_tpr": used["target_tpr"]}  # cv.md had not said)
        report(res, out, "cv", task, label=f"{kfold}-fold CV, {model_label}")
        shutil.rmtree(folds, ignore_errors=True)
    else:  # a network's last finished epoch is kept, so that a stopped fit resumes there
        epochs_dir = out / EPOCHS_DIR
        est = make(checkpoint=epochs_dir / f"{task}.pt")
        est.fit(ds.X, ds.y, ds.mask, ds.groups, features_read(est, ds))
        rhythm = make("af4", epochs_dir / "af4.pt") if task == "af" else None
        if rhythm is not None:
            with _rhythms_of(ds):
                rhythm.fit(ds.X, ds.rhythm, ds.mask, ds.groups, features_read(rhythm, ds))
        # what is left of a stopped --kfold run (its folds went at the data read, asked):
        # a .folds there would let a --kfold run "resume" over this model
        shutil.rmtree(out / FOLDS_DIR, ignore_errors=True)
        _clear_run(out)
        summary["validation"] = {"model": est.validation,
                                 **({"rhythm": rhythm.validation} if rhythm is not None else {})}
        summary["train_groups"] = sorted(set(ds.groups.astype(str).tolist()))
        # and, by their own names, the records grouped under a copy's (another record's)
        # name: such a record had been found as that copy's stretch (patients' records are
        # not listed: a record name of one patient says nothing of another's)
        own = [record_of(r) for r in ds.record_ids.astype(str)]
        records = set(own)
        summary["train_records"] = sorted({r for r, g in zip(own, ds.groups.astype(str),
                                                               strict=True)
                                           if g != r and g in records})
        atomic_write(out / TRAIN_PEAKS, lambda f: np.savez_compressed(f, **pack_marks({
            os.path.abspath(k): m for k, m in ds.marks.items()})))
        # the model's finetune.json, which marks the run finished, last: a stop before it
        # leaves a run that resumes from its kept epochs (it had left an af model without
        # its rhythm model or summary, refused as finished)
        write_json(out / "summary.json", summary)
        if rhythm is not None:
            rhythm.save(out / "rhythm")
        est.save(out)
        shutil.rmtree(epochs_dir, ignore_errors=True)  # the fits are saved: nothing to resume
    return summary


#: Files that show a folder holds a finished finetune run, CV report or comparison.
RUN_MARKERS = ("finetune.json", "cv.json", "compare.json")
#: The kinds of folder (``io.folders.folder_kind``) finetune and compare may write to.
RUN_KINDS = ("fine-tuned run", "cross-validation report", "comparison")


def _remove_finished_epochs(out: Path) -> None:
    """Remove the epoch checkpoints a stop just after a fit was saved left in ``out``: those
    older than its ``finetune.json`` (a refit stopped since, its epochs newer, resumes)."""
    marker, epochs = out / "finetune.json", out / EPOCHS_DIR
    if marker.is_file() and epochs.is_dir():
        saved = marker.stat().st_mtime
        if all(f.stat().st_mtime <= saved for f in epochs.rglob("*") if f.is_file()):
            shutil.rmtree(epochs, ignore_errors=True)


def _refuse_finished(out: str | Path, overwrite: bool, resumable: bool) -> None:
    """Refuse (ValueError) an ``out`` holding one of the ``RUN_MARKERS`` of a finished run, so
    that hours of training are not replaced by a mistyped --out; ``overwrite`` allows it, and
    so does a k-fold run stopped there (``resumable`` and finished folds in ``out/.folds``),
    which resumes: an empty ``.folds`` (a plain --overwrite run stopped while removing a
    stopped k-fold run's folds) had let a k-fold run replace the model unasked. (A folder of
    another kind, or one that cannot be written, :func:`_out_lock` has refused.) A marker
    that no run of ours wrote (a user's notes named cv.json, no run's summary beside: taken
    for a finished run, then removed by --overwrite) is refused, whatever ``overwrite``."""
    held = [m for m in RUN_MARKERS if (Path(out) / m).is_file()]
    foreign = [m for m in held if not _written_by_a_run(Path(out) / m)]
    if foreign:
        raise ValueError(f"--out {out} holds {foreign[0]}, which no qualityfm run wrote there: "
                         "choose another --out, or move the file away")
    folds = Path(out) / FOLDS_DIR
    if held and not overwrite and not (resumable and folds.is_dir() and any(folds.iterdir())):
        raise ValueError(f"{out} holds a finished run ({held[0]}): --overwrite replaces it, "
                         "or choose another --out")


def _refuse_foreign_files(out: str | Path, names: Sequence[str]) -> None:
    """Refuse (ValueError) an ``out`` holding no run of ours (none of the ``RUN_MARKERS``, no
    stopped run's folds, epochs or summary) but a file, not empty, of one of the ``names``
    this run writes: a user's ``summary.json`` or ``model.pt`` there had been replaced
    without a word."""
    out = Path(out)
    if (any((out / m).is_file() for m in RUN_MARKERS)
            or any((out / d).is_dir() for d in (FOLDS_DIR, EPOCHS_DIR))
            or _run_summary_there(out / "summary.json")):
        return
    for name in names:
        if (out / name).is_file() and (out / name).stat().st_size:
            raise ValueError(f"--out {out} holds {name}, which no qualityfm run wrote there: "
                             "choose another --out, or move the file away")


def _written_by_a_run(marker: Path) -> bool:
    """Whether ``marker`` (one of the ``RUN_MARKERS``) is a run's of ours: beside the run's
    summary (:func:`_run_summary_there`), or, without one, a model saved from Python
    (``finetune.json`` naming its backbone) or a comparison's rows (a stop before its
    summary)."""
    if _run_summary_there(marker.parent / "summary.json"):
        return True
    if marker.name == "cv.json":  # written after its summary
        return False
    try:
        meta = read_json(marker, "run file")
    except (OSError, ValueError):
        return False
    if marker.name == "finetune.json":  # (a user's config with a backbone field had passed)
        return (meta.get("backbone") in ("qualityfm", "ResNet1d", "classical")
                and isinstance(meta.get("protocol"), dict))
    return bool(meta) and all(isinstance(row, dict) and "n" in row for row in meta.values())


def _run_summary_there(path: Path) -> bool:
    """Whether ``path`` is the summary.json of a run of ours (one stopped while saving its
    model leaves it without the run's marker)."""
    try:
        summary = read_json(path, "run summary")
    except (OSError, ValueError):
        return False
    return {"task", "n", "settings"} <= set(summary)


def _clear_run(out: Path) -> None:
    """Remove what an earlier ``finetune_run`` wrote to ``out`` (a model of another kind, a
    rhythm model, a CV report), so that the folder holds this run only; other files stay, and
    a folder that holds no such run is left alone. A finished comparison there goes too."""
    _clear_finished_compare(out)
    if not ((out / "finetune.json").is_file() or (out / "cv.json").is_file()):
        return
    # what save() writes (the model file its finetune.json names: a user's model.pt beside a
    # classical run, or beside a CV report, had gone too), and this run's summary
    written: tuple[str, ...] = ()
    if (out / "finetune.json").is_file():
        try:
            backbone = read_json(out / "finetune.json", "run file").get("backbone")
        except (OSError, ValueError, AttributeError):
            backbone = None  # unreadable: the new model's save replaces its own file
        written = () if backbone is None else (
            (CLASSICAL_FILE,) if backbone == "classical" else ("model.pt",))
    clear_report(out, "cv")  # before the summary: a stop between them had left a cv.json
    # without the summary that shows it a run's, refused as a user's even with --overwrite
    for name in (*written, "finetune.json", "summary.json", TRAIN_PEAKS):
        (out / name).unlink(missing_ok=True)
    if (out / "rhythm" / "finetune.json").is_file():
        shutil.rmtree(out / "rhythm")


def _used_settings(est: TaskEstimator) -> dict:
    """The settings a task model of this run uses; None where one does not apply."""
    binary_tpr = est.kind == "binary" and est.threshold_rule == "tpr"
    rule = {"target_tpr": est.target_tpr if binary_tpr else None}
    if isinstance(est, ClassicalBaseline):
        return {"mode": None, "solver": None, "use_features": True, "augment": None,
                "pool": None, "test_shifts": None, "config": None, "epochs": None,
                "batch_size": None, **rule}
    ft = est
    closed_form = ft.mode == "linear" and ft.solver == "lbfgs"
    return {"mode": ft.mode, "solver": ft.solver if ft.mode == "linear" else None,
            "use_features": ft.use_features, "augment": ft.augment if ft.mode == "full" else None,
            # a module of its own (ResNet1d) pools as it does: no pool option applies
            "pool": (None if ft.n_channels is None
                     or (isinstance(ft.init, torch.nn.Module) and hasattr(ft.init, "dim"))
                     else ft.pool),
            "test_shifts": ft.test_shifts,
            "config": (resolve_model_config(ft.config).to_dict()
                       if isinstance(ft.init, str) and ft.init == "none" and ft.config is not None
                       else None),
            "epochs": None if closed_form else ft.epochs, "batch_size": ft.batch_size, **rule}


def _check_splits(ds: TaskDataset, kfold: int | None, seed: int,
                  makers: Sequence[Callable[[], TaskEstimator]]) -> None:
    """Make, before ``--overwrite`` removes stopped work, every split the run's fits will make
    (a refusal of one had come after the removal): the ``kfold`` folds of the rows (none: the
    rows must hold two groups), and in each fold's training rows (or all rows) the validation
    split of each estimator ``makers`` builds (af's second, the rhythm model's, on
    ``ds.rhythm``), or the classical baseline's inner folds."""
    for make in makers:
        est = make()
        y = ds.rhythm if est.task == "af4" else ds.y
        if kfold:
            fits = [tr for tr, _ in check_folds(y, ds.groups, kfold, seed)]
        else:
            refuse_one_group(ds.groups)
            fits = [np.arange(len(ds))]
        for tr in fits:
            group_split(y[tr], ds.groups[tr], est.val_fraction, seed=est.seed)
            if isinstance(est, ClassicalBaseline) and est.crossfit is not None:
                est.inner_folds(y[tr], ds.groups[tr])  # its cross-fit's too


def _run_kind(used: dict) -> str:
    if used["mode"] is None:
        return "the classical baseline"
    if used["mode"] == "full":
        return "a full fine-tune"
    return f"a linear head fitted by {used['solver']}"


@contextlib.contextmanager
def _rhythms_of(ds: TaskDataset) -> Iterator[None]:
    """The fits of af's 4-class rhythm model on ``ds``: the rhythms its records never give
    (MIMIC PERform AF's are N and A alone) said once for these fits (a plain fit's, a
    cross-validation's, a compare row's), in the data's words, not by each fit as labels y
    lacks (the warning had come once per fold of every such run); a fold lacking a rhythm
    that other records give is still warned of by its fit."""
    absent = [k for k in range(len(RHYTHMS)) if not (ds.rhythm == k).any()]
    if absent:
        print(f"qualityfm: the records give no {', '.join(RHYTHMS[k] for k in absent)} "
              f"rhythm: the 4-class model's {', '.join(RHYTHM_COLUMNS[k] for k in absent)} "
              "are never learnt", file=sys.stderr)
    with warnings.catch_warnings():
        if absent:  # the fits' warnings of those classes alone
            warnings.filterwarnings("ignore", category=UserWarning, message=re.escape(
                f"y holds no row of class(es) {listed(absent)} among"))
        yield


def _task_cv(make: Callable[[str], TaskEstimator], ds: TaskDataset, k: int, seed: int,
             n_boot: int, checkpoint: Path, key: dict) -> dict:
    """Grouped k-fold CV of the estimators ``make(task)`` on ``ds`` (resumable through
    ``checkpoint``/``key``, as :func:`cross_validate`). For ``af`` the 4-class rhythm models
    ``make("af4")`` run on folds of the same groups stratified by rhythm (not the binary
    models' folds: a row's AF decision and its 4-class scores come from models fitted on
    other rows, each out of fold) and add the macro F1 and noisy AUROC, their decisions
    following the binary models' out-of-fold AF decisions (``af_rhythm_decisions``); only
    their out-of-fold scores are kept, so their own argmax report skips its bootstrap."""
    res = cross_validate(lambda: make(ds.task), ds, k=k, seed=seed, n_boot=n_boot,
                         checkpoint=checkpoint, key=key, progress=True)
    if ds.task == "af":
        with _rhythms_of(ds):
            four = cross_validate(lambda: make("af4"), ds, k=k, seed=seed, n_boot=0,
                                  target="rhythm", checkpoint=checkpoint, key=key,
                                  progress=True)
        proba4, af = np.asarray(four["oof"]["score"]), np.asarray(res["oof"]["pred"])
        res.update(rhythm_report(ds.rhythm, proba4, ds.groups, n_boot, seed, af=af))
        res["oof"].update(_rhythm_predictions(ds.rhythm, proba4, af))
    return res


def _inputs_for(est: TaskEstimator, ds: TaskDataset) -> tuple:
    """``(X, mask, features)`` of ``ds`` as ``est`` was fitted: with the dataset's features
    when it was fitted on a features array, else None (computed from the windows, as at fit)."""
    return ds.X, ds.mask, ds.features if est.features_given else None


def evaluate_estimator(est: TaskEstimator, ds: TaskDataset, rhythm_est: TaskEstimator | None = None,
                       n_boot: int = 1000, seed: int = 0) -> dict:
    """Metrics of a fitted estimator on ``ds`` at its own (validation-fixed) threshold; rows
    holding their channels otherwise than every fitted window are named by record."""
    args = _inputs_for(est, ds)
    records = [record_of(r) for r in ds.record_ids]
    if est.kind == "regression":
        with absences_named(est, ds.mask, records):
            pred = est.predict(*args)
        res = bp_report(ds.y, pred, est.train_mean, ds.groups, n_boot, seed)
        res["predictions"] = {"y": ds.y.tolist(), "score": pred.tolist(), "pred": pred.tolist(),
                              "record_ids": ds.record_ids.tolist()}  # windows: "record@start"
        res["train_mean"] = np.asarray(est.train_mean, float).tolist()  # MASE's naive forecast
        return res
    with absences_named(est, ds.mask, records):
        proba = est.predict_proba(*args)
    pred = est.decide(proba)
    res = binary_report(ds.y, proba, pred, ds.groups, n_boot, seed,
                        alarm_score=ds.task == "vt-alarm")
    res["threshold"] = est.threshold
    res["predictions"] = {"y": ds.y.tolist(), "score": proba.tolist(), "pred": pred.tolist(),
                          "record_ids": ds.record_ids.tolist()}
    if rhythm_est is not None and ds.rhythm is not None:
        with warnings.catch_warnings():  # the binary model's warnings said them
            warnings.filterwarnings("ignore", message=ABSENT_ROWS)
            warnings.filterwarnings("ignore", message=".*" + re.escape(OTHER_LENGTH))
            proba4 = rhythm_est.predict_proba(*_inputs_for(rhythm_est, ds))
        res.update(rhythm_report(ds.rhythm, proba4, ds.groups, n_boot, seed, af=pred))
        if RHYTHMS.index("~") in _unlearnt(rhythm_est, ", and no noisy_auroc is given"):
            res["noisy_auroc"], res["noisy_auroc_ci"] = float("nan"), [float("nan")] * 2
        res["predictions"].update(_rhythm_predictions(ds.rhythm, proba4, pred))
    return res


def _unlearnt(rhythm_est: TaskEstimator, then: str = "") -> list[int]:
    """The rhythms af's 4-class model was fitted without, said on stderr (their columns rank
    nothing: an audit's noisy AUROC of a model that never saw '~' had read 0.818)."""
    unlearnt = rhythm_est.unlearnt or []  # (None: a model saved before they were kept)
    if unlearnt:
        print(f"qualityfm: warning: the 4-class model was fitted on records that give no "
              f"{', '.join(RHYTHMS[k] for k in unlearnt)} rhythm: its "
              f"{', '.join(RHYTHM_COLUMNS[k] for k in unlearnt)} were never learnt{then}",
              file=sys.stderr)
    return unlearnt


def _rhythm_predictions(rhythm: np.ndarray, proba4: np.ndarray, af: np.ndarray) -> dict:
    """Each row's true rhythm, the rhythm decision the macro F1 scores (N, A, O, ~) and the
    probability of '~' the noisy AUROC scores."""
    names = np.array(RHYTHMS)
    return {"rhythm": names[np.asarray(rhythm)].tolist(),
            "rhythm_pred": names[af_rhythm_decisions(proba4, af)].tolist(),
            "p_noisy": np.asarray(proba4)[:, RHYTHMS.index("~")].tolist()}


def run_summary(model: Path) -> dict:
    """The ``summary.json`` that ``finetune_run`` wrote beside the model ({} if none)."""
    path = model / "summary.json"
    summary = read_json(path, "run summary", "fit the run again") if path.exists() else {}
    if not isinstance(summary.get("settings", {}), dict):  # (a traceback had followed)
        raise ValueError(f"{path}: damaged run summary (its settings are no JSON object); "
                         "fit the run again")
    return summary


def _saved_model(task: str, model: Path, device: str,
                 ) -> tuple[TaskEstimator, TaskEstimator | None, dict]:
    """The model saved by ``finetune_run`` in ``model`` (on ``device``; it must be one of
    ``task``), its 4-class rhythm model when it has one, and the run's summary."""
    resolve_device(device)
    est = load_estimator(model, device)
    if est.task != task:
        raise ValueError(f"model {model} was fine-tuned for {est.task!r}, not {task!r}")
    rhythm = load_estimator(model / "rhythm", device) if (model / "rhythm").exists() else None
    return est, rhythm, run_summary(model)


def _window_settings(summary: dict, seconds: float | None, est: TaskEstimator) -> dict:
    """The window settings a run's data is built with: the run's own, unless ``seconds``
    (which warns when it differs: the model and its threshold were fitted on the run's; a
    network fitted on windows of one length reads no other, so it is refused)."""
    settings = summary.get("settings", {})
    own = settings.get("seconds")
    fs = settings.get("fs") or est.fs  # a model saved from Python has no run summary
    if own is None and est.window is not None and fs and (
            isinstance(est, Finetuner) or not est.features_given):
        # nor its window length: the model's own, where it reads the windows (a classical
        # model fitted on a features array may have been fitted beside padded windows,
        # pad_to, its features of less: the task's length is read, warned of where it
        # differs; one reading its windows had been refused the task's)
        own = est.window[1] / float(fs)
    if seconds is not None and own is not None and fs and round(
            float(seconds) * float(fs)) == round(float(own) * float(fs)):
        seconds = own  # as many samples: the run's windows (10.0000001 s had been refused as
        # "--seconds 10: ... windows of 10 s only")
    if seconds is not None and own is not None and abs(float(seconds) - float(own)) > 1e-9:
        if isinstance(est, Finetuner) and est.window is not None:
            raise ValueError(f"--seconds {seconds:.10g}: this run's network reads windows of "
                             f"{own:g} s only (a run of --init classical takes others)")
        if getattr(est, "window", None) is None:  # else its predict says it (once)
            warn_at_caller(f"--seconds {seconds:.10g}: the model was fitted on windows of "
                           f"{own:g} s; its scores and threshold hold for those")
    seconds = own if seconds is None else seconds
    pad_to = settings.get("pad_to")  # padding shorter than windows of other --seconds: none
    return {"seconds": seconds, "fs": fs,
            "pad_to": pad_to if pad_to is None or seconds is None or pad_to >= seconds
            else None}


#: The settings of a run's model that ``evaluate`` repeats in its results (``model_settings``).
MODEL_SETTINGS = ("init", "mode", "solver", "use_features", "pool", "test_shifts", "augment",
                  "target_tpr")


def _refuse_report_folder(out: Path) -> None:
    """Refuse an evaluate ``out`` in a comparison's folder, whose rows' reports (``ROW.md``,
    ``ROW_roc.png``) and ``table.md`` take any name this report could replace (a
    cross-validation's ``cv.json`` is refused as a reserved name)."""
    found = folder_kind(out.parent)
    if found is not None and found[0] == "comparison":
        raise ValueError(f"--out {out}: {out.parent} holds a {found[0]} ({found[1]}), whose "
                         "tables and plots this report could replace; write it to another "
                         "folder")


def evaluate_run(task: str, model: str | Path, data: DataDirs, out: str | Path, *,
                 seconds: float | None = None, max_records: int | None = None,
                 cache_dir: str | Path | None = None, device: str = "cpu",
                 bp_rule: str | None = None) -> dict:
    """Evaluate the model saved by ``finetune_run`` on the records of ``data`` (networks run
    on ``device``; abp's targets taken by ``bp_rule``, None: as the run took them); write
    ``out`` (JSON) and, beside it, the markdown table and plots. Groups
    (patients or records) the model was trained on are listed under ``trained_on`` and warned
    about: figures on them are not a test. An ``out`` not ending in .json is refused before
    any record is read; files an earlier report of its stem wrote beside it are replaced."""
    out = check_output(out, (".json",), what="evaluate", foreign=False, beside=[  # its table,
        p.name for p in report_paths(Path(out).parent, Path(out).stem)[1:]])  # plots
    refuse_reserved_name(out)
    _refuse_report_folder(out)
    check_out_apart(out, data_dirs(data), "report", hidden_ok=True, file=True)  # (its .md
    # and plots beside it take its stem: hidden with it)
    refuse_foreign_output(out, "evaluate")  # after the refusals that say more
    siblings = report_paths(out.parent, out.stem)[1:]  # the markdown table, the plots
    ours = any(p.is_file() and written_here(p) for p in (out, siblings[0]))
    for path in siblings:  # beside no report of ours they would replace, or (a plot it does
        # not draw) remove, a user's files; a user's table beside one is refused too (it had
        # been replaced once an earlier report's JSON was there), and a folder in their place
        # before the work (it had failed at the write, after it)
        user_table = path == siblings[0] and path.is_file() and not written_here(path)
        if path.is_dir() or (path.is_file() and path.stat().st_size
                             and (not ours or user_table)):
            raise ValueError(f"evaluate output {out}: {path} exists beside it and is no "
                             f"part of an earlier report of {out.name}: give another "
                             "name, or move it away first")
    check_bp_rule(task, bp_rule)
    model = Path(model)
    est, rhythm, summary = _saved_model(task, model, device)
    fitted_rule = summary.get("settings", {}).get("bp_rule")
    if task == "abp" and bp_rule is None:
        bp_rule = fitted_rule
    elif task == "abp" and fitted_rule is not None and bp_rule != fitted_rule:
        print(f"qualityfm: warning: --bp-rule {bp_rule}: the model was fitted to {fitted_rule} "
              "targets; its errors include the gap between the two rules, and MASE compares "
              f"with the training mean of {fitted_rule} targets", file=sys.stderr)
    ds, passed = _dataset(task, data, str(out), **_window_settings(summary, seconds, est),
                          max_records=max_records, cache_dir=cache_dir, bp_rule=bp_rule)
    ds, left_out = _without_blind_rows(est, ds)
    trained = _train_peaks(model)
    res = evaluate_estimator(est, ds, rhythm)
    res.update(task=task, model=str(model), data=data_label(data), n=len(ds),
               skipped=ds.skipped, passed_over=passed, left_out=left_out,
               model_settings={k: summary[k] for k in MODEL_SETTINGS if k in summary})
    if task == "abp":
        res["bp_rule"] = ds.settings["bp_rule"]  # how the targets were taken
    res["seconds"] = ds.settings["seconds"]  # the windows read (--seconds: not the model's)
    label = Path(os.path.abspath(model)).name  # the row and plots name it ("." too; a link
    # by its own name)
    trained_on = _trained_on(summary, ds.groups.astype(str).tolist(), "evaluated",
                             ": these figures are not a test", est,
                             _row_digests(ds) if est.train_windows is not None else [],
                             ds.record_ids.astype(str).tolist(),
                             [] if ds.sources is None else ds.sources.tolist(),
                             stretches_of(ds.marks, trained) if trained else {})
    if trained_on is not None:
        res["trained_on"] = trained_on
        told = ([f"{trained_on['n_groups']} of {len(set(ds.groups))} patients/records trained "
                 "on"] if trained_on["n_groups"] else []) + (
            [f"{trained_on['n_windows']} of {len(ds)} windows trained on"
             + (" under other names" if summary.get("train_groups") is not None else "")]
            if trained_on["n_windows"] else [])
        if told:
            label = f"{label} (NOT A TEST: {'; '.join(told)})"
    report(res, out.parent, out.stem, label=label)
    return res


def _without_blind_rows(est: TaskEstimator, ds: TaskDataset
                        ) -> tuple[TaskDataset, list[dict[str, str]]]:
    """``ds`` without the rows :func:`blind_rows` finds, which ``predict`` leaves without an
    output (evaluate had scored the model's guess there, a decision no deployment makes),
    and its ``left_out`` with them added; a ValueError when no row is left."""
    blind = blind_rows(est, ds.mask)
    if not blind.any():
        return ds, ds.left_out
    why = ("holds none of the channels present in every window the model was fitted on: no "
           "output, as predict leaves it" + ("; a deployment keeps the alarm"
                                              if ds.task == "vt-alarm" else ""))
    if blind.all():
        raise ValueError(f"no row to evaluate: each of the {len(ds)} {why}")
    print(f"qualityfm: warning: {int(blind.sum())} row(s) hold none of the channels present "
          "in every window the model was fitted on: left out of the metrics, as predict "
          "leaves their outputs empty (listed under 'left_out')", file=sys.stderr)
    kept = dataclasses.replace(ds.subset(np.flatnonzero(~blind)), skipped=ds.skipped,
                               left_out=ds.left_out, shared=ds.shared)
    files = ds.sources[blind] if ds.sources is not None else [None] * int(blind.sum())
    return kept, [*ds.left_out, *({"window": str(r), **({"file": str(f)} if f is not None else {}),
                                   "reason": why}
                                  for r, f in zip(ds.record_ids[blind], files, strict=True))]


def _row_digests(ds: TaskDataset) -> list[tuple[str, str]]:
    """Each row's :func:`window_digests` of its window and of its features row: a model keeps
    those of what it was fitted on (windows, or features alone from Python)."""
    return list(zip(window_digests(ds.X), window_digests(ds.features), strict=True))


def _train_peaks(model: Path) -> dict[str, dict[str, ChannelPeaks]]:
    """The peaks of the records the run ``model`` was fitted on (its :data:`TRAIN_PEAKS`);
    none for a run saved before it kept them, or one whose file cannot be read (said)."""
    path = model / TRAIN_PEAKS
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as z:
            return unpack_marks({k: z[k] for k in z.files})
    except (OSError, ValueError, KeyError) as err:
        warn_at_caller(f"{path}: unreadable ({err}); records holding stretches of the "
                       "training records under other names are not looked for")
        return {}


def _trained_on(summary: dict, groups: Sequence[str], verb: str, consequence: str = "",
                est: TaskEstimator | None = None,
                digests: Sequence[tuple[str, str]] = (),
                records: Sequence[str] = (),
                sources: Sequence[str] = (), stretches: dict[str, str] | None = None,
                ) -> dict | None:
    """``{"n_groups", "groups", "n_windows"}``: the patients or records of ``groups`` (each
    row's), or the records ``records`` (each row's id, ``name@start`` for a window of a long
    record), the run was fitted on, and how many rows of other names (``digests``,
    :func:`_row_digests`, one per row when given) hold a window or features row the model
    ``est`` fitted (a renamed copy), each warned about on stderr; ``n_windows`` None for a
    model saved before it kept them, the whole None where neither was recorded (a model
    saved from Python keeps no record names). A training record whose identical copy under
    another name sorted first (one group for both) is found by its own name. The groups of
    rows whose file (``sources``, each row's) holds a stretch of a training record
    (``stretches``: file -> that record, :func:`.copies.stretches_of`) count as trained on too,
    listed under ``stretches``."""
    names = summary.get("train_groups")
    fitted = None if est is None else est.train_windows
    if names is None and fitted is None:
        return None
    own = [record_of(r) for r in records] if records else list(groups)
    named = set(names or ()) | set(summary.get("train_records") or ())
    # a file trained on under its own name is listed as such, not also as another's stretch
    by_own = ({f for g, o, f in zip(groups, own, sources, strict=True) if g in named or o in named}
              if sources else set())
    stretches = {f: of for f, of in (stretches or {}).items() if f not in by_own}
    held = {g for g, f in zip(groups, sources, strict=True) if f in stretches} if sources else set()
    # each evaluated group counted once, named by its own name where the training holds it,
    # else by its rows' records' (patients' records had been counted beside their patients,
    # and a patient's three records as three of one)
    rows = [(g, o) for g, o in zip(groups, own, strict=True) if g in named or o in named]
    hit_groups = {g for g, _ in rows} | held
    seen = sorted({g if g in named else o for g, o in rows} | held)
    known, by_name = set(fitted or ()), set(seen)
    n_windows = None if fitted is None else sum(
        1 for group, name, (window, feats) in zip(groups, own, digests, strict=True)
        if group not in by_name and name not in by_name and (window in known or feats in known))
    if seen:
        how = ""
        if stretches:
            a, b = next(iter(stretches.items()))
            how = (f"; {len(stretches)} file(s) hold stretches of training records under other "
                   f"names: {a} of {b}{' ...' if len(stretches) > 1 else ''}")
        print(f"qualityfm: warning: {len(hit_groups)} of the {len(set(groups))} "
              f"patients/records {verb} were in the model's training data ({', '.join(seen[:5])}"
              f"{', ...' if len(seen) > 5 else ''}{how}){consequence}", file=sys.stderr)
    if n_windows:  # a model saved from Python keeps no names: under any, then
        which = "under other names" if names is not None else "whatever their names (the " \
            "model, saved from Python, keeps none)"
        print(f"qualityfm: warning: {n_windows} of the {len(digests)} windows {verb} are "
              f"windows the model was fitted on, {which}{consequence}", file=sys.stderr)
    return {"n_groups": len(hit_groups), "groups": seen, "n_windows": n_windows,
            **({"stretches": [{"file": a, "of": b} for a, b in sorted(stretches.items())]}
               if stretches else {})}


def predict_run(task: str, model: str | Path, data: DataDirs, out: str | Path, *,
                seconds: float | None = None, max_records: int | None = None,
                cache_dir: str | Path | None = None, device: str = "cpu",
                records_per_part: int = 64) -> dict:
    """Predictions of the model saved by ``finetune_run`` for every record (window) of
    ``data``, labelled or not, into ``out`` (.csv, or .parquet with pyarrow): one row per
    window with ``record`` (and ``start_s`` where records give several windows); vt-alarm
    ``p_true_alarm`` (calibrated) and ``true_alarm`` (1: keep the alarm, 0: suppress it, at
    the model's operating point); af ``p_af`` and ``af``, plus
    ``p_N``, ``p_A``, ``p_O``, ``p_noisy`` from its 4-class model and ``rhythm`` (A where
    ``af`` is 1, else the most probable of N, O and ~); abp ``sbp`` and ``dbp`` (mmHg). A
    row holding none of the channels present in every window the model was fitted on (a
    PPG-only window to an AF model of ECG) gets empty outputs (:func:`blind_rows`).
    Records that cannot be read or hold no usable window are skipped and listed in the
    returned summary; windows of a record that give no row (no usable channel) are listed
    under ``left_out`` with their reason. Records are read ``records_per_part`` at a time, so
    a large folder is never held in memory at once."""
    out = check_output(out, what="predict")  # before the model and any record are read
    model = Path(model)
    est, rhythm, summary = _saved_model(task, model, device)
    if rhythm is not None:
        _unlearnt(rhythm)
    skipped: list[dict[str, str]] = []
    left_out: list[dict[str, str]] = []
    rows: list[dict] = []
    columns: list[str] = []
    groups: list[str] = []  # each row's
    row_ids: list[str] = []  # each row's id
    digests: list[tuple[str, str]] = []
    sources: list[str] = []  # each row's file
    trained = _train_peaks(model)
    stretches: dict[str, str] = {}  # file -> the training record it holds a stretch of
    window = _window_settings(summary, seconds, est)
    # "ppg is present" / "ecg_ii is absent" -> (why, (file, record) of each row)
    unseen: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    n_blind = 0  # rows of none of the channels the model always read: outputs left empty
    for ds in iter_task_datasets(task, data, skipped, records_per_part=records_per_part,
                                 **window, max_records=max_records, left_out=left_out,
                                 cache_dir=cache_dir, labels=False, outputs=[Path(out)]):
        groups += ds.groups.astype(str).tolist()
        row_ids += ds.record_ids.astype(str).tolist()
        sources += [] if ds.sources is None else ds.sources.tolist()
        if trained:  # by part: a large folder's peaks are never held at once
            stretches |= stretches_of(ds.marks, trained)
        if est.train_windows is not None:  # (a model saved before it kept them: none)
            digests += _row_digests(ds)
        blind = blind_rows(est, ds.mask)  # no output: said once below, not as an absence
        n_blind += int(blind.sum())
        with warnings.catch_warnings():  # named below by record, once: not by row of a part
            warnings.filterwarnings("ignore", message=ABSENT_ROWS)
            table = _prediction_table(task, est, rhythm, ds, blind)
        for what, at, why in unseen_rows(est, ds.mask):
            unseen.setdefault(what, (why, []))[1].extend(
                (table["file"][i] if "file" in table else "", table["record"][i])
                for i in at if not blind[i])
        columns += [c for c in table if c not in columns]
        rows += [dict(zip(table, values, strict=True))
                 for values in zip(*table.values(), strict=True)]
    for what, (why, rows_at) in unseen.items():  # a record of several windows named once
        if not rows_at:  # its rows all blind: said below
            continue
        keys = list(dict.fromkeys(rows_at))
        records = [record for _, record in keys]  # by file where two records share a name
        if len(set(records)) < len(keys):
            records = [f"{file} ({record})" for file, record in keys]
        warn_at_caller(f"{what} in {len(rows_at)} row(s) (records {listed(records)}){why}")
    if n_blind:
        warn_at_caller(f"{n_blind} row(s) hold none of the channels present in every window "
                       "the model was fitted on: their outputs are left empty (no prediction)")
    # decisions empty for blind rows: one Parquet type whatever the rows (int, double, null)
    write_table(rows, columns, Path(out), {"true_alarm": "Int64", "af": "Int64",
                                           "rhythm": "string"})
    listed_in = "predict's summary (the command line prints it)"
    note_skipped(skipped, listed_in=listed_in)
    note_left_out(left_out, listed_in=listed_in)
    passed = _passed_over(data, task)
    result = {"task": task, "model": str(model), "data": data_label(data), "out": str(out),
              "n": len(rows), "seconds": window["seconds"], "skipped": skipped,
              "passed_over": passed, "left_out": left_out}
    trained_on = _trained_on(summary, groups, "predicted", est=est,  # as evaluate says it
                             digests=digests, records=row_ids, sources=sources,
                             stretches=stretches)
    if trained_on is not None:
        result["trained_on"] = trained_on
    return result


def _prediction_table(task: str, est: TaskEstimator, rhythm: TaskEstimator | None,
                      ds: TaskDataset, blind: np.ndarray | None = None) -> dict[str, list]:
    """``predict_run``'s columns for the rows of ``ds``, empty for its ``blind`` rows
    (default: :func:`blind_rows`)."""
    args = _inputs_for(est, ds)
    table: dict[str, list] = {}
    if ds.sources is not None:  # as score and embed name each row's file
        table["file"] = ds.sources.tolist()
    # every table has the same columns: start_s in seconds, NaN for a row that is its record
    starts = np.full(len(ds), np.nan) if ds.starts is None else ds.starts
    table["record"] = [r.removesuffix(window_id("", t)) if np.isfinite(t) else r
                       for r, t in zip(ds.record_ids.tolist(), starts.tolist(), strict=True)]
    table["start_s"] = starts.tolist()
    blind = blind_rows(est, ds.mask) if blind is None else blind
    if est.kind == "regression":  # in float64: 121.6, not float32's 121.5999984741211
        bp = np.asarray(est.predict(*args), dtype=np.float64)
        bp[blind] = np.nan
        table.update(sbp=bp[:, 0].round(1).tolist(), dbp=bp[:, 1].round(1).tolist())
        return table
    p_name, y_name = PREDICTION_COLUMNS[task]
    proba = np.asarray(est.predict_proba(*args), dtype=np.float64)
    proba[blind] = np.nan
    decision = np.zeros(len(proba), dtype=np.int64)
    decision[~blind] = est.decide(proba[~blind])
    # unrounded: a probability rounded to 4 places can fall on the other side of the
    # threshold than the decision beside it
    table[p_name] = proba.tolist()
    table[y_name] = [None if b else int(d) for b, d in zip(blind, decision, strict=True)]
    if rhythm is not None:  # af: the rhythm agrees with the AF decision
        with warnings.catch_warnings():  # said by the binary model
            warnings.filterwarnings("ignore", message=".*" + re.escape(OTHER_LENGTH))
            proba4 = np.asarray(rhythm.predict_proba(*_inputs_for(rhythm, ds)),
                                dtype=np.float64)
        proba4[blind] = np.nan
        for k, name in enumerate(RHYTHM_COLUMNS[:-1]):
            table[name] = proba4[:, k].tolist()  # unrounded
        codes = np.zeros(len(proba4), dtype=np.int64)
        codes[~blind] = af_rhythm_decisions(proba4[~blind], decision[~blind])
        table["rhythm"] = [None if b else RHYTHMS[k] for b, k in zip(blind, codes, strict=True)]
    return table


def blind_rows(est: TaskEstimator, mask: np.ndarray) -> np.ndarray:
    """Rows that hold none of the channels present in every window ``est`` was fitted on
    (a PPG-only window to an AF model fitted on ECG): it never saw such a row, and its output
    there had been written as a confident answer (a normal rhythm at p_N 0.945). predict
    leaves their outputs empty."""
    need = np.asarray(est.always_present or [], dtype=bool)
    if not need.any() or len(need) != mask.shape[1]:
        return np.zeros(len(mask), dtype=bool)
    return ~mask[:, need].any(axis=1)


def _slug(row: str) -> str:
    """The file stem of a compare row's report."""
    return "".join(c if c.isalnum() else "_" for c in row).strip("_").lower()


def _clear_compare(out: Path, keep: set[str]) -> None:
    """Remove what an earlier comparison wrote in ``out`` (its table, JSON and every row's
    report, as its summary.json lists them), so that no old row outlives it; other files
    stay. Of a stopped comparison, the finished rows (their folds kept for a resume) that
    this one does not run (``keep``: its rows' file names) go with their reports."""
    folds = out / FOLDS_DIR
    for row in sorted(folds.iterdir()) if folds.is_dir() else []:
        if row.name not in keep:
            clear_report(out, row.name)
            shutil.rmtree(row, ignore_errors=True)
    _clear_run(out)  # the finished comparison, and a finetune run's model and reports


def _clear_finished_compare(out: Path) -> None:
    """Remove a finished comparison's table, JSON and row reports from ``out``."""
    summary = out / "summary.json"
    if not ((out / "compare.json").is_file() and summary.is_file()):
        return
    for row in read_json(summary, "comparison summary").get("rows", []):
        clear_report(out, _slug(row))
    for name in ("table.md", "compare.json", "summary.json"):
        (out / name).unlink(missing_ok=True)


#: The row of the same network from scratch: every other row's default reference.
SCRATCH_ROW = "QualityFM from scratch"
#: The row of the shipped weights fine-tuned as ``finetune`` does by default (its mode, head
#: and features: the task's).
PRETRAINED_ROW = "QualityFM pre-trained (finetune's default)"
#: ``compare``'s default rows besides ``--models``, in table order.
BASELINES = ("classical", "scratch", "resnet", "pretrained")


@_locked("compare")
def compare_run(
    task: str, data: DataDirs, out: str | Path, *, models: Sequence[str] = (),
    baselines: Sequence[str] = BASELINES, kfold: int = 5,
    epochs: int | None = None, seed: int = 0, config: str | None = None,
    seconds: float | None = None,
    max_records: int | None = None, cache_dir: str | Path | None = None,
    n_boot: int = 1000, modes: Sequence[str] | None = None, with_features: bool = False,
    augment: bool = True, pool: str | None = None, test_shifts: int | None = None,
    solver: str | None = None, reference: str | None = None, device: str = "cpu",
    overwrite: bool = False, bp_rule: str | None = None, target_tpr: float | None = None,
) -> dict:
    """Grouped k-fold CV of the ``baselines`` (of :data:`BASELINES`: the classical features'
    GBM, this network and a 1-D ResNet from scratch, the shipped weights fine-tuned as
    ``finetune`` does by default) and pre-trained variants (``models``: ``NAME=DIR``,
    ``DIR``, ``pretrained`` or ``none`` for a random encoder; each fine-tuned in every mode of
    ``modes``; None: both, full and linear) into one markdown table with CIs.
    ``with_features`` adds, for every variant, a row whose head also reads the classical
    features (what each part contributes).
    ``augment``: random circular time shifts of the training windows of every network;
    ``pool``: how every QualityFM row pools its tokens (default: the task's);
    ``test_shifts``: shifted copies every network averages at prediction (``Finetuner``);
    ``solver``: how the linear rows fit their head (default: the task's).
    Every row is also compared with the ``reference`` row (default: the scratch baseline, when
    it runs) on the same out-of-fold rows: the difference of AUROC (binary) or SBP MAE (abp)
    with a paired bootstrap CI (``delta_auroc`` / ``delta_sbp_mae`` in the JSON and table).
    ``target_tpr``: the TPR every row's threshold keeps on new alarms (vt-alarm; default
    0.95). Networks train on ``device``. An ``out`` holding a finished comparison is refused
    unless ``overwrite``; a comparison stopped there resumes."""
    _refuse_finished(out, overwrite, resumable=True)
    _refuse_foreign_files(out, ("summary.json", "table.md"))
    stopped = sorted(p.name for p in (Path(out) / FOLDS_DIR).glob("*-fold*.npz"))
    if stopped and not overwrite:  # a finetune --kfold's own folds: the comparison removes them
        raise ValueError(f"{out} holds a stopped finetune --kfold (finished folds such as "
                         f"{FOLDS_DIR}/{stopped[0]}): resume it with finetune, --overwrite it, "
                         "or choose another --out")
    if (Path(out) / EPOCHS_DIR).is_dir() and not overwrite:  # a stopped plain fine-tune's
        # kept epochs, which the comparison removes (it had, unasked)
        raise ValueError(f"{out} holds a stopped finetune (its last finished epoch in "
                         f"{EPOCHS_DIR}): resume it with finetune, --overwrite it, or choose "
                         "another --out")
    resolve_device(device)
    check_bp_rule(task, bp_rule)
    if pool is not None:
        check_pool(pool)
    if solver is not None:
        check_solver(solver, "linear")  # the linear rows' (full fine-tunes use adamw)
    _check_compare_models(models)  # before hours of baselines, as the reference is
    if models and modes is not None and not modes:
        raise ValueError("--models given with no --modes: no row would run them")
    for mode in modes or ():  # before a note that calls them ignored (then refused)
        if mode not in ("full", "linear"):
            raise ValueError(f"unknown mode {mode!r}; choose from full, linear")
    # the options of --models rows, given without any: named on stderr and in summary.json
    models_only = [] if models else [
        flag for flag, value in (("--modes", modes), ("--with-features", with_features or None),
                                 ("--solver", solver)) if value is not None]
    if models_only:
        print(f"qualityfm: note: {', '.join(models_only)}: for --models rows only, and none "
              "is given; ignored", file=sys.stderr)
    modes = ("full", "linear") if modes is None else modes
    probe = ClassicalBaseline(task)
    no_target = target_tpr is not None and (probe.kind != "binary"
                                            or probe.threshold_rule != "tpr")
    if no_target:  # named under ignored too, as finetune names it (it had been said alone)
        print(f"qualityfm: note: --target-tpr: {task} models take no TPR target; ignored",
              file=sys.stderr)
        target_tpr = None
    cfg = resolve_model_config(config)
    others = {*_row_rates(models, [b for b in baselines if b != "pretrained"], cfg).values()}
    if "pretrained" in baselines and len(others) == 1 and \
            others != {encoder_fs("pretrained", cfg)}:
        # a --config or --models of another rate: the shipped weights' row is left out
        print(f"qualityfm: note: the row {PRETRAINED_ROW!r} reads windows at "
              f"{encoder_fs('pretrained', cfg):g} Hz, the other rows at {others.pop():g} Hz: "
              "left out", file=sys.stderr)
        baselines = [b for b in baselines if b != "pretrained"]
    fs = _compare_rate(models, baselines, cfg)
    makers = _compare_makers(baselines, models, modes, with_features, cfg=cfg,
                             epochs=DEFAULT_EPOCHS if epochs is None else epochs,
                             seed=seed, augment=augment, pool=pool, test_shifts=test_shifts,
                             solver=solver, device=device,
                             rule={} if target_tpr is None else {"target_tpr": target_tpr})
    slugs: dict[str, str] = {}
    for name in makers:  # each row's report files are named by its slug
        if _slug(name) in slugs:
            raise ValueError(f"rows {slugs[_slug(name)]!r} and {name!r} would write the same "
                             f"report files ({_slug(name)}.*): name the --models apart")
        slugs[_slug(name)] = name
        for path in report_paths(Path(out), _slug(name)):  # before the folds, not at the
            check_name_room(path, f"row {name!r}: report file")  # write after them
    if reference is None:
        reference = SCRATCH_ROW if SCRATCH_ROW in makers else ""
    elif reference not in makers:
        raise ValueError(f"reference {reference!r} is not a row of this comparison; "
                         f"rows: {list(makers)}")
    ds, passed = _dataset(task, data, seconds=seconds, max_records=max_records,
                          cache_dir=cache_dir, fs=fs, bp_rule=bp_rule)
    _refuse_one_class(ds, data)
    out = Path(out)
    # what each row ran with, the defaults resolved (the options as given are recorded too)
    row_settings = {name: _used_settings(make(task, ds.fs)) for name, make in makers.items()}
    # the refusals the settings and windows decide, before --overwrite removes anything
    for shifts in {u["test_shifts"] for u in row_settings.values()} - {None}:
        check_test_shifts(shifts, ds.X.shape[-1])
    # every row's af4 model too: the classical one cross-fits its own inner folds on the
    # rhythm (the first row's alone had been checked: --baselines scratch,classical had failed
    # at the classical row, after the scratch row's folds)
    _check_splits(ds, kfold, seed, [functools.partial(m, t, ds.fs) for m in makers.values()
                                    for t in (task, *(("af4",) if task == "af" else ()))])
    for name in stopped:  # --overwrite, the data read: the stopped finetune --kfold goes (kept,
        (out / FOLDS_DIR / name).unlink()  # a stop of this comparison had left a folder
        # both verbs refused), as does a stopped plain fine-tune's kept epochs
    if overwrite:
        shutil.rmtree(out / EPOCHS_DIR, ignore_errors=True)
    rows, oof, results = {}, {}, {}
    given = (("--epochs", "epochs", epochs),
             ("--pool", "pool", pool), ("--test-shifts", "test_shifts", test_shifts),
             ("--no-augment", "augment", None if augment else False),
             ("--solver", "solver", solver), ("--config", "config", config))
    ignored = [flag for flag, k, value in given
               if value is not None and not any(_row_takes(name, k, u)
                                                for name, u in row_settings.items())]
    unsaid = [f for f in ignored if f not in models_only]  # those: above
    ignored = models_only + unsaid + (["--target-tpr"] if no_target else [])
    if unsaid:  # as finetune names them (summary.json had recorded them as if applied)
        print(f"qualityfm: note: {', '.join(unsaid)}: used by no row of this comparison, "
              "ignored", file=sys.stderr)
    # what makes a row's folds: the data and the row's own settings and weights (a stopped
    # comparison resumes; an option no row of it uses, or another row added, refits nothing)
    settings = {"task": task, "data": _resolved_dirs(data), "seconds": seconds,
                "max_records": max_records, "bp_rule": bp_rule}
    weights = {}  # the weights each pre-trained row started from (an ablation's own run)
    for name, make in makers.items():
        init = getattr(make(task, ds.fs), "init", None)
        folds = out / FOLDS_DIR / _slug(name)
        key = {"row": name, **settings, "used": row_settings[name],
               "init_files": files_stamp(init) if isinstance(init, str | Path) else None}
        if isinstance(init, str | Path) and str(init) != "none":
            from qualityfm.train.export import saved_config

            weights[name] = {"init": str(init), "files": key["init_files"],
                             "config": saved_config(init).to_dict()}
        print(f"qualityfm: compare: {name}", file=sys.stderr, flush=True)
        res = _task_cv(lambda t, m=make: m(t, ds.fs), ds, kfold, seed, n_boot, folds, key)
        if row_settings[name]["target_tpr"] is not None:  # what its fold thresholds keep
            res["model_settings"] = {"target_tpr": row_settings[name]["target_tpr"]}
        results[name] = res
        rows[name] = {k: v for k, v in res.items() if k != "oof"}
        oof[name] = np.asarray(res["oof"]["score" if task != "abp" else "pred"], float)
    if reference:
        _add_paired_differences(rows, oof, ds, reference, n_boot, seed)
    # an earlier comparison (or run) there goes once every row is done: cleared before the
    # rows, a stopped --overwrite had left neither it nor a new one
    _clear_compare(out, keep={_slug(name) for name in makers})
    for name, res in results.items():
        report(res, out, _slug(name), task, label=name)
    header = (f"# {task}: {kfold}-fold grouped CV on {len(ds)} windows from "
              f"{len(np.unique(ds.groups))} groups ({data_label(data)})\n\n")
    if reference:
        header += (f"{'delta_sbp_mae' if task == 'abp' else 'delta_auroc'}: each row minus "
                   f"`{reference}` on the same out-of-fold rows, with a paired bootstrap 95 % "
                   "CI\n\n")
        if reference == SCRATCH_ROW and PRETRAINED_ROW in rows:  # (read as pre-training's)
            header += (f"`{PRETRAINED_ROW}` differs from `{SCRATCH_ROW}` in more than the "
                       "weights: a linear head on the embedding and the classical features, "
                       "against the network alone fine-tuned in full; its difference is not "
                       "pre-training's alone (`--models random=none --modes linear "
                       "--with-features --reference 'random (linear + features)'` compares "
                       "like with like)\n\n")
    elif len(rows) > 1:
        header += (f"No paired differences: the default reference, `{SCRATCH_ROW}`, is not a "
                   "row here; `--reference ROW` compares every row with ROW\n\n")
    atomic_write_text(out / "table.md", header + markdown_table(rows))
    write_json(out / "compare.json", rows)
    write_json(out / "summary.json", {
        "task": task, "data": data_label(data), "n": len(ds),
        "n_groups": int(len(np.unique(ds.groups))), "skipped": ds.skipped, "passed_over": passed,
        "left_out": ds.left_out, "rows": list(rows), "reference": reference or None,
        "kfold": kfold, "seed": seed,
        "epochs": epochs, "modes": list(modes), "with_features": with_features,
        "augment": augment, "pool": pool, "test_shifts": test_shifts, "solver": solver,
        "target_tpr": target_tpr, "config": config, "settings": ds.settings,
        **({"ignored": ignored} if ignored else {}),
        # what each row ran with, the defaults resolved (the options above are as given)
        "row_settings": row_settings,
        # which weights each pre-trained row started from: the model as given, its files and
        # its architecture (no output had said which run stood behind `--models NAME=DIR`)
        "weights": weights})
    shutil.rmtree(out / FOLDS_DIR, ignore_errors=True)
    return rows


def _row_takes(name: str, key: str, used: dict) -> bool:
    """Whether the compare row ``name``, which ran with the settings ``used``, takes the option
    that sets ``key``: one it uses, save the solver of the pre-trained baseline, which keeps
    finetune's default head (``--solver adamw`` beside it and full ``--models`` rows alone had
    been recorded as applied, no row fitted by it)."""
    return used[key] is not None and not (key == "solver" and name == PRETRAINED_ROW)


#: A comparison's row maker: (task, window rate) -> an unfitted estimator.
RowMaker = Callable[[str, float], TaskEstimator]


def model_spec(spec: str) -> tuple[str, str]:
    """``(NAME, DIR)`` of a ``compare --models`` spec, ``NAME=DIR`` or ``DIR`` (NAME then
    ""): parted at the first '=' whose right side is a path that exists, else whole where the
    spec is one (a folder ``runs/lr=3e-4`` had been parted at its own '='), else at the
    last '=' (``r=none``)."""
    name, eq, path = spec.partition("=")
    if eq and Path(path).exists():
        return name, path
    if not eq or Path(spec).exists():
        return "", spec
    name, _, path = spec.rpartition("=")
    return name, path


def _check_compare_models(models: Sequence[str]) -> None:
    """Every ``--models`` spec (``NAME=DIR``, ``DIR``, ``pretrained``, ``none``) names a
    model that loads; a folder that is no model (a pre-training run, a store) is named."""
    from qualityfm.train import load

    for spec in models:
        path = model_spec(spec)[1]
        if path in ("pretrained", "none"):
            continue
        if not path.startswith("pretrained:") and not Path(path).exists():  # (the shipped
            # weights by name load below, or are refused naming those shipped)
            raise FileNotFoundError(f"--models {spec}: model {path} does not exist")
        try:
            load(path)
        except (FileNotFoundError, ValueError) as err:
            raise ValueError(f"--models {spec}: {err}") from None


def _compare_rate(models: Sequence[str], baselines: Sequence[str],
                  cfg: object) -> float | None:
    """The one window rate the rows' encoders read (the task data is built at it); None when
    no row has a pre-trained or scratch encoder."""
    rates = _row_rates(models, baselines, cfg)
    if len(set(rates.values())) > 1:
        raise ValueError("the rows' encoders were pre-trained on windows of different rates ("
                         + ", ".join(f"{k}: {v:g} Hz" for k, v in rates.items())
                         + "): compare models of one rate; for a scratch row of your "
                         "models' architecture give --config MODEL (one of them), or leave "
                         "scratch out of --baselines")
    return next(iter(rates.values()), None)


def _row_rates(models: Sequence[str], baselines: Sequence[str], cfg: object
               ) -> dict[str, float]:
    """The window rate of each row with an encoder (``--models`` specs, the scratch and
    pretrained baselines), by spec or baseline name."""
    rates = {spec: encoder_fs(model_spec(spec)[1], cfg) for spec in models}
    if "scratch" in baselines:
        rates["scratch"] = float(cfg.fs)
    if "pretrained" in baselines:
        rates["pretrained"] = encoder_fs("pretrained", cfg)
    return rates


def _seeded_resnet(seed: int) -> ResNet1d:
    """A ResNet1d whose initial weights follow ``seed`` (a module given to a Finetuner is
    used as it is: its weights are drawn here, where the run's seed governs them)."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)  # the CPU's alone, as forked
        return ResNet1d()


def _compare_makers(baselines: Sequence[str], models: Sequence[str], modes: Sequence[str],
                    with_features: bool, *, cfg: object, epochs: int, seed: int,
                    augment: bool, pool: str | None, test_shifts: int | None,
                    solver: str | None, device: str, rule: dict) -> dict[str, RowMaker]:
    """The comparison's rows by label: the baselines, then each ``--models`` variant in every
    mode (and with the features beside it, ``with_features``); ``rule``: the threshold
    settings every row takes (``target_tpr``)."""
    makers: dict[str, RowMaker] = {}
    for b in baselines:
        if b == "classical":
            makers["classical features + GBM"] = lambda t, fs: ClassicalBaseline(
                t, seed=seed, fs=fs, **rule)  # the windows' rate (cross_validate checks it)
        elif b == "scratch":
            makers[SCRATCH_ROW] = lambda t, fs: Finetuner(
                t, init="none", mode="full", config=cfg, epochs=epochs, seed=seed,
                use_features=False, augment=augment, pool=pool, test_shifts=test_shifts,
                device=device, fs=fs, **rule)
        elif b == "resnet":
            makers["ResNet1d from scratch"] = lambda t, fs: Finetuner(
                t, init=_seeded_resnet(seed), mode="full", lr=1e-3, epochs=epochs, seed=seed,
                use_features=False, augment=augment, test_shifts=test_shifts, device=device,
                fs=fs, **rule)
        elif b == "pretrained":  # the foundation model as finetune fits it by default
            makers[PRETRAINED_ROW] = lambda t, fs: Finetuner(
                t, init="pretrained", epochs=epochs, seed=seed, augment=augment, pool=pool,
                test_shifts=test_shifts, device=device, fs=fs, **rule)
        else:
            raise ValueError(f"unknown baseline {b!r}; choose from {', '.join(BASELINES)}")
    for spec in models:
        name, path = model_spec(spec)
        name = name or Path(path).name
        for mode in modes:
            for feats in (False, True) if with_features else (False,):
                label = f"{name} ({mode}{' + features' if feats else ''})"
                if label in makers:
                    raise ValueError(f"two --models give the row {label!r}: name them apart "
                                     "(NAME=DIR)")
                makers[label] = (lambda t, fs, p=path, m=mode, f=feats: Finetuner(
                    t, init=p, mode=m, config=cfg if p == "none" else None, epochs=epochs,
                    seed=seed, use_features=f, augment=augment, pool=pool,
                    test_shifts=test_shifts, solver=solver if m == "linear" else None,
                    device=device, fs=fs, **rule))
    if not makers:
        raise ValueError("nothing to compare: give --baselines and/or --models")
    return makers


def _add_paired_differences(rows: dict, oof: dict[str, np.ndarray], ds: TaskDataset,
                            reference: str, n_boot: int, seed: int) -> None:
    """Each row minus the ``reference`` row on the same out-of-fold rows (AUROC, or SBP MAE
    for abp), with a paired bootstrap CI, into ``rows``."""
    kind = "regression" if ds.task == "abp" else "binary"
    for name in rows:
        if name != reference:
            d = paired_difference(ds.y, oof[name], oof[reference], ds.groups, kind, n_boot,
                                  seed)
            rows[name][f"delta_{d['metric']}"] = d["delta"]
            rows[name][f"delta_{d['metric']}_ci"] = d["delta_ci"]
            rows[name]["reference"] = reference
