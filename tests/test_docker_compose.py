"""docker-compose.yml is valid and describes the same infrastructure as the local stack."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from runtime import endpoints

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
PYPROJECT = REPO / "pyproject.toml"
ENDPOINT_VARS = [
    setting.env
    for setting in (
        endpoints.KAFKA_BOOTSTRAP,
        endpoints.SCHEMA_REGISTRY_URL,
        endpoints.INFLUX_URL,
        endpoints.INFLUX_TOKEN,
        endpoints.INFLUX_ORG,
        endpoints.INFLUX_BUCKET,
    )
]


def test_compose_file_is_valid() -> None:
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.fail("docker-compose is not installed: run `make setup` (Debian package)")
    env = {**os.environ, "F1_INFLUX_TOKEN": "not-a-real-token", "F1_INFLUX_PASSWORD": "not-real"}
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
    assert published == {
        "kafka": ["9092"],
        "schema-registry": ["8081"],
        "influxdb": ["8086"],
        "init": [],
        "dashboard": ["5006"],
        "sink-influx": [],
        "analytics": [],
        "simulator": [],
    }
    assert services["influxdb"]["environment"]["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"] == (
        "not-a-real-token"
    )


def test_compose_runs_the_services_of_the_demo() -> None:
    """The same four services as ``f1-stack demo``, each from the project's image with the
    command a user would type, and the connection settings every service reads."""
    from stack.demo import Options, service_commands

    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    platform = set(service_commands(Options()))
    assert platform <= set(services)
    scripts = set(tomllib.loads(PYPROJECT.read_text())["project"]["scripts"])
    for name in platform:
        service = services[name]
        assert service["image"] == "f1-telemetry", name
        command = " ".join(service["command"])
        assert any(script in command for script in scripts | {"panel serve dashboard/app.py"})
        env = service["environment"]
        for var in ENDPOINT_VARS:
            assert var in env, f"{name} lacks {var}"
    dashboard = " ".join(services["dashboard"]["command"])
    assert "--plugins=dashboard.health" in dashboard
    assert services["init"]["build"] == "."


@pytest.mark.parametrize("secret", ["F1_INFLUX_TOKEN", "F1_INFLUX_PASSWORD"])
def test_compose_file_requires_the_influxdb_secrets(secret: str, tmp_path: Path) -> None:
    """No secret has a default a reader of this repository knows."""
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.fail("docker-compose is not installed: run `make setup` (Debian package)")
    env = {**os.environ, "F1_INFLUX_TOKEN": "not-a-real-token", "F1_INFLUX_PASSWORD": "not-real"}
    del env[secret]
    no_env_file = tmp_path / ".env"  # not a .env a user keeps in the checkout
    no_env_file.write_text("")
    result = subprocess.run(
        [compose, "--env-file", str(no_env_file), "-f", str(COMPOSE_FILE), "config", "-q"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert secret in result.stderr


def test_every_service_has_a_restart_policy() -> None:
    """A crashed service comes back; the one-off init and the simulator (a race ends at the
    flag) only when they failed."""
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    policies = {name: service.get("restart") for name, service in services.items()}
    once = {"init", "simulator"}
    assert {n: p for n, p in policies.items() if n in once} == dict.fromkeys(once, "on-failure")
    assert {p for n, p in policies.items() if n not in once} == {"unless-stopped"}


def test_the_image_runs_its_services_as_an_unprivileged_user() -> None:
    users = [
        line.split()[1]
        for line in (REPO / "Dockerfile").read_text().splitlines()
        if line.startswith("USER ")
    ]
    assert users and users[-1] not in ("root", "0"), users


def test_the_image_copies_every_installed_package() -> None:
    """Every package pyproject.toml installs is copied into the image before `pip install`,
    and every console script's module comes from one of them, so a package added or moved is
    never left out of the image the services run from."""
    config = tomllib.loads(PYPROJECT.read_text())
    packages = {p.rstrip("*") for p in config["tool"]["setuptools"]["packages"]["find"]["include"]}
    lines = (REPO / "Dockerfile").read_text().splitlines()
    install = next(i for i, line in enumerate(lines) if "pip install" in line)
    copied = {
        line.split()[1]
        for line in lines[:install]
        if line.startswith("COPY ") and len(line.split()) == 3
    }
    assert packages <= copied, f"not copied into the image: {sorted(packages - copied)}"
    for package in packages:
        assert (REPO / package / "__init__.py").exists(), package
    for script, target in config["project"]["scripts"].items():
        assert target.split(".")[0] in packages, script
    assert "'.[all]'" in lines[install], "the image installs every service's extra"
