"""The analytics job on the real stack: Kafka in, Spark, Kafka out, checked from the outside.

The Spark session is the test run's one (``spark`` in ``conftest.py``); each test has its own
topics, subjects and checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from analytics.job import AnalyticsJob
from analytics.publish import format_summary
from integration_tests.analytics_helpers import (
    Session,
    caught_up,
    encode_batches,
    encode_with,
    end_offsets,
    job_settings,
    make_topics,
    read_summaries,
    read_telemetry,
    run_job,
    summaries_by_key,
    telemetry_next,
)
from integration_tests.kafka_io import produce_all
from runtime.endpoints import Endpoints
from schemas.registry import SchemaRegistry
from schemas.serde import Serializer, frame, load_schema, telemetry_serializer
from schemas.topics import HISTORY_DIR
from tests.analytics_reference import assert_summaries_match, expected_summaries
from tests.avro_samples import with_game_fields
from tests.race_samples import drive

pytestmark = pytest.mark.integration


def test_completed_laps_are_summarised_exactly_as_the_raw_telemetry_says(
    endpoints: Endpoints, spark: SparkSession, unique: str, tmp_path: Path
) -> None:
    """3 laps of 2 cars at 100 Hz, produced at full speed before and while the job reads in
    batches of at most 20,000 records (so state carries laps across micro-batches)."""
    bootstrap, registry = endpoints.kafka_bootstrap, endpoints.registry_url
    topics = make_topics(bootstrap, registry, unique)
    session = Session(cars=2, hz=100, seed=11, session_id=f"it-{unique}")
    produce_all(
        bootstrap, topics.telemetry, encode_batches(registry, topics, session.until_laps(3))
    )
    ends = end_offsets(bootstrap, topics.telemetry)

    printed: list[str] = []
    settings = job_settings(
        endpoints, topics, tmp_path / "ck", F1_ANALYTICS_MAX_OFFSETS_PER_TRIGGER="20000"
    )
    with AnalyticsJob(settings, spark, echo=printed.append) as job:
        run_job(job, caught_up(topics.telemetry, ends), timeout_s=300)
        state_rows = job.state_rows()

    got = summaries_by_key(read_summaries(bootstrap, registry, topics.analytics))
    raw = read_telemetry(bootstrap, registry, topics.telemetry)
    assert len(raw) == sum(ends.values())
    want = expected_summaries(raw)
    # car-01 starts on the line from rest, car-02 half a lap on. Lap 1 of either is not
    # seen from the line; car-01's lap 3 ends on the tick the producer stops at (--laps 3
    # stops when the last car crosses the line for the third time), so it is not complete.
    assert sorted(want) == [
        (f"it-{unique}", "car-01", 2),
        (f"it-{unique}", "car-02", 2),
        (f"it-{unique}", "car-02", 3),
    ]
    assert_summaries_match(got, want)
    assert sorted(printed) == sorted(format_summary(s) for s in got.values())
    assert max(state_rows) == 2  # one state row per car, however many laps


def test_restart_new_schema_version_poison_and_late_records(
    endpoints: Endpoints, spark: SparkSession, unique: str, tmp_path: Path
) -> None:
    """Stop mid-session and restart from the checkpoint, with the last published batch
    replayed as after a crash between the Kafka commit and Spark's; then a second writer
    schema version registered mid-session, a poison record, and records behind the
    watermark. Every completed lap is published once, with the right values."""
    bootstrap, registry_url = endpoints.kafka_bootstrap, endpoints.registry_url
    topics = make_topics(bootstrap, registry_url, unique)
    session = Session(cars=2, hz=50, seed=5, session_id=f"it-{unique}")
    checkpoint = tmp_path / "ck"
    # No-data batches would run after the last data batch and hide the replay.
    spark.conf.set("spark.sql.streaming.noDataMicroBatches.enabled", "false")
    try:
        # Part 1: 160 s of a session (car-02 completes its lap 2), one job run.
        first = session.ticks(50 * 160)
        produce_all(bootstrap, topics.telemetry, encode_batches(registry_url, topics, first))
        ends = end_offsets(bootstrap, topics.telemetry)
        with AnalyticsJob(job_settings(endpoints, topics, checkpoint), spark, echo=None) as job:
            run_job(job, caught_up(topics.telemetry, ends), timeout_s=240)
            first_published = job.publisher.published
            started_with = job.contract  # the writer schemas known before the next version
        assert first_published >= 1
        last_batch = max(
            int(p.name) for p in (checkpoint / "commits").iterdir() if p.name.isdigit()
        )
        # As if the job died after its transaction committed but before Spark's commit log
        # entry: the batch is run again on restart.
        for name in (str(last_batch), f".{last_batch}.crc"):
            (checkpoint / "commits" / name).unlink(missing_ok=True)

        # Part 2: a new telemetry version is registered and the rest of the session is
        # written with it, after a poison record with an id no registry has.
        with SchemaRegistry(registry_url) as registry:
            newer = registry.register(topics.telemetry_subject, telemetry_next())
        rest = session.until_laps(3)
        values = [("car-01", frame(2_000_000_000, b"\x02poison"))]
        values += encode_with(telemetry_next(), newer.schema_id, rest)
        produce_all(bootstrap, topics.telemetry, values)
        ends = end_offsets(bootstrap, topics.telemetry)
        settings = job_settings(endpoints, topics, checkpoint)
        # Restarted with what the first run knew, as a job started before it was registered.
        with AnalyticsJob(settings, spark, contract=started_with, echo=None) as job:
            run_job(job, caught_up(topics.telemetry, ends), timeout_s=300)
            # Restarted for the new version, for the poison id, and after each re-run batch
            # (SPARK-55271).
            assert job.restarts >= 2
            assert job.publisher.skipped_batches == 1  # the replayed batch, not written again
            assert newer.schema_id in job.contract.writers
            assert 2_000_000_000 not in job.contract.writers and job.contract.checked

            # Late: lap 2 of car-01 again (minutes behind the watermark) and the last second
            # again (within the watermark, but not newer than what the car already sent).
            late = [b for b in first if int(b["lap"][0]) == 2][:500] + rest[-50:]
            produce_all(bootstrap, topics.telemetry, encode_batches(registry_url, topics, late))
            ends = end_offsets(bootstrap, topics.telemetry)
            job.progress.clear()
            run_job(job, caught_up(topics.telemetry, ends), timeout_s=120)
            dropped = sum(
                int((p.get("stateOperators") or [{}])[0].get("numRowsDroppedByWatermark", 0))
                for p in job.progress
            )
    finally:
        spark.conf.unset("spark.sql.streaming.noDataMicroBatches.enabled")

    got = summaries_by_key(read_summaries(bootstrap, registry_url, topics.analytics))
    raw = read_telemetry(bootstrap, registry_url, topics.telemetry)
    want = expected_summaries(raw)  # duplicates by timestamp count once, as documented
    assert len(want) == 3  # as in the first test: car-01 lap 2, car-02 laps 2 and 3
    assert_summaries_match(got, want)
    assert dropped >= 500 * 2  # lap 2 of car-01: both cars' rows of those ticks
    assert isinstance(raw, pd.DataFrame)


def test_v1_v2_and_v3_writers_a_race_start_and_a_pit_stop_in_one_topic(
    endpoints: Endpoints, spark: SparkSession, unique: str, tmp_path: Path
) -> None:
    """Hand-made records (tests/race_samples.py) on a subject with history: car-01 from a v1
    producer (practice, from mid-lap), car-02 from a v2 one (a race from the grid, a stop on
    lap 3), car-03 from a v3 one with the game's channels (from the grid). Each record is
    decoded with its writer's schema, older records get the newer versions' defaults, and
    every lap driven is summarised once: lap 1 of a race from lights out, the in-lap and
    out-lap flagged, the stop timed."""
    bootstrap, registry_url = endpoints.kafka_bootstrap, endpoints.registry_url
    v1_schema = load_schema(HISTORY_DIR / "telemetry.v1.avsc")
    v2_schema = load_schema(HISTORY_DIR / "telemetry.v2.avsc")
    older = [v1_schema, v2_schema]
    topics = make_topics(bootstrap, registry_url, unique, older_telemetry=older)
    session = f"it-{unique}"
    v1_names = [f["name"] for f in v1_schema["fields"]]
    old = [
        {k: r[k] for k in v1_names}
        for r in drive(3, start_m=400.0, kind="practice", session=session, car="car-01")
    ]
    v2 = drive(4, pit_lap=2, session=session, car="car-02", driver="HAM")
    game = drive(3, start_m=-30.0, session=session, car="car-03", driver="LEC")
    game = with_game_fields(game, every=1)
    with SchemaRegistry(registry_url) as registry:
        ids = [v.schema_id for v in registry.versions(topics.telemetry_subject)]
        current = telemetry_serializer(registry, topics)
    assert len(ids) == 3 and current.schema_id == ids[2]
    sent = [(r, Serializer(ids[0], v1_schema).encode(r)) for r in old]
    sent += [(r, Serializer(ids[1], v2_schema).encode(r)) for r in v2]
    sent += [(r, current.encode(r)) for r in game]
    sent.sort(key=lambda pair: pair[0]["timestamp"])
    produce_all(bootstrap, topics.telemetry, [(r["car_id"], value) for r, value in sent])
    ends = end_offsets(bootstrap, topics.telemetry)

    with AnalyticsJob(job_settings(endpoints, topics, tmp_path / "ck"), spark, echo=None) as job:
        assert sorted(job.contract.writers) == sorted(ids)
        run_job(job, caught_up(topics.telemetry, ends), timeout_s=300)

    got = summaries_by_key(read_summaries(bootstrap, registry_url, topics.analytics))
    raw = read_telemetry(bootstrap, registry_url, topics.telemetry)
    assert len(raw) == len(sent)
    want = expected_summaries(raw)
    laps = {(car, lap) for _, car, lap in got}
    assert laps == {("car-01", 2), ("car-01", 3)} | {("car-02", n) for n in (1, 2, 3, 4)} | {
        ("car-03", n) for n in (1, 2, 3)
    }
    assert_summaries_match(got, want)
    by = {(car, lap): s for (_, car, lap), s in got.items()}
    assert by[("car-02", 1)]["standing_start"] and by[("car-03", 1)]["standing_start"]
    assert by[("car-02", 1)]["lap_time_s"] == pytest.approx(20.44, abs=1e-6)  # from lights out
    assert by[("car-03", 1)]["lap_time_s"] == pytest.approx(20.6, abs=1e-6)  # 8 m further back
    assert (by[("car-02", 2)]["in_lap"], by[("car-02", 3)]["out_lap"]) == (True, True)
    assert by[("car-02", 3)]["pit_stop_s"] == 2.5
    assert [by[("car-02", n)]["tyre_compound"] for n in (1, 2, 3, 4)] == [
        "medium",
        "medium",
        "hard",
        "hard",
    ]
    for lap in (2, 3):  # what a v1 record cannot say: the defaults
        s = by[("car-01", lap)]
        assert (s["tyre_compound"], s["tyre_age_laps"], s["in_lap"], s["pit_stop_s"]) == (
            "unknown",
            0,
            False,
            0.0,
        )
