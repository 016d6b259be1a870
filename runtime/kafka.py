"""Kafka client configuration and the broker check every command makes before it starts.

One place builds the librdkafka configuration of every client of the project, so a setting
that concerns all of them (the bootstrap servers, and connection security) is applied once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from typing import Any

from runtime.errors import InfrastructureError
from runtime.kafka_security import kafka_security

# The group end_offsets names (it reads offsets, never joins or commits); a secured cluster
# grants it to the users that call end_offsets.
END_OFFSETS_GROUP = "f1-end-offsets"


def client_config(bootstrap: str, **extra: Any) -> dict[str, Any]:
    """The librdkafka configuration of one client: the bootstrap servers, the connection
    security (``runtime.kafka_security``), then ``extra``, the client's own settings (its
    guarantees, such as ``acks``, win over a properties file's)."""
    return {"bootstrap.servers": bootstrap, **kafka_security().librdkafka(), **extra}


def local_stack_config(bootstrap: str, **extra: Any) -> dict[str, Any]:
    """The configuration of a client of the local stack's own brokers (its health checks):
    they listen on loopback without TLS or SASL whatever the security settings say, which
    describe the cluster the services are pointed at."""
    return {"bootstrap.servers": bootstrap, **extra}


def spark_kafka_options(bootstrap: str) -> dict[str, str]:
    """The same for Spark's Kafka source and sink (the Java client): ``kafka.``-prefixed
    options, to pass to ``.options(**...)``."""
    return {"kafka.bootstrap.servers": bootstrap, **kafka_security().spark_options()}


def broker_topics(
    bootstrap: str,
    *,
    attempts: int = 3,
    timeout_s: float = 3.0,
    wait_s: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> set[str]:
    """The broker's topic names; InfrastructureError naming the address when ``attempts``
    metadata requests in a row got no broker."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    # log_level 0: the outcome is reported once, here, not as librdkafka's own error lines.
    admin = AdminClient(client_config(bootstrap, log_level=0))
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            metadata = admin.list_topics(timeout=timeout_s)
            if metadata.brokers:
                return set(metadata.topics)
        except KafkaException as exc:
            last = exc
        if attempt + 1 < attempts:
            sleep(wait_s)
    detail = f": {last}" if last else ""
    raise InfrastructureError(
        f"Kafka at {bootstrap} is unreachable after {attempts} attempt(s){detail}"
    )


def end_offsets(bootstrap: str, topic: str, timeout_s: float = 10.0) -> dict[int, int]:
    """Partition -> the offset after the last record of ``topic`` now; InfrastructureError
    when the broker does not say."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer(client_config(bootstrap, log_level=0, **{"group.id": END_OFFSETS_GROUP}))
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise InfrastructureError(f"Kafka at {bootstrap}: no topic {topic}")
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)[1]
            for p in sorted(metadata.partitions)
        }
    except KafkaException as exc:
        raise InfrastructureError(f"Kafka at {bootstrap}: end offsets of {topic}: {exc}") from exc
    finally:
        consumer.close()


# librdkafka errors that go away by themselves (a broker, a leader or a coordinator is back,
# a request is sent again) although librdkafka does not flag all of them retriable. Anything
# else (authorization, a record the broker refuses, a fenced producer) stays however often
# it is retried.
_TRANSIENT_NAMES = (
    "_TRANSPORT",
    "_ALL_BROKERS_DOWN",
    "_MSG_TIMED_OUT",
    "_TIMED_OUT",
    "_TIMED_OUT_QUEUE",
    "_QUEUE_FULL",
    "_RESOLVE",
    "_WAIT_COORD",
    "REQUEST_TIMED_OUT",
    "NETWORK_EXCEPTION",
    "NOT_ENOUGH_REPLICAS",
    "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
    "LEADER_NOT_AVAILABLE",
    "NOT_LEADER_FOR_PARTITION",
    "BROKER_NOT_AVAILABLE",
    "COORDINATOR_NOT_AVAILABLE",
    "NOT_COORDINATOR",
    "COORDINATOR_LOAD_IN_PROGRESS",
    "CONCURRENT_TRANSACTIONS",
    "KAFKA_STORAGE_ERROR",
)


@cache
def _transient_codes() -> frozenset[int]:
    from confluent_kafka import KafkaError

    return frozenset(getattr(KafkaError, name) for name in _TRANSIENT_NAMES)


def transient(err: Any) -> bool:
    """Whether a ``KafkaError`` is worth retrying: not fatal, and retriable or one of the
    errors an outage or a leader election causes."""
    return not err.fatal() and (err.retriable() or err.code() in _transient_codes())
