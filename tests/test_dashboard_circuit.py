"""The circuit the pit wall draws: the configured one while the stream fits it, else what the
stream shows (learned outline, lap length and sectors), and nothing it has not shown."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from circuit import Track, load_track_csv, silverstone
from dashboard.circuit_watch import LEARN_STEP_M, OFF_OUTLINE_MIN, UNKNOWN_NAME
from dashboard.frames import FrameReader
from dashboard.health import snapshot
from dashboard.live_view import MAP_FRAME_PX, LiveView
from dashboard.model import GridModel
from producer.simulation import Simulation, to_records
from tests.circuit_samples import write_oval_csv

HZ = 20


@pytest.fixture(scope="module")
def oval(tmp_path_factory: pytest.TempPathFactory) -> Track:
    return load_track_csv(write_oval_csv(tmp_path_factory.mktemp("circuit") / "oval.csv"))


def run(track: Track, seconds: float, cars: int = 3, session: str = "s-1") -> list[dict[str, Any]]:
    sim = Simulation(track, cars, hz=HZ, seed=4, session_id=session)
    return to_records(sim.run(round(seconds * HZ)))


def fed(track: Track | None, records: list[dict[str, Any]], batch: int = 500) -> GridModel:
    model = GridModel(track, step_m=10.0)
    for i in range(0, len(records), batch):
        model.ingest(records[i : i + batch])
    return model


def off_centre_line_m(track: Track, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each point's distance to the nearest point of the track's centre line."""
    d2 = (x[:, None] - track.x[None, :]) ** 2 + (y[:, None] - track.y[None, :]) ** 2
    return np.sqrt(d2.min(axis=1))


def test_a_stream_on_the_configured_circuit_is_drawn_from_it() -> None:
    track = silverstone()
    model = fed(track, run(track, 30.0))
    shape = model.circuit()
    assert not shape.learned and shape.name == "Silverstone"
    assert shape.lap_length_m == track.length_m
    assert shape.sector_starts_m == track.sector_starts_m
    assert shape.closed


def test_a_circuit_file_given_to_both_is_drawn_from_the_file(oval: Track) -> None:
    model = fed(oval, run(oval, 30.0))
    shape = model.circuit()
    assert not shape.learned and shape.name == "oval"
    assert shape.lap_length_m == oval.length_m
    assert shape.sector_starts_m == oval.sector_starts_m


def test_another_circuit_is_learned_from_the_stream(oval: Track) -> None:
    # The pit wall expects Silverstone; the cars drive the oval for a lap and a bit.
    model = fed(silverstone(), run(oval, 30.0))
    shape = model.circuit()
    assert shape.learned and shape.name == UNKNOWN_NAME
    # The lap length between two line crossings, as total distance shows it.
    assert shape.lap_length_m == pytest.approx(oval.length_m, rel=1e-9)
    assert shape.axis_m == shape.lap_length_m
    # Sector starts where the sector channel steps: within half a sample of the truth.
    half_sample_m = 300 / 3.6 / HZ / 2
    assert shape.sector_starts_m[0] == 0.0
    assert shape.sector_starts_m[1:] == pytest.approx(oval.sector_starts_m[1:], abs=half_sample_m)
    # The outline: one point per 10 m of the lap, on the cars' own positions.
    assert shape.closed
    assert len(shape.x) >= 0.95 * math.ceil(oval.length_m / LEARN_STEP_M)
    assert off_centre_line_m(oval, shape.x, shape.y).max() < 1.0
    x0, y0 = shape.position(0.0)
    assert math.hypot(x0 - oval.x[0], y0 - oval.y[0]) < 1.0  # the line is where it is


def test_without_a_lap_length_the_pit_wall_shows_only_what_it_has(oval: Track) -> None:
    # 8 s of one car from the line: never round a lap, past no sector boundary.
    records = run(oval, 8.0, cars=1)
    furthest = max(r["lap_distance_m"] for r in records)
    assert furthest < oval.sector_starts_m[1]
    model = fed(silverstone(), records, batch=40)
    shape = model.circuit()
    assert shape.learned and shape.lap_length_m is None
    assert shape.sector_starts_m == () and not shape.closed
    assert shape.axis_m == pytest.approx(furthest)
    assert np.nanmax(shape.distance_m) <= furthest + LEARN_STEP_M
    assert off_centre_line_m(oval, shape.x, shape.y).max() < 1.0

    view = LiveView(shape)
    assert view.track_map.title.text == "Track map \u00b7 from the cars' positions"
    assert view.distance_range.end == pytest.approx(furthest)
    assert all(not s.data["x"] for s in view.sector_sources)
    assert not view.track_map.legend.visible
    assert not any(span.visible for spans in view.sector_spans for span in spans)
    assert view.marks_source.data["xs"] == []  # where the line is is not known yet
    xs, ys = view.outline_source.data["x"], view.outline_source.data["y"]
    assert np.nanmin(xs) >= view.track_map.x_range.start
    assert np.nanmax(ys) <= view.track_map.y_range.end


