"""``f1-replay``: a stored session streamed back into a telemetry topic as a new session.

The session comes from InfluxDB (what ``f1-sink-influx`` stored, read through
:mod:`storage.history`) or from a file (``--file``: CSV, Parquet or JSON Lines, such as
``--export`` writes). Its records go to the telemetry topic through the same output as
``f1-simulate`` (:mod:`runtime.kafka_output`: Avro through the registry, key = car id), or
to ``--output FILE.csv|.jsonl``, at ``--rate`` times the pace they were recorded at, from
``--from-lap``, with a new session id and event times moved to now (:mod:`replay.timeline`),
so the analytics job and the pit wall take the replay as a live session.

``--export FILE.csv|.parquet`` writes the session as stored (its own id and times) to a file
instead, as fast as it reads, so a session kept in InfluxDB can be kept or moved as a file
and replayed from it later.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from replay.columns import Batch
from replay.files import EXPORT_FORMATS, OUTPUT_FORMATS, check_suffix, open_writer
from replay.sources import (
    FILE_FORMATS,
    FileSource,
    InfluxSource,
    LapRange,
    Source,
    check_lap,
    file_format,
)
from replay.stream import Replayed, read_ahead, replay
from replay.timeline import FromLap, Retime, new_session_id
from runtime import endpoints
from runtime.command import StopSignal, add_verbose_flag, run_main
from runtime.errors import ConfigError
from runtime.pacing import Rate
from runtime.settings import Setting, positive_duration_s
from schemas.channels import channel
from schemas.topics import TELEMETRY_TOPIC_SETTING

log = logging.getLogger("replay")

PROG = "f1-replay"


def _rate(text: str) -> Rate:
    try:
        return Rate.parse(text)
    except ConfigError:
        raise ValueError("must be 'realtime', 'max' or a positive number") from None


RATE_SETTING: Setting[Rate] = Setting(
    "F1_REPLAY_RATE",
    "realtime",
    "pace of the replay, N times as recorded",
    _rate,
    flag="--rate",
)
WINDOW_SETTING: Setting[float] = Setting(
    "F1_REPLAY_WINDOW",
    "30s",
    "event time read from InfluxDB per query (memory: one window of records)",
    positive_duration_s,
    flag="--window",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Stream a stored session (from InfluxDB, or a file of --export) back into "
        "the telemetry topic as a new session, paced as it was recorded; or export it to a file.",
    )
    parser.add_argument(
        "--session-id",
        metavar="ID",
        help="the stored session to replay (without it, or unknown: the sessions are listed); "
        "a file of one session needs none",
    )
    parser.add_argument(
        "--file",
        type=Path,
        metavar="FILE",
        help=f"read the session from FILE ({', '.join(FILE_FORMATS)}) instead of InfluxDB",
    )
    parser.add_argument("--list", action="store_true", help="list the stored sessions and exit")
    RATE_SETTING.add_to(parser, metavar="realtime|max|N")
    parser.add_argument(
        "--from-lap",
        type=int,
        metavar="N",
        help="start each car at its first record of lap N (its line crossing)",
    )
    parser.add_argument(
        "--keep-time",
        action="store_true",
        help="keep the stored event times (default: moved so the first record is now)",
    )
    parser.add_argument(
        "--new-session-id",
        metavar="ID",
        help="session id of the replay (default: <session>-replay-<now in ms>)",
    )
    parser.add_argument(
        "--output", type=Path, metavar="FILE", help="write the replay to FILE.csv or FILE.jsonl"
    )
    parser.add_argument(
        "--export",
        type=Path,
        metavar="FILE",
        help="write the session as stored (its id and times) to FILE.csv or FILE.parquet, "
        "as fast as it reads, instead of replaying it",
    )
    endpoints.add_kafka_flags(parser)
    TELEMETRY_TOPIC_SETTING.add_to(parser)
    endpoints.add_influx_flags(parser)
    WINDOW_SETTING.add_to(parser, metavar="DURATION")
    parser.add_argument(
        "--progress-every",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds between progress lines (5)",
    )
    add_verbose_flag(parser)
    return parser


@dataclass
class Settings:
    session_id: str | None
    file: Path | None
    list: bool
    rate: Rate
    from_lap: int | None
    keep_time: bool
    new_session_id: str | None
    output: Path | None
    export: Path | None
    kafka_bootstrap: str
    registry_url: str
    topic: str
    influx: endpoints.Endpoints
    window_s: float
    progress_every_s: float

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        if args.from_lap is not None and args.from_lap < 1:
            raise ConfigError(f"--from-lap must be 1 or more, got {args.from_lap}")
        if not args.progress_every > 0:
            raise ConfigError(f"--progress-every must be positive, got {args.progress_every}")
        if args.file is not None:
            file_format(args.file)
        if args.new_session_id is not None:
            pattern = channel("session_id").pattern or ""
            if not re.fullmatch(pattern, args.new_session_id):
                raise ConfigError(
                    f"--new-session-id {args.new_session_id!r} does not match {pattern}"
                )
        if args.output is not None:
            check_suffix(args.output, OUTPUT_FORMATS, "--output")
        if args.export is not None:
            check_suffix(args.export, EXPORT_FORMATS, "--export")
            replay_only = {
                "--output": args.output is not None,
                "--rate": args.rate is not None,
                "--keep-time": args.keep_time,
                "--new-session-id": args.new_session_id is not None,
            }
            given = [flag for flag, on in replay_only.items() if on]
            if given:
                raise ConfigError(f"--export writes the session as stored: drop {given[0]}")
        registry_url = endpoints.SCHEMA_REGISTRY_URL.resolve(args.registry)
        if args.output is None and args.export is None and not args.list:
            endpoints.check_clients(registry_url)
        return cls(
            session_id=args.session_id,
            file=args.file,
            list=args.list,
            rate=RATE_SETTING.resolve(args.rate),
            from_lap=args.from_lap,
            keep_time=args.keep_time,
            new_session_id=args.new_session_id,
            output=args.output,
            export=args.export,
            kafka_bootstrap=endpoints.KAFKA_BOOTSTRAP.resolve(args.bootstrap),
            registry_url=registry_url,
            topic=TELEMETRY_TOPIC_SETTING.resolve(args.telemetry_topic),
            # The token is read only when InfluxDB is the source.
            influx=endpoints.Endpoints(
                influx_url=endpoints.INFLUX_URL.resolve(args.influx_url),
                influx_org=endpoints.INFLUX_ORG.resolve(args.org),
                influx_bucket=endpoints.INFLUX_BUCKET.resolve(args.bucket),
            ),
            window_s=WINDOW_SETTING.resolve(args.window),
            progress_every_s=args.progress_every,
        )


def run(settings: Settings, stop: StopSignal) -> int:
    history = None
    source: Source
    if settings.file is not None:
        source = FileSource(settings.file)
    else:
        from storage.history import History

        e = settings.influx
        token = endpoints.influx_token("read", e.influx_url).reveal()
        history = History(e.influx_url, token, e.influx_org, e.influx_bucket)
        source = InfluxSource(history, settings.window_s)
    try:
        if settings.list:
            _list_sessions(source, source.sessions())
            return 0
        session = pick_session(source, settings.session_id)
        laps = source.laps(session)
        check_lap(session, laps, settings.from_lap, source.where)
        batches = read_ahead(source.batches(session, settings.from_lap))
        try:
            # The first batch is read before any output is opened: a source that cannot be
            # read is one line and exit 2, with nothing written.
            first = next(batches, None)
            if first is None:
                raise ConfigError(f"session {session!r} has no records in {source.where}")
            records = _chain(first, batches)
            if settings.export is not None:
                return _export(settings, settings.export, session, source, records, stop)
            return _replay(settings, session, laps, source.where, records, stop)
        finally:
            batches.close()
    finally:
        if history is not None:
            history.close()


def pick_session(source: Source, wanted: str | None) -> str:
    """``wanted`` when the source has it; the only session of a file when not given;
    otherwise the sessions are listed on stdout and ConfigError says why."""
    sessions = source.sessions()
    if not sessions:
        raise ConfigError(f"no session is stored in {source.where}")
    if wanted is None and len(sessions) == 1 and isinstance(source, FileSource):
        return sessions[0]
    if wanted is not None and wanted in sessions:
        return wanted
    _list_sessions(source, sessions)
    if wanted is None:
        raise ConfigError(f"--session-id is needed: {len(sessions)} session(s) listed above")
    raise ConfigError(
        f"no session {wanted!r} in {source.where}: {len(sessions)} session(s) listed above"
    )


def _list_sessions(source: Source, sessions: list[str]) -> None:
    print(f"sessions in {source.where} ({len(sessions)}):")
    for session in sessions:
        print(f"  {session}")
    sys.stdout.flush()


def _chain(first: Batch, rest: Iterable[Batch]) -> Iterator[Batch]:
    yield first
    yield from rest


def _export(
    settings: Settings,
    path: Path,
    session: str,
    source: Source,
    records: Iterable[Batch],
    stop: StopSignal,
) -> int:
    writer = open_writer(path)
    log.info("exporting session %s from %s to %s", session, source.where, path)
    done = replay(
        records,
        writer,
        Rate(None),
        stop,
        transform=FromLap(settings.from_lap),
        progress_every_s=settings.progress_every_s,
    )
    why = f" (stopped by {stop.signal_name})" if stop.stopped else ""
    log.info(
        "exported %s records (%.1f s of the session) in %.1f s to %s%s",
        f"{done.records:,}",
        done.span_s,
        done.elapsed_s,
        path,
        why,
    )
    return 0


def _replay(
    settings: Settings,
    session: str,
    laps: LapRange | None,
    source_where: str,
    records: Iterable[Batch],
    stop: StopSignal,
) -> int:
    new_id = settings.new_session_id or new_session_id(session, round(time.time() * 1e6))
    if settings.output is not None:
        output: Any = open_writer(settings.output)
        where = str(settings.output)
    else:
        output = _kafka_output(settings)
        where = f"{settings.topic} at {settings.kafka_bootstrap}"
    # The new id alone on stdout, for scripts: NEW=$(f1-replay ...).
    print(new_id, flush=True)
    log.info(
        "replaying session %s (laps %s) from %s as session %s%s, rate %s, %s -> %s",
        session,
        f"{laps.first}-{laps.last}" if laps else "?",
        source_where,
        new_id,
        f" from lap {settings.from_lap}" if settings.from_lap else "",
        settings.rate,
        "event times kept" if settings.keep_time else "event times moved to now",
        where,
    )
    cut = FromLap(settings.from_lap)
    retime = Retime(new_id, settings.keep_time)
    done = replay(
        records,
        output,
        settings.rate,
        stop,
        transform=lambda batch: retime(cut(batch)),
        progress_every_s=settings.progress_every_s,
    )
    if done.records == 0 and not stop.stopped:
        raise ConfigError(f"session {session!r} has no records from lap {settings.from_lap}")
    return _summary(done, output, stop, retime.shift_us)


def _kafka_output(settings: Settings) -> Any:
    """The output ``f1-simulate`` writes through: the latest telemetry schema under the
    topic's subject, key = car id."""
    from runtime.kafka import broker_topics
    from runtime.kafka_output import KafkaTelemetryOutput
    from schemas.registry import SchemaRegistry
    from schemas.serde import telemetry_serializer
    from schemas.topics import Topics

    broker_topics(settings.kafka_bootstrap, attempts=5, timeout_s=2.0, wait_s=1.0)
    registry = SchemaRegistry(settings.registry_url)
    serializer = telemetry_serializer(registry, Topics.from_env(telemetry=settings.topic))
    return KafkaTelemetryOutput(settings.kafka_bootstrap, settings.topic, serializer)


def _summary(done: Replayed, output: Any, stop: StopSignal, shift_us: int | None) -> int:
    why = f" (stopped by {stop.signal_name})" if stop.stopped else ""
    rate = done.records / done.elapsed_s if done.elapsed_s > 0 else 0.0
    shift = f", event times moved by {shift_us / 1e6:+.3f} s" if shift_us else ""
    stats = getattr(output, "stats", None)
    if stats is None:
        log.info(
            "replayed %s records (%.1f s of the session) in %.1f s (%.0f/s)%s%s",
            f"{done.records:,}",
            done.span_s,
            done.elapsed_s,
            rate,
            shift,
            why,
        )
        return 0
    log.info(
        "replayed %s records (%.1f s of the session) in %.1f s (%.0f/s), %s delivered, "
        "%d failed%s%s",
        f"{done.records:,}",
        done.span_s,
        done.elapsed_s,
        rate,
        f"{stats.delivered:,}",
        stats.failed,
        shift,
        why,
    )
    return stats.exit_code(PROG, done.undelivered)


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(PROG, build_parser(), run, argv, settings=Settings.from_args)


if __name__ == "__main__":
    sys.exit(main())
