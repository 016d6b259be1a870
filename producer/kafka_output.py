"""Telemetry batches to Kafka: the platform's one telemetry output,
:mod:`runtime.kafka_output` (Avro through the registry, key = car id, counted deliveries)."""

from runtime.kafka_output import (
    PRODUCER_TUNING,
    DeliveryStats,
    KafkaTelemetryOutput,
    produce_all,
)

__all__ = ["PRODUCER_TUNING", "DeliveryStats", "KafkaTelemetryOutput", "produce_all"]
