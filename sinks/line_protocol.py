"""Records to InfluxDB line protocol, with tags and field types taken from the channel table.

Point identity is measurement + tag set + timestamp, so a replayed record lands on the same
key and overwrites itself instead of adding a point.

Tags are ``session_id``, ``car_id`` and ``driver`` (the table's identifiers). ``driver`` is
one-to-one with the car within a session, so it adds no series; ``lap`` is an integer *field*,
not a tag: as a tag it would multiply the series by the laps (20 cars x 60 laps x 20 fields
= 24,000 short series per session instead of 400), and a lap is a contiguous time range of one
car's series anyway, which is what the history queries select on (see ``sinks.history``).

Doubles are written with ``repr`` (the shortest text that reads back as the same double) and
Avro ``float`` channels with 9 significant digits (all a float32 holds), so a value read back
from InfluxDB is exactly the double that was sent, or rounds to exactly the float32 that was
sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from schemas.channels import LAP_SUMMARY, TELEMETRY, channels

TELEMETRY_MEASUREMENT = "telemetry"
LAPS_MEASUREMENT = "laps"

# Which field is the point's timestamp. A lap summary is stamped at the end of its lap (one
# per car per lap, so the key is unique); lap_start stays an integer field (µs).
TIME_FIELD = {TELEMETRY: "timestamp", LAP_SUMMARY: "lap_end"}
MEASUREMENT = {TELEMETRY: TELEMETRY_MEASUREMENT, LAP_SUMMARY: LAPS_MEASUREMENT}

# Tag values: comma, equals sign and space need a backslash (and the backslash itself).
# Distinct tag combinations remembered by an encoder (sessions x cars); cleared when full.
MAX_CACHED_SERIES = 10_000

_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\\": "\\\\"})


def escape_tag(value: str) -> str:
    return value.translate(_TAG_ESCAPES)


def _field_expr(name: str, influx_type: str, avro_type: str) -> str:
    """A Python expression (inside an f-string) that renders field ``name`` of record ``r``."""
    if influx_type == "float" and avro_type == "float":
        # A 32-bit float needs 9 significant digits to read back as the same float32, and
        # they cost half what repr() of its double costs on the sink's busiest line.
        return f"{name}={{r[{name!r}]:.9g}}"
    if influx_type == "float":
        return f"{name}={{r[{name!r}]!r}}"  # repr of a double: the shortest exact text
    if influx_type in ("integer", "time"):  # a time that is not the point's timestamp: µs
        return f"{name}={{r[{name!r}]}}i"
    if influx_type == "boolean":
        return f"{name}={{'true' if r[{name!r}] else 'false'}}"
    raise ValueError(f"no line protocol field type for {influx_type!r}")


def line_encoder(record: str = TELEMETRY) -> Callable[[Mapping[str, Any]], str]:
    """A function turning one decoded record of ``record`` into one line of line protocol.

    The function is generated once from the channel table (one f-string), because the sink
    encodes every point it stores and a loop over 20 fields per record costs several times more.
    """
    time_field = TIME_FIELD[record]
    tag_names: list[str] = []
    fields: list[str] = []
    for c in channels(record):
        kind = c.influx_type
        if kind == "tag":
            tag_names.append(c.name)
        elif c.name != time_field:
            fields.append(_field_expr(c.name, "integer" if kind == "time" else kind, c.avro_type))
    measurement = MEASUREMENT[record]
    # The series key (measurement and escaped tags) repeats for every sample of a car: build
    # it once per tag combination and look it up, instead of escaping three tags per point.
    heads: dict[tuple[str, ...], str] = {}

    def head(key: tuple[str, ...]) -> str:
        if len(heads) >= MAX_CACHED_SERIES:
            heads.clear()
        tags = ",".join(f"{n}={escape_tag(v)}" for n, v in zip(tag_names, key, strict=True))
        heads[key] = text = f"{measurement},{tags}"
        return text

    key = ", ".join(f"r[{n!r}]" for n in tag_names)
    template = f"{{h}} {','.join(fields)} {{r[{time_field!r}]}}"
    source = (
        "def encode(r):\n"
        f"    key = ({key},)\n"
        "    h = _heads.get(key) or _head(key)\n"
        f"    return f{template!r}\n"
    )
    namespace: dict[str, Any] = {"_heads": heads, "_head": head}
    exec(compile(source, f"<line encoder {record}>", "exec"), namespace)
    encode: Callable[[Mapping[str, Any]], str] = namespace["encode"]
    return encode


def point_time(record: str, values: Mapping[str, Any]) -> int:
    """The point timestamp (µs) of a decoded record."""
    return int(values[TIME_FIELD[record]])
