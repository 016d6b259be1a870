"""Three Kafka KRaft nodes on loopback, each a broker and a controller, as one cluster.

The nodes use the single-node stack's jars (``stack.kafka``) but a port range and a state
folder of their own (``$F1_STATE_DIR/cluster``), so a cluster runs beside the single-node
stack without touching it:

| node | broker | controller |
|---|---|---|
| 1 | 19092 | 19192 |
| 2 | 19093 | 19193 |
| 3 | 19094 | 19194 |

The controller quorum is the three nodes (static voters), so it survives one node down.
Every topic, the brokers' own included (consumer offsets, transaction state), is created
with three replicas and ``min.insync.replicas=2``: with ``acks=all`` a write is acknowledged
once two nodes hold it, so killing any one node loses nothing that was acknowledged.
"""

from __future__ import annotations

from pathlib import Path

from stack import paths
from stack.kafka import Kafka, new_cluster_id

NODES = 3
FIRST_BROKER_PORT = 19092
FIRST_CONTROLLER_PORT = 19192

NODE_PROPERTIES = """\
process.roles=broker,controller
node.id={node}
controller.quorum.voters={voters}
listeners=PLAINTEXT://127.0.0.1:{broker},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{broker},CONTROLLER://127.0.0.1:{controller}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={data}
num.partitions=1
# Three copies of everything, writes acknowledged by two: one node may die at any time.
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
# A replica that missed acknowledged writes must never become the leader.
unclean.leader.election.enable=false
group.initial.rebalance.delay.ms=0
# Three JVMs share two cores with the rest of the platform.
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.retention.hours=168
auto.create.topics.enable=true
"""


def cluster_dir() -> Path:
    """The cluster's state: each node's data, and the cluster's own logs and pid files."""
    return paths.state_dir() / "cluster"


def broker_port(node: int) -> int:
    return FIRST_BROKER_PORT + node - 1


def controller_port(node: int) -> int:
    return FIRST_CONTROLLER_PORT + node - 1


def voters() -> str:
    """``controller.quorum.voters``: id@host:port of every node."""
    return ",".join(f"{n}@127.0.0.1:{controller_port(n)}" for n in range(1, NODES + 1))


def bootstrap() -> str:
    """Every broker, so a client finds the cluster whichever node is down."""
    return ",".join(f"127.0.0.1:{broker_port(n)}" for n in range(1, NODES + 1))


class ClusterFiles:
    """A cluster service: its pid, log and data files under the cluster's folder, apart from
    the single-node stack's (mixed in before :class:`stack.service.Service`)."""

    @property
    def home(self) -> Path:
        return cluster_dir()


class KafkaNode(ClusterFiles, Kafka):
    """One node of the cluster: broker ``1909x`` and controller ``1919x``."""

    start_timeout_s = 120.0
    # Three of them on a shared machine; a test load needs far less than the default.
    heap = ("-Xms128m", "-Xmx384m")

    def __init__(self, node: int) -> None:
        self.node = node
        self.name = f"kafka-{node}"
        self.port = broker_port(node)
        self.controller_port = controller_port(node)

    def server_properties(self, data: Path) -> str:
        return NODE_PROPERTIES.format(
            node=self.node,
            voters=voters(),
            broker=self.port,
            controller=self.controller_port,
            data=data,
        )

    def format_options(self) -> list[str]:
        # The quorum is the static voter list in the properties: nothing to add.
        return []

    def cluster_id(self) -> str:
        """One id for every node (they refuse to form a cluster otherwise), made once."""
        path = cluster_dir() / "cluster.id"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(new_cluster_id() + "\n")
        return path.read_text().strip()

    def healthy(self) -> bool:
        """The node answers and is a registered, unfenced broker of the cluster."""
        return self.node in self.registered_brokers()

    def describe(self) -> str:
        return f"{self.endpoint()} (controller {self.controller_port})"


def nodes() -> list[KafkaNode]:
    return [KafkaNode(n) for n in range(1, NODES + 1)]
