"""The rooms import one way: the device imports no host package, and no two host packages import each other.

Every ``import`` / ``from`` statement counts, at any depth (a function-level import is still a dependency)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("edge_runtime", "host", "train", "export", "benchmarks", "experiments")
# What each package may import (besides itself). A DAG: edge_runtime <- host <- export <- train <- benchmarks
# <- experiments, so reading this table top to bottom is the order the rooms are built in.
ALLOWED = {
    "edge_runtime": set(),
    "host": {"edge_runtime"},
    "export": {"edge_runtime", "host"},
    "train": {"edge_runtime", "host", "export"},
    "benchmarks": {"edge_runtime", "host", "export", "train"},
    "experiments": {"edge_runtime", "host", "export", "train", "benchmarks"},
}


def imported_packages(path: Path) -> dict[str, int]:
    """Top-level project packages a module imports, with the first line that does."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top in PACKAGES:
                found.setdefault(top, node.lineno)
    return found


def package_edges() -> dict[tuple[str, str], str]:
    edges: dict[tuple[str, str], str] = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            for other, line in imported_packages(path).items():
                if other != package:
                    edges.setdefault((package, other), f"{path.relative_to(REPO)}:{line}")
    return edges


def test_every_package_imports_only_the_rooms_below_it():
    wrong = [f"{a} imports {b} ({where})" for (a, b), where in package_edges().items() if b not in ALLOWED[a]]
    assert not wrong, "\n".join(wrong)


def test_the_allowed_table_itself_has_no_cycle():
    order = list(ALLOWED)
    for package, allowed in ALLOWED.items():
        assert all(order.index(other) < order.index(package) for other in allowed), package
