"""``f1-sink-influx``: store every telemetry record in InfluxDB, and read laps back.

Exit codes: 0 done (a stop signal is a normal end), 1 configuration (missing subject or bucket,
refused token, bad flag), 2 unreachable infrastructure. Errors are one line, no traceback.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from runtime import endpoints
from runtime.command import configure_logging, env_help, run_command
from schemas.topics import ANALYTICS_TOPIC_SETTING, DLQ_TOPIC_SETTING, TELEMETRY_TOPIC_SETTING
from sinks import settings as s
from sinks.history import History, LapRef

PROG = "f1-sink-influx"
log = logging.getLogger(__name__)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--influx-url", help=env_help(endpoints.INFLUX_URL, "InfluxDB URL"))
    p.add_argument("--org", help=env_help(endpoints.INFLUX_ORG, "InfluxDB organisation"))
    p.add_argument("--bucket", help=env_help(endpoints.INFLUX_BUCKET, "InfluxDB bucket"))
    # The token has no flag (flags show up in `ps`): env or the local stack's token file only.
    p.add_argument("-v", "--verbose", action="store_true", help="log debug details")


def _add_run(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--bootstrap", help=env_help(endpoints.KAFKA_BOOTSTRAP, "Kafka bootstrap servers")
    )
    p.add_argument(
        "--registry", help=env_help(endpoints.SCHEMA_REGISTRY_URL, "Schema Registry URL")
    )
    p.add_argument("--telemetry-topic", help=env_help(TELEMETRY_TOPIC_SETTING, "telemetry topic"))
    p.add_argument("--analytics-topic", help=env_help(ANALYTICS_TOPIC_SETTING, "lap summary topic"))
    p.add_argument("--dlq-topic", help=env_help(DLQ_TOPIC_SETTING, "dead-letter topic"))
    p.add_argument("--group", help=env_help(s.GROUP, "consumer group"))
    p.add_argument(
        "--batch-points", type=int, help=env_help(s.BATCH_POINTS, "points per write, at most")
    )
    p.add_argument(
        "--batch-ms", type=float, help=env_help(s.BATCH_MS, "longest wait to fill a batch, ms")
    )
    p.add_argument(
        "--gzip",
        choices=["auto", "on", "off"],
        help=env_help(s.GZIP, "compress writes; auto = only when InfluxDB is not on loopback"),
    )
    p.add_argument(
        "--progress-s", type=float, help=env_help(s.PROGRESS_S, "seconds between progress lines")
    )
    p.add_argument(
        "--retry-max-s",
        type=float,
        help=env_help(s.RETRY_MAX_S, "longest backoff between write retries, s"),
    )
    p.add_argument(
        "--offset-reset",
        choices=["earliest", "latest"],
        help=env_help(s.OFFSET_RESET, "where a new consumer group starts"),
    )
    p.add_argument(
        "--influx-timeout-ms",
        type=int,
        help=env_help(s.INFLUX_TIMEOUT_MS, "timeout of one write request, ms"),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Store every telemetry record and lap summary from Kafka in InfluxDB "
        "(measurements telemetry and laps), and read laps back. Without a command: run. "
        f"The token comes from {endpoints.INFLUX_TOKEN[0]} or the local stack's token file.",
    )
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="consume and store until SIGINT/SIGTERM (the default)")
    _add_run(run)
    _add_common(run)

    hist = sub.add_parser("history", help="list sessions, cars and laps; export laps")
    hsub = hist.add_subparsers(dest="what", required=True)
    p = hsub.add_parser("sessions", help="session ids in the bucket")
    _add_common(p)
    p = hsub.add_parser("cars", help="cars (and drivers) of a session")
    p.add_argument("--session", required=True)
    _add_common(p)
    p = hsub.add_parser("laps", help="laps per car: samples, first/last time, duration")
    p.add_argument("--session", required=True)
    p.add_argument("--car")
    p.add_argument(
        "--summaries", action="store_true", help="the stored lap summaries (measurement laps)"
    )
    _add_common(p)
    p = hsub.add_parser("best", help="the fastest complete lap of a car")
    p.add_argument("--session", required=True)
    p.add_argument("--car", required=True)
    _add_common(p)
    p = hsub.add_parser("export", help="every sample of the chosen laps to CSV or Parquet")
    p.add_argument("--session", required=True)
    p.add_argument("--car", required=True)
    p.add_argument("--lap", type=int, action="append", required=True, help="repeat for more")
    p.add_argument("--out", type=Path, required=True, help="FILE.csv or FILE.parquet")
    _add_common(p)
    return parser


def _settings(args: argparse.Namespace, **extra: object) -> s.SinkSettings:
    return s.SinkSettings.from_env(
        influx_url=args.influx_url,
        influx_org=args.org,
        influx_bucket=args.bucket,
        **extra,
    )


def _run(args: argparse.Namespace) -> int:
    from sinks import app

    settings = _settings(
        args,
        kafka_bootstrap=args.bootstrap,
        schema_registry_url=args.registry,
        telemetry_topic=args.telemetry_topic,
        analytics_topic=args.analytics_topic,
        dlq_topic=args.dlq_topic,
        group_id=args.group,
        batch_points=args.batch_points,
        batch_ms=args.batch_ms,
        gzip=args.gzip,
        progress_s=args.progress_s,
        retry_max_s=args.retry_max_s,
        offset_reset=args.offset_reset,
        influx_timeout_ms=args.influx_timeout_ms,
    )
    stop = threading.Event()
    loops: list[app.SinkLoop] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            log.warning("second %s: abandoning the write in flight", signal.Signals(signum).name)
            for loop in loops:
                loop.abort()
            return
        log.info("%s: finishing the batch, committing, closing", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    app.run(settings, stop, loop_ready=loops.append)
    return 0


def _history(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with History(
        settings.influx_url, settings.influx_token, settings.influx_org, settings.influx_bucket
    ) as history:
        if args.what == "sessions":
            for session in history.sessions():
                print(session)
        elif args.what == "cars":
            print(history.cars(args.session).to_string(index=False))
        elif args.what == "laps":
            if args.summaries:
                table = history.lap_summaries(args.session, args.car)
            else:
                table = history.laps(args.session, args.car)
            print(table.to_string(index=False) if not table.empty else "no laps")
        elif args.what == "best":
            best = history.best_lap(args.session, args.car)
            if best is None:
                print(f"car {args.car} has no complete lap in session {args.session}")
                return 1
            print(f"{best['car_id']} lap {best['lap']}: {best['time_s']:.3f} s")
        elif args.what == "export":
            refs = [LapRef(args.session, args.car, lap) for lap in args.lap]
            rows = history.export(refs, args.out)
            print(f"{rows} samples of {len(refs)} lap(s) written to {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("run", "history", "-h", "--help"):
        argv = ["run", *argv]  # `run` is the default command
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    if args.command == "history":
        return run_command(PROG, lambda: _history(args))
    return run_command(PROG, lambda: _run(args))


if __name__ == "__main__":
    sys.exit(main())
