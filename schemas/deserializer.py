"""The resolving deserializer: framed Avro written with any registered schema, to records of
the schema the consuming code was written against.

:class:`Deserializer` reads the id, fetches the writer schema from the registry once (cached,
so a registry restart does not stop consumers), decodes and resolves to the reader schema,
and checks the result against the channel table again.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fastavro import parse_schema, schemaless_reader
from fastavro.types import Schema

from schemas import topics as _topics
from schemas.framing import HEADER_SIZE, split_frame
from schemas.registry import SchemaIdNotFoundError
from schemas.schema_files import load_schema, same_schema, strip_logical_types
from schemas.serde_errors import BodyDecodeError, UnknownSchemaIdError
from schemas.validation import RecordValidator

__all__ = [
    "Deserializer",
    "SchemaSource",
    "lap_summary_deserializer",
    "telemetry_deserializer",
]

log = logging.getLogger(__name__)

Record = dict[str, Any]


class SchemaSource(Protocol):
    """Where a Deserializer finds writer schemas: the registry, or a fake in tests."""

    def schema_by_id(self, schema_id: int) -> str:
        """The schema text of ``schema_id``; raises registry.SchemaIdNotFoundError if the
        registry does not know it, InfrastructureError if the registry cannot be asked."""
        ...


@dataclass(frozen=True, slots=True)
class _Writer:
    parsed: Schema  # fastavro's parsed form
    reader: Schema | None  # None when writer and reader schemas are the same


class Deserializer:
    """Decodes framed Avro written with any registered schema into the reader schema.

    ``reader_schema`` is the schema the consuming code understands (normally the ``.avsc``
    shipped with it). Records written with an older or newer compatible schema are resolved
    to it: fields the reader does not know are dropped, fields the writer did not have get
    their defaults. Writer schemas are cached by id for the life of the Deserializer; unknown
    ids are remembered for ``unknown_id_ttl_s`` so a flood of poison records does not become a
    flood of registry requests, at most ``max_unknown_ids`` of them (the oldest go first), so
    a flood of distinct ids does not become a memory leak.
    """

    def __init__(
        self,
        registry: SchemaSource,
        reader_schema: str | Path | Mapping[str, Any],
        *,
        validate: bool = True,
        unknown_id_ttl_s: float = 30.0,
        max_unknown_ids: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self.reader_schema = load_schema(reader_schema)
        self._reader_plain = strip_logical_types(self.reader_schema)
        self._reader_parsed = parse_schema(self._reader_plain)
        self.validator = RecordValidator(self.reader_schema) if validate else None
        self._writers: dict[int, _Writer] = {}
        self._unknown: dict[int, float] = {}  # id -> when to ask again, oldest first
        self._unknown_ttl = unknown_id_ttl_s
        self._max_unknown = max_unknown_ids
        self._clock = clock

    @property
    def unknown_ids(self) -> int:
        """How many unknown ids are remembered now."""
        return len(self._unknown)

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
        if not isinstance(record, dict):  # never: the reader schema is a record
            raise BodyDecodeError(f"writer schema id {schema_id} does not decode to a record")
        if self.validator is not None:
            self.validator(record)
        return schema_id, record

    def writer_schema(self, schema_id: int) -> dict[str, Any]:
        """The parsed writer schema of ``schema_id`` (fetched once, then cached); DecodeError
        if it is not a record schema."""
        parsed = (self._writers.get(schema_id) or self._writer(schema_id)).parsed
        if not isinstance(parsed, dict):
            raise BodyDecodeError(f"writer schema id {schema_id} is not a record schema")
        return parsed

    def _writer(self, schema_id: int) -> _Writer:
        now = self._clock()
        expiry = self._unknown.get(schema_id)
        if expiry is not None and now < expiry:
            raise UnknownSchemaIdError(f"unknown schema id {schema_id} (cached)", schema_id)
        try:
            text = self._registry.schema_by_id(schema_id)
        except SchemaIdNotFoundError as exc:
            self._remember_unknown(schema_id, now)
            raise UnknownSchemaIdError(f"unknown schema id {schema_id}: {exc}", schema_id) from exc
        try:
            plain = strip_logical_types(json.loads(text))
            parsed = parse_schema(plain)
        except Exception as exc:
            raise BodyDecodeError(
                f"writer schema id {schema_id} is not a valid Avro schema"
            ) from exc
        reader = None if same_schema(plain, self._reader_plain) else self._reader_parsed
        log.info(
            "writer schema id %d cached (%s)", schema_id, "same" if reader is None else "resolved"
        )
        writer = _Writer(parsed, reader)
        self._writers[schema_id] = writer
        return writer

    def _remember_unknown(self, schema_id: int, now: float) -> None:
        self._unknown.pop(schema_id, None)  # to the end: the newest
        # Oldest first, and all with the same time to live: the expired ones lead, and under
        # a flood of distinct ids the oldest make room.
        while self._unknown:
            oldest = next(iter(self._unknown))
            if self._unknown[oldest] > now and len(self._unknown) < self._max_unknown:
                break
            del self._unknown[oldest]
        self._unknown[schema_id] = now + self._unknown_ttl


def telemetry_deserializer(registry: SchemaSource, *, validate: bool = True) -> Deserializer:
    """A deserializer to schemas/telemetry.avsc, the reader schema of telemetry consumers."""
    return Deserializer(registry, _topics.TELEMETRY_SCHEMA_FILE, validate=validate)


def lap_summary_deserializer(registry: SchemaSource, *, validate: bool = True) -> Deserializer:
    """A deserializer to schemas/lap_summary.avsc, the reader schema of lap summary consumers."""
    return Deserializer(registry, _topics.LAP_SUMMARY_SCHEMA_FILE, validate=validate)
