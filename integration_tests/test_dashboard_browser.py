"""The pit wall in headless Chromium while the simulator streams to a topic of this test.

Practice: the simulator starts first, so the dashboard joins late and must show the current
lap from the line. Then: the speed and lap values change, a lap completes and becomes the
reference, lap summaries fill the analytics tab, and the browser console stays free of errors.

A race at ``--rate max``: the timing tower shows every car, a click on a row selects that car,
``GET /timing`` answers what the tower shows, and after the flag the classification is the
order of the cars' finishing crossings (read back from the topic). Screenshots are kept in
``artifacts/`` (git-ignored), the race at 1280 and 1920 px wide.

The session picker: a race stored in InfluxDB by the sink, the pit wall on another topic with a
live practice. Picked, the stored race fills the live tab as it ended (its classification, its
cars) under a label that says it is not live; "Follow live" brings the live session back.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
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
from integration_tests.kafka_io import read_to_end
from runtime.endpoints import Endpoints
from runtime.kafka import client_config
from schemas.topics import Topics

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "artifacts"
BIN = Path(sys.executable).parent


@pytest.fixture
def topics(endpoints: Endpoints, unique: str) -> Topics:
    return registered(endpoints, f"dash-{unique}")


def registered(endpoints: Endpoints, name: str) -> Topics:
    """Topics ``name`` and ``name-analytics`` with their schemas registered."""
    topics = Topics(telemetry=name, analytics=f"{name}-analytics", dlq=f"{name}-dlq")
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
    producer = Producer(client_config(endpoints.kafka_bootstrap))
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
        # A practice car's first lap (from where it starts to its first crossing) is no lap
        # driven and has no timer; whether the page comes up during it depends on the
        # machine's speed, so the checks below start on a timed lap.
        first = wait_for(
            "a lap timer", lambda: (r := browser.readouts())["timer"] != "\u2014" and r, 30
        )

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


# --- a race ------------------------------------------------------------------------------------

RACE_CARS = 20
ROW_PX, HEADER_PX = 24, 30  # dashboard/tower_view.py: the tower's rows, below its header


class TimingServer(PanelServer):
    """The dashboard with its plugins, as ``make demo`` serves it (``/health``, ``/timing``)."""

    def command(self) -> list[str]:
        return [*super().command(), "--plugins", "dashboard.health"]


def tower_rect(browser: Browser) -> list[float]:
    """Where the tower's canvas is in the window: left, top, width, height (CSS px)."""
    script = (
        "const m = Bokeh.documents[0].get_model_by_name('timing-tower-figure');"
        "const v = Bokeh.index.find_one(m); const r = v.el.getBoundingClientRect();"
        "return [r.left, r.top, r.width, r.height];"
    )
    return list(browser.driver.execute_script(script))


def click_row(browser: Browser, row: int) -> None:
    """A real mouse click in the middle of the tower's ``row`` (0 = the leader)."""
    from selenium.webdriver.common.action_chains import ActionChains

    browser.driver.execute_script(
        "const m = Bokeh.documents[0].get_model_by_name('timing-tower-figure');"
        "Bokeh.index.find_one(m).el.scrollIntoView({block: 'center'});"
    )
    left, top, _width, _height = tower_rect(browser)
    actions = ActionChains(browser.driver)
    actions.w3c_actions.pointer_action.move_to_location(
        int(left + 120), int(top + HEADER_PX + (row + 0.5) * ROW_PX)
    )
    actions.w3c_actions.pointer_action.click()
    actions.perform()


def click_steady_row(browser: Browser, row: int, attempts: int = 10) -> str:
    """Click ``row`` and return its car, read in the browser just before and just after the
    click: at ``--rate max`` the order changes several times a second, so a click counts only
    if the row held the same car on both sides of it (else it is clicked again)."""
    for _ in range(attempts):
        before = browser.column("timing-tower", "car_id")[row]
        click_row(browser, row)
        if browser.column("timing-tower", "car_id")[row] == before:
            return str(before)
    raise AssertionError(f"row {row} of the tower never held one car across a click")


def highlighted(browser: Browser) -> str | None:
    """The car whose row has the selected background (the rows and their colours read at
    once), None unless exactly one row has it."""
    script = (
        "const col = (n, c) => { const m = Bokeh.documents[0].get_model_by_name(n);"
        "  return Array.from(m.data instanceof Map ? m.data.get(c) : m.data[c]); };"
        "const cars = col('timing-tower', 'car_id'); const bg = col('timing-tower-rows', 'bg');"
        "const rows = cars.filter((_c, i) => bg[i] === '#4a1526');"
        "return rows.length === 1 ? rows[0] : null;"
    )
    return browser.driver.execute_script(script)


