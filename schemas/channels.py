"""The one table of channels: every field of every record, with unit, Avro type and range.

The ``.avsc`` files carry the same facts in each field's ``doc`` (a test keeps both in step),
but services read them from here: the serializer checks ranges against this table, the
InfluxDB sink picks tags and field types from it, the dashboard takes labels and axis
limits from it.

Field docs follow one format, parsed by :func:`parse_doc`::

    <description> Unit: <unit>. Range: <min>..<max>.     numbers
    <description> Unit: none. Values: false|true.        booleans
    <description> Unit: none. Pattern: <regex>.          strings

Run ``python -m schemas.channels`` to print the table as Markdown (the README embeds it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["continuous", "discrete", "identifier", "time"]
AvroType = Literal["string", "boolean", "int", "long", "float", "double"]
InfluxType = Literal["tag", "time", "float", "integer", "boolean", "string"]

TELEMETRY = "telemetry"
LAP_SUMMARY = "lap_summary"
RECORDS = (TELEMETRY, LAP_SUMMARY)

# Avro full names of the records, so code holding a schema can find its table.
RECORD_NAMES = {
    "io.f1telemetry.Telemetry": TELEMETRY,
    "io.f1telemetry.LapSummary": LAP_SUMMARY,
}

# Microseconds since the Unix epoch up to 2100-01-01: wide enough for any session, narrow
# enough to catch milliseconds or nanoseconds passed by mistake (1000x off either way).
_TS_MAX = 4_102_444_800_000_000
_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


def one_of(*values: str) -> str:
    """The pattern of a string channel that takes one of a few values."""
    return f"^({'|'.join(values)})$"


def pattern_values(pattern: str | None) -> tuple[str, ...]:
    """The values a :func:`one_of` pattern allows; empty for any other pattern."""
    m = re.fullmatch(r"\^\(([a-z_]+(?:\|[a-z_]+)*)\)\$", pattern or "")
    return tuple(m[1].split("|")) if m else ()


# The values of the string channels that take one of a few (their defaults are in the .avsc).
SESSION_KINDS = ("race", "practice", "qualifying", "unknown")
TYRE_COMPOUNDS = ("soft", "medium", "hard", "intermediate", "wet", "unknown")
PIT_STATUSES = ("none", "pit_lane", "pit_stop")
CAR_STATUSES = ("running", "finished", "retired")
ERS_DEPLOY_MODES = ("none", "medium", "hotlap", "overtake")

# The order of the per-wheel channels (telemetry v3): front left, front right, rear left,
# rear right, as the field name suffixes say. The F1 game sends its 4-arrays rear first (RL,
# RR, FL, FR); the ingest reorders them.
WHEELS = ("fl", "fr", "rl", "rr")
WHEEL_LABELS = {"fl": "FL", "fr": "FR", "rl": "RL", "rr": "RR"}


@dataclass(frozen=True, slots=True)
class Channel:
    """One field of one record.

    ``minimum``/``maximum`` are inclusive and ``None`` for strings and booleans; ``pattern``
    is a full-match regex for strings. ``kind`` says how to treat the values: continuous
    (plot as a line, aggregate), discrete (steps: gear, lap, sector, flags), identifier
    (who/which: tags, never aggregated) or time (the event time of the record).
    ``nullable``: the field is Avro ``["null", <type>]`` with default null, which means "not
    measured": a channel that only some sources have (see :data:`WHEELS`).
    """

    record: str
    name: str
    label: str
    unit: str
    avro_type: AvroType
    kind: Kind
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    logical_type: str | None = None
    nullable: bool = False

    @property
    def numeric(self) -> bool:
        return self.avro_type in ("int", "long", "float", "double")

    @property
    def influx_type(self) -> InfluxType:
        """How the InfluxDB sink stores the field: identifiers are tags, the event time is
        the point's timestamp, everything else a typed field. A string that is not an
        identifier (a tyre compound, a pit status) is a string field: as a tag it would start
        a new series at every change of its value."""
        if self.kind == "identifier":
            return "tag"
        if self.kind == "time":
            return "time"
        if self.avro_type == "boolean":
            return "boolean"
        if self.avro_type == "string":
            return "string"
        if self.avro_type in ("int", "long"):
            return "integer"
        return "float"

    @property
    def range_text(self) -> str:
        """The tail of the field's doc: ``Unit: ... . Range: ... .`` (see the module doc)."""
        if self.avro_type == "boolean":
            tail = "Values: false|true."
        elif self.avro_type == "string":
            tail = f"Pattern: {self.pattern}."
        else:
            tail = f"Range: {format_number(self.minimum)}..{format_number(self.maximum)}."
        return f"Unit: {self.unit}. {tail}"


