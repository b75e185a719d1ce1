"""Pairs/s of the pre-training DataLoader alone, by number of workers (batches moved to the
training device), for the paper recipe (natural pairs) and the default one (half of them
aligned pairs corrupted on the fly).

Use a store with many pairs: with a small one every epoch ends after a few batches and the
workers restart, which measures their start-up instead. ``--synthetic N`` writes one of N x 100
synthetic windows with the tests' store writer (tests/train/conftest.py) first.

    python benchmarks/loader_throughput.py --store STORE [--workers 0 4 8] [--device cuda]
    python benchmarks/loader_throughput.py --synthetic 40 --store /tmp/syn_store
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from qualityfm.cli.argtypes import int_at_least, positive_int
from qualityfm.train import PretrainConfig
from qualityfm.train.engine import (
    DistEnv,
    check_store_pairs,
    make_dataset,
    make_loader,
    store_feature_targets,
)


def rate(store: str, recipe: str, workers: int, batch: int, n_batches: int,
         device: torch.device) -> float:
    """Pairs/s over ``n_batches`` batches after the first (workers started, first batch in)."""
    try:  # as pretrain does: a store of fewer pairs than a batch had ended in StopIteration
        check_store_pairs(store, batch)
    except ValueError as exc:
        raise SystemExit(f"loader_throughput: {exc}") from None
    cfg = PretrainConfig.for_recipe(recipe, store=store, batch_size=batch)
    env = DistEnv(0, 1, 0, device)
    targets = store_feature_targets(store, env) if cfg.feature_weight > 0 else None
    loader = make_loader(make_dataset(cfg, env, batch, targets), workers)
    batches = iter(loader)
    t0 = 0.0
    for i in range(n_batches + 1):
        try:
            batch_ = next(batches)
        except StopIteration:  # a small store's epoch ends: the workers start again
            batches = iter(loader)
            batch_ = next(batches)
        for v in batch_.values():
            v.to(device, non_blocking=True)
        if i == 0:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * n_batches / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", required=True, help="prepared store to read")
    ap.add_argument("--synthetic", type=int_at_least(0), default=0,
                    help="first write a synthetic store of N records x 100 windows at --store")
    ap.add_argument("--workers", type=int_at_least(0), nargs="+", default=[0, 4, 8, 14],
                    help="DataLoader worker counts to measure (default 0 4 8 14)")
    ap.add_argument("--batch-size", type=positive_int, default=256,
                    help="pairs per batch (default 256)")
    ap.add_argument("--batches", type=positive_int, default=20,
                    help="timed batches after the first (default 20)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                    help="where batches are moved (default cuda when present, else cpu)")
    args = ap.parse_args()
    if args.synthetic:  # into a new or empty folder only (it had replaced a prepared store)
        store = Path(args.store)
        if store.exists() and (not store.is_dir() or any(store.iterdir())):
            ap.error(f"--synthetic writes a new store: --store {store} exists and is not an "
                     "empty folder")
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "train"))
        from conftest import write_synthetic_store

        write_synthetic_store(Path(args.store), n_records=args.synthetic, per_record=100)
    device = torch.device(args.device)
    for recipe in ("paper", "default"):
        for workers in args.workers:
            r = rate(args.store, recipe, workers, args.batch_size, args.batches, device)
            print(f"{recipe} recipe, {workers:2d} workers: {r:8.0f} pairs/s", flush=True)


if __name__ == "__main__":
    main()
