"""The package's floors: modules import downward only, and no two modules import each other
(directly or round a longer circle). Read from the source (every import made at run time, at the top
of a file or inside a function), so a lazy import cannot hide an arrow that runs back up; names
imported for annotations only (`if TYPE_CHECKING:`) are not arrows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import localvision

pytestmark = pytest.mark.unit

ROOT = Path(localvision.__file__).parent

# Each floor and what it must never import (prefixes of module names). Lower floors first.
FLOORS = {
    # the pieces every surface shares: errors, files, names, CSV, URLs, images, transforms
    "localvision.errors": ["localvision."],
    "localvision.files": ["localvision."],
    "localvision.names": ["localvision.models", "localvision.engine", "localvision.server",
                          "localvision.cli", "localvision.training"],
    "localvision.csvfile": ["localvision.models", "localvision.engine", "localvision.server",
                            "localvision.cli", "localvision.training", "localvision.road"],
    "localvision.transforms": ["localvision.models", "localvision.engine", "localvision.prepare"],
    "localvision.imaging": ["localvision.models", "localvision.engine", "localvision.prepare",
                            "localvision.road"],
    "localvision.database": ["localvision.history", "localvision.migrate", "localvision.auth",
                             "localvision.server"],
    "localvision.prepare": ["localvision.engine", "localvision.models", "localvision.road",
                            "localvision.classifier", "localvision.server"],
    "localvision.models": ["localvision.engine", "localvision.prepare", "localvision.road",
                           "localvision.classifier", "localvision.server", "localvision.cli",
                           "localvision.training", "localvision.streams", "localvision.scale",
                           "localvision.export"],
    "localvision.engine": ["localvision.road", "localvision.classifier", "localvision.server",
                           "localvision.cli", "localvision.training", "localvision.streams",
                           "localvision.scale", "localvision.export"],
    "localvision.road": ["localvision.engine", "localvision.classifier", "localvision.server",
                         "localvision.cli", "localvision.training", "localvision.streams"],
    # the text reader: beside the models, below the road that is handed one
    "localvision.text": ["localvision.engine", "localvision.models", "localvision.road",
                         "localvision.classifier", "localvision.server", "localvision.cli",
                         "localvision.training", "localvision.streams", "localvision.scale"],
    "localvision.training": ["localvision.server", "localvision.cli", "localvision.scale"],
    "localvision.streams": ["localvision.server", "localvision.cli", "localvision.scale"],
}
# Only these sit above the service and may import it; only the CLI imports the CLI.
ABOVE_SERVER = ("localvision.server", "localvision.scale", "localvision.cli", "localvision.__main__")
ABOVE_CLI = ("localvision.cli", "localvision.__main__")


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _runtime_nodes(tree: ast.AST):
    """Every node but those under `if TYPE_CHECKING:` (names for annotations only: no arrow at
    run time, and the usual way for two modules to name each other's types)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules `name` imports (a package's __init__ counts as its own module)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                found.add(target)
    return found


GRAPH = {name: _imports(name, path, _modules()) for name, path in _modules().items()}


def _within(name: str, prefix: str) -> bool:
    return name == prefix.rstrip(".") or name.startswith(prefix.rstrip(".") + ".")


def _circles() -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return out


def test_the_graph_is_read_from_the_package():
    # the reader itself: known arrows are found, relative and lazy ones included
    assert "localvision.road" in GRAPH["localvision.classifier"]
    assert "localvision.models.network" in GRAPH["localvision.models.store"]  # a lazy import
    assert len(GRAPH) > 60


def test_no_two_modules_import_each_other():
    assert _circles() == []


@pytest.mark.parametrize("floor", sorted(FLOORS))
def test_a_floor_imports_nothing_above_it(floor):
    members = [m for m in GRAPH if _within(m, floor)]
    assert members, f"no module is {floor}: the table is out of date"
    wrong = sorted(
        f"{m} -> {t}" for m in members for t in GRAPH[m]
        if any(_within(t, above) for above in FLOORS[floor]) and not _within(t, floor)
    )  # fmt: skip
    assert wrong == []


def test_only_the_entry_points_import_the_service_and_the_cli():
    wrong = sorted(
        f"{m} -> {t}" for m, targets in GRAPH.items() for t in targets
        if (_within(t, "localvision.server") and not m.startswith(ABOVE_SERVER))
        or (_within(t, "localvision.cli") and not m.startswith(ABOVE_CLI))
    )  # fmt: skip
    assert wrong == []
