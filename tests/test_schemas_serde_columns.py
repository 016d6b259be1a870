"""Serializer.encode_columns: byte for byte what fastavro writes, and the same refusals."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest
from fastavro import parse_schema, schemaless_writer

from circuit import silverstone
from producer.simulation import Simulation, to_records
from schemas.serde import Deserializer, Serializer, frame, load_schema
from schemas.serde_errors import RecordError
from tests.avro_samples import (
    PRIMITIVES,
    primitive_columns,
    with_race_columns,
    with_race_fields,
)
from tests.fakes import FakeRegistry

TELEMETRY = load_schema("telemetry")


def fastavro_bytes(schema: dict[str, Any], schema_id: int, columns: dict[str, Any]) -> list[bytes]:
    """The reference: each row through fastavro's own writer, framed."""
    plain = json.loads(json.dumps(schema).replace('"logicalType"', '"_lt"'))
    parsed = parse_schema(plain)
    names = list(columns)
    lists = [c.tolist() if isinstance(c, np.ndarray) else list(c) for c in columns.values()]
    out = []
    for row in zip(*lists, strict=True):
        buf = io.BytesIO()
        schemaless_writer(buf, parsed, dict(zip(names, row, strict=True)))
        out.append(frame(schema_id, buf.getvalue()))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_primitives_are_byte_identical_to_fastavro(seed: int) -> None:
    columns = primitive_columns(np.random.default_rng(seed), 500)
    ser = Serializer(42, PRIMITIVES)
    ser.prepare_columns()
    assert ser.encode_columns(columns) == fastavro_bytes(PRIMITIVES, 42, columns)
    # Again with the strings cached, and as a batch of one row.
    assert ser.encode_columns(columns) == fastavro_bytes(PRIMITIVES, 42, columns)
    one = {name: col[:1] for name, col in columns.items()}
    assert ser.encode_columns(one) == fastavro_bytes(PRIMITIVES, 42, one)


def test_uniform_rows_and_ragged_rows_agree_with_fastavro() -> None:
    rows = 64
    base = {
        "s": ["abc"] * rows,
        "t": ["de"] * rows,
        "i": np.full(rows, 5),
        "l": np.full(rows, 2**40),
        "ts": np.full(rows, 1_751_814_000_000_000) + np.arange(rows),
        "f": np.linspace(-1, 1, rows),
        "d": np.linspace(-1e9, 1e9, rows),
        "b": np.arange(rows) % 2 == 0,
        "u": ["x"] * rows,
    }
    ser = Serializer(1, PRIMITIVES)
    uniform = ser.encode_columns(base)
    assert len({len(v) for v in uniform}) == 1
    assert uniform == fastavro_bytes(PRIMITIVES, 1, base)
    ragged = dict(base, i=np.arange(rows) * 37 - 1000, l=np.arange(rows) ** 9)
    assert ser.encode_columns(ragged) == fastavro_bytes(PRIMITIVES, 1, ragged)


def test_rows_ending_in_a_zero_byte_keep_it() -> None:
    # A record whose last field is false, 0 or "" ends in a zero byte, which numpy's bytes
    # type would drop: such batches are cut row by row.
    schema = PRIMITIVES | {"fields": [*PRIMITIVES["fields"][:3], {"name": "z", "type": "int"}]}
    rows = 40
    base = {"s": ["a"] * rows, "t": ["b"] * rows, "i": np.full(rows, 7), "z": np.arange(rows) % 3}
    ser = Serializer(3, schema)
    ragged = dict(base, i=np.arange(rows) * 999)
    for batch in (base, ragged, dict(ragged, z=np.ones(rows, dtype=np.int64))):
        assert ser.encode_columns(batch) == fastavro_bytes(schema, 3, batch)


def test_repeated_string_columns_are_encoded_as_they_are_now() -> None:
    rng = np.random.default_rng(4)
    columns = primitive_columns(rng, 50)
    columns["t"] = np.array(columns["t"], dtype=object)
    ser = Serializer(1, PRIMITIVES)
    assert ser.encode_columns(columns) == fastavro_bytes(PRIMITIVES, 1, columns)
    columns["s"][3] = "changed in place"  # the same array object, another value
    assert ser.encode_columns(columns) == fastavro_bytes(PRIMITIVES, 1, columns)
    for name in ("s", "t", "u"):  # read-only arrays that own their data, passed again
        columns[name] = columns[name].copy()
        columns[name].flags.writeable = False
    for _ in range(2):
        assert ser.encode_columns(columns) == fastavro_bytes(PRIMITIVES, 1, columns)


def test_other_integer_and_float_dtypes() -> None:
    rows = 20
    columns = {
        "s": ["a"] * rows,
        "t": ["b"] * rows,
        "i": np.arange(rows, dtype=np.int8) - 10,
        "l": np.arange(rows, dtype=np.uint32) * 1_000_000_007,
        "ts": np.arange(rows, dtype=np.uint64),
        "f": (np.arange(rows) * 33_554_431).astype(np.int64),  # ints into a float field
        "d": np.arange(rows, dtype=np.float32) / 3,
        "b": np.ones(rows, dtype=bool),
        "u": ["c"] * rows,
    }
    ser = Serializer(9, PRIMITIVES)
    assert ser.encode_columns(columns) == fastavro_bytes(PRIMITIVES, 9, columns)


