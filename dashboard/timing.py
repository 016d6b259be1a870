"""The timing tower: position, gap, interval, laps, sectors, tyres, pit stops and status of
every car of a session, computed from the telemetry records alone.

No Panel, Bokeh or Kafka here: the feed thread calls :meth:`TimingBook.observe` once per
record (under the model's lock), the browser sessions and ``GET /timing`` read
:meth:`TimingBook.tower`, and the unit tests feed plain records.

The definitions (``shared/design.md``, "Races and timing"):

* **Position.** A race (``session_kind`` ``race``, or ``unknown`` with cars seen on a grid
  behind the line): laps completed (the record's ``lap`` minus one), then distance into the
  current lap; after the flag a finished car is placed by its laps and the time of its
  finishing crossing, so the classification is the order of the finishing crossings, cars a
  lap down behind those on the lead lap. Cars that retired (``car_status`` ``retired``, or no
  record for :data:`SILENT_AFTER_S` of event time while the others still send) go to the
  bottom. Any other session: best lap, cars without one after, by car id.
* **Gap and interval** in a race are time differences at the same track point: each car keeps
  the time at which it passed every :data:`STEP_M` metres of total distance (the line at the
  start of lap 1 is 0 for every car, the grid negative), and the gap of a car is the time of
  its latest sample minus the time at which the leader (for the interval: the car ahead)
  passed the same total distance. A car the leader has lapped shows ``+1 LAP`` (laps down =
  the number of times the car ahead has gone a whole lap further). Finished cars: the
  difference of the finishing crossings. In other sessions both are differences of best laps.
* **Catching**: the interval to the car ahead is at least :data:`CATCHING_S` smaller than it
  was at the same point one lap earlier.
* **Laps and sectors**: a lap is timed between two line crossings (``circuit/lap_line.py``),
  lap 1 of a race from lights out; a sector boundary is halfway between the last sample of
  one sector and the first of the next (as the analytics job times it), sector 3 ends at the
  line. A time needs both of its ends seen, so a lap or sector the pit wall joined in the
  middle of has none. Sector colours are against the bests of now: purple = the session's
  best of that sector, green = the driver's personal best, yellow = neither.
* **In-lap, out-lap, standing start**: the lap that ends in the pit lane, the one that starts
  there (``pit_status`` at the crossing), lap 1 of a race: none of them is a delta
  reference while the car has another complete lap.
* Where the stream lacks something (telemetry v1, which has no session kind, tyres or pit
  stops; a source without the sector channel) the value is None and the screen shows a dash.

Per record the work is a few comparisons and, every :data:`STEP_M` metres, one interpolated
time: constant per record, whatever the session's length.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from circuit.lap_line import crossing_time, is_standing_start, line_total_m, standing_start_us

Record = Mapping[str, Any]

STEP_M = 5.0
# Crossing times kept per car: 16,384 points of 5 m, 82 km (14 laps of Silverstone); a gap
# only ever looks back one lap behind the car ahead (lapped cars show laps, not seconds), and
# the catching marker one lap more.
CAPACITY = 16_384
# No record of a car for this long (event time) while others of its session still send:
# it has stopped sending, so it is out of the race.
SILENT_AFTER_S = 5.0
# Slower than this for this long, outside the pit lane: stopped on track.
STOPPED_KMH = 2.0
STOPPED_AFTER_S = 3.0
CATCHING_S = 0.2
# Sessions whose timing is kept (the newest ones).
KEEP_SESSIONS = 8

PURPLE, GREEN, YELLOW, NONE = "purple", "green", "yellow", "none"
ON_TRACK, PIT_LANE, STOPPED, FINISHED = "on_track", "pit_lane", "stopped", "finished"
UNKNOWN = "unknown"
DASH = "\u2014"


class CrossingTrace:
    """The times at which one car passed each grid point of total distance.

    Grid point ``k`` is ``k * step_m`` metres of total distance; the newest ``capacity`` points
    are kept in a ring. A time is interpolated between the two samples around the point (the
    same rule as the line crossing). A car standing still keeps its distance: the time of the
    next point is interpolated from the last sample before it moved on.
    """

    def __init__(self, step_m: float = STEP_M, capacity: int = CAPACITY) -> None:
        self.step_m = step_m
        self.capacity = capacity
        self._t = np.full(capacity, np.nan)
        self.first = 0  # first grid index ever filled
        self.end = 0  # one past the last filled index
        self.started = False
        self.last_d = math.nan  # the furthest sample so far, and its time
        self.last_t = math.nan

    def add(self, distance_m: float, t: float) -> None:
        d = float(distance_m)
        if not self.started:
            self.started = True
            k = math.ceil(d / self.step_m - 1e-9)
            self.first = self.end = k
            if abs(k * self.step_m - d) < 1e-9:
                self._t[k % self.capacity] = t
                self.end = k + 1
            self.last_d, self.last_t = d, t
            return
        if not d > self.last_d:
            if d == self.last_d:
                self.last_t = t  # standing still: it leaves this point later
            return  # a step back (noise at a standstill) keeps the furthest point
        d0, t0 = self.last_d, self.last_t
        k = self.end
        g = k * self.step_m
        if g <= d + 1e-9:
            rate = (t - t0) / (d - d0)
            while g <= d + 1e-9:
                self._t[k % self.capacity] = t0 + (g - d0) * rate
                k += 1
                g = k * self.step_m
            self.end = k
        self.last_d, self.last_t = d, t

    def time_at(self, distance_m: float) -> float:
        """When the car passed ``distance_m``: interpolated between grid points (and between the
        last grid point and the latest sample); NaN where it has not been or is no longer kept."""
        d = float(distance_m)
        if not self.started or not math.isfinite(d):
            return math.nan
        lo = max(self.first, self.end - self.capacity)  # the first grid point still kept
        if self.end <= lo:  # no grid point yet: only the sample itself
            return self.last_t if d == self.last_d else math.nan
        if d < lo * self.step_m - 1e-9:
            return math.nan
        last_k = self.end - 1
        last_g = last_k * self.step_m
        if d <= last_g + 1e-9:
            x = d / self.step_m
            k = min(max(math.floor(x), lo), last_k)
            t0 = self._t[k % self.capacity]
            if k == last_k:
                return float(t0)
            t1 = self._t[(k + 1) % self.capacity]
            return float(t0 + (x - k) * (t1 - t0))
        if d > self.last_d + 1e-9:
            return math.nan  # not there yet
        t0 = self._t[last_k % self.capacity]
        return float(t0 + (d - last_g) / (self.last_d - last_g) * (self.last_t - t0))


@dataclass
class LapTiming:
    """One lap of one car: its time and sector times (NaN where not seen) and its kind."""

    lap: int
    start_us: float  # NaN: the start was not seen
    time_s: float = math.nan
    sectors: list[float] = field(default_factory=lambda: [math.nan, math.nan, math.nan])
    in_lap: bool = False
    out_lap: bool = False
    standing_start: bool = False

    @property
    def valid(self) -> bool:
        """A lap that can be a delta reference: not an in-lap, out-lap or standing start."""
        return not (self.in_lap or self.out_lap or self.standing_start)


def _text(record: Record, name: str, default: str) -> str:
    value = record.get(name)
    return default if value is None else str(value)


class CarTiming:
    """What the tower knows about one car in one session."""

    def __init__(self, car_id: str, step_m: float = STEP_M, capacity: int = CAPACITY) -> None:
        self.car_id = car_id
        self.driver = ""
        self.latest: Record | None = None
        self.trace = CrossingTrace(step_m, capacity)
        self.lap = 0
        self.sector = 0
        self.current: LapTiming = LapTiming(0, math.nan)
        self._bounds = [math.nan, math.nan, math.nan]  # start of S1, S2, S3 of the current lap
        self.laps: dict[int, LapTiming] = {}  # completed laps
        self.last: LapTiming | None = None  # the last completed lap
        self.best_lap_s = math.nan
        self.best_sectors = [math.inf, math.inf, math.inf]
        self.line_total_m = math.nan  # total distance of the line at the current lap's start
        self.lap_length_m = math.nan  # between the last two line crossings
        self.finish_us = math.nan  # the crossing at which it took the flag
        self.grid_start = False
        self.moving_at_us = math.nan  # the last sample faster than STOPPED_KMH
        self.records = 0

    # --- records ----------------------------------------------------------------------------

    def observe(self, r: Record) -> None:
        ts = float(r["timestamp"])
        prev = self.latest
        if prev is None:
            self._first(r, ts)
        else:
            if ts <= prev["timestamp"]:
                return  # a duplicate or out of order: the timing never goes back
            lap = int(r["lap"])
            if lap != self.lap:
                self._cross(prev, r, ts, lap)
            else:
                sector = int(r["sector"])
                if sector != self.sector:
                    self._sector_step(prev, ts, sector)
        self.trace.add(r["total_distance_m"], ts)
        if r["speed_kmh"] >= STOPPED_KMH:
            self.moving_at_us = ts
        self.latest = r
        self.driver = r["driver"]
        self.records += 1

    def _first(self, r: Record, ts: float) -> None:
        self.lap = int(r["lap"])
        self.sector = int(r["sector"])
        self.moving_at_us = ts
        if is_standing_start(self.lap, float(r["lap_distance_m"])):
            self.grid_start = True
            start = standing_start_us(ts, float(r["sim_time_s"]))
            self.current = LapTiming(self.lap, start, standing_start=True)
            self._bounds = [start, math.nan, math.nan]
            self.line_total_m = line_total_m(float(r["total_distance_m"]), r["lap_distance_m"])
        else:
            self.current = LapTiming(self.lap, math.nan)
            self._bounds = [math.nan, math.nan, math.nan]

    def _sector_step(self, prev: Record, ts: float, sector: int) -> None:
        if sector == self.sector + 1 and 2 <= sector <= 3:
            boundary = (prev["timestamp"] + ts) / 2.0
            self._bounds[sector - 1] = boundary
            self._close_sector(sector - 2, boundary)
        self.sector = sector

    def _close_sector(self, index: int, end_us: float) -> None:
        time_s = (end_us - self._bounds[index]) / 1e6
        if math.isfinite(time_s):
            self.current.sectors[index] = time_s
            if time_s < self.best_sectors[index]:
                self.best_sectors[index] = time_s

    def _cross(self, prev: Record, r: Record, ts: float, lap: int) -> None:
        pitted = _text(prev, "pit_status", "none") != "none" or (
            _text(r, "pit_status", "none") != "none"
        )
        done = self.current
        if lap == self.lap + 1:
            after_lap_m = float(r["lap_distance_m"])
            after_total_m = float(r["total_distance_m"])
            cross = crossing_time(
                prev["timestamp"], prev["total_distance_m"], ts, after_total_m, after_lap_m
            )
            line = line_total_m(after_total_m, after_lap_m)
            if math.isfinite(self.line_total_m) and line > self.line_total_m:
                self.lap_length_m = line - self.line_total_m
            self.line_total_m = line
            if self.sector == 3:
                self._close_sector(2, cross)
            done.time_s = (cross - done.start_us) / 1e6
            done.in_lap = pitted
            self.laps[done.lap] = done
            self.last = done
            if math.isfinite(done.time_s) and not done.time_s >= self.best_lap_s:
                self.best_lap_s = done.time_s
            if _text(r, "car_status", "running") == "finished" and math.isnan(self.finish_us):
                self.finish_us = cross
            self.current = LapTiming(lap, cross, out_lap=pitted)
            self._bounds = [cross, math.nan, math.nan]
        else:
            # Laps missing in between (or a step back): the new lap's start is unknown.
            self.current = LapTiming(lap, math.nan, out_lap=pitted)
            self._bounds = [math.nan, math.nan, math.nan]
            self.line_total_m = math.nan
        self.lap = lap
        self.sector = int(r["sector"])

    # --- what the tower reads ---------------------------------------------------------------

    @property
    def laps_completed(self) -> int:
        return max(0, self.lap - 1)

    @property
    def finished(self) -> bool:
        return self.latest is not None and _text(self.latest, "car_status", "running") == (
            "finished"
        )

    def shown_sectors(self) -> list[tuple[float, int | None, bool]]:
        """Per sector: (time, lap, current): the current lap's time once the car has done that
        sector, else the last lap's (shown until the car gets there again)."""
        out: list[tuple[float, int | None, bool]] = []
        for k in range(3):
            t = self.current.sectors[k]
            if math.isfinite(t):
                out.append((t, self.current.lap, True))
            elif self.last is not None and math.isfinite(self.last.sectors[k]):
                out.append((self.last.sectors[k], self.last.lap, False))
            else:
                out.append((math.nan, None, False))
        return out

    def lap_flags(self, lap: int) -> LapTiming | None:
        return self.laps.get(lap)


