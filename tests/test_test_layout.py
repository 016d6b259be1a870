"""The tests' own layout, read from their imports: a test module imports no other test module
(shared code lives in helper modules such as ``tests/fakes.py``), and no test imports a
``_private`` name of the project, so tests only use what the code offers on purpose."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TEST_PACKAGES = ("tests", "integration_tests")
# Every top-level package of the repository, installed or not.
PROJECT = frozenset(p.parent.name for p in REPO.glob("*/__init__.py"))


def is_test_module(name: str) -> bool:
    return name.rsplit(".", 1)[-1].startswith("test_")


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def layout_problems(source: str, module: str) -> list[str]:
    """What breaks the rules in ``source``, the text of the module named ``module``."""
    package = module.rsplit(".", 1)[0]
    problems = []
    imported: list[tuple[str, str | None]]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against this module's package
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            imported = [(base, alias.name) for alias in node.names]
        else:
            continue
        for from_module, name in imported:
            full = f"{from_module}.{name}" if name else from_module
            if from_module.split(".")[0] not in PROJECT:
                continue
            where = f"{module}:{node.lineno}"
            # `from tests import test_x` names a test module as much as `import tests.test_x`.
            if any(is_test_module(part) for part in full.split(".")[1:]):
                problems.append(f"{where} imports the test module {full}")
            elif any(is_private(part) for part in full.split(".")):
                problems.append(f"{where} imports the private name {full}")
    return problems


def checked_files() -> list[Path]:
    return sorted(f for package in TEST_PACKAGES for f in (REPO / package).rglob("*.py"))


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts)


def test_no_test_imports_another_test_module_or_a_private_name() -> None:
    problems = [
        problem
        for path in checked_files()
        for problem in layout_problems(path.read_text(), module_name(path))
    ]
    assert problems == []


def test_the_helpers_are_checked_too() -> None:
    names = {module_name(path) for path in checked_files()}
    assert {"tests.fakes", "tests.test_test_layout", "integration_tests.conftest"} <= names


@pytest.mark.parametrize(
    "source",
    [
        "from tests.test_dashboard_model import records",
        "from integration_tests.test_dashboard_browser import wait_for",
        "from tests import test_schemas_serde_columns as columns",
        "import tests.test_schemas_serde",
        "from .test_schemas_serde import FakeRegistry",
        "from . import test_schemas_serde",
        "def f():\n    from tests.test_x import y",
        "from producer.cli import _stream",
        "from schemas import _internal",
        "import dashboard._probe",
        "from .fakes import _helper",
    ],
)
def test_what_breaks_the_rules_is_found(source: str) -> None:
    assert len(layout_problems(source, "tests.test_example")) == 1


@pytest.mark.parametrize(
    "source",
    [
        "from tests.fakes import FakeRegistry",
        "from tests.analytics_reference import expected_summaries",
        "from integration_tests.kafka_io import produce_all",
        "from . import fakes",
        "from producer.cli import stream",
        "from __future__ import annotations",
        "from confluent_kafka import _private_but_not_ours",
        "from dashboard.feed import Feed",
    ],
)
def test_what_keeps_the_rules_passes(source: str) -> None:
    assert layout_problems(source, "tests.test_example") == []
