"""Records for the dashboard's unit tests: the telemetry of a car whose distance follows a
given function of time (on a 100 m lap, with hand-checkable numbers), and a lap summary as the
analytics job publishes it."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

LAP_M = 100.0
TICK_US = 300_000  # 0.3 s between samples keeps the hand arithmetic exact
START_US = 1_700_000_000_000_000


def lap_two_faster(t_s: float) -> float:
    """Total distance: 10 m/s until 10.2 s (lap 1 takes 10 s), then 12.5 m/s.

    The speed changes on a sample (10.2 s), not between two, so the linear interpolation
    over the line is exact: lap 2 ends when 102 + 12.5 (t - 10.2) = 200, at 18.04 s.
    """
    return 10.0 * t_s if t_s <= 10.2 else 102.0 + 12.5 * (t_s - 10.2)


def records(
    ticks: range,
    total_m: Callable[[float], float] = lap_two_faster,
    car: str = "car-01",
    driver: str = "VER",
    session: str = "s-1",
    lap_m: float = LAP_M,
) -> Iterator[dict[str, Any]]:
    """Telemetry records of a car whose total distance follows ``total_m(t)``."""
    for k in ticks:
        t_us = k * TICK_US
        t = t_us / 1e6
        total = total_m(t)
        lap = math.floor(total / lap_m + 1e-9) + 1
        yield {
            "session_id": session,
            "car_id": car,
            "driver": driver,
            "timestamp": START_US + t_us,
            "sim_time_s": t,
            "lap": lap,
            "lap_distance_m": max(0.0, total - (lap - 1) * lap_m),
            "total_distance_m": total,
            "x_m": total,
            "y_m": -total,
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