def format_number(value: float | None) -> str:
    """A bound as the docs write it: integers without a decimal point."""
    if value is None:
        raise ValueError("numeric channel without a bound")
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _c(
    record: str,
    name: str,
    label: str,
    unit: str,
    avro_type: AvroType,
    kind: Kind,
    lo: float | None = None,
    hi: float | None = None,
    *,
    pattern: str | None = None,
    logical_type: str | None = None,
    nullable: bool = False,
) -> Channel:
    return Channel(
        record, name, label, unit, avro_type, kind, lo, hi, pattern, logical_type, nullable
    )


def _ids(record: str) -> tuple[Channel, ...]:
    return (
        _c(record, "session_id", "Session", "none", "string", "identifier", pattern=_ID_PATTERN),
        _c(record, "car_id", "Car", "none", "string", "identifier", pattern=_ID_PATTERN),
        _c(record, "driver", "Driver", "none", "string", "identifier", pattern=r"^[A-Z]{3}$"),
    )


_T = TELEMETRY
_L = LAP_SUMMARY
_SESSION_KIND = one_of(*SESSION_KINDS)
_COMPOUND = one_of(*TYRE_COMPOUNDS)
_PIT_STATUS = one_of(*PIT_STATUSES)
_CAR_STATUS = one_of(*CAR_STATUSES)
_ERS_DEPLOY_MODE = one_of(*ERS_DEPLOY_MODES)


def _per_wheel(name: str, label: str, unit: str, lo: float, hi: float) -> tuple[Channel, ...]:
    """One nullable float channel per wheel, ``<name>_<wheel>_<unit suffix>``, in WHEELS order."""
    head, _, suffix = name.rpartition("_")
    return tuple(
        _c(_T, f"{head}_{w}_{suffix}", f"{label} {WHEEL_LABELS[w]}", unit, "float", "continuous",
           lo, hi, nullable=True)
        for w in WHEELS
    )  # fmt: skip


