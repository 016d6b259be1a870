"""The circuit as the pit wall draws it: an outline by lap distance, the lap length and the
sector starts.

A :class:`CircuitShape` never changes: when the pit wall learns more about a session's
circuit (see :mod:`dashboard.circuit_watch`) a new one replaces it, and each browser session
redraws the map and the distance axes only then, in the frame that carries it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from circuit import Track

# One outline point every ~20 m: the map repaints every frame, and a browser without a GPU
# pays for every vertex of every line each time.
OUTLINE_STEP_M = 20.0


@dataclass(frozen=True, eq=False)
class CircuitShape:
    """What the map and the distance axes show for one session."""

    name: str
    # Drawn from the cars' own positions and laps, not from a circuit file.
    learned: bool
    lap_length_m: float | None  # None: not known yet
    sector_starts_m: tuple[float, ...]  # (0, sector 2, sector 3), or () while not known
    # Outline points in lap-distance order; x and y are NaN between the pieces of an outline
    # still being learned, so the line is drawn with gaps there.
    distance_m: np.ndarray
    x: np.ndarray
    y: np.ndarray
    closed: bool  # the outline goes round the whole lap
    axis_m: float  # the end of the distance axes: the lap, or as far as cars have been seen

    @property
    def outline(self) -> tuple[np.ndarray, np.ndarray]:
        """The polyline to draw; a closed outline ends where it started."""
        if self.closed and self.x.size:
            return np.append(self.x, self.x[0]), np.append(self.y, self.y[0])
        return self.x, self.y

    def position(self, distance_m: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """x, y on the outline at lap distance(s): NaN where the outline is not known."""
        d = np.asarray(distance_m, dtype=float)
        if not self.distance_m.size:
            return np.full(d.shape, np.nan), np.full(d.shape, np.nan)
        if self.closed and self.lap_length_m:
            period = self.lap_length_m
            return (
                np.interp(d, self.distance_m, self.x, period=period),
                np.interp(d, self.distance_m, self.y, period=period),
            )
        return (
            np.interp(d, self.distance_m, self.x, left=np.nan, right=np.nan),
            np.interp(d, self.distance_m, self.y, left=np.nan, right=np.nan),
        )

    def bounds(self) -> tuple[float, float, float, float] | None:
        """(x min, x max, y min, y max) of the outline, None while it has no point."""
        if not np.isfinite(self.x).any():
            return None
        return (
            float(np.nanmin(self.x)),
            float(np.nanmax(self.x)),
            float(np.nanmin(self.y)),
            float(np.nanmax(self.y)),
        )


def shape_of_track(track: Track) -> CircuitShape:
    """A known circuit: its centre line, length and sectors."""
    every = max(1, round(OUTLINE_STEP_M / track.spacing_m))
    return CircuitShape(
        name=track.name,
        learned=False,
        lap_length_m=track.length_m,
        sector_starts_m=track.sector_starts_m,
        distance_m=track.s[::every].copy(),
        x=track.x[::every].copy(),
        y=track.y[::every].copy(),
        closed=True,
        axis_m=track.length_m,
    )
