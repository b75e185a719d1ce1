"""The progress bar of long jobs (``prepare``, ``pretrain``), readable in a log file too."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tqdm import tqdm

#: Seconds between updates when stderr is not a terminal (a cluster job's log file): tqdm's
#: redraws, ten a second, would otherwise fill the log.
LOG_INTERVAL = 30.0


class _LogLines:
    """stderr for a bar written into a file: each redraw on a line of its own (tqdm's ``\r``
    redraws had piled up in one line of the log)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.started = False

    def write(self, text: str) -> int:
        text = text.replace("\r", "\n")
        if not self.started:  # no empty line before the first draw
            text = text.lstrip("\n")
            self.started = bool(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    @property
    def encoding(self) -> str | None:  # tqdm draws Unicode blocks where stderr takes them
        return getattr(self.stream, "encoding", None)


def on_terminal() -> bool:
    """Whether stderr is a terminal (a person watching), not a file or a pipe."""
    return hasattr(sys.stderr, "isatty") and sys.stderr.isatty()


def progress_bar(total: int, initial: int = 0, **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr; into a file, redrawn at most every :data:`LOG_INTERVAL` s, each
    time on a line of its own."""
    from tqdm import tqdm

    to_terminal = on_terminal()
    return tqdm(total=total, initial=initial,
                file=sys.stderr if to_terminal else _LogLines(sys.stderr),
                dynamic_ncols=to_terminal, mininterval=0.1 if to_terminal else LOG_INTERVAL,
                **kwargs)
