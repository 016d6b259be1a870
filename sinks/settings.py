"""The sink's one settings object: env vars (``F1_...``) first, CLI flags override them.

Endpoints (Kafka, registry, InfluxDB) and topic names come from the variables every service
shares (``runtime.endpoints``, ``schemas.topics``); the ``F1_SINK_...`` variables tune this
service only. The InfluxDB token is a secret: it is read from the environment (or the local
stack's token file) and never printed, logged or shown in ``--help``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from urllib.parse import urlparse

from runtime import endpoints
from runtime.errors import ConfigError
from schemas.topics import Topics

# env var -> default, as in runtime.endpoints: --help prints both.
GROUP = ("F1_SINK_GROUP", "f1-sink-influx")
BATCH_POINTS = ("F1_SINK_BATCH_POINTS", "5000")
BATCH_MS = ("F1_SINK_BATCH_MS", "250")
GZIP = ("F1_SINK_GZIP", "auto")
PROGRESS_S = ("F1_SINK_PROGRESS_S", "10")
RETRY_MAX_S = ("F1_SINK_RETRY_MAX_S", "5")
INFLUX_TIMEOUT_MS = ("F1_SINK_INFLUX_TIMEOUT_MS", "10000")
OFFSET_RESET = ("F1_SINK_OFFSET_RESET", "earliest")

SETTINGS = (GROUP, BATCH_POINTS, BATCH_MS, GZIP, PROGRESS_S, RETRY_MAX_S, INFLUX_TIMEOUT_MS)

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def env(setting: tuple[str, str]) -> str:
    name, default = setting
    return os.environ.get(name) or default


def _number(setting: tuple[str, str], text: str, kind: type[int] | type[float]) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise ConfigError(f"{setting[0]} must be a number, got {text!r}") from None
    if value <= 0:
        raise ConfigError(f"{setting[0]} must be positive, got {text!r}")
    return value


def gzip_wanted(mode: str, influx_url: str) -> bool:
    """``on``/``off``, or ``auto``: compress only when InfluxDB is not on this machine.

    Line protocol compresses about 5:1, which saves a network; over loopback the bytes cost
    nothing and compressing them costs the CPU the sink and influxd share.
    """
    mode = mode.lower()
    if mode in ("on", "true", "1", "yes"):
        return True
    if mode in ("off", "false", "0", "no"):
        return False
    if mode != "auto":
        raise ConfigError(f"{GZIP[0]} must be auto, on or off, got {mode!r}")
    return (urlparse(influx_url).hostname or "") not in _LOOPBACK


@dataclass(frozen=True)
class SinkSettings:
    kafka_bootstrap: str
    schema_registry_url: str
    influx_url: str
    influx_org: str
    influx_bucket: str
    topics: Topics
    group_id: str = GROUP[1]
    batch_points: int = 5000
    batch_ms: float = 250.0
    gzip: bool = False
    progress_s: float = 10.0
    retry_max_s: float = 5.0
    influx_timeout_ms: int = 10_000
    offset_reset: str = "earliest"
    # A secret: kept out of repr() so a logged settings object never shows it.
    influx_token: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, **overrides: object) -> SinkSettings:
        """Settings from the environment; keyword arguments that are not None win (CLI flags).

        Topic overrides are ``telemetry_topic``, ``analytics_topic`` and ``dlq_topic``.
        """
        given = {k: v for k, v in overrides.items() if v is not None}
        topics = Topics.from_env(
            telemetry=given.pop("telemetry_topic", None),  # type: ignore[arg-type]
            analytics=given.pop("analytics_topic", None),  # type: ignore[arg-type]
            dlq=given.pop("dlq_topic", None),  # type: ignore[arg-type]
        )
        gzip_mode = str(given.pop("gzip", env(GZIP)))
        ep = endpoints.Endpoints.from_env()
        base = cls(
            kafka_bootstrap=ep.kafka_bootstrap,
            schema_registry_url=ep.schema_registry_url,
            influx_url=ep.influx_url,
            influx_org=ep.influx_org,
            influx_bucket=ep.influx_bucket,
            topics=topics,
            group_id=env(GROUP),
            batch_points=int(_number(BATCH_POINTS, env(BATCH_POINTS), int)),
            batch_ms=_number(BATCH_MS, env(BATCH_MS), float),
            progress_s=_number(PROGRESS_S, env(PROGRESS_S), float),
            retry_max_s=_number(RETRY_MAX_S, env(RETRY_MAX_S), float),
            influx_timeout_ms=int(_number(INFLUX_TIMEOUT_MS, env(INFLUX_TIMEOUT_MS), int)),
            offset_reset=env(OFFSET_RESET),
            influx_token=ep.influx_token,
        )
        settings = replace(base, **given)  # type: ignore[arg-type]
        return replace(settings, gzip=gzip_wanted(gzip_mode, settings.influx_url)).checked()

    def checked(self) -> SinkSettings:
        if self.batch_points < 1 or self.batch_ms <= 0:
            raise ConfigError("batch size and batch time must be positive")
        if self.offset_reset not in ("earliest", "latest"):
            raise ConfigError(f"{OFFSET_RESET[0]} must be earliest or latest")
        if not self.influx_token:
            raise ConfigError(
                f"no InfluxDB token: set {endpoints.INFLUX_TOKEN[0]} (or start the local stack, "
                "whose token file is read automatically)"
            )
        return self
