"""Topic and subject names, and the f1-schemas command line."""

from __future__ import annotations

import pytest

from schemas import topics
from schemas.cli import main


def test_defaults_and_subjects(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("F1_TELEMETRY_TOPIC", "F1_ANALYTICS_TOPIC", "F1_DLQ_TOPIC"):
        monkeypatch.delenv(name, raising=False)
    t = topics.Topics.from_env()
    assert (t.telemetry, t.analytics, t.dlq) == ("f1-telemetry", "f1-analytics", "f1-telemetry-dlq")
    assert t.telemetry_subject == "f1-telemetry-value"
    assert t.analytics_subject == "f1-analytics-value"
    assert {k: p.name for k, p in t.subjects().items()} == {
        "f1-telemetry-value": "telemetry.avsc",
        "f1-analytics-value": "lap_summary.avsc",
    }


def test_env_overrides_and_flags_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("F1_TELEMETRY_TOPIC", "t-123")
    monkeypatch.setenv("F1_ANALYTICS_TOPIC", "a-123")
    monkeypatch.setenv("F1_DLQ_TOPIC", "d-123")
    t = topics.Topics.from_env()
    assert (t.telemetry, t.analytics, t.dlq) == ("t-123", "a-123", "d-123")
    assert t.telemetry_subject == "t-123-value"
    assert topics.Topics.from_env(telemetry="flag").telemetry == "flag"
    monkeypatch.setenv("F1_TELEMETRY_TOPIC", "")
    assert topics.Topics.from_env().telemetry == "f1-telemetry"


def test_schema_files_are_shipped() -> None:
    assert topics.TELEMETRY_SCHEMA_FILE.is_file() and topics.LAP_SUMMARY_SCHEMA_FILE.is_file()


def test_register_with_unreachable_registry_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["register", "--registry", "http://127.0.0.1:9/apis/ccompat/v7", "--timeout", "1"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "127.0.0.1:9" in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["register", "check"])
def test_help_shows_the_env_vars(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for var in ("F1_SCHEMA_REGISTRY_URL", "F1_TELEMETRY_TOPIC", "F1_ANALYTICS_TOPIC"):
        assert var in out


def test_channels_command_prints_the_tables(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["channels"]) == 0
    assert "| `speed_kmh` | Speed | km/h | float | 0 .. 400 |" in capsys.readouterr().out
