"""What every f1-* command does the same way: env vars in --help, logging, exit codes.

Exit codes, the same for every command of the platform:

* 0: done, including a clean stop on SIGINT or SIGTERM;
* 1: the infrastructure cannot be reached or failed (Kafka, the registry, InfluxDB, Spark),
  work could not be completed, or a check found a problem;
* 2: bad input: arguments, settings, a schema that is missing from the registry. Fix the
  input and run again.

Errors are one line on stderr, never a traceback (``-v`` logs the cause at debug level).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from runtime.endpoints import env
from runtime.errors import ConfigError, F1Error

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

# Client libraries that log every HTTP request or JVM call at INFO.
NOISY_LOGGERS = ("httpx", "httpx2", "httpcore", "urllib3", "py4j", "pyspark")

log = logging.getLogger(__name__)


def env_help(setting: tuple[str, str], what: str) -> str:
    """Help text naming the env var behind a default, and the value in force now."""
    name, default = setting
    now = env(setting)
    secret = any(word in name for word in ("TOKEN", "PASSWORD", "SECRET"))
    shown = f"{default!r}" if now == default or secret else f"{default!r}; now {now!r}"
    return f"{what} (env {name}, default {shown})"


def configure_logging(verbose: bool) -> None:
    """Handlers for a service's process; library code only ever gets loggers."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        for name in NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def run_command(prog: str, body: Callable[[], int]) -> int:
    """Run a command's body with the platform's exit codes and one-line errors."""
    try:
        return body()
    except ConfigError as exc:
        log.debug("bad input", exc_info=True)
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except F1Error as exc:
        log.debug("failed", exc_info=True)
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (`... | head`): not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
