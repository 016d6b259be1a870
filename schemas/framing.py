"""The Confluent wire framing: the header in front of every Avro value on every topic.

Wire format of a Kafka message value::

    byte 0      magic byte, always 0x00
    bytes 1..4  schema id, unsigned 32-bit big-endian, as assigned by the registry
    bytes 5..   Avro binary body (no container header), written with that schema
"""

from __future__ import annotations

import struct

from schemas.serde_errors import NotFramedError

__all__ = [
    "HEADER_SIZE",
    "MAGIC_BYTE",
    "frame",
    "header",
    "schema_id_of",
    "split_frame",
    "strip_confluent_header",
]

MAGIC_BYTE = 0
HEADER_SIZE = 5
_HEADER = struct.Struct(">BI")


def header(schema_id: int) -> bytes:
    """The 5-byte Confluent header of values written with ``schema_id``."""
    return _HEADER.pack(MAGIC_BYTE, schema_id)


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
    """The Avro body of a framed value: the pure-bytes twin of the Spark expression
    (``analytics.confluent_columns.strip_confluent_header_column``)."""
    return bytes(split_frame(data)[1])
