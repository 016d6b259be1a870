"""The dashboard's settings: one object built from env vars, shared by the feed and the views.

| env var | default | what |
|---|---|---|
| ``VISUALIZATION_FPS`` | 30 | frames per second each browser session is sent |
| ``F1_DASHBOARD_CATCHUP_S`` | 100 | how far back the consumer starts, so the current lap is known |
| ``F1_DASHBOARD_TRACE_STEP_M`` | 10 | distance between the points of a lap trace sent to browsers |
| ``F1_TELEMETRY_TOPIC``, ``F1_ANALYTICS_TOPIC`` | ``f1-telemetry``, ``f1-analytics`` | topics |
| ``F1_KAFKA_BOOTSTRAP``, ``F1_SCHEMA_REGISTRY_URL``, ``F1_INFLUX_*`` | local stack | endpoints |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from runtime.endpoints import Endpoints
from runtime.errors import ConfigError
from schemas.topics import Topics

FPS_SETTING = ("VISUALIZATION_FPS", "30")
CATCHUP_SETTING = ("F1_DASHBOARD_CATCHUP_S", "100")
TRACE_STEP_SETTING = ("F1_DASHBOARD_TRACE_STEP_M", "10")


def _number(setting: tuple[str, str], lo: float, hi: float) -> float:
    name, default = setting
    raw = os.environ.get(name) or default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={raw!r} must be between {lo:g} and {hi:g}")
    return value


@dataclass(frozen=True)
class Settings:
    fps: float = 30.0
    catchup_s: float = 100.0
    trace_step_m: float = 10.0
    topics: Topics = field(default_factory=Topics)
    endpoints: Endpoints | None = None

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            fps=_number(FPS_SETTING, 1, 60),
            # A lap at Silverstone takes about 87 s: 100 s always reaches back to its start.
            catchup_s=_number(CATCHUP_SETTING, 0, 3600),
            trace_step_m=_number(TRACE_STEP_SETTING, 1, 100),
            topics=Topics.from_env(),
            endpoints=Endpoints.from_env(),
        )

    @property
    def frame_period_ms(self) -> int:
        return max(1, round(1000.0 / self.fps))
