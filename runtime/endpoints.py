"""Where the infrastructure lives: one env var per endpoint, shared by every service.

The defaults match the local stack (``f1-stack up``); point the same variables at
docker-compose or a remote cluster and every service follows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from runtime.paths import local_influx_token_file

# env var name -> default for the local stack
KAFKA_BOOTSTRAP = ("F1_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
SCHEMA_REGISTRY_URL = ("F1_SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081/apis/ccompat/v7")
INFLUX_URL = ("F1_INFLUX_URL", "http://127.0.0.1:8086")
INFLUX_TOKEN = ("F1_INFLUX_TOKEN", "")
INFLUX_ORG = ("F1_INFLUX_ORG", "f1")
INFLUX_BUCKET = ("F1_INFLUX_BUCKET", "telemetry")

ALL = (KAFKA_BOOTSTRAP, SCHEMA_REGISTRY_URL, INFLUX_URL, INFLUX_TOKEN, INFLUX_ORG, INFLUX_BUCKET)


def env(setting: tuple[str, str]) -> str:
    """The value of one endpoint setting: its env var when set and non-empty, else its default."""
    name, default = setting
    value = os.environ.get(name) or default
    if setting is INFLUX_TOKEN and not value:
        value = _local_stack_token()
    return value


def _local_stack_token() -> str:
    """The token in ``F1_INFLUX_TOKEN_FILE``, else in the local stack's documented token file
    (``runtime.paths.local_influx_token_file``), so local runs need no export."""
    path = os.environ.get("F1_INFLUX_TOKEN_FILE") or str(local_influx_token_file())
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap: str
    schema_registry_url: str
    influx_url: str
    influx_token: str
    influx_org: str
    influx_bucket: str

    @classmethod
    def from_env(cls) -> Endpoints:
        return cls(*(env(s) for s in ALL))
