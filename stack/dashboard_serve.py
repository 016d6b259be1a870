"""How the demo (and docker-compose) serve the pit wall: on loopback, behind a login if asked.

| env var | what |
|---|---|
| ``F1_DASHBOARD_BASIC_AUTH_FILE`` | a JSON file ``{"user": "password", ...}``: turns the login on |
| ``F1_DASHBOARD_COOKIE_SECRET``, or the file ``..._FILE`` | signs the login cookie (a secret) |

With a users file, ``panel serve`` gets ``--basic-auth FILE`` (Panel's login form for the page;
``/health`` and ``/timing`` take the same credentials, ``dashboard.access``). The cookie secret
goes to the server in its environment (``PANEL_COOKIE_SECRET``), never as Panel's
``--cookie-secret`` flag: argv is visible to every user of the machine. Without a cookie secret
one is made for the run, so logins last as long as the server.

``python -m stack.dashboard_serve URL`` asks a pit wall's ``/health`` with those credentials
and exits 0 when it answers 200 (docker-compose's health check).
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.errors import ConfigError
from runtime.settings import Secret, Setting, read_secret_file, secret_from

log = logging.getLogger(__name__)

BASIC_AUTH_FILE: Setting[Any] = Setting(
    "F1_DASHBOARD_BASIC_AUTH_FILE",
    "",
    'a JSON file of pit wall users and passwords ({"user": "password"}): turns the login on',
)
COOKIE_SECRET: Setting[Any] = Setting(
    "F1_DASHBOARD_COOKIE_SECRET",
    "",
    "the secret that signs the pit wall's login cookie",
    secret=True,
)
COOKIE_SECRET_FILE: Setting[Any] = Setting(
    "F1_DASHBOARD_COOKIE_SECRET_FILE", "", "a file holding the pit wall's cookie secret"
)


@dataclass(frozen=True)
class DashboardLogin:
    """The pit wall's login: the users file Panel reads, one of its users (for the demo's own
    requests) and the cookie secret. ``repr`` masks the secrets."""

    users_file: Path
    user: str
    password: Secret
    cookie_secret: Secret

    def panel_flags(self) -> list[str]:
        return ["--basic-auth", str(self.users_file)]

    def panel_env(self) -> dict[str, str]:
        return {"PANEL_COOKIE_SECRET": self.cookie_secret.reveal()}

    def authorization(self) -> str:
        """An ``Authorization`` header value that the pit wall's endpoints accept."""
        pair = f"{self.user}:{self.password.reveal()}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DashboardLogin | None:
        """The login, or None when ``F1_DASHBOARD_BASIC_AUTH_FILE`` is not set; ConfigError
        for a users file that is not a JSON object of users and passwords."""
        cookie = secret_from(COOKIE_SECRET, COOKIE_SECRET_FILE, environ)
        path = BASIC_AUTH_FILE.env_text(environ)
        if not path:
            if cookie is not None:
                raise ConfigError(
                    f"{COOKIE_SECRET.env} is set but {BASIC_AUTH_FILE.env} is not: the cookie "
                    "secret signs logins, and there is no login without a users file"
                )
            return None
        users = _users(Path(path))
        user, password = next(iter(users.items()))
        if not cookie:
            cookie = Secret(secrets.token_urlsafe(32))
        return cls(Path(path).resolve(), user, Secret(password), cookie)


def _users(path: Path) -> dict[str, str]:
    text = read_secret_file(BASIC_AUTH_FILE.env, path)
    try:
        users = json.loads(text)
    except ValueError:
        users = None
    if (
        not isinstance(users, dict)
        or not users
        or not all(isinstance(k, str) and k and isinstance(v, str) and v for k, v in users.items())
    ):
        raise ConfigError(
            f'{BASIC_AUTH_FILE.env}: {path} must be a JSON object {{"user": "password", ...}} '
            "with at least one user, each with a password"
        )
    return users


def ask_health(url: str, login: DashboardLogin | None, timeout_s: float = 2.0) -> int:
    """The HTTP status of ``GET url`` with the login's credentials; OSError when nothing
    answers."""
    request = urllib.request.Request(url)
    if login is not None:
        request.add_unredirected_header("Authorization", login.authorization())
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    url = given[0] if given else "http://127.0.0.1:5006/health"
    try:
        status = ask_health(url, DashboardLogin.from_env())
    except (ConfigError, OSError) as exc:
        print(f"pit wall health: {exc}", file=sys.stderr)
        return 1
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
