"""Shared by the analytics integration tests and benchmarks: simulate, produce, read back."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from confluent_kafka import OFFSET_BEGINNING, Consumer, DeserializingConsumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.error import ConsumeError
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import StringDeserializer
from fastavro import parse_schema, schemaless_writer

from analytics.settings import Settings
from circuit import silverstone
from integration_tests.kafka_io import read_to_end
from producer.simulation import Simulation, to_records
from runtime.endpoints import Endpoints
from runtime.kafka import client_config
from runtime.registry_access import registry_access
from schemas.registration import register_all
from schemas.registry import SchemaRegistry
from schemas.serde import frame, load_schema, telemetry_deserializer, telemetry_serializer
from schemas.topics import TELEMETRY_SCHEMA_FILE, Topics
from tests.avro_samples import with_race_fields

Batch = dict[str, np.ndarray]
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def make_topics(
    bootstrap: str,
    registry_url: str,
    suffix: str,
    partitions: int = 2,
    older_telemetry: Sequence[Mapping[str, Any]] = (),
) -> Topics:
    """Fresh topics (telemetry keyed by car over ``partitions``) with registered subjects;
    ``older_telemetry``: telemetry versions registered first, oldest first."""
    topics = Topics(
        telemetry=f"it-telemetry-{suffix}",
        analytics=f"it-analytics-{suffix}",
        dlq=f"it-dlq-{suffix}",
    )
    admin = AdminClient(client_config(bootstrap))
    new = [NewTopic(topics.telemetry, partitions, 1), NewTopic(topics.analytics, 1, 1)]
    for future in admin.create_topics(new).values():
        future.result(timeout=30)
    if older_telemetry:
        with SchemaRegistry(registry_url) as registry:
            for schema in older_telemetry:
                registry.register(topics.telemetry_subject, schema)
    register_all(registry_url, topics)
    return topics


class Session:
    """A simulated session, advanced in pieces, with the CLI's stopping rule for --laps."""

    def __init__(self, cars: int, hz: int, seed: int, session_id: str) -> None:
        self.sim = Simulation(silverstone(), cars, hz=hz, seed=seed, session_id=session_id)
        self.crossings = np.zeros(cars, dtype=np.int64)
        self.lap = np.ones(cars, dtype=np.int64)

    def ticks(self, count: int) -> list[Batch]:
        return [self._step() for _ in range(count)]

    def until_laps(self, laps: int) -> list[Batch]:
        """Batches up to (not including) the tick on which every car has crossed the line
        ``laps`` times, as ``f1-simulate --laps`` does."""
        out = []
        while True:
            batch = self._step()
            if self.crossings.min() >= laps:
                return out
            out.append(batch)

    def _step(self) -> Batch:
        batch = self.sim.step()
        self.crossings += batch["lap"] != self.lap
        self.lap = batch["lap"].copy()
        return batch


def encode_batches(
    registry_url: str, topics: Topics, batches: list[Batch]
) -> list[tuple[str, bytes]]:
    with SchemaRegistry(registry_url) as registry:
        serializer = telemetry_serializer(registry, topics)
    out = []
    for batch in batches:
        for record in with_race_fields(to_records(batch)):
            out.append((record["car_id"], serializer.encode(record, validate=False)))
    return out


def encode_with(
    schema: dict[str, Any], schema_id: int, batches: list[Batch]
) -> list[tuple[str, bytes]]:
    """Framed Avro written with another (registered) version of the telemetry schema."""
    parsed = parse_schema(_plain(schema))
    defaults = {f["name"]: f["default"] for f in schema["fields"] if "default" in f}
    out = []
    for batch in batches:
        for record in with_race_fields(to_records(batch)):
            buf = io.BytesIO()
            schemaless_writer(buf, parsed, {**defaults, **record})
            out.append((record["car_id"], frame(schema_id, buf.getvalue())))
    return out


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def telemetry_next() -> dict[str, Any]:
    """telemetry.avsc plus a field with a default: a fully compatible next version."""
    schema = load_schema(TELEMETRY_SCHEMA_FILE)
    schema["fields"] = [
        *schema["fields"],
        {
            "name": "ers_kj",
            "type": "float",
            "default": 0.0,
            "doc": "Energy in the ERS store. Unit: kJ. Range: 0..4000.",
        },
    ]
    return schema


