"""The whole platform, as ``f1-stack demo`` runs it: 2 laps of 3 cars at ``--rate max``
through every service, each a process of its own, checked from the outside.

Every record is on Kafka exactly once, in InfluxDB and in the dashboard process's buffers;
there is one lap summary per completed lap on the analytics topic, equal to what the raw
telemetry says, and the dashboard page shows the cars and the lap table.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from integration_tests.analytics_helpers import summaries_by_key
from integration_tests.dashboard_probe import Browser, needs_browser
from integration_tests.platform_support import Run, platform_run, wait_until
from runtime.endpoints import Endpoints
from tests.analytics_reference import assert_summaries_match, expected_summaries

pytestmark = pytest.mark.integration

CARS, LAPS = 3, 2


@pytest.fixture
def run(endpoints: Endpoints, unique: str, tmp_path: Path) -> Iterator[Run]:
    with platform_run(endpoints, unique, tmp_path, cars=CARS, rate="max", laps=LAPS) as run:
        yield run


def test_two_laps_of_three_cars_reach_every_service(run: Run) -> None:
    needs_browser()

    want, per_car = run.expected_counts()
    assert len(per_car) == CARS

    platform = run.platform
    run.drive()

    # Kafka: every record once (by car and event time), nothing else.
    assert run.kafka_keys() == want

    # The dashboard process: every record in its buffers, and the page renders the cars.
    wait_until("the dashboard's buffers", lambda: run.dashboard_records() == per_car, 90)
    with Browser() as browser:
        browser.open(platform.dashboard_url)
        readouts = browser.readouts()
        assert readouts["driver"].endswith("car-01")
        assert int(readouts["lap"]) == LAPS + 1 or int(readouts["lap"]) == LAPS
        assert len(browser.column("current-lap", "distance_m")) > 0

        # InfluxDB: every point, per car.
        wait_until("every point in InfluxDB", lambda: run.stored_points() == per_car, 120)

        # f1-analytics: one summary per lap driven, equal to the raw data. The demo runs a
        # race: every car starts on the grid (lap 1 timed from lights out) and ends just past
        # the line after the flag, so both laps of every car are summarised.
        laps = expected_summaries(run.telemetry())
        assert sorted((car, lap) for _s, car, lap in laps) == [
            (f"car-0{n}", lap) for n in range(1, CARS + 1) for lap in range(1, LAPS + 1)
        ]
        assert all(laps[key]["standing_start"] == (key[2] == 1) for key in laps)

        summaries = run.summaries_when_complete(len(laps))
        assert_summaries_match(summaries_by_key(summaries), laps)

        # ... which the dashboard holds and shows in its lap table.
        wait_until(
            "the summaries in the dashboard",
            lambda: (run.health() or {}).get("lap_summaries", {}).get(run.session) == len(laps),
            30,
        )
        browser.show_tab(1)
        table = wait_until("the lap table", lambda: browser.column("lap-table", "key") or None, 30)
        assert sorted(table) == sorted(f"{car}|{lap}" for _s, car, lap in laps)
        assert browser.console_errors() == []

    codes = platform.stop()
    assert codes == {name: 0 for name in platform.services}, run.fail_message(f"exits {codes}")