class SessionTiming:
    """Every car of one session, and what the session as a whole has shown."""

    def __init__(self, session_id: str, step_m: float = STEP_M, capacity: int = CAPACITY):
        self.session_id = session_id
        self.step_m = step_m
        self.capacity = capacity
        self.cars: dict[str, CarTiming] = {}
        self.kind = UNKNOWN
        self.newest_us = -math.inf
        self.version = 0

    def observe(self, r: Record) -> None:
        car = self.cars.get(r["car_id"])
        if car is None:
            car = self.cars[r["car_id"]] = CarTiming(r["car_id"], self.step_m, self.capacity)
        car.observe(r)
        ts = r["timestamp"]
        if ts > self.newest_us:
            self.newest_us = ts
        kind = r.get("session_kind")
        if kind is not None and kind != UNKNOWN:
            self.kind = str(kind)
        self.version += 1

    @property
    def is_race(self) -> bool:
        if self.kind == UNKNOWN:
            return any(c.grid_start for c in self.cars.values())
        return self.kind == "race"

    @property
    def lap_length_m(self) -> float:
        lengths = [c.lap_length_m for c in self.cars.values() if math.isfinite(c.lap_length_m)]
        return float(np.median(lengths)) if lengths else math.nan


# --- the tower ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SectorCell:
    time_s: float | None
    colour: str  # purple | green | yellow | none
    lap: int | None  # the lap it was set on
    current: bool  # on the current lap (else the last lap's, until the car gets there)


