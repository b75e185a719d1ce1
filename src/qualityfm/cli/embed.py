"""`qualityfm embed FILE... --out emb.npy`: pooled encoder embeddings of every window."""

from __future__ import annotations

import argparse
import json
import sys

from qualityfm.cli.argtypes import POOL_NAMES, positive_int
from qualityfm.cli.finetune import add_device_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "embed", help="window embeddings as .npy (+ index CSV) or Parquet",
        description="Embed every window of every record under FILE... with the encoder "
        "(windows of the length and rate the model was pre-trained on, 30 s for the shipped "
        "weights). "
        "OUT.npy gets the [windows, d] matrix and OUT.index.csv the window index; OUT.parquet "
        "gets both in one table.",
    )
    p.add_argument("inputs", nargs="+", metavar="FILE", help="records or folders of records")
    p.add_argument("--out", required=True, help="output (.npy or .parquet)")
    p.add_argument("--model", default="pretrained",
                   help="exported model folder, or 'pretrained' (default) for the shipped weights")
    p.add_argument("--batch-size", type=positive_int, default=256,
                   help="windows per model batch (default 256)")
    p.add_argument("--pool", default="mean", choices=POOL_NAMES, metavar="|".join(POOL_NAMES),
                   help="how each window's encoder output becomes one row: the mean of its "
                   "tokens (default, d values), +last: the last token beside it, +stem: the "
                   "mean, SD and maximum over time of the stem's feature maps beside them "
                   "(with +last also their mean over the last token's span: mean+last+stem "
                   "is 2d + 4 x the maps' channels)")
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32",
                   help="model inference precision: fp32 (default); bf16 autocast, faster on "
                   "CPUs with native bf16 (AVX-512 BF16, AMX) and on GPUs, results differ "
                   "slightly from fp32; fp16 autocast (CUDA only)")
    add_device_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qualityfm.inference import embed_files
    from qualityfm.inference.embed import EMBED_SUFFIXES
    from qualityfm.inference.score import check_output
    from qualityfm.train import load

    check_output(args.out, EMBED_SUFFIXES, "embed")  # before the model is loaded
    summary = embed_files(args.inputs, args.out, load(args.model, device=args.device),
                          batch_size=args.batch_size, precision=args.precision,
                          pool=args.pool)
    print(json.dumps(summary, indent=2))
    if not summary["n_windows"]:
        print(f"qualityfm embed: no window to embed; {args.out} was not written",
              file=sys.stderr)
        return 1
    return 0
