"""Time delta to the reference lap, aligned by distance.

At each grid distance ``d`` the delta is ``t_current(d) - t_reference(d)``: how much later the
car reaches that point of the lap than it did on its reference lap. Positive means losing
time (slower), negative gaining, the sign convention of the usual pit-wall delta bar.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from dashboard.model import CarState, CompletedLap
from dashboard.timing import CarTiming
from dashboard.traces import DistanceTrace


def delta_on_grid(current_t: np.ndarray, reference_t: np.ndarray) -> np.ndarray:
    """Element-wise delta of two lap-time arrays on the same distance grid; NaN where either
    lap has no value (not reached yet, or joined late)."""
    cur = np.asarray(current_t, dtype=float)
    ref = np.asarray(reference_t, dtype=float)
    if cur.shape != ref.shape:
        raise ValueError(f"traces on different grids: {cur.shape} vs {ref.shape}")
    return cur - ref


def delta_window(current: DistanceTrace, reference: DistanceTrace | None, lo: int) -> np.ndarray:
    """The delta for the current lap's filled points from index ``lo`` on (NaN without a
    reference, and past the reference's end)."""
    window = current.window(lo)
    ref_t = np.full(window["t_s"].shape, np.nan)
    if reference is None or reference.step_m != current.step_m:
        return ref_t
    # Both grids start at the line with the same step: index i is the same distance in both,
    # whatever size each grid has grown to.
    first = max(lo, current.start)
    known = reference.values["t_s"][first : first + ref_t.size]
    ref_t[: known.size] = known
    return delta_on_grid(window["t_s"], ref_t)


def delta_at(current: DistanceTrace, reference: DistanceTrace | None, distance_m: float) -> float:
    """The delta at one distance, interpolated on both grids: the live number under the bar."""
    if reference is None:
        return math.nan
    return current.value_at("t_s", distance_m) - reference.value_at("t_s", distance_m)


def delta_live(
    current: DistanceTrace, reference: DistanceTrace | None, distance_m: float, elapsed_s: float
) -> float:
    """The delta at the car's latest position: its lap time now minus the reference lap's time
    at the same distance (so it moves with every sample, not only at grid points)."""
    if reference is None:
        return math.nan
    return elapsed_s - reference.value_at("t_s", distance_m)


def delta_between(
    distance_a: np.ndarray, t_a: np.ndarray, distance_b: np.ndarray, t_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Lap A minus lap B at the same lap distance (+ = A later there, slower so far): on A's
    distance points within the part of the lap both cover, B's time interpolated there."""
    d_a, ta = np.asarray(distance_a, dtype=float), np.asarray(t_a, dtype=float)
    d_b, tb = np.asarray(distance_b, dtype=float), np.asarray(t_b, dtype=float)
    known_a, known_b = np.isfinite(ta), np.isfinite(tb)
    d_a, ta, d_b, tb = d_a[known_a], ta[known_a], d_b[known_b], tb[known_b]
    if d_a.size == 0 or d_b.size < 2:
        return np.empty(0), np.empty(0)
    inside = (d_a >= d_b[0]) & (d_a <= d_b[-1])
    return d_a[inside], ta[inside] - np.interp(d_a[inside], d_b, tb)


def reference_lap(
    car: CarState,
    timing: CarTiming | None = None,
    summaries: Mapping[tuple[str, str, int], Mapping[str, Any]] | None = None,
) -> CompletedLap | None:
    """The lap the delta compares with: the car's best complete lap that is not an out-lap,
    in-lap or standing start (the pit wall's own timing of ``pit_status`` says which, and so
    do the analytics job's lap summaries), else its best complete lap. Never the lap it is on."""
    laps = {id(lap): lap for lap in (*car.completed, car.best) if lap is not None}
    laps = {k: lap for k, lap in laps.items() if lap.trace is not car.trace}

    def valid(lap: CompletedLap) -> bool:
        flags = timing.lap_flags(lap.lap) if timing is not None else None
        if flags is not None and not flags.valid:
            return False
        row = summaries.get((car.session_id, car.car_id, lap.lap)) if summaries else None
        return not (
            row is not None
            and (row.get("in_lap") or row.get("out_lap") or row.get("standing_start"))
        )

    good = [lap for lap in laps.values() if valid(lap)]
    return min(good or laps.values(), key=lambda lap: lap.time_s, default=None)
