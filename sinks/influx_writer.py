"""Synchronous line-protocol writes to InfluxDB: retry what is transient, isolate what is bad.

One call of :meth:`InfluxWriter.write` returns only when InfluxDB has accepted every line of
the batch, except the lines it rejects as bad data, which are returned so the caller can
dead-letter them. So the caller may commit the batch's Kafka offsets as soon as it returns.

* Transient failures (connection refused or reset, timeouts, HTTP 408, 429, 5xx) are retried
  with capped exponential backoff (``Retry-After`` is honoured), for as long as it takes: an
  influxd restart must not lose or skip anything. Only ``cancel`` (shutdown) ends the wait.
* A data rejection (HTTP 400, 413 or 422) says some line is bad. Where InfluxDB's message
  names the lines that do not parse, or counts as dropped every line of the body, that is the
  answer (:mod:`sinks.influx_rejections`): a batch of bad lines costs a write or two, not two
  per line. Otherwise the batch is bisected: each half is written again until the bad lines
  stand alone, and a half whose other half was accepted is known bad without writing it.
  Points already accepted in a partial write are simply written again: the same series and
  timestamp overwrite, so the split never duplicates.
* Anything else (401/403 token, 404 bucket) is a configuration error that retrying will not
  fix: it is raised as :class:`~runtime.errors.ConfigError`.
"""

from __future__ import annotations

import http.client
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import urllib3
from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from runtime.errors import ConfigError, F1Error, InfrastructureError
from sinks import influx_rejections
from sinks.influx_check import check_writable

log = logging.getLogger(__name__)

Verdict = Literal["transient", "data", "fatal"]

TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
DATA_STATUS = frozenset({400, 413, 422})
RETRY_AFTER_CAP_S = 30.0


class WriteCancelled(F1Error):
    """A write was abandoned because the sink is shutting down; nothing may be committed."""


class DataRejected(F1Error):
    """InfluxDB refused the lines as bad data (HTTP 400/413/422)."""


class Lines:
    """The line protocol of one write: newline-terminated blocks of bytes as the encoder made
    them, and how many lines they hold. They are posted as one body, and split into single
    lines only when InfluxDB refuses the body as bad data."""

    def __init__(self) -> None:
        self.blocks: list[bytes] = []
        self.count = 0

    @classmethod
    def of(cls, lines: Iterable[str]) -> Lines:
        made = cls()
        for line in lines:
            made.add(f"{line}\n".encode(), 1)
        return made

    def add(self, block: bytes, count: int) -> None:
        """Append ``count`` lines, each ending in a newline."""
        self.blocks.append(block)
        self.count += count

    def __len__(self) -> int:
        return self.count

    def body(self) -> bytes:
        return b"".join(self.blocks)

    def split(self) -> list[bytes]:
        """Each line on its own, without its newline."""
        lines = self.body().split(b"\n")
        lines.pop()  # after the last newline
        if len(lines) != self.count:  # a newline inside a line: the encoder escapes none
            raise ValueError(f"{len(lines)} lines where {self.count} were added")
        return lines


@dataclass(frozen=True, slots=True)
class Rejected:
    """A line InfluxDB refused on its own: its index in the batch and InfluxDB's message."""

    index: int
    status: int
    message: str


def classify(exc: BaseException) -> Verdict:
    """How the sink treats an exception from a write."""
    if isinstance(exc, ApiException):
        status = exc.status or 0
        if status in TRANSIENT_STATUS or status >= 500:
            return "transient"
        if status in DATA_STATUS:
            return "data"
        return "fatal"
    if isinstance(exc, urllib3.exceptions.HTTPError | http.client.HTTPException | OSError):
        return "transient"  # refused, reset, timed out, DNS hiccup
    return "fatal"


def _message(exc: BaseException) -> str:
    if isinstance(exc, InfluxDBError) and exc.message:
        return str(exc.message)
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason}"
    return f"{type(exc).__name__}: {exc}"


def _retry_after(exc: BaseException) -> float | None:
    headers = getattr(exc, "headers", None)
    if not headers:
        return None
    try:
        return min(float(headers.get("Retry-After")), RETRY_AFTER_CAP_S)
    except (TypeError, ValueError):
        return None


