"""Serve the dashboard and watch it from headless Chromium: the harness of the browser tests
and of the dashboard benchmark (needs ``selenium`` and Debian's ``chromium`` and
``chromium-driver``). Test code: it is not installed with the app.

:class:`PanelServer` runs ``panel serve dashboard/app.py`` as a subprocess on a free port.
:class:`Browser` opens the page with Chrome's performance log on, so every websocket frame the
server sends is visible (``Network.webSocketFrameReceived``): a Bokeh message is a text
header frame (``{"msgid": ..., "msgtype": "PATCH-DOC"}``) followed by its metadata, content and
buffer frames, so counting PATCH-DOC headers counts the frames the server delivered, and
summing payload sizes gives the bytes it sent (uncompressed: Bokeh's websocket does not use
permessage-deflate unless asked to). :class:`ProtocolSession` is a session without a browser.
:func:`needs_browser`, :func:`endpoint_env` and :func:`wait_for` are what the browser tests
share.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from runtime.endpoints import Endpoints
    from schemas.topics import Topics

log = logging.getLogger(__name__)

T = TypeVar("T")

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Several sessions in one benchmark: none of them may be throttled as a background page.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def needs_browser() -> None:
    """Skip the calling test unless selenium, Chromium and chromedriver are all installed."""
    import pytest

    pytest.importorskip("selenium")
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(tool):
            pytest.skip(f"{tool} missing: apt-get install -y chromium chromium-driver")


def endpoint_env(endpoints: Endpoints, topics: Topics) -> dict[str, str]:
    """The environment that points a dashboard server at ``endpoints`` and ``topics``."""
    return {
        "F1_KAFKA_BOOTSTRAP": endpoints.kafka_bootstrap,
        "F1_SCHEMA_REGISTRY_URL": endpoints.registry_url.with_credentials(),
        "F1_INFLUX_URL": endpoints.influx_url,
        "F1_INFLUX_TOKEN": endpoints.influx_token.reveal(),
        "F1_INFLUX_ORG": endpoints.influx_org,
        "F1_INFLUX_BUCKET": endpoints.influx_bucket,
        "F1_TELEMETRY_TOPIC": topics.telemetry,
        "F1_ANALYTICS_TOPIC": topics.analytics,
    }


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float) -> T:
    """Poll ``probe`` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


