"""A SparkSession with the Kafka and Avro connectors on its class path."""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

from runtime.errors import ConfigError
from runtime.paths import spark_jars_dir


def connector_jars() -> list[str]:
    """``F1_SPARK_JARS`` (comma-separated paths) when set, else the jars ``f1-stack up`` keeps
    in the platform's cache (``runtime.paths.spark_jars_dir``)."""
    given = os.environ.get("F1_SPARK_JARS")
    if given:
        return [path for path in given.split(",") if path]
    import pyspark

    folder = spark_jars_dir(pyspark.__version__)
    found = sorted(folder.glob("*.jar")) if (folder / ".complete").exists() else []
    if not found:
        raise ConfigError(
            f"the Spark Kafka and Avro connector jars are not in {folder}: run `f1-stack up` "
            "once (it fetches them), or set F1_SPARK_JARS to their paths"
        )
    return [str(path) for path in found]


def build_session(app_name: str, master: str = "local[2]") -> SparkSession:
    # Python workers must run this interpreter (the venv with pandas and pyarrow), not
    # whichever python3 comes first on PATH; PySpark reads the choice from the environment.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        SparkSession.builder.appName(app_name)
        .master(master)
        .config("spark.jars", ",".join(connector_jars()))
        # The JVM otherwise sizes its heap from the machine's memory; the job's state is a
        # row per car and a micro-batch a few MB, and these machines are shared.
        .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY") or "1g")
        # Two cores here: the default 200 shuffle partitions would be 200 tiny tasks.
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        # The console is where lap summaries are printed, not stage progress bars.
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        # The Kafka source's options may hold a SASL JAAS config with a password
        # (runtime.kafka_security): Spark masks option values whose names match these in
        # plans, logs and events; the defaults do not name "jaas".
        .config("spark.redaction.regex", r"(?i)secret|password|token|access[.]key|jaas")
        .config("spark.sql.redaction.options.regex", r"(?i)url|jaas|password")
        # Python workers with the fix for applyInPandasWithState (see analytics.spark_worker).
        .config("spark.python.daemon.module", "analytics.spark_worker")
        .getOrCreate()
    )
