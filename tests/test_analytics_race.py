"""Lap summaries of races, pit stops and older writers, from hand-made records
(tests/race_samples.py): lap 1 from lights out, in-laps and out-laps, time in the pit box,
tyres, and v1 records next to v2 ones. The job's pure logic against the pandas reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from schemas.serde import Deserializer, Serializer, load_schema
from schemas.topics import HISTORY_DIR, TELEMETRY_SCHEMA_FILE
from tests import race_samples
from tests.analytics_reference import (
    V2_DEFAULTS,
    assert_summaries_match,
    expected_summaries,
)
from tests.avro_samples import with_game_fields
from tests.fakes import FakeRegistry
from tests.micro_batches import run_in_chunks
from tests.race_samples import START_US, drive


def _summaries(records: list[dict[str, Any]], chunks: list[int]) -> dict:
    return run_in_chunks(pd.DataFrame(records), chunks)[0]


def test_a_race_car_from_the_grid_has_lap_1_timed_from_lights_out() -> None:
    # 22 m behind the line at 50 m/s: the line at 0.44 s, lap 1 ends one lap later at 20.44 s.
    records = drive(2)
    assert records[0]["lap_distance_m"] == -22.0 and records[-1]["lap"] == 3
    for chunks in ([len(records)], [1, 7, 100], [3]):
        got = _summaries(records, chunks)
        assert sorted(got) == [("unit", "car-01", 1), ("unit", "car-01", 2)]
        lap1, lap2 = got[("unit", "car-01", 1)], got[("unit", "car-01", 2)]
        assert lap1["standing_start"] and not lap2["standing_start"]
        assert lap1["lap_start"] == START_US  # lights out, not the first crossing
        assert lap1["lap_time_s"] == pytest.approx(20.44, abs=1e-6)
        assert lap1["sector1_s"] == pytest.approx(7.15, abs=1e-6)  # from lights out
        assert lap2["lap_start"] == lap1["lap_end"] == START_US + 20_440_000
        assert lap2["lap_time_s"] == pytest.approx(20.0, abs=1e-6)
        assert (lap1["tyre_compound"], lap1["tyre_age_laps"]) == ("medium", 0)
        assert (lap2["tyre_compound"], lap2["tyre_age_laps"]) == ("medium", 1)
        assert not any(s["in_lap"] or s["out_lap"] or s["pit_stop_s"] for s in got.values())
    assert_summaries_match(got, _reference(records))


def test_an_in_lap_and_an_out_lap_with_a_stop() -> None:
    # Lap 2 ends in the pit lane (entry 100 m before the line), the car stops 2.5 s in its
    # box 50 m into lap 3 and changes to hards; lap 4 is a flying lap again.
    records = drive(4, pit_lap=2)
    got = _summaries(records, [64])
    laps = {key[2]: s for key, s in got.items()}
    assert sorted(laps) == [1, 2, 3, 4]
    flags = {n: (s["in_lap"], s["out_lap"]) for n, s in laps.items()}
    assert flags == {1: (False, False), 2: (True, False), 3: (False, True), 4: (False, False)}
    assert [laps[n]["pit_stop_s"] for n in (1, 2, 3, 4)] == [0.0, 0.0, 2.5, 0.0]
    assert (laps[2]["tyre_compound"], laps[2]["tyre_age_laps"]) == ("medium", 1)
    assert (laps[3]["tyre_compound"], laps[3]["tyre_age_laps"]) == ("hard", 0)
    assert (laps[4]["tyre_compound"], laps[4]["tyre_age_laps"]) == ("hard", 1)
    # The pit lane costs time: 100 m at 20 m/s instead of 50 on lap 2 (+3 s), 200 m plus
    # the stop on lap 3 (+6 s + 2.5 s), give or take where the samples fall.
    assert laps[2]["lap_time_s"] == pytest.approx(22.91, abs=1e-6)
    assert laps[3]["lap_time_s"] == pytest.approx(28.53, abs=1e-6)
    assert laps[4]["lap_time_s"] == pytest.approx(20.0, abs=1e-6)
    assert_summaries_match(got, _reference(records))
    # A stop split across micro-batches adds up the same.
    assert _summaries(records, [1, 2, 3, 13]) == got


def test_a_practice_car_started_mid_lap_has_no_lap_1() -> None:
    records = drive(3, start_m=400.0, kind="practice", session="fp-1")
    got = _summaries(records, [50])
    assert sorted(key[2] for key in got) == [2, 3]
    assert not any(s["standing_start"] for s in got.values())
    assert_summaries_match(got, _reference(records))


TELEMETRY_V1 = load_schema(HISTORY_DIR / "telemetry.v1.avsc")
TELEMETRY_V2 = load_schema(HISTORY_DIR / "telemetry.v2.avsc")
TELEMETRY_V3 = load_schema(TELEMETRY_SCHEMA_FILE)


def test_v1_v2_and_v3_writers_in_one_topic_give_summaries_of_one_shape() -> None:
    # Three practice cars on one topic: car-01 from a v1 producer, car-02 from a v2 one,
    # car-03 from a v3 one with the game's channels, decoded as the job decodes them (each
    # with its writer schema, resolved to v3).
    v1 = [
        {k: v for k, v in r.items() if k not in V2_DEFAULTS}
        for r in drive(3, start_m=400.0, kind="practice", car="car-01")
    ]
    v2 = drive(3, start_m=700.0, kind="practice", car="car-02", pit_lap=2)
    v3 = with_game_fields(drive(3, start_m=700.0, kind="practice", car="car-03", pit_lap=2), 1)
    registry = FakeRegistry({1: TELEMETRY_V1, 2: TELEMETRY_V2, 3: TELEMETRY_V3})
    values = [Serializer(1, TELEMETRY_V1).encode(r) for r in v1]
    values += [Serializer(2, TELEMETRY_V2).encode(r) for r in v2]
    values += [Serializer(3, TELEMETRY_V3).encode(r) for r in v3]
    order = np.argsort([r["timestamp"] for r in v1 + v2 + v3], kind="stable")
    reader = Deserializer(registry, TELEMETRY_SCHEMA_FILE)
    decoded = pd.DataFrame([reader.decode(values[i]) for i in order])
    assert decoded.columns.tolist() == [f["name"] for f in TELEMETRY_V3["fields"]]
    got, _ = run_in_chunks(decoded, [37])
    old = {k[2]: s for k, s in got.items() if k[1] == "car-01"}
    new = {k[2]: s for k, s in got.items() if k[1] == "car-02"}
    game = {k[2]: s for k, s in got.items() if k[1] == "car-03"}
    assert sorted(old) == sorted(new) == [2, 3]
    assert {lap: {**s, "car_id": "car-02"} for lap, s in game.items()} == new
    for s in old.values():  # the defaults of what a v1 record cannot say
        assert (s["tyre_compound"], s["tyre_age_laps"]) == ("unknown", 0)
        assert not (s["in_lap"] or s["out_lap"] or s["standing_start"]) and s["pit_stop_s"] == 0
    assert new[2]["in_lap"] and new[3]["out_lap"] and new[3]["pit_stop_s"] == 2.5
    assert new[3]["tyre_compound"] == "hard"
    assert {k for s in got.values() for k in s} == set(next(iter(got.values())))
    assert_summaries_match(got, expected_summaries(decoded.assign(session_id="unit")))
    # The reference fills what v1 records lack itself: the same from the records as sent.
    raw = expected_summaries(pd.DataFrame(v1 + v2 + v3).assign(session_id="unit"))
    assert_summaries_match(got, raw)


def _reference(records: list[dict[str, Any]]) -> dict:
    return expected_summaries(pd.DataFrame(records).assign(session_id="unit"))


def test_the_hand_made_laps_are_what_their_module_says() -> None:
    records = drive(1)
    assert records[1]["lap_distance_m"] - records[0]["lap_distance_m"] == 5.0  # 50 m/s, 10 Hz
    assert race_samples.sector_of(-1.0) == 3 and race_samples.sector_of(0.0) == 1
    assert records[-1]["car_status"] == "finished"
    assert all(r["car_status"] == "running" for r in records[:-1])
