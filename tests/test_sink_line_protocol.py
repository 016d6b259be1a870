"""Line protocol from records: tags, field types and timestamps from the channel table."""

from __future__ import annotations

import struct

import pytest

from schemas.channels import LAP_SUMMARY, influx_types, tag_names
from schemas.evolution import sample_records
from schemas.serde import load_schema
from schemas.topics import LAP_SUMMARY_SCHEMA_FILE, TELEMETRY_SCHEMA_FILE
from sinks.line_protocol import escape_tag, line_encoder


def _parse(line: str) -> tuple[str, dict[str, str], dict[str, str], int]:
    head, fields, ts = line.split(" ")
    measurement, *tags = head.split(",")
    return (
        measurement,
        dict(t.split("=", 1) for t in tags),
        dict(f.split("=", 1) for f in fields.split(",")),
        int(ts),
    )


@pytest.fixture(scope="module")
def telemetry() -> list[dict]:
    return sample_records(load_schema(TELEMETRY_SCHEMA_FILE))


def test_telemetry_line_has_the_tables_tags_fields_and_event_time(telemetry: list[dict]) -> None:
    record = telemetry[1]
    measurement, tags, fields, ts = _parse(line_encoder()(record))
    assert measurement == "telemetry"
    assert tuple(tags) == tag_names() == ("session_id", "car_id", "driver")
    assert tags["car_id"] == record["car_id"]
    assert ts == record["timestamp"]  # microseconds, written with precision us
    types = influx_types()
    expected = {n for n, t in types.items() if t not in ("tag", "time")}
    assert set(fields) == expected
    for name, text in fields.items():
        if types[name] == "integer":
            assert text == f"{record[name]}i"
        elif types[name] == "boolean":
            assert text == ("true" if record[name] else "false")
        else:
            assert float(text) == record[name]


def _f32(value: float) -> float:
    return struct.unpack("f", struct.pack("f", value))[0]


@pytest.mark.parametrize("value", [0.1, 636.7052, 1e-7, 10554.51171875, 0.059999998, 399.99])
def test_float32_channels_read_back_as_the_same_float32(value: float) -> None:
    sent = _f32(value)  # what an Avro float decodes to
    record = {**sample_records(load_schema(TELEMETRY_SCHEMA_FILE))[1], "throttle": sent}
    _, _, fields, _ = _parse(line_encoder()(record))
    assert _f32(float(fields["throttle"])) == sent


@pytest.mark.parametrize("value", [0.1, 1471.6970052192216, 1e-300, 86399.99])
def test_doubles_read_back_as_the_same_double(value: float) -> None:
    record = {**sample_records(load_schema(TELEMETRY_SCHEMA_FILE))[1], "lap_distance_m": value}
    _, _, fields, _ = _parse(line_encoder()(record))
    assert float(fields["lap_distance_m"]) == value


def test_lap_summary_is_stamped_at_lap_end_and_keeps_lap_start() -> None:
    record = sample_records(load_schema(LAP_SUMMARY_SCHEMA_FILE))[1]
    measurement, tags, fields, ts = _parse(line_encoder(LAP_SUMMARY)(record))
    assert measurement == "laps"
    assert set(tags) == {"session_id", "car_id", "driver"}
    assert ts == record["lap_end"]
    assert fields["lap_start"] == f"{record['lap_start']}i"
    assert fields["sample_count"] == f"{record['sample_count']}i"
    assert fields["lap"] == f"{record['lap']}i"


def test_tag_values_are_escaped() -> None:
    assert escape_tag("a b,c=d\\e") == r"a\ b\,c\=d\\e"
    assert escape_tag("car-01") == "car-01"
