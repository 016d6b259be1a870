"""Avro with Confluent framing: the bytes every record on every topic is made of.

Wire format of a Kafka message value::

    byte 0      magic byte, always 0x00
    bytes 1..4  schema id, unsigned 32-bit big-endian, as assigned by the registry
    bytes 5..   Avro binary body (no container header), written with that schema

:class:`Serializer` checks a record against the schema and the channel table, then frames it.
:class:`Deserializer` reads the id, fetches the writer schema from the registry once (cached,
so a registry restart does not stop consumers), decodes and resolves to the reader schema
(the schema the consuming code was written against), and checks the result again.

Timestamps (``timestamp-micros``) travel as plain ``int`` microseconds in both directions:
that is what the producer computes and what InfluxDB and Spark want, and it avoids building a
``datetime`` per record.
"""

from __future__ import annotations

import io
import json
import logging
import math
import re
import struct
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from schemas import channels as _channels
from schemas import topics as _topics
from schemas.registry import SchemaIdNotFoundError
from schemas.serde_errors import (
    BodyDecodeError,
    DecodeError,
    NotFramedError,
    RecordError,
    UnknownSchemaIdError,
)

if TYPE_CHECKING:
    from pyspark.sql import Column

    from schemas.registry import SchemaRegistry

__all__ = [
    "HEADER_SIZE",
    "MAGIC_BYTE",
    "DecodeError",
    "Deserializer",
    "RecordError",
    "SchemaSource",
    "Serializer",
    "frame",
    "framed_column",
    "from_avro_column",
    "load_schema",
    "schema_id_column",
    "schema_id_of",
    "split_frame",
    "strip_confluent_header",
    "strip_confluent_header_column",
]

log = logging.getLogger(__name__)

MAGIC_BYTE = 0
HEADER_SIZE = 5
_HEADER = struct.Struct(">BI")

Record = dict[str, Any]


# --- framing ---------------------------------------------------------------------------------


def frame(schema_id: int, body: bytes) -> bytes:
    """Prefix an Avro body with the Confluent header for ``schema_id``."""
    return _HEADER.pack(MAGIC_BYTE, schema_id) + body


def split_frame(data: bytes) -> tuple[int, memoryview]:
    """``(schema id, Avro body)`` of a framed value; NotFramedError if it is not framed."""
    if data is None or len(data) < HEADER_SIZE:
        size = "no value" if data is None else f"{len(data)} bytes"
        raise NotFramedError(f"not a Confluent-framed Avro value: {size}, need at least 5")
    magic, schema_id = _HEADER.unpack_from(data)
    if magic != MAGIC_BYTE:
        raise NotFramedError(
            f"not a Confluent-framed Avro value: magic byte {magic:#04x}, not 0x00"
        )
    return schema_id, memoryview(data)[HEADER_SIZE:]


def schema_id_of(data: bytes) -> int:
    """The writer schema id in a framed value's header."""
    return split_frame(data)[0]


def strip_confluent_header(data: bytes) -> bytes:
    """The Avro body of a framed value: the pure-bytes twin of the Spark expression."""
    return bytes(split_frame(data)[1])


def _quoted(column: str) -> str:
    return "`" + column.replace("`", "``") + "`"


def strip_confluent_header_column(column: str = "value") -> Column:
    """Spark SQL: the Avro body of the binary ``column``, for ``from_avro``.

    ``from_avro`` expects a bare Avro body, so the 5-byte header has to go first. Needs an
    active SparkSession (pyspark is imported here so the rest of the contract does not need
    it).
    """
    from pyspark.sql import functions as F

    c = _quoted(column)
    return F.expr(f"substring({c}, {HEADER_SIZE + 1}, length({c}) - {HEADER_SIZE})")


def schema_id_column(column: str = "value") -> Column:
    """Spark SQL: the writer schema id (bytes 2..5, big-endian) of the binary ``column``, as
    a bigint, so a job can check which writer schema each record has before decoding it."""
    from pyspark.sql import functions as F

    c = _quoted(column)
    return F.expr(f"cast(conv(hex(substring({c}, 2, 4)), 16, 10) as bigint)")


def framed_column(column: str = "value") -> Column:
    """Spark SQL: true where ``column`` has a Confluent header (long enough, magic byte 0);
    rows where it is false belong in the DLQ with reason ``not-framed``."""
    from pyspark.sql import functions as F

    c = _quoted(column)
    return F.expr(
        f"{c} is not null and length({c}) >= {HEADER_SIZE} and substring({c}, 1, 1) = X'00'"
    )


