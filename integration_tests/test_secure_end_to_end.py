"""The whole platform on the secured stack (``f1-stack up --secure``), as ``f1-stack demo
--secure`` runs it: 2 laps of 3 cars at ``--rate max``, each service a process logged in as
its own user (the simulator as ``producer``, the sink as ``sink`` with the write token, the
analytics job as ``analytics``, the pit wall as ``dashboard`` with the read token).

The counts are those of test_end_to_end: every record on Kafka once, every point in InfluxDB
once, one summary per completed lap. And the stack keeps out who should stay out: a client
without TLS and a login, and a service logged in as another's user.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from integration_tests.platform_support import REPO, Run, platform_run, wait_until
from runtime.endpoints import Endpoints
from stack import secure
from stack.secure_demo import CREDENTIALS, login_env

pytestmark = pytest.mark.integration

CARS, LAPS = 3, 2
# The test reads back what the pit wall may read: both topics, and the bucket with the read
# token.
READER = "dashboard"
# A log record's start: "2026-12-04 14:41:52,238 INFO".
LOG_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")


@pytest.fixture
def reader(secure_stack: Path, monkeypatch: pytest.MonkeyPatch) -> Endpoints:
    """This test process, logged in to the secured stack as the reader."""
    for name, value in {**secure.shared_env(), **login_env(READER)}.items():
        monkeypatch.setenv(name, value)
    return Endpoints.from_env()


@pytest.fixture
def run(reader: Endpoints, unique: str, tmp_path: Path) -> Iterator[Run]:
    with platform_run(
        reader, unique, tmp_path, cars=CARS, rate="max", laps=LAPS, secured=True
    ) as run:
        yield run


def test_two_laps_of_three_cars_reach_every_service_each_as_its_own_user(run: Run) -> None:
    run.drive()
    # Every record of the session once on Kafka, in the pit wall (dashboard user, read token)
    # and in InfluxDB (written by the sink with the write token); one summary per lap, equal
    # to the raw data. The topics are shared with test_secure_stack's raw probes, which the
    # pit wall counts as decode errors: not counted here.
    run.assert_every_service_has(poison=None)
    laps = CARS * LAPS
    assert len(run.lap_summaries()) == laps
    wait_until(
        "the summaries in the dashboard",
        lambda: (run.health() or {}).get("lap_summaries", {}).get(run.session) == laps,
        30,
    )
    codes = run.platform.stop()
    assert codes == {name: 0 for name in run.platform.services}, run.fail_message(f"exits {codes}")


def _simulate(env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """``f1-simulate`` for one lap of one car, with ``env`` over this process's."""
    argv = [sys.executable, "-m", "producer", "--cars", "1", "--laps", "1", "--rate", "max"]
    return subprocess.run(
        argv,
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The command's error: non-zero exit, one line on stderr beside its log records (its
    progress), no traceback."""
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.strip().splitlines() if not LOG_RECORD.match(line)]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_a_plaintext_client_is_refused(reader: Endpoints) -> None:
    """No TLS, no login: the broker's listener does not talk to it."""
    plaintext = dict.fromkeys(
        (*CREDENTIALS, "F1_KAFKA_SASL_MECHANISM", "F1_KAFKA_SSL_CA_LOCATION"), ""
    ) | {"F1_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}
    said = _one_line(_simulate(plaintext))
    assert said.startswith("f1-simulate: Kafka at 127.0.0.1:29092 is unreachable"), said


def test_a_service_logged_in_as_another_cannot_write_its_topic(reader: Endpoints) -> None:
    """The simulator with the sink's login: the sink may read telemetry, not write it."""
    said = _one_line(_simulate(login_env("sink")))
    assert said.startswith("f1-simulate: ") and "Topic authorization failed" in said
