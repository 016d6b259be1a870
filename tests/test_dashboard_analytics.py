"""The analytics tab per session: its lap-trace cache is keyed by session, a lookup made while
InfluxDB was down is asked again, and the comparison shows the delta and A minus B."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import numpy as np
import pytest

from dashboard.analytics_view import AnalyticsView, TraceCache
from dashboard.history_source import FOUND, MISSING, UNAVAILABLE, StoredLap
from dashboard.model import GridModel
from schemas.topics import Topics
from tests.dashboard_samples import summary


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def done(value: Any) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_result(value)
    return future


class FakeHistory:
    """InfluxDB as the view sees it: answers set by the test, lookups recorded."""

    installed = True

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, int, float | None]] = []
        self.answers: dict[tuple[str, int], StoredLap] = {}
        self.down = False

    def lap_trace(
        self, session: str, car: str, lap: int, lap_start_us: float | None
    ) -> Future[StoredLap]:
        self.asked.append((session, car, lap, lap_start_us))
        if self.down:
            return done(StoredLap(UNAVAILABLE))
        return done(self.answers.get((session, lap), StoredLap(MISSING)))

    def lap_summaries(self, session: str) -> Future[list[dict[str, Any]]]:
        return done([])

    def sessions(self) -> Future[list[str]]:
        return done([])


def stored(speed: float, seconds_per_10m: float) -> StoredLap:
    d = np.arange(0.0, 101.0, 10.0)
    return StoredLap(FOUND, d, np.full(d.shape, speed), d / 10.0 * seconds_per_10m)


def view_with(history: FakeHistory, clock: Clock) -> AnalyticsView:
    model = GridModel(step_m=10.0)
    for session in ("s-1", "s-2"):
        for lap, lap_time in ((1, 87.0), (2, 86.5)):
            model.laps.add({**summary(lap), "session_id": session, "lap_time_s": lap_time})
    view = AnalyticsView(model, history, Topics())  # type: ignore[arg-type]
    view.traces = TraceCache(retry_after_s=30.0, clock=clock)
    return view


def test_a_lookup_while_influxdb_was_down_is_asked_again() -> None:
    history, clock = FakeHistory(), Clock()
    history.down = True
    view = view_with(history, clock)
    view.show_session("s-1")
    assert view.lap_a.value == "car-01|2" and view.lap_b.value == "car-01|1"
    assert len(history.asked) == 2
    view.refresh()
    assert "InfluxDB not answering" in view.compare_note.text
    assert len(history.asked) == 2  # not again within the wait

    history.down = False
    history.answers = {("s-1", 2): stored(250.0, 0.2), ("s-1", 1): stored(240.0, 0.25)}
    clock.now = 31.0
    view.refresh()  # asks again
    view.refresh()  # shows what came back
    assert len(history.asked) == 4
    assert "trace from the InfluxDB" in view.compare_note.text
    assert view.compare_source["a"].data["speed_kmh"][0] == 250.0
    # Lap A (2) takes 0.2 s per 10 m, lap B (1) 0.25 s: A gains 0.05 s every 10 m.
    delta = view.lap_delta_source.data["delta"]
    assert delta[:3] == pytest.approx([0.0, -0.05, -0.1])
    # The lap start of the summary is what the stored times count from.
    assert history.asked[-1][3] == summary(1)["lap_start"]


def test_the_trace_cache_is_keyed_by_session() -> None:
    history, clock = FakeHistory(), Clock()
    history.answers = {("s-1", 2): stored(250.0, 0.2), ("s-1", 1): stored(240.0, 0.25)}
    view = view_with(history, clock)
    view.show_session("s-1")
    view.refresh()
    assert view.compare_source["a"].data["speed_kmh"][0] == 250.0
    view.show_session("s-2")  # the same car and laps in another session: not stored there
    view.refresh()
    assert {(s, lap) for s, _c, lap, _t in history.asked} == {
        ("s-1", 1),
        ("s-1", 2),
        ("s-2", 1),
        ("s-2", 2),
    }
    assert view.compare_source["a"].data["speed_kmh"] == []
    assert "no stored trace" in view.compare_note.text
    assert view.lap_delta_source.data["delta"] == []


def test_the_differences_are_a_minus_b() -> None:
    view = view_with(FakeHistory(), Clock())
    view.show_session("s-1")
    times = view.diff_sources[0].data
    assert times["metric"][0] == "Lap time"
    assert times["diff"][0] == pytest.approx(-0.5)  # lap 2 (86.5) minus lap 1 (87.0)
    assert times["label"][0] == "-0.500" and times["colour"][0] == "#2ecc71"


def test_trace_cache_expires_only_failures() -> None:
    clock = Clock()
    cache = TraceCache(retry_after_s=10.0, clock=clock)
    cache.failed("s", "k")
    assert cache.get("s", "k") == (True, None) and cache.unavailable("s", "k")
    clock.now = 11.0
    assert cache.get("s", "k") == (False, None)
    cache.put("s", "k", None)
    clock.now = 1e9
    assert cache.get("s", "k") == (True, None) and not cache.unavailable("s", "k")
    assert cache.get("other", "k") == (False, None)
