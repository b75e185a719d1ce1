"""The declared dependency floors hold the APIs the task models call (a user's resolver may
install the floor itself)."""

import re
from pathlib import Path

import pytest

from qualityfm.tasks.baselines import ClassicalBaseline

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

# the scikit-learn release that added each HistGradientBoosting keyword the baseline passes
# (those of 1.0 and before are left out)
ADDED = {"max_features": (1, 4), "class_weight": (1, 2), "interaction_cst": (1, 2)}


def _floor(name: str) -> tuple[int, ...]:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    for dep in deps:
        m = re.fullmatch(rf"{re.escape(name)}\s*>=\s*([0-9.]+).*", dep)
        if m:
            return tuple(int(p) for p in m.group(1).split("."))
    raise AssertionError(f"{name} has no >= floor in {PYPROJECT}")


def test_sklearn_floor_knows_every_keyword_of_the_classical_baseline() -> None:
    # HistGradientBoosting*(max_features=) came in scikit-learn 1.4: with 1.3, which the
    # floor had allowed, every classical fit failed with a TypeError
    for task in ("vt-alarm", "abp"):
        params = ClassicalBaseline(task).params
        for key in params:
            if key in ADDED:
                assert _floor("scikit-learn") >= ADDED[key], (task, key)
