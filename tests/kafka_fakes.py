"""A consumed Kafka message for unit tests: the accessors of ``confluent_kafka.Message`` that
the services read."""

from __future__ import annotations

import time

from confluent_kafka import KafkaError


class FakeMessage:
    def __init__(
        self,
        topic: str,
        value: bytes,
        *,
        partition: int = 0,
        offset: int = 0,
        timestamp_ms: int | None = None,
        key: bytes = b"car",
        error: KafkaError | None = None,
    ) -> None:
        self._topic, self._value, self._key, self._error = topic, value, key, error
        self._partition, self._offset = partition, offset
        # Default: produced now, as a live stream's records are.
        self._ts = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return self._key

    def value(self) -> bytes:
        return self._value

    def error(self) -> KafkaError | None:
        return self._error

    def timestamp(self) -> tuple[int, int]:
        return (1, self._ts)
