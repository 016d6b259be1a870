"""The registry wrapper against an in-memory stand-in for the Confluent client."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from confluent_kafka.schema_registry.error import SchemaRegistryError

from runtime.errors import ConfigError, InfrastructureError
from schemas.registry import (
    IncompatibleSchemaError,
    RegistryUnavailableError,
    SchemaIdNotFoundError,
    SchemaNotRegisteredError,
    SchemaRegistry,
    SubjectNotFoundError,
)
from schemas.serde import Serializer, load_schema
from tests.fakes import FakeRegistryClient

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
