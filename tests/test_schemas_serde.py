"""Serializer and Deserializer: round trips, refusals naming the field, typed decode errors."""

from __future__ import annotations

import copy
import json
import math
import struct
from typing import Any

import numpy as np
import pytest

from runtime.errors import F1Error, InfrastructureError
from schemas import serde
from schemas.serde import Deserializer, Serializer, load_schema
from schemas.serde_errors import (
    BodyDecodeError,
    DecodeError,
    NotFramedError,
    RecordError,
    UnknownSchemaIdError,
)
from schemas.topics import SCHEMA_DIR
from tests.avro_samples import GAME_CHANNELS, game_values
from tests.fakes import FakeRegistry

TELEMETRY = load_schema("telemetry")
LAP_SUMMARY = load_schema("lap_summary")


def telemetry_record(**overrides: Any) -> dict[str, Any]:
    record = {
        "session_id": "silverstone-2025-race",
        "car_id": "car-44",
        "driver": "HAM",
        "timestamp": 1_751_814_000_123_450,
        "sim_time_s": 1234.56,
        "lap": 12,
        "lap_distance_m": 2345.678,
        "total_distance_m": 67_890.123,
        "x_m": -512.25,
        "y_m": 1024.5,
        "speed_kmh": 301.5,
        "throttle": 1.0,
        "brake": 0.0,
        "steering": -0.125,
        "gear": 8,
        "rpm": 11_750.0,
        "g_lat": 1.25,
        "g_long": 0.5,
        "fuel_kg": 62.5,
        "tyre_wear": 0.375,
        "drs": True,
        "sector": 2,
        "session_kind": "race",
        "tyre_compound": "medium",
        "tyre_age_laps": 11,
        "pit_status": "none",
        "pit_stops": 1,
        "car_status": "running",
        **game_values(0),
    }
    record.update(overrides)
    return record


TELEMETRY_V1 = load_schema(SCHEMA_DIR / "history" / "telemetry.v1.avsc")
TELEMETRY_V2 = load_schema(SCHEMA_DIR / "history" / "telemetry.v2.avsc")
V2_FIELDS = (
    "session_kind",
    "tyre_compound",
    "tyre_age_laps",
    "pit_status",
    "pit_stops",
    "car_status",
)


def v1_record(**overrides: Any) -> dict[str, Any]:
    """A record as a v1 producer sends it: without the fields telemetry v2 added."""
    record = v2_record(**overrides)
    return {k: v for k, v in record.items() if k not in V2_FIELDS}


def v2_record(**overrides: Any) -> dict[str, Any]:
    """A record as a v2 producer sends it: without telemetry v3's game channels."""
    record = telemetry_record(**overrides)
    return {k: v for k, v in record.items() if k not in GAME_CHANNELS}


def lap_record() -> dict[str, Any]:
    return {
        "session_id": "silverstone-2025-race",
        "car_id": "car-1",
        "driver": "VER",
        "lap": 12,
        "lap_time_s": 88.123,
        "sector1_s": 29.1,
        "sector2_s": 35.2,
        "sector3_s": 23.823,
        "lap_start": 1_751_814_000_000_000,
        "lap_end": 1_751_814_088_123_000,
        "avg_speed_kmh": 240.5,
        "max_speed_kmh": 330.25,
        "min_speed_kmh": 95.75,
        "full_throttle_share": 0.62,
        "brake_share": 0.14,
        "fuel_used_kg": 1.6,
        "max_abs_g_lat": 5.9,
        "max_g_long": 1.4,
        "min_g_long": -5.6,
        "sample_count": 8812,
        "tyre_compound": "soft",
        "tyre_age_laps": 7,
        "in_lap": True,
        "out_lap": False,
        "standing_start": False,
        "pit_stop_s": 0.0,
    }


def assert_same(got: dict[str, Any], want: dict[str, Any], schema: dict[str, Any]) -> None:
    """Equal, with float fields compared at 32-bit precision."""
    assert got.keys() == want.keys()
    kinds = {f["name"]: f["type"] for f in schema["fields"]}
    for name, value in want.items():
        if kinds[name] in ("float", ["null", "float"]):
            assert math.isclose(got[name], value, rel_tol=1e-6), name
        else:
            assert got[name] == value and type(got[name]) is type(value), name


@pytest.mark.parametrize(
    ("schema", "record"), [(TELEMETRY, telemetry_record()), (LAP_SUMMARY, lap_record())]
)
def test_round_trip(schema: dict[str, Any], record: dict[str, Any]) -> None:
    ser = Serializer(42, schema)
    data = ser.encode(record)
    assert data[0] == 0 and struct.unpack(">I", data[1:5])[0] == 42
    de = Deserializer(FakeRegistry({42: schema}), schema)
    schema_id, got = de.decode_with_id(data)
    assert schema_id == 42
    assert_same(got, record, schema)
    assert isinstance(got["timestamp" if "timestamp" in got else "lap_end"], int)


