"""The timing tower against an independent computation from the raw records (and from the cars'
distance functions) on hand-made sessions: two cars at known crossing times, a lapped car, a
pit stop, a car that retires, the classification after the flag, sector colours, practice,
and streams without the race fields."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from typing import Any

import pytest

from dashboard.timing import (
    DASH,
    CrossingTrace,
    TimingBook,
    Tower,
    gap_text,
    sector_text,
    tower_json,
)
from tests.timing_samples import HZ, LAP_M, START_US, Car, crossing_s, race

V2_FIELDS = ("session_kind", "tyre_compound", "tyre_age_laps", "pit_status", "pit_stops")


def tower_of(records: Sequence[dict[str, Any]]) -> Tower:
    book = TimingBook()
    book.observe_all(records)
    tower = book.tower()
    assert tower is not None
    return tower


def at(records: Sequence[dict[str, Any]], until_s: float) -> list[dict[str, Any]]:
    return [r for r in records if r["sim_time_s"] <= until_s + 1e-9]


# --- the independent computation: plain loops over one car's records -----------------------------


def records_of(records: Sequence[dict[str, Any]], car: str) -> list[dict[str, Any]]:
    return [r for r in records if r["car_id"] == car]


def passed_at_s(samples: Sequence[dict[str, Any]], total_m: float) -> float:
    """Session time at which the car passed ``total_m``: linear between the samples around it."""
    for a, b in itertools.pairwise(samples):
        if a["total_distance_m"] <= total_m <= b["total_distance_m"] and (
            b["total_distance_m"] > a["total_distance_m"]
        ):
            w = (total_m - a["total_distance_m"]) / (b["total_distance_m"] - a["total_distance_m"])
            return a["sim_time_s"] + w * (b["sim_time_s"] - a["sim_time_s"])
    return math.nan


def laps_and_sectors(samples: Sequence[dict[str, Any]]) -> list[dict[str, float]]:
    """Per completed lap: its time and sector times (from lights out for lap 1 from the grid,
    sector boundaries halfway between samples, sector 3 ending at the interpolated line)."""
    out = []
    start = 0.0 if samples[0]["lap_distance_m"] < 0 else math.nan
    bounds = {1: start}
    lap = samples[0]["lap"]
    for a, b in itertools.pairwise(samples):
        if b["lap"] == a["lap"] + 1:
            line = b["total_distance_m"] - b["lap_distance_m"]
            cross = passed_at_s([a, b], line)
            out.append(
                {
                    "lap": a["lap"],
                    "time": cross - bounds[1],
                    "s1": bounds.get(2, math.nan) - bounds[1],
                    "s2": bounds.get(3, math.nan) - bounds.get(2, math.nan),
                    "s3": cross - bounds.get(3, math.nan),
                }
            )
            bounds = {1: cross}
            lap = b["lap"]
        elif b["sector"] == a["sector"] + 1:
            bounds[b["sector"]] = (a["sim_time_s"] + b["sim_time_s"]) / 2
    # The lap in progress: the sectors it has done so far.
    out.append(
        {
            "lap": lap,
            "time": math.nan,
            "s1": bounds.get(2, math.nan) - bounds[1],
            "s2": bounds.get(3, math.nan) - bounds.get(2, math.nan),
            "s3": math.nan,
        }
    )
    return out


def best_of(laps: list[dict[str, float]], name: str) -> float:
    return min((lap[name] for lap in laps if math.isfinite(lap[name])), default=math.nan)


def gap_s(records: Sequence[dict[str, Any]], behind: str, ahead: str) -> float:
    """The time between ``ahead`` and ``behind`` passing the point where ``behind`` is now."""
    mine = records_of(records, behind)
    now = mine[-1]
    return now["sim_time_s"] - passed_at_s(records_of(records, ahead), now["total_distance_m"])


# --- the distance grid -------------------------------------------------------------------------


def test_crossing_trace_interpolates_each_grid_point_between_samples() -> None:
    trace = CrossingTrace(step_m=5.0, capacity=8)
    trace.add(-7.0, 0.0)
    trace.add(3.0, 1.0)  # passes -5 and 0: at 0.2 and 0.7
    trace.add(3.0, 2.0)  # stands still until 2.0
    trace.add(13.0, 3.0)  # passes 5 and 10: at 2.2 and 2.7
    assert trace.time_at(-5.0) == pytest.approx(0.2)
    assert trace.time_at(0.0) == pytest.approx(0.7)
    assert trace.time_at(2.5) == pytest.approx(0.7 + 0.5 * (2.2 - 0.7))  # between grid points
    assert trace.time_at(10.0) == pytest.approx(2.7)
    assert trace.time_at(12.0) == pytest.approx(2.9)  # past the grid, to the latest sample
    assert math.isnan(trace.time_at(13.5))  # not there yet
    assert math.isnan(trace.time_at(-6.0))  # before it was seen
    for k in range(3, 12):
        trace.add(13.0 + 5 * k, 3.0 + k)
    assert math.isnan(trace.time_at(0.0))  # older than the ring's 8 points
    assert trace.time_at(60.0) == pytest.approx(12.4)  # 58 m at 12 s, 63 m at 13 s


# --- a race ------------------------------------------------------------------------------------

A = Car("car-01", "VER", [(0.0, -10.0), (200.0, 9990.0)])  # 50 m/s from 10 m behind the line
B = Car("car-02", "HAM", [(0.0, -20.0), (200.0, 7980.0)])  # 40 m/s
C = Car("car-03", "LEC", [(0.0, -30.0), (200.0, 4970.0)])  # 25 m/s


def test_two_cars_at_known_crossing_times() -> None:
    records = race([B, A], laps=10, until_s=30.0)
    tower = tower_of(records)
    assert [r.car_id for r in tower.rows] == ["car-01", "car-02"]
    leader, second = tower.rows
    assert leader.leader and leader.gap_text == "LEADER" and leader.gap_to_leader_s == 0.0
    # At 30 s B is at 1,180 m; A passed 1,180 m at (1,180 + 10) / 50 = 23.8 s.
    assert second.gap_to_leader_s == pytest.approx(30.0 - crossing_s(A, 1180.0))
    assert second.gap_to_leader_s == pytest.approx(6.2)
    assert second.gap_to_leader_s == pytest.approx(gap_s(records, "car-02", "car-01"))
    assert second.interval_s == second.gap_to_leader_s
    assert second.gap_text == "+6.200"
    assert (leader.laps_completed, second.laps_completed) == (1, 1)
    # Lap 1 from lights out: A reaches 1,000 m at 20.2 s, B at 25.5 s.
    assert leader.last_lap_s == pytest.approx(20.2) and leader.best_lap_s == pytest.approx(20.2)
    assert crossing_s(B, 1000.0) == 25.5
    assert second.last_lap_s == pytest.approx(25.5)
    assert second.tyre_compound == "medium" and second.tyre_age_laps == 1
    assert second.pit_stops == 0 and second.status == "on_track"
    assert tower.lap_length_m == LAP_M


def test_the_gap_moves_with_every_sample_not_only_at_grid_points() -> None:
    records = race([A, B], laps=10, until_s=40.0)
    for until in (12.3, 17.7, 33.1, 40.0):
        tower = tower_of(at(records, until))
        expected = gap_s(at(records, until), "car-02", "car-01")
        assert tower.rows[1].gap_to_leader_s == pytest.approx(expected, abs=1e-6)
        b_now = B.distance(until)
        assert expected == pytest.approx(until - crossing_s(A, b_now), abs=1e-6)


def test_sectors_and_laps_against_the_raw_records() -> None:
    records = race([A, B], laps=10, until_s=45.0)
    tower = tower_of(records)
    for row in tower.rows:
        laps = laps_and_sectors(records_of(records, row.car_id))
        assert row.laps_completed == len(laps) - 1
        assert row.last_lap_s == pytest.approx(laps[-2]["time"])
        assert row.best_lap_s == pytest.approx(best_of(laps, "time"))
        # Sum of the best sectors, those of the lap in progress included.
        best = [best_of(laps, s) for s in ("s1", "s2", "s3")]
        assert row.theoretical_best_s == pytest.approx(sum(best))
    # A at 45 s: lap 3 at 240 m, so its S1..S3 shown are lap 2's, not yet overwritten.
    a = tower.rows[0]
    a_laps = laps_and_sectors(records_of(records, "car-01"))
    assert [c.lap for c in a.sectors] == [2, 2, 2]
    assert [c.current for c in a.sectors] == [False, False, False]
    assert [c.time_s for c in a.sectors] == pytest.approx(
        [a_laps[1]["s1"], a_laps[1]["s2"], a_laps[1]["s3"]]
    )
    # Lap 1's S1 runs from lights out: A reaches 333.3 m of lap 1 between 6.8 and 6.9 s.
    assert a_laps[0]["s1"] == pytest.approx(6.85)


def test_a_lapped_car_shows_laps_not_seconds() -> None:
    records = race([A, B, C], laps=10, until_s=45.0)
    tower = tower_of(records)
    assert [r.car_id for r in tower.rows] == ["car-01", "car-02", "car-03"]
    c = tower.rows[2]
    # At 45 s A is at 2,240 m, C at 1,095 m: 1,145 m behind, a lap and more.
    assert c.laps_behind_leader == 1 and c.gap_to_leader_s is None and c.gap_text == "+1 LAP"
    # B (1,780 m) is 685 m ahead of C: the interval is in seconds, at C's point.
    assert c.laps_behind_ahead == 0
    assert 45.0 - crossing_s(B, 1095.0) == 17.125
    assert c.interval_s == pytest.approx(17.125)
    assert gap_text(None, 2) == "+2 LAPS" and gap_text(None) == DASH


def test_a_pit_stop_flags_the_laps_changes_tyres_and_costs_time() -> None:
    # P: 50 m/s to 900 m, 20 m/s in the pit lane to the box at 1,050 m, 2.5 s stationary,
    # 20 m/s to the exit at 1,200 m, then 50 m/s.
    p = Car(
        "car-04",
        "NOR",
        [
            (0.0, -10.0),
            (18.2, 900.0),
            (25.7, 1050.0),
            (28.2, 1050.0),
            (35.7, 1200.0),
            (235.7, 11200.0),
        ],
        pit=[(18.2, 25.7, "pit_lane"), (25.7, 28.2, "pit_stop"), (28.2, 35.7, "pit_lane")],
    )
    records = race([A, p], laps=10, until_s=75.0)  # lap 3 ends at 71.7 s

    in_box = tower_of(at(records, 27.0)).row("car-04")
    assert in_box is not None and in_box.status == "pit_lane"
    assert in_box.pit_status == "pit_stop" and in_box.tyre_compound == "hard"
    assert in_box.pit_stops == 0  # completed when it leaves the box
    # Standing in the box, the gap grows with the clock: A passed 1,050 m at 21.2 s.
    assert in_box.gap_to_leader_s == pytest.approx(27.0 - crossing_s(A, 1050.0))

    out = tower_of(at(records, 40.0)).row("car-04")
    assert out is not None and out.status == "on_track" and out.pit_stops == 1
    assert out.gap_to_leader_s == pytest.approx(40.0 - crossing_s(A, p.distance(40.0)))
    assert out.gap_to_leader_s == pytest.approx(11.5)

    book = TimingBook()
    book.observe_all(records)
    car = book.car("race-1", "car-04")
    assert car is not None
    lap1, lap2, lap3 = car.laps[1], car.laps[2], car.laps[3]
    assert (lap1.in_lap, lap1.out_lap, lap1.standing_start) == (True, False, True)
    assert (lap2.in_lap, lap2.out_lap) == (False, True)
    assert lap3.valid and not lap1.valid and not lap2.valid
    assert lap1.time_s == pytest.approx(crossing_s(p, 1000.0))  # from lights out
    assert lap2.time_s == pytest.approx(crossing_s(p, 2000.0) - crossing_s(p, 1000.0))


def test_a_car_that_stops_sending_drops_to_the_bottom() -> None:
    r = Car("car-05", "SAI", [(0.0, -5.0), (200.0, 13995.0)], stop_sending_s=20.0)  # 70 m/s
    records = race([A, B, r], laps=10, until_s=30.0)
    early = tower_of(at(records, 24.0))  # 4 s silent: still in the race
    assert early.rows[0].car_id == "car-05" and early.rows[0].status == "on_track"
    late = tower_of(records)  # 10 s silent
    assert [row.car_id for row in late.rows] == ["car-01", "car-02", "car-05"]
    gone = late.rows[2]
    assert gone.status == "stopped" and gone.gap_to_leader_s is None and gone.interval_s is None
    assert late.rows[0].leader and late.rows[1].interval_s == late.rows[1].gap_to_leader_s

    retired = [{**rec, "car_status": "retired"} if rec["car_id"] == "car-02" else rec
               for rec in at(records, 15.0)]  # fmt: skip
    tower = tower_of(retired)
    assert tower.rows[-1].car_id == "car-02" and tower.rows[-1].status == "stopped"


def test_the_classification_after_the_flag_is_the_order_of_the_finishing_crossings() -> None:
    a = Car("car-01", "VER", [(0.0, -10.0), (200.0, 9990.0)])  # 50 m/s, wins
    b = Car("car-02", "HAM", [(0.0, -20.0), (200.0, 9780.0)])  # 49 m/s
    # D is slower than B at first and faster from 30 s: it passes B before the flag.
    d = Car("car-03", "LEC", [(0.0, -30.0), (30.0, 1350.0), (200.0, 10360.0)])
    # C, a lap down, is 10 m behind the leader when the leader takes the flag at 60.2 s: it
    # crosses the line before B and D, but with a lap less.
    c = Car("car-04", "NOR", [(0.0, -40.0), (60.2, 1990.0), (200.0, 6184.0)])
    cars = [a, b, d, c]
    records = race(cars, laps=3)
    assert {r["car_id"] for r in records if r["car_status"] == "finished"} == {
        "car-01",
        "car-02",
        "car-03",
        "car-04",
    }
    # Independently: each car's last record is its first past its last line.
    finishes = {}
    for car in cars:
        mine = records_of(records, car.car_id)
        last, before = mine[-1], mine[-2]
        line = last["total_distance_m"] - last["lap_distance_m"]
        finishes[car.car_id] = (last["lap"] - 1, passed_at_s([before, last], line))
    crossing_order = sorted(finishes, key=lambda k: finishes[k][1])
    assert crossing_order == ["car-01", "car-04", "car-03", "car-02"]
    classification = sorted(finishes, key=lambda k: (-finishes[k][0], finishes[k][1]))
    assert classification == ["car-01", "car-03", "car-02", "car-04"]

    tower = tower_of(records)
    assert [r.car_id for r in tower.rows] == classification
    assert all(r.status == "finished" for r in tower.rows)
    for row in tower.rows[1:3]:
        laps, t = finishes[row.car_id]
        assert row.gap_to_leader_s == pytest.approx(t - finishes["car-01"][1])
        assert row.laps_completed == laps == 3
    assert tower.rows[2].interval_s == pytest.approx(finishes["car-02"][1] - finishes["car-03"][1])
    assert tower.rows[3].gap_text == "+1 LAP" and tower.rows[3].laps_completed == 2


def test_during_the_flag_finished_and_running_cars_keep_the_race_order() -> None:
    a = Car("car-01", "VER", [(0.0, -10.0), (200.0, 9990.0)])
    b = Car("car-02", "HAM", [(0.0, -20.0), (200.0, 9780.0)])
    records = race([a, b], laps=3)
    t_a = crossing_s(a, 3000.0)  # 60.2 s
    tower = tower_of(at(records, 61.0))
    assert [r.car_id for r in tower.rows] == ["car-01", "car-02"]
    assert [r.status for r in tower.rows] == ["finished", "on_track"]
    # B, still on its last lap, against the leader's trace up to the flag.
    assert tower.rows[1].gap_to_leader_s == pytest.approx(61.0 - crossing_s(a, b.distance(61.0)))
    assert t_a == pytest.approx(60.2)


def test_catching_the_car_ahead() -> None:
    fast = Car("car-02", "HAM", [(0.0, -300.0), (200.0, 10100.0)])  # 52 m/s, 300 m back
    records = race([A, fast], laps=10, until_s=50.0)
    row = tower_of(records).rows[1]
    assert row.car_id == "car-02"
    # The interval at a point d is (d + 300) / 52 - (d + 10) / 50: one lap earlier it was
    # 1,000 / 50 - 1,000 / 52 larger.
    assert row.closing_s_per_lap == pytest.approx(1000 / 50 - 1000 / 52, abs=1e-6)
    assert row.catching
    slower = tower_of(race([A, B], laps=10, until_s=50.0)).rows[1]
    assert not slower.catching and slower.closing_s_per_lap == pytest.approx(1000 / 50 - 1000 / 40)


# --- sector colours ----------------------------------------------------------------------------


def test_sector_colours_purple_green_yellow() -> None:
    # Three cars with their sectors at chosen speeds (corners on sample times). Car 1 is fast
    # in S1, car 2 in S2; car 3 is slow everywhere but improves on lap 2's S3.
    third = LAP_M / 3

    def car(car_id: str, driver: str, laps: list[list[float]], start: float) -> Car:
        corners = [(0.0, start)]
        t, d = 0.0, start
        for lap, speeds in enumerate(laps):
            for k, v in enumerate(speeds):
                end = lap * LAP_M + (k + 1) * third
                dt = round((end - d) / v * HZ) / HZ  # a corner on a sample
                t, d = t + dt, end
                corners.append((t, d))
        corners.append((t + 100.0, d + 100.0 * laps[-1][-1]))
        return Car(car_id, driver, corners)

    cars = [
        # Lap 3's S1 slower than its first two: yellow while shown (at 70 s it is on lap 4
        # before the end of S1).
        car("car-01", "VER", [[60.0, 40.0, 40.0], [60.0, 40.0, 40.0], [50.0, 40.0, 40.0]], -10.0),
        car("car-02", "HAM", [[40.0, 60.0, 40.0]] * 3, -20.0),
        car("car-03", "LEC", [[35.0, 35.0, 45.0]] * 3, -30.0),
    ]
    records = race(cars, laps=10, until_s=70.0)
    tower = tower_of(records)
    expected: dict[str, list[dict[str, float]]] = {
        c.car_id: laps_and_sectors(records_of(records, c.car_id)) for c in cars
    }
    best = {s: min(best_of(laps, s) for laps in expected.values()) for s in ("s1", "s2", "s3")}
    for row in tower.rows:
        laps = expected[row.car_id]
        for k, s in enumerate(("s1", "s2", "s3")):
            cell = row.sectors[k]
            if cell.time_s is None:
                continue
            mine = best_of(laps, s)
            colour = (
                "purple"
                if cell.time_s <= best[s] + 1e-9
                else "green"
                if cell.time_s <= mine + 1e-9
                else "yellow"
            )
            assert cell.colour == colour, (row.car_id, s)
    colours = {r.car_id: [c.colour for c in r.sectors] for r in tower.rows}
    assert colours["car-02"][1] == "purple" and colours["car-02"][0] == "green"
    assert tower.best_sectors_s == pytest.approx([best["s1"], best["s2"], best["s3"]])
    assert tower.theoretical_best_s == pytest.approx(sum(best.values()))
    assert tower.best_sector_cars[:2] == ("car-01", "car-02")
    assert colours["car-01"][0] == "yellow"
    assert colours["car-03"][2] == "purple"  # the fastest in S3


# --- other sessions and other sources ----------------------------------------------------------


def test_practice_orders_by_best_lap_and_gaps_are_best_lap_differences() -> None:
    slow = Car("car-01", "VER", [(0.0, 500.0), (200.0, 8500.0)])  # 40 m/s: 25 s laps
    quick = Car("car-02", "HAM", [(0.0, 100.0), (200.0, 10100.0)])  # 50 m/s: 20 s laps
    none_yet = Car("car-03", "LEC", [(0.0, 50.0), (200.0, 50.0 + 200 * 4.0)])
    records = race([slow, quick, none_yet], laps=10, kind="practice", until_s=60.0)
    tower = tower_of(records)
    assert not tower.race
    assert [r.car_id for r in tower.rows] == ["car-02", "car-01", "car-03"]
    q, s, n = tower.rows
    # Lap 1 of a practice car starts mid-lap: not a lap time.
    assert q.best_lap_s == pytest.approx(20.0) and s.best_lap_s == pytest.approx(25.0)
    assert q.leader and s.gap_to_leader_s == pytest.approx(5.0)
    assert s.interval_s == pytest.approx(5.0)
    assert n.best_lap_s is None and n.gap_text == DASH and n.last_lap_s is None
    assert n.status == "on_track"


def test_v1_records_and_a_source_without_sectors_show_dashes() -> None:
    def v1(rec: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in rec.items() if k not in (*V2_FIELDS, "car_status")}
        out["sector"] = 1  # no sector channel
        return out

    records = [v1(r) for r in race([A, B], laps=10, until_s=45.0)]
    tower = tower_of(records)
    assert tower.session_kind == "unknown"
    assert tower.race  # cars seen on a grid behind the line
    for row in tower.rows:
        assert row.tyre_compound is None and row.tyre_age_laps is None
        assert row.pit_stops is None and row.pit_status is None
        assert all(c.time_s is None and c.colour == "none" for c in row.sectors)
        assert row.theoretical_best_s is None
        assert row.last_lap_s is not None  # lap times need only the line
    assert tower.theoretical_best_s is None and tower.best_sectors_s == (None, None, None)
    assert sector_text(None) == DASH

    # A v1 record read with the v2 reader schema carries the v2 defaults: still no pit stops.
    defaults = {
        "session_kind": "unknown",
        "tyre_compound": "unknown",
        "tyre_age_laps": 0,
        "pit_status": "none",
        "pit_stops": 0,
        "car_status": "running",
    }
    tower = tower_of([{**r, **defaults} for r in records])
    assert all(r.pit_stops is None and r.tyre_compound is None for r in tower.rows)


def test_json_has_the_fields_the_issue_lists() -> None:
    tower = tower_of(race([A, B, C], laps=10, until_s=45.0))
    found = json.loads(json.dumps(tower_json(tower)))
    car = found["cars"][1]
    for name in (
        "position",
        "gap_to_leader_s",
        "interval_s",
        "laps_completed",
        "last_lap_s",
        "best_lap_s",
        "sectors",
        "tyre_compound",
        "tyre_age_laps",
        "pit_stops",
        "status",
    ):
        assert name in car
    assert car["position"] == 2 and car["car_id"] == "car-02"
    assert car["sectors"][0]["colour"] in ("purple", "green", "yellow")
    assert found["theoretical_best_s"] == pytest.approx(tower.theoretical_best_s)
    assert found["cars"][2]["gap"] == "+1 LAP" and found["cars"][2]["gap_to_leader_s"] is None
    assert tower_json(None) == {"session_id": None, "cars": []}


def test_the_tower_is_computed_once_per_refresh_for_every_reader() -> None:
    records = race([A, B], laps=10, until_s=20.0)
    book = TimingBook(refresh_s=0.25)
    book.observe_all(records[:100])
    first = book.tower(now=10.0)
    book.observe_all(records[100:])
    assert book.tower(now=10.1) is first  # within the refresh period
    second = book.tower(now=10.3)
    assert second is not first and second is not None
    assert book.tower(now=99.0) is second  # nothing new since
    assert book.newest_session == "race-1" and book.tower("other") is None


def test_sessions_are_timed_apart() -> None:
    book = TimingBook(keep_sessions=2)
    book.observe_all(race([A], laps=10, until_s=5.0, session="s-1"))
    book.observe_all(race([B], laps=10, until_s=5.0, session="s-2"))
    book.observe_all(race([C], laps=10, until_s=5.0, session="s-3"))
    assert list(book.sessions) == ["s-2", "s-3"] and book.newest_session == "s-3"
    tower = book.tower("s-2")
    assert tower is not None and [r.car_id for r in tower.rows] == ["car-02"]
    assert START_US > 0
