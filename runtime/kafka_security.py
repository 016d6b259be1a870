"""How every Kafka client of the project reaches a secured cluster: TLS and SASL, one place.

* ``F1_KAFKA_SECURITY_PROTOCOL``: ``PLAINTEXT`` (default), ``SSL``, ``SASL_PLAINTEXT``,
  ``SASL_SSL``;
* ``F1_KAFKA_SASL_MECHANISM``: ``PLAIN`` (default), ``SCRAM-SHA-256``, ``SCRAM-SHA-512``;
* ``F1_KAFKA_SASL_USERNAME`` and ``F1_KAFKA_SASL_PASSWORD`` (a secret), or the file
  ``F1_KAFKA_SASL_PASSWORD_FILE``;
* ``F1_KAFKA_SSL_CA_LOCATION``: a PEM bundle of the CAs the brokers' certificates chain to;
* ``F1_KAFKA_PROPERTIES_FILE``: more librdkafka properties, ``key=value`` lines, ``#``
  comments (client certificates, timeouts, anything these settings do not name).

None has a flag: they are the same for every command, and a password has no place in argv.
:func:`kafka_security` reads them once per process (the files included) and checks them:
librdkafka itself is asked whether it takes the result, so an unknown property or an
unreadable CA is one ConfigError before a client connects. ``runtime.kafka.client_config``
adds :meth:`KafkaSecurity.librdkafka` to every client's configuration;
:meth:`KafkaSecurity.spark_options` is the same for Spark's Kafka source (the Java client).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from runtime.errors import ConfigError
from runtime.settings import MASK, Secret, Setting, choice, secret_from

log = logging.getLogger(__name__)

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


SECURITY_PROTOCOL: Setting[Any] = Setting(
    "F1_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", "Kafka security protocol", choice(*PROTOCOLS)
)
SASL_MECHANISM: Setting[Any] = Setting(
    "F1_KAFKA_SASL_MECHANISM", "PLAIN", "Kafka SASL mechanism", choice(*MECHANISMS)
)
SASL_USERNAME: Setting[Any] = Setting("F1_KAFKA_SASL_USERNAME", "", "Kafka SASL username")
SASL_PASSWORD: Setting[Any] = Setting(
    "F1_KAFKA_SASL_PASSWORD", "", "Kafka SASL password", secret=True
)
SASL_PASSWORD_FILE: Setting[Any] = Setting(
    "F1_KAFKA_SASL_PASSWORD_FILE", "", "a file holding the Kafka SASL password"
)
SSL_CA_LOCATION: Setting[Any] = Setting(
    "F1_KAFKA_SSL_CA_LOCATION", "", "a PEM file of the CAs the Kafka brokers' certificates chain to"
)
PROPERTIES_FILE: Setting[Any] = Setting(
    "F1_KAFKA_PROPERTIES_FILE", "", "a file of more librdkafka properties (key=value lines)"
)

ALL = (
    SECURITY_PROTOCOL,
    SASL_MECHANISM,
    SASL_USERNAME,
    SASL_PASSWORD,
    SASL_PASSWORD_FILE,
    SSL_CA_LOCATION,
    PROPERTIES_FILE,
)

# Properties an F1_ variable owns: set twice, one of the two would silently lose.
_OWNED = {
    "bootstrap.servers": "F1_KAFKA_BOOTSTRAP",
    "security.protocol": SECURITY_PROTOCOL.env,
    "sasl.mechanism": SASL_MECHANISM.env,
    "sasl.mechanisms": SASL_MECHANISM.env,
    "sasl.username": SASL_USERNAME.env,
    "sasl.password": SASL_PASSWORD.env,
    "ssl.ca.location": SSL_CA_LOCATION.env,
}
_KEY = re.compile(r"^[a-z][a-z0-9._-]*$")
_JAAS_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


@dataclass(frozen=True)
class KafkaSecurity:
    """The security settings of every Kafka client; ``repr`` shows no secret."""

    protocol: str = "PLAINTEXT"
    mechanism: str | None = None  # only with a SASL protocol
    username: str = ""
    password: Secret = field(default_factory=lambda: Secret(""))
    ca_location: str = ""
    # From F1_KAFKA_PROPERTIES_FILE. Any of them may be a secret (a key's password): their
    # values are shown masked.
    properties: tuple[tuple[str, Secret], ...] = ()

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    def __repr__(self) -> str:
        extra = ", ".join(f"{key}={MASK}" for key, _ in self.properties)
        return (
            f"KafkaSecurity(protocol={self.protocol!r}, mechanism={self.mechanism!r}, "
            f"username={self.username!r}, password={self.password!r}, "
            f"ca_location={self.ca_location!r}, properties=[{extra}])"
        )

    def librdkafka(self) -> dict[str, str]:
        """The librdkafka properties: the file's, then the F1_ settings'."""
        conf = {key: value.reveal() for key, value in self.properties}
        if self.protocol != "PLAINTEXT":
            conf["security.protocol"] = self.protocol
        if self.sasl:
            conf["sasl.mechanism"] = self.mechanism or "PLAIN"
            conf["sasl.username"] = self.username
            conf["sasl.password"] = self.password.reveal()
        if self.ca_location:
            conf["ssl.ca.location"] = self.ca_location
        return conf

    def spark_options(self) -> dict[str, str]:
        """The same settings as options of Spark's Kafka source and sink: the Java client's
        properties, prefixed ``kafka.``. The properties file's keys are passed on as they are
        (librdkafka and the Java client share most names; the Java client warns about, and
        ignores, one it does not know)."""
        options = {f"kafka.{key}": value.reveal() for key, value in self.properties}
        if self.protocol != "PLAINTEXT":
            options["kafka.security.protocol"] = self.protocol
        if self.sasl:
            mechanism = self.mechanism or "PLAIN"
            options["kafka.sasl.mechanism"] = mechanism
            options["kafka.sasl.jaas.config"] = (
                f"{_JAAS_MODULES[mechanism]} required "
                f'username="{_jaas_quoted(self.username)}" '
                f'password="{_jaas_quoted(self.password.reveal())}";'
            )
        if self.ca_location:
            # The Java client reads a PEM bundle itself, no keystore conversion needed.
            options["kafka.ssl.truststore.type"] = "PEM"
            options["kafka.ssl.truststore.location"] = self.ca_location
        return options

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KafkaSecurity:
        """The settings from the environment, checked; ConfigError naming the bad one."""
        protocol = SECURITY_PROTOCOL.resolve(None, environ)
        sasl = protocol.startswith("SASL_")
        mechanism = SASL_MECHANISM.resolve(None, environ) if sasl else None
        username = SASL_USERNAME.env_text(environ) or ""
        password = secret_from(SASL_PASSWORD, SASL_PASSWORD_FILE, environ) or Secret("")
        if sasl and not username:
            raise ConfigError(f"{SECURITY_PROTOCOL.env}={protocol} needs {SASL_USERNAME.env}")
        if sasl and not password:
            raise ConfigError(
                f"{SECURITY_PROTOCOL.env}={protocol} needs {SASL_PASSWORD.env} "
                f"or {SASL_PASSWORD_FILE.env}"
            )
        if not sasl and (username or password):
            given = SASL_USERNAME.env if username else SASL_PASSWORD.env
            raise ConfigError(
                f"{given} is set but {SECURITY_PROTOCOL.env} is {protocol}: "
                "SASL needs SASL_SSL (or SASL_PLAINTEXT)"
            )
        if protocol == "SASL_PLAINTEXT" and mechanism == "PLAIN":
            log.warning(
                "%s=SASL_PLAINTEXT with PLAIN sends the Kafka password unencrypted",
                SECURITY_PROTOCOL.env,
            )
        ca = SSL_CA_LOCATION.env_text(environ) or ""
        if ca and not Path(ca).is_file():
            raise ConfigError(f"{SSL_CA_LOCATION.env}: no file {ca}")
        if ca and protocol in ("PLAINTEXT", "SASL_PLAINTEXT"):
            raise ConfigError(
                f"{SSL_CA_LOCATION.env} is set but {SECURITY_PROTOCOL.env} is {protocol}: "
                "TLS needs SSL (or SASL_SSL)"
            )
        path = PROPERTIES_FILE.env_text(environ)
        security = cls(
            protocol=protocol,
            mechanism=mechanism,
            username=username,
            password=password,
            ca_location=ca,
            properties=read_properties(Path(path)) if path else (),
        )
        _librdkafka_accepts(security)
        return security


def read_properties(path: Path) -> tuple[tuple[str, Secret], ...]:
    """``key=value`` lines of a properties file (``#`` starts a comment line); ConfigError
    naming the file and line for anything else."""
    where = PROPERTIES_FILE.env
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: {path} is not UTF-8 text") from None
    found: dict[str, Secret] = {}
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not _KEY.match(key):
            raise ConfigError(f"{where}: {path} line {number}: expected key=value")
        if key in _OWNED:
            raise ConfigError(
                f"{where}: {path} line {number}: {key} is set by {_OWNED[key]}, not here"
            )
        found[key] = Secret(value.strip())
    return tuple(found.items())


def _librdkafka_accepts(security: KafkaSecurity) -> None:
    """ConfigError unless librdkafka takes the configuration (property names, values, the CA
    file's contents). A producer without bootstrap servers connects to nothing."""
    from confluent_kafka import KafkaException, Producer

    try:
        Producer({"log_level": 0, **security.librdkafka()})
    except KafkaException as exc:
        reason = exc.args[0].str() if exc.args else str(exc)
        raise ConfigError(f"Kafka security settings: librdkafka refuses them: {reason}") from None


def _jaas_quoted(text: str) -> str:
    """``text`` inside a JAAS quoted string: the Java parser takes backslash escapes."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def kafka_security(environ: Mapping[str, str] | None = None) -> KafkaSecurity:
    """The process's settings (``environ``: those of another environment, not cached).

    Read once per process: the files too, so a client made later uses what was checked at
    start-up. An environment that changes (a test) is read again.
    """
    if environ is not None:
        return KafkaSecurity.from_env(environ)
    return _cached(tuple(os.environ.get(s.env, "") for s in ALL))


@lru_cache(maxsize=4)
def _cached(_values: tuple[str, ...]) -> KafkaSecurity:
    return KafkaSecurity.from_env()
