"""The circuit model: a closed centre line resampled at a fixed spacing, with its sectors,
DRS zones and corners.

A :class:`Track` is built from control points that lie on the centre line. They are joined
by a periodic cubic spline (chord-length parameterised) and resampled every ``spacing_m``
metres, so every lookup by lap distance is an index computation instead of a search.

Conventions:

* distance 0 is the start/finish line (the first control point) and distance grows in the
  driving direction (the order of the points);
* heading is measured from the +x axis, counter-clockwise, in radians;
* curvature is signed, positive when the road turns left (counter-clockwise), in 1/m;
* the *driving* curvature (:attr:`Track.curvature`) belongs to the line a car actually
  drives. When the track knows a racing line (a lateral offset from the centre line) it is
  the curvature of that line, otherwise the centre-line curvature smoothed over
  ``curvature_smoothing_m``. Either way it is indexed by centre-line distance, because lap
  distance, sectors and x/y are all measured on the centre line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from circuit.spline import PeriodicSpline, closed_curvature, gaussian_smooth_periodic
from runtime.errors import ConfigError

DEFAULT_SPACING_M = 2.0
DEFAULT_WIDTH_M = 12.0
# A centre line follows the middle of the tarmac; a car uses the width of the road. Without a
# racing line, smoothing the curvature over this length stands in for the straighter line.
DEFAULT_CURVATURE_SMOOTHING_M = 18.0
# Curvature below this (radius above 1 km) counts as straight when corners are detected.
_STRAIGHT_CURVATURE = 1.0e-3


@dataclass(frozen=True)
class Corner:
    """A named part of the lap, ``start_m`` <= distance < ``end_m`` (may wrap past 0).

    ``direction`` is ``"right"``, ``"left"`` or ``"straight"`` (named straights such as the
    Hangar Straight are listed with the corners so that a lap can be read as one sequence).
    """

    name: str
    start_m: float
    end_m: float
    direction: str

    def contains(self, distance_m: float) -> bool:
        if self.start_m <= self.end_m:
            return self.start_m <= distance_m < self.end_m
        return distance_m >= self.start_m or distance_m < self.end_m


class Track:
    """A closed circuit resampled every ``spacing_m`` metres along its centre line.

    Use :meth:`from_points` (control points on the centre line),
    :func:`circuit.track_csv.load_track_csv` (a TUMFTM racetrack-database file),
    :func:`circuit.silverstone.silverstone` or :func:`circuit.load` (whichever ``F1_TRACK`` names).

    Arrays (all of length ``n_points``, sample ``i`` at distance ``i * spacing_m``):
    ``s`` distance, ``x``/``y`` centre line, ``heading``, ``centre_curvature``,
    ``curvature`` (driving line, see the module docs), ``progress_ratio`` (centre-line
    metres advanced per metre driven on the driving line), ``width_right``/``width_left``,
    ``drs_mask`` (True inside a DRS zone).
    """

    def __init__(
        self,
        *,
        name: str,
        x: np.ndarray,
        y: np.ndarray,
        heading: np.ndarray,
        centre_curvature: np.ndarray,
        curvature: np.ndarray,
        progress_ratio: np.ndarray,
        width_right: np.ndarray,
        width_left: np.ndarray,
        length_m: float,
        sector_starts_m: Sequence[float] | None = None,
        corners: Sequence[Corner] = (),
        drs_zones_m: Sequence[tuple[float, float]] | None = None,
    ) -> None:
        n = len(x)
        if n < 16:
            raise ConfigError(f"track {name!r}: needs at least 16 resampled points, got {n}")
        self.name = name
        self.length_m = float(length_m)
        self.n_points = n
        self.spacing_m = self.length_m / n
        self.s = np.arange(n) * self.spacing_m
        self.x = x
        self.y = y
        self.heading = heading
        self.centre_curvature = centre_curvature
        self.curvature = curvature
        self.progress_ratio = progress_ratio
        self.width_right = width_right
        self.width_left = width_left
        if sector_starts_m is None:
            sector_starts_m = (0.0, self.length_m / 3.0, 2.0 * self.length_m / 3.0)
        starts = tuple(float(v) for v in sector_starts_m)
        if len(starts) != 3 or starts[0] != 0.0 or not starts[0] < starts[1] < starts[2]:
            raise ConfigError(f"track {name!r}: sector starts must be 0 < s2 < s3, got {starts}")
        if starts[2] >= self.length_m:
            raise ConfigError(f"track {name!r}: sector 3 starts beyond the lap ({starts[2]} m)")
        self.sector_starts_m = starts
        self.corners = tuple(corners) if corners else self._detect_corners()
        if drs_zones_m is None:
            drs_zones_m = self._detect_drs_zones()
        self.drs_zones_m = tuple((float(a), float(b)) for a, b in drs_zones_m)
        self.drs_mask = np.zeros(n, dtype=bool)
        for start, end in self.drs_zones_m:
            self.drs_mask |= self._range_mask(start, end)
        # Closed copies (first sample repeated at the end) make interpolation branch-free.
        self._xc = np.append(x, x[0])
        self._yc = np.append(y, y[0])
        self._kc = np.append(curvature, curvature[0])
        self._rc = np.append(progress_ratio, progress_ratio[0])

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_points(
        cls,
        x: Sequence[float] | np.ndarray,
        y: Sequence[float] | np.ndarray,
        *,
        name: str = "track",
        spacing_m: float = DEFAULT_SPACING_M,
        width_right_m: Sequence[float] | np.ndarray | None = None,
        width_left_m: Sequence[float] | np.ndarray | None = None,
        line_offset_m: Sequence[float] | np.ndarray | None = None,
        curvature_smoothing_m: float = DEFAULT_CURVATURE_SMOOTHING_M,
        line_smoothing_m: float = 4.0,
        sector_starts_m: Sequence[float] | None = None,
        corners: Sequence[Corner] = (),
        drs_zones_m: Sequence[tuple[float, float]] | None = None,
    ) -> Track:
        """Build a track from control points on the centre line, in driving order.

        The loop is closed automatically (do not repeat the first point). ``line_offset_m``
        is the racing line's lateral offset from the centre line at each control point
        (metres, positive to the left); without it the driving curvature is the centre-line
        curvature smoothed over ``curvature_smoothing_m`` (Gaussian sigma, metres).
        """
        px = np.asarray(x, dtype=float)
        py = np.asarray(y, dtype=float)
        if px.shape != py.shape or px.ndim != 1:
            raise ConfigError(f"track {name!r}: x and y must be 1-D arrays of the same length")
        if len(px) < 4:
            raise ConfigError(f"track {name!r}: needs at least 4 control points, got {len(px)}")
        if not (np.all(np.isfinite(px)) and np.all(np.isfinite(py))):
            raise ConfigError(f"track {name!r}: control points must be finite numbers")
        if spacing_m <= 0:
            raise ConfigError(f"track {name!r}: spacing must be positive, got {spacing_m}")
        n_ctrl = len(px)

        def column(values: Sequence[float] | np.ndarray | None, default: float) -> np.ndarray:
            if values is None:
                return np.full(n_ctrl, default)
            arr = np.asarray(values, dtype=float)
            if arr.shape != px.shape:
                raise ConfigError(f"track {name!r}: per-point columns must match x/y in length")
            return arr

        wr = column(width_right_m, DEFAULT_WIDTH_M / 2.0)
        wl = column(width_left_m, DEFAULT_WIDTH_M / 2.0)
        offset = column(line_offset_m, 0.0)

        chord = np.hypot(np.roll(px, -1) - px, np.roll(py, -1) - py)
        if np.any(chord <= 1e-6):
            raise ConfigError(f"track {name!r}: two consecutive control points coincide")
        knots = np.concatenate([[0.0], np.cumsum(chord)])
        spline = PeriodicSpline(knots, np.column_stack([px, py, wr, wl, offset]))

        # Arc length of the spline from a dense evaluation, then parameter values that are
        # evenly spaced in arc length.
        dense_t = np.linspace(0.0, knots[-1], max(8 * int(knots[-1] / spacing_m), 4 * n_ctrl))
        dense = spline(dense_t)
        dense_closed = np.vstack([dense[:, :2], dense[:1, :2]])
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(dense_closed, axis=0).T))])
        length = float(arc[-1])
        n = max(round(length / spacing_m), 16)
        t_even = np.interp(np.arange(n) * length / n, arc, np.append(dense_t, knots[-1]))
        val = spline(t_even)
        d1 = spline(t_even, 1)
        d2 = spline(t_even, 2)
        cx, cy = val[:, 0], val[:, 1]
        speed = np.hypot(d1[:, 0], d1[:, 1])
        heading = np.unwrap(np.arctan2(d1[:, 1], d1[:, 0]))
        centre_k = (d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]) / speed**3
        step = length / n

        if line_offset_m is not None:
            nx, ny = -d1[:, 1] / speed, d1[:, 0] / speed  # unit normal to the left
            rx = cx + val[:, 4] * nx
            ry = cy + val[:, 4] * ny
            drive_k = gaussian_smooth_periodic(closed_curvature(rx, ry), line_smoothing_m / step)
            driven = np.hypot(np.roll(rx, -1) - rx, np.roll(ry, -1) - ry)
            # The car reaches centre-line sample i+1 after driving `driven[i]` metres.
            ratio = gaussian_smooth_periodic(step / np.maximum(driven, 1e-6), 2.0)
            # driven[i] spans samples i..i+1; shift half a sample so the ratio is centred.
            ratio = 0.5 * (ratio + np.roll(ratio, 1))
        else:
            drive_k = gaussian_smooth_periodic(centre_k, curvature_smoothing_m / step)
            ratio = np.ones(n)

        return cls(
            name=name,
            x=cx,
            y=cy,
            heading=heading,
            centre_curvature=centre_k,
            curvature=drive_k,
            progress_ratio=ratio,
            width_right=val[:, 2],
            width_left=val[:, 3],
            length_m=length,
            sector_starts_m=sector_starts_m,
            corners=corners,
            drs_zones_m=drs_zones_m,
        )

    # ------------------------------------------------------------------ lookups
    def wrap(self, distance_m: np.ndarray | float) -> np.ndarray:
        """Distance folded into [0, length)."""
        return np.mod(np.asarray(distance_m, dtype=float), self.length_m)

    def _lerp(self, closed: np.ndarray, distance_m: np.ndarray | float) -> np.ndarray:
        u = self.wrap(distance_m) / self.spacing_m
        i = np.minimum(u.astype(np.intp), self.n_points - 1)
        f = u - i
        return closed[i] + f * (closed[i + 1] - closed[i])

    def position(self, distance_m: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Centre-line x, y (metres) at the given lap distance(s)."""
        return self._lerp(self._xc, distance_m), self._lerp(self._yc, distance_m)

    def curvature_at(self, distance_m: np.ndarray | float) -> np.ndarray:
        """Driving-line curvature (1/m, positive left) at the given lap distance(s)."""
        return self._lerp(self._kc, distance_m)

    def progress_ratio_at(self, distance_m: np.ndarray | float) -> np.ndarray:
        """Centre-line metres per metre driven, at the given lap distance(s)."""
        return self._lerp(self._rc, distance_m)

    def heading_at(self, distance_m: np.ndarray | float) -> np.ndarray:
        """Centre-line heading (radians from +x, counter-clockwise), wrapped to (-pi, pi]."""
        hx = np.cos(self.heading)
        hy = np.sin(self.heading)
        cx = self._lerp(np.append(hx, hx[0]), distance_m)
        cy = self._lerp(np.append(hy, hy[0]), distance_m)
        return np.arctan2(cy, cx)

    def sector_at(self, distance_m: np.ndarray | float) -> np.ndarray:
        """Sector number 1..3 at the given lap distance(s)."""
        d = self.wrap(distance_m)
        return (
            1
            + (d >= self.sector_starts_m[1]).astype(np.int64)
            + (d >= self.sector_starts_m[2]).astype(np.int64)
        )

    def drs_zone_at(self, distance_m: np.ndarray | float) -> np.ndarray:
        """True where the lap distance lies in a DRS zone."""
        u = self.wrap(distance_m) / self.spacing_m
        return self.drs_mask[np.minimum(u.astype(np.intp), self.n_points - 1)]

    def corner_at(self, distance_m: float) -> str | None:
        """Name of the corner (or named straight) at a lap distance, None between them."""
        d = float(self.wrap(distance_m))
        for corner in self.corners:
            if corner.contains(d):
                return corner.name
        return None

    def corner(self, name: str) -> Corner:
        for corner in self.corners:
            if corner.name == name:
                return corner
        raise KeyError(name)

    @property
    def is_clockwise(self) -> bool:
        """True when the lap is driven clockwise (negative signed area)."""
        area = 0.5 * float(np.sum(self.x * np.roll(self.y, -1) - np.roll(self.x, -1) * self.y))
        return area < 0.0

    # ------------------------------------------------------------------ internals
    def _range_mask(self, start_m: float, end_m: float) -> np.ndarray:
        if start_m <= end_m:
            return (self.s >= start_m) & (self.s < end_m)
        return (self.s >= start_m) | (self.s < end_m)

    def _straights(self) -> list[tuple[float, float]]:
        """(start, end) of the runs where the driving line is nearly straight, longest first."""
        straight = np.abs(self.curvature) < _STRAIGHT_CURVATURE
        if straight.all():
            return [(0.0, self.length_m)]
        # Rotate so that index 0 is inside a bend; runs then never wrap.
        first_bend = int(np.argmin(straight))
        rolled = np.roll(straight, -first_bend)
        edges = np.diff(np.concatenate([[0], rolled.astype(np.int8), [0]]))
        starts = np.flatnonzero(edges == 1)
        ends = np.flatnonzero(edges == -1)
        runs = [
            (((a + first_bend) % self.n_points) * self.spacing_m, (b - a) * self.spacing_m)
            for a, b in zip(starts, ends, strict=True)
        ]
        runs.sort(key=lambda r: -r[1])
        return [(start, (start + length) % self.length_m) for start, length in runs]

    def _detect_drs_zones(self) -> list[tuple[float, float]]:
        """Default DRS zones: the later part of the two longest straights."""
        zones = []
        for start, end in self._straights()[:2]:
            length = (end - start) % self.length_m
            if length < 300.0:
                continue
            zones.append(((start + 0.25 * length) % self.length_m, end))
        return zones

    def _detect_corners(self) -> tuple[Corner, ...]:
        """Corners T1, T2, ... from runs of same-sign driving curvature (radius < 250 m)."""
        k = self.curvature
        bend = np.where(np.abs(k) > 4.0e-3, np.sign(k), 0.0)
        if not bend.any():
            return ()
        first_straight = int(np.argmin(np.abs(bend))) if (bend == 0).any() else 0
        rolled = np.roll(bend, -first_straight)
        corners: list[Corner] = []
        i = 0
        n = self.n_points
        while i < n:
            if rolled[i] == 0:
                i += 1
                continue
            j = i
            while j < n and rolled[j] == rolled[i]:
                j += 1
            if (j - i) * self.spacing_m >= 10.0:
                start = ((i + first_straight) % n) * self.spacing_m
                end = ((j + first_straight) % n) * self.spacing_m
                direction = "left" if rolled[i] > 0 else "right"
                corners.append(Corner(f"T{len(corners) + 1}", start, end, direction))
            i = j
        corners.sort(key=lambda c: c.start_m)
        return tuple(
            Corner(f"T{idx + 1}", c.start_m, c.end_m, c.direction) for idx, c in enumerate(corners)
        )
