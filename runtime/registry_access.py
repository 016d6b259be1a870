"""How every client reaches the Schema Registry: its URL, basic auth and the CA of its TLS.

* ``F1_SCHEMA_REGISTRY_URL`` (flag ``--registry``): the URL, ``https://user:pw@host/...`` too;
* ``F1_SCHEMA_REGISTRY_USERNAME`` and ``F1_SCHEMA_REGISTRY_PASSWORD`` (a secret), or the file
  ``F1_SCHEMA_REGISTRY_PASSWORD_FILE``: basic auth;
* ``F1_SCHEMA_REGISTRY_CA_LOCATION``: a PEM file of the CAs the registry's certificate chains
  to.

Credentials written in the URL are taken out of it as soon as it is read (:class:`RegistryUrl`):
what is shown anywhere (help, errors, logs, reprs) is the URL without them, and they travel
beside it, masked, to the HTTP client, which sends them as basic auth.
"""

from __future__ import annotations

import base64
import os
import ssl
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from runtime.errors import ConfigError
from runtime.settings import Secret, Setting, secret_from

# Seconds an HTTP request to the registry may take before the client gives up on it (and
# retries): schemas are small, the registry answers in milliseconds.
REQUEST_TIMEOUT_S = 10.0

REGISTRY_USERNAME: Setting[Any] = Setting(
    "F1_SCHEMA_REGISTRY_USERNAME", "", "Schema Registry username (basic auth)"
)
REGISTRY_PASSWORD: Setting[Any] = Setting(
    "F1_SCHEMA_REGISTRY_PASSWORD", "", "Schema Registry password", secret=True
)
REGISTRY_PASSWORD_FILE: Setting[Any] = Setting(
    "F1_SCHEMA_REGISTRY_PASSWORD_FILE", "", "a file holding the Schema Registry password"
)
REGISTRY_CA_LOCATION: Setting[Any] = Setting(
    "F1_SCHEMA_REGISTRY_CA_LOCATION",
    "",
    "a PEM file of the CAs the Schema Registry's certificate chains to",
)

ALL = (REGISTRY_USERNAME, REGISTRY_PASSWORD, REGISTRY_PASSWORD_FILE, REGISTRY_CA_LOCATION)


def split_credentials(url: str) -> tuple[str, str, Secret]:
    """(the URL without user info, the user, the password) of ``url``; a list of URLs
    (comma-separated, as the Confluent client takes) loses the user info of each, and the
    first one's is kept."""
    clean: list[str] = []
    user, password = "", Secret("")
    for part in url.split(","):
        try:
            parts = urlsplit(part.strip())
        except ValueError:  # a malformed URL: the client reports it, without a password
            clean.append(part.rpartition("@")[2])
            continue
        if "@" in parts.netloc:
            info, _, host = parts.netloc.rpartition("@")
            if not user and not password:
                name, _, secret = info.partition(":")
                user, password = unquote(name), Secret(unquote(secret))
            parts = parts._replace(netloc=host)
        clean.append(urlunsplit(parts))
    return ",".join(clean), user, password


def without_credentials(url: str) -> str:
    """``url`` as it may be shown: without the user info written in it."""
    return split_credentials(url)[0]


class RegistryUrl(str):
    """A registry URL whose text has no credentials; those written in it ride along, masked,
    for the HTTP client (``username``, ``password``)."""

    username: str
    password: Secret
    _given: Secret

    def __new__(cls, text: str) -> RegistryUrl:
        clean, username, password = split_credentials(text)
        url = super().__new__(cls, clean)
        url.username, url.password, url._given = username, password, Secret(text)
        return url

    def with_credentials(self) -> str:
        """The URL as it was given, credentials included: for a child process's environment,
        which reads them again (never for showing)."""
        return self._given.reveal()


@dataclass(frozen=True)
class RegistryAccess:
    """The registry's URL and what it takes to be let in; ``repr`` masks the password."""

    url: str
    username: str = ""
    password: Secret = field(default_factory=lambda: Secret(""))
    ca_location: str = ""

    def client_conf(self) -> dict[str, Any]:
        """The Confluent client's configuration (``url``, basic auth, CA, a request timeout)."""
        # Without a timeout the Confluent client waits for ever on a response that never comes
        # (a registry that took the request and stalled); with one, it retries the request.
        conf: dict[str, Any] = {"url": self.url, "timeout": REQUEST_TIMEOUT_S}
        if self.username:
            conf["basic.auth.user.info"] = f"{self.username}:{self.password.reveal()}"
        if self.ca_location:
            conf["ssl.ca.location"] = self.ca_location
        return conf

    def request(self, path: str) -> urllib.request.Request:
        """A GET of ``path`` under the URL with the basic auth header (for plain urllib)."""
        request = urllib.request.Request(self.url.split(",")[0].rstrip("/") + path)
        if self.username:
            pair = f"{self.username}:{self.password.reveal()}".encode()
            request.add_unredirected_header("Authorization", f"Basic {_b64(pair)}")
        return request

    def ssl_context(self) -> ssl.SSLContext | None:
        """The CA bundle's TLS context, or None for the system's."""
        return ssl.create_default_context(cafile=self.ca_location) if self.ca_location else None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def registry_access(url: str, environ: Mapping[str, str] | None = None) -> RegistryAccess:
    """How to reach the registry at ``url`` (a :class:`RegistryUrl`, or text that may hold
    credentials): the credentials of the URL, else of the env vars, and the CA; ConfigError
    for credentials given twice or half, or a CA file that is not there."""
    if isinstance(url, RegistryUrl):
        clean, user, password = str(url), url.username, url.password
    else:
        clean, user, password = split_credentials(url)
    env_user, env_password, ca = (
        _from_env(environ) if environ is not None else _cached_env(_env_key())
    )
    if (user or password) and (env_user or env_password):
        raise ConfigError(
            f"schema registry credentials are both in the URL and in {REGISTRY_USERNAME.env}/"
            f"{REGISTRY_PASSWORD.env}: keep one"
        )
    if not (user or password):
        user, password = env_user, env_password
    if user and not password:
        raise ConfigError(
            f"schema registry user {user!r} has no password: set {REGISTRY_PASSWORD.env} or "
            f"{REGISTRY_PASSWORD_FILE.env}"
        )
    if password and not user:
        raise ConfigError(f"a schema registry password needs {REGISTRY_USERNAME.env}")
    return RegistryAccess(clean, user, password, ca)


def _from_env(environ: Mapping[str, str] | None) -> tuple[str, Secret, str]:
    user = REGISTRY_USERNAME.env_text(environ) or ""
    password = secret_from(REGISTRY_PASSWORD, REGISTRY_PASSWORD_FILE, environ) or Secret("")
    ca = REGISTRY_CA_LOCATION.env_text(environ) or ""
    if ca and not Path(ca).is_file():
        raise ConfigError(f"{REGISTRY_CA_LOCATION.env}: no file {ca}")
    if ca:
        try:
            ssl.create_default_context(cafile=ca)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"{REGISTRY_CA_LOCATION.env}: {ca} is no PEM CA bundle: {exc}"
            ) from None
    return user, password, ca


def _env_key() -> tuple[str, ...]:
    return tuple(os.environ.get(s.env, "") for s in ALL)


@lru_cache(maxsize=4)
def _cached_env(_values: tuple[str, ...]) -> tuple[str, Secret, str]:
    # Read once per process (the password file too), and again if the environment changes.
    return _from_env(None)
