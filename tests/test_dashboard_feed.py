"""The consumer thread's logic with a fake Kafka consumer and a fake registry: topic discovery,
catch-up offsets, decoding, skipping bad records, and riding out a registry outage."""

from __future__ import annotations

import io
import json
import time
from typing import Any
from unittest.mock import patch

import pytest
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END
from fastavro import parse_schema, schemaless_writer

from dashboard.feed import Feed, RecordDecoder
from dashboard.model import GridModel
from dashboard.settings import Settings
from runtime.endpoints import Endpoints
from schemas.serde import frame, telemetry_deserializer
from schemas.topics import HISTORY_DIR, LAP_SUMMARY_SCHEMA_FILE, TELEMETRY_SCHEMA_FILE, Topics
from tests.avro_samples import GAME_CHANNELS, game_values
from tests.dashboard_samples import records, summary
from tests.fakes import FakeConsumer, FakeMessage, FakeRegistry

SCHEMAS = {
    1: TELEMETRY_SCHEMA_FILE.read_text(),
    2: LAP_SUMMARY_SCHEMA_FILE.read_text(),
    3: (HISTORY_DIR / "telemetry.v1.avsc").read_text(),
    4: (HISTORY_DIR / "lap_summary.v1.avsc").read_text(),
    5: (HISTORY_DIR / "telemetry.v2.avsc").read_text(),
}
TOPICS = Topics(telemetry="t-telemetry", analytics="t-analytics")
ENDPOINTS = Endpoints("127.0.0.1:1", "http://127.0.0.1:1", "http://127.0.0.1:1", "", "f1", "b")


def encode(schema_id: int, record: dict[str, Any]) -> bytes:
    schema = json.loads(SCHEMAS[schema_id])
    buf = io.BytesIO()
    schemaless_writer(buf, parse_schema(schema), record)
    return frame(schema_id, buf.getvalue())


def consumer_on(partitions: int) -> FakeConsumer:
    """A consumer on a broker with the telemetry topic in ``partitions`` partitions. Asked for
    the offsets of a time, partition 0 has records that recent (from offset 42), the others
    have none (-1)."""
    return FakeConsumer(topics={"t-telemetry": partitions}, recent_offsets={0: 42})


def idle_consumer() -> FakeConsumer:
    """Enough of a consumer for the thread's loop: no messages, positions at offset 10 and
    high watermarks at 15."""
    return FakeConsumer(topics={"t-telemetry": 1}, position_offset=10, high_watermark=15)


def feed(catchup_s: float = 100.0) -> tuple[Feed, GridModel, FakeRegistry]:
    model = GridModel(step_m=10.0)
    registry = FakeRegistry(SCHEMAS)
    settings = Settings(catchup_s=catchup_s, topics=TOPICS, endpoints=ENDPOINTS)
    return Feed(settings, model, registry=registry), model, registry  # type: ignore[arg-type]


def test_topics_are_picked_up_when_they_appear_and_telemetry_starts_back_in_time() -> None:
    f, model, _ = feed(catchup_s=100.0)
    consumer = consumer_on(2)
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
    first = consumer_on(2)
    f._scan_topics(first)  # type: ignore[arg-type]
    values = [encode(1, r) for r in records(range(0, 3))]
    f._handle([FakeMessage("t-telemetry", v, offset=42 + i) for i, v in enumerate(values)])

    f._assigned.clear()  # what a reconnect does: a new consumer, nothing assigned yet
    second = consumer_on(2)
    f._scan_topics(second)  # type: ignore[arg-type]
    starts = {(tp.topic, tp.partition): tp.offset for tp in second.assigned}
    # Partition 0 goes on after the last record the model took; partition 1 never had one,
    # so it starts back in time as at first.
    assert starts == {("t-telemetry", 0): 45, ("t-telemetry", 1): OFFSET_END}
    assert [tp.partition for tp in second.asked_times] == [1]
    assert model.cars["car-01"].records == 3


