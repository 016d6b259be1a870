"""What every stack service provides, and the shared start/stop/health logic."""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from stack import paths, procs
from stack.errors import StackError

log = logging.getLogger(__name__)


@dataclass
class Launch:
    """How to run a service: the command, its working folder and extra environment."""

    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)


class Service(ABC):
    """One local process of the stack (Kafka, the registry, InfluxDB)."""

    name: str
    port: int
    start_timeout_s: float = 120.0

    @property
    def home(self) -> Path:
        """The stack's folder this service belongs to: its ``pids/`` and ``logs/`` are there
        (a cluster's or the secured stack's services name their own)."""
        return paths.state_dir()

    @property
    def pid_file(self) -> Path:
        return self.home / "pids" / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / f"{self.name}.log"

    @property
    def data_dir(self) -> Path:
        return self.home / self.name

    @abstractmethod
    def installed(self) -> bool:
        """True when everything needed to start is in the cache."""

    @abstractmethod
    def install(self) -> None:
        """Download or build what is missing into the cache."""

    @abstractmethod
    def launch(self) -> Launch:
        """Prepare the data folder and say how to start the process."""

    @abstractmethod
    def healthy(self) -> bool:
        """True when the service answers requests (quick: called in a poll loop)."""

    @abstractmethod
    def endpoint(self) -> str:
        """What clients connect to."""

    def describe(self) -> str:
        """The endpoint as ``status`` shows it (with other ports, where it has some)."""
        return self.endpoint()

    def after_start(self) -> None:  # noqa: B027 - optional hook
        """One-off set-up once the service answers (idempotent)."""

    def ports(self) -> list[int]:
        """Every port the service listens on (checked free before a start)."""
        return [self.port]

    def running(self) -> procs.PidRecord | None:
        return procs.read_pid(self.pid_file)

    def start(self) -> procs.PidRecord:
        """Start the process unless it runs already; fail clearly if its port is taken."""
        record = self.running()
        if record is not None:
            return record
        for port in self.ports():
            if procs.port_open(port):
                raise StackError(
                    f"{self.name}: port {port} is already taken by another process "
                    f"(not started by f1-stack); stop it or free the port"
                )
        spec = self.launch()
        log.info("starting %s", self.name)
        return procs.spawn(
            spec.argv,
            pid_file=self.pid_file,
            log_file=self.log_file,
            cwd=spec.cwd,
            env={**os.environ, **spec.env},
        )

    def wait_healthy(self) -> None:
        ok = procs.wait_until(
            self.healthy,
            timeout_s=self.start_timeout_s,
            alive=lambda: self.running() is not None,
        )
        if ok:
            return
        state = "exited"
        if self.running() is not None:
            state = f"did not answer in {self.start_timeout_s:.0f} s"
        raise StackError(
            f"{self.name} {state}; last lines of {self.log_file}:\n{procs.tail(self.log_file)}"
        )

    def stop(self) -> procs.PidRecord | None:
        return procs.stop(self.pid_file)
