"""The pit wall on an F1 game session: a race on a circuit the project does not know (the oval
of tests/circuit_samples.py, in the game's world coordinates), from its datagrams through
the ingest to the pit wall's model, as the consumer thread feeds it. The track outline is
learned from the cars' positions, the lap distance is the packets', the sectors are where the
Session packet says they start, and the timing tower has every car's lap."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from circuit import silverstone
from dashboard.circuit_watch import UNKNOWN_NAME
from dashboard.health import snapshot
from dashboard.model import GridModel
from dashboard.timing import tower_json
from ingest.session import FIELDS, GameIngest
from runtime.output_files import column_records
from tests.circuit_samples import oval_at
from tests.game_session_samples import (
    CARS,
    FIRST_ARRIVAL_US,
    HZ,
    LAP_M,
    SECTOR_STARTS_M,
    SESSION_ID,
    TOP_SPEED_MPS,
    car_id,
    distance_m,
    session_datagrams,
)


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    ingest = GameIngest()
    out: list[dict[str, Any]] = []
    for i, (arrival, data) in enumerate(session_datagrams()):
        ingest.feed(data, arrival)
        if i % 500 == 499:
            batch = ingest.take()
            if batch is not None:
                out += column_records(batch, FIELDS)
    batch = ingest.take()
    assert batch is not None and not any(k in ingest.counts for k in ("out_of_range", "waiting"))
    return out + column_records(batch, FIELDS)


@pytest.fixture(scope="module")
def model(records: list[dict[str, Any]]) -> GridModel:
    # The pit wall as it starts without F1_TRACK: expecting Silverstone.
    model = GridModel(silverstone(), step_m=10.0)
    for i in range(0, len(records), 300):
        model.ingest(records[i : i + 300])
    return model


def crossing_s(car_index: int) -> float:
    """Session time at which a car crosses the line into lap 2 (the samples between which
    the ingest's records interpolate it are on a constant-speed stretch)."""
    car = CARS[car_index]
    t = 0.0
    while distance_m(car, t + 1.0 / HZ) < LAP_M:
        t += 1.0 / HZ
    return t + (LAP_M - distance_m(car, t)) / TOP_SPEED_MPS


def test_the_circuit_is_learned_from_the_cars_positions(model: GridModel) -> None:
    with model.lock:
        shape = model.circuit(SESSION_ID)
        health = snapshot(model)["circuit"]
    assert shape.learned and shape.name == UNKNOWN_NAME and shape.closed
    # The lap length: how far the line moved in total distance, as the packets give both.
    assert shape.lap_length_m == pytest.approx(LAP_M, abs=0.01)
    # Where the cars' sector steps up: the Session packet's starts, within half a sample.
    half_sample_m = TOP_SPEED_MPS / HZ / 2
    assert shape.sector_starts_m[0] == 0.0
    assert shape.sector_starts_m[1:] == pytest.approx(SECTOR_STARTS_M, abs=half_sample_m)
    # The outline: the oval, from the game's world x and z, one point per 10 m of the lap.
    assert len(shape.x) >= 0.95 * LAP_M / 10.0
    on_oval = oval_at(np.asarray(shape.distance_m))
    assert np.hypot(shape.x - on_oval[:, 0], shape.y - on_oval[:, 1]).max() < 1.0
    x0, y0 = shape.position(0.0)
    ((line_x, line_y),) = oval_at(np.array([0.0]))
    assert math.hypot(x0 - line_x, y0 - line_y) < 1.0  # the line is where it is
    assert health["learned"] and health["outline_closed"] and health["name"] == UNKNOWN_NAME


def test_every_game_car_completes_its_first_lap_from_lights_out(model: GridModel) -> None:
    with model.lock:
        cars = {c.car_id: c for c in model.cars.values() if c.session_id == SESSION_ID}
        tower = tower_json(model.timing.tower(SESSION_ID))
    assert sorted(cars) == sorted(car_id(c) for c in CARS)
    for k, car in enumerate(CARS):
        state = cars[car_id(car)]
        assert state.driver == car.driver
        (lap,) = state.completed
        # A race: lap 1 timed from lights out (session time 0), the grid behind the line.
        assert lap.lap == 1 and lap.time_s == pytest.approx(crossing_s(k), abs=1e-3)
        # Its trace runs on the packets' lap distance, over the whole lap.
        assert lap.trace.distance[-1] >= LAP_M - 10.0
        assert state.latest is not None and state.latest["lap"] == 2
        assert state.latest["brake_temp_fl_c"] == 500.0 + k  # the game's FL (its third)
    assert tower["session_id"] == SESSION_ID and tower["session_kind"] == "race"
    assert tower["positions_by"] == "race"
    rows = tower["cars"]
    # The grid order holds: the front slot leads, a lap each completed.
    assert [r["car_id"] for r in rows] == [car_id(c) for c in CARS]
    assert [r["position"] for r in rows] == [1, 2, 3]
    assert all(r["laps_completed"] == 1 and r["tyre_compound"] == "soft" for r in rows)
    for k, row in enumerate(rows):
        assert row["last_lap_s"] == pytest.approx(crossing_s(k), abs=1e-3)
        # The three sectors of lap 1, split where the Session packet puts them.
        times = [s["time_s"] for s in row["sectors"]]
        assert all(t is not None for t in times)
        assert sum(times) == pytest.approx(row["last_lap_s"], abs=1e-6)
        s3 = (LAP_M - SECTOR_STARTS_M[1]) / TOP_SPEED_MPS
        assert times[2] == pytest.approx(s3, abs=1.0 / HZ)
    # The gap at the same track point: the cars follow each other 8 m apart at top speed.
    assert rows[1]["gap_to_leader_s"] == pytest.approx(8.0 / TOP_SPEED_MPS, abs=0.02)


def test_event_time_follows_the_game_clock_from_the_first_packet(
    records: list[dict[str, Any]],
) -> None:
    first = records[0]
    assert first["timestamp"] == FIRST_ARRIVAL_US and first["sim_time_s"] == 0.0
    assert all(r["timestamp"] == FIRST_ARRIVAL_US + round(r["sim_time_s"] * 1e6) for r in records)
    assert min(r["lap_distance_m"] for r in records) < 0  # the grid, behind the line
