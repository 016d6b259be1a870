"""``f1-ingest-udp``: the F1 game's UDP telemetry in, Avro telemetry records out.

Listens on UDP (default 127.0.0.1:20777, the game's default port) for the game's packets
(formats 2023, 2024, 2025, 2026), joins each car's Motion, Lap Data, Car Status and Car
Damage at every Car Telemetry packet (:mod:`ingest.session`) and produces one record per car
to ``f1-telemetry`` through the registry, keyed by car id, with the same output as
``f1-simulate`` (:mod:`runtime.kafka_output`); ``--output FILE.jsonl|.csv`` writes the records
to a file instead. ``--record FILE`` keeps every datagram received with its arrival time
(:mod:`ingest.recording`); ``--replay FILE --rate N|max`` feeds a recording through the same
decoding instead of the socket.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest import decode
from ingest.recording import RecordingWriter, read_recording
from ingest.session import FIELDS, OUT_OF_ORDER, OUT_OF_RANGE, GameIngest
from runtime import endpoints
from runtime.command import StopEvent, StopSignal, add_verbose_flag, run_main
from runtime.errors import ConfigError, InfrastructureError
from runtime.settings import Setting, integer, number, text
from schemas.topics import TELEMETRY_TOPIC_SETTING

log = logging.getLogger("ingest")

PROG = "f1-ingest-udp"
HOST_SETTING: Setting[Any] = Setting(
    "F1_INGEST_HOST", "127.0.0.1", "address to listen on for the game's UDP telemetry", text,
    flag="--host",
)  # fmt: skip
PORT_SETTING: Setting[Any] = Setting(
    "F1_INGEST_PORT", "20777", "UDP port the game sends to", integer(1, 65535), flag="--port"
)
BUFFER_SETTING: Setting[Any] = Setting(
    "F1_INGEST_SOCKET_BUFFER",
    str(8 * 2**20),
    "socket receive buffer in bytes",
    integer(65_536, 2**30),
    flag="--socket-buffer",
)
ALLOW_REMOTE_SETTING: Setting[Any] = Setting(
    "F1_INGEST_ALLOW_REMOTE",
    "0",
    "listen on an address other than loopback (the game's UDP has no authentication)",
    integer(0, 1),
    flag="--allow-remote",
)
PROBLEM_LOG_EVERY_S = 60.0
REGISTRY_RETRY_S = 2.0
# Records are handed to the output at least this often, and in batches of at most this many
# datagrams, so the column encoder's per-batch cost is paid once for many packets.
FLUSH_EVERY_S = 0.05
DATAGRAMS_PER_BATCH = 2048


@dataclass(frozen=True)
class ReplayRate:
    """Recorded time per wall-clock time; None: as fast as possible."""

    factor: float | None

    @classmethod
    def parse(cls, value: str) -> ReplayRate:
        word = value.strip().lower()
        if word == "max":
            return cls(None)
        if word == "realtime":
            return cls(1.0)
        try:
            factor = number(above=0)(word)
        except ValueError:
            raise ConfigError(
                f"--rate must be 'realtime', 'max' or a positive number, got {value!r}"
            ) from None
        return cls(factor)

    def __str__(self) -> str:
        return "max" if self.factor is None else f"{self.factor:g}x"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Ingest the F1 game's UDP telemetry (F1 23, F1 24, F1 25 and its 2026 "
        "season pack) into the telemetry topic as Avro, like f1-simulate; record it, or "
        "replay a recording.",
    )
    HOST_SETTING.add_to(parser)
    PORT_SETTING.add_to(parser)
    BUFFER_SETTING.add_to(parser, metavar="BYTES")
    ALLOW_REMOTE_SETTING.add_to(parser, metavar="0|1")
    parser.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="also keep every datagram received, with its arrival time, in FILE (gzip; "
        "see the README)",
    )
    parser.add_argument(
        "--replay", type=Path, metavar="FILE", help="ingest a recording instead of the socket"
    )
    parser.add_argument(
        "--rate",
        default=None,
        help="with --replay: 'realtime' (default), 'max', or N for N times real time",
    )
    parser.add_argument("--output", type=Path, help="write records to FILE.csv or FILE.jsonl")
    endpoints.add_kafka_flags(parser)
    TELEMETRY_TOPIC_SETTING.add_to(parser)
    parser.add_argument(
        "--progress-every", type=float, default=5.0, metavar="S",
        help="seconds between progress lines (5)",
    )  # fmt: skip
    add_verbose_flag(parser)
    return parser


@dataclass
class Settings:
    host: str
    port: int
    socket_buffer: int
    record: Path | None
    replay: Path | None
    rate: ReplayRate
    output: Path | None
    kafka_bootstrap: str
    registry_url: str
    topic: str
    progress_every_s: float

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        host = HOST_SETTING.resolve(args.host)
        if not _loopback(host) and not ALLOW_REMOTE_SETTING.resolve(args.allow_remote):
            raise ConfigError(
                f"--host {host} is not a loopback address: the game's UDP telemetry has no "
                "authentication, so listening beyond this machine needs --allow-remote 1 "
                "(or F1_INGEST_ALLOW_REMOTE=1)"
            )
        if args.rate is not None and args.replay is None:
            raise ConfigError("--rate only applies to --replay")
        if args.record is not None and args.replay is not None:
            raise ConfigError("--record and --replay cannot be combined")
        if args.output is not None and args.output.suffix.lower() not in (".csv", ".jsonl"):
            raise ConfigError(f"--output must end in .csv or .jsonl, got {args.output}")
        if not args.progress_every > 0:
            raise ConfigError(f"--progress-every must be positive, got {args.progress_every}")
        registry_url = endpoints.SCHEMA_REGISTRY_URL.resolve(args.registry)
        if args.output is None:
            endpoints.check_clients(registry_url)
        return cls(
            host=host,
            port=PORT_SETTING.resolve(args.port),
            socket_buffer=BUFFER_SETTING.resolve(args.socket_buffer),
            record=args.record,
            replay=args.replay,
            rate=ReplayRate.parse(args.rate or "realtime"),
            output=args.output,
            kafka_bootstrap=endpoints.KAFKA_BOOTSTRAP.resolve(args.bootstrap),
            registry_url=registry_url,
            topic=TELEMETRY_TOPIC_SETTING.resolve(args.telemetry_topic),
            progress_every_s=args.progress_every,
        )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ProblemLog:
    """Logs each kind of bad datagram at most once per ``every_s`` (with the count so far),
    so a flood of garbage costs a line a minute, not a line a datagram."""

    def __init__(self, every_s: float = PROBLEM_LOG_EVERY_S, clock=time.monotonic) -> None:
        self.every_s = every_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def __call__(self, kind: str, detail: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        now = self._clock()
        last = self._last.get(kind)
        if last is None or now - last >= self.every_s:
            self._last[kind] = now
            log.warning(
                "%s datagram (%s); %d so far, next report of this kind in %.0f s at the earliest",
                kind.replace("_", " "),
                detail,
                self.counts[kind],
                self.every_s,
            )


class Progress:
    """The progress line: packets/s, records/s and the counts of what was not used."""

    KINDS = (*decode.PROBLEMS, OUT_OF_ORDER, OUT_OF_RANGE, "flashback_replayed", "ignored")

    def __init__(self, ingest: GameIngest, every_s: float, clock=time.monotonic) -> None:
        self.ingest = ingest
        self.every_s = every_s
        self._clock = clock
        self.started = self._last = clock()
        self._last_datagrams = self._last_records = 0
        self.datagrams = 0
        self.backlog_dropped = 0
        self.undelivered = 0

    def maybe_report(self, backlog: int = 0) -> None:
        now = self._clock()
        if now - self._last >= self.every_s:
            self.report(now, backlog)

    def report(self, now: float | None = None, backlog: int = 0) -> None:
        now = self._clock() if now is None else now
        span = max(now - self._last, 1e-9)
        records = self.ingest.records
        counts = self.ingest.counts
        others = ", ".join(f"{k} {counts[k]:,}" for k in self.KINDS if counts.get(k))
        if self.backlog_dropped:
            others += f"{', ' if others else ''}dropped (backlog full) {self.backlog_dropped:,}"
        log.info(
            "%s datagrams (%.0f/s), %s records (%.0f/s), %d session(s)%s%s",
            f"{self.datagrams:,}",
            (self.datagrams - self._last_datagrams) / span,
            f"{records:,}",
            (records - self._last_records) / span,
            len(self.ingest.sessions),
            f"; {others}" if others else "",
            f"; backlog {backlog:,}" if backlog else "",
        )
        self._last, self._last_datagrams, self._last_records = now, self.datagrams, records


def run(settings: Settings, stop: StopSignal) -> int:
    return serve(settings, stop)


def serve(
    settings: Settings,
    stop: StopEvent,
    on_listening: Callable[[tuple[str, int]], None] | None = None,
) -> int:
    """The command's body; ``on_listening(address)`` is called once the socket is bound."""
    problems = ProblemLog()
    ingest = GameIngest(on_problem=problems)
    progress = Progress(ingest, settings.progress_every_s)
    if settings.replay is not None:
        # Read the first datagram before opening any output: a file that is not a
        # recording is one line and exit 2, with nothing written.
        datagrams = read_recording(settings.replay)
        first = next(datagrams, None)
        sink = _open_sink(settings, stop)
        if sink is None:
            return 0
        try:
            if first is not None:
                _replay(_chain(first, datagrams), ingest, sink, settings.rate, progress, stop)
        finally:
            _finish(ingest, sink, progress)
        return _summary(ingest, sink, progress, stop)
    from ingest.receiver import UdpReceiver, bind

    sock = bind(settings.host, settings.port, settings.socket_buffer)
    receiver = UdpReceiver(sock).start()
    if on_listening is not None:
        on_listening(receiver.address)
    log.info(
        "listening on UDP %s:%d (point the game's UDP telemetry here)%s",
        *receiver.address,
        f", recording to {settings.record}" if settings.record else "",
    )
    recording = RecordingWriter(settings.record) if settings.record else None
    sink = None
    try:
        sink = _open_sink(settings, stop)
        if sink is not None:
            _live(receiver, ingest, sink, recording, progress, stop)
    finally:
        receiver.stop()
        progress.backlog_dropped = receiver.dropped
        if sink is not None:
            _drain(receiver.queue, ingest, sink, recording, progress)
            _finish(ingest, sink, progress)
        if recording is not None:
            recording.close()
            log.info("recorded %d datagram(s) to %s", recording.datagrams, settings.record)
    if sink is None:
        return 0
    return _summary(ingest, sink, progress, stop)


