"""The lap summary publisher with a fake transactional producer: a transient Kafka error is
retried until Kafka is back, only a fatal one fails the batch, and a batch is never written
twice."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from analytics.publish import SummaryPublisher
from runtime.errors import InfrastructureError
from schemas.evolution import sample_records
from schemas.serde import Serializer, load_schema
from schemas.topics import LAP_SUMMARY_SCHEMA_FILE

SCHEMA = load_schema(LAP_SUMMARY_SCHEMA_FILE)
SUMMARY = sample_records(SCHEMA)[1]


class Broker:
    """A transactional producer and the bookkeeping consumer on one fake broker.

    ``failures`` maps a call name (``committed``, ``begin``, ``send_offsets``, ``commit``) to
    the errors it raises, one per call, before it works. A committed transaction moves its
    records to ``topic`` and its offset to ``offset``.
    """

    def __init__(self, failures: dict[str, list[KafkaError]] | None = None) -> None:
        self.failures = {k: list(v) for k, v in (failures or {}).items()}
        self.topic: list[bytes] = []
        self.offset = -1001
        self.open: list[bytes] | None = None
        self.pending_offset: int | None = None
        self.calls: list[str] = []

    def _call(self, name: str) -> None:
        self.calls.append(name)
        waiting = self.failures.get(name)
        if waiting:
            raise KafkaException(waiting.pop(0))

    # the producer
    def init_transactions(self, timeout: float) -> None:
        pass

    def begin_transaction(self) -> None:
        self._call("begin")
        self.open = []

    def produce(self, topic: str, key: bytes, value: bytes) -> None:
        assert self.open is not None
        self.open.append(value)

    def poll(self, timeout: float) -> int:
        return 0

    def send_offsets_to_transaction(self, offsets: list[TopicPartition], *_a: Any) -> None:
        self._call("send_offsets")
        self.pending_offset = offsets[0].offset

    def commit_transaction(self, timeout: float) -> None:
        self._call("commit")
        assert self.open is not None and self.pending_offset is not None
        self.topic += self.open
        self.offset = self.pending_offset
        self.open = None

    def abort_transaction(self, timeout: float) -> None:
        self.calls.append("abort")
        self.open = None

    def flush(self, timeout: float) -> int:
        return 0

    def close(self) -> None:
        pass

    # the bookkeeping consumer
    def committed(self, parts: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        self._call("committed")
        return [TopicPartition(parts[0].topic, parts[0].partition, self.offset)]

    def consumer_group_metadata(self) -> object:
        return object()


def _publisher(broker: Broker) -> SummaryPublisher:
    return SummaryPublisher(
        "unused",
        "laps",
        Serializer(1, SCHEMA),
        "f1-analytics-test",
        echo=None,
        retry_s=0.0,
        producer=broker,
        consumer=broker,
    )


TRANSIENT = [
    ("committed", KafkaError(KafkaError._TRANSPORT)),
    ("begin", KafkaError(KafkaError.COORDINATOR_NOT_AVAILABLE)),
    ("send_offsets", KafkaError(KafkaError.NOT_COORDINATOR, retriable=True)),
    ("send_offsets", KafkaError(KafkaError._TIMED_OUT, txn_requires_abort=True)),
    ("commit", KafkaError(KafkaError._TIMED_OUT, retriable=True)),
    ("commit", KafkaError(KafkaError._MSG_TIMED_OUT, txn_requires_abort=True)),
]


@pytest.mark.parametrize(("call", "error"), TRANSIENT, ids=lambda x: str(x))
def test_a_transient_error_is_retried_and_the_batch_written_once(
    call: str, error: KafkaError
) -> None:
    broker = Broker({call: [error, error, error]})
    publisher = _publisher(broker)
    assert publisher.publish(0, [SUMMARY]) == 1
    assert len(broker.topic) == 1 and broker.offset == 1
    assert publisher.retries == 3
    # The same batch again (a restart re-running it) is not written twice.
    assert publisher.publish(0, [SUMMARY]) == 0
    assert len(broker.topic) == 1 and publisher.skipped_batches == 1


@pytest.mark.parametrize(
    "error",
    [
        KafkaError(KafkaError._FENCED, fatal=True),
        KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED),
    ],
    ids=["fenced", "not-authorised"],
)
def test_a_fatal_error_fails_the_batch_with_one_error(error: KafkaError) -> None:
    broker = Broker({"commit": [error]})
    with pytest.raises(InfrastructureError, match="cannot publish batch 4 to laps"):
        _publisher(broker).publish(4, [SUMMARY])
    assert broker.topic == [] and broker.calls[-1] == "abort"


def test_a_stop_ends_the_wait_for_kafka() -> None:
    broker = Broker({"committed": [KafkaError(KafkaError._TRANSPORT)] * 1000})
    publisher = SummaryPublisher(
        "unused",
        "laps",
        Serializer(1, SCHEMA),
        "f1-analytics-test",
        echo=None,
        retry_s=0.01,
        producer=broker,
        consumer=broker,
    )
    stop = threading.Event()
    publisher.stop = stop
    threading.Timer(0.2, stop.set).start()
    with pytest.raises(InfrastructureError, match="stopped while Kafka was failing"):
        publisher.publish(0, [SUMMARY])
    assert broker.topic == []
