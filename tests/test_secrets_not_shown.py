"""No secret of the connection settings in any command's ``--help``, error line or log."""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
from unittest import mock

import certifi
import pytest

from runtime import endpoints
from tests.commands import COMMANDS, leaves

SECRETS = ["KAFKA-S3CRET", "URL-S3CRET", "REG-S3CRET", "INFLUX-S3CRET", "W-S3CRET", "R-S3CRET"]
ENV = {
    "F1_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "F1_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
    "F1_KAFKA_SASL_USERNAME": "f1",
    "F1_KAFKA_SASL_PASSWORD": "KAFKA-S3CRET",
    "F1_KAFKA_SSL_CA_LOCATION": certifi.where(),
    # Nothing listens on port 9: every command that asks fails, and says so.
    "F1_KAFKA_BOOTSTRAP": "127.0.0.1:9",
    "F1_SCHEMA_REGISTRY_URL": "http://f1:URL-S3CRET@127.0.0.1:9/apis/ccompat/v7",
    "F1_INFLUX_URL": "http://127.0.0.1:9",
    "F1_INFLUX_TOKEN": "INFLUX-S3CRET",
    "F1_INFLUX_WRITE_TOKEN": "W-S3CRET",
    "F1_INFLUX_READ_TOKEN": "R-S3CRET",
}


def _run(module, argv: list[str], env: dict[str, str]) -> str:
    out, err = io.StringIO(), io.StringIO()
    with (
        mock.patch.dict(os.environ, env),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            module.main(argv)
        except SystemExit:
            pass
        finally:
            logging.shutdown()
    return out.getvalue() + err.getvalue()


@pytest.mark.parametrize("prog", sorted(COMMANDS))
def test_help_of_every_command_shows_no_secret(prog: str) -> None:
    module = importlib.import_module(COMMANDS[prog])
    for words, _parser in leaves(module.build_parser()):
        shown = _run(module, [*words, "--help"], ENV)
        assert "usage" in shown
        assert not [s for s in SECRETS if s in shown], (prog, words)
    assert "f1@" not in endpoints.SCHEMA_REGISTRY_URL.help_text()


@pytest.mark.parametrize(
    "argv",
    [
        ["f1-schemas", "register", "-v"],
        ["f1-sink-influx", "run", "-v"],
        ["f1-replay", "--list", "-v"],
    ],
)
def test_a_failing_command_logs_no_secret(argv: list[str], caplog) -> None:
    """Against endpoints where nothing listens, with debug logs on: the error line and the
    log name the URL without its credentials, and no password or token."""
    caplog.set_level(logging.DEBUG)
    module = importlib.import_module(COMMANDS[argv[0]])
    shown = _run(module, argv[1:], ENV) + caplog.text
    assert shown.strip()
    assert not [s for s in SECRETS if s in shown], shown
