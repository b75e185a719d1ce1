"""What a folder written by qualityfm holds, told by the files each verb writes there, so that
one verb never writes its files over another's (a fine-tune into a pre-training run, an
export over the run it reads)."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from qualityfm._caller import warn_at_caller

#: The file that marks a folder as a demo report (``qualityfm demo``'s --out).
DEMO_MARKER = ".qualityfm-demo"

#: (kind, the files that mark it), in the order they are looked for.
FOLDER_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # first: a demo report holds a summary.json too (pretrain had called it a run to
    # --resume, and written over its summary)
    ("demo report", (DEMO_MARKER,)),
    ("pre-training run", ("last.pt", "log.jsonl")),
    ("fine-tuned run", ("finetune.json",)),
    ("cross-validation report", ("cv.json",)),
    ("comparison", ("compare.json",)),
    ("model folder", ("model.safetensors",)),
    ("fine-tuned ONNX export", ("model.onnx",)),
    ("prepared store", ("meta.json",)),
)


def refuse_file_for_folder(path: str | Path, what: str) -> None:
    """Refuse (ValueError) a file given where ``what`` (a run, a store, a model folder) is a
    folder: the folder that holds it is named with what it holds, where it holds ours
    (``RUN/last.pt`` had read as "no checkpoint at RUN/last.pt/last.pt"; a demo report's file
    had pointed at the report as the store asked for)."""
    if Path(path).is_file():
        found = folder_kind(Path(path).parent)
        held = f" (the folder that holds it, {Path(path).parent}, is a {found[0]})" if found \
            else ""
        raise ValueError(f"{path} is a file; {what} is a folder{held}")


def folder_kind(path: str | Path) -> tuple[str, str] | None:
    """``(kind, marker file)`` of what ``path`` holds, or None (no folder, or none of ours). A
    ``meta.json`` marks a store only beside a store's arrays (:func:`holds_store_arrays`: a
    user's own results folder had been called a prepared store)."""
    for kind, markers in FOLDER_KINDS:
        for marker in markers:
            if (Path(path) / marker).is_file() and (
                    marker != "meta.json" or holds_store_arrays(path)):
                return kind, marker
    part = _store_part(path)  # a store of --shard K/N parts: no meta.json of its own (an
    if part is not None:  # export or run had been written among its parts, and the next
        return "prepared store", part  # prepare --shard of the store then refused)
    return None


#: A part's folder of a store prepared with ``--shard K/N`` (as data.store's ``part_name``
#: writes it).
STORE_PART = re.compile(r"^part-(0|[1-9]\d*)-of-([1-9]\d*)$")


def _store_part(path: str | Path) -> str | None:
    """The first ``part-K-of-N`` folder of a store's parts that ``path`` holds, or None."""
    try:
        parts = sorted(p.name for p in Path(path).iterdir() if STORE_PART.match(p.name)
                       and ((p / "meta.json").is_file() or holds_store_arrays(p)))
    except OSError:  # no folder, or none we may read
        return None
    return parts[0] if parts else None


def holds_store_arrays(path: str | Path) -> bool:
    """Whether ``path`` holds the arrays ``qualityfm prepare`` writes (``pairs.npy``, the
    shards' ``shard-NNNNNN.*.npy``; data.store)."""
    path = Path(path)
    return (path / "pairs.npy").is_file() or next(path.glob("shard-*.npy"), None) is not None


def held_there(path: str | Path) -> str:
    """"; PATH holds a KIND (MARKER)" for a message naming what a folder given for another
    kind holds (a store given as a model), or "" when it holds none of ours."""
    found = folder_kind(path)
    return f"; {path} holds a {found[0]} ({found[1]})" if found is not None else ""


def refuse_other_kind(path: str | Path, allowed: tuple[str, ...], flag: str = "--out") -> None:
    """Refuse (ValueError) a ``path`` that holds something of a kind not in ``allowed``."""
    found = folder_kind(path)
    if found is not None and found[0] not in allowed:
        raise ValueError(f"{flag} {path} holds a {found[0]} ({found[1]}): write to a folder of "
                         "its own")