def test_telemetry_body_is_compact() -> None:
    v1 = Serializer(1, TELEMETRY_V1).encode(v1_record())
    assert len(v1) < 120  # 32-bit floats for the channels
    # v2 adds a few short strings and two one-byte ints: about 27 bytes here.
    v2 = Serializer(1, TELEMETRY_V2).encode(v2_record())
    assert len(v2) - len(v1) == 27
    # v3's game channels: a byte each when null (the simulator's records), a byte and the
    # value when measured (19 floats, and "none" as the ERS mode: 95 + 6 bytes).
    assert len(Serializer(1, TELEMETRY).encode(v2_record())) - len(v2) == len(GAME_CHANNELS) == 20
    assert len(Serializer(1, TELEMETRY).encode(telemetry_record())) - len(v2) == 101


def test_v1_v2_and_v3_records_read_each_other() -> None:
    schemas = {1: TELEMETRY_V1, 2: TELEMETRY_V2, 3: TELEMETRY}
    reg = FakeRegistry(schemas)
    readers = {version: Deserializer(reg, schema) for version, schema in schemas.items()}
    sent = {1: v1_record(), 2: v2_record(), 3: telemetry_record()}
    data = {v: Serializer(v, schemas[v]).encode(record) for v, record in sent.items()}
    for version, reader in readers.items():
        for writer, value in data.items():
            got = reader.decode(value)
            assert got.keys() == {f["name"] for f in schemas[version]["fields"]}
            assert got["lap"] == 12
            for name in got.keys() & sent[writer].keys():
                assert got[name] == pytest.approx(sent[writer][name]), (version, writer, name)
    # Read as v3, a v1 record gets v2's defaults, and v1 and v2 records the game channels'
    # null: not measured.
    new_reader = readers[3]
    assert {k: v for k, v in new_reader.decode(data[1]).items() if k in V2_FIELDS} == {
        "session_kind": "unknown",
        "tyre_compound": "unknown",
        "tyre_age_laps": 0,
        "pit_status": "none",
        "pit_stops": 0,
        "car_status": "running",
    }
    for old in (data[1], data[2]):
        assert all(new_reader.decode(old)[name] is None for name in GAME_CHANNELS)
    assert new_reader.decode(data[2])["tyre_compound"] == "medium"
    assert new_reader.decode(data[3])["tyre_surface_temp_fl_c"] == 80.0
    assert new_reader.decode(data[3])["ers_deploy_mode"] == "none"


def test_a_race_grid_behind_the_line_is_in_range() -> None:
    grid = telemetry_record(lap=1, lap_distance_m=-32.5, total_distance_m=-32.5, sim_time_s=0.0)
    data = Serializer(1, TELEMETRY).encode(grid)
    got = Deserializer(FakeRegistry({1: TELEMETRY}), TELEMETRY).decode(data)
    assert (got["lap_distance_m"], got["total_distance_m"]) == (-32.5, -32.5)


def test_writer_schema_fetched_once_and_survives_a_registry_restart() -> None:
    reg = FakeRegistry({7: TELEMETRY})
    de = Deserializer(reg, TELEMETRY)
    data = Serializer(7, TELEMETRY).encode(telemetry_record())
    for _ in range(3):
        de.decode(data)
    reg.down = True
    assert de.decode(data)["car_id"] == "car-44"
    assert reg.fetches == 1


def test_registry_down_for_a_new_id_is_not_a_decode_error() -> None:
    reg = FakeRegistry({7: TELEMETRY})
    reg.down = True
    de = Deserializer(reg, TELEMETRY)
    with pytest.raises(InfrastructureError) as info:
        de.decode(Serializer(7, TELEMETRY).encode(telemetry_record()))
    assert not isinstance(info.value, DecodeError)  # retry, do not dead-letter