@dataclass(frozen=True)
class TowerRow:
    position: int
    car_id: str
    driver: str
    laps_completed: int
    gap_to_leader_s: float | None
    interval_s: float | None
    laps_behind_leader: int
    laps_behind_ahead: int
    catching: bool
    closing_s_per_lap: float | None
    last_lap_s: float | None
    best_lap_s: float | None
    sectors: tuple[SectorCell, SectorCell, SectorCell]
    theoretical_best_s: float | None
    tyre_compound: str | None
    tyre_age_laps: int | None
    pit_stops: int | None
    pit_status: str | None
    status: str
    leader: bool

    @property
    def gap_text(self) -> str:
        if self.leader:
            return "LEADER"
        return gap_text(self.gap_to_leader_s, self.laps_behind_leader)

    @property
    def interval_text(self) -> str:
        if self.leader:
            return ""
        return gap_text(self.interval_s, self.laps_behind_ahead)


@dataclass(frozen=True)
class Tower:
    session_id: str
    session_kind: str
    race: bool
    rows: tuple[TowerRow, ...]
    best_sectors_s: tuple[float | None, float | None, float | None]
    best_sector_cars: tuple[str | None, str | None, str | None]
    theoretical_best_s: float | None
    best_lap_s: float | None
    best_lap_car: str | None
    lap_length_m: float | None
    version: int

    def row(self, car_id: str) -> TowerRow | None:
        return next((r for r in self.rows if r.car_id == car_id), None)

    def car_ahead(self, car_id: str) -> str | None:
        """The car one place ahead (the one behind for the leader), None alone."""
        ids = [r.car_id for r in self.rows]
        if car_id not in ids or len(ids) < 2:
            return None
        i = ids.index(car_id)
        return ids[i - 1] if i > 0 else ids[1]


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def laps_between(ahead: CarTiming, behind: CarTiming) -> int:
    """How many whole laps ``ahead`` is in front of ``behind`` on track (0 on the same lap). A
    finished car counts as on the line it finished at: its last record is a little past it,
    by however far it went in one sample."""
    a, b = ahead.latest, behind.latest
    assert a is not None and b is not None
    laps = int(a["lap"]) - int(b["lap"])
    a_m = 0.0 if ahead.finished else a["lap_distance_m"]
    b_m = 0.0 if behind.finished else b["lap_distance_m"]
    if a_m < b_m:
        laps -= 1
    return max(0, laps)


