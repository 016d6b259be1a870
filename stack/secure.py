"""The secured stack (``f1-stack up --secure``): Kafka with SASL_SSL and ACLs, the schema
registry behind a TLS proxy with basic auth, and InfluxDB with scoped tokens, each with a
user (or token) per service. It has its own ports and state folder
(``$F1_STATE_DIR/secure``, ``stack.secure_paths``), so it runs beside the default stack.

| service | endpoint |
|---|---|
| Kafka | 127.0.0.1:29092 (SASL_SSL, SCRAM-SHA-512; the broker's own listeners 29093, 29094) |
| schema registry | https://127.0.0.1:28081/apis/ccompat/v7 (Apicurio itself on 127.0.0.1:28080) |
| InfluxDB | http://127.0.0.1:28086 (loopback only; scoped tokens) |
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from stack import secure_kafka
from stack.certificates import Certificates, ensure_certificates, require_openssl
from stack.errors import StackError
from stack.influxdb import BUCKET, ORG, InfluxDB
from stack.lifecycle import install_missing, start_and_wait, started_summary, stop_services
from stack.registry_proxy import RegistryProxy, SecureApicurio
from stack.secret_files import read_secret
from stack.secure_kafka import MECHANISM, SecureKafka
from stack.secure_paths import (
    SecuredStackFiles,
    kafka_password_file,
    logs_dir,
    registry_password_file,
    secure_dir,
    tls_dir,
)
from stack.service import Service
from stack.service_users import ServiceUser, service_users

INFLUX_PORT = 28086
# Who runs `f1-stack topics --secure`.
TOPICS_USER = "admin"


class SecureInfluxDB(SecuredStackFiles, InfluxDB):
    name = "secure-influxdb"
    folder = "influxdb"
    port = INFLUX_PORT

    @property
    def token_file(self) -> Path:
        return self.data_dir / "token"


def services() -> list[Service]:
    """The secured stack's processes in start order (stopped in reverse)."""
    return [SecureKafka(), SecureApicurio(), RegistryProxy(), SecureInfluxDB()]


def certificates() -> Certificates:
    return Certificates(tls_dir())


def up() -> int:
    started_at = time.monotonic()
    every = services()
    # The tools the stack cannot fetch itself, checked before anything is downloaded or started.
    require_openssl()
    proxy = RegistryProxy()
    if not proxy.installed():
        proxy.install()  # says which package to install
    install_missing(every)
    # Everything the secured stack keeps is its owner's alone.
    secure_dir().mkdir(parents=True, exist_ok=True)
    secure_dir().chmod(0o700)
    ensure_certificates(tls_dir(), logs_dir() / "certificates.log")
    fresh = start_and_wait(every)
    print(f"secured stack is up {started_summary(every, fresh, started_at)}")
    for service in every:
        print(f"  {service.name:16} {service.describe()}")
    print(f"  {'CA certificate':16} {certificates().ca}")
    print(f"  {'state and logs':16} {secure_dir()}")
    print("\n".join(export_lines(service_users())))
    return 0


def export_lines(users: list[ServiceUser]) -> list[str]:
    """What ``up --secure`` prints for the shell: the settings every service shares, then
    per service its user, password files and InfluxDB token file."""
    lines = ["# for every service and client in this shell:"]
    lines += [f"export {name}={value}" for name, value in shared_env().items()]
    lines.append("# then, in the shell of each service, its own user and secrets:")
    for user in users:
        lines.append(f"# {user.name}: {user.used_by}")
        assignments = [f"{name}={value}" for name, value in user_env(user).items()]
        lines.append("export " + " ".join(assignments))
    return lines


def shared_env() -> dict[str, str]:
    """The settings every client of the secured stack shares: where it is, how to log in."""
    kafka, _, proxy, influx = services()
    ca = str(certificates().ca)
    return {
        "F1_KAFKA_BOOTSTRAP": kafka.endpoint(),
        "F1_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "F1_KAFKA_SASL_MECHANISM": MECHANISM,
        "F1_KAFKA_SSL_CA_LOCATION": ca,
        "F1_SCHEMA_REGISTRY_URL": proxy.endpoint(),
        "F1_SCHEMA_REGISTRY_CA_LOCATION": ca,
        "F1_INFLUX_URL": influx.endpoint(),
        "F1_INFLUX_ORG": ORG,
        "F1_INFLUX_BUCKET": BUCKET,
    }


def user_env(user: ServiceUser) -> dict[str, str]:
    """One user's own settings: its logins (password files) and its InfluxDB token file."""
    influx = services()[3]
    assert isinstance(influx, SecureInfluxDB)
    env = {
        "F1_KAFKA_SASL_USERNAME": user.name,
        "F1_KAFKA_SASL_PASSWORD_FILE": str(kafka_password_file(user.name)),
        "F1_SCHEMA_REGISTRY_USERNAME": user.name,
        "F1_SCHEMA_REGISTRY_PASSWORD_FILE": str(registry_password_file(user.name)),
    }
    if user.influx == "write":
        env["F1_INFLUX_WRITE_TOKEN_FILE"] = str(influx.scoped_token_file("write"))
    if user.influx == "read":
        env["F1_INFLUX_READ_TOKEN_FILE"] = str(influx.scoped_token_file("read"))
    return env


def user_env_of(name: str) -> dict[str, str]:
    """:func:`user_env` of the user called ``name``."""
    (user,) = [u for u in service_users() if u.name == name]
    return user_env(user)


def topics_client_config() -> dict[str, Any]:
    """librdkafka settings of ``f1-stack topics --secure``: the admin user."""
    if services()[0].running() is None:
        raise StackError("the secured stack is not running: start it with f1-stack up --secure")
    return secure_kafka.user_config(
        TOPICS_USER, read_secret(kafka_password_file(TOPICS_USER)), certificates().ca
    )


def bootstrap() -> str:
    return secure_kafka.bootstrap()


def down() -> int:
    return stop_services(services())
