"""The Avro contract against the real registry and broker, checked by independent clients."""

from __future__ import annotations

import io
import json
import shutil
import subprocess

import avro.io
import avro.schema
import pytest
import requests
from confluent_kafka.admin import AdminClient, NewTopic

from integration_tests.kafka_io import consume, produce_all
from runtime.endpoints import Endpoints
from runtime.kafka import client_config
from schemas import cli as schemas_cli
from schemas.evolution import released_versions, sample_records
from schemas.registry import SchemaRegistry, SubjectNotFoundError
from schemas.serde import load_schema, telemetry_deserializer, telemetry_serializer
from schemas.serde_errors import DecodeError, NotFramedError, UnknownSchemaIdError
from schemas.topics import HISTORY_DIR, TELEMETRY_SCHEMA_FILE, Topics


@pytest.fixture
def topics(endpoints: Endpoints, unique: str) -> Topics:
    """Topics of this test only, with their subjects registered by `f1-schemas register`."""
    chosen = Topics.from_env(
        telemetry=f"it-telemetry-{unique}",
        analytics=f"it-analytics-{unique}",
        dlq=f"it-dlq-{unique}",
    )
    admin = AdminClient(client_config(endpoints.kafka_bootstrap))
    names = [chosen.telemetry, chosen.analytics]
    for future in admin.create_topics([NewTopic(t, 1, 1) for t in names]).values():
        future.result(timeout=30)
    exit_code = schemas_cli.main(
        [
            "register",
            "--registry",
            endpoints.registry_url,
            "--telemetry-topic",
            chosen.telemetry,
            "--analytics-topic",
            chosen.analytics,
        ]
    )
    assert exit_code == 0
    return chosen


def _telemetry_records() -> list[dict]:
    return sample_records(load_schema(TELEMETRY_SCHEMA_FILE))


def _produce(endpoints: Endpoints, topic: str, values: list[bytes]) -> None:
    produce_all(endpoints.kafka_bootstrap, topic, [(b"car-01", value) for value in values])


def _values(endpoints: Endpoints, topic: str, count: int) -> list[bytes]:
    messages = consume(endpoints.kafka_bootstrap, topic, count)
    assert len(messages) == count
    return [m.value() for m in messages]


def test_register_is_idempotent_and_sets_compatibility(
    endpoints: Endpoints, topics: Topics, capsys
) -> None:
    capsys.readouterr()
    args = ["register", "--registry", endpoints.registry_url]
    args += ["--telemetry-topic", topics.telemetry, "--analytics-topic", topics.analytics]
    assert schemas_cli.main(args) == 0
    printed = capsys.readouterr().out
    assert topics.telemetry_subject in printed and topics.analytics_subject in printed
    with SchemaRegistry(endpoints.registry_url) as registry:
        for subject in (topics.telemetry_subject, topics.analytics_subject):
            assert [v.version for v in registry.versions(subject)] == [1]
            assert registry.compatibility(subject) == "FULL_TRANSITIVE"


def test_produce_and_consume_through_the_registry(endpoints: Endpoints, topics: Topics) -> None:
    records = _telemetry_records()
    with SchemaRegistry(endpoints.registry_url) as registry:
        serializer = telemetry_serializer(registry, topics)
        _produce(endpoints, topics.telemetry, [serializer.encode(r) for r in records])
        deserializer = telemetry_deserializer(registry)
        decoded = [
            deserializer.decode(v) for v in _values(endpoints, topics.telemetry, len(records))
        ]
    assert [d["car_id"] for d in decoded] == [r["car_id"] for r in records]
    for got, sent in zip(decoded, records, strict=True):
        assert got.keys() == sent.keys()
        for name, value in sent.items():
            if isinstance(value, float):
                assert got[name] == pytest.approx(value, rel=1e-6, abs=1e-6), name
            else:
                assert got[name] == value, name


def test_an_independent_client_decodes_a_produced_record(
    endpoints: Endpoints, topics: Topics
) -> None:
    """kcat reads the raw record, plain HTTP fetches the writer schema, Apache Avro decodes."""
    kcat = shutil.which("kcat")
    if kcat is None:
        pytest.fail("kcat is not installed: run `make setup` (Debian package kcat)")
    record = _telemetry_records()[1]
    with SchemaRegistry(endpoints.registry_url) as registry:
        serializer = telemetry_serializer(registry, topics)
        _produce(endpoints, topics.telemetry, [serializer.encode(record)])

    base = [kcat, "-C", "-b", endpoints.kafka_bootstrap, "-t", topics.telemetry]
    base += ["-o", "beginning", "-c", "1", "-e", "-q"]
    header = subprocess.run(
        [*base, "-s", "value=>bI", "-f", "%s"], capture_output=True, text=True, timeout=60
    )
    assert header.returncode == 0, header.stderr
    # kcat prints the unpacked values back to back: the magic byte "0", then the id.
    printed = header.stdout.strip()
    assert printed[0] == "0"
    schema_id = int(printed[1:])

    raw = subprocess.run([*base, "-f", "%s"], capture_output=True, timeout=60)
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout[0] == 0 and int.from_bytes(raw.stdout[1:5], "big") == schema_id

    response = requests.get(f"{endpoints.registry_url}/schemas/ids/{schema_id}", timeout=10)
    response.raise_for_status()
    writer = avro.schema.parse(response.json()["schema"])
    reader = avro.io.DatumReader(writer)
    decoded = reader.read(avro.io.BinaryDecoder(io.BytesIO(raw.stdout[5:])))

    for name, value in record.items():
        got = decoded[name]
        if name == "timestamp":  # Apache Avro turns timestamp-micros into a datetime
            got = round(got.timestamp() * 1_000_000)
        if isinstance(value, float):
            assert got == pytest.approx(value, rel=1e-6, abs=1e-6), name
        else:
            assert got == value, name


