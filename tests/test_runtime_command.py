"""The command scaffold's logging: what a command prints when it is stopped."""

from __future__ import annotations

import logging

import pytest

from runtime.command import configure_logging


def test_a_forced_stop_logs_no_traceback_other_errors_keep_theirs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(verbose=False)
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            # What py4j does when a second Ctrl-C interrupts a call into the JVM.
            logging.exception("KeyboardInterrupt while sending command.")
        try:
            raise ValueError("a real failure")
        except ValueError:
            logging.getLogger("anything").exception("failed")
        err = capsys.readouterr().err
    finally:
        logging.basicConfig(force=True)
    interrupt, failure = err.split("ERROR anything: failed")
    assert "KeyboardInterrupt while sending command." in interrupt
    assert "Traceback" not in interrupt
    assert "Traceback" in failure and "ValueError: a real failure" in failure
