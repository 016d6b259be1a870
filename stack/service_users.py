"""Who may do what on the secured stack: one user per service, and the Kafka ACLs that give
each only what it needs.

The same user names log in to Kafka (SCRAM-SHA-512) and to the schema registry (basic auth
through the TLS proxy, where only ``admin`` may change anything). The group names and the
transactional-id prefix are the services' own (see the constants below); the stack does
not import the services, so ``tests/test_stack_secure_config.py`` holds them to the
services' values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from runtime.kafka import END_OFFSETS_GROUP
from schemas.topics import Topics

# sinks/settings.py: the sink's consumer group (F1_SINK_GROUP).
SINK_GROUP_ENV = "F1_SINK_GROUP"
SINK_GROUP_DEFAULT = "f1-sink-influx"
# analytics/query_run.py: the analytics job's transactional id and its bookkeeping group
# (``<run id>-published``) both start with the run id, which starts with this.
ANALYTICS_PREFIX = "f1-analytics-"
# Spark's Kafka source names the consumer groups of its driver and executors with this.
SPARK_SOURCE_GROUP_PREFIX = "spark-kafka-source-"
# dashboard/feed.py: a fresh group per pit-wall process, never committed.
DASHBOARD_GROUP_PREFIX = "f1-dashboard-"


@dataclass(frozen=True)
class Grant:
    """One ACL: ``operation`` allowed on a resource (``prefixed``: every name starting so)."""

    resource: str  # "topic", "group", "transactional_id" or "cluster"
    name: str
    operation: str  # a Kafka ACL operation: "READ", "WRITE", "CREATE", ...
    prefixed: bool = False


@dataclass(frozen=True)
class ServiceUser:
    name: str
    used_by: str  # the commands that log in as this user
    grants: tuple[Grant, ...]
    # "write" or "read": the InfluxDB token the user's services need, if any.
    influx: str | None = None
    # Registers schemas and sets compatibility; everyone else only reads the registry.
    registry_writer: bool = False


def service_users(topics: Topics | None = None, sink_group: str | None = None) -> list[ServiceUser]:
    """Every user of the secured stack with its grants, for the topic names in force."""
    topics = topics or Topics.from_env()
    sink_group = sink_group or os.environ.get(SINK_GROUP_ENV) or SINK_GROUP_DEFAULT
    return [
        ServiceUser(
            "producer",
            "f1-simulate, f1-ingest-udp, f1-replay",
            (Grant("topic", topics.telemetry, "WRITE"),),
            # f1-replay reads stored sessions.
            influx="read",
        ),
        ServiceUser(
            "sink",
            "f1-sink-influx",
            (
                Grant("topic", topics.telemetry, "READ"),
                Grant("topic", topics.analytics, "READ"),
                Grant("topic", topics.dlq, "WRITE"),
                Grant("group", sink_group, "READ"),
            ),
            influx="write",
        ),
        ServiceUser(
            "analytics",
            "f1-analytics",
            (
                Grant("topic", topics.telemetry, "READ"),
                Grant("topic", topics.analytics, "WRITE"),
                # The published batch id is an offset committed on the output topic inside
                # each transaction, and committing an offset on a topic takes READ on it.
                Grant("topic", topics.analytics, "READ"),
                Grant("transactional_id", ANALYTICS_PREFIX, "WRITE", prefixed=True),
                Grant("group", ANALYTICS_PREFIX, "READ", prefixed=True),
                Grant("group", SPARK_SOURCE_GROUP_PREFIX, "READ", prefixed=True),
                # runtime.kafka.end_offsets: the job's replay check reads the end offsets.
                Grant("group", END_OFFSETS_GROUP, "READ"),
            ),
        ),
        ServiceUser(
            "dashboard",
            "the pit wall (panel serve dashboard/app.py)",
            (
                Grant("topic", topics.telemetry, "READ"),
                Grant("topic", topics.analytics, "READ"),
                Grant("group", DASHBOARD_GROUP_PREFIX, "READ", prefixed=True),
            ),
            influx="read",
        ),
        ServiceUser(
            "admin",
            "f1-schemas register, f1-stack topics --secure",
            (
                # Creates and inspects topics of any name (the names are settings), never
                # deletes one and never reads or writes records.
                Grant("topic", "*", "CREATE"),
                Grant("topic", "*", "DESCRIBE"),
                Grant("topic", "*", "DESCRIBE_CONFIGS"),
                Grant("cluster", "kafka-cluster", "DESCRIBE"),
            ),
            registry_writer=True,
        ),
    ]


def acl_bindings(users: list[ServiceUser]) -> list:
    """The confluent-kafka ``AclBinding`` of every grant of ``users``."""
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    # confluent-kafka calls the cluster resource BROKER.
    kinds = {
        "topic": ResourceType.TOPIC,
        "group": ResourceType.GROUP,
        "transactional_id": ResourceType.TRANSACTIONAL_ID,
        "cluster": ResourceType.BROKER,
    }
    return [
        AclBinding(
            kinds[grant.resource],
            grant.name,
            ResourcePatternType.PREFIXED if grant.prefixed else ResourcePatternType.LITERAL,
            f"User:{user.name}",
            "*",
            AclOperation[grant.operation],
            AclPermissionType.ALLOW,
        )
        for user in users
        for grant in user.grants
    ]
