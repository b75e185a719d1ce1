"""``qualityfm prepare``: record files -> a sharded store of windows, quality and pairs."""

from __future__ import annotations

import argparse
import json
import sys

from qualityfm.cli.argtypes import at_most, hr_max_bpm, positive_float, positive_int

#: Highest window rate ``--fs`` accepts, Hz: the model reads 300 Hz, and far higher rates only
#: make windows too large to hold (1e9 Hz asks terabytes per record).
MAX_FS = 2000.0
#: Lowest window rate ``--fs`` accepts, Hz: the quality scores' (``quality._common.MIN_FS``,
#: named here so that ``--help`` imports no NumPy; a test keeps the two equal).
MIN_FS = 50.0
#: Shortest window ``--window`` accepts, s: the quality scores' (``quality._common.MIN_SECONDS``,
#: named here so that ``--help`` imports no NumPy; a test keeps the two equal).
MIN_WINDOW_SECONDS = 2.0
#: Longest window ``--window`` accepts, s: ``signal.windows.MAX_WINDOW_SECONDS`` (a day; named
#: here as the others are, a test keeps the two equal).
MAX_WINDOW_SECONDS = 86400.0
#: Largest level gap a pair can have: levels run from 0 (bad) to 4 (excellent), see
#: ``qualityfm.quality.LEVEL_NAMES`` (not imported here, to keep ``--help`` fast).
MAX_LEVEL_GAP = 4


def _window_rate(text: str) -> float:
    """An argparse type: a window rate in [MIN_FS, MAX_FS] Hz."""
    value = positive_float(text)
    if not MIN_FS <= value <= MAX_FS:
        raise argparse.ArgumentTypeError(
            f"must be {MIN_FS:g}-{MAX_FS:g} Hz (the quality scores need {MIN_FS:g} Hz; the "
            f"model reads 300 Hz), got {text}")
    return value


def window_seconds(text: str) -> float:
    """An argparse type: a window length, MIN_WINDOW_SECONDS (what the quality scores need,
    and a task channel counts from) to a day (``prepare --window``, the task verbs'
    ``--seconds``)."""
    value = positive_float(text)
    if value < MIN_WINDOW_SECONDS:
        raise argparse.ArgumentTypeError(
            f"must be at least {MIN_WINDOW_SECONDS:g} s (the quality scores and the tasks' "
            f"channels need it), got {text}")
    if value > MAX_WINDOW_SECONDS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_WINDOW_SECONDS:g} s (a day), "
                                         f"got {text}")
    return value


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
    p.add_argument("--out", required=True,
                   help="store folder to write (apart from the input folders)")
    p.add_argument("--workers", type=positive_int, default=1, help="processes (default 1)")
    p.add_argument("--shard", type=_shard, default=None, metavar="K/N",
                   help="write part K of N (records split by a stable hash of their path)")
    p.add_argument("--fs", type=_window_rate, default=300.0,
                   help=f"window sampling rate, Hz (default 300; {MIN_FS:g}-{MAX_FS:g})")
    p.add_argument("--window", type=window_seconds, default=30.0,
                   help="window length, seconds (default 30)")
    p.add_argument("--normalization", choices=("channel", "joint", "none"), default="channel",
                   help="scaling into [-1, 1]: each channel of each window (channel, the "
                   "default), the window's channels together (joint, the original's) or none")
    p.add_argument("--dtype", choices=("float16", "int16"), default="float16",
                   help="stored sample type (default float16; int16 keeps a scale per channel)")
    p.add_argument("--shard-size", type=positive_int, default=2048,
                   help="windows per shard file (default 2048)")
    p.add_argument("--max-distance", type=positive_int, default=9,
                   help="pairs at most this many windows apart (default 9)")
    gap = at_most(positive_int, MAX_LEVEL_GAP,
                  f" (quality levels run from 0, bad, to {MAX_LEVEL_GAP}, excellent)")
    p.add_argument("--min-level-gap", type=gap, default=1,
                   help=f"pair levels must differ by at least this (default 1, at most "
                        f"{MAX_LEVEL_GAP})")
    p.add_argument("--hr-max", type=hr_max_bpm, default=None, metavar="BPM",
                   help="highest heart rate the ECG quality accepts as good beats (default "
                   "120, QualityFM's rule: clean tachycardia rates bad, so it is the student "
                   "of the record's pairs; e.g. 250: a clean fast rhythm is not rated bad for "
                   "its rate, irregular beat intervals still are)")
    p.add_argument("--features", action="store_true",
                   help="also compute every window's classical features (features.npy), the "
                        "targets of pretrain --feature-weight (else pretrain computes them)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing store")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qualityfm.data import PairConfig, compute_store_features, prepare
    from qualityfm.quality import RRRules
    from qualityfm.signal import WindowConfig

    window = WindowConfig(fs=args.fs, seconds=args.window, normalization=args.normalization)
    pairs = PairConfig(max_distance=args.max_distance, min_level_gap=args.min_level_gap)
    rules = None if args.hr_max is None else RRRules(hr_max=args.hr_max)
    summary = prepare(
        args.inputs, args.out, workers=args.workers, shard=args.shard, window=window,
        pairs=pairs, ecg_rules=rules, dtype=args.dtype, shard_size=args.shard_size,
        overwrite=args.overwrite, progress=not args.no_progress,
    )
    if args.features:  # the folder just written (this part only; an empty part's table is
        # empty: pretrain would write one into the store, or refuse a read-only one)
        compute_store_features(summary["path"], workers=args.workers,
                               progress=not args.no_progress)
    # counts on stdout (the first records skipped are named on stderr, and all are listed in
    # the store's meta.json: qualityfm info), as finetune's summary does
    shown = {k: v for k, v in summary.items() if k not in ("skipped", "passed_over")}
    shown.update(n_skipped=len(summary["skipped"]),
                 n_passed_over=len(summary.get("passed_over", [])))
    print(json.dumps(shown))
    return _report(summary, args)


