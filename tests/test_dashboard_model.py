"""The shared model: line crossings, lap times, the reference lap, late joins, sessions."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from dashboard.model import GridModel, LapBook, RecentSamples
from tests.dashboard_samples import START_US, records


def fed(ticks: range, **kwargs: Any) -> GridModel:
    model = GridModel(step_m=10.0)
    model.ingest(records(ticks, **kwargs))
    return model


def test_lap_time_is_interpolated_at_the_line() -> None:
    # From a grid slot 1 m behind the line, lap 1 is timed from lights out (session time 0).
    # Samples at 9.9 s (98 m) and 10.2 s (101 m): the line is crossed at exactly 10.1 s.
    car = fed(range(0, 40)).cars["car-01"]
    assert car.lap == 2
    assert car.last is not None and car.last.lap == 1
    assert car.last.time_s == pytest.approx(10.1)
    assert car.best is car.last
    assert car.lap_start_us == pytest.approx(START_US + 10_100_000)
    # The new lap's trace starts at the line with t = 0; 10 m into it (111 m from the start)
    # is reached at 102 + 12.5 (t - 10.2) = 111, t = 10.92 s.
    assert car.trace.start == 0
    assert car.trace.values["t_s"][0] == 0.0
    assert car.trace.values["t_s"][1] == pytest.approx(0.82)


def test_completed_lap_trace_covers_the_whole_lap() -> None:
    car = fed(range(0, 40)).cars["car-01"]
    assert car.last is not None
    lap1 = car.last.trace
    assert (lap1.start, lap1.end) == (0, 11)  # 0..100 m, both ends
    # Times since lights out: the line (0 m) at 0.1 s, then 10 m a second.
    np.testing.assert_allclose(lap1.values["t_s"], np.arange(11) + 0.1)


def test_a_car_on_the_grid_waits_behind_the_line_then_lap_1_counts_from_lights_out() -> None:
    def from_rest(t: float) -> float:  # standing until 1.2 s, then 10 m/s
        return 0.0 if t <= 1.2 else 10.0 * (t - 1.2)

    model = GridModel(step_m=10.0)
    model.ingest(records(range(0, 3), total_m=from_rest, grid_m=8.0))  # at rest, lap 1, -8 m
    car = model.cars["car-01"]
    assert car.lap == 1 and car.lap_start_us == START_US
    assert car.trace.empty  # nothing of the lap (0..100 m) reached yet
    assert car.lap_elapsed_s(START_US + 600_000) == pytest.approx(0.6)  # the timer runs
    model.ingest(records(range(3, 60), total_m=from_rest, grid_m=8.0))
    assert car.last is not None and car.last.lap == 1
    # 108 m from the slot at 10 m/s after 1.2 s at rest: the lap ends at 12.0 s.
    assert car.last.time_s == pytest.approx(12.0)
    assert car.last.trace.complete_from_start
    assert car.last.trace.values["t_s"][0] == pytest.approx(2.0)  # the line at 2.0 s


def test_a_practice_car_starting_on_the_line_has_no_lap_1_time() -> None:
    # Not behind the line: not a race grid, so the start of its first lap was not seen.
    car = fed(range(0, 70), grid_m=0.0).cars["car-01"]  # laps end at 10.0 and 18.04 s
    assert [c.lap for c in car.completed] == [2]
    assert car.best is not None and car.best.time_s == pytest.approx(8.04)
    assert math.isnan(fed(range(0, 5), grid_m=0.0).cars["car-01"].lap_elapsed_s(START_US))


def test_a_faster_lap_becomes_the_reference() -> None:
    car = fed(range(0, 70)).cars["car-01"]  # to 20.7 s: lap 2 ended at 18.12 s
    assert car.lap == 3
    assert car.last is not None and car.last.time_s == pytest.approx(8.02)
    assert car.best is car.last
    assert [c.lap for c in car.completed] == [1, 2]
    assert car.completed_lap(1) is not None and car.completed_lap(3) is None


def test_a_slower_lap_does_not_replace_the_reference() -> None:
    def slower_second_lap(t: float) -> float:
        return 10.0 * t if t <= 10.2 else 102.0 + 5.0 * (t - 10.2)

    car = fed(range(0, 110), total_m=slower_second_lap).cars["car-01"]  # lap 2 ends at 30.0 s
    assert car.last is not None and car.last.time_s == pytest.approx(19.9)
    assert car.best is not None and car.best.lap == 1


def test_a_car_joined_mid_lap_has_no_lap_time_until_it_crosses_the_line() -> None:
    car = fed(range(40, 50)).cars["car-01"]  # from 12.0 s, lap 2 at 23.5 m
    assert car.lap == 2
    assert car.lap_start_us is None
    assert math.isnan(car.lap_elapsed_s(START_US + 13_000_000))
    assert not car.trace.complete_from_start

    car = fed(range(40, 70)).cars["car-01"]  # lap 2 ends at 18.12 s, seen only partly
    assert car.last is None and car.best is None  # a partial lap is never a lap time
    assert car.lap == 3 and car.lap_start_us == pytest.approx(START_US + 18_120_000)


def test_a_gap_over_the_line_leaves_the_lap_start_unknown() -> None:
    model = GridModel(step_m=10.0)
    model.ingest(records(range(0, 30)))
    model.ingest(records(range(70, 72)))  # lap 1 -> lap 3: two laps missing
    car = model.cars["car-01"]
    assert car.lap == 3 and car.lap_start_us is None and car.last is None


def test_a_new_session_resets_the_car() -> None:
    model = fed(range(0, 40))
    model.ingest(records(range(0, 5), session="s-2"))
    car = model.cars["car-01"]
    assert car.session_id == "s-2"
    assert car.best is None and car.last is None and car.lap == 1


def test_active_cars_are_those_of_the_newest_session_heard_recently() -> None:
    now = [100.0]
    model = GridModel(step_m=10.0, clock=lambda: now[0])
    model.ingest(records(range(0, 3), car="car-02", session="old"))
    now[0] = 110.0
    model.ingest(records(range(0, 3), car="car-01", session="new"))
    assert [c.car_id for c in model.active_cars()] == ["car-01"]
    now[0] = 200.0
    assert model.active_cars() == []
    assert model.current_session() is None


def test_recent_samples_ring_returns_what_a_reader_has_not_seen() -> None:
    ring = RecentSamples(("g_lat",), capacity=4)
    for k in range(6):
        ring.append({"g_lat": float(k)})
    seqs, values = ring.since(0)
    assert list(seqs) == [2, 3, 4, 5]  # 0 and 1 were overwritten
    assert list(values["g_lat"]) == [2.0, 3.0, 4.0, 5.0]
    seqs, values = ring.since(4)
    assert list(values["g_lat"]) == [4.0, 5.0]
    assert list(ring.since(0, limit=1)[0]) == [5]


def test_lap_book_keeps_the_latest_summary_per_lap_and_finds_the_best() -> None:
    book = LapBook(limit=3)
    row = {"session_id": "s", "car_id": "car-01", "driver": "VER", "lap": 1, "lap_time_s": 90.0}
    book.add(row)
    book.add({**row, "lap_time_s": 89.0})  # the same lap again: replaced, not doubled
    book.add({**row, "lap": 2, "lap_time_s": 87.5})
    book.add({**row, "car_id": "car-02", "lap": 2, "lap_time_s": 88.0})
    rows = book.session_rows("s")
    assert [(r["car_id"], r["lap"]) for r in rows] == [("car-01", 1), ("car-01", 2), ("car-02", 2)]
    assert book.best_key(rows) == ("car-01", 2)
    book.add({**row, "session_id": "t", "lap": 9})  # over the limit: the oldest goes
    assert len(book.rows) == 3 and book.sessions() == ["s", "t"]
