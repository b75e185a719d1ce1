"""Atomic file writes, the one way every layer writes a file: a temporary file in the same
folder, flushed to disk, then renamed onto the target (a reader sees the old file or the new
one, never half of one), and the folder flushed too. A write stopped by an exception leaves no
temporary behind; one whose process was killed does, and :func:`remove_temporaries` clears
those on a later run (in a folder other runs may write, once they are an hour old)."""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import re
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

import numpy as np


def _umask() -> int:
    """The process umask: read from /proc where it exists (Linux), since setting it to read it
    back would race with other threads creating files."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_temporary(path: Path, write: Callable[[IO[bytes]], object]) -> Path:
    """``write(f)`` into a new temporary beside ``path``, flushed to disk, with the usual mode
    (0666 less the umask, not mkstemp's private 0600); removed again if ``write`` fails."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise named_write_error(err, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        stop = _stop_behind(err)
        if stop is not None:  # a Ctrl-C or SIGTERM that a writer turned into its own error
            raise stop from None
        fault = err if isinstance(err, OSError) else _behind(err, OSError)
        if fault is not None:  # a full disk, an I/O error (torch.save wraps it in its own
            raise named_write_error(fault, path) from err  # RuntimeError, "unexpected pos")
        raise
    return Path(tmp)


def named_write_error(err: OSError, path: Path) -> OSError:
    """``err``, of its own type, naming the file to write, not its temporary (or nothing, as
    numpy's "N requested and M written" on a full disk, which is then asked about)."""
    if err.errno is None:
        full = " (is its disk full?)" if "requested and" in str(err) else ""
        return type(err)(f"cannot write {path}: {err}{full}")
    return type(err)(err.errno, f"cannot write {path}: {err.strerror}")


def _stop_behind(err: BaseException) -> BaseException | None:
    """The Ctrl-C or SIGTERM (``KeyboardInterrupt``, ``SystemExit``) during whose handling
    ``err`` was raised, as torch.save raises "unexpected pos" when a signal stops its writer;
    None when there is none or ``err`` is itself one."""
    if isinstance(err, (KeyboardInterrupt, SystemExit)):
        return None
    return _behind(err, (KeyboardInterrupt, SystemExit))


def _behind(err: BaseException, kind: type | tuple[type, ...]) -> BaseException | None:
    """The first error of ``kind`` in ``err``'s chain of causes and contexts, or None."""
    seen = err.__cause__ or err.__context__
    while seen is not None:
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


#: Bytes the temporary of :func:`atomic_write` adds to a file's name (".NAME.XXXXXXXX.tmp").
TEMPORARY_NAME_EXTRA = 14


def check_name_room(path: str | Path, what: str, extra: int = TEMPORARY_NAME_EXTRA) -> None:
    """Refuse (ValueError) a file name that its folder's file system takes, but not with the
    ``extra`` bytes :func:`atomic_write`'s temporary adds (0: a folder made as named): such an
    output had failed at its write ("File name too long"), after the run's work."""
    path = Path(path)
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no such query here: the common limit
        limit = 255
    size = len(os.fsencode(path.name))
    if size + extra > limit:
        raise ValueError(f"{what} {path}: a name of {size} bytes; its folder takes names of "
                         f"{limit} at most"
                         + (f", and the temporary written first adds {extra}" if extra else "")
                         + ": give a shorter name")


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write(f)`` on a binary file object, then move the file onto ``path``."""
    return atomic_write_all({Path(path): write})[0]


def atomic_write_all(writes: Mapping[Path, Callable[[IO[bytes]], object]],
                     remove: Iterable[Path] = ()) -> list[Path]:
    """Write several files that belong together (a matrix and its index): every temporary is
    written before the first is moved onto its target, so a failed write leaves all the old
    files. Ctrl-C and SIGTERM wait until the renames are done (a stop between two had left a
    new matrix beside the old index), and the files of ``remove`` are gone (an earlier
    report's plot that the new one does not draw), where :func:`_signals_held` can hold them
    (the main thread; not a handler set outside Python); only SIGKILL or a power cut in that
    moment, or a rename that fails (a target that becomes a folder while they are written),
    can split them; a target that is a folder already is refused before any is written."""
    for path in writes:  # evaluate's plot named like a folder had left its report half made
        target = write_target(Path(path))  # (a link to a folder had split a pair)
        if target.is_dir():
            via = f" (it links to {target})" if target != Path(path) else ""
            raise IsADirectoryError(errno.EISDIR, f"cannot write {path}: it is a folder{via}")
    done: list[tuple[Path, Path]] = []
    try:
        for path, write in writes.items():
            target = write_target(Path(path))
            done.append((_write_temporary(target, write), target))
        replace_together(done, remove)
    except BaseException:
        for tmp, _ in done:
            tmp.unlink(missing_ok=True)
        raise
    return [Path(path) for path in writes]


def replace_together(moves: Sequence[tuple[Path, Path]], remove: Iterable[Path] = ()) -> None:
    """Rename each finished file of ``moves`` (``(file, target)``, the file flushed to disk and
    on the target's file system) onto its target, in order, as :func:`atomic_write_all` moves
    its temporaries: Ctrl-C and SIGTERM are held until every rename is done and the files of
    ``remove`` are gone (a stop held here is raised after the folders are flushed)."""
    with _signals_held():
        for tmp, path in moves:
            try:
                os.replace(tmp, path)
            except OSError as err:
                raise named_write_error(err, path) from err
        for path in remove:
            Path(path).unlink(missing_ok=True)
        for folder in dict.fromkeys(Path(path).parent for _, path in moves):
            _sync_folder(folder)


def sync_file(path: Path) -> None:
    """Flush a file another library wrote to disk (before :func:`replace_together`)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_target(path: Path) -> Path:
    """The file a write to ``path`` replaces: a link's target, where the link stays (a link
    replaced by the new file had left the file it points to holding the old contents). A
    link to nothing is written where it points if that folder exists; a loop of links, or a
    link into a missing folder, is refused (OSError)."""
    if not path.is_symlink():
        return path
    try:
        return Path(os.path.realpath(path, strict=True))
    except FileNotFoundError:
        target = Path(os.path.realpath(path))
        if not target.parent.is_dir():
            raise FileNotFoundError(f"cannot write {path}: it links to {target}, in a folder "
                                    "that does not exist") from None
        return target
    except OSError as err:  # a loop of links, a link through a file ("Not a directory")
        what = ("its links loop" if err.errno == errno.ELOOP else
                "cannot follow its link" if err.errno in (errno.EACCES, errno.EPERM) else
                "its link leads nowhere")
        raise OSError(f"cannot write {path}: {what} ({err.strerror or err})") from None


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM held back inside and raised again on leaving, each (a second one is
    not lost to the first's exception), where the process can: the main thread, which
    Python's handlers run in whichever thread the signal reaches (blocking the main thread's
    mask had let another thread take it). A signal whose handler was set outside Python is
    left alone; one set outside Python but recorded as Python's default (faulthandler's)
    is replaced by that default after the renames."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    before = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not None:
            before[sig] = signal.signal(sig, lambda number, _frame: caught.append(number))
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
        _raise_each(list(dict.fromkeys(caught)))


def _raise_each(numbers: list[int]) -> None:
    """Raise each signal of ``numbers`` in turn, the later ones even when an earlier one's
    handler raises (Ctrl-C, then SIGTERM: the process still ends as SIGTERM ends it)."""
    if numbers:
        try:
            signal.raise_signal(numbers[0])
        finally:
            _raise_each(numbers[1:])


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries to disk, so that a rename in it outlives a power cut (the file's
    data was flushed before); skipped where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # a filesystem that cannot sync a folder
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_write`)."""
    return atomic_write(path, lambda f: f.write(data))


def utf8_bytes(text: str) -> bytes:
    """``text`` as UTF-8, where the bytes of a file name that are not UTF-8 (which Python holds
    as surrogate escapes) are written as ``\\xNN`` escapes: the file stays valid UTF-8."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace").encode()


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically, as :func:`utf8_bytes`."""
    return atomic_write_bytes(path, utf8_bytes(text))


def numpy_scalar(obj: object) -> object:
    """``json.dumps(..., default=numpy_scalar)``: a NumPy scalar (``np.True_``, ``np.int64``,
    ``np.float32``) as its Python number, NaN kept; anything else refused as json refuses it."""
    if isinstance(obj, np.generic) and isinstance(obj.item(), (bool, int, float)):
        return obj.item()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def json_safe(obj: object) -> object:
    """``obj`` with arrays as lists, paths as strings and NaN or inf as None, as strict JSON
    allows."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def json_text(obj: object) -> str:
    """``obj`` as strict JSON text (:func:`json_safe`: NaN and inf as null), as
    :func:`write_json` writes it (for a JSON file written with others by
    :func:`atomic_write_all`)."""
    return json.dumps(json_safe(obj), indent=1) + "\n"


def write_json(path: str | Path, obj: object) -> Path:
    """Write ``obj`` as strict JSON (:func:`json_text`) to ``path``, atomically: every JSON
    file of the package is written so."""
    return atomic_write_text(path, json_text(obj))


def read_json(path: str | Path, what: str = "file", remedy: str = "") -> dict:
    """A JSON object from ``path``; a truncated, damaged or foreign one (not an object) is a
    ValueError naming the file, what it is and ``remedy``; a missing one FileNotFoundError."""
    try:
        obj = json.loads(Path(path).read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: truncated or damaged {what} ({err})"
                         + (f"; {remedy}" if remedy else "")) from err
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: no {what} (a JSON {type(obj).__name__}, not an object)"
                         + (f"; {remedy}" if remedy else ""))
    return obj


#: The age past which a temporary of :func:`atomic_write` is taken as a killed write's
#: leftover where another process may be writing the same file (its own write's, younger).
STALE_TEMPORARY_S = 3600.0


def remove_file_temporaries(path: str | Path) -> int:
    """:func:`remove_temporaries` of the file ``path`` (through a link, beside its target,
    where :func:`atomic_write` writes them) untouched for :data:`STALE_TEMPORARY_S`: a second
    run writing the same output (two ``score --out`` alike) had removed the first one's
    temporary before its rename, which then failed, the run's work lost."""
    target = write_target(Path(path))
    return remove_temporaries(target.parent, target.name, older_than_s=STALE_TEMPORARY_S)


def remove_temporaries(folder: str | Path, name: str | None = None,
                       older_than_s: float | None = None,
                       of: re.Pattern[str] | None = None) -> int:
    """Remove the temporaries of :func:`atomic_write` left in ``folder`` by a process killed
    mid-write (SIGKILL, power loss: nothing can clean up then), or only those of the file
    ``name``; returns how many. Call it only where no other process is writing into
    ``folder`` (or that file), or with ``older_than_s``: only temporaries untouched for that
    long go, and one that cannot be removed stays (a folder other processes or users share,
    such as a task cache: a clean-up by the way, never a bar to the write); ``of``: only the
    temporaries of files whose names it matches (a user's folder may hold ``.notes.v2.tmp``)."""
    removed = 0
    now = time.time()
    for f in Path(folder).glob(".*.tmp" if name is None else f".{glob.escape(name)}.*.tmp"):
        match = _TEMPORARY.match(f.name)
        if not match or of is not None and not of.fullmatch(match.group(1)):
            continue  # ".NAME.RANDOM.tmp" only: a file of the user's such as ".draft.tmp" stays
        try:
            if older_than_s is not None and (not f.is_file()
                                             or now - f.stat().st_mtime < older_than_s):
                continue  # (a shared folder's: another's, or no file of a write)
            f.unlink()
            removed += 1
        except FileNotFoundError:  # another process's, gone meanwhile
            continue
        except OSError:
            if older_than_s is None:  # a folder of one's own: said
                raise
    return removed


#: The name of an :func:`atomic_write` temporary: "." + the file's name + "." + mkstemp's
#: random characters + ".tmp".
_TEMPORARY = re.compile(r"^\.(.+)\.[a-z0-9_]+\.tmp$")
