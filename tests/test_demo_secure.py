"""``f1-stack demo --secure``: each service logged in as its own user, with no other's
secret, whatever the shell that started the demo holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from stack.demo import Options, Platform
from stack.secure_demo import CREDENTIALS, SERVICE_USERS, secured


@pytest.fixture
def platform(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Platform:
    monkeypatch.setenv("F1_STATE_DIR", str(tmp_path / "state"))
    # The shell holds the admin's login and an operator token: no service may take them.
    monkeypatch.setenv("F1_KAFKA_SASL_USERNAME", "admin")
    monkeypatch.setenv("F1_INFLUX_TOKEN", "operator")
    options = Options(env={"F1_TELEMETRY_TOPIC": "t"}, logs_dir=tmp_path)
    return Platform(secured(options))


def _env(platform: Platform, service: str) -> dict[str, str]:
    return {**platform.env, **platform.services[service].env}


def test_every_service_logs_in_as_its_own_user(platform: Platform, tmp_path: Path) -> None:
    secrets = tmp_path / "state" / "secure" / "secrets"
    for service, user in SERVICE_USERS.items():
        env = _env(platform, service)
        assert env["F1_KAFKA_SASL_USERNAME"] == user
        assert env["F1_SCHEMA_REGISTRY_USERNAME"] == user
        assert env["F1_KAFKA_SASL_PASSWORD_FILE"] == str(secrets / f"kafka-{user}.password")
        assert env["F1_KAFKA_BOOTSTRAP"] == "127.0.0.1:29092"
        assert env["F1_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert env["F1_TELEMETRY_TOPIC"] == "t"  # the demo's own settings stay
        assert env["F1_INFLUX_TOKEN"] == ""


def test_only_the_sink_writes_and_only_readers_read_influxdb(platform: Platform) -> None:
    tokens = {
        service: {k for k in CREDENTIALS if "INFLUX" in k and _env(platform, service)[k]}
        for service in SERVICE_USERS
    }
    assert tokens == {
        "sink-influx": {"F1_INFLUX_WRITE_TOKEN_FILE"},
        "dashboard": {"F1_INFLUX_READ_TOKEN_FILE"},
        "simulator": {"F1_INFLUX_READ_TOKEN_FILE"},  # the producer user's f1-replay reads
        "analytics": set(),
    }
