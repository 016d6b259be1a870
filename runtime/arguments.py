"""Parsing a command line the platform's way: a bad flag is one clear line, never a usage block.

argparse prints its usage block before the error, and takes ``nan`` and ``inf`` for a
``type=float`` flag. :func:`parse_args` keeps argparse's own messages but raises the error as
one :class:`BadArguments` line (``runtime.command`` prints it and exits 2), and refuses a
number that is not finite whatever type the flag declared, so every command gets both
without each of its flags having to remember them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import sys
from collections.abc import Iterator, Sequence

from runtime.errors import ConfigError

_ARGPARSE_ERROR = ": error: "


class BadArguments(ConfigError):
    """A flag argparse refused, or a number that is not finite."""


# Every character str.splitlines() breaks a line at, escaped as Python writes it.
_LINE_BREAKS = str.maketrans({c: repr(c)[1:-1] for c in "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})


def one_line(message: object) -> str:
    """``message`` on one line: a value quoted in an error can hold line breaks."""
    return str(message).strip().translate(_LINE_BREAKS)


def parse_args(
    prog: str, parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> argparse.Namespace:
    """``parser.parse_args(argv)``; BadArguments for a bad flag or a non-finite number.
    ``--help`` still exits (0) after printing the help."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            args = parser.parse_args(argv)
    except SystemExit as exc:
        if exc.code in (0, None):  # --help
            sys.stderr.write(captured.getvalue())
            raise
        raise BadArguments(one_line(_error_of(prog, captured.getvalue()))) from None
    # What parsing printed besides an error (a deprecated flag's warning) is kept.
    sys.stderr.write(captured.getvalue())
    for dest, value in _numbers(vars(args)):
        if not math.isfinite(value):
            flag = "--" + dest.replace("_", "-")
            raise BadArguments(f"argument {flag}: not a finite number, got {value}")
    return args


def _error_of(prog: str, printed: str) -> str:
    """argparse's error message in what it printed (its usage block, then ``PROG: error:
    MESSAGE``), or all of it when a parser already printed one line of its own."""
    at = printed.find(_ARGPARSE_ERROR)
    if at < 0:
        text = printed.strip()
        return text.removeprefix(f"{prog}: ") if text else "bad arguments"
    start = printed.rfind("\n", 0, at) + 1
    who = printed[start:at]  # a subcommand's parser names itself: "f1-stack demo"
    message = printed[at + len(_ARGPARSE_ERROR) :]
    return message if who == prog else f"{who.removeprefix(prog + ' ')}: {message}"


def _numbers(values: dict[str, object]) -> Iterator[tuple[str, float]]:
    for dest, value in values.items():
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if isinstance(item, float):
                yield dest, item
