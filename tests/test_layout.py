"""The layout: every import points down (core < models < nudges < pipelines), no cycles, small modules.

Read from the source with `ast`, so imports inside functions and under `TYPE_CHECKING`
count like any other: they are still a dependency, only a hidden one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ("core", "models", "nudges", "pipelines")  # each may import only the rooms before it
# Frameworks that belong to the orchestration room only: the domain stays usable without them.
PIPELINES_ONLY = ("prefect", "pydantic_settings", "typer", "rich")
MAX_LINES = 450


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. "models.dataset"
    target: str  # the imported project module, e.g. "core.db"
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for room in ROOMS for p in sorted((ROOT / room).rglob("*.py"))}


def imports_of(path: Path, modules: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """Every module `path` imports, anywhere in the file (relative imports resolved)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            for alias in node.names:
                # `from pkg import submodule` depends on the submodule itself.
                sub = f"{source}.{alias.name}"
                yield (sub if sub in modules else source), node.lineno


def all_imports() -> list[Import]:
    modules = project_modules()
    found = []
    for name, path in modules.items():
        for target, line in imports_of(path, modules):
            found.append(Import(name, target, line))
    return found


def room(module: str) -> str:
    return module.split(".")[0]


def test_every_project_import_points_down_or_stays_in_its_room() -> None:
    upward = [
        f"{i.module} (line {i.line}) imports {i.target}"
        for i in all_imports()
        if room(i.target) in ROOMS and ROOMS.index(room(i.target)) > ROOMS.index(room(i.module))
    ]
    assert upward == []


def test_only_pipelines_imports_the_orchestration_frameworks() -> None:
    misplaced = [
        f"{i.module} (line {i.line}) imports {i.target}"
        for i in all_imports()
        if room(i.module) != "pipelines" and room(i.target) in PIPELINES_ONLY
    ]
    assert misplaced == []


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_even_inside_functions_or_type_checking() -> None:
    modules = project_modules()
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for i in all_imports():
        target = i.target
        while target and target not in modules:  # `import core.db.x` style: the nearest module
            target = target.rpartition(".")[0]
        # A package's __init__ importing its own submodules is how packages work, not a cycle.
        if target and target != i.module and not target.startswith(i.module + "."):
            edges[i.module].add(target)
    assert cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The check above would pass vacuously if the finder never found anything."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("path", sorted(project_modules().values()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_over_450_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it by responsibility"
