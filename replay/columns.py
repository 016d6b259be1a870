"""Stored telemetry back into the columns the Kafka output and the file writers take.

Whatever the source (InfluxDB through :mod:`storage.history`, a CSV, Parquet or JSON Lines
file), a chunk of records arrives as a pandas DataFrame whose columns may be of the wrong
type: integers as floats (InfluxDB's pivot fills a gap with NaN), booleans as ``"True"``
text (CSV), times as datetimes (a Parquet file from another tool). :func:`to_batch` makes it
a batch of the contract's shape, one numpy column per field of the telemetry schema, typed
from the channel table: Avro ``float`` channels as float32 (so a replay encodes, and writes
to ``--output``, exactly the values the original producer sent), ``double`` as float64,
``int``/``long`` as int64, booleans as bool, strings as object arrays of ``str``.

The fields come from the channel table and their defaults from ``telemetry.avsc``, never
from a list here: a field added to the contract is replayed too, and records stored before
it existed get its default, as a reader of the new schema would see them (null, for a
nullable channel: not measured).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from runtime.errors import ConfigError
from schemas.channels import TELEMETRY, Channel, channels
from schemas.schema_files import load_schema
from schemas.topics import TELEMETRY_SCHEMA_FILE

Batch = dict[str, np.ndarray]

_DTYPES: dict[str, Any] = {
    "string": object,
    "boolean": np.bool_,
    "int": np.int64,
    "long": np.int64,
    "float": np.float32,
    "double": np.float64,
}
_TRUE = frozenset({"true", "1", "t", "yes"})
_FALSE = frozenset({"false", "0", "f", "no"})


def fields() -> tuple[Channel, ...]:
    """The telemetry record's fields, in schema order."""
    return channels(TELEMETRY)


def names() -> tuple[str, ...]:
    return tuple(c.name for c in fields())


@cache
def defaults() -> Mapping[str, Any]:
    """Field name -> the schema's default, for the fields that have one."""
    schema = load_schema(TELEMETRY_SCHEMA_FILE)
    return {f["name"]: f["default"] for f in schema["fields"] if "default" in f}


def empty_batch() -> Batch:
    return {c.name: np.empty(0, dtype=_dtype(c)) for c in fields()}


def _nullable(c: Channel) -> bool:
    """A channel that is ``["null", <type>]``: null means "not measured"."""
    return bool(getattr(c, "nullable", False))


def _dtype(c: Channel) -> Any:
    return object if _nullable(c) else _DTYPES[c.avro_type]


def to_batch(frame: pd.DataFrame, where: str) -> Batch:
    """The records of ``frame`` as typed columns of every telemetry field; ConfigError naming
    ``where`` (the source) and the field when a column is missing without a default or holds
    values that are not of its type.

    A value that is missing (an empty CSV cell, a field InfluxDB has no value of) takes the
    field's default; in a nullable channel it is None, and the column is then an object array
    (the encoder's form of a column with nulls), else the channel's own type."""
    batch: Batch = {}
    rows = len(frame)
    for c in fields():
        if c.name not in frame.columns:
            if c.name not in defaults():
                raise ConfigError(f"{where}: no column {c.name!r}, and the schema has no default")
            batch[c.name] = np.full(rows, defaults()[c.name], dtype=_dtype(c))
            continue
        try:
            batch[c.name] = _column(frame[c.name], c)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ConfigError(f"{where}: column {c.name!r}: {exc}") from None
    return batch


def _column(values: pd.Series, c: Channel) -> np.ndarray:
    missing = values.isna().to_numpy()
    if missing.any():
        if c.name not in defaults():
            raise ValueError(f"{int(missing.sum())} value(s) missing and no default")
        default = defaults()[c.name]
        if default is None:  # a nullable channel: typed where there are values, None elsewhere
            out = np.full(len(values), None, dtype=object)
            present = ~missing
            if present.any():
                out[present] = _typed(values[present], c).tolist()
            return out
        values = values.where(~missing, default)
    return _typed(values, c)


def _typed(values: pd.Series, c: Channel) -> np.ndarray:
    kind = c.avro_type
    if kind == "string":
        return np.array([str(v) for v in values.tolist()], dtype=object)
    if kind == "boolean":
        return _booleans(values)
    if c.kind == "time" and pd.api.types.is_datetime64_any_dtype(values):
        epoch = pd.Timestamp(0, tz="UTC")
        stamps = pd.to_datetime(values, utc=True)
        return ((stamps - epoch) // pd.Timedelta(microseconds=1)).to_numpy(dtype=np.int64)
    numbers = pd.to_numeric(values, errors="raise").to_numpy()
    if kind in ("int", "long"):
        as_float = numbers.astype(np.float64)
        if not np.array_equal(as_float, np.round(as_float)):
            raise ValueError("values that are not whole numbers")
        return numbers.astype(np.int64)
    return numbers.astype(_DTYPES[kind])


def _booleans(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=np.bool_)
    text = values.astype(str).str.strip().str.lower()
    true = text.isin(_TRUE).to_numpy()
    bad = ~(true | text.isin(_FALSE).to_numpy())
    if bad.any():
        raise ValueError(f"{values[bad].iloc[0]!r} is not a boolean")
    return true


def take(batch: Batch, index: np.ndarray | slice) -> Batch:
    """The rows ``index`` (a boolean mask, positions or a slice) of every column."""
    return {name: column[index] for name, column in batch.items()}


def rows(batch: Batch) -> int:
    return len(batch["timestamp"]) if batch else 0
