"""Helpers for the sink's integration tests: test data, topics and buckets of one test, the
sink as a real subprocess, and reading back what it stored."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from influxdb_client import InfluxDBClient

from circuit import silverstone
from integration_tests.kafka_io import consume
from producer.simulation import Simulation, to_records
from runtime.endpoints import Endpoints
from runtime.kafka import client_config
from schemas.registration import register_all
from schemas.registry import SchemaRegistry
from schemas.topics import Topics
from tests.avro_samples import with_race_fields

REPO = Path(__file__).resolve().parents[1]
TELEMETRY_PARTITIONS = 2


def make_records(session_id: str, *, cars: int = 3, hz: int = 10, seconds: float = 200.0):
    """Simulated records (several cars, several laps) that satisfy the contract, with every
    telemetry v2 field (a race car's values where the simulator leaves one out).

    10 Hz keeps the data small while every car still crosses the line twice. The simulator
    reports steering in degrees while the contract's channel is a fraction of full lock, so
    it is scaled here (full lock taken as 180 degrees) to give records the serde accepts.
    """
    sim = Simulation(silverstone(), n_cars=cars, hz=hz, seed=7, session_id=session_id)
    records = with_race_fields(to_records(sim.run(round(seconds * hz))))
    for r in records:
        r["steering"] = max(-1.0, min(1.0, -r["steering"] / 180.0))
    return records


def create_topics(
    endpoints: Endpoints,
    unique: str,
    *,
    analytics: bool = True,
    older_telemetry: Sequence[Mapping[str, Any]] = (),
) -> Topics:
    """Topics and subjects of one test, registered by `f1-schemas register`; without the lap
    summary topic when ``analytics`` is False. ``older_telemetry``: telemetry schema versions
    registered before the current one, oldest first (a subject with history)."""
    topics = Topics.from_env(
        telemetry=f"it-sink-tel-{unique}",
        analytics=f"it-sink-laps-{unique}",
        dlq=f"it-sink-dlq-{unique}",
    )
    admin = AdminClient(client_config(endpoints.kafka_bootstrap))
    new = [
        NewTopic(topics.telemetry, TELEMETRY_PARTITIONS, 1),
        NewTopic(topics.analytics, 1, 1),
        NewTopic(topics.dlq, 1, 1),
    ]
    if not analytics:
        new = [t for t in new if t.topic != topics.analytics]
    for future in admin.create_topics(new).values():
        future.result(timeout=30)
    if older_telemetry:
        with SchemaRegistry(endpoints.registry_url) as registry:
            for schema in older_telemetry:
                registry.register(topics.telemetry_subject, schema)
    register_all(endpoints.registry_url, topics)
    return topics


def influx(endpoints: Endpoints) -> InfluxDBClient:
    return InfluxDBClient(
        url=endpoints.influx_url, token=endpoints.influx_token.reveal(), org=endpoints.influx_org
    )


def create_bucket(endpoints: Endpoints, name: str) -> None:
    with influx(endpoints) as client:
        client.buckets_api().create_bucket(bucket_name=name, org=endpoints.influx_org)


def delete_bucket(endpoints: Endpoints, name: str) -> None:
    try:
        with influx(endpoints) as client:
            api = client.buckets_api()
            found = api.find_bucket_by_name(name)
            if found is not None:
                api.delete_bucket(found)
    except Exception:  # cleanup only: InfluxDB may be down after a failed drill
        pass


def produce(
    endpoints: Endpoints,
    topic: str,
    items: Iterable[tuple[bytes | None, bytes]],
    *,
    pace_per_s: float | None = None,
) -> int:
    """Produce (key, value) pairs, optionally at about ``pace_per_s``; the count delivered."""
    producer = Producer(
        {
            **client_config(endpoints.kafka_bootstrap),
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
        }
    )
    delivered = 0

    def on_delivery(err: Any, _msg: Any) -> None:
        nonlocal delivered
        assert err is None, err
        delivered += 1

    started = time.monotonic()
    for i, (key, value) in enumerate(items):
        producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
        producer.poll(0)
        if pace_per_s is not None and i % 50 == 0:
            ahead = i / pace_per_s - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    assert producer.flush(60) == 0
    return delivered


def encoded(serializer: Any, records: list[dict]) -> list[tuple[bytes, bytes]]:
    return [(r["car_id"].encode(), serializer.encode(r)) for r in records]


class SinkProcess:
    """``python -m sinks run`` for one test's topics, bucket and consumer group."""

    def __init__(
        self,
        endpoints: Endpoints,
        topics: Topics,
        bucket: str,
        group: str,
        log_file: Path,
        *extra: str,
    ) -> None:
        self.log_file = log_file
        self.args = [
            sys.executable,
            "-m",
            "sinks",
            "run",
            "--bootstrap",
            endpoints.kafka_bootstrap,
            "--registry",
            endpoints.registry_url,
            "--influx-url",
            endpoints.influx_url,
            "--org",
            endpoints.influx_org,
            "--bucket",
            bucket,
            "--telemetry-topic",
            topics.telemetry,
            "--analytics-topic",
            topics.analytics,
            "--dlq-topic",
            topics.dlq,
            "--group",
            group,
            "--progress-s",
            "2",
            *extra,
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SinkProcess:
        with self.log_file.open("ab") as out:
            self.proc = subprocess.Popen(
                self.args,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: no flush, no commit
        self.proc.wait(10)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait: the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")


def count_points(endpoints: Endpoints, bucket: str, session: str) -> int:
    """Telemetry points of ``session``: every point has the integer field ``lap``."""
    flux = (
        f'from(bucket: "{bucket}") |> range(start: 0, stop: 2200-01-01T00:00:00Z)'
        f' |> filter(fn: (r) => r._measurement == "telemetry" and r.session_id == "{session}"'
        ' and r._field == "lap") |> group() |> count()'
    )
    with influx(endpoints) as client:
        tables = client.query_api().query(flux)
    return sum(rec.get_value() for table in tables for rec in table.records)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, poll_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def wait_for_count(
    endpoints: Endpoints, bucket: str, session: str, expected: int, timeout: float = 90.0
) -> int:
    seen = [0]

    def reached() -> bool:
        seen[0] = count_points(endpoints, bucket, session)
        return seen[0] >= expected

    try:
        wait_for(reached, timeout, f"{expected} points")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last count {seen[0]}") from None
    return seen[0]


def committed(endpoints: Endpoints, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offset per partition (-1001 when none)."""
    consumer = Consumer({**client_config(endpoints.kafka_bootstrap), "group.id": group})
    try:
        parts = consumer.committed(
            [TopicPartition(topic, p) for p in range(partitions)], timeout=10
        )
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in parts}


def end_offsets(endpoints: Endpoints, topic: str, partitions: int) -> dict[int, int]:
    consumer = Consumer({**client_config(endpoints.kafka_bootstrap), "group.id": "probe"})
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
    finally:
        consumer.close()


def read_dlq(endpoints: Endpoints, topic: str, count: int, timeout: float = 30.0) -> list[Any]:
    # Anything beyond the expected count would be a duplicate letter: look 2 s longer.
    return consume(endpoints.kafka_bootstrap, topic, count, timeout_s=timeout, linger_s=2.0)


def in_background(fn: Callable[[], Any]) -> threading.Thread:
    thread = threading.Thread(target=fn, daemon=True)
    thread.start()
    return thread
