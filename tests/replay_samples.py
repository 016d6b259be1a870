"""A small stored session for the replay tests: two cars at 10 Hz on a short lap, every field
of the telemetry schema filled (from the evolution gate's sample record), as a DataFrame the
way a source reads one."""

from __future__ import annotations

from typing import Any

import pandas as pd

from schemas.evolution import sample_records
from schemas.schema_files import load_schema
from schemas.topics import TELEMETRY_SCHEMA_FILE

START_US = 1_700_000_000_000_000
TICK_US = 100_000  # 10 Hz
LAP_TICKS = 50  # a 5 s lap
SESSION = "stored-1"


def template() -> dict[str, Any]:
    """A valid record with every field set (nullable ones too)."""
    return dict(sample_records(load_schema(TELEMETRY_SCHEMA_FILE))[1])


def session_frame(ticks: int = 160, session: str = SESSION) -> pd.DataFrame:
    """``ticks`` samples of two cars in time order; car-02 runs 20 ticks ahead on the lap,
    so the cars cross the line at different times (car-01 into lap 2 at tick 50, car-02 at
    tick 30)."""
    base = template()
    rows = []
    for tick in range(ticks):
        for car, ahead, driver in (("car-01", 0, "AAA"), ("car-02", 20, "BBB")):
            progress = tick + ahead
            rows.append(
                {
                    **base,
                    "session_id": session,
                    "car_id": car,
                    "driver": driver,
                    "timestamp": START_US + tick * TICK_US,
                    "sim_time_s": tick / 10,
                    "lap": 1 + progress // LAP_TICKS,
                    "lap_distance_m": 10.0 * (progress % LAP_TICKS),
                    "total_distance_m": 10.0 * progress,
                    "speed_kmh": 100.0 + (tick % 7) * 0.1,
                }
            )
    return pd.DataFrame(rows)
