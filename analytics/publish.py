"""Lap summaries to Kafka, each micro-batch exactly once, and to the console.

Spark's Kafka sink is at-least-once: a micro-batch that was written but not yet marked
committed in the checkpoint when the job died is written again on restart. Here each batch
is one Kafka transaction holding its summaries *and* a record of its batch id: the offset
``batch_id + 1`` committed for the job's bookkeeping group on partition 0 of the output
topic (``send_offsets_to_transaction``, the mechanism Kafka's own exactly-once pipelines
use). Both become visible together or not at all. Before writing a batch the publisher
reads that offset: a batch id at or below it was published already and is skipped. The
transactional id is the query run's (:mod:`analytics.query_run`: stable for one checkpoint,
new for a new one), so a new instance fences a zombie and aborts its open transaction at
start-up.

A transient Kafka error (a broker restarting, a leader election, a coordinator moving) is
retried with backoff, for as long as it lasts: the batch is written once Kafka is back. Only
a fatal error (this producer fenced by a newer instance, say) or one no retry can get past
fails the batch, which Spark then does not commit.

Readers of the output topic see only committed summaries when they read with
``isolation.level=read_committed`` (librdkafka's default; the Java client's is not).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from runtime.command import StopEvent
from runtime.errors import InfrastructureError
from runtime.kafka import client_config, transient
from schemas.serde import Serializer
from schemas.serde_errors import RecordError

log = logging.getLogger(__name__)

# Where the published batch id is kept: this partition of the output topic, in the
# bookkeeping group (no consumer ever joins that group; it only stores the offset).
BOOKKEEPING_PARTITION = 0
_TIMEOUT_S = 30.0
RETRY_MAX_S = 30.0


def format_summary(s: Mapping[str, Any]) -> str:
    """One console line per lap, as a pit wall reads it."""

    def t(seconds: float) -> str:
        minutes, rest = divmod(seconds, 60.0)
        return f"{int(minutes)}:{rest:06.3f}"

    return (
        f"{s['session_id']} {s['car_id']} {s['driver']} lap {s['lap']:>3}  "
        f"{t(s['lap_time_s'])}  S1 {s['sector1_s']:.3f}  S2 {s['sector2_s']:.3f}  "
        f"S3 {s['sector3_s']:.3f}  avg {s['avg_speed_kmh']:.1f} km/h  "
        f"top {s['max_speed_kmh']:.1f}  full throttle {100 * s['full_throttle_share']:.0f}%  "
        f"braking {100 * s['brake_share']:.0f}%  fuel {s['fuel_used_kg']:.2f} kg  "
        f"({s['sample_count']} samples)"
    )


class SummaryPublisher:
    """Writes each micro-batch's summaries in one transaction, skipping batches already done."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        serializer: Serializer,
        job_id: str,
        *,
        echo: Callable[[str], None] | None = print,
        retry_s: float = 0.5,
        producer: Any = None,
        consumer: Any = None,
    ) -> None:
        """``job_id``: the query run's id; ``retry_s``: the first backoff after a transient
        error (doubling up to RETRY_MAX_S). ``producer`` and ``consumer`` replace the Kafka
        clients (tests)."""
        self.topic = topic
        self.serializer = serializer
        self.job_id = job_id
        self.echo = echo
        self.published = 0
        self.skipped_batches = 0
        self.retries = 0  # transient errors got past
        self.invalid = 0
        # Set when the job stops: a batch waiting for Kafka to come back gives up.
        self.stop: StopEvent = threading.Event()
        self._retry_s = retry_s
        self._closed = False
        common = client_config(bootstrap, log_level=3)
        self._producer = producer or Producer(
            {
                **common,
                "transactional.id": job_id,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "error_cb": self._on_error,
            }
        )
        self._consumer = consumer or Consumer(
            {**common, "group.id": f"{job_id}-published", "enable.auto.commit": False}
        )
        self._slot = TopicPartition(topic, BOOKKEEPING_PARTITION)
        try:
            # Fences an older instance with the same id and aborts its open transaction.
            self._producer.init_transactions(_TIMEOUT_S)
        except KafkaException as exc:
            raise InfrastructureError(
                f"Kafka at {bootstrap}: cannot start a transactional producer: {exc}"
            ) from exc

    def _on_error(self, err: Any) -> None:
        if err.fatal():
            log.error("kafka producer: fatal: %s", err.str())
        else:
            log.debug("kafka producer: %s", err.str())

    def last_published_batch(self) -> int:
        """The highest micro-batch id whose summaries are on the topic, or -1."""
        try:
            return self._retrying("read the last published batch", self._last_published)
        except KafkaException as exc:
            raise InfrastructureError(
                f"cannot read the last published batch of {self.job_id}: {exc}"
            ) from exc

    def _last_published(self) -> int:
        (found,) = self._consumer.committed([self._slot], timeout=_TIMEOUT_S)
        return found.offset - 1 if found.offset >= 0 else -1

    def publish(self, batch_id: int, summaries: Iterable[Mapping[str, Any]]) -> int:
        """Publish one micro-batch; the number of summaries written (0 if already done).

        Transient Kafka errors are retried until Kafka is back (or :attr:`stop` is set);
        InfrastructureError for a fatal one: the batch fails, Spark does not commit it, and a
        restart writes it.
        """
        rows = sorted(summaries, key=lambda s: (s["lap_end"], s["car_id"]))
        if not rows:
            return 0
        values, good = [], []
        for r in rows:
            try:
                values.append((str(r["car_id"]), self.serializer.encode(r)))
                good.append(r)
            except RecordError as exc:
                # A summary outside the contract's ranges is a finding, not a reason to stop
                # publishing every other car's laps.
                self.invalid += 1
                log.error("not published, breaks the lap_summary contract: %s: %s", exc, r)
        try:
            written = self._retrying(
                f"publish batch {batch_id}", lambda: self._transaction(batch_id, values)
            )
        except KafkaException as exc:
            raise InfrastructureError(
                f"cannot publish batch {batch_id} to {self.topic}: {exc}"
            ) from exc
        if not written:
            self.skipped_batches += 1
            return 0
        self.published += len(good)
        if self.echo is not None:
            for r in good:
                self.echo(format_summary(r))
        return len(good)

    def _transaction(self, batch_id: int, values: list[tuple[str, bytes]]) -> bool:
        """One try at writing the batch in a transaction; False when it was published
        already. KafkaException with the transaction aborted when it fails."""
        last = self._last_published()
        if batch_id <= last:
            log.info(
                "batch %d: already published (up to batch %d), %d summaries not written again",
                batch_id,
                last,
                len(values),
            )
            return False
        self._producer.begin_transaction()
        try:
            for key, value in values:
                self._produce(key, value)
            self._producer.send_offsets_to_transaction(
                [TopicPartition(self.topic, BOOKKEEPING_PARTITION, batch_id + 1)],
                self._consumer.consumer_group_metadata(),
                _TIMEOUT_S,
            )
            self._commit()
        except KafkaException:
            self._abort()
            raise
        return True

    def _commit(self) -> None:
        attempt = 0
        while True:
            try:
                self._producer.commit_transaction(_TIMEOUT_S)
                return
            except KafkaException as exc:
                err: KafkaError = exc.args[0]
                # A commit whose outcome is unknown is committed again, not aborted: librdkafka
                # says retriable only when that is safe.
                if not err.retriable() or err.fatal():
                    raise
                attempt += 1
                self._wait(f"commit of the transaction failed ({err.str()})", attempt)

    def _retrying(self, what: str, attempt_once: Callable[[], Any]) -> Any:
        """``attempt_once()`` again after each transient KafkaException, with backoff."""
        attempt = 0
        while True:
            try:
                return attempt_once()
            except KafkaException as exc:
                err: KafkaError = exc.args[0]
                if err.fatal() or not (transient(err) or err.txn_requires_abort()):
                    raise
                attempt += 1
                self._wait(f"cannot {what} yet ({err.str()})", attempt)

    def _wait(self, why: str, attempt: int) -> None:
        delay = min(RETRY_MAX_S, self._retry_s * 2 ** (attempt - 1))
        self.retries += 1
        if attempt == 1 or attempt % 10 == 0:
            log.warning("%s: retrying (attempt %d, next in %.1f s)", why, attempt, delay)
        if self.stop.wait(delay):
            raise InfrastructureError(f"stopped while Kafka was failing: {why}")

    def _produce(self, key: str, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(self.topic, key=key.encode(), value=value)
                return
            except BufferError:
                self._producer.poll(0.05)

    def _abort(self) -> None:
        try:
            self._producer.abort_transaction(_TIMEOUT_S)
        except KafkaException as exc:
            log.warning("abort of the transaction failed: %s", exc)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._producer.flush(_TIMEOUT_S)
        # Close the client now: a producer left to the garbage collector keeps reconnecting
        # (and logging) after the broker has gone.
        self._producer.close()
        self._consumer.close()

    def __enter__(self) -> SummaryPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
