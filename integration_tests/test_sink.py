"""The InfluxDB sink on the real stack: records produced -> `python -m sinks run` -> Flux.

One module-wide run produces a small session (3 cars, 10 Hz, 200 s: every car sees three
laps) plus lap summaries, runs the sink as a subprocess until the exact count is stored, stops
it with SIGTERM, and the tests check what it left behind.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from integration_tests.sink_support import (
    REPO,
    TELEMETRY_PARTITIONS,
    SinkProcess,
    committed,
    create_bucket,
    create_topics,
    delete_bucket,
    encoded,
    end_offsets,
    make_records,
    produce,
    wait_for,
    wait_for_count,
)
from runtime.endpoints import Endpoints
from schemas.channels import LAP_SUMMARY, channel, channels
from schemas.evolution import sample_records
from schemas.registry import SchemaRegistry
from schemas.serde import Serializer, lap_summary_serializer, load_schema, telemetry_serializer
from schemas.topics import HISTORY_DIR, LAP_SUMMARY_SCHEMA_FILE, Topics
from storage.history import ALL_TIME, History
from tests.avro_samples import with_game_fields
from tests.race_samples import drive


@dataclass
class Sunk:
    endpoints: Endpoints
    topics: Topics
    bucket: str
    session: str
    group: str
    records: list[dict]
    summaries: list[dict]
    exit_code: int
    log: str


def _summaries(session: str, records: list[dict]) -> list[dict]:
    """One lap summary per car for lap 1, stamped from that car's samples."""
    base = sample_records(load_schema(LAP_SUMMARY_SCHEMA_FILE))[1]
    out = []
    for car in sorted({r["car_id"] for r in records}):
        lap1 = [r for r in records if r["car_id"] == car and r["lap"] == 1]
        out.append(
            {
                **base,
                "session_id": session,
                "car_id": car,
                "driver": lap1[0]["driver"],
                "lap": 1,
                "lap_time_s": 90.0 + len(out),
                "lap_start": lap1[0]["timestamp"],
                "lap_end": lap1[-1]["timestamp"],
                "sample_count": len(lap1),
            }
        )
    return out


@pytest.fixture(scope="module")
def sunk(endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sunk]:
    unique = uuid.uuid4().hex[:10]
    topics = create_topics(endpoints, unique)
    bucket = f"it-sink-{unique}"
    create_bucket(endpoints, bucket)
    session = f"it-session-{unique}"
    group = f"it-sink-{unique}"
    # Every other record with the game's channels, the others without them (null: not
    # measured), as a game and a simulator on one topic.
    records = with_game_fields(make_records(session))
    summaries = _summaries(session, records)
    with SchemaRegistry(endpoints.registry_url) as registry:
        produce(
            endpoints, topics.telemetry, encoded(telemetry_serializer(registry, topics), records)
        )
        laps_ser = lap_summary_serializer(registry, topics)
        produce(endpoints, topics.analytics, encoded(laps_ser, summaries))
    log_file = tmp_path_factory.mktemp("sink") / "sink.log"
    sink = SinkProcess(endpoints, topics, bucket, group, log_file).start()
    try:
        wait_for_count(endpoints, bucket, session, len(records))
        with History(
            endpoints.influx_url, endpoints.influx_token.reveal(), endpoints.influx_org, bucket
        ) as h:
            wait_for(lambda: len(h.lap_summaries(session)) == len(summaries), 30, "lap summaries")
        # Let one progress line (every 2 s) report the final lag before stopping.
        wait_for(lambda: "lag 0 records" in sink.log(), 15, "a progress line with lag 0")
        exit_code = sink.stop()
        yield Sunk(
            endpoints, topics, bucket, session, group, records, summaries, exit_code, sink.log()
        )
    finally:
        if sink.alive():
            sink.stop()
        delete_bucket(endpoints, bucket)


def _history(sunk: Sunk) -> History:
    e = sunk.endpoints
    return History(e.influx_url, e.influx_token.reveal(), e.influx_org, sunk.bucket)


