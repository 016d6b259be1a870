"""The UDP socket: bound once, read by its own thread into a queue.

The receive loop does nothing but ``recv`` and append (arrival time, datagram) to a deque, so
a burst is taken off the kernel's buffer as fast as it comes while the main thread decodes
and produces; the socket's receive buffer is sized (``F1_INGEST_SOCKET_BUFFER``) for the
moments when the main thread is busy. A backlog beyond ``max_backlog`` datagrams (the
consumer stopped keeping up for long) drops the newest datagrams and counts them.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable

from runtime.errors import ConfigError, InfrastructureError

log = logging.getLogger(__name__)

MAX_DATAGRAM = 2048  # the largest game packet is 1,470 bytes


def bind(host: str, port: int, buffer_bytes: int) -> socket.socket:
    """A UDP socket bound to ``host:port`` with a receive buffer of ``buffer_bytes``;
    ConfigError in one line when the port is taken or the address is not this machine's."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer_bytes)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"UDP {host}:{port} is already in use (another f1-ingest-udp or telemetry "
                "tool?): stop it or choose another --port"
            ) from None
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EACCES):
            raise ConfigError(f"cannot listen on UDP {host}:{port}: {exc.strerror}") from None
        raise InfrastructureError(f"cannot listen on UDP {host}:{port}: {exc}") from None
    granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    # Linux reports twice what it keeps for data; below the request, the system's
    # net.core.rmem_max caps it.
    if granted < buffer_bytes:
        log.warning(
            "socket receive buffer %d bytes, below the %d asked for (raise net.core.rmem_max)",
            granted,
            buffer_bytes,
        )
    return sock


class UdpReceiver:
    """Reads ``sock`` on a thread of its own into :attr:`queue` until :meth:`stop`."""

    def __init__(
        self,
        sock: socket.socket,
        max_backlog: int = 200_000,
        clock_us: Callable[[], int] = lambda: time.time_ns() // 1000,
    ) -> None:
        self.sock = sock
        self.queue: deque[tuple[int, bytes]] = deque()
        self.max_backlog = max_backlog
        self.dropped = 0
        self.received = 0
        self._clock_us = clock_us
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="udp-receiver", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        return self.sock.getsockname()[:2]

    def start(self) -> UdpReceiver:
        self._thread.start()
        return self

    def _run(self) -> None:
        sock = self.sock
        sock.settimeout(0.1)
        recv = sock.recv
        append = self.queue.append
        queue = self.queue
        clock = self._clock_us
        limit = self.max_backlog
        stopping = self._stopping
        while not stopping.is_set():
            try:
                data = recv(MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:
                if stopping.is_set():
                    return
                raise
            self.received += 1
            if len(queue) >= limit:
                self.dropped += 1
                continue
            append((clock(), data))

    def stop(self) -> None:
        """Stop reading; what the kernel already holds is still taken into the queue."""
        self._stopping.set()
        self._thread.join(timeout=2.0)
        self.sock.setblocking(False)
        clock = self._clock_us
        while True:
            try:
                data = self.sock.recv(MAX_DATAGRAM)
            except OSError:  # BlockingIOError: nothing left
                break
            self.received += 1
            self.queue.append((clock(), data))
        self.sock.close()
