"""``f1-stack demo --secure``: the platform on the secured stack, each service logged in as
its own user (``stack.service_users``), as someone would start it by hand from the lines
``f1-stack up --secure`` prints. The schemas and topics are made by the admin user, the only
one allowed to.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace

from runtime.command import StopSignal
from runtime.errors import ConfigError, InfrastructureError
from schemas.topics import Topics
from stack import paths, secure
from stack.demo import SIMULATOR, Options, supervise
from stack.secure_paths import logs_dir
from stack.topics import ensure_topics, platform_topics

# The demo's services -> the user each logs in as.
SERVICE_USERS = {
    "dashboard": "dashboard",
    "sink-influx": "sink",
    "analytics": "analytics",
    SIMULATOR: "producer",
}
ADMIN = "admin"
# Every setting that carries someone's login or token: each service gets these blank, then
# its own user's, so none takes another's secret from the shell that started the demo.
CREDENTIALS = (
    "F1_KAFKA_SASL_USERNAME",
    "F1_KAFKA_SASL_PASSWORD",
    "F1_KAFKA_SASL_PASSWORD_FILE",
    "F1_SCHEMA_REGISTRY_USERNAME",
    "F1_SCHEMA_REGISTRY_PASSWORD",
    "F1_SCHEMA_REGISTRY_PASSWORD_FILE",
    "F1_INFLUX_TOKEN",
    "F1_INFLUX_TOKEN_FILE",
    "F1_INFLUX_WRITE_TOKEN",
    "F1_INFLUX_WRITE_TOKEN_FILE",
    "F1_INFLUX_READ_TOKEN",
    "F1_INFLUX_READ_TOKEN_FILE",
)
REGISTER_TIMEOUT_S = 120.0


def secured(options: Options) -> Options:
    """``options`` for the secured stack: the settings every client shares under the demo's
    own (``options.env``: a test's topics), each service's user on top."""
    return replace(
        options,
        env={**secure.shared_env(), **options.env},
        service_env={
            name: login_env(user) | dict(options.service_env.get(name, {}))
            for name, user in SERVICE_USERS.items()
        },
    )


def login_env(user: str) -> dict[str, str]:
    """The credential settings of a process logged in as ``user``: its own, the rest blank."""
    return dict.fromkeys(CREDENTIALS, "") | secure.user_env_of(user)


def run(options: Options, stop: StopSignal) -> int:
    """The secured stack up, the schemas and topics made by its admin, then every service
    as its own user until ``stop`` is set (Ctrl-C)."""
    secure.up()
    prepare(Topics.from_env(), {})
    return supervise(secured(options), stop, "f1-stack down --secure")


def prepare(topics: Topics, env: Mapping[str, str]) -> None:
    """``f1-schemas register`` run as the admin user (``env``: the topics' settings), then
    the topics made by the admin."""
    admin_env = {**os.environ, **env, **secure.shared_env(), **login_env(ADMIN)}
    log = logs_dir() / "demo-register.log"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "schemas", "register"],
            cwd=paths.REPO_ROOT,
            env=admin_env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=REGISTER_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        raise InfrastructureError(
            f"f1-schemas register did not finish in {exc.timeout:.0f} s"
        ) from None
    log.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        # Its own one-line error is the last line it wrote; the rest is in the log.
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()
        why = said[-1] if said else f"exit {done.returncode}"
        raise ConfigError(f"f1-schemas register as {ADMIN} failed: {why} (log {log})")
    created = ensure_topics(
        secure.bootstrap(), platform_topics(topics), security=secure.topics_client_config()
    )
    if created:
        print(f"created topics: {', '.join(created)}")
