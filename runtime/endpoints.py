"""Where the infrastructure lives: one setting per endpoint, shared by every service.

The defaults match the local stack (``f1-stack up``); point the same variables at
docker-compose or a remote cluster and every service follows. Each endpoint is spelled one
way everywhere: the env var below, the flag below, and the attribute of :class:`Endpoints`.

| attribute | env var | flag |
|---|---|---|
| ``kafka_bootstrap`` | ``F1_KAFKA_BOOTSTRAP`` | ``--bootstrap`` |
| ``registry_url`` | ``F1_SCHEMA_REGISTRY_URL`` | ``--registry`` |
| ``influx_url`` | ``F1_INFLUX_URL`` | ``--influx-url`` |
| ``influx_org`` | ``F1_INFLUX_ORG`` | ``--org`` |
| ``influx_bucket`` | ``F1_INFLUX_BUCKET`` | ``--bucket`` |
| ``influx_token`` | see below | none (a secret) |

Each InfluxDB client takes the token of what it does, so a cluster can give each service a
token scoped to it: the sink writes with ``F1_INFLUX_WRITE_TOKEN`` (or the file
``F1_INFLUX_WRITE_TOKEN_FILE``), the readers (the pit wall, ``f1-sink-influx history``,
``f1-replay``) read with ``F1_INFLUX_READ_TOKEN`` (or ``..._FILE``); either falls back to
``F1_INFLUX_TOKEN`` (or the file ``F1_INFLUX_TOKEN_FILE``). None has a flag, because argv is
visible to every user of the machine. When none is set and InfluxDB is the local stack's
(``http://127.0.0.1:8086`` or ``localhost``), the token is read from the file the local stack
writes (``$F1_STATE_DIR/influxdb/token``), so local runs need no export; that operator token
is never sent to any other address.

The registry's credentials and CA are in ``runtime.registry_access``, Kafka's TLS and SASL
settings in ``runtime.kafka_security``.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from runtime.kafka_security import kafka_security
from runtime.paths import LOCAL_INFLUX_PORT, local_influx_token_file
from runtime.registry_access import RegistryUrl, registry_access, without_credentials
from runtime.settings import Secret, Setting, secret_from

KAFKA_BOOTSTRAP: Setting[Any] = Setting(
    "F1_KAFKA_BOOTSTRAP", "127.0.0.1:9092", "Kafka bootstrap servers", flag="--bootstrap"
)
SCHEMA_REGISTRY_URL: Setting[Any] = Setting(
    "F1_SCHEMA_REGISTRY_URL",
    "http://127.0.0.1:8081/apis/ccompat/v7",
    "Schema Registry URL (Confluent API)",
    RegistryUrl,
    flag="--registry",
    shown=without_credentials,
)
INFLUX_URL: Setting[Any] = Setting(
    "F1_INFLUX_URL", f"http://127.0.0.1:{LOCAL_INFLUX_PORT}", "InfluxDB URL", flag="--influx-url"
)
INFLUX_ORG: Setting[Any] = Setting("F1_INFLUX_ORG", "f1", "InfluxDB organisation", flag="--org")
INFLUX_BUCKET: Setting[Any] = Setting(
    "F1_INFLUX_BUCKET", "telemetry", "InfluxDB bucket", flag="--bucket"
)
INFLUX_TOKEN: Setting[Any] = Setting("F1_INFLUX_TOKEN", "", "InfluxDB token", secret=True)
INFLUX_TOKEN_FILE: Setting[Any] = Setting(
    "F1_INFLUX_TOKEN_FILE", "", "a file holding the InfluxDB token"
)
INFLUX_WRITE_TOKEN: Setting[Any] = Setting(
    "F1_INFLUX_WRITE_TOKEN", "", "InfluxDB token of the writer (the sink)", secret=True
)
INFLUX_WRITE_TOKEN_FILE: Setting[Any] = Setting(
    "F1_INFLUX_WRITE_TOKEN_FILE", "", "a file holding the InfluxDB token of the writer"
)
INFLUX_READ_TOKEN: Setting[Any] = Setting(
    "F1_INFLUX_READ_TOKEN", "", "InfluxDB token of the readers", secret=True
)
INFLUX_READ_TOKEN_FILE: Setting[Any] = Setting(
    "F1_INFLUX_READ_TOKEN_FILE", "", "a file holding the InfluxDB token of the readers"
)
# What an InfluxDB client does -> its own token and that token's file.
INFLUX_ACCESS = {
    "write": (INFLUX_WRITE_TOKEN, INFLUX_WRITE_TOKEN_FILE),
    "read": (INFLUX_READ_TOKEN, INFLUX_READ_TOKEN_FILE),
}

ALL = (
    KAFKA_BOOTSTRAP,
    SCHEMA_REGISTRY_URL,
    INFLUX_URL,
    INFLUX_TOKEN,
    INFLUX_TOKEN_FILE,
    INFLUX_WRITE_TOKEN,
    INFLUX_WRITE_TOKEN_FILE,
    INFLUX_READ_TOKEN,
    INFLUX_READ_TOKEN_FILE,
    INFLUX_ORG,
    INFLUX_BUCKET,
)


def env(setting: Setting[Any], environ: Mapping[str, str] | None = None) -> str:
    """The text of one endpoint setting from the environment: its env var, else its default."""
    return setting.env_text(environ) or setting.default


def check_clients(
    registry_url: str | None = None,
    *,
    kafka: bool = True,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Reads and checks now the security settings of the clients a command is going to make
    (Kafka's; the registry's at ``registry_url``), so that a bad one is one line and exit 2
    before anything starts. The clients made later use what was read here."""
    if kafka:
        kafka_security(environ)
    if registry_url is not None:
        registry_access(registry_url, environ)


