"""Where the integration tests find real infrastructure, in this order:

1. endpoints from the env vars when ``F1_KAFKA_BOOTSTRAP`` is set (bring your own cluster);
2. testcontainers when a Docker engine answers (``integration_tests/containers.py``);
3. otherwise the local stack (``f1-stack up``), started here if it is not running and
   stopped again at the end if this session started it.

Every test uses its own topic and subject names (a unique suffix), so tests never see
each other's data, and a running demo can share the same stack.

The cluster drills also get the three-node cluster (``f1-stack up --brokers 3``: Kafka on
19092-19094, Spark standalone on 17077), started once for the session by the ``cluster``
fixture, beside the single-node stack whose registry and InfluxDB they use.

The secured stack's tests get the secured stack (``f1-stack up --secure``: Kafka SASL_SSL on
29092, the registry over TLS on 28081, InfluxDB on 28086), started once for the session by
the ``secure_stack`` fixture; they need no other infrastructure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from runtime.endpoints import Endpoints

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from integration_tests.cluster_support import Cluster


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:  # no engine, no socket, no permission: all mean "no Docker"
        return False
    return True


def infrastructure_source() -> str:
    """'env', 'docker' or 'local-stack': where the tests get their infrastructure."""
    if os.environ.get("F1_KAFKA_BOOTSTRAP"):
        return "env"
    if _docker_answers():
        return "docker"
    return "local-stack"


@pytest.fixture(scope="session")
def source() -> str:
    return infrastructure_source()


@pytest.fixture(scope="session")
def endpoints(source: str, request: pytest.FixtureRequest) -> Iterator[Endpoints]:
    if source == "env":
        yield Endpoints.from_env()
    elif source == "docker":
        from integration_tests.containers import docker_stack

        with docker_stack() as found:
            yield found
    else:
        yield from _local_stack(request)


@pytest.fixture
def local_stack(source: str, endpoints: Endpoints) -> Endpoints:
    """For tests that stop and start the stack's own processes."""
    if source != "local-stack":
        pytest.skip(f"needs the local stack (f1-stack); infrastructure here comes from {source}")
    return endpoints


def _local_stack(request: pytest.FixtureRequest) -> Iterator[Endpoints]:
    from integration_tests.stack_session import stack_session
    from stack import lifecycle

    for _ in stack_session(
        request, "the local stack (f1-stack up)", lifecycle.services(), lifecycle.up, lifecycle.down
    ):
        yield Endpoints.from_env()


@pytest.fixture(scope="session")
def cluster(source: str, endpoints: Endpoints, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The three-node cluster, once per session; stopped at the end if the session started
    it (``F1_KEEP_STACK=1`` keeps it). Its nodes are local processes that the drills kill."""
    if source != "local-stack":
        pytest.skip(f"needs the local stack's processes; infrastructure here comes from {source}")
    from integration_tests.cluster_support import cluster_session

    yield from cluster_session(request, endpoints)


@pytest.fixture(scope="session")
def secure_stack(request: pytest.FixtureRequest) -> Iterator[Path]:
    """The secured stack with its topics, once per session; stopped at the end if the session
    started it (``F1_KEEP_STACK=1`` keeps it). Its state folder, where the CA, the password
    files and the tokens are."""
    from integration_tests.secure_support import secure_session

    yield from secure_session(request)


@pytest.fixture(scope="session")
def spark(endpoints: Endpoints) -> Iterator[SparkSession]:
    """One Spark session (``local[2]``, the job's own settings) for every test that runs Spark
    in this process: starting one costs seconds on these 2-core machines. Each test has its
    own topics and checkpoint."""
    from analytics.spark_session import build_session

    session = build_session("f1-integration-tests")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def unique() -> str:
    """A suffix for topic and subject names that no other test uses."""
    return uuid.uuid4().hex[:10]
