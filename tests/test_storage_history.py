"""The Flux text behind the history queries (quoting, filters, the lap window), and which
stored laps are whole."""

from __future__ import annotations

import pandas as pd

from storage.history import (
    History,
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


class _CannedHistory(History):
    """History whose queries are answered from frames made here, by what the Flux asks."""

    def __init__(self, laps: pd.DataFrame, first_lap: dict[str, int], first_m: dict[str, float]):
        self.bucket = "b"
        self._answers = (laps, first_lap, first_m)

    def frame(self, flux: str) -> pd.DataFrame:
        laps, first_lap, first_m = self._answers
        if "reduce(" in flux:
            return laps
        values = first_m if '"lap_distance_m"' in flux else first_lap
        return pd.DataFrame({"car_id": list(values), "_value": list(values.values())})


def _lap_rows(rows: list[tuple[str, int]]) -> pd.DataFrame:
    t = pd.Timestamp("2026-01-01", tz="UTC")
    return pd.DataFrame(
        {
            "car_id": [car for car, _ in rows],
            "driver": ["DRV"] * len(rows),
            "_value": [lap for _, lap in rows],
            "first": [t + pd.Timedelta(seconds=90 * lap) for _, lap in rows],
            "last": [t + pd.Timedelta(seconds=90 * lap + 89) for _, lap in rows],
            "samples": [100] * len(rows),
        }
    )


def test_lap_one_from_a_race_grid_is_complete_and_a_practice_car_s_first_lap_is_not() -> None:
    # car-01 starts on the grid (lap 1, behind the line); car-02 mid-lap in practice (lap 4).
    rows = [
        ("car-01", 1),
        ("car-01", 2),
        ("car-01", 3),
        ("car-02", 4),
        ("car-02", 5),
        ("car-02", 6),
    ]
    history = _CannedHistory(
        _lap_rows(rows), {"car-01": 1, "car-02": 4}, {"car-01": -32.5, "car-02": 1200.0}
    )
    laps = history.laps("s-1")
    complete = {(r.car_id, r.lap): r.complete for r in laps.itertuples()}
    # The last lap of each car is the one sample past its final crossing: never complete.
    assert complete == {
        ("car-01", 1): True,
        ("car-01", 2): True,
        ("car-01", 3): False,
        ("car-02", 4): False,
        ("car-02", 5): True,
        ("car-02", 6): False,
    }
