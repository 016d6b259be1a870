"""f1-simulate against the real broker and registry, run as the process a user would run."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from circuit import silverstone
from integration_tests.kafka_io import read_to_end
from producer.race import classification
from producer.session import SessionPlan
from producer.simulation import Simulation
from runtime.endpoints import Endpoints
from runtime.kafka import client_config
from schemas.registration import register_all
from schemas.registry import SchemaRegistry
from schemas.serde import telemetry_deserializer
from schemas.topics import Topics

SESSION_START_S = "1751800000"  # a fixed session start: runs with one seed are identical


@pytest.fixture
def topic(endpoints: Endpoints, unique: str) -> str:
    name = f"it-sim-{unique}"
    admin = AdminClient(client_config(endpoints.kafka_bootstrap))
    admin.create_topics([NewTopic(name, 3, 1)])[name].result(timeout=30)
    register_all(endpoints.registry_url, Topics(name, f"it-sim-analytics-{unique}"))
    return name


def _simulate(endpoints: Endpoints, *args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "F1_KAFKA_BOOTSTRAP": endpoints.kafka_bootstrap,
        "F1_SCHEMA_REGISTRY_URL": endpoints.registry_url.with_credentials(),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "producer", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _delivered(log: str) -> int:
    match = re.search(r"produced ([\d,]+) records .* ([\d,]+) delivered, 0 failed", log)
    assert match, log
    produced, delivered = (int(g.replace(",", "")) for g in match.groups())
    assert produced == delivered
    return delivered


def test_a_grid_lap_at_max_rate_lands_whole_and_in_order(endpoints: Endpoints, topic: str) -> None:
    proc = _simulate(
        endpoints,
        "--cars",
        "3",
        "--laps",
        "1",
        "--rate",
        "max",
        "--topic",
        topic,
        "--seed",
        "11",
        "--session-start",
        SESSION_START_S,
        "--session-id",
        "it-grid",
    )
    _, log = proc.communicate(timeout=300)
    assert proc.returncode == 0, log
    delivered = _delivered(log)

    messages = read_to_end(endpoints.kafka_bootstrap, topic)
    assert len(messages) == delivered
    with SchemaRegistry(endpoints.registry_url) as registry:
        decode = telemetry_deserializer(registry).decode
        by_car: dict[str, list[dict]] = {}
        for msg in messages:
            record = decode(msg.value())
            assert msg.key().decode() == record["car_id"]
            by_car.setdefault(record["car_id"], []).append(record)
    assert sorted(by_car) == ["car-01", "car-02", "car-03"]
    for records in by_car.values():
        stamps = [r["timestamp"] for r in records]
        # One partition per key keeps each car in order, one record per 10 ms tick.
        assert all(b - a == 10_000 for a, b in itertools.pairwise(stamps))
        assert {r["session_id"] for r in records} == {"it-grid"}
        assert records[0]["timestamp"] == int(SESSION_START_S) * 1_000_000 + 10_000
    # Each car drove one full lap from its first crossing (lap 2; lap 1 began mid-lap) and
    # stopped on its own: its last record is its first sample past the line, on lap 3.
    for records in by_car.values():
        last = records[-1]
        assert (last["lap"], records[-2]["lap"]) == (3, 2)
        assert 0.0 <= last["lap_distance_m"] < 1.0
        assert last["car_status"] == "finished"
        assert {r["car_status"] for r in records[:-1]} == {"running"}
        assert {r["session_kind"] for r in records} == {"practice"}
    assert len({len(records) for records in by_car.values()}) == 3


def test_a_race_from_the_grid_to_the_flag(endpoints: Endpoints, topic: str) -> None:
    """`f1-simulate --session race --cars 3 --laps 2 --rate max`: lap 1 from lights out
    behind the line, every car ending just past the line, in the order of the flag."""
    proc = _simulate(
        endpoints,
        "--session",
        "race",
        "--cars",
        "3",
        "--laps",
        "2",
        "--rate",
        "max",
        "--topic",
        topic,
        "--seed",
        "3",
        "--session-start",
        SESSION_START_S,
        "--session-id",
        "it-race",
    )
    _, log = proc.communicate(timeout=300)
    assert proc.returncode == 0, log
    assert "race session it-race" in log and "a race of 2 lap(s)" in log
    delivered = _delivered(log)

    messages = read_to_end(endpoints.kafka_bootstrap, topic)
    assert len(messages) == delivered
    with SchemaRegistry(endpoints.registry_url) as registry:
        decode = telemetry_deserializer(registry).decode
        by_car: dict[str, list[dict]] = {}
        for msg in messages:
            record = decode(msg.value())
            by_car.setdefault(record["car_id"], []).append(record)
    assert sorted(by_car) == ["car-01", "car-02", "car-03"]
    start_us = int(SESSION_START_S) * 1_000_000
    for i, records in enumerate(by_car[car] for car in sorted(by_car)):
        first, last = records[0], records[-1]
        assert {r["session_kind"] for r in records} == {"race"}
        # Lights out at session time 0: lap 1 starts there, the car behind the line (its
        # grid slot, 8 m apart), at rest.
        assert first["lap"] == 1 and first["sim_time_s"] == pytest.approx(0.01)
        assert first["timestamp"] - round(first["sim_time_s"] * 1e6) == start_us
        assert first["lap_distance_m"] == pytest.approx(-(5.0 + 8.0 * i), abs=0.01)
        assert first["total_distance_m"] == first["lap_distance_m"]
        assert first["speed_kmh"] < 1.0
        # Lap 1 runs to the line one full lap after the first crossing from the grid.
        crossed = next(k for k, r in enumerate(records) if r["lap_distance_m"] >= 0.0)
        assert records[crossed]["lap"] == 1
        # The end: the first sample past the line after lap 2, the only finished record.
        assert (records[-2]["lap"], last["lap"]) == (2, 3)
        assert 0.0 <= last["lap_distance_m"] < 1.0
        assert last["car_status"] == "finished"
        assert {r["car_status"] for r in records[:-1]} == {"running"}
        # A two-lap race: one stop each, at the end of lap 1, on two compounds.
        assert last["pit_stops"] == 1
        assert len({r["tyre_compound"] for r in records}) == 2
    # The finishing order: laps, then the time each took the flag; the same as the
    # simulator's own classification of its records.
    columns = {
        name: np.array([r[name] for car in sorted(by_car) for r in by_car[car]])
        for name in ("car_id", "car_status", "lap", "lap_distance_m", "total_distance_m")
    }
    columns["sim_time_s"] = np.array(
        [r["sim_time_s"] for car in sorted(by_car) for r in by_car[car]]
    )
    result = classification(columns)
    flag_order = sorted(by_car, key=lambda car: by_car[car][-1]["sim_time_s"])
    assert [f.car_id for f in result] == flag_order
    reference = Simulation(
        silverstone(),
        3,
        seed=3,
        session=SessionPlan(kind="race", laps=2),
        session_start_us=start_us,
        session_id="it-race",
    ).run_to_end()
    assert [(f.car_id, f.laps) for f in classification(reference)] == [
        (f.car_id, f.laps) for f in result
    ]
    for ours, theirs in zip(classification(reference), result, strict=True):
        assert ours.time_s == pytest.approx(theirs.time_s, abs=1e-3)


def test_the_file_output_holds_the_same_records_as_kafka(
    endpoints: Endpoints, topic: str, tmp_path: Path
) -> None:
    common = ["--cars", "2", "--laps", "1", "--rate", "max", "--seed", "5"]
    common += ["--session-start", SESSION_START_S, "--session-id", "it-same"]
    to_kafka = _simulate(endpoints, *common, "--topic", topic)
    _, log = to_kafka.communicate(timeout=300)
    assert to_kafka.returncode == 0, log
    out = tmp_path / "run.jsonl"
    to_file = _simulate(endpoints, *common, "--output", str(out))
    _, file_log = to_file.communicate(timeout=300)
    assert to_file.returncode == 0, file_log

    from_file = [json.loads(line) for line in out.read_text().splitlines()]
    with SchemaRegistry(endpoints.registry_url) as registry:
        decode = telemetry_deserializer(registry).decode
        from_kafka = [decode(m.value()) for m in read_to_end(endpoints.kafka_bootstrap, topic)]
    key = lambda r: (r["car_id"], r["timestamp"])  # noqa: E731
    from_file.sort(key=key)
    from_kafka.sort(key=key)
    assert len(from_file) == len(from_kafka) == _delivered(log)
    for a, b in zip(from_file, from_kafka, strict=True):
        for name, value in a.items():
            if isinstance(value, float):
                # Kafka carries the channels as 32-bit floats.
                assert b[name] == pytest.approx(value, rel=1e-6, abs=1e-4), name
            else:
                assert b[name] == value, name


def test_sigint_flushes_and_reports_exactly_what_was_delivered(
    endpoints: Endpoints, topic: str
) -> None:
    proc = _simulate(endpoints, "--cars", "20", "--rate", "5", "--topic", topic)
    time.sleep(6)
    proc.send_signal(signal.SIGINT)
    _, log = proc.communicate(timeout=120)
    assert proc.returncode == 0, log
    assert "stopped by SIGINT" in log
    delivered = _delivered(log)
    assert delivered > 0
    assert len(read_to_end(endpoints.kafka_bootstrap, topic)) == delivered


def test_an_unreachable_broker_is_one_clear_line(endpoints: Endpoints) -> None:
    env_free = _simulate(endpoints, "--bootstrap", "127.0.0.1:1", "--laps", "1")
    _, log = env_free.communicate(timeout=120)
    assert env_free.returncode == 1
    assert "Traceback" not in log
    assert "f1-simulate: Kafka at 127.0.0.1:1 is unreachable" in log


def test_a_missing_subject_is_one_clear_line(endpoints: Endpoints, unique: str) -> None:
    proc = _simulate(endpoints, "--topic", f"it-unregistered-{unique}", "--laps", "1")
    _, log = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in log
    assert f"it-unregistered-{unique}-value" in log and "f1-schemas register" in log
