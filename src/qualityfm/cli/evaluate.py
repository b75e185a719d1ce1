"""``qualityfm evaluate``: metrics of a fine-tuned model on task records."""

from __future__ import annotations

import argparse
import json

from qualityfm.cli.finetune import add_bp_rule_option, add_data_options, add_device_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate", help="evaluate a fine-tuned model (JSON, table, plots)",
        description="Metrics of a fine-tuned run on labelled task records, at the threshold its "
        "validation fixed: vt-alarm and af AUROC, AUPRC, TPR, TNR, PPV, F1 and accuracy with "
        "bootstrap 95 % intervals (vt-alarm the challenge score, af the macro F1 over N, A, O "
        "and the noisy AUROC); abp SBP and DBP MAE, ME, SD, MASE, AAMI and BHS. Writes the JSON "
        "(with each row's prediction), a markdown table and plots beside it; records the model "
        "was trained on are named, the figures then no test.")
    add_data_options(p, fitted=True)
    add_bp_rule_option(p, fitted=True)
    add_device_option(p)
    p.add_argument("--model", required=True, help="run directory written by finetune")
    p.add_argument("--out", required=True,
                   help="results JSON path (.json; the table and plots go beside it)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qualityfm.io import json_safe
    from qualityfm.tasks.pipeline import evaluate_run

    res = evaluate_run(args.task, args.model, args.data, args.out, seconds=args.seconds,
                       max_records=args.max_records, cache_dir=args.cache, device=args.device,
                       bp_rule=args.bp_rule)
    shown = {k: v for k, v in res.items() if k not in ("predictions", "left_out")}
    if "left_out" in res:  # counted on stderr, each listed in the results file
        shown["n_left_out"] = len(res["left_out"])
    print(json.dumps(json_safe(shown), indent=1, default=str))  # NaN -> null, as in the file
    return 0
