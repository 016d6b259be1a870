"""The platform's two folders: a cache for what is expensive to get again, a state folder.

* ``F1_CACHE_DIR`` (default ``~/.cache/f1-telemetry``): downloads and builds, outside the repo
  so a fresh clone reuses them.
* ``F1_STATE_DIR`` (default ``.state/`` in the working directory's project root, see
  :func:`state_dir`): what running services write (data, logs, pids, checkpoints, tokens).

The local stack writes its InfluxDB token to ``$F1_STATE_DIR/influxdb/token``; services read
that documented path (``runtime.endpoints``) without importing the stack.
"""

from __future__ import annotations

import os
from pathlib import Path

# The project root when the package runs from a checkout (``pip install -e .``, the Docker
# image's /app); state then lives beside the code, where ``make`` and the README expect it.
PROJECT_ROOT = Path(__file__).resolve().parents[1]

# The local stack's InfluxDB port: its default URL, and the one address its operator token
# (below) is ever sent to (``runtime.endpoints.is_local_stack_influx``).
LOCAL_INFLUX_PORT = 8086


def cache_dir() -> Path:
    """``F1_CACHE_DIR``, default ``~/.cache/f1-telemetry``."""
    value = os.environ.get("F1_CACHE_DIR")
    return Path(value) if value else Path.home() / ".cache" / "f1-telemetry"


def state_dir() -> Path:
    """``F1_STATE_DIR``, default ``.state/`` in the project root."""
    value = os.environ.get("F1_STATE_DIR")
    return Path(value) if value else PROJECT_ROOT / ".state"


def local_influx_token_file() -> Path:
    """Where the local stack keeps the InfluxDB token it generated (a documented path)."""
    return state_dir() / "influxdb" / "token"


def spark_jars_dir(spark_version: str) -> Path:
    """Where the Spark Kafka and Avro connector jars for ``spark_version`` are kept:
    ``F1_SPARK_JARS_DIR`` when set, else ``$F1_CACHE_DIR/spark-jars/<version>``."""
    value = os.environ.get("F1_SPARK_JARS_DIR")
    return Path(value) if value else cache_dir() / "spark-jars" / spark_version
