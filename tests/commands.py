"""The platform's commands, for tests that run each of them (``main(argv)`` in-process)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

# Console script -> the module of its main(argv) and build_parser().
COMMANDS = {
    "f1-stack": "stack.cli",
    "f1-schemas": "schemas.cli",
    "f1-simulate": "producer.cli",
    "f1-sink-influx": "sinks.cli",
    "f1-analytics": "analytics.cli",
    "f1-ingest-udp": "ingest.cli",
    "f1-replay": "replay.cli",
}


def leaves(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """(subcommand words, parser) of every command line the parser accepts."""
    subcommands = [a for a in parser._actions if isinstance(a.choices, dict)]
    if not subcommands:
        yield prefix, parser
        return
    for action in subcommands:
        assert isinstance(action.choices, dict)
        for name, sub in action.choices.items():
            yield from leaves(sub, (*prefix, name))
