"""``qualityfm prepare``: record files -> a sharded store of windows, quality and pairs."""

from __future__ import annotations

import argparse
import json
import sys

from qualityfm.cli.argtypes import positive_float, positive_int


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard must be K/N (e.g. 0/4), got {text!r}") from None
    if not (n >= 1 and 0 <= k < n):
        raise argparse.ArgumentTypeError(f"--shard K/N needs 0 <= K < N, got {text!r}")
    return k, n


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="window, score and pair records into a sharded store")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="record files or folders")
    p.add_argument("--out", required=True, help="store folder to write")
    p.add_argument("--workers", type=positive_int, default=1, help="processes (default 1)")
    p.add_argument("--shard", type=_shard, default=None, metavar="K/N",
                   help="write part K of N (records split by a stable hash of their path)")
    p.add_argument("--fs", type=positive_float, default=300.0, help="window sampling rate, Hz")
    p.add_argument("--window", type=positive_float, default=30.0, help="window length, seconds")
    p.add_argument("--normalization", choices=("channel", "joint", "none"), default="channel")
    p.add_argument("--dtype", choices=("float16", "int16"), default="float16")
    p.add_argument("--shard-size", type=positive_int, default=2048, help="windows per shard file")
    p.add_argument("--max-distance", type=positive_int, default=9,
                   help="pairs at most this many windows apart (default 9)")
    p.add_argument("--min-level-gap", type=positive_int, default=1,
                   help="pair levels must differ by at least this (default 1)")
    p.add_argument("--features", action="store_true",
                   help="also compute every window's classical features (features.npy), the "
                        "targets of pretrain --feature-weight (else pretrain computes them)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing store")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qualityfm.data import PairConfig, compute_store_features, prepare
    from qualityfm.signal import WindowConfig

    window = WindowConfig(fs=args.fs, seconds=args.window, normalization=args.normalization)
    pairs = PairConfig(max_distance=args.max_distance, min_level_gap=args.min_level_gap)
    summary = prepare(
        args.inputs, args.out, workers=args.workers, shard=args.shard, window=window,
        pairs=pairs, dtype=args.dtype, shard_size=args.shard_size, overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    if args.features:  # the folder just written (this part only, with --shard)
        compute_store_features(summary["path"], workers=args.workers)
    levels = ", ".join(f"{k} {v}" for k, v in summary["levels"].items())
    print(
        f"prepared {summary['path']}: {summary['n_records']} records, "
        f"{summary['n_windows']} windows ({levels}), {summary['n_pairs']} pairs, "
        f"{len(summary['skipped'])} skipped, {summary['seconds']:.1f} s",
        file=sys.stderr,
    )
    print(json.dumps(summary))
    return 0
