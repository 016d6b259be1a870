"""The streaming query: Kafka telemetry in, lap summaries out, and the loop that runs it.

Start-up checks everything the query needs before Spark starts (registry reachable, both
subjects registered, broker reachable), so a bad setting costs one clear line, not a JVM.
"""

from __future__ import annotations

import json
import logging
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyspark.errors import StreamingQueryException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from analytics.lap_aggregation import UNKNOWN_ID_ERROR, decode, lap_summaries
from analytics.publish import SummaryPublisher
from analytics.query_run import run_id
from analytics.settings import Settings
from runtime.command import StopEvent
from runtime.errors import InfrastructureError
from runtime.kafka import broker_topics as check_broker
from runtime.kafka import end_offsets, spark_kafka_options
from schemas.registry import SchemaRegistry
from schemas.serde import Serializer, lap_summary_serializer

log = logging.getLogger(__name__)

QUERY_NAME = "f1-analytics"
_UNKNOWN_ID = re.compile(re.escape(UNKNOWN_ID_ERROR) + r"(\d+)")
# The message of the NullPointerException in KafkaMicroBatchStream.metrics (Spark 4.1.1).
_SPARK_55271 = 'because the return value of "scala.Option.get()" is null'


class QueryFailedError(InfrastructureError):
    """The streaming query stopped with an error it cannot get over by itself."""


# Spark's error classes for a checkpoint whose state another version of the job wrote.
_STATE_SCHEMA_CHANGED = (
    "STATE_STORE_KEY_SCHEMA_NOT_COMPATIBLE",
    "STATE_STORE_VALUE_SCHEMA_NOT_COMPATIBLE",
)


@dataclass
class Contract:
    """What the job fetched from the registry at start-up."""

    writers: dict[int, str]  # every version of the telemetry subject: id -> schema text
    serializer: Serializer  # lap_summary.avsc under its registered id
    # Partition -> the telemetry topic's end offset when the job last asked the registry: a
    # record below it was written before that, so its writer's version was among those read
    # then, and an id that is not is poison (analytics.lap_aggregation.decode).
    checked: dict[int, int] = field(default_factory=dict)


def load_contract(settings: Settings) -> Contract:
    with SchemaRegistry(settings.registry_url) as registry:
        versions = registry.versions(settings.topics.telemetry_subject)
        serializer = lap_summary_serializer(registry, settings.topics)
    writers = {v.schema_id: v.schema_str for v in versions}
    log.info(
        "telemetry writer schema ids %s, lap summaries written with id %d",
        sorted(writers),
        serializer.schema_id,
    )
    return Contract(writers, serializer)


