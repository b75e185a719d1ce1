"""Forward+backward time and peak memory of local vs dense windowed attention.

Each measurement runs in its own subprocess: it builds a ``WindowedAttention`` module (d=512,
4 heads, window 8, global token 0, batch 1) and its input, notes its peak RSS, runs one
forward+backward, and reports the rise in peak RSS (ru_maxrss) as the memory that pass needed;
then it times further passes (median). Dense attention is skipped where its L x L score tensors
are estimated to exceed ``--max-dense-gb``.

    .venv/bin/python benchmarks/attention_scaling.py [--lengths 1024 4096 16384] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


def measure(kernel: str, length: int, d: int, heads: int, window: int, reps: int) -> dict:
    """Run in a child process: peak-RSS rise of the first pass and median time of ``reps``."""
    import resource
    import statistics
    import time

    import torch

    from qualityfm.model import WindowedAttention

    torch.manual_seed(0)
    att = WindowedAttention(d, heads, window=window, global_tokens=(0,), kernel=kernel)
    att(torch.randn(1, 16, d, requires_grad=True)).sum().backward()  # load kernels, thread pools
    att.zero_grad()
    x = torch.randn(1, length, d, requires_grad=True)
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    att(x).square().mean().backward()
    first = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = [first]
    for _ in range(reps - 1):
        x.grad = None
        att.zero_grad()
        t0 = time.perf_counter()
        att(x).square().mean().backward()
        times.append(time.perf_counter() - t0)
    return {
        "kernel": kernel,
        "length": length,
        "seconds": statistics.median(times[1:] if len(times) > 1 else times),
        "peak_mb": (peak_kb - base_kb) / 1024.0,
    }


def run_child(args: argparse.Namespace, kernel: str, length: int) -> dict:
    call = f"{kernel!r}, {length}, {args.d}, {args.heads}, {args.window}, {args.reps}"
    code = (
        f"import json, sys, torch; torch.set_num_threads({args.threads}); "
        f"sys.path.insert(0, {sys.path[0]!r}); import attention_scaling as a; "
        f"print(json.dumps(a.measure({call})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{kernel} at L={length} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def dense_estimate_gb(length: int, heads: int) -> float:
    """About five float32 L x L tensors per head live at the peak of dense forward+backward."""
    return 5 * heads * length * length * 4 / 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096, 16384])
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-dense-gb", type=float, default=6.0)
    args = parser.parse_args(argv)

    rows: list[dict] = []
    print(f"{'kernel':>6} {'L':>6} {'fwd+bwd s':>10} {'peak MB':>9}")
    for length in args.lengths:
        for kernel in ("local", "dense"):
            if kernel == "dense" and dense_estimate_gb(length, args.heads) > args.max_dense_gb:
                est = dense_estimate_gb(length, args.heads)
                print(f"{kernel:>6} {length:>6}  skipped: needs about {est:.1f} GB "
                      f"(> --max-dense-gb {args.max_dense_gb})")
                continue
            row = run_child(args, kernel, length)
            rows.append(row)
            print(f"{kernel:>6} {length:>6} {row['seconds']:>10.4f} {row['peak_mb']:>9.1f}",
                  flush=True)

    by = {(r["kernel"], r["length"]): r for r in rows}
    print("\nratios (dense / local):")
    for length in args.lengths:
        if ("dense", length) in by:
            lo, de = by[("local", length)], by[("dense", length)]
            print(f"  L={length}: time x{de['seconds'] / lo['seconds']:.1f}, "
                  f"memory x{de['peak_mb'] / max(lo['peak_mb'], 1e-3):.1f}")
    local = [by[("local", n)] for n in args.lengths]
    print("local memory per 1k tokens (flat = linear in L): "
          + ", ".join(f"L={r['length']}: {1024 * r['peak_mb'] / r['length']:.1f} MB"
                      for r in local))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
