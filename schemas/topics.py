"""Topic names, subject names and which schema file each topic carries: the one place for them.

Subjects follow the topic name strategy (``<topic>-value``), so overriding a topic name (tests
use unique names) moves its subject with it. The DLQ carries the raw bytes that could not be
decoded, with the reason in headers, so it has no schema and no subject.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.errors import ConfigError
from runtime.settings import Setting

TELEMETRY_TOPIC = "f1-telemetry"
ANALYTICS_TOPIC = "f1-analytics"
DLQ_TOPIC = "f1-telemetry-dlq"

TELEMETRY_TOPIC_SETTING: Setting[Any] = Setting(
    "F1_TELEMETRY_TOPIC", TELEMETRY_TOPIC, "telemetry topic", flag="--telemetry-topic"
)
ANALYTICS_TOPIC_SETTING: Setting[Any] = Setting(
    "F1_ANALYTICS_TOPIC", ANALYTICS_TOPIC, "lap summary topic", flag="--analytics-topic"
)
DLQ_TOPIC_SETTING: Setting[Any] = Setting(
    "F1_DLQ_TOPIC", DLQ_TOPIC, "dead-letter topic", flag="--dlq-topic"
)

SCHEMA_DIR = Path(__file__).resolve().parent
HISTORY_DIR = SCHEMA_DIR / "history"
TELEMETRY_SCHEMA_FILE = SCHEMA_DIR / "telemetry.avsc"
LAP_SUMMARY_SCHEMA_FILE = SCHEMA_DIR / "lap_summary.avsc"

# DLQ record headers: why a record landed there (DecodeError.reason) and the human message.
DLQ_REASON_HEADER = "f1-dlq-reason"
DLQ_ERROR_HEADER = "f1-dlq-error"
DLQ_SOURCE_TOPIC_HEADER = "f1-dlq-source-topic"
DLQ_SOURCE_PARTITION_HEADER = "f1-dlq-source-partition"
DLQ_SOURCE_OFFSET_HEADER = "f1-dlq-source-offset"
DLQ_SERVICE_HEADER = "f1-dlq-service"
# On a dead letter whose record was too large to send whole: the record's size in bytes (key
# and value); the letter holds their first bytes only.
DLQ_TRUNCATED_HEADER = "f1-dlq-truncated"


def value_subject(topic: str) -> str:
    """The value subject of ``topic`` under the topic name strategy."""
    return f"{topic}-value"


@dataclass(frozen=True)
class Topics:
    telemetry: str = TELEMETRY_TOPIC
    analytics: str = ANALYTICS_TOPIC
    dlq: str = DLQ_TOPIC

    def __post_init__(self) -> None:
        # Two roles on one topic feed a service its own output: a sink whose DLQ is the
        # telemetry topic dead-letters its dead letters forever.
        roles = (
            (TELEMETRY_TOPIC_SETTING, self.telemetry),
            (ANALYTICS_TOPIC_SETTING, self.analytics),
            (DLQ_TOPIC_SETTING, self.dlq),
        )
        for i, (first, name) in enumerate(roles):
            for second, other in roles[i + 1 :]:
                if name == other:
                    raise ConfigError(
                        f"the {first.help} and the {second.help} must be different topics, both "
                        f"are {name!r} ({first.env} or {first.flag}, {second.env} or "
                        f"{second.flag})"
                    )

    @classmethod
    def from_env(
        cls,
        telemetry: str | None = None,
        analytics: str | None = None,
        dlq: str | None = None,
    ) -> Topics:
        """Topic names from F1_TELEMETRY_TOPIC, F1_ANALYTICS_TOPIC and F1_DLQ_TOPIC; an
        argument that is not None (a CLI flag) wins over its env var."""
        return cls(
            TELEMETRY_TOPIC_SETTING.resolve(telemetry or None),
            ANALYTICS_TOPIC_SETTING.resolve(analytics or None),
            DLQ_TOPIC_SETTING.resolve(dlq or None),
        )

    @property
    def telemetry_subject(self) -> str:
        return value_subject(self.telemetry)

    @property
    def analytics_subject(self) -> str:
        return value_subject(self.analytics)

    def schema_files(self) -> dict[str, Path]:
        """Topic -> the ``.avsc`` file its values are written with."""
        return {self.telemetry: TELEMETRY_SCHEMA_FILE, self.analytics: LAP_SUMMARY_SCHEMA_FILE}

    def subjects(self) -> dict[str, Path]:
        """Subject -> the ``.avsc`` file registered under it, in registration order."""
        return {value_subject(t): path for t, path in self.schema_files().items()}


def topics_from_env() -> Topics:
    return Topics.from_env()
