"""The Spark connector jars (Kafka source/sink, spark-avro) for the installed pyspark.

PyPI's pyspark wheel ships neither, and ``spark.jars.packages`` resolves through Ivy
against hosts that are not always reachable, so the jars are copied from Maven Central
once into the cache and handed to Spark with ``spark.jars``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from runtime.paths import spark_jars_dir
from stack import paths, tools

POM = Path(__file__).with_name("maven") / "spark-connectors.pom.xml"
# Spark's own jars (and their dependencies) are in the pyspark wheel already; copying
# them again would put two versions of the same classes on the class path.
CONNECTOR_ARTIFACTS = (
    "spark-sql-kafka-0-10_2.13",
    "spark-token-provider-kafka-0-10_2.13",
    "kafka-clients",
    "commons-pool2",
    "spark-avro_2.13",
)


def wanted() -> bool:
    """Whether pyspark is installed here (the `analytics` extra): only then are the jars
    of its version fetched."""
    return importlib.util.find_spec("pyspark") is not None


def spark_version() -> str:
    import pyspark

    return pyspark.__version__


def jars_dir() -> Path:
    return spark_jars_dir(spark_version())


def installed() -> bool:
    return (jars_dir() / ".complete").exists()


def install() -> None:
    target = jars_dir()
    target.mkdir(parents=True, exist_ok=True)
    tools.maven(
        POM,
        [
            f"{tools.DEPENDENCY_PLUGIN}:copy-dependencies",
            f"-Dspark.version={spark_version()}",
            f"-DincludeArtifactIds={','.join(CONNECTOR_ARTIFACTS)}",
            f"-DoutputDirectory={target}",
        ],
        repo=paths.cache_dir() / "m2",
        log_file=paths.logs_dir() / "install-spark-jars.log",
        what=f"downloading the Spark {spark_version()} Kafka and Avro connectors",
    )
    (target / ".complete").touch()


def jars() -> list[Path]:
    """The connector jars to pass as ``spark.jars`` (installs them when missing)."""
    if not installed():
        install()
    return sorted(jars_dir().glob("*.jar"))
