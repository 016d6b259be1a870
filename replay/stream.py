"""The replay loop: batches from a source, cut and retimed, paced, written to the output.

Pacing is the platform's pacer (:mod:`runtime.pacing`) counting microseconds of event time:
the record stamped ``t`` after the replay's first is due ``t / rate`` after the start, from
the start, so the pace never drifts. Records go out in blocks of one slot of event time
(10 ms of wall clock at any rate, as the simulator's ticks do at real time), so none leaves
more than 10 ms early; at ``--rate max`` blocks are only cut by size.

Reading runs a batch or two ahead of sending, in a thread (:func:`read_ahead`): an InfluxDB
query for the next window takes a second or more, which would otherwise stall a real-time
replay. On a stop (Ctrl-C, SIGTERM) the loop ends after the block in hand, and what was
written is flushed before the command exits.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from replay.columns import Batch, rows
from replay.timeline import blocks
from runtime.command import StopEvent
from runtime.pacing import Pacer, Rate

log = logging.getLogger(__name__)

T = TypeVar("T")

# A slot of wall clock per block, whatever the rate: the simulator's 100 Hz tick.
BLOCK_WALL_S = 0.01
# Rows per block at most: the encoder's per-call cost is paid once for this many records.
MAX_BLOCK_ROWS = 20_000
# A pacer tick is one microsecond of event time.
US_PER_S = 1_000_000


class Output(Protocol):
    """The Kafka output (``runtime.kafka_output``) or a file writer."""

    def write(self, batch: Batch) -> None: ...

    def flush(self) -> int: ...


@dataclass
class Replayed:
    """What a replay sent."""

    records: int = 0
    first_us: int | None = None  # event time of the first record sent
    last_us: int | None = None
    elapsed_s: float = 0.0
    undelivered: int = 0

    @property
    def span_s(self) -> float:
        if self.first_us is None or self.last_us is None:
            return 0.0
        return (self.last_us - self.first_us) / US_PER_S


def block_span_us(rate: Rate) -> int | None:
    """Event time per block: 10 ms of wall clock at ``rate``; None at max (size only)."""
    if rate.factor is None:
        return None
    return max(1, round(BLOCK_WALL_S * rate.factor * US_PER_S))


def replay(
    batches: Iterable[Batch],
    output: Output,
    rate: Rate,
    stop: StopEvent,
    *,
    transform: Callable[[Batch], Batch] = lambda batch: batch,
    progress_every_s: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] | None = None,
) -> Replayed:
    """Send ``batches`` (time-ordered) through ``transform`` to ``output`` at ``rate`` until
    they end or ``stop`` is set; flushes ``output`` (and closes it, if it closes) in any
    case. ``sleep`` defaults to ``stop.wait``, so a stop ends a wait at once."""
    done = Replayed()
    span = block_span_us(rate)
    pacer: Pacer | None = None
    first_us = 0
    started = clock()
    last_progress = started
    try:
        for batch in batches:
            if stop.is_set():
                break
            batch = transform(batch)
            if rows(batch) == 0:
                continue
            if pacer is None:
                # Paced from the first record, not from the start of the first read.
                pacer = Pacer(rate, US_PER_S, clock=clock, sleep=sleep or stop.wait)
                first_us = done.first_us = int(batch["timestamp"].min())
                started = last_progress = clock()
            for offset_us, block in blocks(batch, first_us, span, MAX_BLOCK_ROWS):
                pacer.wait_for(offset_us)
                if stop.is_set():
                    break
                output.write(block)
                done.records += rows(block)
                done.last_us = int(block["timestamp"][-1])
                now = clock()
                if now - last_progress >= progress_every_s:
                    _progress(done, now - started, pacer, offset_us, output)
                    last_progress = now
    finally:
        done.undelivered = output.flush()
        close = getattr(output, "close", None)
        if close is not None:
            close()
        done.elapsed_s = clock() - started
    return done


def _progress(done: Replayed, elapsed_s: float, pacer: Pacer, offset_us: int, output: Any) -> None:
    stats = getattr(output, "stats", None)
    delivered = f", {stats.delivered:,} delivered" if stats is not None else ""
    log.info(
        "%s records%s, %.0f/s, %.1f s of the session replayed, behind schedule %.3f s",
        f"{done.records:,}",
        delivered,
        done.records / elapsed_s if elapsed_s > 0 else 0.0,
        done.span_s,
        pacer.lag_s(offset_us),
    )


def read_ahead(items: Iterable[T], depth: int = 2) -> Generator[T, None, None]:
    """``items``, read by a thread up to ``depth`` items ahead of the caller, so a slow read
    overlaps the pacing of what was read before. An error of the reader is raised here, in
    the caller's thread; leaving the loop early stops the reader after its current item."""
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue(depth)
    closed = threading.Event()

    def put(kind: str, value: Any) -> bool:
        while not closed.is_set():
            try:
                handoff.put((kind, value), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for item in items:
                if not put("item", item):
                    return
            put("end", None)
        except BaseException as exc:  # handed to the caller, whatever it is
            put("error", exc)

    reader = threading.Thread(target=read, name="replay-read", daemon=True)
    reader.start()
    try:
        while True:
            kind, value = handoff.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        closed.set()
