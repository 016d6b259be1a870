"""Line protocol from decoded columns: tags, field types and timestamps from the channel table,
numbers as the shortest text that reads back exactly."""

from __future__ import annotations

import re

import numpy as np
import pytest

from schemas.channels import LAP_SUMMARY, influx_types, tag_names
from schemas.evolution import sample_records
from schemas.serde import ColumnDecoder, Deserializer, Serializer, load_schema
from schemas.topics import HISTORY_DIR, LAP_SUMMARY_SCHEMA_FILE, TELEMETRY_SCHEMA_FILE
from sinks import line_protocol
from sinks.line_protocol import LineEncoder, escape_tag
from tests.fakes import FakeRegistry

FLOAT_CHANNELS = {
    f["name"]
    for f in load_schema(TELEMETRY_SCHEMA_FILE)["fields"]
    if f["type"] in ("float", ["null", "float"])
}


def _parse(line: str) -> tuple[str, dict[str, str], dict[str, str], int]:
    head, fields, ts = line.split(" ")
    measurement, *tags = head.split(",")
    return (
        measurement,
        dict(t.split("=", 1) for t in tags),
        dict(f.split("=", 1) for f in fields.split(",")),
        int(ts),
    )


def _lines(records: list[dict], record: str = "telemetry") -> list[str]:
    body = LineEncoder(record).encode_records(records)
    assert body.endswith(b"\n")
    return body.decode().split("\n")[:-1]


def _line(record: dict, kind: str = "telemetry") -> str:
    (line,) = _lines([record], kind)
    return line


@pytest.fixture(scope="module")
def telemetry() -> list[dict]:
    return sample_records(load_schema(TELEMETRY_SCHEMA_FILE))


def test_telemetry_line_has_the_tables_tags_fields_and_event_time(telemetry: list[dict]) -> None:
    record = telemetry[1]
    measurement, tags, fields, ts = _parse(_line(record))
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
        elif types[name] == "string":
            assert text == f'"{record[name]}"', name
        elif name in FLOAT_CHANNELS:
            assert np.float32(float(text)) == np.float32(record[name])
        else:
            assert float(text) == record[name]


def _significant_digits(text: str) -> int:
    mantissa = re.split("[eE]", text.lstrip("-"))[0].replace(".", "").lstrip("0")
    return len(mantissa.rstrip("0")) or 1


F32_EDGES = [0.1, 636.7052, 1e-7, 10554.51171875, 0.059999998, 399.99, 0.0, -0.0]
F32_EDGES += [float(np.finfo(np.float32).max), 1e-45, 1.1754942e-38, 16777217.0, -3.3333333]


@pytest.mark.parametrize("value", F32_EDGES)
def test_float32_channels_read_back_as_the_same_float32_in_the_fewest_digits(value: float) -> None:
    sent = float(np.float32(value))  # what an Avro float decodes to
    record = {**sample_records(load_schema(TELEMETRY_SCHEMA_FILE))[1], "throttle": sent}
    text = _parse(_line(record))[2]["throttle"]
    assert np.float32(float(text)) == np.float32(sent)
    assert str(np.float32(float(text))) == str(np.float32(sent))  # the sign of zero too
    digits = _significant_digits(text)
    if digits > 1:
        assert np.float32(float(f"{sent:.{digits - 1}g}")) != np.float32(sent), text


def test_random_float32_values_over_the_whole_range_read_back_exactly() -> None:
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**32, 3000, dtype=np.uint64).astype(np.uint32)
    values = bits.view(np.float32)
    values = values[np.isfinite(values)]
    base = sample_records(load_schema(TELEMETRY_SCHEMA_FILE))[1]
    records = [{**base, "g_lat": v} for v in values.tolist()]
    got = [float(_parse(line)[2]["g_lat"]) for line in _lines(records)]
    np.testing.assert_array_equal(np.array(got, dtype=np.float32), values)


@pytest.mark.parametrize(
    "value", [0.1, 1471.6970052192216, 1e-300, 86399.99, 5e-324, 1e16, 1.7976931348623157e308]
)
def test_doubles_read_back_as_the_same_double(value: float) -> None:
    record = {**sample_records(load_schema(TELEMETRY_SCHEMA_FILE))[1], "lap_distance_m": value}
    text = _parse(_line(record))[2]["lap_distance_m"]
    assert float(text) == value
    assert len(text) <= len(repr(value))


def test_lap_summary_is_stamped_at_lap_end_and_keeps_lap_start() -> None:
    record = sample_records(load_schema(LAP_SUMMARY_SCHEMA_FILE))[1]
    measurement, tags, fields, ts = _parse(_line(record, LAP_SUMMARY))
    assert measurement == "laps"
    assert set(tags) == {"session_id", "car_id", "driver"}
    assert ts == record["lap_end"]
    assert fields["lap_start"] == f"{record['lap_start']}i"
    assert fields["sample_count"] == f"{record['sample_count']}i"
    assert fields["lap"] == f"{record['lap']}i"


def test_each_line_has_its_own_records_tags_in_order(monkeypatch, telemetry) -> None:
    monkeypatch.setattr(line_protocol, "MAX_CACHED_SERIES", 3)  # clearing must not matter
    base = telemetry[1]
    records = [
        {**base, "session_id": f"s{i % 2}", "car_id": f"car-{i % 5}", "timestamp": i}
        for i in range(40)
    ]
    encoder = LineEncoder()
    for _ in range(2):
        lines = encoder.encode_records(records).decode().split("\n")[:-1]
        for i, line in enumerate(lines):
            _, tags, _, ts = _parse(line)
            assert ts == i
            assert (tags["session_id"], tags["car_id"]) == (f"s{i % 2}", f"car-{i % 5}")


