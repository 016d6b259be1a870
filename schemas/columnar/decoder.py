"""Framed Avro values to columns, a whole batch at a time: the mirror of
``Serializer.encode_columns``.

A consumer that handles records in batches (the InfluxDB sink writes thousands per request)
would otherwise spend most of its time in fastavro, one record after another. Here the values
of a batch are joined into one buffer and decoded field by field with numpy, every row at once:
the position of each row's next field is a vector, fixed-size fields are read as one
structured array, varints and string lengths with a few vector operations per byte, and the
strings, which repeat (a session, a few cars and drivers), are decoded and checked once per
distinct value.

Which records take which path:

* numpy, for the usual case: a framed value whose writer schema has the reader schema's fields
  (same names, same primitive types, same order; docs may differ), whose body decodes to
  exactly its length, and whose values satisfy the contract (the channel table's ranges and
  patterns, as ``RecordValidator`` checks them). An older writer schema whose fields are the
  reader's first ones (a version that only added fields at the end, with defaults) takes this
  path too: its fields are decoded, the others are the reader's defaults, as Avro's
  resolution gives them;
* ``Deserializer.decode_with_id``, one record at a time, for everything else: another older
  or newer writer schema (resolved to the reader schema as usual), an unframed value, an unknown
  schema id, a body that does not decode cleanly, a record that breaks the contract, and every
  record of a reader schema that is not flat and primitive. So such a record gets exactly the
  record, or the DecodeError with its reason, that it gets on its own, and it costs its batch no
  more than its own decode.

Records of an older writer schema get the reader's defaults for the fields it lacks, as
everywhere; ``DecodedColumns.absent`` says which records those are, for a consumer that stores
only what was sent (the InfluxDB sink). A nullable field (``["null", <type>]``, a channel
that means "not measured" when null) is a column of its type too, with a placeholder where a
record holds null (NaN, 0, false, or None for a string), and those rows are in ``absent``
as well: to a consumer that stores what was sent, a null and a field the writer did not have
are the same thing.

The numpy path decodes what fastavro decodes, value for value: a float becomes the float32 it
was written as, a boolean is true for any non-zero byte, a varint may be longer than needed.
Varints wider than nine bytes (beyond +-2**62) take the per-record path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from schemas.deserializer import Deserializer
from schemas.framing import HEADER_SIZE
from schemas.schema_files import full_name
from schemas.serde_errors import DecodeError
from schemas.validation import FieldSpec, field_specs

__all__ = [
    "ColumnDecoder",
    "DecodedColumns",
    "columns_of",
    "decode_each",
    "null_masks",
    "placeholder",
]

# The column dtype of each Avro type; anything else is held as Python objects.
COLUMN_DTYPES = {
    "string": np.dtype(object),
    "int": np.dtype(np.int64),
    "long": np.dtype(np.int64),
    "float": np.dtype(np.float32),
    "double": np.dtype(np.float64),
    "boolean": np.dtype(np.bool_),
}
_FIXED_DTYPES = {"float": "<f4", "double": "<f8", "boolean": "u1"}
_VARINT_TYPES = ("int", "long")
_VARINT_MAX_BYTES = 9  # 63 bits of zigzag: every value within +-2**62
_STRING_RUN_MAX_BYTES = 256  # wider runs of strings are told apart by slicing, not vectors
_DISTINCT_CACHE_MAX = 10_000  # distinct string runs remembered; cleared when full
_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True, slots=True)
class DecodedColumns:
    """The records of a batch that decoded, as columns, and why the others did not.

    ``rows`` holds, in ascending order, the index in the batch of each decoded record;
    ``columns`` maps each field of the reader schema to one value per decoded record (dtypes
    in ``COLUMN_DTYPES``: strings are object arrays of ``str``, floats float32, timestamps int64
    microseconds; a nullable primitive holds the placeholder of :func:`placeholder` where a
    record has null; any other type is an object array). ``codes`` dictionary-encodes each
    string column, for grouping without
    hashing every row: ``columns[f] == values[codes]`` for ``(codes, values) = codes[f]``,
    and equal codes mean equal strings. ``errors`` lists ``(index in the batch, DecodeError)``
    in ascending order. ``absent`` marks, for each field that some record's writer schema
    does not have (an older version) or that some record holds as null, the decoded records
    without a value of it (the reader schema's default, or null): ``absent[f][i]`` for the
    i-th decoded record. Fields every record has a value of are not in it.
    """

    rows: np.ndarray
    columns: dict[str, np.ndarray]
    codes: dict[str, tuple[np.ndarray, np.ndarray]]
    errors: list[tuple[int, DecodeError]]
    absent: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)


def placeholder(avro_type: str) -> Any:
    """What a column of ``avro_type`` holds where a nullable field is null."""
    return {"float": np.nan, "double": np.nan, "int": 0, "long": 0, "boolean": False}.get(avro_type)


def null_masks(records: Sequence[Mapping[str, Any]], names: Iterable[str]) -> dict[str, np.ndarray]:
    """For each of ``names`` that some record holds as None: where the records do."""
    masks = {}
    for name in names:
        mask = np.fromiter((r[name] is None for r in records), dtype=bool, count=len(records))
        if mask.any():
            masks[name] = mask
    return masks


def _dictionary(values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    index: dict[Any, int] = {}
    codes = np.fromiter(
        (index.setdefault(v, len(index)) for v in values), dtype=np.intp, count=len(values)
    )
    distinct = np.empty(len(index), dtype=object)
    distinct[:] = list(index)
    return codes, distinct


def columns_of(
    records: Sequence[Mapping[str, Any]], types: Mapping[str, str]
) -> tuple[dict[str, np.ndarray], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """``(columns, codes)`` of decoded records, for the fields in ``types`` (name -> Avro
    type), in the dtypes and form of :class:`DecodedColumns` (a None in a number or boolean
    column becomes its :func:`placeholder`)."""
    columns: dict[str, np.ndarray] = {}
    codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, avro_type in types.items():
        values = [r[name] for r in records]
        if avro_type == "string":
            codes[name] = _dictionary(values)
            columns[name] = codes[name][1].take(codes[name][0])
            continue
        dtype = COLUMN_DTYPES.get(avro_type, np.dtype(object))
        if dtype.kind == "O":
            column = np.empty(len(values), dtype=object)
            column[:] = values
            columns[name] = column
        else:
            if None in values:
                fill = placeholder(avro_type)
                values = [fill if v is None else v for v in values]
            columns[name] = np.array(values, dtype=dtype)
    return columns, codes


def decode_each(
    decode: Callable[[Any], Mapping[str, Any]],
    values: Sequence[Any],
    types: Mapping[str, str],
    nullable: Iterable[str] = (),
) -> DecodedColumns:
    """The batch decoded one record at a time with ``decode``: DecodeErrors are collected,
    anything else (an unreachable registry) is raised. The nulls of the ``nullable`` fields
    are marked in ``absent``."""
    records = []
    rows = []
    errors: list[tuple[int, DecodeError]] = []
    for i, value in enumerate(values):
        try:
            records.append(decode(value))
        except DecodeError as exc:
            errors.append((i, exc))
            continue
        rows.append(i)
    columns, codes = columns_of(records, types)
    absent = null_masks(records, nullable)
    return DecodedColumns(np.array(rows, dtype=np.intp), columns, codes, errors, absent)


def _simple_type(avro_type: Any) -> str | None:
    """The primitive type a field is written with (``"?float"`` for ``["null", "float"]``),
    or None for anything else."""
    if isinstance(avro_type, list):
        if len(avro_type) == 2 and avro_type[0] == "null":
            inner = _simple_type(avro_type[1])
            return f"?{inner}" if inner is not None and not inner.startswith("?") else None
        return None
    if isinstance(avro_type, dict):
        avro_type = avro_type.get("type")
    return avro_type if isinstance(avro_type, str) and avro_type in COLUMN_DTYPES else None


def _varints(buf: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Zigzag varints at ``pos``: ``(values as int64, bytes taken, readable)``; a varint
    longer than _VARINT_MAX_BYTES is not readable here."""
    byte = buf[pos]
    more = byte >= 0x80
    if not more.any():  # one byte each: gears, sectors, short strings
        z = byte.astype(np.int64)
        return (z >> 1) ^ -(z & 1), np.ones(len(pos), dtype=np.int64), np.ones(len(pos), bool)
    z = (byte & 0x7F).astype(np.uint64)
    width = np.ones(len(pos), dtype=np.int64)
    for k in range(1, _VARINT_MAX_BYTES):
        byte = buf[pos + k]
        z |= ((byte & 0x7F).astype(np.uint64) << np.uint64(7 * k)) * more
        width += more
        more &= byte >= 0x80
        if not more.any():
            break
    signed = z.view(np.int64)
    return (signed >> 1) ^ -(signed & 1), width, ~more


class _StringRun:
    """Adjacent string fields, decoded together: each distinct run of their bytes is decoded
    (and checked against the fields' patterns) once, and the rows share its strings."""

    def __init__(self, specs: list[FieldSpec], validate: bool) -> None:
        self.specs = specs
        self.validate = validate
        # bytes of a run -> its strings, or None when they do not decode or break a pattern
        self._distinct: dict[bytes, tuple[str | None, ...] | None] = {}

    def _strings(self, run: bytes) -> tuple[str | None, ...] | None:
        known = self._distinct.get(run, False)
        if known is not False:
            return known  # type: ignore[return-value]
        if len(self._distinct) >= _DISTINCT_CACHE_MAX:
            self._distinct.clear()
        strings: tuple[str | None, ...] | None
        try:
            strings = tuple(self._parse(run))
        except (UnicodeDecodeError, IndexError):  # IndexError: the empty run of a bad row
            strings = None
        if strings is not None and self.validate:
            for spec, text in zip(self.specs, strings, strict=True):
                if text is None:
                    continue  # a null: a nullable field's, as the vector pass checked
                if spec.pattern is not None and spec.pattern.fullmatch(text) is None:
                    strings = None
                    break
        self._distinct[run] = strings
        return strings

    def _parse(self, run: bytes) -> list[str | None]:
        """The strings of a run whose lengths (and union branches) the vector pass has
        already checked."""
        out: list[str | None] = []
        at = 0
        for spec in self.specs:
            if spec.nullable:
                at += 1
                if run[at - 1] == 0:
                    out.append(None)
                    continue
            z = shift = 0
            while True:
                byte = run[at]
                at += 1
                z |= (byte & 0x7F) << shift
                shift += 7
                if byte < 0x80:
                    break
            size = (z >> 1) ^ -(z & 1)
            out.append(run[at : at + size].decode("utf-8"))
            at += size
        return out

    def decode(
        self, data: bytes, buf: np.ndarray, begin: np.ndarray, end: np.ndarray, ok: np.ndarray
    ) -> tuple[np.ndarray, list[tuple[str | None, ...] | None]]:
        """Per row, a code into the list of distinct runs' strings (None: not decodable)."""
        width = np.where(ok, end - begin, 0)
        widest = int(width.max()) if len(width) else 0
        if widest > _STRING_RUN_MAX_BYTES:
            return self._by_slicing(data, begin, width)
        # Each row's run as 64-bit words (bytes past its end zeroed), hashed to one number;
        # rows with equal hashes are then compared word by word, so a collision cannot merge
        # two different runs.
        size = max(8, -(-widest // 8) * 8)
        window = sliding_window_view(buf, size)[begin]
        window *= np.arange(size) < width[:, None]
        words = window.view("<u8")
        key = width.astype(np.uint64)
        with np.errstate(over="ignore"):
            for j in range(words.shape[1]):
                key = key * _HASH_MULTIPLIER + words[:, j]
        _, first, codes = np.unique(key, return_index=True, return_inverse=True)
        same = first[codes]
        if not ((words == words[same]).all() and (width == width[same]).all()):
            return self._by_slicing(data, begin, width)
        starts = begin[first].tolist()
        ends = (begin + width)[first].tolist()
        return codes.ravel(), [self._strings(data[a:b]) for a, b in zip(starts, ends, strict=True)]

    def _by_slicing(
        self, data: bytes, begin: np.ndarray, width: np.ndarray
    ) -> tuple[np.ndarray, list[tuple[str | None, ...] | None]]:
        index: dict[bytes, int] = {}
        runs = [data[a : a + w] for a, w in zip(begin.tolist(), width.tolist(), strict=True)]
        codes = np.fromiter(
            (index.setdefault(r, len(index)) for r in runs), dtype=np.intp, count=len(runs)
        )
        return codes, [self._strings(r) for r in index]


class ColumnDecoder:
    """Decodes batches of framed values with the writer schemas, reader schema and checks of
    ``deserializer``; see the module doc for which records take which path.

    Build one per consumer and reuse it: it remembers which schema ids it can decode with
    numpy, and the distinct strings it has seen.
    """

    def __init__(self, deserializer: Deserializer) -> None:
        self.deserializer = deserializer
        reader = deserializer.reader_schema
        validator = deserializer.validator
        self.validate = validator is not None
        self.specs = validator.specs if validator is not None else field_specs(reader)
        # A nullable primitive is a column of its type (nulls marked in ``absent``); a field
        # of any other type is held as objects.
        self.types = {s.name: s.avro_type for s in self.specs}
        self.nullable = tuple(s.name for s in self.specs if s.nullable)
        self.record_name = full_name(reader)
        self.layout = [(f["name"], _simple_type(f["type"])) for f in reader["fields"]]
        self.supported = all(t is not None for _, t in self.layout)
        self._ids: dict[int, bool] = {}  # schema id -> decodable with numpy
        self._prefix: dict[int, int] = {}  # schema id -> how many of the reader's fields it has
        self._missing: dict[int, frozenset[str]] = {}  # schema id -> reader fields it lacks
        self._defaults = {f["name"]: f["default"] for f in reader["fields"] if "default" in f}
        self._plans: dict[int, list[tuple[str, Any]]] = {}
        self._segments = self._plan(len(self.specs)) if self.supported else []
        widest = max((item[0] for kind, item in self._segments if kind == "fixed"), default=0)
        self._pad = bytes(max(widest, _VARINT_MAX_BYTES, _STRING_RUN_MAX_BYTES + 8) + 1)
        self._checks = self._range_checks() if self.validate else []

    def _plan(self, fields: int) -> list[tuple[str, Any]]:
        """The reader's first ``fields`` fields as segments: ("strings", run), ("varint",
        spec) and ("fixed", (width, structured dtype, specs)) for adjacent fixed-size fields."""
        known = self._plans.get(fields)
        if known is not None:
            return known
        segments: list[tuple[str, Any]] = []
        fixed: list[FieldSpec] = []

        def close_fixed() -> None:
            if fixed:
                dtype = np.dtype(
                    {
                        "names": [s.name for s in fixed],
                        "formats": [_FIXED_DTYPES[s.avro_type] for s in fixed],
                    }
                )
                segments.append(("fixed", (dtype.itemsize, dtype, list(fixed))))
                fixed.clear()

        for spec in self.specs[:fields]:
            t = spec.avro_type
            if t in _FIXED_DTYPES and not spec.nullable:
                fixed.append(spec)
                continue
            close_fixed()
            if spec.nullable and t != "string":
                # Adjacent nullable numbers as one segment: a source that lacks them sends a
                # run of null branches, which one look tells.
                if segments and segments[-1][0] == "nullable":
                    segments[-1][1].append(spec)
                else:
                    segments.append(("nullable", [spec]))
            elif t in _VARINT_TYPES:
                segments.append(("varint", spec))
            elif segments and segments[-1][0] == "strings":
                segments[-1][1].specs.append(spec)
            else:
                segments.append(("strings", _StringRun([spec], self.validate)))
        close_fixed()
        self._plans[fields] = segments
        return segments

    def _range_checks(self) -> list[tuple[str, Any, Any]]:
        """(field, lowest, highest) for every ranged numeric field, as RecordValidator checks
        them: a float32 column is compared as float32 only when both bounds are float32s."""
        checks = []
        for spec in self.specs:
            if spec.minimum is None or spec.avro_type not in ("int", "long", "float", "double"):
                continue
            lo: float | np.float32 = spec.minimum
            hi: float | np.float32 | None = spec.maximum
            if spec.avro_type == "float":
                exact = all(float(np.float32(b)) == b for b in (lo, hi))
                if exact:
                    lo, hi = np.float32(lo), np.float32(hi)
            checks.append((spec.name, lo, hi))
        return checks

    def _numpy_decodable(self, schema_id: int) -> bool:
        """Whether records of ``schema_id`` are written with the reader's fields, or its first
        ones with defaults for the rest. Asked after a record of that id went through the
        per-record path, so the writer schema is cached (or the id is known to be unknown)
        and this asks the registry nothing."""
        known = self._ids.get(schema_id)
        if known is not None:
            return known
        try:
            writer = self.deserializer.writer_schema(schema_id)
        except DecodeError:
            return False  # an unknown id or a broken schema: every record says so itself
        fields = writer.get("fields") if writer.get("type") == "record" else None
        written = [(f["name"], _simple_type(f["type"])) for f in fields or []]
        k = len(written)
        decodable = (
            fields is not None
            and full_name(writer) == self.record_name
            and written == self.layout[:k]
            and all(name in self._defaults for name, _ in self.layout[k:])
        )
        self._ids[schema_id] = decodable
        if decodable:
            self._prefix[schema_id] = k
        return decodable

    def decode_columns(self, values: Sequence[bytes]) -> DecodedColumns:
        """Decode every value of a batch; see :class:`DecodedColumns`.

        Raises what the registry raises when a writer schema cannot be fetched
        (InfrastructureError): retry the batch, never dead-letter it.
        """
        rows = len(values)
        if rows == 0:
            return decode_each(self.deserializer.decode, values, self.types, self.nullable)
        sizes = np.fromiter(map(len, values), dtype=np.int64, count=rows)
        data = b"".join(values)
        buf = np.frombuffer(data + self._pad, dtype=np.uint8)
        ends = np.cumsum(sizes)
        starts = ends - sizes
        header = sliding_window_view(buf, HEADER_SIZE)[starts]
        ids = header[:, 1:].copy().view(">u4").ravel()
        framed = (sizes >= HEADER_SIZE) & (header[:, 0] == 0)
        decoded = self._decode_batch(values, data, buf, starts, ends, ids, framed)
        return self._mark_absent(decoded, ids)

    def _mark_absent(self, decoded: DecodedColumns, ids: np.ndarray) -> DecodedColumns:
        """``decoded`` with :attr:`DecodedColumns.absent` filled from each record's writer
        (on top of the nulls its decoding marked)."""
        if not len(decoded):
            return decoded
        writer_ids = ids[decoded.rows]  # every decoded record is framed: its id is real
        lacking: dict[str, list[int]] = {}
        for schema_id in np.unique(writer_ids).tolist():
            for name in self._fields_missing(schema_id):
                lacking.setdefault(name, []).append(schema_id)
        if not lacking:
            return decoded
        absent = dict(decoded.absent)
        for name, lacked in lacking.items():
            mask = np.isin(writer_ids, lacked)
            absent[name] = mask | absent[name] if name in absent else mask
        return DecodedColumns(decoded.rows, decoded.columns, decoded.codes, decoded.errors, absent)

    def _fields_missing(self, schema_id: int) -> frozenset[str]:
        """The reader's fields that the writer schema ``schema_id`` does not have. Asked
        after a record of that id decoded, so the writer schema is cached."""
        known = self._missing.get(schema_id)
        if known is None:
            width = self._prefix.get(schema_id)
            if width is not None:
                known = frozenset(name for name, _ in self.layout[width:])
            else:
                writer = self.deserializer.writer_schema(schema_id)
                names = {f["name"] for f in writer.get("fields", [])}
                known = frozenset(name for name, _ in self.layout if name not in names)
            self._missing[schema_id] = known
        return known

    def _decode_batch(
        self,
        values: Sequence[bytes],
        data: bytes,
        buf: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        ids: np.ndarray,
        framed: np.ndarray,
    ) -> DecodedColumns:
        """Every value of the batch: with numpy where it can, one by one otherwise."""
        rows = len(values)
        if not self.supported:
            return decode_each(self.deserializer.decode, values, self.types, self.nullable)
        fast = framed.copy()
        # The first record of an id not seen yet is decoded on its own, before the others:
        # that fetches the writer schema, and the record gets exactly the error (an unknown
        # id, say) that the first such record gets when records are decoded one by one.
        alone: dict[int, Mapping[str, Any] | DecodeError] = {}
        distinct, first = np.unique(ids[fast], return_index=True)
        rows_first = np.flatnonzero(fast)[first].tolist()
        for schema_id, row in zip(distinct.tolist(), rows_first, strict=True):
            if schema_id not in self._ids:
                alone[row] = self._decode_one(values[row])
                fast[row] = False
            if not self._numpy_decodable(schema_id):
                fast &= ids != schema_id
        picked = np.flatnonzero(fast)
        parts = []
        if len(picked):
            # By how many of the reader's fields the writer has: all of them, as a rule.
            widths = np.array([self._prefix[i] for i in ids[picked].tolist()], dtype=np.intp)
            distinct_widths = np.unique(widths).tolist()
            for width in distinct_widths:
                group = picked if len(distinct_widths) == 1 else picked[widths == width]
                ok, columns, codes, nulls = self._decode(
                    data, buf, starts[group] + HEADER_SIZE, ends[group], width
                )
                if not ok.all():
                    group = group[ok]
                    columns = {name: col[ok] for name, col in columns.items()}
                    codes = {name: (c[ok], v) for name, (c, v) in codes.items()}
                    nulls = {name: mask[ok] for name, mask in nulls.items()}
                nulls = {name: mask for name, mask in nulls.items() if mask.any()}
                parts.append(DecodedColumns(group, columns, codes, [], nulls))
            picked = np.sort(np.concatenate([p.rows for p in parts]))
            if len(parts) == 1 and len(picked) == rows:
                return parts[0]
        rest = np.setdiff1d(np.arange(rows), picked, assume_unique=True)

        def decode(row: int) -> Mapping[str, Any]:
            done = alone.get(row)
            if done is None:
                return self.deserializer.decode(values[row])
            if isinstance(done, DecodeError):
                raise done
            return done

        slow = decode_each(decode, rest.tolist(), self.types, self.nullable)
        slow_part = DecodedColumns(
            rest[slow.rows], slow.columns, slow.codes, _at(rest, slow), slow.absent
        )
        if not parts:
            return slow_part
        return _concat([*parts, slow_part])

    def _decode_one(self, value: bytes) -> Mapping[str, Any] | DecodeError:
        try:
            return self.deserializer.decode(value)
        except DecodeError as exc:
            return exc

    def _written(self, fields: int) -> frozenset[str]:
        """The names of the reader's first ``fields`` fields."""
        return frozenset(s.name for s in self.specs[:fields])

    def _decode(
        self, data: bytes, buf: np.ndarray, pos: np.ndarray, end: np.ndarray, fields: int
    ) -> tuple[
        np.ndarray,
        dict[str, np.ndarray],
        dict[str, tuple[np.ndarray, np.ndarray]],
        dict[str, np.ndarray],
    ]:
        """The bodies from ``pos`` to ``end``, written with the reader's first ``fields``
        fields: which rows decode cleanly and satisfy the checks, the columns of all rows
        (garbage in the rows that do not; the reader's defaults for the fields not written),
        and where each nullable field written is null."""
        rows = len(pos)
        ok = np.ones(rows, dtype=bool)
        # Past the end of the data a position stops at `limit`, beyond every row's end, so
        # reads stay inside the padding and the final test fails the row.
        limit = len(data) + 1
        pos = pos.copy()
        columns: dict[str, np.ndarray] = {}
        codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        nulls: dict[str, np.ndarray] = {}
        for kind, item in self._plan(fields):
            if kind == "fixed":
                width, dtype, specs = item
                table = sliding_window_view(buf, width)[pos].view(dtype).ravel()
                for spec in specs:
                    col = table[spec.name]
                    columns[spec.name] = col != 0 if spec.avro_type == "boolean" else col.copy()
                pos += width
            elif kind == "varint":
                columns[item.name], width, readable = _varints(buf, pos)
                ok &= readable
                pos += width
            elif kind == "nullable":
                if not sliding_window_view(buf, len(item))[pos].any():
                    # Every field of the run null in every row: its bytes are all zero.
                    for spec in item:
                        t = spec.avro_type
                        columns[spec.name] = np.full(rows, placeholder(t), COLUMN_DTYPES[t])
                        nulls[spec.name] = np.ones(rows, dtype=bool)
                    pos += len(item)
                    continue
                for spec in item:
                    present = self._branch(buf, pos, ok)
                    nulls[spec.name] = ~present
                    columns[spec.name], width = self._values(spec, buf, pos, present, ok)
                    pos += np.where(present, width, 0)
            else:
                begin = pos.copy()
                for spec in item.specs:
                    valued = self._branch(buf, pos, ok) if spec.nullable else None
                    size, width, readable = _varints(buf, pos)
                    step = width + np.maximum(size, 0)
                    if valued is None:
                        ok &= readable & (size >= 0)
                        pos += step
                    else:
                        ok &= ~valued | (readable & (size >= 0))
                        pos += np.where(valued, step, 0)
                    np.minimum(pos, limit, out=pos)
                run_codes, strings = item.decode(data, buf, begin, pos, ok)
                decodable = np.array([s is not None for s in strings], dtype=bool)
                ok &= decodable[run_codes]
                for i, spec in enumerate(item.specs):
                    distinct = np.empty(len(strings), dtype=object)
                    distinct[:] = [s[i] if s is not None else "" for s in strings]
                    codes[spec.name] = (run_codes, distinct)
                    columns[spec.name] = distinct.take(run_codes)
                    if spec.nullable:
                        is_null = np.array([s is not None and s[i] is None for s in strings], bool)
                        nulls[spec.name] = is_null[run_codes]
            np.minimum(pos, limit, out=pos)
        ok &= pos == end
        for spec in self.specs[fields:]:
            default = self._defaults[spec.name]
            if spec.avro_type == "string":
                distinct = np.empty(1, dtype=object)
                distinct[0] = default
                codes[spec.name] = (np.zeros(rows, dtype=np.intp), distinct)
                columns[spec.name] = distinct.take(codes[spec.name][0])
            else:
                if default is None:
                    default = placeholder(spec.avro_type)
                columns[spec.name] = np.full(rows, default, dtype=COLUMN_DTYPES[spec.avro_type])
        written = self._written(fields) if fields < len(self.specs) else None
        for name, lo, hi in self._checks:
            if written is not None and name not in written:
                continue  # a default, which the contract allows
            null = nulls.get(name)
            if null is not None and null.all():
                continue  # null everywhere, which the contract allows
            col = columns[name]
            if isinstance(lo, float | int) and col.dtype == np.float32:
                col = col.astype(np.float64)
            inside = (col >= lo) & (col <= hi)  # NaN compares false: the record's own decode says
            if null is not None:
                inside |= null
            ok &= inside
        return ok, columns, codes, nulls

    @staticmethod
    def _values(
        spec: FieldSpec, buf: np.ndarray, pos: np.ndarray, present: np.ndarray, ok: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        """A nullable number's or boolean's values at ``pos`` where ``present`` (the
        placeholder elsewhere), and the width of each."""
        t = spec.avro_type
        width: Any
        if t in _VARINT_TYPES:
            values, width, readable = _varints(buf, pos)
            ok &= readable | ~present
        else:
            width = np.dtype(_FIXED_DTYPES[t]).itemsize
            raw = sliding_window_view(buf, width)[pos].view(_FIXED_DTYPES[t]).ravel()
            values = raw != 0 if t == "boolean" else raw.copy()
        values[~present] = placeholder(t)
        return values, width

    @staticmethod
    def _branch(buf: np.ndarray, pos: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """Reads a ``["null", type]`` union's branch at ``pos`` (moving past it): where the
        value follows. A branch other than 0 (null) or 1 (zigzag 2) fails the row."""
        branch = buf[pos]
        present = branch == 2
        ok &= present | (branch == 0)
        pos += 1
        return present


def _concat(parts: list[DecodedColumns]) -> DecodedColumns:
    """Parts of one batch (rows decoded with numpy, rows decoded one by one), in batch order."""
    rows = np.concatenate([p.rows for p in parts])
    order = np.argsort(rows, kind="stable")
    first = parts[0]
    merged = {
        name: np.concatenate([p.columns[name] for p in parts])[order] for name in first.columns
    }
    merged_codes = {}
    for name in first.codes:
        offset = 0
        all_codes, all_values = [], []
        for p in parts:
            c, v = p.codes[name]
            all_codes.append(c + offset)
            all_values.append(v)
            offset += len(v)
        merged_codes[name] = (np.concatenate(all_codes)[order], np.concatenate(all_values))
    errors = sorted((e for p in parts for e in p.errors), key=lambda e: e[0])
    absent = {}
    for name in {n for p in parts for n in p.absent}:
        masks = [p.absent.get(name, np.zeros(len(p.rows), dtype=bool)) for p in parts]
        absent[name] = np.concatenate(masks)[order]
    return DecodedColumns(rows[order], merged, merged_codes, errors, absent)


def _at(rest: np.ndarray, slow: DecodedColumns) -> list[tuple[int, DecodeError]]:
    """The errors of the rows decoded one by one, by their index in the batch."""
    return [(int(rest[i]), exc) for i, exc in slow.errors]
