"""The analytics job on the real stack, across query runs: a flood of poison schema ids costs
one registry round and one restart, not one per id; and a new checkpoint at the path of an
old one publishes its own summaries instead of taking its batches for the old run's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from analytics.job import AnalyticsJob
from integration_tests.analytics_helpers import (
    Session,
    caught_up,
    encode_batches,
    end_offsets,
    job_settings,
    make_topics,
    read_summaries,
    read_telemetry,
    run_job,
    summaries_by_key,
)
from integration_tests.kafka_io import produce_all
from runtime.endpoints import Endpoints
from schemas.serde import frame
from tests.analytics_reference import assert_summaries_match, expected_summaries

pytestmark = pytest.mark.integration


def test_a_flood_of_poison_schema_ids_costs_one_registry_round(
    endpoints: Endpoints, spark: SparkSession, unique: str, tmp_path: Path
) -> None:
    """40 records with 40 ids no registry has, among 2 cars' laps: one restart for all of
    them (not one each), and the laps summarised as if they were not there."""
    bootstrap, registry_url = endpoints.kafka_bootstrap, endpoints.registry_url
    topics = make_topics(bootstrap, registry_url, unique)
    session = Session(cars=2, hz=20, seed=3, session_id=f"it-{unique}")
    good = encode_batches(registry_url, topics, session.until_laps(3))
    poison = [("car-01", frame(1_500_000_000 + i, b"\x02poison")) for i in range(40)]
    step = len(good) // len(poison)
    values = []
    for i, value in enumerate(good):
        values.append(value)
        if i % step == 0 and poison:
            values.append(poison.pop())
    produce_all(bootstrap, topics.telemetry, values)
    ends = end_offsets(bootstrap, topics.telemetry)
    with AnalyticsJob(job_settings(endpoints, topics, tmp_path / "ck"), spark, echo=None) as job:
        run_job(job, caught_up(topics.telemetry, ends), timeout_s=300)
        assert job.schema_checks == 1
        # The one restart, and up to three after Spark's progress-report failure (SPARK-55271).
        assert job.restarts <= 4
    got = summaries_by_key(read_summaries(bootstrap, registry_url, topics.analytics))
    want = expected_summaries(read_telemetry(bootstrap, registry_url, topics.telemetry))
    assert len(want) >= 3
    assert_summaries_match(got, want)


def test_a_new_checkpoint_at_an_old_one_s_path_publishes_its_own_summaries(
    endpoints: Endpoints, spark: SparkSession, unique: str, tmp_path: Path
) -> None:
    """As every Docker deployment does with its fresh /data/checkpoint volume: the first run
    publishes in many small batches; the checkpoint is deleted, a second session is written
    and a job started at the same path reads everything in its batch 0, whose id the first
    run's bookkeeping had long passed. Its summaries must be published, not skipped."""
    bootstrap, registry_url = endpoints.kafka_bootstrap, endpoints.registry_url
    topics = make_topics(bootstrap, registry_url, unique)
    checkpoint = tmp_path / "checkpoint"
    first = Session(cars=1, hz=20, seed=5, session_id=f"it-{unique}-1")
    produce_all(
        bootstrap, topics.telemetry, encode_batches(registry_url, topics, first.until_laps(3))
    )
    ends = end_offsets(bootstrap, topics.telemetry)
    small_batches = {"F1_ANALYTICS_MAX_OFFSETS_PER_TRIGGER": "500"}
    settings = job_settings(endpoints, topics, checkpoint, **small_batches)
    with AnalyticsJob(settings, spark, echo=None) as job:
        run_job(job, caught_up(topics.telemetry, ends), timeout_s=300)
        assert job.publisher.published >= 1
        assert job.progress[-1]["batchId"] >= 5

    shutil.rmtree(checkpoint)
    second = Session(cars=1, hz=20, seed=6, session_id=f"it-{unique}-2")
    produce_all(
        bootstrap, topics.telemetry, encode_batches(registry_url, topics, second.until_laps(3))
    )
    ends = end_offsets(bootstrap, topics.telemetry)
    with AnalyticsJob(job_settings(endpoints, topics, checkpoint), spark, echo=None) as job:
        run_job(job, caught_up(topics.telemetry, ends), timeout_s=300)
        assert job.publisher.skipped_batches == 0
    summaries = read_summaries(bootstrap, registry_url, topics.analytics)
    assert {s["session_id"] for s in summaries} == {f"it-{unique}-1", f"it-{unique}-2"}
