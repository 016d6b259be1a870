"""Registry credentials and CA: from the URL or the env, used as basic auth, never shown."""

from __future__ import annotations

import json
import socket
import time

import certifi
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from runtime import endpoints
from runtime.errors import ConfigError
from runtime.registry_access import (
    ALL,
    REQUEST_TIMEOUT_S,
    RegistryUrl,
    registry_access,
    split_credentials,
)
from schemas import cli as schemas_cli
from schemas.registry import SchemaRegistry, probe
from tests.registry_server import registry_with_basic_auth

PASSWORD = "r3g-S3CRET/with@signs"


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for setting in (*ALL, endpoints.SCHEMA_REGISTRY_URL):
        monkeypatch.delenv(setting.env, raising=False)


def _with_credentials(url: str, user: str = "pitwall", password: str = PASSWORD) -> str:
    scheme, rest = url.split("://", 1)
    quoted = password.replace("/", "%2F").replace("@", "%40")
    return f"{scheme}://{user}:{quoted}@{rest}"


def test_credentials_leave_the_url() -> None:
    url = _with_credentials("https://registry.example:8081/apis/ccompat/v7")
    assert split_credentials(url) == (
        "https://registry.example:8081/apis/ccompat/v7",
        "pitwall",
        PASSWORD,
    )
    assert split_credentials("http://r:8081") == ("http://r:8081", "", "")
    shown = RegistryUrl(url)
    assert shown == "https://registry.example:8081/apis/ccompat/v7"
    assert PASSWORD not in repr(shown) + str(shown) + f"{shown}"
    assert (shown.username, shown.password) == ("pitwall", PASSWORD)
    # A child process is given the URL as it was, and reads the credentials out again.
    assert shown.with_credentials() == url
    assert RegistryUrl(shown.with_credentials()).password == PASSWORD


def test_the_url_is_shown_without_them_in_settings_help_and_reprs(monkeypatch) -> None:
    url = _with_credentials("https://registry.example/apis/ccompat/v7")
    monkeypatch.setenv("F1_SCHEMA_REGISTRY_URL", url)
    found = endpoints.Endpoints.from_env()
    assert found.registry_url == "https://registry.example/apis/ccompat/v7"
    help_text = endpoints.SCHEMA_REGISTRY_URL.help_text()
    assert "now 'https://registry.example/apis/ccompat/v7'" in help_text
    for shown in (repr(found), help_text, str(endpoints.Endpoints(registry_url=url))):
        assert PASSWORD not in shown and "pitwall:" not in shown


def test_the_client_gets_basic_auth_and_the_ca(monkeypatch) -> None:
    monkeypatch.setenv("F1_SCHEMA_REGISTRY_USERNAME", "sink")
    monkeypatch.setenv("F1_SCHEMA_REGISTRY_PASSWORD", PASSWORD)
    monkeypatch.setenv("F1_SCHEMA_REGISTRY_CA_LOCATION", certifi.where())
    access = registry_access("https://registry.example/apis/ccompat/v7")
    assert access.client_conf() == {
        "url": "https://registry.example/apis/ccompat/v7",
        "basic.auth.user.info": f"sink:{PASSWORD}",
        "ssl.ca.location": certifi.where(),
        "timeout": REQUEST_TIMEOUT_S,
    }
    assert PASSWORD not in repr(access)
    given: list[dict] = []
    monkeypatch.setattr("schemas.registry.SchemaRegistryClient", given.append)
    SchemaRegistry("https://registry.example/apis/ccompat/v7")
    assert given[0]["basic.auth.user.info"] == f"sink:{PASSWORD}"
    assert given[0]["ssl.ca.location"] == certifi.where()


def test_a_registry_that_takes_a_request_and_never_answers_does_not_hang_the_client(
    monkeypatch,
) -> None:
    monkeypatch.setattr("runtime.registry_access.REQUEST_TIMEOUT_S", 0.3)
    with socket.socket() as server:  # accepts connections (the backlog), never answers
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        client = SchemaRegistryClient({**registry_access(url).client_conf(), "max.retries": 0})
        started = time.monotonic()
        with pytest.raises(Exception) as raised:  # the HTTP library's own timeout error
            client.get_subjects()
        assert "Timeout" in type(raised.value).__name__
        assert time.monotonic() - started < 3


