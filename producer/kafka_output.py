"""Telemetry batches to Kafka: Avro through the registry, key = car id, counted deliveries.

The producer is idempotent with ``acks=all``, so a broker hiccup never duplicates or
reorders a car's records; batching (linger and batch size) and lz4 compression are
tuned for tens of thousands of small records per second from one process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from confluent_kafka import KafkaError, KafkaException, Producer

from schemas.errors import InfrastructureError
from schemas.serde import Serializer

log = logging.getLogger(__name__)

# Tuned for many small records (about 110 bytes each) from one process.
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
}


@dataclass
class DeliveryStats:
    produced: int = 0
    delivered: int = 0
    failed: int = 0
    last_error: str | None = None
    started: float = field(default_factory=time.monotonic)

    def on_delivery(self, err: KafkaError | None, _msg: Any) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.failed += 1
            self.last_error = err.str()

    @property
    def in_flight(self) -> int:
        return self.produced - self.delivered - self.failed


def check_broker(
    bootstrap: str, *, attempts: int = 5, timeout_s: float = 2.0, wait_s: float = 1.0
) -> None:
    """Raise InfrastructureError after ``attempts`` failed metadata requests to the broker."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            if admin.list_topics(timeout=timeout_s).brokers:
                return
        except KafkaException as exc:
            last = exc
        if attempt + 1 < attempts:
            time.sleep(wait_s)
    detail = f": {last}" if last else ""
    raise InfrastructureError(
        f"Kafka at {bootstrap} is unreachable after {attempts} attempts{detail}"
    )


class KafkaTelemetryOutput:
    """Encodes each columnar batch and hands the records to librdkafka."""

    def __init__(self, bootstrap: str, topic: str, serializer: Serializer) -> None:
        self.topic = topic
        self.serializer = serializer
        self.stats = DeliveryStats()
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                **PRODUCER_TUNING,
                "error_cb": self._on_error,
            }
        )
        self._fields = [f["name"] for f in serializer.schema["fields"]]

    def _on_error(self, err: KafkaError) -> None:
        # Connection losses are retried by librdkafka; only fatal errors end the run.
        if err.fatal():
            raise InfrastructureError(f"Kafka producer failed: {err.str()}")
        log.warning("kafka: %s", err.str())

    def write(self, batch: Mapping[str, np.ndarray]) -> None:
        # One vectorised range check per batch, then encode without per-record checks.
        self.serializer.validate_columns(batch)
        columns = [batch[name].tolist() for name in self._fields]
        keys = batch["car_id"].tolist()
        encode = self.serializer.encode
        produce = self._producer.produce
        on_delivery = self.stats.on_delivery
        for key, row in zip(keys, zip(*columns, strict=True), strict=True):
            value = encode(dict(zip(self._fields, row, strict=True)), validate=False)
            while True:
                try:
                    produce(self.topic, value=value, key=key, on_delivery=on_delivery)
                    break
                except BufferError:
                    # The local queue is full: let librdkafka send, then try again.
                    self._producer.poll(0.05)
            self.stats.produced += 1
        self._producer.poll(0)

    def flush(self, timeout_s: float = 30.0) -> int:
        """Wait for outstanding deliveries; the number still undelivered."""
        return self._producer.flush(timeout_s)
