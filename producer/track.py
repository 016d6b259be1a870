"""Circuit geometry: a closed centre line resampled at a fixed spacing.

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

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runtime.errors import ConfigError

logger = logging.getLogger(__name__)

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


def _periodic_spline_second_derivatives(t: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Second derivatives of a periodic cubic spline through ``values`` (shape (n, k)) at knots
    ``t`` (shape (n + 1,), the last knot closing the loop).

    Solves the cyclic tridiagonal system with the Thomas algorithm plus a Sherman-Morrison
    correction, so long files (thousands of points) stay linear in time and memory.
    """
    n = values.shape[0]
    h = np.diff(t)  # h[i] = t[i+1] - t[i], length n
    y_next = np.roll(values, -1, axis=0)
    slope = (y_next - values) / h[:, None]
    rhs = 6.0 * (slope - np.roll(slope, 1, axis=0))  # row i uses slope[i] - slope[i-1]
    lower = np.roll(h, 1)  # coefficient of M[i-1]
    upper = h.copy()  # coefficient of M[i+1]
    diag = 2.0 * (lower + upper)
    # Sherman-Morrison: A = B + u v^T with the corner elements moved into u v^T.
    gamma = -diag[0]
    b = diag.copy()
    b[0] -= gamma
    b[-1] -= upper[-1] * lower[0] / gamma
    u = np.zeros(n)
    u[0] = gamma
    u[-1] = upper[-1]
    v_first, v_last = 1.0, lower[0] / gamma

    def thomas(d: np.ndarray) -> np.ndarray:
        cp = np.zeros(n)
        dp = np.zeros_like(d)
        cp[0] = upper[0] / b[0]
        dp[0] = d[0] / b[0]
        for i in range(1, n):
            m = b[i] - lower[i] * cp[i - 1]
            cp[i] = upper[i] / m if i < n - 1 else 0.0
            dp[i] = (d[i] - lower[i] * dp[i - 1]) / m
        x = np.zeros_like(d)
        x[-1] = dp[-1]
        for i in range(n - 2, -1, -1):
            x[i] = dp[i] - cp[i] * x[i + 1]
        return x

    y = thomas(rhs)
    z = thomas(u[:, None])[:, 0]
    factor = (v_first * y[0] + v_last * y[-1]) / (1.0 + v_first * z[0] + v_last * z[-1])
    return y - z[:, None] * factor[None, :]


class _PeriodicSpline:
    """A closed cubic spline through control points (n, k), evaluated with derivatives."""

    def __init__(self, t: np.ndarray, values: np.ndarray) -> None:
        self.t = t
        self.values = values
        self.m = _periodic_spline_second_derivatives(t, values)
        self.period = float(t[-1])

    def __call__(self, tq: np.ndarray, derivative: int = 0) -> np.ndarray:
        tq = np.mod(tq, self.period)
        i = np.clip(np.searchsorted(self.t, tq, side="right") - 1, 0, len(self.values) - 1)
        j = (i + 1) % len(self.values)
        h = self.t[i + 1] - self.t[i]
        a = ((self.t[i + 1] - tq) / h)[:, None]
        b = ((tq - self.t[i]) / h)[:, None]
        y0, y1 = self.values[i], self.values[j]
        m0, m1 = self.m[i], self.m[j]
        hh = h[:, None]
        if derivative == 0:
            return a * y0 + b * y1 + ((a**3 - a) * m0 + (b**3 - b) * m1) * hh**2 / 6.0
        if derivative == 1:
            return (y1 - y0) / hh + ((1.0 - 3.0 * a**2) * m0 + (3.0 * b**2 - 1.0) * m1) * hh / 6.0
        return a * m0 + b * m1


def gaussian_smooth_periodic(values: np.ndarray, sigma_samples: float) -> np.ndarray:
    """Gaussian smoothing of a closed-loop signal (wraps around the end)."""
    if sigma_samples <= 0.0:
        return values.copy()
    n = len(values)
    radius = min(math.ceil(4.0 * sigma_samples), n // 2)
    offsets = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * (offsets / sigma_samples) ** 2)
    weights /= weights.sum()
    padded = np.concatenate([values[-radius:], values, values[:radius]]) if radius else values
    return np.convolve(padded, weights, mode="valid")


