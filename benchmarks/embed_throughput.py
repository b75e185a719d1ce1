"""Windows/s of `qualityfm embed` / `score` model inference for `base` on this CPU.

Times the encoder (embed) and the full model (learned quality) on real-length 30-s windows
(random values: the cost does not depend on them), fp32 and bf16 autocast, at the given
thread count. Target (issue 5): at least 500 windows/s for `base` on 2 cores.

    .venv/bin/python benchmarks/embed_throughput.py [--threads 2] [--batch 256]
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch

from qualityfm.model import QualityFM, QualityFMConfig

TARGET = 500.0


def rate(fn, x: torch.Tensor, mask: torch.Tensor, reps: int) -> float:
    fn(x, mask)  # warm-up
    t0 = time.perf_counter()
    for _ in range(reps):
        fn(x, mask)
    return reps * len(x) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = QualityFM(QualityFMConfig.preset("base")).eval()
    x = torch.rand(args.batch, 2, 9000) * 2 - 1
    mask = torch.ones(args.batch, 2, dtype=torch.bool)
    print(f"base, batch {args.batch}, {args.threads} threads, 30-s windows at 300 Hz")
    for dtype in ("fp32", "bf16"):
        ctx = (torch.autocast("cpu", dtype=torch.bfloat16) if dtype == "bf16"
               else contextlib.nullcontext())
        with torch.inference_mode(), ctx:
            emb = rate(model.embed, x, mask, args.reps)
            full = rate(model, x, mask, args.reps)
        print(f"{dtype}: embed {emb:7.1f} windows/s ({emb / TARGET:.2f}x target)  "
              f"encoder+decoder (learned quality) {full:7.1f} windows/s")


if __name__ == "__main__":
    main()
