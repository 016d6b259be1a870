"""One way for the session fixtures to bring a stack up once per test session and stop it at
the end, if the session started it (``F1_KEEP_STACK=1`` keeps it running)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from runtime.errors import F1Error
from stack.service import Service


def stack_session(
    request: pytest.FixtureRequest,
    what: str,
    services: list[Service],
    up: Callable[[], object],
    down: Callable[[], object],
) -> Iterator[None]:
    """Run ``up`` (idempotent), yield, then ``down`` when any of ``services`` was not running
    before. ``what``: the stack as the progress lines name it (``the local stack (f1-stack
    up)``); its first run installs and builds for minutes, so they are shown live."""
    started_here = any(s.running() is None for s in services)
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\nintegration tests: bringing up {what}")
        try:
            up()
        except F1Error as exc:
            pytest.fail(f"{what} did not come up: {exc}", pytrace=False)
    yield
    if started_here and not os.environ.get("F1_KEEP_STACK"):
        with capture.global_and_fixture_disabled():
            print(f"\nintegration tests: stopping {what}, which they started")
            down()
