"""The secured stack (``f1-stack up --secure``) as an outsider meets it: raw clients configured
by hand with the CA, the users and the tokens the stack wrote, and nothing of the stack's
own client code. Each service's user may do its job and nothing beyond it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

pytestmark = pytest.mark.integration

BOOTSTRAP = "127.0.0.1:29092"
REGISTRY = "https://127.0.0.1:28081/apis/ccompat/v7"
INFLUX = "http://127.0.0.1:28086"
TELEMETRY, ANALYTICS = "f1-telemetry", "f1-analytics"


def login(state: Path, user: str, password: str | None = None) -> dict[str, Any]:
    """librdkafka settings for ``user`` on the client listener, as a service would set them."""
    if password is None:
        password = (state / "secrets" / f"kafka-{user}.password").read_text().strip()
    return {
        "bootstrap.servers": BOOTSTRAP,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": user,
        "sasl.password": password,
        "ssl.ca.location": str(state / "tls" / "ca.pem"),
    }


def produce_one(config: dict[str, Any], topic: str) -> KafkaError | None:
    """Produce one record; the error it was delivered with, or None."""
    outcome: list[KafkaError | None] = []
    producer = Producer({**config, "acks": "all", "message.timeout.ms": 15_000})
    producer.produce(
        topic, key=b"car-01", value=b"probe", on_delivery=lambda e, _m: outcome.append(e)
    )
    producer.flush(20)
    assert outcome, f"no delivery report for {topic}"
    return outcome[0]


def test_a_client_without_a_login_is_refused(secure_stack: Path) -> None:
    plaintext = AdminClient({"bootstrap.servers": BOOTSTRAP, "log_level": 0})
    with pytest.raises(KafkaException):
        plaintext.list_topics(timeout=5)
    wrong = AdminClient({**login(secure_stack, "producer", "not-the-password"), "log_level": 0})
    with pytest.raises(KafkaException):
        wrong.list_topics(timeout=5)


def test_the_producer_writes_telemetry_and_nothing_else(secure_stack: Path) -> None:
    producer = login(secure_stack, "producer")
    assert produce_one(producer, TELEMETRY) is None
    refused = produce_one(producer, ANALYTICS)
    assert refused is not None
    assert refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_the_sink_reads_telemetry_in_its_group_but_cannot_write_it(secure_stack: Path) -> None:
    refused = produce_one(login(secure_stack, "sink"), TELEMETRY)
    assert refused is not None
    assert refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert produce_one(login(secure_stack, "producer"), TELEMETRY) is None
    consumer = Consumer(
        {
            **login(secure_stack, "sink"),
            "group.id": "f1-sink-influx",
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.subscribe([TELEMETRY])
        message = None
        for _ in range(30):
            message = consumer.poll(1.0)
            if message is not None:
                break
        assert message is not None, "the sink read nothing"
        assert message.error() is None, message.error()
        consumer.commit(message, asynchronous=False)
    finally:
        consumer.close()


def test_the_analytics_job_publishes_in_a_transaction(secure_stack: Path) -> None:
    """What analytics/publish.py does: a transaction holding a summary and the published batch
    id, an offset committed for the job's bookkeeping group."""
    from confluent_kafka import TopicPartition

    job = f"f1-analytics-it-{uuid.uuid4().hex[:8]}"
    config = login(secure_stack, "analytics")
    producer = Producer({**config, "transactional.id": job, "enable.idempotence": True})
    bookkeeping = Consumer({**config, "group.id": f"{job}-published", "enable.auto.commit": False})
    try:
        producer.init_transactions(30)
        producer.begin_transaction()
        producer.produce(ANALYTICS, key=b"car-01", value=b"lap summary")
        producer.send_offsets_to_transaction(
            [TopicPartition(ANALYTICS, 0, 1)], bookkeeping.consumer_group_metadata(), 30
        )
        producer.commit_transaction(30)
        committed = bookkeeping.committed([TopicPartition(ANALYTICS, 0)], timeout=30)
        assert committed[0].offset == 1
    finally:
        bookkeeping.close()


def test_the_registry_asks_for_a_login_over_tls(secure_stack: Path) -> None:
    ca = str(secure_stack / "tls" / "ca.pem")
    secrets = secure_stack / "secrets"

    def password(user: str) -> str:
        return (secrets / f"registry-{user}.password").read_text().strip()

    assert requests.get(f"{REGISTRY}/subjects", verify=ca, timeout=10).status_code == 401
    answered = requests.get(
        f"{REGISTRY}/subjects", auth=("producer", password("producer")), verify=ca, timeout=10
    )
    assert answered.status_code == 200
    assert isinstance(answered.json(), list)
    # Only the admin changes the registry.
    schema = {"schema": '{"type": "string"}'}
    subject = f"{REGISTRY}/subjects/it-secure-{uuid.uuid4().hex[:8]}-value"
    producer, admin = ("producer", password("producer")), ("admin", password("admin"))
    by_producer = requests.post(
        f"{subject}/versions", json=schema, auth=producer, verify=ca, timeout=10
    )
    assert by_producer.status_code == 403
    by_admin = requests.post(f"{subject}/versions", json=schema, auth=admin, verify=ca, timeout=10)
    assert by_admin.status_code == 200, by_admin.text
    # A lookup is a POST too, and every user may make one.
    found = requests.post(subject, json=schema, auth=producer, verify=ca, timeout=10)
    assert found.status_code == 200, found.text
    assert requests.delete(subject, auth=producer, verify=ca, timeout=10).status_code == 403
    for permanent in ("false", "true"):
        deleted = requests.delete(
            subject, params={"permanent": permanent}, auth=admin, verify=ca, timeout=10
        )
        assert deleted.status_code == 200, deleted.text


def _influx(state: Path, token_file: str) -> dict[str, str]:
    token = (state / "influxdb" / token_file).read_text().strip()
    return {"Authorization": f"Token {token}"}


def _write(headers: dict[str, str]) -> int:
    return requests.post(
        f"{INFLUX}/api/v2/write",
        params={"org": "f1", "bucket": "telemetry", "precision": "s"},
        data=f"it_secure_probe value=1 {1_700_000_000}",
        headers=headers,
        timeout=10,
    ).status_code


def _query(headers: dict[str, str]) -> int:
    return requests.post(
        f"{INFLUX}/api/v2/query",
        params={"org": "f1"},
        data='from(bucket: "telemetry") |> range(start: 0) |> limit(n: 1)',
        headers={**headers, "Content-Type": "application/vnd.flux"},
        timeout=10,
    ).status_code


def test_the_influx_write_token_writes_the_bucket_but_cannot_read_it(secure_stack: Path) -> None:
    write = _influx(secure_stack, "write-token")
    assert _write(write) == 204
    assert _query(write) in (401, 403, 404)


def test_the_influx_read_token_reads_the_bucket_but_cannot_write_it(secure_stack: Path) -> None:
    read = _influx(secure_stack, "read-token")
    assert _query(read) == 200
    assert _write(read) in (401, 403, 404)
