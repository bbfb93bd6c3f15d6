"""Imports flow one way: the package's module graph, read from the source, has no cycle.

Every ``import`` statement counts, wherever it is written (inside functions too, and under
``TYPE_CHECKING``): a lazy import still ties the two modules together.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "gkreport"


@cache
def modules() -> dict[str, Path]:
    out = {}
    for p in sorted(PACKAGE.rglob("*.py")):
        parts = list(p.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def imported(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that ``module`` imports (a ``from package import name`` of a
    submodule counts as importing the submodule, not the package)."""
    is_package = path.name == "__init__.py"
    here = module.split(".") if is_package else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for a in node.names:
                sub = f"{target}.{a.name}"
                targets.append(sub if sub in known else target)
        found.update(t for t in targets if t in known and t != module)
    return found


@cache
def graph() -> dict[str, set[str]]:
    known = modules()
    return {m: imported(m, p, known) for m, p in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in edges[v]:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_graph_is_read_from_the_source():
    edges = graph()
    assert "gkreport.spec.model" in edges and "gkreport.checks" in edges
    assert "gkreport.spec.compiled" in edges["gkreport.checks"]  # ``from .spec import compiled`` is the module
    assert "gkreport.spec.load" in edges["gkreport.model"]


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_the_form_model_imports_nothing_of_the_spec_package():
    deps = graph()["gkreport.spec.model"]
    assert not {d for d in deps if d.startswith("gkreport.spec")}, deps


@pytest.mark.parametrize("module", [m for m in modules() if m.startswith("gkreport.spec")])
def test_the_spec_package_stands_below_the_rest(module):
    """Specs know nothing of workbooks, checks or writers: only the errors and enums beneath them."""
    outside = {d for d in graph()[module] if not d.startswith("gkreport.spec")}
    assert outside <= {"gkreport.errors", "gkreport.enums"}, (module, outside)


@pytest.mark.parametrize("module", ["gkreport.errors", "gkreport.enums", "gkreport.formatting", "gkreport.fileio"])
def test_foundations_import_nothing_of_the_package(module):
    assert graph()[module] == set()