def test_newer_writer_is_resolved_to_the_reader_schema() -> None:
    newer = copy.deepcopy(TELEMETRY)
    newer["fields"].append(
        {"name": "ers_kj", "type": "float", "default": 0.0, "doc": "x. Unit: kJ. Range: 0..4000."}
    )
    reg = FakeRegistry({1: TELEMETRY, 2: newer})
    old_reader = Deserializer(reg, TELEMETRY)
    new_reader = Deserializer(reg, newer)
    new_data = Serializer(2, newer).encode(telemetry_record(ers_kj=1234.0))
    old_data = Serializer(1, TELEMETRY).encode(telemetry_record())
    assert "ers_kj" not in old_reader.decode(new_data)
    assert new_reader.decode(old_data)["ers_kj"] == 0.0
    assert new_reader.decode(new_data)["ers_kj"] == 1234.0
    # a field with a default may be left out by the writer's code
    assert new_reader.decode(Serializer(2, newer).encode(telemetry_record()))["ers_kj"] == 0.0


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"speed_kmh": 512.0}, "speed_kmh", "out of range 0..400 km/h"),
        ({"throttle": -0.5}, "throttle", "out of range 0..1"),
        ({"throttle": float("nan")}, "throttle", "not a number"),
        ({"gear": 9}, "gear", "out of range 0..8"),
        ({"gear": 3.0}, "gear", "expected int"),
        ({"lap": True}, "lap", "got boolean"),
        ({"speed_kmh": "fast"}, "speed_kmh", "expected float"),
        ({"speed_kmh": None}, "speed_kmh", "is null"),
        ({"drs": 1}, "drs", "expected boolean"),
        ({"driver": "Hamilton"}, "driver", "does not match"),
        ({"car_id": 44}, "car_id", "expected string"),
        ({"timestamp": 1_751_814_000_123_450_000}, "timestamp", "out of range"),
        ({"sector": 0}, "sector", "out of range 1..3"),
        ({"lap_distance_m": -2000.5}, "lap_distance_m", "out of range -2000..10000 m"),
        ({"total_distance_m": -2001.0}, "total_distance_m", "out of range -2000..2000000 m"),
        ({"tyre_compound": "supersoft"}, "tyre_compound", "does not match"),
        ({"tyre_compound": "Soft"}, "tyre_compound", "does not match"),
        ({"session_kind": "sprint"}, "session_kind", "does not match"),
        ({"pit_status": "pit"}, "pit_status", "does not match"),
        ({"car_status": "dnf"}, "car_status", "does not match"),
        ({"tyre_age_laps": 201}, "tyre_age_laps", "out of range 0..200 laps"),
        ({"tyre_age_laps": -1}, "tyre_age_laps", "out of range 0..200 laps"),
        ({"pit_stops": 21}, "pit_stops", "out of range 0..20"),
        ({"speed": 100.0}, "speed", "unknown field"),
        ({"brake_temp_fl_c": 2500.0}, "brake_temp_fl_c", "out of range -50..2000 degC"),
        ({"tyre_pressure_rr_psi": float("nan")}, "tyre_pressure_rr_psi", "not a number"),
        ({"ers_deploy_mode": "boost"}, "ers_deploy_mode", "does not match"),
        ({"z_m": "up"}, "z_m", "expected float"),
    ],
)
def test_bad_record_is_refused_naming_the_field(
    change: dict[str, Any], field: str, message: str
) -> None:
    ser = Serializer(1, TELEMETRY)
    with pytest.raises(RecordError, match=message) as info:
        ser.encode(telemetry_record(**change))
    assert info.value.field == field
    assert field in str(info.value)
    assert info.value.reason == "invalid-record"


def test_a_game_channel_may_be_null_not_measured() -> None:
    record = telemetry_record(z_m=None, ers_deploy_mode=None, brake_temp_rl_c=None)
    data = Serializer(1, TELEMETRY).encode(record)
    got = Deserializer(FakeRegistry({1: TELEMETRY}), TELEMETRY).decode(data)
    assert (got["z_m"], got["ers_deploy_mode"], got["brake_temp_rl_c"]) == (None, None, None)
    assert got["brake_temp_rr_c"] == 450.0


def test_missing_field_is_refused() -> None:
    record = telemetry_record()
    del record["rpm"]
    with pytest.raises(RecordError, match=r"missing field Telemetry\.rpm") as info:
        Serializer(1, TELEMETRY).encode(record)
    assert info.value.field == "rpm"


def test_not_a_mapping_is_refused() -> None:
    with pytest.raises(RecordError, match="expected a mapping"):
        Serializer(1, TELEMETRY).encode([1, 2, 3])  # type: ignore[arg-type]


def test_numpy_scalars_and_ints_for_floats_are_accepted() -> None:
    record = telemetry_record(speed_kmh=np.float32(250.5), gear=np.int64(6), rpm=12000, brake=0)
    data = Serializer(1, TELEMETRY).encode(record)
    got = Deserializer(FakeRegistry({1: TELEMETRY}), TELEMETRY).decode(data)
    assert (got["speed_kmh"], got["gear"], got["rpm"]) == (250.5, 6, 12000.0)


def test_string_cache_does_not_let_bad_strings_through() -> None:
    ser = Serializer(1, TELEMETRY)
    ser.encode(telemetry_record())  # remembers the good strings
    ser.encode(telemetry_record())
    with pytest.raises(RecordError, match="driver"):
        ser.encode(telemetry_record(driver="ham"))


