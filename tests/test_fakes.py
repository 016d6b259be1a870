"""The shared fakes answer as what they stand in for, where no other test relies on it yet:
the registry's subjects, seen through a serializer and a deserializer."""

from __future__ import annotations

import copy

import pytest

from schemas.evolution import sample_records
from schemas.registry import (
    RegistryUnavailableError,
    SchemaNotRegisteredError,
    SubjectNotFoundError,
)
from schemas.serde import Deserializer, Serializer, load_schema
from tests.fakes import FakeRegistry

TELEMETRY = load_schema("telemetry")
RECORD = {**sample_records(TELEMETRY)[1], "car_id": "car-01"}


def test_registered_schemas_serve_serializers_and_deserializers() -> None:
    registry = FakeRegistry()
    first = registry.register("t-value", TELEMETRY)
    assert registry.register("t-value", TELEMETRY) == first  # idempotent, as the registry is
    newer = copy.deepcopy(TELEMETRY)
    newer["fields"].append({"name": "x", "type": "int", "default": 0, "doc": "d"})
    second = registry.register("t-value", newer)
    assert (first.version, second.version) == (1, 2)
    assert second.schema_id != first.schema_id
    assert registry.latest("t-value") == second
    assert registry.register("other-value", TELEMETRY).schema_id == first.schema_id

    serializer = Serializer.for_subject(registry, "t-value", TELEMETRY)  # type: ignore[arg-type]
    assert serializer.schema_id == first.schema_id
    record = Deserializer(registry, TELEMETRY).decode(serializer.encode(RECORD))
    assert record["car_id"] == "car-01"


def test_missing_subjects_and_schemas_and_an_outage_raise_as_the_real_registry() -> None:
    registry = FakeRegistry()
    with pytest.raises(SubjectNotFoundError):
        registry.latest("t-value")
    registry.register("t-value", TELEMETRY)
    other = copy.deepcopy(TELEMETRY)
    other["doc"] = "changed"
    with pytest.raises(SchemaNotRegisteredError):
        registry.id_for("t-value", other)
    registry.down = True
    with pytest.raises(RegistryUnavailableError):
        registry.latest("t-value")
    assert registry.calls == 4 and registry.fetches == 0
