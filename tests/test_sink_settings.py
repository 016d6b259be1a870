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


def test_every_run_flag_reaches_its_setting() -> None:
    from sinks import cli

    argv = ["run", "--group", "g-flag", "--batch-points", "9", "--batch-ms", "20"]
    argv += ["--gzip", "on", "--progress-s", "3", "--retry-max-s", "2"]
    argv += ["--influx-timeout-ms", "500", "--offset-reset", "latest", "--dlq-topic", "d"]
    argv += ["--bootstrap", "b:1", "--registry", "http://r", "--bucket", "bk"]
    settings = cli._settings(cli.build_parser().parse_args(argv))
    assert (settings.group_id, settings.batch_points, settings.batch_ms) == ("g-flag", 9, 20.0)
    assert (settings.gzip, settings.progress_s, settings.retry_max_s) == (True, 3.0, 2.0)
    assert (settings.influx_timeout_ms, settings.offset_reset) == (500, "latest")
    assert (settings.topics.dlq, settings.kafka_bootstrap, settings.registry_url) == (
        "d",
        "b:1",
        "http://r",
    )
    assert settings.influx_bucket == "bk"


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--retry-max-s", "0"), ("--influx-timeout-ms", "0"), ("--batch-ms", "nan")],
)
def test_numbers_that_would_hang_or_spin_are_refused(flag: str, value: str) -> None:
    from sinks import cli

    args = cli.build_parser().parse_args(["run", flag, value])
    with pytest.raises(ConfigError, match=flag):
        cli._settings(args)
