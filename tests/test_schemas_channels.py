"""The channel table and the .avsc field docs tell the same story."""

from __future__ import annotations

import json
import re

import pytest

from schemas import channels
from schemas.topics import LAP_SUMMARY_SCHEMA_FILE, SCHEMA_DIR, TELEMETRY_SCHEMA_FILE

SCHEMAS = {channels.TELEMETRY: TELEMETRY_SCHEMA_FILE, channels.LAP_SUMMARY: LAP_SUMMARY_SCHEMA_FILE}
# The doc format, written out independently of channels.parse_doc.
DOC_RE = re.compile(
    r"^.+\. Unit: (\S+)\. (?:Range: (-?\d+(?:\.\d+)?)\.\.(-?\d+(?:\.\d+)?)|Values: false\|true"
    r"|Pattern: (\S+))\.$"
)


def _schema(record: str) -> dict:
    return json.loads(SCHEMAS[record].read_text())


@pytest.mark.parametrize("record", channels.RECORDS)
def test_every_field_doc_matches_the_table(record: str) -> None:
    schema = _schema(record)
    v1 = json.loads((SCHEMA_DIR / "history" / f"{record}.v1.avsc").read_text())
    first_release = {f["name"] for f in v1["fields"]}
    table = {c.name: c for c in channels.channels(record)}
    assert [f["name"] for f in schema["fields"]] == list(table), "same fields, same order"
    for f in schema["fields"]:
        c = table[f["name"]]
        m = DOC_RE.match(f["doc"])
        assert m, f"{record}.{f['name']}: doc breaks the format: {f['doc']!r}"
        unit, lo, hi, pattern = m.groups()
        assert unit == c.unit, f["name"]
        if c.avro_type == "string":
            assert pattern == c.pattern, f["name"]
        elif c.avro_type == "boolean":
            assert lo is None and pattern is None, f["name"]
        else:
            assert (float(lo), float(hi)) == (c.minimum, c.maximum), f["name"]
            assert c.minimum < c.maximum
        ftype = f["type"]
        if c.nullable:
            # Not measured is null: the union's first branch, and the default.
            assert isinstance(ftype, list) and ftype[0] == "null" and len(ftype) == 2, f["name"]
            assert "default" in f and f["default"] is None, f["name"]
            ftype = ftype[1]
        if isinstance(ftype, dict):
            assert (ftype["type"], ftype.get("logicalType")) == (c.avro_type, c.logical_type)
        else:
            assert (ftype, None) == (c.avro_type, c.logical_type), f["name"]
        if f["name"] in first_release:
            assert "default" not in f, f"{f['name']}: the fields of v1 are all required"
        elif not c.nullable:
            assert "default" in f, f"{f['name']}: a field added since v1 needs a default"
            _assert_default_allowed(f["default"], c)
    assert channels.doc_mismatches(schema, record) == []


def _assert_default_allowed(default: object, c: channels.Channel) -> None:
    if c.avro_type == "string":
        assert isinstance(default, str) and re.fullmatch(str(c.pattern), default), c.name
    elif c.avro_type == "boolean":
        assert default is False, c.name
    else:
        assert isinstance(default, int | float) and c.minimum <= default <= c.maximum, c.name


def test_nullable_channels_are_the_game_channels_of_telemetry_v3() -> None:
    v2 = json.loads((SCHEMA_DIR / "history" / "telemetry.v2.avsc").read_text())
    nullable = [c.name for c in channels.channels() if c.nullable]
    assert nullable == [c.name for c in channels.channels()][len(v2["fields"]) :]
    # The per-wheel channels: four each, in the documented wheel order.
    for head in ("tyre_surface_temp", "tyre_inner_temp", "brake_temp", "tyre_pressure"):
        wheels = [n.split("_")[-2] for n in nullable if n.startswith(head + "_")]
        assert tuple(wheels) == channels.WHEELS == ("fl", "fr", "rl", "rr"), head
    assert not any(c.nullable for c in channels.channels(channels.LAP_SUMMARY))


