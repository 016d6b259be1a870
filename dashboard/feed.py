"""The one Kafka consumer of a dashboard server process, in a background thread.

Browser sessions never consume: they render from the :class:`~dashboard.model.GridModel`
this thread fills. The consumer

- uses a fresh group id per process and never commits: the pit wall shows what is happening
  now, it has no position to keep;
- assigns partitions itself (no group rebalancing) and looks for the topics every few seconds,
  so a topic created after the dashboard started (the analytics topic, a new test topic) is
  picked up without a restart;
- starts the telemetry topic ``catchup_s`` back in time (``offsets_for_times``), so the
  current lap so far is known before the first browser connects, and the analytics topic
  at its beginning (a few records per lap);
- keeps running through a broker or registry outage: librdkafka reconnects by itself, records
  whose writer schema is not cached yet are dropped while the registry is down (the live view
  only needs the newest samples), and the status line says what is wrong.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)

import circuit
from dashboard.model import GridModel
from dashboard.settings import Settings
from runtime.kafka import client_config
from schemas.registry import RegistryUnavailableError, SchemaRegistry, probe
from schemas.serde import (
    Deserializer,
    lap_summary_deserializer,
    schema_id_of,
    telemetry_deserializer,
)
from schemas.serde_errors import DecodeError

log = logging.getLogger(__name__)

TOPIC_SCAN_S = 3.0
HEALTH_PROBE_S = 5.0
REGISTRY_BACKOFF_S = 5.0
# Kafka unanswered this long: start a new consumer (resuming where this one stopped) rather
# than trust a client whose connections may not recover by themselves after a broker restart.
RECONNECT_AFTER_S = 20.0
BATCH = 2000
# consume() returns when BATCH records are there or this has passed: short, so each
# producer batch reaches the model on its own instead of two being merged (late) into one.
CONSUME_WAIT_S = 0.005


class RecordDecoder:
    """A Deserializer that degrades instead of blocking when the registry is down.

    Ids already seen decode from the Deserializer's cache. An unknown id needs the registry;
    when it is unreachable the record is dropped and the registry is not asked again for
    ``backoff_s``, so an outage costs one timeout, not one per record.
    """

    def __init__(
        self,
        deserializer: Deserializer,
        model: GridModel,
        clock: Callable[[], float] = time.monotonic,
        backoff_s: float = REGISTRY_BACKOFF_S,
    ) -> None:
        self._de = deserializer
        self._model = model
        self._clock = clock
        self._backoff_s = backoff_s
        self._known: set[int] = set()
        self._retry_at = 0.0

    def decode(self, value: bytes | None) -> dict[str, Any] | None:
        status = self._model.status
        try:
            schema_id = schema_id_of(value) if value is not None else schema_id_of(b"")
        except DecodeError:
            status.decode_errors += 1
            return None
        if schema_id not in self._known and self._clock() < self._retry_at:
            status.dropped_registry_down += 1
            return None
        try:
            schema_id, record = self._de.decode_with_id(value)  # type: ignore[arg-type]
        except DecodeError as exc:
            status.decode_errors += 1
            log.debug("skipping a record: %s", exc)
            return None
        except RegistryUnavailableError as exc:
            status.registry = "down"
            status.dropped_registry_down += 1
            status.last_error = str(exc)
            self._retry_at = self._clock() + self._backoff_s
            log.warning("%s; retrying in %.0f s", exc, self._backoff_s)
            return None
        self._known.add(schema_id)
        return record


def consumer_config(bootstrap: str, on_error: Callable[[KafkaError], None]) -> dict[str, Any]:
    return client_config(bootstrap) | {
        # A fresh group per process: never shares partitions with another dashboard, never
        # commits; "latest" only matters for partitions without a catch-up offset.
        "group.id": f"f1-dashboard-{uuid.uuid4().hex[:12]}",
        "enable.auto.commit": False,
        "auto.offset.reset": "latest",
        # Small fetch waits: the producer lingers 20 ms, so samples reach the pit wall in
        # tens of milliseconds rather than librdkafka's default 500 ms batches.
        "fetch.wait.max.ms": 10,
        "fetch.min.bytes": 1,
        "reconnect.backoff.max.ms": 2000,
        "error_cb": on_error,
        "log_level": 2,
    }


class KafkaUnanswered(Exception):
    """The broker has not answered for a while: the feed starts a new consumer."""


class Feed(threading.Thread):
    """The consumer thread. ``start()`` once per process (see :func:`shared_feed`)."""

    def __init__(
        self,
        settings: Settings,
        model: GridModel,
        registry: SchemaRegistry | None = None,
        consumer_factory: Callable[[dict[str, Any]], Consumer] = Consumer,
    ) -> None:
        super().__init__(name="f1-dashboard-feed", daemon=True)
        assert settings.endpoints is not None
        self.settings = settings
        self.model = model
        self._endpoints = settings.endpoints
        self._registry = registry or SchemaRegistry(
            self._endpoints.registry_url, timeout_s=2.0, retries=0
        )
        self._telemetry = RecordDecoder(telemetry_deserializer(self._registry), model)
        self._summaries = RecordDecoder(lap_summary_deserializer(self._registry), model)
        self._consumer_factory = consumer_factory
        self._stopping = threading.Event()
        self._assigned: set[tuple[str, int]] = set()
        # Next offset per partition, kept across consumers: a new one resumes exactly here,
        # so a reconnect neither skips nor repeats records in the model.
        self._resume: dict[tuple[str, int], int] = {}
        self._window_count = 0
        self._window_start = time.monotonic()
        self._latency_max = 0.0
        self._probe = threading.Thread(
            target=self._probe_loop, name="f1-dashboard-health", daemon=True
        )

    # --- lifecycle ----------------------------------------------------------------------------

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        self._probe.start()
        while not self._stopping.is_set():
            try:
                self._consume()
            except KafkaUnanswered as exc:
                log.warning("%s; starting a new consumer", exc)
            except Exception as exc:  # keep the pit wall alive: report, back off, reconnect
                log.exception("feed failed; reconnecting in 2 s")
                with self.model.lock:
                    self.model.status.broker = "down"
                    self.model.status.last_error = f"{type(exc).__name__}: {exc}"
                self._stopping.wait(2.0)

    def _consume(self) -> None:
        consumer = self._consumer_factory(
            consumer_config(self._endpoints.kafka_bootstrap, self._on_error)
        )
        self._assigned.clear()
        next_scan = 0.0
        down_since: float | None = None
        try:
            while not self._stopping.is_set():
                now = time.monotonic()
                if now >= next_scan:
                    self._scan_topics(consumer)
                    next_scan = now + TOPIC_SCAN_S
                if self.model.status.broker != "down":
                    down_since = None
                elif down_since is None:
                    down_since = now
                elif now - down_since > RECONNECT_AFTER_S:
                    raise KafkaUnanswered(f"no answer from Kafka for {RECONNECT_AFTER_S:.0f} s")
                messages = consumer.consume(num_messages=BATCH, timeout=CONSUME_WAIT_S)
                if messages:
                    self._handle(messages)
                self._tick_rate(consumer)
        finally:
            consumer.close()

    # --- topics and offsets ------------------------------------------------------------------

    def _scan_topics(self, consumer: Consumer) -> None:
        topics = self.settings.topics
        try:
            metadata = consumer.list_topics(timeout=2.0)
        except KafkaException as exc:
            self._set_broker("down", f"Kafka at {self._endpoints.kafka_bootstrap}: {exc}")
            return
        self._set_broker("up")
        found = {name for name in (topics.telemetry, topics.analytics) if name in metadata.topics}
        with self.model.lock:
            self.model.status.topics_found = found
        new: list[TopicPartition] = []
        for name in sorted(found):
            for pid in sorted(metadata.topics[name].partitions):
                if (name, pid) not in self._assigned:
                    new.append(TopicPartition(name, pid))
        if not new:
            return
        starts = self._start_offsets(consumer, new)
        consumer.incremental_assign(starts)
        self._assigned.update((tp.topic, tp.partition) for tp in new)
        log.info(
            "assigned %s", ", ".join(f"{tp.topic}[{tp.partition}]@{tp.offset}" for tp in starts)
        )

    def _start_offsets(
        self, consumer: Consumer, parts: list[TopicPartition]
    ) -> list[TopicPartition]:
        resumed = [
            TopicPartition(tp.topic, tp.partition, self._resume[(tp.topic, tp.partition)])
            for tp in parts
            if (tp.topic, tp.partition) in self._resume
        ]
        parts = [tp for tp in parts if (tp.topic, tp.partition) not in self._resume]
        telemetry = [
            TopicPartition(
                tp.topic, tp.partition, int((time.time() - self.settings.catchup_s) * 1000)
            )
            for tp in parts
            if tp.topic == self.settings.topics.telemetry
        ]
        out = resumed + [
            TopicPartition(tp.topic, tp.partition, OFFSET_BEGINNING)
            for tp in parts
            if tp.topic != self.settings.topics.telemetry
        ]
        if telemetry:
            try:
                found = consumer.offsets_for_times(telemetry, timeout=5.0)
            except KafkaException as exc:
                log.warning("offsets_for_times failed (%s): starting at the end", exc)
                found = [TopicPartition(tp.topic, tp.partition, OFFSET_END) for tp in telemetry]
            # -1: nothing that recent in the partition, so start at its end.
            out += [
                TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_END)
                for tp in found
            ]
            with self.model.lock:
                self.model.status.catching_up = True
        return out

    # --- records ------------------------------------------------------------------------------

    def _handle(self, messages: list[Any]) -> None:
        telemetry_topic = self.settings.topics.telemetry
        records: list[dict[str, Any]] = []
        summaries: list[dict[str, Any]] = []
        newest_ts = 0
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer: %s", err.str())
                continue
            self._resume[(msg.topic(), msg.partition())] = msg.offset() + 1
            if msg.topic() == telemetry_topic:
                record = self._telemetry.decode(msg.value())
                if record is not None:
                    records.append(record)
                    newest_ts = max(newest_ts, msg.timestamp()[1])
            else:
                summary = self._summaries.decode(msg.value())
                if summary is not None:
                    summaries.append(summary)
        now_wall = time.time()
        with self.model.lock:
            self.model.ingest(records)
            for summary in summaries:
                self.model.laps.add(summary)
            status = self.model.status
            status.messages += len(messages)
            status.broker = "up"
            if records or summaries:
                status.last_message_at = time.monotonic()
            if newest_ts > 0:
                latency = max(0.0, now_wall * 1000 - newest_ts)
                self._latency_max = max(self._latency_max, latency)
                # Within a second of the present: the catch-up is over.
                if latency < 1000:
                    status.catching_up = False
        self._window_count += len(messages)

    def _tick_rate(self, consumer: Consumer) -> None:
        now = time.monotonic()
        elapsed = now - self._window_start
        if elapsed < 1.0:
            return
        lag = self._lag(consumer)
        with self.model.lock:
            status = self.model.status
            status.messages_per_s = self._window_count / elapsed
            status.latency_ms = self._latency_max if self._window_count else None
            status.lag_records = lag
        self._window_count = 0
        self._latency_max = 0.0
        self._window_start = now

    def _lag(self, consumer: Consumer) -> int | None:
        """Records on the telemetry topic not consumed yet: the high watermarks from the last
        fetch responses (no broker round trip) minus the consumer's positions."""
        parts = [
            TopicPartition(t, p) for t, p in self._assigned if t == self.settings.topics.telemetry
        ]
        if not parts:
            return None
        try:
            total = 0
            for tp in consumer.position(parts):
                _low, high = consumer.get_watermark_offsets(tp, cached=True)
                if tp.offset >= 0 and high >= 0:
                    total += max(0, high - tp.offset)
            return total
        except KafkaException:
            return None

    # --- callbacks from librdkafka (in this thread, during consume) ----------------------------

    def _on_error(self, err: KafkaError) -> None:
        if err.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT):
            self._set_broker("down", f"Kafka at {self._endpoints.kafka_bootstrap}: {err.str()}")
        else:
            log.info("kafka: %s", err.str())

    def _set_broker(self, state: str, error: str = "") -> None:
        with self.model.lock:
            status = self.model.status
            if status.broker != state:
                log.info("broker %s%s", state, f": {error}" if error else "")
            status.broker = state
            if error:
                status.last_error = error

    # --- registry health (its own thread: a probe may take its whole timeout) -------------------

    def _probe_loop(self) -> None:
        url = self._endpoints.registry_url
        while not self._stopping.is_set():
            problem = probe(url, timeout_s=1.5)
            with self.model.lock:
                status = self.model.status
                status.registry = "down" if problem else "up"
                if problem:
                    status.last_error = f"schema registry: {problem}"
            self._stopping.wait(HEALTH_PROBE_S)


