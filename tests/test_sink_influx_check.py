"""The sink's start-up check: an empty write says whether the token may write the bucket,
so a write-only token (which cannot look buckets up) passes it."""

from __future__ import annotations

import json

import pytest
import urllib3
from influxdb_client.rest import ApiException

from runtime.errors import ConfigError, InfrastructureError
from sinks.influx_check import check_writable


def _answer(status: int, message: str = "") -> ApiException:
    exc = ApiException(status=status, reason=f"status {status}")
    exc.body = json.dumps({"message": message}) if message else None
    return exc


def _failing(exc: BaseException):
    def write_empty() -> None:
        raise exc

    return write_empty


def test_a_token_that_may_write_passes() -> None:
    posts: list[None] = []
    check_writable("http://x", "f1", "telemetry", lambda: posts.append(None))
    assert posts == [None]


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (_answer(401, "unauthorized access"), "refused the token"),
        (_answer(403, "insufficient permissions for write"), "may not write bucket 'telemetry'"),
        (_answer(404, 'bucket "telemetry" not found'), "bucket 'telemetry' in org 'f1' not found"),
    ],
)
def test_a_token_or_bucket_that_will_not_do_is_a_config_error(
    answer: ApiException, says: str
) -> None:
    with pytest.raises(ConfigError, match=says):
        check_writable("http://x", "f1", "telemetry", _failing(answer))


@pytest.mark.parametrize(
    "failure",
    [_answer(503, "starting"), urllib3.exceptions.NewConnectionError(None, "refused")],
)
def test_an_influxdb_that_does_not_answer_is_infrastructure(failure: BaseException) -> None:
    with pytest.raises(InfrastructureError):
        check_writable("http://x", "f1", "telemetry", _failing(failure))
