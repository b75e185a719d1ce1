"""Test helpers: the real PhysioNet data beside the checkout, when it is there."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

_DEFAULT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SHARED_DATA = Path(os.environ.get("QUALITYFM_SHARED_DATA", _DEFAULT)).resolve()


def shared_path(*parts: str) -> Path:
    """Path under ../shared/data; skips the calling test with a clear reason when absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"real data not found at {path} (set QUALITYFM_SHARED_DATA or place ../shared/data)"
        )
    return path


def link_vt_alarms(folder: Path, true: int = 0, false: int = 0, prefix: str = "v") -> Path:
    """``folder`` holding links to the files of the first ``true`` true and ``false`` false
    VT alarms of ``physionet2015_vt`` whose names start with ``prefix``."""
    data = shared_path("physionet2015_vt")
    kinds: dict[bool, list[Path]] = {True: [], False: []}
    for header in sorted(data.glob(f"{prefix}*.hea")):
        kinds["true alarm" in header.read_text().lower()].append(header)
    folder.mkdir(parents=True, exist_ok=True)
    for header in kinds[True][:true] + kinds[False][:false]:
        for f in data.glob(f"{header.stem}.*"):
            (folder / f.name).symlink_to(f)
    return folder


@pytest.fixture
def shared_data() -> Path:
    return shared_path()


def stop_at(method: Callable, call: int, *, before: bool = False) -> Callable:
    """``method`` (a function taking ``self``) wrapped to raise KeyboardInterrupt, as Ctrl-C
    would, at its ``call``-th call: after that call's work, or ``before`` it. ``calls[0]``
    counts the calls."""
    calls = [0]

    def wrapper(self: object, *args: object, **kw: object) -> object:
        calls[0] += 1
        if before and calls[0] == call:
            raise KeyboardInterrupt
        out = method(self, *args, **kw)
        if not before and calls[0] == call:
            raise KeyboardInterrupt
        return out

    wrapper.calls = calls  # type: ignore[attr-defined]
    return wrapper
