"""ColumnDecoder.decode_columns: the values fastavro decodes, and for every record it cannot
take, the record or DecodeError that Deserializer.decode gives it."""

from __future__ import annotations

import io
import json
import math
import re
import struct
from typing import Any

import numpy as np
import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from circuit import silverstone
from producer.simulation import Simulation, to_records
from runtime.errors import InfrastructureError
from schemas.columnar import decoder as column_decoder
from schemas.columnar.decoder import ColumnDecoder, DecodedColumns
from schemas.evolution import sample_records
from schemas.serde import Deserializer, Serializer, frame, load_schema
from schemas.serde_errors import DecodeError
from schemas.topics import HISTORY_DIR
from tests import avro_samples
from tests.avro_samples import PRIMITIVES, with_game_fields, with_race_fields
from tests.fakes import FakeRegistry

TELEMETRY = load_schema("telemetry")
LAP_SUMMARY = load_schema("lap_summary")
TELEMETRY_V1 = load_schema(HISTORY_DIR / "telemetry.v1.avsc")
TELEMETRY_V2 = load_schema(HISTORY_DIR / "telemetry.v2.avsc")


def decoders(
    schemas: dict[int, dict[str, Any]], reader: dict[str, Any], validate: bool = True
) -> tuple[ColumnDecoder, Deserializer]:
    """The decoder under test and the per-record reference, each with its own caches."""
    columns = ColumnDecoder(Deserializer(FakeRegistry(schemas), reader, validate=validate))
    return columns, Deserializer(FakeRegistry(schemas), reader, validate=validate)


def same_value(got: Any, want: Any) -> bool:
    if isinstance(want, float):
        if math.isnan(want):
            return math.isnan(got)
        return got == want and math.copysign(1, got) == math.copysign(1, want)
    return type(got) is type(want) and got == want


def assert_like_each_record(
    decoded: DecodedColumns, reference: Deserializer, values: list[bytes]
) -> None:
    """Every value: decoded with the same fields as Deserializer.decode gives, or refused with
    the same error type, reason and message."""
    rows = decoded.rows.tolist()
    errors = dict(decoded.errors)
    assert rows == sorted(rows) and [i for i, _ in decoded.errors] == sorted(errors)
    assert sorted(rows + list(errors)) == list(range(len(values)))
    position = {row: k for k, row in enumerate(rows)}
    for name, (codes, distinct) in decoded.codes.items():
        assert distinct.take(codes).tolist() == decoded.columns[name].tolist()
    for i, value in enumerate(values):
        try:
            want = reference.decode(value)
        except DecodeError as exc:
            got = errors.get(i)
            assert got is not None, f"row {i} decoded, but on its own: {exc!r}"
            assert (type(got), got.reason) == (type(exc), exc.reason)
            assert _message(got) == _message(exc)
            continue
        assert i in position, f"row {i} refused: {errors.get(i)!r}"
        for name, value_wanted in want.items():
            (got_value,) = decoded.columns[name][position[i] : position[i] + 1].tolist()
            if value_wanted is None:  # a null: the column's placeholder, the row absent
                assert decoded.absent[name][position[i]], (i, name)
                assert same_null(got_value, decoded.columns[name].dtype), (i, name, got_value)
                continue
            assert same_value(got_value, value_wanted), (i, name, got_value, value_wanted)


def same_null(got: Any, dtype: np.dtype) -> bool:
    """Whether ``got`` is the placeholder a column of ``dtype`` holds for a null."""
    if dtype.kind == "f":
        return math.isnan(got)
    return got == {"i": 0, "b": False}.get(dtype.kind) if dtype.kind in "ib" else got is None


def _message(exc: DecodeError) -> str:
    """The error's text without the object addresses fastavro puts in some."""
    return re.sub(r" at 0x[0-9a-f]+", "", str(exc))


def fastavro_records(schema: dict[str, Any], values: list[bytes]) -> list[dict[str, Any]]:
    plain = json.loads(json.dumps(schema).replace('"logicalType"', '"_lt"'))
    parsed = parse_schema(plain)
    return [schemaless_reader(io.BytesIO(v[5:]), parsed, None) for v in values]


