"""The analytics job's pure lap logic (analytics.laps.advance) driven as the Spark job drives
it, without Spark: each car's records in micro-batches of given sizes, its state carried
from one to the next."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.laps import INPUT_COLUMNS, INPUT_DTYPES, LapState, advance
from tests.analytics_reference import with_defaults


def job_columns(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """The job's input columns of telemetry rows, as the Spark job hands them over (a field
    an older writer did not have holds the schema's default)."""
    df = with_defaults(df).rename(columns={"timestamp": "ts_us"})
    return {
        name: df[name].to_numpy(dtype=INPUT_DTYPES.get(name, np.float64)) for name in INPUT_COLUMNS
    }


def run_in_chunks(df: pd.DataFrame, chunks: list[int]) -> tuple[dict, dict[str, LapState | None]]:
    """Each car's records in chunks of the given sizes (cycled), as micro-batches: the
    summaries by (session, car, lap), each lap at most once, and each car's last state."""
    got: dict = {}
    states: dict[str, LapState | None] = {}
    for car, g in df.groupby("car_id"):
        state: LapState | None = None
        pos, i = 0, 0
        while pos < len(g):
            part = g.iloc[pos : pos + chunks[i % len(chunks)]]
            state, done = advance("unit", str(car), state, job_columns(part))
            for s in done:
                key = (s["session_id"], s["car_id"], s["lap"])
                assert key not in got, f"lap summarised twice: {key}"
                got[key] = s
            pos += len(part)
            i += 1
        states[str(car)] = state
    return got, states