def test_no_records_no_bytes() -> None:
    assert LineEncoder().encode_records([]) == b""


def test_tag_values_are_escaped(telemetry) -> None:
    assert escape_tag("a b,c=d\\e") == r"a\ b\,c\=d\\e"
    assert escape_tag("car-01") == "car-01"
    line = _line({**telemetry[1], "session_id": "a b"})
    assert line.startswith(r"telemetry,session_id=a\ b,car_id=")


def test_strings_that_are_not_identifiers_are_quoted_string_fields(telemetry) -> None:
    record = {**telemetry[1], "tyre_compound": "intermediate", "pit_status": "pit_stop"}
    _, tags, fields, _ = _parse(_line(record))
    assert "tyre_compound" not in tags and "pit_status" not in tags
    assert fields["tyre_compound"] == '"intermediate"'
    assert fields["pit_status"] == '"pit_stop"'
    assert fields["session_kind"] == f'"{record["session_kind"]}"'
    assert fields["tyre_age_laps"] == f"{record['tyre_age_laps']}i"
    # Quotes and backslashes in a string field are escaped (none of the contract's values
    # has one, but a line must never break on a value).
    fields = _parse(_line({**record, "tyre_compound": 'a"b\\c'}))[2]
    assert fields["tyre_compound"] == '"a\\"b\\\\c"'


TELEMETRY_V1 = load_schema(HISTORY_DIR / "telemetry.v1.avsc")
TELEMETRY_V2 = load_schema(HISTORY_DIR / "telemetry.v2.avsc")
V1_NAMES = {f["name"] for f in TELEMETRY_V1["fields"]}
V2_NAMES = {f["name"] for f in TELEMETRY_V2["fields"]}
V2_ONLY = V2_NAMES - V1_NAMES
V3_ONLY = {f["name"] for f in load_schema(TELEMETRY_SCHEMA_FILE)["fields"]} - V2_NAMES


def test_v1_v2_and_v3_records_store_only_what_they_were_sent_with(telemetry) -> None:
    # One batch of one topic: v1, v2 and v3 records interleaved, as after upgrades
    # mid-stream; of the v3 ones, a game car's with its channels measured and a simulated
    # car's with them null.
    v3 = load_schema(TELEMETRY_SCHEMA_FILE)
    registry = FakeRegistry({1: TELEMETRY_V1, 2: TELEMETRY_V2, 3: v3})
    decoder = ColumnDecoder(Deserializer(registry, v3))
    base = {**telemetry[1], "tyre_compound": "hard", "tyre_age_laps": 9, "pit_stops": 1}
    assert all(base[name] is not None for name in V3_ONLY)
    writers = {
        0: (1, TELEMETRY_V1, {k: v for k, v in base.items() if k in V1_NAMES}),
        1: (2, TELEMETRY_V2, {k: v for k, v in base.items() if k in V2_NAMES}),
        2: (3, v3, base),
        3: (3, v3, {**base, **dict.fromkeys(V3_ONLY)}),
    }
    rows = 12
    values = []
    for i in range(rows):
        schema_id, schema, record = writers[i % 4]
        values.append(Serializer(schema_id, schema).encode({**record, "timestamp": 1000 + i}))
    for _ in range(2):  # the second time with every writer schema known
        decoded = decoder.decode_columns(values)
        assert decoded.errors == [] and len(decoded) == rows
        assert {name: mask.tolist() for name, mask in decoded.absent.items()} == {
            **{name: [i % 4 == 0 for i in range(rows)] for name in V2_ONLY},
            **{name: [i % 4 != 2 for i in range(rows)] for name in V3_ONLY},
        }
        lines = LineEncoder().encode(decoded).decode().split("\n")[:-1]
        parsed = [_parse(line) for line in lines]
        assert [ts for *_, ts in parsed] == [1000 + i for i in range(rows)]  # in batch order
        for i, (_, tags, fields, _) in enumerate(parsed):
            assert tags["car_id"] == base["car_id"]
            if i % 4 == 0:  # v1: what it has, and no made-up compound or pit status
                assert V2_ONLY.isdisjoint(fields)
                assert fields["sector"] == f"{base['sector']}i"
            else:
                assert fields["tyre_compound"] == '"hard"'
                assert fields["tyre_age_laps"] == "9i" and fields["pit_stops"] == "1i"
            if i % 4 == 2:  # the game car: every channel as measured
                assert set(fields) >= V3_ONLY
                assert fields["ers_deploy_mode"] == f'"{base["ers_deploy_mode"]}"'
                assert float(fields["brake_temp_rl_c"]) == base["brake_temp_rl_c"]
            else:  # older writers, and null (not measured): no made-up temperatures
                assert V3_ONLY.isdisjoint(fields)
            assert fields["lap"] == f"{base['lap']}i"


def test_records_given_as_dicts_leave_their_nulls_out(telemetry) -> None:
    record = {**telemetry[1], "z_m": None, "ers_deploy_mode": None}
    fields = _parse(_line(record))[2]
    assert "z_m" not in fields and "ers_deploy_mode" not in fields
    assert float(fields["tyre_pressure_fl_psi"]) == pytest.approx(record["tyre_pressure_fl_psi"])


def test_a_race_grid_behind_the_line_stores_negative_distances(telemetry) -> None:
    record = {**telemetry[1], "lap": 1, "lap_distance_m": -42.5, "total_distance_m": -42.5}
    fields = _parse(_line(record))[2]
    assert (fields["lap_distance_m"], fields["total_distance_m"]) == ("-42.5", "-42.5")