def test_check_asks_the_real_registry(endpoints: Endpoints, topics: Topics, capsys) -> None:
    # `check` asks about the default subjects: register them first (idempotent).
    assert schemas_cli.main(["register", "--registry", endpoints.registry_url]) == 0
    capsys.readouterr()
    assert schemas_cli.main(["check", "--registry", endpoints.registry_url]) == 0
    out = capsys.readouterr().out
    assert "registry" in out and "skip" not in out


def test_a_service_fails_clearly_when_its_subject_is_missing(
    endpoints: Endpoints, unique: str
) -> None:
    missing = Topics.from_env(telemetry=f"it-never-registered-{unique}")
    with (
        SchemaRegistry(endpoints.registry_url) as registry,
        pytest.raises(SubjectNotFoundError) as failed,
    ):
        telemetry_serializer(registry, missing)
    assert f"it-never-registered-{unique}-value" in str(failed.value)


def test_garbage_and_unknown_ids_raise_one_typed_error(
    endpoints: Endpoints, topics: Topics
) -> None:
    unknown_id = b"\x00" + (2**31 - 7).to_bytes(4, "big") + b"\x02\x04"
    _produce(endpoints, topics.telemetry, [b"not avro at all", unknown_id])
    with SchemaRegistry(endpoints.registry_url) as registry:
        deserializer = telemetry_deserializer(registry)
        garbage, unknown = _values(endpoints, topics.telemetry, 2)
        with pytest.raises(NotFramedError) as not_framed:
            deserializer.decode(garbage)
        with pytest.raises(UnknownSchemaIdError) as no_such_id:
            deserializer.decode(unknown)
    assert isinstance(not_framed.value, DecodeError)
    assert isinstance(no_such_id.value, DecodeError)
    assert no_such_id.value.schema_id == 2**31 - 7
    assert json.dumps(no_such_id.value.reason) == '"unknown-schema-id"'


def test_every_released_version_registers_in_order_under_full_transitive(
    endpoints: Endpoints, unique: str, capsys
) -> None:
    """A test subject per record, with the released versions registered oldest first (as
    the shared subjects got them over time), then `f1-schemas register` and `check` on it:
    the registry accepts telemetry v3 and lap summary v3 over everything before them."""
    chosen = Topics.from_env(
        telemetry=f"it-history-tel-{unique}", analytics=f"it-history-laps-{unique}"
    )
    history = {chosen.telemetry_subject: "telemetry", chosen.analytics_subject: "lap_summary"}
    before = {}
    with SchemaRegistry(endpoints.registry_url) as registry:
        for subject, name in history.items():
            for path in released_versions(name, HISTORY_DIR)[:-1]:
                registry.register(subject, load_schema(path))
            # lap_summary v2 only rewords two docs: a registry may keep it as v1's version.
            before[subject] = len(registry.versions(subject))
    assert before[chosen.telemetry_subject] == 2 and before[chosen.analytics_subject] >= 1
    args = ["--registry", endpoints.registry_url]
    args += ["--telemetry-topic", chosen.telemetry, "--analytics-topic", chosen.analytics]
    capsys.readouterr()
    assert schemas_cli.main(["register", *args]) == 0
    printed = capsys.readouterr().out
    for subject, count in before.items():
        assert f"{subject}: version {count + 1}, " in printed
    with SchemaRegistry(endpoints.registry_url) as registry:
        for subject, name in history.items():
            versions = registry.versions(subject)
            assert len(versions) == before[subject] + 1
            assert registry.compatibility(subject) == "FULL_TRANSITIVE"
            latest = json.loads(versions[-1].schema_str)
            assert (
                latest["fields"] == load_schema(released_versions(name, HISTORY_DIR)[-1])["fields"]
            )
    assert schemas_cli.main(["register", *args]) == 0  # idempotent: nothing new
    assert f"{chosen.telemetry_subject}: version 3, " in capsys.readouterr().out
    assert schemas_cli.main(["check", *args]) == 0
    assert "acceptable as next version" in capsys.readouterr().out