def log_to_server() -> None:
    """Send the dashboard's own log lines (feed start, assignments, outages) to the server's
    output, once per process, however many sessions or plugins ask."""
    root = logging.getLogger("dashboard")
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False


def _shutdown(feed: Feed) -> None:
    """On server exit: leave the consume loop so the consumer is closed cleanly."""
    feed.stop()
    feed.join(timeout=3.0)


def new_model(settings: Settings) -> GridModel:
    """An empty model for the configured circuit (``F1_TRACK``, else Silverstone): the map
    draws it while the stream fits it, and what the stream shows when it does not."""
    return GridModel(circuit.load(settings.track), settings.trace_step_m)


_lock = threading.Lock()
_shared: tuple[GridModel, Feed] | None = None


def shared_feed(settings: Settings | None = None) -> tuple[GridModel, Feed]:
    """The process-wide model and its consumer thread, started on first use.

    ``panel serve`` runs ``app.py`` once per browser session; this module is imported once
    per process, so every session gets the same model and no session creates a consumer.
    """
    global _shared
    with _lock:
        if _shared is None:
            settings = settings or Settings.from_env()
            model = new_model(settings)
            feed = Feed(settings, model)
            feed.start()
            atexit.register(_shutdown, feed)
            log.info(
                "dashboard feed started: %s, topics %s and %s, catch-up %.0f s, circuit %s",
                settings.endpoints.kafka_bootstrap if settings.endpoints else "?",
                settings.topics.telemetry,
                settings.topics.analytics,
                settings.catchup_s,
                model.track.name if model.track else "from the stream",
            )
            _shared = (model, feed)
        return _shared
