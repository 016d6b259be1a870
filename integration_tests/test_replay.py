"""``f1-replay`` on the real stack: a 2-lap race of 2 cars simulated to a topic of its own,
stored in InfluxDB by the sink, then replayed from InfluxDB at ``--rate max`` into a new
topic. The replay's records equal the original's apart from the session id and the event
times (moved by one offset to the time of the replay), and the analytics job's lap summaries
of the replay equal the original's (times to the microsecond: line crossings are interpolated
from the moved times and rounded). A second test exports the stored session to Parquet and
replays the file with the original id and times, which gives the original records exactly.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from integration_tests.analytics_helpers import (
    caught_up,
    end_offsets,
    job_settings,
    make_topics,
    read_summaries,
    run_job,
    summaries_by_key,
)
from integration_tests.kafka_io import read_to_end
from integration_tests.sink_support import (
    REPO,
    SinkProcess,
    create_bucket,
    delete_bucket,
    wait_for_count,
)
from runtime.endpoints import Endpoints
from schemas.channels import LAP_SUMMARY, channels
from schemas.registry import SchemaRegistry
from schemas.serde import telemetry_deserializer
from schemas.topics import Topics
from tests.analytics_reference import pytest_approx

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.integration

CARS, LAPS = 2, 2
# Lap summary fields that are times in seconds (lap, sectors, pit stop).
TIMES_S = {c.name for c in channels(LAP_SUMMARY) if c.unit == "s"}


@dataclass
class Stored:
    endpoints: Endpoints
    unique: str
    topics: Topics
    bucket: str
    session: str
    records: pd.DataFrame  # the simulator's records, as read from its topic


def _records(endpoints: Endpoints, topic: str) -> pd.DataFrame:
    """Every record on ``topic``, decoded, sorted by car and time; fails unless each record's
    Kafka key is its car id."""
    rows = []
    with SchemaRegistry(endpoints.registry_url) as registry:
        decode = telemetry_deserializer(registry).decode
        for msg in read_to_end(endpoints.kafka_bootstrap, topic):
            record = decode(msg.value())
            assert msg.key().decode() == record["car_id"]
            rows.append(record)
    frame = pd.DataFrame(rows)
    return frame.sort_values(["car_id", "timestamp"], kind="stable").reset_index(drop=True)


def _f1_replay(stored: Stored, *args: str) -> subprocess.CompletedProcess[str]:
    e = stored.endpoints
    argv = [sys.executable, "-m", "replay", "--bootstrap", e.kafka_bootstrap]
    argv += ["--registry", e.registry_url, "--influx-url", e.influx_url, "--org", e.influx_org]
    argv += ["--bucket", stored.bucket, "--progress-every", "2", *args]
    env = {**os.environ, "F1_INFLUX_TOKEN": e.influx_token.reveal(), "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def stored(endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stored]:
    unique = uuid.uuid4().hex[:10]
    topics = make_topics(endpoints.kafka_bootstrap, endpoints.registry_url, f"replay-{unique}")
    bucket = f"it-replay-{unique}"
    session = f"it-replay-{unique}"
    create_bucket(endpoints, bucket)
    simulate = [sys.executable, "-m", "producer", "--session", "race", "--cars", str(CARS)]
    simulate += ["--laps", str(LAPS), "--rate", "max", "--seed", "7", "--session-id", session]
    simulate += ["--telemetry-topic", topics.telemetry, "--bootstrap", endpoints.kafka_bootstrap]
    simulate += ["--registry", endpoints.registry_url]
    subprocess.run(simulate, cwd=REPO, check=True, capture_output=True, timeout=300)
    records = _records(endpoints, topics.telemetry)
    log_file = tmp_path_factory.mktemp("replay") / "sink.log"
    sink = SinkProcess(endpoints, topics, bucket, f"it-replay-{unique}", log_file).start()
    try:
        wait_for_count(endpoints, bucket, session, len(records))
        assert sink.stop() == 0, sink.log()
        yield Stored(endpoints, unique, topics, bucket, session, records)
    finally:
        if sink.alive():
            sink.stop()
        delete_bucket(endpoints, bucket)


def _analytics(
    endpoints: Endpoints, spark: SparkSession, runs: list[tuple[Topics, Path]]
) -> list[dict]:
    """The analytics job over each run's telemetry topic; the lap summaries each published,
    by (session, car, lap)."""
    from analytics.job import AnalyticsJob

    out = []
    for topics, checkpoint in runs:
        settings = job_settings(endpoints, topics, checkpoint)
        ends = end_offsets(endpoints.kafka_bootstrap, topics.telemetry)
        with AnalyticsJob(settings, spark, echo=None) as job:
            run_job(job, caught_up(topics.telemetry, ends), timeout_s=300)
        found = read_summaries(endpoints.kafka_bootstrap, endpoints.registry_url, topics.analytics)
        out.append(summaries_by_key(found))
    return out


def test_a_replay_from_influxdb_equals_the_original_down_to_its_lap_summaries(
    stored: Stored, spark: SparkSession, tmp_path: Path
) -> None:
    e = stored.endpoints
    again = make_topics(e.kafka_bootstrap, e.registry_url, f"replay-{stored.unique}-again")
    started_us = time.time_ns() // 1000
    flags = ["--session-id", stored.session, "--rate", "max", "--telemetry-topic", again.telemetry]
    result = _f1_replay(stored, *flags)
    finished_us = time.time_ns() // 1000
    new_id = result.stdout.strip().splitlines()[-1]
    assert new_id.startswith(f"{stored.session}-replay-")

    original, replayed = stored.records, _records(e, again.telemetry)
    assert len(replayed) == len(original) > 0
    assert (replayed["session_id"] == new_id).all()
    # One offset for every record, putting the first at the time of the replay.
    shift = int(replayed["timestamp"].min() - original["timestamp"].min())
    assert started_us <= replayed["timestamp"].min() <= finished_us
    assert (replayed["timestamp"] - shift == original["timestamp"]).all()
    same = [c for c in original.columns if c not in ("session_id", "timestamp")]
    pd.testing.assert_frame_equal(replayed[same], original[same])

    laps_original, laps_replayed = _analytics(
        e, spark, [(stored.topics, tmp_path / "ck-original"), (again, tmp_path / "ck-replay")]
    )
    assert sorted((car, lap) for _s, car, lap in laps_original) == [
        (f"car-0{n}", lap) for n in range(1, CARS + 1) for lap in range(1, LAPS + 1)
    ]
    assert sorted(laps_replayed) == sorted((new_id, car, lap) for _s, car, lap in laps_original)
    for (_s, car, lap), want in laps_original.items():
        got = laps_replayed[(new_id, car, lap)]
        for name, value in want.items():
            if name == "session_id":
                continue
            if name in ("lap_start", "lap_end"):
                # Crossings are interpolated from the shifted times and rounded to the
                # microsecond: the same to within one.
                assert abs(got[name] - (value + shift)) <= 1, (car, lap, name)
            elif name in TIMES_S:  # a difference of two such crossings
                assert abs(got[name] - value) <= 2e-6, (car, lap, name)
            elif isinstance(value, float):
                assert got[name] == pytest_approx(value, 1e-9), (car, lap, name)
            else:
                assert got[name] == value, (car, lap, name)


def test_an_exported_session_replays_from_its_file_as_it_was(
    stored: Stored, tmp_path: Path
) -> None:
    exported = tmp_path / "session.parquet"
    _f1_replay(stored, "--session-id", stored.session, "--export", str(exported))

    out = tmp_path / "replayed.jsonl"
    result = _f1_replay(
        stored, "--file", str(exported), "--rate", "max", "--keep-time",
        "--new-session-id", stored.session, "--output", str(out),
    )  # fmt: skip
    assert result.stdout.strip().splitlines()[-1] == stored.session
    replayed = pd.read_json(out, lines=True, dtype=False, convert_dates=False, precise_float=True)
    replayed = replayed.sort_values(["car_id", "timestamp"], kind="stable").reset_index(drop=True)
    original = stored.records
    assert list(replayed.columns) == list(original.columns)
    for name in original.columns:
        assert np.array_equal(_values(replayed[name]), _values(original[name])), name


def _values(column: pd.Series) -> np.ndarray:
    """The column's values with every missing one (None, NaN: null in JSON) as None."""
    return np.array([None if pd.isna(v) else v for v in column.tolist()], dtype=object)
