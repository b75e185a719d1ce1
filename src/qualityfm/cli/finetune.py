"""``qualityfm finetune``: fine-tune (or cross-validate) a model on a clinical task."""

from __future__ import annotations

import argparse
import json

from qualityfm.cli.argtypes import (
    POOL_NAMES,
    int_at_least,
    open_fraction,
    positive_int,
    seed_int,
)
from qualityfm.cli.prepare import MAX_WINDOW_SECONDS, MIN_WINDOW_SECONDS, window_seconds


def add_data_options(p: argparse.ArgumentParser, fitted: bool = False) -> None:
    """Options shared by the task verbs; ``fitted``: a verb that reads a fine-tuned run,
    whose window length is the run's by default."""
    p.add_argument("--task", required=True, choices=["vt-alarm", "af", "abp"],
                   help="false VT alarms (true or false), atrial fibrillation, or blood "
                   "pressure (SBP and DBP)")
    p.add_argument("--data", required=True, nargs="+", action="extend", metavar="DIR",
                   help="directory of task records, or a record file (several, or --data "
                        "given again: their records pooled)")
    p.add_argument("--seconds", type=window_seconds, default=None,
                   help=f"window length in seconds, {MIN_WINDOW_SECONDS:g} to "
                        f"{MAX_WINDOW_SECONDS:g} (default: "
                   + ("the one the model was fine-tuned on, from its run's summary.json; "
                      "else the model's own window length (a model saved from Python); else "
                      "the task's)" if fitted
                      else "vt-alarm 10, af 30, abp 30)"))
    p.add_argument("--max-records", type=positive_int, default=None,
                   help="use the first N record files only, in sorted order (UCI cuff-less "
                        "BP parts after the others, and of a part its first N records)")
    p.add_argument("--cache", default=None, help="directory for cached task datasets (.npz), "
                   "outside the --data folders; files are known by path, size and "
                   "modification time")


def add_bp_rule_option(p: argparse.ArgumentParser, fitted: bool = False) -> None:
    """``--bp-rule``: how abp's per-window targets are taken (``datasets.BP_RULES``, named
    here so that building the parser imports no torch; a test keeps the two equal)."""
    p.add_argument("--bp-rule", choices=("beat_median", "max_min"), default=None,
                   help="abp: each window's SBP/DBP as the median of its beats' systolic peaks "
                   "and diastolic troughs (beat_median) or as its maximum and minimum "
                   "(max_min, the original's); default: "
                   + ("the one the run was fine-tuned with" if fitted else "beat_median"))


def add_target_tpr_option(p: argparse.ArgumentParser) -> None:
    """``--target-tpr``: the TPR a vt-alarm threshold keeps (finetune and compare)."""
    p.add_argument("--target-tpr", type=open_fraction, default=None,
                   help="vt-alarm: the share of true alarms the threshold keeps on new alarms "
                   "(default 0.95); the highest threshold that keeps it is chosen on "
                   "validation data")


def add_device_option(p: argparse.ArgumentParser, note: str = "") -> None:
    """``--device``: where the networks run (``note`` ends its help)."""
    p.add_argument("--device", default="cpu",
                   help=f"device the networks run on: cpu (default), cuda, cuda:1, ...{note}")


def add_network_options(p: argparse.ArgumentParser) -> None:
    """``--no-augment``, ``--pool``, ``--test-shifts`` and ``--solver``: how task networks
    train, pool their tokens and predict."""
    p.add_argument("--no-augment", action="store_true",
                   help="train networks on the windows as they are (default: a random circular "
                   "time shift of each training window every epoch)")
    p.add_argument("--pool", default=None, choices=POOL_NAMES, metavar="|".join(POOL_NAMES),
                   help="how a QualityFM encoder's output becomes one embedding: the mean of "
                   "its tokens, +last: the last token beside it, +stem: statistics of the "
                   "stem's feature maps beside them (with +last, over the last token's span "
                   "too) (default: mean+last+stem for vt-alarm, "
                   "whose windows end at the alarm; mean otherwise)")
    p.add_argument("--test-shifts", type=positive_int, default=None, metavar="N",
                   help="average a network's outputs over N evenly spaced circular shifts of "
                   "each window (default: 8 after training on shifted windows with a "
                   "pooling without +last, else 1)")
    p.add_argument("--solver", default=None, choices=["adamw", "lbfgs"],
                   help="how a linear head is fitted: adamw (gradient steps, early stopping on "
                   "the validation rows) or lbfgs (L2 logistic / ridge regression on every "
                   "training row; strength, calibration and threshold from grouped inner "
                   "folds); default: lbfgs for a linear head of a clinical task, adamw "
                   "otherwise")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("finetune", help="fine-tune on vt-alarm, af or abp",
                       description="Fine-tune a model (or fit the classical baseline) on a "
                       "clinical task's records, split by patient or record, and save it to "
                       "OUT; with --kfold, cross-validate it and write the report to OUT.")
    add_data_options(p)
    add_bp_rule_option(p)
    add_device_option(p)
    p.add_argument("--init", default="pretrained",
                   help="pretrained (the shipped weights; the default) | none (random "
                   "weights) | MODEL_DIR | classical (the feature baseline)")
    p.add_argument("--mode", default=None, choices=["full", "linear"],
                   help="fine-tune every weight, or train a linear head on the frozen encoder "
                   "(default: linear from pre-trained weights, full for --init none)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the finished run (model or CV report) OUT holds (default: "
                   "refuse; a stopped --kfold run resumes without it)")
    p.add_argument("--kfold", type=int_at_least(2), default=None,
                   help="grouped k-fold CV instead of one fit")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="training epochs of a network (default 30)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="windows per batch (default 32)")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="seed of the validation split, the --kfold folds and the networks "
                   "(default 0)")
    p.add_argument("--config", default=None,
                   help="model preset, JSON config file or exported model (its architecture) "
                        "for --init none (default: the "
                        "architecture of the shipped weights, the residual tokeniser; a preset "
                        "name gives the preset as `qualityfm presets` prints it, with the "
                        "original's conv tokeniser)")
    p.add_argument("--features", action=argparse.BooleanOptionalAction, default=None,
                   help="feed the task's classical features to the head beside the embedding "
                   "(default: on; --no-features: the embedding alone, e.g. for an ONNX "
                   "export)")
    add_target_tpr_option(p)
    add_network_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qualityfm.io import json_safe
    from qualityfm.tasks.pipeline import finetune_run

    summary = finetune_run(
        args.task, args.data, args.out, init=args.init, mode=args.mode, kfold=args.kfold,
        epochs=args.epochs, seed=args.seed, config=args.config, batch_size=args.batch_size,
        seconds=args.seconds, max_records=args.max_records, cache_dir=args.cache,
        use_features=args.features, augment=not args.no_augment, pool=args.pool,
        test_shifts=args.test_shifts, solver=args.solver, device=args.device,
        overwrite=args.overwrite, target_tpr=args.target_tpr, bp_rule=args.bp_rule,
    )
    shown = {k: v for k, v in summary.items()
             if k not in ("skipped", "train_groups", "left_out")}
    for key in ("skipped", "left_out"):  # named or counted on stderr, listed in summary.json
        if key in summary:
            shown[f"n_{key}"] = len(summary[key])
    print(json.dumps(json_safe(shown), indent=1, default=str))  # NaN -> null, valid JSON
    return 0