def test_the_password_may_come_from_a_file(monkeypatch, tmp_path) -> None:
    secret = tmp_path / "registry-password"
    secret.write_text(PASSWORD + "\n")
    monkeypatch.setenv("F1_SCHEMA_REGISTRY_USERNAME", "sink")
    monkeypatch.setenv("F1_SCHEMA_REGISTRY_PASSWORD_FILE", str(secret))
    assert registry_access("http://r:8081").password == PASSWORD


@pytest.mark.parametrize(
    ("env", "url", "expected"),
    [
        ({"F1_SCHEMA_REGISTRY_USERNAME": "u"}, "http://r", "user 'u' has no password"),
        (
            {"F1_SCHEMA_REGISTRY_PASSWORD": PASSWORD},
            "http://r",
            "needs F1_SCHEMA_REGISTRY_USERNAME",
        ),
        (
            {"F1_SCHEMA_REGISTRY_USERNAME": "u", "F1_SCHEMA_REGISTRY_PASSWORD": "p"},
            "http://a:b@r",
            "both in the URL and in F1_SCHEMA_REGISTRY_USERNAME",
        ),
        (
            {"F1_SCHEMA_REGISTRY_USERNAME": "u", "F1_SCHEMA_REGISTRY_PASSWORD_FILE": "/no/such"},
            "http://r",
            "F1_SCHEMA_REGISTRY_PASSWORD_FILE: cannot read /no/such",
        ),
        ({"F1_SCHEMA_REGISTRY_CA_LOCATION": "/no/ca.pem"}, "https://r", "no file /no/ca.pem"),
        ({"F1_SCHEMA_REGISTRY_CA_LOCATION": __file__}, "https://r", "is no PEM CA bundle"),
    ],
)
def test_bad_settings_are_one_config_error(monkeypatch, env, url, expected) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=expected) as refused:
        SchemaRegistry(url)
    assert PASSWORD not in str(refused.value) and "\n" not in str(refused.value)


def test_errors_and_probes_name_the_url_without_credentials() -> None:
    url = _with_credentials("http://127.0.0.1:9/apis/ccompat/v7")  # nothing listens on 9
    why = probe(url, timeout_s=0.5)
    assert why is not None and "http://127.0.0.1:9/apis/ccompat/v7" in why
    assert PASSWORD not in why
    registry = SchemaRegistry(url, timeout_s=0.5, retries=0)
    assert registry.url == "http://127.0.0.1:9/apis/ccompat/v7"
    with pytest.raises(Exception) as failed:
        registry.latest("s-value")
    assert PASSWORD not in str(failed.value)


@pytest.mark.parametrize("where", ["url", "env"])
def test_f1_schemas_register_with_basic_auth(monkeypatch, capsys, where: str) -> None:
    """``f1-schemas register`` against a registry that demands basic auth, with the
    credentials in the URL or in the env vars; without them, one line and a refusal."""
    with registry_with_basic_auth("schemas", PASSWORD) as server:
        assert schemas_cli.main(["register", "--registry", server.url]) != 0
        refused = capsys.readouterr().err
        assert len(refused.splitlines()) == 1 and "401" in refused
        if where == "url":
            argv = ["register"]
            monkeypatch.setenv("F1_SCHEMA_REGISTRY_URL", _with_credentials(server.url, "schemas"))
        else:
            argv = ["register", "--registry", server.url]
            monkeypatch.setenv("F1_SCHEMA_REGISTRY_USERNAME", "schemas")
            monkeypatch.setenv("F1_SCHEMA_REGISTRY_PASSWORD", PASSWORD)
        refusals = server.refused
        assert schemas_cli.main(argv) == 0, capsys.readouterr().err
        out = capsys.readouterr()
        assert server.refused == refusals
        assert set(server.schemas) == {"f1-telemetry-value", "f1-analytics-value"}
        assert all(json.loads(v[-1]) for v in server.schemas.values())
        assert PASSWORD not in out.out + out.err
