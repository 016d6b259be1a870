"""The sink loop with fake Kafka, InfluxDB and DLQ: what is committed, when, and what is
dead-lettered."""

from __future__ import annotations

import io
import threading
from typing import Any

import pytest
from confluent_kafka import KafkaError
from fastavro import schemaless_writer

from runtime.errors import InfrastructureError
from schemas.channels import LAP_SUMMARY, TELEMETRY
from schemas.evolution import sample_records
from schemas.schema_files import parse_plain
from schemas.serde import ColumnDecoder, Deserializer, Serializer, frame, load_schema
from schemas.serde_errors import NotFramedError
from schemas.topics import (
    DLQ_REASON_HEADER,
    DLQ_SOURCE_OFFSET_HEADER,
    DLQ_SOURCE_PARTITION_HEADER,
    DLQ_SOURCE_TOPIC_HEADER,
    LAP_SUMMARY_SCHEMA_FILE,
    TELEMETRY_SCHEMA_FILE,
)
from sinks.consumer_loop import SinkLoop
from sinks.dlq import DeadLetters
from sinks.influx_writer import Lines, Rejected, WriteCancelled
from tests.fakes import FakeConsumer, FakeMessage, FakeProducer, FakeRegistry

TOPIC = "tel"
BASE = sample_records(load_schema(TELEMETRY_SCHEMA_FILE))[1]


def msg(
    offset: int,
    value: bytes,
    partition: int = 0,
    error: KafkaError | None = None,
    topic: str = TOPIC,
) -> FakeMessage:
    return FakeMessage(
        topic, value, partition=partition, offset=offset, timestamp_ms=1_000, error=error
    )


class FakeWriter:
    def __init__(self, log: list[Any], reject: set[str] | None = None, cancel: bool = False):
        self.log = log
        self.reject = reject or set()
        self.cancel = cancel
        self.retries = 0
        self.lines: list[str] = []

    def write(self, lines: Lines, cancel: threading.Event | None = None) -> list[Rejected]:
        if self.cancel:
            raise WriteCancelled("shutdown")
        self.log.append(("write", len(lines)))
        self.lines.extend(line.decode() for line in lines.split())
        return [
            Rejected(i, 422, "field type conflict")
            for i, line in enumerate(lines.split())
            if any(r.encode() in line for r in self.reject)
        ]


def dlq_producer(log: list[Any]) -> FakeProducer:
    """The DLQ's producer: each letter's reason goes to ``log`` when it is delivered."""
    return FakeProducer(
        on_deliver=lambda letter: log.append(("dlq", letter["headers"][DLQ_REASON_HEADER].decode()))
    )


class FakeDecoder:
    """b"good:N" is a valid record at timestamp N; anything else is garbage."""

    def __init__(self, registry_failures: int = 0) -> None:
        self.registry_failures = registry_failures

    def decode(self, data: bytes) -> dict[str, Any]:
        if self.registry_failures:
            self.registry_failures -= 1
            raise InfrastructureError("registry down")
        if not data.startswith(b"good:"):
            raise NotFramedError("not framed")
        return {**BASE, "timestamp": int(data[5:])}


def _run(
    values: list[bytes | FakeMessage],
    *,
    writer_kwargs: dict[str, Any] | None = None,
    decoder: Any = None,
    batch_points: int = 1000,
    more_decoders: dict[str, Any] | None = None,
) -> tuple[SinkLoop, list[Any], FakeProducer]:
    log: list[Any] = []
    stop = threading.Event()
    messages = [v if isinstance(v, FakeMessage) else msg(i, v) for i, v in enumerate(values)]
    consumer = FakeConsumer(messages, drained=stop, log=log)
    producer = dlq_producer(log)
    loop = SinkLoop(
        consumer,
        FakeWriter(log, **(writer_kwargs or {})),
        DeadLetters("unused", "dlq", producer=producer),
        {TOPIC: (TELEMETRY, decoder or FakeDecoder()), **(more_decoders or {})},
        batch_points=batch_points,
        batch_ms=10_000,
    )
    loop.run(stop)
    return loop, log, producer


