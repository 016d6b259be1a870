"""A log line while numba compiles, so that a command does not look hung.

Compiled functions (``@njit(cache=True)``) are compiled on their first call ever, which takes
a few seconds, and loaded from numba's cache next to their sources afterwards, in well under
a second. Wrapping the first calls in :func:`compile_notice` says what is compiling once that
has taken longer than a second, and how long it took.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

NOTICE_AFTER_S = 1.0


@contextmanager
def compile_notice(what: str, after_s: float = NOTICE_AFTER_S) -> Iterator[None]:
    """Logs that ``what`` is compiling if the block is still running after ``after_s``
    seconds, and how long the block took."""
    start = time.monotonic()
    timer = threading.Timer(after_s, log.info, ("compiling %s (first run only, then cached)", what))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        elapsed = time.monotonic() - start
        if elapsed > after_s:
            log.info("%s ready after %.1f s", what, elapsed)
