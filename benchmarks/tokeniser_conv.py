"""Forward+backward time of the tokeniser's strided convolutions: nn.Conv1d vs StridedConv1d.

The six stages of `base` (encoder stem on 9000 samples, decoder stem on 18 token channels of
512), batch 32, fp32 and bf16, as the training step runs them (the encoder's input needs no
gradient). Prints milliseconds and the ratio direct / rewritten.

    .venv/bin/python benchmarks/tokeniser_conv.py [--threads 2] [--batch 32]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from qualityfm.cli.argtypes import positive_int
from qualityfm.model import QualityFMConfig
from qualityfm.model.layers import StridedConv1d


def millis(fn, reps: int = 10) -> float:
    for _ in range(3):
        fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps * 1e3


def stages(cfg: QualityFMConfig) -> list[tuple[str, int, int, int, int, int, bool]]:
    """(name, c_in, c_out, kernel, stride, input length, input needs grad) of each stage."""
    out = []
    for part, c_in, length, grad in (("encoder", cfg.in_channels, cfg.n_samples, False),
                                     ("decoder", cfg.n_tokens(cfg.n_samples), cfg.d_model, True)):
        for i, (c_out, k, s) in enumerate(zip(cfg.stem_widths, cfg.stem_kernels,
                                              cfg.stem_strides, strict=True)):
            out.append((f"{part} {i + 1}", c_in, c_out, k, s, length, grad))
            length = (length + 2 * (k // 2) - k) // s + 1
            c_in, grad = c_out, True
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=positive_int, default=2, help="torch threads (default 2)")
    ap.add_argument("--batch", type=positive_int, default=32, help="windows per pass (default 32)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"base tokeniser stages, batch {args.batch}, {args.threads} threads, fwd+bwd ms")
    print(f"{'stage':<10} {'shape':<24} {'dtype':<5} {'Conv1d':>8} {'ours':>8} {'ratio':>6}")
    total = {"fp32": [0.0, 0.0], "bf16": [0.0, 0.0]}
    for name, c_in, c_out, k, s, length, grad in stages(QualityFMConfig.preset("base")):
        for dname, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            conv = StridedConv1d(c_in, c_out, k, stride=s, padding=k // 2).to(dtype)
            x = torch.randn(args.batch, c_in, length, dtype=dtype, requires_grad=grad)

            a = millis(lambda c=conv, x=x: F.conv1d(  # noqa: B023 - timed right here
                x, c.weight, c.bias, stride=c.stride, padding=c.padding).sum().backward())
            b = millis(lambda c=conv, x=x: c(x).sum().backward())
            total[dname][0] += a
            total[dname][1] += b
            shape = f"{c_in}->{c_out} k{k} s{s} T{length}"
            print(f"{name:<10} {shape:<24} {dname:<5} {a:8.1f} {b:8.1f} {a / b:5.1f}x")
    for dname, (a, b) in total.items():
        print(f"{'all six':<10} {'':<24} {dname:<5} {a:8.1f} {b:8.1f} {a / b:5.1f}x")


if __name__ == "__main__":
    main()
