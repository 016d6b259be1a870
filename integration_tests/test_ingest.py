"""f1-ingest-udp against the real broker and registry: a recorded game session replayed as
a user would run it lands on the topic as the same records as its --output, keyed by car."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from integration_tests.kafka_io import read_to_end
from runtime.endpoints import Endpoints
from runtime.kafka import client_config
from schemas.registration import register_all
from schemas.registry import SchemaRegistry
from schemas.serde import telemetry_deserializer
from schemas.topics import Topics

RECORDING = Path(__file__).resolve().parents[1] / "tests/fixtures/game_udp/f1_2025_flashback.f1rec"


@pytest.fixture
def topic(endpoints: Endpoints, unique: str) -> str:
    name = f"it-game-{unique}"
    admin = AdminClient(client_config(endpoints.kafka_bootstrap))
    admin.create_topics([NewTopic(name, 3, 1)])[name].result(timeout=30)
    register_all(endpoints.registry_url, Topics(name, f"it-game-analytics-{unique}"))
    return name


def _ingest(endpoints: Endpoints, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "F1_KAFKA_BOOTSTRAP": endpoints.kafka_bootstrap,
        "F1_SCHEMA_REGISTRY_URL": endpoints.registry_url.with_credentials(),
    }
    return subprocess.run(
        [sys.executable, "-m", "ingest", "--replay", str(RECORDING), "--rate", "max", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_replayed_game_session_lands_on_kafka_as_its_file_output(
    endpoints: Endpoints, topic: str, tmp_path: Path
) -> None:
    to_kafka = _ingest(endpoints, "--telemetry-topic", topic)
    assert to_kafka.returncode == 0, to_kafka.stderr
    out = tmp_path / "game.jsonl"
    to_file = _ingest(endpoints, "--output", str(out))
    assert to_file.returncode == 0, to_file.stderr
    expected = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(expected) == 22 * 11

    messages = read_to_end(endpoints.kafka_bootstrap, topic)
    with SchemaRegistry(endpoints.registry_url) as registry:
        decode = telemetry_deserializer(registry).decode
        records = [decode(m.value()) for m in messages]
    assert all(m.key().decode() == r["car_id"] for m, r in zip(messages, records, strict=True))
    key = ("car_id", "timestamp")

    def by_key(rows: list[dict]) -> dict:
        return {tuple(r[k] for k in key): r for r in rows}

    got, want = by_key(records), by_key(expected)
    assert got.keys() == want.keys()
    for k, record in want.items():
        for name, value in record.items():
            assert got[k][name] == pytest.approx(value), (k, name)
