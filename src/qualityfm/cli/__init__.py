"""The ``qualityfm`` command line. Each verb lives in its own module of this package.

A verb module defines ``register(subparsers)``, which adds its parser and sets
``func=run``; ``run(args) -> int`` does the work by calling one function of a layer below.
Heavy imports (torch) happen inside ``run`` so that ``qualityfm --help`` stays fast.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import re
import signal
import sys
import threading
import warnings
from collections.abc import Callable

from qualityfm import __version__
from qualityfm._signals import Terminated, raise_terminated
from qualityfm.cli.argtypes import UsageError

VERBS = (
    "prepare", "info", "presets", "pretrain", "export",
    "finetune", "evaluate", "predict", "compare", "score", "embed", "demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qualityfm",
        description="QualityFM: signal-quality-aware foundation model for ICU PPG and ECG.",
    )
    parser.add_argument("--version", action="version", version=f"qualityfm {__version__}")
    # no abbreviations: evaluate's --mode (finetune's option) had been read as --model
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=functools.partial(
        argparse.ArgumentParser, allow_abbrev=False))
    for verb in VERBS:
        try:
            module = importlib.import_module(f"qualityfm.cli.{verb}")
        except ModuleNotFoundError as err:  # a verb not built yet in this checkout
            if err.name != f"qualityfm.cli.{verb}":
                raise
            continue
        module.register(sub)
    return parser


#: (attribute, as the command line names it) of every argument that names a file or folder.
_PATH_ARGS = (("out", "--out"), ("cache", "--cache"), ("data", "--data"), ("model", "--model"),
              ("store", "the store"), ("config", "--config"), ("init", "--init"),
              ("inputs", "an input"), ("run", "the run"), ("models", "--models"))


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()  # imports every verb module: a Ctrl-C may land here
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        print("qualityfm: interrupted", file=sys.stderr)
        return 130
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    previous = _sigterm_interrupts(args.verb)
    shown = warnings.formatwarning
    warnings.formatwarning = _warning_line(args.verb)
    try:
        for name, flag in _PATH_ARGS:  # (empty, they had meant the working folder: a store
            # or a task cache written into it, records read from it; --model "" no model)
            value = getattr(args, name, None)
            if name == "store" and args.verb == "pretrain":
                flag = "--store"  # (info's is its argument)
            for item in value if isinstance(value, list) else [value]:
                if not isinstance(item, str):
                    continue
                if name == "models":  # NAME=DIR, parted as compare parts it
                    from qualityfm.tasks.pipeline import model_spec

                    path = model_spec(item)[1]
                else:
                    path = item
                if not path.strip():  # NAME= too: its DIR
                    raise UsageError(f"{flag} {item!r} gives no file or folder" if item.strip()
                                     else f"{flag} is empty: give a file or folder")
        code = int(args.func(args) or 0)
        if sys.stdout is not None:  # (None: started with stdout closed, `>&-`)
            sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:  # `qualityfm info STORE | head -1`: stop quietly, as Unix tools do
        _drop_stdout()
        return 128 + 13  # the status of a process ended by SIGPIPE
    except UsageError as err:  # an option the verb needs: a usage error, as argparse's
        print(f"qualityfm {args.verb}: error: {err}", file=sys.stderr)
        return 2
    except (OSError, ValueError, ImportError, FloatingPointError) as err:
        # OSError: a file that cannot be read or written (named by the error); ImportError: an
        # optional reader the input needs (h5py), named with the file and the extra to
        # install; FloatingPointError: a computation that diverged (pre-training's checks
        # raise it with what to do)
        print(f"qualityfm {args.verb}: error{_rank_tag()}: {err}", file=sys.stderr)
        return 1
    except (MemoryError, RuntimeError) as err:
        # out of memory (torch's "can't allocate memory", CUDA's "out of memory", NumPy's
        # MemoryError): one line saying so, as for the errors above (it had been a traceback);
        # any other RuntimeError is a fault of ours and keeps its traceback
        text = str(err)
        if not isinstance(err, MemoryError) and not _OUT_OF_MEMORY.search(text):
            raise
        print(f"qualityfm {args.verb}: error{_rank_tag()}: out of memory "
              f"({text.splitlines()[0] if text else type(err).__name__}); use a smaller "
              "batch size, model or window", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # journals and checkpoints make a re-run resume
        print(f"qualityfm {args.verb}: interrupted", file=sys.stderr)
        return 130
    except Terminated as err:  # SIGTERM, raised by _sigterm_interrupts' or a pool's handler
        print(f"qualityfm {args.verb}: interrupted (SIGTERM)", file=sys.stderr)
        return int(err.code)
    finally:
        warnings.formatwarning = shown
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


#: The messages of torch's allocation failures (CPU and CUDA).
_OUT_OF_MEMORY = re.compile(r"can't allocate memory|out of memory", re.IGNORECASE)


def _sigterm_interrupts(verb: str) -> signal.Handlers | Callable | None:
    """Make SIGTERM raise :class:`Terminated` in the main thread, so that a verb stopped by a
    scheduler unwinds and says so; the previous handler, or None where none was set.
    ``pretrain``'s training loop keeps its own rule over it (its step finishes, a checkpoint
    is written; a second SIGTERM ends it as the system does), while its set-up, which had
    died without a word, stops so; a SIGTERM ignored by the caller stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        return None
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_IGN, None):
        return None
    return signal.signal(signal.SIGTERM, raise_terminated)


def _warning_line(verb: str) -> Callable[..., str]:
    """How a verb shows a warning: ``qualityfm VERB: warning: ...`` as its other messages,
    not Python's ``FILE:LINE: UserWarning: ...`` with a line of the console script."""

    def line(message: Warning | str, category: type[Warning], *args: object,
             **kwargs: object) -> str:
        kind = "" if category in (UserWarning, RuntimeWarning) else f" ({category.__name__})"
        return f"qualityfm {verb}: warning{kind}{_rank_tag()}: {message}\n"

    return line


def _rank_tag() -> str:
    """" (rank R of N)" under torchrun with several processes, so that the same refusal
    printed by every rank reads as one per process, and a rank's own one is told apart."""
    world, rank = os.environ.get("WORLD_SIZE", "1"), os.environ.get("RANK", "0")
    return f" (rank {rank} of {world})" if world.isdigit() and int(world) > 1 else ""


def _drop_stdout() -> None:
    """Point stdout at the null device, so that flushing it at exit raises no second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no file (captured by a test)
        pass


if __name__ == "__main__":
    raise SystemExit(main())
