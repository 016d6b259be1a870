"""Kafka client configuration and the broker check every command makes before it starts.

One place builds the librdkafka configuration of every client of the project, so a setting
that concerns all of them (the bootstrap servers, and connection security) is applied once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from runtime.errors import InfrastructureError


def client_config(bootstrap: str, **extra: Any) -> dict[str, Any]:
    """The librdkafka configuration of one client: the bootstrap servers, then ``extra``."""
    return {"bootstrap.servers": bootstrap, **extra}


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
