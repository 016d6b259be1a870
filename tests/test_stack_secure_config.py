"""The secured stack's configuration, made without starting anything: the broker's
properties, the users and their ACLs, the registry proxy's nginx.conf, the certificates, the
secret files and what ``f1-stack up --secure`` prints."""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from analytics import query_run
from dashboard.feed import consumer_config
from runtime.kafka import END_OFFSETS_GROUP
from schemas.topics import Topics
from sinks.settings import GROUP
from stack import cli, secure
from stack.certificates import Certificates, ensure_certificates
from stack.registry_proxy import htpasswd_line, nginx_config
from stack.secret_files import write_secret
from stack.secure_kafka import plain_jaas, secure_properties
from stack.service_users import (
    ANALYTICS_PREFIX,
    DASHBOARD_GROUP_PREFIX,
    SINK_GROUP_DEFAULT,
    Grant,
    acl_bindings,
    service_users,
)

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def _properties(text: str) -> dict[str, str]:
    joined = text.replace("\\\n", "")
    return dict(
        line.split("=", 1) for line in joined.splitlines() if line and not line.startswith("#")
    )


def test_every_broker_listener_is_tls_with_a_login_and_acls_are_enforced(tmp_path: Path) -> None:
    props = _properties(secure_properties(tmp_path, Certificates(tmp_path / "tls"), "pw-1"))
    protocols = dict(p.split(":") for p in props["listener.security.protocol.map"].split(","))
    assert set(protocols.values()) == {"SASL_SSL"}
    assert "PLAINTEXT" not in props["listeners"]
    assert props["listener.name.client.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert props["super.users"] == "User:stack"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["auto.create.topics.enable"] == "false"
    assert props["ssl.truststore.location"] == str(tmp_path / "tls" / "ca.pem")
    # The super user's password is in its login lines and nowhere else.
    with_password = [k for k, v in props.items() if "pw-1" in v]
    assert sorted(with_password) == [
        "listener.name.controller.plain.sasl.jaas.config",
        "listener.name.internal.plain.sasl.jaas.config",
    ]
    assert plain_jaas("stack", "pw-1").endswith('user_stack="pw-1";')


def test_the_services_group_names_are_the_ones_the_acls_grant() -> None:
    assert GROUP.default == SINK_GROUP_DEFAULT
    assert query_run.PREFIX == ANALYTICS_PREFIX
    group = consumer_config("127.0.0.1:9092", lambda _err: None)["group.id"]
    assert group.startswith(DASHBOARD_GROUP_PREFIX)
    analytics = next(u for u in service_users() if u.name == "analytics")
    assert Grant("group", END_OFFSETS_GROUP, "READ") in analytics.grants


def test_each_user_gets_only_what_its_service_needs() -> None:
    topics = Topics("t-tel", "t-ana", "t-dlq")
    users = {u.name: u for u in service_users(topics, sink_group="g-sink")}
    assert set(users) == {"producer", "sink", "analytics", "dashboard", "admin"}
    assert users["producer"].grants == (Grant("topic", "t-tel", "WRITE"),)
    writes = {
        name: {g.name for g in u.grants if g.resource == "topic" and g.operation == "WRITE"}
        for name, u in users.items()
    }
    assert writes == {
        "producer": {"t-tel"},
        "sink": {"t-dlq"},
        "analytics": {"t-ana"},
        "dashboard": set(),
        "admin": set(),
    }
    assert Grant("group", "g-sink", "READ") in users["sink"].grants
    assert Grant("transactional_id", "f1-analytics-", "WRITE", True) in users["analytics"].grants
    # Nobody may delete anything or act on every resource, but the admin on topics.
    every = [(name, g) for name, u in users.items() for g in u.grants]
    assert not [g for _, g in every if g.operation in ("DELETE", "ALL", "ALTER")]
    assert {name for name, g in every if g.name == "*"} == {"admin"}
    assert [u.name for u in users.values() if u.registry_writer] == ["admin"]
    assert {name: u.influx for name, u in users.items()} == {
        "producer": "read",
        "sink": "write",
        "analytics": None,
        "dashboard": "read",
        "admin": None,
    }


def test_acl_bindings_name_the_user_and_the_pattern() -> None:
    from confluent_kafka.admin import AclOperation, ResourcePatternType, ResourceType

    users = service_users(Topics())
    bindings = acl_bindings(users)
    assert len(bindings) == sum(len(u.grants) for u in users)
    prefixed = [b for b in bindings if b.resource_pattern_type == ResourcePatternType.PREFIXED]
    assert {b.name for b in prefixed} == {"f1-analytics-", "spark-kafka-source-", "f1-dashboard-"}
    cluster = [b for b in bindings if b.restype == ResourceType.BROKER]
    assert [(b.principal, b.operation) for b in cluster] == [("User:admin", AclOperation.DESCRIBE)]


def test_the_proxy_config_serves_tls_with_basic_auth_in_front_of_a_loopback_registry(
    tmp_path: Path,
) -> None:
    config = nginx_config(
        port=28081,
        upstream=28080,
        certificates=Certificates(tmp_path / "tls"),
        htpasswd=tmp_path / "htpasswd",
        run=tmp_path / "run",
        error_log=tmp_path / "proxy.log",
        admin="admin",
        worker_user=None,
    )
    assert "listen 127.0.0.1:28081 ssl;" in config
    assert f"ssl_certificate {tmp_path / 'tls' / 'server.pem'};" in config
    assert f"auth_basic_user_file {tmp_path / 'htpasswd'};" in config
    assert "proxy_pass http://127.0.0.1:28080;" in config
    assert f"pid {tmp_path / 'run'}/nginx.pid;" in config
    assert '"~^admin:" 0;' in config
    assert not re.search(r"^\s*user ", config, re.MULTILINE)
    as_root = nginx_config(
        port=1,
        upstream=2,
        certificates=Certificates(tmp_path),
        htpasswd=tmp_path / "h",
        run=tmp_path,
        error_log=tmp_path / "e.log",
        admin="admin",
        worker_user="runner",
    )
    assert as_root.startswith("# Written by f1-stack")
    assert "\nuser runner;\n" in as_root


@needs_openssl
def test_the_certificates_verify_for_the_loopback_address(tmp_path: Path) -> None:
    made = ensure_certificates(tmp_path / "tls", tmp_path / "openssl.log")
    assert made.complete()
    for secret in (made.ca_key, made.server_key, made.keystore):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(made.folder.stat().st_mode) == 0o700
    checked = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(made.ca),
            "-verify_ip",
            "127.0.0.1",
            str(made.server_cert),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert made.keystore.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    # Kept: a second start reuses them.
    before = made.ca.read_bytes()
    assert ensure_certificates(tmp_path / "tls", tmp_path / "openssl.log").ca.read_bytes() == before


@needs_openssl
@pytest.mark.skipif(
    shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(), reason="needs nginx"
)
def test_nginx_accepts_the_proxy_config(tmp_path: Path) -> None:
    from stack.registry_proxy import nginx_binary

    made = ensure_certificates(tmp_path / "tls", tmp_path / "openssl.log")
    run = tmp_path / "run"
    run.mkdir()
    htpasswd = tmp_path / "htpasswd"
    write_secret(htpasswd, htpasswd_line("admin", "secret"))
    config = run / "nginx.conf"
    config.write_text(
        nginx_config(
            port=28081,
            upstream=28080,
            certificates=made,
            htpasswd=htpasswd,
            run=run,
            error_log=tmp_path / "proxy.log",
            admin="admin",
            worker_user=None,
        )
    )
    binary = nginx_binary()
    assert binary is not None
    tested = subprocess.run(
        [binary, "-t", "-p", str(run), "-c", str(config), "-e", str(tmp_path / "proxy.log")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert tested.returncode == 0, tested.stderr


@needs_openssl
def test_htpasswd_lines_hold_a_salted_hash_not_the_password() -> None:
    line = htpasswd_line("sink", "hunter2")
    user, hashed = line.split(":", 1)
    assert user == "sink"
    assert hashed.startswith("$6$")
    assert "hunter2" not in line
    assert htpasswd_line("sink", "hunter2") != line  # a new salt each time


def test_up_prints_per_service_users_and_secret_files_never_secrets(
    monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("F1_STATE_DIR", str(tmp_path))
    lines = secure.export_lines(service_users(Topics()))
    text = "\n".join(lines)
    for name in (
        "F1_KAFKA_BOOTSTRAP=127.0.0.1:29092",
        "F1_KAFKA_SECURITY_PROTOCOL=SASL_SSL",
        "F1_KAFKA_SASL_MECHANISM=SCRAM-SHA-512",
        f"F1_KAFKA_SSL_CA_LOCATION={tmp_path}/secure/tls/ca.pem",
        "F1_SCHEMA_REGISTRY_URL=https://127.0.0.1:28081/apis/ccompat/v7",
        f"F1_SCHEMA_REGISTRY_CA_LOCATION={tmp_path}/secure/tls/ca.pem",
        "F1_INFLUX_URL=http://127.0.0.1:28086",
    ):
        assert f"export {name}" in text
    sink = next(line for line in lines if "F1_KAFKA_SASL_USERNAME=sink " in line)
    assert f"F1_KAFKA_SASL_PASSWORD_FILE={tmp_path}/secure/secrets/kafka-sink.password" in sink
    assert f"F1_INFLUX_WRITE_TOKEN_FILE={tmp_path}/secure/influxdb/write-token" in sink
    assert "READ_TOKEN" not in sink
    dashboard = next(line for line in lines if "F1_KAFKA_SASL_USERNAME=dashboard " in line)
    assert f"F1_INFLUX_READ_TOKEN_FILE={tmp_path}/secure/influxdb/read-token" in dashboard
    assert "PASSWORD=" not in text and "F1_INFLUX_TOKEN=" not in text
    assert not (tmp_path / "secure" / "secrets").exists()  # printing makes no secret


def test_secure_with_three_brokers_is_one_line_and_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["up", "--secure", "--brokers", "3"])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--secure" in err


def test_topics_of_a_secured_stack_that_is_not_running_is_one_line(
    monkeypatch, tmp_path: Path, capsys
) -> None:
    monkeypatch.setenv("F1_STATE_DIR", str(tmp_path))
    assert cli.main(["topics", "--secure"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "f1-stack up --secure" in err


def test_up_without_nginx_names_the_package_before_starting_anything(
    monkeypatch, tmp_path: Path, capsys
) -> None:
    monkeypatch.setenv("F1_STATE_DIR", str(tmp_path))
    monkeypatch.setattr("stack.registry_proxy.nginx_binary", lambda: None)
    assert cli.main(["up", "--secure"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "apt-get install nginx" in err
    assert not (tmp_path / "secure").exists()
