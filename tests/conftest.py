"""Shared fixtures. Helpers for tests live in ``tests/helpers.py`` (``from helpers import ...``)."""

from __future__ import annotations

import os

import torch

# Two cores are shared by the whole suite: keep torch from oversubscribing them.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
