"""The lap table and lap comparison data, from lap summaries (no Panel, no Bokeh).

Column titles and units come from the channel table of the ``lap_summary`` record, so a
renamed unit in the contract shows up here without an edit. Fractions are shown as percent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dashboard.frames import fmt_lap_time
from schemas.channels import LAP_SUMMARY, channel

# Lap summary fields shown in the table, in order.
TABLE_FIELDS: tuple[str, ...] = (
    "lap",
    "lap_time_s",
    "sector1_s",
    "sector2_s",
    "sector3_s",
    "avg_speed_kmh",
    "max_speed_kmh",
    "min_speed_kmh",
    "full_throttle_share",
    "brake_share",
    "fuel_used_kg",
    "max_abs_g_lat",
    "min_g_long",
)

# The metric bars of the comparison: one chart per unit so bars share a scale.
METRIC_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Sector times", ("sector1_s", "sector2_s", "sector3_s")),
    ("Speeds", ("avg_speed_kmh", "max_speed_kmh", "min_speed_kmh")),
    ("Shares", ("full_throttle_share", "brake_share")),
)

BEST_BACKGROUND = "#3b2a00"
BEST_TEXT = "#ffd54f"
PLAIN_TEXT = "#e8ecf2"


def unit_of(field: str) -> str:
    unit = channel(field, LAP_SUMMARY).unit
    return "%" if unit == "fraction" else unit


def title_of(field: str) -> str:
    unit = unit_of(field)
    label = channel(field, LAP_SUMMARY).label
    return label if unit == "none" else f"{label} ({unit})"


def display_value(field: str, value: Any) -> float:
    """A summary value in the unit shown (fractions as percent)."""
    v = float(value)
    return v * 100.0 if channel(field, LAP_SUMMARY).unit == "fraction" else v


def lap_key(row: Mapping[str, Any]) -> str:
    return f"{row['car_id']}|{int(row['lap'])}"


def best_lap(rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return min(rows, key=lambda r: r["lap_time_s"]) if rows else None


def table_data(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Columns for the lap table: car, driver, the TABLE_FIELDS in display units, and
    ``bg``/``fg`` colours that mark the session's best lap."""
    best = best_lap(rows)
    best_id = lap_key(best) if best else None
    data: dict[str, list[Any]] = {"key": [], "car_id": [], "driver": [], "bg": [], "fg": []}
    data["lap_time"] = []
    for f in TABLE_FIELDS:
        data[f] = []
    for r in rows:
        key = lap_key(r)
        data["key"].append(key)
        data["car_id"].append(r["car_id"])
        data["driver"].append(r["driver"])
        is_best = key == best_id
        data["bg"].append(BEST_BACKGROUND if is_best else "transparent")
        data["fg"].append(BEST_TEXT if is_best else PLAIN_TEXT)
        data["lap_time"].append(fmt_lap_time(r["lap_time_s"]) + (" \u2605" if is_best else ""))
        for f in TABLE_FIELDS:
            data[f].append(int(r[f]) if f == "lap" else display_value(f, r[f]))
    return data


def lap_options(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Select options, label -> key, fastest first."""
    ordered = sorted(rows, key=lambda r: r["lap_time_s"])
    return {_option_label(r): lap_key(r) for r in ordered}


def _option_label(r: Mapping[str, Any]) -> str:
    time_text = fmt_lap_time(r["lap_time_s"])
    return f"{r['driver']} ({r['car_id']}) lap {int(r['lap'])} \u00b7 {time_text}"


@dataclass(frozen=True)
class MetricBars:
    title: str
    unit: str
    metrics: list[str]  # labels
    a: list[float]
    b: list[float]


def metric_bars(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[MetricBars]:
    out = []
    for title, fields in METRIC_GROUPS:
        out.append(
            MetricBars(
                title=f"{title} ({unit_of(fields[0])})",
                unit=unit_of(fields[0]),
                metrics=[channel(f, LAP_SUMMARY).label for f in fields],
                a=[display_value(f, a[f]) for f in fields],
                b=[display_value(f, b[f]) for f in fields],
            )
        )
    return out
