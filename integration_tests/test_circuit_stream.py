"""A circuit other than Silverstone, streamed through the real broker and registry: the pit
wall's map, lap length and sectors follow it.

``f1-simulate`` drives three cars round a small oval (``tests/circuit_samples.py``, written to
the test's folder) for two laps at ``--rate max`` into a topic of the test. Then the pit wall's
own consumer (:class:`dashboard.feed.Feed`, in this process) fills its model from that topic,
and a live view is drawn from the frames a browser session gets. Twice: with ``F1_TRACK``
naming the oval for both the simulator and the pit wall (the map is the file's circuit), and
with the oval given to the simulator only (``--track``): the pit wall, expecting Silverstone,
learns the circuit from the stream.
"""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from circuit import Track, load_track_csv
from dashboard.feed import Feed, new_model
from dashboard.frames import FrameReader
from dashboard.health import snapshot
from dashboard.live_view import LiveView
from dashboard.model import GridModel
from dashboard.settings import Settings
from integration_tests.dashboard_probe import wait_for
from integration_tests.kafka_io import read_to_end
from runtime.endpoints import Endpoints
from runtime.kafka import client_config
from schemas.registration import register_all
from schemas.topics import Topics
from tests.circuit_samples import write_oval_csv

pytestmark = pytest.mark.integration

CARS = 3


@pytest.fixture
def oval_csv(tmp_path: Path) -> Path:
    return write_oval_csv(tmp_path / "oval.csv")


@pytest.fixture
def oval(oval_csv: Path) -> Track:
    return load_track_csv(oval_csv)


@pytest.fixture
def topics(endpoints: Endpoints, unique: str) -> Topics:
    topics = Topics(telemetry=f"it-circuit-{unique}", analytics=f"it-circuit-{unique}-laps")
    admin = AdminClient(client_config(endpoints.kafka_bootstrap))
    admin.create_topics([NewTopic(topics.telemetry, CARS, 1)])[topics.telemetry].result(30)
    register_all(endpoints.registry_url, topics, say=lambda *_: None)
    return topics