def simulated(rows_per_car: int = 30, cars: int = 20, seed: int = 3) -> list[dict[str, Any]]:
    sim = Simulation(silverstone(), n_cars=cars, seed=seed, drs_enabled=True)
    sim.step_block(200)
    records = with_game_fields(with_race_fields(to_records(sim.step_block(rows_per_car))))
    for r in records:
        r["steering"] = max(-1.0, min(1.0, -r["steering"] / 180.0))
    return records


def primitive_columns(rng: np.random.Generator, rows: int) -> dict[str, Any]:
    """The encoder tests' edge values, with longs at the edges of nine-byte varints too."""
    columns = avro_samples.primitive_columns(rng, rows)
    edges = [2**62 - 1, -(2**62), 2**62, -(2**62) - 1]
    columns["l"] = np.concatenate([columns["l"][:9], edges, columns["l"][9:]])[:rows]
    return columns


# --- the values: as fastavro decodes them ----------------------------------------------------


def test_simulated_telemetry_decodes_to_fastavros_values_in_the_contracts_dtypes() -> None:
    records = simulated()
    values = [Serializer(7, TELEMETRY).encode(r) for r in records]
    columns, reference = decoders({7: TELEMETRY}, TELEMETRY)
    decoded = columns.decode_columns(values)
    assert decoded.errors == [] and decoded.rows.tolist() == list(range(len(values)))
    want = fastavro_records(TELEMETRY, values)
    for name, column in decoded.columns.items():
        assert column.dtype == column_decoder.COLUMN_DTYPES[columns.types[name]], name
        for got, w in zip(column.tolist(), want, strict=True):
            assert same_value(got, w[name]) or w[name] is None, (name, got, w[name])
    # The game channels: null in every other record (the simulator's), marked absent there.
    assert decoded.absent["z_m"].tolist() == [i % 2 == 1 for i in range(len(values))]
    assert_like_each_record(decoded, reference, values)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_primitive_type_at_its_edges_decodes_as_fastavro_does(seed: int) -> None:
    columns_in = primitive_columns(np.random.default_rng(seed), 400)
    values = Serializer(42, PRIMITIVES).encode_columns(columns_in)
    columns, reference = decoders({42: PRIMITIVES}, PRIMITIVES)
    for _ in range(2):  # again with the strings known
        decoded = columns.decode_columns(values)
        assert decoded.errors == []
        want = fastavro_records(PRIMITIVES, values)
        for name, column in decoded.columns.items():
            for k, (got, w) in enumerate(zip(column.tolist(), want, strict=True)):
                assert same_value(got, w[name]), (k, name, got, w[name])
        assert_like_each_record(decoded, reference, values)


def test_booleans_are_true_for_any_nonzero_byte_and_varints_may_be_long() -> None:
    schema = {
        "type": "record",
        "name": "B",
        "fields": [{"name": "b", "type": "boolean"}, {"name": "n", "type": "long"}],
    }
    bodies = [
        b"\x00\x02",
        b"\x01\x02",
        b"\x02\x02",
        b"\xff\x02",
        b"\x01\x82\x00",
        b"\x00\x80\x80\x00",
    ]
    values = [frame(5, body) for body in bodies]
    columns, reference = decoders({5: schema}, schema)
    decoded = columns.decode_columns(values)
    assert decoded.columns["b"].tolist() == [False, True, True, True, True, False]
    assert decoded.columns["n"].tolist() == [1, 1, 1, 1, 1, 0]
    assert_like_each_record(decoded, reference, values)


def test_a_hash_collision_of_strings_only_costs_speed(monkeypatch) -> None:
    monkeypatch.setattr(column_decoder, "_HASH_MULTIPLIER", np.uint64(0))
    records = simulated(rows_per_car=5)
    values = [Serializer(7, TELEMETRY).encode(r) for r in records]
    columns, reference = decoders({7: TELEMETRY}, TELEMETRY)
    decoded = columns.decode_columns(values)
    assert len(decoded) == len(values)
    assert_like_each_record(decoded, reference, values)


# --- framing, schema ids and versions ---------------------------------------------------------


