"""The shape of the integration: small modules, and imports that flow one way."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "custom_components" / "usage_stats"
MAX_LINES = 600


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(part for part in parts if part != "__init__") or "__init__"


def _imports(path: Path) -> set[str]:
    """Return the package modules `path` imports, TYPE_CHECKING imports included."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    elif package == ["__init__"]:
        package = []
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            if node.module:
                found.add(".".join([*base, *node.module.split(".")]))
            else:
                found.update(".".join([*base, alias.name]) for alias in node.names)
    return found


def test_modules_are_small() -> None:
    """Every module stays under 600 lines."""
    sizes = {
        _module_name(path): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n >= MAX_LINES} == {}


def test_no_import_cycles() -> None:
    """No module imports, directly or not, a module that imports it."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {
        name: {m for m in _imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }
    # The package's own __init__ sets the entry up; nothing imports it back.
    cycles: list[list[str]] = []

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            cycles.append([*trail[trail.index(name) :], name])
            return
        for imported in graph[name]:
            if imported not in done:
                visit(imported, [*trail, name])
        done.add(name)

    done: set[str] = set()
    for name in sorted(graph):
        visit(name, [])
    assert cycles == []


def test_data_flows_one_way() -> None:
    """Counters know nothing of reports, reports nothing of the outbox, and so on."""
    order = ["counters", "report", "outbox", "transport"]
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    for position, name in enumerate(order):
        later = set(order[position + 1 :]) | {"submission", "coordinator"}
        assert not _imports(modules[name]) & later, name