def _closed_curvature(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Signed curvature of a closed, evenly spaced polyline by central differences."""
    xp = 0.5 * (np.roll(x, -1) - np.roll(x, 1))
    yp = 0.5 * (np.roll(y, -1) - np.roll(y, 1))
    xpp = np.roll(x, -1) - 2.0 * x + np.roll(x, 1)
    ypp = np.roll(y, -1) - 2.0 * y + np.roll(y, 1)
    return (xp * ypp - yp * xpp) / np.maximum(xp**2 + yp**2, 1e-12) ** 1.5


class Track:
    """A closed circuit resampled every ``spacing_m`` metres along its centre line.

    Use :meth:`from_points` (control points on the centre line), :func:`load_track_csv`
    (a TUMFTM racetrack-database file) or :func:`producer.silverstone.silverstone`.

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
        spline = _PeriodicSpline(knots, np.column_stack([px, py, wr, wl, offset]))

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
            drive_k = gaussian_smooth_periodic(_closed_curvature(rx, ry), line_smoothing_m / step)
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


# ---------------------------------------------------------------------- CSV loader
_REQUIRED = ("x_m", "y_m")
_OPTIONAL = ("w_tr_right_m", "w_tr_left_m")


def load_track_csv(
    path: str | Path,
    *,
    spacing_m: float = DEFAULT_SPACING_M,
    name: str | None = None,
) -> Track:
    """Load a closed centre line in the TUMFTM racetrack-database CSV format.

    Columns ``x_m, y_m`` and optionally ``w_tr_right_m, w_tr_left_m`` (track width to the
    right and left of the centre line). The header line may start with ``#``; other lines
    starting with ``#`` are comments. Without a header the columns are taken in that order.
    Any problem raises :class:`~runtime.errors.ConfigError` naming the file, line and reason.
    """
    path = Path(path)
    label = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{label}: track file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{label}: cannot read track file ({exc})") from exc

    columns: list[str] | None = None
    rows: list[list[float]] = []
    row_lines: list[int] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        cells = [c.strip() for c in line.lstrip("#").strip().split(",")]
        is_comment = line.startswith("#")
        # A commented line is the header only if it names the columns; otherwise a comment.
        if columns is None and not rows and _looks_like_header(cells):
            if is_comment and "x_m" not in cells:
                continue
            columns = cells
            missing = [c for c in _REQUIRED if c not in columns]
            if missing:
                raise ConfigError(f"{label}:{lineno}: header lacks column(s) {', '.join(missing)}")
            continue
        if is_comment:
            continue
        if columns is None:
            columns = list(_REQUIRED + _OPTIONAL)[: len(cells)]
            if len(cells) not in (2, 4):
                raise ConfigError(
                    f"{label}:{lineno}: expected 2 or 4 columns (x_m, y_m[, w_tr_right_m, "
                    f"w_tr_left_m]) without a header, got {len(cells)}"
                )
        if len(cells) != len(columns):
            raise ConfigError(f"{label}:{lineno}: expected {len(columns)} values, got {len(cells)}")
        try:
            values = [float(c) for c in cells]
        except ValueError as exc:
            raise ConfigError(f"{label}:{lineno}: not a number ({exc})") from exc
        if not all(math.isfinite(v) for v in values):
            raise ConfigError(f"{label}:{lineno}: values must be finite")
        rows.append(values)
        row_lines.append(lineno)

    if len(rows) < 4:
        raise ConfigError(f"{label}: needs at least 4 points, found {len(rows)}")
    assert columns is not None
    data = np.asarray(rows)
    col = {c: i for i, c in enumerate(columns)}
    x = data[:, col["x_m"]]
    y = data[:, col["y_m"]]
    # Many files repeat the first point at the end to close the loop; the spline closes it.
    if math.hypot(x[-1] - x[0], y[-1] - y[0]) < 1e-6:
        x, y, data, row_lines = x[:-1], y[:-1], data[:-1], row_lines[:-1]
    gaps = np.hypot(np.diff(x), np.diff(y))
    bad = np.flatnonzero(gaps < 1e-6)
    if bad.size:
        raise ConfigError(f"{label}:{row_lines[bad[0] + 1]}: point repeats the previous point")
    widths: dict[str, np.ndarray | None] = {"w_tr_right_m": None, "w_tr_left_m": None}
    for key in widths:
        if key in col:
            w = data[:, col[key]]
            neg = np.flatnonzero(w <= 0)
            if neg.size:
                raise ConfigError(f"{label}:{row_lines[neg[0]]}: {key} must be positive")
            widths[key] = w
    try:
        track = Track.from_points(
            x,
            y,
            name=name or path.stem,
            spacing_m=spacing_m,
            width_right_m=widths["w_tr_right_m"],
            width_left_m=widths["w_tr_left_m"],
        )
    except ConfigError as exc:
        raise ConfigError(f"{label}: {exc}") from exc
    logger.info("loaded track %s: %d points, %.1f m", track.name, len(x), track.length_m)
    return track


def _looks_like_header(cells: list[str]) -> bool:
    try:
        [float(c) for c in cells]
    except ValueError:
        return True
    return False
