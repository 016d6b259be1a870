"""The dead-letter queue: records that cannot be decoded or stored, with the reason in headers.

The original key and value go to the DLQ topic unchanged. Headers say why (the
``DecodeError.reason`` code, or ``influx-rejected``), the human message, and where the record
came from (topic, partition, offset), so it can be found, fixed and replayed.

Dead letters must be durable before the offsets of their records are committed, or a crash in
between would lose them: :meth:`DeadLetters.flush` blocks until the broker has acknowledged
every one (``acks=all``, idempotent producer), producing again what failed for a transient
reason (a broker outage, a leader election).

A record too large for the DLQ (the broker or the client refuses its size) is sent truncated
to its first :data:`TRUNCATED_BYTES` bytes, with header ``f1-dlq-truncated`` giving its whole
size, and if even that is refused, with no key or value at all: the letter still says where
the record is. A letter the broker refuses for any other lasting reason (no such topic, not
authorised) is an :class:`~runtime.errors.InfrastructureError`: the sink stops with one line
and commits nothing, so the record is read again once the DLQ is fixed.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from runtime.command import StopEvent
from runtime.errors import InfrastructureError
from runtime.kafka import client_config, transient
from schemas.topics import (
    DLQ_ERROR_HEADER,
    DLQ_REASON_HEADER,
    DLQ_SERVICE_HEADER,
    DLQ_SOURCE_OFFSET_HEADER,
    DLQ_SOURCE_PARTITION_HEADER,
    DLQ_SOURCE_TOPIC_HEADER,
    DLQ_TRUNCATED_HEADER,
)

log = logging.getLogger(__name__)

# Headers beyond the ones in schemas.topics: where exactly the record was read.
SERVICE = "f1-sink-influx"

# Reason code for points InfluxDB refused (the decode reasons come from schemas.serde_errors).
INFLUX_REJECTED = "influx-rejected"
# Longest error message kept in a header; InfluxDB can quote a whole line back.
MAX_ERROR_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Source:
    """Where a record was read, and its raw bytes: all a dead letter needs."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None

    @classmethod
    def of(cls, msg: Message) -> Source:
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        if topic is None or partition is None or offset is None:
            # Only Kafka's error events lack a position, and they are never dead-lettered.
            raise ValueError(f"not a consumed record: {msg!r}")
        return cls(topic, partition, offset, msg.key(), msg.value())


def headers_for(source: Source, reason: str, error: str) -> list[tuple[str, bytes]]:
    return [
        (DLQ_REASON_HEADER, reason.encode()),
        (DLQ_ERROR_HEADER, error[:MAX_ERROR_CHARS].encode(errors="replace")),
        (DLQ_SOURCE_TOPIC_HEADER, source.topic.encode()),
        (DLQ_SOURCE_PARTITION_HEADER, str(source.partition).encode()),
        (DLQ_SOURCE_OFFSET_HEADER, str(source.offset).encode()),
        (DLQ_SERVICE_HEADER, SERVICE.encode()),
    ]


# What a letter keeps of a record too large to send whole: enough to see what it was.
TRUNCATED_BYTES = 64 * 1024


@dataclass(slots=True)
class _Letter:
    source: Source
    headers: list[tuple[str, bytes]]
    key: bytes | None
    value: bytes | None
    cut: int = 0  # 0: whole; 1: truncated; 2: key and value left out


def _first(data: bytes | None, size: int) -> bytes | None:
    return data[:size] or None if data else None


