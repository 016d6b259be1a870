"""The registry wrapper against an in-memory stand-in for the Confluent client."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError

from runtime.errors import ConfigError, InfrastructureError
from schemas.evolution import sample_records
from schemas.registry import (
    IncompatibleSchemaError,
    RegistryAccessError,
    RegistryUnavailableError,
    SchemaIdNotFoundError,
    SchemaIdRefusedError,
    SchemaNotRegisteredError,
    SchemaRegistry,
    SubjectNotFoundError,
)
from schemas.serde import HEADER_SIZE, Deserializer, Serializer, frame, load_schema
from schemas.serde_errors import UnknownSchemaIdError
from tests.fakes import FakeRegistry, FakeRegistryClient

TELEMETRY = load_schema("telemetry")
URL = "http://registry.test:8081/apis/ccompat/v7"


@pytest.fixture
def client() -> FakeRegistryClient:
    return FakeRegistryClient()


@pytest.fixture
def registry(client: FakeRegistryClient) -> SchemaRegistry:
    return SchemaRegistry(URL, client=client)  # type: ignore[arg-type]


def test_register_is_idempotent(registry: SchemaRegistry, client: FakeRegistryClient) -> None:
    first = registry.register("f1-telemetry-value", TELEMETRY)
    again = registry.register("f1-telemetry-value", json.dumps(TELEMETRY, indent=2))
    assert (first.version, first.schema_id) == (1, 1)
    assert (again.version, again.schema_id) == (1, 1)
    assert client.calls.count("register") == 1
    assert registry.compatibility("f1-telemetry-value") == "FULL_TRANSITIVE"


def test_compatibility_is_set_before_a_new_version(
    registry: SchemaRegistry, client: FakeRegistryClient
) -> None:
    registry.register("s-value", TELEMETRY)
    client.calls.clear()
    newer = copy.deepcopy(TELEMETRY)
    newer["fields"].append({"name": "x", "type": "int", "default": 0, "doc": "d"})
    rs = registry.register("s-value", newer)
    assert (rs.version, rs.schema_id) == (2, 2)
    assert client.calls.index("set_compatibility") < client.calls.index("register")


def test_refused_schema_is_a_config_error(
    registry: SchemaRegistry, client: FakeRegistryClient
) -> None:
    registry.register("s-value", TELEMETRY)
    client.refuse = True
    newer = copy.deepcopy(TELEMETRY)
    newer["fields"].pop()
    with pytest.raises(IncompatibleSchemaError, match=r"'s-value'.*FULL_TRANSITIVE.*rpm"):
        registry.register("s-value", newer)
    assert registry.test_compatibility("s-value", newer) is False


def test_unknown_compatibility_level(registry: SchemaRegistry) -> None:
    with pytest.raises(ConfigError, match="BACKWARDS"):
        registry.set_compatibility("s-value", "backwards")


def test_missing_subject_names_the_subject(registry: SchemaRegistry) -> None:
    with pytest.raises(SubjectNotFoundError, match=r"'f1-telemetry-value'.*f1-schemas register"):
        registry.latest("f1-telemetry-value")
    with pytest.raises(SubjectNotFoundError, match="f1-telemetry-value"):
        Serializer.for_subject(registry, "f1-telemetry-value", TELEMETRY)
    with pytest.raises(SubjectNotFoundError):
        registry.test_compatibility("f1-telemetry-value", TELEMETRY)


def test_services_find_the_id_of_their_own_schema_not_just_the_latest(
    registry: SchemaRegistry,
) -> None:
    registry.register("s-value", TELEMETRY)
    newer = copy.deepcopy(TELEMETRY)
    newer["fields"].append({"name": "x", "type": "int", "default": 0, "doc": "d"})
    registry.register("s-value", newer)
    assert Serializer.for_subject(registry, "s-value", TELEMETRY).schema_id == 1
    assert Serializer.for_subject(registry, "s-value", newer).schema_id == 2
    other = copy.deepcopy(TELEMETRY)
    other["doc"] = "changed"
    with pytest.raises(SchemaNotRegisteredError, match=r"'s-value'.*latest is version 2"):
        registry.id_for("s-value", other)


def test_schema_by_id_is_cached_through_a_registry_restart(
    registry: SchemaRegistry, client: FakeRegistryClient
) -> None:
    rs = registry.register("s-value", TELEMETRY)
    client.calls.clear()
    assert json.loads(registry.schema_by_id(rs.schema_id)) == TELEMETRY
    client.down = True
    assert json.loads(registry.schema_by_id(rs.schema_id)) == TELEMETRY
    with pytest.raises(RegistryUnavailableError, match=r"registry\.test.*unreachable"):
        registry.schema_by_id(99)


def test_unknown_id(registry: SchemaRegistry) -> None:
    with pytest.raises(SchemaIdNotFoundError, match="99"):
        registry.schema_by_id(99)


def test_server_error_is_infrastructure(
    registry: SchemaRegistry, client: FakeRegistryClient
) -> None:
    def broken(subject: str) -> Any:
        raise SchemaRegistryError(503, 50003, "storage not ready")

    client.get_latest_version = broken  # type: ignore[method-assign]
    with pytest.raises(RegistryUnavailableError, match=r"registry\.test.*storage not ready"):
        registry.latest("s-value")


def test_unreachable_registry_names_the_url() -> None:
    # Nothing listens on port 9 (discard) locally: refused at once, no retries.
    registry = SchemaRegistry("http://127.0.0.1:9/apis/ccompat/v7", timeout_s=1, retries=0)
    with pytest.raises(InfrastructureError, match=r"127\.0\.0\.1:9.*unreachable") as info:
        registry.latest("f1-telemetry-value")
    assert info.value.__cause__ is not None
    registry.close()


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("F1_SCHEMA_REGISTRY_URL", "http://elsewhere:8081/")
    assert SchemaRegistry.from_env().url == "http://elsewhere:8081"
    assert SchemaRegistry.from_env("http://flag:1").url == "http://flag:1"


def _not_json(*_args: Any) -> Any:
    # What the Confluent client raises on a 200 whose body is not JSON (an HTML error page).
    return json.loads("<html>Bad Gateway</html>")


@pytest.mark.parametrize(
    "call",
    ["latest", "versions", "schema_by_id", "lookup", "register", "compatibility"],
)
def test_an_answer_that_is_not_json_is_an_unavailable_registry(
    registry: SchemaRegistry, client: FakeRegistryClient, call: str
) -> None:
    for name in (
        "get_latest_version",
        "get_versions",
        "get_schema",
        "lookup_schema",
        "register_schema_full_response",
        "get_compatibility",
    ):
        setattr(client, name, _not_json)
    calls = {
        "latest": lambda: registry.latest("s-value"),
        "versions": lambda: registry.versions("s-value"),
        "schema_by_id": lambda: registry.schema_by_id(7),
        "lookup": lambda: registry.lookup("s-value", TELEMETRY),
        "register": lambda: registry.register("s-value", TELEMETRY),
        "compatibility": lambda: registry.compatibility("s-value"),
    }
    with pytest.raises(RegistryUnavailableError, match=r"registry\.test.*not the Confluent"):
        calls[call]()


def test_an_answer_without_a_schema_is_never_cached(
    registry: SchemaRegistry, client: FakeRegistryClient
) -> None:
    rs = registry.register("s-value", TELEMETRY)
    real = client.get_schema
    client.get_schema = lambda _id: Schema(None, "AVRO")  # type: ignore[method-assign]
    with pytest.raises(RegistryUnavailableError, match="no schema for id"):
        registry.schema_by_id(rs.schema_id + 1)
    client.get_schema = real  # type: ignore[method-assign]
    assert json.loads(registry.schema_by_id(rs.schema_id)) == TELEMETRY


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, SchemaIdRefusedError),
        (422, SchemaIdRefusedError),
        (410, SchemaIdRefusedError),
        (401, RegistryAccessError),
        (403, RegistryAccessError),
        (429, RegistryUnavailableError),
        (408, RegistryUnavailableError),
    ],
)
def test_a_client_error_for_one_id_is_about_that_id_unless_it_is_about_this_client(
    registry: SchemaRegistry, client: FakeRegistryClient, status: int, error: type
) -> None:
    def refused(schema_id: int) -> Any:
        raise SchemaRegistryError(status, status * 100, f"refused {schema_id}")

    client.get_schema = refused  # type: ignore[method-assign]
    with pytest.raises(error, match=f"HTTP {status}|refused 7"):
        registry.schema_by_id(7)


def test_records_of_a_refused_id_are_dead_letters_and_the_others_decode(
    registry: SchemaRegistry, client: FakeRegistryClient
) -> None:
    """The sink decodes a batch until the registry answers; an id the registry refuses (400)
    must not hold the batch up as an outage would: its records are decode errors."""
    rs = registry.register("s-value", TELEMETRY)
    real = client.get_schema

    def refusing_7(schema_id: int) -> Any:
        if schema_id == 7:
            raise SchemaRegistryError(400, 40000, "bad id")
        return real(schema_id)

    client.get_schema = refusing_7  # type: ignore[method-assign]
    deserializer = Deserializer(registry, TELEMETRY)
    record = sample_records(TELEMETRY)[1]
    good = Serializer(rs.schema_id, TELEMETRY).encode(record)
    bad = frame(7, good[HEADER_SIZE:])
    with pytest.raises(UnknownSchemaIdError, match="refuses schema id 7"):
        deserializer.decode(bad)
    assert deserializer.decode(good)["car_id"] == record["car_id"]


def test_a_flood_of_distinct_unknown_ids_is_remembered_within_a_bound() -> None:
    registry = FakeRegistry()
    now = [0.0]
    deserializer = Deserializer(
        registry, TELEMETRY, unknown_id_ttl_s=30.0, max_unknown_ids=100, clock=lambda: now[0]
    )
    for schema_id in range(1, 5_001):
        with pytest.raises(UnknownSchemaIdError):
            deserializer.decode(frame(schema_id, b"\x00"))
    assert deserializer.unknown_ids == 100
    # The most recent ones are still remembered: no registry request for them.
    asked = registry.fetches
    with pytest.raises(UnknownSchemaIdError, match="cached"):
        deserializer.decode(frame(5_000, b"\x00"))
    assert registry.fetches == asked
    # Once their time is up they go, whatever comes next.
    now[0] = 31.0
    with pytest.raises(UnknownSchemaIdError):
        deserializer.decode(frame(9_999, b"\x00"))
    assert deserializer.unknown_ids == 1
