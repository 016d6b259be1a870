"""Start, find and stop the stack's background processes by pid file.

A pid file records the pid and the process start time (from /proc), so ``down``
never signals an unrelated process that happens to reuse a stale pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from stack.errors import StackError


@dataclass(frozen=True)
class PidRecord:
    pid: int
    start_ticks: int


def _start_ticks(pid: int) -> int | None:
    """The process start time in clock ticks since boot, or None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after the last ')' are fixed.
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])


def read_pid(pid_file: Path) -> PidRecord | None:
    """The live process recorded in ``pid_file``, or None (and the stale file removed)."""
    try:
        pid_text, ticks_text = pid_file.read_text().split()
        record = PidRecord(int(pid_text), int(ticks_text))
    except (OSError, ValueError):
        return None
    if _start_ticks(record.pid) != record.start_ticks or _is_zombie(record.pid):
        pid_file.unlink(missing_ok=True)
        return None
    return record


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def spawn(
    argv: Sequence[str],
    *,
    pid_file: Path,
    log_file: Path,
    cwd: Path,
    env: dict[str, str] | None = None,
) -> PidRecord:
    """Start ``argv`` detached from this process (own session), output appended to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    cwd.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        log.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} start: {argv[0]}\n".encode())
        log.flush()
        try:
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise StackError(f"cannot start {argv[0]}: {exc.strerror}") from exc
    ticks = _start_ticks(proc.pid)
    record = PidRecord(proc.pid, ticks if ticks is not None else 0)
    pid_file.write_text(f"{record.pid} {record.start_ticks}\n")
    return record


def stop(pid_file: Path, *, timeout_s: float = 30.0) -> PidRecord | None:
    """SIGTERM the recorded process (and its process group), SIGKILL after ``timeout_s``."""
    record = read_pid(pid_file)
    if record is None:
        return None
    _signal_group(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and read_pid(pid_file) is not None:
        time.sleep(0.2)
    if read_pid(pid_file) is not None:
        _signal_group(record.pid, signal.SIGKILL)
        while read_pid(pid_file) is not None:
            time.sleep(0.1)
    pid_file.unlink(missing_ok=True)
    return record


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # Each service was started in its own session, so its pid is its process group id.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_until(
    check: Callable[[], bool],
    *,
    timeout_s: float,
    alive: Callable[[], bool],
    interval_s: float = 0.5,
) -> bool:
    """Poll ``check`` until it is true; give up early if ``alive`` says the process died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        if not alive():
            return False
        time.sleep(interval_s)
    return check()


def rss_mib(pid: int) -> float | None:
    """Resident memory of ``pid`` in MiB, or None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a text file, for error messages."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def run_logged(argv: Sequence[str], *, log_file: Path, what: str, **kwargs) -> None:
    """Run a set-up step to completion, output to ``log_file``; on failure name ``what``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        log.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv)}\n".encode())
        log.flush()
        try:
            result = subprocess.run(
                list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kwargs
            )
        except FileNotFoundError as exc:
            raise StackError(f"{what}: '{argv[0]}' is not installed or not on PATH") from exc
    if result.returncode != 0:
        raise StackError(
            f"{what} failed (exit {result.returncode}); last lines of {log_file}:\n{tail(log_file)}"
        )
