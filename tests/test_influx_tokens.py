"""InfluxDB tokens per service: the sink writes with its own, the readers read with theirs,
both fall back to the shared one, and the local stack's token goes to the local stack only."""

from __future__ import annotations

import pytest

from runtime import endpoints
from runtime.errors import ConfigError
from sinks.settings import SinkSettings
from stack import paths

LOCAL = "http://127.0.0.1:8086"


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for setting in endpoints.ALL:
        monkeypatch.delenv(setting.env, raising=False)
    monkeypatch.setenv("F1_STATE_DIR", str(tmp_path))
    token_file = paths.influx_token_file()
    token_file.parent.mkdir(parents=True)
    token_file.write_text("local-operator-token\n")


def test_each_access_takes_its_own_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("F1_INFLUX_WRITE_TOKEN", "write-only")
    monkeypatch.setenv("F1_INFLUX_READ_TOKEN", "read-only")
    monkeypatch.setenv("F1_INFLUX_TOKEN", "shared")
    assert endpoints.influx_token("write") == "write-only"
    assert endpoints.influx_token("read") == "read-only"
    assert SinkSettings.from_env().influx_token == "write-only"
    assert SinkSettings.from_env(influx_access="read").influx_token == "read-only"
    assert endpoints.Endpoints.from_env().influx_token == "read-only"  # the pit wall's


def test_files_and_the_shared_token_are_fallbacks(monkeypatch, tmp_path) -> None:
    write = tmp_path / "write-token"
    write.write_text("from-the-write-file\n")
    monkeypatch.setenv("F1_INFLUX_WRITE_TOKEN_FILE", str(write))
    monkeypatch.setenv("F1_INFLUX_TOKEN", "shared")
    assert endpoints.influx_token("write") == "from-the-write-file"
    assert endpoints.influx_token("read") == "shared"
    monkeypatch.setenv("F1_INFLUX_READ_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="F1_INFLUX_READ_TOKEN_FILE: cannot read"):
        endpoints.influx_token("read")


@pytest.mark.parametrize(
    ("url", "local"),
    [
        (LOCAL, True),
        ("http://localhost:8086", True),
        ("http://127.0.0.1:9999", False),
        ("http://influx.example:8086", False),
        ("https://10.0.0.5:8086", False),
        ("http://127.0.0.1.evil.example:8086", False),
    ],
)
def test_the_local_stack_token_goes_to_the_local_stack_only(url: str, local: bool) -> None:
    expected = "local-operator-token" if local else ""
    assert endpoints.influx_token("read", url) == expected
    assert endpoints.influx_token("write", url) == expected


def test_a_remote_sink_without_a_token_is_refused_before_the_local_one_is_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("F1_INFLUX_URL", "https://influx.example:8086")
    with pytest.raises(ConfigError, match="F1_INFLUX_WRITE_TOKEN or F1_INFLUX_TOKEN"):
        SinkSettings.from_env()
    assert SinkSettings.from_env(influx_url=LOCAL).influx_token == "local-operator-token"


def test_no_token_in_help_or_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("F1_INFLUX_WRITE_TOKEN", "w-S3CRET")
    monkeypatch.setenv("F1_INFLUX_READ_TOKEN", "r-S3CRET")
    shown = repr(SinkSettings.from_env()) + repr(endpoints.Endpoints.from_env())
    shown += endpoints.INFLUX_WRITE_TOKEN.help_text() + endpoints.INFLUX_READ_TOKEN.help_text()
    assert "S3CRET" not in shown