def test_every_record_written_then_committed_in_order() -> None:
    loop, log, _ = _run([f"good:{i}".encode() for i in range(7)], batch_points=3)
    assert log == [
        ("write", 3),
        ("commit", {(0, 3)}),
        ("write", 3),
        ("commit", {(0, 6)}),
        ("write", 1),
        ("commit", {(0, 7)}),
    ]
    assert loop.stats.stored == loop.stats.telemetry == 7
    assert loop.committed == {(TOPIC, 0): 7}


def test_garbage_goes_to_the_dlq_before_its_offset_is_committed() -> None:
    loop, log, producer = _run([b"good:1", b"\x01garbage", b"good:2"])
    assert log.index(("dlq", "not-framed")) < log.index(("commit", {(0, 3)}))
    assert ("write", 2) in log
    (letter,) = producer.delivered
    assert letter["value"] == b"\x01garbage"
    headers = letter["headers"]
    assert headers[DLQ_SOURCE_TOPIC_HEADER] == TOPIC.encode()
    assert headers[DLQ_SOURCE_PARTITION_HEADER] == b"0"
    assert headers[DLQ_SOURCE_OFFSET_HEADER] == b"1"
    assert loop.stats.dead == 1 and loop.stats.stored == 2


def test_points_influx_rejects_are_dead_lettered_before_the_commit() -> None:
    bad_ts = 424242
    loop, log, producer = _run(
        [b"good:1", f"good:{bad_ts}".encode(), b"good:3"],
        writer_kwargs={"reject": {f" {bad_ts}"}},
    )
    assert log == [("write", 3), ("dlq", "influx-rejected"), ("commit", {(0, 3)})]
    (letter,) = producer.delivered
    assert letter["headers"][DLQ_SOURCE_OFFSET_HEADER] == b"1"
    assert b"field type conflict" in letter["headers"]["f1-dlq-error"]
    assert loop.stats.stored == 2 and loop.stats.dead == 1


def test_nothing_is_committed_when_the_write_never_succeeds() -> None:
    _, log, _ = _run([b"good:1", b"good:2"], writer_kwargs={"cancel": True})
    assert not [e for e in log if e[0] == "commit"]


def test_an_unreachable_registry_delays_but_never_dead_letters(monkeypatch) -> None:
    monkeypatch.setattr("sinks.consumer_loop.DECODE_RETRY_MAX_S", 0.01)
    _loop, log, producer = _run([b"good:1"], decoder=FakeDecoder(registry_failures=3))
    assert producer.delivered == []
    assert log == [("write", 1), ("commit", {(0, 1)})]


@pytest.mark.parametrize("batch_points", [1, 2, 5])
def test_batches_never_exceed_the_size(batch_points: int) -> None:
    _, log, _ = _run([f"good:{i}".encode() for i in range(9)], batch_points=batch_points)
    sizes = [n for kind, n in log if kind == "write"]
    assert sum(sizes) == 9 and max(sizes) <= batch_points


def test_a_missing_topic_is_reported_and_records_keep_flowing(monkeypatch) -> None:
    """The lap summary topic may not exist: its error must not stall the batch timer."""
    missing = KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, "Subscribed topic not available")
    clock = iter(float(t) for t in range(1000))
    log: list[Any] = []
    stop = threading.Event()
    consumer = FakeConsumer([msg(-1, b"", error=missing)], drained=stop, log=log)
    original = consumer.consume

    def consume(num_messages: int, timeout: float) -> list[FakeMessage]:
        taken = original(num_messages, timeout)
        if not taken and not log:  # after the error, and a quiet moment, records arrive
            stop.clear()
            consumer.queue = [msg(0, b"good:1"), msg(1, b"good:2")]
        return taken

    consumer.consume = consume  # type: ignore[method-assign]
    loop = SinkLoop(
        consumer,
        FakeWriter(log),
        DeadLetters("unused", "dlq", producer=dlq_producer(log)),
        {TOPIC: (TELEMETRY, FakeDecoder())},
        batch_ms=0.5,
        clock=lambda: next(clock),
    )
    loop.run(stop)
    assert log == [("write", 2), ("commit", {(0, 2)})]


