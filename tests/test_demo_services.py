"""The demo's services: what each is started with."""

from __future__ import annotations

from pathlib import Path

from stack.demo import Options, Platform, service_commands


def test_consumers_start_before_the_simulator_with_the_health_endpoint() -> None:
    commands = service_commands(Options(cars=5, rate="2", laps=3, dashboard_port=5123))
    assert list(commands) == ["dashboard", "sink-influx", "analytics", "simulator"]
    dashboard = commands["dashboard"]
    assert dashboard[dashboard.index("--plugins") + 1] == "dashboard.health"
    assert dashboard[dashboard.index("--port") + 1] == "5123"
    assert commands["simulator"][-8:] == [
        "--session",
        "race",
        "--cars",
        "5",
        "--rate",
        "2",
        "--laps",
        "3",
    ]


def test_a_grand_prix_by_default_and_extra_flags_reach_the_simulator(tmp_path: Path) -> None:
    options = Options(simulator_args=("--seed", "4"), env={"F1_TELEMETRY_TOPIC": "t"})
    simulator = service_commands(options)["simulator"]
    # A race of the full distance (f1-simulate's default race laps), then the flag.
    assert "--laps" not in simulator and simulator[-2:] == ["--seed", "4"]
    assert simulator[simulator.index("--session") + 1] == "race"
    practice = service_commands(Options(session="practice"))["simulator"]
    assert practice[practice.index("--session") + 1] == "practice"
    platform = Platform(Options(env={"F1_TELEMETRY_TOPIC": "t"}, logs_dir=tmp_path))
    assert platform.env["F1_TELEMETRY_TOPIC"] == "t"
    assert platform.services["sink-influx"].log_file == tmp_path / "demo-sink-influx.log"
    assert platform.health_url == "http://127.0.0.1:5006/health"
