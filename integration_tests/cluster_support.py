"""The three-node cluster for the cluster drills: started once per test session (as
``f1-stack up --brokers 3`` starts it), its nodes killed and restarted, partition leaders
and replicas looked up, and the analytics job run as a process on either Spark master."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from integration_tests.analytics_helpers import read_summaries
from integration_tests.platform_support import wait_until
from integration_tests.stack_session import stack_session
from runtime.endpoints import Endpoints
from runtime.kafka import client_config
from schemas.topics import Topics
from stack import cluster, kafka_cluster
from stack.kafka_cluster import KafkaNode
from stack.spark_standalone import master_state, master_url

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Cluster:
    """The cluster's Kafka with the single-node stack's registry and InfluxDB."""

    endpoints: Endpoints
    spark_master: str

    def node(self, node_id: int) -> KafkaNode:
        return KafkaNode(node_id)


def cluster_session(request: pytest.FixtureRequest, endpoints: Endpoints) -> Iterator[Cluster]:
    """Bring the cluster up (idempotent); stop it at the end if this session started it."""
    what = f"the {kafka_cluster.NODES}-node cluster (f1-stack up --brokers {kafka_cluster.NODES})"
    for _ in stack_session(request, what, cluster.services(), cluster.up, cluster.down):
        yield Cluster(
            dataclasses.replace(endpoints, kafka_bootstrap=kafka_cluster.bootstrap()), master_url()
        )


def kill(node: KafkaNode) -> None:
    """SIGKILL the node's JVM, as a machine that loses power: no flush, no goodbye."""
    record = node.running()
    assert record is not None, f"{node.name} is not running"
    os.kill(record.pid, signal.SIGKILL)
    wait_until(f"{node.name} to die", lambda: node.running() is None, 30, poll_s=0.2)


def partition_leaders(bootstrap: str, topic: str) -> dict[int, int]:
    """Partition -> the node id that leads it."""
    metadata = AdminClient(client_config(bootstrap)).list_topics(topic, timeout=10)
    return {p.id: p.leader for p in metadata.topics[topic].partitions.values()}


def in_sync_replicas(bootstrap: str, topic: str) -> dict[int, set[int]]:
    """Partition -> the node ids of its in-sync replicas."""
    metadata = AdminClient(client_config(bootstrap)).list_topics(topic, timeout=10)
    return {p.id: set(p.isrs) for p in metadata.topics[topic].partitions.values()}


class AnalyticsProcess:
    """``python -m analytics`` on one Spark master, for one test's topics and checkpoint."""

    def __init__(
        self, endpoints: Endpoints, topics: Topics, master: str, checkpoint: Path, log_file: Path
    ) -> None:
        self.endpoints = endpoints
        self.topics = topics
        self.master = master
        self.log_file = log_file
        self.env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "F1_KAFKA_BOOTSTRAP": endpoints.kafka_bootstrap,
            "F1_SCHEMA_REGISTRY_URL": endpoints.registry_url.with_credentials(),
            "F1_TELEMETRY_TOPIC": topics.telemetry,
            "F1_ANALYTICS_TOPIC": topics.analytics,
            "F1_ANALYTICS_CHECKPOINT": str(checkpoint),
            "SPARK_TRIGGER_INTERVAL": "1s",
            # The driver's address as executors see it: loopback, where the worker runs.
            "SPARK_LOCAL_IP": "127.0.0.1",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> AnalyticsProcess:
        with self.log_file.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "analytics", "--master", self.master],
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def summaries(self) -> list[dict]:
        e = self.endpoints
        return read_summaries(e.kafka_bootstrap, e.registry_url, self.topics.analytics, wait_s=1.0)

    def wait_for_summaries(self, count: int, timeout_s: float = 300.0) -> list[dict]:
        def enough() -> list[dict] | None:
            assert self.alive(), f"the analytics job exited:\n{self.log()[-3000:]}"
            found = self.summaries()
            return found if len(found) >= count else None

        return wait_until(f"{count} lap summaries from {self.master}", enough, timeout_s, 2.0)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM and wait: the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")


def standalone_apps(name: str = "f1-analytics") -> list[dict]:
    """The master's running applications called ``name``, with the cores they hold."""
    state = master_state() or {}
    return [app for app in state.get("activeapps", []) if app.get("name") == name]


def final_stored(sink_log: str) -> int:
    """Records a sink stored, from its last progress line."""
    found = re.findall(r"(?:progress|final): stored (\d+) records", sink_log)
    return int(found[-1]) if found else 0


def elapsed(since: float) -> float:
    return time.monotonic() - since
