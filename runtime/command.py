"""What every f1-* command does the same way: parse, log, stop on a signal, exit codes.

Every command's ``main(argv)`` is :func:`run_main` with its parser and its body. Exit codes,
the same for every command of the platform:

* 0: done, including a clean stop on SIGINT or SIGTERM;
* 1: the infrastructure cannot be reached or failed (Kafka, the registry, InfluxDB, Spark),
  work could not be completed, or a check found a problem;
* 2: bad input: arguments, settings, a schema that is missing from the registry. Fix the
  input and run again;
* 130: a second Ctrl-C forced the command to stop before it had finished cleanly.

Errors are one line on stderr, never a traceback (``-v`` logs the cause at debug level).

Signals: the first SIGINT or SIGTERM sets the command's :class:`StopSignal`, and the command
finishes what it is doing (flush, commit, close) and exits 0. A second one runs the
callbacks registered with :meth:`StopSignal.on_force` (abandon a write in flight) and then
interrupts the main thread, for a user who does not want to wait.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from types import FrameType
from typing import Any, Protocol

from runtime.arguments import one_line, parse_args
from runtime.errors import ConfigError, F1Error

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_FORCED = 130

# Client libraries that log every HTTP request or JVM call at INFO.
NOISY_LOGGERS = ("httpx", "httpx2", "httpcore", "urllib3", "py4j", "pyspark")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger(__name__)


def configure_logging(verbose: bool, quiet: bool = False) -> None:
    """Handlers for a command's process; library code only ever gets loggers.

    ``verbose``: debug; ``quiet``: warnings only (commands whose output is their result).
    """
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format=LOG_FORMAT, force=True)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_no_interrupt_traceback)
    if not verbose:
        for name in NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def _no_interrupt_traceback(record: logging.LogRecord) -> bool:
    """A forced stop (a second Ctrl-C) is the user's wish, not a failure: a library that logs
    the KeyboardInterrupt it was interrupted with (py4j does, on the root logger) keeps its
    line but not the traceback."""
    kind = record.exc_info[0] if record.exc_info else None
    if kind is not None and issubclass(kind, KeyboardInterrupt):
        record.exc_info = None
        record.exc_text = None
    return True


class StopEvent(Protocol):
    """What a loop needs of its stop request: a :class:`StopSignal` or a threading.Event."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class StopSignal:
    """Set by the first SIGINT/SIGTERM; a second one forces the stop.

    Behaves like a :class:`threading.Event` (``is_set``, ``wait``, ``set``), so loops and
    threads can watch it; ``signal_name`` says which signal set it.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._force: list[Callable[[], None]] = []
        self.signal_name = ""

    # the Event interface
    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)

    @property
    def stopped(self) -> bool:
        return self._event.is_set()

    def on_force(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on a second signal, before the main thread is interrupted."""
        self._force.append(callback)

    def handle(self, signum: int, _frame: FrameType | None = None) -> None:
        name = signal.Signals(signum).name
        if not self._event.is_set():
            self.signal_name = name
            log.info("%s: finishing and stopping (again to force)", name)
            self._event.set()
            return
        log.warning("second %s: stopping now", name)
        for callback in self._force:
            callback()
        raise KeyboardInterrupt

    @contextmanager
    def installed(self) -> Iterator[StopSignal]:
        """SIGINT and SIGTERM handled by this object inside the block, restored after it."""
        if threading.current_thread() is not threading.main_thread():
            yield self  # signals reach the main thread only; a caller there owns them
            return
        previous = {sig: signal.signal(sig, self.handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def run_command(prog: str, body: Callable[[], int]) -> int:
    """Run a command's body with the platform's exit codes and one-line errors."""
    try:
        return body()
    except ConfigError as exc:
        log.debug("bad input", exc_info=True)
        print(f"{prog}: {one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except F1Error as exc:
        log.debug("failed", exc_info=True)
        print(f"{prog}: {one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_FORCED
    except BrokenPipeError:
        # The reader of our output went away (`... | head`): not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        # A failure no code path foresaw is still one line for the user; -v logs its traceback
        # for the bug report.
        log.debug("unexpected failure", exc_info=True)
        print(
            f"{prog}: unexpected {type(exc).__name__}: {one_line(exc)} (-v shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED


def add_verbose_flag(parser: argparse.ArgumentParser | Any) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")


def run_main(
    prog: str,
    parser: argparse.ArgumentParser,
    body: Callable[[Any, StopSignal], int],
    argv: Sequence[str] | None = None,
    *,
    settings: Callable[[argparse.Namespace], Any] = lambda args: args,
    quiet: bool = False,
) -> int:
    """The scaffold of every command: parse ``argv``, set up logging, build the settings,
    install the signal handlers, run ``body(settings, stop)``, and map what it raises to an
    exit code.

    Bad flags (``runtime.arguments.parse_args``) and bad settings (a :class:`ConfigError`
    from ``settings(args)``) exit 2 with one line, before anything starts.
    """
    try:
        args = parse_args(prog, parser, argv)
        configure_logging(getattr(args, "verbose", False), quiet=quiet)
        built = settings(args)
    except ConfigError as exc:
        parser.exit(EXIT_BAD_INPUT, f"{prog}: {one_line(exc)}\n")
    stop = StopSignal()
    with stop.installed():
        # A partial, so the settings the body gets are visible to whoever holds it.
        return run_command(prog, partial(body, built, stop))