TELEMETRY_CHANNELS: tuple[Channel, ...] = (
    *_ids(_T),
    _c(_T, "timestamp", "Time", "us", "long", "time", 0, _TS_MAX, logical_type="timestamp-micros"),
    _c(_T, "sim_time_s", "Session time", "s", "double", "continuous", 0, 86_400),
    _c(_T, "lap", "Lap", "none", "int", "discrete", 1, 200),
    # Negative on a race grid, behind the line (F1 game convention).
    _c(_T, "lap_distance_m", "Lap distance", "m", "double", "continuous", -2_000, 10_000),
    _c(_T, "total_distance_m", "Total distance", "m", "double", "continuous", -2_000, 2_000_000),
    _c(_T, "x_m", "X", "m", "float", "continuous", -10_000, 10_000),
    _c(_T, "y_m", "Y", "m", "float", "continuous", -10_000, 10_000),
    _c(_T, "speed_kmh", "Speed", "km/h", "float", "continuous", 0, 400),
    _c(_T, "throttle", "Throttle", "fraction", "float", "continuous", 0, 1),
    _c(_T, "brake", "Brake", "fraction", "float", "continuous", 0, 1),
    _c(_T, "steering", "Steering", "fraction", "float", "continuous", -1, 1),
    _c(_T, "gear", "Gear", "none", "int", "discrete", 0, 8),
    _c(_T, "rpm", "RPM", "rpm", "float", "continuous", 0, 20_000),
    _c(_T, "g_lat", "Lateral g", "g", "float", "continuous", -10, 10),
    _c(_T, "g_long", "Longitudinal g", "g", "float", "continuous", -10, 10),
    _c(_T, "fuel_kg", "Fuel", "kg", "float", "continuous", 0, 150),
    _c(_T, "tyre_wear", "Tyre wear", "fraction", "float", "continuous", 0, 1),
    _c(_T, "drs", "DRS", "none", "boolean", "discrete"),
    _c(_T, "sector", "Sector", "none", "int", "discrete", 1, 3),
    _c(_T, "session_kind", "Session kind", "none", "string", "discrete", pattern=_SESSION_KIND),
    _c(_T, "tyre_compound", "Compound", "none", "string", "discrete", pattern=_COMPOUND),
    _c(_T, "tyre_age_laps", "Tyre age", "laps", "int", "discrete", 0, 200),
    _c(_T, "pit_status", "Pit status", "none", "string", "discrete", pattern=_PIT_STATUS),
    _c(_T, "pit_stops", "Pit stops", "none", "int", "discrete", 0, 20),
    _c(_T, "car_status", "Car status", "none", "string", "discrete", pattern=_CAR_STATUS),
    # Telemetry v3: channels the F1 game has and the simulator does not; null = not measured.
    _c(_T, "z_m", "Z", "m", "float", "continuous", -10_000, 10_000, nullable=True),
    *_per_wheel("tyre_surface_temp_c", "Tyre surface", "degC", -50, 300),
    *_per_wheel("tyre_inner_temp_c", "Tyre inner", "degC", -50, 300),
    *_per_wheel("brake_temp_c", "Brake", "degC", -50, 2_000),
    *_per_wheel("tyre_pressure_psi", "Tyre pressure", "psi", 0, 100),
    _c(_T, "engine_temp_c", "Engine temp", "degC", "float", "continuous", -50, 300, nullable=True),
    _c(_T, "ers_store_mj", "ERS store", "MJ", "float", "continuous", 0, 20, nullable=True),
    _c(
        _T,
        "ers_deploy_mode",
        "ERS mode",
        "none",
        "string",
        "discrete",
        pattern=_ERS_DEPLOY_MODE,
        nullable=True,
    ),
)

LAP_SUMMARY_CHANNELS: tuple[Channel, ...] = (
    *_ids(_L),
    _c(_L, "lap", "Lap", "none", "int", "discrete", 1, 200),
    _c(_L, "lap_time_s", "Lap time", "s", "double", "continuous", 0, 1_000),
    _c(_L, "sector1_s", "Sector 1", "s", "double", "continuous", 0, 1_000),
    _c(_L, "sector2_s", "Sector 2", "s", "double", "continuous", 0, 1_000),
    _c(_L, "sector3_s", "Sector 3", "s", "double", "continuous", 0, 1_000),
    _c(
        _L,
        "lap_start",
        "Lap start",
        "us",
        "long",
        "time",
        0,
        _TS_MAX,
        logical_type="timestamp-micros",
    ),
    _c(_L, "lap_end", "Lap end", "us", "long", "time", 0, _TS_MAX, logical_type="timestamp-micros"),
    _c(_L, "avg_speed_kmh", "Average speed", "km/h", "double", "continuous", 0, 400),
    _c(_L, "max_speed_kmh", "Top speed", "km/h", "double", "continuous", 0, 400),
    _c(_L, "min_speed_kmh", "Minimum speed", "km/h", "double", "continuous", 0, 400),
    _c(_L, "full_throttle_share", "Full throttle", "fraction", "double", "continuous", 0, 1),
    _c(_L, "brake_share", "Braking", "fraction", "double", "continuous", 0, 1),
    _c(_L, "fuel_used_kg", "Fuel used", "kg", "double", "continuous", 0, 10),
    _c(_L, "max_abs_g_lat", "Max lateral g", "g", "double", "continuous", 0, 10),
    _c(_L, "max_g_long", "Max longitudinal g", "g", "double", "continuous", -10, 10),
    _c(_L, "min_g_long", "Min longitudinal g", "g", "double", "continuous", -10, 10),
    _c(_L, "sample_count", "Samples", "none", "long", "discrete", 0, 1_000_000),
    _c(_L, "tyre_compound", "Compound", "none", "string", "discrete", pattern=_COMPOUND),
    _c(_L, "tyre_age_laps", "Tyre age", "laps", "int", "discrete", 0, 200),
    _c(_L, "in_lap", "In-lap", "none", "boolean", "discrete"),
    _c(_L, "out_lap", "Out-lap", "none", "boolean", "discrete"),
    _c(_L, "standing_start", "Standing start", "none", "boolean", "discrete"),
    _c(_L, "pit_stop_s", "Pit stop", "s", "double", "continuous", 0, 600),
)

