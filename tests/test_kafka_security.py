"""Kafka TLS and SASL settings: read once, checked, added to every client, mapped for Spark,
and never shown."""

from __future__ import annotations

import re
from pathlib import Path

import certifi
import pytest

from runtime.errors import ConfigError
from runtime.kafka import client_config, local_stack_config, spark_kafka_options
from runtime.kafka_security import ALL, KafkaSecurity, kafka_security

PASSWORD = 'pa$$-w0rd-"quoted"-\\-S3CRET'
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for setting in ALL:
        monkeypatch.delenv(setting.env, raising=False)


def _sasl(monkeypatch: pytest.MonkeyPatch, mechanism: str = "SCRAM-SHA-512") -> None:
    monkeypatch.setenv("F1_KAFKA_SECURITY_PROTOCOL", "sasl_ssl")
    monkeypatch.setenv("F1_KAFKA_SASL_MECHANISM", mechanism)
    monkeypatch.setenv("F1_KAFKA_SASL_USERNAME", "pitwall")
    monkeypatch.setenv("F1_KAFKA_SASL_PASSWORD", PASSWORD)
    monkeypatch.setenv("F1_KAFKA_SSL_CA_LOCATION", certifi.where())


def test_plaintext_by_default_adds_nothing() -> None:
    assert kafka_security().librdkafka() == {}
    assert client_config("b:9092", acks="all") == {"bootstrap.servers": "b:9092", "acks": "all"}
    assert spark_kafka_options("b:9092") == {"kafka.bootstrap.servers": "b:9092"}


def test_sasl_ssl_reaches_every_client_config(monkeypatch: pytest.MonkeyPatch) -> None:
    _sasl(monkeypatch)
    conf = client_config("b:9093", **{"group.id": "g"})
    assert conf == {
        "bootstrap.servers": "b:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "pitwall",
        "sasl.password": PASSWORD,
        "ssl.ca.location": certifi.where(),
        "group.id": "g",
    }


def _password_file(monkeypatch: pytest.MonkeyPatch, folder: Path, text: str, mode: int) -> Path:
    """SASL settings whose password is in a file of ``mode`` holding ``text``."""
    _sasl(monkeypatch)
    monkeypatch.delenv("F1_KAFKA_SASL_PASSWORD")
    secret = folder / "kafka-password"
    secret.write_text(text)
    secret.chmod(mode)
    monkeypatch.setenv("F1_KAFKA_SASL_PASSWORD_FILE", str(secret))
    return secret


def test_the_local_stack_probes_its_own_plaintext_brokers(monkeypatch) -> None:
    """The security settings describe the cluster the services use; the local stack's
    health checks of its own loopback brokers never take them."""
    _sasl(monkeypatch)
    assert local_stack_config("127.0.0.1:9092", log_level=0) == {
        "bootstrap.servers": "127.0.0.1:9092",
        "log_level": 0,
    }


def test_the_password_may_come_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    _password_file(monkeypatch, tmp_path, "from-a-file\n", 0o600)
    assert kafka_security().password == "from-a-file"


def test_a_password_file_others_may_read_is_warned_about(monkeypatch, tmp_path, caplog) -> None:
    _password_file(monkeypatch, tmp_path, "shared-S3CRET", 0o644)
    kafka_security()
    assert "may be read by other users: chmod 600" in caplog.text
    assert "shared-S3CRET" not in caplog.text