def _colour(t: float, session_best: float, personal_best: float) -> str:
    if not math.isfinite(t):
        return NONE
    if t <= session_best + 1e-9:
        return PURPLE
    if t <= personal_best + 1e-9:
        return GREEN
    return YELLOW


def _v2_filled(r: Record) -> bool:
    """Whether the source fills telemetry v2's race fields: a v1 record read as v2 has them at
    their defaults, session kind ``unknown`` included, and 0 pit stops would be a wrong number."""
    return _text(r, "session_kind", UNKNOWN) != UNKNOWN


def status_of(car: CarTiming, newest_us: float) -> str:
    r = car.latest
    assert r is not None
    if car.finished:
        return FINISHED
    if _text(r, "car_status", "running") == "retired" or out_of_session(car, newest_us):
        return STOPPED
    if _text(r, "pit_status", "none") != "none":
        return PIT_LANE
    if r["timestamp"] - car.moving_at_us >= STOPPED_AFTER_S * 1e6:
        return STOPPED
    return ON_TRACK


def out_of_session(car: CarTiming, newest_us: float) -> bool:
    """Retired, or no record for SILENT_AFTER_S while the others of the session still send."""
    r = car.latest
    assert r is not None
    if car.finished:
        return False
    if _text(r, "car_status", "running") == "retired":
        return True
    return newest_us - r["timestamp"] > SILENT_AFTER_S * 1e6