class AnalyticsJob:
    """One analytics job: owns the publisher and (re)starts the streaming query.

    ``spark`` is created by the caller (the CLI builds one, tests reuse theirs) and is not
    stopped here.
    """

    def __init__(
        self,
        settings: Settings,
        spark: SparkSession,
        *,
        contract: Contract | None = None,
        echo: Callable[[str], None] | None = print,
    ) -> None:
        self.settings = settings
        self.spark = spark
        topics = check_broker(settings.kafka_bootstrap)
        if settings.topics.telemetry not in topics:
            log.warning(
                "topic %s does not exist yet: waiting for the producer", settings.topics.telemetry
            )
        self.contract = contract or load_contract(settings)
        self.publisher = SummaryPublisher(
            settings.kafka_bootstrap,
            settings.topics.analytics,
            self.contract.serializer,
            run_id(settings.checkpoint),
            echo=echo,
        )
        self.query: StreamingQuery | None = None
        self.progress: deque[dict[str, Any]] = deque(maxlen=10_000)
        self.restarts = 0
        self.schema_checks = 0  # registry rounds for unknown schema ids
        self._replay_restarts = 0

    # --- the query -----------------------------------------------------------------------

    def _source(self) -> DataFrame:
        s = self.settings
        reader = (
            self.spark.readStream.format("kafka")
            .options(**spark_kafka_options(s.kafka_bootstrap))
            .option("subscribe", s.topics.telemetry)
            .option("startingOffsets", s.starting_offsets)
        )
        if s.max_offsets_per_trigger:
            reader = reader.option("maxOffsetsPerTrigger", str(s.max_offsets_per_trigger))
        return reader.load()

    def build(self) -> DataFrame:
        """The summaries of the streaming query (not started)."""
        telemetry = decode(self._source(), self.contract.writers, self.contract.checked).observe(
            "telemetry",
            F.count(F.lit(1)).alias("records"),
            F.sum(F.when(F.col("valid"), 0).otherwise(1)).alias("invalid"),
        )
        return lap_summaries(
            telemetry,
            watermark=self.settings.watermark,
            car_timeout_ms=round(self.settings.car_timeout_s * 1000),
        )

    def _write_batch(self, batch: DataFrame, batch_id: int) -> None:
        # One action only: a second one would run the stateful step of the batch again.
        rows = [row.asDict() for row in batch.collect()]
        self.publisher.publish(batch_id, rows)

    def start(self) -> StreamingQuery:
        s = self.settings
        s.checkpoint.mkdir(parents=True, exist_ok=True)
        self.query = (
            self.build()
            .writeStream.queryName(QUERY_NAME)
            .outputMode("append")
            .foreachBatch(self._write_batch)
            .option("checkpointLocation", str(s.checkpoint))
            .trigger(processingTime=s.trigger)
            .start()
        )
        log.info(
            "reading %s, writing %s, trigger %.1f s, watermark %.0f s, checkpoint %s",
            s.topics.telemetry,
            s.topics.analytics,
            s.trigger_s,
            s.watermark_s,
            s.checkpoint,
        )
        return self.query

    # --- running -------------------------------------------------------------------------

    def run(
        self,
        stop: StopEvent,
        until: Callable[[AnalyticsJob], bool] | None = None,
        poll_s: float = 0.25,
    ) -> None:
        """Run until ``stop`` is set (or ``until(job)`` is true), then stop the query.

        A batch that meets a schema id the job was not started with fails before it is
        committed; the job asks the registry for the telemetry subject's versions (a new one
        is loaded, any other id written before is poison and skipped) and restarts the query
        from the checkpoint, which runs that batch again.
        """
        self.publisher.stop = stop  # a batch waiting for Kafka gives up when the job stops
        while True:
            query = self.start()
            try:
                failure = self._watch(query, stop, until, poll_s)
            finally:
                if query.isActive:
                    query.stop()
            if failure is None:
                return
            self._recover(failure)
            self.restarts += 1

    def _watch(
        self,
        query: StreamingQuery,
        stop: StopEvent,
        until: Callable[[AnalyticsJob], bool] | None,
        poll_s: float,
    ) -> str | None:
        last_batch = -1
        while not stop.is_set():
            try:
                # pyspark annotates the timeout as int, but its code takes any positive number
                # of seconds (it sends int(timeout * 1000) ms to the JVM).
                if query.awaitTermination(poll_s):  # type: ignore[arg-type]
                    break
            except StreamingQueryException as exc:
                return str(exc)
            latest = query.lastProgress
            if latest is not None and latest["batchId"] != last_batch:
                progress = json.loads(latest.json)  # plain dicts all the way down
                last_batch = progress["batchId"]
                self._record(progress)
            if until is not None and until(self):
                return None
        else:
            return None
        error = query.exception()
        return None if error is None else str(error)

    def _record(self, progress: dict[str, Any]) -> None:
        self.progress.append(progress)
        self._replay_restarts = 0
        state = (progress.get("stateOperators") or [{}])[0]
        observed = (progress.get("observedMetrics") or {}).get("telemetry") or {}
        invalid = observed.get("invalid") or 0
        log.info(
            "batch %d: %d records in %.2f s, state rows %s, dropped late %s, invalid %s, "
            "%d summaries published",
            progress["batchId"],
            progress.get("numInputRows", 0),
            (progress.get("durationMs", {}).get("triggerExecution", 0)) / 1000,
            state.get("numRowsTotal", "-"),
            state.get("numRowsDroppedByWatermark", "-"),
            invalid,
            self.publisher.published,
        )
        if invalid:
            log.warning(
                "batch %d: %d telemetry records not aggregated: not framed, poison schema "
                "id, body that does not decode or values outside the channel table (the "
                "storage sink puts them in the DLQ)",
                progress["batchId"],
                invalid,
            )

    def _recover(self, failure: str) -> None:
        if _SPARK_55271 in failure and self._replay_restarts < 3:
            # Spark 4.1.1 (SPARK-55271): when a start re-runs the batch left uncommitted
            # (after a crash, a stop mid-batch or a failed batch), the Kafka source's
            # progress metrics throw once that batch is committed. Nothing is lost: starting
            # the query again continues after it.
            self._replay_restarts += 1
            log.warning("restarting the query after Spark's progress-report failure (SPARK-55271)")
            return
        if any(name in failure for name in _STATE_SCHEMA_CHANGED):
            raise QueryFailedError(
                f"the checkpoint {self.settings.checkpoint} holds the lap state of another "
                "version of this job: give it a new checkpoint folder (--checkpoint, or "
                "F1_ANALYTICS_CHECKPOINT; the default is named for the state's layout), which "
                "reads the telemetry topic again from the starting offsets"
            )
        found = _UNKNOWN_ID.search(failure)
        if found is None:
            first = failure.strip().splitlines()[0] if failure.strip() else "unknown error"
            raise QueryFailedError(f"the streaming query failed: {first[:500]}")
        schema_id = int(found.group(1))
        self.schema_checks += 1
        # The end offsets first, the versions second: every record below those offsets was
        # written before the versions were read, so an id that is none of them is poison.
        # One registry round covers every unknown id on the topic so far, however many.
        topic = self.settings.topics.telemetry
        checked = end_offsets(self.settings.kafka_bootstrap, topic)
        with SchemaRegistry(self.settings.registry_url) as registry:
            versions = registry.versions(self.settings.topics.telemetry_subject)
        writers = {v.schema_id: v.schema_str for v in versions}
        if schema_id in writers:
            log.warning(
                "telemetry schema id %d was registered after start-up: decoding it from now on",
                schema_id,
            )
        else:
            log.warning(
                "schema id %d is not a version of %s: records of %s up to offsets %s whose ids "
                "are not are skipped as poison",
                schema_id,
                self.settings.topics.telemetry_subject,
                topic,
                checked,
            )
        self.contract.writers = writers
        self.contract.checked = checked

    def state_rows(self) -> list[int]:
        """State rows after each batch, as the query progress reports them."""
        return [
            int((p.get("stateOperators") or [{}])[0].get("numRowsTotal", 0)) for p in self.progress
        ]

    def close(self) -> None:
        if self.query is not None and self.query.isActive:
            self.query.stop()
        self.publisher.close()

    def __enter__(self) -> AnalyticsJob:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