def test_the_writer_schema_id_in_each_header_is_used() -> None:
    """Two ids of the same fields (one with other docs) take the numpy path together; the
    order of the batch is kept."""
    other_docs = json.loads(json.dumps(TELEMETRY))
    for f in other_docs["fields"]:
        f.pop("doc", None)
    records = simulated(rows_per_car=4)
    values = [Serializer(7 if i % 3 else 8, TELEMETRY).encode(r) for i, r in enumerate(records)]
    columns, reference = decoders({7: TELEMETRY, 8: other_docs}, TELEMETRY)
    decoded = columns.decode_columns(values)
    assert decoded.rows.tolist() == list(range(len(values)))
    assert decoded.columns["timestamp"].tolist() == [r["timestamp"] for r in records]
    assert columns._ids == {7: True, 8: True}
    assert_like_each_record(decoded, reference, values)


def test_records_of_other_schema_versions_are_resolved_in_batch_order() -> None:
    reader = json.loads(json.dumps(PRIMITIVES))
    reader["fields"].append({"name": "n", "type": "long", "default": -7})
    older = PRIMITIVES  # without n: the reader's first fields (numpy), n the default
    newer = json.loads(json.dumps(reader))
    newer["fields"].insert(2, {"name": "extra", "type": "double"})  # dropped by the reader
    promoted = json.loads(json.dumps(reader))
    promoted["fields"][-1]["type"] = "int"  # int written, long read
    cols = primitive_columns(np.random.default_rng(5), 60)
    current = Serializer(1, reader).encode_columns({**cols, "n": np.arange(60)})
    old = Serializer(2, older).encode_columns(cols)
    new = Serializer(3, newer).encode_columns({**cols, "n": np.arange(60), "extra": np.ones(60)})
    prom = Serializer(4, promoted).encode_columns({**cols, "n": np.arange(60)})
    values = [[current, old, new, prom][i % 4][i] for i in range(60)]
    columns, reference = decoders({1: reader, 2: older, 3: newer, 4: promoted}, reader)
    decoded = columns.decode_columns(values)
    assert decoded.errors == [] and decoded.rows.tolist() == list(range(60))
    assert decoded.columns["n"].tolist() == [i if i % 4 != 1 else -7 for i in range(60)]
    # The others one by one: a field inserted, a type promoted.
    assert columns._ids == {1: True, 2: True, 3: False, 4: False}
    assert decoded.absent["n"].tolist() == [i % 4 == 1 for i in range(60)]
    assert_like_each_record(decoded, reference, values)


def test_lap_summaries_of_every_released_version_decode() -> None:
    released = {10 + n: load_schema(HISTORY_DIR / f"lap_summary.v{n}.avsc") for n in (1, 2, 3)}
    values = [
        Serializer(schema_id, schema).encode(record)
        for _ in range(5)
        for schema_id, schema in released.items()
        for record in sample_records(schema)
    ]
    columns, reference = decoders(released, LAP_SUMMARY)
    decoded = columns.decode_columns(values)
    assert len(decoded) == len(values) and decoded.errors == []
    # v3 is the reader's own layout; v1 and v2 are its first fields, the six added since get
    # their defaults: all three with numpy.
    assert columns._ids == {11: True, 12: True, 13: True}
    assert decoded.columns["tyre_compound"].tolist()[:3] == ["unknown"] * 3
    assert decoded.columns["in_lap"].tolist()[:3] == [False] * 3
    assert decoded.absent["pit_stop_s"].tolist() == [i % 9 < 6 for i in range(len(values))]
    assert_like_each_record(decoded, reference, values)


