"""Kafka for the secured stack: one KRaft node whose every listener is SASL over TLS, with the
StandardAuthorizer, so a client must log in and may do only what its ACLs allow.

| listener | port | login | for |
|---|---|---|---|
| ``CLIENT`` | 29092 | SCRAM-SHA-512, one user per service | services and clients |
| ``INTERNAL`` | 29094 | PLAIN, the super user ``stack`` | the broker itself and f1-stack |
| ``CONTROLLER`` | 29093 | PLAIN, the super user ``stack`` | the KRaft controller |

The super user logs in with PLAIN on listeners of its own because SCRAM credentials live in
the cluster's metadata: the controller cannot check them before its metadata is loaded, and
the super user's password then stays in the 0600 properties file rather than on the command
line of ``kafka-storage format --add-scram``. Every other user is created (SCRAM-SHA-512)
and granted its ACLs (``stack.service_users``) by f1-stack through the admin API after
each start; both are idempotent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException

from runtime.kafka import client_config
from stack import procs
from stack.certificates import Certificates
from stack.errors import StackError
from stack.kafka import SINGLE_NODE_SETTINGS, Kafka
from stack.secret_files import password_file
from stack.secure_paths import SecuredStackFiles, kafka_password_file, tls_dir
from stack.service import Launch
from stack.service_users import ServiceUser, acl_bindings, service_users

CLIENT_PORT = 29092
CONTROLLER_PORT = 29093
INTERNAL_PORT = 29094
SUPER_USER = "stack"
MECHANISM = "SCRAM-SHA-512"
SCRAM_ITERATIONS = 8192

SECURE_PROPERTIES = (
    """\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{controller}
listeners=CLIENT://127.0.0.1:{client},INTERNAL://127.0.0.1:{internal},\
CONTROLLER://127.0.0.1:{controller}
advertised.listeners=CLIENT://127.0.0.1:{client},INTERNAL://127.0.0.1:{internal},\
CONTROLLER://127.0.0.1:{controller}
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
# No PLAINTEXT listener: every connection is TLS and logs in.
listener.security.protocol.map=CLIENT:SASL_SSL,INTERNAL:SASL_SSL,CONTROLLER:SASL_SSL
listener.name.client.sasl.enabled.mechanisms={mechanism}
listener.name.client.scram-sha-512.sasl.jaas.config=\
org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.internal.sasl.enabled.mechanisms=PLAIN
listener.name.internal.plain.sasl.jaas.config={plain_jaas}
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config={plain_jaas}
sasl.mechanism.inter.broker.protocol=PLAIN
sasl.mechanism.controller.protocol=PLAIN
ssl.keystore.type=PEM
ssl.keystore.location={keystore}
ssl.truststore.type=PEM
ssl.truststore.location={ca}
ssl.enabled.protocols=TLSv1.3,TLSv1.2
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:{super_user}
allow.everyone.if.no.acl.found=false
"""
    + SINGLE_NODE_SETTINGS
    + """\
# Topics are made by the admin user (f1-stack topics --secure), never by a first write.
auto.create.topics.enable=false
"""
)


def plain_jaas(user: str, password: str) -> str:
    """The PLAIN login of ``user``: as a client (username, password) and the one account the
    listener accepts (user_<name>)."""
    return (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="{user}" password="{password}" user_{user}="{password}";'
    )


def secure_properties(data: Path, certificates: Certificates, super_password: str) -> str:
    return SECURE_PROPERTIES.format(
        client=CLIENT_PORT,
        internal=INTERNAL_PORT,
        controller=CONTROLLER_PORT,
        mechanism=MECHANISM,
        plain_jaas=plain_jaas(SUPER_USER, super_password),
        keystore=certificates.keystore,
        ca=certificates.ca,
        super_user=SUPER_USER,
        data=data,
    )


def bootstrap() -> str:
    """What services and clients connect to."""
    return f"127.0.0.1:{CLIENT_PORT}"


def user_config(user: str, password: str, ca: Path) -> dict[str, Any]:
    """librdkafka settings for ``user`` on the client listener."""
    return {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": MECHANISM,
        "sasl.username": user,
        "sasl.password": password,
        "ssl.ca.location": str(ca),
    }


class SecureKafka(SecuredStackFiles, Kafka):
    name = "secure-kafka"
    folder = "kafka"
    port = CLIENT_PORT
    controller_port = CONTROLLER_PORT
    internal_port = INTERNAL_PORT

    @property
    def certificates(self) -> Certificates:
        return Certificates(tls_dir())

    def super_password(self) -> str:
        return password_file(kafka_password_file(SUPER_USER))

    def server_properties(self, data: Path) -> str:
        return secure_properties(data, self.certificates, self.super_password())

    def launch(self) -> Launch:
        # server.properties holds the super user's password: only its owner may read it.
        config = self.data_dir / "config"
        config.mkdir(parents=True, exist_ok=True)
        config.chmod(0o700)
        launched = super().launch()
        (config / "server.properties").chmod(0o600)
        return launched

    def ports(self) -> list[int]:
        return [self.port, self.controller_port, self.internal_port]

    def stack_config(self) -> dict[str, Any]:
        """librdkafka settings of f1-stack itself: the super user on the internal listener."""
        return client_config(
            f"127.0.0.1:{self.internal_port}",
            log_level=0,
            **{
                "security.protocol": "SASL_SSL",
                "sasl.mechanism": "PLAIN",
                "sasl.username": SUPER_USER,
                "sasl.password": self.super_password(),
                "ssl.ca.location": str(self.certificates.ca),
            },
        )

    def healthy(self) -> bool:
        if not procs.port_open(self.port):
            return False
        from confluent_kafka.admin import AdminClient

        try:
            return bool(AdminClient(self.stack_config()).list_topics(timeout=2).brokers)
        except Exception:  # any client error means "not ready yet"
            return False

    def after_start(self) -> None:
        """Create each service user (its password made once) and grant its ACLs."""
        users = service_users()
        from confluent_kafka.admin import AdminClient

        admin = AdminClient(self.stack_config())
        _upsert_users(admin, users)
        futures = admin.create_acls(acl_bindings(users))
        for binding, future in futures.items():
            try:
                future.result()
            except KafkaException as exc:
                raise StackError(f"granting {binding} failed: {exc}") from None

    def describe(self) -> str:
        return f"{self.endpoint()} SASL_SSL {MECHANISM} (internal {self.internal_port})"


def _upsert_users(admin: Any, users: list[ServiceUser]) -> None:
    from confluent_kafka.admin import (
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    upserts = [
        UserScramCredentialUpsertion(
            user.name, info, password_file(kafka_password_file(user.name)).encode()
        )
        for user in users
    ]
    for name, future in admin.alter_user_scram_credentials(upserts).items():
        try:
            future.result()
        except KafkaException as exc:
            raise StackError(f"creating the Kafka user {name} failed: {exc}") from None