def influx_token(
    access: str = "read", url: str | None = None, environ: Mapping[str, str] | None = None
) -> Secret:
    """The token of an InfluxDB client that does ``access`` (``read`` or ``write``) at ``url``
    (default ``F1_INFLUX_URL``): its own token or token file, else ``F1_INFLUX_TOKEN`` or its
    file, else the local stack's token when ``url`` is the local stack's; an empty Secret
    when there is none."""
    own, own_file = INFLUX_ACCESS[access]
    found = secret_from(own, own_file, environ) or secret_from(
        INFLUX_TOKEN, INFLUX_TOKEN_FILE, environ
    )
    if found is not None:
        return found
    if is_local_stack_influx(url or env(INFLUX_URL, environ)):
        return Secret(_local_stack_token())
    return Secret("")


def is_local_stack_influx(url: str) -> bool:
    """Whether ``url`` is the local stack's InfluxDB (loopback, the stack's port): the only
    place its operator token may be sent."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    return parts.hostname in ("127.0.0.1", "localhost") and port == LOCAL_INFLUX_PORT


def _local_stack_token() -> str:
    """The token the local stack wrote to its documented file, or ''."""
    try:
        return local_influx_token_file().read_text().strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap: str = KAFKA_BOOTSTRAP.default
    registry_url: RegistryUrl = field(
        default_factory=lambda: RegistryUrl(SCHEMA_REGISTRY_URL.default)
    )
    influx_url: str = INFLUX_URL.default
    influx_org: str = INFLUX_ORG.default
    influx_bucket: str = INFLUX_BUCKET.default
    influx_token: Secret = field(default_factory=lambda: Secret(""))

    def __post_init__(self) -> None:
        if not isinstance(self.influx_token, Secret):  # given as text
            object.__setattr__(self, "influx_token", Secret(str(self.influx_token)))
        if not isinstance(self.registry_url, RegistryUrl):  # its credentials leave the text
            object.__setattr__(self, "registry_url", RegistryUrl(self.registry_url))

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        kafka_bootstrap: str | None = None,
        registry_url: str | None = None,
        influx_url: str | None = None,
        influx_org: str | None = None,
        influx_bucket: str | None = None,
        influx_access: str = "read",
    ) -> Endpoints:
        """Each endpoint from its env var; a keyword that is not None (a flag) wins. The
        token is that of ``influx_access`` (``read``, or ``write`` for the sink)."""
        url = INFLUX_URL.resolve(influx_url, environ)
        return cls(
            kafka_bootstrap=KAFKA_BOOTSTRAP.resolve(kafka_bootstrap, environ),
            registry_url=SCHEMA_REGISTRY_URL.resolve(registry_url, environ),
            influx_url=url,
            influx_org=INFLUX_ORG.resolve(influx_org, environ),
            influx_bucket=INFLUX_BUCKET.resolve(influx_bucket, environ),
            influx_token=influx_token(influx_access, url, environ),
        )


def add_kafka_flags(parser: argparse.ArgumentParser | Any, registry: bool = True) -> None:
    """``--bootstrap`` (and ``--registry``), with their env vars and defaults in --help."""
    KAFKA_BOOTSTRAP.add_to(parser)
    if registry:
        SCHEMA_REGISTRY_URL.add_to(parser)


def add_influx_flags(parser: argparse.ArgumentParser | Any) -> None:
    """``--influx-url``, ``--org``, ``--bucket``; the token comes from env or a file only."""
    INFLUX_URL.add_to(parser)
    INFLUX_ORG.add_to(parser)
    INFLUX_BUCKET.add_to(parser)
