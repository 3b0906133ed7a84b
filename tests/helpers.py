"""Small helpers the tests share (importable as ``helpers``: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import importlib.util
import shutil
from typing import Callable, Sequence

import pytest


# sign-train flags for a tiny, quick model: a 1-block compact model of width 8, two epochs.
FAST_TRAIN = ["--epochs", "2", "--patience", "2", "--size", "width=8", "--size", "blocks=1", "-q"]


def exit_code(main: Callable[[Sequence[str]], None], args: Sequence[str]) -> int:
    """Run a console script's ``main`` as a user would and return its exit status."""
    with pytest.raises(SystemExit) as done:
        main(list(args))
    return int(done.value.code)


def need(module: str) -> None:
    """Skip unless ``module`` is installed; found without importing it (mediapipe would pull in TensorFlow)."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"needs the {module} package")


def need_program(name: str, install: str) -> str:
    """The path of the system program ``name`` on PATH; skip (saying how to install it) when it is absent."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"needs {name} ({install})")
    return path
