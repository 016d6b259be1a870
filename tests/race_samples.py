"""Hand-made telemetry v2 of one car on a 1,000 m lap at 10 Hz, with numbers that can be
checked by hand: a race car from the grid, a pit stop, a practice car that starts mid-lap.

The car runs at 50 m/s on track and 20 m/s in the pit lane, so its distance is a straight
line in time between events, and a line crossing interpolates exactly. Event time is
:data:`START_US` (lights out) plus the simulated time; each session ends the car at its
first sample past the line that ends its last lap, as the simulator does.

The pit lane of these laps: entry 100 m before the line, the box 50 m past it, exit 200 m
past it. A stop is :data:`STOP_TICKS` samples stationary in the box (``pit_status``
``pit_stop``), with fresh tyres from the first of them.
"""

from __future__ import annotations

import math
from typing import Any

LAP_M = 1000.0
HZ = 10
TICK_US = 100_000
START_US = 1_751_800_000_000_000
TRACK_MS = 50.0  # speed on track, m/s
PIT_MS = 20.0  # speed in the pit lane, m/s
PIT_ENTRY_M = 900.0  # lap distance where the pit lane starts (on the lap that ends in it)
BOX_M = 50.0  # lap distance of the pit box
PIT_EXIT_M = 200.0
STOP_TICKS = 25  # 2.5 s stationary


def sector_of(lap_distance_m: float) -> int:
    """Thirds of the lap; behind the line (a grid) is the end of sector 3."""
    if lap_distance_m < 0:
        return 3
    return min(3, int(lap_distance_m // (LAP_M / 3)) + 1)


def drive(
    laps: int,
    *,
    start_m: float = -22.0,
    pit_lap: int | None = None,
    session: str = "race-1",
    kind: str = "race",
    car: str = "car-01",
    driver: str = "VER",
    compounds: tuple[str, str] = ("medium", "hard"),
) -> list[dict[str, Any]]:
    """Records of a car until the first sample past the line that ends lap ``laps``.

    ``start_m`` is the lap distance of the first record, on lap 1: negative for a grid slot
    behind the line (the car waits for lights out at session time 0 and leaves at once),
    positive for a practice car that starts mid-lap. ``pit_lap``: the lap that ends in the
    pit lane (the in-lap); the stop is on the next lap (the out-lap).
    """
    records = []
    total = start_m
    tick = 0
    stopped = 0
    stops = 0
    compound, age = compounds[0], 0
    lap = 1
    while True:
        lap_distance = total - (lap - 1) * LAP_M
        in_lap = pit_lap is not None and lap == pit_lap and lap_distance >= PIT_ENTRY_M
        out_lap = pit_lap is not None and lap == pit_lap + 1 and lap_distance < PIT_EXIT_M
        if out_lap and lap_distance >= BOX_M and stopped < STOP_TICKS:
            status, speed = "pit_stop", 0.0
            if stopped == 0:
                compound, age = compounds[1], 0
            stopped += 1
            if stopped == STOP_TICKS:
                stops += 1
        elif in_lap or out_lap:
            status, speed = "pit_lane", PIT_MS
        else:
            status, speed = "none", TRACK_MS
        sim_time = tick / HZ
        done = lap > laps
        records.append(
            {
                "session_id": session,
                "car_id": car,
                "driver": driver,
                "timestamp": START_US + tick * TICK_US,
                "sim_time_s": sim_time,
                "lap": lap,
                "lap_distance_m": lap_distance,
                "total_distance_m": total,
                "x_m": 100.0 * math.cos(2 * math.pi * lap_distance / LAP_M),
                "y_m": 100.0 * math.sin(2 * math.pi * lap_distance / LAP_M),
                "speed_kmh": speed * 3.6,
                "throttle": 1.0 if speed else 0.0,
                "brake": 0.0,
                "steering": 0.0,
                "gear": 5 if speed else 0,
                "rpm": 11_000.0 if speed else 4_000.0,
                "g_lat": 0.5,
                "g_long": 0.0,
                "fuel_kg": 100.0 - tick / 128,  # exact in an Avro float too
                "tyre_wear": min(1.0, 0.001 * age),
                "drs": False,
                "sector": sector_of(lap_distance),
                "session_kind": kind,
                "tyre_compound": compound,
                "tyre_age_laps": age,
                "pit_status": status,
                "pit_stops": stops,
                "car_status": "finished" if done and kind == "race" else "running",
            }
        )
        if done:
            return records
        tick += 1
        total += speed / HZ
        if total - (lap - 1) * LAP_M >= LAP_M:
            lap += 1
            age += 1
