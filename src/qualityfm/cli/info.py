"""``qualityfm info``: counts, quality levels and skipped records of a store, as JSON."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="print a store's counts, quality levels and skipped records")
    p.add_argument("store", metavar="STORE", help="store folder (one store or its parts)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qualityfm.data import store_info

    print(json.dumps(store_info(args.store), indent=2))
    return 0
