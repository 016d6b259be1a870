"""Lap history from InfluxDB, when the storage sink is installed and InfluxDB answers.

Optional by design: the dashboard depends only on Kafka and the registry. When
``storage.history`` cannot be imported or InfluxDB is down, every request answers ``None`` and
the analytics tab uses what the live feed kept in memory. Queries run in one worker thread so
a slow InfluxDB never stalls a browser session.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from dashboard.traces import resample
from runtime.endpoints import Endpoints
from runtime.errors import F1Error

log = logging.getLogger(__name__)

RETRY_AFTER_S = 30.0

Trace = tuple[np.ndarray, np.ndarray]

FOUND, MISSING, UNAVAILABLE = "found", "missing", "unavailable"


@dataclass(frozen=True)
class StoredLap:
    """One stored lap on the distance grid: speed and the time since the lap started.

    ``status``: ``found``; ``missing`` (InfluxDB answered: that lap is not stored, an answer
    worth keeping); ``unavailable`` (no answer: InfluxDB down or the sink not installed, worth
    asking again later).
    """

    status: str
    distance_m: np.ndarray | None = None
    speed_kmh: np.ndarray | None = None
    t_s: np.ndarray | None = None


@dataclass(frozen=True)
class StoredSession:
    """What InfluxDB holds of a session's end: every car's last two records (time order) and
    the stored lap summaries; ``status`` as for :class:`StoredLap`."""

    status: str
    records: tuple[dict[str, Any], ...] = ()
    summaries: tuple[dict[str, Any], ...] = ()


def _record(row: dict[str, Any]) -> dict[str, Any]:
    """A stored point as a record: a field it lacks (an older writer, a channel not measured)
    is left out, so readers take its default, as from a record of that writer."""
    return {k: v for k, v in row.items() if v is not None and not (isinstance(v, float) and v != v)}


class HistorySource:
    def __init__(self, endpoints: Endpoints, step_m: float) -> None:
        self._endpoints = endpoints
        self._step_m = step_m
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="f1-dashboard-history")
        self._down_until = 0.0
        self.last_error = ""
        self._history_cls: Any = None
        try:
            from storage.history import History

            self._history_cls = History
        except Exception as exc:  # the sink is optional: any import problem means "not there"
            self.last_error = f"InfluxDB history unavailable: {exc}"
            log.info("%s", self.last_error)

    @property
    def installed(self) -> bool:
        return self._history_cls is not None

    def _usable(self) -> bool:
        return self.installed and time.monotonic() >= self._down_until

    def speed_trace(self, session: str, car: str, lap: int) -> Future[Trace | None]:
        """Speed against lap distance of one stored lap, on the dashboard's distance grid."""
        return self._pool.submit(self._speed_trace, session, car, lap)

    def lap_summaries(self, session: str) -> Future[list[dict[str, Any]]]:
        return self._pool.submit(self._lap_summaries, session)

    def lap_trace(
        self, session: str, car: str, lap: int, lap_start_us: float | None
    ) -> Future[StoredLap]:
        """Speed and lap time against lap distance of one stored lap (the time counted from
        ``lap_start_us``, the lap summary's interpolated crossing), for the delta trace."""
        return self._pool.submit(self._lap_trace, session, car, lap, lap_start_us)

    def sessions(self) -> Future[list[str]]:
        """The sessions stored in InfluxDB (empty when it does not answer)."""
        return self._pool.submit(self._sessions)

    def session_end(self, session: str) -> Future[StoredSession]:
        """The state ``session`` ended in, as stored (see :class:`StoredSession`)."""
        return self._pool.submit(self._session_end, session)

    def _client(self) -> Any:
        e = self._endpoints
        token = e.influx_token.reveal()
        return self._history_cls(e.influx_url, token, e.influx_org, e.influx_bucket)

    def _failed(self, exc: Exception) -> None:
        self.last_error = f"InfluxDB history: {exc}"
        self._down_until = time.monotonic() + RETRY_AFTER_S
        log.info("%s (next try in %.0f s)", self.last_error, RETRY_AFTER_S)

    def _speed_trace(self, session: str, car: str, lap: int) -> Trace | None:
        if not self._usable():
            return None
        try:
            with self._client() as history:
                df = history.channel_vs_distance(session, car, lap, "speed_kmh")
        except F1Error as exc:
            # ConfigError: that lap is not stored; InfrastructureError: InfluxDB is down.
            if type(exc).__name__ != "ConfigError":
                self._failed(exc)
            return None
        except Exception as exc:  # a sink under development may raise anything
            self._failed(exc)
            return None
        if df.empty:
            return None
        distance = df["lap_distance_m"].to_numpy()
        if not distance.max() > 0.0:
            return None
        # The grid reaches as far as the stored lap does: no circuit length is needed.
        return resample(distance, df["speed_kmh"].to_numpy(), float(distance.max()), self._step_m)

    def _lap_trace(self, session: str, car: str, lap: int, lap_start_us: float | None) -> StoredLap:
        if not self._usable():
            return StoredLap(UNAVAILABLE)
        try:
            with self._client() as history:
                df = history.lap_points(session, car, lap, ["lap_distance_m", "speed_kmh"])
        except F1Error as exc:
            if type(exc).__name__ == "ConfigError":
                return StoredLap(MISSING)
            self._failed(exc)
            return StoredLap(UNAVAILABLE)
        except Exception as exc:  # a sink under development may raise anything
            self._failed(exc)
            return StoredLap(UNAVAILABLE)
        if df.empty:
            return StoredLap(MISSING)
        distance = df["lap_distance_m"].to_numpy(dtype=float)
        speed = df["speed_kmh"].to_numpy(dtype=float)
        stamp = df["timestamp"].to_numpy(dtype=float)
        start = float(lap_start_us) if lap_start_us is not None else stamp[0]
        t = (stamp - start) / 1e6
        if lap_start_us is not None:
            # The lap began at the line, just before its first stored sample.
            distance = np.concatenate([[0.0], distance])
            speed = np.concatenate([[speed[0]], speed])
            t = np.concatenate([[0.0], t])
        if not distance.max() > 0.0:
            return StoredLap(MISSING)
        end = float(distance.max())
        grid, speed_grid = resample(distance, speed, end, self._step_m)
        _grid, t_grid = resample(distance, t, end, self._step_m)
        return StoredLap(FOUND, grid, speed_grid, t_grid)

    def _sessions(self) -> list[str]:
        if not self._usable():
            return []
        try:
            with self._client() as history:
                return list(history.sessions())
        except Exception as exc:
            self._failed(exc)
            return []

    def _lap_summaries(self, session: str) -> list[dict[str, Any]]:
        if not self._usable():
            return []
        try:
            with self._client() as history:
                df = history.lap_summaries(session)
        except Exception as exc:
            self._failed(exc)
            return []
        if df.empty or "lap_time_s" not in df.columns:
            return []
        return df.to_dict("records")

    def _session_end(self, session: str) -> StoredSession:
        if not self._usable():
            return StoredSession(UNAVAILABLE)
        try:
            with self._client() as history:
                points = history.last_records(session, 2)
                summaries = history.lap_summaries(session) if not points.empty else None
        except Exception as exc:  # down, or a sink under development: ask again later
            self._failed(exc)
            return StoredSession(UNAVAILABLE)
        if points.empty:
            return StoredSession(MISSING)
        laps: list[dict[str, Any]] = []
        if summaries is not None and not summaries.empty and "lap_time_s" in summaries.columns:
            laps = [_record(r) for r in summaries.to_dict("records")]
        records = tuple(_record(r) for r in points.to_dict("records"))
        return StoredSession(FOUND, records, tuple(laps))
