"""InfluxWriter: transient errors are retried, bad points isolated, configuration errors raised."""

from __future__ import annotations

import threading

import pytest
import urllib3
from influxdb_client.rest import ApiException

from runtime.errors import ConfigError
from sinks.influx_writer import InfluxWriter, Lines, WriteCancelled, classify


def _api_error(status: int) -> ApiException:
    return ApiException(status=status, reason=f"status {status}")


class FakeInflux:
    """Accepts bodies unless told to fail; rejects (400) any body containing a bad line."""

    def __init__(self, failures: list[BaseException] | None = None) -> None:
        self.failures = list(failures or [])
        self.accepted: list[str] = []
        self.posts = 0

    def post(self, body: bytes) -> None:
        self.posts += 1
        if self.failures:
            raise self.failures.pop(0)
        lines = body.decode().splitlines()
        if any("bad" in line for line in lines):
            raise _api_error(400)
        self.accepted.extend(lines)


def _writer(fake: FakeInflux, sleeps: list[float]) -> InfluxWriter:
    return InfluxWriter("http://x", "t", "o", "b", post=fake.post, sleep=sleeps.append)


@pytest.mark.parametrize(
    ("exc", "verdict"),
    [
        (_api_error(503), "transient"),
        (_api_error(500), "transient"),
        (_api_error(429), "transient"),
        (_api_error(408), "transient"),
        (_api_error(400), "data"),
        (_api_error(422), "data"),
        (_api_error(413), "data"),
        (_api_error(401), "fatal"),
        (_api_error(404), "fatal"),
        (urllib3.exceptions.NewConnectionError(None, "refused"), "transient"),
        (urllib3.exceptions.ReadTimeoutError(None, "/api/v2/write", "timed out"), "transient"),
        (ConnectionResetError(), "transient"),
        (ValueError("a bug"), "fatal"),
    ],
)
def test_classify(exc: BaseException, verdict: str) -> None:
    assert classify(exc) == verdict


def test_transient_failures_are_retried_with_growing_backoff() -> None:
    refused = urllib3.exceptions.NewConnectionError(None, "refused")
    fake = FakeInflux([refused, refused, _api_error(503), refused])
    sleeps: list[float] = []
    writer = _writer(fake, sleeps)
    assert writer.write(["a 1", "b 2"]) == []
    assert fake.accepted == ["a 1", "b 2"]
    assert writer.retries == 4 and len(sleeps) == 4
    assert sleeps[3] > sleeps[0]


def test_backoff_is_capped() -> None:
    refused = urllib3.exceptions.NewConnectionError(None, "refused")
    fake = FakeInflux([refused] * 12)
    sleeps: list[float] = []
    writer = _writer(fake, sleeps)
    writer.write(["a 1"])
    assert max(sleeps) <= writer.retry_max_s


def test_bad_lines_are_isolated_and_every_good_line_written() -> None:
    lines = [f"ok{i} 1" for i in range(37)]
    lines[5] = "bad5 1"
    lines[30] = "bad30 1"
    fake = FakeInflux()
    rejected = _writer(fake, []).write(lines)
    assert [r.index for r in rejected] == [5, 30]
    assert all(r.status == 400 for r in rejected)
    assert sorted(set(fake.accepted)) == sorted(x for x in lines if not x.startswith("bad"))


def test_configuration_errors_are_raised_not_retried() -> None:
    fake = FakeInflux([_api_error(401)])
    with pytest.raises(ConfigError, match="refused the write"):
        _writer(fake, []).write(["a 1"])
    assert fake.posts == 1


def test_cancel_ends_the_retrying() -> None:
    refused = urllib3.exceptions.NewConnectionError(None, "refused")
    fake = FakeInflux([refused] * 100)
    cancel = threading.Event()
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            cancel.set()

    writer = InfluxWriter("http://x", "t", "o", "b", post=fake.post, sleep=sleep)
    with pytest.raises(WriteCancelled):
        writer.write(["a 1"], cancel)
    assert fake.accepted == []


