"""``GET /health``: what the dashboard process holds, as JSON, for monitoring and tests.

A Panel server plugin: ``panel serve dashboard/app.py --plugins dashboard.health`` (as
``f1-stack demo`` starts it), which serves ``GET /timing`` too
(:mod:`dashboard.timing_plugin`). The answer is the feed's state (Kafka, registry,
messages, lag, records skipped) and, per car of every session in memory, how many records
the buffers took in, the lap it is on and the laps it completed; plus the lap summaries held
per session; and the circuit the map draws for the current session (its name, whether it is
learned from the stream, its lap length and sector starts, how much outline is known). The
HTTP status is 200 while Kafka is reachable and 503 when it is not, so a load balancer or a
supervisor can use it as a readiness check. With ``--basic-auth`` on, it answers only a
logged-in browser or a request with the credentials (``dashboard.access``): 401 otherwise.

Calling it starts the process's feed if no browser session has yet, so the buffers fill
from server start when something polls it.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np
from tornado.web import RequestHandler

from dashboard.access import ProtectedHandler
from dashboard.feed import log_to_server, shared_feed
from dashboard.model import GridModel
from dashboard.timing_plugin import TimingHandler

log_to_server()


def snapshot(model: GridModel) -> dict[str, Any]:
    """The model's state as plain JSON-ready data (takes the model's lock)."""
    with model.lock:
        status = model.status
        cars = [
            {
                "car_id": car.car_id,
                "driver": car.driver,
                "session_id": car.session_id,
                "records": car.records,
                "lap": car.lap,
                "laps_completed": len(car.completed),
                "best_lap_s": car.best.time_s if car.best else None,
                "latest_timestamp_us": car.latest["timestamp"] if car.latest else None,
            }
            for car in sorted(model.cars.values(), key=lambda c: (c.session_id, c.car_id))
        ]
        summaries = Counter(session for session, _car, _lap in model.laps.rows)
        circuit = model.circuit()
        return {
            "kafka": status.broker,
            "registry": status.registry,
            "topics_found": sorted(status.topics_found),
            "messages": status.messages,
            "messages_per_s": round(status.messages_per_s, 1),
            "lag_records": status.lag_records,
            "decode_errors": status.decode_errors,
            "skipped_registry_down": status.dropped_registry_down,
            "catching_up": status.catching_up,
            "last_error": status.last_error,
            "cars": cars,
            "lap_summaries": dict(summaries),
            "circuit": {
                "name": circuit.name,
                "learned": circuit.learned,
                "lap_length_m": circuit.lap_length_m,
                "sector_starts_m": list(circuit.sector_starts_m),
                "outline_points": int(np.isfinite(circuit.x).sum()),
                "outline_closed": circuit.closed,
            },
        }


class HealthHandler(ProtectedHandler):
    def get(self) -> None:
        model, _feed = shared_feed()
        body = snapshot(model)
        self.set_status(503 if body["kafka"] == "down" else 200)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.write(json.dumps(body))


# Read by ``panel serve --plugins``: the timing tower is served alongside, so the one plugin
# that ``make demo`` and docker-compose name serves both.
ROUTES: list[tuple[str, type[RequestHandler], dict[str, Any]]] = [
    ("/health", HealthHandler, {}),
    ("/timing", TimingHandler, {}),
]