# What the lap-summary shares count (see their docs): the analytics job uses these.
FULL_THROTTLE_MIN = 0.98
BRAKE_ON_MIN = 0.05

CHANNELS: dict[str, tuple[Channel, ...]] = {
    TELEMETRY: TELEMETRY_CHANNELS,
    LAP_SUMMARY: LAP_SUMMARY_CHANNELS,
}
CHANNELS_BY_NAME: dict[str, dict[str, Channel]] = {
    record: {c.name: c for c in table} for record, table in CHANNELS.items()
}


def channel(name: str, record: str = TELEMETRY) -> Channel:
    """The channel ``name`` of ``record`` (telemetry by default); KeyError names both."""
    try:
        return CHANNELS_BY_NAME[record][name]
    except KeyError:
        raise KeyError(f"no channel {name!r} in record {record!r}") from None


def channels(record: str = TELEMETRY) -> tuple[Channel, ...]:
    """Every channel of ``record`` in schema field order."""
    return CHANNELS[record]


def numeric_channels(record: str = TELEMETRY) -> tuple[Channel, ...]:
    """The measured values of ``record``: numbers that are neither identifiers nor event time."""
    return tuple(c for c in CHANNELS[record] if c.numeric and c.kind in ("continuous", "discrete"))


def tag_names(record: str = TELEMETRY) -> tuple[str, ...]:
    """Fields the InfluxDB sink stores as tags."""
    return tuple(c.name for c in CHANNELS[record] if c.influx_type == "tag")


def influx_types(record: str = TELEMETRY) -> dict[str, InfluxType]:
    """Field name -> how InfluxDB stores it (tag, time, float, integer, boolean)."""
    return {c.name: c.influx_type for c in CHANNELS[record]}


def record_of(full_name: str) -> str | None:
    """Which table describes the Avro record ``full_name`` (``None`` if no table does)."""
    return RECORD_NAMES.get(full_name)


# --- the doc format ------------------------------------------------------------------------

_DOC_RE = re.compile(
    r"^(?P<text>.+?) Unit: (?P<unit>[^ ]+)\. "
    r"(?:Range: (?P<lo>-?[0-9.]+)\.\.(?P<hi>-?[0-9.]+)"
    r"|Values: (?P<values>false\|true)"
    r"|Pattern: (?P<pattern>\S+))\.$"
)


@dataclass(frozen=True, slots=True)
class ParsedDoc:
    text: str
    unit: str
    minimum: float | None
    maximum: float | None
    pattern: str | None


