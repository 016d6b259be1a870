"""Cars racing each other: the tow, dirty air, following, DRS detection, the flag.

The effects of the car ahead, each within :data:`TRAFFIC_WINDOW_S` (about a second, as
widely reported; the strength of each is a model choice within those bounds, tuned so that
a faster car closes up and passes on a straight with DRS, and a car of the same pace stays
behind):

* **slipstream**: on a straight, up to :data:`SLIPSTREAM_DRAG_CUT` of the drag removed right
  behind the car ahead, fading to none at the edge of the window;
* **dirty air**: in a corner, up to :data:`DIRTY_AIR_GRIP_LOSS` of the cornering grip lost,
  fading the same way; the driver's target speed falls with it (a point-mass car is slower
  in a corner only if its driver aims slower);
* **following**: off the straights there is no room to pass, so a car does not come closer
  than :data:`FOLLOW_MIN_M` to the car ahead (and closes a larger distance at no more than
  its distance over :data:`FOLLOW_TIME_S`); on a straight it may pull alongside and past;
* **DRS** (race): from lap :data:`RACE_DRS_FROM_LAP`, and only in a zone whose detection point
  (:data:`DRS_DETECTION_BEFORE_M` before the zone) the car passed within the window of the
  car ahead. In practice DRS is free in the zones from lap 2 when the session enables it.

The gap is measured as a timing system does: the time between two cars passing the same
point, on a table of points every :data:`CELL_M` metres (see :mod:`producer.physics`).

From a race's records: :func:`classification` (the finishing order and gaps, lapped cars
``+1 LAP``) and :func:`pit_stops` (each stop, its time stationary and the compounds).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from circuit import Track
from circuit.lap_line import crossing_time
from producer.physics import RaceControl, Traffic

TRAFFIC_WINDOW_S = 1.0
SLIPSTREAM_DRAG_CUT = 0.25
DIRTY_AIR_GRIP_LOSS = 0.08
# A bend this tight (radius 150 m) or tighter costs the full dirty-air loss; gentler ones less.
DIRTY_AIR_FULL_CURVATURE = 1.0 / 150.0
FOLLOW_MIN_M = 6.0  # about a car length between the reference points
FOLLOW_TIME_S = 0.4
FOLLOW_RANGE_M = 60.0
CELL_M = 10.0
# A straight: the driving line's radius above 400 m over at least 150 m.
STRAIGHT_CURVATURE = 1.0 / 400.0
STRAIGHT_MIN_M = 150.0
DRS_DETECTION_BEFORE_M = 300.0
RACE_DRS_FROM_LAP = 3  # DRS is enabled two laps after the start
PRACTICE_DRS_FROM_LAP = 2


def traffic() -> Traffic:
    return Traffic(
        window_s=TRAFFIC_WINDOW_S,
        slipstream_cut=SLIPSTREAM_DRAG_CUT,
        dirty_air_loss=DIRTY_AIR_GRIP_LOSS,
        corner_k=DIRTY_AIR_FULL_CURVATURE,
        follow_min_m=FOLLOW_MIN_M,
        follow_time_s=FOLLOW_TIME_S,
        follow_range_m=FOLLOW_RANGE_M,
    )


def straight_mask(track: Track) -> np.ndarray:
    """True at the track samples that lie on a straight (see :data:`STRAIGHT_CURVATURE`)."""
    straight = np.abs(track.curvature) < STRAIGHT_CURVATURE
    if straight.all() or not straight.any():
        return straight
    # Runs shorter than STRAIGHT_MIN_M between bends (Becketts' kinks) are not straights.
    first_bend = int(np.argmin(straight))
    rolled = np.roll(straight, -first_bend)
    edges = np.diff(np.concatenate([[0], rolled.astype(np.int8), [0]]))
    out = np.zeros_like(rolled)
    min_samples = STRAIGHT_MIN_M / track.spacing_m
    for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        if b - a >= min_samples:
            out[a:b] = True
    return np.roll(out, first_bend)


def drs_detection_points(track: Track) -> list[float]:
    """Lap distance (m) of the detection point of each DRS zone."""
    return [(start - DRS_DETECTION_BEFORE_M) % track.length_m for start, _ in track.drs_zones_m]


def race_control(track: Track, *, race: bool, laps: int | None) -> RaceControl:
    """The compiled tick's session rules and shared tables, for a race or a practice with
    ``laps`` laps (None: no end)."""
    n_cells = max(math.ceil(track.length_m / CELL_M), 1)
    cell_m = track.length_m / n_cells  # the cells tile the lap exactly
    detect = np.zeros(n_cells, dtype=bool)
    for point in drs_detection_points(track):
        detect[int(point / cell_m) % n_cells] = True
    if laps is None:
        finish_lap = 0
    elif race:
        finish_lap = laps + 1  # the leader's crossing that completes lap `laps`
    else:
        finish_lap = laps + 2  # lap 1 started mid-lap: `laps` full laps after it
    return RaceControl(
        finish_lap=finish_lap,
        flag=race,
        drs_from_lap=RACE_DRS_FROM_LAP if race else PRACTICE_DRS_FROM_LAP,
        drs_detection=race,
        cell_m=cell_m,
        detect=detect,
        pass_time=np.full(n_cells, -math.inf),
        pass_car=np.full(n_cells, -1, dtype=np.int64),
        flag_time=np.array([math.inf]),
    )


@dataclass(frozen=True)
class Finisher:
    """One car's result: ``laps`` completed, the time it took the flag (s, interpolated at
    the line), its gap to the winner (s; None for a lapped car) and laps behind the winner."""

    position: int
    car_id: str
    laps: int
    time_s: float
    gap_s: float | None
    laps_down: int

    @property
    def gap_text(self) -> str:
        if self.position == 1:
            return "winner"
        if self.gap_s is None:
            return f"+{self.laps_down} LAP" + ("S" if self.laps_down > 1 else "")
        return f"+{self.gap_s:.3f} s"


def classification(batch: Mapping[str, np.ndarray]) -> list[Finisher]:
    """The finishing order of a race's records: laps completed, then the time of the
    finishing crossing (the order the cars took the chequered flag). Each car's last record
    is its first sample past the line; cars without a ``finished`` record are left out."""
    cars = np.asarray(batch["car_id"]).astype(str)
    status = np.asarray(batch["car_status"]).astype(str)
    rows: list[tuple[int, float, str]] = []
    for car in dict.fromkeys(cars.tolist()):
        idx = np.flatnonzero(cars == car)
        if len(idx) < 2 or status[idx[-1]] != "finished":
            continue
        before, after = idx[-2], idx[-1]
        crossed = crossing_time(
            float(batch["sim_time_s"][before]),
            float(batch["total_distance_m"][before]),
            float(batch["sim_time_s"][after]),
            float(batch["total_distance_m"][after]),
            float(batch["lap_distance_m"][after]),
        )
        rows.append((int(batch["lap"][after]) - 1, crossed, car))
    rows.sort(key=lambda r: (-r[0], r[1]))
    if not rows:
        return []
    lead_laps, lead_time = rows[0][0], rows[0][1]
    return [
        Finisher(
            position=k + 1,
            car_id=car,
            laps=laps,
            time_s=time_s,
            gap_s=time_s - lead_time if laps == lead_laps else None,
            laps_down=lead_laps - laps,
        )
        for k, (laps, time_s, car) in enumerate(rows)
    ]


@dataclass(frozen=True)
class PitStop:
    """One stop seen in the records: the car, the lap it ended in the pit lane (the in-lap),
    the time stationary in the box and the compounds before and after."""

    car_id: str
    in_lap: int
    stationary_s: float
    compound_before: str
    compound_after: str


def pit_stops(batch: Mapping[str, np.ndarray]) -> list[PitStop]:
    """Every pit stop in the records (tick-major or per car), in the order of the cars."""
    cars = np.asarray(batch["car_id"]).astype(str)
    status = np.asarray(batch["pit_status"]).astype(str)
    t = np.asarray(batch["sim_time_s"], dtype=float)
    out = []
    for car in dict.fromkeys(cars.tolist()):
        idx = np.flatnonzero(cars == car)
        idx = idx[np.argsort(t[idx], kind="stable")]
        stopped = status[idx] == "pit_stop"
        edges = np.diff(np.concatenate([[0], stopped.astype(np.int8), [0]]))
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
            if a == 0 or b >= len(idx):
                continue  # not seen whole
            dt = float(t[idx[a]] - t[idx[a - 1]])
            out.append(
                PitStop(
                    car_id=car,
                    in_lap=int(batch["lap"][idx[a]]) - 1,
                    stationary_s=float((b - a) * dt),
                    compound_before=str(batch["tyre_compound"][idx[a]]),
                    compound_after=str(batch["tyre_compound"][idx[b]]),
                )
            )
    return out


# Spacing of the track points at which traffic_laps compares the cars' passing times.
TRAFFIC_PROBE_M = 50.0


def traffic_laps(
    batch: Mapping[str, np.ndarray], length_m: float, window_s: float = TRAFFIC_WINDOW_S
) -> set[tuple[str, int]]:
    """The (car, lap) pairs driven in traffic: somewhere on the lap the car passed a track
    point less than ``window_s`` after another car did (the reach of the tow, dirty air and
    DRS). Measured the way timing does it, from each car's passing time at the same points
    (every :data:`TRAFFIC_PROBE_M` metres), so a lapped car in the way counts too."""
    cars = np.asarray(batch["car_id"]).astype(str)
    t = np.asarray(batch["sim_time_s"], dtype=float)
    total = np.asarray(batch["total_distance_m"], dtype=float)
    probes = np.arange(0.0, length_m, TRAFFIC_PROBE_M)
    names = list(dict.fromkeys(cars.tolist()))
    times, owners, points = [], [], []
    for n, car in enumerate(names):
        idx = np.flatnonzero(cars == car)
        idx = idx[np.argsort(t[idx], kind="stable")]
        d = total[idx]
        # Every probe of every lap the car drove past (lap k covers [(k - 1) L, k L)).
        laps = np.arange(max(int(d[0] // length_m), 0), int(d[-1] // length_m) + 1)
        grid = (laps[:, None] * length_m + probes).ravel()
        grid = grid[(grid >= d[0]) & (grid <= d[-1])]
        times.append(np.interp(grid, d, t[idx]))
        owners.append(np.full(len(grid), n))
        points.append(grid)
    if not times:
        return set()
    time, owner, point = np.concatenate(times), np.concatenate(owners), np.concatenate(points)
    probe = np.round((point % length_m) / TRAFFIC_PROBE_M).astype(np.int64)
    # Passes of one track point in time order: a pass close behind another car's.
    order = np.lexsort((time, probe))
    time, owner, point, probe = time[order], owner[order], point[order], probe[order]
    close = (np.diff(time) < window_s) & (np.diff(probe) == 0) & (np.diff(owner) != 0)
    behind = np.flatnonzero(close) + 1
    lap = (point[behind] // length_m).astype(np.int64) + 1
    return {(names[o], int(k)) for o, k in zip(owner[behind], lap, strict=True)}
