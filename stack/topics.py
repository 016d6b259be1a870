"""The platform's topics, created up front with the partitions a full grid needs.

Brokers may auto-create topics on first use, but with one partition and default
settings; creating them here gives the telemetry topic room for a 20-car grid (key = car
id, so each car stays in order within its partition) and makes the layout explicit.

The replication follows the cluster the topics are created on (:func:`replication_for`):
one copy on a single broker, three with ``min.insync.replicas=2`` from three brokers on, so
that with the producers' ``acks=all`` a record is acknowledged only once two brokers hold it
and one broker can die without losing or blocking anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from runtime.errors import InfrastructureError
from runtime.kafka import client_config
from schemas.topics import Topics


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int


@dataclass(frozen=True)
class Replication:
    factor: int
    min_insync: int

    def config(self) -> dict[str, str]:
        return {"min.insync.replicas": str(self.min_insync)}


def replication_for(brokers: int) -> Replication:
    """Copies of each partition on a cluster of ``brokers``: up to three, and writes need all
    but one of them (never fewer than one), so one broker may be down at any time."""
    factor = max(1, min(3, brokers))
    return Replication(factor, max(1, factor - 1))


def platform_topics(topics: Topics | None = None) -> list[TopicSpec]:
    topics = topics or Topics.from_env()
    return [
        # Six partitions spread 20 cars over both cores of a consumer; more is no faster here.
        TopicSpec(topics.telemetry, 6),
        TopicSpec(topics.analytics, 1),
        TopicSpec(topics.dlq, 1),
    ]


def broker_count(
    bootstrap: str, timeout_s: float = 30.0, security: Mapping[str, Any] | None = None
) -> int:
    """How many brokers of the cluster at ``bootstrap`` are up (``security``: the client's
    login settings, for a secured cluster)."""
    admin = AdminClient(client_config(bootstrap, log_level=0, **(security or {})))
    try:
        return len(admin.list_topics(timeout=timeout_s).brokers)
    except KafkaException as exc:
        raise InfrastructureError(f"Kafka at {bootstrap} is unreachable: {exc}") from exc


def ensure_topics(
    bootstrap: str,
    specs: list[TopicSpec],
    timeout_s: float = 30.0,
    security: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create the topics that do not exist yet, replicated as the cluster's size allows
    (:func:`replication_for`); the names of those created."""
    admin = AdminClient(client_config(bootstrap, log_level=0, **(security or {})))
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise InfrastructureError(f"Kafka at {bootstrap} is unreachable: {exc}") from exc
    missing = [s for s in specs if s.name not in metadata.topics]
    if not missing:
        return []
    replication = replication_for(len(metadata.brokers))
    futures = admin.create_topics(
        [
            NewTopic(
                s.name,
                num_partitions=s.partitions,
                replication_factor=replication.factor,
                config=replication.config(),
            )
            for s in missing
        ]
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
