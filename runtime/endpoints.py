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
| ``influx_token`` | ``F1_INFLUX_TOKEN``, or the file ``F1_INFLUX_TOKEN_FILE`` | none (a secret) |

The InfluxDB token has no flag, because argv is visible to every user of the machine. When
neither ``F1_INFLUX_TOKEN`` nor ``F1_INFLUX_TOKEN_FILE`` is set, the token is read from the
file the local stack writes (``$F1_STATE_DIR/influxdb/token``,
``runtime.paths.local_influx_token_file``), so local runs need no export.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.errors import ConfigError
from runtime.paths import local_influx_token_file
from runtime.settings import Secret, Setting

KAFKA_BOOTSTRAP: Setting[Any] = Setting(
    "F1_KAFKA_BOOTSTRAP", "127.0.0.1:9092", "Kafka bootstrap servers", flag="--bootstrap"
)
SCHEMA_REGISTRY_URL: Setting[Any] = Setting(
    "F1_SCHEMA_REGISTRY_URL",
    "http://127.0.0.1:8081/apis/ccompat/v7",
    "Schema Registry URL (Confluent API)",
    flag="--registry",
)
INFLUX_URL: Setting[Any] = Setting(
    "F1_INFLUX_URL", "http://127.0.0.1:8086", "InfluxDB URL", flag="--influx-url"
)
INFLUX_ORG: Setting[Any] = Setting("F1_INFLUX_ORG", "f1", "InfluxDB organisation", flag="--org")
INFLUX_BUCKET: Setting[Any] = Setting(
    "F1_INFLUX_BUCKET", "telemetry", "InfluxDB bucket", flag="--bucket"
)
INFLUX_TOKEN: Setting[Any] = Setting("F1_INFLUX_TOKEN", "", "InfluxDB token", secret=True)
INFLUX_TOKEN_FILE: Setting[Any] = Setting(
    "F1_INFLUX_TOKEN_FILE", "", "a file holding the InfluxDB token"
)

ALL = (
    KAFKA_BOOTSTRAP,
    SCHEMA_REGISTRY_URL,
    INFLUX_URL,
    INFLUX_TOKEN,
    INFLUX_TOKEN_FILE,
    INFLUX_ORG,
    INFLUX_BUCKET,
)


def env(setting: Setting[Any], environ: Mapping[str, str] | None = None) -> str:
    """The text of one endpoint setting from the environment: its env var, else its default."""
    return setting.env_text(environ) or setting.default


def influx_token(environ: Mapping[str, str] | None = None) -> Secret:
    """``F1_INFLUX_TOKEN``, else the contents of ``F1_INFLUX_TOKEN_FILE``, else the token file
    the local stack wrote; an empty Secret when there is none."""
    given = INFLUX_TOKEN.env_text(environ)
    if given:
        return Secret(given)
    path = INFLUX_TOKEN_FILE.env_text(environ)
    if path:
        try:
            return Secret(Path(path).read_text().strip())
        except OSError as exc:
            raise ConfigError(
                f"{INFLUX_TOKEN_FILE.env}: cannot read {path}: {exc.strerror}"
            ) from None
    return Secret(_local_stack_token())


def _local_stack_token() -> str:
    """The token the local stack wrote to its documented file, or ''."""
    try:
        return local_influx_token_file().read_text().strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap: str = KAFKA_BOOTSTRAP.default
    registry_url: str = SCHEMA_REGISTRY_URL.default
    influx_url: str = INFLUX_URL.default
    influx_org: str = INFLUX_ORG.default
    influx_bucket: str = INFLUX_BUCKET.default
    influx_token: Secret = field(default_factory=lambda: Secret(""))

    def __post_init__(self) -> None:
        if not isinstance(self.influx_token, Secret):  # given as text
            object.__setattr__(self, "influx_token", Secret(str(self.influx_token)))

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
    ) -> Endpoints:
        """Each endpoint from its env var; a keyword that is not None (a flag) wins."""
        url = INFLUX_URL.resolve(influx_url, environ)
        return cls(
            kafka_bootstrap=KAFKA_BOOTSTRAP.resolve(kafka_bootstrap, environ),
            registry_url=SCHEMA_REGISTRY_URL.resolve(registry_url, environ),
            influx_url=url,
            influx_org=INFLUX_ORG.resolve(influx_org, environ),
            influx_bucket=INFLUX_BUCKET.resolve(influx_bucket, environ),
            influx_token=influx_token(environ),
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
