"""The sink on the real stack with a record too large for its DLQ: a record of about 1 MB on
the telemetry topic, which the broker takes but the DLQ producer cannot send whole.

It is dead-lettered truncated, with a header giving its size, and the sink goes on storing
what follows; with a DLQ topic whose own size limit is far below that, the letter keeps only
its headers, which still say where the record is.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from integration_tests.sink_support import (
    SinkProcess,
    create_bucket,
    create_topics,
    delete_bucket,
    encoded,
    make_records,
    produce,
    read_dlq,
    wait_for,
    wait_for_count,
)
from runtime.endpoints import Endpoints
from runtime.kafka import client_config
from schemas.registry import SchemaRegistry
from schemas.serde import telemetry_serializer
from schemas.topics import (
    DLQ_REASON_HEADER,
    DLQ_SOURCE_OFFSET_HEADER,
    DLQ_SOURCE_TOPIC_HEADER,
    DLQ_TRUNCATED_HEADER,
)
from sinks.dlq import TRUNCATED_BYTES

pytestmark = pytest.mark.integration

SET = AlterConfigOpType.SET
KEY = b"car-01"
# Over librdkafka's default message.max.bytes (1,000,000), under the broker's 1 MiB; framed
# with the highest schema id, which no registry of a test run has given out.
BIG = b"\x00\x7f\xff\xff\xff" + b"\xff" * 1_020_000


def _produce_big(endpoints: Endpoints, topic: str) -> None:
    producer = Producer(
        {**client_config(endpoints.kafka_bootstrap), "message.max.bytes": 2_000_000}
    )
    errors: list[object] = []
    producer.produce(topic, key=KEY, value=BIG, on_delivery=lambda e, _m: errors.append(e))
    assert producer.flush(30) == 0 and errors == [None], errors


@pytest.mark.parametrize(
    ("dlq_limit", "kept"),
    [(None, BIG[:TRUNCATED_BYTES]), (20_000, None)],
    ids=["client-limit", "broker-limit"],
)
def test_a_record_of_1_mb_is_dead_lettered_truncated_and_the_sink_goes_on(
    endpoints: Endpoints, unique: str, tmp_path: Path, dlq_limit: int | None, kept: bytes | None
) -> None:
    topics = create_topics(endpoints, unique, analytics=False)
    if dlq_limit is not None:
        admin = AdminClient(client_config(endpoints.kafka_bootstrap))
        limit = ConfigEntry("max.message.bytes", str(dlq_limit), incremental_operation=SET)
        resource = ConfigResource("topic", topics.dlq, incremental_configs=[limit])
        for future in admin.incremental_alter_configs([resource]).values():
            future.result(timeout=30)
    bucket = f"it-sink-big-{unique}"
    create_bucket(endpoints, bucket)
    session = f"it-big-{unique}"
    records = make_records(session, cars=1, seconds=30.0)
    half = len(records) // 2
    with SchemaRegistry(endpoints.registry_url) as registry:
        values = encoded(telemetry_serializer(registry, topics), records)
    # Records before and after the big one, all on one partition (one key): the sink must get
    # past it to store the second half.
    produce(endpoints, topics.telemetry, [(KEY, v) for _, v in values[:half]])
    _produce_big(endpoints, topics.telemetry)
    produce(endpoints, topics.telemetry, [(KEY, v) for _, v in values[half:]])

    sink = SinkProcess(
        endpoints, topics, bucket, f"it-sink-big-{unique}", tmp_path / "sink.log"
    ).start()
    try:
        wait_for_count(endpoints, bucket, session, len(records), timeout=90)
        (letter,) = read_dlq(endpoints, topics.dlq, 1)
        wait_for(lambda: "dlq 1" in sink.log(), 15, "a progress line counting the letter")
        assert sink.alive(), sink.log()
        assert sink.stop() == 0, sink.log()
    finally:
        if sink.alive():
            sink.stop()
        delete_bucket(endpoints, bucket)
    headers = dict(letter.headers())
    assert headers[DLQ_TRUNCATED_HEADER] == str(len(KEY) + len(BIG)).encode()
    assert headers[DLQ_REASON_HEADER] == b"unknown-schema-id"
    assert headers[DLQ_SOURCE_TOPIC_HEADER].decode() == topics.telemetry
    assert int(headers[DLQ_SOURCE_OFFSET_HEADER]) == half
    assert letter.value() == kept
    assert "Traceback" not in sink.log()
