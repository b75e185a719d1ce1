"""The progress bar of long jobs (``prepare``, ``pretrain``), readable in a log file too."""

from __future__ import annotations

import sys
from typing import Any

#: Seconds between updates when stderr is not a terminal (a cluster job's log file): tqdm's
#: redraws, ten a second, would otherwise fill the log.
LOG_INTERVAL = 30.0


def progress_bar(total: int, initial: int = 0, **kwargs: Any):
    """A tqdm bar on stderr; redrawn at most every :data:`LOG_INTERVAL` s into a file."""
    from tqdm import tqdm

    to_terminal = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    return tqdm(total=total, initial=initial, file=sys.stderr, dynamic_ncols=to_terminal,
                mininterval=0.1 if to_terminal else LOG_INTERVAL, **kwargs)
