"""Which session the live tab shows: the live one, or the one picked in the header.

Following live (the default), the live tab reads the shared model as the feed fills it. A
picked session that is the live one is shown live too, its tower pinned to it. Any other
session is shown as it ended, from a frozen model (:func:`dashboard.model.frozen_model`,
whose clock stands still, so nothing in it goes stale):

- a session the pit wall still holds in memory: a copy of what it holds
  (:meth:`GridModel.snapshot`): its tower, the cars' last records, their laps where the cars
  have not moved on to a newer session, its circuit and lap summaries;
- else a session stored in InfluxDB: every car's last two records (the state it ended in, and
  the sample before, so the timing interpolates its last line crossing: the classification
  of a race is the order of the finishing crossings), with lap and sector times from the
  stored lap summaries. Loaded in the history source's worker thread; InfluxDB down is
  asked again after ``retry_after_s``.

A session that was live when picked and has since been followed by another is frozen from
then on. The label says which of these the page shows; it never calls a frozen session live.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from typing import Any

from dashboard.history_source import FOUND, MISSING, HistorySource, StoredSession
from dashboard.model import GridModel, frozen_model
from dashboard.timing import LapTiming, SessionTiming

RETRY_AFTER_S = 30.0

# What the live tab shows.
FOLLOWING, PINNED, MEMORY, STORED, LOADING, NOT_STORED, NO_HISTORY = (
    "following",
    "pinned",
    "memory",
    "stored",
    "loading",
    "not_stored",
    "no_history",
)
LIVE_STATES = (FOLLOWING, PINNED)


def apply_summaries(timing: SessionTiming, summaries: Iterable[Mapping[str, Any]]) -> None:
    """Lap and sector times from the analytics job's lap summaries, for the laps the timing
    did not see whole (a session read back from storage): the tower's last and best lap,
    sectors and their colours then come from them."""
    for s in sorted(summaries, key=lambda r: int(r["lap"])):
        car = timing.cars.get(str(s["car_id"]))
        lap_time = float(s.get("lap_time_s", math.nan))
        if car is None or not math.isfinite(lap_time):
            continue
        lap = int(s["lap"])
        seen = car.laps.get(lap)
        if seen is not None and math.isfinite(seen.time_s):
            continue
        sectors = [float(s.get(f"sector{k}_s", math.nan)) for k in (1, 2, 3)]
        done = LapTiming(lap, math.nan, time_s=lap_time, sectors=sectors)
        for flag in ("in_lap", "out_lap", "standing_start"):
            setattr(done, flag, bool(s.get(flag, False)))
        car.laps[lap] = done
        if car.last is None or lap >= car.last.lap:
            car.last = done
        if not lap_time >= car.best_lap_s:
            car.best_lap_s = lap_time
        for k, t in enumerate(sectors):
            if math.isfinite(t) and t < car.best_sectors[k]:
                car.best_sectors[k] = t
    timing.version += 1


def stored_model(model: GridModel, stored: StoredSession) -> GridModel:
    """A frozen model of a stored session (see the module)."""
    frozen = frozen_model(model.track, model.step_m)
    records = sorted(stored.records, key=lambda r: (r["timestamp"], r["car_id"]))
    frozen.ingest(records)
    if records:
        timing = frozen.timing.sessions[records[0]["session_id"]]
        apply_summaries(timing, stored.summaries)
    for row in stored.summaries:
        frozen.laps.add(row)
    frozen.version += 1
    return frozen


class SessionPick:
    """One browser session's choice, and the model its live tab reads."""

    def __init__(
        self,
        history: HistorySource | None,
        retry_after_s: float = RETRY_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.history = history
        self.retry_after_s = retry_after_s
        self._clock = clock
        self.session: str | None = None  # None: follow the live session
        self.state = FOLLOWING
        self._frozen: GridModel | None = None
        self._empty: GridModel | None = None
        self._future: Future[StoredSession] | None = None
        self._retry_at = -math.inf

    def choose(self, session: str | None) -> None:
        if session != self.session:
            self.session = session
            self.state = FOLLOWING if session is None else LOADING
            self._frozen = self._empty = None
            self._future = None
            self._retry_at = -math.inf

    def source(self, live: GridModel) -> tuple[GridModel, str | None]:
        """The model the live tab reads now, and the session its tower shows (None: the
        live one)."""
        session = self.session
        if session is None:
            self.state = FOLLOWING
            return live, None
        if self._frozen is not None:
            return self._frozen, session
        with live.lock:
            if live.current_session() == session:
                self.state = PINNED
                return live, session
            frozen = live.snapshot(session)
        if frozen is not None:
            self._frozen, self.state = frozen, MEMORY
            return frozen, session
        return self._stored(live, session), session

    def _stored(self, live: GridModel, session: str) -> GridModel:
        future = self._future
        if future is not None and future.done():
            self._future = None
            stored = future.result()
            if stored.status == FOUND:
                self._frozen, self.state = stored_model(live, stored), STORED
                return self._frozen
            if stored.status == MISSING:
                self.state = NOT_STORED
            else:
                self.state = NO_HISTORY
                self._retry_at = self._clock() + self.retry_after_s
        history = self.history
        if history is None or not history.installed:
            self.state = NO_HISTORY
        elif self._future is None and self.state != NOT_STORED and self._clock() >= self._retry_at:
            self._future = history.session_end(session)
            self.state = LOADING
        if self._empty is None:
            self._empty = frozen_model(live.track, live.step_m)
        return self._empty

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    def label(self) -> str:
        """What the header says the live tab shows."""
        s = self.session
        if self.state == NO_HISTORY and not (self.history and self.history.installed):
            return f"NOT LIVE \u00b7 session {s}: the InfluxDB history is not installed"
        return {
            FOLLOWING: "LIVE \u00b7 following the newest session",
            PINNED: f"LIVE \u00b7 session {s}",
            MEMORY: f"NOT LIVE \u00b7 session {s} as it ended: the last records the pit wall"
            " received",
            STORED: f"NOT LIVE \u00b7 session {s} as stored in InfluxDB: each car's last record"
            " and the stored lap summaries",
            LOADING: f"NOT LIVE \u00b7 loading session {s} from InfluxDB\u2026",
            NOT_STORED: f"NOT LIVE \u00b7 no stored records of session {s}",
            NO_HISTORY: f"NOT LIVE \u00b7 session {s}: InfluxDB is not answering, asking again"
            " shortly",
        }[self.state]
