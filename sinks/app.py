"""Start-up of the sink: check every dependency once, with one clear error, then run the loop.

What stops the sink at start-up (exit non-zero, one line): Kafka, the registry or InfluxDB
unreachable (InfrastructureError); the telemetry subject not registered, the bucket missing or
the token refused (ConfigError). Once running, the same outages only delay it: writes and
decodes are retried until the service is back.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack

from confluent_kafka import Consumer, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from runtime.command import StopEvent
from runtime.errors import InfrastructureError
from runtime.kafka import broker_topics, client_config
from schemas.channels import LAP_SUMMARY, TELEMETRY
from schemas.registry import SchemaRegistry, SubjectNotFoundError
from schemas.serde import ColumnDecoder, lap_summary_deserializer, telemetry_deserializer
from sinks.consumer_loop import SinkLoop
from sinks.dlq import DeadLetters
from sinks.influx_writer import InfluxWriter
from sinks.settings import SinkSettings

log = logging.getLogger(__name__)

KAFKA_CHECK_TIMEOUT_S = 10.0


def consumer_config(settings: SinkSettings) -> dict[str, object]:
    return client_config(
        settings.kafka_bootstrap,
        **{
            "group.id": settings.group_id,
            # Offsets are committed by the loop, explicitly, after InfluxDB accepted the batch.
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": settings.offset_reset,
            # Storage wants everything: a sink that starts late still reads from the beginning.
            "enable.partition.eof": False,
            # A lap summary topic created after start-up is picked up within a minute.
            "topic.metadata.refresh.interval.ms": 60_000,
            # An InfluxDB outage blocks consuming while the write retries; stay in the group
            # through long ones (a rebalance would only replay, but it costs a batch).
            "max.poll.interval.ms": 900_000,
            "fetch.wait.max.ms": 100,
        },
    )


def check_kafka(bootstrap: str, dlq_topic: str) -> set[str]:
    """The broker's topics; the DLQ topic is created if it is missing.

    InfrastructureError when the broker does not answer.
    """
    topics = broker_topics(bootstrap, attempts=1, timeout_s=KAFKA_CHECK_TIMEOUT_S)
    if dlq_topic not in topics:
        admin = AdminClient(client_config(bootstrap, log_level=0))
        # Replication factor left to the broker's default (-1), so a real cluster's applies.
        future = admin.create_topics([NewTopic(dlq_topic, num_partitions=1)])[dlq_topic]
        try:
            future.result(timeout=KAFKA_CHECK_TIMEOUT_S)
            log.info("created the DLQ topic %s", dlq_topic)
        except KafkaException as exc:
            if "already exists" not in str(exc).lower():
                raise InfrastructureError(f"cannot create topic {dlq_topic}: {exc}") from exc
    return topics


def run(settings: SinkSettings, stop: StopEvent, loop_ready=None) -> SinkLoop:
    """Check the dependencies, then run the sink until ``stop`` is set.

    ``loop_ready`` (optional) is called with the SinkLoop before it starts, so a caller (the
    signal handler, a benchmark) can reach it.
    """
    topics = settings.topics
    with ExitStack() as stack:
        registry = stack.enter_context(SchemaRegistry(settings.registry_url))
        # A missing subject means `f1-schemas register` never ran: stop with its name.
        registry.latest(topics.telemetry_subject)
        telemetry = ColumnDecoder(telemetry_deserializer(registry))
        decoders = {topics.telemetry: (TELEMETRY, telemetry)}
        try:
            registry.latest(topics.analytics_subject)
        except SubjectNotFoundError:
            log.info(
                "no subject %s yet: lap summaries are stored once it exists",
                topics.analytics_subject,
            )
        laps = ColumnDecoder(lap_summary_deserializer(registry))
        decoders[topics.analytics] = (LAP_SUMMARY, laps)

        writer = stack.enter_context(
            InfluxWriter(
                settings.influx_url,
                settings.influx_token.reveal(),
                settings.influx_org,
                settings.influx_bucket,
                gzip=settings.gzip,
                timeout_ms=settings.influx_timeout_ms,
                retry_max_s=settings.retry_max_s,
            )
        )
        writer.check()
        existing = check_kafka(settings.kafka_bootstrap, topics.dlq)
        if topics.telemetry not in existing:
            log.warning("topic %s does not exist yet: waiting for it", topics.telemetry)

        dead_letters = DeadLetters(settings.kafka_bootstrap, topics.dlq)
        consumer = Consumer(consumer_config(settings))
        stack.callback(consumer.close)
        consumer.subscribe([topics.telemetry, topics.analytics])
        log.info(
            "sinking %s and %s into %s bucket %s (group %s, batches of %d points or %.0f ms, "
            "gzip %s)",
            topics.telemetry,
            topics.analytics,
            settings.influx_url,
            settings.influx_bucket,
            settings.group_id,
            settings.batch_points,
            settings.batch_ms,
            "on" if settings.gzip else "off",
        )
        loop = SinkLoop(
            consumer,
            writer,
            dead_letters,
            decoders,
            batch_points=settings.batch_points,
            batch_ms=settings.batch_ms,
            progress_s=settings.progress_s,
        )
        if loop_ready is not None:
            loop_ready(loop)
        loop.run(stop)
        dead_letters.flush(stop)
        return loop
