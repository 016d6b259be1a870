"""The shared state every browser session renders from, fed by the one Kafka consumer.

No Panel or Bokeh here, so the whole model is unit-tested with plain records. The feed thread
writes under :attr:`GridModel.lock`; sessions read under it and copy what they send, so the
lock is held for microseconds on either side.

Per car: the latest record, a ring buffer of recent samples (the G-G trail), the current
lap resampled by distance, the best complete lap as the reference, and the last few
completed laps (for lap comparison without InfluxDB). Per session: the circuit its records
are on (:mod:`dashboard.circuit_watch`), which the map and the distance axes draw.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from circuit import Track
from circuit.lap_line import (
    crossing_share,
    crossing_time,
    is_standing_start,
    line_total_m,
    standing_start_us,
)
from dashboard.circuit_shape import CircuitShape
from dashboard.circuit_watch import CircuitWatch
from dashboard.timing import TimingBook
from dashboard.traces import TRACE_FIELDS, DistanceTrace

Record = Mapping[str, Any]

# Values interpolated to the instant a car crosses the line (besides the time itself).
_CROSSING_FIELDS = ("speed_kmh", "throttle", "brake")
# Traces are first sized for this lap when no circuit is configured (they grow as needed).
EXPECTED_LAP_M = 1000.0
# Sessions whose circuit is kept (the newest ones).
KEEP_SESSIONS = 8


class RecentSamples:
    """A fixed-size ring buffer of the last ``capacity`` samples of a few channels, with a
    running sequence number so each reader can ask for what it has not seen yet."""

    def __init__(self, fields: Iterable[str], capacity: int = 512) -> None:
        self.capacity = capacity
        self.fields = tuple(fields)
        self._data = {f: np.zeros(capacity) for f in self.fields}
        self.seq = 0  # number of samples ever appended; the newest has seq - 1

    def append(self, record: Record) -> None:
        i = self.seq % self.capacity
        for f in self.fields:
            self._data[f][i] = record[f]
        self.seq += 1

    def since(self, seq: int, limit: int | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Sequence numbers and values of the samples after ``seq`` (exclusive of older ones
        that were overwritten), oldest first, at most ``limit`` (the newest ones)."""
        first = max(seq, self.seq - self.capacity, 0)
        if limit is not None:
            first = max(first, self.seq - limit)
        seqs = np.arange(first, self.seq)
        idx = seqs % self.capacity
        return seqs, {f: arr[idx] for f, arr in self._data.items()}


@dataclass
class CompletedLap:
    lap: int
    time_s: float
    trace: DistanceTrace


