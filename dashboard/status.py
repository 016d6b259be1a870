"""The status line and the banner: what the feed is doing, in words a race engineer reads.

The banner is the empty state and the error state: waiting for a topic or for data, broker
down, registry down, catching up. ``None`` means all is well and the banner is hidden.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from dashboard.model import FeedStatus
from schemas.topics import Topics

# No record for this long (with the broker up) means the stream has stopped.
SILENT_AFTER_S = 5.0


@dataclass(frozen=True)
class StatusText:
    line: str
    banner: str | None
    level: str  # ok | info | warn | error


def describe(
    status: FeedStatus,
    topics: Topics,
    cars: int,
    now: float | None = None,
    finished: bool = False,
) -> StatusText:
    """The status line and banner; ``finished``: every car of the live session has taken the
    flag (so silence is the end of the session, not a fault)."""
    now = time.monotonic() if now is None else now
    lag = "\u2014" if status.lag_records is None else f"{status.lag_records:,}"
    latency = "\u2014" if status.latency_ms is None else f"{status.latency_ms:,.0f} ms"
    registry = {"up": "up", "down": "DOWN", "unknown": "?"}[status.registry]
    line = (
        f"Kafka {status.broker} \u00b7 registry {registry}"
        f" \u00b7 {status.messages_per_s:,.0f} msg/s"
        f" \u00b7 lag {lag} records / {latency} \u00b7 {cars} car(s)"
        f" \u00b7 topic {topics.telemetry}"
    )
    if status.decode_errors or status.dropped_registry_down:
        line += (
            f" \u00b7 skipped {status.decode_errors:,} bad"
            f" + {status.dropped_registry_down:,} undecodable"
        )
    silent = status.last_message_at is None or now - status.last_message_at > SILENT_AFTER_S
    if status.broker == "down":
        return StatusText(
            line,
            f"Kafka is unreachable: reconnecting automatically. {status.last_error}".strip(),
            "error",
        )
    if status.registry == "down" and (silent or status.dropped_registry_down):
        return StatusText(
            line,
            "Schema registry is unreachable: records with schemas seen before still decode;"
            " retrying.",
            "error",
        )
    if status.broker == "connecting":
        return StatusText(line, "Connecting to Kafka\u2026", "info")
    if topics.telemetry not in status.topics_found:
        return StatusText(
            line,
            f"Waiting for topic {topics.telemetry}: no telemetry has been produced yet.",
            "info",
        )
    if status.catching_up:
        return StatusText(line, "Catching up on the current lap\u2026", "info")
    if cars and finished and silent:
        return StatusText(
            line,
            "Chequered flag: every car has finished. The classification stays up until the"
            " next session starts.",
            "info",
        )
    if cars == 0 or silent:
        return StatusText(
            line, f"No live telemetry on {topics.telemetry}: waiting for the cars.", "info"
        )
    if status.registry == "down":
        return StatusText(line, "Schema registry is unreachable (decoding from cache).", "warn")
    return StatusText(line, None, "ok")
