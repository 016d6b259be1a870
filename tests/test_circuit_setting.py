"""F1_TRACK: one setting names the circuit for the simulator and the pit wall."""

from __future__ import annotations

from pathlib import Path

import pytest

import circuit
from dashboard.settings import Settings as DashboardSettings
from producer.cli import Settings as SimulatorSettings
from producer.cli import build_parser
from runtime.errors import ConfigError
from tests.circuit_samples import write_oval_csv


@pytest.fixture
def oval(tmp_path: Path) -> Path:
    return write_oval_csv(tmp_path / "oval.csv")


def test_no_setting_is_the_built_in_silverstone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("F1_TRACK", raising=False)
    assert circuit.TRACK_SETTING.resolve() is None
    assert circuit.load(None) is circuit.silverstone()
    monkeypatch.setenv("F1_TRACK", "")  # empty is unset
    assert circuit.TRACK_SETTING.resolve() is None
    assert circuit.load("").name == "Silverstone"


def test_f1_track_names_a_circuit_file(oval: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("F1_TRACK", str(oval))
    assert circuit.TRACK_SETTING.resolve() == oval
    track = circuit.load(circuit.TRACK_SETTING.resolve())
    assert track.name == "oval"
    assert track.length_m == pytest.approx(1302.65, abs=0.5)


def test_the_simulator_and_the_pit_wall_read_the_same_setting(
    oval: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("F1_TRACK", str(oval))
    simulator = SimulatorSettings.from_args(build_parser().parse_args([]))
    assert simulator.track == oval
    assert DashboardSettings.from_env().track == oval
    # --track overrides F1_TRACK for one run of the simulator.
    other = tmp_path / "other.csv"
    given = SimulatorSettings.from_args(build_parser().parse_args(["--track", str(other)]))
    assert given.track == other


def test_simulator_help_names_the_env_var(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--track FILE" in text
    assert "env F1_TRACK" in text


def test_a_bad_circuit_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.csv: track file not found"):
        circuit.load(tmp_path / "nope.csv")
