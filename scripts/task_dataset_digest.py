"""A digest of each clinical task's dataset, to tell whether a change moved the figures.

    .venv/bin/python scripts/task_dataset_digest.py [DATA_DIR]

Builds the vt-alarm and abp datasets of physionet2015_vt and the af dataset of cinc2017_af
under DATA_DIR (default ../shared/data) with ``build_task_dataset`` (no cache) and prints
each one's shape and a SHA-1 of its windows, features, labels (and af's rhythms). Two
versions of the code whose digests agree build the same rows; the fits on them are seeded,
so their figures agree too. af takes a few minutes.
"""

from __future__ import annotations

import hashlib
import sys
import warnings
from pathlib import Path

import numpy as np

from qualityfm.tasks import build_task_dataset


def digest(task: str, folder: Path) -> str:
    """``task``'s dataset of ``folder``: its windows' shape and the SHA-1 of its contents."""
    ds = build_task_dataset(task, folder)
    h = hashlib.sha1(np.ascontiguousarray(ds.X).tobytes())
    h.update(np.nan_to_num(np.asarray(ds.features, dtype=np.float64)).tobytes())
    h.update(np.asarray(ds.y).tobytes())
    if ds.rhythm is not None:
        h.update(np.asarray(ds.rhythm).tobytes())
    return f"{task} {tuple(ds.X.shape)} {h.hexdigest()}"


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data")
    warnings.simplefilter("ignore")  # the records' own warnings: not what is compared
    for task, folder in (("vt-alarm", "physionet2015_vt"), ("abp", "physionet2015_vt"),
                         ("af", "cinc2017_af")):
        print(digest(task, data / folder), flush=True)


if __name__ == "__main__":
    main()