def refuse_records_there(path: str | Path, flag: str = "--out") -> None:
    """Refuse (ValueError) an output folder that holds records, in it or below, as
    ``find_records`` lists them (an export's own ``*.examples.npz`` aside): the files written
    there would lie among them (export's examples had been read as a bad record by the next
    score of that folder)."""
    from qualityfm.io.read import find_records

    folder = Path(path)
    if not folder.is_dir():
        return
    # record files only: a folder it cannot open (a volume's root-only lost+found) had been
    # named as a record
    found = [p for p in find_records(folder)
             if not p.is_dir() and not p.name.endswith(".examples.npz")]
    if found:
        first = found[0].relative_to(folder) if found[0].is_relative_to(folder) else found[0]
        raise ValueError(f"{flag} {path} holds records ({first}"
                         f"{f' and {len(found) - 1} more' if len(found) > 1 else ''}): write to "
                         "a folder of its own")


def check_writable_folder(path: str | Path, what: str) -> None:
    """Refuse (ValueError, naming ``what``: "--out RUN", "score output X") a folder that
    cannot be made or written in: ``path`` or the nearest of its parents that exists is a
    file, or may not be written by this user. Checked before the work, not at its end."""
    folder = Path(path).absolute()
    while not os.path.lexists(folder) and folder != folder.parent:  # made at the write
        folder = folder.parent
    if folder.is_symlink() and not folder.exists():
        raise ValueError(f"{what}: {folder} is a link to nothing")
    if not folder.is_dir():
        raise ValueError(f"{what}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{what}: cannot write in {folder}")


#: Other files of those folders that verbs read back (a run's settings and config, a card).
READ_BACK = ("summary.json", "config.json", "model.json")


def refuse_reserved_name(path: str | Path, flag: str = "--out") -> None:
    """Refuse (ValueError) an output file named like a file of the qualityfm folder it lies
    in (``RUN/finetune.json``, ``RUN/summary.json``...), which it would replace, or like the
    file that marks such a folder (``cv.json``, ``meta.json``...) in any folder, which it
    would make one (every later verb had then misread the folder)."""
    path = Path(path)
    markers = {m for _, held in FOLDER_KINDS for m in held}
    found = folder_kind(path.parent)
    if found is not None and path.name in markers | set(READ_BACK):
        raise ValueError(f"{flag} {path}: {path.parent} holds a {found[0]}, whose {path.name} "
                         "this would replace; give the output another name")
    if path.name in markers:
        kind = next(k for k, held in FOLDER_KINDS if path.name in held)
        raise ValueError(f"{flag} {path}: {path.name} marks a folder as a qualityfm {kind}, "
                         "which this file would make of it; give the output another name")


#: File descriptors of the folder locks this process holds (see :func:`_let_go_in_child`).
_HELD_LOCKS: set[int] = set()


def _let_go_in_child() -> None:
    """In a process just forked (a DataLoader or pool worker): point the descriptors of the
    parent's folder locks at /dev/null, so that a lock ends with the process that took it.
    A worker had held its copy until it noticed its parent gone (about 5 s after a kill -9),
    and a relaunch in that time was refused as if the run still wrote there."""
    if not _HELD_LOCKS:
        return
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        for fd in _HELD_LOCKS:  # dup2, not close: the number stays valid for the file object
            os.dup2(null, fd)
    finally:
        os.close(null)
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_let_go_in_child)


@contextlib.contextmanager
def folder_lock(folder: str | Path, verb: str, flag: str = "--out") -> Iterator[None]:
    """Hold ``folder/.lock`` while ``verb`` writes there: a second launch on the folder (a job
    requeued while the first still runs) is refused, instead of removing or mixing the first
    one's files as they are written. The lock ends with the process, however it ends (the
    processes it forks do not hold it)."""
    try:
        import fcntl
    except ImportError:  # not on this system: unguarded
        yield
        return
    with (Path(folder) / ".lock").open("a") as handle:
        _HELD_LOCKS.add(handle.fileno())  # before the lock: a fork while it is taken lets go
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ValueError(f"{folder}: another {verb} is writing there (it holds "
                                 f"{Path(folder) / '.lock'}); wait for it to end, or give "
                                 f"another {flag}") from None
            except OSError as err:  # a filesystem without flock (Lustre without -o flock, NFS)
                warn_at_caller(f"{folder}: cannot lock the folder ({err}); a second launch on "
                               "it would not be refused", RuntimeWarning)
            yield
        finally:
            _HELD_LOCKS.discard(handle.fileno())


