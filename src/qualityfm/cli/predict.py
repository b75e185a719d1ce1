"""``qualityfm predict``: a fine-tuned model's predictions for task records, labelled or not."""

from __future__ import annotations

import argparse
import json

from qualityfm.cli.finetune import add_data_options, add_device_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict", help="predictions of a fine-tuned model, one row per usable window (table; "
        "records need no labels)",
        description="One row per window: vt-alarm p_true_alarm and true_alarm (1 keeps the "
        "alarm, 0 suppresses it); af p_af and af, with p_N p_A p_O p_noisy and rhythm; abp sbp "
        "and dbp (mmHg). Records need no label; abp needs ECG II and PPG, no arterial line. "
        "Windows without a usable channel are listed, with why, under left_out in the summary.")
    add_data_options(p, fitted=True)
    add_device_option(p)
    p.add_argument("--model", required=True, help="run directory written by finetune")
    p.add_argument("--out", required=True, help="output table (.csv or .parquet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qualityfm.inference.score import check_output
    from qualityfm.tasks.pipeline import predict_run

    check_output(args.out, what="predict")  # before any record is read
    res = predict_run(args.task, args.model, args.data, args.out, seconds=args.seconds,
                      max_records=args.max_records, cache_dir=args.cache, device=args.device)
    print(json.dumps(res, indent=1, default=str))
    return 0
