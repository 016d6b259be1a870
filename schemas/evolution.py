"""The evolution gate: is the current schema fully compatible with every released version?

Full transitive compatibility means two things for every released version ``vN``:

* new readers read old data: a record written with ``vN`` decodes with the current schema;
* old readers read new data: a record written with the current schema decodes with ``vN``.

Each pair is checked three ways, because each catches what the others phrase badly:

1. structurally, by Avro's resolution rules, so a failure names the field and the reason
   (plus the project's own rule: a field's unit or logical type never changes in place);
2. by data: sample records with every field filled are written with one schema and read with
   the other through fastavro's schema resolution, and the values compared;
3. by Apache Avro's reference checker (``avro.compatibility``) when the ``avro`` package is
   installed, as a second opinion from the reference implementation.

Released versions live in ``schemas/history/<name>.v<N>.avsc`` and never change.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from schemas import channels as _channels
from schemas import topics as _topics

_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
# writer type -> reader types that can read it (Avro spec, "Schema Resolution")
_PROMOTIONS = {
    "int": {"int", "long", "float", "double"},
    "long": {"long", "float", "double"},
    "float": {"float", "double"},
    "string": {"string", "bytes"},
    "bytes": {"bytes", "string"},
}
_HISTORY_RE = re.compile(r"^(?P<name>[a-z_]+)\.v(?P<version>[0-9]+)\.avsc$")
_UNIT_RE = re.compile(r" Unit: (?P<unit>[^ ]+)\. ")


@dataclass(frozen=True)
class Problem:
    """One reason a current schema is not compatible with one released version."""

    current: str  # e.g. "telemetry.avsc"
    released: str  # e.g. "history/telemetry.v1.avsc"
    field: str | None  # dotted path of the field, None for the whole record
    message: str

    def __str__(self) -> str:
        where = f"field {self.field!r} " if self.field else ""
        return f"{self.current} vs {self.released}: {where}{self.message}"


@dataclass
class PairReport:
    current: Path
    released: Path
    problems: list[Problem] = field(default_factory=list)
    apache_checked: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


# --- files ---------------------------------------------------------------------------------


def released_versions(name: str, history_dir: Path = _topics.HISTORY_DIR) -> list[Path]:
    """The released versions of schema ``name`` (``telemetry``), oldest first."""
    found = []
    for path in history_dir.glob(f"{name}.v*.avsc"):
        m = _HISTORY_RE.match(path.name)
        if m and m["name"] == name:
            found.append((int(m["version"]), path))
    return [p for _, p in sorted(found)]


def next_release(name: str, history_dir: Path = _topics.HISTORY_DIR) -> Path:
    """Where the next released version of schema ``name`` goes."""
    versions = released_versions(name, history_dir)
    last = 0
    if versions:
        m = _HISTORY_RE.match(versions[-1].name)
        last = int(m["version"]) if m else len(versions)
    return history_dir / f"{name}.v{last + 1}.avsc"


def current_schemas(schema_dir: Path = _topics.SCHEMA_DIR) -> list[Path]:
    return sorted(schema_dir.glob("*.avsc"))


def _label(path: Path, schema_dir: Path) -> str:
    try:
        return str(path.relative_to(schema_dir))
    except ValueError:
        return str(path)


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


# --- 1. structure --------------------------------------------------------------------------


class _Names:
    """Named types (records, enums, fixed) seen while walking a schema, by full name."""

    def __init__(self) -> None:
        self.types: dict[str, dict[str, Any]] = {}

    def walk(self, node: Any, ns: str | None = None) -> None:
        if isinstance(node, list):
            for branch in node:
                self.walk(branch, ns)
        elif isinstance(node, dict):
            t = node.get("type")
            if t in ("record", "error", "enum", "fixed"):
                full = _full_name(node, ns)
                self.types[full] = node
                ns = full.rpartition(".")[0] or None
                for f in node.get("fields", []):
                    self.walk(f["type"], ns)
            elif t == "array":
                self.walk(node["items"], ns)
            elif t == "map":
                self.walk(node["values"], ns)

    def resolve(self, node: Any, ns: str | None) -> Any:
        if isinstance(node, str) and node not in _PRIMITIVES:
            full = node if "." in node else (f"{ns}.{node}" if ns else node)
            return self.types.get(full, self.types.get(node, node))
        return node


def _full_name(node: dict[str, Any], ns: str | None = None) -> str:
    name = node["name"]
    if "." in name:
        return name
    ns = node.get("namespace", ns)
    return f"{ns}.{name}" if ns else name


def _kind(node: Any) -> str:
    """The Avro type of a schema node: a primitive name, record/enum/array/map/fixed, union."""
    if isinstance(node, list):
        return "union"
    if isinstance(node, dict):
        t = node["type"]
        return _kind(t) if isinstance(t, list | dict) else str(t)
    return str(node)


def _logical(node: Any) -> str | None:
    return node.get("logicalType") if isinstance(node, dict) else None


def _type_text(node: Any) -> str:
    if isinstance(node, list):
        return "[" + ", ".join(_type_text(b) for b in node) + "]"
    k = _kind(node)
    if k in ("record", "enum", "fixed") and isinstance(node, dict):
        return f"{k} {node.get('name')}"
    lt = _logical(node)
    return f"{k} ({lt})" if lt else k


class _Resolver:
    """Can data written with ``writer`` be read with ``reader``? Yields (field, reason)."""

    def __init__(self, writer: dict[str, Any], reader: dict[str, Any]) -> None:
        self.wn, self.rn = _Names(), _Names()
        self.wn.walk(writer)
        self.rn.walk(reader)
        self._busy: set[tuple[str, str]] = set()  # recursive records: each pair once

    def check(
        self, w: Any, r: Any, path: str, wns: str | None = None, rns: str | None = None
    ) -> Iterator[tuple[str, str]]:
        w, r = self.wn.resolve(w, wns), self.rn.resolve(r, rns)
        wk, rk = _kind(w), _kind(r)
        if wk == "union":
            for branch in w:
                if not any(self._fits(branch, rb, wns, rns) for rb in _branches(r)):
                    yield (
                        path,
                        f"union branch {_type_text(branch)} cannot be read as {_type_text(r)}",
                    )
            return
        if rk == "union":
            matches = [rb for rb in r if self._fits(w, rb, wns, rns)]
            if not matches:
                yield path, f"{_type_text(w)} cannot be read as {_type_text(r)}"
            else:
                yield from self.check(w, matches[0], path, wns, rns)
            return
        if wk in _PRIMITIVES or rk in _PRIMITIVES:
            if rk not in _PROMOTIONS.get(wk, {wk}):
                yield path, f"{_type_text(w)} cannot be read as {_type_text(r)}"
            return
        if wk != rk:
            yield path, f"{_type_text(w)} cannot be read as {_type_text(r)}"
            return
        if wk == "array":
            yield from self.check(w["items"], r["items"], path + "[]", wns, rns)
        elif wk == "map":
            yield from self.check(w["values"], r["values"], path + "{}", wns, rns)
        elif wk == "enum":
            missing = [s for s in w["symbols"] if s not in r["symbols"]]
            if missing and "default" not in r:
                yield path, f"enum symbols {missing} unknown to the reader, which has no default"
        elif wk == "fixed":
            if w["size"] != r["size"]:
                yield path, f"fixed size {w['size']} cannot be read as size {r['size']}"
        elif wk == "record":
            yield from self._records(w, r, path, wns, rns)

    def _fits(self, w: Any, r: Any, wns: str | None, rns: str | None) -> bool:
        return not any(True for _ in self.check(w, r, "", wns, rns))

    def _records(
        self, w: dict[str, Any], r: dict[str, Any], path: str, wns: str | None, rns: str | None
    ) -> Iterator[tuple[str, str]]:
        wfull, rfull = _full_name(w, wns), _full_name(r, rns)
        aliases = {
            a if "." in a else f"{rfull.rpartition('.')[0]}.{a}" for a in r.get("aliases", [])
        }
        if wfull.rpartition(".")[2] != rfull.rpartition(".")[2] and wfull not in aliases:
            yield path or "", f"record {wfull} cannot be read as record {rfull} (no alias)"
            return
        if (wfull, rfull) in self._busy:
            return
        self._busy.add((wfull, rfull))
        wns2, rns2 = wfull.rpartition(".")[0] or None, rfull.rpartition(".")[0] or None
        wfields = {f["name"]: f for f in w["fields"]}
        for rf in r["fields"]:
            fpath = f"{path}.{rf['name']}" if path else rf["name"]
            wf = next(
                (wfields[n] for n in (rf["name"], *rf.get("aliases", [])) if n in wfields), None
            )
            if wf is None:
                if "default" not in rf:
                    yield fpath, "NO_WRITER_FIELD"
                continue
            yield from self.check(wf["type"], rf["type"], fpath, wns2, rns2)
        self._busy.discard((wfull, rfull))


def _branches(node: Any) -> list[Any]:
    return node if isinstance(node, list) else [node]


def _fields(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in schema.get("fields", [])}


def structural_problems(
    released: dict[str, Any], current: dict[str, Any], current_label: str, released_label: str
) -> list[Problem]:
    """Field-level reasons why ``current`` and ``released`` cannot read each other's data."""
    problems: list[Problem] = []

    def add(fieldname: str | None, message: str) -> None:
        problems.append(Problem(current_label, released_label, fieldname or None, message))

    old_fields, new_fields = _fields(released), _fields(current)
    # old data, new reader
    for fpath, reason in _Resolver(released, current).check(released, current, ""):
        if reason == "NO_WRITER_FIELD":
            add(
                fpath,
                "added without a default: new readers cannot read old data, which has no "
                "value for it (give it a default)",
            )
        else:
            add(fpath, f"new readers cannot read old data: {reason}")
    # new data, old reader
    for fpath, reason in _Resolver(current, released).check(current, released, ""):
        if reason == "NO_WRITER_FIELD":
            add(
                fpath,
                f"removed, and it has no default in {released_label}: old readers cannot "
                "read new data (keep the field, or it needed a default when released)",
            )
        else:
            add(fpath, f"old readers cannot read new data: {reason}")
    # the project's rule: a unit or logical type never changes in place
    for name in old_fields.keys() & new_fields.keys():
        of, nf = old_fields[name], new_fields[name]
        olt, nlt = _logical(of["type"]), _logical(nf["type"])
        if olt != nlt:
            add(
                name,
                f"logical type changed {olt} -> {nlt}: that changes the unit, add a new "
                "field instead",
            )
        ou, nu = _UNIT_RE.search(of.get("doc", "")), _UNIT_RE.search(nf.get("doc", ""))
        if ou and nu and ou["unit"] != nu["unit"]:
            add(
                name,
                f"unit changed {ou['unit']} -> {nu['unit']}: a unit change is a new field, "
                "never a silent reinterpretation",
            )
    return problems


