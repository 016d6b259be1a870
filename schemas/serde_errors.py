"""Errors of the serde: one type per way a record can break the contract.

Consumers catch :class:`DecodeError` around ``Deserializer.decode`` and send the raw bytes to
the DLQ with ``exc.reason`` in a header; the reason is a short stable code, the message is for
people. Errors that are not the record's fault (the registry is down while a schema id is not
cached yet) are ``InfrastructureError`` instead: retry those, never dead-letter them.
"""

from __future__ import annotations

from runtime.errors import F1Error


class DecodeError(F1Error):
    """A record cannot be turned into a valid value of the contract."""

    reason = "undecodable"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFramedError(DecodeError):
    """The bytes do not start with the Confluent header (magic byte 0, 4-byte schema id):
    garbage, an empty value, or a record written without a registry."""

    reason = "not-framed"


class UnknownSchemaIdError(DecodeError):
    """The header names a schema id the registry does not know."""

    reason = "unknown-schema-id"

    def __init__(self, message: str, schema_id: int) -> None:
        super().__init__(message)
        self.schema_id = schema_id


class BodyDecodeError(DecodeError):
    """The Avro body does not decode with its writer schema (truncated, corrupt, or written
    with another schema than the header says), or cannot be resolved to the reader schema."""

    reason = "bad-body"


class RecordError(DecodeError):
    """A record breaks the contract: a field is missing, unknown, of the wrong type or out of
    the channel table's range. Raised by the serializer before encoding (nothing bad is ever
    written) and by the deserializer after decoding (a writer that bypassed the checks)."""

    reason = "invalid-record"

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field
