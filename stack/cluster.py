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
from stack.lifecycle import install_missing, start_and_wait, started_summary, stop_services
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
    install_missing(every)
    fresh = start_and_wait(every)
    print(f"cluster is up {started_summary(every, fresh, started_at)}")
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
    return stop_services(services())
