"""``qualityfm compare``: baselines and ablations under grouped k-fold CV, one table."""

from __future__ import annotations

import argparse
from pathlib import Path

from qualityfm.cli.argtypes import int_at_least, positive_int, seed_int
from qualityfm.cli.finetune import (
    add_bp_rule_option,
    add_data_options,
    add_device_option,
    add_network_options,
    add_target_tpr_option,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="baselines and pre-trained variants in one table")
    add_data_options(p)
    add_bp_rule_option(p)
    add_device_option(p)
    p.add_argument("--models", nargs="*", action="extend", default=[],
                   help="pre-trained model dirs as NAME=DIR (ablations: no-spectral=DIR, ...); "
                        "DIR may be `pretrained` (shipped weights) or `none` (random encoder)")
    p.add_argument("--modes", default=None,
                   help="comma list of fine-tuning modes for --models: full, linear (default: "
                   "both)")
    p.add_argument("--with-features", action="store_true",
                   help="also run each --models variant with the classical features in its head")
    p.add_argument("--baselines", default="classical,scratch,resnet,pretrained",
                   help="comma list of classical (gradient boosting on the classical "
                   "features), scratch (this architecture untrained, full fine-tune), resnet "
                   "(a 1-D ResNet), pretrained (the shipped weights fine-tuned as finetune "
                   "does by default: the task's mode, head and features); default: all four, "
                   "the two networks from scratch trained for --epochs in each fold; empty "
                   "for none")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the finished comparison OUT holds (default: refuse; a "
                   "stopped comparison resumes without it)")
    p.add_argument("--kfold", type=int_at_least(2), default=5,
                   help="grouped cross-validation folds (default 5)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="most epochs of each network trained by gradient steps, early "
                   "stopping on validation (default 30)")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="seed of the folds, the splits and the networks (default 0)")
    p.add_argument("--config", default=None,
                   help="model preset, JSON config or exported model (its architecture) for "
                        "'scratch' and random encoders "
                        "(default: the architecture of the shipped weights, the residual "
                        "tokeniser; a preset name gives the original's conv tokeniser)")
    p.add_argument("--reference", default=None,
                   help="row every other row is compared with (paired bootstrap of the AUROC or "
                   "SBP MAE difference), e.g. 'random (linear)'; default: the scratch baseline")
    add_target_tpr_option(p)
    add_network_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qualityfm.tasks.pipeline import compare_run

    compare_run(
        args.task, args.data, args.out, models=args.models,
        baselines=[b for b in args.baselines.split(",") if b], kfold=args.kfold,
        epochs=args.epochs, seed=args.seed, config=args.config, seconds=args.seconds,
        max_records=args.max_records, cache_dir=args.cache,
        modes=None if args.modes is None else list(dict.fromkeys(  # linear,linear: once
            m for m in args.modes.split(",") if m)),
        with_features=args.with_features,
        augment=not args.no_augment, pool=args.pool, test_shifts=args.test_shifts,
        solver=args.solver,
        reference=args.reference, device=args.device, overwrite=args.overwrite,
        bp_rule=args.bp_rule, target_tpr=args.target_tpr,
    )
    print((Path(args.out) / "table.md").read_text())
    return 0
