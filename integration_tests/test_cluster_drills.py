"""Drills on the three-node cluster (``f1-stack up --brokers 3``), each with exact counts:

- the leader of the busiest telemetry partition is SIGKILLed while a 5-car grid produces and
  restarted 20 s later: every record once on the topic by (car, timestamp), every point once
  in InfluxDB, every lap summary once, and the node back in every in-sync replica set;
- three sinks in one consumer group, one joining and one leaving mid-stream: every point
  stored, each car in exactly one series (a replay after a rebalance overwrites);
- the analytics job on the Spark standalone cluster gives the same summaries as local[2].

The cluster is started once for the session (the ``cluster`` fixture) and its topics are
created with 3 replicas and ``min.insync.replicas=2``; the registry and InfluxDB are the
single-node stack's.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration_tests.analytics_helpers import (
    Session,
    encode_batches,
    read_telemetry,
    summaries_by_key,
)
from integration_tests.cluster_support import (
    AnalyticsProcess,
    Cluster,
    final_stored,
    in_sync_replicas,
    kill,
    partition_leaders,
    standalone_apps,
)
from integration_tests.kafka_io import produce_all
from integration_tests.platform_support import Run, platform_run, wait_until
from integration_tests.sink_support import (
    SinkProcess,
    committed,
    count_points,
    create_bucket,
    delete_bucket,
    encoded,
    end_offsets,
    in_background,
    influx,
    make_records,
    produce,
)
from schemas.registry import SchemaRegistry
from schemas.serde import telemetry_serializer
from schemas.topics import Topics
from stack.demo import prepare
from stack.topics import platform_topics
from tests.analytics_reference import assert_summaries_match, expected_summaries

pytestmark = pytest.mark.integration

# A short race: 2 laps of 5 cars at 5 times real time, about 37 s of producing.
CARS, LAPS, RATE = 5, 2, "5"
OUTAGE_S = 20.0


# --- the partition leader killed --------------------------------------------------------------


@pytest.fixture
def grid(cluster: Cluster, unique: str, tmp_path: Path) -> Iterator[Run]:
    with platform_run(
        cluster.endpoints, f"cl-{unique}", tmp_path, cars=CARS, rate=RATE, laps=LAPS
    ) as run:
        yield run


def test_partition_leader_killed_while_a_grid_produces(cluster: Cluster, grid: Run) -> None:
    run, bootstrap = grid, cluster.endpoints.kafka_bootstrap
    run.platform.start("sink-influx", "analytics")
    analytics_log = run.platform.services["analytics"].log_file
    wait_until(
        "the analytics job's first micro-batch",
        lambda: "analytics.job: batch " in analytics_log.read_text(errors="replace"),
        180,
    )
    run.platform.start("simulator")
    wait_until("points stored", lambda: sum(run.stored_points().values()) >= 2000, 90)

    # The leader of the partition with most records so far: where the grid is writing.
    ends = end_offsets(
        run.endpoints, run.topics.telemetry, platform_topics(run.topics)[0].partitions
    )
    busiest = max(ends, key=lambda p: ends[p])
    node = cluster.node(partition_leaders(bootstrap, run.topics.telemetry)[busiest])
    assert run.platform.exited() == {}, run.fail_message("a service ended before the kill")
    kill(node)
    killed_at = time.monotonic()
    try:
        # Leadership moves once the controller gives up on the node (its session timeout,
        # 9 s, later on a loaded machine): the partition is led by one of the two nodes left.
        wait_until(
            f"the partition's leadership to leave {node.name}",
            lambda: partition_leaders(bootstrap, run.topics.telemetry)[busiest] != node.node,
            OUTAGE_S - 2,
        )
        assert run.platform.exited() == {}, run.fail_message(f"a service died with {node.name}")
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - killed_at)))
        # Still producing through the whole outage, not finished before it.
        assert "simulator" not in run.platform.exited()
    finally:
        node.start()
        node.wait_healthy()

    run.wait_for_simulator()
    expected = run.expected_records
    want = Counter((r["car_id"], r["timestamp"]) for r in expected)
    assert run.kafka_keys() == want, "Kafka: records lost or duplicated"
    per_car = dict(Counter(r["car_id"] for r in expected))
    wait_until("every point in InfluxDB", lambda: run.stored_points() == per_car, 120)
    laps = expected_summaries(run.telemetry())
    assert len(laps) == CARS * LAPS  # a race: lap 1 from lights out, every lap complete
    summaries = run.summaries_when_complete(len(laps))
    assert_summaries_match(summaries_by_key(summaries), laps)
    # The restarted node catches up and is an in-sync replica of every partition again.
    wait_until(
        f"{node.name} back in every ISR",
        lambda: all(
            node.node in isr for isr in in_sync_replicas(bootstrap, run.topics.telemetry).values()
        ),
        60,
    )
    codes = run.platform.stop()
    assert codes == {name: (None if name == "dashboard" else 0) for name in codes}, (
        run.fail_message(f"exit codes {codes}")
    )


# --- sinks joining and leaving one group ------------------------------------------------------


def series_per_car(cluster: Cluster, bucket: str, session: str) -> Counter[str]:
    """How many series hold each car's points (one table per series: no regrouping)."""
    flux = (
        f'from(bucket: "{bucket}") |> range(start: 0, stop: 2200-01-01T00:00:00Z)'
        f' |> filter(fn: (r) => r._measurement == "telemetry" and r.session_id == "{session}"'
        ' and r._field == "lap") |> count()'
    )
    with influx(cluster.endpoints) as client:
        tables = client.query_api().query(flux)
    return Counter(table.records[0].values["car_id"] for table in tables if table.records)


