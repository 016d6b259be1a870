"""``f1-sink-influx``: store every telemetry record in InfluxDB, and read laps back.

Exit codes, as for every command (``runtime.command``): 0 done (a stop signal is a normal end);
1 infrastructure unreachable or failing (Kafka, the registry, InfluxDB); 2 bad input (a bad
flag or setting, the telemetry subject not registered, a missing bucket, a refused token).
Errors are one line, no traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from runtime import endpoints
from runtime.command import StopSignal, add_verbose_flag, run_main
from sinks import settings as s
from storage.history import History, LapRef

PROG = "f1-sink-influx"
log = logging.getLogger(__name__)


def _add_common(p: argparse.ArgumentParser) -> None:
    # The token has no flag (flags show up in `ps`): env or a token file only.
    endpoints.add_influx_flags(p)
    add_verbose_flag(p)


def _add_run(p: argparse.ArgumentParser) -> None:
    endpoints.add_kafka_flags(p)
    for topic in s.TOPIC_SETTINGS.values():
        topic.add_to(p)
    for name, setting in s.SETTINGS.items():
        choices = ["earliest", "latest"] if name == "offset_reset" else None
        setting.add_to(p, dest=name, choices=choices)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Store every telemetry record and lap summary from Kafka in InfluxDB "
        "(measurements telemetry and laps), and read laps back. Without a command: run. "
        f"The token: {endpoints.INFLUX_WRITE_TOKEN.env} to write, "
        f"{endpoints.INFLUX_READ_TOKEN.env} for history (or the files their _FILE vars "
        f"name), else {endpoints.INFLUX_TOKEN.env} or its _FILE, else the local stack's "
        "token file for the local stack's InfluxDB.",
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


def _settings(args: argparse.Namespace) -> s.SinkSettings:
    """The flags a subcommand has, over the environment; the rest from the environment."""
    names = [*s.SETTINGS, *s.TOPIC_SETTINGS]
    given = {name: getattr(args, name, None) for name in names}
    return s.SinkSettings.from_env(
        influx_access="read" if args.command == "history" else "write",
        kafka_bootstrap=getattr(args, "bootstrap", None),
        registry_url=getattr(args, "registry", None),
        influx_url=args.influx_url,
        influx_org=args.org,
        influx_bucket=args.bucket,
        **given,
    )


def _run(settings: s.SinkSettings, stop: StopSignal) -> int:
    from sinks import app

    def ready(loop: app.SinkLoop) -> None:
        stop.on_force(loop.abort)  # a second signal abandons the write in flight

    app.run(settings, stop, loop_ready=ready)
    return 0


def _history(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with History(
        settings.influx_url,
        settings.influx_token.reveal(),
        settings.influx_org,
        settings.influx_bucket,
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
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("run", "history", "-h", "--help"):
        argv = ["run", *argv]  # `run` is the default command
    parser = build_parser()
    if argv[0] == "history":
        return run_main(PROG, parser, lambda args, _stop: _history(args), argv)
    return run_main(PROG, parser, _run, argv, settings=_settings)


if __name__ == "__main__":
    sys.exit(main())
