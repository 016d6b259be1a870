"""The server's garbage collection, kept out of the way of the feed.

Each open session holds tens of thousands of objects that CPython's cyclic collector tracks
(its Bokeh and Panel models and their property containers): with five sessions, some
400,000. A full collection walks all of them while holding the GIL, a pause of a few hundred
milliseconds every ten seconds or so, and the feed thread cannot take records meanwhile;
those pauses were most of the p99 from produce to the model (``benchmarks/README.md``).

A session's objects live as long as the session, so once it is built they are moved out of
the collector's reach (``gc.freeze``): later collections walk only what was made since.
When a session ends, everything is handed back and collected once, so the reference cycles
a closed session leaves are freed, and what is still alive is frozen again.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)


def session_built() -> None:
    """Call when a session's page is built: its objects stop being walked by collections."""
    gc.freeze()


def session_closed(_session_context: object) -> None:
    """Call when a session ends (Bokeh's session-destroyed callback, whose one argument is
    the session's context): collect its cycles in one pass, freeze the survivors."""
    started = time.perf_counter()
    gc.unfreeze()
    freed = gc.collect()
    gc.freeze()
    log.info(
        "session closed: %d unreachable objects freed in %.0f ms",
        freed,
        (time.perf_counter() - started) * 1000,
    )
