"""Seconds to load a pre-training checkpoint with its CRC check (``load_checkpoint``: every
entry read once more, so that a damaged byte is refused, not loaded) beside torch's own load
of the same file (no check) in the same run.

    .venv/bin/python benchmarks/checkpoint_load.py [--megabytes 400] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from qualityfm.cli.argtypes import positive_int
from qualityfm.train.checkpoint import load_checkpoint, save_checkpoint


def best_seconds(load, repeats: int) -> float:
    """The fastest of ``repeats`` calls of ``load`` (after one that warms the file cache)."""
    load()
    spent = []
    for _ in range(repeats):
        start = time.perf_counter()
        load()
        spent.append(time.perf_counter() - start)
    return min(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=positive_int, default=400)
    parser.add_argument("--repeats", type=positive_int, default=3)
    args = parser.parse_args()
    tensors = {f"w{i}": torch.randn(1 << 18) for i in range(args.megabytes)}  # 1 MB each
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "last.pt"
        save_checkpoint(path, {"step": 1, "teacher": tensors})
        checked = best_seconds(lambda: load_checkpoint(path), args.repeats)
        plain = best_seconds(lambda: torch.load(path, map_location="cpu", weights_only=True),
                             args.repeats)
        size = path.stat().st_size / 1e6
    print(json.dumps({"checkpoint_mb": round(size, 1), "load_checked_s": round(checked, 3),
                      "torch_load_s": round(plain, 3),
                      "checked_over_torch_load": round(checked / plain, 2)}))


if __name__ == "__main__":
    main()
