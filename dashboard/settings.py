"""The dashboard's settings: one object built from env vars, shared by the feed and the views.

| env var | default | what |
|---|---|---|
| ``VISUALIZATION_FPS`` | 30 | frames per second each browser session is sent |
| ``F1_DASHBOARD_CATCHUP_S`` | 100 | how far back the consumer starts, so the current lap is known |
| ``F1_DASHBOARD_TRACE_STEP_M`` | 10 | distance between the points of a lap trace sent to browsers |
| ``F1_TRACK`` | empty: Silverstone | the circuit CSV the map draws (the simulator's setting too) |
| ``F1_TELEMETRY_TOPIC``, ``F1_ANALYTICS_TOPIC`` | ``f1-telemetry``, ``f1-analytics`` | topics |
| ``F1_KAFKA_BOOTSTRAP``, ``F1_SCHEMA_REGISTRY_URL``, ``F1_INFLUX_*`` | local stack | endpoints |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from circuit import TRACK_SETTING
from runtime.endpoints import Endpoints, check_clients
from runtime.settings import Setting, number
from schemas.topics import Topics

FPS_SETTING: Setting[Any] = Setting(
    "VISUALIZATION_FPS", "30", "frames per second sent to each browser session", number(1, 60)
)
# A lap at Silverstone takes about 87 s: 100 s always reaches back to its start.
CATCHUP_SETTING: Setting[Any] = Setting(
    "F1_DASHBOARD_CATCHUP_S", "100", "how far back the consumer starts, s", number(0, 3600)
)
TRACE_STEP_SETTING: Setting[Any] = Setting(
    "F1_DASHBOARD_TRACE_STEP_M", "10", "distance between trace points, m", number(1, 100)
)


@dataclass(frozen=True)
class Settings:
    fps: float = 30.0
    catchup_s: float = 100.0
    trace_step_m: float = 10.0
    track: Path | None = None  # None: the built-in Silverstone
    topics: Topics = field(default_factory=Topics)
    endpoints: Endpoints | None = None

    @classmethod
    def from_env(cls) -> Settings:
        """The settings, with the security settings of its Kafka and registry clients read
        and checked: a bad one stops the page with one line in the server's log, as a bad
        ``F1_TRACK`` does, not a feed that fails every 2 s."""
        found = Endpoints.from_env()
        check_clients(found.registry_url)
        return cls(
            fps=FPS_SETTING.resolve(),
            catchup_s=CATCHUP_SETTING.resolve(),
            trace_step_m=TRACE_STEP_SETTING.resolve(),
            track=TRACK_SETTING.resolve(),
            topics=Topics.from_env(),
            endpoints=found,
        )

    @property
    def frame_period_ms(self) -> int:
        return max(1, round(1000.0 / self.fps))
