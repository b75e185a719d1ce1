"""Atomic checkpoints and the random-number state they carry, for exact resumption."""

from __future__ import annotations

import random
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qualityfm.io.atomic import atomic_write

__all__ = ["CHECKPOINT_NAME", "load_checkpoint", "rng_state", "save_checkpoint",
           "set_rng_state"]

CHECKPOINT_NAME = "last.pt"


def rng_state() -> dict[str, Any]:
    """The python, numpy, torch (and CUDA, when used) generator states of this process."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),  # noqa: NPY002 - legacy global state used by others
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the Python, NumPy and torch generators a checkpoint saved."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Save a checkpoint dict atomically (see ``engine`` for its keys; a fine-tuning run's
    epochs too)."""
    atomic_write(Path(path), lambda f: torch.save(state, f))


#: What every pre-training checkpoint holds (``pretrain`` writes them all; a resume reads them).
CHECKPOINT_KEYS = ("step", "teacher", "student", "optimizer", "objective", "config",
                   "model_config", "data", "rng")


def _numpy_globals() -> list:
    """What the NumPy values of a checkpoint (a generator's state, a scalar in a history)
    unpickle through: arrays, scalars and their dtypes, and no other callable; the array and
    scalar builders under both of their names, NumPy 1's ``numpy.core`` and NumPy 2's
    ``numpy._core``, so that a run resumes under the other NumPy."""
    kinds = (np.uint32, np.int64, np.int32, np.float64, np.float32, np.bool_)
    builders = [(np.zeros(1).__reduce__()[0], "_reconstruct"),
                (np.float64(0).__reduce__()[0], "scalar")]
    return [np.ndarray, np.dtype, *{type(np.dtype(k)) for k in kinds},
            *((fn, f"numpy.{core}.multiarray.{name}") for fn, name in builders
              for core in ("core", "_core"))]


def load_state(path: Path, map_location: str | torch.device) -> Any:
    """A file ``torch.save`` wrote, read with ``weights_only``: tensors, containers, numbers
    and NumPy arrays only, so that a crafted checkpoint in a run folder runs no code (one
    read with pickle's whole power had run a shell command before its refusal). A file whose
    entries fail their CRC checks (damaged on disk or in a copy) is a ``zipfile.BadZipFile``
    naming the entry: torch reads them unchecked (a weight of -0.15 had loaded as 1000). An
    entry of CRC 0 is not checked (torch saves so with ``compute_crc32`` off)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for entry in archive.infolist():
                if entry.CRC == 0:
                    continue
                try:
                    with archive.open(entry) as f:
                        while f.read(1 << 24):
                            pass
                except zipfile.BadZipFile as err:
                    raise zipfile.BadZipFile(f"its entry {entry.filename} fails its CRC check: "
                                             "damaged on disk") from err
    with torch.serialization.safe_globals(_numpy_globals()):
        return torch.load(path, map_location=map_location, weights_only=True)


def load_checkpoint(path: Path, needs: Sequence[str] = ()) -> dict[str, Any]:
    """Load a checkpoint onto the CPU; raise a clear error when it is missing, unreadable or
    lacks one of ``needs`` (what the caller reads: :data:`CHECKPOINT_KEYS` to resume a
    pre-training run)."""
    path = Path(path)
    if not path.parent.is_dir():  # a run folder mistyped: said as such
        raise FileNotFoundError(f"no run folder {path.parent} (no checkpoint at {path})")
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = load_state(path, "cpu")
    except Exception as err:  # truncated or foreign file
        why = ("an empty file" if path.stat().st_size == 0
               else f"no file torch.save writes (KeyError {err})"
               if isinstance(err, KeyError)  # (torch's bare KeyError(101) had said "101")
               else str(err) or type(err).__name__)
        raise ValueError(f"{path}: not a readable qualityfm checkpoint ({why}): put the run's "
                         "own back (pretrain --overwrite starts the run over)") from err
    missing = [k for k in needs if not isinstance(state, dict) or k not in state]
    if missing:
        raise ValueError(f"{path}: not a qualityfm pre-training checkpoint (no "
                         f"{', '.join(missing)})")
    return state
