"""Checks of records against a schema and the channel table.

:func:`field_specs` reads, per field of a schema, what the checks need: the Avro type, whether
it may be null or has a default, and the channel table's range, unit and pattern.
:class:`RecordValidator` checks one record (a generated function for the usual case, a
field-by-field check naming the culprit otherwise) or a batch held as columns. The serializer
checks before encoding, the deserializer after decoding, and the column encoder and decoder
build on the same field specs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np

from schemas import channels as _channels
from schemas.schema_files import full_name
from schemas.serde_errors import RecordError

__all__ = ["FieldSpec", "RecordValidator", "check_value", "describe", "field_specs"]

_MISSING = object()
_INT_BOUNDS = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_SEEN_MAX = 10_000  # valid strings remembered per field; beyond that, new ones pay the regex
_SIMPLE = {"string", "boolean", "int", "long", "float", "double", "bytes"}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """What the checks know of one field: its Avro type and, from the channel table, its
    range (the type's own bounds for an int or long outside the table), unit and pattern."""

    name: str
    avro_type: str  # one of _SIMPLE, or "complex" (left to fastavro)
    nullable: bool
    has_default: bool
    minimum: float | None
    maximum: float | None
    unit: str | None
    pattern: re.Pattern[str] | None


def field_specs(schema: Mapping[str, Any]) -> list[FieldSpec]:
    """The spec of each field of a record schema, in field order."""
    table = _channels.record_of(full_name(schema))
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
        lo: float | None
        hi: float | None
        lo, hi = _INT_BOUNDS.get(ftype, (None, None))
        if ch is not None and ch.minimum is not None:
            lo, hi = ch.minimum, ch.maximum
            if ftype in _INT_BOUNDS:
                lo, hi = int(lo), int(hi)  # type: ignore[arg-type]
        specs.append(
            FieldSpec(
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


def describe(value: Any) -> str:
    """A value as an error message shows it: its repr, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_value(record_name: str, spec: FieldSpec, value: Any) -> None:
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
            raise RecordError(f"field {where!r}: expected string, got {describe(value)}", spec.name)
        if spec.pattern is not None and spec.pattern.fullmatch(value) is None:
            raise RecordError(
                f"field {where!r}: {describe(value)} does not match {spec.pattern.pattern}",
                spec.name,
            )
        return
    if t == "bytes":
        if not isinstance(value, bytes | bytearray | memoryview):
            raise RecordError(f"field {where!r}: expected bytes, got {describe(value)}", spec.name)
        return
    if t == "boolean":
        if not isinstance(value, bool | np.bool_):
            raise RecordError(
                f"field {where!r}: expected boolean, got {describe(value)}", spec.name
            )
        return
    if isinstance(value, bool | np.bool_):
        raise RecordError(f"field {where!r}: expected {t}, got boolean {value!r}", spec.name)
    if t in _INT_BOUNDS:
        if not isinstance(value, int | np.integer):
            raise RecordError(f"field {where!r}: expected {t}, got {describe(value)}", spec.name)
    elif not isinstance(value, int | float | np.integer | np.floating):
        raise RecordError(f"field {where!r}: expected {t}, got {describe(value)}", spec.name)
    if spec.minimum is not None and not (spec.minimum <= value <= spec.maximum):
        unit = f" {spec.unit}" if spec.unit and spec.unit != "none" else ""
        what = (
            "is not a number"
            if isinstance(value, float) and math.isnan(value)
            else "is out of range"
        )
        raise RecordError(
            f"field {where!r}: {describe(value)} {what} {_channels.format_number(spec.minimum)}.."
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
        self.specs = field_specs(schema)
        self._names = frozenset(s.name for s in self.specs)
        self._seen: dict[str, set[str]] = {}
        self.fast = self._compile()
        self._ranged_floats = [
            s for s in self.specs if s.minimum is not None and s.avro_type in ("float", "double")
        ]
        self._exact: dict[tuple[str, np.dtype], bool] = {}  # (field, dtype) -> _exact_bounds

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
            check_value(self.record_name, spec, value)
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

    def _test_for(self, spec: FieldSpec, v: str, i: int, env: dict[str, Any]) -> str:
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

    def _floats_inside(self, columns: Mapping[str, Any]) -> frozenset[str]:
        """The float columns found within their ranges by one comparison per dtype (a batch
        of a few hundred rows would otherwise spend most of its check in a call per
        column); a group with a value outside is left to the column-by-column check, which
        names the field and row."""
        groups: dict[np.dtype, list[tuple[FieldSpec, np.ndarray]]] = {}
        exact = self._exact
        for spec in self._ranged_floats:
            column = columns.get(spec.name)
            if not isinstance(column, np.ndarray) or column.ndim != 1 or column.dtype.kind != "f":
                continue
            key = (spec.name, column.dtype)
            known = exact.get(key)
            if known is None:
                known = exact[key] = _exact_bounds(spec, column.dtype)
            if known:
                groups.setdefault(column.dtype, []).append((spec, column))
        inside: set[str] = set()
        for dtype, group in groups.items():
            if len(group) < 2:
                continue
            values = np.stack([column for _, column in group])
            low = np.array([[spec.minimum] for spec, _ in group], dtype=dtype)
            high = np.array([[spec.maximum] for spec, _ in group], dtype=dtype)
            if ((values >= low) & (values <= high)).all():  # NaN compares false: outside
                inside.update(spec.name for spec, _ in group)
        return frozenset(inside)

    def check_columns(self, columns: Mapping[str, Any]) -> None:
        """Vectorised range check of a batch held as columns (field -> array, one row per
        record), for a producer that keeps its state in numpy arrays: one comparison per field
        instead of one per value. Names the field and the first bad row."""
        inside = self._floats_inside(columns)
        for spec in self.specs:
            if spec.name not in columns:
                if spec.has_default:
                    continue
                raise RecordError(f"missing column {self.record_name}.{spec.name}", spec.name)
            if spec.minimum is None or spec.avro_type not in ("int", "long", "float", "double"):
                continue
            arr = np.asarray(columns[spec.name])
            if spec.nullable and arr.dtype == object:
                # Nulls are allowed; the values between them are checked as any column's.
                values = [v for v in arr.tolist() if v is not None]
                if not values:
                    continue
                arr = np.asarray(values)
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
            if spec.name in inside:
                continue
            row = _first_outside(arr, spec)
            if row >= 0:
                check_value(self.record_name, spec, arr.flat[row].item())
                raise RecordError(  # unreachable unless the scalar check disagrees
                    f"column {self.record_name}.{spec.name}: row {row} out of range", spec.name
                )


def _exact_bounds(spec: FieldSpec, dtype: np.dtype) -> bool:
    """Whether the field's bounds are numbers of ``dtype`` exactly (so comparing with them
    in that type is comparing with the bounds)."""
    return all(b is not None and float(dtype.type(b)) == b for b in (spec.minimum, spec.maximum))


def _first_outside(column: np.ndarray, spec: FieldSpec) -> int:
    """Index of the first value of a numeric column outside the field's range (NaN is), -1
    if none: one compiled pass for the usual 1-D int64 and float64 columns, numpy otherwise."""
    if column.size == 0:
        return -1
    integral = spec.avro_type in _INT_BOUNDS
    if column.ndim == 1 and column.dtype == (np.int64 if integral else np.float64):
        # Imported at the first column check, so that a process that only decodes never
        # loads numba.
        from schemas.columnar.kernels import first_outside

        low, high = column.dtype.type(spec.minimum), column.dtype.type(spec.maximum)
        return first_outside(np.ascontiguousarray(column), low, high)
    ok = (column >= spec.minimum) & (column <= spec.maximum)  # NaN compares false: refused
    return -1 if ok.all() else int(np.flatnonzero(~ok.ravel())[0])
