"""The sink's one settings object: env vars (``F1_...``) first, CLI flags override them.

Endpoints (Kafka, registry, InfluxDB) and topic names come from the settings every service
shares (``runtime.endpoints``, ``schemas.topics``); the ``F1_SINK_...`` settings tune this
service only. The InfluxDB token is a secret: it is read from the environment or a token file
(``runtime.endpoints``) and never printed, logged or shown in ``--help``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from runtime import endpoints
from runtime.errors import ConfigError
from runtime.settings import Secret, Setting, choice, integer, number, resolve_all
from schemas.topics import (
    ANALYTICS_TOPIC_SETTING,
    DLQ_TOPIC_SETTING,
    TELEMETRY_TOPIC_SETTING,
    Topics,
)

GROUP: Setting[Any] = Setting("F1_SINK_GROUP", "f1-sink-influx", "consumer group", flag="--group")
BATCH_POINTS: Setting[Any] = Setting(
    "F1_SINK_BATCH_POINTS", "5000", "points per write, at most", integer(1), flag="--batch-points"
)
BATCH_MS: Setting[Any] = Setting(
    "F1_SINK_BATCH_MS",
    "250",
    "longest wait to fill a batch, ms",
    number(above=0, hi=3_600_000),
    flag="--batch-ms",
)
GZIP: Setting[Any] = Setting(
    "F1_SINK_GZIP",
    "auto",
    "compress writes; auto = only when InfluxDB is not on loopback",
    choice("auto", "on", "off", "true", "false", "1", "0", "yes", "no"),
    flag="--gzip",
)
PROGRESS_S: Setting[Any] = Setting(
    "F1_SINK_PROGRESS_S",
    "10",
    "seconds between progress lines",
    number(above=0, hi=86_400),
    flag="--progress-s",
)
# A backoff below 10 ms would retry a failing write in a hot loop.
RETRY_MAX_S: Setting[Any] = Setting(
    "F1_SINK_RETRY_MAX_S",
    "5",
    "longest backoff between write retries, s",
    number(0.01, 3600),
    flag="--retry-max-s",
)
# 0 would mean "no timeout" to the client: a hung InfluxDB would hang the sink.
INFLUX_TIMEOUT_MS: Setting[Any] = Setting(
    "F1_SINK_INFLUX_TIMEOUT_MS",
    "10000",
    "timeout of one write request, ms",
    integer(1, 3_600_000),
    flag="--influx-timeout-ms",
)
OFFSET_RESET: Setting[Any] = Setting(
    "F1_SINK_OFFSET_RESET",
    "earliest",
    "where a new consumer group starts",
    choice("earliest", "latest"),
    flag="--offset-reset",
)

# SinkSettings field -> its setting; flags are named after the setting.
SETTINGS: dict[str, Setting] = {
    "group_id": GROUP,
    "batch_points": BATCH_POINTS,
    "batch_ms": BATCH_MS,
    "gzip": GZIP,
    "progress_s": PROGRESS_S,
    "retry_max_s": RETRY_MAX_S,
    "influx_timeout_ms": INFLUX_TIMEOUT_MS,
    "offset_reset": OFFSET_RESET,
}

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


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
        raise ConfigError(f"{GZIP.env} must be auto, on or off, got {mode!r}")
    return (urlparse(influx_url).hostname or "") not in _LOOPBACK


@dataclass(frozen=True)
class SinkSettings:
    kafka_bootstrap: str
    registry_url: str
    influx_url: str
    influx_org: str
    influx_bucket: str
    topics: Topics
    group_id: str = GROUP.default
    batch_points: int = 5000
    batch_ms: float = 250.0
    gzip: bool = False
    progress_s: float = 10.0
    retry_max_s: float = 5.0
    influx_timeout_ms: int = 10_000
    offset_reset: str = "earliest"
    # Masked in repr() and str(), so a logged settings object never shows it.
    influx_token: Secret = field(default_factory=lambda: Secret(""))

    @classmethod
    def from_env(cls, influx_access: str = "write", **given: object) -> SinkSettings:
        """Settings from the environment; keyword arguments that are not None win (flags).

        Keywords: the endpoint attributes of ``runtime.endpoints.Endpoints``
        (``kafka_bootstrap``, ``registry_url``, ``influx_url``, ``influx_org``,
        ``influx_bucket``), ``telemetry_topic``, ``analytics_topic``, ``dlq_topic``, and the
        names in ``SETTINGS``. ``influx_access``: ``write`` (the sink, whose Kafka and
        registry settings are checked too) or ``read`` (``history``), which token it takes.
        """
        unknown = set(given) - set(SETTINGS) - _ENDPOINT_KEYS - _TOPIC_KEYS
        if unknown:
            raise TypeError(f"unknown sink settings: {', '.join(sorted(unknown))}")
        ep = endpoints.Endpoints.from_env(
            **{k: given.get(k) for k in _ENDPOINT_KEYS},  # type: ignore[arg-type]
            influx_access=influx_access,
        )
        if influx_access == "write":
            endpoints.check_clients(ep.registry_url)
        topics = Topics.from_env(
            telemetry=given.get("telemetry_topic"),  # type: ignore[arg-type]
            analytics=given.get("analytics_topic"),  # type: ignore[arg-type]
            dlq=given.get("dlq_topic"),  # type: ignore[arg-type]
        )
        v = resolve_all(SETTINGS, given)
        return cls(
            kafka_bootstrap=ep.kafka_bootstrap,
            registry_url=ep.registry_url,
            influx_url=ep.influx_url,
            influx_org=ep.influx_org,
            influx_bucket=ep.influx_bucket,
            topics=topics,
            group_id=v["group_id"],
            batch_points=v["batch_points"],
            batch_ms=v["batch_ms"],
            gzip=gzip_wanted(v["gzip"], ep.influx_url),
            progress_s=v["progress_s"],
            retry_max_s=v["retry_max_s"],
            influx_timeout_ms=v["influx_timeout_ms"],
            offset_reset=v["offset_reset"],
            influx_token=ep.influx_token,
        ).checked(influx_access)

    def checked(self, influx_access: str) -> SinkSettings:
        if not self.influx_token:
            own, _file = endpoints.INFLUX_ACCESS[influx_access]
            raise ConfigError(
                f"no InfluxDB token: set {own.env} or {endpoints.INFLUX_TOKEN.env} (or their "
                "_FILE), or start the local stack, whose token file is read automatically "
                "for its own InfluxDB"
            )
        return self


_ENDPOINT_KEYS = {"kafka_bootstrap", "registry_url", "influx_url", "influx_org", "influx_bucket"}
_TOPIC_KEYS = {"telemetry_topic", "analytics_topic", "dlq_topic"}
TOPIC_SETTINGS = {
    "telemetry_topic": TELEMETRY_TOPIC_SETTING,
    "analytics_topic": ANALYTICS_TOPIC_SETTING,
    "dlq_topic": DLQ_TOPIC_SETTING,
}
