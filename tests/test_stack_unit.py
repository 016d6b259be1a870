"""The local stack's bookkeeping, without starting anything."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime import endpoints
from stack import cli, paths, procs


def test_cache_and_state_folders_follow_their_env_vars(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("F1_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("F1_STATE_DIR", str(tmp_path / "state"))
    assert paths.cache_dir() == tmp_path / "cache"
    assert paths.state_dir() == tmp_path / "state"
    assert paths.influx_token_file() == tmp_path / "state" / "influxdb" / "token"


def test_defaults_keep_the_cache_outside_the_repo(monkeypatch) -> None:
    monkeypatch.delenv("F1_CACHE_DIR", raising=False)
    monkeypatch.delenv("F1_STATE_DIR", raising=False)
    assert paths.cache_dir() == Path.home() / ".cache" / "f1-telemetry"
    assert paths.state_dir() == paths.REPO_ROOT / ".state"


def test_pid_file_of_a_live_process_is_read_back(tmp_path: Path) -> None:
    pid_file = tmp_path / "me.pid"
    ticks = procs._start_ticks(os.getpid())
    pid_file.write_text(f"{os.getpid()} {ticks}\n")
    assert procs.read_pid(pid_file) == procs.PidRecord(os.getpid(), ticks)


def test_pid_file_of_a_reused_pid_is_stale_and_removed(tmp_path: Path) -> None:
    # Same pid, different start time: another process now has that pid.
    pid_file = tmp_path / "old.pid"
    ticks = procs._start_ticks(os.getpid())
    pid_file.write_text(f"{os.getpid()} {ticks + 1}\n")
    assert procs.read_pid(pid_file) is None
    assert not pid_file.exists()


@pytest.mark.parametrize("content", ["", "garbage", "12"])
def test_unreadable_pid_files_mean_not_running(tmp_path: Path, content: str) -> None:
    pid_file = tmp_path / "bad.pid"
    pid_file.write_text(content)
    assert procs.read_pid(pid_file) is None


def test_tail_returns_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert procs.tail(log, 3) == "line 97\nline 98\nline 99"
    assert procs.tail(tmp_path / "missing.log") == ""


def test_endpoints_default_to_the_local_stack(monkeypatch, tmp_path: Path) -> None:
    for setting in endpoints.ALL:
        monkeypatch.delenv(setting.env, raising=False)
    monkeypatch.setenv("F1_STATE_DIR", str(tmp_path))
    token_file = paths.influx_token_file()
    token_file.parent.mkdir(parents=True)
    token_file.write_text("local-token\n")
    found = endpoints.Endpoints.from_env()
    assert found.kafka_bootstrap == "127.0.0.1:9092"
    assert found.registry_url == "http://127.0.0.1:8081/apis/ccompat/v7"
    assert found.influx_token == "local-token"


def test_endpoint_env_vars_override_the_defaults(monkeypatch) -> None:
    monkeypatch.setenv("F1_KAFKA_BOOTSTRAP", "broker:29092")
    monkeypatch.setenv("F1_INFLUX_TOKEN", "from-env")
    found = endpoints.Endpoints.from_env()
    assert found.kafka_bootstrap == "broker:29092"
    assert found.influx_token == "from-env"


def test_logs_of_an_unknown_service_is_a_usage_error(capsys) -> None:
    assert cli.main(["logs", "zookeeper"]) == 2
    assert "unknown service 'zookeeper'" in capsys.readouterr().err


def test_an_unknown_command_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["sideways"])
    assert exited.value.code == 2


def test_help_text_names_the_env_var_and_never_shows_a_secret(monkeypatch) -> None:
    monkeypatch.setenv("F1_KAFKA_BOOTSTRAP", "broker:29092")
    assert endpoints.KAFKA_BOOTSTRAP.help_text("Kafka") == (
        "Kafka (env F1_KAFKA_BOOTSTRAP, default '127.0.0.1:9092'; now 'broker:29092')"
    )
    monkeypatch.setenv("F1_INFLUX_TOKEN", "s3cret")
    assert "s3cret" not in endpoints.INFLUX_TOKEN.help_text("token")
