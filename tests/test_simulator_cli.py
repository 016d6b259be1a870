"""f1-simulate's flags: the session kind, the tyre and fuel flags, and bad input as one line
and exit 2."""

from __future__ import annotations

import pytest

from producer import cli
from producer.cli import Settings, build_parser, main


def _settings(*argv: str) -> Settings:
    return Settings.from_args(build_parser().parse_args(list(argv)))


def test_practice_by_default_race_by_flag_or_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("F1_SESSION_KIND", raising=False)
    practice = _settings()
    assert (practice.session, practice.laps, practice.tyre, practice.fuel_kg) == (
        "practice",
        None,
        None,
        None,
    )
    race = _settings("--session", "race", "--tyre", "Soft", "--fuel-kg", "80")
    assert (race.session, race.laps, race.tyre, race.fuel_kg) == ("race", None, "soft", 80.0)
    monkeypatch.setenv("F1_SESSION_KIND", "race")
    assert _settings().session == "race"
    assert _settings("--session", "practice").session == "practice"  # the flag wins
    help_text = build_parser().format_help()
    assert "F1_SESSION_KIND" in help_text and "--tyre" in help_text and "--fuel-kg" in help_text


def test_the_session_is_built_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("F1_SESSION_KIND", raising=False)
    sim = cli.simulation(_settings("--session", "race", "--cars", "2", "--tyre", "hard"))
    assert sim.session.is_race and sim.laps == 52
    assert [s.start_compound for s in sim.strategies] == ["hard", "hard"]
    assert [sim.tyre_compound(i) for i in range(2)] == ["hard", "hard"]
    practice = cli.simulation(_settings("--cars", "2", "--laps", "3", "--fuel-kg", "40"))
    assert practice.laps == 3 and not practice.session.is_race
    assert practice.state.fuel.tolist() == [40.0, 40.0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--session", "qualy"], "kind of session: practice or race (--session): must be one of"),
        (["--tyre", "wet"], "--tyre: unknown compound 'wet'"),
        (["--session", "race", "--laps", "0"], "--laps a race needs at least 1 lap, got 0"),
        (["--laps", "-2"], "--laps must be at least 1"),
        (["--session", "race", "--cars", "21"], "a race grid has 20 slots"),
        (["--cars", "0"], "--cars must be between 1 and 20"),
        (["--cars", "nan"], "argument --cars: invalid int value: 'nan'"),
        (["--rate", "inf"], "rate must be 'realtime', 'max' or a positive number, got 'inf'"),
        (["--rate", "-3"], "rate must be"),
        (["--rate", "nan"], "rate must be"),
        (["--session-start", "nan"], "argument --session-start: not a finite number"),
        (["--session-start", "inf"], "argument --session-start: not a finite number"),
        (["--session-start", "-5"], "--session-start must be Unix seconds, 0 or more"),
        (["--session-start", "1e300"], "--session-start must be Unix seconds, 0 or more"),
        (["--fuel-kg", "nan"], "argument --fuel-kg: not a finite number"),
        (["--fuel-kg", "-1"], "--fuel-kg must be above 0"),
        (["--fuel-kg", "0"], "--fuel-kg must be above 0"),
        (["--fuel-kg", "inf"], "argument --fuel-kg: not a finite number"),
        (["--seed", "-1"], "--seed must be 0 or more"),
        (["--hz", "-100"], "physics ticks per second (--hz): must be between 1 and 10000"),
        (["--hz", "nan"], "physics ticks per second (--hz): not an integer"),
        (["--progress-every", "inf"], "argument --progress-every: not a finite number"),
        (["--progress-every", "-1"], "argument --progress-every: must be greater than 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.delenv("F1_SESSION_KIND", raising=False)
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("f1-simulate: "), err
    assert message in err, err


def test_a_bad_session_kind_in_the_env_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("F1_SESSION_KIND", "sprint")
    with pytest.raises(SystemExit) as stopped:
        main([])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        "f1-simulate: kind of session: practice or race (F1_SESSION_KIND): must be one of "
        "practice, race, got 'sprint'\n"
    )
