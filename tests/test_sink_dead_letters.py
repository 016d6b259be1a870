"""Dead letters that cannot be sent as they are: too large, or refused by the broker.

A record too large for the DLQ is sent truncated with a header saying so, and the sink goes
on; a letter the broker refuses for good stops the sink with one error, committing nothing,
instead of retrying it forever.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from runtime.errors import InfrastructureError
from schemas.channels import TELEMETRY
from schemas.serde_errors import NotFramedError
from schemas.topics import DLQ_REASON_HEADER, DLQ_TRUNCATED_HEADER
from sinks.consumer_loop import SinkLoop
from sinks.dlq import TRUNCATED_BYTES, DeadLetters, Source
from sinks.influx_writer import Lines, Rejected
from tests.fakes import FakeConsumer, FakeMessage, FakeProducer

TOPIC = "tel"
ONE_MB = b"\x00" * 1_048_000  # under the broker's 1 MiB record limit, over librdkafka's 1 MB


class Writer:
    retries = 0

    def __init__(self) -> None:
        self.written = 0

    def write(self, lines: Lines, cancel: threading.Event | None = None) -> list[Rejected]:
        self.written += len(lines)
        return []


class Decoder:
    """Every value is garbage: each record is a dead letter."""

    def decode(self, data: bytes) -> dict[str, Any]:
        raise NotFramedError(f"{len(data)} bytes, not framed")


def _source(value: bytes | None, offset: int = 0) -> Source:
    return Source(TOPIC, 0, offset, b"car-01", value)


def _loop(values: list[bytes], producer: FakeProducer) -> tuple[SinkLoop, FakeConsumer, Any]:
    log: list[Any] = []
    stop = threading.Event()
    messages = [
        FakeMessage(TOPIC, v, offset=i, timestamp_ms=1_000, key=b"car-01")
        for i, v in enumerate(values)
    ]
    consumer = FakeConsumer(messages, drained=stop, log=log)
    loop = SinkLoop(
        consumer,
        Writer(),
        DeadLetters("unused", "dlq", producer=producer),
        {TOPIC: (TELEMETRY, Decoder())},
        batch_ms=10_000,
    )
    return loop, consumer, stop


def test_a_record_of_1_mb_is_dead_lettered_truncated_and_the_sink_goes_on() -> None:
    producer = FakeProducer(max_bytes=1_000_000)  # librdkafka's default message.max.bytes
    loop, consumer, stop = _loop([ONE_MB, b"garbage"], producer)
    loop.run(stop)
    big, small = producer.delivered
    assert big["value"] == ONE_MB[:TRUNCATED_BYTES] and big["key"] == b"car-01"
    assert big["headers"][DLQ_TRUNCATED_HEADER] == str(len(ONE_MB) + len(b"car-01")).encode()
    assert big["headers"][DLQ_REASON_HEADER] == b"not-framed"
    assert small["value"] == b"garbage" and DLQ_TRUNCATED_HEADER not in small["headers"]
    assert consumer.log == [("commit", {(0, 2)})]
    assert loop.stats.dead == 2 and loop.dlq.truncated == 1


def test_a_letter_the_broker_finds_too_large_is_sent_again_smaller() -> None:
    """The broker's limit can be below the client's: its refusal cuts the letter, then cuts
    it to nothing but its headers (which still say where the record is)."""

    class SmallBroker(FakeProducer):
        def flush(self, timeout: float = -1) -> int:
            waiting, self.waiting = self.waiting, []
            for message, on_delivery in waiting:
                assert on_delivery is not None
                if len(message["value"] or b"") > 1000:
                    on_delivery(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), None)
                else:
                    self.delivered.append(message)
                    on_delivery(None, None)
            return 0

    producer = SmallBroker()
    letters = DeadLetters("unused", "dlq", producer=producer)
    letters.send(_source(b"x" * 200_000), "not-framed", "garbage")
    assert letters.flush()
    (letter,) = producer.delivered
    assert letter["value"] is None and letter["key"] is None
    assert letter["headers"][DLQ_TRUNCATED_HEADER] == b"200006"
    assert letters.sent == 1 and letters.outstanding == 0


def test_a_letter_refused_for_good_stops_the_sink_instead_of_stalling_it() -> None:
    producer = FakeProducer(refuse=KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))
    loop, consumer, stop = _loop([b"garbage"], producer)
    failed: list[BaseException] = []

    def run() -> None:
        try:
            loop.run(stop)
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "the sink retries a letter the broker will never take"
    (error,) = failed
    assert isinstance(error, InfrastructureError)
    assert "DLQ topic dlq refuses the dead letter of tel[0]@0" in str(error)
    assert consumer.log == []  # nothing committed: the record is read again once fixed


def test_a_letter_lost_to_an_outage_is_sent_again() -> None:
    class Outage(FakeProducer):
        def flush(self, timeout: float = -1) -> int:
            if self.refuse is not None and self.waiting:
                _message, on_delivery = self.waiting.pop()
                assert on_delivery is not None
                on_delivery(self.refuse, None)
                self.refuse = None  # the broker is back
                return 0
            return super().flush(timeout)

    producer = Outage(refuse=KafkaError(KafkaError._MSG_TIMED_OUT))
    letters = DeadLetters("unused", "dlq", producer=producer)
    letters.send(_source(b"garbage"), "not-framed", "garbage")
    assert letters.flush(retry_s=0.0)
    assert [m["value"] for m in producer.delivered] == [b"garbage"]


@pytest.mark.parametrize("code", [KafkaError._INVALID_ARG, KafkaError._UNKNOWN_TOPIC])
def test_a_produce_call_refused_for_good_is_one_error(code: int) -> None:
    class Refusing(FakeProducer):
        def produce(self, topic: str, *args: Any, **kwargs: Any) -> None:
            raise KafkaException(KafkaError(code))

    letters = DeadLetters("unused", "dlq", producer=Refusing())
    with pytest.raises(InfrastructureError, match="DLQ topic dlq refuses"):
        letters.send(_source(b"garbage"), "not-framed", "garbage")
