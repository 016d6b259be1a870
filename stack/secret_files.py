"""Secrets the stack makes (passwords, tokens, private keys): each in its own file that
only its owner may read (mode 0600), never in argv or the environment of a process list."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from stack.errors import StackError


def write_secret(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 from the first byte on: the file is created
    with that mode (not chmod-ed after), and replaced atomically."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text if text.endswith("\n") else text + "\n")
        os.replace(temporary, path)
    except OSError as exc:
        raise StackError(f"cannot write {path}: {exc.strerror}") from None


def read_secret(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise StackError(f"cannot read {path}: {exc.strerror}") from None


def password_file(path: Path) -> str:
    """The password kept in ``path``, made (random, URL-safe) the first time."""
    if not path.exists():
        write_secret(path, secrets.token_urlsafe(24))
    return read_secret(path)
