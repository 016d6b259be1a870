"""The whole platform on this machine: the stack, the schemas, the topics, then every service.

Each service runs as its own process with its own log, exactly as a user would start it by
hand; they share only topics and schemas. Ctrl-C (or SIGTERM) stops the simulator first,
gives the consumers a moment to drain and commit, then stops them; the stack itself keeps
running (``f1-stack down`` stops it).

:class:`Platform` is the same set of services for the end-to-end tests, which give it their
own topics, bucket and checkpoint through ``env``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runtime.command import StopSignal
from runtime.endpoints import Endpoints
from schemas.registration import register_all
from schemas.topics import Topics
from stack import lifecycle, paths, procs
from stack.dashboard_serve import DashboardLogin, ask_health
from stack.topics import ensure_topics, platform_topics

DASHBOARD_PORT = 5006
SIMULATOR = "simulator"
# How long consumers get to finish their last batch after the simulator stopped.
DRAIN_S = 3.0
STOP_TIMEOUT_S = 20.0


@dataclass
class Options:
    cars: int = 20
    rate: str = "realtime"
    laps: int | None = None  # a race: its distance (None: a Grand Prix); practice: until Ctrl-C
    session: str = "race"  # the demo shows a race: grid, lights out, pit stops, the flag
    dashboard_port: int = DASHBOARD_PORT
    simulator_args: tuple[str, ...] = ()  # more f1-simulate flags (--seed, --session-id)
    env: Mapping[str, str] = field(default_factory=dict)  # on top of this process's env
    # Each service's own settings on top of ``env`` (on the secured stack: its user's login).
    service_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    logs_dir: Path | None = None  # default: the state folder's logs
    # The pit wall's login (F1_DASHBOARD_BASIC_AUTH_FILE); None: none, on loopback only.
    dashboard_login: DashboardLogin | None = None


@dataclass
class Service:
    name: str
    argv: list[str]
    log_file: Path
    process: subprocess.Popen | None = None
    env: Mapping[str, str] = field(default_factory=dict)  # this service's own, on top

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def service_commands(options: Options) -> dict[str, list[str]]:
    """Start order: consumers first, so they are subscribed when the first lap begins."""
    python = sys.executable
    port = str(options.dashboard_port)
    simulator = [python, "-m", "producer", "--session", options.session]
    simulator += ["--cars", str(options.cars), "--rate", options.rate]
    if options.laps is not None:
        simulator += ["--laps", str(options.laps)]
    login = options.dashboard_login
    return {
        "dashboard": [
            python,
            "-m",
            "panel",
            "serve",
            str(paths.REPO_ROOT / "dashboard" / "app.py"),
            "--plugins",
            "dashboard.health",
            # Loopback only: the pit wall is for this machine unless someone decides otherwise
            # (and turns the login on).
            "--address",
            "127.0.0.1",
            "--port",
            port,
            "--allow-websocket-origin",
            f"127.0.0.1:{port}",
            "--allow-websocket-origin",
            f"localhost:{port}",
            *(login.panel_flags() if login else []),
        ],
        "sink-influx": [python, "-m", "sinks", "run"],
        "analytics": [python, "-m", "analytics"],
        SIMULATOR: [*simulator, *options.simulator_args],
    }


class Platform:
    """The platform's services as child processes, each with its own log."""

    def __init__(self, options: Options) -> None:
        self.options = options
        logs = options.logs_dir or paths.logs_dir()
        self.env = {**os.environ, **options.env, "PYTHONUNBUFFERED": "1"}
        self.services = {
            name: Service(
                name, argv, logs / f"demo-{name}.log", env=options.service_env.get(name, {})
            )
            for name, argv in service_commands(options).items()
        }
        if options.dashboard_login is not None:
            # The cookie secret reaches the pit wall alone, through its environment.
            dashboard = self.services["dashboard"]
            dashboard.env = {**dashboard.env, **options.dashboard_login.panel_env()}

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.options.dashboard_port}/app"

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.options.dashboard_port}/health"

    def start(self, *names: str) -> None:
        """Start the named services (all, in order, when none are named)."""
        for name in names or self.services:
            service = self.services[name]
            service.log_file.parent.mkdir(parents=True, exist_ok=True)
            with open(service.log_file, "ab") as log:
                service.process = subprocess.Popen(
                    service.argv,
                    cwd=paths.REPO_ROOT,
                    env={**self.env, **service.env},
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    # Own process group: Ctrl-C reaches only the supervisor, which stops the
                    # services in order.
                    start_new_session=True,
                )

    def start_dashboard_feed(self, timeout_s: float = 60.0) -> None:
        """Ask the dashboard's health endpoint once it answers: that starts its Kafka feed,
        so the pit wall is warm before the first browser opens (in the background)."""

        def ask() -> None:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                try:
                    # Any answer (503: Kafka not reachable yet) means the feed runs; with the
                    # login on, only an authenticated request starts it.
                    ask_health(self.health_url, self.options.dashboard_login)
                    return
                except OSError:
                    time.sleep(0.5)

        threading.Thread(target=ask, name="dashboard-warm-up", daemon=True).start()

    def kill(self, name: str) -> None:
        """SIGKILL one service: no flush, no commit, as a crash."""
        service = self.services[name]
        if service.alive():
            assert service.process is not None
            service.process.kill()
            service.process.wait()

    def exited(self) -> dict[str, int]:
        """Services that have ended: name -> exit code."""
        return {
            name: s.process.returncode
            for name, s in self.services.items()
            if s.process is not None and s.process.poll() is not None
        }

    def stop(self) -> dict[str, int | None]:
        """The simulator first, a moment to drain, then the consumers; exit codes by name."""
        _terminate([s for n, s in self.services.items() if n == SIMULATOR])
        consumers = [s for n, s in self.services.items() if n != SIMULATOR]
        if any(s.alive() for s in consumers):
            time.sleep(DRAIN_S)
        _terminate(consumers)
        return {
            name: s.process.returncode if s.process else None for name, s in self.services.items()
        }

    def log_tail(self, name: str, lines: int = 15) -> str:
        return procs.tail(self.services[name].log_file, lines)


