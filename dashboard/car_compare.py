"""Car against car: two cars' current laps over lap distance and the time delta between them,
as increments for one browser session (no Panel, no Bokeh).

Car A is the car the session shows; car B is the one picked to compare with, by default the
car one place ahead in the timing tower (the one behind, for the leader). In a race the two
are compared on the same lap: when one car has already started a lap the other has not, it
shows its completed lap of the other's number (while the feed remembers it), so a battle is
seen over the lap both are driving. In other sessions each car's current lap.

The delta at a lap distance is car A's lap time there minus car B's (+ = A slower on this
lap so far), on the traces' common distance grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from dashboard.model import CarState, GridModel
from dashboard.timing import Tower
from dashboard.traces import DistanceTrace

SIDES = ("a", "b")


def _rounded(values: np.ndarray, decimals: int) -> list[float | None]:
    return [None if not math.isfinite(v) else v for v in np.round(values, decimals).tolist()]


@dataclass
class CompareFrame:
    """What changed in the comparison; ``title`` set when the pair or the laps changed."""

    title: str | None = None
    reset: dict[str, bool] | None = None  # side -> replace (not extend) its trace
    traces: dict[str, dict[str, list[Any]]] | None = None  # side -> new points
    delta_reset: bool = False
    delta: dict[str, list[Any]] | None = None

    @property
    def empty(self) -> bool:
        return (
            self.title is None
            and not self.reset
            and not self.traces
            and not (self.delta_reset or self.delta)
        )


def lap_trace(car: CarState, lap: int) -> DistanceTrace | None:
    """The car's trace of ``lap``: its current lap, or a completed one the feed remembers."""
    if car.lap == lap:
        return car.trace
    done = car.completed_lap(lap)
    return done.trace if done is not None else None


def pair_laps(a: CarState, b: CarState, race: bool) -> tuple[int, int]:
    """The laps compared: in a race the lap of whichever car is further behind, for both."""
    if race:
        lap = min(a.lap, b.lap)
        return lap, lap
    return a.lap, b.lap


def trace_columns(trace: DistanceTrace, lo: int) -> dict[str, list[Any]]:
    w = trace.window(lo)
    return {
        "distance_m": _rounded(w["distance_m"], 0),
        "speed_kmh": _rounded(w["speed_kmh"], 1),
        "throttle": _rounded(w["throttle"] * 100, 0),
        "brake": _rounded(w["brake"] * 100, 0),
    }


def delta_columns(a: DistanceTrace, b: DistanceTrace, lo: int, hi: int) -> dict[str, list[Any]]:
    """A's lap time minus B's at the grid points ``lo .. hi`` (both traces filled there)."""
    if hi <= lo or a.step_m != b.step_m:
        return {"distance_m": [], "delta": []}
    delta = a.values["t_s"][lo:hi] - b.values["t_s"][lo:hi]
    return {
        "distance_m": _rounded(a.distance[lo:hi], 0),
        "delta": _rounded(delta, 3),
    }


class CompareReader:
    """One session's comparison: what it has been sent, and the increments since."""

    def __init__(self) -> None:
        self.pick: str | None = None  # car B as picked; None: the car ahead
        self._key: tuple[Any, ...] | None = None
        self._traces: dict[str, DistanceTrace | None] = {"a": None, "b": None}
        self._ends: dict[str, int] = {"a": 0, "b": 0}
        self._delta_end = 0

    def choose(self, car_id: str | None) -> None:
        if car_id != self.pick:
            self.pick = car_id
            self._key = None

    def partner(self, selected: str | None, tower: Tower | None, cars: set[str]) -> str | None:
        if self.pick and self.pick != selected and self.pick in cars:
            return self.pick
        if tower is None or selected is None:
            return None
        ahead = tower.car_ahead(selected)
        return ahead if ahead in cars else None

    def next(
        self, model: GridModel, selected: str | None, tower: Tower | None, cars: set[str]
    ) -> CompareFrame:
        frame = CompareFrame()
        a = model.cars.get(selected) if selected else None
        b_id = self.partner(selected, tower, cars)
        b = model.cars.get(b_id) if b_id else None
        if a is None or b is None or b.session_id != a.session_id or not (a.latest and b.latest):
            if self._key != ():
                self._key = ()
                self._traces = {"a": None, "b": None}
                frame.title = "Car vs car: no second car to compare with yet"
                frame.reset = {"a": True, "b": True}
                frame.delta_reset = True
            return frame
        race = tower.race if tower is not None else False
        lap_a, lap_b = pair_laps(a, b, race)
        key = (a.car_id, b.car_id, lap_a, lap_b)
        traces = {"a": lap_trace(a, lap_a), "b": lap_trace(b, lap_b)}
        if key != self._key:
            self._key = key
            self._traces = {"a": None, "b": None}
            laps = f"lap {lap_a}" if lap_a == lap_b else f"laps {lap_a} and {lap_b}"
            frame.title = f"{a.driver} (A) vs {b.driver} (B), {laps}"
        frame.reset, frame.traces = {}, {}
        for side in SIDES:
            trace = traces[side]
            lo = self._ends[side]
            if trace is not self._traces[side]:
                self._traces[side] = trace
                frame.reset[side] = True
                frame.delta_reset = True
                lo = 0
            if trace is None:
                self._ends[side] = 0
                continue
            self._ends[side] = max(trace.end, trace.start)
            if lo < trace.end or frame.reset.get(side):
                frame.traces[side] = trace_columns(trace, lo)
        ta, tb = traces["a"], traces["b"]
        if ta is None or tb is None:
            if frame.delta_reset:
                frame.delta = {"distance_m": [], "delta": []}
            return frame
        lo = max(ta.start, tb.start)
        hi = min(ta.end, tb.end)
        start = lo if frame.delta_reset else max(lo, self._delta_end)
        if hi > start or frame.delta_reset:
            frame.delta = delta_columns(ta, tb, start, hi)
        self._delta_end = max(hi, start)
        return frame
