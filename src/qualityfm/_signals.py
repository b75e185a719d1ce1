"""SIGTERM (a scheduler's stop) as an exception that unwinds, shared by the CLI and the
worker pools."""

from __future__ import annotations

import signal


class Terminated(SystemExit):
    """SIGTERM during a run: it unwinds as Ctrl-C does (``finally`` blocks run, files being
    written are left as temporaries a re-run removes) and ends the process with 143."""

    def __init__(self) -> None:
        super().__init__(128 + signal.SIGTERM)


def raise_terminated(signum: int, frame: object) -> None:
    """A SIGTERM handler: raise :class:`Terminated`."""
    raise Terminated()
