"""What a folder written by qualityfm holds, told by the files each verb writes there, so that
one verb never writes its files over another's (a fine-tune into a pre-training run, an
export over the run it reads)."""

from __future__ import annotations

from pathlib import Path

#: (kind, the files that mark it), in the order they are looked for.
FOLDER_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pre-training run", ("last.pt", "log.jsonl")),
    ("fine-tuned run", ("finetune.json",)),
    ("cross-validation report", ("cv.json",)),
    ("comparison", ("compare.json",)),
    ("model folder", ("model.safetensors",)),
    ("prepared store", ("meta.json",)),
)


def folder_kind(path: str | Path) -> tuple[str, str] | None:
    """``(kind, marker file)`` of what ``path`` holds, or None (no folder, or none of ours)."""
    for kind, markers in FOLDER_KINDS:
        for marker in markers:
            if (Path(path) / marker).is_file():
                return kind, marker
    return None


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


#: Other files of those folders that verbs read back (a run's settings and config, a card).
READ_BACK = ("summary.json", "config.json", "model.json")


def refuse_reserved_name(path: str | Path, flag: str = "--out") -> None:
    """Refuse (ValueError) an output file named like a file of the qualityfm folder it lies
    in (``RUN/finetune.json``, ``RUN/summary.json``...), which it would replace."""
    path = Path(path)
    names = {m for _, markers in FOLDER_KINDS for m in markers} | set(READ_BACK)
    found = folder_kind(path.parent)
    if found is not None and path.name in names:
        raise ValueError(f"{flag} {path}: {path.parent} holds a {found[0]}, whose {path.name} "
                         "this would replace; give the output another name")
