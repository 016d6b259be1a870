"""The three-node cluster (``f1-stack up --brokers 3``): three Kafka KRaft nodes
(``stack.kafka_cluster``) and, when pyspark is installed, a Spark standalone master and
worker (``stack.spark_standalone``).

Only Kafka and Spark are clustered: services on the cluster use the single-node stack's
schema registry and InfluxDB (``f1-stack up``). The cluster has its own ports and state
folder, so it runs beside the single-node stack, which stays the default of every command.
"""

from __future__ import annotations

import time

from runtime.errors import ConfigError
from stack import kafka_cluster, spark_jars
from stack.kafka_cluster import NODES, bootstrap, cluster_dir
from stack.service import Service
from stack.spark_standalone import SparkMaster, SparkWorker, master_url
from stack.topics import replication_for

# 1: the single-node stack. 3: a controller quorum and replicas that survive one node down
# (2 nodes would survive none: a quorum of 2 needs both).
SIZES = (1, NODES)


def parse_brokers(text: str) -> int:
    """``--brokers``: 1 or 3; ConfigError (one line, exit 2) for anything else."""
    for size in SIZES:
        if text.strip() == str(size):
            return size
    raise ConfigError(
        f"--brokers must be 1 (the single-node stack) or {NODES} (a cluster that keeps "
        f"working with one node down), got {text!r}"
    )


def services() -> list[Service]:
    """The cluster's processes in start order (stopped in reverse)."""
    found: list[Service] = list(kafka_cluster.nodes())
    if spark_jars.wanted():
        found += [SparkMaster(), SparkWorker()]
    return found


def up() -> int:
    started_at = time.monotonic()
    every = services()
    for service in every:
        if not service.installed():
            print(f"installing {service.name} (first run only)")
            service.install()
    # All nodes first, then wait: a node answers only once a quorum of controllers runs.
    fresh = [s for s in every if s.running() is None]
    for service in fresh:
        service.start()
    for service in every:
        service.wait_healthy()
        service.after_start()
    took = time.monotonic() - started_at
    print(
        f"cluster is up ({len(fresh)} started, {len(every) - len(fresh)} already running) "
        f"in {took:.1f} s"
    )
    for service in every:
        print(f"  {service.name:16} {service.describe()}")
    replication = replication_for(NODES)
    print(
        f"  {'topics':16} {replication.factor} replicas, min.insync.replicas "
        f"{replication.min_insync} (f1-stack topics --brokers {NODES})"
    )
    print(f"  {'state and logs':16} {cluster_dir()}")
    print("# for services and clients in this shell; the schema registry and InfluxDB are the")
    print("# single-node stack's (f1-stack up):")
    print(f"export F1_KAFKA_BOOTSTRAP={bootstrap()}")
    if spark_jars.wanted():
        print(f"export SPARK_MASTER={master_url()}")
    return 0


def down() -> int:
    for service in reversed(services()):
        record = service.stop()
        if record is None:
            print(f"{service.name:16} not running")
        else:
            print(f"{service.name:16} stopped (pid {record.pid})")
    return 0