class PanelServer:
    """``panel serve dashboard/app.py`` on 127.0.0.1 and a free port, stopped on exit."""

    def __init__(
        self, env: Mapping[str, str] | None = None, log_path: Path | None = None, port: int = 0
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/app"
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_path or Path(tempfile.mkstemp(suffix="-panel.log")[1])
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def command(self) -> list[str]:
        panel = Path(sys.executable).with_name("panel")
        return [
            str(panel),
            "serve",
            "dashboard/app.py",
            "--port",
            str(self.port),
            "--address",
            "127.0.0.1",
            f"--allow-websocket-origin=127.0.0.1:{self.port}",
        ]

    def __enter__(self) -> PanelServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self.command(), cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"panel serve exited: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=2):
                    return self
            except OSError:
                time.sleep(0.3)
        self.__exit__()
        raise RuntimeError(f"panel serve did not answer in 60 s: {self.log_tail()}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


@dataclass
class WireStats:
    """What one browser received over the websocket during a window."""

    seconds: float
    patch_docs: int
    frames: int
    bytes: int

    @property
    def fps(self) -> float:
        return self.patch_docs / self.seconds if self.seconds else 0.0

    @property
    def bytes_per_s(self) -> float:
        return self.bytes / self.seconds if self.seconds else 0.0


def _payload_size(response: Mapping[str, Any]) -> int:
    data = response.get("payloadData", "")
    if response.get("opcode") == 2:  # binary frames are reported base64-encoded
        return len(base64.b64decode(data)) if data else 0
    return len(data.encode())


class ProtocolSession:
    """A browser session without a browser: it speaks Bokeh's websocket protocol (pull the
    document, say it is ready, then receive patches) and only counts what arrives.

    With real browsers on a small machine, their rendering competes with the server for the
    same cores; these clients cost almost nothing, so they measure what the server can
    deliver.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.patch_docs = 0
        self.frames = 0
        self.bytes = 0
        self.error = ""
        self._ws: Any = None
        self._thread: Any = None
        self._stop = False

    def open(self, timeout_s: float = 60) -> None:
        import re
        import threading

        import websocket

        with urllib.request.urlopen(self.url, timeout=timeout_s) as resp:
            html = resp.read().decode()
        found = re.search(r'"token":\s*"([^"]+)"', html)
        if not found:
            raise RuntimeError("no session token in the page")
        host = self.url.split("/")[2]
        path = "/" + "/".join(self.url.split("/")[3:])
        self._ws = websocket.create_connection(
            f"ws://{host}{path}/ws",
            subprotocols=["bokeh", found.group(1)],
            origin=f"http://{host}",
            timeout=timeout_s,
        )
        # As BokehJS does: wait for the server's ACK (the session is ready), then pull.
        if self._read_message() != "ACK":
            raise RuntimeError("the server did not acknowledge the connection")
        self._send("PULL-DOC-REQ", {})
        # Patches of the running session may come before the reply; they are counted too.
        for _ in range(1000):
            if self._read_message() == "PULL-DOC-REPLY":
                break
        else:
            raise RuntimeError("the server did not send the document")
        ready = {
            "kind": "MessageSent",
            "msg_type": "bokeh_event",
            "msg_data": {
                "type": "event",
                "name": "document_ready",
                "values": {"type": "map", "entries": []},
            },
        }
        self._send("PATCH-DOC", {"events": [ready]})
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _send(self, msgtype: str, content: dict[str, Any]) -> None:
        header = {"msgid": uuid_hex(), "msgtype": msgtype}
        for part in (header, {}, content):
            self._ws.send(json.dumps(part))

    def _read_message(self) -> str:
        header_text = self._ws.recv()
        header = json.loads(header_text)
        size = len(header_text)
        for _ in range(2 + 2 * int(header.get("num_buffers", 0))):
            part = self._ws.recv()
            size += len(part)
        self.frames += 3 + 2 * int(header.get("num_buffers", 0))
        self.bytes += size
        return str(header.get("msgtype"))

    def _receive(self) -> None:
        try:
            while not self._stop:
                if self._read_message() == "PATCH-DOC":
                    self.patch_docs += 1
        except Exception as exc:  # the socket closing is how this thread ends
            if not self._stop:
                self.error = f"{type(exc).__name__}: {exc}"

    def wire(self, seconds: float) -> WireStats:
        start = (self.patch_docs, self.frames, self.bytes, time.monotonic())
        time.sleep(seconds)
        return WireStats(
            time.monotonic() - start[3],
            self.patch_docs - start[0],
            self.frames - start[1],
            self.bytes - start[2],
        )

    def close(self) -> None:
        self._stop = True
        if self._ws is not None:
            try:
                self._ws.close()
            except Exception:
                log.debug("closing a protocol session", exc_info=True)


def uuid_hex() -> str:
    import uuid

    return uuid.uuid4().hex


class Browser:
    """One headless Chromium window on the dashboard."""

    def __init__(self, width: int = 1500, height: int = 1250) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        self._profile = tempfile.TemporaryDirectory(prefix="f1-dashboard-chromium-")
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={self._profile.name}"):
            options.add_argument(flag)
        options.add_argument(f"--window-size={width},{height}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        # A page busy drawing at --rate max on a loaded machine answers a script late, not never.
        self.driver.set_script_timeout(90)
        self.console: list[dict[str, Any]] = []

    def open(self, url: str, timeout_s: float = 60) -> None:
        self.driver.set_page_load_timeout(timeout_s)
        self.driver.get(url)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.readouts():
                return
            time.sleep(0.2)
        raise TimeoutError(f"the page shows no readouts after {timeout_s:.0f} s")

    def readouts(self) -> dict[str, str]:
        """The readout board's values (speed, lap, ...) as the browser has them now."""
        script = (
            "const docs = (window.Bokeh && Bokeh.documents) || [];"
            "for (const d of docs) { const m = d.get_model_by_name('readouts');"
            "  if (m) { const col = (c) => m.data instanceof Map ? m.data.get(c) : m.data[c];"
            "    const keys = Array.from(col('key')); const values = Array.from(col('value'));"
            "    return Object.fromEntries(keys.map((k, i) => [k, values[i]])); } }"
            "return null;"
        )
        return self.driver.execute_script(script) or {}

    def text_of(self, name: str) -> str | None:
        """The ``text`` of a named Bokeh model (a Div) as the browser has it now."""
        script = (
            "const docs = (window.Bokeh && Bokeh.documents) || [];"
            "for (const d of docs) { const m = d.get_model_by_name(arguments[0]);"
            "  if (m) return m.visible === false ? '' : m.text; }"
            "return null;"
        )
        return self.driver.execute_script(script, name)

    def column(self, source: str, column: str) -> list[Any]:
        """One column of a named ColumnDataSource as the browser has it now."""
        script = (
            "const docs = (window.Bokeh && Bokeh.documents) || [];"
            "for (const d of docs) { const m = d.get_model_by_name(arguments[0]);"
            "  if (m) { const c = m.data instanceof Map ? m.data.get(arguments[1])"
            "    : m.data[arguments[1]]; return c ? Array.from(c) : []; } }"
            "return [];"
        )
        return list(self.driver.execute_script(script, source, column))

    def show_tab(self, index: int) -> None:
        """Switch the page's tabs (Live 0, Analytics 1) as a click would."""
        script = (
            "for (const d of Bokeh.documents) for (const m of d.all_models)"
            "  if (m.type === 'Tabs' || m.constructor.__name__ === 'Tabs') m.active = arguments[0];"
        )
        self.driver.execute_script(script, index)

    def wire(self, seconds: float) -> WireStats:
        """Websocket traffic received in the next ``seconds`` (the log is drained first)."""
        self.driver.get_log("performance")
        start = time.monotonic()
        time.sleep(seconds)
        entries = self.driver.get_log("performance")
        elapsed = time.monotonic() - start
        patch_docs = frames = size = 0
        for entry in entries:
            message = json.loads(entry["message"])["message"]
            if message.get("method") != "Network.webSocketFrameReceived":
                continue
            response = message["params"]["response"]
            frames += 1
            size += _payload_size(response)
            data = response.get("payloadData", "")
            if response.get("opcode") == 1 and data.startswith('{"msgid"'):
                try:
                    header = json.loads(data)
                except ValueError:
                    continue
                if header.get("msgtype") == "PATCH-DOC":
                    patch_docs += 1
        return WireStats(elapsed, patch_docs, frames, size)

    def console_errors(self) -> list[dict[str, Any]]:
        self.console += self.driver.get_log("browser")
        return [e for e in self.console if e.get("level") == "SEVERE"]

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
