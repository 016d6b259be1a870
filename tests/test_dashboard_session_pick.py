"""After the flag and after a session: the final tower reaches every page although no record
comes, finishers stay in the car list with their result, and the live tab follows a session
picked in the header (live, as it ended in memory, or as stored in InfluxDB), with a label
that never calls a frozen session live."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest

from dashboard.frames import FrameReader
from dashboard.history_source import FOUND, MISSING, UNAVAILABLE, StoredSession
from dashboard.model import FeedStatus, GridModel
from dashboard.session_pick import (
    FOLLOWING,
    LOADING,
    MEMORY,
    NO_HISTORY,
    NOT_STORED,
    PINNED,
    STORED,
    SessionPick,
    apply_summaries,
    stored_model,
)
from dashboard.status import describe
from dashboard.timing import TimingBook
from schemas.topics import Topics
from tests.timing_samples import Car, crossing_s, race

A = Car("car-01", "VER", [(0.0, -10.0), (200.0, 9990.0)])  # 50 m/s, wins
B = Car("car-02", "HAM", [(0.0, -20.0), (200.0, 9780.0)])  # 49 m/s
# C passes B before the flag: slower at first, faster from 30 s.
C = Car("car-03", "LEC", [(0.0, -30.0), (30.0, 1350.0), (200.0, 10360.0)])
FINISH_ORDER = ["car-01", "car-03", "car-02"]


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def finished_race(session: str = "race-1") -> list[dict[str, Any]]:
    return race([A, B, C], laps=3, session=session)


# --- the flag ------------------------------------------------------------------------------


def test_the_final_tower_reaches_the_page_though_no_record_follows_the_flag() -> None:
    records = finished_race()
    clock = Clock()
    model = GridModel(step_m=10.0, clock=clock)
    reader = FrameReader(clock=clock)
    model.ingest(records[:-5])
    first = reader.next_frame(model)
    assert first.tower_columns is not None and "RUN" in first.tower_columns["status"]
    # The last records come within the tower's refresh period: the next frame still has
    # the tower of a moment before them.
    clock.now += 0.1
    model.ingest(records[-5:])
    reader.next_frame(model)
    clock.now += 0.5
    frame = reader.next_frame(model)  # no record since: the tower is recomputed all the same
    statuses = frame.tower_patch["status"] if frame.tower_patch else []
    assert [s for _i, s in statuses] and all(s == "FIN" for _i, s in statuses)
    clock.now += 0.1
    assert reader.next_frame(model).empty  # up to date: nothing more to send


def test_finished_cars_stay_in_the_car_list_with_their_result() -> None:
    clock = Clock()
    model = GridModel(step_m=10.0, clock=clock)
    model.ingest(finished_race())
    reader = FrameReader(clock=clock)
    assert [c for c, _d in reader.next_frame(model).cars or []] == ["car-01", "car-02", "car-03"]
    clock.now += 600.0  # ten minutes after the flag
    assert [c.car_id for c in model.active_cars()] == ["car-01", "car-02", "car-03"]
    assert model.current_session() == "race-1"
    tower = model.timing.tower("race-1")
    assert tower is not None and [r.status for r in tower.rows] == ["finished"] * 3
    # A car that stopped sending without the flag still leaves the list.
    model.ingest(race([A], laps=10, session="race-1", until_s=1.0))
    assert "car-01" in [c.car_id for c in model.active_cars()]


def test_a_car_that_goes_quiet_leaves_the_list_without_a_new_record() -> None:
    clock = Clock()
    model = GridModel(step_m=10.0, clock=clock)
    model.ingest(race([A, B], laps=10, until_s=20.0))
    reader = FrameReader(clock=clock)
    assert reader.next_frame(model).cars is not None
    clock.now += 31.0
    assert reader.next_frame(model).cars == []


def test_after_the_flag_the_banner_says_the_session_has_ended() -> None:
    status = FeedStatus(broker="up", registry="up", topics_found={"t"}, last_message_at=0.0)
    topics = Topics(telemetry="t", analytics="a")
    ended = describe(status, topics, cars=20, now=60.0, finished=True)
    assert ended.banner is not None and ended.banner.startswith("Chequered flag")
    quiet = describe(status, topics, cars=20, now=60.0, finished=False)
    assert quiet.banner is not None and quiet.banner.startswith("No live telemetry")


# --- a session read back from storage -----------------------------------------------------------


def last_two(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each car's last two records, as ``History.last_records`` reads them."""
    out = []
    for car in {r["car_id"] for r in records}:
        out += [r for r in records if r["car_id"] == car][-2:]
    return sorted(out, key=lambda r: (r["timestamp"], r["car_id"]))