# --- with the real decoders: Avro values decoded as a batch ------------------------------------

LAPS = "laps-topic"


def _column_decoder(schema_file) -> ColumnDecoder:
    schema = load_schema(schema_file)
    return ColumnDecoder(Deserializer(FakeRegistry({1: schema}), schema))


def test_a_batch_with_bad_records_stores_the_good_ones_and_dead_letters_the_bad() -> None:
    serializer = Serializer(1, load_schema(TELEMETRY_SCHEMA_FILE))
    good = [serializer.encode({**BASE, "timestamp": t}) for t in (11, 12, 13)]
    body = io.BytesIO()  # written without the serializer's checks
    schemaless_writer(body, parse_plain(serializer.schema), {**BASE, "timestamp": 14, "sector": 4})
    out_of_range = frame(1, body.getvalue())
    values = [good[0], b"\x01garbage", good[1], out_of_range, good[2]]
    loop, log, producer = _run(values, decoder=_column_decoder(TELEMETRY_SCHEMA_FILE))
    assert log == [
        ("write", 3),
        ("dlq", "not-framed"),  # made durable before the commit
        ("dlq", "invalid-record"),
        ("commit", {(0, 5)}),
    ]
    assert [d["headers"][DLQ_SOURCE_OFFSET_HEADER] for d in producer.delivered] == [b"1", b"3"]
    assert [d["value"] for d in producer.delivered] == [b"\x01garbage", out_of_range]
    assert b"sector" in producer.delivered[1]["headers"]["f1-dlq-error"]
    assert loop.stats.stored == loop.stats.telemetry == 3 and loop.stats.dead == 2
    assert [line.rsplit(" ", 1)[1] for line in loop.writer.lines] == ["11", "12", "13"]


def test_lines_keep_their_sources_across_topics_for_dead_letters_of_rejects() -> None:
    tel = Serializer(1, load_schema(TELEMETRY_SCHEMA_FILE))
    laps = Serializer(1, load_schema(LAP_SUMMARY_SCHEMA_FILE))
    lap = sample_records(load_schema(LAP_SUMMARY_SCHEMA_FILE))[1]
    messages = [
        msg(0, tel.encode({**BASE, "timestamp": 101})),
        msg(0, laps.encode({**lap, "lap_end": lap["lap_start"] + 7}), topic=LAPS),
        msg(1, tel.encode({**BASE, "timestamp": 102})),
        msg(1, laps.encode({**lap, "lap_end": lap["lap_start"] + 8}), topic=LAPS),
    ]
    bad_lap_end = f" {lap['lap_start'] + 7}"  # the end of its line: the point's timestamp
    loop, log, producer = _run(
        messages,
        decoder=_column_decoder(TELEMETRY_SCHEMA_FILE),
        more_decoders={LAPS: (LAP_SUMMARY, _column_decoder(LAP_SUMMARY_SCHEMA_FILE))},
        writer_kwargs={"reject": {bad_lap_end}},
    )
    assert log == [("write", 4), ("dlq", "influx-rejected"), ("commit", {(0, 2)})]
    (letter,) = producer.delivered
    assert letter["headers"][DLQ_SOURCE_TOPIC_HEADER] == LAPS.encode()
    assert letter["headers"][DLQ_SOURCE_OFFSET_HEADER] == b"0"
    assert loop.committed == {(TOPIC, 0): 2, (LAPS, 0): 2}
    assert (loop.stats.stored, loop.stats.telemetry, loop.stats.laps) == (3, 2, 1)


def test_offsets_are_committed_per_partition() -> None:
    messages = [msg(o, f"good:{o}".encode(), partition=p) for o, p in [(5, 0), (9, 1), (6, 0)]]
    loop, log, _ = _run(messages)
    assert log == [("write", 3), ("commit", {(0, 7), (1, 10)})]
    assert loop.committed == {(TOPIC, 0): 7, (TOPIC, 1): 10}
