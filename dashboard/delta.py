"""Time delta to the reference lap, aligned by distance.

At each grid distance ``d`` the delta is ``t_current(d) - t_reference(d)``: how much later the
car reaches that point of the lap than it did on its reference lap. Positive means losing
time (slower), negative gaining, the sign convention of the usual pit-wall delta bar.
"""

from __future__ import annotations

import math

import numpy as np

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
