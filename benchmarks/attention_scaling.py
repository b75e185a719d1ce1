"""Forward+backward time and peak memory of the windowed-attention kernels (local, dense, flex).

Each measurement (on CPU in its own subprocess) builds a ``WindowedAttention`` module (d=512,
4 heads, window 8, global token 0, batch 1) and its input, runs one forward+backward and
reports the memory that pass needed (CPU: rise of peak RSS; CUDA: peak allocated memory), then
times further passes (median). Dense attention is skipped where its L x L score tensors are
estimated to exceed ``--max-dense-gb``.

    .venv/bin/python benchmarks/attention_scaling.py [--lengths 1024 4096 16384] [--threads 2]
    python benchmarks/attention_scaling.py --device cuda --kernels flex local dense
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from qualityfm.cli.argtypes import int_at_least, positive_int


def measure(kernel: str, length: int, d: int, heads: int, window: int, reps: int,
            device: str = "cpu") -> dict:
    """Run in a child process: memory of one pass and median time of ``reps`` passes after
    it (the first, cold, is never timed; before session 42 ``reps - 1`` were).

    CPU: the rise of peak RSS (ru_maxrss) over the first pass. CUDA: the peak of allocated
    memory over a pass after a warm-up pass at the same length (which compiles FlexAttention),
    above what was allocated before it; times are taken after ``torch.cuda.synchronize``.
    """
    import resource
    import statistics
    import time

    import torch

    from qualityfm.model import WindowedAttention

    cuda = device.startswith("cuda")

    def tick() -> float:
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    torch.manual_seed(0)
    att = WindowedAttention(d, heads, window=window, global_tokens=(0,), kernel=kernel).to(device)
    att(torch.randn(1, 16, d, device=device, requires_grad=True)).sum().backward()  # load kernels
    att.zero_grad()
    x = torch.randn(1, length, d, device=device, requires_grad=True)
    if cuda:
        att(x).square().mean().backward()
        x.grad = None
        att.zero_grad()
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    att(x).square().mean().backward()  # the memory pass, untimed
    if cuda:
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    times = []
    for _ in range(reps):
        x.grad = None
        att.zero_grad()
        t0 = tick()
        att(x).square().mean().backward()
        times.append(tick() - t0)
    return {
        "kernel": kernel,
        "length": length,
        "seconds": statistics.median(times),
        "peak_mb": (peak - base) / 2**20,
    }


def run_child(args: argparse.Namespace, kernel: str, length: int) -> dict:
    """``measure`` in a fresh process (CPU: peak RSS is per process), in this one on CUDA."""
    if args.device.startswith("cuda"):
        return measure(kernel, length, args.d, args.heads, args.window, args.reps, args.device)
    call = (f"{kernel!r}, {length}, {args.d}, {args.heads}, {args.window}, {args.reps}, "
            f"{args.device!r}")
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=positive_int, nargs="+", default=[1024, 4096, 16384],
                        help="sequence lengths in tokens (default 1024 4096 16384)")
    parser.add_argument("--d", type=positive_int, default=512, help="model width (default 512)")
    parser.add_argument("--heads", type=positive_int, default=4, help="attention heads (default 4)")
    parser.add_argument("--window", type=int_at_least(0), default=8,
                        help="attention window in tokens: a token attends to window // 2 "
                             "on each side (default 8: 4 each side)")
    parser.add_argument("--reps", type=positive_int, default=3,
                        help="timed passes after the first; the median is printed (default 3)")
    parser.add_argument("--threads", type=positive_int, default=2,
                        help="torch threads on CPU (default 2)")
    parser.add_argument("--max-dense-gb", type=float, default=6.0,
                        help="skip dense attention where its estimated memory passes this "
                        "(default 6)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--kernels", nargs="+", default=["local", "dense"],
                        choices=("local", "dense", "flex"),
                        help="kernels to time (flex trains on CUDA only); the first is the "
                        "one the ratios divide by")
    args = parser.parse_args(argv)
    if "flex" in args.kernels and not args.device.startswith("cuda"):
        parser.error(f"--kernels flex on --device {args.device}: FlexAttention has no "
                     "backward pass on CPU (time it with --device cuda)")

    rows: list[dict] = []
    print(f"device {args.device}; {'kernel':>6} {'L':>6} {'fwd+bwd s':>10} {'peak MB':>9}")
    for length in args.lengths:
        for kernel in args.kernels:
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
    ref = args.kernels[0]
    for other in args.kernels[1:]:
        print(f"\nratios ({other} / {ref}):")
        for length in args.lengths:
            if (other, length) in by and (ref, length) in by:
                a, b = by[(ref, length)], by[(other, length)]
                print(f"  L={length}: time x{b['seconds'] / a['seconds']:.1f}, "
                      f"memory x{b['peak_mb'] / max(a['peak_mb'], 1e-3):.1f}")
    for kernel in args.kernels:
        measured = [by[(kernel, n)] for n in args.lengths if (kernel, n) in by]
        print(f"{kernel} memory per 1k tokens (flat = linear in L): "
              + ", ".join(f"L={r['length']}: {1024 * r['peak_mb'] / r['length']:.1f} MB"
                          for r in measured))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
