"""Telemetry batches to Kafka: Avro through the registry, key = car id, counted deliveries.

The one Kafka output of every command that makes telemetry (``f1-simulate``, ``f1-ingest-udp``,
``f1-replay``): it takes the serializer (``schemas.serde.Serializer``) as given, so the runtime
needs nothing of the contract.

The producer is idempotent with ``acks=all``, so a broker hiccup never duplicates or
reorders a car's records; batching (linger and batch size) and lz4 compression are
tuned for hundreds of thousands of small records per second from one process.

Delivery reports: librdkafka reports only failures (``delivery.report.only.error``), so no
Python callback runs per record. A record is delivered once it has left librdkafka's queues
without a failure report: delivered = produced - failed - still queued (``len(producer)``,
which also counts failure reports not yet served). After ``flush`` returns 0 every record
that did not fail is delivered.
"""

from __future__ import annotations

import logging
import operator
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Protocol

import numpy as np
from confluent_kafka import KafkaError, Producer

from runtime.errors import InfrastructureError
from runtime.kafka import client_config

log = logging.getLogger(__name__)

# Tuned for many small records (about 120 bytes each) from one process.
PRODUCER_TUNING = {
    "acks": "all",
    "enable.idempotence": True,
    "linger.ms": 20,
    "batch.size": 1_000_000,
    "compression.type": "lz4",
    "queue.buffering.max.messages": 500_000,
    "queue.buffering.max.kbytes": 262_144,
    # Bounded: a broker that stays away makes delivery reports fail instead of waiting forever.
    "delivery.timeout.ms": 120_000,
    # Successful deliveries are counted from the queue length instead of a callback each.
    "delivery.report.only.error": True,
}


def _nothing_queued() -> int:
    return 0


@dataclass
class DeliveryStats:
    """Counts of one producer's records. ``queued`` tells how many librdkafka still holds."""

    produced: int = 0
    failed: int = 0
    last_error: str | None = None
    started: float = field(default_factory=time.monotonic)
    queued: Callable[[], int] = _nothing_queued

    def on_delivery(self, err: KafkaError | None, _msg: Any) -> None:
        """Delivery report callback: with ``delivery.report.only.error`` only failures come."""
        if err is not None:
            self.failed += 1
            self.last_error = err.str()

    @property
    def in_flight(self) -> int:
        return self.queued()

    @property
    def delivered(self) -> int:
        return max(0, self.produced - self.failed - self.queued())

    def exit_code(self, prog: str, undelivered: int) -> int:
        """A command's exit code once it has flushed: 1 with one line on stderr when records
        failed or ``undelivered`` were still queued, else 0."""
        if not (self.failed or undelivered):
            return 0
        print(
            f"{prog}: {self.failed + undelivered} record(s) were not delivered"
            f" (last error: {self.last_error or 'flush timed out'})",
            file=sys.stderr,
        )
        return 1


def produce_all(
    producer: Producer, topic: str, values: Sequence[bytes], keys: Sequence[Any]
) -> None:
    """Hand ``values`` (with ``keys``, pairwise) to librdkafka in order, waiting while its
    queue is full.

    The loop runs in C (``map`` over ``produce``) rather than as Python bytecode per record;
    when the queue is full, ``produce`` raises BufferError for one record, and the iterator's
    remaining length says which, so sending resumes there after librdkafka has sent some.
    """
    total = len(values)
    start = 0
    produce = producer.produce
    while start < total:
        pending = iter(values[start:] if start else values)
        try:
            deque(map(produce, repeat(topic), pending, keys[start:] if start else keys), maxlen=0)
            return
        except BufferError:
            # The record that failed was taken from the iterator; the ones before it are queued.
            start = total - operator.length_hint(pending) - 1
            producer.poll(0.05)


class ColumnSerializer(Protocol):
    """What the output needs of a serializer (``schemas.serde.Serializer`` is one)."""

    def encode_columns(
        self, columns: Mapping[str, Any], *, validate: bool = True
    ) -> list[bytes]: ...

    def prepare_columns(self) -> None: ...


class KafkaTelemetryOutput:
    """Encodes each columnar batch and hands the records to librdkafka."""

    def __init__(self, bootstrap: str, topic: str, serializer: ColumnSerializer) -> None:
        self.topic = topic
        self.serializer = serializer
        self.stats = DeliveryStats()
        self._producer = Producer(
            client_config(bootstrap)
            | {
                **PRODUCER_TUNING,
                "error_cb": self._on_error,
                "on_delivery": self.stats.on_delivery,
                # Errors reach the log once, through error_cb; librdkafka's own stderr lines
                # would repeat them in another format.
                "log_level": 2,
            }
        )
        self.stats.queued = self._producer.__len__
        serializer.prepare_columns()

    def _on_error(self, err: KafkaError) -> None:
        # Connection losses are retried by librdkafka; only fatal errors end the run.
        if err.fatal():
            raise InfrastructureError(f"Kafka producer failed: {err.str()}")
        log.warning("kafka: %s", err.str())

    def write(self, batch: Mapping[str, np.ndarray]) -> None:
        """Check the batch against the contract (vectorised), encode it and queue it."""
        values = self.serializer.encode_columns(batch)
        keys = batch["car_id"]
        produce_all(
            self._producer,
            self.topic,
            values,
            keys.tolist() if isinstance(keys, np.ndarray) else list(keys),
        )
        self.stats.produced += len(values)
        self._producer.poll(0)

    def flush(self, timeout_s: float = 30.0) -> int:
        """Wait for outstanding deliveries; the number still undelivered."""
        return self._producer.flush(timeout_s)
