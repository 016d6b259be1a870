"""``/health``: the model's state as JSON, per car and per session."""

from __future__ import annotations

import json

from dashboard.health import snapshot
from dashboard.model import GridModel
from tests.dashboard_samples import records


def test_counts_records_and_laps_per_car_and_summaries_per_session() -> None:
    model = GridModel(step_m=1.0)
    model.ingest(records(range(70)))  # 21 s: lap 1 (10.1 s) and lap 2 (8.02 s) completed
    model.ingest(records(range(5), car="car-02", driver="HAM"))
    model.laps.add({"session_id": "s-1", "car_id": "car-01", "lap": 1, "lap_time_s": 10.0})
    model.status.broker = "up"
    model.status.decode_errors = 2

    found = json.loads(json.dumps(snapshot(model)))  # JSON-ready as it is

    cars = {c["car_id"]: c for c in found["cars"]}
    assert cars["car-01"]["records"] == 70
    assert cars["car-01"]["laps_completed"] == 2
    assert cars["car-01"]["lap"] == 3
    assert cars["car-02"]["records"] == 5
    assert cars["car-02"]["laps_completed"] == 0
    assert found["lap_summaries"] == {"s-1": 1}
    assert found["kafka"] == "up" and found["decode_errors"] == 2


def test_a_new_session_starts_the_count_again() -> None:
    model = GridModel(step_m=1.0)
    model.ingest(records(range(10)))
    model.ingest(records(range(3), session="s-2"))
    (car,) = snapshot(model)["cars"]
    assert (car["session_id"], car["records"]) == ("s-2", 3)
