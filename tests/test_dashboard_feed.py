"""The consumer thread's logic with a fake Kafka consumer and a fake registry: topic discovery,
catch-up offsets, decoding, skipping bad records, and riding out a registry outage."""

from __future__ import annotations

import io
import json
import time
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from fastavro import parse_schema, schemaless_writer

from dashboard.feed import Feed, RecordDecoder
from dashboard.model import GridModel
from dashboard.settings import Settings
from runtime.endpoints import Endpoints
from schemas.registry import RegistryUnavailableError
from schemas.serde import frame, telemetry_deserializer
from schemas.topics import LAP_SUMMARY_SCHEMA_FILE, TELEMETRY_SCHEMA_FILE, Topics
from tests.kafka_fakes import FakeMessage
from tests.test_dashboard_model import records

SCHEMAS = {1: TELEMETRY_SCHEMA_FILE.read_text(), 2: LAP_SUMMARY_SCHEMA_FILE.read_text()}
TOPICS = Topics(telemetry="t-telemetry", analytics="t-analytics")
ENDPOINTS = Endpoints("127.0.0.1:1", "http://127.0.0.1:1", "http://127.0.0.1:1", "", "f1", "b")


class FakeRegistry:
    def __init__(self) -> None:
        self.calls = 0
        self.down = False

    def schema_by_id(self, schema_id: int) -> str:
        self.calls += 1
        if self.down:
            raise RegistryUnavailableError("schema registry at http://fake is unreachable")
        return SCHEMAS[schema_id]


def encode(schema_id: int, record: dict[str, Any]) -> bytes:
    schema = json.loads(SCHEMAS[schema_id])
    buf = io.BytesIO()
    schemaless_writer(buf, parse_schema(schema), record)
    return frame(schema_id, buf.getvalue())


def summary(lap: int = 1) -> dict[str, Any]:
    return {
        "session_id": "s-1",
        "car_id": "car-01",
        "driver": "VER",
        "lap": lap,
        "lap_time_s": 87.0,
        "sector1_s": 28.0,
        "sector2_s": 33.0,
        "sector3_s": 26.0,
        "lap_start": 1_700_000_000_000_000,
        "lap_end": 1_700_000_087_000_000,
        "avg_speed_kmh": 240.0,
        "max_speed_kmh": 318.0,
        "min_speed_kmh": 95.0,
        "full_throttle_share": 0.65,
        "brake_share": 0.16,
        "fuel_used_kg": 1.95,
        "max_abs_g_lat": 5.4,
        "max_g_long": 1.5,
        "min_g_long": -5.0,
        "sample_count": 8700,
    }


class FakeConsumer:
    def __init__(self, topics: dict[str, int]) -> None:
        self.topics = topics
        self.assigned: list[TopicPartition] = []
        self.asked_times: list[TopicPartition] = []

    def list_topics(self, timeout: float) -> Any:
        return SimpleNamespace(
            topics={
                name: SimpleNamespace(partitions=dict.fromkeys(range(n)))
                for name, n in self.topics.items()
            }
        )

    def offsets_for_times(self, parts: list[TopicPartition], timeout: float) -> list[Any]:
        self.asked_times += parts
        # Partition 0 has records that recent (offset 42), partition 1 has none (-1).
        return [TopicPartition(p.topic, p.partition, 42 if p.partition == 0 else -1) for p in parts]

    def incremental_assign(self, parts: list[TopicPartition]) -> None:
        self.assigned += parts


def feed(catchup_s: float = 100.0) -> tuple[Feed, GridModel, FakeRegistry]:
    model = GridModel(100.0, 10.0)
    registry = FakeRegistry()
    settings = Settings(catchup_s=catchup_s, topics=TOPICS, endpoints=ENDPOINTS)
    return Feed(settings, model, registry=registry), model, registry  # type: ignore[arg-type]


def test_topics_are_picked_up_when_they_appear_and_telemetry_starts_back_in_time() -> None:
    f, model, _ = feed(catchup_s=100.0)
    consumer = FakeConsumer({"t-telemetry": 2})
    before_ms = (time.time() - 100.0) * 1000
    f._scan_topics(consumer)  # type: ignore[arg-type]
    assert model.status.broker == "up"
    assert model.status.topics_found == {"t-telemetry"}
    assert model.status.catching_up
    assert all(abs(tp.offset - before_ms) < 5000 for tp in consumer.asked_times)
    starts = {(tp.topic, tp.partition): tp.offset for tp in consumer.assigned}
    assert starts == {("t-telemetry", 0): 42, ("t-telemetry", 1): OFFSET_END}

    consumer.topics["t-analytics"] = 1  # the analytics job starts publishing later
    f._scan_topics(consumer)  # type: ignore[arg-type]
    assert consumer.assigned[-1].topic == "t-analytics"
    assert consumer.assigned[-1].offset == OFFSET_BEGINNING
    assert len(consumer.assigned) == 3  # nothing assigned twice
    f._scan_topics(consumer)  # type: ignore[arg-type]
    assert len(consumer.assigned) == 3


