"""The tower and the car-against-car comparison on the page: what each browser session is sent
(whole columns once, then changed cells), how the Bokeh views take it, a click on a row,
``GET /timing``, and the delta reference (the best valid lap)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from dashboard.car_compare import CompareReader
from dashboard.compare_view import CompareView
from dashboard.delta import delta_between, reference_lap
from dashboard.frames import SELECTED_ROW, FrameReader, row_colours
from dashboard.health import ROUTES
from dashboard.live_view import LiveView
from dashboard.model import GridModel
from dashboard.timing_plugin import timing_snapshot
from dashboard.tower_view import TowerView
from tests.timing_samples import Car, crossing_s, race

A = Car("car-01", "VER", [(0.0, -10.0), (200.0, 9990.0)])  # 50 m/s
B = Car("car-02", "HAM", [(0.0, -20.0), (200.0, 7980.0)])  # 40 m/s
C = Car("car-03", "LEC", [(0.0, -30.0), (200.0, 4970.0)])  # 25 m/s


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fed(records: list[dict[str, Any]]) -> GridModel:
    model = GridModel(step_m=10.0, clock=lambda: 0.0)
    model.ingest(records)
    return model


def at(records: list[dict[str, Any]], lo: float, hi: float) -> list[dict[str, Any]]:
    return [r for r in records if lo < r["sim_time_s"] <= hi + 1e-9]


# --- frames ------------------------------------------------------------------------------------


def test_the_first_frame_has_the_whole_tower_then_only_changed_cells() -> None:
    records = race([C, B, A], laps=10, until_s=30.0)
    model = fed(at(records, -1.0, 20.0))
    clock = Clock()
    reader = FrameReader(clock=clock)
    first = reader.next_frame(model)
    assert first.tower_columns is not None
    assert first.tower_columns["car_id"] == ["car-01", "car-02", "car-03"]
    assert first.tower_columns["gap"][0] == "LEADER"
    # B at 20 s is at 780 m, which A passed at 15.8 s.
    assert first.tower_columns["gap"][1] == f"+{20.0 - crossing_s(A, 780.0):.3f}" == "+4.200"
    assert first.tower_highlight == [SELECTED_ROW, *row_colours(["x", "y", "z"], None)[1:]]
    assert first.tower_line is not None and first.tower_line.startswith("Best sectors  S1")
    assert "\nTheoretical best " in first.tower_line

    model.ingest(at(records, 20.0, 21.0))
    clock.now += 1.0
    frame = reader.next_frame(model)
    assert frame.tower_columns is None and frame.tower_patch is not None
    # At 21 s B is at 820 m (A there at 16.6 s), C at 495 m (A there at 10.1 s).
    assert frame.tower_patch["gap"] == [(1, "+4.400"), (2, "+10.900")]
    assert "driver" not in frame.tower_patch and frame.tower_highlight is None

    reader.select("car-03")
    frame = reader.next_frame(model)
    assert frame.tower_highlight is not None and frame.tower_highlight[2] == SELECTED_ROW
    assert frame.tower_patch is None  # the same tower


def test_the_tower_follows_a_picked_session() -> None:
    clock = Clock()
    model = GridModel(step_m=10.0, clock=clock)
    model.ingest(race([A, B], laps=10, until_s=5.0, session="s-1"))
    clock.now += 1.0  # the newer session is the live one
    model.ingest(race([C], laps=10, until_s=5.0, session="s-2"))
    reader = FrameReader(clock=Clock())
    assert reader.next_frame(model).tower_columns["car_id"] == ["car-03"]  # type: ignore[index]
    reader.show_session("s-1")
    assert reader.next_frame(model).tower_columns["car_id"] == [  # type: ignore[index]
        "car-01",
        "car-02",
    ]


def test_views_take_the_tower_and_a_click_picks_the_row_car() -> None:
    model = fed(race([A, B, C], laps=10, until_s=30.0))
    view = LiveView()
    picked: list[str] = []
    view.tower.on_pick = picked.append
    reader = FrameReader(clock=Clock())
    view.apply(reader.next_frame(model))
    source = view.tower.source.data
    assert source["car_id"] == ["car-01", "car-02", "car-03"]
    assert source["status"] == ["RUN", "RUN", "RUN"] and source["tyre"][0] == "M 1"
    assert view.tower.rows_source.data["bg"][0] == SELECTED_ROW

    # The browser resolves the click to the car of the row it shows and writes that car id
    # to the pick source; the server takes the id, whatever its own rows are by then.
    fig = view.tower.figure
    (callback,) = fig.js_event_callbacks["tap"]
    assert callback.args["pick"].name == "timing-tower-pick" and "car_id" in callback.code
    view.tower.source.data = {**view.tower.source.data, "car_id": ["car-03", "car-02", "car-01"]}
    view.tower.pick_source.data = {"car_id": ["car-02"], "n": [1]}
    assert picked == ["car-02"]
    view.tower.pick_source.data = {"car_id": ["car-02"], "n": [2]}  # the same row again
    assert picked == ["car-02", "car-02"]


def test_tower_view_patches_cells_and_resizes_for_more_cars() -> None:
    tower = TowerView()
    columns = {"car_id": ["a"], "gap": ["LEADER"], **{k: ["x"] for k in ("pos", "driver")}}
    tower.show(columns, None, ["#000"], "line")
    tower.show(None, {"gap": [(0, "+1.000")]}, None, None)
    assert tower.source.data["gap"] == ["+1.000"]
    assert tower.session_source.data["text"] == ["line"]
    many = {name: [str(i) for i in range(24)] for name in ("car_id", "gap", "pos", "driver")}
    tower.show(many, None, None, None)
    assert tower.figure.height > 600 and len(tower.rows_source.data["top"]) == 24


# --- GET /timing -------------------------------------------------------------------------------


def test_timing_json_is_the_tower_and_the_health_plugin_serves_it() -> None:
    model = fed(race([A, B, C], laps=10, until_s=45.0))
    body = timing_snapshot(model)
    assert body is not None
    found = json.loads(json.dumps(body))
    assert [c["car_id"] for c in found["cars"]] == ["car-01", "car-02", "car-03"]
    assert found["cars"][2]["gap"] == "+1 LAP" and found["sessions"] == ["race-1"]
    assert found["cars"][1]["gap_to_leader_s"] == pytest.approx(45.0 - crossing_s(A, 1780.0))
    assert timing_snapshot(model, "nope") is None
    assert {path for path, _handler, _kw in ROUTES} == {"/health", "/timing"}


# --- the delta reference -----------------------------------------------------------------------


def test_the_delta_reference_is_the_best_valid_lap() -> None:
    # P: lap 1 from lights out at 50 m/s (20.2 s, a standing start); lap 2 ends in the pit
    # lane (20 m/s from 1,900 m: 23.0 s, the in-lap); lap 3 stops 2.5 s in the box at
    # 2,050 m and leaves the pit lane at 2,200 m, then 40 m/s (32.5 s, the out-lap); lap 4 at
    # 40 m/s (25.0 s): the only valid lap, slower than lap 1.
    p = Car(
        "car-04",
        "NOR",
        [
            (0.0, -10.0),
            (38.2, 1900.0),
            (43.2, 2000.0),
            (45.7, 2050.0),
            (48.2, 2050.0),
            (55.7, 2200.0),
            (255.7, 10200.0),
        ],
        pit=[(38.2, 45.7, "pit_lane"), (45.7, 48.2, "pit_stop"), (48.2, 55.7, "pit_lane")],
    )
    records = race([p], laps=10, until_s=101.0)
    model = fed(records)
    car, timing = model.cars["car-04"], model.timing.car("race-1", "car-04")
    assert timing is not None
    times = {lap.lap: round(lap.time_s, 6) for lap in car.completed}
    assert times == {1: 20.2, 2: 23.0, 3: 32.5, 4: 25.0}
    assert [timing.laps[n].valid for n in (1, 2, 3, 4)] == [False, False, False, True]
    assert car.best is not None and car.best.lap == 1  # the best lap time shown
    ref = reference_lap(car, timing)
    assert ref is not None and ref.lap == 4  # the delta's reference

    # While the car has no valid lap, its best complete lap is the reference.
    early = fed(at(records, -1.0, 30.0))
    ref = reference_lap(early.cars["car-04"], early.timing.car("race-1", "car-04"))
    assert ref is not None and ref.lap == 1


def test_lap_summary_flags_rule_a_lap_out_too() -> None:
    records = race([A], laps=10, until_s=65.0)  # laps 1 (20.2 s), 2 and 3 (20 s)
    model = fed(records)
    car = model.cars["car-01"]
    timing = model.timing.car("race-1", "car-01")
    best = reference_lap(car, timing)
    assert best is not None and best.lap in (2, 3)
    flagged = {("race-1", "car-01", best.lap): {"out_lap": True}}
    other = reference_lap(car, timing, flagged)
    assert other is not None and other.lap in (2, 3) and other.lap != best.lap


# --- car against car ---------------------------------------------------------------------------


def test_car_against_car_compares_the_selected_car_with_the_car_ahead() -> None:
    records = race([A, B], laps=10, until_s=30.0)
    model = fed(records)
    tower = model.timing.tower()
    reader = CompareReader()
    frame = reader.next(model, "car-02", tower, {"car-01", "car-02"})
    # A is on lap 2, B too (B at 1,180 m): both current laps, lap 2.
    assert frame.title == "HAM (A) vs VER (B), lap 2"
    assert frame.reset == {"a": True, "b": True} and frame.traces is not None
    assert frame.delta is not None and frame.delta_reset
    d = np.array(frame.delta["distance_m"])
    delta = np.array(frame.delta["delta"])
    # On lap 2, HAM covers 10 m in 0.25 s, VER in 0.2 s: +0.05 s per 10 m.
    assert d[0] == 0.0 and d[-1] == 180.0
    np.testing.assert_allclose(delta, 0.005 * d, atol=1e-3)
    model.ingest(at(race([A, B], laps=10, until_s=31.0), 30.0, 31.0))
    later = reader.next(model, "car-02", tower, {"car-01", "car-02"})
    assert later.title is None and not later.delta_reset
    assert later.delta is not None and later.delta["distance_m"][0] == 190.0


def test_in_a_race_the_car_ahead_shows_the_lap_the_other_is_on() -> None:
    records = race([A, B], laps=10, until_s=22.0)  # A crossed at 20.2 s, B is on lap 1
    model = fed(records)
    frame = CompareReader().next(model, "car-02", model.timing.tower(), {"car-01", "car-02"})
    assert frame.title == "HAM (A) vs VER (B), lap 1"
    assert frame.traces is not None and frame.traces["b"]["distance_m"][-1] == pytest.approx(1000.0)


def test_a_picked_car_and_no_car_to_compare() -> None:
    model = fed(race([A, B, C], laps=10, until_s=10.0))
    reader = CompareReader()
    reader.choose("car-03")
    frame = reader.next(model, "car-01", model.timing.tower(), {"car-01", "car-02", "car-03"})
    assert frame.title == "VER (A) vs LEC (B), lap 1"
    alone = fed(race([A], laps=10, until_s=10.0))
    frame = CompareReader().next(alone, "car-01", alone.timing.tower(), {"car-01"})
    assert frame.title is not None and frame.title.startswith("Car vs car: no second car")


def test_compare_view_streams_increments() -> None:
    view = LiveView()
    model = fed(race([A, B], laps=10, until_s=30.0))
    reader = FrameReader(selected="car-02", clock=Clock())
    view.apply(reader.next_frame(model))
    assert view.compare.sources["a"].data["distance_m"][-1] == 180.0
    assert "HAM (A) vs VER (B)" in view.compare.speed_fig.title.text
    assert isinstance(view.compare, CompareView)
    assert len(view.compare.delta_source.data["delta"]) == 19


def test_delta_between_two_stored_laps() -> None:
    d = np.arange(0.0, 101.0, 10.0)
    t_a = d / 10.0
    d_b = np.arange(0.0, 81.0, 20.0)
    t_b = d_b / 12.5
    dist, delta = delta_between(d, t_a, d_b, t_b)
    assert dist.tolist() == [0, 10, 20, 30, 40, 50, 60, 70, 80]
    np.testing.assert_allclose(delta, dist / 10.0 - dist / 12.5)
    assert delta_between(d, t_a, d_b[:1], t_b[:1])[0].size == 0
    assert not math.isnan(delta[-1])
