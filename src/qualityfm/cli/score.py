"""`qualityfm score FILE... --out scores.csv`: per-window quality of any supported file."""

from __future__ import annotations

import argparse
import json
import sys

from qualityfm.cli.argtypes import hr_max_bpm, positive_int
from qualityfm.cli.finetune import add_device_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score", help="per-window signal quality (SQIs, level, learned score) as CSV/Parquet",
        description="Score every window (30 s at 300 Hz, or those --model was pre-trained "
        "on) of every record under FILE... (any supported format, folders searched). Writes one "
        "row per window: ecg_sqi, ppg_sqi, combined sqi, its level, which recorded channel is "
        "off there (unusable), and with --model the learned quality in [-1, 1] (correlation of "
        "the window's spectrum with the model's reconstruction of a clean signal; with the "
        "shipped weights it follows the SQIs only weakly, Spearman 0.23: no quality score).",
    )
    p.add_argument("inputs", nargs="+", metavar="FILE", help="records or folders of records")
    p.add_argument("--out", required=True, help="output table (.csv or .parquet)")
    p.add_argument("--model", default=None,
                   help="exported model folder, or 'pretrained' for the shipped weights; "
                   "omit for the signal-quality indices alone")
    p.add_argument("--hr-max", type=hr_max_bpm, default=None, metavar="BPM",
                   help="highest heart rate the ECG quality accepts as good beats (default "
                   "120, QualityFM's rule: clean tachycardia rates bad; e.g. 250: a clean "
                   "fast rhythm is not rated bad for its rate, irregular beat intervals "
                   "still are)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="windows per model batch (default 256; with --model only)")
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default=None,
                   help="model inference precision (with --model only): fp32 (default); bf16 "
                   "autocast, faster on CPUs with native bf16 (AVX-512 BF16, AMX) and on GPUs, "
                   "results differ slightly from fp32; fp16 autocast (CUDA only)")
    add_device_option(p, "; with --model only")
    p.set_defaults(func=run, device=None)  # None: not given (cpu), refused without --model


def run(args: argparse.Namespace) -> int:
    from qualityfm.inference import score_files
    from qualityfm.inference.score import check_output
    from qualityfm.quality import RRRules

    model_options = {name: value for name, value in (("batch_size", args.batch_size),
                                                      ("precision", args.precision))
                     if value is not None}
    given = [*model_options, *(["device"] if args.device is not None else [])]
    if given and not args.model:
        named = ["--" + name.replace("_", "-") for name in given]
        flags = " and ".join([", ".join(named[:-1]), named[-1]] if len(named) > 1 else named)
        verb = "set" if len(given) > 1 else "sets"
        raise ValueError(f"{flags} {verb} how the model runs: give --model (without it only the "
                         "signal-quality indices are computed)")
    check_output(args.out, what="score")  # before the model is loaded
    model = None
    if args.model:  # torch loads with a model only
        from qualityfm.train import load

        model = load(args.model, device=args.device or "cpu")
    rules = None if args.hr_max is None else RRRules(hr_max=args.hr_max)
    summary = score_files(args.inputs, args.out, model=model, ecg_rules=rules, **model_options)
    print(json.dumps(summary, indent=2))
    if not summary["n_windows"]:
        print(f"qualityfm score: no window to score; {args.out} was not written",
              file=sys.stderr)
        return 1
    return 0
