"""Sink settings: env vars, flags over env, gzip only off loopback, the token never shown."""

from __future__ import annotations

import pytest

from runtime.errors import ConfigError
from sinks.settings import SinkSettings, gzip_wanted


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("F1_INFLUX_TOKEN", "secret-token")


def test_env_vars_then_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("F1_SINK_BATCH_POINTS", "123")
    monkeypatch.setenv("F1_SINK_BATCH_MS", "50")
    monkeypatch.setenv("F1_SINK_GROUP", "g-env")
    monkeypatch.setenv("F1_TELEMETRY_TOPIC", "t-env")
    settings = SinkSettings.from_env()
    assert (settings.batch_points, settings.batch_ms, settings.group_id) == (123, 50.0, "g-env")
    assert settings.topics.telemetry == "t-env"
    flagged = SinkSettings.from_env(batch_points=7, group_id=None, telemetry_topic="t-flag")
    assert (flagged.batch_points, flagged.group_id) == (7, "g-env")
    assert flagged.topics.telemetry == "t-flag"


def test_token_is_kept_out_of_repr() -> None:
    settings = SinkSettings.from_env()
    assert settings.influx_token == "secret-token"
    assert "secret-token" not in repr(settings)


def test_bad_numbers_are_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("F1_SINK_BATCH_POINTS", "many")
    with pytest.raises(ConfigError, match="F1_SINK_BATCH_POINTS"):
        SinkSettings.from_env()


def test_missing_token_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("F1_INFLUX_TOKEN", "")
    monkeypatch.setattr("runtime.endpoints._local_stack_token", lambda: "")
    with pytest.raises(ConfigError, match="F1_INFLUX_TOKEN"):
        SinkSettings.from_env()


def test_gzip_auto_compresses_only_remote_writes() -> None:
    assert gzip_wanted("auto", "http://127.0.0.1:8086") is False
    assert gzip_wanted("auto", "http://localhost:8086") is False
    assert gzip_wanted("auto", "https://influx.example.org") is True
    assert gzip_wanted("on", "http://127.0.0.1:8086") is True
    with pytest.raises(ConfigError):
        gzip_wanted("sometimes", "http://x")
