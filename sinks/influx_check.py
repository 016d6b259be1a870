"""The sink's start-up check of InfluxDB: it answers, the token may write, the bucket exists.

The check is an empty write, which stores nothing and which InfluxDB answers like any write:
204 when the token may write the bucket, 401 for a token it does not know, 403 for one that
may not write there, 404 when the bucket (or the org) is not there. Looking the bucket up
instead would take a token that may read buckets: a write-only token, as a secured cluster
gives the sink, finds no bucket at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import urllib3
from influxdb_client.rest import ApiException

from runtime.errors import ConfigError, InfrastructureError


def check_writable(url: str, org: str, bucket: str, write_empty: Callable[[], object]) -> None:
    """ConfigError if the token or the bucket will not do, InfrastructureError if InfluxDB
    does not answer as it should; ``write_empty`` posts an empty body to the write API."""
    try:
        write_empty()
    except ApiException as exc:
        if exc.status == 401:
            raise ConfigError(f"InfluxDB at {url} refused the token") from exc
        if exc.status == 403:
            raise ConfigError(
                f"InfluxDB at {url}: the token may not write bucket {bucket!r} in org {org!r}"
            ) from exc
        if exc.status == 404:
            raise ConfigError(
                f"InfluxDB at {url}: bucket {bucket!r} in org {org!r} not found"
                f" ({_server_message(exc)})"
            ) from exc
        raise InfrastructureError(f"InfluxDB at {url}: {_server_message(exc)}") from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise InfrastructureError(f"InfluxDB at {url} is unreachable: {exc}") from exc


def _server_message(exc: ApiException) -> str:
    """InfluxDB's own words (its JSON ``message``), else the HTTP status."""
    try:
        message = json.loads(exc.body or "{}").get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message) if message else f"HTTP {exc.status} {exc.reason}"