def test_sinks_joining_and_leaving_one_group_store_every_point_once(
    cluster: Cluster, unique: str, tmp_path: Path
) -> None:
    e = cluster.endpoints
    topics = Topics(
        telemetry=f"cl-sink-{unique}",
        analytics=f"cl-sink-{unique}-laps",
        dlq=f"cl-sink-{unique}-dlq",
    )
    prepare(e, topics)  # six telemetry partitions: two for each of three sinks
    bucket, session, group = f"cl-sink-{unique}", f"cl-session-{unique}", f"cl-sink-{unique}"
    create_bucket(e, bucket)
    sinks: dict[str, SinkProcess] = {}
    try:
        records = make_records(session, cars=CARS, hz=10, seconds=200)
        n = len(records)
        with SchemaRegistry(e.registry_url) as registry:
            serializer = telemetry_serializer(registry, topics)
        # About 35 s of producing: the group changes twice while records keep coming.
        producing = in_background(
            lambda: produce(e, topics.telemetry, encoded(serializer, records), pace_per_s=300)
        )

        def sink(name: str) -> SinkProcess:
            sinks[name] = SinkProcess(
                e,
                topics,
                bucket,
                group,
                tmp_path / f"sink-{name}.log",
                "--batch-points",
                "500",
                "--batch-ms",
                "100",
            ).start()
            return sinks[name]

        def stored() -> int:
            return count_points(e, bucket, session)

        sink("a"), sink("b")
        wait_until("a quarter of the points", lambda: stored() >= n // 4, 60, poll_s=0.5)
        sink("c")  # joins: the group rebalances
        wait_until("half of the points", lambda: stored() >= n // 2, 60, poll_s=0.5)
        assert stored() < n, "the stream ended before the group changed: not mid-stream"
        assert sinks["b"].stop() == 0, sinks["b"].log()  # leaves: the group rebalances again
        assert stored() < n, "the stream ended before the group changed: not mid-stream"
        producing.join(120)

        wait_until("every point stored", lambda: stored() >= n, 90)
        parts = platform_topics(topics)[0].partitions

        def all_committed() -> bool:
            ends = end_offsets(e, topics.telemetry, parts)
            done = committed(e, group, topics.telemetry, parts)
            return all(done[p] == end for p, end in ends.items() if end > 0)

        wait_until("every offset committed", all_committed, 60)
        time.sleep(1)  # a late replay would overwrite, never add: nothing more may appear
        assert stored() == n
        assert series_per_car(cluster, bucket, session) == Counter(
            {f"car-{i:02d}": 1 for i in range(1, CARS + 1)}
        )
        for name in ("a", "c"):
            assert sinks[name].stop() == 0, sinks[name].log()
        # Each sink held partitions with data: the joiner took over some, the leaver gave
        # its own away (a replay after a rebalance can make the sum exceed n, never less).
        stored_by = {name: final_stored(s.log()) for name, s in sinks.items()}
        assert all(stored_by.values()), stored_by
        assert sum(stored_by.values()) >= n
    finally:
        for s in sinks.values():
            if s.alive():
                s.stop()
        delete_bucket(e, bucket)


# --- the analytics job on Spark standalone ------------------------------------------------------


def test_analytics_on_spark_standalone_matches_local(
    cluster: Cluster, unique: str, tmp_path: Path
) -> None:
    e = cluster.endpoints
    telemetry = f"cl-spark-{unique}"
    on = {
        master: Topics(
            telemetry=telemetry, analytics=f"{telemetry}-{label}", dlq=f"{telemetry}-dlq"
        )
        for master, label in (("local[2]", "local"), (cluster.spark_master, "standalone"))
    }
    for topics in on.values():
        prepare(e, topics)
    # 3 laps of 3 cars at 50 Hz, all on the topic before either job starts: both read the
    # same input in the same micro-batches.
    session = Session(cars=3, hz=50, seed=13, session_id=f"cl-{unique}")
    topics = on["local[2]"]
    produce_all(
        e.kafka_bootstrap, telemetry, encode_batches(e.registry_url, topics, session.until_laps(3))
    )
    want = expected_summaries(read_telemetry(e.kafka_bootstrap, e.registry_url, telemetry))
    assert len(want) >= 3

    got = {}
    for master, topics in on.items():
        job = AnalyticsProcess(
            e,
            topics,
            master,
            tmp_path / f"ck-{topics.analytics}",
            tmp_path / f"{topics.analytics}.log",
        )
        job.start()
        try:
            summaries = job.wait_for_summaries(len(want))
            if master == cluster.spark_master:
                apps = standalone_apps()
                assert len(apps) == 1 and apps[0]["cores"] > 0, apps  # really on the cluster
            assert job.stop() == 0, job.log()[-3000:]
        finally:
            if job.alive():
                job.stop()
        got[master] = summaries_by_key(summaries)

    local, standalone = got["local[2]"], got[cluster.spark_master]
    assert_summaries_match(local, want)
    assert standalone == local