def test_telemetry_v1_v2_and_v3_in_one_batch_decode_with_numpy_as_one_by_one() -> None:
    # A topic during the upgrades: records of v1, v2 and v3 writers interleaved, some
    # broken; of the v3 ones, half with the game channels and half with them null.
    records = simulated(rows_per_car=3)
    v1_names = [f["name"] for f in TELEMETRY_V1["fields"]]
    v2_names = [f["name"] for f in TELEMETRY_V2["fields"]]
    writers = [
        lambda r: Serializer(5, TELEMETRY_V1).encode({k: r[k] for k in v1_names}),
        lambda r: Serializer(6, TELEMETRY_V2).encode({k: r[k] for k in v2_names}),
        lambda r: Serializer(7, TELEMETRY).encode(r),
    ]
    values = [writers[i % 3](r) for i, r in enumerate(records)]
    values[3] = values[3][:-2]  # a truncated v1 record
    values[4] = values[4][:20]  # a truncated v2 record
    values[8] = values[8][:-3]  # a truncated v3 record (with the game channels)
    schemas = {5: TELEMETRY_V1, 6: TELEMETRY_V2, 7: TELEMETRY}
    columns, reference = decoders(schemas, TELEMETRY)
    for _ in range(2):  # the second time with every id known
        decoded = columns.decode_columns(values)
        assert [i for i, _ in decoded.errors] == [3, 4, 8]
        assert columns._ids == {5: True, 6: True, 7: True}
        assert_like_each_record(decoded, reference, values)
        rows = decoded.rows.tolist()
        v1_rows = [i % 3 == 0 for i in rows]
        assert decoded.absent["tyre_compound"].tolist() == v1_rows
        compounds = decoded.columns["tyre_compound"].tolist()
        assert {c for c, old in zip(compounds, v1_rows, strict=True) if old} == {"unknown"}
        # The game channels: absent from v1 and v2 records and from the v3 ones that hold
        # null; the others as measured.
        measured = [i % 3 == 2 and i % 2 == 0 for i in rows]
        assert decoded.absent["brake_temp_rr_c"].tolist() == [not m for m in measured]
        temps = decoded.columns["brake_temp_rr_c"][np.array(measured)]
        assert temps.dtype == np.float32 and not np.isnan(temps).any()


def test_a_reader_schema_that_is_not_flat_is_decoded_record_by_record() -> None:
    schema = {
        "type": "record",
        "name": "N",
        "fields": [
            {"name": "a", "type": ["null", "string"]},
            {"name": "c", "type": {"type": "array", "items": "int"}},
            {"name": "n", "type": ["null", "long"]},
        ],
    }
    values = [
        Serializer(3, schema).encode({"a": a, "c": c, "n": n})
        for a, c, n in [(None, [], 1), ("x", [1, 2], None), ("y", [3], 2)]
    ]
    columns, reference = decoders({3: schema}, schema)
    assert not columns.supported
    decoded = columns.decode_columns([*values, b"\x00"])
    assert decoded.columns["a"].tolist() == [None, "x", "y"]
    assert decoded.columns["c"].tolist() == [[], [1, 2], [3]]
    # A nullable number is a column of its type all the same, its nulls marked absent.
    assert decoded.columns["n"].tolist() == [1, 0, 2]
    assert decoded.absent["n"].tolist() == [False, True, False]
    assert decoded.absent["a"].tolist() == [True, False, False]
    assert_like_each_record(decoded, reference, [*values, b"\x00"])


def test_an_empty_batch() -> None:
    columns, _ = decoders({7: TELEMETRY}, TELEMETRY)
    decoded = columns.decode_columns([])
    assert len(decoded) == 0 and decoded.errors == []
    assert set(decoded.columns) == set(columns.types)


# --- garbage: the per-record path's typed errors ------------------------------------------------


def _good_values(n: int = 40) -> list[bytes]:
    return [Serializer(7, TELEMETRY).encode(r) for r in simulated(rows_per_car=2)[:n]]


def _with(value: bytes, at: int, new: bytes) -> bytes:
    return value[:at] + new + value[at + len(new) :]


