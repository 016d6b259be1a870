"""Column batches to framed Avro with numpy: ``Serializer.encode_columns``.

A producer that keeps its state in numpy arrays hands over a whole batch as columns (field ->
array, one element per record). Each row is laid out in one structured array and cut into
bytes, byte for byte what ``Serializer.encode`` writes for it. Varints and range checks run in
the compiled loops of :mod:`schemas.columnar.kernels`, imported at the first batch so that a
process that never encodes columns never loads numba.

A nullable field (``["null", <type>]``) takes a typed array (every row has a value) or an
object array or list with ``None`` for the nulls; a column that has a default may be left out
of a batch, and every row then gets the default, as ``encode`` writes a record without it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from schemas.framing import header
from schemas.serde_errors import RecordError
from schemas.validation import FieldSpec, RecordValidator, check_value, describe

__all__ = ["ColumnEncoder"]

_FIXED_DTYPES = {"float": "<f4", "double": "<f8", "boolean": "u1"}
_VARINT_TYPES = ("int", "long")
_STRING_CACHE_MAX = 100_000  # distinct string tuples kept per run of string fields
_INT64_MAX = 2**63 - 1


def _split_rows(rows: np.ndarray, sizes: np.ndarray | None) -> list[bytes]:
    """One bytes object per row of a (rows, width) byte matrix: the first ``sizes[i]`` bytes
    of row i (all of them when ``sizes`` is None; the rest of a row is zeros).

    numpy makes the whole list in one C loop from a fixed-size type: the raw type (``V``)
    keeps every byte, so rows of one size take it; the bytes type (``S``) drops trailing zero
    bytes, which are then the padding of the shorter rows, so rows of several sizes take it
    when no row ends in a zero byte (a null, a false, a 0), else each size's rows the raw
    type, in a pass per size.
    """
    n, width = rows.shape
    if n == 0:
        return []
    if sizes is None:
        return _raw_rows(rows)
    if rows[np.arange(n), sizes - 1].all():
        return np.ascontiguousarray(rows).view(f"S{width}").reshape(n).tolist()
    out = np.empty(n, dtype=object)
    for size in np.unique(sizes).tolist():
        picked = np.flatnonzero(sizes == size)
        same = np.empty(len(picked), dtype=object)
        same[:] = _raw_rows(rows[picked, :size])
        out[picked] = same
    return out.tolist()


def _merge_constants(parts: list[tuple[str, Any, str, Any]]) -> list[tuple[str, Any, str, Any]]:
    """Adjacent parts that are the same in every row (data given as bytes: defaults of
    left-out fields, union branches) as one part: one assignment per batch instead of one
    each."""
    merged: list[tuple[str, Any, str, Any]] = []
    for part in parts:
        if isinstance(part[1], bytes) and merged and isinstance(merged[-1][1], bytes):
            label, before = merged[-1][:2]
            data = before + part[1]
            merged[-1] = (label, data, f"{len(data)}u1", None)
        else:
            merged.append(part)
    return merged


def _raw_rows(rows: np.ndarray) -> list[bytes]:
    """Every byte of each row of a (rows, width) byte matrix, as bytes objects."""
    n, width = rows.shape
    return np.ascontiguousarray(rows).view(f"V{width}").reshape(n).tolist()


def _varint_bytes(value: int) -> bytes:
    """Avro's zigzag varint of a long, as fastavro writes it."""
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _default_bytes(spec: FieldSpec, value: Any) -> bytes:
    """The Avro encoding of a field's default (a nullable field's default is null: the union's
    first branch)."""
    if spec.nullable:
        if value is not None:
            raise ValueError(f"field {spec.name!r}: a nullable field's default must be null")
        return b"\x00"
    t = spec.avro_type
    if t == "boolean":
        return b"\x01" if value else b"\x00"
    if t in _VARINT_TYPES:
        return _varint_bytes(int(value))
    if t in _FIXED_DTYPES:
        return np.array(value, dtype=_FIXED_DTYPES[t]).tobytes()
    raw = str(value).encode("utf-8")
    return _varint_bytes(len(raw)) + raw


