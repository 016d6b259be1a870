"""Decoded columns to InfluxDB line protocol, with tags and field types from the channel table.

Point identity is measurement + tag set + timestamp, so a replayed record lands on the same
key and overwrites itself instead of adding a point.

A point holds the fields its record has a value of: a field its writer schema did not have
(an older version), or a nullable channel the record holds as null ("not measured", telemetry
v3's game channels in a simulator's record), is left out of the line rather than stored as a
made-up value; ``DecodedColumns.absent`` says which.

Tags are ``session_id``, ``car_id`` and ``driver`` (the table's identifiers). ``driver`` is
one-to-one with the car within a session, so it adds no series; ``lap`` is an integer *field*,
not a tag: as a tag it would multiply the series by the laps (20 cars x 60 laps x 20 fields
= 24,000 short series per session instead of 400), and a lap is a contiguous time range of one
car's series anyway, which is what the history queries select on (see ``storage.history``).

A batch is formatted column by column with Arrow, not record by record: each column is turned
into text in one call, and the lines are joined from the columns in another, so the sink's
Python cost per point stays small next to influxd's. Numbers are written as the shortest text
that reads back as the same number (Arrow's float formatting): doubles as the shortest
decimal of the double, Avro ``float`` channels as the shortest decimal of the float32. So a
value read back from InfluxDB is exactly the double that was sent, or rounds to exactly the
float32 that was sent (``0.1``, not ``0.100000001``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.channels import TELEMETRY, InfluxType, channels
from schemas.serde import DecodedColumns, columns_of, null_masks
from storage.layout import MEASUREMENT, TIME_FIELD

# Distinct tag combinations remembered by an encoder (sessions x cars); cleared when full.
MAX_CACHED_SERIES = 10_000

# Tag values: comma, equals sign and space need a backslash (and the backslash itself).
_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\\": "\\\\"})
# String field values: a double quote and the backslash need a backslash.
_FIELD_ESCAPES = str.maketrans({'"': r"\"", "\\": "\\\\"})

# The numpy dtype and Arrow type a column is formatted from, and the suffix after the value.
_FORMATS = {
    "float": (np.float32, pa.float32(), ""),  # an Avro float: the shortest text of the float32
    "double": (np.float64, pa.float64(), ""),
    "integer": (np.int64, pa.int64(), "i"),
    "boolean": (np.bool_, pa.bool_(), ""),  # Arrow writes true / false
    "string": (object, pa.string(), ""),  # in double quotes, escaped (see _string_field)
}
_TIME_FORMAT = _FORMATS["integer"][:2]


def escape_tag(value: str) -> str:
    return value.translate(_TAG_ESCAPES)


# Arrays are made from their buffers: pa.array and pa.scalar would import pandas on first use,
# half a second of CPU taken from influxd, and look at every column for pandas types.


def _arrow(column: np.ndarray, dtype: Any, arrow_type: pa.DataType) -> pa.Array:
    """An Arrow array of a numpy column (zero-copy except booleans, which Arrow packs)."""
    values = np.ascontiguousarray(column, dtype=dtype)
    if arrow_type == pa.bool_():
        values = np.packbits(values, bitorder="little")
    return pa.Array.from_buffers(arrow_type, len(column), [None, pa.py_buffer(values)])


def _strings(texts: Sequence[str]) -> pa.Array:
    data = [t.encode() for t in texts]
    offsets = np.zeros(len(data) + 1, dtype=np.int32)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]
    return pa.Array.from_buffers(pa.string(), len(data), buffers)


def _text(column: np.ndarray, dtype: Any, arrow_type: pa.DataType) -> pa.Array:
    return _arrow(column, dtype, arrow_type).cast(pa.string())


def _body(lines: pa.Array) -> bytes:
    """The bytes of a string array whose every value ends in a newline: its data buffer."""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset :]
    start, stop = int(offsets[0]), int(offsets[len(lines)])
    return lines.buffers()[2].slice(start, stop - start).to_pybytes()


class LineEncoder:
    """Turns decoded columns of one record kind into newline-terminated line protocol."""

    def __init__(self, record: str = TELEMETRY) -> None:
        self.record = record
        self.measurement = MEASUREMENT[record]
        self.time_field = TIME_FIELD[record]
        self.types = {c.name: c.avro_type for c in channels(record)}
        self.nullable = tuple(c.name for c in channels(record) if c.nullable)
        self.tag_names = [c.name for c in channels(record) if c.influx_type == "tag"]
        # (field, numpy dtype, Arrow type, suffix after the value) of every field in order.
        self._fields: list[tuple[str, Any, pa.DataType, str]] = []
        for c in channels(record):
            kind: InfluxType | Literal["double"] = c.influx_type
            if kind == "tag" or c.name == self.time_field:
                continue
            if kind == "float" and c.avro_type == "double":
                kind = "double"
            if kind == "time":  # a time that is not the point's timestamp: integer µs
                kind = "integer"
            if kind not in _FORMATS:
                raise ValueError(f"no line protocol field type for {kind!r}")
            dtype, arrow_type, suffix = _FORMATS[kind]
            self._fields.append((c.name, dtype, arrow_type, suffix))
        self._plans: dict[frozenset[str], tuple[list[tuple[Any, str]], Any]] = {}
        self._newline, self._nothing = list(_strings(["\n", ""]))
        self._by_type: dict[tuple[Any, pa.DataType], list[str]] = {}
        for name, dtype, arrow_type, _ in [*self._fields, (self.time_field, *_TIME_FORMAT, "")]:
            self._by_type.setdefault((dtype, arrow_type), []).append(name)
        self._heads: dict[tuple[str, ...], str] = {}

    def _plan(self, skip: frozenset[str]) -> tuple[list[tuple[Any, str]], Any]:
        """(text before the value, field) for the fields not in ``skip``, and the text before
        the timestamp. The text after a value is carried into the text before the next one."""
        found = self._plans.get(skip)
        if found is None:
            kept = [f for f in self._fields if f[0] not in skip]
            texts, before = [], " "
            for name, _, _, suffix in kept:
                texts.append(f"{before}{name}=")
                before = f"{suffix},"
            literals = list(_strings([*texts, before[:-1] + " "]))
            plan = [(lit, f[0]) for lit, f in zip(literals[:-1], kept, strict=True)]
            found = self._plans[skip] = (plan, literals[-1])
        return found

    def encode(self, decoded: DecodedColumns) -> bytes:
        """One line per decoded record, each ending in a newline, in ``decoded.rows`` order.

        A record written with an older schema gets no value for the fields that schema does
        not have, nor for a nullable field it holds as null (``decoded.absent``): the point
        stores what was sent, not the reader's defaults."""
        if len(decoded) == 0:
            return b""
        # A field no row has a value of (a channel the source does not measure) is never
        # written: not formatted either.
        unwritten = frozenset(name for name, mask in decoded.absent.items() if mask.all())
        texts = self._texts(decoded, unwritten)
        head = self._head_column(decoded)
        groups = self._groups(decoded.absent)
        if len(groups) == 1:
            return _body(self._join(groups[0][0], head, texts))
        pieces, order = [], []
        for skip, rows in groups:
            pick = _arrow(rows, np.int64, pa.int64())
            picked = {name: text.take(pick) for name, text in texts.items()}
            pieces.append(self._join(skip, head.take(pick), picked))
            order.append(rows)
        back = _arrow(np.argsort(np.concatenate(order), kind="stable"), np.int64, pa.int64())
        return _body(pa.concat_arrays(pieces).take(back))

    def _join(self, skip: frozenset[str], head: pa.Array, texts: Mapping[str, pa.Array]) -> Any:
        plan, before_time = self._plan(skip)
        parts: list[Any] = [head]
        for before, name in plan:
            parts += [before, texts[name]]
        parts += [before_time, texts[self.time_field], self._newline, self._nothing]
        return pc.binary_join_element_wise(*parts)

    @staticmethod
    def _groups(absent: Mapping[str, np.ndarray]) -> list[tuple[frozenset[str], np.ndarray]]:
        """The rows by the set of fields they lack (one group, all rows, when none lacks
        any: the usual case)."""
        if not absent:
            return [(frozenset(), np.empty(0, dtype=np.int64))]
        names = list(absent)
        key = np.zeros(len(absent[names[0]]), dtype=np.int64)
        for bit, name in enumerate(names):
            key |= absent[name].astype(np.int64) << bit
        groups = []
        for k in np.unique(key).tolist():
            skip = frozenset(n for bit, n in enumerate(names) if k >> bit & 1)
            groups.append((skip, np.flatnonzero(key == k)))
        return groups

    def _texts(self, decoded: DecodedColumns, unwritten: frozenset[str]) -> dict[str, pa.Array]:
        """Every field's values as text (but the ``unwritten`` ones). Columns of one type are
        formatted in one call, which costs less than a call each for the batches of a few
        thousand the sink makes."""
        columns = decoded.columns
        texts = {}
        for (dtype, arrow_type), every in self._by_type.items():
            names = [name for name in every if name not in unwritten]
            if not names:
                continue
            if arrow_type == pa.string():
                for name in names:
                    texts[name] = self._string_field(decoded, name)
                continue
            rows = len(columns[names[0]])
            stacked = np.concatenate([np.asarray(columns[n], dtype=dtype) for n in names])
            text = _text(stacked, dtype, arrow_type)
            for k, name in enumerate(names):
                texts[name] = text.slice(k * rows, rows)
        return texts

    @staticmethod
    def _string_field(decoded: DecodedColumns, name: str) -> pa.Array:
        """A string field's values in double quotes, each distinct value quoted once."""
        codes, distinct = decoded.codes[name]
        # A null (a nullable field's) is never written: its rows are absent; "" keeps its place.
        quoted = _strings(
            [f'"{v.translate(_FIELD_ESCAPES)}"' if v is not None else "" for v in distinct.tolist()]
        )
        return quoted.take(_arrow(codes, np.int64, pa.int64()))

    def encode_records(self, records: Sequence[Mapping[str, Any]]) -> bytes:
        """The lines of already decoded records (dicts of the record's fields)."""
        columns, codes = columns_of(records, self.types)
        rows = np.arange(len(records), dtype=np.intp)
        absent = null_masks(records, self.nullable)
        return self.encode(DecodedColumns(rows, columns, codes, [], absent))

    def _head_column(self, decoded: DecodedColumns) -> pa.Array:
        """Measurement and escaped tags of every row. The tags repeat for every sample of a
        car, so each distinct combination is built once, from the string columns' codes."""
        key: np.ndarray | None = None
        for name in self.tag_names:
            codes, distinct = decoded.codes[name]
            key = codes.astype(np.int64) if key is None else key * len(distinct) + codes
        assert key is not None
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        tags = [decoded.columns[name].take(first).tolist() for name in self.tag_names]
        heads = [self._heads.get(t) or self._head(t) for t in zip(*tags, strict=True)]
        rows = inverse.ravel().astype(np.int64)
        return _strings(heads).take(_arrow(rows, np.int64, pa.int64()))

    def _head(self, tags: tuple[str, ...]) -> str:
        if len(self._heads) >= MAX_CACHED_SERIES:
            self._heads.clear()
        text = ",".join(f"{n}={escape_tag(v)}" for n, v in zip(self.tag_names, tags, strict=True))
        self._heads[tags] = head = f"{self.measurement},{text}"
        return head