def test_read_once_per_process(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """A client made later uses what was checked at start-up, even if the file changed."""
    secret = _password_file(monkeypatch, tmp_path, "first", 0o600)
    first = kafka_security()
    secret.write_text("second")
    assert kafka_security() is first
    assert client_config("b:1")["sasl.password"] == "first"


def test_properties_file_extra_keys_and_comments(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    props = tmp_path / "client.properties"
    props.write_text(
        "# the brokers' names are checked\n\nssl.endpoint.identification.algorithm = https\n"
        "client.id=pit-wall\nsocket.timeout.ms=30000\n"
    )
    monkeypatch.setenv("F1_KAFKA_PROPERTIES_FILE", str(props))
    monkeypatch.setenv("F1_KAFKA_SECURITY_PROTOCOL", "SSL")
    security = kafka_security()
    assert security.librdkafka() == {
        "ssl.endpoint.identification.algorithm": "https",
        "client.id": "pit-wall",
        "socket.timeout.ms": "30000",
        "security.protocol": "SSL",
    }
    # A client's own guarantee wins over the file.
    monkeypatch.setenv("F1_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    props.write_text("acks=1\n")
    assert client_config("b:1", acks="all")["acks"] == "all"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"F1_KAFKA_SECURITY_PROTOCOL": "TLS"}, "F1_KAFKA_SECURITY_PROTOCOL.*one of PLAINTEXT"),
        (
            {"F1_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "F1_KAFKA_SASL_MECHANISM": "GSSAPI"},
            "F1_KAFKA_SASL_MECHANISM.*one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512",
        ),
        ({"F1_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "needs F1_KAFKA_SASL_USERNAME"),
        (
            {"F1_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "F1_KAFKA_SASL_USERNAME": "u"},
            "needs F1_KAFKA_SASL_PASSWORD or F1_KAFKA_SASL_PASSWORD_FILE",
        ),
        ({"F1_KAFKA_SASL_USERNAME": "u"}, "F1_KAFKA_SASL_USERNAME is set but .* PLAINTEXT"),
        (
            {"F1_KAFKA_SECURITY_PROTOCOL": "SSL", "F1_KAFKA_SSL_CA_LOCATION": "/no/such/ca.pem"},
            "F1_KAFKA_SSL_CA_LOCATION: no file /no/such/ca.pem",
        ),
        ({"F1_KAFKA_SSL_CA_LOCATION": "CERTIFI"}, "TLS needs SSL"),
        (
            {
                "F1_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "F1_KAFKA_SASL_USERNAME": "u",
                "F1_KAFKA_SASL_PASSWORD_FILE": "/no/such/file",
            },
            "F1_KAFKA_SASL_PASSWORD_FILE: cannot read /no/such/file",
        ),
        ({"F1_KAFKA_PROPERTIES_FILE": "/no/such/file"}, "F1_KAFKA_PROPERTIES_FILE: cannot read"),
    ],
)
def test_bad_settings_are_one_config_error(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, certifi.where() if value == "CERTIFI" else value)
    with pytest.raises(ConfigError, match=expected) as refused:
        kafka_security()
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no equals sign\n", "line 1: expected key=value"),
        ("# fine\nBad Key=1\n", "line 2: expected key=value"),
        ("sasl.password=x\n", "line 1: sasl.password is set by F1_KAFKA_SASL_PASSWORD"),
        ("bootstrap.servers=x:1\n", "is set by F1_KAFKA_BOOTSTRAP"),
        ("no.such.property=1\n", 'librdkafka refuses them: No such configuration property: "no'),
        ("linger.ms=soon\n", "librdkafka refuses them: Invalid value"),
    ],
)
def test_a_bad_properties_file_names_the_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path, text: str, expected: str
) -> None:
    props = tmp_path / "client.properties"
    props.write_text(text)
    monkeypatch.setenv("F1_KAFKA_PROPERTIES_FILE", str(props))
    with pytest.raises(ConfigError, match=re.escape(expected)):
        kafka_security()


