"""Column batches to framed Avro with numpy: ``Serializer.encode_columns``.

A producer that keeps its state in numpy arrays hands over a whole batch as columns (field ->
array, one element per record). Each row is laid out in one structured array and cut into
bytes, byte for byte what ``Serializer.encode`` writes for it. Varints and range checks run in
the compiled loops of :mod:`schemas.columnar.kernels`, imported at the first batch so that a
process that never encodes columns never loads numba.
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
            if type(value) is not str:
                raise RecordError(
                    f"field {spec.name!r}: expected string, got {describe(value)}", spec.name
                )
            raw = value.encode("utf-8")
            parts.append(_varint_bytes(len(raw)) + raw)
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
    a schema that is not flat and primitive, or a batch without some field that has a default.
    """

    def __init__(
        self,
        schema_id: int,
        validator: RecordValidator,
        encode_record: Callable[..., bytes],
    ) -> None:
        self.validator = validator
        self.encode_record = encode_record
        self.record_name = validator.record_name
        self.names = frozenset(s.name for s in validator.specs)
        self.supported = True
        # Segments in field order: ("fixed", spec) | ("varint", spec) | ("strings", run)
        self.segments: list[tuple[str, Any]] = []
        for spec in validator.specs:
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
        self._header = np.frombuffer(header(schema_id), dtype=np.uint8)
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
            self.validator.check_columns(columns)
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
        layout_key = tuple(p[2] for p in parts)
        layout = self._layouts.get(layout_key)
        if layout is None:
            layout = np.dtype([("h", "5u1"), *((p[0], p[2]) for p in parts)])
            self._layouts[layout_key] = layout
        table = np.empty(rows, dtype=layout)
        table["h"] = self._header
        with np.errstate(over="ignore"):  # a double beyond float32 becomes inf, as in fastavro
            for label, data, _, _ in parts:
                table[label] = data
        size = layout.itemsize
        raw = table.view(np.uint8).reshape(rows, size)
        narrow = [(label, data, lens) for label, data, _, lens in parts if lens is not None]
        if not narrow:
            return _split_rows(raw, None)  # every row as wide as the layout
        fields = layout.fields
        if fields is None:  # never: the layout is a structured dtype, built above
            raise TypeError(f"{name}: row layout {layout} has no fields")
        keep = np.ones((rows, size), dtype=bool)
        row_sizes = np.full(rows, size, dtype=np.int64)
        for label, data, lens in narrow:
            width = data.shape[1]
            offset = fields[label][1]
            keep[:, offset : offset + width] = np.arange(width) < lens[:, None]
            row_sizes -= width - lens
        # Each row's bytes moved to the left, zeros after them.
        packed = np.zeros((rows, size), dtype=np.uint8)
        packed[np.arange(size) < row_sizes[:, None]] = raw[keep]
        return _split_rows(packed, row_sizes)

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
