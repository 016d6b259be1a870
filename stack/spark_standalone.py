"""A Spark standalone cluster on loopback: one master and one worker, from the installed
pyspark's own launcher (``bin/spark-class``), so the analytics job can run with
``--master spark://127.0.0.1:17077`` as it would on a real cluster.

| process | RPC | web UI |
|---|---|---|
| master | 17077 | 18080 (``/json/``: workers and applications) |
| worker | 17078 | 18081 |

The worker offers 2 cores and 1 GiB to executors. Executors get the Kafka and Avro
connector jars from the driver (``spark.jars``, which ``analytics.spark_session`` sets), and
run their Python workers with the driver's interpreter (``PYSPARK_PYTHON``, here this venv),
so they import the job's code as the driver does. Logs, work folders and pid files are in
``$F1_STATE_DIR/cluster``, beside the Kafka nodes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from stack import spark_jars, tools
from stack.kafka_cluster import ClusterFiles, cluster_dir
from stack.service import Launch, Service

MASTER_PORT = 17077
MASTER_UI_PORT = 18080
WORKER_PORT = 17078
WORKER_UI_PORT = 18081
WORKER_CORES = 2
WORKER_MEMORY = "1g"

LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
# Registration of workers and applications: what the log is read for.
logger.deploy.name = org.apache.spark.deploy
logger.deploy.level = info
"""


def spark_home() -> Path:
    """The installed pyspark package: it is a Spark distribution (bin/, jars/)."""
    spec = importlib.util.find_spec("pyspark")
    assert spec is not None and spec.origin is not None, "pyspark is not installed"
    return Path(spec.origin).parent


def master_url() -> str:
    return f"spark://127.0.0.1:{MASTER_PORT}"


def master_state(timeout_s: float = 2.0) -> dict[str, Any] | None:
    """The master's JSON status (workers, running and finished applications), or None."""
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{MASTER_UI_PORT}/json/", timeout=timeout_s
        ) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None


class _SparkDaemon(ClusterFiles, Service):
    start_timeout_s = 90.0
    ui_port: int

    @property
    def data_dir(self) -> Path:
        return cluster_dir() / "spark"

    def ports(self) -> list[int]:
        return [self.port, self.ui_port]

    def installed(self) -> bool:
        return spark_jars.installed()

    def install(self) -> None:
        # Spark itself is the pyspark wheel; what the job needs besides are the connectors.
        spark_jars.install()

    def _launch(self, main_class: str, args: list[str]) -> Launch:
        conf = self.data_dir / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "log4j2.properties").write_text(LOG4J2)
        java = Path(tools.find_java(17, "F1_SPARK_JAVA_HOME"))
        env = {
            "SPARK_HOME": str(spark_home()),
            "JAVA_HOME": str(java.parent.parent),
            "SPARK_CONF_DIR": str(conf),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_LOG_DIR": str(self.log_file.parent),
            # The daemons only keep book; the executors' heap is the worker's memory.
            "SPARK_DAEMON_MEMORY": "256m",
            # The REST submission server is another open port nobody here uses.
            "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
            # Finished applications' folders (executor logs, fetched jars) go after a day.
            "SPARK_WORKER_OPTS": "-Dspark.worker.cleanup.enabled=true "
            "-Dspark.worker.cleanup.appDataTtl=86400",
            "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON") or sys.executable,
        }
        spark_class = spark_home() / "bin" / "spark-class"
        # spark-class ends in `exec java ...`: the pid recorded is the JVM's.
        return Launch(["bash", str(spark_class), main_class, *args], cwd=self.data_dir, env=env)


class SparkMaster(_SparkDaemon):
    name = "spark-master"
    port = MASTER_PORT
    ui_port = MASTER_UI_PORT

    def launch(self) -> Launch:
        return self._launch(
            "org.apache.spark.deploy.master.Master",
            ["--host", "127.0.0.1", "--port", str(self.port), "--webui-port", str(self.ui_port)],
        )

    def healthy(self) -> bool:
        state = master_state()
        return state is not None and state.get("status") == "ALIVE"

    def endpoint(self) -> str:
        return master_url()

    def describe(self) -> str:
        return f"{master_url()} (web UI http://127.0.0.1:{self.ui_port})"


class SparkWorker(_SparkDaemon):
    name = "spark-worker"
    port = WORKER_PORT
    ui_port = WORKER_UI_PORT

    def launch(self) -> Launch:
        work = self.data_dir / "work"
        work.mkdir(parents=True, exist_ok=True)
        return self._launch(
            "org.apache.spark.deploy.worker.Worker",
            [
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--webui-port",
                str(self.ui_port),
                "--cores",
                str(WORKER_CORES),
                "--memory",
                WORKER_MEMORY,
                "--work-dir",
                str(work),
                master_url(),
            ],
        )

    def healthy(self) -> bool:
        """Registered with the master, and alive there."""
        state = master_state() or {}
        return any(
            w.get("port") == self.port and w.get("state") == "ALIVE"
            for w in state.get("workers", [])
        )

    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def describe(self) -> str:
        return f"{self.endpoint()} ({WORKER_CORES} cores, {WORKER_MEMORY} for executors)"