def test_kafka_unanswered_for_a_while_means_a_new_consumer() -> None:
    model = GridModel(step_m=10.0)
    made: list[FakeConsumer] = []

    def factory(_config: dict) -> FakeConsumer:
        consumer = idle_consumer()
        consumer.down = not made  # the first consumer never reaches the broker
        made.append(consumer)
        return consumer

    settings = Settings(topics=TOPICS, endpoints=ENDPOINTS)
    f = Feed(settings, model, registry=FakeRegistry(SCHEMAS), consumer_factory=factory)  # type: ignore[arg-type]
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
    model = GridModel(step_m=10.0)
    registry = FakeRegistry(SCHEMAS)
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
    model = GridModel(step_m=10.0)
    decoder = RecordDecoder(telemetry_deserializer(FakeRegistry(SCHEMAS)), model)
    assert decoder.decode(None) is None
    assert decoder.decode(b"\x01\x00\x00\x00\x01abc") is None
    assert model.status.decode_errors == 2


def test_the_thread_consumes_until_stopped_then_closes_its_consumer() -> None:
    model = GridModel(step_m=10.0)
    consumer = idle_consumer()
    settings = Settings(topics=TOPICS, endpoints=ENDPOINTS)
    f = Feed(settings, model, registry=FakeRegistry(SCHEMAS), consumer_factory=lambda _c: consumer)  # type: ignore[arg-type]
    f.start()
    deadline = time.monotonic() + 5
    while model.status.lag_records is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert model.status.lag_records == 5  # high watermark 15, position 10
    f.stop()
    f.join(timeout=5)
    assert not f.is_alive() and consumer.closed


def test_v1_v2_and_v3_records_in_one_topic_feed_the_model_alike() -> None:
    # car-01 from a v1 producer (practice, from the line); car-02 from a v2 one, on a race
    # grid 1 m behind the line (a negative lap distance), on softs; car-03 from a v3 one
    # with the game's channels (temperatures, ERS), on the same grid.
    f, model, _ = feed()
    v1 = [encode(3, r) for r in records(range(0, 70), grid_m=0.0)]
    race = {"session_kind": "race", "tyre_compound": "soft", "tyre_age_laps": 0}
    v2 = [encode(5, {**r, **race}) for r in records(range(0, 70), car="car-02", driver="HAM")]
    v3 = [
        encode(1, {**r, **race, **game_values(i)})
        for i, r in enumerate(records(range(0, 70), car="car-03", driver="LEC"))
    ]
    assert model.status.decode_errors == 0
    f._handle([FakeMessage("t-telemetry", v) for row in zip(v1, v2, v3, strict=True) for v in row])
    f._handle(
        [
            FakeMessage("t-analytics", encode(4, summary(lap=2))),
            FakeMessage("t-analytics", encode(2, {**summary(lap=1), "standing_start": True})),
        ]
    )
    assert model.status.decode_errors == 0
    old, new = model.cars["car-01"], model.cars["car-02"]
    assert old.latest is not None and old.latest["tyre_compound"] == "unknown"  # the default
    assert new.latest is not None and new.latest["tyre_compound"] == "soft"
    # The same laps by the same rule: lap 1 counts from the grid only.
    assert [c.lap for c in old.completed] == [2] and [c.lap for c in new.completed] == [1, 2]
    assert new.completed[0].time_s == pytest.approx(10.1)
    assert old.completed[0].time_s == pytest.approx(8.04)
    game = model.cars["car-03"]
    assert [(c.lap, c.time_s) for c in game.completed] == [(c.lap, c.time_s) for c in new.completed]
    assert game.latest is not None and game.latest["brake_temp_fl_c"] == 300.0 + 69 % 11
    assert all(old.latest[name] is None and new.latest[name] is None for name in GAME_CHANNELS)
    rows = {r["lap"]: r for r in model.laps.session_rows("s-1")}
    assert rows[1]["standing_start"] and not rows[2]["standing_start"]  # v1: the default
    assert rows[2]["tyre_compound"] == "unknown" and rows[2]["lap_time_s"] == 87.0
