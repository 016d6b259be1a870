"""``f1-analytics``: per-lap analytics of the telemetry stream, published to f1-analytics."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from analytics import settings as settings_mod
from runtime.command import StopSignal, add_verbose_flag, run_main

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
    add_verbose_flag(parser)
    return parser


def run(settings: settings_mod.Settings, stop: StopSignal) -> int:
    # Imported here so that --help and bad flags answer without loading Spark.
    from analytics.job import AnalyticsJob, check_broker, load_contract
    from analytics.spark_session import build_session

    # Everything that can be checked without Spark first: one line, no JVM.
    check_broker(settings.kafka_bootstrap)
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
    return run_main(PROG, build_parser(), run, argv, settings=settings_mod.from_args)


if __name__ == "__main__":
    sys.exit(main())
