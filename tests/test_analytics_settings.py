"""The analytics job's settings, CLI and console lines: no Spark, no Kafka."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics import cli
from analytics.publish import format_summary
from analytics.settings import Settings, parse_duration_s, state_layout_id
from runtime.errors import ConfigError


def test_defaults_follow_the_platform_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("F1_STATE_DIR", "/var/f1")
    s = Settings.from_env({})
    assert s.master == "local[2]"
    assert s.trigger_s == 5.0 and s.trigger == "5000 milliseconds"
    assert s.checkpoint.parent == Path("/var/f1/analytics")
    assert s.checkpoint.name == f"checkpoint-{state_layout_id()}"
    assert s.watermark == "30000 milliseconds"
    assert s.starting_offsets == "earliest" and s.max_offsets_per_trigger is None
    assert (s.topics.telemetry, s.topics.analytics) == ("f1-telemetry", "f1-analytics")
    assert s.kafka_bootstrap == "127.0.0.1:9092"


def test_the_default_checkpoint_changes_with_the_state_layout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import analytics.settings

    before = state_layout_id()
    assert len(before) == 8 and before == state_layout_id()
    monkeypatch.setattr(
        analytics.settings, "STATE_FIELDS", (*analytics.settings.STATE_FIELDS, ("pit", "int"))
    )
    assert state_layout_id() != before


def test_env_vars_then_flags_win() -> None:
    env = {
        "SPARK_MASTER": "local[1]",
        "SPARK_TRIGGER_INTERVAL": "500ms",
        "F1_ANALYTICS_CHECKPOINT": "/tmp/ck",
        "F1_TELEMETRY_TOPIC": "t",
        "F1_ANALYTICS_MAX_OFFSETS_PER_TRIGGER": "1000",
    }
    s = Settings.from_env(env)
    assert (s.master, s.trigger_s, s.checkpoint) == ("local[1]", 0.5, Path("/tmp/ck"))
    assert s.topics.telemetry == "t" and s.max_offsets_per_trigger == 1000
    args = cli.build_parser().parse_args(["--trigger", "2min", "--telemetry-topic", "u"])
    from analytics.settings import from_args

    s = from_args(args, env)
    assert s.trigger_s == 120.0 and s.topics.telemetry == "u" and s.master == "local[1]"


@pytest.mark.parametrize(
    ("text", "seconds"), [("5", 5.0), ("5s", 5.0), ("250ms", 0.25), ("2 min", 120.0)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration_s(text, "x") == seconds


@pytest.mark.parametrize(
    "env",
    [
        {"SPARK_TRIGGER_INTERVAL": "soon"},
        {"F1_ANALYTICS_STARTING_OFFSETS": "middle"},
        {"F1_ANALYTICS_MAX_OFFSETS_PER_TRIGGER": "0"},
    ],
)
def test_bad_settings_are_config_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(env)


def test_help_names_every_env_var(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for name in (
        "SPARK_MASTER",
        "SPARK_TRIGGER_INTERVAL",
        "F1_ANALYTICS_CHECKPOINT",
        "F1_ANALYTICS_WATERMARK",
        "F1_KAFKA_BOOTSTRAP",
        "F1_SCHEMA_REGISTRY_URL",
        "F1_TELEMETRY_TOPIC",
        "F1_ANALYTICS_TOPIC",
    ):
        assert name in out


def test_a_bad_flag_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--trigger", "fast"])
    assert exc.value.code == 2
    assert "trigger interval" in capsys.readouterr().err


def test_an_unreachable_registry_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The broker check comes first: pretend it answered.
    monkeypatch.setattr("analytics.job.check_broker", lambda *_a, **_k: set())
    code = cli.main(["--registry", "http://127.0.0.1:9/apis/ccompat/v7"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1].startswith("f1-analytics: ") and "127.0.0.1:9" in err[-1]


def test_console_line() -> None:
    line = format_summary(
        {
            "session_id": "s1",
            "car_id": "car-01",
            "driver": "VER",
            "lap": 2,
            "lap_time_s": 89.1234,
            "sector1_s": 28.5,
            "sector2_s": 35.1,
            "sector3_s": 25.5234,
            "avg_speed_kmh": 237.4,
            "max_speed_kmh": 321.0,
            "full_throttle_share": 0.61,
            "brake_share": 0.14,
            "fuel_used_kg": 1.52,
            "sample_count": 8912,
        }
    )
    assert line.startswith("s1 car-01 VER lap   2  1:29.123  S1 28.500")
    assert "full throttle 61%" in line and "8912 samples" in line


def test_a_checkpoint_of_another_state_layout_is_one_clear_error(tmp_path: Path) -> None:
    # Spark's own message, as it ends a query started on an older job's checkpoint.
    from analytics.job import AnalyticsJob, QueryFailedError

    failure = (
        "[STREAM_FAILED] Query [id = 1, runId = 2] terminated with exception: "
        "[STATE_STORE_VALUE_SCHEMA_NOT_COMPATIBLE] Provided value schema does not match "
        "existing state value schema."
    )
    job = object.__new__(AnalyticsJob)  # the mapping of failures needs no Spark nor broker
    job.settings = Settings.from_env({"F1_ANALYTICS_CHECKPOINT": str(tmp_path)})
    job._replay_restarts = 0
    with pytest.raises(QueryFailedError) as raised:
        job._recover(failure)
    message = str(raised.value)
    assert str(tmp_path) in message and "another version of this job" in message
    assert "--checkpoint" in message and "\n" not in message
