"""Shared fixtures. Helpers for tests live in ``tests/helpers.py`` (``from helpers import ...``)."""

from __future__ import annotations

import os

import torch

# Two cores are shared by the whole suite: keep torch from oversubscribing them. Under
# pytest-xdist (`make test`: one worker per core) each worker and the commands it starts get
# their share of the cores.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
_THREADS = max(1, min(2, (os.cpu_count() or 1) // _WORKERS))
if _WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(_THREADS))
torch.set_num_threads(_THREADS)
