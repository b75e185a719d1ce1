"""The finished records of a ``score`` or ``embed`` run, kept beside its output until the run
writes it: the same command run again after a stop reads them instead of the records (a run
over a folder of long stays had started over from its first record)."""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import shutil
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qualityfm import __version__
from qualityfm.data.prepare import record_stamp
from qualityfm.io.atomic import STALE_TEMPORARY_S, atomic_write, check_name_room
from qualityfm.quality.score import SCORING_VERSION
from qualityfm.signal import WindowConfig

if TYPE_CHECKING:  # (torch loads with a model only)
    from qualityfm.model import QualityFM

#: The end of the name of the hidden folder that holds a run's finished records.
RESULTS_SUFFIX = ".records"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def run_settings(verb: str, window: WindowConfig, model: QualityFM | None = None,
                 **more: object) -> dict[str, Any]:
    """What a run's results depend on: the verb, its windows, the model (its weights' digest,
    its config, the device it runs on), qualityfm's version and quality rules, and ``more``
    (precision, batch size, ...)."""
    held = None
    if model is not None:
        from qualityfm.model.precision import model_device
        from qualityfm.train.export import tensors_digest

        held = {"weights": tensors_digest(model.state_dict()),
                "config": dataclasses.asdict(model.cfg), "device": str(model_device(model))}
    return {"verb": verb, "window": dataclasses.asdict(window), "model": held,
            "version": __version__, "scoring": SCORING_VERSION,
            **{k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v
               for k, v in more.items()}}


class RecordResults:
    """Results of the records a run under ``settings`` finished, one ``.npz`` a record in a
    hidden folder beside ``out`` named by the settings' digest (another setting, model or
    qualityfm's scoring never reads them); a record whose files changed since (their sizes
    and times) is read again. An ``out`` whose folder's name would be too long is refused
    (ValueError)."""

    def __init__(self, out: Path, settings: dict[str, Any]) -> None:
        self.out = Path(out)
        key = _digest(json.dumps(settings, sort_keys=True, default=str))[:16]
        self.folder = self.out.parent / f".{self.out.name}.{key}{RESULTS_SUFFIX}"
        # before any record is read (an output name that fits had failed at the first record)
        check_name_room(self.folder, f"output {self.out}: its finished records' folder", 0)
        self.resumed = 0
        self._stamps: dict[str, str] = {}

    def _file(self, path: Path) -> Path:
        # the path as found (its spelling is in the rows) and the file it is
        named = json.dumps([str(Path(path)), str(Path(path).resolve())])
        return self.folder / f"{_digest(named)[:24]}.npz"

    def get(self, path: Path) -> dict[str, np.ndarray] | None:
        """The arrays saved for ``path`` by :meth:`put`, or None (none saved, of another
        version of the record, or damaged: the record is read)."""
        stamp = json.dumps(record_stamp(path))
        self._stamps[str(Path(path))] = stamp  # as read: what put records
        try:
            with np.load(self._file(path), allow_pickle=False) as saved:
                arrays = {k: saved[k] for k in saved.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):
            return None
        if str(arrays.pop("stamp", "")) != stamp:
            return None
        self.resumed += 1
        return arrays

    def put(self, path: Path, arrays: dict[str, np.ndarray]) -> None:
        """Save the arrays of the record ``path`` (read after :meth:`get` asked for it)."""
        stamp = self._stamps.pop(str(Path(path)), None) or json.dumps(record_stamp(path))
        for last in (False, True):  # (atomic_write makes the folder: a second run of the
            try:  # same settings on the same output that finishes removes it, maybe while
                atomic_write(self._file(path),  # this one writes: that had failed the run)
                             lambda f: np.savez(f, stamp=np.array(stamp), **arrays))
                return
            except FileNotFoundError:
                if last:
                    raise

    def finish(self) -> None:
        """Remove this run's folder, its output written, and those of runs under other
        settings untouched for :data:`STALE_TEMPORARY_S` (one may still be running)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        now = time.time()
        key = "[0-9a-f]" * 16  # (".s.csv.*" had matched s.csv.v2.csv's folder too)
        for other in self.out.parent.glob(f".{glob.escape(self.out.name)}.{key}{RESULTS_SUFFIX}"):
            try:
                old = now - other.stat().st_mtime > STALE_TEMPORARY_S
            except OSError:
                continue
            if old and other.is_dir():
                shutil.rmtree(other, ignore_errors=True)


def rows_array(rows: list[dict]) -> np.ndarray:
    """Table rows as the bytes of one JSON text (NaN kept), for :meth:`RecordResults.put`:
    a byte a character (as NumPy's str, four had made a record's rows 10 times its CSV's)."""
    return np.frombuffer(json.dumps(rows).encode(), np.uint8)


def rows_of(array: np.ndarray) -> list[dict]:
    """The rows :func:`rows_array` saved."""
    return json.loads(array.tobytes())