class CarState:
    """Everything the pit wall knows about one car in one session."""

    TRAIL_FIELDS = ("g_lat", "g_long")

    def __init__(self, car_id: str, expected_lap_m: float, step_m: float, keep_laps: int = 30):
        self.car_id = car_id
        self.expected_lap_m = expected_lap_m  # what traces are first sized for
        self.step_m = step_m
        self.driver = ""
        self.session_id = ""
        self.latest: dict[str, Any] | None = None
        self.recent = RecentSamples(self.TRAIL_FIELDS)
        self.lap = 0
        self.lap_start_us: float | None = None
        self.trace = self._new_trace()
        self.lap_serial = 0  # changes whenever ``trace`` is replaced, for the views
        self.best: CompletedLap | None = None
        self.last: CompletedLap | None = None
        self.completed: deque[CompletedLap] = deque(maxlen=keep_laps)
        self.received_at = 0.0  # monotonic time of the latest record, to spot silent cars
        self.records = 0  # received in this session, for the health endpoint

    def _new_trace(self) -> DistanceTrace:
        return DistanceTrace(self.expected_lap_m, self.step_m, TRACE_FIELDS)

    def _reset(self, record: Record) -> None:
        self.session_id = record["session_id"]
        self.driver = record["driver"]
        self.latest = None
        self.recent = RecentSamples(self.TRAIL_FIELDS)
        self.lap = 0
        self.lap_start_us = None
        self.trace = self._new_trace()
        self.lap_serial += 1
        self.best = self.last = None
        self.completed.clear()
        self.records = 0

    def lap_elapsed_s(self, timestamp_us: float) -> float:
        if self.lap_start_us is None:
            return math.nan
        return (timestamp_us - self.lap_start_us) / 1e6

    def ingest(self, record: Record, received_at: float | None = None) -> None:
        if record["session_id"] != self.session_id:
            self._reset(record)
        prev = self.latest
        lap = int(record["lap"])
        if prev is None:
            self._start_lap(lap, self._first_lap_start(record))
        elif lap != self.lap:
            self._cross_line(prev, record)
        self.trace.add(record["lap_distance_m"], self._trace_values(record))
        self.recent.append(record)
        self.latest = dict(record)
        self.received_at = time.monotonic() if received_at is None else received_at
        self.records += 1

    @staticmethod
    def _first_lap_start(record: Record) -> float | None:
        """When the car's first lap in sight began: lights out for a car on a race grid
        (:mod:`circuit.lap_line`, as the analytics job times it); unknown otherwise (a
        practice car starts mid-lap, and the pit wall may join a session late). From the
        grid, the trace fills distance 0 as the car crosses the line, at its time since
        lights out."""
        if is_standing_start(int(record["lap"]), float(record["lap_distance_m"])):
            return standing_start_us(record["timestamp"], record["sim_time_s"])
        return None

    def _trace_values(self, record: Record) -> dict[str, float]:
        values = {f: float(record[f]) for f in TRACE_FIELDS if f != "t_s"}
        values["t_s"] = self.lap_elapsed_s(record["timestamp"])
        return values

    def _start_lap(self, lap: int, start_us: float | None) -> None:
        self.lap = lap
        self.lap_start_us = start_us
        self.trace = self._new_trace()
        self.lap_serial += 1

    def _cross_line(self, prev: Record, record: Record) -> None:
        """Close the lap ``prev`` was on and open the one ``record`` is on, at the instant of
        crossing the line (:mod:`circuit.lap_line`)."""
        if int(record["lap"]) != self.lap + 1:
            # Laps missing between the two records: the new lap's start is unknown.
            self._start_lap(int(record["lap"]), None)
            return
        before, after, past = (
            prev["total_distance_m"],
            record["total_distance_m"],
            record["lap_distance_m"],
        )
        cross_us = crossing_time(prev["timestamp"], before, record["timestamp"], after, past)
        w = crossing_share(before, after, past)
        at_line = {f: prev[f] + w * (record[f] - prev[f]) for f in _CROSSING_FIELDS}
        # The line in the ending lap's distance: that lap's length as the car drove it.
        end_distance = prev["lap_distance_m"] + (line_total_m(after, past) - before)
        lap_time = self.lap_elapsed_s(cross_us)
        self.trace.add(end_distance, {**at_line, "t_s": lap_time})
        self.trace.finish()
        if self.trace.complete_from_start and not math.isnan(lap_time):
            done = CompletedLap(self.lap, lap_time, self.trace)
            self.last = done
            self.completed.append(done)
            if self.best is None or lap_time < self.best.time_s:
                self.best = done
        self._start_lap(int(record["lap"]), cross_us)
        self.trace.add(0.0, {**at_line, "t_s": 0.0})

    @property
    def finished(self) -> bool:
        """Took the chequered flag: the car sends no more records, and is not stale for it."""
        return self.latest is not None and self.latest.get("car_status") == "finished"

    def completed_lap(self, lap: int) -> CompletedLap | None:
        for done in self.completed:
            if done.lap == lap:
                return done
        return None


@dataclass
class FeedStatus:
    """What the status line shows; written by the feed thread."""

    broker: str = "connecting"  # connecting | up | down
    registry: str = "unknown"  # unknown | up | down
    topics_found: set[str] = field(default_factory=set)
    messages: int = 0
    messages_per_s: float = 0.0
    decode_errors: int = 0
    dropped_registry_down: int = 0
    lag_records: int | None = None
    latency_ms: float | None = None  # receipt minus the record's Kafka timestamp, last second
    catching_up: bool = False
    last_error: str = ""
    last_message_at: float | None = None  # monotonic


class LapBook:
    """The lap summaries read from the analytics topic, by (session, car, lap)."""

    def __init__(self, limit: int = 5000) -> None:
        self.limit = limit
        self.rows: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.version = 0

    def add(self, summary: Record) -> None:
        key = (summary["session_id"], summary["car_id"], int(summary["lap"]))
        self.rows[key] = dict(summary)
        if len(self.rows) > self.limit:
            # Oldest first out: dicts keep insertion order.
            self.rows.pop(next(iter(self.rows)))
        self.version += 1

    def sessions(self) -> list[str]:
        """Sessions in the order their latest summary arrived (newest last)."""
        seen: dict[str, None] = {}
        for session, _car, _lap in self.rows:
            seen.pop(session, None)
            seen[session] = None
        return list(seen)

    def session_rows(self, session: str) -> list[dict[str, Any]]:
        rows = [r for (s, _c, _l), r in self.rows.items() if s == session]
        return sorted(rows, key=lambda r: (r["car_id"], r["lap"]))

    @staticmethod
    def best_key(rows: list[dict[str, Any]]) -> tuple[str, int] | None:
        """(car, lap) of the fastest lap among ``rows``."""
        if not rows:
            return None
        best = min(rows, key=lambda r: r["lap_time_s"])
        return best["car_id"], int(best["lap"])


