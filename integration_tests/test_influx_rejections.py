"""The sink's InfluxDB writer against a real influxd: a batch of bad lines costs a write or
two, because influxd names the lines that do not parse and counts the ones a partial write
dropped, in the words ``sinks.influx_rejections`` reads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from influxdb_client.client.write_api import SYNCHRONOUS

from integration_tests.sink_support import create_bucket, delete_bucket, influx
from runtime.endpoints import Endpoints
from sinks.influx_writer import InfluxWriter

pytestmark = pytest.mark.integration


@pytest.fixture
def writer(endpoints: Endpoints, unique: str) -> Iterator[tuple[InfluxWriter, list[int]]]:
    """A writer to a bucket of its own, and the line count of each body it posts."""
    bucket = f"it-rejections-{unique}"
    create_bucket(endpoints, bucket)
    sizes: list[int] = []
    with influx(endpoints) as client:
        write_api = client.write_api(write_options=SYNCHRONOUS)

        def post(body: bytes) -> None:
            sizes.append(body.count(b"\n") + 1)
            write_api.write(bucket, endpoints.influx_org, body, write_precision="us")

        try:
            yield InfluxWriter("", "", endpoints.influx_org, bucket, post=post), sizes
        finally:
            delete_bucket(endpoints, bucket)


def test_lines_that_do_not_parse_are_named_and_the_rest_written(
    writer: tuple[InfluxWriter, list[int]],
) -> None:
    w, posts = writer
    lines = [f"m,car=c{i} x={i}i {i}" for i in range(200)]
    bad = set(range(0, 200, 3))
    for i in bad:
        lines[i] = f"m,car=c{i} x= {i}"  # no field value
    rejected = w.write(lines)
    assert [r.index for r in rejected] == sorted(bad)
    assert all(r.status == 400 and lines[r.index] in r.message for r in rejected)
    assert len(posts) == 2  # the batch, then its good lines


def test_a_batch_of_type_conflicts_is_refused_in_one_write(
    writer: tuple[InfluxWriter, list[int]],
) -> None:
    w, posts = writer
    assert w.write(["m,car=c0 x=1i 1"]) == []  # x is an integer field from now on
    rejected = w.write([f"m,car=c{i} x={i}.5 {i + 10}" for i in range(100)])
    assert [r.index for r in rejected] == list(range(100))
    assert all(r.status == 422 and "dropped=100" in r.message for r in rejected)
    assert len(posts) == 2  # one write each
