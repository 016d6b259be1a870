"""Where the secured stack (``f1-stack up --secure``) keeps its state: its own folder,
``$F1_STATE_DIR/secure``, so it runs beside the default stack without touching it.

| folder | what |
|---|---|
| ``tls/`` | the CA (``ca.pem``, what clients trust) and the server certificate and key |
| ``secrets/`` | ``kafka-<user>.password``, ``registry-<user>.password``, ``registry.htpasswd`` |
| ``influxdb/`` | InfluxDB's data and its ``token``, ``write-token`` and ``read-token`` |
| ``kafka/``, ``schema-registry/``, ``registry-proxy/`` | each service's data and config |
| ``logs/``, ``pids/`` | as in the default stack |
"""

from __future__ import annotations

from pathlib import Path

from stack import paths


def secure_dir() -> Path:
    return paths.state_dir() / "secure"


def tls_dir() -> Path:
    return secure_dir() / "tls"


def secrets_dir() -> Path:
    return secure_dir() / "secrets"


def logs_dir() -> Path:
    return secure_dir() / "logs"


def kafka_password_file(user: str) -> Path:
    return secrets_dir() / f"kafka-{user}.password"


def registry_password_file(user: str) -> Path:
    return secrets_dir() / f"registry-{user}.password"


class SecuredStackFiles:
    """A stack service whose pid, log and data live in the secured stack's folder (mixed in
    before :class:`stack.service.Service`); its data folder is ``folder`` (the service's
    short name) there."""

    folder: str

    @property
    def home(self) -> Path:
        return secure_dir()

    @property
    def data_dir(self) -> Path:
        return secure_dir() / self.folder