def _chain(first: tuple[int, bytes], rest: Iterable[tuple[int, bytes]]):
    yield first
    yield from rest


def _open_sink(settings: Settings, stop: StopEvent):
    """The file writer of ``--output``, else the Kafka output once the registry and the
    broker answer (waiting for them, and saying so); None when stopped while waiting."""
    if settings.output is not None:
        from runtime.output_files import RecordFileWriter

        return RecordFileWriter(settings.output, FIELDS)
    return wait_for_kafka(settings, stop)


def wait_for_kafka(settings: Settings, stop: StopEvent, retry_s: float = REGISTRY_RETRY_S):
    from runtime.kafka import broker_topics
    from runtime.kafka_output import KafkaTelemetryOutput
    from schemas.registry import SchemaRegistry
    from schemas.serde import telemetry_serializer
    from schemas.topics import Topics

    waiting_since: float | None = None
    while True:
        try:
            broker_topics(settings.kafka_bootstrap, attempts=1, timeout_s=2.0)
            registry = SchemaRegistry(settings.registry_url)
            serializer = telemetry_serializer(registry, Topics.from_env(telemetry=settings.topic))
            break
        except InfrastructureError as exc:
            if waiting_since is None:
                waiting_since = time.monotonic()
                log.warning(
                    "%s: waiting for it, trying again every %g s (datagrams received "
                    "meanwhile are kept and ingested once it answers)",
                    exc,
                    retry_s,
                )
            if stop.wait(retry_s):
                return None
    if waiting_since is not None:
        log.info(
            "Kafka and the registry answer after %.1f s of waiting: ingesting",
            time.monotonic() - waiting_since,
        )
    log.info("producing to %s at %s", settings.topic, settings.kafka_bootstrap)
    return KafkaTelemetryOutput(settings.kafka_bootstrap, settings.topic, serializer)