def _assert_same_values(stored: pd.DataFrame, produced: list[dict], names: list[str]) -> None:
    """Doubles equal exactly; Avro floats equal after the float32 rounding of the wire; a
    channel not measured (null) has no value on either side."""
    expected = pd.DataFrame(produced)
    for name in names:
        got, want = stored[name].to_numpy(), expected[name].to_numpy()
        missing = pd.isna(got)
        np.testing.assert_array_equal(missing, pd.isna(want), name)
        got, want = got[~missing], want[~missing]
        c = channel(name)
        if c.avro_type == "float":
            np.testing.assert_array_equal(got.astype(np.float32), want.astype(np.float32), name)
        else:
            np.testing.assert_array_equal(got, want, name)


def test_every_record_is_stored_exactly_once_with_its_values(sunk: Sunk) -> None:
    flux = (
        f'from(bucket: "{sunk.bucket}") |> range({ALL_TIME})'
        f' |> filter(fn: (r) => r._measurement == "telemetry"'
        f' and r.session_id == "{sunk.session}")'
        ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
        ' |> group() |> sort(columns: ["car_id", "_time"])'
    )
    with _history(sunk) as history:
        stored = history.frame(flux)
    assert len(stored) == len(sunk.records)
    produced = sorted(sunk.records, key=lambda r: (r["car_id"], r["timestamp"]))
    epoch = pd.Timestamp(0, tz="UTC")
    stored_us = (stored["_time"] - epoch) // pd.Timedelta(microseconds=1)
    assert stored_us.tolist() == [r["timestamp"] for r in produced]
    names = [c.name for c in channels() if c.name != "timestamp"]
    _assert_same_values(stored, produced, names)


def test_a_clean_stop_commits_everything_and_reports_progress(sunk: Sunk) -> None:
    assert sunk.exit_code == 0, sunk.log
    e, t = sunk.endpoints, sunk.topics.telemetry
    ends = end_offsets(e, t, TELEMETRY_PARTITIONS)
    done = committed(e, sunk.group, t, TELEMETRY_PARTITIONS)
    assert {p: done[p] for p, end in ends.items() if end > 0} == {
        p: end for p, end in ends.items() if end > 0
    }
    progress = [line for line in sunk.log.splitlines() if "progress: stored" in line]
    assert progress and "lag" in progress[-1] and "dlq 0" in progress[-1]
    assert f"final: stored {len(sunk.records) + len(sunk.summaries)} records" in sunk.log


def test_lap_summaries_are_stored_in_measurement_laps(sunk: Sunk) -> None:
    with _history(sunk) as history:
        stored = history.lap_summaries(sunk.session)
    expected = pd.DataFrame(sunk.summaries)[stored.columns]
    names = [c.name for c in channels(LAP_SUMMARY)]
    assert list(stored.columns) == names
    pd.testing.assert_frame_equal(
        stored.sort_values("car_id").reset_index(drop=True),
        expected.sort_values("car_id").reset_index(drop=True),
        check_dtype=False,
    )


def _cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sinks", "history", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_history_lists_sessions_cars_and_laps(sunk: Sunk) -> None:
    bucket = ["--bucket", sunk.bucket]
    assert sunk.session in _cli("sessions", *bucket).split()
    cars = _cli("cars", "--session", sunk.session, *bucket)
    for car in {r["car_id"] for r in sunk.records}:
        assert car in cars
    with _history(sunk) as history:
        laps = history.laps(sunk.session)
    produced = Counter((r["car_id"], r["lap"]) for r in sunk.records)
    stored = {(row.car_id, row.lap): row.samples for row in laps.itertuples()}
    assert stored == dict(produced)
    printed = _cli("laps", "--session", sunk.session, *bucket)
    assert "samples" in printed and "complete" in printed


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_an_exported_lap_matches_the_records_produced_for_it(
    sunk: Sunk, tmp_path: Path, suffix: str
) -> None:
    car, lap = "car-02", 2
    out = tmp_path / f"lap{suffix}"
    printed = _cli(
        "export",
        "--session",
        sunk.session,
        "--car",
        car,
        "--lap",
        str(lap),
        "--out",
        str(out),
        "--bucket",
        sunk.bucket,
    )
    produced = [r for r in sunk.records if r["car_id"] == car and r["lap"] == lap]
    assert printed.startswith(f"{len(produced)} samples")
    if suffix == ".csv":
        exported = pd.read_csv(out, float_precision="round_trip")
    else:
        exported = pd.read_parquet(out)
    assert list(exported.columns) == [c.name for c in channels()]
    assert exported["timestamp"].tolist() == [r["timestamp"] for r in produced]
    assert set(exported["session_id"]) == {sunk.session} and set(exported["car_id"]) == {car}
    _assert_same_values(exported, produced, [c.name for c in channels()][3:])