def finishing_order(endpoints: Endpoints, topic: str, cars: int = RACE_CARS) -> list[str]:
    """The classification from the raw records: laps completed, then the time of the finishing
    crossing (interpolated between the last sample before the line and the first past it)."""
    from schemas.registry import SchemaRegistry
    from schemas.serde import telemetry_deserializer

    decode = telemetry_deserializer(SchemaRegistry(endpoints.registry_url)).decode
    last: dict[str, dict[str, Any]] = {}
    finish: dict[str, tuple[int, float]] = {}
    for msg in read_to_end(endpoints.kafka_bootstrap, topic):
        r = decode(msg.value())
        car = r["car_id"]
        if r["car_status"] == "finished" and car not in finish:
            before = last[car]
            line = r["total_distance_m"] - r["lap_distance_m"]
            share = (line - before["total_distance_m"]) / (
                r["total_distance_m"] - before["total_distance_m"]
            )
            t = before["timestamp"] + share * (r["timestamp"] - before["timestamp"])
            finish[car] = (r["lap"] - 1, t)
        last[car] = r
    assert len(finish) == cars, sorted(finish)
    return sorted(finish, key=lambda c: (-finish[c][0], finish[c][1]))


def simulate(endpoints: Endpoints, topic: str, session: str, *args: str) -> subprocess.Popen[bytes]:
    """``f1-simulate`` to ``topic`` as ``session`` with ``args`` (the kind, cars, rate...)."""
    return subprocess.Popen(
        [
            str(BIN / "f1-simulate"),
            *args,
            "--session-id",
            session,
            "--topic",
            topic,
            "--progress-every",
            "600",
        ],
        env={**os.environ, **endpoint_env(endpoints, Topics(telemetry=topic))},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_a_race_shows_the_tower_and_a_click_selects_the_car(
    endpoints: Endpoints, topics: Topics, unique: str
) -> None:
    needs_browser()
    with (
        TimingServer(
            endpoint_env(endpoints, topics), log_path=ARTIFACTS / "race-server.log"
        ) as server,
        Browser(width=1920, height=1900) as browser,
    ):
        # The page is up before the grid starts: then the race at full speed.
        race = ["--session", "race", "--cars", str(RACE_CARS), "--laps", "2", "--rate", "max"]
        sim = simulate(endpoints, topics.telemetry, f"race-{unique}", *race)
        try:
            browser.open(server.url)
            cars = wait_for(
                "every car in the tower",
                lambda: len(ids := browser.column("timing-tower", "car_id")) == RACE_CARS and ids,
                90,
            )
            assert sorted(cars) == [f"car-{i:02d}" for i in range(1, RACE_CARS + 1)]
            # A row clicked: its car is the one the page shows (selector, readouts, the row).
            first = browser.readouts()["driver"]
            row = 4
            picked = click_steady_row(browser, row)
            shown = wait_for(
                "the clicked car on the readouts",
                lambda: (d := browser.readouts()["driver"]).endswith(picked) and d,
                20,
            )
            assert shown != first
            wait_for("the clicked car's row highlighted", lambda: highlighted(browser) == picked, 5)
            # The race under way, as wide as a desktop screen and as a laptop's.
            browser.screenshot(ARTIFACTS / "dashboard-race-1920.png")
            browser.driver.set_window_size(1280, 1900)
            time.sleep(2)
            browser.screenshot(ARTIFACTS / "dashboard-race-1280.png")
            assert sim.wait(timeout=300) == 0, sim.stderr.read().decode() if sim.stderr else ""
        finally:
            if sim.poll() is None:
                sim.kill()
                sim.wait()
        # After the flag: every car finished, in the order of its finishing crossing.
        expected = finishing_order(endpoints, topics.telemetry)
        wait_for(
            "the classification",
            lambda: browser.column("timing-tower", "status") == ["FIN"] * RACE_CARS,
            120,
        )
        assert browser.column("timing-tower", "car_id") == expected
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/timing", timeout=10) as r:
            timing = json.load(r)
        assert [c["car_id"] for c in timing["cars"]] == expected
        assert [c["gap"] for c in timing["cars"]] == browser.column("timing-tower", "gap")
        assert timing["cars"][0]["gap"] == "LEADER"
        assert all(c["laps_completed"] >= 1 for c in timing["cars"])
        browser.screenshot(ARTIFACTS / "dashboard-race-classification.png")
        assert browser.console_errors() == []
    log = server.log_text().split("WebSocket connection closed")[0]
    assert "Traceback" not in log and not re.search(r"\bE-\d{4}\b", log), server.log_tail()


# --- the session picker -----------------------------------------------------------------------

STORED_CARS = 5


def pick_session(browser: Browser, label: str) -> None:
    """Choose ``label`` in the session picker, as a click on the option would."""
    script = (
        "for (const d of Bokeh.documents) for (const m of d.all_models)"
        "  if (String(m.type).endsWith('Select') && m.title === 'Session') {"
        "    m.value = arguments[0]; return; }"
    )
    browser.driver.execute_script(script, label)


def session_options(browser: Browser) -> list[str]:
    script = (
        "for (const d of Bokeh.documents) for (const m of d.all_models)"
        "  if (String(m.type).endsWith('Select') && m.title === 'Session')"
        "    return Array.from(m.options, (o) => Array.isArray(o) ? o[1] : o);"
        "return [];"
    )
    return list(browser.driver.execute_script(script))


def click_follow_live(browser: Browser) -> None:
    """A click on the "Follow live" button (inside its shadow root)."""
    script = (
        "for (const d of Bokeh.documents) for (const m of d.all_models)"
        "  if (String(m.type).endsWith('Button') && m.label === 'Follow live') {"
        "    Bokeh.index.find_one(m).el.shadowRoot.querySelector('button').click(); return; }"
    )
    browser.driver.execute_script(script)


def test_a_stored_session_picked_fills_the_live_tab_as_it_ended(
    endpoints: Endpoints, unique: str
) -> None:
    needs_browser()
    from integration_tests.sink_support import (
        SinkProcess,
        create_bucket,
        delete_bucket,
        wait_for_count,
    )

    stored = registered(endpoints, f"dash-stored-{unique}")
    live = registered(endpoints, f"dash-live-{unique}")
    bucket, race_session = f"dash-{unique}", f"stored-{unique}"
    create_bucket(endpoints, bucket)
    sink = SinkProcess(
        endpoints, stored, bucket, f"dash-sink-{unique}", ARTIFACTS / "picker-sink.log"
    )
    practice = None
    try:
        # A short race, stored by the sink: the pit wall never sees it on its topic.
        race_args = ["--session", "race", "--cars", str(STORED_CARS), "--laps", "2"]
        sim = simulate(endpoints, stored.telemetry, race_session, *race_args, "--rate", "max")
        assert sim.wait(timeout=300) == 0, sim.stderr.read().decode() if sim.stderr else ""
        records = len(read_to_end(endpoints.kafka_bootstrap, stored.telemetry))
        sink.start()
        wait_for_count(endpoints, bucket, race_session, records, timeout=120)
        expected = finishing_order(endpoints, stored.telemetry, STORED_CARS)

        practice = simulate(
            endpoints, live.telemetry, f"live-{unique}", "--cars", "3", "--rate", "2"
        )
        env = {**endpoint_env(endpoints, live), "F1_INFLUX_BUCKET": bucket}
        with (
            TimingServer(env, log_path=ARTIFACTS / "picker-server.log") as server,
            Browser() as browser,
        ):
            browser.open(server.url)
            cars = lambda: browser.column("timing-tower", "car_id")  # noqa: E731
            wait_for("the live cars", lambda: len(cars()) == 3, 45)
            assert (browser.text_of("session-mode") or "").count("LIVE \u00b7 following") == 1
            wait_for("the stored session", lambda: race_session in session_options(browser), 45)

            pick_session(browser, race_session)
            wait_for(
                "the stored race's classification",
                lambda: cars() == expected,
                45,
            )
            assert browser.column("timing-tower", "status") == ["FIN"] * STORED_CARS
            assert browser.column("timing-tower", "gap")[0] == "LEADER"
            mode = browser.text_of("session-mode") or ""
            assert f"NOT LIVE \u00b7 session {race_session} as stored in InfluxDB" in mode
            driver = wait_for("a stored car's readouts", lambda: browser.readouts()["driver"], 10)
            assert any(driver.endswith(c) for c in expected), driver
            # The frozen session stays as it is while the live one goes on.
            time.sleep(2)
            assert cars() == expected
            browser.screenshot(ARTIFACTS / "dashboard-stored-session.png")

            click_follow_live(browser)
            wait_for(
                "the live session back",
                lambda: len(cars()) == 3 and "following" in (browser.text_of("session-mode") or ""),
                30,
            )
            assert browser.console_errors() == []
        log = server.log_text().split("WebSocket connection closed")[0]
        assert "Traceback" not in log and not re.search(r"\bE-\d{4}\b", log), server.log_tail()
    finally:
        if practice is not None:
            practice.terminate()
            practice.wait(timeout=15)
        if sink.proc is not None:
            sink.stop()
        delete_bucket(endpoints, bucket)