def parse_doc(doc: str) -> ParsedDoc:
    """Split a field doc into description, unit and range; ValueError if it breaks the format."""
    m = _DOC_RE.match(doc)
    if m is None:
        raise ValueError(
            f"doc {doc!r} does not end in 'Unit: <unit>. Range: <min>..<max>.' "
            "(or 'Values: false|true.' / 'Pattern: <regex>.')"
        )
    lo, hi = m["lo"], m["hi"]
    return ParsedDoc(
        text=m["text"],
        unit=m["unit"],
        minimum=float(lo) if lo is not None else None,
        maximum=float(hi) if hi is not None else None,
        pattern=m["pattern"],
    )


def doc_mismatches(schema: dict[str, object], record: str) -> list[str]:
    """How the fields of ``schema`` (parsed ``.avsc`` JSON) disagree with the table of
    ``record``: missing on either side, another Avro or logical type, unit or range."""
    problems: list[str] = []
    table = CHANNELS_BY_NAME[record]
    fields = schema.get("fields", [])
    assert isinstance(fields, list)
    seen = set()
    for f in fields:
        name = f["name"]
        seen.add(name)
        c = table.get(name)
        if c is None:
            problems.append(f"{record}.{name}: in the schema but not in the channel table")
            continue
        ftype = f["type"]
        avro_type = ftype.get("type") if isinstance(ftype, dict) else ftype
        logical = ftype.get("logicalType") if isinstance(ftype, dict) else None
        nullable = False
        if isinstance(ftype, list):  # a nullable field: the non-null branch carries the type
            branches = [b for b in ftype if b != "null"]
            nullable = len(branches) < len(ftype)
            avro_type = branches[0] if len(branches) == 1 else ftype
            if isinstance(avro_type, dict):
                logical = avro_type.get("logicalType")
                avro_type = avro_type.get("type")
        if (avro_type, logical) != (c.avro_type, c.logical_type):
            problems.append(
                f"{record}.{name}: schema type {avro_type} ({logical}) but table says "
                f"{c.avro_type} ({c.logical_type})"
            )
        # A nullable channel is ["null", type] with default null: null first, so that the
        # default (which Avro takes from the first branch) is "not measured".
        null_first = nullable and ftype[0] == "null" and f.get("default", 0) is None
        if c.nullable != nullable or (nullable and not null_first):
            problems.append(
                f"{record}.{name}: schema type {json.dumps(ftype)} but the table says "
                + ('["null", type] with default null' if c.nullable else "not nullable")
            )
        try:
            doc = parse_doc(f.get("doc", ""))
        except ValueError as exc:
            problems.append(f"{record}.{name}: {exc}")
            continue
        if doc.unit != c.unit:
            problems.append(f"{record}.{name}: doc unit {doc.unit!r} but table says {c.unit!r}")
        if (doc.minimum, doc.maximum, doc.pattern) != (c.minimum, c.maximum, c.pattern):
            problems.append(
                f"{record}.{name}: doc range {doc.minimum}..{doc.maximum} / pattern "
                f"{doc.pattern} but table says {c.minimum}..{c.maximum} / {c.pattern}"
            )
    problems.extend(
        f"{record}.{name}: in the channel table but not in the schema"
        for name in table
        if name not in seen
    )
    return problems


def markdown_table(record: str = TELEMETRY) -> str:
    """The channel table of ``record`` as Markdown, as embedded in schemas/README.md."""
    rows = [
        "| field | label | unit | Avro type | range | kind | InfluxDB |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in CHANNELS[record]:
        avro = c.avro_type + (f" ({c.logical_type})" if c.logical_type else "")
        if c.nullable:
            avro += " or null"
        if c.avro_type == "string":
            # A pipe ends a table cell, even inside a code span, unless escaped.
            rng = "`" + str(c.pattern).replace("|", "\\|") + "`"
        elif c.avro_type == "boolean":
            rng = "false, true"
        else:
            rng = f"{format_number(c.minimum)} .. {format_number(c.maximum)}"
        rows.append(
            f"| `{c.name}` | {c.label} | {c.unit} | {avro} | {rng} | {c.kind} | {c.influx_type} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    for rec in RECORDS:
        print(f"### {rec}\n\n{markdown_table(rec)}\n")