def test_best_lap_and_speed_versus_distance(sunk: Sunk) -> None:
    car = "car-01"
    with _history(sunk) as history:
        best = history.best_lap(sunk.session, car)
        assert best is not None
        # Lap summaries exist for lap 1 of each car, so the summary's lap time decides.
        assert best["lap"] == 1
        trace = history.channel_vs_distance(sunk.session, car, 2)
    produced = sorted(
        (r for r in sunk.records if r["car_id"] == car and r["lap"] == 2),
        key=lambda r: r["lap_distance_m"],
    )
    assert trace["lap_distance_m"].tolist() == [r["lap_distance_m"] for r in produced]
    np.testing.assert_array_equal(
        trace["speed_kmh"].to_numpy(np.float32),
        np.array([r["speed_kmh"] for r in produced], dtype=np.float32),
    )


def test_the_dashboard_reads_stored_laps_through_its_history_source(sunk: Sunk) -> None:
    """The pit wall's analytics tab compares laps from InfluxDB when the sink is there."""
    from dataclasses import replace

    from circuit import silverstone
    from dashboard.history_source import HistorySource
    from dashboard.traces import resample

    lap_length_m, step_m = silverstone().length_m, 10.0
    source = HistorySource(replace(sunk.endpoints, influx_bucket=sunk.bucket), step_m)
    car, lap = "car-02", 2
    trace = source.speed_trace(sunk.session, car, lap).result(timeout=60)
    assert trace is not None, source.last_error
    rows = [r for r in sunk.records if r["car_id"] == car and r["lap"] == lap]
    want_d, want_v = resample(
        np.array([r["lap_distance_m"] for r in rows]),
        np.array([r["speed_kmh"] for r in rows], dtype=np.float32),
        lap_length_m,
        step_m,
    )
    assert len(trace[0]) > 100
    np.testing.assert_array_equal(trace[0], want_d)
    np.testing.assert_allclose(trace[1], want_v, rtol=1e-6)

    stored = source.lap_summaries(sunk.session).result(timeout=60)
    assert sorted((s["car_id"], s["lap"]) for s in stored) == sorted(
        (s["car_id"], s["lap"]) for s in sunk.summaries
    )