def test_simulated_telemetry_is_byte_identical_and_round_trips() -> None:
    sim = Simulation(silverstone(), n_cars=20, seed=3, drs_enabled=True)
    sim.step_block(200)
    batch = with_race_columns(sim.step_block(50))
    ser = Serializer(7, TELEMETRY)
    values = ser.encode_columns(batch)
    records = with_race_fields(to_records(batch))
    assert values == [ser.encode(r) for r in records]
    de = Deserializer(FakeRegistry({7: TELEMETRY}), TELEMETRY)
    decoded = [de.decode(v) for v in values]
    for got, want in zip(decoded, records, strict=True):
        for name, value in want.items():
            if TELEMETRY_TYPES[name] == "float":
                assert got[name] == float(np.float32(value)), name
            else:
                assert got[name] == value, name


def _type_name(avro_type: Any) -> str:
    if isinstance(avro_type, list):  # ["null", type]: a nullable channel
        return _type_name(avro_type[-1])
    return avro_type if isinstance(avro_type, str) else avro_type["type"]


TELEMETRY_TYPES = {f["name"]: _type_name(f["type"]) for f in TELEMETRY["fields"]}


def telemetry_batch(rows: int = 40) -> dict[str, np.ndarray]:
    sim = Simulation(silverstone(), n_cars=rows // 2, seed=1)
    return with_race_columns(sim.step_block(2))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("speed_kmh", 512.0, "out of range"),
        ("speed_kmh", np.nan, "not a number"),
        ("lap", 0, "out of range"),
        ("timestamp", -1, "out of range"),
        ("throttle", np.inf, "out of range"),
        ("lap_distance_m", -2000.5, "out of range"),
        ("tyre_age_laps", 201, "out of range"),
        ("pit_stops", -1, "out of range"),
    ],
)
def test_bad_values_are_refused_naming_the_field(field: str, value: Any, message: str) -> None:
    batch = dict(telemetry_batch())
    column = batch[field].copy()
    column[7] = value
    batch[field] = column
    with pytest.raises(RecordError, match=message) as info:
        Serializer(1, TELEMETRY).encode_columns(batch)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("field", "column", "message"),
    [
        ("driver", ["ham"] * 40, "does not match"),
        ("car_id", ["car 1"] * 40, "does not match"),
        ("session_id", [3] * 40, "expected string"),
        ("lap", np.ones(40), "expected integers"),
        ("drs", np.ones(40, dtype=np.int64), "expected booleans"),
        ("rpm", np.array(["1"] * 40), "expected numbers"),
        ("tyre_compound", ["soft"] * 39 + ["ultrasoft"], "does not match"),
        ("pit_status", np.array(["none"] * 39 + ["PIT"], dtype=object), "does not match"),
        ("tyre_age_laps", np.ones(40), "expected integers"),
    ],
)
def test_wrong_types_and_patterns_are_refused(field: str, column: Any, message: str) -> None:
    batch = dict(telemetry_batch(), **{field: column})
    with pytest.raises(RecordError, match=message) as info:
        Serializer(1, TELEMETRY).encode_columns(batch)
    assert info.value.field == field


def test_a_string_refused_once_is_refused_again() -> None:
    ser = Serializer(1, TELEMETRY)
    batch = dict(telemetry_batch(), driver=["ham"] * 40)
    for _ in range(2):
        with pytest.raises(RecordError, match="does not match"):
            ser.encode_columns(batch)
    # Without validation the type is still checked, the pattern is not.
    assert len(ser.encode_columns(batch, validate=False)) == 40
    with pytest.raises(RecordError, match="expected string"):
        ser.encode_columns(dict(batch, driver=[None] * 40), validate=False)


def test_shape_problems_are_refused() -> None:
    ser = Serializer(1, TELEMETRY)
    batch = telemetry_batch()
    with pytest.raises(RecordError, match="unknown column"):
        ser.encode_columns(dict(batch, extra=np.zeros(40)))
    with pytest.raises(RecordError, match="different lengths"):
        ser.encode_columns(dict(batch, gear=batch["gear"][:-1]))
    with pytest.raises(RecordError, match="missing"):
        ser.encode_columns({k: v for k, v in batch.items() if k != "gear"})
    too_big = dict(primitive_columns(np.random.default_rng(0), 9), l=np.full(9, 2**63, np.uint64))
    with pytest.raises(RecordError, match="out of range"):
        Serializer(1, PRIMITIVES).encode_columns(too_big)
    with pytest.raises(RecordError, match="beyond the long range"):
        Serializer(1, PRIMITIVES).encode_columns(too_big, validate=False)
    assert ser.encode_columns({name: batch[name][:0] for name in batch}) == []


