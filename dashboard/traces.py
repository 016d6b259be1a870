"""Lap traces on a fixed distance grid: the decimation and the distance alignment.

Race engineers compare laps by distance, not time, so every lap is resampled onto the same
grid (one point every ``step_m`` metres of lap distance). Each grid point gets the values
linearly interpolated between the two samples around it, so two laps are aligned point for
point and a browser receives one point per ``step_m`` metres (about 8 points per second at
racing speed) instead of 100 samples per second.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

# What a trace keeps per grid point; ``t_s`` is the time since the lap started.
TRACE_FIELDS: tuple[str, ...] = ("t_s", "speed_kmh", "throttle", "brake")
# A first sample this close to a grid point stands for it: a car that starts from rest on the
# line first reports a fraction of a millimetre past it, and its lap is still whole from 0.
SAME_POINT_M = 0.01


def grid_size(lap_length_m: float, step_m: float) -> int:
    """Number of grid points ``0, step, 2 step, ...`` up to and including the lap length."""
    if step_m <= 0 or lap_length_m <= 0:
        raise ValueError("lap length and step must be positive")
    return math.floor(lap_length_m / step_m + 1e-9) + 1


class DistanceTrace:
    """One lap of one car, resampled onto the distance grid as samples arrive.

    Samples come in distance order; each call to :meth:`add` fills the grid points between
    the previous sample and this one. ``start`` is the first filled index (above 0 when the
    lap was joined late), ``end`` one past the last filled index, so ``[start, end)`` is
    always filled and contiguous. The grid is sized for ``lap_length_m`` and grows when the
    lap turns out longer: the pit wall may not know the circuit's length (one it learns from
    the stream), and a lap is never cut short for that.
    """

    def __init__(
        self, lap_length_m: float, step_m: float, fields: Sequence[str] = TRACE_FIELDS
    ) -> None:
        self.step_m = float(step_m)
        self.size = grid_size(lap_length_m, step_m)
        self.distance = np.arange(self.size) * self.step_m
        self.fields = tuple(fields)
        self.values: dict[str, np.ndarray] = {f: np.full(self.size, np.nan) for f in self.fields}
        self.start = 0
        self.end = 0
        self._prev_d: float | None = None
        self._prev: tuple[float, ...] = ()

    @property
    def empty(self) -> bool:
        return self.end <= self.start

    @property
    def complete_from_start(self) -> bool:
        """True when the lap was seen from distance 0 (a whole lap once it has ended)."""
        return self.start == 0 and not self.empty

    def add(self, distance_m: float, sample: Mapping[str, float]) -> int:
        """Feed one sample; the number of grid points it filled."""
        values = tuple(float(sample[f]) for f in self.fields)
        d = float(distance_m)
        if d + 1e-9 >= self.distance[-1] + self.step_m:
            self._grow(d)
        if self._prev_d is None:
            first = max(0, math.ceil((d - SAME_POINT_M) / self.step_m))
            self.start = self.end = min(first, self.size)
            self._prev_d, self._prev = d, values
            if self.end < self.size and abs(self.distance[self.end] - d) <= SAME_POINT_M:
                self._store(self.end, values)
                self.end += 1
            return self.end - self.start
        if d < self._prev_d:
            # Sensor noise around a standstill can step back a few cm: keep the furthest point.
            return 0
        filled = 0
        d0, v0 = self._prev_d, self._prev
        span = d - d0
        while self.end < self.size and self.distance[self.end] <= d + 1e-9:
            g = self.distance[self.end]
            w = 1.0 if span <= 0 else (g - d0) / span
            self._store(self.end, tuple(a + (b - a) * w for a, b in zip(v0, values, strict=True)))
            self.end += 1
            filled += 1
        self._prev_d, self._prev = d, values
        return filled

    def finish(self) -> None:
        """The lap is over: its grid ends at the last filled point (the line)."""
        self.size = max(self.end, 1)
        self.distance = self.distance[: self.size]
        self.values = {name: arr[: self.size] for name, arr in self.values.items()}

    def _grow(self, distance_m: float) -> None:
        """Room for the grid points up to ``distance_m`` (at least twice the size, so a long
        lap costs a few copies, not one per sample)."""
        size = max(grid_size(distance_m, self.step_m), 2 * self.size)
        extra = size - self.size
        self.values = {
            name: np.concatenate([arr, np.full(extra, np.nan)]) for name, arr in self.values.items()
        }
        self.distance = np.arange(size) * self.step_m
        self.size = size

    def _store(self, index: int, values: tuple[float, ...]) -> None:
        for name, value in zip(self.fields, values, strict=True):
            self.values[name][index] = value

    def window(self, lo: int, hi: int | None = None) -> dict[str, np.ndarray]:
        """Copies of the filled points with index in ``[lo, hi)``, plus ``distance_m``."""
        lo = max(lo, self.start)
        hi = self.end if hi is None else min(hi, self.end)
        hi = max(hi, lo)
        out = {name: arr[lo:hi].copy() for name, arr in self.values.items()}
        out["distance_m"] = self.distance[lo:hi].copy()
        return out

    def value_at(self, name: str, distance_m: float) -> float:
        """``name`` at ``distance_m`` interpolated on the grid; NaN outside the filled part."""
        if self.empty:
            return math.nan
        d = self.distance[self.start : self.end]
        v = self.values[name][self.start : self.end]
        if distance_m < d[0] or distance_m > d[-1]:
            return math.nan
        return float(np.interp(distance_m, d, v))


def resample(
    distance_m: np.ndarray, values: np.ndarray, lap_length_m: float, step_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """A stored lap (any sample rate) on the same distance grid as live traces: the grid points
    inside the lap's distance range and the interpolated values there."""
    d = np.asarray(distance_m, dtype=float)
    v = np.asarray(values, dtype=float)
    if d.size == 0:
        return np.empty(0), np.empty(0)
    order = np.argsort(d, kind="stable")
    d, v = d[order], v[order]
    grid = np.arange(grid_size(lap_length_m, step_m)) * step_m
    inside = (grid >= d[0] - 1e-9) & (grid <= d[-1] + 1e-9)
    return grid[inside], np.interp(grid[inside], d, v)


def every_nth(seq_numbers: np.ndarray, n: int) -> np.ndarray:
    """Mask of the samples whose sequence number is a multiple of ``n``: a decimation that
    keeps the same samples whichever frame boundaries they arrive in."""
    return (np.asarray(seq_numbers) % max(1, n)) == 0
