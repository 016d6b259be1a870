"""Which circuit a session's records are on, and what they show of it.

The pit wall starts from the configured circuit (``F1_TRACK``, else the built-in
Silverstone; see :mod:`circuit.setting`). A session's records fit it until they show
otherwise:

* a lap length (how far the line moves in total distance from one lap to the next, see
  :mod:`circuit.lap_line`), or a lap distance, more than :data:`LENGTH_TOLERANCE` off the
  circuit's length;
* or positions more than :data:`OFF_OUTLINE_M` from the circuit's centre line at their lap
  distance, for most of the records and at least :data:`OFF_OUTLINE_MIN` of them (one odd
  record is not a different circuit).

From then on that session's circuit is what the stream itself shows: the outline from the
cars' own x/y (their mean position per :data:`LEARN_STEP_M` of lap distance, drawn closed
once a lap's worth is seen), the lap length from the line crossings, the sector starts where
the cars' ``sector`` channel steps up. A value the stream has not shown yet is not shown:
until then the map has a partial outline, the distance axes reach as far as the cars have
been, and there are no sector marks.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np

from circuit import Track
from circuit.lap_line import line_total_m
from dashboard.circuit_shape import CircuitShape, shape_of_track

log = logging.getLogger(__name__)

LENGTH_TOLERANCE = 0.02
OFF_OUTLINE_M = 50.0
OFF_OUTLINE_MIN = 20
LEARN_STEP_M = 10.0
# Share of a lap's steps seen before the learned outline is drawn as a closed loop (a gap of a
# step or two, where no sample fell, is bridged by a straight line).
COVERED_SHARE = 0.95
# A partial outline is redrawn when this many steps (or a tenth more) were added since.
REDRAW_STEPS = 20
# A learned lap length or sector start that moves less than this is not redrawn.
REDRAW_M = 2.0
UNKNOWN_NAME = "unknown circuit"

Record = Mapping[str, Any]


class CircuitWatch:
    """One session's circuit: the configured one while the records fit it, else learned."""

    def __init__(self, track: Track | None) -> None:
        self.track = track
        self.fits = track is not None
        self._on = 0
        self._off = 0
        if track is not None:
            # Plain lists: one lookup per record, where numpy scalar indexing costs more.
            self._tx = np.append(track.x, track.x[0]).tolist()
            self._ty = np.append(track.y, track.y[0]).tolist()
        # Lap-distance step -> [sum of lap distance, of x, of y, samples], from every record.
        self._steps: dict[int, list[float]] = {}
        self._furthest_m = 0.0
        self._lengths: deque[float] = deque(maxlen=50)  # lap lengths seen at the line
        self._sectors: dict[int, list[float]] = {}  # sector -> [sum of its starts, count]
        self._drawn_steps = 0
        self.shape = shape_of_track(track) if track is not None else self._learned()

    # --- records (the feed thread, under the model's lock) --------------------------------------

    def observe(self, prev: Record | None, record: Record) -> None:
        """One record of a car, with the car's previous record in this session (or None)."""
        d = float(record["lap_distance_m"])
        x = float(record["x_m"])
        y = float(record["y_m"])
        if d > self._furthest_m:
            self._furthest_m = d
        if d >= 0.0:  # a grid behind the line has not started a lap yet
            key = int(d / LEARN_STEP_M)
            step = self._steps.get(key)
            if step is None:
                self._steps[key] = [d, x, y, 1.0]
            else:
                step[0] += d
                step[1] += x
                step[2] += y
                step[3] += 1.0
        if self.fits:
            if self._off_outline(d, x, y):
                self._off += 1
            else:
                self._on += 1
        if prev is None:
            return
        lap, prev_lap = int(record["lap"]), int(prev["lap"])
        if lap > prev_lap:
            moved = line_total_m(record["total_distance_m"], d) - line_total_m(
                prev["total_distance_m"], prev["lap_distance_m"]
            )
            if moved > 0.0:
                self._lengths.append(moved / (lap - prev_lap))
        elif lap == prev_lap:
            sector = int(record["sector"])
            if sector >= 2 and sector == int(prev["sector"]) + 1:
                # Halfway between the last sample of one sector and the first of the next.
                start = self._sectors.setdefault(sector, [0.0, 0.0])
                start[0] += 0.5 * (float(prev["lap_distance_m"]) + d)
                start[1] += 1.0

    def _off_outline(self, d: float, x: float, y: float) -> bool:
        track = self.track
        assert track is not None
        u = (d % track.length_m) / track.spacing_m
        i = min(int(u), track.n_points - 1)
        f = u - i
        cx = self._tx[i] + f * (self._tx[i + 1] - self._tx[i])
        cy = self._ty[i] + f * (self._ty[i + 1] - self._ty[i])
        return (x - cx) ** 2 + (y - cy) ** 2 > OFF_OUTLINE_M**2

    # --- what to draw (once per batch of records) ----------------------------------------------

    def settle(self) -> None:
        """Judge the records so far; replace :attr:`shape` when the drawing should change."""
        if self.fits:
            if not self._misfit():
                return
            self.fits = False
            assert self.track is not None
            log.info(
                "the stream is not on %s (%.0f m): drawing its circuit from the cars' positions",
                self.track.name,
                self.track.length_m,
            )
            self.shape = self._learned()
            return
        length = self.lap_length_m()
        sectors = self.sector_starts_m(length)
        shape = self.shape
        steps = self._lap_steps(length)
        outline_grew = not shape.closed and (
            self._covered(steps, length)
            or len(steps) >= self._drawn_steps + max(REDRAW_STEPS, self._drawn_steps // 10)
        )
        sectors_moved = len(sectors) != len(shape.sector_starts_m) or any(
            _moved(a, b) for a, b in zip(sectors, shape.sector_starts_m, strict=False)
        )
        if outline_grew or sectors_moved or _moved(length, shape.lap_length_m):
            self.shape = self._learned()

    def _misfit(self) -> bool:
        assert self.track is not None
        expected = self.track.length_m
        if self._furthest_m > expected * (1.0 + LENGTH_TOLERANCE):
            return True
        seen = self.lap_length_m()
        if seen is not None and abs(seen - expected) > LENGTH_TOLERANCE * expected:
            return True
        return self._off >= OFF_OUTLINE_MIN and self._off > self._on

    def lap_length_m(self) -> float | None:
        """The lap length the stream shows (the median of its line crossings), None before a
        car was seen crossing the line."""
        return statistics.median(self._lengths) if self._lengths else None

    def sector_starts_m(self, lap_length_m: float | None) -> tuple[float, ...]:
        """(0, sector 2, sector 3) where the cars' sector channel steps up, () until both
        boundaries were seen (or when they make no sense for the lap)."""
        if 2 not in self._sectors or 3 not in self._sectors:
            return ()
        s2, s3 = (total / count for total, count in (self._sectors[2], self._sectors[3]))
        end = lap_length_m if lap_length_m is not None else math.inf
        return (0.0, s2, s3) if 0.0 < s2 < s3 < end else ()

    def _lap_steps(self, length: float | None) -> list[int]:
        steps = sorted(self._steps)
        if length is None:
            return steps
        last = math.ceil(length / LEARN_STEP_M)
        return [k for k in steps if k < last]

    @staticmethod
    def _covered(steps: list[int], length: float | None) -> bool:
        return length is not None and len(steps) >= COVERED_SHARE * math.ceil(length / LEARN_STEP_M)

    def _learned(self) -> CircuitShape:
        """The circuit as the records show it, with nothing they have not shown."""
        length = self.lap_length_m()
        steps = self._lap_steps(length)
        closed = self._covered(steps, length)
        index = np.asarray(steps, dtype=float)
        sums = np.asarray([self._steps[k] for k in steps], dtype=float).reshape(-1, 4)
        # Each point is the mean of its step's samples: position and lap distance alike.
        d, x, y = (sums[:, :3] / sums[:, 3:]).T
        if not closed and d.size > 1:
            # Gaps between the pieces seen so far: a NaN point breaks the line there.
            gaps = np.flatnonzero(np.diff(index) > 1) + 1
            d = np.insert(d, gaps, 0.5 * (d[gaps - 1] + d[gaps]))
            x = np.insert(x, gaps, np.nan)
            y = np.insert(y, gaps, np.nan)
        self._drawn_steps = len(steps)
        return CircuitShape(
            name=UNKNOWN_NAME,
            learned=True,
            lap_length_m=length,
            sector_starts_m=self.sector_starts_m(length),
            distance_m=d,
            x=x,
            y=y,
            closed=closed,
            axis_m=length if length is not None else max(self._furthest_m, LEARN_STEP_M),
        )


def _moved(a: float | None, b: float | None) -> bool:
    """True when a learned distance appeared, went, or moved by more than REDRAW_M."""
    if a is None or b is None:
        return (a is None) != (b is None)
    return abs(a - b) > REDRAW_M
