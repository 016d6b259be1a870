"""Reading a whole stored session back: the Flux text, and InfluxDB's plain CSV parsed."""

from __future__ import annotations

import numpy as np

from storage.history import (
    flux_series_edge,
    flux_session_points,
    read_plain_csv,
    telemetry_records,
)


def test_session_points_read_every_car_and_field_of_a_window_in_time_order() -> None:
    text = flux_session_points("b", "s-1", 1_000_000, 2_000_000)
    assert "start: time(v: 1000000000), stop: time(v: 2000000000)" in text
    assert 'r.session_id == "s-1"' in text and "car_id ==" not in text
    assert "_field ==" not in text  # every field
    assert 'pivot(rowKey: ["_time"], columnKey: ["_field"]' in text
    assert 'sort(columns: ["_time", "car_id"])' in text
    assert "start: 0, stop: 2200-01-01T00:00:00Z" in flux_session_points("b", "s-1")


def test_series_edges_come_from_each_cars_first_or_last_point() -> None:
    first = flux_series_edge("b", "s-1", "first", from_lap=3)
    assert "first()" in first and "r._value >= 3" in first
    last = flux_series_edge("b", "s-1", "last")
    assert "last()" in last and "_value >=" not in last


# Two tables of different columns (a car whose records have a field the other's lack), as
# InfluxDB writes them without annotations: a header each, an empty line between them.
PLAIN = (
    b",result,table,_time,car_id,driver,lap,speed_kmh,drs\r\n"
    b",_result,0,2026-01-01T00:00:00.000001Z,car-01,NAN,1,0.1,true\r\n"
    b",_result,0,2026-01-01T00:00:00.100001Z,car-01,NAN,2,318.4000015258789,false\r\n"
    b"\r\n"
    b",result,table,_time,car_id,driver,lap,speed_kmh,drs,z_m\r\n"
    b",_result,1,2026-01-01T00:00:00.000001Z,007,ABC,1,,true,1.5\r\n"
)


def test_plain_csv_tables_become_one_frame_with_text_kept_as_text() -> None:
    df = read_plain_csv(PLAIN, text_columns=["car_id", "driver"])
    assert list(df.columns) == ["_time", "car_id", "driver", "lap", "speed_kmh", "drs", "z_m"]
    assert df["car_id"].tolist() == ["car-01", "car-01", "007"]
    assert df["driver"].tolist() == ["NAN", "NAN", "ABC"]
    assert df["speed_kmh"].iloc[1] == 318.4000015258789  # exactly as written
    assert np.isnan(df["speed_kmh"].iloc[2]) and np.isnan(df["z_m"].iloc[0])
    assert df["lap"].tolist() == [1, 2, 1]


def test_an_empty_answer_is_an_empty_frame() -> None:
    assert read_plain_csv(b"").empty
    assert read_plain_csv(b"\r\n").empty


def test_records_have_integer_microseconds_whatever_digits_the_time_has() -> None:
    df = read_plain_csv(PLAIN + b",_result,1,2026-01-01T00:00:01Z,007,ABC,1,2.5,true,1.5\r\n")
    records = telemetry_records(df)
    second = 1_767_225_600_000_000
    assert records["timestamp"].tolist() == [
        second + 1,
        second + 100_001,
        second + 1,
        second + 1_000_000,
    ]
    assert list(records.columns)[:4] == ["car_id", "driver", "timestamp", "lap"]
    assert "_time" not in records.columns and "result" not in records.columns
