"""``qualityfm presets``: one JSON line per model preset with its parameter counts."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "presets", help="print each model preset (parameter counts and main settings) as JSON"
    )
    parser.add_argument("names", nargs="*", help="presets to show (default: all)")
    parser.add_argument("--stem", choices=("conv", "residual"), default=None,
                        help="tokeniser: conv, the original's (default; the counts it names: "
                        "9.6 M, 70.6 M, 319.6 M), or residual, what `pretrain` builds by default "
                        "and the shipped weights use")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qualityfm.model import PRESETS
    from qualityfm.model.summary import preset_summary

    names = args.names or list(PRESETS)
    unknown = [n for n in names if n not in PRESETS]
    if unknown:  # before any line: a known name's had been printed before the error
        raise ValueError(f"unknown preset {unknown[0]!r}; choose from {', '.join(PRESETS)}")
    for name in names:
        print(json.dumps(preset_summary(name, args.stem)))
    return 0