def _live(receiver, ingest: GameIngest, sink, recording, progress: Progress, stop) -> None:
    queue = receiver.queue
    while not stop.is_set():
        if not queue:
            stop.wait(0.005)
        else:
            _drain(queue, ingest, sink, recording, progress, limit=DATAGRAMS_PER_BATCH)
        progress.backlog_dropped = receiver.dropped
        progress.maybe_report(len(queue))


def _drain(queue, ingest: GameIngest, sink, recording, progress: Progress, limit: int = 0):
    """Feed up to ``limit`` queued datagrams (all of them with 0) and write their records."""
    feed = ingest.feed
    popleft = queue.popleft
    n = 0
    while queue and (not limit or n < limit):
        arrival_us, data = popleft()
        if recording is not None:
            recording.write(data, arrival_us)
        feed(data, arrival_us)
        n += 1
    progress.datagrams += n
    batch = ingest.take()
    if batch is not None:
        sink.write(batch)


def _replay(
    datagrams: Iterable[tuple[int, bytes]],
    ingest: GameIngest,
    sink,
    rate: ReplayRate,
    progress: Progress,
    stop: StopEvent,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Feed a recording's datagrams at ``rate`` times the pace they arrived at."""
    factor = rate.factor
    first_us: int | None = None
    started = clock()
    last_take = started
    for count, (arrival_us, data) in enumerate(datagrams, 1):
        if first_us is None:
            first_us = arrival_us
        if factor is not None:
            due = started + (arrival_us - first_us) / 1e6 / factor
            wait = due - clock()
            if wait > 0:
                batch = ingest.take()  # hand over what is ready before sleeping
                if batch is not None:
                    sink.write(batch)
                if stop.wait(wait):
                    break
        elif stop.is_set():
            break
        ingest.feed(data, arrival_us)
        progress.datagrams += 1
        if count % DATAGRAMS_PER_BATCH == 0 or (factor is not None and ingest.pending):
            now = clock()
            if factor is None or now - last_take >= FLUSH_EVERY_S:
                batch = ingest.take()
                if batch is not None:
                    sink.write(batch)
                last_take = now
            progress.maybe_report()


def _finish(ingest: GameIngest, sink, progress: Progress) -> None:
    batch = ingest.take()
    if batch is not None:
        sink.write(batch)
    progress.undelivered = sink.flush()
    close = getattr(sink, "close", None)
    if close is not None:
        close()


def _summary(ingest: GameIngest, sink, progress: Progress, stop: StopEvent) -> int:
    progress.report()
    elapsed = time.monotonic() - progress.started
    signal_name = getattr(stop, "signal_name", "")
    why = f" (stopped by {signal_name})" if stop.is_set() and signal_name else ""
    log.info(
        "%s datagrams, %s records in %.1f s%s",
        f"{progress.datagrams:,}",
        f"{ingest.records:,}",
        elapsed,
        why,
    )
    stats = getattr(sink, "stats", None)
    return 0 if stats is None else stats.exit_code(PROG, progress.undelivered)


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(PROG, build_parser(), run, argv, settings=Settings.from_args)


if __name__ == "__main__":
    sys.exit(main())