def test_doc_mismatches_names_a_nullable_disagreement() -> None:
    schema = _schema(channels.TELEMETRY)
    for f in schema["fields"]:
        if f["name"] == "z_m":
            f["type"] = "float"
            f["default"] = 0.0
        if f["name"] == "engine_temp_c":
            f["type"] = ["float", "null"]
    problems = "\n".join(channels.doc_mismatches(schema, channels.TELEMETRY))
    assert 'telemetry.z_m: schema type "float" but the table says ["null", type]' in problems
    assert "telemetry.engine_temp_c: schema type" in problems


def test_doc_mismatches_names_the_disagreement() -> None:
    schema = _schema(channels.TELEMETRY)
    speed = next(f for f in schema["fields"] if f["name"] == "speed_kmh")
    speed["doc"] = "Speed of the car. Unit: m/s. Range: 0..400."
    schema["fields"].append({"name": "ers_kj", "type": "float", "doc": "x. Unit: kJ. Range: 0..4."})
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "rpm"]
    problems = "\n".join(channels.doc_mismatches(schema, channels.TELEMETRY))
    assert "telemetry.speed_kmh: doc unit 'm/s'" in problems
    assert "telemetry.ers_kj: in the schema but not in the channel table" in problems
    assert "telemetry.rpm: in the channel table but not in the schema" in problems


def test_event_time_is_timestamp_micros() -> None:
    for record, name in [
        (channels.TELEMETRY, "timestamp"),
        (channels.LAP_SUMMARY, "lap_start"),
        (channels.LAP_SUMMARY, "lap_end"),
    ]:
        c = channels.channel(name, record)
        assert (c.avro_type, c.logical_type, c.unit, c.kind) == (
            "long",
            "timestamp-micros",
            "us",
            "time",
        )


def test_lookup_helpers() -> None:
    speed = channels.channel("speed_kmh")
    assert (speed.unit, speed.label, speed.kind, speed.influx_type) == (
        "km/h",
        "Speed",
        "continuous",
        "float",
    )
    assert channels.channel("gear").influx_type == "integer"
    assert channels.channel("drs").influx_type == "boolean"
    # Strings that are not identifiers are string fields, not tags (no series per value).
    assert channels.channel("tyre_compound").influx_type == "string"
    assert channels.channel("pit_status").kind == "discrete"
    assert channels.pattern_values(channels.channel("pit_status").pattern) == (
        "none",
        "pit_lane",
        "pit_stop",
    )
    assert channels.pattern_values(channels.channel("car_id").pattern) == ()
    assert channels.channel("lap_time_s", channels.LAP_SUMMARY).unit == "s"
    assert channels.tag_names() == ("session_id", "car_id", "driver")
    types = channels.influx_types()
    assert types["timestamp"] == "time" and types["car_id"] == "tag"
    numeric = [c.name for c in channels.numeric_channels()]
    assert "speed_kmh" in numeric and "gear" in numeric
    assert "timestamp" not in numeric and "car_id" not in numeric and "drs" not in numeric
    with pytest.raises(KeyError, match="speed"):
        channels.channel("speed")


def test_parse_doc() -> None:
    d = channels.parse_doc("Steering. Unit: fraction. Range: -1..1.")
    assert (d.unit, d.minimum, d.maximum, d.pattern) == ("fraction", -1.0, 1.0, None)
    d = channels.parse_doc("Driver. Unit: none. Pattern: ^[A-Z]{3}$.")
    assert d.pattern == "^[A-Z]{3}$"
    with pytest.raises(ValueError, match="Unit"):
        channels.parse_doc("Speed in km/h")


def test_a_race_grid_is_inside_the_distance_ranges() -> None:
    # Telemetry v2: a grid stands up to ~2 km behind the line before lights out.
    for name in ("lap_distance_m", "total_distance_m"):
        assert channels.channel(name).minimum == -2000


def test_readme_embeds_the_generated_tables() -> None:
    readme = (SCHEMA_DIR / "README.md").read_text()
    for record in channels.RECORDS:
        assert channels.markdown_table(record) in readme, (
            f"schemas/README.md is out of date for {record}: paste `f1-schemas channels`"
        )
