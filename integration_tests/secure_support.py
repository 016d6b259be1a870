"""The secured stack for its tests: started once per test session (as ``f1-stack up
--secure`` starts it), with the platform's topics made by its admin user."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from integration_tests.stack_session import stack_session
from stack import secure
from stack.secure_paths import secure_dir
from stack.topics import ensure_topics, platform_topics


def _up_with_topics() -> None:
    secure.up()
    ensure_topics(secure.bootstrap(), platform_topics(), security=secure.topics_client_config())


def secure_session(request: pytest.FixtureRequest) -> Iterator[Path]:
    """Bring the secured stack up (idempotent); stop it at the end if this session started it.
    Its state folder, where the CA, the password files and the tokens are."""
    what = "the secured stack (f1-stack up --secure)"
    for _ in stack_session(request, what, secure.services(), _up_with_topics, secure.down):
        yield secure_dir()
