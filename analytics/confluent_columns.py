"""Spark SQL columns for Confluent-framed Avro: the header stripped, the schema id read, and
each record decoded with the writer schema its id names.

These are expressions on a DataFrame's binary ``value`` column; the pure-bytes twins
(``split_frame``, ``schema_id_of``, ``strip_confluent_header`` in ``schemas.serde``) do the
same in Python and are what the unit tests pin down. The expressions need an active
SparkSession; ``from_avro_column`` also needs the spark-avro package on its classpath.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.avro.functions import from_avro

from schemas.serde import HEADER_SIZE, load_schema

__all__ = [
    "framed_column",
    "from_avro_column",
    "schema_id_column",
    "strip_confluent_header_column",
]


def _quoted(column: str) -> str:
    return "`" + column.replace("`", "``") + "`"


def strip_confluent_header_column(column: str = "value") -> Column:
    """Spark SQL: the Avro body of the binary ``column``, for ``from_avro``.

    ``from_avro`` expects a bare Avro body, so the 5-byte header has to go first.
    """
    c = _quoted(column)
    return F.expr(f"substring({c}, {HEADER_SIZE + 1}, length({c}) - {HEADER_SIZE})")


def schema_id_column(column: str = "value") -> Column:
    """Spark SQL: the writer schema id (bytes 2..5, big-endian) of the binary ``column``, as
    a bigint, so a job can check which writer schema each record has before decoding it."""
    c = _quoted(column)
    return F.expr(f"cast(conv(hex(substring({c}, 2, 4)), 16, 10) as bigint)")


def framed_column(column: str = "value") -> Column:
    """Spark SQL: true where ``column`` has a Confluent header (long enough, magic byte 0);
    rows where it is false belong in the DLQ with reason ``not-framed``."""
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
