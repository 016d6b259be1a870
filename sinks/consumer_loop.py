"""The sink's loop: consume, decode, batch, write, dead-letter, then commit.

Delivery is at-least-once with idempotent writes, which together store every record exactly
once:

* offsets are committed explicitly (``enable.auto.commit=false``), per partition, and only
  for a batch InfluxDB has accepted and whose dead letters the broker has acknowledged;
* a crash or a rebalance replays at most the uncommitted batches, and a replayed record lands
  on the same series and timestamp, overwriting itself.

One batch is written (in a worker thread) while the next is being consumed and decoded, so
decoding overlaps influxd's work; there is never more than one write in flight, and batches
are committed in order. While InfluxDB is down the write keeps retrying, the next batch fills
up and consuming pauses: memory stays bounded at two batches.

The records of each consume call are decoded together (``ColumnDecoder.decode_columns``) and
turned into line protocol column by column: the sink shares the machine with influxd, so
every microsecond of Python per record is taken from the database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from confluent_kafka import OFFSET_INVALID, KafkaError, KafkaException, Message, TopicPartition

from runtime.command import StopEvent
from runtime.errors import InfrastructureError
from schemas.channels import LAP_SUMMARY, TELEMETRY
from schemas.serde import DecodedColumns, decode_each
from sinks.dlq import INFLUX_REJECTED, DeadLetters, Source
from sinks.influx_writer import Lines, Rejected, WriteCancelled
from sinks.line_protocol import LineEncoder

log = logging.getLogger(__name__)

CONSUME_TIMEOUT_S = 0.1  # short, so signals and the batch timer are honoured
DECODE_RETRY_MAX_S = 5.0
SHUTDOWN_GRACE_S = 10.0  # how long a last write may keep retrying after a stop signal
# Most records one consume call takes: the records of a call are decoded and formatted
# together, and a few thousand at a time make the fixed cost of each numpy or Arrow call
# negligible (with a backlog, a whole batch is one call).
MAX_CONSUME = 10_000


class Decoder(Protocol):
    """Decodes one record (``Deserializer``)."""

    def decode(self, data: bytes) -> dict[str, Any]: ...


class BatchDecoder(Protocol):
    """Decodes the records of a batch together (``ColumnDecoder``)."""

    def decode_columns(self, values: list[bytes]) -> DecodedColumns: ...


class Writer(Protocol):
    retries: int

    def write(self, lines: Lines, cancel: threading.Event | None = None) -> list[Rejected]: ...


class Consumer(Protocol):
    def consume(self, num_messages: int, timeout: float) -> list[Message]: ...
    def commit(
        self, *, offsets: list[TopicPartition], asynchronous: Literal[False]
    ) -> list[TopicPartition]: ...
    def assignment(self) -> list[TopicPartition]: ...
    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]: ...
    def get_watermark_offsets(
        self, partition: TopicPartition, timeout: float = ..., cached: bool = ...
    ) -> tuple[int, int] | None: ...


@dataclass
class Batch:
    """Lines to write, where each came from, and the offsets to commit once written."""

    lines: Lines = field(default_factory=Lines)
    sources: list[Message] = field(default_factory=list)  # per line, for dead letters of rejects
    laps: int = 0  # lap summaries among the lines
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    opened: float | None = None
    consumed: int = 0
    oldest_kafka_ms: int | None = None  # produce time of the batch's first record

    def __len__(self) -> int:
        return len(self.lines)


@dataclass
class Stats:
    stored: int = 0  # points InfluxDB accepted
    telemetry: int = 0
    laps: int = 0
    dead: int = 0  # records sent to the DLQ
    batches: int = 0
    first_consumed: float | None = None  # monotonic time of the first record read
    # Per batch: wall-clock seconds from producing its first record to committing it.
    delay_s: float | None = None
    delays: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))
    lag: int | None = None  # records not yet committed, as of the last progress line


class SinkLoop:
    """Drives one consumer until ``stop`` is set; see the module doc for the guarantees."""

    def __init__(
        self,
        consumer: Consumer,
        writer: Writer,
        dead_letters: DeadLetters,
        decoders: Mapping[str, tuple[str, BatchDecoder | Decoder]],
        *,
        batch_points: int = 5000,
        batch_ms: float = 250.0,
        progress_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], float] = lambda: time.time() * 1000,
    ) -> None:
        """``decoders`` maps each topic to ``(record kind, decoder)``, the kind being
        ``schemas.channels.TELEMETRY`` or ``LAP_SUMMARY``; a decoder without
        ``decode_columns`` decodes one record at a time."""
        self.consumer = consumer
        self.writer = writer
        self.dlq = dead_letters
        self.decoders = decoders
        self.encoders = {kind: LineEncoder(kind) for kind in (TELEMETRY, LAP_SUMMARY)}
        self.batch_points = batch_points
        self.batch_s = batch_ms / 1000
        self.progress_s = progress_s
        self.stats = Stats()
        self.committed: dict[tuple[str, int], int] = {}
        self._clock = clock
        self._wall_ms = wall_ms
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="influx-write")
        self._in_flight: tuple[Batch, Future[list[Rejected]]] | None = None
        self._cancel = threading.Event()
        self._warned_topics: set[str] = set()
        self._last_progress = (clock(), 0)

    # --- the loop -----------------------------------------------------------------------------

    def run(self, stop: StopEvent) -> None:
        """Consume until ``stop`` is set, then write and commit what was read, and return."""
        batch = Batch()
        try:
            while not stop.is_set():
                batch = self._fill(batch, stop)
                if self._due(batch):
                    self._hand_over(batch, stop)
                    batch = Batch()
                elif self._in_flight is not None and self._in_flight[1].done():
                    self._settle(stop)  # the stream went quiet: commit without waiting for more
                self._maybe_progress()
            log.info("stopping: writing and committing what was read")
            if batch.offsets:
                self._hand_over(batch, stop)
            self._settle(stop)
        finally:
            self._cancel.set()
            self._executor.shutdown(wait=True)
            self._progress(final=True)

    def _due(self, batch: Batch) -> bool:
        if not batch.offsets:
            return False
        if len(batch) >= self.batch_points:
            return True
        return batch.opened is not None and self._clock() - batch.opened >= self.batch_s

    def _fill(self, batch: Batch, stop: StopEvent) -> Batch:
        """Consume into ``batch`` until it is due or a short poll comes back empty."""
        while not stop.is_set():
            if batch.opened is None:
                timeout = CONSUME_TIMEOUT_S
            else:
                left = self.batch_s - (self._clock() - batch.opened)
                if left <= 0:
                    return batch
                timeout = min(CONSUME_TIMEOUT_S, left)
            wanted = max(1, self.batch_points - len(batch))
            messages = self.consumer.consume(num_messages=min(wanted, MAX_CONSUME), timeout=timeout)
            if self._in_flight is not None and self._in_flight[1].done():
                self._settle(stop)  # commit the finished write now, not when this batch is due
            if not messages:
                return batch
            if not self._add_all(batch, messages, stop):
                return batch  # stopping while the registry is away: leave the rest unread
            if self._due(batch):
                return batch
        return batch

    def _add_all(self, batch: Batch, messages: list[Message], stop: StopEvent) -> bool:
        """Decode and encode ``messages`` into ``batch``; False when stopping mid-way.

        The records of each topic are decoded together; Kafka's errors, dead letters and
        offsets are handled per message, with nothing else per record.
        """
        by_topic: dict[str, list[Message]] = {}
        for msg in messages:
            err = msg.error()
            if err is not None:
                self._consumer_error(err, msg)
                continue
            topic = msg.topic()
            if topic is None:  # only Kafka's error events lack one, and those were handled
                raise InfrastructureError(f"Kafka returned a record without a topic: {msg!r}")
            same = by_topic.get(topic)
            if same is None:
                by_topic[topic] = same = []
            same.append(msg)
        for topic, msgs in by_topic.items():
            kind, decoder = self.decoders[topic]
            values = [msg.value() or b"" for msg in msgs]
            decoded = self._decode_retrying(decoder, kind, values, stop)
            if decoded is None:
                return False
            if batch.opened is None:
                self._open(batch, msgs[0])
            last = {msg.partition(): msg for msg in msgs}  # offsets only grow in a partition
            for partition, msg in last.items():
                offset = msg.offset()
                if partition is None or offset is None:  # as for the topic above
                    raise InfrastructureError(
                        f"Kafka returned a record without a position: {msg!r}"
                    )
                batch.offsets[(topic, partition)] = offset + 1
            batch.consumed += len(msgs)
            for i, exc in decoded.errors:
                self.dlq.send(Source.of(msgs[i]), exc.reason, str(exc))
            self.stats.dead += len(decoded.errors)
            if not len(decoded):
                continue
            batch.lines.add(self.encoders[kind].encode(decoded), len(decoded))
            if decoded.errors:
                msgs = [msgs[i] for i in decoded.rows.tolist()]
            batch.sources.extend(msgs)
            if kind == LAP_SUMMARY:
                batch.laps += len(decoded)
        return True

    def _open(self, batch: Batch, first: Message) -> None:
        """Start the batch's timer at its first record (never at a consumer error, which
        would leave a timer running on an empty batch)."""
        batch.opened = self._clock()
        if self.stats.first_consumed is None:
            self.stats.first_consumed = batch.opened
        produced_ms = first.timestamp()[1]
        if produced_ms > 0:
            batch.oldest_kafka_ms = produced_ms

    def _decode_retrying(
        self, decoder: BatchDecoder | Decoder, kind: str, values: list[bytes], stop: StopEvent
    ) -> DecodedColumns | None:
        """Decode while the registry cannot be asked for a schema (an infrastructure problem,
        never the records' fault): the decoded batch, or None when stopping."""
        attempt = 0
        while True:
            try:
                if hasattr(decoder, "decode_columns"):
                    return decoder.decode_columns(values)
                return decode_each(decoder.decode, values, self.encoders[kind].types)
            except InfrastructureError as exc:
                delay = min(DECODE_RETRY_MAX_S, 0.2 * 2**attempt)
                if attempt == 0 or attempt % 10 == 0:
                    log.warning("cannot decode yet, retrying: %s", exc)
                attempt += 1
                if stop.wait(delay):
                    return None

    def _consumer_error(self, err: KafkaError, msg: Message) -> None:
        if err.code() == KafkaError._PARTITION_EOF:
            return
        if err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            # The lap summary topic may not exist (yet): the sink stores it once it does.
            topic = msg.topic() or str(err)
            if topic not in self._warned_topics:
                self._warned_topics.add(topic)
                log.info("topic %s is not available (yet): %s", topic, err.str())
            return
        if err.fatal():
            raise InfrastructureError(f"Kafka consumer failed: {err.str()}")
        log.warning("Kafka consumer: %s", err.str())

    def abort(self) -> None:
        """Give up the write in flight at once (a second signal): nothing more is committed."""
        self._cancel.set()

    # --- writing and committing ---------------------------------------------------------------

    def _hand_over(self, batch: Batch, stop: StopEvent) -> None:
        """Finish the write in flight (commit it), then start writing ``batch``."""
        self._settle(stop)
        if self._cancel.is_set():
            return
        future = self._executor.submit(self.writer.write, batch.lines, self._cancel)
        self._in_flight = (batch, future)

    def _settle(self, stop: StopEvent) -> None:
        """Wait for the write in flight; dead-letter its rejects, then commit its offsets.

        After a stop signal the write gets SHUTDOWN_GRACE_S more to succeed (InfluxDB may be
        down); then it is cancelled and nothing is committed: the next start re-reads it.
        """
        if self._in_flight is None:
            return
        batch, future = self._in_flight
        stop_seen: float | None = None
        while True:
            try:
                rejected = future.result(timeout=0.2)
                break
            except TimeoutError:
                if stop.is_set():
                    stop_seen = stop_seen or self._clock()
                    if self._clock() - stop_seen > SHUTDOWN_GRACE_S:
                        log.warning("InfluxDB did not accept the last batch in time: giving up")
                        self._cancel.set()
            except WriteCancelled:
                self._in_flight = None
                log.warning("%d records not written; the next start reads them again", len(batch))
                return
        self._in_flight = None
        rejected_laps = 0
        for r in rejected:
            source = Source.of(batch.sources[r.index])
            self.dlq.send(source, INFLUX_REJECTED, f"HTTP {r.status}: {r.message}")
            rejected_laps += self.decoders[source.topic][0] == LAP_SUMMARY
        self.stats.dead += len(rejected)
        if not self.dlq.flush(stop):
            log.warning("dead letters not acknowledged; %d records not committed", len(batch))
            return
        self._commit(batch)
        laps = batch.laps - rejected_laps
        stored = len(batch) - len(rejected)
        self.stats.stored += stored
        self.stats.laps += laps
        self.stats.telemetry += stored - laps
        self.stats.batches += 1
        if batch.oldest_kafka_ms is not None and batch.oldest_kafka_ms > 0:
            delay = max(0.0, (self._wall_ms() - batch.oldest_kafka_ms) / 1000)
            self.stats.delay_s = delay
            self.stats.delays.append(delay)

    def _commit(self, batch: Batch) -> None:
        offsets = [TopicPartition(t, p, o) for (t, p), o in batch.offsets.items()]
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Typically a rebalance took the partition away: its new owner replays from the
            # last commit, and the replay overwrites the same points, so nothing is lost.
            log.warning("commit failed (the records will be replayed, not lost): %s", exc)
            return
        self.committed.update(batch.offsets)

    # --- progress -----------------------------------------------------------------------------

    def lag(self) -> int | None:
        """Records on the broker beyond the committed offsets of the assigned partitions.

        Call it from the loop's thread only: the consumer's calls block each other, so another
        thread would wait for the loop's consume(). Others read ``stats.lag``.
        """
        try:
            assigned = self.consumer.assignment()
            if not assigned:
                return None
            total = 0
            for tp in self.consumer.position(assigned):
                high = self.consumer.get_watermark_offsets(tp, cached=True)
                if high is None or high[1] < 0:
                    continue
                done = self.committed.get((tp.topic, tp.partition))
                if done is None:
                    done = tp.offset if tp.offset != OFFSET_INVALID and tp.offset >= 0 else 0
                total += max(0, high[1] - done)
            return total
        except KafkaException:
            return None

    def _maybe_progress(self) -> None:
        if self._clock() - self._last_progress[0] >= self.progress_s:
            self._progress()

    def _progress(self, final: bool = False) -> None:
        now = self._clock()
        since, stored_then = self._last_progress
        rate = (self.stats.stored - stored_then) / max(now - since, 1e-9)
        self._last_progress = (now, self.stats.stored)
        lag = self.lag()
        s = self.stats
        s.lag = lag
        delay = f"{s.delay_s:.2f} s" if s.delay_s is not None else "-"
        log.info(
            "%s: stored %d records (%d telemetry, %d laps), %.0f/s, lag %s records, "
            "delay %s, dlq %d, write retries %d",
            "final" if final else "progress",
            s.stored,
            s.telemetry,
            s.laps,
            rate,
            "-" if lag is None else lag,
            delay,
            s.dead,
            self.writer.retries,
        )
