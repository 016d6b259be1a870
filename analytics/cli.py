"""``f1-analytics``: per-lap analytics of the telemetry stream, published to f1-analytics."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from analytics import settings as settings_mod
from runtime.command import configure_logging, run_command
from runtime.errors import ConfigError

log = logging.getLogger("analytics")

PROG = "f1-analytics"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Spark Structured Streaming job: reads telemetry from Kafka, publishes one "
        "Avro lap summary per car per completed lap (event time, watermark, exactly once from "
        "the checkpoint) and prints each lap as it completes.",
        epilog="The JVM heap comes from SPARK_DRIVER_MEMORY (default 1g).",
    )
    settings_mod.add_arguments(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    return parser


def _install_signals(stop: threading.Event) -> dict[int, object]:
    """SIGINT and SIGTERM ask the run loop to stop; returns the handlers they replaced."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        log.info("%s: stopping the query", signal.Signals(signum).name)
        stop.set()

    return {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}


def run(settings: settings_mod.Settings, stop: threading.Event) -> int:
    # Imported here so that --help and bad flags answer without loading Spark.
    from analytics.job import AnalyticsJob, check_broker, load_contract
    from analytics.spark_session import build_session

    # Everything that can be checked without Spark first: one line, no JVM.
    check_broker(settings.bootstrap)
    contract = load_contract(settings)
    spark = build_session(PROG, settings.master)
    spark.sparkContext.setLogLevel("WARN")
    try:
        with AnalyticsJob(settings, spark, contract=contract) as job:
            job.run(stop)
            log.info(
                "stopped: %d summaries published, %d batches already published skipped",
                job.publisher.published,
                job.publisher.skipped_batches,
            )
    finally:
        spark.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        settings = settings_mod.from_args(args)
    except ConfigError as exc:
        parser.error(str(exc))
    stop = threading.Event()
    previous = _install_signals(stop)
    try:
        return run_command(PROG, lambda: run(settings, stop))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