def prepare(endpoints: Endpoints, topics: Topics) -> None:
    """The schemas registered and the platform's topics created (the stack is up)."""
    register_all(endpoints.registry_url, topics)
    created = ensure_topics(endpoints.kafka_bootstrap, platform_topics(topics))
    if created:
        print(f"created topics: {', '.join(created)}")


def run(options: Options, stop: StopSignal) -> int:
    """The stack, the contract, then every service until ``stop`` is set (Ctrl-C)."""
    lifecycle.up()
    prepare(Endpoints.from_env(), Topics.from_env())
    return supervise(options, stop, "f1-stack down")


def supervise(options: Options, stop: StopSignal, stack_down: str) -> int:
    """Every service, on a stack that is up, until ``stop`` is set; ``stack_down``: the
    command that stops that stack, for the user."""
    platform = Platform(options)
    platform.start()
    platform.start_dashboard_feed()
    for service in platform.services.values():
        assert service.process is not None
        print(f"started {service.name:12} pid {service.process.pid:>7}  log {service.log_file}")
    print(f"\ndashboard: {platform.dashboard_url}  (health: {platform.health_url})")
    if options.dashboard_login is not None:
        print(f"login:     the users of {options.dashboard_login.users_file}")
    print(f"logs:      {next(iter(platform.services.values())).log_file.parent}/demo-*.log")
    print(f"Ctrl-C stops the platform (the stack keeps running; `{stack_down}` stops it).\n")

    reported: set[str] = set()
    while not stop.is_set():
        for name, code in platform.exited().items():
            if name in reported:
                continue
            reported.add(name)
            if name == SIMULATOR and code == 0:
                print("the simulator finished its session; the other services keep running")
                continue
            tail = platform.log_tail(name)
            print(f"{name} exited with code {code}; the end of its log:\n{tail}", file=sys.stderr)
        if len(reported) == len(platform.services):
            return 1
        stop.wait(0.5)
    print("\nstopping the platform...")
    for name, exit_code in platform.stop().items():
        print(f"  {name:12} stopped (exit {exit_code})")
    return 0


def _terminate(group: list[Service]) -> None:
    alive = [s for s in group if s.alive()]
    for service in alive:
        assert service.process is not None
        service.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for service in alive:
        assert service.process is not None
        try:
            service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(
                f"  {service.name} did not stop in {STOP_TIMEOUT_S:.0f} s: killed", file=sys.stderr
            )
            service.process.kill()
            service.process.wait()
