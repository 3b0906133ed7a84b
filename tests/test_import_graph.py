"""The device package's imports, read from its source: no module reaches itself, none reaches the host side.

A cycle between modules means neither can be understood (or imported) alone, and it usually means a
type lives in the wrong module. Every ``import`` / ``from`` statement counts, at any depth (inside
functions and ``if TYPE_CHECKING:`` too: a lazy import is still a dependency). ``from package import
name`` counts as importing the submodule ``package.name`` when there is one, else ``package`` itself
(its ``__init__``); relative imports are resolved against the importing module's package.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "edge_runtime"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE
# never imported by the device (CONTRIBUTING.md, the one-way flow): the host packages and the training stack
FORBIDDEN = ("train", "export", "benchmarks", "experiments", "host", "tensorflow", "keras")
MEDIAPIPE_ONLY_IN = f"{PACKAGE}.landmarks.mediapipe_tasks"


@dataclass(frozen=True)
class Import:
    target: str  # a module of the package, or the top-level name of an outside package
    line: int
    internal: bool


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted name -> file of every module of the package (a package is its ``__init__``)."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imports_of(module: str, path: Path, modules: set[str]) -> list[Import]:
    """What one module imports, statement by statement, at any depth."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                internal = alias.name in modules
                found.append(Import(alias.name if internal else alias.name.partition(".")[0], node.lineno, internal))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                start = package
                for _ in range(node.level - 1):
                    start = start.rpartition(".")[0]
                base = f"{start}.{base}".rstrip(".") if base else start
            if base not in modules and not base.startswith(f"{PACKAGE}.") and base != PACKAGE:
                found.append(Import(base.partition(".")[0], node.lineno, False))
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.append(Import(submodule if submodule in modules else base, node.lineno, True))
    return found


def import_graph(root: Path = ROOT) -> dict[str, dict[str, int]]:
    """module -> {module of the package it imports: the first line that does}."""
    files = module_files(root)
    graph: dict[str, dict[str, int]] = {}
    for module, path in files.items():
        edges: dict[str, int] = {}
        for imp in imports_of(module, path, set(files)):
            if imp.internal and imp.target != module:
                edges.setdefault(imp.target, imp.line)
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One cycle ``[a, b, ..., a]`` of the graph, or None (depth-first search, modules in name order)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    return " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:])) + f" -> {cycle[-1]}"


def all_cycles(graph: dict[str, dict[str, int]]) -> list[str]:
    """Every cycle found when each one's first edge is cut in turn, described: all of them in one failure."""
    remaining = {module: dict(edges) for module, edges in graph.items()}
    found = []
    while (cycle := find_cycle(remaining)) is not None:
        found.append(describe(cycle, graph))
        del remaining[cycle[0]][cycle[1]]
    return found


def test_no_module_of_the_device_package_reaches_itself():
    graph = import_graph()
    assert len(graph) > 20 and f"{PACKAGE}.capture" in graph  # the walk found the package
    cycles = all_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def host_imports(root: Path = ROOT) -> list[str]:
    """Each import of a host package or the training stack, and of mediapipe outside its backend module."""
    files = module_files(root)
    bad = []
    for module, path in files.items():
        for imp in imports_of(module, path, set(files)):
            if imp.internal:
                continue
            if imp.target in FORBIDDEN or (imp.target == "mediapipe" and module != MEDIAPIPE_ONLY_IN):
                bad.append(f"{module} (line {imp.line}) imports {imp.target}")
    return bad


def test_the_device_package_imports_no_host_package_and_mediapipe_only_in_its_backend():
    bad = host_imports()
    assert not bad, "; ".join(bad)


def _made_up_package(tmp_path: Path, sources: dict[str, str]) -> Path:
    """A package written under tmp_path, to check the checker."""
    for name, text in sources.items():
        file = tmp_path / PACKAGE / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
    return tmp_path / PACKAGE


def test_the_checker_sees_lazy_relative_and_package_imports(tmp_path: Path):
    graph = import_graph(_made_up_package(tmp_path, {
        "__init__.py": "",
        "a.py": "def f():\n    from edge_runtime.pkg import b\n",
        "pkg/__init__.py": "from . import b\nfrom .b import thing\n",
        "pkg/b.py": "import edge_runtime.c\n",
        "c.py": "from .pkg import helper\n",
    }))
    assert graph[f"{PACKAGE}.a"] == {f"{PACKAGE}.pkg.b": 2}
    assert graph[f"{PACKAGE}.pkg"] == {f"{PACKAGE}.pkg.b": 1}
    assert graph[f"{PACKAGE}.c"] == {f"{PACKAGE}.pkg": 1}  # helper is no module: the package's __init__
    cycle = find_cycle(graph)
    assert cycle[0] == cycle[-1] and set(cycle) == {f"{PACKAGE}.c", f"{PACKAGE}.pkg", f"{PACKAGE}.pkg.b"}
    assert all_cycles(graph) == [describe(cycle, graph)]
    assert "edge_runtime.c (line 1) -> edge_runtime.pkg (line 1)" in describe(cycle, graph)
    del graph[f"{PACKAGE}.c"][f"{PACKAGE}.pkg"]
    assert find_cycle(graph) is None


def test_the_checker_sees_host_imports_at_any_depth(tmp_path: Path):
    root = _made_up_package(tmp_path, {
        "__init__.py": "import numpy\n",
        "a.py": "def f():\n    import tensorflow.lite as tfl\n",
        "b.py": "if True:\n    from train.fit import fit\n",
        "landmarks/__init__.py": "",
        "landmarks/mediapipe_tasks.py": "import mediapipe\n",
        "landmarks/other.py": "from mediapipe.tasks import python\n",
    })
    assert host_imports(root) == ["edge_runtime.a (line 2) imports tensorflow", "edge_runtime.b (line 2) imports train",
                                  "edge_runtime.landmarks.other (line 1) imports mediapipe"]