def test_a_ca_file_librdkafka_cannot_load_is_refused(monkeypatch, tmp_path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate")
    monkeypatch.setenv("F1_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("F1_KAFKA_SSL_CA_LOCATION", str(ca))
    with pytest.raises(ConfigError, match=re.escape("ssl.ca.location failed")):
        kafka_security()


def test_no_secret_in_repr_or_errors(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    _sasl(monkeypatch)
    props = tmp_path / "client.properties"
    props.write_text("ssl.key.password=KEY-S3CRET\n")
    monkeypatch.setenv("F1_KAFKA_PROPERTIES_FILE", str(props))
    security = kafka_security()
    shown = repr(security) + str(security)
    assert PASSWORD not in shown and "KEY-S3CRET" not in shown
    assert "ssl.key.password=****" in shown
    monkeypatch.setenv("F1_KAFKA_SASL_MECHANISM", "KERBEROS")
    with pytest.raises(ConfigError) as refused:
        kafka_security()
    assert PASSWORD not in str(refused.value)


def test_plain_over_an_unencrypted_connection_is_warned_about(monkeypatch, caplog) -> None:
    _sasl(monkeypatch, "PLAIN")
    monkeypatch.setenv("F1_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.delenv("F1_KAFKA_SSL_CA_LOCATION")
    kafka_security()
    assert "unencrypted" in caplog.text and PASSWORD not in caplog.text


# --- Spark's Kafka source: the Java client's names -------------------------------------------


def test_spark_options_for_scram_with_a_pem_ca(tmp_path) -> None:
    props = tmp_path / "client.properties"
    props.write_text("client.id=f1-analytics\n")
    security = KafkaSecurity.from_env(
        {
            "F1_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "F1_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
            "F1_KAFKA_SASL_USERNAME": "analytics",
            "F1_KAFKA_SASL_PASSWORD": PASSWORD,
            "F1_KAFKA_SSL_CA_LOCATION": certifi.where(),
            "F1_KAFKA_PROPERTIES_FILE": str(props),
        }
    )
    escaped = PASSWORD.replace("\\", "\\\\").replace('"', '\\"')
    assert security.spark_options() == {
        "kafka.client.id": "f1-analytics",
        "kafka.security.protocol": "SASL_SSL",
        "kafka.sasl.mechanism": "SCRAM-SHA-256",
        "kafka.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule "
        f'required username="analytics" password="{escaped}";',
        "kafka.ssl.truststore.type": "PEM",
        "kafka.ssl.truststore.location": certifi.where(),
    }


def test_spark_options_for_plain_without_tls() -> None:
    security = KafkaSecurity.from_env(
        {
            "F1_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "F1_KAFKA_SASL_USERNAME": "u",
            "F1_KAFKA_SASL_PASSWORD": "p",
        }
    )
    options = security.spark_options()
    assert options["kafka.sasl.mechanism"] == "PLAIN"
    assert options["kafka.sasl.jaas.config"] == (
        'org.apache.kafka.common.security.plain.PlainLoginModule required username="u" '
        'password="p";'
    )
    assert "kafka.ssl.truststore.location" not in options


def test_the_analytics_job_reads_kafka_with_these_options() -> None:
    """The job's source takes its Kafka options from the one function (no option of its own
    names a connection setting)."""
    source = (REPO / "analytics" / "job.py").read_text()
    assert ".options(**spark_kafka_options(s.kafka_bootstrap))" in source
    assert '"kafka.' not in source


# --- every client goes through client_config ---------------------------------------------------


def test_no_client_config_is_built_anywhere_else() -> None:
    """``bootstrap.servers`` is written only where the configuration of every client is
    built, so no client (service, test helper or benchmark) can skip the security settings."""
    where = {
        path.relative_to(REPO).as_posix()
        for folder in REPO.iterdir()
        if folder.is_dir() and folder.name not in (".venv", "tests", ".git")
        for path in folder.rglob("*.py")
        if '"bootstrap.servers"' in path.read_text()
    }
    # The secured stack's own test meets the broker with configurations written by hand, so
    # that it checks the stack's grants independently of the clients' code.
    independent = {"integration_tests/test_secure_stack.py"}
    assert where == {"runtime/kafka.py", "runtime/kafka_security.py", *independent}