class GridModel:
    """All cars of the live session, the circuit of each session, the lap book and the feed's
    status.

    ``track`` is the configured circuit (``F1_TRACK``, else Silverstone): what the map draws
    while a session's records fit it. None: every session's circuit is learned from its
    records.
    """

    def __init__(
        self,
        track: Track | None = None,
        step_m: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.track = track
        self.step_m = step_m
        self.lock = threading.RLock()
        self.cars: dict[str, CarState] = {}
        self.laps = LapBook()
        self.status = FeedStatus()
        # The timing tower of every session, fed the same records.
        self.timing = TimingBook()
        self.version = 0
        self._clock = clock
        self._expected_lap_m = track.length_m if track is not None else EXPECTED_LAP_M
        self._circuits: dict[str, CircuitWatch] = {}
        self._no_session = CircuitWatch(track)  # drawn before any record arrives

    def ingest(self, records: Iterable[Record]) -> int:
        """Feed telemetry records (call with the lock held or from one thread); how many."""
        now = self._clock()
        n = 0
        watched: dict[int, CircuitWatch] = {}
        for record in records:
            car = self.cars.get(record["car_id"])
            if car is None:
                car = self.cars[record["car_id"]] = CarState(
                    record["car_id"], self._expected_lap_m, self.step_m
                )
            session = record["session_id"]
            watch = self._circuits.get(session) or self._watch(session)
            watch.observe(car.latest if car.session_id == session else None, record)
            watched[id(watch)] = watch
            car.ingest(record, now)
            self.timing.observe(record)
            n += 1
        for watch in watched.values():
            watch.settle()
        if n:
            self.version += 1
        return n

    def _watch(self, session: str) -> CircuitWatch:
        watch = self._circuits[session] = CircuitWatch(self.track)
        while len(self._circuits) > KEEP_SESSIONS:
            self._circuits.pop(next(iter(self._circuits)))  # the oldest session
        return watch

    def circuit(self, session: str | None = None) -> CircuitShape:
        """What the map draws for ``session``: by default the current session's circuit, else
        the last session's, else the configured one."""
        session = session if session is not None else self.current_session()
        watch = self._circuits.get(session) if session is not None else None
        if watch is None:
            watch = next(reversed(self._circuits.values()), self._no_session)
        return watch.shape

    def active_cars(self, stale_after_s: float = 30.0) -> list[CarState]:
        """Cars of the newest session heard from in the last ``stale_after_s``, or finished (a
        finisher sends nothing more, yet it stays with its result), by car id."""
        now = self._clock()
        live = [
            c
            for c in self.cars.values()
            if c.latest and (c.finished or now - c.received_at <= stale_after_s)
        ]
        if not live:
            return []
        newest = max(live, key=lambda c: c.received_at).session_id
        return sorted((c for c in live if c.session_id == newest), key=lambda c: c.car_id)

    def current_session(self) -> str | None:
        cars = self.active_cars()
        return cars[0].session_id if cars else None

    def snapshot(self, session: str) -> GridModel | None:
        """A frozen copy of ``session`` as this model holds it (its timing, the cars' last
        records, their laps where the cars have not moved on to a newer session, its circuit
        and lap summaries), for a page that shows a session other than the live one. None for
        a session whose timing is no longer kept. Call with the lock held."""
        timing = self.timing.sessions.get(session)
        if timing is None:
            return None
        frozen = frozen_model(self.track, self.step_m)
        latest = [c.latest for c in timing.cars.values() if c.latest is not None]
        frozen.ingest(sorted(latest, key=lambda r: r["timestamp"]))
        frozen.timing.sessions[session] = copy.deepcopy(timing)
        for car_id, car in self.cars.items():
            if car.session_id == session and car.latest is not None:
                kept = frozen.cars[car_id] = copy.deepcopy(car)
                kept.received_at = 0.0
        watch = self._circuits.get(session)
        if watch is not None:
            frozen._circuits[session] = copy.deepcopy(watch)
        for row in self.laps.session_rows(session):
            frozen.laps.add(row)
        frozen.version += 1
        return frozen


def frozen_model(track: Track | None, step_m: float) -> GridModel:
    """A model whose clock stands still: what it is fed never goes stale (a stored or past
    session, shown as it ended)."""
    return GridModel(track, step_m, clock=lambda: 0.0)
