"""``qualityfm export``: a run's teacher as safetensors + config JSON + model card."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a pre-training run's teacher as a model folder")
    p.add_argument("run", help="run folder written by `qualityfm pretrain`")
    p.add_argument("--out", required=True, help="model folder to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qualityfm.train import export_model

    out = export_model(args.run, args.out)
    print(out)
    return 0
