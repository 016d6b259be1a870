"""Reading test topics back: the two ways the integration tests need."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from runtime.kafka import client_config


def consume(
    bootstrap: str, topic: str, count: int, *, timeout_s: float = 30.0, linger_s: float = 0.0
) -> list[Any]:
    """The first ``count`` records of ``topic`` (fewer if they do not come in ``timeout_s``).

    ``linger_s`` keeps reading that long after ``count`` arrived, so a test can see records
    that should not be there (a duplicate, say).
    """
    consumer = Consumer(
        {
            **client_config(bootstrap),
            "group.id": f"it-read-{topic}-{time.monotonic_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    messages: list[Any] = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(messages) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                messages.append(msg)
        linger_until = time.monotonic() + linger_s
        while time.monotonic() < linger_until:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                messages.append(msg)
    finally:
        consumer.close()
    return messages


def read_to_end(bootstrap: str, topic: str, *, timeout_s: float = 120.0) -> list[Any]:
    """Every record of ``topic``, from the start to the end each partition has now."""
    consumer = Consumer(
        {
            **client_config(bootstrap),
            "group.id": f"it-read-{topic}-{time.monotonic_ns()}",
            "enable.auto.commit": False,
        }
    )
    messages: list[Any] = []
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        ends = {}
        for partition in metadata.partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            ends[partition] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        remaining = {p for p, high in ends.items() if high > 0}
        deadline = time.monotonic() + timeout_s
        while remaining and time.monotonic() < deadline:
            for msg in consumer.consume(10_000, timeout=1.0):
                if msg.error() is not None:
                    continue
                messages.append(msg)
                if msg.offset() + 1 >= ends[msg.partition()]:
                    remaining.discard(msg.partition())
        assert not remaining, f"could not read {topic} to its end in {timeout_s:.0f} s"
    finally:
        consumer.close()
    return messages


def produce_all(
    bootstrap: str, topic: str, items: Iterable[tuple[str | bytes | None, bytes]]
) -> None:
    """Produce (key, value) pairs as fast as the client takes them; fails unless every one
    was delivered."""
    producer = Producer(
        {
            **client_config(bootstrap),
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 20,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 1_000_000,
        }
    )
    for key, value in items:
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.05)
    undelivered = producer.flush(120)
    if undelivered:
        raise RuntimeError(f"{undelivered} records not delivered to {topic}")
