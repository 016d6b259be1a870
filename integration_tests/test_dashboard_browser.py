"""The pit wall in headless Chromium while the simulator streams to a topic of this test.

The simulator starts first, so the dashboard joins late and must show the current lap from
the line. Then: the speed and lap values change, a lap completes and becomes the reference,
lap summaries fill the analytics tab, and the browser console stays free of errors.
Screenshots are kept in ``artifacts/`` (git-ignored).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integration_tests.dashboard_probe import (
    Browser,
    PanelServer,
    endpoint_env,
    needs_browser,
    wait_for,
)
from runtime.endpoints import Endpoints
from schemas.topics import Topics

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "artifacts"
BIN = Path(sys.executable).parent


@pytest.fixture
def topics(endpoints: Endpoints, unique: str) -> Topics:
    topics = Topics(telemetry=f"dash-{unique}", analytics=f"dash-{unique}-analytics")
    subprocess.run(
        [
            str(BIN / "f1-schemas"),
            "register",
            "--registry",
            endpoints.registry_url,
            "--telemetry-topic",
            topics.telemetry,
            "--analytics-topic",
            topics.analytics,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return topics


@pytest.fixture
def simulator(endpoints: Endpoints, topics: Topics, unique: str) -> Iterator[str]:
    """Three cars at 8x real time (a lap every ~11 s); yields the session id."""
    session = f"dash-{unique}"
    env = {**os.environ, **endpoint_env(endpoints, topics)}
    proc = subprocess.Popen(
        [
            str(BIN / "f1-simulate"),
            "--cars",
            "3",
            "--rate",
            "8",
            "--session-id",
            session,
            "--topic",
            topics.telemetry,
            "--progress-every",
            "60",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield session
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def publish_lap_summaries(endpoints: Endpoints, topics: Topics, session: str) -> None:
    """Two laps of car-01 as the analytics job would publish them."""
    from confluent_kafka import Producer

    from schemas.registry import SchemaRegistry
    from schemas.serde import lap_summary_serializer

    serializer = lap_summary_serializer(SchemaRegistry(endpoints.registry_url), topics)
    producer = Producer({"bootstrap.servers": endpoints.kafka_bootstrap})
    for lap, lap_time in ((1, 92.4), (2, 86.8)):
        record: dict[str, Any] = {
            "session_id": session,
            "car_id": "car-01",
            "driver": "ALB",
            "lap": lap,
            "lap_time_s": lap_time,
            "sector1_s": lap_time * 0.31,
            "sector2_s": lap_time * 0.37,
            "sector3_s": lap_time * 0.32,
            "lap_start": 1_700_000_000_000_000 + lap * 100_000_000,
            "lap_end": 1_700_000_000_000_000 + lap * 100_000_000 + int(lap_time * 1e6),
            "avg_speed_kmh": 244.0,
            "max_speed_kmh": 318.4,
            "min_speed_kmh": 95.1,
            "full_throttle_share": 0.648,
            "brake_share": 0.162,
            "fuel_used_kg": 1.95,
            "max_abs_g_lat": 5.45,
            "max_g_long": 1.6,
            "min_g_long": -5.0,
            "sample_count": 8680,
        }
        producer.produce(topics.analytics, key="car-01", value=serializer.encode(record))
    assert producer.flush(15) == 0


def test_pit_wall_streams_live_values_to_a_browser(
    endpoints: Endpoints, topics: Topics, simulator: str
) -> None:
    needs_browser()

    time.sleep(4)  # the cars are on track before the dashboard starts: a late join
    env = endpoint_env(endpoints, topics)
    with (
        PanelServer(env, log_path=ARTIFACTS / "dashboard-server.log") as server,
        Browser() as browser,
    ):
        browser.open(server.url)
        first = wait_for(
            "a speed on the page",
            lambda: (r := browser.readouts()).get("speed", "\u2014") != "\u2014" and r,
            45,
        )
        assert first["driver"] == "ALB \u00b7 car-01"
        # Joined late, the page still has the current lap from the line on.
        assert browser.column("current-lap", "distance_m")[0] == 0.0

        time.sleep(2)
        second = browser.readouts()
        assert second["speed"] != first["speed"] or second["rpm"] != first["rpm"]
        assert second["timer"] != first["timer"]

        # At 8x a lap takes ~11 s: the lap number moves on and the lap becomes the reference.
        wait_for("the next lap", lambda: int(browser.readouts()["lap"]) > int(first["lap"]), 40)
        wait_for("a best lap", lambda: browser.readouts()["best"] != "\u2014", 10)
        wait_for(
            "the reference lap's ghost",
            lambda: len(browser.column("reference-lap", "distance_m")) > 500,
            10,
        )
        wait_for(
            "the 'no reference lap yet' note to go",
            lambda: not browser.column("no-reference-speed", "text"),
            5,
        )
        assert not browser.column("no-reference-delta", "text")
        status = browser.text_of("status") or ""
        assert "Kafka up" in status and "3 car(s)" in status
        assert browser.text_of("banner") == ""
        wait_for(
            "a lap delta",
            lambda: browser.readouts()["delta"] not in ("\u2014", None),
            10,
        )
        # Screenshot with a good part of the lap drawn over the ghost.
        wait_for(
            "half a lap drawn",
            lambda: 250 < len(browser.column("current-lap", "distance_m")) < 500,
            20,
        )
        browser.screenshot(ARTIFACTS / "dashboard.png")

        publish_lap_summaries(endpoints, topics, simulator)
        browser.show_tab(1)
        keys = wait_for("the lap table", lambda: browser.column("lap-table", "key") or None, 20)
        assert keys == ["car-01|1", "car-01|2"]
        lap_times = browser.column("lap-table", "lap_time")
        assert lap_times == ["1:32.400", "1:26.800 \u2605"]  # the best lap marked
        time.sleep(2)
        browser.screenshot(ARTIFACTS / "dashboard-analytics.png")

        assert browser.console_errors() == []
    # Up to the page closing (Panel may log a write to the closed socket after that), the
    # server logged no traceback and no Bokeh validation error (E-xxxx).
    log = server.log_text().split("WebSocket connection closed")[0]
    assert "Traceback" not in log and not re.search(r"\bE-\d{4}\b", log), server.log_tail()
    assert "dashboard.feed" in log  # the feed's own log lines reach the server log
