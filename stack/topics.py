"""The platform's topics, created up front with the partitions a full grid needs.

Brokers may auto-create topics on first use, but with one partition and default
settings; creating them here gives the telemetry topic room for a 20-car grid (key = car
id, so each car stays in order within its partition) and makes the layout explicit.
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from runtime.errors import InfrastructureError
from runtime.kafka import client_config
from schemas.topics import Topics


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int


def platform_topics(topics: Topics | None = None) -> list[TopicSpec]:
    topics = topics or Topics.from_env()
    return [
        # Six partitions spread 20 cars over both cores of a consumer; more is no faster here.
        TopicSpec(topics.telemetry, 6),
        TopicSpec(topics.analytics, 1),
        TopicSpec(topics.dlq, 1),
    ]


def ensure_topics(bootstrap: str, specs: list[TopicSpec], timeout_s: float = 30.0) -> list[str]:
    """Create the topics that do not exist yet; the names of those created."""
    admin = AdminClient(client_config(bootstrap, log_level=0))
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
    except KafkaException as exc:
        raise InfrastructureError(f"Kafka at {bootstrap} is unreachable: {exc}") from exc
    missing = [s for s in specs if s.name not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(s.name, num_partitions=s.partitions, replication_factor=1) for s in missing]
    )
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:
            # Another process created it in the meantime: that is what we wanted.
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise InfrastructureError(f"creating topic {name} failed: {exc}") from exc
        created.append(name)
    return created