def test_schemas_it_cannot_vectorise_fall_back_to_fastavro() -> None:
    schema = {
        "type": "record",
        "name": "WithUnion",
        "namespace": "io.test",
        "fields": [
            {"name": "a", "type": "long"},
            {"name": "b", "type": ["null", "string"], "default": None},
            {"name": "c", "type": {"type": "array", "items": "int"}},
        ],
    }
    columns = {"a": np.array([1, -2, 3]), "b": [None, "x", "yy"], "c": [[1], [], [2, 3]]}
    ser = Serializer(5, schema)
    ser.prepare_columns()
    assert ser.encode_columns(columns) == fastavro_bytes(schema, 5, columns)
    # A batch without a field that has a default: encoded record by record, default written.
    partial = Serializer(5, PRIMITIVES | {"fields": [*PRIMITIVES["fields"][:2]]})
    assert partial.encode_columns({"s": ["a"], "t": ["b"]}) == fastavro_bytes(
        PRIMITIVES | {"fields": [*PRIMITIVES["fields"][:2]]}, 5, {"s": ["a"], "t": ["b"]}
    )


NULLABLE = {
    "type": "record",
    "name": "Nullable",
    "namespace": "io.test",
    "fields": [
        {"name": "s", "type": "string"},
        {"name": "a", "type": ["null", "float"], "default": None},
        {"name": "n", "type": ["null", "long"], "default": None},
        {"name": "c", "type": ["null", "string"], "default": None},
        {"name": "t", "type": "string", "default": "dflt"},
        {"name": "b", "type": ["null", "boolean"], "default": None},
        {"name": "d", "type": ["null", "double"], "default": None},
        {"name": "k", "type": "int", "default": 3},
        {"name": "u", "type": ["null", "string"], "default": None},
    ],
}


def _nullable_batches(rows: int = 9) -> list[dict[str, Any]]:
    with_nulls = {
        "s": ["x"] * rows,
        "a": [None, 1.5, None, 2.0, 3.0, None, 4.0, -1.0, None][:rows],
        "n": [None, 1, 2**40, None, -5, 6, None, 0, -(2**62)][:rows],
        "c": [None, "a", "bb", None, "c", "", None, "Ü", "d"][:rows],
        "t": ["q"] * rows,
        "b": [None, True, False, None, True, None, False, True, True][:rows],
        "d": [1.0, None, 2.0, None, 3.0, None, None, 1e300, -0.0][:rows],
        "k": np.arange(rows),
        "u": ["z"] * rows,
    }
    return [
        # Typed columns: every row has a value.
        {
            "s": ["x"] * rows,
            "a": np.linspace(0, 1, rows).astype(np.float32),
            "n": np.arange(rows) * 1000,
            "c": ["hi"] * rows,
            "t": ["q"] * rows,
            "b": np.arange(rows) % 2 == 0,
            "d": np.linspace(-5, 5, rows),
            "k": np.arange(rows),
            "u": np.array(["z"] * rows, dtype=object),
        },
        with_nulls,
        {**with_nulls, "a": np.array(with_nulls["a"], dtype=object)},  # an object column
        {name: [None] * rows if name in "ancbdu" else col for name, col in with_nulls.items()},
        {"s": ["x"] * rows},  # every field with a default left out
        {"s": ["x"] * rows, "c": ["hi"] * rows},  # "t" left out, "c" given: one run
    ]


@pytest.mark.parametrize("case", range(6))
def test_nullable_fields_and_left_out_defaults_are_byte_identical_to_fastavro(
    case: int, monkeypatch
) -> None:
    columns = _nullable_batches()[case]
    ser = Serializer(3, NULLABLE)
    ser.prepare_columns()

    def per_record(*_args: Any) -> list[bytes]:
        raise AssertionError("a flat schema with nullable fields is encoded with numpy")

    assert ser._columns is not None
    monkeypatch.setattr(ser._columns, "_per_record", per_record)
    every = {f["name"]: columns.get(f["name"], [f.get("default")] * 9) for f in NULLABLE["fields"]}
    assert ser.encode_columns(columns) == fastavro_bytes(NULLABLE, 3, every)
    assert ser.encode_columns(columns) == fastavro_bytes(NULLABLE, 3, every)  # cached strings


def test_nullable_columns_are_checked_between_their_nulls() -> None:
    schema = load_schema("telemetry")
    batch = dict(telemetry_batch())
    temps = [None] * 40
    temps[5] = 2500.0
    with pytest.raises(RecordError, match=r"out of range -50\.\.2000 degC") as info:
        Serializer(1, schema).encode_columns({**batch, "brake_temp_fl_c": temps})
    assert info.value.field == "brake_temp_fl_c"
    modes = ["none"] * 39 + ["boost"]
    with pytest.raises(RecordError, match="does not match"):
        Serializer(1, schema).encode_columns({**batch, "ers_deploy_mode": modes})
    # Nulls and values in range: fine; the simulator's batch leaves the game channels out.
    temps[5] = 1000.0
    assert len(Serializer(1, schema).encode_columns({**batch, "brake_temp_fl_c": temps})) == 40
    assert len(Serializer(1, schema).encode_columns(batch)) == 40
