"""The whole platform on this machine: the stack, the schemas, the topics, then every service.

Each service runs as its own process with its own log in the state folder, exactly as a
user would start it by hand; they share only topics and schemas. Ctrl-C (or SIGTERM)
stops the simulator first, gives the consumers a moment to drain and commit, then stops
them; the stack itself keeps running (``f1-stack down`` stops it).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from schemas import cli as schemas_cli
from schemas.endpoints import Endpoints
from schemas.errors import InfrastructureError
from stack import cli as stack_cli
from stack import paths, procs
from stack.topics import ensure_topics, platform_topics

DASHBOARD_PORT = 5006
# How long consumers get to finish their last batch after the simulator stopped.
DRAIN_S = 3.0
STOP_TIMEOUT_S = 20.0


@dataclass
class Service:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None

    @property
    def log_file(self) -> Path:
        return paths.logs_dir() / f"demo-{self.name}.log"


def services(cars: int, rate: str, dashboard_port: int) -> list[Service]:
    """Start order: consumers first, so they are subscribed when the first lap begins."""
    python = sys.executable
    return [
        Service(
            "dashboard",
            [
                python,
                "-m",
                "panel",
                "serve",
                str(paths.REPO_ROOT / "dashboard" / "app.py"),
                "--address",
                "127.0.0.1",
                "--port",
                str(dashboard_port),
                "--allow-websocket-origin",
                f"127.0.0.1:{dashboard_port}",
                "--allow-websocket-origin",
                f"localhost:{dashboard_port}",
            ],
        ),
        Service("sink-influx", [python, "-m", "sinks", "run"]),
        Service("analytics", [python, "-m", "analytics"]),
        Service("simulator", [python, "-m", "producer", "--cars", str(cars), "--rate", rate]),
    ]


class _Stop:
    def __init__(self) -> None:
        self.requested = False

    def __call__(self, _signum: int, _frame: FrameType | None) -> None:
        self.requested = True


def run(cars: int, rate: str, dashboard_port: int) -> int:
    stack_cli.up()
    if schemas_cli.main(["register"]) != 0:
        raise InfrastructureError("registering the schemas failed (see above)")
    endpoints = Endpoints.from_env()
    created = ensure_topics(endpoints.kafka_bootstrap, platform_topics())
    if created:
        print(f"created topics: {', '.join(created)}")

    stop = _Stop()
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    running = services(cars, rate, dashboard_port)
    for service in running:
        service.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(service.log_file, "ab") as log:
            service.process = subprocess.Popen(
                service.argv,
                cwd=paths.REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own process group: Ctrl-C reaches only this supervisor, which stops the
                # services in order.
                start_new_session=True,
            )
        print(f"started {service.name:12} pid {service.process.pid:>7}  log {service.log_file}")
    print(f"\ndashboard: http://127.0.0.1:{dashboard_port}/app")
    print(f"logs:      {paths.logs_dir()}/demo-*.log")
    print("Ctrl-C stops the platform (the stack keeps running; `f1-stack down` stops it).\n")

    reported: set[str] = set()
    while not stop.requested:
        for service in running:
            code = service.process.poll() if service.process else None
            if code is not None and service.name not in reported:
                reported.add(service.name)
                print(
                    f"{service.name} exited with code {code}; last lines of {service.log_file}:\n"
                    f"{procs.tail(service.log_file, 15)}",
                    file=sys.stderr,
                )
        if len(reported) == len(running):
            return 1
        time.sleep(0.5)
    return _stop_all(running)


def _stop_all(running: list[Service]) -> int:
    print("\nstopping the platform...")
    producers = [s for s in running if s.name == "simulator"]
    consumers = [s for s in running if s.name != "simulator"]
    _terminate(producers)
    time.sleep(DRAIN_S)
    _terminate(consumers)
    for service in running:
        code = service.process.returncode if service.process else None
        print(f"  {service.name:12} stopped (exit {code})")
    return 0


def _terminate(group: list[Service]) -> None:
    alive = [s for s in group if s.process and s.process.poll() is None]
    for service in alive:
        service.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for service in alive:
        try:
            service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(
                f"  {service.name} did not stop in {STOP_TIMEOUT_S:.0f} s: killed", file=sys.stderr
            )
            service.process.kill()
            service.process.wait()