def _race_order(cars: list[CarTiming], newest_us: float) -> list[CarTiming]:
    def key(c: CarTiming) -> tuple[Any, ...]:
        r = c.latest
        assert r is not None
        out = out_of_session(c, newest_us)
        if c.finished:
            # Same laps as a car still running: that one is further round (it takes the flag
            # at the end of a lap more).
            return (out, -c.laps_completed, 1, c.finish_us)
        return (out, -c.laps_completed, 0, -float(r["lap_distance_m"]))

    return sorted(cars, key=key)


def _best_lap_order(cars: list[CarTiming]) -> list[CarTiming]:
    return sorted(
        cars,
        key=lambda c: (not math.isfinite(c.best_lap_s), c.best_lap_s, c.car_id),
    )


def _time_gap(behind: CarTiming, ahead: CarTiming) -> float:
    """Seconds between ``ahead`` and ``behind`` passing the point where ``behind`` is now."""
    r = behind.latest
    assert r is not None
    if behind.finished and ahead.finished:
        return (behind.finish_us - ahead.finish_us) / 1e6
    t_ahead = ahead.trace.time_at(float(r["total_distance_m"]))
    return (float(r["timestamp"]) - t_ahead) / 1e6


def _closing(behind: CarTiming, ahead: CarTiming, lap_m: float, interval: float) -> float:
    """How much ``behind`` gained on ``ahead`` over the last lap (positive: catching)."""
    if not math.isfinite(lap_m) or not math.isfinite(interval) or behind.finished:
        return math.nan
    r = behind.latest
    assert r is not None
    d = float(r["total_distance_m"]) - lap_m
    before = behind.trace.time_at(d) - ahead.trace.time_at(d)
    return before / 1e6 - interval


