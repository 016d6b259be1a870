"""Apache Kafka 4.x, one KRaft node (broker and controller) on loopback, from Maven Central jars."""

from __future__ import annotations

import uuid
from pathlib import Path

from runtime.kafka import local_stack_config
from stack import paths, procs, tools
from stack.service import Launch, Service

POM = Path(__file__).with_name("maven") / "kafka.pom.xml"

BROKER_PORT = 9092
CONTROLLER_PORT = 9093

# Storage and sizing of a single node: the same for the default and the secured stack.
SINGLE_NODE_SETTINGS = """\
log.dirs={data}
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
min.insync.replicas=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# One consumer joining a group should not wait 3 s for others that never come.
group.initial.rebalance.delay.ms=0
# Two cores on the machines this runs on.
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.retention.hours=168
"""

SERVER_PROPERTIES = (
    """\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{controller}
listeners=PLAINTEXT://127.0.0.1:{broker},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{broker},CONTROLLER://127.0.0.1:{controller}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
"""
    + SINGLE_NODE_SETTINGS
    + "auto.create.topics.enable=true\n"
)

LOG4J2 = """\
Configuration:
  name: f1-kafka
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka
        level: WARN
      - name: org.apache.kafka
        level: WARN
      - name: kafka.server.KafkaRaftServer
        level: INFO
      - name: state.change.logger
        level: WARN
"""


class Kafka(Service):
    name = "kafka"
    port = BROKER_PORT
    controller_port = CONTROLLER_PORT
    start_timeout_s = 90.0
    heap = ("-Xms256m", "-Xmx512m")

    @property
    def libs(self) -> Path:
        return paths.cache_dir() / "kafka" / "libs"

    def installed(self) -> bool:
        return (self.libs / ".complete").exists()

    def install(self) -> None:
        self.libs.mkdir(parents=True, exist_ok=True)
        tools.maven(
            POM,
            [
                f"{tools.DEPENDENCY_PLUGIN}:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={self.libs}",
            ],
            repo=paths.cache_dir() / "m2",
            log_file=paths.logs_dir() / "install-kafka.log",
            what="downloading the Kafka jars (org.apache.kafka:kafka_2.13) from Maven Central",
        )
        (self.libs / ".complete").touch()

    def _java(self) -> list[str]:
        java = tools.find_java(17, "F1_KAFKA_JAVA_HOME")
        config = self.data_dir / "config"
        return [
            java,
            *self.heap,
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={config / 'log4j2.yaml'}",
            f"-Dkafka.logs.dir={self.log_file.parent}",
            "-cp",
            f"{self.libs}/*",
        ]

    def launch(self) -> Launch:
        config = self.data_dir / "config"
        config.mkdir(parents=True, exist_ok=True)
        data = self.data_dir / "data"
        properties = config / "server.properties"
        properties.write_text(self.server_properties(data))
        (config / "log4j2.yaml").write_text(LOG4J2)
        if not (data / "meta.properties").exists():
            # KRaft needs its storage formatted once with a cluster id; later starts reuse it.
            procs.run_logged(
                [
                    *self._java(),
                    "kafka.tools.StorageTool",
                    "format",
                    *self.format_options(),
                    "-t",
                    self.cluster_id(),
                    "-c",
                    str(properties),
                    "--ignore-formatted",
                ],
                log_file=self.log_file,
                what="formatting the Kafka storage",
            )
        return Launch([*self._java(), "kafka.Kafka", str(properties)], cwd=self.data_dir)

    def server_properties(self, data: Path) -> str:
        return SERVER_PROPERTIES.format(
            broker=self.port, controller=self.controller_port, data=data
        )

    def format_options(self) -> list[str]:
        """How ``StorageTool format`` learns the controller quorum: this node alone."""
        return ["--standalone"]

    def cluster_id(self) -> str:
        return new_cluster_id()

    def ports(self) -> list[int]:
        return [self.port, self.controller_port]

    def healthy(self) -> bool:
        return bool(self.registered_brokers())

    def registered_brokers(self) -> set[int]:
        """The broker ids the node's metadata lists (none while its port is closed or it
        does not answer yet)."""
        if not procs.port_open(self.port):
            return set()
        from confluent_kafka.admin import AdminClient

        admin = AdminClient(local_stack_config(self.endpoint(), log_level=0))
        try:
            metadata = admin.list_topics(timeout=2)
        except Exception:  # any client error means "not ready yet"
            return set()
        return set(metadata.brokers)

    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes in URL-safe base64 without padding (22 chars)."""
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
