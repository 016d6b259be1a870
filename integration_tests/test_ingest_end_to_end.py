"""A recorded F1 game session through the whole platform, as a user would run it: the
services as ``f1-stack demo`` starts them (the pit wall, the InfluxDB sink, the analytics job,
each a process of its own), then ``f1-ingest-udp --replay FILE --rate max`` into the test's
topic instead of the simulator.

The recording (tests/game_session_samples.py) is a race of three cars on a circuit the
project does not know: from a grid behind the line, a full lap and into the next. Every
record reaches Kafka once, the pit wall's buffers and InfluxDB (with the game's own channels:
temperatures, pressures, ERS); every car's lap 1 is summarised from lights out; the pit
wall learns the circuit from the cars' positions and times the lap and its sectors where
the game's Session packet puts them.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integration_tests.analytics_helpers import summaries_by_key
from integration_tests.platform_support import REPO, Run, platform_run, wait_until
from integration_tests.sink_support import influx
from runtime.endpoints import Endpoints
from tests.analytics_reference import assert_summaries_match, expected_summaries
from tests.game_session_samples import (
    CARS,
    HZ,
    LAP_M,
    SECTOR_STARTS_M,
    TOP_SPEED_MPS,
    car_id,
    session_id_of,
    write_session,
)

pytestmark = pytest.mark.integration


@dataclasses.dataclass
class GameRun:
    run: Run
    recording: Path
    logs: Path


@pytest.fixture
def game(endpoints: Endpoints, unique: str, tmp_path: Path) -> Iterator[GameRun]:
    uid = int(unique, 16)  # a session of its own: its id names it in every service
    recording = write_session(tmp_path / "race.f1rec", uid=uid)
    with platform_run(endpoints, unique, tmp_path, cars=len(CARS), rate="max", laps=1) as run:
        # The pit wall as it starts without a circuit file: expecting Silverstone.
        run.platform.env["F1_TRACK"] = ""
        yield GameRun(dataclasses.replace(run, session=session_id_of(uid)), recording, tmp_path)


def _replay(game: GameRun, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "ingest", "--replay", str(game.recording), "--rate", "max"]
    return subprocess.run(
        [*argv, *args],
        cwd=REPO,
        env=game.run.platform.env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _stored_counts(run: Run, field: str) -> dict[str, int]:
    """Points of the session with a value of ``field`` in InfluxDB, by car."""
    flux = (
        f'from(bucket: "{run.bucket}") |> range(start: 0, stop: 2200-01-01T00:00:00Z)'
        ' |> filter(fn: (r) => r._measurement == "telemetry"'
        f' and r.session_id == "{run.session}" and r._field == "{field}")'
        ' |> group(columns: ["car_id"]) |> count()'
    )
    with influx(run.endpoints) as client:
        tables = client.query_api().query(flux)
    return {rec.values["car_id"]: rec.get_value() for t in tables for rec in t.records}


def test_a_replayed_game_race_reaches_influxdb_the_lap_summaries_and_the_pit_wall(
    game: GameRun,
) -> None:
    run = game.run
    # What the replay sends, from its file output; the same bytes run after run.
    outputs = [game.logs / "replay-1.jsonl", game.logs / "replay-2.jsonl"]
    for out in outputs:
        done = _replay(game, "--output", str(out))
        assert done.returncode == 0, done.stderr
    assert outputs[0].read_bytes() == outputs[1].read_bytes()
    expected = [json.loads(line) for line in outputs[0].read_text().splitlines()]
    want = Counter((r["car_id"], r["timestamp"]) for r in expected)
    per_car = dict(Counter(r["car_id"] for r in expected))
    assert sorted(per_car) == sorted(car_id(c) for c in CARS) and len(want) == len(expected)
    assert {r["session_id"] for r in expected} == {run.session}

    run.start_consumers()
    done = _replay(game, "--progress-every", "60")
    assert done.returncode == 0, run.fail_message(done.stderr)

    # Kafka: every record once (by car and event time), nothing else.
    assert run.kafka_keys() == want

    # The pit wall's buffers: every record.
    wait_until("the pit wall's buffers", lambda: run.dashboard_records() == per_car, 90)

    # InfluxDB: every point, with the game's channels as measured.
    wait_until("every point in InfluxDB", lambda: run.stored_points() == per_car, 120)
    for field in ("brake_temp_fl_c", "tyre_surface_temp_rr_c", "ers_deploy_mode", "z_m"):
        assert _stored_counts(run, field) == per_car, field

    # f1-analytics: lap 1 of every car, from lights out, equal to the raw telemetry.
    laps = expected_summaries(run.telemetry())
    assert sorted((car, lap) for _s, car, lap in laps) == sorted((car_id(c), 1) for c in CARS)
    summaries = summaries_by_key(run.summaries_when_complete(len(laps)))
    assert_summaries_match(summaries, laps)
    assert all(s["standing_start"] and s["tyre_compound"] == "soft" for s in summaries.values())
    lap_times = {car: s["lap_time_s"] for (_s, car, _lap), s in summaries.items()}

    # The pit wall: the circuit learned from the cars' positions, the lap and its sectors
    # timed, the cars in grid order.
    base = run.platform.health_url.rsplit("/", 1)[0]

    def learned() -> dict[str, Any] | None:
        circuit = (run.health() or {}).get("circuit") or {}
        return circuit if circuit.get("outline_closed") else None

    circuit = wait_until("the circuit learned", learned, 30)
    assert circuit["learned"] is True and circuit["name"] == "unknown circuit"
    assert circuit["lap_length_m"] == pytest.approx(LAP_M, abs=0.01)
    half_sample_m = TOP_SPEED_MPS / HZ / 2
    assert circuit["sector_starts_m"][1:] == pytest.approx(SECTOR_STARTS_M, abs=half_sample_m)
    timing = _get_json(f"{base}/timing?session={run.session}")
    assert timing["session_kind"] == "race" and timing["positions_by"] == "race"
    rows = timing["cars"]
    assert [r["car_id"] for r in rows] == [car_id(c) for c in CARS]
    assert [r["driver"] for r in rows] == [c.driver for c in CARS]
    for row in rows:
        assert row["laps_completed"] == 1
        assert row["last_lap_s"] == pytest.approx(lap_times[row["car_id"]], abs=1e-3)
        assert sum(s["time_s"] for s in row["sectors"]) == pytest.approx(row["last_lap_s"])

    codes = run.platform.stop()
    consumers = {name: codes[name] for name in ("dashboard", "sink-influx", "analytics")}
    assert consumers == dict.fromkeys(consumers, 0), run.fail_message(f"exits {codes}")
