"""Registering the contract's schemas: the local evolution gate first, then each subject.

The library side of ``f1-schemas register`` and ``check``; the local stack's demo and the
tests call these functions directly. What they find is reported line by line through
``say`` (print by default), the way the command shows it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import F1Error, InfrastructureError
from schemas import channels, evolution
from schemas.registry import DEFAULT_COMPATIBILITY, SchemaRegistry, probe
from schemas.schema_files import full_name, schema_file_problem
from schemas.topics import SCHEMA_DIR, Topics

Say = Callable[[str], None]


class LocalCheckFailed(F1Error):
    """The schemas in the checkout fail the evolution gate: nothing was registered."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"local check failed ({len(problems)} problem(s)), nothing registered")
        self.problems = problems


@dataclass(frozen=True)
class Registered:
    subject: str
    version: int
    schema_id: int
    compatibility: str
    schema_file: str


def local_check(schema_dir: Path, *, releasing: bool = False, say: Say = print) -> list[str]:
    """Report the verdict for every released version; return the problems. ``releasing``:
    also require each current schema to be its latest release, so that every version that
    reaches the registry is in history/ and checked against from then on."""
    files = [*evolution.current_schemas(schema_dir), *sorted(schema_dir.glob("history/*.avsc"))]
    broken = [problem for problem in map(schema_file_problem, files) if problem]
    if broken:  # nothing can be compared with a file that is no schema
        return broken
    problems: list[str] = []
    for path in evolution.current_schemas(schema_dir):
        schema = json.loads(path.read_text())
        record = channels.RECORD_NAMES.get(full_name(schema))
        if record is None:
            problems.append(f"{path.name}: record has no channel table in schemas/channels.py")
            continue
        problems.extend(
            f"{path.name} vs channel table: {p}" for p in channels.doc_mismatches(schema, record)
        )
    for path in evolution.unreleased(schema_dir):
        say(f"note  {path.name}: no released version in history/ yet, nothing to compare")
    for path in evolution.current_schemas(schema_dir):
        versions = evolution.released_versions(path.stem, schema_dir / "history")
        if not versions or evolution.matches_latest_release(path, schema_dir):
            continue
        nxt = evolution.next_release(path.stem, schema_dir / "history")
        step = f"copy it to history/{nxt.name}"
        if releasing:
            problems.append(f"{path.name} differs from history/{versions[-1].name}: {step} first")
        else:
            say(f"note  {path.name} differs from history/{versions[-1].name}: {step} to release")
    for report in evolution.check_all(schema_dir):
        label = f"{report.current.name} vs history/{report.released.name}"
        if report.ok:
            how = "structure, data" + (", Apache Avro" if report.apache_checked else "")
            say(f"ok    {label}: fully compatible ({how})")
        problems.extend(str(p) for p in report.problems)
    return problems


def register_all(
    registry_url: str,
    topics: Topics,
    *,
    compatibility: str = DEFAULT_COMPATIBILITY,
    timeout_s: float = 5.0,
    say: Say = print,
) -> list[Registered]:
    """Check the schemas locally, then register each subject with its current schema and
    set its compatibility level (idempotent).

    LocalCheckFailed when the gate fails; InfrastructureError when the registry is
    unreachable or refuses a schema.
    """
    problems = local_check(SCHEMA_DIR, releasing=True, say=say)
    if problems:
        raise LocalCheckFailed(problems)
    why = probe(registry_url, timeout_s)
    if why is not None:
        raise InfrastructureError(f"schema registry unreachable: {why}")
    done = []
    with SchemaRegistry(registry_url, timeout_s=timeout_s, retries=1) as registry:
        for subject, path in topics.subjects().items():
            rs = registry.register(subject, path.read_text(), compatibility=compatibility)
            level = registry.compatibility(subject) or "registry default"
            say(
                f"{subject}: version {rs.version}, id {rs.schema_id}, compatibility {level} "
                f"({path.name})"
            )
            done.append(Registered(subject, rs.version, rs.schema_id, level, path.name))
    return done
