"""Windows/s of `qualityfm embed` / `score` model inference for `base`, fp32 vs bf16.

Times the public inference functions, `qualityfm.inference.embed_windows` (the encoder's
pooled embedding) and `learned_quality` (encoder + decoder + spectral agreement), with their
``precision`` option ("fp32", "bf16"; "fp16" too with --device cuda), on real-length 30-s
windows (random values: the cost does not depend on them) at the given thread count, and
prints the speed-up over fp32 and how far the bf16 embeddings are from fp32 ones. Target
(issue 5): at least 500 windows/s for `base` on 2 cores.

    .venv/bin/python benchmarks/embed_throughput.py [--threads 2] [--batch 256] [--device cpu]
        [--stem residual|conv]

``--stem``: the tokeniser, ``residual`` (the shipped weights' and ``pretrain``'s default, the
default here since session 37) or ``conv`` (the original's, which the figures before it timed).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from qualityfm.cli.argtypes import positive_int
from qualityfm.inference import embed_windows, learned_quality
from qualityfm.model import QualityFM, QualityFMConfig

TARGET = 500.0


def rate(fn: Callable[[], np.ndarray], n: int, reps: int) -> tuple[float, np.ndarray]:
    """Windows/s of ``fn`` (``n`` windows a call) over ``reps`` calls after one warm-up.

    ``fn`` returns a NumPy array, so a GPU's work is finished when it returns.
    """
    out = fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return reps * n / (time.perf_counter() - t0), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=positive_int, default=2, help="torch threads (default 2)")
    ap.add_argument("--batch", type=positive_int, default=256,
                    help="windows per call (default 256)")
    ap.add_argument("--reps", type=positive_int, default=5,
                    help="timed calls after one warm-up (default 5)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    ap.add_argument("--stem", default="residual", choices=("residual", "conv"),
                    help="tokeniser: residual (the shipped weights', default) or conv")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = QualityFM(QualityFMConfig.preset("base", stem=args.stem)).to(args.device).eval()
    rng = np.random.default_rng(0)
    x = (rng.random((args.batch, 2, 9000), dtype=np.float32) * 2 - 1)
    mask = np.ones((args.batch, 2), dtype=bool)
    precisions = ["fp32", "bf16"] + (["fp16"] if args.device.startswith("cuda") else [])
    print(f"base ({args.stem} stem), batch {args.batch}, {args.threads} threads, device "
          f"{args.device}, 30-s windows at 300 Hz")
    results = {}
    for p in precisions:
        emb, vec = rate(lambda p=p: embed_windows(model, x, mask, args.batch, precision=p),
                        len(x), args.reps)
        full, _ = rate(lambda p=p: learned_quality(model, x, mask, args.batch, precision=p),
                       len(x), args.reps)
        results[p] = (emb, full, vec)
        print(f"{p}: embed {emb:8.1f} windows/s ({emb / TARGET:.2f}x target)  "
              f"learned quality (encoder+decoder) {full:8.1f} windows/s")
    ref_emb, ref_full, ref_vec = results["fp32"]
    for p in precisions[1:]:
        emb, full, vec = results[p]
        cos = (vec * ref_vec).sum(1) / np.linalg.norm(vec, axis=1) / np.linalg.norm(ref_vec, axis=1)
        print(f"{p}/fp32: embed {emb / ref_emb:.2f}x, learned quality {full / ref_full:.2f}x; "
              f"embedding cosine to fp32 min {cos.min():.5f}")


if __name__ == "__main__":
    main()
