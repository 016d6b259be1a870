"""A Confluent-compatible registry on a loopback port that demands basic auth: the few
endpoints ``f1-schemas register`` uses, in memory, for tests of the registry's credentials."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/apis/ccompat/v7"


@dataclass
class Registry:
    user: str
    password: str
    url: str = ""
    schemas: dict[str, list[str]] = field(default_factory=dict)  # subject -> versions
    config: dict[str, str] = field(default_factory=dict)
    refused: int = 0  # requests without the right credentials

    def authorized(self, header: str | None) -> bool:
        expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return header == f"Basic {expected}"

    def ids(self) -> dict[str, int]:
        texts = [text for versions in self.schemas.values() for text in versions]
        return {text: n for n, text in enumerate(dict.fromkeys(texts), 1)}


def _handler(registry: Registry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:  # quiet tests
            pass

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str) -> None:
            if not registry.authorized(self.headers.get("Authorization")):
                registry.refused += 1
                self._answer(401, {"error_code": 401, "message": "Unauthorized"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            parts = self.path.split("?")[0].removeprefix(PREFIX).strip("/").split("/")
            self._answer(*self._do(method, parts, body))

        def _do(self, method: str, parts: list[str], body: dict) -> tuple[int, Any]:
            missing = {"error_code": 40401, "message": "Subject not found"}
            if parts == ["subjects"]:
                return 200, list(registry.schemas)
            if parts[0] == "config":
                if method == "PUT":
                    registry.config[parts[1]] = body["compatibility"]
                    return 200, {"compatibility": body["compatibility"]}
                level = registry.config.get(parts[1])
                return (200, {"compatibilityLevel": level}) if level else (404, missing)
            subject = parts[1]
            versions = registry.schemas.get(subject)
            if parts[2:] == ["versions", "latest"]:
                if not versions:
                    return 404, missing
                text = versions[-1]
                return 200, self._version(subject, len(versions), text)
            if parts[2:] == ["versions"] and method == "POST":
                registry.schemas.setdefault(subject, []).append(body["schema"])
                return 200, {"id": registry.ids()[body["schema"]]}
            if len(parts) == 2 and method == "POST" and versions and body["schema"] in versions:
                return 200, self._version(
                    subject, versions.index(body["schema"]) + 1, body["schema"]
                )
            return 404, missing

        def _version(self, subject: str, version: int, text: str) -> dict[str, Any]:
            schema_id = registry.ids()[text]
            return {"subject": subject, "version": version, "id": schema_id, "schema": text}

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PUT(self) -> None:
            self._route("PUT")

    return Handler


@contextmanager
def registry_with_basic_auth(user: str, password: str) -> Iterator[Registry]:
    """A registry on 127.0.0.1 (a free port) that answers only ``user``:``password``; its
    ``url`` has no credentials."""
    registry = Registry(user, password)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(registry))
    registry.url = f"http://127.0.0.1:{server.server_address[1]}{PREFIX}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield registry
    finally:
        server.shutdown()
        server.server_close()