def _report(summary: dict, args: argparse.Namespace) -> int:
    """Say on stderr what a finished run wrote; its exit status: 1 when no window was written
    (as ``score`` and ``embed``), with a warning when windows gave no pair."""
    from qualityfm.io.read import note_passed_over, note_skipped, skip_line

    path, skipped = summary["path"], summary["skipped"]
    note_passed_over(summary.get("passed_over", []), "prepare")  # named, not lost silently
    if summary["n_windows"] == 0:
        if not skipped:  # a part whose share of the records is empty: the store needs it
            print(f"qualityfm prepare: note: {path} holds none of the records (they all fall in "
                  "other parts)", file=sys.stderr)
            return 0
        if args.shard is not None:  # a finished part, which the store needs: not a failure
            print(f"qualityfm prepare: warning: {path}: every record of this part was skipped "
                  f"({len(skipped)}; first: {skip_line(skipped[0])}); listed under "
                  f"\"skipped\" (qualityfm info); the other parts make the store",
                  file=sys.stderr)
            return 0
        print(f"qualityfm prepare: no window to store; every record was skipped "
              f"({len(skipped)}; first: {skip_line(skipped[0])}); {path} lists them under "
              f"\"skipped\" (qualityfm info {path})", file=sys.stderr)
        return 1
    note_skipped(skipped, verb="prepare", listed_in=f"{path}'s meta.json (qualityfm info)")
    levels = ", ".join(f"{k} {v}" for k, v in summary["levels"].items())
    print(f"prepared {path}: {summary['n_records']} records, {summary['n_windows']} windows "
          f"({levels}), {summary['n_pairs']} pairs, {len(skipped)} skipped, "
          f"{summary['seconds']:.1f} s", file=sys.stderr)
    if summary["n_pairs"] == 0:
        use = " (other parts may hold some)" if args.shard else ", so pretrain cannot use it"
        print(f"qualityfm prepare: warning: {path} holds {summary['n_windows']} windows but 0 "
              f"pairs{use}: a pair joins windows of one record at "
              f"most --max-distance {args.max_distance} windows apart whose quality levels "
              f"differ by at least --min-level-gap {args.min_level_gap}; "
              + ("raise the one or lower the other" if args.min_level_gap > 1 else
                 "raise the one, or add records whose quality varies more"),
              file=sys.stderr)
    return 0