def test_garbage_gets_the_same_typed_errors_and_good_records_in_the_batch_are_kept() -> None:
    good = _good_values()
    v = good[0]
    f32 = struct.Struct("<f")
    # From the end of v1's fields: sector, drs, five floats, gear, steering, brake, throttle,
    # speed_kmh (telemetry v2's fields follow them).
    record = simulated(rows_per_car=1)[0]
    v1_fields = {k: record[k] for k in (f["name"] for f in TELEMETRY_V1["fields"])}
    v1_size = len(Serializer(7, TELEMETRY_V1).encode(v1_fields))
    speed_at = v1_size - 1 - 1 - 5 * 4 - 1 - 3 * 4 - 4
    bad = {
        "not-framed": [b"", b"\x00\x00\x00", b"\x01" + v[1:]],
        "unknown-schema-id": [v[:1] + b"\x00\x00\x03\xe7" + v[5:]] * 2,
        "bad-body": [
            v[:-3],  # truncated
            v + b"\x00",  # trailing bytes
            v[:5] + b"\xff" * 12 + v[5:],  # a varint that does not end
            v[:5] + b"\x7f" + v[6:],  # a negative string length
            _with(v, 6, b"\xff\xfe"),  # not UTF-8
        ],
        "invalid-record": [
            _with(v, 6, b"!"),  # a session id off its pattern
            _with(v, speed_at, f32.pack(999.0)),
            _with(v, speed_at, f32.pack(float("nan"))),
            v[:5] + _raw_body(record, lap=0),
        ],
    }
    wanted = [(reason, value) for reason, vs in bad.items() for value in vs]
    values = [x for pair in zip(good, wanted, strict=False) for x in pair]
    values = [x if isinstance(x, bytes) else x[1] for x in values] + good[len(wanted) :]
    columns, reference = decoders({7: TELEMETRY}, TELEMETRY)
    decoded = columns.decode_columns(values)
    assert [e.reason for _, e in decoded.errors] == [reason for reason, _ in wanted]
    assert [values[i] for i, _ in decoded.errors] == [value for _, value in wanted]
    assert len(decoded) == len(good)
    assert_like_each_record(decoded, reference, values)


def _raw_body(record: dict[str, Any], **overrides: Any) -> bytes:
    """A body written without the serializer's checks."""
    plain = json.loads(json.dumps(TELEMETRY).replace('"logicalType"', '"_lt"'))
    buf = io.BytesIO()
    schemaless_writer(buf, parse_schema(plain), {**record, **overrides})
    return buf.getvalue()


@pytest.mark.parametrize("seed", range(6))
def test_random_corruption_decodes_or_fails_exactly_as_each_record_alone(seed: int) -> None:
    rng = np.random.default_rng(seed)
    good = _good_values(200)
    values = []
    for v in good:
        kind = rng.integers(0, 5)
        if kind == 0:
            values.append(v)
        elif kind == 1:  # a few bytes anywhere (header included)
            b = bytearray(v)
            for at in rng.integers(0, len(b), rng.integers(1, 4)):
                b[at] = rng.integers(0, 256)
            values.append(bytes(b))
        elif kind == 2:  # a cut or an extension
            cut = int(rng.integers(0, len(v) + 8))
            values.append(v[:cut] + bytes(rng.integers(0, 256, max(0, cut - len(v)), np.uint8)))
        elif kind == 3:  # a float's bytes: any value, NaN and out-of-range included
            at = int(rng.integers(len(v) - 45, len(v) - 2))
            values.append(_with(v, at, rng.integers(0, 256, 4, np.uint8).tobytes()))
        else:  # noise that looks framed
            noise = rng.integers(0, 256, int(rng.integers(0, 120)), np.uint8).tobytes()
            values.append(v[:5] + noise)
    columns, reference = decoders({7: TELEMETRY}, TELEMETRY)
    assert_like_each_record(columns.decode_columns(values), reference, values)


def test_without_validation_values_outside_the_contract_are_decoded() -> None:
    record = simulated(rows_per_car=1)[0]
    value = Serializer(7, TELEMETRY).encode(record)[:5] + _raw_body(record, lap=0, driver="x")
    columns, reference = decoders({7: TELEMETRY}, TELEMETRY, validate=False)
    decoded = columns.decode_columns([value])
    assert decoded.columns["lap"].tolist() == [0] and decoded.columns["driver"].tolist() == ["x"]
    assert_like_each_record(decoded, reference, [value])


def test_an_unreachable_registry_is_raised_not_dead_lettered() -> None:
    registry = FakeRegistry({7: TELEMETRY})
    columns = ColumnDecoder(Deserializer(registry, TELEMETRY))
    values = _good_values(5)
    registry.down = True
    with pytest.raises(InfrastructureError):
        columns.decode_columns(values)
    registry.down = False
    assert len(columns.decode_columns(values)) == 5
    registry.down = True  # the writer schema is cached now
    assert len(columns.decode_columns(values)) == 5
