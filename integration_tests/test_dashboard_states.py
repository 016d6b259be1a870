"""The pit wall with its infrastructure missing: the page still loads, shows a banner that
says what is wrong, and the browser console stays free of errors.

Nothing of the shared stack is stopped: the dashboard is pointed at ports where nothing
listens, which is what a stopped broker or registry looks like to it.
"""

from __future__ import annotations

import pytest

from integration_tests.dashboard_probe import (
    Browser,
    PanelServer,
    endpoint_env,
    free_port,
    needs_browser,
    wait_for,
)
from runtime.endpoints import Endpoints
from schemas.topics import Topics

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("down", "banner"),
    [
        ("broker", "Kafka is unreachable"),
        ("registry", "Schema registry is unreachable"),
    ],
)
def test_a_missing_service_gives_a_banner_not_a_broken_page(
    endpoints: Endpoints, unique: str, down: str, banner: str
) -> None:
    needs_browser()

    env = endpoint_env(endpoints, Topics(telemetry=f"dash-{unique}", analytics=f"dash-{unique}-a"))
    nowhere = f"127.0.0.1:{free_port()}"
    if down == "broker":
        env["F1_KAFKA_BOOTSTRAP"] = nowhere
    else:
        env["F1_SCHEMA_REGISTRY_URL"] = f"http://{nowhere}"
    with PanelServer(env) as server, Browser() as browser:
        browser.open(server.url)
        shown = wait_for(
            f"the {down} banner", lambda: banner in (browser.text_of("banner") or "") and 1, 30
        )
        assert shown
        assert browser.readouts()["speed"] == "\u2014"  # an empty state, not stale numbers
        assert browser.readouts()["driver"] == "Waiting for telemetry"
        assert browser.console_errors() == []
