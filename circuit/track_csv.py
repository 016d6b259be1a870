"""Circuit files: a closed centre line in the TUMFTM racetrack-database CSV format.

The format (``x_m,y_m[,w_tr_right_m,w_tr_left_m]``, metres, in driving order, the first point
on the start/finish line) is described in ``circuit/README.md``.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from circuit.track import DEFAULT_SPACING_M, Track
from runtime.errors import ConfigError

logger = logging.getLogger(__name__)

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
