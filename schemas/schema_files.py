"""Avro schemas as JSON data: loading ``.avsc`` files, names and comparisons.

Timestamps (``timestamp-micros``) travel as plain ``int`` microseconds in both directions:
that is what the producer computes and what InfluxDB and Spark want, and it avoids building a
``datetime`` per record. So the serde parses schemas without their logical types.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.types import Schema

from schemas import topics as _topics

__all__ = [
    "full_name",
    "load_schema",
    "parse_plain",
    "same_schema",
    "schema_file_problem",
    "strip_logical_types",
]


def load_schema(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """A schema as JSON data, from a path, a name (``"telemetry"`` -> schemas/telemetry.avsc),
    a JSON string or a mapping."""
    if isinstance(source, Mapping):
        return dict(source)
    if isinstance(source, str) and source.lstrip().startswith("{"):
        return json.loads(source)
    path = Path(source)
    if not path.suffix and not path.exists():
        path = _topics.SCHEMA_DIR / f"{source}.avsc"
    return json.loads(path.read_text(encoding="utf-8"))


def schema_file_problem(path: Path) -> str | None:
    """Why the ``.avsc`` file at ``path`` is not an Avro record schema, or None when it is.

    The evolution gate compares schemas as JSON data; a file that is not even that is one
    problem to report, not a failure of the gate.
    """
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return f"{path.name}: cannot be read: {exc.strerror}"
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"{path.name}: not JSON: {exc}"
    if not isinstance(schema, dict) or schema.get("type") != "record":
        return f"{path.name}: not an Avro record schema"
    try:
        parse_plain(schema)
    except Exception as exc:  # fastavro raises many types for a bad schema; all mean the same
        return f"{path.name}: not a valid Avro schema: {type(exc).__name__}: {exc}"
    return None


def strip_logical_types(node: Any) -> Any:
    """The schema without logical types, so fastavro hands out raw ints for timestamps."""
    if isinstance(node, dict):
        return {k: strip_logical_types(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [strip_logical_types(v) for v in node]
    return node


def parse_plain(schema: Mapping[str, Any]) -> Schema:
    """fastavro's parsed form of ``schema`` without its logical types."""
    return parse_schema(strip_logical_types(dict(schema)))


def full_name(schema: Mapping[str, Any]) -> str:
    """The record's full name (``namespace.name``), as the channel table keys it."""
    name = schema.get("name", "")
    ns = schema.get("namespace")
    return name if "." in name or not ns else f"{ns}.{name}"


def same_schema(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two schemas are the same JSON data, whatever the order of their keys."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
