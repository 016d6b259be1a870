"""The local stack's parts, each talked to with its standard client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest
import requests
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from integration_tests.kafka_io import consume
from runtime.endpoints import Endpoints
from runtime.kafka import client_config, spark_kafka_options
from runtime.registry_access import registry_access

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LAP_V1 = {
    "type": "record",
    "name": "LapProbe",
    "namespace": "io.f1telemetry.test",
    "fields": [
        {"name": "car_id", "type": "string"},
        {"name": "lap", "type": "int"},
        {"name": "lap_time_s", "type": "double"},
    ],
}
PROBES = [
    {"car_id": "car-01", "lap": 1, "lap_time_s": 91.25},
    {"car_id": "car-02", "lap": 1, "lap_time_s": 92.5},
    {"car_id": "car-01", "lap": 2, "lap_time_s": 87.125},
]


def _create_topic(endpoints: Endpoints, topic: str) -> None:
    admin = AdminClient(client_config(endpoints.kafka_bootstrap))
    futures = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    futures[topic].result(timeout=30)


def _produce_probes(endpoints: Endpoints, topic: str) -> SchemaRegistryClient:
    registry = SchemaRegistryClient(registry_access(endpoints.registry_url).client_conf())
    serializer = AvroSerializer(registry, json.dumps(LAP_V1))
    producer = Producer({**client_config(endpoints.kafka_bootstrap), "acks": "all"})
    for probe in PROBES:
        value = serializer(probe, SerializationContext(topic, MessageField.VALUE))
        producer.produce(topic, key=probe["car_id"], value=value)
    assert producer.flush(30) == 0
    return registry


def test_avro_record_through_kafka_and_registry(endpoints: Endpoints, unique: str) -> None:
    topic = f"it-avro-{unique}"
    _create_topic(endpoints, topic)
    registry = _produce_probes(endpoints, topic)
    deserializer = AvroDeserializer(registry)
    messages = consume(endpoints.kafka_bootstrap, topic, len(PROBES))
    decoded = [
        deserializer(m.value(), SerializationContext(topic, MessageField.VALUE)) for m in messages
    ]
    assert decoded == PROBES
    assert [m.key() for m in messages] == [p["car_id"].encode() for p in PROBES]
    # The registered schema id is in the Confluent header of every record.
    schema_id = registry.get_latest_version(f"{topic}-value").schema_id
    assert all(m.value()[0] == 0 for m in messages)
    assert {int.from_bytes(m.value()[1:5], "big") for m in messages} == {schema_id}


def test_registry_refuses_an_incompatible_version(endpoints: Endpoints, unique: str) -> None:
    subject = f"it-compat-{unique}-value"
    registry = SchemaRegistryClient(registry_access(endpoints.registry_url).client_conf())
    # The stack sets the registry-wide level at start-up; nothing is set per subject here.
    access = registry_access(endpoints.registry_url)
    config = requests.get(
        f"{access.url}/config",
        auth=(access.username, access.password.reveal()) if access.username else None,
        verify=access.ca_location or True,
        timeout=10,
    ).json()
    assert config["compatibilityLevel"] == "FULL_TRANSITIVE"
    registry.register_schema(subject, Schema(json.dumps(LAP_V1), "AVRO"))

    type_changed = json.loads(json.dumps(LAP_V1))
    type_changed["fields"][1]["type"] = "string"
    with pytest.raises(SchemaRegistryError) as refused:
        registry.register_schema(subject, Schema(json.dumps(type_changed), "AVRO"))
    assert refused.value.http_status_code == 409

    field_added = json.loads(json.dumps(LAP_V1))
    field_added["fields"].append({"name": "valid", "type": "boolean", "default": True})
    registry.register_schema(subject, Schema(json.dumps(field_added), "AVRO"))
    assert registry.get_versions(subject) == [1, 2]


def test_influxdb_write_and_flux_read(endpoints: Endpoints, unique: str) -> None:
    from influxdb_client import InfluxDBClient, Point
    from influxdb_client.client.write_api import SYNCHRONOUS

    with InfluxDBClient(
        url=endpoints.influx_url, token=endpoints.influx_token.reveal(), org=endpoints.influx_org
    ) as client:
        now_ns = time.time_ns()
        points = [
            Point("it_probe").tag("run", unique).field("speed_kmh", 300.0 + i).time(now_ns + i)
            for i in range(3)
        ]
        client.write_api(write_options=SYNCHRONOUS).write(endpoints.influx_bucket, record=points)
        tables = client.query_api().query(
            f'from(bucket: "{endpoints.influx_bucket}") |> range(start: -1h) '
            f'|> filter(fn: (r) => r._measurement == "it_probe" and r.run == "{unique}")'
        )
        values = [record.get_value() for table in tables for record in table.records]
    assert values == [300.0, 301.0, 302.0]


def test_spark_reads_the_topic_and_decodes_with_from_avro(
    endpoints: Endpoints, spark: SparkSession, unique: str
) -> None:
    from pyspark.sql.avro.functions import from_avro
    from pyspark.sql.functions import expr

    topic = f"it-spark-{unique}"
    _create_topic(endpoints, topic)
    registry = _produce_probes(endpoints, topic)
    writer_schema = registry.get_latest_version(f"{topic}-value").schema.schema_str

    raw = (
        spark.read.format("kafka")
        .options(**spark_kafka_options(endpoints.kafka_bootstrap))
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .load()
    )
    # Strip the 5-byte Confluent header (magic byte + schema id); Spark's substring is 1-based.
    body = expr("substring(value, 6, length(value) - 5)")
    rows = (
        raw.select(from_avro(body, writer_schema).alias("r"), "offset")
        .orderBy("offset")
        .select("r.*")
        .collect()
    )
    assert [row.asDict() for row in rows] == PROBES


def test_schemas_survive_a_restart_of_the_stack(local_stack: Endpoints, unique: str) -> None:
    from stack import lifecycle

    subject = f"it-restart-{unique}-value"
    registry = SchemaRegistryClient(registry_access(local_stack.registry_url).client_conf())
    schema_id = registry.register_schema(subject, Schema(json.dumps(LAP_V1), "AVRO"))

    assert lifecycle.down() == 0
    assert lifecycle.up() == 0

    fresh = SchemaRegistryClient(registry_access(local_stack.registry_url).client_conf())
    assert json.loads(fresh.get_schema(schema_id).schema_str) == LAP_V1
    assert fresh.get_latest_version(subject).schema_id == schema_id


def test_up_with_a_port_taken_fails_with_one_clear_line(local_stack: Endpoints, tmp_path) -> None:
    # A second stack with its own state folder finds the first one's ports taken.
    env = {**os.environ, "F1_STATE_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "stack", "up"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "f1-stack: kafka: port 9092 is already taken by another process "
        "(not started by f1-stack); stop it or free the port"
    ]