def test_validate_columns_vectorised() -> None:
    ser = Serializer(1, TELEMETRY)
    rec = telemetry_record()
    cols = {k: np.array([v] * 20) for k, v in rec.items()}
    ser.validate_columns(cols)
    cols["brake"] = np.linspace(0, 1.5, 20)
    with pytest.raises(RecordError, match=r"brake.*out of range") as info:
        ser.validate_columns(cols)
    assert info.value.field == "brake"
    cols["brake"] = np.zeros(20)
    cols["gear"] = np.full(20, 3.0)
    with pytest.raises(RecordError, match="gear"):
        ser.validate_columns(cols)
    del cols["rpm"]
    cols["gear"] = np.full(20, 3)
    with pytest.raises(RecordError, match="rpm"):
        ser.validate_columns(cols)


@pytest.mark.parametrize(
    "data", [b"", b"\x00\x00", b"hello world", b"\x01\x00\x00\x00\x01\x02", b'{"json": 1}']
)
def test_garbage_raises_not_framed(data: bytes) -> None:
    de = Deserializer(FakeRegistry({1: TELEMETRY}), TELEMETRY)
    with pytest.raises(NotFramedError) as info:
        de.decode(data)
    assert info.value.reason == "not-framed"
    assert isinstance(info.value, DecodeError) and isinstance(info.value, F1Error)


def test_unknown_schema_id_raises_typed_error_and_is_remembered() -> None:
    reg = FakeRegistry({1: TELEMETRY})
    now = [0.0]
    de = Deserializer(reg, TELEMETRY, unknown_id_ttl_s=30, clock=lambda: now[0])
    data = serde.frame(999, Serializer(1, TELEMETRY).encode(telemetry_record())[5:])
    for _ in range(5):
        with pytest.raises(UnknownSchemaIdError) as info:
            de.decode(data)
        assert info.value.schema_id == 999 and info.value.reason == "unknown-schema-id"
    assert reg.fetches == 1
    now[0] = 31.0
    reg.schemas[999] = TELEMETRY  # registered meanwhile: found after the TTL
    assert de.decode(data)["driver"] == "HAM"


def test_corrupt_bodies_raise_body_decode_error() -> None:
    de = Deserializer(FakeRegistry({1: TELEMETRY, 2: LAP_SUMMARY}), TELEMETRY)
    good = Serializer(1, TELEMETRY).encode(telemetry_record())
    with pytest.raises(BodyDecodeError) as info:
        de.decode(good[:30])  # truncated
    assert info.value.reason == "bad-body"
    with pytest.raises(BodyDecodeError, match="trailing"):
        de.decode(good + b"\x00\x00")
    # a lap summary sent with the telemetry schema's id
    lap_body = Serializer(2, LAP_SUMMARY).encode(lap_record())[5:]
    with pytest.raises(DecodeError):
        de.decode(serde.frame(1, lap_body))


def test_incompatible_writer_schema_is_a_decode_error() -> None:
    de = Deserializer(FakeRegistry({2: LAP_SUMMARY}), TELEMETRY)
    with pytest.raises(BodyDecodeError):
        de.decode(Serializer(2, LAP_SUMMARY).encode(lap_record()))


def test_out_of_range_value_from_a_writer_without_checks_is_refused_on_decode() -> None:
    import io

    from fastavro import parse_schema, schemaless_writer

    buf = io.BytesIO()
    schemaless_writer(buf, parse_schema(TELEMETRY), telemetry_record(speed_kmh=999.0))
    de = Deserializer(FakeRegistry({3: TELEMETRY}), TELEMETRY)
    with pytest.raises(RecordError) as info:
        de.decode(serde.frame(3, buf.getvalue()))
    assert info.value.field == "speed_kmh" and isinstance(info.value, DecodeError)
    lenient = Deserializer(FakeRegistry({3: TELEMETRY}), TELEMETRY, validate=False)
    assert lenient.decode(serde.frame(3, buf.getvalue()))["speed_kmh"] == 999.0


def test_framing_helpers() -> None:
    data = serde.frame(258, b"body")
    assert data == b"\x00\x00\x00\x01\x02body"
    assert serde.schema_id_of(data) == 258
    assert serde.strip_confluent_header(data) == b"body"
    schema_id, body = serde.split_frame(data)
    assert (schema_id, bytes(body)) == (258, b"body")
    with pytest.raises(NotFramedError):
        serde.strip_confluent_header(b"\x07abcdef")


def test_schema_id_must_fit_the_header() -> None:
    with pytest.raises(ValueError, match="4-byte"):
        Serializer(2**32, TELEMETRY)


def test_load_schema_by_name_path_and_text() -> None:
    from schemas.topics import TELEMETRY_SCHEMA_FILE

    assert load_schema("telemetry") == load_schema(TELEMETRY_SCHEMA_FILE)
    assert load_schema(json.dumps(TELEMETRY)) == TELEMETRY