def check_out_apart(out: str | os.PathLike, inputs: Sequence[str | os.PathLike], kind: str,
                    *, hidden_ok: bool = False, may_hold: bool = False,
                    file: bool = False) -> None:
    """Refuse an output folder (a ``kind`` such as "store", "run" or "cache"; with ``file``,
    an output file) that is an input folder or lies where the readers look in one: inside it
    as resolved, as named (up to its last ``..``, :func:`as_walked`), or inside a folder a
    link under it leads to (a folder of links to datasets elsewhere); its files would land
    among the records, and a later run could read them as records. Unless ``may_hold``, an
    output holding an input is refused too; with ``hidden_ok``, a folder or file hidden
    inside an input (no reader looks there) is not."""
    target = Path(out)
    what = f"the {kind}" if file else f"the {kind} folder"
    for inp in inputs:
        src = Path(inp)
        if not src.exists():  # its reader names it
            continue
        places = [(target.resolve(), src.resolve(), ""), (as_walked(target), as_walked(src), ""),
                  *((target.resolve(), linked, f"{linked}, a folder linked from ")
                    for linked in linked_folders(src))] if src.is_dir() else []
        for where, root, via in places:
            if not where.is_relative_to(root) or (hidden_ok and any(
                    part.startswith(".") for part in where.relative_to(root).parts)):
                continue
            verb = "is" if where == root else "is inside"
            hidden = (f", or into a hidden folder in it ({src / ('.' + kind)})"
                      + (" or under a hidden name" if file else "") if hidden_ok else "")
            lies = "it would lie" if file else "its files would lie"
            raise ValueError(f"{out}: {what} {verb} {via}the input folder {inp}, where {lies} "
                             f"among the records; write the {kind} into a folder outside the "
                             f"inputs{hidden}")
        if not may_hold and not file and src.resolve().is_relative_to(target.resolve()):
            raise ValueError(f"{out}: the {kind} folder holds the input {inp}; write the "
                             f"{kind} into a folder outside the inputs")


def as_walked(path: str | os.PathLike) -> Path:
    """``path`` absolute as a folder walk names it: up to its last ``..`` resolved (a ``..``
    after a link leaves the link's target), the names after it kept (links among them are
    walked by their own names)."""
    full = Path.cwd() / path  # an absolute path stays as it is
    parts = full.parts
    if ".." not in parts:
        return full
    last = len(parts) - parts[::-1].index("..")
    return Path(*parts[:last]).resolve().joinpath(*parts[last:])


def _walk(folder: str | Path) -> Iterator[tuple[Path, list[Path] | None, list[Path]]]:
    """Each folder under ``folder`` as the readers look in it: (its path, the entries in it
    that are no folder, or None where it cannot be listed or entered (no permission;
    ``folder`` itself when missing), the folders in it), sorted; folders that are links are
    looked in too, after the real ones, and each real folder once (a link loop ends); hidden
    entries (``.git``, a writer's temporary folder) are left out."""
    seen: set[Path] = set()
    todo, linked = [Path(folder)], []
    while todo or linked:
        here = todo.pop() if todo else linked.pop(0)
        try:
            real = here.resolve()
            if real in seen:
                continue
            seen.add(real)
        except (OSError, RuntimeError):  # a link loop resolve() gives up on
            continue
        try:
            entries = sorted(os.scandir(here), key=lambda e: e.name)
        except OSError:  # no permission to list it (or gone)
            yield here, None, []
            continue
        if not os.access(here, os.X_OK):  # listed, but nothing in it can be reached
            yield here, None, []
            continue
        files, folders = [], []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_folder = entry.is_dir()  # through a link
            except OSError:
                is_folder = False
            (folders if is_folder else files).append(Path(entry.path))
            if is_folder:
                (linked if entry.is_symlink() else todo).append(Path(entry.path))
        yield here, files, folders


def linked_folders(folder: str | Path) -> list[Path]:
    """The real folders that links under ``folder`` lead to, as :func:`files_under` walks
    them."""
    return [f.resolve() for _, _, folders in _walk(folder) for f in folders if f.is_symlink()]


def files_under(folder: str | Path) -> list[Path]:
    """Every entry under ``folder`` that is no folder (files, links to nothing, pipes), and
    every folder that cannot be opened, sorted, each named by the path it was found at
    (:func:`_walk`: folders that are links are looked in too, a folder of links to datasets
    elsewhere; a folder reached by its path and a link is named by its path; hidden folders
    are not looked in); a folder that cannot be listed or entered is listed itself, so that
    its reader says why, not passed over unsaid."""
    return sorted(f for here, files, _ in _walk(folder)
                  for f in ([here] if files is None else files))
