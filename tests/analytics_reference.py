"""An independent computation of the lap summaries from raw telemetry, with pandas.

Written from the definitions in analytics/README.md, not from the job's code, and working
on the whole run at once (no state, no micro-batches), so the tests can compare the job's
summaries with it field by field. The line crossing and the standing start are the
platform's one definition (:mod:`circuit.lap_line`), used here on purpose: every service
times laps the same way.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from circuit.lap_line import crossing_time, is_standing_start, standing_start_us
from schemas.topics import HISTORY_DIR, TELEMETRY_SCHEMA_FILE

FULL_THROTTLE = 0.98  # schemas.channels.FULL_THROTTLE_MIN, restated on purpose
BRAKE_ON = 0.05  # schemas.channels.BRAKE_ON_MIN


def _crossing(before: pd.Series, after: pd.Series) -> float:
    """Interpolated time the car passed the line between two consecutive samples."""
    return crossing_time(
        float(before["timestamp"]),
        float(before["total_distance_m"]),
        float(after["timestamp"]),
        float(after["total_distance_m"]),
        float(after["lap_distance_m"]),
    )


def _boundary(lap: pd.DataFrame, sector: int) -> float:
    """Halfway between the last sample before ``sector`` and the first sample in it."""
    sectors = lap["sector"].to_numpy()
    i = int(np.flatnonzero((sectors[1:] == sector) & (sectors[:-1] == sector - 1))[0]) + 1
    ts = lap["timestamp"].to_numpy()
    return (ts[i - 1] + ts[i]) / 2


def _added_since_v1() -> dict[str, Any]:
    """The fields telemetry gained after v1, with their defaults (read from the schemas);
    not the game channels of v3, whose default (null, not measured) no summary reads."""
    v1 = json.loads((HISTORY_DIR / "telemetry.v1.avsc").read_text())
    current = json.loads(TELEMETRY_SCHEMA_FILE.read_text())
    old = {f["name"] for f in v1["fields"]}
    return {
        f["name"]: f["default"]
        for f in current["fields"]
        if f["name"] not in old and f["default"] is not None
    }


V2_DEFAULTS = _added_since_v1()


def with_defaults(records: pd.DataFrame) -> pd.DataFrame:
    """Telemetry as a current reader sees it: a field an older writer did not have (a v1
    stream's compound, pit status...) gets the schema's default, in records without the
    column and in rows where it is missing (NaN: v1 records next to v2 ones)."""
    filled = {
        name: records[name].fillna(value) if name in records else value
        for name, value in V2_DEFAULTS.items()
    }
    return records.assign(**filled)


def expected_summaries(records: pd.DataFrame) -> dict[tuple[str, str, int], dict[str, Any]]:
    """(session, car, lap) -> the summary of every lap seen from line to line, and of lap 1
    of a race from lights out (a car first seen on lap 1 behind the line)."""
    out: dict[tuple[str, str, int], dict[str, Any]] = {}
    df = with_defaults(records).sort_values("timestamp", kind="stable")
    for (session, car), g in df.groupby(["session_id", "car_id"], sort=True):
        g = g.drop_duplicates("timestamp").reset_index(drop=True)
        laps = g["lap"].to_numpy()
        seen = set(laps.tolist())
        first = g.iloc[0]
        standing = is_standing_start(int(first["lap"]), float(first["lap_distance_m"]))
        # Time in the pit box: each pit_stop sample adds the time since the sample before.
        since_last = g["timestamp"].diff().fillna(0)
        stopped_us = since_last.where(g["pit_status"] == "pit_stop", 0)
        for lap in sorted(seen):
            if lap + 1 not in seen:
                continue
            from_grid = standing and lap == int(first["lap"])
            if not from_grid and (lap == int(first["lap"]) or lap - 1 not in seen):
                continue
            cur = g[g["lap"] == lap]
            after = g[g["lap"] == lap + 1].iloc[0]
            if from_grid:
                start = round(
                    standing_start_us(float(first["timestamp"]), float(first["sim_time_s"]))
                )
            else:
                start = round(_crossing(g[g["lap"] == lap - 1].iloc[-1], cur.iloc[0]))
            end = round(_crossing(cur.iloc[-1], after))
            b2 = round(_boundary(cur, 2))
            b3 = round(_boundary(cur, 3))
            speed = cur["speed_kmh"].astype(float)
            out[(str(session), str(car), int(lap))] = {
                "session_id": session,
                "car_id": car,
                "driver": cur["driver"].iloc[-1],
                "lap": int(lap),
                "lap_time_s": (end - start) / 1e6,
                "sector1_s": (b2 - start) / 1e6,
                "sector2_s": (b3 - b2) / 1e6,
                "sector3_s": (end - b3) / 1e6,
                "lap_start": start,
                "lap_end": end,
                "avg_speed_kmh": speed.mean(),
                "max_speed_kmh": speed.max(),
                "min_speed_kmh": speed.min(),
                "full_throttle_share": (cur["throttle"].astype(float) >= FULL_THROTTLE).mean(),
                "brake_share": (cur["brake"].astype(float) > BRAKE_ON).mean(),
                "fuel_used_kg": float(cur["fuel_kg"].iloc[0]) - float(cur["fuel_kg"].iloc[-1]),
                "max_abs_g_lat": cur["g_lat"].astype(float).abs().max(),
                "max_g_long": cur["g_long"].astype(float).max(),
                "min_g_long": cur["g_long"].astype(float).min(),
                "sample_count": len(cur),
                "tyre_compound": cur["tyre_compound"].iloc[-1],
                "tyre_age_laps": int(cur["tyre_age_laps"].iloc[-1]),
                "in_lap": bool(after["pit_status"] != "none"),
                "out_lap": bool(cur["pit_status"].iloc[0] != "none"),
                "standing_start": bool(from_grid),
                "pit_stop_s": float(stopped_us[cur.index].sum()) / 1e6,
            }
    return out


def assert_summaries_match(
    got: dict[tuple[str, str, int], dict[str, Any]],
    want: dict[tuple[str, str, int], dict[str, Any]],
    rel: float = 1e-9,
) -> None:
    assert sorted(got) == sorted(want)
    for key, expected in want.items():
        actual = got[key]
        for name, value in expected.items():
            if isinstance(value, float | np.floating):
                assert actual[name] == pytest_approx(float(value), rel), (key, name)
            else:
                assert actual[name] == value, (key, name, actual[name], value)


def pytest_approx(value: float, rel: float) -> Any:
    import pytest

    return pytest.approx(value, rel=rel, abs=1e-9)
