"""In-memory stand-ins for Kafka and the schema registry, shared by the unit tests.

- :class:`FakeRegistry`: the platform's :class:`schemas.registry.SchemaRegistry` (what
  serializers, deserializers and services call).
- :class:`FakeRegistryClient`: Confluent's ``SchemaRegistryClient``, the layer under
  ``SchemaRegistry``, for the tests of that wrapper itself.
- :class:`FakeConsumer`, :class:`FakeProducer` and :class:`FakeMessage`: the parts of
  ``confluent_kafka``'s consumer, producer and message that the services use.

Each records what was asked of it, so a test can assert on calls as well as on results.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import SimpleNamespace
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.schema_registry import RegisteredSchema as ClientRegistered
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError

from schemas.registry import (
    RegisteredSchema,
    RegistryUnavailableError,
    SchemaIdNotFoundError,
    SchemaNotRegisteredError,
    SubjectNotFoundError,
    same_schema,
    schema_text,
)

Schemaish = str | Mapping[str, Any]


# --- the schema registry ------------------------------------------------------------------------


class FakeRegistry:
    """Schemas by id and subjects by name, in memory.

    ``FakeRegistry({7: schema})`` knows schema id 7 (a dict or its JSON text) and no subject;
    :meth:`register` adds subjects. ``down = True`` makes every call fail as an unreachable
    registry does. ``calls`` counts every call, ``fetches`` the :meth:`schema_by_id` ones.
    Unlike ``SchemaRegistry`` it caches nothing, so ``fetches`` shows what the callers' own
    caches save.
    """

    url = "http://registry.fake"

    def __init__(self, schemas: Mapping[int, Schemaish] | None = None) -> None:
        # A test may add an id later, as a registration elsewhere would.
        self.schemas: dict[int, Schemaish] = dict(schemas or {})
        self.subjects: dict[str, list[int]] = {}  # subject -> schema id of each version
        self.down = False
        self.calls = 0
        self.fetches = 0

    def _call(self) -> None:
        self.calls += 1
        if self.down:
            raise RegistryUnavailableError(f"schema registry at {self.url} is unreachable")

    def schema_by_id(self, schema_id: int) -> str:
        self.fetches += 1
        self._call()
        if schema_id not in self.schemas:
            raise SchemaIdNotFoundError(f"schema id {schema_id} is not known")
        schema = self.schemas[schema_id]
        return schema if isinstance(schema, str) else json.dumps(schema)

    def register(self, subject: str, schema: Schemaish) -> RegisteredSchema:
        """Idempotent, as the registry is: the same schema again is the same version."""
        self._call()
        versions = self.subjects.setdefault(subject, [])
        for version, schema_id in enumerate(versions, start=1):
            if same_schema(self.schemas[schema_id], schema):
                return self._registered(subject, version)
        same = [i for i, text in self.schemas.items() if same_schema(text, schema)]
        schema_id = same[0] if same else max(self.schemas, default=0) + 1
        self.schemas[schema_id] = schema_text(schema)
        versions.append(schema_id)
        return self._registered(subject, len(versions))

    def latest(self, subject: str) -> RegisteredSchema:
        self._call()
        if not self.subjects.get(subject):
            raise SubjectNotFoundError(f"subject {subject!r} is not registered at {self.url}")
        return self._registered(subject, len(self.subjects[subject]))

    def id_for(self, subject: str, schema: Schemaish) -> RegisteredSchema:
        """The version of ``subject`` that is exactly ``schema``; never registers."""
        self.latest(subject)
        for version, schema_id in enumerate(self.subjects[subject], start=1):
            if same_schema(self.schemas[schema_id], schema):
                return self._registered(subject, version)
        raise SchemaNotRegisteredError(f"the schema is not registered under {subject!r}")

    def _registered(self, subject: str, version: int) -> RegisteredSchema:
        schema_id = self.subjects[subject][version - 1]
        return RegisteredSchema(subject, version, schema_id, schema_text(self.schemas[schema_id]))


class FakeRegistryClient:
    """Just enough of Confluent's ``SchemaRegistryClient``, with its status and error codes.

    ``refuse = True`` makes the registry refuse new versions as incompatible; ``down = True``
    refuses connections. ``calls`` lists the requests by name.
    """

    def __init__(self) -> None:
        self.subjects: dict[str, list[tuple[int, str]]] = {}  # subject -> [(id, text)]
        self.ids: dict[str, int] = {}
        self.config: dict[str, str] = {}
        self.refuse = False
        self.down = False
        self.calls: list[str] = []

    def _check(self, name: str) -> None:
        self.calls.append(name)
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused")

    def _versions(self, subject: str) -> list[tuple[int, str]]:
        if subject not in self.subjects:
            raise SchemaRegistryError(404, 40401, f"Subject '{subject}' not found.")
        return self.subjects[subject]

    def clear_latest_caches(self) -> None:
        pass

    def close(self) -> None:
        pass

    def get_latest_version(self, subject: str) -> ClientRegistered:
        self._check("latest")
        versions = self._versions(subject)
        sid, text = versions[-1]
        return ClientRegistered(subject, len(versions), sid, None, Schema(text, "AVRO"))

    def lookup_schema(self, subject: str, schema: Schema) -> ClientRegistered:
        self._check("lookup")
        for i, (sid, text) in enumerate(self._versions(subject), start=1):
            if same_schema(text, schema.schema_str):
                return ClientRegistered(subject, i, sid, None, schema)
        raise SchemaRegistryError(404, 40403, "Schema not found")

    def register_schema_full_response(self, subject: str, schema: Schema) -> ClientRegistered:
        self._check("register")
        if self.refuse:
            raise SchemaRegistryError(409, 409, "Incompatible artifact: rpm at /fields/15")
        key = json.dumps(json.loads(schema.schema_str), sort_keys=True)
        sid = self.ids.setdefault(key, len(self.ids) + 1)
        self.subjects.setdefault(subject, []).append((sid, schema.schema_str))
        return ClientRegistered(None, None, sid, None, Schema(None, "AVRO"))  # Confluent: id only

    def get_schema(self, schema_id: int) -> Schema:
        self._check("get_schema")
        for versions in self.subjects.values():
            for sid, text in versions:
                if sid == schema_id:
                    return Schema(text, "AVRO")
        raise SchemaRegistryError(404, 40403, f"Schema {schema_id} not found.")

    def set_compatibility(self, subject: str, level: str) -> dict[str, str]:
        self._check("set_compatibility")
        self.config[subject] = level
        return {"compatibility": level}

    def get_compatibility(self, subject: str) -> str:
        self._check("get_compatibility")
        if subject not in self.config:
            raise SchemaRegistryError(404, 40408, "no config")
        return self.config[subject]

    def test_compatibility(self, subject: str, schema: Schema) -> bool:
        self._check("test_compatibility")
        self._versions(subject)
        return not self.refuse


# --- Kafka ----------------------------------------------------------------------------------


class FakeMessage:
    """A consumed message: the accessors of ``confluent_kafka.Message`` the services read."""

    def __init__(
        self,
        topic: str,
        value: bytes | None,
        *,
        partition: int = 0,
        offset: int = 0,
        timestamp_ms: int | None = None,
        key: bytes | str | None = b"car",
        headers: list[tuple[str, bytes]] | None = None,
        error: KafkaError | None = None,
    ) -> None:
        self._topic, self._value, self._key, self._error = topic, value, key, error
        self._partition, self._offset, self._headers = partition, offset, headers
        # Default: produced now, as a live stream's records are.
        self._ts = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | str | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list[tuple[str, bytes]] | None:
        return self._headers

    def error(self) -> KafkaError | None:
        return self._error

    def timestamp(self) -> tuple[int, int]:
        return (1, self._ts)


class FakeConsumer:
    """A consumer on a broker that holds ``topics`` (name -> number of partitions).

    :meth:`consume` hands out ``messages`` in order. With none left it waits out its timeout,
    as a consumer at the end of its partitions does, unless ``drained`` is given: then it sets
    that event and returns at once, which ends a service loop that runs until its stop event.

    Offsets: :meth:`offsets_for_times` answers ``recent_offsets[partition]``, or -1 (no
    record that recent); :meth:`position` answers ``position_offset`` for every partition and
    :meth:`get_watermark_offsets` ``(0, high_watermark)``. Commits are appended to ``log``
    (pass a list shared with other fakes to see the order of events) as
    ``("commit", {(partition, offset), ...})``, or ``"commit-async"`` for asynchronous ones.
    ``down = True`` makes metadata requests fail as with an unreachable broker.
    """

    def __init__(
        self,
        messages: Iterable[FakeMessage] = (),
        *,
        topics: Mapping[str, int] | None = None,
        drained: threading.Event | None = None,
        log: list[Any] | None = None,
        recent_offsets: Mapping[int, int] | None = None,
        position_offset: int = 0,
        high_watermark: int = 0,
    ) -> None:
        self.queue = list(messages)
        self.topics = dict(topics or {})
        self.drained = drained
        self.log = log if log is not None else []
        self.recent_offsets = dict(recent_offsets or {})
        self.position_offset = position_offset
        self.high_watermark = high_watermark
        self.down = False
        self.closed = False
        self.subscribed: list[str] = []
        self.assigned: list[TopicPartition] = []
        self.asked_times: list[TopicPartition] = []

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any:
        if self.down:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))
        return SimpleNamespace(
            topics={
                name: SimpleNamespace(partitions=dict.fromkeys(range(n)))
                for name, n in self.topics.items()
            }
        )

    def subscribe(self, topics: list[str], **_callbacks: Any) -> None:
        self.subscribed = list(topics)

    def assign(self, parts: list[TopicPartition]) -> None:
        self.assigned = list(parts)

    def incremental_assign(self, parts: list[TopicPartition]) -> None:
        self.assigned += parts

    def assignment(self) -> list[TopicPartition]:
        return list(self.assigned)

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[FakeMessage]:
        if self.queue:
            taken, self.queue = self.queue[:num_messages], self.queue[num_messages:]
            return taken
        if self.drained is not None:
            self.drained.set()
        elif timeout > 0:
            time.sleep(timeout)
        return []

    def offsets_for_times(self, parts: list[TopicPartition], timeout: float = -1) -> list[Any]:
        self.asked_times += parts
        return [
            TopicPartition(p.topic, p.partition, self.recent_offsets.get(p.partition, -1))
            for p in parts
        ]

    def position(self, parts: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(p.topic, p.partition, self.position_offset) for p in parts]

    def get_watermark_offsets(
        self, tp: TopicPartition, timeout: float | None = None, cached: bool = False
    ) -> tuple[int, int]:
        return (0, self.high_watermark)

    def commit(
        self,
        message: FakeMessage | None = None,
        *,
        offsets: list[TopicPartition] | None = None,
        asynchronous: bool = True,
    ) -> None:
        if message is not None:
            offsets = [TopicPartition(message.topic(), message.partition(), message.offset() + 1)]
        done = {(tp.partition, tp.offset) for tp in offsets or []}
        self.log.append(("commit-async" if asynchronous else "commit", done))

    def close(self) -> None:
        self.closed = True


class FakeProducer:
    """A producer whose broker acknowledges everything on :meth:`flush`.

    :meth:`produce` queues a message; every ``full_every``-th call raises BufferError instead,
    as a full local queue does, and a message whose key and value add up to more than
    ``max_bytes`` raises KafkaException(MSG_SIZE_TOO_LARGE), as librdkafka's own size check
    does. ``sent`` lists what was queued as ``(topic, value, key)``.
    :meth:`flush` delivers the queue: each message (a dict of topic, key, value and headers)
    goes to ``delivered``, then to ``on_deliver``, then to its ``on_delivery`` callback with
    no error; or, while ``refuse`` holds a KafkaError, to its callback with that error (the
    broker refused it) and nowhere else. :meth:`poll` only counts calls (``polls``).
    """

    def __init__(
        self,
        *,
        full_every: int | None = None,
        on_deliver: Callable[[dict[str, Any]], None] | None = None,
        max_bytes: int | None = None,
        refuse: KafkaError | None = None,
    ) -> None:
        self.full_every = full_every
        self.on_deliver = on_deliver
        self.max_bytes = max_bytes
        self.refuse = refuse
        self.calls = 0
        self.polls = 0
        self.sent: list[tuple[str, Any, Any]] = []
        self.waiting: list[tuple[dict[str, Any], Callable[..., None] | None]] = []
        self.delivered: list[dict[str, Any]] = []

    def produce(
        self,
        topic: str,
        value: Any = None,
        key: Any = None,
        headers: Any = None,
        on_delivery: Callable[..., None] | None = None,
        **_options: Any,
    ) -> None:
        self.calls += 1
        if self.full_every and self.calls % self.full_every == 0:
            raise BufferError("queue full")
        if self.max_bytes is not None and len(key or b"") + len(value or b"") > self.max_bytes:
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
        self.sent.append((topic, value, key))
        message = {"topic": topic, "key": key, "value": value, "headers": dict(headers or {})}
        self.waiting.append((message, on_delivery))

    def poll(self, timeout: float = -1) -> int:
        self.polls += 1
        return 0

    def flush(self, timeout: float = -1) -> int:
        waiting, self.waiting = self.waiting, []
        for message, on_delivery in waiting:
            if self.refuse is not None:
                if on_delivery is not None:
                    on_delivery(self.refuse, None)
                continue
            self.delivered.append(message)
            if self.on_deliver is not None:
                self.on_deliver(message)
            if on_delivery is not None:
                on_delivery(
                    None, FakeMessage(message["topic"], message["value"], key=message["key"])
                )
        return 0
