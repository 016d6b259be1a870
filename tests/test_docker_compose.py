"""docker-compose.yml is valid and describes the same infrastructure as the local stack."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

COMPOSE_FILE = Path(__file__).resolve().parents[1] / "docker-compose.yml"


def test_compose_file_is_valid() -> None:
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.fail("docker-compose is not installed: run `make setup` (Debian package)")
    env = {**os.environ, "F1_INFLUX_TOKEN": "not-a-real-token"}
    result = subprocess.run(
        [compose, "-f", str(COMPOSE_FILE), "config"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["schema-registry"]["image"].startswith("confluentinc/cp-schema-registry:")
    assert services["influxdb"]["image"] == "influxdb:2.7"
    # docker-compose 1.x prints ports in the short form "127.0.0.1:9092:9092/tcp".
    published = {
        name: [str(port).split(":")[1] for port in service.get("ports", [])]
        for name, service in services.items()
    }
    # The same ports as the local stack, so the F1_* defaults work against either.
    assert published == {"kafka": ["9092"], "schema-registry": ["8081"], "influxdb": ["8086"]}
    assert services["influxdb"]["environment"]["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"] == (
        "not-a-real-token"
    )


def test_compose_file_requires_a_token() -> None:
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.fail("docker-compose is not installed: run `make setup` (Debian package)")
    env = {k: v for k, v in os.environ.items() if k != "F1_INFLUX_TOKEN"}
    result = subprocess.run(
        [compose, "-f", str(COMPOSE_FILE), "config", "-q"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "F1_INFLUX_TOKEN" in result.stderr
