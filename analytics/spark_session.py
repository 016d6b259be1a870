"""A SparkSession with the Kafka and Avro connectors on its class path."""

from __future__ import annotations

import os

from pyspark.sql import SparkSession

from stack import spark_jars


def connector_jars() -> list[str]:
    """``F1_SPARK_JARS`` (comma-separated paths) when set, else the jars ``f1-stack`` fetched."""
    given = os.environ.get("F1_SPARK_JARS")
    if given:
        return [path for path in given.split(",") if path]
    return [str(path) for path in spark_jars.jars()]


def build_session(app_name: str, master: str = "local[2]") -> SparkSession:
    return (
        SparkSession.builder.appName(app_name)
        .master(master)
        .config("spark.jars", ",".join(connector_jars()))
        # Two cores here: the default 200 shuffle partitions would be 200 tiny tasks.
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
