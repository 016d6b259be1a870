"""What each session is sent: full state on the first frame, then only increments; and how a
frame lands in the Bokeh sources of the live view."""

from __future__ import annotations

import math

import pytest

from dashboard.frames import TRAIL_EVERY, FrameReader, delta_sign, fmt_delta, fmt_lap_time
from dashboard.live_view import LiveView
from dashboard.model import GridModel
from tests.dashboard_samples import records


def model_with(ticks: range, cars: tuple[str, ...] = ("car-01",)) -> GridModel:
    model = GridModel(step_m=10.0)
    for car in cars:
        model.ingest(records(ticks, car=car, driver="HAM" if car == "car-02" else "VER"))
    return model


def test_lap_time_and_delta_formats() -> None:
    assert fmt_lap_time(86.79) == "1:26.790"
    assert fmt_lap_time(5.04, 1) == "0:05.0"
    assert fmt_lap_time(None) == fmt_lap_time(math.nan) == "\u2014"
    assert fmt_delta(0.234) == "+0.23" and fmt_delta(-1.5) == "-1.50"
    assert fmt_delta(math.nan) == "\u2014"
    assert fmt_delta(-0.001) == "+0.00"
    assert delta_sign(-0.001) == "" and delta_sign(0.2) == "loss" and delta_sign(-0.2) == "gain"


def test_first_frame_has_everything_then_nothing_until_data_arrives() -> None:
    model = model_with(range(0, 20), cars=("car-01", "car-02"))
    reader = FrameReader()
    first = reader.next_frame(model)
    assert first.cars == [("car-01", "VER"), ("car-02", "HAM")]
    assert first.selected == "car-01"
    assert first.positions == {"x": [57.0, 57.0], "y": [-57.0, -57.0]}
    assert first.trace_reset and first.trace is not None
    # A standing start at 10 m/s, last sample at 5.7 s: grid points 0..50 m.
    assert first.trace["distance_m"] == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    assert first.reference == {"distance_m": [], "speed_kmh": [], "throttle": [], "brake": []}
    assert first.text["lap"] == "1" and first.text["speed"] == "36"
    assert first.text["timer"] == "0:05.7" and first.text["best"] == "\u2014"
    assert reader.next_frame(model).empty  # nothing new in the model


def test_later_frames_stream_only_new_points_and_changed_text() -> None:
    model = model_with(range(0, 20))
    reader = FrameReader()
    reader.next_frame(model)
    model.ingest(records(range(20, 24)))  # 6.0 .. 6.9 s: 60 m is passed
    frame = reader.next_frame(model)
    assert frame.cars is None  # same grid
    assert not frame.trace_reset
    assert frame.trace is not None and frame.trace["distance_m"] == [60.0]
    assert frame.trace["speed_kmh"] == [36.0] and frame.trace["throttle"] == [100.0]
    assert "lap" not in frame.text and "driver" not in frame.text  # unchanged
    assert frame.text["timer"] == "0:06.9"
    # G-G trail: one sample in TRAIL_EVERY, by sequence number (samples 20..23 are new).
    assert frame.trail is not None and len(frame.trail["g_lat"]) == 1
    assert frame.trail["g_lat"] == [0.2] and 20 % TRAIL_EVERY == 0


def test_a_new_lap_resets_the_trace_and_brings_the_reference_and_delta() -> None:
    model = model_with(range(0, 30))
    reader = FrameReader()
    reader.next_frame(model)
    model.ingest(records(range(30, 45)))  # lap 1 ends at 10.1 s; now at 13.2 s
    frame = reader.next_frame(model)
    assert frame.trace_reset
    assert frame.reference is not None and frame.reference["distance_m"][-1] == 100.0
    assert frame.trace is not None and frame.trace["distance_m"][0] == 0.0
    # Lap 1 was timed from lights out, 1 m behind the line: it passed 0 m at 0.1 s and 10 m
    # at 1.1 s. Lap 2 passes 10 m at 0.82 s: 0.28 s gained.
    assert frame.trace["delta"][:2] == [pytest.approx(-0.1), pytest.approx(-0.28)]
    assert frame.text["last"] == frame.text["best"] == "0:10.100"
    assert frame.text["lap"] == "2" and frame.text["delta_sign"] == "gain"


def test_selecting_another_car_sends_its_state_again() -> None:
    model = model_with(range(0, 20), cars=("car-01", "car-02"))
    reader = FrameReader()
    reader.next_frame(model)
    reader.select("car-02")
    frame = reader.next_frame(model)
    assert frame.selected == "car-02"
    assert frame.trace_reset and frame.text["driver"] == "HAM \u00b7 car-02"
    reader.select("car-09")  # gone from the grid: falls back to the first car
    assert reader.next_frame(model).selected == "car-01"


def test_live_view_applies_frames_as_stream_and_patch() -> None:
    model = model_with(range(0, 20), cars=("car-01", "car-02"))
    reader = FrameReader()
    view = LiveView()
    view.apply(reader.next_frame(model))
    assert view.cars_source.data["driver"] == ["VER", "HAM"]
    assert view.selected_source.data["driver"] == ["VER"]
    assert list(view.trace_source.data["distance_m"]) == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    values = dict(zip(view.board.values.data["key"], view.board.values.data["value"], strict=True))
    assert values["speed"] == "36" and values["lap"] == "1"

    model.ingest(records(range(20, 24), car="car-01"))
    view.apply(reader.next_frame(model))
    assert list(view.trace_source.data["distance_m"]) == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    assert view.cars_source.data["x"][0] == pytest.approx(69.0)
    values = dict(zip(view.board.values.data["key"], view.board.values.data["value"], strict=True))
    assert values["timer"] == "0:06.9"
    assert view.board.pedals.data["top"][0] > view.board.pedals.data["top"][1]  # full throttle
    assert all(source.data["text"] for source, _y in view.no_reference)  # no reference yet

    model.ingest(records(range(24, 45), car="car-01"))  # lap 1 ends: it becomes the ghost
    view.apply(reader.next_frame(model))
    assert list(view.ref_source.data["distance_m"])[-1] == 100.0
    assert not any(source.data["text"] for source, _y in view.no_reference)
