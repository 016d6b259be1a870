"""The same infrastructure as docker-compose.yml, from testcontainers, when Docker answers.

Only used when Docker is available and no endpoints are given by env vars; machines
without Docker use the local stack instead (see conftest.py).
"""

from __future__ import annotations

import secrets
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from testcontainers.community.influxdb.version2 import InfluxDb2Container
from testcontainers.community.kafka import KafkaContainer
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

from runtime.endpoints import Endpoints

# The registry and InfluxDB images are the ones docker-compose.yml names; Kafka is Confluent's
# cp-kafka because testcontainers' KafkaContainer drives that image's start script.
KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.0"
REGISTRY_IMAGE = "confluentinc/cp-schema-registry:7.9.0"
INFLUX_IMAGE = "influxdb:2.7"


@contextmanager
def docker_stack() -> Iterator[Endpoints]:
    token = secrets.token_urlsafe(24)
    with ExitStack() as stack:
        network = stack.enter_context(Network())
        kafka = stack.enter_context(
            KafkaContainer(KAFKA_IMAGE)
            .with_kraft()
            .with_network(network)
            .with_network_aliases("kafka")
        )
        registry = (
            DockerContainer(REGISTRY_IMAGE)
            .with_network(network)
            .with_env("SCHEMA_REGISTRY_HOST_NAME", "schema-registry")
            .with_env("SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS", "PLAINTEXT://kafka:9092")
            .with_env("SCHEMA_REGISTRY_SCHEMA_COMPATIBILITY_LEVEL", "full_transitive")
            .with_exposed_ports(8081)
        )
        stack.enter_context(registry)
        influx = stack.enter_context(
            InfluxDb2Container(
                INFLUX_IMAGE,
                init_mode="setup",
                admin_token=token,
                username="f1admin",
                password=secrets.token_urlsafe(12),
                org_name="f1",
                bucket="telemetry",
            )
        )
        registry_url = (
            f"http://{registry.get_container_host_ip()}:{registry.get_exposed_port(8081)}"
        )
        _wait_http(f"{registry_url}/subjects")
        yield Endpoints(
            kafka_bootstrap=kafka.get_bootstrap_server(),
            registry_url=registry_url,
            influx_url=influx.get_url(),
            influx_token=token,
            influx_org="f1",
            influx_bucket="telemetry",
        )


def _wait_http(url: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
