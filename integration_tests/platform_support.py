"""The whole platform for one test: its own topics, bucket, consumer group and checkpoint,
the services started as ``f1-stack demo`` starts them (:class:`stack.demo.Platform`), and the
ways to read back what each service holds."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from confluent_kafka.admin import AdminClient

from integration_tests.analytics_helpers import (
    read_summaries,
    read_telemetry,
    summaries_by_key,
)
from integration_tests.dashboard_probe import free_port
from integration_tests.kafka_io import read_to_end
from integration_tests.sink_support import create_bucket, delete_bucket, influx
from runtime.endpoints import Endpoints
from runtime.kafka import client_config
from schemas.topics import Topics
from stack.demo import Options, Platform, prepare
from tests.analytics_reference import assert_summaries_match, expected_summaries

REPO = Path(__file__).resolve().parents[1]
T = TypeVar("T")


@dataclass
class Run:
    """One test's platform and the names it uses."""

    endpoints: Endpoints
    topics: Topics
    bucket: str
    session: str
    reproducible: list[str]  # simulator flags: seed, session id and start
    platform: Platform
    logs: Path

    @cached_property
    def expected_records(self) -> list[dict[str, Any]]:
        """What the platform's simulator sends, from the simulator's own file output with the
        same flags (its laps must be set); simulated once per test."""
        options = self.platform.options
        out = self.logs / "expected.jsonl"
        argv = [sys.executable, "-m", "producer", "--cars", str(options.cars)]
        argv += ["--session", options.session]
        argv += ["--laps", str(options.laps), "--rate", "max", *self.reproducible]
        subprocess.run(
            [*argv, "--output", str(out)], cwd=REPO, check=True, capture_output=True, timeout=300
        )
        with out.open() as lines:
            return [json.loads(line) for line in lines]

    def expected_counts(self) -> tuple[Counter[tuple[str, int]], dict[str, int]]:
        """The simulator's records by (car, timestamp), each once, and by car."""
        expected = self.expected_records
        want = Counter((r["car_id"], r["timestamp"]) for r in expected)
        assert len(want) == len(expected), "the simulator sent two records of a car at one time"
        return want, dict(Counter(r["car_id"] for r in expected))

    def drive(self) -> None:
        """The consumers up, then the simulator's laps sent; it exited cleanly."""
        self.start_consumers()
        self.platform.start("simulator")
        self.wait_for_simulator()
        sent = f"{len(self.expected_records):,} records"
        assert sent in self.platform.log_tail("simulator", 5)

    def start_consumers(self) -> None:
        """The dashboard, the sink and the analytics job, as the demo starts them first;
        back once the dashboard's consumer has found the telemetry topic and the analytics
        job has run its first micro-batch (Spark takes a while to start on a small machine,
        and a drill should not break things before every service is up)."""
        self.platform.start("dashboard", "sink-influx", "analytics")
        wait_until(
            "the dashboard to see the telemetry topic",
            lambda: self.topics.telemetry in ((self.health() or {}).get("topics_found") or []),
            90,
        )
        analytics_log = self.platform.services["analytics"].log_file
        wait_until(
            "the analytics job's first micro-batch",
            lambda: "analytics.job: batch " in analytics_log.read_text(errors="replace"),
            180,
        )

    def wait_for_simulator(self) -> None:
        """Until the simulator has sent its laps and exited (cleanly)."""
        simulator = self.platform.services["simulator"].process
        assert simulator is not None
        assert simulator.wait(timeout=300) == 0, self.fail_message("the simulator failed")

    def health(self) -> dict[str, Any] | None:
        """The dashboard's ``/health`` answer (also when it says 503), None if no answer."""
        try:
            with urllib.request.urlopen(self.platform.health_url, timeout=5) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read())
        except OSError:
            return None

    def dashboard_records(self) -> dict[str, int]:
        """Records the dashboard's buffers took in for this session, by car."""
        found = self.health() or {"cars": []}
        return {c["car_id"]: c["records"] for c in found["cars"] if c["session_id"] == self.session}

    def stored_points(self) -> dict[str, int]:
        """Telemetry points InfluxDB holds for this session, by car."""
        flux = (
            f'from(bucket: "{self.bucket}") |> range(start: 0, stop: 2200-01-01T00:00:00Z)'
            ' |> filter(fn: (r) => r._measurement == "telemetry"'
            f' and r.session_id == "{self.session}" and r._field == "lap")'
            ' |> group(columns: ["car_id"]) |> count()'
        )
        with influx(self.endpoints) as client:
            tables = client.query_api().query(flux)
        return {rec.values["car_id"]: rec.get_value() for t in tables for rec in t.records}

    def kafka_keys(self) -> Counter[tuple[str, int]]:
        """(car, timestamp) of every record of the session on the telemetry topic, with
        multiplicity."""
        from schemas.registry import SchemaRegistry
        from schemas.serde import DecodeError, telemetry_deserializer

        keys: Counter[tuple[str, int]] = Counter()
        with SchemaRegistry(self.endpoints.registry_url) as registry:
            decode = telemetry_deserializer(registry, validate=False).decode
            for msg in read_to_end(self.endpoints.kafka_bootstrap, self.topics.telemetry):
                try:
                    record = decode(msg.value())
                except DecodeError:
                    continue  # poison a drill put there on purpose
                if record["session_id"] == self.session:
                    keys[(record["car_id"], record["timestamp"])] += 1
        return keys

    def telemetry(self) -> pd.DataFrame:
        """Every decodable record of the session on the telemetry topic."""
        e = self.endpoints
        found = read_telemetry(e.kafka_bootstrap, e.registry_url, self.topics.telemetry)
        return found[found["session_id"] == self.session]

    def summaries_when_complete(self, count: int, timeout_s: float = 300) -> list[dict]:
        """The analytics topic's summaries once there are ``count`` of them."""

        def enough() -> list[dict] | None:
            found = self.lap_summaries()
            return found if len(found) >= count else None

        return wait_until(f"{count} lap summaries", enough, timeout_s, poll_s=3.0)

    def assert_every_service_has(self, poison: int | None = 0) -> None:
        """Kafka, the dashboard, InfluxDB and the analytics job each hold exactly the
        simulator's records (and the dashboard skipped ``poison`` bad ones; None: not counted,
        for topics other tests write to as well)."""
        want, per_car = self.expected_counts()
        assert self.kafka_keys() == want, "Kafka: records lost or duplicated"
        wait_until("the dashboard's buffers", lambda: self.dashboard_records() == per_car, 90)
        if poison is not None:
            assert (self.health() or {}).get("decode_errors") == poison
        wait_until("every point in InfluxDB", lambda: self.stored_points() == per_car, 120)
        laps = expected_summaries(self.telemetry())
        assert laps, "no lap was seen from line to line"
        summaries = self.summaries_when_complete(len(laps))
        assert_summaries_match(summaries_by_key(summaries), laps)

    def lap_summaries(self) -> list[dict[str, Any]]:
        """Every committed summary of the session on the analytics topic."""
        e = self.endpoints
        found = read_summaries(e.kafka_bootstrap, e.registry_url, self.topics.analytics, wait_s=1.0)
        return [s for s in found if s["session_id"] == self.session]

    def fail_message(self, what: str) -> str:
        tails = "\n".join(
            f"--- {name} ---\n{self.platform.log_tail(name, 25)}" for name in self.platform.services
        )
        return f"{what}\n{tails}"