def from_avro_column(
    reader_schema: str | Path | Mapping[str, Any],
    writer_schemas: Mapping[int, str | Mapping[str, Any]],
    column: str = "value",
) -> Column:
    """Spark SQL: the decoded struct of the framed binary ``column``, in ``reader_schema``.

    Spark's ``from_avro`` takes the *writer* schema as its schema argument and resolves to the
    ``avroSchema`` option, but it cannot read the id in the header. So each record is decoded
    with the writer schema its id names (``writer_schemas``: id -> schema, e.g. every version of
    the subject from ``SchemaRegistry.versions``); records with other ids, unframed records and
    bodies that do not decode (PERMISSIVE mode) give null, for the job to send to the DLQ.
    Needs the spark-avro package on the session's classpath.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.avro.functions import from_avro

    reader_json = json.dumps(load_schema(reader_schema))
    body = strip_confluent_header_column(column)
    sid = schema_id_column(column)
    options = {"avroSchema": reader_json, "mode": "PERMISSIVE"}
    decoded = None
    for schema_id, writer in sorted(writer_schemas.items()):
        writer_json = json.dumps(load_schema(writer))
        value = from_avro(body, writer_json, options)
        cond = framed_column(column) & (sid == F.lit(schema_id))
        decoded = F.when(cond, value) if decoded is None else decoded.when(cond, value)
    if decoded is None:
        raise ValueError("from_avro_column needs at least one writer schema")
    return decoded


# --- schemas ---------------------------------------------------------------------------------


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


def _strip_logical_types(node: Any) -> Any:
    """The schema without logical types, so fastavro hands out raw ints for timestamps."""
    if isinstance(node, dict):
        return {k: _strip_logical_types(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_strip_logical_types(v) for v in node]
    return node


def _parse(schema: Mapping[str, Any]) -> dict[str, Any]:
    return parse_schema(_strip_logical_types(dict(schema)))


def _full_name(schema: Mapping[str, Any]) -> str:
    name = schema.get("name", "")
    ns = schema.get("namespace")
    return name if "." in name or not ns else f"{ns}.{name}"


def _same_schema(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


# --- validation ------------------------------------------------------------------------------

_MISSING = object()
_INT_BOUNDS = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_SEEN_MAX = 10_000  # valid strings remembered per field; beyond that, new ones pay the regex
_SIMPLE = {"string", "boolean", "int", "long", "float", "double", "bytes"}


@dataclass(frozen=True, slots=True)
class _FieldSpec:
    name: str
    avro_type: str  # one of _SIMPLE, or "complex" (left to fastavro)
    nullable: bool
    has_default: bool
    minimum: float | None
    maximum: float | None
    unit: str | None
    pattern: re.Pattern[str] | None


def _field_specs(schema: Mapping[str, Any]) -> list[_FieldSpec]:
    table = _channels.record_of(_full_name(schema))
    specs = []
    for field in schema["fields"]:
        ftype = field["type"]
        nullable = False
        if isinstance(ftype, list):
            branches = [t for t in ftype if t != "null"]
            nullable = len(branches) < len(ftype)
            ftype = branches[0] if len(branches) == 1 else "complex"
        if isinstance(ftype, dict):
            ftype = ftype["type"] if ftype.get("type") in _SIMPLE else "complex"
        if ftype not in _SIMPLE:
            ftype = "complex"
        ch = None
        if table is not None:
            ch = _channels.CHANNELS_BY_NAME[table].get(field["name"])
        lo, hi = _INT_BOUNDS.get(ftype, (None, None))
        if ch is not None and ch.minimum is not None:
            lo, hi = ch.minimum, ch.maximum
            if ftype in _INT_BOUNDS:
                lo, hi = int(lo), int(hi)  # type: ignore[arg-type]
        specs.append(
            _FieldSpec(
                name=field["name"],
                avro_type=ftype,
                nullable=nullable,
                has_default="default" in field,
                minimum=lo,
                maximum=hi,
                unit=ch.unit if ch is not None else None,
                pattern=re.compile(ch.pattern) if ch is not None and ch.pattern else None,
            )
        )
    return specs


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_value(record_name: str, spec: _FieldSpec, value: Any) -> None:
    """The precise check of one field: raises RecordError saying what is wrong with it."""
    where = f"{record_name}.{spec.name}"
    if value is None:
        if spec.nullable:
            return
        raise RecordError(f"field {where!r} is null but the schema does not allow null", spec.name)
    t = spec.avro_type
    if t == "complex":
        return
    if t == "string":
        if not isinstance(value, str):
            raise RecordError(
                f"field {where!r}: expected string, got {_describe(value)}", spec.name
            )
        if spec.pattern is not None and spec.pattern.fullmatch(value) is None:
            raise RecordError(
                f"field {where!r}: {_describe(value)} does not match {spec.pattern.pattern}",
                spec.name,
            )
        return
    if t == "bytes":
        if not isinstance(value, bytes | bytearray | memoryview):
            raise RecordError(f"field {where!r}: expected bytes, got {_describe(value)}", spec.name)
        return
    if t == "boolean":
        if not isinstance(value, bool | np.bool_):
            raise RecordError(
                f"field {where!r}: expected boolean, got {_describe(value)}", spec.name
            )
        return
    if isinstance(value, bool | np.bool_):
        raise RecordError(f"field {where!r}: expected {t}, got boolean {value!r}", spec.name)
    if t in _INT_BOUNDS:
        if not isinstance(value, int | np.integer):
            raise RecordError(f"field {where!r}: expected {t}, got {_describe(value)}", spec.name)
    elif not isinstance(value, int | float | np.integer | np.floating):
        raise RecordError(f"field {where!r}: expected {t}, got {_describe(value)}", spec.name)
    if spec.minimum is not None and not (spec.minimum <= value <= spec.maximum):  # type: ignore[operator]
        unit = f" {spec.unit}" if spec.unit and spec.unit != "none" else ""
        what = (
            "is not a number"
            if isinstance(value, float) and math.isnan(value)
            else "is out of range"
        )
        raise RecordError(
            f"field {where!r}: {_describe(value)} {what} {_channels.format_number(spec.minimum)}.."
            f"{_channels.format_number(spec.maximum)}{unit}",
            spec.name,
        )


class RecordValidator:
    """Checks records against one schema and the channel table.

    The check runs on every record the producer sends, so it is built for speed: a function
    generated from the schema tests all fields in one boolean expression, with exact type
    tests (``type(v) is float``) and chained range comparisons. Only when that says no (or a
    value is, say, a numpy scalar) does the field-by-field check run, which either accepts the
    record or raises a RecordError naming the field.
    """

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.record_name = str(schema["name"])
        self.specs = _field_specs(schema)
        self._names = frozenset(s.name for s in self.specs)
        self._seen: dict[str, set[str]] = {}
        self.fast = self._compile()

    def __call__(self, record: Mapping[str, Any]) -> None:
        """Raise RecordError unless ``record`` satisfies the schema and the channel table."""
        if not self.fast(record):
            self.check_slow(record)

    def check_slow(self, record: Mapping[str, Any]) -> None:
        if not isinstance(record, Mapping):
            raise RecordError(
                f"{self.record_name}: expected a mapping of fields, got {type(record).__name__}",
                "*",
            )
        for spec in self.specs:
            value = record.get(spec.name, _MISSING)
            if value is _MISSING:
                if spec.has_default:
                    continue
                raise RecordError(f"missing field {self.record_name}.{spec.name}", spec.name)
            _check_value(self.record_name, spec, value)
            if spec.pattern is not None:
                seen = self._seen.get(spec.name)
                if seen is not None and len(seen) < _SEEN_MAX:
                    seen.add(value)
        for name in record:
            if name not in self._names:
                raise RecordError(f"unknown field {self.record_name}.{name!s}", str(name))

    def _compile(self) -> Callable[[Mapping[str, Any]], bool]:
        env: dict[str, Any] = {"_MISSING": _MISSING}
        names = [s.name for s in self.specs]
        all_required = not any(s.has_default for s in self.specs)
        if all_required:
            # One C-level call fetches every field (KeyError if one is missing).
            env["_get"] = itemgetter(*names) if len(names) > 1 else (lambda r: (r[names[0]],))
            fetch = [f"({', '.join(f'v{i}' for i in range(len(names)))},) = _get(r)"]
            size_test = f"len(r) == {len(names)}"
        else:
            fetch = [
                f"v{i} = r.get({s.name!r}, _MISSING)" if s.has_default else f"v{i} = r[{s.name!r}]"
                for i, s in enumerate(self.specs)
            ]
            required = sum(1 for s in self.specs if not s.has_default)
            size_test = f"{required} <= len(r) <= {len(names)}"
        tests = [size_test]
        for i, spec in enumerate(self.specs):
            v = f"v{i}"
            test = self._test_for(spec, v, i, env)
            if spec.nullable:
                test = f"({v} is None or {test})"
            if spec.has_default:
                test = f"({v} is _MISSING or {test})"
            tests.append(test)
        body = " and\n        ".join(tests)
        src = (
            "def fast(r):\n"
            "    try:\n"
            + "".join(f"        {line}\n" for line in fetch)
            + f"        return ({body})\n"
            "    except (KeyError, TypeError, AttributeError):\n"
            "        return False\n"
        )
        exec(compile(src, f"<validator {self.record_name}>", "exec"), env)
        return env["fast"]

    def _test_for(self, spec: _FieldSpec, v: str, i: int, env: dict[str, Any]) -> str:
        t = spec.avro_type
        if t == "complex":
            return "True"
        if t == "string":
            if spec.pattern is None:
                return f"type({v}) is str"
            # Strings repeat (a handful of cars and drivers): a set lookup of values that
            # passed the regex before is several times cheaper than the regex.
            env[f"_seen{i}"] = self._seen.setdefault(spec.name, set())
            return f"{v} in _seen{i}"
        if t == "bytes":
            return f"type({v}) is bytes"
        if t == "boolean":
            return f"type({v}) is bool"
        if spec.minimum is None:
            type_test = f"type({v}) is int" if t in _INT_BOUNDS else f"type({v}) is float"
            return type_test
        # Exact float for float fields: ints (and numpy scalars) are fine too but rare, so
        # they take the slow path instead of costing every record a second type test.
        type_test = f"type({v}) is int" if t in _INT_BOUNDS else f"type({v}) is float"
        return f"{type_test} and {spec.minimum!r} <= {v} <= {spec.maximum!r}"

    def check_columns(self, columns: Mapping[str, Any]) -> None:
        """Vectorised range check of a batch held as columns (field -> array, one row per
        record), for a producer that keeps its state in numpy arrays: one comparison per field
        instead of one per value. Names the field and the first bad row."""
        for spec in self.specs:
            if spec.name not in columns:
                if spec.has_default:
                    continue
                raise RecordError(f"missing column {self.record_name}.{spec.name}", spec.name)
            if spec.minimum is None or spec.avro_type not in ("int", "long", "float", "double"):
                continue
            arr = np.asarray(columns[spec.name])
            if arr.dtype.kind not in "iuf":
                raise RecordError(
                    f"column {self.record_name}.{spec.name}: expected numbers, got {arr.dtype}",
                    spec.name,
                )
            if spec.avro_type in _INT_BOUNDS and arr.dtype.kind == "f":
                raise RecordError(
                    f"column {self.record_name}.{spec.name}: expected integers, got {arr.dtype}",
                    spec.name,
                )
            row = _first_outside(arr, spec)
            if row >= 0:
                _check_value(self.record_name, spec, arr.flat[row].item())
                raise RecordError(  # unreachable unless the scalar check disagrees
                    f"column {self.record_name}.{spec.name}: row {row} out of range", spec.name
                )


def _first_outside(column: np.ndarray, spec: _FieldSpec) -> int:
    """Index of the first value of a numeric column outside the field's range (NaN is), -1
    if none: one compiled pass for the usual 1-D int64 and float64 columns, numpy otherwise."""
    if column.size == 0:
        return -1
    integral = spec.avro_type in _INT_BOUNDS
    if column.ndim == 1 and column.dtype == (np.int64 if integral else np.float64):
        from schemas.encoder_kernels import first_outside

        low, high = column.dtype.type(spec.minimum), column.dtype.type(spec.maximum)
        return first_outside(np.ascontiguousarray(column), low, high)
    ok = (column >= spec.minimum) & (column <= spec.maximum)  # NaN compares false: refused
    return -1 if ok.all() else int(np.flatnonzero(~ok.ravel())[0])


# --- serializer ------------------------------------------------------------------------------


class Serializer:
    """Encodes records of one schema, registered under ``schema_id``, into framed Avro.

    Build one at start-up (``Serializer.for_subject``) and reuse it: the schema is parsed and
    the validator generated once.
    """

    def __init__(self, schema_id: int, schema: str | Path | Mapping[str, Any]) -> None:
        if not 0 <= schema_id < 2**32:
            raise ValueError(f"schema id {schema_id} does not fit the 4-byte header")
        self.schema_id = schema_id
        self.schema = load_schema(schema)
        self._parsed = _parse(self.schema)
        self._header = _HEADER.pack(MAGIC_BYTE, schema_id)
        self.validator = RecordValidator(self.schema)
        self._fast = self.validator.fast
        self._columns: _ColumnEncoder | None = None

    @classmethod
    def for_subject(
        cls, registry: SchemaRegistry, subject: str, schema: str | Path | Mapping[str, Any]
    ) -> Serializer:
        """A serializer for ``schema`` under the id the registry gave it in ``subject``.

        Raises ConfigError naming the subject if that exact schema is not registered there
        (services never register: ``f1-schemas register`` does), InfrastructureError naming
        the URL if the registry cannot be reached.
        """
        data = load_schema(schema)
        registered = registry.id_for(subject, data)
        return cls(registered.schema_id, data)

    def validate(self, record: Mapping[str, Any]) -> None:
        """Raise RecordError unless ``record`` satisfies the schema and the channel table."""
        self.validator(record)

    def encode(self, record: Mapping[str, Any], *, validate: bool = True) -> bytes:
        """The framed Avro bytes of ``record``; RecordError (naming the field) if it is invalid.

        ``validate=False`` skips the per-record check: only for records already checked as a
        batch with ``validate_columns``. A record fastavro cannot encode is still refused.
        """
        if validate and not self._fast(record):
            self.validator.check_slow(record)
        buf = io.BytesIO()
        buf.write(self._header)
        try:
            schemaless_writer(buf, self._parsed, record)
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
            self.validator.check_slow(record)  # names the field when it can
            raise RecordError(f"{self.validator.record_name}: cannot encode: {exc}", "*") from exc
        return buf.getvalue()

    def encode_many(self, records: Iterable[Mapping[str, Any]]) -> list[bytes]:
        return [self.encode(r) for r in records]

    def encode_columns(self, columns: Mapping[str, Any], *, validate: bool = True) -> list[bytes]:
        """The framed Avro bytes of every row of a column batch (field -> array, one element
        per record), byte for byte what :meth:`encode` gives for each row.

        Flat records of primitive types (string, int, long, float, double, boolean) are
        encoded with a few numpy operations per field for the whole batch; any other schema,
        or a batch without some field that has a default, goes through :meth:`encode` record
        by record. ``validate`` runs :meth:`validate_columns` and checks each distinct string
        once; types are always checked. RecordError names the field.
        """
        if self._columns is None:
            self._columns = _ColumnEncoder(self)
        return self._columns.encode(columns, validate)

    def prepare_columns(self) -> None:
        """Build the column encoder now, with its compiled functions (compiled on the first
        run ever, loaded from numba's cache afterwards), rather than at the first batch."""
        if self._columns is None:
            self._columns = _ColumnEncoder(self)
        if self._columns.supported:
            import schemas.encoder_kernels  # noqa: F401  (loading it readies the functions)

    def validate_columns(self, columns: Mapping[str, Any]) -> None:
        """Vectorised range check of a column batch (see RecordValidator.check_columns)."""
        self.validator.check_columns(columns)


# --- column encoder --------------------------------------------------------------------------

_FIXED_DTYPES = {"float": "<f4", "double": "<f8", "boolean": "u1"}
_VARINT_TYPES = ("int", "long")
_STRING_CACHE_MAX = 100_000  # distinct string tuples kept per run of string fields
_INT64_MAX = 2**63 - 1


def _split_rows(rows: np.ndarray, sizes: np.ndarray | None) -> list[bytes]:
    """One bytes object per row of a (rows, width) byte matrix: the first ``sizes[i]`` bytes
    of row i (all of them when ``sizes`` is None; the rest of a row is zeros).

    numpy's fixed-size bytes type makes the whole list in one C loop, but it drops trailing
    zero bytes: used only when no row's last byte is zero, otherwise rows are sliced.
    """
    n, width = rows.shape
    if n == 0:
        return []
    last = rows[:, -1] if sizes is None else rows[np.arange(n), sizes - 1]
    if last.all():
        return np.ascontiguousarray(rows).view(f"S{width}").reshape(n).tolist()
    data = rows.tobytes()
    if sizes is None:
        return [data[i : i + width] for i in range(0, n * width, width)]
    starts = range(0, n * width, width)
    return [data[a : a + s] for a, s in zip(starts, sizes.tolist(), strict=True)]


def _varint_bytes(value: int) -> bytes:
    """Avro's zigzag varint of a long, as fastavro writes it."""
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _varint_columns(values: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Zigzag varints of a non-empty int64 column: a (rows, width) byte matrix, left-aligned,
    and the length of each row's varint (None when every row takes the full width)."""
    from schemas.encoder_kernels import zigzag_varints

    out, lens, uniform = zigzag_varints(np.ascontiguousarray(values, dtype=np.int64))
    return out, None if uniform else lens


def _same_objects(given: Any, last: np.ndarray) -> bool:
    """Whether ``given`` is an object array holding the same values as ``last``, row by row
    (one C-level comparison per row; strings compare by identity first)."""
    return (
        isinstance(given, np.ndarray)
        and given.dtype == object
        and given.shape == last.shape
        and bool((given == last).all())
    )


def _frozen(column: Any) -> bool:
    """Whether ``column`` is a read-only array that owns its data: nothing can change its
    values (short of turning the flag back on), so the same object holds the same values."""
    return isinstance(column, np.ndarray) and not column.flags.writeable and column.flags.owndata


class _StringRun:
    """Adjacent string fields encoded as one segment. Their values repeat (a session, a few
    cars and drivers), so each distinct combination is encoded once, checked once, and
    rows are looked up by code. A batch whose columns are the last batch's (the same
    read-only arrays, or equal values) reuses its codes without a lookup per row."""

    def __init__(self, specs: list[_FieldSpec]) -> None:
        self.specs = specs
        self.names = [s.name for s in specs]
        self._codes: dict[Any, int] = {}
        self._encoded: list[bytes] = []
        self._checked: set[int] = set()
        self._table = np.zeros((0, 1), dtype=np.uint8)
        self._lens = np.zeros(0, dtype=np.int64)
        # The last object-array columns: as given, copies of their values, and their codes.
        self._last: tuple[list[Any], list[np.ndarray], np.ndarray] | None = None

    def _add(self, key: Any) -> None:
        values = key if len(self.specs) > 1 else (key,)
        parts = []
        for spec, value in zip(self.specs, values, strict=True):
            if type(value) is not str:
                raise RecordError(
                    f"field {spec.name!r}: expected string, got {_describe(value)}", spec.name
                )
            raw = value.encode("utf-8")
            parts.append(_varint_bytes(len(raw)) + raw)
        self._codes[key] = len(self._encoded)
        self._encoded.append(b"".join(parts))

    def _check(self, record_name: str, key: Any) -> None:
        values = key if len(self.specs) > 1 else (key,)
        for spec, value in zip(self.specs, values, strict=True):
            _check_value(record_name, spec, value)

    def codes(self, columns: Mapping[str, Any], validate: bool, record_name: str) -> np.ndarray:
        """The code of each row's combination of values, encoding (and with ``validate``
        checking) the combinations not seen before."""
        given = [columns[n] for n in self.names]
        if self._last is not None:
            # The same strings as the last batch (a producer's grid): the same read-only
            # objects, or equal values.
            objects, values, codes = self._last
            if all(a is b and _frozen(a) for a, b in zip(given, objects, strict=True)):
                return codes
            if all(_same_objects(a, b) for a, b in zip(given, values, strict=True)):
                self._last = (given, values, codes)
                return codes
        codes = self._lookup(given, validate, record_name)
        if all(isinstance(c, np.ndarray) and c.dtype == object for c in given):
            self._last = (given, [c.copy() for c in given], codes)
        return codes

    def _lookup(self, given: list[Any], validate: bool, record_name: str) -> np.ndarray:
        cols = [c.tolist() if isinstance(c, np.ndarray) else list(c) for c in given]
        rows = len(cols[0])
        keys = cols[0] if len(cols) == 1 else list(zip(*cols, strict=True))
        try:
            codes = np.fromiter(map(self._codes.__getitem__, keys), dtype=np.intp, count=rows)
        except (KeyError, TypeError):  # new values (or unhashable ones: refused in _add)
            if len(self._encoded) + rows > _STRING_CACHE_MAX:
                self._codes.clear()
                self._encoded.clear()
                self._checked.clear()
                self._last = None
            for key in keys:
                try:
                    known = key in self._codes
                except TypeError:
                    known = False
                if not known:
                    self._add(key)
            codes = np.fromiter(map(self._codes.__getitem__, keys), dtype=np.intp, count=rows)
        if validate and len(self._checked) < len(self._encoded):
            keys_by_code = {c: k for k, c in self._codes.items()}
            for code in np.unique(codes).tolist():
                if code not in self._checked:
                    self._check(record_name, keys_by_code[code])
                    self._checked.add(code)
        return codes

    def matrix(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(self._lens) != len(self._encoded):
            width = max(len(e) for e in self._encoded)
            table = np.zeros((len(self._encoded), width), dtype=np.uint8)
            for i, e in enumerate(self._encoded):
                table[i, : len(e)] = np.frombuffer(e, dtype=np.uint8)
            self._table = table
            self._lens = np.array([len(e) for e in self._encoded], dtype=np.int64)
        lens = self._lens.take(codes)
        width = int(lens.max())
        uniform = int(lens.min()) == width
        return self._table[:, :width].take(codes, axis=0), None if uniform else lens


class _ColumnEncoder:
    """Encodes a column batch with numpy: each row is laid out in one structured array (the
    header, then each field at its widest in this batch), then the bytes are cut per row.

    The layout of an Avro body is the concatenation of its fields' encodings: fixed-size
    little-endian floats and doubles, a byte per boolean, zigzag varints for int and long,
    length-prefixed UTF-8 for strings. When every row has the same field lengths (the usual
    case: same-size strings and varints) the rows are the array's rows; otherwise a mask
    keeps each row's used bytes.
    """

    def __init__(self, serializer: Serializer) -> None:
        self.serializer = serializer
        self.record_name = serializer.validator.record_name
        self.names = frozenset(s.name for s in serializer.validator.specs)
        self.supported = True
        # Segments in field order: ("fixed", spec) | ("varint", spec) | ("strings", run)
        self.segments: list[tuple[str, Any]] = []
        for spec in serializer.validator.specs:
            t = spec.avro_type
            if spec.nullable or t not in ("string", *_VARINT_TYPES, *_FIXED_DTYPES):
                self.supported = False
                break
            if t == "string":
                if self.segments and self.segments[-1][0] == "strings":
                    self.segments[-1][1].specs.append(spec)
                    self.segments[-1][1].names.append(spec.name)
                else:
                    self.segments.append(("strings", _StringRun([spec])))
            else:
                self.segments.append(("varint" if t in _VARINT_TYPES else "fixed", spec))
        self._header = np.frombuffer(serializer._header, dtype=np.uint8)
        self._layouts: dict[tuple[str, ...], np.dtype] = {}

    def encode(self, columns: Mapping[str, Any], validate: bool) -> list[bytes]:
        if not self.supported or not self.names.issubset(columns):
            return self._per_record(columns, validate)
        name = self.record_name
        if validate:
            for key in columns:
                if key not in self.names:
                    raise RecordError(f"unknown column {name}.{key!s}", str(key))
        lengths_seen = {len(columns[n]) for n in self.names}
        if len(lengths_seen) > 1:
            raise RecordError(f"{name}: columns of different lengths {sorted(lengths_seen)}", "*")
        rows = lengths_seen.pop()
        if validate:
            self.serializer.validate_columns(columns)
        if rows == 0:
            return []
        # (label, data, dtype of one row's part, lengths or None when all are full width)
        parts: list[tuple[str, np.ndarray, str, np.ndarray | None]] = []
        for kind, item in self.segments:
            label = f"p{len(parts)}"
            if kind == "strings":
                data, lens = item.matrix(item.codes(columns, validate, name))
                parts.append((label, data, f"{data.shape[1]}u1", lens))
            elif kind == "varint":
                data, lens = _varint_columns(self._typed(item, np.asarray(columns[item.name])))
                parts.append((label, data, f"{data.shape[1]}u1", lens))
            else:
                data = self._typed(item, np.asarray(columns[item.name]))
                parts.append((label, data, _FIXED_DTYPES[item.avro_type], None))
        key = tuple(p[2] for p in parts)
        layout = self._layouts.get(key)
        if layout is None:
            layout = np.dtype([("h", "5u1"), *((p[0], p[2]) for p in parts)])
            self._layouts[key] = layout
        table = np.empty(rows, dtype=layout)
        table["h"] = self._header
        with np.errstate(over="ignore"):  # a double beyond float32 becomes inf, as in fastavro
            for label, data, _, _ in parts:
                table[label] = data
        size = layout.itemsize
        raw = table.view(np.uint8).reshape(rows, size)
        narrow = [p for p in parts if p[3] is not None]
        if not narrow:
            return _split_rows(raw, None)  # every row as wide as the layout
        keep = np.ones((rows, size), dtype=bool)
        row_sizes = np.full(rows, size, dtype=np.int64)
        for label, data, _, lens in narrow:
            width = data.shape[1]
            offset = layout.fields[label][1]
            keep[:, offset : offset + width] = np.arange(width) < lens[:, None]
            row_sizes -= width - lens
        # Each row's bytes moved to the left, zeros after them.
        packed = np.zeros((rows, size), dtype=np.uint8)
        packed[np.arange(size) < row_sizes[:, None]] = raw[keep]
        return _split_rows(packed, row_sizes)

    def _typed(self, spec: _FieldSpec, arr: np.ndarray) -> np.ndarray:
        """The column in the dtype its encoding starts from; RecordError for a wrong type."""
        t = spec.avro_type
        kind = arr.dtype.kind
        where = f"column {self.record_name}.{spec.name}"
        if t == "boolean":
            if kind != "b":
                raise RecordError(f"{where}: expected booleans, got {arr.dtype}", spec.name)
            return arr
        if t in _VARINT_TYPES:
            if kind not in "iu":
                raise RecordError(f"{where}: expected integers, got {arr.dtype}", spec.name)
            if kind == "u" and arr.dtype.itemsize == 8 and len(arr) and arr.max() > _INT64_MAX:
                raise RecordError(f"{where}: value beyond the long range", spec.name)
            return arr.astype(np.int64, copy=False)
        if kind not in "iuf":
            raise RecordError(f"{where}: expected numbers, got {arr.dtype}", spec.name)
        if kind in "iu" and t == "float":
            # Python ints reach a float field through a double: round the same way.
            return arr.astype(np.float64)
        return arr

    def _per_record(self, columns: Mapping[str, Any], validate: bool) -> list[bytes]:
        names = list(columns)
        lists = [c.tolist() if isinstance(c, np.ndarray) else list(c) for c in columns.values()]
        encode = self.serializer.encode
        return [
            encode(dict(zip(names, row, strict=True)), validate=validate)
            for row in zip(*lists, strict=True)
        ]


# --- deserializer ----------------------------------------------------------------------------


class SchemaSource(Protocol):
    """Where a Deserializer finds writer schemas: the registry, or a fake in tests."""

    def schema_by_id(self, schema_id: int) -> str:
        """The schema text of ``schema_id``; raises registry.SchemaIdNotFoundError if the
        registry does not know it, InfrastructureError if the registry cannot be asked."""
        ...


@dataclass(frozen=True, slots=True)
class _Writer:
    parsed: dict[str, Any]
    reader: dict[str, Any] | None  # None when writer and reader schemas are the same


class Deserializer:
    """Decodes framed Avro written with any registered schema into the reader schema.

    ``reader_schema`` is the schema the consuming code understands (normally the ``.avsc``
    shipped with it). Records written with an older or newer compatible schema are resolved
    to it: fields the reader does not know are dropped, fields the writer did not have get
    their defaults. Writer schemas are cached by id for the life of the Deserializer; unknown
    ids are remembered for ``unknown_id_ttl_s`` so a flood of poison records does not become a
    flood of registry requests.
    """

    def __init__(
        self,
        registry: SchemaSource,
        reader_schema: str | Path | Mapping[str, Any],
        *,
        validate: bool = True,
        unknown_id_ttl_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self.reader_schema = load_schema(reader_schema)
        self._reader_plain = _strip_logical_types(self.reader_schema)
        self._reader_parsed = parse_schema(self._reader_plain)
        self.validator = RecordValidator(self.reader_schema) if validate else None
        self._writers: dict[int, _Writer] = {}
        self._unknown: dict[int, float] = {}
        self._unknown_ttl = unknown_id_ttl_s
        self._clock = clock

    def decode(self, data: bytes) -> Record:
        """The record in ``data``, in the reader schema; DecodeError (a subclass saying why) if
        it cannot be decoded or breaks the contract."""
        return self.decode_with_id(data)[1]

    def decode_with_id(self, data: bytes) -> tuple[int, Record]:
        """``(writer schema id, record)``; see :meth:`decode`."""
        schema_id, _ = split_frame(data)
        writer = self._writers.get(schema_id) or self._writer(schema_id)
        buf = io.BytesIO(data)
        buf.seek(HEADER_SIZE)
        try:
            record = schemaless_reader(buf, writer.parsed, writer.reader)
        except Exception as exc:  # fastavro raises many types for corrupt input; all mean the same
            raise BodyDecodeError(
                f"Avro body does not decode with writer schema id {schema_id}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if buf.tell() != len(data):
            raise BodyDecodeError(
                f"Avro body has {len(data) - buf.tell()} trailing bytes after a record of "
                f"writer schema id {schema_id}: written with another schema than its header says?"
            )
        if self.validator is not None:
            self.validator(record)
        return schema_id, record

    def writer_schema(self, schema_id: int) -> dict[str, Any]:
        """The parsed writer schema of ``schema_id`` (fetched once, then cached)."""
        return (self._writers.get(schema_id) or self._writer(schema_id)).parsed

    def _writer(self, schema_id: int) -> _Writer:
        now = self._clock()
        expiry = self._unknown.get(schema_id)
        if expiry is not None and now < expiry:
            raise UnknownSchemaIdError(f"unknown schema id {schema_id} (cached)", schema_id)
        try:
            text = self._registry.schema_by_id(schema_id)
        except SchemaIdNotFoundError as exc:
            self._unknown[schema_id] = now + self._unknown_ttl
            raise UnknownSchemaIdError(
                f"unknown schema id {schema_id}: the registry has no such schema", schema_id
            ) from exc
        try:
            plain = _strip_logical_types(json.loads(text))
            parsed = parse_schema(plain)
        except Exception as exc:
            raise BodyDecodeError(
                f"writer schema id {schema_id} is not a valid Avro schema"
            ) from exc
        reader = None if _same_schema(plain, self._reader_plain) else self._reader_parsed
        log.info(
            "writer schema id %d cached (%s)", schema_id, "same" if reader is None else "resolved"
        )
        writer = _Writer(parsed, reader)
        self._writers[schema_id] = writer
        return writer


# --- start-up helpers for the services ----------------------------------------------------------


def telemetry_serializer(
    registry: SchemaRegistry, topics: _topics.Topics | None = None
) -> Serializer:
    """The producer's serializer: schemas/telemetry.avsc under the telemetry value subject."""
    topics = topics or _topics.Topics.from_env()
    return Serializer.for_subject(registry, topics.telemetry_subject, _topics.TELEMETRY_SCHEMA_FILE)


def lap_summary_serializer(
    registry: SchemaRegistry, topics: _topics.Topics | None = None
) -> Serializer:
    """The analytics job's serializer: schemas/lap_summary.avsc under the analytics subject."""
    topics = topics or _topics.Topics.from_env()
    return Serializer.for_subject(
        registry, topics.analytics_subject, _topics.LAP_SUMMARY_SCHEMA_FILE
    )


def telemetry_deserializer(registry: SchemaSource, *, validate: bool = True) -> Deserializer:
    return Deserializer(registry, _topics.TELEMETRY_SCHEMA_FILE, validate=validate)


def lap_summary_deserializer(registry: SchemaSource, *, validate: bool = True) -> Deserializer:
    return Deserializer(registry, _topics.LAP_SUMMARY_SCHEMA_FILE, validate=validate)
