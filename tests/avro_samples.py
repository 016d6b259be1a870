"""Avro sample data shared by the serializer and decoder tests: a record of every primitive
type, columns of it that start with each type's edge values, telemetry v2's fields for
simulated records, and telemetry v3's game channels for some of them."""

from __future__ import annotations

from typing import Any

import numpy as np

from schemas.channels import ERS_DEPLOY_MODES, TELEMETRY, WHEELS, channels

# Not in the channel table: only the Avro types' own bounds apply, so edge values get through.
PRIMITIVES = {
    "type": "record",
    "name": "Primitives",
    "namespace": "io.test",
    "fields": [
        {"name": "s", "type": "string"},
        {"name": "t", "type": "string"},
        {"name": "i", "type": "int"},
        {"name": "l", "type": "long"},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "f", "type": "float"},
        {"name": "d", "type": "double"},
        {"name": "b", "type": "boolean"},
        {"name": "u", "type": "string"},
    ],
}


def primitive_columns(rng: np.random.Generator, rows: int) -> dict[str, Any]:
    """``rows`` rows of :data:`PRIMITIVES`: each type's edge values first, then random ones."""
    strings = ["", "a", "car-01", "Ünïcødé ✓", "🏎️ fast", "x" * 63, "y" * 64, "z" * 300, "\x00"]
    i32 = np.iinfo(np.int32)
    i64 = np.iinfo(np.int64)
    ints = np.concatenate(
        [
            [0, -1, 1, 63, -64, 64, -65, i32.min, i32.max],
            rng.integers(i32.min, i32.max, rows, endpoint=True),
        ]
    )[:rows]
    longs = np.concatenate(
        [
            [0, -1, i64.min, i64.max, 2**35, -(2**35), 2**56 - 1, 2**56, -(2**56)],
            rng.integers(i64.min, i64.max, rows, endpoint=True),
        ]
    )[:rows]
    floats = rng.normal(0, 1e6, rows)
    floats[:8] = [0.0, -0.0, np.nan, np.inf, -np.inf, 3.4028236e38, 1e-46, 2**25 + 1]
    doubles = rng.normal(0, 1e12, rows)
    doubles[:5] = [np.nan, -0.0, np.inf, 5e-324, -1.7976931348623157e308]
    return {
        "s": np.array([strings[k] for k in rng.integers(0, len(strings), rows)], dtype=object),
        "t": [strings[k] for k in rng.integers(0, 3, rows)],
        "i": ints.astype(np.int64),
        "l": longs.astype(np.int64),
        "ts": rng.integers(0, 4_102_444_800_000_000, rows),
        "f": floats,
        "d": doubles,
        "b": rng.random(rows) < 0.5,
        "u": np.array(["session-1"] * rows, dtype=object),
    }


# Telemetry v2's fields with a race car's values, for batches and records of a simulator that
# does not fill them (yet): the values vary by row, so the strings have several lengths.
_RACE_VALUES: dict[str, tuple[Any, ...]] = {
    "session_kind": ("race",),
    "tyre_compound": ("soft", "medium", "hard"),
    "tyre_age_laps": (0, 3, 17, 41),
    "pit_status": ("none", "none", "none", "pit_lane", "pit_stop"),
    "pit_stops": (0, 1, 2),
    "car_status": ("running", "running", "finished"),
}


def with_race_columns(batch: dict[str, Any]) -> dict[str, Any]:
    """A telemetry column batch with every field telemetry v2 added: the batch's own where it
    has them, else values of a race car."""
    rows = len(batch["car_id"])
    out = dict(batch)
    for name, values in _RACE_VALUES.items():
        if name not in out:
            dtype = np.int64 if isinstance(values[0], int) else object
            out[name] = np.array(values, dtype=dtype)[np.arange(rows) % len(values)]
    return out


def with_race_fields(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Telemetry records with every field telemetry v2 added (as :func:`with_race_columns`)."""
    return [
        {**{n: v[i % len(v)] for n, v in _RACE_VALUES.items()}, **r} for i, r in enumerate(records)
    ]


# Telemetry v3's game channels (null when not measured) with a game car's values, varied by row.
GAME_CHANNELS = tuple(c.name for c in channels(TELEMETRY) if c.nullable)


def game_values(i: int) -> dict[str, Any]:
    """The game channels of a game car's ``i``-th record."""
    values: dict[str, Any] = {"z_m": 5.0 + 0.25 * (i % 7)}
    for k, wheel in enumerate(WHEELS):
        values[f"tyre_surface_temp_{wheel}_c"] = 80.0 + k + i % 5
        values[f"tyre_inner_temp_{wheel}_c"] = 95.0 + k + i % 3
        values[f"brake_temp_{wheel}_c"] = 300.0 + 50 * k + i % 11
        values[f"tyre_pressure_{wheel}_psi"] = 22.5 + 0.5 * k + 0.125 * (i % 2)
    values["engine_temp_c"] = 110.0 + i % 4
    values["ers_store_mj"] = 4.0 - 0.25 * (i % 9)
    values["ers_deploy_mode"] = ERS_DEPLOY_MODES[i % len(ERS_DEPLOY_MODES)]
    return values


def with_game_fields(records: list[dict[str, Any]], every: int = 2) -> list[dict[str, Any]]:
    """Telemetry records of which every ``every``-th has the game channels (the others leave
    them out: null, not measured)."""
    return [{**r, **game_values(i)} if i % every == 0 else r for i, r in enumerate(records)]
