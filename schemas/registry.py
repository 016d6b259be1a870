"""A thin wrapper over the Confluent Schema Registry client, speaking the project's errors.

Only the standard Confluent REST endpoints are used, so any registry with that API works
(Confluent, Apicurio's ``/apis/ccompat/v7``, Redpanda, Karapace):

* ``POST /subjects/{s}/versions``: register
* ``POST /subjects/{s}``: look a schema up in a subject (which id does my schema have?)
* ``GET /subjects/{s}/versions/latest``: the latest version of a subject
* ``GET /schemas/ids/{id}``: a writer schema by id
* ``PUT /config/{s}`` / ``GET /config/{s}``: compatibility level of a subject
* ``POST /compatibility/subjects/{s}/versions/latest``: would this schema be accepted?

Services never register. They ask which id their bundled schema has (:meth:`id_for`) and
fail at start-up with one line naming the subject (ConfigError: run ``f1-schemas register``)
or the URL (InfrastructureError: the registry is unreachable).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any, TypeVar

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from runtime.endpoints import SCHEMA_REGISTRY_URL
from runtime.errors import ConfigError, F1Error, InfrastructureError
from runtime.registry_access import RegistryAccess, registry_access

try:  # the HTTP library the Confluent client uses, for its transport errors
    import httpx2 as _httpx
except ImportError:  # pragma: no cover - older confluent-kafka
    # The same API under its older name; mypy takes the two modules for two types.
    import httpx as _httpx  # type: ignore[no-redef]

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_COMPATIBILITY = "FULL_TRANSITIVE"
COMPATIBILITY_LEVELS = (
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
)

# Client errors that a retry may get past: a timeout, too many requests.
_TRANSIENT_CLIENT_ERRORS = (408, 429)

# Confluent error codes (Apicurio's ccompat API returns the same ones).
_SUBJECT_NOT_FOUND = 40401
_VERSION_NOT_FOUND = 40402
_SCHEMA_NOT_FOUND = 40403


class RegistryUnavailableError(InfrastructureError):
    """The registry cannot be reached, or answers with a server error."""


class SubjectNotFoundError(ConfigError):
    """The subject has no schema registered: ``f1-schemas register`` has not been run."""


class SchemaNotRegisteredError(ConfigError):
    """The subject exists but the schema this code writes is not one of its versions."""


class IncompatibleSchemaError(ConfigError):
    """The registry refused a schema under the subject's compatibility level."""


class SchemaIdNotFoundError(F1Error):
    """No schema has this id. Deserializers turn it into UnknownSchemaIdError (a DecodeError),
    because it is the record's header that is wrong, not the infrastructure."""


class SchemaIdRefusedError(SchemaIdNotFoundError):
    """The registry refuses to serve this id (a client error other than 404, say 400 or 422):
    as for an unknown id, its records are dead letters, and the others keep flowing."""


class RegistryAccessError(ConfigError):
    """The registry refuses this client (HTTP 401 or 403): its credentials or permissions."""


@dataclass(frozen=True)
class RegisteredSchema:
    subject: str
    version: int
    schema_id: int
    schema_str: str

    @cached_property
    def schema(self) -> dict[str, Any]:
        return json.loads(self.schema_str)


def schema_text(schema: str | Mapping[str, Any]) -> str:
    """Compact JSON of a schema, as registered (comparisons parse it, so spacing is moot)."""
    data = json.loads(schema) if isinstance(schema, str) else dict(schema)
    return json.dumps(data, separators=(",", ":"))


def same_schema(a: str | Mapping[str, Any], b: str | Mapping[str, Any]) -> bool:
    """Whether two schemas are the same JSON, docs and defaults included: a registry may
    re-space the text it stores, but it must not lose a doc (the units live there)."""
    pa = json.loads(a) if isinstance(a, str) else a
    pb = json.loads(b) if isinstance(b, str) else b
    return json.dumps(pa, sort_keys=True) == json.dumps(pb, sort_keys=True)


