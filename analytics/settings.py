"""The analytics job's settings: one object, from env vars, overridden by CLI flags."""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analytics.laps import STATE_FIELDS
from runtime import paths
from runtime.endpoints import KAFKA_BOOTSTRAP, SCHEMA_REGISTRY_URL, check_clients
from runtime.errors import ConfigError
from runtime.settings import (
    Setting,
    choice,
    duration_s,
    integer,
    positive_duration_s,
    resolve_all,
)
from schemas.topics import ANALYTICS_TOPIC_SETTING, TELEMETRY_TOPIC_SETTING, Topics

SPARK_MASTER: Setting[Any] = Setting("SPARK_MASTER", "local[2]", "Spark master", flag="--master")
TRIGGER_INTERVAL: Setting[Any] = Setting(
    "SPARK_TRIGGER_INTERVAL",
    "5s",
    "trigger interval between micro-batches",
    positive_duration_s,
    flag="--trigger",
)
CHECKPOINT: Setting[Any] = Setting(
    "F1_ANALYTICS_CHECKPOINT",
    "",
    "checkpoint folder",
    flag="--checkpoint",
    default_help="$F1_STATE_DIR/analytics/checkpoint-<state layout>",
)
WATERMARK: Setting[Any] = Setting(
    "F1_ANALYTICS_WATERMARK",
    "30s",
    "watermark delay: how late (in event time) a record may arrive and still count",
    duration_s,
    flag="--watermark",
)
CAR_TIMEOUT: Setting[Any] = Setting(
    "F1_ANALYTICS_CAR_TIMEOUT",
    "120s",
    "car timeout: event time after a car's last record before its state goes",
    positive_duration_s,
    flag="--car-timeout",
)
STARTING_OFFSETS: Setting[Any] = Setting(
    "F1_ANALYTICS_STARTING_OFFSETS",
    "earliest",
    "starting offsets: where a new checkpoint starts reading",
    choice("earliest", "latest"),
    flag="--starting-offsets",
)
MAX_OFFSETS_PER_TRIGGER: Setting[Any] = Setting(
    "F1_ANALYTICS_MAX_OFFSETS_PER_TRIGGER",
    "",
    "max offsets per trigger: records per micro-batch at most",
    lambda text: integer(1)(text) if text else None,
    flag="--max-offsets-per-trigger",
    default_help="unlimited",
)

SETTINGS = {
    "master": SPARK_MASTER,
    "trigger": TRIGGER_INTERVAL,
    "checkpoint": CHECKPOINT,
    "watermark": WATERMARK,
    "car_timeout": CAR_TIMEOUT,
    "starting_offsets": STARTING_OFFSETS,
    "max_offsets_per_trigger": MAX_OFFSETS_PER_TRIGGER,
    "bootstrap": KAFKA_BOOTSTRAP,
    "registry": SCHEMA_REGISTRY_URL,
    "telemetry_topic": TELEMETRY_TOPIC_SETTING,
    "analytics_topic": ANALYTICS_TOPIC_SETTING,
}


def parse_duration_s(text: str, what: str) -> float:
    """Seconds in ``"5"``, ``"5s"``, ``"500ms"``, ``"2 min"``; ConfigError naming ``what``."""
    try:
        return duration_s(str(text))
    except ValueError as exc:
        raise ConfigError(f"{what}: {exc}, got {text!r}") from None


def state_layout_id() -> str:
    """A short digest of the fields of the job's per-car state (``analytics.laps.LapState``)."""
    return hashlib.sha256(repr(STATE_FIELDS).encode()).hexdigest()[:8]


def default_checkpoint() -> Path:
    # Named for the state's layout: Spark refuses a checkpoint whose state has other fields,
    # so a job whose state changed starts a checkpoint of its own (reading the topic again
    # from the starting offsets) instead of failing on the one an older version left.
    return paths.state_dir() / "analytics" / f"checkpoint-{state_layout_id()}"


@dataclass(frozen=True)
class Settings:
    master: str
    trigger_s: float
    checkpoint: Path
    watermark_s: float
    car_timeout_s: float
    starting_offsets: str
    max_offsets_per_trigger: int | None
    kafka_bootstrap: str
    registry_url: str
    topics: Topics

    @property
    def watermark(self) -> str:
        """The delay as Spark's withWatermark wants it."""
        return f"{round(self.watermark_s * 1000)} milliseconds"

    @property
    def trigger(self) -> str:
        return f"{round(self.trigger_s * 1000)} milliseconds"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Env vars, with ``overrides`` (flag values by the names in ``SETTINGS``; None = not
        given) taking precedence."""
        v = resolve_all(SETTINGS, overrides, env)
        check_clients(v["registry"], environ=env)
        return cls(
            master=v["master"],
            trigger_s=v["trigger"],
            checkpoint=Path(v["checkpoint"]) if v["checkpoint"] else default_checkpoint(),
            watermark_s=v["watermark"],
            car_timeout_s=v["car_timeout"],
            starting_offsets=v["starting_offsets"],
            max_offsets_per_trigger=v["max_offsets_per_trigger"],
            kafka_bootstrap=v["bootstrap"],
            registry_url=v["registry"],
            topics=Topics(telemetry=v["telemetry_topic"], analytics=v["analytics_topic"]),
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags behind each setting, with the env var and default in their help."""
    metavars = {"checkpoint": "DIR", "max_offsets_per_trigger": "N"}
    for name, setting in SETTINGS.items():
        if setting.parse in (duration_s, positive_duration_s):
            metavars[name] = "DURATION"
        setting.add_to(parser, dest=name, metavar=metavars.get(name))


def from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Settings:
    return Settings.from_env(env, **{name: getattr(args, name) for name in SETTINGS})
