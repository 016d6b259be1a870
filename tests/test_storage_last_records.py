"""The state a stored session ended in: each car's last records read from the series' ends
(the Flux text, and how the pivoted answer becomes records)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from storage.history import History, flux_last_points

T0 = pd.Timestamp("2026-01-01T00:00:00Z")


def test_last_points_read_the_ends_of_the_series_and_pivot() -> None:
    text = flux_last_points("b", "s-1")
    assert "range(start: 0, stop: 2200-01-01T00:00:00Z)" in text
    assert "|> last()" in text and "pivot(" in text
    assert "car_id" not in text.split("filter")[1]
    before = flux_last_points("b", "s-1", "car-02", before_us=5_000_000)
    assert "stop: time(v: 5000000000)" in before and 'r.car_id == "car-02"' in before


class Answers(History):
    """A History whose queries answer from a table of points instead of InfluxDB."""

    def __init__(self, points: list[dict[str, Any]]) -> None:
        self.points = points
        self.queries: list[str] = []
        self.bucket = "b"

    def frame(self, flux: str) -> pd.DataFrame:
        self.queries.append(flux)
        rows = self.points
        if "r.car_id ==" in flux:
            car = flux.split('r.car_id == "')[1].split('"')[0]
            stop = int(flux.split("stop: time(v: ")[1].split(")")[0]) // 1000
            rows = [r for r in rows if r["car_id"] == car and r["us"] < stop]
        last: dict[tuple[str, str], dict[str, Any]] = {}
        for r in sorted(rows, key=lambda r: r["us"]):
            for field in ("lap", "speed_kmh", "z_m"):
                if r.get(field) is not None:
                    point = {"us": r["us"], "car_id": r["car_id"], field: r[field]}
                    last[(r["car_id"], field)] = point
        table: dict[tuple[str, int], dict[str, Any]] = {}
        for point in last.values():
            key = (point["car_id"], point["us"])
            table.setdefault(key, {"car_id": point["car_id"], "us": point["us"]}).update(point)
        df = pd.DataFrame(list(table.values()))
        if df.empty:
            return df
        df["_time"] = pd.to_datetime(df.pop("us"), unit="us", utc=True)
        return df


def us(t_s: float) -> int:
    return int((T0.value // 1000) + t_s * 1e6)


def test_each_cars_last_two_records_sorted_by_time() -> None:
    points = [
        {"car_id": "car-01", "us": us(0.0), "lap": 1, "speed_kmh": 100.0, "z_m": 3.0},
        {"car_id": "car-01", "us": us(0.1), "lap": 1, "speed_kmh": 101.0},
        {"car_id": "car-01", "us": us(0.2), "lap": 2, "speed_kmh": 102.0},
        {"car_id": "car-02", "us": us(0.05), "lap": 1, "speed_kmh": 90.0},
        {"car_id": "car-02", "us": us(0.15), "lap": 1, "speed_kmh": 91.0},
    ]
    history = Answers(points)
    df = history.last_records("s-1")
    assert list(df["car_id"]) == ["car-02", "car-01", "car-02", "car-01"]
    assert list(df["speed_kmh"]) == [90.0, 101.0, 91.0, 102.0]
    assert list(df["timestamp"]) == [us(0.05), us(0.1), us(0.15), us(0.2)]
    # z_m was left out of the last records (not measured): no value from an older one.
    assert df["z_m"].isna().all()
    assert len(history.queries) == 3  # the ends, then one look before each car's last

    assert list(history.last_records("s-1", n=1)["car_id"]) == ["car-02", "car-01"]
    assert Answers([]).last_records("s-1").empty