def compute_tower(session: SessionTiming) -> Tower:
    """The tower of ``session`` now (see the module's definitions)."""
    cars = [c for c in session.cars.values() if c.latest is not None]
    race = session.is_race
    newest = session.newest_us
    order = _race_order(cars, newest) if race else _best_lap_order(cars)
    session_best = [min((c.best_sectors[k] for c in cars), default=math.inf) for k in range(3)]
    best_cars: list[str | None] = []
    for k in range(3):
        holders = [c for c in cars if c.best_sectors[k] == session_best[k]]
        best_cars.append(holders[0].car_id if holders and math.isfinite(session_best[k]) else None)
    lap_m = session.lap_length_m
    rows: list[TowerRow] = []
    if race:
        leader = next((c for c in order if not out_of_session(c, newest)), None)
    else:
        leader = order[0] if order and math.isfinite(order[0].best_lap_s) else None
    ahead: CarTiming | None = None
    for position, car in enumerate(order, start=1):
        r = car.latest
        assert r is not None
        out = race and out_of_session(car, newest)
        gap = interval = closing = math.nan
        down_leader = down_ahead = 0
        is_leader = car is leader
        if race and not out and leader is not None and not is_leader:
            down_leader = laps_between(leader, car)
            if down_leader == 0:
                gap = _time_gap(car, leader)
            if ahead is not None:
                down_ahead = laps_between(ahead, car)
                if down_ahead == 0:
                    interval = _time_gap(car, ahead)
                    closing = _closing(car, ahead, lap_m, interval)
        elif not race and not is_leader and leader is not None:
            gap = car.best_lap_s - leader.best_lap_s
            if ahead is not None:
                interval = car.best_lap_s - ahead.best_lap_s
        elif is_leader:
            gap = 0.0
        sectors = tuple(
            SectorCell(
                _finite(t),
                _colour(t, session_best[k], car.best_sectors[k]),
                lap,
                current,
            )
            for k, (t, lap, current) in enumerate(car.shown_sectors())
        )
        theoretical = sum(car.best_sectors)
        v2 = _v2_filled(r)
        compound = _text(r, "tyre_compound", UNKNOWN)
        has_tyres = compound != UNKNOWN
        last = car.last.time_s if car.last is not None else math.nan
        rows.append(
            TowerRow(
                position=position,
                car_id=car.car_id,
                driver=car.driver,
                laps_completed=car.laps_completed,
                gap_to_leader_s=_finite(gap),
                interval_s=_finite(interval),
                laps_behind_leader=down_leader,
                laps_behind_ahead=down_ahead,
                catching=math.isfinite(closing) and closing >= CATCHING_S,
                closing_s_per_lap=_finite(closing),
                last_lap_s=_finite(last),
                best_lap_s=_finite(car.best_lap_s),
                sectors=sectors,  # type: ignore[arg-type]
                theoretical_best_s=_finite(theoretical),
                tyre_compound=compound if has_tyres else None,
                tyre_age_laps=int(r.get("tyre_age_laps", 0)) if has_tyres else None,
                pit_stops=int(r.get("pit_stops", 0)) if v2 else None,
                pit_status=_text(r, "pit_status", "none") if v2 else None,
                status=status_of(car, newest),
                leader=is_leader,
            )
        )
        if not out:
            ahead = car
    best_lap_car = min(cars, key=lambda c: c.best_lap_s, default=None)
    best_lap = best_lap_car.best_lap_s if best_lap_car is not None else math.nan
    return Tower(
        session_id=session.session_id,
        session_kind=session.kind,
        race=race,
        rows=tuple(rows),
        best_sectors_s=tuple(_finite(t) for t in session_best),  # type: ignore[arg-type]
        best_sector_cars=tuple(best_cars),  # type: ignore[arg-type]
        theoretical_best_s=_finite(sum(session_best)),
        best_lap_s=_finite(best_lap),
        best_lap_car=best_lap_car.car_id if math.isfinite(best_lap) and best_lap_car else None,
        lap_length_m=_finite(lap_m),
        version=session.version,
    )


class TimingBook:
    """The timing of the newest sessions, fed record by record by the feed thread.

    :meth:`tower` recomputes a session's tower at most every ``refresh_s`` (when new records
    came), so every browser session and ``GET /timing`` share one computation.
    """

    def __init__(
        self,
        step_m: float = STEP_M,
        capacity: int = CAPACITY,
        keep_sessions: int = KEEP_SESSIONS,
        refresh_s: float = 0.25,
    ) -> None:
        self.step_m = step_m
        self.capacity = capacity
        self.keep_sessions = keep_sessions
        self.refresh_s = refresh_s
        self.sessions: dict[str, SessionTiming] = {}
        self._newest: str | None = None
        self._newest_us = -math.inf
        self._towers: dict[str, tuple[Tower, float]] = {}

    def observe(self, r: Record) -> None:
        session_id = r["session_id"]
        session = self.sessions.get(session_id)
        if session is None:
            session = self.sessions[session_id] = SessionTiming(
                session_id, self.step_m, self.capacity
            )
            while len(self.sessions) > self.keep_sessions:
                oldest = next(iter(self.sessions))
                self.sessions.pop(oldest)
                self._towers.pop(oldest, None)
        session.observe(r)
        self._newest = session_id

    def observe_all(self, records: Iterable[Record]) -> None:
        for r in records:
            self.observe(r)

    @property
    def newest_session(self) -> str | None:
        """The session of the latest record received."""
        return self._newest

    def car(self, session_id: str, car_id: str) -> CarTiming | None:
        session = self.sessions.get(session_id)
        return session.cars.get(car_id) if session else None

    def is_current(self, tower: Tower | None) -> bool:
        """Whether ``tower`` is its session as it is now: no record came after it was computed
        (within ``refresh_s`` of the last one it may not have been)."""
        if tower is None:
            return True
        session = self.sessions.get(tower.session_id)
        return session is None or tower.version == session.version

    def tower(self, session_id: str | None = None, now: float | None = None) -> Tower | None:
        """The tower of ``session_id`` (default: the newest session), recomputed when records
        came since and ``refresh_s`` has passed (``now``: a monotonic clock; None: always)."""
        session_id = session_id or self._newest
        session = self.sessions.get(session_id) if session_id else None
        if session is None:
            return None
        cached = self._towers.get(session.session_id)
        if cached is not None:
            tower, at = cached
            fresh = tower.version == session.version
            if fresh or (now is not None and now - at < self.refresh_s):
                return tower
        tower = compute_tower(session)
        self._towers[session.session_id] = (tower, now if now is not None else -math.inf)
        return tower