def test_the_learned_circuit_fills_in_as_the_stream_shows_it(oval: Track) -> None:
    records = run(oval, 30.0, cars=1)  # from the line: round the lap after about 23 s
    model = GridModel(silverstone(), step_m=10.0)
    shapes = [model.circuit()]
    for i in range(0, len(records), 40):  # two seconds a batch
        model.ingest(records[i : i + 40])
        shape = model.circuit()
        if shape is not shapes[-1]:
            shapes.append(shape)
    assert not shapes[0].learned  # before any record: the configured circuit
    learned = shapes[1:]
    assert all(s.learned for s in learned)  # the first records are far off Silverstone
    # A partial outline is redrawn as it grows, then the lap length and a closed outline.
    lengths = [s.lap_length_m for s in learned]
    assert lengths[0] is None and lengths[-1] == pytest.approx(oval.length_m)
    assert [s.closed for s in learned] == sorted(s.closed for s in learned)
    assert learned[-1].closed and learned[-1].sector_starts_m
    assert 3 <= len(learned) <= 30  # a redraw per few hundred metres, not per batch


def test_one_odd_record_is_not_another_circuit() -> None:
    track = silverstone()
    records = run(track, 10.0)
    for r in records[100 : 100 + OFF_OUTLINE_MIN - 1]:
        r["x_m"] += 500.0
    assert not fed(track, records).circuit().learned


def test_a_lap_distance_past_the_circuit_is_another_circuit(oval: Track) -> None:
    # Positions on the oval's centre line, but laps 5 % longer than the oval's.
    lap_m = 1.05 * oval.length_m
    t = np.arange(0.0, 40.0, 1.0 / HZ)
    total = 60.0 * t
    lap = (total // lap_m).astype(int) + 1
    d = total - (lap - 1) * lap_m
    x, y = oval.position(d)
    records = [
        {
            "session_id": "s",
            "car_id": "car-01",
            "lap": int(lap[i]),
            "lap_distance_m": float(d[i]),
            "total_distance_m": float(total[i]),
            "x_m": float(x[i]),
            "y_m": float(y[i]),
            "sector": 1,
        }
        for i in range(t.size)
    ]
    model = GridModel(oval)
    watch = model._watch("s")
    prev = None
    for record in records[: round(oval.length_m / 60.0 * HZ)]:
        watch.observe(prev, record)
        prev = record
    watch.settle()
    assert not watch.shape.learned  # not past the oval's end yet: fits
    for record in records[round(oval.length_m / 60.0 * HZ) :]:
        watch.observe(prev, record)
        prev = record
    watch.settle()
    assert watch.shape.learned
    assert watch.shape.lap_length_m == pytest.approx(lap_m)


def test_each_session_has_its_circuit(oval: Track) -> None:
    track = silverstone()
    model = GridModel(track, step_m=10.0)
    model.ingest(run(oval, 5.0, session="oval"))
    model.ingest(run(track, 5.0, session="gp"))
    assert model.circuit("oval").learned
    assert model.circuit("gp").name == "Silverstone"
    assert model.circuit() is model.circuit("gp")  # the newest session


def test_frames_carry_the_circuit_only_when_it_changes(oval: Track) -> None:
    records = run(oval, 30.0, cars=1)
    model = GridModel(silverstone(), step_m=10.0)
    reader = FrameReader()
    view = LiveView()
    sent = [reader.next_frame(model).circuit]  # before any record: the configured circuit
    view.show_circuit(sent[0])
    for i in range(0, len(records), 40):
        model.ingest(records[i : i + 40])
        frame = reader.next_frame(model)
        if frame.circuit is not None:
            sent.append(frame.circuit)
            view.apply(frame)
    assert sent[0].name == "Silverstone" and sent[-1].learned
    assert len(sent) == len({id(s) for s in sent})  # each one once
    assert view.circuit is model.circuit()
    assert reader.next_frame(model).circuit is None
    # Drawn as learned: the lap length in the title, the axes, the sectors and the marks.
    assert f"{oval.length_m:,.0f} m" in view.track_map.title.text
    assert view.distance_range.end == pytest.approx(oval.length_m)
    assert view.track_map.legend.visible
    assert view.mark_labels.data["text"] == ["S/F", "S2", "S3"]
    spans = [spans[0].location for spans in view.sector_spans]
    assert spans == pytest.approx(oval.sector_starts_m[1:], abs=3.0)


def test_the_map_keeps_metres_square() -> None:
    view = LiveView(GridModel(silverstone()).circuit())
    fig = view.track_map
    w_px, h_px = MAP_FRAME_PX
    across = (fig.x_range.end - fig.x_range.start) / w_px
    up = (fig.y_range.end - fig.y_range.start) / h_px
    assert across == pytest.approx(up)
    assert fig.title.text == "Track map \u00b7 Silverstone"
    assert len(view.mark_labels.data["text"]) == 3
    assert all(len(s.data["x"]) > 10 for s in view.sector_sources)


def test_health_names_the_circuit_and_its_lap_length(oval: Track, tmp_path: Path) -> None:
    model = fed(silverstone(), run(oval, 30.0))
    found = json.loads(json.dumps(snapshot(model)))["circuit"]
    assert found["name"] == UNKNOWN_NAME and found["learned"] is True
    assert found["lap_length_m"] == pytest.approx(oval.length_m)
    assert len(found["sector_starts_m"]) == 3 and found["outline_closed"] is True
    assert found["outline_points"] >= 0.95 * oval.length_m / LEARN_STEP_M
