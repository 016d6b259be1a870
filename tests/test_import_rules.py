"""The import graph of the production packages: which package may import which, and no cycles.

The rule, read top-down: a package may import only the packages listed for it. The shared
runtime imports nothing of the project; the contract (``schemas``) and the circuit model stand
on the runtime alone; services import those, never each other; the local stack registers the
contract through library calls and starts the services as processes, never by import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

ALLOWED: dict[str, set[str]] = {
    "runtime": set(),
    "schemas": {"runtime"},
    "circuit": {"runtime"},
    "storage": {"runtime", "schemas", "circuit"},
    "producer": {"runtime", "schemas", "circuit"},
    "sinks": {"runtime", "schemas", "storage"},
    "analytics": {"runtime", "schemas", "circuit"},
    "dashboard": {"runtime", "schemas", "circuit", "storage"},
    "stack": {"runtime", "schemas"},
    "ingest": {"runtime", "schemas"},
    "replay": {"runtime", "schemas", "storage"},
}
PACKAGES = set(ALLOWED)
# Not installed with the application: nothing of it may be imported by a production package.
TEST_SIDE = {"tests", "integration_tests", "benchmarks"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """Every project module ``path`` imports, at module level or inside a function."""
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from package import module` imports the module too
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    top = PACKAGES | TEST_SIDE
    return {
        n
        for n in names
        if n.split(".")[0] in top and (n in MODULES or n.split(".")[0] in TEST_SIDE)
    }


GRAPH = {module: _imports(path) for module, path in MODULES.items()}


def test_the_rule_covers_every_installed_package() -> None:
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    included = config["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {pattern.rstrip("*") for pattern in included} == PACKAGES


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_each_package_imports_only_what_the_rule_allows(package: str) -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if module.split(".")[0] == package
        for target in targets
        if target.split(".")[0] not in ALLOWED[package] | {package}
    )
    assert not wrong, "\n".join(wrong)


def test_there_are_no_import_cycles() -> None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(GRAPH.get(module, ())):
            if target == module or target not in GRAPH:
                continue
            # `import schemas.x` runs schemas/__init__ first; a package's own __init__ importing
            # its modules is not a cycle through them.
            if module.startswith(target + "."):
                continue
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif state.get(target) is None:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_graph_is_read() -> None:
    """A guard on the reader itself: known edges are found."""
    assert "runtime.errors" in GRAPH["schemas.registry"]
    assert any(t.startswith("schemas") for t in GRAPH["producer.cli"])