def wait_until(what: str, probe: Callable[[], T], timeout_s: float, poll_s: float = 1.0) -> T:
    """Poll ``probe`` until it returns something true; its last value."""
    deadline = time.monotonic() + timeout_s
    value = probe()
    while not value:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)
        value = probe()
    return value


@contextmanager
def platform_run(
    endpoints: Endpoints,
    unique: str,
    logs: Path,
    cars: int,
    rate: str,
    laps: int | None,
    *,
    secured: bool = False,
) -> Iterator[Run]:
    """Topics, subjects and a bucket of this test, and the services (not started yet).

    ``secured``: on the secured stack (``f1-stack up --secure``), each service logged in as
    its own user (``stack.secure_demo``). Its users' grants and tokens name the platform's
    topics, sink group and bucket, so the run uses those and tells its data apart by its
    session id; they are kept at the end, since no user of that stack may delete them."""
    session = f"e2e-{unique}"
    if secured:
        topics, bucket = Topics.from_env(), endpoints.influx_bucket
        env = {
            # From the first micro-batch on: the topic holds earlier runs' sessions too.
            "F1_ANALYTICS_STARTING_OFFSETS": "latest",
        }
    else:
        topics = Topics(
            telemetry=f"e2e-{unique}", analytics=f"e2e-{unique}-laps", dlq=f"e2e-{unique}-dlq"
        )
        bucket = f"e2e-{unique}"
        env = {
            "F1_KAFKA_BOOTSTRAP": endpoints.kafka_bootstrap,
            "F1_SCHEMA_REGISTRY_URL": endpoints.registry_url.with_credentials(),
            "F1_INFLUX_URL": endpoints.influx_url,
            "F1_INFLUX_TOKEN": endpoints.influx_token.reveal(),
            "F1_INFLUX_ORG": endpoints.influx_org,
            "F1_SINK_GROUP": f"e2e-sink-{unique}",
        }
    env |= {
        "F1_INFLUX_BUCKET": bucket,
        "F1_TELEMETRY_TOPIC": topics.telemetry,
        "F1_ANALYTICS_TOPIC": topics.analytics,
        "F1_DLQ_TOPIC": topics.dlq,
        "F1_SINK_PROGRESS_S": "2",
        "F1_ANALYTICS_CHECKPOINT": str(logs / "checkpoint"),
        "SPARK_TRIGGER_INTERVAL": "1s",
    }
    seed, start_s = 7, int(time.time())
    reproducible = ["--seed", str(seed), "--session-id", session, "--session-start", str(start_s)]
    options = Options(
        cars=cars,
        rate=rate,
        laps=laps,
        dashboard_port=free_port(),
        simulator_args=(*reproducible, "--progress-every", "5"),
        env=env,
        logs_dir=logs,
    )
    if secured:
        from stack import secure_demo

        secure_demo.prepare(topics, env)
        options = secure_demo.secured(options)
    else:
        prepare(endpoints, topics)
        create_bucket(endpoints, bucket)
    run = Run(endpoints, topics, bucket, session, reproducible, Platform(options), logs)
    try:
        yield run
    finally:
        run.platform.stop()
        if not secured:
            delete_bucket(endpoints, bucket)
            _delete_topics(endpoints, topics)


def _delete_topics(endpoints: Endpoints, topics: Topics) -> None:
    """Clean-up only: a broker that is down after a failed drill keeps them."""
    admin = AdminClient({**client_config(endpoints.kafka_bootstrap), "log_level": 0})
    names = [topics.telemetry, topics.analytics, topics.dlq]
    for future in admin.delete_topics(names, operation_timeout=10).values():
        # Clean-up must not hide the test's own result.
        with contextlib.suppress(Exception):
            future.result(timeout=15)
