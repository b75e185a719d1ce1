"""`qualityfm demo [--data DIR] [--out DIR]`: the whole pipeline, with a report at the end."""

from __future__ import annotations

import argparse

from qualityfm.cli.argtypes import positive_int, seed_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="run the whole pipeline (synthetic data by default) and write a report",
        description="Make (or read) PPG + ECG records, score their quality, build a store, "
        "pre-train a model, fine-tune it on VT alarms with cross-validation and write a "
        "report folder (markdown + PNG). Without --data it uses synthetic data "
        "(1-2 min on 2 CPU cores).",
    )
    p.add_argument("--data", default=None,
                   help="folder of real records with Challenge 2015 alarm labels "
                   "(e.g. ../shared/data/physionet2015_vt); default: synthetic")
    p.add_argument("--out", default="demo_report", help="report folder (default demo_report)")
    p.add_argument("--steps", type=positive_int, default=120,
                   help="pre-training steps (default 120)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="fine-tuning epochs of a head trained by gradient steps (the default "
                   "VT-alarm head is fitted in closed form and takes none)")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="seed of the data, the pre-training and the folds (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qualityfm.demo import run_demo

    result = run_demo(args.out, args.data, steps=args.steps, epochs=args.epochs, seed=args.seed)
    print(f"report: {result['report']}")
    return 0