def test_blocks_are_posted_as_one_body_and_split_only_when_refused() -> None:
    lines = Lines()
    lines.add(b"ok0 1\nok1 1\n", 2)
    lines.add(b"bad2 1\n", 1)
    lines.add(b"ok3 1\nok4 1\n", 2)
    fake = FakeInflux()
    rejected = _writer(fake, []).write(lines)
    assert [r.index for r in rejected] == [2]
    assert sorted(set(fake.accepted)) == ["ok0 1", "ok1 1", "ok3 1", "ok4 1"]

    whole = FakeInflux()
    assert _writer(whole, []).write(Lines.of(["a 1", "b 2"])) == []
    assert whole.posts == 1 and whole.accepted == ["a 1", "b 2"]


def test_a_line_count_that_does_not_match_the_blocks_is_an_error() -> None:
    lines = Lines()
    lines.add(b"a 1\nb 2\n", 1)
    with pytest.raises(ValueError, match="2 lines where 1"):
        lines.split()


class InfluxLike:
    """Refuses as InfluxDB 2.7 does, in its words: a line holding "bad" does not parse (400,
    nothing of the body written, every such line named); a line holding "conflict" has a
    field of another type than the one stored (422, the other lines written, the count of
    those dropped). ``say_nothing``: a refusal that names and counts nothing."""

    def __init__(self, say_nothing: bool = False) -> None:
        self.say_nothing = say_nothing
        self.accepted: set[str] = set()
        self.posts = 0

    def post(self, body: bytes) -> None:
        self.posts += 1
        lines = body.decode().splitlines()
        unparsed = [line for line in lines if "bad" in line]
        if unparsed:
            raise self._refusal(
                400, "\n".join(f"unable to parse '{x}': invalid field format" for x in unparsed)
            )
        conflicts = [line for line in lines if "conflict" in line]
        self.accepted.update(line for line in lines if line not in conflicts)
        if conflicts:
            raise self._refusal(
                422,
                "failure writing points to database: partial write: field type conflict: "
                f'input field "x" on measurement "m" is type float, already exists as type '
                f"integer dropped={len(conflicts)}",
            )

    def _refusal(self, status: int, message: str) -> ApiException:
        exc = _api_error(status)
        exc.message = "bad data" if self.say_nothing else message
        return exc


@pytest.mark.parametrize("bad", ["bad", "conflict"])
def test_a_batch_of_only_bad_lines_costs_a_write_or_two_not_two_per_line(bad: str) -> None:
    fake = InfluxLike()
    lines = [f"m,car={i} x={bad} {i}" for i in range(64)]
    rejected = _writer(fake, []).write(lines)
    assert [r.index for r in rejected] == list(range(64))
    assert fake.posts <= 2  # split down to single lines: 127
    if bad == "bad":
        assert rejected[7].message == f"unable to parse '{lines[7]}': invalid field format"


def test_named_and_counted_rejections_find_every_bad_line() -> None:
    fake = InfluxLike()
    lines = [f"m,car={i} x=1i {i}" for i in range(64)]
    bad = {3: "bad", 17: "conflict", 40: "bad", 41: "conflict", 63: "conflict"}
    for i, kind in bad.items():
        lines[i] = f"m,car={i} x={kind} {i}"
    rejected = _writer(fake, []).write(lines)
    assert [r.index for r in rejected] == sorted(bad)
    assert fake.accepted == {line for i, line in enumerate(lines) if i not in bad}
    assert fake.posts <= 24  # splitting every refused part in two: 39


def test_a_half_next_to_an_accepted_half_is_known_bad_without_writing_it() -> None:
    fake = InfluxLike(say_nothing=True)
    lines = [f"m,car={i} x=1i {i}" for i in range(64)]
    lines[63] = "m,car=63 x=bad 63"
    rejected = _writer(fake, []).write(lines)
    assert [r.index for r in rejected] == [63]
    assert fake.posts == 7  # the batch, then one half per level down to one line (was 13)
