"""Every command against random flags and env values: one line and exit 2, never a traceback.

Each command's ``main(argv)`` runs in this process with its body replaced (nothing starts, no
broker is asked): what is checked is what happens before the body, the parsing of flags and
settings. A value the command refuses must be one line on stderr naming the command and exit
2; a value it accepts must not leave a NaN or an infinity in the settings the body would get.
Hypothesis draws the flags and values, derandomized so every run tries the same examples.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import io
import math
import os
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime import command
from runtime.settings import Setting
from tests.commands import COMMANDS, leaves

# Modules whose Setting objects are the env vars the commands read.
SETTING_MODULES = (
    "runtime.endpoints",
    "runtime.kafka_security",
    "runtime.registry_access",
    "schemas.topics",
    "circuit.setting",
    "sinks.settings",
    "analytics.settings",
    "stack.dashboard_serve",
    *COMMANDS.values(),
)

# Text that is no valid number, or a number at the edge of every range.
NUMBERISH = [
    "nan", "NaN", "inf", "-inf", "+Infinity", "1e400", "-1e400", "1e308", "-1e308", "0",
    "-0", "-1", "0.0", "1e-320", "9" * 30, "-" + "9" * 30, "0x10", "1.5", "", " ", "\n",
    "5s", "0s", "1e400s", "9" * 400 + "ms", "-5s", "nan s",
]  # fmt: skip
TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)
VALUES = st.one_of(st.sampled_from(NUMBERISH), TEXT)


def _module(prog: str) -> Any:
    return importlib.import_module(COMMANDS[prog])


def _flags(parser: argparse.ArgumentParser) -> list[tuple[str, bool]]:
    """(long flag, takes a value) of every option but --help."""
    out = []
    for action in parser._actions:
        names = [o for o in action.option_strings if o.startswith("--")]
        if names and names[0] != "--help":
            out.append((names[0], action.nargs != 0))
    return out


def _env_vars() -> list[str]:
    found = set()
    for name in SETTING_MODULES:
        for value in vars(importlib.import_module(name)).values():
            if isinstance(value, Setting) and not value.secret:
                found.add(value.env)
    return sorted(found)


ENV_VARS = _env_vars()


def _floats(value: Any, depth: int = 0) -> Iterator[float]:
    if depth > 4:
        return
    if isinstance(value, float):
        yield value
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _floats(item, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _floats(item, depth + 1)
    elif isinstance(value, argparse.Namespace):
        yield from _floats(vars(value), depth + 1)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _floats(getattr(value, f.name), depth + 1)


@dataclasses.dataclass
class Outcome:
    code: int
    err: str
    built: Any = None  # what the body would have got, when it was reached


def run(prog: str, argv: list[str], env: dict[str, str]) -> Outcome:
    """``main(argv)`` of ``prog`` under ``env`` (on top of a clean one), its body replaced."""
    reached: list[Any] = []

    def body_reached(_prog: str, body: Callable[[], int]) -> int:
        reached.append(body.args[0] if hasattr(body, "args") else None)
        return 0

    clean = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    # A token, so that the sink's settings are judged on the values under test.
    clean.update({"F1_INFLUX_TOKEN": "test-token", **env})
    err = io.StringIO()
    with (
        mock.patch.dict(os.environ, clean, clear=True),
        mock.patch.object(command, "run_command", body_reached),
        contextlib.redirect_stderr(err),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        try:
            code = _module(prog).main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return Outcome(code, err.getvalue(), reached[0] if reached else None)


def check(prog: str, argv: list[str], env: dict[str, str]) -> Outcome:
    outcome = run(prog, argv, env)
    shown = f"{prog} {argv} with {env}: exit {outcome.code}, stderr {outcome.err!r}"
    assert "Traceback" not in outcome.err, shown
    if outcome.code == 0 and outcome.built is not None:
        bad = [x for x in _floats(outcome.built) if not math.isfinite(x)]
        assert not bad, f"{shown}: accepted {bad}"
    else:
        assert outcome.code == 2, shown
        lines = outcome.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"{prog}: "), shown
    return outcome


@st.composite
def command_lines(draw: st.DrawFn, prog: str) -> tuple[list[str], dict[str, str]]:
    lines = list(leaves(_module(prog).build_parser()))
    words, parser = draw(st.sampled_from(lines))
    flags = _flags(parser)
    argv = list(words)
    for flag, takes_value in draw(st.lists(st.sampled_from(flags), max_size=3)) if flags else []:
        argv.append(f"{flag}={draw(VALUES)}" if takes_value else flag)
    if draw(st.booleans()) and draw(st.integers(0, 9)) == 0:
        argv.append(f"--{draw(st.text('abcxyz-', min_size=1, max_size=6))}")
    env = draw(st.dictionaries(st.sampled_from(ENV_VARS), VALUES, max_size=2))
    return argv, env


@pytest.mark.parametrize("prog", sorted(COMMANDS))
def test_random_flags_and_env_values_are_one_line_and_exit_2(prog: str) -> None:
    @settings(
        max_examples=60,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(command_lines(prog))
    def property_(case: tuple[list[str], dict[str, str]]) -> None:
        check(prog, *case)

    property_()


# Values that are numbers, but out of a flag's range: each must be refused before anything
# starts (a hot retry loop, no timeout, a pacing no clock can follow, a stack started for a
# demo that cannot run).
REFUSED = [
    ("f1-sink-influx", ["--retry-max-s", "0"], {}),
    ("f1-sink-influx", ["--influx-timeout-ms", "0"], {}),
    ("f1-sink-influx", [], {"F1_SINK_RETRY_MAX_S": "0"}),
    ("f1-sink-influx", [], {"F1_SINK_INFLUX_TIMEOUT_MS": "nan"}),
    ("f1-sink-influx", ["--batch-ms", "inf"], {}),
    ("f1-simulate", ["--session-start", "nan"], {}),
    ("f1-simulate", ["--session-start", "1e300"], {}),
    ("f1-simulate", ["--progress-every", "1e400"], {}),
    ("f1-analytics", ["--trigger", "9" * 400 + "s"], {}),
    ("f1-analytics", [], {"F1_ANALYTICS_WATERMARK": "1e400"}),
    ("f1-schemas", ["register", "--timeout", "0"], {}),
    ("f1-schemas", ["register", "--timeout", "nan"], {}),
    ("f1-schemas", ["bench", "--records", "0"], {}),
    ("f1-stack", ["demo", "--cars", "0"], {}),
    ("f1-stack", ["demo", "--laps", "0"], {}),
    ("f1-stack", ["demo", "--rate", "nan"], {}),
    ("f1-stack", ["demo", "--dashboard-port", "70000"], {}),
    ("f1-stack", ["logs", "--lines", "-1"], {}),
    ("f1-ingest-udp", ["--progress-every", "inf"], {}),
    ("f1-replay", ["--progress-every", "inf"], {}),
    # Connection security: checked by every command that is going to connect.
    ("f1-simulate", [], {"F1_KAFKA_SECURITY_PROTOCOL": "TLS"}),
    ("f1-sink-influx", [], {"F1_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}),
    ("f1-analytics", [], {"F1_KAFKA_SECURITY_PROTOCOL": "SSL", "F1_KAFKA_SSL_CA_LOCATION": "/no"}),
    ("f1-ingest-udp", [], {"F1_KAFKA_PROPERTIES_FILE": "/no/such.properties"}),
    ("f1-replay", ["--session-id", "s"], {"F1_KAFKA_SASL_USERNAME": "u"}),
    (
        "f1-analytics",
        [],
        {"F1_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "F1_KAFKA_SASL_MECHANISM": "GSSAPI"},
    ),
    ("f1-simulate", [], {"F1_SCHEMA_REGISTRY_USERNAME": "u"}),
    ("f1-sink-influx", [], {"F1_SCHEMA_REGISTRY_CA_LOCATION": "/no/ca.pem"}),
    ("f1-ingest-udp", [], {"F1_SCHEMA_REGISTRY_PASSWORD_FILE": "/no/password"}),
    ("f1-stack", ["demo"], {"F1_DASHBOARD_BASIC_AUTH_FILE": "/no/users.json"}),
    ("f1-stack", ["demo"], {"F1_DASHBOARD_COOKIE_SECRET_FILE": "/no/secret"}),
]


@pytest.mark.parametrize(("prog", "argv", "env"), REFUSED)
def test_out_of_range_values_are_refused_before_anything_starts(
    prog: str, argv: list[str], env: dict[str, str]
) -> None:
    outcome = check(prog, argv, env)
    assert outcome.code == 2 and outcome.built is None