# --- text and JSON ------------------------------------------------------------------------------


def gap_text(seconds: float | None, laps: int = 0) -> str:
    """``+1.234``, ``+1 LAP``, ``+2 LAPS``; a dash when unknown."""
    if laps >= 1:
        return f"+{laps} LAP" if laps == 1 else f"+{laps} LAPS"
    if seconds is None or not math.isfinite(seconds):
        return DASH
    return f"+{max(seconds, 0.0):.3f}"


def sector_text(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return DASH
    return f"{seconds:.3f}" if seconds < 100 else f"{seconds:.1f}"


def tower_json(tower: Tower | None) -> dict[str, Any]:
    """The tower as ``GET /timing`` answers it (every number the screen shows)."""
    if tower is None:
        return {"session_id": None, "cars": []}
    return {
        "session_id": tower.session_id,
        "session_kind": tower.session_kind,
        "positions_by": "race" if tower.race else "best_lap",
        "lap_length_m": tower.lap_length_m,
        "best_sectors_s": list(tower.best_sectors_s),
        "best_sector_cars": list(tower.best_sector_cars),
        "theoretical_best_s": tower.theoretical_best_s,
        "best_lap_s": tower.best_lap_s,
        "best_lap_car": tower.best_lap_car,
        "cars": [
            {
                "position": r.position,
                "car_id": r.car_id,
                "driver": r.driver,
                "laps_completed": r.laps_completed,
                "gap_to_leader_s": r.gap_to_leader_s,
                "interval_s": r.interval_s,
                "gap": r.gap_text,
                "interval": r.interval_text,
                "laps_behind_leader": r.laps_behind_leader,
                "catching": r.catching,
                "closing_s_per_lap": r.closing_s_per_lap,
                "last_lap_s": r.last_lap_s,
                "best_lap_s": r.best_lap_s,
                "sectors": [
                    {"time_s": s.time_s, "colour": s.colour, "lap": s.lap, "current": s.current}
                    for s in r.sectors
                ],
                "theoretical_best_s": r.theoretical_best_s,
                "tyre_compound": r.tyre_compound,
                "tyre_age_laps": r.tyre_age_laps,
                "pit_stops": r.pit_stops,
                "pit_status": r.pit_status,
                "status": r.status,
            }
            for r in tower.rows
        ],
    }


# --- the tower as the screen shows it ------------------------------------------------------------

SECTOR_COLOURS = {PURPLE: "#c26bff", GREEN: "#2ecc71", YELLOW: "#f1c40f", NONE: "#8893a5"}
TYRE_COLOURS = {
    "soft": "#ff453a",
    "medium": "#ffd60a",
    "hard": "#f2f2f7",
    "intermediate": "#30d158",
    "wet": "#0a84ff",
}
STATUS_TEXT = {ON_TRACK: "RUN", PIT_LANE: "PIT", STOPPED: "STOP", FINISHED: "FIN"}
STATUS_COLOURS = {ON_TRACK: "#8893a5", PIT_LANE: "#ffd60a", STOPPED: "#ff453a", FINISHED: "#e8ecf2"}
TEXT_COLOUR = "#e8ecf2"
MUTED_COLOUR = "#8893a5"
CATCHING_COLOUR = "#2ecc71"
# A sector still from the last lap (the car has not got there on this one) is drawn dimmer.
PREVIOUS_LAP_ALPHA = 0.5

# The text columns of the tower, left to right.
TOWER_TEXT_COLUMNS = (
    "pos",
    "driver",
    "car",
    "gap",
    "catch",
    "interval",
    "last",
    "best",
    "s1",
    "s2",
    "s3",
    "tyre",
    "pits",
    "status",
)
# Colour and alpha columns that go with them.
TOWER_STYLE_COLUMNS = (
    "s1_colour",
    "s2_colour",
    "s3_colour",
    "s1_alpha",
    "s2_alpha",
    "s3_alpha",
    "tyre_colour",
    "status_colour",
)


def _lap_time_text(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return DASH
    minutes, rest = divmod(seconds, 60.0)
    return f"{int(minutes)}:{rest:06.3f}"


def _tyre_text(row: TowerRow) -> str:
    if row.tyre_compound is None:
        return DASH
    letter = row.tyre_compound[0].upper()
    return f"{letter} {row.tyre_age_laps}" if row.tyre_age_laps is not None else letter


def _status_text(row: TowerRow) -> str:
    if row.status == PIT_LANE and row.pit_status == "pit_stop":
        return "BOX"
    return STATUS_TEXT.get(row.status, row.status.upper())


def tower_columns(tower: Tower | None) -> dict[str, list[Any]]:
    """One list per column of the tower (the rows in position order): the text the screen
    shows and its colours. ``car_id`` keys the rows."""
    out: dict[str, list[Any]] = {
        name: [] for name in ("car_id", *TOWER_TEXT_COLUMNS, *TOWER_STYLE_COLUMNS)
    }
    if tower is None:
        return out
    for row in tower.rows:
        out["car_id"].append(row.car_id)
        out["pos"].append(str(row.position))
        out["driver"].append(row.driver or DASH)
        out["car"].append(row.car_id)
        out["gap"].append(row.gap_text)
        out["catch"].append("\u25b2" if row.catching else "")
        out["interval"].append(row.interval_text)
        out["last"].append(_lap_time_text(row.last_lap_s))
        out["best"].append(_lap_time_text(row.best_lap_s))
        for k, cell in enumerate(row.sectors, start=1):
            out[f"s{k}"].append(sector_text(cell.time_s))
            out[f"s{k}_colour"].append(SECTOR_COLOURS[cell.colour])
            out[f"s{k}_alpha"].append(1.0 if cell.current else PREVIOUS_LAP_ALPHA)
        out["tyre"].append(_tyre_text(row))
        out["tyre_colour"].append(TYRE_COLOURS.get(row.tyre_compound or "", MUTED_COLOUR))
        out["pits"].append(DASH if row.pit_stops is None else str(row.pit_stops))
        out["status"].append(_status_text(row))
        out["status_colour"].append(STATUS_COLOURS.get(row.status, TEXT_COLOUR))
    return out


def session_line(tower: Tower | None) -> str:
    """The two lines under the tower: the session's best sectors (and who set them), its
    theoretical best (the sum of the best sectors) and its best lap."""
    if tower is None:
        return ""
    sectors = []
    for k, (t, car) in enumerate(zip(tower.best_sectors_s, tower.best_sector_cars, strict=True)):
        driver = _driver_of(tower, car)
        sectors.append(f"S{k + 1} {sector_text(t)}" + (f" {driver}" if driver else ""))
    best = _lap_time_text(tower.best_lap_s)
    holder = _driver_of(tower, tower.best_lap_car)
    return (
        "Best sectors  "
        + "   ".join(sectors)
        + f"\nTheoretical best {_lap_time_text(tower.theoretical_best_s)}"
        + f"   \u00b7   best lap {best}"
        + (f" {holder}" if holder else "")
    )


def _driver_of(tower: Tower, car_id: str | None) -> str:
    row = tower.row(car_id) if car_id else None
    return row.driver if row is not None else ""