class DeadLetters:
    """An idempotent producer to the DLQ topic that can prove its letters are durable."""

    def __init__(self, bootstrap: str, topic: str, *, producer: Producer | None = None) -> None:
        self.topic = topic
        self.sent = 0  # acknowledged by the broker
        self.truncated = 0  # letters sent without their whole record
        self._lock = threading.Lock()
        self._pending: dict[int, _Letter] = {}
        self._failed: list[int] = []
        self._refused: str | None = None  # why the broker will never take a letter
        self._next_id = 0
        self._producer = (
            producer
            if producer is not None
            else Producer(
                client_config(
                    bootstrap,
                    acks="all",
                    **{"enable.idempotence": True, "linger.ms": 5, "error_cb": self._on_error},
                )
            )
        )

    @staticmethod
    def _on_error(err: KafkaError) -> None:
        if err.fatal():
            raise InfrastructureError(f"DLQ producer failed: {err.str()}")
        log.debug("DLQ producer: %s", err.str())

    def send(self, source: Source, reason: str, error: str) -> None:
        """Queue one dead letter; :meth:`flush` makes it durable."""
        log.warning(
            "DLQ: %s[%d]@%d %s: %s", source.topic, source.partition, source.offset, reason, error
        )
        letter = _Letter(source, headers_for(source, reason, error), source.key, source.value)
        with self._lock:
            letter_id = self._next_id
            self._next_id += 1
            self._pending[letter_id] = letter
        self._produce(letter_id)

    def _produce(self, letter_id: int) -> None:
        letter = self._pending[letter_id]

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            with self._lock:
                if err is None:
                    self._pending.pop(letter_id, None)
                    self.sent += 1
                elif err.code() == KafkaError.MSG_SIZE_TOO_LARGE or transient(err):
                    # Too large for the broker (its limit is below the client's): cut, again.
                    if err.code() == KafkaError.MSG_SIZE_TOO_LARGE:
                        self._cut(letter)
                    log.warning("DLQ delivery failed, will retry: %s", err.str())
                    self._failed.append(letter_id)
                else:
                    self._refused = self._refusal(letter, err)

        while True:
            try:
                self._producer.produce(
                    self.topic,
                    key=letter.key,
                    value=letter.value,
                    # The stub wants a list of (str, str | bytes | None); a list is invariant,
                    # so our list of (str, bytes) does not match, though produce() takes it.
                    headers=letter.headers,  # type: ignore[arg-type]
                    on_delivery=delivered,
                )
                return
            except BufferError:
                self._producer.poll(0.1)
            except KafkaException as exc:
                err = exc.args[0]
                if err.code() != KafkaError.MSG_SIZE_TOO_LARGE:
                    raise InfrastructureError(self._refusal(letter, err)) from exc
                self._cut(letter)

    def _cut(self, letter: _Letter) -> None:
        """The letter one step smaller: its record truncated, then left out."""
        if letter.cut == 2:
            raise InfrastructureError(
                f"DLQ topic {self.topic} refuses even an empty letter for "
                f"{letter.source.topic}[{letter.source.partition}]@{letter.source.offset} "
                "as too large"
            )
        if letter.cut == 0:
            size = len(letter.key or b"") + len(letter.value or b"")
            letter.headers.append((DLQ_TRUNCATED_HEADER, str(size).encode()))
            self.truncated += 1
        letter.cut += 1
        keep = TRUNCATED_BYTES if letter.cut == 1 else 0
        letter.key = _first(letter.key, keep)
        letter.value = _first(letter.value, keep)
        log.warning(
            "DLQ: the letter for %s[%d]@%d is too large for %s: sent with %s of its record "
            "(header %s)",
            letter.source.topic,
            letter.source.partition,
            letter.source.offset,
            self.topic,
            f"the first {keep} bytes" if keep else "none",
            DLQ_TRUNCATED_HEADER,
        )

    def _refusal(self, letter: _Letter, err: KafkaError) -> str:
        where = f"{letter.source.topic}[{letter.source.partition}]@{letter.source.offset}"
        return f"DLQ topic {self.topic} refuses the dead letter of {where}: {err.str()}"

    @property
    def outstanding(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self, stop: StopEvent | None = None, retry_s: float = 1.0) -> bool:
        """Block until every queued letter is acknowledged; True when done, False when
        ``stop`` was set first (then nothing that depends on them may be committed).
        InfrastructureError when the broker refuses a letter for good."""
        while True:
            self._producer.flush(1.0)
            with self._lock:
                failed, self._failed = self._failed, []
                pending = len(self._pending)
                refused = self._refused
            if refused is not None:
                raise InfrastructureError(refused)
            for letter_id in failed:
                self._produce(letter_id)
            if pending == 0:
                return True
            if stop is not None and stop.is_set():
                return False
            if failed:
                time.sleep(retry_s)