def probe(url: str, timeout_s: float = 1.5) -> str | None:
    """None if a registry answers ``GET {url}/subjects`` within ``timeout_s``, else why not.

    Used where asking the registry is optional (``f1-schemas check``): a missing registry
    must cost at most ``timeout_s``, never the client's retries with backoff. It asks with
    the registry's credentials and CA (``runtime.registry_access``), as the client does.
    """
    access = registry_access(url)
    url = access.url
    try:
        with urllib.request.urlopen(
            access.request("/subjects"), timeout=timeout_s, context=access.ssl_context()
        ) as resp:
            resp.read()
        return None
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} from {url}"
    except (OSError, ValueError) as exc:  # refused, timed out, DNS, malformed URL
        return f"{url} did not answer: {getattr(exc, 'reason', exc)}"


class SchemaRegistry:
    """The registry as the platform uses it.

    ``timeout_s`` bounds each HTTP request, ``retries`` the retries of transient failures
    (connection refused, 5xx) that the Confluent client does with backoff. ``url`` may hold
    credentials; they are used as basic auth and ``self.url`` is shown without them.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        retries: int = 2,
        client: SchemaRegistryClient | None = None,
    ) -> None:
        access: RegistryAccess = registry_access(url)
        self.url = access.url.rstrip("/")
        try:
            self._client = client or SchemaRegistryClient(
                {**access.client_conf(), "timeout": timeout_s, "max.retries": retries}
            )
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"invalid schema registry URL {self.url!r}: {exc}") from exc
        # Writer schemas by id never change, so this cache never expires: consumers keep
        # decoding through a registry restart as long as they have seen the ids before.
        self._by_id: dict[int, str] = {}

    @classmethod
    def from_env(cls, url: str | None = None, **kwargs: Any) -> SchemaRegistry:
        """The registry at ``url``, else F1_SCHEMA_REGISTRY_URL, else the local default."""
        return cls(url or SCHEMA_REGISTRY_URL.resolve(), **kwargs)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SchemaRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- error translation ------------------------------------------------------------------

    @contextmanager
    def _request(self, what: str) -> Iterator[None]:
        """Turn transport failures and server errors into RegistryUnavailableError naming the
        URL; client errors (4xx) pass through for the caller to interpret."""
        try:
            yield
        except SchemaRegistryError as exc:
            if exc.http_status_code >= 500 or exc.http_status_code < 0:
                raise RegistryUnavailableError(
                    f"schema registry at {self.url} failed to {what}: {exc}"
                ) from exc
            raise
        except (_httpx.HTTPError, OSError) as exc:
            raise RegistryUnavailableError(
                f"schema registry at {self.url} is unreachable ({what}): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        except _httpx.InvalidURL as exc:
            raise ConfigError(f"invalid schema registry URL {self.url!r}: {exc}") from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # A body that is not JSON, or JSON without the API's fields: a proxy's error page,
            # or a URL that is not a registry's. The Confluent client parses it unchecked.
            raise RegistryUnavailableError(
                f"schema registry at {self.url} gave an answer that is not the Confluent "
                f"registry API's ({what}): {type(exc).__name__}: {exc}"
            ) from exc

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        with self._request(what):
            return fn()
        raise AssertionError("unreachable")  # pragma: no cover - for type checkers

    def _subject_missing(self, subject: str) -> SubjectNotFoundError:
        return SubjectNotFoundError(
            f"subject {subject!r} is not registered at {self.url}: run `f1-schemas register`"
        )

    # --- reads --------------------------------------------------------------------------------

    def latest(self, subject: str) -> RegisteredSchema:
        """The latest version of ``subject``; SubjectNotFoundError if it has none."""
        # The client caches "latest" forever; a registration since must be seen.
        self._client.clear_latest_caches()
        try:
            rs = self._call(
                f"get the latest version of {subject!r}",
                lambda: self._client.get_latest_version(subject),
            )
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise self._subject_missing(subject) from exc
            raise RegistryUnavailableError(
                f"schema registry at {self.url}: cannot read subject {subject!r}: {exc}"
            ) from exc
        return self._registered(subject, rs)

    def versions(self, subject: str) -> list[RegisteredSchema]:
        """Every version of ``subject``, oldest first (a Spark job needs every writer schema
        that may still be on the topic)."""
        try:
            numbers = self._call(
                f"list the versions of {subject!r}",
                lambda: sorted(int(n) for n in self._client.get_versions(subject)),
            )
            found = [
                self._call(
                    f"read version {n} of {subject!r}",
                    partial(self._client.get_version, subject, n),
                )
                for n in numbers
            ]
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise self._subject_missing(subject) from exc
            raise RegistryUnavailableError(
                f"schema registry at {self.url}: cannot read versions of {subject!r}: {exc}"
            ) from exc
        return [self._registered(subject, rs) for rs in found]

    def lookup(self, subject: str, schema: str | Mapping[str, Any]) -> RegisteredSchema | None:
        """The version of ``subject`` holding exactly ``schema``, or None if none does."""
        text = schema_text(schema)
        try:
            rs = self._call(
                f"look up a schema in {subject!r}",
                lambda: self._client.lookup_schema(subject, Schema(text, "AVRO")),
            )
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404 and exc.error_code == _SUBJECT_NOT_FOUND:
                raise self._subject_missing(subject) from exc
            if exc.http_status_code == 404:
                return None
            raise RegistryUnavailableError(
                f"schema registry at {self.url}: cannot look up a schema in {subject!r}: {exc}"
            ) from exc
        return RegisteredSchema(subject, int(rs.version or 0), self._id_of(rs), text)

    def id_for(self, subject: str, schema: str | Mapping[str, Any]) -> RegisteredSchema:
        """The registration of exactly ``schema`` under ``subject``, for a service about to
        write with it. Never registers: ConfigError naming the subject if it is missing."""
        latest = self.latest(subject)
        if same_schema(latest.schema_str, schema_text(schema)):
            return latest
        found = self.lookup(subject, schema)
        if found is None:
            raise SchemaNotRegisteredError(
                f"the schema this service writes is not registered under subject {subject!r} at "
                f"{self.url} (latest is version {latest.version}, id {latest.schema_id}): "
                "run `f1-schemas register` with this code's schemas"
            )
        return found

    def schema_by_id(self, schema_id: int) -> str:
        """The schema text with id ``schema_id``, fetched once and then served from memory."""
        text = self._by_id.get(schema_id)
        if text is not None:
            return text
        try:
            schema = self._call(
                f"fetch schema id {schema_id}", lambda: self._client.get_schema(schema_id)
            )
        except SchemaRegistryError as exc:
            status = exc.http_status_code
            if status == 404:
                raise SchemaIdNotFoundError(
                    f"schema id {schema_id} is not known to the registry at {self.url}"
                ) from exc
            if status in (401, 403):
                raise RegistryAccessError(
                    f"schema registry at {self.url} refuses access (HTTP {status}): check "
                    f"the credentials and permissions of this service: {exc}"
                ) from exc
            if 400 <= status < 500 and status not in _TRANSIENT_CLIENT_ERRORS:
                # About this one id: its records are dead letters, the rest keep flowing.
                raise SchemaIdRefusedError(
                    f"the registry at {self.url} refuses schema id {schema_id} "
                    f"(HTTP {status}): {exc}"
                ) from exc
            raise RegistryUnavailableError(
                f"schema registry at {self.url}: cannot fetch schema id {schema_id}: {exc}"
            ) from exc
        text = schema.schema_str
        if not text or not isinstance(text, str):
            # Never cached: a registry that answers without the schema is broken for now.
            raise self._malformed(f"no schema for id {schema_id}")
        self._by_id[schema_id] = text
        return text

    def compatibility(self, subject: str) -> str | None:
        """The compatibility level set on ``subject``, or None if it has none of its own."""
        try:
            return self._call(
                f"read the compatibility of {subject!r}",
                lambda: self._client.get_compatibility(subject),
            )
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                return None
            raise RegistryUnavailableError(
                f"schema registry at {self.url}: cannot read config of {subject!r}: {exc}"
            ) from exc

    def test_compatibility(self, subject: str, schema: str | Mapping[str, Any]) -> bool:
        """Whether the registry would accept ``schema`` as the next version of ``subject``
        under its compatibility level; SubjectNotFoundError if there is nothing to compare."""
        text = schema_text(schema)
        try:
            return bool(
                self._call(
                    f"test compatibility with {subject!r}",
                    lambda: self._client.test_compatibility(subject, Schema(text, "AVRO")),
                )
            )
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise self._subject_missing(subject) from exc
            if exc.http_status_code == 422:
                raise ConfigError(
                    f"registry at {self.url} says the schema is invalid: {exc}"
                ) from exc
            raise RegistryUnavailableError(
                f"schema registry at {self.url}: cannot test compatibility with {subject!r}: {exc}"
            ) from exc

    # --- writes (only `f1-schemas register` calls these) --------------------------------------

    def set_compatibility(self, subject: str, level: str = DEFAULT_COMPATIBILITY) -> str:
        """Set the compatibility level of ``subject``; returns the level now in force."""
        level = level.upper()
        if level not in COMPATIBILITY_LEVELS:
            raise ConfigError(
                f"unknown compatibility level {level!r}: one of {', '.join(COMPATIBILITY_LEVELS)}"
            )
        try:
            self._call(
                f"set the compatibility of {subject!r}",
                lambda: self._client.set_compatibility(subject, level),
            )
        except SchemaRegistryError as exc:
            raise RegistryUnavailableError(
                f"schema registry at {self.url}: cannot set compatibility of {subject!r}: {exc}"
            ) from exc
        return level

    def register(
        self,
        subject: str,
        schema: str | Mapping[str, Any],
        *,
        compatibility: str | None = DEFAULT_COMPATIBILITY,
    ) -> RegisteredSchema:
        """Register ``schema`` under ``subject`` and set its compatibility level; idempotent.

        If the subject's latest version already is this schema, nothing is written and the
        same version and id come back. The level is set before registering when the subject
        exists, so the new version is checked under it; a first version has nothing to be
        checked against, so its level is set right after. IncompatibleSchemaError if the
        registry refuses the schema.
        """
        text = schema_text(schema)
        try:
            latest: RegisteredSchema | None = self.latest(subject)
        except SubjectNotFoundError:
            latest = None
        if latest is not None and compatibility:
            self.set_compatibility(subject, compatibility)
        if latest is not None and same_schema(latest.schema_str, text):
            log.info("%s: already at version %d (id %d)", subject, latest.version, latest.schema_id)
            return latest
        try:
            rs = self._call(
                f"register a schema under {subject!r}",
                lambda: self._client.register_schema_full_response(subject, Schema(text, "AVRO")),
            )
        except SchemaRegistryError as exc:
            if exc.http_status_code == 409:
                level = self.compatibility(subject) or "the registry's default level"
                raise IncompatibleSchemaError(
                    f"registry at {self.url} refused the schema for {subject!r}: incompatible "
                    f"with the registered versions under {level} ({exc.error_message})"
                ) from exc
            if exc.http_status_code == 422:
                raise ConfigError(
                    f"registry at {self.url} refused the schema for {subject!r} as invalid: {exc}"
                ) from exc
            raise RegistryUnavailableError(
                f"schema registry at {self.url}: cannot register under {subject!r}: {exc}"
            ) from exc
        if latest is None and compatibility:
            self.set_compatibility(subject, compatibility)
        # Confluent answers a registration with the id only; ask for the version.
        found = self.lookup(subject, text) if rs.version is None else None
        version = int(rs.version) if rs.version is not None else (found.version if found else 0)
        registered = RegisteredSchema(subject, version, self._id_of(rs), text)
        log.info("%s: registered version %d (id %d)", subject, version, registered.schema_id)
        return registered

    def _registered(self, subject: str, rs: Any) -> RegisteredSchema:
        text = rs.schema.schema_str if rs.schema is not None else ""
        schema_id = self._id_of(rs)
        if not text or not isinstance(text, str):
            raise self._malformed(f"a version of {subject!r} without its schema")
        self._by_id.setdefault(schema_id, text)
        return RegisteredSchema(subject, int(rs.version or 0), schema_id, text)

    def _id_of(self, rs: Any) -> int:
        if not isinstance(rs.schema_id, int) or rs.schema_id < 0:
            raise self._malformed("a schema without its id")
        return rs.schema_id

    def _malformed(self, what: str) -> RegistryUnavailableError:
        return RegistryUnavailableError(
            f"schema registry at {self.url} answered with {what}: is it a Confluent-compatible "
            "registry, and healthy?"
        )
