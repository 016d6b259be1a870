"""The pit wall's JSON endpoints (``/health``, ``/timing``) behind the page's own login.

``panel serve --basic-auth FILE`` puts the page behind a login form, but the routes a server
plugin adds are plain Tornado handlers that Panel does not guard. :class:`ProtectedHandler`
asks the server's auth provider, as the page's handlers do: a request of a logged-in browser
(Panel's signed ``user`` cookie) is let in, and so is one with an ``Authorization: Basic``
header that the same credentials accept (monitoring, ``curl -u``, the demo's warm-up). Any
other request gets 401 and no data. Without ``--basic-auth`` the server has no auth provider
and everything is let in, as before.

The credentials are Panel's: ``--basic-auth`` names a JSON file ``{"user": "password", ...}``
(or is one password for any user name).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
from typing import Any

from bokeh.server.auth_provider import NullAuth
from bokeh.server.views.auth_request_handler import AuthRequestHandler

REALM = "f1 pit wall"


def credentials_ok(user: str, password: str, basic_auth: Any) -> bool:
    """Whether ``user``:``password`` is accepted by Panel's ``basic_auth`` setting: a JSON
    file of users and passwords, a mapping of them, or one password for any user."""
    if isinstance(basic_auth, str) and os.path.isfile(basic_auth):
        try:
            with open(basic_auth, encoding="utf-8") as handle:
                basic_auth = json.load(handle)
        except (OSError, ValueError):
            return False
    expected = basic_auth.get(user) if isinstance(basic_auth, dict) else basic_auth
    if not isinstance(expected, str) or not expected:
        return False
    return hmac.compare_digest(password.encode(), expected.encode())


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization: Basic`` header, None for anything else."""
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = (
            base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


class ProtectedHandler(AuthRequestHandler):
    """A plugin's handler that answers only whom the page would let in (see the module)."""

    async def prepare(self) -> None:
        await super().prepare()
        provider = getattr(self.application, "auth_provider", None)
        if provider is None or isinstance(provider, NullAuth):
            return  # no login configured: open, as the page is
        # Panel lets a guest in on its guest endpoints only; these are not among them.
        if self.current_user and self.current_user != "guest":
            return
        given = basic_credentials(self.request.headers.get("Authorization"))
        if given is not None and credentials_ok(*given, _panel_basic_auth()):
            return
        self.set_status(401)
        self.set_header("WWW-Authenticate", f'Basic realm="{REALM}"')
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps({"error": "authentication required"}))


def _panel_basic_auth() -> Any:
    """What ``panel serve --basic-auth`` (or ``PANEL_BASIC_AUTH``) was given."""
    from panel.config import config

    return config.basic_auth