def _null_mask(column: Any) -> np.ndarray | None:
    """Where an object column (or a list) holds None; None for a typed array, which cannot."""
    if isinstance(column, np.ndarray) and column.dtype != object:
        return None
    return np.fromiter((v is None for v in column), dtype=bool, count=len(column))


def _varint_columns(values: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Zigzag varints of a non-empty int64 column: a (rows, width) byte matrix, left-aligned,
    and the length of each row's varint (None when every row takes the full width)."""
    from schemas.columnar.kernels import zigzag_varints

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

    def __init__(self, specs: list[FieldSpec]) -> None:
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
            if value is None and spec.nullable:
                parts.append(b"\x00")  # the union's null branch
                continue
            if type(value) is not str:
                raise RecordError(
                    f"field {spec.name!r}: expected string, got {describe(value)}", spec.name
                )
            raw = value.encode("utf-8")
            branch = b"\x02" if spec.nullable else b""  # the union's second branch, zigzag 1
            parts.append(branch + _varint_bytes(len(raw)) + raw)
        self._codes[key] = len(self._encoded)
        self._encoded.append(b"".join(parts))

    def _check(self, record_name: str, key: Any) -> None:
        values = key if len(self.specs) > 1 else (key,)
        for spec, value in zip(self.specs, values, strict=True):
            check_value(record_name, spec, value)

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

    def matrix(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
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


class ColumnEncoder:
    """Encodes a column batch with numpy: each row is laid out in one structured array (the
    header, then each field at its widest in this batch), then the bytes are cut per row.

    The layout of an Avro body is the concatenation of its fields' encodings: fixed-size
    little-endian floats and doubles, a byte per boolean, zigzag varints for int and long,
    length-prefixed UTF-8 for strings. When every row has the same field lengths (the usual
    case: same-size strings and varints) the rows are the array's rows; otherwise a mask
    keeps each row's used bytes.

    ``schema_id`` goes in each row's header, ``validator`` checks the batch, and
    ``encode_record`` (the serializer's ``encode``) encodes, row by row, the batches numpy cannot:
    a schema that is not flat and primitive (nullable primitives are flat enough), or a batch
    without some field that has no default in ``defaults`` (field -> the schema's default).
    """

    def __init__(
        self,
        schema_id: int,
        validator: RecordValidator,
        encode_record: Callable[..., bytes],
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.validator = validator
        self.encode_record = encode_record
        self.record_name = validator.record_name
        self.names = frozenset(s.name for s in validator.specs)
        self.supported = True
        # Segments in field order: ("fixed", spec) | ("varint", spec) | ("strings", run) |
        # ("nullable", spec) for a nullable number or boolean.
        self.segments: list[tuple[str, Any]] = []
        for spec in validator.specs:
            t = spec.avro_type
            if t not in ("string", *_VARINT_TYPES, *_FIXED_DTYPES):
                self.supported = False
                break
            if t == "string":
                if self.segments and self.segments[-1][0] == "strings":
                    self.segments[-1][1].specs.append(spec)
                    self.segments[-1][1].names.append(spec.name)
                else:
                    self.segments.append(("strings", _StringRun([spec])))
            elif spec.nullable:
                self.segments.append(("nullable", spec))
            else:
                self.segments.append(("varint" if t in _VARINT_TYPES else "fixed", spec))
        # Field -> its default's value and encoding, for a batch that leaves the field out.
        self._defaults: dict[str, tuple[Any, bytes]] = {}
        specs = {s.name: s for s in validator.specs}
        for field_name, value in (defaults or {}).items():
            known = specs.get(field_name)
            if known is not None and known.has_default and known.avro_type != "complex":
                self._defaults[field_name] = (value, _default_bytes(known, value))
        self._default_columns: dict[tuple[str, int], np.ndarray] = {}
        self._templates: dict[tuple[tuple[str, ...], tuple[bytes, ...]], np.ndarray] = {}
        self._header = np.frombuffer(header(schema_id), dtype=np.uint8)
        self._layouts: dict[tuple[str, ...], np.dtype] = {}

    def encode(self, columns: Mapping[str, Any], validate: bool) -> list[bytes]:
        missing = self.names.difference(columns)
        if not self.supported or not missing.issubset(self._defaults):
            return self._per_record(columns, validate)
        name = self.record_name
        if validate:
            for key in columns:
                if key not in self.names:
                    raise RecordError(f"unknown column {name}.{key!s}", str(key))
        lengths_seen = {len(columns[n]) for n in self.names if n not in missing}
        if len(lengths_seen) > 1:
            raise RecordError(f"{name}: columns of different lengths {sorted(lengths_seen)}", "*")
        rows = lengths_seen.pop()
        if validate:
            self.validator.check_columns(columns)
        if rows == 0:
            return []
        if missing:
            # A left-out string next to given ones is a column of its default (a run of
            # strings is encoded by distinct values); any other left-out field is the
            # constant bytes of its default, below.
            columns = dict(columns)
            for kind, item in self.segments:
                if kind == "strings" and not missing.issuperset(item.names):
                    for spec in item.specs:
                        if spec.name in missing:
                            columns[spec.name] = self._default_column(spec.name, rows)
        # (label, data, dtype of one row's part, lengths or None when all are full width);
        # data is bytes for a part that is the same in every row.
        parts: list[tuple[str, Any, str, np.ndarray | None]] = []
        for kind, item in self.segments:
            label = f"p{len(parts)}"
            if kind == "strings" and missing.issuperset(item.names):
                constant = b"".join(self._defaults[n][1] for n in item.names)
                parts.append((label, constant, f"{len(constant)}u1", None))
            elif kind == "strings":
                data, lens = item.matrix(item.codes(columns, validate, name))
                parts.append((label, data, f"{data.shape[1]}u1", lens))
            elif item.name in missing:
                constant = self._defaults[item.name][1]
                parts.append((label, constant, f"{len(constant)}u1", None))
            elif kind == "varint":
                data, lens = _varint_columns(self._typed(item, np.asarray(columns[item.name])))
                parts.append((label, data, f"{data.shape[1]}u1", lens))
            elif kind == "nullable":
                parts.extend(self._nullable(label, item, columns[item.name], rows))
            else:
                data = self._typed(item, np.asarray(columns[item.name]))
                parts.append((label, data, _FIXED_DTYPES[item.avro_type], None))
        parts = _merge_constants(parts)
        layout_key = tuple(p[2] for p in parts)
        layout = self._layouts.get(layout_key)
        if layout is None:
            layout = np.dtype([("h", "5u1"), *((p[0], p[2]) for p in parts)])
            self._layouts[layout_key] = layout
        size = layout.itemsize
        # Every row starts as a copy of one row holding the header and the parts that are the
        # same in every row (union branches, left-out defaults): one copy, not one per part.
        constants = tuple(data for _, data, _, _ in parts if isinstance(data, bytes))
        template = self._template(layout, layout_key, constants, parts)
        raw = np.empty((rows, size), dtype=np.uint8)
        raw[:] = template
        table = raw.view(layout).reshape(rows)
        with np.errstate(over="ignore"):  # a double beyond float32 becomes inf, as in fastavro
            for label, data, _, _ in parts:
                if not isinstance(data, bytes):
                    table[label] = data
        narrow = [(label, data, lens) for label, data, _, lens in parts if lens is not None]
        if not narrow:
            return _split_rows(raw, None)  # every row as wide as the layout
        fields = layout.fields
        if fields is None:  # never: the layout is a structured dtype, built above
            raise TypeError(f"{name}: row layout {layout} has no fields")
        from schemas.columnar.kernels import pack_rows

        # Each row's bytes moved to the left, zeros after them.
        offsets = np.array([fields[label][1] for label, _, _ in narrow], dtype=np.int64)
        widths = np.array([data.shape[1] for _, data, _ in narrow], dtype=np.int64)
        lengths = np.stack([lens.astype(np.int64, copy=False) for _, _, lens in narrow])
        packed, row_sizes = pack_rows(raw, offsets, widths, lengths)
        return _split_rows(packed, row_sizes)

    def _template(
        self,
        layout: np.dtype,
        layout_key: tuple[str, ...],
        constants: tuple[bytes, ...],
        parts: list[tuple[str, Any, str, Any]],
    ) -> np.ndarray:
        """The bytes of a row of ``layout`` with the header and the constant parts set."""
        key = (layout_key, constants)
        template = self._templates.get(key)
        if template is None:
            row = np.zeros(1, dtype=layout)
            row["h"] = self._header
            for label, data, _, _ in parts:
                if isinstance(data, bytes):
                    row[label] = np.frombuffer(data, np.uint8)
            template = row.view(np.uint8).copy()
            if len(self._templates) >= 256:
                self._templates.clear()
            self._templates[key] = template
        return template

    def _default_column(self, name: str, rows: int) -> np.ndarray:
        """A read-only column of ``name``'s default, the same object for the same size (so
        its run of strings finds its codes by identity, as for a producer's own columns)."""
        key = (name, rows)
        column = self._default_columns.get(key)
        if column is None:
            if len(self._default_columns) >= 64:
                self._default_columns.clear()
            column = np.full(rows, self._defaults[name][0], dtype=object)
            column.flags.writeable = False
            self._default_columns[key] = column
        return column

    def _nullable(
        self, label: str, spec: FieldSpec, column: Any, rows: int
    ) -> list[tuple[str, Any, str, np.ndarray | None]]:
        """The parts of a nullable number or boolean: the union's branch (zigzag 0 = null,
        1 = the value), then the value's bytes in the rows that have one."""
        nulls = _null_mask(column)
        if nulls is None or not nulls.any():
            # Every row has a value (the usual case): a constant branch byte, then the value.
            values = self._typed(spec, np.asarray(column if nulls is None else list(column)))
            if spec.avro_type in _VARINT_TYPES:
                data, lens = _varint_columns(values)
                return [
                    (label, b"\x02", "1u1", None),
                    (f"{label}v", data, f"{data.shape[1]}u1", lens),
                ]
            return [
                (label, b"\x02", "1u1", None),
                (f"{label}v", values, _FIXED_DTYPES[spec.avro_type], None),
            ]
        if nulls.all():
            return [(label, b"\x00", "1u1", None)]
        filler = False if spec.avro_type == "boolean" else 0
        filled = [filler if v is None else v for v in column]
        values = self._typed(spec, np.asarray(filled))
        if spec.avro_type in _VARINT_TYPES:
            data, lens = _varint_columns(values)
            width = data.shape[1]
            used = np.full(rows, width) if lens is None else lens
        else:
            dtype = np.dtype(_FIXED_DTYPES[spec.avro_type])
            width = dtype.itemsize
            data = np.ascontiguousarray(values, dtype=dtype).view(np.uint8).reshape(rows, width)
            used = np.full(rows, width)
        matrix = np.zeros((rows, 1 + width), dtype=np.uint8)
        matrix[:, 0] = np.where(nulls, 0, 2)
        matrix[:, 1:] = data
        return [(label, matrix, f"{1 + width}u1", np.where(nulls, 1, 1 + used))]

    def _typed(self, spec: FieldSpec, arr: np.ndarray) -> np.ndarray:
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
        encode = self.encode_record
        return [
            encode(dict(zip(names, row, strict=True)), validate=validate)
            for row in zip(*lists, strict=True)
        ]
