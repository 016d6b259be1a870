"""``GET /timing``: the timing tower as JSON, the same numbers the pit wall's tower shows.

Served by the health plugin (``panel serve dashboard/app.py --plugins dashboard.health``, as
``make demo`` and docker-compose start it), or alone with ``--plugins dashboard.timing_plugin``.
Other tools (a broadcast overlay, a strategy script) poll it. Without a query it answers the
newest session (the one the latest record belongs to); ``?session=<id>`` picks one of the
sessions in memory (``sessions`` lists them) and answers 404 for any other. Calling it starts
the process's feed if no browser session has yet.

Per car: position, gap_to_leader_s, interval_s (None where the screen shows a dash or laps),
gap and interval as the screen writes them (``+1.234``, ``+1 LAP``), laps_behind_leader,
catching and closing_s_per_lap, laps_completed, last_lap_s, best_lap_s, the three sectors
(time_s, colour purple/green/yellow/none, the lap they are from, whether that is the current
lap), theoretical_best_s, tyre_compound, tyre_age_laps, pit_stops, pit_status and status
(on_track, pit_lane, stopped, finished). Per session: best_sectors_s, best_sector_cars,
theoretical_best_s, best_lap_s, best_lap_car, positions_by (race or best_lap).
"""

from __future__ import annotations

import json
import time
from typing import Any

from tornado.web import RequestHandler

from dashboard.access import ProtectedHandler
from dashboard.feed import log_to_server, shared_feed
from dashboard.model import GridModel
from dashboard.timing import tower_json

log_to_server()


def timing_snapshot(model: GridModel, session: str | None = None) -> dict[str, Any] | None:
    """The tower of ``session`` (default: the newest) as JSON-ready data; None for a session
    not in memory."""
    with model.lock:
        book = model.timing
        if session is not None and session not in book.sessions:
            return None
        body = tower_json(book.tower(session, time.monotonic()))
        body["sessions"] = list(book.sessions)
        return body


class TimingHandler(ProtectedHandler):
    def get(self) -> None:
        model, _feed = shared_feed()
        session = self.get_query_argument("session", None) or None
        body = timing_snapshot(model, session)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        if body is None:
            self.set_status(404)
            self.write(json.dumps({"error": f"no session {session!r} in memory"}))
            return
        self.write(json.dumps(body))


# Read by ``panel serve --plugins``.
ROUTES: list[tuple[str, type[RequestHandler], dict[str, Any]]] = [("/timing", TimingHandler, {})]
