"""Names of a package that load with their module on first use (PEP 562), so that importing
the package stays light (no torch for ``qualityfm --help`` or for scoring by the indices)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, where: Mapping[str, str]
               ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module's ``__getattr__`` and ``__dir__`` for ``package``: ``name`` comes from the
    submodule ``where[name]`` (imported then, e.g. ``"train.export"``); any other name is an
    AttributeError; ``dir()`` lists the loaded names and those to load."""

    def __getattr__(name: str) -> Any:
        if name in where:
            return getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