def summaries(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lap summaries the analytics job would have published (times from the live timing)."""
    book = TimingBook()
    book.observe_all(records)
    rows = []
    for car in book.sessions["race-1"].cars.values():
        for lap, timing in car.laps.items():
            s1, s2, s3 = timing.sectors
            rows.append(
                {
                    "session_id": "race-1",
                    "car_id": car.car_id,
                    "driver": car.driver,
                    "lap": lap,
                    "lap_time_s": timing.time_s,
                    "sector1_s": s1,
                    "sector2_s": s2,
                    "sector3_s": s3,
                }
            )
    return rows


def test_a_stored_race_is_classified_from_each_cars_last_two_records() -> None:
    records = finished_race()
    live = TimingBook()
    live.observe_all(records)
    expected = live.tower()
    assert expected is not None and [r.car_id for r in expected.rows] == FINISH_ORDER

    frozen = stored_model(GridModel(step_m=10.0), StoredSession(FOUND, tuple(last_two(records))))
    tower = frozen.timing.tower("race-1")
    assert tower is not None
    assert [r.car_id for r in tower.rows] == FINISH_ORDER
    assert [r.status for r in tower.rows] == ["finished"] * 3
    for got, want in zip(tower.rows, expected.rows, strict=True):
        assert got.laps_completed == want.laps_completed == 3
        assert got.gap_to_leader_s == pytest.approx(want.gap_to_leader_s)
    # Without lap summaries there are no lap times: dashes.
    assert tower.rows[0].best_lap_s is None and tower.rows[0].sectors[0].time_s is None
    assert frozen.current_session() == "race-1"


def test_stored_lap_summaries_give_the_lap_and_sector_times() -> None:
    records = finished_race()
    laps = summaries(records)
    stored = StoredSession(FOUND, tuple(last_two(records)), tuple(laps))
    frozen = stored_model(GridModel(step_m=10.0), stored)
    tower = frozen.timing.tower("race-1")
    live = TimingBook()
    live.observe_all(records)
    expected = live.tower()
    assert tower is not None and expected is not None
    for got, want in zip(tower.rows, expected.rows, strict=True):
        assert got.best_lap_s == pytest.approx(want.best_lap_s)
        assert got.last_lap_s == pytest.approx(want.last_lap_s)
        assert [s.colour for s in got.sectors] == [s.colour for s in want.sectors]
    assert tower.best_lap_s == pytest.approx(expected.best_lap_s)
    assert tower.best_lap_car == expected.best_lap_car == "car-03"
    # C's lap 3, from the car's own crossings.
    assert tower.best_lap_s == pytest.approx(crossing_s(C, 3000.0) - crossing_s(C, 2000.0))
    assert len(frozen.laps.session_rows("race-1")) == len(laps)
    # The readouts take the last and best lap from them too.
    frame = FrameReader(selected="car-02").next_frame(frozen)
    assert frame.text["best"] != "\u2014" and frame.text["last"] != "\u2014"


def test_summaries_do_not_replace_laps_the_timing_saw() -> None:
    records = finished_race()
    book = TimingBook()
    book.observe_all(records)
    session = book.sessions["race-1"]
    seen = session.cars["car-01"].laps[2].time_s
    apply_summaries(
        session, [{"car_id": "car-01", "lap": 2, "lap_time_s": 1.0}, {"car_id": "x", "lap": 1}]
    )
    assert session.cars["car-01"].laps[2].time_s == seen


# --- the picker -----------------------------------------------------------------------------


class FakeHistory:
    """A history source whose answers the test gives."""

    def __init__(self, installed: bool = True) -> None:
        self.installed = installed
        self.asked: list[str] = []
        self.future: Future[StoredSession] = Future()

    def session_end(self, session: str) -> Future[StoredSession]:
        self.asked.append(session)
        self.future = Future()
        return self.future


def two_sessions(clock: Clock) -> GridModel:
    model = GridModel(step_m=10.0, clock=clock)
    model.ingest(finished_race("race-1"))
    clock.now += 1.0
    model.ingest(race([B, A], laps=10, session="race-2", until_s=5.0))
    return model


def test_following_live_and_picking_the_live_session() -> None:
    clock = Clock()
    model = two_sessions(clock)
    pick = SessionPick(FakeHistory())  # type: ignore[arg-type]
    assert pick.source(model) == (model, None) and pick.state == FOLLOWING and pick.live
    assert pick.label().startswith("LIVE")
    pick.choose("race-2")
    assert pick.source(model) == (model, "race-2") and pick.state == PINNED
    assert pick.label() == "LIVE \u00b7 session race-2"


def test_a_past_session_in_memory_is_shown_as_it_ended() -> None:
    clock = Clock()
    model = two_sessions(clock)
    history = FakeHistory()
    pick = SessionPick(history)  # type: ignore[arg-type]
    pick.choose("race-1")
    frozen, session = pick.source(model)
    assert frozen is not model and session == "race-1" and pick.state == MEMORY
    assert not pick.live and pick.label().startswith("NOT LIVE \u00b7 session race-1")
    assert history.asked == []
    assert pick.source(model)[0] is frozen  # one copy, not one per frame
    frame = FrameReader(session="race-1").next_frame(frozen)
    assert frame.tower_columns is not None
    assert frame.tower_columns["car_id"] == FINISH_ORDER
    assert frame.tower_columns["status"] == ["FIN"] * 3
    # The cars of race-1 went on to race-2: their last records are those of race-1.
    assert [c for c, _d in frame.cars or []] == ["car-01", "car-02", "car-03"]
    assert frame.text["lap"] == "4"
    # The live model goes on; the frozen one does not.
    model.ingest(race([B, A], laps=10, session="race-2", until_s=9.0))
    assert FrameReader(session="race-1").next_frame(frozen).tower_columns == (frame.tower_columns)


def test_the_picked_live_session_freezes_once_another_one_starts() -> None:
    clock = Clock()
    model = GridModel(step_m=10.0, clock=clock)
    model.ingest(finished_race("race-1"))
    pick = SessionPick(FakeHistory())  # type: ignore[arg-type]
    pick.choose("race-1")
    assert pick.source(model)[0] is model and pick.state == PINNED
    clock.now += 1.0
    model.ingest(race([A], laps=10, session="race-2", until_s=2.0))
    assert pick.source(model)[0] is not model and pick.state == MEMORY


def test_a_stored_session_is_loaded_once_and_influxdb_down_is_asked_again() -> None:
    clock = Clock()
    model = two_sessions(clock)
    history = FakeHistory()
    pick = SessionPick(history, retry_after_s=30.0, clock=clock)  # type: ignore[arg-type]
    pick.choose("race-0")
    empty, session = pick.source(model)
    assert session == "race-0" and pick.state == LOADING and history.asked == ["race-0"]
    assert "loading session race-0" in pick.label() and not empty.active_cars()
    assert pick.source(model)[0] is empty and history.asked == ["race-0"]  # asked once

    history.future.set_result(StoredSession(UNAVAILABLE))
    pick.source(model)
    assert pick.state == NO_HISTORY and "not answering" in pick.label()
    clock.now += 10.0
    pick.source(model)
    assert history.asked == ["race-0"]  # not before retry_after_s
    clock.now += 25.0
    pick.source(model)
    assert history.asked == ["race-0", "race-0"] and pick.state == LOADING

    records = finished_race("race-0")
    history.future.set_result(StoredSession(FOUND, tuple(last_two(records))))
    frozen, _ = pick.source(model)
    assert pick.state == STORED and "as stored in InfluxDB" in pick.label()
    tower = frozen.timing.tower("race-0")
    assert tower is not None and [r.car_id for r in tower.rows] == FINISH_ORDER

    pick.choose(None)
    assert pick.source(model) == (model, None) and pick.state == FOLLOWING


def test_a_session_not_stored_and_no_history() -> None:
    clock = Clock()
    model = two_sessions(clock)
    history = FakeHistory()
    pick = SessionPick(history)  # type: ignore[arg-type]
    pick.choose("race-0")
    pick.source(model)
    history.future.set_result(StoredSession(MISSING))
    pick.source(model)
    pick.source(model)
    assert pick.state == NOT_STORED and history.asked == ["race-0"]
    assert pick.label() == "NOT LIVE \u00b7 no stored records of session race-0"

    without = SessionPick(FakeHistory(installed=False))  # type: ignore[arg-type]
    without.choose("race-0")
    without.source(model)
    assert without.state == NO_HISTORY and "not installed" in without.label()


def test_back_to_a_live_model_without_cars_clears_the_frozen_sessions_cars() -> None:
    from dashboard.live_view import LiveView

    frozen = stored_model(
        GridModel(step_m=10.0), StoredSession(FOUND, tuple(last_two(finished_race())))
    )
    view = LiveView()
    view.apply(FrameReader().next_frame(frozen))
    assert view.tower.source.data["car_id"] == FINISH_ORDER
    assert view.board.values.data["value"][0] == "VER \u00b7 car-01"
    view.show_live(False)
    assert view.no_reference[0][0].data["text"][0].startswith("A session that is not live")

    first = FrameReader(selected="car-01").next_frame(GridModel(step_m=10.0))
    assert first.cars == [] and first.tower_columns is not None
    view.show_live(True)
    view.apply(first)
    assert view.tower.source.data["car_id"] == []
    assert view.board.values.data["value"][:2] == ["Waiting for telemetry", "\u2014"]
    assert view.no_reference[0][0].data["text"][0].startswith("No reference lap yet")