def test_a_new_consumer_resumes_where_the_last_one_stopped() -> None:
    f, model, _ = feed()
    first = FakeConsumer({"t-telemetry": 2})
    f._scan_topics(first)  # type: ignore[arg-type]
    values = [encode(1, r) for r in records(range(0, 3))]
    f._handle([FakeMessage("t-telemetry", v, offset=42 + i) for i, v in enumerate(values)])

    f._assigned.clear()  # what a reconnect does: a new consumer, nothing assigned yet
    second = FakeConsumer({"t-telemetry": 2})
    f._scan_topics(second)  # type: ignore[arg-type]
    starts = {(tp.topic, tp.partition): tp.offset for tp in second.assigned}
    # Partition 0 goes on after the last record the model took; partition 1 never had one,
    # so it starts back in time as at first.
    assert starts == {("t-telemetry", 0): 45, ("t-telemetry", 1): OFFSET_END}
    assert [tp.partition for tp in second.asked_times] == [1]
    assert model.cars["car-01"].records == 3


def test_kafka_unanswered_for_a_while_means_a_new_consumer() -> None:
    model = GridModel(100.0, 10.0)
    made: list[LoopConsumer] = []

    def factory(_config: dict) -> LoopConsumer:
        consumer = LoopConsumer({"t-telemetry": 1})
        consumer.down = not made  # the first consumer never reaches the broker
        made.append(consumer)
        return consumer

    settings = Settings(topics=TOPICS, endpoints=ENDPOINTS)
    f = Feed(settings, model, registry=FakeRegistry(), consumer_factory=factory)  # type: ignore[arg-type]
    with patch("dashboard.feed.RECONNECT_AFTER_S", 0.2), patch("dashboard.feed.TOPIC_SCAN_S", 0.05):
        f.start()
        deadline = time.monotonic() + 5
        while model.status.broker != "up" and time.monotonic() < deadline:
            time.sleep(0.05)
        f.stop()
        f.join(timeout=5)
    assert len(made) == 2 and made[0].closed
    assert model.status.broker == "up"


def test_records_feed_the_model_and_bad_ones_are_counted_and_skipped() -> None:
    f, model, _ = feed()
    good = [encode(1, r) for r in records(range(0, 5))]
    messages = [
        *(FakeMessage("t-telemetry", v) for v in good[:2]),
        FakeMessage("t-telemetry", b"garbage"),
        FakeMessage("t-telemetry", frame(1, b"\x01")),  # framed, body truncated
        *(FakeMessage("t-telemetry", v) for v in good[2:]),
        FakeMessage("t-analytics", encode(2, summary())),
    ]
    f._handle(messages)
    car = model.cars["car-01"]
    assert car.recent.seq == 5
    assert car.latest is not None and car.latest["rpm"] == 10_004.0
    assert model.status.decode_errors == 2
    assert model.status.messages == 8
    assert ("s-1", "car-01", 1) in model.laps.rows
    assert model.version == 1


def test_a_registry_outage_drops_unknown_ids_without_asking_again_until_the_backoff() -> None:
    model = GridModel(100.0, 10.0)
    registry = FakeRegistry()
    now = [0.0]
    decoder = RecordDecoder(
        telemetry_deserializer(registry), model, clock=lambda: now[0], backoff_s=5.0
    )
    value = encode(1, next(records(range(1))))
    registry.down = True
    assert decoder.decode(value) is None
    assert model.status.registry == "down" and registry.calls == 1
    assert decoder.decode(value) is None  # within the backoff: the registry is not asked
    assert registry.calls == 1 and model.status.dropped_registry_down == 2
    now[0] = 6.0
    registry.down = False
    assert decoder.decode(value) is not None
    assert registry.calls == 2
    # Once seen, an id decodes from the cache even while the registry is down again.
    registry.down = True
    now[0] = 7.0
    assert decoder.decode(value) is not None and registry.calls == 2


def test_unframed_and_empty_values_are_decode_errors() -> None:
    model = GridModel(100.0, 10.0)
    decoder = RecordDecoder(telemetry_deserializer(FakeRegistry()), model)
    assert decoder.decode(None) is None
    assert decoder.decode(b"\x01\x00\x00\x00\x01abc") is None
    assert model.status.decode_errors == 2


class LoopConsumer(FakeConsumer):
    """Enough of a consumer for the thread's loop: no messages, remembers being closed."""

    closed = False
    down = False  # True: the broker never answers this consumer

    def list_topics(self, timeout: float) -> Any:
        if self.down:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))
        return super().list_topics(timeout)

    def consume(self, num_messages: int, timeout: float) -> list[Any]:
        time.sleep(timeout)
        return []

    def position(self, parts: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(p.topic, p.partition, 10) for p in parts]

    def get_watermark_offsets(self, tp: TopicPartition, cached: bool) -> tuple[int, int]:
        return (0, 15)

    def close(self) -> None:
        self.closed = True


def test_the_thread_consumes_until_stopped_then_closes_its_consumer() -> None:
    model = GridModel(100.0, 10.0)
    consumer = LoopConsumer({"t-telemetry": 1})
    settings = Settings(topics=TOPICS, endpoints=ENDPOINTS)
    f = Feed(settings, model, registry=FakeRegistry(), consumer_factory=lambda _c: consumer)  # type: ignore[arg-type]
    f.start()
    deadline = time.monotonic() + 5
    while model.status.lag_records is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert model.status.lag_records == 5  # high watermark 15, position 10
    f.stop()
    f.join(timeout=5)
    assert not f.is_alive() and consumer.closed
