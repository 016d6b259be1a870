"""Reliability drills on the whole platform, each with exact counts at the end.

The services run as ``f1-stack demo`` runs them (a process each); the simulator drives 3
cars for 4 laps at 10 times real time (about 35 s) while something breaks:

- the broker stops and starts again: no record lost, none duplicated by (car, timestamp);
- the registry stops and starts again: running services go on from their cached schemas;
- the analytics job is killed and started again: every lap summary exactly once;
- poison records land on the telemetry topic: each is in the DLQ, every good record is
  stored, the dashboard skips them and the laps are still summarised.

Stopping the broker or the registry needs the local stack (``f1-stack``); with
infrastructure from the env or Docker those two drills are skipped.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from integration_tests.kafka_io import consume, produce_all
from integration_tests.platform_support import Run, platform_run, wait_until
from runtime.endpoints import Endpoints
from schemas.registry import SchemaRegistry
from schemas.serde import telemetry_serializer
from schemas.topics import DLQ_REASON_HEADER

pytestmark = pytest.mark.integration

CARS, LAPS, RATE = 3, 4, "10"


@pytest.fixture
def run(endpoints: Endpoints, unique: str, tmp_path: Path) -> Iterator[Run]:
    with platform_run(endpoints, unique, tmp_path, cars=CARS, rate=RATE, laps=LAPS) as run:
        yield run


def start_platform(run: Run) -> None:
    run.start_consumers()
    run.platform.start("simulator")


def all_consumers_busy(run: Run) -> None:
    """Wait until the dashboard and the sink have had records: their schemas are cached."""
    wait_until("records in the dashboard", lambda: sum(run.dashboard_records().values()), 90)
    wait_until("points stored", lambda: sum(run.stored_points().values()), 60)


def finish_and_check(run: Run, poison: int = 0) -> None:
    """The simulator ends by itself; then every service holds exactly what it sent."""
    run.wait_for_simulator()
    run.assert_every_service_has(poison=poison)
    codes = run.platform.stop()
    assert codes == {name: 0 for name in codes}, run.fail_message(f"exit codes {codes}")


@contextmanager
def stopped(service_name: str, seconds: float) -> Iterator[None]:
    """One service of the local stack stopped for ``seconds``, then started again."""
    from stack import lifecycle

    service = next(s for s in lifecycle.services() if s.name == service_name)
    service.stop()
    try:
        time.sleep(seconds)
        yield
    finally:
        service.start()
        service.wait_healthy()


def test_broker_restart_while_producing(run: Run, local_stack: Endpoints) -> None:
    start_platform(run)
    all_consumers_busy(run)
    with stopped("kafka", 8):
        assert run.platform.exited() == {}, run.fail_message("a service died with the broker")
    finish_and_check(run)


def test_registry_restart_while_running(run: Run, local_stack: Endpoints) -> None:
    start_platform(run)
    all_consumers_busy(run)
    with stopped("schema-registry", 8):
        before = run.dashboard_records()
        time.sleep(4)
        # Still decoding from the cached schema while the registry is away.
        assert sum(run.dashboard_records().values()) > sum(before.values())
        assert run.platform.exited() == {}, run.fail_message("a service died with the registry")
    finish_and_check(run)


def test_analytics_killed_and_restarted(run: Run) -> None:
    start_platform(run)
    # Some summaries are published before the crash: the restart must not repeat them.
    wait_until("a first lap summary", run.lap_summaries, 120, poll_s=2.0)
    run.platform.kill("analytics")
    run.platform.start("analytics")
    finish_and_check(run)


def test_poison_records_on_the_telemetry_topic(run: Run) -> None:
    start_platform(run)
    all_consumers_busy(run)
    with SchemaRegistry(run.endpoints.registry_url) as registry:
        serializer = telemetry_serializer(registry, run.topics)
    sample = run.expected_records[5]
    # Out of range, in a session of its own so that it cannot touch the drill's laps.
    invalid = {**sample, "session_id": f"{run.session}-poison", "speed_kmh": 999.0}
    good = serializer.encode({**sample, "session_id": f"{run.session}-poison"})
    poison = {
        "not-framed": b"definitely not avro",
        "unknown-schema-id": b"\x00" + (2**31 - 7).to_bytes(4, "big") + good[5:],
        "invalid-record": serializer.encode(invalid, validate=False),
    }
    produce_all(
        run.endpoints.kafka_bootstrap,
        run.topics.telemetry,
        [(b"car-01", value) for value in poison.values()],
    )
    finish_and_check(run, poison=len(poison))
    letters = consume(run.endpoints.kafka_bootstrap, run.topics.dlq, len(poison), linger_s=2.0)
    reasons = Counter(dict(m.headers())[DLQ_REASON_HEADER].decode() for m in letters)
    assert reasons == Counter(poison.keys())
    for letter in letters:
        assert letter.value() == poison[dict(letter.headers())[DLQ_REASON_HEADER].decode()]
