"""Reliability drills for the InfluxDB sink, with exact counts: SIGKILL and restart, influxd
stopped for 20 s, poison records, and start-up failures that end in one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from integration_tests.sink_support import (
    REPO,
    TELEMETRY_PARTITIONS,
    SinkProcess,
    committed,
    count_points,
    create_bucket,
    create_topics,
    delete_bucket,
    encoded,
    end_offsets,
    in_background,
    influx,
    make_records,
    produce,
    read_dlq,
    wait_for,
    wait_for_count,
)
from runtime.endpoints import Endpoints
from runtime.kafka import client_config
from schemas.registry import SchemaRegistry
from schemas.serde import Serializer, telemetry_serializer
from schemas.topics import (
    DLQ_ERROR_HEADER,
    DLQ_REASON_HEADER,
    DLQ_SOURCE_OFFSET_HEADER,
    DLQ_SOURCE_PARTITION_HEADER,
    DLQ_SOURCE_TOPIC_HEADER,
    Topics,
)


@dataclass
class Drill:
    endpoints: Endpoints
    topics: Topics
    bucket: str
    session: str
    group: str
    serializer: Serializer
    log_file: Path

    def sink(self, *extra: str) -> SinkProcess:
        return SinkProcess(
            self.endpoints, self.topics, self.bucket, self.group, self.log_file, *extra
        )

    def all_committed(self) -> bool:
        ends = end_offsets(self.endpoints, self.topics.telemetry, TELEMETRY_PARTITIONS)
        done = committed(self.endpoints, self.group, self.topics.telemetry, TELEMETRY_PARTITIONS)
        return all(done[p] == end for p, end in ends.items() if end > 0)


@pytest.fixture
def drill(endpoints: Endpoints, unique: str, tmp_path: Path) -> Iterator[Drill]:
    topics = create_topics(endpoints, unique)
    bucket = f"it-sink-{unique}"
    create_bucket(endpoints, bucket)
    with SchemaRegistry(endpoints.registry_url) as registry:
        serializer = telemetry_serializer(registry, topics)
    try:
        yield Drill(
            endpoints,
            topics,
            bucket,
            f"it-session-{unique}",
            f"it-sink-{unique}",
            serializer,
            tmp_path / "sink.log",
        )
    finally:
        delete_bucket(endpoints, bucket)


def test_sigkill_mid_stream_then_restart_stores_exactly_n(drill: Drill) -> None:
    records = make_records(drill.session)
    n = len(records)
    e = drill.endpoints
    producing = in_background(
        lambda: produce(
            e, drill.topics.telemetry, encoded(drill.serializer, records), pace_per_s=1000
        )
    )
    small_batches = ("--batch-points", "500", "--batch-ms", "100")
    first = drill.sink(*small_batches).start()
    try:
        wait_for(lambda: count_points(e, drill.bucket, drill.session) >= 1500, 60, "1500 points")
        first.kill()
        at_kill = count_points(e, drill.bucket, drill.session)
        assert at_kill < n, "the kill came after the stream ended: not a mid-stream drill"
    finally:
        if first.alive():
            first.kill()
    second = drill.sink(*small_batches).start()
    try:
        producing.join(60)
        assert wait_for_count(e, drill.bucket, drill.session, n) == n
        wait_for(drill.all_committed, 30, "every offset committed")
        time.sleep(1)  # nothing more may arrive: a replay overwrites, never adds
        assert count_points(e, drill.bucket, drill.session) == n
        assert second.stop() == 0, second.log()
    finally:
        if second.alive():
            second.stop()


def test_influxd_stopped_for_20_s_mid_stream(drill: Drill, local_stack: Endpoints) -> None:
    from stack.influxdb import InfluxDB

    records = make_records(drill.session)
    n = len(records)
    e = drill.endpoints
    # About 30 s of producing at 200 records/s: the outage falls in the middle of it.
    producing = in_background(
        lambda: produce(
            e, drill.topics.telemetry, encoded(drill.serializer, records), pace_per_s=200
        )
    )
    sink = drill.sink("--batch-points", "500", "--batch-ms", "100", "--retry-max-s", "2").start()
    influxdb = InfluxDB()
    try:
        wait_for(lambda: count_points(e, drill.bucket, drill.session) >= 600, 60, "600 points")
        influxdb.stop()
        down_at = time.monotonic()
        try:
            time.sleep(3)  # a write that was in flight at the stop has settled by now
            during = committed(e, drill.group, drill.topics.telemetry, TELEMETRY_PARTITIONS)
            time.sleep(max(0.0, 20 - (time.monotonic() - down_at)))
            assert sink.alive(), sink.log()
            after = committed(e, drill.group, drill.topics.telemetry, TELEMETRY_PARTITIONS)
            produced = end_offsets(e, drill.topics.telemetry, TELEMETRY_PARTITIONS)
        finally:
            influxdb.start()
            influxdb.wait_healthy()
        # Nothing was committed while InfluxDB was away, though records kept arriving.
        assert after == during
        assert sum(produced.values()) > sum(max(o, 0) for o in after.values())
        producing.join(60)
        assert wait_for_count(e, drill.bucket, drill.session, n) == n
        wait_for(drill.all_committed, 30, "every offset committed")
        assert count_points(e, drill.bucket, drill.session) == n
        assert sink.alive()
        log = sink.log()
        assert "InfluxDB write failed, retrying" in log
        assert "InfluxDB accepted the write after" in log
        assert sink.stop() == 0, log
    finally:
        if influxdb.running() is None:
            influxdb.start()
            influxdb.wait_healthy()
        if sink.alive():
            sink.stop()


CONFLICT_US = 1_893_456_000_000_000  # 2030-01-01: a shard of its own


def test_poison_records_go_to_the_dlq_and_every_good_record_is_stored(drill: Drill) -> None:
    e = drill.endpoints
    good = make_records(drill.session, cars=2, seconds=60)
    # Unstorable: a valid record whose field type clashes with what its shard already holds.
    with influx(e) as client:
        client.write_api().write(
            drill.bucket,
            e.influx_org,
            f"telemetry,session_id=conflict,car_id=car-99,driver=XXX gear=1.5 {CONFLICT_US}",
            write_precision="us",
        )
    clash = {**good[0], "timestamp": CONFLICT_US + 1_000_000}
    out_of_range = {**good[1], "timestamp": good[1]["timestamp"] + 1, "speed_kmh": 999.0}
    unknown_id = b"\x00" + (2**31 - 11).to_bytes(4, "big") + drill.serializer.encode(good[2])[5:]
    poison = {
        "not-framed": b"definitely not avro",
        "unknown-schema-id": unknown_id,
        "invalid-record": drill.serializer.encode(out_of_range, validate=False),
        "influx-rejected": drill.serializer.encode(clash),
    }
    items = encoded(drill.serializer, good)
    for i, value in enumerate(poison.values()):
        items.insert(100 + 300 * i, (b"car-01", value))
    produce(e, drill.topics.telemetry, items)

    sink = drill.sink().start()
    try:
        assert wait_for_count(e, drill.bucket, drill.session, len(good)) == len(good)
        letters = read_dlq(e, drill.topics.dlq, len(poison))
        wait_for(drill.all_committed, 30, "every offset committed, poison included")
        assert count_points(e, drill.bucket, drill.session) == len(good)
        assert sink.stop() == 0, sink.log()
    finally:
        if sink.alive():
            sink.stop()

    reasons = Counter(dict(m.headers())[DLQ_REASON_HEADER].decode() for m in letters)
    assert reasons == Counter(poison.keys())
    source = Consumer({**client_config(e.kafka_bootstrap), "group.id": "it-probe"})
    try:
        for letter in letters:
            headers = dict(letter.headers())
            reason = headers[DLQ_REASON_HEADER].decode()
            assert headers[DLQ_SOURCE_TOPIC_HEADER].decode() == drill.topics.telemetry
            assert headers[DLQ_ERROR_HEADER]
            assert letter.value() == poison[reason]
            # The partition and offset headers point at the very record.
            tp = TopicPartition(
                drill.topics.telemetry,
                int(headers[DLQ_SOURCE_PARTITION_HEADER]),
                int(headers[DLQ_SOURCE_OFFSET_HEADER]),
            )
            source.assign([tp])
            original = source.consume(1, timeout=10)
            assert original and original[0].value() == poison[reason], reason
    finally:
        source.close()
    invalid = next(m for m in letters if dict(m.headers())[DLQ_REASON_HEADER] == b"invalid-record")
    assert b"speed_kmh" in dict(invalid.headers())[DLQ_ERROR_HEADER]


def test_a_sink_started_before_the_stream_and_without_a_lap_topic_stores_it(
    endpoints: Endpoints, unique: str, tmp_path: Path
) -> None:
    """The live case: the sink waits on an empty topic, f1-analytics does not exist."""
    topics = create_topics(endpoints, unique, analytics=False)
    bucket, session = f"it-sink-{unique}", f"it-session-{unique}"
    create_bucket(endpoints, bucket)
    sink = SinkProcess(endpoints, topics, bucket, f"it-sink-{unique}", tmp_path / "sink.log")
    try:
        sink.start()
        wait_for(lambda: "progress: stored 0 records" in sink.log(), 60, "the sink running")
        time.sleep(2)
        records = make_records(session, cars=2, seconds=30)
        with SchemaRegistry(endpoints.registry_url) as registry:
            serializer = telemetry_serializer(registry, topics)
        produce(endpoints, topics.telemetry, encoded(serializer, records))
        assert wait_for_count(endpoints, bucket, session, len(records), 60) == len(records)
        assert sink.alive()
        assert f"topic {topics.analytics} is not available" in sink.log()
        assert sink.stop() == 0
    finally:
        if sink.alive():
            sink.stop()
        delete_bucket(endpoints, bucket)


def _start_failure(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sinks", "run", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_start_up_fails_with_one_line(endpoints: Endpoints, unique: str) -> None:
    missing = _start_failure("--telemetry-topic", f"it-never-registered-{unique}")
    assert missing.returncode == 2
    assert f"it-never-registered-{unique}-value" in missing.stderr
    assert "Traceback" not in missing.stderr

    # A token of its own: the local stack's token file is never sent to another InfluxDB.
    token = {"F1_INFLUX_TOKEN": endpoints.influx_token.reveal()}
    no_influx = _start_failure("--influx-url", "http://127.0.0.1:9", env=token)
    assert no_influx.returncode == 1
    assert "InfluxDB at http://127.0.0.1:9" in no_influx.stderr
    assert "Traceback" not in no_influx.stderr

    no_bucket = _start_failure("--bucket", f"it-no-such-bucket-{unique}")
    assert no_bucket.returncode == 2
    assert f"it-no-such-bucket-{unique}" in no_bucket.stderr