def simulate(endpoints: Endpoints, topics: Topics, env: dict[str, str], *args: str) -> int:
    """Two laps of the grid at full speed; how many records are on the topic."""
    run_env = {
        **os.environ,
        "F1_KAFKA_BOOTSTRAP": endpoints.kafka_bootstrap,
        "F1_SCHEMA_REGISTRY_URL": endpoints.registry_url.with_credentials(),
        **env,
    }
    command = [sys.executable, "-m", "producer", "--cars", str(CARS), "--laps", "2"]
    command += ["--rate", "max", "--telemetry-topic", topics.telemetry, *args]
    proc = subprocess.run(
        command,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "on oval (1303 m)" in proc.stderr  # the simulator drove the oval
    return len(read_to_end(endpoints.kafka_bootstrap, topics.telemetry))


@pytest.fixture
def pit_wall(endpoints: Endpoints, topics: Topics) -> Iterator[Callable[[], GridModel]]:
    """Starts the pit wall's consumer on the test's topics, with the settings F1_TRACK gives."""
    feeds: list[Feed] = []

    def start() -> GridModel:
        settings = dataclasses.replace(Settings.from_env(), endpoints=endpoints, topics=topics)
        model = new_model(settings)
        feed = Feed(settings, model)
        feed.start()
        feeds.append(feed)
        return model

    yield start
    for feed in feeds:
        feed.stop()
        feed.join(timeout=10)


def took_in(model: GridModel, records: int) -> bool:
    with model.lock:
        return sum(car.records for car in model.cars.values()) >= records


def live_view(model: GridModel) -> LiveView:
    """The live tab as a browser session would have it after its first frame."""
    view = LiveView()
    view.apply(FrameReader().next_frame(model))
    return view


def on_oval_m(oval: Track, x: np.ndarray, y: np.ndarray) -> float:
    """The largest distance from a point to the nearest sample of the oval's centre line."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x)
    d2 = (x[keep, None] - oval.x[None, :]) ** 2 + (y[keep, None] - oval.y[None, :]) ** 2
    return float(np.sqrt(d2.min(axis=1)).max())


def test_with_f1_track_the_pit_wall_draws_the_file_the_stream_is_on(
    endpoints: Endpoints,
    topics: Topics,
    oval_csv: Path,
    oval: Track,
    pit_wall: Callable[[], GridModel],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("F1_TRACK", str(oval_csv))
    records = simulate(endpoints, topics, {"F1_TRACK": str(oval_csv)})  # no --track
    model = pit_wall()
    wait_for("every record in the pit wall's model", lambda: took_in(model, records), 60.0)

    with model.lock:
        shape = model.circuit()
        health = snapshot(model)["circuit"]
        view = live_view(model)
    assert not shape.learned and shape.name == "oval"
    assert shape.lap_length_m == oval.length_m
    assert health == {
        "name": "oval",
        "learned": False,
        "lap_length_m": oval.length_m,
        "sector_starts_m": list(oval.sector_starts_m),
        "outline_points": len(shape.x),
        "outline_closed": True,
    }
    assert view.track_map.title.text == "Track map \u00b7 oval"
    assert view.distance_range.end == oval.length_m
    assert [spans[0].location for spans in view.sector_spans] == list(oval.sector_starts_m[1:])
    assert on_oval_m(oval, view.outline_source.data["x"], view.outline_source.data["y"]) < 0.5
    # The cars on the map are on that circuit (within the 2 m between its samples).
    with model.lock:
        cars = [car.latest for car in model.active_cars()]
    assert len(cars) == CARS
    assert on_oval_m(oval, [c["x_m"] for c in cars], [c["y_m"] for c in cars]) < 1.5


def test_without_f1_track_the_pit_wall_learns_the_circuit_from_the_stream(
    endpoints: Endpoints,
    topics: Topics,
    oval_csv: Path,
    oval: Track,
    pit_wall: Callable[[], GridModel],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("F1_TRACK", raising=False)
    records = simulate(endpoints, topics, {"F1_TRACK": ""}, "--track", str(oval_csv))
    model = pit_wall()
    assert model.track is not None and model.track.name == "Silverstone"  # what it expects
    wait_for("every record in the pit wall's model", lambda: took_in(model, records), 60.0)

    with model.lock:
        shape = model.circuit()
        health = snapshot(model)["circuit"]
        view = live_view(model)
    assert shape.learned and shape.closed
    # The lap length the stream shows (total distance from one line crossing to the next).
    assert shape.lap_length_m == pytest.approx(oval.length_m, rel=1e-9)
    assert health["name"] == "unknown circuit"
    assert health["learned"] is True and health["outline_closed"] is True
    assert health["lap_length_m"] == pytest.approx(oval.length_m, rel=1e-9)
    # Sector starts where the cars' sector channel stepped (100 Hz: within a metre).
    assert health["sector_starts_m"] == pytest.approx(list(oval.sector_starts_m), abs=1.0)
    # The map: the oval from the cars' own positions, not Silverstone, in a frame that fits it.
    title = view.track_map.title.text
    assert title == f"Track map \u00b7 from the cars' positions \u00b7 {oval.length_m:,.0f} m"
    x, y = view.outline_source.data["x"], view.outline_source.data["y"]
    assert len(x) >= 0.95 * oval.length_m / 10.0
    assert on_oval_m(oval, x, y) < 1.0
    fig = view.track_map
    assert fig.x_range.start < oval.x.min() and oval.x.max() < fig.x_range.end
    assert fig.y_range.start < oval.y.min() and oval.y.max() < fig.y_range.end
    # Distance axes and sector marks from the stream.
    assert view.distance_range.end == pytest.approx(oval.length_m, rel=1e-9)
    marks = [spans[0].location for spans in view.sector_spans]
    assert marks == pytest.approx(list(oval.sector_starts_m[1:]), abs=1.0)
    assert view.mark_labels.data["text"] == ["S/F", "S2", "S3"]
    sf_x, sf_y = view.mark_labels.data["x"][0], view.mark_labels.data["y"][0]
    # The start/finish label sits beside the line (80 m off the track, square to it).
    assert math.hypot(sf_x - oval.x[0], sf_y - oval.y[0]) == pytest.approx(80.0, abs=2.0)
    # The lap traces of the cars that completed a lap in view reach the lap's end.
    with model.lock:
        done = [lap for car in model.cars.values() for lap in car.completed]
    assert done and all(lap.trace.distance[-1] >= oval.length_m - 10.0 for lap in done)