def test_v1_v2_and_v3_records_in_one_topic_are_stored_as_they_were_sent(
    endpoints: Endpoints, tmp_path: Path
) -> None:
    """A subject with history: car-01 written by a v1 producer, car-02 by a v2 one (a race
    car from the grid, negative lap distances, a pit stop), car-03 by a v3 one with the
    game's channels measured and car-04 by a v3 one that leaves them out (null: not
    measured), interleaved on one topic. Each point holds the fields its record was sent
    with: no made-up compound for a v1 car, no made-up temperature for a v1, v2 or
    simulated v3 car."""
    unique = uuid.uuid4().hex[:10]
    v1_schema = load_schema(HISTORY_DIR / "telemetry.v1.avsc")
    v2_schema = load_schema(HISTORY_DIR / "telemetry.v2.avsc")
    topics = create_topics(endpoints, unique, older_telemetry=[v1_schema, v2_schema])
    bucket, group = f"it-sink-mixed-{unique}", f"it-sink-mixed-{unique}"
    create_bucket(endpoints, bucket)
    session = f"it-mixed-{unique}"
    v1_names = [f["name"] for f in v1_schema["fields"]]
    v2_names = [f["name"] for f in v2_schema["fields"]]
    old = [
        {k: r[k] for k in v1_names}
        for r in drive(2, start_m=300.0, kind="practice", session=session, car="car-01")
    ]
    v2 = [
        {k: r[k] for k in v2_names}
        for r in drive(3, pit_lap=1, session=session, car="car-02", driver="HAM")
    ]
    game = with_game_fields(drive(2, session=session, car="car-03", driver="LEC"), every=1)
    simulated = drive(2, session=session, car="car-04", driver="PIA")
    with SchemaRegistry(endpoints.registry_url) as registry:
        ids = [v.schema_id for v in registry.versions(topics.telemetry_subject)]
        assert len(ids) == 3  # v1, v2, then the current version
        v1_ser = Serializer(ids[0], v1_schema)
        v2_ser = Serializer(ids[1], v2_schema)
        v3_ser = telemetry_serializer(registry, topics)
    assert v3_ser.schema_id == ids[2]
    sent = [*zip(old, encoded(v1_ser, old), strict=True)]
    sent += zip(v2, encoded(v2_ser, v2), strict=True)
    sent += zip(game, encoded(v3_ser, game), strict=True)
    sent += zip(simulated, encoded(v3_ser, simulated), strict=True)
    sent.sort(key=lambda pair: pair[0]["timestamp"])  # every car's records, in event time
    produce(endpoints, topics.telemetry, [value for _, value in sent])
    sink = SinkProcess(endpoints, topics, bucket, group, tmp_path / "sink.log").start()
    cars = ("car-01", "car-02", "car-03", "car-04")
    try:
        wait_for_count(endpoints, bucket, session, len(sent))
        with History(
            endpoints.influx_url, endpoints.influx_token.reveal(), endpoints.influx_org, bucket
        ) as history:
            stored = {car: history.lap_points(session, car, 1) for car in cars}
            fields = history.frame(
                f'from(bucket: "{bucket}") |> range({ALL_TIME})'
                f' |> filter(fn: (r) => r._measurement == "telemetry"'
                f' and r.session_id == "{session}")'
                ' |> group(columns: ["car_id", "_field"]) |> count()'
            )
        assert sink.stop() == 0, sink.log()
    finally:
        if sink.alive():
            sink.stop()
        delete_bucket(endpoints, bucket)
    added = set(v2_names) - set(v1_names)
    game_channels = {c.name for c in channels()} - set(v2_names)
    counted = {(car, f): n for car, f, n in fields[["car_id", "_field", "_value"]].to_numpy()}
    by_car = {car: {f for c, f in counted if c == car} for car in cars}
    sent_by_car = {car: sum(1 for r, _ in sent if r["car_id"] == car) for car in cars}
    # Every point has the fields its record was sent with, and no other.
    tags_and_time = {"session_id", "car_id", "driver", "timestamp"}
    assert by_car["car-01"] == set(v1_names) - tags_and_time
    assert by_car["car-02"] == by_car["car-04"] == set(v2_names) - tags_and_time
    assert by_car["car-03"] == {c.name for c in channels()} - tags_and_time
    assert all(counted[key] == sent_by_car[key[0]] for key in counted)
    # Values as sent: lap 1 of the race car starts behind the line; strings as strings.
    grid = stored["car-02"]
    lap1 = [r for r in v2 if r["lap"] == 1]
    assert grid["lap_distance_m"].tolist() == [r["lap_distance_m"] for r in lap1]
    assert grid["lap_distance_m"].iloc[0] == -22.0
    assert grid["pit_status"].tolist() == [r["pit_status"] for r in lap1]
    assert grid["tyre_compound"].tolist() == [r["tyre_compound"] for r in lap1]
    assert grid["tyre_age_laps"].tolist() == [r["tyre_age_laps"] for r in lap1]
    assert added.isdisjoint(stored["car-01"].columns)
    assert stored["car-01"]["timestamp"].tolist() == [r["timestamp"] for r in old if r["lap"] == 1]
    # The game car's channels as measured; none for the others.
    lap1 = [r for r in game if r["lap"] == 1]
    measured = stored["car-03"]
    assert measured["brake_temp_rl_c"].tolist() == [r["brake_temp_rl_c"] for r in lap1]
    assert measured["ers_deploy_mode"].tolist() == [r["ers_deploy_mode"] for r in lap1]
    for car in ("car-01", "car-02", "car-04"):
        assert game_channels.isdisjoint(stored[car].columns), car
