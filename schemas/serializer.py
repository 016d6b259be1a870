"""The validating serializer: records to framed Avro (Confluent header, then the body).

:class:`Serializer` checks a record against the schema and the channel table, then frames it;
nothing that breaks the contract is ever written. A batch held as columns goes through the
column encoder (``schemas.columnar.encoder``), byte for byte the same output.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastavro import schemaless_writer

from schemas import topics as _topics
from schemas.columnar.encoder import ColumnEncoder
from schemas.framing import header
from schemas.schema_files import load_schema, parse_plain
from schemas.serde_errors import RecordError
from schemas.validation import RecordValidator

if TYPE_CHECKING:
    from schemas.registry import SchemaRegistry

__all__ = ["Serializer", "lap_summary_serializer", "telemetry_serializer"]


class Serializer:
    """Encodes records of one schema, registered under ``schema_id``, into framed Avro.

    Build one at start-up (``Serializer.for_subject``) and reuse it: the schema is parsed and
    the validator generated once.
    """

    def __init__(self, schema_id: int, schema: str | Path | Mapping[str, Any]) -> None:
        if not 0 <= schema_id < 2**32:
            raise ValueError(f"schema id {schema_id} does not fit the 4-byte header")
        self.schema_id = schema_id
        self.schema = load_schema(schema)
        self._parsed = parse_plain(self.schema)
        self._header = header(schema_id)
        self.validator = RecordValidator(self.schema)
        self._fast = self.validator.fast
        self._columns: ColumnEncoder | None = None
        self._defaults = {f["name"]: f["default"] for f in self.schema["fields"] if "default" in f}

    @classmethod
    def for_subject(
        cls, registry: SchemaRegistry, subject: str, schema: str | Path | Mapping[str, Any]
    ) -> Serializer:
        """A serializer for ``schema`` under the id the registry gave it in ``subject``.

        Raises ConfigError naming the subject if that exact schema is not registered there
        (services never register: ``f1-schemas register`` does), InfrastructureError naming
        the URL if the registry cannot be reached.
        """
        data = load_schema(schema)
        registered = registry.id_for(subject, data)
        return cls(registered.schema_id, data)

    def validate(self, record: Mapping[str, Any]) -> None:
        """Raise RecordError unless ``record`` satisfies the schema and the channel table."""
        self.validator(record)

    def encode(self, record: Mapping[str, Any], *, validate: bool = True) -> bytes:
        """The framed Avro bytes of ``record``; RecordError (naming the field) if it is invalid.

        ``validate=False`` skips the per-record check: only for records already checked as a
        batch with ``validate_columns``. A record fastavro cannot encode is still refused.
        """
        if validate and not self._fast(record):
            self.validator.check_slow(record)
        buf = io.BytesIO()
        buf.write(self._header)
        try:
            schemaless_writer(buf, self._parsed, record)
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
            self.validator.check_slow(record)  # names the field when it can
            raise RecordError(f"{self.validator.record_name}: cannot encode: {exc}", "*") from exc
        return buf.getvalue()

    def encode_many(self, records: Iterable[Mapping[str, Any]]) -> list[bytes]:
        return [self.encode(r) for r in records]

    def encode_columns(self, columns: Mapping[str, Any], *, validate: bool = True) -> list[bytes]:
        """The framed Avro bytes of every row of a column batch (field -> array, one element
        per record), byte for byte what :meth:`encode` gives for each row.

        Flat records of primitive types (string, int, long, float, double, boolean, each
        maybe nullable) are encoded with a few numpy operations per field for the whole batch;
        a field with a default may be left out (every row gets the default); any other schema
        goes through :meth:`encode` record by record. ``validate`` runs
        :meth:`validate_columns` and checks each distinct string once; types are always
        checked. RecordError names the field.
        """
        if self._columns is None:
            self._columns = ColumnEncoder(
                self.schema_id, self.validator, self.encode, self._defaults
            )
        return self._columns.encode(columns, validate)

    def prepare_columns(self) -> None:
        """Build the column encoder now, with its compiled functions (compiled on the first
        run ever, loaded from numba's cache afterwards), rather than at the first batch."""
        if self._columns is None:
            self._columns = ColumnEncoder(
                self.schema_id, self.validator, self.encode, self._defaults
            )
        if self._columns.supported:
            import schemas.columnar.kernels  # noqa: F401  (loading it readies the functions)

    def validate_columns(self, columns: Mapping[str, Any]) -> None:
        """Vectorised range check of a column batch (see RecordValidator.check_columns)."""
        self.validator.check_columns(columns)


def telemetry_serializer(
    registry: SchemaRegistry, topics: _topics.Topics | None = None
) -> Serializer:
    """The producer's serializer: schemas/telemetry.avsc under the telemetry value subject."""
    topics = topics or _topics.Topics.from_env()
    return Serializer.for_subject(registry, topics.telemetry_subject, _topics.TELEMETRY_SCHEMA_FILE)


def lap_summary_serializer(
    registry: SchemaRegistry, topics: _topics.Topics | None = None
) -> Serializer:
    """The analytics job's serializer: schemas/lap_summary.avsc under the analytics subject."""
    topics = topics or _topics.Topics.from_env()
    return Serializer.for_subject(
        registry, topics.analytics_subject, _topics.LAP_SUMMARY_SCHEMA_FILE
    )
