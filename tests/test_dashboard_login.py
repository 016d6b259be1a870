"""The pit wall behind its login, for real: ``panel serve`` as the demo starts it, on a free
loopback port, with a users file. Without credentials the page, ``/health`` and ``/timing``
give nothing away; with them they answer. No Kafka is needed: the endpoints point where
nothing listens, so an authenticated ``/health`` answers 503 with its JSON, and a refusal
(401, no JSON of the model) is told apart from that."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from dashboard.access import basic_credentials, credentials_ok
from runtime.errors import ConfigError
from stack.dashboard_serve import DashboardLogin
from stack.demo import Options, Platform, service_commands

USER, PASSWORD = "engineer", "Box-Box-S3CRET"
SECRETS = (PASSWORD, "KAFKA-S3CRET", "URL-S3CRET")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _users(tmp_path: Path, users: object) -> Path:
    path = tmp_path / "pit-wall-users.json"
    path.write_text(json.dumps(users))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def pit_wall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo's pit wall with a login; its base URL."""
    tmp = tmp_path_factory.mktemp("pit-wall")
    nowhere = _free_port()  # nothing listens there: no Kafka, no registry, no InfluxDB
    login = DashboardLogin.from_env(
        {"F1_DASHBOARD_BASIC_AUTH_FILE": str(_users(tmp, {USER: PASSWORD}))}
    )
    port = _free_port()
    env = {
        "F1_KAFKA_BOOTSTRAP": f"127.0.0.1:{nowhere}",
        "F1_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "F1_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "F1_KAFKA_SASL_USERNAME": "pitwall",
        "F1_KAFKA_SASL_PASSWORD": "KAFKA-S3CRET",
        "F1_SCHEMA_REGISTRY_URL": f"http://pitwall:URL-S3CRET@127.0.0.1:{nowhere}/apis/ccompat/v7",
        "F1_INFLUX_URL": f"http://127.0.0.1:{nowhere}",
        "F1_INFLUX_TOKEN": "not-used",
    }
    platform = Platform(Options(dashboard_port=port, dashboard_login=login, env=env, logs_dir=tmp))
    platform.start("dashboard")
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                requests.get(f"{base}/login", timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or platform.exited():
                    pytest.fail(f"the pit wall did not start:\n{platform.log_tail('dashboard')}")
                time.sleep(0.3)
        yield base
    finally:
        platform.kill("dashboard")


def _basic(user: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def test_the_demo_binds_loopback_and_passes_the_secret_outside_argv(tmp_path: Path) -> None:
    login = DashboardLogin.from_env(
        {
            "F1_DASHBOARD_BASIC_AUTH_FILE": str(_users(tmp_path, {USER: PASSWORD})),
            "F1_DASHBOARD_COOKIE_SECRET": "cookie-S3CRET",
        }
    )
    assert login is not None
    argv = service_commands(Options(dashboard_login=login))["dashboard"]
    assert argv[argv.index("--address") + 1] == "127.0.0.1"
    assert argv[argv.index("--basic-auth") + 1] == str(login.users_file)
    assert not [a for a in argv if "S3CRET" in a]
    platform = Platform(Options(dashboard_login=login, logs_dir=tmp_path))
    assert platform.services["dashboard"].env == {"PANEL_COOKIE_SECRET": "cookie-S3CRET"}
    assert "PANEL_COOKIE_SECRET" not in platform.services["sink-influx"].env
    assert "S3CRET" not in repr(login)
    plain = service_commands(Options())["dashboard"]
    assert "--basic-auth" not in plain and plain[plain.index("--address") + 1] == "127.0.0.1"


@pytest.mark.parametrize(
    "users",
    [[], {}, {"u": ""}, {"": "p"}, "password", {"u": 1}],
)
def test_a_users_file_that_is_not_users_and_passwords_is_refused(tmp_path, users) -> None:
    with pytest.raises(ConfigError, match="F1_DASHBOARD_BASIC_AUTH_FILE"):
        DashboardLogin.from_env({"F1_DASHBOARD_BASIC_AUTH_FILE": str(_users(tmp_path, users))})
    with pytest.raises(ConfigError, match="cannot read"):
        DashboardLogin.from_env({"F1_DASHBOARD_BASIC_AUTH_FILE": str(tmp_path / "missing.json")})
    with pytest.raises(ConfigError, match="no login without a users file"):
        DashboardLogin.from_env({"F1_DASHBOARD_COOKIE_SECRET": "s"})


def test_without_credentials_nothing_is_given_away(pit_wall: str) -> None:
    page = requests.get(f"{pit_wall}/app", allow_redirects=False, timeout=10)
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    for path in ("/health", "/timing", "/timing?session=s-1"):
        for headers in (
            {},
            _basic(USER, "wrong"),
            _basic("nobody", PASSWORD),
            {"Authorization": "Basic !!"},
        ):
            refused = requests.get(
                f"{pit_wall}{path}", headers=headers, allow_redirects=False, timeout=10
            )
            assert refused.status_code == 401, (path, headers)
            assert refused.json() == {"error": "authentication required"}
            assert refused.headers["WWW-Authenticate"].startswith("Basic ")


def test_with_credentials_the_endpoints_answer(pit_wall: str) -> None:
    health = requests.get(f"{pit_wall}/health", headers=_basic(USER, PASSWORD), timeout=10)
    # No Kafka there: the answer is the model's state, 503 once the feed has found that out.
    assert health.status_code in (200, 503)
    assert {"kafka", "registry", "cars", "circuit"} <= set(health.json())
    timing = requests.get(f"{pit_wall}/timing", headers=_basic(USER, PASSWORD), timeout=10)
    assert timing.status_code == 200 and "sessions" in timing.json()


def test_a_logged_in_browser_gets_the_page_and_the_endpoints(pit_wall: str) -> None:
    browser = requests.Session()
    login = browser.post(
        f"{pit_wall}/login",
        data={"username": USER, "password": PASSWORD},
        allow_redirects=False,
        timeout=10,
    )
    assert login.status_code == 302 and "user" in browser.cookies
    page = browser.get(f"{pit_wall}/app", allow_redirects=False, timeout=30)
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert "kafka" in browser.get(f"{pit_wall}/health", timeout=10).json()
    assert "sessions" in browser.get(f"{pit_wall}/timing", timeout=10).json()


def test_health_shows_no_secret_of_the_connection_settings(pit_wall: str) -> None:
    """Once the feed has failed to reach Kafka and the registry (whose URL holds credentials),
    the errors it reports name the endpoints without a password."""
    deadline = time.monotonic() + 30
    while True:
        health = requests.get(f"{pit_wall}/health", headers=_basic(USER, PASSWORD), timeout=10)
        body = health.json()
        if (body["registry"] == "down" and body["kafka"] == "down") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert health.status_code == 503 and body["registry"] == "down", body
    assert not [s for s in SECRETS if s in health.text], health.text


def test_credentials_are_checked_as_panel_checks_them(tmp_path: Path) -> None:
    users = _users(tmp_path, {USER: PASSWORD, "strategist": "other"})
    assert credentials_ok(USER, PASSWORD, str(users))
    assert not credentials_ok(USER, "other", str(users))
    assert not credentials_ok("nobody", PASSWORD, {USER: PASSWORD})
    assert credentials_ok("anyone", PASSWORD, PASSWORD)  # one password for any user
    assert not credentials_ok("anyone", "", "")
    assert basic_credentials(_basic("a", "b:c")["Authorization"]) == ("a", "b:c")
    assert basic_credentials("Bearer x") is None and basic_credentials(None) is None
