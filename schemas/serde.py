"""The serde: Avro with Confluent framing, the bytes every record on every topic is made of.

Services import what they need from here::

    from schemas.serde import telemetry_serializer, telemetry_deserializer, DecodeError

:class:`Serializer` checks a record against the schema and the channel table, then frames it;
:class:`Deserializer` reads the writer schema id from the header, decodes with that schema
(fetched once from the registry) and resolves to the reader schema; both pass
``timestamp-micros`` as plain ``int`` microseconds. :class:`ColumnDecoder` decodes a whole
batch into numpy columns, ``Serializer.encode_columns`` encodes one. The framing itself is in
``schemas.framing``, the checks in ``schemas.validation``, the batch codec in
``schemas.columnar``.
"""

from __future__ import annotations

from schemas.columnar.decoder import (
    ColumnDecoder,
    DecodedColumns,
    columns_of,
    decode_each,
    null_masks,
    placeholder,
)
from schemas.deserializer import (
    Deserializer,
    SchemaSource,
    lap_summary_deserializer,
    telemetry_deserializer,
)
from schemas.framing import (
    HEADER_SIZE,
    MAGIC_BYTE,
    frame,
    schema_id_of,
    split_frame,
    strip_confluent_header,
)
from schemas.schema_files import load_schema
from schemas.serde_errors import (
    BodyDecodeError,
    DecodeError,
    NotFramedError,
    RecordError,
    UnknownSchemaIdError,
)
from schemas.serializer import Serializer, lap_summary_serializer, telemetry_serializer

__all__ = [
    "HEADER_SIZE",
    "MAGIC_BYTE",
    "BodyDecodeError",
    "ColumnDecoder",
    "DecodeError",
    "DecodedColumns",
    "Deserializer",
    "NotFramedError",
    "RecordError",
    "SchemaSource",
    "Serializer",
    "UnknownSchemaIdError",
    "columns_of",
    "decode_each",
    "frame",
    "lap_summary_deserializer",
    "lap_summary_serializer",
    "load_schema",
    "null_masks",
    "placeholder",
    "schema_id_of",
    "split_frame",
    "strip_confluent_header",
    "telemetry_deserializer",
    "telemetry_serializer",
]