class InfluxWriter:
    """Writes batches of line protocol to one bucket at microsecond precision."""

    def __init__(
        self,
        url: str,
        token: str,
        org: str,
        bucket: str,
        *,
        gzip: bool = False,
        timeout_ms: int = 10_000,
        retry_max_s: float = 5.0,
        sleep: Callable[[float], object] | None = None,
        post: Callable[[bytes], None] | None = None,
    ) -> None:
        self.url = url
        self.org = org
        self.bucket = bucket
        self.retry_max_s = retry_max_s
        self.retries = 0  # transient failures seen, for the progress line
        self._client: InfluxDBClient | None = None
        if post is None:
            # retries=False: the client must not retry on its own, this class decides.
            self._client = InfluxDBClient(
                url=url,
                token=token,
                org=org,
                timeout=timeout_ms,
                enable_gzip=gzip,
                retries=False,
            )
            self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
            post = self._post
        self._post_body = post
        self._sleep = sleep

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> InfluxWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check(self) -> None:
        """At start-up: InfrastructureError if InfluxDB does not answer, ConfigError if the
        token may not write or the bucket does not exist (:mod:`sinks.influx_check`)."""
        assert self._client is not None
        if not self._client.ping():
            raise InfrastructureError(f"InfluxDB at {self.url} is unreachable")
        check_writable(self.url, self.org, self.bucket, lambda: self._post(b""))

    def _post(self, body: bytes) -> None:
        # influxdb_client annotates write_precision as the WritePrecision class, whose members
        # are plain str constants ("us"): the value it documents is refused by its own hint.
        self._write_api.write(self.bucket, self.org, body, write_precision=WritePrecision.US)  # type: ignore[arg-type]

    # --- writing ----------------------------------------------------------------------------

    def write(
        self, lines: Lines | Sequence[str], cancel: threading.Event | None = None
    ) -> list[Rejected]:
        """Write ``lines``; return the ones InfluxDB rejects as bad data (usually none).

        Blocks through transient failures; raises WriteCancelled when ``cancel`` is set while
        waiting, ConfigError on a configuration problem.
        """
        if not isinstance(lines, Lines):
            lines = Lines.of(lines)
        if not len(lines):
            return []
        cancel = cancel or threading.Event()
        rejected: list[Rejected] = []
        try:
            self._post_retrying(lines.body(), cancel)
        except DataRejected as exc:
            split = lines.split()
            self._isolate(split, list(range(len(split))), exc, cancel, rejected)
        return sorted(rejected, key=lambda r: r.index)

    def _write_part(
        self,
        lines: list[bytes],
        part: list[int],
        cancel: threading.Event,
        rejected: list[Rejected],
    ) -> bool:
        """Write the lines at ``part``; True when InfluxDB took them all, else their bad ones
        are found and added to ``rejected``."""
        try:
            self._post_retrying(b"\n".join(lines[i] for i in part), cancel)
            return True
        except DataRejected as exc:
            self._isolate(lines, part, exc, cancel, rejected)
            return False

    def _isolate(
        self,
        lines: list[bytes],
        part: list[int],
        exc: DataRejected,
        cancel: threading.Event,
        rejected: list[Rejected],
    ) -> None:
        """The lines at ``part`` were refused together (``exc``): find the bad ones."""
        status, message = exc.args
        if len(part) == 1:
            log.warning("InfluxDB rejected a point (HTTP %s): %s", status, message)
            rejected.append(Rejected(part[0], status, message))
            return
        named = influx_rejections.named_lines(message, [lines[i] for i in part])
        if named:
            # Lines that do not parse: InfluxDB named them all and wrote nothing of the body.
            log.warning("InfluxDB rejected %d points that do not parse", len(named))
            rejected.extend(Rejected(part[k], status, why) for k, why in named.items())
            rest = [i for k, i in enumerate(part) if k not in named]
            if rest:
                self._write_part(lines, rest, cancel, rejected)
            return
        if (influx_rejections.dropped(message) or 0) >= len(part):
            log.warning("InfluxDB rejected all %d points of a write: %s", len(part), message)
            rejected.extend(Rejected(i, status, message) for i in part)
            return
        log.info("InfluxDB rejected %d points as bad data: finding the bad ones", len(part))
        half = len(part) // 2
        first, second = part[:half], part[half:]
        if self._write_part(lines, first, cancel, rejected):
            # The first half was taken, so the refusal was the second half's.
            self._isolate(lines, second, exc, cancel, rejected)
        else:
            self._write_part(lines, second, cancel, rejected)

    def _post_retrying(self, body: bytes, cancel: threading.Event) -> None:
        attempt = 0
        first_failure = 0.0
        while True:
            if cancel.is_set():
                raise WriteCancelled("write abandoned at shutdown")
            try:
                self._post_body(body)
            except Exception as exc:
                verdict = classify(exc)
                if verdict == "data":
                    raise DataRejected(getattr(exc, "status", 400), _message(exc)) from exc
                if verdict == "fatal":
                    if isinstance(exc, ApiException):
                        raise ConfigError(
                            f"InfluxDB at {self.url} refused the write to bucket "
                            f"{self.bucket!r}: {_message(exc)}"
                        ) from exc
                    raise
                self.retries += 1
                if attempt == 0:
                    first_failure = time.monotonic()
                    log.warning(
                        "InfluxDB write failed, retrying until it answers: %s", _message(exc)
                    )
                elif attempt % 10 == 0:
                    log.warning(
                        "InfluxDB still failing after %d attempts (%.0f s): %s",
                        attempt + 1,
                        time.monotonic() - first_failure,
                        _message(exc),
                    )
                delay = _retry_after(exc)
                if delay is None:
                    delay = min(self.retry_max_s, 0.2 * 2**attempt) * random.uniform(0.5, 1.0)
                attempt += 1
                if self._sleep is not None:
                    self._sleep(delay)
                elif cancel.wait(delay):
                    raise WriteCancelled("write abandoned at shutdown") from exc
                continue
            if attempt:
                log.info(
                    "InfluxDB accepted the write after %d retries (%.1f s)",
                    attempt,
                    time.monotonic() - first_failure,
                )
            return
