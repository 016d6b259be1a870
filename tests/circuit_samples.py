"""A small circuit that is not Silverstone, for tests: an oval of two straights joined by two
half circles, driven counter-clockwise, the start/finish line in the middle of the bottom
straight. It lies far from Silverstone's coordinates, so no record of one fits the other."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

STRAIGHT_M = 400.0
RADIUS_M = 80.0
CENTRE = (3000.0, -2000.0)
# The centre line's length; a spline through the points rounds the joins a little.
LENGTH_M = 2 * STRAIGHT_M + 2 * math.pi * RADIUS_M


def oval_points(spacing_m: float = 10.0) -> np.ndarray:
    """(n, 2) centre-line points about ``spacing_m`` apart, in driving order."""
    return oval_at(np.arange(0.0, LENGTH_M, spacing_m))


def oval_at(distance_m: np.ndarray) -> np.ndarray:
    """(n, 2) points of the centre line at these distances from the line (any real number:
    taken modulo the lap)."""
    cx, cy = CENTRE
    half = STRAIGHT_M / 2
    arc = math.pi * RADIUS_M
    legs = [
        half,  # start line to the end of the bottom straight
        half + arc,  # the east half circle, up
        half + arc + STRAIGHT_M,  # top straight, driving -x
        half + 2 * arc + STRAIGHT_M,  # the west half circle, down
    ]
    points = []
    for d in np.mod(np.asarray(distance_m, dtype=float), LENGTH_M).tolist():
        if d < legs[0]:
            points.append((cx + d, cy - RADIUS_M))
        elif d < legs[1]:
            a = -math.pi / 2 + (d - legs[0]) / RADIUS_M
            points.append((cx + half + RADIUS_M * math.cos(a), cy + RADIUS_M * math.sin(a)))
        elif d < legs[2]:
            points.append((cx + half - (d - legs[1]), cy + RADIUS_M))
        elif d < legs[3]:
            a = math.pi / 2 + (d - legs[2]) / RADIUS_M
            points.append((cx - half + RADIUS_M * math.cos(a), cy + RADIUS_M * math.sin(a)))
        else:
            points.append((cx - half + (d - legs[3]), cy - RADIUS_M))
    return np.asarray(points).reshape(-1, 2)


def write_oval_csv(path: Path) -> Path:
    """The oval as a circuit file in the TUMFTM format, 6 m of road either side."""
    lines = ["# x_m,y_m,w_tr_right_m,w_tr_left_m"]
    lines += [f"{x:.3f},{y:.3f},6.0,6.0" for x, y in oval_points()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