def read_telemetry(bootstrap: str, registry_url: str, topic: str) -> pd.DataFrame:
    """Every decodable record on ``topic``, decoded by the project's deserializer."""
    with SchemaRegistry(registry_url) as registry:
        deserializer = telemetry_deserializer(registry, validate=False)
        rows = []
        for value in (m.value() for m in read_to_end(bootstrap, topic)):
            try:
                rows.append(deserializer.decode(value))
            except Exception:  # poison records the test put there on purpose
                continue
    return pd.DataFrame(rows)


def read_summaries(
    bootstrap: str, registry_url: str, topic: str, wait_s: float = 2.0
) -> list[dict]:
    """Every summary on ``topic``, decoded by confluent-kafka's own AvroDeserializer through
    the registry (as any standard consumer would), committed transactions only. The
    partitions are assigned, not subscribed, so a reader of the secured stack needs no
    consumer group of its own; values that are no summary (the secured stack's probes) are
    skipped."""
    deserializer = AvroDeserializer(
        SchemaRegistryClient(registry_access(registry_url).client_conf())
    )
    consumer = DeserializingConsumer(
        {
            **client_config(bootstrap),
            "group.id": f"read-{topic}-{time.monotonic_ns()}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "key.deserializer": StringDeserializer("utf_8"),
            "value.deserializer": deserializer,
        }
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    out = []
    idle_since = time.monotonic()
    try:
        while time.monotonic() - idle_since < wait_s:
            try:
                msg = consumer.poll(0.5)
            except ConsumeError:  # no summary, or the group nobody needs: as msg.error() below
                continue
            if msg is None or msg.error() is not None:
                continue
            value = msg.value()
            value["_key"] = msg.key()
            out.append(value)
            idle_since = time.monotonic()
    finally:
        consumer.close()
    return out


def run_job(job: Any, done: Callable[[Any], bool], timeout_s: float) -> float:
    """Run ``job`` until ``done(job)``; fail after ``timeout_s``. Returns the run time."""
    stop = threading.Event()
    timer = threading.Timer(timeout_s, stop.set)
    timer.start()
    started = time.monotonic()
    try:
        job.run(stop, until=done)
    finally:
        timer.cancel()
    assert not stop.is_set(), f"the job did not finish within {timeout_s} s"
    return time.monotonic() - started


def end_offsets(bootstrap: str, topic: str) -> dict[str, int]:
    """Partition (as Spark's progress names it) -> offset after the last record."""
    consumer = Consumer({**client_config(bootstrap), "group.id": f"ends-{topic}"})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        return {
            str(p): consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in meta.partitions
        }
    finally:
        consumer.close()


def caught_up(topic: str, ends: dict[str, int]) -> Callable[[Any], bool]:
    """A ``done`` for run_job: the job's last micro-batch read ``topic`` up to ``ends``."""

    def done(job: Any) -> bool:
        if not job.progress:
            return False
        last = job.progress[-1]
        source = (last.get("sources") or [{}])[0]
        offsets = source.get("endOffset") or {}
        if isinstance(offsets, str):
            offsets = json.loads(offsets)
        return {k: int(v) for k, v in (offsets.get(topic) or {}).items()} == ends

    return done


def _micros(value: int | dt.datetime) -> int:
    # AvroDeserializer turns timestamp-micros into an aware datetime.
    if isinstance(value, dt.datetime):
        return (value - EPOCH) // dt.timedelta(microseconds=1)
    return int(value)


def summaries_by_key(summaries: list[dict]) -> dict[tuple[str, str, int], dict]:
    """Summaries read back by (session, car, lap); fails on a summary published twice."""
    out: dict[tuple[str, str, int], dict] = {}
    for s in summaries:
        s = {**s, "lap_start": _micros(s["lap_start"]), "lap_end": _micros(s["lap_end"])}
        key = (s["session_id"], s["car_id"], s["lap"])
        assert key not in out, f"summary published twice: {key}"
        assert s["_key"] == s["car_id"], "the Kafka key is the car id"
        out[key] = s
    return out


def job_settings(endpoints: Endpoints, topics: Topics, checkpoint: Path, **env: str) -> Settings:
    """The analytics job's settings for ``topics`` on the test stack: a short trigger, its
    own checkpoint, and ``env`` over them."""
    return Settings.from_env(
        {
            "F1_KAFKA_BOOTSTRAP": endpoints.kafka_bootstrap,
            "F1_SCHEMA_REGISTRY_URL": endpoints.registry_url.with_credentials(),
            "F1_TELEMETRY_TOPIC": topics.telemetry,
            "F1_ANALYTICS_TOPIC": topics.analytics,
            "F1_ANALYTICS_CHECKPOINT": str(checkpoint),
            "SPARK_TRIGGER_INTERVAL": "500ms",
            **env,
        }
    )
