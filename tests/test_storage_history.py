"""The Flux text behind the history queries: quoting, filters and the lap window."""

from __future__ import annotations

from storage.history import (
    flux_cars,
    flux_lap_points,
    flux_lap_summaries,
    flux_laps,
    flux_sessions,
    flux_string,
)


def test_strings_are_quoted_so_input_cannot_break_out() -> None:
    assert flux_string('a"b') == '"a\\"b"'
    assert flux_string("a\\b") == '"a\\\\b"'
    assert flux_string("${x}") == '"\\${x}"'


def test_sessions_and_cars_read_tags_of_the_telemetry_measurement() -> None:
    assert 'tag: "session_id"' in flux_sessions("b")
    assert 'measurement: "telemetry"' in flux_sessions("b")
    cars = flux_cars("b", "s-1")
    assert 'r.session_id == "s-1"' in cars and 'r._field == "lap"' in cars


def test_laps_group_by_car_and_lap_value() -> None:
    text = flux_laps("b", "s-1", "car-02", 3)
    assert 'r.car_id == "car-02"' in text
    assert "r._value == 3" in text
    assert 'group(columns: ["car_id", "driver", "_value"])' in text
    assert "car_id" not in flux_laps("b", "s-1").split("filter")[1]


def test_lap_points_read_only_the_laps_window_and_pivot() -> None:
    text = flux_lap_points("b", "s", "car-01", 2, 1_000_000, 2_000_000, ["speed_kmh"])
    assert "start: time(v: 1000000000), stop: time(v: 2000001000)" in text
    assert 'r._field == "speed_kmh"' in text and 'r._field == "lap"' in text
    assert "pivot(" in text and "r.lap == 2" in text


def test_lap_summaries_come_from_the_laps_measurement() -> None:
    assert 'r._measurement == "laps"' in flux_lap_summaries("b", "s")
