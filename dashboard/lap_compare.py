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
class MetricDifferences:
    """One chart of the comparison: A minus B for metrics of one unit, each coloured by its
    sign (``better`` says which sign is good for lap A: -1 for times, +1 for speeds, 0 when
    neither is, and then the colour only says which lap has more)."""

    title: str
    unit: str
    metrics: list[str]  # labels
    diffs: list[float]  # A minus B, in the unit shown
    colours: list[str]


# The differences drawn: lap time and sector times (+ = A slower), speeds (+ = A faster),
# shares (+ = A more).
DIFFERENCE_GROUPS: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("Lap and sector times", ("lap_time_s", "sector1_s", "sector2_s", "sector3_s"), -1),
    ("Speeds", ("avg_speed_kmh", "max_speed_kmh", "min_speed_kmh"), 1),
    ("Shares", ("full_throttle_share", "brake_share"), 0),
)
GAIN_COLOUR = "#2ecc71"
LOSS_COLOUR = "#ff453a"
A_MORE_COLOUR = "#ff2d55"  # the colour of lap A's line
B_MORE_COLOUR = "#31c6f5"  # lap B's
LEVEL_COLOUR = "#8893a5"


def _sign_colour(diff: float, better: int) -> str:
    if diff == 0.0:
        return LEVEL_COLOUR
    if better == 0:
        return A_MORE_COLOUR if diff > 0 else B_MORE_COLOUR
    return GAIN_COLOUR if diff * better > 0 else LOSS_COLOUR


def metric_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[MetricDifferences]:
    """A minus B of every compared metric, grouped by unit, coloured by sign."""
    out = []
    for title, fields, better in DIFFERENCE_GROUPS:
        diffs = [display_value(f, a[f]) - display_value(f, b[f]) for f in fields]
        unit = unit_of(fields[0])
        sense = {-1: "+ = A slower", 1: "+ = A faster", 0: "+ = A more"}[better]
        out.append(
            MetricDifferences(
                title=f"{title}, A \u2212 B ({unit}, {sense})",
                unit=unit,
                metrics=[channel(f, LAP_SUMMARY).label for f in fields],
                diffs=diffs,
                colours=[_sign_colour(d, better) for d in diffs],
            )
        )
    return out
