"""Records for the dashboard's unit tests: the telemetry of a car whose distance follows a
given function of time (on a 100 m lap, with hand-checkable numbers), and a lap summary as the
analytics job publishes it.

The car starts from a race grid slot ``grid_m`` behind the line (1 m by default) at lights
out, session time 0, so its lap 1 is timed from then (as every service times it, see
circuit/lap_line.py); with ``grid_m=0`` it starts on the line, as a practice car whose lap 1
is not timed."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

LAP_M = 100.0
TICK_US = 300_000  # 0.3 s between samples keeps the hand arithmetic exact
START_US = 1_700_000_000_000_000


def lap_two_faster(t_s: float) -> float:
    """Distance from the start: 10 m/s until 10.2 s, then 12.5 m/s.

    From the default grid slot 1 m behind the line, the line is crossed at 0.1 s and lap 1
    ends at 101 m, at 10.1 s. The speed changes on a sample (10.2 s), not between two, so the
    linear interpolation over the line is exact: lap 2 ends when 102 + 12.5 (t - 10.2) =
    201, at 18.12 s (a lap of 8.02 s).
    """
    return 10.0 * t_s if t_s <= 10.2 else 102.0 + 12.5 * (t_s - 10.2)


def records(
    ticks: range,
    total_m: Callable[[float], float] = lap_two_faster,
    car: str = "car-01",
    driver: str = "VER",
    session: str = "s-1",
    lap_m: float = LAP_M,
    grid_m: float = 1.0,
) -> Iterator[dict[str, Any]]:
    """Telemetry records of a car whose distance from its start follows ``total_m(t)``, the
    start being ``grid_m`` behind the line."""
    for k in ticks:
        t_us = k * TICK_US
        t = t_us / 1e6
        position = total_m(t)
        total = position - grid_m
        lap = math.floor(max(total, 0.0) / lap_m + 1e-9) + 1
        yield {
            "session_id": session,
            "car_id": car,
            "driver": driver,
            "timestamp": START_US + t_us,
            "sim_time_s": t,
            "lap": lap,
            "lap_distance_m": total - (lap - 1) * lap_m,
            "total_distance_m": total,
            "x_m": position,
            "y_m": -position,
            "speed_kmh": 36.0 if t <= 10.2 else 45.0,
            "throttle": 1.0,
            "brake": 0.0,
            "steering": 0.0,
            "gear": 5,
            "rpm": 10_000.0 + k,
            "g_lat": 0.01 * k,
            "g_long": -0.01 * k,
            "fuel_kg": 100.0 - 0.001 * k,
            "tyre_wear": 0.001 * k,
            "drs": False,
            "sector": 1,
        }


def summary(lap: int = 1) -> dict[str, Any]:
    return {
        "session_id": "s-1",
        "car_id": "car-01",
        "driver": "VER",
        "lap": lap,
        "lap_time_s": 87.0,
        "sector1_s": 28.0,
        "sector2_s": 33.0,
        "sector3_s": 26.0,
        "lap_start": 1_700_000_000_000_000,
        "lap_end": 1_700_000_087_000_000,
        "avg_speed_kmh": 240.0,
        "max_speed_kmh": 318.0,
        "min_speed_kmh": 95.0,
        "full_throttle_share": 0.65,
        "brake_share": 0.16,
        "fuel_used_kg": 1.95,
        "max_abs_g_lat": 5.4,
        "max_g_long": 1.5,
        "min_g_long": -5.0,
        "sample_count": 8700,
    }