# --- 2. data -------------------------------------------------------------------------------


def _strip_logical(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_logical(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_strip_logical(v) for v in node]
    return node


def _value(node: Any, names: _Names, ns: str | None, variant: str, ch: Any) -> Any:
    node = names.resolve(node, ns)
    k = _kind(node)
    if k == "union":
        branches = [b for b in node if b != "null"]
        if (variant == "min" and "null" in node) or not branches:
            return None
        return _value(branches[0], names, ns, variant, ch)
    if ch is not None and ch.minimum is not None and k in ("int", "long", "float", "double"):
        lo, hi = ch.minimum, ch.maximum
        v = {"min": lo, "max": hi}.get(variant, (lo + hi) / 2)
        return int(v) if k in ("int", "long") else float(v)
    if k == "null":
        return None
    if k == "boolean":
        return variant != "min"
    if k in ("int", "long"):
        return {"min": 0, "max": 2**31 - 1 if k == "int" else 2**63 - 1}.get(variant, 7)
    if k in ("float", "double"):
        return {"min": 0.0, "max": 1e6}.get(variant, 0.5)
    if k == "string":
        allowed = _channels.pattern_values(ch.pattern) if ch is not None else ()
        if allowed:  # one of a few values: the first, one in the middle, the last
            return allowed[{"min": 0, "max": -1}.get(variant, len(allowed) // 2)]
        return "ABC" if ch is not None and ch.pattern == r"^[A-Z]{3}$" else "sample-1"
    if k == "bytes":
        return b"\x00\x01"
    if k == "fixed":
        return b"\x00" * node["size"]
    if k == "enum":
        return node["symbols"][-1 if variant == "max" else 0]
    if k == "array":
        return [_value(node["items"], names, ns, variant, None)]
    if k == "map":
        return {"k": _value(node["values"], names, ns, variant, None)}
    if k == "record":
        return _record(node, names, ns, variant)
    raise ValueError(f"cannot make a sample of {_type_text(node)}")


def _record(schema: dict[str, Any], names: _Names, ns: str | None, variant: str) -> dict[str, Any]:
    full = _full_name(schema, ns)
    table = _channels.record_of(full)
    inner_ns = full.rpartition(".")[0] or None
    out = {}
    for f in schema["fields"]:
        ch = _channels.CHANNELS_BY_NAME[table].get(f["name"]) if table else None
        out[f["name"]] = _value(f["type"], names, inner_ns, variant, ch)
    return out


def sample_records(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Records with every field filled: at the channel table's minimum, middle and maximum
    (nullable fields null in the first; a string that takes one of a few values at its
    first, a middle and its last value), timestamps as int microseconds."""
    names = _Names()
    names.walk(schema)
    return [_record(schema, names, None, v) for v in ("min", "mid", "max")]


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, int | float)
            and isinstance(b, int | float)
            and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return all(k in a and _equal(a[k], v) for k, v in b.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bytes | str) and isinstance(b, bytes | str):
        ab = a.encode() if isinstance(a, str) else a
        bb = b.encode() if isinstance(b, str) else b
        return ab == bb
    return bool(a == b)


def data_problems(
    released: dict[str, Any], current: dict[str, Any], current_label: str, released_label: str
) -> list[Problem]:
    """Write samples with one schema, read them with the other, both ways."""
    problems = []
    for writer, reader, direction in (
        (released, current, "new readers cannot read old data"),
        (current, released, "old readers cannot read new data"),
    ):
        try:
            wp = parse_schema(_strip_logical(writer))
            rp = parse_schema(_strip_logical(reader))
        except Exception as exc:  # an invalid schema fails the gate, with fastavro's reason
            problems.append(Problem(current_label, released_label, None, f"invalid schema: {exc}"))
            return problems
        for sample in sample_records(writer):
            buf = io.BytesIO()
            schemaless_writer(buf, wp, sample)
            buf.seek(0)
            try:
                got = schemaless_reader(buf, wp, rp)
            except Exception as exc:
                problems.append(
                    Problem(
                        current_label,
                        released_label,
                        _field_in(str(exc), reader),
                        f"{direction}: a sample record fails to decode: {_short(exc)}",
                    )
                )
                break
            if not isinstance(got, dict):  # never: a record read with a record schema
                raise TypeError(f"a sample record decoded to a {type(got).__name__}")
            changed = [k for k in got if k in sample and not _equal(got[k], sample[k])]
            if changed:
                problems.append(
                    Problem(
                        current_label,
                        released_label,
                        changed[0],
                        f"{direction}: value changed in decoding ({sample[changed[0]]!r} -> "
                        f"{got[changed[0]]!r})",
                    )
                )
                break
    return problems


def _field_in(message: str, schema: dict[str, Any]) -> str | None:
    """The field an error message names ("No default value for field rpm ..."), if any."""
    names = _fields(schema)
    for m in re.finditer(r"\bfield '?([A-Za-z_][A-Za-z0-9_]*)", message):
        if m[1] in names:
            return m[1]
    return None


def _short(exc: Exception, limit: int = 160) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _field_at(locations: list[str], reader: Any) -> str | None:
    """The field name behind a location like ``/fields/14/type`` of the reader schema."""
    for loc in locations:
        m = re.match(r"^/fields/([0-9]+)", loc)
        fields = reader.get("fields", []) if isinstance(reader, dict) else []
        if m and int(m[1]) < len(fields):
            return str(fields[int(m[1])]["name"])
    return None


# --- 3. Apache Avro -------------------------------------------------------------------------


def apache_problems(
    released: dict[str, Any], current: dict[str, Any], current_label: str, released_label: str
) -> list[Problem] | None:
    """Apache Avro's verdict both ways, or None if the ``avro`` package is not installed."""
    try:
        from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
        from avro.schema import parse
    except ImportError:
        return None
    problems = []
    old, new = parse(json.dumps(released)), parse(json.dumps(current))
    for writer, reader, direction in (
        (old, new, "new readers cannot read old data"),
        (new, old, "old readers cannot read new data"),
    ):
        result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
        if result.compatibility is SchemaCompatibilityType.incompatible:
            where = sorted(loc for loc in result.locations if loc != "/")
            problems.append(
                Problem(
                    current_label,
                    released_label,
                    _field_at(where, reader.to_json()),
                    f"{direction} (Apache Avro: {'; '.join(sorted(result.messages))}"
                    f"{' at ' + ', '.join(where) if where else ''})",
                )
            )
    return problems


# --- the gate ------------------------------------------------------------------------------


def check_pair(current: Path, released: Path, schema_dir: Path = _topics.SCHEMA_DIR) -> PairReport:
    """All problems between a current schema file and one released version of it."""
    report = PairReport(current, released)
    cl, rl = _label(current, schema_dir), _label(released, schema_dir)
    try:
        new, old = _load(current), _load(released)
    except (OSError, ValueError) as exc:
        report.problems.append(Problem(cl, rl, None, f"cannot read schema: {exc}"))
        return report
    structural = structural_problems(old, new, cl, rl)
    data = data_problems(old, new, cl, rl)
    apache = apache_problems(old, new, cl, rl)
    report.apache_checked = apache is not None
    report.problems.extend(structural)
    # The data and reference checks mostly restate what the structural check named; keep
    # theirs only when the structural check found nothing, so the output stays readable.
    if not structural:
        report.problems.extend(data)
        report.problems.extend(apache or [])
    return report


def check_all(schema_dir: Path = _topics.SCHEMA_DIR) -> list[PairReport]:
    """Check every current schema against every released version of it."""
    reports = []
    history = schema_dir / "history"
    for current in current_schemas(schema_dir):
        for released in released_versions(current.stem, history):
            reports.append(check_pair(current, released, schema_dir))
    return reports


def unreleased(schema_dir: Path = _topics.SCHEMA_DIR) -> list[Path]:
    """Current schemas without any released version (nothing to check them against)."""
    history = schema_dir / "history"
    return [p for p in current_schemas(schema_dir) if not released_versions(p.stem, history)]


def matches_latest_release(current: Path, schema_dir: Path = _topics.SCHEMA_DIR) -> bool:
    """Whether ``current`` is identical (as JSON) to its newest released version."""
    versions = released_versions(current.stem, schema_dir / "history")
    return bool(versions) and _load(versions[-1]) == _load(current)
