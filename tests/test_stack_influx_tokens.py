"""The stack's secret files and the scope of the InfluxDB tokens it makes."""

from __future__ import annotations

import stat
from pathlib import Path

from stack.influx_tokens import permissions, token_file_name
from stack.influxdb import InfluxDB
from stack.secret_files import password_file


def test_secret_files_are_private_and_a_password_is_made_once(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "kafka-x.password"
    first = password_file(path)
    assert len(first) >= 24
    assert password_file(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_scoped_token_grants_one_action_on_the_bucket_alone() -> None:
    assert permissions("write", "org-1", "bucket-1") == [
        {"action": "write", "resource": {"type": "buckets", "id": "bucket-1", "orgID": "org-1"}}
    ]


def test_the_scoped_tokens_sit_beside_the_operator_token(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("F1_STATE_DIR", str(tmp_path))
    influx = InfluxDB()
    assert influx.token_file == tmp_path / "influxdb" / "token"
    assert influx.scoped_token_file("write") == tmp_path / "influxdb" / "write-token"
    assert influx.scoped_token_file("read") == tmp_path / "influxdb" / token_file_name("read")
