"""The analytics job's settings: one object, from env vars, overridden by CLI flags."""

from __future__ import annotations

import argparse
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from runtime import endpoints, paths
from runtime.errors import ConfigError
from schemas.topics import ANALYTICS_TOPIC_SETTING, TELEMETRY_TOPIC_SETTING, Topics

# env var name -> default; None means "computed" (see the help text).
SPARK_MASTER = ("SPARK_MASTER", "local[2]")
TRIGGER_INTERVAL = ("SPARK_TRIGGER_INTERVAL", "5s")
CHECKPOINT = ("F1_ANALYTICS_CHECKPOINT", "")
WATERMARK = ("F1_ANALYTICS_WATERMARK", "30s")
CAR_TIMEOUT = ("F1_ANALYTICS_CAR_TIMEOUT", "120s")
STARTING_OFFSETS = ("F1_ANALYTICS_STARTING_OFFSETS", "earliest")
MAX_OFFSETS_PER_TRIGGER = ("F1_ANALYTICS_MAX_OFFSETS_PER_TRIGGER", "")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|secs|seconds?|m|min|minutes?)?\s*$")
_UNIT_S = {"ms": 0.001, "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0}


def parse_duration_s(text: str, what: str) -> float:
    """Seconds in ``"5"``, ``"5s"``, ``"500ms"``, ``"2 min"``; ConfigError naming ``what``."""
    match = _DURATION.match(str(text))
    if not match:
        raise ConfigError(f"{what}: expected a duration like 5s, 500ms or 2min, got {text!r}")
    return float(match.group(1)) * _UNIT_S.get(match.group(2) or "s", 1.0)


def default_checkpoint() -> Path:
    return paths.state_dir() / "analytics" / "checkpoint"


@dataclass(frozen=True)
class Settings:
    master: str
    trigger_s: float
    checkpoint: Path
    watermark_s: float
    car_timeout_s: float
    starting_offsets: str
    max_offsets_per_trigger: int | None
    bootstrap: str
    registry_url: str
    topics: Topics

    @property
    def watermark(self) -> str:
        """The delay as Spark's withWatermark wants it."""
        return f"{round(self.watermark_s * 1000)} milliseconds"

    @property
    def trigger(self) -> str:
        return f"{round(self.trigger_s * 1000)} milliseconds"

    @property
    def job_id(self) -> str:
        """Stable for one checkpoint folder: names the transactional producer and the group
        that records which micro-batches are published, so a restart finds them again."""
        digest = hashlib.sha256(str(self.checkpoint.resolve()).encode()).hexdigest()[:16]
        return f"f1-analytics-{digest}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: str | None) -> Settings:
        """Env vars, with ``overrides`` (flag values, None = not given) taking precedence."""
        env = os.environ if env is None else env

        def get(setting: tuple[str, str], flag: str) -> str:
            given = overrides.get(flag)
            if given is not None:
                return str(given)
            return env.get(setting[0]) or setting[1]

        trigger_s = parse_duration_s(get(TRIGGER_INTERVAL, "trigger"), "trigger interval")
        watermark_s = parse_duration_s(get(WATERMARK, "watermark"), "watermark delay")
        timeout_s = parse_duration_s(get(CAR_TIMEOUT, "car_timeout"), "car timeout")
        offsets = get(STARTING_OFFSETS, "starting_offsets")
        if offsets not in ("earliest", "latest"):
            raise ConfigError(f"starting offsets must be earliest or latest, got {offsets!r}")
        max_text = get(MAX_OFFSETS_PER_TRIGGER, "max_offsets_per_trigger")
        try:
            max_offsets = int(max_text) if max_text else None
        except ValueError:
            raise ConfigError(f"max offsets per trigger: not an integer: {max_text!r}") from None
        if max_offsets is not None and max_offsets < 1:
            raise ConfigError(f"max offsets per trigger must be positive, got {max_offsets}")
        checkpoint = get(CHECKPOINT, "checkpoint")
        return cls(
            master=get(SPARK_MASTER, "master"),
            trigger_s=trigger_s,
            checkpoint=Path(checkpoint) if checkpoint else default_checkpoint(),
            watermark_s=watermark_s,
            car_timeout_s=timeout_s,
            starting_offsets=offsets,
            max_offsets_per_trigger=max_offsets,
            bootstrap=get(endpoints.KAFKA_BOOTSTRAP, "bootstrap"),
            registry_url=get(endpoints.SCHEMA_REGISTRY_URL, "registry"),
            topics=Topics(
                telemetry=get(TELEMETRY_TOPIC_SETTING, "telemetry_topic"),
                analytics=get(ANALYTICS_TOPIC_SETTING, "analytics_topic"),
            ),
        )


def _help(setting: tuple[str, str], what: str, default: str | None = None) -> str:
    return f"{what} (env {setting[0]}, default {default or setting[1]})"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags behind each setting, with the env var and default in their help."""
    add = parser.add_argument
    add("--master", help=_help(SPARK_MASTER, "Spark master"))
    add("--trigger", metavar="DURATION", help=_help(TRIGGER_INTERVAL, "micro-batch interval"))
    add(
        "--checkpoint",
        metavar="DIR",
        help=_help(CHECKPOINT, "checkpoint folder", "$F1_STATE_DIR/analytics/checkpoint"),
    )
    add(
        "--watermark",
        metavar="DURATION",
        help=_help(WATERMARK, "how late (in event time) a record may arrive and still count"),
    )
    add(
        "--car-timeout",
        metavar="DURATION",
        help=_help(CAR_TIMEOUT, "event time after a car's last record before its state goes"),
    )
    add(
        "--starting-offsets",
        choices=("earliest", "latest"),
        help=_help(STARTING_OFFSETS, "where a new checkpoint starts reading"),
    )
    add(
        "--max-offsets-per-trigger",
        metavar="N",
        help=_help(MAX_OFFSETS_PER_TRIGGER, "records per micro-batch at most", "unlimited"),
    )
    add("--bootstrap", help=_help(endpoints.KAFKA_BOOTSTRAP, "Kafka bootstrap servers"))
    add("--registry", help=_help(endpoints.SCHEMA_REGISTRY_URL, "Schema Registry URL"))
    add("--telemetry-topic", help=_help(TELEMETRY_TOPIC_SETTING, "topic to read"))
    add("--analytics-topic", help=_help(ANALYTICS_TOPIC_SETTING, "topic to write lap summaries"))


def from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Settings:
    return Settings.from_env(
        env,
        master=args.master,
        trigger=args.trigger,
        checkpoint=args.checkpoint,
        watermark=args.watermark,
        car_timeout=args.car_timeout,
        starting_offsets=args.starting_offsets,
        max_offsets_per_trigger=args.max_offsets_per_trigger,
        bootstrap=args.bootstrap,
        registry=args.registry,
        telemetry_topic=args.telemetry_topic,
        analytics_topic=args.analytics_topic,
    )
