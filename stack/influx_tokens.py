"""Scoped InfluxDB tokens: one that may only write the bucket (the sink), one that may only
read it (the pit wall, stored history, f1-replay).

The operator token the set-up made can do anything in any org; a service holding it could
drop the bucket. Each scoped token is made once through the authorizations API with the
operator token and kept in its own file (mode 0600) beside the operator token's.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stack.errors import StackError
from stack.secret_files import write_secret


@dataclass(frozen=True)
class ScopedToken:
    """The one action a token grants on the bucket, and what it is for."""

    action: str  # "read" or "write"
    description: str

    @property
    def file_name(self) -> str:
        return token_file_name(self.action)


SCOPED_TOKENS = (
    ScopedToken("write", "f1 sink: writes the telemetry bucket"),
    ScopedToken("read", "f1 pit wall and history: read the telemetry bucket"),
)


def token_file_name(action: str) -> str:
    """``write-token`` or ``read-token``, beside the operator's ``token``."""
    return f"{action}-token"


def permissions(action: str, org_id: str, bucket_id: str) -> list[dict[str, Any]]:
    """``action`` on the bucket and nothing else: not the org, its other buckets or tokens
    (the write and query APIs take the org by name all the same)."""
    return [{"action": action, "resource": {"type": "buckets", "id": bucket_id, "orgID": org_id}}]


def ensure_scoped_tokens(
    url: str, operator_token: str, org: str, bucket: str, folder: Path, *, renew: bool
) -> None:
    """Make each scoped token whose file is missing (all of them when ``renew``: a new
    database, whose old tokens are gone)."""
    wanted = [t for t in SCOPED_TOKENS if renew or not (folder / t.file_name).exists()]
    if not wanted:
        return
    api = _Api(url, operator_token)
    org_id = api.get("/api/v2/orgs", {"org": org})["orgs"][0]["id"]
    found = api.get("/api/v2/buckets", {"orgID": org_id, "name": bucket})["buckets"]
    if not found:
        raise StackError(f"InfluxDB at {url}: no bucket {bucket!r} in org {org!r}")
    bucket_id = found[0]["id"]
    for scoped in wanted:
        made = api.post(
            "/api/v2/authorizations",
            {
                "orgID": org_id,
                "description": scoped.description,
                "permissions": permissions(scoped.action, org_id, bucket_id),
            },
        )
        write_secret(folder / scoped.file_name, made["token"])


class _Api:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}

    def get(self, path: str, query: Mapping[str, str]) -> Any:
        query_text = urllib.parse.urlencode(query)
        return self._call(urllib.request.Request(f"{self.url}{path}?{query_text}"))

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        data = json.dumps(body).encode()
        return self._call(urllib.request.Request(f"{self.url}{path}", data=data, method="POST"))

    def _call(self, request: urllib.request.Request) -> Any:
        for key, value in self.headers.items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:200].decode(errors="replace")
            raise StackError(
                f"InfluxDB {request.get_method()} {request.full_url.split('?')[0]}: "
                f"HTTP {exc.code} {detail}"
            ) from None
        except (OSError, ValueError) as exc:
            raise StackError(f"InfluxDB at {self.url} did not answer: {exc}") from None
