"""Hand-made sessions for the timing tower's tests: cars whose total distance is a piecewise
linear function of time with its corners on sample times, on a 1,000 m lap in thirds, at
10 Hz, as telemetry v2 records.

Because every corner is on a sample, interpolating between two samples is exact, and the
expected numbers follow from the functions alone (:meth:`Car.time_at`: when a car reached a
distance), independently of the tower's distance grid.

A race runs to a flag as the simulator's does: when the leader completes ``laps``, every
other car finishes the lap it is on; each car's last record is its first sample past the
line that ends its last lap (``car_status`` ``finished`` there).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LAP_M = 1000.0
HZ = 10
TICK_US = 100_000
START_US = 1_760_000_000_000_000  # lights out


def sector_of(lap_distance_m: float) -> int:
    if lap_distance_m < 0:
        return 3  # a grid slot is at the end of the previous lap
    return min(3, int(lap_distance_m // (LAP_M / 3)) + 1)


@dataclass
class Car:
    """A car: ``corners`` are (time s, total distance m) points, straight lines between them;
    after the last corner the car keeps the last segment's speed."""

    car_id: str
    driver: str
    corners: list[tuple[float, float]]
    compound: str = "medium"
    # (from s, to s, status) spans of pit_status; a ``pit_stop`` span changes the tyres.
    pit: list[tuple[float, float, str]] = field(default_factory=list)
    new_compound: str = "hard"
    stop_sending_s: float = math.inf  # a retirement: no record from then on

    def distance(self, t: float) -> float:
        times = [c[0] for c in self.corners]
        i = max(0, min(bisect.bisect_right(times, t) - 1, len(self.corners) - 2))
        (t0, d0), (t1, d1) = self.corners[i], self.corners[i + 1]
        return d0 + (d1 - d0) * (t - t0) / (t1 - t0)

    def time_at(self, d: float) -> float:
        """When the car reached ``d`` (the last such time where it stood still there)."""
        for (t0, d0), (t1, d1) in zip(self.corners, self.corners[1:], strict=False):
            if d0 <= d < d1 or (d == d1 and (t1, d1) == self.corners[-1]):
                return t0 + (t1 - t0) * (d - d0) / (d1 - d0)
        (t0, d0), (t1, d1) = self.corners[-2], self.corners[-1]
        return t0 + (t1 - t0) * (d - d0) / (d1 - d0)

    def pit_status(self, t: float) -> str:
        for lo, hi, status in self.pit:
            if lo <= t < hi:
                return status
        return "none"


def record(
    car: Car, tick: int, *, session: str, kind: str, status: str, stops: int, compound: str
) -> dict[str, Any]:
    t = tick / HZ
    total = round(car.distance(t), 6)  # a corner on the line is on it, not a hair before
    lap = 1 if total < 0 else math.floor(total / LAP_M) + 1
    lap_distance = total - (lap - 1) * LAP_M
    speed = (car.distance(t + 0.1) - total) / 0.1 * 3.6
    return {
        "session_id": session,
        "car_id": car.car_id,
        "driver": car.driver,
        "timestamp": START_US + tick * TICK_US,
        "sim_time_s": t,
        "lap": lap,
        "lap_distance_m": lap_distance,
        "total_distance_m": total,
        "x_m": 0.0,
        "y_m": 0.0,
        "speed_kmh": speed,
        "throttle": 1.0,
        "brake": 0.0,
        "steering": 0.0,
        "gear": 5,
        "rpm": 10_000.0,
        "g_lat": 0.0,
        "g_long": 0.0,
        "fuel_kg": 100.0,
        "tyre_wear": 0.0,
        "drs": False,
        "sector": sector_of(lap_distance),
        "session_kind": kind,
        "tyre_compound": compound,
        "tyre_age_laps": max(0, lap - 1),
        "pit_status": car.pit_status(t),
        "pit_stops": stops,
        "car_status": status,
    }


def finish_lines(cars: list[Car], laps: int) -> tuple[float, dict[str, float]]:
    """The flag: the leader's finishing time, and the total distance at which each car takes
    the flag (the end of the lap it is on then)."""
    t_flag = min(c.time_at(laps * LAP_M) for c in cars)
    lines = {}
    for c in cars:
        d = c.distance(t_flag)
        at_line = abs(d - round(d / LAP_M) * LAP_M) < 1e-6
        lines[c.car_id] = (round(d / LAP_M) if at_line else math.floor(d / LAP_M) + 1) * LAP_M
    return t_flag, lines


def race(
    cars: list[Car],
    laps: int,
    *,
    session: str = "race-1",
    kind: str = "race",
    until_s: float | None = None,
    keep: Callable[[dict[str, Any]], bool] | None = None,
) -> list[dict[str, Any]]:
    """Every car's records, merged by time as a consumer gets them, to the flag (or up to
    ``until_s``)."""
    _t_flag, lines = finish_lines(cars, laps)
    out: list[tuple[int, int, dict[str, Any]]] = []
    for order, car in enumerate(cars):
        stops = 0
        compound = car.compound
        was_stopped = False
        tick = 0
        while True:
            t = tick / HZ
            if until_s is not None and t > until_s + 1e-9:
                break
            if t >= car.stop_sending_s:
                break
            stopped = car.pit_status(t) == "pit_stop"
            if stopped and not was_stopped:
                compound = car.new_compound
            if was_stopped and not stopped:
                stops += 1
            was_stopped = stopped
            done = car.distance(t) >= lines[car.car_id] - 1e-9
            rec = record(
                car,
                tick,
                session=session,
                kind=kind,
                status="finished" if done and kind == "race" else "running",
                stops=stops,
                compound=compound,
            )
            if keep is None or keep(rec):
                out.append((tick, order, rec))
            if done:
                break
            tick += 1
    out.sort(key=lambda item: (item[0], item[1]))
    return [rec for _tick, _order, rec in out]


def crossing_s(car: Car, distance_m: float) -> float:
    """Session time at which ``car`` reached ``distance_m``, from its function alone."""
    return car.time_at(distance_m)
